//! Test support shared by Kiln's crates (a dev-dependency only).
//!
//! * [`reference_tool`] finds a program of the reference Nix (Debian's `nix-bin`, Nix 2.8) and
//!   fails the test when it is missing: a skipped differential test would be a silent pass.
//! * [`replay_corpus`] feeds every file of a fuzz regression directory to a parser.
//! * [`TreeSpec`] generates file trees with the shapes NAR code must handle.
//! * [`interop`]: Nix 2.8 substituting from a cache, and trees compared as NARs see them.
//! * [`S3Server`]: a real S3-compatible object store (SeaweedFS) on 127.0.0.1.

use std::path::{Path, PathBuf};

pub mod interop;
pub mod s3;
pub mod tree;
pub use s3::{S3Server, S3_ACCESS_KEY, S3_SECRET_KEY};
pub use tree::TreeSpec;

/// Returns the path of a reference Nix program such as `nix-store`, or panics with how to get it.
pub fn reference_tool(name: &str) -> PathBuf {
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&dirs).chain([PathBuf::from("/usr/bin")]) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "the reference `{name}` is not installed; differential tests need Nix 2.8 \
         (`apt-get install nix-bin`, which .ci/run does)"
    )
}

/// Returns a `Command` for a reference Nix program with an environment that keeps it off the
/// machine's own configuration and store.
pub fn reference_command(name: &str, state: &Path) -> std::process::Command {
    // Unless the caller wrote its own: builds as the calling user (a fresh machine has no
    // `nixbld` group) and no binary cache (no network; Nix would retry for seconds).
    let conf = state.join("etc/nix.conf");
    if !conf.exists() {
        std::fs::create_dir_all(state.join("etc")).expect("creating the reference Nix's etc");
        std::fs::write(&conf, "build-users-group =\nsubstituters =\n")
            .expect("writing the reference Nix's nix.conf");
    }
    let mut cmd = std::process::Command::new(reference_tool(name));
    cmd.env("NIX_CONF_DIR", state.join("etc"))
        .env("NIX_STATE_DIR", state.join("var"))
        .env("NIX_LOG_DIR", state.join("log"))
        .env("HOME", state.join("home"))
        .env("XDG_CACHE_HOME", state.join("cache"))
        .env_remove("NIX_PATH")
        .env_remove("NIX_REMOTE");
    cmd
}

/// Calls `parse` on every file in `dir` (the crash inputs a fuzzer found, kept as regressions),
/// returning how many were replayed. A panic in `parse` fails the calling test with the file name.
pub fn replay_corpus(dir: &Path, mut parse: impl FnMut(&[u8])) -> usize {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read corpus {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in &entries {
        let data = std::fs::read(path).unwrap();
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&data)));
        if res.is_err() {
            panic!("parser panicked on corpus file {}", path.display());
        }
    }
    entries.len()
}

/// Checks that an unprivileged user (uid/gid 65534) can run a program here; tests that drop to
/// `nobody` call this first. Some minimal roots (containers whose `/` is mode 0700) make it
/// impossible for anyone but root to run anything: the error says so, and the caller skips
/// with that reason printed rather than failing on the machine instead of the code.
pub fn unprivileged_can_run() -> Result<(), String> {
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/bin/true",
        ])
        .env_remove("LD_LIBRARY_PATH")
        .current_dir("/")
        .output()
        .map_err(|e| format!("cannot run setpriv (util-linux): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "uid 65534 cannot run /bin/true on this machine ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
