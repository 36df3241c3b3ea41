//! `nix-build`: instantiate the derivations of expressions, build them, link the results.
//!
//! Flags as in the manual page: `FILES` (default `./default.nix`; a `.drv` store path builds
//! all its outputs), `-A`/`--attr`, `-E`/`--expr`, `--arg`, `--argstr`, `-I`, `--no-out-link`,
//! `-o`/`--out-link`, `--dry-run`, `--check`, `--show-trace`, and the common build options
//! (`-j`, `--cores`, `-k`, `-K`, `--timeout`, `--max-silent-time`, `--option`, `--store`,
//! `-Q`, `--log-format`, …). Each derivation builds its `outputName` (normally `out`); the
//! output paths are printed on stdout, and `result` (`result-2`, `result-dev`, …) links made
//! as indirect garbage collector roots. A failed build exits with 100 (101 timed out,
//! 102 hash mismatch, 104 not deterministic), as Nix does.

use std::io::Write as _;
use std::path::PathBuf;

use super::common::{self, BuildOptions};
use super::usage;
use crate::evaluate::{self, AutoArg, Output, Request, Source};

/// Runs `nix-build` with `args`.
pub fn run(program: &str, args: &[String]) -> anyhow::Result<()> {
    let mut opts = BuildOptions::default();
    let mut expr_mode = false;
    let mut attr_paths = Vec::new();
    let mut auto: Vec<(String, AutoArg)> = Vec::new();
    let mut include = Vec::new();
    let mut files = Vec::new();
    let mut out_link = Some(PathBuf::from("result"));
    let mut iter = args.iter();
    let value = |iter: &mut std::slice::Iter<'_, String>, flag: &str| {
        iter.next()
            .cloned()
            .ok_or_else(|| usage(format!("flag '{flag}' requires an argument")))
    };
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--help" => {
                println!(
                    "Usage: {program} [FILES...] [-A ATTR] [-E] [--arg NAME EXPR] [--argstr NAME STRING] \
                     [-o LINK | --no-out-link] [--dry-run] [--check] [-j N] [-k] [-K] [--store DIR]"
                );
                return Ok(());
            }
            "--version" => {
                println!("{program} (Kiln) {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            "-E" | "--expr" => expr_mode = true,
            "-A" | "--attr" => attr_paths.push(value(&mut iter, arg)?),
            "--arg" => {
                let n = value(&mut iter, arg)?;
                auto.push((n, AutoArg::Expr(value(&mut iter, arg)?)));
            }
            "--argstr" => {
                let n = value(&mut iter, arg)?;
                auto.push((n, AutoArg::Str(value(&mut iter, arg)?)));
            }
            "--arg-from-file" => {
                let n = value(&mut iter, arg)?;
                auto.push((n, crate::evaluate::arg_from_file(&value(&mut iter, arg)?)?));
            }
            "-I" | "--include" => include.push(value(&mut iter, arg)?),
            "--no-out-link" | "--no-link" => out_link = None,
            "-o" | "--out-link" => out_link = Some(value(&mut iter, arg)?.into()),
            "--drv-link" => {
                value(&mut iter, arg)?;
            }
            "--add-drv-link" | "--no-build-hook" => {}
            flag if opts.take(flag, &mut iter)? => {}
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(usage(format!("unrecognised flag '{flag}'")));
            }
            other => files.push(other.to_owned()),
        }
    }
    let store_root = opts.store_root();
    let settings = crate::config::load(&opts.options)?;
    let eval_settings = settings.eval_settings()?;
    let store_dir = kiln_store::StoreLocation::new(&store_root).store_dir;

    let mut drvs = Vec::new();
    let mut store_goals = Vec::new();
    let sources: Vec<Source> = if expr_mode {
        files.into_iter().map(Source::Expr).collect()
    } else if files.is_empty() {
        vec![Source::File("default.nix".into())]
    } else {
        let mut v = Vec::new();
        for f in &files {
            if f.starts_with(&format!("{store_dir}/")) && f.ends_with(".drv") {
                store_goals.push(f.clone());
            } else {
                v.push(evaluate::read_source_arg(f)?);
            }
        }
        v
    };
    for source in sources {
        let req = Request {
            source,
            attr_paths: attr_paths.clone(),
            args: auto.clone(),
            apply: None,
            strict: false,
            output: Output::DrvPaths,
            include: include.clone(),
            eval: eval_settings.clone(),
            show_trace: opts.show_trace,
            store: Some(store_root.clone()),
            fetch_root: None,
            fetch: settings.fetch_settings()?,
        };
        drvs.extend(evaluate::instantiate(req)?);
    }

    let store = crate::commands::store::open_root(Some(store_root.clone()))?;
    let mut goals: Vec<_> = drvs.iter().map(evaluate::DrvOutput::goal).collect();
    for g in &store_goals {
        goals.push(kiln_realise::Goal::parse(&store, g)?);
    }
    let Some(results) = common::realise(&store, &goals, &opts)? else {
        return Ok(());
    };
    if let Some(link) = &out_link {
        if !opts.check {
            crate::progress::result_links(&store_root, link, &results)?;
        }
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
