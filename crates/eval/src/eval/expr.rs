//! Evaluation of the IR forms: [`Eval::eval`] answers literals and evaluated variables at
//! the call site, `eval_hot` the common forms in a small frame, `eval_cold` the rest; also
//! attribute selection and set construction, and the eager values of strict calls.

use super::errors::{frame, in_context, operator_frame, with_span};
use super::ops::int_op;
use super::{dummy_span, ir_span, type_error, CoerceMode, Eval};
use crate::eval_error::{ErrorKind, EvalError, EvalResult};
use crate::intern::Symbol;
use crate::ir::{AttrKey, AttrsIr, BinOp, Ir};
use crate::span::Span;
use crate::value::{Attr, Attrs, Closure, Env, ThunkState, Value};

impl<'a> Eval<'a> {
    /// Evaluates `ir` in `env` to weak head normal form.
    ///
    /// Recursion is bounded without a counter here: the parser caps the nesting of code, and
    /// every unbounded recursion goes through [`Self::force`] or a call, which count depth.
    #[inline(always)]
    pub fn eval(&mut self, ir: &'a Ir<'a>, env: &'a Env<'a>) -> EvalResult<Value<'a>> {
        // Literals and evaluated variables, about half of all nodes, are answered at the call
        // site without entering a frame.
        match ir {
            Ir::Const(v) => Ok(*v),
            Ir::Var { depth, slot, span } => {
                let cell = lookup(env, *depth, *slot);
                match cell.get() {
                    v @ Value::Thunk(t) => match t.state.get() {
                        // Forced elsewhere (a list element, say): the slot takes the value.
                        ThunkState::Done(v) => {
                            cell.set(v);
                            Ok(v)
                        }
                        _ => self.force_slot(cell, v, *span),
                    },
                    v => Ok(v),
                }
            }
            _ => self.eval_hot(ir, env),
        }
    }

    /// The hot forms live here so this frame stays small; the rest are in `eval_cold`.
    #[inline(never)]
    pub(super) fn eval_hot(&mut self, ir: &'a Ir<'a>, env: &'a Env<'a>) -> EvalResult<Value<'a>> {
        match ir {
            Ir::Const(v) | Ir::Known(v, _) => Ok(*v),
            Ir::List([]) => Ok(self.empty_list),
            Ir::Var { depth, slot, span } => {
                let cell = lookup(env, *depth, *slot);
                let v = cell.get();
                match v {
                    Value::Thunk(_) => self.force_slot(cell, v, *span),
                    _ => Ok(v),
                }
            }
            Ir::If {
                cond,
                then,
                else_,
                span,
            } => match self.eval(cond, env) {
                Ok(Value::Bool(true)) => self.eval(then, env),
                Ok(Value::Bool(false)) => self.eval(else_, env),
                Ok(other) => Err(self.condition_error(other, *span)),
                Err(e) => Err(frame(e, "while evaluating a branch condition", *span)),
            },
            Ir::Bin {
                op,
                lhs,
                rhs,
                span,
                operands,
            } => self.eval_bin(*op, lhs, rhs, *span, *operands, env),
            Ir::Select {
                expr,
                path,
                default,
                span,
            } => self.eval_select(expr, path, *default, *span, env),
            Ir::Call { func, args, span } => {
                let mut f = self.eval(func, env)?;
                let mut args: &'a [Ir<'a>] = args;
                // A builtin given all its arguments at once (`map f xs`, `elem x l`) is called
                // with them on the stack: the partial applications in between would be
                // allocated only to be applied at once (40 bytes each, 40 MB of a NixOS
                // evaluation), and nothing can see them.
                if let Value::PrimOp(op) = f {
                    let n = op.arity;
                    if (2..=4).contains(&n) && args.len() >= n {
                        let mut vals = [Value::Null; 4];
                        for (v, arg) in vals.iter_mut().zip(&args[..n]) {
                            *v = self.thunk(arg, env);
                        }
                        f = (op.func)(self, &vals[..n], *span)
                            .map_err(|e| self.builtin_error(e, op, Some(*span)))?;
                        args = &args[n..];
                    }
                }
                for arg in args {
                    let a = match (f, arg) {
                        (
                            Value::Lambda(c),
                            Ir::Bin { .. } | Ir::Select { .. } | Ir::Call { .. },
                        ) if c.lambda.strict => match eager_value(arg, env) {
                            Some(v) => v,
                            None => self.thunk(arg, env),
                        },
                        _ => self.thunk(arg, env),
                    };
                    f = self.call(f, a, Some(*span))?;
                }
                Ok(f)
            }
            _ => self.eval_cold(ir, env),
        }
    }

    #[inline(never)]
    pub(super) fn eval_cold(&mut self, ir: &'a Ir<'a>, env: &'a Env<'a>) -> EvalResult<Value<'a>> {
        match ir {
            // The hot forms are evaluated by `eval_hot`.
            Ir::Const(_)
            | Ir::Known(..)
            | Ir::List([])
            | Ir::Var { .. }
            | Ir::If { .. }
            | Ir::Bin { .. }
            | Ir::Call { .. }
            | Ir::Select { .. } => self.eval_hot(ir, env),
            Ir::WithVar { name, withs, span } => {
                for &(depth, at) in *withs {
                    let set = lookup(env, depth, 0).get();
                    let set = self.force(set)?;
                    let Value::Attrs(attrs) = set else {
                        return Err(in_context(
                            type_error("a set", &set, self, *span),
                            "while evaluating the first subexpression of a with expression",
                            Some(Span::new(span.file, at, at)),
                        ));
                    };
                    if let Some(a) = attrs.get(*name) {
                        return self.force(a.value).map_err(|e| with_span(e, *span));
                    }
                }
                Err(EvalError::new(
                    ErrorKind::UndefinedVariable(self.interner.name(*name).into_owned()),
                    Some(*span),
                ))
            }
            Ir::HasAttr { expr, path } => {
                // As in Nix, only the values the path goes through are forced: `x ? a`
                // inside `x.a` itself is not a recursion.
                let mut v = self.eval(expr, env)?;
                for (i, key) in path.iter().enumerate() {
                    if i > 0 {
                        v = self.force(v)?;
                    }
                    let Value::Attrs(attrs) = v else {
                        return Ok(Value::Bool(false));
                    };
                    let name = self.attr_key(key, env)?;
                    match attrs.get(name) {
                        Some(a) => v = a.value,
                        None => return Ok(Value::Bool(false)),
                    }
                }
                Ok(Value::Bool(true))
            }
            Ir::Attrs(attrs) => self.eval_attrs(attrs, env),
            Ir::Let { slots, body } => {
                let new_env = self.new_env(env, slots.len());
                for (i, (cell, code)) in new_env.slots.iter().zip(slots.iter()).enumerate() {
                    cell.set(self.thunk_local(code, new_env, i));
                }
                self.eval(body, new_env)
            }
            Ir::List(items) => Ok(self.new_list_iter(items.iter().map(|i| self.thunk(i, env)))),
            Ir::Lambda(l) => {
                self.env_captured.set(true);
                Ok(Value::Lambda(self.arena.alloc(Closure { lambda: l, env })))
            }
            Ir::With { attrs, body } => {
                let new_env = self.new_env(env, 1);
                new_env.slots[0].set(self.thunk(attrs, env));
                self.eval(body, new_env)
            }
            Ir::Assert {
                cond,
                body,
                cond_span,
                span,
            } => {
                const CONTEXT: &str = "in the condition of the assert statement";
                let c = self.eval(cond, env).map_err(|e| frame(e, CONTEXT, *span))?;
                match c {
                    Value::Bool(true) => self.eval(body, env),
                    Value::Bool(false) => Err(self.assertion_failed(cond, *cond_span, *span, env)),
                    other => Err(frame(
                        type_error("a Boolean", &other, self, *span),
                        CONTEXT,
                        *span,
                    )),
                }
            }
            Ir::Not(e, _) => {
                // Nix places `!e` at `e`.
                const CONTEXT: &str = "in the argument of the not operator";
                let span = ir_span(e);
                match self.eval(e, env) {
                    Ok(Value::Bool(b)) => Ok(Value::Bool(!b)),
                    Ok(other) => Err(frame(
                        type_error("a Boolean", &other, self, span),
                        CONTEXT,
                        span,
                    )),
                    Err(e) => Err(frame(e, CONTEXT, span)),
                }
            }
            Ir::Neg(e, span) => {
                // Nix's `-e` is `__sub 0 e`.
                let v = self
                    .eval(e, env)
                    .map_err(|err| operator_frame(err, BinOp::Sub, *span))?;
                crate::arith::sub(self, Value::Int(0), v)
                    .map_err(|err| operator_frame(err, BinOp::Sub, *span))
            }
            Ir::Interpolate {
                parts,
                starts,
                span,
            } => {
                // One scratch buffer serves every interpolation; a nested one (inside a
                // `__toString`, say) finds it taken and makes its own.
                let mut bytes = std::mem::take(&mut self.scratch);
                bytes.clear();
                let mut context = Vec::new();
                for (part, start) in parts.iter().zip(*starts) {
                    let res = self.eval(part, env).and_then(|v| {
                        self.coerce_to_string_into(
                            v,
                            *span,
                            CoerceMode::Interpolation,
                            &mut bytes,
                            &mut context,
                        )
                        .map_err(|e| self.segment_error(e, *span, *start))
                    });
                    if let Err(e) = res {
                        self.scratch = bytes;
                        return Err(e);
                    }
                }
                context.sort();
                context.dedup();
                let v = self.new_string(&bytes, &context);
                self.scratch = bytes;
                Ok(v)
            }
            Ir::PathInterpolate {
                parts,
                starts,
                span,
            } => {
                let mut bytes = Vec::new();
                let mut context = Vec::new();
                for (part, start) in parts.iter().zip(*starts) {
                    let v = self.eval(part, env)?;
                    self.coerce_to_string_into(
                        v,
                        *span,
                        CoerceMode::PathSegment,
                        &mut bytes,
                        &mut context,
                    )
                    .map_err(|e| self.segment_error(e, *span, *start))?;
                }
                if !context.is_empty() {
                    return Err(EvalError::msg(
                        "a string that refers to a store path cannot be appended to a path",
                        *span,
                    ));
                }
                Ok(self.new_path(&bytes))
            }
            Ir::CurPos(span) => Ok(self.pos_attrs(*span)),
        }
    }

    #[inline]
    pub(super) fn attr_key(
        &mut self,
        key: &'a AttrKey<'a>,
        env: &'a Env<'a>,
    ) -> EvalResult<Symbol> {
        match key {
            AttrKey::Static(s) => Ok(*s),
            AttrKey::Dynamic(ir) => self.dynamic_attr_key(ir, env),
        }
    }

    #[inline(never)]
    pub(super) fn dynamic_attr_key(
        &mut self,
        ir: &'a Ir<'a>,
        env: &'a Env<'a>,
    ) -> EvalResult<Symbol> {
        let v = self.eval(ir, env)?;
        let Value::String(s) = v else {
            return Err(frame(
                type_error("a string", &v, self, ir_span(ir)),
                "while evaluating an attribute name",
                ir_span(ir),
            ));
        };
        if let Some((bytes, sym)) = self.last_dynamic_key {
            if std::ptr::eq(bytes, s.bytes) {
                return Ok(sym);
            }
        }
        let sym = self.interner.intern(s.bytes);
        self.last_dynamic_key = Some((s.bytes, sym));
        Ok(sym)
    }

    #[inline(never)]
    pub(super) fn eval_select(
        &mut self,
        expr: &'a Ir<'a>,
        path: &'a [AttrKey<'a>],
        default: Option<&'a Ir<'a>>,
        span: Span,
        env: &'a Env<'a>,
    ) -> EvalResult<Value<'a>> {
        let mut v = self.eval(expr, env)?;
        // The position of the last attribute found: an error after it gets Nix's frame
        // "while evaluating the attribute 'PATH'" there.
        let mut found = None;
        for key in path {
            let name = match self.attr_key(key, env) {
                Ok(name) => name,
                Err(e) => return Err(self.select_error(e, found, path, env)),
            };
            let attrs = match v {
                Value::Attrs(a) => a,
                other => {
                    if let Some(d) = default {
                        return self.eval(d, env);
                    }
                    let e = in_context(
                        type_error("a set", &other, self, span),
                        "while selecting an attribute",
                        Some(span),
                    );
                    return Err(self.select_error(e, found, path, env));
                }
            };
            match attrs.get(name) {
                Some(a) => {
                    found = Some(a.pos);
                    v = match self.force(a.value) {
                        Ok(v) => v,
                        Err(e) => {
                            let at = self.pos_span(a.pos).unwrap_or(span);
                            return Err(self.select_error(with_span(e, at), found, path, env));
                        }
                    }
                }
                None => {
                    if let Some(d) = default {
                        return self.eval(d, env);
                    }
                    let suggestions = crate::print::suggestions(self, attrs, name);
                    let e = EvalError::new(
                        ErrorKind::MissingAttr {
                            name: self.interner.name(name).into_owned(),
                            suggestions,
                        },
                        Some(span),
                    );
                    return Err(self.select_error(e, found, path, env));
                }
            }
        }
        Ok(v)
    }

    pub(super) fn eval_attrs(
        &mut self,
        attrs: &'a AttrsIr<'a>,
        env: &'a Env<'a>,
    ) -> EvalResult<Value<'a>> {
        let value_env = if attrs.rec {
            let new_env = self.new_env(env, attrs.statics.len());
            // With `__overrides`, a value naming another attribute must see the override, so
            // it may not share that attribute's thunk.
            let filled = |i: usize| if attrs.overrides.is_some() { 0 } else { i };
            for (i, (cell, a)) in new_env.slots.iter().zip(attrs.statics).enumerate() {
                cell.set(self.thunk_local(a.value, new_env, filled(i)));
            }
            new_env
        } else {
            env
        };
        if attrs.dynamics.is_empty() && attrs.overrides.is_none() {
            // Statics are sorted by symbol already: built in place in the arena.
            let entries = self
                .arena
                .alloc_slice_fill_iter(attrs.statics.iter().enumerate().map(|(i, a)| Attr {
                    name: a.name,
                    pos: a.pos,
                    value: if attrs.rec {
                        value_env.slots[i].get()
                    } else {
                        self.thunk(a.value, env)
                    },
                }));
            return Ok(Value::Attrs(self.arena.alloc(Attrs { entries })));
        }
        let mut entries: Vec<Attr<'a>> =
            Vec::with_capacity(attrs.statics.len() + attrs.dynamics.len());
        for (i, a) in attrs.statics.iter().enumerate() {
            let value = if attrs.rec {
                value_env.slots[i].get()
            } else {
                self.thunk(a.value, env)
            };
            entries.push(Attr {
                name: a.name,
                pos: a.pos,
                value,
            });
        }
        if let Some(i) = attrs.overrides {
            self.apply_overrides(attrs, value_env, i as usize, &mut entries)?;
        }
        for d in attrs.dynamics {
            let name = self.eval(d.name, value_env)?;
            let name = match name {
                Value::Null => continue,
                Value::String(s) => self.interner.intern(s.bytes),
                other => {
                    return Err(frame(
                        type_error("a string", &other, self, d.span),
                        "while evaluating the name of a dynamic attribute",
                        d.span,
                    ))
                }
            };
            if let Some(prev) = entries.iter().find(|a| a.name == name) {
                let at = self
                    .pos_span(prev.pos)
                    .map(|s| self.sources.location(s))
                    .unwrap_or_default();
                return Err(EvalError::msg(
                    format!(
                        "dynamic attribute '{}' already defined at {at}",
                        crate::print::show_attr_name(self.interner.resolve(name))
                    ),
                    d.span,
                ));
            }
            entries.push(Attr {
                name,
                pos: d.pos,
                value: self.thunk(d.value, value_env),
            });
        }
        Ok(self.new_attrs(entries))
    }

    /// A `rec` set's `__overrides`: each of its attributes replaces the set's attribute of that
    /// name, in the set and in the scope its values see, or is added to the set (not to the
    /// scope). Forced when the set is built, as Nix does.
    #[cold]
    pub(super) fn apply_overrides(
        &mut self,
        attrs: &'a AttrsIr<'a>,
        scope: &'a Env<'a>,
        index: usize,
        entries: &mut Vec<Attr<'a>>,
    ) -> EvalResult<()> {
        const CONTEXT: &str = "while evaluating the `__overrides` attribute";
        let overrides = match self.force(scope.slots[index].get()) {
            Ok(Value::Attrs(set)) => set,
            Ok(other) => {
                let mut e = type_error("a set", &other, self, dummy_span());
                e.span = None;
                return Err(frame(e, CONTEXT, dummy_span()));
            }
            Err(e) => return Err(e),
        };
        for attr in overrides.entries {
            match attrs.statics.binary_search_by_key(&attr.name, |a| a.name) {
                Ok(j) => {
                    scope.slots[j].set(attr.value);
                    entries[j] = *attr;
                }
                Err(_) => entries.push(*attr),
            }
        }
        Ok(())
    }
}

#[inline(always)]
pub(super) fn lookup<'a>(
    mut env: &'a Env<'a>,
    depth: u32,
    slot: u32,
) -> &'a std::cell::Cell<Value<'a>> {
    for _ in 0..depth {
        env = env
            .up
            .get()
            .expect("lowering resolved a variable deeper than its environment");
    }
    &env.slots[slot as usize]
}

/// The value of `ir` when it can be had without forcing anything, failing or allocating:
/// literals, evaluated variables, integer arithmetic and comparison on those, selections of
/// evaluated attributes by static names, and `builtins.head` of an evaluated list whose first
/// element is evaluated. `None` for anything else. Computing it has no effect but the result,
/// so a function that forces its parameter first cannot tell it from the thunk.
pub(super) fn eager_value<'a>(ir: &'a Ir<'a>, env: &'a Env<'a>) -> Option<Value<'a>> {
    match ir {
        Ir::Bin { op, lhs, rhs, .. } => {
            match (eager_operand(lhs, env)?, eager_operand(rhs, env)?) {
                (Value::Int(x), Value::Int(y)) => int_op(*op, x, y),
                _ => None,
            }
        }
        Ir::Select {
            expr,
            path,
            default: None,
            ..
        } => {
            let mut v = eager_operand(expr, env)?;
            for key in *path {
                let (Value::Attrs(a), AttrKey::Static(name)) = (v, key) else {
                    return None;
                };
                v = evaluated(a.get(*name)?.value)?;
            }
            Some(v)
        }
        Ir::Call { func, args, .. } => match (&**func, *args) {
            (Ir::Known(Value::PrimOp(op), _), [list]) if op.name == "head" => {
                match eager_operand(list, env)? {
                    Value::List(l) => evaluated(*l.elems.first()?),
                    _ => None,
                }
            }
            _ => None,
        },
        Ir::Const(_) | Ir::Var { .. } => eager_operand(ir, env),
        _ => None,
    }
}

/// [`eager_value`] with literals and variables answered without a call.
#[inline(always)]
pub(super) fn eager_operand<'a>(ir: &'a Ir<'a>, env: &'a Env<'a>) -> Option<Value<'a>> {
    match ir {
        Ir::Const(v) => Some(*v),
        Ir::Var { depth, slot, .. } => evaluated(lookup(env, *depth, *slot).get()),
        Ir::Bin { .. } | Ir::Select { .. } | Ir::Call { .. } => eager_value(ir, env),
        _ => None,
    }
}

/// The value, or for a thunk, its value if it has been evaluated.
#[inline(always)]
pub(super) fn evaluated(v: Value<'_>) -> Option<Value<'_>> {
    match v {
        Value::Thunk(t) => match t.state.get() {
            ThunkState::Done(v) => Some(v),
            _ => None,
        },
        v => Some(v),
    }
}
