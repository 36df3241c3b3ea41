//! Builds: turning `.drv` files into valid store paths.
//!
//! A derivation is realised by running its builder in a sandbox that sees only its declared
//! inputs, then scanning, canonicalising and registering what it wrote. The modules:
//!
//! * [`env`]: the builder's environment and the files prepared for it, exactly as Nix makes
//!   them.
//! * `sandbox`: the Linux-namespace sandbox one builder runs in.
//! * [`BuildError`]: what can go wrong, with Nix's messages.

pub mod env;
mod error;
pub mod sandbox;

pub use error::BuildError;
