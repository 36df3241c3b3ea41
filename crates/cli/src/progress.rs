//! What `kiln build`, `nix-build` and `nix-store --realise` share: the progress display and
//! `result` links (the build settings are `kiln_session::Config::build_settings`).
//!
//! Progress comes in three forms (`--log-format`): `bar` (the default on a terminal for `kiln
//! build`: one status line per running build with its last log line, and a summary line with
//! done/total and elapsed time, redrawn in place), `raw` (Nix's legacy output: `building
//! '…drv'...` and every log line, for pipes and the legacy commands) and `internal-json` (Nix's
//! `@nix {…}` event stream on stderr, for tools).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kiln_formats::store_path::StorePath;
use kiln_realise::{Event, Observer};

/// How build progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Every log line, prefixed by nothing, as Nix's legacy commands print them.
    Raw,
    /// A live status display (only on a terminal; else `Raw`).
    Bar,
    /// Nix's `@nix {json}` lines.
    InternalJson,
}

impl LogFormat {
    /// Parses `--log-format`'s argument.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "raw" => LogFormat::Raw,
            "bar" | "bar-with-logs" | "multiline" | "multiline-with-logs" => LogFormat::Bar,
            "internal-json" => LogFormat::InternalJson,
            other => {
                anyhow::bail!("unknown log format '{other}' (expected raw, bar or internal-json)")
            }
        })
    }

    /// The format to use when the user gave none: a bar on a terminal, else raw.
    pub fn default_for_terminal() -> Self {
        if std::io::stderr().is_terminal() {
            LogFormat::Bar
        } else {
            LogFormat::Raw
        }
    }
}

/// Prints the derivations a plan will build, as Nix does before building (and for
/// `--dry-run`).
pub fn print_plan(builds: &[&StorePath], store_dir: &str) {
    if builds.is_empty() {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = if builds.len() == 1 {
        writeln!(err, "this derivation will be built:")
    } else {
        writeln!(err, "these {} derivations will be built:", builds.len())
    };
    for b in builds {
        let _ = writeln!(err, "  {}", b.to_absolute(store_dir));
    }
}

/// Prints the paths a plan will fetch from binary caches, as Nix does.
pub fn print_fetches(fetches: &[&StorePath], download: u64, unpacked: u64, store_dir: &str) {
    if fetches.is_empty() {
        return;
    }
    let mib = |n: u64| n as f64 / (1024.0 * 1024.0);
    let mut err = std::io::stderr().lock();
    let sizes = format!(
        "({:.2} MiB download, {:.2} MiB unpacked)",
        mib(download),
        mib(unpacked)
    );
    let _ = if fetches.len() == 1 {
        writeln!(err, "this path will be fetched {sizes}:")
    } else {
        writeln!(
            err,
            "these {} paths will be fetched {sizes}:",
            fetches.len()
        )
    };
    for p in fetches {
        let _ = writeln!(err, "  {}", p.to_absolute(store_dir));
    }
}

struct Running {
    name: String,
    drv: String,
    started: Instant,
    last_line: String,
}

struct State {
    running: BTreeMap<usize, Running>,
    done: usize,
    failed: usize,
    total: usize,
    /// Lines of the status display currently on screen.
    drawn: usize,
    last_draw: Option<Instant>,
}

/// Shows a realisation's progress on stderr.
pub struct Progress {
    format: LogFormat,
    /// Print builders' output (`-Q`/`--no-build-output` turns it off in raw mode).
    show_logs: bool,
    store_dir: String,
    start: Instant,
    state: Mutex<State>,
}

impl Progress {
    /// A display in `format`.
    pub fn new(format: LogFormat, show_logs: bool, store_dir: &str) -> Self {
        Progress {
            format,
            show_logs,
            store_dir: store_dir.to_owned(),
            start: Instant::now(),
            state: Mutex::new(State {
                running: BTreeMap::new(),
                done: 0,
                failed: 0,
                total: 0,
                drawn: 0,
                last_draw: None,
            }),
        }
    }

    /// Runs `work` under the display. On a terminal (`bar`) the clock and each build's time
    /// are redrawn every second, also while no builder prints anything.
    pub fn run<R>(&self, work: impl FnOnce() -> R) -> R {
        if self.format != LogFormat::Bar {
            return work();
        }
        let stop = (Mutex::new(false), std::sync::Condvar::new());
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let (lock, wake) = &stop;
                loop {
                    let done = lock.lock().unwrap_or_else(|e| e.into_inner());
                    if *done {
                        return;
                    }
                    let (done, _) = wake
                        .wait_timeout(done, Duration::from_secs(1))
                        .unwrap_or_else(|e| e.into_inner());
                    if *done {
                        return;
                    }
                    drop(done);
                    let mut st = self.state();
                    if !st.running.is_empty() {
                        self.draw(&mut st, true);
                    }
                }
            });
            let result = work();
            *stop.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
            stop.1.notify_all();
            result
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes the status display (before printing results or an error).
    pub fn clear(&self) {
        let mut st = self.state();
        let mut err = std::io::stderr().lock();
        Self::erase(&mut st, &mut err);
    }

    fn erase(st: &mut State, err: &mut impl Write) {
        for _ in 0..st.drawn {
            let _ = write!(err, "\x1b[1A\x1b[2K");
        }
        st.drawn = 0;
    }

    fn draw(&self, st: &mut State, force: bool) {
        let now = Instant::now();
        if !force
            && st
                .last_draw
                .is_some_and(|t| now - t < Duration::from_millis(80))
        {
            return;
        }
        st.last_draw = Some(now);
        let width = terminal_width();
        let mut err = std::io::stderr().lock();
        Self::erase(st, &mut err);
        let mut lines = Vec::new();
        for r in st.running.values() {
            let secs = (now - r.started).as_secs();
            let line = if r.last_line.is_empty() {
                format!("  building {} ({secs}s)", r.name)
            } else {
                format!("  building {} ({secs}s): {}", r.name, r.last_line)
            };
            lines.push(truncate(&line, width));
        }
        let elapsed = (now - self.start).as_secs();
        let mut summary = format!(
            "[{}/{} built, {} running",
            st.done,
            st.total,
            st.running.len()
        );
        if st.failed > 0 {
            summary.push_str(&format!(", {} failed", st.failed));
        }
        summary.push_str(&format!(", {}:{:02}]", elapsed / 60, elapsed % 60));
        lines.push(truncate(&summary, width));
        for l in &lines {
            let _ = writeln!(err, "{l}");
        }
        st.drawn = lines.len();
        let _ = err.flush();
    }

    fn json(&self, value: serde_json::Value) {
        let _ = writeln!(std::io::stderr().lock(), "@nix {value}");
    }
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}

fn truncate(s: &str, width: usize) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).collect();
    if clean.chars().count() <= width {
        clean
    } else {
        clean
            .chars()
            .take(width.saturating_sub(1))
            .chain(['…'])
            .collect()
    }
}

impl Observer for Progress {
    fn event(&self, event: Event<'_>) {
        match (self.format, event) {
            (
                _,
                Event::Planned {
                    builds,
                    fetches,
                    download_bytes,
                    nar_bytes,
                },
            ) => {
                self.state().total = builds.len();
                if self.format != LogFormat::InternalJson {
                    print_plan(builds, &self.store_dir);
                    print_fetches(fetches, download_bytes, nar_bytes, &self.store_dir);
                }
            }
            (_, Event::Substituting { path, url }) => {
                if self.format != LogFormat::InternalJson {
                    self.clear();
                    eprintln!(
                        "copying path '{}' from '{url}'...",
                        path.to_absolute(&self.store_dir)
                    );
                }
            }
            (_, Event::Substituted { .. }) => {}
            (_, Event::CacheWarning { message }) => {
                self.clear();
                eprintln!("warning: {message}");
            }
            (LogFormat::Raw, Event::Started { drv, .. }) => {
                eprintln!("building '{}'...", drv.to_absolute(&self.store_dir));
            }
            (LogFormat::Raw, Event::Log { line, .. }) => {
                if self.show_logs {
                    eprintln!("{line}");
                }
            }
            (LogFormat::Raw, Event::Finished { result, .. }) => {
                let mut st = self.state();
                match result {
                    Ok(_) => st.done += 1,
                    Err(_) => st.failed += 1,
                }
            }
            (LogFormat::Bar, Event::Started { id, drv, name }) => {
                let mut st = self.state();
                st.running.insert(
                    id,
                    Running {
                        name: name.to_owned(),
                        drv: drv.to_absolute(&self.store_dir),
                        started: Instant::now(),
                        last_line: String::new(),
                    },
                );
                self.draw(&mut st, true);
            }
            (LogFormat::Bar, Event::Log { id, line }) => {
                let mut st = self.state();
                if let Some(r) = st.running.get_mut(&id) {
                    r.last_line = line.trim().to_owned();
                }
                self.draw(&mut st, false);
            }
            (LogFormat::Bar, Event::Finished { id, result, .. }) => {
                let mut st = self.state();
                let r = st.running.remove(&id);
                match result {
                    Ok(_) => st.done += 1,
                    Err(_) => {
                        st.failed += 1;
                        if let Some(r) = r {
                            let mut err = std::io::stderr().lock();
                            Self::erase(&mut st, &mut err);
                            let _ = writeln!(err, "error: build of '{}' failed", r.drv);
                        }
                    }
                }
                self.draw(&mut st, true);
            }
            (LogFormat::InternalJson, Event::Started { id, drv, .. }) => {
                let drv = drv.to_absolute(&self.store_dir);
                self.json(serde_json::json!({
                    "action": "start", "id": id + 1, "level": 3, "parent": 0,
                    "text": format!("building '{drv}'"), "type": 105,
                    "fields": [drv, "", 1, 1],
                }));
            }
            (LogFormat::InternalJson, Event::Log { id, line }) => {
                self.json(serde_json::json!({
                    "action": "result", "id": id + 1, "type": 101, "fields": [line],
                }));
            }
            (LogFormat::InternalJson, Event::Finished { id, result, .. }) => {
                if let Err(e) = result {
                    self.json(serde_json::json!({
                        "action": "msg", "level": 0, "msg": format!("error: {e}"),
                    }));
                }
                self.json(serde_json::json!({"action": "stop", "id": id + 1}));
            }
            (_, Event::KeptBuildDir { path, .. }) => {
                self.clear();
                eprintln!("note: keeping build directory '{}'", path.display());
            }
        }
    }
}

/// Makes the `result` links of `nix-build`: `BASE` for the first derivation's `out`,
/// `BASE-<output>` for its other outputs, `BASE-2`, `BASE-2-dev`… for the next, each an
/// indirect garbage collector root. Returns the links made, in order.
pub fn result_links(
    store_root: &Path,
    base: &Path,
    results: &[BTreeMap<String, String>],
) -> anyhow::Result<Vec<PathBuf>> {
    let base = if base.is_absolute() {
        base.to_owned()
    } else {
        std::env::current_dir()?.join(base)
    };
    let mut links = Vec::new();
    for (i, outs) in results.iter().enumerate() {
        for (name, path) in outs {
            let mut link = base.as_os_str().to_owned();
            if i > 0 {
                link.push(format!("-{}", i + 1));
            }
            if name != "out" && !name.is_empty() {
                link.push(format!("-{name}"));
            }
            let link = PathBuf::from(link);
            crate::commands::instantiate::add_indirect_root(store_root, path, &link)?;
            links.push(link);
        }
    }
    Ok(links)
}
