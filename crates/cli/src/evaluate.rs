//! Running an evaluation for `kiln eval`, `kiln instantiate` and `nix-instantiate`: building
//! the evaluator, finding the value (`-A`, auto-calling with `--arg`/`--argstr`), and printing
//! it or the derivations in it.
//!
//! Without a store ([`Request::store`] is `None`) the evaluator gets [`FsIo`]: store paths are
//! computed, nothing is written (Nix's read-only mode). With a store root it gets
//! [`kiln_store::StoreIo`]: sources, `toFile` texts and `.drv` files are added to that store.
//!
//! The evaluation runs on a thread with a large stack (address space only, committed on use),
//! so deep Nix recursion meets the `max-call-depth` error, never a crashed process.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use kiln_eval::value::Attr;
use kiln_eval::{Bump, CoerceMode, Eval, EvalError, EvalResult, EvalSettings, Value};

/// Stack of the evaluation thread.
const EVAL_STACK: usize = 1 << 30;

/// The size of the evaluation arena's first chunk. It is only address space until touched, and
/// being one large block, most of it is backed by huge pages (see `alloc.rs`): a small
/// evaluation then takes a few page faults instead of one per 4 KiB of values.
const ARENA_FIRST_CHUNK: usize = 64 << 20;

/// Where the expression comes from.
pub enum Source {
    /// `--expr`/`-E`.
    Expr(String),
    /// A file (or a directory holding `default.nix`).
    File(PathBuf),
    /// Standard input (`-`), already read; named `«stdin»` in messages.
    Stdin(String),
}

/// An argument for auto-calling.
#[derive(Clone)]
pub enum AutoArg {
    /// `--arg NAME EXPR`.
    Expr(String),
    /// `--argstr NAME STRING`, or `--arg-from-file NAME PATH` (the file's contents).
    Str(String),
}

impl AutoArg {
    /// `--arg-from-file NAME PATH`: the file's contents as a string argument, read now.
    pub fn from_file(path: &str) -> anyhow::Result<AutoArg> {
        let bytes = std::fs::read(path).map_err(|e| {
            anyhow::anyhow!("opening file '{path}': {}", kiln_eval::os_error_text(&e))
        })?;
        Ok(AutoArg::Str(String::from_utf8_lossy(&bytes).into_owned()))
    }
}

/// How to print the result.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Nix syntax, as `nix-instantiate --eval`.
    Nix,
    /// JSON.
    Json,
    /// The `.drv` paths of the derivations in the value, one a line (`drv` or `drv!output`
    /// when the selected output is not `out`), as `nix-instantiate` prints them.
    DrvPaths,
    /// A string's bytes as they are (`--raw`); `legacy` adds `nix-instantiate`'s frame to a
    /// value that is not a string.
    Raw {
        /// Whether this is `nix-instantiate --eval --raw`.
        legacy: bool,
    },
    /// The parsed expression, as `nix-instantiate --parse` prints it (nothing is evaluated).
    Parse,
    /// Nix's XML form (`nix-instantiate --eval --xml`), with the source locations of
    /// attributes and functions unless `--no-location` was given.
    Xml {
        /// Whether to print `column`, `line` and `path`.
        locations: bool,
    },
}

/// What to evaluate and how to print it.
pub struct Request {
    /// The expression.
    pub source: Source,
    /// `-A` paths.
    pub attr_paths: Vec<String>,
    /// Auto-call arguments.
    pub args: Vec<(String, AutoArg)>,
    /// `--apply`.
    pub apply: Option<String>,
    /// Force everything before printing.
    pub strict: bool,
    /// The printed form.
    pub output: Output,
    /// `-I` entries.
    pub include: Vec<String>,
    /// The evaluator's settings (its search path is filled from `include` and `NIX_PATH`).
    pub eval: EvalSettings,
    /// Print every trace frame of an error (`--show-trace`).
    pub show_trace: bool,
    /// The root of the store to write into; `None` evaluates read-only.
    pub store: Option<PathBuf>,
    /// Read-only evaluations still fetch (as Nix's do): into the store at this root, else
    /// `KILN_STORE`, else the default root. Opened only when something is fetched.
    pub fetch_root: Option<PathBuf>,
}

/// Evaluates on a large stack and returns the printed results, one per `-A` path.
pub fn run(req: Request) -> anyhow::Result<Vec<u8>> {
    let handle = std::thread::Builder::new()
        .name("eval".into())
        .stack_size(EVAL_STACK)
        .spawn(move || evaluate(req))
        .map_err(|e| anyhow!("starting the evaluation thread: {e}"))?;
    handle
        .join()
        .map_err(|_| anyhow!("the evaluation thread panicked"))?
        .map_err(|(msg, usage)| {
            if usage {
                // Printed as Nix prints a usage error, with the hint to `--help`.
                crate::output::UsageError {
                    message: msg,
                    exit_code: 1,
                }
                .into()
            } else {
                anyhow!(msg)
            }
        })
}

/// Splits `NIX_PATH` at its colons, except the one of a URL's `scheme://` (or `channel:`)
/// right after an entry's `=` or start, as Nix does: `nixpkgs=https://host/x.tar.gz:/dir` is
/// two entries.
fn split_nix_path(s: &str) -> Vec<String> {
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

/// Parses `-I` and `NIX_PATH` entries (`prefix=path` or `path`).
fn search_path(include: &[String]) -> Vec<(String, String)> {
    let mut entries: Vec<String> = include.to_vec();
    if let Ok(p) = std::env::var("NIX_PATH") {
        entries.extend(split_nix_path(&p));
    }
    entries
        .into_iter()
        .map(|e| match e.split_once('=') {
            Some((prefix, path)) => (prefix.to_owned(), path.to_owned()),
            None => (String::new(), e),
        })
        .collect()
}

/// Evaluates and prints; an error comes rendered, with whether Nix reports it as a usage error.
fn evaluate(req: Request) -> Result<Vec<u8>, (String, bool)> {
    let settings = EvalSettings {
        nix_path: search_path(&req.include),
        ..req.eval.clone()
    };
    let store = match &req.store {
        Some(root) => Some(
            kiln_store::LocalStore::open(kiln_store::StoreLocation::new(root.clone())).map_err(
                |e| {
                    (
                        format!("opening the store at '{}': {e}", root.display()),
                        false,
                    )
                },
            )?,
        ),
        None => None,
    };
    let io: Box<dyn kiln_eval::io::EvalIo + '_> = match &store {
        Some(store) => Box::new(kiln_store::StoreIo::new(store)),
        None => Box::new(kiln_store::ReadOnlyIo::new(
            req.fetch_root
                .clone()
                .or_else(|| std::env::var_os("KILN_STORE").map(PathBuf::from))
                .unwrap_or_else(kiln_store::default_root),
        )),
    };
    let arena = Bump::with_capacity(ARENA_FIRST_CHUNK);
    let mut ev = Eval::new(&arena, io, settings);
    ev.set_reporter(Box::new(crate::report::StderrReporter));
    let res = evaluate_in(&mut ev, &req);
    res.map_err(|e| {
        let usage = matches!(e.kind, kiln_eval::ErrorKind::Usage(_));
        (
            crate::diagnostic::render(&ev.sources, &e, req.show_trace),
            usage,
        )
    })
}

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
}

fn evaluate_in<'a>(ev: &mut Eval<'a>, req: &Request) -> EvalResult<Vec<u8>> {
    if req.output == Output::Parse {
        return parse_only(ev, &req.source);
    }
    let root = match &req.source {
        Source::Expr(e) => ev.eval_string(e.as_bytes(), &cwd())?,
        Source::Stdin(e) => {
            let ir = ev.compile("«stdin»", e.as_bytes(), &cwd())?;
            let env = ev.base_env();
            ev.eval(ir, env)?
        }
        Source::File(f) => {
            let path = if f.is_absolute() {
                f.clone()
            } else {
                cwd().join(f)
            };
            ev.eval_file(&path)?
        }
    };
    let auto_args = auto_args(ev, &req.args)?;
    // Like nix-instantiate --eval, the selected value is called only when arguments were
    // given; values along an `-A` path always are (with the arguments there are, maybe none).
    // Instantiation always calls it, so a file `{ n ? 1 }: derivation …` instantiates.
    let call_result = !req.args.is_empty() || req.output == Output::DrvPaths;
    let paths: Vec<&str> = if req.attr_paths.is_empty() {
        vec![""]
    } else {
        req.attr_paths.iter().map(String::as_str).collect()
    };
    let mut out = Vec::new();
    for path in paths {
        let mut v = select_path(ev, root, path, auto_args)?;
        if call_result {
            v = auto_call(ev, v, auto_args)?;
        }
        if let Some(f) = &req.apply {
            let f = ev.eval_string(f.as_bytes(), &cwd())?;
            v = ev.call_n(
                f,
                &[v],
                kiln_eval::Span::new(kiln_eval::FileId(u32::MAX), 0, 0),
            )?;
        }
        print(ev, v, req, &mut out)?;
    }
    Ok(out)
}

/// `--parse`: parse (and check) the source, print it back in Nix's form.
fn parse_only(ev: &mut Eval<'_>, source: &Source) -> EvalResult<Vec<u8>> {
    let (name, text, dir) = match source {
        Source::Expr(e) => ("«string»".to_owned(), e.clone().into_bytes(), cwd()),
        Source::Stdin(e) => ("«stdin»".to_owned(), e.clone().into_bytes(), cwd()),
        Source::File(f) => {
            let mut path = if f.is_absolute() {
                f.clone()
            } else {
                cwd().join(f)
            };
            if path.is_dir() {
                path.push("default.nix");
            }
            let text = std::fs::read(&path).map_err(|e| {
                EvalError::new(
                    kiln_eval::ErrorKind::Message(format!(
                        "opening file '{}': {e}",
                        path.display()
                    )),
                    None,
                )
            })?;
            let dir = path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("/"));
            (path.display().to_string(), text, dir)
        }
    };
    let mut out = ev.parse_and_show(&name, &text, &dir)?;
    out.push(b'\n');
    Ok(out)
}

fn print<'a>(ev: &mut Eval<'a>, v: Value<'a>, req: &Request, out: &mut Vec<u8>) -> EvalResult<()> {
    let span = kiln_eval::Span::new(kiln_eval::FileId(u32::MAX), 0, 0);
    match req.output {
        Output::Nix => {
            let v = if req.strict {
                ev.force_deep(v)?
            } else {
                ev.force(v)?
            };
            out.extend_from_slice(&kiln_eval::print::print_value_bytes(ev, v, req.strict)?);
            out.push(b'\n');
        }
        Output::Json => {
            let mut ctx = Vec::new();
            kiln_eval::json::to_json(ev, v, span, out, &mut ctx)?;
            out.push(b'\n');
        }
        Output::DrvPaths => {
            let mut drvs = Vec::new();
            let mut done = std::collections::HashSet::new();
            collect_derivations(ev, v, &mut drvs, &mut done)?;
            for attrs in drvs {
                let drv_path = checked_drv_path(ev, attrs)?;
                let output = string_attr(ev, attrs, "outputName")?;
                if output.is_empty() {
                    return Err(EvalError::new(
                        kiln_eval::ErrorKind::Message(format!(
                            "derivation '{}' lacks an 'outputName' attribute",
                            String::from_utf8_lossy(&drv_path)
                        )),
                        None,
                    ));
                }
                out.extend_from_slice(&drv_path);
                if output != b"out" {
                    out.push(b'!');
                    out.extend_from_slice(&output);
                }
                out.push(b'\n');
            }
        }
        // Handled before evaluation, in `parse_only`.
        Output::Parse => {}
        Output::Xml { locations } => {
            let v = if req.strict {
                ev.force_deep(v)?
            } else {
                ev.force(v)?
            };
            out.extend_from_slice(&kiln_eval::xml::xml_document(ev, v, locations)?);
        }
        Output::Raw { legacy } => {
            let v = ev.force(v)?;
            let s = ev
                .coerce_to_string(v, span, CoerceMode::Interpolation)
                .map_err(|mut e| {
                    if legacy {
                        e.add_trace(
                            "while generating the nix-instantiate output".to_owned(),
                            None,
                            false,
                        );
                    }
                    e
                })?;
            if let Value::String(s) = s {
                out.extend_from_slice(s.bytes);
            }
        }
    }
    Ok(())
}

/// A string attribute of a derivation, forced; empty when missing.
/// A derivation's `drvPath` as `nix-instantiate` reads it, with Nix 2.26's checks: the
/// derivation has a name and a `drvPath`, which is a store path whose name ends in `.drv`.
fn checked_drv_path<'a>(
    ev: &mut Eval<'a>,
    attrs: &'a kiln_eval::value::Attrs<'a>,
) -> EvalResult<Vec<u8>> {
    let message = |m: String| EvalError::new(kiln_eval::ErrorKind::Message(m), None);
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
    let store_dir = ev.io.store_dir().as_bytes().to_vec();
    let base = path
        .strip_prefix(store_dir.as_slice())
        .and_then(|rest| rest.strip_prefix(b"/"))
        .filter(|base| !base.is_empty() && !base.contains(&b'/'));
    let Some(base) = base else {
        return Err(in_frame(message(format!(
            "path '{}' is not in the Nix store",
            String::from_utf8_lossy(&path)
        ))));
    };
    if !base.ends_with(b".drv") {
        return Err(in_frame(message(format!(
            "store path '{}' is not a valid derivation path",
            String::from_utf8_lossy(base)
        ))));
    }
    Ok(path)
}

fn string_attr<'a>(
    ev: &mut Eval<'a>,
    attrs: &'a kiln_eval::value::Attrs<'a>,
    name: &str,
) -> EvalResult<Vec<u8>> {
    let sym = ev.sym(name.as_bytes());
    let Some(a) = attrs.get(sym) else {
        return Ok(Vec::new());
    };
    let span = kiln_eval::Span::new(kiln_eval::FileId(u32::MAX), 0, 0);
    let v = ev.force(a.value)?;
    let s = ev.coerce_to_string(v, span, CoerceMode::Interpolation)?;
    match s {
        Value::String(s) => Ok(s.bytes.to_vec()),
        _ => Ok(Vec::new()),
    }
}

/// Finds the derivations in a value as `nix-instantiate` does: the value itself, the
/// derivations among a set's attributes (in name order; sets marked `recurseForDerivations`
/// are searched too) or a list's elements, each derivation once.
fn collect_derivations<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    drvs: &mut Vec<&'a kiln_eval::value::Attrs<'a>>,
    done: &mut std::collections::HashSet<usize>,
) -> EvalResult<()> {
    let v = ev.force(v)?;
    let mut push = |a: &'a kiln_eval::value::Attrs<'a>| {
        if done.insert(a as *const _ as usize) {
            drvs.push(a);
        }
    };
    match v {
        Value::Attrs(a) if ev.is_derivation(a)? => push(a),
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
            return Err(EvalError::new(
                kiln_eval::ErrorKind::Message(
                    "expression does not evaluate to a derivation (or a set or list of those)"
                        .to_owned(),
                ),
                None,
            ))
        }
    }
    Ok(())
}

fn auto_args<'a>(ev: &mut Eval<'a>, args: &[(String, AutoArg)]) -> EvalResult<Value<'a>> {
    let mut attrs = Vec::new();
    for (name, arg) in args {
        let value = match arg {
            AutoArg::Expr(e) => ev.eval_string(e.as_bytes(), &cwd())?,
            AutoArg::Str(s) => ev.new_str(s.as_bytes()),
        };
        let name = ev.sym(name.as_bytes());
        attrs.push(Attr::new(name, value));
    }
    Ok(ev.new_attrs(attrs))
}

/// Current Nix's explanation of a missing auto-call argument (the renderer indents its lines).
const MISSING_ARGUMENT_HELP: &str =
    "Nix attempted to evaluate a function as a top level expression; in
this case it must have its arguments supplied either by default
values, or passed explicitly with '--arg' or '--argstr'. See
https://nixos.org/manual/nix/stable/language/constructs.html#functions.";

/// Calls a function whose parameter is a set pattern with the auto-call arguments, as
/// `nix-instantiate` does; other values are returned as they are.
fn auto_call<'a>(ev: &mut Eval<'a>, v: Value<'a>, args: Value<'a>) -> EvalResult<Value<'a>> {
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
                    kiln_eval::ErrorKind::Message(format!(
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

/// Splits an `-A` path at its dots as Nix does: a double-quoted part may contain dots
/// (`a."b.c"`), the quotes are not part of the name, and a final empty part is dropped.
fn split_attr_path(path: &str) -> EvalResult<Vec<String>> {
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
                        return Err(EvalError::new(
                            kiln_eval::ErrorKind::Message(format!(
                                "missing closing quote in selection path '{path}'"
                            )),
                            None,
                        ))
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

/// Follows an `-A` path such as `a.b.0`, auto-calling each value before selecting from it
/// (the value selected last is not called here).
fn select_path<'a>(
    ev: &mut Eval<'a>,
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
        v = auto_call(ev, v, args)?;
        v = match v {
            Value::List(l) if part.parse::<usize>().is_ok() => {
                let i = part.parse::<usize>().expect("checked");
                match l.elems.get(i) {
                    Some(e) => ev.force(*e)?,
                    None => {
                        return Err(EvalError::new(
                            kiln_eval::ErrorKind::Message(format!(
                                "list index {i} in selection path '{path}' is out of range"
                            )),
                            None,
                        ))
                    }
                }
            }
            Value::Attrs(a) => {
                let sym = ev.sym(part.as_bytes());
                match a.get(sym) {
                    Some(attr) => ev.force(attr.value)?,
                    None => {
                        let mut message =
                            format!("attribute '{part}' in selection path '{path}' not found");
                        let close = kiln_eval::print::suggestions(ev, a, sym);
                        if !close.is_empty() {
                            message.push_str("\nDid you mean ");
                            message.push_str(&crate::diagnostic::join_suggestions(&close));
                            message.push('?');
                        }
                        return Err(EvalError::new(kiln_eval::ErrorKind::Message(message), None));
                    }
                }
            }
            other => {
                return Err(EvalError::new(
                    kiln_eval::ErrorKind::Message(format!(
                        "the expression selected by the selection path '{path}' should be a set but is {}",
                        other.type_phrase()
                    )),
                    None,
                ))
            }
        };
    }
    Ok(v)
}

/// Reads an expression file argument: `-` is standard input.
pub fn read_source_arg(arg: &str) -> anyhow::Result<Source> {
    if arg == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        return Ok(Source::Stdin(s));
    }
    Ok(Source::File(Path::new(arg).to_path_buf()))
}

#[cfg(test)]
mod nix_path_tests {
    use super::split_nix_path;

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
}
