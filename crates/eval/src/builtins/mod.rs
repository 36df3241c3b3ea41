//! The builtins, grouped by domain, one file each; this module registers them and builds the
//! base environment.
//!
//! Every builtin is a [`PrimOp`] in a static table. The base environment binds `builtins`, the
//! names Nix exposes unprefixed (`map`, `toString`, `true`, …), and every builtin as
//! `__name`, as Nix does.

use crate::eval::{type_error, Eval, EvalResult};
use crate::eval_error::{ArgumentMark, EvalError};
use crate::intern::Symbol;
use crate::span::Span;
#[cfg(doc)]
use crate::value::PrimOpArg;
use crate::value::{Attr, Attrs, Env, List, NixString, PosIdx, PrimOp, Thunk, ThunkState, Value};

/// `prim!("name", function, ["param" => "frame", "param", …], "doc")`: one entry of a builtins
/// table (visible in the files below). Each parameter is named as in the manual's signature;
/// `=> "frame"` is how Nix's error frame names that argument ([`PrimOpArg::frame`]), left out
/// where Nix adds none.
macro_rules! prim {
    (@frame) => {
        None
    };
    (@frame $frame:literal) => {
        Some($frame)
    };
    ($name:literal, $f:ident, [$($param:literal $(=> $frame:literal)?),* $(,)?], $doc:literal $(,)?) => {
        PrimOp {
            name: $name,
            arity: [$($param),*].len(),
            args: &[$(crate::value::PrimOpArg {
                name: $param,
                frame: prim!(@frame $($frame)?),
            }),*],
            doc: $doc,
            func: $f,
        }
    };
}

mod attrs;
mod context;
pub(crate) mod control;
mod derivation;
mod fetch;
mod hashing;
mod lists;
mod numbers;
mod paths;
pub(crate) mod regex;
pub(crate) mod serde;
mod store;
mod strings;
mod versions;

pub(crate) use derivation::DrvState;

/// Names bound at top level without the `__` prefix.
const UNPREFIXED: &[&str] = &[
    "abort",
    "baseNameOf",
    "break",
    "derivation",
    "dirOf",
    "fetchGit",
    "fetchMercurial",
    "fetchTarball",
    "fetchTree",
    "fromTOML",
    "import",
    "isNull",
    "map",
    "placeholder",
    "removeAttrs",
    "scopedImport",
    "throw",
    "toString",
];

/// Every builtin function.
fn all() -> impl Iterator<Item = &'static PrimOp> {
    attrs::BUILTINS
        .iter()
        .chain(control::BUILTINS)
        .chain(lists::BUILTINS)
        .chain(numbers::BUILTINS)
        .chain(strings::BUILTINS)
        .chain(regex::BUILTINS)
        .chain(versions::BUILTINS)
        .chain(hashing::BUILTINS)
        .chain(serde::BUILTINS)
        .chain(context::BUILTINS)
        .chain(paths::BUILTINS)
        .chain(fetch::BUILTINS)
        .chain(derivation::BUILTINS.iter().chain(store::BUILTINS))
}

/// Builds the base environment and the names lowering resolves against it.
pub fn base_env<'a>(ev: &mut Eval<'a>) -> (&'a Env<'a>, crate::intern::SymbolMap<u32>) {
    let mut builtins: Vec<Attr<'a>> = Vec::new();
    let fetch_tree = ev.settings.has_feature("fetch-tree") || ev.settings.has_feature("flakes");
    for op in all() {
        // Nix 2.26 defines `fetchTree` only with one of these experimental features.
        if op.name == "fetchTree" && !fetch_tree {
            continue;
        }
        let name = ev.sym(op.name.as_bytes());
        builtins.push(Attr {
            name,
            pos: PosIdx::NONE,
            value: Value::PrimOp(op),
        });
    }
    let mut constants: Vec<(&str, Value<'a>)> = vec![
        ("true", Value::Bool(true)),
        ("false", Value::Bool(false)),
        ("null", Value::Null),
        ("langVersion", Value::Int(6)),
        ("currentTime", Value::Int(ev.io.current_time())),
        ("nixVersion", ev.new_str(b"2.26.0")),
        (
            "currentSystem",
            ev.new_str(ev.settings.current_system.clone().as_bytes()),
        ),
        (
            "storeDir",
            ev.new_str(ev.io.store_dir().to_owned().as_bytes()),
        ),
        ("nixPath", nix_path_value(ev)),
    ];
    // A pure evaluation has no clock, no system and no search path.
    if ev.settings.pure_eval {
        constants.retain(|(name, _)| !matches!(*name, "currentTime" | "currentSystem"));
        for (name, value) in &mut constants {
            if *name == "nixPath" {
                *value = ev.new_list(Vec::new());
            }
        }
    }
    for (name, value) in constants {
        let name = ev.sym(name.as_bytes());
        builtins.push(Attr {
            name,
            pos: PosIdx::NONE,
            value,
        });
    }
    // `builtins.builtins` is the set itself: a thunk completed once the set exists.
    let builtins_sym = ev.sym(b"builtins");
    let self_ref: &'a Thunk<'a> = ev.arena.alloc(Thunk {
        state: std::cell::Cell::new(ThunkState::Done(Value::Null)),
    });
    builtins.push(Attr {
        name: builtins_sym,
        pos: PosIdx::NONE,
        value: Value::Thunk(self_ref),
    });
    builtins.sort_by_key(|a| a.name);
    let entries = ev.arena.alloc_slice_copy(&builtins);
    let set: &'a Attrs<'a> = ev.arena.alloc(Attrs { entries });
    let set_value = Value::Attrs(set);
    self_ref.state.set(ThunkState::Done(set_value));

    let mut names = crate::intern::SymbolMap::default();
    let mut slots: Vec<Value<'a>> = Vec::new();
    let bind =
        |names: &mut crate::intern::SymbolMap<u32>, slots: &mut Vec<Value<'a>>, sym: Symbol, v| {
            if let std::collections::hash_map::Entry::Vacant(e) = names.entry(sym) {
                e.insert(slots.len() as u32);
                slots.push(v);
            }
        };
    bind(&mut names, &mut slots, builtins_sym, set_value);
    for a in set.entries.iter() {
        let name = ev.interner.resolve(a.name).to_vec();
        let text = String::from_utf8_lossy(&name).into_owned();
        if UNPREFIXED.contains(&text.as_str()) || matches!(text.as_str(), "true" | "false" | "null")
        {
            bind(&mut names, &mut slots, a.name, a.value);
        }
        if text != "builtins" {
            let prefixed = ev.sym(format!("__{text}").as_bytes());
            bind(&mut names, &mut slots, prefixed, a.value);
        }
    }
    let env = ev.arena.alloc(Env {
        up: std::cell::Cell::new(None),
        slots: ev
            .arena
            .alloc_slice_fill_iter(slots.into_iter().map(std::cell::Cell::new)),
    });
    (env, names)
}

/// `builtins.nixPath`: a list of `{ prefix; path; }`.
fn nix_path_value<'a>(ev: &mut Eval<'a>) -> Value<'a> {
    let entries = ev.settings.nix_path.clone();
    let prefix = ev.sym(b"prefix");
    let path = ev.sym(b"path");
    let items = entries
        .iter()
        .map(|(p, d)| {
            let attrs = vec![
                Attr {
                    name: prefix,
                    pos: PosIdx::NONE,
                    value: ev.new_str(p.as_bytes()),
                },
                Attr {
                    name: path,
                    pos: PosIdx::NONE,
                    value: ev.new_str(d.as_bytes()),
                },
            ];
            ev.new_attrs(attrs)
        })
        .collect();
    ev.new_list(items)
}

// ----- argument helpers shared by the builtin files -----

/// What is wrong with a store path name, in Nix's words, if anything.
pub(crate) fn store_name_problem(name: &str) -> Option<String> {
    use kiln_formats::store_path::{check_name, NameError};
    let e = check_name(name).err()?;
    Some(match e {
        NameError::Empty => "name must not be empty".to_owned(),
        NameError::TooLong => format!("name '{name}' must be no longer than 211 characters"),
        NameError::Dots if name == "." || name == ".." => format!("name '{name}' is not valid"),
        NameError::Dots => {
            let first = if name.starts_with("..") { ".." } else { "." };
            format!(
                "name '{name}' is not valid: first dash-separated component must not be '{first}'"
            )
        }
        NameError::BadChar(c) => format!("name '{name}' contains illegal character '{c}'"),
    })
}

/// Adds the frame Nix gives a value a builtin forces with a context of its own ("while
/// evaluating the return value of the function passed to builtins.all"), as the error unwinds.
/// An error at the builtin's call (`call`) loses that position, as in Nix, where the call's
/// frame says where; `at` is the frame's own position where Nix shows one.
#[cold]
#[inline(never)]
pub(crate) fn with_frame(
    mut e: Box<EvalError>,
    message: &str,
    call: Span,
    at: Option<Span>,
) -> Box<EvalError> {
    if e.span == Some(call) {
        e.span = None;
    }
    e.add_trace(message.to_owned(), at, false);
    e
}

/// Forces an argument expected to be an integer.
pub(crate) fn int<'a>(ev: &mut Eval<'a>, v: Value<'a>, span: Span) -> EvalResult<i64> {
    match ev.force(v)? {
        Value::Int(n) => Ok(n),
        other => Err(type_error("an integer", &other, ev, span)),
    }
}

/// Forces an argument expected to be a Boolean.
pub(crate) fn boolean<'a>(ev: &mut Eval<'a>, v: Value<'a>, span: Span) -> EvalResult<bool> {
    match ev.force(v)? {
        Value::Bool(b) => Ok(b),
        other => Err(type_error("a Boolean", &other, ev, span)),
    }
}

/// Forces an argument expected to be a set.
pub(crate) fn attrs<'a>(ev: &mut Eval<'a>, v: Value<'a>, span: Span) -> EvalResult<&'a Attrs<'a>> {
    match ev.force(v)? {
        Value::Attrs(a) => Ok(a),
        other => Err(type_error("a set", &other, ev, span)),
    }
}

/// Forces an argument expected to be a list.
pub(crate) fn list<'a>(ev: &mut Eval<'a>, v: Value<'a>, span: Span) -> EvalResult<&'a List<'a>> {
    match ev.force(v)? {
        Value::List(l) => Ok(l),
        other => Err(type_error("a list", &other, ev, span)),
    }
}

/// Forces a value expected to be a list, as Nix's `forceList` with a context: the frame
/// `message` is added to the type error only (an error while forcing gets none).
pub(crate) fn list_in<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    span: Span,
    message: &str,
) -> EvalResult<&'a List<'a>> {
    match ev.force(v)? {
        Value::List(l) => Ok(l),
        other => Err(with_frame(
            type_error("a list", &other, ev, span),
            message,
            span,
            None,
        )),
    }
}

/// Forces a value expected to be a set, as Nix's `forceAttrs` with a context: the frame
/// `message` is added to the type error only (an error while forcing gets none).
pub(crate) fn attrs_in<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    span: Span,
    message: &str,
) -> EvalResult<&'a Attrs<'a>> {
    match ev.force(v)? {
        Value::Attrs(a) => Ok(a),
        other => Err(with_frame(
            type_error("a set", &other, ev, span),
            message,
            span,
            None,
        )),
    }
}

/// Forces a value expected to be a string, as Nix's `forceString` with a context: the frame
/// `message` is added to any error, forcing included.
pub(crate) fn string_in<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    span: Span,
    message: &str,
) -> EvalResult<&'a NixString<'a>> {
    string(ev, v, span).map_err(|e| with_frame(e, message, span, None))
}

/// Forces a string that may not refer to the store, as Nix's `forceStringNoCtx`.
pub(crate) fn string_no_ctx<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    span: Span,
) -> EvalResult<&'a NixString<'a>> {
    let s = string(ev, v, span)?;
    match s.context.first() {
        Some(c) => Err(no_context_error(s.bytes, c)),
        None => Ok(s),
    }
}

/// Nix's error for a string with a context where none is allowed, naming its first element
/// as Nix writes context elements (a path's base name; `=` and a derivation for all its
/// outputs; `!output!` and a derivation for one output). Nix gives it no position, only
/// the caller's frame.
#[cold]
#[inline(never)]
pub(crate) fn no_context_error(bytes: &[u8], c: &crate::value::ContextElem<'_>) -> Box<EvalError> {
    use crate::value::ContextElem;
    let base = |p: &[u8]| {
        let b = p.rsplit(|&c| c == b'/').next().unwrap_or(p);
        String::from_utf8_lossy(b).into_owned()
    };
    let shown = match c {
        ContextElem::Opaque(p) => base(p),
        ContextElem::AllOutputs(drv) => format!("={}", base(drv)),
        ContextElem::Built { output, drv } => {
            format!("!{}!{}", String::from_utf8_lossy(output), base(drv))
        }
    };
    EvalError::new(
        crate::eval_error::ErrorKind::Message(format!(
            "the string '{}' is not allowed to refer to a store path (such as '{shown}')",
            String::from_utf8_lossy(bytes)
        )),
        None,
    )
}

/// Forces an argument expected to be a string (no coercion).
pub(crate) fn string<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    span: Span,
) -> EvalResult<&'a NixString<'a>> {
    match ev.force(v)? {
        Value::String(s) => Ok(s),
        other => Err(type_error("a string", &other, ev, span)),
    }
}

/// Marks an error met in evaluating argument `index` of the builtin being called, for the
/// builtin's call to add the frame its [`PrimOp`] names for that argument ("while evaluating
/// the second argument passed to builtins.map"), as Nix's `force*(v, pos, "…")` add theirs.
pub(crate) trait ArgResult: Sized {
    /// The frame goes on the argument's own failure only: a value of the wrong type or a
    /// coercion that failed, at the call (as `forceList`, `forceAttrs`, `coerceToString`).
    fn arg(self, index: usize) -> Self;
    /// The frame goes on any error, forcing the argument included (as `forceString`,
    /// `forceInt`, `forceFunction`).
    fn in_arg(self, index: usize) -> Self;
}

impl<T> ArgResult for EvalResult<T> {
    #[inline]
    fn arg(self, index: usize) -> Self {
        self.map_err(|e| mark_argument(e, ArgumentMark::OwnFailure(index)))
    }

    #[inline]
    fn in_arg(self, index: usize) -> Self {
        self.map_err(|e| mark_argument(e, ArgumentMark::AnyError(index)))
    }
}

/// Marks `e` as met in an argument of the builtin being called (see [`ArgResult`]).
#[cold]
#[inline(never)]
pub(crate) fn mark_argument(mut e: Box<EvalError>, mark: ArgumentMark) -> Box<EvalError> {
    match mark {
        ArgumentMark::OwnFailure(_) if !crate::arith::coercion_failed(&e) => {}
        _ => e.argument = Some(mark),
    }
    e
}

/// Forces an argument expected to be a function.
pub(crate) fn function<'a>(ev: &mut Eval<'a>, v: Value<'a>, span: Span) -> EvalResult<Value<'a>> {
    let f = ev.force(v)?;
    match f {
        Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_) => Ok(f),
        Value::Attrs(a) if a.get(ev.syms.functor).is_some() => Ok(f),
        other => Err(type_error("a function", &other, ev, span)),
    }
}

#[cfg(test)]
mod tests {
    /// Every builtin describes each of its arguments and says what it does, so a REPL's `:doc`
    /// can show it.
    #[test]
    fn every_builtin_carries_its_arguments_and_docs() {
        let mut names = std::collections::HashSet::new();
        for op in super::all() {
            assert!(names.insert(op.name), "{} is defined twice", op.name);
            assert_eq!(op.args.len(), op.arity, "{}", op.name);
            let params: Vec<_> = op.params().collect();
            let distinct: std::collections::HashSet<_> = params.iter().collect();
            assert_eq!(distinct.len(), params.len(), "{}: {params:?}", op.name);
            assert!(
                op.doc.ends_with('.') && op.doc.len() > 20,
                "{}: {:?}",
                op.name,
                op.doc
            );
            for frame in op.args.iter().filter_map(|a| a.frame) {
                assert!(frame.contains("passed to"), "{}: {frame}", op.name);
            }
        }
    }
}
