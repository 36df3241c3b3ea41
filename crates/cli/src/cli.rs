//! The `kiln` command line: its clap definition and dispatch.
//!
//! The doc comment on each argument is its help text, the single source of truth.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{
    build, collect_garbage, config, copy, derivation, eval, flake, hash, instantiate, key, log,
    nar, os, profile, repl, search, serve, shell, store,
};

/// Kiln: Nix and NixOS, reimplemented in Rust
#[derive(Debug, Parser)]
#[command(name = "kiln", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Use the store rooted at DIR (files under DIR/nix/store, state under DIR/nix/var/nix);
    /// default: / (the machine's /nix) when /nix is writable, else $XDG_DATA_HOME/kiln/root
    #[arg(long, global = true, env = "KILN_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Set configuration option NAME to VALUE, overriding configuration files
    #[arg(long = "option", global = true, num_args = 2, value_names = ["NAME", "VALUE"])]
    pub option: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build derivations (from an expression or store paths) and print their output paths
    Build(build::BuildArgs),
    /// Copy store paths and their closures to or from a binary cache
    Copy(copy::CopyArgs),
    /// Evaluate a Nix expression and print its value
    Eval(eval::EvalArgs),
    /// Inspect store derivations
    #[command(subcommand)]
    Derivation(derivation::DerivationCommand),
    /// Evaluate an expression and write its derivations to the store, printing their paths
    Instantiate(instantiate::InstantiateArgs),
    /// Print the build log of a derivation or of a store path's deriver
    Log(log::LogArgs),
    /// Compute and convert cryptographic hashes
    #[command(subcommand)]
    Hash(hash::HashCommand),
    /// Create, unpack and inspect Nix archives (NAR)
    #[command(subcommand)]
    Nar(nar::NarCommand),
    /// Generate and convert binary cache signing keys
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Show the configuration in effect
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Add to, inspect, check and clean the local store
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Evaluate expressions interactively (read, evaluate, print, loop)
    Repl(repl::ReplArgs),
    /// Find packages of a package set by attribute path, name or description
    Search(search::SearchArgs),
    /// Serve the local store as a binary cache over HTTP
    Serve(serve::ServeArgs),
    /// Start a shell in the build environment of packages (-p) of the package set
    Shell(shell::ShellArgs),
    /// Start a shell in the build environment of a derivation, without building it
    Develop(shell::ShellArgs),
    /// Delete old profile generations (with -d or --delete-older-than), then unreachable
    /// store paths
    CollectGarbage(collect_garbage::CollectGarbageArgs),
    /// Install, remove and upgrade packages in a profile; list, roll back and diff its
    /// generations
    Profile(profile::ProfileArgs),
    /// Build system configurations; switch, roll back, list and compare system generations
    Os(os::OsArgs),
    /// Lock, update, show, describe and check flakes
    #[command(subcommand)]
    Flake(flake::FlakeCommand),
}

/// Parses the command line and runs the command.
pub fn run() -> anyhow::Result<()> {
    let mut cli = Cli::parse();
    // clap keeps only the last occurrences of a global option given both before and after
    // the subcommand; every `--option NAME VALUE` counts, in order.
    cli.global.option = option_pairs(std::env::args().skip(1));
    let settings = crate::config::load(&cli.global.option)?;
    match cli.command {
        Command::Build(args) => build::run(args, &cli.global, &cli.global.option),
        Command::Config(cmd) => config::run(cmd, &settings),
        Command::Copy(args) => copy::run(args, &cli.global, &settings),
        Command::Eval(args) => eval::run(args, &settings),
        Command::Derivation(cmd) => derivation::run(cmd, &cli.global),
        Command::Instantiate(args) => instantiate::run(args, &cli.global, &settings),
        Command::Hash(cmd) => hash::run(cmd),
        Command::Log(args) => log::run(args, &cli.global),
        Command::Nar(cmd) => nar::run(cmd),
        Command::Key(cmd) => key::run(cmd),
        Command::Store(cmd) => store::run(cmd, &cli.global, &settings),
        Command::Repl(args) => repl::run(args, &cli.global, &settings),
        Command::Search(args) => search::run(args, &cli.global, &settings),
        Command::Serve(args) => serve::run(args, &cli.global, &settings),
        Command::Shell(args) => shell::run(args, &cli.global, true),
        Command::Develop(args) => shell::run(args, &cli.global, false),
        Command::CollectGarbage(args) => collect_garbage::run(args, &cli.global),
        Command::Profile(args) => profile::run(args, &cli.global, &cli.global.option),
        Command::Os(args) => os::run(args, &cli.global),
        Command::Flake(cmd) => flake::run(cmd, &cli.global),
    }
}

/// Every `--option NAME VALUE` in `args` (up to a `--`), flattened.
fn option_pairs(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut res = Vec::new();
    let mut args = args;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--" => break,
            "--option" => res.extend(args.by_ref().take(2)),
            _ => {}
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn options_before_and_after_the_subcommand_all_count() {
        let args = [
            "--option", "a", "1", "build", "--option", "b", "2", "--", "--option",
        ];
        assert_eq!(
            super::option_pairs(args.iter().map(|s| s.to_string())),
            ["a", "1", "b", "2"]
        );
    }

    #[test]
    fn clap_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
