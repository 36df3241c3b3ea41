//! The lexer: bytes to tokens, following the rules and start conditions of Nix's flex lexer.
//!
//! Nix's lexer changes state only on its own tokens (`{`, `${`, `}`, `"`, `''`, paths), never on
//! the parser's request, so the whole file is lexed up front and the parser may look ahead freely.
//! In the default state the longest match wins and, between equally long matches, the rule Nix
//! lists first (keywords before identifiers, identifiers before paths and URIs).

use crate::error::{SyntaxError, SyntaxErrorKind};
use crate::intern::{Interner, Symbol};
use crate::span::{FileId, Span};

/// A token kind and its value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Id(Symbol),
    Int(i64),
    Float(f64),
    /// A piece of a `"..."` string (unescaped) or of an interpolated path.
    Str(Vec<u8>),
    /// A piece of an indented string; `true` when it is literal text subject to indentation
    /// stripping, `false` for escapes (`''$`, `'''`, `''\x`) and lone `$`/`'`.
    IndStr(Vec<u8>, bool),
    Path(Vec<u8>),
    HPath(Vec<u8>),
    SPath(Vec<u8>),
    PathEnd,
    Uri(Vec<u8>),
    If,
    Then,
    Else,
    Assert,
    With,
    Let,
    In,
    Rec,
    Inherit,
    OrKw,
    Ellipsis,
    Eq,
    Neq,
    Leq,
    Geq,
    And,
    Or,
    Impl,
    Update,
    Concat,
    PipeInto,
    PipeFrom,
    DollarCurly,
    Quote,
    IndOpen,
    IndClose,
    /// Any other single byte.
    Char(u8),
    Eof,
}

impl Tok {
    /// The name Nix's bison parser uses for this token in "unexpected ..." messages: Nix
    /// 2.26's, except `IN` (2.26 leaks its internal `IN_KW`; Nix 2.8 and the manual say `IN`).
    pub(crate) fn name(&self) -> String {
        match self {
            Tok::Id(_) => "ID".into(),
            Tok::Int(_) => "INT_LIT".into(),
            Tok::Float(_) => "FLOAT_LIT".into(),
            Tok::Str(_) => "STR".into(),
            Tok::IndStr(..) => "IND_STR".into(),
            Tok::Path(_) => "PATH".into(),
            Tok::HPath(_) => "HPATH".into(),
            Tok::SPath(_) => "SPATH".into(),
            Tok::PathEnd => "PATH_END".into(),
            Tok::Uri(_) => "URI".into(),
            Tok::If => "IF".into(),
            Tok::Then => "THEN".into(),
            Tok::Else => "ELSE".into(),
            Tok::Assert => "ASSERT".into(),
            Tok::With => "WITH".into(),
            Tok::Let => "LET".into(),
            Tok::In => "IN".into(),
            Tok::Rec => "REC".into(),
            Tok::Inherit => "INHERIT".into(),
            Tok::OrKw => "OR_KW".into(),
            Tok::Ellipsis => "ELLIPSIS".into(),
            Tok::Eq => "EQ".into(),
            Tok::Neq => "NEQ".into(),
            Tok::Leq => "LEQ".into(),
            Tok::Geq => "GEQ".into(),
            Tok::And => "AND".into(),
            Tok::Or => "OR".into(),
            Tok::Impl => "IMPL".into(),
            Tok::Update => "UPDATE".into(),
            Tok::Concat => "CONCAT".into(),
            Tok::PipeInto => "PIPE_INTO".into(),
            Tok::PipeFrom => "PIPE_FROM".into(),
            Tok::DollarCurly => "DOLLAR_CURLY".into(),
            Tok::Quote => "'\"'".into(),
            Tok::IndOpen => "IND_STRING_OPEN".into(),
            Tok::IndClose => "IND_STRING_CLOSE".into(),
            Tok::Char(c) if GRAMMAR_CHARS.contains(c) => format!("'{}'", *c as char),
            Tok::Char(_) => "invalid token".into(),
            Tok::Eof => "end of file".into(),
        }
    }
}

/// The single-character tokens Nix's grammar uses; any other byte is an "invalid token".
const GRAMMAR_CHARS: &[u8] = b":@;{}()[].=,?!-+*/<>";

/// A token and where it is.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: u32,
    pub end: u32,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum State {
    /// The bottom of the stack: a `}` here does not pop.
    Initial,
    Default,
    Str,
    IndStr,
    InPath,
    InPathSlash,
}

fn is_path_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'+')
}

fn is_id_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_id_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'\'' | b'-')
}

fn is_uri_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"%/?:@&=+$,-_.!~*'".contains(&c)
}

/// Lexes `src` completely. The last token is always `Eof`.
pub(crate) fn lex(
    file: FileId,
    src: &[u8],
    interner: &mut Interner,
    errors: &mut Vec<SyntaxError>,
    pipe_operators: bool,
) -> Vec<Token> {
    let mut lx = Lexer {
        file,
        pipe_operators,
        src,
        pos: 0,
        stack: vec![State::Initial],
        tokens: Vec::with_capacity(src.len() / 4),
        interner,
        errors,
        path_start: 0,
        path_run: (0, 0),
        scheme_run: (0, 0),
        no_comment_end_from: usize::MAX,
    };
    lx.run();
    lx.tokens
}

struct Lexer<'a, 'i> {
    file: FileId,
    /// Whether `|>` and `<|` are allowed (else they are an error).
    pipe_operators: bool,
    src: &'a [u8],
    pos: usize,
    stack: Vec<State>,
    tokens: Vec<Token>,
    interner: &'i mut Interner,
    errors: &'i mut Vec<SyntaxError>,
    /// Where the last piece of the path being lexed started (for the trailing-slash error).
    path_start: usize,
    /// Runs of path and URI-scheme characters already measured, as `start..end`: a rule
    /// tried at every byte of a long run (`------x`) must not rescan it each time.
    path_run: (usize, usize),
    scheme_run: (usize, usize),
    /// A `/*` at or after this offset has no end (found by an earlier failed scan).
    no_comment_end_from: usize,
}

// Match-length helpers: each returns how many bytes of `s` (from its start) the flex rule
// matches, 0 for no match.

fn match_id(s: &[u8]) -> usize {
    if s.first().is_some_and(|&c| is_id_start(c)) {
        1 + s[1..].iter().take_while(|&&c| is_id_char(c)).count()
    } else {
        0
    }
}

fn count_digits(s: &[u8]) -> usize {
    s.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// `(([1-9][0-9]*\.[0-9]*)|(0?\.[0-9]+))([Ee][+-]?[0-9]+)?`
fn match_float(s: &[u8]) -> usize {
    let mut i;
    match s.first() {
        Some(b'1'..=b'9') => {
            i = count_digits(s);
            if s.get(i) != Some(&b'.') {
                return 0;
            }
            i += 1;
            i += count_digits(&s[i..]);
        }
        Some(b'0') | Some(b'.') => {
            i = usize::from(s[0] == b'0');
            if s.get(i) != Some(&b'.') {
                return 0;
            }
            let d = count_digits(&s[i + 1..]);
            if d == 0 {
                return 0;
            }
            i += 1 + d;
        }
        _ => return 0,
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let d = count_digits(&s[j..]);
        if d > 0 {
            i = j + d;
        }
    }
    i
}

/// `(\/{PATH_CHAR}+)+`, the repeated-segment tail of a path; returns its length.
fn match_segments(s: &[u8]) -> usize {
    let mut i = 0;
    while s.get(i) == Some(&b'/') {
        let n = s[i + 1..].iter().take_while(|&&c| is_path_char(c)).count();
        if n == 0 {
            break;
        }
        i += 1 + n;
    }
    i
}

/// `{PATH_CHAR}*(\/{PATH_CHAR}+)+\/?`, given the length `p` of the leading path characters.
fn match_path(s: &[u8], p: usize) -> usize {
    let segs = match_segments(&s[p..]);
    if segs == 0 {
        return 0;
    }
    let i = p + segs;
    i + usize::from(s.get(i) == Some(&b'/'))
}

/// `{PATH_CHAR}*\/`, given the length `p` of the leading path characters.
fn match_path_seg(s: &[u8], p: usize) -> usize {
    if s.get(p) == Some(&b'/') {
        p + 1
    } else {
        0
    }
}

/// `\~(\/{PATH_CHAR}+)+\/?`
fn match_hpath(s: &[u8]) -> usize {
    if s.first() != Some(&b'~') {
        return 0;
    }
    let segs = match_segments(&s[1..]);
    if segs == 0 {
        return 0;
    }
    let i = 1 + segs;
    i + usize::from(s.get(i) == Some(&b'/'))
}

/// `\<{PATH_CHAR}+(\/{PATH_CHAR}+)*\>`
fn match_spath(s: &[u8]) -> usize {
    if s.first() != Some(&b'<') {
        return 0;
    }
    let n = s[1..].iter().take_while(|&&c| is_path_char(c)).count();
    if n == 0 {
        return 0;
    }
    let i = 1 + n + match_segments(&s[1 + n..]);
    if s.get(i) == Some(&b'>') {
        i + 1
    } else {
        0
    }
}

fn is_scheme_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')
}

/// `[a-zA-Z][a-zA-Z0-9\+\-\.]*\:[URI chars]+`, given the length `scheme` of the leading
/// scheme characters.
fn match_uri(s: &[u8], scheme: usize) -> usize {
    if !s.first().is_some_and(|c| c.is_ascii_alphabetic()) {
        return 0;
    }
    if s.get(scheme) != Some(&b':') {
        return 0;
    }
    let rest = s[scheme + 1..]
        .iter()
        .take_while(|&&c| is_uri_char(c))
        .count();
    if rest == 0 {
        0
    } else {
        scheme + 1 + rest
    }
}

/// `\/\*([^*]|\*+[^*/])*\*+\/`
fn match_block_comment(s: &[u8]) -> usize {
    if !s.starts_with(b"/*") {
        return 0;
    }
    let mut i = 2;
    loop {
        match s.get(i) {
            None => return 0,
            Some(b'*') => {
                while s.get(i) == Some(&b'*') {
                    i += 1;
                }
                match s.get(i) {
                    None => return 0,
                    Some(b'/') => return i + 1,
                    Some(_) => i += 1,
                }
            }
            Some(_) => i += 1,
        }
    }
}

/// Nix's `unescapeStr`: `\n`, `\r`, `\t` and `\X` → X; a raw CR or CR LF becomes LF.
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c == b'\\' && i < s.len() {
            let e = s[i];
            i += 1;
            out.push(match e {
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                e => e,
            });
        } else if c == b'\r' {
            out.push(b'\n');
            if s.get(i) == Some(&b'\n') {
                i += 1;
            }
        } else {
            out.push(c);
        }
    }
    out
}

const KEYWORDS: &[(&[u8], Tok)] = &[
    (b"if", Tok::If),
    (b"then", Tok::Then),
    (b"else", Tok::Else),
    (b"assert", Tok::Assert),
    (b"with", Tok::With),
    (b"let", Tok::Let),
    (b"in", Tok::In),
    (b"rec", Tok::Rec),
    (b"inherit", Tok::Inherit),
    (b"or", Tok::OrKw),
];

const OPERATORS: &[(&[u8], Tok)] = &[
    (b"...", Tok::Ellipsis),
    (b"==", Tok::Eq),
    (b"!=", Tok::Neq),
    (b"<=", Tok::Leq),
    (b">=", Tok::Geq),
    (b"&&", Tok::And),
    (b"||", Tok::Or),
    (b"->", Tok::Impl),
    (b"//", Tok::Update),
    (b"++", Tok::Concat),
    (b"|>", Tok::PipeInto),
    (b"<|", Tok::PipeFrom),
];

/// The default-state rules that can compete for the longest match, in Nix's rule order.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Rule {
    Keyword,
    Operator,
    Id,
    Int,
    Float,
    IndOpen,
    PathStart,
    HPathStart,
    Path,
    HPath,
    SPath,
    Uri,
    Comment,
}

/// The length of the run of `class` characters at `pos`, reusing `cache` when `pos` is
/// inside the run it measured.
fn run_len(src: &[u8], pos: usize, cache: &mut (usize, usize), class: fn(u8) -> bool) -> usize {
    if !(cache.0 <= pos && pos < cache.1) {
        let len = src[pos..].iter().take_while(|&&c| class(c)).count();
        *cache = (pos, pos + len);
    }
    cache.1 - pos
}

impl Lexer<'_, '_> {
    fn state(&self) -> State {
        *self.stack.last().unwrap()
    }

    fn push_tok(&mut self, tok: Tok, start: usize, end: usize) {
        self.tokens.push(Token {
            tok,
            start: start as u32,
            end: end as u32,
        });
    }

    fn error(&mut self, kind: SyntaxErrorKind, start: usize, end: usize) {
        self.errors.push(SyntaxError {
            span: Span::new(self.file, start as u32, end as u32),
            kind,
        });
    }

    fn check_null(&mut self, s: &[u8], start: usize, end: usize) {
        if s.contains(&0) {
            let shown = String::from_utf8_lossy(s).replace('\0', "␀");
            self.error(SyntaxErrorKind::NullByte(shown), start, end);
        }
    }

    fn run(&mut self) {
        loop {
            let done = match self.state() {
                State::Initial | State::Default => self.lex_default(),
                State::Str => self.lex_string(),
                State::IndStr => self.lex_ind_string(),
                State::InPath | State::InPathSlash => self.lex_in_path(),
            };
            if done {
                // The end of the file inside a string is reported where the string's last
                // piece (its text, else the quote or `}` before it) starts, as Nix 2.8 reports
                // it (Nix 2.26 says the end of the file, far from the string left open).
                let end = self.src.len();
                let at = match self.state() {
                    State::Str | State::IndStr => match self.tokens.last() {
                        // Text the lexer left (a lone `\` at the end) is the last piece.
                        Some(t) if (t.end as usize) < end => t.end as usize,
                        Some(t) => t.start as usize,
                        None => end,
                    },
                    _ => end,
                };
                self.push_tok(Tok::Eof, at, at);
                return;
            }
        }
    }

    /// Lexes one token (or skips blanks) in the default state; true at end of input.
    fn lex_default(&mut self) -> bool {
        let start = self.pos;
        let s = &self.src[start..];
        let Some(&c) = s.first() else {
            return true;
        };
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            self.pos += s
                .iter()
                .take_while(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
                .count();
            return false;
        }
        if c == b'#' {
            self.pos += s.iter().take_while(|&&c| c != b'\r' && c != b'\n').count();
            return false;
        }
        // Fixed tokens that no longer rule can beat.
        let fixed = match c {
            b'$' if s.get(1) == Some(&b'{') => Some((Tok::DollarCurly, 2)),
            b'{' => Some((Tok::Char(b'{'), 1)),
            b'}' => Some((Tok::Char(b'}'), 1)),
            b'"' => Some((Tok::Quote, 1)),
            _ => None,
        };
        if let Some((tok, len)) = fixed {
            match c {
                b'$' | b'{' => self.stack.push(State::Default),
                b'"' => self.stack.push(State::Str),
                _ => {
                    if self.state() != State::Initial {
                        self.stack.pop();
                    }
                }
            }
            self.pos += len;
            self.push_tok(tok, start, start + len);
            return false;
        }

        // Single characters that start no longer token. A `.` may start `...`, a float
        // (`.5`) or a path (`./a`, `.a/b`), all seen by the byte after it or by a `/` after
        // the run of path characters.
        if matches!(
            c,
            b';' | b'(' | b')' | b'[' | b']' | b',' | b'@' | b'?' | b':'
        ) || (c == b'=' && s.get(1) != Some(&b'='))
            || (c == b'.'
                && !matches!(s.get(1), Some(b'.' | b'/' | b'0'..=b'9'))
                && s.get(run_len(self.src, start, &mut self.path_run, is_path_char)) != Some(&b'/'))
        {
            self.pos += 1;
            self.push_tok(Tok::Char(c), start, start + 1);
            return false;
        }

        let path_run = run_len(self.src, start, &mut self.path_run, is_path_char);
        let scheme_run = run_len(self.src, start, &mut self.scheme_run, is_scheme_char);
        let s = &self.src[start..];
        // An identifier or keyword, unless a path (`a/b`, `a/${`) or a URI (`a:b`) could match
        // longer: both need a `/` right after the run of path characters or a `:` right
        // after the run of scheme characters. A keyword wins over an identifier of its length.
        if is_id_start(c) && s.get(path_run) != Some(&b'/') && s.get(scheme_run) != Some(&b':') {
            let len = match_id(s);
            let text = &s[..len];
            let tok = match KEYWORDS.iter().find(|(k, _)| *k == text) {
                Some((_, kw)) => kw.clone(),
                None => Tok::Id(self.interner.intern(text)),
            };
            self.pos = start + len;
            self.push_tok(tok, start, start + len);
            return false;
        }
        // Longest match among the competing rules; the first listed wins a tie.
        let mut best = (0, Rule::Comment);
        let mut consider = |len: usize, rule: Rule| {
            if len > best.0 {
                best = (len, rule);
            }
        };
        let kw_len = KEYWORDS
            .iter()
            .filter(|(k, _)| s.starts_with(k))
            .map(|(k, _)| k.len())
            .max()
            .unwrap_or(0);
        consider(kw_len, Rule::Keyword);
        let op_len = OPERATORS
            .iter()
            .find(|(k, _)| s.starts_with(k))
            .map_or(0, |(k, _)| k.len());
        consider(op_len, Rule::Operator);
        consider(match_id(s), Rule::Id);
        consider(count_digits(s), Rule::Int);
        consider(match_float(s), Rule::Float);
        if s.starts_with(b"''") {
            let spaces = s[2..].iter().take_while(|&&c| c == b' ').count();
            let len = if s.get(2 + spaces) == Some(&b'\n') {
                3 + spaces
            } else {
                2
            };
            consider(len, Rule::IndOpen);
        }
        let seg = match_path_seg(s, path_run);
        if seg > 0 && s[seg..].starts_with(b"${") {
            consider(seg + 2, Rule::PathStart);
        }
        if s.starts_with(b"~/${") {
            consider(4, Rule::HPathStart);
        }
        consider(match_path(s, path_run), Rule::Path);
        consider(match_hpath(s), Rule::HPath);
        consider(match_spath(s), Rule::SPath);
        consider(match_uri(s, scheme_run), Rule::Uri);
        if s.starts_with(b"/*") && start < self.no_comment_end_from {
            let len = match_block_comment(s);
            if len == 0 {
                self.no_comment_end_from = start;
            }
            consider(len, Rule::Comment);
        }

        let (len, rule) = best;
        if len == 0 {
            self.pos += 1;
            self.push_tok(Tok::Char(c), start, start + 1);
            return false;
        }
        let text = &s[..len];
        let end = start + len;
        self.pos = end;
        let tok = match rule {
            Rule::Keyword => KEYWORDS.iter().find(|(k, _)| *k == text).unwrap().1.clone(),
            Rule::Operator => {
                let tok = OPERATORS
                    .iter()
                    .find(|(k, _)| *k == text)
                    .unwrap()
                    .1
                    .clone();
                if matches!(tok, Tok::PipeInto | Tok::PipeFrom) && !self.pipe_operators {
                    self.error(SyntaxErrorKind::PipeOperators, start, end);
                }
                tok
            }
            Rule::Id => Tok::Id(self.interner.intern(text)),
            Rule::Int => {
                let digits = std::str::from_utf8(text).unwrap();
                match digits.parse::<i64>() {
                    Ok(n) => Tok::Int(n),
                    Err(_) => {
                        self.error(SyntaxErrorKind::InvalidInteger(digits.into()), start, end);
                        Tok::Int(0)
                    }
                }
            }
            Rule::Float => {
                let digits = std::str::from_utf8(text).unwrap();
                let f: f64 = digits.parse().unwrap_or(f64::INFINITY);
                // Nix uses strtod, which reports overflow, underflow to zero and subnormal
                // results alike as a range error.
                let mantissa = digits.split(['e', 'E']).next().unwrap_or("");
                let nonzero = mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c));
                if f.is_infinite() || f.is_subnormal() || (f == 0.0 && nonzero) {
                    self.error(SyntaxErrorKind::InvalidFloat(digits.into()), start, end);
                }
                Tok::Float(f)
            }
            Rule::IndOpen => {
                self.stack.push(State::IndStr);
                Tok::IndOpen
            }
            Rule::PathStart | Rule::HPathStart => {
                // Only the part before `${`; it ends with `/`.
                let len = len - 2;
                self.pos = start + len;
                self.path_start = start;
                self.stack.push(State::InPathSlash);
                let text = s[..len].to_vec();
                let tok = if rule == Rule::PathStart {
                    Tok::Path(text)
                } else {
                    Tok::HPath(text)
                };
                self.push_tok(tok, start, start + len);
                return false;
            }
            Rule::Path | Rule::HPath => {
                self.path_start = start;
                self.stack.push(if text.ends_with(b"/") {
                    State::InPathSlash
                } else {
                    State::InPath
                });
                if rule == Rule::Path {
                    Tok::Path(text.to_vec())
                } else {
                    Tok::HPath(text.to_vec())
                }
            }
            Rule::SPath => Tok::SPath(text.to_vec()),
            Rule::Uri => Tok::Uri(text.to_vec()),
            Rule::Comment => return false,
        };
        self.push_tok(tok, start, end);
        false
    }

    /// Lexes inside `"..."`; true at end of input.
    fn lex_string(&mut self) -> bool {
        let start = self.pos;
        let s = &self.src[start..];
        match s {
            [] => return true,
            [b'$', b'{', ..] => {
                self.stack.push(State::Default);
                self.pos += 2;
                self.push_tok(Tok::DollarCurly, start, start + 2);
                return false;
            }
            [b'"', ..] => {
                self.stack.pop();
                self.pos += 1;
                self.push_tok(Tok::Quote, start, start + 1);
                return false;
            }
            _ => {}
        }
        // `([^$"\\]|\$[^{"\\]|\\ANY|\$\\ANY)+`, or the same followed by a `$` right before `"`.
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'"' => break,
                b'\\' => {
                    if i + 1 < s.len() {
                        i += 2;
                    } else {
                        break;
                    }
                }
                b'$' => match s.get(i + 1) {
                    None | Some(b'{') => break,
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        if i + 2 < s.len() {
                            i += 3;
                        } else {
                            break;
                        }
                    }
                    Some(_) => i += 2,
                },
                _ => i += 1,
            }
        }
        if i == 0 {
            // A lone `$`, `\` or `$\` at the end of input: Nix reports the end of file.
            return true;
        }
        let value = unescape(&s[..i]);
        self.check_null(&value, start, start + i);
        self.pos += i;
        self.push_tok(Tok::Str(value), start, start + i);
        false
    }

    /// Lexes inside `''...''`; true at end of input.
    fn lex_ind_string(&mut self) -> bool {
        let start = self.pos;
        let s = &self.src[start..];
        let (tok, len) = match s {
            [] => return true,
            [b'$', b'{', ..] => {
                self.stack.push(State::Default);
                (Tok::DollarCurly, 2)
            }
            [b'\'', b'\'', b'$', ..] => (Tok::IndStr(b"$".to_vec(), false), 3),
            [b'\'', b'\'', b'\'', ..] => (Tok::IndStr(b"''".to_vec(), false), 3),
            [b'\'', b'\'', b'\\', _, ..] => (Tok::IndStr(unescape(&s[2..4]), false), 4),
            [b'\'', b'\'', ..] => {
                self.stack.pop();
                (Tok::IndClose, 2)
            }
            [b'\'', b'$', ..] | [b'\''] => (Tok::IndStr(b"'".to_vec(), false), 1),
            [b'$', b'\'', ..] | [b'$'] => (Tok::IndStr(b"$".to_vec(), false), 1),
            _ => {
                // `([^$']|\$[^{']|'[^'$])+`
                let mut i = 0;
                while i < s.len() {
                    match s[i] {
                        b'$' => match s.get(i + 1) {
                            None | Some(b'{' | b'\'') => break,
                            Some(_) => i += 2,
                        },
                        b'\'' => match s.get(i + 1) {
                            None | Some(b'\'' | b'$') => break,
                            Some(_) => i += 2,
                        },
                        _ => i += 1,
                    }
                }
                let text = s[..i].to_vec();
                self.check_null(&text, start, start + i);
                (Tok::IndStr(text, true), i)
            }
        };
        self.pos += len;
        self.push_tok(tok, start, start + len);
        false
    }

    /// Lexes right after a path piece: more path, `${`, or the end of the path.
    fn lex_in_path(&mut self) -> bool {
        let start = self.pos;
        let s = &self.src[start..];
        if s.starts_with(b"${") {
            self.stack.pop();
            self.stack.push(State::InPath);
            self.stack.push(State::Default);
            self.pos += 2;
            self.push_tok(Tok::DollarCurly, start, start + 2);
            return false;
        }
        let chars = s.iter().take_while(|&&c| is_path_char(c)).count();
        let len = match_path(s, chars)
            .max(match_path_seg(s, chars))
            .max(chars);
        let was_slash = self.state() == State::InPathSlash;
        self.stack.pop();
        if len > 0 {
            self.path_start = start;
            let text = &s[..len];
            self.stack.push(if text.ends_with(b"/") {
                State::InPathSlash
            } else {
                State::InPath
            });
            self.pos += len;
            self.push_tok(Tok::Str(text.to_vec()), start, start + len);
        } else {
            if was_slash {
                // Nix reports it where the path ends, at what follows; at the end of the
                // input, at the last segment.
                if start < self.src.len() {
                    self.error(SyntaxErrorKind::TrailingSlash, start, start);
                } else {
                    self.error(SyntaxErrorKind::TrailingSlash, self.path_start, start);
                }
            }
            self.push_tok(Tok::PathEnd, start, start);
        }
        false
    }
}
