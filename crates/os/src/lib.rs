//! The OS layer: a whole system declared in `.nix` files, built into one toplevel store path,
//! activated into a root directory as a new generation, and rolled back.
//!
//! The Nix side lives in the repository's `nix/` tree: `nix/lib` (the `lib` functions and the
//! module system), `nix/os` (the OS modules and the toplevel), `nix/pkgs` (the package set). The
//! contract between the two sides (the toplevel's layout and its `kiln-system.json`) is in
//! `docs/design/os.md`. This crate reads only the toplevel; it never interprets module options.
//!
//! * [`build`]: evaluate `(import <kiln/os> { configuration; }).toplevel` and realise it
//!   through the caller's [`kiln_profile::Realiser`].
//! * [`System`]: a root (`--root DIR`, the target's `/`, its store at `DIR/nix/store`): the
//!   generations (`nix/var/nix/profiles/system-N-link`), [`System::switch`] with an
//!   [`Action`] (`switch`, `boot`, `test`), rollback, deletion, diffs; every change journaled
//!   so a killed process's work is completed by the next [`System::open`].
//! * Activation steps, each a function of the root and the toplevels: [`etc`] (`/etc`
//!   through `/etc/static`), [`users`] (`passwd`, `group`, `shadow`, ids, homes),
//!   [`tmpfiles`], [`scripts`] (the toplevel's `activate`, chrooted), [`boot`] entries,
//!   [`units`] (the start/stop/restart/reload plan), and
//!   [`system::activate`], which runs them in order and restores `/etc` when one fails.
//! * [`SwitchReport`]: what a switch changes (packages as `nvd` shows them, closure size,
//!   `/etc`, units, whether a reboot is needed).
//!
//! * [`vm`]: the configuration as a qemu VM (`kiln os vm`): images made unprivileged, the
//!   runner, and [`vm::Machine`], which boots it and runs commands in the guest.
//!
//! Nothing here prints; the CLI renders the typed results.

pub mod boot;
pub mod build;
mod error;
pub mod etc;
pub mod fsutil;
pub mod loader;
pub mod report;
pub mod scripts;
pub mod system;
pub mod tmpfiles;
pub mod toplevel;
pub mod units;
pub mod users;
pub mod vm;

pub use error::{OsError, RealiseFailure};
pub use report::{SwitchReport, VersionChange};
pub use system::{select_generations, Action, Activated, Outcome, Recovered, System};
pub use toplevel::{SystemJson, Toplevel};
pub use units::UnitPlan;
