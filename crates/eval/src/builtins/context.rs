//! String context: `getContext`, `appendContext`, `unsafeDiscardOutputDependency`,
//! `addDrvOutputDependencies`.
//!
//! A context is exposed as Nix shows it: a set from store path to
//! `{ path = true; allOutputs = true; outputs = [ … ]; }` (each field only when it holds).
//! A plain path is [`ContextElem::Opaque`], `allOutputs` is [`ContextElem::AllOutputs`]
//! (a derivation with all its outputs), each of `outputs` a [`ContextElem::Built`].

use std::collections::BTreeMap;

use kiln_formats::store_path::StorePath;

use super::{attrs, boolean, list, string, ArgResult};
use crate::eval::{CoerceMode, Eval, EvalResult};
use crate::eval_error::EvalError;
use crate::span::Span;
use crate::value::{Attr, ContextElem, PosIdx, PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "getContext",
        get_context,
        [
            "s" => "argument passed to builtins.getContext",
        ],
        "The context of the string `s`, as a set from each store path to what the string refers to of it.",
    ),
    prim!(
        "appendContext",
        append_context,
        [
            "s" => "first argument passed to builtins.appendContext",
            "context" => "second argument passed to builtins.appendContext",
        ],
        "The string `s` with the context elements of the set `context` (in the form `getContext` returns) added.",
    ),
    prim!(
        "unsafeDiscardOutputDependency",
        discard_output_dependency,
        [
            "s" => "argument passed to builtins.unsafeDiscardOutputDependency",
        ],
        "The string `s` with each reference to a derivation's outputs turned into one to the derivation file itself.",
    ),
    prim!(
        "addDrvOutputDependencies",
        add_drv_output_dependencies,
        [
            "s" => "argument passed to builtins.addDrvOutputDependencies",
        ],
        "The string `s`, which refers to one derivation file, made to refer to all that derivation's outputs instead.",
    ),
];

/// What the context says about one store path.
#[derive(Default)]
struct PathInfo<'a> {
    path: bool,
    all_outputs: bool,
    outputs: Vec<&'a [u8]>,
}

fn get_context<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let s = string(ev, args[0], span).arg(0)?;
    let mut by_path: BTreeMap<&'a [u8], PathInfo<'a>> = BTreeMap::new();
    for elem in s.context {
        match *elem {
            ContextElem::Opaque(p) => by_path.entry(p).or_default().path = true,
            ContextElem::AllOutputs(p) => by_path.entry(p).or_default().all_outputs = true,
            ContextElem::Built { output, drv } => {
                by_path.entry(drv).or_default().outputs.push(output)
            }
        }
    }
    let path_sym = ev.sym(b"path");
    let all_sym = ev.sym(b"allOutputs");
    let outputs_sym = ev.sym(b"outputs");
    let mut entries = Vec::with_capacity(by_path.len());
    for (path, mut info) in by_path {
        let mut fields = Vec::new();
        if info.path {
            fields.push(Attr {
                name: path_sym,
                pos: PosIdx::NONE,
                value: Value::Bool(true),
            });
        }
        if info.all_outputs {
            fields.push(Attr {
                name: all_sym,
                pos: PosIdx::NONE,
                value: Value::Bool(true),
            });
        }
        if !info.outputs.is_empty() {
            info.outputs.sort();
            info.outputs.dedup();
            let outputs = info.outputs.iter().map(|o| ev.new_str(o)).collect();
            fields.push(Attr {
                name: outputs_sym,
                pos: PosIdx::NONE,
                value: ev.new_list(outputs),
            });
        }
        let value = ev.new_attrs(fields);
        entries.push(Attr {
            name: ev.sym(path),
            pos: PosIdx::NONE,
            value,
        });
    }
    Ok(ev.new_attrs(entries))
}

/// Parses a context key: an absolute store path with nothing after it.
fn store_path(ev: &Eval<'_>, key: &[u8]) -> Option<StorePath> {
    let key = std::str::from_utf8(key).ok()?;
    StorePath::from_absolute(ev.io.store_dir(), key).ok()
}

fn append_context<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let s = string(ev, args[0], span).arg(0)?;
    let set = attrs(ev, args[1], span).arg(1)?;
    let path_sym = ev.sym(b"path");
    let all_sym = ev.sym(b"allOutputs");
    let outputs_sym = ev.sym(b"outputs");
    let mut context = s.context.to_vec();
    for (name, value) in crate::print::sorted_attrs(ev, set) {
        let key: &'a [u8] = ev.arena.alloc_slice_copy(ev.interner.resolve(name));
        let shown = String::from_utf8_lossy(key).into_owned();
        // Nix reports these at the attribute (its key), where it has a position.
        let at = set
            .get(name)
            .and_then(|a| ev.pos_span(a.pos))
            .unwrap_or(span);
        let Some(sp) = store_path(ev, key) else {
            return Err(EvalError::msg(
                format!("context key '\"{shown}\"' is not a store path"),
                at,
            ));
        };
        let info = attrs(ev, value, at)
            .map_err(|e| in_frame(e, "while evaluating the value of a string context", at))?;
        // A flag's error and frame are at the flag's own attribute.
        let flag = |ev: &mut Eval<'a>, sym, message: &str| -> EvalResult<bool> {
            match info.get(sym) {
                Some(a) => {
                    let at = ev.pos_span(a.pos).unwrap_or(span);
                    boolean(ev, a.value, at).map_err(|mut e| {
                        e.add_trace(message.to_owned(), Some(at), false);
                        e
                    })
                }
                None => Ok(false),
            }
        };
        if flag(
            ev,
            path_sym,
            "while evaluating the `path` attribute of a string context",
        )? {
            context.push(ContextElem::Opaque(key));
        }
        if flag(
            ev,
            all_sym,
            "while evaluating the `allOutputs` attribute of a string context",
        )? {
            if !sp.is_derivation() {
                return Err(EvalError::msg(
                    format!(
                        "tried to add all-outputs context of \"{shown}\", which is not a derivation, to a string"
                    ),
                    at,
                ));
            }
            context.push(ContextElem::AllOutputs(key));
        }
        if let Some(a) = info.get(outputs_sym) {
            let outputs_at = ev.pos_span(a.pos).unwrap_or(span);
            let outputs = list(ev, a.value, outputs_at).map_err(|e| {
                in_frame(
                    e,
                    "while evaluating the `outputs` attribute of a string context",
                    outputs_at,
                )
            })?;
            if !outputs.elems.is_empty() && !sp.is_derivation() {
                return Err(EvalError::msg(
                    format!(
                        "tried to add derivation output context of \"{shown}\", which is not a derivation, to a string"
                    ),
                    at,
                ));
            }
            for o in outputs.elems {
                let output = string(ev, *o, outputs_at)
                    .map_err(|mut e| {
                        e.add_trace(
                            "while evaluating an output name within a string context".to_owned(),
                            Some(outputs_at),
                            false,
                        );
                        e
                    })?
                    .bytes;
                context.push(ContextElem::Built { output, drv: key });
            }
        }
    }
    context.sort();
    context.dedup();
    Ok(ev.new_string(s.bytes, &context))
}

/// Nix's frame for a value of the wrong type found in a string context (its `forceAttrs` or
/// `forceList` with a position): the frame is at `at`, the error itself has no position.
#[cold]
#[inline(never)]
fn in_frame(mut e: Box<EvalError>, message: &str, at: Span) -> Box<EvalError> {
    if e.span == Some(at) {
        e.span = None;
    }
    e.add_trace(message.to_owned(), Some(at), false);
    e
}

fn discard_output_dependency<'a>(
    ev: &mut Eval<'a>,
    args: &[Value<'a>],
    span: Span,
) -> EvalResult<Value<'a>> {
    let v = ev.force(args[0])?;
    let s = ev
        .coerce_to_string(v, span, CoerceMode::Interpolation)
        .arg(0)?;
    let Value::String(s) = s else {
        unreachable!("coercion makes a string")
    };
    let mut context: Vec<ContextElem<'a>> = s
        .context
        .iter()
        .map(|e| match *e {
            ContextElem::AllOutputs(p) => ContextElem::Opaque(p),
            other => other,
        })
        .collect();
    context.sort();
    context.dedup();
    Ok(ev.new_string(s.bytes, &context))
}

fn add_drv_output_dependencies<'a>(
    ev: &mut Eval<'a>,
    args: &[Value<'a>],
    span: Span,
) -> EvalResult<Value<'a>> {
    let s = string(ev, args[0], span).arg(0)?;
    let [elem] = s.context else {
        return Err(EvalError::msg(
            format!(
                "context of string '{}' must have exactly one element, but has {}",
                String::from_utf8_lossy(s.bytes),
                s.context.len()
            ),
            span,
        ));
    };
    let new = match *elem {
        ContextElem::Opaque(p) => {
            if !store_path(ev, p).is_some_and(|sp| sp.is_derivation()) {
                return Err(EvalError::msg(
                    format!("path '{}' is not a derivation", String::from_utf8_lossy(p)),
                    span,
                ));
            }
            ContextElem::AllOutputs(p)
        }
        ContextElem::AllOutputs(p) => ContextElem::AllOutputs(p),
        ContextElem::Built { output, .. } => {
            return Err(EvalError::msg(
                format!(
                    "`addDrvOutputDependencies` can only act on derivations, not on a derivation output such as '{}'",
                    String::from_utf8_lossy(output)
                ),
                span,
            ))
        }
    };
    Ok(ev.new_string(s.bytes, &[new]))
}
