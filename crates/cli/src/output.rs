//! Shared pieces of the command line's edge: usage errors and buffered standard output.

use std::fmt;
use std::io::{self, BufWriter};

/// A command line that does not parse, reported with a hint to `--help`.
#[derive(Debug)]
pub struct UsageError {
    /// What is wrong.
    pub message: String,
    /// The exit code: 2 for `kiln`, 1 for legacy programs that exit 1 on bad flags.
    pub exit_code: u8,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UsageError {}

/// Ends the program with an exit code and no further message (what was wrong has been
/// printed already, as `nix-store --verify-path` does).
#[derive(Debug)]
pub struct SilentExit(pub u8);

impl fmt::Display for SilentExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for SilentExit {}

/// Returns a large buffered writer on standard output, for commands that stream data.
pub fn stdout() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::with_capacity(1 << 20, io::stdout().lock())
}
