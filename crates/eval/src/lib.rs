//! The Nix language for Kiln. So far: lexer, parser and syntax tree; evaluation comes later.
//!
//! Design decisions:
//!
//! * **Bytes, not text.** Nix source and Nix strings are byte strings; the lexer works on
//!   `&[u8]` and string contents are `Vec<u8>`. Positions are byte offsets ([`Span`]), and
//!   [`SourceMap`] turns them into `line:column` with the column counted in bytes, as Nix does.
//! * **Nix's lexer, rule for rule.** The hand-written lexer follows the flex rules
//!   and start conditions of Nix's lexer (longest match, first rule on a tie), so the odd
//!   corners agree: `a->b` is `a-` `>` `b`, `x:x` is a URI, `1e3` is `1` applied to `e3`,
//!   `$${` in a string is literal.
//! * **A parser that never fails.** [`parse`] always returns a tree and every syntax error it
//!   found, recovering at `;`, `}`, `)`, `]`, `in`, `then`, `else` (rust-analyzer's rule);
//!   callers refuse a tree with errors. Messages follow Nix 2.26's wording (`syntax error,
//!   unexpected ';', expecting '}'`); "expecting" lists are given where the parser knows them
//!   and may be shorter than bison's. Nesting is capped ([`MAX_DEPTH`]) so that no input
//!   overflows the stack.
//! * **A faithful tree.** [`Expr`] is a plain `Box` tree with a [`Span`] on every node;
//!   operators are not desugared and names are not resolved — lowering to a resolved IR is a
//!   later pass. Only string contents are final (unescaped; indented strings stripped with
//!   Nix's exact rules). The checks Nix makes while parsing (duplicate attributes and formals,
//!   dynamic attributes in `let`/`inherit`, integer overflow) are made here.
//! * **Interned identifiers.** Identifiers become [`Symbol`]s of an [`Interner`] the caller
//!   owns and the evaluator will share; the lexer allocates nothing per identifier.
//! * **Errors as data.** [`SyntaxError`] has a span and a kind; [`SourceMap::render_error`]
//!   gives Nix's `FILE:LINE:COL: message` form.
//!
//! [`dump`] prints a tree as a compact S-expression, the form the tests compare.

mod arith;
pub mod ast;
mod builtins;
mod dump;
mod error;
mod eval;
mod eval_error;
mod intern;
pub mod io;
pub mod ir;
pub mod json;
mod lexer;
mod lower;
mod parser;
pub mod print;
pub mod report;
pub mod show;

/// `nix-instantiate --eval --xml` output.
pub mod xml {
    pub use crate::builtins::serde::xml_document;
}
mod span;
pub mod value;

pub use ast::Expr;
pub use builtins::control::os_error_text;
pub use bumpalo::Bump;
pub use dump::dump;
pub use error::{SyntaxError, SyntaxErrorKind};
pub use eval::{CoerceMode, Eval, EvalSettings};
pub use eval_error::{ErrorKind, EvalError, EvalResult, TraceFrame};
pub use intern::{Interner, Symbol};
pub use parser::{parse, Parse, MAX_DEPTH};
pub use report::{Notice, Reporter};
pub use span::{FileId, LineCol, SourceMap, Span};
pub use value::Value;
