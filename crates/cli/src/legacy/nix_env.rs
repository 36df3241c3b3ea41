//! `nix-env`: manipulate a profile (user environment), over the engine in `kiln-profile`
//! (rendered by `commands/profile.rs`).
//!
//! Operations: `-i`/`--install` (names, or attribute paths with `-A`; packages of the same
//! name are replaced unless `--preserve-installed`), `-e`/`--uninstall`, `-u`/`--upgrade`,
//! `-q`/`--query` (every flag of its manual page: `nix_env_query.rs`), `--rollback`,
//! `--list-generations`, `-G`/`--switch-generation N`, `--delete-generations N…|old|Nd|+N`,
//! `--set-flag priority|active|keep VALUE NAME…`.
//! Options: `-p PROFILE`, `--system-filter SYSTEM`, `-f FILE` (`'<nixpkgs>'` is looked up on the search path; default
//! `~/.nix-defexpr`: a directory of expressions and channels, combined as Nix combines them), `-I PATH`, `--store DIR` (manifests and profiles work in
//! a store root), `--option NAME VALUE` and the common build options. Combined short flags
//! (`-iA`, `-qa`) are split as Nix splits them.

use std::path::PathBuf;

use super::common::BuildOptions;
use super::nix_env_query::{self, QueryFlags, QueryInput};
use super::usage;
use crate::commands::profile::{self, CliRealiser};

const HELP: &str = "\
Usage: nix-env [--store DIR] [-p PROFILE] [-f FILE] OPERATION [ARGS...]

Without -f, the packages are those of ~/.nix-defexpr.

Operations:
  -i, --install NAME...          install packages (with -A: attribute paths)
  -e, --uninstall NAME...        remove installed packages
  -u, --upgrade [NAME...]        upgrade installed packages from FILE
  -q, --query [-a [-P] [-A PATH]] [-s] [-c] [--no-name] [--system] [--drv-path]
              [--out-path] [--description] [--meta] [--json|--xml] [-b] [NAME...]
  --rollback                     switch to the previous generation
  --list-generations
  -G, --switch-generation N
  --delete-generations N...|old|Nd|+N
  --set-flag priority|active|keep VALUE NAME...";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Install,
    Uninstall,
    Upgrade,
    Query,
    Rollback,
    ListGenerations,
    SwitchGeneration,
    DeleteGenerations,
    SetFlag,
}

/// Splits `-iA` into `-i -A` (single-dash groups of letters), as Nix does.
fn expand(args: &[String]) -> Vec<String> {
    let mut res = Vec::new();
    let mut rest = false;
    for a in args {
        if !rest
            && a.len() > 2
            && a.starts_with('-')
            && !a.starts_with("--")
            && a[1..].bytes().all(|b| b.is_ascii_alphabetic())
        {
            res.extend(a[1..].chars().map(|c| format!("-{c}")));
        } else {
            if a == "--" {
                rest = true;
            }
            res.push(a.clone());
        }
    }
    res
}

/// Runs `nix-env` with `args`.
pub fn run(program: &str, args: &[String]) -> anyhow::Result<()> {
    let args = expand(args);
    let mut op = None;
    let mut opts = BuildOptions::default();
    let mut profile: Option<PathBuf> = None;
    let mut file: Option<PathBuf> = None;
    let mut include = Vec::new();
    let mut by_attr = false;
    let mut query = QueryFlags::default();
    let mut preserve = false;
    let mut system_filter: Option<String> = None;
    let mut operands = Vec::new();
    let mut iter = args.iter();
    let value = |iter: &mut std::slice::Iter<'_, String>, flag: &str| {
        iter.next()
            .cloned()
            .ok_or_else(|| usage(format!("flag '{flag}' requires an argument")))
    };
    let set_op = |op: &mut Option<Op>, new: Op| -> anyhow::Result<()> {
        if op.is_some_and(|o| o != new) {
            return Err(usage("only one operation may be specified"));
        }
        *op = Some(new);
        Ok(())
    };
    while let Some(arg) = iter.next() {
        // The query's own flags (`-A PATH` takes an argument there), once `-q` was given.
        if op == Some(Op::Query) && query.take(arg, &mut iter)? {
            continue;
        }
        match arg.as_str() {
            "--help" => {
                println!("{HELP}");
                return Ok(());
            }
            "--version" => {
                println!("{program} (Kiln) {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            "-i" | "--install" => set_op(&mut op, Op::Install)?,
            "-e" | "--uninstall" => set_op(&mut op, Op::Uninstall)?,
            "-u" | "--upgrade" => set_op(&mut op, Op::Upgrade)?,
            "-q" | "--query" => set_op(&mut op, Op::Query)?,
            "--rollback" => set_op(&mut op, Op::Rollback)?,
            "--list-generations" => set_op(&mut op, Op::ListGenerations)?,
            "-G" | "--switch-generation" => {
                set_op(&mut op, Op::SwitchGeneration)?;
                operands.push(value(&mut iter, arg)?);
            }
            "--delete-generations" => set_op(&mut op, Op::DeleteGenerations)?,
            "--set-flag" => {
                set_op(&mut op, Op::SetFlag)?;
                operands.push(value(&mut iter, arg)?);
                operands.push(value(&mut iter, arg)?);
            }
            "-p" | "--profile" => profile = Some(value(&mut iter, arg)?.into()),
            "-f" | "--file" => file = Some(value(&mut iter, arg)?.into()),
            "-I" | "--include" => include.push(value(&mut iter, arg)?),
            "-A" | "--attr" => by_attr = true,
            "--system-filter" => system_filter = Some(value(&mut iter, arg)?),
            // `-P` is --attr-path to a query (taken above), --preserve-installed to an install.
            "-P" | "--preserve-installed" => preserve = true,
            "-b" | "--prebuilt-only" => {}
            // Query flags given before `-q`.
            flag if query.take(flag, &mut iter)? => {}
            a if a.starts_with('-') && a != "-" => {
                if !opts.take(a, &mut iter)? {
                    return Err(usage(format!("unrecognised flag '{a}'")));
                }
            }
            _ => operands.push(arg.clone()),
        }
    }
    let Some(op) = op else {
        return Err(usage("no operation specified"));
    };
    let root = opts.store_root();
    let show_trace = opts.show_trace;
    let dry_run = opts.dry_run;
    let realiser = CliRealiser(&opts);
    let env = profile::open(root.clone(), profile, &include, &realiser)?;
    let traced = |e| profile::error(e, show_trace);
    // `--system-filter SYSTEM`: only the packages for that platform (`*`: all).
    let for_system = |elems: Vec<kiln_profile::Element>| -> Vec<kiln_profile::Element> {
        match system_filter.as_deref() {
            None | Some("*") => elems,
            Some(sys) => elems.into_iter().filter(|e| e.system == sys).collect(),
        }
    };
    // Without `-f`, the default expression `~/.nix-defexpr`, as Nix.
    let need_file = || -> anyhow::Result<PathBuf> {
        match &file {
            // `-f '<nixpkgs>'` is looked up on the search path, as Nix's `lookupFileArg`.
            Some(f) => crate::evaluate::lookup_file_arg(
                f,
                &root,
                &include,
                &crate::config::load(&opts.options)?,
                show_trace,
            ),
            None => {
                let home = crate::host()
                    .home
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("HOME is not set: use '-f FILE'"))?;
                // Made when missing (empty: no packages), as Nix 2.8 makes it.
                let defexpr = home.join(".nix-defexpr");
                if std::fs::symlink_metadata(&defexpr).is_err() {
                    anyhow::Context::with_context(std::fs::create_dir_all(&defexpr), || {
                        format!("creating '{}'", defexpr.display())
                    })?;
                }
                Ok(defexpr)
            }
        }
    };
    match op {
        Op::Install => {
            let file = need_file()?;
            let new = if by_attr {
                for_system(env.available(&file, &operands).map_err(traced)?)
            } else {
                let all = for_system(env.available(&file, &[]).map_err(traced)?);
                kiln_profile::select_by_name(&all, &operands).map_err(traced)?
            };
            env.install(new, preserve).map_err(traced)
        }
        Op::Uninstall => env.remove(&operands).map_err(traced),
        Op::Upgrade => {
            let file = need_file()?;
            let avail = for_system(env.available(&file, &[]).map_err(traced)?);
            env.upgrade(&avail, &operands).map_err(traced)
        }
        Op::Query => {
            let want_installed = !query.available || query.status || query.compare_versions;
            let want_available = query.available || query.compare_versions;
            // An installed package's attribute path is its index in the manifest, as Nix
            // reads the manifest (a list).
            let installed = if want_installed {
                let mut elems = env.installed().map_err(traced)?;
                for (i, e) in elems.iter_mut().enumerate() {
                    e.attr_path = i.to_string();
                }
                elems
            } else {
                Vec::new()
            };
            // Only what the query prints is evaluated (`-c` of installed packages needs the
            // available ones' names alone).
            let available = if want_available {
                let file = need_file()?;
                let attrs: Vec<String> = query.attr.iter().cloned().collect();
                let mut fields = if query.available {
                    query.fields()
                } else {
                    Vec::new()
                };
                if system_filter.as_deref().is_some_and(|s| s != "*") {
                    fields.insert(0, kiln_session::Field::System);
                }
                let infos = env
                    .available_infos(&file, &attrs, Some(fields))
                    .map_err(traced)?;
                let listed: Vec<nix_env_query::Listed> = infos
                    .into_iter()
                    .map(nix_env_query::Listed::available)
                    .collect();
                match system_filter.as_deref() {
                    None | Some("*") => listed,
                    Some(sys) => listed
                        .into_iter()
                        .filter(|l| l.failed.is_none() && l.elem.system == sys)
                        .collect(),
                }
            } else {
                Vec::new()
            };
            let (elems, installed, available) = if query.available {
                (available, installed, Vec::new())
            } else {
                let available = available.into_iter().map(|l| l.elem).collect();
                let elems = installed
                    .iter()
                    .cloned()
                    .map(nix_env_query::Listed::installed)
                    .collect();
                (elems, installed, available)
            };
            let store = (query.status || query.prebuilt_only)
                .then(|| crate::commands::store::open_root(Some(root.clone())))
                .transpose()?;
            let is_valid = |path: &str| -> anyhow::Result<bool> {
                let Some(store) = &store else {
                    return Ok(false);
                };
                use kiln_store::Store as _;
                let dir = store.store_dir();
                match kiln_formats::store_path::StorePath::from_absolute(dir, path) {
                    Ok(p) => Ok(store.is_valid_path(&p)?),
                    Err(_) => Ok(false),
                }
            };
            let input = QueryInput {
                elems,
                installed,
                available,
            };
            nix_env_query::print(&query, input, &operands, &is_valid)
        }
        Op::Rollback => env.rollback().map_err(traced),
        Op::ListGenerations => profile::list_generations(&env),
        Op::SwitchGeneration => {
            let n = operands[0]
                .parse()
                .map_err(|_| usage(format!("invalid generation number '{}'", operands[0])))?;
            env.switch_generation(n).map_err(traced)
        }
        Op::DeleteGenerations => env
            .delete_generations(&operands, dry_run)
            .map(|_| ())
            .map_err(traced),
        Op::SetFlag => env
            .set_flag(&operands[0], &operands[1], &operands[2..])
            .map_err(traced),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_flags_split() {
        let a: Vec<String> = ["-iA", "b", "-p", "/x", "--", "-qa"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(expand(&a), ["-i", "-A", "b", "-p", "/x", "--", "-qa"]);
    }
}
