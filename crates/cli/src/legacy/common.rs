//! The build options `nix-build` and `nix-store --realise` share (Nix's "common options"),
//! and the realisation they both end in. Every setting of `kiln_session::settings` is also a
//! flag (`Setting::flag`): `--NAME VALUE`, `--NAME`/`--no-NAME` for booleans, and
//! `--extra-NAME VALUE` for lists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_realise::Goal;
use kiln_session::{Setting, SettingFlag};
use kiln_store::{LocalStore, Store as _};

use super::usage;
use crate::progress::{self, LogFormat, Progress};

/// What the common options asked for.
#[derive(Debug, Default)]
pub struct BuildOptions {
    /// `--option NAME VALUE` pairs and the flags that stand for options, flattened.
    pub options: Vec<String>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--check`.
    pub check: bool,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
    /// `-Q`/`--no-build-output`.
    pub quiet: bool,
    /// `--store DIR`.
    pub store: Option<PathBuf>,
    /// `--show-trace`.
    pub show_trace: bool,
}

fn value<'a>(iter: &mut impl Iterator<Item = &'a String>, flag: &str) -> anyhow::Result<String> {
    iter.next()
        .cloned()
        .ok_or_else(|| usage(format!("flag '{flag}' requires an argument")))
}

impl BuildOptions {
    /// Takes `arg` (and its values from `iter`) if it is a common option; `Ok(false)` if not.
    pub fn take<'a>(
        &mut self,
        arg: &str,
        iter: &mut impl Iterator<Item = &'a String>,
    ) -> anyhow::Result<bool> {
        let mut set = |name: &str, v: String| {
            self.options.push(name.to_owned());
            self.options.push(v);
        };
        match arg {
            "--option" => {
                let n = value(iter, arg)?;
                let v = value(iter, arg)?;
                set(&n, v);
            }
            "-j" | "--max-jobs" => set("max-jobs", value(iter, arg)?),
            "--cores" => set("cores", value(iter, arg)?),
            "--timeout" => set("timeout", value(iter, arg)?),
            "--max-silent-time" => set("max-silent-time", value(iter, arg)?),
            "-k" | "--keep-going" => set("keep-going", "true".into()),
            "-K" | "--keep-failed" => set("keep-failed", "true".into()),
            "--sandbox" => set("sandbox", "true".into()),
            "--no-sandbox" => set("sandbox", "false".into()),
            "--dry-run" => self.dry_run = true,
            "--check" => self.check = true,
            "-Q" | "--no-build-output" => self.quiet = true,
            "--log-format" => self.log_format = Some(LogFormat::parse(&value(iter, arg)?)?),
            "--store" => self.store = Some(super::nix_store::parse_store(&value(iter, arg)?)?),
            "--show-trace" => self.show_trace = true,
            "--no-show-trace" => self.show_trace = false,
            // Accepted for compatibility; Kiln has no substituters or remote builders yet, and
            // verbosity does not change what is printed.
            "--fallback" | "--no-fallback" | "--readonly-mode" | "--repair" | "-v"
            | "--verbose" | "--quiet" | "--debug" | "--no-substitute" | "--impure" | "-L"
            | "--print-build-logs" => {}
            // Every other setting of the table is a flag too, as Nix makes them.
            flag => match Setting::flag(flag) {
                Some(SettingFlag::Bool(s, on)) => set(s.name, on.to_string()),
                Some(SettingFlag::Set(s)) => set(s.name, value(iter, arg)?),
                // The configuration layer appends for the `extra-` prefix.
                Some(SettingFlag::Append(s)) => {
                    set(&format!("extra-{}", s.name), value(iter, arg)?)
                }
                None => return Ok(false),
            },
        }
        Ok(true)
    }

    /// The store root: `--store`, else `KILN_STORE`, else the default.
    pub fn store_root(&self) -> PathBuf {
        crate::host().store_root(self.store.as_deref())
    }
}

/// Realises `goals` with the common options, printing Nix's plan and build output (raw by
/// default, as the legacy commands do). Returns each goal's outputs as absolute paths, or
/// `None` for `--dry-run`.
pub fn realise(
    store: &LocalStore,
    goals: &[Goal],
    opts: &BuildOptions,
) -> anyhow::Result<Option<Vec<BTreeMap<String, String>>>> {
    let settings = crate::config::load(&opts.options)?;
    let build_settings = settings.build_settings()?;
    let store_dir = store.store_dir().to_owned();
    if opts.dry_run {
        let plan = kiln_realise::dry_run(store, goals, opts.check)?;
        progress::print_plan(&plan.to_build(), &store_dir);
        return Ok(None);
    }
    let format = opts.log_format.unwrap_or(LogFormat::Raw);
    let progress = Progress::new(format, !opts.quiet, &store_dir);
    let res = progress
        .run(|| kiln_realise::realise(store, goals, &build_settings, opts.check, &progress));
    progress.clear();
    let results = res?;
    Ok(Some(
        results
            .into_iter()
            .map(|outs| {
                outs.into_iter()
                    .map(|(k, p)| (k, p.to_absolute(&store_dir)))
                    .collect()
            })
            .collect(),
    ))
}

/// `nix-store --realise PATHS`: builds (or checks the validity of) each path and prints the
/// output paths, or the roots made with `--add-root`.
pub fn realise_paths(
    store_root: &Path,
    operands: &[String],
    opts: &BuildOptions,
    add_root: Option<&Path>,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let store = crate::commands::store::open_root(Some(store_root.to_owned()))?;
    let mut goals = Vec::new();
    for op in operands {
        // `drv!out,dev` is the legacy spelling of `drv^out,dev`.
        let arg = op.replacen('!', "^", 1);
        goals.push(kiln_realise::Goal::parse(&store, &arg)?);
    }
    let Some(results) = realise(&store, &goals, opts)? else {
        return Ok(());
    };
    let mut out = crate::output::stdout();
    let mut n = 0;
    for outs in &results {
        // Each goal's outputs in store-path order, as Nix prints them (a set of paths).
        let mut paths: Vec<_> = outs.values().collect();
        paths.sort();
        for path in paths {
            match add_root {
                Some(base) => {
                    n += 1;
                    let mut name = base.as_os_str().to_owned();
                    if n > 1 {
                        name.push(format!("-{n}"));
                    }
                    let name = PathBuf::from(name);
                    let name = if name.is_absolute() {
                        name
                    } else {
                        std::env::current_dir()?.join(name)
                    };
                    crate::commands::instantiate::add_indirect_root(store_root, path, &name)?;
                    writeln!(out, "{}", name.display())?;
                }
                None => writeln!(out, "{path}")?,
            }
        }
    }
    out.flush()?;
    Ok(())
}
