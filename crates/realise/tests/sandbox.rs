//! The build sandbox, end to end: real namespaces, real mounts, Debian's static busybox as
//! `/bin/sh` (package `busybox-static`). Each test builds a fake store with a few input paths
//! in a temporary directory.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use kiln_realise::sandbox::{
    output_location, sandbox_supported, spawn, spawn_unsandboxed, Running, SandboxError,
    SandboxPath, SandboxSpec, ROOT_ID_BASE,
};

const BUSYBOX: &str = "/bin/busybox";
const INPUT_DIR: &str = "/nix/store/0a1b2c3d4e5f6g7h8i9jkalbmcndpfqr-input-dir";
const INPUT_FILE: &str = "/nix/store/1a1b2c3d4e5f6g7h8i9jkalbmcndpfqr-input-file";
const INPUT_LINK: &str = "/nix/store/2a1b2c3d4e5f6g7h8i9jkalbmcndpfqr-input-link";
const SECRET: &str = "/nix/store/3a1b2c3d4e5f6g7h8i9jkalbmcndpfqr-not-an-input";
const OUT: &str = "/nix/store/4a1b2c3d4e5f6g7h8i9jkalbmcndpfqr-out";

/// A temporary store holding input paths, and the directories one build needs.
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        assert!(
            Path::new(BUSYBOX).exists(),
            "these tests need {BUSYBOX} (Debian package busybox-static)"
        );
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let store = dir.join("store");
        fs::create_dir(&store).unwrap();
        let name = |p: &str| store.join(p.rsplit('/').next().unwrap());
        fs::create_dir(name(INPUT_DIR)).unwrap();
        fs::write(name(INPUT_DIR).join("data"), "contents of the input\n").unwrap();
        fs::write(name(INPUT_FILE), "an input file\n").unwrap();
        std::os::unix::fs::symlink(INPUT_DIR, name(INPUT_LINK)).unwrap();
        // World-writable, so that only the read-only mounts keep the builder from writing.
        for (path, mode) in [(name(INPUT_DIR), 0o777), (name(INPUT_FILE), 0o666)] {
            fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        }
        fs::create_dir(name(SECRET)).unwrap();
        fs::write(name(SECRET).join("data"), "must stay invisible\n").unwrap();
        fs::create_dir(dir.join("build")).unwrap();
        fs::create_dir(dir.join("work")).unwrap();
        Fixture { _tmp: tmp, dir }
    }

    fn spec(&self, script: &str) -> SandboxSpec {
        SandboxSpec {
            store_dir: "/nix/store".into(),
            real_store_dir: self.dir.join("store"),
            inputs: vec![INPUT_DIR.into(), INPUT_FILE.into(), INPUT_LINK.into()],
            extra_paths: vec![SandboxPath::parse(&format!("/bin/sh={BUSYBOX}"))],
            network: false,
            build_dir: self.dir.join("build"),
            builder: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![
                ("out".into(), OUT.into()),
                ("NIX_BUILD_TOP".into(), "/build".into()),
                ("TMPDIR".into(), "/build".into()),
                ("PATH".into(), "/path-not-set".into()),
                ("withSpaces".into(), "a b  c\nd".into()),
            ],
            work_root: self.dir.join("work"),
        }
    }

    fn log_file(&self) -> (OwnedFd, PathBuf) {
        let path = self.dir.join("log");
        (OwnedFd::from(fs::File::create(&path).unwrap()), path)
    }
}

/// Waits at most a minute, so that a broken sandbox fails the test instead of hanging it.
fn wait_bounded(running: &mut Running) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = running.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            running.kill();
            panic!("the builder did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a sandboxed build to its end: its status and its log.
fn run(fixture: &Fixture, spec: &SandboxSpec) -> (ExitStatus, String) {
    let (log, path) = fixture.log_file();
    let mut running = spawn(spec, log).unwrap_or_else(|e| panic!("spawn failed: {e}"));
    let status = wait_bounded(&mut running);
    (status, fs::read_to_string(path).unwrap())
}

fn run_ok(fixture: &Fixture, spec: &SandboxSpec) -> String {
    let (status, log) = run(fixture, spec);
    assert!(
        status.success(),
        "builder failed with {status}; log:\n{log}"
    );
    log
}

/// Root of the machine (not root of a rootless container, whose builders keep its own ids).
fn caller_is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    let identity_map = fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]);
    euid == 0 && identity_map
}

#[test]
fn probe_succeeds() {
    sandbox_supported().unwrap();
}

#[test]
fn output_identity_environment_and_cwd() {
    let fixture = Fixture::new();
    let spec = fixture.spec(
        "mkdir $out && echo built > $out/file && \
         echo uid=$(id -u) gid=$(id -g) user=$(id -un) host=$(hostname) cwd=$(pwd) && \
         echo args: && tr '\\0' '\\n' < /proc/self/cmdline && \
         echo env: && tr '\\0' '\\n' < /proc/1/environ && echo end && \
         echo pid=$$",
    );
    let log = run_ok(&fixture, &spec);
    assert!(
        log.contains("uid=1000 gid=100 user=nixbld host=localhost cwd=/build\n"),
        "log:\n{log}"
    );
    assert!(
        log.contains("pid=1\n"),
        "the builder is process 1 of its namespace; log:\n{log}"
    );
    // Exactly the given environment, in order, nothing added.
    let env = log
        .split("env:\n")
        .nth(1)
        .unwrap()
        .split("end\n")
        .next()
        .unwrap();
    let expected: String = spec.env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    assert_eq!(env, expected);

    let out = output_location(&spec, OUT);
    assert_eq!(fs::read_to_string(out.join("file")).unwrap(), "built\n");
    // The builder never runs as host root: its files belong to its own host id.
    let owner = fs::metadata(out.join("file")).unwrap().uid();
    if caller_is_root() {
        assert!(owner >= ROOT_ID_BASE, "output owned by host uid {owner}");
    } else {
        // SAFETY: geteuid cannot fail.
        #[allow(unsafe_code)]
        let me = unsafe { libc::geteuid() };
        assert_eq!(owner, me);
    }
}

#[test]
fn exit_codes_and_kill_signal_are_reported() {
    for (script, code) in [("exit 3", 3), ("true", 0), ("exit 255", 255)] {
        // Each build gets its own (empty) work root.
        let fixture = Fixture::new();
        let (status, _) = run(&fixture, &fixture.spec(script));
        assert_eq!(status.code(), Some(code), "{script}");
    }

    let fixture = Fixture::new();
    let (log, _) = fixture.log_file();
    let mut running = spawn(&fixture.spec("sleep 1000"), log).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(running.try_wait().unwrap(), None);
    running.kill();
    running.kill();
    let status = wait_bounded(&mut running);
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    // Idempotent after the end too.
    running.kill();
    assert_eq!(running.wait().unwrap().signal(), Some(libc::SIGKILL));
}

#[test]
fn inputs_are_read_only_and_nothing_else_is_visible() {
    let fixture = Fixture::new();
    let script = format!(
        "set -e; cat {INPUT_DIR}/data {INPUT_FILE} {INPUT_LINK}/data; \
         if echo x > {INPUT_DIR}/new 2>/dev/null; then echo WROTE-DIR; fi; \
         if echo x >> {INPUT_FILE} 2>/dev/null; then echo WROTE-FILE; fi; \
         if rm {INPUT_DIR}/data 2>/dev/null; then echo REMOVED; fi; \
         if test -e {SECRET}; then echo SEES-SECRET; fi; \
         if touch /new 2>/dev/null || mkdir /etc/new 2>/dev/null; then echo WROTE-ROOT; fi; \
         if echo x >> /etc/passwd 2>/dev/null; then echo WROTE-ETC; fi; \
         for p in /etc/hostname /root /home /work /usr /var /sys /bin/busybox; do \
           if test -e $p; then echo SEES-HOST $p; fi; done; \
         echo root: $(ls /); echo store: $(ls /nix/store); \
         echo x > /tmp/t && echo x > /dev/shm/t && echo x > /build/t && echo x > /dev/null; \
         head -c 4 /dev/urandom | wc -c; \
         grep nixbld /etc/passwd; grep nixbld /etc/group; cat /etc/hosts; echo done"
    );
    let spec = fixture.spec(&script);
    let log = run_ok(&fixture, &spec);
    assert!(log.starts_with("contents of the input\nan input file\ncontents of the input\n"));
    for bad in [
        "WROTE-DIR",
        "WROTE-FILE",
        "REMOVED",
        "SEES-SECRET",
        "SEES-HOST",
        "WROTE-ROOT",
        "WROTE-ETC",
    ] {
        assert!(!log.contains(bad), "{bad} in log:\n{log}");
    }
    assert!(
        log.contains("root: bin build dev etc nix proc tmp\n"),
        "log:\n{log}"
    );
    let names = |p: &str| p.rsplit('/').next().unwrap().to_string();
    let store_line = format!(
        "store: {} {} {}\n",
        names(INPUT_DIR),
        names(INPUT_FILE),
        names(INPUT_LINK)
    );
    assert!(log.contains(&store_line), "log:\n{log}");
    assert!(
        log.contains("nixbld:x:1000:100:Nix build user:/build:/noshell\n"),
        "log:\n{log}"
    );
    assert!(log.contains("nixbld:!:100:\n"), "log:\n{log}");
    assert!(
        log.contains("127.0.0.1 localhost\n::1 localhost\ndone\n"),
        "log:\n{log}"
    );
    assert!(log.contains("\n4\n"), "/dev/urandom; log:\n{log}");
    // The build directory is the host's.
    assert_eq!(
        fs::read_to_string(fixture.dir.join("build/t")).unwrap(),
        "x\n"
    );
    // The inputs on the host are untouched.
    let input = fixture.dir.join("store").join(names(INPUT_DIR));
    assert_eq!(fs::read_dir(&input).unwrap().count(), 1);
    // The skeleton (`/etc`, `/dev`, mount points) was a tmpfs of the build's own: on the host
    // there are only the store directory (with the inputs' mount points), `/tmp`, and the
    // empty file those mount points are hard links of.
    let work = fixture.dir.join("work");
    let mut on_host: Vec<String> = fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_host.sort();
    assert_eq!(on_host, ["empty", "store", "tmp"]);
    assert_eq!(fs::read_to_string(work.join("tmp/t")).unwrap(), "x\n");
}

#[test]
fn extra_paths_optional_and_missing() {
    let fixture = Fixture::new();
    let shared = fixture.dir.join("shared");
    fs::create_dir(&shared).unwrap();
    fs::write(shared.join("f"), "shared dir\n").unwrap();
    let mut spec = fixture.spec("cat /opt/shared/f; test -e /opt/absent || echo absent-skipped");
    spec.extra_paths.push(SandboxPath {
        target: "/opt/shared".into(),
        source: shared.clone(),
        optional: false,
    });
    spec.extra_paths.push(SandboxPath::parse(&format!(
        "/opt/absent={}?",
        fixture.dir.join("nope").display()
    )));
    let log = run_ok(&fixture, &spec);
    assert_eq!(log, "shared dir\nabsent-skipped\n");

    let fixture = Fixture::new();
    let mut spec = fixture.spec("true");
    let missing = fixture.dir.join("really-missing");
    spec.extra_paths.push(SandboxPath {
        target: "/x".into(),
        source: missing.clone(),
        optional: false,
    });
    let (log, _) = fixture.log_file();
    match spawn(&spec, log) {
        Err(SandboxError::MissingPath { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected a missing path error, got {other:?}"),
    }
}

#[test]
fn missing_builder_is_an_error_naming_it() {
    let fixture = Fixture::new();
    let mut spec = fixture.spec("true");
    spec.builder = "/bin/no-such-builder".into();
    let (log, _) = fixture.log_file();
    let err = spawn(&spec, log).map(|_| ()).unwrap_err();
    assert!(matches!(err, SandboxError::Exec { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("/bin/no-such-builder"), "{message}");
    assert!(message.contains("No such file"), "{message}");

    // A missing input is reported before anything starts.
    let fixture = Fixture::new();
    let mut spec = fixture.spec("true");
    spec.inputs.push(SECRET.replace("3a1b", "9a1b"));
    let (log, _) = fixture.log_file();
    let message = spawn(&spec, log).map(|_| ()).unwrap_err().to_string();
    assert!(
        message.contains("input path") && message.contains("9a1b"),
        "{message}"
    );
}

#[test]
fn network_is_loopback_only_unless_shared() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();

    // Without the network: the host's listener is unreachable, a listener inside works.
    let fixture = Fixture::new();
    let spec = fixture.spec(&format!(
        "if timeout 5 nc 127.0.0.1 {port} < /dev/null; then echo REACHED-HOST; fi; \
         nc -l -p {port} -e echo inside & \
         for i in 1 2 3 4 5 6 7 8 9 10; do nc 127.0.0.1 {port} && break; sleep 0.2; done; wait"
    ));
    let log = run_ok(&fixture, &spec);
    assert!(!log.contains("REACHED-HOST"), "log:\n{log}");
    assert!(log.contains("inside\n"), "log:\n{log}");
    assert!(
        listener.accept().is_err(),
        "the host listener was contacted"
    );

    // With the network (fixed-output derivations): the host's listener is reachable.
    let fixture = Fixture::new();
    let mut spec = fixture.spec(&format!("echo from-sandbox | nc 127.0.0.1 {port}"));
    spec.network = true;
    let server = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(10)))
                        .unwrap();
                    let mut line = [0u8; 13];
                    stream.read_exact(&mut line).unwrap();
                    stream.write_all(b"from-host\n").unwrap();
                    return String::from_utf8_lossy(&line).into_owned();
                }
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => panic!("no connection from the sandbox: {e}"),
            }
        }
    });
    let log = run_ok(&fixture, &spec);
    assert_eq!(server.join().unwrap(), "from-sandbox\n");
    assert!(log.contains("from-host\n"), "log:\n{log}");
}

/// The pids of every process in the pid namespace of `pid`.
fn processes_in_namespace_of(pid: i32) -> Vec<i32> {
    let ns = fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|l| l == ns))
        .collect()
}

#[test]
fn kill_leaves_no_process_behind() {
    let fixture = Fixture::new();
    let spec = fixture.spec(
        "(while true; do sleep 1; done) & (sleep 1000) & sh -c 'sleep 2000' & \
         echo started > /build/started; wait",
    );
    let (log, _) = fixture.log_file();
    let mut running = spawn(&spec, log).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fixture.dir.join("build/started").exists() {
        assert!(Instant::now() < deadline, "the builder did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = processes_in_namespace_of(running.pid());
    assert!(
        before.len() >= 4,
        "expected the builder and its children, got {before:?}"
    );
    running.kill();
    assert_eq!(wait_bounded(&mut running).signal(), Some(libc::SIGKILL));
    for pid in before {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} survived"
        );
    }
}

#[test]
fn builder_exit_kills_its_leftovers() {
    let fixture = Fixture::new();
    let spec = fixture.spec("sleep 1000 & echo $! > /build/child; exit 0");
    let (log, _) = fixture.log_file();
    let mut running = spawn(&spec, log).unwrap();
    let ns = fs::read_link(format!("/proc/{}/ns/pid", running.pid())).unwrap();
    assert!(wait_bounded(&mut running).success());
    let left: Vec<_> = fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|l| l == ns))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn two_sandboxes_at_once_do_not_interfere() {
    let a = Fixture::new();
    let b = Fixture::new();
    let script = |tag: &str| {
        format!(
            "mkdir $out; echo {tag} > $out/tag; echo {tag} > /tmp/tag; sleep 0.5; \
             test $(cat /tmp/tag) = {tag} && ls /build > $out/build-listing"
        )
    };
    let spec_a = a.spec(&script("a"));
    let mut spec_b = b.spec(&script("b"));
    spec_b.inputs = vec![INPUT_FILE.into()];
    fs::write(b.dir.join("build/only-in-b"), "").unwrap();
    let (log_a, _) = a.log_file();
    let (log_b, _) = b.log_file();
    let mut run_a = spawn(&spec_a, log_a).unwrap();
    let mut run_b = spawn(&spec_b, log_b).unwrap();
    assert_ne!(
        fs::read_link(format!("/proc/{}/ns/pid", run_a.pid())).unwrap(),
        fs::read_link(format!("/proc/{}/ns/pid", run_b.pid())).unwrap()
    );
    assert!(wait_bounded(&mut run_a).success());
    assert!(wait_bounded(&mut run_b).success());
    let out_a = output_location(&spec_a, OUT);
    let out_b = output_location(&spec_b, OUT);
    assert_eq!(fs::read_to_string(out_a.join("tag")).unwrap(), "a\n");
    assert_eq!(fs::read_to_string(out_b.join("tag")).unwrap(), "b\n");
    assert_eq!(fs::read_to_string(out_a.join("build-listing")).unwrap(), "");
    assert_eq!(
        fs::read_to_string(out_b.join("build-listing")).unwrap(),
        "only-in-b\n"
    );
    if caller_is_root() {
        // Each build has its own host id.
        let owner_a = fs::metadata(&out_a).unwrap().uid();
        let owner_b = fs::metadata(&out_b).unwrap().uid();
        assert_ne!(owner_a, owner_b);
    }
}

#[test]
fn unsandboxed_builds_see_the_host_and_are_killed_as_a_group() {
    let fixture = Fixture::new();
    let out = fixture.dir.join("out");
    let mut spec = fixture.spec(&format!(
        "echo cwd=$(pwd) out=$out; echo built > $out; \
         {BUSYBOX} sleep 1000 & echo $! > started; wait"
    ));
    spec.builder = BUSYBOX.into();
    spec.args.insert(0, "sh".into());
    spec.env[0].1 = out.to_str().unwrap().into();
    let (log, log_path) = fixture.log_file();
    let mut running = spawn_unsandboxed(&spec, log).unwrap();
    let started = fixture.dir.join("build/started");
    let deadline = Instant::now() + Duration::from_secs(30);
    while fs::read_to_string(&started).map_or(true, |s| !s.ends_with('\n')) {
        assert!(Instant::now() < deadline, "the builder did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let child: i32 = fs::read_to_string(&started)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(Path::new(&format!("/proc/{child}")).exists());
    running.kill();
    assert_eq!(wait_bounded(&mut running).signal(), Some(libc::SIGKILL));
    // The background child was in the group: gone (possibly a zombie of init for a moment).
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|s| !s.contains(") Z ")) {
        assert!(
            Instant::now() < deadline,
            "background child {child} survived"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = fs::read_to_string(log_path).unwrap();
    let build = fs::canonicalize(fixture.dir.join("build")).unwrap();
    assert!(
        log.starts_with(&format!("cwd={} out={}\n", build.display(), out.display())),
        "{log}"
    );
    assert_eq!(fs::read_to_string(&out).unwrap(), "built\n");
}

/// Set in the copy of this test binary that runs as `nobody`.
const AS_NOBODY: &str = "KILN_SANDBOX_TEST_AS_NOBODY";

#[test]
fn works_for_an_ordinary_user() {
    if caller_is_root() && std::env::var_os(AS_NOBODY).is_none() {
        if let Err(why) = kiln_testkit::unprivileged_can_run() {
            eprintln!("SKIPPED works_for_an_ordinary_user: {why}");
            return;
        }
        // Run this same test again as uid/gid 65534, from a copy of the binary that `nobody`
        // can read wherever the build tree is.
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(
            tmp.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let exe = tmp.path().join("sandbox-test");
        fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
        // A sandbox child of a concurrent test may still hold the copy's write descriptor
        // (inherited at its clone, closed at its exec): retry on ETXTBSY.
        let mut attempts = 0;
        let output = loop {
            let output = std::process::Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&exe)
                .args([
                    "--exact",
                    "works_for_an_ordinary_user",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(AS_NOBODY, "1")
                // cargo points this at the toolchain under the caller's home, which nobody
                // may not read (the loader then fails instead of falling back).
                .env_remove("LD_LIBRARY_PATH")
                .current_dir("/")
                .output()
                .expect("running setpriv (package util-linux)");
            attempts += 1;
            let busy = String::from_utf8_lossy(&output.stderr).contains("Text file busy");
            if !busy || attempts == 20 {
                break output;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        eprintln!("as nobody:\n{stdout}\n{stderr}");
        assert!(
            output.status.success(),
            "as nobody: {}\n{stdout}\n{stderr}",
            output.status
        );
        assert!(stdout.contains("1 passed"), "{stdout}");
        return;
    }

    // Here the caller is an ordinary user. The one accepted reason to skip: the kernel forbids
    // unprivileged user namespaces; then say so loudly.
    if let Err(e) = sandbox_supported() {
        if let Some(reason) = userns_disabled_by_kernel() {
            eprintln!("SKIPPED works_for_an_ordinary_user: {reason} ({e})");
            return;
        }
        panic!("the sandbox probe failed for an ordinary user: {e}");
    }
    let fixture = Fixture::new();
    let spec = fixture
        .spec("mkdir $out; echo $(id -u):$(id -g) > $out/ids; cat /nix/store/*-input-dir/data");
    let log = run_ok(&fixture, &spec);
    assert_eq!(log, "contents of the input\n");
    let ids = output_location(&spec, OUT).join("ids");
    assert_eq!(fs::read_to_string(&ids).unwrap(), "1000:100\n");
    // SAFETY: geteuid cannot fail.
    #[allow(unsafe_code)]
    let me = unsafe { libc::geteuid() };
    assert_eq!(fs::metadata(&ids).unwrap().uid(), me);
}

/// Why unprivileged user namespaces are off, if a kernel setting says they are.
fn userns_disabled_by_kernel() -> Option<String> {
    let read = |p: &str| fs::read_to_string(p).ok().map(|s| s.trim().to_string());
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Some("kernel.unprivileged_userns_clone = 0".into());
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Some("user.max_user_namespaces = 0".into());
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return Some("kernel.apparmor_restrict_unprivileged_userns = 1".into());
    }
    None
}

#[test]
fn log_pipe_reaches_end_of_file_when_the_build_ends() {
    use std::os::fd::FromRawFd;
    let fixture = Fixture::new();
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two descriptors.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0);
    // SAFETY: pipe2 succeeded; each descriptor is owned once.
    #[allow(unsafe_code)]
    let (read_end, write_end) =
        unsafe { (fs::File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // A background child keeps the pipe open until the namespace dies with the builder.
    let spec = fixture.spec("echo to-stdout; echo to-stderr >&2; sleep 1000 & exit 7");
    let mut running = spawn(&spec, write_end).unwrap();
    let reader = std::thread::spawn(move || {
        let mut log = String::new();
        let mut read_end = read_end;
        read_end.read_to_string(&mut log).unwrap();
        log
    });
    assert_eq!(wait_bounded(&mut running).code(), Some(7));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reader.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the log pipe never reached end of file"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(reader.join().unwrap(), "to-stdout\nto-stderr\n");
}
