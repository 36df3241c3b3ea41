//! The frames Nix adds to an error as it unwinds, and the errors the evaluator itself builds:
//! all `#[cold]`, so the paths that do not fail stay small.

use std::path::Path;

use super::{dummy_span, type_error, Eval, NO_SITE};
use crate::eval_error::{ArgumentMark, ErrorKind, EvalError, EvalResult};
use crate::ir::{AttrKey, BinOp, Ir, LambdaIr};
use crate::span::Span;
use crate::value::{Env, PosIdx, PrimOp, Value};

impl<'a> Eval<'a> {
    /// The error of a failed `assert`. For `a == b` it is Nix's explanation of the first
    /// difference, under a frame naming the condition; else "assertion 'COND' failed" at the
    /// `assert`. The condition is printed as Nix shows expressions (re-parsed from its source:
    /// the cost is paid only here).
    #[cold]
    #[inline(never)]
    pub(super) fn assertion_failed(
        &mut self,
        cond: &'a Ir<'a>,
        cond_span: Span,
        span: Span,
        env: &'a Env<'a>,
    ) -> Box<EvalError> {
        let shown = self.show_source(cond_span);
        if let Ir::Bin {
            op: BinOp::Eq,
            lhs,
            rhs,
            span: eq_span,
            ..
        } = cond
        {
            let res = self.eval(lhs, env).and_then(|l| {
                let r = self.eval(rhs, env)?;
                self.assert_equal(l, r, *eq_span)
            });
            if let Err(mut e) = res {
                if matches!(e.kind, ErrorKind::AssertionFailed(_)) {
                    e.add_trace(
                        format!("while evaluating the condition of the assertion '{shown}'"),
                        Some(span),
                        false,
                    );
                }
                return e;
            }
        }
        EvalError::new(
            ErrorKind::AssertionFailed(format!("assertion '{shown}' failed")),
            Some(span),
        )
    }

    /// The source at `span` printed as Nix's `Expr::show` prints it.
    pub(super) fn show_source(&mut self, span: Span) -> String {
        use std::os::unix::ffi::OsStrExt;
        let text = crate::print::snippet(&self.sources, span);
        let parsed = self.parse_source(span.file, text.as_bytes());
        if !parsed.errors.is_empty() {
            return text;
        }
        let dir = Path::new(self.sources.name(span.file))
            .parent()
            .map(|d| d.as_os_str().as_bytes().to_vec())
            .unwrap_or_default();
        let home = self.io.get_env("HOME");
        let shown = crate::show::show(&parsed.expr, &self.interner, &dir, home.as_deref());
        String::from_utf8_lossy(&shown).into_owned()
    }

    #[cold]
    #[inline(never)]
    pub(super) fn condition_error(&self, found: Value<'a>, span: Span) -> Box<EvalError> {
        let mut e = type_error("a Boolean", &found, self, span);
        e.add_trace(
            "while evaluating a branch condition".to_owned(),
            Some(span),
            false,
        );
        e
    }

    /// Moves positions at the right operand `rhs` to its opening parenthesis, if it has one:
    /// Nix places an operand at its first token, Kiln's syntax tree at the expression inside.
    #[cold]
    #[inline(never)]
    pub(super) fn operand_parens(
        &self,
        mut e: Box<EvalError>,
        op: Span,
        rhs: Span,
    ) -> Box<EvalError> {
        if (op.file.0 as usize) >= self.sources.len() {
            return e;
        }
        let text = self.sources.text(op.file);
        let between = text.get(op.end as usize..rhs.start as usize).unwrap_or(&[]);
        let Some(paren) = between.iter().position(|&b| b == b'(') else {
            return e;
        };
        let at = op.end + paren as u32;
        let moved = Span::new(rhs.file, at, at);
        if e.span == Some(rhs) {
            e.span = Some(moved);
        }
        for f in &mut e.trace {
            if f.span == Some(rhs) {
                f.span = Some(moved);
            }
        }
        e
    }

    /// Nix's error for a part of a string or path that does not coerce: the frame "while
    /// evaluating a path segment" at the part's `${`, the error without position.
    #[cold]
    #[inline(never)]
    pub(super) fn segment_error(
        &self,
        mut e: Box<EvalError>,
        span: Span,
        start: u32,
    ) -> Box<EvalError> {
        let text = if (span.file.0 as usize) < self.sources.len() {
            self.sources.text(span.file)
        } else {
            &[]
        };
        let mut at = (start as usize).min(text.len());
        while at > 0 && text[at - 1].is_ascii_whitespace() {
            at -= 1;
        }
        let at = if at >= 2 && &text[at - 2..at] == b"${" {
            at as u32 - 2
        } else {
            start
        };
        // What happened at the interpolation (a `__toString` called, its result coerced)
        // happened at the part, in Nix's positions.
        let at = Span::new(span.file, at, at);
        if e.span == Some(span) {
            e.span = Some(at);
        }
        for f in &mut e.trace {
            if f.span == Some(span) {
                f.span = Some(at);
            }
        }
        crate::arith::path_segment(e, at)
    }

    /// Adds Nix's frame for an error met while selecting `path`, once an attribute was found
    /// (at `found`): "while evaluating the attribute 'a.b'" at that attribute's definition.
    #[cold]
    #[inline(never)]
    pub(super) fn select_error(
        &mut self,
        mut e: Box<EvalError>,
        found: Option<PosIdx>,
        path: &'a [AttrKey<'a>],
        env: &'a Env<'a>,
    ) -> Box<EvalError> {
        let Some(span) = found.and_then(|p| self.pos_span(p)) else {
            return e;
        };
        // Nix leaves out the attributes of its internal derivation code.
        if self.sources.name(span.file) == "<nix/derivation.nix>" {
            return e;
        }
        let mut names = Vec::with_capacity(path.len());
        for key in path {
            let name = match key {
                AttrKey::Static(s) => crate::print::show_attr_name(self.interner.resolve(*s)),
                AttrKey::Dynamic(ir) => match self.eval(ir, env) {
                    Ok(Value::String(s)) => crate::print::show_attr_name(s.bytes),
                    // Nix shows the expression; a variable (the common case) is its name.
                    _ => match ir {
                        Ir::Var { span, .. } | Ir::WithVar { span, .. }
                            if self.sources.contains(span.file) =>
                        {
                            let text = self.sources.text(span.file);
                            let name = text
                                .get(span.start as usize..span.end as usize)
                                .unwrap_or(b"...");
                            format!("\"${{{}}}\"", String::from_utf8_lossy(name))
                        }
                        _ => "\"${...}\"".to_owned(),
                    },
                },
            };
            names.push(name);
        }
        e.add_trace(
            format!("while evaluating the attribute '{}'", names.join(".")),
            Some(span),
            false,
        );
        e
    }

    pub(super) fn not_a_function(&self, f: Value<'a>, span: Option<Span>) -> Box<EvalError> {
        EvalError::new(
            ErrorKind::Message(format!(
                "attempt to call something which is not a function but {}: {}",
                f.type_phrase(),
                crate::print::brief(self, f)
            )),
            span,
        )
    }

    /// Adds the frames Nix gives an error raised by a builtin: the frame naming the argument
    /// the builtin says the error was met in ("while evaluating the first argument passed to
    /// builtins.NAME", from its [`PrimOp`]; see `builtins::ArgResult`), and "while calling the
    /// 'NAME' builtin" at the call. An error the builtin raised at the call itself loses that
    /// position, as in Nix, where the frame alone says where.
    #[cold]
    #[inline(never)]
    pub(super) fn builtin_error(
        &self,
        mut e: Box<EvalError>,
        op: &'static PrimOp,
        span: Option<Span>,
    ) -> Box<EvalError> {
        // The span the builtin was given.
        let given = span.unwrap_or(dummy_span());
        if let Some(mark) = e.argument.take() {
            e = argument_frame(e, op, mark, given);
        }
        let name = op.name;
        // Nix records no frame for the one builtin whose point is its own frame, nor for
        // `break`, which returns its argument for the caller to force.
        if name == "addErrorContext" || name == "break" || name == "derivation" {
            return e;
        }
        let span = span.filter(|s| s.file.0 != u32::MAX);
        let at_call = e.span.is_none() || e.span == span;
        if at_call {
            e.span = None;
        }
        // Nix calls a builtin without a position: what it did at "its" position has none.
        if let Some(call) = span {
            for f in e.trace.iter_mut().filter(|f| f.span == Some(call)) {
                f.span = None;
            }
        }
        e.add_trace(format!("while calling the '{name}' builtin"), span, false);
        e
    }

    /// Nix's error for the argument of a function with formals that fails to force or is not
    /// a set: the frames "while evaluating the value passed for the lambda argument" at the
    /// function and "from call site" at the call.
    #[cold]
    #[inline(never)]
    pub(super) fn formals_arg_error(
        &self,
        res: EvalResult<Value<'a>>,
        l: &LambdaIr<'a>,
        span: Option<Span>,
    ) -> Box<EvalError> {
        let e = match res {
            Ok(v) => in_context(
                type_error("a set", &v, self, l.span),
                "while evaluating the value passed for the lambda argument",
                Some(l.span),
            ),
            Err(e) => frame(
                e,
                "while evaluating the value passed for the lambda argument",
                l.span,
            ),
        };
        from_call_site(e, span)
    }

    /// Adds the frames Nix gives an error raised in a function's body, which it records only
    /// with `--show-trace`: "while calling 'f'" at the function, "from call site" at the call.
    #[cold]
    pub(super) fn lambda_error(
        &self,
        mut e: Box<EvalError>,
        l: &LambdaIr<'a>,
        span: Option<Span>,
    ) -> Box<EvalError> {
        let name = match l.name {
            Some(n) => format!("while calling '{}'", self.interner.name(n)),
            None => "while calling anonymous lambda".to_owned(),
        };
        e.add_trace(name, Some(l.span), true);
        // A lazy application made by a builtin (`map`) has no site of its own: Nix shows the
        // function. A builtin's direct call back has none at all.
        if span != Some(NO_SITE) {
            let site = span.filter(|s| s.file.0 != u32::MAX).unwrap_or(l.span);
            e.add_trace("from call site".to_owned(), Some(site), true);
        }
        e
    }
}

/// The frame of the argument an error was met in, as `op` names it (after "while evaluating
/// the "), where the mark says it applies: an argument's own failure only at the call the
/// builtin was `given`.
#[cold]
fn argument_frame(
    e: Box<EvalError>,
    op: &'static PrimOp,
    mark: ArgumentMark,
    given: Span,
) -> Box<EvalError> {
    let (index, applies) = match mark {
        ArgumentMark::AnyError(index) => (index, true),
        ArgumentMark::OwnFailure(index) => (index, e.span.is_none() || e.span == Some(given)),
    };
    match op.arg_frame(index) {
        Some(what) if applies => {
            crate::builtins::with_frame(e, &format!("while evaluating the {what}"), given, None)
        }
        _ => e,
    }
}

/// Adds Nix's "from call site" frame to an argument mismatch (shown without `--show-trace`).
#[cold]
pub(super) fn from_call_site(mut e: Box<EvalError>, span: Option<Span>) -> Box<EvalError> {
    if let Some(span) = span.filter(|s| s.file.0 != u32::MAX) {
        e.add_trace("from call site".to_owned(), Some(span), false);
    }
    e
}

/// Adds the frames Nix gives an error in an operator it implements as a builtin call (`-`,
/// `*`, `/` and the comparisons, `<=` and `>=` negated): "while calling the 'sub' builtin"
/// at the operator.
#[cold]
#[inline(never)]
pub(super) fn operator_frame(e: Box<EvalError>, op: BinOp, span: Span) -> Box<EvalError> {
    let builtin = match op {
        BinOp::Sub => "while calling the 'sub' builtin",
        BinOp::Mul => "while calling the 'mul' builtin",
        BinOp::Div => "while calling the 'div' builtin",
        BinOp::Less | BinOp::Greater | BinOp::LessEq | BinOp::GreaterEq => {
            "while calling the 'lessThan' builtin"
        }
        _ => return e,
    };
    let e = frame(e, builtin, span);
    match op {
        BinOp::LessEq | BinOp::GreaterEq => frame(e, "in the argument of the not operator", span),
        _ => e,
    }
}

/// Nix's frame for an element of a list coerced to a string (`toString [ … ]`) that does
/// not coerce: for the element's own failure, and for any failure inside a nested list.
#[cold]
#[inline(never)]
pub(super) fn list_element_error(mut e: Box<EvalError>, element: Value<'_>) -> Box<EvalError> {
    if matches!(element, Value::List(_)) || crate::arith::coercion_failed(&e) {
        e.add_trace(
            "while evaluating one element of the list".to_owned(),
            None,
            false,
        );
    }
    e
}

/// Nix's frame for the result of a `__toString` that does not coerce to a string: at the
/// coercion's position, the error itself without one.
#[cold]
#[inline(never)]
pub(super) fn to_string_result_error(mut e: Box<EvalError>, span: Span) -> Box<EvalError> {
    if crate::arith::coercion_failed(&e) {
        e.span = None;
        e.add_trace(
            "while evaluating the result of the `__toString` attribute".to_owned(),
            (span.file.0 != u32::MAX).then_some(span),
            false,
        );
    }
    e
}

/// Adds a frame of context to an error as it unwinds (Nix's `addTrace`), at `span` unless
/// that is the dummy span.
#[cold]
#[inline(never)]
pub(super) fn frame(mut e: Box<EvalError>, message: &str, span: Span) -> Box<EvalError> {
    let span = (span.file.0 != u32::MAX).then_some(span);
    e.add_trace(message.to_owned(), span, false);
    e
}

/// Moves an operator's type error into a frame of context, as Nix reports it: the frame says
/// where (if anywhere), the error itself has no position.
#[cold]
pub(super) fn in_context(
    mut e: Box<EvalError>,
    message: &str,
    span: Option<Span>,
) -> Box<EvalError> {
    e.span = None;
    e.add_trace(message.to_owned(), span, false);
    e
}

/// `ELOOP`, the error of a path whose symbolic links go round (Linux's number).
pub(super) const ELOOP: i32 = 40;

/// Nix's error for a path that is not there.
pub(super) fn path_missing(path: &Path, span: Span) -> Box<EvalError> {
    let span = (span.file.0 != u32::MAX).then_some(span);
    EvalError::new(
        ErrorKind::Message(format!("path '{}' does not exist", path.display())),
        span,
    )
}

/// Gives an infinite recursion without a position the position of the value being forced, as
/// Nix does (other errors keep theirs, or none).
#[cold]
pub(super) fn with_span(mut e: Box<EvalError>, span: Span) -> Box<EvalError> {
    if e.span.is_none() && matches!(e.kind, ErrorKind::InfiniteRecursion) {
        e.span = Some(span);
    }
    e
}
