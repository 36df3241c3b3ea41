//! `kiln os vm`: the example fleet's web host built as a VM and booted in qemu (TCG), twice.
//! Needs `qemu-system-x86_64` and `mke2fs` (`.ci/run` installs them).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use kiln_os::vm::Machine;

use super::kiln;

/// The fetch cache the package-set tests share (the pinned Debian files).
fn pkgs_cache_home() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/kiln-pkgs-test-cache");
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn boot(dir: &Path, n: u32) -> Machine {
    let mut m = Machine::start(
        &dir.join("run-vm"),
        &dir.join(format!("console-{n}.log")),
        &dir.join("backdoor.sock"),
    )
    .unwrap();
    let took = m
        .wait_ready(Duration::from_secs(300))
        .unwrap_or_else(|e| panic!("boot {n}: {e}\n{}", console_tail(dir, n)));
    eprintln!("boot {n}: multi-user.target reached {took:.1?} after qemu started");
    m
}

fn console_tail(dir: &Path, n: u32) -> String {
    let log = fs::read_to_string(dir.join(format!("console-{n}.log"))).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The web host of `examples/fleet` boots to `multi-user.target` with its host name, motd,
/// users and services (sshd, the web server on port 80; db's key-value store is not there);
/// the host key sshd made is in `/persist`. After a reboot the files written under `/root`
/// and `/tmp` are gone, and a file in a declared state directory is still there with its
/// owner and mode, as is the same host key.
#[test]
fn the_example_web_host_boots_and_keeps_only_its_declared_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vm");
    let hosts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fleet/hosts.nix");
    let start = Instant::now();
    let out = kiln()
        .env("XDG_CACHE_HOME", pkgs_cache_home())
        .args(["os", "vm", "--host", "web", "--file"])
        .arg(&hosts)
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kiln os vm failed:\n{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        dir.join("run-vm").to_string_lossy()
    );
    assert!(stderr.contains("VM system generation 1"), "{stderr}");
    eprintln!("kiln os vm took {:.1?}", start.elapsed());

    let mut m = boot(&dir, 1);
    assert_eq!(m.succeed("hostname").unwrap().trim(), "web");
    assert_eq!(
        m.succeed("cat /etc/motd").unwrap(),
        "web: the fleet's front door. Be gentle.\n"
    );
    assert_eq!(
        m.succeed("id alice").unwrap().trim(),
        "uid=1000(alice) gid=100(users) groups=100(users),1(wheel)"
    );
    assert!(m
        .succeed("cat /proc/1/comm")
        .unwrap()
        .starts_with("systemd"));
    assert_eq!(
        m.succeed("awk '$2 == \"/\" {print $3}' /proc/mounts")
            .unwrap()
            .trim(),
        "tmpfs"
    );
    m.wait_for_unit("sshd.service", Duration::from_secs(120))
        .unwrap_or_else(|e| {
            panic!(
                "{e}\n{}",
                m.succeed("journalctl -u sshd --no-pager | tail -20")
                    .unwrap_or_default()
            )
        });
    m.wait_for_unit("webserver.service", Duration::from_secs(60))
        .unwrap();
    assert!(m
        .succeed("wget -q -O - http://127.0.0.1/index.html")
        .unwrap()
        .contains("Served by a Kiln system."));
    let (kv, _) = m
        .run(
            "test -e /etc/systemd/system/kv.service",
            Duration::from_secs(60),
        )
        .unwrap();
    assert_ne!(kv, 0, "db's service is not on web");
    let key = m
        .succeed("sha256sum < /persist/etc/ssh/ssh_host_ed25519_key")
        .unwrap();
    m.succeed(
        "echo lost > /root/scratch && echo lost > /tmp/scratch && \
         echo kept > /var/cache/www/kept && chown www:www /var/cache/www/kept && \
         chmod 0640 /var/cache/www/kept && sync",
    )
    .unwrap();
    let audit = m.succeed("kiln-os-audit").unwrap();
    let lines: Vec<&str> = audit.lines().collect();
    assert!(lines.contains(&"ephemeral /root/scratch"), "{audit}");
    assert!(lines.contains(&"ephemeral /tmp/scratch"), "{audit}");
    assert!(
        !audit.contains("/var/cache/www"),
        "declared state is not ephemeral: {audit}"
    );
    assert!(
        !audit.contains("missing "),
        "every declared path exists: {audit}"
    );
    m.shutdown(Duration::from_secs(120)).unwrap();

    let mut m = boot(&dir, 2);
    let (status, _) = m
        .run("ls /root/scratch /tmp/scratch", Duration::from_secs(30))
        .unwrap();
    assert_ne!(status, 0, "files outside declared state are gone");
    assert_eq!(
        m.succeed("stat -c '%U:%G %a' /var/cache/www/kept && cat /var/cache/www/kept")
            .unwrap(),
        "www:www 640\nkept\n"
    );
    assert_eq!(
        m.succeed("sha256sum < /persist/etc/ssh/ssh_host_ed25519_key")
            .unwrap(),
        key,
        "the host key persists"
    );
    m.wait_for_unit("sshd.service", Duration::from_secs(120))
        .unwrap();
    m.shutdown(Duration::from_secs(120)).unwrap();
}
