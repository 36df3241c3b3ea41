//! Running an evaluation for `kiln eval`, `kiln instantiate`, `kiln build` and the legacy
//! commands: a [`Request`] becomes a `kiln_session` evaluation, whose value is printed as the
//! command asks (Nix syntax, JSON, XML, raw, `.drv` paths) or handed back as typed
//! [`DrvOutput`]s to build.
//!
//! Without a store ([`Request::store`] is `None`) the evaluation is read-only (Nix's mode:
//! store paths computed, nothing written but fetches); with a store root, sources, `toFile`
//! texts and `.drv` files are added to that store.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use kiln_eval::{CoerceMode, Eval, EvalError, EvalResult, EvalSettings, Value};
pub use kiln_session::{AutoArg, DrvOutput, Source};
use kiln_session::{EvalConfig, Evaluation, SessionError, StoreMode};

/// `--arg-from-file NAME PATH`: the file's contents as a string argument, read now.
pub fn arg_from_file(path: &str) -> anyhow::Result<AutoArg> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow!("opening file '{path}': {}", kiln_eval::os_error_text(&e)))?;
    Ok(AutoArg::Str(String::from_utf8_lossy(&bytes).into_owned()))
}

/// How to print the result.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Nix syntax, as `nix-instantiate --eval`.
    Nix,
    /// JSON; `legacy` (`nix-instantiate --eval --json`) ends it with no newline, as Nix 2.8
    /// (so several `-A` values run together, `12`), where `kiln eval` ends each with one.
    Json {
        /// Whether this is `nix-instantiate --eval --json`.
        legacy: bool,
    },
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
    /// The fetchers' cache and `tarball-ttl`.
    pub fetch: kiln_fetch::FetchSettings,
}

/// Evaluates and returns the printed results, one per `-A` path.
pub fn run(req: Request) -> anyhow::Result<Vec<u8>> {
    let show_trace = req.show_trace;
    let config = config(&req);
    let res = kiln_session::evaluate(config, move |s| {
        if req.output == Output::Parse {
            return parse_only(s, &req.source);
        }
        let mut out = Vec::new();
        for v in selected(s, &req)? {
            print(&mut s.ev, v, &req, &mut out)?;
        }
        Ok(out)
    });
    res.map_err(|e| session_failure(e, show_trace))
}

/// Instantiates: the derivation outputs of every selected value, as `nix-instantiate` finds
/// them (the `.drv` files are written to the store at `req.store`).
pub fn instantiate(req: Request) -> anyhow::Result<Vec<DrvOutput>> {
    let show_trace = req.show_trace;
    let config = config(&req);
    let res = kiln_session::evaluate(config, move |s| {
        let mut drvs = Vec::new();
        for v in selected(s, &req)? {
            drvs.extend(s.derivations(v)?);
        }
        Ok(drvs)
    });
    res.map_err(|e| session_failure(e, show_trace))
}

/// The session's configuration for a request.
fn config(req: &Request) -> EvalConfig {
    let host = crate::host();
    EvalConfig {
        settings: EvalSettings {
            nix_path: kiln_session::search_path(&req.include, host.nix_path.as_deref()),
            ..req.eval.clone()
        },
        store: match &req.store {
            Some(root) => StoreMode::Write { root: root.clone() },
            None => StoreMode::ReadOnly {
                fetch_root: host.store_root(req.fetch_root.as_deref()),
            },
        },
        fetch: req.fetch.clone(),
        reporter: Some(std::sync::Arc::new(crate::report::StderrReporter)),
    }
}

/// A session's error as the CLI reports it: an evaluation error rendered as Nix renders it
/// (a usage error with the hint to `--help`), anything else with its cause chain.
pub fn session_failure(e: SessionError, show_trace: bool) -> anyhow::Error {
    match e {
        SessionError::Eval(f) => {
            let message = crate::diagnostic::render(&f.sources, &f.error, show_trace);
            if f.is_usage() {
                crate::output::UsageError {
                    message,
                    exit_code: 1,
                }
                .into()
            } else {
                anyhow!(message)
            }
        }
        other => anyhow::Error::new(other),
    }
}

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
}

/// The values the request selects: the source's value, followed along each `-A` path,
/// auto-called and `--apply`'d as `nix-instantiate` does.
fn selected<'a>(s: &mut Evaluation<'a>, req: &Request) -> EvalResult<Vec<Value<'a>>> {
    let cwd = cwd();
    let root = match search_path_arg(&req.source) {
        Some(lookup) => {
            let file = find_on_search_path(s, lookup, &cwd)?;
            s.load(&Source::File(file), &cwd)?
        }
        None => s.load(&req.source, &cwd)?,
    };
    let auto_args = s.auto_args(&req.args, &cwd)?;
    // Like nix-instantiate --eval, the selected value is called only when arguments were
    // given; values along an `-A` path always are (with the arguments there are, maybe none).
    // Instantiation always calls it, so a file `{ n ? 1 }: derivation …` instantiates.
    let call_result = !req.args.is_empty() || req.output == Output::DrvPaths;
    let paths: Vec<&str> = if req.attr_paths.is_empty() {
        vec![""]
    } else {
        req.attr_paths.iter().map(String::as_str).collect()
    };
    let mut res = Vec::with_capacity(paths.len());
    for path in paths {
        let mut v = s.select(root, path, auto_args)?;
        if call_result {
            v = s.auto_call(v, auto_args)?;
        }
        if let Some(f) = &req.apply {
            let f = s.ev.eval_string(f.as_bytes(), &cwd)?;
            v = s.ev.call_n(
                f,
                &[v],
                kiln_eval::Span::new(kiln_eval::FileId(u32::MAX), 0, 0),
            )?;
        }
        res.push(v);
    }
    Ok(res)
}

/// A file argument that is not a file's name (Nix's `lookupFileArg`).
#[derive(Clone, Copy)]
enum FileArg<'s> {
    /// `<p>`: looked up on the search path.
    SearchPath(&'s str),
    /// `https://…`, `http://…`, `file://…` or `channel:NAME`: a tarball downloaded and
    /// unpacked (as a search path entry is).
    Url(&'s str),
}

/// What a file argument other than a file's name stands for, if it is one.
fn search_path_arg(source: &Source) -> Option<FileArg<'_>> {
    let Source::File(f) = source else { return None };
    let f = f.to_str()?;
    if let Some(p) = f.strip_prefix('<').and_then(|f| f.strip_suffix('>')) {
        return Some(FileArg::SearchPath(p));
    }
    let url = f.starts_with("channel:")
        || ["http://", "https://", "file://"]
            .iter()
            .any(|scheme| f.starts_with(scheme));
    url.then_some(FileArg::Url(f))
}

/// A `<p>` or URL file argument's path (a directory stands for its `default.nix`). A failed
/// lookup says only Nix's sentence ("file 'p' was not found in the Nix search path …"), with
/// no frame of an expression the user did not write.
fn find_on_search_path(
    s: &mut Evaluation<'_>,
    arg: FileArg<'_>,
    cwd: &Path,
) -> EvalResult<PathBuf> {
    let plain = |mut e: Box<EvalError>| {
        e.trace.clear();
        e.span = None;
        e
    };
    let (expr, shown) = match arg {
        FileArg::SearchPath(p) => (format!("<{p}>"), format!("<{p}>")),
        FileArg::Url(u) => {
            let quoted = serde_json::to_string(u)
                .unwrap_or_default()
                .replace('$', "\\$");
            let expr = if u.starts_with("channel:") {
                // The URL as the only entry of a search path, which resolves channels.
                format!("builtins.findFile [ {{ prefix = \"\"; path = {quoted}; }} ] \"\"")
            } else {
                format!("builtins.fetchTarball {{ url = {quoted}; name = \"source\"; }}")
            };
            (expr, u.to_owned())
        }
    };
    let v =
        s.ev.eval_string(expr.as_bytes(), cwd)
            .and_then(|v| s.ev.force(v))
            .map_err(plain)?;
    match v {
        // A path (`<p>`), or the store path of what was downloaded.
        Value::Path(p) | Value::String(p) => {
            use std::os::unix::ffi::OsStrExt;
            Ok(PathBuf::from(std::ffi::OsStr::from_bytes(p.bytes)))
        }
        other => Err(EvalError::new(
            kiln_eval::ErrorKind::Message(format!(
                "'{shown}' is {}, not a path",
                other.type_name()
            )),
            None,
        )),
    }
}

/// A file argument as the legacy commands read it (Nix's `lookupFileArg`): `<p>` is looked up
/// on the search path (`include`, then `NIX_PATH`), a URL is downloaded and unpacked, anything
/// else is the path it names (downloads go to the store at `store_root`). For commands that
/// hand a file on to another crate (`nix-env -f`).
pub fn lookup_file_arg(
    file: &Path,
    store_root: &Path,
    include: &[String],
    settings: &kiln_session::Config,
    show_trace: bool,
) -> anyhow::Result<PathBuf> {
    let source = Source::File(file.to_owned());
    if search_path_arg(&source).is_none() {
        return Ok(file.to_owned());
    }
    let req = Request {
        source,
        attr_paths: Vec::new(),
        args: Vec::new(),
        apply: None,
        strict: false,
        output: Output::Nix,
        include: include.to_vec(),
        eval: settings.eval_settings()?,
        show_trace,
        store: None,
        fetch_root: Some(store_root.to_owned()),
        fetch: settings.fetch_settings()?,
    };
    let config = config(&req);
    kiln_session::evaluate(config, move |s| match search_path_arg(&req.source) {
        Some(arg) => find_on_search_path(s, arg, &cwd()),
        None => Ok(PathBuf::new()),
    })
    .map_err(|e| session_failure(e, show_trace))
}

/// `--parse`: parse (and check) the source, print it back in Nix's form.
fn parse_only(s: &mut Evaluation<'_>, source: &Source) -> EvalResult<Vec<u8>> {
    let found;
    let source = match search_path_arg(source) {
        Some(lookup) => {
            found = Source::File(find_on_search_path(s, lookup, &cwd())?);
            &found
        }
        None => source,
    };
    let ev = &mut s.ev;
    let (name, text, dir) = match source {
        Source::Expr(e) => ("«string»".to_owned(), e.clone().into_bytes(), cwd()),
        Source::Stdin(e) => ("«stdin»".to_owned(), e.clone().into_bytes(), cwd()),
        Source::File(f) => {
            let mut path = cwd().join(f);
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
        Output::Json { legacy } => {
            let mut ctx = Vec::new();
            kiln_eval::json::to_json(ev, v, span, out, &mut ctx)?;
            if !legacy {
                out.push(b'\n');
            }
        }
        Output::DrvPaths => {
            let store_dir = ev.io.store_dir().to_owned();
            for d in kiln_session::derivations(ev, v)? {
                out.extend_from_slice(d.to_line(&store_dir).as_bytes());
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

/// Reads an expression file argument: `-` is standard input.
pub fn read_source_arg(arg: &str) -> anyhow::Result<Source> {
    if arg == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        return Ok(Source::Stdin(s));
    }
    Ok(Source::File(Path::new(arg).to_path_buf()))
}
