//! Everything the language can observe of the outside world goes through [`EvalIo`].
//!
//! The evaluator never opens a file or reads the environment itself. `kiln-store` provides the
//! implementation that copies sources into a store; [`FsIo`] here reads the real file system and
//! only *computes* the store paths of sources, as `nix-instantiate --eval` does in read-only
//! mode.

use std::io;
use std::path::Path;

use kiln_formats::hash::{HashAlgo, Hasher};
use kiln_formats::nar;
use kiln_formats::store_path::{make_source_path, DEFAULT_STORE_DIR};

/// The type of a file system object, as `builtins.readFileType` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// Anything else (fifo, socket, device).
    Unknown,
}

impl FileType {
    /// The name Nix uses.
    pub fn name(self) -> &'static str {
        match self {
            FileType::Regular => "regular",
            FileType::Directory => "directory",
            FileType::Symlink => "symlink",
            FileType::Unknown => "unknown",
        }
    }
}

/// The evaluator's window on files, the environment and the store.
pub trait EvalIo {
    /// Reads a whole file.
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The type of the object at `path` (not following a final symlink).
    fn file_type(&self, path: &Path) -> io::Result<FileType>;
    /// Tells whether `path` exists (following symlinks, as `builtins.pathExists` does).
    fn path_exists(&self, path: &Path) -> bool;
    /// The entries of a directory with their types, in any order.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<(Vec<u8>, FileType)>>;
    /// An environment variable (`builtins.getEnv`; empty when unset).
    fn get_env(&self, name: &str) -> Option<Vec<u8>>;
    /// The logical store directory.
    fn store_dir(&self) -> &str;
    /// Adds a source path to the store (recursively, SHA-256), returning its store path.
    fn add_source(&self, path: &Path, name: &str) -> io::Result<String>;
}

/// Real files, no store writes: source paths are computed, not copied.
pub struct FsIo {
    store_dir: String,
}

impl FsIo {
    /// With the default store directory.
    pub fn new() -> Self {
        FsIo {
            store_dir: DEFAULT_STORE_DIR.to_owned(),
        }
    }
}

impl Default for FsIo {
    fn default() -> Self {
        Self::new()
    }
}

fn kind(ft: std::fs::FileType) -> FileType {
    if ft.is_file() {
        FileType::Regular
    } else if ft.is_dir() {
        FileType::Directory
    } else if ft.is_symlink() {
        FileType::Symlink
    } else {
        FileType::Unknown
    }
}

impl EvalIo for FsIo {
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn file_type(&self, path: &Path) -> io::Result<FileType> {
        Ok(kind(std::fs::symlink_metadata(path)?.file_type()))
    }

    fn path_exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(Vec<u8>, FileType)>> {
        use std::os::unix::ffi::OsStrExt;
        let mut res = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            res.push((
                entry.file_name().as_bytes().to_vec(),
                kind(entry.file_type()?),
            ));
        }
        Ok(res)
    }

    fn get_env(&self, name: &str) -> Option<Vec<u8>> {
        use std::os::unix::ffi::OsStringExt;
        std::env::var_os(name).map(|v| v.into_vec())
    }

    fn store_dir(&self) -> &str {
        &self.store_dir
    }

    fn add_source(&self, path: &Path, name: &str) -> io::Result<String> {
        let mut hasher = Hasher::new(HashAlgo::Sha256);
        nar::dump(path, &mut hasher).map_err(io::Error::other)?;
        let p = make_source_path(
            &self.store_dir,
            name,
            &hasher.finish(),
            &Default::default(),
            false,
        )
        .map_err(io::Error::other)?;
        Ok(p.to_absolute(&self.store_dir))
    }
}
