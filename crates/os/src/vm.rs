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
use std::os::unix::process::CommandExt as _;
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
use crate::loader::{self, Image, ImageError, Why};
use crate::system::System;
use crate::toplevel::Toplevel;

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
    /// The boot loader found nothing to boot.
    #[error("the boot loader: {detail}")]
    Loader {
        /// Why.
        detail: String,
    },
    /// The loader's state on the image could not be read or written.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// An OS-layer operation failed.
    #[error(transparent)]
    Os(#[from] OsError),
}

/// The runner's directory for the activated roots of the generations (kept across builds, as
/// the staging root holds only the current generation's).
const ACTIVATED: &str = "activated";

/// Writes the images and the runner of the VM whose staging root is `system` into `dir`, for
/// its generations, the current one the default entry. The loader's state on the old `nix`
/// image (boot counters, failure notes) is carried over for the generations it has; a new
/// generation's entry gets the tries its toplevel's `/etc/kernel/tries` says (none: no boot
/// counting). The runner runs `kiln` (the program `kiln`) as `kiln os vm --boot`.
pub fn make_images(system: &System, dir: &Path, kiln: &Path) -> Result<VmFiles, VmError> {
    let root = system.root();
    let gens = system.generations()?;
    let current = gens
        .iter()
        .find(|g| g.current)
        .ok_or_else(|| VmError::NoGeneration(root.to_owned()))?;
    let toplevel = system.toplevel(&current.target.to_string_lossy())?;
    if toplevel.system.kernel.is_none() || toplevel.system.initrd.is_none() {
        return Err(VmError::NotBootable(toplevel.path.clone()));
    }
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
    let nix_image = dir.join("nix.img");
    // The loader's state the guest and earlier boots left (an unreadable image: none).
    let old = if nix_image.exists() {
        Image::new(&nix_image).state().unwrap_or_default()
    } else {
        loader::State::default()
    };

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
    // The activated root of the current generation (everything but the store, the boot
    // entries and /run), kept in DIR/activated with those of the other generations, so each
    // boots with its own.
    let top_name = |path: &Path| path.file_name().unwrap_or_default().to_owned();
    let cache = dir.join(ACTIVATED);
    mkdir(&cache)?;
    let mine = cache.join(top_name(Path::new(&toplevel.path)));
    let fresh = cache.join(".current.tmp");
    remove_tree(&fresh)?;
    mkdir(&fresh)?;
    for e in fs::read_dir(root).map_err(io_err("reading", root))? {
        let e = e.map_err(io_err("reading", root))?;
        let name = e.file_name();
        if name == "nix" || name == "boot" || name == "run" {
            continue;
        }
        copy_tree(&e.path(), &fresh.join(&name))?;
    }
    remove_tree(&mine)?;
    fs::rename(&fresh, &mine).map_err(io_err("renaming", &fresh))?;
    let wanted: BTreeSet<_> = gens.iter().map(|g| top_name(&g.target)).collect();
    for e in fs::read_dir(&cache).map_err(io_err("reading", &cache))? {
        let e = e.map_err(io_err("reading", &cache))?;
        if !wanted.contains(&e.file_name()) {
            remove_tree(&e.path())?;
        }
    }
    let activated = staging.join("var/kiln/activated");
    mkdir(&activated)?;
    for name in &wanted {
        let from = cache.join(name);
        if from.exists() {
            link_tree(&from, &activated.join(name))?;
        }
    }
    // The boot loader's state: an entry per generation, the current one the default.
    let loader_dir = staging.join(loader::LOADER_DIR.trim_start_matches('/'));
    mkdir(&loader_dir.join("entries"))?;
    for g in &gens {
        let n = g.number;
        let src = fsutil::phys(root, format!("/boot/loader/entries/kiln-{n}.conf"));
        let text = fs::read(&src).map_err(io_err("reading", &src))?;
        let entry = match old.entry(n) {
            Some(e) => e,
            None => {
                let top = system.toplevel(&g.target.to_string_lossy())?;
                loader::Entry::new(n, tries(root, &top))
            }
        };
        fs::write(loader_dir.join("entries").join(entry.file_name()), text)
            .map_err(io_err("writing", &loader_dir))?;
        if let Some(f) = old.failure(n) {
            fs::write(loader_dir.join(format!("failed-{n}")), format!("{f}\n"))
                .map_err(io_err("writing", &loader_dir))?;
        }
    }
    let default = crate::boot::default_entry(root).unwrap_or(current.number);
    fs::write(loader_dir.join("loader.conf"), loader::loader_conf(default))
        .map_err(io_err("writing", &loader_dir))?;

    let size = (bytes + bytes / 4) / (1 << 20) + 256;
    // No journal: the runner reads and writes the image with debugfs, which does not replay
    // one, and the guest syncs what it writes there before it reboots.
    mke2fs("nix", &staging, &dir.join("nix.img.tmp"), size, false)?;
    fs::rename(dir.join("nix.img.tmp"), &nix_image).map_err(io_err("renaming", &nix_image))?;
    remove_tree(&staging)?;

    let persist_image = dir.join("persist.img");
    if !persist_image.exists() {
        let empty = dir.join(".persist-image.tmp");
        remove_tree(&empty)?;
        mkdir(&empty)?;
        mke2fs("persist", &empty, &dir.join("persist.img.tmp"), 1024, true)?;
        fs::rename(dir.join("persist.img.tmp"), &persist_image)
            .map_err(io_err("renaming", &persist_image))?;
        remove_tree(&empty)?;
    }

    let runner = dir.join("run-vm");
    let script = format!(
        "#!/bin/sh\n\
         # The Kiln VM of {host} (generation {gen}: {top} is the default), made by `kiln os vm`.\n\
         # `run-vm [--generation N] [-- QEMU-ARGS]`: the runner plays the boot loader (entries\n\
         # on nix.img), boots qemu, and boots again when the guest reboots.\n\
         # Console: stdout. Backdoor: $KILN_VM_BACKDOOR (default: backdoor.sock beside this\n\
         # script). More qemu options: $QEMU_OPTS. Memory: $KILN_VM_MEMORY (MiB).\n\
         dir=$(cd \"$(dirname \"$0\")\" && pwd)\n\
         exec {kiln} os vm --dir \"$dir\" --boot \"$@\"\n",
        host = toplevel.system.host_name,
        gen = current.number,
        top = toplevel.path,
        kiln = sh_quote(&kiln.to_string_lossy()),
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

/// The tries a new entry of `top` gets: its `/etc/kernel/tries` (as systemd's kernel-install
/// reads it), none when absent or not a positive number.
fn tries(root: &Path, top: &Toplevel) -> Option<u32> {
    let path = top.resolve(root, "etc/kernel/tries").ok()?;
    fs::read_to_string(path)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

/// How a VM is booted.
#[derive(Debug, Clone, Default)]
pub struct BootOptions {
    /// The generation to boot first (a pick from the boot menu), not the default.
    pub generation: Option<u64>,
    /// More qemu arguments.
    pub qemu_args: Vec<String>,
}

/// What the kernel prints as the machine powers off or restarts. (A panic, with `panic=-1`,
/// ends qemu too, `-no-reboot`: the runner stops there, its try counted.)
const POWER_DOWN: &[u8] = b"reboot: Power down";
const RESTART: &[u8] = b"reboot: Restarting system";

/// Boots the VM in `dir` as its boot loader would: chooses the entry ([`loader::choose`]),
/// counts the try on the image, starts qemu with the entry's kernel, initrd and options (and
/// `kiln.entry=` naming the entry, so the guest can bless it), copies the console to
/// `console`, and when the guest restarts chooses again and boots again. Returns
/// when the guest powers off. What the loader decides is written to `console` and appended
/// to `DIR/boot.log` (`kiln-loader: …` lines).
pub fn run(dir: &Path, opts: &BootOptions, console: &mut dyn Write) -> Result<(), VmError> {
    let image = Image::new(&dir.join("nix.img"));
    let root = dir.join("root");
    let entries = format!("{}/entries", loader::LOADER_DIR);
    let mut asked = opts.generation;
    let mut boot = 0u64;
    loop {
        boot += 1;
        let state = image.state()?;
        let choice = loader::choose(&state, asked.take()).map_err(|e| VmError::Loader {
            detail: e.to_string(),
        })?;
        let entry = choice.entry;
        let booted = entry.tried();
        let n = entry.generation;
        let tries = match booted.left {
            Some(left) => format!(", try {} of {}", booted.done, booted.done + left),
            None => String::new(),
        };
        let line = match &choice.why {
            Why::Asked => format!("booting generation {n} (asked for){tries}"),
            Why::Oneshot => format!("booting generation {n} (the one-shot entry){tries}"),
            Why::Default => format!("booting generation {n} (the default){tries}"),
            Why::Newest => format!("booting generation {n} (the newest good entry){tries}"),
            Why::Reverted { bad, failure } => format!(
                "generation {} is bad: {} tries did not reach multi-user.target (last try: {}); \
                 reverting to generation {n}{tries}",
                bad.generation,
                bad.done,
                failure.as_deref().unwrap_or("no reason noted")
            ),
        };
        note(dir, console, &format!("boot {boot}: {line}"))?;
        if booted != entry {
            image.rename(&entries, &entry.file_name(), &booted.file_name())?;
        }
        if state.oneshot.is_some() {
            image.remove(loader::LOADER_DIR, "oneshot")?;
        }
        let text = loader::parse_entry(&String::from_utf8_lossy(
            &image.read(&format!("{entries}/{}", booted.file_name()))?,
        ));
        let (Some(linux), Some(initrd)) = (&text.linux, &text.initrd) else {
            return Err(VmError::NotBootable(booted.file_name()));
        };
        let kernel =
            fsutil::resolve(&root, Path::new(linux)).map_err(io_err("resolving", linux))?;
        let initrd =
            fsutil::resolve(&root, Path::new(initrd)).map_err(io_err("resolving", initrd))?;
        let append = format!("{} kiln.entry={}", text.options, booted.file_name());
        let socket = std::env::var_os("KILN_VM_BACKDOOR")
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.join("backdoor.sock"));
        let _ = fs::remove_file(&socket);
        let qemu = std::env::var("QEMU").unwrap_or_else(|_| "qemu-system-x86_64".into());
        let memory = std::env::var("KILN_VM_MEMORY").unwrap_or_else(|_| "1024".into());
        let mut cmd = Command::new(&qemu);
        cmd.args([
            "-machine",
            "accel=tcg",
            "-cpu",
            "max",
            "-smp",
            "1",
            "-m",
            &memory,
        ])
        .arg("-kernel")
        .arg(&kernel)
        .arg("-initrd")
        .arg(&initrd)
        .arg("-append")
        .arg(&append)
        .arg("-drive")
        .arg(drive(&dir.join("nix.img")))
        .arg("-drive")
        .arg(drive(&dir.join("persist.img")))
        .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
        .args(["-device", "virtio-serial-pci", "-chardev"])
        .arg(format!(
            "socket,id=backdoor,path={},server=on,wait=off",
            socket.display()
        ))
        .args(["-device", "virtconsole,chardev=backdoor", "-no-reboot"]);
        if let Ok(extra) = std::env::var("QEMU_OPTS") {
            cmd.args(extra.split_whitespace());
        }
        cmd.args(&opts.qemu_args).stdout(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| VmError::Tool {
            tool: qemu.clone(),
            detail: e.to_string(),
        })?;
        let mut out = child.stdout.take().expect("piped");
        let (mut restart, mut tail) = (false, Vec::new());
        let mut chunk = [0u8; 8192];
        loop {
            let k = match out.read(&mut chunk) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let _ = console.write_all(&chunk[..k]);
            let _ = console.flush();
            tail.extend_from_slice(&chunk[..k]);
            if find(&tail, RESTART).is_some() {
                restart = true;
            }
            if find(&tail, POWER_DOWN).is_some() {
                restart = false;
            }
            let keep = tail.len().saturating_sub(64);
            tail.drain(..keep);
        }
        let status = child.wait().map_err(|e| VmError::Tool {
            tool: qemu.clone(),
            detail: e.to_string(),
        })?;
        if !status.success() {
            return Err(VmError::Tool {
                tool: qemu,
                detail: format!("{status}"),
            });
        }
        if !restart {
            note(dir, console, &format!("boot {boot}: the guest powered off"))?;
            return Ok(());
        }
        note(dir, console, &format!("boot {boot}: the guest restarts"))?;
    }
}

fn drive(image: &Path) -> String {
    // qemu's option syntax: a comma in a value is written twice.
    format!(
        "file={},if=virtio,format=raw",
        image.display().to_string().replace(',', ",,")
    )
}

/// Writes a loader line to the console and appends it to `DIR/boot.log`.
fn note(dir: &Path, console: &mut dyn Write, line: &str) -> Result<(), VmError> {
    let line = format!("kiln-loader: {line}\n");
    let _ = console.write_all(b"\r\n");
    let _ = console.write_all(line.as_bytes());
    let _ = console.flush();
    let log = dir.join("boot.log");
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(io_err("opening", &log))?;
    f.write_all(line.as_bytes())
        .map_err(io_err("writing", &log))?;
    Ok(())
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

/// `mke2fs -t ext4 -L label -d dir image sizeM`, into a fresh file; with a journal or not.
fn mke2fs(label: &str, dir: &Path, image: &Path, mib: u64, journal: bool) -> Result<(), VmError> {
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
        ])
        .args(if journal {
            &[][..]
        } else {
            &["-O", "^has_journal"][..]
        })
        .arg("-d")
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
        Machine::start_with(runner, &[], log, socket)
    }

    /// Starts `runner` with `args` (`--generation N`), its console written to `log` and its
    /// backdoor at `socket`. The runner and its qemu are a process group of their own, ended
    /// together when the machine is dropped.
    pub fn start_with(
        runner: &Path,
        args: &[&str],
        log: &Path,
        socket: &Path,
    ) -> Result<Machine, VmError> {
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
            .args(args)
            .env("KILN_VM_BACKDOOR", socket)
            .process_group(0)
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
    /// returns the time since the start. A boot that ends before (the guest restarts, the
    /// runner boots it again) is waited through.
    pub fn wait_ready(&mut self, limit: Duration) -> Result<Duration, VmError> {
        let deadline = self.started + limit;
        loop {
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
            match self.read_until(BACKDOOR_READY.as_bytes(), deadline, limit, "the backdoor") {
                Ok(_) => return Ok(self.started.elapsed()),
                Err(VmError::Closed { .. }) if self.exited().is_none() => {
                    // That qemu ended; the runner starts the next boot.
                    self.conn = None;
                    self.buf.clear();
                }
                Err(e) => return Err(e),
            }
        }
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

    /// Reboots the guest (`reboot`): the runner chooses the entry again and boots it; waits
    /// until that boot is ready and returns the time it took.
    pub fn reboot(&mut self, limit: Duration) -> Result<Duration, VmError> {
        if let Some(conn) = self.conn.as_mut() {
            let _ = conn.write_all(b"/run/current-system/sw/bin/reboot\n");
        }
        self.conn = None;
        self.buf.clear();
        self.started = Instant::now();
        // Until the old qemu is gone the socket may still take a connection, which then
        // closes: `wait_ready` waits through that.
        self.wait_ready(limit)
    }

    /// Powers the guest off (`poweroff`) and waits for the runner to exit.
    pub fn shutdown(mut self, limit: Duration) -> Result<(), VmError> {
        if let Some(conn) = self.conn.as_mut() {
            // By its path: the backdoor's shell, busybox's, runs its own `poweroff` applet
            // before looking at PATH, and busybox's signals PID 1 as busybox's init wants;
            // `sw/bin/poweroff` is systemd's.
            let _ = conn.write_all(b"/run/current-system/sw/bin/poweroff\n");
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
            // The runner's group: the runner and its qemu.
            let _ = Command::new("sh")
                .arg("-c")
                .arg(format!("kill -KILL -- -{}", self.child.id()))
                .stderr(Stdio::null())
                .status();
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
