//! The configuration in effect: `kiln_session::Config` loaded on this process's host, with the
//! `--option` pairs of the command line. The layering and the typed settings are the
//! session's (`kiln_session::Config`, `kiln_session::settings`); this module only wires.

/// Loads every layer; `options` are the `--option` pairs, flattened as NAME, VALUE, ….
pub fn load(options: &[String]) -> anyhow::Result<kiln_session::Config> {
    let pairs: Vec<(String, String)> = options
        .chunks(2)
        .filter_map(|pair| match pair {
            [name, value] => Some((name.clone(), value.clone())),
            _ => None,
        })
        .collect();
    Ok(kiln_session::Config::load(crate::host(), &pairs)?)
}

/// The fetchers' settings when no configuration is at hand: Nix's default `tarball-ttl`.
pub fn default_fetch_settings() -> kiln_fetch::FetchSettings {
    kiln_fetch::FetchSettings::new(crate::host().fetch_cache_dir())
}
