//! The syntax tree: a faithful, owned picture of the source, one [`Span`] on every node.
//!
//! Nothing is desugared yet: operators keep their own node and span (lowering turns `a - b`
//! into `__sub a b`), `__curPos` is a plain [`ExprKind::Var`], and parentheses leave no node
//! (the inner expression keeps its own span). The one exception is string content, which is
//! final: escapes are decoded and indented strings are already stripped of their indentation.

use crate::intern::Symbol;
use crate::span::Span;

/// An expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// The kinds of expressions.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal.
    Int(i64),
    /// A float literal (`1.5`, `.5`, `1.`, `1.5e-3`).
    Float(f64),
    /// A string, `"..."` (`indented` false) or `''...''` (true); parts are already unescaped and,
    /// for indented strings, stripped of their indentation. Adjacent literals are merged and
    /// empty ones dropped.
    Str {
        /// Literal bytes and interpolations, in order.
        parts: Vec<StrPart>,
        /// Whether it was written `''...''`.
        indented: bool,
    },
    /// A path literal; `parts` start with the literal text as written (`./a/`, `~/`,
    /// `nixpkgs/lib` for `<nixpkgs/lib>`) and go on with any interpolated pieces.
    Path {
        /// Which kind of path.
        kind: PathKind,
        /// Literal text and interpolations, in order.
        parts: Vec<StrPart>,
    },
    /// A URI literal such as `http://x.org/a?b=c`, which Nix treats as a string.
    Uri(Vec<u8>),
    /// A variable (including `__curPos` and the identifier `or`).
    Var(Symbol),
    /// `expr.a.b` or `expr.a.b or default`.
    Select {
        /// The set selected from.
        expr: Box<Expr>,
        /// The attribute path.
        path: AttrPath,
        /// The `or` alternative.
        default: Option<Box<Expr>>,
    },
    /// `expr ? a.b`.
    HasAttr {
        /// The set tested.
        expr: Box<Expr>,
        /// The attribute path.
        path: AttrPath,
        /// Where the `?` is.
        op_span: Span,
    },
    /// `{ ... }` or `rec { ... }`.
    AttrSet {
        /// Whether it is `rec`.
        rec: bool,
        /// The bindings in source order.
        bindings: Vec<Binding>,
    },
    /// `let ...; in body`.
    Let {
        /// The bindings in source order.
        bindings: Vec<Binding>,
        /// The body.
        body: Box<Expr>,
    },
    /// The legacy `let { ...; body = ...; }`, which means `(rec { ... }).body`.
    LegacyLet {
        /// The bindings in source order.
        bindings: Vec<Binding>,
    },
    /// `[ a b c ]`.
    List(Vec<Expr>),
    /// `param: body`.
    Lambda {
        /// The parameter.
        param: Param,
        /// The body.
        body: Box<Expr>,
    },
    /// Function application `func arg` (one argument; `f a b` is `(f a) b`).
    Apply {
        /// The function.
        func: Box<Expr>,
        /// The argument.
        arg: Box<Expr>,
    },
    /// `with env; body`.
    With {
        /// The set whose attributes come into scope.
        env: Box<Expr>,
        /// The body.
        body: Box<Expr>,
    },
    /// `assert cond; body`.
    Assert {
        /// The condition.
        cond: Box<Expr>,
        /// The body.
        body: Box<Expr>,
    },
    /// `if cond then then_ else else_`.
    If {
        /// The condition.
        cond: Box<Expr>,
        /// The `then` branch.
        then: Box<Expr>,
        /// The `else` branch.
        else_: Box<Expr>,
    },
    /// `!e` or `-e`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// Where the operator is.
        op_span: Span,
        /// The operand.
        expr: Box<Expr>,
    },
    /// A binary operator.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Where the operator is.
        op_span: Span,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// A piece of source that did not parse (an error was reported for it).
    Error,
}

/// A piece of a string or path.
#[derive(Clone, Debug, PartialEq)]
pub enum StrPart {
    /// Literal bytes (Nix strings are bytes, not necessarily UTF-8).
    Literal(Vec<u8>),
    /// `${expr}`.
    Interpolation(Expr),
}

/// The kinds of path literals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    /// `/a/b`.
    Absolute,
    /// `./a`, `../a`, `a/b` (relative to the file's directory).
    Relative,
    /// `~/a`.
    Home,
    /// `<nixpkgs/lib>` (looked up in the search path).
    Search,
}

/// A dotted attribute path, e.g. `a."b".${c}`.
pub type AttrPath = Vec<AttrName>;

/// One attribute name with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct AttrName {
    /// The name.
    pub kind: AttrNameKind,
    /// Where it is.
    pub span: Span,
}

/// The ways an attribute name is written.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrNameKind {
    /// An identifier (including `or`).
    Ident(Symbol),
    /// A string `"a"`, possibly with interpolations.
    Str(Vec<StrPart>),
    /// `${expr}`.
    Dynamic(Box<Expr>),
}

/// One binding of an attribute set or `let`.
#[derive(Clone, Debug, PartialEq)]
pub enum Binding {
    /// `a.b.c = value;`
    Assign {
        /// The attribute path.
        path: AttrPath,
        /// The value.
        value: Expr,
        /// The whole binding, up to and including `;`.
        span: Span,
    },
    /// `inherit a b;` or `inherit (from) a b;`
    Inherit {
        /// The expression in parentheses.
        from: Option<Expr>,
        /// The inherited names: identifiers or strings (dynamic ones are an error).
        names: Vec<AttrName>,
        /// The whole binding.
        span: Span,
    },
}

/// A function parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    /// `x: ...`
    Ident {
        /// The name.
        name: Symbol,
        /// Where it is.
        span: Span,
    },
    /// `{ a, b ? 1, ... } @ args: ...`
    Formals {
        /// The named formals in source order.
        formals: Vec<Formal>,
        /// Whether `...` is present.
        ellipsis: bool,
        /// The `@` name, if any.
        at: Option<AtPattern>,
    },
}

/// One formal of a pattern lambda.
#[derive(Clone, Debug, PartialEq)]
pub struct Formal {
    /// The name.
    pub name: Symbol,
    /// Where the name is.
    pub span: Span,
    /// The default after `?`.
    pub default: Option<Expr>,
}

/// The `name @` or `@ name` part of a pattern lambda.
#[derive(Clone, Debug, PartialEq)]
pub struct AtPattern {
    /// The name bound to the whole argument.
    pub name: Symbol,
    /// Where the name is.
    pub span: Span,
    /// Whether it was written before the braces (`args@{ ... }`).
    pub before: bool,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `!`
    Not,
    /// `-`
    Negate,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `->`
    Impl,
    /// `||`
    Or,
    /// `&&`
    And,
    /// `==`
    Eq,
    /// `!=`
    Neq,
    /// `<`
    Lt,
    /// `<=`
    Leq,
    /// `>`
    Gt,
    /// `>=`
    Geq,
    /// `//`
    Update,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `++`
    Concat,
    /// `|>` (experimental in Nix): `a |> f` is `f a`.
    PipeInto,
    /// `<|` (experimental in Nix): `f <| a` is `f a`.
    PipeFrom,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Impl => "->",
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Leq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Geq => ">=",
            BinaryOp::Update => "//",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Concat => "++",
            BinaryOp::PipeInto => "|>",
            BinaryOp::PipeFrom => "<|",
        }
    }
}

impl UnaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            UnaryOp::Not => "!",
            UnaryOp::Negate => "-",
        }
    }
}
