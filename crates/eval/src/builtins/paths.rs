//! Paths and the search path: `toPath`, `findFile`, and the debugging no-ops `break` and
//! `traceVerbose`.
//!
//! `<p>` lowers to `__findFile __nixPath "p"`, so `findFile` is what makes search paths
//! work; `__nixPath` (`builtins.nixPath`) comes from the `-I`/`NIX_PATH` settings and may be
//! shadowed by a `let`, as in Nix.

use std::path::Path;

use super::control::PathFrame;
use super::{list, string, ArgResult};
use crate::eval::{CoerceMode, Eval, EvalResult};
use crate::eval_error::{ErrorKind, EvalError};
use crate::lower::canon_path;
use crate::span::Span;
use crate::value::{PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "toPath",
        to_path,
        [
            "s" => "first argument passed to builtins.toPath",
        ],
        "The string `s`, which must be an absolute path, canonicalised (deprecated: a string, not a path).",
    ),
    prim!(
        "findFile",
        find_file,
        [
            "search-path" => "first argument passed to builtins.findFile",
            "lookup-path" => "second argument passed to builtins.findFile",
        ],
        "Looks `lookup-path` up in a search path such as `builtins.nixPath`, as `<lookup-path>` does.",
    ),
    prim!(
        "break",
        break_,
        ["v",],
        "Returns `v`; in a debugger, pauses evaluation there.",
    ),
    prim!(
        "traceVerbose",
        trace_verbose,
        ["e1", "e2",],
        "With `--trace-verbose`, does as `builtins.trace`; otherwise returns `e2` alone.",
    ),
];

/// `break v`: the debugger's breakpoint; without a debugger (Kiln has none) it returns `v`.
/// Nix returns the argument unforced, so an error forcing it has no frame of `break`'s call
/// (`Eval::builtin_error` adds none).
fn break_<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], _: Span) -> EvalResult<Value<'a>> {
    ev.force(args[0])
}

/// `traceVerbose msg v`: `trace` when the `trace-verbose` setting is on, else just `v`.
fn trace_verbose<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    if ev.settings.trace_verbose {
        return super::control::trace(ev, args, span);
    }
    ev.force(args[1])
}

/// `toPath s`: the canonical form of an absolute path, as a string (with `s`'s context).
fn to_path<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let (p, context) = super::control::coerce_to_path(ev, args[0], span, PathFrame::Argument(0))?;
    Ok(ev.new_string(&canon_path(&p), context))
}

/// `findFile searchPath lookup`: the first `path + suffix` that exists, where an entry
/// whose `prefix` (default empty) is `lookup` or starts it followed by `/` leaves the rest
/// as the suffix (canonicalised as if absolute, so `..` cannot climb out of the entry).
///
/// Relative entries are resolved against the working directory ([`crate::io::EvalIo::current_dir`]);
/// URL entries (`https://…`, `file://…`, `channel:NAME`) are downloaded and unpacked. Known
/// gaps: `flake:` entries are skipped, and symlinks in the result are not resolved.
/// `<nix/…>` falls back to the files Kiln ships (`/__corepkgs__`, as in Nix 2.8).
fn find_file<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    if ev.settings.pure_eval {
        let lookup = string(ev, args[1], span).arg(1)?.bytes;
        return Err(EvalError::new(
            ErrorKind::Message(format!(
                "cannot look up '<{}>' in pure evaluation mode (use '--impure' to override)",
                String::from_utf8_lossy(lookup)
            )),
            None,
        ));
    }
    let entries = list(ev, args[0], span).arg(0)?;
    let prefix_sym = ev.sym(b"prefix");
    let path_sym = ev.sym(b"path");
    let mut search = Vec::with_capacity(entries.elems.len());
    for e in entries.elems {
        let set = super::attrs_in(
            ev,
            *e,
            span,
            "while evaluating an element of the list passed to builtins.findFile",
        )?;
        let prefix = match set.get(prefix_sym) {
            Some(a) => string(ev, a.value, span)
                .map_err(|e| {
                    super::with_frame(
                        e,
                        "while evaluating the `prefix` attribute of an element of the list passed to builtins.findFile",
                        span,
                        None,
                    )
                })?
                .bytes,
            None => b"",
        };
        let Some(path) = set.get(path_sym) else {
            // Without a position, as Nix reports it.
            let mut e = EvalError::new(
                ErrorKind::MissingAttr {
                    name: "path".to_owned(),
                    suggestions: Vec::new(),
                },
                None,
            );
            e.add_trace("in an element of the __nixPath".to_owned(), None, false);
            return Err(e);
        };
        let path = ev.force(path.value)?;
        let path = ev
            .coerce_to_string(path, span, CoerceMode::PathSegment)
            .map_err(|e| {
                if crate::arith::coercion_failed(&e) {
                    super::with_frame(
                        e,
                        "while evaluating the `path` attribute of an element of the list passed to builtins.findFile",
                        span,
                        None,
                    )
                } else {
                    e
                }
            })?;
        let Value::String(path) = path else {
            unreachable!()
        };
        search.push((prefix, path.bytes));
    }
    let lookup = string(ev, args[1], span).arg(1)?.bytes;
    for (prefix, dir) in search {
        let Some(suffix) = suffix_if_match(prefix, lookup) else {
            continue;
        };
        let mut joined = if dir.starts_with(b"/") {
            dir.to_vec()
        } else if is_url(dir) {
            // Downloaded and unpacked as Nix does (a store path named `source`); an entry
            // that cannot be fetched is skipped, as Nix skips it with a warning.
            match fetch_entry(ev, dir) {
                Some(path) => path.into_bytes(),
                None => continue,
            }
        } else {
            // Relative to the working directory, as Nix resolves them at lookup.
            use std::os::unix::ffi::OsStrExt;
            let Some(cwd) = ev.io.current_dir() else {
                continue;
            };
            [cwd.as_os_str().as_bytes(), b"/", dir].concat()
        };
        joined.push(b'/');
        joined.extend_from_slice(&canon_path(&[b"/", suffix].concat()));
        let candidate = canon_path(&joined);
        let exists = {
            use std::os::unix::ffi::OsStrExt;
            let path = Path::new(std::ffi::OsStr::from_bytes(&candidate));
            // Under restrict-eval, looking is reading: a candidate out of bounds (or a link
            // leading out) is an error here, as in Nix.
            ev.check_access(path)?;
            ev.io.path_exists(path)
        };
        if exists {
            return Ok(ev.new_path(&candidate));
        }
    }
    // Nix's last search path entry: `nix` is the directory of the files it ships.
    if let Some(name) = lookup.strip_prefix(b"nix/") {
        let candidate = [crate::io::COREPKGS_DIR.as_bytes(), b"/", name].concat();
        let path = {
            use std::os::unix::ffi::OsStrExt;
            Path::new(std::ffi::OsStr::from_bytes(&candidate))
        };
        if crate::io::corepkg(path).is_some() {
            return Ok(ev.new_path(&candidate));
        }
    }
    // Kiln's own last entry: `kiln` is the directory of the Nix code it ships.
    if let Some(dir) = &ev.settings.kiln_dir {
        if let Some(suffix) = suffix_if_match(b"kiln", lookup) {
            use std::os::unix::ffi::OsStrExt;
            let mut joined = dir.as_os_str().as_bytes().to_vec();
            joined.push(b'/');
            joined.extend_from_slice(&canon_path(&[b"/", suffix].concat()));
            let candidate = canon_path(&joined);
            let path = Path::new(std::ffi::OsStr::from_bytes(&candidate));
            if ev.io.path_exists(path) {
                return Ok(ev.new_path(&candidate));
            }
        }
    }
    // Nix throws this one as a `ThrownError`: `tryEval <missing>` catches it.
    Err(EvalError::new(
        ErrorKind::Throw(format!(
            "file '{}' was not found in the Nix search path (add it using $NIX_PATH or -I)",
            String::from_utf8_lossy(lookup)
        )),
        Some(span),
    ))
}

/// The rest of `lookup` after `prefix`, when `prefix` is empty, all of it, or a leading
/// part followed by `/`.
fn suffix_if_match<'s>(prefix: &[u8], lookup: &'s [u8]) -> Option<&'s [u8]> {
    let n = prefix.len();
    let need_separator = n > 0 && n < lookup.len();
    if need_separator && lookup[n] != b'/' {
        return None;
    }
    if !lookup.starts_with(prefix) {
        return None;
    }
    Some(&lookup[if need_separator { n + 1 } else { n }..])
}

/// The store path a URL search path entry unpacks to (`channel:NAME` is the channel's
/// `nixexprs.tar.xz`); `None` for `flake:` entries and whatever cannot be fetched.
fn fetch_entry(ev: &mut Eval<'_>, entry: &[u8]) -> Option<String> {
    let entry = std::str::from_utf8(entry).ok()?;
    let url = match entry.strip_prefix("channel:") {
        Some(channel) => format!("https://nixos.org/channels/{channel}/nixexprs.tar.xz"),
        None if entry.starts_with("flake:") => return None,
        None => entry.to_owned(),
    };
    let req = crate::io::FetchRequest::Url {
        url,
        name: "source".to_owned(),
        unpack: true,
        recursive: true,
        expected: None,
    };
    let fetched = ev.io.fetch(&req).ok()?;
    Some(fetched.path.to_absolute(ev.io.store_dir()))
}

/// Whether a search path entry is a URL (fetched by Nix, skipped here) rather than a path.
fn is_url(entry: &[u8]) -> bool {
    entry.starts_with(b"channel:")
        || entry.starts_with(b"flake:")
        || entry.windows(3).position(|w| w == b"://").is_some_and(|i| {
            i > 0
                && entry[..i]
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'+')
        })
}

#[cfg(test)]
mod tests {
    use super::suffix_if_match;

    #[test]
    fn prefixes_match_whole_components() {
        assert_eq!(suffix_if_match(b"np", b"np/lib"), Some(&b"lib"[..]));
        assert_eq!(suffix_if_match(b"np", b"np"), Some(&b""[..]));
        assert_eq!(suffix_if_match(b"np", b"npx/lib"), None);
        assert_eq!(suffix_if_match(b"", b"a/b"), Some(&b"a/b"[..]));
    }
}
