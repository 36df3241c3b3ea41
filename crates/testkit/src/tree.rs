//! Generated file trees for NAR and hashing tests.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

/// A small deterministic generator (xorshift) so trees are reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The shape of a generated tree.
#[derive(Debug, Clone, Copy)]
pub struct TreeSpec {
    /// Seed of the generator.
    pub seed: u64,
    /// Maximum directory depth.
    pub depth: u32,
    /// Maximum entries per directory.
    pub width: u32,
    /// Maximum size of a regular file in bytes.
    pub max_file_size: usize,
}

/// Names that exercise sorting and escaping: byte order, dots, spaces, UTF-8, lookalikes.
const ODD_NAMES: &[&str] = &[
    "a",
    "B",
    "_",
    "-dash",
    ".hidden",
    "..dots",
    "with space",
    "ünïcødé",
    "Z",
    "a.b",
    "ab",
    "a-b",
    "tab\tname",
    "x=y",
    "[brackets]",
    "very-long-name-that-goes-on-and-on-for-quite-a-while",
];

impl TreeSpec {
    /// Writes the tree rooted at `root`, which must not exist yet. The root is a directory.
    pub fn write(&self, root: &Path) {
        let mut rng = Rng(self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        fs::create_dir(root).unwrap();
        self.fill(root, self.depth, &mut rng);
    }

    fn fill(&self, dir: &Path, depth: u32, rng: &mut Rng) {
        let n = rng.below(self.width as u64 + 1);
        for i in 0..n {
            let base = ODD_NAMES[rng.below(ODD_NAMES.len() as u64) as usize];
            let name = if rng.below(2) == 0 {
                base.to_owned()
            } else {
                format!("{base}{i}")
            };
            let path = dir.join(&name);
            if path.symlink_metadata().is_ok() {
                continue;
            }
            match rng.below(if depth == 0 { 3 } else { 5 }) {
                0 | 1 => {
                    let size = match rng.below(4) {
                        0 => 0,
                        _ => rng.below(self.max_file_size as u64 + 1) as usize,
                    };
                    let data: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
                    fs::write(&path, data).unwrap();
                    if rng.below(3) == 0 {
                        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
                    }
                }
                2 => {
                    let target = match rng.below(3) {
                        0 => "../somewhere/else".to_owned(),
                        1 => "/nix/store/absolute-target".to_owned(),
                        _ => base.to_owned(),
                    };
                    symlink(target, &path).unwrap();
                }
                _ => {
                    fs::create_dir(&path).unwrap();
                    self.fill(&path, depth - 1, rng);
                }
            }
        }
    }
}

/// Every file under `dir`, not following links, by path relative to `dir`: `dir MODE`,
/// `file MODE CONTENTS` (lossy UTF-8) or `-> TARGET`. For comparing whole roots before and
/// after an operation.
pub fn listing(dir: &Path) -> std::collections::BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, res: &mut std::collections::BTreeMap<String, String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let m = fs::symlink_metadata(&p).unwrap();
            let mode = m.permissions().mode() & 0o7777;
            if m.file_type().is_symlink() {
                res.insert(rel, format!("-> {}", fs::read_link(&p).unwrap().display()));
            } else if m.is_dir() {
                res.insert(rel.clone(), format!("dir {mode:o}"));
                walk(base, &p, res);
            } else {
                let c = fs::read(&p).unwrap();
                res.insert(
                    rel,
                    format!("file {mode:o} {}", String::from_utf8_lossy(&c)),
                );
            }
        }
    }
    let mut res = std::collections::BTreeMap::new();
    walk(dir, dir, &mut res);
    res
}
