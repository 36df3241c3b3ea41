//! Equality (`==`), ordering (`<`, `builtins.lessThan`) and `assert a == b`'s explanation of
//! the first difference.

use super::errors::{frame, with_span};
use super::{dummy_span, Eval, MAX_EVAL_DEPTH};
use crate::eval_error::{ErrorKind, EvalError, EvalResult};
use crate::span::Span;
use crate::value::{Attrs, Value};

impl<'a> Eval<'a> {
    /// Compares two values as `==` does, failing with Nix's explanation of the first
    /// difference (`assertEqValues`).
    pub(super) fn assert_equal(
        &mut self,
        a: Value<'a>,
        b: Value<'a>,
        span: Span,
    ) -> EvalResult<()> {
        let a = self.force(a)?;
        let b = self.force(b)?;
        if same_value(&a, &b) {
            return Ok(());
        }
        let fail = |msg: String| -> EvalResult<()> {
            Err(EvalError::new(ErrorKind::AssertionFailed(msg), None))
        };
        let brief = |ev: &Self, v: Value<'a>| crate::print::brief(ev, v);
        let numeric = |v: &Value<'a>| matches!(v, Value::Int(_) | Value::Float(_));
        if numeric(&a) && numeric(&b) {
            if self.equal(a, b, span)? {
                return Ok(());
            }
            return fail(format!(
                "{} with value '{}' is not equal to {} with value '{}'",
                a.type_phrase(),
                brief(self, a),
                b.type_phrase(),
                brief(self, b)
            ));
        }
        if a.type_phrase() != b.type_phrase() {
            return fail(format!(
                "{} of value '{}' is not equal to {} of value '{}'",
                a.type_phrase(),
                brief(self, a),
                b.type_phrase(),
                brief(self, b)
            ));
        }
        // Nix's `==` has no position of its own: these frames have none.
        let here = None;
        match (a, b) {
            (Value::Bool(x), Value::Bool(y)) if x != y => {
                fail(format!("boolean '{x}' is not equal to boolean '{y}'"))
            }
            (Value::String(x), Value::String(y)) if x.bytes != y.bytes => fail(format!(
                "string '{}' is not equal to string '{}'",
                brief(self, a),
                brief(self, b)
            )),
            (Value::Path(x), Value::Path(y)) if x.bytes != y.bytes => fail(format!(
                "path '{}' is not equal to path '{}'",
                brief(self, a),
                brief(self, b)
            )),
            (Value::List(x), Value::List(y)) => {
                if x.elems.len() != y.elems.len() {
                    return fail(format!(
                        "list of size '{}' is not equal to list of size '{}', left hand side is '{}', right hand side is '{}'",
                        x.elems.len(),
                        y.elems.len(),
                        brief(self, a),
                        brief(self, b)
                    ));
                }
                for (n, (p, q)) in x.elems.iter().zip(y.elems).enumerate() {
                    if let Err(mut e) = self.assert_equal(*p, *q, span) {
                        e.add_trace(format!("while comparing list element {n}"), here, false);
                        return Err(e);
                    }
                }
                Ok(())
            }
            (Value::Attrs(x), Value::Attrs(y)) => {
                if self.is_derivation(x)? && self.is_derivation(y)? {
                    let out_path = self.syms.out_path;
                    if let (Some(i), Some(j)) = (x.get(out_path), y.get(out_path)) {
                        return self.assert_equal(i.value, j.value, span).map_err(|mut e| {
                            e.add_trace(
                                "while comparing a derivation by its 'outPath' attribute"
                                    .to_owned(),
                                here,
                                false,
                            );
                            e
                        });
                    }
                }
                if x.len() != y.len() {
                    return fail(format!(
                        "attribute names of attribute set '{}' differs from attribute set '{}'",
                        brief(self, a),
                        brief(self, b)
                    ));
                }
                for (i, j) in x.entries.iter().zip(y.entries) {
                    if i.name != j.name {
                        let (msg, name) = if y.get(i.name).is_none() {
                            ("is contained in '{}', but not in '{}'", i.name)
                        } else {
                            ("is missing in '{}', but is contained in '{}'", j.name)
                        };
                        let msg = msg
                            .replacen("{}", &brief(self, a), 1)
                            .replacen("{}", &brief(self, b), 1);
                        return fail(format!(
                            "attribute name '{}' {msg}",
                            self.interner.name(name)
                        ));
                    }
                    if let Err(mut e) = self.assert_equal(i.value, j.value, span) {
                        if let Some(s) = self.pos_span(j.pos) {
                            e.add_trace("where right hand side is".to_owned(), Some(s), false);
                        }
                        if let Some(s) = self.pos_span(i.pos) {
                            e.add_trace("where left hand side is".to_owned(), Some(s), false);
                        }
                        e.add_trace(
                            format!(
                                "while comparing attribute '{}'",
                                self.interner.name(i.name)
                            ),
                            here,
                            false,
                        );
                        return Err(e);
                    }
                }
                Ok(())
            }
            (Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_), _) => fail(
                "distinct functions and immediate comparisons of identical functions compare as unequal"
                    .to_owned(),
            ),
            _ => Ok(()),
        }
    }

    /// `==`.
    pub fn equal(&mut self, a: Value<'a>, b: Value<'a>, span: Span) -> EvalResult<bool> {
        let a = self.force(a).map_err(|e| with_span(e, span))?;
        let b = self.force(b).map_err(|e| with_span(e, span))?;
        Ok(match (a, b) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Float(x), Value::Float(y)) => x == y,
            (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => x as f64 == y,
            (Value::String(x), Value::String(y)) => x.bytes == y.bytes,
            (Value::Path(x), Value::Path(y)) => x.bytes == y.bytes,
            (Value::List(x), Value::List(y)) => {
                if std::ptr::eq(x, y) {
                    return Ok(true);
                }
                if x.elems.len() != y.elems.len() {
                    return Ok(false);
                }
                self.enter_nested()?;
                let res = self.equal_elems(x.elems, y.elems, span);
                self.eval_depth -= 1;
                return res;
            }
            (Value::Attrs(x), Value::Attrs(y)) => {
                if std::ptr::eq(x, y) {
                    return Ok(true);
                }
                self.enter_nested()?;
                let res = self.equal_attrs(x, y, span);
                self.eval_depth -= 1;
                return res;
            }
            _ => false,
        })
    }

    /// Counts one more level of nesting in a walk over values (`==`), which recurses on the
    /// Rust stack without forcing anything deep: an infinitely deep value fails as in Nix.
    pub(super) fn enter_nested(&mut self) -> EvalResult<()> {
        self.eval_depth += 1;
        if self.eval_depth > MAX_EVAL_DEPTH {
            self.eval_depth -= 1;
            return Err(EvalError::new(ErrorKind::NestingTooDeep, None));
        }
        Ok(())
    }

    /// `==` on the elements of two lists of the same length.
    pub(super) fn equal_elems(
        &mut self,
        x: &[Value<'a>],
        y: &[Value<'a>],
        span: Span,
    ) -> EvalResult<bool> {
        for (p, q) in x.iter().zip(y) {
            if !same_value(p, q) && !self.equal(*p, *q, span)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// `==` on two distinct sets.
    pub(super) fn equal_attrs(
        &mut self,
        x: &'a Attrs<'a>,
        y: &'a Attrs<'a>,
        span: Span,
    ) -> EvalResult<bool> {
        // Two derivations are equal when their output paths are.
        if self.is_derivation(x)? && self.is_derivation(y)? {
            if let (Some(p), Some(q)) = (x.get(self.syms.out_path), y.get(self.syms.out_path)) {
                return self.equal(p.value, q.value, span);
            }
        }
        if x.entries.len() != y.entries.len() {
            return Ok(false);
        }
        for (p, q) in x.entries.iter().zip(y.entries) {
            if p.name != q.name {
                return Ok(false);
            }
            if !same_value(&p.value, &q.value) && !self.equal(p.value, q.value, span)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Tells whether a set is a derivation (`type = "derivation"`).
    pub fn is_derivation(&mut self, attrs: &'a Attrs<'a>) -> EvalResult<bool> {
        match attrs.get(self.syms.type_) {
            Some(t) => {
                let t = self.force(t.value)?;
                Ok(matches!(t, Value::String(s) if s.bytes == b"derivation"))
            }
            None => Ok(false),
        }
    }

    /// `<`, as `builtins.lessThan`.
    pub fn less_than(&mut self, a: Value<'a>, b: Value<'a>, span: Span) -> EvalResult<bool> {
        let a = self.force(a)?;
        let b = self.force(b)?;
        match (a, b) {
            (Value::Int(x), Value::Int(y)) => Ok(x < y),
            (Value::Float(x), Value::Float(y)) => Ok(x < y),
            (Value::Int(x), Value::Float(y)) => Ok((x as f64) < y),
            (Value::Float(x), Value::Int(y)) => Ok(x < y as f64),
            (Value::String(x), Value::String(y)) => Ok(x.bytes < y.bytes),
            (Value::Path(x), Value::Path(y)) => Ok(x.bytes < y.bytes),
            (Value::List(x), Value::List(y)) => {
                for (p, q) in x.elems.iter().zip(y.elems) {
                    if !self.equal(*p, *q, span)? {
                        return self.less_than(*p, *q, span).map_err(|e| {
                            frame(e, "while comparing two list elements", dummy_span())
                        });
                    }
                }
                Ok(x.elems.len() < y.elems.len())
            }
            _ => Err(EvalError::msg(
                if std::mem::discriminant(&a) == std::mem::discriminant(&b) {
                    format!(
                        "cannot compare {} with {}; values of that type are incomparable",
                        a.type_phrase(),
                        b.type_phrase()
                    )
                } else {
                    format!(
                        "cannot compare {} with {}",
                        a.type_phrase(),
                        b.type_phrase()
                    )
                },
                // Nix's comparison has no position: the caller's frame says where.
                dummy_span(),
            )),
        }
    }
}

/// Tells whether two values are the same object (so equal without looking inside).
pub(crate) fn same_value<'x>(a: &Value<'x>, b: &Value<'x>) -> bool {
    match (a, b) {
        (Value::Thunk(x), Value::Thunk(y)) => std::ptr::eq(*x, *y),
        (Value::Lambda(x), Value::Lambda(y)) => std::ptr::eq(*x, *y),
        (Value::Attrs(x), Value::Attrs(y)) => std::ptr::eq(*x, *y),
        (Value::List(x), Value::List(y)) => std::ptr::eq(*x, *y),
        (Value::PrimOp(x), Value::PrimOp(y)) => std::ptr::eq(*x, *y),
        _ => false,
    }
}
