//! `kiln repl`: read expressions, evaluate them, print their values, as `nix repl` does.
//!
//! Lines are read with `rustyline` (editing, history in `$XDG_DATA_HOME/kiln/repl-history`,
//! tab completion of variables, builtins, commands and attribute paths: `pkgs.hel<TAB>`
//! evaluates `pkgs` and offers its attributes). An expression that is not finished (the
//! parser met the end of the input) continues on the next line. Values print as Nix 2.26's
//! REPL prints them ([`print`]). The commands are Nix's: `:l`/`:load FILE`, `:a`/`:add`,
//! `:p`/`:print`, `:t`, `:b`, `:doc`, `:e`/`:edit`, `:r`/`:reload`, `:q`/`:quit`,
//! `:?`/`:help`; `NAME = EXPR` binds a variable (unevaluated until used). An error is printed
//! and the REPL goes on.

mod print;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Args;
use kiln_eval::value::{Attr, Attrs};
use kiln_eval::{ErrorKind, EvalError, EvalResult, Symbol, Value};
use kiln_realise::{Goal, OutputsSpec};
use kiln_session::{AutoArg, EvalConfig, Evaluation, StoreMode};
use kiln_store::Store as _;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use crate::cli::GlobalArgs;

/// Arguments of `kiln repl`.
#[derive(Debug, Args)]
pub struct ReplArgs {
    /// Files to load at the start, as with `:l` (`<nixpkgs>` looks on the search path)
    files: Vec<String>,
    /// Pass NAME = EXPR to the functions files evaluate to
    #[arg(long, num_args = 2, value_names = ["NAME", "EXPR"])]
    arg: Vec<String>,
    /// Pass NAME = STRING to the functions files evaluate to
    #[arg(long, num_args = 2, value_names = ["NAME", "STRING"])]
    argstr: Vec<String>,
    /// Add a search path entry (`nixpkgs=/path` or `/path`) for `<...>` lookups
    #[arg(short = 'I', long = "include")]
    include: Vec<String>,
    /// Show every frame of an error's trace
    #[arg(long)]
    show_trace: bool,
}

/// The commands, as `:?` lists them.
const HELP: &str = "The following commands are available:

  <expr>                       Evaluate and print expression
  <x> = <expr>                 Bind expression to variable
  :a, :add <expr>              Add attributes from resulting set to scope
  :b <expr>                    Build a derivation
  :e, :edit <expr>             Open package or function in $EDITOR
  :l, :load <path>             Load Nix expression and add it to scope
  :p, :print <expr>            Evaluate and print expression recursively
                               Strings are printed directly, without escaping.
  :q, :quit                    Exit the REPL
  :r, :reload                  Reload all files
  :t <expr>                    Describe result of evaluation
  :doc <expr>                  Show documentation of a builtin function
  :?, :help                    Brings up this help menu
";

/// Command names offered by completion.
const COMMANDS: &[&str] = &[
    ":?", ":a", ":add", ":b", ":doc", ":e", ":edit", ":help", ":l", ":load", ":p", ":print", ":q",
    ":quit", ":r", ":reload", ":t",
];

/// Runs the REPL until `:q` or end of input.
pub fn run(
    args: ReplArgs,
    global: &GlobalArgs,
    settings: &kiln_session::Config,
) -> anyhow::Result<()> {
    let host = crate::host();
    let root = host.store_root(global.store.as_deref());
    let config = EvalConfig {
        settings: kiln_eval::EvalSettings {
            nix_path: kiln_session::search_path(&args.include, host.nix_path.as_deref()),
            ..settings.eval_settings()?
        },
        store: StoreMode::Write { root },
        fetch: settings.fetch_settings()?,
        reporter: Some(std::sync::Arc::new(crate::report::StderrReporter)),
    };
    let build = settings.build_settings()?;
    let mut auto = crate::commands::eval::pairs(&args.arg, AutoArg::Expr);
    auto.extend(crate::commands::eval::pairs(&args.argstr, AutoArg::Str));
    let history = history_file();
    let show_trace = args.show_trace;
    let files = args.files;
    kiln_session::evaluate(config, move |s| {
        let repl = Repl {
            s,
            vars: BTreeMap::new(),
            scope: None,
            files: Vec::new(),
            auto,
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            build,
            show_trace,
        };
        Ok(main_loop(repl, files, history))
    })
    .map_err(|e| crate::evaluate::session_failure(e, show_trace))?
}

/// Where the history is kept: `$XDG_DATA_HOME/kiln/repl-history` (`~/.local/share/…`).
fn history_file() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))?;
    Some(data.join("kiln/repl-history"))
}

fn main_loop(
    repl: Repl<'_, '_>,
    files: Vec<String>,
    history: Option<PathBuf>,
) -> anyhow::Result<()> {
    let repl = RefCell::new(repl);
    let config = rustyline::Config::builder()
        .completion_type(rustyline::CompletionType::List)
        .auto_add_history(false)
        .build();
    let mut editor: Editor<ReplHelper<'_, '_, '_>, _> =
        Editor::with_config(config).map_err(|e| anyhow!("starting the line editor: {e}"))?;
    editor.set_helper(Some(ReplHelper { repl: &repl }));
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.load_history(h);
    }
    println!("Kiln {}\nType :? for help.", env!("CARGO_PKG_VERSION"));
    for f in files {
        repl.borrow_mut().command(&format!(":l {f}"));
    }
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            "nix-repl> "
        } else {
            "          "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                pending.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(anyhow!("reading a line: {e}")),
        };
        if !line.trim().is_empty() {
            let _ = editor.add_history_entry(line.as_str());
            if let Some(h) = &history {
                let _ = editor.save_history(h);
            }
        }
        if !pending.is_empty() {
            pending.push('\n');
        }
        pending.push_str(&line);
        let input = std::mem::take(&mut pending);
        match repl.borrow_mut().command(&input) {
            Step::Next => {}
            Step::More => pending = input,
            Step::Quit => break,
        }
    }
    Ok(())
}

/// What the loop does after a line.
enum Step {
    /// Read the next command.
    Next,
    /// The expression is not finished: read another line onto it.
    More,
    /// `:q`.
    Quit,
}

/// The REPL's state: the evaluation and the variables bound so far.
struct Repl<'s, 'a> {
    s: &'s mut Evaluation<'a>,
    /// Variables, by symbol (later bindings replace earlier ones).
    vars: BTreeMap<Symbol, Value<'a>>,
    /// `vars` as a set, made when next needed.
    scope: Option<&'a Attrs<'a>>,
    /// Files loaded with `:l`, for `:r`.
    files: Vec<String>,
    /// `--arg`/`--argstr`, for functions loaded files evaluate to.
    auto: Vec<(String, AutoArg)>,
    cwd: PathBuf,
    build: kiln_realise::BuildSettings,
    show_trace: bool,
}

/// Whether a line is `NAME = EXPR` (and not `a == b`); returns both.
fn binding(line: &str) -> Option<(&str, &str)> {
    let (name, rest) = line.split_once('=')?;
    let name = name.trim();
    if rest.starts_with('=') || name.is_empty() {
        return None;
    }
    let mut chars = name.chars();
    let first = chars.next()?;
    let ident = (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '\'' | '-'));
    ident.then_some((name, rest))
}

fn message(m: impl Into<String>) -> Box<EvalError> {
    EvalError::new(ErrorKind::Message(m.into()), None)
}

impl<'a> Repl<'_, 'a> {
    /// Runs one command or expression, printing its result or its error.
    fn command(&mut self, input: &str) -> Step {
        let line = input.trim();
        if line.is_empty() {
            return Step::Next;
        }
        let (cmd, rest) = match line.strip_prefix(':') {
            Some(c) => {
                let (c, r) = c.split_once(char::is_whitespace).unwrap_or((c, ""));
                (Some(c), r.trim())
            }
            None => (None, line),
        };
        let res = match cmd {
            None => match binding(line) {
                Some((name, expr)) => self.bind(name, expr).map(|()| Vec::new()),
                None => self.show(line, 1),
            },
            Some("q" | "quit") => return Step::Quit,
            Some("?" | "help") => Ok(HELP.as_bytes().to_vec()),
            Some("p" | "print") => self.show(rest, usize::MAX),
            Some("t") => self.type_of(rest),
            Some("a" | "add") => self.add(rest),
            Some("l" | "load") => self.load(rest),
            Some("r" | "reload") => self.reload(),
            Some("b") => self.build(rest),
            Some("doc") => self.doc(rest),
            Some("e" | "edit") => self.edit(rest),
            Some(other) => Err(message(format!("unknown command ':{other}'"))),
        };
        let mut out = std::io::stdout().lock();
        match res {
            Ok(text) => {
                let _ = out.write_all(&text);
            }
            Err(e) if cmd.is_none() && is_unfinished(&e) => return Step::More,
            Err(e) => {
                let _ = out.flush();
                let rendered = crate::diagnostic::render(&self.s.ev.sources, &e, self.show_trace);
                let text = match rendered.strip_prefix('\n') {
                    Some(r) => format!("error:\n{r}"),
                    None => format!("error: {rendered}"),
                };
                let mut bytes = crate::diagnostic::raw_bytes(&kiln_eval::print::for_stderr(&text));
                bytes.push(b'\n');
                let _ = std::io::stderr().write_all(&bytes);
            }
        }
        let _ = out.write_all(b"\n");
        let _ = out.flush();
        Step::Next
    }

    /// The variables as a set, for code to see them.
    fn scope(&mut self) -> &'a Attrs<'a> {
        if let Some(s) = self.scope {
            return s;
        }
        let attrs: Vec<Attr<'a>> = self.vars.iter().map(|(&n, &v)| Attr::new(n, v)).collect();
        let Value::Attrs(a) = self.s.ev.new_attrs(attrs) else {
            unreachable!("new_attrs makes a set")
        };
        self.scope = Some(a);
        a
    }

    /// `expr`, unevaluated, with the variables in scope.
    fn compile(&mut self, expr: &str) -> EvalResult<Value<'a>> {
        let scope = self.scope();
        let cwd = self.cwd.clone();
        self.s
            .ev
            .compile_scoped("«string»", expr.as_bytes(), &cwd, scope)
    }

    fn eval(&mut self, expr: &str) -> EvalResult<Value<'a>> {
        let v = self.compile(expr)?;
        self.s.ev.force(v)
    }

    fn set_var(&mut self, name: Symbol, v: Value<'a>) {
        self.vars.insert(name, v);
        self.scope = None;
    }

    fn bind(&mut self, name: &str, expr: &str) -> EvalResult<()> {
        let v = self.compile(expr)?;
        let sym = self.s.ev.sym(name.as_bytes());
        self.set_var(sym, v);
        Ok(())
    }

    /// An expression's value, printed `depth` levels deep (`:p`: all of it, a string as it
    /// is).
    fn show(&mut self, expr: &str, depth: usize) -> EvalResult<Vec<u8>> {
        let v = self.eval(expr)?;
        let mut out = if depth == usize::MAX {
            let v = self.s.ev.force_deep(v)?;
            match v {
                Value::String(s) => s.bytes.to_vec(),
                v => print::print(&mut self.s.ev, v, depth)?,
            }
        } else {
            print::print(&mut self.s.ev, v, depth)?
        };
        out.push(b'\n');
        Ok(out)
    }

    fn type_of(&mut self, expr: &str) -> EvalResult<Vec<u8>> {
        let v = self.eval(expr)?;
        let text = match v {
            Value::PrimOp(op) => format!("the built-in function '{}'", op.name),
            Value::PrimOpApp(app) => {
                format!("the partially applied built-in function '{}'", app.op.name)
            }
            v => v.type_phrase().to_owned(),
        };
        Ok(format!("{text}\n").into_bytes())
    }

    /// Adds a set's attributes to the variables.
    fn add_attrs(&mut self, v: Value<'a>) -> EvalResult<Vec<u8>> {
        let Value::Attrs(a) = v else {
            let mut e = EvalError::new(
                ErrorKind::Type {
                    expected: "a set",
                    found: v.type_phrase(),
                    value: kiln_eval::print::brief(&self.s.ev, v),
                },
                None,
            );
            e.add_trace(
                "while evaluating an attribute set to be merged in the global scope".to_owned(),
                None,
                false,
            );
            return Err(e);
        };
        for attr in a.entries {
            self.set_var(attr.name, attr.value);
        }
        Ok(format!("Added {} variables.\n", a.entries.len()).into_bytes())
    }

    fn add(&mut self, expr: &str) -> EvalResult<Vec<u8>> {
        let v = self.eval(expr)?;
        self.add_attrs(v)
    }

    /// `:l FILE`: the file's value (called with the `--arg`s if it is a function taking a
    /// set), its attributes added.
    fn load(&mut self, file: &str) -> EvalResult<Vec<u8>> {
        if file.is_empty() {
            return Err(message("':l' needs a file to load"));
        }
        let v = self.load_value(file)?;
        if !self.files.iter().any(|f| f == file) {
            self.files.push(file.to_owned());
        }
        self.add_attrs(v)
    }

    fn load_value(&mut self, file: &str) -> EvalResult<Value<'a>> {
        let cwd = self.cwd.clone();
        let v = if file.starts_with('<') && file.ends_with('>') {
            let v = self.s.ev.eval_string(file.as_bytes(), &cwd)?;
            let v = self.s.ev.force(v)?;
            match v {
                Value::Path(p) => {
                    use std::os::unix::ffi::OsStrExt as _;
                    let p = PathBuf::from(std::ffi::OsStr::from_bytes(p.bytes));
                    self.s.ev.eval_file(&p)?
                }
                other => {
                    return Err(message(format!(
                        "'{file}' is {}, not a path",
                        other.type_phrase()
                    )))
                }
            }
        } else {
            self.s.ev.eval_file(&cwd.join(file))?
        };
        let args = self.s.auto_args(&self.auto, &cwd)?;
        self.s.auto_call(v, args)
    }

    /// `:r`: every variable dropped, the files read again and loaded.
    fn reload(&mut self) -> EvalResult<Vec<u8>> {
        self.s.ev.clear_import_cache();
        self.vars.clear();
        self.scope = None;
        let mut out = Vec::new();
        for f in self.files.clone() {
            out.extend(self.load(&f)?);
        }
        Ok(out)
    }

    /// `:b`: builds the derivation, prints its outputs.
    fn build(&mut self, expr: &str) -> EvalResult<Vec<u8>> {
        let v = self.eval(expr)?;
        let is_drv = match v {
            Value::Attrs(a) => self.s.ev.is_derivation(a)?,
            _ => false,
        };
        if !is_drv {
            return Err(message(
                "expression does not evaluate to a derivation, so I can't build it",
            ));
        }
        let drvs = kiln_session::derivations(&mut self.s.ev, v)?;
        let Some(store) = self.s.store else {
            return Err(message("building needs a store"));
        };
        let goals: Vec<Goal> = drvs
            .iter()
            .map(|d| Goal::Drv {
                drv: d.drv_path.clone(),
                outputs: OutputsSpec::All,
            })
            .collect();
        let store_dir = store.store_dir().to_owned();
        let progress =
            crate::progress::Progress::new(crate::progress::LogFormat::Raw, true, &store_dir);
        let res =
            progress.run(|| kiln_realise::realise(store, &goals, &self.build, false, &progress));
        progress.clear();
        let results = res.map_err(|e| message(format!("{e}")))?;
        let mut out = b"\nThis derivation produced the following outputs:\n".to_vec();
        for outs in results {
            for (name, path) in outs {
                out.extend_from_slice(
                    format!("  {name} -> {}\n", path.to_absolute(&store_dir)).as_bytes(),
                );
            }
        }
        Ok(out)
    }

    /// `:doc`: a builtin's synopsis and description; for a function, where it is.
    fn doc(&mut self, expr: &str) -> EvalResult<Vec<u8>> {
        let v = self.eval(expr)?;
        let op = match v {
            Value::PrimOp(op) => op,
            Value::PrimOpApp(app) => app.op,
            Value::Lambda(c) => {
                let loc = self.s.ev.sources.location(c.lambda.span);
                return Ok(format!("Function defined at {loc}\n").into_bytes());
            }
            _ => return Err(message("value does not have documentation")),
        };
        let params: Vec<&str> = op.params().collect();
        Ok(format!(
            "Synopsis: builtins.{} {}\n\n{}\n",
            op.name,
            params.join(" "),
            op.doc
        )
        .into_bytes())
    }

    /// `:e`: opens `$EDITOR` at a function's position or a derivation's `meta.position`,
    /// then reloads the files.
    fn edit(&mut self, expr: &str) -> EvalResult<Vec<u8>> {
        let v = self.eval(expr)?;
        let (file, line) = match v {
            Value::Lambda(c) => {
                let span = c.lambda.span;
                let lc = self.s.ev.sources.line_col(span.file, span.start);
                (
                    self.s.ev.sources.name(span.file).to_owned(),
                    lc.line.to_string(),
                )
            }
            Value::Attrs(a) => {
                let meta = self.s.ev.sym(b"meta");
                let position = self.s.ev.sym(b"position");
                let pos = match a.get(meta).map(|m| self.s.ev.force(m.value)).transpose()? {
                    Some(Value::Attrs(m)) => match m
                        .get(position)
                        .map(|p| self.s.ev.force(p.value))
                        .transpose()?
                    {
                        Some(Value::String(p)) => {
                            Some(String::from_utf8_lossy(p.bytes).into_owned())
                        }
                        _ => None,
                    },
                    _ => None,
                };
                let pos = pos.ok_or_else(|| message("package has no 'meta.position' to edit"))?;
                match pos.rsplit_once(':') {
                    Some((f, l)) if l.bytes().all(|b| b.is_ascii_digit()) => {
                        (f.to_owned(), l.to_owned())
                    }
                    _ => (pos, "1".to_owned()),
                }
            }
            Value::Path(p) => (
                String::from_utf8_lossy(p.bytes).into_owned(),
                "1".to_owned(),
            ),
            _ => {
                return Err(message(format!(
                    "package '{expr}' has no source location information"
                )))
            }
        };
        let editor = std::env::var("EDITOR").unwrap_or_else(|_| "cat".to_owned());
        let mut words = editor.split_whitespace();
        let program = words.next().unwrap_or("cat");
        let mut cmd = std::process::Command::new(program);
        cmd.args(words);
        if ["emacs", "nano", "vim", "vi", "nvim", "kak"]
            .iter()
            .any(|e| Path::new(program).file_name().is_some_and(|n| n == *e))
        {
            cmd.arg(format!("+{line}"));
        }
        cmd.arg(&file);
        let status = cmd
            .status()
            .map_err(|e| message(format!("running the editor '{program}': {e}")))?;
        if !status.success() {
            return Err(message(format!("the editor '{program}' failed ({status})")));
        }
        self.reload()
    }

    /// Completions of `word`: `a.b.c` offers the attributes of `a.b` starting with `c`; a
    /// plain word the variables and builtins starting with it.
    fn completions(&mut self, word: &str) -> Vec<String> {
        let mut res = Vec::new();
        if let Some((prefix, partial)) = word.rsplit_once('.') {
            let Ok(Value::Attrs(a)) = self.eval(prefix) else {
                return res;
            };
            for attr in a.entries {
                let name = self.s.ev.interner.name(attr.name);
                if name.starts_with(partial) {
                    res.push(format!(
                        "{prefix}.{}",
                        kiln_eval::print::show_attr_name(name.as_bytes())
                    ));
                }
            }
        } else {
            let names: Vec<Symbol> = self
                .vars
                .keys()
                .copied()
                .chain(self.s.ev.base_names())
                .collect();
            for n in names {
                let name = self.s.ev.interner.name(n);
                if name.starts_with(word) && !name.starts_with("__") {
                    res.push(name.into_owned());
                }
            }
            if word.starts_with("__") {
                for n in self.s.ev.base_names() {
                    let name = self.s.ev.interner.name(n);
                    if name.starts_with(word) {
                        res.push(name.into_owned());
                    }
                }
            }
        }
        res.sort();
        res.dedup();
        res
    }
}

/// Whether an error is the parser reaching the end of an unfinished expression.
fn is_unfinished(e: &EvalError) -> bool {
    matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("unexpected end of file"))
}

/// The line editor's view of the REPL: completion.
struct ReplHelper<'r, 's, 'a> {
    repl: &'r RefCell<Repl<'s, 'a>>,
}

impl Completer for ReplHelper<'_, '_, '_> {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        if before.starts_with(':') && !before.contains(char::is_whitespace) {
            let cands = COMMANDS
                .iter()
                .filter(|c| c.starts_with(before))
                .map(|c| Pair {
                    display: (*c).to_owned(),
                    replacement: (*c).to_owned(),
                })
                .collect();
            return Ok((0, cands));
        }
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '\'' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let Ok(mut repl) = self.repl.try_borrow_mut() else {
            return Ok((start, Vec::new()));
        };
        let cands = repl
            .completions(word)
            .into_iter()
            .map(|c| Pair {
                display: c.rsplit('.').next().unwrap_or(&c).to_owned(),
                replacement: c,
            })
            .collect();
        Ok((start, cands))
    }
}

impl Hinter for ReplHelper<'_, '_, '_> {
    type Hint = String;
}

impl Highlighter for ReplHelper<'_, '_, '_> {}

impl Validator for ReplHelper<'_, '_, '_> {}

impl Helper for ReplHelper<'_, '_, '_> {}

#[cfg(test)]
mod tests {
    use super::binding;

    #[test]
    fn bindings_are_told_from_comparisons() {
        assert_eq!(binding("x = 1"), Some(("x", " 1")));
        assert_eq!(binding("a-b' = { }"), Some(("a-b'", " { }")));
        assert_eq!(binding("x == 1"), None);
        assert_eq!(binding("{ a = 1; }"), None);
        assert_eq!(binding("f x = 1"), None);
    }
}
