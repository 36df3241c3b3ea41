//! Boot entries in systemd-boot's format: `boot/loader/entries/kiln-N.conf` for every
//! generation and `boot/loader/loader.conf` naming the default. Each file is written by one
//! rename, the entries before `loader.conf`, so the default always names a complete entry;
//! entries of deleted generations are removed after it.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::error::{io as io_err, OsError};
use crate::fsutil::{self, phys};
use crate::toplevel::Toplevel;

/// The text of generation `number`'s entry.
pub fn entry_text(root: &Path, number: u64, top: &Toplevel) -> String {
    let version = top.version(root);
    let mut s = format!(
        "title Kiln\nversion Generation {number}{}{version}\n",
        if version.is_empty() { "" } else { " " }
    );
    if let Some(k) = top.kernel(root) {
        s.push_str(&format!("linux {k}\n"));
    }
    if let Some(i) = top.initrd(root) {
        s.push_str(&format!("initrd {i}\n"));
    }
    let params = top.kernel_params(root);
    s.push_str(&format!(
        "options init={}/init{}{params}\n",
        top.path,
        if params.is_empty() { "" } else { " " }
    ));
    s
}

/// Writes one entry per generation of `generations` (number to toplevel) and makes `default`
/// the default entry.
pub fn write_entries(
    root: &Path,
    generations: &BTreeMap<u64, Toplevel>,
    default: u64,
) -> Result<(), OsError> {
    let loader = phys(root, "/boot/loader");
    let entries = loader.join("entries");
    fsutil::mkdirs(&entries)?;
    fsutil::clean_tmp(&entries, false)?;
    fsutil::clean_tmp(&loader, false)?;
    for (n, top) in generations {
        let file = entries.join(format!("kiln-{n}.conf"));
        let text = entry_text(root, *n, top);
        if fs::read(&file).ok().as_deref() != Some(text.as_bytes()) {
            fsutil::write_atomic(&file, text.as_bytes(), 0o644)?;
        }
    }
    let conf = loader.join("loader.conf");
    let text = format!("timeout 5\ndefault kiln-{default}.conf\n");
    if fs::read(&conf).ok().as_deref() != Some(text.as_bytes()) {
        fsutil::write_atomic(&conf, text.as_bytes(), 0o644)?;
    }
    for e in fs::read_dir(&entries).map_err(io_err("reading directory", &entries))? {
        let e = e.map_err(io_err("reading directory", &entries))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let number = name
            .strip_prefix("kiln-")
            .and_then(|r| r.strip_suffix(".conf"))
            .and_then(|n| n.parse::<u64>().ok());
        if number.is_some_and(|n| !generations.contains_key(&n)) {
            fs::remove_file(e.path()).map_err(io_err("removing", e.path()))?;
        }
    }
    Ok(())
}

/// The generation `loader.conf` names as the default, if any.
pub fn default_entry(root: &Path) -> Option<u64> {
    let text = fs::read_to_string(phys(root, "/boot/loader/loader.conf")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("default "))
        .and_then(|d| d.trim().strip_prefix("kiln-"))
        .and_then(|d| d.strip_suffix(".conf"))
        .and_then(|n| n.parse().ok())
}
