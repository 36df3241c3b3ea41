//! `builtin:unpack`: Kiln's in-process builder that unpacks an archive from the store into
//! the output, for the very first derivations of a package set, which have no tools yet (the
//! bootstrap's stage 0 turns pinned Debian binary packages into store paths with it).
//!
//! The derivation's environment:
//!
//! * `src`: the store path of the archive (an input of the derivation, typically a
//!   fixed-output `fetchurl`): a Debian binary package (its `data.tar.*` member), a tar
//!   archive (plain, gzip, xz, bzip2, zstd) or a zip archive, recognised by its first bytes
//!   (`kiln_fetch::unpack_archive`).
//!
//! The archive is unpacked as is (no top-level directory is stripped) into a temporary
//! directory beside the output, then renamed into place; modes become 0644/0755 and the
//! store canonicalises the rest. The output is input-addressed: its hash is the archive's.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why `builtin:unpack` failed.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The derivation has no `src`.
    #[error("the derivation has no 'src' attribute, which builtin:unpack needs")]
    MissingSrc,
    /// `src` is not a path in the store.
    #[error("builtin:unpack: 'src' is '{0}', which is not a path in the store")]
    NotInStore(String),
    /// Unpacking failed.
    #[error("unpacking '{src}': {reason}")]
    Unpack {
        /// The archive's store path.
        src: String,
        /// What went wrong.
        reason: String,
    },
    /// Moving the unpacked tree into place failed.
    #[error("renaming to '{path}': {reason}")]
    Rename {
        /// The output.
        path: PathBuf,
        /// The system error's text.
        reason: String,
    },
}

/// Runs `builtin:unpack` for a derivation with environment `env` in a store whose logical
/// directory `store_dir` is physically at `real_store_dir`, writing the output at `out`
/// (which must not exist) and a line about it to `log`.
pub fn run_in(
    env: &BTreeMap<String, String>,
    out: &Path,
    store_dir: &str,
    real_store_dir: &Path,
    log: &mut dyn Write,
) -> Result<(), UnpackError> {
    let src = env.get("src").ok_or(UnpackError::MissingSrc)?;
    let rest = src
        .strip_prefix(store_dir)
        .and_then(|r| r.strip_prefix('/'))
        .filter(|r| !r.is_empty() && !r.split('/').any(|c| c == ".." || c.is_empty()))
        .ok_or_else(|| UnpackError::NotInStore(src.clone()))?;
    let real = real_store_dir.join(rest);
    let _ = writeln!(log, "unpacking '{src}'...");
    let file_name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = out.parent().unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".{file_name}.unpack-{}", std::process::id()));
    let res = kiln_fetch::unpack_archive(&real, &tmp)
        .map_err(|reason| UnpackError::Unpack {
            src: src.clone(),
            reason,
        })
        .and_then(|_| {
            std::fs::rename(&tmp, out).map_err(|e| UnpackError::Rename {
                path: out.to_owned(),
                reason: e.to_string(),
            })
        });
    if res.is_err() && tmp.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_a_tarball_from_the_store_and_refuses_other_paths() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real-store");
        std::fs::create_dir_all(real.join("tree/bin")).unwrap();
        std::fs::write(real.join("tree/bin/x"), b"x").unwrap();
        let ok = std::process::Command::new("tar")
            .arg("-C")
            .arg(real.join("tree"))
            .arg("-cJf")
            .arg(real.join("abc-t.tar.xz"))
            .arg("bin")
            .status()
            .unwrap();
        assert!(ok.success());
        let env: BTreeMap<String, String> =
            [("src".to_owned(), "/nix/store/abc-t.tar.xz".to_owned())].into();
        let out = dir.path().join("out");
        let mut log = Vec::new();
        run_in(&env, &out, "/nix/store", &real, &mut log).unwrap();
        assert_eq!(std::fs::read(out.join("bin/x")).unwrap(), b"x");
        assert!(String::from_utf8(log).unwrap().contains("abc-t.tar.xz"));

        for bad in ["/etc/passwd", "/nix/store/../x", "/nix/store/"] {
            let env: BTreeMap<String, String> = [("src".to_owned(), bad.to_owned())].into();
            let err = run_in(
                &env,
                &dir.path().join("o"),
                "/nix/store",
                &real,
                &mut Vec::new(),
            );
            assert!(matches!(err, Err(UnpackError::NotInStore(_))), "{bad}");
        }
        let err = run_in(&BTreeMap::new(), &out, "/nix/store", &real, &mut Vec::new());
        assert!(matches!(err, Err(UnpackError::MissingSrc)));
        // Not an archive: the error names it, nothing is left behind.
        std::fs::write(real.join("def-junk"), b"junk").unwrap();
        let env: BTreeMap<String, String> =
            [("src".to_owned(), "/nix/store/def-junk".to_owned())].into();
        let err = run_in(
            &env,
            &dir.path().join("o"),
            "/nix/store",
            &real,
            &mut Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("unpacking '/nix/store/def-junk'"), "{err}");
        assert!(!dir.path().join("o").exists());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }
}
