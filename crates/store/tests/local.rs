//! The local store against the reference Nix 2.8 on the same roots, and its crash, concurrency,
//! deletion and optimisation behaviour.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use kiln_formats::hash::HashAlgo;
use kiln_formats::store_path::{FileIngestionMethod, StorePath};
use kiln_store::{LocalStore, Store, StoreLocation, VerifyProblem};
use kiln_testkit::TreeSpec;

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreLocation::new(root)).unwrap()
}

/// `nix-store --store local?root=ROOT ARGS…`, with the reference's own state in `state`.
fn nix_store(state: &Path, root: &Path) -> Command {
    let mut cmd = kiln_testkit::reference_command("nix-store", state);
    cmd.arg("--store")
        .arg(format!("local?root={}", root.display()));
    cmd
}

#[track_caller]
fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Nix prints path sets in reverse topological order (references first).
fn nix_order(store: &LocalStore, paths: &BTreeSet<StorePath>) -> Vec<String> {
    let mut sorted = kiln_store::topo_sort(store, paths).unwrap();
    sorted.reverse();
    sorted.iter().map(|p| p.to_absolute("/nix/store")).collect()
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_owned).collect()
}

fn tree(dir: &Path, name: &str, seed: u64) -> PathBuf {
    let root = dir.join(name);
    TreeSpec {
        seed,
        depth: 3,
        width: 6,
        max_file_size: 3000,
    }
    .write(&root);
    root
}

#[test]
fn adds_give_the_paths_and_hashes_nix_store_gives() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = (dir.path().join("kiln"), dir.path().join("nix"));
    let store = open(&ours);
    let state = dir.path().join("state");
    let file = dir.path().join("file.txt");
    fs::write(&file, "some text\n").unwrap();
    let mut inputs = vec![file.clone()];
    for seed in 1..6 {
        inputs.push(tree(dir.path(), &format!("t{seed}"), seed));
    }
    for input in &inputs {
        let name = input.file_name().unwrap().to_str().unwrap();
        let info = store
            .add_path(
                name,
                input,
                FileIngestionMethod::Recursive,
                HashAlgo::Sha256,
            )
            .unwrap();
        let nix_path = stdout_of(nix_store(&state, &theirs).arg("--add").arg(input));
        assert_eq!(info.path.to_absolute("/nix/store"), nix_path.trim());
        let nix_hash =
            stdout_of(nix_store(&state, &theirs).args(["-q", "--hash", nix_path.trim()]));
        assert_eq!(info.nar_hash.to_string(), nix_hash.trim());
        let nix_size =
            stdout_of(nix_store(&state, &theirs).args(["-q", "--size", nix_path.trim()]));
        assert_eq!(info.nar_size.to_string(), nix_size.trim());
    }
    for (algo, recursive) in [
        ("sha256", false),
        ("sha1", false),
        ("md5", true),
        ("sha512", true),
    ] {
        let mut cmd = nix_store(&state, &theirs);
        cmd.arg("--add-fixed");
        if recursive {
            cmd.arg("--recursive");
        }
        let input = if recursive { &inputs[1] } else { &file };
        let nix_path = stdout_of(cmd.arg(algo).arg(input));
        let method = if recursive {
            FileIngestionMethod::Recursive
        } else {
            FileIngestionMethod::Flat
        };
        let name = input.file_name().unwrap().to_str().unwrap();
        let info = store
            .add_path(name, input, method, algo.parse().unwrap())
            .unwrap();
        assert_eq!(
            info.path.to_absolute("/nix/store"),
            nix_path.trim(),
            "{algo}"
        );
    }
    // The copies are canonical.
    for path in store.all_valid_paths().unwrap() {
        let mut todo = vec![store.real_path(&path)];
        while let Some(p) = todo.pop() {
            let meta = fs::symlink_metadata(&p).unwrap();
            assert_eq!(meta.mtime(), 1, "{}", p.display());
            if !meta.file_type().is_symlink() {
                let mode = meta.permissions().mode() & 0o7777;
                assert!(mode == 0o444 || mode == 0o555, "{}: {mode:o}", p.display());
            }
            if meta.is_dir() {
                todo.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            }
        }
    }
    assert!(store.verify(true).unwrap().is_empty());
}

/// Builds a small graph of text paths: c refers to b, b to a and itself-free, d to a and c.
fn text_graph(store: &LocalStore) -> Vec<StorePath> {
    let a = store.add_text("a", b"leaf", &BTreeSet::new()).unwrap().path;
    let b_text = format!("uses {}", a.to_absolute("/nix/store"));
    let b = store
        .add_text("b", b_text.as_bytes(), &BTreeSet::from([a.clone()]))
        .unwrap()
        .path;
    let c_text = format!("uses {}", b.to_absolute("/nix/store"));
    let c = store
        .add_text("c", c_text.as_bytes(), &BTreeSet::from([b.clone()]))
        .unwrap()
        .path;
    let d_text = format!(
        "{} {}",
        a.to_absolute("/nix/store"),
        c.to_absolute("/nix/store")
    );
    let d = store
        .add_text(
            "d",
            d_text.as_bytes(),
            &BTreeSet::from([a.clone(), c.clone()]),
        )
        .unwrap()
        .path;
    vec![a, b, c, d]
}

#[test]
fn nix_reads_a_store_kiln_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let state = dir.path().join("state");
    let store = open(&root);
    let paths = text_graph(&store);
    let t = tree(dir.path(), "t", 7);
    let added = store
        .add_path("t", &t, FileIngestionMethod::Recursive, HashAlgo::Sha256)
        .unwrap()
        .path;
    let abs = |p: &StorePath| p.to_absolute("/nix/store");
    for p in paths.iter().chain([&added]) {
        let info = store.query_path_info(p).unwrap().unwrap();
        let refs = stdout_of(nix_store(&state, &root).args(["-q", "--references", &abs(p)]));
        let ours = nix_order(&store, &info.references);
        assert_eq!(lines(&refs), ours, "references of {p}");
        let referrers = stdout_of(nix_store(&state, &root).args(["-q", "--referrers", &abs(p)]));
        let ours = nix_order(&store, &store.query_referrers(p).unwrap());
        assert_eq!(lines(&referrers), ours, "referrers of {p}");
        let hash = stdout_of(nix_store(&state, &root).args(["-q", "--hash", &abs(p)]));
        assert_eq!(hash.trim(), info.nar_hash.to_string());
        let size = stdout_of(nix_store(&state, &root).args(["-q", "--size", &abs(p)]));
        assert_eq!(size.trim(), info.nar_size.to_string());
        let deriver = stdout_of(nix_store(&state, &root).args(["-q", "--deriver", &abs(p)]));
        assert_eq!(deriver.trim(), "unknown-deriver");
        let closure = store.closure(&BTreeSet::from([p.clone()])).unwrap();
        let sorted = nix_order(&store, &closure);
        let reqs = stdout_of(nix_store(&state, &root).args(["-q", "--requisites", &abs(p)]));
        assert_eq!(lines(&reqs), sorted, "requisites of {p}");
    }
    let out = nix_store(&state, &root)
        .args(["--verify", "--check-contents"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("error"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And Nix can add to it next to Kiln's paths, and Kiln sees what Nix added.
    let f = dir.path().join("f");
    fs::write(&f, "from nix\n").unwrap();
    let p = stdout_of(nix_store(&state, &root).arg("--add").arg(&f));
    let store = open(&root);
    let p = store.parse_path(p.trim()).unwrap();
    assert!(store.is_valid_path(&p).unwrap());
    assert!(store.verify(true).unwrap().is_empty());
}

#[test]
fn kiln_reads_a_store_nix_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let state = dir.path().join("state");
    let expr = dir.path().join("drv.nix");
    fs::write(
        &expr,
        r#"
        let
          src = builtins.toFile "builder.sh" "echo hi > $out";
          dep = derivation { name = "dep"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ src ]; };
        in derivation {
          name = "top"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ src ];
          inherit dep;
        }
        "#,
    )
    .unwrap();
    let out = kiln_testkit::reference_command("nix-instantiate", &state)
        .arg("--store")
        .arg(format!("local?root={}", root.display()))
        .arg(&expr)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let top = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let store = open(&root);
    let top = store.parse_path(&top).unwrap();
    let abs = |p: &StorePath| p.to_absolute("/nix/store");
    let all = store.all_valid_paths().unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    for p in &all {
        let refs = stdout_of(nix_store(&state, &root).args(["-q", "--references", &abs(p)]));
        let ours = nix_order(&store, &store.query_references(p).unwrap());
        assert_eq!(lines(&refs), ours, "references of {p}");
        let hash = stdout_of(nix_store(&state, &root).args(["-q", "--hash", &abs(p)]));
        let info = store.query_path_info(p).unwrap().unwrap();
        assert_eq!(hash.trim(), info.nar_hash.to_string());
    }
    assert_eq!(store.closure(&BTreeSet::from([top.clone()])).unwrap(), all);
    // The derivation's output is recorded, so its deriver can be found.
    let drv = Store::query_path_info(&store, &top).unwrap().unwrap();
    assert!(drv.ca.is_some());
    let text = fs::read(store.real_path(&top)).unwrap();
    let parsed = kiln_formats::derivation::Derivation::parse(&text, "/nix/store").unwrap();
    let out_path = parsed.outputs["out"].path().unwrap();
    assert_eq!(
        store.query_valid_derivers(out_path).unwrap(),
        BTreeSet::from([top])
    );
    assert!(store.verify(true).unwrap().is_empty());
}

#[test]
fn delete_is_refused_while_referenced_and_removes_contents_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let paths = text_graph(&store);
    let (a, b, c, d) = (&paths[0], &paths[1], &paths[2], &paths[3]);
    let err = store.delete(&BTreeSet::from([b.clone()])).unwrap_err();
    assert!(
        matches!(err, kiln_store::StoreError::StillReferenced { .. }),
        "{err}"
    );
    assert!(store.is_valid_path(b).unwrap());
    assert!(store.real_path(b).exists());
    // A set that includes every referrer goes, leaving the rest intact.
    let res = store
        .delete(&BTreeSet::from([b.clone(), c.clone(), d.clone()]))
        .unwrap();
    assert_eq!(res.deleted.len(), 3);
    for p in [b, c, d] {
        assert!(!store.is_valid_path(p).unwrap());
        assert!(!store.real_path(p).exists());
    }
    assert!(store.query_referrers(a).unwrap().is_empty());
    assert!(store.verify(true).unwrap().is_empty());
}

#[test]
fn verify_reports_missing_and_modified_contents() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let paths = text_graph(&store);
    let real = store.real_path(&paths[3]);
    fs::set_permissions(&real, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&real, "changed").unwrap();
    fs::remove_file(store.real_path(&paths[2])).unwrap();
    let problems = store.verify(true).unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.contains(&VerifyProblem::Missing(paths[2].clone())));
    assert!(problems
        .iter()
        .any(|p| matches!(p, VerifyProblem::Modified { path, .. } if *path == paths[3])));
    assert_eq!(store.verify(false).unwrap().len(), 1);
}

#[test]
fn optimise_links_identical_files_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("root"));
    let mut added = Vec::new();
    for (i, exec) in [(1, false), (2, false), (3, true)] {
        let src = dir.path().join(format!("d{i}"));
        fs::create_dir(&src).unwrap();
        fs::write(src.join("same"), "identical contents\n").unwrap();
        fs::write(src.join("own"), format!("different {i}\n")).unwrap();
        if exec {
            fs::set_permissions(src.join("same"), fs::Permissions::from_mode(0o755)).unwrap();
        }
        added.push(
            store
                .add_path("d", &src, FileIngestionMethod::Recursive, HashAlgo::Sha256)
                .unwrap()
                .path,
        );
    }
    let stats = store.optimise().unwrap();
    // d2/same is linked to d1/same; d3/same is executable, so it is a different NAR.
    assert_eq!(stats.files_linked, 1, "{stats:?}");
    let ino = |i: usize| {
        fs::metadata(store.real_path(&added[i]).join("same"))
            .unwrap()
            .ino()
    };
    assert_eq!(ino(0), ino(1));
    assert_ne!(ino(0), ino(2));
    assert_eq!(store.optimise().unwrap().files_linked, 0);
    assert!(store.verify(true).unwrap().is_empty());
    // The optimised directory is canonical again.
    let meta = fs::metadata(store.real_path(&added[1])).unwrap();
    assert_eq!(meta.mtime(), 1);
    assert_eq!(meta.permissions().mode() & 0o777, 0o555);
}

/// Re-runs this test binary as a child that adds trees in a loop (see `child_adder`).
fn spawn_adder(root: &Path, src: &Path, rounds: u32) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_adder", "--nocapture", "--test-threads=1"])
        .env("KILN_TEST_ADDER_ROOT", root)
        .env("KILN_TEST_ADDER_SRC", src)
        .env("KILN_TEST_ADDER_ROUNDS", rounds.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Not a test by itself: the body of the child processes `spawn_adder` starts. It adds each
/// entry of the source directory, then text paths referring to them, `rounds` times.
#[test]
fn child_adder() {
    let Some(root) = std::env::var_os("KILN_TEST_ADDER_ROOT") else {
        return;
    };
    let src = PathBuf::from(std::env::var_os("KILN_TEST_ADDER_SRC").unwrap());
    let rounds: u32 = std::env::var("KILN_TEST_ADDER_ROUNDS")
        .unwrap()
        .parse()
        .unwrap();
    let store = open(Path::new(&root));
    let mut entries: Vec<PathBuf> = fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for round in 0..rounds {
        for e in &entries {
            let name = e.file_name().unwrap().to_str().unwrap();
            let p = store
                .add_path(name, e, FileIngestionMethod::Recursive, HashAlgo::Sha256)
                .unwrap()
                .path;
            let text = format!("{round} {}", p.to_absolute("/nix/store"));
            store
                .add_text("ref", text.as_bytes(), &BTreeSet::from([p]))
                .unwrap();
        }
    }
}

fn source_trees(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    fs::create_dir(&src).unwrap();
    for seed in 0..6 {
        TreeSpec {
            seed: 50 + seed,
            depth: 3,
            width: 8,
            max_file_size: 200_000,
        }
        .write(&src.join(format!("tree{seed}")));
    }
    src
}

#[test]
fn a_killed_add_leaves_no_valid_path_without_contents() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let src = source_trees(dir.path());
    open(&root);
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..12 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut child = spawn_adder(&root, &src, 3);
        std::thread::sleep(std::time::Duration::from_millis(5 + rng % 150));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Reopening removes the dead child's temporaries; every valid path is complete.
        let store = open(&root);
        assert_eq!(store.verify(true).unwrap(), vec![]);
        let tmp = root.join("nix/store/.kiln-tmp");
        let left = fs::read_dir(&tmp)
            .map(|d| d.filter(|e| e.as_ref().unwrap().path().is_dir()).count())
            .unwrap_or(0);
        assert_eq!(left, 0, "temporary directories left behind");
    }
    // A complete run afterwards succeeds, repairing whatever was half-written. It makes the
    // same rounds as the killed ones, so it re-adds every path they could have started.
    let mut child = spawn_adder(&root, &src, 3);
    assert!(child.wait().unwrap().success());
    let store = open(&root);
    assert_eq!(store.verify(true).unwrap(), vec![]);
    // Nothing in the store directory is unaccounted for except locks and Kiln's own dirs.
    let valid: BTreeSet<String> = store
        .all_valid_paths()
        .unwrap()
        .iter()
        .map(|p| p.base_name().to_owned())
        .collect();
    for entry in fs::read_dir(root.join("nix/store")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let known = name.starts_with('.') || name.ends_with(".lock") || valid.contains(&name);
        // A path whose add was killed between rename and registration stays until the next
        // add of that path (or a collection); the complete run re-added every path the
        // killed runs could have written, so none is left.
        assert!(known, "unregistered {name} left in the store");
    }
}

#[test]
fn concurrent_adds_of_the_same_paths_both_succeed_with_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let src = source_trees(dir.path());
    open(&root);
    let children: Vec<_> = (0..2).map(|_| spawn_adder(&root, &src, 2)).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let store = open(&root);
    // 6 trees, and per round 6 text paths: 6 + 2 * 6.
    assert_eq!(store.all_valid_paths().unwrap().len(), 18);
    assert_eq!(store.verify(true).unwrap(), vec![]);
    let entries: Vec<String> = fs::read_dir(root.join("nix/store"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.') && !n.ends_with(".lock"))
        .collect();
    assert_eq!(entries.len(), 18, "{entries:?}");
}
