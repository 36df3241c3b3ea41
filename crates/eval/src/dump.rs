//! A compact, stable S-expression form of the tree, for tests and debugging.
//!
//! Operators print as their symbol (`(+ 1 2)`, `(neg x)` for unary minus), strings as one
//! quoted literal with interpolations inline (`"a${x}b"`; literal `$`, `"` and `\` are
//! escaped, other bytes outside printable ASCII print as `\xNN`), attribute paths dotted
//! (`a."b".${c}`). Spans are not shown.

use std::fmt::Write;

use crate::ast::*;
use crate::intern::Interner;

/// The S-expression of `expr`, on one line.
pub fn dump(expr: &Expr, interner: &Interner) -> String {
    let mut out = String::new();
    Dumper {
        interner,
        out: &mut out,
    }
    .expr(expr);
    out
}

struct Dumper<'a> {
    interner: &'a Interner,
    out: &'a mut String,
}

impl Dumper<'_> {
    fn sym(&mut self, s: crate::intern::Symbol) {
        let name = self.interner.name(s);
        self.out.push_str(&name);
    }

    fn bytes(&mut self, s: &[u8]) {
        for &c in s {
            match c {
                b'"' => self.out.push_str("\\\""),
                b'\\' => self.out.push_str("\\\\"),
                b'$' => self.out.push_str("\\$"),
                b'\n' => self.out.push_str("\\n"),
                b'\t' => self.out.push_str("\\t"),
                b'\r' => self.out.push_str("\\r"),
                0x20..=0x7e => self.out.push(c as char),
                _ => {
                    let _ = write!(self.out, "\\x{c:02x}");
                }
            }
        }
    }

    fn parts(&mut self, parts: &[StrPart]) {
        self.out.push('"');
        for p in parts {
            match p {
                StrPart::Literal(s) => self.bytes(s),
                StrPart::Interpolation(e) => {
                    self.out.push_str("${");
                    self.expr(e);
                    self.out.push('}');
                }
            }
        }
        self.out.push('"');
    }

    fn attr_path(&mut self, path: &[AttrName]) {
        for (i, name) in path.iter().enumerate() {
            if i > 0 {
                self.out.push('.');
            }
            match &name.kind {
                AttrNameKind::Ident(s) => self.sym(*s),
                AttrNameKind::Str(parts) => self.parts(parts),
                AttrNameKind::Dynamic(e) => {
                    self.out.push_str("${");
                    self.expr(e);
                    self.out.push('}');
                }
            }
        }
    }

    fn bindings(&mut self, bindings: &[Binding]) {
        for b in bindings {
            self.out.push(' ');
            match b {
                Binding::Assign { path, value, .. } => {
                    self.out.push_str("(= ");
                    self.attr_path(path);
                    self.out.push(' ');
                    self.expr(value);
                    self.out.push(')');
                }
                Binding::Inherit { from, names, .. } => {
                    self.out.push_str("(inherit");
                    if let Some(from) = from {
                        self.out.push_str(" (");
                        self.expr(from);
                        self.out.push(')');
                    }
                    for n in names {
                        self.out.push(' ');
                        self.attr_path(std::slice::from_ref(n));
                    }
                    self.out.push(')');
                }
            }
        }
    }

    fn list(&mut self, head: &str, items: &[&Expr]) {
        self.out.push('(');
        self.out.push_str(head);
        for e in items {
            self.out.push(' ');
            self.expr(e);
        }
        self.out.push(')');
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Int(n) => {
                let _ = write!(self.out, "{n}");
            }
            ExprKind::Float(f) => {
                let _ = write!(self.out, "(float {f:?})");
            }
            ExprKind::Str { parts, indented } => {
                self.out
                    .push_str(if *indented { "(indstr " } else { "(str " });
                self.parts(parts);
                self.out.push(')');
            }
            ExprKind::Path { kind, parts } => {
                let kind = match kind {
                    PathKind::Absolute => "absolute",
                    PathKind::Relative => "relative",
                    PathKind::Home => "home",
                    PathKind::Search => "search",
                };
                let _ = write!(self.out, "(path {kind} ");
                self.parts(parts);
                self.out.push(')');
            }
            ExprKind::Uri(u) => {
                self.out.push_str("(uri \"");
                self.bytes(u);
                self.out.push_str("\")");
            }
            ExprKind::Var(s) => self.sym(*s),
            ExprKind::Select {
                expr,
                path,
                default,
            } => {
                self.out.push_str("(select ");
                self.expr(expr);
                self.out.push(' ');
                self.attr_path(path);
                if let Some(d) = default {
                    self.out.push_str(" (or ");
                    self.expr(d);
                    self.out.push(')');
                }
                self.out.push(')');
            }
            ExprKind::HasAttr { expr, path, .. } => {
                self.out.push_str("(? ");
                self.expr(expr);
                self.out.push(' ');
                self.attr_path(path);
                self.out.push(')');
            }
            ExprKind::AttrSet { rec, bindings } => {
                self.out
                    .push_str(if *rec { "(rec-attrs" } else { "(attrs" });
                self.bindings(bindings);
                self.out.push(')');
            }
            ExprKind::Let { bindings, body } => {
                self.out.push_str("(let");
                self.bindings(bindings);
                self.out.push_str(" (in ");
                self.expr(body);
                self.out.push_str("))");
            }
            ExprKind::LegacyLet { bindings } => {
                self.out.push_str("(let-legacy");
                self.bindings(bindings);
                self.out.push(')');
            }
            ExprKind::List(items) => {
                let items: Vec<&Expr> = items.iter().collect();
                self.list("list", &items);
            }
            ExprKind::Lambda { param, body } => {
                self.out.push_str("(lambda ");
                match param {
                    Param::Ident { name, .. } => self.sym(*name),
                    Param::Formals {
                        formals,
                        ellipsis,
                        at,
                    } => {
                        if let Some(at) = at.as_ref().filter(|a| a.before) {
                            self.sym(at.name);
                            self.out.push('@');
                        }
                        self.out.push('{');
                        for (i, f) in formals.iter().enumerate() {
                            if i > 0 {
                                self.out.push(' ');
                            }
                            self.sym(f.name);
                            if let Some(d) = &f.default {
                                self.out.push_str("?(");
                                self.expr(d);
                                self.out.push(')');
                            }
                        }
                        if *ellipsis {
                            if !formals.is_empty() {
                                self.out.push(' ');
                            }
                            self.out.push_str("...");
                        }
                        self.out.push('}');
                        if let Some(at) = at.as_ref().filter(|a| !a.before) {
                            self.out.push('@');
                            self.sym(at.name);
                        }
                    }
                }
                self.out.push(' ');
                self.expr(body);
                self.out.push(')');
            }
            ExprKind::Apply { func, arg } => self.list("apply", &[func, arg]),
            ExprKind::With { env, body } => self.list("with", &[env, body]),
            ExprKind::Assert { cond, body } => self.list("assert", &[cond, body]),
            ExprKind::If { cond, then, else_ } => self.list("if", &[cond, then, else_]),
            ExprKind::Unary { op, expr, .. } => {
                let head = match op {
                    UnaryOp::Not => "!",
                    UnaryOp::Negate => "neg",
                };
                self.list(head, &[expr]);
            }
            ExprKind::Binary { op, lhs, rhs, .. } => self.list(op.as_str(), &[lhs, rhs]),
            ExprKind::Error => self.out.push_str("(error)"),
        }
    }
}
