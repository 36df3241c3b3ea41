//! Hashing: `hashString`, `hashFile`, `convertHash`.
//!
//! Digests and their encodings come from `kiln_formats::hash`; this module adds Nix's
//! argument handling and its error wording (current Nix's, which differs a little from the
//! formats crate's).

use std::path::Path;

use kiln_formats::hash::{Encoding, Hash, HashAlgo, HashError, Hasher};

use super::{attrs, string, with_frame, ArgResult};
use crate::eval::{Eval, EvalResult};
use crate::eval_error::{ErrorKind, EvalError};
use crate::span::Span;
use crate::value::{PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "hashString",
        hash_string,
        [
            "type" => "first argument passed to builtins.hashString",
            "s" => "second argument passed to builtins.hashString",
        ],
        "The base-16 hash of the string `s` with the algorithm `type` (`md5`, `sha1`, `sha256` or `sha512`).",
    ),
    prim!(
        "hashFile",
        hash_file,
        [
            "type" => "first argument passed to builtins.hashFile",
            "p",
        ],
        "The base-16 hash of the file at path `p` with the algorithm `type`.",
    ),
    prim!(
        "convertHash",
        convert_hash,
        [
            "args" => "first argument passed to builtins.convertHash",
        ],
        "Converts `args.hash` (of algorithm `args.hashAlgo` if it does not say) to the format `args.toHashFormat`: `base16`, `nix32`, `base32`, `base64` or `sri`.",
    ),
];

/// Parses an algorithm name, with Nix's message for an unknown one.
fn algo(name: &[u8], span: Span) -> EvalResult<HashAlgo> {
    let name = String::from_utf8_lossy(name);
    name.parse().map_err(|_| {
        EvalError::new(
            crate::eval_error::ErrorKind::Usage(format!(
                "unknown hash algorithm '{name}', expect 'md5', 'sha1', 'sha256', or 'sha512'"
            )),
            Some(span),
        )
    })
}

/// The algorithm a builtin takes as its first argument, `v`, with that argument's frame on any
/// error forcing it.
fn algo_arg<'a>(ev: &mut Eval<'a>, v: Value<'a>, span: Span) -> EvalResult<HashAlgo> {
    let s = string(ev, v, span).in_arg(0)?;
    algo(s.bytes, span)
}

fn hash_string<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let algo = algo_arg(ev, args[0], span)?;
    let s = string(ev, args[1], span).in_arg(1)?;
    let hash = Hash::digest_bytes(algo, s.bytes);
    Ok(ev.new_str(hash.to_base16().as_bytes()))
}

/// An I/O error's text without Rust's ` (os error N)` suffix, as Nix words it.
pub(crate) fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

fn hash_file<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let algo = algo_arg(ev, args[0], span)?;
    let p = super::control::realised_path_arg(ev, args[1], span)?;
    let path = {
        use std::os::unix::ffi::OsStrExt;
        Path::new(std::ffi::OsStr::from_bytes(&p)).to_path_buf()
    };
    let bytes = ev.io.read_file(&path).map_err(|e| {
        let verb = if e.kind() == std::io::ErrorKind::IsADirectory {
            "reading from"
        } else {
            "opening"
        };
        EvalError::msg(
            format!("{verb} file '{}': {}", path.display(), io_message(&e)),
            span,
        )
    })?;
    let mut hasher = Hasher::new(algo);
    hasher.update(&bytes);
    Ok(ev.new_str(hasher.finish().to_base16().as_bytes()))
}

/// Nix's wording for a hash that does not parse.
pub(super) fn parse_error(e: HashError, span: Span) -> Box<EvalError> {
    let message = match e {
        HashError::UnknownAlgo(name) => {
            return algo(name.as_bytes(), span).expect_err("an unknown algorithm")
        }
        HashError::BadLength { hash, algo } => {
            let digest = digest_part(&hash);
            format!("hash '{digest}' has wrong length for hash algorithm '{algo}'")
        }
        HashError::BadDigest { hash, encoding } => {
            let digest = digest_part(&hash);
            format!("invalid {encoding} hash '{digest}'")
        }
        other => other.to_string(),
    };
    EvalError::msg(message, span)
}

/// The algorithm and digest of an SRI hash (`algo-digest` with a known algorithm, no `:`).
fn sri_parts(hash: &str) -> Option<(&str, &str)> {
    if hash.contains(':') {
        return None;
    }
    let (name, digest) = hash.split_once('-')?;
    name.parse::<HashAlgo>().ok()?;
    Some((name, digest))
}

/// The digest of `algo:digest` or `algo-digest`.
fn digest_part(hash: &str) -> &str {
    for sep in [':', '-'] {
        if let Some((name, rest)) = hash.split_once(sep) {
            if name.parse::<HashAlgo>().is_ok() {
                return rest;
            }
        }
    }
    hash
}

fn convert_hash<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let set = attrs(ev, args[0], span).arg(0)?;
    let field = |ev: &mut Eval<'a>, name: &[u8]| {
        let sym = ev.sym(name);
        set.get(sym).map(|a| a.value)
    };
    // Nix's missing attribute here has no position, only the frame saying what it looked for.
    let missing = |name: &str| {
        let mut e = EvalError::new(
            ErrorKind::MissingAttr {
                name: name.to_owned(),
                suggestions: Vec::new(),
            },
            None,
        );
        e.add_trace(
            format!("while locating the attribute '{name}'"),
            None,
            false,
        );
        e
    };
    let attr_frame = |name: &'static str| {
        move |e| {
            with_frame(
                e,
                &format!("while evaluating the attribute '{name}'"),
                span,
                None,
            )
        }
    };
    let hash = field(ev, b"hash").ok_or_else(|| missing("hash"))?;
    let hash = string(ev, hash, span).map_err(attr_frame("hash"))?;
    let algo = match field(ev, b"hashAlgo") {
        Some(v) => {
            let name = string(ev, v, span).map_err(attr_frame("hashAlgo"))?;
            Some(algo(name.bytes, span)?)
        }
        None => None,
    };
    let format = field(ev, b"toHashFormat").ok_or_else(|| missing("toHashFormat"))?;
    let format = string(ev, format, span).map_err(attr_frame("toHashFormat"))?;
    let encoding = match format.bytes {
        b"base16" => Encoding::Base16,
        b"nix32" | b"base32" => Encoding::Nix32,
        b"base64" => Encoding::Base64,
        b"sri" => Encoding::Sri,
        // A usage error in Nix, as an unknown algorithm is.
        other => {
            return Err(EvalError::new(
                ErrorKind::Usage(format!(
                    "unknown hash format '{}', expect 'base16', 'base32', 'base64', or 'sri'",
                    String::from_utf8_lossy(other)
                )),
                Some(span),
            ))
        }
    };
    let text = String::from_utf8_lossy(hash.bytes).into_owned();
    let parsed = match sri_parts(&text) {
        // Nix reads SRI digests with or without their `=` padding, and calls any bad one
        // an invalid SRI hash.
        Some((name, digest)) => {
            let bare = digest.trim_end_matches('=');
            let padded = format!("{name}-{bare}{}", "=".repeat((4 - bare.len() % 4) % 4));
            Hash::parse_any(&padded, algo).map_err(|e| match e {
                HashError::BadLength { .. } | HashError::BadDigest { .. } => {
                    EvalError::msg(format!("invalid SRI hash '{digest}'"), span)
                }
                other => parse_error(other, span),
            })?
        }
        None => Hash::parse_any(&text, algo).map_err(|e| parse_error(e, span))?,
    };
    Ok(ev.new_str(parsed.encode(encoding, false).as_bytes()))
}
