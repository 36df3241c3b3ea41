//! `kiln hash`: hash files and trees, convert between hash encodings.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use kiln_formats::hash::{Encoding, Hash, HashAlgo, Hasher, ThreadedHasher};

#[derive(Debug, Subcommand)]
pub enum HashCommand {
    /// Print the hash of each file's contents
    File {
        #[command(flatten)]
        opts: HashOpts,
        /// Files to hash
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the hash of the NAR serialisation of each path (as store paths are hashed)
    Path {
        #[command(flatten)]
        opts: HashOpts,
        /// Paths to hash
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Convert hashes between encodings
    Convert {
        /// Algorithm of hashes that do not name one (md5, sha1, sha256, sha512)
        #[arg(long = "hash-algo", visible_alias = "type", value_name = "ALGO")]
        algo: Option<HashAlgo>,
        /// Require the input to be in this encoding
        #[arg(long, value_enum)]
        from: Option<Format>,
        /// Encoding to print
        #[arg(long, value_enum, default_value_t = Format::Sri)]
        to: Format,
        /// Hashes to convert
        #[arg(required = true)]
        hashes: Vec<String>,
    },
}

/// Algorithm and output encoding of `kiln hash file|path`.
#[derive(Debug, Args)]
pub struct HashOpts {
    /// Hash algorithm (md5, sha1, sha256, sha512)
    #[arg(
        long = "type",
        visible_alias = "algo",
        default_value = "sha256",
        value_name = "ALGO"
    )]
    algo: HashAlgo,
    /// Print the hash in base16 (hexadecimal)
    #[arg(long, group = "format")]
    base16: bool,
    /// Print the hash in Nix's base-32
    #[arg(long, visible_alias = "nix32", group = "format")]
    base32: bool,
    /// Print the hash in base64
    #[arg(long, group = "format")]
    base64: bool,
    /// Print the hash as SRI, `algo-<base64>` (the default)
    #[arg(long, group = "format")]
    sri: bool,
}

impl HashOpts {
    fn encoding(&self) -> Encoding {
        if self.base16 {
            Encoding::Base16
        } else if self.base32 {
            Encoding::Nix32
        } else if self.base64 {
            Encoding::Base64
        } else {
            Encoding::Sri
        }
    }
}

/// A hash encoding named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lowercase hexadecimal
    Base16,
    /// Nix's base-32
    #[value(alias = "base32")]
    Nix32,
    /// Base64 with padding
    Base64,
    /// `algo-<base64>`
    Sri,
}

impl From<Format> for Encoding {
    fn from(f: Format) -> Self {
        match f {
            Format::Base16 => Encoding::Base16,
            Format::Nix32 => Encoding::Nix32,
            Format::Base64 => Encoding::Base64,
            Format::Sri => Encoding::Sri,
        }
    }
}

pub fn run(cmd: HashCommand) -> anyhow::Result<()> {
    let mut out = crate::output::stdout();
    match cmd {
        HashCommand::File { opts, paths } => {
            for path in paths {
                let h = hash_file(&path, opts.algo)?;
                writeln!(out, "{}", h.encode(opts.encoding(), false))?;
            }
        }
        HashCommand::Path { opts, paths } => {
            for path in paths {
                let h = hash_path(&path, opts.algo)?;
                writeln!(out, "{}", h.encode(opts.encoding(), false))?;
            }
        }
        HashCommand::Convert {
            algo,
            from,
            to,
            hashes,
        } => {
            for s in hashes {
                let h = Hash::parse_any(&s, algo)?;
                if let Some(from) = from {
                    if detect_format(&s, &h) != from {
                        bail!("hash '{s}' is not in the {from:?} encoding");
                    }
                }
                writeln!(out, "{}", h.encode(to.into(), false))?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Tells which encoding a successfully parsed hash string was written in.
fn detect_format(s: &str, h: &Hash) -> Format {
    let digest = s.rsplit([':', '-']).next().unwrap_or(s);
    if s.starts_with(&format!("{}-", h.algo())) {
        Format::Sri
    } else if digest.len() == 2 * h.algo().digest_len() {
        Format::Base16
    } else if digest.len() == kiln_formats::nixbase32::encoded_len(h.algo().digest_len()) {
        Format::Nix32
    } else {
        Format::Base64
    }
}

/// Hashes a file's contents, streaming it in large chunks.
pub fn hash_file(path: &Path, algo: HashAlgo) -> anyhow::Result<Hash> {
    let mut file =
        File::open(path).with_context(|| format!("opening file '{}'", path.display()))?;
    let mut hasher = Hasher::new(algo);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading file '{}'", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finish())
}

/// Hashes the NAR serialisation of a path without materialising the NAR; the files are read
/// on this thread while another hashes.
pub fn hash_path(path: &Path, algo: HashAlgo) -> anyhow::Result<Hash> {
    let mut hasher = ThreadedHasher::new(algo);
    kiln_formats::nar::dump(path, &mut hasher)
        .with_context(|| format!("hashing path '{}'", path.display()))?;
    Ok(hasher.finish())
}
