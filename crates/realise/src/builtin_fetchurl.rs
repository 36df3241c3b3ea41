//! `builtin:fetchurl`: the builder Nix runs in-process for derivations whose `builder` is
//! `builtin:fetchurl` (those `<nix/fetchurl.nix>` makes).
//!
//! Spec: the Nix manual (`builtins.fetchurl`, fixed-output derivations) and Nix's
//! `<nix/fetchurl.nix>`, whose derivation environment this reads:
//!
//! * `urls`: the URLs (space-separated; `http://`, `https://`, `file://`, or
//!   `mirror://NAME/PATH`, resolved through the `mirrors` setting), tried in order until one
//!   answers; when it is missing or empty, `url`.
//! * `notFoundHint` (Kiln's): a sentence added to the error when the file is not there (HTTP
//!   404 or 410), e.g. how to re-pin a source that vanished from its mirror.
//! * `unpack = "1"`: the download is a (possibly compressed) tar archive, unpacked *as is*
//!   into the output (no top-level directory is stripped, unlike `fetchTarball`).
//! * `executable = "1"`: the output file is made executable.
//!
//! The output hash (`outputHash`, `outputHashAlgo`, `outputHashMode`) is not checked here: the
//! caller checks it as for every fixed-output derivation. With a download cache (Kiln's: the
//! `by-hash` directory of the fetch cache), a flat download is kept there under its expected
//! hash (`sha256-<base16>`) once it has that hash, and a later fetch of the same hash copies it
//! from there (after checking it) instead of downloading. The download streams into a
//! temporary file next to the output and is renamed into place only when complete, so an
//! interrupted fetch never leaves a partial output.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use kiln_fetch::{is_not_found, unpack_archive, FetchError, Mirrors};
use kiln_formats::hash::{Hash, HashAlgo, Hasher};

/// Why `builtin:fetchurl` failed.
#[derive(Debug, thiserror::Error)]
pub enum BuiltinError {
    /// The derivation lacks an attribute the builder needs.
    #[error("the derivation has no '{0}' attribute, which builtin:fetchurl needs")]
    MissingAttr(&'static str),
    /// The download failed (the message names the URL).
    #[error("{0}")]
    Fetch(FetchError),
    /// The file is not at its URL, and the derivation says what to do about it.
    #[error("{error}; {hint}")]
    NotFound {
        /// The download's error.
        error: Box<FetchError>,
        /// The derivation's `notFoundHint`.
        hint: String,
    },
    /// Unpacking the download failed.
    #[error("unpacking '{url}': {reason}")]
    Unpack {
        /// The URL of the archive.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Writing the output failed.
    #[error("{op} '{path}': {reason}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The system error's text.
        reason: String,
    },
}

fn io_error(op: &'static str, path: &Path, e: std::io::Error) -> BuiltinError {
    BuiltinError::Io {
        op,
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// A path next to `out` for temporary files, removed (with everything in it) when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = match std::fs::symlink_metadata(&self.0) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&self.0),
            Ok(_) => std::fs::remove_file(&self.0),
            Err(_) => Ok(()),
        };
    }
}

/// Runs `builtin:fetchurl` for a derivation with environment `env`, writing the output at
/// `out` (which must not exist) and a line about the download to `log`; `mirror://` URLs are
/// resolved through `mirrors`.
pub fn run(
    env: &BTreeMap<String, String>,
    out: &Path,
    mirrors: &Mirrors,
    cache: Option<&Path>,
    log: &mut dyn Write,
) -> Result<(), BuiltinError> {
    let mut urls: Vec<String> = env
        .get("urls")
        .map(|u| u.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    if urls.is_empty() {
        urls.extend(env.get("url").cloned());
    }
    let Some(url) = urls.first().cloned() else {
        return Err(BuiltinError::MissingAttr("url"));
    };
    let unpack = env.get("unpack").is_some_and(|v| v == "1");
    let executable = env.get("executable").is_some_and(|v| v == "1");
    let _ = writeln!(log, "downloading '{url}'...");

    let file_name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = out.parent().unwrap_or(Path::new("."));
    let tmp = Scratch(parent.join(format!(".{file_name}.download-{}", std::process::id())));
    let flat = !unpack && !executable && env.get("outputHashMode").is_none_or(|m| m == "flat");
    let expected = env.get("outputHash").filter(|_| flat).and_then(|h| {
        let algo = env
            .get("outputHashAlgo")
            .and_then(|a| a.parse::<HashAlgo>().ok());
        Hash::parse_any(h, algo).ok()
    });
    let cached = cache.zip(expected).map(|(dir, h)| {
        (
            dir.to_owned(),
            dir.join(format!("{}-{}", h.algo().name(), h.to_base16())),
            h,
        )
    });
    if let Some((_, file, h)) = &cached {
        if hash_of(file, h.algo()) == Some(*h)
            && std::fs::copy(file, &tmp.0).is_ok()
            && std::fs::rename(&tmp.0, out).is_ok()
        {
            let _ = writeln!(log, "(copied from the download cache)");
            return Ok(());
        }
    }
    {
        let file = std::fs::File::create(&tmp.0).map_err(|e| io_error("creating", &tmp.0, e))?;
        let mut w = std::io::BufWriter::new(file);
        let mut res = Err(BuiltinError::MissingAttr("url"));
        for u in &urls {
            res = mirrors
                .download(u, None, &mut w)
                .map_err(BuiltinError::Fetch);
            if res.is_ok() {
                break;
            }
        }
        match (res, env.get("notFoundHint")) {
            (Ok(_), _) => {}
            (Err(BuiltinError::Fetch(e)), Some(hint)) if is_not_found(&e) => {
                return Err(BuiltinError::NotFound {
                    error: Box::new(e),
                    hint: hint.clone(),
                })
            }
            (Err(e), _) => return Err(e),
        }
        w.flush().map_err(|e| io_error("writing", &tmp.0, e))?;
    }
    if let Some((dir, file, h)) = &cached {
        if hash_of(&tmp.0, h.algo()) == Some(*h) {
            // Kept for later fetches; failing to keep it changes nothing.
            let part = dir.join(format!(".{}.part", std::process::id()));
            let _ = std::fs::create_dir_all(dir)
                .and_then(|_| std::fs::copy(&tmp.0, &part))
                .and_then(|_| std::fs::rename(&part, file));
            let _ = std::fs::remove_file(&part);
        }
    }
    if unpack {
        let dir = Scratch(parent.join(format!(".{file_name}.unpack-{}", std::process::id())));
        unpack_archive(&tmp.0, &dir.0).map_err(|reason| BuiltinError::Unpack {
            url: url.clone(),
            reason,
        })?;
        std::fs::rename(&dir.0, out).map_err(|e| io_error("renaming to", out, e))?;
    } else {
        if executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp.0, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| io_error("making executable", &tmp.0, e))?;
        }
        std::fs::rename(&tmp.0, out).map_err(|e| io_error("renaming to", out, e))?;
    }
    Ok(())
}

/// The hash of the file at `path`, `None` when it cannot be read.
fn hash_of(path: &Path, algo: HashAlgo) -> Option<Hash> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = Hasher::new(algo);
    std::io::copy(&mut f, &mut h).ok()?;
    Some(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn downloads_a_file_and_makes_it_executable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.sh");
        std::fs::write(&src, b"#!/bin/sh\n").unwrap();
        let out = dir.path().join("out");
        let url = format!("file://{}", src.display());
        let mut log = Vec::new();
        run(
            &env(&[("url", &url), ("executable", "1")]),
            &out,
            &Mirrors::new(),
            None,
            &mut log,
        )
        .unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"#!/bin/sh\n");
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o111,
            0o111
        );
        assert!(String::from_utf8(log).unwrap().contains(&url));
        // Only the output is left next to it.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn unpacks_without_stripping_the_top_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tree/top")).unwrap();
        std::fs::write(dir.path().join("tree/top/a"), b"a").unwrap();
        let tarball = dir.path().join("t.tar.gz");
        let ok = std::process::Command::new("tar")
            .arg("-C")
            .arg(dir.path().join("tree"))
            .arg("-czf")
            .arg(&tarball)
            .arg("top")
            .status()
            .unwrap();
        assert!(ok.success());
        let out = dir.path().join("out");
        let url = format!("file://{}", tarball.display());
        run(
            &env(&[("urls", &url), ("unpack", "1")]),
            &out,
            &Mirrors::new(),
            None,
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(std::fs::read(out.join("top/a")).unwrap(), b"a");
    }

    #[test]
    fn a_missing_file_is_an_error_naming_the_url_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let err = run(
            &env(&[("url", "file:///nonexistent/kiln-test")]),
            &out,
            &Mirrors::new(),
            None,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unable to download 'file:///nonexistent/kiln-test'"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let err = run(&env(&[]), &out, &Mirrors::new(), None, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, BuiltinError::MissingAttr("url")));
    }

    #[test]
    fn mirror_urls_resolve_and_a_vanished_file_gets_the_hint() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("mirror/pool")).unwrap();
        std::fs::write(dir.path().join("mirror/pool/f"), b"pinned").unwrap();
        let word = format!("deb=file://{}/mirror", dir.path().display());
        let mirrors = Mirrors::parse([word.as_str()]).unwrap();
        let out = dir.path().join("out");
        run(
            &env(&[("urls", "mirror://deb/pool/gone mirror://deb/pool/f")]),
            &out,
            &mirrors,
            None,
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"pinned");
        let err = run(
            &env(&[
                ("url", "mirror://deb/pool/gone"),
                ("notFoundHint", "run nix/pkgs/update"),
            ]),
            &dir.path().join("out2"),
            &mirrors,
            None,
            &mut Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("unable to download 'mirror://deb/pool/gone'"),
            "{err}"
        );
        assert!(err.ends_with("; run nix/pkgs/update"), "{err}");
    }

    #[test]
    fn flat_downloads_are_kept_by_hash_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"cached bytes").unwrap();
        let cache = dir.path().join("by-hash");
        let h = Hash::digest_bytes(HashAlgo::Sha256, b"cached bytes");
        let url = format!("file://{}", src.display());
        let sri = h.to_sri();
        let attrs = env(&[("url", &url), ("outputHash", &sri)]);
        run(
            &attrs,
            &dir.path().join("o1"),
            &Mirrors::new(),
            Some(&cache),
            &mut Vec::new(),
        )
        .unwrap();
        let kept = cache.join(format!("sha256-{}", h.to_base16()));
        assert_eq!(std::fs::read(&kept).unwrap(), b"cached bytes");
        // The source is gone: the cache serves it.
        std::fs::remove_file(&src).unwrap();
        let mut log = Vec::new();
        run(
            &attrs,
            &dir.path().join("o2"),
            &Mirrors::new(),
            Some(&cache),
            &mut log,
        )
        .unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("o2")).unwrap(),
            b"cached bytes"
        );
        assert!(String::from_utf8(log).unwrap().contains("download cache"));
        // A damaged entry is not used.
        std::fs::write(&kept, b"damaged").unwrap();
        run(
            &attrs,
            &dir.path().join("o3"),
            &Mirrors::new(),
            Some(&cache),
            &mut Vec::new(),
        )
        .unwrap_err();
        // A download with another hash is not kept.
        std::fs::write(&src, b"other bytes").unwrap();
        std::fs::remove_file(&kept).unwrap();
        run(
            &attrs,
            &dir.path().join("o4"),
            &Mirrors::new(),
            Some(&cache),
            &mut Vec::new(),
        )
        .unwrap();
        assert!(!kept.exists());
    }
}
