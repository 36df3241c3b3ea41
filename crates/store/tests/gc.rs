//! Garbage collection, roots and profile generations on temporary store roots.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kiln_formats::hash::{Hash, HashAlgo};
use kiln_formats::store_path::{FileIngestionMethod, StorePath};
use kiln_store::profile::{find_profiles, parse_age, Profile, ProfileError};
use kiln_store::{
    GcAction, GcEvent, GcOptions, LocalStore, PathInfo, RootNotice, Store, StoreLocation,
};

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreLocation::new(root)).unwrap()
}

fn abs(p: &StorePath) -> String {
    p.to_absolute("/nix/store")
}

fn text(store: &LocalStore, name: &str, refs: &[&StorePath]) -> StorePath {
    let refs: BTreeSet<StorePath> = refs.iter().map(|p| (*p).clone()).collect();
    let body: String = refs.iter().map(|r| format!("{}\n", abs(r))).collect();
    store
        .add_text(name, format!("{name}\n{body}").as_bytes(), &refs)
        .unwrap()
        .path
}

fn gc(store: &LocalStore, action: GcAction) -> (BTreeSet<String>, Vec<GcEvent>) {
    gc_with(
        store,
        GcOptions {
            action,
            ..GcOptions::default()
        },
    )
}

fn gc_with(store: &LocalStore, options: GcOptions) -> (BTreeSet<String>, Vec<GcEvent>) {
    let mut events = Vec::new();
    let res = store
        .collect_garbage(&options, &mut |e| events.push(e))
        .unwrap();
    (res.paths, events)
}

fn set(paths: &[&StorePath]) -> BTreeSet<String> {
    paths.iter().map(|p| abs(p)).collect()
}

fn gcroots(root: &Path) -> PathBuf {
    root.join("nix/var/nix/gcroots")
}

/// The paths of the story: a chain, a diamond, a profile's two targets and loose garbage.
struct Story {
    chain: [StorePath; 3],
    diamond: [StorePath; 4],
    gen1: StorePath,
    gen2: StorePath,
    garbage: [StorePath; 2],
}

fn make_story(root: &Path, work: &Path) -> Story {
    let store = open(root);
    let c1 = text(&store, "c1", &[]);
    let c2 = text(&store, "c2", &[&c1]);
    let c3 = text(&store, "c3", &[&c2]);
    let bottom = text(&store, "bottom", &[]);
    let left = text(&store, "left", &[&bottom]);
    let right = text(&store, "right", &[&bottom]);
    let top = text(&store, "top", &[&left, &right]);
    let src = work.join("gen1-src");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("sub/f"), "one\n").unwrap();
    let gen1 = store
        .add_path(
            "gen1",
            &src,
            FileIngestionMethod::Recursive,
            HashAlgo::Sha256,
        )
        .unwrap()
        .path;
    let gen2 = text(&store, "gen2", &[&c1]);
    let g1 = text(&store, "g1", &[]);
    let g2 = text(&store, "g2", &[&g1, &bottom]);
    // A direct root, an indirect root through a `result` link, and a profile.
    symlink(abs(&c3), gcroots(root).join("chain")).unwrap();
    store.add_perm_root(&top, &work.join("result")).unwrap();
    let profile = Profile::new(root.join("nix/var/nix/profiles/p"));
    assert_eq!(profile.create_generation(&store, &gen1).unwrap(), 1);
    assert_eq!(profile.create_generation(&store, &gen2).unwrap(), 2);
    Story {
        chain: [c1, c2, c3],
        diamond: [bottom, left, right, top],
        gen1,
        gen2,
        garbage: [g1, g2],
    }
}

#[test]
fn collection_keeps_what_roots_reach_and_deletes_exactly_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let s = make_story(&root, dir.path());
    // The adding store is gone, so its temporary roots are too.
    let store = open(&root);
    let (dead, _) = gc(&store, GcAction::ReturnDead);
    assert_eq!(dead, set(&[&s.garbage[0], &s.garbage[1]]));
    let (live, _) = gc(&store, GcAction::ReturnLive);
    let mut all: Vec<&StorePath> = s.chain.iter().chain(&s.diamond).collect();
    all.extend([&s.gen1, &s.gen2]);
    assert_eq!(live, set(&all));
    let roots = store.find_roots(false, &mut |_| {}).unwrap();
    let c3_roots = &roots[&s.chain[2]];
    assert!(
        c3_roots.iter().any(|l| l.ends_with("gcroots/chain")),
        "{roots:?}"
    );
    assert!(roots[&s.diamond[3]].iter().any(|l| l.ends_with("/result")));
    assert!(roots[&s.gen1]
        .iter()
        .any(|l| l.ends_with("profiles/p-1-link")));

    let (deleted, events) = gc(&store, GcAction::DeleteDead);
    assert_eq!(deleted, dead);
    // Referrers go first: g2 before g1.
    let order: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            GcEvent::Deleting(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(order, [&abs(&s.garbage[1]), &abs(&s.garbage[0])]);
    assert!(store.verify(true).unwrap().is_empty());
    for p in &all {
        assert!(store.real_path(p).exists(), "{p}");
    }
    assert!(!store.real_path(&s.garbage[0]).exists());
    // Nothing more to collect.
    assert!(gc(&store, GcAction::DeleteDead).0.is_empty());

    // Without the chain's root, exactly the chain goes but c1, which gen2 still needs.
    fs::remove_file(gcroots(&root).join("chain")).unwrap();
    assert_eq!(
        gc(&store, GcAction::DeleteDead).0,
        set(&[&s.chain[1], &s.chain[2]])
    );
    // Without `result`, its auto link is stale: removed, and the diamond goes.
    fs::remove_file(dir.path().join("result")).unwrap();
    let (deleted, events) = gc(&store, GcAction::DeleteDead);
    assert_eq!(deleted, set(&s.diamond.iter().collect::<Vec<_>>()));
    assert!(events.iter().any(|e| matches!(
        e,
        GcEvent::Root(RootNotice::RemovedStaleLink { target, .. }) if target.ends_with("result")
    )));
    // Deleting old generations frees the first generation's tree.
    let profile = Profile::new(root.join("nix/var/nix/profiles/p"));
    assert_eq!(profile.delete_old(false).unwrap(), [1]);
    assert_eq!(gc(&store, GcAction::DeleteDead).0, set(&[&s.gen1]));
    assert_eq!(
        store.all_valid_paths().unwrap(),
        BTreeSet::from([s.gen2.clone(), s.chain[0].clone()])
    );
    assert!(store.verify(true).unwrap().is_empty());
}

#[test]
fn nix_finds_the_same_dead_and_live_paths() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    make_story(&root, dir.path());
    let state = dir.path().join("ref-state");
    let nix = |flag: &str| {
        let out = kiln_testkit::reference_command("nix-store", &state)
            .arg("--store")
            .arg(format!("local?root={}", root.display()))
            .args(["--gc", flag])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Nix 2.8 also lists (and deletes, even with --print-dead) the store directory's
        // entries that are not named like store paths, such as `.kiln-tmp`; those are not
        // dead paths.
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("/nix/store/."))
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
    };
    let store = open(&root);
    assert_eq!(gc(&store, GcAction::ReturnDead).0, nix("--print-dead"));
    assert_eq!(gc(&store, GcAction::ReturnLive).0, nix("--print-live"));
}

#[test]
fn max_freed_stops_after_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    {
        let store = open(&root);
        for i in 0..5 {
            text(&store, &format!("g{i}"), &[]);
        }
    }
    let store = open(&root);
    let mut freed = 0;
    let res = store
        .collect_garbage(
            &GcOptions {
                max_freed: 1,
                ..GcOptions::default()
            },
            &mut |e| {
                if let GcEvent::LimitReached(n) = e {
                    freed = n;
                }
            },
        )
        .unwrap();
    assert_eq!(freed, 1);
    assert_eq!(res.paths.len(), 1);
    assert_eq!(res.bytes_freed, 3, "one file of 3 bytes: g<i>\\n");
    assert_eq!(store.all_valid_paths().unwrap().len(), 4);
    assert!(store.verify(true).unwrap().is_empty());
    let res = store
        .collect_garbage(&GcOptions::default(), &mut |_| {})
        .unwrap();
    assert_eq!(res.paths.len(), 4);
    assert_eq!(res.bytes_freed, 12);
}

/// A derivation `d` with output `o` registered with `d` as its deriver.
fn derivation_and_output(store: &LocalStore) -> (StorePath, StorePath) {
    let out = StorePath::from_base_name("0000000000000000000000000000000a-o").unwrap();
    let drv_text = format!(
        "Derive([(\"out\",\"{0}\",\"\",\"\")],[],[],\"x86_64-linux\",\"/bin/sh\",[],[(\"out\",\"{0}\")])",
        abs(&out)
    );
    let drv = store
        .add_text("o.drv", drv_text.as_bytes(), &BTreeSet::new())
        .unwrap()
        .path;
    let real = store.real_path(&out);
    fs::write(&real, "built\n").unwrap();
    kiln_store::canonicalise(&real).unwrap();
    let mut nar = Vec::new();
    kiln_formats::nar::dump(&real, &mut nar).unwrap();
    store
        .register_valid_paths(&[PathInfo {
            path: out.clone(),
            nar_hash: Hash::digest_bytes(HashAlgo::Sha256, &nar),
            nar_size: nar.len() as u64,
            references: BTreeSet::new(),
            deriver: Some(drv.clone()),
            ca: None,
            sigs: BTreeSet::new(),
            registration_time: 1,
            ultimate: true,
        }])
        .unwrap();
    (drv, out)
}

#[test]
fn keep_derivations_and_keep_outputs_follow_nix() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let (drv, out) = derivation_and_output(&open(&root));
    let store = open(&root);
    let dead = |keep_derivations, keep_outputs| {
        gc_with(
            &store,
            GcOptions {
                action: GcAction::ReturnDead,
                keep_derivations,
                keep_outputs,
                ..GcOptions::default()
            },
        )
        .0
    };
    // A root on the output: keep-derivations (the default) keeps its deriver.
    symlink(abs(&out), gcroots(&root).join("out")).unwrap();
    assert_eq!(dead(true, false), BTreeSet::new());
    assert_eq!(dead(false, false), set(&[&drv]));
    // A root on the derivation: keep-outputs keeps its output.
    fs::remove_file(gcroots(&root).join("out")).unwrap();
    symlink(abs(&drv), gcroots(&root).join("drv")).unwrap();
    assert_eq!(dead(true, false), set(&[&out]));
    assert_eq!(dead(true, true), BTreeSet::new());
}

#[test]
fn temporary_roots_keep_paths_until_their_store_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let adder = open(&root);
    let p = text(&adder, "fresh", &[]);
    let other = open(&root);
    // The adder's temporary root, read by a collector in another store (its lock is held).
    let roots = other.find_roots(false, &mut |_| {}).unwrap();
    assert!(
        roots[&p].iter().any(|o| o.starts_with("{temp:")),
        "{roots:?}"
    );
    assert!(gc(&other, GcAction::DeleteDead).0.is_empty());
    assert!(other.is_valid_path(&p).unwrap());
    // A path added but not yet valid (only its temporary root and a stray file) stays too.
    let q = StorePath::from_base_name("0000000000000000000000000000000b-partial").unwrap();
    adder.add_temp_root(&q).unwrap();
    fs::write(other.real_path(&q), "half").unwrap();
    assert!(gc(&other, GcAction::DeleteDead).0.is_empty());
    assert!(other.real_path(&q).exists());
    drop(adder);
    let (deleted, _) = gc(&other, GcAction::DeleteDead);
    assert_eq!(deleted, set(&[&p, &q]));
    assert!(!other.real_path(&q).exists());
}

#[test]
fn stale_temporary_roots_files_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let store = open(&root);
    let temproots = root.join("nix/var/nix/temproots");
    // A dead process's file: nobody holds its lock.
    let p = StorePath::from_base_name("0000000000000000000000000000000c-x").unwrap();
    fs::write(temproots.join("999999"), format!("{}\0", abs(&p))).unwrap();
    let mut notices = Vec::new();
    let roots = store.find_roots(false, &mut |n| notices.push(n)).unwrap();
    assert!(roots.is_empty(), "{roots:?}");
    assert!(
        matches!(&notices[..], [RootNotice::RemovedStaleTempRoots(f)] if f.ends_with("999999"))
    );
    assert!(!temproots.join("999999").exists());
}

#[test]
fn runtime_roots_keep_open_files_and_working_directories() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let (file, tree) = {
        let store = open(&root);
        let f = text(&store, "opened", &[]);
        let src = dir.path().join("cwd-src");
        fs::create_dir(&src).unwrap();
        fs::write(src.join("x"), "x").unwrap();
        let t = store
            .add_path(
                "cwd",
                &src,
                FileIngestionMethod::Recursive,
                HashAlgo::Sha256,
            )
            .unwrap()
            .path;
        (f, t)
    };
    let store = open(&root);
    let mut open_file = Command::new("sleep")
        .arg("60")
        .stdin(fs::File::open(store.real_path(&file)).unwrap())
        .spawn()
        .unwrap();
    let mut in_dir = Command::new("sleep")
        .arg("60")
        .current_dir(store.real_path(&tree))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let roots = store.find_roots(false, &mut |_| {}).unwrap();
    let (dead, _) = gc(&store, GcAction::DeleteDead);
    open_file.kill().unwrap();
    in_dir.kill().unwrap();
    open_file.wait().unwrap();
    in_dir.wait().unwrap();
    assert!(roots[&file].iter().any(|o| o.contains("/fd/")), "{roots:?}");
    assert!(
        roots[&tree].iter().any(|o| o.ends_with("/cwd")),
        "{roots:?}"
    );
    assert!(dead.is_empty(), "{dead:?}");
    assert_eq!(gc(&store, GcAction::DeleteDead).0, set(&[&file, &tree]));
}

#[test]
fn unused_links_are_removed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    {
        let store = open(&root);
        for i in 0..2 {
            let d = dir.path().join(format!("d{i}"));
            fs::create_dir(&d).unwrap();
            fs::write(d.join("same"), "shared contents\n").unwrap();
            fs::write(d.join("own"), format!("{i}\n")).unwrap();
            store
                .add_path("d", &d, FileIngestionMethod::Recursive, HashAlgo::Sha256)
                .unwrap();
        }
        assert_eq!(store.optimise().unwrap().files_linked, 1);
    }
    let store = open(&root);
    let res = store
        .collect_garbage(&GcOptions::default(), &mut |_| {})
        .unwrap();
    assert_eq!(res.paths.len(), 2);
    // Optimising gave every file a link: all three go with the paths.
    assert_eq!(res.links_removed, 3);
    // Two `own` files of 2 bytes and the shared 16 bytes once, each when its last link went.
    assert_eq!(res.bytes_freed, 2 + 2 + 16);
    assert_eq!(
        fs::read_dir(root.join("nix/store/.links")).unwrap().count(),
        0
    );
}

#[test]
fn killed_collection_leftovers_are_collected_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let (kept, gone) = {
        let store = open(&root);
        (text(&store, "kept", &[]), text(&store, "gone", &[]))
    };
    symlink(abs(&kept), gcroots(&root).join("kept")).unwrap();
    let store = open(&root);
    // What a collection killed between invalidating and deleting leaves: an invalid path's
    // files, and a lock file nobody holds.
    store.delete(&BTreeSet::from([gone.clone()])).unwrap();
    fs::write(store.real_path(&gone), "gone\n").unwrap();
    let lock = root.join(format!("nix/store/{}.lock", gone.base_name()));
    fs::write(&lock, "").unwrap();
    let (dead, _) = gc(&store, GcAction::ReturnDead);
    assert_eq!(dead, set(&[&gone]));
    assert_eq!(gc(&store, GcAction::DeleteDead).0, set(&[&gone]));
    assert!(!store.real_path(&gone).exists());
    assert!(!lock.exists());
    assert!(store.real_path(&kept).exists());
}

#[test]
fn generations_are_created_switched_rolled_back_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let store = open(&root);
    let targets: Vec<StorePath> = (0..4)
        .map(|i| text(&store, &format!("t{i}"), &[]))
        .collect();
    let profiles = root.join("nix/var/nix/profiles");
    let profile = Profile::new(profiles.join("per-user/u/profile"));
    assert_eq!(profile.current().unwrap(), None);
    for (i, t) in targets.iter().enumerate() {
        assert_eq!(profile.create_generation(&store, t).unwrap(), i as u64 + 1);
    }
    // The same target again is no new generation.
    assert_eq!(profile.create_generation(&store, &targets[3]).unwrap(), 4);
    let gens = profile.generations().unwrap();
    assert_eq!(
        gens.iter().map(|g| g.number).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert!(gens[3].current && !gens[2].current);
    assert_eq!(gens[0].target, PathBuf::from(abs(&targets[0])));
    assert_eq!(
        fs::read_link(profile.path()).unwrap(),
        PathBuf::from("profile-4-link")
    );
    assert_eq!(
        fs::read_link(&gens[1].path).unwrap(),
        PathBuf::from(abs(&targets[1]))
    );
    assert_eq!(
        find_profiles(&profiles).unwrap(),
        [profile.path().to_owned()]
    );

    assert_eq!(profile.rollback().unwrap(), 3);
    assert_eq!(profile.current().unwrap(), Some(3));
    profile.switch_to(1).unwrap();
    assert!(matches!(
        profile.rollback(),
        Err(ProfileError::NoOlderGeneration { current: 1, .. })
    ));
    assert!(matches!(
        profile.switch_to(9),
        Err(ProfileError::NoSuchGeneration { number: 9, .. })
    ));
    assert!(matches!(
        profile.delete_generations(&BTreeSet::from([1, 2]), false),
        Err(ProfileError::DeleteCurrent { number: 1, .. })
    ));
    profile.switch_to(4).unwrap();
    assert_eq!(
        profile
            .delete_generations(&BTreeSet::from([2, 7]), true)
            .unwrap(),
        [2]
    );
    assert_eq!(
        profile.generations().unwrap().len(),
        4,
        "a dry run changes nothing"
    );
    assert_eq!(
        profile
            .delete_generations(&BTreeSet::from([2, 7]), false)
            .unwrap(),
        [2]
    );
    // Ages: 1 is 30 days old, 3 is 10 days old, 4 is current and new. Older than 7 days keeps
    // 3 (the one in use 7 days ago) and deletes 1.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for (n, days) in [(1, 30), (3, 10)] {
        set_mtime(&profile.generation_path(n), now - days * 86400);
    }
    assert_eq!(parse_age("7d").unwrap(), 7 * 86400);
    assert!(matches!(parse_age("7"), Err(ProfileError::BadAge(_))));
    assert!(matches!(parse_age("0d"), Err(ProfileError::BadAge(_))));
    assert_eq!(
        profile.delete_older_than(now - 7 * 86400, false).unwrap(),
        [1]
    );
    assert_eq!(profile.delete_old(false).unwrap(), [3]);
    assert_eq!(
        profile
            .generations()
            .unwrap()
            .iter()
            .map(|g| g.number)
            .collect::<Vec<_>>(),
        [4]
    );
    // Each generation is also an indirect root, so a profile outside the state directory
    // keeps its target too.
    drop(store);
    let store = open(&root);
    let (dead, _) = gc(&store, GcAction::ReturnDead);
    assert_eq!(dead, set(&[&targets[0], &targets[1], &targets[2]]));
}

fn set_mtime(path: &Path, secs: i64) {
    use rustix::fs::{utimensat, AtFlags, Timespec, Timestamps, CWD};
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    utimensat(
        CWD,
        path,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// Not a test by itself: the body of the child process `concurrent_collections_...` starts.
/// It adds text paths (each referring to the previous one) for a while, checking after each
/// add that every path it added is still valid and present, and exits with a failure if not.
#[test]
fn child_adder_checking_its_paths() {
    let Some(root) = std::env::var_os("KILN_TEST_GC_ADDER_ROOT") else {
        return;
    };
    let store = open(Path::new(&root));
    let mut added: Vec<StorePath> = Vec::new();
    for i in 0..400 {
        let prev: Vec<&StorePath> = added.last().into_iter().collect();
        let p = text(&store, &format!("live{i}"), &prev);
        added.push(p);
        for p in &added {
            assert!(store.is_valid_path(p).unwrap(), "{p} was collected");
            assert!(store.real_path(p).exists(), "{p} lost its contents");
        }
    }
}

#[test]
fn concurrent_collections_never_take_a_live_process_s_paths() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let store = open(&root);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_adder_checking_its_paths",
            "--test-threads=1",
        ])
        .env("KILN_TEST_GC_ADDER_ROOT", &root)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut collections = 0;
    let mut garbage = 0;
    while child.try_wait().unwrap().is_none() {
        // Garbage of our own, added by a store that is then dropped.
        {
            let other = open(&root);
            text(&other, &format!("garbage{garbage}"), &[]);
            garbage += 1;
        }
        store
            .collect_garbage(&GcOptions::default(), &mut |_| {})
            .unwrap();
        collections += 1;
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the adder saw a path collected: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(collections > 3, "only {collections} collections ran");
    // With the adder gone, everything is garbage (the last collection of the loop may
    // already have taken it).
    store
        .collect_garbage(&GcOptions::default(), &mut |_| {})
        .unwrap();
    assert!(store.all_valid_paths().unwrap().is_empty());
    assert!(store.verify(true).unwrap().is_empty());
}

/// Nix 2.8 adding paths (each referring to the one before) while Kiln collects in a loop:
/// Nix's temporary roots, read from its file or sent to the collector's socket, keep every
/// path it made alive until it exits, so it never finds a reference gone.
#[test]
fn nix_adding_during_kiln_collections_keeps_its_paths() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let store = open(&root);
    let expr = dir.path().join("chain.nix");
    fs::write(
        &expr,
        r#"let t = i: builtins.toFile "t${toString i}" (if i == 0 then "start" else "after ${t (i - 1)}");
in derivation { name = "top"; system = "x86_64-linux"; builder = "/bin/sh"; t = t 1500; }"#,
    )
    .unwrap();
    let mut nix = kiln_testkit::reference_command("nix-instantiate", &dir.path().join("state"))
        .arg("--store")
        .arg(format!("local?root={}", root.display()))
        .arg(&expr)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut collections = 0;
    let mut deleted = 0;
    while nix.try_wait().unwrap().is_none() {
        let res = store
            .collect_garbage(&GcOptions::default(), &mut |e| {
                if std::env::var_os("KILN_DEBUG_GC").is_some() {
                    eprintln!("{collections}: {e:?}");
                }
            })
            .unwrap();
        deleted += res.paths.len();
        collections += 1;
    }
    let out = nix.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nix-instantiate failed after {collections} collections: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(collections > 3, "only {collections} collections ran");
    // Nothing Nix made was taken while it ran: it would have failed. Now it is all garbage
    // (the loop's last collection may have run after Nix exited).
    let drv = String::from_utf8(out.stdout).unwrap();
    assert!(drv.trim().ends_with("-top.drv"), "{drv}");
    store
        .collect_garbage(&GcOptions::default(), &mut |_| {})
        .unwrap();
    assert!(
        store.all_valid_paths().unwrap().is_empty(),
        "deleted {deleted}"
    );
    assert!(store.verify(true).unwrap().is_empty());
}

#[test]
fn a_profile_change_removes_only_its_own_stale_temporary_links() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let store = open(&root);
    let t = text(&store, "t", &[]);
    let profiles = root.join("nix/var/nix/profiles");
    fs::create_dir_all(&profiles).unwrap();
    // What a killed switch of `p` and a killed generation link of `p` leave, and another
    // profile's (`pp`) temporary link in progress.
    for stale in [".p.tmp-1-0", ".p-3-link.tmp-1-0", ".pp.tmp-2-0"] {
        symlink("x", profiles.join(stale)).unwrap();
    }
    let p = Profile::new(profiles.join("p"));
    assert_eq!(p.create_generation(&store, &t).unwrap(), 1);
    let mut left: Vec<String> = fs::read_dir(&profiles)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, [".pp.tmp-2-0", "p", "p-1-link"]);
}
