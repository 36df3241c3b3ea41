//! What an evaluation tells its user while it runs, besides its result and its errors:
//! `builtins.trace`, `builtins.warn` and the warnings Nix gives about the evaluation itself.
//!
//! The evaluator prints nothing. It hands each [`Notice`] to the [`Reporter`] its caller set
//! with [`crate::Eval::set_reporter`], at the moment Nix would print it (a trace shows between
//! the other output, not after it); without one, notices are dropped ([`Silent`]). How a notice
//! looks, and where it goes, is the caller's decision: Nix writes `trace: TEXT`,
//! `evaluation warning: MESSAGE` and `warning: MESSAGE` to standard error, dropping ANSI escapes
//! from traces and evaluation warnings when that is not a terminal ([`crate::print::for_stderr`]).

/// One thing the evaluation has to tell, with its text as the evaluation made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice<'s> {
    /// `builtins.trace` (and `builtins.traceVerbose` under `trace-verbose`): a string as it
    /// is, any other value printed as Nix prints traced values.
    Trace(&'s str),
    /// `builtins.warn`'s message.
    EvalWarning(&'s str),
    /// A warning about the evaluation itself, in Nix's words ("found empty hash, assuming
    /// 'sha256-…'", "Git tree '…' is dirty").
    Warning(&'s str),
}

/// Receives the notices of an evaluation, in order, as they happen.
pub trait Reporter {
    /// Takes one notice.
    fn report(&self, notice: Notice<'_>);
}

/// The reporter of an evaluation whose caller set none: it drops every notice.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _: Notice<'_>) {}
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::{Notice, Reporter};
    use crate::io::FsIo;
    use crate::{Bump, Eval, EvalSettings};

    /// Keeps every notice, as `kind: text` lines.
    struct Collect(Rc<RefCell<Vec<String>>>);

    impl Reporter for Collect {
        fn report(&self, notice: Notice<'_>) {
            let line = match notice {
                Notice::Trace(t) => format!("trace: {t}"),
                Notice::EvalWarning(m) => format!("evaluation warning: {m}"),
                Notice::Warning(m) => format!("warning: {m}"),
            };
            self.0.borrow_mut().push(line);
        }
    }

    fn eval_reporting(src: &str, reporter: Option<Box<dyn Reporter>>) -> String {
        let arena = Bump::new();
        let mut ev = Eval::new(&arena, Box::new(FsIo::new()), EvalSettings::default());
        if let Some(r) = reporter {
            ev.set_reporter(r);
        }
        let v = ev
            .eval_string(src.as_bytes(), std::path::Path::new("/"))
            .unwrap();
        let v = ev.force_deep(v).unwrap();
        crate::print::print_value(&mut ev, v, true).unwrap()
    }

    #[test]
    fn notices_reach_the_reporter_in_order() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let out = eval_reporting(
            "builtins.trace \"a\x1b[1mb\" (builtins.warn \"w\" (builtins.trace { x = 1; } 2))",
            Some(Box::new(Collect(seen.clone()))),
        );
        assert_eq!(out, "2");
        // The text as the evaluation made it: escapes are the reporter's business.
        assert_eq!(
            *seen.borrow(),
            [
                "trace: a\x1b[1mb",
                "evaluation warning: w",
                "trace: { x = 1; }"
            ]
        );
    }

    #[test]
    fn without_a_reporter_notices_are_dropped() {
        assert_eq!(eval_reporting(r#"builtins.trace "a" 1"#, None), "1");
    }
}
