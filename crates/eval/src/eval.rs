//! The evaluator: [`Eval`] holds an evaluation's state and runs [`Ir`] in environments.
//!
//! `eval` returns values in weak head normal form; arguments, list elements and attribute
//! values become thunks unless they are literals or variables (whose slot is shared instead:
//! CppNix's "thunk avoidance"). [`Eval::force`] is the only place a thunk changes state:
//! pending → blackhole → done, restored to pending if its evaluation fails (so `tryEval` and a
//! later force see the original and meeting a blackhole means infinite recursion).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bumpalo::Bump;

use crate::builtins;
pub use crate::eval_error::EvalResult;
use crate::eval_error::{ErrorKind, EvalError};
use crate::intern::{Interner, Symbol};
use crate::io::EvalIo;
use crate::ir::{AttrKey, AttrsIr, BinOp, Ir, LambdaIr, ParamIr};
use crate::lower::{alloc_str, canon_path, Lowerer, PathContext};
use crate::span::{FileId, SourceMap, Span};
use crate::value::{
    Attr, Attrs, Closure, ContextElem, Env, List, NixString, PosIdx, PrimOpApp, Thunk, ThunkState,
    Value,
};

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

    // ----- entry points -----

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

    /// The file an import of `path` reads: `path/default.nix` for a directory.
    fn resolve_import(&self, path: &Path) -> PathBuf {
        let mut path = path.to_path_buf();
        if self.io.file_type(&path).ok() == Some(crate::io::FileType::Directory) {
            path.push("default.nix");
        }
        path
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
        let path = self.resolve_import(path);
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
        let path = self.resolve_import(path);
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

    // ----- allocation helpers -----

    /// Allocates a string with a context.
    pub fn new_string(&self, bytes: &[u8], context: &[ContextElem<'a>]) -> Value<'a> {
        let context: &'a [ContextElem<'a>] = if context.is_empty() {
            &[]
        } else {
            self.arena.alloc_slice_copy(context)
        };
        Value::String(self.arena.alloc(NixString {
            bytes: self.arena.alloc_slice_copy(bytes),
            context,
        }))
    }

    /// Allocates a string without context.
    pub fn new_str(&self, bytes: &[u8]) -> Value<'a> {
        Value::String(alloc_str(self.arena, bytes))
    }

    /// Allocates a path value (canonicalising it).
    pub fn new_path(&self, bytes: &[u8]) -> Value<'a> {
        Value::Path(alloc_str(self.arena, &canon_path(bytes)))
    }

    /// Allocates a list.
    pub fn new_list(&self, elems: Vec<Value<'a>>) -> Value<'a> {
        if elems.is_empty() {
            return Value::List(self.arena.alloc(List { elems: &[] }));
        }
        Value::List(self.arena.alloc(List {
            elems: self.arena.alloc_slice_copy(&elems),
        }))
    }

    /// Allocates a list straight from an iterator of known length, with no temporary vector
    /// (for `genList`, `map` and list literals, whose temporaries were as large as the list).
    pub fn new_list_iter(&self, elems: impl ExactSizeIterator<Item = Value<'a>>) -> Value<'a> {
        Value::List(self.arena.alloc(List {
            elems: self.arena.alloc_slice_fill_iter(elems),
        }))
    }

    /// Allocates a set from attributes in any order; for duplicate names the first wins.
    pub fn new_attrs(&self, mut attrs: Vec<Attr<'a>>) -> Value<'a> {
        attrs.sort_by_key(|a| a.name);
        attrs.dedup_by_key(|a| a.name);
        Value::Attrs(self.arena.alloc(Attrs {
            entries: self.arena.alloc_slice_copy(&attrs),
        }))
    }

    /// The paths readable under `restrict-eval` (the search path's directories) or
    /// `pure-eval` (none); `None` when unrestricted.
    fn initial_allowed_paths(&self) -> Option<Vec<Vec<u8>>> {
        if self.settings.pure_eval {
            return Some(Vec::new());
        }
        if !self.settings.restrict_eval {
            return None;
        }
        let cwd = self.io.current_dir();
        let mut allowed = Vec::new();
        for (_, entry) in &self.settings.nix_path {
            let path = if entry.starts_with('/') {
                PathBuf::from(entry)
            } else if entry.contains("://") || entry.contains(':') {
                continue;
            } else {
                match &cwd {
                    Some(dir) => dir.join(entry),
                    None => continue,
                }
            };
            use std::os::unix::ffi::OsStrExt;
            // As written, and with its links resolved (what a resolved path is checked against).
            if let Ok(real) = self.io.canonicalize(&path) {
                allowed.push(canon_path(real.as_os_str().as_bytes()));
            }
            allowed.push(canon_path(path.as_os_str().as_bytes()));
        }
        Some(allowed)
    }

    /// Whether evaluation is restricted (`pure-eval` or `restrict-eval`): no environment
    /// variables, and files only from allowed places.
    pub fn restricted(&self) -> bool {
        self.allowed_paths.is_some()
    }

    /// Checks that `path` may be read under `pure-eval`/`restrict-eval`, as Nix 2.26 does:
    /// walking down from the root, each directory must lead to or lie in an allowed one, and
    /// the error names the first that does not.
    pub fn check_access(&self, path: &Path) -> EvalResult<()> {
        match self.forbidden_prefix(path) {
            Some(prefix) => Err(self.access_error(&prefix)),
            None => Ok(()),
        }
    }

    /// Where `path` first leaves the readable places, if it does: as written, and then with
    /// its symbolic links resolved, so that no link leads out of them.
    pub fn forbidden_prefix(&self, path: &Path) -> Option<Vec<u8>> {
        self.allowed_paths.as_ref()?;
        if let Some(prefix) = self.forbidden_lexically(path) {
            return Some(prefix);
        }
        let real = self.io.canonicalize(path).ok()?;
        self.forbidden_lexically(&real)
    }

    /// Where `path` first leaves the readable places, if it does (see [`Self::check_access`]).
    ///
    /// Paths inside the store (below its directory) are readable. Nix is stricter there: it
    /// allows only store paths that the evaluation produced or that a string's context names,
    /// so a store path written as a literal is refused by Nix and read by Kiln.
    fn forbidden_lexically(&self, path: &Path) -> Option<Vec<u8>> {
        use std::os::unix::ffi::OsStrExt;
        let allowed = self.allowed_paths.as_ref()?;
        let path = canon_path(path.as_os_str().as_bytes());
        let within = |inner: &[u8], outer: &[u8]| {
            inner == outer
                || (inner.starts_with(outer)
                    && (outer == b"/" || inner.get(outer.len()) == Some(&b'/')))
        };
        let store = self.io.store_dir().as_bytes();
        if within(&path, store) && path.len() > store.len() {
            return None;
        }
        let mut end = 0;
        while end < path.len() {
            end = path[end + 1..]
                .iter()
                .position(|&b| b == b'/')
                .map_or(path.len(), |i| end + 1 + i);
            let prefix = &path[..end];
            if allowed.iter().any(|a| within(prefix, a)) {
                return None;
            }
            // A directory on the way to an allowed one may be looked at, not what else it holds.
            if !allowed.iter().any(|a| within(a, prefix)) {
                return Some(prefix.to_vec());
            }
        }
        None
    }

    /// Nix's error for reading `path` where evaluation is restricted.
    pub fn access_error(&self, path: &[u8]) -> Box<EvalError> {
        let mode = if self.settings.pure_eval {
            "in pure evaluation mode (use '--impure' to override)"
        } else {
            "in restricted mode"
        };
        EvalError::new(
            ErrorKind::Message(format!(
                "access to absolute path '{}' is forbidden {mode}",
                String::from_utf8_lossy(path)
            )),
            None,
        )
    }

    /// Parses source text, with `|>` and `<|` if the `pipe-operators` experimental feature
    /// is enabled.
    fn parse_source(&mut self, file: FileId, src: &[u8]) -> crate::parser::Parse {
        let pipes = self.settings.has_feature("pipe-operators");
        crate::parser::parse_with(file, src, &mut self.interner, pipes)
    }

    /// Makes a lazy application `f arg`.
    pub fn lazy_apply(&self, f: Value<'a>, arg: Value<'a>) -> Value<'a> {
        let call = self.arena.alloc([f, arg]);
        Value::Thunk(self.arena.alloc(Thunk {
            state: std::cell::Cell::new(ThunkState::Apply(call)),
        }))
    }

    /// Makes a lazy application `f arg` from a function and an argument that live in the
    /// arena already (one per element, in `map`): a thunk and nothing else.
    pub fn lazy_apply_ref(&self, f: &'a Value<'a>, arg: &'a Value<'a>) -> Value<'a> {
        Value::Thunk(self.arena.alloc(Thunk {
            state: std::cell::Cell::new(ThunkState::Apply1 { f, arg }),
        }))
    }

    /// Makes a lazy application `f name value` of an attribute (`mapAttrs`): a thunk and
    /// nothing else; the name's string is made when it is forced.
    pub fn lazy_apply_attr(&self, f: &'a Value<'a>, attr: &'a Attr<'a>) -> Value<'a> {
        Value::Thunk(self.arena.alloc(Thunk {
            state: std::cell::Cell::new(ThunkState::ApplyAttr { f, attr }),
        }))
    }

    /// Makes a lazy application `f index` (`genList`): a thunk and nothing else.
    pub fn lazy_apply_index(&self, f: &'a Value<'a>, index: i64) -> Value<'a> {
        Value::Thunk(self.arena.alloc(Thunk {
            state: std::cell::Cell::new(ThunkState::ApplyIndex { f, index }),
        }))
    }

    /// Makes a lazy application `f a b`: one thunk, not two.
    pub fn lazy_apply2(&self, f: Value<'a>, a: Value<'a>, b: Value<'a>) -> Value<'a> {
        let call = self.arena.alloc([f, a, b]);
        Value::Thunk(self.arena.alloc(Thunk {
            state: std::cell::Cell::new(ThunkState::Apply(call)),
        }))
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

    // ----- forcing -----

    /// Evaluates `v` to weak head normal form.
    #[inline]
    pub fn force(&mut self, v: Value<'a>) -> EvalResult<Value<'a>> {
        match v {
            Value::Thunk(t) => self.force_thunk(t),
            _ => Ok(v),
        }
    }

    fn force_thunk(&mut self, t: &'a Thunk<'a>) -> EvalResult<Value<'a>> {
        let state = t.state.get();
        match state {
            ThunkState::Done(v) => Ok(v),
            ThunkState::Blackhole => Err(EvalError::new(ErrorKind::InfiniteRecursion, None)),
            ThunkState::Pending { ir, env } => {
                t.state.set(ThunkState::Blackhole);
                self.eval_depth += 1;
                if self.eval_depth > MAX_EVAL_DEPTH {
                    // Where Nix would run out of native stack: its message for that.
                    self.eval_depth -= 1;
                    t.state.set(state);
                    return Err(EvalError::new(ErrorKind::NestingTooDeep, None));
                }
                // The thunk's code runs in its own environment: what it captures is not the
                // current call's business.
                let captured = self.env_captured.replace(false);
                let res = self.eval(ir, env);
                self.env_captured.set(captured);
                self.eval_depth -= 1;
                match res {
                    Ok(v) => {
                        t.state.set(ThunkState::Done(v));
                        Ok(v)
                    }
                    Err(e) => {
                        t.state.set(state);
                        Err(e)
                    }
                }
            }
            ThunkState::Apply(_)
            | ThunkState::Apply1 { .. }
            | ThunkState::ApplyAttr { .. }
            | ThunkState::ApplyIndex { .. } => {
                t.state.set(ThunkState::Blackhole);
                let deep = std::mem::replace(&mut self.deep_site, false);
                let site = |f: Value<'a>| if deep { lazy_site(f) } else { NO_SITE };
                let res = match state {
                    ThunkState::Apply1 { f, arg } => self
                        .call(*f, *arg, Some(site(*f)))
                        .and_then(|v| self.force(v)),
                    ThunkState::ApplyAttr { f, attr } => {
                        let name = self.sym_value(attr.name);
                        self.call_n_general(*f, &[name, attr.value], site(*f))
                    }
                    ThunkState::ApplyIndex { f, index } => self
                        .call(*f, Value::Int(index), Some(site(*f)))
                        .and_then(|v| self.force(v)),
                    ThunkState::Apply(call) => {
                        self.call_n_general(call[0], &call[1..], site(call[0]))
                    }
                    _ => unreachable!("matched above"),
                };
                match res {
                    Ok(v) => {
                        t.state.set(ThunkState::Done(v));
                        Ok(v)
                    }
                    Err(e) => {
                        t.state.set(state);
                        Err(e)
                    }
                }
            }
        }
    }

    /// Forces `v` completely (`deepSeq`, `--strict`): lists and sets recursively.
    pub fn force_deep(&mut self, v: Value<'a>) -> EvalResult<Value<'a>> {
        let mut seen = std::collections::HashSet::new();
        self.force_deep_inner(v, &mut seen, 0)
    }

    fn force_deep_inner(
        &mut self,
        v: Value<'a>,
        seen: &mut std::collections::HashSet<usize>,
        depth: usize,
    ) -> EvalResult<Value<'a>> {
        if depth > MAX_DEEP_NESTING {
            return Err(EvalError::new(ErrorKind::NestingTooDeep, None));
        }
        // A builtin's lazy application forced here gets its function as call site.
        if let Value::Thunk(t) = v {
            self.deep_site = matches!(
                t.state.get(),
                ThunkState::Apply(_)
                    | ThunkState::Apply1 { .. }
                    | ThunkState::ApplyAttr { .. }
                    | ThunkState::ApplyIndex { .. }
            );
        }
        let v = self.force(v)?;
        match v {
            Value::Attrs(a) if seen.insert(a as *const _ as usize) => {
                for attr in a.entries {
                    if let Err(mut e) = self.force_deep_inner(attr.value, seen, depth + 1) {
                        if matches!(e.kind, ErrorKind::NestingTooDeep) {
                            return Err(e);
                        }
                        e.add_trace(
                            format!(
                                "while evaluating the attribute '{}'",
                                crate::print::show_attr_name(self.interner.resolve(attr.name))
                            ),
                            self.pos_span(attr.pos),
                            false,
                        );
                        return Err(e);
                    }
                }
            }
            Value::List(l) if seen.insert(l as *const _ as usize) => {
                for e in l.elems {
                    self.force_deep_inner(*e, seen, depth + 1)?;
                }
            }
            _ => {}
        }
        Ok(v)
    }

    // ----- evaluation -----

    /// Makes a thunk for `ir` in `env`, or the value itself when no delay is needed.
    #[inline]
    fn thunk(&self, ir: &'a Ir<'a>, env: &'a Env<'a>) -> Value<'a> {
        // Only what Nix itself never delays is taken as it is: literals and variables (whose
        // slot is shared). Anything else, even `1 + 1` or a lambda, is a thunk, because an
        // unforced value prints as `<CODE>` and must stay one until something forces it.
        match ir {
            Ir::Const(v) => *v,
            Ir::Var { depth, slot, .. } => lookup(env, *depth, *slot).get(),
            _ => self.new_thunk(ir, env),
        }
    }

    /// Allocates a pending thunk, which captures `env`.
    #[inline]
    fn new_thunk(&self, ir: &'a Ir<'a>, env: &'a Env<'a>) -> Value<'a> {
        self.env_captured.set(true);
        Value::Thunk(self.arena.alloc(Thunk::new(ir, env)))
    }

    /// Like [`Self::thunk`], for code that will live in `env` itself (`let`, `rec`, defaults):
    /// a variable of `env` may not be set yet, so it gets a real thunk.
    #[inline]
    fn thunk_in(&self, ir: &'a Ir<'a>, env: &'a Env<'a>) -> Value<'a> {
        match ir {
            Ir::Var { depth: 0, .. } => self.new_thunk(ir, env),
            _ => self.thunk(ir, env),
        }
    }

    /// Like [`Self::thunk_in`] while the slots of `env` are filled in order: a variable naming
    /// a slot already filled (below `filled`) shares that slot's value, as Nix shares the
    /// variable's value, so `rec { a = 1; b = a; }` prints `b = 1` unforced, not `<CODE>`.
    #[inline]
    fn thunk_local(&self, ir: &'a Ir<'a>, env: &'a Env<'a>, filled: usize) -> Value<'a> {
        match ir {
            Ir::Var { depth: 0, slot, .. } if (*slot as usize) < filled => {
                env.slots[*slot as usize].get()
            }
            _ => self.thunk_in(ir, env),
        }
    }

    /// Evaluates `ir` in `env` to weak head normal form.
    ///
    /// Recursion is bounded without a counter here: the parser caps the nesting of code, and
    /// every unbounded recursion goes through [`Self::force`] or a call, which count depth.
    #[inline(always)]
    pub fn eval(&mut self, ir: &'a Ir<'a>, env: &'a Env<'a>) -> EvalResult<Value<'a>> {
        // Literals and evaluated variables, about half of all nodes, are answered at the call
        // site without entering a frame.
        match ir {
            Ir::Const(v) => Ok(*v),
            Ir::Var { depth, slot, span } => {
                let cell = lookup(env, *depth, *slot);
                match cell.get() {
                    v @ Value::Thunk(t) => match t.state.get() {
                        // Forced elsewhere (a list element, say): the slot takes the value.
                        ThunkState::Done(v) => {
                            cell.set(v);
                            Ok(v)
                        }
                        _ => self.force_slot(cell, v, *span),
                    },
                    v => Ok(v),
                }
            }
            _ => self.eval_hot(ir, env),
        }
    }

    /// The hot forms live here so this frame stays small; the rest are in `eval_cold`.
    #[inline(never)]
    fn eval_hot(&mut self, ir: &'a Ir<'a>, env: &'a Env<'a>) -> EvalResult<Value<'a>> {
        match ir {
            Ir::Const(v) | Ir::Known(v, _) => Ok(*v),
            Ir::List([]) => Ok(self.empty_list),
            Ir::Var { depth, slot, span } => {
                let cell = lookup(env, *depth, *slot);
                let v = cell.get();
                match v {
                    Value::Thunk(_) => self.force_slot(cell, v, *span),
                    _ => Ok(v),
                }
            }
            Ir::If {
                cond,
                then,
                else_,
                span,
            } => match self.eval(cond, env) {
                Ok(Value::Bool(true)) => self.eval(then, env),
                Ok(Value::Bool(false)) => self.eval(else_, env),
                Ok(other) => Err(self.condition_error(other, *span)),
                Err(e) => Err(frame(e, "while evaluating a branch condition", *span)),
            },
            Ir::Bin {
                op,
                lhs,
                rhs,
                span,
                operands,
            } => self.eval_bin(*op, lhs, rhs, *span, *operands, env),
            Ir::Select {
                expr,
                path,
                default,
                span,
            } => self.eval_select(expr, path, *default, *span, env),
            Ir::Call { func, args, span } => {
                let mut f = self.eval(func, env)?;
                for arg in *args {
                    let a = match (f, arg) {
                        (
                            Value::Lambda(c),
                            Ir::Bin { .. } | Ir::Select { .. } | Ir::Call { .. },
                        ) if c.lambda.strict => match eager_value(arg, env) {
                            Some(v) => v,
                            None => self.thunk(arg, env),
                        },
                        _ => self.thunk(arg, env),
                    };
                    f = self.call(f, a, Some(*span))?;
                }
                Ok(f)
            }
            _ => self.eval_cold(ir, env),
        }
    }

    /// The error of a failed `assert`. For `a == b` it is Nix's explanation of the first
    /// difference, under a frame naming the condition; else "assertion 'COND' failed" at the
    /// `assert`. The condition is printed as Nix shows expressions (re-parsed from its source:
    /// the cost is paid only here).
    #[cold]
    #[inline(never)]
    fn assertion_failed(
        &mut self,
        cond: &'a Ir<'a>,
        cond_span: Span,
        span: Span,
        env: &'a Env<'a>,
    ) -> Box<EvalError> {
        let shown = self.show_source(cond_span);
        if let Ir::Bin {
            op: BinOp::Eq,
            lhs,
            rhs,
            span: eq_span,
            ..
        } = cond
        {
            let res = self.eval(lhs, env).and_then(|l| {
                let r = self.eval(rhs, env)?;
                self.assert_equal(l, r, *eq_span)
            });
            if let Err(mut e) = res {
                if matches!(e.kind, ErrorKind::AssertionFailed(_)) {
                    e.add_trace(
                        format!("while evaluating the condition of the assertion '{shown}'"),
                        Some(span),
                        false,
                    );
                }
                return e;
            }
        }
        EvalError::new(
            ErrorKind::AssertionFailed(format!("assertion '{shown}' failed")),
            Some(span),
        )
    }

    /// The source at `span` printed as Nix's `Expr::show` prints it.
    fn show_source(&mut self, span: Span) -> String {
        use std::os::unix::ffi::OsStrExt;
        let text = crate::print::snippet(&self.sources, span);
        let parsed = self.parse_source(span.file, text.as_bytes());
        if !parsed.errors.is_empty() {
            return text;
        }
        let dir = Path::new(self.sources.name(span.file))
            .parent()
            .map(|d| d.as_os_str().as_bytes().to_vec())
            .unwrap_or_default();
        let home = self.io.get_env("HOME");
        let shown = crate::show::show(&parsed.expr, &self.interner, &dir, home.as_deref());
        String::from_utf8_lossy(&shown).into_owned()
    }

    /// Compares two values as `==` does, failing with Nix's explanation of the first
    /// difference (`assertEqValues`).
    fn assert_equal(&mut self, a: Value<'a>, b: Value<'a>, span: Span) -> EvalResult<()> {
        let a = self.force(a)?;
        let b = self.force(b)?;
        if same_value(&a, &b) {
            return Ok(());
        }
        let fail = |msg: String| -> EvalResult<()> {
            Err(EvalError::new(ErrorKind::AssertionFailed(msg), None))
        };
        let brief = |ev: &Self, v: Value<'a>| crate::print::brief(ev, v);
        let numeric = |v: &Value<'a>| matches!(v, Value::Int(_) | Value::Float(_));
        if numeric(&a) && numeric(&b) {
            if self.equal(a, b, span)? {
                return Ok(());
            }
            return fail(format!(
                "{} with value '{}' is not equal to {} with value '{}'",
                a.type_phrase(),
                brief(self, a),
                b.type_phrase(),
                brief(self, b)
            ));
        }
        if a.type_phrase() != b.type_phrase() {
            return fail(format!(
                "{} of value '{}' is not equal to {} of value '{}'",
                a.type_phrase(),
                brief(self, a),
                b.type_phrase(),
                brief(self, b)
            ));
        }
        // Nix's `==` has no position of its own: these frames have none.
        let here = None;
        match (a, b) {
            (Value::Bool(x), Value::Bool(y)) if x != y => {
                fail(format!("boolean '{x}' is not equal to boolean '{y}'"))
            }
            (Value::String(x), Value::String(y)) if x.bytes != y.bytes => fail(format!(
                "string '{}' is not equal to string '{}'",
                brief(self, a),
                brief(self, b)
            )),
            (Value::Path(x), Value::Path(y)) if x.bytes != y.bytes => fail(format!(
                "path '{}' is not equal to path '{}'",
                brief(self, a),
                brief(self, b)
            )),
            (Value::List(x), Value::List(y)) => {
                if x.elems.len() != y.elems.len() {
                    return fail(format!(
                        "list of size '{}' is not equal to list of size '{}', left hand side is '{}', right hand side is '{}'",
                        x.elems.len(),
                        y.elems.len(),
                        brief(self, a),
                        brief(self, b)
                    ));
                }
                for (n, (p, q)) in x.elems.iter().zip(y.elems).enumerate() {
                    if let Err(mut e) = self.assert_equal(*p, *q, span) {
                        e.add_trace(format!("while comparing list element {n}"), here, false);
                        return Err(e);
                    }
                }
                Ok(())
            }
            (Value::Attrs(x), Value::Attrs(y)) => {
                if self.is_derivation(x)? && self.is_derivation(y)? {
                    let out_path = self.syms.out_path;
                    if let (Some(i), Some(j)) = (x.get(out_path), y.get(out_path)) {
                        return self.assert_equal(i.value, j.value, span).map_err(|mut e| {
                            e.add_trace(
                                "while comparing a derivation by its 'outPath' attribute"
                                    .to_owned(),
                                here,
                                false,
                            );
                            e
                        });
                    }
                }
                if x.len() != y.len() {
                    return fail(format!(
                        "attribute names of attribute set '{}' differs from attribute set '{}'",
                        brief(self, a),
                        brief(self, b)
                    ));
                }
                for (i, j) in x.entries.iter().zip(y.entries) {
                    if i.name != j.name {
                        let (msg, name) = if y.get(i.name).is_none() {
                            ("is contained in '{}', but not in '{}'", i.name)
                        } else {
                            ("is missing in '{}', but is contained in '{}'", j.name)
                        };
                        let msg = msg
                            .replacen("{}", &brief(self, a), 1)
                            .replacen("{}", &brief(self, b), 1);
                        return fail(format!(
                            "attribute name '{}' {msg}",
                            self.interner.name(name)
                        ));
                    }
                    if let Err(mut e) = self.assert_equal(i.value, j.value, span) {
                        if let Some(s) = self.pos_span(j.pos) {
                            e.add_trace("where right hand side is".to_owned(), Some(s), false);
                        }
                        if let Some(s) = self.pos_span(i.pos) {
                            e.add_trace("where left hand side is".to_owned(), Some(s), false);
                        }
                        e.add_trace(
                            format!(
                                "while comparing attribute '{}'",
                                self.interner.name(i.name)
                            ),
                            here,
                            false,
                        );
                        return Err(e);
                    }
                }
                Ok(())
            }
            (Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_), _) => fail(
                "distinct functions and immediate comparisons of identical functions compare as unequal"
                    .to_owned(),
            ),
            _ => Ok(()),
        }
    }

    /// Evaluates an operand of `//`: any error gets Nix's frame for that side.
    #[inline]
    fn eval_attrs_operand(
        &mut self,
        ir: &'a Ir<'a>,
        env: &'a Env<'a>,
        span: Span,
        left: bool,
    ) -> EvalResult<&'a Attrs<'a>> {
        let context = if left {
            "in the left operand of the update (//) operator"
        } else {
            "in the right operand of the update (//) operator"
        };
        match self.eval(ir, env) {
            Ok(Value::Attrs(a)) => Ok(a),
            Ok(other) => Err(in_context(
                type_error("a set", &other, self, span),
                context,
                Some(span),
            )),
            Err(e) => Err(frame(e, context, span)),
        }
    }

    #[cold]
    #[inline(never)]
    fn condition_error(&self, found: Value<'a>, span: Span) -> Box<EvalError> {
        let mut e = type_error("a Boolean", &found, self, span);
        e.add_trace(
            "while evaluating a branch condition".to_owned(),
            Some(span),
            false,
        );
        e
    }

    /// Forces a variable's thunk and stores the result back in its slot.
    #[inline(never)]
    fn force_slot(
        &mut self,
        cell: &'a std::cell::Cell<Value<'a>>,
        v: Value<'a>,
        span: Span,
    ) -> EvalResult<Value<'a>> {
        let forced = self.force(v).map_err(|e| with_span(e, span))?;
        cell.set(forced);
        Ok(forced)
    }

    #[inline(never)]
    fn eval_cold(&mut self, ir: &'a Ir<'a>, env: &'a Env<'a>) -> EvalResult<Value<'a>> {
        match ir {
            // The hot forms are evaluated by `eval_hot`.
            Ir::Const(_)
            | Ir::Known(..)
            | Ir::List([])
            | Ir::Var { .. }
            | Ir::If { .. }
            | Ir::Bin { .. }
            | Ir::Call { .. }
            | Ir::Select { .. } => self.eval_hot(ir, env),
            Ir::WithVar { name, withs, span } => {
                for &(depth, at) in *withs {
                    let set = lookup(env, depth, 0).get();
                    let set = self.force(set)?;
                    let Value::Attrs(attrs) = set else {
                        return Err(in_context(
                            type_error("a set", &set, self, *span),
                            "while evaluating the first subexpression of a with expression",
                            Some(Span::new(span.file, at, at)),
                        ));
                    };
                    if let Some(a) = attrs.get(*name) {
                        return self.force(a.value).map_err(|e| with_span(e, *span));
                    }
                }
                Err(EvalError::new(
                    ErrorKind::UndefinedVariable(self.interner.name(*name).into_owned()),
                    Some(*span),
                ))
            }
            Ir::HasAttr { expr, path } => {
                // As in Nix, only the values the path goes through are forced: `x ? a`
                // inside `x.a` itself is not a recursion.
                let mut v = self.eval(expr, env)?;
                for (i, key) in path.iter().enumerate() {
                    if i > 0 {
                        v = self.force(v)?;
                    }
                    let Value::Attrs(attrs) = v else {
                        return Ok(Value::Bool(false));
                    };
                    let name = self.attr_key(key, env)?;
                    match attrs.get(name) {
                        Some(a) => v = a.value,
                        None => return Ok(Value::Bool(false)),
                    }
                }
                Ok(Value::Bool(true))
            }
            Ir::Attrs(attrs) => self.eval_attrs(attrs, env),
            Ir::Let { slots, body } => {
                let new_env = self.new_env(env, slots.len());
                for (i, (cell, code)) in new_env.slots.iter().zip(slots.iter()).enumerate() {
                    cell.set(self.thunk_local(code, new_env, i));
                }
                self.eval(body, new_env)
            }
            Ir::List(items) => Ok(self.new_list_iter(items.iter().map(|i| self.thunk(i, env)))),
            Ir::Lambda(l) => {
                self.env_captured.set(true);
                Ok(Value::Lambda(self.arena.alloc(Closure { lambda: l, env })))
            }
            Ir::With { attrs, body } => {
                let new_env = self.new_env(env, 1);
                new_env.slots[0].set(self.thunk(attrs, env));
                self.eval(body, new_env)
            }
            Ir::Assert {
                cond,
                body,
                cond_span,
                span,
            } => {
                const CONTEXT: &str = "in the condition of the assert statement";
                let c = self.eval(cond, env).map_err(|e| frame(e, CONTEXT, *span))?;
                match c {
                    Value::Bool(true) => self.eval(body, env),
                    Value::Bool(false) => Err(self.assertion_failed(cond, *cond_span, *span, env)),
                    other => Err(frame(
                        type_error("a Boolean", &other, self, *span),
                        CONTEXT,
                        *span,
                    )),
                }
            }
            Ir::Not(e, _) => {
                // Nix places `!e` at `e`.
                const CONTEXT: &str = "in the argument of the not operator";
                let span = ir_span(e);
                match self.eval(e, env) {
                    Ok(Value::Bool(b)) => Ok(Value::Bool(!b)),
                    Ok(other) => Err(frame(
                        type_error("a Boolean", &other, self, span),
                        CONTEXT,
                        span,
                    )),
                    Err(e) => Err(frame(e, CONTEXT, span)),
                }
            }
            Ir::Neg(e, span) => {
                // Nix's `-e` is `__sub 0 e`.
                let v = self
                    .eval(e, env)
                    .map_err(|err| operator_frame(err, BinOp::Sub, *span))?;
                crate::arith::sub(self, Value::Int(0), v)
                    .map_err(|err| operator_frame(err, BinOp::Sub, *span))
            }
            Ir::Interpolate {
                parts,
                starts,
                span,
            } => {
                // One scratch buffer serves every interpolation; a nested one (inside a
                // `__toString`, say) finds it taken and makes its own.
                let mut bytes = std::mem::take(&mut self.scratch);
                bytes.clear();
                let mut context = Vec::new();
                for (part, start) in parts.iter().zip(*starts) {
                    let res = self.eval(part, env).and_then(|v| {
                        self.coerce_to_string_into(
                            v,
                            *span,
                            CoerceMode::Interpolation,
                            &mut bytes,
                            &mut context,
                        )
                        .map_err(|e| self.segment_error(e, *span, *start))
                    });
                    if let Err(e) = res {
                        self.scratch = bytes;
                        return Err(e);
                    }
                }
                context.sort();
                context.dedup();
                let v = self.new_string(&bytes, &context);
                self.scratch = bytes;
                Ok(v)
            }
            Ir::PathInterpolate {
                parts,
                starts,
                span,
            } => {
                let mut bytes = Vec::new();
                let mut context = Vec::new();
                for (part, start) in parts.iter().zip(*starts) {
                    let v = self.eval(part, env)?;
                    self.coerce_to_string_into(
                        v,
                        *span,
                        CoerceMode::PathSegment,
                        &mut bytes,
                        &mut context,
                    )
                    .map_err(|e| self.segment_error(e, *span, *start))?;
                }
                if !context.is_empty() {
                    return Err(EvalError::msg(
                        "a string that refers to a store path cannot be appended to a path",
                        *span,
                    ));
                }
                Ok(self.new_path(&bytes))
            }
            Ir::CurPos(span) => Ok(self.pos_attrs(*span)),
        }
    }

    /// Moves positions at the right operand `rhs` to its opening parenthesis, if it has one:
    /// Nix places an operand at its first token, Kiln's syntax tree at the expression inside.
    #[cold]
    #[inline(never)]
    fn operand_parens(&self, mut e: Box<EvalError>, op: Span, rhs: Span) -> Box<EvalError> {
        if (op.file.0 as usize) >= self.sources.len() {
            return e;
        }
        let text = self.sources.text(op.file);
        let between = text.get(op.end as usize..rhs.start as usize).unwrap_or(&[]);
        let Some(paren) = between.iter().position(|&b| b == b'(') else {
            return e;
        };
        let at = op.end + paren as u32;
        let moved = Span::new(rhs.file, at, at);
        if e.span == Some(rhs) {
            e.span = Some(moved);
        }
        for f in &mut e.trace {
            if f.span == Some(rhs) {
                f.span = Some(moved);
            }
        }
        e
    }

    /// Nix's error for a part of a string or path that does not coerce: the frame "while
    /// evaluating a path segment" at the part's `${`, the error without position.
    #[cold]
    #[inline(never)]
    fn segment_error(&self, mut e: Box<EvalError>, span: Span, start: u32) -> Box<EvalError> {
        let text = if (span.file.0 as usize) < self.sources.len() {
            self.sources.text(span.file)
        } else {
            &[]
        };
        let mut at = (start as usize).min(text.len());
        while at > 0 && text[at - 1].is_ascii_whitespace() {
            at -= 1;
        }
        let at = if at >= 2 && &text[at - 2..at] == b"${" {
            at as u32 - 2
        } else {
            start
        };
        // What happened at the interpolation (a `__toString` called, its result coerced)
        // happened at the part, in Nix's positions.
        let at = Span::new(span.file, at, at);
        if e.span == Some(span) {
            e.span = Some(at);
        }
        for f in &mut e.trace {
            if f.span == Some(span) {
                f.span = Some(at);
            }
        }
        crate::arith::path_segment(e, at)
    }

    /// The `{ file, line, column }` set of a position.
    pub fn pos_attrs(&mut self, span: Span) -> Value<'a> {
        let lc = self.sources.line_col(span.file, span.start);
        let file = self.new_str(self.sources.name(span.file).as_bytes());
        let attrs = vec![
            Attr {
                name: self.syms.file,
                pos: PosIdx::NONE,
                value: file,
            },
            Attr {
                name: self.syms.line,
                pos: PosIdx::NONE,
                value: Value::Int(lc.line as i64),
            },
            Attr {
                name: self.syms.column,
                pos: PosIdx::NONE,
                value: Value::Int(lc.col as i64),
            },
        ];
        self.new_attrs(attrs)
    }

    /// Allocates a child environment of `up`, which captures `up`.
    #[inline]
    fn new_env(&self, up: &'a Env<'a>, n: usize) -> &'a Env<'a> {
        self.env_captured.set(true);
        self.alloc_env(up, n)
    }

    /// The environment of a call: a released one with as many slots if there is one (its
    /// slots still hold old values; the caller sets every one), else a new one.
    #[inline]
    fn call_env(&mut self, up: &'a Env<'a>, n: u32) -> &'a Env<'a> {
        if let Some(head) = self.env_pool.get_mut(n as usize) {
            if let Some(env) = *head {
                *head = env.up.get();
                env.up.set(Some(up));
                return env;
            }
        }
        self.alloc_env(up, n as usize)
    }

    /// Gives back the environment of a call that has returned, when nothing captured it.
    #[inline]
    fn release_env(&mut self, env: &'a Env<'a>) {
        if let Some(head) = self.env_pool.get_mut(env.slots.len()) {
            env.up.set(*head);
            *head = Some(env);
        }
    }

    #[inline]
    fn alloc_env(&self, up: &'a Env<'a>, n: usize) -> &'a Env<'a> {
        // One slot (a plain lambda's argument) is the common case: no fill loop.
        let slots: &'a [std::cell::Cell<Value<'a>>] = match n {
            0 => &[],
            1 => std::slice::from_ref(self.arena.alloc(std::cell::Cell::new(Value::Null))),
            _ => self
                .arena
                .alloc_slice_fill_with(n, |_| std::cell::Cell::new(Value::Null)),
        };
        self.arena.alloc(Env {
            up: std::cell::Cell::new(Some(up)),
            slots,
        })
    }

    #[inline]
    fn attr_key(&mut self, key: &'a AttrKey<'a>, env: &'a Env<'a>) -> EvalResult<Symbol> {
        match key {
            AttrKey::Static(s) => Ok(*s),
            AttrKey::Dynamic(ir) => self.dynamic_attr_key(ir, env),
        }
    }

    #[inline(never)]
    fn dynamic_attr_key(&mut self, ir: &'a Ir<'a>, env: &'a Env<'a>) -> EvalResult<Symbol> {
        let v = self.eval(ir, env)?;
        let Value::String(s) = v else {
            return Err(frame(
                type_error("a string", &v, self, ir_span(ir)),
                "while evaluating an attribute name",
                ir_span(ir),
            ));
        };
        if let Some((bytes, sym)) = self.last_dynamic_key {
            if std::ptr::eq(bytes, s.bytes) {
                return Ok(sym);
            }
        }
        let sym = self.interner.intern(s.bytes);
        self.last_dynamic_key = Some((s.bytes, sym));
        Ok(sym)
    }

    #[inline(never)]
    fn eval_select(
        &mut self,
        expr: &'a Ir<'a>,
        path: &'a [AttrKey<'a>],
        default: Option<&'a Ir<'a>>,
        span: Span,
        env: &'a Env<'a>,
    ) -> EvalResult<Value<'a>> {
        let mut v = self.eval(expr, env)?;
        // The position of the last attribute found: an error after it gets Nix's frame
        // "while evaluating the attribute 'PATH'" there.
        let mut found = None;
        for key in path {
            let name = match self.attr_key(key, env) {
                Ok(name) => name,
                Err(e) => return Err(self.select_error(e, found, path, env)),
            };
            let attrs = match v {
                Value::Attrs(a) => a,
                other => {
                    if let Some(d) = default {
                        return self.eval(d, env);
                    }
                    let e = in_context(
                        type_error("a set", &other, self, span),
                        "while selecting an attribute",
                        Some(span),
                    );
                    return Err(self.select_error(e, found, path, env));
                }
            };
            match attrs.get(name) {
                Some(a) => {
                    found = Some(a.pos);
                    v = match self.force(a.value) {
                        Ok(v) => v,
                        Err(e) => {
                            let at = self.pos_span(a.pos).unwrap_or(span);
                            return Err(self.select_error(with_span(e, at), found, path, env));
                        }
                    }
                }
                None => {
                    if let Some(d) = default {
                        return self.eval(d, env);
                    }
                    let suggestions = crate::print::suggestions(self, attrs, name);
                    let e = EvalError::new(
                        ErrorKind::MissingAttr {
                            name: self.interner.name(name).into_owned(),
                            suggestions,
                        },
                        Some(span),
                    );
                    return Err(self.select_error(e, found, path, env));
                }
            }
        }
        Ok(v)
    }

    /// Adds Nix's frame for an error met while selecting `path`, once an attribute was found
    /// (at `found`): "while evaluating the attribute 'a.b'" at that attribute's definition.
    #[cold]
    #[inline(never)]
    fn select_error(
        &mut self,
        mut e: Box<EvalError>,
        found: Option<PosIdx>,
        path: &'a [AttrKey<'a>],
        env: &'a Env<'a>,
    ) -> Box<EvalError> {
        let Some(span) = found.and_then(|p| self.pos_span(p)) else {
            return e;
        };
        // Nix leaves out the attributes of its internal derivation code.
        if self.sources.name(span.file) == "<nix/derivation.nix>" {
            return e;
        }
        let mut names = Vec::with_capacity(path.len());
        for key in path {
            let name = match key {
                AttrKey::Static(s) => crate::print::show_attr_name(self.interner.resolve(*s)),
                AttrKey::Dynamic(ir) => match self.eval(ir, env) {
                    Ok(Value::String(s)) => crate::print::show_attr_name(s.bytes),
                    // Nix shows the expression; a variable (the common case) is its name.
                    _ => match ir {
                        Ir::Var { span, .. } | Ir::WithVar { span, .. }
                            if self.sources.contains(span.file) =>
                        {
                            let text = self.sources.text(span.file);
                            let name = text
                                .get(span.start as usize..span.end as usize)
                                .unwrap_or(b"...");
                            format!("\"${{{}}}\"", String::from_utf8_lossy(name))
                        }
                        _ => "\"${...}\"".to_owned(),
                    },
                },
            };
            names.push(name);
        }
        e.add_trace(
            format!("while evaluating the attribute '{}'", names.join(".")),
            Some(span),
            false,
        );
        e
    }

    fn eval_attrs(&mut self, attrs: &'a AttrsIr<'a>, env: &'a Env<'a>) -> EvalResult<Value<'a>> {
        let value_env = if attrs.rec {
            let new_env = self.new_env(env, attrs.statics.len());
            // With `__overrides`, a value naming another attribute must see the override, so
            // it may not share that attribute's thunk.
            let filled = |i: usize| if attrs.overrides.is_some() { 0 } else { i };
            for (i, (cell, a)) in new_env.slots.iter().zip(attrs.statics).enumerate() {
                cell.set(self.thunk_local(a.value, new_env, filled(i)));
            }
            new_env
        } else {
            env
        };
        if attrs.dynamics.is_empty() && attrs.overrides.is_none() {
            // Statics are sorted by symbol already: built in place in the arena.
            let entries = self
                .arena
                .alloc_slice_fill_iter(attrs.statics.iter().enumerate().map(|(i, a)| Attr {
                    name: a.name,
                    pos: a.pos,
                    value: if attrs.rec {
                        value_env.slots[i].get()
                    } else {
                        self.thunk(a.value, env)
                    },
                }));
            return Ok(Value::Attrs(self.arena.alloc(Attrs { entries })));
        }
        let mut entries: Vec<Attr<'a>> =
            Vec::with_capacity(attrs.statics.len() + attrs.dynamics.len());
        for (i, a) in attrs.statics.iter().enumerate() {
            let value = if attrs.rec {
                value_env.slots[i].get()
            } else {
                self.thunk(a.value, env)
            };
            entries.push(Attr {
                name: a.name,
                pos: a.pos,
                value,
            });
        }
        if let Some(i) = attrs.overrides {
            self.apply_overrides(attrs, value_env, i as usize, &mut entries)?;
        }
        for d in attrs.dynamics {
            let name = self.eval(d.name, value_env)?;
            let name = match name {
                Value::Null => continue,
                Value::String(s) => self.interner.intern(s.bytes),
                other => {
                    return Err(frame(
                        type_error("a string", &other, self, d.span),
                        "while evaluating the name of a dynamic attribute",
                        d.span,
                    ))
                }
            };
            if let Some(prev) = entries.iter().find(|a| a.name == name) {
                let at = self
                    .pos_span(prev.pos)
                    .map(|s| self.sources.location(s))
                    .unwrap_or_default();
                return Err(EvalError::msg(
                    format!(
                        "dynamic attribute '{}' already defined at {at}",
                        crate::print::show_attr_name(self.interner.resolve(name))
                    ),
                    d.span,
                ));
            }
            entries.push(Attr {
                name,
                pos: d.pos,
                value: self.thunk(d.value, value_env),
            });
        }
        Ok(self.new_attrs(entries))
    }

    /// A `rec` set's `__overrides`: each of its attributes replaces the set's attribute of that
    /// name, in the set and in the scope its values see, or is added to the set (not to the
    /// scope). Forced when the set is built, as Nix does.
    #[cold]
    fn apply_overrides(
        &mut self,
        attrs: &'a AttrsIr<'a>,
        scope: &'a Env<'a>,
        index: usize,
        entries: &mut Vec<Attr<'a>>,
    ) -> EvalResult<()> {
        const CONTEXT: &str = "while evaluating the `__overrides` attribute";
        let overrides = match self.force(scope.slots[index].get()) {
            Ok(Value::Attrs(set)) => set,
            Ok(other) => {
                let mut e = type_error("a set", &other, self, dummy_span());
                e.span = None;
                return Err(frame(e, CONTEXT, dummy_span()));
            }
            Err(e) => return Err(e),
        };
        for attr in overrides.entries {
            match attrs.statics.binary_search_by_key(&attr.name, |a| a.name) {
                Ok(j) => {
                    scope.slots[j].set(attr.value);
                    entries[j] = *attr;
                }
                Err(_) => entries.push(*attr),
            }
        }
        Ok(())
    }

    fn eval_bin(
        &mut self,
        op: BinOp,
        lhs: &'a Ir<'a>,
        rhs: &'a Ir<'a>,
        span: Span,
        operands: [u32; 2],
        env: &'a Env<'a>,
    ) -> EvalResult<Value<'a>> {
        // Nix's `evalBool`: any error in an operand gets the frame; a non-Boolean is reported
        // at the operator.
        let bool_of = |ev: &mut Self, ir: &'a Ir<'a>, context: &str| -> EvalResult<bool> {
            match ev.eval(ir, env) {
                Ok(Value::Bool(b)) => Ok(b),
                Ok(other) => Err(frame(
                    type_error("a Boolean", &other, ev, span),
                    context,
                    span,
                )),
                Err(e) => Err(frame(e, context, span)),
            }
        };
        match op {
            BinOp::And => Ok(Value::Bool(
                bool_of(self, lhs, "in the left operand of the AND (&&) operator")?
                    && bool_of(self, rhs, "in the right operand of the AND (&&) operator")?,
            )),
            BinOp::Or => Ok(Value::Bool(
                bool_of(self, lhs, "in the left operand of the OR (||) operator")?
                    || bool_of(self, rhs, "in the right operand of the OR (||) operator")?,
            )),
            BinOp::Impl => Ok(Value::Bool(
                !bool_of(self, lhs, "in the left operand of the IMPL (->) operator")?
                    || bool_of(self, rhs, "in the right operand of the IMPL (->) operator")?,
            )),
            BinOp::Update => {
                let l = self.eval_attrs_operand(lhs, env, span, true)?;
                let r = self.eval_attrs_operand(rhs, env, span, false)?;
                Ok(self.update(l, r))
            }
            _ => {
                let l = match self.eval(lhs, env) {
                    Ok(v) => v,
                    Err(e) => return Err(operator_frame(e, op, span)),
                };
                let r = match self.eval(rhs, env) {
                    Ok(v) => v,
                    Err(e) => return Err(operator_frame(e, op, span)),
                };
                // Integers first: the common case needs no type dispatch beyond this.
                if let (Value::Int(x), Value::Int(y)) = (l, r) {
                    if let Some(v) = int_op(op, x, y) {
                        return Ok(v);
                    }
                }
                if let BinOp::Eq | BinOp::NotEq = op {
                    if let Some(eq) = quick_equal(l, r) {
                        return Ok(Value::Bool(eq == (op == BinOp::Eq)));
                    }
                }
                let operands = operands.map(|start| Span::new(span.file, start, start));
                self.binary(op, l, r, span, operands)
                    .map_err(|e| self.operand_parens(e, span, operands[1]))
                    .map_err(|e| operator_frame(e, op, span))
            }
        }
    }

    /// Applies a strict binary operator to forced operands (`operands`: where they are).
    pub fn binary(
        &mut self,
        op: BinOp,
        l: Value<'a>,
        r: Value<'a>,
        span: Span,
        operands: [Span; 2],
    ) -> EvalResult<Value<'a>> {
        use crate::arith;
        match op {
            BinOp::Add => arith::add(self, l, r, operands),
            BinOp::Sub => arith::sub(self, l, r),
            BinOp::Mul => arith::mul(self, l, r),
            BinOp::Div => arith::div(self, l, r),
            BinOp::Eq => Ok(Value::Bool(self.equal(l, r, span)?)),
            BinOp::NotEq => Ok(Value::Bool(!self.equal(l, r, span)?)),
            BinOp::Less => Ok(Value::Bool(self.less_than(l, r, span)?)),
            BinOp::Greater => Ok(Value::Bool(self.less_than(r, l, span)?)),
            BinOp::LessEq => Ok(Value::Bool(!self.less_than(r, l, span)?)),
            BinOp::GreaterEq => Ok(Value::Bool(!self.less_than(l, r, span)?)),
            BinOp::Update => {
                let Value::Attrs(a) = l else {
                    return Err(in_context(
                        type_error("a set", &l, self, span),
                        "in the left operand of the update (//) operator",
                        Some(span),
                    ));
                };
                let Value::Attrs(b) = r else {
                    return Err(in_context(
                        type_error("a set", &r, self, span),
                        "in the right operand of the update (//) operator",
                        Some(span),
                    ));
                };
                Ok(self.update(a, b))
            }
            BinOp::Concat => {
                let Value::List(a) = l else {
                    return Err(in_context(
                        type_error("a list", &l, self, span),
                        "while evaluating one of the elements to concatenate",
                        Some(span),
                    ));
                };
                let Value::List(b) = r else {
                    return Err(in_context(
                        type_error("a list", &r, self, span),
                        "while evaluating one of the elements to concatenate",
                        Some(span),
                    ));
                };
                if a.elems.is_empty() {
                    return Ok(r);
                }
                if b.elems.is_empty() {
                    return Ok(l);
                }
                let n = a.elems.len();
                let elems = self
                    .arena
                    .alloc_slice_fill_copy(n + b.elems.len(), Value::Null);
                elems[..n].copy_from_slice(a.elems);
                elems[n..].copy_from_slice(b.elems);
                Ok(Value::List(self.arena.alloc(List { elems })))
            }
            BinOp::And | BinOp::Or | BinOp::Impl => {
                unreachable!("short-circuit operators are handled in eval_bin")
            }
        }
    }

    /// `a // b`: a merge of two sorted arrays, `b` winning.
    pub fn update(&self, a: &'a Attrs<'a>, b: &'a Attrs<'a>) -> Value<'a> {
        if b.entries.is_empty() {
            return Value::Attrs(a);
        }
        if a.entries.is_empty() {
            return Value::Attrs(b);
        }
        // Built in the arena at the largest size it can have, as Nix does.
        let mut out = bumpalo::collections::Vec::with_capacity_in(
            a.entries.len() + b.entries.len(),
            self.arena,
        );
        let (mut i, mut j) = (0, 0);
        let (x, y) = (a.entries, b.entries);
        while i < x.len() && j < y.len() {
            match x[i].name.cmp(&y[j].name) {
                std::cmp::Ordering::Less => {
                    out.push(x[i]);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    out.push(y[j]);
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    out.push(y[j]);
                    i += 1;
                    j += 1;
                }
            }
        }
        out.extend_from_slice(&x[i..]);
        out.extend_from_slice(&y[j..]);
        Value::Attrs(self.arena.alloc(Attrs {
            entries: out.into_bump_slice(),
        }))
    }

    // ----- calls -----

    /// Applies function `f` (forced) to `arg` (lazy).
    pub fn call(
        &mut self,
        f: Value<'a>,
        arg: Value<'a>,
        span: Option<Span>,
    ) -> EvalResult<Value<'a>> {
        match f {
            Value::Lambda(c) => self.call_lambda(c.lambda, c.env, arg, span),
            Value::PrimOp(op) => {
                if op.arity == 1 {
                    (op.func)(self, &[arg], span.unwrap_or(dummy_span()))
                        .map_err(|e| self.builtin_error(e, op.name, &[arg], span))
                } else {
                    let args = self.arena.alloc_slice_copy(&[arg]);
                    Ok(Value::PrimOpApp(self.arena.alloc(PrimOpApp { op, args })))
                }
            }
            Value::PrimOpApp(app) => {
                let n = app.args.len() + 1;
                if n == app.op.arity && n <= 4 {
                    // The last argument: the arguments go on the stack, not the heap.
                    let mut args = [Value::Null; 4];
                    args[..n - 1].copy_from_slice(app.args);
                    args[n - 1] = arg;
                    return (app.op.func)(self, &args[..n], span.unwrap_or(dummy_span()))
                        .map_err(|e| self.builtin_error(e, app.op.name, &args[..n], span));
                }
                let mut args = Vec::with_capacity(n);
                args.extend_from_slice(app.args);
                args.push(arg);
                if args.len() == app.op.arity {
                    (app.op.func)(self, &args, span.unwrap_or(dummy_span()))
                        .map_err(|e| self.builtin_error(e, app.op.name, &args, span))
                } else {
                    let args = self.arena.alloc_slice_copy(&args);
                    Ok(Value::PrimOpApp(
                        self.arena.alloc(PrimOpApp { op: app.op, args }),
                    ))
                }
            }
            Value::Attrs(attrs) => match attrs.get(self.syms.functor) {
                Some(functor) => {
                    // Nix calls the functor from where `__functor` is defined.
                    let site = self.pos_span(functor.pos).or(span);
                    let res = self.force(functor.value).and_then(|functor| {
                        let inner = self.call(functor, f, site)?;
                        let inner = self.force(inner)?;
                        self.call(inner, arg, site)
                    });
                    res.map_err(|e| {
                        frame(
                            e,
                            "while calling a functor (an attribute set with a '__functor' attribute)",
                            span.unwrap_or(dummy_span()),
                        )
                    })
                }
                None => Err(self.not_a_function(f, span)),
            },
            Value::Thunk(_) => {
                let f = self.force(f)?;
                self.call(f, arg, span)
            }
            _ => Err(self.not_a_function(f, span)),
        }
    }

    fn not_a_function(&self, f: Value<'a>, span: Option<Span>) -> Box<EvalError> {
        EvalError::new(
            ErrorKind::Message(format!(
                "attempt to call something which is not a function but {}: {}",
                f.type_phrase(),
                crate::print::brief(self, f)
            )),
            span,
        )
    }

    /// Applies `f` to several arguments and forces the result.
    ///
    /// A builtin calling back (`foldl'`, `filter`, `sort`) gives its own span, but Nix makes
    /// these calls without a position: they get none, and no "from call site" frame.
    pub fn call_n(
        &mut self,
        f: Value<'a>,
        args: &[Value<'a>],
        span: Span,
    ) -> EvalResult<Value<'a>> {
        let span = if span.file.0 == u32::MAX {
            span
        } else {
            NO_SITE
        };
        // The common case of builtins calling back (`foldl'`, `sort`): `x: y: body` applied
        // to two arguments.
        if let (Value::Lambda(c), [a, b]) = (f, args) {
            if let (ParamIr::Ident(_), Ir::Lambda(inner)) = (&c.lambda.param, c.lambda.body) {
                let v = self.call_curried(c, inner, *a, *b, span)?;
                return self.force(v);
            }
        }
        self.call_n_general(f, args, span)
    }

    /// Calls `x: y: body` with two arguments: binds `x` and goes straight into the inner
    /// function, without allocating the closure the first call would return.
    #[inline]
    fn call_curried(
        &mut self,
        c: &'a Closure<'a>,
        inner: &'a LambdaIr<'a>,
        a: Value<'a>,
        b: Value<'a>,
        span: Span,
    ) -> EvalResult<Value<'a>> {
        // One capture window covers both environments: the inner one links to the outer, so
        // they are released together or not at all.
        let saved = self.env_captured.replace(false);
        let outer = self.call_env(c.env, c.lambda.n_slots);
        outer.slots[0].set(a);
        let env = self.call_env(outer, inner.n_slots);
        let res = self.enter_lambda(inner, env, b, Some(span));
        if !self.env_captured.replace(saved) {
            self.release_env(env);
            self.release_env(outer);
        }
        res
    }

    #[inline(never)]
    fn call_n_general(
        &mut self,
        f: Value<'a>,
        args: &[Value<'a>],
        span: Span,
    ) -> EvalResult<Value<'a>> {
        let mut v = self.force(f)?;
        let mut rest = args;
        while let Some((a, tail)) = rest.split_first() {
            if let (Value::Lambda(c), Some(b)) = (v, tail.first()) {
                if let (ParamIr::Ident(_), Ir::Lambda(inner)) = (&c.lambda.param, c.lambda.body) {
                    v = self.call_curried(c, inner, *a, *b, span)?;
                    v = self.force(v)?;
                    rest = &tail[1..];
                    continue;
                }
            }
            v = self.call(v, *a, Some(span))?;
            v = self.force(v)?;
            rest = tail;
        }
        Ok(v)
    }

    fn lambda_name(&self, l: &LambdaIr<'a>) -> String {
        match l.name {
            Some(n) => format!("'{}'", self.interner.name(n)),
            None => "'anonymous lambda'".to_owned(),
        }
    }

    /// Calls a lambda in a new environment below `closure_env`.
    ///
    /// The call's environment is reused for a later call when nothing captured it: every
    /// place that keeps a reference to an environment (a pending thunk, a closure, a child
    /// environment) sets `env_captured`, and each call and thunk evaluation saves the flag,
    /// clears it and restores it, so at the end it tells about this call's own environment.
    /// An environment reachable from a captured one is itself captured, so a released one is
    /// referenced by nothing. Values read from its slots are copies and stay valid.
    fn call_lambda(
        &mut self,
        l: &'a LambdaIr<'a>,
        closure_env: &'a Env<'a>,
        arg: Value<'a>,
        span: Option<Span>,
    ) -> EvalResult<Value<'a>> {
        let saved = self.env_captured.replace(false);
        let env = self.call_env(closure_env, l.n_slots);
        let res = self.enter_lambda(l, env, arg, span);
        if !self.env_captured.replace(saved) {
            self.release_env(env);
        }
        res
    }

    /// Binds the parameters of `l` in `env` (its call environment, every slot to be set) and
    /// evaluates the body.
    fn enter_lambda(
        &mut self,
        l: &'a LambdaIr<'a>,
        env: &'a Env<'a>,
        arg: Value<'a>,
        span: Option<Span>,
    ) -> EvalResult<Value<'a>> {
        match &l.param {
            ParamIr::Ident(_) => env.slots[0].set(arg),
            ParamIr::Formals {
                formals,
                ellipsis,
                at,
            } => {
                let attrs = match self.force(arg) {
                    Ok(Value::Attrs(attrs)) => attrs,
                    res => return Err(self.formals_arg_error(res, l, span)),
                };
                let mut used = 0;
                for (i, f) in formals.iter().enumerate() {
                    match attrs.get(f.name) {
                        Some(a) => {
                            used += 1;
                            env.slots[i].set(a.value);
                        }
                        None => match f.default {
                            Some(d) => env.slots[i].set(self.thunk_local(d, env, i)),
                            None => {
                                return Err(from_call_site(
                                    EvalError::msg(
                                        format!(
                                            "function {} called without required argument '{}'",
                                            self.lambda_name(l),
                                            self.interner.name(f.name)
                                        ),
                                        l.span,
                                    ),
                                    span,
                                ))
                            }
                        },
                    }
                }
                if !*ellipsis && used != attrs.len() {
                    let extra = attrs
                        .entries
                        .iter()
                        .map(|a| a.name)
                        .filter(|n| !formals.iter().any(|f| f.name == *n))
                        .min_by(|a, b| self.interner.resolve(*a).cmp(self.interner.resolve(*b)));
                    if let Some(extra) = extra {
                        let suggestions = crate::print::suggest_among(
                            self,
                            formals.iter().map(|f| f.name),
                            extra,
                        );
                        return Err(from_call_site(
                            EvalError::new(
                                ErrorKind::UnexpectedArgument {
                                    function: self.lambda_name(l),
                                    name: self.interner.name(extra).into_owned(),
                                    suggestions,
                                },
                                Some(l.span),
                            ),
                            span,
                        ));
                    }
                }
                if at.is_some() {
                    env.slots[formals.len()].set(arg);
                }
            }
        }
        // Nix checks the depth before counting the call: `max-call-depth` calls may be
        // pending when one more starts.
        if self.call_depth > self.settings.max_call_depth {
            return Err(EvalError::new(
                ErrorKind::StackOverflow,
                Some(span.unwrap_or(l.span)),
            ));
        }
        self.call_depth += 1;
        let res = self.eval(l.body, env);
        self.call_depth -= 1;
        res.map_err(|e| self.lambda_error(e, l, span))
    }

    /// Adds the frames Nix gives an error raised by a builtin: "while calling the 'NAME'
    /// builtin" at the call, and when the builtin itself found an argument of the wrong type,
    /// the frame naming that argument ("while evaluating the first argument passed to
    /// builtins.NAME"). An error the builtin raised at the call itself loses that position, as
    /// in Nix, where the frame alone says where.
    #[cold]
    #[inline(never)]
    fn builtin_error(
        &self,
        mut e: Box<EvalError>,
        name: &str,
        args: &[Value<'a>],
        span: Option<Span>,
    ) -> Box<EvalError> {
        let span = span.filter(|s| s.file.0 != u32::MAX);
        // Nix records no frame for the one builtin whose point is its own frame, nor for
        // `break`, which returns its argument for the caller to force.
        if name == "addErrorContext" || name == "break" || name == "derivation" {
            return e;
        }
        let at_call = e.span.is_none() || e.span == span;
        if at_call {
            e.span = None;
            if let Some(context) = self.bad_argument(&e, name, args) {
                e.add_trace(format!("while evaluating the {context}"), None, false);
            }
        }
        // Nix calls a builtin without a position: what it did at "its" position has none.
        if let Some(call) = span {
            for f in e.trace.iter_mut().filter(|f| f.span == Some(call)) {
                f.span = None;
            }
        }
        e.add_trace(format!("while calling the '{name}' builtin"), span, false);
        e
    }

    /// Which argument a builtin's own type error is about, as Nix words it, if it is one: the
    /// first argument, evaluated, of the type and value the error names.
    fn bad_argument(&self, e: &EvalError, name: &str, args: &[Value<'a>]) -> Option<&'static str> {
        if !e.trace.is_empty() {
            return None;
        }
        let is_it = |v: Value<'a>| match &e.kind {
            ErrorKind::Type { found, value, .. } => {
                v.type_phrase() == *found && crate::print::brief(self, v) == *value
            }
            // A coercion to a string that failed.
            ErrorKind::Message(m) => m.strip_prefix("cannot coerce ").is_some_and(|rest| {
                *rest
                    == format!(
                        "{} to a string: {}",
                        v.type_phrase(),
                        crate::print::brief(self, v)
                    )
            }),
            _ => false,
        };
        let index = args.iter().position(|a| {
            let v = match *a {
                Value::Thunk(t) => match t.state.get() {
                    ThunkState::Done(v) => v,
                    _ => return false,
                },
                v => v,
            };
            is_it(v)
        })?;
        argument_context(name, index)
    }

    /// Nix's error for the argument of a function with formals that fails to force or is not
    /// a set: the frames "while evaluating the value passed for the lambda argument" at the
    /// function and "from call site" at the call.
    #[cold]
    #[inline(never)]
    fn formals_arg_error(
        &self,
        res: EvalResult<Value<'a>>,
        l: &LambdaIr<'a>,
        span: Option<Span>,
    ) -> Box<EvalError> {
        let e = match res {
            Ok(v) => in_context(
                type_error("a set", &v, self, l.span),
                "while evaluating the value passed for the lambda argument",
                Some(l.span),
            ),
            Err(e) => frame(
                e,
                "while evaluating the value passed for the lambda argument",
                l.span,
            ),
        };
        from_call_site(e, span)
    }

    /// Adds the frames Nix gives an error raised in a function's body, which it records only
    /// with `--show-trace`: "while calling 'f'" at the function, "from call site" at the call.
    #[cold]
    fn lambda_error(
        &self,
        mut e: Box<EvalError>,
        l: &LambdaIr<'a>,
        span: Option<Span>,
    ) -> Box<EvalError> {
        let name = match l.name {
            Some(n) => format!("while calling '{}'", self.interner.name(n)),
            None => "while calling anonymous lambda".to_owned(),
        };
        e.add_trace(name, Some(l.span), true);
        // A lazy application made by a builtin (`map`) has no site of its own: Nix shows the
        // function. A builtin's direct call back has none at all.
        if span != Some(NO_SITE) {
            let site = span.filter(|s| s.file.0 != u32::MAX).unwrap_or(l.span);
            e.add_trace("from call site".to_owned(), Some(site), true);
        }
        e
    }

    // ----- strings -----

    /// Coerces a forced value to a string, appending to `bytes` and `context`.
    pub fn coerce_to_string_into(
        &mut self,
        v: Value<'a>,
        span: Span,
        mode: CoerceMode,
        bytes: &mut Vec<u8>,
        context: &mut Vec<ContextElem<'a>>,
    ) -> EvalResult<()> {
        let v = self.force(v)?;
        match v {
            Value::String(s) => {
                bytes.extend_from_slice(s.bytes);
                context.extend_from_slice(s.context);
            }
            Value::Path(p) => {
                if mode.copy_paths() {
                    let path = std::path::Path::new(std::ffi::OsStr::from_bytes_compat(p.bytes));
                    let name = p.bytes.rsplit(|&b| b == b'/').next().unwrap_or(b"");
                    let name = String::from_utf8_lossy(name).into_owned();
                    self.check_access(path)?;
                    // Nix reports these without a position.
                    if !self.io.path_exists(path) {
                        return Err(path_missing(path, dummy_span()));
                    }
                    let store_path = self.io.add_source(path, &name).map_err(|e| {
                        EvalError::new(
                            ErrorKind::Message(format!(
                                "copying path '{}' to the store: {e}",
                                path.display()
                            )),
                            None,
                        )
                    })?;
                    let sp = self.arena.alloc_slice_copy(store_path.as_bytes());
                    bytes.extend_from_slice(sp);
                    context.push(ContextElem::Opaque(sp));
                } else {
                    bytes.extend_from_slice(p.bytes);
                }
            }
            Value::Attrs(attrs) => {
                // `__toString` and `outPath` may lead to more of the same, forever.
                self.enter_nested()?;
                let res = self.coerce_attrs_into(v, attrs, span, mode, bytes, context);
                self.eval_depth -= 1;
                return res;
            }
            Value::Int(n) if mode.more() => push_int(bytes, n),
            Value::Float(f) if mode.more() => bytes.extend_from_slice(format!("{f:.6}").as_bytes()),
            Value::Bool(true) if mode.more() => bytes.push(b'1'),
            Value::Bool(false) | Value::Null if mode.more() => {}
            Value::List(l) if mode.more() => {
                self.enter_nested()?;
                let res = self.coerce_list_into(l, span, mode, bytes, context);
                self.eval_depth -= 1;
                res?;
            }
            _ => return Err(self.cannot_coerce(v, span)),
        }
        Ok(())
    }

    /// The string of a set: its `__toString` applied to it, or its `outPath`.
    fn coerce_attrs_into(
        &mut self,
        v: Value<'a>,
        attrs: &'a Attrs<'a>,
        span: Span,
        mode: CoerceMode,
        bytes: &mut Vec<u8>,
        context: &mut Vec<ContextElem<'a>>,
    ) -> EvalResult<()> {
        if let Some(f) = attrs.get(self.syms.to_string) {
            let f = self.force(f.value)?;
            let res = self.call(f, v, Some(span))?;
            return self
                .coerce_to_string_into(res, span, mode, bytes, context)
                .map_err(|e| to_string_result_error(e, span));
        }
        if let Some(out) = attrs.get(self.syms.out_path) {
            return self.coerce_to_string_into(out.value, span, mode, bytes, context);
        }
        Err(self.cannot_coerce(v, span))
    }

    /// The string of a list (`toString`): its elements', separated by spaces.
    fn coerce_list_into(
        &mut self,
        l: &'a List<'a>,
        span: Span,
        mode: CoerceMode,
        bytes: &mut Vec<u8>,
        context: &mut Vec<ContextElem<'a>>,
    ) -> EvalResult<()> {
        for (i, e) in l.elems.iter().enumerate() {
            let e = self.force(*e)?;
            self.coerce_to_string_into(e, span, mode, bytes, context)
                .map_err(|err| list_element_error(err, e))?;
            // Nix separates elements with a space but skips it after empty lists.
            let empty_list = matches!(e, Value::List(l) if l.elems.is_empty());
            if i + 1 < l.elems.len() && !empty_list {
                bytes.push(b' ');
            }
        }
        Ok(())
    }

    fn cannot_coerce(&self, v: Value<'a>, span: Span) -> Box<EvalError> {
        EvalError::msg(
            format!(
                "cannot coerce {} to a string: {}",
                v.type_phrase(),
                crate::print::brief(self, v)
            ),
            span,
        )
    }

    /// Coerces a value to a string value.
    pub fn coerce_to_string(
        &mut self,
        v: Value<'a>,
        span: Span,
        mode: CoerceMode,
    ) -> EvalResult<Value<'a>> {
        match v {
            Value::String(_) => return Ok(v),
            Value::Int(n) if mode.more() => {
                let mut digits = [0u8; 20];
                return Ok(self.new_str(int_digits(n, &mut digits)));
            }
            _ => {}
        }
        // The shared scratch buffer, as for interpolation; a nested coercion (inside a
        // `__toString`) finds it taken and makes its own.
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        let mut context = Vec::new();
        let res = self.coerce_to_string_into(v, span, mode, &mut bytes, &mut context);
        let v = res.map(|()| {
            context.sort();
            context.dedup();
            self.new_string(&bytes, &context)
        });
        self.scratch = bytes;
        v
    }

    // ----- comparison -----

    /// `==`.
    pub fn equal(&mut self, a: Value<'a>, b: Value<'a>, span: Span) -> EvalResult<bool> {
        let a = self.force(a).map_err(|e| with_span(e, span))?;
        let b = self.force(b).map_err(|e| with_span(e, span))?;
        Ok(match (a, b) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Float(x), Value::Float(y)) => x == y,
            (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => x as f64 == y,
            (Value::String(x), Value::String(y)) => x.bytes == y.bytes,
            (Value::Path(x), Value::Path(y)) => x.bytes == y.bytes,
            (Value::List(x), Value::List(y)) => {
                if std::ptr::eq(x, y) {
                    return Ok(true);
                }
                if x.elems.len() != y.elems.len() {
                    return Ok(false);
                }
                self.enter_nested()?;
                let res = self.equal_elems(x.elems, y.elems, span);
                self.eval_depth -= 1;
                return res;
            }
            (Value::Attrs(x), Value::Attrs(y)) => {
                if std::ptr::eq(x, y) {
                    return Ok(true);
                }
                self.enter_nested()?;
                let res = self.equal_attrs(x, y, span);
                self.eval_depth -= 1;
                return res;
            }
            _ => false,
        })
    }

    /// Counts one more level of nesting in a walk over values (`==`), which recurses on the
    /// Rust stack without forcing anything deep: an infinitely deep value fails as in Nix.
    fn enter_nested(&mut self) -> EvalResult<()> {
        self.eval_depth += 1;
        if self.eval_depth > MAX_EVAL_DEPTH {
            self.eval_depth -= 1;
            return Err(EvalError::new(ErrorKind::NestingTooDeep, None));
        }
        Ok(())
    }

    /// `==` on the elements of two lists of the same length.
    fn equal_elems(&mut self, x: &[Value<'a>], y: &[Value<'a>], span: Span) -> EvalResult<bool> {
        for (p, q) in x.iter().zip(y) {
            if !same_value(p, q) && !self.equal(*p, *q, span)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// `==` on two distinct sets.
    fn equal_attrs(&mut self, x: &'a Attrs<'a>, y: &'a Attrs<'a>, span: Span) -> EvalResult<bool> {
        // Two derivations are equal when their output paths are.
        if self.is_derivation(x)? && self.is_derivation(y)? {
            if let (Some(p), Some(q)) = (x.get(self.syms.out_path), y.get(self.syms.out_path)) {
                return self.equal(p.value, q.value, span);
            }
        }
        if x.entries.len() != y.entries.len() {
            return Ok(false);
        }
        for (p, q) in x.entries.iter().zip(y.entries) {
            if p.name != q.name {
                return Ok(false);
            }
            if !same_value(&p.value, &q.value) && !self.equal(p.value, q.value, span)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Tells whether a set is a derivation (`type = "derivation"`).
    pub fn is_derivation(&mut self, attrs: &'a Attrs<'a>) -> EvalResult<bool> {
        match attrs.get(self.syms.type_) {
            Some(t) => {
                let t = self.force(t.value)?;
                Ok(matches!(t, Value::String(s) if s.bytes == b"derivation"))
            }
            None => Ok(false),
        }
    }

    /// `<`, as `builtins.lessThan`.
    pub fn less_than(&mut self, a: Value<'a>, b: Value<'a>, span: Span) -> EvalResult<bool> {
        let a = self.force(a)?;
        let b = self.force(b)?;
        match (a, b) {
            (Value::Int(x), Value::Int(y)) => Ok(x < y),
            (Value::Float(x), Value::Float(y)) => Ok(x < y),
            (Value::Int(x), Value::Float(y)) => Ok((x as f64) < y),
            (Value::Float(x), Value::Int(y)) => Ok(x < y as f64),
            (Value::String(x), Value::String(y)) => Ok(x.bytes < y.bytes),
            (Value::Path(x), Value::Path(y)) => Ok(x.bytes < y.bytes),
            (Value::List(x), Value::List(y)) => {
                for (p, q) in x.elems.iter().zip(y.elems) {
                    if !self.equal(*p, *q, span)? {
                        return self.less_than(*p, *q, span).map_err(|e| {
                            frame(e, "while comparing two list elements", dummy_span())
                        });
                    }
                }
                Ok(x.elems.len() < y.elems.len())
            }
            _ => Err(EvalError::msg(
                if std::mem::discriminant(&a) == std::mem::discriminant(&b) {
                    format!(
                        "cannot compare {} with {}; values of that type are incomparable",
                        a.type_phrase(),
                        b.type_phrase()
                    )
                } else {
                    format!(
                        "cannot compare {} with {}",
                        a.type_phrase(),
                        b.type_phrase()
                    )
                },
                // Nix's comparison has no position: the caller's frame says where.
                dummy_span(),
            )),
        }
    }
}

/// "00" to "99", for writing integers two digits at a time.
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// The decimal digits of `n`, written at the end of `buf`.
fn int_digits(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    while m >= 100 {
        let r = (m % 100) as usize;
        m /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[2 * r..2 * r + 2]);
    }
    if m >= 10 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[2 * m as usize..2 * m as usize + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + m as u8;
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Appends the decimal form of `n`.
fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(int_digits(n, &mut buf));
}

/// How a value may be turned into a string.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CoerceMode {
    /// `"${x}"`: strings, paths (copied to the store), sets with `__toString`/`outPath`.
    Interpolation,
    /// A piece of an interpolated path: like interpolation, but paths are not copied.
    PathSegment,
    /// `toString`: also numbers, Booleans, null and lists; paths are not copied.
    ToString,
}

impl CoerceMode {
    fn copy_paths(self) -> bool {
        self == CoerceMode::Interpolation
    }

    fn more(self) -> bool {
        self == CoerceMode::ToString
    }
}

/// Converts bytes to an `OsStr` (Unix).
trait OsStrCompat {
    fn from_bytes_compat(b: &[u8]) -> &std::ffi::OsStr;
}

impl OsStrCompat for std::ffi::OsStr {
    fn from_bytes_compat(b: &[u8]) -> &std::ffi::OsStr {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(b)
    }
}

#[inline(always)]
fn lookup<'a>(mut env: &'a Env<'a>, depth: u32, slot: u32) -> &'a std::cell::Cell<Value<'a>> {
    for _ in 0..depth {
        env = env
            .up
            .get()
            .expect("lowering resolved a variable deeper than its environment");
    }
    &env.slots[slot as usize]
}

/// The value of `ir` when it can be had without forcing anything, failing or allocating:
/// literals, evaluated variables, integer arithmetic and comparison on those, selections of
/// evaluated attributes by static names, and `builtins.head` of an evaluated list whose first
/// element is evaluated. `None` for anything else. Computing it has no effect but the result,
/// so a function that forces its parameter first cannot tell it from the thunk.
fn eager_value<'a>(ir: &'a Ir<'a>, env: &'a Env<'a>) -> Option<Value<'a>> {
    match ir {
        Ir::Bin { op, lhs, rhs, .. } => {
            match (eager_operand(lhs, env)?, eager_operand(rhs, env)?) {
                (Value::Int(x), Value::Int(y)) => int_op(*op, x, y),
                _ => None,
            }
        }
        Ir::Select {
            expr,
            path,
            default: None,
            ..
        } => {
            let mut v = eager_operand(expr, env)?;
            for key in *path {
                let (Value::Attrs(a), AttrKey::Static(name)) = (v, key) else {
                    return None;
                };
                v = evaluated(a.get(*name)?.value)?;
            }
            Some(v)
        }
        Ir::Call { func, args, .. } => match (&**func, *args) {
            (Ir::Known(Value::PrimOp(op), _), [list]) if op.name == "head" => {
                match eager_operand(list, env)? {
                    Value::List(l) => evaluated(*l.elems.first()?),
                    _ => None,
                }
            }
            _ => None,
        },
        Ir::Const(_) | Ir::Var { .. } => eager_operand(ir, env),
        _ => None,
    }
}

/// [`eager_value`] with literals and variables answered without a call.
#[inline(always)]
fn eager_operand<'a>(ir: &'a Ir<'a>, env: &'a Env<'a>) -> Option<Value<'a>> {
    match ir {
        Ir::Const(v) => Some(*v),
        Ir::Var { depth, slot, .. } => evaluated(lookup(env, *depth, *slot).get()),
        Ir::Bin { .. } | Ir::Select { .. } | Ir::Call { .. } => eager_value(ir, env),
        _ => None,
    }
}

/// The value, or for a thunk, its value if it has been evaluated.
#[inline(always)]
fn evaluated(v: Value<'_>) -> Option<Value<'_>> {
    match v {
        Value::Thunk(t) => match t.state.get() {
            ThunkState::Done(v) => Some(v),
            _ => None,
        },
        v => Some(v),
    }
}

/// `==` on two evaluated values when it needs no forcing and no walk: `null`, Booleans and
/// strings, a comparison with an empty list (`x == [ ]`), and values of different types that
/// can never be equal (not numbers, not two sets, which may be derivations).
#[inline]
fn quick_equal<'a>(a: Value<'a>, b: Value<'a>) -> Option<bool> {
    match (a, b) {
        (Value::Null, Value::Null) => Some(true),
        (Value::Bool(x), Value::Bool(y)) => Some(x == y),
        (Value::String(x), Value::String(y)) => Some(x.bytes == y.bytes),
        (Value::List(x), Value::List(y)) if x.elems.is_empty() || y.elems.is_empty() => {
            Some(x.elems.len() == y.elems.len())
        }
        (Value::Thunk(_), _) | (_, Value::Thunk(_)) => None,
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => None,
        (Value::Attrs(_), Value::Attrs(_)) | (Value::List(_), Value::List(_)) => None,
        (Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_), _)
        | (_, Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_)) => None,
        _ if std::mem::discriminant(&a) != std::mem::discriminant(&b) => Some(false),
        _ => None,
    }
}

/// An operator on two integers, when it cannot fail (`None` on overflow, division by zero, or an
/// operator that is not arithmetic or comparison).
#[inline(always)]
fn int_op<'a>(op: BinOp, x: i64, y: i64) -> Option<Value<'a>> {
    match op {
        BinOp::Add => x.checked_add(y).map(Value::Int),
        BinOp::Sub => x.checked_sub(y).map(Value::Int),
        BinOp::Mul => x.checked_mul(y).map(Value::Int),
        BinOp::Div => x.checked_div(y).map(Value::Int),
        BinOp::Less => Some(Value::Bool(x < y)),
        BinOp::LessEq => Some(Value::Bool(x <= y)),
        BinOp::Greater => Some(Value::Bool(x > y)),
        BinOp::GreaterEq => Some(Value::Bool(x >= y)),
        BinOp::Eq => Some(Value::Bool(x == y)),
        BinOp::NotEq => Some(Value::Bool(x != y)),
        _ => None,
    }
}

/// Tells whether two values are the same object (so equal without looking inside).
pub(crate) fn same_value<'x>(a: &Value<'x>, b: &Value<'x>) -> bool {
    match (a, b) {
        (Value::Thunk(x), Value::Thunk(y)) => std::ptr::eq(*x, *y),
        (Value::Lambda(x), Value::Lambda(y)) => std::ptr::eq(*x, *y),
        (Value::Attrs(x), Value::Attrs(y)) => std::ptr::eq(*x, *y),
        (Value::List(x), Value::List(y)) => std::ptr::eq(*x, *y),
        (Value::PrimOp(x), Value::PrimOp(y)) => std::ptr::eq(*x, *y),
        _ => false,
    }
}

/// How Nix names argument `index` of builtin `name` in the frame of a wrong argument (after
/// "while evaluating the "), where it names it.
pub(crate) fn argument_context(name: &str, index: usize) -> Option<&'static str> {
    let names: [Option<&'static str>; 3] = match name {
        "addDrvOutputDependencies" => [Some("argument passed to builtins.addDrvOutputDependencies"), None, None],
        "appendContext" => [Some("first argument passed to builtins.appendContext"), Some("second argument passed to builtins.appendContext"), None],
        "attrNames" => [Some("argument passed to builtins.attrNames"), None, None],
        "attrValues" => [Some("argument passed to builtins.attrValues"), None, None],
        "baseNameOf" => [Some("first argument passed to builtins.baseNameOf"), None, None],
        "bitAnd" => [Some("first argument passed to builtins.bitAnd"), Some("second argument passed to builtins.bitAnd"), None],
        "bitOr" => [Some("first argument passed to builtins.bitOr"), Some("second argument passed to builtins.bitOr"), None],
        "bitXor" => [Some("first argument passed to builtins.bitXor"), Some("second argument passed to builtins.bitXor"), None],
        "catAttrs" => [Some("first argument passed to builtins.catAttrs"), Some("second argument passed to builtins.catAttrs"), None],
        "ceil" => [Some("first argument passed to builtins.ceil"), None, None],
        "compareVersions" => [Some("first argument passed to builtins.compareVersions"), Some("second argument passed to builtins.compareVersions"), None],
        "concatLists" => [Some("first argument passed to builtins.concatLists"), None, None],
        "concatMap" => [Some("first argument passed to builtins.concatMap"), Some("second argument passed to builtins.concatMap"), None],
        "concatStringsSep" => [Some("first argument (the separator string) passed to builtins.concatStringsSep"), Some("second argument (the list of strings to concat) passed to builtins.concatStringsSep"), None],
        "convertHash" => [Some("first argument passed to builtins.convertHash"), None, None],
        "derivationStrict" => [Some("argument passed to builtins.derivationStrict"), None, None],
        "dirOf" => [Some("first argument passed to 'builtins.dirOf'"), None, None],
        "elem" => [None, Some("second argument passed to builtins.elem"), None],
        "elemAt" => [Some("first argument passed to 'builtins.elemAt'"), Some("second argument passed to 'builtins.elemAt'"), None],
        "exec" => [Some("first element of the argument passed to builtins.exec"), None, None],
        "fetchClosure" => [Some("argument passed to builtins.fetchClosure"), None, None],
        "fetchMercurial" => [Some("first argument passed to builtins.fetchMercurial"), None, None],
        "fetchTree" => [Some("argument passed to builtins.fetchTree"), None, None],
        "filter" => [Some("first argument passed to builtins.filter"), Some("second argument passed to builtins.filter"), None],
        "filterSource" => [Some("first argument passed to builtins.filterSource"), Some("second argument (the path to filter) passed to 'builtins.filterSource'"), None],
        "findFile" => [Some("first argument passed to builtins.findFile"), Some("second argument passed to builtins.findFile"), None],
        "floor" => [Some("first argument passed to builtins.floor"), None, None],
        "foldlStrict" => [Some("first argument passed to builtins.foldlStrict"), None, Some("third argument passed to builtins.foldlStrict")],
        "fromJSON" => [Some("first argument passed to builtins.fromJSON"), None, None],
        "fromTOML" => [Some("argument passed to builtins.fromTOML"), None, None],
        "genList" => [Some("first argument passed to builtins.genList"), Some("second argument passed to builtins.genList"), None],
        "genericClosure" => [Some("first argument passed to builtins.genericClosure"), None, None],
        "getAttr" => [Some("first argument passed to builtins.getAttr"), Some("second argument passed to builtins.getAttr"), None],
        "getContext" => [Some("argument passed to builtins.getContext"), None, None],
        "getEnv" => [Some("first argument passed to builtins.getEnv"), None, None],
        "groupBy" => [Some("first argument passed to builtins.groupBy"), Some("second argument passed to builtins.groupBy"), None],
        "hasAttr" => [Some("first argument passed to builtins.hasAttr"), Some("second argument passed to builtins.hasAttr"), None],
        "hasContext" => [Some("argument passed to builtins.hasContext"), None, None],
        "hashFile" => [Some("first argument passed to builtins.hashFile"), None, None],
        "hashString" => [Some("first argument passed to builtins.hashString"), Some("second argument passed to builtins.hashString"), None],
        "head" => [Some("first argument passed to 'builtins.head'"), None, None],
        "importNative" => [None, Some("second argument passed to builtins.importNative"), None],
        "intersectAttrs" => [Some("first argument passed to builtins.intersectAttrs"), Some("second argument passed to builtins.intersectAttrs"), None],
        "length" => [Some("first argument passed to builtins.length"), None, None],
        "listToAttrs" => [Some("argument passed to builtins.listToAttrs"), None, None],
        "map" => [Some("first argument passed to builtins.map"), Some("second argument passed to builtins.map"), None],
        "mapAttrs" => [None, Some("second argument passed to builtins.mapAttrs"), None],
        "match" => [Some("first argument passed to builtins.match"), Some("second argument passed to builtins.match"), None],
        "parseDrvName" => [Some("first argument passed to builtins.parseDrvName"), None, None],
        "partition" => [Some("first argument passed to builtins.partition"), Some("second argument passed to builtins.partition"), None],
        "path" => [Some("argument passed to 'builtins.path'"), None, None],
        "placeholder" => [Some("first argument passed to builtins.placeholder"), None, None],
        "removeAttrs" => [Some("first argument passed to builtins.removeAttrs"), Some("second argument passed to builtins.removeAttrs"), None],
        "replaceStrings" => [Some("first argument passed to builtins.replaceStrings"), Some("second argument passed to builtins.replaceStrings"), Some("third argument passed to builtins.replaceStrings")],
        "scopedImport" => [Some("first argument passed to builtins.scopedImport"), None, None],
        "sort" => [Some("first argument passed to builtins.sort"), Some("second argument passed to builtins.sort"), None],
        "split" => [Some("first argument passed to builtins.split"), Some("second argument passed to builtins.split"), None],
        "splitVersion" => [Some("first argument passed to builtins.splitVersion"), None, None],
        "storePath" => [Some("first argument passed to 'builtins.storePath'"), None, None],
        "stringLength" => [Some("argument passed to builtins.stringLength"), None, None],
        "substring" => [Some("first argument (the start offset) passed to builtins.substring"), Some("second argument (the substring length) passed to builtins.substring"), Some("third argument (the string) passed to builtins.substring")],
        "tail" => [Some("first argument passed to 'builtins.tail'"), None, None],
        "toFile" => [Some("first argument passed to builtins.toFile"), Some("second argument passed to builtins.toFile"), None],
        "toPath" => [Some("first argument passed to builtins.toPath"), None, None],
        "toString" => [Some("first argument passed to builtins.toString"), None, None],
        "unsafeDiscardOutputDependency" => [Some("argument passed to builtins.unsafeDiscardOutputDependency"), None, None],
        "unsafeDiscardStringContext" => [Some("argument passed to builtins.unsafeDiscardStringContext"), None, None],
        "unsafeGetAttrPos" => [Some("first argument passed to builtins.unsafeGetAttrPos"), Some("second argument passed to builtins.unsafeGetAttrPos"), None],
        "warn" => [Some("first argument; the message passed to builtins.warn"), None, None],
        "zipAttrsWith" => [Some("first argument passed to builtins.zipAttrsWith"), Some("second argument passed to builtins.zipAttrsWith"), None],
        "throw" => [Some("error message passed to builtin.throw"), None, None],
        "abort" => [Some("error message passed to builtins.abort"), None, None],
        "all" => [
            Some("first argument passed to builtins.all"),
            Some("second argument passed to builtins.all"),
            None,
        ],
        "any" => [
            Some("first argument passed to builtins.any"),
            Some("second argument passed to builtins.any"),
            None,
        ],
        _ => return None,
    };
    names.get(index).copied().flatten()
}

/// Adds Nix's "from call site" frame to an argument mismatch (shown without `--show-trace`).
#[cold]
fn from_call_site(mut e: Box<EvalError>, span: Option<Span>) -> Box<EvalError> {
    if let Some(span) = span.filter(|s| s.file.0 != u32::MAX) {
        e.add_trace("from call site".to_owned(), Some(span), false);
    }
    e
}

/// Moves an operator's type error into a frame of context, as Nix reports it: the frame says
/// where (if anywhere), the error itself has no position.
/// Adds the frames Nix gives an error in an operator it implements as a builtin call (`-`,
/// `*`, `/` and the comparisons, `<=` and `>=` negated): "while calling the 'sub' builtin"
/// at the operator.
#[cold]
#[inline(never)]
fn operator_frame(e: Box<EvalError>, op: BinOp, span: Span) -> Box<EvalError> {
    let builtin = match op {
        BinOp::Sub => "while calling the 'sub' builtin",
        BinOp::Mul => "while calling the 'mul' builtin",
        BinOp::Div => "while calling the 'div' builtin",
        BinOp::Less | BinOp::Greater | BinOp::LessEq | BinOp::GreaterEq => {
            "while calling the 'lessThan' builtin"
        }
        _ => return e,
    };
    let e = frame(e, builtin, span);
    match op {
        BinOp::LessEq | BinOp::GreaterEq => frame(e, "in the argument of the not operator", span),
        _ => e,
    }
}

/// Nix's frame for an element of a list coerced to a string (`toString [ … ]`) that does
/// not coerce: for the element's own failure, and for any failure inside a nested list.
#[cold]
#[inline(never)]
fn list_element_error(mut e: Box<EvalError>, element: Value<'_>) -> Box<EvalError> {
    if matches!(element, Value::List(_)) || crate::arith::coercion_failed(&e) {
        e.add_trace(
            "while evaluating one element of the list".to_owned(),
            None,
            false,
        );
    }
    e
}

/// Nix's frame for the result of a `__toString` that does not coerce to a string: at the
/// coercion's position, the error itself without one.
#[cold]
#[inline(never)]
fn to_string_result_error(mut e: Box<EvalError>, span: Span) -> Box<EvalError> {
    if crate::arith::coercion_failed(&e) {
        e.span = None;
        e.add_trace(
            "while evaluating the result of the `__toString` attribute".to_owned(),
            (span.file.0 != u32::MAX).then_some(span),
            false,
        );
    }
    e
}

/// Adds a frame of context to an error as it unwinds (Nix's `addTrace`), at `span` unless
/// that is the dummy span.
#[cold]
#[inline(never)]
fn frame(mut e: Box<EvalError>, message: &str, span: Span) -> Box<EvalError> {
    let span = (span.file.0 != u32::MAX).then_some(span);
    e.add_trace(message.to_owned(), span, false);
    e
}

#[cold]
fn in_context(mut e: Box<EvalError>, message: &str, span: Option<Span>) -> Box<EvalError> {
    e.span = None;
    e.add_trace(message.to_owned(), span, false);
    e
}

/// `ELOOP`, the error of a path whose symbolic links go round (Linux's number).
const ELOOP: i32 = 40;

/// Nix's error for a path that is not there.
fn path_missing(path: &Path, span: Span) -> Box<EvalError> {
    let span = (span.file.0 != u32::MAX).then_some(span);
    EvalError::new(
        ErrorKind::Message(format!("path '{}' does not exist", path.display())),
        span,
    )
}

/// Gives an infinite recursion without a position the position of the value being forced, as
/// Nix does (other errors keep theirs, or none).
#[cold]
fn with_span(mut e: Box<EvalError>, span: Span) -> Box<EvalError> {
    if e.span.is_none() && matches!(e.kind, ErrorKind::InfiniteRecursion) {
        e.span = Some(span);
    }
    e
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
