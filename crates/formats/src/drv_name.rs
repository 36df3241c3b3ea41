//! Package names and versions as Nix reads them: `DrvName` (`parseDrvName`) and
//! `compareVersions` (the Nix manual, `builtins.parseDrvName` and `builtins.compareVersions`).
//!
//! A full name splits into name and version at the first `-` followed by something other than
//! a letter (`foo-bar-1.0-rc1` is `foo-bar` and `1.0-rc1`). A version splits into components
//! at `.` and `-`, and between a run of digits and a run of other characters (`1.2pre3` is
//! `1`, `2`, `pre`, `3`; `_` is not a separator). Two components compare as Nix's
//! `componentsLT` does: numbers (that fit in 64 bits) by value; an empty (missing) component
//! before a number; `pre` before anything else; a number after a non-number (`2.3a` <
//! `2.3.1`); other strings by bytes.

use std::cmp::Ordering;

/// Splits a package name into name and version (Nix's `DrvName`); the version is empty when
/// there is none.
pub fn parse(full: &str) -> (&str, &str) {
    match split_at(full.as_bytes()) {
        Some(i) => (&full[..i], &full[i + 1..]),
        None => (full, ""),
    }
}

/// [`parse`] for a name that may not be UTF-8 (a Nix string).
pub fn parse_bytes(full: &[u8]) -> (&[u8], &[u8]) {
    match split_at(full) {
        Some(i) => (&full[..i], &full[i + 1..]),
        None => (full, b""),
    }
}

/// Where the name ends: the first dash followed by something other than a letter.
fn split_at(b: &[u8]) -> Option<usize> {
    (0..b.len().saturating_sub(1)).find(|&i| b[i] == b'-' && !b[i + 1].is_ascii_alphabetic())
}

/// Whether `selector` (`name`, `name-version` or `*`) selects the package `full`, as
/// `nix-env`'s selectors do.
pub fn matches(selector: &str, full: &str) -> bool {
    if selector == "*" || selector == full {
        return true;
    }
    let (sn, sv) = parse(selector);
    let (n, v) = parse(full);
    sn == n && (sv.is_empty() || sv == v)
}

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

/// The components of a version, as `builtins.splitVersion` returns them.
pub fn split_version(v: &[u8]) -> Vec<&[u8]> {
    let mut pos = 0;
    let mut res = Vec::new();
    while pos < v.len() {
        let c = next_component(v, &mut pos);
        if c.is_empty() {
            break;
        }
        res.push(c);
    }
    res
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
pub fn compare_versions(v1: impl AsRef<[u8]>, v2: impl AsRef<[u8]>) -> Ordering {
    let (v1, v2) = (v1.as_ref(), v2.as_ref());
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn names_split_like_nix() {
        assert_eq!(parse("hello-2.10"), ("hello", "2.10"));
        assert_eq!(parse("foo-bar-1.0-rc1"), ("foo-bar", "1.0-rc1"));
        assert_eq!(parse("plain"), ("plain", ""));
        assert_eq!(parse("trailing-"), ("trailing-", ""));
        assert_eq!(parse_bytes(b"a-\xff"), (&b"a"[..], &b"\xff"[..]));
        assert!(matches("hello", "hello-2.10"));
        assert!(matches("hello-2.10", "hello-2.10"));
        assert!(!matches("hello-2.11", "hello-2.10"));
        assert!(!matches("hell", "hello-2.10"));
        assert!(matches("*", "x-1"));
    }

    #[test]
    fn versions_compare_like_nix() {
        assert_eq!(compare_versions("1.0", "2.0"), Less);
        assert_eq!(compare_versions("2.10", "2.9"), Greater);
        assert_eq!(compare_versions("1.0", "1.0"), Equal);
        assert_eq!(compare_versions("1.0pre1", "1.0"), Less);
        assert_eq!(compare_versions("1.0", "1.0.1"), Less);
        assert_eq!(compare_versions("1.0a", "1.0"), Greater);
        assert_eq!(compare_versions("2.3a", "2.3.1"), Less);
        assert_eq!(compare_versions("01", "1"), Equal);
        assert_eq!(compare_versions("1.0", "1.0pre1"), Greater);
        assert_eq!(compare_versions("01", "1"), Equal);
    }

    #[test]
    fn versions_split_like_nix() {
        assert_eq!(
            split_version(b"1.2pre3-x_y"),
            [&b"1"[..], b"2", b"pre", b"3", b"x_y"]
        );
        assert!(split_version(b"").is_empty());
    }
}
