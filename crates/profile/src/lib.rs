//! Profiles and user environments: the engine behind `kiln profile` and `nix-env`.
//!
//! A profile's generation is a *user environment*: a `builtin:buildenv` derivation
//! (`crates/realise/src/builtin_buildenv.rs`) whose output links the installed packages' files
//! and holds `manifest.nix`, a Nix list with one attribute set per installed package (`name`,
//! `outPath`, `outputs` and each output's `outPath`, `system`, `meta`, `type`), byte for byte
//! as Nix 2.8 writes it (so the environment's derivation is Nix's too). The manifest is added
//! to the store as a text file that refers to the packages, so an installed package lives as
//! long as a generation that has it.
//!
//! * [`ProfileEnv`]: a profile in a store. [`ProfileEnv::installed`] reads the current
//!   manifest ([`manifest`]: evaluated, then walked as a value), [`ProfileEnv::available`]
//!   the packages a file offers (`kiln_session::packages`); [`ProfileEnv::install`],
//!   [`ProfileEnv::remove`], [`ProfileEnv::upgrade`] and [`ProfileEnv::set_flag`] change the
//!   installed list and switch to a new generation; generations are listed, switched, rolled
//!   back, deleted and compared ([`GenerationDiff`], [`ClosureDiff`]).
//! * [`Element`]: one installed or installable package; [`manifest_text`] prints a list of
//!   them as `manifest.nix`.
//! * The caller supplies the builds ([`Realiser`], so the CLI keeps its progress display) and
//!   hears what happens ([`ProfileObserver`] receives [`ProfileEvent`]s); this crate prints
//!   nothing.
//!
//! A change reads the current manifest, computes the new list, builds the packages and the new
//! environment, then makes it a new generation (`kiln_store::profile`: a finished `P-N-link`,
//! then `P` swapped by one rename), so a process killed at any moment leaves the old or the new
//! generation current. Changes are optimistic: the switch happens under `P.modify.lock` only if
//! `P` still points where it did when the change began; otherwise the change starts over.
//! Everything goes through the store at a root, including reading manifests (physical paths),
//! so profiles work in `--store DIR`.

mod defexpr;
mod diff;
mod element;
mod env;
pub mod manifest;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use diff::{
    ClosureDiff, ClosureSize, ClosureSummary, GenerationDiff, PackageChange, VersionChange,
};
pub use element::{manifest_text, select_by_name, Element};
pub use env::{default_profile, ProfileEnv};
pub use kiln_session::MetaValue;
pub use kiln_store::profile::Generation;

/// A build's failure as the caller's [`Realiser`] reports it.
pub type RealiseFailure = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Builds what a profile change needs. The CLI's implementation shows its progress; an
/// implementation may plan only (`--dry-run`) and return `None`, and then nothing is switched.
pub trait Realiser {
    /// Realises `goals` in `store`: each goal's outputs (name to absolute path), or `None` when
    /// nothing was built on purpose.
    fn realise(
        &self,
        store: &kiln_store::LocalStore,
        goals: &[kiln_realise::Goal],
    ) -> Result<Option<Vec<BTreeMap<String, String>>>, RealiseFailure>;
}

/// What a profile operation tells its caller as it goes (the messages `nix-env` prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileEvent {
    /// A package is about to be installed.
    Installing {
        /// Its name.
        name: String,
    },
    /// An installed package is being removed.
    Uninstalling {
        /// Its name.
        name: String,
    },
    /// An installed package is being replaced by another version.
    Upgrading {
        /// The installed package's name.
        from: String,
        /// The new package's name.
        to: String,
    },
    /// A flag is being set on an installed package.
    SettingFlag {
        /// The package's name.
        name: String,
    },
    /// The profile switched from one generation to another.
    Switched {
        /// The generation that was current (0: none).
        from: u64,
        /// The generation that is current now.
        to: u64,
    },
    /// A generation was deleted.
    Removed {
        /// Its number.
        number: u64,
    },
    /// A generation would be deleted (a dry run).
    WouldRemove {
        /// Its number.
        number: u64,
    },
    /// Another process changed the profile during a change, which starts over.
    Restarting {
        /// The profile.
        profile: PathBuf,
    },
    /// Two expressions of a combined directory have the same name; the later is skipped.
    NameCollision {
        /// The skipped expression, as the user named the directory.
        skipped: PathBuf,
    },
}

/// Hears a profile operation's [`ProfileEvent`]s.
pub trait ProfileObserver {
    /// Called once per event, in order.
    fn event(&self, event: ProfileEvent);
}

/// An observer that ignores everything.
impl ProfileObserver for () {
    fn event(&self, _: ProfileEvent) {}
}

/// What can go wrong with a profile.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The store could not be opened.
    #[error("opening the store at '{}'", root.display())]
    OpenStore {
        /// Its root.
        root: PathBuf,
        /// Why.
        #[source]
        source: Box<kiln_store::StoreError>,
    },
    /// A store operation failed.
    #[error(transparent)]
    Store(Box<kiln_store::StoreError>),
    /// A generation operation failed.
    #[error(transparent)]
    Profile(Box<kiln_store::profile::ProfileError>),
    /// An evaluation (of a manifest, of the packages a file offers, of the environment's
    /// derivation) failed; the error keeps its source map for rendering.
    #[error(transparent)]
    Session(Box<kiln_session::SessionError>),
    /// The caller's [`Realiser`] failed.
    #[error(transparent)]
    Realise(RealiseFailure),
    /// A file system operation failed.
    #[error("{action} '{}'", path.display())]
    Io {
        /// What was being done ("reading link", "creating directory", …).
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A path that should be in the store is not.
    #[error("'{path}' is not in the store '{store_dir}'")]
    NotInStore {
        /// The path.
        path: String,
        /// The logical store directory.
        store_dir: String,
    },
    /// A manifest could not be read.
    #[error("reading the manifest '{file}'")]
    Manifest {
        /// The manifest file (a logical path).
        file: String,
        /// Why.
        #[source]
        source: Box<ProfileError>,
    },
    /// A manifest's file could not be read.
    #[error("reading '{file}'")]
    ManifestFile {
        /// The manifest file (a logical path).
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A manifest is not a list.
    #[error("it is not a list")]
    ManifestNotAList,
    /// A package (in a manifest) has no name.
    #[error("a package has no 'name'")]
    NoName,
    /// A package has no output paths.
    #[error("package '{name}' has no output paths")]
    NoOutputs {
        /// The package's name.
        name: String,
    },
    /// The `-f` path is neither an expression nor a directory.
    #[error("path '{}' is not a directory or a Nix expression", path.display())]
    NotAnExpression {
        /// The path as given.
        path: PathBuf,
    },
    /// A selector matches no available package.
    #[error("selector '{selector}' matches no derivations")]
    NoMatch {
        /// The selector.
        selector: String,
    },
    /// `--set-flag priority` with a value that is not a number.
    #[error("invalid priority '{value}'")]
    InvalidPriority {
        /// The value.
        value: String,
    },
    /// `--set-flag` with a flag other than `priority`, `active` and `keep`.
    #[error("unknown flag '{flag}'")]
    UnknownFlag {
        /// The flag.
        flag: String,
    },
    /// `--delete-generations +N` with N not a number.
    #[error("invalid number of generations to keep '{spec}'")]
    InvalidKeep {
        /// The specifier.
        spec: String,
    },
    /// A generation specifier that is not a number, `old`, `Nd` or `+N`.
    #[error("invalid generation specifier '{spec}'")]
    InvalidGeneration {
        /// The specifier.
        spec: String,
    },
    /// A diff without generations.
    #[error("the profile has no generation")]
    NoGeneration,
    /// A diff of the first generation with no other given.
    #[error("no generation older than {number} to compare with")]
    NothingOlder {
        /// The newer generation.
        number: u64,
    },
    /// The environment's build returned no `out`.
    #[error("the user environment was not built")]
    NotBuilt,
}

impl From<kiln_store::StoreError> for ProfileError {
    fn from(e: kiln_store::StoreError) -> Self {
        ProfileError::Store(Box::new(e))
    }
}

impl From<kiln_store::profile::ProfileError> for ProfileError {
    fn from(e: kiln_store::profile::ProfileError) -> Self {
        ProfileError::Profile(Box::new(e))
    }
}

impl From<kiln_session::SessionError> for ProfileError {
    fn from(e: kiln_session::SessionError) -> Self {
        ProfileError::Session(Box::new(e))
    }
}
