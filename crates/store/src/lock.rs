//! Advisory locks: per-path lock files and the database's big lock.
//!
//! A path lock is the file `<store path>.lock`, held with `flock(LOCK_EX)`, the convention Nix
//! uses, so Kiln and Nix exclude each other. Lock files are deleted on release; to keep a
//! deleted file from being locked by a waiter that opened it before the unlink, the releaser
//! writes a byte into it first, and a locker that finds a non-empty lock file after acquiring it
//! treats it as stale and starts over (again Nix's protocol).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};

use crate::StoreError;

/// Locks `file` exclusively (blocking) or shared.
pub(crate) fn lock(file: &File, path: &Path, exclusive: bool) -> Result<(), StoreError> {
    let op = if exclusive {
        FlockOperation::LockExclusive
    } else {
        FlockOperation::LockShared
    };
    flock(file, op).map_err(|e| StoreError::Io {
        op: "locking",
        path: path.to_owned(),
        source: e.into(),
    })
}

/// Tries to lock `file` exclusively without waiting; returns whether it got the lock.
pub(crate) fn try_lock(file: &File, path: &Path) -> Result<bool, StoreError> {
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(StoreError::Io {
            op: "locking",
            path: path.to_owned(),
            source: e.into(),
        }),
    }
}

/// An exclusive lock on one store path, released (and its lock file removed) on drop.
#[derive(Debug)]
pub struct PathLock {
    file: File,
    path: PathBuf,
}

impl PathLock {
    /// Waits for and takes the lock for the physical store path `path` (the lock file is
    /// `path` with `.lock` appended).
    pub fn acquire(path: &Path) -> Result<Self, StoreError> {
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&lock_path)
                .map_err(StoreError::io("opening lock file", &lock_path))?;
            lock(&file, &lock_path, true)?;
            let len = file
                .metadata()
                .map_err(StoreError::io("getting status of", &lock_path))?
                .len();
            if len == 0 {
                return Ok(PathLock {
                    file,
                    path: lock_path,
                });
            }
            // Stale: its holder unlinked it after we opened it. Try again with a fresh file.
        }
    }
}

impl Drop for PathLock {
    fn drop(&mut self) {
        // Unlink first, then mark the file stale for anyone blocked on the old inode. Failures
        // leave a lock file behind, which is harmless: the next locker reuses it.
        if std::fs::remove_file(&self.path).is_ok() {
            let _ = self.file.write_all(b"d");
        }
    }
}
