//! Downloading a URL into a writer: `file://` from the file system, `http://` and `https://`
//! with `ureq` (rustls, the webpki root certificates; redirects followed; no transparent
//! decompression, so a `.tar.gz` arrives as the server sent it).

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use super::FetchError;

/// What a download learnt besides the bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Downloaded {
    /// The server answered 304: the copy matching the `ETag` sent is still current, and
    /// nothing was written.
    pub not_modified: bool,
    /// The response's `ETag`, to revalidate with later.
    pub etag: Option<String>,
}

fn failed(url: &str, reason: impl Into<String>) -> FetchError {
    FetchError::Download {
        url: url.to_owned(),
        reason: reason.into(),
    }
}

/// Streams `url` into `out`. With `etag`, asks an HTTP server for the body only if it changed.
pub fn download(
    url: &str,
    etag: Option<&str>,
    out: &mut dyn Write,
) -> Result<Downloaded, FetchError> {
    if let Some(rest) = url.strip_prefix("file://") {
        let path = file_url_path(rest).ok_or_else(|| failed(url, "malformed file:// URL"))?;
        let mut f = std::fs::File::open(&path)
            .map_err(|e| failed(url, format!("cannot open '{}': {e}", path.display())))?;
        copy(url, &mut f, out)?;
        return Ok(Downloaded::default());
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(failed(
            url,
            "unsupported URL scheme (only http, https and file are supported)",
        ));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        // Nix's stalled-download-timeout (300 s) for a server that never answers.
        .timeout_recv_response(Some(Duration::from_secs(300)))
        .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut req = agent.get(url);
    if let Some(tag) = etag {
        req = req.header("If-None-Match", tag);
    }
    let resp = req.call().map_err(|e| failed(url, describe(&e)))?;
    let status = resp.status();
    let new_etag = resp
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if status.as_u16() == 304 && etag.is_some() {
        return Ok(Downloaded {
            not_modified: true,
            etag: new_etag.or_else(|| etag.map(str::to_owned)),
        });
    }
    if !status.is_success() {
        return Err(failed(
            url,
            format!(
                "HTTP error {}{}",
                status.as_u16(),
                status
                    .canonical_reason()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        ));
    }
    let mut body = resp.into_body().into_reader();
    copy(url, &mut body, out)?;
    Ok(Downloaded {
        not_modified: false,
        etag: new_etag,
    })
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) if io.kind() == io::ErrorKind::ConnectionRefused => {
            "could not connect to the server: connection refused".to_owned()
        }
        ureq::Error::HostNotFound => "could not resolve the host name".to_owned(),
        other => other.to_string(),
    }
}

fn copy(url: &str, from: &mut dyn Read, to: &mut dyn Write) -> Result<u64, FetchError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(failed(url, format!("reading the response: {e}"))),
        };
        to.write_all(&buf[..n])
            .map_err(|e| failed(url, format!("writing the download: {e}")))?;
        total += n as u64;
    }
    Ok(total)
}

/// The path of a `file://` URL (after the scheme): an optional empty or `localhost` host,
/// then an absolute path with `%XX` escapes decoded.
fn file_url_path(rest: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(PathBuf::from(std::ffi::OsString::from_vec(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_decode() {
        assert_eq!(file_url_path("/a%20b"), Some(PathBuf::from("/a b")));
        assert_eq!(file_url_path("localhost/x"), Some(PathBuf::from("/x")));
        assert_eq!(file_url_path("/x?y=1"), Some(PathBuf::from("/x")));
        assert_eq!(file_url_path("host/x"), None);
        assert_eq!(file_url_path("/bad%zz"), None);
        assert_eq!(file_url_path("/end%2"), Some(PathBuf::from("/end%2")));
    }
}
