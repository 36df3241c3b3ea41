//! Parses every `.nix` file under a directory, prints any syntax errors and the time taken:
//! `cargo run --release -p kiln-eval --example parse_tree -- DIR`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("reading the directory")
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "nix") {
            out.push(path);
        }
    }
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: parse_tree DIR");
    let mut paths = Vec::new();
    collect(Path::new(&dir), &mut paths);
    let mut files = kiln_eval::SourceMap::new();
    let mut interner = kiln_eval::Interner::new();
    let (mut bytes, mut failed, mut spent) = (0, 0, Duration::ZERO);
    for path in &paths {
        let text = std::fs::read(path).expect("reading a file");
        bytes += text.len();
        let file = files.add(path.display().to_string(), text);
        let started = Instant::now();
        let parsed = kiln_eval::parse(file, files.text(file), &mut interner);
        spent += started.elapsed();
        if !parsed.errors.is_empty() {
            failed += 1;
            for e in &parsed.errors {
                println!("{}", files.render_error(e));
            }
        }
    }
    println!(
        "{} files, {bytes} bytes, {failed} with errors, parsed in {spent:?} ({:.1} MB/s)",
        paths.len(),
        bytes as f64 / 1e6 / spent.as_secs_f64()
    );
}
