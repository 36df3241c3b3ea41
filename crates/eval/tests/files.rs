//! File-system builtins against the reference Nix 2.8 on a generated tree with the objects a
//! source tree can hold but the `tests/lang` cases cannot (symlinks, dangling ones, a fifo).

use std::path::Path;

use kiln_eval::io::FsIo;
use kiln_eval::{Bump, Eval, EvalSettings};

/// `expr`, forced deeply and printed, or the error's message.
fn kiln(expr: &str, dir: &Path) -> String {
    let (expr, dir) = (expr.to_owned(), dir.to_owned());
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let arena = Bump::new();
            let mut ev = Eval::new(&arena, Box::new(FsIo::new()), EvalSettings::default());
            let res = ev.eval_string(expr.as_bytes(), &dir).and_then(|v| {
                let v = ev.force_deep(v)?;
                kiln_eval::print::print_value(&mut ev, v, true)
            });
            res.unwrap_or_else(|e| format!("error: {}", e.kind))
        })
        .unwrap()
        .join()
        .unwrap()
}

fn reference(expr: &str, dir: &Path) -> String {
    let state = tempfile::tempdir().unwrap();
    let out = kiln_testkit::reference_command("nix-instantiate", state.path())
        .current_dir(dir)
        .args(["--eval", "--strict", "-E", expr])
        .output()
        .expect("running the reference nix-instantiate");
    assert!(
        out.status.success(),
        "the reference fails on {expr}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// `pathExists` looks at a final symlink itself (a dangling or looping one exists), unless a
/// trailing `/` or `/.` asks for a directory; `readDir` names what is there.
#[test]
fn path_builtins_see_symlinks_as_nix() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().canonicalize().unwrap();
    std::fs::create_dir(d.join("dir")).unwrap();
    std::fs::write(d.join("dir/file"), "x").unwrap();
    std::os::unix::fs::symlink("nowhere", d.join("dangling")).unwrap();
    std::os::unix::fs::symlink("loop", d.join("loop")).unwrap();
    std::os::unix::fs::symlink("dir", d.join("to-dir")).unwrap();
    std::os::unix::fs::symlink("dir/file", d.join("to-file")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(d.join("fifo"))
        .status()
        .expect("running mkfifo");
    assert!(made.success());
    let exprs = [
        "map builtins.pathExists [ ./dangling ./loop ./to-dir ./to-file ./fifo ./dir/file ./missing ]",
        r#"map (p: builtins.pathExists (toString ./. + p)) [ "/dangling/" "/loop/" "/to-dir/" "/to-dir/." "/to-file/" "/dir/." "/dir/file/" "/dir/file/." "/dir/" ]"#,
        "builtins.readDir ./.",
    ];
    for expr in exprs {
        assert_eq!(kiln(expr, &d), reference(expr, &d), "{expr}");
    }
}

/// `import` follows a final symlink before it looks for `default.nix` (Nix's
/// `resolveExprPath`), link after link, and the file's relative paths then resolve against the
/// link's target; a directory reached through a link is its `default.nix`.
#[test]
fn import_follows_symlinks_as_nix() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().canonicalize().unwrap();
    std::fs::create_dir_all(d.join("pkgs/sub")).unwrap();
    std::fs::write(d.join("pkgs/default.nix"), "{ v = import ./sub/leaf.nix; }").unwrap();
    std::fs::write(d.join("pkgs/sub/leaf.nix"), "\"leaf\"").unwrap();
    std::fs::write(d.join("pkgs/sub/rel.nix"), "import ./leaf.nix").unwrap();
    std::fs::write(d.join("leaf.nix"), "\"top\"").unwrap();
    std::os::unix::fs::symlink("pkgs", d.join("link")).unwrap();
    std::os::unix::fs::symlink("link", d.join("link2")).unwrap();
    std::os::unix::fs::symlink("pkgs/sub/rel.nix", d.join("rel.nix")).unwrap();
    std::os::unix::fs::symlink(d.join("pkgs/sub"), d.join("abs")).unwrap();
    let exprs = [
        "import ./link",
        "import ./link2",
        "import ./rel.nix",
        "import ./abs/rel.nix",
        "(import ./link).v + import ./link/sub/rel.nix",
    ];
    for expr in exprs {
        assert_eq!(kiln(expr, &d), reference(expr, &d), "{expr}");
    }
    assert_eq!(kiln("import ./rel.nix", &d), "\"leaf\"");
}
