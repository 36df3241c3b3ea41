//! Nix's export format in the library: round trips between temporary stores, refused streams
//! (truncated, malformed, changed contents) registering nothing for the bad entry, a large
//! file streamed through, and the `export_reader` fuzz corpus replayed.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufWriter, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use kiln_formats::hash::HashAlgo;
use kiln_formats::nar::NarWriter;
use kiln_formats::store_path::{FileIngestionMethod, StorePath};
use kiln_store::{
    ExportError, ExportReader, LocalStore, Store, StoreError, StoreLocation, EXPORT_MAGIC,
};

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreLocation::new(root)).unwrap()
}

/// A tree path `a` (a file, an executable, a symlink) and a text `b` referring to it.
fn small_closure(store: &LocalStore, dir: &Path) -> (StorePath, StorePath) {
    let src = dir.join("src");
    fs::create_dir_all(src.join("bin")).unwrap();
    fs::write(src.join("data"), "some data\n").unwrap();
    fs::write(src.join("bin/run"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(src.join("bin/run"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("data", src.join("link")).unwrap();
    let a = store
        .add_path("a", &src, FileIngestionMethod::Recursive, HashAlgo::Sha256)
        .unwrap()
        .path;
    let text = format!("uses {}\n", a.to_absolute(store.store_dir()));
    let b = store
        .add_text("b", text.as_bytes(), &BTreeSet::from([a.clone()]))
        .unwrap()
        .path;
    (a, b)
}

fn export(store: &LocalStore, paths: &[StorePath]) -> Vec<u8> {
    let mut out = Vec::new();
    store.export_paths(paths, &mut out).unwrap();
    out
}

fn nar_of(store: &LocalStore, path: &StorePath) -> Vec<u8> {
    let mut nar = Vec::new();
    store.dump_path(path, &mut nar).unwrap();
    nar
}

/// Everything registered in `store`.
fn valid(store: &LocalStore) -> BTreeSet<StorePath> {
    store.all_valid_paths().unwrap()
}

fn u64_bytes(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn str_bytes(out: &mut Vec<u8>, s: &[u8]) {
    u64_bytes(out, s.len() as u64);
    out.extend_from_slice(s);
    out.extend_from_slice(&[0; 8][..(8 - s.len() % 8) % 8]);
}

/// A one-entry stream built by hand: `nar`, then the entry's fields.
fn stream_of(nar: &[u8], path: &str, refs: &[&str], deriver: &str, signature: bool) -> Vec<u8> {
    let mut s = Vec::new();
    u64_bytes(&mut s, 1);
    s.extend_from_slice(nar);
    u64_bytes(&mut s, EXPORT_MAGIC);
    str_bytes(&mut s, path.as_bytes());
    u64_bytes(&mut s, refs.len() as u64);
    for r in refs {
        str_bytes(&mut s, r.as_bytes());
    }
    str_bytes(&mut s, deriver.as_bytes());
    if signature {
        u64_bytes(&mut s, 1);
        str_bytes(&mut s, b"cache.example.org-1:c2lnbmF0dXJl");
    } else {
        u64_bytes(&mut s, 0);
    }
    u64_bytes(&mut s, 0);
    s
}

fn file_nar(contents: &[u8]) -> Vec<u8> {
    let mut w = NarWriter::new(Vec::new());
    w.regular(false, contents.len() as u64, contents).unwrap();
    w.finish().unwrap()
}

const PATH: &str = "/nix/store/7h7qgvs4kgzsn8a6rb273saxyqh4jxlz-hello";
const DRV: &str = "/nix/store/qqkiqpn0bq6m5v0g8jm0xx55fxdr4d0v-hello.drv";

#[test]
fn a_closure_round_trips_between_two_stores() {
    let dir = tempfile::tempdir().unwrap();
    let from = open(&dir.path().join("from"));
    let (a, b) = small_closure(&from, dir.path());
    let stream = export(&from, &[a.clone(), b.clone()]);

    // The pure reader sees both entries, each NAR byte for byte what `dump_path` gives.
    let mut reader = ExportReader::new(&stream[..], "/nix/store");
    let mut seen = Vec::new();
    while let Some(mut entry) = reader.next_entry().unwrap() {
        let mut nar = Vec::new();
        entry.read_to_end(&mut nar).unwrap();
        let meta = entry.finish().unwrap();
        assert_eq!(nar, nar_of(&from, &meta.path));
        seen.push(meta);
    }
    assert_eq!(reader.offset(), stream.len() as u64);
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].path, a);
    assert!(seen[0].references.is_empty());
    assert_eq!(seen[1].path, b);
    assert_eq!(seen[1].references, BTreeSet::from([a.clone()]));
    assert_eq!(seen[1].deriver, None);

    let to = open(&dir.path().join("to"));
    assert_eq!(
        to.import_paths(&stream[..]).unwrap(),
        vec![a.clone(), b.clone()]
    );
    for p in [&a, &b] {
        let (theirs, ours) = (
            from.query_path_info(p).unwrap().unwrap(),
            to.query_path_info(p).unwrap().unwrap(),
        );
        assert_eq!(ours.nar_hash, theirs.nar_hash);
        assert_eq!(ours.nar_size, theirs.nar_size);
        assert_eq!(ours.references, theirs.references);
        assert_eq!(nar_of(&to, p), nar_of(&from, p));
    }
    // Exported again from the copy: the same bytes. Imported again: nothing changes.
    assert_eq!(export(&to, &[a.clone(), b.clone()]), stream);
    assert_eq!(to.import_paths(&stream[..]).unwrap(), vec![a, b]);
    assert!(to.verify(true).unwrap().is_empty());
}

#[test]
fn the_deriver_is_registered_and_a_legacy_signature_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("root"));
    let stream = stream_of(&file_nar(b"hello\n"), PATH, &[], DRV, true);
    let path = StorePath::from_absolute("/nix/store", PATH).unwrap();
    assert_eq!(store.import_paths(&stream[..]).unwrap(), vec![path.clone()]);
    let info = store.query_path_info(&path).unwrap().unwrap();
    assert_eq!(
        info.deriver,
        Some(StorePath::from_absolute("/nix/store", DRV).unwrap())
    );
    assert_eq!(info.nar_size, file_nar(b"hello\n").len() as u64);
    assert_eq!(
        fs::read(store.real_path(&path)).unwrap(),
        b"hello\n".to_vec()
    );
}

#[test]
fn a_truncated_stream_registers_nothing_for_the_broken_entry() {
    let dir = tempfile::tempdir().unwrap();
    let from = open(&dir.path().join("from"));
    let (a, b) = small_closure(&from, dir.path());
    let stream = export(&from, &[a.clone(), b.clone()]);
    let first_len = {
        let mut r = ExportReader::new(&stream[..], "/nix/store");
        r.next_entry().unwrap().unwrap().finish().unwrap();
        r.offset() as usize
    };
    // Cuts inside the first entry (its marker, NAR, trailer), then inside the second, then in
    // the final 0 (both entries complete), with how many paths stay registered.
    let cuts = [
        (4, 0),
        (8 + 20, 0),
        (first_len - 60, 0),
        (first_len - 4, 0),
        (first_len + 4, 1),
        (first_len + 100, 1),
        (stream.len() - 20, 1),
        (stream.len() - 12, 1),
        (stream.len() - 4, 2),
    ];
    for (i, &(cut, n_valid)) in cuts.iter().enumerate() {
        let to = open(&dir.path().join(format!("to-{i}")));
        let err = to.import_paths(&stream[..cut]).unwrap_err();
        let text = format!("{err}");
        let StoreError::Export(e) = &err else {
            panic!("cut at {cut}: not an export error: {text}")
        };
        assert!(
            matches!(e, ExportError::Truncated { .. } | ExportError::Nar { .. }),
            "cut at {cut}: {text}"
        );
        let offset = e.offset().unwrap();
        assert!(
            offset <= cut as u64,
            "cut at {cut}: offset {offset}: {text}"
        );
        let expected: BTreeSet<StorePath> =
            [a.clone(), b.clone()].into_iter().take(n_valid).collect();
        assert_eq!(valid(&to), expected, "cut at {cut}: {text}");
        // No unpacked leftovers of the broken entry.
        let tmp = to.location().real_store_dir().join(".kiln-tmp");
        let leftovers: Vec<_> = fs::read_dir(&tmp)
            .map(|d| {
                d.map(|e| e.unwrap().file_name())
                    .filter(|n| n != ".lock")
                    .collect()
            })
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "cut at {cut}: {leftovers:?}");
    }
}

#[test]
fn malformed_streams_are_refused_saying_where() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("root"));
    let good = stream_of(&file_nar(b"hello\n"), PATH, &[], "", false);
    let refused = |stream: &[u8]| -> ExportError {
        match store.import_paths(stream).unwrap_err() {
            StoreError::Export(e) => e,
            other => panic!("not an export error: {other}"),
        }
    };

    let mut bad = good.clone();
    bad[0] = 2;
    let e = refused(&bad);
    assert_eq!(
        e.to_string(),
        "input doesn't look like something created by 'nix-store --export'"
    );
    assert_eq!(e.offset(), Some(0));

    let nar_len = file_nar(b"hello\n").len();
    let mut bad = good.clone();
    bad[8 + nar_len] ^= 1;
    let e = refused(&bad);
    assert_eq!(
        e.to_string(),
        "Nix archive cannot be imported; wrong format"
    );
    assert_eq!(e.offset(), Some(8 + nar_len as u64));

    // A corrupt archive: its padding after the contents is not zero.
    let mut bad = good.clone();
    // "hello\n" is padded with two zeros, then comes the 16 bytes of ")".
    let pad_at = 8 + nar_len - 16 - 2;
    bad[pad_at] = 1;
    let e = refused(&bad);
    assert!(matches!(e, ExportError::Nar { .. }), "{e}");
    assert_eq!(e.offset(), Some(pad_at as u64), "{e}");

    // A path outside the store directory, and a missing reference.
    let bad = stream_of(&file_nar(b"x"), "/elsewhere/x", &[], "", false);
    assert!(
        matches!(refused(&bad), ExportError::BadPath { offset, .. } if offset == 8 + file_nar(b"x").len() as u64 + 8)
    );
    let bad = stream_of(&file_nar(b"x"), PATH, &[DRV], "", false);
    assert!(matches!(
        store.import_paths(&bad[..]).unwrap_err(),
        StoreError::MissingReference { .. }
    ));
    assert!(valid(&store).is_empty());

    // The good stream still imports.
    store.import_paths(&good[..]).unwrap();
    assert_eq!(valid(&store).len(), 1);
}

#[test]
fn a_path_whose_nar_no_longer_matches_its_hash_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("root"));
    let (a, _) = small_closure(&store, dir.path());
    let real = store.real_path(&a);
    fs::set_permissions(&real, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(real.join("data"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(real.join("data"), "other data\n").unwrap();
    let err = store
        .export_paths(std::slice::from_ref(&a), Vec::new())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "hash of path '{}' has changed from 'sha256:",
            a.to_absolute("/nix/store")
        )),
        "{text}"
    );
    assert!(matches!(
        err,
        StoreError::Export(ExportError::Changed { .. })
    ));
}

#[test]
fn a_large_file_streams_through() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big");
    let file = fs::File::create(&src).unwrap();
    file.set_len(64 << 20).unwrap();
    drop(file);
    let from = open(&dir.path().join("from"));
    let info = from
        .add_path(
            "big",
            &src,
            FileIngestionMethod::Recursive,
            HashAlgo::Sha256,
        )
        .unwrap();
    let exported = dir.path().join("big.export");
    from.export_paths(
        std::slice::from_ref(&info.path),
        BufWriter::new(fs::File::create(&exported).unwrap()),
    )
    .unwrap();
    assert!(fs::metadata(&exported).unwrap().len() > 64 << 20);
    let to = open(&dir.path().join("to"));
    let imported = to.import_paths(fs::File::open(&exported).unwrap()).unwrap();
    assert_eq!(imported, vec![info.path.clone()]);
    let copy = to.query_path_info(&info.path).unwrap().unwrap();
    assert_eq!(
        (copy.nar_hash, copy.nar_size),
        (info.nar_hash, info.nar_size)
    );
    assert_eq!(
        fs::metadata(to.real_path(&info.path)).unwrap().len(),
        64 << 20
    );
}

/// What the `export_reader` fuzz target does with its input.
fn walk(data: &[u8]) {
    let mut reader = ExportReader::new(data, "/nix/store");
    let mut buf = [0u8; 13];
    let mut entries = 0u64;
    loop {
        let mut entry = match reader.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(e) => {
                assert!(e.offset().unwrap_or(0) <= data.len() as u64, "{e}");
                break;
            }
        };
        entries += 1;
        if entries % 2 == 1 {
            while let Ok(n) = entry.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
        }
        if let Err(e) = entry.finish() {
            assert!(e.offset().unwrap_or(0) <= data.len() as u64, "{e}");
            break;
        }
    }
}

#[test]
fn fuzz_regressions_replay() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-regressions/export_reader");
    let n = kiln_testkit::replay_corpus(&dir, |data| {
        walk(data);
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path());
        if let Ok(paths) = store.import_paths(data) {
            for p in paths {
                assert!(store.is_valid_path(&p).unwrap());
            }
        }
    });
    assert!(n > 0, "the regression corpus is empty");
}
