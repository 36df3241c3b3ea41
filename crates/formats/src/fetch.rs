//! The fetch protocol between the evaluator's fetcher builtins and the fetchers.
//!
//! `builtins.fetchurl`, `fetchTarball`, `fetchGit` and `fetchTree` check and default their
//! arguments as Nix does and describe the work as a [`FetchRequest`]; a fetcher (`kiln-fetch`)
//! downloads, unpacks or exports, adds the result to a store and answers with [`Fetched`]. A
//! [`HashMismatch`] travels back inside an `io::Error` so each builtin can word it as Nix does.
//! The types are plain data, shared here so that neither side depends on the other.

use std::path::PathBuf;

use crate::hash::Hash;
use crate::store_path::StorePath;

/// What a fetcher builtin asks for (`fetchurl`, `fetchTarball`, `fetchGit`, `fetchTree`).
///
/// The builtin has already checked and defaulted the arguments as Nix does; the implementation
/// downloads, unpacks or exports, adds the result to the store and caches what it learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchRequest {
    /// A file downloaded from `url` (http, https or file), stored flat (`fetchurl`,
    /// `fetchTree { type = "file"; }`), or unpacked and stored recursively (`fetchTarball`,
    /// `fetchTree { type = "tarball"; }`).
    Url {
        /// The URL.
        url: String,
        /// The store path's name.
        name: String,
        /// Unpack the file as an archive (a single top-level directory is stripped).
        unpack: bool,
        /// Store a file that is not unpacked recursively (as `fetchTree { type = "file"; }`
        /// does) rather than flat; unpacked trees are always recursive.
        recursive: bool,
        /// The expected hash: of the file (flat) or of the unpacked tree's NAR. With one, a
        /// valid expected path is returned without any download.
        expected: Option<Hash>,
    },
    /// A Git repository: a local one (a path or `file://`) or a remote one, through `git`.
    Git {
        /// The repository's URL or absolute path.
        url: String,
        /// The store path's name.
        name: String,
        /// The branch or tag (`ref`), `None` for the remote's `HEAD` or, for a local
        /// repository without `rev`, its working tree.
        git_ref: Option<String>,
        /// The commit (40 hex digits).
        rev: Option<String>,
        /// Whether to check out submodules too.
        submodules: bool,
        /// Whether a shallow fetch suffices (`revCount` is then 0).
        shallow: bool,
        /// Whether to fetch every ref, so that any reachable `rev` can be found.
        all_refs: bool,
        /// The expected NAR hash (`fetchTree`'s `narHash`).
        nar_hash: Option<Hash>,
    },
    /// A local path copied as a source (`fetchTree { type = "path"; }`).
    Path {
        /// The absolute path.
        path: PathBuf,
        /// The store path's name.
        name: String,
        /// The expected NAR hash.
        nar_hash: Option<Hash>,
    },
}

/// What a fetch produced: the store path and the attributes Nix reports about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The store path.
    pub path: StorePath,
    /// The SHA-256 hash of the path's NAR serialisation.
    pub nar_hash: Hash,
    /// The time of the newest file (tarballs, paths) or of the commit (Git), in seconds.
    pub last_modified: Option<i64>,
    /// Git only: the commit, `None` for a dirty working tree.
    pub rev: Option<String>,
    /// Git only: for a dirty working tree, the `HEAD` commit (or zeros) followed by `-dirty`.
    pub dirty_rev: Option<String>,
    /// Git only: the number of commits reachable from `rev` (0 for a shallow fetch).
    pub rev_count: Option<u64>,
}

/// A fetched file or tree whose hash is not the one asked for: the error inside the
/// `io::Error` that [`EvalIo::fetch`] returns then, so that a caller can word it its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashMismatch {
    /// The URL (or repository) fetched.
    pub url: String,
    /// The hash asked for.
    pub expected: Hash,
    /// The hash of what was fetched, in the same algorithm.
    pub got: Hash,
}

impl std::fmt::Display for HashMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "hash mismatch in file downloaded from '{}':\n  specified: {}\n  got:       {}",
            self.url,
            self.expected.encode(crate::hash::Encoding::Nix32, true),
            self.got.encode(crate::hash::Encoding::Nix32, true),
        )
    }
}

impl std::error::Error for HashMismatch {}
