//! The parser: tokens to [`Expr`], recovering from every error.
//!
//! It is recursive descent for the statement-like forms (`x: ...`, `let`, `with`, `assert`,
//! `if`) and precedence climbing for operators, with the precedence and associativity of Nix's
//! bison grammar (highest first):
//!
//! | operators            | associativity |
//! |----------------------|---------------|
//! | `-` (negation)       | prefix        |
//! | `?`                  | left (*)      |
//! | `++`                 | right         |
//! | `*` `/`              | left          |
//! | `+` `-`              | left          |
//! | `!`                  | prefix        |
//! | `//`                 | right         |
//! | `<` `<=` `>` `>=`    | none          |
//! | `==` `!=`            | none          |
//! | `&&`                 | left          |
//! | `\|\|`               | left          |
//! | `->`                 | right         |
//!
//! (*) declared non-associative, but `a ? b ? c` parses as `(a ? b) ? c` in Nix.
//!
//! Selection (`a.b or c`) and application bind tighter than all of them. As in Nix, `if` and
//! the statement-like forms cannot be operands (`1 + if ...` is an error), and `x or` (the
//! identifier `or` applied as an argument) is accepted where Nix accepts it.
//!
//! The checks Nix makes while building its tree are made here too: duplicate attributes (with
//! Nix's merging of `a.b = ...; a.c = ...;` and of nested set literals), duplicate formals,
//! dynamic attributes in `let` and `inherit`.

use crate::ast::*;
use crate::error::{SyntaxError, SyntaxErrorKind};
use crate::intern::{Interner, Symbol};
use crate::lexer::{lex, Tok, Token};
use crate::span::{FileId, Span};

/// How deeply expressions may nest, counted in parser recursion levels (a parenthesis costs
/// three, an `assert`/`let`/lambda one, each operand of a chain one). Deeper input gets a
/// [`SyntaxErrorKind::TooDeep`] error instead of a stack overflow, in the parser and in
/// everything that walks the tree recursively. nixpkgs' `lib` needs about 250.
///
/// At this depth the parser needs up to about 3 MiB of stack in an unoptimized build (much
/// less optimized): run it on the main thread or on a thread with a stack of 8 MiB or more.
pub const MAX_DEPTH: usize = 1000;

/// The result of [`parse`]: a tree (with [`ExprKind::Error`] nodes where the source did not
/// parse) and every syntax error, in source order. Callers must refuse a tree with errors.
#[derive(Debug)]
pub struct Parse {
    /// The expression.
    pub expr: Expr,
    /// The syntax errors, sorted by position.
    pub errors: Vec<SyntaxError>,
}

/// Parses the Nix expression `src` of `file`, interning identifiers into `interner`. Never
/// fails and never panics: problems are reported in [`Parse::errors`].
pub fn parse(file: FileId, src: &[u8], interner: &mut Interner) -> Parse {
    parse_with(file, src, interner, false)
}

/// [`parse`], with the `|>` and `<|` operators allowed if `pipe_operators` (the experimental
/// feature of that name).
pub fn parse_with(
    file: FileId,
    src: &[u8],
    interner: &mut Interner,
    pipe_operators: bool,
) -> Parse {
    let mut errors = Vec::new();
    let tokens = lex(file, src, interner, &mut errors, pipe_operators);
    let sym_or = interner.intern(b"or");
    let mut p = Parser {
        file,
        tokens,
        pos: 0,
        prev_end: 0,
        errors,
        interner,
        depth: 0,
        aborted: false,
        last_error_at: None,
        scopes: Vec::new(),
        attrset_scopes: HashMap::default(),
        sym_or,
    };
    let expr = p.parse_expr();
    if !p.at(&Tok::Eof) {
        p.unexpected(&["end of file"]);
    }
    let mut errors = p.errors;
    errors.sort_by_key(|e| e.span.start);
    Parse { expr, errors }
}

/// Precedence levels of Nix's grammar, low to high.
const PREC_IMPL: u8 = 1;
const PREC_OR: u8 = 2;
const PREC_AND: u8 = 3;
const PREC_EQ: u8 = 4;
const PREC_CMP: u8 = 5;
const PREC_UPDATE: u8 = 6;
const PREC_NOT: u8 = 7;
const PREC_ADD: u8 = 8;
const PREC_MUL: u8 = 9;
const PREC_CONCAT: u8 = 10;
const PREC_HAS_ATTR: u8 = 11;
const PREC_NEGATE: u8 = 12;

#[derive(Clone, Copy, PartialEq)]
enum Assoc {
    Left,
    Right,
    None,
}

/// A binary operator token: its operator (`None` for `?`), precedence and associativity.
fn binary_op(tok: &Tok) -> Option<(Option<BinaryOp>, u8, Assoc)> {
    use BinaryOp::*;
    Some(match tok {
        Tok::Impl => (Some(Impl), PREC_IMPL, Assoc::Right),
        Tok::Or => (Some(Or), PREC_OR, Assoc::Left),
        Tok::And => (Some(And), PREC_AND, Assoc::Left),
        Tok::Eq => (Some(Eq), PREC_EQ, Assoc::None),
        Tok::Neq => (Some(Neq), PREC_EQ, Assoc::None),
        Tok::Char(b'<') => (Some(Lt), PREC_CMP, Assoc::None),
        Tok::Leq => (Some(Leq), PREC_CMP, Assoc::None),
        Tok::Char(b'>') => (Some(Gt), PREC_CMP, Assoc::None),
        Tok::Geq => (Some(Geq), PREC_CMP, Assoc::None),
        Tok::Update => (Some(Update), PREC_UPDATE, Assoc::Right),
        Tok::Char(b'+') => (Some(Add), PREC_ADD, Assoc::Left),
        Tok::Char(b'-') => (Some(Sub), PREC_ADD, Assoc::Left),
        Tok::Char(b'*') => (Some(Mul), PREC_MUL, Assoc::Left),
        Tok::Char(b'/') => (Some(Div), PREC_MUL, Assoc::Left),
        Tok::Concat => (Some(Concat), PREC_CONCAT, Assoc::Right),
        // `?` is declared %nonassoc in Nix's grammar, but its right side is an attribute path,
        // not an operand, so `a ? b ? c` never meets the conflict and means `(a ? b) ? c`.
        Tok::Char(b'?') => (None, PREC_HAS_ATTR, Assoc::Left),
        _ => return None,
    })
}

/// Whether `tok` can start an `expr_select` (an application argument or list element).
fn starts_select(tok: &Tok) -> bool {
    matches!(
        tok,
        Tok::Id(_)
            | Tok::Int(_)
            | Tok::Float(_)
            | Tok::Quote
            | Tok::IndOpen
            | Tok::Path(_)
            | Tok::HPath(_)
            | Tok::SPath(_)
            | Tok::Uri(_)
            | Tok::Let
            | Tok::Rec
            | Tok::Char(b'(' | b'{' | b'[')
    )
}

/// Tokens an error recovery stops at rather than consumes: they close something.
fn is_closer(tok: &Tok) -> bool {
    matches!(
        tok,
        Tok::Char(b';' | b'}' | b')' | b']')
            | Tok::In
            | Tok::Then
            | Tok::Else
            | Tok::Quote
            | Tok::IndClose
            | Tok::PathEnd
            | Tok::Eof
    )
}

type ScopeId = usize;

/// Hash maps keyed by small integers, with a fast fixed-seed hash (the parser's input cannot
/// choose keys that collide: symbols and offsets are numbered by the parser itself).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// The static attribute names of one set or `let`, for duplicate detection.
#[derive(Default)]
struct Scope {
    index: HashMap<Symbol, usize>,
    defs: Vec<Def>,
}

#[derive(Clone, Copy)]
struct Def {
    sym: Symbol,
    pos: Span,
    /// Set when the value is an attribute set Nix merges into (a literal or an implied one).
    nested: Option<ScopeId>,
}

/// A piece of an indented string before indentation stripping.
enum IndPart {
    Lit(Vec<u8>, bool),
    Interp(Expr),
}

struct Parser<'i> {
    file: FileId,
    tokens: Vec<Token>,
    pos: usize,
    prev_end: u32,
    errors: Vec<SyntaxError>,
    interner: &'i mut Interner,
    depth: usize,
    /// Set after a too-deep error: the rest of the input is skipped silently.
    aborted: bool,
    last_error_at: Option<u32>,
    scopes: Vec<Scope>,
    /// The scope of each attribute set literal, by the offset it starts at.
    attrset_scopes: HashMap<u32, ScopeId>,
    sym_or: Symbol,
}

impl Parser<'_> {
    // ---- token access -------------------------------------------------------------------

    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)].tok
    }

    fn at(&self, tok: &Tok) -> bool {
        // The tokens looked for carry no data or a byte: compare kinds first, cheaply.
        let next = self.peek();
        match (next, tok) {
            (Tok::Char(a), Tok::Char(b)) => a == b,
            _ => std::mem::discriminant(next) == std::mem::discriminant(tok) && next == tok,
        }
    }

    fn start(&self) -> u32 {
        self.tokens[self.pos].start
    }

    fn tok_span(&self) -> Span {
        let t = &self.tokens[self.pos];
        Span::new(self.file, t.start, t.end)
    }

    fn span_from(&self, start: u32) -> Span {
        Span::new(self.file, start, self.prev_end.max(start))
    }

    /// Consumes the current token (never the final `Eof`) and returns it.
    fn bump(&mut self) -> Token {
        let t = &mut self.tokens[self.pos];
        if matches!(t.tok, Tok::Eof) {
            return t.clone();
        }
        let tok = std::mem::replace(&mut t.tok, Tok::Eof);
        let token = Token {
            tok,
            start: t.start,
            end: t.end,
        };
        self.prev_end = token.end;
        self.pos += 1;
        token
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.at(tok) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Consumes `tok` or reports that it was expected.
    fn expect(&mut self, tok: &Tok, name: &'static str) -> bool {
        if self.eat(tok) {
            true
        } else {
            self.unexpected(&[name]);
            false
        }
    }

    // ---- errors -------------------------------------------------------------------------

    fn error(&mut self, span: Span, kind: SyntaxErrorKind) {
        if !self.aborted {
            self.errors.push(SyntaxError { span, kind });
        }
    }

    /// Reports the current token as unexpected (once per position).
    fn unexpected(&mut self, expected: &[&'static str]) {
        let at = self.start();
        if self.last_error_at == Some(at) {
            return;
        }
        self.last_error_at = Some(at);
        let kind = SyntaxErrorKind::Unexpected {
            found: self.peek().name(),
            expected: expected.to_vec(),
        };
        let span = self.tok_span();
        self.error(span, kind);
    }

    fn error_expr(&self, start: u32) -> Expr {
        Expr {
            kind: ExprKind::Error,
            span: self.span_from(start),
        }
    }

    /// Enters one nesting level; false (after reporting, once) when too deep.
    fn enter(&mut self) -> bool {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            if !self.aborted {
                let span = self.tok_span();
                self.error(span, SyntaxErrorKind::TooDeep(MAX_DEPTH));
                self.aborted = true;
            }
            self.pos = self.tokens.len() - 1;
            return false;
        }
        !self.aborted
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- expressions --------------------------------------------------------------------

    fn parse_expr(&mut self) -> Expr {
        self.parse_function()
    }

    /// `expr_function`: lambdas, `assert`, `with`, `let ... in`, then `if` and operators.
    fn parse_function(&mut self) -> Expr {
        let start = self.start();
        if !self.enter() {
            self.leave();
            return self.error_expr(start);
        }
        let e = self.parse_function_inner(start);
        self.leave();
        e
    }

    fn parse_function_inner(&mut self, start: u32) -> Expr {
        match (self.peek(), self.peek_at(1)) {
            (Tok::Id(_), Tok::Char(b':')) => self.lambda_ident(start),
            (Tok::Id(_), Tok::Char(b'@')) => self.lambda_at_before(start),
            (Tok::Char(b'{'), _) if self.formals_ahead() => self.parse_pattern_lambda(start, None),
            (Tok::Assert | Tok::With, _) => self.assert_or_with(start),
            (Tok::Let, t) if *t != Tok::Char(b'{') => {
                let let_span = self.bump_span();
                self.parse_let_rest(start, let_span)
            }
            (Tok::If, _) => self.parse_if(start),
            _ => self.parse_pipes(start),
        }
    }

    fn lambda_ident(&mut self, start: u32) -> Expr {
        let (name, span) = self.ident();
        self.bump();
        let body = self.parse_function();
        self.mk(
            start,
            ExprKind::Lambda {
                param: Param::Ident { name, span },
                body: Box::new(body),
            },
        )
    }

    fn lambda_at_before(&mut self, start: u32) -> Expr {
        let (name, span) = self.ident();
        self.bump();
        let at = AtPattern {
            name,
            span,
            before: true,
        };
        if !self.at(&Tok::Char(b'{')) {
            self.unexpected(&["'{'"]);
            return self.error_expr(start);
        }
        self.parse_pattern_lambda(start, Some(at))
    }

    fn assert_or_with(&mut self, start: u32) -> Expr {
        let is_assert = self.bump().tok == Tok::Assert;
        let first = Box::new(self.parse_expr());
        self.expect(&Tok::Char(b';'), "';'");
        let body = Box::new(self.parse_function());
        let kind = if is_assert {
            ExprKind::Assert { cond: first, body }
        } else {
            ExprKind::With { env: first, body }
        };
        self.mk(start, kind)
    }

    fn parse_if(&mut self, start: u32) -> Expr {
        self.bump();
        let cond = self.parse_expr();
        self.expect(&Tok::Then, "THEN");
        let then = self.parse_expr();
        self.expect(&Tok::Else, "ELSE");
        let else_ = self.parse_expr();
        self.mk(
            start,
            ExprKind::If {
                cond: Box::new(cond),
                then: Box::new(then),
                else_: Box::new(else_),
            },
        )
    }

    /// Operators, then the pipe operators, which bind loosest: `|>` to the left, `<|` to the
    /// right, and the two do not mix.
    fn parse_pipes(&mut self, start: u32) -> Expr {
        let mut lhs = self.parse_op(0);
        match self.peek() {
            Tok::PipeInto => {
                let mut chain = 0;
                while self.at(&Tok::PipeInto) {
                    chain += 1;
                    if !self.enter() {
                        break;
                    }
                    let op_span = self.bump_span();
                    let rhs = self.parse_op(0);
                    lhs = self.mk(
                        start,
                        ExprKind::Binary {
                            op: BinaryOp::PipeInto,
                            op_span,
                            lhs: Box::new(lhs),
                            rhs: Box::new(rhs),
                        },
                    );
                }
                self.depth -= chain;
                if self.at(&Tok::PipeFrom) {
                    self.unexpected(&[]);
                }
                lhs
            }
            Tok::PipeFrom => {
                let op_span = self.bump_span();
                if !self.enter() {
                    self.leave();
                    return lhs;
                }
                let rhs_start = self.start();
                let rhs = self.parse_pipes(rhs_start);
                self.leave();
                if let ExprKind::Binary {
                    op: BinaryOp::PipeInto,
                    op_span,
                    ..
                } = &rhs.kind
                {
                    let span = *op_span;
                    self.error(
                        span,
                        SyntaxErrorKind::Unexpected {
                            found: Tok::PipeInto.name(),
                            expected: vec![],
                        },
                    );
                }
                self.mk(
                    start,
                    ExprKind::Binary {
                        op: BinaryOp::PipeFrom,
                        op_span,
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                    },
                )
            }
            _ => lhs,
        }
    }

    /// `let` bindings `in` body, after `let`.
    fn parse_let_rest(&mut self, start: u32, let_span: Span) -> Expr {
        let (bindings, _) = self.parse_bindings(&Tok::In, &["IN", "INHERIT"]);
        if bindings.iter().any(|b| self.is_dynamic_binding(b)) {
            self.error(let_span, SyntaxErrorKind::DynamicInLet);
        }
        self.expect(&Tok::In, "IN");
        let body = self.parse_function();
        self.mk(
            start,
            ExprKind::Let {
                bindings,
                body: Box::new(body),
            },
        )
    }

    fn mk(&self, start: u32, kind: ExprKind) -> Expr {
        Expr {
            kind,
            span: self.span_from(start),
        }
    }

    /// Consumes an identifier token.
    fn ident(&mut self) -> (Symbol, Span) {
        let t = self.bump();
        let span = Span::new(self.file, t.start, t.end);
        match t.tok {
            Tok::Id(s) => (s, span),
            _ => (self.sym_or, span),
        }
    }

    /// At `{`: whether a formal parameter set follows rather than an attribute set.
    fn formals_ahead(&self) -> bool {
        match self.peek_at(1) {
            Tok::Char(b'}') => matches!(self.peek_at(2), Tok::Char(b':' | b'@')),
            Tok::Ellipsis => true,
            Tok::Id(_) => matches!(self.peek_at(2), Tok::Char(b',' | b'?' | b'}')),
            _ => false,
        }
    }

    /// `{ formals } [@ name] : body`, at `{`; `at` is an `name @` already read.
    fn parse_pattern_lambda(&mut self, start: u32, mut at: Option<AtPattern>) -> Expr {
        self.bump(); // `{`
        let mut formals: Vec<Formal> = Vec::new();
        let mut ellipsis = false;
        loop {
            match self.peek() {
                Tok::Char(b'}') => break,
                Tok::Ellipsis => {
                    self.bump();
                    ellipsis = true;
                    if !self.at(&Tok::Char(b'}')) {
                        self.unexpected(&["'}'"]);
                        self.recover_formals();
                    }
                    break;
                }
                Tok::Id(_) => {
                    let (name, span) = self.ident();
                    let default = if self.eat(&Tok::Char(b'?')) {
                        Some(self.parse_expr())
                    } else {
                        None
                    };
                    formals.push(Formal {
                        name,
                        span,
                        default,
                    });
                    if self.eat(&Tok::Char(b',')) {
                        continue;
                    }
                    if !self.at(&Tok::Char(b'}')) {
                        // Bison's order: by token number, and `'}'` is numbered first.
                        self.unexpected(&["'}'", "','"]);
                        self.recover_formals();
                    }
                    break;
                }
                _ => {
                    self.unexpected(&[]);
                    self.recover_formals();
                    break;
                }
            }
        }
        self.expect(&Tok::Char(b'}'), "'}'");
        if at.is_none() && self.eat(&Tok::Char(b'@')) {
            if let Tok::Id(_) = self.peek() {
                let (name, span) = self.ident();
                at = Some(AtPattern {
                    name,
                    span,
                    before: false,
                });
            } else {
                self.unexpected(&["ID"]);
            }
        }
        self.check_formals(start, &formals, at.as_ref());
        if !self.eat(&Tok::Char(b':')) {
            if at.is_none() {
                self.unexpected(&["':'", "'@'"]);
            } else {
                self.unexpected(&["':'"]);
            }
        }
        let body = self.parse_function();
        self.mk(
            start,
            ExprKind::Lambda {
                param: Param::Formals {
                    formals,
                    ellipsis,
                    at,
                },
                body: Box::new(body),
            },
        )
    }

    /// Skips to the `}` that ends a formal set (or to anything that closes more).
    fn recover_formals(&mut self) {
        while !matches!(self.peek(), Tok::Char(b'}' | b':' | b';' | b')') | Tok::Eof) {
            self.bump();
        }
    }

    /// Reports a duplicate formal the way Nix picks it (the smallest name, at its later
    /// occurrence) and an `@` name that repeats a formal (at the lambda).
    fn check_formals(&mut self, start: u32, formals: &[Formal], at: Option<&AtPattern>) {
        let mut sorted: Vec<(Symbol, u32)> =
            formals.iter().map(|f| (f.name, f.span.start)).collect();
        sorted.sort();
        let dup = sorted
            .windows(2)
            .filter(|w| w[0].0 == w[1].0)
            .map(|w| w[1])
            .min();
        if let Some((name, pos)) = dup {
            let name = self.interner.name(name).into_owned();
            let end = pos + name.len() as u32;
            self.error(
                Span::new(self.file, pos, end),
                SyntaxErrorKind::DuplicateFormal(name),
            );
        } else if let Some(at) = at {
            if formals.iter().any(|f| f.name == at.name) {
                let name = self.interner.name(at.name).into_owned();
                let span = Span::new(self.file, start, start);
                self.error(span, SyntaxErrorKind::DuplicateFormal(name));
            }
        }
    }

    /// Operators, by precedence climbing; `min` is the lowest precedence accepted.
    fn parse_op(&mut self, min: u8) -> Expr {
        let start = self.start();
        if !self.enter() {
            self.leave();
            return self.error_expr(start);
        }
        let mut lhs = match self.peek() {
            Tok::Char(b'!') => {
                let op_span = self.bump_span();
                let expr = self.parse_op(PREC_NOT + 1);
                self.mk(
                    start,
                    ExprKind::Unary {
                        op: UnaryOp::Not,
                        op_span,
                        expr: Box::new(expr),
                    },
                )
            }
            Tok::Char(b'-') => {
                let op_span = self.bump_span();
                let expr = self.parse_op(PREC_NEGATE + 1);
                self.mk(
                    start,
                    ExprKind::Unary {
                        op: UnaryOp::Negate,
                        op_span,
                        expr: Box::new(expr),
                    },
                )
            }
            _ => self.parse_app(),
        };
        let mut chain = 0;
        let mut last_nonassoc = None;
        while let Some((op, prec, assoc)) = binary_op(self.peek()) {
            if prec < min {
                break;
            }
            if assoc == Assoc::None && last_nonassoc == Some(prec) {
                self.unexpected(&[]);
            }
            last_nonassoc = (assoc == Assoc::None).then_some(prec);
            chain += 1;
            if !self.enter() {
                break;
            }
            let op_span = self.bump_span();
            lhs = match op {
                None => {
                    let path = self.parse_attr_path();
                    self.mk(
                        start,
                        ExprKind::HasAttr {
                            expr: Box::new(lhs),
                            path,
                            op_span,
                        },
                    )
                }
                Some(op) => {
                    let next = if assoc == Assoc::Right {
                        prec
                    } else {
                        prec + 1
                    };
                    let rhs = self.parse_op(next);
                    self.mk(
                        start,
                        ExprKind::Binary {
                            op,
                            op_span,
                            lhs: Box::new(lhs),
                            rhs: Box::new(rhs),
                        },
                    )
                }
            };
        }
        self.depth -= chain;
        self.leave();
        lhs
    }

    fn bump_span(&mut self) -> Span {
        let t = self.bump();
        Span::new(self.file, t.start, t.end)
    }

    /// Application: `f a b` is `(f a) b`.
    fn parse_app(&mut self) -> Expr {
        let start = self.start();
        let mut func = self.parse_select();
        let mut chain = 0;
        while starts_select(self.peek()) {
            chain += 1;
            if !self.enter() {
                break;
            }
            let arg = self.parse_select();
            func = self.mk(
                start,
                ExprKind::Apply {
                    func: Box::new(func),
                    arg: Box::new(arg),
                },
            );
        }
        self.depth -= chain;
        func
    }

    /// `e.a.b`, `e.a.b or d`, and `e or` (which applies `e` to the variable `or`).
    fn parse_select(&mut self) -> Expr {
        let start = self.start();
        if !self.enter() {
            self.leave();
            return self.error_expr(start);
        }
        let e = self.parse_simple();
        let e = match self.peek() {
            Tok::Char(b'.') => {
                self.bump();
                let path = self.parse_attr_path();
                let default = if self.eat(&Tok::OrKw) {
                    Some(Box::new(self.parse_select()))
                } else {
                    None
                };
                self.mk(
                    start,
                    ExprKind::Select {
                        expr: Box::new(e),
                        path,
                        default,
                    },
                )
            }
            Tok::OrKw => {
                let span = self.bump_span();
                let arg = Expr {
                    kind: ExprKind::Var(self.sym_or),
                    span,
                };
                self.mk(
                    start,
                    ExprKind::Apply {
                        func: Box::new(e),
                        arg: Box::new(arg),
                    },
                )
            }
            _ => e,
        };
        self.leave();
        e
    }

    /// `expr_simple`. Each form is parsed by its own function so that the recursion through
    /// nested expressions keeps small stack frames.
    fn parse_simple(&mut self) -> Expr {
        let start = self.start();
        match self.peek() {
            Tok::Id(_) | Tok::Int(_) | Tok::Float(_) | Tok::Uri(_) | Tok::SPath(_) => {
                self.simple_token(start)
            }
            Tok::Quote => self.simple_string(start),
            Tok::IndOpen => self.simple_ind_string(start),
            Tok::Path(_) | Tok::HPath(_) => self.parse_path(),
            Tok::Char(b'(') => self.simple_paren(),
            Tok::Let => self.simple_legacy_let(start),
            Tok::Rec | Tok::Char(b'{') => self.simple_attrset(start),
            Tok::Char(b'[') => self.simple_list(start),
            _ => self.simple_error(start),
        }
    }

    fn simple_token(&mut self, start: u32) -> Expr {
        let kind = match self.bump().tok {
            Tok::Id(s) => ExprKind::Var(s),
            Tok::Int(n) => ExprKind::Int(n),
            Tok::Float(f) => ExprKind::Float(f),
            Tok::Uri(u) => ExprKind::Uri(u),
            Tok::SPath(p) => ExprKind::Path {
                kind: PathKind::Search,
                parts: vec![StrPart::Literal(p[1..p.len() - 1].to_vec())],
            },
            _ => unreachable!("called at a single-token expression"),
        };
        self.mk(start, kind)
    }

    fn simple_string(&mut self, start: u32) -> Expr {
        self.bump();
        let parts = self.parse_string_parts();
        self.expect(&Tok::Quote, "'\"'");
        self.mk(
            start,
            ExprKind::Str {
                parts,
                indented: false,
            },
        )
    }

    fn simple_ind_string(&mut self, start: u32) -> Expr {
        self.bump();
        let parts = self.parse_ind_string();
        self.mk(
            start,
            ExprKind::Str {
                parts,
                indented: true,
            },
        )
    }

    fn simple_paren(&mut self) -> Expr {
        self.bump();
        let e = self.parse_expr();
        self.expect(&Tok::Char(b')'), "')'");
        e
    }

    fn simple_legacy_let(&mut self, start: u32) -> Expr {
        let let_span = self.bump_span();
        if !self.expect(&Tok::Char(b'{'), "'{'") {
            // `let ... in` is not allowed as an operand: parse it whole for recovery.
            self.parse_let_rest(start, let_span);
            return self.error_expr(start);
        }
        let (bindings, _) = self.parse_bindings(&Tok::Char(b'}'), &["INHERIT", "'}'"]);
        self.expect(&Tok::Char(b'}'), "'}'");
        self.mk(start, ExprKind::LegacyLet { bindings })
    }

    fn simple_attrset(&mut self, start: u32) -> Expr {
        let rec = self.eat(&Tok::Rec);
        if !self.expect(&Tok::Char(b'{'), "'{'") {
            return self.error_expr(start);
        }
        let expected: &[&'static str] = if rec {
            &["INHERIT", "'}'"]
        } else {
            &["INHERIT"]
        };
        let (bindings, scope) = self.parse_bindings(&Tok::Char(b'}'), expected);
        self.expect(&Tok::Char(b'}'), "'}'");
        self.attrset_scopes.insert(start, scope);
        self.mk(start, ExprKind::AttrSet { rec, bindings })
    }

    fn simple_list(&mut self, start: u32) -> Expr {
        self.bump();
        let mut items = Vec::new();
        loop {
            match self.peek() {
                t if starts_select(t) => items.push(self.parse_select()),
                Tok::Char(b']') => {
                    self.bump();
                    break;
                }
                t => {
                    // Too many tokens could follow for bison to list them.
                    let closer = is_closer(t);
                    self.unexpected(&[]);
                    if closer {
                        break;
                    }
                    self.bump();
                }
            }
        }
        self.mk(start, ExprKind::List(items))
    }

    fn simple_error(&mut self, start: u32) -> Expr {
        let tok = self.peek();
        if matches!(tok, Tok::If | Tok::With | Tok::Assert) {
            // Not allowed as an operand; parse it whole so that one error is reported.
            self.unexpected(&[]);
            self.parse_expr();
            return self.error_expr(start);
        }
        let closer = is_closer(tok);
        self.unexpected(&[]);
        if !closer {
            self.bump();
        }
        self.error_expr(start)
    }

    /// The parts of a `"..."` string, up to (not including) the closing quote.
    fn parse_string_parts(&mut self) -> Vec<StrPart> {
        let mut parts = Vec::new();
        loop {
            match self.peek() {
                Tok::Str(_) => {
                    let Tok::Str(s) = self.bump().tok else {
                        unreachable!("matched above")
                    };
                    push_literal(&mut parts, s);
                }
                Tok::DollarCurly => parts.push(StrPart::Interpolation(self.parse_interpolation())),
                _ => return parts,
            }
        }
    }

    /// `${ expr }`, at `${`.
    fn parse_interpolation(&mut self) -> Expr {
        self.bump();
        let e = self.parse_expr();
        self.expect(&Tok::Char(b'}'), "'}'");
        e
    }

    /// An indented string after `''`, through `''`, with its indentation stripped.
    fn parse_ind_string(&mut self) -> Vec<StrPart> {
        let mut raw = Vec::new();
        loop {
            match self.peek() {
                Tok::IndStr(..) => {
                    let Tok::IndStr(s, indent) = self.bump().tok else {
                        unreachable!("matched above")
                    };
                    raw.push(IndPart::Lit(s, indent));
                }
                Tok::DollarCurly => raw.push(IndPart::Interp(self.parse_interpolation())),
                Tok::IndClose => {
                    self.bump();
                    break;
                }
                _ => {
                    self.unexpected(&["IND_STR", "DOLLAR_CURLY", "IND_STRING_CLOSE"]);
                    break;
                }
            }
        }
        strip_indentation(raw)
    }

    /// A path literal, possibly interpolated, at its first token.
    fn parse_path(&mut self) -> Expr {
        let start = self.start();
        let (kind, text) = match self.bump().tok {
            Tok::Path(p) if p.starts_with(b"/") => (PathKind::Absolute, p),
            Tok::Path(p) => (PathKind::Relative, p),
            Tok::HPath(p) => (PathKind::Home, p),
            _ => unreachable!("called at a path token"),
        };
        let mut parts = vec![StrPart::Literal(text)];
        loop {
            match self.peek() {
                Tok::Str(_) => {
                    let Tok::Str(s) = self.bump().tok else {
                        unreachable!("matched above")
                    };
                    push_literal(&mut parts, s);
                }
                Tok::DollarCurly => parts.push(StrPart::Interpolation(self.parse_interpolation())),
                Tok::PathEnd => {
                    self.bump();
                    break;
                }
                _ => {
                    self.unexpected(&["PATH_END"]);
                    break;
                }
            }
        }
        self.mk(start, ExprKind::Path { kind, parts })
    }

    /// An attribute path: names separated by `.`.
    fn parse_attr_path(&mut self) -> AttrPath {
        let mut path = vec![self.parse_attr_name()];
        while self.at(&Tok::Char(b'.')) {
            self.bump();
            path.push(self.parse_attr_name());
        }
        path
    }

    fn parse_attr_name(&mut self) -> AttrName {
        let start = self.start();
        let kind = match self.peek() {
            Tok::Id(_) | Tok::OrKw => AttrNameKind::Ident(self.ident().0),
            Tok::Quote => {
                self.bump();
                let parts = self.parse_string_parts();
                self.expect(&Tok::Quote, "'\"'");
                AttrNameKind::Str(parts)
            }
            Tok::DollarCurly => AttrNameKind::Dynamic(Box::new(self.parse_interpolation())),
            tok => {
                let closer = is_closer(tok);
                self.unexpected(&["ID", "OR_KW", "DOLLAR_CURLY", "'\"'"]);
                if !closer {
                    self.bump();
                }
                AttrNameKind::Dynamic(Box::new(self.error_expr(start)))
            }
        };
        AttrName {
            kind,
            span: self.span_from(start),
        }
    }

    // ---- bindings -----------------------------------------------------------------------

    /// Bindings up to `closer` (not consumed), with their duplicate checks. `expected` is
    /// what Nix's parser says it expected where a binding cannot start: the grammar's states
    /// differ for a plain set (`INHERIT`), a `rec` set (`INHERIT or '}'`) and a `let`
    /// (`IN or INHERIT`).
    fn parse_bindings(
        &mut self,
        closer: &Tok,
        expected: &[&'static str],
    ) -> (Vec<Binding>, ScopeId) {
        let scope = self.new_scope();
        let mut bindings = Vec::new();
        loop {
            let start = self.start();
            match self.peek() {
                t if t == closer || *t == Tok::Eof => break,
                Tok::Inherit => {
                    self.bump();
                    let from = if self.eat(&Tok::Char(b'(')) {
                        let e = self.parse_expr();
                        self.expect(&Tok::Char(b')'), "')'");
                        Some(e)
                    } else {
                        None
                    };
                    let mut names = Vec::new();
                    while matches!(
                        self.peek(),
                        Tok::Id(_) | Tok::OrKw | Tok::Quote | Tok::DollarCurly
                    ) {
                        let name = self.parse_attr_name();
                        match self.static_name(&name) {
                            Some(sym) => self.add_inherit(scope, sym, name.span),
                            None => self.error(name.span, SyntaxErrorKind::DynamicInInherit),
                        }
                        names.push(name);
                    }
                    // After the names, Nix expects `;` or another name: too many tokens for
                    // its message to list.
                    if !self.eat(&Tok::Char(b';')) {
                        self.unexpected(&[]);
                        self.recover_binding(closer);
                    }
                    bindings.push(Binding::Inherit {
                        from,
                        names,
                        span: self.span_from(start),
                    });
                }
                Tok::Id(_) | Tok::OrKw | Tok::Quote | Tok::DollarCurly => {
                    let path = self.parse_attr_path();
                    let value = if self.eat(&Tok::Char(b'=')) {
                        self.parse_expr()
                    } else {
                        self.unexpected(&["'.'", "'='"]);
                        self.error_expr(self.start())
                    };
                    let path_span = path[0].span.to(path[path.len() - 1].span);
                    self.add_assign(scope, &path, &value, path_span);
                    if !self.expect(&Tok::Char(b';'), "';'") {
                        self.recover_binding(closer);
                    }
                    bindings.push(Binding::Assign {
                        path,
                        value,
                        span: self.span_from(start),
                    });
                }
                _ => {
                    self.unexpected(expected);
                    self.bump();
                    self.recover_binding(closer);
                }
            }
        }
        (bindings, scope)
    }

    /// After an error in a binding: skips past the next `;`, or up to `closer`.
    fn recover_binding(&mut self, closer: &Tok) {
        loop {
            match self.peek() {
                Tok::Char(b';') => {
                    self.bump();
                    return;
                }
                t if t == closer || *t == Tok::Eof => return,
                _ => {
                    self.bump();
                }
            }
        }
    }

    fn new_scope(&mut self) -> ScopeId {
        self.scopes.push(Scope::default());
        self.scopes.len() - 1
    }

    /// The name an attribute name stands for when Nix treats it as static: an identifier, a
    /// string without interpolation, or `${...}` around a constant string (Nix 2.26 folds
    /// that one).
    fn static_name(&mut self, name: &AttrName) -> Option<Symbol> {
        fn constant(parts: &[StrPart]) -> Option<&[u8]> {
            match parts {
                [] => Some(b""),
                [StrPart::Literal(s)] => Some(s),
                _ => None,
            }
        }
        match &name.kind {
            AttrNameKind::Ident(s) => Some(*s),
            AttrNameKind::Str(parts) => constant(parts).map(|s| self.interner.intern(s)),
            AttrNameKind::Dynamic(e) => match &e.kind {
                ExprKind::Str { parts, .. } => constant(parts).map(|s| self.interner.intern(s)),
                ExprKind::Uri(u) => Some(self.interner.intern(u)),
                _ => None,
            },
        }
    }

    fn is_dynamic_binding(&self, b: &Binding) -> bool {
        let Binding::Assign { path, .. } = b else {
            return false;
        };
        match &path[0].kind {
            AttrNameKind::Ident(_) => false,
            AttrNameKind::Str(parts) => {
                parts.len() > 1 || matches!(parts.first(), Some(StrPart::Interpolation(_)))
            }
            AttrNameKind::Dynamic(e) => match &e.kind {
                ExprKind::Str { parts, .. } => {
                    parts.len() > 1 || matches!(parts.first(), Some(StrPart::Interpolation(_)))
                }
                ExprKind::Uri(_) => false,
                _ => true,
            },
        }
    }

    fn show_path(&self, path: &[Symbol]) -> String {
        path.iter()
            .map(|&s| crate::print::show_attr_name(self.interner.resolve(s)))
            .collect::<Vec<_>>()
            .join(".")
    }

    fn add_inherit(&mut self, scope: ScopeId, sym: Symbol, pos: Span) {
        if let Some(&i) = self.scopes[scope].index.get(&sym) {
            let previous = self.scopes[scope].defs[i].pos;
            let path = self.show_path(&[sym]);
            self.error(pos, SyntaxErrorKind::DuplicateAttr { path, previous });
            return;
        }
        self.insert_def(
            scope,
            Def {
                sym,
                pos,
                nested: None,
            },
        );
    }

    fn insert_def(&mut self, scope: ScopeId, def: Def) {
        let s = &mut self.scopes[scope];
        s.index.insert(def.sym, s.defs.len());
        s.defs.push(def);
    }

    /// Nix's `addAttr`: walks/creates the implied sets of `a.b.c = v` and reports conflicts.
    fn add_assign(&mut self, scope: ScopeId, path: &AttrPath, value: &Expr, pos: Span) {
        let mut cur = scope;
        let mut shown = Vec::new();
        let (last, init) = path.split_last().expect("attribute paths are never empty");
        for name in init {
            match self.static_name(name) {
                Some(sym) => {
                    shown.push(sym);
                    match self.scopes[cur].index.get(&sym) {
                        Some(&i) => {
                            let def = self.scopes[cur].defs[i];
                            match def.nested {
                                Some(nested) => cur = nested,
                                None => {
                                    let path = self.show_path(&shown);
                                    self.error(
                                        pos,
                                        SyntaxErrorKind::DuplicateAttr {
                                            path,
                                            previous: def.pos,
                                        },
                                    );
                                    return;
                                }
                            }
                        }
                        None => {
                            let nested = self.new_scope();
                            self.insert_def(
                                cur,
                                Def {
                                    sym,
                                    pos,
                                    nested: Some(nested),
                                },
                            );
                            cur = nested;
                        }
                    }
                }
                None => return,
            }
        }
        let Some(sym) = self.static_name(last) else {
            return;
        };
        shown.push(sym);
        let nested = match value.kind {
            ExprKind::AttrSet { .. } => self.attrset_scopes.remove(&value.span.start),
            _ => None,
        };
        self.add_def(cur, Def { sym, pos, nested }, &mut shown);
    }

    fn add_def(&mut self, scope: ScopeId, def: Def, shown: &mut Vec<Symbol>) {
        let Some(&i) = self.scopes[scope].index.get(&def.sym) else {
            self.insert_def(scope, def);
            return;
        };
        let existing = self.scopes[scope].defs[i];
        match (existing.nested, def.nested) {
            (Some(into), Some(from)) => {
                let defs = std::mem::take(&mut self.scopes[from].defs);
                for d in defs {
                    shown.push(d.sym);
                    self.add_def(into, d, shown);
                    shown.pop();
                }
            }
            _ => {
                let path = self.show_path(shown);
                self.error(
                    def.pos,
                    SyntaxErrorKind::DuplicateAttr {
                        path,
                        previous: existing.pos,
                    },
                );
            }
        }
    }
}

fn push_literal(parts: &mut Vec<StrPart>, s: Vec<u8>) {
    if s.is_empty() {
        return;
    }
    if let Some(StrPart::Literal(prev)) = parts.last_mut() {
        prev.extend_from_slice(&s);
    } else {
        parts.push(StrPart::Literal(s));
    }
}

/// Nix's `stripIndentation`: removes the smallest indentation of the non-blank lines, where
/// only spaces indent, escapes and interpolations count as content, and a last line of only
/// spaces is dropped.
fn strip_indentation(raw: Vec<IndPart>) -> Vec<StrPart> {
    let mut at_line_start = true;
    let mut min_indent = usize::MAX;
    let mut cur_indent = 0;
    for part in &raw {
        match part {
            IndPart::Lit(s, true) => {
                for &c in s {
                    if at_line_start {
                        if c == b' ' {
                            cur_indent += 1;
                        } else if c == b'\n' {
                            cur_indent = 0;
                        } else {
                            at_line_start = false;
                            min_indent = min_indent.min(cur_indent);
                        }
                    } else if c == b'\n' {
                        at_line_start = true;
                        cur_indent = 0;
                    }
                }
            }
            _ => {
                if at_line_start {
                    at_line_start = false;
                    min_indent = min_indent.min(cur_indent);
                }
            }
        }
    }

    let mut parts = Vec::new();
    at_line_start = true;
    let mut dropped = 0;
    let n = raw.len();
    for (i, part) in raw.into_iter().enumerate() {
        match part {
            IndPart::Interp(e) => {
                at_line_start = false;
                dropped = 0;
                parts.push(StrPart::Interpolation(e));
            }
            IndPart::Lit(s, _) => {
                let mut out = Vec::with_capacity(s.len());
                for c in s {
                    if at_line_start {
                        if c == b' ' {
                            if dropped >= min_indent {
                                out.push(c);
                            }
                            dropped += 1;
                        } else if c == b'\n' {
                            dropped = 0;
                            out.push(c);
                        } else {
                            at_line_start = false;
                            dropped = 0;
                            out.push(c);
                        }
                    } else {
                        out.push(c);
                        if c == b'\n' {
                            at_line_start = true;
                        }
                    }
                }
                if i + 1 == n {
                    if let Some(p) = out.iter().rposition(|&c| c == b'\n') {
                        if out[p + 1..].iter().all(|&c| c == b' ') {
                            out.truncate(p + 1);
                        }
                    }
                }
                push_literal(&mut parts, out);
            }
        }
    }
    parts
}
