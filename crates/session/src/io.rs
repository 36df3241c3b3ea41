//! [`StoreIo`]: the evaluator's [`EvalIo`] backed by a [`LocalStore`], for instantiation.
//!
//! Files are read from the real file system (as [`FsIo`] does); sources, `toFile` texts and
//! derivations are really added to the store, so the `.drv` closure an evaluation produces is
//! valid when it ends and Nix can read it. Sources copied by path interpolation are remembered
//! by their file system path for the evaluation's length, as Nix does, so a path used many
//! times is hashed and copied once. Fetches go to [`kiln_fetch::fetch`] with the
//! [`FetchSettings`] the session gives.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};

use kiln_eval::io::{copy_filtered, EvalIo, FetchRequest, Fetched, FileType, FsIo, TempTree};
use kiln_formats::derivation::Derivation;
use kiln_formats::hash::HashAlgo;
use kiln_formats::store_path::{FileIngestionMethod, StorePath};

use kiln_fetch::FetchSettings;
use kiln_store::{LocalStore, Store, StoreError, StoreLocation};

/// The evaluator's I/O with a store to write into.
pub struct StoreIo<'s> {
    store: &'s LocalStore,
    fs: FsIo,
    sources: RefCell<HashMap<PathBuf, String>>,
    fetch: FetchSettings,
}

impl<'s> StoreIo<'s> {
    /// Evaluates against `store`, fetching with `fetch` (cache directory, `tarball-ttl`).
    pub fn new(store: &'s LocalStore, fetch: FetchSettings) -> Self {
        StoreIo {
            store,
            fs: FsIo::new(),
            sources: RefCell::default(),
            fetch,
        }
    }

    /// Where a file is on disk: a path under the logical store directory lives under the
    /// store's physical one (not the same for a store at another root, `--store DIR`), so
    /// that `import (fetchTarball …)` reads what was just fetched, as Nix does.
    fn real<'p>(&self, path: &'p Path) -> Cow<'p, Path> {
        match path.strip_prefix(self.store.store_dir()) {
            Ok(rest) if !rest.as_os_str().is_empty() => {
                Cow::Owned(self.store.location().real_store_dir().join(rest))
            }
            _ => Cow::Borrowed(path),
        }
    }
}

fn to_io(e: StoreError) -> io::Error {
    io::Error::other(e)
}

impl EvalIo for StoreIo<'_> {
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.fs.read_file(&self.real(path))
    }

    fn file_type(&self, path: &Path) -> io::Result<FileType> {
        self.fs.file_type(&self.real(path))
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        self.fs.read_link(&self.real(path))
    }

    fn path_exists(&self, path: &Path) -> bool {
        self.fs.path_exists(&self.real(path))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(Vec<u8>, FileType)>> {
        self.fs.read_dir(&self.real(path))
    }

    fn get_env(&self, name: &str) -> Option<Vec<u8>> {
        self.fs.get_env(name)
    }

    fn store_dir(&self) -> &str {
        self.store.store_dir()
    }

    fn add_source(&self, path: &Path, name: &str) -> io::Result<String> {
        if let Some(p) = self.sources.borrow().get(path) {
            return Ok(p.clone());
        }
        let p = self.add_path(
            path,
            name,
            FileIngestionMethod::Recursive,
            HashAlgo::Sha256,
            None,
        )?;
        let p = p.to_absolute(self.store_dir());
        self.sources
            .borrow_mut()
            .insert(path.to_path_buf(), p.clone());
        Ok(p)
    }

    fn add_text(
        &self,
        name: &str,
        text: &[u8],
        references: &BTreeSet<StorePath>,
    ) -> io::Result<StorePath> {
        Ok(self
            .store
            .add_text(name, text, references)
            .map_err(to_io)?
            .path)
    }

    fn add_path(
        &self,
        path: &Path,
        name: &str,
        method: FileIngestionMethod,
        algo: HashAlgo,
        filter: Option<&dyn Fn(&Path) -> bool>,
    ) -> io::Result<StorePath> {
        let real = self.real(path);
        let info = match filter {
            None => self.store.add_path(name, &real, method, algo),
            Some(filter) => {
                let tmp = TempTree::new()?;
                // The filter was asked about logical paths; the copy walks the real ones.
                let logical = |p: &Path| match p.strip_prefix(&*real) {
                    Ok(rest) => filter(&path.join(rest)),
                    Err(_) => filter(p),
                };
                copy_filtered(&real, tmp.path(), &logical)?;
                self.store.add_path(name, tmp.path(), method, algo)
            }
        };
        Ok(info.map_err(to_io)?.path)
    }

    fn read_derivation(&self, path: &StorePath) -> io::Result<Derivation> {
        let text = std::fs::read(self.store.real_path(path))?;
        Derivation::parse(&text, self.store_dir()).map_err(io::Error::other)
    }

    fn is_valid_path(&self, path: &StorePath) -> io::Result<bool> {
        self.store.is_valid_path(path).map_err(to_io)
    }

    fn query_references(&self, path: &StorePath) -> io::Result<BTreeSet<StorePath>> {
        self.store.query_references(path).map_err(to_io)
    }

    fn fetch(&self, req: &FetchRequest) -> io::Result<Fetched> {
        kiln_fetch::fetch(self.store, &self.fetch, req).map_err(kiln_fetch::FetchError::into_io)
    }
}

/// Nix's read-only evaluation (`nix-instantiate --eval`), which still fetches: everything is
/// [`FsIo`] (store paths computed, nothing written) except [`EvalIo::fetch`], which opens the
/// store at `root` on first use and fetches into it, as Nix fetches into its store even in
/// read-only mode. Fetched paths are read from the store's real directory, as in [`StoreIo`].
pub struct ReadOnlyIo {
    fs: FsIo,
    location: StoreLocation,
    store: RefCell<Option<LocalStore>>,
    fetch: FetchSettings,
}

impl ReadOnlyIo {
    /// Evaluates read-only; fetches go to the store at `root` (opened only if something is
    /// fetched), with `fetch` (cache directory, `tarball-ttl`).
    pub fn new(root: impl Into<PathBuf>, fetch: FetchSettings) -> Self {
        ReadOnlyIo {
            fs: FsIo::new(),
            location: StoreLocation::new(root),
            store: RefCell::new(None),
            fetch,
        }
    }

    fn real<'p>(&self, path: &'p Path) -> Cow<'p, Path> {
        match path.strip_prefix(self.fs.store_dir()) {
            Ok(rest) if !rest.as_os_str().is_empty() => {
                Cow::Owned(self.location.real_store_dir().join(rest))
            }
            _ => Cow::Borrowed(path),
        }
    }
}

impl EvalIo for ReadOnlyIo {
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.fs.read_file(&self.real(path))
    }

    fn file_type(&self, path: &Path) -> io::Result<FileType> {
        self.fs.file_type(&self.real(path))
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        self.fs.read_link(&self.real(path))
    }

    fn path_exists(&self, path: &Path) -> bool {
        self.fs.path_exists(&self.real(path))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(Vec<u8>, FileType)>> {
        self.fs.read_dir(&self.real(path))
    }

    fn get_env(&self, name: &str) -> Option<Vec<u8>> {
        self.fs.get_env(name)
    }

    fn store_dir(&self) -> &str {
        self.fs.store_dir()
    }

    fn add_source(&self, path: &Path, name: &str) -> io::Result<String> {
        self.fs.add_source(&self.real(path), name)
    }

    fn add_text(
        &self,
        name: &str,
        text: &[u8],
        references: &BTreeSet<StorePath>,
    ) -> io::Result<StorePath> {
        self.fs.add_text(name, text, references)
    }

    fn add_path(
        &self,
        path: &Path,
        name: &str,
        method: FileIngestionMethod,
        algo: HashAlgo,
        filter: Option<&dyn Fn(&Path) -> bool>,
    ) -> io::Result<StorePath> {
        let real = self.real(path);
        match filter {
            None => self.fs.add_path(&real, name, method, algo, None),
            Some(filter) => {
                let logical = |p: &Path| match p.strip_prefix(&*real) {
                    Ok(rest) => filter(&path.join(rest)),
                    Err(_) => filter(p),
                };
                self.fs.add_path(&real, name, method, algo, Some(&logical))
            }
        }
    }

    fn read_derivation(&self, path: &StorePath) -> io::Result<Derivation> {
        match self.fs.read_derivation(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let text = std::fs::read(self.location.real_store_dir().join(path.base_name()))?;
                Derivation::parse(&text, self.store_dir()).map_err(io::Error::other)
            }
            res => res,
        }
    }

    fn is_valid_path(&self, path: &StorePath) -> io::Result<bool> {
        Ok(self.fs.is_valid_path(path)?
            || self
                .location
                .real_store_dir()
                .join(path.base_name())
                .exists())
    }

    fn query_references(&self, path: &StorePath) -> io::Result<BTreeSet<StorePath>> {
        self.fs.query_references(path)
    }

    fn fetch(&self, req: &FetchRequest) -> io::Result<Fetched> {
        let mut slot = self.store.borrow_mut();
        if slot.is_none() {
            let store = LocalStore::open(self.location.clone()).map_err(|e| {
                io::Error::other(format!(
                    "opening the store at '{}' to fetch into: {}",
                    self.location.root.display(),
                    kiln_formats::error_chain(&e)
                ))
            })?;
            *slot = Some(store);
        }
        let store = slot.as_ref().expect("opened above");
        kiln_fetch::fetch(store, &self.fetch, req).map_err(kiln_fetch::FetchError::into_io)
    }
}
