//! Builds with real builders: Debian's static busybox as `/bin/sh` inside the sandbox
//! (`sandbox-paths = /bin/sh=/bin/busybox`), in temporary store roots.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{failure_of, kiln, legacy, reference, stdout_of};

const BUSYBOX: &str = "/bin/busybox";

/// A Nix file with a `mk name script` helper making a derivation whose builder runs `script`
/// in busybox's shell, followed by `body`.
fn nix_file(dir: &Path, body: &str) -> PathBuf {
    let file = dir.join("default.nix");
    std::fs::write(
        &file,
        format!(
            "let mk = name: script: attrs: derivation ({{ inherit name; system = builtins.currentSystem; \
             builder = \"/bin/sh\"; args = [ \"-c\" script ]; }} // attrs); in\n{body}"
        ),
    )
    .unwrap();
    file
}

/// `kiln --store ROOT build` with busybox in the sandbox and raw logs.
fn kiln_realise(root: &Path) -> Command {
    let mut cmd = kiln();
    cmd.arg("--store")
        .arg(root)
        .args(["--option", "sandbox-paths", &format!("/bin/sh={BUSYBOX}")])
        .arg("build");
    cmd
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_owned).collect()
}

/// A diamond: `top` needs `left` and `right`, which both need `base`.
const DIAMOND: &str = r#"
rec {
  base = mk "base" "echo base > $out" {};
  left = mk "left" "echo start-left; sleep 2; echo end-left; cat ${base} > $out; echo left >> $out" {};
  right = mk "right" "echo start-right; sleep 2; echo end-right; cat ${base} > $out; echo right >> $out" {};
  top = mk "top" "cat ${left} ${right} > $out" {};
}
"#;

#[test]
fn diamond_builds_each_once_in_parallel_and_then_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = nix_file(dir, DIAMOND);
    let root = dir.join("root");
    let out = kiln_realise(&root)
        .current_dir(dir)
        .args(["-f"])
        .arg(&file)
        .args(["-A", "top", "-j", "2", "--log-format", "internal-json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let top = String::from_utf8(out.stdout).unwrap();
    let top = top.trim();
    let real = root.join(top.trim_start_matches('/'));
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        "base\nleft\nbase\nright\n"
    );
    // Four builds, each started once; `left` and `right` overlap (both started before either
    // stopped).
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("@nix "))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let starts: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["action"] == "start").collect();
    assert_eq!(starts.len(), 4, "{stderr}");
    let logs: Vec<&str> = events
        .iter()
        .filter(|e| e["action"] == "result")
        .filter_map(|e| e["fields"][0].as_str())
        .collect();
    let pos = |s: &str| logs.iter().position(|l| *l == s).unwrap();
    assert!(pos("start-left") < pos("end-right"), "{logs:?}");
    assert!(pos("start-right") < pos("end-left"), "{logs:?}");
    // `result` is an indirect root to the output.
    assert_eq!(
        std::fs::read_link(dir.join("result")).unwrap(),
        PathBuf::from(top)
    );

    // Everything is valid now: a second build builds nothing.
    let again = kiln_realise(&root)
        .current_dir(dir)
        .arg("-f")
        .arg(&file)
        .args(["-A", "top"])
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), top);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!err.contains("building"), "{err}");
    assert!(!err.contains("will be built"), "{err}");
}

#[test]
fn the_sandbox_hides_the_host_and_other_store_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = nix_file(
        dir,
        r#"rec {
  dep = mk "dep" "echo dep > $out" {};
  other = mk "other" "echo other > $out" {};
  probe = mk "probe" ''
    exec > $out 2>&1
    echo "store: $(ls /nix/store | grep -v probe)"
    test -e /etc/hostname && echo "hostname visible" || echo "no hostname"
    test -e /root && echo "root visible" || echo "no root"
    echo x >> ${dep} && echo "wrote input" || echo "input read-only"
    echo "user: $(id -u):$(id -g)"
    echo "home: $HOME path: $PATH top: $NIX_BUILD_TOP pwd: $(pwd)"
    wget -q -T 2 -O /dev/null http://1.1.1.1/ && echo "network" || echo "no network"
  '' {};
}"#,
    );
    let root = dir.join("root");
    // `other` is valid in the store, but not an input of the probe.
    stdout_of(
        kiln_realise(&root)
            .arg("-f")
            .arg(&file)
            .args(["-A", "other", "--no-link"]),
    );
    let out =
        stdout_of(
            kiln_realise(&root)
                .arg("-f")
                .arg(&file)
                .args(["-A", "probe", "--no-link"]),
        );
    let text = std::fs::read_to_string(root.join(out.trim().trim_start_matches('/'))).unwrap();
    let dep = stdout_of(
        kiln_realise(&root)
            .arg("-f")
            .arg(&file)
            .args(["-A", "dep", "--no-link"]),
    );
    let dep_name = dep.trim().rsplit('/').next().unwrap().to_owned();
    assert!(text.contains(&format!("store: {dep_name}\n")), "{text}");
    assert!(!text.contains("other"), "{text}");
    assert!(text.contains("no hostname"), "{text}");
    assert!(text.contains("no root"), "{text}");
    assert!(text.contains("input read-only"), "{text}");
    assert!(text.contains("user: 1000:100"), "{text}");
    assert!(
        text.contains("home: /homeless-shelter path: /path-not-set top: /build pwd: /build"),
        "{text}"
    );
    assert!(text.contains("no network"), "{text}");
}

/// Serves `body` over HTTP on loopback for each connection until the test ends; returns the
/// port.
fn serve(body: &'static [u8]) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = write!(
                conn,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(body);
        }
    });
    port
}

#[test]
fn fixed_output_derivations_reach_the_network_and_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = serve(b"fetched contents\n");
    let good = "sha256-".to_owned()
        + &kiln_formats::hash::Hash::digest_bytes(
            kiln_formats::hash::HashAlgo::Sha256,
            b"fetched contents\n",
        )
        .to_base64();
    let file = nix_file(
        dir,
        &format!(
            r#"{{
  good = mk "fetched" "wget -q -O $out http://127.0.0.1:{port}/f" {{ outputHash = "{good}"; outputHashMode = "flat"; }};
  bad = mk "fetched-bad" "wget -q -O $out http://127.0.0.1:{port}/f" {{ outputHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; }};
}}"#
        ),
    );
    let root = dir.join("root");
    let out = stdout_of(
        kiln_realise(&root)
            .arg("-f")
            .arg(&file)
            .args(["-A", "good", "--no-link"]),
    );
    let real = root.join(out.trim().trim_start_matches('/'));
    assert_eq!(std::fs::read(real).unwrap(), b"fetched contents\n");

    let fail =
        failure_of(
            kiln_realise(&root)
                .arg("-f")
                .arg(&file)
                .args(["-A", "bad", "--no-link"]),
        );
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(
        err.contains("hash mismatch in fixed-output derivation"),
        "{err}"
    );
    assert!(
        err.contains("specified: sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        "{err}"
    );
    assert!(err.contains(&format!("got:    {good}")), "{err}");
}

#[test]
fn check_reports_a_builder_that_writes_the_time() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = nix_file(
        dir,
        r#"{ t = mk "clock" "mkdir $out; echo stable > $out/same; cat /proc/sys/kernel/random/uuid > $out/stamp" {}; }"#,
    );
    let root = dir.join("root");
    stdout_of(
        kiln_realise(&root)
            .arg("-f")
            .arg(&file)
            .args(["-A", "t", "--no-link"]),
    );
    let fail = failure_of(kiln_realise(&root).arg("-f").arg(&file).args([
        "-A",
        "t",
        "--no-link",
        "--check",
    ]));
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(err.contains("may not be deterministic"), "{err}");
    assert!(err.contains("file 'stamp' differs"), "{err}");
    assert!(!err.contains("'same'"), "{err}");

    // Under its legacy name the exit status is Nix's (104: not deterministic).
    let fail = failure_of(
        legacy(dir, "nix-build")
            .arg("--store")
            .arg(&root)
            .args(["--option", "sandbox-paths", &format!("/bin/sh={BUSYBOX}")])
            .arg(&file)
            .args(["-A", "t", "--no-out-link", "--check"]),
    );
    assert_eq!(fail.status.code(), Some(104));
}

#[test]
fn allowed_references_rejects_an_undeclared_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = nix_file(
        dir,
        r#"rec {
  dep = mk "dep" "echo dep > $out" {};
  leaky = mk "leaky" "echo ${dep} > $out" { allowedReferences = []; };
  fine = mk "fine" "echo ${dep} > $out" { allowedReferences = [ dep ]; };
}"#,
    );
    let root = dir.join("root");
    let fail =
        failure_of(
            kiln_realise(&root)
                .arg("-f")
                .arg(&file)
                .args(["-A", "leaky", "--no-link"]),
        );
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(
        err.contains("is not allowed to refer to the following paths"),
        "{err}"
    );
    assert!(err.contains("-dep"), "{err}");
    stdout_of(
        kiln_realise(&root)
            .arg("-f")
            .arg(&file)
            .args(["-A", "fine", "--no-link"]),
    );
}

#[test]
fn a_failing_builder_shows_its_log_and_nix_build_exits_100() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = nix_file(
        dir,
        r#"{ f = mk "failing" "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do echo line $i; done; exit 3" {}; }"#,
    );
    let root = dir.join("root");
    let fail = failure_of(
        legacy(dir, "nix-build")
            .arg("--store")
            .arg(&root)
            .args(["--option", "sandbox-paths", &format!("/bin/sh={BUSYBOX}")])
            .arg(&file)
            .args(["-A", "f", "-Q"]),
    );
    assert_eq!(fail.status.code(), Some(100));
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(
        err.contains("-failing.drv' failed with exit code 3"),
        "{err}"
    );
    assert!(err.contains("last 25 log lines:"), "{err}");
    assert!(err.contains("> line 30"), "{err}");
    assert!(err.contains("> line 6\n"), "{err}");
    assert!(!err.contains("> line 5\n"), "{err}");
    // `-Q` hides the build output while it runs.
    assert_eq!(err.matches("line 30").count(), 1, "{err}");
    assert!(!dir.join("result").exists());
}

#[test]
fn two_processes_build_one_derivation_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = nix_file(
        dir,
        r#"{ slow = mk "slow" "sleep 2; echo done > $out" {}; }"#,
    );
    let root = dir.join("root");
    // Instantiate first so both processes start from the same valid store.
    stdout_of(
        kiln()
            .arg("--store")
            .arg(&root)
            .arg("instantiate")
            .arg(&file)
            .args(["-A", "slow"]),
    );
    let spawn = || {
        kiln_realise(&root)
            .arg("-f")
            .arg(&file)
            .args(["-A", "slow", "--no-link"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success());
    assert_eq!(a.stdout, b.stdout);
    let errs = format!(
        "{}{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    assert_eq!(errs.matches("building '").count(), 1, "{errs}");
}

#[test]
fn a_killed_build_leaves_nothing_valid_and_the_next_one_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = nix_file(
        dir,
        r#"{ k = mk "killed" "mkdir $out; echo partial > $out/a; echo started; sleep 3; echo rest > $out/b" {}; }"#,
    );
    let root = dir.join("root");
    let drv = stdout_of(
        kiln()
            .arg("--store")
            .arg(&root)
            .arg("instantiate")
            .arg(&file)
            .args(["-A", "k"]),
    );
    let drv = drv.trim().to_owned();
    let mut child = kiln_realise(&root)
        .arg(format!("{drv}^out"))
        .arg("--no-link")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the builder has started writing.
    {
        use std::io::BufRead;
        let stderr = child.stderr.take().unwrap();
        for line in std::io::BufReader::new(stderr).lines() {
            if line.unwrap() == "started" {
                break;
            }
        }
    }
    // SIGKILL, as std's kill sends on Unix.
    child.kill().unwrap();
    let _ = child.wait();
    // Not valid: the output path is not reported by the store.
    let out_path = stdout_of(
        kiln()
            .arg("--store")
            .arg(&root)
            .args(["eval", "--raw", "-f"])
            .arg(&file)
            .args(["-A", "k.outPath"]),
    );
    let info = kiln()
        .arg("--store")
        .arg(&root)
        .args(["store", "path-info", out_path.trim()])
        .output()
        .unwrap();
    assert!(
        !info.status.success(),
        "a killed build's output became valid"
    );
    // No builder is left running (the sandbox dies with Kiln).
    std::thread::sleep(std::time::Duration::from_millis(300));
    let ps = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path().join("cmdline")).ok())
        .filter(|c| c.contains("echo rest > $out/b"))
        .count();
    assert_eq!(ps, 0, "the builder survived its Kiln process");

    // The same derivation builds to completion next time, over the killed build's leftovers.
    let out = stdout_of(
        kiln_realise(&root)
            .arg(format!("{drv}^out"))
            .arg("--no-link"),
    );
    let real = root.join(out.trim().trim_start_matches('/'));
    assert_eq!(std::fs::read_to_string(real.join("b")).unwrap(), "rest\n");
}

#[test]
fn outputs_match_nix_2_8() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = nix_file(
        dir,
        r#"rec {
  a = mk "a" "mkdir -p $out/bin; echo hello > $out/bin/hi; echo ${b} > $out/ref" {};
  b = mk "b" "echo b > $out" {};
  c = mk "c" "echo $dev; mkdir $dev $out; echo d > $dev/d; echo o > $out/o" { outputs = [ "out" "dev" ]; };
}"#,
    );
    let kiln_root = dir.join("kiln-root");
    let nix_root = dir.join("nix-root");
    let mut kiln_paths = Vec::new();
    let mut nix_paths = Vec::new();
    for attr in ["a", "c"] {
        kiln_paths.push(stdout_of(
            kiln_realise(&kiln_root)
                .arg("-f")
                .arg(&file)
                .args(["-A", attr, "--no-link"]),
        ));
        nix_paths.push(stdout_of(
            reference(dir, "nix-build")
                .arg("--store")
                .arg(format!("local?root={}", nix_root.display()))
                .args(["--option", "sandbox", "true"])
                .args(["--option", "sandbox-paths", &format!("/bin/sh={BUSYBOX}")])
                .arg(&file)
                .args(["-A", attr, "--no-out-link"]),
        ));
    }
    assert_eq!(kiln_paths, nix_paths);
    // Nix 2.8 reads both roots: same NAR hash and references for every output.
    let query = |root: &Path, what: &str, p: &str| {
        stdout_of(
            reference(dir, "nix-store")
                .arg("--store")
                .arg(format!("local?root={}", root.display()))
                .args(["-q", what, p]),
        )
    };
    for p in lines(&kiln_paths.concat()) {
        for what in ["--hash", "--references"] {
            let k = query(&kiln_root, what, &p);
            let n = query(&nix_root, what, &p);
            assert_eq!(k, n, "{p}");
        }
    }
}

#[test]
fn nix_store_realise_and_dry_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = nix_file(
        dir,
        r#"{ m = mk "multi" "echo o > $out; echo d > $dev" { outputs = [ "out" "dev" ]; }; }"#,
    );
    let root = dir.join("root");
    let drv = stdout_of(
        kiln()
            .arg("--store")
            .arg(&root)
            .arg("instantiate")
            .arg(&file)
            .args(["-A", "m"]),
    );
    let drv = drv.trim();
    let nix_store = || {
        let mut c = legacy(dir, "nix-store");
        c.arg("--store").arg(&root).args([
            "--option",
            "sandbox-paths",
            &format!("/bin/sh={BUSYBOX}"),
        ]);
        c
    };
    let dry = nix_store()
        .args(["--realise", "--dry-run", drv])
        .output()
        .unwrap();
    assert!(dry.status.success());
    assert!(String::from_utf8_lossy(&dry.stderr)
        .contains(&format!("this derivation will be built:\n  {drv}\n")));
    assert!(dry.stdout.is_empty());
    let outs = stdout_of(nix_store().args(["-r", &format!("{drv}!dev")]));
    assert_eq!(outs.lines().count(), 1);
    assert!(outs.trim().ends_with("-multi-dev"), "{outs}");
    let all = stdout_of(nix_store().args(["-r", drv]));
    assert_eq!(all.lines().count(), 2, "{all}");
    // A path that is not valid and has no derivation is an error.
    let fail =
        failure_of(nix_store().args(["-r", "/nix/store/00000000000000000000000000000000-nothing"]));
    assert!(String::from_utf8_lossy(&fail.stderr).contains("is not valid"));
}

#[test]
fn time_limits_keep_going_and_keep_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = nix_file(
        dir,
        r#"rec {
  slow = mk "slow" "sleep 20; echo > $out" {};
  silent = mk "silent" "echo hi; sleep 20; echo > $out" {};
  bad = mk "bad" "echo marker > /build/left-behind; exit 1" {};
  good = mk "good" "echo good > $out" {};
  both = mk "both" "cat ${bad} ${good} > $out" {};
}"#,
    );
    let root = dir.join("root");
    let nix_build = || {
        let mut c = legacy(dir, "nix-build");
        c.arg("--store")
            .arg(&root)
            .args(["--option", "sandbox-paths", &format!("/bin/sh={BUSYBOX}")])
            .arg(&file)
            .arg("--no-out-link");
        c
    };
    let fail = failure_of(nix_build().args(["-A", "slow", "--timeout", "1"]));
    assert_eq!(fail.status.code(), Some(101));
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(
        err.contains("-slow.drv' timed out after 1 seconds"),
        "{err}"
    );
    let fail = failure_of(nix_build().args(["-A", "silent", "--max-silent-time", "1"]));
    assert_eq!(fail.status.code(), Some(101));
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(
        err.contains("timed out after 1 seconds of silence"),
        "{err}"
    );

    // `good` does not depend on `bad`: with -k it is built although `bad` failed first.
    let fail = failure_of(nix_build().args(["-A", "bad", "-A", "good", "-A", "both", "-k", "-K"]));
    assert_eq!(fail.status.code(), Some(100));
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(
        err.contains("building '") && err.contains("-good.drv'"),
        "{err}"
    );
    let kept = err
        .lines()
        .find_map(|l| l.strip_prefix("note: keeping build directory '"))
        .and_then(|l| l.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no kept directory in {err}"));
    assert_eq!(
        std::fs::read_to_string(Path::new(kept).join("left-behind")).unwrap(),
        "marker\n"
    );
    std::fs::remove_dir_all(kept).unwrap();
    let good = stdout_of(nix_build().args(["-A", "good", "-Q"]));
    assert!(good.trim().ends_with("-good"));
}

#[test]
fn pass_as_file_structured_attrs_and_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = nix_file(
        dir,
        r#"{
  paf = mk "paf" "cat $bigPath > $out; echo \"$small\" >> $out" { passAsFile = [ "big" ]; big = "large value"; small = "inline"; };
  sa = derivation {
    name = "sa"; system = builtins.currentSystem; builder = "/bin/sh";
    args = [ "-c" "out=$(sed -n 's/.*\"outputs\":{\"out\":\"\\([^\"]*\\)\".*/\\1/p' /build/.attrs.json); cat /build/.attrs.json /build/.attrs.sh > $out" ];
    __structuredAttrs = true; n = 3; list = [ "a" "b" ]; set = { k = "v"; }; flag = true;
  };
}"#,
    );
    let kiln_root = dir.join("kiln-root");
    let nix_root = dir.join("nix-root");
    for attr in ["paf", "sa"] {
        let k = stdout_of(kiln_realise(&kiln_root).arg("-f").arg(&file).args([
            "-A",
            attr,
            "--no-link",
        ]));
        let n = stdout_of(
            reference(dir, "nix-build")
                .arg("--store")
                .arg(format!("local?root={}", nix_root.display()))
                .args(["--option", "sandbox", "true"])
                .args(["--option", "sandbox-paths", &format!("/bin/sh={BUSYBOX}")])
                .arg(&file)
                .args(["-A", attr, "--no-out-link"]),
        );
        assert_eq!(k, n);
        let kc = std::fs::read_to_string(kiln_root.join(k.trim().trim_start_matches('/'))).unwrap();
        let nc = std::fs::read_to_string(nix_root.join(n.trim().trim_start_matches('/'))).unwrap();
        assert_eq!(kc, nc, "{attr}");
    }
    // The build log is kept, compressed, and `kiln log` prints it.
    let file2 = nix_file(
        dir,
        r#"{ l = mk "logged" "echo to the log; echo > $out" {}; }"#,
    );
    let out =
        stdout_of(
            kiln_realise(&kiln_root)
                .arg("-f")
                .arg(&file2)
                .args(["-A", "l", "--no-link"]),
        );
    let log = stdout_of(
        kiln()
            .arg("--store")
            .arg(&kiln_root)
            .args(["log", out.trim()]),
    );
    assert_eq!(log, "to the log\n");
}

#[test]
fn a_running_build_keeps_its_inputs_and_outputs_through_a_gc() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = nix_file(
        dir,
        r#"rec {
  dep = mk "dep" "echo dep > $out" {};
  user = mk "user" "echo started; sleep 3; cat ${dep} > $out" {};
}"#,
    );
    let root = dir.join("root");
    let dep = stdout_of(
        kiln_realise(&root)
            .arg("-f")
            .arg(&file)
            .args(["-A", "dep", "--no-link"]),
    );
    let mut child = kiln_realise(&root)
        .arg("-f")
        .arg(&file)
        .args(["-A", "user", "--no-link"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    {
        use std::io::BufRead;
        let mut line = String::new();
        while stderr.read_line(&mut line).unwrap() > 0 {
            if line.trim() == "started" {
                break;
            }
            line.clear();
        }
    }
    // Nothing roots `dep` but the running build.
    stdout_of(kiln().arg("--store").arg(&root).args(["store", "gc"]));
    stdout_of(
        kiln()
            .arg("--store")
            .arg(&root)
            .args(["store", "path-info", dep.trim()]),
    );
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let user = String::from_utf8(out.stdout).unwrap();
    let real = root.join(user.trim().trim_start_matches('/'));
    assert_eq!(std::fs::read_to_string(real).unwrap(), "dep\n");
}

#[test]
fn builtin_fetchurl_downloads_in_process_and_checks_the_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = serve(b"fetched by the builtin\n");
    let good = kiln_formats::hash::Hash::digest_bytes(
        kiln_formats::hash::HashAlgo::Sha256,
        b"fetched by the builtin\n",
    )
    .to_sri();
    let root = dir.join("root");
    let expr = |hash: &str| {
        format!(
            "import <nix/fetchurl.nix> {{ url = \"http://127.0.0.1:{port}/file.txt\"; hash = \"{hash}\"; }}"
        )
    };
    let out = stdout_of(
        kiln_realise(&root)
            .arg("-E")
            .arg(expr(&good))
            .arg("--no-link"),
    );
    assert!(out.trim().ends_with("-file.txt"), "{out}");
    let real = root.join(out.trim().trim_start_matches('/'));
    assert_eq!(std::fs::read(real).unwrap(), b"fetched by the builtin\n");
    let bad = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let fail = failure_of(
        kiln_realise(&root)
            .arg("-E")
            .arg(expr(bad))
            .arg("--no-link"),
    );
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(
        err.contains("hash mismatch in fixed-output derivation"),
        "{err}"
    );
    assert!(err.contains(&good), "{err}");
}

#[test]
fn an_ordinary_user_builds_in_a_store_root_of_their_own() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let file = nix_file(dir, r#"{ u = mk "user" "id > $out" {}; }"#);
    let root = dir.join("root");
    // As root, drop to nobody (as an unprivileged user, run as that user). The binary is
    // copied where nobody can reach it: the build tree may be under a private home.
    let is_root = stdout_of(Command::new("id").arg("-u")).trim() == "0";
    if is_root {
        if let Err(why) = kiln_testkit::unprivileged_can_run() {
            eprintln!("SKIPPED an_ordinary_user_builds_in_a_store_root_of_their_own: {why}");
            return;
        }
    }
    let exe = dir.join("kiln");
    std::fs::copy(env!("CARGO_BIN_EXE_kiln"), &exe).unwrap();
    let mut cmd = if is_root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    // cargo points this at the toolchain under the caller's home, which nobody may not read.
    cmd.env_remove("LD_LIBRARY_PATH")
        .env_remove("KILN_STORE")
        .env("XDG_CONFIG_HOME", "/nonexistent-kiln-test-config")
        .env("TMPDIR", dir)
        .arg("--store")
        .arg(&root)
        .args(["--option", "sandbox-paths", &format!("/bin/sh={BUSYBOX}")])
        .arg("build")
        .arg("-f")
        .arg(&file)
        .args(["-A", "u", "--no-link"]);
    // Another test's child may briefly hold the fresh copy open for writing (between its
    // fork and exec): retry on ETXTBSY.
    let mut attempts = 0;
    let out = loop {
        let out = cmd.output().unwrap();
        attempts += 1;
        let busy = String::from_utf8_lossy(&out.stderr).contains("Text file busy");
        if !busy || attempts == 20 {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = String::from_utf8(out.stdout).unwrap();
    let text = std::fs::read_to_string(root.join(out.trim().trim_start_matches('/'))).unwrap();
    assert!(
        text.starts_with("uid=1000(nixbld) gid=100(nixbld)"),
        "{text}"
    );
}

#[test]
fn dry_run_lists_what_nix_2_8_lists_in_its_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = nix_file(dir, DIAMOND);
    let kiln_out = legacy(dir, "nix-build")
        .arg("--store")
        .arg(dir.join("kiln-root"))
        .arg(&file)
        .args(["-A", "top", "--dry-run"])
        .output()
        .unwrap();
    let nix_out = reference(dir, "nix-build")
        .arg("--store")
        .arg(format!("local?root={}", dir.join("nix-root").display()))
        .arg(&file)
        .args(["-A", "top", "--dry-run"])
        .output()
        .unwrap();
    assert!(kiln_out.status.success() && nix_out.status.success());
    let listed = |o: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .skip_while(|l| !l.contains("will be built"))
            .take_while(|l| l.contains("will be built") || l.starts_with("  "))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(listed(&kiln_out), listed(&nix_out));
    assert_eq!(listed(&kiln_out).len(), 5);
}

/// The terminal display redraws the clock and each build's time every second, also while a
/// builder prints nothing.
#[test]
fn the_status_display_ticks_while_a_builder_is_silent() {
    let dir = tempfile::tempdir().unwrap();
    let file = nix_file(dir.path(), r#"mk "quiet" "sleep 4; echo > $out" {}"#);
    let out = kiln_realise(&dir.path().join("root"))
        .arg("-f")
        .arg(&file)
        .args(["--no-link", "--log-format", "bar"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for tick in ["1 running, 0:01]", "1 running, 0:02]"] {
        assert!(err.contains(tick), "no '{tick}' in:\n{err}");
    }
    // The build's own time advances too (a redraw may land on either side of a second, so
    // which of 2s and 3s shows depends on timing: one of them does).
    assert!(
        err.contains("building quiet (2s)") || err.contains("building quiet (3s)"),
        "the build's time did not advance while it was silent:\n{err}"
    );
    assert!(err.contains("[1/1 built, 0 running, 0:0"), "{err}");
}
