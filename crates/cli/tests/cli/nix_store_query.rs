//! `nix-store` queries and the other operations of its manual page, output compared byte for
//! byte with the reference Nix 2.8 reading the same store root (built by Kiln, with busybox's
//! shell in the sandbox).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::{failure_of, kiln, legacy, reference, stdout_of};

/// A small DAG of twelve derivations (node i needs i/2 and i/3), built into `root`; returns
/// the output and the derivation of node 4 (which needs 2 and 1, which need 0).
fn build_dag(dir: &Path, root: &Path) -> (String, String) {
    let file = dir.join("dag.nix");
    std::fs::write(
        &file,
        r#"
let
  mk = i: deps: derivation {
    name = "node-${toString i}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "echo ${toString i} ${toString deps} > $out" ];
  };
  nodes = builtins.genList (i:
    mk i (builtins.map (j: builtins.elemAt nodes j)
      (if i == 0 then [ ] else [ (i / 2) (i / 3) ]))) 12;
in nodes
"#,
    )
    .unwrap();
    stdout_of(
        kiln()
            .arg("--store")
            .arg(root)
            .args(["--option", "sandbox-paths", "/bin/sh=/bin/busybox"])
            .args(["build", "--no-link", "-f"])
            .arg(&file),
    );
    let store = root.join("nix/store");
    let find = |suffix: &str| {
        std::fs::read_dir(&store)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| n.ends_with(suffix))
            .map(|n| format!("/nix/store/{n}"))
            .unwrap()
    };
    (find("-node-4"), find("-node-4.drv"))
}

/// Runs `args` through Kiln's and Nix 2.8's `nix-store` on the same root: same status, same
/// stdout.
#[track_caller]
fn same_as_nix(dir: &Path, root: &Path, args: &[&str]) -> String {
    let ours = legacy(dir, "nix-store")
        .arg("--store")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    let theirs = reference(dir, "nix-store")
        .arg("--store")
        .arg(format!("local?root={}", root.display()))
        .args(args)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "nix-store {args:?}: status; ours: {}\ntheirs: {}",
        text(&ours.stderr),
        text(&theirs.stderr)
    );
    assert_eq!(
        text(&ours.stdout),
        text(&theirs.stdout),
        "nix-store {args:?}: stdout"
    );
    text(&ours.stdout)
}

#[test]
fn queries_print_what_nix_2_8_prints() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let (out, drv) = build_dag(dir.path(), &root);
    // A GC root on node 9, which needs node 4 (and 3).
    let nine = stdout_of(
        legacy(dir.path(), "nix-store")
            .arg("--store")
            .arg(&root)
            .args(["-q", "--referrers", &out]),
    );
    let nine = nine
        .lines()
        .find(|l| l.ends_with("-node-9"))
        .unwrap()
        .to_owned();
    let gcroots = root.join("nix/var/nix/gcroots");
    std::fs::create_dir_all(&gcroots).unwrap();
    std::os::unix::fs::symlink(&nine, gcroots.join("keep-nine")).unwrap();

    for args in [
        vec!["-q", "--references", &out],
        vec!["-qR", &out],
        vec!["-q", "--requisites", "--include-outputs", &drv],
        vec!["-q", "-R", "-u", &drv],
        vec!["-q", "--referrers", &out],
        vec!["-q", "--referrers-closure", &out],
        vec!["-q", "--deriver", &out],
        vec!["-q", "--outputs", &drv, &out],
        vec!["-q", "--hash", "-u", &drv],
        vec!["-q", "--size", &out, &drv],
        vec!["-q", "--tree", &drv],
        vec!["-q", "--tree", &out, &drv],
        vec!["-q", "--graph", &out],
        vec!["-q", "--graph", &drv],
        vec!["-q", "--graphml", &out],
        vec!["-q", "--graphml", &drv],
        vec!["-q", "--binding", "out", &drv],
        vec!["-q", "-b", "name", &out],
        vec!["-q", "--binding", "no-such-binding", &drv],
        vec!["-q", "--roots", &out],
        vec![
            "-q",
            "--references",
            "/nix/store/00000000000000000000000000000000-x",
        ],
        vec!["--print-env", &drv],
        vec!["--dump-db", &out],
        vec!["--dump-db"],
        vec!["--verify-path", &out],
    ] {
        same_as_nix(dir.path(), &root, &args);
    }
    // The roots query found the root.
    let roots = same_as_nix(dir.path(), &root, &["-q", "--roots", &out]);
    assert!(roots.contains("keep-nine -> "), "{roots}");

    // Paths reached through a symlink (`./result`) count as the store path.
    let link = dir.path().join("result");
    std::os::unix::fs::symlink(&out, &link).unwrap();
    let via_link = stdout_of(
        legacy(dir.path(), "nix-store")
            .arg("--store")
            .arg(&root)
            .args(["-q", "--references"])
            .arg(&link),
    );
    assert_eq!(
        via_link,
        same_as_nix(dir.path(), &root, &["-q", "--references", &out])
    );
}

#[test]
fn export_import_and_load_db_round_trip_like_nix() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let (out, _) = build_dag(dir.path(), &root);
    let closure = stdout_of(
        legacy(dir.path(), "nix-store")
            .arg("--store")
            .arg(&root)
            .args(["-qR", &out]),
    );
    let closure: Vec<&str> = closure.lines().collect();
    let export = |cmd: &mut Command| {
        let o = cmd.args(["--export"]).args(&closure).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let ours = export(legacy(dir.path(), "nix-store").arg("--store").arg(&root));
    let theirs = export(
        reference(dir.path(), "nix-store")
            .arg("--store")
            .arg(format!("local?root={}", root.display())),
    );
    assert_eq!(ours, theirs, "export streams differ");

    // Imported by Kiln into a fresh root: the same registrations as Nix's import gives.
    let import = |cmd: &mut Command, stream: &[u8]| {
        let mut child = cmd
            .arg("--import")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stream).unwrap();
        child.wait_with_output().unwrap()
    };
    let fresh = dir.path().join("fresh");
    let o = import(
        legacy(dir.path(), "nix-store").arg("--store").arg(&fresh),
        &ours,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        closure.len()
    );
    let nix_fresh = dir.path().join("nix-fresh");
    let o = import(
        reference(dir.path(), "nix-store")
            .arg("--store")
            .arg(format!("local?root={}", nix_fresh.display())),
        &ours,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dump = |root: &Path| {
        stdout_of(
            legacy(dir.path(), "nix-store")
                .arg("--store")
                .arg(root)
                .arg("--dump-db"),
        )
    };
    assert_eq!(dump(&fresh), dump(&nix_fresh));
    // The same registrations as the source store's (all paths are listed in store order).
    let mut sorted = closure.clone();
    sorted.sort();
    assert_eq!(
        dump(&fresh),
        stdout_of(
            legacy(dir.path(), "nix-store")
                .arg("--store")
                .arg(&root)
                .arg("--dump-db")
                .args(&sorted)
        )
    );

    // A truncated stream and a stream missing a reference are refused, and leave nothing.
    let bad = dir.path().join("bad");
    for stream in [&ours[..100], &ours[ours.len() / 2..]] {
        let o = import(
            legacy(dir.path(), "nix-store").arg("--store").arg(&bad),
            stream,
        );
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).starts_with("error: "));
    }
    assert_eq!(dump(&bad), "");

    // --load-db registers paths whose contents are already there (and checks them).
    let text = dump(&fresh);
    let reloaded = dir.path().join("reloaded");
    std::fs::create_dir_all(reloaded.join("nix/store")).unwrap();
    for p in &closure {
        let name = p.trim_start_matches("/nix/store/");
        std::fs::copy(
            fresh.join("nix/store").join(name),
            reloaded.join("nix/store").join(name),
        )
        .unwrap();
    }
    let o = legacy(dir.path(), "nix-store")
        .arg("--store")
        .arg(&reloaded)
        .arg("--load-db")
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(text.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(dump(&reloaded), text);
}

#[test]
fn verify_path_reports_a_modified_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let (out, _) = build_dag(dir.path(), &root);
    let file = root.join(out.trim_start_matches('/'));
    let mut perms = std::fs::metadata(&file).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&file, perms).unwrap();
    std::fs::write(&file, "changed\n").unwrap();
    let ours = failure_of(
        legacy(dir.path(), "nix-store")
            .arg("--store")
            .arg(&root)
            .args(["--verify-path", &out]),
    );
    assert_eq!(ours.status.code(), Some(1));
    let err = String::from_utf8_lossy(&ours.stderr);
    assert!(
        err.starts_with(&format!(
            "path '{out}' was modified! expected hash 'sha256:"
        )),
        "{err}"
    );
}

#[test]
fn generate_binary_cache_key_writes_a_key_pair() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = (dir.path().join("sk"), dir.path().join("pk"));
    stdout_of(
        legacy(dir.path(), "nix-store")
            .args(["--generate-binary-cache-key", "cache.example.org-1"])
            .arg(&secret)
            .arg(&public),
    );
    let sk = std::fs::read_to_string(&secret).unwrap();
    let pk = std::fs::read_to_string(&public).unwrap();
    assert!(sk.starts_with("cache.example.org-1:"), "{sk}");
    assert!(pk.starts_with("cache.example.org-1:"), "{pk}");
    // The public key is the one Kiln derives from the secret key.
    let derived = stdout_of(
        kiln()
            .args(["key", "convert-secret-to-public"])
            .stdin(std::fs::File::open(&secret).unwrap()),
    );
    assert_eq!(derived.trim(), pk);
}
