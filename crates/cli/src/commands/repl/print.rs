//! Values as `nix repl` (Nix 2.26) prints them: forced as far as they are shown, sets and
//! lists with more than one item (or one nested item) over several lines indented by two,
//! beyond the depth limit `{ ... }` / `[ ... ]` (empty ones too), a set or list met again `«repeated»`, a
//! failing element `«error: …»`, derivations as `«derivation /nix/store/….drv»`, functions
//! as `«lambda NAME @ FILE:LINE:COL»` / `«primop NAME»`, and ANSI colours (numbers, Booleans
//! and null cyan, strings magenta, paths and derivations green, functions blue, errors red).

use std::collections::HashSet;

use kiln_eval::print::{escape_string, format_float, show_attr_name, sorted_attrs};
use kiln_eval::{Eval, EvalResult, Value};

const CYAN: &str = "\x1b[36;1m";
const MAGENTA: &str = "\x1b[35;1m";
const GREEN: &str = "\x1b[32;1m";
const BLUE: &str = "\x1b[34;1m";
const RED: &str = "\x1b[31;1m";
const RESET: &str = "\x1b[0m";

/// Prints `v` (forced to weak head normal form by the caller's `force` on the way) down to
/// `max_depth` levels of sets and lists.
pub fn print<'a>(ev: &mut Eval<'a>, v: Value<'a>, max_depth: usize) -> EvalResult<Vec<u8>> {
    let mut p = Printer {
        out: Vec::new(),
        seen: HashSet::new(),
        max_depth,
    };
    let v = ev.force(v)?;
    p.value(ev, v, 0, true)?;
    Ok(p.out)
}

struct Printer {
    out: Vec<u8>,
    seen: HashSet<usize>,
    max_depth: usize,
}

impl Printer {
    fn coloured(&mut self, colour: &str, text: &[u8]) {
        self.out.extend_from_slice(colour.as_bytes());
        self.out.extend_from_slice(text);
        self.out.extend_from_slice(RESET.as_bytes());
    }

    fn indent(&mut self, depth: usize) {
        self.out.extend(std::iter::repeat_n(b' ', depth * 2));
    }

    /// Prints a value, forcing it; an error while forcing an element (not the top value)
    /// is shown in its place.
    fn element<'a>(&mut self, ev: &mut Eval<'a>, v: Value<'a>, depth: usize) -> EvalResult<()> {
        match ev.force(v) {
            Ok(v) => self.value(ev, v, depth, false),
            Err(e) => {
                let text = format!("«error: {}»", e.kind);
                self.coloured(RED, text.as_bytes());
                Ok(())
            }
        }
    }

    fn value<'a>(
        &mut self,
        ev: &mut Eval<'a>,
        v: Value<'a>,
        depth: usize,
        top: bool,
    ) -> EvalResult<()> {
        match v {
            Value::Null => self.coloured(CYAN, b"null"),
            Value::Bool(b) => self.coloured(CYAN, if b { b"true" } else { b"false" }),
            Value::Int(i) => self.coloured(CYAN, i.to_string().as_bytes()),
            Value::Float(f) => self.coloured(CYAN, format_float(f).as_bytes()),
            Value::String(s) => {
                let mut text = Vec::new();
                escape_string(s.bytes, &mut text);
                self.coloured(MAGENTA, &text);
            }
            Value::Path(p) => self.coloured(GREEN, p.bytes),
            Value::Lambda(c) => {
                let loc = ev.sources.location(c.lambda.span);
                let text = match c.lambda.name {
                    Some(n) => format!("«lambda {} @ {loc}»", ev.interner.name(n)),
                    None => format!("«lambda @ {loc}»"),
                };
                self.coloured(BLUE, text.as_bytes());
            }
            Value::PrimOp(op) => self.coloured(BLUE, format!("«primop {}»", op.name).as_bytes()),
            Value::PrimOpApp(app) => self.coloured(
                BLUE,
                format!("«partially applied primop {}»", app.op.name).as_bytes(),
            ),
            Value::Thunk(_) => self.out.extend_from_slice(b"<CODE>"),
            Value::Attrs(a) => {
                if ev.is_derivation(a).unwrap_or(false) {
                    let sym = ev.sym(b"drvPath");
                    let text = match a.get(sym).map(|d| ev.force(d.value)) {
                        Some(Ok(Value::String(s))) => {
                            format!("«derivation {}»", String::from_utf8_lossy(s.bytes))
                        }
                        Some(Err(e)) if top => return Err(e),
                        _ => "«derivation»".to_owned(),
                    };
                    self.coloured(GREEN, text.as_bytes());
                    return Ok(());
                }
                if !a.is_empty() && !self.seen.insert(a as *const _ as usize) {
                    self.coloured(MAGENTA, "«repeated»".as_bytes());
                    return Ok(());
                }
                if depth >= self.max_depth {
                    self.out.extend_from_slice(b"{ ... }");
                    return Ok(());
                }
                if a.is_empty() {
                    self.out.extend_from_slice(b"{ }");
                    return Ok(());
                }
                let attrs = sorted_attrs(ev, a);
                let pretty = attrs.len() > 1 || nested(ev.force(attrs[0].1)?);
                self.out.push(b'{');
                for (name, value) in attrs {
                    if pretty {
                        self.out.push(b'\n');
                        self.indent(depth + 1);
                    } else {
                        self.out.push(b' ');
                    }
                    let name = show_attr_name(ev.interner.resolve(name));
                    self.out.extend_from_slice(name.as_bytes());
                    self.out.extend_from_slice(b" = ");
                    self.element(ev, value, depth + 1)?;
                    self.out.push(b';');
                }
                if pretty {
                    self.out.push(b'\n');
                    self.indent(depth);
                } else {
                    self.out.push(b' ');
                }
                self.out.push(b'}');
            }
            Value::List(l) => {
                if !l.elems.is_empty() && !self.seen.insert(l as *const _ as usize) {
                    self.coloured(MAGENTA, "«repeated»".as_bytes());
                    return Ok(());
                }
                if depth >= self.max_depth {
                    self.out.extend_from_slice(b"[ ... ]");
                    return Ok(());
                }
                if l.elems.is_empty() {
                    self.out.extend_from_slice(b"[ ]");
                    return Ok(());
                }
                let pretty = l.elems.len() > 1 || nested(ev.force(l.elems[0])?);
                self.out.push(b'[');
                for &e in l.elems {
                    if pretty {
                        self.out.push(b'\n');
                        self.indent(depth + 1);
                    } else {
                        self.out.push(b' ');
                    }
                    self.element(ev, e, depth + 1)?;
                }
                if pretty {
                    self.out.push(b'\n');
                    self.indent(depth);
                } else {
                    self.out.push(b' ');
                }
                self.out.push(b']');
            }
        }
        Ok(())
    }
}

/// Whether a lone item (forced: an error forcing it is the whole value's) makes its set or
/// list print over several lines: a set or a list.
fn nested(v: Value<'_>) -> bool {
    matches!(v, Value::Attrs(_) | Value::List(_))
}
