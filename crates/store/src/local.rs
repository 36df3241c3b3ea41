//! [`LocalStore`]: a store on the local file system, laid out like Nix's.

use std::collections::{BTreeSet, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use kiln_formats::derivation::Derivation;
use kiln_formats::hash::{Hash, HashAlgo, Hasher};
use kiln_formats::nar::{self, NarWriter};
use kiln_formats::narinfo::ContentAddress;
use kiln_formats::store_path::{
    check_name, make_fixed_output_path, make_text_path, FileIngestionMethod, StorePath,
    StorePathError, DEFAULT_STORE_DIR,
};

use crate::canon::{canonicalise, remove_tree, set_canonical_mtime};
use crate::db::Db;
use crate::ingest::{copy_tree, NarSink};
use crate::lock::{lock, try_lock, PathLock};
use crate::roots::TempRoots;
use crate::{PathInfo, Store, StoreError};

/// Where a local store lives: a physical root and the logical store directory.
///
/// Files are under `<root><store dir>` and state under `<root>/nix/var/nix`, as in Nix's
/// `local?root=<root>` stores. With root `/` this is the machine's own `/nix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    /// The physical root directory.
    pub root: PathBuf,
    /// The logical store directory paths are named in, such as `/nix/store`.
    pub store_dir: String,
}

impl StoreLocation {
    /// The store rooted at `root` with the default store directory `/nix/store`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StoreLocation {
            root: root.into(),
            store_dir: DEFAULT_STORE_DIR.to_owned(),
        }
    }

    /// The directory holding the store's files.
    pub fn real_store_dir(&self) -> PathBuf {
        self.root.join(self.store_dir.trim_start_matches('/'))
    }

    /// The directory holding the store's state (`db/`, `gcroots/`, `profiles/` …).
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("nix/var/nix")
    }
}

/// One problem [`LocalStore::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyProblem {
    /// A valid path's contents are missing.
    Missing(StorePath),
    /// A valid path's contents no longer hash to the recorded NAR hash or size.
    Modified {
        /// The path.
        path: StorePath,
        /// The recorded NAR hash.
        expected: Hash,
        /// The NAR hash of what is there now.
        actual: Hash,
    },
}

/// What [`LocalStore::delete`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteResult {
    /// The paths deleted.
    pub deleted: BTreeSet<StorePath>,
    /// Their total NAR size, an estimate of the space freed.
    pub bytes_freed: u64,
}

/// What [`LocalStore::optimise`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OptimiseStats {
    /// Files replaced by a hard link to an identical one.
    pub files_linked: u64,
    /// The size of the files replaced.
    pub bytes_freed: u64,
}

/// A private temporary directory under `<store>/.kiln-tmp/`, locked by its creator while in
/// use and removed when dropped. Being inside the store's directory, what is made in it can be
/// renamed into the store.
#[derive(Debug)]
pub struct TempDir {
    pub(crate) dir: PathBuf,
    _lock: File,
}

impl TempDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The name of the object inside.
    fn object(&self) -> PathBuf {
        self.dir.join("obj")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = remove_tree(&self.dir);
    }
}

/// A name for one object in the store's shared temporary directory ([`LocalStore::add_nar`]'s):
/// whatever is there when it is dropped is removed, so an object not renamed into the store
/// leaves nothing behind.
struct TempObject {
    path: PathBuf,
}

impl Drop for TempObject {
    fn drop(&mut self) {
        let _ = remove_tree(&self.path);
    }
}

/// A NAR unpacked into a temporary directory by [`LocalStore::receive_nar`], not yet a store
/// path: removed with its directory unless installed.
pub(crate) struct ReceivedNar {
    tmp: TempDir,
    /// The SHA-256 of the NAR.
    pub(crate) nar_hash: Hash,
    /// Its size in bytes.
    pub(crate) nar_size: u64,
}

/// A store in a directory of the local file system, in Nix's layout and database schema.
///
/// Safe to share between threads (the database connection is behind a mutex) and between
/// processes (SQLite's locking, path locks).
#[derive(Debug)]
pub struct LocalStore {
    location: StoreLocation,
    pub(crate) real_store: PathBuf,
    tmp_root: PathBuf,
    db: Mutex<Db>,
    /// This process's temporary roots file (`roots.rs`).
    temp_roots: TempRoots,
    /// Held shared for the store's lifetime, as Nix does (it takes it exclusively to migrate).
    _big_lock: File,
    /// One temporary directory for every [`Store::add_nar`] of this store's lifetime, made on
    /// first use: a directory per object cost an inode made and freed per substituted path,
    /// the dearest step of a substitution on ext4 (`perf`: its scan past recently freed
    /// inodes). Locked like any temporary directory, so only a dead process's is removed.
    scratch: Mutex<Option<TempDir>>,
    /// The number of the next object made in `scratch`.
    scratch_objects: std::sync::atomic::AtomicU64,
}

impl LocalStore {
    /// Opens the store at `location`, creating its directories and database when missing,
    /// and removes temporary directories left by processes that died while adding.
    pub fn open(location: StoreLocation) -> Result<Self, StoreError> {
        let real_store = location.real_store_dir();
        let state = location.state_dir();
        let db_dir = state.join("db");
        for dir in [
            &real_store,
            &db_dir,
            &state.join("gcroots"),
            &state.join("profiles"),
            &state.join("temproots"),
        ] {
            fs::create_dir_all(dir).map_err(StoreError::io("creating directory", dir))?;
        }
        let links = real_store.join(".links");
        fs::create_dir_all(&links).map_err(StoreError::io("creating directory", &links))?;
        let big_lock_path = db_dir.join("big-lock");
        let big_lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&big_lock_path)
            .map_err(StoreError::io("opening", &big_lock_path))?;
        lock(&big_lock, &big_lock_path, false)?;
        let db = Db::open(&db_dir, &location.store_dir, true)?;
        let tmp_root = real_store.join(".kiln-tmp");
        let temp_roots = TempRoots::new(state.clone(), location.store_dir.clone());
        let store = LocalStore {
            location,
            real_store,
            tmp_root,
            db: Mutex::new(db),
            temp_roots,
            _big_lock: big_lock,
            scratch: Mutex::new(None),
            scratch_objects: std::sync::atomic::AtomicU64::new(0),
        };
        store.remove_stale_temps()?;
        Ok(store)
    }

    /// Registers `path` as a temporary root of this process: no garbage collection deletes it
    /// (valid or still being made) while this `LocalStore` lives. Cheap to call again for the
    /// same path; waits while a collection is running. Every add registers its path itself.
    pub fn add_temp_root(&self, path: &StorePath) -> Result<(), StoreError> {
        self.temp_roots.add(path)
    }

    /// Where this store lives.
    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// The physical path of a store path's contents.
    pub fn real_path(&self, path: &StorePath) -> PathBuf {
        self.real_store.join(path.base_name())
    }

    /// Parses an absolute path in this store's logical directory (a file inside a store path
    /// is accepted and means the store path).
    pub fn parse_path(&self, path: &str) -> Result<StorePath, StoreError> {
        Ok(StorePath::from_absolute_prefix(&self.location.store_dir, path)?.0)
    }

    pub(crate) fn db(&self) -> MutexGuard<'_, Db> {
        // A panic while holding the lock cannot leave the database half-written (SQLite rolls
        // back), so a poisoned lock is still usable.
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a locked temporary directory in the store's directory, removed when dropped
    /// (or, if the process dies, by the next [`LocalStore::open`]).
    pub fn temp_dir(&self) -> Result<TempDir, StoreError> {
        fs::create_dir_all(&self.tmp_root)
            .map_err(StoreError::io("creating directory", &self.tmp_root))?;
        // A new directory is visible before its creator locks it; holding the creation lock
        // shared until then keeps `remove_stale_temps` (which holds it exclusively) from
        // taking it for a dead process's leftover in that window.
        let _creating = self.creation_lock(false)?;
        loop {
            let dir =
                self.tmp_root
                    .join(format!("{}-{:016x}", std::process::id(), fastrand::u64(..)));
            match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StoreError::io("creating directory", &dir)(e)),
            }
            let file = File::open(&dir).map_err(StoreError::io("opening", &dir))?;
            lock(&file, &dir, true)?;
            return Ok(TempDir { dir, _lock: file });
        }
    }

    /// A new name in the store's shared temporary directory (made now if it was not yet).
    fn temp_object(&self) -> Result<TempObject, StoreError> {
        let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        if scratch.is_none() {
            *scratch = Some(self.temp_dir()?);
        }
        let dir = &scratch.as_ref().expect("made above").dir;
        let n = self
            .scratch_objects
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(TempObject {
            path: dir.join(format!("obj-{n}")),
        })
    }

    /// Opens and locks `<tmp root>/.lock`: shared while creating a temporary directory,
    /// exclusive while removing stale ones.
    fn creation_lock(&self, exclusive: bool) -> Result<File, StoreError> {
        let path = self.tmp_root.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(StoreError::io("opening", &path))?;
        lock(&file, &path, exclusive)?;
        Ok(file)
    }

    /// Removes temporary directories whose creator is gone (their lock is free).
    fn remove_stale_temps(&self) -> Result<(), StoreError> {
        let entries = match fs::read_dir(&self.tmp_root) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io("reading directory", &self.tmp_root)(e)),
        };
        let _no_creations = self.creation_lock(true)?;
        for entry in entries {
            let entry = entry.map_err(StoreError::io("reading directory", &self.tmp_root))?;
            if entry.file_name() == ".lock" {
                continue;
            }
            let dir = entry.path();
            let Ok(file) = File::open(&dir) else { continue };
            if try_lock(&file, &dir)? {
                remove_tree(&dir)?;
            }
        }
        Ok(())
    }

    /// Moves a complete, canonical object into place as `info.path` and registers it, with
    /// `lock` (the path's lock) held. Leftovers at the destination are removed first.
    fn install(
        &self,
        info: &PathInfo,
        object: &Path,
        drv: Option<Derivation>,
        _lock: &PathLock,
    ) -> Result<(), StoreError> {
        let dest = self.real_path(&info.path);
        // An unregistered object here is what a killed add left behind.
        remove_tree(&dest)?;
        fs::rename(object, &dest).map_err(StoreError::io("moving into place", &dest))?;
        let drvs: Vec<(StorePath, Derivation)> =
            drv.map(|d| (info.path.clone(), d)).into_iter().collect();
        self.db().register(std::slice::from_ref(info), &drvs)
    }

    /// Unpacks the NAR read from `nar` into a new temporary directory, hashing and counting it
    /// in the same pass: the first half of an add whose path is known only after its archive
    /// (an import). Nothing is registered; [`LocalStore::install_received`] does that.
    pub(crate) fn receive_nar(&self, nar: &mut dyn Read) -> Result<ReceivedNar, StoreError> {
        let tmp = self.temp_dir()?;
        let object = tmp.object();
        let mut sink = NarSink::new(None, None);
        let tee = TeeReader {
            inner: nar,
            sink: &mut sink,
        };
        nar::restore(tee, &object).map_err(|source| StoreError::Nar {
            op: "importing",
            path: object.clone(),
            source,
        })?;
        let summary = sink.finish();
        Ok(ReceivedNar {
            tmp,
            nar_hash: summary.nar_hash,
            nar_size: summary.nar_size,
        })
    }

    /// Makes a received NAR the path `info` describes (its NAR hash and size are the received
    /// ones), under the path's lock; returns false, changing nothing, when the path is already
    /// valid.
    pub(crate) fn install_received(
        &self,
        received: ReceivedNar,
        info: &PathInfo,
    ) -> Result<bool, StoreError> {
        self.add_temp_root(&info.path)?;
        let lock = PathLock::acquire(&self.real_path(&info.path))?;
        if self.is_valid_path(&info.path)? {
            return Ok(false);
        }
        let object = received.tmp.object();
        let drv = self.canonicalise_new(&info.path, &object)?;
        let mut info = info.clone();
        info.nar_hash = received.nar_hash;
        info.nar_size = received.nar_size;
        if info.registration_time == 0 {
            info.registration_time = Self::now();
        }
        self.install(&info, &object, drv, &lock)?;
        Ok(true)
    }

    /// Registers paths whose contents are already in place and canonical (a builder's
    /// outputs), with their references, in one transaction.
    pub fn register_valid_paths(&self, infos: &[PathInfo]) -> Result<(), StoreError> {
        let mut drvs = Vec::new();
        for info in infos {
            self.add_temp_root(&info.path)?;
            if info.path.is_derivation() {
                drvs.push((info.path.clone(), self.read_derivation(&info.path)?));
            }
        }
        self.db().register(infos, &drvs)
    }

    /// Reads and parses the derivation at `path`.
    pub fn read_derivation(&self, path: &StorePath) -> Result<Derivation, StoreError> {
        let real = self.real_path(path);
        let bytes = fs::read(&real).map_err(StoreError::io("reading", &real))?;
        self.parse_derivation(path, &bytes)
    }

    /// Brings a received object into canonical form and, for a `.drv`, parses it (its outputs
    /// are registered with it): the common last step of every add before registration.
    fn canonicalise_new(
        &self,
        path: &StorePath,
        object: &Path,
    ) -> Result<Option<Derivation>, StoreError> {
        canonicalise(object)?;
        if !path.is_derivation() {
            return Ok(None);
        }
        let bytes = fs::read(object).map_err(StoreError::io("reading", object))?;
        Ok(Some(self.parse_derivation(path, &bytes)?))
    }

    fn parse_derivation(&self, path: &StorePath, bytes: &[u8]) -> Result<Derivation, StoreError> {
        Derivation::parse(bytes, &self.location.store_dir).map_err(|source| {
            StoreError::BadDerivation {
                path: path.to_absolute(&self.location.store_dir),
                source,
            }
        })
    }

    /// Returns the derivations recorded as having `path` as an output.
    pub fn query_valid_derivers(
        &self,
        path: &StorePath,
    ) -> Result<BTreeSet<StorePath>, StoreError> {
        self.db().query_valid_derivers(path)
    }

    /// The valid path whose hash part is `hash` (the 32 characters before the name), if any:
    /// how a binary cache server finds the path a `<hash>.narinfo` request is for.
    pub fn path_from_hash_part(&self, hash: &str) -> Result<Option<StorePath>, StoreError> {
        if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        self.db().path_from_hash_part(hash)
    }

    /// Adds `sigs` to the signatures recorded for the valid path `path` (`kiln store sign`,
    /// signatures that came with a copy). Returns whether any was new.
    pub fn add_signatures(
        &self,
        path: &StorePath,
        sigs: &BTreeSet<String>,
    ) -> Result<bool, StoreError> {
        let db = self.db();
        let info = db
            .query_path_info(path)?
            .ok_or_else(|| StoreError::NotValid(path.to_absolute(self.store_dir())))?;
        let mut all = info.sigs.clone();
        all.extend(sigs.iter().cloned());
        if all == info.sigs {
            return Ok(false);
        }
        db.set_signatures(path, &all)?;
        Ok(true)
    }

    /// Returns every valid path.
    pub fn all_valid_paths(&self) -> Result<BTreeSet<StorePath>, StoreError> {
        self.db().all_valid_paths()
    }

    /// Checks every valid path: that its contents exist and, with `check_contents`, that they
    /// still have the recorded NAR hash and size.
    pub fn verify(&self, check_contents: bool) -> Result<Vec<VerifyProblem>, StoreError> {
        let mut problems = Vec::new();
        for path in self.all_valid_paths()? {
            let real = self.real_path(&path);
            if fs::symlink_metadata(&real).is_err() {
                problems.push(VerifyProblem::Missing(path));
                continue;
            }
            if !check_contents {
                continue;
            }
            let Some(info) = self.query_path_info(&path)? else {
                continue;
            };
            let mut sink = NarSink::new(
                (info.nar_hash.algo() != HashAlgo::Sha256).then_some(info.nar_hash.algo()),
                None,
            );
            nar::dump(&real, &mut sink).map_err(|source| StoreError::Nar {
                op: "hashing",
                path: real.clone(),
                source,
            })?;
            let summary = sink.finish();
            let actual = summary.extra.unwrap_or(summary.nar_hash);
            if actual != info.nar_hash || summary.nar_size != info.nar_size {
                problems.push(VerifyProblem::Modified {
                    path,
                    expected: info.nar_hash,
                    actual,
                });
            }
        }
        Ok(problems)
    }

    /// Deletes `paths`: refused (deleting nothing) when a valid path outside the set refers
    /// to one of them. The database forgets them first, then their files go.
    pub fn delete(&self, paths: &BTreeSet<StorePath>) -> Result<DeleteResult, StoreError> {
        let mut res = DeleteResult::default();
        let mut locks = Vec::new();
        let mut infos = Vec::new();
        for p in paths {
            locks.push(PathLock::acquire(&self.real_path(p))?);
            match self.query_path_info(p)? {
                Some(info) => infos.push(info),
                None => return Err(StoreError::NotValid(p.to_absolute(self.store_dir()))),
            }
        }
        self.db().invalidate(paths)?;
        for info in infos {
            let real = self.real_path(&info.path);
            // Out of sight first, so no half-deleted tree is ever visible under its name.
            let trash = self.temp_dir()?;
            match fs::rename(&real, trash.object()) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("removing", &real)(e)),
            }
            drop(trash);
            res.bytes_freed += info.nar_size;
            res.deleted.insert(info.path);
        }
        Ok(res)
    }

    /// Replaces identical files in valid paths by hard links to one copy in `<store>/.links`.
    /// Safe to run while other processes add, delete or optimise.
    pub fn optimise(&self) -> Result<OptimiseStats, StoreError> {
        let links = self.real_store.join(".links");
        fs::create_dir_all(&links).map_err(StoreError::io("creating directory", &links))?;
        // Inodes already in `.links`: files sharing them are done.
        let mut linked: HashSet<u64> = HashSet::new();
        for entry in fs::read_dir(&links).map_err(StoreError::io("reading directory", &links))? {
            let entry = entry.map_err(StoreError::io("reading directory", &links))?;
            if let Ok(meta) = entry.metadata() {
                linked.insert(meta.ino());
            }
        }
        let mut stats = OptimiseStats::default();
        for path in self.all_valid_paths()? {
            let mut stack = vec![self.real_path(&path)];
            while let Some(p) = stack.pop() {
                let Ok(meta) = fs::symlink_metadata(&p) else {
                    continue; // Deleted meanwhile.
                };
                if meta.is_dir() {
                    for entry in
                        fs::read_dir(&p).map_err(StoreError::io("reading directory", &p))?
                    {
                        stack.push(
                            entry
                                .map_err(StoreError::io("reading directory", &p))?
                                .path(),
                        );
                    }
                } else if meta.is_file() && !linked.contains(&meta.ino()) {
                    self.optimise_file(&p, &meta, &links, &mut linked, &mut stats)?;
                }
            }
        }
        Ok(stats)
    }

    fn optimise_file(
        &self,
        path: &Path,
        meta: &fs::Metadata,
        links: &Path,
        linked: &mut HashSet<u64>,
        stats: &mut OptimiseStats,
    ) -> Result<(), StoreError> {
        let mut hasher = Hasher::new(HashAlgo::Sha256);
        match nar::dump(path, &mut hasher) {
            Ok(()) => {}
            Err(_) if fs::symlink_metadata(path).is_err() => return Ok(()),
            Err(source) => {
                return Err(StoreError::Nar {
                    op: "hashing",
                    path: path.to_owned(),
                    source,
                })
            }
        }
        let link = links.join(hasher.finish().to_nix32());
        match fs::hard_link(path, &link) {
            Ok(()) => {
                // This file is now the shared copy.
                linked.insert(meta.ino());
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::MLINK.raw_os_error()) => {
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io("linking", &link)(e)),
        }
        let link_meta =
            fs::symlink_metadata(&link).map_err(StoreError::io("getting status of", &link))?;
        linked.insert(link_meta.ino());
        if link_meta.ino() == meta.ino() {
            return Ok(());
        }
        if link_meta.len() != meta.len() {
            // A corrupt link; leave this file alone rather than lose its contents.
            return Ok(());
        }
        // Link the shared copy under a temporary name next to the file, then rename it over
        // the file: at every moment the file's name holds the same contents.
        let parent = path.parent().expect("a file in a store path has a parent");
        let tmp = self.real_store.join(format!(
            ".tmp-link-{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        match fs::hard_link(&link, &tmp) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::MLINK.raw_os_error()) => {
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io("linking", &tmp)(e)),
        }
        let parent_is_store = parent == self.real_store;
        if !parent_is_store {
            fs::set_permissions(parent, fs::Permissions::from_mode(0o755))
                .map_err(StoreError::io("making writable", parent))?;
        }
        let renamed = fs::rename(&tmp, path);
        if !parent_is_store {
            fs::set_permissions(parent, fs::Permissions::from_mode(0o555))
                .map_err(StoreError::io("changing the permissions of", parent))?;
            set_canonical_mtime(parent)?;
        }
        if let Err(e) = renamed {
            let _ = fs::remove_file(&tmp);
            return Err(StoreError::io("replacing", path)(e));
        }
        stats.files_linked += 1;
        stats.bytes_freed += meta.len();
        Ok(())
    }

    fn now() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }

    fn info_if_valid(&self, path: &StorePath) -> Result<Option<PathInfo>, StoreError> {
        self.db().query_path_info(path)
    }
}

impl Store for LocalStore {
    fn store_dir(&self) -> &str {
        &self.location.store_dir
    }

    fn query_path_info(&self, path: &StorePath) -> Result<Option<PathInfo>, StoreError> {
        self.info_if_valid(path)
    }

    fn is_valid_path(&self, path: &StorePath) -> Result<bool, StoreError> {
        self.db().is_valid(path)
    }

    fn query_referrers(&self, path: &StorePath) -> Result<BTreeSet<StorePath>, StoreError> {
        self.db().query_referrers(path)
    }

    fn add_path(
        &self,
        name: &str,
        src: &Path,
        method: FileIngestionMethod,
        algo: HashAlgo,
    ) -> Result<PathInfo, StoreError> {
        check_name(name).map_err(|reason| StorePathError::BadName {
            name: name.to_owned(),
            reason,
        })?;
        let tmp = self.temp_dir()?;
        let object = tmp.object();
        let extra =
            (method == FileIngestionMethod::Recursive && algo != HashAlgo::Sha256).then_some(algo);
        let mut sink = NarSink::new(extra, None);
        let mut flat = (method == FileIngestionMethod::Flat).then(|| Hasher::new(algo));
        copy_tree(src, &object, &mut sink, flat.as_mut())?;
        let summary = sink.finish();
        let hash = match (flat, summary.extra) {
            (Some(h), _) => h.finish(),
            (None, Some(h)) => h,
            (None, None) => summary.nar_hash,
        };
        let path = make_fixed_output_path(self.store_dir(), name, method, &hash)?;
        self.add_temp_root(&path)?;
        let lock = PathLock::acquire(&self.real_path(&path))?;
        if let Some(info) = self.info_if_valid(&path)? {
            return Ok(info);
        }
        let info = PathInfo {
            path,
            nar_hash: summary.nar_hash,
            nar_size: summary.nar_size,
            references: BTreeSet::new(),
            deriver: None,
            ca: Some(ContentAddress::Fixed { method, hash }),
            sigs: BTreeSet::new(),
            registration_time: Self::now(),
            ultimate: false,
        };
        self.install(&info, &object, None, &lock)?;
        Ok(info)
    }

    fn add_text(
        &self,
        name: &str,
        text: &[u8],
        references: &BTreeSet<StorePath>,
    ) -> Result<PathInfo, StoreError> {
        let hash = Hash::digest_bytes(HashAlgo::Sha256, text);
        let path = make_text_path(self.store_dir(), name, &hash, references)?;
        self.add_temp_root(&path)?;
        if let Some(info) = self.info_if_valid(&path)? {
            return Ok(info);
        }
        let drv = path
            .is_derivation()
            .then(|| self.parse_derivation(&path, text))
            .transpose()?;
        let lock = PathLock::acquire(&self.real_path(&path))?;
        if let Some(info) = self.info_if_valid(&path)? {
            return Ok(info);
        }
        // A single small file is written in place under the path's lock (as Nix does), not
        // through a temporary directory: instantiation adds thousands of them, and the
        // invariant holds either way (a killed add leaves an unregistered path, removed by the
        // next add under this lock).
        let object = self.real_path(&path);
        remove_tree(&object)?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&object)
            .map_err(StoreError::io("creating", &object))?;
        file.write_all(text)
            .map_err(StoreError::io("writing", &object))?;
        drop(file);
        canonicalise(&object)?;
        let mut sink = NarSink::new(None, None);
        let mut w = NarWriter::new(&mut sink);
        w.regular(false, text.len() as u64, text)
            .and_then(|()| w.finish().map(drop))
            .map_err(|source| StoreError::Nar {
                op: "hashing",
                path: object.clone(),
                source,
            })?;
        let summary = sink.finish();
        let info = PathInfo {
            path,
            nar_hash: summary.nar_hash,
            nar_size: summary.nar_size,
            references: references.clone(),
            deriver: None,
            ca: Some(ContentAddress::Text(hash)),
            sigs: BTreeSet::new(),
            registration_time: Self::now(),
            ultimate: false,
        };
        let drvs: Vec<(StorePath, Derivation)> =
            drv.map(|d| (info.path.clone(), d)).into_iter().collect();
        self.db().register(std::slice::from_ref(&info), &drvs)?;
        drop(lock);
        Ok(info)
    }

    fn add_nar(&self, info: &PathInfo, nar: &mut dyn Read) -> Result<(), StoreError> {
        self.add_temp_root(&info.path)?;
        if self.is_valid_path(&info.path)? {
            return Ok(());
        }
        let lock = PathLock::acquire(&self.real_path(&info.path))?;
        if self.is_valid_path(&info.path)? {
            return Ok(());
        }
        let tmp = self.temp_object()?;
        let object = &tmp.path;
        let algo = info.nar_hash.algo();
        let mut sink = NarSink::new((algo != HashAlgo::Sha256).then_some(algo), None);
        let tee = TeeReader {
            inner: nar,
            sink: &mut sink,
        };
        nar::restore(tee, object).map_err(|source| StoreError::Nar {
            op: "importing",
            path: self.real_path(&info.path),
            source,
        })?;
        let summary = sink.finish();
        let actual = summary.extra.unwrap_or(summary.nar_hash);
        if actual != info.nar_hash || summary.nar_size != info.nar_size {
            return Err(StoreError::HashMismatch {
                path: info.path.to_absolute(self.store_dir()),
                expected: info.nar_hash.to_string(),
                actual: actual.to_string(),
                expected_size: info.nar_size,
                actual_size: summary.nar_size,
            });
        }
        let drv = self.canonicalise_new(&info.path, object)?;
        let mut info = info.clone();
        info.nar_hash = summary.nar_hash;
        if info.registration_time == 0 {
            info.registration_time = Self::now();
        }
        self.install(&info, object, drv, &lock)
    }

    fn dump_path(&self, path: &StorePath, out: &mut dyn Write) -> Result<(), StoreError> {
        if !self.is_valid_path(path)? {
            return Err(StoreError::NotValid(path.to_absolute(self.store_dir())));
        }
        let real = self.real_path(path);
        nar::dump(&real, &mut WriteRef(out)).map_err(|source| StoreError::Nar {
            op: "dumping",
            path: real,
            source,
        })
    }
}

/// Passes a `&mut dyn Write` where an `impl Write` is wanted.
struct WriteRef<'a>(&'a mut dyn Write);

impl Write for WriteRef<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Reads from `inner`, copying what it reads into `sink`.
struct TeeReader<'a> {
    inner: &'a mut dyn Read,
    sink: &'a mut NarSink,
}

impl Read for TeeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sink.write_all(&buf[..n])?;
        Ok(n)
    }
}
