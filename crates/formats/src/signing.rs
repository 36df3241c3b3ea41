//! Binary cache signing keys and signatures, in Nix's text format.
//!
//! Spec: the Nix manual, `nix-store --generate-binary-cache-key`, the `secret-key-files` and
//! `trusted-public-keys` settings, and `protocols/binary-cache` (what is signed is a store
//! object's *fingerprint*, see [`crate::narinfo::fingerprint`]). All three objects are
//! `<name>:<base64>`, with Ed25519 underneath:
//!
//! * a secret key carries 64 bytes: the 32-byte seed followed by the 32-byte public key;
//! * a public key carries the 32-byte public key;
//! * a signature carries the 64-byte detached Ed25519 signature.
//!
//! The name says which key made a signature; verification looks the name up among the
//! trusted public keys and checks the signature with that key only.
//!
//! Decisions:
//!
//! * The name is everything before the first `:` and must not be empty. Keys made here (by
//!   [`SecretKey::generate`] or [`SecretKey::from_seed`]) must also have a name without
//!   whitespace, so they fit in a `trusted-public-keys` list.
//! * Surrounding whitespace is trimmed before parsing: key files usually end in a newline.
//! * Base64 padding is optional when reading (Nix's decoder ignores it) and always written.
//! * A secret key whose public half is not the one its seed yields is rejected; Nix would copy
//!   the public half blindly and sign with a mismatched pair.
//! * Verification is strict Ed25519 ([`ed25519_dalek::VerifyingKey::verify_strict`]): weak
//!   keys and malleable signatures are refused, which honest signers never produce.
//! * Signing is deterministic (RFC 8032), so Kiln and Nix produce byte-identical signatures
//!   for the same key and fingerprint; the tests rely on it.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

/// Length of a secret key's payload: seed and public key.
pub const SECRET_KEY_LEN: usize = 64;

/// Length of a public key's payload.
pub const PUBLIC_KEY_LEN: usize = 32;

/// Length of a signature's payload.
pub const SIGNATURE_LEN: usize = 64;

/// Which of the three `name:base64` objects an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A secret key.
    SecretKey,
    /// A public key.
    PublicKey,
    /// A signature.
    Signature,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SecretKey => "secret key",
            Self::PublicKey => "public key",
            Self::Signature => "signature",
        })
    }
}

/// Why a key or signature could not be parsed or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// There is no `:`, or nothing before it.
    #[error("{kind} has no name (expected '<name>:<base64>')")]
    MissingName {
        /// What was being parsed.
        kind: KeyKind,
    },
    /// A name given to [`SecretKey::generate`] or [`SecretKey::from_seed`] is empty or has a
    /// `:` or whitespace.
    #[error("key name '{name}' is invalid: it must be non-empty, without ':' or whitespace")]
    BadName {
        /// The name given.
        name: String,
    },
    /// The part after the name is not base64.
    #[error("{kind} '{name}' is not valid base64: {reason}")]
    BadBase64 {
        /// What was being parsed.
        kind: KeyKind,
        /// The key name.
        name: String,
        /// What the decoder said.
        reason: String,
    },
    /// The decoded payload has the wrong number of bytes.
    #[error("{kind} '{name}' has {found} bytes, expected {expected}")]
    WrongLength {
        /// What was being parsed.
        kind: KeyKind,
        /// The key name.
        name: String,
        /// Bytes decoded.
        found: usize,
        /// Bytes required.
        expected: usize,
    },
    /// A secret key's public half is not the public key of its seed.
    #[error("secret key '{name}' is corrupt: its public half does not match its seed")]
    Mismatch {
        /// The key name.
        name: String,
    },
    /// A public key's bytes are not a point on the Ed25519 curve.
    #[error("public key '{name}' is not a valid Ed25519 key")]
    NotOnCurve {
        /// The key name.
        name: String,
    },
    /// The operating system could not supply randomness for a new key.
    #[error("cannot get randomness for a new key: {0}")]
    Randomness(String),
}

/// Splits `name:base64` and decodes the payload, which must be `N` bytes.
fn split_decode<const N: usize>(kind: KeyKind, s: &str) -> Result<(&str, [u8; N]), KeyError> {
    let s = s.trim();
    let (name, payload) = match s.split_once(':') {
        Some((name, payload)) if !name.is_empty() => (name, payload),
        _ => return Err(KeyError::MissingName { kind }),
    };
    let bytes = STANDARD_PAD_INDIFFERENT
        .decode(payload)
        .map_err(|e| KeyError::BadBase64 {
            kind,
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
    let found = bytes.len();
    let bytes = <[u8; N]>::try_from(bytes).map_err(|_| KeyError::WrongLength {
        kind,
        name: name.to_owned(),
        found,
        expected: N,
    })?;
    Ok((name, bytes))
}

fn check_new_name(name: &str) -> Result<(), KeyError> {
    if name.is_empty() || name.contains(':') || name.chars().any(char::is_whitespace) {
        return Err(KeyError::BadName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// A named Ed25519 signing key, printed as `name:base64(seed ‖ public key)`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey {
    name: String,
    key: SigningKey,
}

impl SecretKey {
    /// Makes a new key from operating system randomness, as
    /// `nix-store --generate-binary-cache-key` does.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Randomness(e.to_string()))?;
        Self::from_seed(name, seed)
    }

    /// Makes the key with the given 32-byte seed (deterministic; for tests and key derivation).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, KeyError> {
        check_new_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Parses `name:base64(64 bytes)`, checking that the public half matches the seed.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let (name, bytes) = split_decode::<SECRET_KEY_LEN>(KeyKind::SecretKey, s)?;
        let key = SigningKey::from_keypair_bytes(&bytes).map_err(|_| KeyError::Mismatch {
            name: name.to_owned(),
        })?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// Returns the key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the matching public key, with the same name.
    pub fn to_public(&self) -> PublicKey {
        PublicKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs `data` (for a store object, its fingerprint).
    pub fn sign(&self, data: &[u8]) -> Signature {
        Signature {
            name: self.name.clone(),
            bytes: self.key.sign(data).to_bytes(),
        }
    }
}

/// Prints `name:base64(seed ‖ public key)`, the secret; handle with care.
impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.name,
            STANDARD.encode(self.key.to_keypair_bytes())
        )
    }
}

/// Shows the name only, so secrets stay out of logs.
impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}:…)", self.name)
    }
}

/// A named Ed25519 public key, printed as `name:base64(32 bytes)`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    name: String,
    key: VerifyingKey,
}

impl PublicKey {
    /// Parses `name:base64(32 bytes)`.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let (name, bytes) = split_decode::<PUBLIC_KEY_LEN>(KeyKind::PublicKey, s)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::NotOnCurve {
            name: name.to_owned(),
        })?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// Returns the key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the 32 key bytes.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.key.to_bytes()
    }

    /// Tells whether `sig` is this key's signature of `data`: the names must agree and the
    /// signature must check.
    pub fn verify(&self, data: &[u8], sig: &Signature) -> bool {
        sig.name == self.name
            && self
                .key
                .verify_strict(data, &ed25519_dalek::Signature::from_bytes(&sig.bytes))
                .is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, STANDARD.encode(self.key.to_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// A detached signature with the name of the key that made it, printed `name:base64(64 bytes)`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signature {
    name: String,
    bytes: [u8; SIGNATURE_LEN],
}

impl Signature {
    /// Parses `name:base64(64 bytes)`.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let (name, bytes) = split_decode::<SIGNATURE_LEN>(KeyKind::Signature, s)?;
        Ok(Self {
            name: name.to_owned(),
            bytes,
        })
    }

    /// Returns the name of the key that made the signature.
    pub fn key_name(&self) -> &str {
        &self.name
    }

    /// Returns the 64 signature bytes.
    pub fn bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.bytes
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, STANDARD.encode(self.bytes))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

/// The public keys a store trusts (`trusted-public-keys`), looked up by name.
///
/// A later key with the same name replaces an earlier one, as in Nix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: BTreeMap<String, PublicKey>,
}

impl TrustedKeys {
    /// Makes an empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a whitespace-separated list of public keys, the value of `trusted-public-keys`.
    pub fn parse_list(s: &str) -> Result<Self, KeyError> {
        let mut keys = Self::new();
        for word in s.split_whitespace() {
            keys.insert(PublicKey::parse(word)?);
        }
        Ok(keys)
    }

    /// Adds a key, replacing any key of the same name.
    pub fn insert(&mut self, key: PublicKey) {
        self.keys.insert(key.name.clone(), key);
    }

    /// Returns the key with this name.
    pub fn get(&self, name: &str) -> Option<&PublicKey> {
        self.keys.get(name)
    }

    /// Returns the number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Tells whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Iterates over the keys in name order.
    pub fn iter(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.values()
    }

    /// Tells whether `sig` is a valid signature of `data` by the trusted key it names.
    pub fn verify(&self, data: &[u8], sig: &Signature) -> bool {
        self.get(&sig.name).is_some_and(|k| k.verify(data, sig))
    }

    /// Like [`Self::verify`] for a signature still in text form; a malformed signature is
    /// simply not valid, as in Nix.
    pub fn verify_str(&self, data: &[u8], sig: &str) -> bool {
        Signature::parse(sig).is_ok_and(|sig| self.verify(data, &sig))
    }
}

impl FromIterator<PublicKey> for TrustedKeys {
    fn from_iter<I: IntoIterator<Item = PublicKey>>(iter: I) -> Self {
        let mut keys = Self::new();
        for k in iter {
            keys.insert(k);
        }
        keys
    }
}

impl Extend<PublicKey> for TrustedKeys {
    fn extend<I: IntoIterator<Item = PublicKey>>(&mut self, iter: I) {
        for k in iter {
            self.insert(k);
        }
    }
}
