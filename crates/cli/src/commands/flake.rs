//! `kiln flake lock | update | show | metadata | check`, and the flake installables of
//! `kiln build` (`.#hello`, `path:/dir#a.b`) and `kiln os build|switch --flake .#host`.
//!
//! The work is `kiln_flake`'s; this module parses, prints and builds. A flake is evaluated
//! purely, against a writable store (inputs are fetched into it); a local top-level flake is
//! read in place and added to the store only when a derivation refers to it.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use kiln_eval::{EvalError, EvalResult, Value};
use kiln_flake::{Loaded, Options, Update};
use kiln_session::{DrvOutput, EvalConfig, Evaluation, StoreMode};
use serde_json::Value as Json;

use crate::cli::GlobalArgs;
use crate::evaluate::session_failure;

/// `kiln flake` subcommands.
#[derive(Debug, Subcommand)]
pub enum FlakeCommand {
    /// Write flake.lock: lock new inputs, drop removed ones, keep the rest
    Lock(FlakeArgs),
    /// Lock the inputs again, all of them or those named
    Update {
        /// The inputs to update (`dep`, `dep/nixpkgs`); all when none is given
        inputs: Vec<String>,
        /// The flake
        #[arg(long, value_name = "FLAKE", default_value = ".")]
        flake: String,
        /// Show every frame of an evaluation error's trace
        #[arg(long)]
        show_trace: bool,
    },
    /// Show the flake's outputs as a tree
    Show {
        #[command(flatten)]
        flake: FlakeArgs,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show the flake's URL, source, description and locked inputs
    Metadata {
        #[command(flatten)]
        flake: FlakeArgs,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Evaluate every output, check its type, build the checks
    Check {
        #[command(flatten)]
        flake: FlakeArgs,
        /// Evaluate, build nothing
        #[arg(long)]
        no_build: bool,
    },
}

/// Which flake, and how.
#[derive(Debug, Args)]
pub struct FlakeArgs {
    /// The flake (a directory, `path:…`, `git+file:…`, `github:…`, an archive URL)
    #[arg(default_value = ".")]
    flake: String,
    /// Do not write a changed flake.lock
    #[arg(long)]
    no_write_lock_file: bool,
    /// Show every frame of an evaluation error's trace
    #[arg(long)]
    show_trace: bool,
}

/// Whether a `kiln build` argument is a flake installable rather than a file.
pub fn is_installable(arg: &str) -> bool {
    arg.contains('#')
        || ["path:", "git+", "github:", "tarball+"]
            .iter()
            .any(|p| arg.starts_with(p))
}

/// The evaluation a flake command runs in: its store is the `--store` root (or the default).
fn eval_config(global_options: &[String], store: Option<PathBuf>) -> anyhow::Result<EvalConfig> {
    let settings = crate::config::load(global_options)?;
    let root = store.unwrap_or_else(|| crate::host().default_root());
    Ok(EvalConfig {
        settings: settings.eval_settings()?,
        store: StoreMode::Write { root },
        fetch: settings.fetch_settings()?,
        reporter: Some(Arc::new(crate::report::StderrReporter)),
    })
}

fn options(eval: EvalConfig, update: Update, write_lock: bool) -> anyhow::Result<Options> {
    Ok(Options {
        eval,
        cwd: std::env::current_dir()?,
        update,
        write_lock,
        notify: Some(Arc::new(|m: &str| eprintln!("{m}"))),
    })
}

fn message(m: String) -> Box<EvalError> {
    EvalError::new(kiln_eval::ErrorKind::Message(m), None)
}

/// Calls the Nix function `expr` with the flake's value.
fn apply<'a>(s: &mut Evaluation<'a>, expr: &str, flake: Value<'a>) -> EvalResult<Value<'a>> {
    let f =
        s.ev.eval_string(expr.as_bytes(), std::path::Path::new("/"))?;
    let v = s.ev.call(f, flake, None)?;
    s.ev.force(v)
}

fn json_of<'a>(s: &mut Evaluation<'a>, expr: &str, flake: Value<'a>) -> EvalResult<Json> {
    let wrapped = format!("flake: builtins.toJSON (({expr}) flake)");
    match apply(s, &wrapped, flake)? {
        Value::String(st) => serde_json::from_slice(st.bytes)
            .map_err(|e| message(format!("reading the flake's outputs: {e}"))),
        _ => Err(message("toJSON gave no string".into())),
    }
}

/// Follows the first of `candidates` (attribute paths) that the flake has.
fn select_first<'a>(
    s: &mut Evaluation<'a>,
    loaded: &Loaded<'a>,
    candidates: &[String],
) -> EvalResult<Value<'a>> {
    let empty = s.ev.new_attrs(Vec::new());
    for c in candidates {
        let parts = kiln_session::split_attr_path(c)?;
        let quoted: Vec<String> = parts
            .iter()
            .map(|p| serde_json::to_string(p).expect("a string"))
            .collect();
        // `?` with a path is false where a level is missing or not a set.
        let check = format!("v: v ? {}", quoted.join("."));
        if let Value::Bool(true) = apply(s, &check, loaded.value)? {
            return s.select(loaded.value, c, empty);
        }
    }
    let names: Vec<String> = candidates.iter().map(|c| format!("'{c}'")).collect();
    let list = match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n => format!("{} or {}", names[..n - 1].join(", "), names[n - 1]),
    };
    Err(message(format!(
        "flake '{}' does not provide attribute {list}",
        loaded.url
    )))
}

/// The attribute paths `kiln build FLAKE#ATTR` tries, in Nix's order.
pub fn build_candidates(attr: &str, system: &str) -> Vec<String> {
    if attr.is_empty() {
        vec![
            format!("packages.{system}.default"),
            format!("defaultPackage.{system}"),
        ]
    } else {
        vec![
            format!("packages.{system}.{attr}"),
            format!("legacyPackages.{system}.{attr}"),
            attr.to_owned(),
        ]
    }
}

/// The expression of Kiln's OS (`<kiln/os>`, which a pure evaluation cannot look up): the
/// `kiln=DIR` search path entry's `os`, else the shipped one.
fn kiln_os(eval: &EvalConfig) -> String {
    let dir = eval
        .settings
        .nix_path
        .iter()
        .find(|(name, dir)| name == "kiln" && dir.starts_with('/'))
        .map(|(_, dir)| PathBuf::from(dir))
        .or_else(|| eval.settings.kiln_dir.clone())
        .unwrap_or_default();
    format!(
        "(/. + {})",
        serde_json::to_string(&dir.join("os").display().to_string()).expect("a string")
    )
}

/// Instantiates a flake installable of `kiln build` (`.#hello`).
pub fn instantiate(
    installable: &str,
    global_options: &[String],
    store: PathBuf,
    show_trace: bool,
) -> anyhow::Result<Vec<DrvOutput>> {
    let (flake, attr) = kiln_flake::parse_installable(installable);
    let eval = eval_config(global_options, Some(store))?;
    let system = eval.settings.current_system.clone();
    let candidates = build_candidates(attr, &system);
    kiln_flake::with_flake(
        options(eval, Update::Nothing, true)?,
        flake,
        move |s, loaded| {
            let v = select_first(s, loaded, &candidates)?;
            s.derivations(v)
        },
    )
    .map_err(|e| session_failure(e, show_trace))
}

/// The toplevel derivation of `nixosConfigurations.HOST` of a flake (`--flake .#host`): a
/// configuration with `config.system.build.toplevel` or `toplevel`, or else a Kiln OS module
/// (a file, a set or a function), built with `<kiln/os>`.
pub fn os_toplevel(
    eval: EvalConfig,
    flake_arg: &str,
    host: Option<&str>,
    show_trace: bool,
) -> anyhow::Result<DrvOutput> {
    let (flake, attr) = kiln_flake::parse_installable(flake_arg);
    let host = match (attr, host) {
        ("", Some(h)) => h.to_owned(),
        ("", None) => {
            return Err(anyhow!(
                "which configuration? Give it as --flake {flake}#HOST (or --host HOST)"
            ))
        }
        (a, _) => a.to_owned(),
    };
    let toplevel = toplevel_fn(&eval);
    let mut drvs = kiln_flake::with_flake(
        options(eval, Update::Nothing, true)?,
        flake,
        move |s, loaded| {
            let c = select_first(
                s,
                loaded,
                &[format!(
                    "nixosConfigurations.{}",
                    serde_json::to_string(&host).expect("a string")
                )],
            )?;
            let f =
                s.ev.eval_string(toplevel.as_bytes(), std::path::Path::new("/"))?;
            let v = s.ev.call(f, c, None)?;
            let v = s.ev.force(v)?;
            s.derivations(v)
        },
    )
    .map_err(|e| session_failure(e, show_trace))?;
    if drvs.len() != 1 {
        return Err(anyhow!(
            "the configuration's toplevel is {} derivations, not one",
            drvs.len()
        ));
    }
    Ok(drvs.remove(0))
}

/// Builds `nixosConfigurations.HOST` of a flake in `store` (`kiln os build|switch --flake`);
/// `None` for a dry run.
pub fn os_build(
    eval: EvalConfig,
    flake: &str,
    host: Option<&str>,
    opts: &crate::legacy::common::BuildOptions,
    store: &kiln_store::LocalStore,
) -> anyhow::Result<Option<kiln_formats::store_path::StorePath>> {
    let drv = os_toplevel(eval, flake, host, opts.show_trace)?;
    let Some(mut outs) = crate::legacy::common::realise(store, &[drv.goal()], opts)? else {
        return Ok(None);
    };
    let out = outs
        .pop()
        .and_then(|mut o| o.remove(&drv.output))
        .ok_or_else(|| anyhow!("the toplevel was not built"))?;
    Ok(Some(store.parse_path(&out)?))
}

/// A configuration's toplevel: a NixOS-style `config.system.build.toplevel`, a `toplevel`,
/// or else a module for Kiln's OS, for the current system (a flake is evaluated in pure mode,
/// where `builtins.currentSystem` is refused).
const TOPLEVEL: &str =
    "c: if c ? config.system.build.toplevel then c.config.system.build.toplevel \
    else if c ? toplevel then c.toplevel \
    else (import @KILN_OS@ { configuration = c; system = @SYSTEM@; }).toplevel";

/// [`TOPLEVEL`] with Kiln's OS and the current system filled in.
fn toplevel_fn(eval: &EvalConfig) -> String {
    TOPLEVEL.replace("@KILN_OS@", &kiln_os(eval)).replace(
        "@SYSTEM@",
        &serde_json::to_string(&eval.settings.current_system).expect("a string"),
    )
}

/// The description of every output, as `nix flake show --json` gives it.
const SHOW: &str = r#"flake:
let
  o = flake.outputs;
  isDrv = v: builtins.isAttrs v && (v.type or null) == "derivation";
  drv = v: if isDrv v then { type = "derivation"; name = v.name; } // (if v ? meta.description then { description = v.meta.description; } else { }) else { type = "unknown"; };
  perSystem = f: set: builtins.mapAttrs (_: builtins.mapAttrs (_: f)) set;
  show = name: v:
    if name == "packages" || name == "checks" || name == "devShells" || name == "formatter" && false then perSystem drv v
    else if name == "formatter" then builtins.mapAttrs (_: drv) v
    else if name == "legacyPackages" then builtins.mapAttrs (_: _: { }) v
    else if name == "nixosConfigurations" then builtins.mapAttrs (_: _: { type = "nixos-configuration"; }) v
    else if name == "nixosModules" then builtins.mapAttrs (_: _: { type = "nixos-module"; }) v
    else if name == "overlays" then builtins.mapAttrs (_: _: { type = "nixpkgs-overlay"; }) v
    else if name == "apps" then perSystem (_: { type = "app"; }) v
    else { type = "unknown"; };
in builtins.mapAttrs show o"#;

fn leaf_text(section: &str, leaf: &serde_json::Map<String, Json>) -> String {
    let name = leaf.get("name").and_then(Json::as_str).unwrap_or("");
    match leaf.get("type").and_then(Json::as_str) {
        Some("derivation") => match section {
            "checks" => format!("derivation '{name}'"),
            "devShells" => format!("development environment '{name}'"),
            "formatter" => format!("formatter '{name}'"),
            _ => format!("package '{name}'"),
        },
        Some("nixos-configuration") => "NixOS configuration".into(),
        Some("nixos-module") => "NixOS module".into(),
        Some("nixpkgs-overlay") => "Nixpkgs overlay".into(),
        Some("app") => "app".into(),
        Some(_) => "unknown".into(),
        None if section == "legacyPackages" => "omitted (use '--legacy' to show)".into(),
        None => "unknown".into(),
    }
}

fn print_tree(
    out: &mut String,
    section: &str,
    map: &serde_json::Map<String, Json>,
    prefix: &str,
    depth: usize,
) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for (i, k) in keys.iter().enumerate() {
        let last = i + 1 == keys.len();
        let (branch, cont) = if last {
            ("└───", "    ")
        } else {
            ("├───", "│   ")
        };
        let sec = if depth == 0 { k.as_str() } else { section };
        match &map[k.as_str()] {
            Json::Object(m)
                if m.contains_key("type") || (sec == "legacyPackages" && depth == 1) =>
            {
                out.push_str(&format!("{prefix}{branch}{k}: {}\n", leaf_text(sec, m)));
            }
            Json::Object(m) => {
                out.push_str(&format!("{prefix}{branch}{k}\n"));
                print_tree(out, sec, m, &format!("{prefix}{cont}"), depth + 1);
            }
            _ => out.push_str(&format!("{prefix}{branch}{k}: unknown\n")),
        }
    }
}

fn print_inputs(
    out: &mut String,
    lock: &kiln_flake::LockFile,
    key: &str,
    prefix: &str,
    depth: usize,
) {
    let node = &lock.nodes[key];
    let n = node.inputs.len();
    for (i, (name, input)) in node.inputs.iter().enumerate() {
        let last = i + 1 == n;
        let (branch, cont) = if last {
            ("└───", "    ")
        } else {
            ("├───", "│   ")
        };
        match input {
            kiln_flake::LockedInput::Node(k) => {
                let locked = lock.nodes[k].locked.as_ref();
                let url = locked
                    .map(kiln_flake::flakeref::attrs_to_url)
                    .unwrap_or_default();
                let date = locked
                    .and_then(|l| l.get("lastModified"))
                    .and_then(Json::as_i64)
                    .map(|t| format!(" ({})", kiln_flake::source::utc_text(t)))
                    .unwrap_or_default();
                out.push_str(&format!("{prefix}{branch}{name}: {url}{date}\n"));
                if depth < 32 {
                    print_inputs(out, lock, k, &format!("{prefix}{cont}"), depth + 1);
                }
            }
            kiln_flake::LockedInput::Follows(p) => {
                out.push_str(&format!(
                    "{prefix}{branch}{name} follows input '{}'\n",
                    p.join("/")
                ));
            }
        }
    }
}

/// Runs `kiln flake …`.
pub fn run(cmd: FlakeCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let eval = eval_config(&global.option, global.store.clone())?;
    let store_root = match &eval.store {
        StoreMode::Write { root } => root.clone(),
        StoreMode::ReadOnly { fetch_root } => fetch_root.clone(),
    };
    match cmd {
        FlakeCommand::Lock(a) => {
            let opts = options(eval, Update::Nothing, !a.no_write_lock_file)?;
            kiln_flake::with_flake(opts, &a.flake, |_, _| Ok(()))
                .map_err(|e| session_failure(e, a.show_trace))
        }
        FlakeCommand::Update {
            inputs,
            flake,
            show_trace,
        } => {
            let update = if inputs.is_empty() {
                Update::All
            } else {
                Update::Inputs(
                    inputs
                        .iter()
                        .map(|i| i.split('/').map(str::to_owned).collect())
                        .collect(),
                )
            };
            let opts = options(eval, update, true)?;
            kiln_flake::with_flake(opts, &flake, |_, _| Ok(()))
                .map_err(|e| session_failure(e, show_trace))
        }
        FlakeCommand::Show { flake: a, json } => {
            let opts = options(eval, Update::Nothing, !a.no_write_lock_file)?;
            let (url, tree) = kiln_flake::with_flake(opts, &a.flake, |s, loaded| {
                Ok((loaded.locked_url.clone(), json_of(s, SHOW, loaded.value)?))
            })
            .map_err(|e| session_failure(e, a.show_trace))?;
            let mut out = crate::output::stdout();
            if json {
                writeln!(out, "{}", serde_json::to_string(&tree)?)?;
            } else {
                let mut text = format!("{url}\n");
                if let Json::Object(m) = &tree {
                    print_tree(&mut text, "", m, "", 0);
                }
                out.write_all(text.as_bytes())?;
            }
            out.flush()?;
            Ok(())
        }
        FlakeCommand::Metadata { flake: a, json } => {
            let opts = options(eval, Update::Nothing, !a.no_write_lock_file)?;
            let store_dir = kiln_store::StoreLocation::new(&store_root).store_dir;
            let text = kiln_flake::with_flake(opts, &a.flake, |_, l| {
                let path = l.root.path.to_absolute(&store_dir);
                if json {
                    let mut m = serde_json::Map::new();
                    if let Some(d) = &l.description {
                        m.insert("description".into(), Json::from(d.clone()));
                    }
                    m.insert("lastModified".into(), Json::from(l.root.last_modified));
                    m.insert("locks".into(), l.lock.to_json());
                    m.insert("path".into(), Json::from(path));
                    m.insert("resolvedUrl".into(), Json::from(l.url.clone()));
                    m.insert("url".into(), Json::from(l.locked_url.clone()));
                    if let Some(r) = &l.root.rev {
                        m.insert("revision".into(), Json::from(r.clone()));
                    }
                    return Ok(format!("{}\n", Json::Object(m)));
                }
                let mut t = format!(
                    "Resolved URL:  {}\nLocked URL:    {}\n",
                    l.url, l.locked_url
                );
                if let Some(d) = &l.description {
                    t.push_str(&format!("Description:   {d}\n"));
                }
                t.push_str(&format!("Path:          {path}\n"));
                if let Some(r) = &l.root.rev {
                    t.push_str(&format!("Revision:      {r}\n"));
                }
                if let Some(c) = l.root.rev_count {
                    t.push_str(&format!("Revisions:     {c}\n"));
                }
                t.push_str(&format!(
                    "Last modified: {}\n",
                    kiln_flake::source::utc_text(l.root.last_modified)
                ));
                if !l.lock.nodes[&l.lock.root].inputs.is_empty() {
                    t.push_str("Inputs:\n");
                    print_inputs(&mut t, &l.lock, &l.lock.root, "", 0);
                }
                Ok(t)
            })
            .map_err(|e| session_failure(e, a.show_trace))?;
            let mut out = crate::output::stdout();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
        FlakeCommand::Check { flake: a, no_build } => {
            let check = CHECK.replace("@TOPLEVEL@", &toplevel_fn(&eval));
            let opts = options(eval, Update::Nothing, !a.no_write_lock_file)?;
            let to_build = kiln_flake::with_flake(opts, &a.flake, |s, loaded| {
                let lists = apply(s, &check, loaded.value)?;
                let Value::Attrs(attrs) = lists else {
                    return Err(message("the check gave no set".into()));
                };
                let mut res = Vec::new();
                for (name, keep) in [("build", true), ("eval", false)] {
                    let sym = s.ev.sym(name.as_bytes());
                    let v = attrs
                        .get(sym)
                        .map(|a| a.value)
                        .ok_or_else(|| message(format!("no '{name}'")))?;
                    let v = s.ev.force(v)?;
                    let drvs = s.derivations(v)?;
                    if keep {
                        res = drvs;
                    }
                }
                Ok(res)
            })
            .map_err(|e| session_failure(e, a.show_trace))?;
            if no_build || to_build.is_empty() {
                return Ok(());
            }
            let store = crate::commands::store::open_root(Some(store_root))?;
            let goals: Vec<_> = to_build.iter().map(DrvOutput::goal).collect();
            let opts = crate::legacy::common::BuildOptions {
                options: global.option.clone(),
                ..Default::default()
            };
            crate::legacy::common::realise(&store, &goals, &opts).context("building the checks")?;
            Ok(())
        }
    }
}

/// What `kiln flake check` evaluates: `checks` (built), `packages`, `devShells`, `formatter`
/// (each must be a derivation), `nixosConfigurations` (their toplevels), `overlays` and
/// `nixosModules` (functions or sets).
const CHECK: &str = r#"flake:
let
  o = flake.outputs;
  isDrv = v: builtins.isAttrs v && (v.type or null) == "derivation";
  need = what: v: if isDrv v then v else throw "flake output attribute '${what}' is not a derivation";
  perSystem = name: builtins.concatLists (builtins.attrValues (builtins.mapAttrs
    (sys: set: builtins.attrValues (builtins.mapAttrs (n: need "${name}.${sys}.${n}") set))
    (o.${name} or { })));
  toplevel = @TOPLEVEL@;
  fnOrSet = what: v: if builtins.isFunction v || builtins.isAttrs v || builtins.isPath v then null
    else throw "flake output attribute '${what}' is not a function or a set";
  others = builtins.attrValues (builtins.mapAttrs (n: fnOrSet "overlays.${n}") (o.overlays or { }))
    ++ builtins.attrValues (builtins.mapAttrs (n: fnOrSet "nixosModules.${n}") (o.nixosModules or { }));
in {
  build = perSystem "checks";
  eval = builtins.deepSeq others (perSystem "packages" ++ perSystem "devShells"
    ++ builtins.attrValues (builtins.mapAttrs (sys: need "formatter.${sys}") (o.formatter or { }))
    ++ builtins.attrValues (builtins.mapAttrs (_: toplevel) (o.nixosConfigurations or { })));
}"#;
