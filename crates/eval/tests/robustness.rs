//! The parser never panics and never overflows the stack, whatever the input.

use std::path::Path;

use kiln_eval::{dump, parse, FileId, Interner, SyntaxErrorKind, MAX_DEPTH};

fn parse_str(src: &str) -> (String, Vec<SyntaxErrorKind>) {
    let mut interner = Interner::new();
    let parsed = parse(FileId(0), src.as_bytes(), &mut interner);
    let dumped = dump(&parsed.expr, &interner);
    (dumped, parsed.errors.into_iter().map(|e| e.kind).collect())
}

/// Each template nests `n` times: `{}` stands for the nested part.
const NESTINGS: &[(&str, &str)] = &[
    ("parens", "({})"),
    ("lists", "[{}]"),
    ("attrs", "{ a = {}; }"),
    ("lets", "let a = 1; in {}"),
    ("lambdas", "x: {}"),
    ("negations", "-{}"),
    ("nots", "!{}"),
    ("strings", "\"${{}}\""),
    ("ind-strings", "''${{}}''"),
    ("paths", "./a/${{}}"),
    ("concat", "a ++ {}"),
    ("impl", "a -> {}"),
    ("select-or", "a.b or {}"),
    ("if", "if a then b else {}"),
    ("with", "with a; {}"),
    ("interpolated-attr", "{ ${{}} = 1; }"),
];

fn nest(template: &str, n: usize) -> String {
    let (open, close) = template.split_once("{}").unwrap();
    format!("{}x{}", open.repeat(n), close.repeat(n))
}

#[test]
fn moderate_nesting_parses() {
    with_parser_stack(moderate_nesting);
}

fn moderate_nesting() {
    for (name, template) in NESTINGS {
        let (_, errors) = parse_str(&nest(template, 300));
        assert!(errors.is_empty(), "{name} at depth 300: {errors:?}");
    }
}

/// Runs `f` on a thread with the stack a caller of the parser must give it (see `MAX_DEPTH`).
fn with_parser_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    with_parser_stack(deep_nesting);
}

fn deep_nesting() {
    for (name, template) in NESTINGS {
        let (_, errors) = parse_str(&nest(template, 100_000));
        assert_eq!(
            errors,
            vec![SyntaxErrorKind::TooDeep(MAX_DEPTH)],
            "{name} at depth 100000"
        );
    }
}

#[test]
fn long_flat_chains_are_capped_too() {
    with_parser_stack(long_flat_chains);
}

fn long_flat_chains() {
    // Left-associative chains build deep trees in a loop; dropping or dumping them recurses.
    for op in ["+", "*", "||", "", "//"] {
        let src = vec!["a"; 200_000].join(&format!(" {op} "));
        let (_, errors) = parse_str(&src);
        assert!(!errors.is_empty(), "a chain of {op}");
    }
    // Lists and attribute paths are flat, however long.
    let long_list = format!("[ {} ]", vec!["1"; 200_000].join(" "));
    assert!(parse_str(&long_list).1.is_empty());
    let long_path = vec!["a"; 200_000].join(".");
    assert!(parse_str(&long_path).1.is_empty());
}

#[test]
fn runs_of_one_character_lex_in_linear_time() {
    // Rules that scan ahead (paths, URIs, block comments) must not rescan a run at every byte.
    let started = std::time::Instant::now();
    for unit in ["-", "+a", "a+", "/*", "<a", "1.", "~", "$", "'"] {
        let _ = parse_str(&unit.repeat(100_000));
    }
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn odd_bytes_do_not_panic() {
    let inputs: &[&[u8]] = &[
        b"",
        b"\xff",
        b"\"\xff",
        b"''\x00''",
        b"${",
        b"}",
        b"}}}}",
        b"\"${",
        b"''${",
        b"./a/${",
        b"~/${",
        b"<",
        b"<a",
        b"/*",
        b"/**/",
        b"'",
        b"''",
        b"'''",
        b"\\",
        b"\"\\",
        b"\"$",
        b"\"$\\",
        b"''\\",
        b"a.",
        b"a ?",
        b"{ a.",
        b"{ inherit (",
        b"let",
        b"x:",
        b"{ a, ... ",
        b"@",
        b"a@",
        b"{}@",
        b"1e",
        b"1.e",
        b"0x1",
        b"-",
        b"!",
        b"a |>",
        b"<|",
    ];
    for input in inputs {
        let mut interner = Interner::new();
        let parsed = parse(FileId(0), input, &mut interner);
        let _ = dump(&parsed.expr, &interner);
    }
}

#[test]
fn fuzz_regressions_replay() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-regressions/nix_parser");
    kiln_testkit::replay_corpus(&dir, |data| {
        let mut interner = Interner::new();
        let parsed = parse(FileId(0), data, &mut interner);
        let _ = dump(&parsed.expr, &interner);
    });
}
