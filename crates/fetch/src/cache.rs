//! The fetch cache: one file per key, `records/<sha256 of the key in base16>`, holding
//! `name=value` lines (a value never contains a newline) and the time it was written.
//!
//! Records are written to a temporary file and renamed, so a reader sees a whole record or
//! the previous one. A record that cannot be read is treated as missing: the cache only
//! saves work, it never decides a result on its own (store paths are always checked).

use std::collections::BTreeMap;
use std::io::Write;

use kiln_formats::hash::{Hash, HashAlgo};

use super::{io_error, now, FetchError, FetchSettings, TempPath};

/// A cache record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    fields: BTreeMap<String, String>,
}

impl Record {
    pub(crate) fn new() -> Self {
        let mut fields = BTreeMap::new();
        fields.insert("time".to_owned(), now().to_string());
        Record { fields }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    pub(crate) fn set(&mut self, name: &str, value: &str) {
        let clean: String = value.chars().filter(|&c| c != '\n').collect();
        self.fields.insert(name.to_owned(), clean);
    }

    /// Marks the record as written now.
    pub(crate) fn touch(&mut self) {
        self.set("time", &now().to_string());
    }

    /// Whether it was written less than `ttl` seconds ago.
    pub(crate) fn is_fresh(&self, ttl: u64) -> bool {
        let t: i64 = self.get("time").and_then(|t| t.parse().ok()).unwrap_or(0);
        now().saturating_sub(t) < ttl as i64
    }
}

/// The version of what records mean; bumped when a fetcher's result for the same input
/// changes, so that older records are not used.
const VERSION: &str = "kiln-fetch-1";

/// The key for the given parts (joined with NUL bytes, so no part can imitate two).
pub(crate) fn key(parts: &[&str]) -> String {
    let mut all = vec![VERSION];
    all.extend_from_slice(parts);
    Hash::digest_bytes(HashAlgo::Sha256, all.join("\0").as_bytes()).to_base16()
}

/// The record for `key`, if there is a readable one.
pub(crate) fn read(settings: &FetchSettings, key: &str) -> Option<Record> {
    let text = std::fs::read_to_string(settings.cache_dir.join("records").join(key)).ok()?;
    let mut fields = BTreeMap::new();
    for line in text.lines() {
        let (name, value) = line.split_once('=')?;
        fields.insert(name.to_owned(), value.to_owned());
    }
    Some(Record { fields })
}

/// Writes the record for `key` (atomically).
pub(crate) fn write(
    settings: &FetchSettings,
    key: &str,
    record: &Record,
) -> Result<(), FetchError> {
    let dir = settings.cache_dir.join("records");
    std::fs::create_dir_all(&dir).map_err(|e| io_error("creating directory", &dir, e))?;
    let tmp = TempPath::new(settings, "record")?;
    let mut text = String::new();
    for (name, value) in &record.fields {
        text.push_str(name);
        text.push('=');
        text.push_str(value);
        text.push('\n');
    }
    let mut f =
        std::fs::File::create(tmp.path()).map_err(|e| io_error("creating file", tmp.path(), e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| io_error("writing", tmp.path(), e))?;
    let dest = dir.join(key);
    std::fs::rename(tmp.path(), &dest).map_err(|e| io_error("renaming to", &dest, e))?;
    Ok(())
}
