//! Binary caches end to end: upload a closure, substitute it into a fresh store, refuse what
//! is unsigned or corrupt, and interoperate with Nix 2.8 both ways (file:// caches).

use std::collections::BTreeSet;
use std::path::Path;

use kiln_cache::{copy_to, BinaryCache, Compression, Substituters, UploadOptions};
use kiln_formats::signing::{SecretKey, TrustedKeys};
use kiln_formats::store_path::StorePath;
use kiln_store::{LocalStore, Store, StoreLocation};
use kiln_testkit::interop;

const STORE_DIR: &str = "/nix/store";

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreLocation::new(root)).unwrap()
}

/// A closure of three paths: `top` refers to `mid`, which refers to `leaf`.
fn closure(store: &LocalStore) -> (StorePath, BTreeSet<StorePath>) {
    let leaf = store
        .add_text("leaf", b"the leaf", &BTreeSet::new())
        .unwrap()
        .path;
    let mid_text = format!("mid refers to {}", leaf.to_absolute(STORE_DIR));
    let mid = store
        .add_text("mid", mid_text.as_bytes(), &BTreeSet::from([leaf.clone()]))
        .unwrap()
        .path;
    let top_text = format!("top refers to {}", mid.to_absolute(STORE_DIR));
    let top = store
        .add_text("top", top_text.as_bytes(), &BTreeSet::from([mid.clone()]))
        .unwrap()
        .path;
    (top.clone(), BTreeSet::from([leaf, mid, top]))
}

fn key() -> SecretKey {
    SecretKey::from_seed("test-cache-1", [7; 32]).unwrap()
}

fn upload(store: &LocalStore, url: &str, top: &StorePath, compression: Compression, sign: bool) {
    let mut cache = BinaryCache::open(url, STORE_DIR).unwrap();
    let opts = UploadOptions {
        compression,
        secret_keys: if sign { vec![key()] } else { vec![] },
        scratch_dir: std::env::temp_dir(),
    };
    let up = copy_to(
        store,
        &mut cache,
        &BTreeSet::from([top.clone()]),
        &opts,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(up.copied.len() + up.present, 3);
}

fn substituters(url: &str, trusted: bool, require_sigs: bool) -> Substituters {
    let cache = BinaryCache::open(url, STORE_DIR).unwrap();
    let keys: TrustedKeys = if trusted {
        [key().to_public()].into_iter().collect()
    } else {
        TrustedKeys::new()
    };
    Substituters::new(vec![cache], keys, require_sigs)
}

fn nar_of(store: &LocalStore, p: &StorePath) -> Vec<u8> {
    let mut out = Vec::new();
    store.dump_path(p, &mut out).unwrap();
    out
}

#[test]
fn a_signed_closure_round_trips_in_every_compression() {
    for compression in [
        Compression::Xz,
        Compression::Zstd,
        Compression::Bzip2,
        Compression::None,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let src = open(&dir.path().join("src"));
        let (top, all) = closure(&src);
        let url = format!("file://{}/cache", dir.path().display());
        upload(&src, &url, &top, compression, true);
        // A second upload finds everything there.
        let mut cache = BinaryCache::open(&url, STORE_DIR).unwrap();
        let opts = UploadOptions {
            compression,
            secret_keys: vec![],
            scratch_dir: std::env::temp_dir(),
        };
        let again = copy_to(
            &src,
            &mut cache,
            &BTreeSet::from([top.clone()]),
            &opts,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((again.copied.len(), again.present), (0, 3));

        let dst = open(&dir.path().join("dst"));
        let subs = substituters(&url, true, true);
        let plan = subs
            .plan(&dst, &BTreeSet::from([top.clone()]), &|_| {})
            .unwrap();
        assert!(plan.missing.is_empty());
        let order: Vec<_> = plan
            .fetch
            .iter()
            .map(|s| s.info.path.name().to_owned())
            .collect();
        assert_eq!(order, ["leaf", "mid", "top"], "references first");
        subs.fetch(&dst, &plan, &|_| {}).unwrap();
        for p in &all {
            assert_eq!(nar_of(&src, p), nar_of(&dst, p), "{compression:?}");
            let info = dst.query_path_info(p).unwrap().unwrap();
            assert_eq!(
                info.references,
                src.query_path_info(p).unwrap().unwrap().references
            );
            assert!(!info.sigs.is_empty(), "the signature travels with the path");
        }
    }
}

#[test]
fn unsigned_paths_are_refused_unless_require_sigs_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let src = open(&dir.path().join("src"));
    let (top, _) = closure(&src);
    let url = format!("file://{}/cache", dir.path().display());
    upload(&src, &url, &top, Compression::Xz, false);
    let dst = open(&dir.path().join("dst"));
    let wanted = BTreeSet::from([top.clone()]);
    let skipped = std::sync::Mutex::new(0);
    let plan = substituters(&url, true, true)
        .plan(&dst, &wanted, &|e| {
            if let kiln_cache::SubstEvent::Skipped { .. } = e {
                *skipped.lock().unwrap() += 1;
            }
        })
        .unwrap();
    assert!(plan.fetch.is_empty());
    assert_eq!(plan.missing, wanted);
    assert_eq!(*skipped.lock().unwrap(), 1);
    // Signed by a key that is not trusted: refused just the same.
    let dir2 = tempfile::tempdir().unwrap();
    let url2 = format!("file://{}/cache", dir2.path().display());
    upload(&src, &url2, &top, Compression::Xz, true);
    let plan = substituters(&url2, false, true)
        .plan(&dst, &wanted, &|_| {})
        .unwrap();
    assert!(plan.fetch.is_empty());
    // Without require-sigs anything goes.
    let subs = substituters(&url, false, false);
    let plan = subs.plan(&dst, &wanted, &|_| {}).unwrap();
    assert_eq!(plan.fetch.len(), 3);
    subs.fetch(&dst, &plan, &|_| {}).unwrap();
    assert!(dst.is_valid_path(&top).unwrap());
}

/// The files (not directories) under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files.extend(walk(&p));
        } else {
            files.push(p);
        }
    }
    files
}

#[test]
fn a_corrupt_or_truncated_nar_registers_nothing() {
    for damage in ["flip", "truncate"] {
        let dir = tempfile::tempdir().unwrap();
        let src = open(&dir.path().join("src"));
        let (top, _) = closure(&src);
        let url = format!("file://{}/cache", dir.path().display());
        upload(&src, &url, &top, Compression::None, true);
        // Damage the top path's NAR (the one naming "top refers to").
        let cache = BinaryCache::open(&url, STORE_DIR).unwrap();
        let info = cache.narinfo(&top).unwrap().unwrap();
        let nar_file = dir.path().join("cache").join(&info.url);
        let mut bytes = std::fs::read(&nar_file).unwrap();
        match damage {
            "flip" => {
                let i = bytes.windows(3).position(|w| w == b"top").unwrap();
                bytes[i] = b'T';
            }
            _ => bytes.truncate(bytes.len() - 20),
        }
        std::fs::write(&nar_file, bytes).unwrap();
        let dst = open(&dir.path().join("dst"));
        let subs = substituters(&url, true, true);
        let plan = subs
            .plan(&dst, &BTreeSet::from([top.clone()]), &|_| {})
            .unwrap();
        let err = subs.fetch(&dst, &plan, &|_| {}).unwrap_err();
        assert!(!dst.is_valid_path(&top).unwrap(), "{damage}: {err}");
        if damage == "flip" {
            assert!(err.to_string().contains("do not match"), "{err}");
        }
        // The references before it are fine and stay; nothing of the bad one is left in
        // the store's temporary directory either.
        assert_eq!(dst.all_valid_paths().unwrap().len(), 2);
        let left = walk(&dir.path().join("dst/nix/store/.kiln-tmp"));
        assert!(left.iter().all(|p| p.ends_with(".lock")), "{left:?}");
        assert_eq!(dst.verify(true).unwrap(), vec![]);
    }
}

#[test]
fn a_narinfo_for_another_path_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let src = open(&dir.path().join("src"));
    let (top, all) = closure(&src);
    let url = format!("file://{}/cache", dir.path().display());
    upload(&src, &url, &top, Compression::Xz, true);
    let cache_dir = dir.path().join("cache");
    let leaf = all.iter().find(|p| p.name() == "leaf").unwrap();
    std::fs::copy(
        cache_dir.join(format!("{}.narinfo", leaf.hash_part())),
        cache_dir.join(format!("{}.narinfo", top.hash_part())),
    )
    .unwrap();
    let cache = BinaryCache::open(&url, STORE_DIR).unwrap();
    let err = cache.narinfo(&top).unwrap_err();
    assert!(err.to_string().contains("describes"), "{err}");
}

/// Nix 2.8 substitutes from a cache Kiln wrote, checking Kiln's signature with the public key.
#[test]
fn nix_substitutes_from_a_cache_kiln_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let src = open(&dir.path().join("src"));
    let (top, all) = closure(&src);
    let url = format!("file://{}/cache", dir.path().display());
    upload(&src, &url, &top, Compression::Xz, true);
    let nix_root = dir.path().join("nix-root");
    interop::reference_substitute(
        &dir.path().join("nix-state"),
        &nix_root,
        &top.to_absolute(STORE_DIR),
        &url,
        &key().to_public().to_string(),
    );
    // Nix's copy is Kiln's, byte for byte.
    for p in &all {
        let abs = p.to_absolute(STORE_DIR);
        interop::assert_same_tree(
            &interop::real_path(&dir.path().join("src"), &abs),
            &interop::real_path(&nix_root, &abs),
        );
    }
}

/// Kiln substitutes from a cache `nix copy --to file://` wrote (xz), signed with a key Nix
/// generated.
#[test]
fn kiln_substitutes_from_a_cache_nix_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("nix-state");
    let nix_root = dir.path().join("nix-root");
    let nix_store_url = format!("local?root={}", nix_root.display());
    let file = dir.path().join("file.txt");
    std::fs::write(&file, "added by nix").unwrap();
    let run = |cmd: &mut std::process::Command| {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let added = run(kiln_testkit::reference_command("nix-store", &state)
        .args(["--store", &nix_store_url, "--add"])
        .arg(&file));
    let path = StorePath::from_absolute(STORE_DIR, added.trim()).unwrap();
    let secret = run(kiln_testkit::reference_command("nix-store", &state)
        .args(["--generate-binary-cache-key", "nix-made-1"])
        .arg(dir.path().join("sk"))
        .arg(dir.path().join("pk")));
    assert!(secret.is_empty());
    let url = format!("file://{}/cache", dir.path().display());
    run(kiln_testkit::reference_command("nix", &state)
        .args(["--extra-experimental-features", "nix-command", "copy"])
        .args(["--store", &nix_store_url, "--to"])
        .arg(format!(
            "{url}?secret-key={}",
            dir.path().join("sk").display()
        ))
        .arg(added.trim()));
    let public = std::fs::read_to_string(dir.path().join("pk")).unwrap();
    let cache = BinaryCache::open(&url, STORE_DIR).unwrap();
    assert_eq!(cache.narinfo(&path).unwrap().unwrap().compression, "xz");
    let trusted = TrustedKeys::parse_list(public.trim()).unwrap();
    // Nix's signature verifies with Kiln (not only the content address vouches for it).
    let narinfo = cache.narinfo(&path).unwrap().unwrap();
    assert_eq!(narinfo.verify(STORE_DIR, &trusted), 1);
    let subs = Substituters::new(vec![cache], trusted, true);
    let dst = open(&dir.path().join("dst"));
    let plan = subs
        .plan(&dst, &BTreeSet::from([path.clone()]), &|_| {})
        .unwrap();
    assert_eq!(plan.fetch.len(), 1);
    subs.fetch(&dst, &plan, &|_| {}).unwrap();
    let info = dst.query_path_info(&path).unwrap().unwrap();
    assert!(info.ca.is_some(), "the content address travels too");
    let abs = path.to_absolute(STORE_DIR);
    interop::assert_same_tree(
        &interop::real_path(&nix_root, &abs),
        &interop::real_path(&dir.path().join("dst"), &abs),
    );
}
