//! Profiles and their generations, in Nix's layout: pure symlink operations.
//!
//! A profile `P` (such as `<state>/profiles/default`) is a symlink to `P-N-link` in the same
//! directory, *generation* N, itself a symlink to a store path; N counts up from 1. A
//! generation's creation time is its link's modification time. Generations are roots because
//! the collector searches `<state>/profiles` (and each new one also gets a
//! `gcroots/auto` link, so profiles elsewhere are roots too).
//!
//! Every change holds `P.lock` (the same lock file and protocol Nix's `lockProfile` uses) and
//! is one atomic step on the file system: a new `P-N-link` appears by renaming a finished
//! temporary symlink, `P` is switched by renaming a new symlink over it, and a generation is
//! deleted by one unlink, never the current one. So a process killed at any moment leaves `P`
//! pointing to a complete generation (at worst a stray temporary link `.P….tmp-…`, removed by
//! the next change).

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use kiln_formats::store_path::StorePath;

use crate::lock::PathLock;
use crate::roots::replace_symlink;
use crate::{LocalStore, StoreError};

/// Why a profile operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A store or file system operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The requested generation does not exist.
    #[error("profile version {number} of '{profile}' does not exist")]
    NoSuchGeneration {
        /// The profile.
        profile: PathBuf,
        /// The generation asked for.
        number: u64,
    },
    /// A rollback found no generation older than the current one.
    #[error("no profile version older than the current ({current}) of '{profile}' exists")]
    NoOlderGeneration {
        /// The profile.
        profile: PathBuf,
        /// The current generation (0 when there is none).
        current: u64,
    },
    /// Deleting the current generation was asked for.
    #[error("cannot delete current version {number} of profile '{profile}'")]
    DeleteCurrent {
        /// The profile.
        profile: PathBuf,
        /// The current generation.
        number: u64,
    },
    /// An age such as `--delete-older-than` takes is not `<N>d` with N ≥ 1.
    #[error("invalid number of days specifier '{0}', expected something like '14d'")]
    BadAge(String),
}

/// One generation of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// Its number N.
    pub number: u64,
    /// The link `P-N-link`.
    pub path: PathBuf,
    /// When it was created: the link's modification time, in seconds since the epoch.
    pub created: i64,
    /// Whether the profile points to it.
    pub current: bool,
    /// What the link points to (a store path).
    pub target: PathBuf,
}

/// A profile: the symlink `P` and its generations `P-N-link` beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    path: PathBuf,
}

impl Profile {
    /// The profile whose symlink is (or will be) `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Profile { path: path.into() }
    }

    /// The profile's symlink.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The link of generation `number`.
    pub fn generation_path(&self, number: u64) -> PathBuf {
        self.dir().join(format!("{}-{number}-link", self.name()))
    }

    /// Parses `P-N-link` into N.
    fn parse_generation(&self, file_name: &str) -> Option<u64> {
        let rest = file_name.strip_prefix(&self.name())?.strip_prefix('-')?;
        let digits = rest.strip_suffix("-link")?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// The current generation's number, if the profile points to one.
    pub fn current(&self) -> Result<Option<u64>, ProfileError> {
        match fs::read_link(&self.path) {
            Ok(t) => Ok(t
                .file_name()
                .and_then(|n| self.parse_generation(&n.to_string_lossy()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("reading link", &self.path)(e).into()),
        }
    }

    /// The generations, oldest first.
    pub fn generations(&self) -> Result<Vec<Generation>, ProfileError> {
        let current = self.current()?;
        let dir = self.dir();
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io("reading directory", dir)(e).into()),
        };
        let mut res = Vec::new();
        for entry in entries {
            let entry = entry.map_err(StoreError::io("reading directory", dir))?;
            let Some(number) = self.parse_generation(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            let path = entry.path();
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("getting status of", &path)(e).into()),
            };
            let target = fs::read_link(&path).unwrap_or_default();
            res.push(Generation {
                number,
                created: meta.mtime(),
                current: current == Some(number),
                target,
                path,
            });
        }
        res.sort_by_key(|g| g.number);
        Ok(res)
    }

    /// Takes the profile's lock and removes temporary links a killed change left.
    fn lock(&self) -> Result<PathLock, ProfileError> {
        let dir = self.dir();
        fs::create_dir_all(dir).map_err(StoreError::io("creating directory", dir))?;
        let lock = PathLock::acquire(&self.path)?;
        // Only this profile's own: `.P.tmp-…` and `.P-N-link.tmp-…` (not another profile's
        // whose name merely starts with P).
        let prefix = format!(".{}", self.name());
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(rest) = name.strip_prefix(&prefix) else {
                    continue;
                };
                let ours = rest.starts_with(".tmp-")
                    || rest.strip_prefix('-').is_some_and(|r| {
                        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
                        digits > 0 && r[digits..].starts_with("-link.tmp-")
                    });
                if ours {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(lock)
    }

    /// Points the profile at `path` (which must be valid) as a new generation, numbered one
    /// past the highest, and makes it current. If the newest generation already points
    /// there, it is made current instead. Returns the generation's number.
    pub fn create_generation(
        &self,
        store: &LocalStore,
        path: &StorePath,
    ) -> Result<u64, ProfileError> {
        let _lock = self.lock()?;
        let gens = self.generations()?;
        let abs = PathBuf::from(path.to_absolute(&store.location().store_dir));
        let number = match gens.last() {
            Some(last) if last.target == abs => last.number,
            Some(last) => {
                let n = last.number + 1;
                store.add_perm_root(path, &self.generation_path(n))?;
                n
            }
            None => {
                store.add_perm_root(path, &self.generation_path(1))?;
                1
            }
        };
        self.switch_link(number)?;
        Ok(number)
    }

    /// Makes `P` point to generation `number` (atomically).
    fn switch_link(&self, number: u64) -> Result<(), ProfileError> {
        let target = format!("{}-{number}-link", self.name());
        replace_symlink(Path::new(&target), &self.path)?;
        Ok(())
    }

    /// Makes generation `number` current.
    pub fn switch_to(&self, number: u64) -> Result<(), ProfileError> {
        let _lock = self.lock()?;
        if !self.generations()?.iter().any(|g| g.number == number) {
            return Err(ProfileError::NoSuchGeneration {
                profile: self.path.clone(),
                number,
            });
        }
        self.switch_link(number)
    }

    /// Makes the newest generation older than the current one current; returns its number.
    pub fn rollback(&self) -> Result<u64, ProfileError> {
        let _lock = self.lock()?;
        let current = self.current()?.unwrap_or(0);
        let Some(prev) = self
            .generations()?
            .iter()
            .rev()
            .find(|g| g.number < current)
            .map(|g| g.number)
        else {
            return Err(ProfileError::NoOlderGeneration {
                profile: self.path.clone(),
                current,
            });
        };
        self.switch_link(prev)?;
        Ok(prev)
    }

    /// Deletes the generations in `numbers` (those that exist); refuses, deleting nothing,
    /// if one is current. With `dry_run` nothing changes. Returns the numbers (to be)
    /// deleted, oldest first.
    pub fn delete_generations(
        &self,
        numbers: &BTreeSet<u64>,
        dry_run: bool,
    ) -> Result<Vec<u64>, ProfileError> {
        let _lock = self.lock()?;
        if let Some(cur) = self.current()?.filter(|c| numbers.contains(c)) {
            return Err(ProfileError::DeleteCurrent {
                profile: self.path.clone(),
                number: cur,
            });
        }
        let doomed: Vec<u64> = self
            .generations()?
            .iter()
            .map(|g| g.number)
            .filter(|n| numbers.contains(n))
            .collect();
        self.unlink(&doomed, dry_run)
    }

    /// Deletes every generation but the current one (`nix-collect-garbage -d`).
    pub fn delete_old(&self, dry_run: bool) -> Result<Vec<u64>, ProfileError> {
        let _lock = self.lock()?;
        let doomed: Vec<u64> = self
            .generations()?
            .iter()
            .filter(|g| !g.current)
            .map(|g| g.number)
            .collect();
        self.unlink(&doomed, dry_run)
    }

    /// Deletes the generations created before `cutoff` (seconds since the epoch), except the
    /// current one and the newest of them, which was still in use at the cutoff (Nix's
    /// `--delete-older-than`).
    pub fn delete_older_than(&self, cutoff: i64, dry_run: bool) -> Result<Vec<u64>, ProfileError> {
        let _lock = self.lock()?;
        let gens = self.generations()?;
        let mut doomed = Vec::new();
        let mut can_delete = false;
        for g in gens.iter().rev() {
            if can_delete {
                if !g.current {
                    doomed.push(g.number);
                }
            } else if g.created < cutoff {
                can_delete = true;
            }
        }
        doomed.reverse();
        self.unlink(&doomed, dry_run)
    }

    fn unlink(&self, numbers: &[u64], dry_run: bool) -> Result<Vec<u64>, ProfileError> {
        if !dry_run {
            for &n in numbers {
                let link = self.generation_path(n);
                match fs::remove_file(&link) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io("removing", &link)(e).into()),
                }
            }
        }
        Ok(numbers.to_vec())
    }
}

/// Parses an age `<N>d` (N ≥ 1 days) into seconds.
pub fn parse_age(spec: &str) -> Result<i64, ProfileError> {
    let days: i64 = spec
        .strip_suffix('d')
        .and_then(|d| d.parse().ok())
        .filter(|&d| d >= 1)
        .ok_or_else(|| ProfileError::BadAge(spec.to_owned()))?;
    days.checked_mul(24 * 3600)
        .ok_or_else(|| ProfileError::BadAge(spec.to_owned()))
}

/// Finds the profiles under `dir`, recursively: the symlinks whose target contains `link` (what `nix-collect-garbage -d` acts on). Sorted.
pub fn find_profiles(dir: &Path) -> Result<Vec<PathBuf>, ProfileError> {
    let mut res = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound && d != dir => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(res),
            Err(e) => return Err(StoreError::io("reading directory", &d)(e).into()),
        };
        for entry in entries {
            let entry = entry.map_err(StoreError::io("reading directory", &d))?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let Ok(ty) = entry.file_type() else { continue };
            let path = entry.path();
            if ty.is_dir() {
                stack.push(path);
            } else if ty.is_symlink() {
                let is_profile = fs::read_link(&path)
                    .is_ok_and(|t| t.as_os_str().to_string_lossy().contains("link"));
                if is_profile {
                    res.push(path);
                }
            }
        }
    }
    res.sort();
    Ok(res)
}
