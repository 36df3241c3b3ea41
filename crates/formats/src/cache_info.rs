//! `nix-cache-info`: the file at a binary cache's root describing the cache.
//!
//! Spec: the Nix manual, `protocols/binary-cache` and the binary cache store settings
//! (`want-mass-query`, `priority`). Lines are `Key: value`:
//!
//! * `StoreDir`: the store directory the cache's paths belong to (Nix refuses a cache for
//!   another store directory);
//! * `WantMassQuery`: `1` when the cache is happy to be asked about many paths at once;
//! * `Priority`: the substituter priority, lower is preferred (`cache.nixos.org` uses 40).
//!
//! Decisions, following how Nix reads the file: lines without a colon and unknown keys are
//! ignored; values are trimmed; `WantMassQuery` is true exactly when it is `1`; a key given
//! twice keeps its last value. A `Priority` that is not a 32-bit integer is an error (Nix's
//! `stoi` would throw too). Printing writes the known keys in the order above, each when set;
//! Nix itself writes only `StoreDir` when it creates a cache. Input is capped at
//! [`MAX_CACHE_INFO_LEN`] bytes.

use std::fmt;

/// The largest `nix-cache-info` accepted, in bytes.
pub const MAX_CACHE_INFO_LEN: usize = 64 << 10;

/// Why a `nix-cache-info` could not be parsed. Line numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheInfoError {
    /// The input is larger than [`MAX_CACHE_INFO_LEN`].
    #[error("nix-cache-info is {size} bytes, more than the {max} accepted")]
    TooLarge {
        /// The input size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// `Priority` is not an integer.
    #[error("line {line}: 'Priority' is not an integer: '{value}'")]
    BadPriority {
        /// The line.
        line: usize,
        /// The value given.
        value: String,
    },
}

/// What a binary cache says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheInfo {
    /// `StoreDir`: the store directory of the cache's paths.
    pub store_dir: Option<String>,
    /// `WantMassQuery`: whether the cache welcomes bulk queries.
    pub want_mass_query: Option<bool>,
    /// `Priority`: substituter priority, lower first.
    pub priority: Option<i32>,
}

impl CacheInfo {
    /// Parses the file.
    pub fn parse(text: &str) -> Result<Self, CacheInfoError> {
        if text.len() > MAX_CACHE_INFO_LEN {
            return Err(CacheInfoError::TooLarge {
                size: text.len(),
                max: MAX_CACHE_INFO_LEN,
            });
        }
        let mut info = Self::default();
        for (i, content) in text.split('\n').enumerate() {
            let line = i + 1;
            let Some((key, value)) = content.split_once(':') else {
                continue;
            };
            let value = value.trim_matches([' ', '\t', '\r', '\n']);
            match key {
                "StoreDir" => info.store_dir = Some(value.to_owned()),
                "WantMassQuery" => info.want_mass_query = Some(value == "1"),
                "Priority" => {
                    let p = parse_int(value).ok_or_else(|| CacheInfoError::BadPriority {
                        line,
                        value: value.to_owned(),
                    })?;
                    info.priority = Some(p);
                }
                _ => {}
            }
        }
        Ok(info)
    }

    /// Prints the set fields, one `Key: value` line each.
    pub fn render(&self) -> String {
        self.to_string()
    }
}

/// An optional sign and decimal digits, within `i32`.
fn parse_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl fmt::Display for CacheInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.store_dir {
            writeln!(f, "StoreDir: {d}")?;
        }
        if let Some(w) = self.want_mass_query {
            writeln!(f, "WantMassQuery: {}", u8::from(w))?;
        }
        if let Some(p) = self.priority {
            writeln!(f, "Priority: {p}")?;
        }
        Ok(())
    }
}
