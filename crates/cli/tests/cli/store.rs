//! `kiln store` and the legacy `nix-store`, against the reference `nix-store` on the same roots.

use std::path::Path;
use std::process::Command;

use kiln_testkit::TreeSpec;

use crate::{failure_of, kiln, legacy, reference, stdout_of};

/// The reference `nix-store` on the chroot store `root`.
fn nix_store(dir: &Path, root: &Path) -> Command {
    let mut cmd = reference(dir, "nix-store");
    cmd.arg("--store")
        .arg(format!("local?root={}", root.display()));
    cmd
}

/// Kiln's `nix-store` on `root`.
fn kiln_nix_store(dir: &Path, root: &Path) -> Command {
    let mut cmd = legacy(dir, "nix-store");
    cmd.arg("--store").arg(root);
    cmd
}

#[test]
fn nix_store_add_and_queries_match_the_reference_on_one_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let t = dir.path().join("tree");
    TreeSpec {
        seed: 3,
        depth: 3,
        width: 5,
        max_file_size: 2000,
    }
    .write(&t);
    let f = dir.path().join("file");
    std::fs::write(&f, "contents\n").unwrap();
    // Kiln adds; the reference, adding the same inputs to its own root, gets the same paths.
    let ours = stdout_of(
        kiln_nix_store(dir.path(), &root)
            .arg("--add")
            .arg(&t)
            .arg(&f),
    );
    let theirs = stdout_of(
        nix_store(dir.path(), &dir.path().join("nix-root"))
            .arg("--add")
            .arg(&t)
            .arg(&f),
    );
    assert_eq!(ours, theirs);
    let fixed = stdout_of(
        kiln()
            .arg("--store")
            .arg(&root)
            .args(["store", "add", "--flat", "--hash-algo", "sha1"])
            .arg(&f),
    );
    let theirs = stdout_of(
        nix_store(dir.path(), &dir.path().join("nix-root"))
            .args(["--add-fixed", "sha1"])
            .arg(&f),
    );
    assert_eq!(fixed, theirs);
    // The reference reads Kiln's root and answers as Kiln's nix-store does.
    for path in ours.lines().chain(fixed.lines()) {
        for q in [
            "--references",
            "--referrers",
            "--requisites",
            "--hash",
            "--size",
            "--deriver",
        ] {
            let a = stdout_of(kiln_nix_store(dir.path(), &root).args(["-q", q, path]));
            let b = stdout_of(nix_store(dir.path(), &root).args(["-q", q, path]));
            assert_eq!(a, b, "{q} {path}");
        }
    }
    stdout_of(nix_store(dir.path(), &root).args(["--verify", "--check-contents"]));
    stdout_of(kiln_nix_store(dir.path(), &root).args(["--verify", "--check-contents"]));
}

#[test]
fn store_commands_list_cat_and_refuse_to_delete_what_is_referenced() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let state = dir.path().join("state");
    // A root Nix populated: a derivation referring to a source file.
    let expr = dir.path().join("e.nix");
    std::fs::write(
        &expr,
        r#"derivation { name = "x"; system = "x86_64-linux"; builder = builtins.toFile "b" "echo hi"; }"#,
    )
    .unwrap();
    let drv = stdout_of(
        kiln_testkit::reference_command("nix-instantiate", &state)
            .arg("--store")
            .arg(format!("local?root={}", root.display()))
            .arg(&expr),
    );
    let drv = drv.trim();
    let store = |args: &[&str]| {
        let mut cmd = kiln();
        cmd.arg("--store").arg(&root).arg("store").args(args);
        cmd
    };
    let refs = stdout_of(&mut store(&["references", drv]));
    assert_eq!(refs.lines().count(), 1, "{refs}");
    assert!(refs.trim().ends_with("-b"));
    let closure = stdout_of(&mut store(&["closure", drv]));
    assert_eq!(closure, format!("{refs}{drv}\n"));
    assert_eq!(stdout_of(&mut store(&["cat", refs.trim()])), "echo hi");
    let referrers = stdout_of(&mut store(&["referrers", refs.trim()]));
    assert_eq!(referrers.trim(), drv);
    let json = stdout_of(&mut store(&["path-info", "--json", "-r", drv]));
    assert!(json.contains("\"ca\":\"text:sha256:"), "{json}");
    // Deleting the source is refused while the derivation refers to it.
    let out = failure_of(&mut store(&["delete", refs.trim()]));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("since it is still alive"), "{err}");
    let deleted = stdout_of(&mut store(&["delete", drv, refs.trim()]));
    assert!(deleted.starts_with("2 store paths deleted, "), "{deleted}");
    stdout_of(&mut store(&["verify", "--check-contents"]));
    // Nix agrees: the paths are gone and the store is consistent.
    failure_of(nix_store(dir.path(), &root).args(["-q", "--hash", drv]));
    stdout_of(nix_store(dir.path(), &root).args(["--verify", "--check-contents"]));
}

#[test]
fn optimise_from_either_side_shares_links() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    for i in 0..2 {
        let d = dir.path().join(format!("d{i}"));
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("same"), "shared\n").unwrap();
        std::fs::write(d.join("own"), format!("{i}\n")).unwrap();
        stdout_of(kiln_nix_store(dir.path(), &root).arg("--add").arg(&d));
    }
    let out = kiln_nix_store(dir.path(), &root)
        .arg("--optimise")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("hard-linking 1 files"));
    // Nix finds nothing left to do, and so does Kiln.
    let out = nix_store(dir.path(), &root)
        .arg("--optimise")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("hard-linking 0 files"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kiln()
        .arg("--store")
        .arg(&root)
        .args(["store", "optimise"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("hard-linking 0 files"));
}
