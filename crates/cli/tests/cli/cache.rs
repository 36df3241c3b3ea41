//! Binary caches from the command line: `kiln copy --to/--from`, and builds and
//! `nix-store -r` that fetch from `substituters` instead of building.

use std::path::Path;
use std::process::Command;

use super::{kiln, legacy, stdout_of};

const EXPR: &str = r#"
let mk = name: script: deps: derivation { inherit name deps; system = builtins.currentSystem;
  builder = "/bin/sh"; args = [ "-c" script ]; };
  base = mk "base" "echo base > $out" [];
in mk "top" "echo top > $out; echo $deps >> $out" [ base ]
"#;

fn build(root: &Path, dir: &Path, extra: &[&str]) -> std::process::Output {
    let file = dir.join("default.nix");
    std::fs::write(&file, EXPR).unwrap();
    kiln()
        .arg("--store")
        .arg(root)
        .args(["--option", "sandbox-paths", "/bin/sh=/bin/busybox"])
        .args(extra)
        .arg("build")
        .arg("--no-link")
        .arg("-f")
        .arg(&file)
        .args(["--log-format", "raw"])
        .output()
        .unwrap()
}

/// A key pair in `dir`: (secret key file, public key).
fn keys(dir: &Path) -> (std::path::PathBuf, String) {
    let secret = stdout_of(kiln().args(["key", "generate-secret", "--key-name", "test-1"]));
    let sk = dir.join("sk");
    std::fs::write(&sk, &secret).unwrap();
    let mut child = kiln()
        .args(["key", "convert-secret-to-public"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(secret.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (sk, String::from_utf8(out.stdout).unwrap())
}

/// Builds in one root, uploads the closure, returns (cache URL, output path, public key).
fn built_and_uploaded(dir: &Path) -> (String, String, String) {
    let out = build(&dir.join("a"), dir, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (sk, pk) = keys(dir);
    let url = format!("file://{}/cache", dir.display());
    let out = kiln()
        .arg("--store")
        .arg(dir.join("a"))
        .args(["copy", "--to", &url, "--secret-key-file"])
        .arg(&sk)
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("copying 2 paths"), "{stderr}");
    (url, path, pk)
}

#[test]
fn a_build_fetches_what_a_trusted_cache_has_instead_of_building() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (url, path, pk) = built_and_uploaded(dir);
    let out = build(
        &dir.join("b"),
        dir,
        &[
            "--option",
            "substituters",
            &url,
            "--option",
            "trusted-public-keys",
            &pk,
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), path);
    assert!(stderr.contains("these 2 paths will be fetched"), "{stderr}");
    assert!(
        stderr.contains(&format!("copying path '{path}' from '{url}'")),
        "{stderr}"
    );
    assert!(!stderr.contains("building"), "nothing is built: {stderr}");
    let real = dir.join("b").join(path.trim_start_matches('/'));
    assert_eq!(
        std::fs::read_to_string(real).unwrap().lines().next(),
        Some("top")
    );
}

#[test]
fn an_untrusted_cache_is_ignored_and_the_build_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (url, path, _) = built_and_uploaded(dir);
    let out = build(&dir.join("b"), dir, &["--option", "substituters", &url]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), path);
    assert!(stderr.contains("ignoring the substitute"), "{stderr}");
    assert!(
        stderr.contains("these 2 derivations will be built"),
        "{stderr}"
    );
    // A cache that is not there does not stop a build either.
    let out = build(
        &dir.join("c"),
        dir,
        &[
            "--option",
            "substituters",
            &format!("http://127.0.0.1:9/{}", "nowhere"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("is not used"), "{stderr}");
}

#[test]
fn nix_store_realise_and_copy_from_fetch_a_plain_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (url, path, pk) = built_and_uploaded(dir);
    let out: std::process::Output = legacy(dir, "nix-store")
        .arg("--store")
        .arg(dir.join("b"))
        .args(["-r", &path, "--option", "substituters", &url])
        .args(["--option", "trusted-public-keys", &pk])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), path);
    // `copy --from` refuses what is not signed by a trusted key, and takes it with
    // --no-check-sigs.
    let copy = |extra: &[&str]| -> std::process::Output {
        let mut cmd: Command = kiln();
        cmd.arg("--store")
            .arg(dir.join("c"))
            .args(["copy", "--from", &url])
            .args(extra)
            .arg(&path)
            .output()
            .unwrap()
    };
    let out = copy(&[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not signed by a trusted key"));
    let out = copy(&["--no-check-sigs"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let real = dir.join("c").join(path.trim_start_matches('/'));
    assert!(real.exists());
}

/// Kills the server when the test ends, however it ends.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn kiln_serve_is_a_cache_builds_fetch_from() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = build(&dir.join("a"), dir, &[]);
    assert!(out.status.success());
    let path = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (sk, pk) = keys(dir);
    let mut child = kiln()
        .arg("--store")
        .arg(dir.join("a"))
        .args(["serve", "--listen", "127.0.0.1:0", "--secret-key-file"])
        .arg(&sk)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let _server = Serving(child);
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let out = build(
        &dir.join("b"),
        dir,
        &[
            "--option",
            "substituters",
            &url,
            "--option",
            "trusted-public-keys",
            &pk,
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("copying path '{path}' from '{url}'")),
        "{stderr}"
    );
    assert!(!stderr.contains("building"), "{stderr}");
}

/// `kiln store verify --sigs` finds a copied path without a trusted signature;
/// `kiln store sign` gives it one.
#[test]
fn store_sign_and_verify_sigs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (url, path, _) = built_and_uploaded(dir);
    let store = dir.join("b");
    let run = |args: &[&str]| -> std::process::Output {
        kiln()
            .arg("--store")
            .arg(&store)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["copy", "--from", &url, "--no-check-sigs", &path])
        .status
        .success());
    let other = dir.join("other");
    std::fs::create_dir(&other).unwrap();
    let (sk2, pk2) = keys(&other);
    let verify = || {
        run(&[
            "--option",
            "trusted-public-keys",
            &pk2,
            "store",
            "verify",
            "--sigs",
            &path,
        ])
    };
    let out = verify();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("path '{path}' is untrusted")),
        "{stderr}"
    );
    // A link into the store (like ./result) stands for its target.
    let link = dir.join("result");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let out = run(&[
        "store",
        "sign",
        "-k",
        sk2.to_str().unwrap(),
        "-r",
        link.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("added 2 signatures"));
    let out = verify();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A cache whose NARs are gone: the build fails with a message naming the missing NAR, or,
/// with `fallback`, builds instead.
#[test]
fn a_failed_download_fails_the_build_unless_fallback() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (url, path, pk) = built_and_uploaded(dir);
    for nar in std::fs::read_dir(dir.join("cache/nar")).unwrap() {
        std::fs::remove_file(nar.unwrap().path()).unwrap();
    }
    let opts = [
        "--option",
        "substituters",
        &url,
        "--option",
        "trusted-public-keys",
        &pk,
    ];
    let out = build(&dir.join("b"), dir, &opts);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the NAR its narinfo names is missing"),
        "{stderr}"
    );
    assert!(!dir.join("b").join(path.trim_start_matches('/')).exists());
    let mut with_fallback = opts.to_vec();
    with_fallback.extend(["--option", "fallback", "true"]);
    let out = build(&dir.join("b"), dir, &with_fallback);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("building instead (fallback)"), "{stderr}");
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), path);
}

/// `kiln copy --to s3://…` into a real S3-compatible object store (SeaweedFS on 127.0.0.1),
/// with the credentials from the environment; then a build and `nix-store -r` substitute
/// from the bucket instead of building.
#[test]
fn copy_to_s3_and_substitute_from_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = kiln_testkit::S3Server::start(&dir.join("s3"), &["kiln-ci"]);
    let out = build(&dir.join("a"), dir, &[]);
    assert!(out.status.success());
    let path = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (sk, pk) = keys(dir);
    let url = format!(
        "s3://kiln-ci?endpoint={}&region=eu-test-1",
        server.endpoint()
    );
    let with_creds = |mut cmd: Command, secret: &str| -> Command {
        cmd.env("AWS_ACCESS_KEY_ID", kiln_testkit::S3_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("XDG_CACHE_HOME", dir.join("xdg-cache"));
        cmd
    };
    let copy = |secret: &str| {
        let mut cmd = with_creds(kiln(), secret);
        cmd.arg("--store")
            .arg(dir.join("a"))
            .args(["copy", "--to", &url, "--secret-key-file"])
            .arg(&sk)
            .arg(&path)
            .output()
            .unwrap()
    };
    // The store checks the signature: a wrong secret is refused.
    let out = copy("a-wrong-secret");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("403"));
    let out = copy(kiln_testkit::S3_SECRET_KEY);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("copying 2 paths"), "{stderr}");
    let subst = [
        "--option",
        "substituters",
        &url,
        "--option",
        "trusted-public-keys",
        &pk,
    ];
    let mut cmd = with_creds(kiln(), kiln_testkit::S3_SECRET_KEY);
    let out = cmd
        .arg("--store")
        .arg(dir.join("b"))
        .args(["--option", "sandbox-paths", "/bin/sh=/bin/busybox"])
        .args(subst)
        .args(["build", "--no-link", "-f"])
        .arg(dir.join("default.nix"))
        .args(["--log-format", "raw"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), path);
    assert!(
        stderr.contains(&format!("copying path '{path}' from 's3://kiln-ci")),
        "{stderr}"
    );
    assert!(!stderr.contains("building"), "nothing is built: {stderr}");
    let out = with_creds(legacy(dir, "nix-store"), kiln_testkit::S3_SECRET_KEY)
        .arg("--store")
        .arg(dir.join("c"))
        .args(["-r", &path])
        .args(subst)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    kiln_testkit::interop::assert_same_tree(
        &kiln_testkit::interop::real_path(&dir.join("a"), &path),
        &kiln_testkit::interop::real_path(&dir.join("c"), &path),
    );
}

/// The store's disk fills up while a substituted NAR unpacks: the store root is a 2 MiB
/// tmpfs in a private mount namespace (`unshare --mount`; CI runs as root, elsewhere a user
/// namespace maps the caller to root) and the path is 4 MiB. One clear message, no retries,
/// nothing registered, nothing left in the store.
#[test]
fn a_full_disk_while_unpacking_registers_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let big = dir.join("big.txt");
    std::fs::write(&big, "a line that fills a small disk\n".repeat(140_000)).unwrap();
    let path = stdout_of(
        kiln()
            .arg("--store")
            .arg(dir.join("a"))
            .args(["store", "add"])
            .arg(&big),
    )
    .trim()
    .to_owned();
    let (sk, pk) = keys(dir);
    let url = format!("file://{}/cache?compression=zstd", dir.display());
    stdout_of(
        kiln()
            .arg("--store")
            .arg(dir.join("a"))
            .args(["copy", "--to", &url, "--secret-key-file"])
            .arg(&sk)
            .arg(&path),
    );
    let small = dir.join("small");
    std::fs::create_dir(&small).unwrap();
    let nix_store = legacy(dir, "nix-store").get_program().to_owned();
    // Inside the namespace: mount, substitute (it must fail), then report what the store
    // holds before the tmpfs goes away with the namespace.
    let script = r#"
        mount -t tmpfs -o size=2m kiln-small "$ROOT" || exit 90
        "$NIX_STORE" --store "$ROOT" -r "$P" --option substituters "$URL" \
            --option trusted-public-keys "$PK"
        echo "exit: $?"
        echo "valid: $("$NIX_STORE" --store "$ROOT" --check-validity "$P" 2>/dev/null && echo yes || echo no)"
        echo "store: $(ls -A "$ROOT/nix/store" | grep -v -e '^\.links$' -e '^\.kiln-tmp$' | tr '\n' ' ')"
        echo "temp: $(ls -A "$ROOT/nix/store/.kiln-tmp" 2>/dev/null | grep -v '^\.lock$' | tr '\n' ' ')"
    "#;
    let mut cmd = Command::new("unshare");
    if stdout_of(Command::new("id").arg("-u")).trim() != "0" {
        cmd.arg("--map-root-user");
    }
    let out = cmd
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("ROOT", &small)
        .env("NIX_STORE", &nix_store)
        .env("P", &path)
        .env("URL", format!("file://{}/cache", dir.display()))
        .env("PK", &pk)
        .env_remove("KILN_STORE")
        .env("XDG_CONFIG_HOME", "/nonexistent-kiln-test-config")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("exit: 1"), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "no space left on the device of the store to unpack '{path}'"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("nothing of it was registered"), "{stderr}");
    assert!(
        stderr.contains("No space left on device"),
        "the cause: {stderr}"
    );
    assert!(!stderr.contains("trying again"), "no retries: {stderr}");
    assert!(stdout.contains("valid: no"), "{stdout}");
    assert!(
        stdout.contains("store: \n"),
        "nothing partial left: {stdout}"
    );
    assert!(stdout.contains("temp: \n"), "no temporary left: {stdout}");
}
