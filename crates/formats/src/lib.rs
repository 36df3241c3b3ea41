//! Nix's data formats, with no I/O policy of their own.
//!
//! This crate is the ground every other Kiln crate stands on. It knows how Nix writes and reads
//! its data, and nothing about where that data lives:
//!
//! * [`hash`]: MD5/SHA-1/SHA-256/SHA-512, their base16/nix32/base64/SRI forms, digest folding;
//! * [`nixbase32`]: Nix's own base-32;
//! * [`store_path`]: store path parsing and every way Nix computes one;
//! * [`nar`]: the Nix ARchive: writing, streaming parsing, dump/restore, `ls`/`cat`;
//! * [`derivation`]: store derivations, their ATerm `.drv` form, `hashDerivationModulo` and
//!   output path computation;
//! * [`drv_name`]: package names and versions (`parseDrvName`, `compareVersions`);
//! * [`narinfo`]: binary cache `.narinfo` files, content addresses and signature fingerprints;
//! * [`cache_info`]: a binary cache's `nix-cache-info`;
//! * [`signing`]: Ed25519 signing keys, public keys and signatures in Nix's `name:base64` form;
//! * [`config`]: `nix.conf` syntax and layered settings, with includes left to the caller;
//! * [`fetch`]: what the fetcher builtins ask the fetchers for, and what comes back.
//!
//! Decisions: parsers of outside data return errors that say where and never panic (each has a
//! fuzz target in `fuzz/`); large data is streamed through `std::io::Read`/`Write`; the logical
//! store directory is always a parameter, never a global.

pub mod cache_info;
pub mod config;
pub mod derivation;
pub mod drv_name;
pub mod fetch;
pub mod hash;
pub mod nar;
pub mod narinfo;
pub mod nixbase32;
pub mod signing;
pub mod store_path;

/// An error and its sources, joined with `: ` (what `{:#}` prints for an `anyhow` chain), for
/// libraries that put another error's text into their own message.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
