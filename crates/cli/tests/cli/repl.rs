//! `kiln repl`, driven through a pseudo-terminal as a user types: completion, commands,
//! errors that do not end the session, history.

use std::path::{Path, PathBuf};
use std::process::Command;

use rexpect::reader::Options;
use rexpect::session::{spawn_with_options, PtySession};

fn nix_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../nix")
}

fn cache_home() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/kiln-pkgs-test-cache");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `kiln repl` on a terminal, with a temporary store and data directory.
fn start(tmp: &Path, extra: &[&str], editor: Option<&Path>) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    if let Some(e) = editor {
        cmd.env("EDITOR", e);
    }
    cmd.env_remove("KILN_STORE")
        .env("XDG_CONFIG_HOME", "/nonexistent-kiln-test-config")
        .env("XDG_DATA_HOME", tmp.join("data"))
        .env("XDG_CACHE_HOME", cache_home())
        .env("TERM", "xterm")
        .current_dir(tmp)
        .arg("repl")
        .arg("--store")
        .arg(tmp.join("root"))
        .arg("-I")
        .arg(format!("kiln={}", nix_dir().display()))
        .args(extra);
    let mut p = spawn_with_options(
        cmd,
        Options::new()
            .timeout_ms(Some(120_000))
            .strip_ansi_escape_codes(false),
    )
    .unwrap();
    p.exp_string("Type :? for help.").unwrap();
    p
}

/// Waits for the first prompt, returning what came before it.
fn first_prompt(p: &mut PtySession) -> String {
    strip_escapes(&p.exp_string("nix-repl> ").unwrap())
}

/// Types a line at the prompt and returns what the REPL printed before its next prompt (the
/// line editor drops what is typed before it reads, so each line waits for the prompt).
fn line(p: &mut PtySession, text: &str) -> String {
    settle();
    p.send_line(text).unwrap();
    strip_escapes(&p.exp_string("nix-repl> ").unwrap())
}

/// Gives the line editor time to finish drawing its prompt and start reading keys (what is
/// typed while it draws can be taken for its terminal's answers).
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(200));
}

/// `text` without terminal escape sequences (colours, the line editor's cursor moves).
fn strip_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.next_if_eq(&'[').is_some() {
            while chars.next_if(|c| ('\x30'..='\x3f').contains(c)).is_some() {}
            while chars.next_if(|c| ('\x20'..='\x2f').contains(c)).is_some() {}
            chars.next();
        } else {
            chars.next();
        }
    }
    out
}

/// Like [`line`], asserting that the output contains each of `expected`, in order.
#[track_caller]
fn expect(p: &mut PtySession, text: &str, expected: &[&str]) {
    let out = line(p, text);
    let mut rest = out.as_str();
    for e in expected {
        match rest.find(e) {
            Some(i) => rest = &rest[i + e.len()..],
            None => panic!("{text:?}: no {e:?} in {out:?}"),
        }
    }
}

#[test]
fn repl_completes_prints_types_reports_errors_and_quits() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = start(tmp.path(), &[], None);
    first_prompt(&mut p);

    // A binding, then its attribute completed from `pkgs.hel`.
    line(&mut p, r#"pkgs = { hello = "hi" + "there"; other = 3; }"#);
    settle();
    p.send("pkgs.hel\t").unwrap();
    p.flush().unwrap();
    p.exp_string("pkgs.hello").unwrap();
    expect(&mut p, "", &[r#""hithere""#]);

    // Variables complete too (bindings and builtins).
    line(&mut p, "mySpecialVariable = 20 + 22");
    settle();
    p.send("mySpecialV\t").unwrap();
    p.flush().unwrap();
    p.exp_string("mySpecialVariable").unwrap();
    expect(&mut p, "", &["42"]);
    settle();
    p.send("builtins.toJS\t").unwrap();
    p.flush().unwrap();
    p.exp_string("builtins.toJSON").unwrap();
    expect(&mut p, " { a = 7 * 6; }", &[r#""{\"a\":42}""#]);

    // `:t`, `:p` (deep; top-level strings raw), plain printing at depth 1.
    expect(&mut p, ":t pkgs.other", &["an integer"]);
    expect(&mut p, ":t builtins.map", &["the built-in function 'map'"]);
    expect(
        &mut p,
        r#":p { deep = [ (2 * 50) { x = "y" + "z"; } ]; }"#,
        &["{\r\n  deep = [\r\n    100\r\n    { x = \"yz\"; }\r\n  ];\r\n}"],
    );
    expect(
        &mut p,
        r#"{ deep = [ 1 ]; other = "s" + "t"; }"#,
        &["{\r\n  deep = [ ... ];\r\n  other = \"st\";\r\n}"],
    );
    expect(&mut p, r#":p "line1\nline2""#, &["line1\r\nline2"]);

    // Errors are printed and the session goes on.
    expect(&mut p, r#"throw ("bo" + "om")"#, &["error: boom"]);
    expect(
        &mut p,
        "undefinedThing",
        &["error: undefined variable 'undefinedThing'"],
    );
    expect(&mut p, ":a 5", &["expected a set but found an integer: 5"]);
    expect(&mut p, "100 + 23", &["123"]);

    // `:doc` of a builtin, `:a`, an expression over two lines.
    expect(
        &mut p,
        ":doc builtins.map",
        &["Synopsis: builtins.map f list"],
    );
    expect(
        &mut p,
        ":a { addedVar = 1000 + 1; }",
        &["Added 1 variables."],
    );
    settle();
    p.send_line("[ addedVar").unwrap();
    p.exp_string("          ").unwrap();
    expect(&mut p, "(addedVar + 1) ]", &["1001", "1002"]);

    settle();
    p.send_line(":q").unwrap();
    p.exp_eof().unwrap();

    let history = std::fs::read_to_string(tmp.path().join("data/kiln/repl-history")).unwrap();
    assert!(history.contains(":t pkgs.other"), "{history}");
}

#[test]
fn repl_loads_reloads_edits_and_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("f.nix");
    std::fs::write(&file, "{\n  fun = x: x;\n  value = 10 + 1;\n}\n").unwrap();
    // An editor that notes its arguments and changes the file.
    let editor = tmp.path().join("vim");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\necho \"$@\" > {}\nprintf '{{ fun = x: x; value = 20 + 2; }}' > \"$2\"\n",
            tmp.path().join("editor-args").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let mut p = start(tmp.path(), &["f.nix"], Some(&editor));
    assert!(first_prompt(&mut p).contains("Added 2 variables."));
    expect(&mut p, "value", &["11"]);

    // `:e` opens the editor at the function's line, then reloads.
    expect(&mut p, ":e fun", &["Added 2 variables."]);
    let args = std::fs::read_to_string(tmp.path().join("editor-args")).unwrap();
    assert_eq!(args, format!("+2 {}\n", file.display()));
    expect(&mut p, "value", &["22"]);

    // `:r` drops bindings and reads the files again.
    line(&mut p, "extra = 5");
    std::fs::write(&file, "{ fun = x: x; value = 30 + 3; }").unwrap();
    expect(&mut p, ":r", &["Added 2 variables."]);
    expect(&mut p, "value", &["33"]);
    expect(&mut p, "extra", &["error: undefined variable 'extra'"]);

    // `:b` builds a derivation of the package set and names its output.
    let out = line(
        &mut p,
        r#":b (import <kiln/pkgs> { }).writeText "repl-built" "from the REPL""#,
    );
    assert!(
        out.contains("This derivation produced the following outputs:"),
        "{out}"
    );
    let at = out.find("out -> /nix/store/").expect("an output line");
    let path = out[at + "out -> ".len()..].lines().next().unwrap().trim();
    assert!(path.ends_with("-repl-built"), "{path}");
    let real = tmp.path().join("root").join(path.trim_start_matches('/'));
    assert_eq!(std::fs::read_to_string(real).unwrap(), "from the REPL");
    settle();
    p.send_line(":q").unwrap();
    p.exp_eof().unwrap();
}
