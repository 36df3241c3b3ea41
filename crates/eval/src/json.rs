//! `builtins.toJSON` (and `--json` output): Nix values as JSON, byte for byte as Nix writes
//! them: sets sorted by name, sets with `__toString` or `outPath` as strings, paths copied to
//! the store, floats in the shortest form that reads back (`1.0`, `1e+20`, `1e-05`).

use crate::eval::{CoerceMode, Eval, EvalResult};
use crate::eval_error::EvalError;
use crate::print::sorted_attrs;
use crate::span::Span;
use crate::value::{ContextElem, Value};

/// Converts `v` to JSON, appending the contexts of the strings it contains.
pub fn to_json<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    span: Span,
    out: &mut Vec<u8>,
    context: &mut Vec<ContextElem<'a>>,
) -> EvalResult<()> {
    let v = ev.force(v)?;
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Float(f) => out.extend_from_slice(json_float(f).as_bytes()),
        Value::String(s) => {
            context.extend_from_slice(s.context);
            json_string(s.bytes, out);
        }
        Value::Path(_) => {
            let s = ev.coerce_to_string(v, span, CoerceMode::Interpolation)?;
            return to_json(ev, s, span, out, context);
        }
        Value::Attrs(a) => {
            if a.get(ev.syms.to_string).is_some() {
                let s = ev.coerce_to_string(v, span, CoerceMode::Interpolation)?;
                return to_json(ev, s, span, out, context);
            }
            if let Some(p) = a.get(ev.syms.out_path) {
                return to_json(ev, p.value, span, out, context);
            }
            out.push(b'{');
            for (i, (name, value)) in sorted_attrs(ev, a).into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_string(ev.interner.resolve(name), out);
                out.push(b':');
                to_json(ev, value, span, out, context)?;
            }
            out.push(b'}');
        }
        Value::List(l) => {
            out.push(b'[');
            for (i, e) in l.elems.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                to_json(ev, *e, span, out, context)?;
            }
            out.push(b']');
        }
        Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_) => {
            return Err(EvalError::msg("cannot convert a function to JSON", span))
        }
        Value::Thunk(_) => unreachable!("forced above"),
    }
    Ok(())
}

/// Writes a JSON string: `"`, `\` and control characters escaped, other bytes as they are.
pub fn json_string(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut rest = bytes;
    // Runs of bytes that need no escape are copied whole.
    while let Some(i) = rest
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
    {
        out.extend_from_slice(&rest[..i]);
        json_escape(rest[i], out);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// Writes the escape of one byte that JSON strings cannot hold as it is.
fn json_escape(b: u8, out: &mut Vec<u8>) {
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        c if c < 0x20 => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
        c => out.push(c),
    }
}

/// Formats a float as Nix's JSON writer does: the shortest digits that read back, in decimal
/// when the exponent is small (with `.0` for whole numbers), else `d.ddde±XX`.
pub fn json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent present");
    let exp: i32 = exp.parse().expect("numeric exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1; // The decimal point sits after `n` digits.
    let body = if k <= n && n <= 15 {
        format!("{digits}{}.0", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 15 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -4 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let m = if k == 1 {
            digits.clone()
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let e = n - 1;
        format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::json_float;

    #[test]
    fn floats_like_nix() {
        // Printed by Nix 2.26 for the same values.
        for (f, s) in [
            (1.0, "1.0"),
            (2.5, "2.5"),
            (0.1, "0.1"),
            (1e20, "1e+20"),
            (1e-5, "1e-05"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.001, "0.001"),
            (100000000.0, "100000000.0"),
            (1.23456789, "1.23456789"),
        ] {
            assert_eq!(json_float(f), s);
        }
    }
}
