//! A running builder: waiting for it, killing it and everything it started.

#![allow(unsafe_code)]

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use super::SandboxError;

/// How the processes of a build are held together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The builder is process 1 of its own pid namespace: when it dies, the kernel kills every
    /// other process of the namespace before the builder can be reaped.
    Namespace,
    /// The builder leads its own process group (unsandboxed builds).
    ProcessGroup,
}

/// A started builder. Dropping it kills the build and reaps the builder, so no process or
/// zombie outlives it.
///
/// A sandboxed builder is the init process of its pid namespace: the kernel delivers to it
/// only the signals it handles, and SIGKILL. So [`Running::kill`] is the way to stop a build
/// (a SIGTERM sent to [`Running::pid`] is ignored unless the builder handles it, as in Nix).
#[derive(Debug)]
pub struct Running {
    pid: libc::pid_t,
    kind: Kind,
    status: Option<ExitStatus>,
}

impl Running {
    pub(crate) fn new(pid: libc::pid_t, kind: Kind) -> Running {
        Running {
            pid,
            kind,
            status: None,
        }
    }

    /// The builder's pid on the host.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits for the builder to exit and returns its status (exit code or signal). Once it
    /// has returned, every process of the build is gone. Later calls return the same status.
    pub fn wait(&mut self) -> Result<ExitStatus, SandboxError> {
        match self.status {
            Some(status) => Ok(status),
            None => loop {
                if let Some(status) = self.reap(true)? {
                    return Ok(status);
                }
            },
        }
    }

    /// The builder's status if it has exited, without blocking (for timeouts).
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, SandboxError> {
        match self.status {
            Some(status) => Ok(Some(status)),
            None => self.reap(false),
        }
    }

    /// Kills every process of the build with SIGKILL (in a sandbox, the whole pid namespace).
    /// Idempotent; [`Running::wait`] then reports the signal.
    pub fn kill(&mut self) {
        if self.status.is_some() {
            // Reaped: the pid may belong to someone else by now.
            return;
        }
        // SAFETY: kill/killpg only take numbers. The pid is still ours: it is not reaped.
        unsafe {
            match self.kind {
                Kind::Namespace => libc::kill(self.pid, libc::SIGKILL),
                Kind::ProcessGroup => libc::killpg(self.pid, libc::SIGKILL),
            };
        }
    }

    fn wait_error(&self, source: io::Error) -> SandboxError {
        SandboxError::Wait {
            pid: self.pid,
            source,
        }
    }

    /// Waits (blocking or not) for the builder; for a process group, the rest of the group is
    /// killed while the exited leader still holds the group's id, then the leader is reaped.
    fn reap(&mut self, block: bool) -> Result<Option<ExitStatus>, SandboxError> {
        let nohang = if block { 0 } else { libc::WNOHANG };
        if self.kind == Kind::ProcessGroup {
            loop {
                // SAFETY: `info` is a zeroed, writable siginfo_t.
                let (rc, exited) = unsafe {
                    let mut info = std::mem::zeroed::<libc::siginfo_t>();
                    let rc = libc::waitid(
                        libc::P_PID,
                        self.pid as libc::id_t,
                        &mut info,
                        libc::WEXITED | libc::WNOWAIT | nohang,
                    );
                    (rc, info.si_pid() != 0)
                };
                if rc == -1 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(self.wait_error(e));
                }
                if !exited {
                    return Ok(None);
                }
                break;
            }
            // SAFETY: only numbers; the leader is a zombie, so the group id is still ours.
            unsafe { libc::killpg(self.pid, libc::SIGKILL) };
        }
        loop {
            let mut raw = 0;
            // SAFETY: `raw` is a writable int.
            let rc = unsafe { libc::waitpid(self.pid, &mut raw, nohang) };
            if rc == -1 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(self.wait_error(e));
            }
            if rc == 0 {
                return Ok(None);
            }
            let status = ExitStatus::from_raw(raw);
            self.status = Some(status);
            return Ok(Some(status));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.status.is_none() {
            self.kill();
            let _ = self.reap(true);
        }
    }
}
