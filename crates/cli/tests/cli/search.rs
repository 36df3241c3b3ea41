//! `kiln search`: packages found by regular expressions, printed as `nix search` (2.26)
//! prints them; packages that fail to evaluate are skipped.

use super::{failure_of, kiln, stdout_of};

const SET: &str = r#"{ greeting ? "friendly" }: {
  hello = derivation { name = "hello-2.10"; system = "x"; builder = "b"; meta.description = "A ${greeting} greeting"; };
  broken = throw "no";
  brokenName = derivation { name = throw "bad"; system = "x"; builder = "b"; };
  sub = { recurseForDerivations = true; hi = derivation { name = "hi"; system = "x"; builder = "b"; }; };
  plain = { x = derivation { name = "x-1"; system = "x"; builder = "b"; }; };
  zsh = derivation { name = "zsh-5.4"; system = "x"; builder = "b"; meta.description = "The Z shell"; };
}
"#;

fn set(dir: &std::path::Path) -> std::path::PathBuf {
    let f = dir.join("set.nix");
    std::fs::write(&f, SET).unwrap();
    f
}

#[test]
fn search_prints_matches_as_nix_does() {
    let tmp = tempfile::tempdir().unwrap();
    let f = set(tmp.path());
    // What Nix 2.26 prints for `nix search -f set.nix '' h friendly`.
    let out = stdout_of(
        kiln()
            .arg("search")
            .arg("-f")
            .arg(&f)
            .args(["h", "friendly"]),
    );
    assert_eq!(
        out,
        "* \x1b[0;1m\x1b[32;1mh\x1b[0;1mello\x1b[0m (2.10)\n  A \x1b[32;1mfriendly\x1b[0m greeting\n"
    );
    // Every package (`^`), in attribute order, a blank line between them; sets marked
    // `recurseForDerivations` are searched, others and failing packages are not.
    let out = stdout_of(kiln().arg("search").arg("-f").arg(&f).arg("^"));
    assert_eq!(
        out,
        "* \x1b[0;1m\x1b[32;1m\x1b[0;1mhello\x1b[0m (2.10)\n  \x1b[32;1m\x1b[0mA friendly greeting\n\n\
         * \x1b[0;1m\x1b[32;1m\x1b[0;1msub.hi\x1b[0m\n\n\
         * \x1b[0;1m\x1b[32;1m\x1b[0;1mzsh\x1b[0m (5.4)\n  \x1b[32;1m\x1b[0mThe Z shell\n"
    );
}

#[test]
fn search_json_exclude_args_and_no_results() {
    let tmp = tempfile::tempdir().unwrap();
    let f = set(tmp.path());
    let out = stdout_of(
        kiln()
            .arg("search")
            .arg("-f")
            .arg(&f)
            .args(["--json", "SH|HEL", "--argstr", "greeting", "warm"]),
    );
    assert_eq!(
        out,
        r#"{"hello":{"description":"A warm greeting","pname":"hello","version":"2.10"},"zsh":{"description":"The Z shell","pname":"zsh","version":"5.4"}}"#
            .to_owned()
            + "\n"
    );
    let out = stdout_of(
        kiln()
            .arg("search")
            .arg("-f")
            .arg(&f)
            .args(["--json", "h", "-e", "shell"]),
    );
    assert!(out.contains("\"hello\"") && out.contains("\"sub.hi\"") && !out.contains("zsh"));
    let out = failure_of(
        kiln()
            .arg("search")
            .arg("-f")
            .arg(&f)
            .arg("nothing-like-it"),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no results for the given search term(s)!\n"
    );
    let out = failure_of(kiln().arg("search").arg("-f").arg(&f));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Must provide at least one regex"));
}
