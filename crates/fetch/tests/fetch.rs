//! The fetchers against a temporary store: downloads over loopback HTTP and `file://`, the
//! cache (`tarball-ttl`, ETags, locked fetches), hash mismatches, archive formats, and local
//! Git repositories (clean, dirty, `rev`, `ref`). Store paths are checked against the path
//! computed from the expected contents; `crates/cli/tests/cli/fetch.rs` compares them with
//! the reference Nix.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kiln_fetch::{fetch, FetchError, FetchRequest, FetchSettings, Fetched, HashMismatch};
use kiln_formats::hash::{Hash, HashAlgo};
use kiln_formats::nar;
use kiln_formats::store_path::{make_fixed_output_path, FileIngestionMethod};
use kiln_store::{LocalStore, StoreLocation};

/// A store and a fetch cache in one temporary directory.
struct Env {
    dir: tempfile::TempDir,
    store: LocalStore,
    settings: FetchSettings,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(StoreLocation::new(dir.path().join("root"))).unwrap();
    let settings = FetchSettings::new(dir.path().join("cache"));
    Env {
        dir,
        store,
        settings,
    }
}

impl Env {
    fn fetch(&self, req: &FetchRequest) -> Result<Fetched, FetchError> {
        fetch(&self.store, &self.settings, req)
    }

    fn real(&self, f: &Fetched) -> PathBuf {
        self.store.real_path(&f.path)
    }
}

fn url_req(url: &str, name: &str, unpack: bool, expected: Option<Hash>) -> FetchRequest {
    FetchRequest::Url {
        url: url.to_owned(),
        name: name.to_owned(),
        unpack,
        recursive: unpack,
        expected,
    }
}

/// A loopback HTTP server answering every `GET /name` from a fixed table (with an `ETag` that
/// `If-None-Match` matches, then 304), 404 otherwise; it counts requests and full bodies.
struct Server {
    port: u16,
    requests: Arc<AtomicUsize>,
    bodies: Arc<AtomicUsize>,
}

fn serve(files: Vec<(&'static str, Vec<u8>)>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(AtomicUsize::new(0));
    let (r, b) = (requests.clone(), bodies.clone());
    std::thread::spawn(move || {
        // Bounded: a test makes a handful of requests.
        for stream in listener.incoming().take(100) {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let mut if_none_match = None;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("if-none-match:") {
                    if_none_match = Some(v.trim().to_owned());
                }
            }
            r.fetch_add(1, Ordering::SeqCst);
            let found = files.iter().find(|(n, _)| path == format!("/{n}"));
            let response = match found {
                Some((name, body)) => {
                    let etag = format!("\"{name}-{}\"", body.len());
                    if if_none_match.as_deref() == Some(etag.as_str()) {
                        format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n")
                            .into_bytes()
                    } else {
                        b.fetch_add(1, Ordering::SeqCst);
                        let mut v = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: {etag}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        v.extend_from_slice(body);
                        v
                    }
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    Server {
        port,
        requests,
        bodies,
    }
}

impl Server {
    fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
    fn bodies(&self) -> usize {
        self.bodies.load(Ordering::SeqCst)
    }
}

fn flat_path(store: &LocalStore, name: &str, data: &[u8]) -> String {
    let h = Hash::digest_bytes(HashAlgo::Sha256, data);
    make_fixed_output_path("/nix/store", name, FileIngestionMethod::Flat, &h)
        .unwrap()
        .to_absolute(kiln_store::Store::store_dir(store))
}

fn nar_hash(path: &Path) -> Hash {
    let mut h = kiln_formats::hash::Hasher::new(HashAlgo::Sha256);
    nar::dump(path, &mut h).unwrap();
    h.finish()
}

#[test]
fn http_download_is_a_flat_path_and_cached_for_tarball_ttl() {
    let e = env();
    let server = serve(vec![("hello.txt", b"hello\n".to_vec())]);
    let url = server.url("hello.txt");
    let res = e.fetch(&url_req(&url, "hello.txt", false, None)).unwrap();
    assert_eq!(
        res.path.to_absolute("/nix/store"),
        flat_path(&e.store, "hello.txt", b"hello\n")
    );
    assert_eq!(std::fs::read(e.real(&res)).unwrap(), b"hello\n");
    assert_eq!(server.requests(), 1);

    // Within tarball-ttl: no request at all.
    let again = e.fetch(&url_req(&url, "hello.txt", false, None)).unwrap();
    assert_eq!(again, res);
    assert_eq!(server.requests(), 1);

    // Stale: revalidated with the ETag, the server answers 304, no body is sent.
    let stale = Env {
        settings: FetchSettings {
            tarball_ttl: 0,
            ..e.settings.clone()
        },
        ..e
    };
    let third = stale
        .fetch(&url_req(&url, "hello.txt", false, None))
        .unwrap();
    assert_eq!(third.path, res.path);
    assert_eq!((server.requests(), server.bodies()), (2, 1));

    // Locked by its hash, with the path valid: no request even with a zero TTL.
    let h = Hash::digest_bytes(HashAlgo::Sha256, b"hello\n");
    let locked = stale
        .fetch(&url_req(&url, "hello.txt", false, Some(h)))
        .unwrap();
    assert_eq!(locked.path, res.path);
    assert_eq!(server.requests(), 2);
}

#[test]
fn a_locked_fetch_never_downloads_when_its_path_is_valid() {
    let e = env();
    let server = serve(vec![("x", b"x".to_vec())]);
    let src = e.dir.path().join("x");
    std::fs::write(&src, b"x").unwrap();
    // Add the file under the expected name first, as another fetch would have.
    let info = kiln_store::Store::add_path(
        &e.store,
        "x",
        &src,
        FileIngestionMethod::Flat,
        HashAlgo::Sha256,
    )
    .unwrap();
    let h = Hash::digest_bytes(HashAlgo::Sha256, b"x");
    let res = e
        .fetch(&url_req(&server.url("x"), "x", false, Some(h)))
        .unwrap();
    assert_eq!(res.path, info.path);
    assert_eq!(server.requests(), 0);
}

#[test]
fn a_hash_mismatch_names_the_url_and_both_hashes() {
    let e = env();
    let server = serve(vec![("f", b"plain file\n".to_vec())]);
    let url = server.url("f");
    let zero = Hash::parse_any(
        "0000000000000000000000000000000000000000000000000000",
        Some(HashAlgo::Sha256),
    )
    .unwrap();
    let err = e.fetch(&url_req(&url, "f", false, Some(zero))).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "hash mismatch in file downloaded from '{url}':\n  \
             specified: sha256:0000000000000000000000000000000000000000000000000000\n  \
             got:       sha256:02bavd8zw6rfxkzmv7n4z6inp3l53k0pl29gqq7jwhhnbj0b8c8f"
        )
    );
    // The evaluator gets it back as a HashMismatch inside the io::Error.
    let io = err.into_io();
    assert!(io
        .get_ref()
        .unwrap()
        .downcast_ref::<HashMismatch>()
        .is_some());
    // Nothing was added, and no temporary file is left in the cache.
    let tmp = e.settings.cache_dir.join("tmp");
    assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);
}

#[test]
fn download_errors_name_the_url() {
    let e = env();
    let server = serve(vec![]);
    let url = server.url("missing");
    let err = e.fetch(&url_req(&url, "m", false, None)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("unable to download '{url}': HTTP error 404 (Not Found)")
    );
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("http://127.0.0.1:{port}/x");
    let err = e.fetch(&url_req(&url, "x", false, None)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("unable to download '{url}': ")),
        "{err}"
    );
    let err = e
        .fetch(&url_req("file:///nonexistent/kiln", "k", false, None))
        .unwrap_err();
    assert!(err
        .to_string()
        .starts_with("unable to download 'file:///nonexistent/kiln': cannot open"));
    let err = e
        .fetch(&url_req("ftp://example/x", "x", false, None))
        .unwrap_err();
    assert!(err.to_string().contains("unsupported URL scheme"), "{err}");
}

/// A small tree with a nested directory, an executable and a symlink, under `top/`.
fn make_tree(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let top = dir.join("top");
    std::fs::create_dir_all(top.join("sub")).unwrap();
    std::fs::write(top.join("a.txt"), b"hello\n").unwrap();
    std::fs::write(top.join("sub/run"), b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(top.join("sub/run"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("a.txt", top.join("link")).unwrap();
    top
}

fn tar_bytes(dir: &Path, entries: &[&str]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    for e in entries {
        let p = dir.join(e);
        if p.is_dir() && !p.is_symlink() {
            b.append_dir_all(e, &p).unwrap();
        } else {
            b.append_path_with_name(&p, e).unwrap();
        }
    }
    b.into_inner().unwrap()
}

#[test]
fn archives_in_every_format_unpack_to_the_same_path_with_the_top_directory_stripped() {
    let e = env();
    let src = e.dir.path().join("src");
    let top = make_tree(&src);
    let expected_nar = nar_hash(&top);
    let expected = make_fixed_output_path(
        "/nix/store",
        "source",
        FileIngestionMethod::Recursive,
        &expected_nar,
    )
    .unwrap();
    let tar = tar_bytes(&src, &["top"]);
    let gz = {
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        w.write_all(&tar).unwrap();
        w.finish().unwrap()
    };
    let xz = {
        let mut w = xz2::write::XzEncoder::new(Vec::new(), 6);
        w.write_all(&tar).unwrap();
        w.finish().unwrap()
    };
    let bz = {
        let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        w.write_all(&tar).unwrap();
        w.finish().unwrap()
    };
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    let zip = {
        use zip::write::SimpleFileOptions;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let plain = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644)
            .last_modified_time(zip::DateTime::from_date_and_time(2021, 1, 1, 0, 0, 0).unwrap());
        w.add_directory("top/", plain).unwrap();
        w.add_directory("top/sub/", plain).unwrap();
        w.start_file("top/a.txt", plain).unwrap();
        w.write_all(b"hello\n").unwrap();
        w.start_file("top/sub/run", plain.unix_permissions(0o755))
            .unwrap();
        w.write_all(b"#!/bin/sh\n").unwrap();
        w.add_symlink("top/link", "a.txt", plain).unwrap();
        w.finish().unwrap().into_inner()
    };
    for (name, bytes) in [
        ("t.tar", tar),
        ("t.tar.gz", gz),
        ("t.tar.xz", xz),
        ("t.tar.bz2", bz),
        ("t.tar.zst", zst),
        ("t.zip", zip),
    ] {
        let file = e.dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let url = format!("file://{}", file.display());
        let res = e.fetch(&url_req(&url, "source", true, None)).unwrap();
        assert_eq!(res.path, expected, "{name}");
        assert_eq!(res.nar_hash, expected_nar, "{name}");
        let newest = res.last_modified.unwrap();
        if name == "t.zip" {
            assert_eq!(newest, 1_609_459_200, "2021-01-01T00:00:00Z");
        } else {
            assert!(newest > 1_500_000_000, "{name}");
        }
        let out = e.real(&res);
        assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"hello\n");
        assert_eq!(
            std::fs::read_link(out.join("link")).unwrap(),
            Path::new("a.txt")
        );
        // Locked by its NAR hash: the same path, from the cache's check of the store.
        let again = e
            .fetch(&url_req(&url, "source", true, Some(expected_nar)))
            .unwrap();
        assert_eq!(again.path, expected);
    }

    // Two top-level entries: nothing is stripped.
    let two = tar_bytes(&top, &["a.txt", "sub"]);
    let file = e.dir.path().join("two.tar");
    std::fs::write(&file, two).unwrap();
    let res = e
        .fetch(&url_req(
            &format!("file://{}", file.display()),
            "source",
            true,
            None,
        ))
        .unwrap();
    assert!(e.real(&res).join("sub/run").is_file());

    // Not an archive.
    let file = e.dir.path().join("plain");
    std::fs::write(&file, b"just text, not a tar archive\n").unwrap();
    let url = format!("file://{}", file.display());
    let err = e.fetch(&url_req(&url, "source", true, None)).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!("unpacking '{url}'")),
        "{err}"
    );
}

#[test]
fn an_archive_entry_cannot_escape_the_unpack_directory() {
    let e = env();
    // A hand-made header naming `../evil`, which the tar crate's builder refuses to write.
    let mut header = tar::Header::new_gnu();
    header.as_gnu_mut().unwrap().name[..7].copy_from_slice(b"../evil");
    header.set_size(1);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut bytes = header.as_bytes().to_vec();
    bytes.extend_from_slice(&[b'x'; 512]);
    bytes.extend_from_slice(&[0; 1024]);
    let file = e.dir.path().join("evil.tar");
    std::fs::write(&file, bytes).unwrap();
    let url = format!("file://{}", file.display());
    assert!(e.fetch(&url_req(&url, "source", true, None)).is_err());
    assert!(!e.settings.cache_dir.join("evil").exists());
    assert!(!e.settings.cache_dir.join("tmp/evil").exists());
}

// ----- Git -----

fn git(dir: &Path, args: &[&str], date: &str) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Kiln Test")
        .env("GIT_AUTHOR_EMAIL", "test@kiln.invalid")
        .env("GIT_COMMITTER_NAME", "Kiln Test")
        .env("GIT_COMMITTER_EMAIL", "test@kiln.invalid")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A repository with two commits on `main` (2020-01-01 and 2020-01-02) and a tag `v1` on the
/// first; returns the two revisions.
fn make_repo(dir: &Path) -> (String, String) {
    std::fs::create_dir_all(dir.join("d")).unwrap();
    git(dir, &["init", "-q", "-b", "main"], "2020-01-01T00:00:00Z");
    std::fs::write(dir.join("x"), "one\n").unwrap();
    std::fs::write(dir.join("d/y"), "two\n").unwrap();
    git(dir, &["add", "."], "2020-01-01T00:00:00Z");
    git(dir, &["commit", "-qm", "first"], "2020-01-01T00:00:00Z");
    git(dir, &["tag", "v1"], "2020-01-01T00:00:00Z");
    std::fs::write(dir.join("z"), "three\n").unwrap();
    git(dir, &["add", "z"], "2020-01-02T00:00:00Z");
    git(dir, &["commit", "-qm", "second"], "2020-01-02T00:00:00Z");
    let second = git(dir, &["rev-parse", "HEAD"], "");
    let first = git(dir, &["rev-parse", "HEAD~1"], "");
    (first, second)
}

fn git_req(url: &str, git_ref: Option<&str>, rev: Option<&str>) -> FetchRequest {
    FetchRequest::Git {
        url: url.to_owned(),
        name: "source".to_owned(),
        git_ref: git_ref.map(str::to_owned),
        rev: rev.map(str::to_owned),
        submodules: false,
        shallow: false,
        all_refs: false,
        nar_hash: None,
    }
}

#[test]
fn a_clean_local_repository_is_its_head_commit_without_git_metadata() {
    let e = env();
    let repo = e.dir.path().join("repo");
    let (first, second) = make_repo(&repo);
    // Untracked files are not part of it.
    std::fs::write(repo.join("untracked"), "u\n").unwrap();
    let res = e
        .fetch(&git_req(repo.to_str().unwrap(), None, None))
        .unwrap();
    assert_eq!(res.rev.as_deref(), Some(second.as_str()));
    assert_eq!(res.rev_count, Some(2));
    assert_eq!(res.last_modified, Some(1_577_923_200));
    assert_eq!(res.dirty_rev, None);
    let out = e.real(&res);
    assert!(!out.join(".git").exists());
    assert!(!out.join("untracked").exists());
    assert_eq!(std::fs::read(out.join("z")).unwrap(), b"three\n");
    assert_eq!(res.nar_hash, nar_hash(&out));

    // By rev (an older commit), by ref (branch, full name, tag), as a file:// URL.
    let url = format!("file://{}", repo.display());
    let old = e.fetch(&git_req(&url, None, Some(&first))).unwrap();
    assert_eq!(old.rev_count, Some(1));
    assert_eq!(old.last_modified, Some(1_577_836_800));
    assert!(!e.real(&old).join("z").exists());
    for r in ["main", "refs/heads/main"] {
        let by_ref = e.fetch(&git_req(&url, Some(r), None)).unwrap();
        assert_eq!(by_ref.path, res.path, "{r}");
        assert_eq!(by_ref.rev, res.rev, "{r}");
    }
    let tag = e.fetch(&git_req(&url, Some("v1"), None)).unwrap();
    assert_eq!(tag.path, old.path);
    let err = e.fetch(&git_req(&url, Some("nope"), None)).unwrap_err();
    assert!(err.to_string().contains("'nope'"), "{err}");
    let missing = "0123456789012345678901234567890123456789";
    let err = e.fetch(&git_req(&url, None, Some(missing))).unwrap_err();
    assert!(err.to_string().contains(missing), "{err}");

    // A shallow fetch reports no revCount.
    let shallow = FetchRequest::Git {
        url: url.clone(),
        name: "source".to_owned(),
        git_ref: None,
        rev: Some(first.clone()),
        submodules: false,
        shallow: true,
        all_refs: false,
        nar_hash: None,
    };
    assert_eq!(e.fetch(&shallow).unwrap().rev_count, None);
}

#[test]
fn a_dirty_repository_is_its_tracked_files_as_they_are() {
    let e = env();
    let repo = e.dir.path().join("repo");
    let (_, second) = make_repo(&repo);
    std::fs::write(repo.join("x"), "changed\n").unwrap();
    std::fs::write(repo.join("added"), "staged\n").unwrap();
    git(&repo, &["add", "added"], "2020-01-03T00:00:00Z");
    std::fs::write(repo.join("untracked"), "u\n").unwrap();
    std::fs::remove_file(repo.join("d/y")).unwrap();
    let res = e
        .fetch(&git_req(repo.to_str().unwrap(), None, None))
        .unwrap();
    assert_eq!(res.rev, None);
    assert_eq!(res.dirty_rev, Some(format!("{second}-dirty")));
    assert_eq!(res.last_modified, Some(1_577_923_200));
    let out = e.real(&res);
    assert_eq!(std::fs::read(out.join("x")).unwrap(), b"changed\n");
    assert_eq!(std::fs::read(out.join("added")).unwrap(), b"staged\n");
    assert!(!out.join("untracked").exists());
    assert!(!out.join("d/y").exists());
    assert!(!out.join(".git").exists());
}

#[test]
fn a_fetch_tree_path_reports_its_nar_hash_and_checks_it() {
    let e = env();
    let top = make_tree(&e.dir.path().join("src"));
    let req = FetchRequest::Path {
        path: top.clone(),
        name: "source".to_owned(),
        nar_hash: None,
    };
    let res = e.fetch(&req).unwrap();
    assert_eq!(res.nar_hash, nar_hash(&top));
    let wrong = FetchRequest::Path {
        path: top,
        name: "source".to_owned(),
        nar_hash: Some(Hash::digest_bytes(HashAlgo::Sha256, b"")),
    };
    assert!(matches!(e.fetch(&wrong), Err(FetchError::HashMismatch(_))));
}

#[test]
fn what_a_killed_fetch_left_in_the_cache_is_removed() {
    let e = env();
    let tmp = e.settings.cache_dir.join("tmp");
    std::fs::create_dir_all(tmp.join("999999999-0-0-unpack/dir")).unwrap();
    std::fs::write(tmp.join("999999999-1-0-download"), b"partial").unwrap();
    let file = e.dir.path().join("f");
    std::fs::write(&file, b"f").unwrap();
    e.fetch(&url_req(
        &format!("file://{}", file.display()),
        "f",
        false,
        None,
    ))
    .unwrap();
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn an_interrupted_http_body_leaves_nothing_valid() {
    let e = env();
    // A server that promises 100 bytes and closes after 5.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Some(Ok(mut s)) = listener.incoming().next() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
        }
    });
    let url = format!("http://127.0.0.1:{port}/cut");
    let err = e.fetch(&url_req(&url, "cut", false, None)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("unable to download '{url}'")),
        "{err}"
    );
    assert!(e.store.all_valid_paths().unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(e.settings.cache_dir.join("tmp"))
            .unwrap()
            .count(),
        0
    );
}

/// A `git daemon` on loopback serving `base`, killed when dropped.
struct GitDaemon {
    child: std::process::Child,
    port: u16,
}

impl GitDaemon {
    fn start(base: &Path) -> GitDaemon {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        // `git daemon` would run git-daemon as a child that outlives a kill of `git`: start
        // the program itself.
        let exec_path = git(base, &["--exec-path"], "");
        let child = Command::new(Path::new(&exec_path).join("git-daemon"))
            .arg("--reuseaddr")
            .arg("--export-all")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git daemon runs (it comes with git)");
        let daemon = GitDaemon { child, port };
        // Bounded wait for it to listen.
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return daemon;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("git daemon did not start listening on port {port}");
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_remote_repository_is_fetched_through_the_git_protocol() {
    let e = env();
    let base = e.dir.path().join("served");
    let repo = base.join("repo");
    let (first, second) = make_repo(&repo);
    // A commit only on another branch, for allRefs.
    git(
        &repo,
        &["checkout", "-q", "-b", "side", &first],
        "2020-01-03T00:00:00Z",
    );
    std::fs::write(repo.join("side"), "side\n").unwrap();
    git(&repo, &["add", "side"], "2020-01-03T00:00:00Z");
    git(&repo, &["commit", "-qm", "side"], "2020-01-03T00:00:00Z");
    let side = git(&repo, &["rev-parse", "HEAD"], "");
    git(&repo, &["checkout", "-q", "main"], "2020-01-03T00:00:00Z");
    let daemon = GitDaemon::start(&base);
    let url = format!("git://127.0.0.1:{}/repo", daemon.port);

    let local = e
        .fetch(&git_req(repo.to_str().unwrap(), Some("main"), None))
        .unwrap();
    let head = e.fetch(&git_req(&url, None, None)).unwrap();
    assert_eq!(head.rev.as_deref(), Some(second.as_str()));
    assert_eq!(
        (head.path.clone(), head.nar_hash),
        (local.path, local.nar_hash)
    );
    assert_eq!(head.rev_count, Some(2));
    let by_ref = e.fetch(&git_req(&url, Some("main"), None)).unwrap();
    assert_eq!(by_ref.path, head.path);
    let old = e.fetch(&git_req(&url, None, Some(&first))).unwrap();
    assert_eq!(old.last_modified, Some(1_577_836_800));

    // A commit not reachable from HEAD needs allRefs.
    let err = e.fetch(&git_req(&url, None, Some(&side))).unwrap_err();
    assert!(err.to_string().contains("allRefs"), "{err}");
    let all = FetchRequest::Git {
        url: url.clone(),
        name: "source".to_owned(),
        git_ref: None,
        rev: Some(side.clone()),
        submodules: false,
        shallow: false,
        all_refs: true,
        nar_hash: None,
    };
    let res = e.fetch(&all).unwrap();
    assert_eq!(std::fs::read(e.real(&res).join("side")).unwrap(), b"side\n");

    // Locked and cached: with the server gone, the same commit comes from the cache.
    drop(daemon);
    let again = e.fetch(&git_req(&url, None, Some(&first))).unwrap();
    assert_eq!(again.path, old.path);
}
