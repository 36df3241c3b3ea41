//! Data formats: `fromJSON`, `fromTOML`, `toXML`.
//!
//! * `fromJSON` is a JSON parser written to behave as Nix's (nlohmann/json plus Nix's
//!   conversion): integers that fit 64 bits signed are integers, larger positive ones up to
//!   2^64 − 1 are an error, anything larger (or more negative) becomes a float; a float that
//!   overflows is an error; strings must be valid UTF-8 and may not contain NUL; later
//!   duplicate keys win. Syntax errors carry nlohmann's message, line, column and "last read"
//!   token, since users see them. Known difference: nesting deeper than 10,000 levels is an
//!   error (the parser recurses), where Nix's is limited only by memory.
//! * `fromTOML` uses the `toml` crate (TOML 1.0); see [`from_toml`] for the mapping.
//! * `toXML` prints Nix's XML form of a value; see [`to_xml`]. Values nested deeper than
//!   20,000 levels are a stack-overflow error.

use std::fmt::Write as _;

use super::{string, ArgResult};
use crate::eval::{Eval, EvalResult};
use crate::eval_error::{ErrorKind, EvalError};
use crate::span::Span;
use crate::value::{Attr, PosIdx, PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "fromJSON",
        from_json,
        [
            "e" => "first argument passed to builtins.fromJSON",
        ],
        "The Nix value of the JSON text `e`.",
    ),
    prim!(
        "fromTOML",
        from_toml,
        [
            "e" => "argument passed to builtins.fromTOML",
        ],
        "The Nix value of the TOML document `e`.",
    ),
    prim!(
        "toXML",
        to_xml,
        ["e",],
        "The XML text of the value `e`, in the format of `nix-instantiate --eval --xml`.",
    ),
];

// ----- toXML -----

/// `toXML`: the value, forced deeply, in Nix's XML form, byte for byte: an `<expr>` root,
/// two spaces of indentation per level, sets as `<attrs>` of `<attr name=…>` sorted by
/// name, derivations as `<derivation drvPath=… outPath=…>` (their attributes only the first
/// time a `drvPath` is met, `<repeated />` after that or when it has none), functions as
/// `<function>` with `<varpat name=…>` or `<attrspat>` listing the formals by name, builtins
/// as `<unevaluated />`. Only `"`, `<`, `>`, `&` and newline are escaped. The result has the
/// context of every string in the value.
fn to_xml<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], _: Span) -> EvalResult<Value<'a>> {
    let mut w = XmlWriter::new(false, true);
    w.open(0, "expr", &[]);
    w.value(ev, args[0], 1)?;
    w.close(0, "expr");
    let mut context = w.context;
    context.sort();
    context.dedup();
    Ok(ev.new_string(&w.out, &context))
}

/// The deepest nesting `toXML` writes (deeper values are an error, not a stack overflow).
const MAX_XML_DEPTH: usize = 20_000;

struct XmlWriter<'a> {
    out: Vec<u8>,
    context: Vec<crate::value::ContextElem<'a>>,
    drvs_seen: std::collections::HashSet<Vec<u8>>,
    /// Give attributes and functions `column`, `line` and `path` (`nix-instantiate --xml`).
    locations: bool,
    /// Force what is printed (`toXML`); otherwise unforced values are `<unevaluated />`.
    force: bool,
}

/// `nix-instantiate --eval --xml`: the value in Nix's XML form, with source locations on
/// attributes and functions if `locations` (not under `--no-location`); values not yet
/// evaluated print as `<unevaluated />` (force them first for `--strict`).
pub fn xml_document<'a>(ev: &mut Eval<'a>, v: Value<'a>, locations: bool) -> EvalResult<Vec<u8>> {
    let mut w = XmlWriter::new(locations, false);
    w.open(0, "expr", &[]);
    w.value(ev, v, 1)?;
    w.close(0, "expr");
    Ok(w.out)
}

fn xml_escape(out: &mut Vec<u8>, s: &[u8]) {
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"&quot;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'&' => out.extend_from_slice(b"&amp;"),
            b'\n' => out.extend_from_slice(b"&#xA;"),
            c => out.push(c),
        }
    }
}

impl<'a> XmlWriter<'a> {
    fn new(locations: bool, force: bool) -> Self {
        XmlWriter {
            out: b"<?xml version='1.0' encoding='utf-8'?>\n".to_vec(),
            context: Vec::new(),
            drvs_seen: std::collections::HashSet::new(),
            locations,
            force,
        }
    }

    /// `column`, `line` and `path` of a span, in that (Nix's) order.
    fn location(
        &self,
        ev: &Eval<'a>,
        span: Option<crate::span::Span>,
    ) -> Vec<(&'static str, Vec<u8>)> {
        match span {
            Some(s) if self.locations && ev.sources.contains(s.file) => {
                let lc = ev.sources.line_col(s.file, s.start);
                let mut loc = vec![
                    ("column", lc.col.to_string().into_bytes()),
                    ("line", lc.line.to_string().into_bytes()),
                ];
                // Expressions given as strings (`-E`, stdin) have no path to show.
                let name = ev.sources.name(s.file);
                if !name.starts_with('«') {
                    loc.push(("path", name.as_bytes().to_vec()));
                }
                loc
            }
            _ => Vec::new(),
        }
    }

    fn start(&mut self, depth: usize, name: &str, attrs: &[(&str, Vec<u8>)]) {
        for _ in 0..depth {
            self.out.extend_from_slice(b"  ");
        }
        self.out.push(b'<');
        self.out.extend_from_slice(name.as_bytes());
        for (k, v) in attrs {
            self.out.push(b' ');
            self.out.extend_from_slice(k.as_bytes());
            self.out.extend_from_slice(b"=\"");
            xml_escape(&mut self.out, v);
            self.out.push(b'"');
        }
    }

    fn open(&mut self, depth: usize, name: &str, attrs: &[(&str, Vec<u8>)]) {
        self.start(depth, name, attrs);
        self.out.extend_from_slice(b">\n");
    }

    fn empty(&mut self, depth: usize, name: &str, attrs: &[(&str, Vec<u8>)]) {
        self.start(depth, name, attrs);
        self.out.extend_from_slice(b" />\n");
    }

    fn close(&mut self, depth: usize, name: &str) {
        for _ in 0..depth {
            self.out.extend_from_slice(b"  ");
        }
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b">\n");
    }

    fn attrs(
        &mut self,
        ev: &mut Eval<'a>,
        set: &'a crate::value::Attrs<'a>,
        depth: usize,
    ) -> EvalResult<()> {
        let mut entries: Vec<_> = set.entries.iter().collect();
        entries.sort_by(|x, y| ev.interner.resolve(x.name).cmp(ev.interner.resolve(y.name)));
        for attr in entries {
            let name = ev.interner.resolve(attr.name).to_vec();
            let mut xml_attrs = self.location(ev, ev.pos_span(attr.pos));
            xml_attrs.insert(xml_attrs.len().min(2), ("name", name));
            self.open(depth, "attr", &xml_attrs);
            self.value(ev, attr.value, depth + 1)?;
            self.close(depth, "attr");
        }
        Ok(())
    }

    fn value(&mut self, ev: &mut Eval<'a>, v: Value<'a>, depth: usize) -> EvalResult<()> {
        if depth > MAX_XML_DEPTH {
            return Err(EvalError::new(ErrorKind::NestingTooDeep, None));
        }
        let v = if self.force {
            ev.force(v)?
        } else {
            match v {
                Value::Thunk(t) => match t.state.get() {
                    crate::value::ThunkState::Done(done) => done,
                    _ => v,
                },
                _ => v,
            }
        };
        match v {
            Value::Null => self.empty(depth, "null", &[]),
            Value::Bool(b) => self.empty(depth, "bool", &[("value", b.to_string().into_bytes())]),
            Value::Int(n) => self.empty(depth, "int", &[("value", n.to_string().into_bytes())]),
            Value::Float(f) => self.empty(
                depth,
                "float",
                &[("value", crate::print::format_float(f).into_bytes())],
            ),
            Value::String(s) => {
                self.context.extend_from_slice(s.context);
                self.empty(depth, "string", &[("value", s.bytes.to_vec())]);
            }
            Value::Path(p) => {
                self.empty(depth, "path", &[("value", p.bytes.to_vec())]);
            }
            Value::Attrs(set) => {
                if ev.is_derivation(set)? {
                    return self.derivation(ev, set, depth);
                }
                self.open(depth, "attrs", &[]);
                self.attrs(ev, set, depth + 1)?;
                self.close(depth, "attrs");
            }
            Value::List(l) => {
                self.open(depth, "list", &[]);
                for e in l.elems {
                    self.value(ev, *e, depth + 1)?;
                }
                self.close(depth, "list");
            }
            Value::Lambda(c) => {
                let loc = self.location(ev, Some(c.lambda.span));
                self.open(depth, "function", &loc);
                match &c.lambda.param {
                    crate::ir::ParamIr::Ident(name) => {
                        let name = ev.interner.resolve(*name).to_vec();
                        self.empty(depth + 1, "varpat", &[("name", name)]);
                    }
                    crate::ir::ParamIr::Formals {
                        formals,
                        ellipsis,
                        at,
                    } => {
                        let mut attrs = Vec::new();
                        if *ellipsis {
                            attrs.push(("ellipsis", b"1".to_vec()));
                        }
                        if let Some(at) = at {
                            let name = ev.interner.resolve(*at).to_vec();
                            attrs.push(("name", name));
                        }
                        self.open(depth + 1, "attrspat", &attrs);
                        let mut names: Vec<Vec<u8>> = formals
                            .iter()
                            .map(|f| ev.interner.resolve(f.name).to_vec())
                            .collect();
                        names.sort();
                        for name in names {
                            self.empty(depth + 2, "attr", &[("name", name)]);
                        }
                        self.close(depth + 1, "attrspat");
                    }
                }
                self.close(depth, "function");
            }
            Value::PrimOp(_) | Value::PrimOpApp(_) | Value::Thunk(_) => {
                self.empty(depth, "unevaluated", &[]);
            }
        }
        Ok(())
    }

    fn derivation(
        &mut self,
        ev: &mut Eval<'a>,
        set: &'a crate::value::Attrs<'a>,
        depth: usize,
    ) -> EvalResult<()> {
        let mut attrs = Vec::new();
        let mut drv_path = Vec::new();
        let drv_sym = ev.sym(b"drvPath");
        for (key, sym) in [("drvPath", drv_sym), ("outPath", ev.syms.out_path)] {
            if let Some(a) = set.get(sym) {
                if let Value::String(s) = ev.force(a.value)? {
                    if key == "drvPath" {
                        drv_path = s.bytes.to_vec();
                    }
                    attrs.push((key, s.bytes.to_vec()));
                }
            }
        }
        self.open(depth, "derivation", &attrs);
        if !drv_path.is_empty() && self.drvs_seen.insert(drv_path) {
            self.attrs(ev, set, depth + 1)?;
        } else {
            self.empty(depth + 1, "repeated", &[]);
        }
        self.close(depth, "derivation");
        Ok(())
    }
}

// ----- fromTOML -----

/// `fromTOML`: tables become sets, arrays lists, integers (64-bit) integers, floats floats
/// (`inf` and `nan` included); dates and times are an error, as in current Nix, unless the
/// `parse-toml-timestamps` experimental feature makes them `{ _type = "timestamp"; value =
/// "…"; }`. Known differences: the `toml` crate reads
/// TOML 1.1 where Nix's toml11 reads 1.0 (so a few 1.1 forms, such as newlines in inline
/// tables, are accepted), and syntax errors carry that crate's message, not toml11's.
fn from_toml<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let s = string(ev, args[0], span).arg(0)?;
    let fail = |message: &str| EvalError::msg(format!("while parsing TOML: {message}"), span);
    let text = std::str::from_utf8(s.bytes).map_err(|_| fail("invalid UTF-8"))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        match e.span().and_then(|r| toml_integer_too_large(text, r)) {
            Some(message) => fail(&message),
            None => fail(e.message()),
        }
    })?;
    // Timestamps are printed from their source text, which only the spanned tree keeps.
    let spanned = if ev.settings.has_feature("parse-toml-timestamps") {
        toml::de::DeTable::parse(text).ok()
    } else {
        None
    };
    let spanned = spanned.as_ref().map(|t| (t.get_ref(), text));
    toml_value(
        ev,
        toml::Value::Table(table),
        spanned.map(|(t, text)| (Spanned::Table(t), text)),
    )
    .map_err(|message| fail(&message))
}

/// Nix's (toml11's) report of a decimal integer outside the 64-bit range, when the parser's
/// error at `span` is about one: the message, `--> fromTOML` and the line with a caret after
/// the number.
fn toml_integer_too_large(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let literal = text.get(span.clone())?.trim();
    let start = span.start + text.get(span.clone())?.find(literal)?;
    let digits = literal.strip_prefix(['-', '+']).unwrap_or(literal);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if literal.parse::<i64>().is_ok() {
        return None;
    }
    let end = start + literal.len();
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    let line_no = text[..start].matches('\n').count() + 1;
    let line = &text[line_start..line_end];
    let width = line_no.to_string().len();
    let gutter = " ".repeat(width + 1);
    let caret = " ".repeat(text[line_start..end].chars().count());
    Some(format!(
        "[error] toml::parse_dec_integer: too large integer: current max digits = 2^63\n \
         --> fromTOML\n{gutter} |\n {line_no} | {line}\n{gutter} | {caret}^-- must be < 2^63\n"
    ))
}

/// The spanned form of a TOML value, walked beside the plain one to find timestamps' text.
#[derive(Clone, Copy)]
enum Spanned<'t, 'i> {
    Table(&'t toml::de::DeTable<'i>),
    Value(&'t toml::Spanned<toml::de::DeValue<'i>>),
}

impl<'t, 'i> Spanned<'t, 'i> {
    /// The spanned value of `key` in a table.
    fn key(self, key: &str) -> Option<Self> {
        let table = match self {
            Spanned::Table(t) => t,
            Spanned::Value(v) => v.get_ref().as_table()?,
        };
        table
            .iter()
            .find(|(k, _)| k.get_ref() == key)
            .map(|(_, v)| Spanned::Value(v))
    }

    /// The spanned element `i` of an array.
    fn index(self, i: usize) -> Option<Self> {
        match self {
            Spanned::Value(v) => v.get_ref().as_array()?.get(i).map(Spanned::Value),
            Spanned::Table(_) => None,
        }
    }
}

fn toml_value<'a>(
    ev: &mut Eval<'a>,
    v: toml::Value,
    spanned: Option<(Spanned<'_, '_>, &str)>,
) -> Result<Value<'a>, String> {
    Ok(match v {
        toml::Value::String(s) => {
            if s.contains('\0') {
                return Err(format!("error: {}", nul_error(s.as_bytes())));
            }
            ev.new_str(s.as_bytes())
        }
        toml::Value::Integer(n) => Value::Int(n),
        toml::Value::Float(f) => Value::Float(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => {
            if !ev.settings.has_feature("parse-toml-timestamps") {
                return Err("Dates and times are not supported".to_owned());
            }
            let type_ = ev.sym(b"_type");
            let value = ev.sym(b"value");
            let text = match spanned {
                Some((Spanned::Value(v), src)) => src
                    .get(v.span())
                    .map(toml_timestamp)
                    .unwrap_or_else(|| d.to_string()),
                _ => d.to_string(),
            };
            let attrs = vec![
                Attr {
                    name: type_,
                    pos: PosIdx::NONE,
                    value: ev.new_str(b"timestamp"),
                },
                Attr {
                    name: value,
                    pos: PosIdx::NONE,
                    value: ev.new_str(text.as_bytes()),
                },
            ];
            ev.new_attrs(attrs)
        }
        toml::Value::Array(items) => {
            let mut elems = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let spanned = spanned.and_then(|(s, src)| Some((s.index(i)?, src)));
                elems.push(toml_value(ev, item, spanned)?);
            }
            ev.new_list(elems)
        }
        toml::Value::Table(table) => {
            let mut attrs = Vec::with_capacity(table.len());
            for (k, v) in table {
                if k.contains('\0') {
                    return Err(format!("error: {}", nul_error(k.as_bytes())));
                }
                let spanned = spanned.and_then(|(s, src)| Some((s.key(&k)?, src)));
                let value = toml_value(ev, v, spanned)?;
                attrs.push(Attr {
                    name: ev.sym(k.as_bytes()),
                    pos: PosIdx::NONE,
                    value,
                });
            }
            ev.new_attrs(attrs)
        }
    })
}

/// A TOML date, time or both as Nix 2.26 prints it under `parse-toml-timestamps`: as
/// written, except that a fraction of a second keeps at most 9 digits (nanoseconds) and a
/// zero offset (`+00:00`, `-00:00`) is `Z`.
fn toml_timestamp(source: &str) -> String {
    let mut text = source.trim().to_owned();
    for zero in ["+00:00", "-00:00"] {
        if let Some(rest) = text.strip_suffix(zero) {
            text = format!("{rest}Z");
        }
    }
    if let Some(dot) = text.find('.') {
        let digits = text[dot + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if digits > 9 {
            text.replace_range(dot + 10..dot + 1 + digits, "");
        }
    }
    text
}

// ----- fromJSON -----

fn from_json<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let s = super::string_no_ctx(ev, args[0], span).in_arg(0)?;
    let mut parser = JsonParser {
        ev,
        lexer: Lexer::new(s.bytes),
    };
    parser.document().map_err(|message| {
        // Nix's frame covers its JSON parser's errors, not those of making values.
        let parse_error = message.starts_with("[json.exception");
        let mut e = EvalError::msg(message, span);
        if parse_error {
            e.add_trace("while decoding a JSON string".to_owned(), None, false);
        }
        e
    })
}

/// A JSON token.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Token {
    True,
    False,
    Null,
    String,
    Number,
    BeginArray,
    EndArray,
    BeginObject,
    EndObject,
    NameSeparator,
    ValueSeparator,
    End,
    /// A lexical error, described by `Lexer::error`.
    Error,
}

impl Token {
    /// nlohmann's name for the token in "unexpected …" messages.
    fn name(self) -> &'static str {
        match self {
            Token::True => "true literal",
            Token::False => "false literal",
            Token::Null => "null literal",
            Token::String => "string literal",
            Token::Number => "number literal",
            Token::BeginArray => "'['",
            Token::EndArray => "']'",
            Token::BeginObject => "'{'",
            Token::EndObject => "'}'",
            Token::NameSeparator => "':'",
            Token::ValueSeparator => "','",
            Token::End => "end of input",
            Token::Error => "<parse error>",
        }
    }
}

/// A scanned number.
#[derive(Clone, Copy)]
enum Number {
    Int(i64),
    /// A non-negative integer too large for `i64` that fits `u64`.
    Unsigned(u64),
    Float(f64),
}

/// A lexer that counts positions as nlohmann's does (a read end of input counts as a
/// character; the character that ends a number is given back).
struct Lexer<'s> {
    input: &'s [u8],
    pos: usize,
    /// The last character read (`None` at the end).
    current: Option<u8>,
    unget_pending: bool,
    chars_total: usize,
    line: usize,
    column: usize,
    /// What the current token has read, for "last read" in messages.
    token_text: Vec<u8>,
    /// The value of the last string token.
    string: Vec<u8>,
    number: Number,
    number_text: String,
    error: &'static str,
}

impl<'s> Lexer<'s> {
    fn new(input: &'s [u8]) -> Self {
        Lexer {
            input,
            pos: 0,
            current: None,
            unget_pending: false,
            chars_total: 0,
            line: 0,
            column: 0,
            token_text: Vec::new(),
            string: Vec::new(),
            number: Number::Int(0),
            number_text: String::new(),
            error: "",
        }
    }

    fn get(&mut self) -> Option<u8> {
        self.chars_total += 1;
        self.column += 1;
        if self.unget_pending {
            self.unget_pending = false;
        } else {
            self.current = self.input.get(self.pos).copied();
            if self.current.is_some() {
                self.pos += 1;
            }
        }
        if let Some(c) = self.current {
            self.token_text.push(c);
            if c == b'\n' {
                self.line += 1;
                self.column = 0;
            }
        }
        self.current
    }

    fn unget(&mut self) {
        self.unget_pending = true;
        self.chars_total -= 1;
        if self.column == 0 {
            self.line = self.line.saturating_sub(1);
        } else {
            self.column -= 1;
        }
        if self.current.is_some() {
            self.token_text.pop();
        }
    }

    fn reset(&mut self) {
        self.token_text.clear();
        if let Some(c) = self.current {
            self.token_text.push(c);
        }
    }

    fn fail(&mut self, message: &'static str) -> Token {
        self.error = message;
        Token::Error
    }

    fn scan(&mut self) -> Token {
        let mut c = self.get();
        while matches!(c, Some(b' ' | b'\t' | b'\n' | b'\r')) {
            c = self.get();
        }
        match c {
            None => Token::End,
            Some(b'[') => Token::BeginArray,
            Some(b']') => Token::EndArray,
            Some(b'{') => Token::BeginObject,
            Some(b'}') => Token::EndObject,
            Some(b':') => Token::NameSeparator,
            Some(b',') => Token::ValueSeparator,
            Some(b't') => self.literal(b"true", Token::True),
            Some(b'f') => self.literal(b"false", Token::False),
            Some(b'n') => self.literal(b"null", Token::Null),
            Some(b'"') => {
                self.reset();
                self.scan_string()
            }
            Some(b'-' | b'0'..=b'9') => {
                self.reset();
                self.scan_number()
            }
            Some(_) => self.fail("invalid literal"),
        }
    }

    fn literal(&mut self, word: &[u8], token: Token) -> Token {
        for &expected in &word[1..] {
            if self.get() != Some(expected) {
                return self.fail("invalid literal");
            }
        }
        token
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut n = 0;
        for _ in 0..4 {
            let d = (self.get()? as char).to_digit(16)?;
            n = n * 16 + d;
        }
        Some(n)
    }

    fn scan_string(&mut self) -> Token {
        self.string.clear();
        loop {
            let Some(c) = self.get() else {
                return self.fail("invalid string: missing closing quote");
            };
            match c {
                b'"' => return Token::String,
                b'\\' => {
                    let e = self.get();
                    let byte = match e {
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'/') => b'/',
                        Some(b'b') => 0x08,
                        Some(b'f') => 0x0c,
                        Some(b'n') => b'\n',
                        Some(b'r') => b'\r',
                        Some(b't') => b'\t',
                        Some(b'u') => {
                            let Some(mut cp) = self.hex4() else {
                                return self.fail(
                                    "invalid string: '\\u' must be followed by 4 hex digits",
                                );
                            };
                            if (0xD800..0xDC00).contains(&cp) {
                                let low = if self.get() == Some(b'\\') && self.get() == Some(b'u') {
                                    self.hex4()
                                } else {
                                    None
                                };
                                match low {
                                    Some(low) if (0xDC00..0xE000).contains(&low) => {
                                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                                    }
                                    _ => {
                                        return self.fail(
                                            "invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF",
                                        )
                                    }
                                }
                            } else if (0xDC00..0xE000).contains(&cp) {
                                return self.fail(
                                    "invalid string: surrogate U+DC00..U+DFFF must follow U+D800..U+DBFF",
                                );
                            }
                            let ch = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
                            let mut buf = [0; 4];
                            self.string
                                .extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                        _ => {
                            return self.fail("invalid string: forbidden character after backslash")
                        }
                    };
                    self.string.push(byte);
                }
                0x00..=0x1f => {
                    return self.fail(CONTROL_MESSAGES[c as usize]);
                }
                0x80.. => {
                    // A whole UTF-8 sequence, checked.
                    let len = match c {
                        0xC2..=0xDF => 2,
                        0xE0..=0xEF => 3,
                        0xF0..=0xF4 => 4,
                        _ => return self.fail("invalid string: ill-formed UTF-8 byte"),
                    };
                    let mut seq = vec![c];
                    for _ in 1..len {
                        match self.get() {
                            Some(b) => seq.push(b),
                            None => return self.fail("invalid string: ill-formed UTF-8 byte"),
                        }
                    }
                    if std::str::from_utf8(&seq).is_err() {
                        return self.fail("invalid string: ill-formed UTF-8 byte");
                    }
                    self.string.extend_from_slice(&seq);
                }
                _ => self.string.push(c),
            }
        }
    }

    fn digits(&mut self) -> Option<u8> {
        loop {
            match self.get() {
                Some(b'0'..=b'9') => {}
                other => return other,
            }
        }
    }

    fn scan_number(&mut self) -> Token {
        let mut is_float = false;
        let mut c = self.current;
        if c == Some(b'-') {
            c = self.get();
            if !matches!(c, Some(b'0'..=b'9')) {
                return self.fail("invalid number; expected digit after '-'");
            }
        }
        c = if c == Some(b'0') {
            self.get()
        } else {
            self.digits()
        };
        if c == Some(b'.') {
            is_float = true;
            if !matches!(self.get(), Some(b'0'..=b'9')) {
                return self.fail("invalid number; expected digit after '.'");
            }
            c = self.digits();
        }
        if matches!(c, Some(b'e' | b'E')) {
            is_float = true;
            c = self.get();
            if matches!(c, Some(b'+' | b'-')) {
                if !matches!(self.get(), Some(b'0'..=b'9')) {
                    return self.fail("invalid number; expected digit after exponent sign");
                }
            } else if !matches!(c, Some(b'0'..=b'9')) {
                return self.fail("invalid number; expected '+', '-', or digit after exponent");
            }
            self.digits();
        }
        self.unget();
        let text = String::from_utf8_lossy(&self.token_text).into_owned();
        self.number = if is_float {
            Number::Float(text.parse().unwrap_or(f64::INFINITY))
        } else if let Ok(n) = text.parse::<i64>() {
            Number::Int(n)
        } else if let Ok(n) = text.parse::<u64>() {
            Number::Unsigned(n)
        } else {
            Number::Float(text.parse().unwrap_or(f64::INFINITY))
        };
        self.number_text = text;
        Token::Number
    }

    /// The "last read" text, control characters as `<U+XXXX>`.
    fn last_read(&self) -> String {
        let mut out = String::new();
        for chunk in self.token_text.utf8_chunks() {
            for ch in chunk.valid().chars() {
                if (ch as u32) < 0x20 {
                    let _ = write!(out, "<U+{:04X}>", ch as u32);
                } else {
                    out.push(ch);
                }
            }
            for b in chunk.invalid() {
                let _ = write!(out, "<U+{b:04X}>");
            }
        }
        out
    }
}

/// nlohmann's messages for unescaped control characters, by character.
const CONTROL_MESSAGES: [&str; 32] = [
    "invalid string: control character U+0000 (NUL) must be escaped to \\u0000",
    "invalid string: control character U+0001 (SOH) must be escaped to \\u0001",
    "invalid string: control character U+0002 (STX) must be escaped to \\u0002",
    "invalid string: control character U+0003 (ETX) must be escaped to \\u0003",
    "invalid string: control character U+0004 (EOT) must be escaped to \\u0004",
    "invalid string: control character U+0005 (ENQ) must be escaped to \\u0005",
    "invalid string: control character U+0006 (ACK) must be escaped to \\u0006",
    "invalid string: control character U+0007 (BEL) must be escaped to \\u0007",
    "invalid string: control character U+0008 (BS) must be escaped to \\u0008 or \\b",
    "invalid string: control character U+0009 (HT) must be escaped to \\u0009 or \\t",
    "invalid string: control character U+000A (LF) must be escaped to \\u000A or \\n",
    "invalid string: control character U+000B (VT) must be escaped to \\u000B",
    "invalid string: control character U+000C (FF) must be escaped to \\u000C or \\f",
    "invalid string: control character U+000D (CR) must be escaped to \\u000D or \\r",
    "invalid string: control character U+000E (SO) must be escaped to \\u000E",
    "invalid string: control character U+000F (SI) must be escaped to \\u000F",
    "invalid string: control character U+0010 (DLE) must be escaped to \\u0010",
    "invalid string: control character U+0011 (DC1) must be escaped to \\u0011",
    "invalid string: control character U+0012 (DC2) must be escaped to \\u0012",
    "invalid string: control character U+0013 (DC3) must be escaped to \\u0013",
    "invalid string: control character U+0014 (DC4) must be escaped to \\u0014",
    "invalid string: control character U+0015 (NAK) must be escaped to \\u0015",
    "invalid string: control character U+0016 (SYN) must be escaped to \\u0016",
    "invalid string: control character U+0017 (ETB) must be escaped to \\u0017",
    "invalid string: control character U+0018 (CAN) must be escaped to \\u0018",
    "invalid string: control character U+0019 (EM) must be escaped to \\u0019",
    "invalid string: control character U+001A (SUB) must be escaped to \\u001A",
    "invalid string: control character U+001B (ESC) must be escaped to \\u001B",
    "invalid string: control character U+001C (FS) must be escaped to \\u001C",
    "invalid string: control character U+001D (GS) must be escaped to \\u001D",
    "invalid string: control character U+001E (RS) must be escaped to \\u001E",
    "invalid string: control character U+001F (US) must be escaped to \\u001F",
];

/// The deepest nesting `fromJSON` accepts (deeper input is an error, not a stack overflow).
const MAX_JSON_DEPTH: usize = 10_000;

struct JsonParser<'e, 'a, 's> {
    ev: &'e mut Eval<'a>,
    lexer: Lexer<'s>,
}

impl<'a> JsonParser<'_, 'a, '_> {
    fn document(&mut self) -> Result<Value<'a>, String> {
        if self.lexer.input.is_empty() {
            return Err("[json.exception.parse_error.101] parse error at line 1, column 1: attempting to parse an empty input; check that your input string or stream contains the expected JSON".to_owned());
        }
        let token = self.lexer.scan();
        let v = self.value(token, 0)?;
        let token = self.lexer.scan();
        if token != Token::End {
            return Err(self.syntax_error(token, "value", Some("end of input")));
        }
        Ok(v)
    }

    fn syntax_error(&self, token: Token, context: &str, expected: Option<&str>) -> String {
        let mut message = format!(
            "[json.exception.parse_error.101] parse error at line {}, column {}: syntax error while parsing {context} - ",
            self.lexer.line + 1,
            self.lexer.column
        );
        if token == Token::Error {
            let _ = write!(
                message,
                "{}; last read: '{}'",
                self.lexer.error,
                self.lexer.last_read()
            );
        } else {
            let _ = write!(message, "unexpected {}", token.name());
        }
        if let Some(expected) = expected {
            let _ = write!(message, "; expected {expected}");
        }
        message
    }

    fn value(&mut self, token: Token, depth: usize) -> Result<Value<'a>, String> {
        if depth > MAX_JSON_DEPTH {
            return Err(format!(
                "JSON nested more than {MAX_JSON_DEPTH} levels deep"
            ));
        }
        Ok(match token {
            Token::Null => Value::Null,
            Token::True => Value::Bool(true),
            Token::False => Value::Bool(false),
            Token::Number => match self.lexer.number {
                Number::Int(n) => Value::Int(n),
                Number::Unsigned(n) => {
                    return Err(format!(
                        "unsigned json number {n} outside of Nix integer range"
                    ))
                }
                Number::Float(f) if f.is_infinite() => {
                    return Err(format!(
                        "[json.exception.out_of_range.406] number overflow parsing '{}'",
                        self.lexer.number_text
                    ))
                }
                Number::Float(f) => Value::Float(f),
            },
            Token::String => self.string_value(&self.lexer.string.clone())?,
            Token::BeginArray => {
                let mut elems = Vec::new();
                let mut token = self.lexer.scan();
                if token != Token::EndArray {
                    loop {
                        elems.push(self.value(token, depth + 1)?);
                        match self.lexer.scan() {
                            Token::ValueSeparator => token = self.lexer.scan(),
                            Token::EndArray => break,
                            other => return Err(self.syntax_error(other, "array", Some("']'"))),
                        }
                    }
                }
                self.ev.new_list(elems)
            }
            Token::BeginObject => {
                let mut attrs: Vec<Attr<'a>> = Vec::new();
                let mut token = self.lexer.scan();
                if token != Token::EndObject {
                    loop {
                        if token != Token::String {
                            return Err(self.syntax_error(
                                token,
                                "object key",
                                Some("string literal"),
                            ));
                        }
                        let key = self.lexer.string.clone();
                        let sep = self.lexer.scan();
                        if sep != Token::NameSeparator {
                            return Err(self.syntax_error(sep, "object separator", Some("':'")));
                        }
                        let token_v = self.lexer.scan();
                        let value = self.value(token_v, depth + 1)?;
                        if key.contains(&0) {
                            return Err(nul_error(&key));
                        }
                        let name = self.ev.sym(&key);
                        // A later duplicate key wins.
                        attrs.retain(|a| a.name != name);
                        attrs.push(Attr {
                            name,
                            pos: PosIdx::NONE,
                            value,
                        });
                        match self.lexer.scan() {
                            Token::ValueSeparator => token = self.lexer.scan(),
                            Token::EndObject => break,
                            other => return Err(self.syntax_error(other, "object", Some("'}'"))),
                        }
                    }
                }
                self.ev.new_attrs(attrs)
            }
            other => {
                return Err(self.syntax_error(
                    other,
                    "value",
                    (other != Token::Error).then_some("'[', '{', or a literal"),
                ))
            }
        })
    }

    fn string_value(&mut self, bytes: &[u8]) -> Result<Value<'a>, String> {
        if bytes.contains(&0) {
            return Err(nul_error(bytes));
        }
        Ok(self.ev.new_str(bytes))
    }
}

fn nul_error(bytes: &[u8]) -> String {
    let shown = String::from_utf8_lossy(bytes).replace('\0', "\u{2400}");
    format!(
        "input string '{shown}' cannot be represented as Nix string because it contains null bytes"
    )
}
