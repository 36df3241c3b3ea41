//! The frames Nix adds to an error as it unwinds, and the errors the evaluator itself builds:
//! all `#[cold]`, so the paths that do not fail stay small.

use std::path::Path;

use super::{type_error, Eval, NO_SITE};
use crate::eval_error::{ErrorKind, EvalError, EvalResult};
use crate::ir::{AttrKey, BinOp, Ir, LambdaIr};
use crate::span::Span;
use crate::value::{Env, PosIdx, ThunkState, Value};

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

    /// Adds the frames Nix gives an error raised by a builtin: "while calling the 'NAME'
    /// builtin" at the call, and when the builtin itself found an argument of the wrong type,
    /// the frame naming that argument ("while evaluating the first argument passed to
    /// builtins.NAME"). An error the builtin raised at the call itself loses that position, as
    /// in Nix, where the frame alone says where.
    #[cold]
    #[inline(never)]
    pub(super) fn builtin_error(
        &self,
        mut e: Box<EvalError>,
        name: &str,
        args: &[Value<'a>],
        span: Option<Span>,
    ) -> Box<EvalError> {
        let span = span.filter(|s| s.file.0 != u32::MAX);
        // Nix records no frame for the one builtin whose point is its own frame, nor for
        // `break`, which returns its argument for the caller to force.
        if name == "addErrorContext" || name == "break" || name == "derivation" {
            return e;
        }
        let at_call = e.span.is_none() || e.span == span;
        if at_call {
            e.span = None;
            if let Some(context) = self.bad_argument(&e, name, args) {
                e.add_trace(format!("while evaluating the {context}"), None, false);
            }
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

    /// Which argument a builtin's own type error is about, as Nix words it, if it is one: the
    /// first argument, evaluated, of the type and value the error names.
    pub(super) fn bad_argument(
        &self,
        e: &EvalError,
        name: &str,
        args: &[Value<'a>],
    ) -> Option<&'static str> {
        if !e.trace.is_empty() {
            return None;
        }
        let is_it = |v: Value<'a>| match &e.kind {
            ErrorKind::Type { found, value, .. } => {
                v.type_phrase() == *found && crate::print::brief(self, v) == *value
            }
            // A coercion to a string that failed.
            ErrorKind::Message(m) => m.strip_prefix("cannot coerce ").is_some_and(|rest| {
                *rest
                    == format!(
                        "{} to a string: {}",
                        v.type_phrase(),
                        crate::print::brief(self, v)
                    )
            }),
            _ => false,
        };
        let index = args.iter().position(|a| {
            let v = match *a {
                Value::Thunk(t) => match t.state.get() {
                    ThunkState::Done(v) => v,
                    _ => return false,
                },
                v => v,
            };
            is_it(v)
        })?;
        argument_context(name, index)
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

/// How Nix names argument `index` of builtin `name` in the frame of a wrong argument (after
/// "while evaluating the "), where it names it.
pub(crate) fn argument_context(name: &str, index: usize) -> Option<&'static str> {
    let names: [Option<&'static str>; 3] = match name {
        "addDrvOutputDependencies" => [Some("argument passed to builtins.addDrvOutputDependencies"), None, None],
        "appendContext" => [Some("first argument passed to builtins.appendContext"), Some("second argument passed to builtins.appendContext"), None],
        "attrNames" => [Some("argument passed to builtins.attrNames"), None, None],
        "attrValues" => [Some("argument passed to builtins.attrValues"), None, None],
        "baseNameOf" => [Some("first argument passed to builtins.baseNameOf"), None, None],
        "bitAnd" => [Some("first argument passed to builtins.bitAnd"), Some("second argument passed to builtins.bitAnd"), None],
        "bitOr" => [Some("first argument passed to builtins.bitOr"), Some("second argument passed to builtins.bitOr"), None],
        "bitXor" => [Some("first argument passed to builtins.bitXor"), Some("second argument passed to builtins.bitXor"), None],
        "catAttrs" => [Some("first argument passed to builtins.catAttrs"), Some("second argument passed to builtins.catAttrs"), None],
        "ceil" => [Some("first argument passed to builtins.ceil"), None, None],
        "compareVersions" => [Some("first argument passed to builtins.compareVersions"), Some("second argument passed to builtins.compareVersions"), None],
        "concatLists" => [Some("first argument passed to builtins.concatLists"), None, None],
        "concatMap" => [Some("first argument passed to builtins.concatMap"), Some("second argument passed to builtins.concatMap"), None],
        "concatStringsSep" => [Some("first argument (the separator string) passed to builtins.concatStringsSep"), Some("second argument (the list of strings to concat) passed to builtins.concatStringsSep"), None],
        "convertHash" => [Some("first argument passed to builtins.convertHash"), None, None],
        "derivationStrict" => [Some("argument passed to builtins.derivationStrict"), None, None],
        "dirOf" => [Some("first argument passed to 'builtins.dirOf'"), None, None],
        "elem" => [None, Some("second argument passed to builtins.elem"), None],
        "elemAt" => [Some("first argument passed to 'builtins.elemAt'"), Some("second argument passed to 'builtins.elemAt'"), None],
        "exec" => [Some("first element of the argument passed to builtins.exec"), None, None],
        "fetchClosure" => [Some("argument passed to builtins.fetchClosure"), None, None],
        "fetchMercurial" => [Some("first argument passed to builtins.fetchMercurial"), None, None],
        "fetchTree" => [Some("argument passed to builtins.fetchTree"), None, None],
        "filter" => [Some("first argument passed to builtins.filter"), Some("second argument passed to builtins.filter"), None],
        "filterSource" => [Some("first argument passed to builtins.filterSource"), Some("second argument (the path to filter) passed to 'builtins.filterSource'"), None],
        "findFile" => [Some("first argument passed to builtins.findFile"), Some("second argument passed to builtins.findFile"), None],
        "floor" => [Some("first argument passed to builtins.floor"), None, None],
        "foldlStrict" => [Some("first argument passed to builtins.foldlStrict"), None, Some("third argument passed to builtins.foldlStrict")],
        "fromJSON" => [Some("first argument passed to builtins.fromJSON"), None, None],
        "fromTOML" => [Some("argument passed to builtins.fromTOML"), None, None],
        "genList" => [Some("first argument passed to builtins.genList"), Some("second argument passed to builtins.genList"), None],
        "genericClosure" => [Some("first argument passed to builtins.genericClosure"), None, None],
        "getAttr" => [Some("first argument passed to builtins.getAttr"), Some("second argument passed to builtins.getAttr"), None],
        "getContext" => [Some("argument passed to builtins.getContext"), None, None],
        "getEnv" => [Some("first argument passed to builtins.getEnv"), None, None],
        "groupBy" => [Some("first argument passed to builtins.groupBy"), Some("second argument passed to builtins.groupBy"), None],
        "hasAttr" => [Some("first argument passed to builtins.hasAttr"), Some("second argument passed to builtins.hasAttr"), None],
        "hasContext" => [Some("argument passed to builtins.hasContext"), None, None],
        "hashFile" => [Some("first argument passed to builtins.hashFile"), None, None],
        "hashString" => [Some("first argument passed to builtins.hashString"), Some("second argument passed to builtins.hashString"), None],
        "head" => [Some("first argument passed to 'builtins.head'"), None, None],
        "importNative" => [None, Some("second argument passed to builtins.importNative"), None],
        "intersectAttrs" => [Some("first argument passed to builtins.intersectAttrs"), Some("second argument passed to builtins.intersectAttrs"), None],
        "length" => [Some("first argument passed to builtins.length"), None, None],
        "listToAttrs" => [Some("argument passed to builtins.listToAttrs"), None, None],
        "map" => [Some("first argument passed to builtins.map"), Some("second argument passed to builtins.map"), None],
        "mapAttrs" => [None, Some("second argument passed to builtins.mapAttrs"), None],
        "match" => [Some("first argument passed to builtins.match"), Some("second argument passed to builtins.match"), None],
        "parseDrvName" => [Some("first argument passed to builtins.parseDrvName"), None, None],
        "partition" => [Some("first argument passed to builtins.partition"), Some("second argument passed to builtins.partition"), None],
        "path" => [Some("argument passed to 'builtins.path'"), None, None],
        "placeholder" => [Some("first argument passed to builtins.placeholder"), None, None],
        "removeAttrs" => [Some("first argument passed to builtins.removeAttrs"), Some("second argument passed to builtins.removeAttrs"), None],
        "replaceStrings" => [Some("first argument passed to builtins.replaceStrings"), Some("second argument passed to builtins.replaceStrings"), Some("third argument passed to builtins.replaceStrings")],
        "scopedImport" => [Some("first argument passed to builtins.scopedImport"), None, None],
        "sort" => [Some("first argument passed to builtins.sort"), Some("second argument passed to builtins.sort"), None],
        "split" => [Some("first argument passed to builtins.split"), Some("second argument passed to builtins.split"), None],
        "splitVersion" => [Some("first argument passed to builtins.splitVersion"), None, None],
        "storePath" => [Some("first argument passed to 'builtins.storePath'"), None, None],
        "stringLength" => [Some("argument passed to builtins.stringLength"), None, None],
        "substring" => [Some("first argument (the start offset) passed to builtins.substring"), Some("second argument (the substring length) passed to builtins.substring"), Some("third argument (the string) passed to builtins.substring")],
        "tail" => [Some("first argument passed to 'builtins.tail'"), None, None],
        "toFile" => [Some("first argument passed to builtins.toFile"), Some("second argument passed to builtins.toFile"), None],
        "toPath" => [Some("first argument passed to builtins.toPath"), None, None],
        "toString" => [Some("first argument passed to builtins.toString"), None, None],
        "unsafeDiscardOutputDependency" => [Some("argument passed to builtins.unsafeDiscardOutputDependency"), None, None],
        "unsafeDiscardStringContext" => [Some("argument passed to builtins.unsafeDiscardStringContext"), None, None],
        "unsafeGetAttrPos" => [Some("first argument passed to builtins.unsafeGetAttrPos"), Some("second argument passed to builtins.unsafeGetAttrPos"), None],
        "warn" => [Some("first argument; the message passed to builtins.warn"), None, None],
        "zipAttrsWith" => [Some("first argument passed to builtins.zipAttrsWith"), Some("second argument passed to builtins.zipAttrsWith"), None],
        "throw" => [Some("error message passed to builtin.throw"), None, None],
        "abort" => [Some("error message passed to builtins.abort"), None, None],
        "all" => [
            Some("first argument passed to builtins.all"),
            Some("second argument passed to builtins.all"),
            None,
        ],
        "any" => [
            Some("first argument passed to builtins.any"),
            Some("second argument passed to builtins.any"),
            None,
        ],
        _ => return None,
    };
    names.get(index).copied().flatten()
}

/// Adds Nix's "from call site" frame to an argument mismatch (shown without `--show-trace`).
#[cold]
pub(super) fn from_call_site(mut e: Box<EvalError>, span: Option<Span>) -> Box<EvalError> {
    if let Some(span) = span.filter(|s| s.file.0 != u32::MAX) {
        e.add_trace("from call site".to_owned(), Some(span), false);
    }
    e
}

/// Moves an operator's type error into a frame of context, as Nix reports it: the frame says
/// where (if anywhere), the error itself has no position.
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
