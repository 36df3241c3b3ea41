//! Builds: turning `.drv` files into valid store paths.
//!
//! A derivation is realised by running its builder in a sandbox that sees only its declared
//! inputs, then scanning, canonicalising and registering what it wrote. The modules:
//!
//! * `sandbox`: the Linux-namespace sandbox one builder runs in.
//! * [`builtin_fetchurl`]: the in-process builder `builtin:fetchurl` (`<nix/fetchurl.nix>`).
//!
//! (The scheduler, post-build processing and logs land in the following commits.)

pub mod builtin_fetchurl;
