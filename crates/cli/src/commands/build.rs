//! `kiln build`: realise derivations and print their output paths.
//!
//! What to build: a file (`-f FILE` or a positional path that is not in the store; `default.nix`
//! when nothing is given) or an expression (`-E`), with `-A` attribute paths and
//! `--arg`/`--argstr`, whose derivations are instantiated first; or store paths given directly
//! (`/nix/store/…drv^out`, `^*`, a `.drv` alone for all outputs, any other store path). Each
//! output of each derivation gets a `result` link (`result-<output>`, `result-2`…), an indirect
//! garbage collector root, unless `--no-link`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use kiln_realise::Goal;

use crate::cli::GlobalArgs;
use crate::evaluate::{self, AutoArg, Output, Request, Source};
use crate::progress::{self, LogFormat, Progress};

/// Arguments of `kiln build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Store paths to realise (`/nix/store/…drv^out`), or a file to evaluate
    installables: Vec<String>,
    /// Evaluate this file
    #[arg(long, short = 'f', conflicts_with = "expr")]
    file: Option<PathBuf>,
    /// Evaluate this expression
    #[arg(long, short = 'E')]
    expr: Option<String>,
    /// Select an attribute of the result (`a.b.0`); repeatable
    #[arg(long = "attr", short = 'A')]
    attr: Vec<String>,
    /// Pass NAME = EXPR to a function the expression evaluates to
    #[arg(long, num_args = 2, value_names = ["NAME", "EXPR"])]
    arg: Vec<String>,
    /// Pass NAME = STRING to a function the expression evaluates to
    #[arg(long, num_args = 2, value_names = ["NAME", "STRING"])]
    argstr: Vec<String>,
    /// Add a search path entry (`nixpkgs=/path` or `/path`) for `<...>` lookups
    #[arg(short = 'I', long = "include")]
    include: Vec<String>,
    /// Show what would be built, build nothing
    #[arg(long)]
    dry_run: bool,
    /// Rebuild the derivations and compare with the existing outputs (non-determinism)
    #[arg(long)]
    check: bool,
    /// Keep the build directory of failed builds
    #[arg(long, short = 'K')]
    keep_failed: bool,
    /// Keep building what does not depend on a failed build
    #[arg(long, short = 'k')]
    keep_going: bool,
    /// How many builds may run at once (a number or `auto`)
    #[arg(long, short = 'j', value_name = "N")]
    max_jobs: Option<String>,
    /// NIX_BUILD_CORES for each build (0: all cores)
    #[arg(long, value_name = "N")]
    cores: Option<String>,
    /// Kill builds that run longer than this many seconds
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<String>,
    /// Kill builds that print nothing for this many seconds
    #[arg(long, value_name = "SECONDS")]
    max_silent_time: Option<String>,
    /// Do not create result links
    #[arg(long, alias = "no-out-link")]
    no_link: bool,
    /// The name of the result link
    #[arg(
        long = "out-link",
        short = 'o',
        value_name = "LINK",
        default_value = "result"
    )]
    out_link: PathBuf,
    /// How to show progress: bar (default on a terminal), raw, internal-json
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    /// Print every line of the builders' output (raw mode)
    #[arg(long, short = 'L')]
    print_build_logs: bool,
    /// Show every frame of an evaluation error's trace
    #[arg(long)]
    show_trace: bool,
}

/// Runs `kiln build`.
pub fn run(args: BuildArgs, global: &GlobalArgs, options: &[String]) -> anyhow::Result<()> {
    let mut options = options.to_vec();
    let mut set = |name: &str, v: Option<&str>| {
        if let Some(v) = v {
            options.push(name.to_owned());
            options.push(v.to_owned());
        }
    };
    set("max-jobs", args.max_jobs.as_deref());
    set("cores", args.cores.as_deref());
    set("timeout", args.timeout.as_deref());
    set("max-silent-time", args.max_silent_time.as_deref());
    set("keep-failed", args.keep_failed.then_some("true"));
    set("keep-going", args.keep_going.then_some("true"));
    let settings = crate::config::load(&options)?;
    let root = global
        .store
        .clone()
        .unwrap_or_else(|| crate::host().default_root());

    let store_dir = kiln_store::StoreLocation::new(&root).store_dir;
    let (store_args, files): (Vec<String>, Vec<String>) = args
        .installables
        .into_iter()
        .partition(|a| a.starts_with(&format!("{store_dir}/")));
    let (flakes, files): (Vec<String>, Vec<String>) = files
        .into_iter()
        .partition(|a| crate::commands::flake::is_installable(a));
    let mut sources = Vec::new();
    if let Some(e) = args.expr {
        sources.push(Source::Expr(e));
    }
    if let Some(f) = args.file {
        sources.push(Source::File(f));
    }
    sources.extend(files.into_iter().map(|f| Source::File(f.into())));
    if sources.is_empty() && store_args.is_empty() && flakes.is_empty() {
        sources.push(Source::File("default.nix".into()));
    }

    let mut drvs = Vec::new();
    for f in &flakes {
        drvs.extend(crate::commands::flake::instantiate(
            f,
            &options,
            root.clone(),
            args.show_trace,
        )?);
    }
    for source in sources {
        let mut auto = crate::commands::eval::pairs(&args.arg, AutoArg::Expr);
        auto.extend(crate::commands::eval::pairs(&args.argstr, AutoArg::Str));
        let req = Request {
            source,
            attr_paths: args.attr.clone(),
            args: auto,
            apply: None,
            strict: false,
            output: Output::DrvPaths,
            include: args.include.clone(),
            eval: settings.eval_settings()?,
            store: Some(root.clone()),
            fetch_root: None,
            fetch: settings.fetch_settings()?,
            show_trace: args.show_trace,
        };
        drvs.extend(evaluate::instantiate(req)?);
    }

    let store = crate::commands::store::open_root(Some(root.clone()))?;
    let mut goals: Vec<Goal> = drvs.iter().map(evaluate::DrvOutput::goal).collect();
    for a in &store_args {
        goals.push(kiln_realise::Goal::parse(&store, a)?);
    }
    let format = match &args.log_format {
        Some(f) => LogFormat::parse(f)?,
        None if args.print_build_logs => LogFormat::Raw,
        None => LogFormat::default_for_terminal(),
    };
    let build_settings = settings.build_settings()?;
    if args.dry_run {
        let plan = kiln_realise::dry_run(&store, &goals, args.check)?;
        progress::print_plan(&plan.to_build(), &store_dir);
        return Ok(());
    }
    let progress = Progress::new(format, true, &store_dir);
    let res = progress
        .run(|| kiln_realise::realise(&store, &goals, &build_settings, args.check, &progress));
    progress.clear();
    let results = res?;
    let results: Vec<_> = results
        .into_iter()
        .map(|outs| {
            outs.into_iter()
                .map(|(k, p)| (k, p.to_absolute(&store_dir)))
                .collect()
        })
        .collect();
    if !args.no_link && !args.check {
        progress::result_links(&root, &args.out_link, &results)?;
    }
    let mut out = crate::output::stdout();
    for outs in &results {
        for path in outs.values() {
            writeln!(out, "{path}")?;
        }
    }
    out.flush()?;
    Ok(())
}
