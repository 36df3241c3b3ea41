//! Flakes end to end: a top-level flake with a `path:` input, a `git+file:` input (a
//! repository made here), a `flake = false` input and a `follows`; `kiln flake lock`,
//! `kiln build .#…`, `kiln flake update INPUT`, `show`, `metadata`, `check`, and
//! `kiln os build --flake .#host`.
//!
//! The lock files must be byte for byte those CppNix 2.26 writes for the same flake. CI has
//! no CppNix 2.26, so `flake/lock.json` and `flake/lock-updated.json` are its output, with the
//! fixture's temporary directory written as `/FIXTURE` (the only part that differs between
//! runs: file times and commits are fixed). `current_nix_writes_and_accepts_the_same_locks`
//! runs `/work/shared/tools/nix-current` (CppNix 2.26; `KILN_NIX_CURRENT` names another) on
//! the same fixture where it exists: it compares CppNix's locks with Kiln's byte for byte and
//! with the golden files (`KILN_ACCEPT=1` rewrites them), checks that CppNix leaves Kiln's
//! lock as it is and evaluates the same `.drv`. Where the tool is missing (CI) that test says
//! so and does nothing else: it is the local regeneration of the golden files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{failure_of, kiln, stdout_of};

/// A fixed time for every file of the `path:` input (its `lastModified`).
const MTIME: i64 = 1_700_000_000;

fn git(dir: &Path, args: &[&str], date: &str) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Kiln Test")
        .env("GIT_AUTHOR_EMAIL", "test@kiln.invalid")
        .env("GIT_COMMITTER_NAME", "Kiln Test")
        .env("GIT_COMMITTER_EMAIL", "test@kiln.invalid")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sets the modification time of everything under `path` (links not followed).
fn touch_tree(path: &Path, t: i64) {
    let out = Command::new("find")
        .arg(path)
        .args(["-exec", "touch", "-h", "-d", &format!("@{t}"), "{}", "+"])
        .output()
        .unwrap();
    assert!(out.status.success());
}

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    store: PathBuf,
    top: PathBuf,
    gitdep: PathBuf,
}

const TOP: &str = r#"{
  description = "a flake with every kind of local input";
  inputs = {
    dep.url = "path:@DIR@/dep";
    gitdep.url = "git+file://@DIR@/gitdep";
    raw = { url = "path:@DIR@/dep"; flake = false; };
    alias.follows = "gitdep";
  };
  outputs = { self, dep, gitdep, raw, alias }: {
    packages.x86_64-linux.default = derivation {
      name = "hello-flake";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo ${dep.lib.greeting} ${toString gitdep.value} ${gitdep.shortRev} ${toString gitdep.revCount} ${gitdep.lastModifiedDate} ${raw.narHash} ${alias.rev} > $out; cat ${self}/data >> $out" ];
    };
    packages.x86_64-linux.other = self.packages.x86_64-linux.default;
    lib.info = { inherit (self) narHash lastModified lastModifiedDate; kind = self._type; };
  };
}
"#;

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let dep = dir.join("dep");
    fs::create_dir(&dep).unwrap();
    fs::write(
        dep.join("flake.nix"),
        "{\n  description = \"dep\";\n  outputs = { self }: { lib.greeting = \"hello\"; };\n}\n",
    )
    .unwrap();
    fs::write(dep.join("notes.txt"), "a plain file\n").unwrap();
    touch_tree(&dep, MTIME);
    let gitdep = dir.join("gitdep");
    fs::create_dir(&gitdep).unwrap();
    git(&gitdep, &["init", "-q"], "@1700000100 +0000");
    git(
        &gitdep,
        &["symbolic-ref", "HEAD", "refs/heads/main"],
        "@1700000100 +0000",
    );
    fs::write(
        gitdep.join("flake.nix"),
        "{ outputs = { self }: { value = 1; }; }\n",
    )
    .unwrap();
    git(&gitdep, &["add", "."], "@1700000100 +0000");
    git(&gitdep, &["commit", "-qm", "one"], "@1700000100 +0000");
    let top = dir.join("top");
    fs::create_dir(&top).unwrap();
    fs::write(
        top.join("flake.nix"),
        TOP.replace("@DIR@", &dir.display().to_string()),
    )
    .unwrap();
    fs::write(top.join("data"), "data of the top flake\n").unwrap();
    Fixture {
        store: dir.join("store"),
        _tmp: tmp,
        dir,
        top,
        gitdep,
    }
}

impl Fixture {
    fn kiln(&self) -> Command {
        let mut cmd = kiln();
        cmd.current_dir(&self.top)
            .arg("--store")
            .arg(&self.store)
            .args(["--option", "sandbox-paths", "/bin/sh=/bin/busybox"]);
        cmd
    }

    fn lock_text(&self) -> String {
        fs::read_to_string(self.top.join("flake.lock")).unwrap()
    }

    /// The lock file with the fixture's directory written as `/FIXTURE`.
    fn lock_golden_form(&self) -> String {
        self.lock_text()
            .replace(&self.dir.display().to_string(), "/FIXTURE")
    }

    /// A second commit in the Git input.
    fn commit_again(&self) {
        fs::write(
            self.gitdep.join("flake.nix"),
            "{ outputs = { self }: { value = 2; }; }\n",
        )
        .unwrap();
        git(
            &self.gitdep,
            &["commit", "-qam", "two"],
            "@1700000200 +0000",
        );
    }
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli/flake")
        .join(name)
}

/// The output path `kiln build` printed last.
fn built_text(out: &str) -> String {
    out.lines().last().unwrap().to_owned()
}

#[test]
fn lock_build_and_update_one_input_write_what_current_nix_writes() {
    let f = fixture();
    stdout_of(f.kiln().args(["flake", "lock"]));
    assert_eq!(
        f.lock_golden_form(),
        fs::read_to_string(golden("lock.json")).unwrap(),
        "the lock file differs from CppNix 2.26's"
    );
    let first = f.lock_text();
    // Locking again changes nothing.
    stdout_of(f.kiln().args(["flake", "lock"]));
    assert_eq!(f.lock_text(), first);

    let out = stdout_of(f.kiln().args(["build", "--no-link", ".#default"]));
    let path = built_text(&out);
    let real = f.store.join(path.trim_start_matches('/'));
    let text = fs::read_to_string(&real).unwrap();
    let rev = String::from_utf8(
        Command::new("git")
            .current_dir(&f.gitdep)
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let rev = rev.trim();
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(
        &words[..5],
        ["hello", "1", &rev[..7], "1", "20231114221500"],
        "{text}"
    );
    assert!(words[5].starts_with("sha256-"), "{text}");
    assert_eq!(words[6], rev);
    assert!(text.ends_with("data of the top flake\n"), "{text}");
    // `packages.SYSTEM.NAME` is found from `.#NAME`, and the same derivation builds once.
    let again = stdout_of(f.kiln().args(["build", "--no-link", ".#other"]));
    assert_eq!(again, out);

    // Updating the Git input changes its node only.
    f.commit_again();
    stdout_of(f.kiln().args(["flake", "lock"]));
    assert_eq!(f.lock_text(), first, "`lock` keeps what is locked");
    stdout_of(f.kiln().args(["flake", "update", "gitdep"]));
    assert_eq!(
        f.lock_golden_form(),
        fs::read_to_string(golden("lock-updated.json")).unwrap(),
        "the updated lock file differs from CppNix 2.26's"
    );
    let out = stdout_of(f.kiln().args(["build", "--no-link", ".#default"]));
    let text = fs::read_to_string(f.store.join(built_text(&out).trim_start_matches('/'))).unwrap();
    assert_eq!(text.split_whitespace().nth(1), Some("2"), "{text}");
    assert_eq!(text.split_whitespace().nth(3), Some("2"), "{text}");
    // An input the flake does not have is an error, and the lock stays.
    let updated = f.lock_text();
    let out = failure_of(f.kiln().args(["flake", "update", "nosuch"]));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no input 'nosuch'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(f.lock_text(), updated);
}

#[test]
fn the_top_level_flake_is_read_in_place_and_copied_only_when_a_build_needs_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let top = dir.join("top");
    fs::create_dir_all(top.join("tree")).unwrap();
    for i in 0..300 {
        fs::write(top.join(format!("tree/f{i}")), format!("file {i}\n")).unwrap();
    }
    fs::write(
        top.join("flake.nix"),
        r#"{
  outputs = { self }: {
    n = builtins.length (builtins.attrNames (builtins.readDir ./tree));
    first = builtins.readFile ./tree/f0;
    packages.x86_64-linux.default = derivation {
      name = "uses-one-file"; system = "x86_64-linux"; builder = "/bin/sh";
      args = [ "-c" "cat ${./tree/f1} > $out" ];
    };
    packages.x86_64-linux.whole = derivation {
      name = "uses-self"; system = "x86_64-linux"; builder = "/bin/sh";
      args = [ "-c" "ls ${self}/tree | wc -l > $out" ];
    };
  };
}
"#,
    )
    .unwrap();
    let store = dir.join("store");
    let k = || {
        let mut c = kiln();
        c.current_dir(&top).arg("--store").arg(&store).args([
            "--option",
            "sandbox-paths",
            "/bin/sh=/bin/busybox",
        ]);
        c
    };
    let meta: serde_json::Value =
        serde_json::from_str(&stdout_of(k().args(["flake", "metadata", "--json"]))).unwrap();
    let self_path = meta["path"].as_str().unwrap().to_owned();
    let self_base = self_path.rsplit('/').next().unwrap().to_owned();
    // The path is the one `path:` gives (the NAR hash of the directory, as CppNix computes it).
    let nar = kiln_testkit::reference_command("nix-hash", &dir.join("ref"))
        .args(["--type", "sha256", "--base32"])
        .arg(&top)
        .output()
        .unwrap();
    let nar = String::from_utf8(nar.stdout).unwrap();
    assert_eq!(
        meta["url"].as_str().unwrap(),
        format!(
            "path:{}?lastModified={}&narHash={}",
            top.display(),
            meta["lastModified"],
            kiln_formats::hash::Hash::parse_any(&format!("sha256:{}", nar.trim()), None)
                .unwrap()
                .to_sri()
                .replace('=', "%3D")
        )
    );
    let entries = |s: &Path| -> Vec<String> {
        match fs::read_dir(s.join("nix/store")) {
            Ok(rd) => rd
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect(),
            Err(_) => Vec::new(),
        }
    };
    assert!(
        !entries(&store).contains(&self_base),
        "metadata copied the flake"
    );
    let out = stdout_of(k().args(["build", "--no-link", ".#default"]));
    let built = fs::read_to_string(store.join(out.trim().trim_start_matches('/'))).unwrap();
    assert_eq!(built, "file 1\n");
    let now = entries(&store);
    assert!(
        !now.contains(&self_base),
        "a build of one file copied the whole flake"
    );
    assert!(now.iter().any(|e| e.ends_with("-f1")), "{now:?}");
    // Interpolating `self` needs the tree in the store: then it is there, at Nix's path.
    let out = stdout_of(k().args(["build", "--no-link", ".#whole"]));
    let built = fs::read_to_string(store.join(out.trim().trim_start_matches('/'))).unwrap();
    assert_eq!(built.trim(), "300");
    assert!(entries(&store).contains(&self_base));
}

#[test]
fn show_metadata_and_check() {
    let f = fixture();
    let show = stdout_of(f.kiln().args(["flake", "show"]));
    let mut lines = show.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with(&format!("path:{}?lastModified=", f.top.display())));
    assert_eq!(
        lines.collect::<Vec<_>>(),
        [
            "├───lib: unknown",
            "└───packages",
            "    └───x86_64-linux",
            "        ├───default: package 'hello-flake'",
            "        └───other: package 'hello-flake'",
        ]
    );
    let meta = stdout_of(f.kiln().args(["flake", "metadata"]));
    assert!(
        meta.contains("Description:   a flake with every kind of local input\n"),
        "{meta}"
    );
    assert!(
        meta.contains(&format!(
            "├───dep: path:{}/dep?lastModified=1700000000&narHash=sha256-",
            f.dir.display()
        )),
        "{meta}"
    );
    assert!(meta.contains("└───raw: path:"), "{meta}");
    assert!(
        meta.contains("├───alias follows input 'gitdep'\n"),
        "{meta}"
    );
    assert!(
        meta.contains(&format!(
            "├───gitdep: git+file://{}/gitdep?ref=refs/heads/main&rev=",
            f.dir.display()
        )),
        "{meta}"
    );
    stdout_of(f.kiln().args(["flake", "check", "--no-build"]));

    // A package that is not a derivation fails the check, naming it.
    fs::write(
        f.top.join("flake.nix"),
        "{ outputs = { self }: { packages.x86_64-linux.bad = 3; checks.x86_64-linux = { }; }; }\n",
    )
    .unwrap();
    let out = failure_of(f.kiln().args(["flake", "check"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("flake output attribute 'packages.x86_64-linux.bad' is not a derivation"),
        "{err}"
    );
}

#[test]
fn bad_flakes_are_clear_errors_and_write_nothing() {
    let f = fixture();
    let cases: &[(&str, &str)] = &[
        (
            "{ inputs.x.url = \"nixpkgs\"; outputs = { self, x }: { }; }",
            "the flake registry is not supported",
        ),
        (
            "{ inputs.x.colour = \"red\"; outputs = { self, x }: { }; }",
            "unsupported attribute 'colour'",
        ),
        (
            "{ description = \"no outputs\"; }",
            "it lacks attribute 'outputs'",
        ),
        (
            "{ outputs = { self }: { }; colour = 1; }",
            "it has an unsupported attribute 'colour'",
        ),
        (
            "{ inputs.x.url = \"path:/nonexistent-kiln-input\"; outputs = { self, x }: { }; }",
            "/nonexistent-kiln-input",
        ),
    ];
    for (text, expect) in cases {
        fs::write(f.top.join("flake.nix"), text).unwrap();
        let out = failure_of(f.kiln().args(["flake", "lock"]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{text}: {err}");
        assert!(
            !f.top.join("flake.lock").exists(),
            "{text}: a lock file was written"
        );
    }
    fs::write(f.top.join("flake.nix"), "{ outputs = { self }: { }; }").unwrap();
    fs::write(f.top.join("flake.lock"), "{\"version\": 5}").unwrap();
    let out = failure_of(f.kiln().args(["flake", "lock"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("version 5 is not supported"));
    assert_eq!(
        fs::read_to_string(f.top.join("flake.lock")).unwrap(),
        "{\"version\": 5}"
    );
    fs::remove_file(f.top.join("flake.lock")).unwrap();
    let out = failure_of(f.kiln().args(["build", ".#missing"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not provide attribute 'packages.x86_64-linux.missing', 'legacyPackages.x86_64-linux.missing' or 'missing'"),
        "{err}"
    );
}

/// A stand-in for `<kiln/os>` (pure: no `currentSystem`).
const MINI_OS: &str = r#"{ configuration, system }:
let cfg = if builtins.isFunction configuration then configuration { } else if builtins.isAttrs configuration then configuration else import configuration;
in {
  toplevel = derivation {
    name = "kiln-system-${cfg.hostName}"; inherit system; builder = "/bin/sh";
    args = [ "-c" "mkdir $out; echo ${cfg.hostName} > $out/hostname" ];
  };
}
"#;

#[test]
fn os_build_takes_a_host_of_a_flake() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    fs::create_dir_all(dir.join("kiln/os")).unwrap();
    fs::write(dir.join("kiln/os/default.nix"), MINI_OS).unwrap();
    let top = dir.join("fleet");
    fs::create_dir_all(top.join("hosts")).unwrap();
    fs::write(top.join("hosts/web.nix"), "{ hostName = \"web\"; }\n").unwrap();
    fs::write(
        top.join("flake.nix"),
        "{ outputs = { self }: { nixosConfigurations.web = ./hosts/web.nix; nixosConfigurations.db = { hostName = \"db\"; }; }; }\n",
    )
    .unwrap();
    let root = dir.join("root");
    for (host, expect) in [("web", "web\n"), ("db", "db\n")] {
        let out = stdout_of(
            kiln()
                .current_dir(&top)
                .args([
                    "--option",
                    "sandbox-paths",
                    "/bin/sh=/bin/busybox",
                    "os",
                    "build",
                    "--root",
                ])
                .arg(&root)
                .arg("--flake")
                .arg(format!(".#{host}"))
                .arg("-I")
                .arg(format!("kiln={}", dir.join("kiln").display())),
        );
        let path = out.trim().lines().last().unwrap();
        assert!(path.ends_with(&format!("-kiln-system-{host}")), "{out}");
        let real = root.join(path.trim_start_matches('/')).join("hostname");
        assert_eq!(fs::read_to_string(real).unwrap(), expect);
    }
}

fn nix_current() -> Option<PathBuf> {
    let p = std::env::var_os("KILN_NIX_CURRENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/tools/nix-current"));
    p.exists().then_some(p)
}

#[test]
fn current_nix_writes_and_accepts_the_same_locks() {
    let Some(tool) = nix_current() else {
        eprintln!("CppNix 2.26 (/work/shared/tools/nix-current) is not here: the golden lock files stand in for it");
        return;
    };
    let f = fixture();
    let nix = |args: &[&str]| {
        let mut c = Command::new(&tool);
        c.current_dir(&f.top)
            .args([
                "nix",
                "--extra-experimental-features",
                "nix-command flakes",
                "--store",
            ])
            .arg(f.dir.join("nixstore"))
            .args(["--option", "substituters", ""])
            .args(args);
        stdout_of(&mut c)
    };
    let accept = std::env::var_os("KILN_ACCEPT").is_some();
    let check_golden = |name: &str, text: String| {
        if accept {
            fs::write(golden(name), &text).unwrap();
        }
        assert_eq!(text, fs::read_to_string(golden(name)).unwrap(), "{name}");
    };
    nix(&["flake", "lock"]);
    let nix_lock = f.lock_text();
    check_golden("lock.json", f.lock_golden_form());
    fs::remove_file(f.top.join("flake.lock")).unwrap();
    stdout_of(f.kiln().args(["flake", "lock"]));
    assert_eq!(f.lock_text(), nix_lock, "Kiln's lock differs from CppNix's");
    // CppNix takes Kiln's lock as it is, and evaluates the derivation Kiln evaluates.
    nix(&["flake", "lock"]);
    assert_eq!(f.lock_text(), nix_lock);
    let nix_drv = nix(&["eval", "--raw", ".#packages.x86_64-linux.default.drvPath"]);
    let kiln_plan = String::from_utf8(
        f.kiln()
            .args(["build", "--dry-run", ".#default"])
            .output()
            .unwrap()
            .stderr,
    )
    .unwrap();
    assert!(
        kiln_plan.contains(nix_drv.trim()),
        "{nix_drv} not in {kiln_plan}"
    );
    let nix_info = nix(&["eval", "--json", ".#lib.info"]);
    let info: serde_json::Value = serde_json::from_str(&nix_info).unwrap();
    assert_eq!(info["kind"], "flake");

    f.commit_again();
    nix(&["flake", "update", "gitdep"]);
    let nix_updated = f.lock_text();
    check_golden("lock-updated.json", f.lock_golden_form());
    fs::write(f.top.join("flake.lock"), &nix_lock).unwrap();
    stdout_of(f.kiln().args(["flake", "update", "gitdep"]));
    assert_eq!(
        f.lock_text(),
        nix_updated,
        "Kiln's updated lock differs from CppNix's"
    );
}
