//! NAR: differential tests against the reference Nix 2.8, malformed archives, a property round
//! trip, `ls`/`cat`, and the fuzz regression corpus.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use kiln_formats::hash::{HashAlgo, Hasher};
use kiln_formats::nar::{
    cat, dump, ls, restore, EntryKind, Event, ListEntry, NarError, NarReader, NarWriter, MAX_DEPTH,
};
use kiln_testkit::{reference_command, TreeSpec};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Helpers

fn our_dump(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    dump(path, &mut out).unwrap_or_else(|e| panic!("dump {}: {e}", path.display()));
    out
}

fn nix_dump(path: &Path, state: &Path) -> Vec<u8> {
    let out = reference_command("nix-store", state)
        .arg("--dump")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nix-store --dump {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn nix_restore(nar: &[u8], target: &Path, state: &Path) {
    let mut child = reference_command("nix-store", state)
        .arg("--restore")
        .arg(target)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let nar = nar.to_vec();
    let feeder = std::thread::spawn(move || {
        // Nix may stop reading early on a bad archive; a broken pipe is not our failure.
        let _ = stdin.write_all(&nar);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(
        out.status.success(),
        "nix-store --restore {} failed: {}",
        target.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Checks `path` both ways against the reference: identical dumps, each side restores the
/// other's archive to a tree that dumps identically again.
fn differential(path: &Path, work: &Path) {
    let state = work.join("nix-state");
    let ours = our_dump(path);
    let theirs = nix_dump(path, &state);
    assert!(
        ours == theirs,
        "dump of {} differs from nix-store --dump ({} vs {} bytes)",
        path.display(),
        ours.len(),
        theirs.len()
    );

    // The reference accepts our archive, and what it unpacks dumps the same.
    let by_nix = work.join("restored-by-nix");
    nix_restore(&ours, &by_nix, &state);
    assert!(
        our_dump(&by_nix) == ours,
        "nix-restored tree dumps differently"
    );
    assert!(nix_dump(&by_nix, &state) == ours);

    // We accept the reference's archive, and what we unpack dumps the same.
    let by_us = work.join("restored-by-us");
    restore(&theirs[..], &by_us).unwrap();
    assert!(
        our_dump(&by_us) == theirs,
        "our restored tree dumps differently"
    );
    assert!(nix_dump(&by_us, &state) == theirs);

    // The reader accepts both and agrees with `ls`.
    walk(&ours).unwrap();
}

/// Walks every event of an archive, draining contents; returns the events.
fn walk(nar: &[u8]) -> Result<Vec<Event>, NarError> {
    let mut r = NarReader::new(nar);
    let mut events = Vec::new();
    while let Some(e) = r.next()? {
        if let Event::Regular { size, .. } = e {
            // Through `Read`, whose errors wrap the `NarError`.
            let mut contents = Vec::new();
            if let Err(e) = r.read_to_end(&mut contents) {
                let inner = e.into_inner().expect("a wrapped NarError");
                return Err(*inner.downcast::<NarError>().expect("a NarError"));
            }
            assert_eq!(contents.len() as u64, size);
        }
        events.push(e);
    }
    Ok(events)
}

/// Gives some files modes other than 0644/0755, deterministically: owner-only and
/// group/other-only execute bits (the latter is not "executable" for Nix).
fn vary_modes(dir: &Path) {
    let modes = [0o644, 0o700, 0o654, 0o611, 0o744, 0o755, 0o600];
    let mut i = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = fs::read_dir(&d).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                i += 1;
                if i % 2 == 0 {
                    let mode = modes[(i / 2) % modes.len()];
                    fs::set_permissions(e.path(), fs::Permissions::from_mode(mode)).unwrap();
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Differential tests against the reference Nix

#[test]
fn generated_trees_match_reference() {
    for seed in 0..48 {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("tree");
        TreeSpec {
            seed,
            depth: 1 + (seed % 5) as u32,
            width: 2 + (seed % 9) as u32,
            max_file_size: if seed % 7 == 0 { 300_000 } else { 2_000 },
        }
        .write(&root);
        vary_modes(&root);
        differential(&root, tmp.path());
    }
}

/// Builds one special-case tree at `root`.
/// A named builder of one tree.
type Case = (&'static str, fn(&Path));

fn special_cases() -> Vec<Case> {
    vec![
        ("empty regular root", |p| fs::write(p, b"").unwrap()),
        ("executable root", |p| {
            fs::write(p, b"#!/bin/sh\necho hi\n").unwrap();
            fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
        }),
        ("group-executable root", |p| {
            fs::write(p, b"not for Nix").unwrap();
            fs::set_permissions(p, fs::Permissions::from_mode(0o651)).unwrap();
        }),
        ("owner-executable root", |p| {
            fs::write(p, b"12345678").unwrap();
            fs::set_permissions(p, fs::Permissions::from_mode(0o700)).unwrap();
        }),
        ("root symlink", |p| symlink("/some/where/else", p).unwrap()),
        ("dangling relative symlink root", |p| {
            symlink("x", p).unwrap()
        }),
        ("empty directory root", |p| fs::create_dir(p).unwrap()),
        ("large file", |p| {
            // Larger than the write buffer, not a multiple of 8.
            let data: Vec<u8> = (0..1_300_003u32).map(|i| (i * 7 % 251) as u8).collect();
            fs::write(p, data).unwrap();
        }),
        ("deep tree", |p| {
            let mut d = p.to_path_buf();
            fs::create_dir(&d).unwrap();
            for i in 0..40 {
                fs::write(d.join("file"), format!("level {i}")).unwrap();
                d.push(format!("d{i}"));
                fs::create_dir(&d).unwrap();
            }
            symlink("../../..", d.join("up")).unwrap();
        }),
        ("wide directory", |p| {
            fs::create_dir(p).unwrap();
            for i in 0..2000 {
                let name = format!("entry-{}", i * 7919 % 2000);
                match i % 3 {
                    0 => fs::write(p.join(name), i.to_string()).unwrap(),
                    1 => symlink(format!("target-{i}"), p.join(name)).unwrap(),
                    _ => fs::create_dir(p.join(name)).unwrap(),
                }
            }
        }),
        ("odd names", |p| {
            fs::create_dir(p).unwrap();
            let names: &[&[u8]] = &[
                b"with space",
                b" leading space",
                "ünïcødé".as_bytes(),
                "日本語".as_bytes(),
                "emoji 🦀".as_bytes(),
                b"new\nline",
                b"tab\tname",
                b"\xff\xfe not utf-8",
                b"...",
                b".hidden",
                b"-dash",
                b"A",
                b"a",
                b"~tilde",
                b"quote\"s'",
                b"back\\slash",
                &[b'n'; 255],
            ];
            for (i, name) in names.iter().enumerate() {
                let path = p.join(OsStr::from_bytes(name));
                if i % 2 == 0 {
                    fs::write(&path, name).unwrap();
                } else {
                    fs::create_dir(&path).unwrap();
                    fs::write(path.join(OsStr::from_bytes(name)), b"").unwrap();
                }
            }
            symlink(OsStr::from_bytes(b"\xff weird target \n"), p.join("link")).unwrap();
        }),
        ("empty directories", |p| {
            fs::create_dir(p).unwrap();
            fs::create_dir_all(p.join("a/b/c")).unwrap();
            fs::create_dir(p.join("e")).unwrap();
            fs::create_dir(p.join("e/f")).unwrap();
            fs::write(p.join("z"), b"").unwrap();
        }),
        ("contents sizes around padding", |p| {
            fs::create_dir(p).unwrap();
            for n in 0..=17 {
                fs::write(p.join(format!("f{n:02}")), vec![b'x'; n]).unwrap();
            }
        }),
    ]
}

#[test]
fn special_cases_match_reference() {
    for (what, build) in special_cases() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        build(&root);
        eprintln!("case: {what}");
        differential(&root, tmp.path());
    }
}

#[test]
fn hashing_a_dump_matches_nix_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("tree");
    TreeSpec {
        seed: 7,
        depth: 3,
        width: 6,
        max_file_size: 100_000,
    }
    .write(&root);
    let mut hasher = Hasher::new(HashAlgo::Sha256);
    dump(&root, &mut hasher).unwrap();
    let ours = hasher.finish().to_base16();
    let out = reference_command("nix-hash", &tmp.path().join("state"))
        .args(["--type", "sha256"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(ours, String::from_utf8(out.stdout).unwrap().trim());
}

#[test]
fn dump_refuses_special_files_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    fs::create_dir(&root).unwrap();
    fs::write(root.join("a"), b"fine").unwrap();
    let fifo = root.join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let err = dump(&root, &mut Vec::new()).unwrap_err();
    match &err {
        NarError::UnsupportedType { path, kind } => {
            assert_eq!(path, &fifo);
            assert_eq!(*kind, "fifo");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().contains("pipe"), "{err}");

    let missing = dump(&tmp.path().join("nope"), &mut Vec::new()).unwrap_err();
    assert!(matches!(missing, NarError::Io { .. }), "{missing:?}");
    assert!(missing.to_string().contains("nope"), "{missing}");
}

#[test]
fn restore_refuses_an_existing_target() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = NarWriter::new(Vec::new());
    w.regular(false, 2, &b"hi"[..]).unwrap();
    let nar = w.finish().unwrap();
    let target = tmp.path().join("exists");
    fs::write(&target, b"precious").unwrap();
    let err = restore(&nar[..], &target).unwrap_err();
    assert!(matches!(err, NarError::Io { .. }), "{err:?}");
    assert_eq!(fs::read(&target).unwrap(), b"precious");

    // Nor through a symlink that is already there.
    let link = tmp.path().join("link");
    symlink(tmp.path().join("elsewhere"), &link).unwrap();
    assert!(restore(&nar[..], &link).is_err());
    assert!(!tmp.path().join("elsewhere").exists());
}

#[test]
fn restore_makes_executables_executable() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = NarWriter::new(Vec::new());
    w.start_directory().unwrap();
    w.entry(b"exe").unwrap();
    w.regular(true, 0, &b""[..]).unwrap();
    w.entry(b"plain").unwrap();
    w.regular(false, 0, &b""[..]).unwrap();
    w.end_directory().unwrap();
    let nar = w.finish().unwrap();
    let target = tmp.path().join("t");
    restore(&nar[..], &target).unwrap();
    let mode = |n: &str| fs::metadata(target.join(n)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("exe") & 0o111, 0o111);
    assert_eq!(mode("plain") & 0o111, 0);
}

// ---------------------------------------------------------------------------------------------
// Malformed archives

/// Builds archives by hand, token by token.
#[derive(Default, Clone)]
struct Raw(Vec<u8>);

impl Raw {
    fn new() -> Self {
        Raw::default().s(b"nix-archive-1")
    }
    /// Appends `str(s)`.
    fn s(mut self, s: &[u8]) -> Self {
        self.0.extend_from_slice(&(s.len() as u64).to_le_bytes());
        self.0.extend_from_slice(s);
        self.0.resize(self.0.len().next_multiple_of(8), 0);
        self
    }
    fn ss(self, tokens: &[&str]) -> Self {
        tokens.iter().fold(self, |r, t| r.s(t.as_bytes()))
    }
    fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    fn at(&self) -> u64 {
        self.0.len() as u64
    }
    fn entry(self, name: &[u8]) -> Self {
        self.ss(&["entry", "("]).s(b"name").s(name).s(b"node")
    }
    fn file_node(self, contents: &[u8]) -> Self {
        self.ss(&["(", "type", "regular", "contents"])
            .s(contents)
            .ss(&[")"])
    }
    fn dir(self) -> Self {
        self.ss(&["(", "type", "directory"])
    }
}

/// One malformed archive, the error variant it must get and at which offset.
struct Bad {
    what: &'static str,
    nar: Vec<u8>,
    variant: &'static str,
    offset: u64,
}

fn bad(what: &'static str, nar: Raw, variant: &'static str, offset: u64) -> Bad {
    Bad {
        what,
        nar: nar.0,
        variant,
        offset,
    }
}

fn bad_cases() -> Vec<Bad> {
    let mut cases = vec![bad("empty input", Raw::default(), "UnexpectedEof", 0)];
    cases.push(bad(
        "wrong magic",
        Raw::default().s(b"nix-archive-2"),
        "BadMagic",
        0,
    ));
    cases.push(bad(
        "absurd magic length",
        Raw::default().raw(&u64::MAX.to_le_bytes()),
        "BadMagic",
        0,
    ));
    cases.push(bad(
        "not a NAR at all",
        Raw::default().raw(b"#!/bin/sh\necho hello\n"),
        "BadMagic",
        0,
    ));
    let r = Raw::new();
    cases.push(bad("magic only", r.clone(), "UnexpectedEof", r.at()));
    let r = Raw::new().ss(&["(", "type"]);
    let at = r.at();
    cases.push(bad("unknown type", r.s(b"fifo"), "UnexpectedToken", at));
    let r = Raw::new().s(b"(");
    let at = r.at();
    cases.push(bad(
        "misplaced tag: contents before type",
        r.ss(&["contents", "type", "regular"]),
        "UnexpectedToken",
        at,
    ));
    let r = Raw::new().ss(&["(", "type", "regular"]);
    let at = r.at();
    cases.push(bad(
        "misplaced tag: target in a regular file",
        r.ss(&["target", "x", ")"]),
        "UnexpectedToken",
        at,
    ));
    let r = Raw::new()
        .ss(&["(", "type", "regular", "contents"])
        .s(b"abc");
    let at = r.at();
    cases.push(bad(
        "executable after contents",
        r.ss(&["executable", "", ")"]),
        "UnexpectedToken",
        at,
    ));
    let r = Raw::new().ss(&["(", "type", "regular", "executable"]);
    let at = r.at();
    cases.push(bad(
        "executable with a value",
        r.ss(&["yes", "contents", "", ")"]),
        "UnexpectedToken",
        at,
    ));
    let r = Raw::new().ss(&["(", "type", "regular", "contents"]);
    let at = r.at() + 8 + 1;
    cases.push(bad(
        "non-zero padding after contents",
        r.raw(&1u64.to_le_bytes())
            .raw(b"x\0\0\0\x01\0\0")
            .ss(&[")"]),
        "BadPadding",
        at + 3,
    ));
    let r = Raw::new().ss(&["(", "type"]);
    let at = r.at() + 8 + 7;
    cases.push(bad(
        "non-zero padding after a tag",
        r.raw(&7u64.to_le_bytes()).raw(b"regular\x20"),
        "BadPadding",
        at,
    ));
    let r = Raw::new().ss(&["(", "type", "regular", "contents"]);
    cases.push(bad(
        "contents truncated",
        r.clone().raw(&100u64.to_le_bytes()).raw(b"only ten b"),
        "UnexpectedEof",
        r.at() + 8 + 10,
    ));
    cases.push(bad(
        "absurd contents length",
        r.clone().raw(&u64::MAX.to_le_bytes()).raw(b"tiny"),
        "UnexpectedEof",
        r.at() + 8 + 4,
    ));
    let r = Raw::new().ss(&["(", "type"]);
    cases.push(bad(
        "absurd token length",
        r.clone().raw(&u64::MAX.to_le_bytes()),
        "TooLong",
        r.at(),
    ));
    let r = Raw::new().dir().entry(b"b").file_node(b"").ss(&[")"]);
    let at = r.at() + 16 * 3;
    cases.push(bad(
        "entries not sorted",
        r.entry(b"a").file_node(b"").ss(&[")", ")"]),
        "Unsorted",
        at,
    ));
    let r = Raw::new().dir().entry(b"a").file_node(b"").ss(&[")"]);
    let at = r.at() + 16 * 3;
    cases.push(bad(
        "duplicate entries",
        r.entry(b"a").file_node(b"").ss(&[")", ")"]),
        "Duplicate",
        at,
    ));
    let r = Raw::new().dir().ss(&["entry", "(", "name"]);
    let at = r.at();
    for (what, name) in [
        ("empty name", &b""[..]),
        ("name '.'", b"."),
        ("name '..'", b".."),
        ("name with a slash", b"../../etc/passwd"),
        ("name with a slash inside", b"a/b"),
        ("name with NUL", b"a\0b"),
    ] {
        cases.push(bad(
            what,
            r.clone()
                .s(name)
                .s(b"node")
                .file_node(b"pwned")
                .ss(&[")", ")"]),
            "BadName",
            at,
        ));
    }
    cases.push(bad(
        "name too long",
        r.clone()
            .s(&[b'n'; 256])
            .s(b"node")
            .file_node(b"")
            .ss(&[")", ")"]),
        "TooLong",
        at,
    ));
    let r = Raw::new().ss(&["(", "type", "symlink", "target"]);
    cases.push(bad(
        "symlink target too long",
        r.clone().s(&[b't'; 4096]).ss(&[")"]),
        "TooLong",
        r.at(),
    ));
    cases.push(bad(
        "empty symlink target",
        r.clone().s(b"").ss(&[")"]),
        "BadTarget",
        r.at(),
    ));
    cases.push(bad(
        "symlink target with NUL",
        r.clone().s(b"/etc\0").ss(&[")"]),
        "BadTarget",
        r.at(),
    ));
    let r = Raw::new().file_node(b"data");
    cases.push(bad(
        "trailing data",
        r.clone().raw(b"x"),
        "TrailingData",
        r.at(),
    ));
    cases.push(bad(
        "a second archive appended",
        r.clone().raw(&r.0),
        "TrailingData",
        r.at(),
    ));
    let r = Raw::new().dir().entry(b"a").file_node(b"");
    cases.push(bad(
        "unterminated directory",
        r.clone(),
        "UnexpectedEof",
        r.at(),
    ));
    let r = Raw::new().dir().entry(b"a").file_node(b"").ss(&[")"]);
    let at = r.at();
    cases.push(bad(
        "unknown directory field",
        r.ss(&["name", "b"]),
        "UnexpectedToken",
        at,
    ));
    let r = Raw::new().dir().entry(b"a").file_node(b"");
    let at = r.at();
    cases.push(bad(
        "entry not closed",
        r.entry(b"b").file_node(b"").ss(&[")", ")"]),
        "UnexpectedToken",
        at,
    ));
    // Nested directories one level too deep.
    let mut r = Raw::new().dir();
    for _ in 1..MAX_DEPTH {
        r = r.entry(b"d").dir();
    }
    let at = r.at() + 16 * 5 + 16 * 2;
    cases.push(bad("nesting too deep", r.entry(b"d").dir(), "TooDeep", at));
    cases
}

#[test]
fn malformed_archives_are_rejected_precisely() {
    for case in bad_cases() {
        let what = case.what;
        let err = walk(&case.nar).expect_err(what);
        let variant = format!("{err:?}");
        assert!(
            variant.starts_with(case.variant),
            "{what}: expected {}, got {err:?}",
            case.variant
        );
        assert_eq!(err.offset(), Some(case.offset), "{what}: {err}");
        let message = err.to_string();
        assert!(
            message.contains(&format!("offset {}", case.offset)),
            "{what}: {message}"
        );
        assert!(!message.ends_with('.'), "{what}: {message}");

        // Restoring fails the same way and writes nothing outside the target.
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("sub").join("target");
        fs::create_dir(target.parent().unwrap()).unwrap();
        let err = restore(&case.nar[..], &target).expect_err(what);
        assert!(
            format!("{err:?}").starts_with(case.variant),
            "{what}: {err:?}"
        );
        let outside: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(
            outside.len(),
            1,
            "{what}: wrote next to the target's parent"
        );
        let beside: Vec<PathBuf> = fs::read_dir(target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(
            beside.is_empty() || beside == [target.clone()],
            "{what}: wrote outside the target: {beside:?}"
        );

        // And so do the inspection functions.
        assert!(ls(&case.nar[..], "/", true).is_err(), "{what}");
        assert!(cat(&case.nar[..], "/a", &mut Vec::new()).is_err(), "{what}");
    }
}

/// Where we are deliberately stricter than Nix 2.8's `nix-store --restore` (see the module docs
/// of `kiln_formats::nar`): it accepts these, we do not.
const STRICTER_THAN_NIX: &[&str] = &[
    "executable after contents",
    "entries not sorted",
    "symlink target with NUL",
    "trailing data",
    "a second archive appended",
];

#[test]
fn a_failed_reader_stays_failed() {
    let nar = Raw::new().ss(&["(", "type", "regular", "contents"]);
    let at = nar.at();
    let nar = nar.raw(&100u64.to_le_bytes()).raw(b"short");
    let mut r = NarReader::new(&nar.0[..]);
    assert!(matches!(
        r.next(),
        Ok(Some(Event::Regular { size: 100, .. }))
    ));
    let mut buf = [0; 200];
    assert_eq!(r.read_contents(&mut buf).unwrap(), 5);
    let err = r.read_contents(&mut buf).unwrap_err();
    assert!(matches!(err, NarError::UnexpectedEof { offset } if offset == at + 13));
    // Neither reading on nor asking for the next event pretends the archive ended well.
    for _ in 0..2 {
        assert!(matches!(
            r.next(),
            Err(NarError::AlreadyFailed { offset }) if offset == at + 13
        ));
        assert!(r.read_contents(&mut buf).is_err());
    }
}

#[test]
fn reference_nix_rejects_the_rest_of_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let mut accepted = Vec::new();
    for (i, case) in bad_cases().into_iter().enumerate() {
        let target = tmp.path().join(format!("case-{i}"));
        let mut child = reference_command("nix-store", &state)
            .arg("--restore")
            .arg(&target)
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // Nix may stop reading early; a broken pipe is expected then.
        let _ = stdin.write_all(&case.nar);
        drop(stdin);
        if child.wait().unwrap().success() {
            accepted.push(case.what);
        }
    }
    assert_eq!(accepted, STRICTER_THAN_NIX);
}

#[test]
fn writer_refuses_what_the_reader_would() {
    let mut w = NarWriter::new(Vec::new());
    w.start_directory().unwrap();
    for name in [&b""[..], b".", b"..", b"a/b", b"a\0"] {
        assert!(matches!(w.entry(name), Err(NarError::BadName { .. })));
    }
    assert!(matches!(
        w.entry(&[b'x'; 256]),
        Err(NarError::TooLong { .. })
    ));
    w.entry(b"b").unwrap();
    assert!(matches!(w.entry(b"c"), Err(NarError::WriterMisuse(_))));
    w.symlink(b"t").unwrap();
    assert!(matches!(w.entry(b"a"), Err(NarError::Unsorted { .. })));
    assert!(matches!(w.entry(b"b"), Err(NarError::Duplicate { .. })));
    assert!(matches!(w.symlink(b"x"), Err(NarError::WriterMisuse(_))));
    w.entry(b"c").unwrap();
    assert!(matches!(w.symlink(b""), Err(NarError::BadTarget { .. })));
    assert!(matches!(
        w.regular(false, 10, &b"short"[..]),
        Err(NarError::ShortContents {
            expected: 10,
            actual: 5
        })
    ));
    let mut w = NarWriter::new(Vec::new());
    w.start_directory().unwrap();
    assert!(matches!(w.finish(), Err(NarError::WriterMisuse(_))));
}

// ---------------------------------------------------------------------------------------------
// ls and cat

fn sample_nar() -> Vec<u8> {
    let mut w = NarWriter::new(Vec::new());
    w.start_directory().unwrap();
    w.entry(b"bin").unwrap();
    w.start_directory().unwrap();
    w.entry(b"hello").unwrap();
    w.regular(true, 6, &b"hello\n"[..]).unwrap();
    w.entry(b"hi").unwrap();
    w.symlink(b"hello").unwrap();
    w.end_directory().unwrap();
    w.entry(b"share").unwrap();
    w.start_directory().unwrap();
    w.entry(b"doc").unwrap();
    w.start_directory().unwrap();
    w.entry(b"README").unwrap();
    w.regular(false, 4, &b"read"[..]).unwrap();
    w.end_directory().unwrap();
    w.end_directory().unwrap();
    w.end_directory().unwrap();
    w.finish().unwrap()
}

fn paths(entries: &[ListEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| String::from_utf8(e.path.clone()).unwrap())
        .collect()
}

#[test]
fn ls_lists_a_node_and_its_entries() {
    let nar = sample_nar();
    let top = ls(&nar[..], "/", false).unwrap();
    assert_eq!(paths(&top), ["", "bin", "share"]);
    assert_eq!(top[0].kind, EntryKind::Directory);
    let all = ls(&nar[..], "", true).unwrap();
    assert_eq!(
        paths(&all),
        [
            "",
            "bin",
            "bin/hello",
            "bin/hi",
            "share",
            "share/doc",
            "share/doc/README"
        ]
    );
    assert_eq!(
        all[2].kind,
        EntryKind::Regular {
            executable: true,
            size: 6,
            nar_offset: 400,
        }
    );
    assert_eq!(
        all[3].kind,
        EntryKind::Symlink {
            target: b"hello".to_vec()
        }
    );
    assert_eq!(
        paths(&ls(&nar[..], "/share", false).unwrap()),
        ["share", "share/doc"]
    );
    assert_eq!(
        paths(&ls(&nar[..], "share/./doc/", true).unwrap()),
        ["share/doc", "share/doc/README"]
    );
    assert_eq!(paths(&ls(&nar[..], "/bin/hi", true).unwrap()), ["bin/hi"]);
    assert!(matches!(
        ls(&nar[..], "/bin/nope", false),
        Err(NarError::NotFound { .. })
    ));
    // No resolving through symlinks, nor `..`.
    assert!(matches!(
        ls(&nar[..], "/bin/hi/x", false),
        Err(NarError::NotFound { .. })
    ));
    assert!(matches!(
        ls(&nar[..], "/share/../bin", false),
        Err(NarError::BadArchivePath { .. })
    ));
}

#[test]
fn cat_streams_one_regular_file() {
    let nar = sample_nar();
    let mut out = Vec::new();
    cat(&nar[..], "/bin/hello", &mut out).unwrap();
    assert_eq!(out, b"hello\n");
    out.clear();
    cat(&nar[..], "share/doc/README", &mut out).unwrap();
    assert_eq!(out, b"read");
    let err = cat(&nar[..], "/bin", &mut Vec::new()).unwrap_err();
    assert!(
        matches!(
            err,
            NarError::NotRegular {
                kind: "directory",
                ..
            }
        ),
        "{err:?}"
    );
    let err = cat(&nar[..], "/bin/hi", &mut Vec::new()).unwrap_err();
    assert!(
        matches!(
            err,
            NarError::NotRegular {
                kind: "symlink",
                ..
            }
        ),
        "{err:?}"
    );
    let err = cat(&nar[..], "/missing", &mut Vec::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "path '/missing' does not exist in the archive"
    );

    // A single-file archive is its own root.
    let mut w = NarWriter::new(Vec::new());
    w.regular(false, 3, &b"abc"[..]).unwrap();
    let single = w.finish().unwrap();
    out.clear();
    cat(&single[..], "/", &mut out).unwrap();
    assert_eq!(out, b"abc");
}

// ---------------------------------------------------------------------------------------------
// Property: writer and reader agree on every tree

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    File { executable: bool, contents: Vec<u8> },
    Link(Vec<u8>),
    Dir(BTreeMap<Vec<u8>, Node>),
}

fn name_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-zA-Z0-9._ -]{1,12}".prop_map(String::into_bytes),
        "\\PC{1,6}".prop_map(String::into_bytes),
        proptest::collection::vec(1u8..=255, 1..20).prop_map(|v| v
            .into_iter()
            .map(|b| if b == b'/' { b'_' } else { b })
            .collect()),
    ]
    .prop_filter("invalid names", |n: &Vec<u8>| {
        n != b"." && n != b".." && !n.contains(&b'/')
    })
}

fn node_strategy() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        (
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..200)
        )
            .prop_map(|(executable, contents)| Node::File {
                executable,
                contents
            }),
        proptest::collection::vec(1u8..=255, 1..100).prop_map(Node::Link),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        proptest::collection::btree_map(name_strategy(), inner, 0..8).prop_map(Node::Dir)
    })
}

fn write_model(w: &mut NarWriter<Vec<u8>>, node: &Node) {
    match node {
        Node::File {
            executable,
            contents,
        } => w
            .regular(*executable, contents.len() as u64, &contents[..])
            .unwrap(),
        Node::Link(target) => w.symlink(target).unwrap(),
        Node::Dir(entries) => {
            w.start_directory().unwrap();
            for (name, child) in entries {
                w.entry(name).unwrap();
                write_model(w, child);
            }
            w.end_directory().unwrap();
        }
    }
}

/// A directory being rebuilt: its name (None for the root) and entries so far.
type OpenDir = (Option<Vec<u8>>, BTreeMap<Vec<u8>, Node>);

/// Rebuilds the model from events, reading contents in small odd chunks.
fn read_model(nar: &[u8]) -> Node {
    let mut r = NarReader::new(nar);
    // Open directories: their name (None for the root) and entries so far.
    let mut stack: Vec<OpenDir> = Vec::new();
    let mut root = None;
    let mut place =
        |stack: &mut Vec<OpenDir>, name: Option<Vec<u8>>, node: Node| match stack.last_mut() {
            Some((_, entries)) => {
                assert!(entries.insert(name.unwrap(), node).is_none());
            }
            None => root = Some(node),
        };
    while let Some(event) = r.next().unwrap() {
        match event {
            Event::Directory { name } => stack.push((name, BTreeMap::new())),
            Event::DirectoryEnd => {
                let (name, entries) = stack.pop().unwrap();
                place(&mut stack, name, Node::Dir(entries));
            }
            Event::Regular {
                name,
                executable,
                size,
            } => {
                let mut contents = Vec::new();
                let mut chunk = [0; 7];
                loop {
                    let n = r.read_contents(&mut chunk).unwrap();
                    if n == 0 {
                        break;
                    }
                    contents.extend_from_slice(&chunk[..n]);
                }
                assert_eq!(contents.len() as u64, size);
                place(
                    &mut stack,
                    name,
                    Node::File {
                        executable,
                        contents,
                    },
                );
            }
            Event::Symlink { name, target } => place(&mut stack, name, Node::Link(target)),
        }
    }
    assert!(stack.is_empty());
    root.unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn writer_reader_round_trip(model in node_strategy()) {
        let mut w = NarWriter::new(Vec::new());
        write_model(&mut w, &model);
        let nar = w.finish().unwrap();
        prop_assert_eq!(nar.len() % 8, 0);
        prop_assert_eq!(read_model(&nar), model);
        // Skipping contents instead of reading them sees the same structure.
        let skipped = {
            let mut r = NarReader::new(&nar[..]);
            let mut n = 0;
            while r.next().unwrap().is_some() {
                n += 1;
            }
            n
        };
        prop_assert_eq!(skipped, walk(&nar).unwrap().len());
    }

    #[test]
    fn every_truncation_is_an_unexpected_end(model in node_strategy(), cut in any::<prop::sample::Index>()) {
        let mut w = NarWriter::new(Vec::new());
        write_model(&mut w, &model);
        let nar = w.finish().unwrap();
        let cut = cut.index(nar.len());
        let err = walk(&nar[..cut]).unwrap_err();
        prop_assert!(matches!(err, NarError::UnexpectedEof { offset } if offset == cut as u64), "{:?}", err);
    }
}

// ---------------------------------------------------------------------------------------------
// Fuzz regressions

#[test]
fn fuzz_regressions_replay() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-regressions/nar");
    let n = kiln_testkit::replay_corpus(&dir, |data| {
        let _ = walk(data);
        let _ = ls(data, "/", true);
        let _ = cat(data, "/a", &mut std::io::sink());
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("t");
        if restore(data, &target).is_ok() {
            let _ = our_dump(&target);
        }
    });
    assert!(n > 0, "the regression corpus is empty");
}
