//! The Linux-namespace sandbox one builder runs in, as Nix's `sandbox = true` does it.
//!
//! [`spawn`] runs a builder in new user, mount, pid, ipc and uts namespaces (and a new network
//! namespace unless [`SandboxSpec::network`]), inside a fresh root (a tmpfs of the build's own
//! mount namespace, with the store directory and `/tmp` from [`SandboxSpec::work_root`]: see
//! `root.rs`) that holds only:
//!
//! * the logical store directory, writable and sticky (1775), where the builder creates its
//!   outputs ([`output_location`] says where they are on the host afterwards);
//! * each input store path, bind-mounted read-only at its logical path (a symlink input is
//!   recreated as a symlink);
//! * `/build` (the caller's build directory, read-write, the builder's working directory), a
//!   writable `/tmp` (1777), a new `/proc`, a minimal `/dev` (`null`, `zero`, `full`, `random`,
//!   `urandom`, `tty`, `shm`, `pts`/`ptmx`, and the `fd`/`stdin`/`stdout`/`stderr` links);
//! * `/etc/passwd`, `/etc/group` (root, `nixbld` = 1000:100 with home `/build`, `nobody`) and
//!   `/etc/hosts` (`localhost` only; with the network, the host's `/etc/hosts`, `resolv.conf` and
//!   `services` when they exist, and an `nsswitch.conf` limited to files and dns, as Nix gives
//!   fixed-output derivations);
//! * the `sandbox-paths` ([`SandboxPath`]), bind-mounted read-write as Nix does.
//!
//! The builder runs as uid 1000 / gid 100 with hostname `localhost`, no capabilities, stdin
//! `/dev/null` and stdout + stderr on the caller's log descriptor. It is process 1 of its pid
//! namespace, so when it exits or is killed the kernel kills everything it left behind, and
//! [`Running::wait`] returns only once they are all gone.
//!
//! **User ids.** As an ordinary user, uid 1000 / gid 100 inside map to the caller's own uid and
//! gid (unprivileged user namespaces). As root, the builder is never host root: uid 1000 and
//! gid 100 map to the host id `872415232 + pid` (872415232 is where Nix's `auto-allocate-uids`
//! range starts; the pid of the sandbox's first process is unique among the builds running at
//! once, and pids stay below 2^22), and the build directory and the sandbox's store directory are
//! given to that id. (Only root of a nested user namespace, a rootless container, that cannot
//! map that id falls back to its own ids, which are not the host's root.) The setup before the
//! builder is started runs with the caller's identity, so the caller's (possibly private)
//! directories can still be bind-mounted.
//!
//! **Process structure.** The namespaces are made by one `clone` (like `fork`, into new
//! namespaces). The child waits on a pipe until the parent has written its uid/gid maps, sets up
//! the mounts, `pivot_root`s, drops to 1000:100 and `exec`s the builder. Every allocation is done
//! before the `clone` (the child only makes system calls, so it is safe in a multi-threaded
//! process); a failure before `exec` comes back through a close-on-exec error pipe as a
//! [`SandboxError`] that names the step and path.
//!
//! [`spawn_unsandboxed`] is `sandbox = false`: the same environment and working directory, the
//! builder in a process group of its own, outputs written straight to their logical paths.

mod child;
mod process;
mod root;

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub use process::Running;

/// First host uid/gid of the ids given to sandboxed builders when the caller is root (the
/// start of Nix's `auto-allocate-uids` range).
pub const ROOT_ID_BASE: u32 = 872_415_232;

/// The uid the builder has inside the sandbox (Nix's `nixbld` sandbox user).
pub const SANDBOX_UID: u32 = 1000;

/// The gid the builder has inside the sandbox (Nix's `nixbld` group).
pub const SANDBOX_GID: u32 = 100;

/// One path made visible inside the sandbox (from `sandbox-paths` / `extra-sandbox-paths`,
/// e.g. `/bin/sh=/bin/busybox`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxPath {
    /// Absolute path inside the sandbox.
    pub target: String,
    /// Host path bind-mounted there (symlinks followed).
    pub source: PathBuf,
    /// When set, a missing source is skipped instead of being an error.
    pub optional: bool,
}

impl SandboxPath {
    /// Parses one entry of `sandbox-paths`: `PATH`, `TARGET=SOURCE`, either followed by `?`
    /// for an optional path (it is not an error when the source does not exist).
    pub fn parse(entry: &str) -> SandboxPath {
        let (entry, optional) = match entry.strip_suffix('?') {
            Some(rest) => (rest, true),
            None => (entry, false),
        };
        let (target, source) = entry.split_once('=').unwrap_or((entry, entry));
        SandboxPath {
            target: target.to_string(),
            source: PathBuf::from(source),
            optional,
        }
    }
}

/// Everything the sandbox needs to run one builder.
#[derive(Clone, Debug)]
pub struct SandboxSpec {
    /// Logical store directory, e.g. `/nix/store`.
    pub store_dir: String,
    /// Host directory where logical store paths physically live (differs for chroot stores).
    pub real_store_dir: PathBuf,
    /// Absolute logical store paths (the input closure), shown read-only at their logical path.
    pub inputs: Vec<String>,
    /// Further paths to bind-mount (`sandbox-paths`, `extra-sandbox-paths`).
    pub extra_paths: Vec<SandboxPath>,
    /// True only for fixed-output derivations: share the host network. False: a fresh network
    /// namespace with only loopback, up.
    pub network: bool,
    /// Host directory prepared by the caller; it appears as `/build` (the builder's cwd).
    pub build_dir: PathBuf,
    /// The program to run, as a path inside the sandbox.
    pub builder: String,
    /// Its arguments (argv[0] is the builder's base name, as in Nix).
    pub args: Vec<String>,
    /// The complete environment, used as is.
    pub env: Vec<(String, String)>,
    /// Host scratch directory (empty, created by the caller) where the sandbox root is built;
    /// the caller removes it afterwards.
    pub work_root: PathBuf,
}

/// Why a sandbox could not be set up or watched.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// This kernel or process cannot create the namespaces the sandbox needs.
    #[error("cannot create a build sandbox here: {0}")]
    Unsupported(String),
    /// The specification itself is unusable (a relative path, a NUL byte, ...).
    #[error("invalid sandbox specification: {0}")]
    InvalidSpec(String),
    /// A path that must be shown in the sandbox does not exist.
    #[error("{what} '{}' does not exist", path.display())]
    MissingPath {
        /// What the path is (an input, a sandbox path...).
        what: &'static str,
        /// The missing host path.
        path: PathBuf,
    },
    /// Preparing the sandbox on the host failed.
    #[error("{what}: {source}")]
    Io {
        /// The operation, with its path.
        what: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// A step of the setup inside the new namespaces failed (before the builder ran).
    #[error("setting up the build sandbox: {step}: {source}")]
    Setup {
        /// The step, with its paths.
        step: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// The builder could not be executed.
    #[error("executing builder '{builder}': {source}")]
    Exec {
        /// The builder, as a path inside the sandbox.
        builder: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// Waiting for the builder failed.
    #[error("waiting for builder (pid {pid}): {source}")]
    Wait {
        /// The builder's host pid.
        pid: i32,
        /// The system error.
        #[source]
        source: io::Error,
    },
}

pub(crate) fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> SandboxError {
    let what = what.into();
    move |source| SandboxError::Io { what, source }
}

/// Starts the builder in a new sandbox; its stdout and stderr go to `log` (the write end of a
/// pipe the caller reads, or a file).
///
/// Returns once the builder has been executed; a failure before that (a missing input, a mount
/// that fails, a builder that does not exist) is returned as an error and leaves no process.
pub fn spawn(spec: &SandboxSpec, log: OwnedFd) -> Result<Running, SandboxError> {
    let prepared = root::prepare(spec)?;
    let exec = ExecPlan::new(spec, Path::new("/build"))?;
    child::spawn_sandboxed(spec, &prepared, &exec, &log)
}

/// Runs the builder without a sandbox (`sandbox = false` with a store at its logical place):
/// the same environment, cwd `build_dir`, stdin `/dev/null`, stdout + stderr on `log`, in a
/// new process group. Outputs are written straight to their logical path.
///
/// When the builder exits, whatever else is left in its process group is killed, as the
/// sandbox's pid namespace does.
pub fn spawn_unsandboxed(spec: &SandboxSpec, log: OwnedFd) -> Result<Running, SandboxError> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    let stderr = log
        .try_clone()
        .map_err(io_error("duplicating the log descriptor"))?;
    let argv0 = builder_base_name(&spec.builder);
    let mut command = Command::new(&spec.builder);
    command
        .arg0(argv0)
        .args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.build_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(stderr))
        .process_group(0);
    let child = command.spawn().map_err(|source| SandboxError::Exec {
        builder: spec.builder.clone(),
        source,
    })?;
    let pid = i32::try_from(child.id()).map_err(|_| SandboxError::Exec {
        builder: spec.builder.clone(),
        source: io::Error::other("pid out of range"),
    })?;
    // `Child` owns no pipes here and its drop neither waits nor kills: `Running` waits instead.
    drop(child);
    Ok(Running::new(pid, process::Kind::ProcessGroup))
}

/// Where the output at logical path `logical` (e.g. `/nix/store/abc-foo`) of a sandboxed build
/// is on the host after the builder exited: inside the sandbox root's store directory. (After
/// [`spawn_unsandboxed`] the output is at `logical` itself.)
pub fn output_location(spec: &SandboxSpec, logical: &str) -> PathBuf {
    let name = logical
        .strip_prefix(spec.store_dir.as_str())
        .unwrap_or(logical)
        .trim_start_matches('/');
    root::store_dir(spec).join(name)
}

/// A cheap probe: can this process create the sandbox's namespaces (including its own `/proc`
/// mount)? The error says why not and what to check.
pub fn sandbox_supported() -> Result<(), SandboxError> {
    child::probe()
}

/// The builder's argv[0]: its base name, as Nix passes it.
fn builder_base_name(builder: &str) -> &str {
    builder
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or(builder)
}

/// What the child needs for `exec`, prepared before `clone` (the child may not allocate).
pub(crate) struct ExecPlan {
    pub builder: CString,
    pub cwd: CString,
    _argv: Vec<CString>,
    _envp: Vec<CString>,
    pub argv_ptrs: Vec<*const libc::c_char>,
    pub envp_ptrs: Vec<*const libc::c_char>,
}

impl ExecPlan {
    fn new(spec: &SandboxSpec, cwd: &Path) -> Result<ExecPlan, SandboxError> {
        if spec.builder.is_empty() {
            return Err(SandboxError::InvalidSpec("the builder is empty".into()));
        }
        let builder = c_string(&spec.builder, "builder")?;
        let mut argv = vec![c_string(builder_base_name(&spec.builder), "builder")?];
        for arg in &spec.args {
            argv.push(c_string(arg, "builder argument")?);
        }
        let mut envp = Vec::with_capacity(spec.env.len());
        for (name, value) in &spec.env {
            if name.is_empty() || name.contains('=') {
                return Err(SandboxError::InvalidSpec(format!(
                    "environment variable name '{name}' is empty or contains '='"
                )));
            }
            envp.push(c_string(
                &format!("{name}={value}"),
                "environment variable",
            )?);
        }
        let argv_ptrs = argv
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let envp_ptrs = envp
            .iter()
            .map(|e| e.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        Ok(ExecPlan {
            builder,
            cwd: path_c_string(cwd)?,
            _argv: argv,
            _envp: envp,
            argv_ptrs,
            envp_ptrs,
        })
    }
}

pub(crate) fn c_string(s: &str, what: &str) -> Result<CString, SandboxError> {
    CString::new(s)
        .map_err(|_| SandboxError::InvalidSpec(format!("{what} '{s}' contains a NUL byte")))
}

pub(crate) fn path_c_string(p: &Path) -> Result<CString, SandboxError> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).map_err(|_| {
        SandboxError::InvalidSpec(format!("path '{}' contains a NUL byte", p.display()))
    })
}

/// A descriptor moved to a number of at least 3 (close-on-exec), so that the child's `dup2`
/// onto 0, 1 and 2 never meets one of its own sources.
pub(crate) fn high_fd(fd: &impl AsRawFd, what: &str) -> Result<OwnedFd, SandboxError> {
    use std::os::fd::FromRawFd;
    // SAFETY: F_DUPFD_CLOEXEC only reads the descriptor number, which `fd` keeps open.
    #[allow(unsafe_code)]
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io_error(format!("duplicating the {what} descriptor"))(
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: `new` was just returned by fcntl and is owned by nobody else.
    #[allow(unsafe_code)]
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_path_entries() {
        assert_eq!(
            SandboxPath::parse("/bin/sh=/nix/store/x-busybox/bin/busybox"),
            SandboxPath {
                target: "/bin/sh".into(),
                source: "/nix/store/x-busybox/bin/busybox".into(),
                optional: false
            }
        );
        assert_eq!(
            SandboxPath::parse("/dev/kvm?"),
            SandboxPath {
                target: "/dev/kvm".into(),
                source: "/dev/kvm".into(),
                optional: true
            }
        );
        assert_eq!(
            SandboxPath::parse("/a=/b?"),
            SandboxPath {
                target: "/a".into(),
                source: "/b".into(),
                optional: true
            }
        );
    }

    #[test]
    fn argv0_is_the_base_name() {
        assert_eq!(builder_base_name("/nix/store/abc-bash/bin/bash"), "bash");
        assert_eq!(builder_base_name("/bin/sh/"), "sh");
        assert_eq!(builder_base_name("builder.sh"), "builder.sh");
    }
}
