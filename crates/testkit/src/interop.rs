//! Nix 2.8 on the other side of a binary cache: the steps the cache and serve tests share.

use std::path::{Path, PathBuf};

use crate::reference_command;

/// Where an absolute store path (`/nix/store/…`) lies under a store root.
pub fn real_path(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Has Nix 2.8 realise `path` into the store at `root` with `substituter` as its only cache
/// and `trusted_key` (`name:base64`) as its only trusted key, its state under `state`.
/// Panics with Nix's output when it fails: then it did not substitute (nothing it could build).
pub fn reference_substitute(
    state: &Path,
    root: &Path,
    path: &str,
    substituter: &str,
    trusted_key: &str,
) {
    let out = reference_command("nix-store", state)
        .arg("--store")
        .arg(format!("local?root={}", root.display()))
        .args(["--realise", path])
        .args(["--option", "substituters", substituter])
        .args(["--option", "trusted-public-keys", trusted_key])
        .output()
        .expect("running the reference nix-store");
    assert!(
        out.status.success(),
        "nix-store --realise {path} from {substituter} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Panics unless the file trees at `a` and `b` are the same as a NAR sees them: the same
/// names, types, contents, executable bits and link targets.
pub fn assert_same_tree(a: &Path, b: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let (ma, mb) = (
        std::fs::symlink_metadata(a).unwrap_or_else(|e| panic!("{}: {e}", a.display())),
        std::fs::symlink_metadata(b).unwrap_or_else(|e| panic!("{}: {e}", b.display())),
    );
    let kind = |m: &std::fs::Metadata| {
        if m.is_symlink() {
            "symlink"
        } else if m.is_dir() {
            "directory"
        } else {
            "file"
        }
    };
    assert_eq!(
        kind(&ma),
        kind(&mb),
        "{} and {} differ in type",
        a.display(),
        b.display()
    );
    if ma.is_symlink() {
        assert_eq!(
            std::fs::read_link(a).unwrap(),
            std::fs::read_link(b).unwrap(),
            "{} and {} point elsewhere",
            a.display(),
            b.display()
        );
    } else if ma.is_dir() {
        let names = |d: &Path| {
            let mut v: Vec<_> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            v.sort();
            v
        };
        let (na, nb) = (names(a), names(b));
        assert_eq!(
            na,
            nb,
            "{} and {} list differently",
            a.display(),
            b.display()
        );
        for n in na {
            assert_same_tree(&a.join(&n), &b.join(&n));
        }
    } else {
        let exec = |m: &std::fs::Metadata| m.permissions().mode() & 0o100 != 0;
        assert_eq!(
            exec(&ma),
            exec(&mb),
            "{} and {} differ in the executable bit",
            a.display(),
            b.display()
        );
        assert!(
            std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
            "{} and {} differ in content",
            a.display(),
            b.display()
        );
    }
}
