//! One binary cache, by URL.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use kiln_formats::cache_info::{CacheInfo, MAX_CACHE_INFO_LEN};
use kiln_formats::narinfo::{NarInfo, MAX_NARINFO_LEN};
use kiln_formats::store_path::StorePath;

use crate::transport::Transport;
use crate::{CacheError, Compression, OpenOptions};

/// The priority of a cache that states none (Nix's default).
const DEFAULT_PRIORITY: i32 = 50;

/// A binary cache: where its files are, its parameters and what its `nix-cache-info` says.
#[derive(Debug)]
pub struct BinaryCache {
    url: String,
    params: BTreeMap<String, String>,
    transport: Transport,
    info: CacheInfo,
    store_dir: String,
}

impl BinaryCache {
    /// Opens the cache at `url` (`file:///dir`, `http(s)://…`, optionally with `?name=value&…`
    /// parameters: `priority`, `compression`, `want-mass-query`) for paths of `store_dir`.
    /// Reads `nix-cache-info`; a cache without one is refused, except a `file://` directory,
    /// which [`BinaryCache::init`] makes a cache.
    pub fn open(url: &str, store_dir: &str) -> Result<Self, CacheError> {
        Self::open_with(url, store_dir, &OpenOptions::default())
    }

    /// [`BinaryCache::open`] with a connection timeout and S3 credentials.
    pub fn open_with(url: &str, store_dir: &str, opts: &OpenOptions) -> Result<Self, CacheError> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let params = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect::<BTreeMap<String, String>>();
        let transport = Transport::new(base, &params, opts)?;
        let mut cache = BinaryCache {
            url: base.trim_end_matches('/').to_owned(),
            params,
            transport,
            info: CacheInfo::default(),
            store_dir: store_dir.to_owned(),
        };
        match cache
            .transport
            .get_text("nix-cache-info", MAX_CACHE_INFO_LEN)?
        {
            Some(text) => {
                cache.info = CacheInfo::parse(&text).map_err(|e| CacheError::Corrupt {
                    url: cache.transport.url_of("nix-cache-info"),
                    why: e.to_string(),
                })?;
                if let Some(theirs) = &cache.info.store_dir {
                    if theirs != store_dir {
                        return Err(CacheError::WrongStoreDir {
                            url: cache.url.clone(),
                            theirs: theirs.clone(),
                            ours: store_dir.to_owned(),
                        });
                    }
                }
            }
            // A directory or bucket becomes a cache with its first upload (`init`).
            None if matches!(cache.transport, Transport::File(_) | Transport::S3 { .. }) => {}
            None => return Err(CacheError::NotACache(cache.url.clone())),
        }
        Ok(cache)
    }

    /// Makes the cache ready for uploads: a `file://` directory is created with its
    /// `nix-cache-info` (`StoreDir` only, as Nix writes it) when it has none.
    pub fn init(&mut self, scratch: &Path) -> Result<(), CacheError> {
        if let Transport::File(dir) = &self.transport {
            std::fs::create_dir_all(dir.join("nar")).map_err(|source| CacheError::Io {
                what: "creating",
                path: dir.join("nar"),
                source,
            })?;
        }
        if !self.transport.exists("nix-cache-info")? {
            let info = CacheInfo {
                store_dir: Some(self.store_dir.clone()),
                ..CacheInfo::default()
            };
            self.transport
                .put_bytes("nix-cache-info", info.render().as_bytes(), scratch)?;
            self.info = info;
        }
        Ok(())
    }

    /// The cache's URL, without parameters.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The store directory of its paths.
    pub fn store_dir(&self) -> &str {
        &self.store_dir
    }

    /// Its priority: the `priority` parameter, else `nix-cache-info`'s, else 50. Lower is
    /// asked first.
    pub fn priority(&self) -> i32 {
        self.params
            .get("priority")
            .and_then(|p| p.parse().ok())
            .or(self.info.priority)
            .unwrap_or(DEFAULT_PRIORITY)
    }

    /// The compression uploads use: the `compression` parameter, else xz.
    pub fn upload_compression(&self) -> Result<Compression, CacheError> {
        match self.params.get("compression") {
            None => Ok(Compression::Xz),
            Some(c) => Compression::parse(c).ok_or_else(|| CacheError::BadUrl {
                url: self.url.clone(),
                why: format!("unknown compression '{c}' (xz, zstd, bzip2 or none)"),
            }),
        }
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The name of `path`'s narinfo in the cache.
    pub(crate) fn narinfo_name(path: &StorePath) -> String {
        format!("{}.narinfo", path.hash_part())
    }

    /// Whether the cache has `path` (its narinfo exists).
    pub fn has(&self, path: &StorePath) -> Result<bool, CacheError> {
        self.transport.exists(&Self::narinfo_name(path))
    }

    /// Whether the cache is a local directory (`file://`).
    pub fn is_local(&self) -> bool {
        matches!(self.transport, Transport::File(_))
    }

    /// What the cache says about `path`, or `None` when it does not have it.
    pub fn narinfo(&self, path: &StorePath) -> Result<Option<NarInfo>, CacheError> {
        match self.narinfo_text(path)? {
            Some(text) => self.parse_narinfo(path, &text).map(Some),
            None => Ok(None),
        }
    }

    /// The text of `path`'s narinfo, or `None` when the cache does not have it.
    pub(crate) fn narinfo_text(&self, path: &StorePath) -> Result<Option<String>, CacheError> {
        self.transport
            .get_text(&Self::narinfo_name(path), MAX_NARINFO_LEN)
    }

    /// Parses the narinfo `text` the cache gave for `path`.
    pub(crate) fn parse_narinfo(
        &self,
        path: &StorePath,
        text: &str,
    ) -> Result<NarInfo, CacheError> {
        let name = Self::narinfo_name(path);
        let corrupt = |why: String| CacheError::Corrupt {
            url: self.transport.url_of(&name),
            why,
        };
        let info = NarInfo::parse(&self.store_dir, text).map_err(|e| corrupt(e.to_string()))?;
        if &info.path != path {
            return Err(corrupt(format!(
                "it describes '{}'",
                info.path.to_absolute(&self.store_dir)
            )));
        }
        Ok(info)
    }

    /// The NAR `info` describes, decompressed as it is read.
    pub fn nar(&self, info: &NarInfo) -> Result<Box<dyn Read + Send>, CacheError> {
        let compression =
            Compression::parse(&info.compression).ok_or_else(|| CacheError::Corrupt {
                url: self.transport.url_of(&Self::narinfo_name(&info.path)),
                why: format!("unknown compression '{}'", info.compression),
            })?;
        if info.url.contains("..") || info.url.starts_with('/') {
            return Err(CacheError::Corrupt {
                url: self.transport.url_of(&Self::narinfo_name(&info.path)),
                why: format!("NAR URL '{}' leaves the cache", info.url),
            });
        }
        let raw = self
            .transport
            .get(&info.url)?
            .ok_or_else(|| CacheError::Corrupt {
                url: self.transport.url_of(&info.url),
                why: "the NAR its narinfo names is missing".to_owned(),
            })?;
        compression.decoder(raw).map_err(|e| CacheError::Transfer {
            url: self.transport.url_of(&info.url),
            why: e.to_string(),
        })
    }
}
