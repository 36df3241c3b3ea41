//! Kiln's configuration: `nix.conf` syntax, read from Kiln's own files, then overridden by the
//! environment and the command line.
//!
//! Layers, later ones winning: `$KILN_CONF_DIR/kiln.conf` (default `/etc/kiln/kiln.conf`),
//! `$XDG_CONFIG_HOME/kiln/kiln.conf` (default `~/.config/kiln/kiln.conf`), the contents of the
//! `KILN_CONFIG` variable, then each `--option NAME VALUE`. The machine's `/etc/nix` is never
//! read, so Kiln and an installed Nix do not disturb each other.

use std::path::{Path, PathBuf};

use anyhow::Context;
use kiln_formats::config::{Loaded, Settings};

/// Returns the configuration files to read, system-wide first.
pub fn files() -> Vec<PathBuf> {
    crate::host().config_files()
}

/// Reads a file for the settings parser: `None` when it does not exist.
fn load(path: &Path) -> Loaded {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Loads every layer; `options` are the `--option` pairs, flattened as NAME, VALUE, ….
pub fn load_settings(options: &[String]) -> anyhow::Result<Settings> {
    let mut settings = Settings::new();
    for file in files() {
        if let Some(text) = load(&file)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("reading '{}'", file.display()))?
        {
            settings.apply(&file, &text, &mut load)?;
        }
    }
    if let Ok(text) = std::env::var("KILN_CONFIG") {
        settings.apply(Path::new("KILN_CONFIG"), &text, &mut load)?;
    }
    for pair in options.chunks(2) {
        if let [name, value] = pair {
            settings.set(name, value);
        }
    }
    Ok(settings)
}

/// The fetchers' settings: the cache under the user's cache directory, and `tarball-ttl`.
pub fn fetch_settings(settings: &Settings) -> anyhow::Result<kiln_fetch::FetchSettings> {
    let mut res = default_fetch_settings();
    if let Some(ttl) = settings.get_int("tarball-ttl")? {
        res.tarball_ttl = u64::try_from(ttl).unwrap_or(0);
    }
    Ok(res)
}

/// The fetchers' settings when no configuration is at hand: Nix's default `tarball-ttl`.
pub fn default_fetch_settings() -> kiln_fetch::FetchSettings {
    kiln_fetch::FetchSettings::new(crate::host().fetch_cache_dir())
}
