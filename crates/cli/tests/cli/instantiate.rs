//! Instantiation against Nix 2.8: a corpus of derivation expressions written for the purpose,
//! each instantiated by the reference `nix-instantiate` into one store root and by Kiln's into
//! another. The printed `.drv` paths, the set of store paths, every `.drv` file's bytes, the
//! output paths, the references Nix reads from Kiln's database and `kiln derivation show`
//! against `nix show-derivation` must all be identical.
//! Output paths are also computed by Kiln without a store (`kiln eval`, read-only), which must
//! agree with what the store gave.

use std::path::{Path, PathBuf};
use std::process::Command;

use kiln_formats::hash::{Hash, HashAlgo, Hasher};

use super::{kiln, legacy, reference, stdout_of};

/// A source tree with a regular file, an executable, a subdirectory and a symlink.
fn source_tree(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("f"), "hello\n").unwrap();
    std::fs::write(src.join("build.sh"), "#!/bin/sh\necho built > $out\n").unwrap();
    std::fs::set_permissions(src.join("build.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(src.join("sub/g.txt"), "nested\n").unwrap();
    std::fs::write(src.join("sub/skip.o"), "object\n").unwrap();
    std::os::unix::fs::symlink("f", src.join("link")).unwrap();
}

/// Lists a store root's store directory (without Nix's and Kiln's bookkeeping entries).
fn store_entries(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.join("nix/store"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && !n.ends_with(".lock"))
        .collect();
    v.sort();
    v
}

/// The expression printing `[ drvPath outPath ]` of every output of every derivation a case
/// gives (a derivation, a list or a set of them).
fn paths_expr(file: &Path) -> String {
    format!(
        "let v = import {}; ds = if builtins.isList v then v else if v ? type then [ v ] \
         else builtins.filter (d: d ? drvPath) (builtins.attrValues v); in map (d: map (o: [ d.drvPath d.${{o}}.outPath ]) \
         (d.outputs or [ \"out\" ])) ds",
        file.display()
    )
}

/// Instantiates `expr` with both implementations and compares everything.
fn check(name: &str, expr: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    source_tree(dir);
    let file = dir.join(format!("{name}.nix"));
    std::fs::write(&file, expr).unwrap();
    let nix_root = dir.join("nix-root");
    let kiln_root = dir.join("kiln-root");

    let nix_out = stdout_of(
        reference(dir, "nix-instantiate")
            .current_dir(dir)
            .arg("--store")
            .arg(&nix_root)
            .arg(&file),
    );
    let kiln_out = stdout_of(
        legacy(dir, "nix-instantiate")
            .current_dir(dir)
            .arg("--store")
            .arg(&kiln_root)
            .arg(&file),
    );
    assert_eq!(kiln_out, nix_out, "{name}: printed .drv paths");
    assert!(!nix_out.is_empty(), "{name}: no derivations");

    let nix_entries = store_entries(&nix_root);
    assert_eq!(
        store_entries(&kiln_root),
        nix_entries,
        "{name}: store paths"
    );
    for e in nix_entries.iter().filter(|e| e.ends_with(".drv")) {
        let ours = std::fs::read(kiln_root.join("nix/store").join(e)).unwrap();
        let theirs = std::fs::read(nix_root.join("nix/store").join(e)).unwrap();
        assert!(
            ours == theirs,
            "{name}: {e} differs\nkiln: {}\nnix:  {}",
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
    }

    // `kiln derivation show -r` on Kiln's root prints what `nix show-derivation -r` prints on
    // Nix's.
    let drvs: Vec<&str> = nix_out
        .lines()
        .map(|l| l.split('!').next().unwrap())
        .collect();
    let nix_show = stdout_of(
        reference(dir, "nix")
            .args([
                "--extra-experimental-features",
                "nix-command",
                "show-derivation",
                "-r",
            ])
            .arg("--store")
            .arg(&nix_root)
            .args(&drvs),
    );
    let kiln_show = stdout_of(
        kiln()
            .arg("--store")
            .arg(&kiln_root)
            .args(["derivation", "show", "-r"])
            .args(&drvs),
    );
    assert_eq!(kiln_show, nix_show, "{name}: derivation show");

    // Output paths: Nix with its store, Kiln read-only (FsIo) and with its store.
    let expr = paths_expr(&file);
    let nix_paths = stdout_of(
        reference(dir, "nix-instantiate")
            .current_dir(dir)
            .args(["--eval", "--strict", "--read-write-mode", "--store"])
            .arg(&nix_root)
            .args(["-E", &expr]),
    );
    let kiln_paths = stdout_of(
        kiln()
            .current_dir(dir)
            .args(["eval", "--strict", "-E", &expr]),
    );
    assert_eq!(kiln_paths, nix_paths, "{name}: output paths (read-only)");
    let kiln_rw_paths = stdout_of(
        legacy(dir, "nix-instantiate")
            .current_dir(dir)
            .args(["--eval", "--strict", "--read-write-mode", "--store"])
            .arg(&kiln_root)
            .args(["-E", &expr]),
    );
    assert_eq!(kiln_rw_paths, nix_paths, "{name}: output paths (store)");

    // Nix reads Kiln's database: the same references for every path.
    let store_url = |root: &Path| format!("local?root={}", root.display());
    for e in &nix_entries {
        let path = format!("/nix/store/{e}");
        let q = |root: &Path| {
            stdout_of(reference(dir, "nix-store").args([
                "--store",
                &store_url(root),
                "-q",
                "--references",
                &path,
            ]))
        };
        assert_eq!(q(&kiln_root), q(&nix_root), "{name}: references of {e}");
    }
}

fn hex(algo: HashAlgo, seed: u8) -> Hash {
    let digest: Vec<u8> = (0..algo.digest_len() as u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(seed))
        .collect();
    Hash::from_digest(algo, &digest).unwrap()
}

macro_rules! case {
    ($name:ident, $expr:expr) => {
        #[test]
        fn $name() {
            check(stringify!($name), &$expr);
        }
    };
}

const HEADER: &str = r#"let mk = attrs: derivation ({ builder = "/bin/sh"; system = "x86_64-linux"; } // attrs); in "#;

fn with_header(body: &str) -> String {
    format!("{HEADER}{body}")
}

case!(
    single_output,
    with_header(
        r#"mk { name = "single"; args = [ "-c" "echo hi > $out" ]; n = 1; t = true; f = false; z = null; fl = 1.5; l = [ "a" [ ] "b" 2 ]; }"#
    )
);

case!(
    multiple_outputs,
    with_header(
        r#"let m = mk { name = "multi"; outputs = [ "out" "dev" "doc" ]; };
        in [ m (mk { name = "user"; dev = m.dev; doc = "${m.doc}/share"; all = m.all; }) ]"#
    )
);

case!(
    chain_of_dependencies,
    with_header(
        r#"let step = prev: n: mk { name = "step-${toString n}"; inherit prev; };
        in builtins.foldl' step (mk { name = "base"; }) [ 1 2 3 4 5 6 ]"#
    )
);

case!(
    diamond_of_dependencies,
    with_header(
        r#"let a = mk { name = "a"; outputs = [ "out" "lib" ]; };
            b = mk { name = "b"; dep = a; };
            c = mk { name = "c"; dep = a.lib; };
        in { d = mk { name = "d"; deps = [ b c ]; }; inherit a; }"#
    )
);

fn fixed_outputs() -> String {
    let mut body = String::from("[\n");
    for (algo, seed) in [
        (HashAlgo::Sha1, 1u8),
        (HashAlgo::Sha256, 2),
        (HashAlgo::Sha512, 3),
    ] {
        let h = hex(algo, seed);
        for mode in ["flat", "recursive"] {
            let forms = [
                (
                    "base16",
                    format!(
                        "outputHashAlgo = \"{algo}\"; outputHash = \"{}\";",
                        h.to_base16()
                    ),
                ),
                (
                    "nix32",
                    format!(
                        "outputHashAlgo = \"{algo}\"; outputHash = \"{}\";",
                        h.to_nix32()
                    ),
                ),
                (
                    "base64",
                    format!(
                        "outputHashAlgo = \"{algo}\"; outputHash = \"{}\";",
                        h.to_base64()
                    ),
                ),
                (
                    "prefixed",
                    format!("outputHash = \"{algo}:{}\";", h.to_nix32()),
                ),
                ("sri", format!("outputHash = \"{}\";", h.to_sri())),
                (
                    "sri-algo",
                    format!(
                        "outputHashAlgo = \"{algo}\"; outputHash = \"{}\";",
                        h.to_sri()
                    ),
                ),
            ];
            for (form, attrs) in forms {
                body.push_str(&format!(
                    "  (mk {{ name = \"fod-{algo}-{mode}-{form}\"; outputHashMode = \"{mode}\"; {attrs} }})\n"
                ));
            }
        }
    }
    // An input-addressed derivation depending on fixed outputs, and one without a mode.
    body.push_str(&format!(
        "  (mk {{ name = \"uses-fod\"; a = mk {{ name = \"fetched\"; outputHash = \"{}\"; }}; b = mk {{ name = \"fetched\"; outputHash = \"{}\"; builder = \"/other\"; }}; }})\n]",
        hex(HashAlgo::Sha256, 9).to_sri(),
        hex(HashAlgo::Sha256, 9).to_sri()
    ));
    with_header(&body)
}

case!(fixed_output_every_form, fixed_outputs());

case!(
    to_file_with_references,
    with_header(
        r#"let inner = builtins.toFile "inner.txt" "inner";
            script = builtins.toFile "script.sh" "source ${inner}; cat ${./src/f}; ls ${./src}";
        in mk { name = "uses-files"; args = [ script ]; data = builtins.toFile "data" "no refs"; }"#
    )
);

case!(
    sources_from_paths,
    with_header(
        r#"mk { name = "sources"; src = ./src; script = ./src/build.sh; args = [ ./src/build.sh "${./src}/f" ]; many = [ ./src/f ./src/sub ]; }"#
    )
);

fn filtered_sources() -> String {
    // The NAR hash of the tree as the filter below leaves it, for `sha256`.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    source_tree(dir);
    std::fs::remove_file(dir.join("src/sub/skip.o")).unwrap();
    let mut hasher = Hasher::new(HashAlgo::Sha256);
    kiln_formats::nar::dump(&dir.join("src"), &mut hasher).unwrap();
    let filtered = hasher.finish().to_nix32();
    let mut hasher = Hasher::new(HashAlgo::Sha256);
    std::io::copy(
        &mut std::fs::File::open(dir.join("src/f")).unwrap(),
        &mut hasher,
    )
    .unwrap();
    let flat = hasher.finish().to_sri();
    with_header(&format!(
        r#"let noObjects = path: type: baseNameOf path != "skip.o";
        in mk {{
          name = "filtered";
          a = builtins.filterSource noObjects ./src;
          b = builtins.filterSource (p: t: t != "directory") ./src;
          c = builtins.path {{ path = ./src; name = "renamed"; filter = noObjects; }};
          d = builtins.path {{ path = ./src; name = "checked"; filter = noObjects; sha256 = "{filtered}"; }};
          e = builtins.path {{ path = ./src/f; recursive = false; }};
          f = builtins.path {{ path = ./src/f; recursive = false; name = "flat"; sha256 = "{flat}"; }};
          g = builtins.path {{ path = ./src; }};
        }}"#
    ))
}

case!(sources_from_filters, filtered_sources());

case!(
    structured_attributes,
    with_header(
        r#"let dep = mk { name = "dep"; outputs = [ "out" "bin" ]; };
        in mk {
          name = "structured";
          __structuredAttrs = true;
          outputs = [ "out" "dev" ];
          nested = { a = 1; b = [ true false null 2.5 "s" ]; c.d = "e\n\"q\"\t"; };
          src = ./src/f;
          inherit dep;
          bin = dep.bin;
          allowedReferences = [ dep ];
          allowedRequisites = [ dep.bin ];
          disallowedReferences = [ ];
          outputChecks.out.maxSize = 1000;
          args = [ "-e" ./src/build.sh ];
        }"#
    )
);

case!(
    reference_checks_passed_through,
    with_header(
        r#"let dep = mk { name = "dep"; };
        in mk { name = "checks"; allowedReferences = [ dep ]; allowedRequisites = [ dep "x" ]; disallowedReferences = [ ]; disallowedRequisites = [ dep ]; exportReferencesGraph = [ "graph" dep ]; preferLocalBuild = true; allowSubstitutes = false; impureEnvVars = [ "http_proxy" ]; }"#
    )
);

case!(
    placeholders,
    with_header(
        r#"mk { name = "placeholders"; outputs = [ "out" "dev" ]; configureFlags = [ "--prefix=${placeholder "out"}" "--includedir=${placeholder "dev"}/include" ]; }"#
    )
);

case!(
    ignore_nulls,
    with_header(
        r#"[ (mk { name = "ignoring"; __ignoreNulls = true; a = null; b = "kept"; outputHashMode = null; })
            (mk { name = "keeping"; __ignoreNulls = false; a = null; })
            (mk { name = "structured-ignoring"; __ignoreNulls = true; __structuredAttrs = true; a = null; b = 1; }) ]"#
    )
);

case!(
    whole_derivation_context,
    with_header(
        r#"let a = mk { name = "a"; outputs = [ "out" "dev" ]; src = ./src/f; };
            b = mk { name = "b"; inherit a; data = builtins.toFile "d" "x"; };
        in mk { name = "closure"; drv = "${b.drvPath}"; }"#
    )
);

case!(
    sets_lists_and_recursion,
    with_header(
        r#"{
          a = mk { name = "a"; };
          notADrv = 1;
          plain = { hidden = mk { name = "hidden"; }; };
          nested = { recurseForDerivations = true; inner = mk { name = "inner"; }; };
          dev = (mk { name = "multi"; outputs = [ "out" "dev" ]; }).dev;
        }"#
    )
);

#[test]
fn add_root_makes_an_indirect_root_and_prints_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = dir.join("two.nix");
    std::fs::write(
        &file,
        with_header(r#"[ (mk { name = "one"; }) (mk { name = "two"; }) ]"#),
    )
    .unwrap();
    let root = dir.join("root");
    let out = stdout_of(
        kiln()
            .current_dir(dir)
            .arg("--store")
            .arg(&root)
            .arg("instantiate")
            .arg(&file)
            .args(["--add-root", "result", "--indirect"]),
    );
    let gc = dir.join("result");
    let gc2 = PathBuf::from(format!("{}-2", gc.display()));
    assert_eq!(out, format!("{}\n{}\n", gc.display(), gc2.display()));
    let target = std::fs::read_link(&gc).unwrap();
    assert!(target.to_string_lossy().ends_with("-one.drv"), "{target:?}");
    let auto: Vec<PathBuf> = std::fs::read_dir(root.join("nix/var/nix/gcroots/auto"))
        .unwrap()
        .map(|e| std::fs::read_link(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(auto.len(), 2);
    assert!(auto.contains(&gc) && auto.contains(&gc2));

    // Without --add-root: the paths, Nix's warning, and no root.
    let root = dir.join("root2");
    let out = kiln()
        .current_dir(dir)
        .arg("--store")
        .arg(&root)
        .arg("instantiate")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not specify '--add-root'"));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    assert!(std::fs::read_dir(root.join("nix/var/nix/gcroots/auto"))
        .map(|mut d| d.next().is_none())
        .unwrap_or(true));
}

#[test]
fn selected_output_is_printed_after_the_drv_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = dir.join("m.nix");
    std::fs::write(
        &file,
        with_header(r#"{ m = mk { name = "m"; outputs = [ "out" "dev" ]; }; }"#),
    )
    .unwrap();
    let run = |cmd: &mut Command, root: &str| {
        stdout_of(
            cmd.current_dir(dir)
                .arg("--store")
                .arg(dir.join(root))
                .arg(&file)
                .args(["-A", "m.dev"]),
        )
    };
    let ours = run(&mut legacy(dir, "nix-instantiate"), "k");
    let theirs = run(&mut reference(dir, "nix-instantiate"), "n");
    assert_eq!(ours, theirs);
    assert!(ours.trim_end().ends_with(".drv!dev"), "{ours}");
}

/// A file that is a function with defaulted arguments is called with them when instantiated
/// (unlike `--eval`, which prints `<LAMBDA>` unless arguments are given).
#[test]
fn function_files_are_auto_called() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = dir.join("auto-call.nix");
    std::fs::write(
        &file,
        r#"{ n ? 3, name ? "auto" }:
           derivation { name = "${name}-${toString n}"; system = "x86_64-linux"; builder = "/bin/sh"; }"#,
    )
    .unwrap();
    let run = |mut cmd: std::process::Command, root: &str| {
        stdout_of(cmd.arg("--store").arg(dir.join(root)).arg(&file))
    };
    let nix = run(reference(dir, "nix-instantiate"), "nix-root");
    let ours = run(legacy(dir, "nix-instantiate"), "kiln-root");
    assert_eq!(ours, nix);
    assert!(ours.contains("-auto-3.drv"), "{ours}");
}

/// Relative `-I` entries are resolved against the working directory at lookup (while
/// `builtins.nixPath` keeps them as given), and `--find-file` prints what `<…>` finds; the
/// common options of every legacy command, settings as flags among them, are accepted. All
/// compared with Nix 2.8.
#[test]
fn search_path_find_file_and_common_options_as_nix_2_8() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("sp/foo")).unwrap();
    for args in [
        &["--find-file", "foo", "-I", "sp"][..],
        &["--find-file", "foo", "-I", "foo=./sp/foo"],
        &["--eval", "-E", "<foo>", "-I", "sp"],
        &[
            "--eval",
            "--strict",
            "-E",
            "builtins.nixPath",
            "-I",
            "sp",
            "-I",
            "x=./sp",
        ],
        &[
            "--eval",
            "-E",
            "1",
            "-vv",
            "--quiet",
            "-j4",
            "--cores",
            "2",
            "--fallback",
        ],
        &[
            "--eval",
            "-E",
            "1",
            "--no-sandbox",
            "--keep-going",
            "--timeout",
            "5",
        ],
        &[
            "--eval",
            "-E",
            "1",
            "--extra-sandbox-paths",
            "/x",
            "--option",
            "a",
            "b",
        ],
        &["--eval", "-E", "1", "--no-such-flag"],
    ] {
        let run = |cmd: &mut std::process::Command| {
            let out = cmd
                .current_dir(dir)
                .env_remove("NIX_PATH")
                .args(args)
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        };
        let ours = run(&mut legacy(dir, "nix-instantiate"));
        let theirs = run(&mut kiln_testkit::reference_command(
            "nix-instantiate",
            &dir.join("ref-state"),
        ));
        assert_eq!(ours, theirs, "nix-instantiate {args:?}");
    }
}

/// A `NIX_PATH` entry that is a URL (here `file://` to a tarball, with a plain entry after
/// it) is downloaded and unpacked into the same `source` store path as Nix 2.8 makes.
#[test]
fn url_search_path_entries_are_fetched_as_nix_2_8_fetches_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("tree/pkgs")).unwrap();
    std::fs::write(dir.join("tree/pkgs/default.nix"), "{ x = 42; }\n").unwrap();
    let status = std::process::Command::new("tar")
        .arg("czf")
        .arg(dir.join("pk.tar.gz"))
        .arg("-C")
        .arg(dir.join("tree"))
        .arg("pkgs")
        .status()
        .unwrap();
    assert!(status.success());
    let nix_path = format!("foo=file://{}/pk.tar.gz:{}", dir.display(), dir.display());
    let expr = "[ (import <foo>).x (baseNameOf <foo>) ]";
    let ours = stdout_of(
        legacy(dir, "nix-instantiate")
            .env("NIX_PATH", &nix_path)
            .arg("--store")
            .arg(dir.join("ours"))
            .args(["--eval", "--strict", "-E", expr]),
    );
    let theirs = stdout_of(
        reference(dir, "nix-instantiate")
            .env("NIX_PATH", &nix_path)
            .arg("--store")
            .arg(format!("local?root={}", dir.join("theirs").display()))
            .args(["--eval", "--strict", "-E", expr]),
    );
    assert_eq!(ours, theirs);
    assert!(ours.ends_with("-source\" ]\n"), "{ours}");
}

/// A value that only looks like a derivation is checked as Nix 2.26 checks it before printing
/// its `drvPath`: a name, a `drvPath`, in the store, ending in `.drv` (messages from Nix 2.26).
#[test]
fn malformed_derivation_values() {
    let tmp = tempfile::tempdir().unwrap();
    let drv = |fields: &str| format!("{{ type = \"derivation\"; outputName = \"out\"; {fields} }}");
    for (fields, want) in [
        ("", "error: derivation name missing\n"),
        (
            "name = \"x\";",
            "error: derivation does not contain a 'drvPath' attribute\n",
        ),
        (
            "name = \"x\"; drvPath = \"/tmp/x.drv\";",
            "error: path '/tmp/x.drv' is not in the Nix store",
        ),
        (
            "name = \"x\"; drvPath = \"${builtins.storeDir}/2chwzswhhmpxbgc981i2vcz7xj4d1in9-x-bin\";",
            "… while evaluating the 'drvPath' attribute of a derivation\n         at «string»:1:",
        ),
        (
            "name = \"x\"; drvPath = \"${builtins.storeDir}/2chwzswhhmpxbgc981i2vcz7xj4d1in9-x-bin\";",
            "error: store path '2chwzswhhmpxbgc981i2vcz7xj4d1in9-x-bin' is not a valid derivation path\n",
        ),
    ] {
        let store = tmp.path().join("store");
        let out = legacy(tmp.path(), "nix-instantiate")
            .arg("--store")
            .arg(&store)
            .args(["-E", &drv(fields)])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{fields}: {err}");
        assert!(err.contains(want), "{fields}: {err}");
    }
}
