//! `nix-instantiate --eval` error output, byte for byte as current Nix prints it.
//!
//! Each `eval-errors/NAME.nix` is evaluated with `--eval --strict`; its full stderr must equal
//! `NAME.stderr`, and with `--show-trace` `NAME.show-trace.stderr` when that file exists (else
//! the same `NAME.stderr`). The expected files are the stderr of current Nix (2.26, run with
//! `/work/shared/tools/nix-current`), with the case directory written as `/pwd`; Nix 2.8 prints
//! errors differently (no code frames for traces, other wording), so it is not the oracle here.

use std::path::Path;

use crate::legacy;

fn stderr_of(dir: &Path, file: &Path, show_trace: bool) -> String {
    let mut cmd = legacy(dir, "nix-instantiate");
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
    String::from_utf8_lossy(&out.stderr).replace(&case_dir, "/pwd")
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
