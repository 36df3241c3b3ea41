//! `s3://` caches against a small in-memory S3 look-alike: path-style requests, signed
//! (SigV4 itself is checked against the AWS documentation's example in `src/s3.rs`), the
//! payload hash the signature covers matching the body, 404s as absent objects.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use kiln_cache::{
    copy_to, BinaryCache, Compression, OpenOptions, S3Credentials, Substituters, UploadOptions,
};
use kiln_formats::hash::{Hash, HashAlgo};
use kiln_formats::signing::TrustedKeys;
use kiln_store::{LocalStore, Store, StoreLocation};

/// Serves `/BUCKET/KEY` objects from memory; refuses unsigned requests and PUTs whose
/// `x-amz-content-sha256` is not the body's.
/// The bucket's objects by key.
type Objects = Arc<Mutex<HashMap<String, Vec<u8>>>>;

fn fake_s3(bucket: &'static str) -> (String, Objects) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let addr = server.server_addr().to_ip().unwrap();
    let objects: Objects = Arc::default();
    let objs = Arc::clone(&objects);
    std::thread::spawn(move || {
        fn header(req: &tiny_http::Request, name: &str) -> Option<String> {
            req.headers()
                .iter()
                .find(|h| h.field.to_string().eq_ignore_ascii_case(name))
                .map(|h| h.value.as_str().to_owned())
        }
        for mut req in server.incoming_requests() {
            let auth = header(&req, "Authorization").unwrap_or_default();
            let sha = header(&req, "x-amz-content-sha256").unwrap_or_default();
            let signed = auth.starts_with("AWS4-HMAC-SHA256 Credential=KILNTEST/")
                && auth.contains("/us-test-1/s3/aws4_request")
                && header(&req, "x-amz-date").is_some();
            let url = req.url().to_owned();
            let key = url.strip_prefix(&format!("/{bucket}/")).map(str::to_owned);
            let (status, body) = match (signed, key) {
                (false, _) => (403, Vec::new()),
                (true, None) => (404, Vec::new()),
                (true, Some(key)) => match req.method() {
                    tiny_http::Method::Put => {
                        let mut body = Vec::new();
                        req.as_reader().read_to_end(&mut body).unwrap();
                        let actual = Hash::digest_bytes(HashAlgo::Sha256, &body).to_base16();
                        if actual != sha {
                            (400, Vec::new())
                        } else {
                            objs.lock().unwrap().insert(key, body);
                            (200, Vec::new())
                        }
                    }
                    tiny_http::Method::Get | tiny_http::Method::Head => {
                        match objs.lock().unwrap().get(&key) {
                            Some(b) => (200, b.clone()),
                            None => (404, Vec::new()),
                        }
                    }
                    _ => (405, Vec::new()),
                },
            };
            let _ = req.respond(tiny_http::Response::from_data(body).with_status_code(status));
        }
    });
    (addr.to_string(), objects)
}

#[test]
fn a_closure_round_trips_through_an_s3_bucket() {
    let (endpoint, objects) = fake_s3("kiln-cache");
    let url = format!("s3://kiln-cache?endpoint={endpoint}&region=us-test-1&scheme=http");
    let opts = OpenOptions {
        s3_credentials: Some(S3Credentials {
            access_key: "KILNTEST".into(),
            secret_key: "secret".into(),
            session_token: None,
        }),
        ..OpenOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let src = LocalStore::open(StoreLocation::new(dir.path().join("src"))).unwrap();
    let leaf = src
        .add_text("leaf", b"leaf", &BTreeSet::new())
        .unwrap()
        .path;
    let top_text = format!("top {}", leaf.to_absolute("/nix/store"));
    let top = src
        .add_text("top", top_text.as_bytes(), &BTreeSet::from([leaf.clone()]))
        .unwrap()
        .path;
    let upload = UploadOptions {
        compression: Compression::Zstd,
        secret_keys: vec![],
        scratch_dir: dir.path().to_path_buf(),
    };
    // Unsigned requests are refused by the bucket (a 403 reads as an absent object, as Nix
    // treats it; an upload fails).
    let mut unsigned = BinaryCache::open(&url, "/nix/store").unwrap();
    let err = copy_to(
        &src,
        &mut unsigned,
        &BTreeSet::from([top.clone()]),
        &upload,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    assert!(objects.lock().unwrap().is_empty());
    // An empty bucket becomes a cache with the first upload.
    let mut cache = BinaryCache::open_with(&url, "/nix/store", &opts).unwrap();
    let up = copy_to(
        &src,
        &mut cache,
        &BTreeSet::from([top.clone()]),
        &upload,
        &mut |_| {},
    )
    .unwrap();
    assert!(objects.lock().unwrap().contains_key("nix-cache-info"));
    assert_eq!(up.copied.len(), 2);
    assert!(objects
        .lock()
        .unwrap()
        .contains_key(&format!("{}.narinfo", top.hash_part())));
    let dst = LocalStore::open(StoreLocation::new(dir.path().join("dst"))).unwrap();
    let subs = Substituters::from_urls(vec![url], "/nix/store", opts, TrustedKeys::new(), false);
    let plan = subs
        .plan(&dst, &BTreeSet::from([top.clone()]), &|_| {})
        .unwrap();
    assert_eq!(plan.fetch.len(), 2);
    subs.fetch(&dst, &plan, &|_| {}).unwrap();
    assert!(dst.is_valid_path(&top).unwrap() && dst.is_valid_path(&leaf).unwrap());
}
