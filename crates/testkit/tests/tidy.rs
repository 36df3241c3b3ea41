//! Project-wide checks that run under `cargo test`: crate layering and documentation.

use std::fs;
use std::path::{Path, PathBuf};

use std::collections::{BTreeMap, BTreeSet};

/// The allowed dependencies between Kiln's crates, read from ARCHITECTURE.md's table (the
/// rows between the `<!-- crate-graph -->` markers: `| `kiln-x` | `kiln-y`, `kiln-z` | … |`),
/// so the map and the check cannot drift apart. Crates planned but not yet in the workspace
/// have rows too.
fn allowed_edges() -> BTreeMap<String, BTreeSet<String>> {
    let arch = fs::read_to_string(workspace_root().join("ARCHITECTURE.md")).unwrap();
    let (_, rest) = arch
        .split_once("<!-- crate-graph -->")
        .expect("ARCHITECTURE.md has a <!-- crate-graph --> table");
    let (table, _) = rest
        .split_once("<!-- /crate-graph -->")
        .expect("the crate-graph table ends with <!-- /crate-graph -->");
    let names = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .filter_map(|n| n.strip_prefix("kiln-"))
            .map(str::to_owned)
            .collect()
    };
    let mut res = BTreeMap::new();
    for line in table.lines().filter(|l| l.starts_with("| `kiln-")) {
        let cells: Vec<&str> = line.split('|').collect();
        let krate = names(cells[1]);
        assert_eq!(krate.len(), 1, "a crate-graph row names one crate: {line}");
        let deps = names(cells[2]).into_iter().collect();
        assert!(
            res.insert(krate[0].clone(), deps).is_none(),
            "kiln-{} has two rows in the crate graph",
            krate[0]
        );
    }
    res
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// The workspace's crates: each one's name without `kiln-` (from its manifest) and directory.
fn crates() -> Vec<(String, PathBuf)> {
    let mut res: Vec<_> = fs::read_dir(workspace_root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| {
            let manifest = fs::read_to_string(p.join("Cargo.toml")).unwrap();
            let name = manifest
                .lines()
                .find_map(|l| l.strip_prefix("name = \"kiln-"))
                .and_then(|n| n.strip_suffix('"'))
                .unwrap_or_else(|| panic!("{} names no kiln- package", p.display()))
                .to_owned();
            (name, p)
        })
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
fn dependencies_follow_the_crate_graph() {
    let allowed = allowed_edges();
    for (name, dir) in crates() {
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let ok = allowed
            .get(&name)
            .unwrap_or_else(|| panic!("kiln-{name} has no row in ARCHITECTURE.md's crate graph"));
        for dep in normal_kiln_deps(&manifest) {
            assert!(
                ok.contains(&dep),
                "kiln-{name} depends on kiln-{dep}, which ARCHITECTURE.md's crate graph does not allow"
            );
        }
    }
}

#[test]
fn the_crate_graph_has_no_cycle() {
    let allowed = allowed_edges();
    // Depth-first search; a crate met again while on the path closes a cycle.
    fn visit<'a>(
        n: &'a str,
        g: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(n) {
            return;
        }
        assert!(
            !path.contains(&n),
            "the crate graph has a cycle: {path:?} -> {n}"
        );
        path.push(n);
        for d in g.get(n).into_iter().flatten() {
            assert!(
                g.contains_key(d),
                "kiln-{n} may depend on kiln-{d}, which has no row"
            );
            visit(d, g, path, done);
        }
        path.pop();
        done.insert(n);
    }
    let mut done = BTreeSet::new();
    for n in allowed.keys() {
        visit(n, &allowed, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_tidy_check_sees_a_forbidden_edge() {
    // The parser of the table is what the other checks stand on: a known edge must be absent.
    let allowed = allowed_edges();
    assert!(allowed["formats"].is_empty());
    assert!(allowed["cli"].contains("session"));
    assert!(!allowed["store"].contains("eval"));
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
