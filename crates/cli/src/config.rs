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
    let system = std::env::var_os("KILN_CONF_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/kiln"));
    let mut res = vec![system.join("kiln.conf")];
    let user = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")));
    if let Some(dir) = user {
        res.push(dir.join("kiln").join("kiln.conf"));
    }
    res
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
