//! `kiln key`, against `nix key` of the reference Nix.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::{failure_of, kiln, reference, stdout_of};

/// Runs `cmd` with `input` on standard input, returning standard output.
fn with_stdin(cmd: &mut Command, input: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn nix_key(dir: &std::path::Path) -> Command {
    let mut cmd = reference(dir, "nix");
    cmd.args(["--extra-experimental-features", "nix-command", "key"]);
    cmd
}

#[test]
fn keys_interoperate_with_nix() {
    let dir = tempfile::tempdir().unwrap();
    // Kiln's secret key, converted by both.
    let secret = stdout_of(kiln().args(["key", "generate-secret", "--key-name", "cache.test-1"]));
    assert!(secret.starts_with("cache.test-1:"), "{secret}");
    assert!(
        !secret.ends_with('\n'),
        "printed without a newline, like nix key"
    );
    let ours = with_stdin(kiln().args(["key", "convert-secret-to-public"]), &secret);
    let theirs = with_stdin(nix_key(dir.path()).arg("convert-secret-to-public"), &secret);
    assert!(ours.status.success() && theirs.status.success());
    assert_eq!(ours.stdout, theirs.stdout);
    // Nix's secret key, converted by Kiln.
    let nix_secret = stdout_of(nix_key(dir.path()).args(["generate-secret", "--key-name", "n-1"]));
    let ours = with_stdin(
        kiln().args(["key", "convert-secret-to-public"]),
        &nix_secret,
    );
    let theirs = with_stdin(
        nix_key(dir.path()).arg("convert-secret-to-public"),
        &nix_secret,
    );
    assert_eq!(ours.stdout, theirs.stdout);
    assert!(String::from_utf8(ours.stdout).unwrap().starts_with("n-1:"));
    // Two generated keys differ.
    let again = stdout_of(kiln().args(["key", "generate-secret", "--key-name", "cache.test-1"]));
    assert_ne!(secret, again);
}

#[test]
fn bad_keys_are_clear_errors() {
    let out = with_stdin(kiln().args(["key", "convert-secret-to-public"]), "garbage");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: ") && err.contains("secret key"),
        "{err}"
    );
    let out = with_stdin(
        kiln().args(["key", "convert-secret-to-public"]),
        "name:AAAA",
    );
    assert_eq!(out.status.code(), Some(1));
    let out = failure_of(kiln().args(["key", "generate-secret"]));
    assert_eq!(out.status.code(), Some(2));
}
