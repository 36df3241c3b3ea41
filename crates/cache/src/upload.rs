//! Uploading store objects to a cache (`kiln copy --to`, `nix copy --to`).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use kiln_formats::hash::{HashAlgo, Hasher};
use kiln_formats::narinfo::NarInfo;
use kiln_formats::signing::SecretKey;
use kiln_formats::store_path::StorePath;
use kiln_store::{topo_sort, LocalStore, Store, StoreError};

use crate::transport::temp_name;
use crate::{BinaryCache, CacheError, Compression};

/// How to upload.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// The NARs' compression.
    pub compression: Compression,
    /// Keys each narinfo is signed with (`secret-key-files`), beside the signatures the store
    /// already has for the path.
    pub secret_keys: Vec<SecretKey>,
    /// Where an HTTP upload's NAR is compressed before it is sent.
    pub scratch_dir: PathBuf,
}

/// What an upload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uploaded {
    /// The paths uploaded, references first.
    pub copied: Vec<StorePath>,
    /// How many paths of the closure the cache already had.
    pub present: usize,
    /// The NAR bytes uploaded, uncompressed.
    pub nar_bytes: u64,
    /// The bytes of the compressed files.
    pub file_bytes: u64,
}

/// What an upload tells as it goes.
#[derive(Debug, Clone, Copy)]
pub enum CopyEvent<'a> {
    /// The closure is known: `to_copy` of its paths are missing from the cache.
    Planned {
        /// How many paths will be uploaded.
        to_copy: usize,
        /// Their NAR size in all.
        nar_bytes: u64,
    },
    /// A path's upload begins.
    Copying(&'a StorePath),
}

/// A writer that hashes and counts what goes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Deletes a temporary file unless it was moved into place.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Uploads the closure of `paths` from `store` to `cache`: every path the cache lacks,
/// references before referrers, each NAR before its narinfo, so that whatever moment an upload
/// stops at, every narinfo in the cache names a NAR that is there and references the cache has.
pub fn copy_to(
    store: &LocalStore,
    cache: &mut BinaryCache,
    paths: &BTreeSet<StorePath>,
    opts: &UploadOptions,
    observe: &mut dyn FnMut(CopyEvent<'_>),
) -> Result<Uploaded, CacheError> {
    cache.init(&opts.scratch_dir)?;
    let closure = store.closure(paths)?;
    // `topo_sort` puts referrers first; an upload wants references first.
    let mut order = topo_sort(store, &closure)?;
    order.reverse();
    let mut res = Uploaded::default();
    let mut todo = Vec::new();
    let mut planned_bytes = 0;
    for path in order {
        if cache.has(&path)? {
            res.present += 1;
        } else {
            let info = store
                .query_path_info(&path)?
                .ok_or_else(|| StoreError::NotValid(path.to_absolute(store.store_dir())))?;
            planned_bytes += info.nar_size;
            todo.push(info);
        }
    }
    observe(CopyEvent::Planned {
        to_copy: todo.len(),
        nar_bytes: planned_bytes,
    });
    let store_dir = store.store_dir().to_owned();
    for info in todo {
        observe(CopyEvent::Copying(&info.path));
        let scratch = cache.transport().scratch_dir(&opts.scratch_dir);
        let tmp = TempFile(Some(temp_name(&scratch, "upload.nar")));
        let tmp_path = tmp.0.clone().unwrap();
        let io_err = |source| CacheError::Io {
            what: "writing",
            path: tmp_path.clone(),
            source,
        };
        let file = File::create(&tmp_path).map_err(io_err)?;
        let file_tee = HashingWriter {
            inner: BufWriter::with_capacity(256 * 1024, file),
            hasher: Hasher::new(HashAlgo::Sha256),
            count: 0,
        };
        let mut nar_tee = HashingWriter {
            inner: opts.compression.encoder(file_tee).map_err(io_err)?,
            hasher: Hasher::new(HashAlgo::Sha256),
            count: 0,
        };
        store.dump_path(&info.path, &mut nar_tee)?;
        let nar_hash = nar_tee.hasher.finish();
        let nar_size = nar_tee.count;
        let mut file_tee = nar_tee.inner.finish().map_err(io_err)?;
        file_tee.flush().map_err(io_err)?;
        let HashingWriter {
            inner,
            hasher,
            count: file_size,
        } = file_tee;
        drop(inner);
        let file_hash = hasher.finish();
        if nar_hash != info.nar_hash || nar_size != info.nar_size {
            return Err(StoreError::HashMismatch {
                path: info.path.to_absolute(&store_dir),
                expected: info.nar_hash.to_string(),
                actual: nar_hash.to_string(),
                expected_size: info.nar_size,
                actual_size: nar_size,
            }
            .into());
        }
        let url = format!(
            "nar/{}.nar{}",
            file_hash.to_nix32(),
            opts.compression.extension()
        );
        // The same bytes have the same name: a NAR already there is not sent again.
        if !cache.transport().exists(&url)? {
            cache.transport().put_file(&url, &tmp_path)?;
        }
        let mut narinfo = NarInfo {
            path: info.path.clone(),
            url,
            compression: opts.compression.name().to_owned(),
            file_hash: Some(file_hash),
            file_size: Some(file_size),
            nar_hash,
            nar_size,
            references: info.references.clone(),
            deriver: info.deriver.clone(),
            system: None,
            sigs: info.sigs.clone(),
            ca: info.ca,
        };
        for key in &opts.secret_keys {
            narinfo.sign(&store_dir, key);
        }
        cache.transport().put_bytes(
            &BinaryCache::narinfo_name(&info.path),
            narinfo.render(&store_dir).as_bytes(),
            &opts.scratch_dir,
        )?;
        res.nar_bytes += nar_size;
        res.file_bytes += file_size;
        res.copied.push(info.path);
    }
    Ok(res)
}

/// Reads a secret key file (`secret-key-files`, `--secret-key-file`).
pub fn read_secret_key(path: &Path) -> Result<SecretKey, CacheError> {
    let text = std::fs::read_to_string(path).map_err(|source| CacheError::Io {
        what: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    SecretKey::parse(text.trim()).map_err(|e| CacheError::Corrupt {
        url: path.display().to_string(),
        why: e.to_string(),
    })
}
