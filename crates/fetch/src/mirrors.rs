//! `mirror://NAME/PATH` URLs: a package set names a mirror, never a host, and the machine's
//! configuration (the `mirrors` setting, `NAME=URL` words) says where that mirror is.
//!
//! A mirror may have several base URLs; they are tried in order. Resolution happens when the
//! file is downloaded (by `builtins.fetchurl` and by `builtin:fetchurl`), so a derivation's
//! hash never depends on the host it is fetched from.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::download::{download, Downloaded};
use crate::FetchError;

/// Mirror names and their base URLs, in the order they are tried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mirrors {
    bases: BTreeMap<String, Vec<String>>,
}

impl Mirrors {
    /// No mirrors: every `mirror://` URL fails to resolve.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `NAME=URL` words (the `mirrors` setting), later words of one name tried after
    /// earlier ones. A word without `=`, an empty name or a URL that is not `http://`,
    /// `https://` or `file://` is an error naming it.
    pub fn parse<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut res = Mirrors::new();
        for word in words {
            let Some((name, url)) = word.split_once('=') else {
                return Err(format!("mirror '{word}' is not of the form NAME=URL"));
            };
            if name.is_empty() || name.contains('/') {
                return Err(format!("mirror '{word}' has no valid name before '='"));
            }
            if !["http://", "https://", "file://"]
                .iter()
                .any(|s| url.starts_with(s))
            {
                return Err(format!(
                    "mirror '{word}': the URL must start with http://, https:// or file://"
                ));
            }
            res.add(name, url);
        }
        Ok(res)
    }

    /// Adds `base` as the last URL tried for mirror `name`.
    pub fn add(&mut self, name: &str, base: &str) {
        self.bases
            .entry(name.to_owned())
            .or_default()
            .push(base.to_owned());
    }

    /// Whether mirror `name` has a base URL.
    pub fn has(&self, name: &str) -> bool {
        self.bases.contains_key(name)
    }

    /// The base URLs of every mirror, as `NAME=URL` words (the setting's syntax).
    pub fn words(&self) -> Vec<String> {
        self.bases
            .iter()
            .flat_map(|(n, urls)| urls.iter().map(move |u| format!("{n}={u}")))
            .collect()
    }

    /// The URLs to try for `url`: itself unless it is `mirror://NAME/PATH`, else `PATH` under
    /// each base URL of `NAME`. An unknown mirror is an error saying how to configure it.
    pub fn resolve(&self, url: &str) -> Result<Vec<String>, FetchError> {
        let Some(rest) = url.strip_prefix("mirror://") else {
            return Ok(vec![url.to_owned()]);
        };
        let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
        let bases = self.bases.get(name).ok_or_else(|| FetchError::Download {
            url: url.to_owned(),
            reason: format!(
                "no mirror named '{name}' is configured (add 'mirrors = {name}=URL' to kiln.conf)"
            ),
        })?;
        Ok(bases
            .iter()
            .map(|b| format!("{}/{}", b.trim_end_matches('/'), path))
            .collect())
    }

    /// Downloads `url` (resolved through these mirrors) into `out`: each candidate in turn
    /// until one answers; a failure after bytes were written is final. The error of the last
    /// candidate names the original URL too when it was a mirror URL.
    pub fn download(
        &self,
        url: &str,
        etag: Option<&str>,
        out: &mut dyn Write,
    ) -> Result<Downloaded, FetchError> {
        let candidates = self.resolve(url)?;
        let mut last = None;
        for candidate in &candidates {
            let mut counting = Counting {
                inner: &mut *out,
                written: 0,
            };
            match download(candidate, etag, &mut counting) {
                Ok(d) => return Ok(d),
                Err(e) if counting.written == 0 => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        let err = last.expect("a mirror has at least one base URL");
        Err(match err {
            FetchError::Download { url: got, reason } if got != url => FetchError::Download {
                url: url.to_owned(),
                reason: format!("{reason} (from '{got}')"),
            },
            other => other,
        })
    }
}

/// Whether a download failed because the file is not there (HTTP 404 or 410, or a missing
/// `file://` file): for a pinned source, the sign that it vanished from the mirror.
pub fn is_not_found(err: &FetchError) -> bool {
    match err {
        FetchError::Download { reason, .. } => {
            reason.starts_with("HTTP error 404")
                || reason.starts_with("HTTP error 410")
                || reason.contains("No such file or directory")
        }
        _ => false,
    }
}

struct Counting<'w> {
    inner: &'w mut dyn Write,
    written: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_to_every_base_in_order() {
        let m =
            Mirrors::parse(["debian=http://a.example/debian/", "debian=file:///srv/d"]).unwrap();
        assert_eq!(
            m.resolve("mirror://debian/pool/main/x.deb").unwrap(),
            [
                "http://a.example/debian/pool/main/x.deb",
                "file:///srv/d/pool/main/x.deb"
            ]
        );
        assert_eq!(m.resolve("http://x/y").unwrap(), ["http://x/y"]);
        let err = m
            .resolve("mirror://gnu/hello.tar.gz")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no mirror named 'gnu'"), "{err}");
        assert!(err.contains("mirrors = gnu=URL"), "{err}");
        assert_eq!(
            m.words(),
            ["debian=http://a.example/debian/", "debian=file:///srv/d"]
        );
    }

    #[test]
    fn bad_words_are_errors() {
        for (word, says) in [
            ("debian", "NAME=URL"),
            ("=http://x", "no valid name"),
            ("d=ftp://x", "must start with"),
        ] {
            let err = Mirrors::parse([word]).unwrap_err();
            assert!(err.contains(says), "{word}: {err}");
        }
    }

    #[test]
    fn a_missing_base_falls_through_to_the_next() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/pool")).unwrap();
        std::fs::write(dir.path().join("b/pool/f"), b"hello").unwrap();
        let a = format!("m=file://{}/a", dir.path().display());
        let b = format!("m=file://{}/b", dir.path().display());
        let m = Mirrors::parse([a.as_str(), b.as_str()]).unwrap();
        let mut out = Vec::new();
        m.download("mirror://m/pool/f", None, &mut out).unwrap();
        assert_eq!(out, b"hello");
        let err = m
            .download("mirror://m/pool/gone", None, &mut Vec::new())
            .unwrap_err();
        assert!(is_not_found(&err), "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with("unable to download 'mirror://m/pool/gone'"),
            "{text}"
        );
    }
}
