//! The data-driven evaluation suite over `tests/lang/`.
//!
//! * `eval-okay-NAME.nix` must evaluate; its value, forced and printed as
//!   `nix-instantiate --eval --strict` prints it, is compared with `eval-okay-NAME.exp`.
//! * `eval-fail-NAME.nix` must fail; the error message (its first line) is compared with
//!   `eval-fail-NAME.err`.
//!
//! The case's directory prints as `/pwd`. `KILN_ACCEPT=1` rewrites the expected files. Every
//! case also runs through the reference Nix 2.8, which must print the same value (or also
//! fail), except the cases in [`CURRENT_ONLY`], where current Nix differs from 2.8 and Kiln
//! follows current Nix (checked with Nix 2.26).

use std::path::Path;

use kiln_eval::io::FsIo;
use kiln_eval::{Bump, Eval, EvalSettings};

/// Cases where Nix 2.8 differs from current Nix, which Kiln follows.
const CURRENT_ONLY: &[(&str, &str)] = &[
    (
        "eval-fail-int-overflow",
        "Nix 2.8 wraps around; current Nix reports the overflow",
    ),
    (
        "eval-fail-overflow-mul",
        "Nix 2.8 wraps around to -2; current Nix reports the overflow",
    ),
    (
        "eval-fail-overflow-neg",
        "Nix 2.8 wraps around; current Nix reports the overflow of 0 - min",
    ),
    (
        "eval-fail-overflow-sub",
        "Nix 2.8 wraps around; current Nix reports the overflow",
    ),
    (
        "eval-okay-attrs-quoted-names",
        "Nix 2.8 prints the name \"let\" bare and \"$\" as \"\\$\"; current Nix quotes the first, not the second",
    ),
    (
        "eval-okay-print-functions",
        "Nix 2.8 prints <LAMBDA> too, but «repeated» differs",
    ),
    (
        "eval-okay-replaceStrings-lazy",
        "Nix 2.8 forces every 'to' string; current Nix only those it uses",
    ),
    (
        "eval-fail-fromJSON-nul",
        "Nix 2.8 cuts the string at the NUL; current Nix reports it",
    ),
    (
        "eval-fail-fromJSON-unsigned",
        "Nix 2.8 wraps integers above 2^63 - 1 around; current Nix reports them",
    ),
    (
        "eval-fail-fromTOML-nul",
        "Nix 2.8 cuts the string at the NUL; current Nix reports it",
    ),
    (
        "eval-fail-fromTOML-too-large",
        "Nix 2.8's toml11 saturates at 2^63 - 1; current Nix's reports the overflow",
    ),
    (
        "eval-okay-break",
        "builtins.break is missing from Nix 2.8 without the debugger",
    ),
    (
        "eval-okay-traceVerbose",
        "builtins.traceVerbose is new since Nix 2.8",
    ),
    (
        "eval-okay-traceVerbose-lazy-message",
        "builtins.traceVerbose is new since Nix 2.8",
    ),
    (
        "eval-fail-findFile-no-escape",
        "Nix 2.8 lets '..' climb out of a search path entry; current Nix does not",
    ),
    (
        "eval-okay-addDrvOutputDependencies",
        "builtins.addDrvOutputDependencies is new since Nix 2.8",
    ),
    (
        "eval-okay-convertHash-algos",
        "builtins.convertHash is new in Nix 2.21",
    ),
    (
        "eval-okay-convertHash-extra-attrs",
        "builtins.convertHash is new in Nix 2.21",
    ),
    (
        "eval-okay-convertHash-formats",
        "builtins.convertHash is new in Nix 2.21",
    ),
    (
        "eval-okay-convertHash-inputs",
        "builtins.convertHash is new in Nix 2.21",
    ),
    (
        "eval-okay-convertHash-sri-unpadded",
        "builtins.convertHash is new in Nix 2.21",
    ),
    (
        "eval-fail-genList-not-function",
        "Nix 2.8 never forces the generator of an empty list; current Nix always does",
    ),
    (
        "eval-fail-toJSON-incomplete-utf8",
        "Nix 2.8 writes bytes that are not UTF-8 into JSON; current Nix reports them",
    ),
    (
        "eval-fail-toJSON-invalid-utf8-byte",
        "Nix 2.8 writes bytes that are not UTF-8 into JSON; current Nix reports them",
    ),
    (
        "eval-okay-genericClosure-empty-start",
        "Nix 2.8 requires 'operator' even for an empty start set; current Nix returns the set",
    ),
    (
        "eval-okay-sort-filter-map-empty",
        "Nix 2.8 forces the function first; current Nix returns an empty list as it is",
    ),
    (
        "eval-fail-derivationStrict-output-drvPath",
        "Nix 2.8 makes an output named drvPath (and a set with drvPath twice); current Nix refuses it",
    ),
    (
        "eval-fail-deepSeq-too-deep",
        "Nix 2.8 follows 200000 nested sets; current Nix runs out of stack",
    ),
    (
        "eval-fail-tryEval-too-deep",
        "Nix 2.8 follows 200000 nested sets; current Nix runs out of stack",
    ),
    (
        "eval-fail-fromTOML-too-large-later-line",
        "Nix 2.8's toml11 saturates at -2^63; current Nix's reports the overflow",
    ),
    (
        "eval-fail-toJSON-non-utf8-source",
        "Nix 2.8 writes bytes that are not UTF-8 into JSON; current Nix reports them",
    ),
];

fn case_name(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

fn normalise(s: &str, dir: &Path) -> String {
    s.replace(&dir.display().to_string(), "/pwd")
}

/// Evaluates a case with Kiln: `Ok(printed value)` or `Err(message)`.
fn kiln(path: &Path) -> Result<String, String> {
    let path = path.to_path_buf();
    // The stack the CLI gives the evaluator (deep-nesting cases need it in debug builds).
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || {
            let arena = Bump::new();
            let mut ev = Eval::new(&arena, Box::new(FsIo::new()), EvalSettings::default());
            let res = ev.eval_file(&path).and_then(|v| {
                let v = ev.force_deep(v)?;
                kiln_eval::print::print_value(&mut ev, v, true)
            });
            res.map_err(|e| e.kind.to_string())
        })
        .unwrap()
        .join()
        .unwrap()
}

/// Evaluates a case with the reference Nix 2.8.
fn reference(path: &Path) -> Result<String, String> {
    let state = tempfile::tempdir().unwrap();
    let out = kiln_testkit::reference_command("nix-instantiate", state.path())
        .args(["--eval", "--strict"])
        .arg(path)
        .output()
        .expect("running the reference nix-instantiate");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn check(path: &Path) -> datatest_stable::Result<()> {
    let name = case_name(path);
    let dir = path.parent().unwrap().canonicalize()?;
    let path = dir.join(path.file_name().unwrap());
    let okay = name.starts_with("eval-okay-");
    let expected_file = path.with_extension(if okay { "exp" } else { "err" });
    let ours = kiln(&path);
    let got = match (&ours, okay) {
        (Ok(v), true) => normalise(v, &dir),
        (Err(e), false) => normalise(e.lines().next().unwrap_or(""), &dir),
        (Ok(v), false) => return Err(format!("{name}: expected an error, got {v}").into()),
        (Err(e), true) => return Err(format!("{name}: evaluation failed: {e}").into()),
    };
    if std::env::var_os("KILN_ACCEPT").is_some() {
        std::fs::write(&expected_file, format!("{got}\n"))?;
    } else {
        let want = std::fs::read_to_string(&expected_file)?;
        if want.trim_end() != got {
            return Err(format!("{name}:\nexpected: {}\n     got: {got}", want.trim_end()).into());
        }
    }
    let current_only = CURRENT_ONLY.iter().any(|(n, _)| *n == name);
    let theirs = reference(&path);
    match (theirs, okay) {
        (Ok(v), true) if !current_only => {
            let v = normalise(&v, &dir);
            if v != got {
                return Err(format!("{name}: Nix 2.8 prints {v}, Kiln {got}").into());
            }
        }
        (Err(e), true) if !current_only => {
            return Err(format!("{name}: Nix 2.8 fails: {e}").into());
        }
        (Ok(v), false) if !current_only => {
            return Err(format!("{name}: Nix 2.8 succeeds with {v}").into());
        }
        _ => {}
    }
    Ok(())
}

datatest_stable::harness! {
    { test = check, root = "tests/lang", pattern = r"^eval-(okay|fail)-.*\.nix$" },
}
