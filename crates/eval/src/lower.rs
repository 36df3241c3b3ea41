//! Lowering: from the syntax tree to [`Ir`], resolving every variable to a slot.
//!
//! Each scope of the lowering matches one runtime environment: `let`, `rec { }`, a lambda's
//! parameters, a `with` (one slot, the set), and at the bottom the base environment of
//! builtins. A variable found in a lexical scope becomes [`Ir::Var`] — lexical bindings always
//! win over `with`, as in Nix. One found nowhere becomes [`Ir::WithVar`] when a `with`
//! encloses it, and an "undefined variable" error otherwise, reported before evaluation as Nix
//! does.

use bumpalo::Bump;

use crate::ast::{self, AttrNameKind, BinaryOp, Binding, Expr, ExprKind, Param, PathKind, StrPart};
use crate::intern::{Interner, Symbol, SymbolMap};
use crate::ir::{
    AttrKey, AttrsIr, BinOp, DynamicAttr, FormalIr, Ir, LambdaIr, ParamIr, StaticAttr,
};
use crate::span::Span;
use crate::value::{Attrs, NixString, PosIdx, Value};

/// A variable that no scope binds.
#[derive(Debug, Clone)]
pub struct UndefinedVariable {
    /// Its name.
    pub name: String,
    /// Where it is used.
    pub span: Span,
}

enum Scope<'x> {
    /// The base environment's names, borrowed (not copied for every file).
    Base(&'x SymbolMap<u32>),
    /// Names bound to slots of one environment.
    Names(SymbolMap<u32>),
    /// A `with` (starting at this byte offset): one slot holding the set.
    With(u32),
}

/// Where relative and home paths are resolved.
pub struct PathContext<'p> {
    /// The directory of the file being lowered (for `./x`), absolute.
    pub base_dir: &'p [u8],
    /// The home directory (for `~/x`), if known.
    pub home: Option<&'p [u8]>,
    /// Whether this is a pure evaluation, where `~/x` cannot be resolved.
    pub pure: bool,
}

/// Why lowering refused an expression.
pub enum LowerError {
    /// Variables bound nowhere.
    Undefined(Vec<UndefinedVariable>),
    /// A `~/…` path in a pure evaluation (its text).
    HomeInPureMode(String),
}

/// Lowers one file's (or string's) expression.
pub struct Lowerer<'a, 'x> {
    arena: &'a Bump,
    interner: &'x mut Interner,
    scopes: Vec<Scope<'x>>,
    paths: PathContext<'x>,
    errors: Vec<UndefinedVariable>,
    /// The first `~/…` path met in a pure evaluation.
    pure_home: Option<String>,
    sym_find_file: Symbol,
    sym_nix_path: Symbol,
    sym_body: Symbol,
    sym_builtins: Symbol,
    positions: &'x mut Vec<Span>,
    builtins: Option<&'a Attrs<'a>>,
}

/// Allocates a string value without context.
pub fn alloc_str<'a>(arena: &'a Bump, bytes: &[u8]) -> &'a NixString<'a> {
    arena.alloc(NixString {
        bytes: arena.alloc_slice_copy(bytes),
        context: &[],
    })
}

impl<'a, 'x> Lowerer<'a, 'x> {
    /// Starts lowering with the base environment's names (builtins bound at top level).
    pub fn new(
        arena: &'a Bump,
        interner: &'x mut Interner,
        base: &'x SymbolMap<u32>,
        paths: PathContext<'x>,
        positions: &'x mut Vec<Span>,
    ) -> Self {
        let sym_find_file = interner.intern(b"__findFile");
        let sym_nix_path = interner.intern(b"__nixPath");
        let sym_body = interner.intern(b"body");
        let sym_builtins = interner.intern(b"builtins");
        Lowerer {
            arena,
            interner,
            scopes: vec![Scope::Base(base)],
            paths,
            errors: Vec::new(),
            pure_home: None,
            sym_find_file,
            sym_nix_path,
            sym_body,
            sym_builtins,
            positions,
            builtins: None,
        }
    }

    /// Gives the lowerer the `builtins` set of the base environment, so `builtins.name`
    /// (with `builtins` not shadowed) becomes the builtin itself, without a lookup.
    pub fn with_builtins(mut self, builtins: Option<&'a Attrs<'a>>) -> Self {
        self.builtins = builtins;
        self
    }

    /// `builtins.name` with `builtins` bound by the base environment and `name` a builtin
    /// function: that function.
    fn known_builtin(&self, e: &Expr, path: &[ast::AttrName]) -> Option<Value<'a>> {
        let builtins = self.builtins?;
        let ExprKind::Var(name) = &e.kind else {
            return None;
        };
        let [attr] = path else { return None };
        let AttrNameKind::Ident(attr) = attr.kind else {
            return None;
        };
        if *name != self.sym_builtins {
            return None;
        }
        // Bound by the outermost scope (the base environment) and by no `let`, lambda or
        // scopedImport set in between.
        let innermost = self.scopes.iter().rposition(|s| match s {
            Scope::Base(names) => names.contains_key(name),
            Scope::Names(names) => names.contains_key(name),
            Scope::With(_) => false,
        })?;
        if innermost != 0 {
            return None;
        }
        match builtins.get(attr)?.value {
            v @ (Value::PrimOp(_) | Value::PrimOpApp(_)) => Some(v),
            _ => None,
        }
    }

    fn pos(&mut self, span: Span) -> PosIdx {
        self.positions.push(span);
        PosIdx(self.positions.len() as u32 - 1)
    }

    /// Adds a scope above the base environment whose names are bound to the slots of the
    /// environment the code will run in (`scopedImport`'s set).
    pub fn push_scope(&mut self, names: SymbolMap<u32>) {
        self.scopes.push(Scope::Names(names));
    }

    /// Lowers `expr`, returning the code or why it cannot run: a home path in a pure
    /// evaluation (which Nix reports while parsing, so first), or undefined variables.
    pub fn lower_root(mut self, expr: &Expr) -> Result<&'a Ir<'a>, LowerError> {
        let ir = self.lower(expr);
        if let Some(path) = self.pure_home {
            return Err(LowerError::HomeInPureMode(path));
        }
        if self.errors.is_empty() {
            Ok(ir)
        } else {
            Err(LowerError::Undefined(self.errors))
        }
    }

    fn alloc(&self, ir: Ir<'a>) -> &'a Ir<'a> {
        self.arena.alloc(ir)
    }

    fn resolve(&mut self, name: Symbol, span: Span, skip: usize) -> Ir<'a> {
        let mut withs = Vec::new();
        for (depth, scope) in self.scopes.iter().rev().enumerate().skip(skip) {
            match scope {
                Scope::Base(names) => {
                    if let Some(&slot) = names.get(&name) {
                        return Ir::Var {
                            depth: depth as u32,
                            slot,
                            span,
                        };
                    }
                }
                Scope::Names(names) => {
                    if let Some(&slot) = names.get(&name) {
                        return Ir::Var {
                            depth: depth as u32,
                            slot,
                            span,
                        };
                    }
                }
                Scope::With(at) => withs.push((depth as u32, *at)),
            }
        }
        if withs.is_empty() {
            self.errors.push(UndefinedVariable {
                name: self.interner.name(name).into_owned(),
                span,
            });
            return Ir::Const(Value::Null);
        }
        Ir::WithVar {
            name,
            withs: self.arena.alloc_slice_copy(&withs),
            span,
        }
    }

    fn lower(&mut self, expr: &Expr) -> &'a Ir<'a> {
        let ir = self.lower_inner(expr, None);
        self.alloc(ir)
    }

    fn lower_named(&mut self, expr: &Expr, name: Option<Symbol>) -> &'a Ir<'a> {
        let ir = self.lower_inner(expr, name);
        self.alloc(ir)
    }

    fn lower_inner(&mut self, expr: &Expr, name: Option<Symbol>) -> Ir<'a> {
        let span = expr.span;
        match &expr.kind {
            ExprKind::Int(n) => Ir::Const(Value::Int(*n)),
            ExprKind::Float(f) => Ir::Const(Value::Float(*f)),
            ExprKind::Str { parts, .. } => self.lower_string(parts, span),
            ExprKind::Uri(bytes) => Ir::Const(Value::String(alloc_str(self.arena, bytes))),
            ExprKind::Path { kind, parts } => self.lower_path(*kind, parts, span),
            ExprKind::Var(sym) => {
                if self.interner.resolve(*sym) == b"__curPos" {
                    return Ir::CurPos(span);
                }
                self.resolve(*sym, span, 0)
            }
            ExprKind::Select {
                expr: e,
                path,
                default: None,
            } if self.known_builtin(e, path).is_some() => {
                let v = self.known_builtin(e, path).expect("checked by the guard");
                Ir::Known(v, span)
            }
            ExprKind::Select {
                expr: e,
                path,
                default,
            } => Ir::Select {
                expr: self.lower(e),
                path: self.lower_attr_path(path),
                default: default.as_ref().map(|d| self.lower(d)),
                span,
            },
            ExprKind::HasAttr { expr: e, path, .. } => Ir::HasAttr {
                expr: self.lower(e),
                path: self.lower_attr_path(path),
            },
            ExprKind::AttrSet { rec, bindings } => {
                let attrs = self.lower_attrs(bindings, *rec, span);
                Ir::Attrs(self.arena.alloc(attrs))
            }
            ExprKind::Let { bindings, body } => self.lower_let(bindings, body),
            ExprKind::LegacyLet { bindings } => {
                let attrs = self.lower_attrs(bindings, true, span);
                let set = self.alloc(Ir::Attrs(self.arena.alloc(attrs)));
                Ir::Select {
                    expr: set,
                    path: self
                        .arena
                        .alloc_slice_fill_iter([AttrKey::Static(self.sym_body)]),
                    default: None,
                    span,
                }
            }
            ExprKind::List(items) => {
                let items: Vec<Ir<'a>> = items.iter().map(|e| self.lower_inner(e, None)).collect();
                Ir::List(self.arena.alloc_slice_fill_iter(items))
            }
            ExprKind::Lambda { param, body } => {
                Ir::Lambda(self.lower_lambda(param, body, span, name))
            }
            ExprKind::Apply { .. } => {
                // Flatten `f a b c` into one call node.
                let mut args = Vec::new();
                let mut head = expr;
                while let ExprKind::Apply { func, arg } = &head.kind {
                    args.push(arg.as_ref());
                    head = func;
                }
                let func = self.lower(head);
                let args: Vec<Ir<'a>> = args
                    .iter()
                    .rev()
                    .map(|a| self.lower_inner(a, None))
                    .collect();
                Ir::Call {
                    func,
                    args: self.arena.alloc_slice_fill_iter(args),
                    span,
                }
            }
            ExprKind::With { env, body } => {
                let attrs = self.lower(env);
                self.scopes.push(Scope::With(span.start));
                let body = self.lower(body);
                self.scopes.pop();
                Ir::With { attrs, body }
            }
            ExprKind::Assert { cond, body } => Ir::Assert {
                cond: self.lower(cond),
                body: self.lower(body),
                cond_span: cond.span,
                span,
            },
            ExprKind::If { cond, then, else_ } => Ir::If {
                cond: self.lower(cond),
                then: self.lower(then),
                else_: self.lower(else_),
                span,
            },
            ExprKind::Unary { op, expr: e, .. } => {
                let inner = self.lower(e);
                match op {
                    ast::UnaryOp::Not => Ir::Not(inner, span),
                    ast::UnaryOp::Negate => Ir::Neg(inner, span),
                }
            }
            ExprKind::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => {
                let bin = match op {
                    BinaryOp::PipeInto | BinaryOp::PipeFrom => {
                        let (f, a) = if *op == BinaryOp::PipeInto {
                            (rhs, lhs)
                        } else {
                            (lhs, rhs)
                        };
                        let func = self.lower(f);
                        let arg = self.lower_inner(a, None);
                        return Ir::Call {
                            func,
                            args: self.arena.alloc_slice_fill_iter([arg]),
                            span: *op_span,
                        };
                    }
                    BinaryOp::Impl => BinOp::Impl,
                    BinaryOp::Or => BinOp::Or,
                    BinaryOp::And => BinOp::And,
                    BinaryOp::Eq => BinOp::Eq,
                    BinaryOp::Neq => BinOp::NotEq,
                    BinaryOp::Lt => BinOp::Less,
                    BinaryOp::Leq => BinOp::LessEq,
                    BinaryOp::Gt => BinOp::Greater,
                    BinaryOp::Geq => BinOp::GreaterEq,
                    BinaryOp::Update => BinOp::Update,
                    BinaryOp::Add => BinOp::Add,
                    BinaryOp::Sub => BinOp::Sub,
                    BinaryOp::Mul => BinOp::Mul,
                    BinaryOp::Div => BinOp::Div,
                    BinaryOp::Concat => BinOp::Concat,
                };
                Ir::Bin {
                    op: bin,
                    lhs: self.lower(lhs),
                    rhs: self.lower(rhs),
                    span: *op_span,
                    operands: [lhs.span.start, rhs.span.start],
                }
            }
            ExprKind::Error => Ir::Const(Value::Null),
        }
    }

    fn lower_string(&mut self, parts: &[StrPart], span: Span) -> Ir<'a> {
        match parts {
            [] => Ir::Const(Value::String(alloc_str(self.arena, b""))),
            [StrPart::Literal(bytes)] => Ir::Const(Value::String(alloc_str(self.arena, bytes))),
            _ => {
                let parts_src = parts;
                let parts: Vec<Ir<'a>> = parts
                    .iter()
                    .map(|p| match p {
                        StrPart::Literal(b) => Ir::Const(Value::String(alloc_str(self.arena, b))),
                        StrPart::Interpolation(e) => self.lower_inner(e, None),
                    })
                    .collect();
                Ir::Interpolate {
                    parts: self.arena.alloc_slice_fill_iter(parts),
                    starts: self.part_starts(parts_src, span),
                    span,
                }
            }
        }
    }

    fn lower_path(&mut self, kind: PathKind, parts: &[StrPart], span: Span) -> Ir<'a> {
        let first = match parts.first() {
            Some(StrPart::Literal(b)) => b.as_slice(),
            _ => b"",
        };
        if kind == PathKind::Search {
            // `<p>` is `__findFile __nixPath "p"`, so users can override both.
            let func = self.resolve(self.sym_find_file, span, 0);
            let path = self.resolve(self.sym_nix_path, span, 0);
            let name = Ir::Const(Value::String(alloc_str(self.arena, first)));
            return Ir::Call {
                func: self.alloc(func),
                args: self.arena.alloc_slice_fill_iter([path, name]),
                span,
            };
        }
        let absolute: Vec<u8> = match kind {
            PathKind::Absolute => first.to_vec(),
            PathKind::Home => {
                if self.paths.pure && self.pure_home.is_none() {
                    self.pure_home = Some(String::from_utf8_lossy(first).into_owned());
                }
                let mut p = self.paths.home.unwrap_or(b"/homeless-shelter").to_vec();
                p.extend_from_slice(&first[1..]);
                p
            }
            _ => {
                let mut p = self.paths.base_dir.to_vec();
                p.push(b'/');
                p.extend_from_slice(first);
                p
            }
        };
        if parts.len() <= 1 {
            let canon = canon_path(&absolute);
            return Ir::Const(Value::Path(alloc_str(self.arena, &canon)));
        }
        let mut irs = vec![Ir::Const(Value::String(alloc_str(self.arena, &absolute)))];
        for p in &parts[1..] {
            irs.push(match p {
                StrPart::Literal(b) => Ir::Const(Value::String(alloc_str(self.arena, b))),
                StrPart::Interpolation(e) => self.lower_inner(e, None),
            });
        }
        Ir::PathInterpolate {
            parts: self.arena.alloc_slice_fill_iter(irs),
            starts: self.part_starts(parts, span),
            span,
        }
    }

    /// Where each part of a string or path starts: an interpolation at its expression, a
    /// literal at the whole `span` (a literal part cannot fail).
    fn part_starts(&self, parts: &[StrPart], span: Span) -> &'a [u32] {
        self.arena
            .alloc_slice_fill_iter(parts.iter().map(|p| match p {
                StrPart::Interpolation(e) => e.span.start,
                StrPart::Literal(_) => span.start,
            }))
    }

    fn lower_attr_name(&mut self, name: &ast::AttrName) -> AttrKey<'a> {
        match &name.kind {
            AttrNameKind::Ident(sym) => AttrKey::Static(*sym),
            AttrNameKind::Str(parts) => match static_str(parts) {
                Some(bytes) => AttrKey::Static(self.interner.intern(&bytes)),
                None => {
                    let ir = self.lower_string(parts, name.span);
                    AttrKey::Dynamic(self.alloc(ir))
                }
            },
            AttrNameKind::Dynamic(e) => match &e.kind {
                ExprKind::Str { parts, .. } if static_str(parts).is_some() => {
                    AttrKey::Static(self.interner.intern(&static_str(parts).unwrap()))
                }
                _ => AttrKey::Dynamic(self.lower(e)),
            },
        }
    }

    fn lower_attr_path(&mut self, path: &[ast::AttrName]) -> &'a [AttrKey<'a>] {
        let keys: Vec<AttrKey<'a>> = path.iter().map(|n| self.lower_attr_name(n)).collect();
        self.arena.alloc_slice_fill_iter(keys)
    }

    /// Collects bindings into a tree, merging nested paths (`a.b = 1; a.c = 2;`).
    fn collect<'e>(&mut self, bindings: &'e [Binding], tree: &mut Tree<'e>) {
        for b in bindings {
            match b {
                Binding::Assign { path, value, span } => self.insert(tree, path, value, *span),
                Binding::Inherit { from, names, span } => {
                    for n in names {
                        // `inherit "a" ${"b"};` name constants; the parser refused the rest.
                        let Some(sym) = self.static_key(n) else {
                            continue;
                        };
                        let node = match from {
                            Some(e) => Node::InheritFrom(e, sym, n.span),
                            None => Node::Inherit(sym, n.span),
                        };
                        tree.statics.insert(sym, (n.span, node));
                        let _ = span;
                    }
                }
            }
        }
    }

    /// Inserts `path = value`; every attribute the path creates is positioned at `span`, the
    /// binding's start (Nix's `unsafeGetAttrPos` reports `a.b = 1`'s `b` at the `a`).
    fn insert<'e>(
        &mut self,
        tree: &mut Tree<'e>,
        path: &'e [ast::AttrName],
        value: &'e Expr,
        span: Span,
    ) {
        let (first, rest) = path
            .split_first()
            .expect("the parser never makes an empty path");
        let key = self.static_key(first);
        match key {
            Some(sym) => {
                if rest.is_empty() {
                    match tree.statics.get_mut(&sym) {
                        Some((_, Node::Set(sub))) => {
                            // `a.b = 1; a = { c = 2; };`: merge the literal into the set.
                            if let ExprKind::AttrSet { bindings, .. } = &value.kind {
                                self.collect(bindings, sub);
                            }
                        }
                        Some((_, Node::Expr(existing))) => {
                            // `a = { b = 1; }; a = { c = 2; };`: Nix merges two set literals
                            // (the parser refused any other repetition) into the first, which
                            // keeps its `rec`: the second's values then see the first's scope.
                            if let (
                                ExprKind::AttrSet {
                                    rec,
                                    bindings: first,
                                },
                                ExprKind::AttrSet {
                                    bindings: second, ..
                                },
                            ) = (&existing.kind, &value.kind)
                            {
                                let mut sub = Tree {
                                    rec: *rec,
                                    ..Tree::default()
                                };
                                self.collect(first, &mut sub);
                                self.collect(second, &mut sub);
                                let at = tree.statics[&sym].0;
                                tree.statics.insert(sym, (at, Node::Set(sub)));
                            } else {
                                tree.statics.insert(sym, (span, Node::Expr(value)));
                            }
                        }
                        _ => {
                            tree.statics.insert(sym, (span, Node::Expr(value)));
                        }
                    }
                    return;
                }
                let entry = tree
                    .statics
                    .entry(sym)
                    .or_insert_with(|| (span, Node::Set(Tree::default())));
                if let Node::Expr(existing) = entry.1 {
                    // `a = { b = 1; }; a.c = 2;`: turn the literal into a mergeable set, which
                    // stays `rec` if it was.
                    let mut sub = Tree::default();
                    if let ExprKind::AttrSet { bindings, rec } = &existing.kind {
                        sub.rec = *rec;
                        self.collect(bindings, &mut sub);
                    }
                    entry.1 = Node::Set(sub);
                }
                if let Node::Set(sub) = &mut entry.1 {
                    self.insert(sub, rest, value, span);
                }
            }
            None => {
                let mut sub = Tree::default();
                let node = if rest.is_empty() {
                    Node::Expr(value)
                } else {
                    self.insert(&mut sub, rest, value, span);
                    Node::Set(sub)
                };
                tree.dynamics.push((first, node, span));
            }
        }
    }

    fn static_key(&mut self, name: &ast::AttrName) -> Option<Symbol> {
        match self.lower_attr_name_peek(name) {
            Some(bytes) => Some(self.interner.intern(&bytes)),
            None => match &name.kind {
                AttrNameKind::Ident(s) => Some(*s),
                _ => None,
            },
        }
    }

    fn lower_attr_name_peek(&self, name: &ast::AttrName) -> Option<Vec<u8>> {
        match &name.kind {
            AttrNameKind::Ident(_) => None,
            AttrNameKind::Str(parts) => static_str(parts),
            AttrNameKind::Dynamic(e) => match &e.kind {
                ExprKind::Str { parts, .. } => static_str(parts),
                _ => None,
            },
        }
    }

    /// Lowers a node; `inherit_skip` is how many scopes a plain `inherit x` skips (1 inside the
    /// `rec`/`let` scope being defined, 0 in a plain set).
    fn lower_node(
        &mut self,
        node: &Node<'_>,
        inherit_skip: usize,
        name: Option<Symbol>,
    ) -> &'a Ir<'a> {
        match node {
            Node::Expr(e) => self.lower_named(e, name),
            Node::Inherit(sym, span) => {
                let ir = if self.interner.resolve(*sym) == b"__curPos" {
                    Ir::CurPos(*span)
                } else {
                    // Resolved from the enclosing scope; the depth still counts from the new one.
                    self.resolve(*sym, *span, inherit_skip)
                };
                self.alloc(ir)
            }
            Node::InheritFrom(e, sym, span) => {
                let from = self.lower(e);
                self.alloc(Ir::Select {
                    expr: from,
                    path: self.arena.alloc_slice_fill_iter([AttrKey::Static(*sym)]),
                    default: None,
                    span: *span,
                })
            }
            Node::Set(tree) => {
                let attrs = self.lower_set(tree);
                self.alloc(Ir::Attrs(self.arena.alloc(attrs)))
            }
        }
    }

    fn lower_tree(&mut self, tree: &Tree<'_>, rec: bool, inherit_skip: usize) -> AttrsIr<'a> {
        let mut statics: Vec<StaticAttr<'a>> = Vec::with_capacity(tree.statics.len());
        for (sym, (span, node)) in &tree.statics {
            let value = self.lower_node(node, inherit_skip, Some(*sym));
            let pos = self.pos(*span);
            statics.push(StaticAttr {
                name: *sym,
                span: *span,
                pos,
                value,
            });
        }
        statics.sort_by_key(|a| a.name);
        let mut dynamics = Vec::with_capacity(tree.dynamics.len());
        for (name, node, span) in &tree.dynamics {
            let key = match self.lower_attr_name(name) {
                AttrKey::Dynamic(ir) => ir,
                AttrKey::Static(sym) => self.alloc(Ir::Const(Value::String(alloc_str(
                    self.arena,
                    self.interner.resolve(sym),
                )))),
            };
            let value = self.lower_node(node, inherit_skip, None);
            let pos = self.pos(*span);
            dynamics.push(DynamicAttr {
                name: key,
                value,
                span: *span,
                pos,
            });
        }
        let overrides = if rec {
            let sym = self.interner.intern(b"__overrides");
            statics.iter().position(|a| a.name == sym).map(|i| i as u32)
        } else {
            None
        };
        AttrsIr {
            rec,
            overrides,
            statics: self.arena.alloc_slice_fill_iter(statics),
            dynamics: self.arena.alloc_slice_fill_iter(dynamics),
        }
    }

    fn lower_attrs(&mut self, bindings: &[Binding], rec: bool, _span: Span) -> AttrsIr<'a> {
        let mut tree = Tree {
            rec,
            ..Tree::default()
        };
        self.collect(bindings, &mut tree);
        self.lower_set(&tree)
    }

    /// Lowers a set's merged bindings. A plain set makes no scope: its plain `inherit`s see
    /// the current one.
    fn lower_set(&mut self, tree: &Tree<'_>) -> AttrsIr<'a> {
        if !tree.rec {
            return self.lower_tree(tree, false, 0);
        }
        // A `rec` set: its static attributes are the slots of a new scope, in symbol order.
        let mut syms: Vec<Symbol> = tree.statics.keys().copied().collect();
        syms.sort();
        let names = syms
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, i as u32))
            .collect();
        self.scopes.push(Scope::Names(names));
        let res = self.lower_tree(tree, true, 1);
        self.scopes.pop();
        res
    }

    fn lower_let(&mut self, bindings: &[Binding], body: &Expr) -> Ir<'a> {
        let mut tree = Tree::default();
        self.collect(bindings, &mut tree);
        let mut syms: Vec<Symbol> = tree.statics.keys().copied().collect();
        syms.sort();
        let names = syms
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, i as u32))
            .collect();
        self.scopes.push(Scope::Names(names));
        let mut slots = Vec::with_capacity(syms.len());
        for sym in &syms {
            let (_, node) = &tree.statics[sym];
            slots.push(self.lower_node(node, 1, Some(*sym)));
        }
        let body = self.lower(body);
        self.scopes.pop();
        Ir::Let {
            slots: self.arena.alloc_slice_copy(&slots),
            body,
        }
    }

    fn lower_lambda(
        &mut self,
        param: &Param,
        body: &Expr,
        span: Span,
        name: Option<Symbol>,
    ) -> &'a LambdaIr<'a> {
        let (param_ir, names, n_slots) = match param {
            Param::Ident { name, .. } => {
                let mut names = SymbolMap::default();
                names.insert(*name, 0);
                (None, names, 1u32)
            }
            Param::Formals { formals, at, .. } => {
                let mut names = SymbolMap::default();
                for (i, f) in formals.iter().enumerate() {
                    names.insert(f.name, i as u32);
                }
                let mut n = formals.len() as u32;
                if let Some(at) = at {
                    names.insert(at.name, n);
                    n += 1;
                }
                (Some(()), names, n)
            }
        };
        self.scopes.push(Scope::Names(names));
        let param = match (param, param_ir) {
            (Param::Ident { name, .. }, _) => ParamIr::Ident(*name),
            (
                Param::Formals {
                    formals,
                    ellipsis,
                    at,
                },
                _,
            ) => {
                let fs: Vec<FormalIr<'a>> = formals
                    .iter()
                    .map(|f| FormalIr {
                        name: f.name,
                        span: f.span,
                        pos: self.pos(f.span),
                        default: f.default.as_ref().map(|d| self.lower(d)),
                    })
                    .collect();
                ParamIr::Formals {
                    formals: self.arena.alloc_slice_fill_iter(fs),
                    ellipsis: *ellipsis,
                    at: at.as_ref().map(|a| a.name),
                }
            }
        };
        // A function's name is its body's too when that is a function (`f = a: b: …`), as in
        // Nix, whose errors name the inner function `f`.
        let body = self.lower_named(body, name);
        self.scopes.pop();
        let strict = matches!(param, ParamIr::Ident(_)) && body.forces_first(0, 0);
        self.arena.alloc(LambdaIr {
            name,
            span,
            param,
            body,
            n_slots,
            strict,
        })
    }
}

/// Bindings being merged: static names (with where they were first defined) and dynamic ones.
#[derive(Default)]
struct Tree<'e> {
    /// Whether the set is `rec` (the first literal of merged ones decides).
    rec: bool,
    statics: SymbolMap<(Span, Node<'e>)>,
    dynamics: Vec<(&'e ast::AttrName, Node<'e>, Span)>,
}

enum Node<'e> {
    Expr(&'e Expr),
    Inherit(Symbol, Span),
    InheritFrom(&'e Expr, Symbol, Span),
    Set(Tree<'e>),
}

/// The bytes of a string with no interpolation, if it is one.
fn static_str(parts: &[StrPart]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for p in parts {
        match p {
            StrPart::Literal(b) => out.extend_from_slice(b),
            StrPart::Interpolation(_) => return None,
        }
    }
    Some(out)
}

/// Canonicalises an absolute path as Nix does, without touching the file system: collapses
/// `//`, removes `.` and resolves `..` lexically, and drops a trailing slash.
pub fn canon_path(path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return b"/".to_vec();
    }
    let mut out = Vec::with_capacity(path.len());
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    out
}
