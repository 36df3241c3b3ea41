//! Runtime values.
//!
//! A [`Value`] is 16 bytes and `Copy`: a tag and one word (an integer, a float, or a reference
//! into the evaluation's arena). Everything a value refers to lives in that arena, which is
//! freed as a whole when the evaluation ends (see `docs/design/evaluator.md`). Thunks are
//! values too ([`Value::Thunk`]); [`crate::Eval::force`] is the one place that changes a thunk's
//! state.

use std::cell::Cell;

use crate::eval::{Eval, EvalResult};
use crate::intern::Symbol;
use crate::ir::{Ir, LambdaIr};
use crate::span::Span;

/// A Nix value, or a thunk that will become one.
#[derive(Clone, Copy)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A 64-bit integer; overflow is an error, as in current Nix.
    Int(i64),
    /// A double-precision float.
    Float(f64),
    /// A string: bytes and a context.
    String(&'a NixString<'a>),
    /// An absolute, canonical path (its context is always empty).
    Path(&'a NixString<'a>),
    /// An attribute set.
    Attrs(&'a Attrs<'a>),
    /// A list.
    List(&'a List<'a>),
    /// A function written in Nix, with its environment.
    Lambda(&'a Closure<'a>),
    /// A builtin function.
    PrimOp(&'static PrimOp),
    /// A builtin function applied to fewer arguments than it takes.
    PrimOpApp(&'a PrimOpApp<'a>),
    /// A delayed computation.
    Thunk(&'a Thunk<'a>),
}

const _: () = assert!(std::mem::size_of::<Value<'static>>() == 16);

impl<'a> Value<'a> {
    /// The type name Nix uses in messages ("a set", "an integer", …).
    pub fn type_phrase(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a Boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::String(_) => "a string",
            Value::Path(_) => "a path",
            Value::Attrs(_) => "a set",
            Value::List(_) => "a list",
            Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_) => "a function",
            Value::Thunk(_) => "a thunk",
        }
    }

    /// The name `builtins.typeOf` returns.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Path(_) => "path",
            Value::Attrs(_) => "set",
            Value::List(_) => "list",
            Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_) => "lambda",
            Value::Thunk(_) => "thunk",
        }
    }

    /// The value itself, or for a thunk already evaluated, its value.
    #[inline]
    pub fn resolved(self) -> Value<'a> {
        match self {
            Value::Thunk(t) => match t.state.get() {
                ThunkState::Done(v) => v,
                _ => self,
            },
            _ => self,
        }
    }

    /// Tells whether this is a function of any kind (not counting `__functor` sets).
    pub fn is_function(&self) -> bool {
        matches!(
            self,
            Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_)
        )
    }
}

/// A string's bytes and its context.
pub struct NixString<'a> {
    /// The bytes (Nix strings need not be UTF-8).
    pub bytes: &'a [u8],
    /// The store paths the string refers to, sorted and without duplicates.
    pub context: &'a [ContextElem<'a>],
}

/// One element of a string's context.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum ContextElem<'a> {
    /// A plain store path (a source, a `toFile` result): `/nix/store/…`.
    Opaque(&'a [u8]),
    /// A derivation and all its outputs (`=/nix/store/….drv`).
    AllOutputs(&'a [u8]),
    /// One output of a derivation (`!out!/nix/store/….drv`).
    Built {
        /// The output name.
        output: &'a [u8],
        /// The derivation's store path.
        drv: &'a [u8],
    },
}

/// An attribute set: entries sorted by [`Symbol`] (not by name), so lookup is a binary search
/// over integers. Printing and the builtins that expose order sort by name.
pub struct Attrs<'a> {
    /// The attributes, sorted by symbol, without duplicates.
    pub entries: &'a [Attr<'a>],
}

/// One attribute: 24 bytes (a symbol, a position index, a value).
#[derive(Clone, Copy)]
pub struct Attr<'a> {
    /// The name.
    pub name: Symbol,
    /// Where it was defined ([`PosIdx::NONE`] when not in source).
    pub pos: PosIdx,
    /// The value.
    pub value: Value<'a>,
}

impl<'a> Attr<'a> {
    /// An attribute with no source position (made by a builtin).
    pub fn new(name: Symbol, value: Value<'a>) -> Self {
        Attr {
            name,
            pos: PosIdx::NONE,
            value,
        }
    }
}

/// An index into the evaluation's table of source positions ([`Eval::pos_span`]); four bytes
/// where a [`Span`] takes twelve, since every attribute carries one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PosIdx(pub u32);

impl PosIdx {
    /// No position.
    pub const NONE: PosIdx = PosIdx(0);
}

const _: () = assert!(std::mem::size_of::<Attr<'static>>() == 24);

impl<'a> Attrs<'a> {
    /// Looks an attribute up by name.
    #[inline]
    pub fn get(&self, name: Symbol) -> Option<&Attr<'a>> {
        let e = self.entries;
        if e.len() <= 8 {
            return e.iter().find(|a| a.name == name);
        }
        e.binary_search_by_key(&name, |a| a.name)
            .ok()
            .map(|i| &e[i])
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Tells whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A list.
pub struct List<'a> {
    /// The elements, possibly thunks.
    pub elems: &'a [Value<'a>],
}

/// A lambda together with the environment it was created in.
pub struct Closure<'a> {
    /// The function's code.
    pub lambda: &'a LambdaIr<'a>,
    /// Its environment.
    pub env: &'a Env<'a>,
}

/// An environment: the slots of one scope and a link to the enclosing one.
///
/// The link is a `Cell` so that the environment of a call that nothing captured can be reused
/// for the next call with as many slots (see `Eval::call_lambda`).
pub struct Env<'a> {
    /// The enclosing environment.
    pub up: Cell<Option<&'a Env<'a>>>,
    /// One value per variable of the scope.
    pub slots: &'a [Cell<Value<'a>>],
}

/// A builtin function, with what a user may want to know about it (for a REPL's `:doc`).
pub struct PrimOp {
    /// Its name, as `builtins.<name>` (without `__`).
    pub name: &'static str,
    /// How many arguments it takes (as many as `args` describes).
    pub arity: usize,
    /// Its arguments, in order.
    pub args: &'static [PrimOpArg],
    /// What it does, in a sentence or two.
    pub doc: &'static str,
    /// The implementation; it receives exactly `arity` arguments, unforced.
    pub func: PrimOpFn,
}

impl PrimOp {
    /// The names of its parameters, as the manual writes its signature (`["f", "list"]` for
    /// `filter f list`).
    pub fn params(&self) -> impl ExactSizeIterator<Item = &'static str> {
        self.args.iter().map(|a| a.name)
    }

    /// How Nix's error frame names argument `index` (see [`PrimOpArg::frame`]).
    pub fn arg_frame(&self, index: usize) -> Option<&'static str> {
        self.args.get(index).and_then(|a| a.frame)
    }
}

/// One argument of a builtin.
pub struct PrimOpArg {
    /// The parameter's name in the manual's signature (`f` in `filter f list`).
    pub name: &'static str,
    /// How Nix 2.26 names the argument in the frame of an error met while evaluating it, after
    /// "while evaluating the " ("first argument passed to builtins.filter"); `None` where Nix
    /// adds no such frame. The builtin says where the frame applies, by marking the error
    /// (`builtins::ArgResult`); `Eval`'s builtin call adds it.
    pub frame: Option<&'static str>,
}

/// The signature of a builtin's implementation.
pub type PrimOpFn = for<'a> fn(&mut Eval<'a>, &[Value<'a>], Span) -> EvalResult<Value<'a>>;

/// A builtin applied to some of its arguments.
pub struct PrimOpApp<'a> {
    /// The builtin.
    pub op: &'static PrimOp,
    /// The arguments so far (fewer than `op.arity`).
    pub args: &'a [Value<'a>],
}

/// A delayed computation; see [`Eval::force`].
pub struct Thunk<'a> {
    pub(crate) state: Cell<ThunkState<'a>>,
}

/// The states of a thunk.
#[derive(Clone, Copy)]
pub(crate) enum ThunkState<'a> {
    /// Not evaluated yet: code and its environment.
    Pending { ir: &'a Ir<'a>, env: &'a Env<'a> },
    /// Not evaluated yet: a function (first) applied to arguments (the rest), made by
    /// builtins such as `mapAttrs`.
    Apply(&'a [Value<'a>]),
    /// Not evaluated yet: a function applied to one argument, both shared (`map`'s elements
    /// point at the function and at the input list's element: no copy per element).
    Apply1 {
        /// The function.
        f: &'a Value<'a>,
        /// The argument.
        arg: &'a Value<'a>,
    },
    /// Not evaluated yet: a function applied to an attribute's name and value (`mapAttrs`'s
    /// values point at the function and at the input set's attribute).
    ApplyAttr {
        /// The function.
        f: &'a Value<'a>,
        /// The attribute.
        attr: &'a Attr<'a>,
    },
    /// Not evaluated yet: a function applied to an index (`genList`'s elements).
    ApplyIndex {
        /// The function.
        f: &'a Value<'a>,
        /// The index.
        index: i64,
    },
    /// Being evaluated; meeting it again means infinite recursion.
    Blackhole,
    /// Evaluated.
    Done(Value<'a>),
}

impl<'a> Thunk<'a> {
    /// Makes a pending thunk.
    pub fn new(ir: &'a Ir<'a>, env: &'a Env<'a>) -> Self {
        Thunk {
            state: Cell::new(ThunkState::Pending { ir, env }),
        }
    }
}
