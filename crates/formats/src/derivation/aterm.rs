//! The ATerm text form of a derivation: parser and printer.
//!
//! The grammar is flat (lists of tuples of strings, at most three levels deep), so the parser is
//! a single forward pass without recursion; its only cap is [`MAX_ATERM_SIZE`] on the input.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{is_valid_output_name, Derivation, DerivationOutput};
use crate::hash::{Hash, HashAlgo};
use crate::store_path::{FileIngestionMethod, StorePath, StorePathError};

/// The largest `.drv` file the parser accepts, in bytes (128 MiB; real ones are kilobytes, the
/// largest structured-attrs ones a few megabytes).
pub const MAX_ATERM_SIZE: usize = 128 << 20;

/// Why a `.drv` file could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at offset {offset}")]
pub struct ParseError {
    /// Byte offset in the input where the problem starts.
    pub offset: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

/// What is wrong with a `.drv` file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// A different byte or token was required here.
    #[error("expected {0}")]
    Expected(&'static str),
    /// The input ended where more was required.
    #[error("unexpected end of input, expected {0}")]
    UnexpectedEnd(&'static str),
    /// A backslash escape other than `\"`, `\\`, `\n`, `\r`, `\t`.
    #[error("invalid escape '\\{}' in string", char::from(*.0).escape_default())]
    BadEscape(u8),
    /// A raw newline, carriage return or tab inside a string (Nix always escapes them).
    #[error("unescaped control character {:?} in string", char::from(*.0))]
    RawControl(u8),
    /// A store path that is not valid in the store directory.
    #[error("invalid store path: {0}")]
    BadStorePath(StorePathError),
    /// A field that must be text is not UTF-8.
    #[error("{0} is not valid UTF-8")]
    NotUtf8(&'static str),
    /// An output name that is empty or has characters a store path name may not.
    #[error("invalid output name '{0}'")]
    BadOutputName(String),
    /// The hash algorithm column is not `[r:]md5|sha1|sha256|sha512`.
    #[error("invalid hash algorithm '{0}'")]
    BadHashAlgo(String),
    /// The hash column is not lowercase base16 of the algorithm's length.
    #[error("invalid {algo} hash '{hash}', expected {len} lowercase hexadecimal digits")]
    BadHash {
        /// The hash as written.
        hash: String,
        /// The algorithm it should be.
        algo: HashAlgo,
        /// Expected number of digits.
        len: usize,
    },
    /// The output's path, algorithm and hash columns make no known combination.
    #[error("output '{0}' has an inconsistent combination of path, hash algorithm and hash")]
    InconsistentOutput(String),
    /// A key is not strictly greater than the one before: Nix writes sorted, unique keys.
    #[error("{what} not in strictly ascending order (unsorted or duplicate)")]
    Unsorted {
        /// Which collection.
        what: &'static str,
    },
    /// Data follows the closing parenthesis.
    #[error("trailing data after the derivation")]
    TrailingData,
    /// The input is larger than [`MAX_ATERM_SIZE`].
    #[error("derivation of {0} bytes exceeds the limit of {MAX_ATERM_SIZE} bytes")]
    TooLarge(usize),
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    store_dir: &'a str,
}

type Result<T> = std::result::Result<T, ParseError>;

impl<'a> Parser<'a> {
    fn err<T>(&self, offset: usize, kind: ParseErrorKind) -> Result<T> {
        Err(ParseError { offset, kind })
    }

    /// Consumes `lit`, or fails at the first byte that differs.
    fn expect(&mut self, lit: &'static [u8], what: &'static str) -> Result<()> {
        for &b in lit {
            match self.buf.get(self.pos) {
                Some(&c) if c == b => self.pos += 1,
                Some(_) => return self.err(self.pos, ParseErrorKind::Expected(what)),
                None => return self.err(self.pos, ParseErrorKind::UnexpectedEnd(what)),
            }
        }
        Ok(())
    }

    /// Consumes `b` if it is next.
    fn eat(&mut self, b: u8) -> bool {
        if self.buf.get(self.pos) == Some(&b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Parses a list `[item,item,…]`, calling `item` for each element.
    fn list(&mut self, mut item: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        self.expect(b"[", "'['")?;
        if self.eat(b']') {
            return Ok(());
        }
        loop {
            item(self)?;
            match self.buf.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(_) => return self.err(self.pos, ParseErrorKind::Expected("',' or ']'")),
                None => return self.err(self.pos, ParseErrorKind::UnexpectedEnd("',' or ']'")),
            }
        }
    }

    /// Parses a quoted string with Nix's escapes, returning its start offset and bytes.
    fn string(&mut self) -> Result<(usize, Vec<u8>)> {
        let start = self.pos;
        self.expect(b"\"", "'\"'")?;
        let mut out = Vec::new();
        loop {
            let rest = &self.buf[self.pos..];
            // Copy the run up to the next special byte in one go.
            let run = rest
                .iter()
                .position(|&c| matches!(c, b'"' | b'\\' | b'\n' | b'\r' | b'\t'))
                .unwrap_or(rest.len());
            out.extend_from_slice(&rest[..run]);
            self.pos += run;
            match self.buf.get(self.pos) {
                None => return self.err(self.pos, ParseErrorKind::UnexpectedEnd("'\"'")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok((start, out));
                }
                Some(b'\\') => {
                    let decoded = match self.buf.get(self.pos + 1) {
                        None => {
                            return self.err(
                                self.pos + 1,
                                ParseErrorKind::UnexpectedEnd("an escaped character"),
                            )
                        }
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'n') => b'\n',
                        Some(b'r') => b'\r',
                        Some(b't') => b'\t',
                        Some(&c) => return self.err(self.pos, ParseErrorKind::BadEscape(c)),
                    };
                    out.push(decoded);
                    self.pos += 2;
                }
                Some(&c) => return self.err(self.pos, ParseErrorKind::RawControl(c)),
            }
        }
    }

    /// Parses a string that must be UTF-8.
    fn text(&mut self, what: &'static str) -> Result<(usize, String)> {
        let (start, bytes) = self.string()?;
        match String::from_utf8(bytes) {
            Ok(s) => Ok((start, s)),
            Err(_) => self.err(start, ParseErrorKind::NotUtf8(what)),
        }
    }

    /// Parses a quoted absolute store path.
    fn store_path(&mut self) -> Result<(usize, StorePath)> {
        let (start, s) = self.text("store path")?;
        self.to_store_path(start, &s).map(|p| (start, p))
    }

    fn to_store_path(&self, start: usize, s: &str) -> Result<StorePath> {
        StorePath::from_absolute(self.store_dir, s)
            .or_else(|e| self.err(start, ParseErrorKind::BadStorePath(e)))
    }

    /// Parses an output name (in the outputs or an input derivation's output set).
    fn output_name(&mut self) -> Result<(usize, String)> {
        let (start, name) = self.text("output name")?;
        if !is_valid_output_name(&name) {
            return self.err(start, ParseErrorKind::BadOutputName(name));
        }
        Ok((start, name))
    }

    fn output(&mut self) -> Result<(usize, String, DerivationOutput)> {
        self.expect(b"(", "'('")?;
        let (name_at, name) = self.output_name()?;
        self.expect(b",", "','")?;
        let (path_at, path) = self.text("output path")?;
        self.expect(b",", "','")?;
        let (algo_at, algo) = self.text("hash algorithm")?;
        self.expect(b",", "','")?;
        let (hash_at, hash) = self.text("hash")?;
        self.expect(b")", "')'")?;

        let inconsistent = ParseErrorKind::InconsistentOutput(name.clone());
        let out = if algo.is_empty() {
            if !hash.is_empty() {
                return self.err(name_at, inconsistent);
            }
            if path.is_empty() {
                DerivationOutput::Deferred
            } else {
                DerivationOutput::InputAddressed(self.to_store_path(path_at, &path)?)
            }
        } else {
            let (method, algo_name) = match algo.strip_prefix("r:") {
                Some(a) => (FileIngestionMethod::Recursive, a),
                None => (FileIngestionMethod::Flat, algo.as_str()),
            };
            let Ok(hash_algo) = algo_name.parse::<HashAlgo>() else {
                return self.err(algo_at, ParseErrorKind::BadHashAlgo(algo));
            };
            if hash.is_empty() {
                if !path.is_empty() {
                    return self.err(name_at, inconsistent);
                }
                DerivationOutput::Floating {
                    method,
                    algo: hash_algo,
                }
            } else {
                let Some(h) = parse_base16(&hash, hash_algo) else {
                    return self.err(
                        hash_at,
                        ParseErrorKind::BadHash {
                            len: hash_algo.digest_len() * 2,
                            hash,
                            algo: hash_algo,
                        },
                    );
                };
                let path = if path.is_empty() {
                    None
                } else {
                    Some(self.to_store_path(path_at, &path)?)
                };
                DerivationOutput::Fixed {
                    method,
                    hash: h,
                    path,
                }
            }
        };
        Ok((name_at, name, out))
    }
}

/// Decodes lowercase base16 of exactly the algorithm's digest length.
fn parse_base16(s: &str, algo: HashAlgo) -> Option<Hash> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let s = s.as_bytes();
    if s.len() != algo.digest_len() * 2 {
        return None;
    }
    let bytes = s
        .chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect::<Option<Vec<u8>>>()?;
    Hash::from_digest(algo, &bytes).ok()
}

/// Inserts into a map whose keys must arrive in strictly ascending order.
fn push_sorted<K: Ord, V>(
    map: &mut BTreeMap<K, V>,
    key: K,
    value: V,
    at: usize,
    what: &'static str,
) -> Result<()> {
    if map.last_key_value().is_some_and(|(last, _)| *last >= key) {
        return Err(ParseError {
            offset: at,
            kind: ParseErrorKind::Unsorted { what },
        });
    }
    map.insert(key, value);
    Ok(())
}

/// Inserts into a set whose elements must arrive in strictly ascending order.
fn push_sorted_set<K: Ord>(
    set: &mut BTreeSet<K>,
    key: K,
    at: usize,
    what: &'static str,
) -> Result<()> {
    if set.last().is_some_and(|last| *last >= key) {
        return Err(ParseError {
            offset: at,
            kind: ParseErrorKind::Unsorted { what },
        });
    }
    set.insert(key);
    Ok(())
}

pub(super) fn parse(buf: &[u8], store_dir: &str) -> Result<Derivation> {
    if buf.len() > MAX_ATERM_SIZE {
        return Err(ParseError {
            offset: 0,
            kind: ParseErrorKind::TooLarge(buf.len()),
        });
    }
    let mut p = Parser {
        buf,
        pos: 0,
        store_dir,
    };
    let mut drv = Derivation::default();

    p.expect(b"Derive(", "'Derive('")?;
    p.list(|p| {
        let (at, name, out) = p.output()?;
        push_sorted(&mut drv.outputs, name, out, at, "output names")
    })?;
    p.expect(b",", "','")?;
    p.list(|p| {
        p.expect(b"(", "'('")?;
        let (at, path) = p.store_path()?;
        p.expect(b",", "','")?;
        let mut outputs = BTreeSet::new();
        p.list(|p| {
            let (at, name) = p.output_name()?;
            push_sorted_set(&mut outputs, name, at, "input derivation outputs")
        })?;
        p.expect(b")", "')'")?;
        push_sorted(&mut drv.input_drvs, path, outputs, at, "input derivations")
    })?;
    p.expect(b",", "','")?;
    p.list(|p| {
        let (at, path) = p.store_path()?;
        push_sorted_set(&mut drv.input_srcs, path, at, "input sources")
    })?;
    p.expect(b",", "','")?;
    drv.system = p.string()?.1;
    p.expect(b",", "','")?;
    drv.builder = p.string()?.1;
    p.expect(b",", "','")?;
    p.list(|p| {
        drv.args.push(p.string()?.1);
        Ok(())
    })?;
    p.expect(b",", "','")?;
    p.list(|p| {
        p.expect(b"(", "'('")?;
        let (at, key) = p.string()?;
        p.expect(b",", "','")?;
        let value = p.string()?.1;
        p.expect(b")", "')'")?;
        push_sorted(&mut drv.env, key, value, at, "environment variables")
    })?;
    p.expect(b")", "')'")?;
    if p.pos != buf.len() {
        return p.err(p.pos, ParseErrorKind::TrailingData);
    }
    Ok(drv)
}

/// Appends `s` quoted, with Nix's escapes.
fn print_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

/// Appends `[item,item,…]`.
fn print_list<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut f: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        f(out, item);
    }
    out.push(b']');
}

struct MethodAlgo(FileIngestionMethod, HashAlgo);

impl fmt::Display for MethodAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == FileIngestionMethod::Recursive {
            f.write_str("r:")?;
        }
        f.write_str(self.1.name())
    }
}

/// Returns `[r:]<algo>`, the method-and-algorithm column of a content-addressed output.
pub(super) fn method_algo(method: FileIngestionMethod, algo: HashAlgo) -> String {
    MethodAlgo(method, algo).to_string()
}

/// Prints `drv`. With `mask_outputs`, output paths and the environment variables named after
/// outputs are printed empty; `inputs`, if given, replaces the input derivations (keyed by
/// whatever string `hashDerivationModulo` put there).
pub(super) fn print(
    drv: &Derivation,
    store_dir: &str,
    mask_outputs: bool,
    inputs: Option<&BTreeMap<String, BTreeSet<String>>>,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"Derive(");
    print_list(out, &drv.outputs, |out, (name, o)| {
        let (path, algo, hash) = match o {
            DerivationOutput::InputAddressed(p) => (Some(p), String::new(), String::new()),
            DerivationOutput::Fixed { method, hash, path } => (
                path.as_ref(),
                method_algo(*method, hash.algo()),
                hash.to_base16(),
            ),
            DerivationOutput::Floating { method, algo } => {
                (None, method_algo(*method, *algo), String::new())
            }
            DerivationOutput::Deferred => (None, String::new(), String::new()),
        };
        let path = match path {
            Some(p) if !mask_outputs => p.to_absolute(store_dir),
            _ => String::new(),
        };
        out.push(b'(');
        print_string(out, name.as_bytes());
        out.push(b',');
        print_string(out, path.as_bytes());
        out.push(b',');
        print_string(out, algo.as_bytes());
        out.push(b',');
        print_string(out, hash.as_bytes());
        out.push(b')');
    });
    out.push(b',');
    let print_input = |out: &mut Vec<u8>, key: &[u8], outputs: &BTreeSet<String>| {
        out.push(b'(');
        print_string(out, key);
        out.push(b',');
        print_list(out, outputs, |out, o| print_string(out, o.as_bytes()));
        out.push(b')');
    };
    match inputs {
        Some(inputs) => print_list(out, inputs, |out, (k, v)| print_input(out, k.as_bytes(), v)),
        None => print_list(out, &drv.input_drvs, |out, (k, v)| {
            print_input(out, k.to_absolute(store_dir).as_bytes(), v)
        }),
    }
    out.push(b',');
    print_list(out, &drv.input_srcs, |out, p| {
        print_string(out, p.to_absolute(store_dir).as_bytes())
    });
    out.push(b',');
    print_string(out, &drv.system);
    out.push(b',');
    print_string(out, &drv.builder);
    out.push(b',');
    print_list(out, &drv.args, |out, a| print_string(out, a));
    out.push(b',');
    print_list(out, &drv.env, |out, (k, v)| {
        out.push(b'(');
        print_string(out, k);
        out.push(b',');
        let masked =
            mask_outputs && std::str::from_utf8(k).is_ok_and(|k| drv.outputs.contains_key(k));
        print_string(out, if masked { b"" } else { v });
        out.push(b')');
    });
    out.push(b')');
}
