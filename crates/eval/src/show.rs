//! `nix-instantiate --parse`: an expression printed the way current Nix shows its parsed form.
//!
//! The form is Nix's own (`Expr::show`): every compound expression in parentheses, operators
//! other than `+` and the comparisons as the builtins they call (`__sub`, `__mul`, `__div`,
//! `__lessThan`), list elements parenthesised, nested attribute paths merged, a set's bindings
//! as plain `inherit`s, then `inherit (e)` groups, then the other attributes sorted by name,
//! then dynamic ones; paths resolved to absolute ones. Compared with Nix 2.26's output.

use std::collections::BTreeMap;

use crate::ast::{
    AttrName, AttrNameKind, BinaryOp, Binding, Expr, ExprKind, Param, PathKind, StrPart, UnaryOp,
};
use crate::intern::{Interner, Symbol};
use crate::lower::canon_path;
use crate::print::{escape_string, format_float, print_attr_name};

/// Prints `expr` as Nix's `--parse` does; relative paths resolve against `base_dir`, `~`
/// against `home`.
pub fn show(expr: &Expr, interner: &Interner, base_dir: &[u8], home: Option<&[u8]>) -> Vec<u8> {
    let mut s = Shower {
        interner,
        base_dir,
        home,
        out: Vec::new(),
    };
    s.expr(expr);
    s.out
}

struct Shower<'i> {
    interner: &'i Interner,
    base_dir: &'i [u8],
    home: Option<&'i [u8]>,
    out: Vec<u8>,
}

/// A merged binding: nested paths (`a.b = 1; a.c = 2;`) become one set.
enum Node<'e> {
    Expr(&'e Expr),
    Inherit,
    InheritFrom(usize),
    Set(Tree<'e>),
}

#[derive(Default)]
struct Tree<'e> {
    statics: BTreeMap<Vec<u8>, Node<'e>>,
    froms: Vec<&'e Expr>,
    dynamics: Vec<(&'e AttrName, Node<'e>)>,
}

impl<'i> Shower<'i> {
    fn w(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn sym(&mut self, s: Symbol) {
        let name = self.interner.resolve(s).to_vec();
        self.out.extend_from_slice(&name);
    }

    fn static_name(&self, name: &AttrName) -> Option<Vec<u8>> {
        let lit = |parts: &[StrPart]| {
            let mut v = Vec::new();
            for p in parts {
                match p {
                    StrPart::Literal(b) => v.extend_from_slice(b),
                    StrPart::Interpolation(_) => return None,
                }
            }
            Some(v)
        };
        match &name.kind {
            AttrNameKind::Ident(s) => Some(self.interner.resolve(*s).to_vec()),
            AttrNameKind::Str(parts) => lit(parts),
            AttrNameKind::Dynamic(e) => match &e.kind {
                ExprKind::Str { parts, .. } => lit(parts),
                _ => None,
            },
        }
    }

    fn attr_name(&mut self, name: &AttrName) {
        match self.static_name(name) {
            Some(n) => print_attr_name(&n, &mut self.out),
            None => {
                self.w("\"${");
                match &name.kind {
                    AttrNameKind::Dynamic(e) => self.expr(e),
                    AttrNameKind::Str(parts) => self.string(parts),
                    AttrNameKind::Ident(_) => {}
                }
                self.w("}\"");
            }
        }
    }

    fn attr_path(&mut self, path: &[AttrName]) {
        for (i, n) in path.iter().enumerate() {
            if i > 0 {
                self.w(".");
            }
            self.attr_name(n);
        }
    }

    fn string(&mut self, parts: &[StrPart]) {
        if parts.iter().all(|p| matches!(p, StrPart::Literal(_))) {
            let mut bytes = Vec::new();
            for p in parts {
                if let StrPart::Literal(b) = p {
                    bytes.extend_from_slice(b);
                }
            }
            escape_string(&bytes, &mut self.out);
            return;
        }
        self.w("(");
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                self.w(" + ");
            }
            match p {
                StrPart::Literal(b) => escape_string(b, &mut self.out),
                StrPart::Interpolation(e) => self.expr(e),
            }
        }
        self.w(")");
    }

    fn path(&mut self, kind: PathKind, parts: &[StrPart]) {
        let first = match parts.first() {
            Some(StrPart::Literal(b)) => b.clone(),
            _ => Vec::new(),
        };
        if kind == PathKind::Search {
            self.w("(__findFile __nixPath ");
            escape_string(&first, &mut self.out);
            self.w(")");
            return;
        }
        let absolute = match kind {
            PathKind::Absolute => first,
            PathKind::Home => {
                let mut p = self.home.unwrap_or(b"/homeless-shelter").to_vec();
                p.extend_from_slice(&first[1..]);
                p
            }
            _ => {
                let mut p = self.base_dir.to_vec();
                p.push(b'/');
                p.extend_from_slice(&first);
                p
            }
        };
        if parts.len() <= 1 {
            self.out.extend_from_slice(&canon_path(&absolute));
            return;
        }
        self.w("(");
        escape_string(&absolute, &mut self.out);
        for p in &parts[1..] {
            self.w(" + ");
            match p {
                StrPart::Literal(b) => escape_string(b, &mut self.out),
                StrPart::Interpolation(e) => self.expr(e),
            }
        }
        self.w(")");
    }

    fn collect<'e>(&self, bindings: &'e [Binding], tree: &mut Tree<'e>) {
        for b in bindings {
            match b {
                Binding::Assign { path, value, .. } => self.insert(tree, path, value),
                Binding::Inherit { from, names, .. } => {
                    let node = |tree: &mut Tree<'e>| match from {
                        Some(e) => {
                            tree.froms.push(e);
                            Some(tree.froms.len() - 1)
                        }
                        None => None,
                    };
                    let from_idx = node(tree);
                    for n in names {
                        if let Some(name) = self.static_name(n) {
                            let node = match from_idx {
                                Some(i) => Node::InheritFrom(i),
                                None => Node::Inherit,
                            };
                            tree.statics.insert(name, node);
                        }
                    }
                }
            }
        }
    }

    fn insert<'e>(&self, tree: &mut Tree<'e>, path: &'e [AttrName], value: &'e Expr) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        match self.static_name(first) {
            Some(name) => {
                if rest.is_empty() {
                    match tree.statics.get_mut(&name) {
                        Some(Node::Set(sub)) => {
                            if let ExprKind::AttrSet { bindings, .. } = &value.kind {
                                self.collect(bindings, sub);
                            }
                        }
                        _ => {
                            tree.statics.insert(name, Node::Expr(value));
                        }
                    }
                    return;
                }
                let entry = tree
                    .statics
                    .entry(name)
                    .or_insert_with(|| Node::Set(Tree::default()));
                if let Node::Expr(existing) = entry {
                    let mut sub = Tree::default();
                    if let ExprKind::AttrSet { bindings, .. } = &existing.kind {
                        self.collect(bindings, &mut sub);
                    }
                    *entry = Node::Set(sub);
                }
                if let Node::Set(sub) = entry {
                    self.insert(sub, rest, value);
                }
            }
            None => {
                let node = if rest.is_empty() {
                    Node::Expr(value)
                } else {
                    let mut sub = Tree::default();
                    self.insert(&mut sub, rest, value);
                    Node::Set(sub)
                };
                tree.dynamics.push((first, node));
            }
        }
    }

    fn node(&mut self, node: &Node<'_>) {
        match node {
            Node::Expr(e) => self.expr(e),
            Node::Set(t) => {
                self.w("{ ");
                self.tree(t);
                self.w("}");
            }
            Node::Inherit | Node::InheritFrom(_) => {}
        }
    }

    fn tree(&mut self, tree: &Tree<'_>) {
        let plain: Vec<&Vec<u8>> = tree
            .statics
            .iter()
            .filter(|(_, n)| matches!(n, Node::Inherit))
            .map(|(k, _)| k)
            .collect();
        if !plain.is_empty() {
            self.w("inherit");
            for name in plain {
                self.w(" ");
                print_attr_name(name, &mut self.out);
            }
            self.w("; ");
        }
        for (i, from) in tree.froms.iter().enumerate() {
            let names: Vec<&Vec<u8>> = tree
                .statics
                .iter()
                .filter(|(_, n)| matches!(n, Node::InheritFrom(j) if *j == i))
                .map(|(k, _)| k)
                .collect();
            if names.is_empty() {
                continue;
            }
            self.w("inherit (");
            self.expr(from);
            self.w(")");
            for name in names {
                self.w(" ");
                print_attr_name(name, &mut self.out);
            }
            self.w("; ");
        }
        for (name, node) in &tree.statics {
            if matches!(node, Node::Inherit | Node::InheritFrom(_)) {
                continue;
            }
            print_attr_name(name, &mut self.out);
            self.w(" = ");
            self.node(node);
            self.w("; ");
        }
        for (name, node) in &tree.dynamics {
            self.attr_name(name);
            self.w(" = ");
            self.node(node);
            self.w("; ");
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Int(n) => self.w(&n.to_string()),
            ExprKind::Float(f) => self.w(&format_float(*f)),
            ExprKind::Str { parts, .. } => self.string(parts),
            ExprKind::Uri(b) => escape_string(b, &mut self.out),
            ExprKind::Path { kind, parts } => self.path(*kind, parts),
            ExprKind::Var(s) => self.sym(*s),
            ExprKind::Select {
                expr,
                path,
                default,
            } => {
                self.w("(");
                self.expr(expr);
                self.w(").");
                self.attr_path(path);
                if let Some(d) = default {
                    self.w(" or (");
                    self.expr(d);
                    self.w(")");
                }
            }
            ExprKind::HasAttr { expr, path, .. } => {
                self.w("((");
                self.expr(expr);
                self.w(") ? ");
                self.attr_path(path);
                self.w(")");
            }
            ExprKind::AttrSet { rec, bindings } => {
                if *rec {
                    self.w("rec ");
                }
                let mut tree = Tree::default();
                self.collect(bindings, &mut tree);
                self.w("{ ");
                self.tree(&tree);
                self.w("}");
            }
            ExprKind::Let { bindings, body } => {
                let mut tree = Tree::default();
                self.collect(bindings, &mut tree);
                self.w("(let ");
                self.tree(&tree);
                self.w("in ");
                self.expr(body);
                self.w(")");
            }
            ExprKind::LegacyLet { bindings } => {
                let mut tree = Tree::default();
                self.collect(bindings, &mut tree);
                self.w("(rec { ");
                self.tree(&tree);
                self.w("}).body");
            }
            ExprKind::List(items) => {
                self.w("[ ");
                for i in items {
                    self.w("(");
                    self.expr(i);
                    self.w(") ");
                }
                self.w("]");
            }
            ExprKind::Lambda { param, body } => {
                self.w("(");
                match param {
                    Param::Ident { name, .. } => self.sym(*name),
                    Param::Formals {
                        formals,
                        ellipsis,
                        at,
                    } => {
                        let mut sorted: Vec<_> = formals.iter().collect();
                        sorted.sort_by(|a, b| {
                            self.interner
                                .resolve(a.name)
                                .cmp(self.interner.resolve(b.name))
                        });
                        self.w("{ ");
                        for (i, f) in sorted.iter().enumerate() {
                            if i > 0 {
                                self.w(", ");
                            }
                            self.sym(f.name);
                            if let Some(d) = &f.default {
                                self.w(" ? ");
                                self.expr(d);
                            }
                        }
                        if *ellipsis {
                            self.w(if sorted.is_empty() { "..." } else { ", ..." });
                        }
                        self.w(" }");
                        if let Some(at) = at {
                            self.w(" @ ");
                            self.sym(at.name);
                        }
                    }
                }
                self.w(": ");
                self.expr(body);
                self.w(")");
            }
            ExprKind::Apply { .. } => self.call(e),
            ExprKind::With { env, body } => {
                self.w("(with ");
                self.expr(env);
                self.w("; ");
                self.expr(body);
                self.w(")");
            }
            ExprKind::Assert { cond, body } => {
                self.w("assert ");
                self.expr(cond);
                self.w("; ");
                self.expr(body);
            }
            ExprKind::If { cond, then, else_ } => {
                self.w("(if ");
                self.expr(cond);
                self.w(" then ");
                self.expr(then);
                self.w(" else ");
                self.expr(else_);
                self.w(")");
            }
            ExprKind::Unary { op, expr, .. } => match op {
                UnaryOp::Not => {
                    self.w("(! ");
                    self.expr(expr);
                    self.w(")");
                }
                UnaryOp::Negate => {
                    self.w("(__sub 0 ");
                    self.expr(expr);
                    self.w(")");
                }
            },
            ExprKind::Binary {
                op: BinaryOp::PipeInto | BinaryOp::PipeFrom,
                ..
            } => self.call(e),
            ExprKind::Binary { op, lhs, rhs, .. } => self.binary(*op, lhs, rhs),
            ExprKind::Error => {}
        }
    }

    /// A call, printed flat as Nix's single call node with all its arguments: `f a b`, and
    /// the pipes `a |> f b` and `f b <| a`, which Nix parses into the same node as `f b a`.
    fn call(&mut self, e: &Expr) {
        let (head, args) = call_spine(e);
        self.w("(");
        self.expr(head);
        for a in args {
            self.w(" ");
            self.expr(a);
        }
        self.w(")");
    }

    fn call2(&mut self, f: &str, a: &Expr, b: &Expr) {
        self.w("(");
        self.w(f);
        self.w(" ");
        self.expr(a);
        self.w(" ");
        self.expr(b);
        self.w(")");
    }

    fn binary(&mut self, op: BinaryOp, l: &Expr, r: &Expr) {
        match op {
            BinaryOp::Sub => self.call2("__sub", l, r),
            BinaryOp::Mul => self.call2("__mul", l, r),
            BinaryOp::Div => self.call2("__div", l, r),
            BinaryOp::Lt => self.call2("__lessThan", l, r),
            BinaryOp::Gt => self.call2("__lessThan", r, l),
            BinaryOp::Leq => {
                self.w("(! ");
                self.call2("__lessThan", r, l);
                self.w(")");
            }
            BinaryOp::Geq => {
                self.w("(! ");
                self.call2("__lessThan", l, r);
                self.w(")");
            }
            BinaryOp::PipeInto | BinaryOp::PipeFrom => unreachable!("shown by `call`"),
            _ => {
                self.w("(");
                self.expr(l);
                self.w(" ");
                self.w(op.as_str());
                self.w(" ");
                self.expr(r);
                self.w(")");
            }
        }
    }
}

/// A call's function and its arguments in order, through applications and pipes.
fn call_spine(e: &Expr) -> (&Expr, Vec<&Expr>) {
    let (func, arg) = match &e.kind {
        ExprKind::Apply { func, arg } => (func.as_ref(), arg.as_ref()),
        ExprKind::Binary {
            op: BinaryOp::PipeInto,
            lhs,
            rhs,
            ..
        } => (rhs.as_ref(), lhs.as_ref()),
        ExprKind::Binary {
            op: BinaryOp::PipeFrom,
            lhs,
            rhs,
            ..
        } => (lhs.as_ref(), rhs.as_ref()),
        _ => return (e, Vec::new()),
    };
    let (head, mut args) = call_spine(func);
    args.push(arg);
    (head, args)
}
