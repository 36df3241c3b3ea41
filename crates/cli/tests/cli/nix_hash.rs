//! `nix-hash`, the legacy program, compared flag by flag with the reference.

use crate::{failure_of, hello_tree, legacy, reference, stdout_of};

/// Flag sets Nix 2.8's nix-hash accepts: the output must be identical.
#[test]
fn same_output_as_nix_2_8() {
    let dir = tempfile::tempdir().unwrap();
    let root = hello_tree(dir.path());
    let f = root.join("f");
    let cases: &[&[&str]] = &[
        &[],
        &["--flat"],
        &["--base32"],
        &["--type", "sha1"],
        &["--type", "sha256", "--base32"],
        &["--type", "sha512", "--truncate"],
        &["--type", "sha256", "--truncate", "--base32"],
        &["--flat", "--type", "sha256", "--base32"],
    ];
    for args in cases {
        let target = if args.contains(&"--flat") { &f } else { &root };
        let ours = stdout_of(legacy(dir.path(), "nix-hash").args(*args).arg(target));
        let theirs = stdout_of(reference(dir.path(), "nix-hash").args(*args).arg(target));
        assert_eq!(ours, theirs, "nix-hash {args:?}");
    }
    // Several paths, one line each.
    let ours = stdout_of(legacy(dir.path(), "nix-hash").arg(&root).arg(&root));
    let theirs = stdout_of(reference(dir.path(), "nix-hash").arg(&root).arg(&root));
    assert_eq!(ours, theirs);
    // Conversions.
    let sha256 = stdout_of(
        reference(dir.path(), "nix-hash")
            .args(["--type", "sha256"])
            .arg(&root),
    );
    let sha256 = sha256.trim();
    for args in [
        vec!["--type", "sha256", "--to-base32", sha256],
        vec!["--type", "sha256", "--to-base16", sha256],
    ] {
        let ours = stdout_of(legacy(dir.path(), "nix-hash").args(&args));
        let theirs = stdout_of(reference(dir.path(), "nix-hash").args(&args));
        assert_eq!(ours, theirs, "nix-hash {args:?}");
    }
}

/// Flags Nix 2.8 lacks but current Nix has; expected values printed by Nix 2.26 for the same
/// tree (a directory holding `f` = "hello\n").
#[test]
fn current_nix_flags() {
    let dir = tempfile::tempdir().unwrap();
    let root = hello_tree(dir.path());
    let run = |args: &[&str]| stdout_of(legacy(dir.path(), "nix-hash").args(args).arg(&root));
    let sri = "sha256-8o0DBb0yE+dbLyDe85hGPPhmjfnJ5YFV5rNLl+pnrSk=";
    assert_eq!(run(&["--type", "sha256", "--sri"]), format!("{sri}\n"));
    assert_eq!(
        run(&["--type", "sha256", "--base64"]),
        "8o0DBb0yE+dbLyDe85hGPPhmjfnJ5YFV5rNLl+pnrSk=\n"
    );
    assert_eq!(
        run(&["--type", "sha256", "--sri", "--truncate"]),
        "sha256-O2iCUFuBWHCxSI3385hGPPhmjfk=\n"
    );
    assert_eq!(
        run(&["--type", "sha1", "--base16"]),
        "66009564e4b435d1f8eeb971843f97a19c2a05d0\n"
    );
    // The last encoding flag wins.
    assert_eq!(
        run(&["--type", "sha256", "--base32", "--sri"]),
        format!("{sri}\n")
    );
    let hex = "f28d0305bd3213e75b2f20def398463cf8668df9c9e58155e6b34b97ea67ad29";
    let conv = |args: &[&str]| stdout_of(legacy(dir.path(), "nix-hash").args(args));
    assert_eq!(
        conv(&["--type", "sha256", "--to-sri", hex]),
        format!("{sri}\n")
    );
    assert_eq!(conv(&["--to-base16", sri]), format!("{hex}\n"));
    assert_eq!(
        conv(&["--to-base32", &format!("sha256:{hex}")]),
        "0addczm9fjxkwraq3rf9z66ndy1w8scg7pi05xdyf4rjpl2h73gj\n"
    );
}

#[test]
fn errors_like_nix() {
    let dir = tempfile::tempdir().unwrap();
    let out = failure_of(legacy(dir.path(), "nix-hash").arg("--bogus"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err,
        "error: unrecognised flag '--bogus'\nTry 'nix-hash --help' for more information.\n"
    );
    let out = failure_of(legacy(dir.path(), "nix-hash").args(["--type", "foo", "x"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown hash algorithm 'foo'"));
    let out = failure_of(legacy(dir.path(), "nix-hash").arg("/nonexistent/kiln"));
    assert_eq!(out.status.code(), Some(1));
    // Current Nix: a bare digest to convert needs --type.
    let out = failure_of(legacy(dir.path(), "nix-hash").args([
        "--to-base16",
        "0addczm9fjxkwraq3rf9z66ndy1w8scg7pi05xdyf4rjpl2h73gj",
    ]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not include a type"));
}
