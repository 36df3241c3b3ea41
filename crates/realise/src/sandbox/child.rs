//! The `clone` into new namespaces and everything the child does before `exec`.
//!
//! Between `clone` and `exec` the child is a copy of one thread of a possibly multi-threaded
//! process: another thread may have held the allocator's lock at the time of the copy. So the
//! child only makes system calls over data prepared by the parent ([`Prepared`], [`ExecPlan`]);
//! it allocates nothing, takes no lock and never unwinds. A failure is written to the error
//! pipe as three integers (step, errno, mount index) and the child exits; the parent turns them
//! into a [`SandboxError`].

#![allow(unsafe_code)]

use std::convert::Infallible;
use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::process::{Kind, Running};
use super::root::{Entry, Prepared};
use super::{
    high_fd, io_error, root, ExecPlan, SandboxError, SandboxSpec, ROOT_ID_BASE, SANDBOX_GID,
    SANDBOX_UID,
};

/// Declares the steps once, with the decoding of a step number read from the error pipe.
macro_rules! steps {
    ($first:ident, $($rest:ident),* $(,)?) => {
        /// The steps of the child's setup, as sent through the error pipe.
        #[derive(Clone, Copy)]
        #[repr(i32)]
        enum Step {
            $first = 1,
            $($rest),*
        }

        impl Step {
            fn from_i32(n: i32) -> Option<Step> {
                [Step::$first, $(Step::$rest),*]
                    .into_iter()
                    .find(|s| *s as i32 == n)
            }
        }
    };
}

steps!(
    WaitParent,
    Setsid,
    Hostname,
    Loopback,
    PrivateMounts,
    OpenTree,
    Tmpfs,
    FsIds,
    Skeleton,
    Mount,
    Remount,
    PivotRoot,
    DetachHost,
    Chdir,
    Groups,
    Ids,
    Stdio,
    Exec,
);

/// A failed step: what, the errno, and the index of the mount concerned.
#[derive(Clone, Copy)]
struct Failure {
    step: Step,
    errno: i32,
    index: usize,
}

/// Everything the child reads: raw descriptors and prepared strings, nothing it must free.
struct ChildContext<'a> {
    prepared: &'a Prepared,
    exec: &'a ExecPlan,
    network: bool,
    /// Root: drop root's supplementary groups (unprivileged callers cannot, and wrote `deny`).
    clear_groups: bool,
    devnull: RawFd,
    log: RawFd,
    err_write: RawFd,
    go_read: RawFd,
    /// The parent's ends of the two pipes, closed first so that a dead parent is seen as EOF.
    parent_ends: [RawFd; 2],
    /// One slot per mount of `prepared.mounts`, where the child keeps the `open_tree`
    /// descriptor of a bind mount's source (the child's own copy of the parent's buffer).
    tree_fds: *mut RawFd,
}

/// `open_tree` flags and `move_mount` flags (linux/mount.h; not in the libc crate).
const OPEN_TREE_CLONE: libc::c_uint = 1;
const OPEN_TREE_CLOEXEC: libc::c_uint = libc::O_CLOEXEC as libc::c_uint;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

fn namespace_flags(network: bool) -> libc::c_int {
    let mut flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS;
    if !network {
        flags |= libc::CLONE_NEWNET;
    }
    flags
}

/// `fork` into new namespaces: 0 in the child, the child's pid in the parent.
///
/// # Safety
/// In the child only async-signal-safe work may follow, and it must end in `exec` or `_exit`.
unsafe fn clone_into_namespaces(flags: libc::c_int) -> io::Result<libc::pid_t> {
    let flags = (flags | libc::SIGCHLD) as libc::c_ulong;
    // Without CLONE_VM and with a null stack, clone copies the address space like fork; the
    // other arguments (tid pointers, tls) are unused for these flags.
    #[cfg(not(target_arch = "s390x"))]
    let rc = libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize);
    #[cfg(target_arch = "s390x")]
    let rc = libc::syscall(libc::SYS_clone, 0usize, flags, 0usize, 0usize, 0usize);
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc as libc::pid_t)
}

fn pipe() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a writable array of two descriptors.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(io_error("creating a pipe")(io::Error::last_os_error()));
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn unsupported(e: io::Error) -> SandboxError {
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            "; are unprivileged user namespaces disabled (sysctl kernel.unprivileged_userns_clone, \
             kernel.apparmor_restrict_unprivileged_userns), or is this a container that forbids them?"
        }
        Some(libc::ENOSPC) | Some(libc::EUSERS) => {
            "; the namespace limit is reached (see /proc/sys/user/max_user_namespaces)"
        }
        Some(libc::EINVAL) => "; this kernel lacks user, pid or network namespaces",
        _ => "",
    };
    SandboxError::Unsupported(format!("creating namespaces: {e}{hint}"))
}

/// Writes the child's uid/gid maps and returns the host id the builder runs as when the
/// caller is root (`None`: the caller's own ids).
///
/// Inside, 1000/100 map to the caller's ids, or, for root, to `872415232 + pid`. Root of a
/// nested user namespace (a rootless container) may be unable to map that id; then, and only
/// there, the builder gets the caller's ids, which are not the host's root.
fn write_id_maps(pid: libc::pid_t) -> Result<Option<u32>, SandboxError> {
    let write = |file: &str, contents: String| {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, contents.as_bytes())
            .map_err(|e| SandboxError::Unsupported(format!("writing {path}: {e}")))
    };
    // SAFETY: geteuid/getegid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if uid == 0 {
        let id = ROOT_ID_BASE + pid as u32;
        match write("uid_map", format!("{SANDBOX_UID} {id} 1\n")) {
            Ok(()) => {
                write("gid_map", format!("{SANDBOX_GID} {id} 1\n"))?;
                return Ok(Some(id));
            }
            Err(e) if in_initial_user_namespace() => return Err(e),
            Err(_) => {}
        }
    } else {
        write("setgroups", "deny".into())?;
    }
    write("uid_map", format!("{SANDBOX_UID} {uid} 1\n"))?;
    write("gid_map", format!("{SANDBOX_GID} {gid} 1\n"))?;
    Ok(None)
}

/// Whether this process may call setgroups (not so in a user namespace whose creator wrote
/// `deny`, which its children inherit).
fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() == "allow")
}

/// Whether this process is in the machine's own user namespace (all ids mapped to themselves).
fn in_initial_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|map| map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
}

fn caller_is_root() -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// Starts the sandboxed builder and waits until it has been executed (or has failed).
pub(crate) fn spawn_sandboxed(
    spec: &SandboxSpec,
    prepared: &Prepared,
    exec: &ExecPlan,
    log: &OwnedFd,
) -> Result<Running, SandboxError> {
    let devnull = File::open("/dev/null").map_err(io_error("opening /dev/null"))?;
    let devnull = high_fd(&devnull, "/dev/null")?;
    let log = high_fd(log, "log")?;
    let (err_read, err_write) = pipe()?;
    let (go_read, go_write) = pipe()?;
    let as_root = caller_is_root();
    let mut tree_fds: Vec<RawFd> = vec![-1; prepared.mounts.len()];
    let context = ChildContext {
        prepared,
        exec,
        network: spec.network,
        clear_groups: as_root && setgroups_allowed(),
        devnull: devnull.as_raw_fd(),
        log: log.as_raw_fd(),
        err_write: err_write.as_raw_fd(),
        go_read: go_read.as_raw_fd(),
        parent_ends: [err_read.as_raw_fd(), go_write.as_raw_fd()],
        tree_fds: tree_fds.as_mut_ptr(),
    };

    // SAFETY: the child runs only `child_main`, which makes system calls over `context` (all
    // prepared above) and ends in execve or _exit.
    let pid = match unsafe { clone_into_namespaces(namespace_flags(spec.network)) } {
        Ok(0) => child_main(&context),
        Ok(pid) => pid,
        Err(e) => return Err(unsupported(e)),
    };
    // From here on `running` kills and reaps the child if anything fails.
    let mut running = Running::new(pid, Kind::Namespace);
    drop(err_write);
    drop(go_read);
    drop(devnull);
    drop(log);

    if let Some(id) = write_id_maps(pid)? {
        root::give_to(prepared, id)?;
    }
    File::from(go_write)
        .write_all(&[1])
        .map_err(io_error("starting the sandbox's first process"))?;

    // EOF: the builder was executed (the pipe is close-on-exec). Otherwise a report.
    let mut report = [0u8; 12];
    let mut got = 0;
    let mut err_read = File::from(err_read);
    while got < report.len() {
        match err_read.read(&mut report[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error("reading the sandbox's error pipe")(e)),
        }
    }
    if got == 0 {
        return Ok(running);
    }
    // The child exits right after its report; reap it so that no zombie is left.
    let status = running.wait();
    if got < report.len() {
        return Err(SandboxError::Setup {
            step: format!("the sandbox's first process ended early ({status:?})"),
            source: io::Error::other("truncated error report"),
        });
    }
    let field =
        |i: usize| i32::from_ne_bytes(report[i * 4..i * 4 + 4].try_into().unwrap_or([0; 4]));
    let (step, errno, index) = (field(0), field(1), field(2));
    Err(describe(spec, prepared, step, errno, index as usize))
}

fn describe(
    spec: &SandboxSpec,
    prepared: &Prepared,
    step: i32,
    errno: i32,
    index: usize,
) -> SandboxError {
    let source = io::Error::from_raw_os_error(errno);
    let mount = |i: usize| {
        prepared
            .mounts
            .get(i)
            .map(|m| m.description.as_str())
            .unwrap_or("?")
    };
    let target = |i: usize| {
        prepared
            .mounts
            .get(i)
            .map(|m| m.target.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let step = match Step::from_i32(step) {
        Some(Step::Exec) => {
            return SandboxError::Exec {
                builder: spec.builder.clone(),
                source,
            }
        }
        Some(Step::WaitParent) => "waiting for the parent".to_string(),
        Some(Step::Setsid) => "starting a new session".to_string(),
        Some(Step::Hostname) => "setting the host name".to_string(),
        Some(Step::Loopback) => "bringing up the loopback interface".to_string(),
        Some(Step::PrivateMounts) => "making the mount tree private".to_string(),
        Some(Step::OpenTree) => format!("opening the source of {}", mount(index)),
        Some(Step::Tmpfs) => format!(
            "mounting the sandbox root (a tmpfs) on '{}'",
            prepared.root.display()
        ),
        Some(Step::FsIds) => {
            format!("switching the file system ids to {SANDBOX_UID}:{SANDBOX_GID}")
        }
        Some(Step::Skeleton) => {
            let path = match prepared.entries.get(index) {
                Some(Entry::Dir { path, .. })
                | Some(Entry::File { path, .. })
                | Some(Entry::Symlink { path, .. }) => path.to_string_lossy().into_owned(),
                None => {
                    return SandboxError::Setup {
                        step: "making the sandbox root read-only".into(),
                        source,
                    }
                }
            };
            format!("creating '/{path}' in the sandbox root")
        }
        Some(Step::Mount) => mount(index).to_string(),
        Some(Step::Remount) => format!("making '/{}' read-only", target(index)),
        Some(Step::PivotRoot) => format!("pivot_root into '{}'", prepared.root.display()),
        Some(Step::DetachHost) => "detaching the host file system".to_string(),
        Some(Step::Chdir) => "entering /build".to_string(),
        Some(Step::Groups) => "dropping supplementary groups".to_string(),
        Some(Step::Ids) => format!("switching to uid {SANDBOX_UID}, gid {SANDBOX_GID}"),
        Some(Step::Stdio) => "redirecting standard input, output and error".to_string(),
        None => format!("unknown step {step}"),
    };
    SandboxError::Setup { step, source }
}

/// The child: set up, exec, or report and exit. Never returns.
fn child_main(context: &ChildContext<'_>) -> ! {
    let failure = match child_setup(context) {
        Ok(never) => match never {},
        Err(failure) => failure,
    };
    let mut report = [0u8; 12];
    report[0..4].copy_from_slice(&(failure.step as i32).to_ne_bytes());
    report[4..8].copy_from_slice(&failure.errno.to_ne_bytes());
    report[8..12].copy_from_slice(&(failure.index as i32).to_ne_bytes());
    // SAFETY: write and _exit are async-signal-safe; `report` is a live stack buffer.
    unsafe {
        libc::write(context.err_write, report.as_ptr().cast(), report.len());
        libc::_exit(1)
    }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Turns a -1 return into a [`Failure`] of `step`.
fn check(rc: libc::c_long, step: Step, index: usize) -> Result<(), Failure> {
    if rc == -1 {
        Err(Failure {
            step,
            errno: errno(),
            index,
        })
    } else {
        Ok(())
    }
}

fn c_ptr(s: &Option<std::ffi::CString>) -> *const libc::c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

const DOT: &CStr = c".";
const ROOT: &CStr = c"/";
const HOSTNAME: &[u8] = b"localhost";
const DOMAINNAME: &[u8] = b"(none)";

/// Everything between `clone` and `exec`. Only system calls: see the module comment.
fn child_setup(cx: &ChildContext<'_>) -> Result<Infallible, Failure> {
    // SAFETY (whole function): each call is a plain system call wrapper, async-signal-safe,
    // given pointers into data the parent prepared before `clone` (alive for the child's whole
    // life, as the child never returns) or into buffers on this stack.
    unsafe {
        // Die with the thread that started us: a killed Kiln must not leave its builder
        // running. A parent that died before this shows as EOF on the go pipe below.
        check(
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) as libc::c_long,
            Step::WaitParent,
            0,
        )?;
        for fd in cx.parent_ends {
            libc::close(fd);
        }
        // Wait until the parent has written our uid/gid maps.
        let mut byte = 0u8;
        loop {
            let n = libc::read(cx.go_read, (&raw mut byte).cast(), 1);
            if n == 1 {
                break;
            }
            if n == 0 || errno() != libc::EINTR {
                return Err(Failure {
                    step: Step::WaitParent,
                    errno: errno(),
                    index: 0,
                });
            }
        }
        libc::close(cx.go_read);

        check(libc::setsid() as libc::c_long, Step::Setsid, 0)?;
        check(
            libc::sethostname(HOSTNAME.as_ptr().cast(), HOSTNAME.len()) as libc::c_long,
            Step::Hostname,
            0,
        )?;
        check(
            libc::setdomainname(DOMAINNAME.as_ptr().cast(), DOMAINNAME.len()) as libc::c_long,
            Step::Hostname,
            0,
        )?;
        if !cx.network {
            loopback_up()?;
        }

        // The mounts: a private copy of the host's tree, the root bound on itself (pivot_root
        // needs a mount point), then everything inside it.
        check(
            libc::mount(
                std::ptr::null(),
                ROOT.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) as libc::c_long,
            Step::PrivateMounts,
            0,
        )?;
        // The sources of the bind mounts are looked up now, with the caller's identity (so
        // that its private directories can be reached); they are attached below.
        let mounts = &cx.prepared.mounts;
        for (index, m) in mounts.iter().enumerate() {
            if !m.bind {
                continue;
            }
            let mut flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
            if m.flags & libc::MS_REC != 0 {
                flags |= libc::AT_RECURSIVE as libc::c_uint;
            }
            let fd = libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c_ptr(&m.source), flags);
            if fd == -1 && m.optional {
                continue;
            }
            check(fd, Step::OpenTree, index)?;
            *cx.tree_fds.add(index) = fd as RawFd;
        }

        // The root: a tmpfs, entered, filled as the builder's ids (the only ids it may own
        // files as in this user namespace).
        let root = cx.prepared.root_c.as_ptr();
        check(
            libc::mount(
                c"none".as_ptr(),
                root,
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                cx.prepared.tmpfs_options.as_ptr().cast(),
            ) as libc::c_long,
            Step::Tmpfs,
            0,
        )?;
        check(libc::chdir(root) as libc::c_long, Step::Tmpfs, 0)?;
        libc::umask(0o022);
        libc::syscall(libc::SYS_setfsgid, SANDBOX_GID);
        libc::syscall(libc::SYS_setfsuid, SANDBOX_UID);
        // Both calls return the previous id; asking with an invalid id changes nothing.
        if libc::syscall(libc::SYS_setfsuid, u32::MAX) != SANDBOX_UID as libc::c_long
            || libc::syscall(libc::SYS_setfsgid, u32::MAX) != SANDBOX_GID as libc::c_long
        {
            return Err(Failure {
                step: Step::FsIds,
                errno: libc::EPERM,
                index: 0,
            });
        }
        for (index, entry) in cx.prepared.entries.iter().enumerate() {
            let rc = match entry {
                Entry::Dir { path, mode } => libc::mkdir(path.as_ptr(), *mode) as libc::c_long,
                Entry::Symlink { target, path } => {
                    libc::symlink(target.as_ptr(), path.as_ptr()) as libc::c_long
                }
                Entry::File { path, contents } => write_new_file(path, contents),
            };
            check(rc, Step::Skeleton, index)?;
        }
        // The skeleton is read-only for the builder, as the root Nix builds in belongs to root:
        // only the store directory, `/build`, `/tmp` and `/dev/shm` take its files.
        for (index, entry) in cx.prepared.entries.iter().enumerate() {
            if let Entry::Dir { path, .. } = entry {
                check(
                    libc::chmod(path.as_ptr(), 0o555) as libc::c_long,
                    Step::Skeleton,
                    index,
                )?;
            }
        }
        check(
            libc::chmod(DOT.as_ptr(), 0o555) as libc::c_long,
            Step::Skeleton,
            usize::MAX,
        )?;

        for (index, m) in mounts.iter().enumerate() {
            let rc = if m.bind {
                let fd = *cx.tree_fds.add(index);
                if fd == -1 {
                    continue; // optional, and missing
                }
                let rc = libc::syscall(
                    libc::SYS_move_mount,
                    fd,
                    c"".as_ptr(),
                    libc::AT_FDCWD,
                    m.target.as_ptr(),
                    MOVE_MOUNT_F_EMPTY_PATH,
                );
                libc::close(fd);
                rc
            } else {
                libc::mount(
                    c_ptr(&m.source),
                    m.target.as_ptr(),
                    c_ptr(&m.fstype),
                    m.flags,
                    c_ptr(&m.data).cast(),
                ) as libc::c_long
            };
            if rc == -1 && m.optional {
                continue;
            }
            check(rc, Step::Mount, index)?;
            if let Some(flags) = m.remount {
                let rc = libc::mount(
                    std::ptr::null(),
                    m.target.as_ptr(),
                    std::ptr::null(),
                    flags,
                    std::ptr::null(),
                );
                check(rc as libc::c_long, Step::Remount, index)?;
            }
        }

        // Into the new root (the working directory); the host's tree, stacked under it by
        // pivot_root(".", "."), is then detached, so nothing of it stays visible.
        check(
            libc::syscall(libc::SYS_pivot_root, DOT.as_ptr(), DOT.as_ptr()),
            Step::PivotRoot,
            0,
        )?;
        check(
            libc::umount2(DOT.as_ptr(), libc::MNT_DETACH) as libc::c_long,
            Step::DetachHost,
            0,
        )?;
        check(libc::chdir(ROOT.as_ptr()) as libc::c_long, Step::Chdir, 0)?;
        check(
            libc::chdir(cx.exec.cwd.as_ptr()) as libc::c_long,
            Step::Chdir,
            0,
        )?;

        // The builder's identity: 1000:100, no supplementary groups, and (at exec, since it is
        // not uid 0 in its namespace) no capabilities. Raw system calls: glibc's wrappers
        // change the ids of every thread it knows of, and wait for threads that exist only in
        // the parent.
        if cx.clear_groups {
            let no_groups: *const libc::gid_t = std::ptr::null();
            check(
                libc::syscall(libc::SYS_setgroups, 0usize, no_groups),
                Step::Groups,
                0,
            )?;
        }
        check(
            libc::syscall(libc::SYS_setresgid, SANDBOX_GID, SANDBOX_GID, SANDBOX_GID),
            Step::Ids,
            0,
        )?;
        check(
            libc::syscall(libc::SYS_setresuid, SANDBOX_UID, SANDBOX_UID, SANDBOX_UID),
            Step::Ids,
            0,
        )?;
        // Changing credentials cleared the parent-death signal: set it again.
        check(
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) as libc::c_long,
            Step::Ids,
            0,
        )?;

        // A standard process state: default signal dispositions (Rust ignores SIGPIPE), no
        // blocked signal, stdio, and no other descriptor kept across exec.
        for signal in 1..libc::SIGRTMAX() {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        check(libc::dup2(cx.devnull, 0) as libc::c_long, Step::Stdio, 0)?;
        check(libc::dup2(cx.log, 1) as libc::c_long, Step::Stdio, 0)?;
        check(libc::dup2(cx.log, 2) as libc::c_long, Step::Stdio, 0)?;
        // Marks every other descriptor close-on-exec (the error pipe already is); on kernels
        // without close_range the caller's descriptors are close-on-exec anyway (Rust's are).
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );

        libc::execve(
            cx.exec.builder.as_ptr(),
            cx.exec.argv_ptrs.as_ptr(),
            cx.exec.envp_ptrs.as_ptr(),
        );
        Err(Failure {
            step: Step::Exec,
            errno: errno(),
            index: 0,
        })
    }
}

/// Creates `path` (O_EXCL, read-only) with `contents`: -1 with errno on failure. System calls
/// only.
///
/// # Safety
/// Only system calls over the given buffers.
unsafe fn write_new_file(path: &std::ffi::CString, contents: &[u8]) -> libc::c_long {
    let fd = libc::open(
        path.as_ptr(),
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
        0o444 as libc::c_uint,
    );
    if fd == -1 {
        return -1;
    }
    let mut done = 0;
    while done < contents.len() {
        let n = libc::write(fd, contents[done..].as_ptr().cast(), contents.len() - done);
        if n == -1 && errno() == libc::EINTR {
            continue;
        }
        if n <= 0 {
            let saved = errno();
            libc::close(fd);
            *libc::__errno_location() = if n == 0 { libc::EIO } else { saved };
            return -1;
        }
        done += n as usize;
    }
    libc::close(fd) as libc::c_long
}

/// `ip link set lo up` in the new network namespace.
fn loopback_up() -> Result<(), Failure> {
    // SAFETY: socket/ioctl/close on a zeroed `ifreq` on this stack.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        check(fd as libc::c_long, Step::Loopback, 0)?;
        let mut request = std::mem::zeroed::<libc::ifreq>();
        request.ifr_name[0] = b'l' as libc::c_char;
        request.ifr_name[1] = b'o' as libc::c_char;
        request.ifr_ifru.ifru_flags =
            (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as libc::c_short;
        let rc = libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &request);
        let failure = Failure {
            step: Step::Loopback,
            errno: errno(),
            index: 0,
        };
        libc::close(fd);
        if rc == -1 {
            return Err(failure);
        }
    }
    Ok(())
}

/// Creates the namespaces once, writes the id maps and mounts a `/proc`, in a child that
/// then exits: what [`super::sandbox_supported`] checks.
pub(crate) fn probe() -> Result<(), SandboxError> {
    let (go_read, go_write) = pipe()?;
    let parent_end = go_write.as_raw_fd();
    let read_end = go_read.as_raw_fd();
    // SAFETY: the child runs only `probe_child`, plain system calls ending in _exit.
    let pid = match unsafe { clone_into_namespaces(namespace_flags(false)) } {
        Ok(0) => probe_child(read_end, parent_end),
        Ok(pid) => pid,
        Err(e) => return Err(unsupported(e)),
    };
    drop(go_read);
    let mut running = Running::new(pid, Kind::Namespace);
    write_id_maps(pid)?;
    File::from(go_write)
        .write_all(&[1])
        .map_err(io_error("starting the probe process"))?;
    let status = running.wait()?;
    match status.code() {
        Some(0) => Ok(()),
        Some(code) if code >= 100 => Err(SandboxError::Unsupported(format!(
            "mounting /proc in a new user and pid namespace: {} (a container that hides parts \
             of the host's /proc forbids it)",
            io::Error::from_raw_os_error(code - 100)
        ))),
        Some(3) => Err(SandboxError::Unsupported(
            "this kernel lacks open_tree and move_mount (Linux 5.2 or later is needed)".into(),
        )),
        _ => Err(SandboxError::Unsupported(format!(
            "the probe process failed ({status})"
        ))),
    }
}

fn probe_child(go_read: RawFd, parent_end: RawFd) -> ! {
    // SAFETY: plain system calls on static strings and a stack byte, ending in _exit.
    unsafe {
        libc::close(parent_end);
        let mut byte = 0u8;
        if libc::read(go_read, (&raw mut byte).cast(), 1) != 1 {
            libc::_exit(1);
        }
        if libc::mount(
            std::ptr::null(),
            ROOT.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) == -1
        {
            libc::_exit(2);
        }
        if libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        ) == -1
        {
            libc::_exit(100 + errno().min(150));
        }
        // The mount API the root is built with (Linux 5.2).
        if libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c"/proc".as_ptr(),
            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC,
        ) == -1
        {
            libc::_exit(3);
        }
        libc::_exit(0)
    }
}
