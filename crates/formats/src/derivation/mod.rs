//! Store derivations: their model, their ATerm form (`.drv` files), `hashDerivationModulo`, and
//! how a new derivation's output paths and `.drv` path are computed.
//!
//! Specs: the Nix manual's `protocols/derivation-aterm.md` (the file format) and
//! `protocols/store-path.md` (output paths and `.drv` paths); the behaviour matched is that of
//! Nix 2.8, whose `nix-instantiate` generated the fixtures in `tests/data/drv/`.
//!
//! A derivation is `Derive([outputs],[inputDrvs],[inputSrcs],"system","builder",[args],[env])`.
//! Decisions:
//!
//! * **Strings are bytes.** Nix strings may hold any bytes, so the builder, system, arguments
//!   and environment are `Vec<u8>` and round-trip byte for byte.
//! * **Only the canonical form is accepted.** Nix writes one spelling of every derivation: keys
//!   sorted and unique, only the escapes `\"`, `\\`, `\n`, `\r`, `\t`, no raw newline, carriage
//!   return or tab inside strings, hashes in lowercase base16. The parser rejects anything else,
//!   so for every input it accepts, printing gives back exactly the same bytes. One exception
//!   to "only what Nix writes": a fixed output with an empty path is accepted (as
//!   [`DerivationOutput::Fixed`] with no path), since that is the masked form hashed while
//!   output paths are computed, and it still round-trips.
//! * **`DrvWithVersion(...)` (newer Nix's dynamic derivations) is not supported**: Nix 2.8 never
//!   writes it.
//! * **Semantic checks are separate.** Parsing checks syntax, store paths and names; whether the
//!   outputs make a valid combination (Nix's `BasicDerivation::type()`) is [`Derivation::kind`],
//!   called by the hashing functions.
//! * **No I/O.** [`hash_derivation_modulo`] reads input derivations through a caller-provided
//!   lookup and memoises through a caller-owned [`DrvHashCache`].
//! * **A derivation's name is a parameter.** Nix takes it from the `.drv` file name (or the
//!   `name` attribute); the ATerm does not hold it (with `__structuredAttrs` the environment has
//!   no `name` either). [`drv_name`] strips `.drv` from a store path.

use std::collections::{BTreeMap, BTreeSet};

use crate::hash::{Hash, HashAlgo};
use crate::store_path::{make_text_path, FileIngestionMethod, StorePath, StorePathError};

mod aterm;
mod hash_modulo;

pub use aterm::{ParseError, ParseErrorKind, MAX_ATERM_SIZE};
pub use hash_modulo::{
    hash_derivation_modulo, DrvHash, DrvHashCache, DrvHashKind, HashModuloError,
};

/// One output of a derivation, as the four columns `(name, path, hashAlgo, hash)` of the ATerm
/// encode it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DerivationOutput {
    /// Input-addressed with a known path: `("out","/nix/store/…","","")`.
    InputAddressed(StorePath),
    /// Fixed-output (content-addressed with the hash known in advance):
    /// `("out","/nix/store/…","r:sha256","<base16>")`; `r:` marks recursive (NAR) hashing.
    Fixed {
        /// Flat file or NAR.
        method: FileIngestionMethod,
        /// The expected hash of the output.
        hash: Hash,
        /// The output path, `None` (printed as `""`) while it is being computed.
        path: Option<StorePath>,
    },
    /// Floating content-addressed (experimental `ca-derivations`): the hash is known only after
    /// the build, `("out","","r:sha256","")`.
    Floating {
        /// Flat file or NAR.
        method: FileIngestionMethod,
        /// The algorithm the output will be hashed with.
        algo: HashAlgo,
    },
    /// Input-addressed but without a path yet, `("out","","","")`: while output paths are being
    /// computed, or when an input is floating content-addressed.
    Deferred,
}

impl DerivationOutput {
    /// Returns the output path if it is known.
    pub fn path(&self) -> Option<&StorePath> {
        match self {
            Self::InputAddressed(p) => Some(p),
            Self::Fixed { path, .. } => path.as_ref(),
            Self::Floating { .. } | Self::Deferred => None,
        }
    }
}

/// What kind of derivation the outputs make, as Nix's `BasicDerivation::type()` decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerivationKind {
    /// Every output is [`DerivationOutput::InputAddressed`].
    InputAddressed,
    /// Every output is [`DerivationOutput::Deferred`].
    Deferred,
    /// A single [`DerivationOutput::Fixed`] output named `out`.
    Fixed,
    /// Every output is [`DerivationOutput::Floating`], all with the same algorithm.
    Floating,
}

/// Why a derivation's outputs do not form a valid derivation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DerivationError {
    /// The derivation has no outputs.
    #[error("derivation must have at least one output")]
    NoOutputs,
    /// Outputs of different kinds are mixed.
    #[error("derivation mixes output types (output '{first}' is {first_kind}, '{second}' is {second_kind})")]
    MixedOutputs {
        /// An output of the first kind.
        first: String,
        /// Its kind.
        first_kind: &'static str,
        /// An output of another kind.
        second: String,
        /// Its kind.
        second_kind: &'static str,
    },
    /// More than one fixed output.
    #[error("only one fixed output is allowed, found {0}")]
    MultipleFixed(usize),
    /// The fixed output is not named `out`.
    #[error("the single fixed output must be named 'out', not '{0}'")]
    FixedNotOut(String),
    /// Floating outputs with different hash algorithms.
    #[error("all floating outputs must use the same hash algorithm")]
    FloatingMixedAlgos,
}

/// A store derivation.
///
/// Collections are ordered as Nix orders them in the ATerm: output names, environment names
/// and output name sets by bytes, store paths by base name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Derivation {
    /// The outputs by name (`out`, `dev`, …).
    pub outputs: BTreeMap<String, DerivationOutput>,
    /// Input derivations (`.drv` paths) and which of their outputs are used.
    pub input_drvs: BTreeMap<StorePath, BTreeSet<String>>,
    /// Input store paths that are not derivation outputs (sources, `builtins.toFile` files).
    pub input_srcs: BTreeSet<StorePath>,
    /// The platform to build on (`x86_64-linux`).
    pub system: Vec<u8>,
    /// The program to run.
    pub builder: Vec<u8>,
    /// The builder's arguments.
    pub args: Vec<Vec<u8>>,
    /// The builder's environment.
    pub env: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// Tells whether `name` is acceptable as an output name: non-empty and made of the characters
/// a store path name may hold (the output name becomes part of the output's path name).
pub fn is_valid_output_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"+-._?=".contains(&c))
}

/// Returns the derivation name of a `.drv` store path (`hello-2.12` for `…-hello-2.12.drv`), or
/// `None` if the path is not a derivation.
pub fn drv_name(path: &StorePath) -> Option<&str> {
    path.name().strip_suffix(".drv").filter(|n| !n.is_empty())
}

impl Derivation {
    /// Parses a `.drv` file's contents; store paths must be in `store_dir` (logical, such as
    /// `/nix/store`).
    pub fn parse(bytes: &[u8], store_dir: &str) -> Result<Self, ParseError> {
        aterm::parse(bytes, store_dir)
    }

    /// Prints the derivation as Nix writes it to a `.drv` file.
    pub fn to_aterm(&self, store_dir: &str) -> Vec<u8> {
        let mut out = Vec::new();
        aterm::print(self, store_dir, false, None, &mut out);
        out
    }

    /// Returns the kind of derivation, or why the outputs do not make one.
    pub fn kind(&self) -> Result<DerivationKind, DerivationError> {
        fn label(o: &DerivationOutput) -> (&'static str, DerivationKind) {
            match o {
                DerivationOutput::InputAddressed(_) => {
                    ("input-addressed", DerivationKind::InputAddressed)
                }
                DerivationOutput::Deferred => ("deferred", DerivationKind::Deferred),
                DerivationOutput::Fixed { .. } => ("fixed", DerivationKind::Fixed),
                DerivationOutput::Floating { .. } => ("floating", DerivationKind::Floating),
            }
        }
        let mut iter = self.outputs.iter();
        let (first, first_out) = iter.next().ok_or(DerivationError::NoOutputs)?;
        let (first_kind, kind) = label(first_out);
        for (name, out) in iter {
            let (this_kind, k) = label(out);
            if k != kind {
                return Err(DerivationError::MixedOutputs {
                    first: first.clone(),
                    first_kind,
                    second: name.clone(),
                    second_kind: this_kind,
                });
            }
        }
        match kind {
            DerivationKind::Fixed if self.outputs.len() > 1 => {
                Err(DerivationError::MultipleFixed(self.outputs.len()))
            }
            DerivationKind::Fixed if first != "out" => {
                Err(DerivationError::FixedNotOut(first.clone()))
            }
            DerivationKind::Floating => {
                let algos: BTreeSet<HashAlgo> = self
                    .outputs
                    .values()
                    .filter_map(|o| match o {
                        DerivationOutput::Floating { algo, .. } => Some(*algo),
                        _ => None,
                    })
                    .collect();
                if algos.len() > 1 {
                    Err(DerivationError::FloatingMixedAlgos)
                } else {
                    Ok(kind)
                }
            }
            _ => Ok(kind),
        }
    }

    /// Returns the references of the `.drv` file: the input sources and input derivations.
    pub fn references(&self) -> BTreeSet<StorePath> {
        let mut refs = self.input_srcs.clone();
        refs.extend(self.input_drvs.keys().cloned());
        refs
    }

    /// Computes the store path of this derivation's `.drv` file: a text path named
    /// `<name>.drv` over the printed ATerm, with [`Self::references`] as references.
    pub fn drv_path(&self, store_dir: &str, name: &str) -> Result<StorePath, StorePathError> {
        let text = self.to_aterm(store_dir);
        let hash = Hash::digest_bytes(HashAlgo::Sha256, &text);
        make_text_path(store_dir, &format!("{name}.drv"), &hash, &self.references())
    }

    /// Fills in the output paths of a new derivation the way Nix's `derivationStrict` does.
    ///
    /// * Fixed output: the path is computed from the hash (`make_fixed_output_path`) and the
    ///   `out` environment variable set to it.
    /// * Input-addressed or deferred outputs: every output becomes deferred and its environment
    ///   variable empty; `hashDerivationModulo` of that masked derivation gives each output's
    ///   path, written to the output and its environment variable. If an input is floating
    ///   content-addressed the outputs stay deferred (and the variables empty), as in Nix.
    /// * Floating outputs are left alone (Nix sets their variables to placeholders, which is the
    ///   evaluator's business).
    ///
    /// Input derivations are read through `lookup` and memoised in `cache`.
    pub fn fill_outputs<E>(
        &mut self,
        store_dir: &str,
        name: &str,
        lookup: &mut dyn FnMut(&StorePath) -> Result<Derivation, E>,
        cache: &mut DrvHashCache,
    ) -> Result<(), HashModuloError<E>> {
        let kind = self.kind().map_err(|source| HashModuloError::Invalid {
            drv: name.to_owned(),
            source,
        })?;
        match kind {
            DerivationKind::Floating => Ok(()),
            DerivationKind::Fixed => {
                for (out_name, out) in &mut self.outputs {
                    if let DerivationOutput::Fixed { method, hash, path } = out {
                        let p = hash_modulo::fixed_output_path(
                            store_dir, name, out_name, *method, hash,
                        )?;
                        self.env.insert(
                            out_name.as_bytes().to_vec(),
                            p.to_absolute(store_dir).into_bytes(),
                        );
                        *path = Some(p);
                    }
                }
                Ok(())
            }
            DerivationKind::InputAddressed | DerivationKind::Deferred => {
                for (out_name, out) in &mut self.outputs {
                    *out = DerivationOutput::Deferred;
                    self.env.insert(out_name.as_bytes().to_vec(), Vec::new());
                }
                let h = hash_derivation_modulo(self, name, store_dir, true, lookup, cache)?;
                if h.kind == DrvHashKind::Deferred {
                    return Ok(());
                }
                for (out_name, out) in &mut self.outputs {
                    let p = crate::store_path::make_output_path(
                        store_dir,
                        name,
                        out_name,
                        &h.outputs[out_name],
                    )
                    .map_err(HashModuloError::StorePath)?;
                    self.env.insert(
                        out_name.as_bytes().to_vec(),
                        p.to_absolute(store_dir).into_bytes(),
                    );
                    *out = DerivationOutput::InputAddressed(p);
                }
                Ok(())
            }
        }
    }
}
