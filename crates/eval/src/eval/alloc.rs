//! Allocation in the evaluation's arena: strings, lists, sets, thunks (pending code and a
//! builtin's lazy applications), environments (with the pool of released call environments)
//! and position sets.

use super::expr::lookup;
use super::Eval;
use crate::ir::Ir;
use crate::lower::{alloc_str, canon_path};
use crate::span::Span;
use crate::value::{
    Attr, Attrs, ContextElem, Env, List, NixString, PosIdx, Thunk, ThunkState, Value,
};

impl<'a> Eval<'a> {
    /// Allocates a string with a context.
    pub fn new_string(&self, bytes: &[u8], context: &[ContextElem<'a>]) -> Value<'a> {
        let context: &'a [ContextElem<'a>] = if context.is_empty() {
            &[]
        } else {
            self.arena.alloc_slice_copy(context)
        };
        Value::String(self.arena.alloc(NixString {
            bytes: self.arena.alloc_slice_copy(bytes),
            context,
        }))
    }

    /// Allocates a string without context.
    pub fn new_str(&self, bytes: &[u8]) -> Value<'a> {
        Value::String(alloc_str(self.arena, bytes))
    }

    /// Allocates a path value (canonicalising it).
    pub fn new_path(&self, bytes: &[u8]) -> Value<'a> {
        Value::Path(alloc_str(self.arena, &canon_path(bytes)))
    }

    /// Allocates a list.
    pub fn new_list(&self, elems: Vec<Value<'a>>) -> Value<'a> {
        if elems.is_empty() {
            return Value::List(self.arena.alloc(List { elems: &[] }));
        }
        Value::List(self.arena.alloc(List {
            elems: self.arena.alloc_slice_copy(&elems),
        }))
    }

    /// Allocates a list straight from an iterator of known length, with no temporary vector
    /// (for `genList`, `map` and list literals, whose temporaries were as large as the list).
    pub fn new_list_iter(&self, elems: impl ExactSizeIterator<Item = Value<'a>>) -> Value<'a> {
        Value::List(self.arena.alloc(List {
            elems: self.arena.alloc_slice_fill_iter(elems),
        }))
    }

    /// Allocates a set from attributes in any order; for duplicate names the first wins.
    pub fn new_attrs(&self, mut attrs: Vec<Attr<'a>>) -> Value<'a> {
        attrs.sort_by_key(|a| a.name);
        attrs.dedup_by_key(|a| a.name);
        Value::Attrs(self.arena.alloc(Attrs {
            entries: self.arena.alloc_slice_copy(&attrs),
        }))
    }

    /// Makes a lazy application `f arg`.
    pub fn lazy_apply(&self, f: Value<'a>, arg: Value<'a>) -> Value<'a> {
        let call = self.arena.alloc([f, arg]);
        Value::Thunk(self.arena.alloc(Thunk {
            state: std::cell::Cell::new(ThunkState::Apply(call)),
        }))
    }

    /// Makes a lazy application `f arg` from a function and an argument that live in the
    /// arena already (one per element, in `map`): a thunk and nothing else.
    pub fn lazy_apply_ref(&self, f: &'a Value<'a>, arg: &'a Value<'a>) -> Value<'a> {
        Value::Thunk(self.arena.alloc(Thunk {
            state: std::cell::Cell::new(ThunkState::Apply1 { f, arg }),
        }))
    }

    /// Makes a lazy application `f name value` of an attribute (`mapAttrs`): a thunk and
    /// nothing else; the name's string is made when it is forced.
    pub fn lazy_apply_attr(&self, f: &'a Value<'a>, attr: &'a Attr<'a>) -> Value<'a> {
        Value::Thunk(self.arena.alloc(Thunk {
            state: std::cell::Cell::new(ThunkState::ApplyAttr { f, attr }),
        }))
    }

    /// Makes a lazy application `f index` (`genList`): a thunk and nothing else.
    pub fn lazy_apply_index(&self, f: &'a Value<'a>, index: i64) -> Value<'a> {
        Value::Thunk(self.arena.alloc(Thunk {
            state: std::cell::Cell::new(ThunkState::ApplyIndex { f, index }),
        }))
    }

    /// Makes a lazy application `f a b`: one thunk, not two.
    pub fn lazy_apply2(&self, f: Value<'a>, a: Value<'a>, b: Value<'a>) -> Value<'a> {
        let call = self.arena.alloc([f, a, b]);
        Value::Thunk(self.arena.alloc(Thunk {
            state: std::cell::Cell::new(ThunkState::Apply(call)),
        }))
    }

    /// Makes a thunk for `ir` in `env`, or the value itself when no delay is needed.
    #[inline]
    pub(super) fn thunk(&self, ir: &'a Ir<'a>, env: &'a Env<'a>) -> Value<'a> {
        // Only what Nix itself never delays is taken as it is: literals and variables (whose
        // slot is shared). Anything else, even `1 + 1` or a lambda, is a thunk, because an
        // unforced value prints as `<CODE>` and must stay one until something forces it.
        match ir {
            Ir::Const(v) => *v,
            Ir::Var { depth, slot, .. } => lookup(env, *depth, *slot).get(),
            _ => self.new_thunk(ir, env),
        }
    }

    /// Allocates a pending thunk, which captures `env`.
    #[inline]
    pub(super) fn new_thunk(&self, ir: &'a Ir<'a>, env: &'a Env<'a>) -> Value<'a> {
        self.env_captured.set(true);
        Value::Thunk(self.arena.alloc(Thunk::new(ir, env)))
    }

    /// Like [`Self::thunk`], for code that will live in `env` itself (`let`, `rec`, defaults):
    /// a variable of `env` may not be set yet, so it gets a real thunk.
    #[inline]
    pub(super) fn thunk_in(&self, ir: &'a Ir<'a>, env: &'a Env<'a>) -> Value<'a> {
        match ir {
            Ir::Var { depth: 0, .. } => self.new_thunk(ir, env),
            _ => self.thunk(ir, env),
        }
    }

    /// Like [`Self::thunk_in`] while the slots of `env` are filled in order: a variable naming
    /// a slot already filled (below `filled`) shares that slot's value, as Nix shares the
    /// variable's value, so `rec { a = 1; b = a; }` prints `b = 1` unforced, not `<CODE>`.
    #[inline]
    pub(super) fn thunk_local(&self, ir: &'a Ir<'a>, env: &'a Env<'a>, filled: usize) -> Value<'a> {
        match ir {
            Ir::Var { depth: 0, slot, .. } if (*slot as usize) < filled => {
                env.slots[*slot as usize].get()
            }
            _ => self.thunk_in(ir, env),
        }
    }

    /// The `{ file, line, column }` set of a position.
    pub fn pos_attrs(&mut self, span: Span) -> Value<'a> {
        let lc = self.sources.line_col(span.file, span.start);
        let file = self.new_str(self.sources.name(span.file).as_bytes());
        let attrs = vec![
            Attr {
                name: self.syms.file,
                pos: PosIdx::NONE,
                value: file,
            },
            Attr {
                name: self.syms.line,
                pos: PosIdx::NONE,
                value: Value::Int(lc.line as i64),
            },
            Attr {
                name: self.syms.column,
                pos: PosIdx::NONE,
                value: Value::Int(lc.col as i64),
            },
        ];
        self.new_attrs(attrs)
    }

    /// Allocates a child environment of `up`, which captures `up`.
    #[inline]
    pub(super) fn new_env(&self, up: &'a Env<'a>, n: usize) -> &'a Env<'a> {
        self.env_captured.set(true);
        self.alloc_env(up, n)
    }

    /// The environment of a call: a released one with as many slots if there is one (its
    /// slots still hold old values; the caller sets every one), else a new one.
    #[inline]
    pub(super) fn call_env(&mut self, up: &'a Env<'a>, n: u32) -> &'a Env<'a> {
        if let Some(head) = self.env_pool.get_mut(n as usize) {
            if let Some(env) = *head {
                *head = env.up.get();
                env.up.set(Some(up));
                return env;
            }
        }
        self.alloc_env(up, n as usize)
    }

    /// Gives back the environment of a call that has returned, when nothing captured it.
    #[inline]
    pub(super) fn release_env(&mut self, env: &'a Env<'a>) {
        if let Some(head) = self.env_pool.get_mut(env.slots.len()) {
            env.up.set(*head);
            *head = Some(env);
        }
    }

    #[inline]
    pub(super) fn alloc_env(&self, up: &'a Env<'a>, n: usize) -> &'a Env<'a> {
        // One slot (a plain lambda's argument) is the common case: no fill loop.
        let slots: &'a [std::cell::Cell<Value<'a>>] = match n {
            0 => &[],
            1 => std::slice::from_ref(self.arena.alloc(std::cell::Cell::new(Value::Null))),
            _ => self
                .arena
                .alloc_slice_fill_with(n, |_| std::cell::Cell::new(Value::Null)),
        };
        self.arena.alloc(Env {
            up: std::cell::Cell::new(Some(up)),
            slots,
        })
    }
}
