//! `kiln key`: binary cache signing keys.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {}

pub fn run(cmd: KeyCommand) -> anyhow::Result<()> {
    match cmd {}
}
