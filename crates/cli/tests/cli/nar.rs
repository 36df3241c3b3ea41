//! `kiln nar`, against `nix-store --dump/--restore` and `nix nar ls/cat`.

use std::process::Stdio;

use kiln_testkit::TreeSpec;

use crate::{failure_of, hello_tree, kiln, reference, stdout_of};

fn bytes_of(cmd: &mut std::process::Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn pack_and_unpack_match_nix_store() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 100..110 {
        let root = dir.path().join(format!("t{seed}"));
        TreeSpec {
            seed,
            depth: 4,
            width: 7,
            max_file_size: 5000,
        }
        .write(&root);
        let ours = bytes_of(kiln().args(["nar", "pack"]).arg(&root));
        let theirs = bytes_of(reference(dir.path(), "nix-store").arg("--dump").arg(&root));
        assert!(ours == theirs, "seed {seed}: NARs differ");
        // Nix restores Kiln's NAR; Kiln restores Nix's; both re-pack identically.
        let nar = dir.path().join(format!("t{seed}.nar"));
        std::fs::write(&nar, &ours).unwrap();
        let by_nix = dir.path().join(format!("by-nix{seed}"));
        let by_kiln = dir.path().join(format!("by-kiln{seed}"));
        let st = reference(dir.path(), "nix-store")
            .arg("--restore")
            .arg(&by_nix)
            .stdin(std::fs::File::open(&nar).unwrap())
            .status()
            .unwrap();
        assert!(st.success());
        let st = kiln()
            .args(["nar", "unpack"])
            .arg(&by_kiln)
            .stdin(std::fs::File::open(&nar).unwrap())
            .status()
            .unwrap();
        assert!(st.success());
        assert!(bytes_of(kiln().args(["nar", "pack"]).arg(&by_nix)) == ours);
        assert!(bytes_of(kiln().args(["nar", "pack"]).arg(&by_kiln)) == ours);
    }
}

/// A tree with a file, a symlink and an executable in a subdirectory.
fn sample(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let root = dir.join("lt");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("a"), "hi\n").unwrap();
    std::fs::write(root.join("sub/b"), "x").unwrap();
    std::fs::set_permissions(root.join("sub/b"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("a", root.join("l")).unwrap();
    root
}

#[test]
fn ls_and_cat_match_nix_nar() {
    let dir = tempfile::tempdir().unwrap();
    let root = sample(dir.path());
    let nar = dir.path().join("lt.nar");
    std::fs::write(&nar, bytes_of(kiln().args(["nar", "pack"]).arg(&root))).unwrap();
    let nix_nar = |args: &[&str]| {
        stdout_of(
            reference(dir.path(), "nix")
                .args(["--extra-experimental-features", "nix-command", "nar"])
                .args(args),
        )
    };
    let nar_s = nar.to_str().unwrap();
    for args in [
        vec!["ls", nar_s, "/"],
        vec!["ls", "-R", nar_s, "/"],
        vec!["ls", "-l", nar_s, "/"],
        vec!["ls", "-R", "-l", nar_s, "/"],
        vec!["ls", "-l", nar_s, "/sub"],
        vec!["ls", nar_s, "/a"],
        vec!["ls", "--json", nar_s, "/"],
        vec!["cat", nar_s, "/a"],
        vec!["cat", nar_s, "/sub/b"],
    ] {
        let ours = stdout_of(kiln().arg("nar").args(&args));
        let theirs = nix_nar(&args);
        assert_eq!(ours.trim_end(), theirs.trim_end(), "nar {args:?}");
    }
    // Nix 2.8 adds each file's offset in the archive to recursive JSON listings.
    let json = stdout_of(kiln().args(["nar", "ls", "--json", "-R", nar_s, "/"]));
    assert_eq!(
        json.trim_end(),
        nix_nar(&["ls", "--json", "-R", nar_s, "/"]).trim_end()
    );
    // Standard input as the archive.
    let out = kiln()
        .args(["nar", "cat", "-", "/a"])
        .stdin(std::fs::File::open(&nar).unwrap())
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"hi\n");
}

#[test]
fn nar_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = hello_tree(dir.path());
    let nar = dir.path().join("hh.nar");
    std::fs::write(&nar, bytes_of(kiln().args(["nar", "pack"]).arg(&root))).unwrap();
    let out = failure_of(kiln().args(["nar", "cat"]).arg(&nar).arg("/nope"));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("'/nope' does not exist"), "{err}");
    // Unpacking over an existing path refuses and says where.
    let out = failure_of(
        kiln()
            .args(["nar", "unpack"])
            .arg(&root)
            .stdin(std::fs::File::open(&nar).unwrap()),
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        err.matches("already exists").count(),
        1,
        "cause printed once: {err}"
    );
    // A truncated archive.
    let bytes = std::fs::read(&nar).unwrap();
    std::fs::write(&nar, &bytes[..bytes.len() - 9]).unwrap();
    // Unpacking it fails and leaves nothing behind: no target, no temporary.
    let target = dir.path().join("partial");
    let out = failure_of(
        kiln()
            .args(["nar", "unpack"])
            .arg(&target)
            .stdin(std::fs::File::open(&nar).unwrap()),
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unexpected end of archive"), "{err}");
    assert!(!target.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let out = failure_of(kiln().args(["nar", "ls"]).arg(&nar));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unexpected end of archive at offset"), "{err}");
}
