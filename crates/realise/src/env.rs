//! The builder's environment and the files prepared for it in the build directory, as Nix's
//! `LocalDerivationGoal::initEnv` and `writeStructuredAttrs` make them.
//!
//! The environment holds: `PATH=/path-not-set`, `HOME=/homeless-shelter`, `NIX_STORE`,
//! `NIX_BUILD_CORES`, every attribute of the derivation (without `__structuredAttrs`; those
//! named in `passAsFile` go to files `.attr-<nix32 sha256 of the name>` and the variable
//! `<name>Path` names the file), `NIX_BUILD_TOP`, `TMPDIR`, `TEMPDIR`, `TMP`, `TEMP` and `PWD`
//! (all the build directory as the builder sees it), `NIX_OUTPUT_CHECKED=1` and the
//! `impureEnvVars` taken from the caller's environment for fixed-output derivations,
//! `NIX_LOG_FD=2` and `TERM=xterm-256color`. With structured attributes (`__json`) the
//! attributes go to `.attrs.json` (with `outputs` replaced by a map from output name to path)
//! and `.attrs.sh` (bash declarations, spelled as Nix 2.8 writes them), named by `NIX_ATTRS_JSON_FILE` and `NIX_ATTRS_SH_FILE`
//! as current Nix does. Finally every string (names and values, arguments, files) has each
//! output's placeholder (`builtins.placeholder`) replaced by its path.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use kiln_formats::derivation::Derivation;
use kiln_formats::hash::{Hash, HashAlgo};

use crate::BuildError;

/// Where the build directory appears inside the sandbox.
pub const SANDBOX_BUILD_DIR: &str = "/build";

/// `HOME` for builders: a directory that does not exist.
pub const HOME_DIR: &str = "/homeless-shelter";

/// What the builder gets: its environment and arguments, with placeholders replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuilderSetup {
    /// The environment, sorted by name.
    pub env: BTreeMap<String, String>,
    /// The arguments.
    pub args: Vec<String>,
}

/// The inputs of [`prepare`].
pub struct EnvParams<'a> {
    /// The derivation being built.
    pub drv: &'a Derivation,
    /// The `.drv` path, for error messages.
    pub drv_path: &'a str,
    /// The logical store directory.
    pub store_dir: &'a str,
    /// The output paths by output name (absolute, logical).
    pub outputs: &'a BTreeMap<String, String>,
    /// The build directory as the builder sees it (`/build` in the sandbox).
    pub build_dir_inside: &'a str,
    /// `NIX_BUILD_CORES`.
    pub cores: u32,
    /// Looks up a variable of the caller's environment (for `impureEnvVars`).
    pub host_env: &'a dyn Fn(&str) -> Option<String>,
}

/// `builtins.placeholder name`: `/` followed by the nix32 SHA-256 of `nix-output:<name>`.
pub fn placeholder(output: &str) -> String {
    let h = Hash::digest_bytes(HashAlgo::Sha256, format!("nix-output:{output}").as_bytes());
    format!("/{}", h.to_nix32())
}

/// Replaces every occurrence of each key of `rewrites` in `s` by its value.
fn rewrite(s: &str, rewrites: &[(String, String)]) -> String {
    let mut s = s.to_owned();
    for (from, to) in rewrites {
        if s.contains(from.as_str()) {
            s = s.replace(from.as_str(), to);
        }
    }
    s
}

fn utf8<'b>(bytes: &'b [u8], what: &str, drv_path: &str) -> Result<&'b str, BuildError> {
    std::str::from_utf8(bytes).map_err(|_| BuildError::Setup {
        drv: drv_path.to_owned(),
        message: format!("{what} is not valid UTF-8, which Kiln cannot pass to a builder yet"),
    })
}

/// Computes the builder's environment and arguments for `p.drv`, writing the files it needs
/// (`passAsFile` attributes, `.attrs.json`, `.attrs.sh`) into `build_dir` (the build
/// directory on the host).
pub fn prepare(p: &EnvParams<'_>, build_dir: &Path) -> Result<BuilderSetup, BuildError> {
    let drv = p.drv;
    let rewrites: Vec<(String, String)> = p
        .outputs
        .iter()
        .map(|(name, path)| (placeholder(name), path.clone()))
        .collect();
    let write = |name: &str, contents: &str| -> Result<(), BuildError> {
        let path = build_dir.join(name);
        fs::write(&path, contents).map_err(|e| BuildError::io("writing", &path, e))
    };

    let mut env = BTreeMap::new();
    env.insert("PATH".to_owned(), "/path-not-set".to_owned());
    env.insert("HOME".to_owned(), HOME_DIR.to_owned());
    env.insert("NIX_STORE".to_owned(), p.store_dir.to_owned());
    env.insert("NIX_BUILD_CORES".to_owned(), p.cores.to_string());

    let json = drv.env.get(b"__json".as_slice());
    if json.is_none() {
        let pass_as_file: Vec<&str> = match drv.env.get(b"passAsFile".as_slice()) {
            Some(v) => utf8(v, "passAsFile", p.drv_path)?
                .split([' ', '\t', '\n', '\r'])
                .filter(|s| !s.is_empty())
                .collect(),
            None => Vec::new(),
        };
        for (k, v) in &drv.env {
            let k = utf8(k, "an environment variable name", p.drv_path)?;
            let v = utf8(v, &format!("environment variable '{k}'"), p.drv_path)?;
            if pass_as_file.contains(&k) {
                let h = Hash::digest_bytes(HashAlgo::Sha256, k.as_bytes());
                let file = format!(".attr-{}", h.to_nix32());
                write(&file, &rewrite(v, &rewrites))?;
                env.insert(format!("{k}Path"), format!("{}/{file}", p.build_dir_inside));
            } else {
                env.insert(k.to_owned(), v.to_owned());
            }
        }
    }

    for var in ["NIX_BUILD_TOP", "TMPDIR", "TEMPDIR", "TMP", "TEMP", "PWD"] {
        env.insert(var.to_owned(), p.build_dir_inside.to_owned());
    }

    let fixed = drv
        .outputs
        .values()
        .any(|o| matches!(o, kiln_formats::derivation::DerivationOutput::Fixed { .. }));
    if fixed {
        env.insert("NIX_OUTPUT_CHECKED".to_owned(), "1".to_owned());
        for var in impure_env_vars(drv, json.map(Vec::as_slice), p.drv_path)? {
            let value = (p.host_env)(&var).unwrap_or_default();
            env.insert(var, value);
        }
    }
    env.insert("NIX_LOG_FD".to_owned(), "2".to_owned());
    env.insert("TERM".to_owned(), "xterm-256color".to_owned());

    if let Some(json) = json {
        let json = utf8(json, "__json", p.drv_path)?;
        let (attrs_json, attrs_sh) = structured_attrs(json, p.outputs, p.drv_path)?;
        write(".attrs.json", &rewrite(&attrs_json, &rewrites))?;
        write(".attrs.sh", &rewrite(&attrs_sh, &rewrites))?;
        env.insert(
            "NIX_ATTRS_JSON_FILE".to_owned(),
            format!("{}/.attrs.json", p.build_dir_inside),
        );
        env.insert(
            "NIX_ATTRS_SH_FILE".to_owned(),
            format!("{}/.attrs.sh", p.build_dir_inside),
        );
    }

    let env = env
        .into_iter()
        .map(|(k, v)| (rewrite(&k, &rewrites), rewrite(&v, &rewrites)))
        .collect();
    let args = drv
        .args
        .iter()
        .map(|a| Ok(rewrite(utf8(a, "an argument", p.drv_path)?, &rewrites)))
        .collect::<Result<_, BuildError>>()?;
    Ok(BuilderSetup { env, args })
}

/// The `impureEnvVars` attribute: a whitespace-separated string, or a list with structured
/// attributes.
fn impure_env_vars(
    drv: &Derivation,
    json: Option<&[u8]>,
    drv_path: &str,
) -> Result<Vec<String>, BuildError> {
    if let Some(json) = json {
        let v: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| bad_json(drv_path, e))?;
        return Ok(match v.get("impureEnvVars") {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        });
    }
    Ok(match drv.env.get(b"impureEnvVars".as_slice()) {
        Some(v) => utf8(v, "impureEnvVars", drv_path)?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    })
}

fn bad_json(drv_path: &str, e: serde_json::Error) -> BuildError {
    BuildError::Setup {
        drv: drv_path.to_owned(),
        message: format!("its structured attributes (__json) are not valid JSON: {e}"),
    }
}

/// The contents of `.attrs.json` and `.attrs.sh` for the structured attributes `json`.
fn structured_attrs(
    json: &str,
    outputs: &BTreeMap<String, String>,
    drv_path: &str,
) -> Result<(String, String), BuildError> {
    let mut v: serde_json::Value = serde_json::from_str(json).map_err(|e| bad_json(drv_path, e))?;
    let Some(obj) = v.as_object_mut() else {
        return Err(BuildError::Setup {
            drv: drv_path.to_owned(),
            message: "its structured attributes (__json) are not a JSON object".to_owned(),
        });
    };
    let outs: serde_json::Map<String, serde_json::Value> = outputs
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    obj.insert("outputs".to_owned(), serde_json::Value::Object(outs));
    // Nix's JSON objects are sorted by key; so is everything made from them here, whatever
    // order `serde_json` keeps (the workspace enables `preserve_order` elsewhere).
    let v = sorted(v);
    let obj = v.as_object().expect("still an object");
    let mut sh = String::new();
    for (k, v) in obj.iter() {
        if !is_shell_name(k) {
            continue;
        }
        if let Some(s) = simple_shell_value(v) {
            sh.push_str(&format!("declare {k}={s}\n"));
        } else if let Some(a) = v.as_array() {
            let items: Option<Vec<String>> = a.iter().map(simple_shell_value).collect();
            if let Some(items) = items {
                let items: String = items.iter().map(|i| format!("{i} ")).collect();
                sh.push_str(&format!("declare -a {k}=({items})\n"));
            }
        } else if let Some(o) = v.as_object() {
            let items: Option<Vec<String>> = o
                .iter()
                .map(|(ik, iv)| {
                    simple_shell_value(iv).map(|s| format!("[{}]={s}", shell_quote(ik)))
                })
                .collect();
            if let Some(items) = items {
                let items: String = items.iter().map(|i| format!("{i} ")).collect();
                sh.push_str(&format!("declare -A {k}=({items})\n"));
            }
        }
    }
    let json = serde_json::to_string(&v).map_err(|e| bad_json(drv_path, e))?;
    Ok((json, sh))
}

/// `v` with every object's keys in sorted order.
fn sorted(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut entries: Vec<(String, serde_json::Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(sorted).collect())
        }
        v => v,
    }
}

/// A JSON scalar as a shell word, or `None` for arrays, objects and non-integral numbers.
fn simple_shell_value(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(shell_quote(s)),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        // Nix skips non-integral numbers.
        serde_json::Value::Number(_) => None,
        serde_json::Value::Bool(true) => Some("1".to_owned()),
        serde_json::Value::Bool(false) => Some("''".to_owned()),
        serde_json::Value::Null => Some("''".to_owned()),
        _ => None,
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn is_shell_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_matches_nix() {
        // `nix-instantiate --eval -E 'builtins.placeholder "out"'` (Nix 2.8).
        assert_eq!(
            placeholder("out"),
            "/1rz4g4znpzjwh1xymhjpm42vipw92pr73vdgl6xs1hycac8kf2n9"
        );
    }

    #[test]
    fn shell_declarations() {
        let outs = BTreeMap::from([("out".to_owned(), "/nix/store/x-a".to_owned())]);
        let (json, sh) = structured_attrs(
            r#"{"a":"it's","n":3,"b":true,"l":["x",1],"o":{"k":"v"},"bad-name":1,"deep":[[1]]}"#,
            &outs,
            "d",
        )
        .unwrap();
        assert!(
            json.contains(r#""outputs":{"out":"/nix/store/x-a"}"#),
            "{json}"
        );
        assert_eq!(
            sh,
            "declare a='it'\\''s'\ndeclare b=1\ndeclare -a l=('x' 1 )\ndeclare n=3\n\
             declare -A o=(['k']='v' )\ndeclare -A outputs=(['out']='/nix/store/x-a' )\n"
        );
    }
}
