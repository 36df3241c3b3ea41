//! Evaluation sessions: a fresh evaluator over a store, on a thread with a large stack, with
//! the steps every command and library shares (load a source, follow `-A` paths, auto-call,
//! find the derivations in a value) returning typed values.
//!
//! [`evaluate`] runs a closure against an [`Evaluation`]: the `Eval` (its arena lives exactly
//! as long as the closure) and the store it writes to, if any. Whatever the closure returns
//! leaves the thread; an evaluation error comes back as an [`EvalFailure`], the error with the
//! source map its spans point into, so the caller can render it (file:line:col, code frame).
//!
//! The thread's stack is address space only, committed on use, so deep Nix recursion meets the
//! `max-call-depth` error, never a crashed process.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_eval::report::{Notice, Reporter};
use kiln_eval::value::{Attr, Attrs};
use kiln_eval::{
    Bump, CoerceMode, ErrorKind, Eval, EvalError, EvalResult, EvalSettings, FileId, SourceMap,
    Span, Value,
};
use kiln_fetch::FetchSettings;
use kiln_formats::store_path::StorePath;
use kiln_realise::{Goal, OutputsSpec};
use kiln_store::{LocalStore, StoreError, StoreLocation};

/// Stack of the evaluation thread.
const EVAL_STACK: usize = 1 << 30;

/// The size of the evaluation arena's first chunk. It is only address space until touched, and
/// being one large block, most of it can be backed by huge pages: a small evaluation then takes
/// a few page faults instead of one per 4 KiB of values.
const ARENA_FIRST_CHUNK: usize = 64 << 20;

/// Where the expression comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// An expression given as text (`--expr`/`-E`), relative paths resolved against the
    /// working directory.
    Expr(String),
    /// A file (or a directory holding `default.nix`).
    File(PathBuf),
    /// Standard input (`-`), already read; named `«stdin»` in messages.
    Stdin(String),
}

/// An argument for auto-calling.
#[derive(Debug, Clone)]
pub enum AutoArg {
    /// A Nix expression (`--arg NAME EXPR`).
    Expr(String),
    /// A string (`--argstr NAME STRING`, `--arg-from-file NAME PATH`).
    Str(String),
}

/// Where an evaluation's store writes go.
#[derive(Debug, Clone)]
pub enum StoreMode {
    /// Nix's read-only mode: store paths are computed, nothing is written, except fetches,
    /// which go to the store at this root (opened only when something is fetched).
    ReadOnly {
        /// The root fetches go to.
        fetch_root: PathBuf,
    },
    /// Sources, `toFile` texts and `.drv` files are added to the store at this root.
    Write {
        /// The store's root.
        root: PathBuf,
    },
}

/// Everything an evaluation session is made of.
#[derive(Clone)]
pub struct EvalConfig {
    /// The language's settings (search path, `pure-eval`, …).
    pub settings: EvalSettings,
    /// Where store writes go.
    pub store: StoreMode,
    /// The fetchers' cache and `tarball-ttl`.
    pub fetch: FetchSettings,
    /// Who hears the evaluation's traces and warnings, as they happen (`None`: nobody).
    pub reporter: Option<Arc<dyn Reporter + Send + Sync>>,
}

/// A shared reporter, as the evaluator takes one.
struct SharedReporter(Arc<dyn Reporter + Send + Sync>);

impl Reporter for SharedReporter {
    fn report(&self, notice: Notice<'_>) {
        self.0.report(notice)
    }
}

/// An evaluation that failed: the error and the sources its spans point into.
pub struct EvalFailure {
    /// The error, with its trace.
    pub error: Box<EvalError>,
    /// The files and strings the evaluation read, for code frames.
    pub sources: SourceMap,
}

impl std::fmt::Debug for EvalFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalFailure")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl EvalFailure {
    /// Whether Nix reports this error as a usage error (an unknown hash algorithm, …).
    pub fn is_usage(&self) -> bool {
        matches!(self.error.kind, ErrorKind::Usage(_))
    }
}

/// What can go wrong in a session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The evaluation failed; render it with its source map.
    #[error("{}", .0.error.kind)]
    Eval(EvalFailure),
    /// The store to write into could not be opened.
    #[error("opening the store at '{}'", root.display())]
    OpenStore {
        /// Its root.
        root: PathBuf,
        /// Why.
        #[source]
        source: Box<StoreError>,
    },
    /// The evaluation thread could not start, or panicked.
    #[error("{0}")]
    Thread(&'static str),
}

/// One evaluation: the evaluator and the store it writes to.
pub struct Evaluation<'a> {
    /// The evaluator.
    pub ev: Eval<'a>,
    /// The store, in [`StoreMode::Write`].
    pub store: Option<&'a LocalStore>,
}

/// Runs `f` against a fresh evaluator made from `config`, on a thread with a large stack.
pub fn evaluate<T, F>(config: EvalConfig, f: F) -> Result<T, SessionError>
where
    T: Send,
    F: for<'a> FnOnce(&mut Evaluation<'a>) -> EvalResult<T> + Send,
{
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("eval".into())
            .stack_size(EVAL_STACK)
            .spawn_scoped(scope, move || run(config, f))
            .map_err(|_| SessionError::Thread("starting the evaluation thread failed"))?
            .join()
            .map_err(|_| SessionError::Thread("the evaluation thread panicked"))?
    })
}

fn run<T, F>(config: EvalConfig, f: F) -> Result<T, SessionError>
where
    F: for<'a> FnOnce(&mut Evaluation<'a>) -> EvalResult<T>,
{
    let store = match &config.store {
        StoreMode::Write { root } => Some(
            LocalStore::open(StoreLocation::new(root.clone())).map_err(|source| {
                SessionError::OpenStore {
                    root: root.clone(),
                    source: Box::new(source),
                }
            })?,
        ),
        StoreMode::ReadOnly { .. } => None,
    };
    let io: Box<dyn kiln_eval::io::EvalIo + '_> = match (&store, &config.store) {
        (Some(store), _) => Box::new(crate::StoreIo::new(store, config.fetch.clone())),
        (None, StoreMode::ReadOnly { fetch_root }) => Box::new(crate::ReadOnlyIo::new(
            fetch_root.clone(),
            config.fetch.clone(),
        )),
        (None, StoreMode::Write { .. }) => unreachable!("a writable store was opened above"),
    };
    let arena = Bump::with_capacity(ARENA_FIRST_CHUNK);
    let mut ev = Eval::new(&arena, io, config.settings);
    if let Some(r) = config.reporter {
        ev.set_reporter(Box::new(SharedReporter(r)));
    }
    let mut session = Evaluation {
        ev,
        store: store.as_ref(),
    };
    f(&mut session).map_err(|error| {
        SessionError::Eval(EvalFailure {
            error,
            sources: std::mem::take(&mut session.ev.sources),
        })
    })
}

/// A span that points nowhere (a value the session itself asks for).
fn nowhere() -> Span {
    Span::new(FileId(u32::MAX), 0, 0)
}

fn message(m: String) -> Box<EvalError> {
    EvalError::new(ErrorKind::Message(m), None)
}

/// One output of a derivation found in a value: what `nix-instantiate` prints (`drv` or
/// `drv!output`) and what `nix-build` builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrvOutput {
    /// The `.drv` file.
    pub drv_path: StorePath,
    /// The selected output (`outputName`).
    pub output: String,
}

impl DrvOutput {
    /// The goal that realises this output.
    pub fn goal(&self) -> Goal {
        Goal::Drv {
            drv: self.drv_path.clone(),
            outputs: OutputsSpec::Names([self.output.clone()].into()),
        }
    }

    /// `nix-instantiate`'s line: the `.drv` path, with `!output` unless it is `out`.
    pub fn to_line(&self, store_dir: &str) -> String {
        let mut s = self.drv_path.to_absolute(store_dir);
        if self.output != "out" {
            s.push('!');
            s.push_str(&self.output);
        }
        s
    }
}

impl<'a> Evaluation<'a> {
    /// Evaluates `source` to weak head normal form; relative paths are resolved against `cwd`.
    pub fn load(&mut self, source: &Source, cwd: &Path) -> EvalResult<Value<'a>> {
        let ev = &mut self.ev;
        match source {
            Source::Expr(e) => ev.eval_string(e.as_bytes(), cwd),
            Source::Stdin(e) => {
                let ir = ev.compile("«stdin»", e.as_bytes(), cwd)?;
                let env = ev.base_env();
                ev.eval(ir, env)
            }
            Source::File(f) => ev.eval_file(&cwd.join(f)),
        }
    }

    /// The auto-call arguments as one attribute set (expressions evaluated lazily against
    /// `cwd`).
    pub fn auto_args(&mut self, args: &[(String, AutoArg)], cwd: &Path) -> EvalResult<Value<'a>> {
        let ev = &mut self.ev;
        let mut attrs = Vec::new();
        for (name, arg) in args {
            let value = match arg {
                AutoArg::Expr(e) => ev.eval_string(e.as_bytes(), cwd)?,
                AutoArg::Str(s) => ev.new_str(s.as_bytes()),
            };
            let name = ev.sym(name.as_bytes());
            attrs.push(Attr::new(name, value));
        }
        Ok(ev.new_attrs(attrs))
    }

    /// Calls a function whose parameter is a set pattern with the auto-call arguments, as
    /// `nix-instantiate` does; other values are returned forced, as they are.
    pub fn auto_call(&mut self, v: Value<'a>, args: Value<'a>) -> EvalResult<Value<'a>> {
        let ev = &mut self.ev;
        let v = ev.force(v)?;
        let Value::Lambda(c) = v else { return Ok(v) };
        let kiln_eval::ir::ParamIr::Formals { formals, .. } = &c.lambda.param else {
            return Ok(v);
        };
        let Value::Attrs(given) = args else {
            return Ok(v);
        };
        let mut pass = Vec::new();
        for f in formals.iter() {
            match given.get(f.name) {
                Some(a) => pass.push(*a),
                None if f.default.is_some() => {}
                None => {
                    return Err(EvalError::new(
                        ErrorKind::Message(format!(
                            "cannot evaluate a function that has an argument without a value ('{}')\n{MISSING_ARGUMENT_HELP}",
                            ev.interner.name(f.name)
                        )),
                        Some(f.span),
                    ))
                }
            }
        }
        let arg = ev.new_attrs(pass);
        let r = ev.call(v, arg, Some(c.lambda.span))?;
        ev.force(r)
    }

    /// Follows an `-A` path such as `a.b.0`, auto-calling each value before selecting from it
    /// (the value selected last is not called here). The empty path is `root` itself.
    pub fn select(
        &mut self,
        root: Value<'a>,
        path: &str,
        args: Value<'a>,
    ) -> EvalResult<Value<'a>> {
        let mut v = root;
        if path.is_empty() {
            return Ok(v);
        }
        for part in split_attr_path(path)? {
            let part = part.as_str();
            v = self.auto_call(v, args)?;
            let ev = &mut self.ev;
            v = match v {
                Value::List(l) if part.parse::<usize>().is_ok() => {
                    let i = part.parse::<usize>().expect("checked");
                    match l.elems.get(i) {
                        Some(e) => ev.force(*e)?,
                        None => {
                            return Err(message(format!(
                                "list index {i} in selection path '{path}' is out of range"
                            )))
                        }
                    }
                }
                Value::Attrs(a) => {
                    let sym = ev.sym(part.as_bytes());
                    match a.get(sym) {
                        Some(attr) => ev.force(attr.value)?,
                        None => {
                            let mut m =
                                format!("attribute '{part}' in selection path '{path}' not found");
                            let close = kiln_eval::print::suggestions(ev, a, sym);
                            if !close.is_empty() {
                                m.push_str("\nDid you mean ");
                                m.push_str(&kiln_eval::print::join_suggestions(&close));
                                m.push('?');
                            }
                            return Err(message(m));
                        }
                    }
                }
                other => {
                    return Err(message(format!(
                        "the expression selected by the selection path '{path}' should be a set but is {}",
                        other.type_phrase()
                    )))
                }
            };
        }
        Ok(v)
    }

    /// The derivation outputs in `v` (see [`derivations`]).
    pub fn derivations(&mut self, v: Value<'a>) -> EvalResult<Vec<DrvOutput>> {
        derivations(&mut self.ev, v)
    }
}

/// The derivation outputs in a value as `nix-instantiate` finds them: the value itself, the
/// derivations among a set's attributes (in name order; sets marked `recurseForDerivations`
/// are searched too) or a list's elements, each derivation once, each `drvPath` checked as
/// Nix 2.26 checks it.
pub fn derivations<'a>(ev: &mut Eval<'a>, v: Value<'a>) -> EvalResult<Vec<DrvOutput>> {
    let mut drvs = Vec::new();
    let mut done = HashSet::new();
    collect_derivations(ev, v, &mut drvs, &mut done)?;
    let mut res = Vec::with_capacity(drvs.len());
    for attrs in drvs {
        let (drv_path, text) = checked_drv_path(ev, attrs)?;
        let output = string_attr(ev, attrs, "outputName")?;
        if output.is_empty() {
            return Err(message(format!(
                "derivation '{text}' lacks an 'outputName' attribute"
            )));
        }
        res.push(DrvOutput {
            drv_path,
            output: String::from_utf8_lossy(&output).into_owned(),
        });
    }
    Ok(res)
}

/// Current Nix's explanation of a missing auto-call argument (the renderer indents its lines).
const MISSING_ARGUMENT_HELP: &str =
    "Nix attempted to evaluate a function as a top level expression; in
this case it must have its arguments supplied either by default
values, or passed explicitly with '--arg' or '--argstr'. See
https://nixos.org/manual/nix/stable/language/constructs.html#functions.";

/// Splits an `-A` path at its dots as Nix does: a double-quoted part may contain dots
/// (`a."b.c"`), the quotes are not part of the name, and a final empty part is dropped.
pub fn split_attr_path(path: &str) -> EvalResult<Vec<String>> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '.' => parts.push(std::mem::take(&mut cur)),
            '"' => loop {
                match chars.next() {
                    Some('"') => break,
                    Some(c) => cur.push(c),
                    None => {
                        return Err(message(format!(
                            "missing closing quote in selection path '{path}'"
                        )))
                    }
                }
            },
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    Ok(parts)
}

/// A derivation's `drvPath` as `nix-instantiate` reads it, with Nix 2.26's checks: the
/// derivation has a name and a `drvPath`, which is a store path whose name ends in `.drv`.
fn checked_drv_path<'a>(
    ev: &mut Eval<'a>,
    attrs: &'a Attrs<'a>,
) -> EvalResult<(StorePath, String)> {
    if attrs.get(ev.sym(b"name")).is_none() {
        return Err(message("derivation name missing".to_owned()));
    }
    let Some(attr) = attrs.get(ev.sym(b"drvPath")) else {
        return Err(message(
            "derivation does not contain a 'drvPath' attribute".to_owned(),
        ));
    };
    let at = ev.pos_span(attr.pos);
    let in_frame = |mut e: Box<EvalError>| {
        e.add_trace(
            "while evaluating the 'drvPath' attribute of a derivation".to_owned(),
            at,
            false,
        );
        e
    };
    let path = string_attr(ev, attrs, "drvPath").map_err(in_frame)?;
    let text = String::from_utf8_lossy(&path).into_owned();
    let store_dir = ev.io.store_dir().to_owned();
    let base = path
        .strip_prefix(store_dir.as_bytes())
        .and_then(|rest| rest.strip_prefix(b"/"))
        .filter(|base| !base.is_empty() && !base.contains(&b'/'));
    let Some(base) = base else {
        return Err(in_frame(message(format!(
            "path '{text}' is not in the Nix store"
        ))));
    };
    let not_drv = || {
        in_frame(message(format!(
            "store path '{}' is not a valid derivation path",
            String::from_utf8_lossy(base)
        )))
    };
    if !base.ends_with(b".drv") {
        return Err(not_drv());
    }
    let parsed = StorePath::from_absolute(&store_dir, &text).map_err(|_| not_drv())?;
    Ok((parsed, text))
}

/// A string attribute of a derivation, forced and coerced; empty when missing.
fn string_attr<'a>(ev: &mut Eval<'a>, attrs: &'a Attrs<'a>, name: &str) -> EvalResult<Vec<u8>> {
    let sym = ev.sym(name.as_bytes());
    let Some(a) = attrs.get(sym) else {
        return Ok(Vec::new());
    };
    let v = ev.force(a.value)?;
    let s = ev.coerce_to_string(v, nowhere(), CoerceMode::Interpolation)?;
    match s {
        Value::String(s) => Ok(s.bytes.to_vec()),
        _ => Ok(Vec::new()),
    }
}

/// Finds the derivations in a value (see [`Evaluation::derivations`]).
fn collect_derivations<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    drvs: &mut Vec<&'a Attrs<'a>>,
    done: &mut HashSet<usize>,
) -> EvalResult<()> {
    let v = ev.force(v)?;
    match v {
        Value::Attrs(a) if ev.is_derivation(a)? => {
            if done.insert(a as *const _ as usize) {
                drvs.push(a);
            }
        }
        Value::Attrs(a) => {
            let recurse = ev.sym(b"recurseForDerivations");
            for (_, value) in kiln_eval::print::sorted_attrs(ev, a) {
                let value = ev.force(value)?;
                let Value::Attrs(inner) = value else { continue };
                if ev.is_derivation(inner)? {
                    if done.insert(inner as *const _ as usize) {
                        drvs.push(inner);
                    }
                } else if let Some(r) = inner.get(recurse) {
                    if matches!(ev.force(r.value)?, Value::Bool(true)) {
                        collect_derivations(ev, value, drvs, done)?;
                    }
                }
            }
        }
        Value::List(l) => {
            for e in l.elems {
                collect_derivations(ev, *e, drvs, done)?;
            }
        }
        _ => {
            return Err(message(
                "expression does not evaluate to a derivation (or a set or list of those)"
                    .to_owned(),
            ))
        }
    }
    Ok(())
}

/// Splits `NIX_PATH` at its colons, except the one of a URL's `scheme://` (or `channel:`)
/// right after an entry's `=` or start, as Nix does: `nixpkgs=https://host/x.tar.gz:/dir` is
/// two entries.
pub fn split_nix_path(s: &str) -> Vec<String> {
    let is_pseudo_url = |rest: &str| {
        rest.starts_with("channel:")
            || rest.split_once("://").is_some_and(|(scheme, _)| {
                ["http", "https", "file", "channel", "git", "s3", "ssh"].contains(&scheme)
            })
    };
    let mut res = Vec::new();
    let mut entry_start = 0;
    let mut value_start = 0;
    let mut i = 0;
    let bytes = s.as_bytes();
    while i < bytes.len() {
        match bytes[i] {
            b'=' => value_start = i + 1,
            b':' => {
                let mut end = i;
                if is_pseudo_url(&s[value_start..]) {
                    // Skip the scheme's colon; the entry ends at the next one.
                    end = s[i + 1..].find(':').map_or(s.len(), |j| i + 1 + j);
                }
                if end > entry_start {
                    res.push(s[entry_start..end].to_owned());
                }
                entry_start = end + 1;
                value_start = entry_start;
                i = end;
            }
            _ => {}
        }
        i += 1;
    }
    if entry_start < s.len() {
        res.push(s[entry_start..].to_owned());
    }
    res
}

/// The search path: `-I` entries, then `NIX_PATH`'s (`prefix=path` or `path`).
pub fn search_path(include: &[String], nix_path: Option<&str>) -> Vec<(String, String)> {
    let mut entries: Vec<String> = include.to_vec();
    if let Some(p) = nix_path {
        entries.extend(split_nix_path(p));
    }
    entries
        .into_iter()
        .map(|e| match e.split_once('=') {
            Some((prefix, path)) => (prefix.to_owned(), path.to_owned()),
            None => (String::new(), e),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_their_scheme_colon() {
        assert_eq!(
            split_nix_path("nixpkgs=https://host/x.tar.gz:/dir:a=b::channel:nixos-24.05:c"),
            [
                "nixpkgs=https://host/x.tar.gz",
                "/dir",
                "a=b",
                "channel:nixos-24.05",
                "c"
            ]
        );
        assert_eq!(split_nix_path("/a:/b"), ["/a", "/b"]);
        assert_eq!(split_nix_path("file:///x"), ["file:///x"]);
    }

    #[test]
    fn attr_paths_split_at_unquoted_dots() {
        assert_eq!(split_attr_path("a.\"b.c\".0").unwrap(), ["a", "b.c", "0"]);
        assert_eq!(split_attr_path("a.").unwrap(), ["a"]);
        assert!(split_attr_path("a.\"b").is_err());
    }
}
