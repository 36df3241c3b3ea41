//! Git repositories, through the `git` command (as Nix 2.8 did).
//!
//! * A local repository (an absolute path or a `file://` URL) without `ref` or `rev` is taken
//!   from its working tree: if it has uncommitted changes to tracked files, the tracked files'
//!   current contents (`git ls-files`, untracked files left out) make the tree and there is no
//!   `rev`, only a `dirtyRev`; if it is clean, its `HEAD` commit is fetched.
//! * A commit is exported with `git archive` (or, with submodules, checked out in a temporary
//!   clone whose `.git` entries are left out), so the store path never contains `.git`.
//! * A remote repository is fetched into a bare repository under the cache directory
//!   (`git/<sha256 of the URL>`); the commit a ref resolved to is remembered for
//!   `tarball-ttl` seconds, and a commit's store path for good.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kiln_formats::fetch::{FetchRequest, Fetched, HashMismatch};
use kiln_formats::hash::HashAlgo;
use kiln_formats::store_path::{FileIngestionMethod, StorePath};

use super::{cache, io_error, FetchError, FetchSettings, TempPath};
use kiln_store::{LocalStore, Store};

/// The fields of a [`FetchRequest::Git`].
struct Request<'r> {
    url: &'r str,
    name: &'r str,
    git_ref: Option<&'r str>,
    rev: Option<&'r str>,
    submodules: bool,
    shallow: bool,
    all_refs: bool,
    nar_hash: Option<&'r kiln_formats::hash::Hash>,
}

pub(super) fn fetch(
    store: &LocalStore,
    settings: &FetchSettings,
    req: &FetchRequest,
) -> Result<Fetched, FetchError> {
    let FetchRequest::Git {
        url,
        name,
        git_ref,
        rev,
        submodules,
        shallow,
        all_refs,
        nar_hash,
    } = req
    else {
        unreachable!("git::fetch is called with Git requests")
    };
    let req = Request {
        url,
        name,
        git_ref: git_ref.as_deref(),
        rev: rev.as_deref(),
        submodules: *submodules,
        shallow: *shallow,
        all_refs: *all_refs,
        nar_hash: nar_hash.as_ref(),
    };
    let local = local_path(url);
    if let (Some(dir), None, None) = (&local, req.git_ref, req.rev) {
        return fetch_work_tree(store, settings, &req, dir);
    }
    let (repo, rev) = match &local {
        Some(dir) => {
            let rev = match req.rev {
                Some(rev) => {
                    if !has_commit(dir, rev) {
                        return Err(git_error(
                            url,
                            format!("the repository has no commit '{rev}'"),
                        ));
                    }
                    rev.to_owned()
                }
                None => resolve_ref(url, dir, req.git_ref.unwrap_or("HEAD"))?,
            };
            (dir.clone(), rev)
        }
        None => fetch_remote(settings, &req)?,
    };
    export_commit(store, settings, &req, &repo, &rev, req.shallow)
}

/// The directory of a local repository URL: an absolute path or `file://` (with an optional
/// `git+` in front).
fn local_path(url: &str) -> Option<PathBuf> {
    let u = url.strip_prefix("git+").unwrap_or(url);
    if u.starts_with('/') {
        Some(PathBuf::from(u))
    } else {
        u.strip_prefix("file://")
            .map(|p| PathBuf::from(p.split(['?', '#']).next().unwrap_or(p)))
    }
}

fn git_error(url: &str, reason: impl Into<String>) -> FetchError {
    FetchError::Git {
        url: url.to_owned(),
        reason: reason.into(),
    }
}

/// Runs `git` with `args` (in `dir`, if given), returning its standard output.
fn git(url: &str, dir: Option<&Path>, args: &[&str]) -> Result<Vec<u8>, FetchError> {
    let mut cmd = Command::new("git");
    if let Some(d) = dir {
        cmd.arg("-C").arg(d);
    }
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    let out = cmd
        .output()
        .map_err(|e| git_error(url, format!("running 'git': {e}")))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(git_error(
            url,
            format!("'git {}' failed: {msg}", args.join(" ")),
        ));
    }
    Ok(out.stdout)
}

fn git_text(url: &str, dir: Option<&Path>, args: &[&str]) -> Result<String, FetchError> {
    Ok(String::from_utf8_lossy(&git(url, dir, args)?)
        .trim()
        .to_owned())
}

/// Whether `dir` has the commit `rev`.
fn has_commit(dir: &Path, rev: &str) -> bool {
    git(
        "",
        Some(dir),
        &["cat-file", "-e", &format!("{rev}^{{commit}}")],
    )
    .is_ok()
}

/// The commit `git_ref` names in `dir`: `HEAD`, a full `refs/…` name, or a branch or tag.
fn resolve_ref(url: &str, dir: &Path, git_ref: &str) -> Result<String, FetchError> {
    let candidates: Vec<String> = if git_ref == "HEAD" || git_ref.starts_with("refs/") {
        vec![git_ref.to_owned()]
    } else {
        vec![
            format!("refs/heads/{git_ref}"),
            format!("refs/tags/{git_ref}"),
        ]
    };
    for c in &candidates {
        let spec = format!("{c}^{{commit}}");
        if let Ok(rev) = git_text(url, Some(dir), &["rev-parse", "--verify", "--quiet", &spec]) {
            if rev.len() == 40 {
                return Ok(rev);
            }
        }
    }
    Err(git_error(
        url,
        format!("resolving Git reference '{git_ref}': it does not exist"),
    ))
}

/// Fetches what `req` needs of a remote repository into its cache repository, returning that
/// repository and the commit.
fn fetch_remote(
    settings: &FetchSettings,
    req: &Request<'_>,
) -> Result<(PathBuf, String), FetchError> {
    let url = req.url.strip_prefix("git+").unwrap_or(req.url);
    let repo = settings
        .cache_dir
        .join("git")
        .join(cache::key(&["git-repo", url]));
    if !repo.join("HEAD").exists() {
        std::fs::create_dir_all(&repo).map_err(|e| io_error("creating directory", &repo, e))?;
        git(url, Some(&repo), &["init", "--quiet", "--bare"])?;
    }
    let git_ref = req.git_ref.unwrap_or("HEAD");
    // The refspec: HEAD into a private ref, a full name as itself, a short one as branch or
    // tag (`refs/*/<name>`).
    let (refspec, local_ref) = if git_ref == "HEAD" {
        (
            "+HEAD:refs/kiln/HEAD".to_owned(),
            "refs/kiln/HEAD".to_owned(),
        )
    } else if git_ref.starts_with("refs/") {
        (format!("+{git_ref}:{git_ref}"), git_ref.to_owned())
    } else {
        (format!("+refs/*/{git_ref}:refs/*/{git_ref}"), String::new())
    };
    let resolve = |repo: &Path| -> Result<String, FetchError> {
        if local_ref.is_empty() {
            resolve_ref(url, repo, git_ref)
        } else {
            resolve_ref(url, repo, &local_ref)
        }
    };
    if let Some(rev) = req.rev {
        if has_commit(&repo, rev) {
            return Ok((repo, rev.to_owned()));
        }
        let spec = if req.all_refs {
            "+refs/*:refs/*".to_owned()
        } else {
            refspec
        };
        git(
            url,
            Some(&repo),
            &["fetch", "--quiet", "--force", "--", url, &spec],
        )?;
        if !has_commit(&repo, rev) {
            return Err(git_error(
                url,
                format!(
                    "cannot find Git revision '{rev}' in ref '{git_ref}'; \
                     if it is not on that branch, try 'allRefs = true;'"
                ),
            ));
        }
        return Ok((repo, rev.to_owned()));
    }
    let ref_key = cache::key(&["git-ref", url, git_ref]);
    if let Some(r) = cache::read(settings, &ref_key) {
        if r.is_fresh(settings.tarball_ttl) {
            if let Some(rev) = r.get("rev") {
                if has_commit(&repo, rev) {
                    return Ok((repo, rev.to_owned()));
                }
            }
        }
    }
    git(
        url,
        Some(&repo),
        &["fetch", "--quiet", "--force", "--", url, &refspec],
    )?;
    let rev = resolve(&repo)?;
    let mut r = cache::Record::new();
    r.set("rev", &rev);
    cache::write(settings, &ref_key, &r)?;
    Ok((repo, rev))
}

/// The cache key of a commit's store path.
fn commit_key(req: &Request<'_>, rev: &str) -> String {
    cache::key(&[
        "git-commit",
        req.url,
        rev,
        req.name,
        if req.submodules { "1" } else { "0" },
    ])
}

/// Adds the tree of commit `rev` of `repo` to the store.
fn export_commit(
    store: &LocalStore,
    settings: &FetchSettings,
    req: &Request<'_>,
    repo: &Path,
    rev: &str,
    shallow: bool,
) -> Result<Fetched, FetchError> {
    let url = req.url;
    let key = commit_key(req, rev);
    if let Some(r) = cache::read(settings, &key) {
        let path = r
            .get("storePath")
            .and_then(|p| StorePath::from_absolute(store.store_dir(), p).ok());
        if let Some(path) = path {
            if let Some(info) = store.query_path_info(&path)? {
                let fetched = Fetched {
                    path,
                    nar_hash: info.nar_hash,
                    last_modified: r.get("lastModified").and_then(|t| t.parse().ok()),
                    rev: Some(rev.to_owned()),
                    dirty_rev: None,
                    rev_count: if shallow {
                        None
                    } else {
                        r.get("revCount").and_then(|t| t.parse().ok())
                    },
                };
                check_nar_hash(req, &fetched)?;
                return Ok(fetched);
            }
        }
    }
    let tree = TempPath::new(settings, "git")?;
    if req.submodules {
        checkout_with_submodules(url, repo, rev, tree.path())?;
    } else {
        let archive = TempPath::new(settings, "git-archive")?;
        let file = std::fs::File::create(archive.path())
            .map_err(|e| io_error("creating file", archive.path(), e))?;
        let status = Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(["archive", "--format=tar", rev])
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| git_error(url, format!("running 'git': {e}")))?;
        if !status.status.success() {
            return Err(git_error(
                url,
                format!(
                    "'git archive {rev}' failed: {}",
                    String::from_utf8_lossy(&status.stderr).trim()
                ),
            ));
        }
        super::unpack_archive(archive.path(), tree.path())
            .or_else(|e| {
                // An empty tree makes an archive with no entries.
                if e.contains("empty") {
                    std::fs::create_dir_all(tree.path())
                        .map(|_| 0)
                        .map_err(|e| e.to_string())
                } else {
                    Err(e)
                }
            })
            .map_err(|reason| FetchError::Unpack {
                url: url.to_owned(),
                reason,
            })?;
        remove_submodule_dirs(url, repo, rev, tree.path())?;
    }
    let info = store.add_path(
        req.name,
        tree.path(),
        FileIngestionMethod::Recursive,
        HashAlgo::Sha256,
    )?;
    let last_modified: i64 = git_text(url, Some(repo), &["log", "-1", "--format=%ct", rev])?
        .parse()
        .map_err(|_| git_error(url, format!("cannot read the time of commit '{rev}'")))?;
    let rev_count: u64 = git_text(url, Some(repo), &["rev-list", "--count", rev])?
        .parse()
        .map_err(|_| git_error(url, format!("cannot count the ancestors of '{rev}'")))?;
    let mut r = cache::Record::new();
    r.set("storePath", &info.path.to_absolute(store.store_dir()));
    r.set("lastModified", &last_modified.to_string());
    r.set("revCount", &rev_count.to_string());
    cache::write(settings, &key, &r)?;
    let fetched = Fetched {
        path: info.path,
        nar_hash: info.nar_hash,
        last_modified: Some(last_modified),
        rev: Some(rev.to_owned()),
        dirty_rev: None,
        rev_count: (!shallow).then_some(rev_count),
    };
    check_nar_hash(req, &fetched)?;
    Ok(fetched)
}

/// Removes the empty directories `git archive` writes for submodules (gitlinks), which
/// current Nix leaves out when submodules are not fetched (Nix 2.8 kept them).
fn remove_submodule_dirs(url: &str, repo: &Path, rev: &str, tree: &Path) -> Result<(), FetchError> {
    let listing = git(url, Some(repo), &["ls-tree", "-r", "-z", rev])?;
    for entry in listing.split(|&b| b == 0).filter(|e| !e.is_empty()) {
        // `<mode> <type> <object>\t<path>`
        let Some(tab) = entry.iter().position(|&b| b == b'\t') else {
            continue;
        };
        if !entry.starts_with(b"160000 ") {
            continue;
        }
        use std::os::unix::ffi::OsStrExt;
        let dir = tree.join(std::ffi::OsStr::from_bytes(&entry[tab + 1..]));
        // Only an empty directory: anything else is not what git archive made for it.
        let _ = std::fs::remove_dir(&dir);
    }
    Ok(())
}

fn check_nar_hash(req: &Request<'_>, fetched: &Fetched) -> Result<(), FetchError> {
    match req.nar_hash {
        Some(h) if *h != fetched.nar_hash => {
            Err(FetchError::HashMismatch(Box::new(HashMismatch {
                url: req.url.to_owned(),
                expected: *h,
                got: fetched.nar_hash,
            })))
        }
        _ => Ok(()),
    }
}

/// Checks out `rev` of `repo` with its submodules into `dest`, then removes every `.git`.
fn checkout_with_submodules(
    url: &str,
    repo: &Path,
    rev: &str,
    dest: &Path,
) -> Result<(), FetchError> {
    let repo_s = repo.to_string_lossy();
    let dest_s = dest.to_string_lossy();
    git(
        url,
        None,
        &["clone", "--quiet", "--no-checkout", &repo_s, &dest_s],
    )?;
    // Relative submodule URLs are relative to the repository's own URL.
    let origin = local_path(url)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| url.strip_prefix("git+").unwrap_or(url).to_owned());
    git(url, Some(dest), &["remote", "set-url", "origin", &origin])?;
    git(url, Some(dest), &["checkout", "--quiet", rev])?;
    git(
        url,
        Some(dest),
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "update",
            "--init",
            "--recursive",
            "--quiet",
        ],
    )?;
    remove_git_dirs(dest)
}

fn remove_git_dirs(dir: &Path) -> Result<(), FetchError> {
    for entry in std::fs::read_dir(dir).map_err(|e| io_error("reading directory", dir, e))? {
        let entry = entry.map_err(|e| io_error("reading directory", dir, e))?;
        let path = entry.path();
        let ft = entry
            .file_type()
            .map_err(|e| io_error("reading directory", dir, e))?;
        if entry.file_name() == ".git" {
            if ft.is_dir() {
                kiln_store::remove_tree(&path).map_err(|e| FetchError::Io {
                    op: "removing",
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            } else {
                std::fs::remove_file(&path).map_err(|e| io_error("removing", &path, e))?;
            }
        } else if ft.is_dir() {
            remove_git_dirs(&path)?;
        }
    }
    Ok(())
}

/// A local repository without `ref` or `rev`: its working tree.
fn fetch_work_tree(
    store: &LocalStore,
    settings: &FetchSettings,
    req: &Request<'_>,
    dir: &Path,
) -> Result<Fetched, FetchError> {
    let url = req.url;
    git(url, Some(dir), &["rev-parse", "--git-dir"])
        .map_err(|_| git_error(url, format!("'{}' is not a Git repository", dir.display())))?;
    let head = git_text(
        url,
        Some(dir),
        &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
    )
    .ok()
    .filter(|r| r.len() == 40);
    let mut status_args = vec!["status", "--porcelain", "--untracked-files=no"];
    if !req.submodules {
        status_args.push("--ignore-submodules=all");
    }
    let dirty = head.is_none() || !git(url, Some(dir), &status_args)?.is_empty();
    if let (Some(rev), false) = (&head, dirty) {
        // A clean tree is its HEAD commit (shallow or not: the history is all here).
        return export_commit(store, settings, req, dir, rev, false);
    }
    let mut ls_args = vec!["ls-files", "-z"];
    if req.submodules {
        ls_args.push("--recurse-submodules");
    }
    let listing = git(url, Some(dir), &ls_args)?;
    let tree = TempPath::new(settings, "git-dirty")?;
    std::fs::create_dir(tree.path()).map_err(|e| io_error("creating directory", tree.path(), e))?;
    for name in listing.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        use std::os::unix::ffi::OsStrExt;
        let rel = Path::new(std::ffi::OsStr::from_bytes(name));
        copy_tracked(&dir.join(rel), &tree.path().join(rel))?;
    }
    let info = store.add_path(
        req.name,
        tree.path(),
        FileIngestionMethod::Recursive,
        HashAlgo::Sha256,
    )?;
    let last_modified = match &head {
        Some(rev) => git_text(url, Some(dir), &["log", "-1", "--format=%ct", rev])?
            .parse()
            .unwrap_or(0),
        None => 0,
    };
    let fetched = Fetched {
        path: info.path,
        nar_hash: info.nar_hash,
        last_modified: Some(last_modified),
        rev: None,
        dirty_rev: Some(format!("{}-dirty", head.unwrap_or_else(|| "0".repeat(40)))),
        rev_count: None,
    };
    check_nar_hash(req, &fetched)?;
    Ok(fetched)
}

/// Copies one tracked file of a working tree (a regular file or a link; a missing one, deleted
/// but not yet committed, and a submodule directory are skipped).
fn copy_tracked(src: &Path, dest: &Path) -> Result<(), FetchError> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(src) else {
        return Ok(());
    };
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error("creating directory", parent, e))?;
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(src).map_err(|e| io_error("reading link", src, e))?;
        std::os::unix::fs::symlink(target, dest).map_err(|e| io_error("creating link", dest, e))?;
    } else if meta.is_file() {
        std::fs::copy(src, dest).map_err(|e| io_error("copying", src, e))?;
        let exec = meta.permissions().mode() & 0o100 != 0;
        std::fs::set_permissions(
            dest,
            std::fs::Permissions::from_mode(if exec { 0o755 } else { 0o644 }),
        )
        .map_err(|e| io_error("setting permissions of", dest, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@kiln.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@kiln.invalid")
            .env("GIT_AUTHOR_DATE", "2020-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn request<'r>(url: &'r str, git_ref: Option<&'r str>, rev: Option<&'r str>) -> Request<'r> {
        Request {
            url,
            name: "source",
            git_ref,
            rev,
            submodules: false,
            shallow: false,
            all_refs: false,
            nar_hash: None,
        }
    }

    /// The remote path (a bare cache repository), exercised with a plain path as the "remote"
    /// URL, which `git fetch` accepts: refs are remembered for `tarball-ttl`, commits for good.
    #[test]
    fn remote_fetches_go_through_the_cache_repository() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir(&src).unwrap();
        run(&src, &["init", "-q", "-b", "main"]);
        std::fs::write(src.join("f"), "f\n").unwrap();
        run(&src, &["add", "f"]);
        run(&src, &["commit", "-qm", "c"]);
        let head = run(&src, &["rev-parse", "HEAD"]);
        let url = src.to_str().unwrap().to_owned();
        let mut settings = FetchSettings::new(tmp.path().join("cache"));

        let (repo, rev) = fetch_remote(&settings, &request(&url, None, None)).unwrap();
        assert_eq!(rev, head);
        assert!(repo.starts_with(&settings.cache_dir));
        let (_, by_ref) = fetch_remote(&settings, &request(&url, Some("main"), None)).unwrap();
        assert_eq!(by_ref, head);

        // The source is gone: a fresh ref and a known commit still resolve from the cache.
        std::fs::rename(&src, tmp.path().join("gone")).unwrap();
        assert_eq!(
            fetch_remote(&settings, &request(&url, Some("main"), None))
                .unwrap()
                .1,
            head
        );
        assert_eq!(
            fetch_remote(&settings, &request(&url, None, Some(&head)))
                .unwrap()
                .1,
            head
        );
        // A stale ref must ask the remote, which is gone.
        settings.tarball_ttl = 0;
        let err = fetch_remote(&settings, &request(&url, Some("main"), None)).unwrap_err();
        assert!(err.to_string().contains(&url), "{err}");
    }
}
