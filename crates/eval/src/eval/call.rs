//! Calls: [`Eval::call`] for every kind of function, [`Eval::call_n`] for builtins calling
//! back, and lambda calls in reused environments.

use super::errors::{frame, from_call_site};
use super::{dummy_span, Eval, NO_SITE};
use crate::eval_error::{ErrorKind, EvalError, EvalResult};
use crate::ir::{Ir, LambdaIr, ParamIr};
use crate::span::Span;
use crate::value::{Closure, Env, PrimOpApp, Value};

impl<'a> Eval<'a> {
    /// Applies function `f` (forced) to `arg` (lazy).
    pub fn call(
        &mut self,
        f: Value<'a>,
        arg: Value<'a>,
        span: Option<Span>,
    ) -> EvalResult<Value<'a>> {
        match f {
            Value::Lambda(c) => self.call_lambda(c.lambda, c.env, arg, span),
            Value::PrimOp(op) => {
                if op.arity == 1 {
                    (op.func)(self, &[arg], span.unwrap_or(dummy_span()))
                        .map_err(|e| self.builtin_error(e, op, span))
                } else {
                    let args = self.arena.alloc_slice_copy(&[arg]);
                    Ok(Value::PrimOpApp(self.arena.alloc(PrimOpApp { op, args })))
                }
            }
            Value::PrimOpApp(app) => {
                let n = app.args.len() + 1;
                if n == app.op.arity && n <= 4 {
                    // The last argument: the arguments go on the stack, not the heap.
                    let mut args = [Value::Null; 4];
                    args[..n - 1].copy_from_slice(app.args);
                    args[n - 1] = arg;
                    return (app.op.func)(self, &args[..n], span.unwrap_or(dummy_span()))
                        .map_err(|e| self.builtin_error(e, app.op, span));
                }
                let mut args = Vec::with_capacity(n);
                args.extend_from_slice(app.args);
                args.push(arg);
                if args.len() == app.op.arity {
                    (app.op.func)(self, &args, span.unwrap_or(dummy_span()))
                        .map_err(|e| self.builtin_error(e, app.op, span))
                } else {
                    let args = self.arena.alloc_slice_copy(&args);
                    Ok(Value::PrimOpApp(
                        self.arena.alloc(PrimOpApp { op: app.op, args }),
                    ))
                }
            }
            Value::Attrs(attrs) => match attrs.get(self.syms.functor) {
                Some(functor) => {
                    // Nix calls the functor from where `__functor` is defined.
                    let site = self.pos_span(functor.pos).or(span);
                    let res = self.force(functor.value).and_then(|functor| {
                        let inner = self.call(functor, f, site)?;
                        let inner = self.force(inner)?;
                        self.call(inner, arg, site)
                    });
                    res.map_err(|e| {
                        frame(
                            e,
                            "while calling a functor (an attribute set with a '__functor' attribute)",
                            span.unwrap_or(dummy_span()),
                        )
                    })
                }
                None => Err(self.not_a_function(f, span)),
            },
            Value::Thunk(_) => {
                let f = self.force(f)?;
                self.call(f, arg, span)
            }
            _ => Err(self.not_a_function(f, span)),
        }
    }

    /// Applies `f` to several arguments and forces the result.
    ///
    /// A builtin calling back (`foldl'`, `filter`, `sort`) gives its own span, but Nix makes
    /// these calls without a position: they get none, and no "from call site" frame.
    pub fn call_n(
        &mut self,
        f: Value<'a>,
        args: &[Value<'a>],
        span: Span,
    ) -> EvalResult<Value<'a>> {
        let span = if span.file.0 == u32::MAX {
            span
        } else {
            NO_SITE
        };
        // The common case of builtins calling back (`foldl'`, `sort`): `x: y: body` applied
        // to two arguments.
        if let (Value::Lambda(c), [a, b]) = (f, args) {
            if let (ParamIr::Ident(_), Ir::Lambda(inner)) = (&c.lambda.param, c.lambda.body) {
                let v = self.call_curried(c, inner, *a, *b, span)?;
                return self.force(v);
            }
        }
        self.call_n_general(f, args, span)
    }

    /// Calls `x: y: body` with two arguments: binds `x` and goes straight into the inner
    /// function, without allocating the closure the first call would return.
    #[inline]
    pub(super) fn call_curried(
        &mut self,
        c: &'a Closure<'a>,
        inner: &'a LambdaIr<'a>,
        a: Value<'a>,
        b: Value<'a>,
        span: Span,
    ) -> EvalResult<Value<'a>> {
        // One capture window covers both environments: the inner one links to the outer, so
        // they are released together or not at all.
        let saved = self.env_captured.replace(false);
        let outer = self.call_env(c.env, c.lambda.n_slots);
        outer.slots[0].set(a);
        let env = self.call_env(outer, inner.n_slots);
        let res = self.enter_lambda(inner, env, b, Some(span));
        if !self.env_captured.replace(saved) {
            self.release_env(env);
            self.release_env(outer);
        }
        res
    }

    #[inline(never)]
    pub(super) fn call_n_general(
        &mut self,
        f: Value<'a>,
        args: &[Value<'a>],
        span: Span,
    ) -> EvalResult<Value<'a>> {
        let mut v = self.force(f)?;
        let mut rest = args;
        while let Some((a, tail)) = rest.split_first() {
            if let (Value::Lambda(c), Some(b)) = (v, tail.first()) {
                if let (ParamIr::Ident(_), Ir::Lambda(inner)) = (&c.lambda.param, c.lambda.body) {
                    v = self.call_curried(c, inner, *a, *b, span)?;
                    v = self.force(v)?;
                    rest = &tail[1..];
                    continue;
                }
            }
            v = self.call(v, *a, Some(span))?;
            v = self.force(v)?;
            rest = tail;
        }
        Ok(v)
    }

    pub(super) fn lambda_name(&self, l: &LambdaIr<'a>) -> String {
        match l.name {
            Some(n) => format!("'{}'", self.interner.name(n)),
            None => "'anonymous lambda'".to_owned(),
        }
    }

    /// Calls a lambda in a new environment below `closure_env`.
    ///
    /// The call's environment is reused for a later call when nothing captured it: every
    /// place that keeps a reference to an environment (a pending thunk, a closure, a child
    /// environment) sets `env_captured`, and each call and thunk evaluation saves the flag,
    /// clears it and restores it, so at the end it tells about this call's own environment.
    /// An environment reachable from a captured one is itself captured, so a released one is
    /// referenced by nothing. Values read from its slots are copies and stay valid.
    pub(super) fn call_lambda(
        &mut self,
        l: &'a LambdaIr<'a>,
        closure_env: &'a Env<'a>,
        arg: Value<'a>,
        span: Option<Span>,
    ) -> EvalResult<Value<'a>> {
        let saved = self.env_captured.replace(false);
        let env = self.call_env(closure_env, l.n_slots);
        let res = self.enter_lambda(l, env, arg, span);
        if !self.env_captured.replace(saved) {
            self.release_env(env);
        }
        res
    }

    /// Binds the parameters of `l` in `env` (its call environment, every slot to be set) and
    /// evaluates the body.
    pub(super) fn enter_lambda(
        &mut self,
        l: &'a LambdaIr<'a>,
        env: &'a Env<'a>,
        arg: Value<'a>,
        span: Option<Span>,
    ) -> EvalResult<Value<'a>> {
        match &l.param {
            ParamIr::Ident(_) => env.slots[0].set(arg),
            ParamIr::Formals {
                formals,
                ellipsis,
                at,
            } => {
                let attrs = match self.force(arg) {
                    Ok(Value::Attrs(attrs)) => attrs,
                    res => return Err(self.formals_arg_error(res, l, span)),
                };
                let mut used = 0;
                for (i, f) in formals.iter().enumerate() {
                    match attrs.get(f.name) {
                        Some(a) => {
                            used += 1;
                            env.slots[i].set(a.value);
                        }
                        None => match f.default {
                            Some(d) => env.slots[i].set(self.thunk_local(d, env, i)),
                            None => {
                                return Err(from_call_site(
                                    EvalError::msg(
                                        format!(
                                            "function {} called without required argument '{}'",
                                            self.lambda_name(l),
                                            self.interner.name(f.name)
                                        ),
                                        l.span,
                                    ),
                                    span,
                                ))
                            }
                        },
                    }
                }
                if !*ellipsis && used != attrs.len() {
                    let extra = attrs
                        .entries
                        .iter()
                        .map(|a| a.name)
                        .filter(|n| !formals.iter().any(|f| f.name == *n))
                        .min_by(|a, b| self.interner.resolve(*a).cmp(self.interner.resolve(*b)));
                    if let Some(extra) = extra {
                        let suggestions = crate::print::suggest_among(
                            self,
                            formals.iter().map(|f| f.name),
                            extra,
                        );
                        return Err(from_call_site(
                            EvalError::new(
                                ErrorKind::UnexpectedArgument {
                                    function: self.lambda_name(l),
                                    name: self.interner.name(extra).into_owned(),
                                    suggestions,
                                },
                                Some(l.span),
                            ),
                            span,
                        ));
                    }
                }
                if at.is_some() {
                    env.slots[formals.len()].set(arg);
                }
            }
        }
        // Nix checks the depth before counting the call: `max-call-depth` calls may be
        // pending when one more starts.
        if self.call_depth > self.settings.max_call_depth {
            return Err(EvalError::new(
                ErrorKind::StackOverflow,
                Some(span.unwrap_or(l.span)),
            ));
        }
        self.call_depth += 1;
        let res = self.eval(l.body, env);
        self.call_depth -= 1;
        res.map_err(|e| self.lambda_error(e, l, span))
    }
}
