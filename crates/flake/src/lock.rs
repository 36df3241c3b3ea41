//! Locking: from the `inputs` of `flake.nix` (and of each input that is a flake) and the old
//! lock file to a new [`LockFile`], as current Nix's `lockFlake` does for the cases Kiln
//! supports: an input whose `original` is unchanged keeps its locked reference unless it is
//! being updated; a new or changed one is fetched; `follows` (in a flake's own inputs or as an
//! override `inputs.X.inputs.Y.follows` from above, which wins) become paths from the root;
//! an input that is a flake brings its inputs, locked as its own `flake.lock` has them.
//! Node keys are the input names, `_2`, `_3`… when taken, given in depth-first order over
//! the inputs sorted by name (the order Nix serialises in).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kiln_store::Store;
use serde_json::Value;

use crate::flakeref::FlakeRef;
use crate::lockfile::{LockFile, LockedInput, Node};
use crate::source::{Fetcher, SourceInfo};
use crate::FlakeError;

/// One entry of a flake's `inputs`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InputDecl {
    /// The reference (`url`, or the attribute form).
    pub reference: Option<FlakeRef>,
    /// `flake` (default true).
    pub flake: Option<bool>,
    /// `follows`, split at `/`.
    pub follows: Option<Vec<String>>,
    /// Overrides of this input's own inputs (`inputs.X.inputs.Y…`).
    pub inputs: BTreeMap<String, InputDecl>,
}

/// What `flake.nix` declares besides `outputs`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlakeDecl {
    /// `description`.
    pub description: Option<String>,
    /// `inputs`.
    pub inputs: BTreeMap<String, InputDecl>,
}

fn bad_decl(what: &str, why: impl Into<String>) -> FlakeError {
    FlakeError::BadFlake {
        what: what.to_owned(),
        reason: why.into(),
    }
}

impl InputDecl {
    fn from_json(name: &str, v: &Value) -> Result<InputDecl, FlakeError> {
        let what = format!("input '{name}'");
        let obj = v
            .as_object()
            .ok_or_else(|| bad_decl(&what, "it is not an attribute set"))?;
        let mut d = InputDecl::default();
        let mut ref_attrs = serde_json::Map::new();
        let mut url = None;
        for (k, v) in obj {
            match k.as_str() {
                "url" => {
                    url = Some(
                        v.as_str()
                            .ok_or_else(|| bad_decl(&what, "'url' is not a string"))?,
                    );
                }
                "flake" => {
                    d.flake = Some(
                        v.as_bool()
                            .ok_or_else(|| bad_decl(&what, "'flake' is not a Boolean"))?,
                    )
                }
                "follows" => {
                    let f = v
                        .as_str()
                        .ok_or_else(|| bad_decl(&what, "'follows' is not a string"))?;
                    d.follows = Some(
                        f.split('/')
                            .filter(|p| !p.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    );
                }
                "inputs" => {
                    let m = v
                        .as_object()
                        .ok_or_else(|| bad_decl(&what, "'inputs' is not an attribute set"))?;
                    for (n, i) in m {
                        d.inputs
                            .insert(n.clone(), InputDecl::from_json(&format!("{name}/{n}"), i)?);
                    }
                }
                "type" | "path" | "owner" | "repo" | "ref" | "rev" => {
                    ref_attrs.insert(k.clone(), v.clone());
                }
                "dir" => {
                    return Err(bad_decl(
                        &what,
                        "flakes in a subdirectory ('dir') are not supported",
                    ))
                }
                _ => return Err(bad_decl(&what, format!("unsupported attribute '{k}'"))),
            }
        }
        if ref_attrs.is_empty() {
            if let Some(u) = url {
                d.reference = Some(FlakeRef::parse(u)?);
            }
        } else {
            // The attribute form: `url` is one of its attributes (`type = "git"`).
            if let Some(u) = url {
                ref_attrs.insert("url".into(), Value::from(u));
            }
            d.reference = Some(FlakeRef::from_attrs(&ref_attrs)?);
        }
        Ok(d)
    }
}

impl FlakeDecl {
    /// Reads what `builtins.toJSON { description; inputs; }` of a `flake.nix` gave.
    pub fn from_json(text: &str) -> Result<FlakeDecl, FlakeError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| bad_decl("flake.nix", format!("its inputs are not plain data: {e}")))?;
        let mut d = FlakeDecl::default();
        if v.get("notAttrs").is_some() {
            return Err(bad_decl("flake.nix", "flake.nix is not an attribute set"));
        }
        if let Some(names) = v.get("names").and_then(Value::as_array) {
            let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
            if !names.contains(&"outputs") {
                return Err(bad_decl("flake.nix", "it lacks attribute 'outputs'"));
            }
            if let Some(n) = names
                .iter()
                .find(|n| !["description", "inputs", "outputs", "nixConfig"].contains(n))
            {
                return Err(bad_decl(
                    "flake.nix",
                    format!("it has an unsupported attribute '{n}'"),
                ));
            }
        }
        match v.get("description") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => d.description = Some(s.clone()),
            Some(_) => return Err(bad_decl("flake.nix", "'description' is not a string")),
        }
        if let Some(inputs) = v.get("inputs") {
            let m = inputs
                .as_object()
                .ok_or_else(|| bad_decl("flake.nix", "'inputs' is not an attribute set"))?;
            for (n, i) in m {
                d.inputs.insert(n.clone(), InputDecl::from_json(n, i)?);
            }
        }
        Ok(d)
    }
}

/// Which inputs to fetch again rather than keep as locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// None: only new or changed inputs are fetched (`kiln flake lock`, `kiln build`).
    Nothing,
    /// Every input (`kiln flake update`).
    All,
    /// These inputs (paths of names from the root) and what is below them
    /// (`kiln flake update INPUT…`).
    Inputs(Vec<Vec<String>>),
}

impl Update {
    fn covers(&self, path: &[String]) -> bool {
        match self {
            Update::Nothing => false,
            Update::All => true,
            Update::Inputs(list) => list.iter().any(|u| path.starts_with(u)),
        }
    }
}

/// How to read a fetched flake's declarations: the logical store directory of the source.
pub type ReadDecl<'r> = dyn FnMut(&str) -> Result<FlakeDecl, FlakeError> + 'r;

/// The result of locking.
pub struct Locked {
    /// The new lock file.
    pub lock: LockFile,
    /// The sources of its nodes, by key (the root's is not here).
    pub sources: BTreeMap<String, SourceInfo>,
    /// The input paths whose lock changed, with the old and the new locked URL, for Nix's
    /// "• Added input", "• Updated input" lines.
    pub changes: Vec<Change>,
}

/// One changed input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its path (`dep`, `dep/nixpkgs`).
    pub path: String,
    /// The old locked URL, quoted, with its date (`None`: added).
    pub old: Option<String>,
    /// The new one, or the follows target (`None`: removed).
    pub new: Option<String>,
}

/// An override declared above, with the prefix of the flake that declared it.
#[derive(Clone)]
struct Override {
    decl: InputDecl,
    prefix: Vec<String>,
}

struct Locker<'l, 'r> {
    fetcher: &'l Fetcher<'l>,
    read: &'l mut ReadDecl<'r>,
    update: &'l Update,
    keys: BTreeSet<String>,
    lock: LockFile,
    sources: BTreeMap<String, SourceInfo>,
}

impl Locker<'_, '_> {
    fn alloc(&mut self, name: &str) -> String {
        let mut key = name.to_owned();
        let mut n = 2;
        while !self.keys.insert(key.clone()) {
            key = format!("{name}_{n}");
            n += 1;
        }
        key
    }

    #[allow(clippy::too_many_arguments)]
    fn compute(
        &mut self,
        node_key: &str,
        prefix: &[String],
        inputs: &BTreeMap<String, InputDecl>,
        overrides: &BTreeMap<String, Override>,
        old: Option<(&LockFile, &str)>,
        base: Option<PathBuf>,
        depth: usize,
    ) -> Result<(), FlakeError> {
        if depth > 32 {
            return Err(FlakeError::BadFlake {
                what: prefix.join("/"),
                reason: "inputs nest more than 32 levels deep (a cycle?)".into(),
            });
        }
        for (name, own) in inputs {
            let path: Vec<String> = prefix.iter().cloned().chain([name.clone()]).collect();
            let over = overrides.get(name);
            // Follows: an override from above wins over the flake's own declaration.
            let follows = match over {
                Some(o) if o.decl.follows.is_some() => {
                    Some((o.decl.follows.clone().unwrap_or_default(), o.prefix.clone()))
                }
                Some(o) if o.decl.reference.is_some() => None,
                _ => own.follows.clone().map(|f| (f, prefix.to_vec())),
            };
            if let Some((f, p)) = follows {
                let target: Vec<String> = p.into_iter().chain(f).collect();
                self.lock
                    .nodes
                    .get_mut(node_key)
                    .expect("node made before its inputs")
                    .inputs
                    .insert(name.clone(), LockedInput::Follows(target));
                continue;
            }
            let reference = over
                .and_then(|o| o.decl.reference.clone())
                .or_else(|| own.reference.clone())
                .ok_or_else(|| FlakeError::BadFlake {
                    what: format!("input '{}'", path.join("/")),
                    reason: "it has no 'url' (the flake registry is not supported)".into(),
                })?;
            // An override with a reference replaces the declaration (its `flake` included).
            let is_flake = match over {
                Some(o) if o.decl.reference.is_some() => o.decl.flake.unwrap_or(true),
                _ => own.flake.unwrap_or(true),
            };
            let original = reference.to_attrs();
            // Overrides for this input's inputs: its own declaration's, then those from above.
            let mut child_overrides: BTreeMap<String, Override> = BTreeMap::new();
            for (n, d) in &own.inputs {
                child_overrides.insert(
                    n.clone(),
                    Override {
                        decl: d.clone(),
                        prefix: prefix.to_vec(),
                    },
                );
            }
            if let Some(o) = over {
                for (n, d) in &o.decl.inputs {
                    child_overrides.insert(
                        n.clone(),
                        Override {
                            decl: d.clone(),
                            prefix: o.prefix.clone(),
                        },
                    );
                }
            }
            let old_node = old.and_then(|(l, k)| match l.nodes[k].inputs.get(name) {
                Some(LockedInput::Node(ck)) => Some((l, ck.as_str())),
                _ => None,
            });
            let reuse = old_node.filter(|(l, ck)| {
                let n = &l.nodes[*ck];
                n.original.as_ref() == Some(&original)
                    && n.flake == is_flake
                    && !self.update.covers(&path)
            });
            let (locked, src) = match reuse {
                Some((l, ck)) => {
                    let locked = l.nodes[ck].locked.clone().expect("checked when parsed");
                    let src = self.fetcher.fetch_locked(&locked)?;
                    (locked, src)
                }
                None => self.fetcher.fetch(&reference, base.as_deref())?,
            };
            let key = self.alloc(name);
            self.lock.nodes.insert(
                key.clone(),
                Node {
                    inputs: BTreeMap::new(),
                    locked: Some(locked),
                    original: Some(original),
                    flake: is_flake,
                },
            );
            self.lock
                .nodes
                .get_mut(node_key)
                .expect("node made before its inputs")
                .inputs
                .insert(name.clone(), LockedInput::Node(key.clone()));
            let real = self.fetcher.store.real_path(&src.path);
            let logical = src.path.to_absolute(self.fetcher.store.store_dir());
            self.sources.insert(key.clone(), src);
            if is_flake {
                let decl = (self.read)(&logical)?;
                // A fresh input's inputs are locked as its own flake.lock has them.
                let own_lock = if reuse.is_none() {
                    match std::fs::read_to_string(real.join("flake.lock")) {
                        Ok(t) => Some(LockFile::parse(&t)?),
                        Err(_) => None,
                    }
                } else {
                    None
                };
                let child_old = match (&reuse, &own_lock) {
                    (Some((l, ck)), _) => Some((*l, *ck)),
                    (None, Some(l)) => Some((l, l.root.as_str())),
                    (None, None) => None,
                };
                self.compute(
                    &key,
                    &path,
                    &decl.inputs,
                    &child_overrides,
                    child_old,
                    Some(real),
                    depth + 1,
                )?;
            }
        }
        Ok(())
    }
}

/// Locks the inputs `decl` declares, against `old` (the current `flake.lock`, if any);
/// relative `path:` inputs are relative to `base`.
pub fn lock(
    fetcher: &Fetcher<'_>,
    read: &mut ReadDecl<'_>,
    decl: &FlakeDecl,
    old: Option<&LockFile>,
    base: Option<PathBuf>,
    update: &Update,
) -> Result<Locked, FlakeError> {
    if let Update::Inputs(list) = update {
        for u in list {
            let declared = match u.first() {
                Some(first) => decl.inputs.contains_key(first),
                None => false,
            };
            if !declared {
                return Err(FlakeError::NoSuchInput { path: u.join("/") });
            }
        }
    }
    let mut locker = Locker {
        fetcher,
        read,
        update,
        keys: BTreeSet::new(),
        lock: LockFile::empty(),
        sources: BTreeMap::new(),
    };
    locker.keys.insert("root".into());
    locker.compute(
        "root",
        &[],
        &decl.inputs,
        &BTreeMap::new(),
        old.map(|l| (l, l.root.as_str())),
        base,
        0,
    )?;
    let lock = locker.lock;
    let changes = changes(old, &lock);
    Ok(Locked {
        lock,
        sources: locker.sources,
        changes,
    })
}

/// Every input path of a lock file with what it is locked to (a URL, or `follows 'a/b'`).
fn entries(lock: &LockFile) -> BTreeMap<String, String> {
    let mut res = BTreeMap::new();
    fn walk(
        lock: &LockFile,
        key: &str,
        prefix: &str,
        res: &mut BTreeMap<String, String>,
        depth: usize,
    ) {
        if depth > 32 {
            return;
        }
        for (name, i) in &lock.nodes[key].inputs {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            match i {
                LockedInput::Node(k) => {
                    let n = &lock.nodes[k];
                    let (url, date) = match &n.locked {
                        Some(l) => (
                            crate::flakeref::attrs_to_url(l),
                            l.get("lastModified").and_then(Value::as_i64),
                        ),
                        None => (String::new(), None),
                    };
                    let shown = match date {
                        Some(t) => format!("'{url}' ({})", &crate::source::utc_text(t)[..10]),
                        None => format!("'{url}'"),
                    };
                    res.insert(path.clone(), shown);
                    walk(lock, k, &path, res, depth + 1);
                }
                LockedInput::Follows(p) => {
                    res.insert(path, format!("follows '{}'", p.join("/")));
                }
            }
        }
    }
    walk(lock, &lock.root, "", &mut res, 0);
    res
}

fn changes(old: Option<&LockFile>, new: &LockFile) -> Vec<Change> {
    let before = old.map(entries).unwrap_or_default();
    let after = entries(new);
    let mut res = Vec::new();
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for n in names {
        let (o, w) = (before.get(n), after.get(n));
        if o != w {
            res.push(Change {
                path: n.clone(),
                old: o.cloned(),
                new: w.cloned(),
            });
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_read_urls_attrs_follows_and_overrides() {
        let d = FlakeDecl::from_json(
            r#"{"description":"d","inputs":{"a":{"url":"path:/a","inputs":{"x":{"follows":"b/c"}}},
                "b":{"type":"git","url":"file:///r","flake":false}}}"#,
        )
        .unwrap();
        assert_eq!(d.description.as_deref(), Some("d"));
        assert_eq!(
            d.inputs["a"].inputs["x"].follows,
            Some(vec!["b".to_owned(), "c".to_owned()])
        );
        assert_eq!(d.inputs["b"].flake, Some(false));
        assert!(matches!(
            d.inputs["b"].reference,
            Some(FlakeRef::Git { .. })
        ));
        for bad in [
            r#"{"inputs":{"a":"path:/a"}}"#,
            r#"{"inputs":{"a":{"url":3}}}"#,
            r#"{"inputs":{"a":{"colour":"red"}}}"#,
            r#"{"inputs":{"a":{"type":"path"}}}"#,
            r#"{"description":1}"#,
        ] {
            assert!(FlakeDecl::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn updates_cover_their_subtrees() {
        let u = Update::Inputs(vec![vec!["a".into()]]);
        assert!(u.covers(&["a".into()]));
        assert!(u.covers(&["a".into(), "b".into()]));
        assert!(!u.covers(&["b".into()]));
        assert!(!Update::Nothing.covers(&["a".into()]));
    }
}
