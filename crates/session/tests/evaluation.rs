//! Evaluation sessions as a library: typed derivation outputs and goals from an expression,
//! and failures that keep the source map their spans point into.

use std::path::Path;

use kiln_eval::EvalSettings;
use kiln_fetch::FetchSettings;
use kiln_session::{evaluate, AutoArg, EvalConfig, SessionError, Source, StoreMode};
use kiln_store::{LocalStore, Store, StoreLocation};

fn config(dir: &Path, store: StoreMode) -> EvalConfig {
    EvalConfig {
        settings: EvalSettings::default(),
        store,
        fetch: FetchSettings::new(dir.join("cache")),
        reporter: None,
    }
}

const PKGS: &str = r#"{ greeting ? "hello" }: {
  a = derivation { name = "a"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ greeting ]; };
  b = derivation { name = "b"; system = "x86_64-linux"; builder = "/bin/sh"; outputs = [ "dev" "out" ]; };
  nested = { recurseForDerivations = true; c = derivation { name = "c"; system = "x"; builder = "/b"; }; };
  hidden = { d = derivation { name = "d"; system = "x"; builder = "/b"; }; };
  n = 1;
}"#;

#[test]
fn derivations_are_typed_and_written_to_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pkgs.nix");
    std::fs::write(&file, PKGS).unwrap();
    let root = dir.path().join("root");
    let source = Source::File(file);
    let drvs = evaluate(
        config(dir.path(), StoreMode::Write { root: root.clone() }),
        move |s| {
            let cwd = Path::new("/");
            let v = s.load(&source, cwd)?;
            let args = s.auto_args(&[("greeting".into(), AutoArg::Str("hi".into()))], cwd)?;
            let v = s.auto_call(v, args)?;
            s.derivations(v)
        },
    )
    .unwrap();
    let names: Vec<_> = drvs.iter().map(|d| d.drv_path.name().to_owned()).collect();
    // Name order; `nested` is searched because it asks to be, `hidden` is not.
    assert_eq!(names, ["a.drv", "b.drv", "c.drv"]);
    // `b`'s first output is `dev`, printed the way nix-instantiate prints it.
    assert_eq!(drvs[1].output, "dev");
    assert!(drvs[1].to_line("/nix/store").ends_with("-b.drv!dev"));
    assert!(!drvs[0].to_line("/nix/store").contains('!'));
    let store = LocalStore::open(StoreLocation::new(&root)).unwrap();
    for d in &drvs {
        assert!(
            store.is_valid_path(&d.drv_path).unwrap(),
            "{:?}",
            d.drv_path
        );
        assert!(matches!(d.goal(), kiln_realise::Goal::Drv { .. }));
    }
}

#[test]
fn read_only_sessions_compute_the_same_paths_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pkgs.nix");
    std::fs::write(&file, PKGS).unwrap();
    let run = |store: StoreMode| {
        let source = Source::File(file.clone());
        evaluate(config(dir.path(), store), move |s| {
            let v = s.load(&source, Path::new("/"))?;
            let args = s.auto_args(&[], Path::new("/"))?;
            let v = s.select(v, "a", args)?;
            s.derivations(v)
        })
        .unwrap()
    };
    let fetch_root = dir.path().join("fetch-root");
    let read_only = run(StoreMode::ReadOnly {
        fetch_root: fetch_root.clone(),
    });
    assert!(!fetch_root.exists());
    let written = run(StoreMode::Write {
        root: dir.path().join("root"),
    });
    assert_eq!(read_only, written);
}

#[test]
fn a_failure_keeps_the_source_it_points_into() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.nix");
    std::fs::write(&file, "let x = 1; in\n  x + \"a\"\n").unwrap();
    let source = Source::File(file.clone());
    let err = evaluate(
        config(
            dir.path(),
            StoreMode::ReadOnly {
                fetch_root: dir.path().join("r"),
            },
        ),
        move |s| {
            let v = s.load(&source, Path::new("/"))?;
            s.ev.force_deep(v).map(|_| ())
        },
    )
    .unwrap_err();
    let SessionError::Eval(failure) = err else {
        panic!("not an evaluation error: {err}")
    };
    assert!(!failure.is_usage());
    let span = failure.error.span.expect("the error has a position");
    // Where Nix 2.8 points too: the string added, line 2, column 7, of the user's own file.
    assert_eq!(
        failure.sources.location(span),
        format!("{}:2:7", file.display())
    );
}

#[test]
fn a_missing_attribute_in_a_selection_path_suggests_close_names() {
    let dir = tempfile::tempdir().unwrap();
    let err = evaluate(
        config(
            dir.path(),
            StoreMode::ReadOnly {
                fetch_root: dir.path().join("r"),
            },
        ),
        |s| {
            let v = s.load(
                &Source::Expr("{ hello = 1; help = 2; }".into()),
                Path::new("/"),
            )?;
            let args = s.auto_args(&[], Path::new("/"))?;
            s.select(v, "helo", args).map(|_| ())
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "attribute 'helo' in selection path 'helo' not found\nDid you mean one of hello or help?"
    );
}

#[test]
fn traces_reach_the_callers_reporter_in_order() {
    use kiln_eval::report::{Notice, Reporter};
    use std::sync::{Arc, Mutex};
    #[derive(Default)]
    struct Collect(Mutex<Vec<String>>);
    impl Reporter for Collect {
        fn report(&self, notice: Notice<'_>) {
            let text = match notice {
                Notice::Trace(t) => format!("trace {t}"),
                Notice::EvalWarning(t) => format!("eval-warning {t}"),
                Notice::Warning(t) => format!("warning {t}"),
            };
            self.0.lock().unwrap().push(text);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Collect::default());
    let mut cfg = config(
        dir.path(),
        StoreMode::ReadOnly {
            fetch_root: dir.path().join("r"),
        },
    );
    cfg.reporter = Some(seen.clone());
    evaluate(cfg, |s| {
        let v = s.load(
            &Source::Expr("builtins.trace 1 (builtins.trace \"two\" 3)".into()),
            Path::new("/"),
        )?;
        s.ev.force_deep(v).map(|_| ())
    })
    .unwrap();
    let seen = seen.0.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].starts_with("trace ") && seen[0].contains('1'),
        "{seen:?}"
    );
    assert!(seen[1].contains("two"), "{seen:?}");
}
