//! What a realisation is told by the command line and the configuration.

use std::path::PathBuf;
use std::time::Duration;

use crate::sandbox::SandboxPath;

/// Settings of one realisation (Nix's names in parentheses).
#[derive(Debug, Clone)]
pub struct BuildSettings {
    /// How many builds may run at once (`max-jobs`); 0 forbids local builds.
    pub max_jobs: usize,
    /// `NIX_BUILD_CORES` for each builder (`cores`; 0 means all of the machine's).
    pub cores: u32,
    /// Whether builders run in the sandbox (`sandbox`). A store whose physical directory is
    /// not its logical one always sandboxes.
    pub sandbox: bool,
    /// Build without the sandbox where this kernel or container cannot make one
    /// (`sandbox-fallback`), instead of failing; never for a store outside its logical place.
    pub sandbox_fallback: bool,
    /// Host paths visible in every sandbox (`sandbox-paths` and `extra-sandbox-paths`).
    pub sandbox_paths: Vec<SandboxPath>,
    /// Keep building what does not depend on a failure (`keep-going`).
    pub keep_going: bool,
    /// Keep the build directory of a failed build (`keep-failed`).
    pub keep_failed: bool,
    /// Kill a build that runs longer than this (`timeout`).
    pub timeout: Option<Duration>,
    /// Kill a build that prints nothing for this long (`max-silent-time`).
    pub max_silent_time: Option<Duration>,
    /// The platform builds run on (`system`).
    pub system: String,
    /// Further platforms this machine builds for (`extra-platforms`).
    pub extra_platforms: Vec<String>,
    /// Where build directories are made (`build-dir`; default `$TMPDIR` or `/tmp`).
    pub build_dir_parent: PathBuf,
    /// How many log lines a failure shows (`log-lines`).
    pub log_lines: usize,
    /// Keep build logs under the state directory (`keep-build-log`).
    pub keep_build_log: bool,
    /// Where `builtin:fetchurl` fetches `mirror://NAME/…` URLs from (`mirrors`).
    pub mirrors: kiln_fetch::Mirrors,
    /// Where `builtin:fetchurl` keeps flat downloads by their hash, to copy them from there
    /// the next time (the session's: `by-hash` in the fetch cache); `None`: always download.
    pub download_cache: Option<PathBuf>,
}

impl Default for BuildSettings {
    fn default() -> Self {
        BuildSettings {
            max_jobs: 1,
            cores: 0,
            sandbox: true,
            sandbox_fallback: true,
            sandbox_paths: Vec::new(),
            keep_going: false,
            keep_failed: false,
            timeout: None,
            max_silent_time: None,
            system: current_system().to_owned(),
            extra_platforms: Vec::new(),
            build_dir_parent: std::env::var_os("TMPDIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/tmp")),
            log_lines: 25,
            keep_build_log: true,
            mirrors: kiln_fetch::Mirrors::new(),
            download_cache: None,
        }
    }
}

/// The platform this binary runs on, in Nix's spelling (`x86_64-linux`). A `const fn`, so that
/// tables of defaults (`kiln_session::settings`) can name it.
pub const fn current_system() -> &'static str {
    macro_rules! on {
        ($arch:literal, $os:literal, $system:literal) => {
            if cfg!(all(target_arch = $arch, target_os = $os)) {
                return $system;
            }
        };
    }
    on!("x86_64", "linux", "x86_64-linux");
    on!("aarch64", "linux", "aarch64-linux");
    on!("x86", "linux", "i686-linux");
    on!("riscv64", "linux", "riscv64-linux");
    on!("powerpc64", "linux", "powerpc64le-linux");
    on!("x86_64", "macos", "x86_64-darwin");
    on!("aarch64", "macos", "aarch64-darwin");
    "unknown-system"
}

/// The number of cores for `cores = 0`.
pub fn available_cores() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
}
