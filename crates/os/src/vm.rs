//! `kiln os vm`: a configuration as a qemu virtual machine (like `nixos-rebuild build-vm`).
//!
//! The configuration gets the module `nix/os/vm.nix` (`<kiln/os/vm.nix>`: the disks labelled
//! `nix` and `persist`, a tmpfs `/`, the serial console, the test backdoor) and is switched, as
//! `kiln os switch` does, into a staging root `DIR/root` whose generations are the VM's. Then
//! [`make_images`] writes, unprivileged (`mke2fs -d`, no mount, no loop device):
//!
//! * `DIR/nix.img`, ext4 labelled `nix`, mounted at `/nix` by stage 1: the closure of every
//!   generation's toplevel, the generation links (`var/nix/profiles`), and the activated root
//!   of the current generation as kiln-os made it (`var/kiln/activated/<toplevel>`: `/etc`
//!   with the user database, homes, tmpfiles), which stage 2 copies onto the tmpfs `/`;
//! * `DIR/persist.img`, ext4 labelled `persist` (`state.root`), made once and kept: the
//!   declared state lives there across boots and rebuilds;
//! * `DIR/run-vm`, the runner: qemu (TCG) with the kernel and initrd of the generation, the
//!   console on the serial port (stdout) and the backdoor on a virtio console (a Unix socket,
//!   `$KILN_VM_BACKDOOR`, default `DIR/backdoor.sock`).
//!
//! [`Machine`] runs the runner and talks to the backdoor: a shell that starts once
//! `multi-user.target` is reached, so tests can wait for units and run commands in the guest.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiln_formats::store_path::StorePath;
use kiln_profile::Realiser;
use kiln_session::EvalConfig;
use kiln_store::{LocalStore, Store as _};

use crate::build::{self, Configuration};
use crate::error::{io as io_err, OsError};
use crate::fsutil;
use crate::system::System;

/// What the backdoor prints when it starts (after `multi-user.target`).
pub const BACKDOOR_READY: &str = "kiln-backdoor: ready";

/// The expression of the configuration's VM toplevel: the configuration plus `<kiln/os/vm.nix>`.
pub fn vm_expr(config: &Configuration, host: Option<&str>, cwd: &Path) -> String {
    build::select_in(
        &format!(
            "(import <kiln/os> {{ configuration = {{ imports = [ {} <kiln/os/vm.nix> ]; }}; }})",
            build::configuration_expr(config, host, cwd)
        ),
        "toplevel",
    )
}

/// Builds the configuration's VM toplevel in `store`; `None` for a dry run.
pub fn build(
    eval: EvalConfig,
    store: &LocalStore,
    realiser: &dyn Realiser,
    config: &Configuration,
    host: Option<&str>,
    cwd: &Path,
) -> Result<Option<StorePath>, OsError> {
    build::build_expr(eval, store, realiser, vm_expr(config, host, cwd), cwd)
}

/// The files of a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmFiles {
    /// The runner script.
    pub runner: PathBuf,
    /// The `/nix` image (remade by each [`make_images`]).
    pub nix_image: PathBuf,
    /// The `state.root` image (made once, then kept).
    pub persist_image: PathBuf,
    /// The toplevel the runner boots.
    pub toplevel: String,
    /// The bytes of the closure in the `/nix` image.
    pub closure_bytes: u64,
}

/// Why a VM could not be made or driven.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// The staging root has no current generation.
    #[error("'{}' has no current system generation to boot", .0.display())]
    NoGeneration(PathBuf),
    /// The toplevel has no kernel or initrd.
    #[error("the toplevel {0} has no kernel or no initrd, so it cannot boot")]
    NotBootable(String),
    /// A tool (`mke2fs`, qemu) failed or is missing.
    #[error("{tool} failed: {detail}")]
    Tool {
        /// Which tool.
        tool: String,
        /// Its exit status and output, or why it did not start.
        detail: String,
    },
    /// The guest did not get somewhere in time.
    #[error("timed out after {secs} s waiting for {what} (console log: {})", log.display())]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        secs: u64,
        /// The console log, to read why.
        log: PathBuf,
    },
    /// The backdoor connection broke (the VM stopped).
    #[error("the VM's backdoor closed while waiting for {what} (console log: {})", log.display())]
    Closed {
        /// What was being done.
        what: String,
        /// The console log.
        log: PathBuf,
    },
    /// A command in the guest failed.
    #[error("`{command}` failed in the guest with status {status}:\n{output}")]
    Command {
        /// The command.
        command: String,
        /// Its exit status.
        status: i32,
        /// What it printed.
        output: String,
    },
    /// An OS-layer operation failed.
    #[error(transparent)]
    Os(#[from] OsError),
}

/// Writes the images and the runner of the VM whose staging root is `system` into `dir`, for
/// its current generation.
pub fn make_images(system: &System, dir: &Path) -> Result<VmFiles, VmError> {
    let root = system.root();
    let gens = system.generations()?;
    let current = gens
        .iter()
        .find(|g| g.current)
        .ok_or_else(|| VmError::NoGeneration(root.to_owned()))?;
    let toplevel = system.toplevel(&current.target.to_string_lossy())?;
    let (Some(kernel), Some(initrd)) = (&toplevel.system.kernel, &toplevel.system.initrd) else {
        return Err(VmError::NotBootable(toplevel.path.clone()));
    };
    let store = system.store();
    let mut tops = BTreeSet::new();
    for g in &gens {
        tops.insert(
            store
                .parse_path(&g.target.to_string_lossy())
                .map_err(OsError::from)?,
        );
    }
    let closure = store
        .closure(&tops)
        .map_err(|e| OsError::Store(Box::new(e)))?;

    fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
    let staging = dir.join(".nix-image.tmp");
    remove_tree(&staging)?;
    let store_copy = staging.join("store");
    mkdir(&store_copy)?;
    let mut bytes = 0;
    for p in &closure {
        let from = store.real_path(p);
        bytes += link_tree(&from, &store_copy.join(p.to_string()))?;
    }
    // The generations' links.
    let profiles = staging.join("var/nix/profiles");
    mkdir(&profiles)?;
    for g in &gens {
        let name = g.path.file_name().unwrap_or_default();
        symlink(&g.target, &profiles.join(name))?;
    }
    let current_name = current.path.file_name().unwrap_or_default();
    symlink(Path::new(current_name), &profiles.join("system"))?;
    // The activated root (everything but the store, the boot entries and /run).
    let top_name = Path::new(&toplevel.path)
        .file_name()
        .unwrap_or_default()
        .to_owned();
    let activated = staging.join("var/kiln/activated").join(&top_name);
    mkdir(&activated)?;
    for e in fs::read_dir(root).map_err(io_err("reading", root))? {
        let e = e.map_err(io_err("reading", root))?;
        let name = e.file_name();
        if name == "nix" || name == "boot" || name == "run" {
            continue;
        }
        copy_tree(&e.path(), &activated.join(&name))?;
    }

    let nix_image = dir.join("nix.img");
    let size = (bytes + bytes / 4) / (1 << 20) + 256;
    mke2fs("nix", &staging, &dir.join("nix.img.tmp"), size)?;
    fs::rename(dir.join("nix.img.tmp"), &nix_image).map_err(io_err("renaming", &nix_image))?;
    remove_tree(&staging)?;

    let persist_image = dir.join("persist.img");
    if !persist_image.exists() {
        let empty = dir.join(".persist-image.tmp");
        remove_tree(&empty)?;
        mkdir(&empty)?;
        mke2fs("persist", &empty, &dir.join("persist.img.tmp"), 1024)?;
        fs::rename(dir.join("persist.img.tmp"), &persist_image)
            .map_err(io_err("renaming", &persist_image))?;
        remove_tree(&empty)?;
    }

    let phys_kernel =
        fsutil::resolve(root, Path::new(kernel)).map_err(io_err("resolving", kernel))?;
    let phys_initrd =
        fsutil::resolve(root, Path::new(initrd)).map_err(io_err("resolving", initrd))?;
    let append = std::iter::once(format!("init={}/init", toplevel.path))
        .chain(toplevel.system.kernel_params.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let runner = dir.join("run-vm");
    let script = format!(
        "#!/bin/sh\n\
         # The Kiln VM of {host}, generation {gen} ({top}), made by `kiln os vm`.\n\
         # Console: stdout. Backdoor: $KILN_VM_BACKDOOR (default: backdoor.sock beside this\n\
         # script). More qemu options: $QEMU_OPTS or arguments. Memory: $KILN_VM_MEMORY (MiB).\n\
         dir=$(cd \"$(dirname \"$0\")\" && pwd)\n\
         exec \"${{QEMU:-qemu-system-x86_64}}\" -machine accel=tcg -cpu max -smp 1 \
         -m \"${{KILN_VM_MEMORY:-1024}}\" \\\n  -kernel {kernel} -initrd {initrd} \\\n  \
         -append {append} \\\n  \
         -drive file=\"$dir/nix.img\",if=virtio,format=raw \\\n  \
         -drive file=\"$dir/persist.img\",if=virtio,format=raw \\\n  \
         -display none -monitor none -serial stdio \\\n  \
         -device virtio-serial-pci \\\n  \
         -chardev socket,id=backdoor,path=\"${{KILN_VM_BACKDOOR:-$dir/backdoor.sock}}\",server=on,wait=off \\\n  \
         -device virtconsole,chardev=backdoor \\\n  \
         -no-reboot $QEMU_OPTS \"$@\"\n",
        host = toplevel.system.host_name,
        gen = current.number,
        top = toplevel.path,
        kernel = sh_quote(&phys_kernel.to_string_lossy()),
        initrd = sh_quote(&phys_initrd.to_string_lossy()),
        append = sh_quote(&append),
    );
    fsutil::write_atomic(&runner, script.as_bytes(), 0o755)?;
    Ok(VmFiles {
        runner,
        nix_image,
        persist_image,
        toplevel: toplevel.path.clone(),
        closure_bytes: bytes,
    })
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn mkdir(p: &Path) -> Result<(), OsError> {
    fs::create_dir_all(p).map_err(io_err("creating", p))
}

fn symlink(target: &Path, link: &Path) -> Result<(), OsError> {
    std::os::unix::fs::symlink(target, link).map_err(io_err("making the link", link))
}

fn remove_tree(p: &Path) -> Result<(), OsError> {
    if fs::symlink_metadata(p).is_err() {
        return Ok(());
    }
    // Store copies are read-only: make directories writable first.
    make_writable(p);
    fs::remove_dir_all(p).map_err(io_err("removing", p))
}

fn make_writable(p: &Path) {
    if let Ok(m) = fs::symlink_metadata(p) {
        if m.is_dir() {
            let _ = fs::set_permissions(p, fs::Permissions::from_mode(m.mode() & 0o7777 | 0o700));
            if let Ok(rd) = fs::read_dir(p) {
                for e in rd.flatten() {
                    make_writable(&e.path());
                }
            }
        }
    }
}

/// Recreates the tree `from` at `to`: directories made (with `from`'s mode, set after their
/// contents), files hard-linked (copied across file systems), symlinks copied. Returns the
/// bytes of the files.
fn link_tree(from: &Path, to: &Path) -> Result<u64, OsError> {
    tree(from, to, true)
}

/// Copies the tree `from` to `to` with modes, owners and symlinks.
fn copy_tree(from: &Path, to: &Path) -> Result<u64, OsError> {
    tree(from, to, false)
}

fn tree(from: &Path, to: &Path, link: bool) -> Result<u64, OsError> {
    let m = fs::symlink_metadata(from).map_err(io_err("reading", from))?;
    let ft = m.file_type();
    let mut bytes = 0;
    if ft.is_symlink() {
        let t = fs::read_link(from).map_err(io_err("reading link", from))?;
        symlink(&t, to)?;
    } else if ft.is_dir() {
        fs::create_dir(to).map_err(io_err("creating", to))?;
        for e in fs::read_dir(from).map_err(io_err("reading", from))? {
            let e = e.map_err(io_err("reading", from))?;
            bytes += tree(&e.path(), &to.join(e.file_name()), link)?;
        }
        fs::set_permissions(to, fs::Permissions::from_mode(m.mode() & 0o7777))
            .map_err(io_err("setting the mode of", to))?;
    } else if ft.is_file() {
        bytes = m.len();
        if !(link && fs::hard_link(from, to).is_ok()) {
            fs::copy(from, to).map_err(io_err("copying", from))?;
            fs::set_permissions(to, fs::Permissions::from_mode(m.mode() & 0o7777))
                .map_err(io_err("setting the mode of", to))?;
        }
    } else {
        // Sockets, fifos, devices: not part of a system's files.
        return Ok(0);
    }
    if !link {
        // Owners matter in the activated root (homes, /etc/shadow); only root can give them.
        let _ = std::os::unix::fs::lchown(to, Some(m.uid()), Some(m.gid()));
    }
    Ok(bytes)
}

/// `mke2fs -t ext4 -L label -d dir image sizeM`, into a fresh file.
fn mke2fs(label: &str, dir: &Path, image: &Path, mib: u64) -> Result<(), VmError> {
    let _ = fs::remove_file(image);
    let out = Command::new("mke2fs")
        .args([
            "-q",
            "-F",
            "-t",
            "ext4",
            "-L",
            label,
            "-E",
            "root_owner=0:0",
            "-d",
        ])
        .arg(dir)
        .arg(image)
        .arg(format!("{mib}M"))
        .output()
        .map_err(|e| VmError::Tool {
            tool: "mke2fs".into(),
            detail: format!("{e} (install e2fsprogs)"),
        })?;
    if !out.status.success() {
        let _ = fs::remove_file(image);
        return Err(VmError::Tool {
            tool: "mke2fs".into(),
            detail: format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr)),
        });
    }
    Ok(())
}

/// A running VM: the runner's qemu, its console log, and the backdoor.
pub struct Machine {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
    conn: Option<UnixStream>,
    buf: Vec<u8>,
    started: Instant,
    commands: u64,
}

impl Machine {
    /// Starts `runner` with its console written to `log` and its backdoor at `socket`.
    pub fn start(runner: &Path, log: &Path, socket: &Path) -> Result<Machine, VmError> {
        let _ = fs::remove_file(socket);
        let console = fs::File::create(log).map_err(|e| OsError::Io {
            action: "creating",
            path: log.to_owned(),
            source: e,
        })?;
        let err = console.try_clone().map_err(|e| OsError::Io {
            action: "opening",
            path: log.to_owned(),
            source: e,
        })?;
        let child = Command::new(runner)
            .env("KILN_VM_BACKDOOR", socket)
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(err)
            .spawn()
            .map_err(|e| VmError::Tool {
                tool: runner.display().to_string(),
                detail: e.to_string(),
            })?;
        Ok(Machine {
            child,
            socket: socket.to_owned(),
            log: log.to_owned(),
            conn: None,
            buf: Vec::new(),
            started: Instant::now(),
            commands: 0,
        })
    }

    /// The console log.
    pub fn log(&self) -> &Path {
        &self.log
    }

    fn timeout(&self, what: &str, limit: Duration) -> VmError {
        VmError::Timeout {
            what: what.to_owned(),
            secs: limit.as_secs(),
            log: self.log.clone(),
        }
    }

    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(st)) => Some(format!("qemu exited ({st})")),
            _ => None,
        }
    }

    /// Waits until the backdoor says it is ready, that is `multi-user.target` was reached;
    /// returns the time since the start.
    pub fn wait_ready(&mut self, limit: Duration) -> Result<Duration, VmError> {
        let deadline = self.started + limit;
        while self.conn.is_none() {
            if let Some(why) = self.exited() {
                return Err(VmError::Closed {
                    what: why,
                    log: self.log.clone(),
                });
            }
            match UnixStream::connect(&self.socket) {
                Ok(c) => self.conn = Some(c),
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(_) => return Err(self.timeout("the backdoor socket", limit)),
            }
        }
        self.read_until(BACKDOOR_READY.as_bytes(), deadline, limit, "the backdoor")?;
        Ok(self.started.elapsed())
    }

    /// Reads from the backdoor until `marker`; returns what came before it (and drops it).
    fn read_until(
        &mut self,
        marker: &[u8],
        deadline: Instant,
        limit: Duration,
        what: &str,
    ) -> Result<Vec<u8>, VmError> {
        loop {
            if let Some(i) = find(&self.buf, marker) {
                let before = self.buf[..i].to_vec();
                self.buf.drain(..i + marker.len());
                return Ok(before);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(self.timeout(what, limit));
            }
            let conn = self.conn.as_mut().expect("connected");
            conn.set_read_timeout(Some((deadline - now).min(Duration::from_secs(1))))
                .map_err(|e| VmError::Closed {
                    what: e.to_string(),
                    log: self.log.clone(),
                })?;
            let mut chunk = [0u8; 8192];
            match conn.read(&mut chunk) {
                Ok(0) => {
                    return Err(VmError::Closed {
                        what: what.to_owned(),
                        log: self.log.clone(),
                    })
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    if let Some(why) = self.exited() {
                        return Err(VmError::Closed {
                            what: why,
                            log: self.log.clone(),
                        });
                    }
                }
                Err(e) => {
                    return Err(VmError::Closed {
                        what: e.to_string(),
                        log: self.log.clone(),
                    })
                }
            }
        }
    }

    /// Runs `command` (a shell command line) in the guest as root; its exit status and
    /// output (stdout and stderr).
    pub fn run(&mut self, command: &str, limit: Duration) -> Result<(i32, String), VmError> {
        if self.conn.is_none() {
            self.wait_ready(limit)?;
        }
        self.commands += 1;
        let n = self.commands;
        // One line: the command travels base64-encoded (any quotes, newlines); the markers are
        // written split, so an echo of the line could never match them.
        let line = format!(
            "echo \"<kiln-\"\"begin-{n}>\"; (eval \"$(echo {} | base64 -d)\") </dev/null 2>&1; \
             echo \"<kiln-\"\"done-{n}:$?>\"\n",
            base64(command.as_bytes())
        );
        let start = format!("<kiln-begin-{n}>");
        let conn = self.conn.as_mut().expect("connected");
        conn.write_all(line.as_bytes())
            .map_err(|e| VmError::Closed {
                what: e.to_string(),
                log: self.log.clone(),
            })?;
        let deadline = Instant::now() + limit;
        let what = format!("`{command}`");
        self.read_until(start.as_bytes(), deadline, limit, &what)?;
        let out = self.read_until(
            format!("<kiln-done-{n}:").as_bytes(),
            deadline,
            limit,
            &what,
        )?;
        let status = self.read_until(b">", deadline, limit, &what)?;
        let status = String::from_utf8_lossy(&status)
            .trim()
            .parse()
            .unwrap_or(-1);
        let out = String::from_utf8_lossy(&out).replace('\r', "");
        Ok((status, out.trim_start_matches('\n').to_owned()))
    }

    /// Runs `command` and fails unless its status is 0; its output.
    pub fn succeed(&mut self, command: &str) -> Result<String, VmError> {
        let (status, output) = self.run(command, Duration::from_secs(120))?;
        if status != 0 {
            return Err(VmError::Command {
                command: command.to_owned(),
                status,
                output,
            });
        }
        Ok(output)
    }

    /// Waits until `unit` is active (`systemctl is-active`).
    pub fn wait_for_unit(&mut self, unit: &str, limit: Duration) -> Result<(), VmError> {
        let deadline = Instant::now() + limit;
        loop {
            let (status, _) = self.run(&format!("systemctl is-active --quiet {unit}"), limit)?;
            if status == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.timeout(&format!("unit {unit}"), limit));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Powers the guest off (`poweroff`) and waits for qemu to exit.
    pub fn shutdown(mut self, limit: Duration) -> Result<(), VmError> {
        if let Some(conn) = self.conn.as_mut() {
            // systemd's own request: busybox's `poweroff`, first on the backdoor's PATH, signals
            // PID 1 with SIGUSR2, which systemd takes as "dump your state".
            let _ = conn.write_all(b"systemctl poweroff 2>/dev/null || poweroff\n");
        }
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.timeout("the guest to power off", limit));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.socket);
    }
}

/// Standard base64 with padding (RFC 4648), what busybox's `base64 -d` reads.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(v >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vm_expression_adds_the_vm_module() {
        let e = vm_expr(
            &Configuration::File("/x/fleet.nix".into()),
            Some("web"),
            Path::new("/"),
        );
        assert!(e.starts_with("(import <kiln/os> { configuration = { imports = [ (let v"));
        assert!(
            e.ends_with("<kiln/os/vm.nix> ]; }; }).${\"toplevel\"}"),
            "{e}"
        );
        assert_eq!(sh_quote("a'b c"), "'a'\\''b c'");
        assert_eq!(find(b"abcabd", b"abd"), Some(3));
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"echo 'a'\n\xff"), "ZWNobyAnYScK/w==");
    }
}
