//! `hashDerivationModulo`: the hash that input-addressed output paths are computed from.
//!
//! Spec: the Nix manual's `protocols/store-path.md` ("output" paths) and Nix 2.8's behaviour:
//!
//! * a fixed-output derivation hashes to, per output, the SHA-256 of
//!   `fixed:out:[r:]<algo>:<base16 hash>:<output path>`, so changing how it is fetched does not
//!   change anything that depends on it;
//! * any other derivation hashes to the SHA-256 of its ATerm in which every input derivation's
//!   path is replaced by the base16 of *that input's* hash for the outputs used (for inputs that
//!   are themselves fixed-output, several inputs may collapse into one key; their output sets
//!   are merged), the replaced inputs sorted by that key; with `mask_outputs` the output paths
//!   and the environment variables named after outputs are printed empty;
//! * the result is *deferred* when the derivation is floating content-addressed or depends on
//!   one that is deferred.
//!
//! Inputs are visited with an explicit stack (no recursion, so long chains cannot overflow the
//! stack), read through the caller's lookup and memoised, by `.drv` path, in a [`DrvHashCache`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{aterm, drv_name, Derivation, DerivationError, DerivationKind, DerivationOutput};
use crate::hash::{Hash, HashAlgo};
use crate::store_path::{
    make_fixed_output_path, output_path_name, FileIngestionMethod, StorePath, StorePathError,
};

/// Whether a derivation's hash modulo is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrvHashKind {
    /// Output paths can be computed from the hashes.
    Regular,
    /// The derivation is, or depends on, a floating content-addressed derivation: its outputs
    /// stay deferred.
    Deferred,
}

/// The result of `hashDerivationModulo`: one hash per output.
///
/// For a fixed-output derivation each output has its own `fixed:out:…` hash; otherwise every
/// output has the same hash, that of the (masked) ATerm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrvHash {
    /// The hash of each output, by output name.
    pub outputs: BTreeMap<String, Hash>,
    /// Whether the hashes are final.
    pub kind: DrvHashKind,
}

/// Memoised hashes of input derivations (computed without masking), by `.drv` path.
pub type DrvHashCache = HashMap<StorePath, DrvHash>;

/// Why `hashDerivationModulo` could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum HashModuloError<E> {
    /// The caller's lookup failed for an input derivation.
    #[error("cannot read input derivation '{drv}'")]
    Lookup {
        /// The input derivation's path.
        drv: StorePath,
        /// The lookup's error.
        #[source]
        source: E,
    },
    /// The input derivations refer to each other in a cycle (impossible in a real store).
    #[error("input derivation '{0}' depends on itself")]
    Cycle(StorePath),
    /// An input derivation's path does not end in `.drv`, so it has no derivation name.
    #[error("input '{0}' is not a derivation")]
    NotADerivation(StorePath),
    /// A derivation uses an output that its input derivation does not have.
    #[error("derivation '{input}' has no output '{output}'")]
    MissingOutput {
        /// The input derivation.
        input: StorePath,
        /// The output asked for.
        output: String,
    },
    /// A derivation's outputs do not make a valid derivation.
    #[error("invalid derivation '{drv}'")]
    Invalid {
        /// The derivation's name or path.
        drv: String,
        /// What is wrong.
        #[source]
        source: DerivationError,
    },
    /// An output path could not be built (the name makes an invalid store path name).
    #[error("cannot compute an output path")]
    StorePath(#[source] StorePathError),
}

/// Computes the path of fixed output `output` of derivation `name`.
pub(super) fn fixed_output_path<E>(
    store_dir: &str,
    name: &str,
    output: &str,
    method: FileIngestionMethod,
    hash: &Hash,
) -> Result<StorePath, HashModuloError<E>> {
    make_fixed_output_path(store_dir, &output_path_name(name, output), method, hash)
        .map_err(HashModuloError::StorePath)
}

/// Computes Nix's `hashDerivationModulo` of `drv`, named `name`.
///
/// `mask_outputs` blanks output paths and their environment variables, as Nix does when
/// computing a new derivation's output paths; inputs are always hashed unmasked. Input
/// derivations are read with `lookup` unless already in `cache`, where their hashes are left.
pub fn hash_derivation_modulo<E>(
    drv: &Derivation,
    name: &str,
    store_dir: &str,
    mask_outputs: bool,
    lookup: &mut dyn FnMut(&StorePath) -> Result<Derivation, E>,
    cache: &mut DrvHashCache,
) -> Result<DrvHash, HashModuloError<E>> {
    // Make sure every input, transitively, is in the cache, depth first.
    struct Frame {
        path: StorePath,
        drv: Derivation,
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut on_stack: HashSet<StorePath> = HashSet::new();
    let mut pending: Vec<StorePath> = drv.input_drvs.keys().rev().cloned().collect();
    loop {
        // Find the next input whose hash is missing: from the top frame, or from the root.
        let next = match stack.last() {
            Some(frame) => frame
                .drv
                .input_drvs
                .keys()
                .find(|p| !cache.contains_key(*p)),
            None => {
                while pending.last().is_some_and(|p| cache.contains_key(p)) {
                    pending.pop();
                }
                pending.last()
            }
        }
        .cloned();
        match next {
            Some(path) => {
                if on_stack.contains(&path) {
                    return Err(HashModuloError::Cycle(path));
                }
                let input = lookup(&path).map_err(|source| HashModuloError::Lookup {
                    drv: path.clone(),
                    source,
                })?;
                on_stack.insert(path.clone());
                stack.push(Frame { path, drv: input });
            }
            None => match stack.pop() {
                Some(frame) => {
                    on_stack.remove(&frame.path);
                    let name = drv_name(&frame.path)
                        .ok_or(HashModuloError::NotADerivation(frame.path.clone()))?;
                    let h = hash_with_cached_inputs(&frame.drv, name, store_dir, false, cache)
                        .map_err(|e| match e {
                            HashModuloError::Invalid { source, .. } => HashModuloError::Invalid {
                                drv: frame.path.to_string(),
                                source,
                            },
                            e => e,
                        })?;
                    cache.insert(frame.path, h);
                }
                None => break,
            },
        }
    }
    hash_with_cached_inputs(drv, name, store_dir, mask_outputs, cache)
}

/// The hash proper, once every input derivation's hash is in `cache`.
fn hash_with_cached_inputs<E>(
    drv: &Derivation,
    name: &str,
    store_dir: &str,
    mask_outputs: bool,
    cache: &DrvHashCache,
) -> Result<DrvHash, HashModuloError<E>> {
    let kind = drv.kind().map_err(|source| HashModuloError::Invalid {
        drv: name.to_owned(),
        source,
    })?;
    if kind == DerivationKind::Fixed {
        let mut outputs = BTreeMap::new();
        for (out_name, out) in &drv.outputs {
            if let DerivationOutput::Fixed { method, hash, .. } = out {
                let path = fixed_output_path(store_dir, name, out_name, *method, hash)?;
                let fingerprint = format!(
                    "fixed:out:{}:{}:{}",
                    aterm::method_algo(*method, hash.algo()),
                    hash.to_base16(),
                    path.to_absolute(store_dir)
                );
                outputs.insert(
                    out_name.clone(),
                    Hash::digest_bytes(HashAlgo::Sha256, fingerprint.as_bytes()),
                );
            }
        }
        return Ok(DrvHash {
            outputs,
            kind: DrvHashKind::Regular,
        });
    }

    let mut deferred = kind == DerivationKind::Floating;
    let mut inputs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, used) in &drv.input_drvs {
        let h = cache
            .get(path)
            .expect("every input derivation was hashed before");
        deferred |= h.kind == DrvHashKind::Deferred;
        for output in used {
            let oh = h
                .outputs
                .get(output)
                .ok_or_else(|| HashModuloError::MissingOutput {
                    input: path.clone(),
                    output: output.clone(),
                })?;
            inputs
                .entry(oh.to_base16())
                .or_default()
                .insert(output.clone());
        }
    }
    let mut text = Vec::new();
    aterm::print(drv, store_dir, mask_outputs, Some(&inputs), &mut text);
    let hash = Hash::digest_bytes(HashAlgo::Sha256, &text);
    Ok(DrvHash {
        outputs: drv.outputs.keys().map(|o| (o.clone(), hash)).collect(),
        kind: if deferred {
            DrvHashKind::Deferred
        } else {
            DrvHashKind::Regular
        },
    })
}
