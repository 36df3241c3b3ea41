//! Types, control flow, errors and files: `typeOf`, `is*`, `seq`, `deepSeq`, `tryEval`,
//! `throw`, `abort`, `trace`, `import`, `readFile`, `pathExists`, `getEnv`, ….

use std::path::Path;

use super::{attrs, string, with_frame, ArgResult};
use crate::eval::{CoerceMode, Eval, EvalResult};
use crate::eval_error::ArgumentMark;
use crate::eval_error::{ErrorKind, EvalError};
use crate::report::Notice;
use crate::span::Span;
use crate::value::{Attr, PosIdx, PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "typeOf",
        type_of,
        [
            "e",
        ],
        "The name of the type of `e`: `int`, `bool`, `string`, `path`, `null`, `set`, `list`, `lambda` or `float`.",
    ),
    prim!(
        "isNull",
        is_null,
        [
            "e",
        ],
        "Whether `e` is `null` (deprecated: use `e == null`).",
    ),
    prim!(
        "isInt",
        is_int,
        [
            "e",
        ],
        "Whether `e` is an integer.",
    ),
    prim!(
        "isFloat",
        is_float,
        [
            "e",
        ],
        "Whether `e` is a float.",
    ),
    prim!(
        "isBool",
        is_bool,
        [
            "e",
        ],
        "Whether `e` is a Boolean.",
    ),
    prim!(
        "isString",
        is_string,
        [
            "e",
        ],
        "Whether `e` is a string.",
    ),
    prim!(
        "isPath",
        is_path,
        [
            "e",
        ],
        "Whether `e` is a path.",
    ),
    prim!(
        "isList",
        is_list,
        [
            "e",
        ],
        "Whether `e` is a list.",
    ),
    prim!(
        "isAttrs",
        is_attrs,
        [
            "e",
        ],
        "Whether `e` is a set.",
    ),
    prim!(
        "isFunction",
        is_function,
        [
            "e",
        ],
        "Whether `e` is a function.",
    ),
    prim!(
        "seq",
        seq,
        [
            "e1",
            "e2",
        ],
        "Evaluates `e1` (to weak head normal form), then returns `e2`.",
    ),
    prim!(
        "deepSeq",
        deep_seq,
        [
            "e1",
            "e2",
        ],
        "Evaluates `e1` completely, every list element and attribute, then returns `e2`.",
    ),
    prim!(
        "tryEval",
        try_eval,
        [
            "e",
        ],
        "`{ success = true; value = e; }`, or `{ success = false; value = false; }` if evaluating `e` throws or fails an assertion.",
    ),
    prim!(
        "throw",
        throw,
        [
            "s" => "error message passed to builtin.throw",
        ],
        "Fails with the message `s`; `builtins.tryEval` can catch it.",
    ),
    prim!(
        "abort",
        abort,
        [
            "s" => "error message passed to builtins.abort",
        ],
        "Aborts evaluation with the message `s`; nothing can catch it.",
    ),
    prim!(
        "trace",
        trace,
        [
            "e1",
            "e2",
        ],
        "Prints `e1` on standard error (a `trace:` line), then returns `e2`.",
    ),
    prim!(
        "warn",
        warn,
        [
            "e1" => "first argument; the message passed to builtins.warn",
            "e2",
        ],
        "Prints the string `e1` as an evaluation warning, then returns `e2`; with `abort-on-warn`, fails instead of returning.",
    ),
    prim!(
        "addErrorContext",
        add_error_context,
        [
            "context" => "error message passed to builtins.addErrorContext",
            "expr",
        ],
        "Returns `expr`; an error in evaluating it gets the line `context` in its trace.",
    ),
    prim!(
        "import",
        import,
        [
            "path",
        ],
        "The value of the Nix file at `path` (its `default.nix` for a directory).",
    ),
    prim!(
        "scopedImport",
        scoped_import,
        [
            "scope" => "first argument passed to builtins.scopedImport",
            "path",
        ],
        "Like `import`, with the attributes of `scope` in scope in the file, shadowing the builtins.",
    ),
    prim!(
        "readFile",
        read_file,
        [
            "path",
        ],
        "The contents of the file at `path`, as a string.",
    ),
    prim!(
        "pathExists",
        path_exists,
        [
            "path",
        ],
        "Whether the path `path` exists (and may be read).",
    ),
    prim!(
        "readFileType",
        read_file_type,
        [
            "p",
        ],
        "The type of the file at `p`: `regular`, `directory`, `symlink` or `unknown`.",
    ),
    prim!(
        "readDir",
        read_dir,
        [
            "path",
        ],
        "The entries of the directory `path`: a set from each name to its file type.",
    ),
    prim!(
        "getEnv",
        get_env,
        [
            "s" => "first argument passed to builtins.getEnv",
        ],
        "The value of the environment variable `s`, or the empty string if it is not set (always empty in restricted and pure evaluation).",
    ),
    prim!(
        "functionArgs",
        function_args,
        [
            "f",
        ],
        "The formal parameters of the function `f`: a set from each name to whether it has a default.",
    ),
    prim!(
        "unsafeGetAttrPos",
        unsafe_get_attr_pos,
        [
            "s" => "first argument passed to builtins.unsafeGetAttrPos",
            "set" => "second argument passed to builtins.unsafeGetAttrPos",
        ],
        "Where the attribute `s` of `set` is defined, as `{ file; line; column; }`, or `null`.",
    ),
];

fn type_of<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], _: Span) -> EvalResult<Value<'a>> {
    let v = ev.force(args[0])?;
    Ok(ev.new_str(v.type_name().as_bytes()))
}

macro_rules! is_type {
    ($f:ident, $pat:pat) => {
        fn $f<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], _: Span) -> EvalResult<Value<'a>> {
            Ok(Value::Bool(matches!(ev.force(args[0])?, $pat)))
        }
    };
}

is_type!(is_null, Value::Null);
is_type!(is_int, Value::Int(_));
is_type!(is_float, Value::Float(_));
is_type!(is_bool, Value::Bool(_));
is_type!(is_string, Value::String(_));
is_type!(is_path, Value::Path(_));
is_type!(is_list, Value::List(_));
is_type!(is_attrs, Value::Attrs(_));
is_type!(
    is_function,
    Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_)
);

fn seq<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], _: Span) -> EvalResult<Value<'a>> {
    ev.force(args[0])?;
    ev.force(args[1])
}

fn deep_seq<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], _: Span) -> EvalResult<Value<'a>> {
    ev.force_deep(args[0])?;
    ev.force(args[1])
}

fn try_eval<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], _: Span) -> EvalResult<Value<'a>> {
    let (success, value) = match ev.force(args[0]) {
        Ok(v) => (true, v),
        Err(e) if e.is_catchable() => (false, Value::Bool(false)),
        Err(e) => return Err(e),
    };
    let s = ev.sym(b"success");
    let v = ev.sym(b"value");
    Ok(ev.new_attrs(vec![
        Attr {
            name: s,
            pos: PosIdx::NONE,
            value: Value::Bool(success),
        },
        Attr {
            name: v,
            pos: PosIdx::NONE,
            value,
        },
    ]))
}

fn message<'a>(ev: &mut Eval<'a>, v: Value<'a>, span: Span) -> EvalResult<String> {
    let s = ev.coerce_to_string(v, span, CoerceMode::Interpolation)?;
    let Value::String(s) = s else {
        unreachable!("coerce_to_string returns a string")
    };
    Ok(String::from_utf8_lossy(s.bytes).into_owned())
}

fn throw<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let m = message(ev, args[0], span).arg(0)?;
    Err(EvalError::new(ErrorKind::Throw(m), Some(span)))
}

fn abort<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let m = message(ev, args[0], span).arg(0)?;
    Err(EvalError::new(ErrorKind::Abort(m), Some(span)))
}

pub(crate) fn trace<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], _: Span) -> EvalResult<Value<'a>> {
    let v = ev.force(args[0])?;
    let text = match v {
        Value::String(s) => String::from_utf8_lossy(s.bytes).into_owned(),
        _ => crate::print::for_trace(ev, v),
    };
    ev.report(Notice::Trace(&text));
    ev.force(args[1])
}

fn warn<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let s = string(ev, args[0], span).in_arg(0)?;
    ev.report(Notice::EvalWarning(&String::from_utf8_lossy(s.bytes)));
    if ev.settings.abort_on_warn {
        return Err(EvalError::msg(
            "aborting to reveal stack trace of warning, as abort-on-warn is set",
            span,
        ));
    }
    ev.force(args[1])
}

fn add_error_context<'a>(
    ev: &mut Eval<'a>,
    args: &[Value<'a>],
    span: Span,
) -> EvalResult<Value<'a>> {
    match ev.force(args[1]) {
        Ok(v) => Ok(v),
        // A message that does not coerce replaces the error, as in Nix.
        Err(mut e) => {
            let m = message(ev, args[0], span).in_arg(0)?;
            e.add_context(m);
            Err(e)
        }
    }
}

/// The frame of a path that does not coerce, where Nix realises it.
const REALISING: PathFrame<'static> =
    PathFrame::Message("while realising the context of a path", None);

/// Nix's `realisePath`: a path-like argument (a path, or a string holding an absolute path).
pub(crate) fn path_arg<'a>(ev: &mut Eval<'a>, v: Value<'a>, span: Span) -> EvalResult<Vec<u8>> {
    Ok(coerce_to_path(ev, v, span, REALISING)?.0)
}

/// The frame `coerce_to_path` gives its failures.
#[derive(Clone, Copy)]
pub(crate) enum PathFrame<'m> {
    /// A frame of its own, at a position where Nix gives it one.
    Message(&'m str, Option<Span>),
    /// The frame of the builtin's argument `index`, as its `PrimOp` names it (see
    /// [`super::ArgResult::in_arg`]).
    Argument(usize),
}

/// Nix's `coerceToPath`: a path as it is, a set's `__toString` result in turn, anything else
/// coerced to a string (not copied) that must be absolute. An error forcing the value, a value
/// that does not coerce, or a relative string gets the frame `frame`; an error inside
/// `__toString` does not.
pub(crate) fn coerce_to_path<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    span: Span,
    frame: PathFrame<'_>,
) -> EvalResult<(Vec<u8>, &'a [crate::value::ContextElem<'a>])> {
    let framed = |e| match frame {
        PathFrame::Message(message, at) => with_frame(e, message, span, at),
        PathFrame::Argument(index) => super::mark_argument(e, ArgumentMark::AnyError(index)),
    };
    let mut v = ev.force(v).map_err(framed)?;
    // A set's `__toString` result in turn, as long as it is one (a `__toString` that returns
    // its set never ends: Nix runs out of stack).
    let mut rounds = 0;
    loop {
        match v {
            Value::Path(p) => return Ok((p.bytes.to_vec(), &[])),
            Value::Attrs(a) => {
                if let Some(f) = a.get(ev.syms.to_string) {
                    rounds += 1;
                    if rounds > crate::eval::MAX_TO_STRING_CHAIN {
                        return Err(EvalError::new(crate::ErrorKind::NestingTooDeep, None));
                    }
                    let f = ev.force(f.value)?;
                    let res = ev.call(f, v, Some(span))?;
                    v = ev.force(res).map_err(framed)?;
                    continue;
                }
            }
            _ => {}
        }
        break;
    }
    let s = ev
        .coerce_to_string(v, span, CoerceMode::PathSegment)
        .map_err(|e| {
            if crate::arith::coercion_failed(&e) {
                framed(e)
            } else {
                e
            }
        })?;
    let Value::String(s) = s else {
        unreachable!("coercion makes a string")
    };
    if !s.bytes.starts_with(b"/") {
        let e = EvalError::msg(
            format!(
                "string '{}' doesn't represent an absolute path",
                String::from_utf8_lossy(s.bytes)
            ),
            span,
        );
        return Err(framed(e));
    }
    Ok((s.bytes.to_vec(), s.context))
}

/// An I/O error as Nix shows a system error: the system's message, without Rust's
/// " (os error N)".
pub fn os_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(code) => text
            .strip_suffix(&format!(" (os error {code})"))
            .map(str::to_owned)
            .unwrap_or(text),
        None => text,
    }
}

/// A path argument of a builtin that reads it (`import`, `readFile`, `readDir`, `hashFile`),
/// realised as Nix realises it: the store paths its context names must be valid (in a
/// read-only evaluation, `toFile`'s result is not), and it must be readable
/// ([`Eval::check_access`]); failures get Nix's frame for that step.
pub(crate) fn realised_path_arg<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    span: Span,
) -> EvalResult<Vec<u8>> {
    let (p, context) = coerce_to_path(ev, v, span, REALISING)?;
    for elem in context {
        let crate::value::ContextElem::Opaque(sp) = elem else {
            continue;
        };
        let sp_text = String::from_utf8_lossy(sp);
        // Valid, and there: a read-only evaluation knows `toFile`'s results without writing
        // them, and Nix cannot read those either.
        let valid = kiln_formats::store_path::StorePath::from_absolute(ev.io.store_dir(), &sp_text)
            .ok()
            .and_then(|sp| ev.io.is_valid_path(&sp).ok())
            .unwrap_or(false)
            && ev.io.path_exists(os_path(sp));
        if !valid {
            let e = EvalError::new(
                ErrorKind::Message(format!("path '{sp_text}' is not valid")),
                None,
            );
            return Err(with_frame(
                e,
                &format!(
                    "while realising the context of path '{}'",
                    String::from_utf8_lossy(&p)
                ),
                span,
                None,
            ));
        }
    }
    realise_access(ev, &p, span)?;
    Ok(p)
}

/// Checks that a path a builtin reads may be read ([`Eval::check_access`]), with Nix's frame
/// for that step.
fn realise_access(ev: &Eval<'_>, p: &[u8], span: Span) -> EvalResult<()> {
    ev.check_access(os_path(p)).map_err(|e| {
        super::with_frame(
            e,
            &format!(
                "while realising the context of path '{}'",
                String::from_utf8_lossy(p)
            ),
            span,
            None,
        )
    })
}

fn os_path(bytes: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(bytes))
}

fn import<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let p = realised_path_arg(ev, args[0], span)?;
    ev.eval_file(os_path(&p)).map_err(|mut e| {
        if e.span.is_none() {
            e.span = Some(span);
        }
        e
    })
}

fn scoped_import<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let scope = attrs(ev, args[0], span).arg(0)?;
    let p = realised_path_arg(ev, args[1], span)?;
    ev.eval_file_scoped(os_path(&p), scope).map_err(|mut e| {
        if e.span.is_none() {
            e.span = Some(span);
        }
        e
    })
}

fn read_file<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let p = realised_path_arg(ev, args[0], span)?;
    let bytes = ev.io.read_file(os_path(&p)).map_err(|e| {
        EvalError::msg(
            format!(
                "opening file '{}': {}",
                os_path(&p).display(),
                os_error_text(&e)
            ),
            span,
        )
    })?;
    Ok(ev.new_str(&bytes))
}

fn path_exists<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    // Nix forces the argument before realising it: an error there has no frame.
    let v = ev.force(args[0])?;
    let p = path_arg(ev, v, span)?;
    // A path that may not be read does not exist, for the evaluation.
    let allowed = ev.check_access(os_path(&p)).is_ok();
    Ok(Value::Bool(allowed && ev.io.path_exists(os_path(&p))))
}

fn read_file_type<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let p = path_arg(ev, args[0], span)?;
    // Unlike the other readers, Nix names the whole path here.
    if ev.forbidden_prefix(os_path(&p)).is_some() {
        return Err(ev.access_error(&p));
    }
    let t = ev.io.file_type(os_path(&p)).map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!("path '{}' does not exist", os_path(&p).display())
        } else {
            format!(
                "getting status of '{}': {}",
                os_path(&p).display(),
                os_error_text(&e)
            )
        };
        EvalError::msg(message, span)
    })?;
    Ok(ev.new_str(t.name().as_bytes()))
}

fn read_dir<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let p = realised_path_arg(ev, args[0], span)?;
    // Nix's words: the path unquoted, the system's message alone.
    let entries = ev.io.read_dir(os_path(&p)).map_err(|e| {
        EvalError::msg(
            format!(
                "reading directory {}: {}",
                os_path(&p).display(),
                os_error_text(&e)
            ),
            span,
        )
    })?;
    let mut attrs = Vec::with_capacity(entries.len());
    for (name, t) in entries {
        // A directory on the way to the allowed ones shows only what leads there.
        if ev.restricted()
            && ev
                .forbidden_prefix(&os_path(&p).join(os_path(&name)))
                .is_some()
        {
            continue;
        }
        let sym = ev.sym(&name);
        let value = ev.new_str(t.name().as_bytes());
        attrs.push(Attr {
            name: sym,
            pos: PosIdx::NONE,
            value,
        });
    }
    Ok(ev.new_attrs(attrs))
}

fn get_env<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let name = super::string_no_ctx(ev, args[0], span).in_arg(0)?;
    // Restricted evaluations see no environment.
    let value = if ev.restricted() {
        Vec::new()
    } else {
        ev.io
            .get_env(&String::from_utf8_lossy(name.bytes))
            .unwrap_or_default()
    };
    Ok(ev.new_str(&value))
}

fn function_args<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    // Builtins have no formals; anything else that is not a lambda (a `__functor` set too)
    // is an error, in Nix's words.
    let c = match ev.force(args[0])? {
        Value::Lambda(c) => c,
        Value::PrimOp(_) | Value::PrimOpApp(_) => return Ok(ev.new_attrs(Vec::new())),
        _ => return Err(EvalError::msg("'functionArgs' requires a function", span)),
    };
    let crate::ir::ParamIr::Formals { formals, .. } = &c.lambda.param else {
        return Ok(ev.new_attrs(Vec::new()));
    };
    let attrs = formals
        .iter()
        .map(|f| Attr {
            name: f.name,
            pos: f.pos,
            value: Value::Bool(f.default.is_some()),
        })
        .collect();
    Ok(ev.new_attrs(attrs))
}

fn unsafe_get_attr_pos<'a>(
    ev: &mut Eval<'a>,
    args: &[Value<'a>],
    span: Span,
) -> EvalResult<Value<'a>> {
    let name = string(ev, args[0], span).in_arg(0)?;
    let set = attrs(ev, args[1], span).arg(1)?;
    let sym = ev.sym(name.bytes);
    match set.get(sym).and_then(|a| ev.pos_span(a.pos)) {
        Some(s) if ev.sources.contains(s.file) => Ok(ev.pos_attrs(s)),
        _ => Ok(Value::Null),
    }
}
