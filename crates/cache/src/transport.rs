//! Where a cache's files are: a directory (`file://`) or an HTTP server (`http://`,
//! `https://`). Reads stream; a missing file is `None`, not an error, since asking is how a
//! cache is queried. Writes are atomic on both: a file cache gets a temporary file renamed into
//! place, an HTTP cache one `PUT` per file (the body is complete or the request fails).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::BTreeMap;

use kiln_formats::hash::{HashAlgo, Hasher};

use crate::s3::{self, S3Credentials};
use crate::{CacheError, OpenOptions};

/// How a cache's files are reached.
#[derive(Debug)]
pub(crate) enum Transport {
    /// A directory of the local file system.
    File(PathBuf),
    /// An HTTP(S) server; `base` has no trailing slash.
    Http {
        /// The URL files are relative to.
        base: String,
        /// The client, with its timeouts.
        agent: ureq::Agent,
    },
    /// An S3 bucket, path-style.
    S3 {
        /// `SCHEME://ENDPOINT/BUCKET`.
        base: String,
        /// `ENDPOINT` as the `Host` header has it.
        host: String,
        /// `/BUCKET`.
        bucket_path: String,
        /// The region requests are signed for.
        region: String,
        /// `None` for unsigned requests.
        creds: Option<S3Credentials>,
        /// The client.
        agent: ureq::Agent,
    },
}

/// Decodes `%XX` escapes of a `file://` URL's path.
fn percent_decode(s: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(PathBuf::from(std::ffi::OsString::from_vec(out)))
}

fn agent(timeout: Duration, stall: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_per_read(Some(stall))
        .http_status_as_error(false)
        .timeout_connect(Some(timeout))
        // A server that takes the connection and never answers is down: the same limit for
        // the response's head (a NAR's body may then take as long as it takes).
        .timeout_recv_response(Some(timeout))
        .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

impl Transport {
    /// The transport for `url` (without its `?` parameters, which are `params`).
    pub(crate) fn new(
        url: &str,
        params: &BTreeMap<String, String>,
        opts: &OpenOptions,
    ) -> Result<Self, CacheError> {
        let timeout = opts.timeout;
        let bad = |why: &str| CacheError::BadUrl {
            url: url.to_owned(),
            why: why.to_owned(),
        };
        if let Some(bucket) = url.strip_prefix("s3://") {
            let bucket = bucket.trim_end_matches('/');
            if bucket.is_empty() || bucket.contains('/') {
                return Err(bad("an s3:// cache is s3://BUCKET"));
            }
            let region = params
                .get("region")
                .cloned()
                .unwrap_or_else(|| "us-east-1".to_owned());
            let endpoint = params
                .get("endpoint")
                .cloned()
                .unwrap_or_else(|| format!("s3.{region}.amazonaws.com"));
            // The endpoint is a host (`minio.example.com:9000`, with `scheme=http` beside
            // it, as Nix's S3 store documents it) or a URL (`http://127.0.0.1:9000`), as the
            // AWS SDK's endpoint override takes it.
            let (scheme, host) = match endpoint.split_once("://") {
                Some((scheme, host)) => (scheme.to_owned(), host.trim_end_matches('/').to_owned()),
                None => (
                    params
                        .get("scheme")
                        .cloned()
                        .unwrap_or_else(|| "https".to_owned()),
                    endpoint,
                ),
            };
            let scheme = scheme.as_str();
            if host.is_empty() || host.contains('/') {
                return Err(bad(
                    "the endpoint is a host[:port] or a scheme://host[:port] URL",
                ));
            }
            if scheme != "https" && scheme != "http" {
                return Err(bad("scheme must be http or https"));
            }
            return Ok(Transport::S3 {
                base: format!("{scheme}://{host}/{bucket}"),
                host,
                bucket_path: format!("/{bucket}"),
                region,
                creds: opts.s3_credentials.clone(),
                agent: agent(timeout, opts.stall_timeout),
            });
        }
        if let Some(rest) = url.strip_prefix("file://") {
            let rest = rest.strip_prefix("localhost").unwrap_or(rest);
            if !rest.starts_with('/') {
                return Err(bad("a file:// cache needs an absolute path"));
            }
            let path = percent_decode(rest).ok_or_else(|| bad("malformed %-escape"))?;
            return Ok(Transport::File(path));
        }
        if url.starts_with("http://") || url.starts_with("https://") {
            return Ok(Transport::Http {
                base: url.trim_end_matches('/').to_owned(),
                agent: agent(timeout, opts.stall_timeout),
            });
        }
        Err(bad(
            "unsupported scheme (binary caches are file://, http://, https:// or s3://)",
        ))
    }

    /// The signed headers of an S3 request for the object `rel`.
    fn s3_headers(&self, method: &str, rel: &str, payload_sha256: &str) -> Vec<(String, String)> {
        let Transport::S3 {
            host,
            bucket_path,
            region,
            creds,
            ..
        } = self
        else {
            return Vec::new();
        };
        let Some(creds) = creds else {
            return Vec::new();
        };
        let path = format!("{bucket_path}/{rel}");
        let date = s3::amz_date(std::time::SystemTime::now());
        s3::sign(
            &s3::Request {
                method,
                host,
                path: &path,
                extra_headers: &[],
                payload_sha256,
                date: &date,
                region,
            },
            creds,
        )
    }

    /// The URL of the object `rel` of an S3 bucket (its path encoded as it was signed).
    fn s3_url(base: &str, rel: &str) -> String {
        format!("{base}/{}", s3::uri_encode(rel, true))
    }

    fn http_error(url: &str, e: impl std::fmt::Display) -> CacheError {
        CacheError::Transfer {
            url: url.to_owned(),
            why: e.to_string(),
        }
    }

    /// Opens the file `rel`, or `None` when the cache has no such file.
    pub(crate) fn get(&self, rel: &str) -> Result<Option<Box<dyn Read + Send>>, CacheError> {
        match self {
            Transport::File(dir) => {
                let path = dir.join(rel);
                match File::open(&path) {
                    Ok(f) => Ok(Some(Box::new(f))),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(CacheError::Io {
                        what: "reading",
                        path,
                        source,
                    }),
                }
            }
            Transport::Http { base, agent } => {
                let url = format!("{base}/{rel}");
                let resp = agent
                    .get(&url)
                    .call()
                    .map_err(|e| Self::http_error(&url, e))?;
                match resp.status().as_u16() {
                    200..=299 => Ok(Some(Box::new(resp.into_body().into_reader()))),
                    // Nix treats 403 like 404: S3 answers 403 for a missing key without
                    // list permission.
                    404 | 403 => Ok(None),
                    code => Err(Self::http_error(&url, format!("HTTP error {code}"))),
                }
            }
            Transport::S3 { base, agent, .. } => {
                let url = Self::s3_url(base, rel);
                let mut req = agent.get(&url);
                for (k, v) in self.s3_headers("GET", rel, s3::EMPTY_SHA256) {
                    req = req.header(k, v);
                }
                let resp = req.call().map_err(|e| Self::http_error(&url, e))?;
                match resp.status().as_u16() {
                    200..=299 => Ok(Some(Box::new(resp.into_body().into_reader()))),
                    404 | 403 => Ok(None),
                    code => Err(Self::http_error(&url, format!("HTTP error {code}"))),
                }
            }
        }
    }

    /// Reads the file `rel` as text of at most `max` bytes, or `None` when it is missing.
    pub(crate) fn get_text(&self, rel: &str, max: usize) -> Result<Option<String>, CacheError> {
        let Some(r) = self.get(rel)? else {
            return Ok(None);
        };
        let mut buf = Vec::new();
        r.take(max as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Self::http_error(&self.url_of(rel), e))?;
        String::from_utf8(buf)
            .map(Some)
            .map_err(|_| CacheError::Corrupt {
                url: self.url_of(rel),
                why: "not UTF-8 text".to_owned(),
            })
    }

    /// Whether the file `rel` exists.
    pub(crate) fn exists(&self, rel: &str) -> Result<bool, CacheError> {
        match self {
            Transport::File(dir) => Ok(dir.join(rel).exists()),
            Transport::Http { base, agent } => {
                let url = format!("{base}/{rel}");
                let resp = agent
                    .head(&url)
                    .call()
                    .map_err(|e| Self::http_error(&url, e))?;
                Ok(resp.status().is_success())
            }
            Transport::S3 { base, agent, .. } => {
                let url = Self::s3_url(base, rel);
                let mut req = agent.head(&url);
                for (k, v) in self.s3_headers("HEAD", rel, s3::EMPTY_SHA256) {
                    req = req.header(k, v);
                }
                let resp = req.call().map_err(|e| Self::http_error(&url, e))?;
                Ok(resp.status().is_success())
            }
        }
    }

    /// The URL (or path) of `rel`, for messages.
    pub(crate) fn url_of(&self, rel: &str) -> String {
        match self {
            Transport::File(dir) => dir.join(rel).display().to_string(),
            Transport::Http { base, .. } | Transport::S3 { base, .. } => format!("{base}/{rel}"),
        }
    }

    /// A directory for the temporary files of an upload: inside a file cache (so the final
    /// rename stays on one file system), else the given fallback.
    pub(crate) fn scratch_dir(&self, fallback: &Path) -> PathBuf {
        match self {
            Transport::File(dir) => dir.clone(),
            Transport::Http { .. } | Transport::S3 { .. } => fallback.to_path_buf(),
        }
    }

    /// Makes the finished temporary file `tmp` the cache's file `rel`.
    pub(crate) fn put_file(&self, rel: &str, tmp: &Path) -> Result<(), CacheError> {
        match self {
            Transport::File(dir) => {
                let target = dir.join(rel);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|source| CacheError::Io {
                        what: "creating",
                        path: parent.to_path_buf(),
                        source,
                    })?;
                }
                File::open(tmp)
                    .and_then(|f| f.sync_all())
                    .and_then(|()| std::fs::rename(tmp, &target))
                    .map_err(|source| CacheError::Io {
                        what: "writing",
                        path: target,
                        source,
                    })
            }
            Transport::Http { base, agent } => {
                let url = format!("{base}/{rel}");
                let f = File::open(tmp).map_err(|source| CacheError::Io {
                    what: "reading",
                    path: tmp.to_path_buf(),
                    source,
                })?;
                let resp = agent
                    .put(&url)
                    .send(ureq::SendBody::from_reader(&mut io::BufReader::new(f)))
                    .map_err(|e| Self::http_error(&url, e))?;
                if !resp.status().is_success() {
                    return Err(Self::http_error(
                        &url,
                        format!("HTTP error {} on upload", resp.status().as_u16()),
                    ));
                }
                let _ = std::fs::remove_file(tmp);
                Ok(())
            }
            Transport::S3 { base, agent, .. } => {
                let url = Self::s3_url(base, rel);
                let read_err = |source| CacheError::Io {
                    what: "reading",
                    path: tmp.to_path_buf(),
                    source,
                };
                // The payload's hash is part of the signature: read the file once for it.
                let mut hasher = Hasher::new(HashAlgo::Sha256);
                io::copy(&mut File::open(tmp).map_err(read_err)?, &mut hasher).map_err(read_err)?;
                let sha = hasher.finish().to_base16();
                let mut req = agent.put(&url);
                for (k, v) in self.s3_headers("PUT", rel, &sha) {
                    req = req.header(k, v);
                }
                let f = File::open(tmp).map_err(read_err)?;
                let resp = req
                    .send(ureq::SendBody::from_reader(&mut io::BufReader::new(f)))
                    .map_err(|e| Self::http_error(&url, e))?;
                if !resp.status().is_success() {
                    return Err(Self::http_error(
                        &url,
                        format!("HTTP error {} on upload", resp.status().as_u16()),
                    ));
                }
                let _ = std::fs::remove_file(tmp);
                Ok(())
            }
        }
    }

    /// Writes `data` as the cache's file `rel`, atomically.
    pub(crate) fn put_bytes(
        &self,
        rel: &str,
        data: &[u8],
        scratch: &Path,
    ) -> Result<(), CacheError> {
        let tmp = temp_name(&self.scratch_dir(scratch), rel);
        std::fs::write(&tmp, data).map_err(|source| CacheError::Io {
            what: "writing",
            path: tmp.clone(),
            source,
        })?;
        let res = self.put_file(rel, &tmp);
        if res.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        res
    }
}

/// A fresh temporary file name in `dir` for the cache file `rel` (hidden, so listings and
/// half-written files never look like cache entries).
pub(crate) fn temp_name(dir: &Path, rel: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let base = rel.rsplit('/').next().unwrap_or(rel);
    dir.join(format!(
        ".tmp-{}-{}-{base}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}
