//! `kiln eval`: evaluate a Nix expression and print the result.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::evaluate::{self, AutoArg, Output, Request, Source};

/// Arguments of `kiln eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A file to evaluate (a directory means its default.nix)
    #[arg(conflicts_with_all = ["expr", "file_flag"])]
    file: Option<PathBuf>,
    /// Evaluate this expression instead of a file
    #[arg(long, short = 'E')]
    expr: Option<String>,
    /// Evaluate this file
    #[arg(long = "file", short = 'f', id = "file_flag")]
    file_flag: Option<PathBuf>,
    /// Select an attribute of the result (`a.b.0`); repeatable
    #[arg(long = "attr", short = 'A')]
    attr: Vec<String>,
    /// Evaluate everything in the result before printing it
    #[arg(long)]
    strict: bool,
    /// Print the result as JSON
    #[arg(long, conflicts_with = "raw")]
    json: bool,
    /// Print a string result as it is, without quotes or escapes
    #[arg(long)]
    raw: bool,
    /// Apply this function to the result before printing
    #[arg(long)]
    apply: Option<String>,
    /// Pass NAME = EXPR to a function the expression evaluates to
    #[arg(long, num_args = 2, value_names = ["NAME", "EXPR"])]
    arg: Vec<String>,
    /// Pass NAME = STRING to a function the expression evaluates to
    #[arg(long, num_args = 2, value_names = ["NAME", "STRING"])]
    argstr: Vec<String>,
    /// Add a search path entry (`nixpkgs=/path` or `/path`) for `<...>` lookups
    #[arg(short = 'I', long = "include")]
    include: Vec<String>,
    /// Show every frame of an error's trace
    #[arg(long)]
    show_trace: bool,
}

/// Pairs up `--arg NAME VALUE` values.
pub fn pairs(values: &[String], f: fn(String) -> AutoArg) -> Vec<(String, AutoArg)> {
    values
        .chunks(2)
        .filter_map(|c| match c {
            [n, v] => Some((n.clone(), f(v.clone()))),
            _ => None,
        })
        .collect()
}

pub fn run(args: EvalArgs, settings: &kiln_session::Config) -> anyhow::Result<()> {
    let source = match (args.expr, args.file_flag.or(args.file)) {
        (Some(e), _) => Source::Expr(e),
        (None, Some(f)) => Source::File(f),
        (None, None) => Source::File(PathBuf::from("default.nix")),
    };
    let mut auto = pairs(&args.arg, AutoArg::Expr);
    auto.extend(pairs(&args.argstr, AutoArg::Str));
    let output = if args.json {
        Output::Json { legacy: false }
    } else if args.raw {
        Output::Raw { legacy: false }
    } else {
        Output::Nix
    };
    let req = Request {
        source,
        attr_paths: args.attr,
        args: auto,
        apply: args.apply,
        strict: args.strict,
        output,
        include: args.include,
        eval: settings.eval_settings()?,
        show_trace: args.show_trace,
        store: None,
        fetch_root: None,
        fetch: settings.fetch_settings()?,
    };
    let bytes = evaluate::run(req)?;
    let mut out = crate::output::stdout();
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(())
}
