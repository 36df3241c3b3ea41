//! A system root: its generations (`nix/var/nix/profiles/system-N-link`), its active
//! generation (`/run/current-system`), and the journaled operations that change them.
//!
//! Every operation holds `nix/var/kiln/os.lock` for as long as the [`System`] lives, and
//! [`System::open`] first completes an operation a killed process left half done: the journal
//! `nix/var/kiln/switch.json` names the generation being made current (written, by one rename,
//! only after everything was checked and the generation's link exists), activation is
//! idempotent (it makes the root describe a toplevel, whatever state it is in), so the
//! interrupted operation is simply run again, and the journal removed last. So at any moment
//! the profile, `/etc` and the default boot entry describe one generation: the old one until
//! the journal exists, the new one once it has been replayed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use kiln_formats::store_path::StorePath;
use kiln_store::profile::{Generation, Profile};
use kiln_store::{LocalStore, PathLock, StoreLocation};
use serde::{Deserialize, Serialize};

use crate::error::{io as io_err, OsError};
use crate::etc::{self, EtcOutcome};
use crate::fsutil::{self, phys};
use crate::report::{self, SwitchReport};
use crate::scripts::{self, Isolation, ScriptRun};
use crate::toplevel::Toplevel;
use crate::units::{self, UnitPlan};
use crate::{boot, tmpfiles, users};

/// The system profile, relative to the root.
pub const PROFILE: &str = "/nix/var/nix/profiles/system";
/// The journal of an operation in progress.
pub const JOURNAL: &str = "/nix/var/kiln/switch.json";
/// The active generation's link.
pub const CURRENT_SYSTEM: &str = "/run/current-system";

/// What an operation makes of a new toplevel (NixOS's `switch-to-configuration` actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A new generation, activated, and the default boot entry.
    Switch,
    /// A new generation and the default boot entry, not activated.
    Boot,
    /// Activated only: no generation, no boot entry.
    Test,
}

/// The journal's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Journal {
    action: Action,
    /// The generation being made current (none for `test`).
    generation: Option<u64>,
    toplevel: String,
    /// The toplevel active before (for the unit plan and a failed activation's restore).
    previous: Option<String>,
}

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The generation made current, if any.
    pub generation: Option<u64>,
    /// What changed (against the previously active generation).
    pub report: SwitchReport,
    /// What the activation did (the default for `boot`, which activates nothing).
    pub activated: Activated,
}

/// What an activation did besides what the report announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activated {
    /// `/etc` entries left alone because Kiln never made the files in their place.
    pub etc: EtcOutcome,
    /// Whether the unit plan was executed (a running systemd at `/`) or only reported.
    pub units_executed: bool,
    /// The toplevel's `activate` script.
    pub scripts: ScriptRun,
}

impl Default for Activated {
    fn default() -> Self {
        Activated {
            etc: EtcOutcome::default(),
            units_executed: false,
            scripts: ScriptRun::Absent,
        }
    }
}

/// An operation a killed process left unfinished, completed by [`System::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// What it was doing.
    pub action: Action,
    /// The generation it made current.
    pub generation: Option<u64>,
    /// The toplevel it activated.
    pub toplevel: String,
}

/// A system root, locked for this process.
pub struct System {
    root: PathBuf,
    store: LocalStore,
    profile: Profile,
    recovered: Option<Recovered>,
    _lock: PathLock,
}

impl System {
    /// Opens the system at `root` (its store at `root/nix/store`), takes its lock and
    /// completes an interrupted operation.
    pub fn open(root: &Path) -> Result<System, OsError> {
        let state = phys(root, "/nix/var/kiln");
        fsutil::mkdirs(&state)?;
        let lock = PathLock::acquire(&state.join("os"))?;
        let store = LocalStore::open(StoreLocation::new(root))?;
        let mut system = System {
            root: root.to_owned(),
            profile: Profile::new(phys(root, PROFILE)),
            store,
            recovered: None,
            _lock: lock,
        };
        system.recover()?;
        Ok(system)
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The root's store.
    pub fn store(&self) -> &LocalStore {
        &self.store
    }

    /// The interrupted operation [`System::open`] completed, if there was one.
    pub fn recovered(&self) -> Option<&Recovered> {
        self.recovered.as_ref()
    }

    /// The generations, oldest first.
    pub fn generations(&self) -> Result<Vec<Generation>, OsError> {
        Ok(self.profile.generations()?)
    }

    /// Reads the toplevel at the logical path `path`.
    pub fn toplevel(&self, path: &str) -> Result<Toplevel, OsError> {
        Toplevel::read(&self.root, path)
    }

    /// The toplevel of generation `number`.
    pub fn generation(&self, number: u64) -> Result<Toplevel, OsError> {
        let g = self
            .generations()?
            .into_iter()
            .find(|g| g.number == number)
            .ok_or(OsError::NoSuchGeneration(number))?;
        self.toplevel(&g.target.to_string_lossy())
    }

    /// The active toplevel (`/run/current-system`), if any.
    pub fn active(&self) -> Result<Option<Toplevel>, OsError> {
        match fsutil::read_link_opt(&phys(&self.root, CURRENT_SYSTEM)) {
            Some(t) => Ok(Some(self.toplevel(&t.to_string_lossy())?)),
            None => Ok(None),
        }
    }

    /// The report for activating `new` over the active generation.
    pub fn report(&self, new: &Toplevel) -> Result<SwitchReport, OsError> {
        let old = self.active()?;
        report::report(&self.store, &self.root, old.as_ref(), new)
    }

    /// The report from generation `from` to generation `to`.
    pub fn diff(&self, from: u64, to: u64) -> Result<SwitchReport, OsError> {
        let (a, b) = (self.generation(from)?, self.generation(to)?);
        report::report(&self.store, &self.root, Some(&a), &b)
    }

    /// Checks everything that can be checked before the root is touched: the user database
    /// renders, the tmpfiles lines parse.
    fn check(&self, new: &Toplevel) -> Result<(), OsError> {
        users::render(&self.root, &new.system)?;
        for line in &new.system.tmpfiles {
            tmpfiles::parse(line)?;
        }
        Ok(())
    }

    /// Makes the valid toplevel `path` the system as `action` says.
    pub fn switch(&self, path: &StorePath, action: Action) -> Result<Outcome, OsError> {
        let logical = path.to_absolute(&self.store.location().store_dir);
        let new = self.toplevel(&logical)?;
        self.check(&new)?;
        let report = self.report(&new)?;
        let generation = match action {
            Action::Test => None,
            Action::Switch | Action::Boot => Some(self.generation_link(path)?),
        };
        self.apply(action, generation, logical, report)
    }

    /// Journals and carries out `action` for the checked toplevel `toplevel`.
    fn apply(
        &self,
        action: Action,
        generation: Option<u64>,
        toplevel: String,
        report: SwitchReport,
    ) -> Result<Outcome, OsError> {
        let journal = Journal {
            action,
            generation,
            toplevel,
            previous: report.from.clone(),
        };
        Ok(Outcome {
            generation,
            report,
            activated: self.run_journaled(&journal)?,
        })
    }

    /// Applies `action` to the existing generation `number` (`rollback`, `--rollback`):
    /// `switch` makes it current and active, `boot` current (the default boot entry) without
    /// activating it, `test` active without making it current.
    pub fn switch_to_generation(&self, number: u64, action: Action) -> Result<Outcome, OsError> {
        let new = self.generation(number)?;
        self.check(&new)?;
        let report = self.report(&new)?;
        let generation = (action != Action::Test).then_some(number);
        self.apply(action, generation, new.path, report)
    }

    /// The newest generation older than the current one.
    pub fn previous_generation(&self) -> Result<u64, OsError> {
        let current = self.profile.current()?.ok_or(OsError::NoGeneration)?;
        self.generations()?
            .iter()
            .rev()
            .find(|g| g.number < current)
            .map(|g| g.number)
            .ok_or(OsError::NoOlderGeneration(current))
    }

    /// Rolls back to the previous generation (`action`: as [`System::switch_to_generation`]).
    pub fn rollback(&self, action: Action) -> Result<Outcome, OsError> {
        self.switch_to_generation(self.previous_generation()?, action)
    }

    /// Deletes the generations `numbers` (never the current one) and their boot entries;
    /// returns the numbers deleted.
    pub fn delete_generations(&self, numbers: &BTreeSet<u64>) -> Result<Vec<u64>, OsError> {
        let res = self.profile.delete_generations(numbers, false)?;
        if let Some(current) = self.profile.current()? {
            self.write_boot_entries(boot::default_entry(&self.root).unwrap_or(current))?;
        }
        Ok(res)
    }

    /// Deletes every generation but the current one.
    pub fn delete_old_generations(&self) -> Result<Vec<u64>, OsError> {
        let old: BTreeSet<u64> = self
            .generations()?
            .iter()
            .filter(|g| !g.current)
            .map(|g| g.number)
            .collect();
        self.delete_generations(&old)
    }

    /// The finished link `system-N-link` for `path` (a new number, or the newest generation if
    /// it already points there), without making it current.
    fn generation_link(&self, path: &StorePath) -> Result<u64, OsError> {
        let abs = PathBuf::from(path.to_absolute(&self.store.location().store_dir));
        let gens = self.generations()?;
        let number = match gens.last() {
            Some(last) if last.target == abs => return Ok(last.number),
            Some(last) => last.number + 1,
            None => 1,
        };
        self.store
            .add_perm_root(path, &self.profile.generation_path(number))?;
        Ok(number)
    }

    fn journal_path(&self) -> PathBuf {
        phys(&self.root, JOURNAL)
    }

    fn run_journaled(&self, journal: &Journal) -> Result<Activated, OsError> {
        let text = serde_json::to_vec_pretty(journal).expect("a journal serialises");
        fsutil::write_atomic(&self.journal_path(), &text, 0o644)?;
        let res = self.replay(journal);
        if res.is_err() {
            // The activation restored the previous /etc; nothing of the new generation is
            // current, so there is nothing to complete.
            let _ = fs::remove_file(self.journal_path());
        }
        res
    }

    /// Does what the journal says, then removes it.
    fn replay(&self, journal: &Journal) -> Result<Activated, OsError> {
        let new = self.toplevel(&journal.toplevel)?;
        let old = match &journal.previous {
            Some(p) => Toplevel::read(&self.root, p).ok(),
            None => None,
        };
        let mut res = Activated::default();
        if journal.action != Action::Boot {
            res = activate(&self.root, old.as_ref(), &new)?;
        }
        if let Some(n) = journal.generation {
            self.profile.switch_to(n)?;
            self.write_boot_entries(n)?;
        }
        fs::remove_file(self.journal_path()).map_err(io_err("removing", self.journal_path()))?;
        Ok(res)
    }

    fn recover(&mut self) -> Result<(), OsError> {
        let path = self.journal_path();
        fsutil::clean_tmp(path.parent().expect("the journal has a directory"), false)?;
        let Some(bytes) = fsutil::read_opt(&path)? else {
            return Ok(());
        };
        let journal: Journal = serde_json::from_slice(&bytes)
            .map_err(|source| OsError::BadJournal { path, source })?;
        self.replay(&journal)?;
        self.recovered = Some(Recovered {
            action: journal.action,
            generation: journal.generation,
            toplevel: journal.toplevel,
        });
        Ok(())
    }

    fn write_boot_entries(&self, default: u64) -> Result<(), OsError> {
        let mut gens = BTreeMap::new();
        for g in self.generations()? {
            gens.insert(g.number, self.toplevel(&g.target.to_string_lossy())?);
        }
        boot::write_entries(&self.root, &gens, default)
    }
}

/// Activates `new` in `root`, `old` being the active toplevel: `/etc`, the user database, home
/// directories, tmpfiles, `/run/current-system`, then the toplevel's `activate` script inside
/// the root ([`scripts`]); the unit plan is executed only on a running system
/// ([`units::systemd_running`]). A failing step after `/etc` (a script that cannot be started
/// included; a script that runs and fails is reported, not undone) restores `old`'s `/etc`.
pub fn activate(root: &Path, old: Option<&Toplevel>, new: &Toplevel) -> Result<Activated, OsError> {
    let old_units = match old {
        Some(o) => units::unit_files(root, o)?,
        None => BTreeMap::new(),
    };
    let plan: UnitPlan = units::plan(&old_units, &units::unit_files(root, new)?);
    let running = units::systemd_running(root);
    if running {
        units::execute_stops(&plan)?;
    }
    let etc_outcome = etc::activate(root, new)?;
    let step = |name: &'static str, r: Result<(), OsError>| r.map_err(|e| (name, e));
    let rest = (|| {
        let db = users::render(root, &new.system).map_err(|e| ("users", e))?;
        step("users", users::write(root, &db))?;
        step(
            "home directories",
            users::create_homes(root, &new.system, &db),
        )?;
        step("/etc owners", etc::apply_owners(root, new))?;
        step("tmpfiles", tmpfiles::apply(root, &new.system.tmpfiles, &db))?;
        let run = phys(root, "/run");
        step("/run/current-system", fsutil::mkdirs(&run))?;
        step(
            "/run/current-system",
            fsutil::symlink_atomic(Path::new(&new.path), &phys(root, CURRENT_SYSTEM)),
        )?;
        scripts::run(root, new, Isolation::Auto).map_err(|e| ("activation script", e))
    })();
    let scripts = match rest {
        Ok(scripts) => scripts,
        Err((step, source)) => {
            if let Some(o) = old {
                let _ = etc::activate(root, o);
                if let Ok(db) = users::render(root, &o.system) {
                    let _ = users::write(root, &db);
                }
            }
            return Err(OsError::Activation {
                toplevel: new.path.clone(),
                step,
                source: Box::new(source),
            });
        }
    };
    if running {
        units::execute_starts(&plan)?;
    }
    Ok(Activated {
        etc: etc_outcome,
        units_executed: running,
        scripts,
    })
}

/// The generations `specs` select for deletion, as `nix-env --delete-generations` reads them:
/// numbers, `old` (all but the current), `Nd` (older than N days, keeping the newest of those
/// and the current one), `+N` (all but the newest N and the current one). `now` is in seconds
/// since the epoch.
pub fn select_generations(
    gens: &[Generation],
    specs: &[String],
    now: i64,
) -> Result<BTreeSet<u64>, OsError> {
    let mut res = BTreeSet::new();
    for spec in specs {
        if spec == "old" {
            res.extend(gens.iter().filter(|g| !g.current).map(|g| g.number));
        } else if let Some(keep) = spec.strip_prefix('+') {
            let keep: usize = keep
                .parse()
                .map_err(|_| OsError::BadGenerationSpec(spec.clone()))?;
            let n = gens.len().saturating_sub(keep);
            res.extend(gens[..n].iter().filter(|g| !g.current).map(|g| g.number));
        } else if spec.ends_with('d') {
            let age = kiln_store::profile::parse_age(spec)?;
            let cutoff = now - age;
            let mut can_delete = false;
            for g in gens.iter().rev() {
                if can_delete {
                    if !g.current {
                        res.insert(g.number);
                    }
                } else if g.created < cutoff {
                    can_delete = true;
                }
            }
        } else {
            res.insert(
                spec.parse()
                    .map_err(|_| OsError::BadGenerationSpec(spec.clone()))?,
            );
        }
    }
    Ok(res)
}
