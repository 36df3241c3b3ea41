//! `builtins.toJSON` (and `--json` output): Nix values as JSON, byte for byte as Nix writes
//! them: sets sorted by name, sets with `__toString` or `outPath` as strings, paths copied to
//! the store, floats in the shortest form that reads back (`1.0`, `1e+20`, `1e-05`).

use crate::eval::{CoerceMode, Eval, EvalResult};
use crate::eval_error::{ErrorKind, EvalError};
use crate::span::Span;
use crate::value::{ContextElem, Value};

/// Converts `v` to JSON, appending the contexts of the strings it contains.
///
/// Errors carry Nix's frames ("while evaluating attribute 'a'", "while evaluating list element
/// at index 3"), and a string that is not UTF-8 fails as Nix's JSON writer fails, once
/// everything else has been evaluated.
pub fn to_json<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    span: Span,
    out: &mut Vec<u8>,
    context: &mut Vec<ContextElem<'a>>,
) -> EvalResult<()> {
    let mut writer = JsonWriter {
        span,
        out,
        context,
        bad_utf8: None,
    };
    writer.value(ev, v, None, 0)?;
    match writer.bad_utf8 {
        Some(message) => Err(EvalError::msg(
            format!("JSON serialization error: [json.exception.type_error.316] {message}"),
            span,
        )),
        None => Ok(()),
    }
}

/// The state of one conversion.
struct JsonWriter<'o, 'a> {
    /// Where errors are reported (the builtin's call).
    span: Span,
    out: &'o mut Vec<u8>,
    context: &'o mut Vec<ContextElem<'a>>,
    /// Nix's message for the first string (in output order) that is not UTF-8.
    bad_utf8: Option<String>,
}

impl<'a> JsonWriter<'_, 'a> {
    /// Writes one value; `pos` is the position Nix's frames use (the enclosing attribute's).
    fn value(
        &mut self,
        ev: &mut Eval<'a>,
        v: Value<'a>,
        pos: Option<Span>,
        depth: usize,
    ) -> EvalResult<()> {
        if depth > crate::eval::MAX_JSON_NESTING {
            return Err(EvalError::new(ErrorKind::NestingTooDeep, None));
        }
        let span = self.span;
        let v = ev.force(v)?;
        match v {
            Value::Null => self.out.extend_from_slice(b"null"),
            Value::Bool(b) => self
                .out
                .extend_from_slice(if b { b"true" } else { b"false" }),
            Value::Int(n) => self.out.extend_from_slice(n.to_string().as_bytes()),
            Value::Float(f) => self.out.extend_from_slice(json_float(f).as_bytes()),
            Value::String(s) => {
                self.context.extend_from_slice(s.context);
                self.string(s.bytes);
            }
            Value::Path(_) => {
                let s = ev.coerce_to_string(v, span, CoerceMode::Interpolation)?;
                return self.value(ev, s, pos, depth);
            }
            Value::Attrs(a) => {
                if a.get(ev.syms.to_string).is_some() {
                    // The `__toString` frame is at the enclosing attribute, where there is one.
                    let at = pos.unwrap_or(crate::eval::dummy_span());
                    let s = ev.coerce_to_string(v, at, CoerceMode::Interpolation)?;
                    return self.value(ev, s, pos, depth);
                }
                if let Some(p) = a.get(ev.syms.out_path) {
                    return self.value(ev, p.value, ev.pos_span(p.pos), depth);
                }
                self.out.push(b'{');
                let mut entries: Vec<_> = a.entries.iter().collect();
                entries
                    .sort_by(|x, y| ev.interner.resolve(x.name).cmp(ev.interner.resolve(y.name)));
                for (i, attr) in entries.into_iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    let name = ev.interner.resolve(attr.name);
                    self.string(name);
                    self.out.push(b':');
                    let at = ev.pos_span(attr.pos);
                    self.value(ev, attr.value, at, depth + 1)
                        .map_err(|e| attribute_frame(ev, e, attr.name, at))?;
                }
                self.out.push(b'}');
            }
            Value::List(l) => {
                self.out.push(b'[');
                for (i, e) in l.elems.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.value(ev, *e, pos, depth + 1)
                        .map_err(|e| element_frame(e, i, pos))?;
                }
                self.out.push(b']');
            }
            // At the function where it has a position, else at the enclosing attribute.
            Value::Lambda(c) => {
                return Err(EvalError::msg(
                    "cannot convert a function to JSON",
                    c.lambda.span,
                ))
            }
            Value::PrimOp(op) => {
                return Err(EvalError::new(
                    ErrorKind::Message(format!(
                        "cannot convert the built-in function '{}' to JSON",
                        op.name
                    )),
                    pos,
                ))
            }
            Value::PrimOpApp(app) => {
                return Err(EvalError::new(
                    ErrorKind::Message(format!(
                        "cannot convert the partially applied built-in function '{}' to JSON",
                        app.op.name
                    )),
                    pos,
                ))
            }
            Value::Thunk(_) => unreachable!("forced above"),
        }
        Ok(())
    }

    /// Writes a string, noting the first one that is not UTF-8.
    fn string(&mut self, bytes: &[u8]) {
        if self.bad_utf8.is_none() {
            self.bad_utf8 = utf8_error(bytes);
        }
        json_string(bytes, self.out);
    }
}

#[cold]
#[inline(never)]
fn attribute_frame(
    ev: &Eval<'_>,
    mut e: Box<EvalError>,
    name: crate::intern::Symbol,
    at: Option<Span>,
) -> Box<EvalError> {
    // Nix exits there with no trace at all: none is collected.
    if matches!(e.kind, ErrorKind::NestingTooDeep) {
        return e;
    }
    e.add_trace(
        format!("while evaluating attribute '{}'", ev.interner.name(name)),
        at,
        false,
    );
    e
}

#[cold]
#[inline(never)]
fn element_frame(mut e: Box<EvalError>, index: usize, at: Option<Span>) -> Box<EvalError> {
    if matches!(e.kind, ErrorKind::NestingTooDeep) {
        return e;
    }
    e.add_trace(
        format!("while evaluating list element at index {index}"),
        at,
        false,
    );
    e
}

/// Nix's JSON writer's complaint about bytes that are not UTF-8, if they are not: the index
/// of the first byte that cannot continue (or start) a character, or a character cut short
/// by the end of the string.
fn utf8_error(bytes: &[u8]) -> Option<String> {
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // How many continuation bytes follow, and the range the first of them must be in.
        let (more, lo, hi) = match b {
            0x00..=0x7f => {
                i += 1;
                continue;
            }
            0xc2..=0xdf => (1, 0x80, 0xbf),
            0xe0 => (2, 0xa0, 0xbf),
            0xe1..=0xec | 0xee..=0xef => (2, 0x80, 0xbf),
            0xed => (2, 0x80, 0x9f),
            0xf0 => (3, 0x90, 0xbf),
            0xf1..=0xf3 => (3, 0x80, 0xbf),
            0xf4 => (3, 0x80, 0x8f),
            _ => return Some(format!("invalid UTF-8 byte at index {i}: 0x{b:02X}")),
        };
        for k in 1..=more {
            let Some(&c) = bytes.get(i + k) else {
                let last = bytes[bytes.len() - 1];
                return Some(format!("incomplete UTF-8 string; last byte: 0x{last:02X}"));
            };
            let (lo, hi) = if k == 1 { (lo, hi) } else { (0x80, 0xbf) };
            if !(lo..=hi).contains(&c) {
                return Some(format!("invalid UTF-8 byte at index {}: 0x{c:02X}", i + k));
            }
        }
        i += 1 + more;
    }
    None
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
