//! Copying a tree into the store in one pass: each file is read once, written to its new place
//! in canonical form, and serialised as NAR into a sink that hashes, counts and scans.

use std::ffi::OsString;
use std::fs::{self, File, FileTimes, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use kiln_formats::hash::{Hash, HashAlgo, Hasher, ThreadedHasher};
use kiln_formats::nar::{NarError, NarWriter};

use crate::canon::{canonical_mode, set_canonical_mtime, CANONICAL_MTIME};
use crate::{RefScanner, StoreError};

/// Where a NAR goes while it streams by: its SHA-256, its size, optionally a second hash (for
/// recursive content addresses with another algorithm) and a reference scan.
pub(crate) struct NarSink {
    /// SHA-256 of the NAR, on a second thread for large inputs (the dominant cost of an add).
    sha256: ThreadedHasher,
    extra: Option<Hasher>,
    size: u64,
    scanner: Option<RefScanner>,
}

/// What a [`NarSink`] saw.
pub(crate) struct NarSummary {
    pub(crate) nar_hash: Hash,
    pub(crate) nar_size: u64,
    pub(crate) extra: Option<Hash>,
    pub(crate) scanner: Option<RefScanner>,
}

impl NarSink {
    pub(crate) fn new(extra: Option<HashAlgo>, scanner: Option<RefScanner>) -> Self {
        NarSink {
            sha256: ThreadedHasher::new(HashAlgo::Sha256),
            extra: extra.map(Hasher::new),
            size: 0,
            scanner: scanner.filter(|s| !s.is_empty()),
        }
    }

    pub(crate) fn finish(self) -> NarSummary {
        NarSummary {
            nar_hash: self.sha256.finish(),
            nar_size: self.size,
            extra: self.extra.map(Hasher::finish),
            scanner: self.scanner,
        }
    }
}

impl Write for NarSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sha256.write_all(buf)?;
        if let Some(h) = &mut self.extra {
            h.update(buf);
        }
        if let Some(s) = &mut self.scanner {
            s.update(buf);
        }
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Returns which of `candidates` the tree at `path` refers to: whose hash parts occur in its
/// NAR serialisation.
pub fn scan_references(
    path: &Path,
    candidates: &std::collections::BTreeSet<kiln_formats::store_path::StorePath>,
) -> Result<std::collections::BTreeSet<kiln_formats::store_path::StorePath>, StoreError> {
    let mut sink = NarSink::new(None, Some(RefScanner::new(candidates)));
    kiln_formats::nar::dump(path, &mut sink).map_err(|source| StoreError::Nar {
        op: "scanning",
        path: path.to_owned(),
        source,
    })?;
    Ok(sink
        .finish()
        .scanner
        .map(RefScanner::into_found)
        .unwrap_or_default())
}

/// What [`summarise`] found in a tree: its NAR hash and size, a second hash of the NAR when
/// asked, and the candidate paths it refers to.
#[derive(Debug, Clone)]
pub struct TreeSummary {
    /// SHA-256 of the NAR serialisation.
    pub nar_hash: Hash,
    /// Size of the NAR serialisation.
    pub nar_size: u64,
    /// The NAR hashed with the extra algorithm, when one was asked for.
    pub extra: Option<Hash>,
    /// The candidates whose hash parts occur in the NAR.
    pub references: std::collections::BTreeSet<kiln_formats::store_path::StorePath>,
}

/// Serialises the tree at `path` once, hashing it (SHA-256, and `extra` when given) and
/// scanning it for `candidates`: what registering a builder's output needs.
pub fn summarise(
    path: &Path,
    extra: Option<HashAlgo>,
    candidates: &std::collections::BTreeSet<kiln_formats::store_path::StorePath>,
) -> Result<TreeSummary, StoreError> {
    let mut sink = NarSink::new(extra, Some(RefScanner::new(candidates)));
    kiln_formats::nar::dump(path, &mut sink).map_err(|source| StoreError::Nar {
        op: "hashing",
        path: path.to_owned(),
        source,
    })?;
    let s = sink.finish();
    Ok(TreeSummary {
        nar_hash: s.nar_hash,
        nar_size: s.nar_size,
        extra: s.extra,
        references: s.scanner.map(RefScanner::into_found).unwrap_or_default(),
    })
}

/// Reads a source file and writes what it read to the copy (and to a flat hasher).
struct Tee<'a> {
    src: File,
    dst: &'a mut File,
    dst_path: &'a Path,
    flat: Option<&'a mut Hasher>,
    /// A failure writing the copy, reported instead of the read error it turns into.
    write_error: Option<io::Error>,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.src.read(buf)?;
        if let Err(e) = self.dst.write_all(&buf[..n]) {
            let res = io::Error::new(e.kind(), "writing the copy failed");
            self.write_error = Some(e);
            return Err(res);
        }
        if let Some(h) = &mut self.flat {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Copies the object at `src` to `dst` (which must not exist) in canonical form, writing its
/// NAR to `nar`. When `flat` is given, `src` must be a regular file, whose contents it hashes.
pub(crate) fn copy_tree(
    src: &Path,
    dst: &Path,
    nar: &mut impl Write,
    flat: Option<&mut Hasher>,
) -> Result<(), StoreError> {
    struct Dir {
        names: Vec<OsString>,
        next: usize,
    }
    let nar_err = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Nar {
            op: "adding",
            path,
            source,
        }
    };
    let mut w = NarWriter::new(nar);
    let mut stack: Vec<Dir> = Vec::new();
    let mut s = src.to_path_buf();
    let mut d = dst.to_path_buf();
    if flat.is_some() {
        let meta = fs::symlink_metadata(src).map_err(StoreError::io("getting status of", src))?;
        if !meta.is_file() {
            return Err(StoreError::NotRegularFile(src.to_owned()));
        }
    }
    // A directory root is pushed by copy_node; its entries follow.
    copy_node(&mut w, &s, &d, &mut stack, flat)?;
    while let Some(dir) = stack.last_mut() {
        if dir.next == dir.names.len() {
            stack.pop();
            w.end_directory().map_err(nar_err(&s))?;
            finish_dir(&d)?;
            s.pop();
            d.pop();
            continue;
        }
        let name = dir.names[dir.next].clone();
        dir.next += 1;
        w.entry(name.as_bytes()).map_err(nar_err(&s))?;
        s.push(&name);
        d.push(&name);
        if !copy_node(&mut w, &s, &d, &mut stack, None)? {
            s.pop();
            d.pop();
        }
    }
    w.finish().map_err(nar_err(src))?;
    return Ok(());

    /// Copies one node; a directory is created and pushed (returns true), its entries to come.
    fn copy_node(
        w: &mut NarWriter<impl Write>,
        s: &Path,
        d: &Path,
        stack: &mut Vec<Dir>,
        flat: Option<&mut Hasher>,
    ) -> Result<bool, StoreError> {
        let meta = fs::symlink_metadata(s).map_err(StoreError::io("getting status of", s))?;
        let ft = meta.file_type();
        if ft.is_file() {
            let src = File::open(s).map_err(StoreError::io("opening", s))?;
            let meta = src
                .metadata()
                .map_err(StoreError::io("getting status of", s))?;
            let executable = meta.permissions().mode() & 0o100 != 0;
            let mut dst = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(d)
                .map_err(StoreError::io("creating", d))?;
            let mut tee = Tee {
                src,
                dst: &mut dst,
                dst_path: d,
                flat,
                write_error: None,
            };
            let res = w.regular(executable, meta.len(), &mut tee);
            if let Some(source) = tee.write_error.take() {
                return Err(StoreError::io("writing", tee.dst_path)(source));
            }
            res.map_err(|source| match source {
                NarError::ReadContents { source } => StoreError::io("reading", s)(source),
                source => StoreError::Nar {
                    op: "adding",
                    path: s.to_owned(),
                    source,
                },
            })?;
            dst.set_permissions(fs::Permissions::from_mode(canonical_mode(
                false,
                meta.permissions().mode(),
            )))
            .map_err(StoreError::io("changing the permissions of", d))?;
            dst.set_times(
                FileTimes::new()
                    .set_modified(UNIX_EPOCH + Duration::from_secs(CANONICAL_MTIME as u64)),
            )
            .map_err(StoreError::io("setting the modification time of", d))?;
            return Ok(false);
        }
        if ft.is_symlink() {
            let target = fs::read_link(s).map_err(StoreError::io("reading symlink", s))?;
            w.symlink(target.as_os_str().as_bytes())
                .map_err(|source| StoreError::Nar {
                    op: "adding",
                    path: s.to_owned(),
                    source,
                })?;
            std::os::unix::fs::symlink(&target, d)
                .map_err(StoreError::io("creating symlink", d))?;
            set_canonical_mtime(d)?;
            return Ok(false);
        }
        if ft.is_dir() {
            let mut names = Vec::new();
            for entry in fs::read_dir(s).map_err(StoreError::io("reading directory", s))? {
                names.push(
                    entry
                        .map_err(StoreError::io("reading directory", s))?
                        .file_name(),
                );
            }
            names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            w.start_directory().map_err(|source| StoreError::Nar {
                op: "adding",
                path: s.to_owned(),
                source,
            })?;
            fs::create_dir(d).map_err(StoreError::io("creating directory", d))?;
            stack.push(Dir { names, next: 0 });
            return Ok(true);
        }
        let kind = if ft.is_fifo() {
            "fifo"
        } else if ft.is_socket() {
            "socket"
        } else {
            "device"
        };
        Err(StoreError::UnsupportedType {
            path: s.to_owned(),
            kind,
        })
    }
}

/// Makes a completed directory read-only with the canonical modification time.
fn finish_dir(d: &PathBuf) -> Result<(), StoreError> {
    fs::set_permissions(d, fs::Permissions::from_mode(0o555))
        .map_err(StoreError::io("changing the permissions of", d))?;
    set_canonical_mtime(d)
}
