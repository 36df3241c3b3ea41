//! The Nix store: the [`Store`] trait and [`LocalStore`], a store on the local file system.
//!
//! A store holds *store objects* (file trees at store paths such as
//! `/nix/store/<hash>-<name>`) and a record of which are *valid*: complete, immutable, with a
//! known NAR hash and references. The principal types:
//!
//! * [`Store`]: the small core every store implements (query, add, closure). Capabilities only
//!   some stores have (deleting, optimising, verifying) are inherent methods of the
//!   implementation for now and become capability traits when a second store needs them.
//! * [`LocalStore`]: the store of a [`StoreLocation`]: files under `<root><store dir>`, state
//!   (the database) under `<root>/nix/var/nix`, exactly Nix's layout, so Nix 2.8 opens a Kiln
//!   store with `--store local?root=<root>` and Kiln opens one Nix wrote.
//! * [`PathInfo`]: what the store knows about a valid path.
//! * [`RefScanner`]: finds which candidate paths a byte stream refers to.
//! * [`LocalStore::export_paths`] and [`LocalStore::import_paths`]: Nix's export format
//!   (`nix-store --export`/`--import`), both streaming; [`ExportReader`] reads the format
//!   without a store (the `export_reader` fuzz target drives it).
//! * [`LocalStore::collect_garbage`] with [`GcOptions`]: garbage collection from the roots
//!   [`LocalStore::find_roots`] finds (permanent, runtime, temporary); [`profile`]: profiles
//!   and their generations.
//!
//! Key decisions:
//!
//! * **Nix's database schema, unchanged** (`ValidPaths`, `Refs`, `DerivationOutputs`, schema
//!   version 10 as Nix 2.8 writes it), in SQLite's WAL mode. Kiln refuses other schema versions
//!   rather than migrating them.
//! * **A path becomes valid only after its contents are complete and canonical.** Every add
//!   writes into a private temporary directory under `<store>/.kiln-tmp/`, brings the copy into
//!   canonical form as it writes it (see [`canonicalise`]), computes the NAR hash and size (and
//!   scans references) in the same pass, then, holding the path's lock, renames it into place
//!   and registers it in one SQLite transaction. A killed process leaves at worst a temporary
//!   directory (removed by the next [`LocalStore::open`]: each is `flock`ed by its creator
//!   while in use) or an unregistered path (removed by the next add of that path, under its
//!   lock).
//! * **Locks Nix understands**: `<path>.lock` files with `flock` for each path (Nix's
//!   protocol, stale-file marker included) and a shared lock on `db/big-lock`.
//! * **Deleting invalidates first**: the database forgets a path (after checking, in the same
//!   transaction, that nothing outside the deleted set refers to it) before any file goes, so a
//!   crash never leaves a valid path without contents.
//! * **Optimising shares Nix's `.links` directory**: files are named by the SHA-256 of their
//!   NAR serialisation in nix32 (so an executable and a plain file with the same bytes stay
//!   apart), and replaced by hard links with an atomic rename.
//! * **A path a live process adds is never collected**: every add registers its path as a
//!   temporary root ([`LocalStore::add_temp_root`]) before checking or writing it, under
//!   `gc.lock` shared, which a collection holds exclusively; Nix 2.8 processes reach a running
//!   Kiln collection through its `gc-socket`. A collection loads the whole reference graph
//!   once and invalidates dead paths in batched transactions before deleting their files.
//! * No `fsync`: like Nix's default, a crash of the *process* is safe at any point; a power
//!   loss is SQLite's and the file system's business.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;

use kiln_formats::hash::{Hash, HashAlgo};
use kiln_formats::narinfo::ContentAddress;
use kiln_formats::store_path::{FileIngestionMethod, StorePath};

mod canon;
mod db;
mod error;
mod export;
mod gc;
mod ingest;
mod local;
mod lock;
pub mod profile;
mod roots;
mod scan;

pub use canon::{canonicalise, remove_tree, CANONICAL_MTIME};
pub use db::SCHEMA_VERSION;
pub use error::StoreError;
pub use export::{EntryNar, ExportEntry, ExportError, ExportReader, EXPORT_MAGIC};
pub use gc::{DeleteOptions, DeleteOutcome, GcAction, GcEvent, GcOptions, GcResults};
pub use ingest::{scan_references, summarise, TreeSummary};
pub use local::{DeleteResult, LocalStore, OptimiseStats, StoreLocation, TempDir, VerifyProblem};
pub use lock::PathLock;
pub use roots::{add_indirect_root, replace_symlink, RootNotice, Roots, CENSORED};
pub use scan::RefScanner;

/// What a store knows about a valid path (a row of Nix's `ValidPaths` and its references).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    /// The path.
    pub path: StorePath,
    /// The SHA-256 of the path's NAR serialisation.
    pub nar_hash: Hash,
    /// The size of the NAR serialisation in bytes.
    pub nar_size: u64,
    /// The paths whose hash parts occur in the contents (itself included, if it does).
    pub references: BTreeSet<StorePath>,
    /// The derivation that built it, if known.
    pub deriver: Option<StorePath>,
    /// How its path follows from its contents, for content-addressed paths.
    pub ca: Option<ContentAddress>,
    /// Signatures (`keyname:base64`).
    pub sigs: BTreeSet<String>,
    /// When it became valid, in seconds since the epoch.
    pub registration_time: i64,
    /// Whether it was built locally (so trusted without signatures).
    pub ultimate: bool,
}

/// A Nix store: queries, adds and closures. Object safe, so callers may hold a `&dyn Store`.
pub trait Store {
    /// The logical store directory, such as `/nix/store`.
    fn store_dir(&self) -> &str;

    /// Returns what is known about `path`, or `None` when it is not valid.
    fn query_path_info(&self, path: &StorePath) -> Result<Option<PathInfo>, StoreError>;

    /// Whether `path` is valid.
    fn is_valid_path(&self, path: &StorePath) -> Result<bool, StoreError> {
        Ok(self.query_path_info(path)?.is_some())
    }

    /// Returns the paths `path` refers to; fails when it is not valid.
    fn query_references(&self, path: &StorePath) -> Result<BTreeSet<StorePath>, StoreError> {
        match self.query_path_info(path)? {
            Some(info) => Ok(info.references),
            None => Err(StoreError::NotValid(path.to_absolute(self.store_dir()))),
        }
    }

    /// Returns the valid paths that refer to `path`.
    fn query_referrers(&self, path: &StorePath) -> Result<BTreeSet<StorePath>, StoreError>;

    /// Adds the file or tree at `src` as a content-addressed path named `name`: by its NAR
    /// (`Recursive`) or, for a regular file, its contents (`Flat`), hashed with `algo`. With
    /// `Recursive` and SHA-256 this is `nix-store --add`; otherwise `nix-store --add-fixed`.
    /// Adding what is already valid changes nothing and returns its info.
    fn add_path(
        &self,
        name: &str,
        src: &Path,
        method: FileIngestionMethod,
        algo: HashAlgo,
    ) -> Result<PathInfo, StoreError>;

    /// Adds a text file with the given references (`builtins.toFile`, `.drv` files).
    fn add_text(
        &self,
        name: &str,
        text: &[u8],
        references: &BTreeSet<StorePath>,
    ) -> Result<PathInfo, StoreError>;

    /// Adds the object whose NAR is read from `nar`, as `info` describes it (a copy from
    /// another store). The contents must match `info`'s NAR hash and size. When the path is
    /// already valid nothing is read.
    fn add_nar(&self, info: &PathInfo, nar: &mut dyn Read) -> Result<(), StoreError>;

    /// Writes the NAR serialisation of a valid path to `out`.
    fn dump_path(&self, path: &StorePath, out: &mut dyn Write) -> Result<(), StoreError>;

    /// Returns the closure of `paths`: them and everything they refer to, transitively.
    fn closure(&self, paths: &BTreeSet<StorePath>) -> Result<BTreeSet<StorePath>, StoreError> {
        let mut res = BTreeSet::new();
        let mut todo: Vec<StorePath> = paths.iter().cloned().collect();
        while let Some(p) = todo.pop() {
            if res.contains(&p) {
                continue;
            }
            for r in self.query_references(&p)? {
                if !res.contains(&r) {
                    todo.push(r);
                }
            }
            res.insert(p);
        }
        Ok(res)
    }
}

/// Sorts `paths` so that each comes before the paths it refers to (references outside the
/// set are ignored), the order Nix's `topoSortPaths` gives: a depth-first walk in path order.
/// Fails on a reference cycle only by ignoring the back edge, as paths cannot form one.
pub fn topo_sort(
    store: &dyn Store,
    paths: &BTreeSet<StorePath>,
) -> Result<Vec<StorePath>, StoreError> {
    let mut sorted = Vec::with_capacity(paths.len());
    let mut visited = BTreeSet::new();
    for start in paths {
        if visited.contains(start) {
            continue;
        }
        // Iterative post-order: (path, its references still to visit).
        visited.insert(start.clone());
        let refs: Vec<StorePath> = store.query_references(start)?.into_iter().collect();
        let mut stack = vec![(start.clone(), refs, 0usize)];
        while let Some((path, refs, next)) = stack.last_mut() {
            if *next == refs.len() {
                sorted.push(path.clone());
                stack.pop();
                continue;
            }
            let r = refs[*next].clone();
            *next += 1;
            if r == *path || !paths.contains(&r) || !visited.insert(r.clone()) {
                continue;
            }
            let rrefs: Vec<StorePath> = store.query_references(&r)?.into_iter().collect();
            stack.push((r, rrefs, 0));
        }
    }
    sorted.reverse();
    Ok(sorted)
}
