//! Store paths computed by Kiln against the ones the reference Nix 2.8 reports for the same
//! inputs: `builtins.toFile` (text paths, with and without references), `builtins.path` and
//! path interpolation (source paths, flat and recursive), and fixed-output derivations (every
//! hash algorithm, flat and recursive).

use std::collections::BTreeSet;
use std::path::Path;

use kiln_formats::hash::{Hash, HashAlgo, Hasher};
use kiln_formats::nar;
use kiln_formats::store_path::{
    make_fixed_output_path, make_source_path, make_text_path, FileIngestionMethod, StorePath,
    DEFAULT_STORE_DIR as SD,
};
use kiln_testkit::TreeSpec;

fn nar_hash(path: &Path, algo: HashAlgo) -> Hash {
    let mut h = Hasher::new(algo);
    nar::dump(path, &mut h).unwrap();
    h.finish()
}

fn sha256(data: &[u8]) -> Hash {
    Hash::digest_bytes(HashAlgo::Sha256, data)
}

/// Evaluates `expr` (a list of strings) with the reference Nix in a chroot store under `dir`.
fn nix_paths(dir: &Path, expr: &str) -> Vec<String> {
    let file = dir.join("expr.nix");
    std::fs::write(&file, expr).unwrap();
    let out = kiln_testkit::reference_command("nix-instantiate", &dir.join("state"))
        .arg("--store")
        .arg(dir.join("root"))
        .args(["--eval", "--strict", "--json", "--read-write-mode"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nix-instantiate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // The output is a JSON list of plain strings.
    text.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_owned())
        .collect()
}

#[test]
fn text_and_source_paths_match_nix() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    TreeSpec {
        seed: 7,
        depth: 3,
        width: 5,
        max_file_size: 2000,
    }
    .write(&tree);
    let file = dir.path().join("file.txt");
    std::fs::write(&file, "flat contents\n").unwrap();
    let expr = r#"
      let dep = builtins.toFile "dep" "x"; in [
        (builtins.toFile "hello" "hello world")
        (builtins.toFile "empty" "")
        dep
        (builtins.toFile "user" "uses ${dep} and ${dep}")
        (builtins.toFile "two" "${dep} ${builtins.toFile "other" "y"}")
        "${./tree}"
        "${./file.txt}"
        (builtins.path { path = ./tree; name = "renamed"; })
        (builtins.path { path = ./file.txt; name = "flat"; recursive = false; })
      ]"#;
    let theirs = nix_paths(dir.path(), expr);

    let none = BTreeSet::new();
    let text = |name: &str, contents: &str, refs: &[&StorePath]| {
        let refs: BTreeSet<StorePath> = refs.iter().map(|r| (*r).clone()).collect();
        make_text_path(SD, name, &sha256(contents.as_bytes()), &refs).unwrap()
    };
    let dep = text("dep", "x", &[]);
    let other = text("other", "y", &[]);
    let dep_abs = dep.to_absolute(SD);
    let other_abs = other.to_absolute(SD);
    let tree_hash = nar_hash(&tree, HashAlgo::Sha256);
    let ours: Vec<String> = [
        text("hello", "hello world", &[]),
        text("empty", "", &[]),
        dep.clone(),
        text("user", &format!("uses {dep_abs} and {dep_abs}"), &[&dep]),
        text("two", &format!("{dep_abs} {other_abs}"), &[&dep, &other]),
        make_source_path(SD, "tree", &tree_hash, &none, false).unwrap(),
        make_source_path(
            SD,
            "file.txt",
            &nar_hash(&file, HashAlgo::Sha256),
            &none,
            false,
        )
        .unwrap(),
        make_source_path(SD, "renamed", &tree_hash, &none, false).unwrap(),
        make_fixed_output_path(
            SD,
            "flat",
            FileIngestionMethod::Flat,
            &sha256(b"flat contents\n"),
        )
        .unwrap(),
    ]
    .iter()
    .map(|p| p.to_absolute(SD))
    .collect();
    assert_eq!(ours, theirs);
}

#[test]
fn fixed_output_paths_match_nix() {
    let dir = tempfile::tempdir().unwrap();
    let mut exprs = Vec::new();
    let mut ours = Vec::new();
    for algo in HashAlgo::ALL {
        for (mode, method) in [
            ("flat", FileIngestionMethod::Flat),
            ("recursive", FileIngestionMethod::Recursive),
        ] {
            let name = format!("fo-{algo}-{mode}");
            let hash = Hash::digest_bytes(algo, name.as_bytes());
            // Alternate the encodings Nix accepts for outputHash.
            let given = match exprs.len() % 3 {
                0 => hash.to_base16(),
                1 => hash.to_nix32(),
                _ => hash.to_sri(),
            };
            exprs.push(format!(
                r#"(derivation {{ name = "{name}"; system = "x86_64-linux"; builder = "/bin/sh";
                     outputHash = "{given}"; outputHashAlgo = "{algo}";
                     outputHashMode = "{mode}"; }}).outPath"#
            ));
            ours.push(
                make_fixed_output_path(SD, &name, method, &hash)
                    .unwrap()
                    .to_absolute(SD),
            );
        }
    }
    let theirs = nix_paths(dir.path(), &format!("[ {} ]", exprs.join("\n")));
    assert_eq!(ours, theirs);
}

/// Inputs for the `store_path_config` fuzz target (store paths, hashes, nix.conf): replayed
/// without a panic, and what parses prints back to the same value.
#[test]
fn fuzz_regressions_replay() {
    use kiln_formats::config::{parse, Settings};
    use kiln_formats::hash::Encoding;
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-regressions/store_path_config");
    let n = kiln_testkit::replay_corpus(&dir, |data| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(p) = StorePath::from_absolute(SD, text) {
            assert_eq!(p.to_absolute(SD), text);
        }
        if let Ok(h) = Hash::parse_any(text, None) {
            for enc in [
                Encoding::Base16,
                Encoding::Nix32,
                Encoding::Base64,
                Encoding::Sri,
            ] {
                assert_eq!(Hash::parse_any(&h.encode(enc, true), None).unwrap(), h);
            }
        }
        let _ = parse("fuzz", text);
        let _ = Settings::new().apply(Path::new("/f/nix.conf"), text, &mut |_| Ok(None));
    });
    assert!(n >= 5, "the corpus must not be empty");
}
