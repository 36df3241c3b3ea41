//! Development shells: `nix-shell`, `kiln shell -p`, `kiln develop`, in temporary store roots
//! (the shell runs where the root's store is mounted on `/nix/store`).
//!
//! The package set's downloads come from the fetch cache the package tests share
//! (`target/kiln-pkgs-test-cache`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{kiln, legacy, stdout_of};

fn nix_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../nix")
}

fn cache_home() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/kiln-pkgs-test-cache");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `PATH` entry of the caller's that a pure shell must not have.
const MARKER: &str = "/kiln-test-caller-path-marker";

/// The caller's `PATH`: the marker, then the real one (bash is found there).
fn caller_path() -> String {
    format!("{MARKER}:{}", std::env::var("PATH").unwrap_or_default())
}

/// Sets up `cmd` (after its subcommand) like a user's call: the shared cache, `kiln` and `nixpkgs` on the search
/// path, a `PATH` with the marker.
fn user_call(cmd: &mut Command, root: &Path) {
    cmd.env("XDG_CACHE_HOME", cache_home())
        .env("PATH", caller_path())
        .env_remove("NIX_BUILD_SHELL")
        .arg("--store")
        .arg(root)
        .arg("-I")
        .arg(format!("kiln={}", nix_dir().display()))
        .arg("-I")
        .arg(format!("nixpkgs={}", nix_dir().join("pkgs").display()));
}

/// A derivation whose builder would fail, with a `stdenv` input (built by static busybox) whose
/// `setup` defines `runHook`, a `shellHook` and an argument.
const TRIVIAL: &str = r#"{ greeting ? "hi" }:
let
  pkgs = import <kiln/pkgs> { };
  # A shell with every applet and nothing to compile.
  sh = "${pkgs.busybox-static}/bin/sh";
  stdenv = derivation {
    name = "fake-stdenv";
    system = builtins.currentSystem;
    builder = sh;
    args = [ "-c" ''mkdir $out; echo 'runHook() { eval "''${!1}"; }; fromSetup=yes' > $out/setup'' ];
  };
in
derivation {
  name = "trivial-shell";
  system = builtins.currentSystem;
  builder = sh;
  args = [ "-c" "exit 1" ];
  inherit greeting stdenv;
  shellHook = ''echo "hook: $greeting"'';
}
"#;

#[test]
fn nix_shell_runs_the_shell_hook_with_args_without_building_the_derivation() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let dir = tmp.path().join("project");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("shell.nix"), TRIVIAL).unwrap();
    let mut cmd = legacy(tmp.path(), "nix-shell");
    user_call(&mut cmd, &root);
    let out = stdout_of(
        cmd.current_dir(&dir)
            .args(["--arg", "greeting", r#""yo""#])
            .args(["--run", r#"echo "run: $greeting $fromSetup $IN_NIX_SHELL $name"; [ -e "$out" ] || echo "not built"; [ -e "$stdenv/setup" ] && echo "input built""#]),
    );
    assert_eq!(
        out,
        "hook: yo\nrun: yo yes impure trivial-shell\nnot built\ninput built\n"
    );

    // `--argstr`, `-A` and `--command` on a file named on the command line; `--pure` keeps
    // nothing of the caller's PATH (and keeps HOME).
    std::fs::write(
        dir.join("set.nix"),
        "{ greeting }: { sh = import ./shell.nix { inherit greeting; }; }",
    )
    .unwrap();
    let mut cmd = legacy(tmp.path(), "nix-shell");
    user_call(&mut cmd, &root);
    let out = stdout_of(
        cmd.current_dir(&dir)
            .env("HOME", "/kiln-test-home")
            .args([
                "set.nix", "-A", "sh", "--argstr", "greeting", "hey", "--pure",
            ])
            .args(["--command", r#"echo "[$PATH] $HOME $IN_NIX_SHELL""#]),
    );
    assert_eq!(out, "hook: hey\n[] /kiln-test-home pure\n");
}

#[test]
fn kiln_develop_enters_a_file_s_derivation() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let file = tmp.path().join("shell.nix");
    std::fs::write(&file, TRIVIAL).unwrap();
    let mut cmd = kiln();
    cmd.arg("develop");
    user_call(&mut cmd, &root);
    let out = stdout_of(
        cmd.arg("-f")
            .arg(&file)
            .args(["--run", "echo $greeting $fromSetup"]),
    );
    assert_eq!(out, "hook: hi\nhi yes\n");
}

/// `nix-shell -p hello` with the package set: the bootstrap and GNU hello are built (hello is
/// an input of the shell's derivation), the stdenv's setup is sourced in `kiln develop -A
/// hello` (which builds hello's inputs only).
#[test]
fn nix_shell_p_hello_runs_hello_and_pure_drops_the_callers_path() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    // The build environment of hello itself: the stdenv's setup sourced, phases callable,
    // hello not built.
    let mut cmd = kiln();
    cmd.arg("develop");
    user_call(&mut cmd, &root);
    let out = stdout_of(
        cmd.arg("-f")
            .arg(nix_dir().join("pkgs"))
            .args(["-A", "hello", "--run"])
            .arg(r#"type -t buildPhase; type -t genericBuild; echo "$name"; [ -e "$out" ] || echo "not built""#),
    );
    assert_eq!(out, "function\nfunction\nhello-2.10\nnot built\n");

    let mut cmd = legacy(tmp.path(), "nix-shell");
    user_call(&mut cmd, &root);
    let out = stdout_of(cmd.args(["-p", "hello", "--run", "hello"]));
    assert_eq!(out, "Hello, world!\n");

    let mut cmd = legacy(tmp.path(), "nix-shell");
    user_call(&mut cmd, &root);
    let out = stdout_of(cmd.args(["--pure", "-p", "hello", "--run", r#"hello; echo "$PATH""#]));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("Hello, world!"));
    let path = lines.next().unwrap();
    assert!(path.contains("-hello-2.10/bin"), "{path}");
    for entry in std::env::split_paths(&caller_path()) {
        assert!(
            !std::env::split_paths(path).any(|p| p == entry),
            "{} of the caller's PATH is in {path}",
            entry.display()
        );
    }

    // Impure: the caller's PATH comes after the environment's.
    let mut cmd = kiln();
    cmd.arg("shell");
    user_call(&mut cmd, &root);
    let out = stdout_of(cmd.args(["-p", "hello", "--run", "echo $PATH"]));
    assert!(out.trim_end().ends_with(&caller_path()), "{out}");
}
