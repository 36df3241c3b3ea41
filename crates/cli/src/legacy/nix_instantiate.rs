//! `nix-instantiate`: write the `.drv` files of the derivations an expression evaluates to and
//! print their paths, or, with `--eval`, print the values as Nix does.
//!
//! Flags as in the manual page: `--eval`, `--strict`, `--json`, `--xml`, `-E`/`--expr`,
//! `-A`/`--attr`, `--arg`, `--argstr`, `-I`, `--add-root`, `--indirect`, `--show-trace`,
//! `--no-location`, `--read-write-mode`, `--option`, `--store` (`DIR` or `local?root=DIR`, else
//! `KILN_STORE`, else Kiln's default root). `--eval` is read-only (paths are computed, nothing
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
    let mut options: Vec<String> = Vec::new();
    let mut show_trace = false;
    let mut store_root: Option<std::path::PathBuf> = None;
    let mut add_root: Option<std::path::PathBuf> = None;
    let mut read_write = false;
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
            "--json" => output = Output::Json,
            "--xml" => output = Output::Xml,
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
            "-I" | "--include" => include.push(value(&mut iter, arg)?),
            "--option" => {
                options.push(value(&mut iter, arg)?);
                options.push(value(&mut iter, arg)?);
            }
            // A setting given as a flag, as Nix accepts any (`--max-call-depth 100`).
            "--max-call-depth" => {
                options.push("max-call-depth".to_owned());
                options.push(value(&mut iter, arg)?);
            }
            "--store" => {
                store_root = Some(crate::legacy::nix_store::parse_store(&value(
                    &mut iter, arg,
                )?)?);
            }
            "--add-root" => add_root = Some(value(&mut iter, arg)?.into()),
            "--read-write-mode" => read_write = true,
            // Accepted for compatibility; they change nothing in Kiln's evaluation output.
            "--show-trace" => show_trace = true,
            "--no-show-trace" => show_trace = false,
            "--no-location" | "--indirect" | "--readonly-mode" | "--quiet" | "--verbose" | "-v"
            | "--pure-eval" | "--impure" => {}
            "--parse" => {
                parse = true;
                output = Output::Parse;
            }
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(usage(format!("unrecognised flag '{flag}'")));
            }
            other => files.push(other.to_owned()),
        }
    }
    let store_root = store_root
        .or_else(|| std::env::var_os("KILN_STORE").map(Into::into))
        .unwrap_or_else(kiln_store::default_root);
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
    let settings = crate::config::load_settings(&options)?;
    let max_call_depth = crate::commands::eval::max_call_depth(&settings)?;
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
            max_call_depth,
            show_trace,
            store: store.clone(),
            fetch_root: Some(store_root.clone()),
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
