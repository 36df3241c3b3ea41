//! The package set (`nix/pkgs`): its bootstrap's stage 0 and the trivial builders, built by
//! `kiln build` in the sandbox of temporary store roots, with nothing from the host.
//!
//! Sources come from Debian's archive through `mirror://debian` (the machine's apt mirror).
//! Downloads are kept in a fetch cache shared by every run (`target/kiln-pkgs-test-cache`),
//! so a pinned `.deb` is fetched from the network once, not once per test.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{failure_of, kiln, stdout_of};

/// The `nix/` directory of this working copy.
fn nix_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../nix")
}

/// The fetch cache kept between test runs.
fn cache_home() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/kiln-pkgs-test-cache");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `kiln --store ROOT build` of this working copy's package set, logs raw.
fn build(root: &Path) -> Command {
    let mut cmd = kiln();
    cmd.env("XDG_CACHE_HOME", cache_home())
        .arg("--store")
        .arg(root)
        .arg("build")
        .arg("-I")
        .arg(format!("kiln={}", nix_dir().display()))
        .args(["--log-format", "raw", "--no-link"]);
    cmd
}

/// Builds `expr` (with the package set's attributes in scope) and returns its output paths.
fn build_expr(root: &Path, expr: &str) -> Vec<String> {
    let out = stdout_of(
        build(root)
            .arg("-E")
            .arg(format!("with import <kiln/pkgs> {{ }}; {expr}")),
    );
    out.lines().map(str::to_owned).collect()
}

/// Where a logical store path's file is in the store under `root`.
fn real(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Reads the target of a link that names a logical store path, inside `root`.
fn link_target(root: &Path, link: &Path) -> String {
    std::fs::read_link(link)
        .unwrap_or_else(|e| panic!("{}: {e}", link.display()))
        .to_string_lossy()
        .into_owned()
        .replace(&format!("{}/", root.display()), "/")
}

#[test]
fn stage0_busybox_comes_from_the_pinned_debian_package() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let out = stdout_of(
        build(&root)
            .arg("-f")
            .arg(nix_dir().join("pkgs"))
            .args(["-A", "busybox"]),
    );
    let out = out.trim();
    assert!(out.starts_with("/nix/store/") && out.ends_with("-busybox-1.35.0-4+deb12u1+b1"));
    let bin = real(&root, out).join("bin");
    // One link per applet, all to the static binary of the unpacked package.
    for applet in ["sh", "tar", "xz", "ar", "sed", "awk", "find"] {
        assert_eq!(link_target(&root, &bin.join(applet)), "busybox", "{applet}");
    }
    let unpacked = link_target(&root, &bin.join("busybox"));
    assert!(
        unpacked.ends_with("-busybox-static-1.35.0-4+deb12u1+b1/bin/busybox"),
        "{unpacked}"
    );
    // The unpacked package is the .deb's files, and the binary runs.
    let binary = real(&root, &unpacked);
    let hello = Command::new(&binary)
        .args(["echo", "hello"])
        .output()
        .unwrap();
    assert_eq!(hello.stdout, b"hello\n");
    let doc = real(&root, unpacked.trim_end_matches("/bin/busybox"))
        .join("usr/share/doc/busybox-static/copyright");
    assert!(doc.is_file());
    // The stages are inspectable: the pin and the fetch.
    let pin = stdout_of(
        kiln()
            .arg("eval")
            .arg("-I")
            .arg(format!("kiln={}", nix_dir().display()))
            .arg("--expr")
            .arg("(import <kiln/pkgs> { }).bootstrap.stage0.debs.busybox-static.url"),
    );
    assert_eq!(
        pin.trim(),
        "\"mirror://debian/pool/main/b/busybox/busybox-static_1.35.0-4+deb12u1+b1_amd64.deb\""
    );
}

#[test]
fn trivial_builders_make_what_they_promise() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outs = build_expr(
        &root,
        r#"
        let
          text = writeText "note" "plain text\n";
          tool = writeShellScriptBin "greet" ''echo "hello from $1"'';
          script = writeShellScript "count" "echo $#";
          file = writeTextFile { name = "conf"; text = "k=v\n"; executable = true; destination = "/etc/x.conf"; };
          a = writeTextFile { name = "a"; text = "a\n"; destination = "/share/a"; };
          b = writeTextFile { name = "b"; text = "b\n"; destination = "/share/b"; };
          joined = symlinkJoin { name = "joined"; paths = [ a b tool ]; postBuild = "echo done > $out/post"; };
          env = buildEnv { name = "env"; paths = [ a tool ]; pathsToLink = [ "/bin" ]; };
          ran = runCommand "ran" { nativeBuildInputs = [ tool ]; greeting = "hi"; } ''
            greet "$greeting" > $out
            ${script} 1 2 3 >> $out
          '';
        in [ text file joined env ran ]
        "#,
    );
    assert_eq!(outs.len(), 5, "{outs:?}");
    let [text, file, joined, env, ran] = &outs[..] else {
        unreachable!()
    };
    assert_eq!(
        std::fs::read_to_string(real(&root, text)).unwrap(),
        "plain text\n"
    );
    let conf = real(&root, file).join("etc/x.conf");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "k=v\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&conf).unwrap().permissions().mode() & 0o111,
        0o111
    );

    let j = real(&root, joined);
    assert!(link_target(&root, &j.join("share/a")).ends_with("-a/share/a"));
    assert!(link_target(&root, &j.join("share/b")).ends_with("-b/share/b"));
    assert!(link_target(&root, &j.join("bin/greet")).ends_with("-greet/bin/greet"));
    assert_eq!(std::fs::read_to_string(j.join("post")).unwrap(), "done\n");

    // Only `bin` is linked.
    let e = real(&root, env);
    assert!(link_target(&root, &e.join("bin/greet")).ends_with("-greet/bin/greet"));
    assert!(!e.join("share").exists());

    // The script ran inside the sandbox, through the busybox shell it names.
    assert_eq!(
        std::fs::read_to_string(real(&root, ran)).unwrap(),
        "hello from hi\n3\n"
    );
}

#[test]
fn build_env_collisions_fail_unless_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let two = r#"
      let
        x1 = writeTextFile { name = "x1"; text = "1"; destination = "/bin/x"; };
        x2 = writeTextFile { name = "x2"; text = "2"; destination = "/bin/x"; };
      in buildEnv { name = "clash"; paths = [ x1 x2 ]; IGNORE }
    "#;
    let fail = failure_of(build(&root).arg("-E").arg(format!(
        "with import <kiln/pkgs> {{ }}; {}",
        two.replace("IGNORE", "")
    )));
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(err.contains("collision between '/nix/store/"), "{err}");
    assert!(err.contains("-x1/bin/x' and '/nix/store/"), "{err}");
    let outs = build_expr(&root, &two.replace("IGNORE", "ignoreCollisions = true;"));
    let x = real(&root, &outs[0]).join("bin/x");
    assert!(link_target(&root, &x).ends_with("-x1/bin/x"));
}

#[test]
fn fetch_errors_say_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let mirror = tmp.path().join("mirror");
    std::fs::create_dir_all(mirror.join("pool/main/k")).unwrap();
    std::fs::write(mirror.join("pool/main/k/present.txt"), "here\n").unwrap();
    let fetch = |path: &str, hash: &str| {
        let mut cmd = build(&root);
        cmd.args([
            "--option",
            "mirrors",
            &format!("debian=file://{}", mirror.display()),
        ])
        .arg("-E")
        .arg(format!(
            "(import <kiln/pkgs> {{ }}).fetchurl {{ url = \"mirror://debian/pool/main/k/{path}\"; hash = \"{hash}\"; }}"
        ));
        cmd
    };
    let good =
        kiln_formats::hash::Hash::digest_bytes(kiln_formats::hash::HashAlgo::Sha256, b"here\n")
            .to_sri();
    let out = stdout_of(&mut fetch("present.txt", &good));
    assert_eq!(
        std::fs::read_to_string(real(&root, out.trim())).unwrap(),
        "here\n"
    );

    // A vanished pin: the error names the mirror URL and says how to re-pin. (A hash whose
    // file is in the download cache would be served from there, wherever its URL points.)
    let unseen = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let fail = failure_of(&mut fetch("gone.txt", unseen));
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(
        err.contains("unable to download 'mirror://debian/pool/main/k/gone.txt'"),
        "{err}"
    );
    assert!(err.contains("run 'nix/pkgs/update'"), "{err}");

    // A wrong hash: the fixed-output check names both hashes.
    std::fs::write(mirror.join("pool/main/k/changed.txt"), "changed\n").unwrap();
    let fail = failure_of(&mut fetch("changed.txt", unseen));
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(
        err.contains("hash mismatch in fixed-output derivation"),
        "{err}"
    );
    assert!(err.contains(unseen), "{err}");
    assert!(err.contains("changed.txt.drv"), "{err}");

    // No hash at all is refused while evaluating.
    let fail = failure_of(
        build(&root)
            .arg("-E")
            .arg("(import <kiln/pkgs> { }).fetchurl { url = \"mirror://debian/pool/x\"; }"),
    );
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(err.contains("has no hash"), "{err}");
}

#[test]
fn overlays_config_and_overrides() {
    let out = stdout_of(
        kiln()
            .arg("eval")
            .arg("--strict")
            .arg("-I")
            .arg(format!("kiln={}", nix_dir().display()))
            .arg("--expr")
            .arg(
                r#"
                let
                  pkgs = import <kiln/pkgs> {
                    overlays = [
                      (final: prev: { greeting = "hello"; shout = final.greeting + "!"; })
                      (final: prev: { greeting = prev.greeting + " world"; })
                    ];
                    config.packageOverrides = p: { fromConfig = p.greeting; };
                  };
                  f = pkgs.callPackage ({ writeText, greeting, suffix ? "." }: writeText "g" (greeting + suffix)) { };
                  g = f.override { suffix = "?"; };
                  h = g.overrideAttrs (old: { name = "h"; });
                in [ pkgs.shout pkgs.fromConfig f.text g.text h.name h.text (pkgs.lib ? fix) ]
                "#,
            ),
    );
    assert_eq!(
        out.trim(),
        r#"[ "hello world!" "hello world" "hello world." "hello world?" "h" "hello world?" true ]"#
    );
    let fail = failure_of(
        kiln()
            .arg("eval")
            .arg("-I")
            .arg(format!("kiln={}", nix_dir().display()))
            .arg("--expr")
            .arg("(import <kiln/pkgs> { }).callPackage ({ noSuchThing }: noSuchThing) { }"),
    );
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(err.contains("needs argument 'noSuchThing'"), "{err}");
}
