//! What can go wrong in the OS layer.

use std::path::PathBuf;

/// A build's failure as the caller's realiser reports it.
pub type RealiseFailure = kiln_profile::RealiseFailure;

/// Why an OS operation failed. Every variant names what it was working on.
#[derive(Debug, thiserror::Error)]
pub enum OsError {
    /// A file system operation failed.
    #[error("{action} '{}'", path.display())]
    Io {
        /// What was being done ("reading link", "writing", …).
        action: &'static str,
        /// On what (a physical path).
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A store operation failed.
    #[error(transparent)]
    Store(Box<kiln_store::StoreError>),
    /// A generation operation failed.
    #[error(transparent)]
    Profile(Box<kiln_store::profile::ProfileError>),
    /// The evaluation of the configuration failed (rendered with its source map).
    #[error(transparent)]
    Session(Box<kiln_session::SessionError>),
    /// The caller's realiser failed to build the toplevel.
    #[error(transparent)]
    Realise(RealiseFailure),
    /// The configuration evaluated to something other than one derivation.
    #[error("the configuration's toplevel is {count} derivations, expected one")]
    NotOneDerivation {
        /// How many were found.
        count: usize,
    },
    /// The realiser returned no `out` path (a dry run).
    #[error("the toplevel was not built")]
    NotBuilt,
    /// No configuration was named.
    #[error("no configuration given: use --file FILE or -I nixos-config=FILE")]
    NoConfiguration,
    /// A store path is not a system toplevel (no `kiln-system.json`).
    #[error("'{path}' is not a system toplevel (it has no kiln-system.json)")]
    NotAToplevel {
        /// The logical path.
        path: String,
    },
    /// `kiln-system.json` could not be parsed.
    #[error("reading '{}'", path.display())]
    BadSystemJson {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// `kiln-system.json` has a version this Kiln does not read.
    #[error("'{}' has version {version}; this Kiln reads version 1", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        version: u64,
    },
    /// A user's primary group or an extra group is not defined.
    #[error("user '{user}' is in group '{group}', which is not defined")]
    UnknownGroup {
        /// The user.
        user: String,
        /// The group.
        group: String,
    },
    /// No free id is left in a range.
    #[error("no free {kind} id is left for '{name}'")]
    IdsExhausted {
        /// `user` or `group`.
        kind: &'static str,
        /// The user or group.
        name: String,
    },
    /// A line of an id map (`/var/lib/kiln/uid-map`) is not `NAME:ID`.
    #[error("'{}' line {line}: expected NAME:ID", path.display())]
    BadIdMap {
        /// The file.
        path: PathBuf,
        /// The line number (1-based).
        line: usize,
    },
    /// A tmpfiles line could not be used.
    #[error("tmpfiles line '{line}': {reason}")]
    BadTmpfiles {
        /// The line.
        line: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A path in the configuration would leave the root (`..`) or is not absolute.
    #[error("'{path}' is not an absolute path inside the root")]
    UnsafePath {
        /// The path.
        path: String,
    },
    /// The profile has no generation (nothing to roll back, diff or activate).
    #[error("the system profile has no generation")]
    NoGeneration,
    /// The requested generation does not exist.
    #[error("system generation {0} does not exist")]
    NoSuchGeneration(u64),
    /// A rollback found no older generation.
    #[error("there is no system generation older than the current ({0})")]
    NoOlderGeneration(u64),
    /// A generation specifier that is not a number, `old`, `Nd` or `+N`.
    #[error("invalid generation specifier '{0}'")]
    BadGenerationSpec(String),
    /// The journal of an interrupted switch cannot be read.
    #[error("reading the switch journal '{}'", path.display())]
    BadJournal {
        /// The journal.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// `systemctl` failed while the unit plan was executed.
    #[error("systemctl {verb} {unit} failed with {status}")]
    Systemctl {
        /// `start`, `stop`, …
        verb: &'static str,
        /// The unit.
        unit: String,
        /// Its exit status.
        status: std::process::ExitStatus,
    },
    /// The toplevel's `activate` could not be started inside the root.
    #[error("cannot run the activation script of '{toplevel}' inside the root (it needs root, or user namespaces)")]
    ActivationScript {
        /// The toplevel.
        toplevel: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An activation step failed; `/etc` was restored to the previous generation's.
    #[error("activating '{toplevel}' failed ({step}); /etc was restored")]
    Activation {
        /// The toplevel being activated.
        toplevel: String,
        /// The step that failed.
        step: &'static str,
        /// Why.
        #[source]
        source: Box<OsError>,
    },
}

impl From<kiln_store::StoreError> for OsError {
    fn from(e: kiln_store::StoreError) -> Self {
        OsError::Store(Box::new(e))
    }
}

impl From<kiln_store::profile::ProfileError> for OsError {
    fn from(e: kiln_store::profile::ProfileError) -> Self {
        OsError::Profile(Box::new(e))
    }
}

impl From<kiln_session::SessionError> for OsError {
    fn from(e: kiln_session::SessionError) -> Self {
        OsError::Session(Box::new(e))
    }
}

/// A closure turning an `io::Error` into [`OsError::Io`].
pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> OsError {
    let path = path.into();
    move |source| OsError::Io {
        action,
        path,
        source,
    }
}
