//! `kiln collect-garbage` (and the garbage collection shared with `kiln store gc`,
//! `nix-store --gc` and `nix-collect-garbage`): old profile generations, then unreachable
//! store paths, reported in Nix's words.
//!
//! Progress goes to stderr as Nix 2.8 prints it (`finding garbage collector roots...`,
//! `deleting '…'`, …) and the summary to stdout (`N store paths deleted, X MiB freed`). The
//! settings `keep-derivations` (default true) and `keep-outputs` (default false) come from the
//! configuration and `--option`.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use kiln_session::Config;
use kiln_store::profile::{find_profiles, parse_age, Profile};
use kiln_store::{GcAction, GcEvent, GcResults, LocalStore, RootNotice, Store as _};

use crate::cli::GlobalArgs;

#[derive(Debug, Args)]
pub struct CollectGarbageArgs {
    /// Delete every generation of every profile except the current one first
    #[arg(short = 'd', long = "delete-old")]
    delete_old: bool,
    /// Delete the generations older than AGE (such as 30d) first, except the current one and
    /// the one that was current then
    #[arg(long, value_name = "AGE")]
    delete_older_than: Option<String>,
    /// Only say which generations would be deleted; collect nothing
    #[arg(long)]
    dry_run: bool,
    /// Stop after freeing more than SIZE bytes (suffixes K, M, G, T)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_freed: Option<u64>,
}

pub fn run(args: CollectGarbageArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let settings = crate::config::load(&global.option)?;
    let store = crate::commands::store::open_store(global)?;
    let age = match &args.delete_older_than {
        Some(spec) => Some(parse_age(spec)?),
        None => None,
    };
    collect(
        &store,
        &settings,
        args.delete_old || age.is_some(),
        age,
        args.dry_run,
        args.max_freed,
    )
}

/// What `nix-collect-garbage` does: removes old generations of every profile under
/// `<state>/profiles` when asked (`age` in seconds for `--delete-older-than`), then, unless
/// `dry_run`, collects garbage.
pub fn collect(
    store: &LocalStore,
    settings: &Config,
    remove_old: bool,
    age: Option<i64>,
    dry_run: bool,
    max_freed: Option<u64>,
) -> anyhow::Result<()> {
    if remove_old {
        let cutoff = age.map(|secs| now() - secs);
        let profiles = store.location().state_dir().join("profiles");
        for path in find_profiles(&profiles)? {
            eprintln!("removing old generations of profile {}", path.display());
            let profile = Profile::new(&path);
            let removed = match cutoff {
                Some(t) => profile.delete_older_than(t, dry_run),
                None => profile.delete_old(dry_run),
            }
            .with_context(|| format!("removing old generations of '{}'", path.display()))?;
            for n in removed {
                if dry_run {
                    eprintln!("would remove profile version {n}");
                } else {
                    eprintln!("removing profile version {n}");
                }
            }
        }
    }
    if dry_run {
        return Ok(());
    }
    let mut options = settings.gc_options(GcAction::DeleteDead)?;
    if let Some(m) = max_freed {
        options.max_freed = m;
    }
    let res = store.collect_garbage(&options, &mut Progress::default().sink())?;
    print_freed(&res)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `nix-store --delete` and `kiln store delete`: deletes `paths` unless something keeps one
/// alive (a root, or a referrer outside `paths`; with `ignore_liveness` only the latter and
/// temporary roots), printing Nix 2.8's progress and summary (also after a refusal, as Nix
/// does); a path still alive then fails with Nix's message.
pub fn delete_paths(
    store: &LocalStore,
    settings: &Config,
    paths: &BTreeSet<kiln_formats::store_path::StorePath>,
    ignore_liveness: bool,
) -> anyhow::Result<()> {
    let gc = settings.gc_options(GcAction::DeleteDead)?;
    let options = kiln_store::DeleteOptions {
        ignore_liveness,
        keep_derivations: gc.keep_derivations,
        keep_outputs: gc.keep_outputs,
    };
    let outcome = store.delete_paths(paths, &options, &mut Progress::default().sink())?;
    print_freed(&outcome.results)?;
    match outcome.alive {
        Some(p) => anyhow::bail!(
            "Cannot delete path '{}' since it is still alive. To find out why, use: \
             nix-store --query --roots",
            p.to_absolute(store.store_dir())
        ),
        None => Ok(()),
    }
}

/// A collection's progress on stderr: `deleting '…'` lines are gathered into writes of up to
/// 32 KiB (thousands of paths, one system call each, were a tenth of a collection's system
/// time); any other line, and the end (even by an error), writes them out first.
#[derive(Default)]
pub struct Progress {
    pending: Vec<u8>,
}

impl Progress {
    /// The callback to hand to the collector.
    pub fn sink(&mut self) -> impl FnMut(GcEvent) + '_ {
        |event| self.event(event)
    }

    fn event(&mut self, event: GcEvent) {
        let deleting = matches!(event, GcEvent::Deleting(_));
        self.pending.extend_from_slice(event_line(event).as_bytes());
        if !deleting || self.pending.len() >= 32 * 1024 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let _ = std::io::stderr().write_all(&self.pending);
            self.pending.clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Prints a collection's progress to stderr as Nix 2.8 words it, one write per line.
pub fn print_event(event: GcEvent) {
    let _ = std::io::stderr().write_all(event_line(event).as_bytes());
}

/// A progress line as Nix 2.8 words it, with its newline.
fn event_line(event: GcEvent) -> String {
    let line = match event {
        GcEvent::FindingRoots => "finding garbage collector roots...".to_owned(),
        GcEvent::Root(RootNotice::RemovedStaleLink { link, target }) => format!(
            "removing stale link from '{}' to '{}'",
            link.display(),
            target.display()
        ),
        GcEvent::Root(RootNotice::InvalidRoot { link, target }) => format!(
            "skipping invalid root from '{}' to '{target}'",
            link.display()
        ),
        GcEvent::Root(RootNotice::Unreadable(path)) => {
            format!("cannot read potential root '{}'", path.display())
        }
        GcEvent::Root(RootNotice::RemovedStaleTempRoots(path)) => {
            format!("removing stale temporary roots file '{}'", path.display())
        }
        GcEvent::DeletingGarbage => "deleting garbage...".to_owned(),
        GcEvent::DeterminingLiveness => "determining live/dead paths...".to_owned(),
        GcEvent::Deleting(path) => format!("deleting '{path}'"),
        GcEvent::LimitReached(n) => format!("deleted more than {n} bytes; stopping"),
        GcEvent::DeletingUnusedLinks => "deleting unused links...".to_owned(),
        GcEvent::LinkSavings(bytes) => format!(
            "note: currently hard linking saves {:.2} MiB",
            bytes as f64 / (1024.0 * 1024.0)
        ),
    };
    format!("{line}\n")
}

/// Prints Nix's summary line to stdout.
pub fn print_freed(res: &GcResults) -> anyhow::Result<()> {
    let mut out = crate::output::stdout();
    writeln!(
        out,
        "{} store paths deleted, {:.2} MiB freed",
        res.paths.len(),
        res.bytes_freed as f64 / (1024.0 * 1024.0)
    )?;
    out.flush()?;
    Ok(())
}

/// Prints the paths of a dry run or `--print-live`, one per line, sorted.
pub fn print_paths(paths: &BTreeSet<String>) -> anyhow::Result<()> {
    let mut out = crate::output::stdout();
    for p in paths {
        writeln!(out, "{p}")?;
    }
    out.flush()?;
    Ok(())
}

/// Prints every root as `LINK -> PATH`, sorted by link (`nix-store --gc --print-roots`).
pub fn print_roots(store: &LocalStore) -> anyhow::Result<()> {
    let roots = store.find_roots(false, &mut |n| print_event(GcEvent::Root(n)))?;
    let mut pairs = BTreeSet::new();
    for (path, links) in &roots {
        for link in links {
            pairs.insert((link.clone(), path.to_absolute(store.store_dir())));
        }
    }
    let mut out = crate::output::stdout();
    for (link, path) in pairs {
        writeln!(out, "{link} -> {path}")?;
    }
    out.flush()?;
    Ok(())
}

/// Parses a byte count with an optional unit suffix: K, M, G or T (powers of 1024), as Nix's
/// `--max-freed` takes it.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, shift) = match s.as_bytes().last() {
        Some(b'K') => (&s[..s.len() - 1], 10),
        Some(b'M') => (&s[..s.len() - 1], 20),
        Some(b'G') => (&s[..s.len() - 1], 30),
        Some(b'T') => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not an integer"))?;
    // Nix clamps a negative limit to 0.
    let n = n.max(0) as u64;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// Resolves the store root of a legacy command (`--store DIR`, else `KILN_STORE`).
pub fn legacy_root(root: Option<PathBuf>) -> Option<PathBuf> {
    root.or_else(|| crate::host().kiln_store.clone())
}

/// Used by `kiln store gc`: a dry run prints the dead paths, otherwise they are deleted.
pub fn store_gc(
    store: &LocalStore,
    settings: &Config,
    dry_run: bool,
    max_freed: Option<u64>,
) -> anyhow::Result<()> {
    let action = if dry_run {
        GcAction::ReturnDead
    } else {
        GcAction::DeleteDead
    };
    let mut options = settings.gc_options(action)?;
    if let Some(m) = max_freed {
        options.max_freed = m;
    }
    let res = store.collect_garbage(&options, &mut Progress::default().sink())?;
    if dry_run {
        print_paths(&res.paths)
    } else {
        print_freed(&res)
    }
}
