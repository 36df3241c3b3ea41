//! Fetchers: files and archives by URL, Git repositories and local paths, into a
//! [`LocalStore`], with a cache of what was fetched.
//!
//! The request and result types ([`FetchRequest`], [`Fetched`], [`HashMismatch`]) are
//! `kiln_formats::fetch`'s, shared with the evaluator's fetcher builtins, so this crate does
//! not depend on the evaluator and the evaluator does not depend on it.
//!
//! Spec: the Nix manual's `builtins.fetchurl`, `fetchTarball`, `fetchGit` and `fetchTree`, the
//! `tarball-ttl` setting, and the behaviour of Nix 2.8 and current Nix on the same inputs (the
//! store paths and attributes are compared in `crates/cli/tests/cli/fetch.rs`).
//!
//! * [`download`] streams an `http://`, `https://` or `file://` URL into a writer (a temporary
//!   file, hashed as it arrives); nothing is buffered whole.
//! * [`unpack_archive`] unpacks a tar archive, plain or compressed with gzip, xz, bzip2 or
//!   zstd, a zip archive, or a Debian binary package's `data.tar.*` (recognised by the first
//!   bytes), and reports the newest entry's time.
//! * [`Mirrors`] resolves `mirror://NAME/PATH` URLs through the `mirrors` setting, trying each
//!   base URL of the mirror in turn.
//! * `git`: repositories through the `git` command, as Nix 2.8 does: a local repository's
//!   working tree (dirty or clean) or a commit, exported with `git archive`; remote ones are
//!   fetched into a bare repository under the cache directory first.
//! * `cache`: one small file per fetch key under [`FetchSettings::cache_dir`]. An unlocked
//!   fetch (no hash, no `rev`) is reused for `tarball-ttl` seconds (then revalidated with its
//!   `ETag`); a locked one whose store path is still valid never touches the network again.
//!
//! A failed or interrupted download leaves at most a temporary file in the cache directory,
//! removed when the fetch's guard is dropped; the store only ever sees complete trees.

mod cache;
mod download;
mod git;
mod mirrors;
mod unpack;

use std::io;
use std::path::{Path, PathBuf};

pub use kiln_formats::fetch::{FetchRequest, Fetched, HashMismatch};
use kiln_formats::hash::{Hash, HashAlgo, Hasher};
use kiln_formats::store_path::{make_fixed_output_path, FileIngestionMethod, StorePath};

pub use download::{download, Downloaded};
pub use mirrors::{is_not_found, Mirrors};
pub use unpack::unpack_archive;

use kiln_store::{LocalStore, PathInfo, Store, StoreError};

/// Where the fetch cache lives and how long unlocked fetches stay fresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSettings {
    /// The cache directory (the session's default is `$XDG_CACHE_HOME/kiln/fetchers`).
    pub cache_dir: PathBuf,
    /// Seconds an unlocked fetch is reused without asking the server (Nix's `tarball-ttl`).
    pub tarball_ttl: u64,
    /// Where `mirror://NAME/…` URLs are fetched from (the `mirrors` setting).
    pub mirrors: Mirrors,
}

impl FetchSettings {
    /// A cache at `cache_dir` with Nix's default `tarball-ttl` of one hour.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        FetchSettings {
            cache_dir: cache_dir.into(),
            tarball_ttl: 3600,
            mirrors: Mirrors::new(),
        }
    }
}

/// A fetch that failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL could not be read (HTTP status, DNS, refused connection, missing file).
    #[error("unable to download '{url}': {reason}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// What was fetched does not have the hash asked for.
    #[error("{0}")]
    HashMismatch(Box<HashMismatch>),
    /// The downloaded file is not an archive Kiln can unpack, or unpacking it failed.
    #[error("unpacking '{url}': {reason}")]
    Unpack {
        /// The URL the archive came from.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A `git` command failed, or the repository lacks what was asked for.
    #[error("fetching Git repository '{url}': {reason}")]
    Git {
        /// The repository.
        url: String,
        /// What went wrong (with `git`'s own message when it gave one).
        reason: String,
    },
    /// A file operation in the cache or on a fetched tree failed.
    #[error("{op} '{path}': {reason}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file it was done to.
        path: PathBuf,
        /// The system error's text.
        reason: String,
    },
    /// The store refused the result.
    #[error("adding the fetched tree to the store: {}", error_chain(.0))]
    Store(StoreError),
    /// A name or hash that makes no valid store path.
    #[error("{0}")]
    BadPath(String),
}

impl From<StoreError> for FetchError {
    fn from(e: StoreError) -> Self {
        FetchError::Store(e)
    }
}

impl FetchError {
    /// Converts to the `io::Error` the evaluator's `EvalIo::fetch` returns, keeping a hash
    /// mismatch recognisable (as the inner error).
    pub fn into_io(self) -> io::Error {
        match self {
            FetchError::HashMismatch(m) => io::Error::other(*m),
            other => io::Error::other(other.to_string()),
        }
    }
}

use kiln_formats::error_chain;

fn io_error(op: &'static str, path: &Path, e: io::Error) -> FetchError {
    FetchError::Io {
        op,
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// Seconds since the Unix epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Fetches `req` into `store`, using and updating the cache of `settings`.
pub fn fetch(
    store: &LocalStore,
    settings: &FetchSettings,
    req: &FetchRequest,
) -> Result<Fetched, FetchError> {
    match req {
        FetchRequest::Url {
            url,
            name,
            unpack,
            recursive,
            expected,
        } => fetch_url(
            store,
            settings,
            url,
            name,
            *unpack,
            *unpack || *recursive,
            expected.as_ref(),
        ),
        FetchRequest::Git { .. } => git::fetch(store, settings, req),
        FetchRequest::Path {
            path,
            name,
            nar_hash,
        } => fetch_path(store, path, name, nar_hash.as_ref()),
    }
}

fn path_for(
    store: &LocalStore,
    name: &str,
    method: FileIngestionMethod,
    hash: &Hash,
) -> Result<StorePath, FetchError> {
    make_fixed_output_path(store.store_dir(), name, method, hash)
        .map_err(|e| FetchError::BadPath(e.to_string()))
}

/// The result for a valid path, with what the store knows of it.
fn valid_result(
    store: &LocalStore,
    path: &StorePath,
    last_modified: Option<i64>,
) -> Result<Option<Fetched>, FetchError> {
    Ok(store.query_path_info(path)?.map(|info| Fetched {
        path: path.clone(),
        nar_hash: info.nar_hash,
        last_modified,
        rev: None,
        dirty_rev: None,
        rev_count: None,
    }))
}

/// A file or directory under the cache's `tmp/`, removed when dropped.
pub(crate) struct TempPath(PathBuf);

impl TempPath {
    pub(crate) fn new(settings: &FetchSettings, what: &str) -> Result<Self, FetchError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        // Each cache's orphans are looked for once per process.
        static SWEPT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
        let dir = settings.cache_dir.join("tmp");
        std::fs::create_dir_all(&dir).map_err(|e| io_error("creating directory", &dir, e))?;
        {
            let mut swept = SWEPT.lock().unwrap_or_else(|e| e.into_inner());
            if !swept.contains(&dir) {
                remove_orphans(&dir);
                swept.push(dir.clone());
            }
        }
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Ok(TempPath(dir.join(format!(
            "{}-{n}-{:08x}-{what}",
            std::process::id(),
            fastrand::u32(..)
        ))))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

/// Removes what killed processes left in the cache's `tmp/`: entries are named
/// `<pid>-…`, and one whose process no longer exists is an orphan.
fn remove_orphans(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            drop(TempPath(entry.path()));
        }
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = match std::fs::symlink_metadata(&self.0) {
            Ok(m) if m.is_dir() => kiln_store::remove_tree(&self.0).map_err(|_| ()),
            Ok(_) => std::fs::remove_file(&self.0).map_err(|_| ()),
            Err(_) => Ok(()),
        };
    }
}

/// A writer that hashes what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: io::Write> io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn fetch_url(
    store: &LocalStore,
    settings: &FetchSettings,
    url: &str,
    name: &str,
    unpack: bool,
    recursive: bool,
    expected: Option<&Hash>,
) -> Result<Fetched, FetchError> {
    let method = if recursive {
        FileIngestionMethod::Recursive
    } else {
        FileIngestionMethod::Flat
    };
    let kind = match (unpack, recursive) {
        (true, _) => "tarball",
        (false, true) => "file-recursive",
        (false, false) => "file",
    };
    let key = cache::key(&[kind, url, name]);
    let record = cache::read(settings, &key);
    let last_modified = |r: &Option<cache::Record>| {
        r.as_ref()
            .and_then(|r| r.get("lastModified"))
            .and_then(|v| v.parse().ok())
    };
    // Locked and already there: no download at all.
    if let Some(h) = expected {
        let p = path_for(store, name, method, h)?;
        if let Some(res) = valid_result(store, &p, last_modified(&record))? {
            return Ok(res);
        }
    }
    // Unlocked and fetched recently: reuse.
    let cached_path = record
        .as_ref()
        .and_then(|r| r.get("storePath"))
        .and_then(|p| StorePath::from_absolute(store.store_dir(), p).ok());
    if let (Some(r), Some(p), None) = (&record, &cached_path, expected) {
        if r.is_fresh(settings.tarball_ttl) {
            if let Some(res) = valid_result(store, p, last_modified(&record))? {
                return Ok(res);
            }
        }
    }

    let tmp = TempPath::new(settings, "download")?;
    let file =
        std::fs::File::create(tmp.path()).map_err(|e| io_error("creating file", tmp.path(), e))?;
    let flat_algo = match (recursive, expected) {
        (false, Some(h)) => h.algo(),
        _ => HashAlgo::Sha256,
    };
    let mut writer = HashingWriter {
        inner: io::BufWriter::new(file),
        hasher: Hasher::new(flat_algo),
    };
    // Revalidate a stale entry whose path is still there with its ETag.
    let etag = match (&record, &cached_path) {
        (Some(r), Some(p)) if store.is_valid_path(p)? => r.get("etag").map(str::to_owned),
        _ => None,
    };
    let mut got = settings
        .mirrors
        .download(url, etag.as_deref(), &mut writer)?;
    if got.not_modified {
        if let (Some(mut r), Some(p)) = (record.clone(), &cached_path) {
            if let Some(res) = valid_result(store, p, last_modified(&record))? {
                r.touch();
                cache::write(settings, &key, &r)?;
                return Ok(res);
            }
        }
        // The path went away after the check: nothing was written, ask for the body.
        got = settings.mirrors.download(url, None, &mut writer)?;
    }
    let writer_hash = {
        use io::Write;
        writer
            .flush()
            .map_err(|e| io_error("writing", tmp.path(), e))?;
        writer.hasher.finish()
    };

    let (info, mtime) = if unpack {
        let dir = TempPath::new(settings, "unpack")?;
        let mtime =
            unpack_archive(tmp.path(), dir.path()).map_err(|reason| FetchError::Unpack {
                url: url.to_owned(),
                reason,
            })?;
        drop(tmp);
        let root = single_top_dir(dir.path())?;
        let info = store.add_path(name, &root, method, HashAlgo::Sha256)?;
        check_nar(store, url, expected, &info)?;
        (info, Some(mtime))
    } else if recursive {
        let info = store.add_path(name, tmp.path(), method, HashAlgo::Sha256)?;
        check_nar(store, url, expected, &info)?;
        (info, None)
    } else {
        if let Some(h) = expected {
            if *h != writer_hash {
                return Err(FetchError::HashMismatch(Box::new(HashMismatch {
                    url: url.to_owned(),
                    expected: *h,
                    got: writer_hash,
                })));
            }
        }
        (store.add_path(name, tmp.path(), method, flat_algo)?, None)
    };
    let mut r = cache::Record::new();
    r.set("storePath", &info.path.to_absolute(store.store_dir()));
    if let Some(e) = &got.etag {
        r.set("etag", e);
    }
    if let Some(t) = mtime {
        r.set("lastModified", &t.to_string());
    }
    cache::write(settings, &key, &r)?;
    Ok(Fetched {
        path: info.path,
        nar_hash: info.nar_hash,
        last_modified: mtime,
        rev: None,
        dirty_rev: None,
        rev_count: None,
    })
}

/// Checks a recursively added path against the expected hash of its NAR (in any algorithm).
fn check_nar(
    store: &LocalStore,
    url: &str,
    expected: Option<&Hash>,
    info: &PathInfo,
) -> Result<(), FetchError> {
    let Some(h) = expected else {
        return Ok(());
    };
    let got = if h.algo() == HashAlgo::Sha256 {
        info.nar_hash
    } else {
        let real = store.real_path(&info.path);
        let mut hasher = Hasher::new(h.algo());
        kiln_formats::nar::dump(&real, &mut hasher)
            .map_err(|e| io_error("hashing", &real, io::Error::other(e)))?;
        hasher.finish()
    };
    if *h != got {
        return Err(FetchError::HashMismatch(Box::new(HashMismatch {
            url: url.to_owned(),
            expected: *h,
            got,
        })));
    }
    Ok(())
}

/// The directory to store from an unpacked archive: its only top-level entry when that is a
/// directory, else the whole (as Nix does).
fn single_top_dir(dir: &Path) -> Result<PathBuf, FetchError> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| io_error("reading directory", dir, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io_error("reading directory", dir, e))?;
    if entries.len() == 1 {
        let only = entries.pop().expect("one entry");
        let ft = only
            .file_type()
            .map_err(|e| io_error("reading directory", dir, e))?;
        if ft.is_dir() {
            return Ok(only.path());
        }
    }
    Ok(dir.to_owned())
}

/// The newest modification time in the tree at `path` (not following symbolic links).
fn newest_mtime(path: &Path) -> Result<i64, FetchError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).map_err(|e| io_error("reading", path, e))?;
    let mut newest = meta.mtime();
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| io_error("reading directory", path, e))? {
            let entry = entry.map_err(|e| io_error("reading directory", path, e))?;
            newest = newest.max(newest_mtime(&entry.path())?);
        }
    }
    Ok(newest)
}

fn fetch_path(
    store: &LocalStore,
    path: &Path,
    name: &str,
    nar_hash: Option<&Hash>,
) -> Result<Fetched, FetchError> {
    let mtime = newest_mtime(path)?;
    let info = store.add_path(name, path, FileIngestionMethod::Recursive, HashAlgo::Sha256)?;
    if let Some(h) = nar_hash {
        if *h != info.nar_hash {
            return Err(FetchError::HashMismatch(Box::new(HashMismatch {
                url: path.display().to_string(),
                expected: *h,
                got: info.nar_hash,
            })));
        }
    }
    Ok(Fetched {
        path: info.path,
        nar_hash: info.nar_hash,
        last_modified: Some(mtime),
        rev: None,
        dirty_rev: None,
        rev_count: None,
    })
}
