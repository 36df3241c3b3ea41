//! `nix-collect-garbage`: delete old profile generations (`-d`, `--delete-older-than AGE`),
//! then collect garbage (`--max-freed N`); `--dry-run` only says which generations would go.
//! The store is `--store DIR` (or `local?root=DIR`), else `KILN_STORE`, else the default root;
//! the profiles are those under its `<state>/profiles`.

use std::path::PathBuf;

use super::usage;
use crate::commands::collect_garbage::{collect, legacy_root, parse_size};
use crate::commands::store::open_root;

const HELP: &str = "\
Usage: nix-collect-garbage [--store DIR] [-d | --delete-old] [--delete-older-than AGE]
                           [--dry-run] [--max-freed N]

  -d, --delete-old          delete all generations of all profiles but the current ones
  --delete-older-than AGE   delete the generations older than AGE (such as 30d)
  --dry-run                 only print which generations would be deleted
  --max-freed N             stop after freeing N bytes (suffixes K, M, G, T)";

/// Runs `nix-collect-garbage` with `args`.
pub fn run(program: &str, args: &[String]) -> anyhow::Result<()> {
    let mut remove_old = false;
    let mut older_than = None;
    let mut dry_run = false;
    let mut max_freed = None;
    let mut root: Option<PathBuf> = None;
    let mut options = Vec::new();
    let mut iter = args.iter();
    let value = |iter: &mut std::slice::Iter<'_, String>, flag: &str| {
        iter.next()
            .cloned()
            .ok_or_else(|| usage(format!("flag '{flag}' requires an argument")))
    };
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--help" => {
                println!("{HELP}");
                return Ok(());
            }
            "--version" => {
                println!("{program} (Kiln) {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            "--store" => root = Some(super::nix_store::parse_store(&value(&mut iter, arg)?)?),
            "--option" => {
                options.push(value(&mut iter, arg)?);
                options.push(value(&mut iter, arg)?);
            }
            "-d" | "--delete-old" => remove_old = true,
            "--delete-older-than" => {
                remove_old = true;
                older_than = Some(value(&mut iter, arg)?);
            }
            "--dry-run" => dry_run = true,
            "--max-freed" => {
                let v = value(&mut iter, arg)?;
                max_freed = Some(parse_size(&v).map_err(usage)?);
            }
            flag => return Err(usage(format!("unrecognised flag '{flag}'"))),
        }
    }
    let age = match &older_than {
        Some(spec) => Some(kiln_store::profile::parse_age(spec).map_err(|e| usage(e.to_string()))?),
        None => None,
    };
    let settings = crate::config::load(&options)?;
    let store = open_root(legacy_root(root))?;
    collect(&store, &settings, remove_old, age, dry_run, max_freed)
}
