//! `kiln os …` and `nixos-rebuild` end to end, against a tiny stand-in for `<kiln/os>` (passed
//! with `-I kiln=DIR`) whose toplevel is a derivation built by busybox in the sandbox, laid out
//! as `docs/design/os.md` says. The configuration is a plain set: `hostName`, `etc` (name to
//! contents), `hello` (the version of the one package), `units`, `fail` (the build fails).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{failure_of, kiln, legacy, stdout_of};

const FAKE_OS: &str = r#"
{ configuration, ... }:
let
  cfg = if builtins.isAttrs configuration then configuration else import configuration;
  mk = name: script: derivation {
    inherit name; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" script ];
  };
  hello = mk "hello-${cfg.hello}" "echo hello > $out";
  sw = mk "system-path" "mkdir $out; ln -s ${hello} $out/hello";
  file = name: text: builtins.toFile (builtins.replaceStrings [ "/" ] [ "-" ] name) text;
  json = builtins.toJSON {
    version = 1;
    hostName = cfg.hostName;
    users = {
      root = { uid = 0; group = "root"; home = "/root"; createHome = true; isSystemUser = true; shell = "/bin/sh"; };
      alice = { uid = null; group = "users"; extraGroups = [ "wheel" ]; home = "/home/alice"; createHome = true; shell = "/bin/sh"; hashedPassword = "$6$x"; };
    };
    groups = { root = { gid = 0; }; wheel = { gid = 1; }; users = { gid = 100; }; };
    mutableUsers = false;
    tmpfiles = [ "d /var/lib/app 0755 root root -" ];
    units = builtins.attrNames cfg.units;
    kernel = null; initrd = null;
    kernelParams = [ "console=ttyS0" ];
  };
  etcLines = builtins.concatStringsSep "\n" (map (n:
    "mkdir -p $(dirname $out/etc/${n}); ln -s ${file n cfg.etc.${n}} $out/etc/${n}"
  ) (builtins.attrNames cfg.etc));
  unitLines = builtins.concatStringsSep "\n" (map (n:
    "ln -s ${file n cfg.units.${n}} $out/etc/systemd/system/${n}; ln -s ../${n} $out/etc/systemd/system/multi-user.target.wants/${n}"
  ) (builtins.attrNames cfg.units));
  toplevel = mk "kiln-system-${cfg.hostName}" ''
    ${if cfg.fail or false then "echo the build fails; exit 1" else ""}
    mkdir -p $out/etc/systemd/system/multi-user.target.wants
    ${etcLines}
    ${unitLines}
    cat ${file "kiln-system.json" json} > $out/kiln-system.json
    echo console=ttyS0 > $out/kernel-params
    echo 18.03.kiln > $out/nixos-version
    ln -s ${sw} $out/sw
  '';
in {
  inherit toplevel;
  config = cfg;
  options = { networking.hostName = { _type = "option"; }; etc = { _type = "option"; }; };
  optionsDoc = [
    { name = "etc"; type = "attribute set"; description = ""; declarations = [ "stand-in" ]; readOnly = false; }
    { name = "networking.hostName"; type = "string"; default = "\"web\""; description = "The name.\n"; declarations = [ "stand-in:2" ]; readOnly = false; }
  ];
}
"#;

const GEN1: &str = r#"{
  hostName = "web";
  hello = "1.0";
  etc = { hostname = "web\n"; motd = "hello\n"; "ssh/sshd_config" = "Port 22\n"; };
  units = { "sshd.service" = "[Service]\nExecStart=/bin/sshd\n"; "cron.service" = "[Service]\nExecStart=/bin/cron\n"; };
}"#;

const GEN2: &str = r#"{
  hostName = "web";
  hello = "1.1";
  etc = { hostname = "web2\n"; issue = "Kiln\n"; };
  units = { "sshd.service" = "[Service]\nExecStart=/bin/sshd -D\n"; "nginx.service" = "[Service]\nExecStart=/bin/nginx\n"; };
}"#;

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    kiln_dir: PathBuf,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let kiln_dir = dir.join("kiln");
        fs::create_dir_all(kiln_dir.join("os")).unwrap();
        fs::write(kiln_dir.join("os/default.nix"), FAKE_OS).unwrap();
        Env {
            _tmp: tmp,
            dir,
            kiln_dir,
        }
    }

    fn config(&self, name: &str, text: &str) -> PathBuf {
        let f = self.dir.join(name);
        fs::write(&f, text).unwrap();
        f
    }

    /// `kiln os VERB --root ROOT [-f FILE]` with the stand-in `<kiln/os>` and busybox.
    fn os(&self, verb: &str, root: &Path, file: Option<&Path>) -> Command {
        let mut cmd = kiln();
        cmd.current_dir(&self.dir)
            .args([
                "--option",
                "sandbox-paths",
                "/bin/sh=/bin/busybox",
                "os",
                verb,
            ])
            .arg("--root")
            .arg(root);
        if let Some(f) = file {
            cmd.arg("-f")
                .arg(f)
                .arg("-I")
                .arg(format!("kiln={}", self.kiln_dir.display()));
        }
        cmd
    }
}

fn output(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed\nstdout: {o}\nstderr: {e}"
    );
    (o, e)
}

/// What a generation is made of: the root outside the store and Kiln's state, plus the
/// system profile's current link.
fn system_tree(root: &Path) -> BTreeMap<String, String> {
    let mut t = kiln_testkit::tree::listing(root);
    t.retain(|k, _| !k.starts_with("nix/") && !k.starts_with("var/lib/kiln"));
    if let Ok(l) = fs::read_link(root.join("nix/var/nix/profiles/system")) {
        t.insert("profile".into(), l.display().to_string());
    }
    t
}

fn link(root: &Path, p: &str) -> String {
    fs::read_link(root.join(p)).unwrap().display().to_string()
}

#[test]
fn build_switch_change_and_roll_back_through_the_cli() {
    let env = Env::new();
    let root = env.dir.join("root");
    let conf = env.config("configuration.nix", GEN1);
    let (path, _) = output(&mut env.os("build", &root, Some(&conf)));
    let path = path.trim().to_owned();
    assert!(
        path.starts_with("/nix/store/") && path.ends_with("-kiln-system-web"),
        "{path}"
    );
    assert_eq!(link(&env.dir, "result"), path);
    assert!(root
        .join(path.trim_start_matches('/'))
        .join("kiln-system.json")
        .is_file());
    // A second build is the same path (deterministic) and builds nothing.
    let (again, _) = output(env.os("build", &root, Some(&conf)).arg("--no-out-link"));
    assert_eq!(again.trim(), path);
    // Another root builds the same toplevel, byte for byte.
    let other = env.dir.join("other-root");
    let (there, _) = output(env.os("build", &other, Some(&conf)).arg("--no-out-link"));
    assert_eq!(there.trim(), path);
    let inside = |r: &Path| kiln_testkit::tree::listing(&r.join(path.trim_start_matches('/')));
    assert_eq!(inside(&other), inside(&root));

    let (_, err) = output(&mut env.os("switch", &root, Some(&conf)));
    assert!(err.contains("switched to system generation 1"), "{err}");
    assert!(
        err.contains("units to start: cron.service sshd.service"),
        "{err}"
    );
    assert!(err.contains("no running systemd in"), "{err}");
    assert_eq!(link(&root, "nix/var/nix/profiles/system"), "system-1-link");
    assert_eq!(link(&root, "etc/static"), format!("{path}/etc"));
    assert_eq!(link(&root, "etc/hostname"), "/etc/static/hostname");
    assert_eq!(
        link(
            &root,
            "etc/systemd/system/multi-user.target.wants/sshd.service"
        ),
        "/etc/static/systemd/system/multi-user.target.wants/sshd.service"
    );
    let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert_eq!(
        passwd,
        "root:x:0:0::/root:/bin/sh\nalice:x:1000:100::/home/alice:/bin/sh\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("etc/group")).unwrap(),
        "root:x:0:\nwheel:x:1:alice\nusers:x:100:\n"
    );
    assert!(fs::read_to_string(root.join("etc/shadow"))
        .unwrap()
        .contains("alice:$6$x:"));
    assert!(root.join("home/alice").is_dir() && root.join("var/lib/app").is_dir());
    assert_eq!(
        fs::read_to_string(root.join("boot/loader/loader.conf")).unwrap(),
        "timeout 5\ndefault kiln-1.conf\n"
    );
    let gen1 = system_tree(&root);

    let conf2 = env.config("configuration.nix", GEN2);
    // --ask: the report, then no change without a yes.
    let mut ask = env.os("switch", &root, Some(&conf2));
    ask.arg("--ask").stdin(std::process::Stdio::piped());
    let mut child = ask
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"n\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("[C]  hello  1.0 -> 1.1") && err.contains("Apply these changes? [y/N]"),
        "{err}"
    );
    assert!(err.contains("not applying the changes"), "{err}");
    assert_eq!(system_tree(&root), gen1, "a refused --ask changed the root");
    let (report, _) = output(&mut env.os("dry-activate", &root, Some(&conf2)));
    assert!(report.contains("[C]  hello  1.0 -> 1.1"), "{report}");
    assert!(report.contains("/etc added: issue"), "{report}");
    assert_eq!(system_tree(&root), gen1, "dry-activate changed the root");
    let (_, err) = output(&mut env.os("switch", &root, Some(&conf2)));
    assert!(err.contains("switched to system generation 2"), "{err}");
    assert!(err.contains("[C]  hello  1.0 -> 1.1"), "{err}");
    assert!(
        err.contains("/etc changed: hostname systemd/system/sshd.service"),
        "{err}"
    );
    assert!(err.contains("/etc removed: motd ssh/sshd_config"), "{err}");
    assert!(err.contains("units to stop: cron.service"), "{err}");
    assert!(err.contains("units to start: nginx.service"), "{err}");
    assert!(err.contains("units to restart: sshd.service"), "{err}");
    assert!(err.contains("no reboot needed"), "{err}");
    assert!(fs::symlink_metadata(root.join("etc/motd")).is_err());
    assert!(!root.join("etc/ssh").exists());

    let (list, _) = output(&mut env.os("list-generations", &root, None));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].trim_start().starts_with("1 ") && !lines[0].contains("(current)"));
    assert!(lines[1].trim_start().starts_with("2 ") && lines[1].ends_with("(current)"));
    let (diff, _) = output(&mut env.os("diff", &root, None));
    assert!(diff.contains("[C]  hello  1.0 -> 1.1"), "{diff}");

    let (_, err) = output(&mut env.os("rollback", &root, None));
    assert!(err.contains("switched to system generation 1"), "{err}");
    let mut now = system_tree(&root);
    assert!(now.remove("boot/loader/entries/kiln-2.conf").is_some());
    assert_eq!(now, gen1);

    output(env.os("delete-generations", &root, None).arg("2"));
    assert!(!root.join("boot/loader/entries/kiln-2.conf").exists());
    let out = failure_of(env.os("delete-generations", &root, None).arg("1"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot delete current version 1"));
}

#[test]
fn a_failing_evaluation_or_build_leaves_the_root_as_it_was() {
    let env = Env::new();
    let root = env.dir.join("root");
    let conf = env.config("configuration.nix", GEN1);
    output(&mut env.os("switch", &root, Some(&conf)));
    let before = system_tree(&root);
    let profiles = kiln_testkit::tree::listing(&root.join("nix/var/nix/profiles"));

    let bad = env.config(
        "bad.nix",
        &GEN2.replace("hostName = \"web\";", "hostName = throw \"no host name\";"),
    );
    let out = failure_of(&mut env.os("switch", &root, Some(&bad)));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no host name"), "{err}");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(system_tree(&root), before);

    let failing = env.config(
        "failing.nix",
        &GEN2.replace("hello = \"1.1\";", "hello = \"1.1\"; fail = true;"),
    );
    let out = failure_of(&mut env.os("switch", &root, Some(&failing)));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the build fails"), "{err}");
    assert_eq!(system_tree(&root), before);
    assert_eq!(
        kiln_testkit::tree::listing(&root.join("nix/var/nix/profiles")),
        profiles
    );

    let out = failure_of(&mut env.os("switch", &root, None));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no configuration given"));
}

#[test]
fn a_host_of_a_fleet_file_and_nixos_rebuild() {
    let env = Env::new();
    let root = env.dir.join("root");
    let fleet = env.config(
        "fleet.nix",
        &format!(
            "{{ web = {GEN1}; db = {}; }}",
            GEN2.replace("\"web\"", "\"db\"")
        ),
    );
    let (path, _) =
        output(
            env.os("build", &root, Some(&fleet))
                .args(["--host", "db", "--no-out-link"]),
        );
    assert!(path.trim().ends_with("-kiln-system-db"), "{path}");

    // nixos-rebuild with <nixos-config>.
    let conf = env.config("configuration.nix", GEN1);
    let mut cmd = legacy(&env.dir, "nixos-rebuild");
    cmd.current_dir(&env.dir)
        .args([
            "switch",
            "--option",
            "sandbox-paths",
            "/bin/sh=/bin/busybox",
            "--root",
        ])
        .arg(&root)
        .arg("-I")
        .arg(format!("nixos-config={}", conf.display()))
        .arg("-I")
        .arg(format!("kiln={}", env.kiln_dir.display()));
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(link(&root, "nix/var/nix/profiles/system"), "system-1-link");
    let list = stdout_of(
        legacy(&env.dir, "nixos-rebuild")
            .args(["list-generations", "--root"])
            .arg(&root),
    );
    assert!(list.contains("(current)"), "{list}");

    // --rollback with test and boot: generation 2 made, then 1 activated without becoming
    // current (test), then 1 made current and the default entry without activating (boot).
    let conf2 = env.config("configuration2.nix", GEN2);
    output(&mut env.os("switch", &root, Some(&conf2)));
    let gen1 = link(&root, "nix/var/nix/profiles/system-1-link");
    let gen2 = link(&root, "nix/var/nix/profiles/system-2-link");
    let (_, err) = output(env.os("test", &root, None).arg("--rollback"));
    assert!(err.contains(&format!("activated {gen1}")), "{err}");
    assert_eq!(link(&root, "run/current-system"), gen1);
    assert_eq!(link(&root, "nix/var/nix/profiles/system"), "system-2-link");
    let out = legacy(&env.dir, "nixos-rebuild")
        .args(["boot", "--rollback", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("system generation 1 is the default boot entry"),
        "{err}"
    );
    assert_eq!(link(&root, "nix/var/nix/profiles/system"), "system-1-link");
    assert_eq!(
        fs::read_to_string(root.join("boot/loader/loader.conf")).unwrap(),
        "timeout 5\ndefault kiln-1.conf\n"
    );
    assert_ne!(gen1, gen2);
    let out = failure_of(legacy(&env.dir, "nixos-rebuild").args(["switch", "--flake", "."]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'--flake' is not supported yet"));

    // The option listing and values go through the same entry point.
    let mut cmd = kiln();
    cmd.current_dir(&env.dir)
        .args(["os", "options", "-f"])
        .arg(&conf)
        .arg("-I")
        .arg(format!("kiln={}", env.kiln_dir.display()));
    assert_eq!(
        stdout_of(&mut cmd),
        "etc\n    type: attribute set\n    declared in: stand-in\n\n\
         networking.hostName\n    type: string\n    default: \"web\"\n    \
         declared in: stand-in:2\n    The name.\n"
    );
    let mut cmd = kiln();
    cmd.current_dir(&env.dir)
        .args(["os", "options", "hostName", "-f"])
        .arg(&conf)
        .arg("-I")
        .arg(format!("kiln={}", env.kiln_dir.display()));
    assert_eq!(stdout_of(&mut cmd), "\"web\"\n");
}

/// SIGKILL a `kiln os switch` (generation 1 → 2, already built) at moments spread over its
/// run; after the next `kiln os` command the root is generation 1 or 2, completely.
#[test]
fn a_killed_switch_leaves_one_complete_generation_after_the_next_command() {
    let env = Env::new();
    let (conf1, conf2) = (env.config("one.nix", GEN1), env.config("two.nix", GEN2));
    // The reference trees, and a template root with generation 1 active and 2 built.
    let template = env.dir.join("template");
    output(&mut env.os("switch", &template, Some(&conf1)));
    let tree1 = system_tree(&template);
    output(
        env.os("build", &template, Some(&conf2))
            .arg("--no-out-link"),
    );
    let reference = env.dir.join("reference");
    copy(&template, &reference);
    let start = std::time::Instant::now();
    output(&mut env.os("switch", &reference, Some(&conf2)));
    let took = start.elapsed().as_millis() as u64;
    let tree2 = system_tree(&reference);

    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut seen = [0; 3];
    let mut recovered = 0;
    for i in 0..16 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let root = env.dir.join(format!("killed-{i}"));
        copy(&template, &root);
        let mut child = env
            .os("switch", &root, Some(&conf2))
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(rng % (took + 20)));
        child.kill().unwrap();
        child.wait().unwrap();
        let (_, err) = output(&mut env.os("list-generations", &root, None));
        recovered += usize::from(err.contains("completed an interrupted switch"));
        let now = system_tree(&root);
        let g = if now == tree1 {
            1
        } else {
            assert_eq!(now, tree2, "after kill {i}: neither generation");
            2
        };
        seen[g] += 1;
        assert!(!root.join("nix/var/kiln/switch.json").exists());
    }
    // The same for rollback, from generation 2 back to 1.
    let mut tree1b = tree1.clone();
    tree1b.insert(
        "boot/loader/entries/kiln-2.conf".into(),
        system_tree(&reference)["boot/loader/entries/kiln-2.conf"].clone(),
    );
    for i in 0..8 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let root = env.dir.join(format!("rolled-{i}"));
        copy(&reference, &root);
        let mut child = env
            .os("rollback", &root, None)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(rng % (took / 2 + 10)));
        child.kill().unwrap();
        child.wait().unwrap();
        let (_, err) = output(&mut env.os("list-generations", &root, None));
        recovered += usize::from(err.contains("completed an interrupted switch"));
        let now = system_tree(&root);
        assert!(
            now == tree1b || now == tree2,
            "after killed rollback {i}: neither generation"
        );
    }
    eprintln!(
        "killed switches ended in generation 1: {}, 2: {}; {recovered} completed by the next \
         command (a switch takes {took} ms)",
        seen[1], seen[2]
    );
}

fn copy(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

/// The fetch cache the package-set tests share, so the pinned Debian files are downloaded once.
fn pkgs_cache_home() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/kiln-pkgs-test-cache");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The repository's two-host example (`examples/fleet`), with the real module system, OS
/// modules and package set: both hosts built and switched into empty roots, web changed and
/// switched again (generation 2, the stale `/etc` entry gone, the report naming it), then
/// rolled back to generation 1 exactly.
#[test]
fn the_example_fleet_builds_switches_changes_and_rolls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = tmp.path().join("fleet");
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fleet"),
        &fleet,
    );
    let os = |root: &Path, args: &[&str]| {
        let mut cmd = kiln();
        cmd.env("XDG_CACHE_HOME", pkgs_cache_home())
            .args(["os"])
            .args(args)
            .arg("--root")
            .arg(root)
            .arg("--file")
            .arg(fleet.join("hosts.nix"));
        output(&mut cmd)
    };
    let web = tmp.path().join("web");
    let db = tmp.path().join("db");
    os(&web, &["switch", "--host", "web"]);
    os(&db, &["switch", "--host", "db"]);
    for (root, host) in [(&web, "web"), (&db, "db")] {
        assert_eq!(link(root, "nix/var/nix/profiles/system"), "system-1-link");
        let toplevel = link(root, "nix/var/nix/profiles/system-1-link");
        assert!(
            toplevel.ends_with(&format!("-nixos-system-{host}-18.03.kiln")),
            "{toplevel}"
        );
        assert_eq!(link(root, "etc/static"), format!("{toplevel}/etc"));
        assert_eq!(link(root, "etc/hostname"), "/etc/static/hostname");
        let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
        assert!(passwd.contains("\nalice:x:1000:100:"), "{passwd}");
        assert!(passwd.contains("\nsshd:x:"), "{passwd}");
        assert!(root.join("boot/loader/entries/kiln-1.conf").is_file());
        // The units and their wants links, read through the root as the booted system would.
        let units = kiln_os_units(root, &toplevel);
        assert!(units.contains(&"sshd.service".to_owned()), "{units:?}");
        assert!(
            units.contains(&"multi-user.target.wants/sshd.service".to_owned()),
            "{units:?}"
        );
    }
    assert_eq!(link(&web, "etc/motd"), "/etc/static/motd");
    assert!(
        !db.join("etc/motd").exists(),
        "the custom option is on web only"
    );
    // Deterministic: web built again in db's root (a store that holds only the packages the
    // hosts share) is the same toplevel path, and every path of its closure has the same NAR
    // hash in both stores.
    let toplevel = link(&web, "nix/var/nix/profiles/system-1-link");
    let (again, _) = os(&db, &["build", "--host", "web", "--no-out-link"]);
    assert_eq!(again.trim(), toplevel);
    let closure = stdout_of(
        legacy(tmp.path(), "nix-store")
            .arg("--store")
            .arg(&web)
            .args(["-qR", &toplevel]),
    );
    let hashes = |root: &Path| {
        stdout_of(
            legacy(tmp.path(), "nix-store")
                .arg("--store")
                .arg(root)
                .args(["-q", "--hash"])
                .args(closure.lines()),
        )
    };
    assert!(closure.lines().count() > 10, "{closure}");
    assert_eq!(hashes(&web), hashes(&db));
    let gen1 = system_tree(&web);
    // The same hosts as a flake's `nixosConfigurations` (a module each), evaluated in pure
    // mode: `--flake .#web` builds the same toplevel, and switching to it changes nothing.
    fs::write(
        fleet.join("flake.nix"),
        "{ outputs = { self }: { nixosConfigurations = import ./hosts.nix; }; }\n",
    )
    .unwrap();
    let flake_os = |args: &[&str]| {
        let mut cmd = kiln();
        cmd.env("XDG_CACHE_HOME", pkgs_cache_home())
            .current_dir(&fleet)
            .arg("os")
            .args(args)
            .arg("--root")
            .arg(&web)
            .args(["--flake", ".#web"]);
        output(&mut cmd)
    };
    assert_eq!(
        flake_os(&["build", "--no-out-link"])
            .0
            .trim()
            .lines()
            .last(),
        Some(toplevel.as_str())
    );
    let (_, err) = flake_os(&["switch"]);
    assert!(err.contains("switched to system generation 1"), "{err}");
    assert_eq!(system_tree(&web), gen1);

    // Generation 2: the index page is replaced.
    let web_nix = fleet.join("web.nix");
    let text = fs::read_to_string(&web_nix).unwrap();
    let changed = text.replace(
        "environment.etc.\"www/index.html\"",
        "environment.etc.\"www/home.html\"",
    );
    assert_ne!(changed, text);
    fs::write(&web_nix, changed).unwrap();
    let (out, err) = os(&web, &["switch", "--host", "web"]);
    let report = format!("{out}{err}");
    assert!(report.contains("www/home.html"), "{report}");
    assert!(
        report.contains("www/index.html"),
        "the removed entry is named: {report}"
    );
    assert_eq!(link(&web, "nix/var/nix/profiles/system"), "system-2-link");
    assert!(
        !web.join("etc/www/index.html").exists()
            && fs::symlink_metadata(web.join("etc/www/index.html")).is_err()
    );
    assert_eq!(link(&web, "etc/www/home.html"), "/etc/static/www/home.html");
    assert!(web.join("boot/loader/entries/kiln-2.conf").is_file());

    output(kiln().args(["os", "rollback", "--root"]).arg(&web));
    // Everything as before, except that generation 2 keeps its boot entry (it still exists;
    // generation 1 is the default again).
    let mut after = system_tree(&web);
    assert!(after.remove("boot/loader/entries/kiln-2.conf").is_some());
    assert_eq!(after, gen1, "generation 1 exactly as before");
}

/// The unit files of a toplevel, followed through the root: names relative to
/// `etc/systemd/system`.
fn kiln_os_units(root: &Path, toplevel: &str) -> Vec<String> {
    let real =
        kiln_os::fsutil::resolve(root, &Path::new(toplevel).join("etc/systemd/system")).unwrap();
    let mut res = Vec::new();
    for e in fs::read_dir(&real).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() {
            for w in fs::read_dir(e.path()).unwrap() {
                res.push(format!(
                    "{name}/{}",
                    w.unwrap().file_name().to_string_lossy()
                ));
            }
        }
        res.push(name);
    }
    res.sort();
    res
}

/// `kiln os options` lists every option with its type, default, description and
/// declarations (`file:line`), as text and as JSON; the fleet's own option is among them.
#[test]
fn os_options_lists_types_defaults_and_declarations() {
    let hosts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fleet/hosts.nix");
    let run = |json: bool| {
        let mut cmd = kiln();
        cmd.args(["os", "options", "--host", "web", "--file"])
            .arg(&hosts);
        if json {
            cmd.arg("--json");
        }
        output(&mut cmd).0
    };
    let text = run(false);
    assert!(
        text.contains("networking.hostName\n    type: string"),
        "{text}"
    );
    let motd = text
        .split("\n\n")
        .find(|b| b.starts_with("fleet.motd.enable\n"))
        .unwrap_or_else(|| panic!("no fleet.motd.enable in {text}"));
    assert!(motd.contains("modules/motd.nix:"), "{motd}");
    let json: serde_json::Value = serde_json::from_str(&run(true)).unwrap();
    let host = json
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "networking.hostName")
        .unwrap();
    assert_eq!(host["default"], "\"nixos\"");
    assert!(host["declarations"][0]
        .as_str()
        .unwrap()
        .contains("nix/os/modules/networking.nix:"));
}
