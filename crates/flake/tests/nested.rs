//! Locking nested flakes through the library: an input that is a flake with inputs of its own,
//! overrides from above (`inputs.lib.inputs.base.follows`, and `inputs.lib.inputs.tb` with
//! another URL: `lib`'s own URLs are never fetched), an archive (`file://…tar.gz`) input that is
//! not a flake, and two inputs of the same name in different flakes (node keys `tb`, `tb_2`,
//! given depth first as Nix gives them). The expected lock, `data/nested.lock`, is what CppNix
//! 2.26 writes for the same flake, with the temporary directory written as `/FIXTURE`;
//! `current_nix_agrees` regenerates it with `/work/shared/tools/nix-current` where that exists
//! (`KILN_ACCEPT=1` writes it) and is the local-only half of this test.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use kiln_eval::Value;
use kiln_flake::{Options, Update};
use kiln_session::{EvalConfig, StoreMode};

fn touch_tree(path: &Path, t: i64) {
    let ok = Command::new("find")
        .arg(path)
        .args(["-exec", "touch", "-h", "-d", &format!("@{t}"), "{}", "+"])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    top: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let d = dir.display().to_string();
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text.replace("@DIR@", &d)).unwrap();
    };
    write(
        "base/flake.nix",
        "{ outputs = { self }: { name = \"base\"; }; }\n",
    );
    write(
        "lib/flake.nix",
        "{\n  inputs.base.url = \"github:kiln-test/not-fetched\";\n  inputs.tb = { url = \"https://example.invalid/not-fetched.tar.gz\"; flake = false; };\n  outputs = { self, base, tb }: { baseName = base.name; text = builtins.readFile \"${tb}/x.txt\"; };\n}\n",
    );
    write("src/x.txt", "from the archive\n");
    touch_tree(&dir, 1_700_000_000);
    let ok = Command::new("tar")
        .current_dir(&dir)
        .args(["-czf", "src.tar.gz", "src"])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    write(
        "top/flake.nix",
        "{\n  inputs.lib.url = \"path:@DIR@/lib\";\n  inputs.lib.inputs.base.follows = \"base\";\n  inputs.lib.inputs.tb = { url = \"file://@DIR@/src.tar.gz\"; flake = false; };\n  inputs.base.url = \"path:@DIR@/base\";\n  inputs.tb = { url = \"file://@DIR@/src.tar.gz\"; flake = false; };\n  outputs = { self, lib, base, tb }: {\n    result = [ lib.baseName lib.text (lib.inputs.base.outPath == base.outPath) (tb.outPath == lib.inputs.tb.outPath) ];\n  };\n}\n",
    );
    Fixture {
        top: dir.join("top"),
        _tmp: tmp,
        dir,
    }
}

fn options(f: &Fixture) -> Options {
    Options {
        eval: EvalConfig {
            settings: kiln_eval::EvalSettings::default(),
            store: StoreMode::Write {
                root: f.dir.join("store"),
            },
            fetch: kiln_fetch::FetchSettings::new(f.dir.join("cache")),
            reporter: None,
        },
        cwd: f.top.clone(),
        update: Update::Nothing,
        write_lock: true,
        notify: None,
    }
}

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nested.lock")
}

/// Locks and evaluates `result` (printed as Nix prints it).
fn lock_and_eval(f: &Fixture) -> String {
    kiln_flake::with_flake(options(f), ".", |s, loaded| {
        let result = s.select(loaded.value, "result", s.ev.new_attrs(Vec::new()))?;
        let v: Value = s.ev.force(result)?;
        kiln_eval::print::print_value(&mut s.ev, v, true)
    })
    .map_err(|e| format!("{e:?}"))
    .unwrap()
}

#[test]
fn nested_inputs_overrides_and_archives_lock_as_current_nix_locks_them() {
    let f = fixture();
    let result = lock_and_eval(&f);
    assert_eq!(result, "[ \"base\" \"from the archive\\n\" true true ]");
    let lock = fs::read_to_string(f.top.join("flake.lock")).unwrap();
    assert_eq!(
        lock.replace(&f.dir.display().to_string(), "/FIXTURE"),
        fs::read_to_string(golden()).unwrap()
    );
    // The lock round-trips and a second run keeps it as it is.
    assert_eq!(kiln_flake::LockFile::parse(&lock).unwrap().to_text(), lock);
    lock_and_eval(&f);
    assert_eq!(fs::read_to_string(f.top.join("flake.lock")).unwrap(), lock);
    // A changed input in a lock (its hash) is refused, not used.
    let base_hash = "sha256-TWBxIfGuisAEeiTaiC1VnTWdbAJd9dHO0SzDBZ+XTp0=";
    let tb_hash = "sha256-PabbG6oo94P8vufuWeH+nyij8lzwIFyOggDm2siG83g=";
    assert!(lock.contains(base_hash));
    let broken = lock.replacen(base_hash, tb_hash, 1);
    fs::write(f.top.join("flake.lock"), &broken).unwrap();
    let err = kiln_flake::with_flake(options(&f), ".", |_, _| Ok(())).unwrap_err();
    assert!(format!("{err:?}").contains("hash mismatch"), "{err:?}");
    assert_eq!(
        fs::read_to_string(f.top.join("flake.lock")).unwrap(),
        broken
    );
}

#[test]
fn current_nix_agrees() {
    let tool = std::env::var_os("KILN_NIX_CURRENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/tools/nix-current"));
    if !tool.exists() {
        eprintln!("CppNix 2.26 is not here: data/nested.lock stands in for it");
        return;
    }
    let f = fixture();
    let out = Command::new(&tool)
        .current_dir(&f.top)
        .args([
            "nix",
            "--extra-experimental-features",
            "nix-command flakes",
            "--store",
        ])
        .arg(f.dir.join("nixstore"))
        .args(["--option", "substituters", "", "flake", "lock"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nix = fs::read_to_string(f.top.join("flake.lock")).unwrap();
    let golden_form = nix.replace(&f.dir.display().to_string(), "/FIXTURE");
    if std::env::var_os("KILN_ACCEPT").is_some() {
        fs::write(golden(), &golden_form).unwrap();
    }
    assert_eq!(golden_form, fs::read_to_string(golden()).unwrap());
    fs::remove_file(f.top.join("flake.lock")).unwrap();
    lock_and_eval(&f);
    assert_eq!(fs::read_to_string(f.top.join("flake.lock")).unwrap(), nix);
}
