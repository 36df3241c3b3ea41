//! Everything the language can observe of the outside world goes through [`EvalIo`].
//!
//! The evaluator never opens a file or reads the environment itself. `kiln-store` provides the
//! implementation that writes into a store (`kiln_store::StoreIo`); [`FsIo`] here reads the real
//! file system and only *computes* store paths, as `nix-instantiate --eval` does in read-only
//! mode: sources are hashed, not copied, and the text files and derivations an evaluation
//! creates are kept in memory so that later derivations can still read them.
//!
//! The store operations are those the store builtins need: add a text file with references
//! (`toFile`, `.drv` files), add a file tree, whole or filtered (`builtins.path`,
//! `filterSource`, path interpolation), read a derivation (for `hashDerivationModulo` of inputs
//! made by an earlier evaluation), query validity and references. A filter is a plain predicate
//! on paths: the builtin has already asked the Nix function about every entry, so no
//! implementation ever calls back into the evaluator. The trait stays object safe.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};

use kiln_formats::derivation::Derivation;
pub use kiln_formats::fetch::{FetchRequest, Fetched, HashMismatch};
use kiln_formats::hash::{Hash, HashAlgo, Hasher};
use kiln_formats::nar;
use kiln_formats::store_path::{
    make_fixed_output_path, make_source_path, make_text_path, FileIngestionMethod, StorePath,
    DEFAULT_STORE_DIR,
};

/// The directory where the Nix files Kiln ships appear to the language (Nix 2.8's name):
/// `<nix/fetchurl.nix>` is `/__corepkgs__/fetchurl.nix` when no search path entry has it.
pub const COREPKGS_DIR: &str = "/__corepkgs__";

/// The Nix files under [`COREPKGS_DIR`], by name.
const COREPKGS: &[(&str, &str)] = &[(
    "fetchurl.nix",
    include_str!("../../../nix/corepkgs/fetchurl.nix"),
)];

/// The contents of a shipped Nix file, if `path` names one under [`COREPKGS_DIR`].
pub fn corepkg(path: &Path) -> Option<&'static [u8]> {
    let name = path.strip_prefix(COREPKGS_DIR).ok()?.to_str()?;
    COREPKGS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| text.as_bytes())
}

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
    /// The target of the symbolic link at `path` (as `readlink` gives it).
    fn read_link(&self, path: &Path) -> io::Result<std::path::PathBuf> {
        std::fs::read_link(path)
    }
    /// Tells whether `path` exists, as `builtins.pathExists` does: a final symlink is not
    /// followed (a dangling one exists), except that a trailing `/` or `/.` asks for a
    /// directory, through symlinks.
    fn path_exists(&self, path: &Path) -> bool;
    /// The entries of a directory with their types, in any order.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<(Vec<u8>, FileType)>>;
    /// An environment variable (`builtins.getEnv`; empty when unset).
    fn get_env(&self, name: &str) -> Option<Vec<u8>>;
    /// Seconds since the Unix epoch (`builtins.currentTime`, read once per evaluation).
    fn current_time(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
    /// The directory relative search path entries (`-I dir`) are resolved against, as Nix
    /// resolves them at lookup: the process's working directory.
    fn current_dir(&self) -> Option<std::path::PathBuf> {
        std::env::current_dir().ok()
    }
    /// `path` with every symbolic link resolved, for the access checks of restricted
    /// evaluation (a link may not lead out of the allowed directories).
    fn canonicalize(&self, path: &Path) -> io::Result<std::path::PathBuf> {
        std::fs::canonicalize(path)
    }
    /// The logical store directory.
    fn store_dir(&self) -> &str;
    /// Adds a source path to the store (recursively, SHA-256), returning its store path.
    fn add_source(&self, path: &Path, name: &str) -> io::Result<String>;

    /// Adds a text file with the given references (`builtins.toFile`), returning its path.
    /// By default only computes the path.
    fn add_text(
        &self,
        name: &str,
        text: &[u8],
        references: &BTreeSet<StorePath>,
    ) -> io::Result<StorePath> {
        let hash = Hash::digest_bytes(HashAlgo::Sha256, text);
        make_text_path(self.store_dir(), name, &hash, references).map_err(io::Error::other)
    }

    /// Adds the tree at `path` as `name`, hashed by `method` and `algo`, keeping only the
    /// entries below `path` for which `filter` holds (a directory left out is not descended
    /// into; the root itself is always kept). By default only computes the path.
    fn add_path(
        &self,
        path: &Path,
        name: &str,
        method: FileIngestionMethod,
        algo: HashAlgo,
        filter: Option<&dyn Fn(&Path) -> bool>,
    ) -> io::Result<StorePath> {
        let hash = hash_path(path, method, algo, filter)?;
        make_fixed_output_path(self.store_dir(), name, method, &hash).map_err(io::Error::other)
    }

    /// Writes a derivation named `name` (without `.drv`) as a `.drv` file, returning its path.
    fn write_derivation(&self, drv: &Derivation, name: &str) -> io::Result<StorePath> {
        let text = drv.to_aterm(self.store_dir());
        self.add_text(&format!("{name}.drv"), &text, &drv.references())
    }

    /// Reads a `.drv` file. By default from the file system under the store directory.
    fn read_derivation(&self, path: &StorePath) -> io::Result<Derivation> {
        let text = self.read_file(Path::new(&path.to_absolute(self.store_dir())))?;
        Derivation::parse(&text, self.store_dir()).map_err(io::Error::other)
    }

    /// Tells whether `path` is a valid store path. By default: whether it exists.
    fn is_valid_path(&self, path: &StorePath) -> io::Result<bool> {
        Ok(self.path_exists(Path::new(&path.to_absolute(self.store_dir()))))
    }

    /// Fetches `req` into the store (the fetcher builtins). By default an error: only an
    /// implementation with a store to write into can fetch.
    fn fetch(&self, req: &FetchRequest) -> io::Result<Fetched> {
        let _ = req;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "fetching is not available in this evaluation (it needs a writable store)",
        ))
    }

    /// The references of a valid store path. By default those of a derivation (read with
    /// [`Self::read_derivation`]) and none for anything else.
    fn query_references(&self, path: &StorePath) -> io::Result<BTreeSet<StorePath>> {
        if path.is_derivation() {
            Ok(self.read_derivation(path)?.references())
        } else {
            Ok(BTreeSet::new())
        }
    }
}

/// Hashes the tree at `path` as [`EvalIo::add_path`] would ingest it: the NAR of the (filtered)
/// tree, or a regular file's contents for [`FileIngestionMethod::Flat`].
pub fn hash_path(
    path: &Path,
    method: FileIngestionMethod,
    algo: HashAlgo,
    filter: Option<&dyn Fn(&Path) -> bool>,
) -> io::Result<Hash> {
    let mut hasher = Hasher::new(algo);
    match method {
        FileIngestionMethod::Flat => {
            let mut f = std::fs::File::open(path)?;
            io::copy(&mut f, &mut hasher)?;
        }
        FileIngestionMethod::Recursive => match filter {
            None => nar::dump(path, &mut hasher).map_err(io::Error::other)?,
            Some(filter) => {
                let tmp = TempTree::new()?;
                copy_filtered(path, tmp.path(), filter)?;
                nar::dump(tmp.path(), &mut hasher).map_err(io::Error::other)?;
            }
        },
    }
    Ok(hasher.finish())
}

/// Copies the tree at `src` to `dst` (which must not exist), keeping what `filter` accepts below
/// the root, regular files' executable bits and symbolic links as links.
pub fn copy_filtered(src: &Path, dst: &Path, filter: &dyn Fn(&Path) -> bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(src)?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(src)?, dst)?;
    } else if ft.is_dir() {
        std::fs::create_dir(dst)?;
        for entry in std::fs::read_dir(src)? {
            let entry = entry?;
            let child = entry.path();
            if filter(&child) {
                copy_filtered(&child, &dst.join(entry.file_name()), filter)?;
            }
        }
    } else if ft.is_file() {
        std::fs::copy(src, dst)?;
        let exec = meta.permissions().mode() & 0o100 != 0;
        std::fs::set_permissions(
            dst,
            std::fs::Permissions::from_mode(if exec { 0o755 } else { 0o644 }),
        )?;
    } else {
        return Err(io::Error::other(format!(
            "file '{}' has an unsupported type",
            src.display()
        )));
    }
    Ok(())
}

/// A temporary directory path (not yet created) removed with everything in it when dropped.
pub struct TempTree {
    dir: PathBuf,
    tree: PathBuf,
}

impl TempTree {
    /// Makes a private parent directory under the system's temporary directory.
    pub fn new() -> io::Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("kiln-eval-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir)?;
        // A fixed child, so the caller may create it as a file, a directory or a link.
        let tree = dir.join("tree");
        Ok(TempTree { dir, tree })
    }

    /// Where the tree goes (inside the private directory).
    pub fn path(&self) -> &Path {
        &self.tree
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A text file's contents and references.
type TextFile = (Vec<u8>, BTreeSet<StorePath>);

/// Real files, no store writes: source paths are computed, not copied, and the text files
/// and derivations the evaluation adds are kept in memory (Nix's read-only mode).
pub struct FsIo {
    store_dir: String,
    /// Text files added so far, with their references, by path.
    texts: RefCell<HashMap<StorePath, TextFile>>,
}

impl FsIo {
    /// With the default store directory.
    pub fn new() -> Self {
        FsIo {
            store_dir: DEFAULT_STORE_DIR.to_owned(),
            texts: RefCell::default(),
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
        if let Some(text) = corepkg(path) {
            return Ok(text.to_vec());
        }
        std::fs::read(path)
    }

    fn file_type(&self, path: &Path) -> io::Result<FileType> {
        Ok(kind(std::fs::symlink_metadata(path)?.file_type()))
    }

    fn path_exists(&self, path: &Path) -> bool {
        // lstat: the kernel follows a final symlink only before a trailing slash.
        corepkg(path).is_some() || path.symlink_metadata().is_ok()
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

    fn add_text(
        &self,
        name: &str,
        text: &[u8],
        references: &BTreeSet<StorePath>,
    ) -> io::Result<StorePath> {
        let hash = Hash::digest_bytes(HashAlgo::Sha256, text);
        let p =
            make_text_path(&self.store_dir, name, &hash, references).map_err(io::Error::other)?;
        self.texts
            .borrow_mut()
            .entry(p.clone())
            .or_insert_with(|| (text.to_vec(), references.clone()));
        Ok(p)
    }

    fn read_derivation(&self, path: &StorePath) -> io::Result<Derivation> {
        let text = match self.texts.borrow().get(path) {
            Some((text, _)) => text.clone(),
            None => std::fs::read(path.to_absolute(&self.store_dir))?,
        };
        Derivation::parse(&text, &self.store_dir).map_err(io::Error::other)
    }

    fn is_valid_path(&self, path: &StorePath) -> io::Result<bool> {
        Ok(self.texts.borrow().contains_key(path)
            || Path::new(&path.to_absolute(&self.store_dir)).exists())
    }

    fn query_references(&self, path: &StorePath) -> io::Result<BTreeSet<StorePath>> {
        if let Some((_, refs)) = self.texts.borrow().get(path) {
            return Ok(refs.clone());
        }
        if path.is_derivation() {
            Ok(self.read_derivation(path)?.references())
        } else {
            Ok(BTreeSet::new())
        }
    }
}
