//! [`ProfileEnv`]: a profile in a store, its installed packages and the changes to them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kiln_eval::EvalSettings;
use kiln_formats::drv_name;
use kiln_realise::{Goal, OutputsSpec};
use kiln_session::{EvalConfig, HostEnv, MetaValue, Source, StoreMode};
use kiln_store::profile::Profile;
use kiln_store::{LocalStore, Store as _, StoreLocation};

use crate::element::nix_string;
use crate::{
    manifest_text, Element, Generation, ProfileError, ProfileEvent, ProfileObserver, Realiser,
};

/// A profile in a store, with what its changes need: the evaluation settings for the files
/// that offer packages, the builds, and who hears about it.
pub struct ProfileEnv<'h> {
    /// The store root.
    pub root: PathBuf,
    /// The store.
    pub store: LocalStore,
    /// The profile.
    pub profile: Profile,
    /// How the packages files offer are evaluated (search path, fetchers); its store is the
    /// one at [`Self::root`].
    pub eval: EvalConfig,
    pub(crate) realiser: &'h dyn Realiser,
    pub(crate) observer: &'h dyn ProfileObserver,
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ProfileError {
    let path = path.to_owned();
    move |source| ProfileError::Io {
        action,
        path,
        source,
    }
}

/// The default profile of a store root, by Nix 2.8's rules (`getDefaultProfile`) applied to
/// the root's state directory: `~/.nix-profile` names it when that link exists (and, under a
/// root other than `/`, leads into this root's state directory); otherwise it is
/// `<state>/profiles/default` for root and `<state>/profiles/per-user/$USER/profile` for
/// anyone else, and `~/.nix-profile` is made to point there (best effort, as in Nix).
pub fn default_profile(root: &Path, host: &HostEnv) -> Result<PathBuf, ProfileError> {
    let root = std::path::absolute(root).map_err(io_error("resolving", root))?;
    let state = StoreLocation::new(&root).state_dir();
    let profile = if effective_uid() == Some(0) {
        state.join("profiles/default")
    } else {
        state
            .join("profiles/per-user")
            .join(user_name(host))
            .join("profile")
    };
    let Some(home) = &host.home else {
        return Ok(profile);
    };
    let link = home.join(".nix-profile");
    match std::fs::read_link(&link) {
        Ok(target) => {
            let target = home.join(target);
            if root == Path::new("/") || target.starts_with(&state) {
                return Ok(target);
            }
        }
        Err(_) if std::fs::symlink_metadata(&link).is_ok() => {}
        Err(_) => {
            if let Some(dir) = profile.parent() {
                std::fs::create_dir_all(dir).map_err(io_error("creating directory", dir))?;
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
fn user_name(host: &HostEnv) -> String {
    if let Some(u) = host.user.as_ref().filter(|u| !u.is_empty()) {
        return u.clone();
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

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
}

impl<'h> ProfileEnv<'h> {
    /// Opens the store at `root` and the profile (`None`: [`default_profile`]). `eval` is how
    /// files offering packages are evaluated; its store becomes the one at `root`.
    pub fn open(
        root: PathBuf,
        profile: Option<PathBuf>,
        host: &HostEnv,
        eval: EvalConfig,
        realiser: &'h dyn Realiser,
        observer: &'h dyn ProfileObserver,
    ) -> Result<Self, ProfileError> {
        let store = LocalStore::open(StoreLocation::new(&root)).map_err(|source| {
            ProfileError::OpenStore {
                root: root.clone(),
                source: Box::new(source),
            }
        })?;
        let path = match profile {
            Some(p) if p.is_absolute() => p,
            Some(p) => cwd().join(p),
            None => default_profile(&root, host)?,
        };
        // `~/.nix-profile` is a link to the real profile; generations live beside that.
        let path = match std::fs::read_link(&path) {
            Ok(t) if t.is_absolute() && !t.starts_with(&store.location().store_dir) => t,
            _ => path,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_error("creating directory", dir))?;
        }
        let eval = EvalConfig {
            store: StoreMode::Write { root: root.clone() },
            ..eval
        };
        Ok(ProfileEnv {
            root,
            store,
            profile: Profile::new(path),
            eval,
            realiser,
            observer,
        })
    }

    fn realise(
        &self,
        goals: &[Goal],
    ) -> Result<Option<Vec<std::collections::BTreeMap<String, String>>>, ProfileError> {
        self.realiser
            .realise(&self.store, goals)
            .map_err(ProfileError::Realise)
    }

    /// An evaluation with default settings (no `-I`), writing into the store.
    fn plain_eval(&self) -> EvalConfig {
        EvalConfig {
            settings: EvalSettings::default(),
            ..self.eval.clone()
        }
    }

    /// The physical path of a logical path in the store (a file inside a store path too).
    fn physical(&self, logical: &str) -> Result<PathBuf, ProfileError> {
        let dir = &self.store.location().store_dir;
        let rest = logical
            .strip_prefix(dir.as_str())
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| ProfileError::NotInStore {
                path: logical.to_owned(),
                store_dir: dir.clone(),
            })?;
        Ok(self.store.location().real_store_dir().join(rest))
    }

    /// The store path a generation link points to.
    pub fn generation_target(&self, number: u64) -> Result<String, ProfileError> {
        let link = self.profile.generation_path(number);
        let t = std::fs::read_link(&link).map_err(io_error("reading link", &link))?;
        Ok(t.to_string_lossy().into_owned())
    }

    /// The packages of a user environment (a store path), from its `manifest.nix`.
    pub fn manifest_of(&self, env: &str) -> Result<Vec<Element>, ProfileError> {
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
            Err(source) => return Err(ProfileError::ManifestFile { file, source }),
        };
        let config = EvalConfig {
            store: StoreMode::ReadOnly {
                fetch_root: self.root.clone(),
            },
            ..self.plain_eval()
        };
        crate::manifest::read(text, config).map_err(|e| ProfileError::Manifest {
            file,
            source: Box::new(e),
        })
    }

    /// The packages of the current generation (none without one), in the manifest's order.
    pub fn installed(&self) -> Result<Vec<Element>, ProfileError> {
        match self.profile.current()? {
            Some(n) => self.manifest_of(&self.generation_target(n)?),
            None => Ok(Vec::new()),
        }
    }

    /// The packages of the current generation sorted by name, as `nix-env -q` lists them.
    pub fn query(&self) -> Result<Vec<Element>, ProfileError> {
        let mut elems = self.installed()?;
        elems.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(elems)
    }

    /// The packages `file` offers (see [`Self::source_of`]): under `attrs` (`-A` paths, each
    /// followed as `nix-env -A` follows it), or every package it holds when `attrs` is empty.
    pub fn available(&self, file: &Path, attrs: &[String]) -> Result<Vec<Element>, ProfileError> {
        self.available_infos(file, attrs, None)?
            .into_iter()
            .map(Element::try_from)
            .collect()
    }

    /// The packages `file` offers, as [`Self::available`] finds them; with `fields`, as
    /// `nix-env -q` lists them: only those fields evaluated, and a package kept when one
    /// fails (see [`kiln_session::packages_with`]).
    pub fn available_infos(
        &self,
        file: &Path,
        attrs: &[String],
        fields: Option<Vec<kiln_session::Field>>,
    ) -> Result<Vec<kiln_session::PackageInfo>, ProfileError> {
        let source = self.source_of(file)?;
        let paths: Vec<String> = if attrs.is_empty() {
            vec![String::new()]
        } else {
            attrs.to_vec()
        };
        let found = kiln_session::evaluate(self.eval.clone(), move |s| {
            let cwd = cwd();
            let root = s.load(&source, &cwd)?;
            let no_args = s.ev.new_attrs(Vec::new());
            let mut res = Vec::new();
            for path in paths {
                let v = s.select(root, &path, no_args)?;
                let found = match &fields {
                    Some(fields) => s.packages_with(v, fields)?,
                    None => s.packages(v)?,
                };
                res.push((path, found));
            }
            Ok(res)
        })?;
        let mut res = Vec::new();
        for (attr, infos) in found {
            for mut info in infos {
                if !attr.is_empty() {
                    info.attr_path = if info.attr_path.is_empty() {
                        attr.clone()
                    } else {
                        format!("{attr}.{}", info.attr_path)
                    };
                }
                res.push(info);
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
    ) -> Result<(), ProfileError> {
        loop {
            let token = self.token();
            let Some(elems) = change(self.installed()?) else {
                return Ok(());
            };
            if self.switch_to_elements(&elems, Some(&token))?.is_some() {
                return Ok(());
            }
            self.observer.event(ProfileEvent::Restarting {
                profile: self.profile.path().to_owned(),
            });
        }
    }

    /// The `derivation` call that builds the user environment of `elems` from `manifest`, as
    /// `<nix/buildenv.nix>` makes it.
    fn environment_expr(elems: &[Element], manifest: &str) -> String {
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
        format!(
            "derivation {{ name = \"user-environment\"; system = \"builtin\"; \
             builder = \"builtin:buildenv\"; manifest = builtins.storePath {}; \
             derivations = [{derivations} ]; preferLocalBuild = true; \
             allowSubstitutes = false; }}",
            nix_string(manifest)
        )
    }

    /// Builds the packages and a user environment of `elems`, and makes it the profile's new
    /// generation, unless the profile no longer points where `token` says (then `None`).
    /// Returns the generation's number (the current one when the realiser built nothing).
    pub fn switch_to_elements(
        &self,
        elems: &[Element],
        token: Option<&Option<PathBuf>>,
    ) -> Result<Option<u64>, ProfileError> {
        let store_dir = self.store.location().store_dir.clone();
        // Build what is missing: packages with a derivation, else the paths must be valid.
        let mut goals = Vec::new();
        for e in elems {
            match &e.drv_path {
                Some(d) => goals.push(Goal::Drv {
                    drv: self.store.parse_path(d)?,
                    outputs: OutputsSpec::Names(e.outputs.iter().map(|o| o.0.clone()).collect()),
                }),
                None => {
                    for (_, p) in &e.outputs {
                        goals.push(Goal::Opaque(self.store.parse_path(p)?));
                    }
                }
            }
        }
        if !goals.is_empty() && self.realise(&goals)?.is_none() {
            return Ok(Some(self.profile.current()?.unwrap_or(0)));
        }
        // The manifest, referring to every output it names.
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
        let expr = Self::environment_expr(elems, &manifest);
        let drvs = kiln_session::evaluate(self.plain_eval(), move |s| {
            let v = s.load(&Source::Expr(expr), Path::new("/"))?;
            s.derivations(v)
        })?;
        let goals: Vec<Goal> = drvs.iter().map(kiln_session::DrvOutput::goal).collect();
        let Some(results) = self.realise(&goals)? else {
            return Ok(Some(self.profile.current()?.unwrap_or(0)));
        };
        let out = results
            .first()
            .and_then(|o| o.get("out"))
            .ok_or(ProfileError::NotBuilt)?;
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
    pub fn install(&self, new: Vec<Element>, preserve: bool) -> Result<(), ProfileError> {
        for e in &new {
            self.observer.event(ProfileEvent::Installing {
                name: e.name.clone(),
            });
        }
        let names: BTreeSet<&str> = new.iter().map(Element::pname).collect();
        self.modify(|mut elems| {
            if !preserve {
                elems.retain(|e| !names.contains(e.pname()));
            }
            // New packages first, then those kept, as Nix orders them.
            Some(new.iter().cloned().chain(elems).collect())
        })
    }

    /// Removes the installed packages `selectors` match.
    pub fn remove(&self, selectors: &[String]) -> Result<(), ProfileError> {
        self.modify(|mut elems| {
            elems.retain(|e| {
                let hit = selectors.iter().any(|s| drv_name::matches(s, &e.name));
                if hit {
                    self.observer.event(ProfileEvent::Uninstalling {
                        name: e.name.clone(),
                    });
                }
                !hit
            });
            Some(elems)
        })
    }

    /// Replaces installed packages by newer versions from `available` (all installed
    /// packages, or those `selectors` match).
    pub fn upgrade(&self, available: &[Element], selectors: &[String]) -> Result<(), ProfileError> {
        self.modify(|mut elems| {
            let mut changed = false;
            for e in elems.iter_mut() {
                if !selectors.is_empty() && !selectors.iter().any(|s| drv_name::matches(s, &e.name))
                {
                    continue;
                }
                let (name, version) = drv_name::parse(&e.name);
                let best = available
                    .iter()
                    .filter(|a| a.pname() == name)
                    .max_by(|a, b| drv_name::compare_versions(a.version(), b.version()));
                if let Some(best) = best {
                    let newer = drv_name::compare_versions(best.version(), version).is_gt();
                    if newer || (best.name == e.name && best.out_path() != e.out_path()) {
                        self.observer.event(ProfileEvent::Upgrading {
                            from: e.name.clone(),
                            to: best.name.clone(),
                        });
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
    pub fn set_flag(
        &self,
        flag: &str,
        value: &str,
        selectors: &[String],
    ) -> Result<(), ProfileError> {
        let v =
            match flag {
                "priority" => MetaValue::Int(value.parse::<i64>().map_err(|_| {
                    ProfileError::InvalidPriority {
                        value: value.to_owned(),
                    }
                })?),
                "active" | "keep" => MetaValue::Bool(value == "true"),
                _ => {
                    return Err(ProfileError::UnknownFlag {
                        flag: flag.to_owned(),
                    })
                }
            };
        self.modify(|mut elems| {
            for e in elems.iter_mut() {
                if selectors.iter().any(|s| drv_name::matches(s, &e.name)) {
                    self.observer.event(ProfileEvent::SettingFlag {
                        name: e.name.clone(),
                    });
                    e.meta.insert(flag.to_owned(), v.clone());
                }
            }
            Some(elems)
        })
    }

    /// The generations, oldest first.
    pub fn generations(&self) -> Result<Vec<Generation>, ProfileError> {
        Ok(self.profile.generations()?)
    }

    /// Makes generation `number` current.
    pub fn switch_generation(&self, number: u64) -> Result<(), ProfileError> {
        let from = self.profile.current()?.unwrap_or(0);
        self.profile.switch_to(number)?;
        self.observer
            .event(ProfileEvent::Switched { from, to: number });
        Ok(())
    }

    /// Makes the previous generation current.
    pub fn rollback(&self) -> Result<(), ProfileError> {
        let from = self.profile.current()?.unwrap_or(0);
        let to = self.profile.rollback()?;
        self.observer.event(ProfileEvent::Switched { from, to });
        Ok(())
    }

    /// Deletes generations (`--delete-generations`): numbers, `old` (all but the current),
    /// `Nd` (older than N days) or `+N` (all but the N newest and the current). Returns the
    /// numbers deleted (or, with `dry_run`, that would be).
    pub fn delete_generations(
        &self,
        specs: &[String],
        dry_run: bool,
    ) -> Result<Vec<u64>, ProfileError> {
        let keep_last = specs
            .first()
            .filter(|_| specs.len() == 1)
            .and_then(|s| s.strip_prefix('+'))
            .map(|n| {
                n.parse::<usize>().map_err(|_| ProfileError::InvalidKeep {
                    spec: specs[0].clone(),
                })
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
                        .map_err(|_| ProfileError::InvalidGeneration { spec: s.clone() })?,
                );
            }
            self.profile.delete_generations(&numbers, dry_run)?
        };
        for &number in &deleted {
            self.observer.event(if dry_run {
                ProfileEvent::WouldRemove { number }
            } else {
                ProfileEvent::Removed { number }
            });
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    struct NoBuilds;

    impl Realiser for NoBuilds {
        fn realise(
            &self,
            _: &LocalStore,
            _: &[Goal],
        ) -> Result<Option<Vec<std::collections::BTreeMap<String, String>>>, crate::RealiseFailure>
        {
            Ok(None)
        }
    }

    #[derive(Default)]
    struct Events(RefCell<Vec<ProfileEvent>>);

    impl ProfileObserver for Events {
        fn event(&self, event: ProfileEvent) {
            self.0.borrow_mut().push(event);
        }
    }

    const PACKAGES: &str = r#"
      let mk = name: meta: derivation { inherit name; system = "x86_64-linux";
        builder = "/bin/sh"; } // { inherit meta; }; in
      { b = mk "b-1.0" { description = "b"; broken = throw "no"; };
        a = mk "a-2" { priority = 3; };
        fails = throw "not this one";
        set = { recurseForDerivations = true; c = mk "c-1" { }; };
        plain = { d = mk "d-1" { }; };
      }"#;

    #[test]
    fn available_walks_the_file_and_drops_what_throws() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let file = tmp.path().join("packages.nix");
        std::fs::write(&file, PACKAGES).unwrap();
        let host = HostEnv::default();
        let eval = EvalConfig {
            settings: EvalSettings::default(),
            store: StoreMode::Write { root: root.clone() },
            fetch: kiln_fetch::FetchSettings::new(tmp.path().join("fetch-cache")),
            reporter: None,
        };
        let events = Events::default();
        let env = ProfileEnv::open(
            root,
            Some(tmp.path().join("profiles/p")),
            &host,
            eval,
            &NoBuilds,
            &events,
        )
        .unwrap();
        let avail = env.available(&file, &[]).unwrap();
        let names: Vec<(&str, &str)> = avail
            .iter()
            .map(|e| (e.attr_path.as_str(), e.name.as_str()))
            .collect();
        assert_eq!(names, [("a", "a-2"), ("b", "b-1.0"), ("set.c", "c-1")]);
        assert_eq!(avail[0].priority(), 3);
        let b_meta: Vec<&str> = avail[1].meta.keys().map(String::as_str).collect();
        assert_eq!(b_meta, ["description"]);

        let under = env.available(&file, &["set".to_owned()]).unwrap();
        assert_eq!(under.len(), 1);
        assert_eq!(under[0].attr_path, "set.c");

        // With nothing built, nothing is switched, but the change is announced.
        env.install(avail, false).unwrap();
        assert_eq!(env.profile.current().unwrap(), None);
        assert_eq!(
            events.0.borrow()[0],
            ProfileEvent::Installing {
                name: "a-2".to_owned()
            }
        );
    }
}
