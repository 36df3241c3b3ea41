//! A configured Kiln: what every command and the OS layer share between the libraries and a
//! user's intent.
//!
//! * [`HostEnv`]: the environment variables that pick Kiln's default places (store root,
//!   fetch cache, configuration files), read once; no other library reads the environment
//!   for its defaults.
//! * [`settings`]: the table of the Nix settings Kiln knows ([`Setting`]: name, [`Kind`],
//!   default, description, whether Kiln honours it), from which the legacy commands' setting
//!   flags come; [`Config`], the layered configuration (files, `KILN_CONFIG`, `--option`)
//!   with typed accessors for each library's settings ([`Config::eval_settings`],
//!   [`Config::build_settings`], [`Config::fetch_settings`], [`Config::gc_options`]).
//! * [`StoreIo`] and [`ReadOnlyIo`]: the evaluator's I/O (`kiln_eval::io::EvalIo`) over a
//!   [`kiln_store::LocalStore`], fetching with `kiln-fetch`.
//! * [`evaluate`]: an evaluation session ([`Evaluation`]) on a large-stack thread, with the
//!   shared steps typed: [`Evaluation::load`] a [`Source`], [`Evaluation::select`] an `-A`
//!   path, [`Evaluation::auto_call`], [`Evaluation::derivations`] (each a [`DrvOutput`], which
//!   is a build goal); failures as [`EvalFailure`] (the error and its source map).
//!
//! Key decision: this crate is where the layers meet (evaluator, store, fetchers, builds), so
//! that none of them depends on another sideways and the CLI only parses, renders and wires.

mod config;
mod evaluation;
mod host;
mod io;
mod packages;
pub mod settings;

pub use config::{Config, ConfigError};

pub use evaluation::{
    derivations, evaluate, search_path, split_attr_path, split_nix_path, AutoArg, DrvOutput,
    EvalConfig, EvalFailure, Evaluation, SessionError, Source, StoreMode,
};
pub use host::HostEnv;
pub use io::{ReadOnlyIo, StoreIo};
pub use packages::{packages, packages_with, Field, MetaValue, PackageInfo};
pub use settings::{Kind, Setting, SettingFlag, Support};
