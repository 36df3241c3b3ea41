//! `kiln hash`.

use kiln_testkit::TreeSpec;

use crate::{failure_of, hello_tree, kiln, reference, stdout_of};

#[test]
fn hash_path_matches_nix_hash_on_generated_trees() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 0..12 {
        let root = dir.path().join(format!("tree{seed}"));
        TreeSpec {
            seed,
            depth: 3,
            width: 6,
            max_file_size: 3000,
        }
        .write(&root);
        for algo in ["md5", "sha1", "sha256", "sha512"] {
            let ours = stdout_of(
                kiln()
                    .args(["hash", "path", "--base32", "--type", algo])
                    .arg(&root),
            );
            let theirs = stdout_of(
                reference(dir.path(), "nix-hash")
                    .args(["--base32", "--type", algo])
                    .arg(&root),
            );
            assert_eq!(ours, theirs, "seed {seed}, {algo}");
        }
    }
}

#[test]
fn hash_file_matches_nix_hash_flat() {
    let dir = tempfile::tempdir().unwrap();
    let root = hello_tree(dir.path());
    let f = root.join("f");
    let ours = stdout_of(
        kiln()
            .args(["hash", "file", "--base16", "--type", "sha1"])
            .arg(&f),
    );
    let theirs = stdout_of(
        reference(dir.path(), "nix-hash")
            .args(["--flat", "--type", "sha1"])
            .arg(&f),
    );
    assert_eq!(ours, theirs);
    // The default is SHA-256 in SRI form, like `nix hash file`.
    let sri = stdout_of(kiln().args(["hash", "file"]).arg(&f));
    assert_eq!(sri, "sha256-WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=\n");
}

#[test]
fn hash_path_formats() {
    let dir = tempfile::tempdir().unwrap();
    let root = hello_tree(dir.path());
    let run = |flag: &str| stdout_of(kiln().args(["hash", "path", flag]).arg(&root));
    assert_eq!(
        run("--sri"),
        "sha256-8o0DBb0yE+dbLyDe85hGPPhmjfnJ5YFV5rNLl+pnrSk=\n"
    );
    assert_eq!(
        run("--base64"),
        "8o0DBb0yE+dbLyDe85hGPPhmjfnJ5YFV5rNLl+pnrSk=\n"
    );
    assert_eq!(
        run("--base32"),
        "0addczm9fjxkwraq3rf9z66ndy1w8scg7pi05xdyf4rjpl2h73gj\n"
    );
    assert_eq!(
        run("--base16"),
        "f28d0305bd3213e75b2f20def398463cf8668df9c9e58155e6b34b97ea67ad29\n"
    );
}

#[test]
fn hash_convert() {
    let sri = "sha256-8o0DBb0yE+dbLyDe85hGPPhmjfnJ5YFV5rNLl+pnrSk=";
    let nix32 = "0addczm9fjxkwraq3rf9z66ndy1w8scg7pi05xdyf4rjpl2h73gj";
    let out = stdout_of(kiln().args(["hash", "convert", "--to", "nix32", sri]));
    assert_eq!(out, format!("{nix32}\n"));
    let out = stdout_of(kiln().args(["hash", "convert", "--hash-algo", "sha256", nix32]));
    assert_eq!(out, format!("{sri}\n"));
    let out = stdout_of(kiln().args(["hash", "convert", "--from", "sri", "--to", "base32", sri]));
    assert_eq!(out, format!("{nix32}\n"));
    // A bare digest needs its algorithm.
    let out = failure_of(kiln().args(["hash", "convert", nix32]));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not include a type"), "{err}");
    // --from is checked.
    let out = failure_of(kiln().args(["hash", "convert", "--from", "base16", sri]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in the"));
}

#[test]
fn errors_are_one_clear_line() {
    let out = failure_of(kiln().args(["hash", "path", "/nonexistent/kiln-test"]));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("/nonexistent/kiln-test"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Usage errors exit with 2.
    let out = failure_of(kiln().args(["hash", "frobnicate"]));
    assert_eq!(out.status.code(), Some(2));
    let out = failure_of(kiln().args(["hash", "path", "--type", "sha3", "."]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn global_options_are_accepted_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let root = hello_tree(dir.path());
    let out = stdout_of(
        kiln()
            .args(["--store"])
            .arg(dir.path().join("store"))
            .args(["hash", "path", "--option", "cores", "2"])
            .arg(&root),
    );
    assert_eq!(out, "sha256-8o0DBb0yE+dbLyDe85hGPPhmjfnJ5YFV5rNLl+pnrSk=\n");
}
