//! Kiln's configuration, layered and typed: [`Config::load`] reads the layers into a
//! `kiln_formats::config::Settings`, and its accessors turn the settings of the
//! [table](crate::settings) into each library's own settings type.
//!
//! Layers, later ones winning: [`HostEnv::config_files`] (`$KILN_CONF_DIR/kiln.conf`, default
//! `/etc/kiln/kiln.conf`, then `$XDG_CONFIG_HOME/kiln/kiln.conf`; a missing file is skipped),
//! the text of the `KILN_CONFIG` variable, then each `--option NAME VALUE`. The machine's
//! `/etc/nix` is never read, so Kiln and an installed Nix do not disturb each other.
//!
//! A value is checked when an accessor reads it; an unset setting gets the library type's
//! default, which the tests hold equal to the table's.

use std::path::{Path, PathBuf};

use kiln_eval::EvalSettings;
use kiln_fetch::{FetchSettings, Mirrors};
use kiln_formats::config::{Loaded, Settings};
use kiln_realise::sandbox::SandboxPath;
use kiln_realise::BuildSettings;
use kiln_store::{GcAction, GcOptions};

use crate::settings::{parse_bool, parse_limit, parse_max_jobs, parse_number, parse_sandbox};
use crate::HostEnv;

/// Why the configuration could not be loaded or a setting not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A configuration file could not be read.
    #[error("reading '{}'", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file's or `KILN_CONFIG`'s text is not valid `nix.conf` syntax, or an include failed.
    #[error(transparent)]
    Syntax(#[from] kiln_formats::config::ConfigError),
    /// A setting's value is not of its kind.
    #[error("option '{name}' has invalid value '{value}' (expected {expected})")]
    Invalid {
        /// The setting.
        name: String,
        /// Its value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// A numeric setting's value is not a number of the right range.
    #[error("option '{name}' has invalid value '{value}'")]
    Number {
        /// The setting.
        name: String,
        /// Its value.
        value: String,
        /// Why it does not parse.
        #[source]
        source: std::num::ParseIntError,
    },
}

/// The settings in effect, with typed accessors.
#[derive(Debug, Clone)]
pub struct Config {
    settings: Settings,
    fetch_cache_dir: PathBuf,
    apt_debian_mirror: Option<String>,
    env_abort_on_warn: bool,
}

/// Reads a file for the settings parser: `None` when it does not exist.
fn read(path: &Path) -> Result<Option<String>, std::io::Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn include(path: &Path) -> Loaded {
    read(path).map_err(|e| e.to_string())
}

impl Config {
    /// Loads every layer: the host's configuration files, `KILN_CONFIG`, then `options` (the
    /// `--option NAME VALUE` pairs, in order).
    pub fn load(host: &HostEnv, options: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut settings = Settings::new();
        for path in host.config_files() {
            let text = read(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            if let Some(text) = text {
                settings.apply(&path, &text, &mut include)?;
            }
        }
        if let Some(text) = &host.kiln_config {
            settings.apply(Path::new("KILN_CONFIG"), text, &mut include)?;
        }
        for (name, value) in options {
            settings.set(name, value);
        }
        Ok(Config::new(host, settings))
    }

    /// The typed view of `settings`, already layered, on `host`.
    pub fn new(host: &HostEnv, settings: Settings) -> Config {
        Config {
            settings,
            fetch_cache_dir: host.fetch_cache_dir(),
            apt_debian_mirror: host.apt_debian_mirror.clone(),
            // Nix 2.26 also takes `NIX_ABORT_ON_WARN=1` (or `true`, `yes`) from the environment.
            env_abort_on_warn: host
                .nix_abort_on_warn
                .as_deref()
                .is_some_and(|v| matches!(v, "1" | "true" | "yes")),
        }
    }

    /// The settings as text, every one that was set.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The value of `name` as text: what was set, else the table's default; `None` for a name
    /// that is neither set nor in the table.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.settings
            .get(name)
            .or_else(|| crate::settings::lookup(name).map(|s| s.default))
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, ConfigError> {
        self.settings
            .get(name)
            .map(|v| parse_bool(name, v))
            .transpose()
    }

    fn number<T: std::str::FromStr<Err = std::num::ParseIntError>>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ConfigError> {
        self.settings
            .get(name)
            .map(|v| parse_number(name, v))
            .transpose()
    }

    fn list(&self, name: &str) -> impl Iterator<Item = &str> {
        self.settings.get_list(name).into_iter()
    }

    /// The evaluator's settings: `max-call-depth`, `abort-on-warn` (also on with
    /// `NIX_ABORT_ON_WARN`), `trace-verbose`, `experimental-features`, `pure-eval`,
    /// `restrict-eval`. The search path stays empty: commands fill it from `-I` and
    /// `NIX_PATH` ([`crate::search_path`]).
    pub fn eval_settings(&self) -> Result<EvalSettings, ConfigError> {
        let defaults = EvalSettings::default();
        Ok(EvalSettings {
            max_call_depth: self
                .number::<i64>("max-call-depth")?
                .map_or(defaults.max_call_depth, |n| n.max(1) as usize),
            abort_on_warn: self
                .bool("abort-on-warn")?
                .unwrap_or(defaults.abort_on_warn)
                || self.env_abort_on_warn,
            trace_verbose: self
                .bool("trace-verbose")?
                .unwrap_or(defaults.trace_verbose),
            experimental_features: self
                .list("experimental-features")
                .map(str::to_owned)
                .collect(),
            pure_eval: self.bool("pure-eval")?.unwrap_or(defaults.pure_eval),
            restrict_eval: self
                .bool("restrict-eval")?
                .unwrap_or(defaults.restrict_eval),
            ..defaults
        })
    }

    /// The build settings: `max-jobs`, `cores`, `sandbox`, `sandbox-fallback`,
    /// `sandbox-paths`, `keep-going`, `keep-failed`, `keep-build-log`, `timeout`,
    /// `max-silent-time`, `system`, `extra-platforms`, `build-dir`, `log-lines`.
    pub fn build_settings(&self) -> Result<BuildSettings, ConfigError> {
        let mut b = BuildSettings::default();
        let get = |name| self.settings.get(name);
        if let Some(v) = get("max-jobs") {
            b.max_jobs = parse_max_jobs("max-jobs", v)?;
        }
        if let Some(n) = self.number("cores")? {
            b.cores = n;
        }
        if let Some(v) = get("sandbox") {
            b.sandbox = parse_sandbox("sandbox", v)?;
        }
        b.sandbox_paths = self.list("sandbox-paths").map(SandboxPath::parse).collect();
        b.keep_going = self.bool("keep-going")?.unwrap_or(b.keep_going);
        b.keep_failed = self.bool("keep-failed")?.unwrap_or(b.keep_failed);
        b.sandbox_fallback = self.bool("sandbox-fallback")?.unwrap_or(b.sandbox_fallback);
        b.keep_build_log = self.bool("keep-build-log")?.unwrap_or(b.keep_build_log);
        if let Some(v) = get("timeout") {
            b.timeout = parse_limit("timeout", v)?;
        }
        if let Some(v) = get("max-silent-time") {
            b.max_silent_time = parse_limit("max-silent-time", v)?;
        }
        if let Some(v) = get("system") {
            b.system = v.to_owned();
        }
        b.extra_platforms = self.list("extra-platforms").map(str::to_owned).collect();
        if let Some(v) = get("build-dir") {
            b.build_dir_parent = PathBuf::from(v);
        }
        b.mirrors = self.mirrors()?;
        b.download_cache = Some(self.fetch_cache_dir.join("by-hash"));
        if let Some(n) = self.number("log-lines")? {
            b.log_lines = n;
        }
        Ok(b)
    }

    /// The fetchers' settings: the host's fetch cache ([`HostEnv::fetch_cache_dir`]) and
    /// `tarball-ttl`.
    pub fn fetch_settings(&self) -> Result<FetchSettings, ConfigError> {
        let mut res = FetchSettings::new(&self.fetch_cache_dir);
        if let Some(ttl) = self.number::<u64>("tarball-ttl")? {
            res.tarball_ttl = ttl;
        }
        res.mirrors = self.mirrors()?;
        Ok(res)
    }

    /// The `mirrors` setting: its `NAME=URL` words, and `debian=` the Debian mirror of the
    /// host's apt sources ([`HostEnv::apt_debian_mirror`]) when no word names `debian`.
    pub fn mirrors(&self) -> Result<Mirrors, ConfigError> {
        let words: Vec<&str> = self.list("mirrors").collect();
        let mut res = Mirrors::parse(words.iter().copied()).map_err(|_| ConfigError::Invalid {
            name: "mirrors".to_owned(),
            value: words.join(" "),
            expected: "NAME=URL words, each URL http://, https:// or file://",
        })?;
        if !res.has("debian") {
            if let Some(url) = &self.apt_debian_mirror {
                res.add("debian", url);
            }
        }
        Ok(res)
    }

    /// The collector's options for `action`, with `keep-derivations` and `keep-outputs`.
    pub fn gc_options(&self, action: GcAction) -> Result<GcOptions, ConfigError> {
        let defaults = GcOptions::default();
        Ok(GcOptions {
            action,
            keep_derivations: self
                .bool("keep-derivations")?
                .unwrap_or(defaults.keep_derivations),
            keep_outputs: self.bool("keep-outputs")?.unwrap_or(defaults.keep_outputs),
            ..defaults
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(dir: &Path, kiln_config: Option<&str>) -> HostEnv {
        HostEnv {
            kiln_conf_dir: Some(dir.join("etc")),
            xdg_config_home: Some(dir.join("xdg")),
            xdg_cache_home: Some(dir.join("cache")),
            kiln_config: kiln_config.map(str::to_owned),
            ..HostEnv::default()
        }
    }

    fn pairs(options: &[(&str, &str)]) -> Vec<(String, String)> {
        options
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_files_then_kiln_config_then_options() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::create_dir_all(dir.path().join("xdg/kiln")).unwrap();
        std::fs::write(
            dir.path().join("etc/kiln.conf"),
            "cores = 2\nmax-jobs = 2\ntimeout = 2\nlog-lines = 2\nsandbox-paths = /a\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("xdg/kiln/kiln.conf"),
            "max-jobs = 3\ntimeout = 3\nlog-lines = 3\nextra-sandbox-paths = /b\n",
        )
        .unwrap();
        let host = host(dir.path(), Some("timeout = 4\nlog-lines = 4\n"));
        let config = Config::load(&host, &pairs(&[("log-lines", "5")])).unwrap();
        let b = config.build_settings().unwrap();
        assert_eq!(b.cores, 2);
        assert_eq!(b.max_jobs, 3);
        assert_eq!(b.timeout, Some(std::time::Duration::from_secs(4)));
        assert_eq!(b.log_lines, 5);
        let paths: Vec<_> = b.sandbox_paths.iter().map(|p| p.target.as_str()).collect();
        assert_eq!(paths, ["/a", "/b"]);
        assert_eq!(config.text("log-lines"), Some("5"));
        assert_eq!(config.text("keep-outputs"), Some("false"));
        assert_eq!(config.text("no-such-setting"), None);
        assert_eq!(
            config.fetch_settings().unwrap().cache_dir,
            dir.path().join("cache/kiln/fetchers")
        );
    }

    #[test]
    fn a_broken_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/kiln.conf"), "\nnot a setting\n").unwrap();
        let err = Config::load(&host(dir.path(), None), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:2: illegal configuration line 'not a setting'",
                dir.path().join("etc/kiln.conf").display()
            )
        );
    }

    #[test]
    fn invalid_values_are_errors_when_read() {
        let host = HostEnv::default();
        let with = |name: &str, value: &str| {
            let mut s = Settings::new();
            s.set(name, value);
            Config::new(&host, s)
        };
        let err = with("max-jobs", "x").build_settings().unwrap_err();
        assert_eq!(err.to_string(), "option 'max-jobs' has invalid value 'x'");
        assert_eq!(
            std::error::Error::source(&err).unwrap().to_string(),
            "invalid digit found in string"
        );
        let err = with("sandbox", "maybe").build_settings().unwrap_err();
        assert_eq!(
            err.to_string(),
            "option 'sandbox' has invalid value 'maybe' (expected true or false)"
        );
        assert!(with("sandbox", "relaxed").build_settings().unwrap().sandbox);
        with("pure-eval", "x").eval_settings().unwrap_err();
        with("keep-outputs", "x")
            .gc_options(GcAction::DeleteDead)
            .unwrap_err();
        with("tarball-ttl", "soon").fetch_settings().unwrap_err();
        // A setting Kiln only accepts is not judged.
        with("http-connections", "many").build_settings().unwrap();
    }

    #[test]
    fn accessors_read_what_they_promise() {
        let mut s = Settings::new();
        for (n, v) in [
            ("max-call-depth", "0"),
            ("trace-verbose", "yes"),
            ("experimental-features", "pipe-operators fetch-tree"),
            ("keep-derivations", "false"),
            ("keep-outputs", "1"),
            ("tarball-ttl", "60"),
            ("max-jobs", "auto"),
        ] {
            s.set(n, v);
        }
        let host = HostEnv {
            nix_abort_on_warn: Some("yes".into()),
            ..HostEnv::default()
        };
        let config = Config::new(&host, s);
        let e = config.eval_settings().unwrap();
        assert_eq!(e.max_call_depth, 1);
        assert!(e.trace_verbose && e.abort_on_warn && !e.pure_eval);
        assert!(e.has_feature("fetch-tree"));
        let gc = config.gc_options(GcAction::ReturnDead).unwrap();
        assert_eq!(gc.action, GcAction::ReturnDead);
        assert!(!gc.keep_derivations && gc.keep_outputs);
        assert_eq!(config.fetch_settings().unwrap().tarball_ttl, 60);
        assert_eq!(
            config.build_settings().unwrap().max_jobs,
            kiln_realise::available_cores() as usize
        );
    }

    #[test]
    fn mirrors_default_to_the_apt_debian_mirror() {
        let host = HostEnv {
            apt_debian_mirror: Some("http://deb.example/debian".into()),
            ..HostEnv::default()
        };
        let unset = Config::new(&host, Settings::new());
        assert_eq!(
            unset.fetch_settings().unwrap().mirrors.words(),
            ["debian=http://deb.example/debian"]
        );
        let mut s = Settings::new();
        s.set(
            "mirrors",
            "debian=file:///srv/debian gnu=https://ftp.example/gnu",
        );
        let set = Config::new(&host, s);
        assert_eq!(
            set.build_settings().unwrap().mirrors.words(),
            ["debian=file:///srv/debian", "gnu=https://ftp.example/gnu"]
        );
        let mut s = Settings::new();
        s.set("mirrors", "debian");
        let err = Config::new(&host, s)
            .fetch_settings()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("option 'mirrors' has invalid value 'debian'"),
            "{err}"
        );
    }

    /// With nothing set, each accessor gives what it gives with every honoured setting at the
    /// table's default: the table tells the truth about the defaults.
    #[test]
    fn the_table_defaults_are_the_accessors_defaults() {
        let host = HostEnv::default();
        let mut s = Settings::new();
        for setting in crate::settings::SETTINGS {
            if setting.support == crate::settings::Support::Honoured && setting.name != "build-dir"
            {
                s.set(setting.name, setting.default);
            }
        }
        let set = Config::new(&host, s);
        let unset = Config::new(&host, Settings::new());
        let debug = |c: &Config| {
            format!(
                "{:?} {:?} {:?} {:?}",
                c.eval_settings().unwrap(),
                c.build_settings().unwrap(),
                c.fetch_settings().unwrap(),
                c.gc_options(GcAction::DeleteDead).unwrap()
            )
        };
        assert_eq!(debug(&set), debug(&unset));
        // `build-dir`'s empty default stands for `$TMPDIR`, else /tmp.
        assert_eq!(crate::settings::lookup("build-dir").unwrap().default, "");
    }
}
