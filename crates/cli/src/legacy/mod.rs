//! Nix's legacy programs, selected by the name Kiln is invoked under.
//!
//! Each takes the flags its manual page documents, prints what it prints, and exits with its
//! codes (1 for errors, including unknown flags).

use std::ffi::OsString;

pub(crate) mod common;
mod nix_build;
mod nix_collect_garbage;
mod nix_env;
mod nix_env_query;
mod nix_hash;
mod nix_instantiate;
mod nix_shell;
mod nix_store;
mod nix_store_ops;

/// A legacy program Kiln can stand in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    /// `nix-build`: build expressions' derivations and link the results.
    Build,
    /// `nix-collect-garbage`: delete old generations and unreachable paths.
    CollectGarbage,
    /// `nix-env`: manipulate profiles.
    Env,
    /// `nix-hash`: hash paths and convert hashes.
    Hash,
    /// `nix-instantiate`: evaluate expressions.
    Instantiate,
    /// `nix-shell`: enter the build environment of a derivation.
    Shell,
    /// `nix-store`: manipulate and query the store.
    Store,
    /// A legacy program of Nix 2.8 that Kiln does not implement yet (`nix-channel`, …): it says
    /// so plainly instead of falling through to the `kiln` command line.
    Unavailable(&'static str),
    /// `nixos-rebuild`: build and switch a system configuration (`kiln os`).
    NixosRebuild,
}

/// Nix 2.8's legacy programs that Kiln has no implementation of yet.
const UNAVAILABLE: &[&str] = &[
    "nix-channel",
    "nix-copy-closure",
    "nix-daemon",
    "nix-prefetch-url",
];

impl Legacy {
    /// Returns the program for an `argv[0]` base name, if it is a legacy one.
    pub fn from_program_name(name: &str) -> Option<Self> {
        match name {
            "nix-build" => Some(Self::Build),
            "nix-collect-garbage" => Some(Self::CollectGarbage),
            "nix-env" => Some(Self::Env),
            "nix-hash" => Some(Self::Hash),
            "nix-instantiate" => Some(Self::Instantiate),
            "nix-shell" => Some(Self::Shell),
            "nix-store" => Some(Self::Store),
            "nixos-rebuild" => Some(Self::NixosRebuild),
            _ => UNAVAILABLE
                .iter()
                .find(|n| **n == name)
                .map(|n| Self::Unavailable(n)),
        }
    }

    /// Runs the program with its arguments (without `argv[0]`).
    pub fn run(self, program: &str, args: Vec<OsString>) -> anyhow::Result<()> {
        let args = args
            .into_iter()
            .map(|a| {
                a.into_string()
                    .map_err(|a| anyhow::anyhow!("argument {a:?} is not valid UTF-8"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let args = expand_compound_flags(&args);
        match self {
            Self::Build => nix_build::run(program, &args),
            Self::CollectGarbage => nix_collect_garbage::run(program, &args),
            Self::Env => nix_env::run(program, &args),
            Self::Hash => nix_hash::run(program, &args),
            Self::Instantiate => nix_instantiate::run(program, &args),
            Self::Shell => nix_shell::run(program, &args),
            Self::Store => nix_store::run(program, &args),
            Self::Unavailable(name) => Err(anyhow::anyhow!(
                "'{name}' is not available in Kiln yet (Kiln {}); see 'kiln --help' for the commands it has",
                env!("CARGO_PKG_VERSION")
            )),
            Self::NixosRebuild => crate::commands::os::nixos_rebuild(program, &args),
        }
    }
}

/// Splits compound single-dash flags as Nix's legacy programs do: `-qR` is `-q -R`, and
/// from the first character that is not a letter the rest is one argument (`-j4` is `-j 4`,
/// `-I/dir` is `-I /dir`). Nothing after `--` is touched.
fn expand_compound_flags(args: &[String]) -> Vec<String> {
    let mut res = Vec::with_capacity(args.len());
    let mut operands_only = false;
    for arg in args {
        let bytes = arg.as_bytes();
        if operands_only || bytes.len() <= 2 || bytes[0] != b'-' || !bytes[1].is_ascii_alphabetic()
        {
            operands_only |= arg == "--";
            res.push(arg.clone());
            continue;
        }
        for (i, c) in arg.char_indices().skip(1) {
            if c.is_ascii_alphabetic() {
                res.push(format!("-{c}"));
            } else {
                res.push(arg[i..].to_owned());
                break;
            }
        }
    }
    res
}

/// Builds the usage error legacy programs report for a bad command line (exit code 1).
fn usage(message: impl Into<String>) -> anyhow::Error {
    crate::output::UsageError {
        message: message.into(),
        exit_code: 1,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::expand_compound_flags;

    #[test]
    fn compound_flags_are_split_as_nix_splits_them() {
        let args: Vec<String> = ["-qR", "-j4", "-I/x", "--tree", "-q", "-1", "--", "-qa"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            expand_compound_flags(&args),
            ["-q", "-R", "-j", "4", "-I", "/x", "--tree", "-q", "-1", "--", "-qa"]
        );
    }
}
