//! `kiln profile …` and the rendering of the profile engine (`kiln_profile`) that `nix-env`
//! shares: events printed as Nix prints them, generations with local dates, diffs, queries.
//! Everything else (manifests, user environments, generations) is in `kiln-profile`.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use kiln_profile::{Element, ProfileError, ProfileEvent, ProfileObserver, Realiser};
use kiln_store::LocalStore;
use serde_json::Value as Json;

use crate::cli::GlobalArgs;
use crate::legacy::common::{self, BuildOptions};

pub use kiln_profile::ProfileEnv;

/// Prints the engine's events on stderr, as `nix-env` does.
pub struct Printer;

impl ProfileObserver for Printer {
    fn event(&self, event: ProfileEvent) {
        match event {
            ProfileEvent::Installing { name } => eprintln!("installing '{name}'"),
            ProfileEvent::Uninstalling { name } => eprintln!("uninstalling '{name}'"),
            ProfileEvent::Upgrading { from, to } => eprintln!("upgrading '{from}' to '{to}'"),
            ProfileEvent::SettingFlag { name } => eprintln!("setting flag on '{name}'"),
            ProfileEvent::Switched { from, to } => {
                eprintln!("switching profile from version {from} to {to}")
            }
            ProfileEvent::Removed { number } => eprintln!("removing profile version {number}"),
            ProfileEvent::WouldRemove { number } => {
                eprintln!("would remove profile version {number}")
            }
            ProfileEvent::Restarting { profile } => eprintln!(
                "profile '{}' changed while we were busy; restarting",
                profile.display()
            ),
            ProfileEvent::NameCollision { skipped } => eprintln!(
                "warning: name collision in input Nix expressions, skipping '{}'",
                skipped.display()
            ),
        }
    }
}

/// A build failure kept whole, so the CLI reports it as before (exit codes included).
#[derive(Debug)]
struct BuildFailure(anyhow::Error);

impl std::fmt::Display for BuildFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for BuildFailure {}

/// Builds with the common options and the CLI's progress display.
pub struct CliRealiser<'o>(pub &'o BuildOptions);

impl Realiser for CliRealiser<'_> {
    fn realise(
        &self,
        store: &LocalStore,
        goals: &[kiln_realise::Goal],
    ) -> Result<Option<Vec<std::collections::BTreeMap<String, String>>>, kiln_profile::RealiseFailure>
    {
        common::realise(store, goals, self.0).map_err(|e| Box::new(BuildFailure(e)) as _)
    }
}

/// A profile error as the CLI reports it: evaluation errors rendered with their code frame,
/// build failures as they came, anything else with its cause chain.
pub fn error(e: ProfileError, show_trace: bool) -> anyhow::Error {
    match e {
        ProfileError::Session(e) => crate::evaluate::session_failure(*e, show_trace),
        ProfileError::Realise(e) => match e.downcast::<BuildFailure>() {
            Ok(b) => b.0,
            Err(e) => anyhow::anyhow!(e),
        },
        ProfileError::Manifest { file, source } => {
            error(*source, show_trace).context(format!("reading the manifest '{file}'"))
        }
        other => anyhow::Error::new(other),
    }
}

/// Opens the profile for a command: the store at `root`, the evaluation settings with the
/// `-I` entries and `NIX_PATH`.
pub fn open<'h>(
    root: PathBuf,
    profile: Option<PathBuf>,
    include: &[String],
    realiser: &'h CliRealiser<'h>,
) -> anyhow::Result<ProfileEnv<'h>> {
    let host = crate::host();
    let eval = kiln_session::EvalConfig {
        settings: kiln_eval::EvalSettings {
            nix_path: kiln_session::search_path(include, host.nix_path.as_deref()),
            ..kiln_eval::EvalSettings::default()
        },
        store: kiln_session::StoreMode::Write { root: root.clone() },
        fetch: crate::config::default_fetch_settings(),
        reporter: Some(std::sync::Arc::new(crate::report::StderrReporter)),
    };
    ProfileEnv::open(root, profile, host, eval, realiser, &Printer)
        .map_err(|e| error(e, realiser.0.show_trace))
}

/// Prints the generations as `nix-env --list-generations` does.
pub fn list_generations(env: &ProfileEnv<'_>) -> anyhow::Result<()> {
    let gens = env.generations().map_err(plain)?;
    let mut out = crate::output::stdout();
    for g in gens {
        writeln!(
            out,
            "{:4}   {}   {}",
            g.number,
            local_time(g.created),
            if g.current { "(current)" } else { "" }
        )?;
    }
    out.flush()?;
    Ok(())
}

/// [`error`] without `--show-trace`.
fn plain(e: ProfileError) -> anyhow::Error {
    error(e, false)
}

/// Prints, for each pair of consecutive generations, what changed in their closures
/// (`nix profile diff-closures`): `name: old → new, ±size` per package.
pub fn diff_closures(env: &ProfileEnv<'_>) -> anyhow::Result<()> {
    let diffs = env.diff_closures().map_err(plain)?;
    let mut out = crate::output::stdout();
    let mut first = true;
    for d in diffs {
        if !first {
            writeln!(out)?;
        }
        first = false;
        writeln!(out, "Version {} -> {}:", d.from, d.to)?;
        for c in d.changes {
            // Like Nix, sizes show only from 8 KiB of change.
            let show_delta = c.size_delta.abs() >= 8 * 1024;
            if !c.versions_changed() && !show_delta {
                continue;
            }
            let show = |v: &[String]| {
                if v.is_empty() {
                    "∅".to_owned()
                } else {
                    v.join(", ")
                }
            };
            let mut line = format!("{}: ", c.name);
            if c.versions_changed() {
                line.push_str(&format!("{} → {}", show(&c.removed), show(&c.added)));
            }
            if show_delta {
                if !line.ends_with(": ") {
                    line.push_str(", ");
                }
                line.push_str(&format!("{:+.1} KiB", c.size_delta as f64 / 1024.0));
            }
            writeln!(out, "  {line}")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Prints what changed from generation `from` to `to`, like nvd.
pub fn diff_generations(
    env: &ProfileEnv<'_>,
    from: Option<u64>,
    to: Option<u64>,
) -> anyhow::Result<()> {
    let d = env.diff_generations(from, to).map_err(plain)?;
    let mut out = crate::output::stdout();
    writeln!(out, "<<< {}", d.from_link.display())?;
    writeln!(out, ">>> {}", d.to_link.display())?;
    if !d.changed.is_empty() {
        writeln!(out, "Version changes:")?;
        for (i, c) in d.changed.iter().enumerate() {
            writeln!(
                out,
                "[U.]  #{}  {}  {} -> {}",
                i + 1,
                c.name,
                c.from.join(", "),
                c.to.join(", ")
            )?;
        }
    }
    for (title, tag, only) in [("Added", "A", &d.added), ("Removed", "R", &d.removed)] {
        if !only.is_empty() {
            writeln!(out, "{title} packages:")?;
            for (i, (n, v)) in only.iter().enumerate() {
                writeln!(out, "[{tag}.]  #{}  {n}  {}", i + 1, v.join(", "))?;
            }
        }
    }
    let (ca, cb) = (d.closure_from, d.closure_to);
    writeln!(
        out,
        "Closure size: {} -> {} ({} paths added, {} paths removed, delta {:+}, disk usage \
         {:+.1}KiB).",
        ca.paths,
        cb.paths,
        d.paths_added,
        d.paths_removed,
        cb.paths as i64 - ca.paths as i64,
        (cb.nar_size as f64 - ca.nar_size as f64) / 1024.0
    )?;
    out.flush()?;
    Ok(())
}

/// `-q`: prints the installed packages, with `--out-path` or as JSON.
pub fn query(env: &ProfileEnv<'_>, out_path: bool, json: bool) -> anyhow::Result<()> {
    let elems: Vec<Element> = env.query().map_err(plain)?;
    let mut out = crate::output::stdout();
    if json {
        let mut obj = serde_json::Map::new();
        for e in &elems {
            let (pname, version) = (e.pname(), e.version());
            let outputs: serde_json::Map<String, Json> = e
                .outputs
                .iter()
                .map(|(n, p)| {
                    (
                        n.clone(),
                        if out_path {
                            Json::String(p.clone())
                        } else {
                            Json::Null
                        },
                    )
                })
                .collect();
            obj.insert(
                pname.to_owned(),
                serde_json::json!({
                    "name": e.name,
                    "pname": pname,
                    "version": version,
                    "system": e.system,
                    "outputName": e.outputs.first().map(|o| o.0.as_str()).unwrap_or("out"),
                    "outputs": outputs,
                }),
            );
        }
        writeln!(out, "{}", Json::Object(obj))?;
    } else {
        let width = elems.iter().map(|e| e.name.len()).max().unwrap_or(0);
        for e in &elems {
            if out_path {
                let paths: Vec<&str> = e.outputs.iter().map(|o| o.1.as_str()).collect();
                let paths = if paths.len() == 1 {
                    paths[0].to_owned()
                } else {
                    e.outputs
                        .iter()
                        .map(|(n, p)| format!("{n}={p}"))
                        .collect::<Vec<_>>()
                        .join(";")
                };
                writeln!(out, "{:width$}  {paths}", e.name)?;
            } else {
                writeln!(out, "{}", e.name)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// A time as Nix prints a generation's date: `%Y-%m-%d %H:%M:%S` of `localtime_r`, in the
/// local time zone (`TZ`, else `/etc/localtime`); in UTC if the C library cannot say.
#[allow(unsafe_code)]
pub(crate) fn local_time(secs: i64) -> String {
    let t = secs as libc::time_t;
    // SAFETY: `tm` is plain old data (all zeros is a valid value) that `localtime_r` fills;
    // both pointers are valid for the duration of the call. The C library reads `TZ` (as
    // `tzset` does) on first use; Kiln never changes it.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return utc_time(secs);
        }
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        i64::from(tm.tm_year) + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// A time as `YYYY-MM-DD HH:MM:SS` in UTC.
fn utc_time(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Arguments of `kiln profile`.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The profile (default: the user's, under the store's state directory)
    #[arg(long, short = 'p', global = true, value_name = "PATH")]
    profile: Option<PathBuf>,
    #[command(subcommand)]
    command: ProfileCommand,
}

#[derive(Debug, Subcommand)]
enum ProfileCommand {
    /// Install packages: attributes of FILE (`-f FILE ATTR…`)
    Install {
        /// The file offering the packages
        #[arg(long, short = 'f', default_value = "default.nix")]
        file: PathBuf,
        /// Attribute paths of the packages
        #[arg(required = true)]
        attrs: Vec<String>,
        /// Add a search path entry for `<...>` lookups
        #[arg(short = 'I', long = "include")]
        include: Vec<String>,
    },
    /// Remove installed packages by name (`name`, `name-version` or `*`)
    Remove {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Replace installed packages by newer versions from FILE
    Upgrade {
        /// The file offering the packages
        #[arg(long, short = 'f', default_value = "default.nix")]
        file: PathBuf,
        /// Only these installed packages (names)
        names: Vec<String>,
    },
    /// List the installed packages and their store paths
    List,
    /// List the generations
    History,
    /// Make the previous generation current
    Rollback,
    /// Make generation N current
    SwitchGeneration { number: u64 },
    /// Delete non-current generations (all, or those older than `--older-than Nd`)
    WipeHistory {
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
        /// Only say what would be deleted
        #[arg(long)]
        dry_run: bool,
    },
    /// Show what changed in the closure between each pair of consecutive generations
    DiffClosures,
    /// Show the packages added, removed and changed between two generations (default: the
    /// previous and the current one), and the closure size change
    Diff {
        /// The older generation
        from: Option<u64>,
        /// The newer generation
        to: Option<u64>,
    },
}

/// Runs `kiln profile`.
pub fn run(args: ProfileArgs, global: &GlobalArgs, options: &[String]) -> anyhow::Result<()> {
    let root = global
        .store
        .clone()
        .unwrap_or_else(|| crate::host().default_root());
    let opts = BuildOptions {
        options: options.to_vec(),
        ..BuildOptions::default()
    };
    let include = match &args.command {
        ProfileCommand::Install { include, .. } => include.clone(),
        _ => Vec::new(),
    };
    let realiser = CliRealiser(&opts);
    let env = open(root, args.profile, &include, &realiser)?;
    let traced = |e| error(e, opts.show_trace);
    match args.command {
        ProfileCommand::Install { file, attrs, .. } => {
            let new = env.available(&file, &attrs).map_err(traced)?;
            env.install(new, false).map_err(traced)
        }
        ProfileCommand::Remove { names } => env.remove(&names).map_err(traced),
        ProfileCommand::Upgrade { file, names } => {
            let available = env.available(&file, &[]).map_err(traced)?;
            env.upgrade(&available, &names).map_err(traced)
        }
        ProfileCommand::List => query(&env, true, false),
        ProfileCommand::History => list_generations(&env),
        ProfileCommand::Rollback => env.rollback().map_err(traced),
        ProfileCommand::SwitchGeneration { number } => {
            env.switch_generation(number).map_err(traced)
        }
        ProfileCommand::WipeHistory {
            older_than,
            dry_run,
        } => {
            let spec = older_than.unwrap_or_else(|| "old".to_owned());
            env.delete_generations(&[spec], dry_run)
                .map(|_| ())
                .map_err(traced)
        }
        ProfileCommand::DiffClosures => diff_closures(&env),
        ProfileCommand::Diff { from, to } => diff_generations(&env, from, to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_utc_dates() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(1_795_000_000), "2026-11-18 11:06:40");
        assert_eq!(utc_time(951_782_400), "2000-02-29 00:00:00");
    }
}
