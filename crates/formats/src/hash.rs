//! Cryptographic hashes as Nix uses them: the four algorithms, their text encodings, and the
//! folding of a digest to fewer bytes.
//!
//! Spec: the Nix manual's `nix hash` pages and `protocols/nix32.md`. A hash prints as base16
//! (lowercase hex), nix32 (see [`crate::nixbase32`]), base64 (RFC 4648 with padding), or SRI
//! (`sha256-<base64>`). Parsing accepts `algo:digest` with the digest in any of the first three
//! encodings (told apart by length), SRI, or a bare digest whose algorithm the caller supplies.
//!
//! SHA-256 comes from the `sha2` crate, which picks the CPU's SHA extensions at run time; the
//! throughput is compared with `openssl dgst` in `bench/`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use sha2::Digest as _;

use crate::nixbase32;

/// The longest digest of any supported algorithm (SHA-512), in bytes.
pub const MAX_DIGEST_LEN: usize = 64;

/// A hash algorithm Nix supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgo {
    /// MD5, 16 bytes; kept for old fixed-output derivations.
    Md5,
    /// SHA-1, 20 bytes.
    Sha1,
    /// SHA-256, 32 bytes; what store paths and NAR hashes use.
    Sha256,
    /// SHA-512, 64 bytes.
    Sha512,
}

impl HashAlgo {
    /// All algorithms, weakest first.
    pub const ALL: [HashAlgo; 4] = [Self::Md5, Self::Sha1, Self::Sha256, Self::Sha512];

    /// Returns the name Nix prints and parses (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Returns the digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

impl fmt::Display for HashAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashAlgo {
    type Err = HashError;

    fn from_str(s: &str) -> Result<Self, HashError> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| HashError::UnknownAlgo(s.to_owned()))
    }
}

/// A text encoding of a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Lowercase hexadecimal.
    Base16,
    /// Nix's base-32.
    Nix32,
    /// RFC 4648 base64 with padding.
    Base64,
    /// Subresource Integrity: `algo-<base64>`, always with its algorithm.
    Sri,
}

/// Why a hash could not be parsed or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The algorithm name is not one of md5, sha1, sha256, sha512.
    #[error("unknown hash algorithm '{0}', expected 'md5', 'sha1', 'sha256' or 'sha512'")]
    UnknownAlgo(String),
    /// A bare digest was given and nobody said which algorithm it is.
    #[error("hash '{0}' does not include a type, nor is the type otherwise known from context")]
    MissingAlgo(String),
    /// The algorithm in the string differs from the one the caller expects.
    #[error("hash '{hash}' should have type '{expected}'")]
    AlgoMismatch {
        /// The hash as given.
        hash: String,
        /// The algorithm the caller required.
        expected: HashAlgo,
    },
    /// The digest length fits none of the encodings for the algorithm.
    #[error("hash '{hash}' has wrong length for hash type '{algo}'")]
    BadLength {
        /// The hash as given.
        hash: String,
        /// The algorithm it was read as.
        algo: HashAlgo,
    },
    /// The digest has characters outside its encoding's alphabet.
    #[error("invalid {encoding} hash '{hash}'")]
    BadDigest {
        /// The hash as given.
        hash: String,
        /// The encoding the length implied.
        encoding: &'static str,
    },
    /// Raw digest bytes of the wrong length for the algorithm.
    #[error("digest of {found} bytes given for {algo}, which has {expected}")]
    BadDigestLen {
        /// The algorithm.
        algo: HashAlgo,
        /// Bytes given.
        found: usize,
        /// Bytes the algorithm produces.
        expected: usize,
    },
}

/// A digest together with its algorithm.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash {
    algo: HashAlgo,
    bytes: [u8; MAX_DIGEST_LEN],
}

impl Hash {
    /// Builds a hash from raw digest bytes, which must have the algorithm's length.
    pub fn from_digest(algo: HashAlgo, digest: &[u8]) -> Result<Self, HashError> {
        if digest.len() != algo.digest_len() {
            return Err(HashError::BadDigestLen {
                algo,
                found: digest.len(),
                expected: algo.digest_len(),
            });
        }
        let mut bytes = [0u8; MAX_DIGEST_LEN];
        bytes[..digest.len()].copy_from_slice(digest);
        Ok(Self { algo, bytes })
    }

    /// Hashes `data` in one go.
    pub fn digest_bytes(algo: HashAlgo, data: &[u8]) -> Self {
        let mut h = Hasher::new(algo);
        h.update(data);
        h.finish()
    }

    /// Returns the algorithm.
    pub fn algo(&self) -> HashAlgo {
        self.algo
    }

    /// Returns the digest bytes.
    pub fn digest(&self) -> &[u8] {
        &self.bytes[..self.algo.digest_len()]
    }

    /// Returns the digest as lowercase hex.
    pub fn to_base16(&self) -> String {
        let mut s = String::with_capacity(self.digest().len() * 2);
        for b in self.digest() {
            s.push(char::from(b"0123456789abcdef"[(b >> 4) as usize]));
            s.push(char::from(b"0123456789abcdef"[(b & 15) as usize]));
        }
        s
    }

    /// Returns the digest in nix32.
    pub fn to_nix32(&self) -> String {
        nixbase32::encode(self.digest())
    }

    /// Returns the digest in padded base64.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.digest())
    }

    /// Returns the SRI form, `sha256-<base64>`.
    pub fn to_sri(&self) -> String {
        format!("{}-{}", self.algo, self.to_base64())
    }

    /// Encodes the digest; with `with_algo`, prefixes `algo:` (SRI always carries its algorithm).
    pub fn encode(&self, encoding: Encoding, with_algo: bool) -> String {
        let digest = match encoding {
            Encoding::Base16 => self.to_base16(),
            Encoding::Nix32 => self.to_nix32(),
            Encoding::Base64 => self.to_base64(),
            Encoding::Sri => return self.to_sri(),
        };
        if with_algo {
            format!("{}:{digest}", self.algo)
        } else {
            digest
        }
    }

    /// Parses a hash in any form Nix accepts: `algo:digest`, SRI `algo-base64`, or a bare digest
    /// when `algo` is given. When both the string and `algo` name an algorithm they must agree.
    pub fn parse_any(s: &str, algo: Option<HashAlgo>) -> Result<Self, HashError> {
        let (named, rest, sri) = if let Some((name, rest)) = s.split_once(':') {
            (Some(name.parse::<HashAlgo>()?), rest, false)
        } else if let Some((name, rest)) = s.split_once('-') {
            match name.parse::<HashAlgo>() {
                Ok(a) => (Some(a), rest, true),
                Err(_) if algo.is_some() => (None, s, false),
                Err(e) => return Err(e),
            }
        } else {
            (None, s, false)
        };
        let algo = match (named, algo) {
            (Some(n), Some(a)) if n != a => {
                return Err(HashError::AlgoMismatch {
                    hash: s.to_owned(),
                    expected: a,
                })
            }
            (Some(n), _) => n,
            (None, Some(a)) => a,
            (None, None) => return Err(HashError::MissingAlgo(s.to_owned())),
        };
        if sri {
            Self::decode_base64(s, rest, algo)
        } else {
            Self::decode_digest(s, rest, algo)
        }
    }

    /// Parses an SRI hash (`sha256-<base64>`).
    pub fn parse_sri(s: &str) -> Result<Self, HashError> {
        let (name, rest) = s
            .split_once('-')
            .ok_or_else(|| HashError::MissingAlgo(s.to_owned()))?;
        let algo = name.parse::<HashAlgo>()?;
        Self::decode_base64(s, rest, algo)
    }

    /// Decodes a bare digest of a known algorithm, picking the encoding from its length.
    fn decode_digest(whole: &str, digest: &str, algo: HashAlgo) -> Result<Self, HashError> {
        let n = algo.digest_len();
        let bad = |encoding| HashError::BadDigest {
            hash: whole.to_owned(),
            encoding,
        };
        if digest.len() == 2 * n {
            let mut bytes = Vec::with_capacity(n);
            for pair in digest.as_bytes().chunks(2) {
                let hi = hex_val(pair[0]).ok_or_else(|| bad("base-16"))?;
                let lo = hex_val(pair[1]).ok_or_else(|| bad("base-16"))?;
                bytes.push(hi << 4 | lo);
            }
            Self::from_digest(algo, &bytes)
        } else if digest.len() == nixbase32::encoded_len(n) {
            let bytes = nixbase32::decode(digest.as_bytes(), n).map_err(|_| bad("base-32"))?;
            Self::from_digest(algo, &bytes)
        } else if digest.len() == n.div_ceil(3) * 4 {
            Self::decode_base64(whole, digest, algo)
        } else {
            Err(HashError::BadLength {
                hash: whole.to_owned(),
                algo,
            })
        }
    }

    fn decode_base64(whole: &str, digest: &str, algo: HashAlgo) -> Result<Self, HashError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(digest)
            .map_err(|_| HashError::BadDigest {
                hash: whole.to_owned(),
                encoding: "base-64",
            })?;
        Self::from_digest(algo, &bytes).map_err(|_| HashError::BadLength {
            hash: whole.to_owned(),
            algo,
        })
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algo, self.to_base16())
    }
}

/// Prints `algo:<nix32>`, the form Nix uses in most of its output.
impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algo, self.to_nix32())
    }
}

/// A streaming hasher for any [`HashAlgo`]; also an [`std::io::Write`] sink.
#[derive(Clone)]
pub enum Hasher {
    /// MD5 state.
    Md5(md5::Md5),
    /// SHA-1 state.
    Sha1(sha1::Sha1),
    /// SHA-256 state.
    Sha256(sha2::Sha256),
    /// SHA-512 state.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// Starts a hash of the given algorithm.
    pub fn new(algo: HashAlgo) -> Self {
        match algo {
            HashAlgo::Md5 => Self::Md5(md5::Md5::new()),
            HashAlgo::Sha1 => Self::Sha1(sha1::Sha1::new()),
            HashAlgo::Sha256 => Self::Sha256(sha2::Sha256::new()),
            HashAlgo::Sha512 => Self::Sha512(sha2::Sha512::new()),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Md5(h) => h.update(data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    /// Returns the algorithm.
    pub fn algo(&self) -> HashAlgo {
        match self {
            Self::Md5(_) => HashAlgo::Md5,
            Self::Sha1(_) => HashAlgo::Sha1,
            Self::Sha256(_) => HashAlgo::Sha256,
            Self::Sha512(_) => HashAlgo::Sha512,
        }
    }

    /// Finishes and returns the hash.
    pub fn finish(self) -> Hash {
        let algo = self.algo();
        let mut bytes = [0u8; MAX_DIGEST_LEN];
        match self {
            Self::Md5(h) => bytes[..16].copy_from_slice(&h.finalize()),
            Self::Sha1(h) => bytes[..20].copy_from_slice(&h.finalize()),
            Self::Sha256(h) => bytes[..32].copy_from_slice(&h.finalize()),
            Self::Sha512(h) => bytes[..64].copy_from_slice(&h.finalize()),
        }
        Hash { algo, bytes }
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Folds `digest` into `n` bytes by XOR-ing byte `i` into position `i % n`, as Nix does to turn
/// a SHA-256 into the 160 bits of a store path's hash part.
pub fn compress(digest: &[u8], n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    for (i, b) in digest.iter().enumerate() {
        out[i % n] ^= b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_abc() {
        let cases = [
            (HashAlgo::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (HashAlgo::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                HashAlgo::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                HashAlgo::Sha512,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
        ];
        for (algo, hex) in cases {
            let h = Hash::digest_bytes(algo, b"abc");
            assert_eq!(h.to_base16(), hex);
            for enc in [Encoding::Base16, Encoding::Nix32, Encoding::Base64] {
                let s = h.encode(enc, true);
                assert_eq!(Hash::parse_any(&s, None).unwrap(), h, "{s}");
                let bare = h.encode(enc, false);
                assert_eq!(Hash::parse_any(&bare, Some(algo)).unwrap(), h, "{bare}");
            }
            assert_eq!(Hash::parse_any(&h.to_sri(), Some(algo)).unwrap(), h);
            assert_eq!(Hash::parse_sri(&h.to_sri()).unwrap(), h);
        }
    }

    #[test]
    fn parse_errors() {
        let h = Hash::digest_bytes(HashAlgo::Sha256, b"");
        assert!(matches!(
            Hash::parse_any(&h.to_base16(), None),
            Err(HashError::MissingAlgo(_))
        ));
        assert!(matches!(
            Hash::parse_any(&h.encode(Encoding::Nix32, true), Some(HashAlgo::Sha1)),
            Err(HashError::AlgoMismatch { .. })
        ));
        assert!(matches!(
            Hash::parse_any("sha256:abc", None),
            Err(HashError::BadLength { .. })
        ));
        assert!(matches!(
            Hash::parse_any("sha3:abc", None),
            Err(HashError::UnknownAlgo(_))
        ));
        let bad_hex = format!("sha1:{}", "g".repeat(40));
        assert!(matches!(
            Hash::parse_any(&bad_hex, None),
            Err(HashError::BadDigest { .. })
        ));
    }

    #[test]
    fn compress_folds() {
        assert_eq!(compress(&[1, 2, 3, 4, 5], 2), vec![1 ^ 3 ^ 5, 2 ^ 4]);
        assert_eq!(compress(&[0xff; 32], 20).len(), 20);
    }
}

/// A [`Hasher`] that runs on a thread of its own: writes are batched into large buffers and
/// handed over, so the writer (which reads files, for `nar::dump`) and SHA-256 overlap on two
/// cores. The thread starts only once a first full buffer (1 MiB) is handed over: small inputs
/// are hashed inline at [`ThreadedHasher::finish`], with no thread at all.
pub struct ThreadedHasher {
    algo: HashAlgo,
    buf: Vec<u8>,
    worker: Option<Worker>,
}

struct Worker {
    tx: std::sync::mpsc::SyncSender<Vec<u8>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
    handle: std::thread::JoinHandle<Hash>,
}

/// The size of the buffers handed to the hashing thread.
const THREADED_CHUNK: usize = 1 << 20;

impl ThreadedHasher {
    /// Starts hashing with `algo`.
    pub fn new(algo: HashAlgo) -> Self {
        ThreadedHasher {
            algo,
            buf: Vec::new(),
            worker: None,
        }
    }

    fn start(algo: HashAlgo) -> Worker {
        // Two buffers in flight and a few spare: enough to keep both threads busy.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let (spare_tx, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let handle = std::thread::spawn(move || {
            let mut hasher = Hasher::new(algo);
            for mut chunk in rx {
                hasher.update(&chunk);
                chunk.clear();
                // The writer may have enough spares already; then the buffer is dropped.
                let _ = spare_tx.try_send(chunk);
            }
            hasher.finish()
        });
        Worker { tx, spare, handle }
    }

    fn flush_chunk(&mut self) {
        let worker = self.worker.get_or_insert_with(|| Self::start(self.algo));
        let next = worker
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(THREADED_CHUNK));
        let full = std::mem::replace(&mut self.buf, next);
        // The worker stops only when `tx` is dropped, so this cannot fail.
        let _ = worker.tx.send(full);
    }

    /// Hashes what is left and returns the hash.
    pub fn finish(mut self) -> Hash {
        match self.worker.take() {
            None => Hash::digest_bytes(self.algo, &self.buf),
            Some(worker) => {
                if !self.buf.is_empty() {
                    let _ = worker.tx.send(std::mem::take(&mut self.buf));
                }
                drop(worker.tx);
                worker
                    .handle
                    .join()
                    .expect("the hashing thread does not panic")
            }
        }
    }
}

impl std::io::Write for ThreadedHasher {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(THREADED_CHUNK);
        }
        let room = THREADED_CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == THREADED_CHUNK {
            self.flush_chunk();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod threaded_tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn threaded_equals_direct() {
        let data: Vec<u8> = (0..3_000_017u32).map(|i| (i * 31 % 251) as u8).collect();
        for algo in HashAlgo::ALL {
            let mut t = ThreadedHasher::new(algo);
            // Odd-sized writes across chunk boundaries.
            for piece in data.chunks(70_001) {
                t.write_all(piece).unwrap();
            }
            assert_eq!(t.finish(), Hash::digest_bytes(algo, &data), "{algo}");
        }
        assert_eq!(
            ThreadedHasher::new(HashAlgo::Sha256).finish(),
            Hash::digest_bytes(HashAlgo::Sha256, b"")
        );
    }
}
