//! narinfo and nix-cache-info: golden files, rejections with line numbers, the fingerprint,
//! a print→parse property, and the fuzz regression corpus.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kiln_formats::cache_info::{CacheInfo, CacheInfoError};
use kiln_formats::hash::{Hash, HashAlgo};
use kiln_formats::narinfo::{ContentAddress, NarInfo, NarInfoError, MAX_NARINFO_LEN};
use kiln_formats::signing::{PublicKey, SecretKey, Signature, TrustedKeys};
use kiln_formats::store_path::{FileIngestionMethod, StorePath, DEFAULT_STORE_DIR};
use proptest::prelude::*;

const SD: &str = DEFAULT_STORE_DIR;

fn data_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(sub)
}

/// Every golden file (those named `nix28-*` were written by Nix 2.8's `nix copy`, the others
/// by hand from the spec) prints back byte for byte.
#[test]
fn golden_files_round_trip_byte_for_byte() {
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(data_dir("narinfo"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "narinfo"))
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        let info = NarInfo::parse(SD, &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(info.render(SD), text, "{}", path.display());
        n += 1;
    }
    assert!(n >= 8, "only {n} golden files");
}

#[test]
fn golden_fields() {
    let text =
        std::fs::read_to_string(data_dir("narinfo/handwritten-deriver-system.narinfo")).unwrap();
    let info = NarInfo::parse(SD, &text).unwrap();
    assert_eq!(info.path.name(), "hello-2.12.1");
    assert_eq!(info.compression, "xz");
    assert_eq!(info.file_size, Some(50264));
    assert_eq!(info.nar_size, 226552);
    assert_eq!(info.references.len(), 2);
    assert!(info.references.contains(&info.path), "self reference");
    assert_eq!(
        info.deriver.as_ref().map(StorePath::name),
        Some("hello-2.12.1.drv")
    );
    assert_eq!(info.system.as_deref(), Some("x86_64-linux"));
    assert_eq!(info.sigs.len(), 2);
    assert_eq!(info.ca, None);

    let text = std::fs::read_to_string(data_dir(
        "narinfo/nix28-wmhyym4y0sinrfj0zfynma7nd1fsqmxm.narinfo",
    ))
    .unwrap();
    let info = NarInfo::parse(SD, &text).unwrap();
    assert!(info.references.is_empty());
    assert_eq!(
        info.ca,
        Some(ContentAddress::Fixed {
            method: FileIngestionMethod::Recursive,
            hash: info.nar_hash,
        })
    );
}

const MINIMAL: &str = "StorePath: /nix/store/d4b4lmbd433fa2xcdysz7p7zahnqh1z4-f.txt\n\
URL: nar/x.nar\n\
NarHash: sha256:04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw\n\
NarSize: 120\n";

#[test]
fn defaults_and_normalisation() {
    // No Compression means bzip2; References is always printed; unknown keys are dropped.
    let info = NarInfo::parse(
        SD,
        &format!("{MINIMAL}Future: thing\nDeriver: unknown-deriver\n"),
    )
    .unwrap();
    assert_eq!(info.compression, "bzip2");
    assert_eq!(info.deriver, None);
    assert_eq!(
        info.render(SD),
        format!("{MINIMAL}References: \n").replace("NarHash", "Compression: bzip2\nNarHash")
    );

    // A base16 NarHash and CA print as nix32; the fingerprint is the same either way.
    let h = Hash::parse_any(
        "sha256:04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw",
        None,
    )
    .unwrap();
    let b16 = MINIMAL.replace(&h.to_nix32(), &h.to_base16());
    let sri = MINIMAL.replace(&format!("sha256:{}", h.to_nix32()), &h.to_sri());
    let a = NarInfo::parse(SD, MINIMAL).unwrap();
    let b = NarInfo::parse(SD, &b16).unwrap();
    let c = NarInfo::parse(SD, &format!("{sri}CA: fixed:r:sha256:{}\n", h.to_base16())).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.fingerprint(SD), c.fingerprint(SD));
    assert!(c
        .render(SD)
        .contains(&format!("CA: fixed:r:sha256:{}\n", h.to_nix32())));
}

#[test]
fn fingerprint_format() {
    let text = std::fs::read_to_string(data_dir(
        "narinfo/nix28-amlkkb2qzlnyqqlf8xiqbrj4w9v07j1x.narinfo",
    ))
    .unwrap();
    let info = NarInfo::parse(SD, &text).unwrap();
    assert_eq!(
        info.fingerprint(SD),
        "1;/nix/store/amlkkb2qzlnyqqlf8xiqbrj4w9v07j1x-ref;\
         sha256:108vwm43b725c4ia1nizjc8m3clp6z20nxcpz5zsz7vg1y8k2nxy;216;\
         /nix/store/12wigjpizrn8axaqxj288q1b751qmwya-a,\
         /nix/store/6h9lcbx523532ax1c5g2351w9bm8ykhy-f.txt"
    );
    let none = NarInfo::parse(SD, MINIMAL).unwrap();
    assert!(none.fingerprint(SD).ends_with(";120;"));
    // Another store directory changes every absolute path.
    let other = MINIMAL.replace("/nix/store", "/gnu/store");
    let info = NarInfo::parse("/gnu/store", &other).unwrap();
    assert!(info.fingerprint("/gnu/store").starts_with("1;/gnu/store/"));
    assert!(NarInfo::parse(SD, &other).is_err());
}

#[test]
fn sign_and_verify() {
    let key = SecretKey::from_seed("kiln-test-1", [7; 32]).unwrap();
    let other = SecretKey::from_seed("kiln-test-2", [8; 32]).unwrap();
    let mut info = NarInfo::parse(SD, MINIMAL).unwrap();
    let trusted: TrustedKeys = [key.to_public()].into_iter().collect();
    assert_eq!(info.verify(SD, &trusted), 0);
    info.sign(SD, &key);
    info.sign(SD, &key);
    info.sign(SD, &other);
    info.sigs.insert("garbage".into());
    info.sigs.insert("kiln-test-1:AAAA".into());
    assert_eq!(info.sigs.len(), 4, "signing twice gives the same signature");
    assert_eq!(info.verify(SD, &trusted), 1);
    let both: TrustedKeys = [key.to_public(), other.to_public()].into_iter().collect();
    assert_eq!(info.verify(SD, &both), 2);

    // The signature survives printing and parsing; changing what it covers breaks it.
    let reparsed = NarInfo::parse(SD, &info.render(SD)).unwrap();
    assert_eq!(reparsed.verify(SD, &both), 2);
    let mut tampered = reparsed.clone();
    tampered.nar_size += 1;
    assert_eq!(tampered.verify(SD, &both), 0);
    let mut tampered = reparsed;
    tampered.references.insert(tampered.path.clone());
    assert_eq!(tampered.verify(SD, &both), 0);
    // Fields outside the fingerprint do not matter.
    let mut moved = info.clone();
    moved.url = "nar/elsewhere.nar".into();
    assert_eq!(moved.verify(SD, &both), 2);

    // A key with the right name but other bytes does not verify.
    let impostor = SecretKey::from_seed("kiln-test-1", [9; 32]).unwrap();
    let fake: TrustedKeys = [impostor.to_public()].into_iter().collect();
    assert_eq!(info.verify(SD, &fake), 0);
    let sig = Signature::parse(
        info.sigs
            .iter()
            .find(|s| s.starts_with("kiln-test-2"))
            .unwrap(),
    )
    .unwrap();
    assert!(PublicKey::parse(&other.to_public().to_string())
        .unwrap()
        .verify(info.fingerprint(SD).as_bytes(), &sig));
}

fn err(text: &str) -> NarInfoError {
    NarInfo::parse(SD, text).expect_err(text)
}

#[test]
fn rejects_bad_narinfo_with_line_and_key() {
    let lines: Vec<&str> = MINIMAL.lines().collect();
    let with = |extra: &str| format!("{MINIMAL}{extra}");

    assert_eq!(
        err(&MINIMAL[..MINIMAL.len() - 1]),
        NarInfoError::MissingNewline { line: 4 }
    );
    assert_eq!(
        err(&with("\n")),
        NarInfoError::NotKeyValue { line: 5 },
        "blank line"
    );
    assert_eq!(
        err(&with("System:x\n")),
        NarInfoError::NotKeyValue { line: 5 }
    );
    assert_eq!(
        err(&with("URL: again\n")),
        NarInfoError::Duplicate {
            line: 5,
            key: "URL"
        }
    );
    assert!(matches!(
        err(&with("References: a b\n")),
        NarInfoError::BadStorePath {
            line: 5,
            key: "References",
            ..
        }
    ));
    assert!(matches!(
        err(&with(
            "Deriver: /nix/store/6lvh0cg6d4qblsj2y18dyxwz0n0y8qga-x.drv\n"
        )),
        NarInfoError::BadStorePath {
            line: 5,
            key: "Deriver",
            ..
        }
    ));
    assert!(matches!(
        err(&with(
            "FileHash: 04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw\n"
        )),
        NarInfoError::BadHash {
            line: 5,
            key: "FileHash",
            ..
        }
    ));
    assert_eq!(
        err(&with("FileSize: -1\n")),
        NarInfoError::BadNumber {
            line: 5,
            key: "FileSize",
            value: "-1".into()
        }
    );
    assert!(matches!(
        err(&with("FileSize: 18446744073709551616\n")),
        NarInfoError::BadNumber { line: 5, .. }
    ));
    for ca in [
        "CA: source:sha256:04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw",
        "CA: text:sha1:00xyyr3fi8l6hb839bv3f7yb86yjv7xi",
        "CA: fixed:r:sha256",
        "CA: fixed:sha256:tooshort",
        "CA: fixed:r:sha256-BrfEMVExKJi/WlP9rbNdZ5/iwWbTh1lbCL7cHlAYldo=",
    ] {
        assert!(
            matches!(
                err(&with(&format!("{ca}\n"))),
                NarInfoError::BadContentAddress { line: 5, .. }
            ),
            "{ca}"
        );
    }

    // Required keys.
    let without = |i: usize| {
        let mut l = lines.clone();
        l.remove(i);
        l.iter().map(|l| format!("{l}\n")).collect::<String>()
    };
    assert_eq!(err(&without(0)), NarInfoError::Missing { key: "StorePath" });
    assert_eq!(err(&without(1)), NarInfoError::Missing { key: "URL" });
    assert_eq!(err(&without(2)), NarInfoError::Missing { key: "NarHash" });
    assert_eq!(err(&without(3)), NarInfoError::Missing { key: "NarSize" });
    assert_eq!(
        err(&MINIMAL.replace("URL: nar/x.nar", "URL: ")),
        NarInfoError::Missing { key: "URL" }
    );
    assert_eq!(
        err(&MINIMAL.replace("NarSize: 120", "NarSize: 0")),
        NarInfoError::ZeroNarSize { line: 4 }
    );
    assert!(matches!(
        err(&MINIMAL.replace("/nix/store/", "/nix/store/x/")),
        NarInfoError::BadStorePath {
            line: 1,
            key: "StorePath",
            ..
        }
    ));

    assert!(matches!(
        err(&"Sig: x\n".repeat(MAX_NARINFO_LEN / 7 + 1)),
        NarInfoError::TooLarge { .. }
    ));
    // Messages name the line and key and end without a period.
    let msg = err(&with("NarSize: 5\n")).to_string();
    assert_eq!(msg, "line 5: 'NarSize' given a second time");
}

#[test]
fn cache_info() {
    let info = CacheInfo::parse("StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n").unwrap();
    assert_eq!(
        info,
        CacheInfo {
            store_dir: Some("/nix/store".into()),
            want_mass_query: Some(true),
            priority: Some(40),
        }
    );
    assert_eq!(
        info.render(),
        "StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n"
    );
    // As Nix reads it: values trimmed, junk lines and unknown keys skipped, last value wins.
    let info = CacheInfo::parse(
        "junk\n\nStoreDir:   /gnu/store \r\nWantMassQuery: yes\nOther: 1\nPriority: 10\nPriority: -3",
    )
    .unwrap();
    assert_eq!(info.store_dir.as_deref(), Some("/gnu/store"));
    assert_eq!(info.want_mass_query, Some(false));
    assert_eq!(info.priority, Some(-3));
    assert_eq!(CacheInfo::parse("").unwrap(), CacheInfo::default());
    assert_eq!(
        CacheInfo::parse("StoreDir: /nix/store\nPriority: high\n"),
        Err(CacheInfoError::BadPriority {
            line: 2,
            value: "high".into()
        })
    );
    assert!(CacheInfo::parse("Priority: 99999999999\n").is_err());
    // What Nix 2.8 writes when it creates a cache.
    let nix = "StoreDir: /nix/store\n";
    assert_eq!(CacheInfo::parse(nix).unwrap().render(), nix);
}

/// Every file fuzzing found, plus hand-made malformed inputs, goes through every parser
/// without a panic, and what parses prints back to the same value.
#[test]
fn fuzz_regressions_replay() {
    let n = kiln_testkit::replay_corpus(&data_dir("fuzz-regressions/narinfo"), |data| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(info) = NarInfo::parse(SD, text) {
            assert_eq!(NarInfo::parse(SD, &info.render(SD)).unwrap(), info);
        }
        if let Ok(info) = CacheInfo::parse(text) {
            assert_eq!(CacheInfo::parse(&info.render()).unwrap(), info);
        }
        let _ = SecretKey::parse(text);
        let _ = PublicKey::parse(text);
        let _ = Signature::parse(text);
    });
    assert!(n >= 5, "only {n} regression inputs");
}

fn store_path() -> impl Strategy<Value = StorePath> {
    (
        proptest::array::uniform20(any::<u8>()),
        "[a-zA-Z0-9+_?=][a-zA-Z0-9+._?=-]{0,30}",
    )
        .prop_map(|(h, name)| StorePath::from_hash_and_name(&h, &name).unwrap())
}

fn hash() -> impl Strategy<Value = Hash> {
    (
        prop::sample::select(HashAlgo::ALL.to_vec()),
        proptest::collection::vec(any::<u8>(), 64),
    )
        .prop_map(|(algo, bytes)| Hash::from_digest(algo, &bytes[..algo.digest_len()]).unwrap())
}

fn content_address() -> impl Strategy<Value = ContentAddress> {
    prop_oneof![
        proptest::array::uniform32(any::<u8>())
            .prop_map(|b| ContentAddress::Text(Hash::from_digest(HashAlgo::Sha256, &b).unwrap())),
        (any::<bool>(), hash()).prop_map(|(r, hash)| ContentAddress::Fixed {
            method: if r {
                FileIngestionMethod::Recursive
            } else {
                FileIngestionMethod::Flat
            },
            hash,
        }),
    ]
}

prop_compose! {
    fn narinfo()(
        path in store_path(),
        url in "[!-~][ -~]{0,40}",
        compression in "[a-z0-9]{1,6}",
        file_hash in proptest::option::of(hash()),
        file_size in proptest::option::of(any::<u64>()),
        nar_hash in hash(),
        nar_size in 1..u64::MAX,
        references in proptest::collection::btree_set(store_path(), 0..5),
        deriver in proptest::option::of(store_path()),
        system in proptest::option::of("[ -~]{0,20}"),
        sigs in proptest::collection::btree_set("[ -~]{0,100}", 0..4),
        ca in proptest::option::of(content_address()),
    ) -> NarInfo {
        NarInfo {
            path, url, compression, file_hash, file_size, nar_hash, nar_size,
            references, deriver, system, sigs, ca,
        }
    }
}

proptest! {
    #[test]
    fn print_then_parse_is_identity(info in narinfo()) {
        let text = info.render(SD);
        let back = NarInfo::parse(SD, &text).unwrap();
        prop_assert_eq!(&back, &info);
        prop_assert_eq!(back.render(SD), text);
    }

    #[test]
    fn cache_info_print_then_parse(
        store_dir in proptest::option::of("/[!-~]{0,30}"),
        want_mass_query in proptest::option::of(any::<bool>()),
        priority in proptest::option::of(any::<i32>()),
    ) {
        let info = CacheInfo { store_dir, want_mass_query, priority };
        prop_assert_eq!(CacheInfo::parse(&info.render()).unwrap(), info);
    }

    #[test]
    fn parser_never_panics(text in "(?s).{0,400}") {
        let _ = NarInfo::parse(SD, &text);
        let _ = CacheInfo::parse(&text);
    }
}

#[test]
fn references_set_semantics() {
    let refs =
        "References: 12wigjpizrn8axaqxj288q1b751qmwya-a  12wigjpizrn8axaqxj288q1b751qmwya-a\n";
    let info = NarInfo::parse(SD, &format!("{MINIMAL}{refs}")).unwrap();
    let expected: BTreeSet<_> =
        [StorePath::from_base_name("12wigjpizrn8axaqxj288q1b751qmwya-a").unwrap()]
            .into_iter()
            .collect();
    assert_eq!(info.references, expected);
}
