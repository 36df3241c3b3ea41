//! Garbage collector roots: what keeps store paths alive.
//!
//! Four kinds, as in Nix (`findRoots`, `findTempRoots`, `findRuntimeRoots` of Nix 2.8's
//! `gc.cc`, whose on-disk conventions Kiln shares so that either collector honours the
//! other's roots):
//!
//! * **Permanent roots** under `<state>/gcroots` and `<state>/profiles`, searched recursively
//!   without following symlinks to directories. A symlink into the store is a *direct* root. A
//!   symlink elsewhere is *indirect*: if its target is itself a symlink into the store (such as
//!   `./result`), that target is the root; if the target is gone, the link is ignored, and
//!   removed when it lives under `gcroots/auto`. A regular file named like a store path is a
//!   root too. Profiles are found by the second search: `P -> P-N-link` is indirect and each
//!   `P-N-link` direct.
//! * **Temporary roots** of live processes: `<state>/temproots/<pid>[-<n>]`, store paths each
//!   followed by a NUL byte, held with an exclusive `flock` by their owner for its lifetime. A
//!   file whose lock is free belongs to a dead process and is removed (marked stale with one
//!   byte first, so an owner that opened it just before keeps away).
//! * **Runtime roots**: store paths that live processes have open, mapped, as executable or
//!   working directory, or name in their environment, read from `/proc`. Both the logical
//!   store directory and the physical one are looked for, so a process using a chroot store's
//!   files keeps them alive.
//!
//! **The protocol that keeps a new path from being collected.** A collector holds
//! `<state>/gc.lock` exclusively from before it reads the roots until it has deleted the last
//! path. A process registers a temporary root while holding the same lock shared, and does so
//! before it checks whether the path is valid or starts to create it. So either the collector
//! read the root, or the root is registered after the collection ended.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kiln_formats::store_path::StorePath;

use crate::lock::{lock, try_lock};
use crate::StoreError;

/// Store paths that are roots, each with the places that make it one: the link, file or
/// `/proc` entry, or `{temp:<pid>}` for a temporary root. Paths of runtime roots are listed
/// as `{censored}` when asked to censor (other users' processes are not everyone's business).
pub type Roots = BTreeMap<StorePath, BTreeSet<String>>;

/// What Nix writes for a censored root's origin.
pub const CENSORED: &str = "{censored}";

/// Something the root search did that a user may want to hear about (Nix prints each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootNotice {
    /// A link under `gcroots/auto` whose target no longer exists was removed.
    RemovedStaleLink {
        /// The link.
        link: PathBuf,
        /// Where it pointed.
        target: PathBuf,
    },
    /// A root points to a path that is not valid; it is ignored.
    InvalidRoot {
        /// The link or file.
        link: PathBuf,
        /// What it points to.
        target: String,
    },
    /// A potential root could not be read (no permission, vanished); it is ignored.
    Unreadable(PathBuf),
    /// The temporary roots file of a dead process was removed.
    RemovedStaleTempRoots(PathBuf),
}

/// The part of a store the root search needs.
pub(crate) struct RootScope<'a> {
    /// The logical store directory.
    pub store_dir: &'a str,
    /// The physical store directory, absolute and without symlinks.
    pub real_store: &'a Path,
    /// `<state>`.
    pub state_dir: &'a Path,
}

impl RootScope<'_> {
    /// Returns the store path `target` (an absolute path) lies in, if it lies in this store
    /// under either its logical or its physical name.
    fn store_path_of(&self, target: &[u8]) -> Option<StorePath> {
        for prefix in [
            self.store_dir.as_bytes(),
            self.real_store.as_os_str().as_bytes(),
        ] {
            let Some(rest) = target.strip_prefix(prefix) else {
                continue;
            };
            let Some(rest) = rest.strip_prefix(b"/") else {
                continue;
            };
            let base = rest.split(|&b| b == b'/').next().unwrap_or_default();
            if let Ok(base) = std::str::from_utf8(base) {
                if let Ok(p) = StorePath::from_base_name(base) {
                    return Some(p);
                }
            }
        }
        None
    }

    fn is_in_store(&self, target: &[u8]) -> bool {
        [
            self.store_dir.as_bytes(),
            self.real_store.as_os_str().as_bytes(),
        ]
        .iter()
        .any(|prefix| {
            target
                .strip_prefix(*prefix)
                .is_some_and(|rest| rest.first() == Some(&b'/'))
        })
    }
}

/// Adds the permanent roots: everything under `<state>/gcroots` and `<state>/profiles`.
/// `is_valid` decides which found paths count (others are reported and ignored).
pub(crate) fn find_permanent_roots(
    scope: &RootScope<'_>,
    is_valid: &mut dyn FnMut(&StorePath) -> bool,
    roots: &mut Roots,
    notices: &mut dyn FnMut(RootNotice),
) -> Result<(), StoreError> {
    let auto = scope.state_dir.join("gcroots/auto");
    for top in [
        scope.state_dir.join("gcroots"),
        scope.state_dir.join("profiles"),
    ] {
        let mut stack = vec![(top, None::<fs::FileType>)];
        while let Some((path, ty)) = stack.pop() {
            let ty = match ty {
                Some(t) => t,
                None => match fs::symlink_metadata(&path) {
                    Ok(m) => m.file_type(),
                    Err(e) if ignorable(&e) => {
                        notices(RootNotice::Unreadable(path));
                        continue;
                    }
                    Err(e) => return Err(StoreError::io("getting status of", &path)(e)),
                },
            };
            if ty.is_dir() {
                let entries = match fs::read_dir(&path) {
                    Ok(e) => e,
                    Err(e) if ignorable(&e) => {
                        notices(RootNotice::Unreadable(path));
                        continue;
                    }
                    Err(e) => return Err(StoreError::io("reading directory", &path)(e)),
                };
                for entry in entries {
                    let entry = entry.map_err(StoreError::io("reading directory", &path))?;
                    let ty = entry.file_type().ok();
                    stack.push((entry.path(), ty));
                }
            } else if ty.is_symlink() {
                let target = match fs::read_link(&path) {
                    Ok(t) => t,
                    Err(e) if ignorable(&e) => {
                        notices(RootNotice::Unreadable(path));
                        continue;
                    }
                    Err(e) => return Err(StoreError::io("reading link", &path)(e)),
                };
                let bytes = target.as_os_str().as_bytes();
                if scope.is_in_store(bytes) {
                    found(scope, &path, bytes, is_valid, roots, notices);
                    continue;
                }
                // An indirect root: a link to a link into the store.
                let target = match path.parent() {
                    Some(dir) if target.is_relative() => dir.join(&target),
                    _ => target,
                };
                match fs::symlink_metadata(&target) {
                    Err(_) => {
                        if path.starts_with(&auto) && fs::remove_file(&path).is_ok() {
                            notices(RootNotice::RemovedStaleLink { link: path, target });
                        }
                    }
                    Ok(m) if m.file_type().is_symlink() => {
                        if let Ok(target2) = fs::read_link(&target) {
                            let bytes = target2.as_os_str().as_bytes();
                            if scope.is_in_store(bytes) {
                                found(scope, &target, bytes, is_valid, roots, notices);
                            }
                        }
                    }
                    Ok(_) => {}
                }
            } else if ty.is_file() {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                if let Some(p) = name.and_then(|n| StorePath::from_base_name(&n).ok()) {
                    if is_valid(&p) {
                        roots
                            .entry(p)
                            .or_default()
                            .insert(path.display().to_string());
                    }
                }
            }
        }
    }
    Ok(())
}

/// Records `link` as a root for the store path `target` lies in, if that path is valid.
fn found(
    scope: &RootScope<'_>,
    link: &Path,
    target: &[u8],
    is_valid: &mut dyn FnMut(&StorePath) -> bool,
    roots: &mut Roots,
    notices: &mut dyn FnMut(RootNotice),
) {
    let Some(p) = scope.store_path_of(target) else {
        return;
    };
    if is_valid(&p) {
        roots
            .entry(p)
            .or_default()
            .insert(link.display().to_string());
    } else {
        notices(RootNotice::InvalidRoot {
            link: link.to_owned(),
            target: String::from_utf8_lossy(target).into_owned(),
        });
    }
}

/// Failures that make a potential root unreadable rather than the search fail (Nix's list).
fn ignorable(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc_errno::EACCES | libc_errno::ENOENT | libc_errno::ENOTDIR)
    )
}

/// The errno values the root search tolerates.
mod libc_errno {
    pub const ENOENT: i32 = rustix::io::Errno::NOENT.raw_os_error();
    pub const EACCES: i32 = rustix::io::Errno::ACCESS.raw_os_error();
    pub const ENOTDIR: i32 = rustix::io::Errno::NOTDIR.raw_os_error();
}

/// Adds the runtime roots: store paths live processes use, found through `/proc`.
/// Processes that vanish or cannot be inspected are skipped.
pub(crate) fn find_runtime_roots(
    scope: &RootScope<'_>,
    is_valid: &mut dyn FnMut(&StorePath) -> bool,
    censor: bool,
    roots: &mut Roots,
) {
    let Ok(procs) = fs::read_dir("/proc") else {
        return;
    };
    let mut found: BTreeMap<StorePath, BTreeSet<String>> = BTreeMap::new();
    let mut note = |target: &[u8], origin: &Path| {
        if let Some(p) = scope.store_path_of(target) {
            found
                .entry(p)
                .or_default()
                .insert(origin.display().to_string());
        }
    };
    for entry in procs.flatten() {
        let name = entry.file_name();
        if !name.as_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        let dir = entry.path();
        for link in ["exe", "cwd"] {
            let link = dir.join(link);
            if let Ok(t) = fs::read_link(&link) {
                note(t.as_os_str().as_bytes(), &link);
            }
        }
        let fd_dir = dir.join("fd");
        if let Ok(fds) = fs::read_dir(&fd_dir) {
            for fd in fds.flatten() {
                let link = fd.path();
                if let Ok(t) = fs::read_link(&link) {
                    note(t.as_os_str().as_bytes(), &link);
                }
            }
        }
        let maps = dir.join("maps");
        if let Ok(text) = fs::read(&maps) {
            for line in text.split(|&b| b == b'\n') {
                // address perms offset dev inode pathname
                let mut fields = line
                    .split(|b| b.is_ascii_whitespace())
                    .filter(|f| !f.is_empty());
                if let Some(path) = fields.nth(5) {
                    if path.first() == Some(&b'/') {
                        note(path, &maps);
                    }
                }
            }
        }
        let environ = dir.join("environ");
        if let Ok(env) = fs::read(&environ) {
            scan_for_store_paths(scope, &env, &mut |p| note(p, &environ));
        }
    }
    for (path, origins) in found {
        if !is_valid(&path) {
            continue;
        }
        let entry = roots.entry(path).or_default();
        if censor {
            entry.insert(CENSORED.to_owned());
        } else {
            entry.extend(origins);
        }
    }
}

/// Calls `found` with each `<store dir>/<hash>-<name>` in `bytes` (either store directory),
/// the name taken as far as store path characters go (Nix's regular expression).
fn scan_for_store_paths(scope: &RootScope<'_>, bytes: &[u8], found: &mut dyn FnMut(&[u8])) {
    for prefix in [
        scope.store_dir.as_bytes(),
        scope.real_store.as_os_str().as_bytes(),
    ] {
        if prefix.is_empty() {
            continue;
        }
        let mut from = 0;
        while let Some(at) = find(&bytes[from..], prefix) {
            let start = from + at;
            let mut end = start + prefix.len();
            if bytes.get(end) == Some(&b'/') {
                end += 1;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric() || b"+-._?=".contains(&bytes[end]))
                {
                    end += 1;
                }
                found(&bytes[start..end]);
            }
            from = start + prefix.len();
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The temporary roots read from `<state>/temproots`: the paths, and their hash parts (which
/// also protect a path's `.lock` and other files named after it while it is being made).
#[derive(Debug, Default)]
pub(crate) struct TempRootSet {
    pub roots: Roots,
    pub hashes: HashSet<String>,
}

/// Reads every live process's temporary roots and removes the files of dead processes.
pub(crate) fn read_temp_roots(
    dir: &Path,
    store_dir: &str,
    censor: bool,
    notices: &mut dyn FnMut(RootNotice),
) -> Result<TempRootSet, StoreError> {
    let mut res = TempRootSet::default();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(res),
        Err(e) => return Err(StoreError::io("reading directory", dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(StoreError::io("reading directory", dir))?;
        let name = entry.file_name();
        if name.as_bytes().first() == Some(&b'.') {
            continue;
        }
        let path = entry.path();
        let pid: String = name
            .to_string_lossy()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io("opening temporary roots file", &path)(e)),
        };
        if try_lock(&file, &path)? {
            // Its owner is gone. Mark it stale for anyone who opened it before the unlink.
            let _ = fs::remove_file(&path);
            let _ = file.write_all(b"d");
            notices(RootNotice::RemovedStaleTempRoots(path));
            continue;
        }
        let mut contents = Vec::new();
        file.read_to_end(&mut contents)
            .map_err(StoreError::io("reading temporary roots file", &path))?;
        for item in contents.split(|&b| b == 0) {
            // The last item is what follows the final NUL: empty, or a root being written.
            let Ok(text) = std::str::from_utf8(item) else {
                continue;
            };
            let Ok(p) = StorePath::from_absolute(store_dir, text) else {
                continue;
            };
            res.hashes.insert(p.hash_part().to_owned());
            let origin = if censor {
                CENSORED.to_owned()
            } else {
                format!("{{temp:{pid}}}")
            };
            res.roots.entry(p).or_default().insert(origin);
        }
    }
    Ok(res)
}

/// Opens (creating) `<state>/gc.lock`.
pub(crate) fn open_gc_lock(state_dir: &Path) -> Result<File, StoreError> {
    let path = state_dir.join("gc.lock");
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(StoreError::io("opening", &path))
}

/// This store's temporary roots file, created on first use and removed when dropped.
#[derive(Debug)]
pub(crate) struct TempRoots {
    state_dir: PathBuf,
    store_dir: String,
    inner: Mutex<TempRootsInner>,
}

#[derive(Debug, Default)]
struct TempRootsInner {
    file: Option<(File, PathBuf)>,
    gc_lock: Option<File>,
    added: HashSet<StorePath>,
}

impl TempRoots {
    pub(crate) fn new(state_dir: PathBuf, store_dir: String) -> Self {
        TempRoots {
            state_dir,
            store_dir,
            inner: Mutex::default(),
        }
    }

    /// Registers `path` as a temporary root; waits while a collection runs.
    pub(crate) fn add(&self, path: &StorePath) -> Result<(), StoreError> {
        // One registration at a time: the shared lock below is per open file, so two threads
        // sharing it must not release it under each other.
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.added.contains(path) {
            return Ok(());
        }
        if inner.file.is_none() {
            inner.file = Some(self.create_file()?);
        }
        if inner.gc_lock.is_none() {
            inner.gc_lock = Some(open_gc_lock(&self.state_dir)?);
        }
        let gc_lock_path = self.state_dir.join("gc.lock");
        let gc_lock = inner.gc_lock.as_ref().expect("opened above");
        lock(gc_lock, &gc_lock_path, false)?;
        let mut record = path.to_absolute(&self.store_dir).into_bytes();
        record.push(0);
        let (file, file_path) = inner.file.as_mut().expect("created above");
        let written = file
            .write_all(&record)
            .map_err(StoreError::io("writing", file_path));
        let gc_lock = inner.gc_lock.as_ref().expect("opened above");
        let _ = rustix::fs::flock(gc_lock, rustix::fs::FlockOperation::Unlock);
        written?;
        inner.added.insert(path.clone());
        Ok(())
    }

    /// Creates and locks a fresh `temproots/<pid>-<n>` file.
    fn create_file(&self) -> Result<(File, PathBuf), StoreError> {
        let dir = self.state_dir.join("temproots");
        fs::create_dir_all(&dir).map_err(StoreError::io("creating directory", &dir))?;
        loop {
            let path = dir.join(format!("{}-{:08x}", std::process::id(), fastrand::u32(..)));
            let file = match OpenOptions::new()
                .read(true)
                .append(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StoreError::io("creating", &path)(e)),
            };
            lock(&file, &path, true)?;
            let len = file
                .metadata()
                .map_err(StoreError::io("getting status of", &path))?
                .len();
            if len == 0 {
                return Ok((file, path));
            }
            // A collector took it for a dead process's file before we locked it; start over.
        }
    }
}

impl Drop for TempRoots {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some((_, path)) = &inner.file {
            let _ = fs::remove_file(path);
        }
    }
}

impl crate::LocalStore {
    /// Registers `link` (a symlink anywhere, such as `./result`) as an indirect root: the
    /// symlink `<state>/gcroots/auto/<nix32 SHA-1 of the link's path>` points to it, as Nix
    /// names it. The link must be absolute; it is not read here.
    pub fn add_indirect_root(&self, link: &Path) -> Result<(), StoreError> {
        add_indirect_root(self.location(), link)
    }

    /// Makes `link` a symlink to the valid path `path` and registers it as an indirect root
    /// (Nix's `addPermRoot`). The path is a temporary root first, so a collection running
    /// meanwhile cannot take it. An existing `link` is replaced only if it points into the
    /// store.
    pub fn add_perm_root(&self, path: &StorePath, link: &Path) -> Result<(), StoreError> {
        use crate::Store as _;
        self.add_temp_root(path)?;
        if !self.is_valid_path(path)? {
            return Err(StoreError::NotValid(path.to_absolute(self.store_dir())));
        }
        if let Ok(meta) = fs::symlink_metadata(link) {
            let into_store = meta.file_type().is_symlink()
                && fs::read_link(link).is_ok_and(|t| {
                    t.as_os_str()
                        .as_bytes()
                        .starts_with(format!("{}/", self.store_dir()).as_bytes())
                });
            if !into_store {
                return Err(StoreError::Io {
                    op: "creating symlink",
                    path: link.to_owned(),
                    source: io::Error::from(io::ErrorKind::AlreadyExists),
                });
            }
        }
        if let Some(dir) = link.parent() {
            fs::create_dir_all(dir).map_err(StoreError::io("creating directory", dir))?;
        }
        replace_symlink(Path::new(&path.to_absolute(self.store_dir())), link)?;
        let absolute = if link.is_absolute() {
            link.to_owned()
        } else {
            std::env::current_dir()
                .map_err(StoreError::io("getting the current directory", link))?
                .join(link)
        };
        self.add_indirect_root(&absolute)
    }
}

/// Registers `link` as an indirect root of the store at `location` without opening it (see
/// [`crate::LocalStore::add_indirect_root`]).
pub fn add_indirect_root(location: &crate::StoreLocation, link: &Path) -> Result<(), StoreError> {
    use kiln_formats::hash::{Hash, HashAlgo};
    let auto = location.state_dir().join("gcroots/auto");
    fs::create_dir_all(&auto).map_err(StoreError::io("creating directory", &auto))?;
    let name = Hash::digest_bytes(HashAlgo::Sha1, link.as_os_str().as_bytes()).to_nix32();
    replace_symlink(link, &auto.join(name))
}

/// Makes `link` a symlink to `target` atomically: a temporary symlink renamed over it, so the
/// old target stays rooted until the new one is.
pub fn replace_symlink(target: &Path, link: &Path) -> Result<(), StoreError> {
    let name = link
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = link.with_file_name(format!(
        ".{name}.tmp-{}-{:08x}",
        std::process::id(),
        fastrand::u32(..)
    ));
    std::os::unix::fs::symlink(target, &tmp).map_err(StoreError::io("creating symlink", &tmp))?;
    fs::rename(&tmp, link).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        StoreError::io("renaming symlink onto", link)(e)
    })
}

/// The collector's end of Nix's protocol for roots registered during a collection: Nix 2.8
/// processes that cannot take `gc.lock` shared connect to `<state>/gc-socket/socket`, send
/// each new temporary root as a line (its absolute path) and wait for the byte `1`. The
/// collector then treats the path as alive; one about to be deleted is acknowledged only
/// after its deletion, so the sender sees it invalid and makes it again. (Kiln's own
/// processes wait for the lock instead.)
///
/// A Nix 2.8 client that finds no socket file at all proceeds *without* registering (its
/// connect fails with `ENOENT`, which it ignores); one that finds a socket nobody listens on
/// retries until it can. So the socket file always exists: a collector creates a dead one
/// before taking the lock if there is none, installs its live one by renaming it over the old,
/// and leaves it behind, dead, when it ends.
pub(crate) struct RootServer {
    shared: std::sync::Arc<RootServerShared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub(crate) struct RootServerShared {
    state: Mutex<RootServerState>,
    changed: std::sync::Condvar,
    stop: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct RootServerState {
    /// Hash parts of the roots received.
    hashes: HashSet<String>,
    /// Hash parts of the paths being deleted right now.
    pending: HashSet<String>,
}

impl RootServer {
    /// Listens on `<state>/gc-socket/socket` until dropped.
    pub(crate) fn start(state_dir: &Path, store_dir: &str) -> Result<Self, StoreError> {
        use std::os::unix::fs::PermissionsExt;
        let (listener, tmp) = Self::bind_temporary(state_dir)?;
        let _ = fs::set_permissions(&tmp, fs::Permissions::from_mode(0o666));
        listener
            .set_nonblocking(true)
            .map_err(StoreError::io("listening on", &tmp))?;
        let socket = state_dir.join("gc-socket/socket");
        fs::rename(&tmp, &socket).map_err(StoreError::io("installing socket", &socket))?;
        let shared = std::sync::Arc::new(RootServerShared {
            state: Mutex::default(),
            changed: std::sync::Condvar::new(),
            stop: std::sync::atomic::AtomicBool::new(false),
        });
        let thread = {
            let shared = shared.clone();
            let store_dir = store_dir.to_owned();
            let temproots = state_dir.join("temproots");
            std::thread::spawn(move || accept_roots(listener, &shared, &store_dir, &temproots))
        };
        Ok(RootServer {
            shared,
            thread: Some(thread),
        })
    }

    /// Binds a socket under a temporary name in `<state>/gc-socket`.
    fn bind_temporary(
        state_dir: &Path,
    ) -> Result<(std::os::unix::net::UnixListener, PathBuf), StoreError> {
        let dir = state_dir.join("gc-socket");
        fs::create_dir_all(&dir).map_err(StoreError::io("creating directory", &dir))?;
        let tmp = dir.join(format!(
            "socket.tmp-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        let listener = std::os::unix::net::UnixListener::bind(&tmp)
            .map_err(StoreError::io("listening on", &tmp))?;
        Ok((listener, tmp))
    }

    /// Makes sure `<state>/gc-socket/socket` exists (a dead one when no collector runs).
    pub(crate) fn ensure_socket_file(state_dir: &Path) -> Result<(), StoreError> {
        let socket = state_dir.join("gc-socket/socket");
        if fs::symlink_metadata(&socket).is_ok() {
            return Ok(());
        }
        let (listener, tmp) = Self::bind_temporary(state_dir)?;
        drop(listener);
        // Another collector may have installed its live socket meanwhile: keep that one.
        if fs::symlink_metadata(&socket).is_ok() || fs::hard_link(&tmp, &socket).is_err() {
            let _ = fs::remove_file(&tmp);
            return Ok(());
        }
        let _ = fs::remove_file(&tmp);
        Ok(())
    }

    /// Claims the paths with hash parts `hashes` for deletion: returns, for each, whether it
    /// may be deleted (no client registered it), and marks those as pending until
    /// [`RootServer::done`], so a client registering one meanwhile waits for the deletion.
    pub(crate) fn claim<'a>(&self, hashes: impl Iterator<Item = &'a str>) -> Vec<bool> {
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut res = Vec::new();
        for h in hashes {
            let free = !st.hashes.contains(h);
            if free {
                st.pending.insert(h.to_owned());
            }
            res.push(free);
        }
        res
    }

    /// Ends the deletions of the paths with hash parts `hashes` (claimed before); clients
    /// waiting for one of them are acknowledged.
    pub(crate) fn release<'a>(&self, hashes: impl Iterator<Item = &'a str>) {
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        for h in hashes {
            st.pending.remove(h);
        }
        self.shared.changed.notify_all();
    }

    /// Ends the deletions [`RootServer::claim`] started; waiting clients are acknowledged.
    pub(crate) fn done(&self) {
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        st.pending.clear();
        self.shared.changed.notify_all();
    }
}

impl Drop for RootServer {
    fn drop(&mut self) {
        self.done();
        self.shared
            .stop
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // The socket file stays, dead: see the type's documentation.
    }
}

fn accept_roots(
    listener: std::os::unix::net::UnixListener,
    shared: &std::sync::Arc<RootServerShared>,
    store_dir: &str,
    temproots: &Path,
) {
    use std::sync::atomic::Ordering;
    let mut clients = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = shared.clone();
                let store_dir = store_dir.to_owned();
                let temproots = temproots.to_owned();
                clients.push(std::thread::spawn(move || {
                    serve_client(stream, &shared, &store_dir, &temproots)
                }));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(2)),
        }
    }
    for c in clients {
        let _ = c.join();
    }
}

fn serve_client(
    stream: std::os::unix::net::UnixStream,
    shared: &RootServerShared,
    store_dir: &str,
    temproots: &Path,
) {
    use std::io::BufRead as _;
    use std::sync::atomic::Ordering;
    // The client's own temporary roots file, `temproots/<pid>` (Nix's name).
    let client_file = rustix::net::sockopt::socket_peercred(&stream)
        .ok()
        .map(|cred| temproots.join(cred.pid.as_raw_nonzero().to_string()));
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(20)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = io::BufReader::new(stream);
    let mut line = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(_) if line.last() == Some(&b'\n') => {
                let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                line.clear();
                let Ok(path) = StorePath::from_absolute(store_dir, &text) else {
                    // Not a root: drop the client, as Nix does.
                    return;
                };
                let hash = path.hash_part().to_owned();
                let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
                st.hashes.insert(hash.clone());
                while st.pending.contains(&hash) {
                    st = shared.changed.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                drop(st);
                // The client appends the root to its file once acknowledged; a collection
                // that starts before it does would miss it. So the root is appended here
                // first: the client's own write lands at its file offset, which is where this
                // one went, and writes the same bytes.
                if let Some(f) = &client_file {
                    if let Ok(mut file) = OpenOptions::new().append(true).open(f) {
                        let mut record = text.into_bytes();
                        record.push(0);
                        let _ = file.write_all(&record);
                    }
                }
                if writer.write_all(b"1").is_err() {
                    return;
                }
            }
            Ok(_) => {} // A partial line: read on.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}
