//! `builtin:buildenv`: the builder of user environments (Nix's `<nix/buildenv.nix>`).
//!
//! The derivation's environment has `derivations`, a space-separated list of groups
//! `active priority nOutputs outPath…`, and `manifest`, the store path of the environment's
//! manifest. The builder makes `$out` a tree of symlinks to the packages' files: directories
//! are merged recursively (a directory first reached through a symlink is expanded into a real
//! directory when a second package brings the same directory), and when two packages bring the
//! same file the lower priority number wins; equal priorities are an error naming both files.
//! Packages named in a package's `nix-support/propagated-user-env-packages` are added
//! afterwards, with priorities from 1000 up, so they lose every collision with packages
//! installed explicitly. Finally `$out/manifest.nix` links to the manifest. Hidden entries,
//! `nix-support`, `propagated-build-inputs`, `perllocal.pod`, `info/dir`, `log`,
//! `manifest.nix` and `manifest.json` are not linked (they would only collide).
//!
//! Links point to the logical store paths (`/nix/store/…`), while the files are read through
//! the store's physical directory ([`run_in`]), so a store under a root works.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// Why a user environment could not be built. The messages are Nix's.
#[derive(Debug, thiserror::Error)]
pub enum BuildenvError {
    /// The derivation lacks an attribute the builder needs.
    #[error("attribute '{0}' missing")]
    MissingAttr(&'static str),
    /// `derivations` is not a list of `active priority n path…` groups.
    #[error("invalid 'derivations' attribute of a user environment: {0}")]
    BadDerivations(String),
    /// Two packages with the same priority bring the same file.
    #[error(
        "files '{new}' and '{old}' have the same priority {priority}; use 'nix-env --set-flag \
         priority NUMBER INSTALLED_PKGNAME' or type 'kiln profile install --help' if using \
         'kiln profile' to find out how to change the priority of one of the conflicting \
         packages (0 being the highest priority)"
    )]
    Conflict {
        /// The file being added.
        new: String,
        /// The file already linked.
        old: String,
        /// Their priority.
        priority: i64,
    },
    /// A directory meets a non-directory already linked.
    #[error("collision between '{0}' and non-directory '{1}'")]
    NotADirectory(String, String),
    /// A file meets a directory already in the environment.
    #[error("collision between non-directory '{0}' and directory '{1}'")]
    IsADirectory(String, String),
    /// A file system operation failed.
    #[error("{action} '{path}': {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: String,
        /// The error.
        source: io::Error,
    },
}

fn io_err(action: &'static str, path: impl AsRef<Path>) -> impl FnOnce(io::Error) -> BuildenvError {
    let path = path.as_ref().display().to_string();
    move |source| BuildenvError::Io {
        action,
        path,
        source,
    }
}

/// One package output to link.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Package {
    path: String,
    active: bool,
    priority: i64,
}

/// Parses the `derivations` attribute into packages, sorted by priority then path.
fn parse_derivations(text: &str) -> Result<Vec<Package>, BuildenvError> {
    let mut tokens = text.split_ascii_whitespace();
    let mut pkgs = Vec::new();
    while let Some(active) = tokens.next() {
        let bad = |what: &str| BuildenvError::BadDerivations(what.to_owned());
        let priority: i64 = tokens
            .next()
            .ok_or_else(|| bad("a group ends before its priority"))?
            .parse()
            .map_err(|_| bad("a priority is not a number"))?;
        let n: usize = tokens
            .next()
            .ok_or_else(|| bad("a group ends before its number of outputs"))?
            .parse()
            .map_err(|_| bad("a number of outputs is not a number"))?;
        for _ in 0..n {
            let path = tokens
                .next()
                .ok_or_else(|| bad("a group has fewer paths than it says"))?;
            pkgs.push(Package {
                path: path.to_owned(),
                active: active != "false",
                priority,
            });
        }
    }
    pkgs.sort_by(|a, b| (a.priority, &a.path).cmp(&(b.priority, &b.path)));
    Ok(pkgs)
}

/// Builds the user environment into `out` (which must not exist yet), reading the store at
/// its logical location (a store under `/`).
pub fn run(
    env: &BTreeMap<String, String>,
    out: &Path,
    log: &mut dyn Write,
) -> Result<(), BuildenvError> {
    run_in(env, out, "", Path::new(""), log)
}

/// [`run`] for a store whose logical directory `store_dir` (`/nix/store`) is physically at
/// `real_store_dir`: links name logical paths, files are read at their physical place. An
/// empty `store_dir` means no translation.
pub fn run_in(
    env: &BTreeMap<String, String>,
    out: &Path,
    store_dir: &str,
    real_store_dir: &Path,
    log: &mut dyn Write,
) -> Result<(), BuildenvError> {
    let derivations = env
        .get("derivations")
        .ok_or(BuildenvError::MissingAttr("derivations"))?;
    let manifest = env
        .get("manifest")
        .ok_or(BuildenvError::MissingAttr("manifest"))?;
    let pkgs = parse_derivations(derivations)?;
    fs::create_dir_all(out).map_err(io_err("creating directory", out))?;
    let mut state = State {
        out: out.to_owned(),
        store_dir: store_dir.trim_end_matches('/').to_owned(),
        real_store_dir: real_store_dir.to_owned(),
        priorities: HashMap::new(),
        done: HashSet::new(),
        postponed: BTreeSet::new(),
        log,
    };
    for pkg in pkgs.iter().filter(|p| p.active) {
        state.add_package(&pkg.path, pkg.priority)?;
    }
    let mut priority = 1000;
    while !state.postponed.is_empty() {
        let round = std::mem::take(&mut state.postponed);
        for p in round {
            state.add_package(&p, priority)?;
            priority += 1;
        }
    }
    let link = out.join("manifest.nix");
    symlink(manifest, &link).map_err(io_err("creating symlink", &link))?;
    Ok(())
}

struct State<'l> {
    out: PathBuf,
    store_dir: String,
    real_store_dir: PathBuf,
    /// Priority of each link made, by its path relative to `out`.
    priorities: HashMap<PathBuf, i64>,
    done: HashSet<String>,
    postponed: BTreeSet<String>,
    log: &'l mut dyn Write,
}

/// Entries of a package tree that are never linked.
fn skipped(logical: &str) -> bool {
    [
        "/propagated-build-inputs",
        "/nix-support",
        "/perllocal.pod",
        "/info/dir",
        "/log",
        "/manifest.nix",
        "/manifest.json",
    ]
    .iter()
    .any(|s| logical.ends_with(s))
}

impl State<'_> {
    /// Where a logical path's file physically is.
    fn phys(&self, logical: &str) -> PathBuf {
        if !self.store_dir.is_empty() {
            if let Some(rest) = logical.strip_prefix(&self.store_dir) {
                if rest.is_empty() || rest.starts_with('/') {
                    return self.real_store_dir.join(rest.trim_start_matches('/'));
                }
            }
        }
        PathBuf::from(logical)
    }

    /// Resolves every symlink in the absolute logical path `path` (each looked up physically);
    /// the result is logical. `None` when some component does not exist.
    fn canonical(&self, path: &str) -> Result<Option<String>, BuildenvError> {
        let mut pending: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(str::to_owned)
            .collect();
        let mut done = String::new();
        let mut hops = 0;
        while let Some(c) = pending.pop() {
            match c.as_str() {
                "." => continue,
                ".." => {
                    if let Some(i) = done.rfind('/') {
                        done.truncate(i);
                    }
                    continue;
                }
                _ => {}
            }
            let next = format!("{done}/{c}");
            // The directories above the store directory are the store's, not the host's
            // (with a store root the host may have no `/nix` at all).
            if self.store_dir.starts_with(&next) && self.store_dir[next.len()..].starts_with('/') {
                done = next;
                continue;
            }
            let phys = self.phys(&next);
            match fs::symlink_metadata(&phys) {
                Ok(m) if m.file_type().is_symlink() => {
                    hops += 1;
                    if hops > 40 {
                        return Err(io_err("resolving", &next)(io::Error::other(
                            "too many levels of symbolic links",
                        )));
                    }
                    let target = fs::read_link(&phys).map_err(io_err("reading link", &phys))?;
                    let target = target.to_string_lossy().into_owned();
                    if target.starts_with('/') {
                        done.clear();
                    }
                    pending.extend(
                        target
                            .split('/')
                            .filter(|c| !c.is_empty())
                            .rev()
                            .map(str::to_owned),
                    );
                }
                Ok(_) => done = next,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(None),
                Err(e) => return Err(io_err("getting status of", &phys)(e)),
            }
        }
        Ok(Some(if done.is_empty() { "/".into() } else { done }))
    }

    fn add_package(&mut self, path: &str, priority: i64) -> Result<(), BuildenvError> {
        if !self.done.insert(path.to_owned()) {
            return Ok(());
        }
        self.link_tree(path, Path::new(""), priority)?;
        let file = self.phys(&format!("{path}/nix-support/propagated-user-env-packages"));
        match fs::read_to_string(&file) {
            Ok(text) => {
                for p in text.split([' ', '\n']).filter(|p| !p.is_empty()) {
                    if !self.done.contains(p) {
                        self.postponed.insert(p.to_owned());
                    }
                }
            }
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR) => {}
            Err(e) => return Err(io_err("reading", &file)(e)),
        }
        Ok(())
    }

    /// Links the entries of the logical directory `src` into `out/rel`.
    fn link_tree(&mut self, src: &str, rel: &Path, priority: i64) -> Result<(), BuildenvError> {
        let dir = match self.canonical(src)? {
            Some(c) => self.phys(&c),
            None => return Ok(()),
        };
        let entries = match fs::read_dir(&dir) {
            // A package whose output is a file is left out, as Nix leaves it out.
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) && rel.as_os_str().is_empty() => {
                let _ = writeln!(
                    self.log,
                    "warning: not including '{src}' in the user environment because it's not a directory"
                );
                return Ok(());
            }
            res => res.map_err(io_err("reading directory", &dir))?,
        };
        let mut names: Vec<_> = entries
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err("reading directory", &dir))?;
        names.sort();
        for name in names {
            let name_s = name.to_string_lossy().into_owned();
            if name_s.starts_with('.') {
                continue;
            }
            let src_file = format!("{src}/{name_s}");
            let rel_file = rel.join(&name);
            let dst = self.out.join(&rel_file);
            let Some(src_canon) = self.canonical(&src_file)? else {
                let _ = writeln!(
                    self.log,
                    "warning: skipping dangling symlink '{}'",
                    dst.display()
                );
                continue;
            };
            if skipped(&src_file) {
                continue;
            }
            let src_is_dir = fs::metadata(self.phys(&src_canon))
                .map_err(io_err("getting status of", &src_file))?
                .is_dir();
            let dst_meta = match fs::symlink_metadata(&dst) {
                Ok(m) => Some(m),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(io_err("getting status of", &dst)(e)),
            };
            if let Some(dm) = dst_meta {
                if src_is_dir {
                    if dm.is_dir() {
                        self.link_tree(&src_file, &rel_file, priority)?;
                        continue;
                    }
                    // A link to another package's directory: expand it into a real directory
                    // holding links to both packages' entries.
                    let old = fs::read_link(&dst).map_err(io_err("reading link", &dst))?;
                    let old = old.to_string_lossy().into_owned();
                    let old_canon = self.canonical(&old)?;
                    let old_is_dir = match &old_canon {
                        Some(c) => fs::metadata(self.phys(c)).is_ok_and(|m| m.is_dir()),
                        None => false,
                    };
                    let (true, Some(old_canon)) = (old_is_dir, old_canon) else {
                        return Err(BuildenvError::NotADirectory(src_file, old));
                    };
                    fs::remove_file(&dst).map_err(io_err("removing", &dst))?;
                    fs::create_dir(&dst).map_err(io_err("creating directory", &dst))?;
                    let old_priority = self.priorities.get(&rel_file).copied().unwrap_or(0);
                    self.link_tree(&old_canon, &rel_file, old_priority)?;
                    self.link_tree(&src_file, &rel_file, priority)?;
                    continue;
                }
                if dm.file_type().is_symlink() {
                    let old_priority = self.priorities.get(&rel_file).copied().unwrap_or(0);
                    if old_priority == priority {
                        let old = fs::read_link(&dst).map_err(io_err("reading link", &dst))?;
                        return Err(BuildenvError::Conflict {
                            new: src_file,
                            old: old.to_string_lossy().into_owned(),
                            priority,
                        });
                    }
                    if old_priority < priority {
                        continue;
                    }
                    fs::remove_file(&dst).map_err(io_err("removing", &dst))?;
                } else if dm.is_dir() {
                    return Err(BuildenvError::IsADirectory(
                        src_file,
                        dst.display().to_string(),
                    ));
                }
            }
            symlink(&src_file, &dst).map_err(io_err("creating symlink", &dst))?;
            self.priorities.insert(rel_file, priority);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(p: &Path, text: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    /// The tree under `dir`: each entry with `-> target` for links, `/` for directories.
    fn tree(dir: &Path) -> Vec<String> {
        let mut res = Vec::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            let mut entries: Vec<_> = fs::read_dir(dir.join(&rel))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            entries.sort();
            for n in entries {
                let r = rel.join(&n);
                let p = dir.join(&r);
                let m = fs::symlink_metadata(&p).unwrap();
                if m.file_type().is_symlink() {
                    res.push(format!(
                        "{} -> {}",
                        r.display(),
                        fs::read_link(&p).unwrap().display()
                    ));
                } else if m.is_dir() {
                    res.push(format!("{}/", r.display()));
                    stack.push(r);
                }
            }
        }
        res.sort();
        res
    }

    fn env(derivations: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("derivations".to_owned(), derivations.to_owned()),
            (
                "manifest".to_owned(),
                "/nix/store/m-env-manifest.nix".to_owned(),
            ),
        ])
    }

    #[test]
    fn parses_groups_and_sorts_by_priority() {
        let p = parse_derivations("true 5 1 /s/b true 3 2 /s/a1 /s/a2 false 5 1 /s/a").unwrap();
        let got: Vec<_> = p
            .iter()
            .map(|p| (p.path.as_str(), p.priority, p.active))
            .collect();
        assert_eq!(
            got,
            [
                ("/s/a1", 3, true),
                ("/s/a2", 3, true),
                ("/s/a", 5, false),
                ("/s/b", 5, true)
            ]
        );
        assert!(parse_derivations("true x 1 /s/a").is_err());
        assert!(parse_derivations("true 5 2 /s/a").is_err());
        assert!(parse_derivations("true 5").is_err());
    }

    #[test]
    fn merges_directories_and_expands_linked_ones() {
        let t = tempfile::tempdir().unwrap();
        let store = t.path().join("root/nix/store");
        file(&store.join("a/bin/a"), "a");
        file(&store.join("a/share/doc/a.txt"), "a");
        file(&store.join("a/nix-support/setup-hook"), "");
        file(&store.join("a/.hidden"), "");
        file(&store.join("b/bin/b"), "b");
        file(&store.join("b/lib/libb"), "b");
        // b's share is a link to a directory inside another store path.
        file(&store.join("c/share/doc/c.txt"), "c");
        symlink("/nix/store/c/share", store.join("b/share")).unwrap();
        let out = t.path().join("out");
        let mut log = Vec::new();
        run_in(
            &env("true 5 1 /nix/store/a true 5 1 /nix/store/b"),
            &out,
            "/nix/store",
            &store,
            &mut log,
        )
        .unwrap();
        assert_eq!(
            tree(&out),
            [
                "bin/",
                "bin/a -> /nix/store/a/bin/a",
                "bin/b -> /nix/store/b/bin/b",
                "lib -> /nix/store/b/lib",
                "manifest.nix -> /nix/store/m-env-manifest.nix",
                "share/",
                "share/doc/",
                "share/doc/a.txt -> /nix/store/a/share/doc/a.txt",
                "share/doc/c.txt -> /nix/store/b/share/doc/c.txt",
            ]
        );
        // With only b, `share` stays a link; a then expands it.
        let out2 = t.path().join("out2");
        run_in(
            &env("true 5 1 /nix/store/b true 6 1 /nix/store/a"),
            &out2,
            "/nix/store",
            &store,
            &mut log,
        )
        .unwrap();
        assert!(tree(&out2).contains(&"share/doc/c.txt -> /nix/store/c/share/doc/c.txt".into()));
        assert!(tree(&out2).contains(&"share/doc/a.txt -> /nix/store/a/share/doc/a.txt".into()));
    }

    #[test]
    fn priorities_settle_collisions_and_equal_ones_fail() {
        let t = tempfile::tempdir().unwrap();
        let store = t.path().join("s");
        file(&store.join("x1/bin/x"), "1");
        file(&store.join("x2/bin/x"), "2");
        let s = store.to_str().unwrap();
        let out = t.path().join("o1");
        let e = env(&format!("true 5 1 {s}/x1 true 4 1 {s}/x2"));
        run(&e, &out, &mut Vec::new()).unwrap();
        assert_eq!(fs::read_to_string(out.join("bin/x")).unwrap(), "2");
        let out = t.path().join("o2");
        let e = env(&format!("true 3 1 {s}/x1 true 4 1 {s}/x2"));
        run(&e, &out, &mut Vec::new()).unwrap();
        assert_eq!(fs::read_to_string(out.join("bin/x")).unwrap(), "1");
        let out = t.path().join("o3");
        let e = env(&format!("true 5 1 {s}/x1 true 5 1 {s}/x2"));
        let err = run(&e, &out, &mut Vec::new()).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "files '{s}/x2/bin/x' and '{s}/x1/bin/x' have the same priority 5;"
            )),
            "{err}"
        );
        // Inactive packages are not linked.
        let out = t.path().join("o4");
        let e = env(&format!("true 5 1 {s}/x1 false 5 1 {s}/x2"));
        run(&e, &out, &mut Vec::new()).unwrap();
        assert_eq!(fs::read_to_string(out.join("bin/x")).unwrap(), "1");
    }

    #[test]
    fn file_against_directory_collides() {
        let t = tempfile::tempdir().unwrap();
        let s = t.path().join("s");
        file(&s.join("d/bin/x/y"), "");
        file(&s.join("f/bin/x"), "");
        file(&s.join("g/bin/x/z"), "");
        let sp = s.to_str().unwrap();
        // d and g make bin/x a real directory; f's file bin/x then meets it.
        let e = env(&format!("true 1 1 {sp}/d true 2 1 {sp}/g true 3 1 {sp}/f"));
        let err = run(&e, &t.path().join("o"), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, BuildenvError::IsADirectory(..)), "{err}");
        // f's file bin/x is linked first; d's directory bin/x cannot merge with it.
        let e = env(&format!("true 1 1 {sp}/f true 2 1 {sp}/d"));
        let err = run(&e, &t.path().join("o2"), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, BuildenvError::NotADirectory(..)), "{err}");
    }

    #[test]
    fn propagated_packages_come_later_and_lose() {
        let t = tempfile::tempdir().unwrap();
        let s = t.path().join("s");
        let sp = s.to_str().unwrap();
        file(&s.join("p/bin/p"), "p");
        file(
            &s.join("p/nix-support/propagated-user-env-packages"),
            &format!("{sp}/q\n{sp}/r {sp}/p"),
        );
        file(&s.join("q/bin/q"), "q");
        file(&s.join("q/bin/p"), "q's p");
        file(&s.join("r/share/r"), "r");
        file(
            &s.join("r/nix-support/propagated-user-env-packages"),
            &format!("{sp}/q"),
        );
        let out = t.path().join("o");
        run(&env(&format!("true 5 1 {sp}/p")), &out, &mut Vec::new()).unwrap();
        let links = tree(&out);
        assert!(
            links.contains(&format!("bin/p -> {sp}/p/bin/p")),
            "{links:?}"
        );
        assert!(
            links.contains(&format!("bin/q -> {sp}/q/bin/q")),
            "{links:?}"
        );
        assert!(
            links.contains(&format!("share -> {sp}/r/share")),
            "{links:?}"
        );
        assert!(!links.iter().any(|l| l.starts_with("nix-support")));
    }

    #[test]
    fn dangling_links_are_skipped_and_missing_attrs_reported() {
        let t = tempfile::tempdir().unwrap();
        let s = t.path().join("s");
        fs::create_dir_all(s.join("a/bin")).unwrap();
        symlink("/nonexistent/kiln", s.join("a/gone")).unwrap();
        let mut log = Vec::new();
        let out = t.path().join("o");
        run(&env(&format!("true 5 1 {}/a", s.display())), &out, &mut log).unwrap();
        assert!(String::from_utf8(log)
            .unwrap()
            .contains("skipping dangling symlink"));
        assert!(fs::symlink_metadata(out.join("gone")).is_err());
        let mut e = env("");
        e.remove("manifest");
        let err = run(&e, &t.path().join("o2"), &mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "attribute 'manifest' missing");
    }
}
