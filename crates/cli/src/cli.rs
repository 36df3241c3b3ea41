//! The `kiln` command line: its clap definition and dispatch.
//!
//! The doc comment on each argument is its help text, the single source of truth.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{
    collect_garbage, config, derivation, eval, hash, instantiate, key, nar, store,
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
    /// Evaluate a Nix expression and print its value
    Eval(eval::EvalArgs),
    /// Inspect store derivations
    #[command(subcommand)]
    Derivation(derivation::DerivationCommand),
    /// Evaluate an expression and write its derivations to the store, printing their paths
    Instantiate(instantiate::InstantiateArgs),
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
    /// Delete old profile generations (with -d or --delete-older-than), then unreachable
    /// store paths
    CollectGarbage(collect_garbage::CollectGarbageArgs),
}

/// Parses the command line and runs the command.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = crate::config::load_settings(&cli.global.option)?;
    match cli.command {
        Command::Config(cmd) => config::run(cmd, &settings),
        Command::Eval(args) => eval::run(args, &settings),
        Command::Derivation(cmd) => derivation::run(cmd, &cli.global),
        Command::Instantiate(args) => instantiate::run(args, &cli.global, &settings),
        Command::Hash(cmd) => hash::run(cmd),
        Command::Nar(cmd) => nar::run(cmd),
        Command::Key(cmd) => key::run(cmd),
        Command::Store(cmd) => store::run(cmd, &cli.global),
        Command::CollectGarbage(args) => collect_garbage::run(args, &cli.global),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
