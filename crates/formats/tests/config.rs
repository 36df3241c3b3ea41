//! nix.conf syntax: directives, errors with line numbers, layering, includes through a loader,
//! and a differential test against Nix 2.8's `nix show-config`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_formats::config::{parse, ConfigError, Directive, Loaded, Settings};

fn no_includes(p: &Path) -> Loaded {
    panic!("unexpected include of {}", p.display())
}

#[test]
fn directives() {
    let text = "# a comment\n\
                \n\
                substituters = https://a  \t https://b # trailing\n\
                empty =\n\
                \t  include  other.conf\n\
                !include /abs/maybe.conf\r\n\
                weird = a#b\n\
                with-equals = x = y";
    let d = parse("nix.conf", text).unwrap();
    assert_eq!(
        d,
        vec![
            Directive::Setting {
                line: 3,
                name: "substituters".into(),
                value: "https://a https://b".into()
            },
            Directive::Setting {
                line: 4,
                name: "empty".into(),
                value: String::new()
            },
            Directive::Include {
                line: 5,
                path: "other.conf".into(),
                optional: false
            },
            Directive::Include {
                line: 6,
                path: "/abs/maybe.conf".into(),
                optional: true
            },
            Directive::Setting {
                line: 7,
                name: "weird".into(),
                value: "a".into()
            },
            Directive::Setting {
                line: 8,
                name: "with-equals".into(),
                value: "x = y".into()
            },
        ]
    );
}

#[test]
fn illegal_lines_name_the_line() {
    for (text, line) in [
        ("a = 1\nlonely\n", 2),
        ("a=1\n", 1),
        ("\n\nname value\n", 3),
        ("include a b\n", 1),
        ("include\n", 1),
        ("= x\n", 1),
    ] {
        match parse("f.conf", text) {
            Err(ConfigError::IllegalLine {
                line: l, origin, ..
            }) => {
                assert_eq!((l, origin.as_str()), (line, "f.conf"), "{text:?}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    assert_eq!(
        parse("f.conf", "x = 1\nbad line here # c\n")
            .unwrap_err()
            .to_string(),
        "f.conf:2: illegal configuration line 'bad line here'"
    );
}

#[test]
fn layers_and_extra() {
    let mut s = Settings::new();
    s.apply(
        Path::new("/etc/nix/nix.conf"),
        "substituters = a b\nextra-substituters = c\nmax-jobs = 4\nkeep-going = true\n\
         extra-trusted-public-keys = k:1\n",
        &mut no_includes,
    )
    .unwrap();
    assert_eq!(s.get_list("substituters"), ["a", "b", "c"]);
    assert_eq!(s.get("trusted-public-keys"), Some("k:1"));
    // A later layer (NIX_CONFIG, then --option) replaces or appends.
    s.apply(
        Path::new("NIX_CONFIG"),
        "extra-substituters = d\nmax-jobs = 8",
        &mut no_includes,
    )
    .unwrap();
    s.set("keep-going", "false");
    s.set("extra-substituters", "e");
    s.set("extra-substituters", "");
    assert_eq!(s.get("substituters"), Some("a b c d e"));
    assert_eq!(s.get_int("max-jobs").unwrap(), Some(8));
    assert_eq!(s.get_bool("keep-going").unwrap(), Some(false));
    assert_eq!(s.get_bool("unset").unwrap(), None);
    assert!(s.get_list("unset").is_empty());
    s.set("keep-going", "yes");
    assert_eq!(
        s.get_bool("keep-going").unwrap_err().to_string(),
        "setting 'keep-going' has invalid value 'yes', expected 'true' or 'false'"
    );
    assert!(s.get_int("substituters").is_err());
    assert!(s.iter().any(|(k, v)| k == "max-jobs" && v == "8"));
}

fn loader(files: &BTreeMap<PathBuf, String>) -> impl FnMut(&Path) -> Loaded + '_ {
    move |p: &Path| Ok(files.get(p).cloned())
}

#[test]
fn includes_through_loader() {
    let files: BTreeMap<PathBuf, String> = [
        (
            "/etc/nix/inc.conf",
            "cores = 7\nextra-substituters = from-inc\ninclude sub/deeper.conf\n",
        ),
        ("/etc/nix/sub/deeper.conf", "sandbox = false\n"),
        ("/etc/nix/loop.conf", "include loop.conf\n"),
    ]
    .into_iter()
    .map(|(k, v)| (PathBuf::from(k), v.to_owned()))
    .collect();

    // An included file's settings apply where the `include` is.
    let mut s = Settings::new();
    s.apply(
        Path::new("/etc/nix/nix.conf"),
        "cores = 3\nsubstituters = main\ninclude inc.conf\n!include missing.conf\n",
        &mut loader(&files),
    )
    .unwrap();
    assert_eq!(s.get("cores"), Some("7"));
    assert_eq!(s.get("substituters"), Some("main from-inc"));
    assert_eq!(s.get("sandbox"), Some("false"));

    let mut s = Settings::new();
    let e = s
        .apply(
            Path::new("/etc/nix/nix.conf"),
            "\ninclude missing.conf\n",
            &mut loader(&files),
        )
        .unwrap_err();
    assert_eq!(
        e,
        ConfigError::IncludeNotFound {
            origin: "/etc/nix/nix.conf".into(),
            line: 2,
            path: "/etc/nix/missing.conf".into()
        }
    );
    assert!(matches!(
        s.apply(
            Path::new("/etc/nix/nix.conf"),
            "include loop.conf",
            &mut loader(&files)
        ),
        Err(ConfigError::TooDeep { .. })
    ));
    let e = s
        .apply(
            Path::new("/etc/nix/nix.conf"),
            "include x",
            &mut |_: &Path| Err("permission denied".to_owned()),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "/etc/nix/nix.conf:1: cannot read included file '/etc/nix/x': permission denied"
    );
    // Errors inside an included file name that file and its line.
    let bad: BTreeMap<PathBuf, String> = [(PathBuf::from("/c/bad.conf"), "ok = 1\noops\n".into())]
        .into_iter()
        .collect();
    let e = s
        .apply(
            Path::new("/c/nix.conf"),
            "include bad.conf",
            &mut loader(&bad),
        )
        .unwrap_err();
    assert!(
        matches!(e, ConfigError::IllegalLine { ref origin, line: 2, .. } if origin == "/c/bad.conf")
    );
}

/// Nix 2.8 reads the same files to the same values (include order, `extra-`, comments).
#[test]
fn differential_show_config() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let main = "# Kiln differential test\n\
                cores = 3\n\
                include inc.conf\n\
                !include does-not-exist.conf\n\
                substituters = https://a.example   https://b.example # comment\n\
                extra-substituters = https://c.example\n\
                keep-going = true\n\
                extra-trusted-public-keys = main:AAAA\n";
    let inc = "cores = 7\n\
               extra-substituters = https://lost.example\n\
               trusted-public-keys = inc:BBBB\n\
               max-jobs = 5\n";
    std::fs::write(etc.join("nix.conf"), main).unwrap();
    std::fs::write(etc.join("inc.conf"), inc).unwrap();

    let out = kiln_testkit::reference_command("nix", dir.path())
        .env_remove("NIX_CONFIG")
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_CONFIG_DIRS", dir.path().join("config-dirs"))
        .args([
            "--extra-experimental-features",
            "nix-command",
            "show-config",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: BTreeMap<String, String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();

    let files: BTreeMap<PathBuf, String> = [(etc.join("inc.conf"), inc.to_owned())]
        .into_iter()
        .collect();
    let mut s = Settings::new();
    s.apply(&etc.join("nix.conf"), main, &mut loader(&files))
        .unwrap();
    for name in [
        "cores",
        "substituters",
        "keep-going",
        "trusted-public-keys",
        "max-jobs",
    ] {
        assert_eq!(
            s.get(name),
            shown.get(name).map(String::as_str),
            "setting {name}"
        );
    }
}
