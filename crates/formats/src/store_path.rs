//! Store paths: `/nix/store/<hash>-<name>`, their validation, and how Nix computes them.
//!
//! Spec: the Nix manual, `protocols/store-path.md`. A store path's hash part is 20 bytes in
//! nix32 (32 characters). It is the SHA-256 of a *fingerprint*
//! `<type>:sha256:<inner hash in base16>:<store dir>:<name>`, folded to 160 bits with
//! [`crate::hash::compress`]. The type says what the inner hash covers:
//!
//! * `text[:<ref>…]`: the SHA-256 of a file's contents (`builtins.toFile`, `.drv` files);
//! * `source[:<ref>…][:self]`: the SHA-256 of a NAR (`builtins.path`, `nix-store --add`), also
//!   used for fixed-output paths that are recursive SHA-256;
//! * `output:out` over `fixed:out:[r:]<algo>:<base16>:`: any other fixed-output path;
//! * `output:<id>`: the output `id` of an input-addressed derivation, over its
//!   `hashDerivationModulo`.
//!
//! Everything here works on the *logical* store directory, a plain string such as `/nix/store`;
//! where the files physically live is the store crate's business.

use std::collections::BTreeSet;
use std::fmt;

use crate::hash::{compress, Hash, HashAlgo};
use crate::nixbase32;

/// The store directory Nix uses unless configured otherwise.
pub const DEFAULT_STORE_DIR: &str = "/nix/store";

/// Length of the hash part in characters.
pub const HASH_PART_LEN: usize = 32;

/// Length of the hash part in bytes.
pub const HASH_BYTES: usize = 20;

/// The longest name a store path may have.
pub const MAX_NAME_LEN: usize = 211;

/// Why a string is not a valid store path or store path name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorePathError {
    /// The path does not start with the store directory followed by `/`.
    #[error("path '{path}' is not in the Nix store '{store_dir}'")]
    NotInStore {
        /// The path given.
        path: String,
        /// The store directory expected.
        store_dir: String,
    },
    /// The path names something below a store object (`…/bin/sh`), not the object itself.
    #[error("path '{0}' is not a store path but a file inside one")]
    Nested(String),
    /// The base name is too short or lacks the `-` after the hash part.
    #[error("store path '{0}' is missing its hash part or name")]
    Malformed(String),
    /// The hash part has characters outside nix32.
    #[error("store path '{0}' has an invalid hash part")]
    BadHash(String),
    /// The name breaks the naming rules.
    #[error("store path name '{name}' is invalid: {reason}")]
    BadName {
        /// The offending name.
        name: String,
        /// What rule it breaks.
        reason: NameError,
    },
}

/// The rule a store path name breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("name must not be empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`].
    #[error("name must be no longer than 211 characters")]
    TooLong,
    /// The name is `.`, `..`, or starts with `.-` or `..-`.
    #[error("name must not be '.' or '..', nor start with '.-' or '..-'")]
    Dots,
    /// The name contains a character other than letters, digits and `+-._?=`.
    #[error("the character {0:?} is not allowed (only letters, digits and +-._?= are)")]
    BadChar(char),
}

/// Checks a store path name against Nix's rules (those of current Nix, which allows a leading
/// period except in `.`, `..`, `.-…` and `..-…`).
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    if name == "." || name == ".." || name.starts_with(".-") || name.starts_with("..-") {
        return Err(NameError::Dots);
    }
    match name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "+-._?=".contains(c)))
    {
        Some(c) => Err(NameError::BadChar(c)),
        None => Ok(()),
    }
}

/// A store path without its directory: the hash part and the name, `<hash>-<name>`.
///
/// Ordered like Nix orders store paths: by this base name as a string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorePath {
    base: Box<str>,
}

impl StorePath {
    /// Parses a base name `<hash>-<name>`.
    pub fn from_base_name(base: &str) -> Result<Self, StorePathError> {
        if base.len() < HASH_PART_LEN + 2 || base.as_bytes()[HASH_PART_LEN] != b'-' {
            return Err(StorePathError::Malformed(base.to_owned()));
        }
        if !base.as_bytes()[..HASH_PART_LEN]
            .iter()
            .all(|&c| nixbase32::is_valid_char(c))
        {
            return Err(StorePathError::BadHash(base.to_owned()));
        }
        let name = &base[HASH_PART_LEN + 1..];
        check_name(name).map_err(|reason| StorePathError::BadName {
            name: name.to_owned(),
            reason,
        })?;
        Ok(Self { base: base.into() })
    }

    /// Parses an absolute store path such as `/nix/store/<hash>-<name>`.
    pub fn from_absolute(store_dir: &str, path: &str) -> Result<Self, StorePathError> {
        let base = path
            .strip_prefix(store_dir)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| StorePathError::NotInStore {
                path: path.to_owned(),
                store_dir: store_dir.to_owned(),
            })?;
        if base.contains('/') {
            return Err(StorePathError::Nested(path.to_owned()));
        }
        Self::from_base_name(base)
    }

    /// Parses an absolute path that may point inside a store object, returning the object and
    /// the rest (`/bin/sh`, or empty).
    pub fn from_absolute_prefix<'a>(
        store_dir: &str,
        path: &'a str,
    ) -> Result<(Self, &'a str), StorePathError> {
        let base = path
            .strip_prefix(store_dir)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| StorePathError::NotInStore {
                path: path.to_owned(),
                store_dir: store_dir.to_owned(),
            })?;
        let (first, rest) = match base.find('/') {
            Some(i) => base.split_at(i),
            None => (base, ""),
        };
        Ok((Self::from_base_name(first)?, rest))
    }

    /// Builds a store path from the 20 hash bytes and a name.
    pub fn from_hash_and_name(hash: &[u8; HASH_BYTES], name: &str) -> Result<Self, StorePathError> {
        check_name(name).map_err(|reason| StorePathError::BadName {
            name: name.to_owned(),
            reason,
        })?;
        Ok(Self {
            base: format!("{}-{name}", nixbase32::encode(hash)).into(),
        })
    }

    /// Returns the 32-character hash part.
    pub fn hash_part(&self) -> &str {
        &self.base[..HASH_PART_LEN]
    }

    /// Returns the name after the hash part.
    pub fn name(&self) -> &str {
        &self.base[HASH_PART_LEN + 1..]
    }

    /// Returns `<hash>-<name>`.
    pub fn base_name(&self) -> &str {
        &self.base
    }

    /// Tells whether this is a derivation (its name ends in `.drv`).
    pub fn is_derivation(&self) -> bool {
        self.name().ends_with(".drv")
    }

    /// Returns the absolute path in `store_dir`.
    pub fn to_absolute(&self, store_dir: &str) -> String {
        format!("{store_dir}/{}", self.base)
    }
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

impl fmt::Debug for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorePath({})", self.base)
    }
}

/// How a file system object is turned into bytes for a fixed-output or source hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileIngestionMethod {
    /// The hash covers a single regular file's contents.
    Flat,
    /// The hash covers the NAR serialisation of the tree.
    Recursive,
}

/// Computes `<store dir>/<hash>-<name>` from a type string and an inner hash, the primitive all
/// other computations share.
pub fn make_store_path(
    store_dir: &str,
    path_type: &str,
    inner: &Hash,
    name: &str,
) -> Result<StorePath, StorePathError> {
    let fingerprint = format!(
        "{path_type}:{}:{}:{store_dir}:{name}",
        inner.algo(),
        inner.to_base16()
    );
    let digest = Hash::digest_bytes(HashAlgo::Sha256, fingerprint.as_bytes());
    let folded = compress(digest.digest(), HASH_BYTES);
    let hash: [u8; HASH_BYTES] = folded
        .try_into()
        .expect("compress returns HASH_BYTES bytes");
    StorePath::from_hash_and_name(&hash, name)
}

/// Builds the type string `kind[:<ref>…][:self]` with references as absolute paths, in order.
fn make_type<'a>(
    store_dir: &str,
    kind: &str,
    references: impl IntoIterator<Item = &'a StorePath>,
    self_ref: bool,
) -> String {
    let mut s = kind.to_owned();
    for r in references {
        s.push(':');
        s.push_str(&r.to_absolute(store_dir));
    }
    if self_ref {
        s.push_str(":self");
    }
    s
}

/// Computes the path of a text file added with its references (`builtins.toFile`, `.drv` files).
/// `text_hash` is the SHA-256 of the contents.
pub fn make_text_path(
    store_dir: &str,
    name: &str,
    text_hash: &Hash,
    references: &BTreeSet<StorePath>,
) -> Result<StorePath, StorePathError> {
    make_store_path(
        store_dir,
        &make_type(store_dir, "text", references, false),
        text_hash,
        name,
    )
}

/// Computes the path of a source tree added by NAR hash (`builtins.path`, `nix-store --add`).
pub fn make_source_path(
    store_dir: &str,
    name: &str,
    nar_hash: &Hash,
    references: &BTreeSet<StorePath>,
    self_ref: bool,
) -> Result<StorePath, StorePathError> {
    make_store_path(
        store_dir,
        &make_type(store_dir, "source", references, self_ref),
        nar_hash,
        name,
    )
}

/// Computes a fixed-output path (`outputHash`, `nix-store --add-fixed`, `builtins.path` with a
/// hash). Recursive SHA-256 is a source path; any other combination cannot carry references.
pub fn make_fixed_output_path(
    store_dir: &str,
    name: &str,
    method: FileIngestionMethod,
    hash: &Hash,
) -> Result<StorePath, StorePathError> {
    if method == FileIngestionMethod::Recursive && hash.algo() == HashAlgo::Sha256 {
        return make_source_path(store_dir, name, hash, &BTreeSet::new(), false);
    }
    let prefix = match method {
        FileIngestionMethod::Recursive => "r:",
        FileIngestionMethod::Flat => "",
    };
    let inner = format!("fixed:out:{prefix}{}:{}:", hash.algo(), hash.to_base16());
    let inner = Hash::digest_bytes(HashAlgo::Sha256, inner.as_bytes());
    make_store_path(store_dir, "output:out", &inner, name)
}

/// Returns the store path name of output `output` of a derivation named `drv_name`: the
/// derivation's name for `out`, else `<name>-<output>`.
pub fn output_path_name(drv_name: &str, output: &str) -> String {
    if output == "out" {
        drv_name.to_owned()
    } else {
        format!("{drv_name}-{output}")
    }
}

/// Computes the path of output `output` of an input-addressed derivation, from the derivation's
/// `hashDerivationModulo`.
pub fn make_output_path(
    store_dir: &str,
    drv_name: &str,
    output: &str,
    hash_modulo: &Hash,
) -> Result<StorePath, StorePathError> {
    make_store_path(
        store_dir,
        &format!("output:{output}"),
        hash_modulo,
        &output_path_name(drv_name, output),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SD: &str = DEFAULT_STORE_DIR;

    #[test]
    fn parses_and_prints() {
        let p = "/nix/store/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-hello-2.12";
        let sp = StorePath::from_absolute(SD, p).unwrap();
        assert_eq!(sp.hash_part(), "0mdqa9w1p6cmli6976v4wi0sw9r4p5pr");
        assert_eq!(sp.name(), "hello-2.12");
        assert_eq!(sp.to_absolute(SD), p);
        let inner = format!("{p}/bin/hello");
        let (sp2, rest) = StorePath::from_absolute_prefix(SD, &inner).unwrap();
        assert_eq!((sp2, rest), (sp, "/bin/hello"));
    }

    #[test]
    fn rejects_bad_paths() {
        let h = "0mdqa9w1p6cmli6976v4wi0sw9r4p5pr";
        assert!(matches!(
            StorePath::from_absolute(SD, "/tmp/x"),
            Err(StorePathError::NotInStore { .. })
        ));
        assert!(matches!(
            StorePath::from_absolute(SD, &format!("/nix/store/{h}-a/b")),
            Err(StorePathError::Nested(_))
        ));
        assert!(matches!(
            StorePath::from_base_name(h),
            Err(StorePathError::Malformed(_))
        ));
        assert!(matches!(
            StorePath::from_base_name("eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x"),
            Err(StorePathError::BadHash(_))
        ));
        for (name, err) in [
            ("a b", NameError::BadChar(' ')),
            ("..", NameError::Dots),
            (".-x", NameError::Dots),
            ("..-x", NameError::Dots),
        ] {
            assert_eq!(check_name(name), Err(err), "{name}");
        }
        assert_eq!(check_name(&"a".repeat(212)), Err(NameError::TooLong));
        assert_eq!(check_name(&"a".repeat(211)), Ok(()));
        assert_eq!(check_name(".hidden"), Ok(()));
        assert_eq!(check_name("a+-._?=Z9"), Ok(()));
    }

    // Expected paths below were printed by Nix 2.8 (`nix-instantiate --eval`) for the same inputs;
    // the differential tests in the CLI crate recompute them against a live Nix.
    #[test]
    fn text_path_of_to_file() {
        // builtins.toFile "hello" "hello world"
        let h = Hash::digest_bytes(HashAlgo::Sha256, b"hello world");
        let p = make_text_path(SD, "hello", &h, &BTreeSet::new()).unwrap();
        assert_eq!(
            p.to_absolute(SD),
            "/nix/store/ivlnvab4q9c7wbsvbfsvgaa15j9p6206-hello"
        );
    }
}
