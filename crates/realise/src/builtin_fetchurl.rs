//! `builtin:fetchurl`: the builder Nix runs in-process for derivations whose `builder` is
//! `builtin:fetchurl` (those `<nix/fetchurl.nix>` makes).
//!
//! Spec: the Nix manual (`builtins.fetchurl`, fixed-output derivations) and Nix's
//! `<nix/fetchurl.nix>`, whose derivation environment this reads:
//!
//! * `url`: the URL (`http://`, `https://`, `file://`); if it is missing, the first of `urls`
//!   (space-separated).
//! * `unpack = "1"`: the download is a (possibly compressed) tar archive, unpacked *as is*
//!   into the output (no top-level directory is stripped, unlike `fetchTarball`).
//! * `executable = "1"`: the output file is made executable.
//!
//! The output hash (`outputHash`, `outputHashAlgo`, `outputHashMode`) is not checked here: the
//! caller checks it as for every fixed-output derivation. The download streams into a
//! temporary file next to the output and is renamed into place only when complete, so an
//! interrupted fetch never leaves a partial output.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use kiln_fetch::{download, unpack_archive, FetchError};

/// Why `builtin:fetchurl` failed.
#[derive(Debug, thiserror::Error)]
pub enum BuiltinError {
    /// The derivation lacks an attribute the builder needs.
    #[error("the derivation has no '{0}' attribute, which builtin:fetchurl needs")]
    MissingAttr(&'static str),
    /// The download failed (the message names the URL).
    #[error("{0}")]
    Fetch(FetchError),
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
/// `out` (which must not exist) and a line about the download to `log`.
pub fn run(
    env: &BTreeMap<String, String>,
    out: &Path,
    log: &mut dyn Write,
) -> Result<(), BuiltinError> {
    let url = match env.get("url") {
        Some(u) => u.clone(),
        None => env
            .get("urls")
            .and_then(|u| u.split_whitespace().next())
            .map(str::to_owned)
            .ok_or(BuiltinError::MissingAttr("url"))?,
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
    {
        let file = std::fs::File::create(&tmp.0).map_err(|e| io_error("creating", &tmp.0, e))?;
        let mut w = std::io::BufWriter::new(file);
        download(&url, None, &mut w).map_err(BuiltinError::Fetch)?;
        w.flush().map_err(|e| io_error("writing", &tmp.0, e))?;
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
        run(&env(&[("url", &url), ("executable", "1")]), &out, &mut log).unwrap();
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
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unable to download 'file:///nonexistent/kiln-test'"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let err = run(&env(&[]), &out, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, BuiltinError::MissingAttr("url")));
    }
}
