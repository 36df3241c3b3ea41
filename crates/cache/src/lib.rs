//! Binary caches: store objects shared between machines as Nix shares them, compatible both
//! ways with Nix's caches.
//!
//! A cache is a tree of files (the Nix manual, "Binary Cache" protocol): `nix-cache-info`
//! (`StoreDir`, `WantMassQuery`, `Priority`), one `<hash part>.narinfo` per store object
//! (`kiln_formats::narinfo`: NAR hash and size, references, signatures, where the NAR is) and
//! the NARs themselves under `nar/`, named by the hash of the compressed file
//! (`nar/<file hash>.nar.xz`), so a file's name says what it holds and an upload can never
//! overwrite a NAR with different bytes.
//!
//! * [`BinaryCache`]: one cache, by URL (`file:///dir`, `http://host/path`,
//!   `s3://bucket?endpoint=…&region=…`, with Nix's `?compression=…&priority=…` parameters);
//!   query a narinfo, read a NAR decompressed.
//! * [`copy_to`]: upload a closure, references first and each narinfo after its NAR, so a
//!   cache never names a NAR that is not there or a reference it lacks. What the cache already
//!   has is skipped.
//! * [`Substituters`]: the `substituters` of a store, in priority order, with
//!   `trusted-public-keys` and `require-sigs`: which wanted paths some cache has, then the
//!   download of a closure, several NARs at once, each one checked against its narinfo's
//!   `NarHash` and `NarSize` by the store as it unpacks (`Store::add_nar`), so a truncated,
//!   corrupt or unsigned download registers nothing.

mod cache;
mod compression;
mod disk;
mod s3;
mod substitute;
mod transport;
mod upload;

use std::path::PathBuf;

pub use cache::BinaryCache;
pub use compression::Compression;
pub use disk::LookupCache;
pub use s3::S3Credentials;
pub use substitute::{Plan, SubstEvent, Substitutable, Substituters};
pub use upload::{copy_to, read_secret_key, CopyEvent, UploadOptions, Uploaded};

/// How caches are reached.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// How long to wait for a connection, and for a response to begin (`connect-timeout`).
    pub timeout: std::time::Duration,
    /// How long a download may receive nothing before it is given up
    /// (`stalled-download-timeout`).
    pub stall_timeout: std::time::Duration,
    /// Credentials for `s3://` caches (`None`: unsigned requests).
    pub s3_credentials: Option<S3Credentials>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            timeout: std::time::Duration::from_secs(10),
            stall_timeout: std::time::Duration::from_secs(300),
            s3_credentials: None,
        }
    }
}

/// What can go wrong with a binary cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The URL is not one of a binary cache.
    #[error("'{url}' is not a binary cache URL: {why}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        why: String,
    },
    /// The cache has no `nix-cache-info`.
    #[error("'{0}' does not appear to be a binary cache (it has no nix-cache-info)")]
    NotACache(String),
    /// The cache holds paths of another store directory.
    #[error("binary cache '{url}' is for store directory '{theirs}', not '{ours}'")]
    WrongStoreDir {
        /// The cache.
        url: String,
        /// Its `StoreDir`.
        theirs: String,
        /// Ours.
        ours: String,
    },
    /// A download or upload failed.
    #[error("transferring '{url}': {why}")]
    Transfer {
        /// The file's URL.
        url: String,
        /// Why.
        why: String,
    },
    /// A cache file does not parse or does not match what it should.
    #[error("'{url}' is corrupt: {why}")]
    Corrupt {
        /// The file's URL.
        url: String,
        /// Why.
        why: String,
    },
    /// A local file operation failed.
    #[error("{what} '{}': {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A narinfo's signatures are not good enough under `require-sigs`.
    #[error("'{path}' from '{url}' is not signed by a trusted key (trusted-public-keys), so it is refused")]
    Untrusted {
        /// The store path.
        path: String,
        /// The cache.
        url: String,
    },
    /// No cache has a path a closure needs.
    #[error("no binary cache has '{0}'")]
    NotFound(String),
    /// The store's file system filled up while a substituted NAR was unpacked or registered;
    /// what was unpacked of it is removed and nothing of it is registered.
    #[error(
        "no space left on the device of the store to unpack '{path}' ({nar_size} bytes \
         unpacked); nothing of it was registered ({why})"
    )]
    NoSpace {
        /// The store path.
        path: String,
        /// Its unpacked size.
        nar_size: u64,
        /// The operating system's (or SQLite's) words for it.
        why: String,
    },
    /// The store refused an operation (a NAR that does not match its narinfo…).
    #[error(transparent)]
    Store(#[from] kiln_store::StoreError),
}
