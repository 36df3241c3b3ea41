//! The on-disk memory of narinfo lookups (Nix's `binary-cache-v*.sqlite`): for each remote
//! cache, what it had (`narinfo-cache-positive-ttl`, 30 days) and did not have
//! (`narinfo-cache-negative-ttl`, 1 hour), and whether it was down lately, so a second build
//! asks the network only about what it has not asked recently.
//!
//! One directory per cache (named by a hash of its URL) holding `<hash part>.narinfo` (the
//! text) or `<hash part>.missing` (empty), and `down`; the age of an entry is its file's
//! modification time. Entries are written to a temporary name and renamed, so a reader sees
//! a whole entry or none; anything unreadable counts as unknown. Local (`file://`) caches are
//! not remembered: reading them is as cheap as reading this.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use kiln_formats::hash::{Hash, HashAlgo};
use kiln_formats::store_path::StorePath;

/// How long a cache that failed to answer is left alone.
const DOWN_FOR: Duration = Duration::from_secs(60);

/// Where and for how long lookups are remembered.
#[derive(Debug, Clone)]
pub struct LookupCache {
    /// The directory (`$XDG_CACHE_HOME/kiln/binary-cache`).
    pub dir: PathBuf,
    /// How long a narinfo found is trusted to still be there.
    pub positive_ttl: Duration,
    /// How long a path a cache lacked is not asked for again.
    pub negative_ttl: Duration,
}

/// What the memory says about a path in a cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Remembered {
    /// The narinfo's text.
    Has(String),
    /// The cache did not have it.
    Lacks,
}

impl LookupCache {
    /// A memory in `dir` with Nix's default lifetimes.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LookupCache {
            dir: dir.into(),
            positive_ttl: Duration::from_secs(30 * 24 * 3600),
            negative_ttl: Duration::from_secs(3600),
        }
    }

    fn cache_dir(&self, url: &str) -> PathBuf {
        let h = Hash::digest_bytes(HashAlgo::Sha256, url.as_bytes()).to_nix32();
        self.dir.join(&h[..20])
    }

    fn fresh(path: &Path, ttl: Duration) -> bool {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age < ttl)
    }

    /// What is remembered about `path` in the cache at `url`, if it is still fresh.
    pub(crate) fn lookup(&self, url: &str, path: &StorePath) -> Option<Remembered> {
        let dir = self.cache_dir(url);
        let has = dir.join(format!("{}.narinfo", path.hash_part()));
        if Self::fresh(&has, self.positive_ttl) {
            if let Ok(text) = std::fs::read_to_string(&has) {
                return Some(Remembered::Has(text));
            }
        }
        let lacks = dir.join(format!("{}.missing", path.hash_part()));
        Self::fresh(&lacks, self.negative_ttl).then_some(Remembered::Lacks)
    }

    /// Remembers what the cache at `url` said about `path`. Failing to write is not an error:
    /// the memory is an optimisation.
    pub(crate) fn record(&self, url: &str, path: &StorePath, what: &Remembered) {
        let dir = self.cache_dir(url);
        let (name, other, text) = match what {
            Remembered::Has(t) => ("narinfo", "missing", t.as_str()),
            Remembered::Lacks => ("missing", "narinfo", ""),
        };
        let _ = std::fs::remove_file(dir.join(format!("{}.{other}", path.hash_part())));
        Self::write(&dir, &format!("{}.{name}", path.hash_part()), text);
    }

    fn write(dir: &Path, name: &str, text: &str) {
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let tmp = crate::transport::temp_name(dir, name);
        if std::fs::write(&tmp, text).is_ok() && std::fs::rename(&tmp, dir.join(name)).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    /// Whether the cache at `url` failed to answer within the last minute.
    pub(crate) fn is_down(&self, url: &str) -> bool {
        Self::fresh(&self.cache_dir(url).join("down"), DOWN_FOR)
    }

    /// Remembers that the cache at `url` failed to answer.
    pub(crate) fn mark_down(&self, url: &str) {
        Self::write(&self.cache_dir(url), "down", "");
    }
}
