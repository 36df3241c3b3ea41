//! `kiln derivation show`: print `.drv` files as JSON, in the form of Nix's
//! `nix derivation show` (`nix show-derivation` in Nix 2.8): one object keyed by `.drv` path
//! (sorted), each with `outputs`, `inputSrcs`, `inputDrvs`, `system`, `builder`, `args` and
//! `env` in that order, pretty-printed with two spaces.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand};
use kiln_formats::derivation::{Derivation, DerivationOutput};
use kiln_formats::store_path::{FileIngestionMethod, StorePath};
use kiln_store::{LocalStore, Store};
use serde_json::{json, Map, Value};

use crate::cli::GlobalArgs;

/// `kiln derivation …`.
#[derive(Debug, Subcommand)]
pub enum DerivationCommand {
    /// Print store derivations as JSON
    Show(ShowArgs),
}

/// Arguments of `kiln derivation show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// `.drv` store paths
    #[arg(required = true)]
    paths: Vec<String>,
    /// Include every derivation the given ones depend on
    #[arg(long, short = 'r')]
    recursive: bool,
}

/// Runs `kiln derivation`.
pub fn run(cmd: DerivationCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let DerivationCommand::Show(args) = cmd;
    let store = crate::commands::store::open_store(global)?;
    let mut todo: Vec<StorePath> = args
        .paths
        .iter()
        .map(|p| crate::commands::store::store_path(&store, p))
        .collect::<anyhow::Result<_>>()?;
    let mut drvs: BTreeMap<StorePath, Derivation> = BTreeMap::new();
    while let Some(p) = todo.pop() {
        if drvs.contains_key(&p) {
            continue;
        }
        let drv = read(&store, &p)?;
        if args.recursive {
            todo.extend(drv.input_drvs.keys().cloned());
        }
        drvs.insert(p, drv);
    }
    let sd = store.store_dir().to_owned();
    let mut root = Map::new();
    for (p, drv) in &drvs {
        root.insert(p.to_absolute(&sd), to_json(drv, &sd));
    }
    let mut out = crate::output::stdout();
    serde_json::to_writer_pretty(&mut out, &Value::Object(root))?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

fn read(store: &LocalStore, p: &StorePath) -> anyhow::Result<Derivation> {
    let sd = store.store_dir();
    if !p.is_derivation() {
        anyhow::bail!("path '{}' is not a derivation", p.to_absolute(sd));
    }
    if !store.is_valid_path(p)? {
        anyhow::bail!("path '{}' is not valid", p.to_absolute(sd));
    }
    let real = store.real_path(p);
    let text = std::fs::read(&real).with_context(|| format!("reading '{}'", real.display()))?;
    Derivation::parse(&text, sd).with_context(|| format!("parsing '{}'", p.to_absolute(sd)))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn to_json(drv: &Derivation, sd: &str) -> Value {
    let mut outputs = Map::new();
    for (name, o) in &drv.outputs {
        let mut m = Map::new();
        if let Some(p) = o.path() {
            m.insert("path".into(), json!(p.to_absolute(sd)));
        }
        let method = |m: &FileIngestionMethod| match m {
            FileIngestionMethod::Recursive => "r:",
            FileIngestionMethod::Flat => "",
        };
        match o {
            DerivationOutput::Fixed {
                method: me, hash, ..
            } => {
                m.insert(
                    "hashAlgo".into(),
                    json!(format!("{}{}", method(me), hash.algo())),
                );
                m.insert("hash".into(), json!(hash.to_base16()));
            }
            DerivationOutput::Floating { method: me, algo } => {
                m.insert("hashAlgo".into(), json!(format!("{}{algo}", method(me))));
            }
            DerivationOutput::InputAddressed(_) | DerivationOutput::Deferred => {}
        }
        outputs.insert(name.clone(), Value::Object(m));
    }
    let input_srcs: Vec<String> = drv.input_srcs.iter().map(|p| p.to_absolute(sd)).collect();
    let mut input_drvs = Map::new();
    for (p, outs) in &drv.input_drvs {
        let outs: &BTreeSet<String> = outs;
        input_drvs.insert(p.to_absolute(sd), json!(outs));
    }
    let args: Vec<String> = drv.args.iter().map(|a| text(a)).collect();
    let mut env = Map::new();
    for (k, v) in &drv.env {
        env.insert(text(k), json!(text(v)));
    }
    let mut m = Map::new();
    m.insert("outputs".into(), Value::Object(outputs));
    m.insert("inputSrcs".into(), json!(input_srcs));
    m.insert("inputDrvs".into(), Value::Object(input_drvs));
    m.insert("system".into(), json!(text(&drv.system)));
    m.insert("builder".into(), json!(text(&drv.builder)));
    m.insert("args".into(), json!(args));
    m.insert("env".into(), Value::Object(env));
    Value::Object(m)
}
