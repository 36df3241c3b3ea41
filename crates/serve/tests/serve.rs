//! `kiln serve` as a library: a store served over HTTP, substituted from by Kiln and by
//! Nix 2.8, with HEAD and ranges on uncompressed NARs.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use kiln_cache::{BinaryCache, Compression, Substituters};
use kiln_formats::signing::{SecretKey, TrustedKeys};
use kiln_formats::store_path::StorePath;
use kiln_serve::{ServeOptions, Server};
use kiln_store::{LocalStore, Store, StoreLocation};
use kiln_testkit::interop;

const STORE_DIR: &str = "/nix/store";

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreLocation::new(root)).unwrap()
}

fn key() -> SecretKey {
    SecretKey::from_seed("serve-test-1", [9; 32]).unwrap()
}

/// A store holding `top` → `leaf` (a file big enough to compress) and a server over it.
fn served(dir: &Path, compression: Compression) -> (Server, StorePath, BTreeSet<StorePath>) {
    let store = open(&dir.join("src"));
    let big = "a line of text that compresses well\n".repeat(2000);
    let leaf = store
        .add_text("leaf", big.as_bytes(), &BTreeSet::new())
        .unwrap()
        .path;
    let text = format!("top refers to {}", leaf.to_absolute(STORE_DIR));
    let top = store
        .add_text("top", text.as_bytes(), &BTreeSet::from([leaf.clone()]))
        .unwrap()
        .path;
    let opts = ServeOptions {
        secret_keys: vec![key()],
        compression,
        ..ServeOptions::default()
    };
    let server = Server::start("127.0.0.1:0", Arc::new(store), opts).unwrap();
    (server, top.clone(), BTreeSet::from([leaf, top]))
}

fn nar_of(store: &LocalStore, p: &StorePath) -> Vec<u8> {
    let mut out = Vec::new();
    store.dump_path(p, &mut out).unwrap();
    out
}

#[test]
fn kiln_substitutes_from_kiln_serve() {
    for compression in [Compression::Zstd, Compression::None] {
        let tmp = tempfile::tempdir().unwrap();
        let (server, top, all) = served(tmp.path(), compression);
        let url = format!("http://{}", server.local_addr());
        let cache = BinaryCache::open(&url, STORE_DIR).unwrap();
        assert_eq!(cache.priority(), 30);
        let trusted: TrustedKeys = [key().to_public()].into_iter().collect();
        let subs = Substituters::new(vec![cache], trusted, true);
        let dst = open(&tmp.path().join("dst"));
        let plan = subs
            .plan(&dst, &BTreeSet::from([top.clone()]), &|_| {})
            .unwrap();
        assert_eq!(plan.fetch.len(), 2);
        subs.fetch(&dst, &plan, &|_| {}).unwrap();
        let src = open(&tmp.path().join("src"));
        for p in &all {
            assert_eq!(nar_of(&src, p), nar_of(&dst, p), "{compression:?}");
        }
        server.stop();
    }
}

#[test]
fn head_ranges_and_missing_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, top, _) = served(tmp.path(), Compression::None);
    let base = format!("http://{}", server.local_addr());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let get = |path: &str, range: Option<&str>| {
        let mut req = agent.get(&format!("{base}{path}"));
        if let Some(r) = range {
            req = req.header("Range", r);
        }
        let resp = req.call().unwrap();
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        resp.into_body()
            .into_reader()
            .read_to_end(&mut body)
            .unwrap();
        (status, body)
    };
    let (status, info) = get(&format!("/{}.narinfo", top.hash_part()), None);
    assert_eq!(status, 200);
    let info = String::from_utf8(info).unwrap();
    let nar_url = info
        .lines()
        .find_map(|l| l.strip_prefix("URL: "))
        .unwrap()
        .to_owned();
    let src = open(&tmp.path().join("src"));
    let nar = nar_of(&src, &top);
    let (status, whole) = get(&format!("/{nar_url}"), None);
    assert_eq!((status, &whole), (200, &nar));
    let (status, part) = get(&format!("/{nar_url}"), Some("bytes=10-19"));
    assert_eq!((status, part.as_slice()), (206, &nar[10..20]));
    let (status, _) = get(&format!("/{nar_url}"), Some("bytes=99999999-"));
    assert_eq!(status, 416);
    let resp = agent.head(&format!("{base}/{nar_url}")).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()
            .get("content-length")
            .unwrap()
            .to_str()
            .unwrap(),
        nar.len().to_string()
    );
    // Unknown paths and stale NAR names are 404s; the listing names the served paths.
    let (status, _) = get("/00000000000000000000000000000000.narinfo", None);
    assert_eq!(status, 404);
    let (status, _) = get(&format!("/nar/{}-x.nar", top.hash_part()), None);
    assert_eq!(status, 404);
    let (status, list) = get("/", None);
    assert_eq!(status, 200);
    assert!(String::from_utf8(list)
        .unwrap()
        .contains(&top.to_absolute(STORE_DIR)));
    server.stop();
}

/// Nix 2.8 substitutes from `kiln serve` (zstd on the fly), checking its signature.
#[test]
fn nix_substitutes_from_kiln_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, top, all) = served(tmp.path(), Compression::Zstd);
    let url = format!("http://{}", server.local_addr());
    let nix_root = tmp.path().join("nix-root");
    interop::reference_substitute(
        &tmp.path().join("nix-state"),
        &nix_root,
        &top.to_absolute(STORE_DIR),
        &url,
        &key().to_public().to_string(),
    );
    for p in &all {
        let abs = p.to_absolute(STORE_DIR);
        interop::assert_same_tree(
            &interop::real_path(&tmp.path().join("src"), &abs),
            &interop::real_path(&nix_root, &abs),
        );
    }
    server.stop();
}

/// Lookups in a remote cache are remembered on disk: a second plan over the same paths asks
/// the server only for `nix-cache-info`, for the paths it has and for one it lacks alike.
#[test]
fn lookups_are_remembered_between_sessions() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, top, _) = served(tmp.path(), Compression::Zstd);
    let url = format!("http://{}", server.local_addr());
    let absent = StorePath::from_base_name("00000000000000000000000000000000-absent").unwrap();
    let wanted = BTreeSet::from([top.clone(), absent.clone()]);
    let dst = open(&tmp.path().join("dst"));
    let plan_once = || {
        let trusted: TrustedKeys = [key().to_public()].into_iter().collect();
        let subs = Substituters::from_urls(
            vec![url.clone()],
            STORE_DIR,
            kiln_cache::OpenOptions::default(),
            trusted,
            true,
        )
        .with_lookup_cache(kiln_cache::LookupCache::new(tmp.path().join("lookups")));
        let before = server.requests();
        let plan = subs.plan(&dst, &wanted, &|_| {}).unwrap();
        assert_eq!(plan.fetch.len(), 2);
        assert_eq!(plan.missing, BTreeSet::from([absent.clone()]));
        server.requests() - before
    };
    // nix-cache-info and three narinfos (top, leaf, absent), then nix-cache-info only.
    assert_eq!(plan_once(), 4);
    assert_eq!(plan_once(), 1);
    server.stop();
}

/// Narinfos are remembered between requests, but never past a change of the store: a path
/// asked about before it was added is served right after it is (by another process's store
/// handle as much as by the server's own).
#[test]
fn answers_follow_the_store_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, top, _) = served(tmp.path(), Compression::Zstd);
    let base = format!("http://{}", server.local_addr());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let status = |hash: &str| {
        agent
            .get(&format!("{base}/{hash}.narinfo"))
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    // The path "later" will have (a text path's name is fixed by its contents).
    let scratch = open(&tmp.path().join("scratch"));
    let later = scratch
        .add_text("later", b"added later", &BTreeSet::new())
        .unwrap()
        .path;
    for _ in 0..3 {
        assert_eq!(status(top.hash_part()), 200);
        assert_eq!(status(later.hash_part()), 404);
    }
    let other_handle = open(&tmp.path().join("src"));
    other_handle
        .add_text("later", b"added later", &BTreeSet::new())
        .unwrap();
    assert_eq!(status(later.hash_part()), 200);
    server.stop();
}

/// The HTTP side on a raw connection: pipelined requests answered in order, `Connection:
/// close` honoured, an HTTP/1.0 client's connection closed after its answer, a malformed
/// request a 400, another method a 405.
#[test]
fn http_on_a_raw_connection() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let (server, _, _) = served(tmp.path(), Compression::Zstd);
    let exchange = |request: &str| {
        let mut s = std::net::TcpStream::connect(server.local_addr()).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    };
    let answer = exchange(
        "GET /nix-cache-info HTTP/1.1\r\nHost: x\r\n\r\n\
         HEAD /nix-cache-info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(answer.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{answer}");
    assert_eq!(
        answer.matches("StoreDir: /nix/store").count(),
        1,
        "{answer}"
    );
    assert!(answer.ends_with("Connection: close\r\n\r\n"), "{answer}");
    let answer = exchange("GET /nix-cache-info HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("Connection: close\r\n"), "{answer}");
    let answer = exchange("NONSENSE\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    let answer = exchange("DELETE / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 405 "), "{answer}");
    server.stop();
}

/// The event loops' edge cases on raw connections: a request sent a byte at a time; requests
/// pipelined around a NAR, whose connection moves from its loop to a streaming thread with
/// the answers and requests in flight (they come back whole and in order); a client that
/// closes its side after sending still gets every answer; many connections at once, more than
/// the loops; a connection over the limit waits to be accepted.
#[test]
fn event_loops_answer_pipelines_partial_reads_and_hand_offs() {
    use std::io::Write;
    use std::net::{Shutdown, TcpStream};
    use std::time::Duration;
    let tmp = tempfile::tempdir().unwrap();
    let (server, top, _) = served(tmp.path(), Compression::None);
    let src = open(&tmp.path().join("src"));
    let nar = nar_of(&src, &top);
    let connect = || {
        let s = TcpStream::connect(server.local_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };
    let narinfo_url = format!("/{}.narinfo", top.hash_part());
    let narinfo = {
        let mut s = connect();
        write!(s, "GET {narinfo_url} HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut a = String::new();
        s.read_to_string(&mut a).unwrap();
        a.split_once("\r\n\r\n").unwrap().1.to_owned()
    };
    assert!(narinfo.starts_with("StorePath: "), "{narinfo}");
    let nar_url = narinfo
        .lines()
        .find_map(|l| l.strip_prefix("URL: "))
        .unwrap()
        .to_owned();

    // A byte at a time.
    let mut s = connect();
    s.set_nodelay(true).unwrap();
    for b in format!("GET {narinfo_url} HTTP/1.1\r\nConnection: close\r\n\r\n").bytes() {
        s.write_all(&[b]).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut a = String::new();
    s.read_to_string(&mut a).unwrap();
    assert!(
        a.starts_with("HTTP/1.1 200 OK\r\n") && a.ends_with(&narinfo),
        "{a}"
    );

    // narinfo, NAR, narinfo, NAR range, narinfo: pipelined, then our side closed.
    let mut s = connect();
    write!(
        s,
        "GET {narinfo_url} HTTP/1.1\r\n\r\nGET /{nar_url} HTTP/1.1\r\n\r\n\
         GET {narinfo_url} HTTP/1.1\r\n\r\nGET /{nar_url} HTTP/1.1\r\nRange: bytes=2-5\r\n\r\n\
         HEAD {narinfo_url} HTTP/1.1\r\n\r\n"
    )
    .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    let ok = |body: &[u8]| {
        let mut r = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/x-nix-narinfo\r\nContent-Length: {}\r\n\r\n",
            narinfo.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    };
    let mut want = ok(narinfo.as_bytes());
    want.extend_from_slice(
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/x-nix-nar\r\nAccept-Ranges: bytes\r\nContent-Length: {}\r\n\r\n", nar.len()).as_bytes(),
    );
    want.extend_from_slice(&nar);
    want.extend_from_slice(&ok(narinfo.as_bytes()));
    want.extend_from_slice(
        format!("HTTP/1.1 206 Partial Content\r\nContent-Type: application/x-nix-nar\r\nAccept-Ranges: bytes\r\nContent-Range: bytes 2-5/{}\r\nContent-Length: 4\r\n\r\n", nar.len()).as_bytes(),
    );
    want.extend_from_slice(&nar[2..6]);
    want.extend_from_slice(&ok(b""));
    assert!(
        got == want,
        "{}\n---\n{}",
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );

    // 100 connections at once, each asking twice.
    let threads: Vec<_> = (0..100)
        .map(|_| {
            let addr = server.local_addr();
            let url = narinfo_url.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                write!(
                    s,
                    "GET {url} HTTP/1.1\r\n\r\nGET {url} HTTP/1.1\r\nConnection: close\r\n\r\n"
                )
                .unwrap();
                let mut a = String::new();
                s.read_to_string(&mut a).unwrap();
                a.matches("HTTP/1.1 200 OK\r\n").count()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 2);
    }
    server.stop();

    // At most one connection at once: the second waits until the first ends.
    let store = open(&tmp.path().join("src"));
    let opts = ServeOptions {
        max_connections: 1,
        ..ServeOptions::default()
    };
    let one = Server::start("127.0.0.1:0", Arc::new(store), opts).unwrap();
    let mut first = TcpStream::connect(one.local_addr()).unwrap();
    write!(first, "GET /nix-cache-info HTTP/1.1\r\n\r\n").unwrap();
    let mut buf = [0u8; 4096];
    assert!(first.read(&mut buf).unwrap() > 0);
    let mut second = TcpStream::connect(one.local_addr()).unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    write!(
        second,
        "GET /nix-cache-info HTTP/1.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    assert!(second.read(&mut buf).is_err(), "served past the limit");
    drop(first);
    second
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut a = String::new();
    second.read_to_string(&mut a).unwrap();
    assert!(a.starts_with("HTTP/1.1 200 OK\r\n"), "{a}");
    one.stop();
}
