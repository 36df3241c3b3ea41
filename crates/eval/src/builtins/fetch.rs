//! The fetchers: `fetchurl`, `fetchTarball`, `fetchGit` and `fetchTree`.
//!
//! Spec: the Nix manual's builtins reference (`builtins.fetchurl`, `fetchTarball`, `fetchGit`,
//! `fetchTree`), with the attributes and messages of current Nix (2.26) where they differ from
//! Nix 2.8; the store paths are those both compute (compared in `crates/cli/tests/cli/fetch.rs`).
//! This file only checks and defaults the arguments and shapes the result: downloading,
//! unpacking, Git and the cache are behind [`crate::io::EvalIo::fetch`].

use std::path::PathBuf;

use kiln_formats::hash::{Hash, HashAlgo};
use kiln_formats::store_path::StorePath;

use super::{boolean, string, ArgResult};
use crate::eval::{type_error, CoerceMode, Eval, EvalResult};
use crate::eval_error::EvalError;
use crate::io::{FetchRequest, Fetched, HashMismatch};
use crate::report::Notice;
use crate::span::Span;
use crate::value::{Attr, ContextElem, PosIdx, PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "fetchurl",
        fetchurl,
        [
            "arg",
        ],
        "Downloads the URL `arg` (or `arg.url`, checked against `arg.sha256`) to the store and returns its path.",
    ),
    prim!(
        "fetchTarball",
        fetch_tarball,
        [
            "args",
        ],
        "Downloads and unpacks the tarball at the URL `args` (or `args.url`) into the store and returns its path.",
    ),
    prim!(
        "fetchGit",
        fetch_git,
        [
            "args",
        ],
        "Copies a revision of the Git repository at the URL `args` (or `args.url`, with `ref`, `rev`, `submodules`, …) to the store; returns its path and metadata.",
    ),
    prim!(
        "fetchTree",
        fetch_tree,
        [
            "input" => "argument passed to builtins.fetchTree",
        ],
        "Fetches the source tree that `input` (a set with a `type`, or a URL) describes into the store; returns its path and metadata.",
    ),
];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A string holding a store path, with the path as its context.
fn store_path_value<'a>(ev: &Eval<'a>, p: &StorePath) -> Value<'a> {
    let s = p.to_absolute(ev.io.store_dir());
    let bytes: &'a [u8] = ev.arena.alloc_slice_copy(s.as_bytes());
    ev.new_string(bytes, &[ContextElem::Opaque(bytes)])
}

/// Parses a `sha256` argument; an empty one stands for the all-zero hash, with Nix's warning.
fn parse_sha256(ev: &Eval<'_>, s: &str, span: Span) -> EvalResult<Hash> {
    if s.is_empty() {
        let zero = Hash::from_digest(HashAlgo::Sha256, &[0; 32])
            .map_err(|e| EvalError::msg(e.to_string(), span))?;
        ev.report(Notice::Warning(&format!(
            "found empty hash, assuming '{}'",
            zero.to_sri()
        )));
        return Ok(zero);
    }
    Hash::parse_any(s, Some(HashAlgo::Sha256)).map_err(|e| EvalError::msg(e.to_string(), span))
}

/// A string argument without context (a URL).
fn plain_string<'a>(ev: &mut Eval<'a>, v: Value<'a>, span: Span) -> EvalResult<String> {
    Ok(text(string(ev, v, span)?.bytes))
}

/// The last component of a URL, query included, as `baseNameOf` takes it.
fn url_base_name(url: &str) -> String {
    let trimmed = url.strip_suffix('/').unwrap_or(url);
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

fn fetch_error(e: std::io::Error, span: Span) -> Box<EvalError> {
    EvalError::msg(e.to_string(), span)
}

/// What `fetchurl` and `fetchTarball` share: `url` or `{ url; sha256 ? ; name ? ; }`.
fn fetch_url<'a>(
    ev: &mut Eval<'a>,
    arg: Value<'a>,
    who: &str,
    unpack: bool,
    span: Span,
) -> EvalResult<Fetched> {
    let mut url = None;
    let mut name = None;
    let mut expected = None;
    let arg = ev.force(arg)?;
    match arg {
        Value::Attrs(set) => {
            for (sym, value) in crate::print::sorted_attrs(ev, set) {
                let key = text(ev.interner.resolve(sym));
                match key.as_str() {
                    "url" => url = Some(plain_string(ev, value, span)?),
                    "sha256" => {
                        let s = plain_string(ev, value, span)?;
                        expected = Some(parse_sha256(ev, &s, span)?);
                    }
                    "name" => name = Some(plain_string(ev, value, span)?),
                    _ => {
                        return Err(EvalError::msg(
                            format!("unsupported argument '{key}' to '{who}'"),
                            span,
                        ))
                    }
                }
            }
        }
        other => {
            let s = super::string_in(ev, other, span, "while evaluating the url we should fetch")?;
            url = Some(text(s.bytes));
        }
    }
    let Some(url) = url else {
        return Err(EvalError::msg("'url' argument required", span));
    };
    let name_passed = name.is_some();
    let name = name.unwrap_or_else(|| {
        if unpack {
            "source".to_owned()
        } else {
            url_base_name(&url)
        }
    });
    // Checked before anything is downloaded, with Nix's advice for each way of calling.
    if let Some(problem) = super::store_name_problem(&name) {
        let advice = if name_passed {
            format!("Please change the value for the 'name' attribute passed to '{who}', so that it can create a valid store path.")
        } else if matches!(arg, Value::Attrs(_)) {
            format!("Please add a valid 'name' attribute to the argument for '{who}', so that it can create a valid store path.")
        } else {
            // (Nix's message has the two spaces.)
            format!("Please pass an attribute set with 'url' and 'name' attributes to '{who}',  so that it can create a valid store path.")
        };
        return Err(EvalError::msg(
            format!("invalid store path name when fetching URL '{url}': {problem}. {advice}"),
            span,
        ));
    }
    // A pure evaluation may only fetch what a hash pins down.
    if ev.settings.pure_eval && expected.is_none() {
        return Err(EvalError::msg(
            format!("in pure evaluation mode, '{who}' requires a 'sha256' argument"),
            span,
        ));
    }
    let req = FetchRequest::Url {
        url,
        name,
        unpack,
        recursive: unpack,
        expected,
    };
    ev.io.fetch(&req).map_err(|e| fetch_error(e, span))
}

/// `fetchurl url` or `fetchurl { url; sha256 ? ; name ? baseNameOf url; }`: the file, flat.
fn fetchurl<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let res = fetch_url(ev, args[0], "fetchurl", false, span)?;
    Ok(store_path_value(ev, &res.path))
}

/// `fetchTarball url` or `fetchTarball { url; sha256 ? ; name ? "source"; }`: the unpacked
/// archive, recursive.
fn fetch_tarball<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let res = fetch_url(ev, args[0], "fetchTarball", true, span)?;
    Ok(store_path_value(ev, &res.path))
}

/// The Git request both `fetchGit` and `fetchTree { type = "git"; }` make.
struct GitArgs {
    url: Option<String>,
    name: Option<String>,
    git_ref: Option<String>,
    rev: Option<String>,
    submodules: bool,
    shallow: Option<bool>,
    all_refs: bool,
    nar_hash: Option<Hash>,
}

impl GitArgs {
    fn new() -> Self {
        GitArgs {
            url: None,
            name: None,
            git_ref: None,
            rev: None,
            submodules: false,
            shallow: None,
            all_refs: false,
            nar_hash: None,
        }
    }

    /// Takes one attribute; `false` when it is not a Git attribute.
    fn set<'a>(
        &mut self,
        ev: &mut Eval<'a>,
        key: &str,
        value: Value<'a>,
        span: Span,
    ) -> EvalResult<bool> {
        match key {
            "url" => self.url = Some(url_arg(ev, value, span)?),
            "ref" => self.git_ref = Some(plain_string(ev, value, span)?),
            "rev" => {
                let rev = plain_string(ev, value, span)?;
                if rev.len() != 40 || !rev.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(EvalError::msg(
                        format!("hash '{rev}' has wrong length for hash algorithm 'sha1'"),
                        span,
                    ));
                }
                self.rev = Some(rev.to_ascii_lowercase());
            }
            "submodules" => self.submodules = boolean(ev, value, span)?,
            "shallow" => self.shallow = Some(boolean(ev, value, span)?),
            "allRefs" => self.all_refs = boolean(ev, value, span)?,
            "narHash" => {
                let s = plain_string(ev, value, span)?;
                self.nar_hash = Some(parse_nar_hash(&s, span)?);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn request(self, default_shallow: bool, span: Span) -> EvalResult<FetchRequest> {
        let Some(url) = self.url else {
            return Err(EvalError::msg("'url' argument required", span));
        };
        if let Some(r) = &self.git_ref {
            if !valid_ref(r) {
                return Err(EvalError::msg(
                    format!("invalid Git branch/tag name '{r}'"),
                    span,
                ));
            }
        }
        Ok(FetchRequest::Git {
            url,
            name: self.name.unwrap_or_else(|| "source".to_owned()),
            git_ref: self.git_ref,
            rev: self.rev,
            submodules: self.submodules,
            shallow: self.shallow.unwrap_or(default_shallow),
            all_refs: self.all_refs,
            nar_hash: self.nar_hash,
        })
    }
}

/// A ref name Git would accept (the rules of `git check-ref-format`, roughly as Nix checks).
fn valid_ref(r: &str) -> bool {
    !r.is_empty()
        && !r.starts_with('-')
        && !r.starts_with('/')
        && !r.ends_with('/')
        && !r.ends_with('.')
        && !r.ends_with(".lock")
        && !r.contains("..")
        && !r.contains("@{")
        && !r.contains("//")
        && !r
            .bytes()
            .any(|b| b < 0x20 || b == 0x7f || b" ~^:?*[\\".contains(&b))
}

fn parse_nar_hash(s: &str, span: Span) -> EvalResult<Hash> {
    let h = Hash::parse_any(s, None).map_err(|e| EvalError::msg(e.to_string(), span))?;
    if h.algo() != HashAlgo::Sha256 {
        return Err(EvalError::msg(
            format!("narHash must use SHA-256, not '{s}'"),
            span,
        ));
    }
    Ok(h)
}

/// A repository URL: a string, or a path (taken as it is, not copied to the store).
fn url_arg<'a>(ev: &mut Eval<'a>, v: Value<'a>, span: Span) -> EvalResult<String> {
    let v = ev.force(v)?;
    if let Value::Path(p) = v {
        return Ok(text(p.bytes));
    }
    let s = ev.coerce_to_string(v, span, CoerceMode::Interpolation)?;
    let Value::String(s) = s else {
        unreachable!("coerce_to_string returns a string")
    };
    Ok(text(s.bytes))
}

/// `fetchGit url` or `fetchGit { url; ref ? ; rev ? ; name ? "source"; submodules ? false;
/// shallow ? false; allRefs ? false; }`.
fn fetch_git<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let mut git = GitArgs::new();
    match ev.force(args[0])? {
        Value::Attrs(set) => {
            for (sym, value) in crate::print::sorted_attrs(ev, set) {
                let key = text(ev.interner.resolve(sym));
                if key == "name" {
                    git.name = Some(plain_string(ev, value, span)?);
                } else if key == "narHash" || !git.set(ev, &key, value, span)? {
                    return Err(EvalError::msg(
                        format!("input attribute '{key}' not supported by scheme 'git'"),
                        span,
                    ));
                }
            }
        }
        other => {
            git.url = Some(url_arg(ev, other, span).map_err(|e| {
                if crate::arith::coercion_failed(&e) {
                    super::with_frame(
                        e,
                        "while evaluating the first argument passed to the fetcher",
                        span,
                        None,
                    )
                } else {
                    e
                }
            })?)
        }
    }
    let req = git.request(false, span)?;
    let res = ev.io.fetch(&req).map_err(|e| fetch_error(e, span))?;
    git_result(ev, &req, &res, true)
}

/// `fetchTree { type; … }`: `file`, `tarball`, `git` and `path` inputs, with the attributes
/// current Nix returns for each.
fn fetch_tree<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let set = match ev.force(args[0])? {
        Value::Attrs(set) => set,
        Value::String(_) => {
            return Err(EvalError::msg(
                "passing a string argument to 'fetchTree' requires the 'flakes' experimental \
                 feature",
                span,
            ))
        }
        other => return Err(type_error("a set", &other, ev, span)).arg(0),
    };
    let type_sym = ev.sym(b"type");
    let Some(ty) = set.get(type_sym) else {
        return Err(EvalError::msg(
            "attribute 'type' is missing in call to 'fetchTree'",
            span,
        ));
    };
    let ty = plain_string(ev, ty.value, span)?;
    let entries = crate::print::sorted_attrs(ev, set);
    let unsupported = |key: &str| {
        EvalError::msg(
            format!("attribute '{key}' isn’t supported in call to 'fetchTree'"),
            span,
        )
    };
    match ty.as_str() {
        "file" | "tarball" => {
            let mut url = None;
            let mut nar_hash = None;
            for (sym, value) in entries {
                let key = text(ev.interner.resolve(sym));
                match key.as_str() {
                    "type" => {}
                    "url" => url = Some(plain_string(ev, value, span)?),
                    "narHash" => {
                        let s = plain_string(ev, value, span)?;
                        nar_hash = Some(parse_nar_hash(&s, span)?);
                    }
                    _ => return Err(unsupported(&key)),
                }
            }
            let Some(url) = url else {
                return Err(EvalError::msg(
                    format!("attribute 'url' is missing in call to 'fetchTree' ({ty} input)"),
                    span,
                ));
            };
            let unpack = ty == "tarball";
            // A tarball's NAR hash is the hash of its fixed-output path; a file's is checked
            // after the fetch.
            let req = FetchRequest::Url {
                url: url.clone(),
                name: "source".to_owned(),
                unpack,
                recursive: true,
                expected: if unpack { nar_hash } else { None },
            };
            let res = ev.io.fetch(&req).map_err(|e| tree_error(&url, e, span))?;
            if let Some(h) = &nar_hash {
                if *h != res.nar_hash {
                    return Err(nar_hash_mismatch(&url, h, &res.nar_hash, span));
                }
            }
            let mut out = vec![
                ("outPath", store_path_value(ev, &res.path)),
                ("narHash", ev.new_str(res.nar_hash.to_sri().as_bytes())),
            ];
            if unpack {
                push_last_modified(ev, &mut out, res.last_modified.unwrap_or(0));
            }
            Ok(make_attrs(ev, out))
        }
        "git" => {
            let mut git = GitArgs::new();
            for (sym, value) in entries {
                let key = text(ev.interner.resolve(sym));
                if key != "type" && !git.set(ev, &key, value, span)? {
                    return Err(unsupported(&key));
                }
            }
            let default_shallow = git.git_ref.is_some() || git.rev.is_some();
            let req = git.request(default_shallow, span)?;
            let url = match &req {
                FetchRequest::Git { url, .. } => url.clone(),
                _ => String::new(),
            };
            let res = ev.io.fetch(&req).map_err(|e| tree_error(&url, e, span))?;
            git_result(ev, &req, &res, false)
        }
        "path" => {
            let mut path = None;
            let mut nar_hash = None;
            for (sym, value) in entries {
                let key = text(ev.interner.resolve(sym));
                match key.as_str() {
                    "type" => {}
                    "path" => {
                        let p = super::control::path_arg(ev, value, span)?;
                        use std::os::unix::ffi::OsStringExt;
                        path = Some(PathBuf::from(std::ffi::OsString::from_vec(p)));
                    }
                    "narHash" => {
                        let s = plain_string(ev, value, span)?;
                        nar_hash = Some(parse_nar_hash(&s, span)?);
                    }
                    _ => return Err(unsupported(&key)),
                }
            }
            let Some(path) = path else {
                return Err(EvalError::msg(
                    "attribute 'path' is missing in call to 'fetchTree' (path input)",
                    span,
                ));
            };
            let shown = path.display().to_string();
            let req = FetchRequest::Path {
                path,
                name: "source".to_owned(),
                nar_hash,
            };
            let res = ev.io.fetch(&req).map_err(|e| tree_error(&shown, e, span))?;
            let mut out = vec![
                ("outPath", store_path_value(ev, &res.path)),
                ("narHash", ev.new_str(res.nar_hash.to_sri().as_bytes())),
            ];
            push_last_modified(ev, &mut out, res.last_modified.unwrap_or(0));
            Ok(make_attrs(ev, out))
        }
        _ => Err(EvalError::msg(
            format!("input type '{ty}' is not supported by 'fetchTree'"),
            span,
        )),
    }
}

/// A `fetchTree` failure: a hash mismatch is worded as current Nix words a wrong `narHash`.
fn tree_error(input: &str, e: std::io::Error, span: Span) -> Box<EvalError> {
    match e.get_ref().and_then(|e| e.downcast_ref::<HashMismatch>()) {
        Some(m) => nar_hash_mismatch(input, &m.expected, &m.got, span),
        None => fetch_error(e, span),
    }
}

/// Current Nix's message for an input whose `narHash` is not what was fetched.
fn nar_hash_mismatch(url: &str, expected: &Hash, got: &Hash, span: Span) -> Box<EvalError> {
    EvalError::msg(
        format!(
            "NAR hash mismatch in input '{url}', expected '{}' but got '{}'",
            expected.to_sri(),
            got.to_sri()
        ),
        span,
    )
}

/// The attributes of a Git fetch. `fetchGit` reports a dirty tree with an all-zero `rev` and
/// `revCount = 0` besides `dirtyRev`, and `revCount = 0` for a shallow fetch; `fetchTree`
/// leaves those out.
fn git_result<'a>(
    ev: &mut Eval<'a>,
    req: &FetchRequest,
    res: &Fetched,
    fetch_git: bool,
) -> EvalResult<Value<'a>> {
    let submodules = matches!(
        req,
        FetchRequest::Git {
            submodules: true,
            ..
        }
    );
    let mut out = vec![
        ("outPath", store_path_value(ev, &res.path)),
        ("narHash", ev.new_str(res.nar_hash.to_sri().as_bytes())),
        ("submodules", Value::Bool(submodules)),
    ];
    push_last_modified(ev, &mut out, res.last_modified.unwrap_or(0));
    if let Some(dirty) = &res.dirty_rev {
        if let FetchRequest::Git { url, .. } = req {
            let dir = url.strip_prefix("git+").unwrap_or(url);
            let dir = dir.strip_prefix("file://").unwrap_or(dir);
            ev.report(Notice::Warning(&format!("Git tree '{dir}' is dirty")));
        }
        let short = format!("{}-dirty", &dirty[..7.min(dirty.len())]);
        out.push(("dirtyRev", ev.new_str(dirty.as_bytes())));
        out.push(("dirtyShortRev", ev.new_str(short.as_bytes())));
    }
    let rev = match (&res.rev, fetch_git) {
        (Some(rev), _) => Some(rev.clone()),
        (None, true) => Some("0".repeat(40)),
        (None, false) => None,
    };
    if let Some(rev) = rev {
        out.push(("shortRev", ev.new_str(&rev.as_bytes()[..7.min(rev.len())])));
        out.push(("rev", ev.new_str(rev.as_bytes())));
        match (res.rev_count, fetch_git) {
            (Some(n), _) => out.push(("revCount", Value::Int(n as i64))),
            (None, true) => out.push(("revCount", Value::Int(0))),
            (None, false) => {}
        }
    }
    Ok(make_attrs(ev, out))
}

fn push_last_modified<'a>(ev: &Eval<'a>, out: &mut Vec<(&'static str, Value<'a>)>, t: i64) {
    out.push(("lastModified", Value::Int(t)));
    out.push(("lastModifiedDate", ev.new_str(utc_stamp(t).as_bytes())));
}

fn make_attrs<'a>(ev: &mut Eval<'a>, entries: Vec<(&'static str, Value<'a>)>) -> Value<'a> {
    let attrs = entries
        .into_iter()
        .map(|(name, value)| Attr {
            name: ev.sym(name.as_bytes()),
            pos: PosIdx::NONE,
            value,
        })
        .collect();
    ev.new_attrs(attrs)
}

/// `%Y%m%d%H%M%S` of a Unix time, in UTC (Nix's `lastModifiedDate`).
fn utc_stamp(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (the proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps_match_nix() {
        assert_eq!(utc_stamp(1_577_923_200), "20200102000000");
        assert_eq!(utc_stamp(1_795_609_069), "20261125121749");
        assert_eq!(utc_stamp(0), "19700101000000");
        assert_eq!(utc_stamp(951_782_400), "20000229000000");
    }

    #[test]
    fn url_base_names_keep_the_query() {
        assert_eq!(url_base_name("file:///tmp/f.txt?x=1"), "f.txt?x=1");
        assert_eq!(url_base_name("http://h/a/b/"), "b");
    }

    #[test]
    fn refs_are_checked() {
        assert!(valid_ref("main"));
        assert!(valid_ref("refs/heads/main"));
        assert!(!valid_ref("a..b"));
        assert!(!valid_ref("-x"));
        assert!(!valid_ref("a b"));
    }
}
