//! Flakes: `flake.nix` with `description`, `inputs` and `outputs`; flake references
//! ([`flakeref`]); `flake.lock` version 7 byte for byte as current Nix writes it
//! ([`lockfile`], [`json`]); locking and updating inputs ([`lock`]) fetched through
//! `kiln-fetch` ([`source`]); and calling `outputs` with `self` and the inputs as current Nix
//! does ([`session`]: `outPath`, `sourceInfo`, `narHash`, `lastModified`,
//! `lastModifiedDate`, `rev`, `revCount`, `shortRev`, `_type = "flake"`, `inputs`,
//! `outputs`).
//!
//! Unlike Nix, a local top-level flake is not copied into the store before it is evaluated:
//! its NAR hash gives the store path Nix would copy it to, the evaluation reads the files in
//! place ([`lazy`]), and the tree is added to the store only when a store object refers to it
//! (a derivation that interpolates `self`). The lock file and `narHash` are Nix's.
//!
//! Spec: the Nix manual's `nix flake` page (flake references, the `flake.nix` schema, the lock
//! file format), and the behaviour of CppNix 2.26 on the same flakes (compared in
//! `crates/cli/tests/cli/flake.rs`).

pub mod flakeref;
pub mod json;
pub mod lazy;
pub mod lock;
pub mod lockfile;
pub mod session;
pub mod source;

pub use flakeref::FlakeRef;
pub use lock::{Change, FlakeDecl, InputDecl, Update};
pub use lockfile::{LockFile, LockedInput, Node};
pub use session::{parse_installable, with_flake, Loaded, Options};
pub use source::SourceInfo;

use std::path::PathBuf;

/// What can go wrong with a flake.
#[derive(Debug, thiserror::Error)]
pub enum FlakeError {
    /// A flake reference that cannot be parsed or is not supported.
    #[error("invalid flake reference '{url}': {reason}")]
    BadRef {
        /// The reference as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// A `flake.lock` that cannot be read.
    #[error("invalid flake.lock: {0}")]
    BadLock(String),
    /// A `flake.nix` whose declarations Kiln cannot use.
    #[error("in flake {what}: {reason}")]
    BadFlake {
        /// The flake or input.
        what: String,
        /// Why.
        reason: String,
    },
    /// An input path that names no input.
    #[error("the flake has no input '{path}'")]
    NoSuchInput {
        /// The path (`dep/nixpkgs`).
        path: String,
    },
    /// A fetch failed.
    #[error("{0}")]
    Fetch(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
