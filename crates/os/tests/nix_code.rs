//! The Nix code Kiln ships (`nix/`), tested the way Nix tests its language: every
//! `nix/tests/<group>/eval-okay-NAME.nix` must evaluate (strictly) to the value printed in
//! `eval-okay-NAME.exp`, and every `eval-fail-NAME.nix` must fail with an error whose text
//! contains each line of `eval-fail-NAME.err` (`$DIR` stands for the test's directory, so
//! positions in the user's files can be asserted). `<kiln>` is `nix/` (the evaluator's default for it).
//! A test that is a function whose arguments all have defaults is called with them, as
//! `nix-instantiate --eval` would.
//!
//! Set `KILN_UPDATE_EXP=1` to (re)write the `.exp` files from what Kiln prints; review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use kiln_eval::print::print_value;
use kiln_eval::{EvalError, EvalSettings, SourceMap};
use kiln_fetch::FetchSettings;
use kiln_session::{evaluate, EvalConfig, SessionError, Source, StoreMode};

fn config(tmp: &Path) -> EvalConfig {
    EvalConfig {
        settings: EvalSettings::default(),
        store: StoreMode::ReadOnly {
            fetch_root: tmp.join("root"),
        },
        fetch: FetchSettings::new(tmp.join("cache")),
        reporter: None,
    }
}

/// The error as one text: the trace (outermost first) and the error, each with its position.
fn error_text(sources: &SourceMap, err: &EvalError) -> String {
    let mut out = String::new();
    for frame in err.trace.iter().rev() {
        out.push_str(&frame.message);
        if let Some(span) = frame.span {
            out.push_str(&format!(" at {}", sources.location(span)));
        }
        out.push('\n');
    }
    out.push_str(&format!("error: {}", err.kind));
    if let Some(span) = err.span {
        out.push_str(&format!(" at {}", sources.location(span)));
    }
    out
}

fn eval_file(file: &Path, tmp: &Path) -> Result<String, String> {
    let source = Source::File(file.to_path_buf());
    let cwd = file.parent().unwrap().to_path_buf();
    let res = evaluate(config(tmp), move |s| {
        let v = s.load(&source, &cwd)?;
        // A test `{ lib ? import <kiln/lib> }: …` is called with its defaults, so that the
        // same file can be evaluated with another `lib` (nix/tests/compare-with-nixpkgs).
        let no_args = s.auto_args(&[], &cwd)?;
        let v = s.auto_call(v, no_args)?;
        print_value(&mut s.ev, v, true)
    });
    match res {
        Ok(text) => Ok(text),
        Err(SessionError::Eval(f)) => Err(error_text(&f.sources, &f.error)),
        Err(e) => panic!("{}: {e}", file.display()),
    }
}

fn test_files() -> Vec<PathBuf> {
    // Canonical, so that positions in errors read `$DIR/…` (the canonical test directory).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../nix/tests")
        .canonicalize()
        .unwrap();
    let mut res = Vec::new();
    for group in fs::read_dir(&root).unwrap() {
        let group = group.unwrap().path();
        if !group.is_dir() {
            continue;
        }
        for f in fs::read_dir(&group).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap().to_str().unwrap().to_owned();
            if name.ends_with(".nix")
                && (name.starts_with("eval-okay-") || name.starts_with("eval-fail-"))
            {
                res.push(f);
            }
        }
    }
    res.sort();
    res
}

#[test]
fn nix_code_tests() {
    let tmp = tempfile::tempdir().unwrap();
    let update = std::env::var_os("KILN_UPDATE_EXP").is_some();
    let files = test_files();
    assert!(!files.is_empty(), "no tests under nix/tests");
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_str().unwrap();
        let dir = file.parent().unwrap().canonicalize().unwrap();
        let got = eval_file(file, tmp.path());
        if name.starts_with("eval-okay-") {
            let exp_file = file.with_extension("exp");
            match got {
                Ok(text) if update => fs::write(&exp_file, text + "\n").unwrap(),
                Ok(text) => {
                    let exp = fs::read_to_string(&exp_file).unwrap_or_default();
                    if exp.trim_end() != text {
                        failures.push(format!(
                            "{}:\n  expected: {}\n  got:      {text}",
                            file.display(),
                            exp.trim_end()
                        ));
                    }
                }
                Err(e) => failures.push(format!("{}: failed:\n{e}", file.display())),
            }
        } else {
            let err_file = file.with_extension("err");
            let want = fs::read_to_string(&err_file)
                .unwrap_or_else(|_| panic!("{} has no .err file", file.display()));
            match got {
                Ok(text) => failures.push(format!("{}: did not fail: {text}", file.display())),
                Err(e) => {
                    for line in want.lines().filter(|l| !l.trim().is_empty()) {
                        let line = line.replace("$DIR", &dir.display().to_string());
                        if !e.contains(&line) {
                            failures.push(format!(
                                "{}: the error lacks {line:?}:\n{e}",
                                file.display()
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
