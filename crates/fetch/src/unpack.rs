//! Unpacking tar archives, plain or compressed, recognised by their first bytes: gzip
//! (`1f 8b`), xz (`fd 37 7a 58 5a 00`), bzip2 (`BZh`), zstd (`28 b5 2f fd`), and zip archives
//! (`PK`; stored or deflated entries, times read as UTC). Entries are
//! unpacked by the `tar` crate, which refuses paths that climb out of the destination; the
//! archive's modes become 0644/0755 (everything readable and writable by the owner, so the
//! store can copy it; the store canonicalises anyway), and its times are only reported.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// Unpacks the archive in `file` into the directory `dest` (created; must not exist),
/// returning the newest modification time among its entries.
pub fn unpack_archive(file: &Path, dest: &Path) -> Result<i64, String> {
    let mut f = File::open(file).map_err(|e| format!("opening '{}': {e}", file.display()))?;
    let mut magic = [0u8; 6];
    let n = read_up_to(&mut f, &mut magic).map_err(|e| e.to_string())?;
    let magic = &magic[..n];
    let f = File::open(file).map_err(|e| format!("opening '{}': {e}", file.display()))?;
    let f = BufReader::new(f);
    let reader: Box<dyn Read> = if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(xz2::read::XzDecoder::new_multi_decoder(f))
    } else if magic.starts_with(b"BZh") {
        Box::new(bzip2::read::MultiBzDecoder::new(f))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(f).map_err(|e| e.to_string())?)
    } else if magic.starts_with(b"PK\x03\x04") || magic.starts_with(b"PK\x05\x06") {
        std::fs::create_dir(dest).map_err(|e| format!("creating '{}': {e}", dest.display()))?;
        let newest = unpack_zip(file, dest)?;
        make_accessible(dest).map_err(|e| format!("fixing permissions: {e}"))?;
        return Ok(newest);
    } else {
        Box::new(f)
    };
    std::fs::create_dir(dest).map_err(|e| format!("creating '{}': {e}", dest.display()))?;
    let newest = unpack_tar(reader, dest)?;
    make_accessible(dest).map_err(|e| format!("fixing permissions: {e}"))?;
    Ok(newest)
}

fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn unpack_tar(reader: Box<dyn Read>, dest: &Path) -> Result<i64, String> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_mtime(false);
    archive.set_preserve_permissions(false);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    let mut newest = 0i64;
    let mut count = 0usize;
    let entries = archive
        .entries()
        .map_err(|e| format!("unrecognised archive format: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("reading the archive: {e}"))?;
        let header = entry.header();
        if let Ok(t) = header.mtime() {
            newest = newest.max(t as i64);
        }
        let kind = header.entry_type();
        let path = entry
            .path()
            .map_err(|e| format!("bad entry name: {e}"))?
            .into_owned();
        if kind.is_dir() {
            // Made here (the `tar` crate would apply the archive's mode at once, and a
            // read-only directory could not be filled).
            let mut rel = std::path::PathBuf::new();
            for c in path.components() {
                match c {
                    std::path::Component::Normal(part) => rel.push(part),
                    std::path::Component::ParentDir => {
                        return Err(format!("entry '{}' leaves the archive", path.display()))
                    }
                    _ => {}
                }
            }
            let target = dest.join(rel);
            std::fs::create_dir_all(&target)
                .map_err(|e| format!("creating '{}': {e}", target.display()))?;
        } else if kind.is_file() || kind.is_symlink() || kind.is_hard_link() {
            let ok = entry
                .unpack_in(dest)
                .map_err(|e| format!("unpacking '{}': {e}", path.display()))?;
            if !ok {
                return Err(format!("entry '{}' leaves the archive", path.display()));
            }
        } else if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        } else {
            return Err(format!(
                "entry '{}' has an unsupported type (devices and fifos cannot be in the store)",
                path.display()
            ));
        }
        count += 1;
    }
    if count == 0 {
        return Err("the archive is empty or not a tar archive".to_owned());
    }
    Ok(newest)
}

fn unpack_zip(file: &Path, dest: &Path) -> Result<i64, String> {
    use std::os::unix::fs::PermissionsExt;
    let f = File::open(file).map_err(|e| format!("opening '{}': {e}", file.display()))?;
    let mut archive =
        zip::ZipArchive::new(BufReader::new(f)).map_err(|e| format!("reading the zip: {e}"))?;
    let mut newest = 0i64;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("reading the zip: {e}"))?;
        let name = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("#{i}"));
        let Some(rel) = entry.enclosed_name() else {
            return Err(format!("entry '{name}' leaves the archive"));
        };
        if let Some(t) = entry.last_modified() {
            newest = newest.max(unix_time(
                i64::from(t.year()),
                i64::from(t.month()),
                i64::from(t.day()),
                i64::from(t.hour()) * 3600 + i64::from(t.minute()) * 60 + i64::from(t.second()),
            ));
        }
        let target = dest.join(&rel);
        let in_place = |e: io::Error| format!("unpacking '{name}': {e}");
        if entry.is_dir() {
            std::fs::create_dir_all(&target).map_err(in_place)?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(in_place)?;
        }
        if std::fs::symlink_metadata(&target).is_ok() {
            std::fs::remove_file(&target).map_err(in_place)?;
        }
        if entry.is_symlink() {
            let mut link = Vec::new();
            entry.read_to_end(&mut link).map_err(in_place)?;
            use std::os::unix::ffi::OsStringExt;
            let link = std::ffi::OsString::from_vec(link);
            std::os::unix::fs::symlink(link, &target).map_err(in_place)?;
        } else {
            let mut out = File::create(&target).map_err(in_place)?;
            io::copy(&mut entry, &mut out).map_err(in_place)?;
            let exec = entry.unix_mode().is_some_and(|m| m & 0o100 != 0);
            let mode = if exec { 0o755 } else { 0o644 };
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                .map_err(in_place)?;
        }
    }
    Ok(newest)
}

/// Seconds since the epoch of a UTC date and second of the day (proleptic Gregorian).
fn unix_time(year: i64, month: i64, day: i64, secs: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400 + secs
}

/// Makes every file 0644 or 0755 and every directory 0755, not following links.
fn make_accessible(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
        for entry in std::fs::read_dir(path)? {
            make_accessible(&entry?.path())?;
        }
    } else if meta.is_file() {
        let exec = meta.permissions().mode() & 0o100 != 0;
        let mode = if exec { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn unix_times() {
        assert_eq!(super::unix_time(1970, 1, 1, 0), 0);
        assert_eq!(super::unix_time(2020, 1, 2, 0), 1_577_923_200);
        assert_eq!(super::unix_time(2000, 3, 1, 1), 951_868_801);
    }
}
