//! Store paths from the evaluator: `toFile`, `path`, `filterSource`, `storePath`.
//!
//! Spec: the Nix manual's builtins reference, and Nix 2.8's behaviour (paths compared in
//! `crates/cli/tests/cli/instantiate.rs`); error messages use current Nix's wording. Everything
//! goes through [`crate::io::EvalIo`]: with a store the files are added, in read-only
//! evaluation their paths are only computed. A filter function is called here, for every entry
//! in the order Nix's NAR serialisation visits them (depth first, names sorted), and what it
//! accepts is handed to the I/O layer as a plain set of paths.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use kiln_formats::hash::{Hash, HashAlgo};
use kiln_formats::store_path::{make_fixed_output_path, FileIngestionMethod, StorePath};

use super::control::{coerce_to_path, PathFrame};
use super::{attrs, boolean, function, string, with_frame, ArgResult};
use crate::eval::{Eval, EvalResult};
use crate::eval_error::EvalError;
use crate::io::FileType;
use crate::span::Span;
use crate::value::{ContextElem, PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "toFile",
        to_file,
        [
            "name" => "first argument passed to builtins.toFile",
            "s" => "second argument passed to builtins.toFile",
        ],
        "Writes the string `s` to a store path named `name` and returns that path.",
    ),
    prim!(
        "path",
        path,
        [
            "args" => "argument passed to 'builtins.path'",
        ],
        "Adds `args.path` to the store, with an optional `name`, `filter`, `recursive` and expected `sha256`, and returns its store path.",
    ),
    prim!(
        "filterSource",
        filter_source,
        [
            "e1" => "first argument passed to builtins.filterSource",
            "e2" => "second argument (the path to filter) passed to 'builtins.filterSource'",
        ],
        "Adds the path `e2` to the store, keeping only the files for which `e1 path type` returns true.",
    ),
    prim!(
        "storePath",
        store_path,
        [
            "path" => "first argument passed to 'builtins.storePath'",
        ],
        "The store path `path` (or the one it lies in), as a string with it in its context.",
    ),
];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn os_path(bytes: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(bytes))
}

/// A string holding a store path, with the path as its context.
fn store_path_value<'a>(ev: &Eval<'a>, p: &StorePath) -> Value<'a> {
    let s = p.to_absolute(ev.io.store_dir());
    let bytes: &'a [u8] = ev.arena.alloc_slice_copy(s.as_bytes());
    ev.new_string(bytes, &[ContextElem::Opaque(bytes)])
}

/// `toFile name contents`: a text file in the store; the store paths in the contents' context
/// become its references, and outputs of derivations are refused.
fn to_file<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let name = string(ev, args[0], span).in_arg(0)?;
    let name = text(name.bytes);
    // A string, not anything that coerces to one.
    let contents = string(ev, args[1], span).in_arg(1)?;
    let mut refs = BTreeSet::new();
    for c in contents.context {
        let p = match c {
            ContextElem::Opaque(p) => p,
            ContextElem::AllOutputs(drv) => {
                return Err(refers_to_derivation(
                    &name,
                    &format!("={}", base(drv)),
                    span,
                ))
            }
            ContextElem::Built { output, drv } => {
                return Err(refers_to_derivation(
                    &name,
                    &format!("!{}!{}", text(output), base(drv)),
                    span,
                ))
            }
        };
        let p = StorePath::from_absolute(ev.io.store_dir(), &text(p))
            .map_err(|e| EvalError::msg(e.to_string(), span))?;
        refs.insert(p);
    }
    // Nix makes the path first and finds the name bad there, naming the path it would be.
    if let Some(problem) = super::store_name_problem(&name) {
        let path = text_path_base(ev.io.store_dir(), &name, contents.bytes, &refs);
        return Err(EvalError::msg(
            format!("path '{path}' is not a valid store path: {problem}"),
            span,
        ));
    }
    let p = ev
        .io
        .add_text(&name, contents.bytes, &refs)
        .map_err(|e| EvalError::msg(format!("adding '{name}' to the store: {e}"), span))?;
    Ok(store_path_value(ev, &p))
}

/// `<hash>-<name>` of the text path `toFile` would make, computed as the store's
/// `make_text_path` does but without checking the name (for the message about it).
fn text_path_base(
    store_dir: &str,
    name: &str,
    contents: &[u8],
    refs: &BTreeSet<StorePath>,
) -> String {
    let mut kind = "text".to_owned();
    for r in refs {
        kind.push(':');
        kind.push_str(&r.to_absolute(store_dir));
    }
    let inner = Hash::digest_bytes(HashAlgo::Sha256, contents);
    let fingerprint = format!("{kind}:sha256:{}:{store_dir}:{name}", inner.to_base16());
    let digest = Hash::digest_bytes(HashAlgo::Sha256, fingerprint.as_bytes());
    let folded = kiln_formats::hash::compress(digest.digest(), 20);
    format!("{}-{name}", kiln_formats::nixbase32::encode(&folded))
}

fn base(path: &[u8]) -> String {
    let t = text(path);
    t.rsplit('/').next().unwrap_or_default().to_owned()
}

fn refers_to_derivation(name: &str, what: &str, span: Span) -> Box<EvalError> {
    EvalError::msg(
        format!(
            "files created by builtins.toFile may not reference derivations, but {name} \
             references {what}"
        ),
        span,
    )
}

/// A directory being walked: its path and its entries still to visit (last first).
type DirWalk = (PathBuf, Vec<(Vec<u8>, FileType)>, usize);

/// Calls the filter on every entry below `root`, depth first in name order, returning the
/// accepted paths (a refused directory is not entered).
fn run_filter<'a>(
    ev: &mut Eval<'a>,
    filter: Value<'a>,
    root: &Path,
    span: Span,
) -> EvalResult<HashSet<PathBuf>> {
    use std::os::unix::ffi::OsStrExt;
    let mut accepted = HashSet::new();
    if ev.io.file_type(root).ok() != Some(FileType::Directory) {
        return Ok(accepted);
    }
    // A stack of directories whose sorted entries are being visited.
    let mut stack: Vec<DirWalk> = Vec::new();
    let mut entries = read_dir_sorted(ev, root, span)?;
    entries.reverse();
    stack.push((root.to_path_buf(), entries, 0));
    while let Some((dir, entries, _)) = stack.last_mut() {
        let Some((name, ft)) = entries.pop() else {
            stack.pop();
            continue;
        };
        let child = dir.join(std::ffi::OsStr::from_bytes(&name));
        let path_str = ev.new_str(child.as_os_str().as_bytes());
        let type_str = ev.new_str(ft.name().as_bytes());
        let r = ev.call_n(filter, &[path_str, type_str], span)?;
        let keep = boolean(ev, r, span).map_err(|e| {
            with_frame(
                e,
                "while evaluating the return value of the path filter function",
                span,
                None,
            )
        })?;
        if !keep {
            continue;
        }
        accepted.insert(child.clone());
        if ft == FileType::Directory {
            let mut entries = read_dir_sorted(ev, &child, span)?;
            entries.reverse();
            stack.push((child, entries, 0));
        }
    }
    Ok(accepted)
}

fn read_dir_sorted(
    ev: &mut Eval<'_>,
    dir: &Path,
    span: Span,
) -> EvalResult<Vec<(Vec<u8>, FileType)>> {
    let mut entries = ev
        .io
        .read_dir(dir)
        .map_err(|e| EvalError::msg(format!("reading directory '{}': {e}", dir.display()), span))?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// Adds `path` as `name`, filtered, and checks it against an expected hash.
fn add_path<'a>(
    ev: &mut Eval<'a>,
    path: &Path,
    name: &str,
    filter: Option<Value<'a>>,
    method: FileIngestionMethod,
    expected: Option<Hash>,
    span: Span,
) -> EvalResult<Value<'a>> {
    add_path_inner(ev, path, name, filter, method, expected, span).map_err(|e| {
        with_frame(
            e,
            &format!("while adding path '{}'", path.display()),
            span,
            None,
        )
    })
}

fn add_path_inner<'a>(
    ev: &mut Eval<'a>,
    path: &Path,
    name: &str,
    filter: Option<Value<'a>>,
    method: FileIngestionMethod,
    expected: Option<Hash>,
    span: Span,
) -> EvalResult<Value<'a>> {
    ev.check_access(path)?;
    if !ev.io.path_exists(path) {
        return Err(EvalError::msg(
            format!("path '{}' does not exist", path.display()),
            span,
        ));
    }
    let expected_path = match &expected {
        Some(h) => Some(
            make_fixed_output_path(ev.io.store_dir(), name, method, h)
                .map_err(|e| EvalError::msg(e.to_string(), span))?,
        ),
        None => None,
    };
    if let Some(p) = &expected_path {
        if ev.io.is_valid_path(p).unwrap_or(false) {
            return Ok(store_path_value(ev, p));
        }
    }
    let accepted = match filter {
        Some(f) => Some(run_filter(ev, f, path, span)?),
        None => None,
    };
    let pred = accepted.as_ref().map(|set| move |p: &Path| set.contains(p));
    let algo = expected.as_ref().map_or(HashAlgo::Sha256, Hash::algo);
    let res = ev
        .io
        .add_path(
            path,
            name,
            method,
            algo,
            pred.as_ref().map(|f| f as &dyn Fn(&Path) -> bool),
        )
        .map_err(|e| {
            EvalError::msg(
                format!("copying path '{}' to the store: {e}", path.display()),
                span,
            )
        })?;
    if let Some(p) = expected_path {
        if p != res {
            return Err(EvalError::msg(
                format!(
                    "store path mismatch in (possibly filtered) path added from '{}'",
                    path.display()
                ),
                span,
            ));
        }
    }
    Ok(store_path_value(ev, &res))
}

fn base_name(path: &[u8]) -> String {
    let trimmed = path.strip_suffix(b"/").unwrap_or(path);
    let base = match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    };
    text(base)
}

/// `filterSource filter path`.
fn filter_source<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let (p, _) = coerce_to_path(ev, args[1], span, PathFrame::Argument(1))?;
    let f = super::function(ev, args[0], span).in_arg(0)?;
    let name = base_name(&p);
    add_path(
        ev,
        os_path(&p),
        &name,
        Some(f),
        FileIngestionMethod::Recursive,
        None,
        span,
    )
}

/// `path { path; name ? baseNameOf path; filter ? null; recursive ? true; sha256 ? null; }`.
fn path<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let set = attrs(ev, args[0], span).arg(0)?;
    let mut path = None;
    let mut name = None;
    let mut filter = None;
    let mut method = FileIngestionMethod::Recursive;
    let mut expected = None;
    for (sym, value) in crate::print::sorted_attrs(ev, set) {
        let key = ev.interner.resolve(sym).to_vec();
        match key.as_slice() {
            b"path" => {
                let at = set.get(sym).and_then(|a| ev.pos_span(a.pos));
                let (p, _) = coerce_to_path(
                    ev,
                    value,
                    span,
                    PathFrame::Message(
                        "while evaluating the 'path' attribute passed to 'builtins.path'",
                        at,
                    ),
                )?;
                path = Some(p);
            }
            b"name" => {
                let s = path_attr(
                    ev,
                    set,
                    sym,
                    span,
                    "while evaluating the `name` attribute passed to builtins.path",
                    |ev, v, at| string(ev, v, at).map(|s| text(s.bytes)),
                )?;
                name = Some(s);
            }
            b"filter" => {
                filter = Some(path_attr(
                    ev,
                    set,
                    sym,
                    span,
                    "while evaluating the `filter` parameter passed to builtins.path",
                    function,
                )?)
            }
            b"recursive" => {
                let r = path_attr(
                    ev,
                    set,
                    sym,
                    span,
                    "while evaluating the `recursive` attribute passed to builtins.path",
                    boolean,
                )?;
                if !r {
                    method = FileIngestionMethod::Flat;
                }
            }
            b"sha256" => {
                let s = path_attr(
                    ev,
                    set,
                    sym,
                    span,
                    "while evaluating the `sha256` attribute passed to builtins.path",
                    |ev, v, at| string(ev, v, at).map(|s| text(s.bytes)),
                )?;
                expected = Some(
                    Hash::parse_any(&s, Some(HashAlgo::Sha256))
                        .map_err(|e| super::hashing::parse_error(e, span))?,
                );
            }
            // At the attribute, as Nix reports it.
            _ => {
                let at = set
                    .get(sym)
                    .and_then(|a| ev.pos_span(a.pos))
                    .unwrap_or(span);
                return Err(EvalError::msg(
                    format!("unsupported argument '{}' to 'builtins.path'", text(&key)),
                    at,
                ));
            }
        }
    }
    let Some(path) = path else {
        return Err(EvalError::msg(
            "missing required 'path' attribute in the first argument to 'builtins.path'",
            span,
        ));
    };
    let name = name.unwrap_or_else(|| base_name(&path));
    add_path(ev, os_path(&path), &name, filter, method, expected, span)
}

/// An attribute of `builtins.path`'s argument, forced by `get` as Nix forces it: the error
/// and the frame `message` at the attribute.
fn path_attr<'a, T>(
    ev: &mut Eval<'a>,
    set: &'a crate::value::Attrs<'a>,
    sym: crate::intern::Symbol,
    span: Span,
    message: &str,
    get: impl FnOnce(&mut Eval<'a>, Value<'a>, Span) -> EvalResult<T>,
) -> EvalResult<T> {
    let attr = set.get(sym).expect("an attribute of the set");
    let at = ev.pos_span(attr.pos).unwrap_or(span);
    get(ev, attr.value, at).map_err(|mut e| {
        e.add_trace(message.to_owned(), Some(at), false);
        e
    })
}

/// `storePath path`: a path already in the store, as a string with that path as context.
fn store_path<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let (p, _) = coerce_to_path(ev, args[0], span, PathFrame::Argument(0))?;
    let s = text(&p);
    let (sp, _) = StorePath::from_absolute_prefix(ev.io.store_dir(), &s)
        .map_err(|_| EvalError::msg(format!("path '{s}' is not in the Nix store"), span))?;
    if !ev.io.is_valid_path(&sp).unwrap_or(false) {
        return Err(EvalError::msg(
            format!("path '{}' is not valid", sp.to_absolute(ev.io.store_dir())),
            span,
        ));
    }
    let whole: &'a [u8] = ev.arena.alloc_slice_copy(&p);
    let ctx_path = sp.to_absolute(ev.io.store_dir());
    let ctx: &'a [u8] = ev.arena.alloc_slice_copy(ctx_path.as_bytes());
    Ok(ev.new_string(whole, &[ContextElem::Opaque(ctx)]))
}
