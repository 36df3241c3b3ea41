//! The canonical form of store contents, and removing read-only trees.
//!
//! A valid store path's files are read-only (0444, or 0555 when the owner could execute them),
//! its directories 0555, nothing is setuid/setgid/sticky, every modification time is 1 (the
//! epoch plus one second, as Nix does), and everything is owned by the store's owner. Access
//! times are left alone.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Timespec, Timestamps, CWD, UTIME_OMIT};

use crate::StoreError;

/// The modification time of every file in the store.
pub const CANONICAL_MTIME: i64 = 1;

/// Sets the modification time of `path` (not following a symlink) to [`CANONICAL_MTIME`].
pub(crate) fn set_canonical_mtime(path: &Path) -> Result<(), StoreError> {
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        },
        last_modification: Timespec {
            tv_sec: CANONICAL_MTIME,
            tv_nsec: 0,
        },
    };
    rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| {
        StoreError::Io {
            op: "setting the modification time of",
            path: path.to_owned(),
            source: e.into(),
        }
    })
}

/// The canonical permission bits for an object of this kind.
pub(crate) fn canonical_mode(is_dir: bool, mode: u32) -> u32 {
    if is_dir || mode & 0o100 != 0 {
        0o555
    } else {
        0o444
    }
}

/// Brings the tree at `path` into the canonical form: permissions, modification times and
/// ownership (to the effective user; changing it needs privileges, so a foreign owner is an
/// error for an unprivileged store). Fails on a fifo, socket or device.
pub fn canonicalise(path: &Path) -> Result<(), StoreError> {
    let uid = rustix::process::geteuid().as_raw();
    let gid = rustix::process::getegid().as_raw();
    let mut stack: Vec<PathBuf> = vec![path.to_owned()];
    while let Some(p) = stack.pop() {
        let meta = fs::symlink_metadata(&p).map_err(StoreError::io("getting status of", &p))?;
        let ft = meta.file_type();
        if !(ft.is_file() || ft.is_dir() || ft.is_symlink()) {
            return Err(StoreError::UnsupportedType {
                path: p,
                kind: "special file",
            });
        }
        if meta.uid() != uid {
            std::os::unix::fs::lchown(&p, Some(uid), Some(gid))
                .map_err(StoreError::io("changing the owner of", &p))?;
        }
        if !ft.is_symlink() {
            let want = canonical_mode(ft.is_dir(), meta.mode());
            if meta.mode() & 0o7777 != want {
                fs::set_permissions(&p, fs::Permissions::from_mode(want))
                    .map_err(StoreError::io("changing the permissions of", &p))?;
            }
        }
        if meta.mtime() != CANONICAL_MTIME || meta.mtime_nsec() != 0 {
            set_canonical_mtime(&p)?;
        }
        if ft.is_dir() {
            for entry in fs::read_dir(&p).map_err(StoreError::io("reading directory", &p))? {
                let entry = entry.map_err(StoreError::io("reading directory", &p))?;
                stack.push(entry.path());
            }
        }
    }
    Ok(())
}

/// Removes the file system object at `path`, making read-only directories writable first.
/// A missing path is not an error.
pub fn remove_tree(path: &Path) -> Result<(), StoreError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io("getting status of", path)(e)),
    };
    if !meta.is_dir() {
        return fs::remove_file(path).map_err(StoreError::io("removing", path));
    }
    // Depth first: make each directory writable, then empty it, then remove it.
    let mut stack = vec![(path.to_owned(), false)];
    while let Some((dir, emptied)) = stack.pop() {
        if emptied {
            fs::remove_dir(&dir).map_err(StoreError::io("removing directory", &dir))?;
            continue;
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(StoreError::io("making writable", &dir))?;
        stack.push((dir.clone(), true));
        for entry in fs::read_dir(&dir).map_err(StoreError::io("reading directory", &dir))? {
            let entry = entry.map_err(StoreError::io("reading directory", &dir))?;
            let child = entry.path();
            let is_dir = entry
                .file_type()
                .map_err(StoreError::io("getting status of", &child))?
                .is_dir();
            if is_dir {
                stack.push((child, false));
            } else {
                fs::remove_file(&child).map_err(StoreError::io("removing", &child))?;
            }
        }
    }
    Ok(())
}
