//! Running the toplevel's `activate` script (the user's `system.activationScripts`) inside the
//! root, after kiln-os's own steps.
//!
//! The script uses absolute paths (`/var`, `/etc`, `/run/current-system/sw/bin`), so in a root
//! that is not `/` it must see the root as `/`: it runs chrooted into it, in a private mount
//! namespace where the host's `/dev` and `/proc` are bound onto the root's (snippets write to
//! `/dev/null` and read `/proc`; nothing of that outlives the process). A caller that is not
//! root gets a user namespace mapping it to root, as the build sandbox does, so an unprivileged
//! user's test root works too. At `/` the script runs as it is.
//!
//! A failing snippet does not undo the activation (NixOS does not either: the snippets ran in
//! order and some may have succeeded); the outcome says so and the CLI exits with an error.
#![allow(unsafe_code)] // fork-safe namespace and chroot calls between fork and exec

use std::ffi::CString;
use std::io;
use std::os::fd::AsFd as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::OsError;
use crate::fsutil::{self, phys};
use crate::toplevel::Toplevel;

/// What became of the activation script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptRun {
    /// The toplevel has no `activate`.
    Absent,
    /// It ran and exited 0.
    Succeeded,
    /// It ran and failed (a snippet failed, or it was killed): the exit status as text.
    Failed(String),
}

/// How to enter the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// At `/` nothing; elsewhere a chroot in a private mount namespace, inside a user
    /// namespace when the caller is not root.
    Auto,
    /// Always through a user namespace (what an unprivileged caller gets; tests use it as
    /// root too).
    UserNamespace,
}

/// Runs `<toplevel>/activate` in `root`, its output going to our standard error.
pub fn run(root: &Path, toplevel: &Toplevel, isolation: Isolation) -> Result<ScriptRun, OsError> {
    let logical = Path::new(&toplevel.path).join("activate");
    if fsutil::resolve(root, &logical).map_or(true, |p| !p.exists()) {
        return Ok(ScriptRun::Absent);
    }
    let failed = |source: io::Error| OsError::ActivationScript {
        toplevel: toplevel.path.clone(),
        source,
    };
    let at_slash = root.canonicalize().map_err(failed)? == Path::new("/");
    let mut cmd = Command::new(&logical);
    cmd.env_clear()
        .env("PATH", "/run/current-system/sw/bin")
        .env("HOME", "/root")
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(Stdio::from(
            io::stderr().as_fd().try_clone_to_owned().map_err(failed)?,
        ));
    if !(at_slash && isolation == Isolation::Auto) {
        for dir in ["dev", "proc"] {
            fsutil::mkdirs(&phys(root, format!("/{dir}")))?;
        }
        let enter = Enter::new(root, isolation).map_err(failed)?;
        // SAFETY: the closure runs in the child between fork and exec; it only makes system
        // calls on buffers prepared before the fork (no allocation, no locks).
        unsafe {
            cmd.pre_exec(move || enter.enter());
        }
    }
    let status = cmd.status().map_err(failed)?;
    Ok(if status.success() {
        ScriptRun::Succeeded
    } else if let Some(code) = status.code() {
        ScriptRun::Failed(format!("exit status {code}"))
    } else {
        ScriptRun::Failed(format!(
            "killed by signal {}",
            status.signal().unwrap_or_default()
        ))
    })
}

/// Everything the child needs to enter the root, prepared before the fork.
struct Enter {
    root: CString,
    dev: CString,
    proc_: CString,
    /// `(uid_map, gid_map)` contents when a user namespace is made.
    maps: Option<(CString, CString)>,
}

impl Enter {
    fn new(root: &Path, isolation: Isolation) -> io::Result<Enter> {
        let c = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| io::Error::other("a path with a NUL byte"))
        };
        // SAFETY: these calls have no preconditions.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let userns = isolation == Isolation::UserNamespace || uid != 0;
        let maps = userns.then(|| {
            (
                CString::new(format!("0 {uid} 1")).expect("no NUL"),
                CString::new(format!("0 {gid} 1")).expect("no NUL"),
            )
        });
        Ok(Enter {
            root: c(root)?,
            dev: c(&root.join("dev"))?,
            proc_: c(&root.join("proc"))?,
            maps,
        })
    }

    /// In the child: the namespaces, the bind mounts, the chroot.
    fn enter(&self) -> io::Result<()> {
        let check = |r: libc::c_int| {
            if r == -1 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        // SAFETY: plain system calls on NUL-terminated buffers that outlive them.
        unsafe {
            let mut flags = libc::CLONE_NEWNS;
            if self.maps.is_some() {
                flags |= libc::CLONE_NEWUSER;
            }
            check(libc::unshare(flags))?;
            if let Some((uid_map, gid_map)) = &self.maps {
                write_file(c"/proc/self/setgroups", c"deny")?;
                write_file(c"/proc/self/uid_map", uid_map)?;
                write_file(c"/proc/self/gid_map", gid_map)?;
            }
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            for (src, dst) in [(c"/dev", &self.dev), (c"/proc", &self.proc_)] {
                check(libc::mount(
                    src.as_ptr(),
                    dst.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ))?;
            }
            check(libc::chroot(self.root.as_ptr()))?;
            check(libc::chdir(c"/".as_ptr()))?;
        }
        Ok(())
    }
}

/// Writes `contents` to `path` with raw system calls (safe between fork and exec).
///
/// # Safety
/// Only system calls; the arguments are valid NUL-terminated strings.
unsafe fn write_file(path: &std::ffi::CStr, contents: &std::ffi::CStr) -> io::Result<()> {
    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
    if fd == -1 {
        return Err(io::Error::last_os_error());
    }
    let bytes = contents.to_bytes();
    let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
    let err = io::Error::last_os_error();
    libc::close(fd);
    if n != bytes.len() as isize {
        return Err(err);
    }
    Ok(())
}
