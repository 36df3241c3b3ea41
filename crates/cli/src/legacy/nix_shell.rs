//! `nix-shell`: start bash in the build environment of a derivation, without building it.
//!
//! Flags as in the manual page: `FILES` (default `./shell.nix`, else `./default.nix`),
//! `-p`/`--packages` (the operands are then packages of `<nixpkgs>`), `-A`/`--attr`,
//! `-E`/`--expr`, `--arg`, `--argstr`, `-I`, `--pure`/`--impure`, `--keep NAME`, `--run CMD`,
//! `--command CMD`, `--show-trace`, and the common build options. The work is
//! [`crate::commands::shell`]'s.

use super::common::BuildOptions;
use super::usage;
use crate::commands::shell::{self, ShellRequest, ShellSource};
use crate::evaluate::{AutoArg, Source};

/// Runs `nix-shell` with `args`.
pub fn run(program: &str, args: &[String]) -> anyhow::Result<()> {
    let mut build = BuildOptions::default();
    let mut packages = false;
    let mut expr_mode = false;
    let mut pure = false;
    let mut keep = Vec::new();
    let mut attr_paths = Vec::new();
    let mut auto: Vec<(String, AutoArg)> = Vec::new();
    let mut include = Vec::new();
    let mut command = None;
    let mut operands = Vec::new();
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
                    "Usage: {program} [FILES...] [-p PACKAGES...] [-A ATTR] [-E] [--arg NAME EXPR] \
                     [--argstr NAME STRING] [-I PATH] [--pure] [--keep NAME] [--run CMD | --command CMD] \
                     [--store DIR]"
                );
                return Ok(());
            }
            "--version" => {
                println!("{program} (Kiln) {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            "-p" | "--packages" => packages = true,
            "-E" | "--expr" => expr_mode = true,
            "--pure" => pure = true,
            "--impure" => pure = false,
            "--keep" => keep.push(value(&mut iter, arg)?),
            "--run" => command = Some((value(&mut iter, arg)?, false)),
            "--command" => command = Some((value(&mut iter, arg)?, true)),
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
            flag if build.take(flag, &mut iter)? => {}
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(usage(format!("unrecognised flag '{flag}'")));
            }
            other => operands.push(other.to_owned()),
        }
    }
    let source = if packages {
        ShellSource::Packages(operands)
    } else if expr_mode {
        ShellSource::Sources(operands.into_iter().map(Source::Expr).collect())
    } else if operands.is_empty() {
        ShellSource::Sources(vec![Source::File(shell::default_file(None))])
    } else {
        let mut sources = Vec::new();
        for f in operands {
            sources.push(match f.as_str() {
                "-" => crate::evaluate::read_source_arg(&f)?,
                _ => Source::File(shell::default_file(Some(f.into()))),
            });
        }
        ShellSource::Sources(sources)
    };
    shell::enter(ShellRequest {
        source,
        attr_paths,
        args: auto,
        include,
        pure,
        keep,
        command,
        build,
    })
}
