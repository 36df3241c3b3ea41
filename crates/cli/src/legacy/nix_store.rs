//! `nix-store`: the operations of Nix's manual page that the local store supports.
//!
//! `--add`, `--add-fixed [--recursive] ALGO`, `--dump`, `--restore`, `-q`/`--query` (every
//! query of the manual: `nix_store_ops.rs`), `--verify [--check-contents]`, `--verify-path`,
//! `--delete [--ignore-liveness]`, `--optimise`, `--realise`, `--gc` with `--print-roots`, `--print-live`,
//! `--print-dead`, `--max-freed N`, `--print-env`, `--read-log`, `--dump-db`, `--load-db`,
//! `--export`, `--import`, `--generate-binary-cache-key`. The store is `--store DIR` (or
//! `local?root=DIR`), else `KILN_STORE`, else Kiln's default root. Path sets print one per
//! line, references first, as Nix prints them. Compound flags (`-qR`) are split as Nix does.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use kiln_formats::hash::HashAlgo;
use kiln_formats::nar;
use kiln_formats::store_path::FileIngestionMethod;
use kiln_store::Store as _;

use super::usage;
use crate::commands::store::{add, open_root, report_problems, store_path};

const HELP: &str = "\
Usage: nix-store [--store DIR] OPERATION [OPTIONS] [ARGS...]

Operations:
  --add PATH...                     add paths to the store and print them
  --add-fixed [--recursive] ALGO PATH...
                                    add paths by flat (or NAR) hash ALGO
  --dump PATH                       write the NAR serialisation of PATH to stdout
  --restore PATH                    unpack a NAR from stdin at PATH
  -q, --query QUERY [-u] [-f] [--include-outputs] PATH...
                                    QUERY: --outputs, --requisites|-R, --references,
                                    --referrers, --referrers-closure, --deriver|-d,
                                    --valid-derivers, --binding|-b NAME, --hash, --size,
                                    --tree, --graph, --graphml, --roots
  --verify [--check-contents]       check the store's consistency
  --verify-path PATH...             check that paths' contents are unchanged
  --print-env DRV                   print a derivation's environment as shell code
  -l, --read-log PATH...            print build logs
  --dump-db [PATH...]               print paths' registrations
  --load-db                         register paths from a --dump-db on stdin
  --export PATH...                  write paths in Nix's export format
  --import                          add the paths of an export on stdin
  --generate-binary-cache-key NAME SECRET-FILE PUBLIC-FILE
  --delete [--ignore-liveness] PATH...
                                    delete paths no root keeps and nothing else refers to
  --optimise                        hard-link identical files
  -r, --realise PATH...             build derivations (drv, drv!out) and print their outputs
                                    [--dry-run] [--check] [-K] [-k] [-j N] [--add-root PATH]
  --gc [--print-roots|--print-live|--print-dead] [--max-freed N]
                                    delete (or list) unreachable paths, or list the roots

The store is --store DIR (or local?root=DIR), else $KILN_STORE, else /nix when writable,
else $XDG_DATA_HOME/kiln/root.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    AddFixed,
    Dump,
    Restore,
    Query,
    Verify,
    Delete,
    Optimise,
    Realise,
    Gc,
    PrintEnv,
    VerifyPath,
    ReadLog,
    DumpDb,
    LoadDb,
    Export,
    Import,
    GenerateKey,
}

/// Runs `nix-store` with `args`.
pub fn run(program: &str, args: &[String]) -> anyhow::Result<()> {
    let mut op = None;
    let mut query = super::nix_store_ops::QueryFlags::default();
    // Nix takes an operation's flags before or after it.
    let is_query = args.iter().any(|a| a == "-q" || a == "--query");
    let mut recursive = false;
    let mut check_contents = false;
    let mut ignore_liveness = false;
    let mut root: Option<PathBuf> = None;
    let mut operands = Vec::new();
    let mut build = super::common::BuildOptions::default();
    let mut add_root: Option<PathBuf> = None;
    let mut gc = GcFlags::default();
    let mut iter = args.iter();
    let set_op = |op: &mut Option<Op>, new: Op| -> anyhow::Result<()> {
        if op.is_some_and(|o| o != new) {
            return Err(usage("only one operation may be specified"));
        }
        *op = Some(new);
        Ok(())
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
            "--store" => {
                let s = iter
                    .next()
                    .ok_or_else(|| usage("flag '--store' requires an argument"))?;
                root = Some(parse_store(s)?);
            }
            "--add" => set_op(&mut op, Op::Add)?,
            "--add-fixed" => set_op(&mut op, Op::AddFixed)?,
            "--dump" => set_op(&mut op, Op::Dump)?,
            "--restore" => set_op(&mut op, Op::Restore)?,
            "-q" | "--query" => set_op(&mut op, Op::Query)?,
            "--verify" => set_op(&mut op, Op::Verify)?,
            "--delete" => set_op(&mut op, Op::Delete)?,
            "--optimise" | "--optimize" => set_op(&mut op, Op::Optimise)?,
            "-r" | "--realise" | "--realize" => set_op(&mut op, Op::Realise)?,
            "--add-root" => {
                let r = iter
                    .next()
                    .ok_or_else(|| usage("flag '--add-root' requires an argument"))?;
                add_root = Some(PathBuf::from(r));
            }
            "--indirect" => {}
            "--gc" => set_op(&mut op, Op::Gc)?,
            "--print-env" => set_op(&mut op, Op::PrintEnv)?,
            "--verify-path" => set_op(&mut op, Op::VerifyPath)?,
            "-l" | "--read-log" => set_op(&mut op, Op::ReadLog)?,
            "--dump-db" => set_op(&mut op, Op::DumpDb)?,
            "--load-db" => set_op(&mut op, Op::LoadDb)?,
            "--export" => set_op(&mut op, Op::Export)?,
            "--import" => set_op(&mut op, Op::Import)?,
            "--generate-binary-cache-key" => set_op(&mut op, Op::GenerateKey)?,
            "--print-roots" | "--print-live" | "--print-dead" | "--max-freed" => {
                gc.parse(arg, &mut iter)?
            }
            "--recursive" => recursive = true,
            "--check-contents" => check_contents = true,
            "--ignore-liveness" => ignore_liveness = true,
            flag if is_query && query.take(flag, &mut iter)? => {}
            "--" => operands.extend(iter.by_ref().cloned()),
            flag if build.take(flag, &mut iter)? => {}
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(usage(format!("unrecognised flag '{flag}'")));
            }
            _ => operands.push(arg.clone()),
        }
    }
    let op = op.ok_or_else(|| usage("no operation specified"))?;
    if op == Op::Realise {
        if let Some(r) = root.take() {
            build.store = Some(r);
        }
        let store_root = build.store_root();
        return super::common::realise_paths(&store_root, &operands, &build, add_root.as_deref());
    }
    if op == Op::GenerateKey {
        return super::nix_store_ops::generate_binary_cache_key(&operands);
    }
    if op == Op::Dump || op == Op::Restore {
        let [path] = operands.as_slice() else {
            return Err(usage("this operation takes exactly one argument"));
        };
        let mut out = crate::output::stdout();
        if op == Op::Dump {
            // A missing path fails before anything is written.
            std::fs::symlink_metadata(path)
                .map_err(|e| anyhow::anyhow!("getting status of '{path}': {e}"))?;
            nar::dump(Path::new(path), &mut out)?;
            out.flush()?;
        } else {
            nar::restore(std::io::stdin().lock(), Path::new(path))?;
        }
        return Ok(());
    }
    let store = open_root(root.or_else(|| crate::host().kiln_store.clone()))?;
    let dir = store.store_dir().to_owned();
    let mut out = crate::output::stdout();
    match op {
        Op::Add => {
            for p in &operands {
                let info = add(
                    &store,
                    Path::new(p),
                    None,
                    FileIngestionMethod::Recursive,
                    HashAlgo::Sha256,
                )?;
                writeln!(out, "{}", info.path.to_absolute(&dir))?;
            }
        }
        Op::AddFixed => {
            let (algo, paths) = operands
                .split_first()
                .ok_or_else(|| usage("first argument must be hash algorithm"))?;
            let algo: HashAlgo = algo.parse().map_err(|e| usage(format!("{e}")))?;
            let method = if recursive {
                FileIngestionMethod::Recursive
            } else {
                FileIngestionMethod::Flat
            };
            for p in paths {
                let info = add(&store, Path::new(p), None, method, algo)?;
                writeln!(out, "{}", info.path.to_absolute(&dir))?;
            }
        }
        Op::Query => super::nix_store_ops::query(&store, &query, &operands, &build, &mut out)?,
        Op::Verify => {
            eprintln!("checking path existence...");
            if check_contents {
                eprintln!("checking hashes...");
            }
            let problems = store.verify(check_contents)?;
            report_problems(&store, &problems);
            if !problems.is_empty() {
                out.flush()?;
                anyhow::bail!("not all store errors were fixed");
            }
        }
        Op::Delete => {
            let mut set = BTreeSet::new();
            for p in &operands {
                set.insert(store_path(&store, p)?);
            }
            let settings = crate::config::load(&build.options)?;
            crate::commands::collect_garbage::delete_paths(
                &store,
                &settings,
                &set,
                ignore_liveness,
            )?;
        }
        Op::Optimise => {
            let stats = store.optimise()?;
            eprintln!(
                "{:.2} MiB freed by hard-linking {} files",
                stats.bytes_freed as f64 / (1024.0 * 1024.0),
                stats.files_linked
            );
        }
        Op::Gc => gc.run(&store, &operands, &build.options)?,
        Op::PrintEnv => super::nix_store_ops::print_env(&store, &operands, &mut out)?,
        Op::VerifyPath => {
            if !super::nix_store_ops::verify_path(&store, &operands)? {
                out.flush()?;
                return Err(crate::output::SilentExit(1).into());
            }
        }
        Op::ReadLog => super::nix_store_ops::read_log(&store, &operands, &mut out)?,
        Op::DumpDb => super::nix_store_ops::dump_db(&store, &operands, &mut out)?,
        Op::LoadDb => super::nix_store_ops::load_db(&store, std::io::stdin().lock())?,
        Op::Export => super::nix_store_ops::export(&store, &operands, &mut out)?,
        Op::Import => super::nix_store_ops::import(&store, std::io::stdin().lock(), &mut out)?,
        Op::Dump | Op::Restore | Op::Realise | Op::GenerateKey => {
            unreachable!("handled above")
        }
    }
    out.flush()?;
    Ok(())
}

/// Accepts `DIR` or `local?root=DIR` (Nix's store URL for a chroot store).
pub(crate) fn parse_store(s: &str) -> anyhow::Result<PathBuf> {
    if let Some(rest) = s.strip_prefix("local?") {
        for param in rest.split('&') {
            if let Some(root) = param.strip_prefix("root=") {
                return Ok(PathBuf::from(root));
            }
        }
        return Err(usage(format!("store URL '{s}' has no root")));
    }
    if s.contains("://") || s == "daemon" || s == "auto" {
        return Err(usage(format!(
            "store '{s}' is not supported; give a directory"
        )));
    }
    Ok(PathBuf::from(s))
}

/// The sub-flags of `--gc`.
#[derive(Debug, Default)]
struct GcFlags {
    print_roots: bool,
    action: Option<kiln_store::GcAction>,
    max_freed: Option<u64>,
}

impl GcFlags {
    fn parse(&mut self, flag: &str, rest: &mut std::slice::Iter<'_, String>) -> anyhow::Result<()> {
        match flag {
            "--print-roots" => self.print_roots = true,
            "--print-live" => self.action = Some(kiln_store::GcAction::ReturnLive),
            "--print-dead" => self.action = Some(kiln_store::GcAction::ReturnDead),
            _ => {
                let v = rest
                    .next()
                    .ok_or_else(|| usage(format!("flag '{flag}' requires an argument")))?;
                self.max_freed =
                    Some(crate::commands::collect_garbage::parse_size(v).map_err(usage)?);
            }
        }
        Ok(())
    }

    /// `nix-store --gc`, as Nix 2.8 prints it.
    fn run(
        &self,
        store: &kiln_store::LocalStore,
        operands: &[String],
        settings: &[String],
    ) -> anyhow::Result<()> {
        use crate::commands::collect_garbage as gc;
        if !operands.is_empty() {
            return Err(usage("no arguments expected"));
        }
        if self.print_roots {
            return gc::print_roots(store);
        }
        let settings = crate::config::load(settings)?;
        let action = self.action.unwrap_or(kiln_store::GcAction::DeleteDead);
        let mut options = settings.gc_options(action)?;
        if let Some(m) = self.max_freed {
            options.max_freed = m;
        }
        let res = store.collect_garbage(&options, &mut gc::Progress::default().sink())?;
        if action == kiln_store::GcAction::DeleteDead {
            gc::print_freed(&res)
        } else {
            gc::print_paths(&res.paths)
        }
    }
}
