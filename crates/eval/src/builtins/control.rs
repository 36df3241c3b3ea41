//! Types, control flow, errors and files: `typeOf`, `is*`, `seq`, `deepSeq`, `tryEval`,
//! `throw`, `abort`, `trace`, `import`, `readFile`, `pathExists`, `getEnv`, ….

use std::path::Path;

use super::{attrs, string, with_frame};
use crate::eval::{CoerceMode, Eval, EvalResult};
use crate::eval_error::{ErrorKind, EvalError};
use crate::span::Span;
use crate::value::{Attr, PosIdx, PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!("typeOf", 1, type_of),
    prim!("isNull", 1, is_null),
    prim!("isInt", 1, is_int),
    prim!("isFloat", 1, is_float),
    prim!("isBool", 1, is_bool),
    prim!("isString", 1, is_string),
    prim!("isPath", 1, is_path),
    prim!("isList", 1, is_list),
    prim!("isAttrs", 1, is_attrs),
    prim!("isFunction", 1, is_function),
    prim!("seq", 2, seq),
    prim!("deepSeq", 2, deep_seq),
    prim!("tryEval", 1, try_eval),
    prim!("throw", 1, throw),
    prim!("abort", 1, abort),
    prim!("trace", 2, trace),
    prim!("warn", 2, warn),
    prim!("addErrorContext", 2, add_error_context),
    prim!("import", 1, import),
    prim!("scopedImport", 2, scoped_import),
    prim!("readFile", 1, read_file),
    prim!("pathExists", 1, path_exists),
    prim!("readFileType", 1, read_file_type),
    prim!("readDir", 1, read_dir),
    prim!("getEnv", 1, get_env),
    prim!("functionArgs", 1, function_args),
    prim!("unsafeGetAttrPos", 2, unsafe_get_attr_pos),
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
    let m = message(ev, args[0], span)?;
    Err(EvalError::new(ErrorKind::Throw(m), Some(span)))
}

fn abort<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let m = message(ev, args[0], span)?;
    Err(EvalError::new(ErrorKind::Abort(m), Some(span)))
}

pub(crate) fn trace<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], _: Span) -> EvalResult<Value<'a>> {
    let v = ev.force(args[0])?;
    let text = match v {
        Value::String(s) => String::from_utf8_lossy(s.bytes).into_owned(),
        _ => crate::print::for_trace(ev, v),
    };
    eprintln!("trace: {}", crate::print::for_stderr(&text));
    ev.force(args[1])
}

fn warn<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let s = super::arg_frame(string(ev, args[0], span), "warn", 0, span)?;
    eprintln!(
        "evaluation warning: {}",
        crate::print::for_stderr(&String::from_utf8_lossy(s.bytes))
    );
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
        Err(mut e) => match message(ev, args[0], span) {
            Ok(m) => {
                e.add_context(m);
                Err(e)
            }
            // A message that does not coerce replaces the error, as in Nix.
            Err(m) => Err(with_frame(
                m,
                "while evaluating the error message passed to builtins.addErrorContext",
                span,
                None,
            )),
        },
    }
}

/// Nix's `realisePath`: a path-like argument (a path, or a string holding an absolute path).
pub(crate) fn path_arg<'a>(ev: &mut Eval<'a>, v: Value<'a>, span: Span) -> EvalResult<Vec<u8>> {
    Ok(coerce_to_path(ev, v, span, "while realising the context of a path", None)?.0)
}

/// Nix's `coerceToPath`: a path as it is, a set's `__toString` result in turn, anything else
/// coerced to a string (not copied) that must be absolute. An error forcing the value, a value
/// that does not coerce, or a relative string gets the frame `message`; an error inside
/// `__toString` does not. The frame is at `at` where Nix gives it a position.
pub(crate) fn coerce_to_path<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    span: Span,
    message: &str,
    at: Option<Span>,
) -> EvalResult<(Vec<u8>, &'a [crate::value::ContextElem<'a>])> {
    let mut v = ev.force(v).map_err(|e| with_frame(e, message, span, at))?;
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
                    v = ev
                        .force(res)
                        .map_err(|e| with_frame(e, message, span, at))?;
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
                with_frame(e, message, span, at)
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
        return Err(with_frame(e, message, span, at));
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
    let (p, context) = coerce_to_path(ev, v, span, "while realising the context of a path", None)?;
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
    let scope = attrs(ev, args[0], span)?;
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
    let name = super::arg_frame(super::string_no_ctx(ev, args[0], span), "getEnv", 0, span)?;
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
    let name = super::arg_frame(string(ev, args[0], span), "unsafeGetAttrPos", 0, span)?;
    let set = attrs(ev, args[1], span)?;
    let sym = ev.sym(name.bytes);
    match set.get(sym).and_then(|a| ev.pos_span(a.pos)) {
        Some(s) if ev.sources.contains(s.file) => Ok(ev.pos_attrs(s)),
        _ => Ok(Value::Null),
    }
}
