//! Arithmetic and `+`: 64-bit integers whose overflow is an error (as in current Nix), floats,
//! and the string and path concatenation `+` also performs.

use crate::eval::{type_error, CoerceMode, Eval, EvalResult};
use crate::eval_error::EvalError;
use crate::span::Span;
use crate::value::Value;

fn overflow(op: &str, a: i64, b: i64, span: Span) -> Box<EvalError> {
    let sym = match op {
        "adding" => "+",
        "subtracting" => "-",
        _ => "*",
    };
    EvalError::msg(format!("integer overflow in {op} {a} {sym} {b}"), span)
}

fn numbers<'a>(
    ev: &Eval<'a>,
    a: Value<'a>,
    b: Value<'a>,
    span: Span,
) -> EvalResult<Result<(i64, i64), (f64, f64)>> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(Ok((x, y))),
        (Value::Int(x), Value::Float(y)) => Ok(Err((x as f64, y))),
        (Value::Float(x), Value::Int(y)) => Ok(Err((x, y as f64))),
        (Value::Float(x), Value::Float(y)) => Ok(Err((x, y))),
        (Value::Int(_) | Value::Float(_), other) | (other, _) => {
            Err(type_error("an integer", &other, ev, span))
        }
    }
}

/// `a + b`: numbers add; a string or path on the left concatenates.
pub fn add<'a>(ev: &mut Eval<'a>, a: Value<'a>, b: Value<'a>, span: Span) -> EvalResult<Value<'a>> {
    match a {
        Value::Int(_) | Value::Float(_) => match b {
            Value::Int(_) | Value::Float(_) => match numbers(ev, a, b, span)? {
                Ok((x, y)) => x
                    .checked_add(y)
                    .map(Value::Int)
                    .ok_or_else(|| overflow("adding", x, y, span)),
                Err((x, y)) => Ok(Value::Float(x + y)),
            },
            _ => Err(EvalError::msg(
                format!("cannot add {} to {}", b.type_phrase(), a.type_phrase()),
                span,
            )),
        },
        Value::Path(p) => {
            let mut bytes = p.bytes.to_vec();
            let mut context = Vec::new();
            ev.coerce_to_string_into(b, span, CoerceMode::PathSegment, &mut bytes, &mut context)?;
            if !context.is_empty() {
                return Err(EvalError::msg(
                    "a string that refers to a store path cannot be appended to a path",
                    span,
                ));
            }
            Ok(ev.new_path(&bytes))
        }
        Value::String(s) => {
            let mut bytes = s.bytes.to_vec();
            let mut context = s.context.to_vec();
            ev.coerce_to_string_into(b, span, CoerceMode::Interpolation, &mut bytes, &mut context)?;
            context.sort();
            context.dedup();
            Ok(ev.new_string(&bytes, &context))
        }
        _ => {
            // Anything else concatenates like a string: a set with `__toString` or `outPath`
            // does, and the rest fail as Nix fails, with "cannot coerce null to a string".
            let s = ev.coerce_to_string(a, span, CoerceMode::Interpolation)?;
            add(ev, s, b, span)
        }
    }
}

/// `a - b`.
pub fn sub<'a>(ev: &mut Eval<'a>, a: Value<'a>, b: Value<'a>, span: Span) -> EvalResult<Value<'a>> {
    match numbers(ev, a, b, span)? {
        Ok((x, y)) => x
            .checked_sub(y)
            .map(Value::Int)
            .ok_or_else(|| overflow("subtracting", x, y, span)),
        Err((x, y)) => Ok(Value::Float(x - y)),
    }
}

/// `a * b`.
pub fn mul<'a>(ev: &mut Eval<'a>, a: Value<'a>, b: Value<'a>, span: Span) -> EvalResult<Value<'a>> {
    match numbers(ev, a, b, span)? {
        Ok((x, y)) => x
            .checked_mul(y)
            .map(Value::Int)
            .ok_or_else(|| overflow("multiplying", x, y, span)),
        Err((x, y)) => Ok(Value::Float(x * y)),
    }
}

/// `a / b`; division by zero is an error for floats too, as in Nix.
pub fn div<'a>(ev: &mut Eval<'a>, a: Value<'a>, b: Value<'a>, span: Span) -> EvalResult<Value<'a>> {
    match numbers(ev, a, b, span)? {
        Ok((_, 0)) => Err(EvalError::msg("division by zero", span)),
        Ok((x, y)) => x
            .checked_div(y)
            .map(Value::Int)
            .ok_or_else(|| EvalError::msg(format!("integer overflow in dividing {x} / {y}"), span)),
        Err((_, 0.0)) => Err(EvalError::msg("division by zero", span)),
        Err((x, y)) => Ok(Value::Float(x / y)),
    }
}
