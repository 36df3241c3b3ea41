//! `kiln serve`: the local store as a binary cache over HTTP (like nix-serve/harmonia).
//!
//! Prints the URL it serves at on standard output (so scripts can read the port when
//! `--listen` asks for port 0), then serves until killed.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use kiln_cache::{read_secret_key, Compression};
use kiln_serve::{ServeOptions, Server};

use crate::cli::GlobalArgs;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free one)
    #[arg(long, default_value = "127.0.0.1:5000", value_name = "ADDR:PORT")]
    listen: String,
    /// Sign narinfos with this secret key (beside `secret-key-files`)
    #[arg(long, value_name = "FILE")]
    secret_key_file: Vec<PathBuf>,
    /// Compression of the NARs, done on the fly: zstd or none
    #[arg(long, default_value = "zstd")]
    compression: String,
    /// The priority announced in nix-cache-info (lower is asked first)
    #[arg(long, default_value_t = 30)]
    priority: i32,
    /// How many connections are served at once (more wait to be accepted)
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
}

pub fn run(
    args: ServeArgs,
    global: &GlobalArgs,
    settings: &kiln_session::Config,
) -> anyhow::Result<()> {
    let store = super::store::open_store(global)?;
    let Some(compression) = Compression::parse(&args.compression) else {
        bail!("unknown compression '{}' (zstd or none)", args.compression);
    };
    let mut secret_keys = Vec::new();
    let configured = settings.text("secret-key-files").unwrap_or_default();
    for f in configured
        .split_whitespace()
        .map(PathBuf::from)
        .chain(args.secret_key_file)
    {
        secret_keys.push(read_secret_key(&f)?);
    }
    let opts = ServeOptions {
        secret_keys,
        compression,
        priority: args.priority,
        max_connections: args.max_connections,
    };
    let server = Server::start(&args.listen, Arc::new(store), opts)
        .with_context(|| "starting the binary cache server")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "http://{}", server.local_addr())?;
    out.flush()?;
    drop(out);
    server.wait();
    Ok(())
}
