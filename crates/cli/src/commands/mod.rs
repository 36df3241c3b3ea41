//! One module per `kiln` noun.

pub mod hash;
pub mod key;
pub mod nar;
