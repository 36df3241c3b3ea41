//! Unpacking tar archives, plain or compressed, recognised by their first bytes: gzip
//! (`1f 8b`), xz (`fd 37 7a 58 5a 00`), bzip2 (`BZh`), zstd (`28 b5 2f fd`), and zip archives
//! (`PK`; stored or deflated entries, times read as UTC), and Debian binary packages (`ar`
//! archives, `!<arch>\n`: their `data.tar.*` member, compressed in any of those ways). Entries are
//! unpacked by the `tar` crate, which refuses paths that climb out of the destination; the
//! archive's modes become 0644/0755 (everything readable and writable by the owner, so the
//! store can copy it; the store canonicalises anyway), and its times are only reported.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Unpacks the archive in `file` into the directory `dest` (created; must not exist),
/// returning the newest modification time among its entries.
pub fn unpack_archive(file: &Path, dest: &Path) -> Result<i64, String> {
    let mut f = File::open(file).map_err(|e| format!("opening '{}': {e}", file.display()))?;
    let mut magic = [0u8; 8];
    let n = read_up_to(&mut f, &mut magic).map_err(|e| e.to_string())?;
    let magic = &magic[..n];
    if magic.starts_with(b"PK\x03\x04") || magic.starts_with(b"PK\x05\x06") {
        std::fs::create_dir(dest).map_err(|e| format!("creating '{}': {e}", dest.display()))?;
        let newest = unpack_zip(file, dest)?;
        make_accessible(dest).map_err(|e| format!("fixing permissions: {e}"))?;
        return Ok(newest);
    }
    let reader: Box<dyn Read> = if magic == b"!<arch>\n" {
        // A Debian binary package: its files are the `data.tar.*` member.
        let (offset, size) = deb_data_member(file)?;
        let mut f = File::open(file).map_err(|e| format!("opening '{}': {e}", file.display()))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| format!("reading '{}': {e}", file.display()))?;
        let mut member = BufReader::new(f.take(size));
        let mut inner = [0u8; 6];
        let k = read_up_to(&mut member, &mut inner).map_err(|e| e.to_string())?;
        let head = io::Cursor::new(inner[..k].to_vec());
        decompressor(&inner[..k], Box::new(head.chain(member)))?
    } else {
        let f = File::open(file).map_err(|e| format!("opening '{}': {e}", file.display()))?;
        decompressor(magic, Box::new(BufReader::new(f)))?
    };
    std::fs::create_dir(dest).map_err(|e| format!("creating '{}': {e}", dest.display()))?;
    let newest = unpack_tar(reader, dest)?;
    make_accessible(dest).map_err(|e| format!("fixing permissions: {e}"))?;
    Ok(newest)
}

/// The reader of the tar stream inside `r`, whose first bytes are `magic`.
fn decompressor(magic: &[u8], r: Box<dyn Read>) -> Result<Box<dyn Read>, String> {
    Ok(if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(r))
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(xz2::read::XzDecoder::new_multi_decoder(r))
    } else if magic.starts_with(b"BZh") {
        Box::new(bzip2::read::MultiBzDecoder::new(r))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::new(r).map_err(|e| e.to_string())?)
    } else {
        r
    })
}

/// The offset and size of the `data.tar*` member of the `ar` archive `file` (the common
/// format: `!<arch>\n`, then per member a 60-byte header (name 16 bytes, size in decimal at
/// 48..58, `` `\n `` at 58..60) and its data, padded to an even length).
fn deb_data_member(file: &Path) -> Result<(u64, u64), String> {
    let bad = |what: &str| format!("'{}' is not a Debian package: {what}", file.display());
    let mut f =
        BufReader::new(File::open(file).map_err(|e| format!("opening '{}': {e}", file.display()))?);
    let mut offset = 8u64;
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| format!("reading '{}': {e}", file.display()))?;
    loop {
        let mut header = [0u8; 60];
        let n = read_up_to(&mut f, &mut header).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(bad("the ar archive has no data.tar member"));
        }
        if n < 60 || &header[58..60] != b"`\n" {
            return Err(bad(&format!("bad ar member header at byte {offset}")));
        }
        let name = String::from_utf8_lossy(&header[..16]);
        let name = name.trim_end().trim_end_matches('/');
        let size: u64 = std::str::from_utf8(&header[48..58])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| bad(&format!("bad ar member size at byte {}", offset + 48)))?;
        if name.starts_with("data.tar") {
            return Ok((offset + 60, size));
        }
        let skip = size + (size & 1);
        offset += 60 + skip;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| format!("reading '{}': {e}", file.display()))?;
    }
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
    use std::io::Write;

    /// An `ar` archive of `members` (name, bytes), as `dpkg-deb` writes a package.
    fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = b"!<arch>\n".to_vec();
        for (name, data) in members {
            let header = format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                name,
                0,
                0,
                0,
                "100644",
                data.len()
            );
            assert_eq!(header.len(), 60);
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    fn gz_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o755);
            h.set_mtime(7);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn a_debian_package_unpacks_its_data_member() {
        let dir = tempfile::tempdir().unwrap();
        let deb = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar.gz", &gz_tar(&[("./control", b"Package: x\n")])),
            ("data.tar.gz", &gz_tar(&[("./bin/tool", b"#!x\n")])),
        ]);
        let file = dir.path().join("x.deb");
        std::fs::File::create(&file)
            .unwrap()
            .write_all(&deb)
            .unwrap();
        let out = dir.path().join("out");
        assert_eq!(super::unpack_archive(&file, &out).unwrap(), 7);
        assert_eq!(std::fs::read(out.join("bin/tool")).unwrap(), b"#!x\n");
        assert!(!out.join("control").exists());

        let no_data = ar(&[("debian-binary", b"2.0\n")]);
        std::fs::write(&file, no_data).unwrap();
        let err = super::unpack_archive(&file, &dir.path().join("o2")).unwrap_err();
        assert!(err.contains("has no data.tar member"), "{err}");
        let mut broken = ar(&[("debian-binary", b"2.0\n")]);
        broken[8 + 58] = b'x';
        std::fs::write(&file, broken).unwrap();
        let err = super::unpack_archive(&file, &dir.path().join("o3")).unwrap_err();
        assert!(err.contains("bad ar member header at byte 8"), "{err}");
    }

    #[test]
    fn unix_times() {
        assert_eq!(super::unix_time(1970, 1, 1, 0), 0);
        assert_eq!(super::unix_time(2020, 1, 2, 0), 1_577_923_200);
        assert_eq!(super::unix_time(2000, 3, 1, 1), 951_868_801);
    }
}
