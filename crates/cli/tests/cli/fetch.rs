//! The fetchers end to end: `nix-instantiate --eval` of `fetchurl`, `fetchTarball` and
//! `fetchGit` on `file://` URLs and local repositories made here, against the reference Nix
//! 2.8 on its own store root (current Nix 2.26 gives the same values for these expressions;
//! where they differ, for dirty trees, only what both agree on is compared). Kiln evaluates
//! with `--read-write-mode`: its fetchers need a store to write into, and Nix fetches into its
//! store even in read-only mode.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::{failure_of, legacy, reference, stdout_of};

fn git(dir: &Path, args: &[&str], date: &str) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Kiln Test")
        .env("GIT_AUTHOR_EMAIL", "test@kiln.invalid")
        .env("GIT_COMMITTER_NAME", "Kiln Test")
        .env("GIT_COMMITTER_EMAIL", "test@kiln.invalid")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Files, a tarball and two repositories (one clean, one dirty) under `dir`.
fn fixtures(dir: &Path) {
    std::fs::write(dir.join("f.txt"), "plain file\n").unwrap();
    let top = dir.join("tree/top");
    std::fs::create_dir_all(top.join("sub")).unwrap();
    std::fs::write(top.join("a.txt"), "hello\n").unwrap();
    std::fs::write(top.join("sub/b.txt"), "world\n").unwrap();
    std::os::unix::fs::symlink("a.txt", top.join("link")).unwrap();
    let ok = Command::new("tar")
        .arg("-C")
        .arg(dir.join("tree"))
        .arg("-czf")
        .arg(dir.join("t.tar.gz"))
        .arg("top")
        .status()
        .unwrap();
    assert!(ok.success());

    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join("d")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"], "2020-01-01T00:00:00Z");
    std::fs::write(repo.join("x"), "one\n").unwrap();
    std::fs::write(repo.join("d/y"), "two\n").unwrap();
    git(&repo, &["add", "."], "2020-01-01T00:00:00Z");
    git(&repo, &["commit", "-qm", "first"], "2020-01-01T00:00:00Z");
    std::fs::write(repo.join("z"), "three\n").unwrap();
    git(&repo, &["add", "z"], "2020-01-02T00:00:00Z");
    git(&repo, &["commit", "-qm", "second"], "2020-01-02T00:00:00Z");

    let dirty = dir.join("dirty");
    std::fs::create_dir_all(&dirty).unwrap();
    git(
        &dirty,
        &["init", "-q", "-b", "main"],
        "2020-01-01T00:00:00Z",
    );
    std::fs::write(dirty.join("x"), "one\n").unwrap();
    git(&dirty, &["add", "."], "2020-01-01T00:00:00Z");
    git(&dirty, &["commit", "-qm", "first"], "2020-01-01T00:00:00Z");
    std::fs::write(dirty.join("x"), "changed\n").unwrap();
    std::fs::write(dirty.join("staged"), "s\n").unwrap();
    git(&dirty, &["add", "staged"], "2020-01-01T00:00:00Z");
    std::fs::write(dirty.join("untracked"), "u\n").unwrap();
}

fn first_rev(repo: &Path) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-parse", "HEAD~1"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn kiln_eval(dir: &Path, expr: &str) -> Command {
    let mut cmd = legacy(dir, "nix-instantiate");
    cmd.current_dir(dir)
        .env("XDG_CACHE_HOME", dir.join("kiln-cache"))
        .args(["--eval", "--strict", "--read-write-mode", "--store"])
        .arg(dir.join("kiln-root"))
        // `fetchTree` exists only with this feature, as in current Nix.
        .args(["--extra-experimental-features", "fetch-tree"])
        .args(["-E", expr]);
    cmd
}

fn nix_eval(dir: &Path, expr: &str) -> Command {
    let mut cmd = reference(dir, "nix-instantiate");
    cmd.current_dir(dir)
        .args(["--eval", "--strict", "--store"])
        .arg(dir.join("nix-root"))
        .args(["-E", expr]);
    cmd
}

#[test]
fn fetchers_give_the_store_paths_and_attributes_nix_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    let d = dir.display();
    let rev = first_rev(&dir.join("repo"));
    let exprs = [
        format!("builtins.fetchurl file://{d}/f.txt"),
        format!("builtins.fetchurl {{ url = \"file://{d}/f.txt\"; name = \"renamed\"; }}"),
        format!(
            "builtins.fetchurl {{ url = \"file://{d}/f.txt\"; \
             sha256 = \"02bavd8zw6rfxkzmv7n4z6inp3l53k0pl29gqq7jwhhnbj0b8c8f\"; }}"
        ),
        format!("builtins.fetchTarball file://{d}/t.tar.gz"),
        format!("builtins.fetchTarball {{ url = \"file://{d}/t.tar.gz\"; name = \"tb\"; }}"),
        format!("builtins.fetchGit {d}/repo"),
        format!("builtins.fetchGit {{ url = \"{d}/repo\"; rev = \"{rev}\"; }}"),
        format!(
            "builtins.fetchGit {{ url = \"file://{d}/repo\"; ref = \"refs/heads/main\"; \
             name = \"named\"; }}"
        ),
        format!("builtins.fetchGit {{ url = \"file://{d}/repo\"; ref = \"main\"; }}"),
        // Nix 2.8 reports no dirtyRev (current Nix does); the tree is the same.
        format!("let r = builtins.fetchGit {d}/dirty; in [ r.outPath r.narHash r.rev r.revCount ]"),
    ];
    for expr in &exprs {
        let nix = stdout_of(&mut nix_eval(dir, expr));
        let kiln = stdout_of(&mut kiln_eval(dir, expr));
        assert_eq!(kiln, nix, "{expr}");
    }
}

#[test]
fn a_hash_mismatch_reports_both_hashes_as_nix_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    let d = dir.display();
    for expr in [
        format!(
            "builtins.fetchurl {{ url = \"file://{d}/f.txt\"; \
             sha256 = \"0000000000000000000000000000000000000000000000000000\"; }}"
        ),
        format!(
            "builtins.fetchTarball {{ url = \"file://{d}/t.tar.gz\"; \
             sha256 = \"0000000000000000000000000000000000000000000000000000\"; }}"
        ),
    ] {
        // The message's lines, as Nix 2.8 prints them (its indentation aside).
        let lines = |out: std::process::Output| -> Vec<String> {
            let text = String::from_utf8(out.stderr).unwrap();
            let start = text.find("hash mismatch").expect("a hash mismatch");
            text[start..]
                .lines()
                .take(3)
                .map(|l| l.trim().to_owned())
                .collect()
        };
        let nix = lines(failure_of(&mut nix_eval(dir, &expr)));
        let kiln = lines(failure_of(&mut kiln_eval(dir, &expr)));
        assert_eq!(kiln, nix, "{expr}");
        assert!(nix[1].starts_with("specified: sha256:0000"), "{nix:?}");
    }
}

#[test]
fn a_second_evaluation_makes_no_http_request() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(10) {
            let Ok(mut s) = stream else { break };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            c.fetch_add(1, Ordering::SeqCst);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n",
            );
        }
    });
    let expr = format!("builtins.fetchurl http://127.0.0.1:{port}/hello.txt");
    let first = stdout_of(&mut kiln_eval(dir, &expr));
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let second = stdout_of(&mut kiln_eval(dir, &expr));
    assert_eq!(second, first);
    assert_eq!(count.load(Ordering::SeqCst), 1, "the cache answered");
    // The same bytes from a file give the same path.
    std::fs::write(dir.join("hello.txt"), "hello\n").unwrap();
    let from_file = stdout_of(&mut kiln_eval(
        dir,
        &format!("builtins.fetchurl file://{}/hello.txt", dir.display()),
    ));
    assert_eq!(from_file, first);
}

#[test]
fn nix_fetchurl_nix_makes_the_derivations_nix_makes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    let d = dir.display();
    for expr in [
        format!(
            "import <nix/fetchurl.nix> {{ url = \"file://{d}/f.txt\"; \
             sha256 = \"02bavd8zw6rfxkzmv7n4z6inp3l53k0pl29gqq7jwhhnbj0b8c8f\"; }}"
        ),
        format!(
            "import <nix/fetchurl.nix> {{ url = \"file://{d}/t.tar.gz\"; unpack = true; \
             name = \"x\"; hash = \"sha256-andH9AYErzOFjf8aO1FXUp3JpB1kvj2jU65PG8ElMRk=\"; }}"
        ),
        format!(
            "import <nix/fetchurl.nix> {{ url = \"file://{d}/f.txt\"; executable = true; \
             sha512 = \"{}\"; }}",
            "0".repeat(128)
        ),
    ] {
        let nix = stdout_of(
            reference(dir, "nix-instantiate")
                .current_dir(dir)
                .arg("--store")
                .arg(dir.join("nix-root"))
                .args(["-E", &expr]),
        );
        let kiln = stdout_of(
            legacy(dir, "nix-instantiate")
                .current_dir(dir)
                .arg("--store")
                .arg(dir.join("kiln-root"))
                .args(["-E", &expr]),
        );
        assert_eq!(kiln, nix, "{expr}");
        assert!(kiln.ends_with(".drv\n"), "{kiln}");
    }
}

/// `fetchTree` and the attributes where current Nix differs from 2.8 (`dirtyRev`, `revCount`
/// of shallow and `ref` fetches): expected values printed by current Nix (2.26, with
/// `--extra-experimental-features fetch-tree`) for the same fixtures, whose commits are
/// reproducible (fixed names, e-mails and dates).
#[test]
fn fetch_tree_and_fetch_git_attributes_are_current_nixs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    let d = dir.display();
    let first = "b048f88aa67520161c7e0e4775535dd6886b0819";
    assert_eq!(
        first_rev(&dir.join("repo")),
        first,
        "the fixture's commits changed"
    );
    let cases = [
        (
            format!("builtins.fetchTree {{ type = \"git\"; url = \"file://{d}/repo\"; }}"),
            "{ lastModified = 1577923200; lastModifiedDate = \"20200102000000\"; narHash = \"sha256-LtrpzaYx/Zow9pu8HurrdEvCzlK7JOrl47fW6uXL2Vg=\"; outPath = \"/nix/store/fbx73fg1plqvzjmk396gh59k6kmnsiy9-source\"; rev = \"04cd962853d857606f507f6c2c64a25e95a7aa49\"; revCount = 2; shortRev = \"04cd962\"; submodules = false; }",
        ),
        (
            format!("builtins.fetchTree {{ type = \"git\"; url = \"{d}/repo\"; ref = \"main\"; }}"),
            "{ lastModified = 1577923200; lastModifiedDate = \"20200102000000\"; narHash = \"sha256-LtrpzaYx/Zow9pu8HurrdEvCzlK7JOrl47fW6uXL2Vg=\"; outPath = \"/nix/store/fbx73fg1plqvzjmk396gh59k6kmnsiy9-source\"; rev = \"04cd962853d857606f507f6c2c64a25e95a7aa49\"; shortRev = \"04cd962\"; submodules = false; }",
        ),
        (
            format!("builtins.fetchTree {{ type = \"git\"; url = \"{d}/repo\"; rev = \"{first}\"; }}"),
            "{ lastModified = 1577836800; lastModifiedDate = \"20200101000000\"; narHash = \"sha256-OmJP8DoXJsUwBd5RGsneEa2BzTkUp1fNaRBSWZhYP4E=\"; outPath = \"/nix/store/71g76v2r330s14xmv0pd7j60qg5gpppf-source\"; rev = \"b048f88aa67520161c7e0e4775535dd6886b0819\"; shortRev = \"b048f88\"; submodules = false; }",
        ),
        (
            format!("builtins.fetchTree {{ type = \"git\"; url = \"{d}/dirty\"; }}"),
            "{ dirtyRev = \"50bafb50ebade119f3d1e4c1ce4db6f392151e3d-dirty\"; dirtyShortRev = \"50bafb5-dirty\"; lastModified = 1577836800; lastModifiedDate = \"20200101000000\"; narHash = \"sha256-srkl4J4tD7QWDBNj7uv0YfFrO3h2jh4mOayjM2b4I0o=\"; outPath = \"/nix/store/3rljxafncwy0f6wlr4mwq0hb7samzsqp-source\"; submodules = false; }",
        ),
        (
            format!("builtins.fetchGit {d}/dirty"),
            "{ dirtyRev = \"50bafb50ebade119f3d1e4c1ce4db6f392151e3d-dirty\"; dirtyShortRev = \"50bafb5-dirty\"; lastModified = 1577836800; lastModifiedDate = \"20200101000000\"; narHash = \"sha256-srkl4J4tD7QWDBNj7uv0YfFrO3h2jh4mOayjM2b4I0o=\"; outPath = \"/nix/store/3rljxafncwy0f6wlr4mwq0hb7samzsqp-source\"; rev = \"0000000000000000000000000000000000000000\"; revCount = 0; shortRev = \"0000000\"; submodules = false; }",
        ),
        (
            format!("builtins.fetchGit {{ url = \"{d}/repo\"; shallow = true; }}"),
            "{ lastModified = 1577923200; lastModifiedDate = \"20200102000000\"; narHash = \"sha256-LtrpzaYx/Zow9pu8HurrdEvCzlK7JOrl47fW6uXL2Vg=\"; outPath = \"/nix/store/fbx73fg1plqvzjmk396gh59k6kmnsiy9-source\"; rev = \"04cd962853d857606f507f6c2c64a25e95a7aa49\"; revCount = 2; shortRev = \"04cd962\"; submodules = false; }",
        ),
        (
            format!("builtins.fetchGit {{ url = \"{d}/repo\"; rev = \"{first}\"; shallow = true; }}"),
            "{ lastModified = 1577836800; lastModifiedDate = \"20200101000000\"; narHash = \"sha256-OmJP8DoXJsUwBd5RGsneEa2BzTkUp1fNaRBSWZhYP4E=\"; outPath = \"/nix/store/71g76v2r330s14xmv0pd7j60qg5gpppf-source\"; rev = \"b048f88aa67520161c7e0e4775535dd6886b0819\"; revCount = 0; shortRev = \"b048f88\"; submodules = false; }",
        ),
        (
            format!("builtins.fetchTree {{ type = \"file\"; url = \"file://{d}/f.txt\"; }}"),
            "{ narHash = \"sha256-qEtiirXxOPRqqyIWD6qGEKKNHBSRcgBLvKg7m/0ZzpY=\"; outPath = \"/nix/store/7ng2rm83p21awsp67hvnskbhf8v0qkxi-source\"; }",
        ),
    ];
    for (expr, expected) in &cases {
        let out = kiln_eval(dir, expr).output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.trim_end(), *expected, "{expr}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        if expr.contains("dirty") {
            assert!(
                stderr.contains(&format!("warning: Git tree '{d}/dirty' is dirty")),
                "{stderr}"
            );
        }
    }
    // A tarball input: its NAR hash, the same path fetchTarball gives, the newest entry's time.
    let expr = format!(
        "let t = builtins.fetchTree {{ type = \"tarball\"; url = \"file://{d}/t.tar.gz\"; }}; \
         in [ (t.outPath == builtins.fetchTarball \"file://{d}/t.tar.gz\") \
         (builtins.substring 0 7 t.narHash) (t.lastModified > 1600000000) ]"
    );
    assert_eq!(
        stdout_of(&mut kiln_eval(dir, &expr)),
        "[ true \"sha256-\" true ]\n"
    );
    // A wrong narHash, in current Nix's words (its input URL aside).
    let wrong = "sha256-bndH9AYErzOFjf8aO1FXUp3JpB1kvj2jU65PG8ElMRk=";
    for (input, ty) in [
        (format!("{d}/repo"), "git"),
        (format!("file://{d}/t.tar.gz"), "tarball"),
    ] {
        let expr = format!(
            "builtins.fetchTree {{ type = \"{ty}\"; url = \"{input}\"; narHash = \"{wrong}\"; }}"
        );
        let err = String::from_utf8(failure_of(&mut kiln_eval(dir, &expr)).stderr).unwrap();
        assert!(
            err.contains(&format!(
                "error: NAR hash mismatch in input '{input}', expected '{wrong}' but got 'sha256-"
            )),
            "{err}"
        );
    }
}

/// Submodules, with a relative URL so the superproject's commit is the same in any directory:
/// fetched only with `submodules = true`; without, current Nix leaves out the empty directory
/// Nix 2.8 kept. Expected values printed by current Nix (2.26) for the same repositories.
#[test]
fn fetch_git_submodules_as_current_nix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let date = "2020-01-01T00:00:00Z";
    let sub = dir.join("sub");
    let sup = dir.join("super");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::create_dir_all(&sup).unwrap();
    git(&sub, &["init", "-q", "-b", "main"], date);
    std::fs::write(sub.join("inner.txt"), "inner\n").unwrap();
    git(&sub, &["add", "."], date);
    git(&sub, &["commit", "-qm", "sub"], date);
    git(&sup, &["init", "-q", "-b", "main"], date);
    std::fs::write(sup.join("outer.txt"), "outer\n").unwrap();
    git(&sup, &["add", "."], date);
    git(
        &sup,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            "../sub",
            "lib",
        ],
        date,
    );
    git(&sup, &["commit", "-qm", "super"], date);
    let d = dir.display();
    let cases = [
        (
            format!("builtins.fetchGit {{ url = \"{d}/super\"; submodules = true; }}"),
            "{ lastModified = 1577836800; lastModifiedDate = \"20200101000000\"; narHash = \"sha256-g7+5vegsRV/QZQswROvJRphnhwoPVXMzSjdiVKoyeQI=\"; outPath = \"/nix/store/fsd0j552y34ci6fb804k4h8lmv5c7wsc-source\"; rev = \"92549bc2c986bd51af2ec99f9a7e5bcc184cb7a4\"; revCount = 1; shortRev = \"92549bc\"; submodules = true; }",
        ),
        (
            format!("builtins.fetchGit {{ url = \"{d}/super\"; }}"),
            "{ lastModified = 1577836800; lastModifiedDate = \"20200101000000\"; narHash = \"sha256-fsl4C33eWlRrRmjIj0orpH9MSXAcfS0g4TMQQgsfsVo=\"; outPath = \"/nix/store/avqfx72k98h428llmnn51x97b55jhdhq-source\"; rev = \"92549bc2c986bd51af2ec99f9a7e5bcc184cb7a4\"; revCount = 1; shortRev = \"92549bc\"; submodules = false; }",
        ),
    ];
    for (expr, expected) in &cases {
        assert_eq!(
            stdout_of(&mut kiln_eval(dir, expr)).trim_end(),
            *expected,
            "{expr}"
        );
    }
    let with = dir.join("kiln-root/nix/store/fsd0j552y34ci6fb804k4h8lmv5c7wsc-source");
    assert_eq!(
        std::fs::read(with.join("lib/inner.txt")).unwrap(),
        b"inner\n"
    );
    assert!(!with.join("lib/.git").exists() && !with.join(".git").exists());
}

/// What was fetched into a store at another root is read from there: `import`, `readFile`,
/// `builtins.path` and `filterSource` on a fetched tree, as Nix 2.8 does with `--store DIR`.
#[test]
fn a_fetched_tree_can_be_imported_from_a_store_at_another_root() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pkg = dir.join("pkg/p");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(
        pkg.join("default.nix"),
        "{ x = 42; y = builtins.readFile ./data; }\n",
    )
    .unwrap();
    std::fs::write(pkg.join("data"), "hi\n").unwrap();
    let ok = Command::new("tar")
        .arg("-C")
        .arg(dir.join("pkg"))
        .arg("-czf")
        .arg(dir.join("pkg.tar.gz"))
        .arg("p")
        .status()
        .unwrap();
    assert!(ok.success());
    let expr = format!(
        "let s = builtins.fetchTarball file://{}/pkg.tar.gz; in [ (import s) \
         (builtins.path {{ path = s + \"/data\"; }}) \
         (builtins.filterSource (p: t: baseNameOf p != \"data\") s) \"${{s + \"/data\"}}\" ]",
        dir.display()
    );
    let nix = stdout_of(&mut nix_eval(dir, &expr));
    let kiln = stdout_of(&mut kiln_eval(dir, &expr));
    assert_eq!(kiln, nix);
    assert!(kiln.contains("x = 42;"), "{kiln}");
}

#[test]
fn read_only_evaluation_still_fetches_as_nix_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("f.txt"), "fetched read-only\n").unwrap();
    let root = dir.join("root");
    let expr = format!(
        "builtins.readFile (builtins.fetchurl \"file://{}\")",
        dir.join("f.txt").display()
    );
    let out = stdout_of(
        legacy(dir, "nix-instantiate")
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .arg("--store")
            .arg(&root)
            .args(["--eval", "-E", &expr]),
    );
    assert_eq!(out, "\"fetched read-only\\n\"\n");
    // The fetched file went to the store named by --store.
    assert!(std::fs::read_dir(root.join("nix/store")).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with("-f.txt")));
}
