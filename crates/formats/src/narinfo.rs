//! `.narinfo` files: a binary cache's metadata about one store object.
//!
//! Spec: the Nix manual, `protocols/binary-cache/narinfo` (".narinfo Format") and
//! `protocols/json/store-object-info`. The file is named `<hash part>.narinfo` and has one
//! `Key: value` pair a line, every line ending in `\n`:
//!
//! | key | meaning | here |
//! | --- | --- | --- |
//! | `StorePath` | absolute store path (required) | [`NarInfo::path`] |
//! | `URL` | where the (compressed) NAR is, relative to the cache (required, non-empty) | [`NarInfo::url`] |
//! | `Compression` | `xz`, `bzip2`, `zstd`, `none`…; `bzip2` when absent or empty | [`NarInfo::compression`] |
//! | `FileHash`, `FileSize` | hash and size of the compressed file | [`NarInfo::file_hash`], [`NarInfo::file_size`] |
//! | `NarHash`, `NarSize` | hash and size of the NAR (required; the size must not be 0) | [`NarInfo::nar_hash`], [`NarInfo::nar_size`] |
//! | `References` | space-separated base names, possibly none | [`NarInfo::references`] |
//! | `Deriver` | base name of the deriver; `unknown-deriver` means none | [`NarInfo::deriver`] |
//! | `System` | the platform it was built for | [`NarInfo::system`] |
//! | `Sig` | `key-name:base64`, repeatable | [`NarInfo::sigs`] |
//! | `CA` | content address, `text:sha256:…` or `fixed:[r:]algo:…` | [`NarInfo::ca`] |
//!
//! Printing follows Nix's order (the table's), with hashes as `algo:<nix32>`, references and
//! signatures sorted and deduplicated (Nix keeps both as sets), `References:` always present
//! and `FileHash`/`FileSize`/`Deriver`/`System`/`CA` only when known. A narinfo Nix wrote
//! therefore prints back byte for byte.
//!
//! What a signature covers is the [`fingerprint`]
//! `1;<store path>;<NAR hash as algo:nix32>;<NAR size>;<absolute references, comma-separated>`,
//! the same whatever encoding the file used for `NarHash` (Nix re-encodes it to nix32).
//!
//! Decisions:
//!
//! * Unknown keys are ignored, as in Nix, and are not kept: printing drops them.
//! * A known key given twice is an error (Nix keeps the last of most, rejects a second
//!   `References` or `CA`, and merges `Sig`); `Sig` may repeat.
//! * Every line must be `Key: value` (a colon then one space) and end in `\n`; blank lines and
//!   lines without a colon are errors rather than silently merged into the next line.
//! * Hashes must name their algorithm (`sha256:…` in any encoding, or SRI); sizes are plain
//!   decimal digits.
//! * Signatures are kept as text: a malformed `Sig` does not make the file unreadable, it just
//!   never verifies, as in Nix.
//! * Input is capped at [`MAX_NARINFO_LEN`] bytes.
//! * Values must not contain newlines; the printer does not check fields set by hand.

use std::collections::BTreeSet;
use std::fmt;

use crate::hash::{Hash, HashAlgo, HashError};
use crate::signing::{SecretKey, TrustedKeys};
use crate::store_path::{FileIngestionMethod, StorePath, StorePathError};

/// The largest narinfo accepted, in bytes.
pub const MAX_NARINFO_LEN: usize = 4 << 20;

/// The `Deriver` value that means "no deriver known".
pub const UNKNOWN_DERIVER: &str = "unknown-deriver";

/// Why a content address could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentAddressError {
    /// The method prefix is neither `text` nor `fixed`.
    #[error("content address '{0}' does not start with 'text:' or 'fixed:'")]
    UnknownMethod(String),
    /// The hash part is not `algo:digest`.
    #[error("content address '{0}' lacks a hash of the form '<algo>:<digest>'")]
    MissingHash(String),
    /// A `text:` content address whose hash is not SHA-256.
    #[error("text content address '{0}' must use sha256")]
    TextNotSha256(String),
    /// The hash does not parse.
    #[error("content address '{ca}' has a bad hash: {source}")]
    BadHash {
        /// The content address as given.
        ca: String,
        /// The hash error.
        source: HashError,
    },
}

/// How a store object's path was computed from its contents (the `CA` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentAddress {
    /// `text:sha256:<hash>`: a text file (`builtins.toFile`, `.drv`), hashed flat.
    Text(Hash),
    /// `fixed:[r:]<algo>:<hash>`: a fixed-output or added path.
    Fixed {
        /// Flat file hash or NAR hash (`r:`).
        method: FileIngestionMethod,
        /// The hash.
        hash: Hash,
    },
}

impl ContentAddress {
    /// Parses `text:sha256:<digest>` or `fixed:[r:]<algo>:<digest>`, the digest in base16,
    /// nix32 or base64.
    pub fn parse(s: &str) -> Result<Self, ContentAddressError> {
        let (text, rest) = if let Some(rest) = s.strip_prefix("text:") {
            (true, rest)
        } else if let Some(rest) = s.strip_prefix("fixed:") {
            (false, rest)
        } else {
            return Err(ContentAddressError::UnknownMethod(s.to_owned()));
        };
        let (method, rest) = match rest.strip_prefix("r:") {
            Some(rest) if !text => (FileIngestionMethod::Recursive, rest),
            _ => (FileIngestionMethod::Flat, rest),
        };
        let (algo, digest) = rest
            .split_once(':')
            .filter(|(_, d)| !d.contains([':', '-']))
            .ok_or_else(|| ContentAddressError::MissingHash(s.to_owned()))?;
        let bad = |source| ContentAddressError::BadHash {
            ca: s.to_owned(),
            source,
        };
        let algo = algo.parse::<HashAlgo>().map_err(bad)?;
        if text && algo != HashAlgo::Sha256 {
            return Err(ContentAddressError::TextNotSha256(s.to_owned()));
        }
        let hash = Hash::parse_any(digest, Some(algo)).map_err(bad)?;
        Ok(if text {
            Self::Text(hash)
        } else {
            Self::Fixed { method, hash }
        })
    }

    /// Returns the hash.
    pub fn hash(&self) -> &Hash {
        match self {
            Self::Text(hash) | Self::Fixed { hash, .. } => hash,
        }
    }
}

/// Prints the form Nix writes: `text:sha256:<nix32>` or `fixed:[r:]<algo>:<nix32>`.
impl fmt::Display for ContentAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(hash) => write!(f, "text:{hash}"),
            Self::Fixed {
                method: FileIngestionMethod::Recursive,
                hash,
            } => write!(f, "fixed:r:{hash}"),
            Self::Fixed {
                method: FileIngestionMethod::Flat,
                hash,
            } => write!(f, "fixed:{hash}"),
        }
    }
}

/// Why a narinfo could not be parsed. Line numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NarInfoError {
    /// The input is larger than [`MAX_NARINFO_LEN`].
    #[error("narinfo is {size} bytes, more than the {max} accepted")]
    TooLarge {
        /// The input size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The last line does not end in a newline.
    #[error("line {line}: narinfo does not end in a newline")]
    MissingNewline {
        /// The unterminated line.
        line: usize,
    },
    /// A line is not `Key: value`.
    #[error("line {line}: expected 'Key: value'")]
    NotKeyValue {
        /// The line.
        line: usize,
    },
    /// A single-valued key appears a second time.
    #[error("line {line}: '{key}' given a second time")]
    Duplicate {
        /// The line of the repetition.
        line: usize,
        /// The key.
        key: &'static str,
    },
    /// A store path or base name is invalid (`StorePath`, `References`, `Deriver`).
    #[error("line {line}: bad store path in '{key}': {source}")]
    BadStorePath {
        /// The line.
        line: usize,
        /// The key.
        key: &'static str,
        /// Why the path is invalid.
        source: StorePathError,
    },
    /// A hash is invalid (`FileHash`, `NarHash`).
    #[error("line {line}: bad hash in '{key}': {source}")]
    BadHash {
        /// The line.
        line: usize,
        /// The key.
        key: &'static str,
        /// Why the hash is invalid.
        source: HashError,
    },
    /// A size is not a decimal number that fits in 64 bits (`FileSize`, `NarSize`).
    #[error("line {line}: '{key}' is not a size: '{value}'")]
    BadNumber {
        /// The line.
        line: usize,
        /// The key.
        key: &'static str,
        /// The value given.
        value: String,
    },
    /// `NarSize` is 0, which Nix treats as unknown.
    #[error("line {line}: 'NarSize' must not be 0")]
    ZeroNarSize {
        /// The line.
        line: usize,
    },
    /// The `CA` value is not a content address.
    #[error("line {line}: bad content address in 'CA': {source}")]
    BadContentAddress {
        /// The line.
        line: usize,
        /// Why.
        source: ContentAddressError,
    },
    /// A required key is missing (or, for `URL`, empty).
    #[error("required key '{key}' is missing")]
    Missing {
        /// The key.
        key: &'static str,
    },
}

/// The metadata of one store object in a binary cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NarInfo {
    /// The store object (`StorePath`).
    pub path: StorePath,
    /// Where its NAR is, relative to the cache root (`URL`).
    pub url: String,
    /// The NAR's compression (`Compression`); `bzip2` when the file says nothing.
    pub compression: String,
    /// The hash of the compressed file (`FileHash`).
    pub file_hash: Option<Hash>,
    /// The size of the compressed file (`FileSize`).
    pub file_size: Option<u64>,
    /// The hash of the NAR (`NarHash`).
    pub nar_hash: Hash,
    /// The size of the NAR (`NarSize`).
    pub nar_size: u64,
    /// The store objects it references (`References`), possibly itself.
    pub references: BTreeSet<StorePath>,
    /// The derivation that built it (`Deriver`).
    pub deriver: Option<StorePath>,
    /// The platform it was built for (`System`).
    pub system: Option<String>,
    /// Signatures, `key-name:base64`, unparsed (`Sig`).
    pub sigs: BTreeSet<String>,
    /// Its content address (`CA`).
    pub ca: Option<ContentAddress>,
}

/// Computes the fingerprint a binary cache signature covers:
/// `1;<path>;<nar hash as algo:nix32>;<nar size>;<absolute references joined by ','>`.
pub fn fingerprint<'a>(
    store_dir: &str,
    path: &StorePath,
    nar_hash: &Hash,
    nar_size: u64,
    references: impl IntoIterator<Item = &'a StorePath>,
) -> String {
    let refs: Vec<String> = references
        .into_iter()
        .map(|r| r.to_absolute(store_dir))
        .collect();
    format!(
        "1;{};{nar_hash};{nar_size};{}",
        path.to_absolute(store_dir),
        refs.join(",")
    )
}

fn parse_size(line: usize, key: &'static str, value: &str) -> Result<u64, NarInfoError> {
    let bad = || NarInfoError::BadNumber {
        line,
        key,
        value: value.to_owned(),
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    value.parse().map_err(|_| bad())
}

fn parse_hash(line: usize, key: &'static str, value: &str) -> Result<Hash, NarInfoError> {
    Hash::parse_any(value, None).map_err(|source| NarInfoError::BadHash { line, key, source })
}

fn parse_base_name(line: usize, key: &'static str, value: &str) -> Result<StorePath, NarInfoError> {
    StorePath::from_base_name(value).map_err(|source| NarInfoError::BadStorePath {
        line,
        key,
        source,
    })
}

/// Sets a single-valued field, refusing a second value.
fn set_once<T>(
    slot: &mut Option<T>,
    line: usize,
    key: &'static str,
    value: T,
) -> Result<(), NarInfoError> {
    if slot.is_some() {
        return Err(NarInfoError::Duplicate { line, key });
    }
    *slot = Some(value);
    Ok(())
}

impl NarInfo {
    /// Parses a narinfo whose store paths live in `store_dir`.
    pub fn parse(store_dir: &str, text: &str) -> Result<Self, NarInfoError> {
        if text.len() > MAX_NARINFO_LEN {
            return Err(NarInfoError::TooLarge {
                size: text.len(),
                max: MAX_NARINFO_LEN,
            });
        }
        let mut path = None;
        let mut url = None;
        let mut compression = None;
        let mut file_hash = None;
        let mut file_size = None;
        let mut nar_hash = None;
        let mut nar_size = None;
        let mut references = None;
        let mut deriver: Option<Option<StorePath>> = None;
        let mut system = None;
        let mut sigs = BTreeSet::new();
        let mut ca = None;

        let mut rest = text;
        let mut line = 0;
        while !rest.is_empty() {
            line += 1;
            let (content, next) = rest
                .split_once('\n')
                .ok_or(NarInfoError::MissingNewline { line })?;
            rest = next;
            let (key, value) = content
                .split_once(": ")
                .filter(|(key, _)| !key.contains(':'))
                .ok_or(NarInfoError::NotKeyValue { line })?;
            match key {
                "StorePath" => {
                    let p = StorePath::from_absolute(store_dir, value).map_err(|source| {
                        NarInfoError::BadStorePath {
                            line,
                            key: "StorePath",
                            source,
                        }
                    })?;
                    set_once(&mut path, line, "StorePath", p)?;
                }
                "URL" => set_once(&mut url, line, "URL", value.to_owned())?,
                "Compression" => set_once(&mut compression, line, "Compression", value.to_owned())?,
                "FileHash" => {
                    let h = parse_hash(line, "FileHash", value)?;
                    set_once(&mut file_hash, line, "FileHash", h)?;
                }
                "FileSize" => {
                    let n = parse_size(line, "FileSize", value)?;
                    set_once(&mut file_size, line, "FileSize", n)?;
                }
                "NarHash" => {
                    let h = parse_hash(line, "NarHash", value)?;
                    set_once(&mut nar_hash, line, "NarHash", h)?;
                }
                "NarSize" => {
                    let n = parse_size(line, "NarSize", value)?;
                    if n == 0 {
                        return Err(NarInfoError::ZeroNarSize { line });
                    }
                    set_once(&mut nar_size, line, "NarSize", n)?;
                }
                "References" => {
                    let refs = value
                        .split(' ')
                        .filter(|r| !r.is_empty())
                        .map(|r| parse_base_name(line, "References", r))
                        .collect::<Result<BTreeSet<_>, _>>()?;
                    set_once(&mut references, line, "References", refs)?;
                }
                "Deriver" => {
                    let d = if value == UNKNOWN_DERIVER {
                        None
                    } else {
                        Some(parse_base_name(line, "Deriver", value)?)
                    };
                    set_once(&mut deriver, line, "Deriver", d)?;
                }
                "System" => set_once(&mut system, line, "System", value.to_owned())?,
                "Sig" => {
                    sigs.insert(value.to_owned());
                }
                "CA" => {
                    let c = ContentAddress::parse(value)
                        .map_err(|source| NarInfoError::BadContentAddress { line, source })?;
                    set_once(&mut ca, line, "CA", c)?;
                }
                _ => {}
            }
        }

        let url = url
            .filter(|u| !u.is_empty())
            .ok_or(NarInfoError::Missing { key: "URL" })?;
        Ok(Self {
            path: path.ok_or(NarInfoError::Missing { key: "StorePath" })?,
            url,
            compression: compression
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "bzip2".to_owned()),
            file_hash,
            file_size,
            nar_hash: nar_hash.ok_or(NarInfoError::Missing { key: "NarHash" })?,
            nar_size: nar_size.ok_or(NarInfoError::Missing { key: "NarSize" })?,
            references: references.unwrap_or_default(),
            deriver: deriver.flatten(),
            system,
            sigs,
            ca,
        })
    }

    /// Prints the narinfo the way Nix does (see the module documentation).
    pub fn render(&self, store_dir: &str) -> String {
        use fmt::Write as _;
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(s, "StorePath: {}", self.path.to_absolute(store_dir));
        let _ = writeln!(s, "URL: {}", self.url);
        let _ = writeln!(s, "Compression: {}", self.compression);
        if let Some(h) = &self.file_hash {
            let _ = writeln!(s, "FileHash: {h}");
        }
        if let Some(n) = self.file_size {
            let _ = writeln!(s, "FileSize: {n}");
        }
        let _ = writeln!(s, "NarHash: {}", self.nar_hash);
        let _ = writeln!(s, "NarSize: {}", self.nar_size);
        let refs: Vec<&str> = self.references.iter().map(StorePath::base_name).collect();
        let _ = writeln!(s, "References: {}", refs.join(" "));
        if let Some(d) = &self.deriver {
            let _ = writeln!(s, "Deriver: {d}");
        }
        if let Some(sys) = &self.system {
            let _ = writeln!(s, "System: {sys}");
        }
        for sig in &self.sigs {
            let _ = writeln!(s, "Sig: {sig}");
        }
        if let Some(ca) = &self.ca {
            let _ = writeln!(s, "CA: {ca}");
        }
        s
    }

    /// Returns the fingerprint signatures on this store object cover; see [`fingerprint`].
    pub fn fingerprint(&self, store_dir: &str) -> String {
        fingerprint(
            store_dir,
            &self.path,
            &self.nar_hash,
            self.nar_size,
            &self.references,
        )
    }

    /// Signs the fingerprint with `key` and adds the signature (replacing nothing: a second
    /// signature by the same key is the same text, deterministic Ed25519 being what it is).
    pub fn sign(&mut self, store_dir: &str, key: &SecretKey) {
        let sig = key.sign(self.fingerprint(store_dir).as_bytes());
        self.sigs.insert(sig.to_string());
    }

    /// Counts the signatures that are valid and made by a key in `trusted`, as Nix does before
    /// substituting (it wants at least one). Malformed signatures count as invalid.
    pub fn verify(&self, store_dir: &str, trusted: &TrustedKeys) -> usize {
        let fp = self.fingerprint(store_dir);
        self.sigs
            .iter()
            .filter(|sig| trusted.verify_str(fp.as_bytes(), sig))
            .count()
    }
}
