//! `kiln nar`: create, unpack and inspect Nix archives.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum NarCommand {}

pub fn run(cmd: NarCommand) -> anyhow::Result<()> {
    match cmd {}
}
