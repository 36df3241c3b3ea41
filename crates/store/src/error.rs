//! The store's error type.

use std::io;
use std::path::PathBuf;

use kiln_formats::nar::NarError;
use kiln_formats::store_path::StorePathError;

/// Why a store operation failed. Each variant names the path or operation it concerns; the
/// underlying cause, if any, is the `source` (so callers print the chain, not this message twice).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file system operation on `path` failed.
    #[error("{op} '{path}'")]
    Io {
        /// What was being done ("creating directory", "locking", …).
        op: &'static str,
        /// The physical path it was done to.
        path: PathBuf,
        /// The system error.
        source: io::Error,
    },
    /// Reading or writing a NAR failed (the NAR error names the file or byte offset).
    #[error("{op} '{path}'")]
    Nar {
        /// What was being done ("adding", "importing", "hashing" …).
        op: &'static str,
        /// The source or destination it concerns.
        path: PathBuf,
        /// The archive error.
        source: NarError,
    },
    /// The SQLite database refused an operation.
    #[error("{op} in the store database '{db}'")]
    Db {
        /// What was being done ("querying path info", "registering paths" …).
        op: &'static str,
        /// The database file.
        db: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The database holds a value Kiln cannot parse.
    #[error("the store database has a malformed {what} '{value}'")]
    Corrupt {
        /// Which column or field ("path", "narHash", "ca" …).
        what: &'static str,
        /// The offending value.
        value: String,
    },
    /// The database's schema version (the `schema` file) is one Kiln does not know.
    #[error("the store database '{path}' has schema version '{found}', but Kiln supports only {supported}")]
    UnsupportedSchema {
        /// The `schema` file.
        path: PathBuf,
        /// What it says.
        found: String,
        /// The version Kiln reads and writes.
        supported: u32,
    },
    /// A name or path is not a valid store path (name).
    #[error("invalid store path")]
    BadPath(#[from] StorePathError),
    /// The path is not valid in this store.
    #[error("path '{0}' is not valid")]
    NotValid(String),
    /// A path was registered with a reference that is neither valid nor registered with it.
    #[error("cannot register '{path}': its reference '{reference}' is not valid")]
    MissingReference {
        /// The path being registered.
        path: String,
        /// The reference that is not valid.
        reference: String,
    },
    /// Imported contents do not match the hash or size they were announced with.
    #[error("contents of '{path}' do not match: expected NAR hash {expected} and size {expected_size}, got {actual} and {actual_size}")]
    HashMismatch {
        /// The store path being imported.
        path: String,
        /// The announced NAR hash.
        expected: String,
        /// The NAR hash of the contents received.
        actual: String,
        /// The announced NAR size.
        expected_size: u64,
        /// The size of the contents received.
        actual_size: u64,
    },
    /// A flat (non-recursive) add was given something other than a regular file.
    #[error("'{0}' is not a regular file, so it cannot be added flat")]
    NotRegularFile(PathBuf),
    /// A file system object has a type the store cannot hold (fifo, socket, device).
    #[error("'{path}' is a {kind}, which a store path cannot contain")]
    UnsupportedType {
        /// The object.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// A `.drv` being added does not parse as a derivation.
    #[error("cannot add derivation '{path}'")]
    BadDerivation {
        /// The store path it was to get.
        path: String,
        /// Why it does not parse.
        source: kiln_formats::derivation::ParseError,
    },
    /// An export stream could not be read or written (the error says where).
    #[error(transparent)]
    Export(#[from] crate::ExportError),
    /// A path cannot be deleted because a path outside the deleted set refers to it.
    #[error("cannot delete '{path}': it is still referenced by '{referrer}'")]
    StillReferenced {
        /// The path that was to be deleted.
        path: String,
        /// A valid path referring to it.
        referrer: String,
    },
}

impl StoreError {
    /// Returns a closure that wraps an `io::Error` about `path` with what was being done.
    pub(crate) fn io<'a>(
        op: &'static str,
        path: &'a std::path::Path,
    ) -> impl FnOnce(io::Error) -> StoreError + 'a {
        move |source| StoreError::Io {
            op,
            path: path.to_owned(),
            source,
        }
    }
}
