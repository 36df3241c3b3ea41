//! The builtins that read outside data (`fromJSON`, `fromTOML`, the regular expressions of
//! `match` and `split`) never panic, whatever they are given: every input is a value or an
//! evaluation error. Inputs are generated from each format's alphabet with a fixed seed, so
//! a failure reproduces.

use std::path::Path;

use kiln_eval::io::FsIo;
use kiln_eval::{Bump, ErrorKind, Eval, EvalSettings};

/// A small deterministic generator (xorshift), so that no dependency is needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'t>(&mut self, items: &[&'t str]) -> &'t str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// A Nix string literal holding `s`.
fn literal(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Evaluates each expression (deeply) on a thread with the evaluator's stack; a panic fails.
/// Returns how many gave a value; an error that is not the builtin's (a syntax error in the
/// generated expression) fails.
fn evaluate_all(exprs: Vec<String>) -> usize {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let arena = Bump::new();
            let mut ev = Eval::new(&arena, Box::new(FsIo::new()), EvalSettings::default());
            let mut values = 0;
            for e in &exprs {
                match ev
                    .eval_string(e.as_bytes(), Path::new("/"))
                    .and_then(|v| ev.force_deep(v))
                {
                    Ok(_) => values += 1,
                    Err(err) => assert!(
                        matches!(err.kind, ErrorKind::Message(_)),
                        "{e}: {}",
                        err.kind
                    ),
                }
            }
            values
        })
        .unwrap()
        .join()
        .expect("an input made a builtin panic")
}

fn generate(seed: u64, alphabet: &[&str], n: usize, max_len: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let len = rng.next() % max_len;
            (0..len).map(|_| rng.pick(alphabet)).collect()
        })
        .collect()
}

#[test]
fn from_json_never_panics() {
    let alphabet = [
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        " ",
        "\n",
        "\"",
        "\\",
        "\\u",
        "d800",
        "dc00",
        "0041",
        "0000",
        "a",
        "1",
        "0",
        "-",
        ".",
        "e",
        "+",
        "E",
        "9223372036854775808",
        "1e400",
        "true",
        "fals",
        "null",
        "é",
        "\u{1}",
        "\"k\":",
        "\\n",
    ];
    let exprs = generate(0x5eed_0001, &alphabet, 3000, 24)
        .iter()
        .map(|s| format!("builtins.fromJSON {}", literal(s)))
        .collect();
    let values = evaluate_all(exprs);
    assert!(values > 10, "only {values} inputs parsed");
}

#[test]
fn from_toml_never_panics() {
    let alphabet = [
        "a",
        " = ",
        "=",
        "\n",
        "[",
        "]",
        "[[",
        "]]",
        "{",
        "}",
        ",",
        ".",
        "\"",
        "'",
        "'''",
        "\"\"\"",
        "1",
        "0x",
        "0o",
        "0b",
        "_",
        "inf",
        "nan",
        "-",
        "+",
        "1979-05-27",
        "T",
        "07:32:00",
        "Z",
        "#",
        "true",
        "\\u0000",
        "\\",
        "é",
        "9223372036854775808",
    ];
    let exprs = generate(0x5eed_0002, &alphabet, 3000, 16)
        .iter()
        .map(|s| format!("builtins.fromTOML {}", literal(s)))
        .collect();
    let values = evaluate_all(exprs);
    assert!(values > 10, "only {values} inputs parsed");
}

#[test]
fn regular_expressions_never_panic() {
    let pattern_alphabet = [
        "a",
        "b",
        ".",
        "*",
        "+",
        "?",
        "|",
        "(",
        ")",
        "[",
        "]",
        "^",
        "$",
        "{",
        "}",
        "1",
        ",",
        "2",
        "-",
        "\\",
        "[:alpha:]",
        "[:foo:]",
        "[.a.]",
        "[=",
        "é",
        "\n",
    ];
    let subject_alphabet = ["a", "b", "ab", "", "é", "\n", "-", "1"];
    let patterns = generate(0x5eed_0003, &pattern_alphabet, 1500, 12);
    let subjects = generate(0x5eed_0004, &subject_alphabet, 1500, 8);
    let exprs = patterns
        .iter()
        .zip(&subjects)
        .flat_map(|(p, s)| {
            [
                format!("builtins.match {} {}", literal(p), literal(s)),
                format!("builtins.split {} {}", literal(p), literal(s)),
            ]
        })
        .collect();
    let values = evaluate_all(exprs);
    assert!(values > 100, "only {values} patterns compiled");
}
