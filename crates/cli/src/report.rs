//! Where an evaluation's traces and warnings go: standard error, as Nix writes them.

use kiln_eval::print::for_stderr;
use kiln_eval::{Notice, Reporter};

/// Writes each notice to standard error as it comes, in Nix's form: `trace: TEXT`,
/// `evaluation warning: MESSAGE` (both without ANSI escapes when standard error is not a
/// terminal) and `warning: MESSAGE`.
pub struct StderrReporter;

impl Reporter for StderrReporter {
    fn report(&self, notice: Notice<'_>) {
        match notice {
            Notice::Trace(text) => eprintln!("trace: {}", for_stderr(text)),
            Notice::EvalWarning(message) => {
                eprintln!("evaluation warning: {}", for_stderr(message))
            }
            Notice::Warning(message) => eprintln!("warning: {message}"),
        }
    }
}
