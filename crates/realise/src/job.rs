//! Building one derivation: lock its outputs, prepare the build directory and environment, run
//! the builder (sandboxed, unsandboxed or built in), then move, canonicalise, check and register
//! its outputs, all or nothing.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use kiln_formats::derivation::DerivationOutput;
use kiln_formats::hash::{Hash, HashAlgo, Hasher};
use kiln_formats::narinfo::ContentAddress;
use kiln_formats::store_path::{FileIngestionMethod, StorePath};
use kiln_store::{canonicalise, remove_tree, summarise, LocalStore, PathInfo, PathLock, Store};

use crate::env::{self, EnvParams, SANDBOX_BUILD_DIR};
use crate::plan::Node;
use crate::refs::check_references;
use crate::sandbox::{self, Running, SandboxSpec};
use crate::{BuildError, BuildSettings, Event, Observer};

/// How one build ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The builder ran and its outputs are registered.
    Built,
    /// Another process built it while this one waited for the lock.
    AlreadyValid,
}

/// What every build of a realisation shares.
pub(crate) struct Context<'a> {
    pub store: &'a LocalStore,
    pub settings: &'a BuildSettings,
    pub observer: &'a dyn Observer,
    /// Set to stop running builds (a failure without `keep-going`).
    pub cancel: &'a AtomicBool,
}

static BUILD_DIR_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The build directory on the host, removed when dropped unless kept.
struct BuildDir {
    path: PathBuf,
    keep: bool,
}

impl BuildDir {
    fn create(parent: &Path, name: &str) -> Result<Self, BuildError> {
        fs::create_dir_all(parent).map_err(|e| BuildError::io("creating directory", parent, e))?;
        loop {
            let n = BUILD_DIR_COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = parent.join(format!("kiln-realise-{name}-{}-{n}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => {
                    use std::os::unix::fs::PermissionsExt;
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o700))
                        .map_err(|e| BuildError::io("setting permissions of", &path, e))?;
                    return Ok(BuildDir { path, keep: false });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(BuildError::io("creating directory", &path, e)),
            }
        }
    }
}

impl Drop for BuildDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = remove_tree(&self.path);
        }
    }
}

/// What the builder's output stream gave: the last lines, and the compressed log.
struct LogSink<'a> {
    id: usize,
    observer: &'a dyn Observer,
    tail: VecDeque<String>,
    max_tail: usize,
    partial: Vec<u8>,
    file: Option<bzip2::write::BzEncoder<fs::File>>,
}

impl LogSink<'_> {
    fn feed(&mut self, data: &[u8]) {
        if let Some(f) = &mut self.file {
            if f.write_all(data).is_err() {
                self.file = None;
            }
        }
        self.partial.extend_from_slice(data);
        while let Some(pos) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            self.line(&line[..line.len() - 1]);
        }
    }

    fn line(&mut self, bytes: &[u8]) {
        // A carriage return rewrites the line on a terminal; keep what would be visible.
        let bytes = match bytes.iter().rposition(|&b| b == b'\r') {
            Some(p) if p + 1 < bytes.len() => &bytes[p + 1..],
            _ => bytes,
        };
        let line = String::from_utf8_lossy(bytes).into_owned();
        self.observer.event(Event::Log {
            id: self.id,
            line: &line,
        });
        if self.tail.len() == self.max_tail {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }

    fn finish(&mut self) {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.line(&rest);
        }
    }
}

/// Where Nix keeps the log of `drv`: `<state>/../log/nix/drvs/<2 chars>/<rest>.bz2`.
pub fn log_path(store: &LocalStore, drv: &StorePath) -> PathBuf {
    let base = drv.base_name();
    let state = store.location().state_dir();
    let var = state.parent().unwrap_or(&state).to_owned();
    var.join("log/nix/drvs")
        .join(&base[..2])
        .join(format!("{}.bz2", &base[2..]))
}

fn status_text(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        format!("exit code {code}")
    } else if let Some(sig) = status.signal() {
        format!("signal {sig}")
    } else {
        format!("{status}")
    }
}

/// The hash algorithm and method a fixed output is checked with.
fn fixed_output(node: &Node) -> Option<(FileIngestionMethod, Hash)> {
    node.drv.outputs.values().find_map(|o| match o {
        DerivationOutput::Fixed { method, hash, .. } => Some((*method, *hash)),
        _ => None,
    })
}

/// Builds `node` (the scheduler gives it a job slot and calls this on a worker thread).
pub(crate) fn build(cx: &Context<'_>, id: usize, node: &Node) -> Result<Outcome, BuildError> {
    let store = cx.store;
    let store_dir = store.store_dir().to_owned();
    let drv_abs = node.drv_path.to_absolute(&store_dir);

    let system = String::from_utf8_lossy(&node.drv.system).into_owned();
    let builder = String::from_utf8_lossy(&node.drv.builder).into_owned();
    let builtin = builder.starts_with("builtin:");
    if !(builtin || system == cx.settings.system || cx.settings.extra_platforms.contains(&system)) {
        return Err(BuildError::WrongSystem {
            drv: drv_abs,
            needed: system,
            have: cx.settings.system.clone(),
        });
    }

    // Lock every output (in a fixed order, so two processes cannot deadlock), then look
    // again: whoever held the lock may have built them.
    let mut locks = Vec::new();
    for path in node.outputs.values() {
        locks.push(PathLock::acquire(&store.real_path(path))?);
    }
    // A concurrent garbage collection keeps what this build makes and uses: temporary roots
    // for the derivation and its outputs now, for its inputs below (each protects its closure).
    store.add_temp_root(&node.drv_path)?;
    for path in node.outputs.values() {
        store.add_temp_root(path)?;
    }
    let mut all_valid = true;
    for path in node.outputs.values() {
        all_valid &= store.is_valid_path(path)?;
    }
    if all_valid && !node.check {
        return Ok(Outcome::AlreadyValid);
    }
    cx.observer.event(Event::Started {
        id,
        drv: &node.drv_path,
        name: &node.name,
    });
    if !node.check {
        // What a killed build left at an output path is garbage; we hold its lock.
        for path in node.outputs.values() {
            if !store.is_valid_path(path)? {
                remove_tree(&store.real_path(path))?;
            }
        }
    }

    // The input closure: sources and the used outputs of input derivations.
    let inputs = &node.inputs;
    for path in inputs {
        store.add_temp_root(path)?;
        if !store.is_valid_path(path)? {
            return Err(BuildError::Missing(path.to_absolute(&store_dir)));
        }
    }
    let inputs = store.closure(inputs)?;

    let tmp = store.temp_dir()?;
    let mut build_dir = BuildDir::create(&cx.settings.build_dir_parent, &node.name)?;
    let diverted = store.location().real_store_dir() != Path::new(&store_dir);
    let sandbox_available = || {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVAILABLE.get_or_init(|| sandbox::sandbox_supported().is_ok())
    };
    let sandboxed = !builtin
        && use_sandbox(
            cx.settings.sandbox,
            cx.settings.sandbox_fallback,
            diverted,
            sandbox_available,
        );
    if node.check && !sandboxed && !builtin {
        return Err(BuildError::Setup {
            drv: drv_abs,
            message: "'--check' rebuilds in the sandbox, and the sandbox is disabled".to_owned(),
        });
    }
    let inside_dir = if sandboxed {
        SANDBOX_BUILD_DIR.to_owned()
    } else {
        build_dir.path.to_string_lossy().into_owned()
    };
    let outputs_abs: BTreeMap<String, String> = node
        .outputs
        .iter()
        .map(|(k, p)| (k.clone(), p.to_absolute(&store_dir)))
        .collect();
    let cores = if cx.settings.cores == 0 {
        crate::settings::available_cores()
    } else {
        cx.settings.cores
    };
    let host_env = |k: &str| std::env::var(k).ok();
    let setup = env::prepare(
        &EnvParams {
            drv: &node.drv,
            drv_path: &drv_abs,
            store_dir: &store_dir,
            outputs: &outputs_abs,
            build_dir_inside: &inside_dir,
            cores,
            host_env: &host_env,
        },
        &build_dir.path,
    )?;
    let fixed = fixed_output(node);

    let log_file = if cx.settings.keep_build_log {
        let path = log_path(store, &node.drv_path);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| BuildError::io("creating directory", dir, e))?;
        }
        let f = fs::File::create(&path).map_err(|e| BuildError::io("creating", &path, e))?;
        Some(bzip2::write::BzEncoder::new(
            f,
            bzip2::Compression::default(),
        ))
    } else {
        None
    };
    let mut log = LogSink {
        id,
        observer: cx.observer,
        tail: VecDeque::new(),
        max_tail: cx.settings.log_lines,
        partial: Vec::new(),
        file: log_file,
    };

    let spec = SandboxSpec {
        store_dir: store_dir.clone(),
        real_store_dir: store.location().real_store_dir(),
        inputs: inputs.iter().map(|p| p.to_absolute(&store_dir)).collect(),
        extra_paths: cx.settings.sandbox_paths.clone(),
        network: fixed.is_some(),
        build_dir: build_dir.path.clone(),
        builder: builder.clone(),
        args: setup.args.clone(),
        env: setup.env.clone().into_iter().collect(),
        work_root: tmp.path().to_path_buf(),
    };

    let result = if builtin {
        run_builtin(
            node,
            store,
            cx.settings,
            &builder,
            &setup.env,
            tmp.path(),
            &mut log,
        )
    } else {
        run_builder(cx, &spec, sandboxed, &drv_abs, &mut log)
    };
    log.finish();
    if let Some(f) = log.file.take() {
        let _ = f.finish();
    }
    if let Err(e) = result {
        let e = match e {
            BuildError::BuilderFailed { drv, status, .. } => BuildError::BuilderFailed {
                drv,
                status,
                log_tail: log.tail.iter().cloned().collect(),
            },
            e => e,
        };
        if cx.settings.keep_failed {
            build_dir.keep = true;
            cx.observer.event(Event::KeptBuildDir {
                id,
                path: &build_dir.path,
            });
        }
        return Err(e);
    }

    // Where each output is now.
    let mut produced = BTreeMap::new();
    for (name, abs) in &outputs_abs {
        let at = if builtin {
            tmp.path().join(format!("builtin-{name}"))
        } else if sandboxed {
            sandbox::output_location(&spec, abs)
        } else {
            store.real_path(&node.outputs[name])
        };
        if fs::symlink_metadata(&at).is_err() {
            return Err(BuildError::MissingOutput {
                drv: drv_abs,
                output: name.clone(),
                path: abs.clone(),
            });
        }
        produced.insert(name.clone(), at);
    }

    let res = finish_outputs(cx, node, &drv_abs, &inputs, fixed, &produced, tmp.path());
    if res.is_err() && cx.settings.keep_failed {
        build_dir.keep = true;
        cx.observer.event(Event::KeptBuildDir {
            id,
            path: &build_dir.path,
        });
    }
    drop(locks);
    res
}

/// Runs a builder program and copies its output into the log until it exits, enforcing the
/// time limits and cancellation.
fn run_builder(
    cx: &Context<'_>,
    spec: &SandboxSpec,
    sandboxed: bool,
    drv_abs: &str,
    log: &mut LogSink<'_>,
) -> Result<(), BuildError> {
    let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| BuildError::io("creating a pipe for", Path::new(drv_abs), e.into()))?;
    let spawned = if sandboxed {
        sandbox::spawn(spec, writer)
    } else {
        sandbox::spawn_unsandboxed(spec, writer)
    };
    let mut child = spawned.map_err(|e| BuildError::Sandbox {
        drv: drv_abs.to_owned(),
        message: e.to_string(),
    })?;
    let res = pump(cx, &mut child, reader, drv_abs, log);
    if res.is_err() {
        child.kill();
    }
    let status = child.wait().map_err(|e| BuildError::Sandbox {
        drv: drv_abs.to_owned(),
        message: e.to_string(),
    })?;
    res?;
    if !status.success() {
        return Err(BuildError::BuilderFailed {
            drv: drv_abs.to_owned(),
            status: status_text(status),
            log_tail: Vec::new(),
        });
    }
    Ok(())
}

/// Reads the builder's output until end of file (every writer gone), killing it on a time
/// limit or cancellation.
fn pump(
    cx: &Context<'_>,
    child: &mut Running,
    reader: OwnedFd,
    drv_abs: &str,
    log: &mut LogSink<'_>,
) -> Result<(), BuildError> {
    use rustix::event::{poll, PollFd, PollFlags};
    let start = Instant::now();
    let mut last_output = Instant::now();
    let mut file = fs::File::from(reader);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if cx.cancel.load(Ordering::Relaxed) {
            return Err(BuildError::Setup {
                drv: drv_abs.to_owned(),
                message: "cancelled because another build failed".to_owned(),
            });
        }
        let now = Instant::now();
        let mut wait = Duration::from_millis(500);
        if let Some(t) = cx.settings.timeout {
            let left = t.saturating_sub(now - start);
            if left.is_zero() {
                child.kill();
                return Err(BuildError::TimedOut {
                    drv: drv_abs.to_owned(),
                    seconds: t.as_secs(),
                    silent: false,
                });
            }
            wait = wait.min(left);
        }
        if let Some(t) = cx.settings.max_silent_time {
            let left = t.saturating_sub(now - last_output);
            if left.is_zero() {
                child.kill();
                return Err(BuildError::TimedOut {
                    drv: drv_abs.to_owned(),
                    seconds: t.as_secs(),
                    silent: true,
                });
            }
            wait = wait.min(left);
        }
        let timeout = rustix::time::Timespec {
            tv_sec: wait.as_secs() as i64,
            tv_nsec: i64::from(wait.subsec_nanos()),
        };
        let fd = file.as_fd();
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                return Err(BuildError::io(
                    "reading the log of",
                    Path::new(drv_abs),
                    e.into(),
                ))
            }
        }
        match file.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                last_output = Instant::now();
                log.feed(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(BuildError::io("reading the log of", Path::new(drv_abs), e)),
        }
    }
}

/// Runs a builder built into Kiln (`builtin:fetchurl`, `builtin:buildenv`, `builtin:unpack`),
/// writing its `out` output at `<tmp>/builtin-out` and its messages to the log.
fn run_builtin(
    node: &Node,
    store: &LocalStore,
    settings: &BuildSettings,
    builder: &str,
    env: &BTreeMap<String, String>,
    tmp: &Path,
    log: &mut LogSink<'_>,
) -> Result<(), BuildError> {
    let drv = node.drv_path.to_string();
    let out = tmp.join("builtin-out");
    let res = match builder {
        "builtin:fetchurl" => crate::builtin_fetchurl::run(
            env,
            &out,
            &settings.mirrors,
            settings.download_cache.as_deref(),
            log,
        )
        .map_err(|e| e.to_string()),
        "builtin:unpack" => {
            let loc = store.location();
            crate::builtin_unpack::run_in(env, &out, &loc.store_dir, &loc.real_store_dir(), log)
                .map_err(|e| e.to_string())
        }
        "builtin:buildenv" => {
            let loc = store.location();
            crate::builtin_buildenv::run_in(env, &out, &loc.store_dir, &loc.real_store_dir(), log)
                .map_err(|e| e.to_string())
        }
        _ => {
            return Err(BuildError::Setup {
                drv,
                message: format!("unsupported builtin builder '{builder}'"),
            })
        }
    };
    res.map_err(|message| {
        log.feed(format!("{message}\n").as_bytes());
        BuildError::BuilderFailed {
            drv,
            status: format!("an error in {builder}"),
            log_tail: Vec::new(),
        }
    })
}

impl Write for LogSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.feed(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Moves the outputs into the store, canonicalises and checks them, and registers them in
/// one transaction (or, for `--check`, compares them with the valid ones).
fn finish_outputs(
    cx: &Context<'_>,
    node: &Node,
    drv_abs: &str,
    inputs: &BTreeSet<StorePath>,
    fixed: Option<(FileIngestionMethod, Hash)>,
    produced: &BTreeMap<String, PathBuf>,
    tmp: &Path,
) -> Result<Outcome, BuildError> {
    let store = cx.store;
    let store_dir = store.store_dir();
    let mut candidates = inputs.clone();
    candidates.extend(node.outputs.values().cloned());
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);

    let mut infos = Vec::new();
    for (name, at) in produced {
        let path = &node.outputs[name];
        // In check mode the new output stays beside the valid one.
        let dest = if node.check {
            tmp.join(format!("check-{name}"))
        } else {
            store.real_path(path)
        };
        if *at != dest {
            fs::rename(at, &dest).map_err(|e| BuildError::io("moving output to", &dest, e))?;
        }
        canonicalise(&dest)?;
        let extra = match fixed {
            Some((FileIngestionMethod::Recursive, h)) if h.algo() != HashAlgo::Sha256 => {
                Some(h.algo())
            }
            _ => None,
        };
        let summary = summarise(&dest, extra, &candidates)?;
        let mut ca = None;
        if let Some((method, expected)) = fixed {
            let got = match method {
                FileIngestionMethod::Recursive => summary.extra.unwrap_or(summary.nar_hash),
                FileIngestionMethod::Flat => flat_hash(&dest, expected.algo(), drv_abs)?,
            };
            if got != expected {
                if !node.check {
                    remove_tree(&dest)?;
                }
                return Err(BuildError::HashMismatch {
                    drv: drv_abs.to_owned(),
                    specified: expected.to_sri(),
                    got: got.to_sri(),
                });
            }
            ca = Some(ContentAddress::Fixed {
                method,
                hash: expected,
            });
        }
        infos.push(PathInfo {
            path: path.clone(),
            nar_hash: summary.nar_hash,
            nar_size: summary.nar_size,
            references: summary.references,
            deriver: Some(node.drv_path.clone()),
            ca,
            sigs: BTreeSet::new(),
            registration_time: now,
            ultimate: true,
        });
    }

    let check_res = check_references(store, &node.drv, &node.outputs, &infos, drv_abs);
    if let Err(e) = check_res {
        if !node.check {
            for info in &infos {
                remove_tree(&store.real_path(&info.path))?;
            }
        }
        return Err(e);
    }

    if node.check {
        for info in &infos {
            let Some(valid) = store.query_path_info(&info.path)? else {
                continue;
            };
            if valid.nar_hash != info.nar_hash {
                let name = node
                    .outputs
                    .iter()
                    .find(|(_, p)| **p == info.path)
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default();
                let new = tmp.join(format!("check-{name}"));
                let old = store.real_path(&info.path);
                let diff = crate::diff::diff_trees(&old, &new);
                let out_abs = info.path.to_absolute(store_dir);
                if cx.settings.keep_failed {
                    let kept = PathBuf::from(format!("{}.check", old.display()));
                    let _ = remove_tree(&kept);
                    fs::rename(&new, &kept).map_err(|e| BuildError::io("keeping", &kept, e))?;
                }
                return Err(BuildError::NotDeterministic {
                    drv: drv_abs.to_owned(),
                    output: out_abs,
                    diff,
                });
            }
        }
        return Ok(Outcome::Built);
    }

    store.register_valid_paths(&infos)?;
    Ok(Outcome::Built)
}

/// The hash of a flat fixed output: a regular, non-executable file's contents.
fn flat_hash(path: &Path, algo: HashAlgo, drv_abs: &str) -> Result<Hash, BuildError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::symlink_metadata(path).map_err(|e| BuildError::io("reading", path, e))?;
    if !meta.is_file() || meta.permissions().mode() & 0o100 != 0 {
        return Err(BuildError::Setup {
            drv: drv_abs.to_owned(),
            message: format!(
                "output path '{}' should be a non-executable regular file since recursive hashing is not enabled (outputHashMode=flat)",
                path.display()
            ),
        });
    }
    let mut f = fs::File::open(path).map_err(|e| BuildError::io("reading", path, e))?;
    let mut h = Hasher::new(algo);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| BuildError::io("reading", path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

/// Whether a (non-builtin) build runs in the sandbox: when `sandbox` is set, or always for a
/// store outside its logical directory (its builder could not see its inputs otherwise),
/// except that with `sandbox-fallback` a store in its place builds unsandboxed where the
/// kernel or container allows no sandbox, as Nix does. (A diverted store then fails with
/// the sandbox's own reason.)
fn use_sandbox(
    sandbox: bool,
    fallback: bool,
    diverted: bool,
    available: impl FnOnce() -> bool,
) -> bool {
    if diverted {
        return true;
    }
    sandbox && (!fallback || available())
}

#[cfg(test)]
mod sandbox_choice_tests {
    use super::use_sandbox;

    #[test]
    fn the_sandbox_falls_back_only_in_place_and_when_asked() {
        let no = || false;
        let yes = || true;
        assert!(use_sandbox(true, true, false, yes));
        assert!(!use_sandbox(true, true, false, no), "falls back");
        assert!(
            use_sandbox(true, false, false, no),
            "fails in the sandbox instead"
        );
        assert!(
            use_sandbox(true, true, true, no),
            "a diverted store never falls back"
        );
        assert!(
            use_sandbox(false, true, true, yes),
            "a diverted store always sandboxes"
        );
        assert!(!use_sandbox(false, true, false, yes));
    }
}
