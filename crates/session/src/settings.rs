//! The table of Nix settings Kiln knows: one [`Setting`] per name, with its [`Kind`] (how its
//! text is read), its default, a one-line description and whether Kiln honours it
//! ([`Support`]).
//!
//! Everything that deals in setting names comes from [`SETTINGS`]: the typed view
//! ([`crate::Config`]) reads values with the kind's parser, the legacy commands make a flag of
//! every entry (`--NAME VALUE`; `--NAME`/`--no-NAME` for booleans; also `--extra-NAME VALUE`
//! for lists, see [`Setting::flag`]), and `kiln config show` prints defaults from it.
//!
//! Decisions: values stay text in `kiln_formats::config::Settings` and are parsed only when
//! read, as Nix 2.8 does for unknown settings, so a file may set a setting Kiln merely accepts
//! without Kiln judging its value. A name missing from the table is kept silently, as before
//! (Nix warns "unknown setting"). Defaults are Nix's as its manual gives them; where Nix's is
//! machine-specific (`system`, `cores`, `extra-platforms`, `system-features`), the text is what
//! Kiln uses on this machine.

use std::num::ParseIntError;
use std::time::Duration;

use crate::ConfigError;

/// How a setting's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `true`/`yes`/`1` or `false`/`no`/`0`, as Nix accepts.
    Bool,
    /// A decimal integer.
    Integer,
    /// A non-negative number of seconds; for time limits 0 means none.
    Seconds,
    /// Any text (a path, a URL, a command).
    Text,
    /// Words separated by whitespace; `extra-NAME` appends to it.
    List,
    /// `max-jobs`: a non-negative integer or `auto` (one job per core).
    MaxJobs,
    /// `sandbox`: a boolean or `relaxed` (Kiln sandboxes every build then).
    Sandbox,
}

/// Whether Kiln acts on a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Kiln reads it and behaves as Nix does.
    Honoured,
    /// Accepted in files, `--option` and flags so that Nix's configurations work, but without
    /// effect (Kiln lacks the feature: substituters, remote builders, the daemon, flakes…).
    Accepted,
}

/// One Nix setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// Nix's name.
    pub name: &'static str,
    /// How its text is read.
    pub kind: Kind,
    /// The value in effect when nothing sets it, as text in the setting's own syntax.
    pub default: &'static str,
    /// What it does, in one line.
    pub description: &'static str,
    /// Whether Kiln acts on it.
    pub support: Support,
}

/// What a command-line flag naming a setting stands for ([`Setting::flag`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingFlag {
    /// `--NAME` (true) or `--no-NAME` (false) of a boolean setting: it takes no value.
    Bool(&'static Setting, bool),
    /// `--NAME VALUE`: sets the setting.
    Set(&'static Setting),
    /// `--extra-NAME VALUE` of a list setting: appends to it.
    Append(&'static Setting),
}

impl Setting {
    /// Checks that `text` is a valid value of this setting.
    pub fn check(&self, text: &str) -> Result<(), ConfigError> {
        match self.kind {
            Kind::Bool => parse_bool(self.name, text).map(drop),
            Kind::Integer => parse_number::<i64>(self.name, text).map(drop),
            Kind::Seconds => parse_number::<u64>(self.name, text).map(drop),
            Kind::Text | Kind::List => Ok(()),
            Kind::MaxJobs => parse_max_jobs(self.name, text).map(drop),
            Kind::Sandbox => parse_sandbox(self.name, text).map(drop),
        }
    }

    /// Whether the setting is a boolean flag on the command line (`--NAME`, `--no-NAME`).
    pub fn is_flag(&self) -> bool {
        matches!(self.kind, Kind::Bool | Kind::Sandbox)
    }

    /// The setting a legacy command-line flag stands for, as Nix makes every setting a flag:
    /// `flag` is `--NAME`, `--no-NAME` (booleans), or `--extra-NAME` (lists).
    pub fn flag(flag: &str) -> Option<SettingFlag> {
        let name = flag.strip_prefix("--")?;
        if let Some(s) = lookup(name) {
            return Some(match s.is_flag() {
                true => SettingFlag::Bool(s, true),
                false => SettingFlag::Set(s),
            });
        }
        if let Some(s) = name.strip_prefix("no-").and_then(lookup) {
            return s.is_flag().then_some(SettingFlag::Bool(s, false));
        }
        let s = lookup(name.strip_prefix("extra-")?)?;
        (s.kind == Kind::List).then_some(SettingFlag::Append(s))
    }
}

/// The setting called `name`, if Kiln knows it.
pub fn lookup(name: &str) -> Option<&'static Setting> {
    SETTINGS
        .binary_search_by(|s| s.name.cmp(name))
        .ok()
        .map(|i| &SETTINGS[i])
}

/// Reads a boolean as Nix does.
pub(crate) fn parse_bool(name: &str, text: &str) -> Result<bool, ConfigError> {
    match text {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(ConfigError::Invalid {
            name: name.to_owned(),
            value: text.to_owned(),
            expected: "true or false",
        }),
    }
}

/// Reads `sandbox`: `relaxed` sandboxes everything but `__noChroot` derivations, which Kiln
/// sandboxes too.
pub(crate) fn parse_sandbox(name: &str, text: &str) -> Result<bool, ConfigError> {
    match text {
        "relaxed" => Ok(true),
        _ => parse_bool(name, text),
    }
}

/// Reads a number of type `T`.
pub(crate) fn parse_number<T: std::str::FromStr<Err = ParseIntError>>(
    name: &str,
    text: &str,
) -> Result<T, ConfigError> {
    text.parse().map_err(|source| ConfigError::Number {
        name: name.to_owned(),
        value: text.to_owned(),
        source,
    })
}

/// Reads `max-jobs`: `auto` is one job per core.
pub(crate) fn parse_max_jobs(name: &str, text: &str) -> Result<usize, ConfigError> {
    match text {
        "auto" => Ok(kiln_realise::available_cores() as usize),
        _ => parse_number(name, text),
    }
}

/// Reads a time limit: 0 is none.
pub(crate) fn parse_limit(name: &str, text: &str) -> Result<Option<Duration>, ConfigError> {
    let n: u64 = parse_number(name, text)?;
    Ok((n > 0).then(|| Duration::from_secs(n)))
}

macro_rules! settings {
    ($($name:literal $kind:ident $support:ident $default:expr, $description:literal;)*) => {
        /// Every setting Kiln knows, sorted by name.
        pub static SETTINGS: &[Setting] = &[$(Setting {
            name: $name,
            kind: Kind::$kind,
            default: $default,
            description: $description,
            support: Support::$support,
        }),*];
    };
}

settings! {
    "abort-on-warn" Bool Honoured "false",
        "Make `builtins.warn` an error after printing its warning";
    "accept-flake-config" Bool Accepted "false",
        "Use the `nixConfig` of flakes without asking";
    "access-tokens" List Accepted "",
        "`host=token` pairs for fetching from hosts that want a token (GitHub, GitLab, …)";
    "allow-dirty" Bool Accepted "true",
        "Allow evaluating flakes from Git trees with uncommitted changes";
    "allow-import-from-derivation" Bool Accepted "true",
        "Allow importing from a derivation's output, which builds during evaluation";
    "allow-new-privileges" Bool Accepted "false",
        "Let builders gain privileges through setuid programs or file capabilities";
    "allow-symlinked-store" Bool Accepted "false",
        "Accept a store directory whose path goes through symbolic links";
    "allow-unsafe-native-code-during-evaluation" Bool Accepted "false",
        "Enable the builtins that run native code (`exec`, `importNative`)";
    "allowed-impure-host-deps" List Accepted "",
        "Host path prefixes derivations may ask to see (`__impureHostDeps`, macOS)";
    "allowed-uris" List Accepted "",
        "URI prefixes fetchers may reach in restricted evaluation mode";
    "allowed-users" List Accepted "*",
        "Users (or `@groups`) allowed to connect to the daemon";
    "always-allow-substitutes" Bool Accepted "false",
        "Substitute even derivations marked `allowSubstitutes = false`";
    "auto-allocate-uids" Bool Accepted "false",
        "Pick build user ids from a range instead of the build users group";
    "auto-optimise-store" Bool Accepted "false",
        "Hard-link identical files as paths are added to the store";
    "build-dir" Text Honoured "",
        "Directory in which build directories are made (empty: `$TMPDIR`, else /tmp)";
    "build-hook" List Accepted "",
        "Program that hands builds to remote machines";
    "build-poll-interval" Seconds Accepted "5",
        "How often to poll for locks held by other processes";
    "build-users-group" Text Accepted "",
        "Group whose members run builds when Nix runs as root";
    "builders" Text Accepted "@/etc/nix/machines",
        "Remote build machines, or `@FILE` to read them from a file";
    "builders-use-substitutes" Bool Accepted "false",
        "Let remote builders fetch dependencies from their own substituters";
    "compress-build-log" Bool Accepted "true",
        "Compress the build logs kept under the state directory";
    "connect-timeout" Seconds Accepted "0",
        "Timeout for connecting to a server during downloads (0: the library's default)";
    "cores" Integer Honoured "0",
        "`NIX_BUILD_CORES` given to each builder (0: all of the machine's cores)";
    "diff-hook" Text Accepted "",
        "Program run on the two outputs when a repeated build differs";
    "download-attempts" Integer Accepted "5",
        "How often a failed download is tried again";
    "eval-cache" Bool Accepted "true",
        "Cache the results of evaluating flake outputs";
    "experimental-features" List Honoured "",
        "Experimental features to enable (`pipe-operators`, `fetch-tree`, …)";
    "extra-platforms" List Honoured "",
        "Further platforms this machine builds for besides `system`";
    "fallback" Bool Accepted "false",
        "Build from source when a substitute cannot be fetched";
    "filter-syscalls" Bool Accepted "true",
        "Forbid builders system calls such as making setuid files (seccomp)";
    "flake-registry" Text Accepted "https://channels.nixos.org/flake-registry.json",
        "Where the global flake registry is found";
    "fsync-metadata" Bool Accepted "true",
        "Flush the store database's writes to disk before going on";
    "gc-reserved-space" Integer Accepted "8388608",
        "Bytes of disk kept in reserve so that a full disk can still collect garbage";
    "hashed-mirrors" List Accepted "",
        "Servers that serve fixed-output files by hash, tried before the URL";
    "http-connections" Integer Accepted "25",
        "How many parallel HTTP connections downloads may use (0: no limit)";
    "http2" Bool Accepted "true",
        "Use HTTP/2 where servers support it";
    "keep-build-log" Bool Honoured "true",
        "Keep each build's log under the state directory";
    "keep-derivations" Bool Honoured "true",
        "A live output keeps its derivation from garbage collection";
    "keep-env-derivations" Bool Accepted "false",
        "Profiles built by `nix-env` keep their packages' derivations alive";
    "keep-failed" Bool Honoured "false",
        "Keep the build directory of a failed build";
    "keep-going" Bool Honoured "false",
        "Keep building what does not depend on a failed build";
    "keep-outputs" Bool Honoured "false",
        "A live derivation keeps its valid outputs from garbage collection";
    "log-lines" Integer Honoured "25",
        "How many lines of a failed build's log are shown";
    "max-build-log-size" Integer Accepted "0",
        "Bytes of log after which a build is killed (0: no limit)";
    "max-call-depth" Integer Honoured "10000",
        "The deepest nesting of function calls an evaluation may reach";
    "max-free" Integer Accepted "-1",
        "Bytes free at which a collection started by `min-free` stops (-1: no limit)";
    "max-jobs" MaxJobs Honoured "1",
        "How many builds run at once (`auto`: one per core; 0: none locally)";
    "max-silent-time" Seconds Honoured "0",
        "Kill a build that prints nothing for this many seconds (0: no limit)";
    "min-free" Integer Accepted "0",
        "Bytes free below which a build starts collecting garbage";
    "min-free-check-interval" Seconds Accepted "5",
        "How often free space is checked against `min-free` during builds";
    "mirrors" List Honoured "",
        "Where `mirror://NAME/…` URLs are fetched from, as NAME=URL words (default: debian=the apt sources' Debian mirror)";
    "narinfo-cache-negative-ttl" Seconds Accepted "3600",
        "How long a binary cache's answer that it lacks a path is remembered";
    "narinfo-cache-positive-ttl" Seconds Accepted "2592000",
        "How long a binary cache's description of a path is remembered";
    "netrc-file" Text Accepted "/etc/nix/netrc",
        "A netrc file with credentials for HTTP downloads";
    "nix-path" List Accepted "",
        "Search path for `<...>` lookups (Kiln takes it from `-I` and `NIX_PATH`)";
    "plugin-files" List Accepted "",
        "Shared libraries Nix loads as plugins";
    "post-build-hook" Text Accepted "",
        "Program run after each successful build, with its outputs";
    "pre-build-hook" Text Accepted "",
        "Program run before each build that may add paths to its sandbox";
    "preallocate-contents" Bool Accepted "false",
        "Reserve a file's full size on disk before unpacking it into the store";
    "print-missing" Bool Accepted "true",
        "Say what will be built or fetched before doing it";
    "pure-eval" Bool Honoured "false",
        "Evaluate purely: no environment, clock, system or files outside the store";
    "repeat" Integer Accepted "0",
        "Build each derivation this many more times and compare the results";
    "require-drop-supplementary-groups" Bool Accepted "false",
        "Fail when the supplementary groups of a builder cannot be dropped";
    "require-sigs" Bool Accepted "true",
        "Accept only signed paths from substituters and imports";
    "restrict-eval" Bool Honoured "false",
        "Let evaluations read only the search path, the store and `allowed-uris`";
    "run-diff-hook" Bool Accepted "false",
        "Run `diff-hook` when a repeated build differs";
    "sandbox" Sandbox Honoured "true",
        "Run builders in a sandbox (`relaxed`: Kiln sandboxes every build too)";
    "sandbox-build-dir" Text Accepted "/build",
        "Where the build directory appears inside the sandbox";
    "sandbox-dev-shm-size" Text Accepted "50%",
        "Size of the sandbox's /dev/shm";
    "sandbox-fallback" Bool Honoured "true",
        "Build without a sandbox where none can be made, instead of failing";
    "sandbox-paths" List Honoured "",
        "Host paths visible in every sandbox (`PATH`, `TARGET=SOURCE`, `?` when optional)";
    "secret-key-files" List Accepted "",
        "Keys with which locally built paths are signed";
    "show-trace" Bool Accepted "false",
        "Show every frame of an evaluation error's trace (Kiln takes `--show-trace`)";
    "ssl-cert-file" Text Accepted "",
        "The CA bundle for HTTPS downloads";
    "stalled-download-timeout" Seconds Accepted "300",
        "Abort a download that receives nothing for this many seconds";
    "store" Text Accepted "auto",
        "The store to use (Kiln takes `--store` and `KILN_STORE`)";
    "substitute" Bool Accepted "true",
        "Fetch paths from substituters instead of building them";
    "substituters" List Accepted "https://cache.nixos.org/",
        "Binary caches to fetch paths from, in order";
    "system" Text Honoured kiln_realise::current_system(),
        "The platform builds run on";
    "system-features" List Accepted "",
        "Features this machine offers to `requiredSystemFeatures` (`kvm`, `big-parallel`, …)";
    "tarball-ttl" Seconds Honoured "3600",
        "How long an unlocked fetch is reused before the server is asked again";
    "timeout" Seconds Honoured "0",
        "Kill a build that runs longer than this many seconds (0: no limit)";
    "trace-function-calls" Bool Accepted "false",
        "Log every function call's entry and exit with a timestamp";
    "trace-verbose" Bool Honoured "false",
        "Make `builtins.traceVerbose` print as `builtins.trace` does";
    "trusted-public-keys" List Accepted
        "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=",
        "Public keys whose signatures `require-sigs` accepts";
    "trusted-substituters" List Accepted "",
        "Substituters untrusted users may also choose";
    "trusted-users" List Accepted "root",
        "Users (or `@groups`) the daemon trusts with any setting";
    "use-case-hack" Bool Accepted "false",
        "Rename files whose names differ only in case (for case-insensitive file systems)";
    "use-registries" Bool Accepted "true",
        "Look flake references up in the flake registries";
    "use-sqlite-wal" Bool Accepted "true",
        "Open the store database in SQLite's write-ahead-log mode";
    "user-agent-suffix" Text Accepted "",
        "Text appended to the user agent of HTTP requests";
    "warn-dirty" Bool Accepted "true",
        "Warn when a flake's Git tree has uncommitted changes";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_and_unique() {
        for pair in SETTINGS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} then {}",
                pair[0].name,
                pair[1].name
            );
        }
        for s in SETTINGS {
            assert_eq!(lookup(s.name), Some(s));
            assert!(
                !s.name.starts_with("no-"),
                "{} would clash with a --no- flag",
                s.name
            );
            assert!(
                !s.description.is_empty() && !s.description.ends_with('.'),
                "{}",
                s.name
            );
        }
        assert_eq!(lookup("no-such-setting"), None);
    }

    #[test]
    fn every_default_parses_with_its_kind() {
        for s in SETTINGS {
            s.check(s.default)
                .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        }
    }

    #[test]
    fn values_are_read_as_nix_reads_them() {
        let keep = lookup("keep-going").unwrap();
        for ok in ["true", "yes", "1", "false", "no", "0"] {
            keep.check(ok).unwrap();
        }
        assert_eq!(
            keep.check("relaxed").unwrap_err().to_string(),
            "option 'keep-going' has invalid value 'relaxed' (expected true or false)"
        );
        lookup("sandbox").unwrap().check("relaxed").unwrap();
        let jobs = lookup("max-jobs").unwrap();
        jobs.check("auto").unwrap();
        jobs.check("4").unwrap();
        assert_eq!(
            jobs.check("x").unwrap_err().to_string(),
            "option 'max-jobs' has invalid value 'x'"
        );
        lookup("timeout").unwrap().check("-1").unwrap_err();
        lookup("max-free").unwrap().check("-1").unwrap();
        assert_eq!(parse_limit("timeout", "0").unwrap(), None);
        assert_eq!(
            parse_limit("timeout", "7").unwrap(),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn flags_follow_the_kinds() {
        let name = |f: Option<SettingFlag>| match f {
            Some(SettingFlag::Bool(s, v)) => format!("bool {} {v}", s.name),
            Some(SettingFlag::Set(s)) => format!("set {}", s.name),
            Some(SettingFlag::Append(s)) => format!("append {}", s.name),
            None => "none".to_owned(),
        };
        let cases = [
            ("--keep-going", "bool keep-going true"),
            ("--no-keep-going", "bool keep-going false"),
            ("--sandbox", "bool sandbox true"),
            ("--no-sandbox", "bool sandbox false"),
            ("--cores", "set cores"),
            ("--no-cores", "none"),
            ("--extra-cores", "none"),
            ("--sandbox-paths", "set sandbox-paths"),
            ("--extra-sandbox-paths", "append sandbox-paths"),
            (
                "--extra-experimental-features",
                "append experimental-features",
            ),
            // `extra-platforms` is itself a list setting's name.
            ("--extra-platforms", "set extra-platforms"),
            ("--extra-keep-going", "none"),
            ("--unknown", "none"),
            ("keep-going", "none"),
        ];
        for (flag, expected) in cases {
            assert_eq!(name(Setting::flag(flag)), expected, "{flag}");
        }
    }
}
