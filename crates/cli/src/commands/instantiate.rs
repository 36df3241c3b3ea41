//! `kiln instantiate`: evaluate an expression and write the `.drv` files of the derivations in
//! it to the store, printing their paths (what `nix-instantiate` does without `--eval`).
//!
//! Nothing becomes a garbage collector root unless `--add-root PATH` is given: then PATH (with
//! `-2`, `-3`, … for the second and later results) is a symlink to the `.drv` file, registered
//! as an indirect root under `<state>/gcroots/auto/`, and PATH is printed instead.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use kiln_store::StoreLocation;

use crate::cli::GlobalArgs;
use crate::evaluate::{self, AutoArg, Output, Request, Source};

/// Arguments of `kiln instantiate`.
#[derive(Debug, Args)]
pub struct InstantiateArgs {
    /// A file to evaluate (a directory means its default.nix)
    #[arg(conflicts_with = "expr")]
    file: Option<PathBuf>,
    /// Evaluate this expression instead of a file
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
    /// Show every frame of an error's trace
    #[arg(long)]
    show_trace: bool,
    /// Make PATH a garbage collector root pointing to the result (PATH-2, … for more results)
    #[arg(long, value_name = "PATH")]
    add_root: Option<PathBuf>,
    /// Register the root as indirect (always the case; accepted for compatibility)
    #[arg(long)]
    indirect: bool,
}

/// Runs `kiln instantiate`.
pub fn run(
    args: InstantiateArgs,
    global: &GlobalArgs,
    settings: &kiln_session::Config,
) -> anyhow::Result<()> {
    let source = match (args.expr, args.file) {
        (Some(e), _) => Source::Expr(e),
        (None, Some(f)) => Source::File(f),
        (None, None) => Source::File(PathBuf::from("default.nix")),
    };
    let mut auto = crate::commands::eval::pairs(&args.arg, AutoArg::Expr);
    auto.extend(crate::commands::eval::pairs(&args.argstr, AutoArg::Str));
    let root = global
        .store
        .clone()
        .unwrap_or_else(|| crate::host().default_root());
    let req = Request {
        source,
        attr_paths: args.attr,
        args: auto,
        apply: None,
        strict: false,
        output: Output::DrvPaths,
        include: args.include,
        eval: settings.eval_settings()?,
        store: Some(root.clone()),
        fetch_root: None,
        fetch: settings.fetch_settings()?,
        show_trace: args.show_trace,
    };
    let mut roots = Roots::new(root, args.add_root);
    let bytes = evaluate::run(req)?;
    let mut out = crate::output::stdout();
    roots.print(&bytes, &mut out)?;
    out.flush()?;
    Ok(())
}

/// How results are printed: as they are, or through garbage collector roots.
pub struct Roots {
    store_root: PathBuf,
    add_root: Option<PathBuf>,
    count: usize,
    warned: bool,
}

impl Roots {
    /// For the store at `store_root`, with the `--add-root` path if any.
    pub fn new(store_root: PathBuf, add_root: Option<PathBuf>) -> Self {
        let add_root = add_root.map(|p| {
            if p.is_absolute() {
                p
            } else {
                std::env::current_dir().unwrap_or_default().join(p)
            }
        });
        Roots {
            store_root,
            add_root,
            count: 0,
            warned: false,
        }
    }

    /// Prints the `drv[!output]` lines of an instantiation, adding roots when asked; warns
    /// once (as Nix does) when no root is asked for.
    pub fn print(&mut self, lines: &[u8], out: &mut impl Write) -> anyhow::Result<()> {
        for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = String::from_utf8_lossy(line);
            let (drv, output) = match line.split_once('!') {
                Some((d, o)) => (d, Some(o)),
                None => (line.as_ref(), None),
            };
            let shown = match &self.add_root {
                None => {
                    if !self.warned {
                        self.warned = true;
                        eprintln!(
                            "warning: you did not specify '--add-root'; the result might be \
                             removed by the garbage collector"
                        );
                    }
                    drv.to_owned()
                }
                Some(base) => {
                    self.count += 1;
                    let mut name = base.as_os_str().to_owned();
                    if self.count > 1 {
                        name.push(format!("-{}", self.count));
                    }
                    let name = PathBuf::from(name);
                    add_indirect_root(&self.store_root, drv, &name)?;
                    name.display().to_string()
                }
            };
            match output {
                Some(o) => writeln!(out, "{shown}!{o}")?,
                None => writeln!(out, "{shown}")?,
            }
        }
        Ok(())
    }
}

/// Makes `root` a symlink to `target` and registers it in `<state>/gcroots/auto/` (named by
/// the nix32 SHA-1 of the root's path, as Nix names it).
pub fn add_indirect_root(store_root: &Path, target: &str, root: &Path) -> anyhow::Result<()> {
    kiln_store::replace_symlink(Path::new(target), root)?;
    kiln_store::add_indirect_root(&StoreLocation::new(store_root), root)?;
    Ok(())
}
