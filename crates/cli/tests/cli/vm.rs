//! `kiln os vm`: the example fleet's web host built as a VM and booted in qemu (TCG), then
//! rebuilt twice into the same VM directory, its generations booted from the boot menu, and a
//! bad one reverted. Needs `qemu-system-x86_64`, `mke2fs` and `debugfs` (`.ci/run` installs
//! them).

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
    boot_with(dir, n, &[], 300)
}

/// Starts the runner with `args` and waits (up to `secs`) for a boot to be ready.
fn boot_with(dir: &Path, n: u32, args: &[&str], secs: u64) -> Machine {
    let mut m = Machine::start_with(
        &dir.join("run-vm"),
        args,
        &dir.join(format!("console-{n}.log")),
        &dir.join("backdoor.sock"),
    )
    .unwrap();
    let took = m
        .wait_ready(Duration::from_secs(secs))
        .unwrap_or_else(|e| panic!("boot {n}: {e}\n{}", console_tail(dir, n)));
    eprintln!("boot {n}: multi-user.target reached {took:.1?} after qemu started");
    m
}

/// Powers the guest off; on failure the panic shows the last console and loader lines.
fn shutdown(m: Machine, dir: &Path) {
    let log = m.log().to_owned();
    if let Err(e) = m.shutdown(Duration::from_secs(120)) {
        let text = fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        panic!(
            "{e}\n{}\nboot.log:\n{}",
            lines[lines.len().saturating_sub(60)..].join("\n"),
            fs::read_to_string(dir.join("boot.log")).unwrap_or_default()
        );
    }
}

fn console_tail(dir: &Path, n: u32) -> String {
    let log = fs::read_to_string(dir.join(format!("console-{n}.log"))).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// `kiln os vm --file FILE --host web --dir DIR`: a new generation of the VM in `dir`.
fn make_vm(hosts: &Path, dir: &Path, generation: u64) {
    let start = Instant::now();
    let out = kiln()
        .env("XDG_CACHE_HOME", pkgs_cache_home())
        .args(["os", "vm", "--host", "web", "--file"])
        .arg(hosts)
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kiln os vm failed:\n{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        dir.join("run-vm").to_string_lossy()
    );
    assert!(
        stderr.contains(&format!("VM system generation {generation}")),
        "{stderr}"
    );
    eprintln!(
        "kiln os vm (generation {generation}) took {:.1?}",
        start.elapsed()
    );
}

/// The boot entry the guest was booted from (`kiln.entry=` on its command line).
fn booted_entry(m: &mut Machine) -> String {
    let cmdline = m.succeed("cat /proc/cmdline").unwrap();
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("kiln.entry="))
        .unwrap_or_else(|| panic!("no kiln.entry= in {cmdline}"))
        .to_owned()
}

/// The entries on the guest's `/boot/loader`, sorted, once `kiln-bless-boot` is done.
fn entries(m: &mut Machine) -> String {
    m.wait_for_unit("kiln-bless-boot.service", Duration::from_secs(60))
        .unwrap();
    m.succeed("ls /boot/loader/entries | sort | tr '\\n' ' '")
        .unwrap()
        .trim()
        .to_owned()
}

/// The web host of `examples/fleet` boots to `multi-user.target` with its host name, motd,
/// users and services (sshd, the web server on port 80; db's key-value store is not there);
/// the host key sshd made is in `/persist`. After a reboot the files written under `/root`
/// and `/tmp` are gone, and a file in a declared state directory is still there with its
/// owner and mode, as is the same host key.
///
/// Then the boot menu: a second generation (another motd) made into the same VM directory
/// (the persist image kept) is the default and boots; generation 1 is picked from the menu
/// (`--generation 1`), made the default in the guest (`kiln-os-boot 1`) and booted by a
/// reboot; a third generation whose required service fails is tried twice (boot counting),
/// then generation 2 boots, and the runner's `boot.log` says why.
#[test]
fn the_example_web_host_boots_keeps_its_declared_state_and_reverts_a_bad_generation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vm");
    let fleet = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fleet");
    let hosts = fleet.join("hosts.nix");
    let test_start = Instant::now();
    make_vm(&hosts, &dir, 1);

    let mut m = boot(&dir, 1);
    assert_eq!(booted_entry(&mut m), "kiln-1+2-1.conf", "counted: 3 tries");
    assert_eq!(entries(&mut m), "kiln-1.conf", "blessed");
    assert!(m
        .succeed("readlink /run/current-system/sw/bin/poweroff")
        .unwrap()
        .trim()
        .ends_with("/bin/systemctl"));
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
    shutdown(m, &dir);

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
    assert_eq!(booted_entry(&mut m), "kiln-1.conf");
    shutdown(m, &dir);

    // Generation 2: another motd, the default entry.
    let web = fleet.join("web.nix");
    let gen2 = tmp.path().join("gen2.nix");
    fs::write(
        &gen2,
        format!(
            "{{ web = {{ lib, ... }}: {{ imports = [ {} ]; \
             fleet.motd.text = lib.mkForce \"generation 2\"; }}; }}\n",
            web.display()
        ),
    )
    .unwrap();
    make_vm(&gen2, &dir, 2);
    let mut m = boot(&dir, 3);
    assert_eq!(m.succeed("cat /etc/motd").unwrap(), "generation 2\n");
    assert_eq!(booted_entry(&mut m), "kiln-2+2-1.conf");
    assert_eq!(entries(&mut m), "kiln-1.conf kiln-2.conf");
    assert_eq!(
        m.succeed("stat -c '%U:%G %a' /var/cache/www/kept && cat /var/cache/www/kept")
            .unwrap(),
        "www:www 640\nkept\n",
        "the persist image is kept across builds"
    );
    shutdown(m, &dir);

    // Generation 1 from the boot menu, then made the default in the guest.
    let mut m = boot_with(&dir, 4, &["--generation", "1"], 300);
    assert_eq!(booted_entry(&mut m), "kiln-1.conf");
    assert_eq!(
        m.succeed("cat /etc/motd").unwrap(),
        "web: the fleet's front door. Be gentle.\n"
    );
    assert_eq!(
        m.succeed("kiln-os-boot").unwrap(),
        "  kiln-1.conf\n* kiln-2.conf\n"
    );
    assert_eq!(
        m.succeed("kiln-os-boot 1").unwrap(),
        "generation 1 is the default boot entry\n"
    );
    let (status, _) = m.run("kiln-os-boot 7", Duration::from_secs(30)).unwrap();
    assert_ne!(status, 0, "no entry for generation 7");
    let took = m.reboot(Duration::from_secs(300)).unwrap();
    eprintln!("reboot into the new default took {took:.1?}");
    assert_eq!(booted_entry(&mut m), "kiln-1.conf");
    assert_eq!(
        m.succeed("cat /etc/motd").unwrap(),
        "web: the fleet's front door. Be gentle.\n"
    );
    shutdown(m, &dir);

    // Generation 3: a required service fails; two tries, then generation 2 boots.
    let gen3 = tmp.path().join("gen3.nix");
    fs::write(
        &gen3,
        format!(
            "{{ web = {{ lib, ... }}: {{ imports = [ {} ]; \
             fleet.motd.text = lib.mkForce \"generation 3\"; \
             boot.loader.bootCounting.tries = 2; \
             systemd.services.broken = {{ requiredBy = [ \"multi-user.target\" ]; \
             serviceConfig.Type = \"oneshot\"; script = \"echo broken; exit 1\"; }}; }}; }}\n",
            web.display()
        ),
    )
    .unwrap();
    make_vm(&gen3, &dir, 3);
    let mut m = boot_with(&dir, 5, &[], 900);
    assert_eq!(booted_entry(&mut m), "kiln-2.conf");
    assert_eq!(m.succeed("cat /etc/motd").unwrap(), "generation 2\n");
    assert_eq!(entries(&mut m), "kiln-1.conf kiln-2.conf kiln-3+0-2.conf");
    let log = fs::read_to_string(dir.join("boot.log")).unwrap();
    let tail: Vec<&str> = log.lines().rev().take(6).collect();
    assert!(
        log.contains("booting generation 3 (the default), try 1 of 2")
            && log.contains("booting generation 3 (the default), try 2 of 2"),
        "{log}"
    );
    let revert = log
        .lines()
        .find(|l| l.contains("generation 3 is bad"))
        .unwrap_or_else(|| panic!("no revert in {log}"));
    assert!(
        revert.contains(
            "generation 3 is bad: 2 tries did not reach multi-user.target (last try: \
             multi-user.target was not reached; failed units: "
        ) && revert.contains("broken.service")
            && revert.ends_with("reverting to generation 2"),
        "{log}"
    );
    eprintln!(
        "boot.log, last lines:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    shutdown(m, &dir);
    eprintln!("the whole VM test took {:.1?}", test_start.elapsed());
}
