//! Garbage collection from the command line: `kiln store gc`, `kiln collect-garbage`,
//! `nix-store --gc` and `nix-collect-garbage`, against Nix 2.8 on copies of one root, and
//! killed at random moments.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{failure_of, kiln, legacy, reference, stdout_of};

/// An expression of `n` derivations named `<tag><i>`, each depending on the previous one and
/// on a `toFile`.
fn chain_expr(dir: &Path, tag: &str, n: u32) -> PathBuf {
    let file = dir.join(format!("{tag}.nix"));
    std::fs::write(
        &file,
        format!(
            r#"let
  mk = i: derivation {{
    name = "{tag}${{toString i}}";
    system = "x86_64-linux";
    builder = "/bin/sh";
    args = [ (builtins.toFile "{tag}-script-${{toString i}}" "echo ${{toString i}}") ];
    prev = if i == 0 then "" else mk (i - 1);
  }};
in mk {last}"#,
            last = n - 1
        ),
    )
    .unwrap();
    file
}

/// Files to add as garbage: `n` small files under `dir/<tag>`.
fn garbage_files(dir: &Path, tag: &str, n: u32) -> Vec<PathBuf> {
    let d = dir.join(tag);
    std::fs::create_dir_all(&d).unwrap();
    (0..n)
        .map(|i| {
            let f = d.join(format!("g{i}"));
            std::fs::write(&f, format!("{tag} {i}\n")).unwrap();
            f
        })
        .collect()
}

fn kiln_store(root: &Path) -> Command {
    let mut cmd = kiln();
    cmd.arg("--store").arg(root);
    cmd
}

fn sorted_lines(s: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(s)
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// The entries of a store directory, without the implementation's own (dot) files.
fn store_entries(root: &Path) -> BTreeSet<String> {
    std::fs::read_dir(root.join("nix/store"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

/// A store with a chain of derivations rooted through `result`, a direct root, a profile
/// with two generations and loose garbage. Returns the root's directory.
fn populate(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    let expr = chain_expr(dir, "d", 6);
    stdout_of(
        kiln_store(&root)
            .arg("instantiate")
            .arg(&expr)
            .arg("--add-root")
            .arg(dir.join("result")),
    );
    let added = stdout_of(
        kiln_store(&root)
            .args(["store", "add"])
            .args(garbage_files(dir, "files", 6)),
    );
    let added: Vec<&str> = added.lines().collect();
    let state = root.join("nix/var/nix");
    std::os::unix::fs::symlink(added[0], state.join("gcroots/direct")).unwrap();
    let profiles = state.join("profiles");
    std::os::unix::fs::symlink(added[1], profiles.join("p-1-link")).unwrap();
    std::os::unix::fs::symlink(added[2], profiles.join("p-2-link")).unwrap();
    std::os::unix::fs::symlink("p-2-link", profiles.join("p")).unwrap();
    // A garbage chain the instantiation made too: a derivation nothing roots.
    stdout_of(
        kiln_store(&root)
            .arg("instantiate")
            .arg(chain_expr(dir, "x", 3)),
    );
    root
}

#[test]
fn nix_store_gc_matches_nix_on_one_root_and_on_copies() {
    let dir = tempfile::tempdir().unwrap();
    let root = populate(dir.path());
    let nix_store = |r: &Path| {
        let mut cmd = reference(dir.path(), "nix-store");
        cmd.arg("--store")
            .arg(format!("local?root={}", r.display()));
        cmd
    };
    let kiln_nix_store = |r: &Path| {
        let mut cmd = legacy(dir.path(), "nix-store");
        cmd.arg("--store").arg(r);
        cmd
    };
    for flag in ["--print-roots", "--print-live", "--print-dead"] {
        let ours = stdout_of(kiln_nix_store(&root).args(["--gc", flag]));
        let theirs = stdout_of(nix_store(&root).args(["--gc", flag]));
        // Nix 2.8 lists (and deletes, even here) store entries not named like store paths,
        // such as Kiln's `.kiln-tmp`.
        let theirs: String = theirs
            .lines()
            .filter(|l| !l.starts_with("/nix/store/."))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(ours, theirs, "{flag}");
        assert!(!ours.is_empty(), "{flag}");
    }
    // Collect a copy each with nix-collect-garbage -d: same output, same survivors.
    let copy = dir.path().join("copy");
    assert!(Command::new("cp")
        .arg("-a")
        .arg(&root)
        .arg(&copy)
        .status()
        .unwrap()
        .success());
    let _ = std::fs::remove_dir_all(copy.join("nix/store/.kiln-tmp"));
    let ours = legacy(dir.path(), "nix-collect-garbage")
        .arg("--store")
        .arg(&root)
        .arg("-d")
        .output()
        .unwrap();
    let mut cmd = reference(dir.path(), "nix-collect-garbage");
    // Nix 2.8 finds the profiles under NIX_STATE_DIR, not under the store's root.
    let theirs = cmd
        .env("NIX_STATE_DIR", copy.join("nix/var/nix"))
        .arg("--store")
        .arg(format!("local?root={}", copy.display()))
        .arg("-d")
        .output()
        .unwrap();
    assert!(ours.status.success() && theirs.status.success());
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
    assert!(String::from_utf8_lossy(&ours.stdout).starts_with("10 store paths deleted, "));
    // The same lines; Nix deletes in directory order, Kiln referrers first.
    let ours_err = sorted_lines(&ours.stderr).join("\n");
    let theirs_err = sorted_lines(&theirs.stderr)
        .join("\n")
        .replace(&copy.display().to_string(), &root.display().to_string());
    assert_eq!(ours_err, theirs_err);
    assert_eq!(store_entries(&root), store_entries(&copy));
    stdout_of(nix_store(&root).args(["--verify", "--check-contents"]));
    stdout_of(kiln_nix_store(&copy).args(["--verify", "--check-contents"]));
}

#[test]
fn store_gc_dry_run_max_freed_and_collect_garbage_generations() {
    let dir = tempfile::tempdir().unwrap();
    let root = populate(dir.path());
    let dead = stdout_of(kiln_store(&root).args(["store", "gc", "--dry-run"]));
    assert_eq!(dead.lines().count(), 9, "{dead}");
    let out = kiln_store(&root)
        .args(["store", "gc", "--max-freed", "1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("1 store paths deleted, "));
    assert!(String::from_utf8_lossy(&out.stderr).contains("deleted more than 1 bytes; stopping"));
    assert_eq!(
        stdout_of(kiln_store(&root).args(["store", "gc", "--dry-run"]))
            .lines()
            .count(),
        8
    );
    // Generations: a dry run names them and changes nothing; then -d removes generation 1.
    let out = kiln_store(&root)
        .args(["collect-garbage", "-d", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("would remove profile version 1"));
    assert!(out.stdout.is_empty());
    let out = kiln_store(&root)
        .args(["collect-garbage", "--delete-older-than", "30d"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("removing profile version"));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("8 store paths deleted, "));
    let out = kiln_store(&root)
        .args(["collect-garbage", "-d"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("removing profile version 1"));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("1 store paths deleted, "));
    // Usage errors: kiln exits 2, the legacy names 1 as Nix does.
    let out = failure_of(kiln_store(&root).args(["collect-garbage", "--delete-older-than", "7"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected something like '14d'"));
    let out = failure_of(
        legacy(dir.path(), "nix-collect-garbage")
            .arg("--store")
            .arg(&root)
            .arg("--bogus"),
    );
    assert_eq!(out.status.code(), Some(1));
    let out = failure_of(
        legacy(dir.path(), "nix-store")
            .arg("--store")
            .arg(&root)
            .args(["--gc", "x"]),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        failure_of(kiln_store(&root).args(["store", "gc", "--max-freed", "x"]))
            .status
            .code(),
        Some(2)
    );
}

/// Kills `kiln store gc` at random moments on a store of a few hundred paths, 50 times: each
/// time the store stays consistent and every path the roots reach stays, and the next
/// collection completes.
#[test]
fn a_killed_collection_never_loses_a_live_path_or_leaves_a_valid_one_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let expr = chain_expr(dir.path(), "d", 100);
    stdout_of(
        kiln_store(&root)
            .arg("instantiate")
            .arg(&expr)
            .arg("--add-root")
            .arg(dir.path().join("result")),
    );
    let drv = std::fs::read_link(dir.path().join("result")).unwrap();
    let live = stdout_of(kiln_store(&root).args(["store", "closure"]).arg(&drv));
    assert_eq!(live.lines().count(), 200);
    // Time an uninterrupted collection of 300 garbage paths to aim the first kill.
    stdout_of(kiln_store(&root).args(["store", "add"]).args(garbage_files(
        dir.path(),
        "warm",
        300,
    )));
    let start = Instant::now();
    stdout_of(kiln_store(&root).args(["store", "gc"]));
    // Kills land at random in [aim/2, 3·aim/2]; the aim moves towards the deletion phase (later
    // when nothing was deleted yet, earlier when everything was), so most land inside it.
    let mut aim = start.elapsed().as_micros() as u64 / 2 + 1;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut killed = 0;
    let mut mid_deletion = 0;
    for round in 0..50 {
        stdout_of(kiln_store(&root).args(["store", "add"]).args(garbage_files(
            dir.path(),
            &format!("r{round}"),
            300,
        )));
        let dead = |root: &Path| {
            stdout_of(kiln_store(root).args(["store", "gc", "--dry-run"]))
                .lines()
                .count()
        };
        let before = dead(&root);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_micros(aim / 2 + (seed >> 33) % (aim + 1));
        let mut child = kiln_store(&root)
            .args(["store", "gc"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        stdout_of(kiln_store(&root).args(["store", "verify"]));
        let after = dead(&root);
        if after == before {
            aim = aim * 5 / 4 + 1;
        } else if after == 0 {
            aim = aim * 4 / 5 + 1;
        } else {
            mid_deletion += 1;
        }
        assert_eq!(
            stdout_of(kiln_store(&root).args(["store", "closure"]).arg(&drv)),
            live,
            "round {round}: a live path was deleted"
        );
    }
    assert!(
        killed >= 25,
        "only {killed} of 50 collections were killed while running"
    );
    assert!(
        mid_deletion >= 5,
        "only {mid_deletion} collections were killed while deleting ({killed} while running)"
    );
    stdout_of(kiln_store(&root).args(["store", "gc"]));
    assert_eq!(
        stdout_of(kiln_store(&root).args(["store", "gc", "--dry-run"])),
        ""
    );
    stdout_of(kiln_store(&root).args(["store", "verify", "--check-contents"]));
    let entries = store_entries(&root);
    assert_eq!(entries.len(), 200, "only the live paths are left");
}

/// `nix-store --delete` refuses a path that is still alive (a root, or referred to from
/// outside the set; `--ignore-liveness` leaves only the latter) with Nix 2.8's message, exit
/// code and output, on one root and a copy; `kiln store delete` does the same.
#[test]
fn nix_store_delete_refuses_live_paths_as_nix_does() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let added = stdout_of(kiln_store(&root).args(["store", "add"]).args(garbage_files(
        dir.path(),
        "f",
        3,
    )));
    let added: Vec<&str> = added.lines().collect();
    let drv = stdout_of(
        kiln_store(&root)
            .arg("instantiate")
            .arg(chain_expr(dir.path(), "d", 1)),
    );
    let drv = drv.trim();
    let script = stdout_of(kiln_store(&root).args(["store", "references", drv]));
    let script = script.trim();
    let state = root.join("nix/var/nix");
    std::os::unix::fs::symlink(added[0], state.join("gcroots/a")).unwrap();
    let copy = dir.path().join("copy");
    assert!(Command::new("cp")
        .arg("-a")
        .arg(&root)
        .arg(&copy)
        .status()
        .unwrap()
        .success());
    let _ = std::fs::remove_dir_all(copy.join("nix/store/.kiln-tmp"));
    let steps: Vec<Vec<&str>> = vec![
        vec![added[0]],
        // In Nix's order: the paths before the live one go, then the refusal.
        vec![added[1], added[0], added[2]],
        vec![added[2]],
        vec![added[2]],
        vec![script],
        vec!["--ignore-liveness", script],
        vec!["--ignore-liveness", added[0]],
        vec!["--ignore-liveness", drv, script],
    ];
    for args in steps {
        let ours = legacy(dir.path(), "nix-store")
            .arg("--store")
            .arg(&root)
            .arg("--delete")
            .args(&args)
            .output()
            .unwrap();
        let theirs = reference(dir.path(), "nix-store")
            .arg("--store")
            .arg(format!("local?root={}", copy.display()))
            .arg("--delete")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{args:?}"
        );
        assert_eq!(
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&theirs.stderr)
                .replace(&copy.display().to_string(), &root.display().to_string()),
            "{args:?}"
        );
        assert_eq!(store_entries(&root), store_entries(&copy), "{args:?}");
    }
    // `kiln store delete`: a rooted path stays unless --ignore-liveness.
    let kept = stdout_of(
        kiln_store(&root)
            .args(["store", "add"])
            .arg(dir.path().join("f/g0")),
    );
    let kept = kept.trim();
    std::os::unix::fs::symlink(kept, state.join("gcroots/k")).unwrap();
    let out = failure_of(kiln_store(&root).args(["store", "delete", kept]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "error: Cannot delete path '{kept}' since it is still alive"
        )),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "0 store paths deleted, 0.00 MiB freed\n"
    );
    let out = stdout_of(kiln_store(&root).args(["store", "delete", "--ignore-liveness", kept]));
    assert!(out.starts_with("1 store paths deleted, "), "{out}");
    stdout_of(kiln_store(&root).args(["store", "verify", "--check-contents"]));
}

/// `keep-derivations` and `keep-outputs`, from `--option` (and `kiln.conf`), decide what a
/// derivation and its output keep alive, in `nix-store --gc`, `kiln store gc` and
/// `nix-collect-garbage` as in Nix 2.8.
#[test]
fn keep_outputs_and_keep_derivations_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let file = dir.path().join("k.nix");
    std::fs::write(
        &file,
        r#"derivation { name = "k"; system = builtins.currentSystem; builder = "/bin/sh";
             args = [ "-c" "echo built > $out" ]; }"#,
    )
    .unwrap();
    let out = stdout_of(
        kiln_store(&root)
            .args(["--option", "sandbox-paths", "/bin/sh=/bin/busybox"])
            .arg("build")
            .arg(&file)
            .arg("--no-link"),
    );
    let out = out.trim().to_owned();
    let drv = stdout_of(kiln_store(&root).arg("instantiate").arg(&file));
    let drv = drv.trim().to_owned();
    let gcroots = root.join("nix/var/nix/gcroots");
    let dead = |args: &[&str]| -> (BTreeSet<String>, BTreeSet<String>) {
        let ours = stdout_of(
            legacy(dir.path(), "nix-store")
                .arg("--store")
                .arg(&root)
                .args(["--gc", "--print-dead"])
                .args(args),
        );
        let theirs = stdout_of(
            reference(dir.path(), "nix-store")
                .arg("--store")
                .arg(format!("local?root={}", root.display()))
                .args(["--gc", "--print-dead"])
                .args(args),
        );
        // Nix 2.8 also lists Kiln's own `.kiln-tmp`.
        let set = |s: String| {
            s.lines()
                .filter(|l| !l.starts_with("/nix/store/."))
                .map(str::to_owned)
                .collect::<BTreeSet<_>>()
        };
        let (ours, theirs) = (set(ours), set(theirs));
        let kiln_dry = set(stdout_of(
            kiln_store(&root)
                .args(["store", "gc", "--dry-run"])
                .args(args),
        ));
        assert_eq!(ours, kiln_dry, "{args:?}");
        (ours, theirs)
    };
    let keep_drv_off = ["--option", "keep-derivations", "false"];
    let keep_out_on = ["--option", "keep-outputs", "true"];

    // The output rooted: it keeps its derivation unless keep-derivations is off.
    std::os::unix::fs::symlink(&out, gcroots.join("out")).unwrap();
    let (ours, theirs) = dead(&[]);
    assert_eq!(ours, theirs);
    assert!(!ours.contains(&drv) && !ours.contains(&out), "{ours:?}");
    let (ours, theirs) = dead(&keep_drv_off);
    assert_eq!(ours, theirs);
    assert!(ours.contains(&drv) && !ours.contains(&out), "{ours:?}");
    std::fs::remove_file(gcroots.join("out")).unwrap();

    // The derivation rooted: its output lives only with keep-outputs.
    std::os::unix::fs::symlink(&drv, gcroots.join("drv")).unwrap();
    let (ours, theirs) = dead(&[]);
    assert_eq!(ours, theirs);
    assert!(ours.contains(&out) && !ours.contains(&drv), "{ours:?}");
    let (ours, theirs) = dead(&keep_out_on);
    assert_eq!(ours, theirs);
    assert!(!ours.contains(&out), "{ours:?}");

    // Deleting honours them too: from the configuration file, then from --option.
    let conf = dir.path().join("conf");
    std::fs::create_dir_all(conf.join("kiln")).unwrap();
    std::fs::write(conf.join("kiln/kiln.conf"), "keep-outputs = true\n").unwrap();
    let physical = |p: &str| root.join(p.trim_start_matches('/'));
    stdout_of(
        legacy(dir.path(), "nix-collect-garbage")
            .env("XDG_CONFIG_HOME", &conf)
            .arg("--store")
            .arg(&root),
    );
    assert!(physical(&out).exists() && physical(&drv).exists());
    stdout_of(
        legacy(dir.path(), "nix-store")
            .env("XDG_CONFIG_HOME", &conf)
            .arg("--store")
            .arg(&root)
            .args(["--gc", "--option", "keep-outputs", "false"]),
    );
    assert!(!physical(&out).exists() && physical(&drv).exists());
}
