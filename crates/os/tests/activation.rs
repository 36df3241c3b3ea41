//! Switching fake toplevels (made through the store API, laid out as `docs/design/os.md`
//! says) into temporary roots: generations, `/etc` through `/etc/static`, users, boot entries,
//! rollback, failures that leave the root as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use kiln_formats::hash::HashAlgo;
use kiln_formats::store_path::{FileIngestionMethod, StorePath};
use kiln_os::{Action, OsError, System};
use kiln_store::Store as _;
use serde_json::json;

/// A toplevel to make.
#[derive(Clone)]
struct Spec {
    /// `etc` entries: name, contents, mode (`None`: a link).
    etc: Vec<(&'static str, &'static str, Option<&'static str>)>,
    /// Unit files (name, text) and `wants` links (target, unit).
    units: Vec<(&'static str, &'static str)>,
    wants: Vec<(&'static str, &'static str)>,
    /// Package names (`hello-1.0`) in `sw`'s closure.
    packages: Vec<&'static str>,
    kernel_params: &'static str,
    json: serde_json::Value,
}

fn base_json() -> serde_json::Value {
    json!({
        "version": 1,
        "hostName": "web",
        "stateVersion": "18.03",
        "users": {
            "root": { "uid": 0, "group": "root", "extraGroups": [], "description": "System administrator",
                      "home": "/root", "createHome": true, "shell": "/run/current-system/sw/bin/sh",
                      "isSystemUser": true, "hashedPassword": null, "authorizedKeys": [] },
            "alice": { "uid": null, "group": "users", "extraGroups": ["wheel"], "description": "Alice",
                       "home": "/home/alice", "createHome": true, "shell": "/run/current-system/sw/bin/sh",
                       "isSystemUser": false, "hashedPassword": "$6$abc", "authorizedKeys": [] },
            "sshd": { "uid": null, "group": "sshd", "extraGroups": [], "description": "",
                      "home": "/var/empty", "createHome": false, "shell": "/run/current-system/sw/bin/nologin",
                      "isSystemUser": true, "hashedPassword": null, "authorizedKeys": [] }
        },
        "groups": {
            "root": { "gid": 0, "members": [] },
            "users": { "gid": 100, "members": [] },
            "wheel": { "gid": 1, "members": [] },
            "sshd": { "gid": null, "members": [] }
        },
        "mutableUsers": false,
        "tmpfiles": ["d /var/lib/foo 0750 root root -"],
        "etc": {},
        "units": ["sshd.service", "multi-user.target"],
        "kernel": null,
        "initrd": null,
        "kernelParams": ["console=ttyS0"],
        "state": { "data": [] }
    })
}

fn gen1() -> Spec {
    Spec {
        etc: vec![
            ("hostname", "web\n", None),
            ("motd", "hello\n", None),
            ("ssh/sshd_config", "Port 22\n", None),
            ("sudoers", "root ALL=(ALL) ALL\n", Some("0440")),
        ],
        units: vec![
            (
                "sshd.service",
                "[Unit]\nDescription=SSH\n[Service]\nExecStart=/bin/sshd\n",
            ),
            ("multi-user.target", "[Unit]\nDescription=Multi-User\n"),
            ("cron.service", "[Service]\nExecStart=/bin/cron\n"),
        ],
        wants: vec![
            ("multi-user.target", "sshd.service"),
            ("multi-user.target", "cron.service"),
        ],
        packages: vec!["hello-1.0", "tool-2.1", "old-3"],
        kernel_params: "console=ttyS0",
        json: base_json(),
    }
}

/// Generation 2: hostname changed, motd gone (and `ssh/` with it), a new file, sshd changed,
/// cron removed, a package upgraded, one removed, one added, other kernel parameters.
fn gen2() -> Spec {
    Spec {
        etc: vec![
            ("hostname", "web2\n", None),
            ("issue", "Kiln\n", None),
            ("sudoers", "root ALL=(ALL) ALL\n", Some("0440")),
        ],
        units: vec![
            (
                "sshd.service",
                "[Unit]\nDescription=SSH\n[Service]\nExecStart=/bin/sshd -D\n",
            ),
            ("multi-user.target", "[Unit]\nDescription=Multi-User\n"),
            ("nginx.service", "[Service]\nExecStart=/bin/nginx\n"),
        ],
        wants: vec![
            ("multi-user.target", "sshd.service"),
            ("multi-user.target", "nginx.service"),
        ],
        packages: vec!["hello-1.1", "tool-2.1", "new-0.5"],
        kernel_params: "console=ttyS0 quiet",
        json: {
            let mut j = base_json();
            j["tmpfiles"] = json!([]);
            j
        },
    }
}

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    root: PathBuf,
    n: std::cell::Cell<u32>,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let root = dir.join("root");
        fs::create_dir(&root).unwrap();
        Fixture {
            _tmp: tmp,
            dir,
            root,
            n: 0.into(),
        }
    }

    fn open(&self) -> System {
        System::open(&self.root).unwrap()
    }

    /// Makes the toplevel of `spec` in the root's store.
    fn toplevel(&self, spec: &Spec) -> StorePath {
        self.toplevel_with(spec, None)
    }

    /// The host's static busybox added to the root's store: its logical path.
    fn busybox(&self) -> String {
        let dir = self.dir.join("busybox-src");
        fs::create_dir_all(dir.join("bin")).unwrap();
        fs::copy("/bin/busybox", dir.join("bin/busybox")).unwrap();
        let sys = self.open();
        let p = sys
            .store()
            .add_path(
                "busybox",
                &dir,
                FileIngestionMethod::Recursive,
                HashAlgo::Sha256,
            )
            .unwrap()
            .path;
        p.to_absolute("/nix/store")
    }

    /// Makes the toplevel of `spec` with `activate` (a busybox `sh` script body) when given.
    fn toplevel_with(&self, spec: &Spec, activate: Option<&str>) -> StorePath {
        // Before the root is opened below: opening takes its lock.
        let busybox = activate.map(|_| self.busybox());
        let sys = self.open();
        let store = sys.store();
        let mut refs = BTreeSet::new();
        for p in &spec.packages {
            refs.insert(
                store
                    .add_text(p, p.as_bytes(), &BTreeSet::new())
                    .unwrap()
                    .path,
            );
        }
        let text: String = refs
            .iter()
            .map(|r| r.to_absolute("/nix/store") + "\n")
            .collect();
        let sw = store
            .add_text("system-path", text.as_bytes(), &refs)
            .unwrap()
            .path;

        self.n.set(self.n.get() + 1);
        let src = self.dir.join(format!("src-{}", self.n.get()));
        let etc = src.join("etc");
        fs::create_dir_all(etc.join("systemd/system")).unwrap();
        for (name, contents, mode) in &spec.etc {
            let p = etc.join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, contents).unwrap();
            if let Some(m) = mode {
                fs::write(etc.join(format!("{name}.mode")), m).unwrap();
                fs::write(etc.join(format!("{name}.uid")), "0").unwrap();
                fs::write(etc.join(format!("{name}.gid")), "0").unwrap();
            }
        }
        for (name, text) in &spec.units {
            fs::write(etc.join("systemd/system").join(name), text).unwrap();
        }
        for (target, unit) in &spec.wants {
            let d = etc.join(format!("systemd/system/{target}.wants"));
            fs::create_dir_all(&d).unwrap();
            std::os::unix::fs::symlink(format!("../{unit}"), d.join(unit)).unwrap();
        }
        fs::write(
            src.join("kiln-system.json"),
            serde_json::to_vec(&spec.json).unwrap(),
        )
        .unwrap();
        fs::write(src.join("kernel-params"), spec.kernel_params).unwrap();
        fs::write(src.join("nixos-version"), "18.03.kiln").unwrap();
        std::os::unix::fs::symlink(sw.to_absolute("/nix/store"), src.join("sw")).unwrap();
        if let Some(body) = activate {
            let script = src.join("activate");
            let busybox = busybox.as_deref().expect("made above");
            fs::write(&script, format!("#!{busybox}/bin/busybox sh\n{body}")).unwrap();
            fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        }
        store
            .add_path(
                "kiln-system-web",
                &src,
                FileIngestionMethod::Recursive,
                HashAlgo::Sha256,
            )
            .unwrap()
            .path
    }
}

/// The root outside its store and Kiln's state: what a generation is made of.
fn system_tree(root: &Path) -> BTreeMap<String, String> {
    let mut t = kiln_testkit::tree::listing(root);
    t.retain(|k, _| !k.starts_with("nix/") && !k.starts_with("var/lib/kiln"));
    t
}

fn read(root: &Path, p: &str) -> String {
    fs::read_to_string(root.join(p)).unwrap()
}

fn link(root: &Path, p: &str) -> String {
    fs::read_link(root.join(p))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_switch_into_an_empty_root_makes_generation_1() {
    let f = Fixture::new();
    let mut spec = gen1();
    spec.etc.push((
        "resolv.conf",
        "nameserver 10.0.0.1\n",
        Some("direct-symlink"),
    ));
    let top = f.toplevel(&spec);
    let abs = top.to_absolute("/nix/store");
    let out = f.open().switch(&top, Action::Switch).unwrap();
    let root = &f.root;
    assert_eq!(out.generation, Some(1));
    assert_eq!(link(root, "nix/var/nix/profiles/system"), "system-1-link");
    assert_eq!(link(root, "nix/var/nix/profiles/system-1-link"), abs);
    assert_eq!(link(root, "run/current-system"), abs);
    assert_eq!(link(root, "etc/static"), format!("{abs}/etc"));
    assert_eq!(link(root, "etc/hostname"), "/etc/static/hostname");
    assert_eq!(
        link(root, "etc/ssh/sshd_config"),
        "/etc/static/ssh/sshd_config"
    );
    assert_eq!(
        link(
            root,
            "etc/systemd/system/multi-user.target.wants/sshd.service"
        ),
        "/etc/static/systemd/system/multi-user.target.wants/sshd.service"
    );
    let resolved = kiln_os::fsutil::resolve(root, Path::new("/etc/hostname")).unwrap();
    assert_eq!(fs::read_to_string(resolved).unwrap(), "web\n");
    // A copy for an entry with a mode.
    let sudoers = root.join("etc/sudoers");
    assert!(fs::symlink_metadata(&sudoers).unwrap().is_file());
    assert_eq!(
        fs::metadata(&sudoers).unwrap().permissions().mode() & 0o777,
        0o440
    );
    // Users: explicit ids kept, sshd from 999 down, alice from 1000 up; groups likewise.
    assert_eq!(
        read(root, "etc/passwd"),
        "root:x:0:0:System administrator:/root:/run/current-system/sw/bin/sh\n\
         sshd:x:999:999::/var/empty:/run/current-system/sw/bin/nologin\n\
         alice:x:1000:100:Alice:/home/alice:/run/current-system/sw/bin/sh\n"
    );
    assert_eq!(
        read(root, "etc/group"),
        "root:x:0:\nwheel:x:1:alice\nusers:x:100:\nsshd:x:999:\n"
    );
    assert_eq!(
        read(root, "etc/shadow"),
        "root:!:1::::::\nsshd:!:1::::::\nalice:$6$abc:1::::::\n"
    );
    assert_eq!(
        read(root, "var/lib/kiln/uid-map"),
        "alice:1000\nroot:0\nsshd:999\n"
    );
    assert!(root.join("home/alice").is_dir());
    assert_eq!(
        fs::metadata(root.join("var/lib/foo"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o750
    );
    // Boot entries.
    assert_eq!(
        read(root, "boot/loader/loader.conf"),
        "timeout 5\ndefault kiln-1.conf\n"
    );
    assert_eq!(
        read(root, "boot/loader/entries/kiln-1.conf"),
        format!(
            "title Kiln\nversion Generation 1 18.03.kiln\noptions init={abs}/init console=ttyS0\n"
        )
    );
    // The report of a first switch: everything is new.
    let r = &out.report;
    assert_eq!(r.from, None);
    assert_eq!(
        r.units.start,
        ["cron.service", "multi-user.target", "sshd.service"]
    );
    assert_eq!(
        r.added.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["hello", "old", "tool"]
    );
    assert!(!out.activated.units_executed);
    assert!(!root.join("nix/var/kiln/switch.json").exists());
    // Switching to the same toplevel again changes nothing and makes no new generation.
    let before = kiln_testkit::tree::listing(root);
    let again = f.open().switch(&top, Action::Switch).unwrap();
    assert_eq!(again.generation, Some(1));
    assert!(again.report.units.is_empty());
    assert_eq!(kiln_testkit::tree::listing(root), before);
}

#[test]
fn generation_2_removes_stale_entries_reports_and_rolls_back_exactly() {
    let f = Fixture::new();
    let root = &f.root;
    let (t1, t2) = (f.toplevel(&gen1()), f.toplevel(&gen2()));
    f.open().switch(&t1, Action::Switch).unwrap();
    // Files Kiln never made: one beside its entries, one where generation 2 wants `issue`.
    fs::write(root.join("etc/local.conf"), "mine\n").unwrap();
    fs::write(root.join("etc/issue"), "my issue\n").unwrap();
    let gen1_tree = system_tree(root);

    let out = f.open().switch(&t2, Action::Switch).unwrap();
    assert_eq!(out.generation, Some(2));
    assert_eq!(link(root, "nix/var/nix/profiles/system"), "system-2-link");
    assert!(
        !root.join("etc/motd").exists() && fs::symlink_metadata(root.join("etc/motd")).is_err()
    );
    assert!(
        !root.join("etc/ssh").exists(),
        "the directory Kiln made for ssh/ went with it"
    );
    assert!(fs::symlink_metadata(
        root.join("etc/systemd/system/multi-user.target.wants/cron.service")
    )
    .is_err());
    assert_eq!(read(root, "etc/local.conf"), "mine\n");
    assert_eq!(read(root, "etc/issue"), "my issue\n");
    assert_eq!(out.activated.etc.conflicts, ["issue"]);
    let r = &out.report;
    assert_eq!(
        r.etc_added,
        [
            "issue",
            "systemd/system/multi-user.target.wants/nginx.service",
            "systemd/system/nginx.service"
        ]
    );
    assert_eq!(r.etc_changed, ["hostname", "systemd/system/sshd.service"]);
    assert_eq!(
        r.etc_removed,
        [
            "motd",
            "ssh/sshd_config",
            "systemd/system/cron.service",
            "systemd/system/multi-user.target.wants/cron.service"
        ]
    );
    assert_eq!(r.units.start, ["nginx.service"]);
    assert_eq!(r.units.stop, ["cron.service"]);
    assert_eq!(r.units.restart, ["sshd.service"]);
    assert_eq!(r.added, [("new".to_string(), vec!["0.5".to_string()])]);
    assert_eq!(r.removed, [("old".to_string(), vec!["3".to_string()])]);
    assert_eq!(r.changed.len(), 1);
    assert_eq!(
        (
            r.changed[0].name.as_str(),
            r.changed[0].from.clone(),
            r.changed[0].to.clone()
        ),
        ("hello", vec!["1.0".to_string()], vec!["1.1".to_string()])
    );
    assert_eq!(r.reboot, ["kernel parameters"]);
    assert!(r.closure_from > 0 && r.closure_to > 0);
    assert_eq!(
        read(root, "boot/loader/loader.conf"),
        "timeout 5\ndefault kiln-2.conf\n"
    );
    assert!(root.join("boot/loader/entries/kiln-1.conf").is_file());

    let back = f.open().rollback(Action::Switch).unwrap();
    assert_eq!(back.generation, Some(1));
    assert_eq!(link(root, "nix/var/nix/profiles/system"), "system-1-link");
    assert_eq!(
        read(root, "boot/loader/loader.conf"),
        "timeout 5\ndefault kiln-1.conf\n"
    );
    let mut now = system_tree(root);
    // The boot entries of both generations stay; the rest is generation 1 exactly.
    assert!(now.remove("boot/loader/entries/kiln-2.conf").is_some());
    assert_eq!(now, gen1_tree);

    // Deleting generation 2 removes its boot entry; the current one cannot be deleted.
    let sys = f.open();
    assert_eq!(sys.delete_generations(&BTreeSet::from([2])).unwrap(), [2]);
    assert!(!root.join("boot/loader/entries/kiln-2.conf").exists());
    assert!(sys.delete_generations(&BTreeSet::from([1])).is_err());
}

#[test]
fn a_failing_check_leaves_the_root_as_it_was() {
    let f = Fixture::new();
    let root = &f.root;
    {
        let t = f.toplevel(&gen1());
        f.open().switch(&t, Action::Switch)
    }
    .unwrap();
    let before = kiln_testkit::tree::listing(root);
    let mut bad = gen2();
    bad.json["users"]["alice"]["group"] = json!("nosuchgroup");
    let t = f.toplevel(&bad);
    let before_store = {
        // Making the toplevel added store paths; compare what is outside the store.
        let mut t = kiln_testkit::tree::listing(root);
        t.retain(|k, _| !k.starts_with("nix/store") && !k.starts_with("nix/var/nix/db"));
        t
    };
    let err = f.open().switch(&t, Action::Switch).unwrap_err();
    assert!(matches!(err, OsError::UnknownGroup { .. }), "{err}");
    let mut after = kiln_testkit::tree::listing(root);
    after.retain(|k, _| !k.starts_with("nix/store") && !k.starts_with("nix/var/nix/db"));
    assert_eq!(after, before_store);
    assert_eq!(system_tree(root), {
        let mut b = before;
        b.retain(|k, _| !k.starts_with("nix/") && !k.starts_with("var/lib/kiln"));
        b
    });

    let mut bad = gen2();
    bad.json["tmpfiles"] = json!(["z /var/x"]);
    let err = {
        let t = f.toplevel(&bad);
        f.open().switch(&t, Action::Switch)
    }
    .unwrap_err();
    assert!(err.to_string().contains("unsupported type"), "{err}");
    assert_eq!(link(root, "nix/var/nix/profiles/system"), "system-1-link");
}

#[test]
fn a_failing_activation_step_restores_the_previous_etc() {
    let f = Fixture::new();
    let root = &f.root;
    {
        let t = f.toplevel(&gen1());
        f.open().switch(&t, Action::Switch)
    }
    .unwrap();
    // A file where tmpfiles wants a directory's parent: the step fails after /etc changed.
    fs::write(root.join("blocker"), "").unwrap();
    let mut bad = gen2();
    bad.json["tmpfiles"] = json!(["d /blocker/sub 0755 root root -"]);
    let t = f.toplevel(&bad);
    let etc_before = kiln_testkit::tree::listing(&root.join("etc"));
    let err = f.open().switch(&t, Action::Switch).unwrap_err();
    assert!(
        matches!(
            err,
            OsError::Activation {
                step: "tmpfiles",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(kiln_testkit::tree::listing(&root.join("etc")), etc_before);
    assert_eq!(link(root, "nix/var/nix/profiles/system"), "system-1-link");
    assert_eq!(
        read(root, "boot/loader/loader.conf"),
        "timeout 5\ndefault kiln-1.conf\n"
    );
    assert!(!root.join("nix/var/kiln/switch.json").exists());
}

#[test]
fn ids_are_remembered_and_mutable_users_keep_their_passwords() {
    let f = Fixture::new();
    let root = &f.root;
    let mut s = gen1();
    s.json["users"]["bob"] = json!({ "group": "users", "home": "/home/bob", "createHome": false });
    {
        let t = f.toplevel(&s);
        f.open().switch(&t, Action::Switch)
    }
    .unwrap();
    assert!(read(root, "etc/passwd").contains("bob:x:1001:100:"));
    // bob goes; carol comes and does not get bob's id; bob comes back with his.
    let mut s2 = gen1();
    s2.json["users"]["carol"] = json!({ "group": "users", "home": "/home/carol" });
    {
        let t = f.toplevel(&s2);
        f.open().switch(&t, Action::Switch)
    }
    .unwrap();
    assert!(read(root, "etc/passwd").contains("carol:x:1002:100:"));
    assert!(!read(root, "etc/passwd").contains("bob:"));
    let mut s3 = s2.clone();
    s3.json["users"]["bob"] = json!({ "group": "users", "home": "/home/bob" });
    s3.json["mutableUsers"] = json!(true);
    // A password changed on the machine survives with mutableUsers.
    let shadow = read(root, "etc/shadow").replace("alice:$6$abc:", "alice:$6$changed:");
    fs::write(root.join("etc/shadow"), shadow).unwrap();
    {
        let t = f.toplevel(&s3);
        f.open().switch(&t, Action::Switch)
    }
    .unwrap();
    let passwd = read(root, "etc/passwd");
    assert!(
        passwd.contains("bob:x:1001:100:") && passwd.contains("carol:x:1002:100:"),
        "{passwd}"
    );
    assert!(read(root, "etc/shadow").contains("alice:$6$changed:"));
}

#[test]
fn boot_and_test_do_half_a_switch_each() {
    let f = Fixture::new();
    let root = &f.root;
    let (t1, t2) = (f.toplevel(&gen1()), f.toplevel(&gen2()));
    f.open().switch(&t1, Action::Switch).unwrap();
    // boot: generation 2 is current and the default entry, generation 1 still active.
    let out = f.open().switch(&t2, Action::Boot).unwrap();
    assert_eq!(out.generation, Some(2));
    assert_eq!(
        read(root, "boot/loader/loader.conf"),
        "timeout 5\ndefault kiln-2.conf\n"
    );
    assert_eq!(
        link(root, "run/current-system"),
        t1.to_absolute("/nix/store")
    );
    assert!(fs::symlink_metadata(root.join("etc/motd")).is_ok());
    // test: generation 2 active, no generation made, the default entry unchanged.
    f.open().switch(&t1, Action::Boot).unwrap();
    let gens = f.open().generations().unwrap().len();
    let out = f.open().switch(&t2, Action::Test).unwrap();
    assert_eq!(out.generation, None);
    assert_eq!(f.open().generations().unwrap().len(), gens);
    assert_eq!(
        link(root, "run/current-system"),
        t2.to_absolute("/nix/store")
    );
    assert_eq!(
        read(root, "boot/loader/loader.conf"),
        "timeout 5\ndefault kiln-3.conf\n"
    );
}

#[test]
fn an_unknown_version_is_refused_before_anything_changes() {
    let f = Fixture::new();
    let mut s = gen1();
    s.json["version"] = json!(2);
    let t = f.toplevel(&s);
    let err = f.open().switch(&t, Action::Switch).unwrap_err();
    assert!(
        matches!(err, OsError::UnsupportedVersion { version: 2, .. }),
        "{err}"
    );
    assert!(!f.root.join("etc").exists());
}

#[test]
fn a_journal_left_by_a_killed_switch_is_completed_by_the_next_open() {
    // The reference: a clean switch to generation 2 in another root (same store paths).
    let clean = Fixture::new();
    let (c1, c2) = (clean.toplevel(&gen1()), clean.toplevel(&gen2()));
    clean.open().switch(&c1, Action::Switch).unwrap();
    clean.open().switch(&c2, Action::Switch).unwrap();
    let want = system_tree(&clean.root);

    // A switch killed right after its journal was written: the link is finished, nothing
    // else has changed.
    let f = Fixture::new();
    let (t1, t2) = (f.toplevel(&gen1()), f.toplevel(&gen2()));
    assert_eq!(
        (t1.clone(), t2.clone()),
        (c1, c2),
        "toplevels depend only on their contents"
    );
    f.open().switch(&t1, Action::Switch).unwrap();
    let link2 = f.root.join("nix/var/nix/profiles/system-2-link");
    f.open().store().add_perm_root(&t2, &link2).unwrap();
    let journal = json!({
        "action": "switch",
        "generation": 2,
        "toplevel": t2.to_absolute("/nix/store"),
        "previous": t1.to_absolute("/nix/store"),
    });
    let jpath = f.root.join("nix/var/kiln/switch.json");
    fs::write(&jpath, serde_json::to_vec(&journal).unwrap()).unwrap();
    // And a half-written temporary beside /etc/static.
    std::os::unix::fs::symlink("/nowhere", f.root.join("etc/.static.kiln-tmp")).unwrap();

    let sys = f.open();
    let r = sys.recovered().expect("the journal was replayed");
    assert_eq!((r.action, r.generation), (Action::Switch, Some(2)));
    drop(sys);
    assert!(!jpath.exists());
    assert_eq!(system_tree(&f.root), want);
    assert_eq!(
        link(&f.root, "nix/var/nix/profiles/system"),
        "system-2-link"
    );

    // A journal that cannot be read is an error that names it, not a guess.
    fs::write(&jpath, "{ not json").unwrap();
    let err = System::open(&f.root)
        .err()
        .expect("a bad journal is refused");
    assert!(matches!(err, OsError::BadJournal { .. }), "{err}");
}

/// The script the activation tests run: it writes where only a chrooted process reaches
/// (`/var/lib/stamp` of the root), checks `/dev/null`, `/proc` and `/run/current-system`, and
/// fails when `/etc/fail` exists.
const ACTIVATE: &str = r#"set -e
mkdir -p /var/lib
echo "ran as $(id -u) in $PWD" > /var/lib/stamp
echo hidden > /dev/null
test -r /proc/self/status
test -e /run/current-system/kiln-system.json
if test -e /etc/motd.fail; then echo "snippet 'fail' failed" >&2; exit 1; fi
"#;

#[test]
fn the_activation_script_runs_chrooted_into_the_root_after_kilns_steps() {
    let f = Fixture::new();
    let root = &f.root;
    let t1 = f.toplevel_with(&gen1(), Some(ACTIVATE));
    let out = f.open().switch(&t1, Action::Switch).unwrap();
    assert_eq!(
        out.activated.scripts,
        kiln_os::scripts::ScriptRun::Succeeded
    );
    // It saw the root as `/` (its /var/lib is the root's) and ran as root there.
    assert_eq!(read(root, "var/lib/stamp"), "ran as 0 in /\n");
    // The host's /dev and /proc were bound only inside its mount namespace.
    assert!(fs::read_dir(root.join("dev")).unwrap().next().is_none());
    assert!(fs::read_dir(root.join("proc")).unwrap().next().is_none());

    // Through a user namespace (what a caller that is not root gets) it works the same.
    fs::remove_file(root.join("var/lib/stamp")).unwrap();
    let sys = f.open();
    let top = sys.toplevel(&t1.to_absolute("/nix/store")).unwrap();
    let run = kiln_os::scripts::run(root, &top, kiln_os::scripts::Isolation::UserNamespace);
    assert_eq!(run.unwrap(), kiln_os::scripts::ScriptRun::Succeeded);
    assert_eq!(read(root, "var/lib/stamp"), "ran as 0 in /\n");
}

#[test]
fn a_failing_activation_script_is_reported_and_the_generation_stays() {
    let f = Fixture::new();
    let root = &f.root;
    let mut spec = gen1();
    spec.etc.push(("motd.fail", "yes\n", None));
    let t1 = f.toplevel_with(&spec, Some(ACTIVATE));
    let out = f.open().switch(&t1, Action::Switch).unwrap();
    assert_eq!(
        out.activated.scripts,
        kiln_os::scripts::ScriptRun::Failed("exit status 1".into())
    );
    // NixOS does not undo an activation whose snippet failed: the generation is current.
    assert_eq!(out.generation, Some(1));
    assert_eq!(link(root, "nix/var/nix/profiles/system"), "system-1-link");
    assert_eq!(link(root, "etc/motd"), "/etc/static/motd");
}

#[test]
fn boot_and_test_roll_back_without_a_switch() {
    let f = Fixture::new();
    let root = &f.root;
    let (t1, t2) = (f.toplevel(&gen1()), f.toplevel(&gen2()));
    f.open().switch(&t1, Action::Switch).unwrap();
    f.open().switch(&t2, Action::Switch).unwrap();
    // boot --rollback: generation 1 is current and the default entry; 2 stays active.
    let out = f.open().rollback(Action::Boot).unwrap();
    assert_eq!(out.generation, Some(1));
    assert_eq!(link(root, "nix/var/nix/profiles/system"), "system-1-link");
    assert_eq!(
        read(root, "boot/loader/loader.conf"),
        "timeout 5\ndefault kiln-1.conf\n"
    );
    assert_eq!(
        link(root, "run/current-system"),
        t2.to_absolute("/nix/store")
    );
    // Back to 2, then test --rollback: 1 active, 2 still current and the default entry.
    f.open().switch_to_generation(2, Action::Switch).unwrap();
    let out = f.open().rollback(Action::Test).unwrap();
    assert_eq!(out.generation, None);
    assert_eq!(
        link(root, "run/current-system"),
        t1.to_absolute("/nix/store")
    );
    assert_eq!(link(root, "nix/var/nix/profiles/system"), "system-2-link");
    assert_eq!(
        read(root, "boot/loader/loader.conf"),
        "timeout 5\ndefault kiln-2.conf\n"
    );
    assert_eq!(link(root, "etc/motd"), "/etc/static/motd");
}
