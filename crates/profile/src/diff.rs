//! What changed between generations: closures by package name (`diff-closures`) and the
//! packages and closure sizes of two generations (`kiln profile diff`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kiln_formats::drv_name;
use kiln_formats::store_path::StorePath;
use kiln_store::Store as _;

use crate::{ProfileEnv, ProfileError};

/// How one package's part of a closure changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageChange {
    /// The package name (without version).
    pub name: String,
    /// Versions only the older closure has.
    pub removed: Vec<String>,
    /// Versions only the newer closure has.
    pub added: Vec<String>,
    /// Whether the older closure has the package.
    pub in_from: bool,
    /// Whether the newer closure has the package.
    pub in_to: bool,
    /// The change of its NAR size, in bytes.
    pub size_delta: i64,
}

impl PackageChange {
    /// Whether the versions or the presence changed (not only the size).
    pub fn versions_changed(&self) -> bool {
        !self.removed.is_empty() || !self.added.is_empty() || self.in_from != self.in_to
    }
}

/// What changed in the closure from one generation to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosureDiff {
    /// The older generation.
    pub from: u64,
    /// The newer generation.
    pub to: u64,
    /// Every package whose versions, presence or size changed, by name.
    pub changes: Vec<PackageChange>,
}

/// A closure's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosureSize {
    /// Its number of store paths.
    pub paths: usize,
    /// The sum of their NAR sizes, in bytes.
    pub nar_size: u64,
}

/// A package whose versions differ between two generations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionChange {
    /// The package name (without version).
    pub name: String,
    /// Its versions in the older generation.
    pub from: Vec<String>,
    /// Its versions in the newer generation.
    pub to: Vec<String>,
}

/// What changed from one generation to another: installed packages (from the manifests) and
/// closures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationDiff {
    /// The older generation.
    pub from: u64,
    /// The newer generation.
    pub to: u64,
    /// The older generation's link (`P-N-link`).
    pub from_link: PathBuf,
    /// The newer generation's link.
    pub to_link: PathBuf,
    /// Packages of both with other versions, by name.
    pub changed: Vec<VersionChange>,
    /// Packages (name, versions) only the newer has.
    pub added: Vec<(String, Vec<String>)>,
    /// Packages (name, versions) only the older has.
    pub removed: Vec<(String, Vec<String>)>,
    /// The older closure's size.
    pub closure_from: ClosureSize,
    /// The newer closure's size.
    pub closure_to: ClosureSize,
    /// Paths only the newer closure has.
    pub paths_added: usize,
    /// Paths only the older closure has.
    pub paths_removed: usize,
}

/// A closure by package name: versions and total NAR size.
pub type ClosureSummary = BTreeMap<String, (BTreeSet<String>, u64)>;

/// The packages whose versions, presence or size differ between two summaries.
fn changes(a: &ClosureSummary, b: &ClosureSummary) -> Vec<PackageChange> {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let empty = (BTreeSet::new(), 0);
    let mut res = Vec::new();
    for n in names {
        let (va, sa) = a.get(n).unwrap_or(&empty);
        let (vb, sb) = b.get(n).unwrap_or(&empty);
        let change = PackageChange {
            name: n.clone(),
            removed: va.difference(vb).cloned().collect(),
            added: vb.difference(va).cloned().collect(),
            in_from: a.contains_key(n),
            in_to: b.contains_key(n),
            size_delta: *sb as i64 - *sa as i64,
        };
        if change.versions_changed() || change.size_delta != 0 {
            res.push(change);
        }
    }
    res
}

impl ProfileEnv<'_> {
    /// The closure of a generation's store path, by package name: versions and total NAR
    /// size (the environment and its manifest left out).
    pub fn closure_summary(&self, target: &str) -> Result<ClosureSummary, ProfileError> {
        let path = self.store.parse_path(target)?;
        let closure = self.store.closure(&BTreeSet::from([path]))?;
        let mut res: ClosureSummary = BTreeMap::new();
        for p in closure {
            let size = self
                .store
                .query_path_info(&p)?
                .map(|i| i.nar_size)
                .unwrap_or(0);
            let (name, version) = drv_name::parse(p.name());
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

    /// For each pair of consecutive generations, what changed in their closures
    /// (`nix profile diff-closures`).
    pub fn diff_closures(&self) -> Result<Vec<ClosureDiff>, ProfileError> {
        let gens = self.profile.generations()?;
        let mut res = Vec::new();
        for w in gens.windows(2) {
            let a = self.closure_summary(&w[0].target.to_string_lossy())?;
            let b = self.closure_summary(&w[1].target.to_string_lossy())?;
            res.push(ClosureDiff {
                from: w[0].number,
                to: w[1].number,
                changes: changes(&a, &b),
            });
        }
        Ok(res)
    }

    /// A closure's paths and size.
    fn closure(&self, target: &str) -> Result<(BTreeSet<StorePath>, ClosureSize), ProfileError> {
        let c = self
            .store
            .closure(&BTreeSet::from([self.store.parse_path(target)?]))?;
        let mut nar_size = 0;
        for p in &c {
            nar_size += self
                .store
                .query_path_info(p)?
                .map(|i| i.nar_size)
                .unwrap_or(0);
        }
        let size = ClosureSize {
            paths: c.len(),
            nar_size,
        };
        Ok((c, size))
    }

    /// What changed from generation `from` to `to` (default: the one before the current, and
    /// the current), like nvd: packages added, removed and with changed versions (from the
    /// manifests), and the closures.
    pub fn diff_generations(
        &self,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Result<GenerationDiff, ProfileError> {
        let gens = self.profile.generations()?;
        let current = self.profile.current()?;
        let to = to.or(current).ok_or(ProfileError::NoGeneration)?;
        let from = match from {
            Some(n) => n,
            None => gens
                .iter()
                .rev()
                .map(|g| g.number)
                .find(|&n| n < to)
                .ok_or(ProfileError::NothingOlder { number: to })?,
        };
        let target = |n: u64| -> Result<String, ProfileError> {
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
        let versions = |elems: Vec<crate::Element>| {
            let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for e in elems {
                let (n, v) = drv_name::parse(&e.name);
                let vs = m.entry(n.to_owned()).or_default();
                if let Err(i) = vs.binary_search_by(|x| x.as_str().cmp(v)) {
                    vs.insert(i, v.to_owned());
                }
            }
            m
        };
        let a = versions(self.manifest_of(&ta)?);
        let b = versions(self.manifest_of(&tb)?);
        let changed = a
            .iter()
            .filter_map(|(n, va)| {
                b.get(n).filter(|vb| *vb != va).map(|vb| VersionChange {
                    name: n.clone(),
                    from: va.clone(),
                    to: vb.clone(),
                })
            })
            .collect();
        let only = |mine: &BTreeMap<String, Vec<String>>, other: &BTreeMap<String, Vec<String>>| {
            mine.iter()
                .filter(|(n, _)| !other.contains_key(*n))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect()
        };
        let (ca, closure_from) = self.closure(&ta)?;
        let (cb, closure_to) = self.closure(&tb)?;
        Ok(GenerationDiff {
            from,
            to,
            from_link: self.profile.generation_path(from),
            to_link: self.profile.generation_path(to),
            changed,
            added: only(&b, &a),
            removed: only(&a, &b),
            closure_from,
            closure_to,
            paths_added: cb.difference(&ca).count(),
            paths_removed: ca.difference(&cb).count(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_list_versions_presence_and_size() {
        let a: ClosureSummary = BTreeMap::from([
            ("same".to_owned(), (BTreeSet::from(["1".to_owned()]), 10)),
            ("up".to_owned(), (BTreeSet::from(["1".to_owned()]), 10)),
            ("gone".to_owned(), (BTreeSet::new(), 5)),
        ]);
        let b: ClosureSummary = BTreeMap::from([
            ("same".to_owned(), (BTreeSet::from(["1".to_owned()]), 10)),
            ("up".to_owned(), (BTreeSet::from(["2".to_owned()]), 20_000)),
            ("new".to_owned(), (BTreeSet::new(), 1)),
        ]);
        let c = changes(&a, &b);
        let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["gone", "new", "up"]);
        assert!(c[0].in_from && !c[0].in_to && c[0].versions_changed());
        assert_eq!(
            (c[2].removed.clone(), c[2].added.clone()),
            (vec!["1".to_owned()], vec!["2".to_owned()])
        );
        assert_eq!(c[2].size_delta, 19_990);
    }
}
