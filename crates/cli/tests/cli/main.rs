//! End-to-end tests of the `kiln` binary and its legacy names, one test binary for all.
//!
//! Differential cases run the reference Nix 2.8 on the same inputs; cases where current Nix
//! differs from 2.8 carry the output of current Nix (2.26), noted at the case.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod build;
mod cache;
mod config;
mod eval;
mod fetch;
mod flake;
mod gc;
mod hash;
mod instantiate;
mod key;
mod legacy_day_one;
mod nar;
mod nix_hash;
mod nix_store_query;
mod os;
mod parse;
mod pkgs;
mod profile;
mod repl;
mod search;
mod shell;
mod store;
mod vm;

/// Returns a `kiln` command isolated from the user's configuration.
pub fn kiln() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    cmd.env_remove("KILN_STORE")
        .env("XDG_CONFIG_HOME", "/nonexistent-kiln-test-config");
    cmd
}

/// Returns a command running `kiln` under a legacy name (through a symlink in `dir`).
pub fn legacy(dir: &Path, name: &str) -> Command {
    let link = dir.join(name);
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kiln"), &link).unwrap();
    }
    let mut cmd = Command::new(link);
    cmd.env_remove("KILN_STORE")
        .env("XDG_CONFIG_HOME", "/nonexistent-kiln-test-config");
    cmd
}

/// Returns a command running the reference Nix program `name`, with its state kept in `dir`.
pub fn reference(dir: &Path, name: &str) -> Command {
    kiln_testkit::reference_command(name, &dir.join("ref-state"))
}

/// Runs a command, asserting success, and returns its stdout.
#[track_caller]
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command expected to fail, returning its output.
#[track_caller]
pub fn failure_of(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "{cmd:?} unexpectedly succeeded");
    out
}

/// Writes a small fixed tree: a directory with a file `f` containing "hello\n".
pub fn hello_tree(dir: &Path) -> PathBuf {
    let root = dir.join("hh");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("f"), "hello\n").unwrap();
    root
}
