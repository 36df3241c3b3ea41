//! Versions: `compareVersions`, `splitVersion`, `parseDrvName`.
//!
//! A version is split into components at `.` and `-`, and between a run of digits and a run
//! of other characters (`1.2pre3` is `1`, `2`, `pre`, `3`; `_` is not a separator). Two
//! components compare as Nix's `componentsLT` does: numbers (that fit in 64 bits) by value; an
//! empty (missing) component before a number; `pre` before anything else; a number after a
//! non-number (`2.3a` < `2.3.1`); other strings by bytes.

use std::cmp::Ordering;

use super::ArgResult;
use crate::eval::{Eval, EvalResult};
use crate::span::Span;
use crate::value::{Attr, PosIdx, PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "compareVersions",
        compare_versions,
        [
            "s1" => "first argument passed to builtins.compareVersions",
            "s2" => "second argument passed to builtins.compareVersions",
        ],
        "Compares the version strings `s1` and `s2` component by component: -1, 0 or 1.",
    ),
    prim!(
        "splitVersion",
        split_version,
        [
            "s" => "first argument passed to builtins.splitVersion",
        ],
        "The components of the version string `s`, as `compareVersions` sees them.",
    ),
    prim!(
        "parseDrvName",
        parse_drv_name,
        [
            "s" => "first argument passed to builtins.parseDrvName",
        ],
        "Splits a package name such as `nix-2.26.0` into `name` (`nix`) and `version` (`2.26.0`), at the first dash not followed by a letter.",
    ),
];

fn is_separator(b: u8) -> bool {
    b == b'.' || b == b'-'
}

/// The next component of `s` from `*pos`, advancing `*pos`; empty at the end.
fn next_component<'s>(s: &'s [u8], pos: &mut usize) -> &'s [u8] {
    while *pos < s.len() && is_separator(s[*pos]) {
        *pos += 1;
    }
    let start = *pos;
    if *pos < s.len() && s[*pos].is_ascii_digit() {
        while *pos < s.len() && s[*pos].is_ascii_digit() {
            *pos += 1;
        }
    } else {
        while *pos < s.len() && !s[*pos].is_ascii_digit() && !is_separator(s[*pos]) {
            *pos += 1;
        }
    }
    &s[start..*pos]
}

fn as_number(c: &[u8]) -> Option<u64> {
    if c.is_empty() || !c.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(c).ok()?.parse().ok()
}

/// Nix's `componentsLT`.
fn component_less(c1: &[u8], c2: &[u8]) -> bool {
    let (n1, n2) = (as_number(c1), as_number(c2));
    match (n1, n2) {
        (Some(a), Some(b)) => a < b,
        _ if c1.is_empty() && n2.is_some() => true,
        _ if c1 == b"pre" && c2 != b"pre" => true,
        _ if c2 == b"pre" => false,
        (_, Some(_)) => true,
        (Some(_), _) => false,
        _ => c1 < c2,
    }
}

/// Compares two versions as `builtins.compareVersions` does.
pub(crate) fn compare(v1: &[u8], v2: &[u8]) -> Ordering {
    let (mut p1, mut p2) = (0, 0);
    while p1 < v1.len() || p2 < v2.len() {
        let c1 = next_component(v1, &mut p1);
        let c2 = next_component(v2, &mut p2);
        if component_less(c1, c2) {
            return Ordering::Less;
        }
        if component_less(c2, c1) {
            return Ordering::Greater;
        }
    }
    Ordering::Equal
}

fn compare_versions<'a>(
    ev: &mut Eval<'a>,
    args: &[Value<'a>],
    span: Span,
) -> EvalResult<Value<'a>> {
    let v1 = super::string_no_ctx(ev, args[0], span).in_arg(0)?;
    let v2 = super::string_no_ctx(ev, args[1], span).in_arg(1)?;
    Ok(Value::Int(match compare(v1.bytes, v2.bytes) {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }))
}

fn split_version<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let s = super::string_no_ctx(ev, args[0], span).in_arg(0)?.bytes;
    let mut pos = 0;
    let mut parts = Vec::new();
    while pos < s.len() {
        let c = next_component(s, &mut pos);
        if c.is_empty() {
            break;
        }
        parts.push(ev.new_str(c));
    }
    Ok(ev.new_list(parts))
}

fn parse_drv_name<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let s = super::string_no_ctx(ev, args[0], span).in_arg(0)?.bytes;
    // The name ends at the first dash followed by something other than a letter.
    let split =
        (0..s.len().saturating_sub(1)).find(|&i| s[i] == b'-' && !s[i + 1].is_ascii_alphabetic());
    let (name, version) = match split {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &b""[..]),
    };
    let version_sym = ev.sym(b"version");
    let attrs = vec![
        Attr {
            name: ev.syms.name,
            pos: PosIdx::NONE,
            value: ev.new_str(name),
        },
        Attr {
            name: version_sym,
            pos: PosIdx::NONE,
            value: ev.new_str(version),
        },
    ];
    Ok(ev.new_attrs(attrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_like_nix() {
        assert_eq!(compare(b"1.0", b"1.0pre1"), Ordering::Greater);
        assert_eq!(compare(b"2.3a", b"2.3.1"), Ordering::Less);
        assert_eq!(compare(b"01", b"1"), Ordering::Equal);
    }
}
