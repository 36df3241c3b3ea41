//! Printing values as `nix-instantiate --eval` does, byte for byte.
//!
//! Sets print sorted by name (`{ a = 1; b = "x"; }`), lists as `[ 1 2 ]`, strings with Nix's
//! escapes, floats like C++'s `%g` (six significant digits), functions as `<LAMBDA>`,
//! `<PRIMOP>` and `<PRIMOP-APP>`, unevaluated values as `<CODE>`, and a set or list met a second
//! time as `«repeated»`.

use std::collections::HashSet;

use crate::eval::{Eval, EvalResult};
use crate::intern::Symbol;
use crate::span::{SourceMap, Span};
use crate::value::{Attrs, Value};

/// Prints `v`; with `strict`, forces everything it prints first.
pub fn print_value<'a>(ev: &mut Eval<'a>, v: Value<'a>, strict: bool) -> EvalResult<String> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let cell = top_cell(v);
    let v = ev.force(v)?;
    print_inner(ev, v, cell, strict, &mut seen, &mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Prints `v` as bytes (strings may hold any bytes).
pub fn print_value_bytes<'a>(ev: &mut Eval<'a>, v: Value<'a>, strict: bool) -> EvalResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let cell = top_cell(v);
    let v = ev.force(v)?;
    print_inner(ev, v, cell, strict, &mut seen, &mut out)?;
    Ok(out)
}

/// The identity of the value printed first: its thunk's, or one no other value has.
fn top_cell(v: Value<'_>) -> usize {
    match v {
        Value::Thunk(t) => t as *const _ as usize,
        _ => 1,
    }
}

/// The identity of the cell a value is read from, as Nix sees it: a thunk's, or the slot's
/// own when it holds the value itself.
fn cell_of(slot: &Value<'_>) -> usize {
    match slot {
        Value::Thunk(t) => *t as *const _ as usize,
        _ => slot as *const _ as usize,
    }
}

/// Prints `v`, read from the cell `cell` (see [`cell_of`]).
///
/// `«repeated»` follows Nix's rule: a set met again (the same attributes, however copied),
/// a list of three or more elements met again (the same elements), or a list of one or two
/// met again through the same cell (Nix keeps such lists inside the value itself, so a copy
/// is a new list).
fn print_inner<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    cell: usize,
    strict: bool,
    seen: &mut HashSet<usize>,
    out: &mut Vec<u8>,
) -> EvalResult<()> {
    let (v, cell) = match v {
        Value::Thunk(t) if strict => (ev.force(v)?, t as *const _ as usize),
        _ => (v, cell),
    };
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Float(f) => out.extend_from_slice(format_float(f).as_bytes()),
        Value::String(s) => escape_string(s.bytes, out),
        Value::Path(p) => out.extend_from_slice(p.bytes),
        Value::Lambda(_) => out.extend_from_slice(b"<LAMBDA>"),
        Value::PrimOp(_) => out.extend_from_slice(b"<PRIMOP>"),
        Value::PrimOpApp(_) => out.extend_from_slice(b"<PRIMOP-APP>"),
        Value::Thunk(t) => match t.state.get() {
            crate::value::ThunkState::Done(v) => {
                print_inner(ev, v, t as *const _ as usize, strict, seen, out)?
            }
            _ => out.extend_from_slice(b"<CODE>"),
        },
        // Empty sets and lists are never «repeated» (Nix prints them before it looks).
        Value::Attrs(a) if a.entries.is_empty() => out.extend_from_slice(b"{ }"),
        Value::List(l) if l.elems.is_empty() => out.extend_from_slice(b"[ ]"),
        Value::Attrs(a) => {
            if !seen.insert(a as *const _ as usize) {
                out.extend_from_slice("«repeated»".as_bytes());
                return Ok(());
            }
            out.extend_from_slice(b"{ ");
            let mut sorted: Vec<_> = a.entries.iter().collect();
            sorted.sort_by(|x, y| ev.interner.resolve(x.name).cmp(ev.interner.resolve(y.name)));
            for attr in sorted {
                print_attr_name(ev.interner.resolve(attr.name), out);
                out.extend_from_slice(b" = ");
                print_inner(ev, attr.value, cell_of(&attr.value), strict, seen, out)?;
                out.extend_from_slice(b"; ");
            }
            out.push(b'}');
        }
        Value::List(l) => {
            let key = if l.elems.len() <= 2 {
                cell
            } else {
                l as *const _ as usize
            };
            if !seen.insert(key) {
                out.extend_from_slice("«repeated»".as_bytes());
                return Ok(());
            }
            out.extend_from_slice(b"[ ");
            for e in l.elems {
                print_inner(ev, *e, cell_of(e), strict, seen, out)?;
                out.push(b' ');
            }
            out.push(b']');
        }
    }
    Ok(())
}

/// The attributes of a set in name order.
pub fn sorted_attrs<'a>(ev: &Eval<'a>, a: &Attrs<'a>) -> Vec<(Symbol, Value<'a>)> {
    let mut v: Vec<(Symbol, Value<'a>)> = a.entries.iter().map(|e| (e.name, e.value)).collect();
    v.sort_by(|x, y| ev.interner.resolve(x.0).cmp(ev.interner.resolve(y.0)));
    v
}

fn is_identifier(name: &[u8]) -> bool {
    match name.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return false,
    }
    if matches!(
        name,
        b"if" | b"then" | b"else" | b"assert" | b"with" | b"let" | b"in" | b"rec" | b"inherit"
    ) {
        return false;
    }
    name.iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'\'' | b'-'))
}

/// Text for standard error as Nix writes it there: when standard error is not a terminal,
/// without ANSI escape sequences (CSI sequences such as colours, and two-byte escapes), as
/// Nix's `filterANSIEscapes`; on a terminal, unchanged.
pub fn for_stderr(text: &str) -> std::borrow::Cow<'_, str> {
    use std::io::IsTerminal;
    if !text.contains('\x1b') || std::io::stderr().is_terminal() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // Parameter bytes, intermediate bytes, then one final byte.
            while chars.next_if(|c| ('\x30'..='\x3f').contains(c)).is_some() {}
            while chars.next_if(|c| ('\x20'..='\x2f').contains(c)).is_some() {}
            chars.next_if(|c| ('\x40'..='\x7e').contains(c));
        } else {
            chars.next_if(|c| ('\x40'..='\x5f').contains(c));
        }
    }
    std::borrow::Cow::Owned(out)
}

/// An attribute name as Nix shows it in messages: bare when it is an identifier, else
/// quoted and escaped (`"a b"`, `"if"`, `""`).
pub fn show_attr_name(name: &[u8]) -> String {
    let mut out = Vec::new();
    print_attr_name(name, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn print_attr_name(name: &[u8], out: &mut Vec<u8>) {
    if is_identifier(name) {
        out.extend_from_slice(name);
    } else {
        escape_string(name, out);
    }
}

/// Writes a string literal with Nix's escapes.
pub fn escape_string(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'$' if bytes.get(i + 1) == Some(&b'{') => out.extend_from_slice(b"\\$"),
            c => out.push(c),
        }
        i += 1;
    }
    out.push(b'"');
}

/// Formats a float like C++'s default stream output (`%g`, six significant digits).
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() { "-nan" } else { "nan" }.to_owned();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let precision = 6;
    // The exponent after rounding to six significant digits decides the notation.
    let sci = format!("{:.*e}", precision - 1, f);
    let (mantissa, exp) = sci.split_once('e').expect("exponent present");
    let exp: i32 = exp.parse().expect("numeric exponent");
    if exp < -4 || exp >= precision as i32 {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{f:.decimals$}")).to_owned()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Prints a value for an error message, without forcing anything, as Nix 2.26 prints values
/// in errors: at most 10 levels deep (deeper sets and lists are `{ ... }`, `[ ... ]`), at most
/// 10 attributes and 10 list items in all (the rest of a set or list is «N attributes
/// elided»), strings cut after 1024 bytes, a set or non-empty list met again «repeated»,
/// `type` and `_type` first in a set.
pub fn brief<'a>(ev: &Eval<'a>, v: Value<'a>) -> String {
    Brief::print(ev, v, true)
}

/// Prints a value as `builtins.trace` shows it in Nix 2.26: as [`brief`], without forcing,
/// but whole (no limits) and with attributes in plain name order.
pub fn for_trace<'a>(ev: &Eval<'a>, v: Value<'a>) -> String {
    Brief::print(ev, v, false)
}

struct Brief<'e, 'a> {
    ev: &'e Eval<'a>,
    out: Vec<u8>,
    /// Attributes printed so far.
    attrs: usize,
    /// List items printed so far.
    items: usize,
    seen: HashSet<usize>,
    /// Whether Nix's limits for values in errors apply (depth, attributes, items, string
    /// length; `type` first), or none do (`trace`).
    limited: bool,
}

impl<'e, 'a> Brief<'e, 'a> {
    const MAX_DEPTH: usize = 10;

    fn print(ev: &'e Eval<'a>, v: Value<'a>, limited: bool) -> String {
        let mut p = Brief {
            ev,
            out: Vec::new(),
            attrs: 0,
            items: 0,
            seen: HashSet::new(),
            limited,
        };
        p.value(v, 0);
        String::from_utf8_lossy(&p.out).into_owned()
    }

    const MAX_ATTRS: usize = 10;
    const MAX_ITEMS: usize = 10;
    const MAX_STRING: usize = 1024;

    fn elided(&mut self, n: usize, one: &str, many: &str) {
        let what = if n == 1 { one } else { many };
        self.out
            .extend_from_slice(format!("«{n} {what} elided»").as_bytes());
    }

    fn value(&mut self, v: Value<'a>, depth: usize) {
        let ev = self.ev;
        match v {
            Value::Thunk(t) => match t.state.get() {
                crate::value::ThunkState::Done(v) => self.value(v, depth),
                // Being evaluated right now: printing it reached it again.
                crate::value::ThunkState::Blackhole => self
                    .out
                    .extend_from_slice("«potential infinite recursion»".as_bytes()),
                _ => self.out.extend_from_slice("«thunk»".as_bytes()),
            },
            Value::Lambda(c) => {
                self.out.extend_from_slice("«lambda".as_bytes());
                if let Some(n) = c.lambda.name {
                    self.out.push(b' ');
                    self.out.extend_from_slice(ev.interner.resolve(n));
                }
                if (c.lambda.span.file.0 as usize) < ev.sources.len() {
                    self.out.extend_from_slice(b" @ ");
                    self.out
                        .extend_from_slice(ev.sources.location(c.lambda.span).as_bytes());
                }
                self.out.extend_from_slice("»".as_bytes());
            }
            Value::PrimOp(op) => self
                .out
                .extend_from_slice(format!("«primop {}»", op.name).as_bytes()),
            Value::PrimOpApp(app) => self.out.extend_from_slice(
                format!("«partially applied primop {}»", app.op.name).as_bytes(),
            ),
            Value::Attrs(a) => {
                if !self.seen.insert(a as *const _ as usize) {
                    self.out.extend_from_slice("«repeated»".as_bytes());
                    return;
                }
                if self.limited && depth >= Self::MAX_DEPTH {
                    self.out.extend_from_slice(b"{ ... }");
                    return;
                }
                let mut sorted = sorted_attrs(ev, a);
                if self.limited {
                    sorted.sort_by_key(|(name, _)| {
                        !matches!(ev.interner.resolve(*name), b"type" | b"_type")
                    });
                }
                self.out.push(b'{');
                for (i, (name, value)) in sorted.iter().enumerate() {
                    self.out.push(b' ');
                    if self.limited && self.attrs >= Self::MAX_ATTRS {
                        self.elided(sorted.len() - i, "attribute", "attributes");
                        break;
                    }
                    print_attr_name(ev.interner.resolve(*name), &mut self.out);
                    self.out.extend_from_slice(b" = ");
                    self.value(*value, depth + 1);
                    self.out.push(b';');
                    self.attrs += 1;
                }
                self.out.extend_from_slice(b" }");
            }
            Value::List(l) => {
                if !l.elems.is_empty() && !self.seen.insert(l as *const _ as usize) {
                    self.out.extend_from_slice("«repeated»".as_bytes());
                    return;
                }
                if self.limited && depth >= Self::MAX_DEPTH {
                    self.out.extend_from_slice(b"[ ... ]");
                    return;
                }
                self.out.push(b'[');
                for (i, e) in l.elems.iter().enumerate() {
                    self.out.push(b' ');
                    if self.limited && self.items >= Self::MAX_ITEMS {
                        self.elided(l.elems.len() - i, "item", "items");
                        break;
                    }
                    self.value(*e, depth + 1);
                    self.items += 1;
                }
                self.out.extend_from_slice(b" ]");
            }
            Value::Null => self.out.extend_from_slice(b"null"),
            Value::Bool(b) => self
                .out
                .extend_from_slice(if b { b"true" } else { b"false" }),
            Value::Int(n) => self.out.extend_from_slice(n.to_string().as_bytes()),
            Value::Float(f) => self.out.extend_from_slice(format_float(f).as_bytes()),
            Value::String(s) if self.limited && s.bytes.len() > Self::MAX_STRING => {
                let mut quoted = Vec::new();
                escape_string(&s.bytes[..Self::MAX_STRING], &mut quoted);
                quoted.pop();
                self.out.extend_from_slice(&quoted);
                self.out.extend_from_slice(b"\" ");
                self.elided(s.bytes.len() - Self::MAX_STRING, "byte", "bytes");
            }
            Value::String(s) => escape_string(s.bytes, &mut self.out),
            Value::Path(p) => self.out.extend_from_slice(p.bytes),
        }
    }
}

/// The source text of a span.
pub fn snippet(sources: &SourceMap, span: Span) -> String {
    if span.file.0 as usize >= sources.len() {
        return String::new();
    }
    let text = sources.text(span.file);
    let end = (span.end as usize).min(text.len());
    let start = (span.start as usize).min(end);
    String::from_utf8_lossy(&text[start..end]).into_owned()
}

/// Names in `attrs` close to `name` (for "Did you mean …?").
pub fn suggestions<'a>(ev: &Eval<'a>, attrs: &Attrs<'a>, name: Symbol) -> Vec<String> {
    suggest_among(ev, attrs.entries.iter().map(|a| a.name), name)
}

/// Names among `names` close to `name` (for "Did you mean …?"), closest first.
pub fn suggest_among(
    ev: &Eval<'_>,
    names: impl Iterator<Item = Symbol>,
    name: Symbol,
) -> Vec<String> {
    let want = ev.interner.resolve(name);
    let mut close: Vec<(usize, String)> = names
        .filter_map(|n| {
            let have = ev.interner.resolve(n);
            let d = levenshtein(want, have);
            (d <= 2).then(|| (d, String::from_utf8_lossy(have).into_owned()))
        })
        .collect();
    close.sort();
    close.into_iter().take(3).map(|(_, s)| s).collect()
}

fn levenshtein(a: &[u8], b: &[u8]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Joins "Did you mean …?" suggestions as Nix words them: `a`, or `one of a, b or c`.
pub fn join_suggestions(s: &[String]) -> String {
    match s {
        [one] => one.clone(),
        [init @ .., last] => format!("one of {} or {last}", init.join(", ")),
        [] => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::format_float;

    #[test]
    fn floats_print_like_cpp() {
        // Expected values printed by Nix 2.26 for the same floats.
        let cases = [
            (1.0, "1"),
            (2.5, "2.5"),
            (1e10, "1e+10"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (123456789.0, "1.23457e+08"),
            (1e20, "1e+20"),
            (1.5e16, "1.5e+16"),
            (100000.0, "100000"),
            (1000000.0, "1e+06"),
            (0.1 + 0.2, "0.3"),
            (0.0001, "0.0001"),
            (3e-7, "3e-07"),
            (1.0 / 3.0, "0.333333"),
        ];
        for (f, s) in cases {
            assert_eq!(format_float(f), s, "{f}");
        }
    }
}
