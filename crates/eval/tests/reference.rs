//! Differential tests against the reference Nix 2.8 on generated input.
//!
//! * Operators: random operator expressions are printed the way `nix-instantiate --parse`
//!   prints them (desugared: `__sub`, `__lessThan`, ...) and compared with the reference, which
//!   checks precedence and associativity of every operator pair.
//! * Indented strings: random `''...''` strings are evaluated by the reference and compared
//!   with our stripped literal.

use std::path::Path;

use kiln_eval::ast::{AttrNameKind, BinaryOp, Expr, ExprKind, StrPart, UnaryOp};
use kiln_eval::{dump, parse, FileId, Interner};

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn reference(state: &Path, args: &[&str]) -> (bool, String) {
    let out = kiln_testkit::reference_command("nix-instantiate", state)
        .args(args)
        .output()
        .expect("running the reference nix-instantiate");
    let text = if out.status.success() {
        out.stdout
    } else {
        out.stderr
    };
    (
        out.status.success(),
        String::from_utf8_lossy(&text).trim_end().to_owned(),
    )
}

const BINARY: &[&str] = &[
    "->", "||", "&&", "==", "!=", "<", "<=", ">", ">=", "//", "+", "-", "*", "/", "++",
];

/// A random operator expression over variables, without the parentheses precedence decides.
fn gen_ops(rng: &mut Rng, depth: usize) -> String {
    let mut s = String::new();
    let operands = 1 + rng.below(4);
    for i in 0..operands {
        if i > 0 {
            s.push_str(&format!(" {} ", rng.pick(BINARY)));
        }
        for _ in 0..rng.below(3) {
            s.push_str(rng.pick(&["!", "-"]));
        }
        match rng.below(10) {
            0 if depth > 0 => s.push_str(&format!("({})", gen_ops(rng, depth - 1))),
            1 => s.push_str(&format!(
                "{}.{}",
                rng.pick(&["a", "b"]),
                rng.pick(&["x", "y"])
            )),
            2 => s.push_str(&format!("a.x or {}", rng.pick(&["b", "c"]))),
            3 => s.push_str(&format!("f {}", rng.pick(&["a", "b"]))),
            4 => s.push_str(&format!(
                "{} ? {}",
                rng.pick(&["a", "b"]),
                rng.pick(&["x", "y.z"])
            )),
            _ => s.push_str(rng.pick(&["a", "b", "c", "d"])),
        }
    }
    s
}

/// Prints `e` the way Nix 2.8's `nix-instantiate --parse` does (operators subset).
fn nix_show(e: &Expr, i: &Interner, out: &mut String) {
    match &e.kind {
        ExprKind::Var(s) => out.push_str(&i.name(*s)),
        ExprKind::Int(n) => out.push_str(&n.to_string()),
        ExprKind::Unary { op, expr, .. } => {
            out.push_str(match op {
                UnaryOp::Not => "(! ",
                UnaryOp::Negate => "(__sub 0 ",
            });
            nix_show(expr, i, out);
            out.push(')');
        }
        ExprKind::Binary { op, lhs, rhs, .. } => {
            let call = |name: &str, a: &Expr, b: &Expr, out: &mut String| {
                out.push_str(&format!("({name} "));
                nix_show(a, i, out);
                out.push(' ');
                nix_show(b, i, out);
                out.push(')');
            };
            match op {
                BinaryOp::Lt => call("__lessThan", lhs, rhs, out),
                BinaryOp::Gt => call("__lessThan", rhs, lhs, out),
                BinaryOp::Leq => {
                    out.push_str("(! ");
                    call("__lessThan", rhs, lhs, out);
                    out.push(')');
                }
                BinaryOp::Geq => {
                    out.push_str("(! ");
                    call("__lessThan", lhs, rhs, out);
                    out.push(')');
                }
                BinaryOp::Sub => call("__sub", lhs, rhs, out),
                BinaryOp::Mul => call("__mul", lhs, rhs, out),
                BinaryOp::Div => call("__div", lhs, rhs, out),
                op => {
                    out.push('(');
                    nix_show(lhs, i, out);
                    out.push_str(&format!(" {} ", op.as_str()));
                    nix_show(rhs, i, out);
                    out.push(')');
                }
            }
        }
        ExprKind::Apply { .. } => {
            // Nix flattens `(f a) b` into one call `(f a b)`.
            let mut args = Vec::new();
            let mut f = e;
            while let ExprKind::Apply { func, arg } = &f.kind {
                args.push(arg);
                f = func;
            }
            out.push('(');
            nix_show(f, i, out);
            for a in args.iter().rev() {
                out.push(' ');
                nix_show(a, i, out);
            }
            out.push(')');
        }
        ExprKind::Select {
            expr,
            path,
            default,
        } => {
            out.push('(');
            nix_show(expr, i, out);
            out.push(')');
            for n in path {
                out.push('.');
                show_name(&n.kind, i, out);
            }
            if let Some(d) = default {
                out.push_str(" or (");
                nix_show(d, i, out);
                out.push(')');
            }
        }
        ExprKind::HasAttr { expr, path, .. } => {
            out.push_str("((");
            nix_show(expr, i, out);
            out.push_str(") ?");
            for (k, n) in path.iter().enumerate() {
                out.push(if k == 0 { ' ' } else { '.' });
                show_name(&n.kind, i, out);
            }
            out.push(')');
        }
        ExprKind::List(items) => {
            out.push_str("[ ");
            for item in items {
                out.push('(');
                nix_show(item, i, out);
                out.push_str(") ");
            }
            out.push(']');
        }
        ExprKind::With { env, body } => {
            out.push_str("(with ");
            nix_show(env, i, out);
            out.push_str("; ");
            nix_show(body, i, out);
            out.push(')');
        }
        ExprKind::AttrSet { bindings, .. } if bindings.is_empty() => out.push_str("{ }"),
        other => panic!("nix_show does not handle {other:?}"),
    }
}

fn show_name(n: &AttrNameKind, i: &Interner, out: &mut String) {
    match n {
        AttrNameKind::Ident(s) => out.push_str(&i.name(*s)),
        other => panic!("show_name does not handle {other:?}"),
    }
}

#[test]
fn operator_precedence_matches_reference() {
    let state = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_1234_abcd);
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    let mut interner = Interner::new();
    while valid.len() < 300 {
        let src = gen_ops(&mut rng, 2);
        let parsed = parse(FileId(0), src.as_bytes(), &mut interner);
        if parsed.errors.is_empty() {
            valid.push(src);
        } else if invalid.len() < 15 {
            invalid.push(src);
        }
    }
    // All valid ones in one list, in one call to the reference.
    let list = format!(
        "with {{}}; [ {} ]",
        valid
            .iter()
            .map(|s| format!("({s})"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let parsed = parse(FileId(0), list.as_bytes(), &mut interner);
    assert!(parsed.errors.is_empty());
    let mut ours = String::new();
    nix_show(&parsed.expr, &interner, &mut ours);
    let (ok, theirs) = reference(state.path(), &["--parse", "-E", &list]);
    assert!(ok, "the reference rejects the list: {theirs}");
    if ours != theirs {
        // Find the first element that differs, for a readable failure.
        for src in &valid {
            let one = format!("with {{}}; [ ({src}) ]");
            let parsed = parse(FileId(0), one.as_bytes(), &mut interner);
            let mut ours = String::new();
            nix_show(&parsed.expr, &interner, &mut ours);
            let (_, theirs) = reference(state.path(), &["--parse", "-E", &one]);
            assert_eq!(
                ours,
                theirs,
                "for {src}\n(our tree: {})",
                dump(&parsed.expr, &interner)
            );
        }
        panic!("the lists differ but no element does:\n{ours}\n{theirs}");
    }
    for src in &invalid {
        let (ok, out) = reference(
            state.path(),
            &["--parse", "-E", &format!("with {{}}; {src}")],
        );
        assert!(!ok, "we reject `{src}` but the reference accepts it: {out}");
    }
}

/// Pieces of indented-string lines (no interpolation of variables).
const IND_PIECES: &[&str] = &[
    "a", "b c", "''$", "'''", "''\\n", "''\\t", "''\\ ", "''\\\\", "$$", "$", "'", "x'y", "\t",
    "${\"i\"}", "\"q\"", "\\", "$'",
];

fn gen_ind_string(rng: &mut Rng) -> String {
    let mut s = String::from("''");
    // The opening line: empty, spaces only, or content.
    match rng.below(4) {
        0 => s.push('\n'),
        1 => s.push_str("   \n"),
        2 => s.push_str(" \t\n"),
        _ => {
            s.push_str(rng.pick(IND_PIECES));
            if s.ends_with('\'') {
                s.push(' ');
            }
        }
    }
    for _ in 0..rng.below(5) {
        let mut line = " ".repeat(rng.below(6));
        if rng.below(5) == 0 {
            line.push('\t');
        }
        for _ in 0..rng.below(3) {
            line.push_str(rng.pick(IND_PIECES));
            // A `'` next to another would close the string early.
            if rng.below(2) == 0 || line.ends_with('\'') {
                line.push(' ');
            }
        }
        s.push_str(&line);
        s.push_str(if rng.below(8) == 0 { "\r\n" } else { "\n" });
    }
    s.push_str(&" ".repeat(rng.below(4)));
    if rng.below(3) == 0 {
        s.push_str(rng.pick(IND_PIECES));
    }
    if s.ends_with('\'') {
        s.push(' ');
    }
    s.push_str("''");
    s
}

/// Nix's printing of a string value (`printLiteralString`).
fn nix_quote(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for (k, &c) in bytes.iter().enumerate() {
        match c {
            b'"' | b'\\' => out.extend([b'\\', c]),
            b'\n' => out.extend(b"\\n"),
            b'\r' => out.extend(b"\\r"),
            b'\t' => out.extend(b"\\t"),
            b'$' if bytes.get(k + 1) == Some(&b'{') => out.extend(b"\\$"),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// The value of a string whose interpolations are constant strings.
fn constant_string(e: &Expr) -> Vec<u8> {
    let ExprKind::Str { parts, .. } = &e.kind else {
        panic!("not a string: {e:?}")
    };
    let mut out = Vec::new();
    for p in parts {
        match p {
            StrPart::Literal(s) => out.extend_from_slice(s),
            StrPart::Interpolation(e) => out.extend(constant_string(e)),
        }
    }
    out
}

#[test]
fn indented_strings_match_reference() {
    let state = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x1dea_5eed_0042);
    let mut interner = Interner::new();
    let cases: Vec<String> = (0..400).map(|_| gen_ind_string(&mut rng)).collect();
    let mut ours = b"[ ".to_vec();
    for case in &cases {
        let parsed = parse(FileId(0), case.as_bytes(), &mut interner);
        assert!(parsed.errors.is_empty(), "{case:?}: {:?}", parsed.errors);
        nix_quote(&constant_string(&parsed.expr), &mut ours);
        ours.push(b' ');
    }
    ours.push(b']');
    let list = format!("[ {} ]", cases.join(" "));
    let (ok, theirs) = reference(state.path(), &["--eval", "--strict", "-E", &list]);
    assert!(ok, "the reference rejects the strings: {theirs}");
    let ours = String::from_utf8(ours).unwrap();
    assert!(
        theirs.starts_with("[ \"") && theirs.len() > 2000,
        "{theirs}"
    );
    if ours != theirs {
        for case in &cases {
            let parsed = parse(FileId(0), case.as_bytes(), &mut interner);
            let mut one = Vec::new();
            nix_quote(&constant_string(&parsed.expr), &mut one);
            let (_, theirs) = reference(state.path(), &["--eval", "--strict", "-E", case]);
            assert_eq!(String::from_utf8(one).unwrap(), theirs, "for {case:?}");
        }
        panic!("the lists differ but no element does");
    }
}
