//! Configuration files, `KILN_CONFIG` and `--option`.

use crate::{failure_of, stdout_of};

#[test]
fn layers_and_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("etc-kiln");
    let user = dir.path().join("xdg");
    std::fs::create_dir_all(&sys).unwrap();
    std::fs::create_dir_all(user.join("kiln")).unwrap();
    std::fs::write(
        sys.join("kiln.conf"),
        "# system\ncores = 4\nsubstituters = a\n!include missing.conf\ninclude more.conf\n",
    )
    .unwrap();
    std::fs::write(sys.join("more.conf"), "max-jobs = 3\n").unwrap();
    std::fs::write(
        user.join("kiln/kiln.conf"),
        "extra-substituters = b\nsandbox = false\n",
    )
    .unwrap();
    let kiln = || {
        let mut cmd = crate::kiln();
        cmd.env("KILN_CONF_DIR", &sys).env("XDG_CONFIG_HOME", &user);
        cmd
    };
    let out = stdout_of(kiln().args(["config", "show"]));
    assert_eq!(
        out,
        "cores = 4\nmax-jobs = 3\nsandbox = false\nsubstituters = a b\n"
    );
    let out = stdout_of(
        kiln()
            .env("KILN_CONFIG", "cores = 8")
            .args(["config", "show", "cores"]),
    );
    assert_eq!(out, "8\n");
    let out = stdout_of(
        kiln()
            .env("KILN_CONFIG", "cores = 8")
            .args(["--option", "cores", "16", "config", "show", "cores"]),
    );
    assert_eq!(out, "16\n");
    let out = stdout_of(kiln().args([
        "config",
        "show",
        "--option",
        "extra-substituters",
        "c",
        "substituters",
    ]));
    assert_eq!(out, "a b c\n");
    // A broken file is an error that names the file and line.
    std::fs::write(user.join("kiln/kiln.conf"), "this is not a setting\n").unwrap();
    let out = failure_of(kiln().args(["config", "show"]));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("kiln.conf") && err.contains('1'), "{err}");
}

/// `kiln config show NAME` gives an unset setting's default from the session's table, and
/// `--all` lists the whole table, marking what Kiln only accepts.
#[test]
fn defaults_and_the_whole_table() {
    let dir = tempfile::tempdir().unwrap();
    let kiln = || {
        let mut cmd = crate::kiln();
        cmd.env("KILN_CONF_DIR", dir.path())
            .env_remove("KILN_CONFIG");
        cmd
    };
    assert_eq!(
        stdout_of(kiln().args(["config", "show", "keep-derivations"])),
        "true\n"
    );
    assert_eq!(
        stdout_of(kiln().args(["config", "show", "tarball-ttl"])),
        "3600\n"
    );
    let out = failure_of(kiln().args(["config", "show", "no-such-setting"]));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("setting 'no-such-setting' is not set"),
        "{err}"
    );
    let all = stdout_of(
        kiln()
            .args(["--option", "cores", "3", "--option", "x", "y"])
            .args(["config", "show", "--all"]),
    );
    let lines: Vec<&str> = all.lines().collect();
    assert!(lines.contains(&"cores = 3"), "{all}");
    assert!(lines.contains(&"keep-outputs = false"), "{all}");
    assert!(lines.contains(&"x = y"), "{all}");
    assert!(
        lines.contains(&"builders = @/etc/nix/machines # accepted, no effect"),
        "{all}"
    );
    // Honoured, with Kiln's own default (no cache: its package set is not on cache.nixos.org).
    assert!(lines.contains(&"substituters = "), "{all}");
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "{all}");
}
