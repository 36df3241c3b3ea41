//! A flake in an evaluation: resolving the top-level reference, locking (and writing
//! `flake.lock` when it changed), then calling `outputs` as current Nix does, with `self`
//! read in place when it is a local directory.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use kiln_eval::{ErrorKind, EvalError, EvalResult, Value};
use kiln_formats::hash::{Hash, HashAlgo};
use kiln_formats::store_path::{make_fixed_output_path, FileIngestionMethod};
use kiln_session::{EvalConfig, Evaluation, SessionError};
use kiln_store::Store;
use serde_json::{Map, Value as Json};

use crate::flakeref::{attrs_to_url, FlakeRef, RefAttrs};
use crate::lazy::{LazyIo, Mount, Mounts};
use crate::lock::{FlakeDecl, Update};
use crate::lockfile::{LockFile, LockedInput};
use crate::source::{local_root, Fetcher, SourceInfo};
use crate::FlakeError;

/// Who hears the lock file's changes.
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

/// How to load a flake.
pub struct Options {
    /// The evaluation (its store must be writable: inputs are fetched into it).
    pub eval: EvalConfig,
    /// The directory relative references are resolved against.
    pub cwd: PathBuf,
    /// Which inputs to fetch again.
    pub update: Update,
    /// Whether a changed lock file is written (`--no-write-lock-file` turns it off).
    pub write_lock: bool,
    /// Hears the lock file's changes, as Nix's warnings ("updating lock file …").
    pub notify: Option<Notify>,
}

/// A loaded flake.
pub struct Loaded<'a> {
    /// The flake's value: `outputs` with `sourceInfo`, `inputs`, `_type`…
    pub value: Value<'a>,
    /// The lock file it was evaluated with.
    pub lock: LockFile,
    /// The top-level source.
    pub root: SourceInfo,
    /// `description`.
    pub description: Option<String>,
    /// The resolved URL (`path:/dir`, `git+file:///repo`).
    pub url: String,
    /// The locked URL (with `lastModified`, `narHash`…).
    pub locked_url: String,
    /// The sources of the lock file's nodes, by key.
    pub sources: BTreeMap<String, SourceInfo>,
    /// Where `flake.lock` is, for a local flake.
    pub lock_path: Option<PathBuf>,
}

/// Splits an installable (`.#hello`, `path:/x#a.b`) at its `#`.
pub fn parse_installable(s: &str) -> (&str, &str) {
    match s.split_once('#') {
        Some((f, a)) => (if f.is_empty() { "." } else { f }, a),
        None => (s, ""),
    }
}

enum Root {
    /// A directory read in place.
    Local(PathBuf),
    /// A Git working tree.
    Git(PathBuf),
    /// Anything else, fetched.
    Remote(FlakeRef),
}

fn resolve_root(url: &str, cwd: &Path) -> Result<(Root, String), FlakeError> {
    let r = FlakeRef::parse(url)?;
    let dir_of = |p: &Path| -> Result<PathBuf, FlakeError> {
        let dir = cwd.join(p);
        let dir = dir.canonicalize().map_err(|e| FlakeError::Io {
            path: dir.clone(),
            source: e,
        })?;
        if !dir.join("flake.nix").is_file() {
            return Err(FlakeError::BadFlake {
                what: format!("'{}'", dir.display()),
                reason: "it has no flake.nix".into(),
            });
        }
        Ok(dir)
    };
    match &r {
        FlakeRef::Path { path } => {
            let dir = dir_of(Path::new(path))?;
            let explicit_path = url.starts_with("path:");
            if !explicit_path && dir.join(".git").exists() {
                let u = format!("git+file://{}", dir.display());
                Ok((Root::Git(dir), u))
            } else {
                let u = format!("path:{}", dir.display());
                Ok((Root::Local(dir), u))
            }
        }
        FlakeRef::Git {
            url: u,
            git_ref: None,
            rev: None,
        } if u.starts_with("file://") => {
            let dir = dir_of(Path::new(&u["file://".len()..]))?;
            let u = format!("git+file://{}", dir.display());
            Ok((Root::Git(dir), u))
        }
        _ => Ok((Root::Remote(r.clone()), url.to_owned())),
    }
}

fn to_eval(e: FlakeError) -> Box<EvalError> {
    EvalError::new(ErrorKind::Message(e.to_string()), None)
}

/// Quotes `s` as a Nix string literal.
fn nix_string(s: &str) -> String {
    let mut res = String::from("\"");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => res.push_str("\\\""),
            '\\' => res.push_str("\\\\"),
            '\n' => res.push_str("\\n"),
            '\r' => res.push_str("\\r"),
            '\t' => res.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => res.push_str("\\$"),
            c => res.push(c),
        }
    }
    res.push('"');
    res
}

fn string_result<'a>(s: &mut Evaluation<'a>, expr: &str, cwd: &Path) -> EvalResult<String> {
    let v = s.ev.eval_string(expr.as_bytes(), cwd)?;
    match s.ev.force(v)? {
        Value::String(st) => Ok(String::from_utf8_lossy(st.bytes).into_owned()),
        other => Err(EvalError::new(
            ErrorKind::Message(format!("expected a string, got {}", other.type_phrase())),
            None,
        )),
    }
}

/// Reads the declarations of the flake in the (logical) directory `dir`.
fn read_decl(s: &mut Evaluation<'_>, dir: &str, shown: &str) -> EvalResult<FlakeDecl> {
    let file = format!("{dir}/flake.nix");
    let expr = format!(
        "let f = import (/. + {file}); in builtins.toJSON (if builtins.isAttrs f then \
         {{ names = builtins.attrNames f; description = f.description or null; inputs = f.inputs or {{ }}; }} \
         else {{ notAttrs = true; }})",
        file = nix_string(&file),
    );
    let json = string_result(s, &expr, Path::new("/"))?;
    FlakeDecl::from_json(&json)
        .map_err(|e| match e {
            FlakeError::BadFlake { reason, .. } => FlakeError::BadFlake {
                what: format!("'{shown}'"),
                reason,
            },
            e => e,
        })
        .map_err(to_eval)
}

/// The expression that calls every node's `outputs` (Kiln's own, after the Nix manual's
/// description of the flake schema): `info` holds the root's key and, per node, whether it is
/// a flake, its inputs (a key, or a follows path from the root) and its `sourceInfo`.
const CALL_FLAKE: &str = r#"info:
let
  nodes = info.nodes;
  resolve = path: builtins.foldl'
    (key: name: let i = nodes.${key}.inputs.${name}; in if builtins.isList i then resolve i else i)
    info.root path;
  make = key:
    let
      n = nodes.${key};
      outPath = builtins.appendContext n.sourceInfo.outPath { ${n.sourceInfo.outPath} = { path = true; }; };
      sourceInfo = n.sourceInfo // { inherit outPath; };
      inputs = builtins.mapAttrs (_: i: results.${if builtins.isList i then resolve i else i}) n.inputs;
      flake = import (outPath + "/flake.nix");
      outputs = flake.outputs (inputs // { self = result; });
      result = outputs // sourceInfo // { _type = "flake"; inherit inputs outputs sourceInfo; };
    in if n.flake then result else sourceInfo;
  results = builtins.mapAttrs (key: _: make key) nodes;
in results.${info.root}"#;

fn call_info(
    lock: &LockFile,
    root: &SourceInfo,
    sources: &BTreeMap<String, SourceInfo>,
    store_dir: &str,
) -> Json {
    let mut nodes = Map::new();
    for (key, node) in &lock.nodes {
        let src = if key == &lock.root {
            root
        } else {
            &sources[key]
        };
        let mut inputs = Map::new();
        for (name, i) in &node.inputs {
            inputs.insert(
                name.clone(),
                match i {
                    LockedInput::Node(k) => Json::from(k.clone()),
                    LockedInput::Follows(p) => {
                        Json::Array(p.iter().cloned().map(Json::from).collect())
                    }
                },
            );
        }
        let mut n = Map::new();
        n.insert("flake".into(), Json::Bool(key == &lock.root || node.flake));
        n.insert("inputs".into(), Json::Object(inputs));
        n.insert("sourceInfo".into(), src.to_json(store_dir));
        nodes.insert(key.clone(), Json::Object(n));
    }
    let mut top = Map::new();
    top.insert("root".into(), Json::from(lock.root.clone()));
    top.insert("nodes".into(), Json::Object(nodes));
    Json::Object(top)
}

/// The locked URL of a top-level source.
fn root_locked(root: &Root, url: &str, src: &SourceInfo) -> String {
    let mut a: RefAttrs = Map::new();
    match root {
        Root::Local(dir) => {
            a.insert("type".into(), Json::from("path"));
            a.insert("path".into(), Json::from(dir.display().to_string()));
        }
        Root::Git(dir) => {
            a.insert("type".into(), Json::from("git"));
            a.insert(
                "url".into(),
                Json::from(format!("file://{}", dir.display())),
            );
            if let Some(r) = &src.rev {
                a.insert("rev".into(), Json::from(r.clone()));
            }
            if let Some(r) = &src.dirty_rev {
                a.insert("dirtyRev".into(), Json::from(r.clone()));
            }
        }
        Root::Remote(_) => return url.to_owned(),
    }
    a.insert("lastModified".into(), Json::from(src.last_modified));
    a.insert("narHash".into(), Json::from(src.nar_hash.to_sri()));
    attrs_to_url(&a)
}

fn write_atomically(path: &Path, text: &str) -> Result<(), FlakeError> {
    let io = |e| FlakeError::Io {
        path: path.to_owned(),
        source: e,
    };
    let tmp = path.with_file_name(format!(".flake.lock.tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

fn describe_changes(changes: &[crate::Change]) -> String {
    let mut s = String::new();
    for c in changes {
        match (&c.old, &c.new) {
            (None, Some(n)) => s.push_str(&format!("\n• Added input '{}':\n    {n}", c.path)),
            (Some(o), Some(n)) => s.push_str(&format!(
                "\n• Updated input '{}':\n    {o}\n  → {n}",
                c.path
            )),
            (Some(_), None) => s.push_str(&format!("\n• Removed input '{}'", c.path)),
            (None, None) => {}
        }
    }
    s
}

/// Loads the flake `url` (locking it, and writing its lock file when that changed and
/// `opts.write_lock`), then runs `f` with it in the same evaluation.
pub fn with_flake<T, F>(opts: Options, url: &str, f: F) -> Result<T, SessionError>
where
    T: Send,
    F: for<'a> FnOnce(&mut Evaluation<'a>, &Loaded<'a>) -> EvalResult<T> + Send,
{
    let mut eval = opts.eval;
    eval.settings.pure_eval = true;
    // A pure evaluation has no search path, except Kiln's own Nix code (`<kiln/…>`, the
    // shipped directory or a `kiln=DIR` entry), which stays readable as the corepkgs are.
    eval.settings.nix_path.retain(|(name, _)| name == "kiln");
    let mut allowed: Vec<PathBuf> = eval.settings.kiln_dir.iter().cloned().collect();
    allowed.extend(
        eval.settings
            .nix_path
            .iter()
            .filter(|(_, dir)| dir.starts_with('/'))
            .map(|(_, dir)| PathBuf::from(dir)),
    );
    let fetch_settings = eval.fetch.clone();
    let cwd = opts.cwd;
    let update = opts.update;
    let write_lock = opts.write_lock;
    let notify = opts.notify;
    let url = url.to_owned();
    kiln_session::evaluate(eval, move |s| {
        let store = s.store.ok_or_else(|| {
            to_eval(FlakeError::Fetch(
                "flakes need a writable store to fetch inputs into".into(),
            ))
        })?;
        let store_dir = store.store_dir().to_owned();
        for dir in &allowed {
            s.ev.allow_path(dir);
        }
        let mounts: Mounts = Rc::new(RefCell::new(Vec::new()));
        let inner = std::mem::replace(&mut s.ev.io, Box::new(kiln_eval::io::FsIo::new()));
        s.ev.io = Box::new(LazyIo::new(inner, mounts.clone()));
        let fetcher = Fetcher {
            store,
            settings: &fetch_settings,
        };

        let (root, resolved) = resolve_root(&url, &cwd).map_err(to_eval)?;
        // Where the top-level flake is read from while locking, and its lock file.
        let (logical_dir, real_dir, mut root_src) = match &root {
            Root::Local(dir) => {
                // Locking needs no hash of the tree: a placeholder store path shows it.
                let h = Hash::digest_bytes(
                    HashAlgo::Sha256,
                    format!("kiln-flake-unhashed:{}", dir.display()).as_bytes(),
                );
                let p = make_fixed_output_path(
                    &store_dir,
                    "source",
                    FileIngestionMethod::Recursive,
                    &h,
                )
                .map_err(|e| to_eval(FlakeError::Fetch(e.to_string())))?;
                mounts
                    .borrow_mut()
                    .push(Mount::new(p.clone(), dir.clone(), &store_dir));
                (p.to_absolute(&store_dir), dir.clone(), None)
            }
            Root::Git(dir) => {
                let src = fetcher.run_git_worktree(dir).map_err(to_eval)?;
                (
                    src.path.to_absolute(&store_dir),
                    store.real_path(&src.path),
                    Some(src),
                )
            }
            Root::Remote(r) => {
                let (_, src) = fetcher.fetch(r, None).map_err(to_eval)?;
                (
                    src.path.to_absolute(&store_dir),
                    store.real_path(&src.path),
                    Some(src),
                )
            }
        };
        let lock_path = match &root {
            Root::Local(d) | Root::Git(d) => d.join("flake.lock"),
            Root::Remote(_) => real_dir.join("flake.lock"),
        };
        let old_text = match std::fs::read_to_string(&lock_path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(to_eval(FlakeError::Io {
                    path: lock_path,
                    source: e,
                }))
            }
        };
        let old = match &old_text {
            Some(t) => Some(LockFile::parse(t).map_err(to_eval)?),
            None => None,
        };
        let decl = read_decl(s, &logical_dir, &resolved)?;
        let locked = {
            let mut read = |dir: &str| -> Result<FlakeDecl, FlakeError> {
                read_decl(s, dir, dir).map_err(|e| FlakeError::Fetch(e.kind.to_string()))
            };
            crate::lock::lock(
                &fetcher,
                &mut read,
                &decl,
                old.as_ref(),
                Some(real_dir.clone()),
                &update,
            )
            .map_err(to_eval)?
        };
        let changed = old.as_ref() != Some(&locked.lock);
        let local = !matches!(root, Root::Remote(_));
        if changed {
            let verb = if old.is_none() {
                "creating"
            } else {
                "updating"
            };
            if local && write_lock {
                write_atomically(&lock_path, &locked.lock.to_text()).map_err(to_eval)?;
                if let Some(n) = &notify {
                    n(&format!(
                        "warning: {verb} lock file '\"{}\"': {}",
                        lock_path.display(),
                        describe_changes(&locked.changes)
                    ));
                }
            } else if let Some(n) = &notify {
                n(&format!(
                    "warning: not writing modified lock file of flake '{resolved}':{}",
                    describe_changes(&locked.changes)
                ));
            }
        }
        // The top-level source as evaluated: hashed now, after the lock file was written.
        let root_src = match (&root, root_src.take()) {
            (Root::Local(dir), _) => {
                let src = local_root(dir, &store_dir).map_err(to_eval)?;
                let mut m = mounts.borrow_mut();
                m.clear();
                m.push(Mount::new(src.path.clone(), dir.clone(), &store_dir));
                src
            }
            (Root::Git(dir), _) if changed && write_lock => {
                fetcher.run_git_worktree(dir).map_err(to_eval)?
            }
            (_, Some(src)) => src,
            (_, None) => unreachable!("only a local root has no source yet"),
        };
        let info = call_info(&locked.lock, &root_src, &locked.sources, &store_dir);
        let expr = format!(
            "({CALL_FLAKE}) (builtins.fromJSON {})",
            nix_string(&info.to_string())
        );
        let v = s.ev.eval_string(expr.as_bytes(), Path::new("/"))?;
        let value = s.ev.force(v)?;
        let loaded = Loaded {
            value,
            locked_url: root_locked(&root, &resolved, &root_src),
            lock: locked.lock,
            root: root_src,
            description: decl.description,
            url: resolved,
            sources: locked.sources,
            lock_path: local.then_some(lock_path),
        };
        f(s, &loaded)
    })
}
