//! Caches that misbehave: one that takes the connection and never answers (its timeout, then
//! the next cache answers), and one whose NAR downloads break off (tried three times, then a
//! clear error and nothing registered).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_cache::{copy_to, BinaryCache, Compression, OpenOptions, Substituters, UploadOptions};
use kiln_formats::signing::TrustedKeys;
use kiln_formats::store_path::StorePath;
use kiln_store::{LocalStore, Store, StoreLocation};

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreLocation::new(root)).unwrap()
}

/// A file cache in `dir/cache` holding one path; returns the path.
fn file_cache(dir: &Path) -> StorePath {
    let src = open(&dir.join("src"));
    let big = "some bytes to cut in the middle\n".repeat(500);
    let p = src
        .add_text("p", big.as_bytes(), &BTreeSet::new())
        .unwrap()
        .path;
    let mut cache =
        BinaryCache::open(&format!("file://{}/cache", dir.display()), "/nix/store").unwrap();
    let opts = UploadOptions {
        compression: Compression::None,
        secret_keys: vec![],
        scratch_dir: dir.to_path_buf(),
    };
    copy_to(
        &src,
        &mut cache,
        &BTreeSet::from([p.clone()]),
        &opts,
        &mut |_| {},
    )
    .unwrap();
    p
}

/// Serves `dir/cache` over HTTP; `hang_narinfo` never answers narinfo requests, and NAR
/// bodies are cut to half when `cut_nars`. Returns the URL and a count of NAR requests.
fn serve(dir: &Path, hang_narinfo: bool, cut_nars: bool) -> (String, Arc<AtomicUsize>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let root = dir.join("cache");
    let nars = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&nars);
    let server = Arc::new(server);
    for _ in 0..4 {
        let server = Arc::clone(&server);
        let root = root.clone();
        let count = Arc::clone(&count);
        std::thread::spawn(move || {
            while let Ok(req) = server.recv() {
                let rel = req.url().trim_start_matches('/').to_owned();
                if rel.ends_with(".narinfo") && hang_narinfo {
                    std::thread::sleep(Duration::from_secs(30));
                    continue;
                }
                let Ok(mut body) = std::fs::read(root.join(&rel)) else {
                    let _ = req.respond(tiny_http::Response::empty(404));
                    continue;
                };
                if rel.starts_with("nar/") {
                    count.fetch_add(1, Ordering::SeqCst);
                    if cut_nars {
                        // Announce the whole length, send half, and close.
                        let full = body.len();
                        body.truncate(full / 2);
                        let resp = tiny_http::Response::new(
                            tiny_http::StatusCode(200),
                            vec![],
                            std::io::Cursor::new(body),
                            Some(full),
                            None,
                        );
                        let _ = req.respond(resp);
                        continue;
                    }
                }
                let _ = req.respond(tiny_http::Response::from_data(body));
            }
        });
    }
    (url, nars)
}

#[test]
fn a_hanging_cache_times_out_and_the_next_one_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let good_dir = tmp.path().join("good");
    let bad_dir = tmp.path().join("bad");
    std::fs::create_dir_all(&good_dir).unwrap();
    std::fs::create_dir_all(&bad_dir).unwrap();
    let p = file_cache(&good_dir);
    file_cache(&bad_dir);
    let (hanging, _) = serve(&bad_dir, true, false);
    let opts = OpenOptions {
        timeout: Duration::from_secs(1),
        ..OpenOptions::default()
    };
    // The hanging cache is asked first (priority 10 against the file cache's 50).
    let subs = Substituters::from_urls(
        vec![
            format!("{hanging}?priority=10"),
            format!("file://{}/cache", good_dir.display()),
        ],
        "/nix/store",
        opts,
        TrustedKeys::new(),
        false,
    );
    let dst = open(&tmp.path().join("dst"));
    let started = Instant::now();
    let skipped = std::sync::Mutex::new(Vec::new());
    let plan = subs
        .plan(&dst, &BTreeSet::from([p.clone()]), &|e| {
            if let kiln_cache::SubstEvent::Skipped { url, .. } = e {
                skipped.lock().unwrap().push(url.to_owned());
            }
        })
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(plan.fetch.len(), 1);
    assert_eq!(
        subs.caches()[plan.fetch[0].cache].url(),
        format!("file://{}/cache", good_dir.display())
    );
    assert_eq!(*skipped.lock().unwrap(), [hanging]);
}

#[test]
fn a_download_that_breaks_off_is_tried_three_times_then_fails_with_nothing_registered() {
    let tmp = tempfile::tempdir().unwrap();
    let p = file_cache(tmp.path());
    let (url, nars) = serve(tmp.path(), false, true);
    let subs = Substituters::from_urls(
        vec![url],
        "/nix/store",
        OpenOptions {
            stall_timeout: Duration::from_secs(1),
            ..OpenOptions::default()
        },
        TrustedKeys::new(),
        false,
    );
    let dst = open(&tmp.path().join("dst"));
    let plan = subs
        .plan(&dst, &BTreeSet::from([p.clone()]), &|_| {})
        .unwrap();
    let err = subs.fetch(&dst, &plan, &|_| {}).unwrap_err();
    assert_eq!(nars.load(Ordering::SeqCst), 3, "{err}");
    assert!(!dst.is_valid_path(&p).unwrap());
    assert!(dst.all_valid_paths().unwrap().is_empty());
    let msg = err.to_string();
    assert!(msg.contains(p.name()) || msg.contains("importing"), "{msg}");
}
