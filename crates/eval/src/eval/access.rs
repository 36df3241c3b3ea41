//! Which files an evaluation may read under `pure-eval` and `restrict-eval`, and Nix's error
//! for those it may not.

use std::path::{Path, PathBuf};

use super::Eval;
use crate::eval_error::{ErrorKind, EvalError, EvalResult};
use crate::lower::canon_path;

impl<'a> Eval<'a> {
    /// The paths readable under `restrict-eval` (the search path's directories) or
    /// `pure-eval` (none); `None` when unrestricted.
    pub(super) fn initial_allowed_paths(&self) -> Option<Vec<Vec<u8>>> {
        if self.settings.pure_eval {
            return Some(Vec::new());
        }
        if !self.settings.restrict_eval {
            return None;
        }
        let cwd = self.io.current_dir();
        let mut allowed = Vec::new();
        for (_, entry) in &self.settings.nix_path {
            let path = if entry.starts_with('/') {
                PathBuf::from(entry)
            } else if entry.contains("://") || entry.contains(':') {
                continue;
            } else {
                match &cwd {
                    Some(dir) => dir.join(entry),
                    None => continue,
                }
            };
            use std::os::unix::ffi::OsStrExt;
            // As written, and with its links resolved (what a resolved path is checked against).
            if let Ok(real) = self.io.canonicalize(&path) {
                allowed.push(canon_path(real.as_os_str().as_bytes()));
            }
            allowed.push(canon_path(path.as_os_str().as_bytes()));
        }
        Some(allowed)
    }

    /// Lets a restricted evaluation read `path` and what lies below it (a flake's evaluation,
    /// pure, still reads the Nix code Kiln ships through `<kiln/…>`). Nothing changes when
    /// evaluation is unrestricted.
    pub fn allow_path(&mut self, path: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let real = self.io.canonicalize(path).ok();
        if let Some(allowed) = &mut self.allowed_paths {
            allowed.push(canon_path(path.as_os_str().as_bytes()));
            if let Some(real) = real {
                allowed.push(canon_path(real.as_os_str().as_bytes()));
            }
        }
    }

    /// Whether evaluation is restricted (`pure-eval` or `restrict-eval`): no environment
    /// variables, and files only from allowed places.
    pub fn restricted(&self) -> bool {
        self.allowed_paths.is_some()
    }

    /// Checks that `path` may be read under `pure-eval`/`restrict-eval`, as Nix 2.26 does:
    /// walking down from the root, each directory must lead to or lie in an allowed one, and
    /// the error names the first that does not.
    pub fn check_access(&self, path: &Path) -> EvalResult<()> {
        match self.forbidden_prefix(path) {
            Some(prefix) => Err(self.access_error(&prefix)),
            None => Ok(()),
        }
    }

    /// Where `path` first leaves the readable places, if it does: as written, and then with
    /// its symbolic links resolved, so that no link leads out of them.
    pub fn forbidden_prefix(&self, path: &Path) -> Option<Vec<u8>> {
        self.allowed_paths.as_ref()?;
        if let Some(prefix) = self.forbidden_lexically(path) {
            return Some(prefix);
        }
        let real = self.io.canonicalize(path).ok()?;
        self.forbidden_lexically(&real)
    }

    /// Where `path` first leaves the readable places, if it does (see [`Self::check_access`]).
    ///
    /// Paths inside the store (below its directory) are readable. Nix is stricter there: it
    /// allows only store paths that the evaluation produced or that a string's context names,
    /// so a store path written as a literal is refused by Nix and read by Kiln.
    pub(super) fn forbidden_lexically(&self, path: &Path) -> Option<Vec<u8>> {
        use std::os::unix::ffi::OsStrExt;
        let allowed = self.allowed_paths.as_ref()?;
        let path = canon_path(path.as_os_str().as_bytes());
        let within = |inner: &[u8], outer: &[u8]| {
            inner == outer
                || (inner.starts_with(outer)
                    && (outer == b"/" || inner.get(outer.len()) == Some(&b'/')))
        };
        let store = self.io.store_dir().as_bytes();
        if within(&path, store) && path.len() > store.len() {
            return None;
        }
        let mut end = 0;
        while end < path.len() {
            end = path[end + 1..]
                .iter()
                .position(|&b| b == b'/')
                .map_or(path.len(), |i| end + 1 + i);
            let prefix = &path[..end];
            if allowed.iter().any(|a| within(prefix, a)) {
                return None;
            }
            // A directory on the way to an allowed one may be looked at, not what else it holds.
            if !allowed.iter().any(|a| within(a, prefix)) {
                return Some(prefix.to_vec());
            }
        }
        None
    }

    /// Nix's error for reading `path` where evaluation is restricted.
    pub fn access_error(&self, path: &[u8]) -> Box<EvalError> {
        let mode = if self.settings.pure_eval {
            "in pure evaluation mode (use '--impure' to override)"
        } else {
            "in restricted mode"
        };
        EvalError::new(
            ErrorKind::Message(format!(
                "access to absolute path '{}' is forbidden {mode}",
                String::from_utf8_lossy(path)
            )),
            None,
        )
    }
}
