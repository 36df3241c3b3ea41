//! Sources read in place: an [`EvalIo`] that shows a local directory at the store path Nix
//! would copy it to, without copying it.
//!
//! Reads below a mounted store path (`/nix/store/…-source/flake.nix`) go to the directory;
//! `builtins.path`, `filterSource` and path interpolation of a part of it copy only that part,
//! from the directory. The whole tree is added to the store (and checked to land at the
//! computed path) only when a store object refers to it: a derivation or `toFile` text whose
//! references name it, which is when a build can need it. Everything else goes to the inner
//! implementation.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use kiln_eval::io::{EvalIo, FetchRequest, Fetched, FileType};
use kiln_formats::derivation::Derivation;
use kiln_formats::hash::HashAlgo;
use kiln_formats::store_path::{FileIngestionMethod, StorePath};

/// The mounts of a [`LazyIo`], shared with whoever changes them during the evaluation.
pub type Mounts = Rc<RefCell<Vec<Mount>>>;

/// One directory shown at a store path.
pub struct Mount {
    /// The store path it appears at.
    pub store_path: StorePath,
    /// The directory.
    pub real: PathBuf,
    logical: PathBuf,
    added: Cell<bool>,
}

/// The evaluator's I/O with mounted directories (see the module documentation).
pub struct LazyIo<'a> {
    inner: Box<dyn EvalIo + 'a>,
    mounts: Mounts,
}

impl Mount {
    /// `real` shown at `store_path` (in the store directory `store_dir`).
    pub fn new(store_path: StorePath, real: PathBuf, store_dir: &str) -> Mount {
        Mount {
            logical: PathBuf::from(store_path.to_absolute(store_dir)),
            store_path,
            real,
            added: Cell::new(false),
        }
    }
}

impl<'a> LazyIo<'a> {
    /// Wraps `inner`, showing the directories of `mounts` at their store paths.
    pub fn new(inner: Box<dyn EvalIo + 'a>, mounts: Mounts) -> Self {
        LazyIo { mounts, inner }
    }

    /// The directory a logical path is read from, if it lies in a mount.
    fn mapped(&self, path: &Path) -> Option<PathBuf> {
        self.mounts.borrow().iter().find_map(|m| {
            let rest = path.strip_prefix(&m.logical).ok()?;
            Some(if rest.as_os_str().is_empty() {
                m.real.clone()
            } else {
                m.real.join(rest)
            })
        })
    }

    fn real(&self, path: &Path) -> PathBuf {
        self.mapped(path).unwrap_or_else(|| path.to_owned())
    }

    fn is_mount(&self, p: &StorePath) -> bool {
        self.mounts.borrow().iter().any(|m| &m.store_path == p)
    }

    /// Adds a mounted tree to the store, once, checking it lands where it was shown.
    fn materialise(&self, m: &Mount) -> io::Result<()> {
        if m.added.get() || self.inner.is_valid_path(&m.store_path)? {
            m.added.set(true);
            return Ok(());
        }
        let got = self.inner.add_path(
            &m.real,
            m.store_path.name(),
            FileIngestionMethod::Recursive,
            HashAlgo::Sha256,
            None,
        )?;
        if got != m.store_path {
            return Err(io::Error::other(format!(
                "'{}' changed while it was evaluated: it is now '{}', not '{}'",
                m.real.display(),
                got.to_absolute(self.store_dir()),
                m.store_path.to_absolute(self.store_dir())
            )));
        }
        m.added.set(true);
        Ok(())
    }
}

impl EvalIo for LazyIo<'_> {
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.inner.read_file(&self.real(path))
    }

    fn file_type(&self, path: &Path) -> io::Result<FileType> {
        self.inner.file_type(&self.real(path))
    }

    fn path_exists(&self, path: &Path) -> bool {
        // A trailing `/` or `/.` keeps its meaning after the mapping.
        match self.mapped(path) {
            Some(mut real) => {
                let s = path.as_os_str().as_encoded_bytes();
                if s.ends_with(b"/") || s.ends_with(b"/.") {
                    real.push("");
                }
                self.inner.path_exists(&real)
            }
            None => self.inner.path_exists(path),
        }
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(Vec<u8>, FileType)>> {
        self.inner.read_dir(&self.real(path))
    }

    fn get_env(&self, name: &str) -> Option<Vec<u8>> {
        self.inner.get_env(name)
    }

    fn current_time(&self) -> i64 {
        self.inner.current_time()
    }

    fn current_dir(&self) -> Option<PathBuf> {
        self.inner.current_dir()
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        // A path in a mount is in the store: it stays what it is called.
        match self.mapped(path) {
            Some(_) => Ok(path.to_owned()),
            None => self.inner.canonicalize(path),
        }
    }

    fn store_dir(&self) -> &str {
        self.inner.store_dir()
    }

    fn add_source(&self, path: &Path, name: &str) -> io::Result<String> {
        self.inner.add_source(&self.real(path), name)
    }

    fn add_text(
        &self,
        name: &str,
        text: &[u8],
        references: &BTreeSet<StorePath>,
    ) -> io::Result<StorePath> {
        for m in self.mounts.borrow().iter() {
            if references.contains(&m.store_path) {
                self.materialise(m)?;
            }
        }
        self.inner.add_text(name, text, references)
    }

    fn add_path(
        &self,
        path: &Path,
        name: &str,
        method: FileIngestionMethod,
        algo: HashAlgo,
        filter: Option<&dyn Fn(&Path) -> bool>,
    ) -> io::Result<StorePath> {
        let Some(real) = self.mapped(path) else {
            return self.inner.add_path(path, name, method, algo, filter);
        };
        match filter {
            None => self.inner.add_path(&real, name, method, algo, None),
            Some(filter) => {
                // The filter is asked about the paths the language sees.
                let logical = |p: &Path| match p.strip_prefix(&real) {
                    Ok(rest) if rest.as_os_str().is_empty() => filter(path),
                    Ok(rest) => filter(&path.join(rest)),
                    Err(_) => filter(p),
                };
                self.inner
                    .add_path(&real, name, method, algo, Some(&logical))
            }
        }
    }

    fn read_derivation(&self, path: &StorePath) -> io::Result<Derivation> {
        self.inner.read_derivation(path)
    }

    fn is_valid_path(&self, path: &StorePath) -> io::Result<bool> {
        if self.is_mount(path) {
            return Ok(true);
        }
        self.inner.is_valid_path(path)
    }

    fn fetch(&self, req: &FetchRequest) -> io::Result<Fetched> {
        self.inner.fetch(req)
    }

    fn query_references(&self, path: &StorePath) -> io::Result<BTreeSet<StorePath>> {
        if self.is_mount(path) {
            return Ok(BTreeSet::new());
        }
        self.inner.query_references(path)
    }
}
