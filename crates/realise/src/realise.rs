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

/// What went wrong in a realisation: the errors Nix prints, in its order (failures builds
/// still waited for as they happened, then the goals'; several with `keep-going`), the last
/// being the one Nix exits with (maybe "build of '…', '…' failed").
#[derive(Debug)]
pub struct RealiseError {
    /// The failures, in the order Nix reports them.
    pub failures: Vec<BuildError>,
}

/// One error a line (or more), each after the first starting with `error: ` as Nix prints
/// them (the caller writes the first one's).
impl std::fmt::Display for RealiseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str("\nerror: ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
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
    /// limit, 2 for a hash mismatch, 4 for a `--check` difference; 1 for other errors (the
    /// failures that only follow from others, a dependency's or a summary, add nothing).
    pub fn exit_status(&self) -> i32 {
        let mut mask = 0;
        for e in &self.failures {
            match e {
                BuildError::BuilderFailed { .. }
                | BuildError::MissingOutput { .. }
                | BuildError::IllegalReferences { .. } => mask |= 0x04,
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
    let mut failed = Failures::new(
        plan,
        kiln_store::Store::store_dir(store),
        settings.keep_going,
    );
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
                        if missing[d] == 0
                            && state[d] == State::Waiting
                            && !failed.inputs_done(d, &mut state, &mut missing, &mut ready)
                        {
                            ready.insert(d);
                        }
                    }
                }
                Err(e) => {
                    // A build cancelled because of another failure is not a failure of its own.
                    let cancelled = stopping && matches!(e, BuildError::Setup { .. });
                    if cancelled {
                        state[i] = State::Failed;
                    } else {
                        failed.fail(i, e, &mut state, &mut missing, &mut ready);
                    }
                    if !settings.keep_going {
                        stopping = true;
                        cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        }
    });
    let failures = failed.summary(&state);
    if failures.is_empty() {
        Ok(())
    } else {
        Err(RealiseError { failures })
    }
}

/// How failures spread and are reported, as in Nix's worker: a failed build's error is
/// printed at once when builds still wait for it, kept for the end when it is a goal, and
/// otherwise dropped; each waiting build then fails with "N dependencies of derivation … failed
/// to build" (at once, N = 1, without `keep-going`; once all its inputs are done with it). A
/// failed goal without `keep-going` stops everything, and goals that did not build are summed
/// up at the end ("build of '…', '…' failed") unless exactly one failed with its own error.
struct Failures<'p> {
    plan: &'p Plan,
    store_dir: &'p str,
    keep_going: bool,
    /// Failed inputs seen, per node.
    n_failed: Vec<usize>,
    /// Whether a node stopped waiting for its inputs (woken by a failure).
    woken: Vec<bool>,
    /// Whether a node builds a goal.
    is_goal: Vec<bool>,
    /// The goals' own errors, kept for the end.
    goal_errors: Vec<Option<BuildError>>,
    /// What has been printed so far (in order).
    printed: Vec<BuildError>,
    /// A goal failed without `keep-going`: nothing more is reported.
    stopped: bool,
}

impl<'p> Failures<'p> {
    fn new(plan: &'p Plan, store_dir: &'p str, keep_going: bool) -> Self {
        let n = plan.nodes.len();
        let mut is_goal = vec![false; n];
        for &g in &plan.goal_nodes {
            is_goal[g] = true;
        }
        Failures {
            plan,
            store_dir,
            keep_going,
            n_failed: vec![0; n],
            woken: vec![false; n],
            is_goal,
            goal_errors: (0..n).map(|_| None).collect(),
            printed: Vec::new(),
            stopped: false,
        }
    }

    /// Whether node `d` still waits for its inputs.
    fn waits_for(&self, d: usize, state: &[State]) -> bool {
        state[d] == State::Waiting && !self.woken[d]
    }

    /// Node `i` failed with `error`: report it and fail what waits for it, as Nix does.
    fn fail(
        &mut self,
        i: usize,
        error: BuildError,
        state: &mut [State],
        missing: &mut [usize],
        ready: &mut std::collections::BTreeSet<usize>,
    ) {
        let mut queue = std::collections::VecDeque::from([(i, error)]);
        while let Some((i, error)) = queue.pop_front() {
            state[i] = State::Failed;
            if self.stopped {
                return;
            }
            let node = &self.plan.nodes[i];
            let mut waiters: Vec<usize> = node
                .dependents
                .iter()
                .copied()
                .filter(|&d| self.waits_for(d, state))
                .collect();
            waiters.sort_by(|&a, &b| {
                self.plan.nodes[a]
                    .drv_path
                    .cmp(&self.plan.nodes[b].drv_path)
            });
            waiters.dedup();
            if !waiters.is_empty() {
                self.printed.push(error);
            } else if self.is_goal[i] {
                self.goal_errors[i] = Some(error);
            }
            if self.is_goal[i] && !self.keep_going {
                self.stopped = true;
                return;
            }
            for d in waiters {
                self.n_failed[d] += 1;
                missing[d] -= 1;
                if !self.keep_going || missing[d] == 0 {
                    self.woken[d] = true;
                    ready.remove(&d);
                    queue.push_back((d, self.dependency_failed(d)));
                }
            }
        }
    }

    /// Node `d`'s inputs are all done: whether it fails because some of them did (else it is
    /// ready to build).
    fn inputs_done(
        &mut self,
        d: usize,
        state: &mut [State],
        missing: &mut [usize],
        ready: &mut std::collections::BTreeSet<usize>,
    ) -> bool {
        if self.n_failed[d] == 0 {
            return false;
        }
        self.woken[d] = true;
        let e = self.dependency_failed(d);
        self.fail(d, e, state, missing, ready);
        true
    }

    fn dependency_failed(&self, d: usize) -> BuildError {
        BuildError::DependencyFailed {
            drv: self.plan.nodes[d].drv_path.to_absolute(self.store_dir),
            count: self.n_failed[d],
        }
    }

    /// Everything to report, in order: what was printed as it happened, then the goals'
    /// errors (Nix's `buildPaths`).
    fn summary(self, state: &[State]) -> Vec<BuildError> {
        let mut res = self.printed;
        let mut first = None;
        let mut failed = std::collections::BTreeSet::new();
        let mut goal_errors = self.goal_errors;
        // Nix's worker keeps its goals ordered by key: the derivation's name, then its path.
        let mut goals = self.plan.goal_nodes.clone();
        let nodes = &self.plan.nodes;
        goals.sort_by(|&a, &b| {
            (&nodes[a].name, &nodes[a].drv_path).cmp(&(&nodes[b].name, &nodes[b].drv_path))
        });
        for g in goals {
            if let Some(e) = goal_errors[g].take() {
                if first.is_none() {
                    first = Some(e);
                } else {
                    res.push(e);
                }
            }
            if state[g] != State::Done {
                failed.insert(&self.plan.nodes[g].drv_path);
            }
        }
        match first {
            Some(e) if failed.len() == 1 => res.push(e),
            first => {
                res.extend(first);
                if !failed.is_empty() {
                    res.push(BuildError::BuildsFailed {
                        drvs: failed
                            .into_iter()
                            .map(|p| p.to_absolute(self.store_dir))
                            .collect(),
                    });
                }
            }
        }
        res
    }
}
