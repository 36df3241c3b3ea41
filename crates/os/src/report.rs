//! The report before a switch (`SwitchReport`): what changes from one generation to another,
//! as `nvd` shows it for packages, plus `/etc`, units and whether a reboot is needed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kiln_formats::drv_name;
use kiln_store::{LocalStore, Store as _};

use crate::error::OsError;
use crate::toplevel::Toplevel;
use crate::units::{self, UnitPlan};
use crate::{etc, fsutil};

/// A package whose versions differ between the generations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionChange {
    /// The package name (without version).
    pub name: String,
    /// Its versions in the old generation.
    pub from: Vec<String>,
    /// Its versions in the new generation.
    pub to: Vec<String>,
}

/// What a switch from one generation to another changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwitchReport {
    /// The old toplevel (`None` for a first switch).
    pub from: Option<String>,
    /// The new toplevel.
    pub to: String,
    /// Packages (name, versions) only the new `sw` closure has.
    pub added: Vec<(String, Vec<String>)>,
    /// Packages (name, versions) only the old `sw` closure has.
    pub removed: Vec<(String, Vec<String>)>,
    /// Packages of both whose versions differ.
    pub changed: Vec<VersionChange>,
    /// The old toplevel's closure size in bytes (sum of NAR sizes; 0 for none).
    pub closure_from: u64,
    /// The new toplevel's closure size in bytes.
    pub closure_to: u64,
    /// `/etc` entries only the new generation has.
    pub etc_added: Vec<String>,
    /// `/etc` entries both have, with other contents or mode.
    pub etc_changed: Vec<String>,
    /// `/etc` entries only the old generation has.
    pub etc_removed: Vec<String>,
    /// What happens to units.
    pub units: UnitPlan,
    /// What changed that needs a reboot (`kernel`, `initrd`, `kernel parameters`); empty when
    /// none.
    pub reboot: Vec<&'static str>,
}

impl SwitchReport {
    /// Whether a reboot is needed to run the new generation fully.
    pub fn reboot_needed(&self) -> bool {
        !self.reboot.is_empty()
    }
}

/// Package name → versions in the closure of the toplevel's `sw`.
fn packages(
    store: &LocalStore,
    root: &Path,
    top: &Toplevel,
) -> Result<BTreeMap<String, BTreeSet<String>>, OsError> {
    let mut res: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let Some(sw) = fsutil::read_link_opt(&fsutil::phys(root, &top.path).join("sw")) else {
        return Ok(res);
    };
    let sw = store.parse_path(&sw.to_string_lossy())?;
    for p in store.closure(&BTreeSet::from([sw.clone()]))? {
        if p == sw {
            continue;
        }
        let (name, version) = drv_name::parse(p.name());
        res.entry(name.to_owned())
            .or_default()
            .insert(version.to_owned());
    }
    Ok(res)
}

fn closure_size(store: &LocalStore, path: &str) -> Result<u64, OsError> {
    let p = store.parse_path(path)?;
    let mut total = 0;
    for q in store.closure(&BTreeSet::from([p]))? {
        total += store.query_path_info(&q)?.map(|i| i.nar_size).unwrap_or(0);
    }
    Ok(total)
}

/// The report for switching from `old` to `new` in `root`.
pub fn report(
    store: &LocalStore,
    root: &Path,
    old: Option<&Toplevel>,
    new: &Toplevel,
) -> Result<SwitchReport, OsError> {
    let mut res = SwitchReport {
        from: old.map(|o| o.path.clone()),
        to: new.path.clone(),
        closure_to: closure_size(store, &new.path)?,
        ..SwitchReport::default()
    };
    let new_pkgs = packages(store, root, new)?;
    let old_pkgs = match old {
        Some(o) => {
            res.closure_from = closure_size(store, &o.path)?;
            packages(store, root, o)?
        }
        None => BTreeMap::new(),
    };
    for (name, versions) in &new_pkgs {
        match old_pkgs.get(name) {
            None => res
                .added
                .push((name.clone(), versions.iter().cloned().collect())),
            Some(o) if o != versions => res.changed.push(VersionChange {
                name: name.clone(),
                from: o.iter().cloned().collect(),
                to: versions.iter().cloned().collect(),
            }),
            Some(_) => {}
        }
    }
    for (name, versions) in &old_pkgs {
        if !new_pkgs.contains_key(name) {
            res.removed
                .push((name.clone(), versions.iter().cloned().collect()));
        }
    }

    let new_etc = etc::entries(root, new)?;
    let old_etc = match old {
        Some(o) => etc::entries(root, o)?,
        None => BTreeMap::new(),
    };
    for (name, e) in &new_etc {
        match old_etc.get(name) {
            None => res.etc_added.push(name.clone()),
            Some(o) if o != e => res.etc_changed.push(name.clone()),
            Some(_) => {}
        }
    }
    res.etc_removed = old_etc
        .keys()
        .filter(|n| !new_etc.contains_key(*n))
        .cloned()
        .collect();

    let new_units = units::unit_files(root, new)?;
    let old_units = match old {
        Some(o) => units::unit_files(root, o)?,
        None => BTreeMap::new(),
    };
    res.units = units::plan(&old_units, &new_units);

    if let Some(o) = old {
        if o.kernel(root) != new.kernel(root) {
            res.reboot.push("kernel");
        }
        if o.initrd(root) != new.initrd(root) {
            res.reboot.push("initrd");
        }
        if o.kernel_params(root) != new.kernel_params(root) {
            res.reboot.push("kernel parameters");
        }
    }
    Ok(res)
}
