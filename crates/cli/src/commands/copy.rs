//! `kiln copy`: copy store paths and their closures to or from a binary cache (`nix copy`).
//!
//! `--to URL` uploads from the local store (`--store`), skipping what the cache has, signing
//! with `--secret-key-file` or the `secret-key-files` setting; `--from URL` substitutes into
//! it, checking signatures against `trusted-public-keys` unless `--no-check-sigs`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use kiln_cache::{
    copy_to, read_secret_key, BinaryCache, CopyEvent, SubstEvent, Substituters, UploadOptions,
};
use kiln_formats::signing::TrustedKeys;
use kiln_store::Store;

use crate::cli::GlobalArgs;

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The binary cache to copy to (`file:///dir`, `http(s)://…`; `?compression=zstd`)
    #[arg(long, value_name = "URL", conflicts_with = "from")]
    to: Option<String>,
    /// The binary cache to copy from
    #[arg(long, value_name = "URL")]
    from: Option<String>,
    /// Sign what is uploaded with this secret key (beside `secret-key-files`)
    #[arg(long, value_name = "FILE")]
    secret_key_file: Vec<PathBuf>,
    /// Accept paths from the cache without a trusted signature
    #[arg(long)]
    no_check_sigs: bool,
    /// The store paths (their closures are copied)
    #[arg(required = true)]
    paths: Vec<String>,
}

pub fn run(
    args: CopyArgs,
    global: &GlobalArgs,
    settings: &kiln_session::Config,
) -> anyhow::Result<()> {
    let store = super::store::open_store(global)?;
    let mut paths = BTreeSet::new();
    for p in &args.paths {
        paths.insert(super::store::store_path(&store, p)?);
    }
    let dir = store.store_dir().to_owned();
    match (&args.to, &args.from) {
        (Some(url), None) => {
            let mut cache = BinaryCache::open_with(url, &dir, &settings.cache_options()?)?;
            let mut secret_keys = Vec::new();
            let configured = settings.text("secret-key-files").unwrap_or_default();
            for f in configured
                .split_whitespace()
                .map(PathBuf::from)
                .chain(args.secret_key_file.iter().cloned())
            {
                secret_keys.push(read_secret_key(&f)?);
            }
            let opts = UploadOptions {
                compression: cache.upload_compression()?,
                secret_keys,
                scratch_dir: crate::host().temp_dir(),
            };
            let url_text = cache.url().to_owned();
            let res = copy_to(&store, &mut cache, &paths, &opts, &mut |e| match e {
                CopyEvent::Planned { to_copy, .. } if to_copy > 0 => {
                    eprintln!("copying {to_copy} paths...");
                }
                CopyEvent::Planned { .. } => {}
                CopyEvent::Copying(p) => {
                    eprintln!("copying path '{}' to '{url_text}'...", p.to_absolute(&dir));
                }
            })
            .with_context(|| format!("copying to '{url_text}'"))?;
            let _ = res;
        }
        (None, Some(url)) => {
            let cache = BinaryCache::open_with(url, &dir, &settings.cache_options()?)?;
            let trusted = if args.no_check_sigs {
                TrustedKeys::new()
            } else {
                let keys = settings.text("trusted-public-keys").unwrap_or_default();
                TrustedKeys::parse_list(keys).context("reading trusted-public-keys")?
            };
            let require_sigs =
                !args.no_check_sigs && settings.text("require-sigs").is_none_or(|v| v != "false");
            let subs = Substituters::new(vec![cache], trusted, require_sigs);
            let observe = |e: SubstEvent<'_>| match e {
                SubstEvent::Fetching { path, url } => {
                    eprintln!("copying path '{}' from '{url}'...", path.to_absolute(&dir));
                }
                SubstEvent::Skipped { path, url, why } => {
                    eprintln!(
                        "warning: ignoring '{}' from '{url}': {why}",
                        path.to_absolute(&dir)
                    );
                }
                _ => {}
            };
            let plan = subs.plan(&store, &paths, &observe)?;
            if let Some(p) = plan.missing.iter().next() {
                bail!(
                    "'{url}' does not have '{}' (or not signed by a trusted key)",
                    p.to_absolute(&dir)
                );
            }
            if !plan.fetch.is_empty() {
                eprintln!("copying {} paths...", plan.fetch.len());
            }
            subs.fetch(&store, &plan, &observe)?;
        }
        _ => bail!("give --to URL or --from URL"),
    }
    Ok(())
}
