//! Numbers: `add`, `sub`, `mul`, `div`, `lessThan`, `bitAnd`, `bitOr`, `bitXor`, `ceil`, `floor`.

use super::{int, ArgResult};
use crate::eval::{type_error, Eval, EvalResult};
use crate::span::Span;
use crate::value::{PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "add",
        add,
        ["e1", "e2",],
        "The sum of the numbers `e1` and `e2`.",
    ),
    prim!(
        "sub",
        sub,
        ["e1", "e2",],
        "The difference of the numbers `e1` and `e2`.",
    ),
    prim!(
        "mul",
        mul,
        ["e1", "e2",],
        "The product of the numbers `e1` and `e2`.",
    ),
    prim!(
        "div",
        div,
        ["e1", "e2",],
        "The quotient of the numbers `e1` and `e2`; integer division for two integers.",
    ),
    prim!(
        "lessThan",
        less_than,
        ["e1", "e2",],
        "Whether `e1` is less than `e2`, as `<` compares numbers, strings, paths and lists.",
    ),
    prim!(
        "bitAnd",
        bit_and,
        [
            "e1" => "first argument passed to builtins.bitAnd",
            "e2" => "second argument passed to builtins.bitAnd",
        ],
        "The bitwise AND of the integers `e1` and `e2`.",
    ),
    prim!(
        "bitOr",
        bit_or,
        [
            "e1" => "first argument passed to builtins.bitOr",
            "e2" => "second argument passed to builtins.bitOr",
        ],
        "The bitwise OR of the integers `e1` and `e2`.",
    ),
    prim!(
        "bitXor",
        bit_xor,
        [
            "e1" => "first argument passed to builtins.bitXor",
            "e2" => "second argument passed to builtins.bitXor",
        ],
        "The bitwise exclusive OR of the integers `e1` and `e2`.",
    ),
    prim!(
        "ceil",
        ceil,
        [
            "number" => "first argument passed to builtins.ceil",
        ],
        "The smallest integer not less than `number`.",
    ),
    prim!(
        "floor",
        floor,
        [
            "number" => "first argument passed to builtins.floor",
        ],
        "The largest integer not greater than `number`.",
    ),
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
        int(ev, args[0], span).in_arg(0)? & int(ev, args[1], span).in_arg(1)?,
    ))
}

fn bit_or<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    Ok(Value::Int(
        int(ev, args[0], span).in_arg(0)? | int(ev, args[1], span).in_arg(1)?,
    ))
}

fn bit_xor<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    Ok(Value::Int(
        int(ev, args[0], span).in_arg(0)? ^ int(ev, args[1], span).in_arg(1)?,
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
    let v = ev.force(args[0]).in_arg(0)?;
    round(ev, v, span, f64::ceil).arg(0)
}

fn floor<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let v = ev.force(args[0]).in_arg(0)?;
    round(ev, v, span, f64::floor).arg(0)
}
