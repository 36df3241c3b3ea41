//! `kiln key`: binary cache signing keys in Nix's `name:base64` format.
//!
//! Like `nix key`, keys are printed without a final newline, so `> file` stores exactly the key.

use std::io::{self, Read, Write};

use anyhow::Context;
use clap::Subcommand;
use kiln_formats::signing::SecretKey;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a secret Ed25519 signing key and print it
    GenerateSecret {
        /// Name of the key, conventionally the cache's host name and a number (`cache.example.org-1`)
        #[arg(long)]
        key_name: String,
    },
    /// Read a secret key from standard input and print its public key
    ConvertSecretToPublic,
}

pub fn run(cmd: KeyCommand) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match cmd {
        KeyCommand::GenerateSecret { key_name } => {
            let key = SecretKey::generate(&key_name)?;
            write!(out, "{key}")?;
        }
        KeyCommand::ConvertSecretToPublic => {
            let mut text = String::new();
            io::stdin()
                .read_to_string(&mut text)
                .context("reading the secret key from standard input")?;
            let key = SecretKey::parse(text.trim())?;
            write!(out, "{}", key.to_public())?;
        }
    }
    out.flush()?;
    Ok(())
}
