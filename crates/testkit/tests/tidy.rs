//! Project-wide checks that run under `cargo test`: crate layering and documentation.

use std::fs;
use std::path::{Path, PathBuf};

/// The layers, left to right: a crate may depend only on crates to its left.
const LAYERS: &[&str] = &["formats", "eval", "store", "build", "os", "cli"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

fn crates() -> Vec<(String, PathBuf)> {
    let mut res: Vec<_> = fs::read_dir(workspace_root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    res.sort();
    res
}

/// Returns the `kiln-*` crates named in the `[dependencies]` section (not dev-dependencies).
fn normal_kiln_deps(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut res = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps {
            if let Some(name) = line.strip_prefix("kiln-") {
                let name = name.split([' ', '=', '.']).next();
                res.push(name.unwrap().to_owned());
            }
        }
    }
    res
}

#[test]
fn dependencies_point_one_way() {
    for (name, dir) in crates() {
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let deps = normal_kiln_deps(&manifest);
        if name == "testkit" {
            assert!(
                deps.iter().all(|d| d == "formats"),
                "kiln-testkit may only depend on kiln-formats, found {deps:?}"
            );
            continue;
        }
        let pos = LAYERS
            .iter()
            .position(|l| *l == name)
            .unwrap_or_else(|| panic!("crate {name} is not in the layering {LAYERS:?}"));
        for dep in deps {
            let dep_pos = LAYERS.iter().position(|l| *l == dep);
            assert!(
                dep_pos.is_some_and(|d| d < pos),
                "kiln-{name} depends on kiln-{dep}, which is not to its left in {LAYERS:?}"
            );
        }
    }
}

#[test]
fn every_crate_opens_with_an_overview() {
    for (name, dir) in crates() {
        let root = ["src/lib.rs", "src/main.rs"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("crate {name} has no lib.rs or main.rs"));
        let text = fs::read_to_string(&root).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} must open with a //! overview of the crate",
            root.display()
        );
    }
}

#[test]
fn architecture_names_every_crate() {
    let arch = fs::read_to_string(workspace_root().join("ARCHITECTURE.md")).unwrap();
    for (name, _) in crates() {
        assert!(
            arch.contains(&format!("kiln-{name}")),
            "ARCHITECTURE.md does not describe kiln-{name}"
        );
    }
}
