//! Arithmetic and `+`: 64-bit integers whose overflow is an error (as in current Nix), floats,
//! and the string and path concatenation `+` also performs.
//!
//! `-`, `*` and `/` are Nix's builtins `sub`, `mul` and `div` (the parser turns the operators
//! into calls), so they fail as those do: a wrong operand is "expected an integer" (or "a
//! float" when the other operand is one) under a frame naming the argument, and neither that
//! error nor an overflow has a position of its own (the caller's "while calling the 'sub'
//! builtin" frame says where). `+` is Nix's string concatenation: its errors point at the
//! operand.

use crate::eval::{type_error, CoerceMode, Eval, EvalResult};
use crate::eval_error::{ErrorKind, EvalError};
use crate::span::Span;
use crate::value::Value;

/// How one of the builtins names itself in its errors.
struct Names {
    /// "subtracting".
    verb: &'static str,
    /// "-".
    sym: &'static str,
    /// The frames of a wrong first and second operand, for integers.
    int_args: [&'static str; 2],
    /// The same for floats (Nix's `mul` words its first differently).
    float_args: [&'static str; 2],
}

const ADD: Names = Names {
    verb: "adding",
    sym: "+",
    int_args: [
        "while evaluating the first argument of the addition",
        "while evaluating the second argument of the addition",
    ],
    float_args: [
        "while evaluating the first argument of the addition",
        "while evaluating the second argument of the addition",
    ],
};

const SUB: Names = Names {
    verb: "subtracting",
    sym: "-",
    int_args: [
        "while evaluating the first argument of the subtraction",
        "while evaluating the second argument of the subtraction",
    ],
    float_args: [
        "while evaluating the first argument of the subtraction",
        "while evaluating the second argument of the subtraction",
    ],
};

const MUL: Names = Names {
    verb: "multiplying",
    sym: "*",
    int_args: [
        "while evaluating the first argument of the multiplication",
        "while evaluating the second argument of the multiplication",
    ],
    float_args: [
        "while evaluating the first of the multiplication",
        "while evaluating the second argument of the multiplication",
    ],
};

/// An error without a position.
fn unplaced(message: String) -> Box<EvalError> {
    EvalError::new(ErrorKind::Message(message), None)
}

/// Nix's `forceInt` in a builtin: a type error without position, under `context`.
fn int_arg<'a>(ev: &Eval<'a>, v: Value<'a>, context: &str) -> EvalResult<i64> {
    match v {
        Value::Int(n) => Ok(n),
        other => Err(wrong(ev, "an integer", other, context)),
    }
}

/// Nix's `forceFloat` in a builtin (an integer is taken as a float).
fn float_arg<'a>(ev: &Eval<'a>, v: Value<'a>, context: &str) -> EvalResult<f64> {
    match v {
        Value::Int(n) => Ok(n as f64),
        Value::Float(f) => Ok(f),
        other => Err(wrong(ev, "a float", other, context)),
    }
}

#[cold]
fn wrong<'a>(ev: &Eval<'a>, expected: &'static str, v: Value<'a>, context: &str) -> Box<EvalError> {
    let mut e = type_error(expected, &v, ev, crate::eval::dummy_span());
    e.span = None;
    e.add_trace(context.to_owned(), None, false);
    e
}

/// The builtins `add`, `sub` and `mul` on forced operands.
fn arith<'a>(
    ev: &Eval<'a>,
    a: Value<'a>,
    b: Value<'a>,
    names: &Names,
    int: fn(i64, i64) -> Option<i64>,
    float: fn(f64, f64) -> f64,
) -> EvalResult<Value<'a>> {
    if matches!(a, Value::Float(_)) || matches!(b, Value::Float(_)) {
        let x = float_arg(ev, a, names.float_args[0])?;
        let y = float_arg(ev, b, names.float_args[1])?;
        return Ok(Value::Float(float(x, y)));
    }
    let x = int_arg(ev, a, names.int_args[0])?;
    let y = int_arg(ev, b, names.int_args[1])?;
    int(x, y).map(Value::Int).ok_or_else(|| {
        unplaced(format!(
            "integer overflow in {} {x} {} {y}",
            names.verb, names.sym
        ))
    })
}

/// `builtins.add` on forced operands (numbers only; `+` is [`add`]).
pub fn add_numbers<'a>(ev: &Eval<'a>, a: Value<'a>, b: Value<'a>) -> EvalResult<Value<'a>> {
    arith(ev, a, b, &ADD, i64::checked_add, |x, y| x + y)
}

/// `a - b` and `builtins.sub` on forced operands.
pub fn sub<'a>(ev: &Eval<'a>, a: Value<'a>, b: Value<'a>) -> EvalResult<Value<'a>> {
    arith(ev, a, b, &SUB, i64::checked_sub, |x, y| x - y)
}

/// `a * b` and `builtins.mul` on forced operands.
pub fn mul<'a>(ev: &Eval<'a>, a: Value<'a>, b: Value<'a>) -> EvalResult<Value<'a>> {
    arith(ev, a, b, &MUL, i64::checked_mul, |x, y| x * y)
}

/// `a / b` and `builtins.div` on forced operands; division by zero is an error for floats
/// too, and the divisor is checked first, as in Nix.
pub fn div<'a>(ev: &Eval<'a>, a: Value<'a>, b: Value<'a>) -> EvalResult<Value<'a>> {
    let divisor = float_arg(ev, b, "while evaluating the second operand of the division")?;
    if divisor == 0.0 {
        return Err(unplaced("division by zero".to_owned()));
    }
    if matches!(a, Value::Float(_)) || matches!(b, Value::Float(_)) {
        let x = float_arg(ev, a, "while evaluating the first operand of the division")?;
        return Ok(Value::Float(x / divisor));
    }
    let x = int_arg(ev, a, "while evaluating the first operand of the division")?;
    let y = int_arg(ev, b, "while evaluating the second operand of the division")?;
    x.checked_div(y)
        .map(Value::Int)
        .ok_or_else(|| unplaced(format!("integer overflow in dividing {x} / {y}")))
}

/// `a + b` on forced operands: numbers add; anything else concatenates as a string (or as a
/// path when `a` is one). Errors point at the operand at fault (`spans`: the operands'), as
/// in Nix, whose `+` is its string concatenation.
pub fn add<'a>(
    ev: &mut Eval<'a>,
    a: Value<'a>,
    b: Value<'a>,
    spans: [Span; 2],
) -> EvalResult<Value<'a>> {
    match a {
        Value::Int(x) => match b {
            Value::Int(y) => x.checked_add(y).map(Value::Int).ok_or_else(|| {
                EvalError::msg(format!("integer overflow in adding {x} + {y}"), spans[1])
            }),
            Value::Float(y) => Ok(Value::Float(x as f64 + y)),
            _ => Err(cannot_add(b, "an integer", spans[1])),
        },
        Value::Float(x) => match b {
            Value::Int(y) => Ok(Value::Float(x + y as f64)),
            Value::Float(y) => Ok(Value::Float(x + y)),
            _ => Err(cannot_add(b, "a float", spans[1])),
        },
        Value::Path(p) => {
            let mut bytes = p.bytes.to_vec();
            let mut context = Vec::new();
            ev.coerce_to_string_into(
                b,
                spans[1],
                CoerceMode::PathSegment,
                &mut bytes,
                &mut context,
            )
            .map_err(|e| path_segment(e, spans[1]))?;
            if !context.is_empty() {
                return Err(EvalError::msg(
                    "a string that refers to a store path cannot be appended to a path",
                    spans[0],
                ));
            }
            Ok(ev.new_path(&bytes))
        }
        Value::String(s) => {
            let mut bytes = s.bytes.to_vec();
            let mut context = s.context.to_vec();
            ev.coerce_to_string_into(
                b,
                spans[1],
                CoerceMode::Interpolation,
                &mut bytes,
                &mut context,
            )
            .map_err(|e| path_segment(e, spans[1]))?;
            context.sort();
            context.dedup();
            Ok(ev.new_string(&bytes, &context))
        }
        _ => {
            // Anything else concatenates like a string: a set with `__toString` or `outPath`
            // does, and the rest fail as Nix fails, with "cannot coerce null to a string".
            let s = ev
                .coerce_to_string(a, spans[0], CoerceMode::Interpolation)
                .map_err(|e| path_segment(e, spans[0]))?;
            add(ev, s, b, spans)
        }
    }
}

#[cold]
fn cannot_add(b: Value<'_>, to: &str, span: Span) -> Box<EvalError> {
    EvalError::msg(format!("cannot add {} to {to}", b.type_phrase()), span)
}

/// Nix's frame for an operand of `+` or a part of an interpolation that does not coerce to a
/// string: the frame says where, the error itself has no position.
#[cold]
pub fn path_segment(mut e: Box<EvalError>, span: Span) -> Box<EvalError> {
    if coercion_failed(&e) {
        e.span = None;
        e.add_trace(
            "while evaluating a path segment".to_owned(),
            Some(span),
            false,
        );
    }
    e
}

/// Tells whether an error is a coercion's own failure (a value of the wrong type met by the
/// coercion itself, no frame added yet): only that gets the coercion's frame, as in Nix,
/// where the frame is attached where the type error is thrown.
pub(crate) fn coercion_failed(e: &EvalError) -> bool {
    e.trace.is_empty()
        && (matches!(e.kind, ErrorKind::Type { .. })
            || matches!(&e.kind, ErrorKind::Message(m) if m.starts_with("cannot coerce ")))
}
