//! The evaluator: [`Eval`] holds an evaluation's state and runs [`Ir`] in environments.
//!
//! `eval` returns values in weak head normal form; arguments, list elements and attribute
//! values become thunks unless they are literals or variables (whose slot is shared instead:
//! CppNix's "thunk avoidance"). [`Eval::force`] is the only place a thunk changes state:
//! pending → blackhole → done, restored to pending if its evaluation fails (so `tryEval` and a
//! later force see the original and meeting a blackhole means infinite recursion).

mod access;
mod alloc;
mod call;
mod coerce;
mod compare;
mod errors;
mod expr;
mod force;
mod ops;
mod repl;

pub use coerce::CoerceMode;
pub(crate) use compare::same_value;
use errors::{path_missing, ELOOP};

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bumpalo::Bump;

use crate::builtins;
pub use crate::eval_error::EvalResult;
use crate::eval_error::{ErrorKind, EvalError};
use crate::intern::{Interner, Symbol};
use crate::io::EvalIo;
use crate::ir::Ir;
use crate::lower::{alloc_str, Lowerer, PathContext};
use crate::report::{Notice, Reporter, Silent};
use crate::span::{FileId, SourceMap, Span};
use crate::value::{Attrs, Env, List, PosIdx, Value};

/// Symbols the evaluator itself needs.
pub struct Syms {
    /// `outPath`.
    pub out_path: Symbol,
    /// `type`.
    pub type_: Symbol,
    /// `__functor`.
    pub functor: Symbol,
    /// `__toString`.
    pub to_string: Symbol,
    /// `file`.
    pub file: Symbol,
    /// `line`.
    pub line: Symbol,
    /// `column`.
    pub column: Symbol,
    /// `name`.
    pub name: Symbol,
    /// `value`.
    pub value: Symbol,
}

/// Settings that change what an evaluation sees.
#[derive(Debug, Clone)]
pub struct EvalSettings {
    /// The deepest nesting of function calls allowed (`max-call-depth`).
    pub max_call_depth: usize,
    /// `builtins.currentSystem`.
    pub current_system: String,
    /// The search path (`-I`, `NIX_PATH`): `(prefix, path)` pairs, prefix empty for plain ones.
    pub nix_path: Vec<(String, String)>,
    /// `abort-on-warn`: `builtins.warn` fails after printing its warning.
    pub abort_on_warn: bool,
    /// The enabled experimental features (`experimental-features`), by Nix's names.
    pub experimental_features: Vec<String>,
    /// `pure-eval`: no environment, clock, system or search path, and no file outside the
    /// store may be read.
    pub pure_eval: bool,
    /// `restrict-eval`: no environment, and only files in the search path or the store may be
    /// read.
    pub restrict_eval: bool,
    /// `trace-verbose`: `builtins.traceVerbose` prints as `trace` does.
    pub trace_verbose: bool,
    /// The Nix code Kiln ships (`lib`, the module system, the OS modules, the package set):
    /// where `<kiln>` and `<kiln/…>` lead when no search path entry has them, as `<nix/…>`
    /// falls back to the corepkgs. By default the source tree's `nix/` this crate was built
    /// from.
    pub kiln_dir: Option<std::path::PathBuf>,
}

impl EvalSettings {
    /// Whether the experimental feature `name` (`pipe-operators`, …) is enabled.
    pub fn has_feature(&self, name: &str) -> bool {
        self.experimental_features.iter().any(|f| f == name)
    }
}

impl Default for EvalSettings {
    fn default() -> Self {
        EvalSettings {
            max_call_depth: 10_000,
            current_system: "x86_64-linux".to_owned(),
            nix_path: Vec::new(),
            abort_on_warn: false,
            experimental_features: Vec::new(),
            pure_eval: false,
            restrict_eval: false,
            trace_verbose: false,
            kiln_dir: Some(std::path::PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../nix"
            ))),
        }
    }
}

/// How deeply `deepSeq` (and `--strict`) and `toJSON` follow nested values before failing as
/// Nix 2.26 fails when its native stack runs out ("stack overflow (possible infinite
/// recursion)"). Nix has no such number; these are the depths of nested sets at which
/// 2.26 on x86_64-linux was measured to overflow (between 83750 and 83906 levels for
/// `deepSeq`, 99687 and 99843 for `toJSON`).
pub const MAX_DEEP_NESTING: usize = 83_800;
/// See [`MAX_DEEP_NESTING`].
pub const MAX_JSON_NESTING: usize = 99_750;

/// Call environments with this many slots or more are not kept for reuse.
const MAX_POOLED_SLOTS: usize = 16;

/// The deepest the evaluator recurses on the Rust stack before reporting a stack overflow.
const MAX_EVAL_DEPTH: usize = 100_000;

/// How many sets with `__toString` a path coercion (`builtins::control::coerce_to_path`, which
/// follows them in a loop) takes in turn before failing as Nix does when that never ends and
/// its stack runs out ("stack overflow (possible infinite recursion)").
pub(crate) const MAX_TO_STRING_CHAIN: usize = 10_000;

/// The state of one evaluation.
pub struct Eval<'a> {
    /// Where every value lives.
    pub arena: &'a Bump,
    /// Identifiers and attribute names.
    pub interner: Interner,
    /// Every file and string parsed.
    pub sources: SourceMap,
    /// The outside world.
    pub io: Box<dyn EvalIo + 'a>,
    /// Settings.
    pub settings: EvalSettings,
    /// Well-known symbols.
    pub syms: Syms,
    base_env: &'a Env<'a>,
    base_names: crate::intern::SymbolMap<u32>,
    import_cache: HashMap<Vec<u8>, Value<'a>>,
    positions: Vec<Span>,
    sym_strings: Vec<Option<Value<'a>>>,
    scratch: Vec<u8>,
    /// The `builtins` set, for lowering `builtins.name` to the builtin.
    builtins_set: Option<&'a Attrs<'a>>,
    /// `[ ]`, shared by every empty list literal.
    empty_list: Value<'a>,
    /// What the derivation builtins remember between calls.
    pub(crate) drv_state: builtins::DrvState<'a>,
    call_depth: usize,
    eval_depth: usize,
    /// Set by `force_deep` just before it forces a builtin's lazy application, which then
    /// takes its call site from its function (as Nix's deep forcing passes the value's
    /// `determinePos`); any other forcer gives none. Cleared as the application starts.
    deep_site: bool,
    /// Whether the environment of the innermost call (or thunk) being evaluated was captured
    /// by a thunk, a closure or a child environment since it began; see `call_lambda`.
    env_captured: std::cell::Cell<bool>,
    /// Call environments that nothing captured, by slot count, ready for the next call: the
    /// head of a list linked through their `up` fields.
    env_pool: [Option<&'a Env<'a>>; MAX_POOLED_SLOTS],
    /// Compiled regular expressions of `match` and `split`, by pattern.
    pub(crate) regex_cache: builtins::regex::RegexCache,
    /// The last string interned as a dynamic attribute name, and its symbol: code like
    /// `map (m: m.${name}) modules` looks up one string many times. Strings are immutable for
    /// the evaluation's lifetime, so the same bytes (address and length) are the same name.
    last_dynamic_key: Option<(&'a [u8], Symbol)>,
    /// Under `pure-eval` or `restrict-eval`, the directories whose files may be read (besides
    /// the store's); `None` when every file may be.
    allowed_paths: Option<Vec<Vec<u8>>>,
    /// Where traces and warnings go ([`Self::set_reporter`]).
    reporter: Box<dyn Reporter + 'a>,
}

/// Builds a type error.
pub fn type_error<'a>(
    expected: &'static str,
    found: &Value<'a>,
    ev: &Eval<'a>,
    span: Span,
) -> Box<EvalError> {
    EvalError::new(
        ErrorKind::Type {
            expected,
            found: found.type_phrase(),
            value: crate::print::brief(ev, *found),
        },
        Some(span),
    )
}

impl<'a> Eval<'a> {
    /// Starts an evaluation whose values live in `arena`.
    pub fn new(arena: &'a Bump, io: Box<dyn EvalIo + 'a>, settings: EvalSettings) -> Self {
        let mut interner = Interner::new();
        let syms = Syms {
            out_path: interner.intern(b"outPath"),
            type_: interner.intern(b"type"),
            functor: interner.intern(b"__functor"),
            to_string: interner.intern(b"__toString"),
            file: interner.intern(b"file"),
            line: interner.intern(b"line"),
            column: interner.intern(b"column"),
            name: interner.intern(b"name"),
            value: interner.intern(b"value"),
        };
        let empty_env: &'a Env<'a> = arena.alloc(Env {
            up: std::cell::Cell::new(None),
            slots: &[],
        });
        let mut ev = Eval {
            arena,
            interner,
            sources: SourceMap::new(),
            io,
            settings,
            syms,
            base_env: empty_env,
            base_names: Default::default(),
            import_cache: HashMap::new(),
            positions: vec![dummy_span()],
            sym_strings: Vec::new(),
            scratch: Vec::new(),
            empty_list: Value::List(arena.alloc(List { elems: &[] })),
            builtins_set: None,
            drv_state: Default::default(),
            call_depth: 0,
            eval_depth: 0,
            deep_site: false,
            env_captured: std::cell::Cell::new(false),
            env_pool: [None; MAX_POOLED_SLOTS],
            regex_cache: Default::default(),
            last_dynamic_key: None,
            allowed_paths: None,
            reporter: Box::new(Silent),
        };
        ev.allowed_paths = ev.initial_allowed_paths();
        let (env, names) = builtins::base_env(&mut ev);
        ev.base_env = env;
        let builtins_sym = ev.interner.intern(b"builtins");
        ev.builtins_set = names.get(&builtins_sym).and_then(|&slot| {
            match env.slots[slot as usize].get().resolved() {
                Value::Attrs(a) => Some(a),
                _ => None,
            }
        });
        ev.base_names = names;
        ev
    }

    /// Sends this evaluation's traces and warnings to `reporter` (by default they are
    /// dropped).
    pub fn set_reporter(&mut self, reporter: Box<dyn Reporter + 'a>) {
        self.reporter = reporter;
    }

    /// Tells the caller's reporter about `notice`, now.
    pub fn report(&self, notice: Notice<'_>) {
        self.reporter.report(notice);
    }

    /// Parses and lowers `src` (named `name`, with relative paths resolved against `dir`),
    /// returning its code.
    pub fn compile(&mut self, name: &str, src: &[u8], dir: &Path) -> EvalResult<&'a Ir<'a>> {
        let file = self.sources.add(name, src.to_vec());
        self.compile_file(file, dir)
    }

    fn compile_file(&mut self, file: FileId, dir: &Path) -> EvalResult<&'a Ir<'a>> {
        self.compile_file_in(file, dir, None)
    }

    fn compile_file_in(
        &mut self,
        file: FileId,
        dir: &Path,
        scope: Option<crate::intern::SymbolMap<u32>>,
    ) -> EvalResult<&'a Ir<'a>> {
        use std::os::unix::ffi::OsStrExt;
        let text = self.sources.text(file).to_vec();
        let parsed = self.parse_source(file, &text);
        if let Some(first) = parsed.errors.first() {
            // Nix stops at the first syntax error and reports it like any other error: the
            // message, then where (which the span gives).
            let rendered = self.sources.render_error(first);
            let location = format!("{}: ", self.sources.location(first.span));
            let message = rendered
                .strip_prefix(&location)
                .unwrap_or(&rendered)
                .to_owned();
            return Err(EvalError::new(ErrorKind::Syntax(message), Some(first.span)));
        }
        let home = self.io.get_env("HOME");
        let mut lowerer = Lowerer::new(
            self.arena,
            &mut self.interner,
            &self.base_names,
            PathContext {
                base_dir: dir.as_os_str().as_bytes(),
                home: home.as_deref(),
                pure: self.settings.pure_eval,
            },
            &mut self.positions,
        )
        .with_builtins(self.builtins_set);
        if let Some(names) = scope {
            lowerer.push_scope(names);
        }
        lowerer.lower_root(&parsed.expr).map_err(|e| {
            let undefined = match e {
                crate::lower::LowerError::Undefined(undefined) => undefined,
                crate::lower::LowerError::HomeInPureMode(path) => {
                    return EvalError::new(
                        ErrorKind::Message(format!(
                            "the path '{path}' can not be resolved in pure mode"
                        )),
                        None,
                    )
                }
            };
            // The first in the source, as Nix, binding in the order of the text, meets it.
            let first = undefined
                .iter()
                .min_by_key(|u| u.span.start)
                .expect("lowering fails only with an undefined variable");
            EvalError::new(
                ErrorKind::UndefinedVariable(first.name.clone()),
                Some(first.span),
            )
        })
    }

    /// Parses `src` and prints it as `nix-instantiate --parse` does, after the checks Nix
    /// makes first (syntax, undefined variables).
    pub fn parse_and_show(&mut self, name: &str, src: &[u8], dir: &Path) -> EvalResult<Vec<u8>> {
        use std::os::unix::ffi::OsStrExt;
        self.compile(name, src, dir)?;
        let file = FileId(self.sources.len() as u32 - 1);
        let parsed = self.parse_source(file, src);
        let home = self.io.get_env("HOME");
        Ok(crate::show::show(
            &parsed.expr,
            &self.interner,
            dir.as_os_str().as_bytes(),
            home.as_deref(),
        ))
    }

    /// Evaluates an expression given as a string (`--expr`), relative paths against `dir`.
    pub fn eval_string(&mut self, src: &[u8], dir: &Path) -> EvalResult<Value<'a>> {
        let ir = self.compile("«string»", src, dir)?;
        let env = self.base_env;
        self.eval(ir, env)
    }

    /// The file an import of `path` reads, as Nix's `resolveExprPath` finds it: a final
    /// symbolic link is followed (again and again, so relative paths in the file resolve
    /// against its real directory), then a directory means its `default.nix`.
    fn resolve_import(&self, path: &Path) -> EvalResult<PathBuf> {
        use crate::io::FileType;
        let mut path = path.to_path_buf();
        let mut follows = 0;
        loop {
            match self.io.file_type(&path) {
                Ok(FileType::Symlink) => {}
                Ok(FileType::Directory) => {
                    path.push("default.nix");
                    return Ok(path);
                }
                // A missing file is reported when it is read.
                _ => return Ok(path),
            }
            follows += 1;
            if follows >= 1024 {
                return Err(EvalError::new(
                    ErrorKind::Message(format!(
                        "too many symbolic links encountered while traversing the path '{}'",
                        path.display()
                    )),
                    None,
                ));
            }
            let Ok(target) = self.io.read_link(&path) else {
                return Ok(path);
            };
            use std::os::unix::ffi::{OsStrExt, OsStringExt};
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let joined = dir.join(target);
            path = PathBuf::from(std::ffi::OsString::from_vec(crate::lower::canon_path(
                joined.as_os_str().as_bytes(),
            )));
        }
    }

    /// Reads a file into the source map, returning it and the directory its relative paths
    /// resolve against.
    fn load_file(&mut self, path: &Path) -> EvalResult<(FileId, PathBuf)> {
        self.check_access(path)?;
        if !self.io.path_exists(path) {
            return Err(path_missing(path, dummy_span()));
        }
        let src = self.io.read_file(path).map_err(|e| {
            let message = if e.raw_os_error() == Some(ELOOP) {
                format!(
                    "too many symbolic links encountered while traversing the path '{}'",
                    path.display()
                )
            } else {
                format!("opening file '{}': {e}", path.display())
            };
            EvalError::new(ErrorKind::Message(message), None)
        })?;
        let file = self.sources.add(path.display().to_string(), src);
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        Ok((file, dir))
    }

    /// Evaluates a file (`import path`), with the import cache.
    pub fn eval_file(&mut self, path: &Path) -> EvalResult<Value<'a>> {
        use std::os::unix::ffi::OsStrExt;
        let path = self.resolve_import(path)?;
        let key = path.as_os_str().as_bytes().to_vec();
        if let Some(v) = self.import_cache.get(&key) {
            return Ok(*v);
        }
        let (file, dir) = self.load_file(&path)?;
        let ir = self.compile_file(file, &dir)?;
        let env = self.base_env;
        let v = self.eval(ir, env)?;
        self.import_cache.insert(key, v);
        Ok(v)
    }

    /// Evaluates a file with the attributes of `scope` in scope above the builtins
    /// (`scopedImport`): they shadow builtins of the same name. Not cached, since the result
    /// depends on the set.
    pub fn eval_file_scoped(&mut self, path: &Path, scope: &'a Attrs<'a>) -> EvalResult<Value<'a>> {
        let path = self.resolve_import(path)?;
        let (file, dir) = self.load_file(&path)?;
        let names = scope
            .entries
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name, i as u32))
            .collect();
        let ir = self.compile_file_in(file, &dir, Some(names))?;
        let env = self.new_env(self.base_env, scope.entries.len());
        for (cell, a) in env.slots.iter().zip(scope.entries) {
            cell.set(a.value);
        }
        self.eval(ir, env)
    }

    /// The source span of a position index, if it has one.
    pub fn pos_span(&self, pos: PosIdx) -> Option<Span> {
        match pos {
            PosIdx::NONE => None,
            PosIdx(i) => self.positions.get(i as usize).copied(),
        }
    }

    /// The environment of builtins.
    pub fn base_env(&self) -> &'a Env<'a> {
        self.base_env
    }

    /// Parses source text, with `|>` and `<|` if the `pipe-operators` experimental feature
    /// is enabled.
    fn parse_source(&mut self, file: FileId, src: &[u8]) -> crate::parser::Parse {
        let pipes = self.settings.has_feature("pipe-operators");
        crate::parser::parse_with(file, src, &mut self.interner, pipes)
    }

    /// The string value of a symbol's name, allocated once per symbol.
    pub fn sym_value(&mut self, sym: Symbol) -> Value<'a> {
        let i = sym.0 as usize;
        if let Some(Some(v)) = self.sym_strings.get(i) {
            return *v;
        }
        let v = Value::String(alloc_str(self.arena, self.interner.resolve(sym)));
        if self.sym_strings.len() <= i {
            self.sym_strings.resize(i + 1, None);
        }
        self.sym_strings[i] = Some(v);
        v
    }

    /// Interns a name.
    pub fn sym(&mut self, name: &[u8]) -> Symbol {
        self.interner.intern(name)
    }
}

/// The span of an IR node, where it has one.
pub fn ir_span(ir: &Ir<'_>) -> Span {
    match ir {
        Ir::Var { span, .. }
        | Ir::WithVar { span, .. }
        | Ir::Select { span, .. }
        | Ir::Call { span, .. }
        | Ir::Assert { span, .. }
        | Ir::If { span, .. }
        | Ir::Not(_, span)
        | Ir::Neg(_, span)
        | Ir::Bin { span, .. }
        | Ir::Interpolate { span, .. }
        | Ir::PathInterpolate { span, .. }
        | Ir::Known(_, span)
        | Ir::CurPos(span) => *span,
        Ir::Lambda(l) => l.span,
        _ => dummy_span(),
    }
}

/// The call site Nix gives a lazy application a builtin made (`map`, `mapAttrs`, …) when
/// deep forcing (`deepSeq`, `--strict`) forces it: the position of the function when it is an
/// evaluated lambda by then (Nix's `determinePos` of the application), else none, and no
/// "from call site".
#[inline]
fn lazy_site(f: Value<'_>) -> Span {
    match f.resolved() {
        Value::Lambda(c) => c.lambda.span,
        _ => NO_SITE,
    }
}

/// The site of a builtin's call back into Nix code ([`Eval::call_n`]): no position, and no
/// "from call site" frame.
const NO_SITE: Span = Span {
    file: FileId(u32::MAX),
    start: 1,
    end: 1,
};

/// A span for errors whose location is unknown.
pub fn dummy_span() -> Span {
    Span::new(FileId(u32::MAX), 0, 0)
}
