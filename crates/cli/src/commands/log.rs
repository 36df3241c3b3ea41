//! `kiln log PATH`: print the build log of a derivation, or of the derivation that built a
//! store path, from `<state>/../log/nix/drvs/` (bzip2, where Nix keeps them too).

use std::io::{Read, Write};

use anyhow::Context;
use clap::Args;
use kiln_store::Store;

use crate::cli::GlobalArgs;

/// Arguments of `kiln log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// A `.drv` path, or an output path whose deriver is known
    path: String,
}

/// Runs `kiln log`.
pub fn run(args: LogArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let store = crate::commands::store::open_store(global)?;
    let path = store.parse_path(args.path.trim_end_matches(['^', '*']))?;
    let drv = if path.is_derivation() {
        path
    } else {
        store
            .query_path_info(&path)?
            .and_then(|i| i.deriver)
            .with_context(|| format!("path '{}' has no known deriver", args.path))?
    };
    let text = read_build_log(&store, &drv)?;
    let mut out = crate::output::stdout();
    out.write_all(&text)?;
    out.flush()?;
    Ok(())
}

/// The build log of `drv`, decompressed.
pub fn read_build_log(
    store: &kiln_store::LocalStore,
    drv: &kiln_formats::store_path::StorePath,
) -> anyhow::Result<Vec<u8>> {
    let file = kiln_realise::log_path(store, drv);
    let f = std::fs::File::open(&file).with_context(|| {
        format!(
            "build log of derivation '{}' is not available",
            drv.to_absolute(store.store_dir())
        )
    })?;
    let mut text = Vec::new();
    bzip2::read::MultiBzDecoder::new(f)
        .read_to_end(&mut text)
        .with_context(|| format!("reading '{}'", file.display()))?;
    Ok(text)
}
