//! `kiln os …` and `nixos-rebuild`: build a system configuration, switch a root to it, roll
//! back, list, delete and compare generations. The work is `kiln_os`'s; this module parses,
//! builds through the CLI's progress display and renders the typed results (the switch
//! report, the unit plan, generations).

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use kiln_os::build::Configuration;
use kiln_os::{Action, OsError, Outcome, SwitchReport, System};
use kiln_store::LocalStore;

use crate::cli::GlobalArgs;
use crate::legacy::common::{self, BuildOptions};

/// `kiln os` subcommands.
#[derive(Debug, Args)]
pub struct OsArgs {
    #[command(subcommand)]
    command: OsCommand,
}

/// Which system to act on.
#[derive(Debug, Args, Clone)]
pub struct RootArgs {
    /// The target system's root directory (its store is DIR/nix/store)
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

/// Which configuration to build.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArgs {
    /// The configuration file (default: <nixos-config> on the search path)
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Build `nixosConfigurations.HOST` of a flake (`.#web`)
    #[arg(long, value_name = "FLAKE#HOST", conflicts_with = "file")]
    pub flake: Option<String>,
    /// Add a search path entry (`nixos-config=FILE`, `kiln=DIR`, …)
    #[arg(short = 'I', long = "include")]
    pub include: Vec<String>,
    /// Take attribute NAME of the file: one file defining several hosts
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Show every frame of an evaluation error's trace
    #[arg(long)]
    pub show_trace: bool,
}

/// Arguments of the commands that build and then activate.
#[derive(Debug, Args)]
pub struct SwitchArgs {
    #[command(flatten)]
    root: RootArgs,
    #[command(flatten)]
    config: ConfigArgs,
    /// Print the report and wait for a yes before changing anything
    #[arg(long)]
    ask: bool,
    /// Act on the generation before the current one instead of building the configuration
    #[arg(long, conflicts_with_all = ["file", "host"])]
    rollback: bool,
}

#[derive(Debug, Subcommand)]
enum OsCommand {
    /// Build the configuration's toplevel, link it as ./result and print its path
    Build {
        #[command(flatten)]
        root: RootArgs,
        #[command(flatten)]
        config: ConfigArgs,
        /// Do not create the result link
        #[arg(long, alias = "no-link")]
        no_out_link: bool,
        /// The name of the result link
        #[arg(long, short = 'o', value_name = "LINK", default_value = "result")]
        out_link: PathBuf,
        /// Show what would be built, build nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Build, make a new generation, activate it and make it the default boot entry
    Switch(SwitchArgs),
    /// Build, make a new generation and make it the default boot entry, without activating
    Boot(SwitchArgs),
    /// Build and activate, without a new generation or boot entry
    Test(SwitchArgs),
    /// Build and print what a switch would change, changing nothing
    DryActivate(SwitchArgs),
    /// Switch back to the generation before the current one
    Rollback {
        #[command(flatten)]
        root: RootArgs,
        /// Print the report and wait for a yes before changing anything
        #[arg(long)]
        ask: bool,
    },
    /// List the system generations
    ListGenerations {
        #[command(flatten)]
        root: RootArgs,
    },
    /// Delete system generations: numbers, `old`, `Nd` (older than N days), `+N` (keep N)
    DeleteGenerations {
        #[command(flatten)]
        root: RootArgs,
        /// The generations to delete
        #[arg(required = true)]
        specs: Vec<String>,
    },
    /// Show what changed between two generations (default: the previous and the current)
    Diff {
        #[command(flatten)]
        root: RootArgs,
        /// The older generation
        from: Option<u64>,
        /// The newer generation (default: the current one)
        to: Option<u64>,
    },
    /// Print every option with its type, default, description and declarations, or one
    /// option's value (`networking.hostName`)
    Options {
        #[command(flatten)]
        config: ConfigArgs,
        /// Print the list as JSON (`loc`, `name`, `type`, `default`, `example`,
        /// `description`, `declarations`, `readOnly`)
        #[arg(long)]
        json: bool,
        /// The option whose value to print
        name: Option<String>,
    },
    /// Build the configuration as a qemu VM: a new generation of DIR/root, the disk images
    /// and the runner DIR/run-vm (printed)
    Vm(VmArgs),
}

/// Arguments of `kiln os vm`.
#[derive(Debug, Args)]
pub struct VmArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Where the VM's files go: its staging root, disk images and runner
    #[arg(long, value_name = "DIR", default_value = "kiln-vm")]
    dir: PathBuf,
    /// Boot the VM after building it (its console on stdout)
    #[arg(long)]
    run: bool,
    /// Boot the VM in DIR as it is, building nothing (what DIR/run-vm does)
    #[arg(long)]
    boot: bool,
    /// Boot generation N's entry once (a pick from the boot menu) instead of the default;
    /// boots without building unless --run is given
    #[arg(long, value_name = "N")]
    generation: Option<u64>,
    /// More qemu arguments
    #[arg(last = true, value_name = "QEMU-ARGS")]
    qemu_args: Vec<String>,
}

/// A build failure kept whole, so it is reported as the build commands report it.
#[derive(Debug)]
struct BuildFailure(anyhow::Error);

impl std::fmt::Display for BuildFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for BuildFailure {}

/// Builds through the common options' realisation (plan, progress, logs).
struct CliRealiser<'o>(&'o BuildOptions);

impl kiln_profile::Realiser for CliRealiser<'_> {
    fn realise(
        &self,
        store: &LocalStore,
        goals: &[kiln_realise::Goal],
    ) -> Result<Option<Vec<BTreeMap<String, String>>>, kiln_profile::RealiseFailure> {
        common::realise(store, goals, self.0).map_err(|e| Box::new(BuildFailure(e)) as _)
    }
}

/// An OS error as the CLI reports it: evaluation errors with their code frame, build failures
/// as they came, anything else with its cause chain.
pub fn error(e: OsError, show_trace: bool) -> anyhow::Error {
    match e {
        OsError::Session(e) => crate::evaluate::session_failure(*e, show_trace),
        OsError::Realise(e) => match e.downcast::<BuildFailure>() {
            Ok(b) => b.0,
            Err(e) => anyhow::anyhow!(e),
        },
        other => anyhow::Error::new(other),
    }
}

fn plain(e: OsError) -> anyhow::Error {
    error(e, false)
}

/// Opens the root, reporting an interrupted operation that was completed.
pub fn open(root: &Path) -> anyhow::Result<System> {
    let system = System::open(root).map_err(plain)?;
    if let Some(r) = system.recovered() {
        eprintln!(
            "completed an interrupted {} of {}{}",
            match r.action {
                Action::Switch => "switch",
                Action::Boot => "boot",
                Action::Test => "test",
            },
            r.toplevel,
            r.generation
                .map(|g| format!(" (generation {g})"))
                .unwrap_or_default()
        );
    }
    Ok(system)
}

/// What a build needs besides the configuration.
pub struct BuildContext {
    /// The common build options (`--option` pairs, `--dry-run`, log format).
    pub opts: BuildOptions,
}

/// Builds the configuration in the system's store; `None` for a dry run.
pub fn build_toplevel(
    system: &System,
    config: &ConfigArgs,
    ctx: &BuildContext,
) -> anyhow::Result<Option<kiln_formats::store_path::StorePath>> {
    let settings = crate::config::load(&ctx.opts.options)?;
    let host = crate::host();
    let eval = kiln_session::EvalConfig {
        settings: kiln_eval::EvalSettings {
            nix_path: kiln_session::search_path(&config.include, host.nix_path.as_deref()),
            ..settings.eval_settings()?
        },
        store: kiln_session::StoreMode::Write {
            root: system.root().to_owned(),
        },
        fetch: settings.fetch_settings()?,
        reporter: Some(std::sync::Arc::new(crate::report::StderrReporter)),
    };
    if let Some(flake) = &config.flake {
        return crate::commands::flake::os_build(
            eval,
            flake,
            config.host.as_deref(),
            &ctx.opts,
            system.store(),
        );
    }
    let source = match &config.file {
        Some(f) => Configuration::File(f.clone()),
        None if config
            .include
            .iter()
            .any(|i| i.starts_with("nixos-config="))
            || host
                .nix_path
                .as_deref()
                .is_some_and(|p| p.contains("nixos-config=")) =>
        {
            Configuration::SearchPath
        }
        None => return Err(plain(OsError::NoConfiguration)),
    };
    let cwd = std::env::current_dir()?;
    kiln_os::build::build(
        eval,
        system.store(),
        &CliRealiser(&ctx.opts),
        &source,
        config.host.as_deref(),
        &cwd,
    )
    .map_err(|e| error(e, config.show_trace))
}

fn context(global: &GlobalArgs, show_trace: bool, dry_run: bool) -> BuildContext {
    BuildContext {
        opts: BuildOptions {
            options: global.option.clone(),
            dry_run,
            show_trace,
            ..BuildOptions::default()
        },
    }
}

/// Runs `kiln os …`.
pub fn run(args: OsArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    match args.command {
        OsCommand::Build {
            root,
            config,
            no_out_link,
            out_link,
            dry_run,
        } => {
            let ctx = context(global, config.show_trace, dry_run);
            let system = open(&root.root)?;
            let link = (!no_out_link).then_some(out_link.as_path());
            build(&system, &config, &ctx, link)
        }
        OsCommand::Switch(a) => switch(global, a, Action::Switch),
        OsCommand::Boot(a) => switch(global, a, Action::Boot),
        OsCommand::Test(a) => switch(global, a, Action::Test),
        OsCommand::DryActivate(a) => dry_activate(global, &a),
        OsCommand::Rollback { root, ask } => rollback(&root.root, ask, Action::Switch),
        OsCommand::ListGenerations { root } => list_generations(&root.root),
        OsCommand::DeleteGenerations { root, specs } => {
            let system = open(&root.root)?;
            let gens = system.generations().map_err(plain)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let doomed = kiln_os::select_generations(&gens, &specs, now).map_err(plain)?;
            for n in system.delete_generations(&doomed).map_err(plain)? {
                eprintln!("removing system generation {n}");
            }
            Ok(())
        }
        OsCommand::Diff { root, from, to } => {
            let system = open(&root.root)?;
            let gens = system.generations().map_err(plain)?;
            let current = gens
                .iter()
                .find(|g| g.current)
                .map(|g| g.number)
                .ok_or_else(|| plain(OsError::NoGeneration))?;
            let to = to.unwrap_or(current);
            let from = match from {
                Some(f) => f,
                None => gens
                    .iter()
                    .rev()
                    .find(|g| g.number < to)
                    .map(|g| g.number)
                    .ok_or_else(|| plain(OsError::NoOlderGeneration(to)))?,
            };
            let report = system.diff(from, to).map_err(plain)?;
            print_report(&mut std::io::stdout().lock(), &report, system.root())?;
            Ok(())
        }
        OsCommand::Vm(a) => vm(global, a),
        OsCommand::Options { config, json, name } => {
            options(global, &config, json, name.as_deref())
        }
    }
}

/// Builds and prints the toplevel's path, linking it at `link`.
pub fn build(
    system: &System,
    config: &ConfigArgs,
    ctx: &BuildContext,
    link: Option<&Path>,
) -> anyhow::Result<()> {
    let Some(path) = build_toplevel(system, config, ctx)? else {
        return Ok(());
    };
    let abs = path.to_absolute(&system.store().location().store_dir);
    if let Some(link) = link {
        crate::progress::result_links(
            system.root(),
            link,
            &[BTreeMap::from([("out".to_owned(), abs.clone())])],
        )?;
    }
    let mut out = crate::output::stdout();
    writeln!(out, "{abs}")?;
    out.flush()?;
    Ok(())
}

/// Opens the root, builds the configuration and prints the report of switching to it on
/// stdout or stderr: the system and the toplevel's path (`None` for a dry run, which builds
/// nothing). The stream is locked only after the build, whose progress display writes to
/// stderr from another thread.
fn build_and_report(
    global: &GlobalArgs,
    a: &SwitchArgs,
    to_stdout: bool,
) -> anyhow::Result<Option<(System, kiln_formats::store_path::StorePath)>> {
    let ctx = context(global, a.config.show_trace, false);
    let system = open(&a.root.root)?;
    let Some(path) = build_toplevel(&system, &a.config, &ctx)? else {
        return Ok(None);
    };
    let new = system
        .toplevel(&path.to_absolute(&system.store().location().store_dir))
        .map_err(plain)?;
    let report = system.report(&new).map_err(plain)?;
    if to_stdout {
        print_report(&mut std::io::stdout().lock(), &report, system.root())?;
    } else {
        print_report(&mut std::io::stderr().lock(), &report, system.root())?;
    }
    Ok(Some((system, path)))
}

/// Builds and prints what a switch would change, changing nothing.
pub fn dry_activate(global: &GlobalArgs, a: &SwitchArgs) -> anyhow::Result<()> {
    build_and_report(global, a, true)?;
    Ok(())
}

/// Builds and applies `action` (`switch`, `boot`, `test`); with `--rollback`, applies it to
/// the previous generation instead.
pub fn switch(global: &GlobalArgs, a: SwitchArgs, action: Action) -> anyhow::Result<()> {
    if a.rollback {
        return rollback(&a.root.root, a.ask, action);
    }
    // The report first, so it is read before anything changes.
    let Some((system, path)) = build_and_report(global, &a, false)? else {
        return Ok(());
    };
    if a.ask {
        confirm()?;
    }
    let out = system.switch(&path, action).map_err(plain)?;
    print_outcome(&system, &out, action)
}

/// Applies `action` to the previous generation: `switch` rolls back, `boot` makes it the
/// default boot entry, `test` activates it without making it current.
pub fn rollback(root: &Path, ask: bool, action: Action) -> anyhow::Result<()> {
    let system = open(root)?;
    let prev = system.previous_generation().map_err(plain)?;
    let new = system.generation(prev).map_err(plain)?;
    let report = system.report(&new).map_err(plain)?;
    print_report(&mut std::io::stderr().lock(), &report, system.root())?;
    if ask {
        confirm()?;
    }
    let out = system.switch_to_generation(prev, action).map_err(plain)?;
    print_outcome(&system, &out, action)
}

fn confirm() -> anyhow::Result<()> {
    eprint!("Apply these changes? [y/N] ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if matches!(line.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        Err(anyhow::anyhow!("not applying the changes"))
    }
}

fn print_outcome(system: &System, out: &Outcome, action: Action) -> anyhow::Result<()> {
    let mut err = std::io::stderr().lock();
    for c in &out.activated.etc.conflicts {
        writeln!(
            err,
            "warning: not replacing /etc/{c}: Kiln did not make the file that is there"
        )?;
    }
    if action != Action::Boot && !out.activated.units_executed && !out.report.units.is_empty() {
        writeln!(
            err,
            "no running systemd in '{}': the unit plan above was not executed",
            system.root().display()
        )?;
    }
    match (action, out.generation) {
        (Action::Test, _) | (_, None) => writeln!(err, "activated {}", out.report.to)?,
        (Action::Boot, Some(n)) => {
            writeln!(err, "system generation {n} is the default boot entry")?
        }
        (Action::Switch, Some(n)) => writeln!(err, "switched to system generation {n}")?,
    }
    if let kiln_os::scripts::ScriptRun::Failed(status) = &out.activated.scripts {
        anyhow::bail!(
            "the activation script of {} failed ({status}): its output is above; \
             everything else of the activation is done",
            out.report.to
        );
    }
    Ok(())
}

fn size(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// Prints the report as `nvd` lays out packages, then `/etc`, units and the reboot verdict.
pub fn print_report(
    w: &mut dyn std::io::Write,
    r: &SwitchReport,
    _root: &Path,
) -> std::io::Result<()> {
    if let Some(from) = &r.from {
        writeln!(w, "<<< {from}")?;
    }
    writeln!(w, ">>> {}", r.to)?;
    if !r.changed.is_empty() {
        writeln!(w, "Version changes:")?;
        for c in &r.changed {
            writeln!(
                w,
                "[C]  {}  {} -> {}",
                c.name,
                c.from.join(", "),
                c.to.join(", ")
            )?;
        }
    }
    if !r.added.is_empty() {
        writeln!(w, "Added packages:")?;
        for (n, v) in &r.added {
            writeln!(w, "[A]  {n}  {}", v.join(", "))?;
        }
    }
    if !r.removed.is_empty() {
        writeln!(w, "Removed packages:")?;
        for (n, v) in &r.removed {
            writeln!(w, "[R]  {n}  {}", v.join(", "))?;
        }
    }
    let delta = r.closure_to as i64 - r.closure_from as i64;
    writeln!(
        w,
        "Closure size: {} -> {} ({}{})",
        size(r.closure_from),
        size(r.closure_to),
        if delta >= 0 { "+" } else { "-" },
        size(delta.unsigned_abs())
    )?;
    for (what, list) in [
        ("added", &r.etc_added),
        ("changed", &r.etc_changed),
        ("removed", &r.etc_removed),
    ] {
        if !list.is_empty() {
            writeln!(w, "/etc {what}: {}", list.join(" "))?;
        }
    }
    let u = &r.units;
    for (what, list) in [
        ("stop", &u.stop),
        ("start", &u.start),
        ("restart", &u.restart),
        ("reload", &u.reload),
        ("leave running (X-RestartIfChanged=false)", &u.skip),
    ] {
        if !list.is_empty() {
            writeln!(w, "units to {what}: {}", list.join(" "))?;
        }
    }
    if r.reboot_needed() {
        writeln!(w, "reboot needed: {} changed", r.reboot.join(", "))?;
    } else {
        writeln!(w, "no reboot needed")?;
    }
    Ok(())
}

/// Prints the generations as `nixos-rebuild list-generations` does (number, date, current).
pub fn list_generations(root: &Path) -> anyhow::Result<()> {
    let system = open(root)?;
    let mut out = crate::output::stdout();
    for g in system.generations().map_err(plain)? {
        writeln!(
            out,
            "{:4}   {}   {}{}",
            g.number,
            crate::commands::profile::local_time(g.created),
            g.target.display(),
            if g.current { "   (current)" } else { "" }
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Renders `nix/os`'s `optionsDoc` as text: per option its name, then indented its type,
/// default, example, declarations and description.
const OPTIONS_TEXT: &str = r#"doc: let
  len = builtins.stringLength;
  trim = s: if s != "" && builtins.substring (len s - 1) 1 s == "\n"
    then trim (builtins.substring 0 (len s - 1) s) else s;
  indent = s: builtins.replaceStrings [ "\n" ] [ "\n    " ] (trim s);
  block = o: o.name + "\n"
    + "    type: " + o.type + "\n"
    + (if o ? default then "    default: " + indent o.default + "\n" else "")
    + (if o ? example then "    example: " + indent o.example + "\n" else "")
    + "    declared in: " + builtins.concatStringsSep ", " o.declarations + "\n"
    + (if o.readOnly then "    read-only\n" else "")
    + (if trim o.description == "" then "" else "    " + indent o.description + "\n");
in builtins.concatStringsSep "\n" (map block doc)"#;

/// `kiln os options [--json] [NAME]`: every option (from `nix/os`'s `optionsDoc`) as text or
/// JSON, or the value of `config.NAME` (strict, Nix syntax).
fn options(
    global: &GlobalArgs,
    config: &ConfigArgs,
    json: bool,
    name: Option<&str>,
) -> anyhow::Result<()> {
    let settings = crate::config::load(&global.option)?;
    let source = match &config.file {
        Some(f) => Configuration::File(f.clone()),
        None => Configuration::SearchPath,
    };
    let cwd = std::env::current_dir()?;
    let (expr, output) = match name {
        Some(n) => (
            kiln_os::build::os_expr(
                &source,
                config.host.as_deref(),
                &cwd,
                &format!("config.{n}"),
            ),
            crate::evaluate::Output::Nix,
        ),
        None if json => (
            kiln_os::build::os_expr(&source, config.host.as_deref(), &cwd, "optionsJSON"),
            crate::evaluate::Output::Raw { legacy: false },
        ),
        None => (
            format!(
                "({OPTIONS_TEXT}) ({})",
                kiln_os::build::os_expr(&source, config.host.as_deref(), &cwd, "optionsDoc")
            ),
            crate::evaluate::Output::Raw { legacy: false },
        ),
    };
    let req = crate::evaluate::Request {
        source: kiln_session::Source::Expr(expr),
        attr_paths: Vec::new(),
        args: Vec::new(),
        apply: None,
        strict: true,
        output,
        include: config.include.clone(),
        eval: settings.eval_settings()?,
        show_trace: config.show_trace,
        store: None,
        fetch_root: None,
        fetch: settings.fetch_settings()?,
    };
    let mut bytes = crate::evaluate::run(req)?;
    if !bytes.ends_with(b"\n") {
        bytes.push(b'\n');
    }
    let mut out = crate::output::stdout();
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(())
}

/// `nixos-rebuild ACTION [flags]`: `switch`, `boot`, `test`, `build`, `dry-build`,
/// `dry-activate`, `list-generations`, with `--rollback`, `-I`, `--show-trace`, `--option`,
/// the common build flags, and Kiln's `--root DIR`, `--file FILE` and `--host NAME`.
pub fn nixos_rebuild(program: &str, args: &[String]) -> anyhow::Result<()> {
    let usage = |m: String| -> anyhow::Error {
        crate::output::UsageError {
            message: m,
            exit_code: 1,
        }
        .into()
    };
    let mut action: Option<String> = None;
    let mut opts = BuildOptions::default();
    let mut config = ConfigArgs::default();
    let mut root = PathBuf::from("/");
    let mut rollback = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = |flag: &str| {
            iter.next()
                .cloned()
                .ok_or_else(|| usage(format!("flag '{flag}' requires an argument")))
        };
        match arg.as_str() {
            "--help" | "-h" => {
                println!(
                    "Usage: {program} {{switch|boot|test|build|dry-build|dry-activate|list-generations}} \
                     [--rollback] [--root DIR] [--file FILE] [--host NAME] [-I PATH] [--show-trace] \
                     [--option NAME VALUE]"
                );
                return Ok(());
            }
            "--rollback" => rollback = true,
            "-I" | "--include" => config.include.push(value(arg)?),
            "--root" => root = PathBuf::from(value(arg)?),
            "--file" | "-f" => config.file = Some(PathBuf::from(value(arg)?)),
            "--host" => config.host = Some(value(arg)?),
            "--flake" => {
                return Err(usage(
                    "'--flake' is not supported yet: Kiln builds configurations from files \
                     (--file FILE or -I nixos-config=FILE)"
                        .into(),
                ))
            }
            "--show-trace" => {
                config.show_trace = true;
                opts.show_trace = true;
            }
            // Accepted for compatibility: Kiln has no channels to upgrade nor a separate
            // nix to build first.
            "--fast" | "--no-build-nix" | "--upgrade" | "--upgrade-all" | "--use-substitutes" => {}
            a if !a.starts_with('-') && action.is_none() => action = Some(a.to_owned()),
            a => {
                if !opts.take(a, &mut iter)? {
                    return Err(usage(format!("unknown flag '{a}'")));
                }
            }
        }
    }
    let Some(action) = action else {
        return Err(usage(
            "no action given (switch, boot, test, build, …)".into(),
        ));
    };
    let global = GlobalArgs {
        store: None,
        option: opts.options.clone(),
    };
    let ctx = |dry_run| context(&global, config.show_trace, dry_run);
    let switch_args = || SwitchArgs {
        root: RootArgs { root: root.clone() },
        config: config.clone(),
        ask: false,
        rollback,
    };
    match action.as_str() {
        "switch" => switch(&global, switch_args(), Action::Switch),
        "boot" => switch(&global, switch_args(), Action::Boot),
        "test" => switch(&global, switch_args(), Action::Test),
        "build" | "dry-build" => {
            let system = open(&root)?;
            let dry = action == "dry-build";
            build(
                &system,
                &config,
                &ctx(dry),
                (!dry).then_some(Path::new("result")),
            )
        }
        "dry-activate" => dry_activate(&global, &switch_args()),
        "list-generations" => list_generations(&root),
        other => Err(usage(format!("unknown action '{other}'"))),
    }
}

/// `kiln os vm`: builds the configuration with `<kiln/os/vm.nix>`, switches the VM's staging
/// root to it, and writes the images and the runner.
pub fn vm(global: &GlobalArgs, a: VmArgs) -> anyhow::Result<()> {
    let boot = kiln_os::vm::BootOptions {
        generation: a.generation,
        qemu_args: a.qemu_args.clone(),
    };
    if a.boot || (a.generation.is_some() && !a.run) {
        return vm_boot(&a.dir, &boot);
    }
    let ctx = context(global, a.config.show_trace, false);
    let root = a.dir.join("root");
    std::fs::create_dir_all(&root)?;
    let system = open(&root)?;
    let settings = crate::config::load(&ctx.opts.options)?;
    let host = crate::host();
    let eval = kiln_session::EvalConfig {
        settings: kiln_eval::EvalSettings {
            nix_path: kiln_session::search_path(&a.config.include, host.nix_path.as_deref()),
            ..settings.eval_settings()?
        },
        store: kiln_session::StoreMode::Write {
            root: system.root().to_owned(),
        },
        fetch: settings.fetch_settings()?,
        reporter: Some(std::sync::Arc::new(crate::report::StderrReporter)),
    };
    let source = match &a.config.file {
        Some(f) => Configuration::File(f.clone()),
        None => Configuration::SearchPath,
    };
    let cwd = std::env::current_dir()?;
    let Some(path) = kiln_os::vm::build(
        eval,
        system.store(),
        &CliRealiser(&ctx.opts),
        &source,
        a.config.host.as_deref(),
        &cwd,
    )
    .map_err(|e| error(e, a.config.show_trace))?
    else {
        return Ok(());
    };
    let out = system.switch(&path, Action::Switch).map_err(plain)?;
    if let Some(n) = out.generation {
        eprintln!("VM system generation {n}: {}", out.report.to);
    }
    let files = kiln_os::vm::make_images(&system, &a.dir, &std::env::current_exe()?)?;
    eprintln!(
        "images: {} ({} MiB of store paths), {} (kept across builds)",
        files.nix_image.display(),
        files.closure_bytes >> 20,
        files.persist_image.display()
    );
    let mut stdout = crate::output::stdout();
    writeln!(stdout, "{}", files.runner.display())?;
    stdout.flush()?;
    if a.run {
        vm_boot(&a.dir, &boot)?;
    }
    Ok(())
}

/// Boots the VM in `dir` (the runner's work: `DIR/run-vm` runs `kiln os vm --boot`), its
/// console on stdout, until the guest powers off.
fn vm_boot(dir: &Path, boot: &kiln_os::vm::BootOptions) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    kiln_os::vm::run(dir, boot, &mut stdout)?;
    Ok(())
}
