//! Syntax errors as data.

use crate::span::{SourceMap, Span};

/// One syntax error found while lexing or parsing, at `span`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct SyntaxError {
    /// Where the error is (for an unexpected token, the token).
    pub span: Span,
    /// What is wrong.
    pub kind: SyntaxErrorKind,
}

/// What a [`SyntaxError`] is about; messages follow current Nix's wording.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SyntaxErrorKind {
    /// A token the grammar does not allow here; `expected` lists what would have been allowed
    /// (empty when there are too many alternatives to be useful, as Nix's bison parser does).
    #[error("syntax error, unexpected {found}{}", expecting(expected))]
    Unexpected {
        /// The token's name as Nix prints it (`';'`, `ID`, `end of file`, ...).
        found: String,
        /// Names of the tokens that would have been accepted.
        expected: Vec<&'static str>,
    },
    /// An integer literal that does not fit in 64 bits.
    #[error("invalid integer '{0}'")]
    InvalidInteger(String),
    /// A float literal out of range.
    #[error("invalid float '{0}'")]
    InvalidFloat(String),
    /// A path literal ending in `/`.
    #[error("path has a trailing slash")]
    TrailingSlash,
    /// A string literal containing a NUL byte (shown as `␀`).
    #[error(
        "input string '{0}' cannot be represented as Nix string because it contains null bytes"
    )]
    NullByte(String),
    /// A `${...}` attribute name in `let`.
    #[error("dynamic attributes not allowed in let")]
    DynamicInLet,
    /// A `${...}` attribute name in `inherit`.
    #[error("dynamic attributes not allowed in inherit")]
    DynamicInInherit,
    /// The same name twice among a function's formals (or as formal and `@` name).
    #[error("duplicate formal function argument '{0}'")]
    DuplicateFormal(String),
    /// An attribute defined twice; `previous` is the first definition (rendered by
    /// [`SourceMap::render_error`] as `FILE:LINE:COL`).
    #[error("attribute '{path}' already defined")]
    DuplicateAttr {
        /// The dotted attribute path, e.g. `a.b`.
        path: String,
        /// The first definition.
        previous: Span,
    },
    /// `|>` or `<|`, which current Nix accepts only with the experimental feature
    /// `pipe-operators` (Kiln has no way to enable it yet).
    #[error("experimental Nix feature 'pipe-operators' is disabled; add '--extra-experimental-features pipe-operators' to enable it")]
    PipeOperators,
    /// Nesting deeper than the parser's limit (Kiln's own limit, to never overflow the stack).
    #[error("expression nesting exceeds the limit of {0} levels")]
    TooDeep(usize),
}

fn expecting(expected: &[&str]) -> String {
    if expected.is_empty() {
        String::new()
    } else {
        format!(", expecting {}", expected.join(" or "))
    }
}

impl SourceMap {
    /// Renders `err` as `FILE:LINE:COL: MESSAGE`, with any earlier location it refers to
    /// resolved the way Nix prints it.
    pub fn render_error(&self, err: &SyntaxError) -> String {
        let msg = match &err.kind {
            SyntaxErrorKind::DuplicateAttr { path, previous } => {
                format!(
                    "attribute '{path}' already defined at {}",
                    self.location(*previous)
                )
            }
            kind => kind.to_string(),
        };
        format!("{}: {msg}", self.location(err.span))
    }
}
