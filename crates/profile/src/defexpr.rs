//! What `nix-env -f PATH` evaluates, and `~/.nix-defexpr` when no `-f` is given: Nix 2.8's
//! `loadSourceExpr`, with links followed as they are in the store's root.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kiln_session::Source;

use crate::element::nix_string;
use crate::{ProfileEnv, ProfileError, ProfileEvent};

/// Nix's `isNixExpr`: a file, or a directory with a `default.nix`.
fn is_nix_expr(path: &Path, meta: &std::fs::Metadata) -> bool {
    meta.is_file() || (meta.is_dir() && path.join("default.nix").exists())
}

impl ProfileEnv<'_> {
    /// The source `path` stands for, as Nix 2.8's `loadSourceExpr`: a file, a directory with a
    /// `default.nix`, or else a directory whose `.nix` files and subdirectories with a
    /// `default.nix` become one set (other subdirectories searched too, keeping the set flat;
    /// first name wins, a later one is reported as [`ProfileEvent::NameCollision`]), each
    /// imported on demand. Links into the store or state directory are followed in the
    /// store's root.
    pub fn source_of(&self, path: &Path) -> Result<Source, ProfileError> {
        let real = self.resolve(path);
        let meta = std::fs::metadata(&real).map_err(|source| ProfileError::Io {
            action: "getting information about",
            path: path.to_owned(),
            source,
        })?;
        if is_nix_expr(&real, &meta) {
            return Ok(Source::File(self.logical(&real)));
        }
        if !meta.is_dir() {
            return Err(ProfileError::NotAnExpression {
                path: path.to_owned(),
            });
        }
        let mut seen = BTreeSet::new();
        let mut text = String::from("{ _combineChannels = [ ]; ");
        self.combine(&real, path, &mut seen, &mut text)?;
        text.push('}');
        Ok(Source::Expr(text))
    }

    /// Adds the expressions of directory `real` (shown as `shown`) to `text`.
    pub fn combine(
        &self,
        real: &Path,
        shown: &Path,
        seen: &mut BTreeSet<String>,
        text: &mut String,
    ) -> Result<(), ProfileError> {
        let read_error = |source| ProfileError::Io {
            action: "reading directory",
            path: shown.to_owned(),
            source,
        };
        let mut names = BTreeSet::new();
        for entry in std::fs::read_dir(real).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            names.insert(entry.file_name().to_string_lossy().into_owned());
        }
        for name in names {
            // The manifest of a profile (channels are one).
            if name == "manifest.nix" {
                continue;
            }
            let shown2 = shown.join(&name);
            let real2 = self.resolve(&real.join(&name));
            // Dangling links are ignored.
            let Ok(meta) = std::fs::metadata(&real2) else {
                continue;
            };
            if is_nix_expr(&real2, &meta) && (!meta.is_file() || name.ends_with(".nix")) {
                let attr = name.strip_suffix(".nix").unwrap_or(&name);
                if !seen.insert(attr.to_owned()) {
                    self.observer
                        .event(ProfileEvent::NameCollision { skipped: shown2 });
                    continue;
                }
                let target = self.logical(&real2);
                text.push_str(&format!(
                    "{} = import {}; ",
                    nix_string(attr),
                    nix_string(&target.to_string_lossy())
                ));
            } else if meta.is_dir() {
                self.combine(&real2, &shown2, seen, text)?;
            }
        }
        Ok(())
    }

    /// `path` with its links followed as they are in the store's root: the path itself, and a
    /// link to an absolute path, in the logical store or state directory lead into the root.
    /// At `/`, `path`.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        use std::path::Component;
        if self.root == Path::new("/") {
            return path.to_owned();
        }
        let store_dir = self.store.location().store_dir.clone();
        let into_root = |t: PathBuf| -> PathBuf {
            if t.starts_with(&store_dir) || t.starts_with("/nix/var/nix") {
                self.root.join(t.strip_prefix("/").unwrap_or(&t))
            } else {
                t
            }
        };
        let mut todo: Vec<std::ffi::OsString> = Vec::new();
        let push = |todo: &mut Vec<std::ffi::OsString>, p: &Path| {
            for c in p.components().rev() {
                todo.push(c.as_os_str().to_owned());
            }
        };
        // The path itself may be logical too (a `-f` URL's download is a store path).
        let start = if path.is_absolute() {
            into_root(path.to_owned())
        } else {
            path.to_owned()
        };
        push(&mut todo, &start);
        let mut current = PathBuf::new();
        let mut links = 0;
        while let Some(c) = todo.pop() {
            match Path::new(&c).components().next() {
                Some(Component::RootDir) => current = PathBuf::from("/"),
                Some(Component::ParentDir) => {
                    current.pop();
                }
                Some(Component::Normal(n)) => {
                    let next = current.join(n);
                    match std::fs::read_link(&next) {
                        Ok(t) if links < 40 => {
                            links += 1;
                            let t = if t.is_absolute() { into_root(t) } else { t };
                            push(&mut todo, &t);
                        }
                        _ => current = next,
                    }
                }
                _ => {}
            }
        }
        current
    }

    /// The logical name of a physical path in the store (others unchanged).
    pub fn logical(&self, real: &Path) -> PathBuf {
        let loc = self.store.location();
        match real.strip_prefix(loc.real_store_dir()) {
            Ok(rest) if self.root != Path::new("/") => Path::new(&loc.store_dir).join(rest),
            _ => real.to_owned(),
        }
    }
}
