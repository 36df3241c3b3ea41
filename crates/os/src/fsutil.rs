//! File system helpers for a root directory: logical paths mapped under the root, symlinks
//! followed inside it, and atomic replacement (a finished temporary beside the target, then one
//! rename). Temporaries are named `.NAME.kiln-tmp`, so a killed process leaves at most one per
//! target, which the next write replaces and [`clean_tmp`] removes.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write as _};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};

use crate::error::{io as io_err, OsError};

/// The suffix of temporaries.
pub(crate) const TMP_SUFFIX: &str = ".kiln-tmp";

/// The physical place of the absolute path `logical` under `root`.
pub fn phys(root: &Path, logical: impl AsRef<Path>) -> PathBuf {
    let logical = logical.as_ref();
    root.join(logical.strip_prefix("/").unwrap_or(logical))
}

/// Checks that `path` is absolute and has no `..`, so it stays inside a root.
pub(crate) fn check_inside(path: &str) -> Result<(), OsError> {
    let p = Path::new(path);
    if !p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(OsError::UnsafePath {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// The physical path of `logical` under `root` with every symlink on the way followed inside
/// the root (absolute targets are taken relative to the root), as `chroot ROOT realpath` would.
pub fn resolve(root: &Path, logical: &Path) -> io::Result<PathBuf> {
    let mut done = PathBuf::from("/");
    let mut todo: Vec<OsString> = logical
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        if part == ".." {
            done.pop();
            continue;
        }
        let next = done.join(&part);
        let physical = phys(root, &next);
        match fs::symlink_metadata(&physical) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return Err(io::Error::other("too many levels of symbolic links"));
                }
                let target = fs::read_link(&physical)?;
                if target.is_absolute() {
                    done = PathBuf::from("/");
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => todo.push(n.to_owned()),
                        Component::ParentDir => todo.push("..".into()),
                        _ => {}
                    }
                }
            }
            Ok(_) => done = next,
            Err(e) if e.kind() == io::ErrorKind::NotFound && todo.is_empty() => {
                done = next;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(phys(root, done))
}

fn tmp_name(path: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(TMP_SUFFIX);
    path.with_file_name(name)
}

fn remove_if_present(path: &Path) -> Result<(), OsError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("removing", path)(e)),
        _ => Ok(()),
    }
}

/// Writes `contents` to `path` with permissions `mode`: a finished, synced temporary renamed
/// over it.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), OsError> {
    let tmp = tmp_name(path);
    remove_if_present(&tmp)?;
    let mut f = fs::File::create(&tmp).map_err(io_err("creating", &tmp))?;
    f.write_all(contents).map_err(io_err("writing", &tmp))?;
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_err("setting permissions of", &tmp))?;
    f.sync_all().map_err(io_err("syncing", &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io_err("renaming onto", path))
}

/// Makes `link` a symlink to `target`: a temporary symlink renamed over it.
pub fn symlink_atomic(target: &Path, link: &Path) -> Result<(), OsError> {
    let tmp = tmp_name(link);
    remove_if_present(&tmp)?;
    std::os::unix::fs::symlink(target, &tmp).map_err(io_err("creating symlink", &tmp))?;
    fs::rename(&tmp, link).map_err(io_err("renaming onto", link))
}

/// Creates `dir` and its parents.
pub(crate) fn mkdirs(dir: &Path) -> Result<(), OsError> {
    fs::create_dir_all(dir).map_err(io_err("creating directory", dir))
}

/// Reads a file, `None` when it does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<Vec<u8>>, OsError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("reading", path)(e)),
    }
}

/// Reads a symlink, `None` when `path` does not exist or is not one.
pub(crate) fn read_link_opt(path: &Path) -> Option<PathBuf> {
    fs::read_link(path).ok()
}

/// Removes the temporaries a killed process left in `dir`, and with `recursive` in the
/// directories under it (symlinks are not followed).
pub(crate) fn clean_tmp(dir: &Path, recursive: bool) -> Result<(), OsError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("reading directory", dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err("reading directory", dir))?;
        let name = entry.file_name();
        let path = entry.path();
        let is_tmp =
            name.as_bytes().starts_with(b".") && name.as_bytes().ends_with(TMP_SUFFIX.as_bytes());
        let ty = entry
            .file_type()
            .map_err(io_err("reading directory", dir))?;
        if is_tmp && !ty.is_dir() {
            remove_if_present(&path)?;
        } else if recursive && ty.is_dir() {
            clean_tmp(&path, true)?;
        }
    }
    Ok(())
}

/// Whether this process runs as root (so it may change owners).
pub(crate) fn is_root() -> bool {
    // `/proc/self` belongs to the process's effective user.
    std::fs::metadata("/proc/self")
        .map(|m| {
            use std::os::unix::fs::MetadataExt as _;
            m.uid() == 0
        })
        .unwrap_or(false)
}

/// Changes the owner of `path` (not following a symlink).
pub(crate) fn chown(path: &Path, uid: Option<u32>, gid: Option<u32>) -> Result<(), OsError> {
    std::os::unix::fs::lchown(path, uid, gid).map_err(io_err("changing the owner of", path))
}
