//! `nix.conf` syntax: settings as strings, includes handed back to the caller.
//!
//! Spec: the Nix manual, `command-ref/conf-file` ("nix.conf"). A file is lines of
//! `name = value`:
//!
//! * `#` starts a comment that runs to the end of the line, wherever it is (even in a value);
//! * a line is split into words on spaces, tabs and carriage returns; blank lines are skipped;
//! * the second word must be `=`; the value is the remaining words joined by single spaces
//!   (so `name =` sets the empty string);
//! * `include PATH` reads another file, which must exist; `!include PATH` reads it if it
//!   exists. A relative path is relative to the directory of the including file;
//! * `extra-NAME = value` appends the value to `NAME` instead of replacing it.
//!
//! This module does no I/O. [`parse`] returns the [`Directive`]s of one file;
//! [`Settings::apply`] applies them, asking a loader callback for included files. Values stay
//! strings; [`Settings::get_list`], [`Settings::get_bool`] and [`Settings::get_int`] read
//! them the way Nix's typed settings do.
//!
//! Decisions: lines apply in order, an included file's settings at the point of its
//! `include`, as Nix 2.8 does (checked against `nix show-config` in the tests; later Nix
//! versions defer a file's own settings until after its includes). Without a table of known
//! settings, every `extra-NAME` appends (Nix ignores it, with a warning, for settings that are
//! not lists), and unknown names are kept rather than warned about. Includes nest at most
//! [`MAX_INCLUDE_DEPTH`] deep, which also stops include cycles.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How deep includes may nest.
pub const MAX_INCLUDE_DEPTH: usize = 32;

/// Why configuration text could not be parsed or applied. Line numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A line is neither `name = value` nor an include.
    #[error("{origin}:{line}: illegal configuration line '{text}'")]
    IllegalLine {
        /// Where the text came from (a file name, `NIX_CONFIG`…).
        origin: String,
        /// The line.
        line: usize,
        /// The line without its comment.
        text: String,
    },
    /// An `include` names a file that does not exist.
    #[error("{origin}:{line}: included file '{}' not found", path.display())]
    IncludeNotFound {
        /// The including file.
        origin: String,
        /// The line of the `include`.
        line: usize,
        /// The resolved path.
        path: PathBuf,
    },
    /// Includes nest deeper than [`MAX_INCLUDE_DEPTH`] (probably a cycle).
    #[error("{origin}:{line}: includes nest more than {MAX_INCLUDE_DEPTH} deep")]
    TooDeep {
        /// The including file.
        origin: String,
        /// The line of the `include`.
        line: usize,
    },
    /// The loader failed to read an included file.
    #[error("{origin}:{line}: cannot read included file '{}': {reason}", path.display())]
    Load {
        /// The including file.
        origin: String,
        /// The line of the `include`.
        line: usize,
        /// The resolved path.
        path: PathBuf,
        /// What the loader said.
        reason: String,
    },
    /// A typed read of a setting found a value of the wrong form.
    #[error("setting '{name}' has invalid value '{value}', expected {expected}")]
    BadValue {
        /// The setting.
        name: String,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// One meaningful line of a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// `name = value`.
    Setting {
        /// The line.
        line: usize,
        /// The setting name, possibly `extra-…`.
        name: String,
        /// The value, words joined by single spaces.
        value: String,
    },
    /// `include PATH` or `!include PATH`.
    Include {
        /// The line.
        line: usize,
        /// The path as written.
        path: String,
        /// True for `!include`: a missing file is fine.
        optional: bool,
    },
}

/// Resolves an include path against the including file, as Nix does: relative paths are
/// relative to the directory the including file is in.
pub fn resolve_include(including_file: &Path, path: &str) -> PathBuf {
    match including_file.parent() {
        Some(dir) => dir.join(path),
        None => PathBuf::from(path),
    }
}

/// Parses configuration text; `origin` names it in errors.
pub fn parse(origin: &str, text: &str) -> Result<Vec<Directive>, ConfigError> {
    let mut out = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let content = raw.split_once('#').map_or(raw, |(before, _)| before);
        let words: Vec<&str> = content
            .split([' ', '\t', '\r'])
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            continue;
        }
        let illegal = || ConfigError::IllegalLine {
            origin: origin.to_owned(),
            line,
            text: content.trim().to_owned(),
        };
        if words.len() < 2 {
            return Err(illegal());
        }
        let optional = match words[0] {
            "include" => Some(false),
            "!include" => Some(true),
            _ => None,
        };
        if let Some(optional) = optional {
            if words.len() != 2 {
                return Err(illegal());
            }
            out.push(Directive::Include {
                line,
                path: words[1].to_owned(),
                optional,
            });
        } else if words[1] == "=" {
            out.push(Directive::Setting {
                line,
                name: words[0].to_owned(),
                value: words[2..].join(" "),
            });
        } else {
            return Err(illegal());
        }
    }
    Ok(out)
}

/// Settings by name, as strings, built up from layers of configuration.
///
/// Layers apply in order: `nix.conf` files, `NIX_CONFIG`, then `--option NAME VALUE` through
/// [`Settings::set`]; a later value replaces an earlier one and `extra-NAME` appends to it.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    values: BTreeMap<String, String>,
    /// Whether a name is a setting of its own: `extra-NAME` appends to `NAME` only when it is
    /// not (Nix's `extra-platforms` is a setting, not an append to `platforms`).
    known: Option<fn(&str) -> bool>,
}

/// Two sets of settings are equal when they hold the same values.
impl PartialEq for Settings {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl Eq for Settings {}

/// What a loader returns for an included file: its text, or `None` when it does not exist.
pub type Loaded = Result<Option<String>, String>;

impl Settings {
    /// Makes an empty set of settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes an empty set of settings whose own names `known` recognises, so that a name
    /// such as `extra-platforms` is set, not appended to a `platforms` (as Nix looks a name
    /// up before it tries the `extra-` form).
    pub fn with_names(known: fn(&str) -> bool) -> Self {
        Settings {
            values: BTreeMap::new(),
            known: Some(known),
        }
    }

    /// Sets `name` to `value`, or appends `value` (space-separated) when `name` is
    /// `extra-NAME` and not itself a known setting, as `--option` does.
    pub fn set(&mut self, name: &str, value: &str) {
        let own_name = self.known.is_some_and(|known| known(name));
        match name.strip_prefix("extra-") {
            Some(base) if !base.is_empty() && !own_name => {
                let slot = self.values.entry(base.to_owned()).or_default();
                if !value.is_empty() {
                    if !slot.is_empty() {
                        slot.push(' ');
                    }
                    slot.push_str(value);
                }
            }
            _ => {
                self.values.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// Applies configuration text. `origin` is the file's path (includes are resolved against
    /// it) or a label such as `NIX_CONFIG`; `load` reads an included file, returning
    /// `Ok(None)` when it does not exist.
    pub fn apply(
        &mut self,
        origin: &Path,
        text: &str,
        load: &mut dyn FnMut(&Path) -> Loaded,
    ) -> Result<(), ConfigError> {
        self.apply_at(origin, text, load, 0)
    }

    fn apply_at(
        &mut self,
        origin: &Path,
        text: &str,
        load: &mut dyn FnMut(&Path) -> Loaded,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let origin_name = origin.display().to_string();
        let directives = parse(&origin_name, text)?;
        for d in directives {
            match d {
                Directive::Include {
                    line,
                    path,
                    optional,
                } => {
                    if depth >= MAX_INCLUDE_DEPTH {
                        return Err(ConfigError::TooDeep {
                            origin: origin_name,
                            line,
                        });
                    }
                    let path = resolve_include(origin, &path);
                    match load(&path) {
                        Ok(Some(text)) => self.apply_at(&path, &text, load, depth + 1)?,
                        Ok(None) if optional => {}
                        Ok(None) => {
                            return Err(ConfigError::IncludeNotFound {
                                origin: origin_name,
                                line,
                                path,
                            })
                        }
                        Err(reason) => {
                            return Err(ConfigError::Load {
                                origin: origin_name,
                                line,
                                path,
                                reason,
                            })
                        }
                    }
                }
                Directive::Setting { name, value, .. } => self.set(&name, &value),
            }
        }
        Ok(())
    }

    /// Returns the value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Returns the value of `name` split on whitespace (empty when unset), as list settings
    /// such as `substituters` read it.
    pub fn get_list(&self, name: &str) -> Vec<&str> {
        self.get(name)
            .map(|v| v.split_whitespace().collect())
            .unwrap_or_default()
    }

    /// Reads a boolean setting: `true` or `false`, as Nix accepts.
    pub fn get_bool(&self, name: &str) -> Result<Option<bool>, ConfigError> {
        self.get(name)
            .map(|v| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(self.bad(name, "'true' or 'false'")),
            })
            .transpose()
    }

    /// Reads an integer setting.
    pub fn get_int(&self, name: &str) -> Result<Option<i64>, ConfigError> {
        self.get(name)
            .map(|v| v.parse().map_err(|_| self.bad(name, "an integer")))
            .transpose()
    }

    fn bad(&self, name: &str, expected: &'static str) -> ConfigError {
        ConfigError::BadValue {
            name: name.to_owned(),
            value: self.get(name).unwrap_or_default().to_owned(),
            expected,
        }
    }

    /// Iterates over all settings in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
