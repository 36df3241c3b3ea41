//! `kiln nar`: create, unpack and inspect Nix archives.
//!
//! Listings follow `nix nar ls`: entries as `./path`, `-l` with a mode column and a size column
//! 20 wide, `--json` as nested objects.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use kiln_formats::nar::{self, EntryKind, ListEntry};
use serde_json::{json, Map, Value};

#[derive(Debug, Subcommand)]
pub enum NarCommand {
    /// Write the NAR serialisation of a path to standard output (like `nix-store --dump`)
    #[command(visible_alias = "dump-path")]
    Pack {
        /// The file, symlink or directory to serialise
        path: PathBuf,
    },
    /// Unpack a NAR read from standard input into a new path (like `nix-store --restore`)
    Unpack {
        /// Where to unpack; must not exist yet
        path: PathBuf,
    },
    /// List the contents of a NAR
    Ls {
        /// The archive, or `-` for standard input
        nar: PathBuf,
        /// The path inside the archive
        #[arg(default_value = "/")]
        path: String,
        /// List directories recursively
        #[arg(short = 'R', long)]
        recursive: bool,
        /// Show type, permissions and size
        #[arg(short = 'l', long)]
        long: bool,
        /// Print JSON
        #[arg(long, conflicts_with = "long")]
        json: bool,
    },
    /// Print the contents of a regular file in a NAR
    Cat {
        /// The archive, or `-` for standard input
        nar: PathBuf,
        /// The path of the file inside the archive
        path: String,
    },
}

pub fn run(cmd: NarCommand) -> anyhow::Result<()> {
    let mut out = crate::output::stdout();
    match cmd {
        NarCommand::Pack { path } => {
            nar::dump(&path, &mut out).with_context(|| format!("packing '{}'", path.display()))?
        }
        NarCommand::Unpack { path } => unpack(&path)?,
        NarCommand::Ls {
            nar,
            path,
            recursive,
            long,
            json,
        } => {
            let entries = nar::ls(open(&nar)?, &path, recursive || json)
                .with_context(|| format!("listing '{path}' in '{}'", nar.display()))?;
            if json {
                let value = to_json(&entries, recursive);
                writeln!(out, "{value}")?;
            } else {
                print_listing(&mut out, &entries, long)?;
            }
        }
        NarCommand::Cat { nar, path } => {
            nar::cat(open(&nar)?, &path, &mut out)
                .with_context(|| format!("reading '{path}' in '{}'", nar.display()))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Unpacks standard input into `path` all or nothing: into a temporary sibling first, renamed
/// into place only once the whole archive has been read and checked, and removed otherwise, so
/// a malformed or truncated NAR leaves no half-unpacked tree behind.
fn unpack(path: &Path) -> anyhow::Result<()> {
    let context = || format!("unpacking into '{}'", path.display());
    if path.symlink_metadata().is_ok() {
        return Err(anyhow::anyhow!("'{}' already exists", path.display())).with_context(context);
    }
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("'{}' names no file", path.display()))
        .with_context(context)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".kiln-unpack-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let res = nar::restore(io::stdin().lock(), &tmp)
        .map_err(anyhow::Error::from)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(anyhow::Error::from));
    if res.is_err() {
        remove_partial(&tmp);
    }
    res.with_context(context)
}

/// Removes what a failed unpack wrote (directories may have been made read-only by nobody, but
/// be thorough: make them writable first).
fn remove_partial(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = path.symlink_metadata() {
        if meta.is_dir() {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
            let _ = std::fs::remove_dir_all(path);
        } else {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Opens the archive argument, `-` being standard input.
fn open(nar: &Path) -> anyhow::Result<Box<dyn Read>> {
    if nar == Path::new("-") {
        return Ok(Box::new(io::stdin().lock()));
    }
    let file = File::open(nar).with_context(|| format!("opening '{}'", nar.display()))?;
    Ok(Box::new(file))
}

/// Prints entries as `nix nar ls` does: the first entry is the path asked for; a directory's
/// entries follow as `./rel/path`, a non-directory prints its own name.
pub(crate) fn print_listing(
    out: &mut impl Write,
    entries: &[ListEntry],
    long: bool,
) -> io::Result<()> {
    let Some((first, rest)) = entries.split_first() else {
        return Ok(());
    };
    let lines: Vec<(&ListEntry, String)> = if first.kind == EntryKind::Directory {
        let strip = if first.path.is_empty() {
            0
        } else {
            first.path.len() + 1
        };
        rest.iter()
            .map(|e| {
                (
                    e,
                    format!("./{}", String::from_utf8_lossy(&e.path[strip..])),
                )
            })
            .collect()
    } else {
        let name = first.path.rsplit(|&b| b == b'/').next().unwrap_or(&[]);
        vec![(first, String::from_utf8_lossy(name).into_owned())]
    };
    for (entry, name) in lines {
        if !long {
            writeln!(out, "{name}")?;
            continue;
        }
        let (mode, size) = match &entry.kind {
            EntryKind::Regular {
                executable, size, ..
            } => (
                if *executable {
                    "-r-xr-xr-x"
                } else {
                    "-r--r--r--"
                },
                *size,
            ),
            EntryKind::Symlink { .. } => ("lrwxrwxrwx", 0),
            EntryKind::Directory => ("dr-xr-xr-x", 0),
        };
        write!(out, "{mode} {size:>20} {name}")?;
        if let EntryKind::Symlink { target } = &entry.kind {
            write!(out, " -> {}", String::from_utf8_lossy(target))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Builds the `--json` tree. Without `recursive`, a directory's entries are empty objects.
fn to_json(entries: &[ListEntry], recursive: bool) -> Value {
    let Some(first) = entries.first() else {
        return Value::Null;
    };
    let mut pos = 0;
    node_json(entries, &mut pos, &first.path, recursive)
}

/// Converts `entries[*pos]` and, for a directory, the entries below it that follow in archive
/// order.
fn node_json(entries: &[ListEntry], pos: &mut usize, path: &[u8], recursive: bool) -> Value {
    let entry = &entries[*pos];
    *pos += 1;
    match &entry.kind {
        EntryKind::Regular {
            executable,
            size,
            nar_offset,
        } => {
            let mut v = json!({ "type": "regular", "size": size });
            if *executable {
                v["executable"] = Value::Bool(true);
            }
            v["narOffset"] = json!(nar_offset);
            v
        }
        EntryKind::Symlink { target } => {
            json!({ "type": "symlink", "target": String::from_utf8_lossy(target) })
        }
        EntryKind::Directory => {
            let mut children = Map::new();
            let prefix_len = if path.is_empty() { 0 } else { path.len() + 1 };
            while *pos < entries.len() {
                let child = &entries[*pos];
                let inside = child.path.len() > prefix_len
                    && (path.is_empty()
                        || (child.path.starts_with(path) && child.path[path.len()] == b'/'));
                if !inside {
                    break;
                }
                let name = String::from_utf8_lossy(&child.path[prefix_len..]).into_owned();
                let value = if recursive {
                    node_json(entries, pos, &child.path.clone(), recursive)
                } else {
                    skip_subtree(entries, pos, &child.path.clone());
                    json!({})
                };
                children.insert(name, value);
            }
            json!({ "type": "directory", "entries": children })
        }
    }
}

/// Advances past an entry and everything listed below it.
fn skip_subtree(entries: &[ListEntry], pos: &mut usize, path: &[u8]) {
    *pos += 1;
    while *pos < entries.len() {
        let p = &entries[*pos].path;
        if p.len() > path.len() && p.starts_with(path) && p[path.len()] == b'/' {
            *pos += 1;
        } else {
            break;
        }
    }
}
