//! The binary operators: the short-circuit ones, `//`, and the strict ones with the integer
//! and equality fast paths.

use super::errors::{frame, in_context, operator_frame};
use super::{type_error, Eval};
use crate::eval_error::EvalResult;
use crate::ir::{BinOp, Ir};
use crate::span::Span;
use crate::value::{Attrs, Env, List, Value};

impl<'a> Eval<'a> {
    /// Evaluates an operand of `//`: any error gets Nix's frame for that side.
    #[inline]
    pub(super) fn eval_attrs_operand(
        &mut self,
        ir: &'a Ir<'a>,
        env: &'a Env<'a>,
        span: Span,
        left: bool,
    ) -> EvalResult<&'a Attrs<'a>> {
        let context = if left {
            "in the left operand of the update (//) operator"
        } else {
            "in the right operand of the update (//) operator"
        };
        match self.eval(ir, env) {
            Ok(Value::Attrs(a)) => Ok(a),
            Ok(other) => Err(in_context(
                type_error("a set", &other, self, span),
                context,
                Some(span),
            )),
            Err(e) => Err(frame(e, context, span)),
        }
    }

    pub(super) fn eval_bin(
        &mut self,
        op: BinOp,
        lhs: &'a Ir<'a>,
        rhs: &'a Ir<'a>,
        span: Span,
        operands: [u32; 2],
        env: &'a Env<'a>,
    ) -> EvalResult<Value<'a>> {
        // Nix's `evalBool`: any error in an operand gets the frame; a non-Boolean is reported
        // at the operator.
        let bool_of = |ev: &mut Self, ir: &'a Ir<'a>, context: &str| -> EvalResult<bool> {
            match ev.eval(ir, env) {
                Ok(Value::Bool(b)) => Ok(b),
                Ok(other) => Err(frame(
                    type_error("a Boolean", &other, ev, span),
                    context,
                    span,
                )),
                Err(e) => Err(frame(e, context, span)),
            }
        };
        match op {
            BinOp::And => Ok(Value::Bool(
                bool_of(self, lhs, "in the left operand of the AND (&&) operator")?
                    && bool_of(self, rhs, "in the right operand of the AND (&&) operator")?,
            )),
            BinOp::Or => Ok(Value::Bool(
                bool_of(self, lhs, "in the left operand of the OR (||) operator")?
                    || bool_of(self, rhs, "in the right operand of the OR (||) operator")?,
            )),
            BinOp::Impl => Ok(Value::Bool(
                !bool_of(self, lhs, "in the left operand of the IMPL (->) operator")?
                    || bool_of(self, rhs, "in the right operand of the IMPL (->) operator")?,
            )),
            BinOp::Update => {
                let l = self.eval_attrs_operand(lhs, env, span, true)?;
                let r = self.eval_attrs_operand(rhs, env, span, false)?;
                Ok(self.update(l, r))
            }
            _ => {
                let l = match self.eval(lhs, env) {
                    Ok(v) => v,
                    Err(e) => return Err(operator_frame(e, op, span)),
                };
                let r = match self.eval(rhs, env) {
                    Ok(v) => v,
                    Err(e) => return Err(operator_frame(e, op, span)),
                };
                // Integers first: the common case needs no type dispatch beyond this.
                if let (Value::Int(x), Value::Int(y)) = (l, r) {
                    if let Some(v) = int_op(op, x, y) {
                        return Ok(v);
                    }
                }
                if let BinOp::Eq | BinOp::NotEq = op {
                    if let Some(eq) = quick_equal(l, r) {
                        return Ok(Value::Bool(eq == (op == BinOp::Eq)));
                    }
                }
                let operands = operands.map(|start| Span::new(span.file, start, start));
                self.binary(op, l, r, span, operands)
                    .map_err(|e| self.operand_parens(e, span, operands[1]))
                    .map_err(|e| operator_frame(e, op, span))
            }
        }
    }

    /// Applies a strict binary operator to forced operands (`operands`: where they are).
    pub fn binary(
        &mut self,
        op: BinOp,
        l: Value<'a>,
        r: Value<'a>,
        span: Span,
        operands: [Span; 2],
    ) -> EvalResult<Value<'a>> {
        use crate::arith;
        match op {
            BinOp::Add => arith::add(self, l, r, operands),
            BinOp::Sub => arith::sub(self, l, r),
            BinOp::Mul => arith::mul(self, l, r),
            BinOp::Div => arith::div(self, l, r),
            BinOp::Eq => Ok(Value::Bool(self.equal(l, r, span)?)),
            BinOp::NotEq => Ok(Value::Bool(!self.equal(l, r, span)?)),
            BinOp::Less => Ok(Value::Bool(self.less_than(l, r, span)?)),
            BinOp::Greater => Ok(Value::Bool(self.less_than(r, l, span)?)),
            BinOp::LessEq => Ok(Value::Bool(!self.less_than(r, l, span)?)),
            BinOp::GreaterEq => Ok(Value::Bool(!self.less_than(l, r, span)?)),
            BinOp::Update => {
                let Value::Attrs(a) = l else {
                    return Err(in_context(
                        type_error("a set", &l, self, span),
                        "in the left operand of the update (//) operator",
                        Some(span),
                    ));
                };
                let Value::Attrs(b) = r else {
                    return Err(in_context(
                        type_error("a set", &r, self, span),
                        "in the right operand of the update (//) operator",
                        Some(span),
                    ));
                };
                Ok(self.update(a, b))
            }
            BinOp::Concat => {
                let Value::List(a) = l else {
                    return Err(in_context(
                        type_error("a list", &l, self, span),
                        "while evaluating one of the elements to concatenate",
                        Some(span),
                    ));
                };
                let Value::List(b) = r else {
                    return Err(in_context(
                        type_error("a list", &r, self, span),
                        "while evaluating one of the elements to concatenate",
                        Some(span),
                    ));
                };
                if a.elems.is_empty() {
                    return Ok(r);
                }
                if b.elems.is_empty() {
                    return Ok(l);
                }
                let n = a.elems.len();
                let elems = self
                    .arena
                    .alloc_slice_fill_copy(n + b.elems.len(), Value::Null);
                elems[..n].copy_from_slice(a.elems);
                elems[n..].copy_from_slice(b.elems);
                Ok(Value::List(self.arena.alloc(List { elems })))
            }
            BinOp::And | BinOp::Or | BinOp::Impl => {
                unreachable!("short-circuit operators are handled in eval_bin")
            }
        }
    }

    /// `a // b`: a merge of two sorted arrays, `b` winning.
    pub fn update(&self, a: &'a Attrs<'a>, b: &'a Attrs<'a>) -> Value<'a> {
        if b.entries.is_empty() {
            return Value::Attrs(a);
        }
        if a.entries.is_empty() {
            return Value::Attrs(b);
        }
        // First the size of the result (a walk comparing symbols), then the merge straight
        // into an exact slice: allocating for both sides (as Nix does) wasted 24 bytes per
        // shadowed name, and on NixOS's module system `//` is the largest set builder.
        let (x, y) = (a.entries, b.entries);
        let (mut i, mut j, mut n) = (0, 0, 0);
        while i < x.len() && j < y.len() {
            match x[i].name.cmp(&y[j].name) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    i += 1;
                    j += 1;
                }
            }
            n += 1;
        }
        n += (x.len() - i) + (y.len() - j);
        let (mut i, mut j) = (0, 0);
        let entries = self.arena.alloc_slice_fill_with(n, |_| {
            let take_x = match (x.get(i), y.get(j)) {
                (Some(l), Some(r)) => match l.name.cmp(&r.name) {
                    std::cmp::Ordering::Less => true,
                    std::cmp::Ordering::Greater => false,
                    std::cmp::Ordering::Equal => {
                        i += 1;
                        false
                    }
                },
                (Some(_), None) => true,
                (None, _) => false,
            };
            if take_x {
                i += 1;
                x[i - 1]
            } else {
                j += 1;
                y[j - 1]
            }
        });
        Value::Attrs(self.arena.alloc(Attrs { entries }))
    }
}

/// `==` on two evaluated values when it needs no forcing and no walk: `null`, Booleans and
/// strings, a comparison with an empty list (`x == [ ]`), and values of different types that
/// can never be equal (not numbers, not two sets, which may be derivations).
#[inline]
pub(super) fn quick_equal<'a>(a: Value<'a>, b: Value<'a>) -> Option<bool> {
    match (a, b) {
        (Value::Null, Value::Null) => Some(true),
        (Value::Bool(x), Value::Bool(y)) => Some(x == y),
        (Value::String(x), Value::String(y)) => Some(x.bytes == y.bytes),
        (Value::List(x), Value::List(y)) if x.elems.is_empty() || y.elems.is_empty() => {
            Some(x.elems.len() == y.elems.len())
        }
        (Value::Thunk(_), _) | (_, Value::Thunk(_)) => None,
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => None,
        (Value::Attrs(_), Value::Attrs(_)) | (Value::List(_), Value::List(_)) => None,
        (Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_), _)
        | (_, Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_)) => None,
        _ if std::mem::discriminant(&a) != std::mem::discriminant(&b) => Some(false),
        _ => None,
    }
}

/// An operator on two integers, when it cannot fail (`None` on overflow, division by zero, or an
/// operator that is not arithmetic or comparison).
#[inline(always)]
pub(super) fn int_op<'a>(op: BinOp, x: i64, y: i64) -> Option<Value<'a>> {
    match op {
        BinOp::Add => x.checked_add(y).map(Value::Int),
        BinOp::Sub => x.checked_sub(y).map(Value::Int),
        BinOp::Mul => x.checked_mul(y).map(Value::Int),
        BinOp::Div => x.checked_div(y).map(Value::Int),
        BinOp::Less => Some(Value::Bool(x < y)),
        BinOp::LessEq => Some(Value::Bool(x <= y)),
        BinOp::Greater => Some(Value::Bool(x > y)),
        BinOp::GreaterEq => Some(Value::Bool(x >= y)),
        BinOp::Eq => Some(Value::Bool(x == y)),
        BinOp::NotEq => Some(Value::Bool(x != y)),
        _ => None,
    }
}
