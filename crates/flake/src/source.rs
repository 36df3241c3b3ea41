//! Fetching the sources of flake references through `kiln-fetch`, and the attributes Nix
//! locks them with and gives them in the language (`sourceInfo`).
//!
//! * `path`: `FetchRequest::Path`; locked as `lastModified` (the newest file time), `narHash`,
//!   `path`.
//! * `git`: `FetchRequest::Git` of the branch the repository's `HEAD` names (or the `ref`
//!   given), as current Nix locks a local repository: `lastModified` (the commit time),
//!   `narHash`, `ref`, `rev`, `revCount`, `url`.
//! * `tarball`: `FetchRequest::Url` unpacked; locked as `lastModified` (the newest entry),
//!   `narHash`, `url`.
//! * `github`: the archive `https://github.com/OWNER/REPO/archive/REV.tar.gz`, the commit of a
//!   branch or tag found through `https://api.github.com/repos/OWNER/REPO/commits/REF`;
//!   locked as `lastModified`, `narHash`, `owner`, `repo`, `rev`.
//!
//! The top-level flake, when it is a local directory, is not fetched: [`local_root`] hashes it
//! in place (the store path it would have, its `narHash` and `lastModified` are Nix's) and the
//! evaluation reads it where it is (`crate::lazy`).

use std::path::{Path, PathBuf};
use std::process::Command;

use kiln_fetch::{FetchRequest, FetchSettings, Fetched};
use kiln_formats::hash::{Hash, HashAlgo};
use kiln_formats::store_path::{make_fixed_output_path, FileIngestionMethod, StorePath};
use kiln_store::LocalStore;
use serde_json::{Map, Value};

use crate::flakeref::{FlakeRef, RefAttrs};
use crate::FlakeError;

/// What the language sees of a fetched source (`sourceInfo`), and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// The store path (valid, or for a source read in place, the path it would have).
    pub path: StorePath,
    /// The SHA-256 hash of its NAR.
    pub nar_hash: Hash,
    /// `lastModified`.
    pub last_modified: i64,
    /// Git and GitHub: the commit.
    pub rev: Option<String>,
    /// Git: the number of commits up to `rev`.
    pub rev_count: Option<u64>,
    /// Git: a dirty working tree's `HEAD` with `-dirty`.
    pub dirty_rev: Option<String>,
    /// Whether it came from Git (it then has `submodules`).
    pub git: bool,
    /// A local directory read in place; its store path is made only when needed.
    pub real_dir: Option<PathBuf>,
}

/// `%Y%m%d%H%M%S` of a Unix time, in UTC (`lastModifiedDate`).
pub fn utc_stamp(t: i64) -> String {
    let (y, mo, d, h, mi, s) = utc_parts(t);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
}

/// `YYYY-MM-DD HH:MM:SS` of a Unix time, in UTC.
pub fn utc_text(t: i64) -> String {
    let (y, mo, d, h, mi, s) = utc_parts(t);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

fn utc_parts(t: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Days to a proleptic Gregorian date (the civil calendar from 1970-01-01).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

impl SourceInfo {
    /// The attributes of `sourceInfo` (`outPath` as a plain string; the caller adds its
    /// context), as `builtins.fetchTree` returns them in current Nix.
    pub fn to_json(&self, store_dir: &str) -> Value {
        let mut m = Map::new();
        m.insert("lastModified".into(), Value::from(self.last_modified));
        m.insert(
            "lastModifiedDate".into(),
            Value::from(utc_stamp(self.last_modified)),
        );
        m.insert("narHash".into(), Value::from(self.nar_hash.to_sri()));
        m.insert(
            "outPath".into(),
            Value::from(self.path.to_absolute(store_dir)),
        );
        if let Some(r) = &self.rev {
            m.insert("rev".into(), Value::from(r.clone()));
            m.insert(
                "shortRev".into(),
                Value::from(r[..7.min(r.len())].to_owned()),
            );
        }
        if let Some(c) = self.rev_count {
            m.insert("revCount".into(), Value::from(c));
        }
        if let Some(d) = &self.dirty_rev {
            m.insert("dirtyRev".into(), Value::from(d.clone()));
            let short = match d.split_once('-') {
                Some((h, rest)) => format!("{}-{rest}", &h[..7.min(h.len())]),
                None => d.clone(),
            };
            m.insert("dirtyShortRev".into(), Value::from(short));
        }
        if self.git {
            m.insert("submodules".into(), Value::Bool(false));
        }
        Value::Object(m)
    }
}

/// The newest modification time in the tree at `path`, links not followed (what Nix's path
/// fetcher reports as `lastModified`).
pub fn newest_mtime(path: &Path) -> Result<i64, FlakeError> {
    use std::os::unix::fs::MetadataExt;
    let io = |e| FlakeError::Io {
        path: path.to_owned(),
        source: e,
    };
    let meta = std::fs::symlink_metadata(path).map_err(io)?;
    let mut newest = meta.mtime();
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).map_err(io)? {
            let entry = entry.map_err(io)?;
            newest = newest.max(newest_mtime(&entry.path())?);
        }
    }
    Ok(newest)
}

/// A local directory as the top-level flake, read in place: its NAR hash and the store path
/// `path:` would copy it to, computed, nothing written.
pub fn local_root(dir: &Path, store_dir: &str) -> Result<SourceInfo, FlakeError> {
    let hash =
        kiln_eval::io::hash_path(dir, FileIngestionMethod::Recursive, HashAlgo::Sha256, None)
            .map_err(|e| FlakeError::Io {
                path: dir.to_owned(),
                source: e,
            })?;
    let path = make_fixed_output_path(store_dir, "source", FileIngestionMethod::Recursive, &hash)
        .map_err(|e| FlakeError::Fetch(e.to_string()))?;
    Ok(SourceInfo {
        path,
        nar_hash: hash,
        last_modified: newest_mtime(dir)?,
        rev: None,
        rev_count: None,
        dirty_rev: None,
        git: false,
        real_dir: Some(dir.to_owned()),
    })
}

/// Fetches into a store.
pub struct Fetcher<'s> {
    /// The store.
    pub store: &'s LocalStore,
    /// The fetch cache and `tarball-ttl`.
    pub settings: &'s FetchSettings,
}

fn sri(h: &Hash) -> Value {
    Value::from(h.to_sri())
}

fn info(f: Fetched, git: bool) -> SourceInfo {
    SourceInfo {
        path: f.path,
        nar_hash: f.nar_hash,
        last_modified: f.last_modified.unwrap_or(0),
        rev: f.rev,
        rev_count: f.rev_count,
        dirty_rev: f.dirty_rev,
        git,
        real_dir: None,
    }
}

/// The branch `HEAD` names in the repository at `url` (`refs/heads/main`), as Nix locks a
/// repository given without `ref`.
fn head_ref(url: &str) -> Result<String, FlakeError> {
    let out = Command::new("git")
        .args(["ls-remote", "--symref", url, "HEAD"])
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| FlakeError::Fetch(format!("running git: {e}")))?;
    if !out.status.success() {
        return Err(FlakeError::Fetch(format!(
            "git ls-remote '{url}' failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("ref: ") {
            if let Some((r, _)) = rest.split_once('\t') {
                return Ok(r.to_owned());
            }
        }
    }
    Err(FlakeError::Fetch(format!(
        "the repository '{url}' has no branch checked out (HEAD is detached); give a ref"
    )))
}

fn github_archive(owner: &str, repo: &str, rev: &str) -> String {
    format!("https://github.com/{owner}/{repo}/archive/{rev}.tar.gz")
}

fn need_hash(locked: &RefAttrs) -> Result<Hash, FlakeError> {
    let s = locked
        .get("narHash")
        .and_then(Value::as_str)
        .ok_or_else(|| FlakeError::BadLock("a locked input has no 'narHash'".into()))?;
    Hash::parse_any(s, None).map_err(|e| FlakeError::BadLock(format!("narHash '{s}': {e}")))
}

impl Fetcher<'_> {
    fn run(&self, req: &FetchRequest) -> Result<Fetched, FlakeError> {
        kiln_fetch::fetch(self.store, self.settings, req)
            .map_err(|e| FlakeError::Fetch(kiln_formats::error_chain(&e)))
    }

    /// Fetches an unlocked reference (its path relative to `base`, the directory of the flake
    /// naming it), returning its locked attributes and its source.
    pub fn fetch(
        &self,
        r: &FlakeRef,
        base: Option<&Path>,
    ) -> Result<(RefAttrs, SourceInfo), FlakeError> {
        let mut locked = Map::new();
        let src = match r {
            FlakeRef::Path { path } => {
                let abs = if path.starts_with('/') {
                    PathBuf::from(path)
                } else {
                    match base {
                        Some(b) => b.join(path),
                        None => {
                            return Err(FlakeError::Fetch(format!(
                                "the relative path '{path}' has no directory to be relative to"
                            )))
                        }
                    }
                };
                let f = self.run(&FetchRequest::Path {
                    path: abs.clone(),
                    name: "source".into(),
                    nar_hash: None,
                })?;
                locked.insert(
                    "path".into(),
                    Value::from(abs.to_string_lossy().into_owned()),
                );
                locked.insert("type".into(), Value::from("path"));
                info(f, false)
            }
            FlakeRef::Git { url, git_ref, rev } => {
                let git_ref = match git_ref {
                    Some(r) => r.clone(),
                    None => head_ref(url)?,
                };
                let f = self.run(&FetchRequest::Git {
                    url: url.clone(),
                    name: "source".into(),
                    git_ref: Some(git_ref.clone()),
                    rev: rev.clone(),
                    submodules: false,
                    shallow: false,
                    all_refs: rev.is_some(),
                    nar_hash: None,
                })?;
                let f_rev = f
                    .rev
                    .clone()
                    .ok_or_else(|| FlakeError::Fetch(format!("'{url}' gave no commit to lock")))?;
                locked.insert("ref".into(), Value::from(git_ref));
                locked.insert("rev".into(), Value::from(f_rev));
                locked.insert("revCount".into(), Value::from(f.rev_count.unwrap_or(0)));
                locked.insert("type".into(), Value::from("git"));
                locked.insert("url".into(), Value::from(url.clone()));
                info(f, true)
            }
            FlakeRef::Tarball { url } => {
                let f = self.run(&FetchRequest::Url {
                    url: url.clone(),
                    name: "source".into(),
                    unpack: true,
                    recursive: true,
                    expected: None,
                })?;
                locked.insert("type".into(), Value::from("tarball"));
                locked.insert("url".into(), Value::from(url.clone()));
                info(f, false)
            }
            FlakeRef::GitHub {
                owner,
                repo,
                git_ref,
                rev,
            } => {
                let rev = match rev {
                    Some(r) => r.clone(),
                    None => self.github_rev(owner, repo, git_ref.as_deref().unwrap_or("HEAD"))?,
                };
                let f = self.run(&FetchRequest::Url {
                    url: github_archive(owner, repo, &rev),
                    name: "source".into(),
                    unpack: true,
                    recursive: true,
                    expected: None,
                })?;
                locked.insert("owner".into(), Value::from(owner.clone()));
                locked.insert("repo".into(), Value::from(repo.clone()));
                locked.insert("rev".into(), Value::from(rev.clone()));
                locked.insert("type".into(), Value::from("github"));
                let mut i = info(f, false);
                i.rev = Some(rev);
                i
            }
        };
        locked.insert("lastModified".into(), Value::from(src.last_modified));
        locked.insert("narHash".into(), sri(&src.nar_hash));
        Ok((locked, src))
    }

    /// The commit a GitHub branch or tag names, from GitHub's API.
    fn github_rev(&self, owner: &str, repo: &str, git_ref: &str) -> Result<String, FlakeError> {
        let url = format!("https://api.github.com/repos/{owner}/{repo}/commits/{git_ref}");
        let mut body = Vec::new();
        kiln_fetch::download(&url, None, &mut body)
            .map_err(|e| FlakeError::Fetch(kiln_formats::error_chain(&e)))?;
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| FlakeError::Fetch(format!("'{url}' did not answer JSON: {e}")))?;
        v.get("sha")
            .and_then(Value::as_str)
            .filter(|s| crate::flakeref::is_rev(s))
            .map(str::to_owned)
            .ok_or_else(|| FlakeError::Fetch(format!("'{url}' gave no commit")))
    }

    /// Fetches a locked reference (checking its `narHash`).
    pub fn fetch_locked(&self, locked: &RefAttrs) -> Result<SourceInfo, FlakeError> {
        let hash = need_hash(locked)?;
        let last_modified = locked.get("lastModified").and_then(Value::as_i64);
        let mut src = match FlakeRef::from_attrs(locked)? {
            FlakeRef::Path { path } => info(
                self.run(&FetchRequest::Path {
                    path: PathBuf::from(path),
                    name: "source".into(),
                    nar_hash: Some(hash),
                })?,
                false,
            ),
            FlakeRef::Git { url, git_ref, rev } => info(
                self.run(&FetchRequest::Git {
                    url,
                    name: "source".into(),
                    git_ref,
                    rev: rev.clone(),
                    submodules: false,
                    shallow: false,
                    all_refs: rev.is_some(),
                    nar_hash: Some(hash),
                })?,
                true,
            ),
            FlakeRef::Tarball { url } => info(
                self.run(&FetchRequest::Url {
                    url,
                    name: "source".into(),
                    unpack: true,
                    recursive: true,
                    expected: Some(hash),
                })?,
                false,
            ),
            FlakeRef::GitHub {
                owner, repo, rev, ..
            } => {
                let rev = rev.ok_or_else(|| {
                    FlakeError::BadLock(format!("locked input github:{owner}/{repo} has no 'rev'"))
                })?;
                let mut i = info(
                    self.run(&FetchRequest::Url {
                        url: github_archive(&owner, &repo, &rev),
                        name: "source".into(),
                        unpack: true,
                        recursive: true,
                        expected: Some(hash),
                    })?,
                    false,
                );
                i.rev = Some(rev);
                i
            }
        };
        if src.nar_hash != hash {
            return Err(FlakeError::Fetch(format!(
                "NAR hash mismatch in input '{}': expected '{}', got '{}'",
                crate::flakeref::attrs_to_url(locked),
                hash.to_sri(),
                src.nar_hash.to_sri()
            )));
        }
        if let Some(t) = last_modified {
            src.last_modified = t;
        }
        Ok(src)
    }
}

impl Fetcher<'_> {
    /// A Git working tree as a top-level flake: its tracked files (with their uncommitted
    /// changes), as Nix takes a local Git flake.
    pub fn run_git_worktree(&self, dir: &Path) -> Result<SourceInfo, FlakeError> {
        let f = self.run(&FetchRequest::Git {
            url: dir.display().to_string(),
            name: "source".into(),
            git_ref: None,
            rev: None,
            submodules: false,
            shallow: false,
            all_refs: false,
            nar_hash: None,
        })?;
        Ok(info(f, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc_stamp(0), "19700101000000");
        assert_eq!(utc_stamp(1796644915), "20261207120155");
        assert_eq!(utc_text(1700000000), "2023-11-14 22:13:20");
        assert_eq!(utc_stamp(951782400), "20000229000000");
    }
}
