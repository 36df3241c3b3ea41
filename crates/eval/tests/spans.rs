//! Spans and line:column positions.

use kiln_eval::ast::{ExprKind, Param};
use kiln_eval::{parse, Interner, LineCol, SourceMap, Span};

#[test]
fn nodes_carry_their_spans() {
    let mut files = SourceMap::new();
    let src = "f (a +  b)\n  .c or d";
    let file = files.add("t.nix", src);
    let mut interner = Interner::new();
    let parsed = parse(file, files.text(file), &mut interner);
    assert!(parsed.errors.is_empty());
    let text = |s: Span| &src[s.start as usize..s.end as usize];
    let ExprKind::Apply { func, arg } = &parsed.expr.kind else {
        panic!("{:?}", parsed.expr)
    };
    assert_eq!(text(parsed.expr.span), src);
    assert_eq!(text(func.span), "f");
    let ExprKind::Select {
        expr,
        path,
        default,
    } = &arg.kind
    else {
        panic!("{arg:?}")
    };
    assert_eq!(text(arg.span), "(a +  b)\n  .c or d");
    // Parentheses leave no node: the sum keeps its own span.
    assert_eq!(text(expr.span), "a +  b");
    let ExprKind::Binary {
        op_span, lhs, rhs, ..
    } = &expr.kind
    else {
        panic!("{expr:?}")
    };
    assert_eq!(
        (text(*op_span), text(lhs.span), text(rhs.span)),
        ("+", "a", "b")
    );
    assert_eq!(text(path[0].span), "c");
    assert_eq!(text(default.as_ref().unwrap().span), "d");
    assert_eq!(
        files.line_col(file, path[0].span.start),
        LineCol { line: 2, col: 4 }
    );
}

#[test]
fn lambda_and_formal_spans() {
    let src = "{ a ? 1, b }@args: a";
    let mut interner = Interner::new();
    let mut files = SourceMap::new();
    let file = files.add("t.nix", src);
    let parsed = parse(file, files.text(file), &mut interner);
    let ExprKind::Lambda {
        param: Param::Formals { formals, at, .. },
        ..
    } = &parsed.expr.kind
    else {
        panic!("{:?}", parsed.expr)
    };
    let text = |s: Span| &src[s.start as usize..s.end as usize];
    assert_eq!(text(formals[0].span), "a");
    assert_eq!(text(formals[1].span), "b");
    assert_eq!(text(at.as_ref().unwrap().span), "args");
}

#[test]
fn columns_count_bytes_like_nix() {
    let mut files = SourceMap::new();
    // `é` is two bytes: Nix puts the end of this line at column 12.
    let file = files.add("t.nix", "\"é\" + (1 +");
    assert_eq!(files.line_col(file, 11), LineCol { line: 1, col: 12 });
    let file = files.add("u.nix", "a\r\nb\n\nc");
    assert_eq!(files.line_col(file, 3), LineCol { line: 2, col: 1 });
    assert_eq!(files.line_col(file, 6), LineCol { line: 4, col: 1 });
    assert_eq!(files.location(Span::new(file, 6, 7)), "u.nix:4:1");
}
