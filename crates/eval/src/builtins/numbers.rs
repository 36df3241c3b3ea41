//! Numbers: `add`, `sub`, `mul`, `div`, `lessThan`, `bitAnd`, `bitOr`, `bitXor`, `ceil`, `floor`.

use super::int;
use crate::eval::{type_error, Eval, EvalResult};
use crate::span::Span;
use crate::value::{PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!("add", 2, add),
    prim!("sub", 2, sub),
    prim!("mul", 2, mul),
    prim!("div", 2, div),
    prim!("lessThan", 2, less_than),
    prim!("bitAnd", 2, bit_and),
    prim!("bitOr", 2, bit_or),
    prim!("bitXor", 2, bit_xor),
    prim!("ceil", 1, ceil),
    prim!("floor", 1, floor),
];

fn add<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], _: Span) -> EvalResult<Value<'a>> {
    let a = ev.force(args[0])?;
    let b = ev.force(args[1])?;
    crate::arith::add_numbers(ev, a, b)
}

fn sub<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], _: Span) -> EvalResult<Value<'a>> {
    let a = ev.force(args[0])?;
    let b = ev.force(args[1])?;
    crate::arith::sub(ev, a, b)
}

fn mul<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], _: Span) -> EvalResult<Value<'a>> {
    let a = ev.force(args[0])?;
    let b = ev.force(args[1])?;
    crate::arith::mul(ev, a, b)
}

fn div<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], _: Span) -> EvalResult<Value<'a>> {
    let a = ev.force(args[0])?;
    let b = ev.force(args[1])?;
    crate::arith::div(ev, a, b)
}

fn less_than<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    Ok(Value::Bool(ev.less_than(args[0], args[1], span)?))
}

fn bit_and<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    Ok(Value::Int(
        super::arg_frame(int(ev, args[0], span), "bitAnd", 0, span)?
            & super::arg_frame(int(ev, args[1], span), "bitAnd", 1, span)?,
    ))
}

fn bit_or<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    Ok(Value::Int(
        super::arg_frame(int(ev, args[0], span), "bitOr", 0, span)?
            | super::arg_frame(int(ev, args[1], span), "bitOr", 1, span)?,
    ))
}

fn bit_xor<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    Ok(Value::Int(
        super::arg_frame(int(ev, args[0], span), "bitXor", 0, span)?
            ^ super::arg_frame(int(ev, args[1], span), "bitXor", 1, span)?,
    ))
}

fn round<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    span: Span,
    f: fn(f64) -> f64,
) -> EvalResult<Value<'a>> {
    match ev.force(v)? {
        Value::Int(n) => Ok(Value::Int(n)),
        Value::Float(x) => {
            let r = f(x);
            if r.is_finite() && r >= i64::MIN as f64 && r < i64::MAX as f64 {
                Ok(Value::Int(r as i64))
            } else {
                Err(crate::eval_error::EvalError::msg(
                    format!(
                        "float {} does not fit in a 64-bit integer",
                        crate::print::format_float(x)
                    ),
                    span,
                ))
            }
        }
        other => Err(type_error("a float", &other, ev, span)),
    }
}

fn ceil<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let v = super::arg_frame(ev.force(args[0]), "ceil", 0, span)?;
    round(ev, v, span, f64::ceil)
}

fn floor<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let v = super::arg_frame(ev.force(args[0]), "floor", 0, span)?;
    round(ev, v, span, f64::floor)
}
