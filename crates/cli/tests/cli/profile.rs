//! Profiles and user environments: `nix-env` and `kiln profile` in temporary store roots,
//! with tiny packages built by busybox (`sandbox-paths = /bin/sh=/bin/busybox`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{kiln, legacy, reference};

const PACKAGES: &str = r#"
let mk = name: script: meta: derivation { inherit name; system = builtins.currentSystem;
  builder = "/bin/sh"; args = [ "-c" script ]; } // { inherit meta; }; in
rec {
  a = mk "a-1.0" "mkdir -p $out/bin $out/share/doc/a; echo a > $out/bin/a; echo a-doc > $out/share/doc/a/README" { description = "package a"; };
  b1 = mk "b-1.0" "mkdir -p $out/bin $out/share/doc/b; echo b1 > $out/bin/b; echo b1-doc > $out/share/doc/b/README" {};
  b2 = mk "b-2.0" "mkdir -p $out/bin; echo b2 > $out/bin/b; echo b2-extra > $out/bin/b-extra" {};
  clash = mk "clash-1" "mkdir -p $out/bin; echo clash > $out/bin/b" {};
  clashLow = mk "clash-2" "mkdir -p $out/bin; echo clash > $out/bin/b" { priority = 10; };
  prop = mk "prop-1" "mkdir -p $out/bin $out/nix-support; echo p > $out/bin/p; echo ${b2} > $out/nix-support/propagated-user-env-packages" { };
  notADerivation = 42;
}
"#;

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    root: PathBuf,
    file: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let file = dir.join("packages.nix");
        std::fs::write(&file, PACKAGES).unwrap();
        std::fs::create_dir(dir.join("home")).unwrap();
        Fixture {
            root: dir.join("root"),
            dir,
            file,
            _tmp: tmp,
        }
    }

    /// `nix-env --store ROOT -f FILE` with busybox in the sandbox, then `args`.
    fn nix_env(&self, args: &[&str]) -> Command {
        let mut cmd = legacy(&self.dir, "nix-env");
        cmd.arg("--store")
            .arg(&self.root)
            .args(["--option", "sandbox-paths", "/bin/sh=/bin/busybox"])
            .arg("-f")
            .arg(&self.file)
            .args(args)
            .env("USER", "tester")
            .env("HOME", self.dir.join("home"));
        cmd
    }

    fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.nix_env(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "nix-env {args:?} failed: {stderr}");
        (String::from_utf8(out.stdout).unwrap(), stderr)
    }

    fn physical(&self, logical: &Path) -> PathBuf {
        self.root.join(logical.strip_prefix("/").unwrap())
    }

    /// Every file an environment (a store path) shows, with its contents, following the
    /// environment's links through the root; `manifest.nix` left out.
    fn env_files(&self, env: &Path) -> BTreeMap<String, String> {
        let mut res = BTreeMap::new();
        let mut stack = vec![(env.to_owned(), String::new())];
        while let Some((logical, rel)) = stack.pop() {
            let mut p = self.physical(&logical);
            let mut logical = logical;
            while let Ok(t) = std::fs::read_link(&p) {
                logical = if t.is_absolute() {
                    t
                } else {
                    logical.parent().unwrap().join(t)
                };
                p = self.physical(&logical);
            }
            if p.is_dir() {
                for e in std::fs::read_dir(&p).unwrap() {
                    let name = e.unwrap().file_name().to_string_lossy().into_owned();
                    let r = if rel.is_empty() {
                        name.clone()
                    } else {
                        format!("{rel}/{name}")
                    };
                    if r != "manifest.nix" {
                        stack.push((logical.join(&name), r));
                    }
                }
            } else {
                res.insert(rel, std::fs::read_to_string(&p).unwrap().trim().to_owned());
            }
        }
        res
    }

    /// The store path generation `n` of `profile` points to.
    fn generation(&self, profile: &Path, n: u64) -> PathBuf {
        let name = profile.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::read_link(profile.with_file_name(format!("{name}-{n}-link"))).unwrap()
    }

    /// The store path `profile` points to now.
    fn now(&self, profile: &Path) -> PathBuf {
        self.generation(profile, self.current(profile))
    }

    /// The generation `profile` points to now.
    fn current(&self, profile: &Path) -> u64 {
        let t = std::fs::read_link(profile).unwrap();
        let t = t.to_string_lossy();
        let name = profile.file_name().unwrap().to_string_lossy().into_owned();
        t.strip_prefix(&format!("{name}-"))
            .and_then(|r| r.strip_suffix("-link"))
            .unwrap()
            .parse()
            .unwrap()
    }
}

fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn install_remove_rollback_upgrade_and_diff_in_two_profiles() {
    let f = Fixture::new();
    let p1 = f.dir.join("profiles/p1");
    let p2 = f.dir.join("profiles/p2");
    let p1s = p1.to_str().unwrap();
    let p2s = p2.to_str().unwrap();

    let (_, err) = f.ok(&["-p", p1s, "-iA", "a"]);
    assert!(err.contains("installing 'a-1.0'"), "{err}");
    let (_, err) = f.ok(&["-p", p1s, "-i", "b-1.0"]);
    assert!(err.contains("installing 'b-1.0'"), "{err}");
    // By name alone, the newest version.
    f.ok(&["-p", p2s, "-i", "b"]);
    assert_eq!(f.current(&p1), 2);
    assert_eq!(f.current(&p2), 1);

    let gen1 = files(&[("bin/a", "a"), ("share/doc/a/README", "a-doc")]);
    let gen2 = files(&[
        ("bin/a", "a"),
        ("bin/b", "b1"),
        ("share/doc/a/README", "a-doc"),
        ("share/doc/b/README", "b1-doc"),
    ]);
    assert_eq!(f.env_files(&f.generation(&p1, 1)), gen1);
    assert_eq!(f.env_files(&f.generation(&p1, 2)), gen2);
    // Both versions of b side by side, one in each profile.
    assert_eq!(
        f.env_files(&f.generation(&p2, 1)),
        files(&[("bin/b", "b2"), ("bin/b-extra", "b2-extra")])
    );
    // `share/doc` was a link into a's tree and became a directory merging both.
    let share_doc = f.physical(&f.generation(&p1, 2)).join("share/doc");
    assert!(std::fs::symlink_metadata(&share_doc).unwrap().is_dir());
    let link = std::fs::read_link(share_doc.join("a")).unwrap();
    let link = link.to_string_lossy();
    assert!(
        link.starts_with("/nix/store/") && link.ends_with("-a-1.0/share/doc/a"),
        "{link}"
    );

    let (q, _) = f.ok(&["-p", p1s, "-q"]);
    assert_eq!(q, "a-1.0\nb-1.0\n");
    let (q, _) = f.ok(&["-p", p1s, "-q", "--out-path"]);
    let lines: Vec<&str> = q.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("a-1.0  /nix/store/") && lines[0].ends_with("-a-1.0"));
    let (q, _) = f.ok(&["-p", p1s, "-q", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&q).unwrap();
    // Keyed by the index in the manifest, as Nix 2.8 keys installed packages.
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["0", "1"]);
    let by_name = |n: &str| obj.values().find(|e| e["name"] == n).unwrap();
    assert_eq!(by_name("b-1.0")["version"], "1.0");
    assert_eq!(by_name("a-1.0")["pname"], "a");

    // Remove a: generation 3 has only b.
    let (_, err) = f.ok(&["-p", p1s, "-e", "a"]);
    assert!(err.contains("uninstalling 'a-1.0'"), "{err}");
    assert_eq!(f.current(&p1), 3);
    assert_eq!(
        f.env_files(&f.generation(&p1, 3)),
        files(&[("bin/b", "b1"), ("share/doc/b/README", "b1-doc")])
    );

    // Roll back to 2, list, switch to 3 again.
    let (_, err) = f.ok(&["-p", p1s, "--rollback"]);
    assert!(
        err.contains("switching profile from version 3 to 2"),
        "{err}"
    );
    assert_eq!(f.env_files(&f.now(&p1)), gen2);
    let (list, _) = f.ok(&["-p", p1s, "--list-generations"]);
    let list: Vec<&str> = list.lines().collect();
    assert_eq!(list.len(), 3, "{list:?}");
    assert!(list[0].starts_with("   1   20") && !list[0].contains("(current)"));
    assert!(list[1].starts_with("   2   ") && list[1].ends_with("   (current)"));
    f.ok(&["-p", p1s, "--switch-generation", "3"]);
    assert_eq!(f.current(&p1), 3);

    // Upgrade b in p1 to 2.0: generation 4.
    let (_, err) = f.ok(&["-p", p1s, "-u"]);
    assert!(err.contains("upgrading 'b-1.0' to 'b-2.0'"), "{err}");
    assert_eq!(f.current(&p1), 4);
    assert_eq!(
        f.env_files(&f.generation(&p1, 4)),
        files(&[("bin/b", "b2"), ("bin/b-extra", "b2-extra")])
    );
    // Nothing newer: no new generation.
    f.ok(&["-p", p1s, "-u"]);
    assert_eq!(f.current(&p1), 4);

    // A collision at equal priority names both files; a priority settles it.
    let out = f.nix_env(&["-p", p1s, "-iA", "clash"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(100), "{err}");
    assert!(
        err.contains("have the same priority 5")
            && err.contains("-b-2.0/bin/b'")
            && err.contains("-clash-1/bin/b'"),
        "{err}"
    );
    assert_eq!(f.current(&p1), 4);
    f.ok(&["-p", p1s, "-iA", "clashLow"]);
    assert_eq!(f.env_files(&f.now(&p1))["bin/b"], "b2");

    // The generations' diff.
    let out = kiln()
        .arg("--store")
        .arg(&f.root)
        .args(["profile", "diff-closures", "-p", p1s])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(diff.contains("Version 1 -> 2:\n  b: ∅ → 1.0"), "{diff}");
    assert!(diff.contains("Version 2 -> 3:\n  a: 1.0 → ∅"), "{diff}");
    assert!(diff.contains("Version 3 -> 4:\n  b: 1.0 → 2.0\n"), "{diff}");
    let out = kiln()
        .arg("--store")
        .arg(&f.root)
        .args(["profile", "diff", "-p", p1s, "2", "4"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = diff.lines().collect();
    assert_eq!(
        lines[..6],
        [
            format!("<<< {p1s}-2-link").as_str(),
            &format!(">>> {p1s}-4-link"),
            "Version changes:",
            "[U.]  #1  b  1.0 -> 2.0",
            "Removed packages:",
            "[R.]  #1  a  1.0",
        ],
        "{diff}"
    );
    assert!(lines[6].starts_with("Closure size: 4 -> 3 ("), "{diff}");

    // A flag changes the winner of the collision: generation 6.
    let (_, err) = f.ok(&["-p", p1s, "--set-flag", "priority", "1", "clash"]);
    assert!(err.contains("setting flag on 'clash-2'"), "{err}");
    assert_eq!(f.current(&p1), 6);
    assert_eq!(f.env_files(&f.now(&p1))["bin/b"], "clash");
    let (q, _) = f.ok(&["-p", p1s, "-q", "--json"]);
    assert!(q.contains("\"clash\""), "{q}");

    // Deleting generations: not the current one; `+N` keeps the N newest; `old` keeps only
    // the current one.
    let out = f
        .nix_env(&["-p", p1s, "--delete-generations", "6"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    f.ok(&["-p", p1s, "--delete-generations", "1"]);
    assert!(std::fs::symlink_metadata(p1.with_file_name("p1-1-link")).is_err());
    let (_, err) = f.ok(&["-p", p1s, "--delete-generations", "+2"]);
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [
            "removing profile version 2",
            "removing profile version 3",
            "removing profile version 4"
        ]
    );
    f.ok(&["-p", p1s, "--switch-generation", "5"]);
    f.ok(&["-p", p1s, "--delete-generations", "old"]);
    assert_eq!(f.current(&p1), 5);
    assert_eq!(f.env_files(&f.now(&p1))["bin/b"], "b2");
    let (list, _) = f.ok(&["-p", p1s, "--list-generations"]);
    assert_eq!(list.lines().count(), 1, "{list}");
    // p2 is untouched by all of it.
    assert_eq!(f.env_files(&f.now(&p2))["bin/b"], "b2");
}

#[test]
fn kiln_profile_commands_and_default_profile() {
    let f = Fixture::new();
    let run = |args: &[&str]| {
        let out = kiln()
            .arg("--store")
            .arg(&f.root)
            .args(["--option", "sandbox-paths", "/bin/sh=/bin/busybox"])
            .arg("profile")
            .args(args)
            .env("USER", "tester")
            .env("HOME", f.dir.join("home"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "kiln profile {args:?}: {err}");
        String::from_utf8(out.stdout).unwrap()
    };
    let file = f.file.to_str().unwrap();
    run(&["install", "-f", file, "a", "b1"]);
    // The default profile of a store root is under its state directory, named by Nix 2.8's
    // rules, and ~/.nix-profile points to it.
    let profile = default_profile_of(&f.root);
    assert_eq!(f.current(&profile), 1);
    let link = f.dir.join("home/.nix-profile");
    assert_eq!(std::fs::read_link(&link).unwrap(), profile);
    // Nix 2.8 with the same state directory names the same profile.
    let home2 = f.dir.join("home2");
    std::fs::create_dir(&home2).unwrap();
    let out = reference(&f.dir, "nix-env")
        .env("NIX_STATE_DIR", f.root.join("nix/var/nix"))
        .env("HOME", &home2)
        .env("USER", "tester")
        .arg("--store")
        .arg(format!("local?root={}", f.root.display()))
        .arg("-q")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_link(home2.join(".nix-profile")).unwrap(),
        profile
    );
    // A ~/.nix-profile of another store root is neither used nor changed.
    let other = f.dir.join("other-root");
    let out = kiln()
        .arg("--store")
        .arg(&other)
        .args(["--option", "sandbox-paths", "/bin/sh=/bin/busybox"])
        .args(["profile", "install", "-f", file, "clash"])
        .env("USER", "tester")
        .env("HOME", f.dir.join("home"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), profile);
    assert_eq!(f.current(&profile), 1);
    assert_eq!(f.current(&default_profile_of(&other)), 1);
    let list = run(&["list"]);
    assert!(list.starts_with("a-1.0  /nix/store/"), "{list}");
    run(&["remove", "b"]);
    assert_eq!(
        f.env_files(&f.now(&profile)).keys().collect::<Vec<_>>(),
        ["bin/a", "share/doc/a/README"]
    );
    run(&["rollback"]);
    assert_eq!(f.current(&profile), 1);
    let history = run(&["history"]);
    assert_eq!(history.lines().count(), 2);
    run(&["switch-generation", "2"]);
    run(&["wipe-history"]);
    assert_eq!(run(&["history"]).lines().count(), 1);
    // The same profile is nix-env's default.
    let (q, _) = f.ok(&["-q"]);
    assert_eq!(q, "a-1.0\n");
    // What the file offers, and a name it does not offer.
    let (qa, _) = f.ok(&["-qa"]);
    assert_eq!(qa, "a-1.0\nb-1.0\nb-2.0\nclash-1\nclash-2\nprop-1\n");
    let out = f.nix_env(&["-i", "nothing"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("error: selector 'nothing' matches no derivations"));
    let out = f.nix_env(&["-i", "a", "-e", "a"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    // Generations are roots: a collection keeps the current environment and its packages,
    // and takes b, which only the wiped generation had.
    let store = f.root.join("nix/store");
    let has = |suffix: &str| {
        std::fs::read_dir(&store)
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(suffix))
    };
    assert!(has("-b-1.0"));
    let out = kiln()
        .arg("--store")
        .arg(&f.root)
        .arg("collect-garbage")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!has("-b-1.0"));
    assert!(has("-a-1.0"));
    assert_eq!(
        f.env_files(&f.now(&profile)),
        files(&[("bin/a", "a"), ("share/doc/a/README", "a-doc")])
    );
}

/// The default profile Nix 2.8 gives a store root's state directory: `profiles/default`
/// for root, `profiles/per-user/$USER/profile` (here `tester`) for anyone else.
fn default_profile_of(root: &Path) -> PathBuf {
    let uid = Command::new("id").arg("-u").output().unwrap();
    let profiles = root.join("nix/var/nix/profiles");
    if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        profiles.join("default")
    } else {
        profiles.join("per-user/tester/profile")
    }
}

/// Kills `nix-env -i` at random moments, many times: the profile always points to a
/// complete generation, and the next run succeeds.
#[test]
fn killed_installs_leave_a_complete_generation() {
    let f = Fixture::new();
    let p = f.dir.join("profiles/p");
    let ps = p.to_str().unwrap();
    f.ok(&["-p", ps, "-iA", "a"]);
    // How long an install takes, to spread the kills over it.
    let start = std::time::Instant::now();
    f.ok(&["-p", ps, "-iA", "b1"]);
    let span = start.elapsed().as_micros().max(1000) as u64;
    let mut seed = std::process::id() as u64 ^ span;
    let attrs = ["b2", "b1"];
    let mut killed = 0;
    for i in 0..40 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = (seed >> 33) % span;
        let mut child = f.nix_env(&["-p", ps, "-iA", attrs[i % 2]]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_micros(delay));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill();
        child.wait().unwrap();
        // The profile points to an existing generation whose environment is valid and whole.
        let n = f.current(&p);
        let env = f.generation(&p, n);
        let out = kiln()
            .arg("--store")
            .arg(&f.root)
            .args(["store", "path-info"])
            .arg(&env)
            .output()
            .unwrap();
        assert!(out.status.success(), "generation {n} is not valid");
        let tree = f.env_files(&env);
        assert_eq!(tree["bin/a"], "a", "generation {n}: {tree:?}");
        assert!(tree["bin/b"] == "b1" || tree["bin/b"] == "b2", "{tree:?}");
    }
    assert!(killed > 0, "no run was killed while it ran");
    // And the profile still works.
    f.ok(&["-p", ps, "-iA", "b2"]);
    assert_eq!(f.env_files(&f.now(&p))["bin/b"], "b2");
    let (q, _) = f.ok(&["-p", ps, "-q"]);
    assert_eq!(q, "a-1.0\nb-2.0\n");
}

/// A first install in a fresh profile (the one case Nix 2.8's `nix-env` handles in a store
/// root: later ones read manifests through the host's `/nix`) makes the same manifest, the
/// same user-environment derivation and so the same generation as Nix 2.8's.
#[test]
fn first_install_matches_nix_2_8() {
    let f = Fixture::new();
    let kiln_profile = f.dir.join("kiln-profile");
    f.ok(&[
        "-p",
        kiln_profile.to_str().unwrap(),
        "-iA",
        "a",
        "b1",
        "prop",
    ]);
    let nix_root = f.dir.join("nix-root");
    let nix_profile = f.dir.join("nix-profile");
    let out = reference(&f.dir, "nix-env")
        .arg("--store")
        .arg(format!("local?root={}", nix_root.display()))
        .args(["--option", "sandbox", "true"])
        .args(["--option", "sandbox-paths", "/bin/sh=/bin/busybox"])
        .args(["--option", "substituters", ""])
        .arg("-f")
        .arg(&f.file)
        .arg("-p")
        .arg(&nix_profile)
        .args(["-iA", "a", "b1", "prop"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = f.generation(&kiln_profile, 1);
    let theirs = std::fs::read_link(f.dir.join("nix-profile-1-link")).unwrap();
    assert_eq!(ours, theirs);
    let manifest = |root: &Path| {
        let link = std::fs::read_link(
            root.join(ours.strip_prefix("/").unwrap())
                .join("manifest.nix"),
        )
        .unwrap();
        std::fs::read_to_string(root.join(link.strip_prefix("/").unwrap())).unwrap()
    };
    assert_eq!(manifest(&f.root), manifest(&nix_root));
    // The merged trees (a's `share/doc` link expanded to hold b's too; b-2.0, which prop
    // propagates, loses bin/b to b-1.0 but brings bin/b-extra) are the same bytes.
    let files_now = f.env_files(&ours);
    assert_eq!(files_now["bin/b"], "b1");
    assert_eq!(files_now["bin/b-extra"], "b2-extra");
    assert_eq!(files_now["bin/p"], "p");
    let nar_hash = |root: &Path| {
        let out = reference(&f.dir, "nix-store")
            .arg("--store")
            .arg(format!("local?root={}", root.display()))
            .args(["-q", "--hash"])
            .arg(&ours)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(nar_hash(&f.root), nar_hash(&nix_root));
    // Kiln reads the profile Nix made.
    let out = legacy(&f.dir, "nix-env")
        .arg("--store")
        .arg(&nix_root)
        .arg("-p")
        .arg(&nix_profile)
        .args(["-q", "--out-path"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let q = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = q.lines().map(|l| l.split("  ").next().unwrap()).collect();
    assert_eq!(names, ["a-1.0", "b-1.0", "prop-1"], "{q}");
    assert!(q.starts_with("a-1.0   /nix/store/"), "{q}");
    // Kiln's next change keeps what was installed.
    f.ok(&["-p", kiln_profile.to_str().unwrap(), "-iA", "clashLow"]);
    let (q, _) = f.ok(&["-p", kiln_profile.to_str().unwrap(), "-q"]);
    assert_eq!(q, "a-1.0\nb-1.0\nclash-2\nprop-1\n");
}

/// Two `nix-env -i` at once on one profile: neither change is lost (the later one starts
/// over when the profile changed under it).
#[test]
fn concurrent_installs_both_land() {
    let f = Fixture::new();
    // Build everything once so the runs race on the profile, not on the builds.
    f.ok(&["-p", f.dir.join("warm").to_str().unwrap(), "-iA", "a", "b1"]);
    let mut restarts = 0;
    for round in 0..4 {
        let p = f.dir.join(format!("profiles/c{round}"));
        let ps = p.to_str().unwrap();
        let spawn = |attr: &str| {
            f.nix_env(&["-p", ps, "-iA", attr])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (x, y) = (spawn("a"), spawn("b1"));
        for child in [x, y] {
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(out.status.success(), "{err}");
            restarts += err
                .matches("changed while we were busy; restarting")
                .count();
        }
        let (q, _) = f.ok(&["-p", ps, "-q"]);
        assert_eq!(q, "a-1.0\nb-1.0\n", "round {round}");
        assert_eq!(
            f.env_files(&f.now(&p)).keys().collect::<Vec<_>>(),
            ["bin/a", "bin/b", "share/doc/a/README", "share/doc/b/README"]
        );
    }
    // The runs did meet (each round's two start together and take as long).
    assert!(restarts > 0, "no run had to start over");
}

/// A derivation `name` whose output is a directory with `bin/<name>`.
fn pkg(name: &str) -> String {
    format!(
        "derivation {{ name = \"{name}\"; system = builtins.currentSystem; builder = \"/bin/sh\"; \
         args = [ \"-c\" \"mkdir -p $out/bin; echo {name} > $out/bin/{name}\" ]; }}"
    )
}

/// Writes a `~/.nix-defexpr` under `home`: `.nix` files, directories with a `default.nix`
/// (one a function), a directory searched for more, a name collision, a dangling link, and
/// `channels` linked to `channels` (a directory of channels with its `manifest.nix`).
fn write_defexpr(home: &Path, channels: &Path) {
    let d = home.join(".nix-defexpr");
    for sub in ["bar", "sub/deep", "foo"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let w = |p: PathBuf, text: String| std::fs::write(p, text).unwrap();
    w(
        d.join("more.nix"),
        format!(
            "{{ a = {}; b = {}; notADrv = 3; nested = {{ recurseForDerivations = true; n = {}; }}; \
             hidden = {{ h = {}; }}; }}",
            pkg("a-1.0"),
            pkg("b-2.0"),
            pkg("n-1"),
            pkg("h-1")
        ),
    );
    w(
        d.join("bar/default.nix"),
        format!("{{ ... }}: {{ c = {}; }}", pkg("c-1")),
    );
    w(d.join("sub/baz.nix"), pkg("baz-1"));
    w(
        d.join("sub/deep/default.nix"),
        format!("{{ d = {}; }}", pkg("d-1")),
    );
    w(
        d.join("foo/default.nix"),
        format!("{{ dup = {}; }}", pkg("dup-1")),
    );
    w(
        d.join("foo.nix"),
        format!("{{ lost = {}; }}", pkg("lost-1")),
    );
    w(d.join("README"), "not an expression".to_owned());
    std::os::unix::fs::symlink("/nonexistent/kiln-test", d.join("dangling")).unwrap();
    std::os::unix::fs::symlink(channels, d.join("channels")).unwrap();
}

fn write_channels(dir: &Path) {
    std::fs::create_dir_all(dir.join("chan")).unwrap();
    std::fs::write(
        dir.join("chan/default.nix"),
        format!("{{ e = {}; a = {}; }}", pkg("e-1"), pkg("a-0.5")),
    )
    .unwrap();
    std::fs::write(dir.join("manifest.nix"), "[ ]").unwrap();
}

/// Without `-f`, `nix-env` reads `~/.nix-defexpr` as Nix 2.8 does: the same packages under
/// the same attribute paths and the same warnings; `-i NAME` and `-iA attr` install from it,
/// also when its channels are reached through links inside a store root.
#[test]
fn nix_env_without_f_reads_nix_defexpr() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let home = dir.join("home");
    write_channels(&dir.join("chans"));
    write_defexpr(&home, &dir.join("chans"));
    let root = dir.join("root");
    let kiln_env = |home: &Path, args: &[&str]| {
        let mut cmd = legacy(dir, "nix-env");
        cmd.arg("--store")
            .arg(&root)
            .args(["--option", "sandbox-paths", "/bin/sh=/bin/busybox"])
            .args(args)
            .env("HOME", home)
            .env("USER", "tester");
        cmd.output().unwrap()
    };
    let nix_env = |args: &[&str]| {
        reference(dir, "nix-env")
            .arg("--store")
            .arg(format!("local?root={}", dir.join("nix-root").display()))
            .args(args)
            .env("HOME", &home)
            .output()
            .unwrap()
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for args in [&["-qa"][..], &["-qaP", "--out-path"], &["-qaA", "chan"]] {
        let ours = kiln_env(&home, args);
        let theirs = nix_env(args);
        assert!(theirs.status.success(), "{}", text(&theirs.stderr));
        assert!(ours.status.success(), "{}", text(&ours.stderr));
        assert_eq!(text(&ours.stdout), text(&theirs.stdout), "{args:?}");
        assert_eq!(text(&ours.stderr), text(&theirs.stderr), "{args:?}");
    }
    let listed = text(&kiln_env(&home, &["-qaP"]).stdout);
    assert_eq!(
        listed,
        "chan.a         a-0.5\nmore.a         a-1.0\nmore.b         b-2.0\n\
         baz            baz-1\nbar.c          c-1\ndeep.d         d-1\n\
         foo.dup        dup-1\nchan.e         e-1\nmore.nested.n  n-1\n"
    );

    // Install by name (the newest a) and by attribute path, into the default profile.
    let out = kiln_env(&home, &["-i", "a"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = kiln_env(&home, &["-iA", "chan.e", "bar.c"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&kiln_env(&home, &["-q"]).stdout), "a-1.0\nc-1\ne-1\n");

    // Channels reached through links that name the store root's logical paths.
    let added = super::stdout_of(
        kiln()
            .arg("--store")
            .arg(&root)
            .args(["store", "add"])
            .arg(dir.join("chans")),
    );
    let per_user = root.join("nix/var/nix/profiles/per-user/tester");
    std::fs::create_dir_all(&per_user).unwrap();
    std::os::unix::fs::symlink(added.trim(), per_user.join("channels")).unwrap();
    let home2 = dir.join("home2");
    write_defexpr(
        &home2,
        Path::new("/nix/var/nix/profiles/per-user/tester/channels"),
    );
    assert_eq!(text(&kiln_env(&home2, &["-qaP"]).stdout), listed);
    let out = kiln_env(&home2, &["-iA", "chan.a"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The same default profile: a-0.5 replaced a-1.0.
    assert_eq!(text(&kiln_env(&home2, &["-q"]).stdout), "a-0.5\nc-1\ne-1\n");
}

/// `--list-generations` prints each generation's time in the local time zone (`TZ`: a zone
/// name, a POSIX rule, or unset), byte for byte as Nix 2.8 does.
#[test]
fn list_generations_prints_local_time_as_nix_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let profile = dir.join("p");
    for (n, when) in [(1, "@1700000000"), (2, "@1710000000")] {
        let link = dir.join(format!("p-{n}-link"));
        std::os::unix::fs::symlink(
            format!("/nix/store/{}-user-environment", n.to_string().repeat(32)),
            &link,
        )
        .unwrap();
        assert!(Command::new("touch")
            .args(["-h", "-d", when])
            .arg(&link)
            .status()
            .unwrap()
            .success());
    }
    std::os::unix::fs::symlink("p-2-link", &profile).unwrap();
    let zones = [
        (Some("UTC"), "   1   2023-11-14 22:13:20   \n"),
        (Some("Asia/Tokyo"), "   1   2023-11-15 07:13:20   \n"),
        (
            Some("EST5EDT,M3.2.0,M11.1.0"),
            "   1   2023-11-14 17:13:20   \n",
        ),
        (None, ""),
    ];
    for (tz, first) in zones {
        let with_tz = |cmd: &mut Command| {
            match tz {
                Some(tz) => cmd.env("TZ", tz),
                None => cmd.env_remove("TZ"),
            };
        };
        let mut ours = legacy(dir, "nix-env");
        ours.arg("--store")
            .arg(dir.join("root"))
            .arg("-p")
            .arg(&profile)
            .arg("--list-generations");
        with_tz(&mut ours);
        let ours = super::stdout_of(&mut ours);
        let mut theirs = reference(dir, "nix-env");
        theirs.arg("-p").arg(&profile).arg("--list-generations");
        with_tz(&mut theirs);
        let theirs = super::stdout_of(&mut theirs);
        assert_eq!(ours, theirs, "TZ={tz:?}");
        assert!(ours.starts_with(first), "TZ={tz:?}: {ours}");
        assert!(ours.ends_with("   (current)\n"), "{ours}");
    }
}

/// Without `-f` and without `~/.nix-defexpr`, `nix-env` makes the directory (empty: no
/// packages) as Nix 2.8 does: `-qa` lists nothing, `-i NAME` finds nothing.
#[test]
fn a_missing_nix_defexpr_is_made_empty_as_nix_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = |nix: bool, args: &[&str]| {
        let home = dir.join(if nix { "home-nix" } else { "home-kiln" });
        std::fs::create_dir_all(&home).unwrap();
        let mut cmd = if nix {
            let mut c = reference(dir, "nix-env");
            c.arg("--store")
                .arg(format!("local?root={}", dir.join("root-nix").display()));
            c
        } else {
            let mut c = legacy(dir, "nix-env");
            c.arg("--store").arg(dir.join("root-kiln"));
            c
        };
        let out = cmd.env("HOME", &home).args(args).output().unwrap();
        assert!(home.join(".nix-defexpr").is_dir());
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for args in [&["-qa"][..], &["-i", "foo"]] {
        assert_eq!(run(false, args), run(true, args), "nix-env {args:?}");
    }
}
