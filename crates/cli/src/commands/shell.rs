//! Development shells: `kiln shell -p PKGS`, `kiln develop` and the legacy `nix-shell`.
//!
//! As the Nix manual describes `nix-shell`: the expression's single derivation is instantiated,
//! its inputs (input derivations' outputs and sources) are built, but not the derivation
//! itself; then bash starts in its build environment: the derivation's environment variables
//! are set, `$stdenv/setup` is sourced when there is one (so the inputs' setup hooks run and
//! `genericBuild`, `buildPhase`, … are functions), `shellHook` runs, and the `--run`/
//! `--command` text is executed. `-p PKGS` stands for
//! `with import <nixpkgs> { }; (pkgs.runCommandCC or pkgs.runCommand) "shell" { buildInputs = [ PKGS ]; } ""`.
//!
//! `--pure` starts from an environment holding only the variables Nix keeps (`HOME`, `TERM`,
//! …, and `--keep NAME`), and nothing of the caller's `PATH` is added back.
//!
//! Kiln's differences: a derivation that sets `PATH` itself (the package set's trivial
//! builders do) keeps it, where Nix clears it before sourcing the setup script; the shell's
//! own directory goes on `PATH` only when it is in the store; `HOME` is restored after the
//! setup script (which sets it to `/homeless-shelter` for builds) and its `EXIT` trap (a
//! build's failure report) is removed. The shell is `$NIX_BUILD_SHELL`, else `bash` from the
//! caller's `PATH`. With a store outside its logical directory (`--store DIR`), the shell runs
//! in a private mount namespace (util-linux's `unshare`) in which the store is mounted on its
//! logical directory, so the environment's paths lead to files.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use clap::Args;
use kiln_realise::{Goal, OutputsSpec};
use kiln_store::Store as _;

use crate::cli::GlobalArgs;
use crate::evaluate::{self, AutoArg, Output, Request, Source};
use crate::legacy::common::BuildOptions;

/// The variables `--pure` keeps from the caller's environment (as Nix does).
const PURE_KEEP: &[&str] = &[
    "HOME",
    "USER",
    "LOGNAME",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "WAYLAND_SOCKET",
    "PATH",
    "TERM",
    "IN_NIX_SHELL",
    "NIX_SHELL_PRESERVE_PROMPT",
    "TZ",
    "PAGER",
    "NIX_BUILD_SHELL",
    "SHLVL",
    "http_proxy",
    "https_proxy",
    "ftp_proxy",
    "all_proxy",
    "no_proxy",
];

/// What a development shell is made of.
pub enum ShellSource {
    /// `-p PKGS`: expressions evaluated with the package set `<nixpkgs>` in scope.
    Packages(Vec<String>),
    /// Files or expressions whose (selected) value is one derivation.
    Sources(Vec<Source>),
}

/// A development shell to enter.
pub struct ShellRequest {
    /// What to evaluate.
    pub source: ShellSource,
    /// `-A` paths.
    pub attr_paths: Vec<String>,
    /// `--arg`/`--argstr`.
    pub args: Vec<(String, AutoArg)>,
    /// `-I` entries.
    pub include: Vec<String>,
    /// `--pure`.
    pub pure: bool,
    /// `--keep NAME`: variables `--pure` keeps too.
    pub keep: Vec<String>,
    /// `--run`/`--command` text, and whether the shell is interactive (`--command`).
    pub command: Option<(String, bool)>,
    /// The build options (store, `--option`, `-j`, …).
    pub build: BuildOptions,
}

/// Arguments of `kiln shell` and `kiln develop`.
#[derive(Debug, Args)]
pub struct ShellArgs {
    /// Packages of the package set (`<nixpkgs>`; attribute names or expressions) to put in
    /// the environment
    #[arg(long = "packages", short = 'p', num_args = 1.., conflicts_with_all = ["file", "expr"])]
    packages: Vec<String>,
    /// Evaluate this file (default: shell.nix, else default.nix)
    #[arg(long, short = 'f', conflicts_with = "expr")]
    file: Option<PathBuf>,
    /// Evaluate this expression
    #[arg(long, short = 'E')]
    expr: Option<String>,
    /// Select an attribute of the result (`a.b`)
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
    /// Start from an environment without the caller's variables (HOME, TERM, … are kept)
    #[arg(long)]
    pure: bool,
    /// Keep this variable of the caller's environment with --pure
    #[arg(long, value_name = "NAME")]
    keep: Vec<String>,
    /// Run this shell command non-interactively, then exit
    #[arg(long, conflicts_with = "command")]
    run: Option<String>,
    /// Run this shell command in the interactive shell, then exit
    #[arg(long)]
    command: Option<String>,
    /// Show every frame of an error's trace
    #[arg(long)]
    show_trace: bool,
}

/// `kiln shell -p PKGS` and `kiln develop`: the build environment of a derivation.
pub fn run(args: ShellArgs, global: &GlobalArgs, packages_only: bool) -> anyhow::Result<()> {
    if packages_only && args.packages.is_empty() {
        bail!("'kiln shell' needs packages (-p NAME…); 'kiln develop' enters a derivation's environment");
    }
    let source = if !args.packages.is_empty() {
        ShellSource::Packages(args.packages)
    } else if let Some(e) = args.expr {
        ShellSource::Sources(vec![Source::Expr(e)])
    } else {
        ShellSource::Sources(vec![Source::File(default_file(args.file))])
    };
    let mut auto = crate::commands::eval::pairs(&args.arg, AutoArg::Expr);
    auto.extend(crate::commands::eval::pairs(&args.argstr, AutoArg::Str));
    let mut options = global.option.clone();
    options.shrink_to_fit();
    let build = BuildOptions {
        options,
        store: global.store.clone(),
        show_trace: args.show_trace,
        ..BuildOptions::default()
    };
    enter(ShellRequest {
        source,
        attr_paths: args.attr,
        args: auto,
        include: args.include,
        pure: args.pure,
        keep: args.keep,
        command: match (args.run, args.command) {
            (Some(r), _) => Some((r, false)),
            (None, Some(c)) => Some((c, true)),
            (None, None) => None,
        },
        build,
    })
}

/// The file a shell reads when none is named: `shell.nix` if there is one, else
/// `default.nix`; a directory stands for its `shell.nix` or `default.nix` the same way.
pub fn default_file(file: Option<PathBuf>) -> PathBuf {
    let dir = match file {
        Some(f) if !f.is_dir() => return f,
        Some(d) => d,
        None => PathBuf::from("."),
    };
    let shell = dir.join("shell.nix");
    if shell.exists() {
        shell
    } else {
        dir.join("default.nix")
    }
}

/// The expression `-p PKGS` stands for.
fn packages_expr(packages: &[String]) -> String {
    let inputs: Vec<String> = packages.iter().map(|p| format!("({p})")).collect();
    format!(
        "{{ ... }}@args: with import <nixpkgs> args; (pkgs.runCommandCC or pkgs.runCommand) \
         \"shell\" {{ buildInputs = [ {} ]; }} \"\"",
        inputs.join(" ")
    )
}

/// Instantiates the shell's derivation, builds its inputs and replaces this process with
/// bash in its environment (returns only on failure, or after `--dry-run`).
pub fn enter(req: ShellRequest) -> anyhow::Result<()> {
    let settings = crate::config::load(&req.build.options)?;
    let root = req.build.store_root();
    let sources = match &req.source {
        ShellSource::Packages(p) => {
            if !req.attr_paths.is_empty() {
                bail!("'-p' and '-A' are mutually exclusive");
            }
            vec![Source::Expr(packages_expr(p))]
        }
        ShellSource::Sources(s) => s.clone(),
    };
    let mut drvs = Vec::new();
    for source in sources {
        drvs.extend(evaluate::instantiate(Request {
            source,
            attr_paths: req.attr_paths.clone(),
            args: req.args.clone(),
            apply: None,
            strict: false,
            output: Output::DrvPaths,
            include: req.include.clone(),
            eval: settings.eval_settings()?,
            show_trace: req.build.show_trace,
            store: Some(root.clone()),
            fetch_root: None,
            fetch: settings.fetch_settings()?,
        })?);
    }
    let [drv_output] = drvs.as_slice() else {
        bail!("nix-shell requires a single derivation");
    };
    let store = crate::commands::store::open_root(Some(root.clone()))?;
    let store_dir = store.store_dir().to_owned();
    let drv = store.read_derivation(&drv_output.drv_path)?;

    // The inputs, never the derivation itself.
    let mut goals: Vec<Goal> = drv
        .input_drvs
        .iter()
        .map(|(d, outs)| Goal::Drv {
            drv: d.clone(),
            outputs: OutputsSpec::Names(outs.iter().cloned().collect()),
        })
        .collect();
    goals.extend(drv.input_srcs.iter().cloned().map(Goal::Opaque));
    if crate::legacy::common::realise(&store, &goals, &req.build)?.is_none() {
        return Ok(());
    }
    if drv.env.contains_key(b"__json".as_slice()) {
        bail!(
            "the derivation '{}' uses structured attributes, which Kiln's shells do not support yet",
            drv_output.drv_path.to_absolute(&store_dir)
        );
    }

    let shell = find_shell()?;
    let tmp = std::env::var_os("TMPDIR").unwrap_or_else(|| "/tmp".into());
    let rc_dir = tempfile::Builder::new()
        .prefix("nix-shell-")
        .tempdir_in(&tmp)
        .context("creating the shell's temporary directory")?
        .keep();
    let rc_path = rc_dir.join("rc");
    let caller_path = std::env::var_os("PATH").unwrap_or_default();
    let drv_sets_path = drv.env.contains_key(b"PATH".as_slice());
    let rc = rc_text(&RcParts {
        dir: &rc_dir,
        pure: req.pure,
        caller_path: &caller_path,
        keep_drv_path: drv_sets_path,
        shell: &shell,
        shell_in_store: shell.starts_with(&store_dir),
        command: req.command.as_ref().map(|(c, _)| c.as_str()),
    });
    std::fs::write(&rc_path, rc).with_context(|| format!("writing '{}'", rc_path.display()))?;

    let env = environment(&req, &drv.env, &store_dir, &tmp, &settings)?;
    // As Nix: bash reads the rc file as its `--rcfile` only when it can be interactive.
    use std::io::IsTerminal as _;
    let interactive =
        req.command.as_ref().is_none_or(|(_, i)| *i) && std::io::stdin().is_terminal();
    let mut bash_args: Vec<OsString> = Vec::new();
    if interactive {
        bash_args.push("--rcfile".into());
    }
    bash_args.push(rc_path.into_os_string());

    let location = kiln_store::StoreLocation::new(&root);
    let physical = location.real_store_dir();
    let mut cmd = if physical == Path::new(&store_dir) {
        let mut c = std::process::Command::new(&shell);
        c.args(&bash_args);
        c
    } else {
        in_store_namespace(
            &physical,
            Path::new(&store_dir),
            &shell,
            &bash_args,
            &caller_path,
        )?
    };
    cmd.env_clear().envs(env);
    let err = cmd.exec();
    Err(anyhow!(err).context(format!("starting '{}'", shell.display())))
}

/// The shell: `$NIX_BUILD_SHELL`, else `bash` from the caller's `PATH`, as an absolute path.
fn find_shell() -> anyhow::Result<PathBuf> {
    let name = std::env::var_os("NIX_BUILD_SHELL").unwrap_or_else(|| "bash".into());
    find_program(
        Path::new(&name),
        &std::env::var_os("PATH").unwrap_or_default(),
    )
    .ok_or_else(|| anyhow!("cannot find the shell '{}'", Path::new(&name).display()))
}

/// A program by name, looked up on `path` unless it contains a slash.
fn find_program(name: &Path, path: &std::ffi::OsStr) -> Option<PathBuf> {
    if name.as_os_str().as_encoded_bytes().contains(&b'/') {
        return std::path::absolute(name).ok();
    }
    std::env::split_paths(path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The shell's environment: the caller's (only the kept variables with `--pure`), the
/// derivation's variables, then the build variables Nix sets.
fn environment(
    req: &ShellRequest,
    drv_env: &BTreeMap<Vec<u8>, Vec<u8>>,
    store_dir: &str,
    tmp: &std::ffi::OsStr,
    settings: &kiln_session::Config,
) -> anyhow::Result<BTreeMap<OsString, OsString>> {
    let mut env: BTreeMap<OsString, OsString> = std::env::vars_os()
        .filter(|(k, _)| {
            !req.pure
                || k.to_str()
                    .is_some_and(|k| PURE_KEEP.contains(&k) || req.keep.iter().any(|n| n == k))
        })
        .collect();
    for (k, v) in drv_env {
        env.insert(OsString::from_vec(k.clone()), OsString::from_vec(v.clone()));
    }
    for k in ["NIX_BUILD_TOP", "TMPDIR", "TEMPDIR", "TMP", "TEMP"] {
        env.insert(k.into(), tmp.to_owned());
    }
    env.insert("NIX_STORE".into(), store_dir.into());
    env.insert(
        "IN_NIX_SHELL".into(),
        if req.pure { "pure" } else { "impure" }.into(),
    );
    let cores = settings.build_settings()?.cores;
    let cores = if cores == 0 {
        kiln_realise::available_cores()
    } else {
        cores
    };
    env.insert("NIX_BUILD_CORES".into(), cores.to_string().into());
    Ok(env)
}

/// What the rc file depends on.
struct RcParts<'a> {
    dir: &'a Path,
    pure: bool,
    caller_path: &'a std::ffi::OsStr,
    keep_drv_path: bool,
    shell: &'a Path,
    shell_in_store: bool,
    command: Option<&'a str>,
}

/// Quotes `s` for bash, in single quotes.
fn quote(s: &[u8]) -> String {
    let s = String::from_utf8_lossy(s);
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The bash script the shell starts with (`--rcfile`, or the script of a `--run` shell).
fn rc_text(p: &RcParts<'_>) -> String {
    let mut rc = String::new();
    let mut line = |s: &str| {
        rc.push_str(s);
        rc.push('\n');
    };
    line("# The environment of a Kiln development shell (written by kiln, removed on start).");
    line(&format!(
        "command rm -rf {}",
        quote(p.dir.as_os_str().as_encoded_bytes())
    ));
    if !p.pure {
        line("[ -n \"$PS1\" ] && [ -e ~/.bashrc ] && source ~/.bashrc");
    }
    if !p.keep_drv_path {
        line("unset PATH");
    }
    line("_kilnHome=$HOME");
    line("dontAddDisableDepTrack=1");
    line("[ -e \"$stdenv/setup\" ] && source \"$stdenv/setup\"");
    // The setup script is made for builds: its EXIT trap reports a failed phase and it points
    // HOME at /homeless-shelter.
    line("trap - EXIT");
    line("HOME=$_kilnHome; unset _kilnHome");
    if !p.pure {
        line(&format!(
            "PATH=${{PATH:+$PATH:}}{}",
            quote(p.caller_path.as_encoded_bytes())
        ));
    }
    let shell = quote(p.shell.as_os_str().as_encoded_bytes());
    if p.shell_in_store {
        let dir = p.shell.parent().unwrap_or(Path::new("/"));
        line(&format!(
            "PATH={}${{PATH:+:$PATH}}",
            quote(dir.as_os_str().as_encoded_bytes())
        ));
    }
    line("export PATH");
    line(&format!("SHELL={shell}; BASH={shell}"));
    line("set +e");
    let colour = if is_root() { "31" } else { "32" };
    line(&format!(
        "[ -n \"$PS1\" ] && [ -z \"$NIX_SHELL_PRESERVE_PROMPT\" ] && PS1='\\n\\[\\033[1;{colour}m\\][nix-shell:\\w]\\$\\[\\033[0m\\] '"
    ));
    line("if [ \"$(type -t runHook)\" = function ]; then runHook shellHook; fi");
    line("unset NIX_ENFORCE_PURITY");
    line("shopt -u nullglob");
    match std::env::var_os("TZ") {
        Some(tz) => line(&format!("export TZ={}", quote(tz.as_encoded_bytes()))),
        None => line("unset TZ"),
    }
    line("shopt -s execfail");
    if let Some(c) = p.command {
        line(c);
        line("exit");
    }
    rc
}

/// Whether this process runs as root (the owner of its `/proc/self`).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The command that runs `shell` in a private mount namespace in which the store at
/// `physical` is mounted on `logical` (and its user namespace, when not root).
fn in_store_namespace(
    physical: &Path,
    logical: &Path,
    shell: &Path,
    shell_args: &[OsString],
    caller_path: &std::ffi::OsStr,
) -> anyhow::Result<std::process::Command> {
    let need = |name: &str| {
        find_program(Path::new(name), caller_path).ok_or_else(|| {
            anyhow!(
                "the store '{}' is not at its logical place '{}': entering its shell needs \
                 '{name}' (util-linux) on PATH",
                physical.display(),
                logical.display()
            )
        })
    };
    if !logical.is_dir() {
        bail!(
            "the store '{}' is not at its logical place, and '{}' does not exist to mount it on",
            physical.display(),
            logical.display()
        );
    }
    let unshare = need("unshare")?;
    let mount = need("mount")?;
    let sh = need("sh")?;
    let mut cmd = std::process::Command::new(unshare);
    if !is_root() {
        cmd.args(["--user", "--map-current-user"]);
    }
    cmd.args(["--mount", "--propagation", "private", "--"])
        .arg(sh)
        .arg("-c")
        .arg("\"$0\" --bind \"$1\" \"$2\" || exit 1; shift 3; exec \"$@\"")
        .arg(mount)
        .arg(physical)
        .arg(logical)
        .arg("--")
        .arg(shell)
        .args(shell_args);
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    #[test]
    fn packages_become_nix_shells_expression() {
        assert_eq!(
            super::packages_expr(&["hello".into(), "a.b".into()]),
            "{ ... }@args: with import <nixpkgs> args; (pkgs.runCommandCC or pkgs.runCommand) \
             \"shell\" { buildInputs = [ (hello) (a.b) ]; } \"\""
        );
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(super::quote(b"a'b"), r"'a'\''b'");
    }
}
