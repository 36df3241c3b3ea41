//! Flake references: the URL forms of the Nix manual's "flake references" section (`path:`,
//! `git+file:`/`git+https:`…, tarball URLs, `github:owner/repo[/ref]`) and their attribute form
//! (`{ type = "path"; path = …; }`), which is what `flake.lock` keeps as `original` and
//! `locked`.

use serde_json::{Map, Value};

use crate::FlakeError;

/// The attributes of a reference, as `flake.lock` stores them.
pub type RefAttrs = Map<String, Value>;

/// Where a flake (or a plain source) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlakeRef {
    /// A directory of the file system (`path:/abs`, `path:./rel`).
    Path {
        /// The path as written: absolute, or relative to the flake that names it.
        path: String,
    },
    /// A Git repository (`git+file:///repo`, `git+https://host/repo?ref=main&rev=…`).
    Git {
        /// The repository URL without the `git+` prefix.
        url: String,
        /// `ref`: a branch or tag name, or a full `refs/…` name.
        git_ref: Option<String>,
        /// `rev`: a commit.
        rev: Option<String>,
    },
    /// An archive by URL (`https://…/x.tar.gz`, `file:///…/x.tar.gz`, `tarball+https://…`).
    Tarball {
        /// The URL.
        url: String,
    },
    /// A GitHub repository, fetched through its archive URL
    /// (`https://github.com/OWNER/REPO/archive/REV.tar.gz`).
    GitHub {
        /// The owner.
        owner: String,
        /// The repository.
        repo: String,
        /// A branch or tag.
        git_ref: Option<String>,
        /// A commit.
        rev: Option<String>,
    },
}

const ARCHIVE_SUFFIXES: &[&str] = &[
    ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tar.zst", ".tar", ".zip",
];

fn bad(url: &str, why: &str) -> FlakeError {
    FlakeError::BadRef {
        url: url.to_owned(),
        reason: why.to_owned(),
    }
}

/// Whether `s` is 40 hexadecimal digits (a Git commit).
pub fn is_rev(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `%XX` escapes decoded.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Escapes what Nix escapes in a query value.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Splits `url` into its part before `?` and its query parameters.
type Query = Vec<(String, String)>;

fn split_query(url: &str) -> Result<(&str, Query), FlakeError> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut params = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| bad(url, &format!("query parameter '{part}' has no value")))?;
        params.push((percent_decode(k), percent_decode(v)));
    }
    Ok((base, params))
}

impl FlakeRef {
    /// Parses a flake reference URL (without a `#fragment`).
    pub fn parse(url: &str) -> Result<FlakeRef, FlakeError> {
        if url.contains('#') {
            return Err(bad(url, "a flake reference has no '#' part here"));
        }
        let (base, params) = split_query(url)?;
        let mut git_ref = None;
        let mut rev = None;
        for (k, v) in params {
            match k.as_str() {
                "ref" => git_ref = Some(v),
                "rev" if is_rev(&v) => rev = Some(v),
                "rev" => return Err(bad(url, &format!("'{v}' is not a commit hash"))),
                // What a locked URL carries; the lock file has them as attributes.
                "narHash" | "lastModified" | "revCount" => {}
                "dir" => {
                    return Err(bad(
                        url,
                        "flakes in a subdirectory ('dir') are not supported",
                    ))
                }
                _ => return Err(bad(url, &format!("unsupported query parameter '{k}'"))),
            }
        }
        if let Some(path) = base.strip_prefix("path:") {
            if path.is_empty() {
                return Err(bad(url, "the path is empty"));
            }
            return Ok(FlakeRef::Path {
                path: percent_decode(path),
            });
        }
        if base.starts_with('/')
            || base.starts_with("./")
            || base.starts_with("../")
            || base == "."
            || base == ".."
        {
            return Ok(FlakeRef::Path {
                path: base.to_owned(),
            });
        }
        if let Some(rest) = base.strip_prefix("git+") {
            if !["file://", "https://", "http://", "ssh://"]
                .iter()
                .any(|s| rest.starts_with(s))
            {
                return Err(bad(
                    url,
                    "a Git URL is git+file://, git+https://, git+http:// or git+ssh://",
                ));
            }
            return Ok(FlakeRef::Git {
                url: rest.to_owned(),
                git_ref,
                rev,
            });
        }
        if let Some(rest) = base.strip_prefix("github:") {
            let parts: Vec<&str> = rest.split('/').collect();
            let (owner, repo, path_ref) = match parts.as_slice() {
                [o, r] => (*o, *r, None),
                [o, r, x] => (*o, *r, Some(*x)),
                _ => {
                    return Err(bad(
                        url,
                        "a GitHub reference is github:OWNER/REPO[/REF-OR-REV]",
                    ))
                }
            };
            if owner.is_empty() || repo.is_empty() {
                return Err(bad(url, "the owner and the repository must not be empty"));
            }
            if let Some(x) = path_ref {
                if git_ref.is_some() || rev.is_some() {
                    return Err(bad(url, "a ref or rev is given twice"));
                }
                if is_rev(x) {
                    rev = Some(x.to_owned());
                } else {
                    git_ref = Some(x.to_owned());
                }
            }
            return Ok(FlakeRef::GitHub {
                owner: owner.to_owned(),
                repo: repo.to_owned(),
                git_ref,
                rev,
            });
        }
        let tarball = base.strip_prefix("tarball+").unwrap_or(base);
        if ["https://", "http://", "file://"]
            .iter()
            .any(|s| tarball.starts_with(s))
        {
            if base.starts_with("tarball+") || ARCHIVE_SUFFIXES.iter().any(|s| tarball.ends_with(s))
            {
                if git_ref.is_some() || rev.is_some() {
                    return Err(bad(url, "a tarball has no ref or rev"));
                }
                return Ok(FlakeRef::Tarball {
                    url: tarball.to_owned(),
                });
            }
            return Err(bad(
                url,
                "only archives (.tar.gz, .tar.xz, .zip, …) are supported as URL inputs",
            ));
        }
        Err(bad(
            url,
            "not a supported flake reference (path:, git+file:, git+https:, github:, or an archive URL; the flake registry is not supported)",
        ))
    }

    /// The reference from its attributes (`original` or `locked` in a lock file).
    pub fn from_attrs(attrs: &RefAttrs) -> Result<FlakeRef, FlakeError> {
        let s = |k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_owned);
        let what = serde_json::Value::Object(attrs.clone()).to_string();
        let need = |k: &str| s(k).ok_or_else(|| bad(&what, &format!("attribute '{k}' is missing")));
        if let Some(r) = attrs.get("rev") {
            if !r.as_str().is_some_and(is_rev) {
                return Err(bad(&what, "'rev' is not a commit hash"));
            }
        }
        match s("type").as_deref() {
            Some("path") => Ok(FlakeRef::Path {
                path: need("path")?,
            }),
            Some("git") => Ok(FlakeRef::Git {
                url: need("url")?,
                git_ref: s("ref"),
                rev: s("rev"),
            }),
            Some("tarball") => Ok(FlakeRef::Tarball { url: need("url")? }),
            Some("github") => Ok(FlakeRef::GitHub {
                owner: need("owner")?,
                repo: need("repo")?,
                git_ref: s("ref"),
                rev: s("rev"),
            }),
            Some(t) => Err(bad(&what, &format!("unsupported input type '{t}'"))),
            None => Err(bad(&what, "attribute 'type' is missing")),
        }
    }

    /// The attributes `flake.lock` keeps as `original`.
    pub fn to_attrs(&self) -> RefAttrs {
        let mut m = Map::new();
        let mut put = |k: &str, v: &str| {
            m.insert(k.to_owned(), Value::String(v.to_owned()));
        };
        match self {
            FlakeRef::Path { path } => {
                put("type", "path");
                put("path", path);
            }
            FlakeRef::Git { url, git_ref, rev } => {
                put("type", "git");
                put("url", url);
                if let Some(r) = git_ref {
                    put("ref", r);
                }
                if let Some(r) = rev {
                    put("rev", r);
                }
            }
            FlakeRef::Tarball { url } => {
                put("type", "tarball");
                put("url", url);
            }
            FlakeRef::GitHub {
                owner,
                repo,
                git_ref,
                rev,
            } => {
                put("type", "github");
                put("owner", owner);
                put("repo", repo);
                if let Some(r) = git_ref {
                    put("ref", r);
                }
                if let Some(r) = rev {
                    put("rev", r);
                }
            }
        }
        m
    }
}

/// The URL form of a reference's attributes, as Nix prints it (`path:/x?lastModified=…&narHash=…`).
pub fn attrs_to_url(attrs: &RefAttrs) -> String {
    let s = |k: &str| attrs.get(k).and_then(Value::as_str).unwrap_or("");
    let mut query: Vec<(String, String)> = Vec::new();
    // The attributes each type shows in its URL, as Nix prints a locked reference.
    let shown: &[&str] = match s("type") {
        "path" => &["lastModified", "narHash", "rev", "revCount"],
        "git" => &["ref", "rev", "dirtyRev"],
        "tarball" => &["narHash", "rev"],
        "github" => &["narHash"],
        _ => &[],
    };
    for (k, v) in attrs {
        if !shown.contains(&k.as_str()) {
            continue;
        }
        let v = match v {
            Value::String(s) => s.clone(),
            Value::Bool(b) => {
                if *b {
                    "1".into()
                } else {
                    "0".into()
                }
            }
            other => other.to_string(),
        };
        query.push((k.clone(), v));
    }
    query.sort();
    let base = match s("type") {
        "path" => format!("path:{}", s("path")),
        "git" => format!("git+{}", s("url")),
        "tarball" => s("url").to_owned(),
        "github" => {
            let mut b = format!("github:{}/{}", s("owner"), s("repo"));
            let r = if attrs.contains_key("rev") {
                s("rev")
            } else {
                s("ref")
            };
            if !r.is_empty() {
                b.push('/');
                b.push_str(r);
            }
            b
        }
        t => format!("{t}:"),
    };
    if query.is_empty() {
        return base;
    }
    let q: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    format!("{base}?{}", q.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_supported_form() {
        assert_eq!(
            FlakeRef::parse("path:/a/b").unwrap(),
            FlakeRef::Path {
                path: "/a/b".into()
            }
        );
        assert_eq!(
            FlakeRef::parse("git+file:///r?ref=main").unwrap(),
            FlakeRef::Git {
                url: "file:///r".into(),
                git_ref: Some("main".into()),
                rev: None
            }
        );
        assert_eq!(
            FlakeRef::parse("github:NixOS/nixpkgs/nixos-24.05").unwrap(),
            FlakeRef::GitHub {
                owner: "NixOS".into(),
                repo: "nixpkgs".into(),
                git_ref: Some("nixos-24.05".into()),
                rev: None
            }
        );
        let rev = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            FlakeRef::parse(&format!("github:o/r/{rev}")).unwrap(),
            FlakeRef::GitHub {
                owner: "o".into(),
                repo: "r".into(),
                git_ref: None,
                rev: Some(rev.into())
            }
        );
        assert_eq!(
            FlakeRef::parse("https://example.org/x.tar.gz").unwrap(),
            FlakeRef::Tarball {
                url: "https://example.org/x.tar.gz".into()
            }
        );
        assert_eq!(
            FlakeRef::parse("file:///x/y.zip").unwrap(),
            FlakeRef::Tarball {
                url: "file:///x/y.zip".into()
            }
        );
    }

    #[test]
    fn rejects_what_it_cannot_do_with_a_reason() {
        for bad in [
            "nixpkgs",
            "github:o",
            "github:/r",
            "git+ftp://x",
            "https://example.org/file.txt",
            "path:",
            "path:/x?dir=sub",
            "git+file:///r?rev=xyz",
            "path:/x?a",
        ] {
            let e = FlakeRef::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn a_rev_in_attributes_must_be_a_commit() {
        let a: RefAttrs =
            serde_json::from_str(r#"{"type":"github","owner":"o","repo":"r","rev":"éééééééé"}"#)
                .unwrap();
        assert!(FlakeRef::from_attrs(&a).is_err());
    }

    #[test]
    fn attrs_round_trip_and_urls_print_as_nix_prints_them() {
        for url in [
            "path:/a",
            "git+file:///r?ref=main",
            "github:o/r/main",
            "https://e.org/x.tar.gz",
        ] {
            let r = FlakeRef::parse(url).unwrap();
            assert_eq!(FlakeRef::from_attrs(&r.to_attrs()).unwrap(), r);
        }
        let locked: RefAttrs = serde_json::from_str(
            r#"{"lastModified":1,"narHash":"sha256-Cl4u/1w=","path":"/d","type":"path"}"#,
        )
        .unwrap();
        assert_eq!(
            attrs_to_url(&locked),
            "path:/d?lastModified=1&narHash=sha256-Cl4u/1w%3D"
        );
    }
}
