//! The build options `nix-build` and `nix-store --realise` share (Nix's "common options"),
//! and the realisation they both end in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_realise::Goal;
use kiln_store::{LocalStore, Store as _};

use super::usage;
use crate::building::{self, LogFormat, Progress};

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

/// Nix's settings that take a value, each also a flag `--NAME VALUE` on every legacy command
/// (and `--extra-NAME VALUE` for the list settings, which appends).
const VALUE_SETTINGS: &[&str] = &[
    "access-tokens",
    "allowed-impure-host-deps",
    "allowed-uris",
    "allowed-users",
    "build-dir",
    "build-hook",
    "build-poll-interval",
    "build-users-group",
    "builders",
    "connect-timeout",
    "cores",
    "diff-hook",
    "download-attempts",
    "experimental-features",
    "flake-registry",
    "gc-reserved-space",
    "hashed-mirrors",
    "http-connections",
    "log-lines",
    "max-build-log-size",
    "max-call-depth",
    "max-free",
    "max-jobs",
    "max-silent-time",
    "min-free",
    "min-free-check-interval",
    "narinfo-cache-negative-ttl",
    "narinfo-cache-positive-ttl",
    "netrc-file",
    "nix-path",
    "plugin-files",
    "post-build-hook",
    "pre-build-hook",
    "repeat",
    "sandbox-build-dir",
    "sandbox-dev-shm-size",
    "sandbox-paths",
    "secret-key-files",
    "ssl-cert-file",
    "stalled-download-timeout",
    "store",
    "substituters",
    "system",
    "extra-platforms",
    "system-features",
    "tarball-ttl",
    "timeout",
    "trusted-public-keys",
    "trusted-substituters",
    "trusted-users",
    "user-agent-suffix",
];

/// Nix's boolean settings: `--NAME` sets one, `--no-NAME` clears it.
const BOOL_SETTINGS: &[&str] = &[
    "abort-on-warn",
    "accept-flake-config",
    "allow-dirty",
    "allow-import-from-derivation",
    "allow-new-privileges",
    "allow-symlinked-store",
    "allow-unsafe-native-code-during-evaluation",
    "always-allow-substitutes",
    "auto-allocate-uids",
    "auto-optimise-store",
    "builders-use-substitutes",
    "compress-build-log",
    "eval-cache",
    "fallback",
    "filter-syscalls",
    "fsync-metadata",
    "http2",
    "keep-build-log",
    "keep-derivations",
    "keep-env-derivations",
    "keep-failed",
    "keep-going",
    "keep-outputs",
    "preallocate-contents",
    "print-missing",
    "pure-eval",
    "require-drop-supplementary-groups",
    "require-sigs",
    "restrict-eval",
    "run-diff-hook",
    "sandbox",
    "sandbox-fallback",
    "show-trace",
    "substitute",
    "trace-function-calls",
    "trace-verbose",
    "use-case-hack",
    "use-registries",
    "use-sqlite-wal",
    "warn-dirty",
];

/// What a `--FLAG` naming a setting means.
enum SettingFlag {
    /// `--NAME` or `--no-NAME` of a boolean setting.
    Bool(&'static str, bool),
    /// `--NAME VALUE` (or `--extra-NAME VALUE`, with the name kept whole).
    Value(String),
}

/// The setting a flag stands for, as Nix makes every setting a flag.
fn setting_flag(flag: &str) -> Option<SettingFlag> {
    let name = flag.strip_prefix("--")?;
    let lookup = |list: &'static [&'static str], n: &str| list.iter().copied().find(|s| *s == n);
    if let Some(s) = lookup(BOOL_SETTINGS, name) {
        return Some(SettingFlag::Bool(s, true));
    }
    if let Some(s) = name
        .strip_prefix("no-")
        .and_then(|n| lookup(BOOL_SETTINGS, n))
    {
        return Some(SettingFlag::Bool(s, false));
    }
    if let Some(s) = lookup(VALUE_SETTINGS, name) {
        return Some(SettingFlag::Value(s.to_owned()));
    }
    // `extra-NAME` appends to a list setting (the configuration layer knows the prefix).
    let extra = name.strip_prefix("extra-")?;
    lookup(VALUE_SETTINGS, extra)?;
    Some(SettingFlag::Value(name.to_owned()))
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
            flag => match setting_flag(flag) {
                Some(SettingFlag::Bool(name, value)) => set(name, value.to_string()),
                Some(SettingFlag::Value(name)) => set(&name, value(iter, arg)?),
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
    let settings = crate::config::load_settings(&opts.options)?;
    let build_settings = building::build_settings(&settings)?;
    let store_dir = store.store_dir().to_owned();
    if opts.dry_run {
        let plan = kiln_realise::dry_run(store, goals, opts.check)?;
        building::print_plan(&plan.to_build(), &store_dir);
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
        for path in outs.values() {
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
