//! The data-driven parser suite over `tests/lang/`.
//!
//! * `parse-okay-NAME.nix` must parse without errors; its dump is compared with
//!   `parse-okay-NAME.ast`.
//! * `parse-fail-NAME.nix` must have errors; their rendering (`FILE:LINE:COL: message`, one a
//!   line) is compared with `parse-fail-NAME.err`.
//!
//! `KILN_ACCEPT=1` rewrites the expected files instead of comparing. Every case is also given
//! to the reference Nix 2.8 (`nix-instantiate --parse`), which must agree that it parses or
//! fails — except the cases in [`CURRENT_ONLY`], where Nix 2.8 and current Nix differ and we
//! follow current Nix: there 2.8 must give the opposite verdict, so the list stays true.

use std::path::Path;

use kiln_eval::{dump, parse, FileId, Interner, SourceMap};

/// Cases where Nix 2.8 disagrees with current Nix (2.26), which Kiln follows.
const CURRENT_ONLY: &[(&str, &str)] = &[
    (
        "parse-fail-null-byte",
        "Nix 2.8 cuts the string at the NUL byte; current Nix rejects it",
    ),
    (
        "parse-fail-null-byte-ind",
        "Nix 2.8 keeps the NUL byte in the string; current Nix rejects it",
    ),
];

fn case_name(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// Whether the reference Nix 2.8 parses the case without a syntax error.
///
/// `nix-instantiate --parse` also resolves variables, which is not the parser's job (it is
/// lowering's), so the case is given as `with {}; (CASE)`: under a `with`, no variable is
/// undefined, and the wrapper changes nothing else about whether the text parses.
fn reference_accepts(path: &Path, src: &[u8]) -> bool {
    let state = tempfile::tempdir().unwrap();
    let wrapped = state.path().join("case.nix");
    let mut text = b"with {}; (\n".to_vec();
    text.extend_from_slice(src);
    text.extend_from_slice(b"\n)\n");
    std::fs::write(&wrapped, text).unwrap();
    let out = kiln_testkit::reference_command("nix-instantiate", state.path())
        .arg("--parse")
        .arg(&wrapped)
        .output()
        .expect("running the reference nix-instantiate");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("undefined variable"),
        "{}: the wrapper should prevent this: {stderr}",
        path.display()
    );
    out.status.success()
}

fn check_reference(path: &Path, src: &[u8], we_accept: bool) -> datatest_stable::Result<()> {
    let name = case_name(path);
    let current_only = CURRENT_ONLY.iter().any(|(n, _)| *n == name);
    let reference = reference_accepts(path, src);
    let expected = if current_only { !we_accept } else { we_accept };
    if reference != expected {
        return Err(format!(
            "{name}: Nix 2.8 {} it{}",
            if reference { "accepts" } else { "rejects" },
            if current_only {
                " too (remove it from CURRENT_ONLY?)"
            } else {
                ""
            }
        )
        .into());
    }
    Ok(())
}

fn compare(expected_path: &Path, actual: &str) -> datatest_stable::Result<()> {
    if std::env::var_os("KILN_ACCEPT").is_some() {
        std::fs::write(expected_path, actual)?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(expected_path).map_err(|e| {
        format!(
            "{}: {e} (run with KILN_ACCEPT=1 to create it)",
            expected_path.display()
        )
    })?;
    if expected != actual {
        return Err(format!(
            "{} differs\n--- expected\n{expected}\n--- actual\n{actual}",
            expected_path.display()
        )
        .into());
    }
    Ok(())
}

fn parse_file(path: &Path, src: Vec<u8>) -> (String, Vec<String>) {
    let mut files = SourceMap::new();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let file: FileId = files.add(name, src);
    let mut interner = Interner::new();
    let parsed = parse(file, files.text(file), &mut interner);
    let errors = parsed
        .errors
        .iter()
        .map(|e| files.render_error(e))
        .collect();
    (dump(&parsed.expr, &interner), errors)
}

fn parse_okay(path: &Path, src: Vec<u8>) -> datatest_stable::Result<()> {
    let (ast, errors) = parse_file(path, src.clone());
    if !errors.is_empty() {
        return Err(format!("unexpected errors:\n{}", errors.join("\n")).into());
    }
    compare(&path.with_extension("ast"), &(ast + "\n"))?;
    check_reference(path, &src, true)
}

fn parse_fail(path: &Path, src: Vec<u8>) -> datatest_stable::Result<()> {
    let (_, errors) = parse_file(path, src.clone());
    if errors.is_empty() {
        return Err("parsed without errors".into());
    }
    compare(&path.with_extension("err"), &(errors.join("\n") + "\n"))?;
    check_reference(path, &src, false)
}

datatest_stable::harness! {
    { test = parse_okay, root = "tests/lang", pattern = r"^parse-okay-.*\.nix$" },
    { test = parse_fail, root = "tests/lang", pattern = r"^parse-fail-.*\.nix$" },
}
