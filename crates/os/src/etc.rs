//! `/etc` through `/etc/static`, as NixOS lays it out.
//!
//! `/etc/static` is one symlink to the toplevel's `etc` tree, swapped by one rename. Every entry
//! of the tree (a non-directory, found by walking its real directories) becomes `/etc/NAME`: a
//! symlink to `/etc/static/NAME`, or, when `NAME.mode` beside it says a mode, a copy with that
//! mode (owner from `NAME.uid`/`NAME.gid`, applied only when running as root);
//! `direct-symlink` links straight to the entry's store target.
//!
//! `/etc/.kiln-owned` lists what Kiln made (entries, and directories with a final `/`). An
//! existing entry Kiln does not own is never replaced (it is reported as a conflict), entries
//! the list names that the new tree lacks are removed, and so are directories Kiln made that
//! became empty. Before anything is created the list is widened to include it, so a killed
//! activation never leaves a Kiln-made file unowned; the next activation completes it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::error::{io as io_err, OsError};
use crate::fsutil::{self, phys, resolve};
use crate::toplevel::Toplevel;

/// The list of what Kiln made in `/etc`.
pub const OWNED_FILE: &str = ".kiln-owned";

/// How an entry appears in `/etc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtcKind {
    /// A symlink to `/etc/static/NAME` (mode `symlink`, the default).
    Link,
    /// A symlink straight to the entry's target in the store (mode `direct-symlink`).
    DirectLink,
    /// A copy with this mode and owner (user and group names or numbers, as the Nix side gave).
    Copy {
        /// The permission bits.
        mode: u32,
        /// `NAME.uid`'s content.
        user: Option<String>,
        /// `NAME.gid`'s content.
        group: Option<String>,
    },
}

/// One entry of a toplevel's `etc` tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcEntry {
    /// How it appears in `/etc`.
    pub kind: EtcKind,
    /// What it is: its symlink target, or its contents (for comparing generations).
    pub source: Vec<u8>,
}

/// What an activation of `/etc` did besides the expected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcOutcome {
    /// Entries left alone because a file Kiln never made is in their place.
    pub conflicts: Vec<String>,
}

/// The entries of `top`'s `etc` tree by relative name (`ssh/sshd_config`).
pub fn entries(root: &Path, top: &Toplevel) -> Result<BTreeMap<String, EtcEntry>, OsError> {
    let dir = top.resolve(root, "etc")?;
    let mut res = BTreeMap::new();
    if dir.is_dir() {
        walk(&dir, "", &mut res)?;
    }
    Ok(res)
}

fn walk(dir: &Path, prefix: &str, res: &mut BTreeMap<String, EtcEntry>) -> Result<(), OsError> {
    let mut names: Vec<String> = Vec::new();
    for e in fs::read_dir(dir).map_err(io_err("reading directory", dir))? {
        let e = e.map_err(io_err("reading directory", dir))?;
        names.push(e.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    let all: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    for name in &names {
        let is_meta = [".mode", ".uid", ".gid"].iter().any(|suffix| {
            name.strip_suffix(suffix)
                .is_some_and(|base| all.contains(base))
        });
        let rel = format!("{prefix}{name}");
        if is_meta || (prefix.is_empty() && (name == "static" || name == OWNED_FILE)) {
            continue;
        }
        let path = dir.join(name);
        let meta = fs::symlink_metadata(&path).map_err(io_err("getting status of", &path))?;
        if meta.is_dir() {
            walk(&path, &format!("{rel}/"), res)?;
            continue;
        }
        let side = |ext: &str| -> Option<String> {
            fs::read_to_string(dir.join(format!("{name}.{ext}")))
                .ok()
                .map(|s| s.trim().to_owned())
        };
        let kind = match side("mode").as_deref() {
            None | Some("symlink") => EtcKind::Link,
            Some("direct-symlink") => EtcKind::DirectLink,
            Some(m) => EtcKind::Copy {
                mode: u32::from_str_radix(m, 8).map_err(|_| OsError::Io {
                    action: "reading the mode in",
                    path: dir.join(format!("{name}.mode")),
                    source: io::Error::new(io::ErrorKind::InvalidData, "not an octal mode"),
                })?,
                user: side("uid"),
                group: side("gid"),
            },
        };
        let source = if meta.file_type().is_symlink() {
            let mut s = b"L".to_vec();
            let t = fs::read_link(&path).map_err(io_err("reading link", &path))?;
            s.extend_from_slice(t.as_os_str().as_bytes());
            s
        } else {
            let mut s = b"F".to_vec();
            s.extend(fs::read(&path).map_err(io_err("reading", &path))?);
            s
        };
        res.insert(rel, EtcEntry { kind, source });
    }
    Ok(())
}

/// Reads `/etc/.kiln-owned`.
pub fn read_owned(root: &Path) -> Result<BTreeSet<String>, OsError> {
    let file = phys(root, "/etc").join(OWNED_FILE);
    Ok(fsutil::read_opt(&file)?
        .map(|b| {
            String::from_utf8_lossy(&b)
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default())
}

fn write_owned(root: &Path, owned: &BTreeSet<String>) -> Result<(), OsError> {
    let mut text = String::new();
    for o in owned {
        text.push_str(o);
        text.push('\n');
    }
    fsutil::write_atomic(&phys(root, "/etc").join(OWNED_FILE), text.as_bytes(), 0o644)
}

/// The directories (with a final `/`) the entries need, parents first.
fn needed_dirs<'a>(names: impl Iterator<Item = &'a String>) -> BTreeSet<String> {
    let mut res = BTreeSet::new();
    for n in names {
        let mut end = 0;
        while let Some(i) = n[end..].find('/') {
            end += i + 1;
            res.insert(n[..end].to_owned());
        }
    }
    res
}

fn static_link(name: &str) -> PathBuf {
    Path::new("/etc/static").join(name)
}

/// Makes `/etc` under `root` describe `new`'s etc tree (see the module's overview).
pub fn activate(root: &Path, new: &Toplevel) -> Result<EtcOutcome, OsError> {
    let etc = phys(root, "/etc");
    fsutil::mkdirs(&etc)?;
    fsutil::clean_tmp(&etc, true)?;
    let owned = read_owned(root)?;
    let wanted = entries(root, new)?;

    let mut outcome = EtcOutcome::default();
    let mut planned: BTreeMap<&String, &EtcEntry> = BTreeMap::new();
    'entries: for (name, entry) in &wanted {
        // A parent that is a file Kiln did not make blocks the entry.
        for dir in needed_dirs(std::iter::once(name)) {
            let p = etc.join(dir.trim_end_matches('/'));
            if let Ok(m) = fs::symlink_metadata(&p) {
                if !m.is_dir() && !owned.contains(dir.trim_end_matches('/')) {
                    outcome.conflicts.push(name.clone());
                    continue 'entries;
                }
            }
        }
        let p = etc.join(name);
        let ours = match fs::symlink_metadata(&p) {
            Err(_) => true,
            Ok(_) if owned.contains(name) => true,
            Ok(m) => {
                m.file_type().is_symlink()
                    && fsutil::read_link_opt(&p).is_some_and(|t| t == static_link(name))
            }
        };
        if ours {
            planned.insert(name, entry);
        } else {
            outcome.conflicts.push(name.clone());
        }
    }
    let dirs = needed_dirs(planned.keys().copied());
    let new_dirs: BTreeSet<String> = dirs
        .iter()
        .filter(|d| !etc.join(d.trim_end_matches('/')).is_dir() || owned.contains(*d))
        .cloned()
        .collect();

    // Own everything about to be made before making it.
    let mut widened = owned.clone();
    widened.extend(planned.keys().map(|n| (*n).clone()));
    widened.extend(new_dirs.iter().cloned());
    if widened != owned {
        write_owned(root, &widened)?;
    }

    fsutil::symlink_atomic(&new.etc(), &etc.join("static"))?;

    for (name, entry) in &planned {
        let p = etc.join(name);
        if let Some(parent) = p.parent() {
            fsutil::mkdirs(parent)?;
        }
        if let Ok(m) = fs::symlink_metadata(&p) {
            if m.is_dir() {
                // An owned directory where an entry now goes.
                fs::remove_dir_all(&p).map_err(io_err("removing", &p))?;
            }
        }
        match &entry.kind {
            EtcKind::Link | EtcKind::DirectLink => {
                let target = match (&entry.kind, entry.source.split_first()) {
                    // A direct link goes where the tree's symlink goes (when that is an
                    // absolute path, as store paths are), else to the entry in the tree.
                    (EtcKind::DirectLink, Some((b'L', t))) if t.starts_with(b"/") => {
                        PathBuf::from(std::ffi::OsStr::from_bytes(t))
                    }
                    (EtcKind::DirectLink, _) => new.etc().join(name),
                    _ => static_link(name),
                };
                if fsutil::read_link_opt(&p).as_deref() != Some(&target) {
                    fsutil::symlink_atomic(&target, &p)?;
                }
            }
            EtcKind::Copy { mode, .. } => {
                let src = resolve(root, &static_link(name))
                    .map_err(io_err("resolving", etc.join("static").join(name)))?;
                let contents = fs::read(&src).map_err(io_err("reading", &src))?;
                let same = fs::symlink_metadata(&p)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o7777 == *mode)
                    && fs::read(&p).is_ok_and(|c| c == contents);
                if !same {
                    fsutil::write_atomic(&p, &contents, *mode)?;
                }
            }
        }
    }

    // Stale entries: owned before, not wanted now.
    for name in owned.iter().filter(|n| !n.ends_with('/')) {
        if planned.contains_key(name) {
            continue;
        }
        let p = etc.join(name);
        if let Ok(m) = fs::symlink_metadata(&p) {
            if !m.is_dir() {
                fs::remove_file(&p).map_err(io_err("removing", &p))?;
            }
        }
    }
    let mut kept_dirs: BTreeSet<String> = new_dirs.clone();
    for d in owned.iter().filter(|n| n.ends_with('/')).rev() {
        if dirs.contains(d) {
            kept_dirs.insert(d.clone());
            continue;
        }
        let p = etc.join(d.trim_end_matches('/'));
        match fs::remove_dir(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // Something Kiln did not make is in it: keep it (and no longer own it).
            Err(_) => {}
        }
    }

    let mut final_owned: BTreeSet<String> = planned.keys().map(|n| (*n).clone()).collect();
    final_owned.extend(kept_dirs.into_iter().filter(|d| dirs.contains(d)));
    if final_owned != widened {
        write_owned(root, &final_owned)?;
    }
    Ok(outcome)
}

/// Gives copied entries the owners `NAME.uid`/`NAME.gid` name (numbers, or names looked up in
/// the root's `/etc/passwd` and `/etc/group`). Only as root; otherwise nothing changes.
pub fn apply_owners(root: &Path, new: &Toplevel) -> Result<(), OsError> {
    if !fsutil::is_root() {
        return Ok(());
    }
    let etc = phys(root, "/etc");
    let ids = |file: &str| -> BTreeMap<String, u32> {
        fs::read_to_string(etc.join(file))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?.to_owned();
                let id = f.nth(1)?.parse().ok()?;
                Some((name, id))
            })
            .collect()
    };
    let (users, groups) = (ids("passwd"), ids("group"));
    let lookup = |v: &Option<String>, table: &BTreeMap<String, u32>| {
        v.as_deref().and_then(|s| {
            s.trim_start_matches('+')
                .parse()
                .ok()
                .or_else(|| table.get(s).copied())
        })
    };
    for (name, entry) in entries(root, new)? {
        if let EtcKind::Copy { user, group, .. } = &entry.kind {
            let p = etc.join(&name);
            let (uid, gid) = (lookup(user, &users), lookup(group, &groups));
            let meta = fs::symlink_metadata(&p).map_err(io_err("getting status of", &p))?;
            if uid.is_some_and(|u| u != meta.uid()) || gid.is_some_and(|g| g != meta.gid()) {
                fsutil::chown(&p, uid, gid)?;
            }
        }
    }
    Ok(())
}
