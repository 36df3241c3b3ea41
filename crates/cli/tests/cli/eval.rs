//! `nix-instantiate --eval` error output, byte for byte as current Nix prints it.
//!
//! Each `eval-errors/NAME.nix` is evaluated with `--eval --strict`; its full stderr must equal
//! `NAME.stderr`, and with `--show-trace` `NAME.show-trace.stderr` when that file exists (else
//! the same `NAME.stderr`). The expected files are the stderr of current Nix (2.26, run with
//! `/work/shared/tools/nix-current`), with the case directory written as `/pwd`; Nix 2.8 prints
//! errors differently (no code frames for traces, other wording), so it is not the oracle here.

use std::path::Path;

use crate::{legacy, stdout_of};

fn stderr_of(dir: &Path, file: &Path, show_trace: bool) -> String {
    String::from_utf8_lossy(&stderr_bytes_of(dir, file, show_trace)).into_owned()
}

/// The stderr of a failing case, byte for byte (a code frame of a line that is not UTF-8
/// prints its bytes, as Nix does), the case's directory written as `/pwd`.
fn stderr_bytes_of(dir: &Path, file: &Path, show_trace: bool) -> Vec<u8> {
    let mut cmd = legacy(dir, "nix-instantiate");
    cmd.current_dir(file.parent().unwrap());
    cmd.args(["--eval", "--strict"]);
    if show_trace {
        cmd.arg("--show-trace");
    }
    let out = cmd.arg(file).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}: exit status",
        file.display()
    );
    let case_dir = file.parent().unwrap().display().to_string();
    let mut bytes = Vec::with_capacity(out.stderr.len());
    let mut rest = &out.stderr[..];
    while !rest.is_empty() {
        if rest.starts_with(case_dir.as_bytes()) {
            bytes.extend_from_slice(b"/pwd");
            rest = &rest[case_dir.len()..];
        } else {
            bytes.push(rest[0]);
            rest = &rest[1..];
        }
    }
    bytes
}

#[test]
fn errors_print_like_current_nix() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli/eval-errors")
        .canonicalize()
        .unwrap();
    let mut files: Vec<_> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nix"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "cases missing from {}", cases.display());
    let mut failures = Vec::new();
    for file in &files {
        let plain = file.with_extension("stderr");
        let verbose = file.with_extension("show-trace.stderr");
        let verbose = if verbose.exists() {
            verbose
        } else {
            plain.clone()
        };
        for (expected, show_trace) in [(plain, false), (verbose, true)] {
            let want = std::fs::read_to_string(&expected).unwrap();
            let got = stderr_of(tmp.path(), file, show_trace);
            if got != want {
                failures.push(format!(
                    "{} (show-trace: {show_trace}):\n--- expected\n{want}--- got\n{got}",
                    file.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The evaluator's `eval-fail-NAME.nix` cases (`crates/eval/tests/lang`), whole stderr: without
/// `--show-trace` it must equal `eval-fail-NAME.err.exp`, with it
/// `eval-fail-NAME.show-trace.err.exp` where that exists (else the same `.err.exp`). The
/// expected files are current Nix's (2.26) stderr, written by `crates/eval/tests/diff-errors
/// --accept`, with the case directory as `/pwd`. Where Kiln still prints something else, the
/// case is listed in `errors-pending` (`NAME plain` or `NAME trace`); a listed case that
/// matches fails the test too, so the list only shrinks.
#[test]
fn lang_errors_print_like_current_nix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../eval/tests/lang")
        .canonicalize()
        .unwrap();
    let pending_file = dir.join("errors-pending");
    let pending_text = std::fs::read_to_string(&pending_file).unwrap();
    let pending: std::collections::BTreeSet<&str> = pending_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("eval-fail-") && name.ends_with(".nix")
        })
        .filter(|p| p.with_extension("err.exp").exists())
        .collect();
    files.sort();
    assert!(files.len() >= 150, "cases missing from {}", dir.display());
    let mut failures = Vec::new();
    let mut now_passing = Vec::new();
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let plain = file.with_extension("err.exp");
        let verbose = file.with_extension("show-trace.err.exp");
        let verbose = if verbose.exists() {
            verbose
        } else {
            plain.clone()
        };
        for (expected, show_trace, mode) in [(plain, false, "plain"), (verbose, true, "trace")] {
            let want = std::fs::read(&expected).unwrap();
            let got = stderr_bytes_of(tmp.path(), file, show_trace);
            let key = format!("{name} {mode}");
            match (got == want, pending.contains(key.as_str())) {
                (true, true) => now_passing.push(key),
                (false, false) => failures.push(format!(
                    "{key}:\n--- expected\n{}--- got\n{}",
                    String::from_utf8_lossy(&want),
                    String::from_utf8_lossy(&got)
                )),
                _ => {}
            }
        }
    }
    assert!(
        now_passing.is_empty(),
        "these now match current Nix: remove them from {}:\n{}",
        pending_file.display(),
        now_passing.join("\n")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `nix-instantiate --eval` flags that Nix 2.8 and current Nix agree on: the same stdout, and
/// success or failure alike.
#[test]
fn flags_agree_with_nix_2_8() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli/eval-flags")
        .canonicalize()
        .unwrap();
    let cases: &[&[&str]] = &[
        // A function with a set pattern is called only when arguments are given.
        &["fun.nix"],
        // (Strict: without it Nix prints the unevaluated `sum` and `f` as <CODE>, where Kiln
        // has computed `a + b` eagerly and made `f` without a thunk.)
        &["--strict", "fun.nix", "--arg", "b", "2"],
        &[
            "fun.nix", "--arg", "b", "2", "--argstr", "c", "hi", "-A", "c",
        ],
        // -A calls each value before selecting from it, and the last only with arguments.
        &["fun.nix", "--arg", "b", "2", "-A", "sum"],
        &["fun.nix", "--arg", "b", "2", "-A", "l.0.x"],
        &["fun.nix", "--arg", "b", "2", "-A", "l.1"],
        &["fun.nix", "--arg", "b", "2", "-A", "f"],
        &["fun.nix", "--arg", "b", "2", "-A", "f", "--arg", "d", "5"],
        &["fun.nix", "--arg", "b", "2", "-A", "g"],
        &["fun.nix", "--arg", "b", "2", "-A", "l.5"],
        &["fun.nix", "--arg", "b", "2", "-A", "sum.x"],
        &["fun.nix", "-A", "sum"],
        &["set.nix", "-A", ""],
        &["set.nix", "-A", "a", "-A", "a"],
        // Several files or expressions, one value each.
        &["fun.nix", "set.nix", "--arg", "b", "2", "-A", "c"],
        &["-E", "{ a = 1; }", "{ b = 2; }"],
        &["-E", "{ x ? 1 }: x"],
        &["-E", "{ x }: x", "--arg", "x", "1 + 2"],
        &["-E", "{ x }: x", "--argstr", "x", "s"],
        // A quoted part of an -A path may contain dots.
        &["-E", "{ a.\"b.c\".d = 1; }", "-A", "a.\"b.c\".d"],
        &["-E", "{ a.\"b.c\" = 1; }", "-A", "a.\"b.c"],
        &["-E", "{ a.b = 1; }", "-A", "a.b."],
    ];
    for args in cases {
        let run = |mut cmd: std::process::Command| {
            let out = cmd
                .current_dir(&dir)
                .arg("--eval")
                .args(*args)
                .output()
                .unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        };
        let ours = run(legacy(tmp.path(), "nix-instantiate"));
        let theirs = run(crate::reference(tmp.path(), "nix-instantiate"));
        assert_eq!(ours, theirs, "nix-instantiate --eval {args:?}");
    }
}

/// With `abort-on-warn`, `builtins.warn` prints its warning and then fails (Nix 2.26's stderr).
#[test]
fn abort_on_warn() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = legacy(tmp.path(), "nix-instantiate")
            .args(["--eval", "-E", "builtins.warn \"careful\" 1"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let warning = "evaluation warning: careful\n";
    assert_eq!(run(&[]), (Some(0), "1\n".into(), warning.into()));
    assert_eq!(
        run(&["--option", "abort-on-warn", "true"]),
        (
            Some(1),
            String::new(),
            format!(
                "{warning}error:\n       … while calling the 'warn' builtin\n         at «string»:1:1:\n            1| builtins.warn \"careful\" 1\n             | ^\n\n       error: aborting to reveal stack trace of warning, as abort-on-warn is set\n"
            )
        )
    );
}

/// Colours in messages are dropped when stderr is not a terminal, as Nix 2.26 does (lib's
/// module system colours parts of its errors).
#[test]
fn ansi_escapes_dropped_on_a_pipe() {
    let tmp = tempfile::tempdir().unwrap();
    let out = legacy(tmp.path(), "nix-instantiate")
        .args([
            "--eval",
            "-E",
            "builtins.trace \"\x1b[1;31mred\x1b[0m\" (throw \"x \x1b[1mbold\x1b[0m y\")",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    assert!(stderr.starts_with("trace: red\nerror:\n"), "{stderr}");
    assert!(stderr.ends_with("       error: x bold y\n"), "{stderr}");
}

/// `-` reads the expression from standard input, named `«stdin»` in messages.
#[test]
fn stdin_expression() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let run = |input: &str, args: &[&str]| {
        let mut child = legacy(tmp.path(), "nix-instantiate")
            .args(["--eval", "-"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    assert_eq!(run("{ x }: x * 2", &["--arg", "x", "21"]).0, "42\n");
    // The stderr of Nix 2.26 for the same input.
    assert_eq!(
        run("x", &[]).1,
        "error: undefined variable 'x'\n       at «stdin»:1:1:\n            1| x\n             | ^\n"
    );
}

/// Errors of auto-calling and `-A`, as Nix 2.26 prints them (Nix 2.8 has no explanation and
/// points at the function, not the formal).
#[test]
fn auto_call_errors_like_current_nix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli/eval-flags")
        .canonicalize()
        .unwrap();
    let stderr = |args: &[&str]| {
        let out = legacy(tmp.path(), "nix-instantiate")
            .current_dir(&dir)
            .arg("--eval")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).replace(&dir.display().to_string(), "/pwd")
    };
    assert_eq!(
        stderr(&["fun.nix", "-A", "sum"]),
        "error: cannot evaluate a function that has an argument without a value ('b')
       Nix attempted to evaluate a function as a top level expression; in
       this case it must have its arguments supplied either by default
       values, or passed explicitly with '--arg' or '--argstr'. See
       https://nixos.org/manual/nix/stable/language/constructs.html#functions.
       at /pwd/fun.nix:1:10:
            1| { a ? 1, b, c ? \"x\" }: { sum = a + b; c = c; l = [ { x = 1; } (y: y) ]; f = { d }: d; g = x: x; }
             |          ^
            2|
"
    );
    assert_eq!(
        stderr(&["set.nix", "-A", "b"]),
        "error: attribute 'b' in selection path 'b' not found
       Did you mean a?
"
    );
}

/// Printing without `--strict`: what is not evaluated yet prints as `<CODE>`, and a variable
/// bound to an earlier binding of the same `let`, `rec` or pattern shares its value.
#[test]
fn lazy_printing_like_nix() {
    let tmp = tempfile::tempdir().unwrap();
    let eval =
        |mut cmd: std::process::Command, expr: &str| stdout_of(cmd.args(["--eval", "-E", expr]));
    for expr in [
        "let a = 1; b = a; in [ a b ]",
        "let b = a; a = 1; in [ a b ]",
        "rec { a = 1; b = a; }",
        "let a = 1; in rec { b = a; }",
        "[ (throw \"unforced\") { a = throw \"unforced\"; } ]",
        "let x = [ 1 ]; in [ x x ]",
    ] {
        let ours = eval(legacy(tmp.path(), "nix-instantiate"), expr);
        let theirs = eval(crate::reference(tmp.path(), "nix-instantiate"), expr);
        assert_eq!(ours, theirs, "{expr}");
    }
    // A default naming an earlier formal shares its value in current Nix (2.26 prints this);
    // Nix 2.8 made a thunk and printed [ 1 <CODE> ].
    assert_eq!(
        eval(
            legacy(tmp.path(), "nix-instantiate"),
            "({ x ? 1, y ? x }: [ x y ]) { }"
        ),
        "[ 1 1 ]\n"
    );
}

/// Experimental features as current Nix (2.26) has them, enabled with
/// `--extra-experimental-features`: the pipe operators, which parse into one flat call, and
/// TOML timestamps, printed from their source text. Outputs are Nix 2.26's (Nix 2.8 has
/// neither feature).
#[test]
fn experimental_features_like_current_nix() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |feature: &str, args: &[&str]| {
        stdout_of(
            legacy(tmp.path(), "nix-instantiate")
                .args(["--extra-experimental-features", feature])
                .args(args),
        )
    };
    let pipes = "[ ([ 1 2 ] |> map (x: x * 10)) (builtins.head <| [ 3 ]) ]";
    assert_eq!(
        run("pipe-operators", &["--eval", "--strict", "-E", pipes]),
        "[ [ 10 20 ] 3 ]\n"
    );
    let parse = "let f = x: y: z: 1; g = f; a = 1; b = 2; c = 3; in \
                 [ (a |> f b |> g c) (f <| g <| 1) (1 |> (f a)) ((1 |> f) 2) ]";
    assert_eq!(
        run("pipe-operators", &["--parse", "-E", parse]),
        "(let a = 1; b = 2; c = 3; f = (x: (y: (z: 1))); g = f; in \
         [ ((g c (f b a))) ((f (g 1))) ((f a 1)) ((f 1 2)) ])\n"
    );
    let out =
        crate::failure_of(legacy(tmp.path(), "nix-instantiate").args(["--eval", "-E", pipes]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: experimental Nix feature 'pipe-operators' is disabled"),
        "{err}"
    );

    let toml = r#"builtins.fromTOML "a = 1979-05-27 07:32:00.5-00:00\nb = [ 07:32:00.1234567891 ]\nc.d = 1979-05-27\ne = 1979-05-27T00:32:00+05:30""#;
    assert_eq!(
        run("parse-toml-timestamps", &["--eval", "--strict", "-E", toml]),
        r#"{ a = { _type = "timestamp"; value = "1979-05-27 07:32:00.5Z"; }; b = [ { _type = "timestamp"; value = "07:32:00.123456789"; } ]; c = { d = { _type = "timestamp"; value = "1979-05-27"; }; }; e = { _type = "timestamp"; value = "1979-05-27T00:32:00+05:30"; }; }"#
            .to_owned()
            + "\n"
    );
    let out = crate::failure_of(
        legacy(tmp.path(), "nix-instantiate").args(["--eval", "--strict", "-E", toml]),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Dates and times are not supported"), "{err}");
}

/// `pure-eval` and `restrict-eval` as Nix 2.26 enforces them (outputs and messages checked
/// with it): no environment, clock, system or search path in a pure evaluation; only the
/// search path's files in a restricted one, whose parent directories show only the way there;
/// errors name the first directory that may not be read.
#[test]
fn pure_and_restricted_evaluation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("files");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("sub.nix"), "42").unwrap();
    std::fs::write(dir.join("other.nix"), "1").unwrap();
    std::fs::create_dir(tmp.path().join("sibling")).unwrap();
    let d = dir.display();
    let parent = tmp.path().display();
    let first = format!(
        "/{}",
        tmp.path()
            .components()
            .nth(1)
            .unwrap()
            .as_os_str()
            .to_string_lossy()
    );
    let run = |args: &[&str]| {
        legacy(tmp.path(), "nix-instantiate")
            .env("HOME", "/home/someone")
            .args(args)
            .output()
            .unwrap()
    };

    let pure = format!(
        r#"{{ a = builtins.getEnv "HOME"; b = builtins ? currentTime; c = builtins ? currentSystem; d = builtins.nixPath; e = builtins.pathExists {d}; }}"#
    );
    let out = run(&[
        "--option",
        "pure-eval",
        "true",
        "--eval",
        "--strict",
        "-E",
        &pure,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{ a = \"\"; b = false; c = false; d = [ ]; e = false; }\n"
    );
    let file = format!("{d}/sub.nix");
    let out = run(&["--pure-eval", "--eval", &file]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: access to absolute path '{first}' is forbidden in pure evaluation mode \
             (use '--impure' to override)\n"
        )
    );
    let read = format!("builtins.readFile {file}");
    let out = run(&["--pure-eval", "--eval", "-E", &read]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "\n       … while realising the context of path '{file}'\n\n       error: access to \
             absolute path '{first}' is forbidden in pure evaluation mode"
        )),
        "{err}"
    );
    for who in ["fetchurl", "fetchTarball"] {
        let expr = format!("builtins.{who} {{ url = \"file:///nonexistent\"; }}");
        let out = run(&["--pure-eval", "--eval", "-E", &expr]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "error: in pure evaluation mode, '{who}' requires a 'sha256' argument"
            )),
            "{err}"
        );
    }
    let out = run(&["--pure-eval", "--eval", "-E", "[ x ~/foo/bar ]"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: the path '~/foo/bar' can not be resolved in pure mode\n"
    );
    let out = run(&["--pure-eval", "--eval", "-E", "<nixpkgs>"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "error: cannot look up '<nixpkgs>' in pure evaluation mode (use '--impure' to override)"
        ),
        "{err}"
    );

    let include = format!("foo={d}");
    let restricted = format!(
        r#"[ (import <foo/sub.nix>) (builtins.pathExists {d}/other.nix) (builtins.pathExists {parent}) (builtins.pathExists {parent}/sibling) (builtins.getEnv "HOME") (builtins.attrNames (builtins.readDir {parent})) ]"#
    );
    let out = run(&[
        "--option",
        "restrict-eval",
        "true",
        "-I",
        &include,
        "--eval",
        "--strict",
        "-E",
        &restricted,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[ 42 true true false \"\" [ \"files\" ] ]\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outside = format!("builtins.readFile {parent}/sibling");
    let out = run(&[
        "--option",
        "restrict-eval",
        "true",
        "-I",
        &include,
        "--eval",
        "-E",
        &outside,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "error: access to absolute path '{parent}/sibling' is forbidden in restricted mode"
        )),
        "{err}"
    );
}

/// `builtins.trace` prints its value as Nix 2.26 does: nothing forced (`«thunk»`), a value
/// being evaluated as `«potential infinite recursion»`, `«repeated»`, no limits;
/// `traceVerbose` prints only under `--trace-verbose`; `NIX_ABORT_ON_WARN=1` is
/// `--abort-on-warn`. Expected stderr from Nix 2.26 (Nix's own lang tests check these).
#[test]
fn trace_like_current_nix() {
    let tmp = tempfile::tempdir().unwrap();
    let stderr = |args: &[&str], env: Option<(&str, &str)>| {
        let mut cmd = legacy(tmp.path(), "nix-instantiate");
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.args(args).output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    for (expr, want) in [
        (
            "let x = builtins.trace { x = x; } true; in x",
            "trace: { x = «potential infinite recursion»; }\n",
        ),
        (
            "let x = { repeating = x; tracing = builtins.trace x true; }; in x.tracing",
            "trace: { repeating = «repeated»; tracing = «potential infinite recursion»; }\n",
        ),
        (
            "builtins.trace [ (1+1) { a = 1; } ] 1",
            "trace: [ «thunk» «thunk» ]\n",
        ),
        (
            "let l = builtins.genList (x: x) 12; in builtins.deepSeq l (builtins.trace l 1)",
            "trace: [ 0 1 2 3 4 5 6 7 8 9 10 11 ]\n",
        ),
    ] {
        assert_eq!(stderr(&["--eval", "-E", expr], None), want, "{expr}");
    }
    let verbose = "builtins.traceVerbose \"Hello\" 123";
    assert_eq!(
        stderr(&["--trace-verbose", "--eval", "-E", verbose], None),
        "trace: Hello\n"
    );
    assert_eq!(stderr(&["--eval", "-E", verbose], None), "");
    let warn = "builtins.warn \"Hello\" 123";
    let err = stderr(&["--eval", "-E", warn], Some(("NIX_ABORT_ON_WARN", "1")));
    assert!(
        err.starts_with("evaluation warning: Hello\nerror:"),
        "{err}"
    );
    let err = stderr(&["--eval", "-E", warn], Some(("NIX_ABORT_ON_WARN", "0")));
    assert_eq!(err, "evaluation warning: Hello\n");
}

/// A read-only evaluation (`--eval` without `--read-write-mode`) computes `toFile`'s path
/// without writing it, so reading it fails as in Nix 2.26 (the context's path "is not
/// valid"); with `--read-write-mode` it is written and read, also under `restrict-eval`
/// (Nix's own functional test checks that one).
#[test]
fn reading_what_to_file_made() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let store = store.to_str().unwrap();
    let expr = "builtins.readFile (builtins.toFile \"source\" \"47\")";
    let out = legacy(tmp.path(), "nix-instantiate")
        .args(["--store", store, "--eval", "-E", expr])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let path = "/nix/store/p0702asm9329pzxy130r2c4z51id2vil-source";
    assert!(
        err.contains(&format!(
            "… while realising the context of path '{path}'\n\n       error: path '{path}' is not valid\n"
        )),
        "{err}"
    );
    assert_eq!(
        stdout_of(legacy(tmp.path(), "nix-instantiate").args([
            "--store",
            store,
            "--read-write-mode",
            "--eval",
            "-E",
            expr
        ])),
        "\"47\"\n"
    );
    let import = "import (builtins.toFile \"source\" \"42\")";
    assert_eq!(
        stdout_of(legacy(tmp.path(), "nix-instantiate").args([
            "--store",
            store,
            "--option",
            "restrict-eval",
            "true",
            "--read-write-mode",
            "--eval",
            "-E",
            import
        ])),
        "42\n"
    );
}

/// `nix-instantiate --eval --raw`, as in Nix 2.26: a string's bytes without quotes or newline,
/// the last of `--raw`/`--json` deciding, and Nix's frame for a value that is not a string.
/// (`--json` itself ends with no newline, as in Nix 2.8: `legacy_day_one.rs`.)
#[test]
fn raw_output_like_current_nix() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        legacy(tmp.path(), "nix-instantiate")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--eval", "--raw", "-E", "{ s = \"foo\\nbar\"; }.s"]);
    assert_eq!(out.stdout, b"foo\nbar");
    assert_eq!(
        run(&["--eval", "--raw", "--json", "-E", "\"a\""]).stdout,
        b"\"a\""
    );
    assert_eq!(
        run(&["--eval", "--json", "--raw", "-E", "\"a\""]).stdout,
        b"a"
    );
    let out = run(&["--eval", "--raw", "-E", "1"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error:\n       … while generating the nix-instantiate output\n\n       error: cannot \
         coerce an integer to a string: 1\n"
    );
}

/// A file that is a symbolic link to itself fails at once, in Nix 2.26's words.
#[test]
fn symlink_cycle() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cycle.nix");
    std::os::unix::fs::symlink("cycle.nix", &file).unwrap();
    let out = legacy(tmp.path(), "nix-instantiate")
        .arg("--eval")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: too many symbolic links encountered while traversing the path '{}'\n",
            file.display()
        )
    );
}

/// Under `restrict-eval` a symbolic link may not lead out of the allowed directories, and a
/// search path lookup that finds something out of bounds fails there (Nix's functional
/// `restricted` test; messages as Nix 2.26's).
#[test]
fn restricted_evaluation_follows_links() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join("tunnel.d")).unwrap();
    std::fs::create_dir_all(root.join("foo2")).unwrap();
    std::os::unix::fs::symlink("..", root.join("tunnel.d/tunnel")).unwrap();
    std::fs::write(root.join("bar"), "foo").unwrap();
    let include = format!("foo={}/tunnel.d", root.display());
    let run = |expr: &str| {
        legacy(tmp.path(), "nix-instantiate")
            .args(["--restrict-eval", "--eval", "-I", &include, "-E", expr])
            .output()
            .unwrap()
    };
    for expr in [
        "builtins.readFile <foo/tunnel/bar>",
        "builtins.readDir <foo/tunnel/foo2>",
    ] {
        let out = run(expr);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("… while calling the 'findFile' builtin")
                && err.ends_with(&format!(
                    "error: access to absolute path '{}' is forbidden in restricted mode\n",
                    root.join(&expr[expr.rfind('/').unwrap() + 1..expr.len() - 1])
                        .display()
                )),
            "{expr}: {err}"
        );
    }
    let out = run("builtins.attrNames (builtins.readDir <foo/tunnel>)");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[ \"tunnel.d\" ]\n");
}

/// `--arg-from-file NAME PATH` passes a file's contents as a string argument (special files
/// such as `/proc/version` drained whole), as in Nix 2.26.
#[test]
fn arg_from_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("arg.txt");
    std::fs::write(&file, "hello\n").unwrap();
    let out = legacy(tmp.path(), "nix-instantiate")
        .args(["--eval", "--arg-from-file", "foo"])
        .arg(&file)
        .args(["-E", "{ foo }: foo"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "\"hello\\n\"\n");
    if let Ok(version) = std::fs::read_to_string("/proc/version") {
        let out = legacy(tmp.path(), "nix-instantiate")
            .args(["--eval", "--arg-from-file", "foo", "/proc/version"])
            .args(["-E", "{ foo }: builtins.stringLength foo"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{}\n", version.len())
        );
    }
    let missing = tmp.path().join("missing.txt");
    let out = legacy(tmp.path(), "nix-instantiate")
        .args(["--eval", "--arg-from-file", "foo"])
        .arg(&missing)
        .args(["-E", "{ foo }: foo"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: opening file '{}': No such file or directory\n",
            missing.display()
        )
    );
}
