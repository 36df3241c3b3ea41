//! `nix-instantiate`: write the `.drv` files of the derivations an expression evaluates to and
//! print their paths, or, with `--eval`, print the values as Nix does.
//!
//! Flags as in the manual page: `--eval`, `--strict`, `--json`, `--xml`, `-E`/`--expr`,
//! `-A`/`--attr`, `--arg`, `--argstr`, `-I`, `--add-root`, `--indirect`, `--no-location`,
//! `--read-write-mode`, `--parse`, `--find-file`, and the common options of every legacy
//! command (`common.rs`: `--option`, `--show-trace`, settings as flags, `--store` `DIR`
//! or `local?root=DIR`, else `KILN_STORE`, else Kiln's default root). `--eval` is read-only (paths are computed, nothing
//! is written) unless `--read-write-mode` is given.

use std::io::Write;

use super::usage;
use crate::evaluate::{self, AutoArg, Output, Request, Source};

/// Runs `nix-instantiate` with `args`.
pub fn run(program: &str, args: &[String]) -> anyhow::Result<()> {
    let mut eval = false;
    let mut strict = false;
    let mut output = Output::Nix;
    let mut parse = false;
    let mut expr_mode = false;
    let mut attr_paths = Vec::new();
    let mut auto = Vec::new();
    let mut include = Vec::new();
    let mut files = Vec::new();
    let mut common = super::common::BuildOptions::default();
    let mut add_root: Option<std::path::PathBuf> = None;
    let mut read_write = false;
    let mut find_file = false;
    let mut no_location = false;
    let mut iter = args.iter();
    let value = |iter: &mut std::slice::Iter<'_, String>, flag: &str| {
        iter.next()
            .cloned()
            .ok_or_else(|| usage(format!("flag '{flag}' requires an argument")))
    };
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--help" => {
                println!("Usage: {program} [--eval [--strict] [--json]] [-E] [-A PATH] [--arg NAME EXPR] [--argstr NAME STRING] [-I PATH] FILES...");
                return Ok(());
            }
            "--version" => {
                println!("{program} (Kiln) {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            "--eval" | "--eval-only" => eval = true,
            "--strict" => strict = true,
            "--json" => output = Output::Json { legacy: true },
            "--xml" => output = Output::Xml { locations: true },
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
            "--add-root" => add_root = Some(value(&mut iter, arg)?.into()),
            "--read-write-mode" => read_write = true,
            // Accepted for compatibility; they change nothing in Kiln's evaluation output.
            "--no-location" => no_location = true,
            // The last of `--raw`, `--json` and `--xml` decides, as in Nix.
            "--raw" => output = Output::Raw { legacy: true },
            "--indirect" => {}
            "--find-file" => find_file = true,
            "--parse" => {
                parse = true;
                output = Output::Parse;
            }
            // The common options of every legacy command (`--option`, `--store`,
            // `--show-trace`, `-j`, settings as flags, ...).
            flag if common.take(flag, &mut iter)? => {}
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(usage(format!("unrecognised flag '{flag}'")));
            }
            other => files.push(other.to_owned()),
        }
    }
    let store_root = common.store_root();
    let show_trace = common.show_trace;
    if let Output::Xml { locations } = &mut output {
        *locations = !no_location;
    }
    let (output, store) = if parse {
        (Output::Parse, None)
    } else if !eval {
        (Output::DrvPaths, Some(store_root.clone()))
    } else if read_write {
        (output, Some(store_root.clone()))
    } else {
        (output, None)
    };
    let mut roots = crate::commands::instantiate::Roots::new(store_root.clone(), add_root);
    let settings = crate::config::load(&common.options)?;
    let eval_settings = settings.eval_settings()?;
    // `--find-file`: each argument looked up in the search path, as a `<ARG>` file argument
    // is (a failed lookup says Nix's sentence alone).
    if find_file {
        let mut out = crate::output::stdout();
        for f in &files {
            let arg = std::path::PathBuf::from(format!("<{f}>"));
            let path =
                evaluate::lookup_file_arg(&arg, &store_root, &include, &settings, show_trace)?;
            writeln!(out, "{}", path.display())?;
        }
        out.flush()?;
        return Ok(());
    }
    let sources: Vec<Source> = if expr_mode {
        files.into_iter().map(Source::Expr).collect()
    } else if files.is_empty() {
        vec![Source::File("default.nix".into())]
    } else {
        files
            .iter()
            .map(|f| evaluate::read_source_arg(f))
            .collect::<anyhow::Result<_>>()?
    };
    let mut out = crate::output::stdout();
    for source in sources {
        let req = Request {
            source,
            attr_paths: attr_paths.clone(),
            args: auto.clone(),
            apply: None,
            strict,
            output,
            include: include.clone(),
            eval: eval_settings.clone(),
            show_trace,
            store: store.clone(),
            fetch_root: Some(store_root.clone()),
            fetch: settings.fetch_settings()?,
        };
        let bytes = evaluate::run(req)?;
        if output == Output::DrvPaths {
            roots.print(&bytes, &mut out)?;
        } else {
            out.write_all(&bytes)?;
        }
    }
    out.flush()?;
    Ok(())
}
