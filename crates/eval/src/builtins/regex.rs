//! Regular expressions: `match` and `split`.
//!
//! Nix matches with C++'s `std::regex` in its POSIX extended flavour (libstdc++). Kiln
//! translates that syntax to `regex-automata`'s and keeps Nix's observable rules:
//!
//! * **Bytes.** Nix strings are bytes and `std::regex` works on `char`, so `.` matches one
//!   byte (not a UTF-8 character, and also a newline), and `[[:alpha:]]` and the other classes
//!   are ASCII (the C locale).
//! * **Syntax.** Groups are all capturing; `*`, `+`, `?` and `{n}`, `{n,}`, `{n,m}` repeat, and
//!   repeat a repetition (`a+?` is `(a+)?`, not lazy); `\` escapes only the special characters
//!   `.[\()*+?{|^$` (`\]`, `\}`, `\d`, `\w`, `\1` are errors); in a bracket expression `\` is literal,
//!   `]` first is literal, and `[:class:]`, `[.c.]`, `[=c=]` are understood. Anything
//!   `std::regex` refuses is the error `invalid regular expression 'PATTERN'`.
//! * **Leftmost-longest.** Among the matches starting at the leftmost position, `std::regex`
//!   (POSIX mode) takes the longest, so `split "a|ab" "abc"` splits off `ab`. Kiln finds the
//!   leftmost start, then the longest end with a lazy DFA in `MatchKind::All` mode. Capture
//!   groups are those of the first path, in the pattern's order of preference, that spans
//!   exactly that match, which is what libstdc++'s depth-first search reports
//!   (`match "(a|ab)(.*)" "abc"` is `[ "a" "bc" ]`), not POSIX's subexpression rule.
//! * **No context.** The strings `split` and `match` return have none, as in Nix.
//! * **Empty matches** in `split` follow `std::regex_iterator`: after an empty match the next
//!   one must be non-empty at the same place or start further on.
//!
//! * **Empty last iterations.** libstdc++ lets a group that can match empty run once more,
//!   empty, at the end of an unbounded repetition (`*`, `+`, `{n,}`), so such a group reports
//!   `""` (`match "(a*)*" "aa"` is `[ "" ]`, where POSIX says `[ "aa" ]`), while groups nested
//!   in it keep their last values (`match "((a)*)*" "aa"` is `[ "" "a" ]`). Kiln marks those
//!   groups when translating and empties them after a match.
//!
//! Compiled patterns are cached per evaluation in [`RegexCache`], a field of `Eval`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use regex_automata::hybrid::dfa::{Cache as DfaCache, DFA};
use regex_automata::meta::Regex;
use regex_automata::nfa::thompson;
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, MatchKind};

use super::ArgResult;
use crate::eval::{Eval, EvalResult};
use crate::eval_error::EvalError;
use crate::span::Span;
use crate::value::{PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "match",
        match_,
        [
            "regex" => "first argument passed to builtins.match",
            "str" => "second argument passed to builtins.match",
        ],
        "The capture groups of the extended regular expression `regex` when it matches all of `str`, or `null`.",
    ),
    prim!(
        "split",
        split,
        [
            "regex" => "first argument passed to builtins.split",
            "str" => "second argument passed to builtins.split",
        ],
        "`str` split at the matches of `regex`: the pieces between them, with a list of each match's groups in between.",
    ),
];

/// The compiled regular expressions of one evaluation, by pattern.
#[derive(Default)]
pub(crate) struct RegexCache {
    compiled: HashMap<Vec<u8>, Rc<Compiled>>,
}

/// One pattern, compiled for the searches `match` and `split` make.
struct Compiled {
    /// The pattern, unanchored: finds the leftmost start.
    find: Regex,
    /// The pattern followed by an end-of-text assertion: captures of a match whose end is known
    /// (searched in the text cut at that end).
    exact: Regex,
    /// As `exact`, with the pattern's own `$` unable to match: for a cut text whose end is not
    /// the real end. `None` when the pattern has no `$`.
    exact_cut: Option<Regex>,
    /// The pattern in `MatchKind::All` mode: the longest match from a given start.
    longest: DFA,
    longest_cache: RefCell<DfaCache>,
    /// See [`Translated::emptied`].
    emptied: Vec<usize>,
}

/// A translated pattern.
struct Translated {
    /// `regex-automata` syntax.
    pattern: String,
    /// Whether the pattern has a `$` anchor.
    has_dollar: bool,
    /// Groups (numbered from 1) that end their repetition with an empty iteration.
    emptied: Vec<usize>,
}

/// Translates POSIX extended syntax, with `$` made unmatchable when `cut` is set.
struct Translator<'p> {
    pat: &'p [u8],
    pos: usize,
    has_dollar: bool,
    cut: bool,
    /// Groups opened so far.
    groups: usize,
    /// The group number and translated contents of the atom just read, if it was a group.
    last_group: Option<(usize, String)>,
    /// See [`Translated::emptied`].
    emptied: Vec<usize>,
}

/// A pattern `std::regex` refuses.
struct Invalid;

/// The deepest nesting of groups accepted (deeper patterns are refused, not a stack overflow).
const MAX_GROUP_DEPTH: usize = 1000;

/// The longest repetition count accepted (`regex-automata` refuses larger ones anyway).
const MAX_REPEAT: u32 = 1000;

impl Translator<'_> {
    fn peek(&self) -> Option<u8> {
        self.pat.get(self.pos).copied()
    }

    fn alternation(&mut self, depth: usize) -> Result<String, Invalid> {
        let mut out = String::new();
        loop {
            out.push_str(&self.branch(depth)?);
            if self.peek() == Some(b'|') {
                self.pos += 1;
                out.push('|');
                continue;
            }
            return Ok(out);
        }
    }

    fn branch(&mut self, depth: usize) -> Result<String, Invalid> {
        let mut out = String::new();
        loop {
            match self.peek() {
                None | Some(b'|') => return Ok(out),
                Some(b')') if depth > 0 => return Ok(out),
                Some(b')') => return Err(Invalid),
                _ => out.push_str(&self.piece(depth)?),
            }
        }
    }

    fn piece(&mut self, depth: usize) -> Result<String, Invalid> {
        self.last_group = None;
        let mut atom = self.atom(depth)?;
        let group = self.last_group.take();
        let mut first = true;
        loop {
            let quantifier = match self.peek() {
                Some(c @ (b'*' | b'+' | b'?')) => {
                    self.pos += 1;
                    (c as char).to_string()
                }
                Some(b'{') => {
                    self.pos += 1;
                    self.bound()?
                }
                _ => return Ok(atom),
            };
            let unbounded = quantifier == "*" || quantifier == "+" || quantifier.ends_with(",}");
            if let (true, true, Some((n, inner))) = (first, unbounded, &group) {
                if matches_empty(inner) {
                    self.emptied.push(*n);
                }
            }
            first = false;
            atom = format!("(?:{atom}){quantifier}");
        }
    }

    /// `{n}`, `{n,}`, `{n,m}` after the `{`.
    fn bound(&mut self) -> Result<String, Invalid> {
        let min = self.number()?.ok_or(Invalid)?;
        let max = if self.peek() == Some(b',') {
            self.pos += 1;
            self.number()?
        } else {
            Some(min)
        };
        if self.peek() != Some(b'}') {
            return Err(Invalid);
        }
        self.pos += 1;
        match max {
            Some(max) if max < min => Err(Invalid),
            Some(max) if max == min => Ok(format!("{{{min}}}")),
            Some(max) => Ok(format!("{{{min},{max}}}")),
            None => Ok(format!("{{{min},}}")),
        }
    }

    fn number(&mut self) -> Result<Option<u32>, Invalid> {
        let start = self.pos;
        let mut n: u32 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u32::from(c - b'0')))
                .filter(|n| *n <= MAX_REPEAT)
                .ok_or(Invalid)?;
            self.pos += 1;
        }
        Ok((self.pos > start).then_some(n))
    }

    fn atom(&mut self, depth: usize) -> Result<String, Invalid> {
        let c = self.peek().ok_or(Invalid)?;
        self.pos += 1;
        match c {
            b'(' => {
                if depth >= MAX_GROUP_DEPTH {
                    return Err(Invalid);
                }
                self.groups += 1;
                let n = self.groups;
                let inner = self.alternation(depth + 1)?;
                if self.peek() != Some(b')') {
                    return Err(Invalid);
                }
                self.pos += 1;
                let res = format!("({inner})");
                self.last_group = Some((n, inner));
                Ok(res)
            }
            b'*' | b'+' | b'?' | b'{' => Err(Invalid),
            b'.' => Ok("(?s:.)".to_owned()),
            b'^' => Ok("^".to_owned()),
            b'$' => {
                self.has_dollar = true;
                Ok(if self.cut { NEVER } else { "$" }.to_owned())
            }
            b'[' => self.bracket(),
            b'\\' => match self.peek() {
                Some(
                    e @ (b'.' | b'[' | b'\\' | b'(' | b')' | b'*' | b'+' | b'?' | b'{' | b'|'
                    | b'^' | b'$'),
                ) => {
                    self.pos += 1;
                    Ok(literal(e))
                }
                _ => Err(Invalid),
            },
            _ => Ok(literal(c)),
        }
    }

    /// A bracket expression after the `[`.
    fn bracket(&mut self) -> Result<String, Invalid> {
        let mut out = String::from("[");
        if self.peek() == Some(b'^') {
            self.pos += 1;
            out.push('^');
        }
        let mut first = true;
        loop {
            let c = self.peek().ok_or(Invalid)?;
            if c == b']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            let lo = match self.bracket_element()? {
                Element::Class(name) => {
                    out.push_str(&format!("[:{name}:]"));
                    continue;
                }
                Element::Byte(b) => b,
            };
            let is_range =
                self.peek() == Some(b'-') && self.pat.get(self.pos + 1).is_some_and(|c| *c != b']');
            if is_range {
                self.pos += 1;
                let Element::Byte(hi) = self.bracket_element()? else {
                    return Err(Invalid);
                };
                if hi < lo {
                    return Err(Invalid);
                }
                out.push_str(&format!("\\x{{{lo:02X}}}-\\x{{{hi:02X}}}"));
            } else {
                out.push_str(&format!("\\x{{{lo:02X}}}"));
            }
        }
        out.push(']');
        Ok(out)
    }

    fn bracket_element(&mut self) -> Result<Element, Invalid> {
        let c = self.peek().ok_or(Invalid)?;
        self.pos += 1;
        let kind = match (c, self.peek()) {
            (b'[', Some(k @ (b':' | b'.' | b'='))) => k,
            _ => return Ok(Element::Byte(c)),
        };
        self.pos += 1;
        let start = self.pos;
        let end = (start..self.pat.len().saturating_sub(1))
            .find(|&i| self.pat[i] == kind && self.pat[i + 1] == b']')
            .ok_or(Invalid)?;
        self.pos = end + 2;
        let name = &self.pat[start..end];
        if kind == b':' {
            let class = match name {
                b"alpha" => "alpha",
                b"digit" | b"d" => "digit",
                b"alnum" => "alnum",
                b"upper" => "upper",
                b"lower" => "lower",
                b"space" | b"s" => "space",
                b"blank" => "blank",
                b"punct" => "punct",
                b"print" => "print",
                b"graph" => "graph",
                b"cntrl" => "cntrl",
                b"xdigit" => "xdigit",
                b"w" => "word",
                _ => return Err(Invalid),
            };
            return Ok(Element::Class(class));
        }
        match name {
            [b] => Ok(Element::Byte(*b)),
            _ => Err(Invalid),
        }
    }
}

/// What a bracket expression lists.
enum Element {
    Byte(u8),
    Class(&'static str),
}

/// An assertion that never holds (a boundary that is and is not a word boundary).
const NEVER: &str = r"(?:\b\B)";

fn literal(b: u8) -> String {
    format!("\\x{{{b:02X}}}")
}

fn translate(pat: &[u8], cut: bool) -> Result<Translated, Invalid> {
    let mut t = Translator {
        pat,
        pos: 0,
        has_dollar: false,
        cut,
        groups: 0,
        last_group: None,
        emptied: Vec::new(),
    };
    let pattern = t.alternation(0)?;
    if t.pos != pat.len() {
        return Err(Invalid);
    }
    Ok(Translated {
        pattern,
        has_dollar: t.has_dollar,
        emptied: t.emptied,
    })
}

/// Whether the translated pattern `inner` can match the empty string.
fn matches_empty(inner: &str) -> bool {
    build_meta(&format!("\\A(?:{inner})\\z")).is_ok_and(|re| re.is_match(""))
}

fn syntax_config() -> syntax::Config {
    // Room for MAX_GROUP_DEPTH groups, each possibly wrapped by a repetition.
    syntax::Config::new()
        .unicode(false)
        .utf8(false)
        .nest_limit(4 * MAX_GROUP_DEPTH as u32)
}

fn build_meta(pattern: &str) -> Result<Regex, Invalid> {
    Regex::builder()
        .syntax(syntax_config())
        .configure(Regex::config().utf8_empty(false))
        .build(pattern)
        .map_err(|_| Invalid)
}

fn compile(pat: &[u8]) -> Result<Compiled, Invalid> {
    let plain = translate(pat, false)?;
    let find = build_meta(&plain.pattern)?;
    let exact = build_meta(&format!("(?:{})\\z", plain.pattern))?;
    let exact_cut = if plain.has_dollar {
        let cut = translate(pat, true)?;
        Some(build_meta(&format!("(?:{})\\z", cut.pattern))?)
    } else {
        None
    };
    let longest = DFA::builder()
        .configure(DFA::config().match_kind(MatchKind::All))
        .syntax(syntax_config())
        .thompson(thompson::Config::new().utf8(false))
        .build(&plain.pattern)
        .map_err(|_| Invalid)?;
    let longest_cache = RefCell::new(longest.create_cache());
    Ok(Compiled {
        find,
        exact,
        exact_cut,
        longest,
        longest_cache,
        emptied: plain.emptied,
    })
}

/// The compiled form of `pat`, from the cache or compiled now.
fn compiled(ev: &mut Eval<'_>, pat: &[u8], span: Span) -> EvalResult<Rc<Compiled>> {
    if let Some(c) = ev.regex_cache.compiled.get(pat) {
        return Ok(c.clone());
    }
    let c = Rc::new(compile(pat).map_err(|Invalid| {
        EvalError::msg(
            format!(
                "invalid regular expression '{}'",
                String::from_utf8_lossy(pat)
            ),
            span,
        )
    })?);
    ev.regex_cache.compiled.insert(pat.to_vec(), c.clone());
    Ok(c)
}

/// A match: where it is and its groups (`None` for a group that took no part).
struct Found {
    start: usize,
    end: usize,
    groups: Vec<Option<(usize, usize)>>,
}

impl Compiled {
    /// The end of the longest match starting exactly at `start`, if any.
    fn longest_end(&self, hay: &[u8], start: usize, span: Span) -> EvalResult<Option<usize>> {
        let input = Input::new(hay).range(start..).anchored(Anchored::Yes);
        let mut cache = self.longest_cache.borrow_mut();
        match self.longest.try_search_fwd(&mut cache, &input) {
            Ok(m) => Ok(m.map(|m| m.offset())),
            Err(e) => Err(EvalError::msg(
                format!("regular expression search failed: {e}"),
                span,
            )),
        }
    }

    /// The groups of the preferred match spanning exactly `start..end`.
    fn groups(&self, hay: &[u8], start: usize, end: usize) -> Option<Vec<Option<(usize, usize)>>> {
        let re = match &self.exact_cut {
            Some(cut) if end < hay.len() => cut,
            _ => &self.exact,
        };
        let input = Input::new(&hay[..end])
            .range(start..end)
            .anchored(Anchored::Yes);
        let mut caps: Captures = re.create_captures();
        re.search_captures(&input, &mut caps);
        if !caps.is_match() {
            return None;
        }
        Some(
            (1..caps.group_len())
                .map(|i| {
                    caps.get_group(i).map(|s| match self.emptied.contains(&i) {
                        true => (s.end, s.end),
                        false => (s.start, s.end),
                    })
                })
                .collect(),
        )
    }

    /// The leftmost-longest match starting at `from` or later; with `non_empty_at`, first a
    /// non-empty match starting exactly there is looked for (`std::regex_iterator` after an
    /// empty match).
    fn next_match(
        &self,
        hay: &[u8],
        from: usize,
        non_empty_here: bool,
        span: Span,
    ) -> EvalResult<Option<Found>> {
        let mut from = from;
        if non_empty_here {
            if let Some(end) = self.longest_end(hay, from, span)? {
                if end > from {
                    return Ok(self.found(hay, from, end));
                }
            }
            from += 1;
            if from > hay.len() {
                return Ok(None);
            }
        }
        let Some(m) = self.find.search(&Input::new(hay).range(from..)) else {
            return Ok(None);
        };
        let start = m.start();
        let end = self.longest_end(hay, start, span)?.unwrap_or(m.end());
        Ok(self.found(hay, start, end))
    }

    fn found(&self, hay: &[u8], start: usize, end: usize) -> Option<Found> {
        self.groups(hay, start, end)
            .map(|groups| Found { start, end, groups })
    }
}

fn groups_value<'a>(ev: &mut Eval<'a>, hay: &[u8], groups: &[Option<(usize, usize)>]) -> Value<'a> {
    let elems = groups
        .iter()
        .map(|g| match g {
            Some((s, e)) => ev.new_str(&hay[*s..*e]),
            None => Value::Null,
        })
        .collect();
    ev.new_list(elems)
}

fn match_<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let pat = super::string(ev, args[0], span).in_arg(0)?;
    let re = compiled(ev, pat.bytes, span)?;
    let s = super::string(ev, args[1], span).in_arg(1)?;
    match re.groups(s.bytes, 0, s.bytes.len()) {
        Some(groups) => Ok(groups_value(ev, s.bytes, &groups)),
        None => Ok(Value::Null),
    }
}

fn split<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let pat = super::string(ev, args[0], span).in_arg(0)?;
    let re = compiled(ev, pat.bytes, span)?;
    let s = super::string(ev, args[1], span).in_arg(1)?;
    let hay = s.bytes;
    let mut out = Vec::new();
    let mut last_end = 0;
    let mut from = 0;
    let mut after_empty = false;
    while from <= hay.len() {
        let Some(m) = re.next_match(hay, from, after_empty, span)? else {
            break;
        };
        out.push(ev.new_str(&hay[last_end..m.start]));
        out.push(groups_value(ev, hay, &m.groups));
        last_end = m.end;
        from = m.end;
        after_empty = m.start == m.end;
        if after_empty && m.end == hay.len() {
            break;
        }
    }
    out.push(ev.new_str(&hay[last_end..]));
    Ok(ev.new_list(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(pat: &str) -> String {
        match translate(pat.as_bytes(), false) {
            Ok(t) => t.pattern,
            Err(Invalid) => panic!("{pat} refused"),
        }
    }

    #[test]
    fn refuses_what_std_regex_refuses() {
        for pat in [
            "(",
            "a)",
            "\\]",
            "\\}",
            "*a",
            "a|*",
            "{",
            "a{,2}",
            "a{3,2}",
            "\\d",
            "\\w",
            "\\1",
            "\\",
            "[a",
            "[b-a]",
            "[[:foo:]]",
        ] {
            assert!(translate(pat.as_bytes(), false).is_err(), "{pat}");
        }
    }

    #[test]
    fn translates_repetition_of_repetition() {
        assert_eq!(ok("a+?"), r"(?:(?:\x{61})+)?");
        assert_eq!(ok("[]a-]"), r"[\x{5D}\x{61}\x{2D}]");
    }
}
