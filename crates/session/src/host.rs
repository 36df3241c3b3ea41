//! The host's side of a session: the environment variables and well-known places Kiln
//! consults, and the two variables that carry settings (`KILN_CONFIG`, `NIX_ABORT_ON_WARN`),
//! read once ([`HostEnv::from_process`]) so that every library below takes plain paths and no
//! crate but this one reads the environment for its defaults.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variables that decide Kiln's default places.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostEnv {
    /// `HOME`.
    pub home: Option<PathBuf>,
    /// `XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<PathBuf>,
    /// `XDG_CACHE_HOME`.
    pub xdg_cache_home: Option<PathBuf>,
    /// `XDG_DATA_HOME`.
    pub xdg_data_home: Option<PathBuf>,
    /// `KILN_STORE`: the store root when no `--store` is given.
    pub kiln_store: Option<PathBuf>,
    /// `KILN_CONF_DIR`: the directory of the system-wide `kiln.conf` (default `/etc/kiln`).
    pub kiln_conf_dir: Option<PathBuf>,
    /// `NIX_PATH`: search path entries after the `-I` ones.
    pub nix_path: Option<String>,
    /// `USER`: whose profile is the default one.
    pub user: Option<String>,
    /// `KILN_CONFIG`: configuration text applied after the files, before `--option`.
    pub kiln_config: Option<String>,
    /// `NIX_ABORT_ON_WARN`: `1`, `true` or `yes` turns `abort-on-warn` on, as in Nix 2.26.
    pub nix_abort_on_warn: Option<String>,
    /// The Debian mirror the machine's apt sources name ([`debian_mirror_from_apt`]): the
    /// default of the `debian` entry of the `mirrors` setting.
    pub apt_debian_mirror: Option<String>,
}

/// A variable's value, `None` when unset or empty.
fn var(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

impl HostEnv {
    /// Reads the variables of this process.
    pub fn from_process() -> Self {
        HostEnv {
            home: var("HOME").map(PathBuf::from),
            xdg_config_home: var("XDG_CONFIG_HOME").map(PathBuf::from),
            xdg_cache_home: var("XDG_CACHE_HOME").map(PathBuf::from),
            xdg_data_home: var("XDG_DATA_HOME").map(PathBuf::from),
            kiln_store: var("KILN_STORE").map(PathBuf::from),
            kiln_conf_dir: var("KILN_CONF_DIR").map(PathBuf::from),
            nix_path: std::env::var("NIX_PATH").ok(),
            user: std::env::var("USER").ok().filter(|u| !u.is_empty()),
            kiln_config: std::env::var("KILN_CONFIG").ok(),
            nix_abort_on_warn: std::env::var("NIX_ABORT_ON_WARN").ok(),
            apt_debian_mirror: debian_mirror_from_apt(&read_apt_sources(Path::new("/etc/apt"))),
        }
    }

    /// `$XDG_CACHE_HOME/kiln/fetchers`, else `$HOME/.cache/kiln/fetchers`, else under the
    /// system's temporary directory: where fetches are cached.
    pub fn fetch_cache_dir(&self) -> PathBuf {
        self.xdg_cache_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".cache")))
            .unwrap_or_else(std::env::temp_dir)
            .join("kiln")
            .join("fetchers")
    }

    /// The default store root: `/` (the machine's `/nix`) when `/nix` is writable by this
    /// process or missing where it can be made (root on a fresh machine, as Nix does), else
    /// `$XDG_DATA_HOME/kiln/root` (`~/.local/share/kiln/root`).
    pub fn default_root(&self) -> PathBuf {
        let writable = rustix::fs::access("/nix", rustix::fs::Access::WRITE_OK).is_ok()
            || (!Path::new("/nix").exists()
                && rustix::fs::access("/", rustix::fs::Access::WRITE_OK).is_ok());
        if writable {
            return PathBuf::from("/");
        }
        self.xdg_data_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join("kiln/root")
    }

    /// The store root to use: `explicit` (`--store DIR`), else `KILN_STORE`, else
    /// [`Self::default_root`].
    pub fn store_root(&self, explicit: Option<&Path>) -> PathBuf {
        explicit
            .map(Path::to_path_buf)
            .or_else(|| self.kiln_store.clone())
            .unwrap_or_else(|| self.default_root())
    }

    /// The configuration files to read, system-wide first: `$KILN_CONF_DIR/kiln.conf`
    /// (default `/etc/kiln/kiln.conf`), then `$XDG_CONFIG_HOME/kiln/kiln.conf` (default
    /// `~/.config/kiln/kiln.conf`).
    pub fn config_files(&self) -> Vec<PathBuf> {
        let system = self
            .kiln_conf_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/kiln"));
        let mut res = vec![system.join("kiln.conf")];
        let user = self
            .xdg_config_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".config")));
        if let Some(dir) = user {
            res.push(dir.join("kiln").join("kiln.conf"));
        }
        res
    }
}

/// The apt source files under `dir` (`/etc/apt`): `sources.list`, then `sources.list.d/`'s
/// `*.list` and `*.sources` files in name order, each with whether it is in the deb822 format
/// (`.sources`). Unreadable files are skipped.
pub fn read_apt_sources(dir: &Path) -> Vec<(bool, String)> {
    let mut files = vec![dir.join("sources.list")];
    if let Ok(entries) = std::fs::read_dir(dir.join("sources.list.d")) {
        let mut more: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "list" || x == "sources"))
            .collect();
        more.sort();
        files.extend(more);
    }
    files
        .into_iter()
        .filter_map(|p| {
            let deb822 = p.extension().is_some_and(|x| x == "sources");
            std::fs::read_to_string(&p).ok().map(|t| (deb822, t))
        })
        .collect()
}

/// The first `deb` source URI whose path ends in `/debian` (the layout of Debian's mirrors,
/// e.g. `http://deb.debian.org/debian`), from apt source files in the one-line format
/// (`deb [options] URI suite components`) or deb822 (`Types: deb`, `URIs: …` stanzas).
pub fn debian_mirror_from_apt(files: &[(bool, String)]) -> Option<String> {
    let is_debian = |uri: &str| {
        (uri.starts_with("http://") || uri.starts_with("https://") || uri.starts_with("file://"))
            && uri.trim_end_matches('/').ends_with("/debian")
    };
    for (deb822, text) in files {
        if *deb822 {
            for stanza in text.split("\n\n") {
                let mut types = Vec::new();
                let mut uris = Vec::new();
                let mut enabled = true;
                for line in stanza.lines() {
                    if line.starts_with('#') {
                        continue;
                    }
                    let Some((key, value)) = line.split_once(':') else {
                        continue;
                    };
                    let words = value.split_whitespace();
                    match key.trim().to_ascii_lowercase().as_str() {
                        "types" => types.extend(words),
                        "uris" => uris.extend(words),
                        "enabled" => enabled = value.trim() != "no",
                        _ => {}
                    }
                }
                if enabled && types.contains(&"deb") {
                    if let Some(u) = uris.into_iter().find(|u| is_debian(u)) {
                        return Some(u.trim_end_matches('/').to_owned());
                    }
                }
            }
        } else {
            for line in text.lines() {
                let mut words = line.split_whitespace();
                if words.next() != Some("deb") {
                    continue;
                }
                let mut uri = words.next();
                if uri.is_some_and(|u| u.starts_with('[')) {
                    // Options: up to the word that ends with `]`.
                    let mut w = uri;
                    while let Some(x) = w {
                        if x.ends_with(']') {
                            break;
                        }
                        w = words.next();
                    }
                    uri = words.next();
                }
                if let Some(u) = uri.filter(|u| is_debian(u)) {
                    return Some(u.trim_end_matches('/').to_owned());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debian_mirror_comes_from_apt_sources() {
        let deb822 =
            "Types: deb\n# a comment\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\n\
                      Types: deb\nURIs: http://deb.debian.org/debian-security\n";
        assert_eq!(
            debian_mirror_from_apt(&[(true, deb822.to_owned())]).as_deref(),
            Some("http://deb.debian.org/debian")
        );
        let disabled = "Types: deb\nEnabled: no\nURIs: http://a.example/debian\n\n\
                        Types: deb-src\nURIs: http://b.example/debian\n";
        assert_eq!(debian_mirror_from_apt(&[(true, disabled.to_owned())]), None);
        let list = "# deb http://commented.example/debian bookworm main\n\
                    deb https://packages.cloud.google.com/apt cloud-sdk main\n\
                    deb [arch=amd64 signed-by=/k.gpg] http://ftp.example.org/debian/ bookworm main\n";
        assert_eq!(
            debian_mirror_from_apt(&[(false, list.to_owned())]).as_deref(),
            Some("http://ftp.example.org/debian")
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sources.list.d")).unwrap();
        std::fs::write(dir.path().join("sources.list.d/debian.sources"), deb822).unwrap();
        std::fs::write(dir.path().join("sources.list.d/x.disabled"), list).unwrap();
        assert_eq!(read_apt_sources(dir.path()), [(true, deb822.to_owned())]);
    }

    #[test]
    fn xdg_wins_over_home() {
        let env = HostEnv {
            home: Some("/home/u".into()),
            xdg_cache_home: Some("/c".into()),
            ..HostEnv::default()
        };
        assert_eq!(env.fetch_cache_dir(), Path::new("/c/kiln/fetchers"));
        let env = HostEnv {
            home: Some("/home/u".into()),
            ..HostEnv::default()
        };
        assert_eq!(
            env.fetch_cache_dir(),
            Path::new("/home/u/.cache/kiln/fetchers")
        );
        assert_eq!(
            env.config_files(),
            [
                PathBuf::from("/etc/kiln/kiln.conf"),
                PathBuf::from("/home/u/.config/kiln/kiln.conf")
            ]
        );
    }

    #[test]
    fn an_explicit_store_wins() {
        let env = HostEnv {
            kiln_store: Some("/k".into()),
            ..HostEnv::default()
        };
        assert_eq!(env.store_root(Some(Path::new("/s"))), Path::new("/s"));
        assert_eq!(env.store_root(None), Path::new("/k"));
    }
}
