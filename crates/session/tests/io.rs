//! The evaluator's I/O over a store: what read-only evaluation writes (nothing but fetches).

use std::path::Path;

use kiln_eval::io::{EvalIo, FetchRequest};
use kiln_fetch::FetchSettings;
use kiln_store::{LocalStore, Store, StoreLocation};

#[test]
fn read_only_evaluation_still_fetches_into_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let io = kiln_session::ReadOnlyIo::new(&root, FetchSettings::new(dir.path().join("cache")));
    // Store writes other than fetches are only computed: the store is not even created.
    let text = io.add_text("t", b"text", &Default::default()).unwrap();
    assert!(!root.exists());
    assert!(io.is_valid_path(&text).unwrap());
    let file = dir.path().join("f");
    std::fs::write(&file, b"fetched\n").unwrap();
    let res = io
        .fetch(&FetchRequest::Url {
            url: format!("file://{}", file.display()),
            name: "f".into(),
            unpack: false,
            recursive: false,
            expected: None,
        })
        .unwrap();
    let logical = res.path.to_absolute("/nix/store");
    assert_eq!(io.read_file(Path::new(&logical)).unwrap(), b"fetched\n");
    assert!(io.is_valid_path(&res.path).unwrap());
    let store = LocalStore::open(StoreLocation::new(&root)).unwrap();
    assert!(store.is_valid_path(&res.path).unwrap());
    assert!(!store.is_valid_path(&text).unwrap());
}
