//! Evaluation errors: what went wrong, where, and the trace of what was being evaluated.
//!
//! Errors are boxed (`EvalResult<T> = Result<T, Box<EvalError>>`) so results stay small and the
//! error path stays cold. Whether `builtins.tryEval` may catch an error is a property of its
//! kind ([`EvalError::is_catchable`]): `throw` and failed assertions, nothing else, as in Nix.
//! This crate renders nothing; `kiln-cli` prints the message, the location with a code frame,
//! and the trace.

use std::fmt;

use crate::span::Span;

/// The result of evaluating something.
pub type EvalResult<T> = Result<T, Box<EvalError>>;

/// An evaluation error.
#[derive(Debug, Clone)]
pub struct EvalError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where, if known.
    pub span: Option<Span>,
    /// Context added while the error unwound, innermost first (printed outermost first; all
    /// of them with `--show-trace`).
    pub trace: Vec<TraceFrame>,
    /// Which argument of the builtin being called the error was met in, when the builtin
    /// says so: the builtin's call turns it into the frame its `PrimOp` names for that
    /// argument ("while evaluating the second argument passed to builtins.map"), and clears it.
    pub(crate) argument: Option<ArgumentMark>,
}

/// Which argument of a builtin an error was met in, and how that argument's frame applies.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ArgumentMark {
    /// The argument's own failure (a value of the wrong type, a failed coercion), which gets
    /// the frame when it is at the builtin's call (Nix's `forceList`, `forceAttrs`,
    /// `coerceToString` with a context, which add it where they throw).
    OwnFailure(usize),
    /// Any error in evaluating the argument, forcing included (Nix's `forceString`,
    /// `forceInt`, `forceFunction`, which add it to whatever they catch).
    AnyError(usize),
}

/// One line of an error's trace.
#[derive(Debug, Clone)]
pub struct TraceFrame {
    /// What was being done.
    pub message: String,
    /// Where.
    pub span: Option<Span>,
    /// Whether it is printed only with `--show-trace` (the frames of function calls, which Nix
    /// records only then).
    pub verbose: bool,
    /// Whether it is printed even where the trace is cut short (`builtins.addErrorContext`).
    pub always: bool,
}

/// The kinds of evaluation errors.
#[derive(Debug, Clone)]
pub enum ErrorKind {
    /// `throw "msg"`: catchable by `tryEval`.
    Throw(String),
    /// A failed `assert` (its whole message: "assertion 'COND' failed", or for `a == b` the
    /// difference found): catchable by `tryEval`.
    AssertionFailed(String),
    /// `abort "msg"`.
    Abort(String),
    /// A value of the wrong type.
    Type {
        /// What was expected ("a set").
        expected: &'static str,
        /// What was found ("an integer").
        found: &'static str,
        /// The value found, printed briefly.
        value: String,
    },
    /// A missing attribute.
    MissingAttr {
        /// Its name.
        name: String,
        /// Close names that do exist.
        suggestions: Vec<String>,
    },
    /// A function with a set pattern called with an attribute it does not name.
    UnexpectedArgument {
        /// The function, as Nix names it (`'f'`, `'anonymous lambda'`).
        function: String,
        /// The attribute.
        name: String,
        /// Close formal names.
        suggestions: Vec<String>,
    },
    /// A variable bound nowhere.
    UndefinedVariable(String),
    /// A thunk needed its own value.
    InfiniteRecursion,
    /// Too deep: `max-call-depth` exceeded or the evaluator's own stack limit.
    StackOverflow,
    /// A value nested too deeply to traverse (`deepSeq`, `--strict`, `toJSON`): Nix runs out
    /// of native stack there and exits with this message alone, no trace (see
    /// [`crate::eval::MAX_DEEP_NESTING`]).
    NestingTooDeep,
    /// The first syntax error of a file or string being evaluated (its message; the error's
    /// span says where).
    Syntax(String),
    /// Anything else, with Nix's message.
    Message(String),
    /// An error Nix raises as a usage error (an unknown hash algorithm): its command line
    /// prints "Try '… --help' for more information." after it.
    Usage(String),
}

impl EvalError {
    /// Makes an error of `kind` at `span`.
    pub fn new(kind: ErrorKind, span: Option<Span>) -> Box<EvalError> {
        Box::new(EvalError {
            kind,
            span,
            trace: Vec::new(),
            argument: None,
        })
    }

    /// Makes a plain message error.
    pub fn msg(message: impl Into<String>, span: Span) -> Box<EvalError> {
        Self::new(ErrorKind::Message(message.into()), Some(span))
    }

    /// Adds a frame of context as the error unwinds (`verbose`: see [`TraceFrame::verbose`]).
    pub fn add_trace(&mut self, message: String, span: Option<Span>, verbose: bool) {
        self.trace.push(TraceFrame {
            message,
            span,
            verbose,
            always: false,
        });
    }

    /// Adds a frame of context that prints even where the trace is cut short, as Nix prints
    /// those of `builtins.addErrorContext`.
    pub fn add_context(&mut self, message: String) {
        self.trace.push(TraceFrame {
            message,
            span: None,
            verbose: false,
            always: true,
        });
    }

    /// Tells whether `builtins.tryEval` catches it.
    pub fn is_catchable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Throw(_) | ErrorKind::AssertionFailed(_)
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Throw(m)
            | ErrorKind::Message(m)
            | ErrorKind::Usage(m)
            | ErrorKind::Syntax(m)
            | ErrorKind::AssertionFailed(m) => f.write_str(m),
            ErrorKind::Abort(m) => write!(
                f,
                "evaluation aborted with the following error message: '{m}'"
            ),
            ErrorKind::Type {
                expected,
                found,
                value,
            } => write!(f, "expected {expected} but found {found}: {value}"),
            ErrorKind::MissingAttr { name, .. } => write!(
                f,
                "attribute '{}' missing",
                crate::print::show_attr_name(name.as_bytes())
            ),
            ErrorKind::UndefinedVariable(name) => write!(f, "undefined variable '{name}'"),
            ErrorKind::UnexpectedArgument { function, name, .. } => {
                write!(
                    f,
                    "function {function} called with unexpected argument '{}'",
                    crate::print::show_attr_name(name.as_bytes())
                )
            }
            ErrorKind::InfiniteRecursion => f.write_str("infinite recursion encountered"),
            ErrorKind::StackOverflow => f.write_str("stack overflow; max-call-depth exceeded"),
            ErrorKind::NestingTooDeep => {
                f.write_str("stack overflow (possible infinite recursion)")
            }
        }
    }
}
