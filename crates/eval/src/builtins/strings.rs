//! Strings: `toString`, `stringLength`, `substring`, `concatStringsSep`, `baseNameOf`, `dirOf`,
//! `hasContext`, `unsafeDiscardStringContext`, `toJSON`, `replaceStrings`.

use super::{int, list, string, with_frame, ArgResult};
use crate::eval::{CoerceMode, Eval, EvalResult};
use crate::eval_error::EvalError;
use crate::span::Span;
use crate::value::{PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "toString",
        to_string,
        [
            "e" => "first argument passed to builtins.toString",
        ],
        "Converts `e` to a string: strings, paths, numbers, Booleans, null, lists (their elements separated by spaces) and sets with `__toString` or `outPath`.",
    ),
    prim!(
        "stringLength",
        string_length,
        [
            "e" => "argument passed to builtins.stringLength",
        ],
        "The length of the string `e` in bytes.",
    ),
    prim!(
        "substring",
        substring,
        [
            "start" => "first argument (the start offset) passed to builtins.substring",
            "len" => "second argument (the substring length) passed to builtins.substring",
            "s" => "third argument (the string) passed to builtins.substring",
        ],
        "The part of `s` from byte `start` that is `len` bytes long (or up to the end).",
    ),
    prim!(
        "concatStringsSep",
        concat_strings_sep,
        [
            "separator" => "first argument (the separator string) passed to builtins.concatStringsSep",
            "list" => "second argument (the list of strings to concat) passed to builtins.concatStringsSep",
        ],
        "The strings of `list` joined, with `separator` between them.",
    ),
    prim!(
        "baseNameOf",
        base_name_of,
        [
            "x" => "first argument passed to builtins.baseNameOf",
        ],
        "The last component of the path or string `x`, without a trailing slash.",
    ),
    prim!(
        "dirOf",
        dir_of,
        [
            "s" => "first argument passed to 'builtins.dirOf'",
        ],
        "The directory part of the path or string `s` (everything before its last slash).",
    ),
    prim!(
        "hasContext",
        has_context,
        [
            "s" => "argument passed to builtins.hasContext",
        ],
        "Whether the string `s` refers to store paths (has a context).",
    ),
    prim!(
        "unsafeDiscardStringContext",
        discard_context,
        [
            "s" => "argument passed to builtins.unsafeDiscardStringContext",
        ],
        "The string `s` without its context.",
    ),
    prim!(
        "toJSON",
        to_json,
        ["e",],
        "The JSON text of `e`; derivations and paths become store paths.",
    ),
    prim!(
        "replaceStrings",
        replace_strings,
        [
            "from" => "first argument passed to builtins.replaceStrings",
            "to" => "second argument passed to builtins.replaceStrings",
            "s" => "third argument passed to builtins.replaceStrings",
        ],
        "`s` with each occurrence of a string of the list `from` replaced by the string at the same place in `to`, scanning left to right.",
    ),
];

/// `replaceStrings from to s`: at each position the first `from` that occurs there is replaced
/// by the matching `to` (forced only when used, its context added); an empty `from` matches
/// at every position, the end included, and the character after it is kept.
fn replace_strings<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    // Nix's order: both lists, their lengths, the strings to replace, the string.
    let from = list(ev, args[0], span).arg(0)?;
    let to = list(ev, args[1], span).arg(1)?;
    if from.elems.len() != to.elems.len() {
        return Err(EvalError::msg(
            "'from' and 'to' arguments passed to builtins.replaceStrings have different lengths",
            span,
        ));
    }
    let mut patterns = Vec::with_capacity(from.elems.len());
    for e in from.elems {
        let p = string(ev, *e, span).map_err(|e| {
            with_frame(
                e,
                "while evaluating one of the strings to replace passed to builtins.replaceStrings",
                span,
                None,
            )
        })?;
        patterns.push(p.bytes);
    }
    let s = string(ev, args[2], span).in_arg(2)?;
    let mut replacements: Vec<Option<&'a crate::value::NixString<'a>>> = vec![None; to.elems.len()];
    let mut out = Vec::with_capacity(s.bytes.len());
    let mut context = s.context.to_vec();
    let bytes = s.bytes;
    let mut pos = 0;
    while pos <= bytes.len() {
        let found = patterns.iter().position(|p| bytes[pos..].starts_with(p));
        match found {
            Some(i) => {
                let r = match replacements[i] {
                    Some(r) => r,
                    None => {
                        let r = string(ev, to.elems[i], span).map_err(|e| {
                            with_frame(
                                e,
                                "while evaluating one of the replacement strings passed to builtins.replaceStrings",
                                span,
                                None,
                            )
                        })?;
                        replacements[i] = Some(r);
                        r
                    }
                };
                out.extend_from_slice(r.bytes);
                context.extend_from_slice(r.context);
                if patterns[i].is_empty() {
                    if let Some(b) = bytes.get(pos) {
                        out.push(*b);
                    }
                    pos += 1;
                } else {
                    pos += patterns[i].len();
                }
            }
            None => {
                if let Some(b) = bytes.get(pos) {
                    out.push(*b);
                }
                pos += 1;
            }
        }
    }
    context.sort();
    context.dedup();
    Ok(ev.new_string(&out, &context))
}

fn to_json<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let mut out = Vec::new();
    let mut context = Vec::new();
    crate::json::to_json(ev, args[0], span, &mut out, &mut context)?;
    context.sort();
    context.dedup();
    Ok(ev.new_string(&out, &context))
}

fn to_string<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let v = ev.force(args[0])?;
    // Nix's frame: for the value's own failure to coerce, and for anything failing in a list.
    let res = ev.coerce_to_string(v, span, CoerceMode::ToString);
    // Nix's frame covers any failure inside a list's elements too.
    if matches!(v, Value::List(_)) {
        res.in_arg(0)
    } else {
        res.arg(0)
    }
}

fn string_length<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let v = ev.force(args[0])?;
    let s = ev
        .coerce_to_string(v, span, CoerceMode::Interpolation)
        .arg(0)?;
    let Value::String(s) = s else { unreachable!() };
    Ok(Value::Int(s.bytes.len() as i64))
}

fn substring<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let start = int(ev, args[0], span).in_arg(0)?;
    let len = int(ev, args[1], span).in_arg(1)?;
    let v = ev.force(args[2])?;
    let s = ev
        .coerce_to_string(v, span, CoerceMode::Interpolation)
        .arg(2)?;
    let Value::String(s) = s else { unreachable!() };
    if start < 0 {
        return Err(EvalError::msg(
            "negative start position in 'substring'",
            span,
        ));
    }
    let start = (start as usize).min(s.bytes.len());
    let end = if len < 0 {
        s.bytes.len()
    } else {
        start.saturating_add(len as usize).min(s.bytes.len())
    };
    Ok(ev.new_string(&s.bytes[start..end], s.context))
}

fn concat_strings_sep<'a>(
    ev: &mut Eval<'a>,
    args: &[Value<'a>],
    span: Span,
) -> EvalResult<Value<'a>> {
    let sep = string(ev, args[0], span).in_arg(0)?;
    let l = list(ev, args[1], span).arg(1)?;
    // Forced in order first (as the loop below would): when every element is a string
    // without context, the result is written once, at its exact size, into the arena.
    let mut len = sep.bytes.len() * l.elems.len().saturating_sub(1);
    let mut plain = sep.context.is_empty();
    for e in l.elems {
        match ev.force(*e)? {
            Value::String(s) if s.context.is_empty() => len += s.bytes.len(),
            _ => {
                plain = false;
                break;
            }
        }
    }
    if plain {
        let out = ev.arena.alloc_slice_fill_copy(len, 0u8);
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        for (i, e) in l.elems.iter().enumerate() {
            if i > 0 {
                put(sep.bytes);
            }
            if let Value::String(s) = e.resolved() {
                put(s.bytes);
            }
        }
        return Ok(Value::String(ev.arena.alloc(crate::value::NixString {
            bytes: out,
            context: &[],
        })));
    }
    let mut bytes = Vec::new();
    let mut context = sep.context.to_vec();
    for (i, e) in l.elems.iter().enumerate() {
        if i > 0 {
            bytes.extend_from_slice(sep.bytes);
        }
        ev.coerce_to_string_into(
            *e,
            span,
            CoerceMode::Interpolation,
            &mut bytes,
            &mut context,
        )
        .map_err(|e| {
            if crate::arith::coercion_failed(&e) {
                with_frame(
                    e,
                    "while evaluating one element of the list of strings to concat passed to builtins.concatStringsSep",
                    span,
                    None,
                )
            } else {
                e
            }
        })?;
    }
    context.sort();
    context.dedup();
    Ok(ev.new_string(&bytes, &context))
}

fn base_name_of<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let v = ev.force(args[0])?;
    let (bytes, context) = match v {
        Value::Path(p) => (p.bytes, &[][..]),
        _ => {
            let s = ev
                .coerce_to_string(v, span, CoerceMode::PathSegment)
                .arg(0)?;
            let Value::String(s) = s else { unreachable!() };
            (s.bytes, s.context)
        }
    };
    let trimmed = bytes.strip_suffix(b"/").unwrap_or(bytes);
    let base = match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    };
    Ok(ev.new_string(base, context))
}

fn dir_of<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let v = ev.force(args[0])?;
    let is_path = matches!(v, Value::Path(_));
    let (bytes, context) = match v {
        Value::Path(p) => (p.bytes, &[][..]),
        _ => {
            let s = ev
                .coerce_to_string(v, span, CoerceMode::PathSegment)
                .arg(0)?;
            let Value::String(s) = s else { unreachable!() };
            (s.bytes, s.context)
        }
    };
    let dir: &[u8] = match bytes.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/",
        Some(i) => &bytes[..i],
        None => b".",
    };
    if is_path {
        Ok(ev.new_path(dir))
    } else {
        Ok(ev.new_string(dir, context))
    }
}

fn has_context<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let s = string(ev, args[0], span).in_arg(0)?;
    Ok(Value::Bool(!s.context.is_empty()))
}

fn discard_context<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let v = ev.force(args[0])?;
    let s = ev
        .coerce_to_string(v, span, CoerceMode::Interpolation)
        .arg(0)?;
    let Value::String(s) = s else { unreachable!() };
    Ok(ev.new_str(s.bytes))
}
