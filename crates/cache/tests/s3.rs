//! `s3://` caches against a real S3-compatible object store (SeaweedFS, started on
//! 127.0.0.1 by `kiln_testkit::S3Server`): path-style requests signed with SigV4 that the
//! server checks, anonymous and wrongly signed requests refused, a closure uploaded and
//! substituted into a fresh store.

use std::collections::BTreeSet;

use kiln_cache::{
    copy_to, BinaryCache, Compression, OpenOptions, S3Credentials, Substituters, UploadOptions,
};
use kiln_formats::signing::{SecretKey, TrustedKeys};
use kiln_store::{LocalStore, Store, StoreLocation};
use kiln_testkit::{interop, S3Server, S3_ACCESS_KEY, S3_SECRET_KEY};

fn credentials(secret: &str) -> OpenOptions {
    OpenOptions {
        s3_credentials: Some(S3Credentials {
            access_key: S3_ACCESS_KEY.into(),
            secret_key: secret.into(),
            session_token: None,
        }),
        ..OpenOptions::default()
    }
}

#[test]
fn a_signed_closure_round_trips_through_a_real_s3_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let server = S3Server::start(&dir.path().join("s3"), &["kiln-cache"]);
    // The scheme in the endpoint, and the host with `scheme=` beside it (Nix's form).
    let url = format!(
        "s3://kiln-cache?endpoint={}&region=us-east-1",
        server.endpoint()
    );
    let host_url = format!(
        "s3://kiln-cache?endpoint={}&scheme=http&region=us-east-1",
        server.endpoint().trim_start_matches("http://")
    );
    let src = LocalStore::open(StoreLocation::new(dir.path().join("src"))).unwrap();
    let leaf = src
        .add_text("leaf", "a leaf\n".repeat(5000).as_bytes(), &BTreeSet::new())
        .unwrap()
        .path;
    let top_text = format!("top {}", leaf.to_absolute("/nix/store"));
    let top = src
        .add_text("top", top_text.as_bytes(), &BTreeSet::from([leaf.clone()]))
        .unwrap()
        .path;
    let key = SecretKey::from_seed("s3-test-1", [3; 32]).unwrap();
    let upload = UploadOptions {
        compression: Compression::Xz,
        secret_keys: vec![key.clone()],
        scratch_dir: dir.path().to_path_buf(),
    };
    let wanted = BTreeSet::from([top.clone()]);
    // Anonymous and wrongly signed requests are refused by the store (a 403 reads as an
    // absent object, as Nix treats it, so the upload is what fails).
    assert_eq!(
        server.anonymous_status("/kiln-cache/nix-cache-info"),
        Some(403)
    );
    for opts in [OpenOptions::default(), credentials("not-the-secret")] {
        let mut cache = BinaryCache::open_with(&url, "/nix/store", &opts).unwrap();
        let err = copy_to(&src, &mut cache, &wanted, &upload, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("403"), "{err}");
    }
    // The empty bucket becomes a cache with the first upload.
    let opts = credentials(S3_SECRET_KEY);
    let mut cache = BinaryCache::open_with(&url, "/nix/store", &opts).unwrap();
    let up = copy_to(&src, &mut cache, &wanted, &upload, &mut |_| {}).unwrap();
    assert_eq!((up.copied.len(), up.present), (2, 0));
    let mut again = BinaryCache::open_with(&host_url, "/nix/store", &opts).unwrap();
    let up = copy_to(&src, &mut again, &wanted, &upload, &mut |_| {}).unwrap();
    assert_eq!(
        (up.copied.len(), up.present),
        (0, 2),
        "the bucket has both now"
    );
    assert!(again.has(&leaf).unwrap());
    // Substituted into a fresh store, signature checked.
    let dst = LocalStore::open(StoreLocation::new(dir.path().join("dst"))).unwrap();
    let trusted: TrustedKeys = [key.to_public()].into_iter().collect();
    let subs = Substituters::from_urls(vec![url], "/nix/store", opts, trusted, true);
    let plan = subs.plan(&dst, &wanted, &|_| {}).unwrap();
    assert_eq!(plan.fetch.len(), 2);
    assert!(plan.missing.is_empty());
    subs.fetch(&dst, &plan, &|_| {}).unwrap();
    for p in [&leaf, &top] {
        assert!(dst.is_valid_path(p).unwrap());
        interop::assert_same_tree(
            &interop::real_path(&dir.path().join("src"), &p.to_absolute("/nix/store")),
            &interop::real_path(&dir.path().join("dst"), &p.to_absolute("/nix/store")),
        );
    }
}
