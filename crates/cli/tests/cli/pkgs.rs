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

/// The output path `expr` (with the package set in scope) evaluates to, without building it.
fn out_path_of(expr: &str) -> String {
    stdout_of(
        kiln()
            .arg("eval")
            .arg("--raw")
            .arg("-I")
            .arg(format!("kiln={}", nix_dir().display()))
            .arg("--expr")
            .arg(format!("with import <kiln/pkgs> {{ }}; ({expr}).outPath")),
    )
    .trim()
    .to_owned()
}

/// Asserts that `path` is neither registered in the store under `root` nor on its disk.
#[track_caller]
fn assert_not_registered(tmp: &Path, root: &Path, path: &str) {
    let q = super::legacy(tmp, "nix-store")
        .arg("--store")
        .arg(root)
        .args(["-q", "--hash", path])
        .output()
        .unwrap();
    assert!(!q.status.success(), "{path} is registered");
    assert!(!real(root, path).exists(), "{path} is on disk");
}

/// Each path of `closure` with its NAR hash, as `nix-store -q --hash` says, in order.
fn nar_hashes(tmp: &Path, root: &Path, paths: &[String]) -> Vec<(String, String)> {
    let out = stdout_of(
        super::legacy(tmp, "nix-store")
            .arg("--store")
            .arg(root)
            .args(["-q", "--hash"])
            .args(paths),
    );
    paths
        .iter()
        .cloned()
        .zip(out.lines().map(str::to_owned))
        .collect()
}

/// The closure of `paths` in the store under `root`.
fn closure_of(tmp: &Path, root: &Path, paths: &[String]) -> Vec<String> {
    let out = stdout_of(
        super::legacy(tmp, "nix-store")
            .arg("--store")
            .arg(root)
            .arg("-qR")
            .args(paths),
    );
    let mut v: Vec<String> = out.lines().map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn stage0_busybox_comes_from_the_pinned_debian_package() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let out = stdout_of(
        build(&root)
            .arg("-f")
            .arg(nix_dir().join("pkgs"))
            .args(["-A", "bootstrap.stage0.busybox"]),
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
    let gone = |path: &str| {
        out_path_of(&format!(
            "fetchurl {{ url = \"mirror://debian/pool/main/k/{path}\"; hash = \"{unseen}\"; }}"
        ))
    };
    assert_not_registered(tmp.path(), &root, &gone("gone.txt"));

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
    assert_not_registered(tmp.path(), &root, &gone("changed.txt"));

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

/// The interpreter (`PT_INTERP`) of a 64-bit little-endian ELF file, `None` for other files
/// and ELF files without one.
fn elf_interpreter(bytes: &[u8]) -> Option<String> {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return None;
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum).find_map(|i| {
        let ph = phoff + i * phentsize;
        if u32::from_le_bytes(bytes[ph..ph + 4].try_into().unwrap()) != 3 {
            return None;
        }
        let (off, size) = (u64_at(ph + 8), u64_at(ph + 32));
        let s = &bytes[off..off + size];
        Some(String::from_utf8_lossy(s.strip_suffix(b"\0").unwrap_or(s)).into_owned())
    })
}

/// Every regular file under `dir` (not following links).
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let ft = entry.file_type().unwrap();
        if ft.is_dir() {
            files_under(&entry.path(), out);
        } else if ft.is_file() {
            out.push(entry.path());
        }
    }
}

#[test]
fn bootstrap_stdenv_builds_gnu_hello_from_source_reproducibly() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let pkgs = nix_dir().join("pkgs");
    let hello = stdout_of(build(&root).arg("-f").arg(&pkgs).args(["-A", "hello"]));
    let hello = hello.trim();
    assert!(hello.ends_with("-hello-2.10"), "{hello}");

    // Stage 1: every program of the toolchain runs from the store.
    let stage1 = stdout_of(
        build(&root)
            .arg("-f")
            .arg(&pkgs)
            .args(["-A", "bootstrap.stage1"]),
    );
    let stage1 = stage1.trim().to_owned();
    let mut files = Vec::new();
    files_under(&real(&root, &stage1).join("usr/bin"), &mut files);
    let mut programs = 0;
    for f in &files {
        if let Some(interp) = elf_interpreter(&std::fs::read(f).unwrap()) {
            assert_eq!(
                interp,
                format!("{stage1}/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
                "{}",
                f.display()
            );
            programs += 1;
        }
    }
    assert!(programs > 50, "{programs} programs with an interpreter");

    // It runs, in the sandbox, with only its closure.
    let ran = build_expr(
        &root,
        r#"runCommand "run-hello" { } "${hello}/bin/hello > $out""#,
    );
    assert_eq!(
        std::fs::read_to_string(real(&root, &ran[0])).unwrap(),
        "Hello, world!\n"
    );

    // Its closure: hello and the runtime libc, and no file names a host library directory
    // or the build directory.
    let closure = stdout_of(
        super::legacy(tmp.path(), "nix-store")
            .args(["--store"])
            .arg(&root)
            .args(["-qR", hello]),
    );
    let closure: Vec<&str> = closure.lines().collect();
    assert_eq!(closure.len(), 2, "{closure:?}");
    assert!(closure.iter().all(|p| p.starts_with("/nix/store/")));
    assert!(closure.iter().any(|p| p.contains("-bootstrap-libc-")));
    let mut files = Vec::new();
    for p in &closure {
        files_under(&real(&root, p), &mut files);
    }
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for bad in [&b"/usr/lib"[..], b"/lib/x86_64-linux-gnu", b"/build/"] {
            assert!(
                !bytes.windows(bad.len()).any(|w| w == bad),
                "{} names {}",
                f.display(),
                String::from_utf8_lossy(bad)
            );
        }
    }

    // Reproducible: a rebuild is bit for bit the same (`--check`), and a second fresh store
    // root, bootstrap included, gets the same store paths with the same NAR hashes.
    let outs = assert_reproducible(
        tmp.path(),
        &root,
        &tmp.path().join("root2"),
        &["hello", "zlib"],
        &["hello", "zlib"],
    );
    assert_eq!(outs.len(), 2, "{outs:?}");
    assert!(outs[1].ends_with("-zlib-1.2.13.dfsg"), "{outs:?}");

    // A library with two outputs: a program built against it finds its headers (`dev`) and
    // library (`out`, which `dev` propagates), and keeps only `out` in its closure.
    let uses = build_expr(
        &root,
        r#"stdenv.mkDerivation {
          name = "uses-zlib";
          buildInputs = [ zlib ];
          dontUnpack = true;
          buildPhase = ''
            printf '#include <zlib.h>\n#include <stdio.h>\nint main(void) { printf("zlib %%s\\n", zlibVersion()); return 0; }\n' > z.c
            cc -O2 -o z z.c -lz
          '';
          installPhase = "mkdir -p $out/bin; cp z $out/bin/; $out/bin/z > $out/version";
        }"#,
    );
    assert_eq!(
        std::fs::read_to_string(real(&root, &uses[0]).join("version")).unwrap(),
        "zlib 1.2.13\n"
    );
    let closure = stdout_of(
        super::legacy(tmp.path(), "nix-store")
            .args(["--store"])
            .arg(&root)
            .args(["-qR", &uses[0]]),
    );
    let names: Vec<&str> = closure.lines().map(|p| &p[44..]).collect();
    assert_eq!(names.len(), 3, "{closure}");
    assert!(names.contains(&"zlib-1.2.13.dfsg"), "{closure}");
    assert!(!closure.contains("-dev"), "{closure}");

    // A failing phase names the package and the phase, and the log's last lines show.
    let doomed = "stdenv.mkDerivation { name = \"doomed\"; dontUnpack = true; \
         buildPhase = \"echo about to fail; false\"; installPhase = \"mkdir $out\"; }";
    let fail = failure_of(
        build(&root)
            .arg("-E")
            .arg(format!("with import <kiln/pkgs> {{ }}; {doomed}")),
    );
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(err.contains("> about to fail"), "{err}");
    assert!(
        err.contains("error: doomed: phase 'buildPhase' failed (exit status 1)"),
        "{err}"
    );
    assert_not_registered(tmp.path(), &root, &out_path_of(doomed));
}

#[test]
fn packages_from_upstream_sources_and_debian_binaries() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    // Each runs in the sandbox from its closure: less built against ncurses, OpenSSH against
    // zlib; jq and systemd with their libraries taken from Debian's binary packages and fixed
    // up by autoPatchelf.
    let outs = build_expr(
        &root,
        r#"runCommand "versions" { } ''
          ${less}/bin/less --version | head -n 1 > $out
          ${jq}/bin/jq --version >> $out
          echo '{"a": [1, 2]}' | ${jq}/bin/jq -c '.a | add' >> $out
          ${systemd}/lib/systemd/systemd --version | head -n 1 >> $out
          ${openssh}/bin/ssh -V 2>> $out
          ${openssh}/bin/ssh-keygen -q -t ed25519 -N "" -f key
          cut -d " " -f 1 key.pub >> $out
        ''"#,
    );
    let text = std::fs::read_to_string(real(&root, &outs[0])).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(lines[0].starts_with("less 590"), "{text}");
    assert_eq!(lines[1..3], ["jq-1.6", "3"], "{text}");
    assert!(lines[3].starts_with("systemd 252 "), "{text}");
    assert_eq!(
        lines[4..],
        ["OpenSSH_9.2p1, without OpenSSL", "ssh-ed25519"],
        "{text}"
    );

    // A binary package whose library is not among its inputs fails, naming both.
    let fail =
        failure_of(build(&root).arg("-E").arg(
            "with import <kiln/pkgs> { }; libjq1.overrideAttrs (old: { buildInputs = [ ]; })",
        ));
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(
        err.contains("libjq.so.1.0.4 needs libonig.so.5, which no input provides"),
        "{err}"
    );
    assert!(err.contains("phase 'fixupPhase' failed"), "{err}");
}

/// Builds `attrs` of the package set into `root` and returns their output paths, in order.
fn build_attrs(root: &Path, attrs: &[&str]) -> Vec<String> {
    let mut cmd = build(root);
    cmd.arg("-f").arg(nix_dir().join("pkgs"));
    for a in attrs {
        cmd.args(["-A", a]);
    }
    stdout_of(&mut cmd).lines().map(str::to_owned).collect()
}

/// Builds `attrs` into the store roots `one` and `two` (`two` fresh: the bootstrap is built
/// again) and asserts that both give the same store paths, with the same NAR hashes, for
/// every path of their closures; then rebuilds `check` in `one` with `--check` (bit for bit
/// the same). Returns the outputs.
fn assert_reproducible(
    tmp: &Path,
    one: &Path,
    two: &Path,
    attrs: &[&str],
    check: &[&str],
) -> Vec<String> {
    let outs = build_attrs(one, attrs);
    assert_eq!(outs, build_attrs(two, attrs), "output paths differ");
    let closure = closure_of(tmp, one, &outs);
    assert_eq!(closure, closure_of(tmp, two, &outs), "closures differ");
    let (a, b) = (
        nar_hashes(tmp, one, &closure),
        nar_hashes(tmp, two, &closure),
    );
    for ((path, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(x, y, "{path} differs between the two store roots");
    }
    assert_eq!(a.len(), closure.len());
    for attr in check {
        stdout_of(
            build(one)
                .arg("-f")
                .arg(nix_dir().join("pkgs"))
                .args(["-A", attr, "--check"]),
        );
    }
    outs
}

// The whole set: not in the default run (CI), which has a 30-minute budget. Run with
//   cargo test -p kiln-cli --test cli pkgs:: -- --include-ignored
// (docs/design/pkgs.md, nix/pkgs/README.md).

/// Every package of the set, as `-A` names it.
const WHOLE_SET: &[&str] = &[
    "hello",
    "zlib",
    "ncurses",
    "less",
    "bash",
    "coreutils",
    "openssl",
    "openssh",
    "git",
    "htop",
    "busybox",
    "jq",
    "systemd",
    "linux",
];

#[test]
#[ignore = "builds the whole package set twice (about an hour on 2 cores); run with --include-ignored"]
fn whole_set_builds_runs_its_smoke_tests_and_reproduces() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("one");
    let outs = assert_reproducible(
        tmp.path(),
        &root,
        &tmp.path().join("two"),
        WHOLE_SET,
        &["hello", "zlib", "git"],
    );

    // Each program runs in the sandbox, from its closure.
    let ran = build_expr(
        &root,
        r#"runCommand "smoke" { } ''
          exec > $out 2>&1
          ${hello}/bin/hello
          ${bash}/bin/bash -c 'echo "bash $BASH_VERSION"'
          ${coreutils}/bin/ls --version | head -n 1
          printf abc | ${coreutils}/bin/sha256sum
          ${htop}/bin/htop --version
          printf abc > abc
          ${openssl}/bin/openssl version
          ${openssl}/bin/openssl sha256 abc
          ${openssh}/bin/ssh -V
          ${openssh}/bin/ssh-keygen -q -t ed25519 -N "" -f host_key
          printf 'HostKey %s/host_key\nPidFile none\nUsePrivilegeSeparation no\n' $PWD > sshd_config
          ${openssh}/sbin/sshd -t -f sshd_config && echo sshd-config-ok
          ${busybox}/bin/busybox | head -n 1
          ${busybox}/bin/echo applet echo
          printf 'b\na\n' | ${busybox}/bin/sort | ${busybox}/bin/tr '\n' ' '; echo
          ${busybox}/bin/sha256sum abc
          ${busybox}/bin/wc -c abc
          mkdir repo && cd repo
          export HOME=$PWD
          ${git}/bin/git init -q -b main .
          ${git}/bin/git config user.name Kiln
          ${git}/bin/git config user.email kiln@example.org
          echo hi > f
          ${git}/bin/git add f
          GIT_AUTHOR_DATE=2000-01-01T00:00:00Z GIT_COMMITTER_DATE=2000-01-01T00:00:00Z ${git}/bin/git commit -q -m first
          ${git}/bin/git log --format='commit %H %s'
          ${systemd}/bin/systemctl --version | head -n 1
          ls ${linux}/bzImage ${linux}/lib/modules
        ''"#,
    );
    let text = std::fs::read_to_string(real(&root, &ran[0])).unwrap();
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    for want in [
        "Hello, world!\n",
        "bash 5.2.15(1)-release\n",
        "ls (GNU coreutils) 9.1\n",
        &format!("{abc}  -\n"),
        "htop 3.2.2\n",
        "OpenSSL 3.0.20 ",
        &format!("SHA2-256(abc)= {abc}\n"),
        "OpenSSH_9.2p1",
        "sshd-config-ok\n",
        "BusyBox v1.35.0",
        "applet echo\n",
        "a b \n",
        &format!("{abc}  abc\n"),
        "3 abc\n",
        // The commit of a fixed tree, author and date is the same everywhere (git 2.47 on
        // the host gives this id).
        "commit 7b9d5643d1970fbaae484f272c43bbebf9504794 first\n",
        "systemd 252 ",
        "/bzImage\n",
        "6.1.0-",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
    // No file of what was built from source names the build directory or a host library
    // directory (Debian's binary packages keep their compiled-in strings).
    for p in &outs {
        if ["-jq-", "-systemd-", "-linux-"]
            .iter()
            .any(|b| p.contains(b))
        {
            continue;
        }
        let mut files = Vec::new();
        files_under(&real(&root, p), &mut files);
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            for bad in [&b"/build/"[..], b"/usr/lib/", b"/lib/x86_64-linux-gnu"] {
                assert!(
                    !bytes.windows(bad.len()).any(|w| w == bad),
                    "{} names {}",
                    f.display(),
                    String::from_utf8_lossy(bad)
                );
            }
        }
    }
}
