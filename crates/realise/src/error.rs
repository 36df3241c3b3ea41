//! What can go wrong while realising derivations.

use std::path::{Path, PathBuf};

use kiln_store::StoreError;

/// Why a build (or preparing one) failed. Messages follow Nix's where Nix has one.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The store refused an operation.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file system operation failed.
    #[error("{op} '{path}': {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The physical path.
        path: PathBuf,
        /// The system error.
        source: std::io::Error,
    },
    /// The derivation cannot be set up for building.
    #[error("cannot build '{drv}': {message}")]
    Setup {
        /// The `.drv` path.
        drv: String,
        /// What is wrong.
        message: String,
    },
    /// Fetching from a binary cache failed (and `fallback` is off).
    #[error("{0}")]
    Substitute(#[from] kiln_cache::CacheError),
    /// A path that is not valid and has no derivation to build it from.
    #[error("path '{0}' is required, but it is not valid and there is no derivation to build it")]
    Missing(String),
    /// The builder exited unsuccessfully.
    #[error("builder for '{drv}' failed with {status}{}", log_tail_text(.log_tail))]
    BuilderFailed {
        /// The `.drv` path.
        drv: String,
        /// "exit code 1", "signal 9 (Killed)"…
        status: String,
        /// The last lines of its log.
        log_tail: Vec<String>,
    },
    /// The builder ran too long, or was silent too long.
    #[error("building of '{drv}' timed out after {seconds} seconds{}", if *.silent { " of silence" } else { "" })]
    TimedOut {
        /// The `.drv` path.
        drv: String,
        /// The limit.
        seconds: u64,
        /// Whether the limit was `max-silent-time`.
        silent: bool,
    },
    /// The builder succeeded but did not create an output.
    #[error("builder for '{drv}' failed to produce output path for output '{output}' at '{path}'")]
    MissingOutput {
        /// The `.drv` path.
        drv: String,
        /// The output name.
        output: String,
        /// The output path.
        path: String,
    },
    /// A fixed-output derivation produced something else than announced.
    #[error("hash mismatch in fixed-output derivation '{drv}':\n  specified: {specified}\n     got:    {got}")]
    HashMismatch {
        /// The `.drv` path.
        drv: String,
        /// The expected hash (SRI).
        specified: String,
        /// The hash of what was built (SRI).
        got: String,
    },
    /// An output breaks `allowedReferences` or one of its siblings.
    #[error("output '{output}' is not allowed to refer to the following paths:{}", paths_text(.paths))]
    IllegalReferences {
        /// The output path.
        output: String,
        /// The offending paths.
        paths: Vec<String>,
    },
    /// `--check` built something different from the valid output.
    #[error("derivation '{drv}' may not be deterministic: output '{output}' differs{}", diff_text(.diff))]
    NotDeterministic {
        /// The `.drv` path.
        drv: String,
        /// The output path.
        output: String,
        /// A summary of the differences.
        diff: Vec<String>,
    },
    /// A derivation could not be built because one of its inputs failed.
    #[error("{count} dependencies of derivation '{drv}' failed to build")]
    DependencyFailed {
        /// The `.drv` path.
        drv: String,
        /// How many inputs failed.
        count: usize,
    },
    /// Several goals did not build (Nix's summary, after the failures it printed).
    #[error("build of {} failed", quoted_list(.drvs))]
    BuildsFailed {
        /// The goals' `.drv` paths, sorted.
        drvs: Vec<String>,
    },
    /// The derivation needs another platform.
    #[error("a '{needed}' is required to build '{drv}', but I am a '{have}'")]
    WrongSystem {
        /// The `.drv` path.
        drv: String,
        /// Its `system`.
        needed: String,
        /// This machine's.
        have: String,
    },
    /// The sandbox could not be set up or the builder not started.
    #[error("while setting up the build environment for '{drv}': {message}")]
    Sandbox {
        /// The `.drv` path.
        drv: String,
        /// The sandbox's error.
        message: String,
    },
    /// `--max-jobs 0` with something to build.
    #[error("unable to start any build; either increase '--max-jobs' or enable remote builds")]
    NoJobs,
}

impl BuildError {
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> Self {
        BuildError::Io {
            op,
            path: path.to_owned(),
            source,
        }
    }
}

/// The log tail after a builder's failure, its lines indented under `error: ` as Nix 2.8
/// prints them.
fn log_tail_text(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut s = format!(";\n       last {} log lines:", lines.len());
    for l in lines {
        s.push_str("\n       > ");
        s.push_str(l);
    }
    s
}

fn quoted_list(paths: &[String]) -> String {
    paths
        .iter()
        .map(|p| format!("'{p}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn paths_text(paths: &[String]) -> String {
    paths.iter().map(|p| format!("\n  {p}")).collect()
}

fn diff_text(diff: &[String]) -> String {
    if diff.is_empty() {
        return String::new();
    }
    format!(":\n{}", diff.join("\n"))
}
