//! A configured Kiln: what every command and the OS layer share between the libraries and a
//! user's intent.
//!
//! * [`HostEnv`]: the environment variables that pick Kiln's default places (store root,
//!   fetch cache, configuration files), read once; no other library reads the environment
//!   for its defaults.
//! * [`StoreIo`] and [`ReadOnlyIo`]: the evaluator's I/O (`kiln_eval::io::EvalIo`) over a
//!   [`kiln_store::LocalStore`], fetching with `kiln-fetch`.
//!
//! Key decision: this crate is where the layers meet (evaluator, store, fetchers, builds), so
//! that none of them depends on another sideways and the CLI only parses, renders and wires.

mod host;
mod io;

pub use host::HostEnv;
pub use io::{ReadOnlyIo, StoreIo};
