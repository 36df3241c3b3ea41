//! Builds: turning `.drv` files into valid store paths.
//!
//! A derivation is realised by running its builder in a sandbox that sees only its declared
//! inputs, then scanning, canonicalising and registering what it wrote. The modules:
//!
//! * [`plan`]: from goals (derivation outputs, plain paths) to the graph of derivations whose
//!   outputs are missing.
//! * [`realise`]: the scheduler: dependency order, `max-jobs` builds at once, `keep-going`,
//!   progress [`Event`]s to an [`Observer`].
//! * `job`: one derivation: output locks, build directory, builder, then outputs moved,
//!   canonicalised, checked (fixed-output hashes, `refs`, `--check` with a `diff`) and
//!   registered in one transaction.
//! * [`builtin_buildenv`]: `builtin:buildenv`, the builder of user environments (profiles).
//! * [`env`]: the builder's environment and the files prepared for it, exactly as Nix makes
//!   them.
//! * [`sandbox`]: the Linux-namespace sandbox one builder runs in.
//! * [`builtin_fetchurl`]: the in-process builder `builtin:fetchurl` (`<nix/fetchurl.nix>`).
//! * [`BuildError`]: what can go wrong, with Nix's messages.
//!
//! Invariants: an output becomes valid only after its builder succeeded and every check
//! passed, all outputs of a derivation in one transaction; outputs are written and moved only
//! while their path locks are held, so two processes never build the same output at once
//! (the second waits, then finds it valid); a failed or killed build leaves nothing valid,
//! and its leftovers are removed by the next build of the same output.

pub mod builtin_buildenv;
pub mod builtin_fetchurl;
pub mod builtin_unpack;
mod diff;
pub mod env;
mod error;
mod job;
pub mod plan;
pub mod realise;
mod refs;
pub mod sandbox;
mod settings;

pub use error::BuildError;
pub use job::{log_path, Outcome};
pub use plan::{Goal, OutputsSpec, Plan};
pub use realise::{dry_run, realise, Event, Observer, Quiet, RealiseError};
pub use settings::{available_cores, current_system, BuildSettings};
