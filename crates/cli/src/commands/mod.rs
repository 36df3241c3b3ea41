//! One module per `kiln` noun.

pub mod build;
pub mod collect_garbage;
pub mod config;
pub mod copy;
pub mod derivation;
pub mod eval;
pub mod flake;
pub mod hash;
pub mod instantiate;
pub mod key;
pub mod log;
pub mod nar;
pub mod os;
pub mod profile;
pub mod repl;
pub mod search;
pub mod serve;
pub mod shell;
pub mod store;
