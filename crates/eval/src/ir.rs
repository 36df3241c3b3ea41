//! The lowered form the evaluator runs: names resolved to `(depth, slot)` pairs, nested
//! attribute paths merged, literals built once.
//!
//! Lowering ([`crate::lower`]) turns a checked [`crate::ast::Expr`] into an [`Ir`] tree
//! allocated in the evaluation's arena, so thunks can point into it for as long as values live.

use crate::intern::Symbol;
use crate::span::Span;
use crate::value::{PosIdx, Value};

/// A lowered expression.
pub enum Ir<'a> {
    /// A literal, built once (numbers, strings without interpolation, resolved paths).
    Const(Value<'a>),
    /// A value known when lowering that Nix still computes where it is used
    /// (`builtins.head`): evaluated at once, but delayed like any expression when passed on,
    /// so it prints as `<CODE>` unforced, as Nix's selection would.
    Known(Value<'a>, Span),
    /// A variable bound statically: `depth` environments up, slot `slot`.
    Var {
        /// How many `up` links to follow.
        depth: u32,
        /// The slot in that environment.
        slot: u32,
        /// Where the variable is.
        span: Span,
    },
    /// A variable bound by no lexical scope, looked up in the enclosing `with` sets.
    WithVar {
        /// The name.
        name: Symbol,
        /// The depth of each enclosing `with` environment, innermost first, and where that
        /// `with` starts (a byte offset in the span's file).
        withs: &'a [(u32, u32)],
        /// Where the variable is.
        span: Span,
    },
    /// `expr.a.b` or `expr.a.b or default`.
    Select {
        /// The set.
        expr: &'a Ir<'a>,
        /// The attribute path.
        path: &'a [AttrKey<'a>],
        /// The `or` alternative.
        default: Option<&'a Ir<'a>>,
        /// The whole expression.
        span: Span,
    },
    /// `expr ? a.b`.
    HasAttr {
        /// The set.
        expr: &'a Ir<'a>,
        /// The attribute path.
        path: &'a [AttrKey<'a>],
    },
    /// An attribute set literal.
    Attrs(&'a AttrsIr<'a>),
    /// `let …; in body`: a new environment with one slot per binding.
    Let {
        /// The code of each slot, evaluated lazily in the new environment.
        slots: &'a [&'a Ir<'a>],
        /// The body, evaluated in the new environment.
        body: &'a Ir<'a>,
    },
    /// A list literal.
    List(&'a [Ir<'a>]),
    /// A function.
    Lambda(&'a LambdaIr<'a>),
    /// `func a b c`, applied one argument at a time.
    Call {
        /// The function.
        func: &'a Ir<'a>,
        /// The arguments.
        args: &'a [Ir<'a>],
        /// The whole application.
        span: Span,
    },
    /// `with attrs; body`: a new environment whose one slot holds the (lazy) set.
    With {
        /// The set.
        attrs: &'a Ir<'a>,
        /// The body.
        body: &'a Ir<'a>,
    },
    /// `assert cond; body`.
    Assert {
        /// The condition.
        cond: &'a Ir<'a>,
        /// The body.
        body: &'a Ir<'a>,
        /// The condition's source, for the message.
        cond_span: Span,
        /// The `assert` keyword.
        span: Span,
    },
    /// `if cond then a else b`.
    If {
        /// The condition.
        cond: &'a Ir<'a>,
        /// The `then` branch.
        then: &'a Ir<'a>,
        /// The `else` branch.
        else_: &'a Ir<'a>,
        /// The whole expression (Nix reports a condition that is not a Boolean at the `if`).
        span: Span,
    },
    /// `!e`.
    Not(&'a Ir<'a>, Span),
    /// `-e`.
    Neg(&'a Ir<'a>, Span),
    /// A binary operator.
    Bin {
        /// Which.
        op: BinOp,
        /// Left operand.
        lhs: &'a Ir<'a>,
        /// Right operand.
        rhs: &'a Ir<'a>,
        /// The operator's span.
        span: Span,
        /// Where the operands start (byte offsets in the span's file): Nix reports the
        /// errors of `+` at the operand.
        operands: [u32; 2],
    },
    /// A string with interpolations: each part coerced to a string and concatenated.
    Interpolate {
        /// The parts.
        parts: &'a [Ir<'a>],
        /// Where each part starts (byte offsets in the span's file), for errors.
        starts: &'a [u32],
        /// The whole string.
        span: Span,
    },
    /// A path with interpolations: the parts concatenated, then made a canonical path.
    PathInterpolate {
        /// The parts; the first is the literal start, already absolute.
        parts: &'a [Ir<'a>],
        /// Where each part starts (byte offsets in the span's file), for errors.
        starts: &'a [u32],
        /// The whole path.
        span: Span,
    },
    /// `__curPos`.
    CurPos(Span),
}

/// The binary operators the evaluator implements natively.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`: numbers, strings, paths.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `==`.
    Eq,
    /// `!=`.
    NotEq,
    /// `<`.
    Less,
    /// `<=`.
    LessEq,
    /// `>`.
    Greater,
    /// `>=`.
    GreaterEq,
    /// `&&`.
    And,
    /// `||`.
    Or,
    /// `->`.
    Impl,
    /// `//`.
    Update,
    /// `++`.
    Concat,
}

/// One name of an attribute path.
pub enum AttrKey<'a> {
    /// Known when lowering.
    Static(Symbol),
    /// `${e}` or a string with interpolations.
    Dynamic(&'a Ir<'a>),
}

/// An attribute set literal.
pub struct AttrsIr<'a> {
    /// Whether the values see the set's own attributes (`rec`), which needs a new environment
    /// holding one slot per static attribute, in the order of `statics`.
    pub rec: bool,
    /// Attributes with static names, sorted by symbol.
    pub statics: &'a [StaticAttr<'a>],
    /// Attributes with dynamic names, in source order.
    pub dynamics: &'a [DynamicAttr<'a>],
    /// In a `rec` set, the index in `statics` of `__overrides`, whose attributes replace the
    /// set's own (in the set and in its scope) or are added to it: an old Nix feature that
    /// nixpkgs no longer uses but Nix still honours.
    pub overrides: Option<u32>,
}

/// An attribute whose name is known when lowering.
pub struct StaticAttr<'a> {
    /// The name.
    pub name: Symbol,
    /// Where it is defined.
    pub span: Span,
    /// The same, as an index into the evaluation's position table.
    pub pos: PosIdx,
    /// Its value's code.
    pub value: &'a Ir<'a>,
}

/// An attribute whose name is computed.
pub struct DynamicAttr<'a> {
    /// The name's code.
    pub name: &'a Ir<'a>,
    /// The value's code.
    pub value: &'a Ir<'a>,
    /// Where it is defined.
    pub span: Span,
    /// The same, as an index into the evaluation's position table.
    pub pos: PosIdx,
}

/// A function literal.
pub struct LambdaIr<'a> {
    /// The name it was bound to, if any (for messages).
    pub name: Option<Symbol>,
    /// Where the function is.
    pub span: Span,
    /// The parameter.
    pub param: ParamIr<'a>,
    /// The body, evaluated in an environment of `n_slots` slots.
    pub body: &'a Ir<'a>,
    /// Slots of the call environment.
    pub n_slots: u32,
    /// Whether the body forces a plain parameter (`x: …`) before it does anything else
    /// (`n: if n < 2 …`): then an argument that is integer arithmetic on evaluated values can
    /// be computed at the call instead of becoming a thunk, and nobody can tell, since Nix
    /// would force that thunk first thing too.
    pub strict: bool,
}

impl<'a> Ir<'a> {
    /// Tells whether evaluating this code forces variable `(depth, slot)` first, before
    /// forcing anything else or building anything that could see it unforced.
    pub fn forces_first(&self, depth: u32, slot: u32) -> bool {
        match self {
            Ir::Var {
                depth: d, slot: s, ..
            } => *d == depth && *s == slot,
            Ir::If { cond: e, .. }
            | Ir::Select { expr: e, .. }
            | Ir::HasAttr { expr: e, .. }
            | Ir::Call { func: e, .. }
            | Ir::Assert { cond: e, .. }
            | Ir::Not(e, _)
            | Ir::Neg(e, _) => e.forces_first(depth, slot),
            Ir::Bin { lhs, rhs, .. } => {
                lhs.forces_first(depth, slot)
                    || (matches!(lhs, Ir::Const(_)) && rhs.forces_first(depth, slot))
            }
            Ir::Interpolate { parts, .. } => {
                parts.first().is_some_and(|p| p.forces_first(depth, slot))
            }
            _ => false,
        }
    }
}

/// A lowered parameter.
pub enum ParamIr<'a> {
    /// `x: …`; the argument goes in slot 0.
    Ident(Symbol),
    /// `{ a, b ? e, … } @ args: …`; formal `i` goes in slot `i`, `args` in the last slot.
    Formals {
        /// The formals in source order.
        formals: &'a [FormalIr<'a>],
        /// Whether `...` allows other attributes.
        ellipsis: bool,
        /// The `@` name.
        at: Option<Symbol>,
    },
}

/// One formal.
pub struct FormalIr<'a> {
    /// Its name.
    pub name: Symbol,
    /// Where the name is.
    pub span: Span,
    /// The same place as a position index (`functionArgs` gives it to its attributes).
    pub pos: PosIdx,
    /// Its default, evaluated in the call environment.
    pub default: Option<&'a Ir<'a>>,
}
