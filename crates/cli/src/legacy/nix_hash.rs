//! `nix-hash`: the NAR or flat hash of paths, and conversion between hash encodings.
//!
//! Flags as in current Nix's manual page: `[--flat] [--base16|--base32|--base64|--sri]
//! [--truncate] [--type ALGO] PATH…` and `[--to-base16|--to-base32|--to-base64|--to-sri]
//! [--type ALGO] HASH…`. The last encoding flag wins. Hashing defaults to MD5 in base16;
//! conversion requires the algorithm in the hash or from `--type`.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use kiln_formats::hash::{compress, Encoding, Hash, HashAlgo};
use kiln_formats::nixbase32;

use super::usage;
use crate::commands::hash::{hash_file, hash_path};

const HELP: &str = "\
Usage: nix-hash [--flat] [--base16|--base32|--base64|--sri] [--truncate] [--type ALGO] PATH...
       nix-hash [--to-base16|--to-base32|--to-base64|--to-sri] [--type ALGO] HASH...

Compute the cryptographic hash of the NAR serialisation of each PATH (or, with --flat, of each
file's contents), or convert each HASH to another encoding.

Options:
  --flat          hash the file's contents, not its NAR serialisation
  --base16        print in hexadecimal (the default)
  --base32        print in Nix's base-32
  --base64        print in base64
  --sri           print as SRI (ALGO-<base64>)
  --truncate      fold the hash to 160 bits
  --type ALGO     md5 (default when hashing), sha1, sha256 or sha512
  --to-base16, --to-base32, --to-base64, --to-sri
                  convert each HASH argument to that encoding
  --help          show this help
  --version       show the version";

/// Runs `nix-hash` with `args`.
pub fn run(program: &str, args: &[String]) -> anyhow::Result<()> {
    let mut flat = false;
    let mut truncate = false;
    let mut algo: Option<HashAlgo> = None;
    let mut encoding = Encoding::Base16;
    let mut convert = false;
    let mut operands = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--help" => {
                println!("{HELP}");
                return Ok(());
            }
            "--version" => {
                println!("{program} (Kiln) {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            "--flat" => flat = true,
            "--truncate" => truncate = true,
            "--base16" => encoding = Encoding::Base16,
            "--base32" => encoding = Encoding::Nix32,
            "--base64" => encoding = Encoding::Base64,
            "--sri" => encoding = Encoding::Sri,
            "--to-base16" | "--to-base32" | "--to-base64" | "--to-sri" => {
                convert = true;
                encoding = match arg.as_str() {
                    "--to-base16" => Encoding::Base16,
                    "--to-base32" => Encoding::Nix32,
                    "--to-base64" => Encoding::Base64,
                    _ => Encoding::Sri,
                };
            }
            "--type" => {
                let name = iter
                    .next()
                    .ok_or_else(|| usage("flag '--type' requires an argument"))?;
                algo = Some(name.parse().map_err(|e| usage(format!("{e}")))?);
            }
            "--" => operands.extend(iter.by_ref().cloned()),
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(usage(format!("unrecognised flag '{flag}'")));
            }
            operand => operands.push(operand.to_owned()),
        }
    }

    let mut out = crate::output::stdout();
    for operand in &operands {
        let line = if convert {
            Hash::parse_any(operand, algo)?.encode(encoding, false)
        } else {
            let algo = algo.unwrap_or(HashAlgo::Md5);
            let path = Path::new(operand);
            let h = if flat {
                hash_file(path, algo)?
            } else {
                hash_path(path, algo)?
            };
            if truncate && h.digest().len() > 20 {
                encode_raw(algo, &compress(h.digest(), 20), encoding)
            } else {
                h.encode(encoding, false)
            }
        };
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// Encodes digest bytes that no longer have their algorithm's length (after `--truncate`).
fn encode_raw(algo: HashAlgo, bytes: &[u8], encoding: Encoding) -> String {
    let base64 = || base64::engine::general_purpose::STANDARD.encode(bytes);
    match encoding {
        Encoding::Base16 => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        Encoding::Nix32 => nixbase32::encode(bytes),
        Encoding::Base64 => base64(),
        Encoding::Sri => format!("{algo}-{}", base64()),
    }
}
