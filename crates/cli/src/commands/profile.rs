//! Profiles and user environments: `kiln profile …` and the engine behind `nix-env`.
//!
//! A profile's generation is a *user environment*: a `builtin:buildenv` derivation
//! (`crates/realise/src/builtin_buildenv.rs`) whose output links the installed packages' files
//! and holds `manifest.nix`, a Nix list with one attribute set per installed package (`name`,
//! `outPath`, `outputs` and each output's `outPath`, `system`, `meta`, `type`), byte for byte as
//! Nix 2.8 writes it (so the environment's derivation is Nix's too). The manifest is added to the store as a text file that refers to the
//! packages, so an installed package lives as long as a generation that has it.
//!
//! A change (install, remove, upgrade) reads the current manifest, computes the new list,
//! builds the packages and the new environment with `kiln_realise::realise`, then makes it a new
//! generation (`kiln_store::profile`: a finished `P-N-link`, then `P` swapped by one rename),
//! so a process killed at any moment leaves the old or the new generation current. Everything
//! goes through the store at a root, including reading manifests (physical paths), so profiles
//! work in `--store DIR`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use clap::{Args, Subcommand};
use kiln_formats::store_path::StorePath;
use kiln_store::profile::Profile;
use kiln_store::{LocalStore, Store as _};
use serde_json::Value as Json;

use crate::cli::GlobalArgs;
use crate::evaluate::{self, Output, Request, Source};
use crate::legacy::build_common::{self, BuildOptions};

/// One installed (or installable) package.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// `name` (`hello-2.10`).
    pub name: String,
    /// The attribute it was found under (installables only).
    pub attr_path: String,
    /// `system`.
    pub system: String,
    /// The `.drv`, when known.
    pub drv_path: Option<String>,
    /// Output names and paths, in the derivation's order.
    pub outputs: Vec<(String, String)>,
    /// `meta`, the attributes kept in manifests (strings, numbers, Booleans, string lists).
    pub meta: serde_json::Map<String, Json>,
}

impl Element {
    /// The first output's path (`outPath`).
    pub fn out_path(&self) -> &str {
        self.outputs.first().map(|o| o.1.as_str()).unwrap_or("")
    }

    /// `meta.priority`, 5 by default (lower wins).
    pub fn priority(&self) -> i64 {
        match self.meta.get("priority") {
            Some(Json::Number(n)) => n.as_i64().unwrap_or(5),
            Some(Json::String(s)) => s.parse().unwrap_or(5),
            _ => 5,
        }
    }

    /// Whether it is linked into the environment (`meta.active`).
    pub fn active(&self) -> bool {
        !matches!(self.meta.get("active"), Some(Json::Bool(false)))
    }

    fn from_json(v: &Json) -> anyhow::Result<Element> {
        let s = |k: &str| v.get(k).and_then(Json::as_str).map(str::to_owned);
        let name = s("name").ok_or_else(|| anyhow!("a package has no 'name'"))?;
        let top_out = s("outPath").or_else(|| s("outPath_"));
        let mut outputs = Vec::new();
        match v.get("outputs") {
            Some(Json::Array(outs)) => {
                for o in outs {
                    // Installables carry {name, path}; manifests name the outputs and have
                    // `<output>.outPath`.
                    let (n, p) = match o {
                        Json::Object(m) => (
                            m.get("name")
                                .and_then(Json::as_str)
                                .unwrap_or("out")
                                .to_owned(),
                            m.get("path").and_then(Json::as_str).map(str::to_owned),
                        ),
                        Json::String(n) => (
                            n.clone(),
                            v.get(n.as_str())
                                .and_then(|o| o.get("outPath").or(Some(o)))
                                .and_then(Json::as_str)
                                .map(str::to_owned),
                        ),
                        _ => continue,
                    };
                    let p = p.or_else(|| (n == "out").then(|| top_out.clone()).flatten());
                    if let Some(p) = p {
                        outputs.push((n, p));
                    }
                }
            }
            _ => {
                if let Some(p) = top_out {
                    outputs.push(("out".to_owned(), p));
                }
            }
        }
        if outputs.is_empty() {
            bail!("package '{name}' has no output paths");
        }
        Ok(Element {
            name,
            attr_path: s("attrPath").unwrap_or_default(),
            system: s("system").unwrap_or_default(),
            drv_path: s("drvPath").filter(|d| !d.is_empty()),
            outputs,
            meta: v
                .get("meta")
                .and_then(Json::as_object)
                .cloned()
                .unwrap_or_default(),
        })
    }
}

/// Splits a package name into name and version at the first `-` followed by a non-letter
/// (Nix's `DrvName`).
pub fn parse_name(full: &str) -> (&str, &str) {
    let b = full.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'-' && b.get(i + 1).is_some_and(|c| !c.is_ascii_alphabetic()) {
            return (&full[..i], &full[i + 1..]);
        }
    }
    (full, "")
}

/// Whether `selector` (`name`, `name-version` or `*`) selects the package `full`.
pub fn name_matches(selector: &str, full: &str) -> bool {
    if selector == "*" || selector == full {
        return true;
    }
    let (sn, sv) = parse_name(selector);
    let (n, v) = parse_name(full);
    sn == n && (sv.is_empty() || sv == v)
}

/// Nix's version comparison (`builtins.compareVersions`): components split at `.` and `-`,
/// and between digits and letters; numbers compare numerically, `pre` is older than anything,
/// the empty string older than numbers, letters older than numbers.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    fn components(s: &str) -> Vec<&str> {
        let mut res = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'.' || b[i] == b'-' {
                i += 1;
                continue;
            }
            let start = i;
            if b[i].is_ascii_digit() {
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            } else {
                while i < b.len() && !(b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'-') {
                    i += 1;
                }
            }
            res.push(&s[start..i]);
        }
        res
    }
    fn less(c1: &str, c2: &str) -> bool {
        let n1 = c1.parse::<u64>().ok();
        let n2 = c2.parse::<u64>().ok();
        match (n1, n2) {
            (Some(a), Some(b)) => a < b,
            _ if c1.is_empty() && n2.is_some() => true,
            _ if c1 == "pre" && c2 != "pre" => true,
            _ if c2 == "pre" => false,
            (_, Some(_)) => true,
            (Some(_), _) => false,
            _ => c1 < c2,
        }
    }
    let (ca, cb) = (components(a), components(b));
    for i in 0..ca.len().max(cb.len()) {
        let x = ca.get(i).copied().unwrap_or("");
        let y = cb.get(i).copied().unwrap_or("");
        if less(x, y) {
            return Ordering::Less;
        }
        if less(y, x) {
            return Ordering::Greater;
        }
    }
    Ordering::Equal
}

/// A profile in a store, and the options builds use.
pub struct ProfileEnv {
    /// The store root.
    pub root: PathBuf,
    /// The store.
    pub store: LocalStore,
    /// The profile.
    pub profile: Profile,
    /// Build and evaluation options.
    pub opts: BuildOptions,
    /// `-I` entries.
    pub include: Vec<String>,
}

/// The default profile of a store root, by Nix 2.8's rules (`getDefaultProfile`) applied to
/// the root's state directory: `~/.nix-profile` names it when that link exists (and, under
/// a root other than `/`, leads into this root's state directory); otherwise it is
/// `<state>/profiles/default` for root and `<state>/profiles/per-user/$USER/profile` for
/// anyone else, and `~/.nix-profile` is made to point there (best effort, as in Nix).
pub fn default_profile(root: &Path) -> anyhow::Result<PathBuf> {
    let root =
        std::path::absolute(root).with_context(|| format!("resolving '{}'", root.display()))?;
    let state = kiln_store::StoreLocation::new(&root).state_dir();
    let profile = if effective_uid() == Some(0) {
        state.join("profiles/default")
    } else {
        state
            .join("profiles/per-user")
            .join(user_name())
            .join("profile")
    };
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        return Ok(profile);
    };
    let link = Path::new(&home).join(".nix-profile");
    match std::fs::read_link(&link) {
        Ok(target) => {
            let target = Path::new(&home).join(target);
            if root == Path::new("/") || target.starts_with(&state) {
                return Ok(target);
            }
        }
        Err(_) if std::fs::symlink_metadata(&link).is_ok() => {}
        Err(_) => {
            if let Some(dir) = profile.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating directory '{}'", dir.display()))?;
            }
            // A home that cannot hold the link still has a profile.
            let _ = std::os::unix::fs::symlink(&profile, &link);
        }
    }
    Ok(profile)
}

/// The effective user id: the owner of `/proc/self`.
fn effective_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// The user's name: `$USER`, else the password database's name for the effective user id.
fn user_name() -> String {
    if let Some(u) = std::env::var("USER").ok().filter(|u| !u.is_empty()) {
        return u;
    }
    let uid = effective_uid().unwrap_or(0);
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[2].parse() == Ok(uid))
        .map(|f| f[0].to_owned())
        .unwrap_or_else(|| {
            if uid == 0 {
                "root".into()
            } else {
                uid.to_string()
            }
        })
}

impl ProfileEnv {
    /// Opens the store at `root` and the profile (`None`: the default one).
    pub fn open(
        root: PathBuf,
        profile: Option<PathBuf>,
        opts: BuildOptions,
        include: Vec<String>,
    ) -> anyhow::Result<Self> {
        let store = crate::commands::store::open_root(Some(root.clone()))?;
        let path = match profile {
            Some(p) if p.is_absolute() => p,
            Some(p) => std::env::current_dir()?.join(p),
            None => default_profile(&root)?,
        };
        // `~/.nix-profile` is a link to the real profile; generations live beside that.
        let path = match std::fs::read_link(&path) {
            Ok(t) if t.is_absolute() && !t.starts_with(&store.location().store_dir) => t,
            _ => path,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating directory '{}'", dir.display()))?;
        }
        Ok(ProfileEnv {
            root,
            store,
            profile: Profile::new(path),
            opts,
            include,
        })
    }

    /// The physical path of a logical path in the store (a file inside a store path too).
    fn physical(&self, logical: &str) -> anyhow::Result<PathBuf> {
        let dir = &self.store.location().store_dir;
        let rest = logical
            .strip_prefix(dir.as_str())
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| anyhow!("'{logical}' is not in the store '{dir}'"))?;
        Ok(self.store.location().real_store_dir().join(rest))
    }

    /// The store path a generation link (or the profile) points to.
    pub fn generation_target(&self, number: u64) -> anyhow::Result<String> {
        let link = self.profile.generation_path(number);
        let t = std::fs::read_link(&link)
            .with_context(|| format!("reading link '{}'", link.display()))?;
        Ok(t.to_string_lossy().into_owned())
    }

    /// The packages of a user environment (a store path), from its `manifest.nix`.
    pub fn manifest_of(&self, env: &str) -> anyhow::Result<Vec<Element>> {
        let mut file = format!("{env}/manifest.nix");
        for _ in 0..10 {
            match std::fs::read_link(self.physical(&file)?) {
                Ok(t) => file = t.to_string_lossy().into_owned(),
                Err(_) => break,
            }
        }
        let text = match std::fs::read_to_string(self.physical(&file)?) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(anyhow!("reading '{file}': {e}")),
        };
        read_manifest(text).with_context(|| format!("reading the manifest '{file}'"))
    }

    /// The packages of the current generation (none without one).
    pub fn installed(&self) -> anyhow::Result<Vec<Element>> {
        match self.profile.current()? {
            Some(n) => self.manifest_of(&self.generation_target(n)?),
            None => Ok(Vec::new()),
        }
    }

    /// The derivations `file` offers: under `attrs` (`-A` paths), or every derivation at its
    /// top level when `attrs` is empty.
    pub fn available(&self, file: &Path, attrs: &[String]) -> anyhow::Result<Vec<Element>> {
        const INFO: &str = r#"
          let
            ok = v: let t = builtins.typeOf v; in
              t == "string" || t == "int" || t == "bool" || t == "float"
              || (t == "list" && builtins.all builtins.isString v);
            clean = m: builtins.listToAttrs (builtins.concatMap (n:
              let r = builtins.tryEval m.${n}; in
              if r.success && ok r.value then [ { name = n; value = r.value; } ] else [ ])
              (builtins.attrNames m));
            info = attrPath: d: {
              inherit attrPath;
              name = d.name;
              system = d.system or "";
              drvPath = d.drvPath;
              outputs = map (o: { name = o; path = d.${o}.outPath; }) (d.outputs or [ "out" ]);
              meta = clean (d.meta or { });
            };
            isDrv = v: builtins.isAttrs v && (v.type or null) == "derivation";
            # Nix's getDerivations: a derivation, or the derivations of a set (sorted by
            # name; sets only with `recurseForDerivations`, every value in the set of a
            # combined directory, each auto-called).
            join = prefix: n: if prefix == "" then n else "${prefix}.${n}";
            attr = path: v:
              let r = builtins.tryEval (isDrv v); in
              if !r.success then [ ]
              else if r.value then [ (info path v) ]
              else if builtins.isAttrs v && (v.recurseForDerivations or false) then walk path v
              else [ ];
            walk = prefix: v0:
              let v = if builtins.isFunction v0 then v0 { } else v0; in
              if isDrv v then [ (info prefix v) ]
              else if builtins.isAttrs v then
                builtins.concatMap (n:
                  if builtins.match "[A-Za-z_][-A-Za-z0-9_+]*" n == null then [ ]
                  else if v ? _combineChannels then walk (join prefix n) v.${n}
                  else attr (join prefix n) v.${n})
                  (builtins.attrNames v)
              else [ ];
          in"#;
        let apply = format!("{INFO} walk \"\"");
        let attr_paths = attrs.to_vec();
        let json = evaluate::run(Request {
            source: self.source_of(file)?,
            attr_paths: attr_paths.clone(),
            args: Vec::new(),
            apply: Some(apply),
            strict: true,
            output: Output::Json,
            include: self.include.clone(),
            eval: kiln_eval::EvalSettings::default(),
            show_trace: self.opts.show_trace,
            store: Some(self.root.clone()),
            fetch_root: None,
            fetch: crate::config::default_fetch_settings(),
        })?;
        let mut res = Vec::new();
        let mut attr_iter = attr_paths.iter();
        for line in json.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let v: Json = serde_json::from_slice(line)?;
            let attr = attr_iter.next();
            for item in v.as_array().into_iter().flatten() {
                let mut e = Element::from_json(item)?;
                if let Some(a) = attr {
                    e.attr_path = if e.attr_path.is_empty() {
                        a.clone()
                    } else {
                        format!("{a}.{}", e.attr_path)
                    };
                }
                res.push(e);
            }
        }
        Ok(res)
    }

    /// What the profile link says now (`P-N-link`), the token of Nix's optimistic locking.
    fn token(&self) -> Option<PathBuf> {
        std::fs::read_link(self.profile.path()).ok()
    }

    /// Applies `change` to the installed packages and switches to the result, starting over
    /// when another process changed the profile meanwhile (Nix's optimistic locking).
    /// `change` returns `None` when nothing is to be done.
    fn modify(
        &self,
        mut change: impl FnMut(Vec<Element>) -> Option<Vec<Element>>,
    ) -> anyhow::Result<()> {
        loop {
            let token = self.token();
            let Some(elems) = change(self.installed()?) else {
                return Ok(());
            };
            if self.switch_to_elements(&elems, Some(&token))?.is_some() {
                return Ok(());
            }
            eprintln!(
                "profile '{}' changed while we were busy; restarting",
                self.profile.path().display()
            );
        }
    }

    /// Builds the packages and a user environment of `elems`, and makes it the profile's new
    /// generation, unless the profile no longer points where `token` says (then `None`).
    /// Returns the generation's number.
    pub fn switch_to_elements(
        &self,
        elems: &[Element],
        token: Option<&Option<PathBuf>>,
    ) -> anyhow::Result<Option<u64>> {
        let store_dir = self.store.location().store_dir.clone();
        // Build what is missing: packages with a derivation, else the paths must be valid.
        let mut goals = Vec::new();
        for e in elems {
            match &e.drv_path {
                Some(d) => goals.push(kiln_realise::Goal::Drv {
                    drv: self.store.parse_path(d)?,
                    outputs: kiln_realise::OutputsSpec::Names(
                        e.outputs.iter().map(|o| o.0.clone()).collect(),
                    ),
                }),
                None => {
                    for (_, p) in &e.outputs {
                        goals.push(kiln_realise::Goal::Opaque(self.store.parse_path(p)?));
                    }
                }
            }
        }
        if !goals.is_empty() && build_common::realise(&self.store, &goals, &self.opts)?.is_none() {
            return Ok(Some(self.profile.current()?.unwrap_or(0)));
        }
        // The manifest, referring to every output (and derivation) it names.
        let mut refs = BTreeSet::new();
        for e in elems {
            for (_, p) in &e.outputs {
                refs.insert(self.store.parse_path(p)?);
            }
        }
        let text = manifest_text(elems);
        let manifest = self
            .store
            .add_text("env-manifest.nix", text.as_bytes(), &refs)?
            .path
            .to_absolute(&store_dir);
        // The environment's derivation, as `<nix/buildenv.nix>` makes it.
        let mut derivations = String::new();
        for e in elems {
            derivations.push_str(&format!(
                " \"{}\" {} {}",
                if e.active() { "true" } else { "false" },
                e.priority(),
                e.outputs.len()
            ));
            for (_, p) in &e.outputs {
                derivations.push_str(&format!(" {}", nix_string(p)));
            }
        }
        let expr = format!(
            "derivation {{ name = \"user-environment\"; system = \"builtin\"; \
             builder = \"builtin:buildenv\"; manifest = builtins.storePath {}; \
             derivations = [{derivations} ]; preferLocalBuild = true; \
             allowSubstitutes = false; }}",
            nix_string(&manifest)
        );
        let drvs = evaluate::instantiate(Request {
            source: Source::Expr(expr),
            attr_paths: Vec::new(),
            args: Vec::new(),
            apply: None,
            strict: false,
            output: Output::DrvPaths,
            include: Vec::new(),
            eval: kiln_eval::EvalSettings::default(),
            show_trace: self.opts.show_trace,
            store: Some(self.root.clone()),
            fetch_root: None,
            fetch: crate::config::default_fetch_settings(),
        })?;
        let goals: Vec<_> = drvs.iter().map(evaluate::DrvOutput::goal).collect();
        let Some(results) = build_common::realise(&self.store, &goals, &self.opts)? else {
            return Ok(Some(self.profile.current()?.unwrap_or(0)));
        };
        let out = results
            .first()
            .and_then(|o| o.get("out"))
            .ok_or_else(|| anyhow!("the user environment was not built"))?;
        let path = self.store.parse_path(out)?;
        // Kiln's changes of one profile check and switch under `P.modify.lock`, so a change
        // made meanwhile is seen (the switch itself takes Nix's `P.lock`).
        let mut modify = self.profile.path().as_os_str().to_owned();
        modify.push(".modify");
        let _lock = kiln_store::PathLock::acquire(Path::new(&modify))?;
        if token.is_some_and(|t| *t != self.token()) {
            return Ok(None);
        }
        Ok(Some(self.profile.create_generation(&self.store, &path)?))
    }

    /// Installs `new` (replacing installed packages of the same name unless `preserve`).
    pub fn install(&self, new: Vec<Element>, preserve: bool) -> anyhow::Result<()> {
        for e in &new {
            eprintln!("installing '{}'", e.name);
        }
        let names: BTreeSet<&str> = new.iter().map(|e| parse_name(&e.name).0).collect();
        self.modify(|mut elems| {
            if !preserve {
                elems.retain(|e| !names.contains(parse_name(&e.name).0));
            }
            // New packages first, then those kept, as Nix orders them.
            Some(new.iter().cloned().chain(elems).collect())
        })
    }

    /// Removes the installed packages `selectors` match.
    pub fn remove(&self, selectors: &[String]) -> anyhow::Result<()> {
        self.modify(|mut elems| {
            elems.retain(|e| {
                let hit = selectors.iter().any(|s| name_matches(s, &e.name));
                if hit {
                    eprintln!("uninstalling '{}'", e.name);
                }
                !hit
            });
            Some(elems)
        })
    }

    /// Replaces installed packages by newer versions from `available` (all installed
    /// packages, or those `selectors` match).
    pub fn upgrade(&self, available: &[Element], selectors: &[String]) -> anyhow::Result<()> {
        self.modify(|mut elems| {
            let mut changed = false;
            for e in elems.iter_mut() {
                if !selectors.is_empty() && !selectors.iter().any(|s| name_matches(s, &e.name)) {
                    continue;
                }
                let (name, version) = parse_name(&e.name);
                let best = available
                    .iter()
                    .filter(|a| parse_name(&a.name).0 == name)
                    .max_by(|a, b| compare_versions(parse_name(&a.name).1, parse_name(&b.name).1));
                if let Some(best) = best {
                    let newer = compare_versions(parse_name(&best.name).1, version).is_gt();
                    if newer || (best.name == e.name && best.out_path() != e.out_path()) {
                        eprintln!("upgrading '{}' to '{}'", e.name, best.name);
                        *e = best.clone();
                        changed = true;
                    }
                }
            }
            changed.then_some(elems)
        })
    }

    /// Sets `meta.<flag>` of the installed packages `selectors` match (`--set-flag`):
    /// `priority` (a number, lower wins collisions), `active` (`true`/`false`), `keep`.
    pub fn set_flag(&self, flag: &str, value: &str, selectors: &[String]) -> anyhow::Result<()> {
        let v = match flag {
            "priority" => Json::from(
                value
                    .parse::<i64>()
                    .map_err(|_| anyhow!("invalid priority '{value}'"))?,
            ),
            "active" | "keep" => Json::Bool(value == "true"),
            _ => bail!("unknown flag '{flag}'"),
        };
        self.modify(|mut elems| {
            for e in elems.iter_mut() {
                if selectors.iter().any(|s| name_matches(s, &e.name)) {
                    eprintln!("setting flag on '{}'", e.name);
                    e.meta.insert(flag.to_owned(), v.clone());
                }
            }
            Some(elems)
        })
    }

    /// Makes generation `number` current, saying so as Nix does.
    pub fn switch_generation(&self, number: u64) -> anyhow::Result<()> {
        let cur = self.profile.current()?.unwrap_or(0);
        self.profile.switch_to(number)?;
        eprintln!("switching profile from version {cur} to {number}");
        Ok(())
    }

    /// What `nix-env -f PATH` (and, without `-f`, `~/.nix-defexpr`) evaluates, as Nix 2.8's
    /// `loadSourceExpr`: a file, a directory with a `default.nix`, or else a directory whose
    /// `.nix` files and subdirectories with a `default.nix` become one set (other
    /// subdirectories searched too, keeping the set flat; first name wins), each imported on
    /// demand. Links into the store or state directory are followed in the store's root.
    fn source_of(&self, path: &Path) -> anyhow::Result<Source> {
        let real = self.resolve(path);
        let meta = std::fs::metadata(&real)
            .with_context(|| format!("getting information about '{}'", path.display()))?;
        if is_nix_expr(&real, &meta) {
            return Ok(Source::File(self.logical(&real)));
        }
        if !meta.is_dir() {
            bail!(
                "path '{}' is not a directory or a Nix expression",
                path.display()
            );
        }
        let mut seen = BTreeSet::new();
        let mut text = String::from("{ _combineChannels = [ ]; ");
        self.combine(&real, path, &mut seen, &mut text)?;
        text.push('}');
        Ok(Source::Expr(text))
    }

    /// Adds the expressions of directory `real` (shown as `shown`) to `text`.
    fn combine(
        &self,
        real: &Path,
        shown: &Path,
        seen: &mut BTreeSet<String>,
        text: &mut String,
    ) -> anyhow::Result<()> {
        let mut names = BTreeSet::new();
        for entry in std::fs::read_dir(real)
            .with_context(|| format!("reading directory '{}'", shown.display()))?
        {
            let entry =
                entry.with_context(|| format!("reading directory '{}'", shown.display()))?;
            names.insert(entry.file_name().to_string_lossy().into_owned());
        }
        for name in names {
            // The manifest of a profile (channels are one).
            if name == "manifest.nix" {
                continue;
            }
            let shown2 = shown.join(&name);
            let real2 = self.resolve(&real.join(&name));
            // Dangling links are ignored.
            let Ok(meta) = std::fs::metadata(&real2) else {
                continue;
            };
            if is_nix_expr(&real2, &meta) && (!meta.is_file() || name.ends_with(".nix")) {
                let attr = name.strip_suffix(".nix").unwrap_or(&name);
                if !seen.insert(attr.to_owned()) {
                    eprintln!(
                        "warning: name collision in input Nix expressions, skipping '{}'",
                        shown2.display()
                    );
                    continue;
                }
                let target = self.logical(&real2);
                text.push_str(&format!(
                    "{} = import {}; ",
                    nix_string(attr),
                    nix_string(&target.to_string_lossy())
                ));
            } else if meta.is_dir() {
                self.combine(&real2, &shown2, seen, text)?;
            }
        }
        Ok(())
    }

    /// `path` with its links followed as they are in the store's root: a link to an absolute
    /// path in the logical store or state directory leads into the root. At `/`, `path`.
    fn resolve(&self, path: &Path) -> PathBuf {
        use std::path::Component;
        if self.root == Path::new("/") {
            return path.to_owned();
        }
        let store_dir = self.store.location().store_dir.clone();
        let into_root = |t: PathBuf| -> PathBuf {
            if t.starts_with(&store_dir) || t.starts_with("/nix/var/nix") {
                self.root.join(t.strip_prefix("/").unwrap_or(&t))
            } else {
                t
            }
        };
        let mut todo: Vec<std::ffi::OsString> = Vec::new();
        let push = |todo: &mut Vec<std::ffi::OsString>, p: &Path| {
            for c in p.components().rev() {
                todo.push(c.as_os_str().to_owned());
            }
        };
        push(&mut todo, path);
        let mut current = PathBuf::new();
        let mut links = 0;
        while let Some(c) = todo.pop() {
            match Path::new(&c).components().next() {
                Some(Component::RootDir) => current = PathBuf::from("/"),
                Some(Component::ParentDir) => {
                    current.pop();
                }
                Some(Component::Normal(n)) => {
                    let next = current.join(n);
                    match std::fs::read_link(&next) {
                        Ok(t) if links < 40 => {
                            links += 1;
                            let t = if t.is_absolute() { into_root(t) } else { t };
                            push(&mut todo, &t);
                        }
                        _ => current = next,
                    }
                }
                _ => {}
            }
        }
        current
    }

    /// The logical name of a physical path in the store (others unchanged).
    fn logical(&self, real: &Path) -> PathBuf {
        let loc = self.store.location();
        match real.strip_prefix(loc.real_store_dir()) {
            Ok(rest) if self.root != Path::new("/") => Path::new(&loc.store_dir).join(rest),
            _ => real.to_owned(),
        }
    }

    /// Makes the previous generation current.
    pub fn rollback(&self) -> anyhow::Result<()> {
        let cur = self.profile.current()?.unwrap_or(0);
        let prev = self.profile.rollback()?;
        eprintln!("switching profile from version {cur} to {prev}");
        Ok(())
    }

    /// Prints the generations as `nix-env --list-generations` does.
    pub fn list_generations(&self) -> anyhow::Result<()> {
        let mut out = crate::output::stdout();
        for g in self.profile.generations()? {
            writeln!(
                out,
                "{:4}   {}   {}",
                g.number,
                local_time(g.created),
                if g.current { "(current)" } else { "" }
            )?;
        }
        out.flush()?;
        Ok(())
    }

    /// Deletes generations: numbers, `old` (all but the current), or `Nd` (older than N
    /// days, as `--delete-older-than`).
    pub fn delete_generations(&self, specs: &[String], dry_run: bool) -> anyhow::Result<()> {
        let keep_last = specs
            .first()
            .filter(|_| specs.len() == 1)
            .and_then(|s| s.strip_prefix('+'))
            .map(|n| {
                n.parse::<usize>()
                    .map_err(|_| anyhow!("invalid number of generations to keep '{}'", specs[0]))
            })
            .transpose()?;
        let deleted = if let Some(keep) = keep_last {
            // `+N`: keep the N newest (and the current one), delete the older.
            let gens = self.profile.generations()?;
            let doomed: BTreeSet<u64> = gens
                .iter()
                .rev()
                .skip(keep)
                .filter(|g| !g.current)
                .map(|g| g.number)
                .collect();
            self.profile.delete_generations(&doomed, dry_run)?
        } else if specs.len() == 1 && specs[0] == "old" {
            self.profile.delete_old(dry_run)?
        } else if specs.len() == 1 && specs[0].ends_with('d') {
            let age = kiln_store::profile::parse_age(&specs[0])?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            self.profile.delete_older_than(now - age, dry_run)?
        } else {
            let mut numbers = BTreeSet::new();
            for s in specs {
                numbers.insert(
                    s.parse::<u64>()
                        .map_err(|_| anyhow!("invalid generation specifier '{s}'"))?,
                );
            }
            self.profile.delete_generations(&numbers, dry_run)?
        };
        for n in deleted {
            if dry_run {
                eprintln!("would remove profile version {n}");
            } else {
                eprintln!("removing profile version {n}");
            }
        }
        Ok(())
    }

    /// The closure of a generation, by package name: versions and total NAR size.
    fn closure_summary(
        &self,
        target: &str,
    ) -> anyhow::Result<BTreeMap<String, (BTreeSet<String>, u64)>> {
        let path = self.store.parse_path(target)?;
        let closure = self.store.closure(&BTreeSet::from([path]))?;
        let mut res: BTreeMap<String, (BTreeSet<String>, u64)> = BTreeMap::new();
        for p in closure {
            let size = self
                .store
                .query_path_info(&p)?
                .map(|i| i.nar_size)
                .unwrap_or(0);
            let (name, version) = parse_name(p.name());
            if name == "user-environment" || name == "env-manifest.nix" {
                continue;
            }
            let entry = res.entry(name.to_owned()).or_default();
            if !version.is_empty() {
                entry.0.insert(version.to_owned());
            }
            entry.1 += size;
        }
        Ok(res)
    }

    /// Prints, for each pair of consecutive generations, what changed in their closures
    /// (`nix profile diff-closures`): `name: old → new, ±size` per package.
    pub fn diff_closures(&self) -> anyhow::Result<()> {
        let gens = self.profile.generations()?;
        let mut out = crate::output::stdout();
        let mut first = true;
        for w in gens.windows(2) {
            let a = self.closure_summary(&w[0].target.to_string_lossy())?;
            let b = self.closure_summary(&w[1].target.to_string_lossy())?;
            let lines = diff_lines(&a, &b);
            if !first {
                writeln!(out)?;
            }
            first = false;
            writeln!(out, "Version {} -> {}:", w[0].number, w[1].number)?;
            for l in lines {
                writeln!(out, "  {l}")?;
            }
        }
        out.flush()?;
        Ok(())
    }

    /// Prints what changed from generation `from` to `to` (default: the one before the
    /// current, and the current), like nvd: packages added, removed and with changed
    /// versions (from the manifests), then the closures' sizes.
    pub fn diff_generations(&self, from: Option<u64>, to: Option<u64>) -> anyhow::Result<()> {
        let gens = self.profile.generations()?;
        let current = self.profile.current()?;
        let to = to
            .or(current)
            .ok_or_else(|| anyhow!("the profile has no generation"))?;
        let from = match from {
            Some(n) => n,
            None => gens
                .iter()
                .rev()
                .map(|g| g.number)
                .find(|&n| n < to)
                .ok_or_else(|| anyhow!("no generation older than {to} to compare with"))?,
        };
        let target = |n: u64| -> anyhow::Result<String> {
            gens.iter()
                .find(|g| g.number == n)
                .map(|g| g.target.to_string_lossy().into_owned())
                .ok_or_else(|| {
                    kiln_store::profile::ProfileError::NoSuchGeneration {
                        profile: self.profile.path().to_owned(),
                        number: n,
                    }
                    .into()
                })
        };
        let (ta, tb) = (target(from)?, target(to)?);
        let versions = |elems: Vec<Element>| {
            let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for e in elems {
                let (n, v) = parse_name(&e.name);
                m.entry(n.to_owned()).or_default().insert(v.to_owned());
            }
            m
        };
        let a = versions(self.manifest_of(&ta)?);
        let b = versions(self.manifest_of(&tb)?);
        let join = |v: &BTreeSet<String>| v.iter().cloned().collect::<Vec<_>>().join(", ");
        let mut out = crate::output::stdout();
        writeln!(out, "<<< {}", self.profile.generation_path(from).display())?;
        writeln!(out, ">>> {}", self.profile.generation_path(to).display())?;
        let changed: Vec<_> = a
            .iter()
            .filter_map(|(n, va)| b.get(n).filter(|vb| *vb != va).map(|vb| (n, va, vb)))
            .collect();
        if !changed.is_empty() {
            writeln!(out, "Version changes:")?;
            for (i, (n, va, vb)) in changed.iter().enumerate() {
                writeln!(out, "[U.]  #{}  {n}  {} -> {}", i + 1, join(va), join(vb))?;
            }
        }
        for (title, tag, mine, other) in [("Added", "A", &b, &a), ("Removed", "R", &a, &b)] {
            let only: Vec<_> = mine
                .iter()
                .filter(|(n, _)| !other.contains_key(*n))
                .collect();
            if !only.is_empty() {
                writeln!(out, "{title} packages:")?;
                for (i, (n, v)) in only.iter().enumerate() {
                    writeln!(out, "[{tag}.]  #{}  {n}  {}", i + 1, join(v))?;
                }
            }
        }
        let closure = |t: &str| -> anyhow::Result<(BTreeSet<StorePath>, u64)> {
            let c = self
                .store
                .closure(&BTreeSet::from([self.store.parse_path(t)?]))?;
            let mut size = 0;
            for p in &c {
                size += self
                    .store
                    .query_path_info(p)?
                    .map(|i| i.nar_size)
                    .unwrap_or(0);
            }
            Ok((c, size))
        };
        let (ca, sa) = closure(&ta)?;
        let (cb, sb) = closure(&tb)?;
        writeln!(
            out,
            "Closure size: {} -> {} ({} paths added, {} paths removed, delta {:+}, disk usage \
             {:+.1}KiB).",
            ca.len(),
            cb.len(),
            cb.difference(&ca).count(),
            ca.difference(&cb).count(),
            cb.len() as i64 - ca.len() as i64,
            (sb as f64 - sa as f64) / 1024.0
        )?;
        out.flush()?;
        Ok(())
    }

    /// `-q`: the installed packages, with `--out-path` or as JSON.
    pub fn query(&self, out_path: bool, json: bool) -> anyhow::Result<()> {
        let mut elems = self.installed()?;
        elems.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = crate::output::stdout();
        if json {
            let mut obj = serde_json::Map::new();
            for e in &elems {
                let (pname, version) = parse_name(&e.name);
                let outputs: serde_json::Map<String, Json> = e
                    .outputs
                    .iter()
                    .map(|(n, p)| {
                        (
                            n.clone(),
                            if out_path {
                                Json::String(p.clone())
                            } else {
                                Json::Null
                            },
                        )
                    })
                    .collect();
                obj.insert(
                    pname.to_owned(),
                    serde_json::json!({
                        "name": e.name,
                        "pname": pname,
                        "version": version,
                        "system": e.system,
                        "outputName": e.outputs.first().map(|o| o.0.as_str()).unwrap_or("out"),
                        "outputs": outputs,
                    }),
                );
            }
            writeln!(out, "{}", Json::Object(obj))?;
        } else {
            let width = elems.iter().map(|e| e.name.len()).max().unwrap_or(0);
            for e in &elems {
                if out_path {
                    let paths: Vec<&str> = e.outputs.iter().map(|o| o.1.as_str()).collect();
                    let paths = if paths.len() == 1 {
                        paths[0].to_owned()
                    } else {
                        e.outputs
                            .iter()
                            .map(|(n, p)| format!("{n}={p}"))
                            .collect::<Vec<_>>()
                            .join(";")
                    };
                    writeln!(out, "{:width$}  {paths}", e.name)?;
                } else {
                    writeln!(out, "{}", e.name)?;
                }
            }
        }
        out.flush()?;
        Ok(())
    }
}

/// Parses a manifest's text (a Nix list of packages) into elements.
fn read_manifest(text: String) -> anyhow::Result<Vec<Element>> {
    // An attribute set with `outPath` would print as that path: rename it first.
    let json = evaluate::run(Request {
        source: Source::Expr(text),
        attr_paths: Vec::new(),
        args: Vec::new(),
        apply: Some(
            "l: map (e: builtins.removeAttrs e [ \"outPath\" ] // \
             { outPath_ = e.outPath or null; }) l"
                .to_owned(),
        ),
        strict: true,
        output: Output::Json,
        include: Vec::new(),
        eval: kiln_eval::EvalSettings::default(),
        show_trace: false,
        store: None,
        fetch_root: None,
        fetch: crate::config::default_fetch_settings(),
    })?;
    let v: Json = serde_json::from_slice(&json)?;
    let Json::Array(items) = v else {
        bail!("it is not a list");
    };
    items.iter().map(Element::from_json).collect()
}

/// The changed packages between two closure summaries, as `diff-closures` prints them.
fn diff_lines(
    a: &BTreeMap<String, (BTreeSet<String>, u64)>,
    b: &BTreeMap<String, (BTreeSet<String>, u64)>,
) -> Vec<String> {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let empty = (BTreeSet::new(), 0);
    let mut res = Vec::new();
    for n in names {
        let (va, sa) = a.get(n).unwrap_or(&empty);
        let (vb, sb) = b.get(n).unwrap_or(&empty);
        let removed: Vec<&str> = va.difference(vb).map(String::as_str).collect();
        let added: Vec<&str> = vb.difference(va).map(String::as_str).collect();
        let delta = *sb as i64 - *sa as i64;
        let in_a = a.contains_key(n);
        let in_b = b.contains_key(n);
        // Like Nix, sizes show only from 8 KiB of change.
        let show_delta = delta.abs() >= 8 * 1024;
        if removed.is_empty() && added.is_empty() && in_a == in_b && !show_delta {
            continue;
        }
        let show = |v: &[&str]| {
            if v.is_empty() {
                "∅".to_owned()
            } else {
                v.join(", ")
            }
        };
        let mut line = format!("{n}: ");
        if !removed.is_empty() || !added.is_empty() || in_a != in_b {
            line.push_str(&format!("{} → {}", show(&removed), show(&added)));
        }
        if show_delta {
            if !line.ends_with(": ") {
                line.push_str(", ");
            }
            line.push_str(&format!("{:+.1} KiB", delta as f64 / 1024.0));
        }
        res.push(line);
    }
    res
}

/// A time as Nix prints a generation's date: `%Y-%m-%d %H:%M:%S` of `localtime_r`, in the
/// local time zone (`TZ`, else `/etc/localtime`); in UTC if the C library cannot say.
#[allow(unsafe_code)]
fn local_time(secs: i64) -> String {
    let t = secs as libc::time_t;
    // SAFETY: `tm` is plain old data (all zeros is a valid value) that `localtime_r` fills;
    // both pointers are valid for the duration of the call. The C library reads `TZ` (as
    // `tzset` does) on first use; Kiln never changes it.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return utc_time(secs);
        }
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        i64::from(tm.tm_year) + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// A time as `YYYY-MM-DD HH:MM:SS` in UTC.
fn utc_time(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Nix's `isNixExpr`: a file, or a directory with a `default.nix`.
fn is_nix_expr(path: &Path, meta: &std::fs::Metadata) -> bool {
    meta.is_file() || (meta.is_dir() && path.join("default.nix").exists())
}

/// A Nix string literal.
fn nix_string(s: &str) -> String {
    let mut res = String::with_capacity(s.len() + 2);
    res.push('"');
    for c in s.chars() {
        match c {
            '"' => res.push_str("\\\""),
            '\\' => res.push_str("\\\\"),
            '$' => res.push_str("\\$"),
            '\n' => res.push_str("\\n"),
            '\r' => res.push_str("\\r"),
            '\t' => res.push_str("\\t"),
            c => res.push(c),
        }
    }
    res.push('"');
    res
}

/// A JSON value as a Nix expression.
fn nix_value(v: &Json) -> String {
    match v {
        Json::Null => "null".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => nix_string(s),
        Json::Array(a) => {
            let mut s = "[".to_owned();
            for x in a {
                s.push(' ');
                s.push_str(&nix_value(x));
            }
            s.push_str(" ]");
            s
        }
        Json::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut s = "{".to_owned();
            for k in keys {
                s.push_str(&format!(" {} = {};", nix_attr_name(k), nix_value(&m[k])));
            }
            s.push_str(" }");
            s
        }
    }
}

fn nix_attr_name(k: &str) -> String {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_'-".contains(c));
    if plain {
        k.to_owned()
    } else {
        nix_string(k)
    }
}

/// The text of `manifest.nix` for `elems`, as Nix 2.8 prints it (attributes sorted).
pub fn manifest_text(elems: &[Element]) -> String {
    let mut s = "[".to_owned();
    for e in elems {
        let mut m = serde_json::Map::new();
        m.insert("meta".into(), Json::Object(e.meta.clone()));
        m.insert("name".into(), Json::String(e.name.clone()));
        m.insert("outPath".into(), Json::String(e.out_path().to_owned()));
        m.insert(
            "outputs".into(),
            Json::Array(
                e.outputs
                    .iter()
                    .map(|o| Json::String(o.0.clone()))
                    .collect(),
            ),
        );
        for (n, p) in &e.outputs {
            m.insert(n.clone(), serde_json::json!({ "outPath": p }));
        }
        if !e.system.is_empty() {
            m.insert("system".into(), Json::String(e.system.clone()));
        }
        m.insert("type".into(), Json::String("derivation".into()));
        s.push(' ');
        s.push_str(&nix_value(&Json::Object(m)));
    }
    s.push_str(" ]");
    s
}

/// Arguments of `kiln profile`.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The profile (default: the user's, under the store's state directory)
    #[arg(long, short = 'p', global = true, value_name = "PATH")]
    profile: Option<PathBuf>,
    #[command(subcommand)]
    command: ProfileCommand,
}

#[derive(Debug, Subcommand)]
enum ProfileCommand {
    /// Install packages: attributes of FILE (`-f FILE ATTR…`)
    Install {
        /// The file offering the packages
        #[arg(long, short = 'f', default_value = "default.nix")]
        file: PathBuf,
        /// Attribute paths of the packages
        #[arg(required = true)]
        attrs: Vec<String>,
        /// Add a search path entry for `<...>` lookups
        #[arg(short = 'I', long = "include")]
        include: Vec<String>,
    },
    /// Remove installed packages by name (`name`, `name-version` or `*`)
    Remove {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Replace installed packages by newer versions from FILE
    Upgrade {
        /// The file offering the packages
        #[arg(long, short = 'f', default_value = "default.nix")]
        file: PathBuf,
        /// Only these installed packages (names)
        names: Vec<String>,
    },
    /// List the installed packages and their store paths
    List,
    /// List the generations
    History,
    /// Make the previous generation current
    Rollback,
    /// Make generation N current
    SwitchGeneration { number: u64 },
    /// Delete non-current generations (all, or those older than `--older-than Nd`)
    WipeHistory {
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
        /// Only say what would be deleted
        #[arg(long)]
        dry_run: bool,
    },
    /// Show what changed in the closure between each pair of consecutive generations
    DiffClosures,
    /// Show the packages added, removed and changed between two generations (default: the
    /// previous and the current one), and the closure size change
    Diff {
        /// The older generation
        from: Option<u64>,
        /// The newer generation
        to: Option<u64>,
    },
}

/// Runs `kiln profile`.
pub fn run(args: ProfileArgs, global: &GlobalArgs, options: &[String]) -> anyhow::Result<()> {
    let root = global
        .store
        .clone()
        .unwrap_or_else(|| crate::host().default_root());
    let opts = BuildOptions {
        options: options.to_vec(),
        ..BuildOptions::default()
    };
    let include = match &args.command {
        ProfileCommand::Install { include, .. } => include.clone(),
        _ => Vec::new(),
    };
    let env = ProfileEnv::open(root, args.profile, opts, include)?;
    match args.command {
        ProfileCommand::Install { file, attrs, .. } => {
            let new = env.available(&file, &attrs)?;
            env.install(new, false)
        }
        ProfileCommand::Remove { names } => env.remove(&names),
        ProfileCommand::Upgrade { file, names } => {
            let available = env.available(&file, &[])?;
            env.upgrade(&available, &names)
        }
        ProfileCommand::List => env.query(true, false),
        ProfileCommand::History => env.list_generations(),
        ProfileCommand::Rollback => env.rollback(),
        ProfileCommand::SwitchGeneration { number } => env.switch_generation(number),
        ProfileCommand::WipeHistory {
            older_than,
            dry_run,
        } => match older_than {
            Some(age) => env.delete_generations(&[age], dry_run),
            None => env.delete_generations(&["old".to_owned()], dry_run),
        },
        ProfileCommand::DiffClosures => env.diff_closures(),
        ProfileCommand::Diff { from, to } => env.diff_generations(from, to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn times_print_as_utc_dates() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(1_795_000_000), "2026-11-18 11:06:40");
        assert_eq!(utc_time(951_782_400), "2000-02-29 00:00:00");
    }

    #[test]
    fn names_split_like_nix() {
        assert_eq!(parse_name("hello-2.10"), ("hello", "2.10"));
        assert_eq!(parse_name("foo-bar-1.0-rc1"), ("foo-bar", "1.0-rc1"));
        assert_eq!(parse_name("plain"), ("plain", ""));
        assert!(name_matches("hello", "hello-2.10"));
        assert!(name_matches("hello-2.10", "hello-2.10"));
        assert!(!name_matches("hello-2.11", "hello-2.10"));
        assert!(!name_matches("hell", "hello-2.10"));
        assert!(name_matches("*", "x-1"));
    }

    #[test]
    fn versions_compare_like_nix() {
        assert_eq!(compare_versions("1.0", "2.0"), Less);
        assert_eq!(compare_versions("2.10", "2.9"), Greater);
        assert_eq!(compare_versions("1.0", "1.0"), Equal);
        assert_eq!(compare_versions("1.0pre1", "1.0"), Less);
        assert_eq!(compare_versions("1.0", "1.0.1"), Less);
        assert_eq!(compare_versions("1.0a", "1.0"), Greater);
        assert_eq!(compare_versions("2.3a", "2.3.1"), Less);
    }

    #[test]
    fn manifest_text_reads_back() {
        let e = Element {
            name: "b-1.0".into(),
            attr_path: String::new(),
            system: "x86_64-linux".into(),
            drv_path: None,
            outputs: vec![("out".into(), "/nix/store/o-b-1.0".into())],
            meta: serde_json::from_str(r#"{"priority": 3, "description": "a \"b\" ${x}"}"#)
                .unwrap(),
        };
        let text = manifest_text(std::slice::from_ref(&e));
        assert_eq!(
            text,
            "[ { meta = { description = \"a \\\"b\\\" \\${x}\"; \
             priority = 3; }; name = \"b-1.0\"; out = { outPath = \"/nix/store/o-b-1.0\"; }; \
             outPath = \"/nix/store/o-b-1.0\"; outputs = [ \"out\" ]; system = \"x86_64-linux\"; \
             type = \"derivation\"; } ]"
        );
        assert_eq!(read_manifest(text).unwrap(), std::slice::from_ref(&e));

        assert_eq!(e.priority(), 3);
    }
}
