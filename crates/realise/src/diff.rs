//! What differs between two builds of one output, for `--check`: the files that differ, and
//! for text files the changed lines.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// How many lines of a text diff are shown per file.
const MAX_DIFF_LINES: usize = 40;

fn entries(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Describes how the tree at `new` differs from the one at `old`, one line per difference
/// (`+`/`-` lines under a file give its text diff).
pub fn diff_trees(old: &Path, new: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(old, new, "", &mut out);
    out
}

fn walk(old: &Path, new: &Path, rel: &str, out: &mut Vec<String>) {
    let name = if rel.is_empty() { "." } else { rel };
    let (om, nm) = (fs::symlink_metadata(old), fs::symlink_metadata(new));
    let (om, nm) = match (om, nm) {
        (Ok(o), Ok(n)) => (o, n),
        (Ok(_), Err(_)) => return out.push(format!("  '{name}' is missing in the new build")),
        (Err(_), Ok(_)) => return out.push(format!("  '{name}' is new in the new build")),
        (Err(_), Err(_)) => return,
    };
    if om.is_dir() && nm.is_dir() {
        let mut names = entries(old);
        names.extend(entries(new));
        for n in names {
            let child = if rel.is_empty() {
                n.clone()
            } else {
                format!("{rel}/{n}")
            };
            walk(&old.join(&n), &new.join(&n), &child, out);
        }
        return;
    }
    if om.file_type().is_symlink() && nm.file_type().is_symlink() {
        let (a, b) = (fs::read_link(old).ok(), fs::read_link(new).ok());
        if a != b {
            out.push(format!("  symlink '{name}' differs: {a:?} -> {b:?}"));
        }
        return;
    }
    if om.is_file() && nm.is_file() {
        use std::os::unix::fs::PermissionsExt;
        if om.permissions().mode() & 0o100 != nm.permissions().mode() & 0o100 {
            out.push(format!("  '{name}' changed its executable bit"));
        }
        let (a, b) = (
            fs::read(old).unwrap_or_default(),
            fs::read(new).unwrap_or_default(),
        );
        if a == b {
            return;
        }
        match (std::str::from_utf8(&a), std::str::from_utf8(&b)) {
            (Ok(a), Ok(b)) => {
                out.push(format!("  file '{name}' differs:"));
                let diff = similar::TextDiff::from_lines(a, b);
                let mut shown = 0;
                for change in diff.iter_all_changes() {
                    let sign = match change.tag() {
                        similar::ChangeTag::Delete => '-',
                        similar::ChangeTag::Insert => '+',
                        similar::ChangeTag::Equal => continue,
                    };
                    if shown == MAX_DIFF_LINES {
                        out.push("    …".to_owned());
                        break;
                    }
                    out.push(format!(
                        "    {sign} {}",
                        change.value().trim_end_matches('\n')
                    ));
                    shown += 1;
                }
            }
            _ => out.push(format!(
                "  binary file '{name}' differs ({} bytes -> {} bytes)",
                a.len(),
                b.len()
            )),
        }
        return;
    }
    out.push(format!("  '{name}' changed type"));
}
