//! The scheduler: runs the plan's builds in dependency order, up to `max-jobs` at once, each on
//! its own thread, and stops (or, with `keep-going`, goes on with what does not depend on the
//! failure) when one fails.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::Instant;

use kiln_cache::SubstEvent;
use kiln_formats::store_path::StorePath;
use kiln_store::LocalStore;

use crate::job::{self, Context, Outcome};
use crate::plan::{self, Goal, Plan};
use crate::{BuildError, BuildSettings};

/// What a realisation reports while it runs (to draw progress and logs).
#[derive(Debug)]
pub enum Event<'a> {
    /// The derivations that will be built and the paths that will be fetched, before
    /// anything starts.
    Planned {
        /// Their `.drv` paths, sorted.
        builds: &'a [&'a StorePath],
        /// The paths to fetch from binary caches, sorted.
        fetches: &'a [&'a StorePath],
        /// The bytes to download for them.
        download_bytes: u64,
        /// Their unpacked size.
        nar_bytes: u64,
    },
    /// A path's download from a binary cache began.
    Substituting {
        /// The path.
        path: &'a StorePath,
        /// The cache.
        url: &'a str,
    },
    /// A path was fetched from a binary cache.
    Substituted {
        /// The path.
        path: &'a StorePath,
    },
    /// Something worth a warning about the binary caches (one that cannot be opened, a
    /// narinfo that is not trusted).
    CacheWarning {
        /// The message.
        message: &'a str,
    },
    /// A build started (its outputs locked and still missing); `id` names it in later
    /// events. A build another process finished meanwhile only has `Finished`.
    Started {
        /// The build's number.
        id: usize,
        /// Its `.drv` path.
        drv: &'a StorePath,
        /// Its name.
        name: &'a str,
    },
    /// A line of a builder's output.
    Log {
        /// The build's number.
        id: usize,
        /// The line, without its newline.
        line: &'a str,
    },
    /// A failed build's directory was kept (`keep-failed`).
    KeptBuildDir {
        /// The build's number.
        id: usize,
        /// The directory.
        path: &'a Path,
    },
    /// A build ended.
    Finished {
        /// The build's number.
        id: usize,
        /// Its `.drv` path.
        drv: &'a StorePath,
        /// How it ended.
        result: Result<Outcome, &'a BuildError>,
    },
}

/// Receives a realisation's [`Event`]s, from any of its threads.
pub trait Observer: Sync {
    /// Called for each event.
    fn event(&self, event: Event<'_>);
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {
    fn event(&self, _: Event<'_>) {}
}

/// What went wrong in a realisation: every failure (several with `keep-going`).
#[derive(Debug)]
pub struct RealiseError {
    /// The failures, in the order they happened.
    pub failures: Vec<BuildError>,
}

impl std::fmt::Display for RealiseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.failures.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} builds failed:", many.len())?;
                for e in many {
                    write!(f, "\n{e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for RealiseError {}

impl From<BuildError> for RealiseError {
    fn from(e: BuildError) -> Self {
        RealiseError { failures: vec![e] }
    }
}

impl RealiseError {
    /// The exit status Nix's legacy commands use: 100 for a failed build, plus 1 for a time
    /// limit, 2 for a hash mismatch, 4 for a `--check` difference; 1 for other errors.
    pub fn exit_status(&self) -> i32 {
        let mut mask = 0;
        for e in &self.failures {
            match e {
                BuildError::BuilderFailed { .. }
                | BuildError::MissingOutput { .. }
                | BuildError::IllegalReferences { .. }
                | BuildError::DependencyFailed { .. } => mask |= 0x04,
                BuildError::TimedOut { .. } => mask |= 0x04 | 0x01,
                BuildError::HashMismatch { .. } => mask |= 0x04 | 0x02,
                BuildError::NotDeterministic { .. } => mask |= 0x08,
                _ => {}
            }
        }
        if mask == 0 {
            1
        } else {
            0x60 | mask
        }
    }
}

/// Works out what realising `goals` needs, without building anything (`--dry-run`).
pub fn dry_run(store: &LocalStore, goals: &[Goal], check: bool) -> Result<Plan, BuildError> {
    plan::plan(store, goals, check, None)
}

/// Tells the substituters' events to `observer` as realisation events.
fn cache_event(observer: &dyn Observer, e: SubstEvent<'_>) {
    match e {
        SubstEvent::Fetching { path, url } => observer.event(Event::Substituting { path, url }),
        SubstEvent::Fetched(path) => observer.event(Event::Substituted { path }),
        SubstEvent::CacheDown { url, why } => observer.event(Event::CacheWarning {
            message: &format!("binary cache '{url}' is not used: {why}"),
        }),
        SubstEvent::Skipped { path, url, why } => observer.event(Event::CacheWarning {
            message: &format!(
                "ignoring the substitute for '{}' from '{url}': {why}",
                path.name()
            ),
        }),
    }
}

/// Realises `goals`: builds what is missing and returns each goal's output paths (in the
/// goals' order, output name → path).
pub fn realise(
    store: &LocalStore,
    goals: &[Goal],
    settings: &BuildSettings,
    check: bool,
    observer: &dyn Observer,
) -> Result<Vec<BTreeMap<String, StorePath>>, RealiseError> {
    let subs = settings.substituters.as_deref().filter(|s| !s.is_empty());
    let observe = |e: SubstEvent<'_>| cache_event(observer, e);
    let substitution = subs.map(|subs| plan::Substitution {
        subs,
        observe: &observe,
    });
    let mut plan = plan::plan(store, goals, check, substitution)?;
    announce(&plan, observer);
    if let (Some(s), false) = (subs, plan.fetch.fetch.is_empty()) {
        if let Err(e) = s.fetch(store, &plan.fetch, &observe) {
            if !settings.fallback {
                return Err(BuildError::Substitute(e).into());
            }
            observer.event(Event::CacheWarning {
                message: &format!("{e}; building instead (fallback)"),
            });
            plan = plan::plan(store, goals, check, None)?;
            announce(&plan, observer);
        }
    }
    if plan.nodes.is_empty() {
        return Ok(plan.results);
    }
    if settings.max_jobs == 0 {
        return Err(BuildError::NoJobs.into());
    }
    run(store, &plan, settings, observer)?;
    Ok(plan.results)
}

/// Tells `observer` what the plan builds and fetches.
fn announce(plan: &Plan, observer: &dyn Observer) {
    let builds = plan.to_build();
    let mut fetches: Vec<&StorePath> = plan.fetch.fetch.iter().map(|s| &s.info.path).collect();
    fetches.sort();
    observer.event(Event::Planned {
        builds: &builds,
        fetches: &fetches,
        download_bytes: plan.fetch.download_bytes(),
        nar_bytes: plan.fetch.nar_bytes(),
    });
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Done,
    Failed,
}

fn run(
    store: &LocalStore,
    plan: &Plan,
    settings: &BuildSettings,
    observer: &dyn Observer,
) -> Result<(), RealiseError> {
    let cancel = AtomicBool::new(false);
    let cx = Context {
        store,
        settings,
        observer,
        cancel: &cancel,
    };
    let n = plan.nodes.len();
    let mut state = vec![State::Waiting; n];
    let mut missing: Vec<usize> = plan.nodes.iter().map(|nd| nd.deps.len()).collect();
    // Ready nodes, built in the plan's (depth-first) order.
    let mut ready: std::collections::BTreeSet<usize> =
        (0..n).filter(|&i| missing[i] == 0).collect();
    let mut failures = Vec::new();
    let mut running = 0;
    let mut stopping = false;
    let _started = Instant::now();

    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, Result<Outcome, BuildError>)>();
        loop {
            while !stopping && running < settings.max_jobs {
                let Some(i) = ready.pop_first() else { break };
                state[i] = State::Running;
                running += 1;
                let node = &plan.nodes[i];
                let tx = tx.clone();
                let cx = &cx;
                scope.spawn(move || {
                    let res = job::build(cx, i, node);
                    let _ = tx.send((i, res));
                });
            }
            if running == 0 {
                break;
            }
            let Ok((i, res)) = rx.recv() else { break };
            running -= 1;
            let node = &plan.nodes[i];
            observer.event(Event::Finished {
                id: i,
                drv: &node.drv_path,
                result: res.as_ref().copied(),
            });
            match res {
                Ok(_) => {
                    state[i] = State::Done;
                    for &d in &node.dependents {
                        missing[d] -= 1;
                        if missing[d] == 0 && state[d] == State::Waiting {
                            ready.insert(d);
                        }
                    }
                }
                Err(e) => {
                    state[i] = State::Failed;
                    // A build cancelled because of another failure is not a failure of its own.
                    let cancelled = stopping && matches!(e, BuildError::Setup { .. });
                    if !cancelled {
                        failures.push(e);
                    }
                    // Everything depending on it fails too (without being reported alone).
                    let mut todo = node.dependents.clone();
                    while let Some(d) = todo.pop() {
                        if state[d] == State::Waiting {
                            state[d] = State::Failed;
                            ready.remove(&d);
                            todo.extend(plan.nodes[d].dependents.iter().copied());
                        }
                    }
                    if !settings.keep_going {
                        stopping = true;
                        cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        }
    });
    if failures.is_empty() {
        Ok(())
    } else {
        Err(RealiseError { failures })
    }
}
