//! Forcing: [`Eval::force`], the one place a thunk changes state, and deep forcing
//! (`deepSeq`, `--strict`).

use super::errors::with_span;
use super::{lazy_site, Eval, MAX_DEEP_NESTING, MAX_EVAL_DEPTH, NO_SITE};
use crate::eval_error::{ErrorKind, EvalError, EvalResult};
use crate::span::Span;
use crate::value::{Thunk, ThunkState, Value};

impl<'a> Eval<'a> {
    /// Evaluates `v` to weak head normal form.
    #[inline]
    pub fn force(&mut self, v: Value<'a>) -> EvalResult<Value<'a>> {
        match v {
            Value::Thunk(t) => self.force_thunk(t),
            _ => Ok(v),
        }
    }

    pub(super) fn force_thunk(&mut self, t: &'a Thunk<'a>) -> EvalResult<Value<'a>> {
        let state = t.state.get();
        match state {
            ThunkState::Done(v) => Ok(v),
            ThunkState::Blackhole => Err(EvalError::new(ErrorKind::InfiniteRecursion, None)),
            ThunkState::Pending { ir, env } => {
                t.state.set(ThunkState::Blackhole);
                self.eval_depth += 1;
                if self.eval_depth > MAX_EVAL_DEPTH {
                    // Where Nix would run out of native stack: its message for that.
                    self.eval_depth -= 1;
                    t.state.set(state);
                    return Err(EvalError::new(ErrorKind::NestingTooDeep, None));
                }
                // The thunk's code runs in its own environment: what it captures is not the
                // current call's business.
                let captured = self.env_captured.replace(false);
                let res = self.eval(ir, env);
                self.env_captured.set(captured);
                self.eval_depth -= 1;
                match res {
                    Ok(v) => {
                        t.state.set(ThunkState::Done(v));
                        Ok(v)
                    }
                    Err(e) => {
                        t.state.set(state);
                        Err(e)
                    }
                }
            }
            ThunkState::Apply(_)
            | ThunkState::Apply1 { .. }
            | ThunkState::ApplyAttr { .. }
            | ThunkState::ApplyIndex { .. } => {
                t.state.set(ThunkState::Blackhole);
                let deep = std::mem::replace(&mut self.deep_site, false);
                let site = |f: Value<'a>| if deep { lazy_site(f) } else { NO_SITE };
                let res = match state {
                    ThunkState::Apply1 { f, arg } => self
                        .call(*f, *arg, Some(site(*f)))
                        .and_then(|v| self.force(v)),
                    ThunkState::ApplyAttr { f, attr } => {
                        let name = self.sym_value(attr.name);
                        self.call_n_general(*f, &[name, attr.value], site(*f))
                    }
                    ThunkState::ApplyIndex { f, index } => self
                        .call(*f, Value::Int(index), Some(site(*f)))
                        .and_then(|v| self.force(v)),
                    ThunkState::Apply(call) => {
                        self.call_n_general(call[0], &call[1..], site(call[0]))
                    }
                    _ => unreachable!("matched above"),
                };
                match res {
                    Ok(v) => {
                        t.state.set(ThunkState::Done(v));
                        Ok(v)
                    }
                    Err(e) => {
                        t.state.set(state);
                        Err(e)
                    }
                }
            }
        }
    }

    /// Forces `v` completely (`deepSeq`, `--strict`): lists and sets recursively.
    pub fn force_deep(&mut self, v: Value<'a>) -> EvalResult<Value<'a>> {
        let mut seen = std::collections::HashSet::new();
        self.force_deep_inner(v, &mut seen, 0)
    }

    pub(super) fn force_deep_inner(
        &mut self,
        v: Value<'a>,
        seen: &mut std::collections::HashSet<usize>,
        depth: usize,
    ) -> EvalResult<Value<'a>> {
        if depth > MAX_DEEP_NESTING {
            return Err(EvalError::new(ErrorKind::NestingTooDeep, None));
        }
        // A builtin's lazy application forced here gets its function as call site.
        if let Value::Thunk(t) = v {
            self.deep_site = matches!(
                t.state.get(),
                ThunkState::Apply(_)
                    | ThunkState::Apply1 { .. }
                    | ThunkState::ApplyAttr { .. }
                    | ThunkState::ApplyIndex { .. }
            );
        }
        let v = self.force(v)?;
        match v {
            Value::Attrs(a) if seen.insert(a as *const _ as usize) => {
                for attr in a.entries {
                    if let Err(mut e) = self.force_deep_inner(attr.value, seen, depth + 1) {
                        if matches!(e.kind, ErrorKind::NestingTooDeep) {
                            return Err(e);
                        }
                        e.add_trace(
                            format!(
                                "while evaluating the attribute '{}'",
                                crate::print::show_attr_name(self.interner.resolve(attr.name))
                            ),
                            self.pos_span(attr.pos),
                            false,
                        );
                        return Err(e);
                    }
                }
            }
            Value::List(l) if seen.insert(l as *const _ as usize) => {
                for e in l.elems {
                    self.force_deep_inner(*e, seen, depth + 1)?;
                }
            }
            _ => {}
        }
        Ok(v)
    }

    /// Forces a variable's thunk and stores the result back in its slot.
    #[inline(never)]
    pub(super) fn force_slot(
        &mut self,
        cell: &'a std::cell::Cell<Value<'a>>,
        v: Value<'a>,
        span: Span,
    ) -> EvalResult<Value<'a>> {
        let forced = self.force(v).map_err(|e| with_span(e, span))?;
        cell.set(forced);
        Ok(forced)
    }
}
