//! A minimal subset of systemd-tmpfiles (`tmpfiles.d(5)`), applied under a root: `d` (create a
//! directory), `f` (create a file, with the argument as contents, if it does not exist), `L`/`L+`
//! (create a symlink; `L+` replaces what is there), `r` (remove a file or empty directory) and
//! `R` (remove recursively). Modes are octal (`-`: 0755 for directories, 0644 for files); owners
//! are applied only when running as root. Ages are accepted and ignored (no cleaning).

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::error::{io as io_err, OsError};
use crate::fsutil::{self, phys};
use crate::users::UserDb;

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The type letter(s): `d`, `f`, `L`, `L+`, `r`, `R`.
    pub kind: String,
    /// The absolute path (inside the root).
    pub path: String,
    /// The mode, if given.
    pub mode: Option<u32>,
    /// The owning user, if given.
    pub user: Option<String>,
    /// The owning group, if given.
    pub group: Option<String>,
    /// The argument (contents for `f`, target for `L`), if given.
    pub argument: Option<String>,
}

fn field(s: Option<&str>) -> Option<String> {
    s.filter(|s| *s != "-").map(str::to_owned)
}

/// Parses one line; empty lines and comments give `None`.
pub fn parse(line: &str) -> Result<Option<Rule>, OsError> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let bad = |reason| OsError::BadTmpfiles {
        line: line.to_owned(),
        reason,
    };
    let mut rest = trimmed;
    let mut next = || {
        let s = rest.trim_start();
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        let (f, r) = s.split_at(end);
        rest = r;
        (!f.is_empty()).then_some(f)
    };
    let kind = next().ok_or_else(|| bad("no type"))?.to_owned();
    let path = next().ok_or_else(|| bad("no path"))?.to_owned();
    let mode = next();
    let user = next();
    let group = next();
    let _age = next();
    let argument = Some(rest.trim()).filter(|a| !a.is_empty() && *a != "-");
    if !["d", "D", "f", "L", "L+", "r", "R"].contains(&kind.as_str()) {
        return Err(bad("unsupported type (Kiln knows d, D, f, L, L+, r, R)"));
    }
    fsutil::check_inside(&path)?;
    let mode = match field(mode) {
        None => None,
        Some(m) => {
            Some(u32::from_str_radix(m.trim_start_matches('~'), 8).map_err(|_| bad("bad mode"))?)
        }
    };
    Ok(Some(Rule {
        kind,
        path,
        mode,
        user: field(user),
        group: field(group),
        argument: argument.map(str::to_owned),
    }))
}

/// Applies `lines` under `root`, in order.
pub fn apply(root: &Path, lines: &[String], db: &UserDb) -> Result<(), OsError> {
    for line in lines {
        let Some(rule) = parse(line)? else { continue };
        let p = phys(root, &rule.path);
        match rule.kind.as_str() {
            "d" | "D" => {
                if !p.is_dir() {
                    fsutil::mkdirs(&p)?;
                }
                set_mode(&p, rule.mode.unwrap_or(0o755))?;
            }
            "f" => {
                if fs::symlink_metadata(&p).is_err() {
                    if let Some(parent) = p.parent() {
                        fsutil::mkdirs(parent)?;
                    }
                    let text = rule.argument.clone().unwrap_or_default();
                    fsutil::write_atomic(&p, text.as_bytes(), rule.mode.unwrap_or(0o644))?;
                }
            }
            "L" | "L+" => {
                let Some(target) = &rule.argument else {
                    return Err(OsError::BadTmpfiles {
                        line: line.clone(),
                        reason: "a symlink needs a target",
                    });
                };
                let exists = fs::symlink_metadata(&p).is_ok();
                if exists && rule.kind == "L" {
                    continue;
                }
                if let Some(parent) = p.parent() {
                    fsutil::mkdirs(parent)?;
                }
                if exists && fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                    fs::remove_dir_all(&p).map_err(io_err("removing", &p))?;
                }
                fsutil::symlink_atomic(Path::new(target), &p)?;
                continue;
            }
            "r" => match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => match fs::remove_dir(&p) {
                    Ok(()) => {}
                    // `r` leaves a directory that is not empty.
                    Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => {}
                    Err(e) => return Err(io_err("removing", &p)(e)),
                },
                Ok(_) => fs::remove_file(&p).map_err(io_err("removing", &p))?,
                Err(_) => {}
            },
            "R" => match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => fs::remove_dir_all(&p).map_err(io_err("removing", &p))?,
                Ok(_) => fs::remove_file(&p).map_err(io_err("removing", &p))?,
                Err(_) => {}
            },
            _ => unreachable!("parse accepts only the types above"),
        }
        if fsutil::is_root() && matches!(rule.kind.as_str(), "d" | "D" | "f") {
            let uid = rule
                .user
                .as_ref()
                .and_then(|u| u.parse().ok().or_else(|| db.uids.get(u).copied()));
            let gid = rule
                .group
                .as_ref()
                .and_then(|g| g.parse().ok().or_else(|| db.gids.get(g).copied()));
            if uid.is_some() || gid.is_some() {
                fsutil::chown(&p, uid, gid)?;
            }
        }
    }
    Ok(())
}

fn set_mode(p: &Path, mode: u32) -> Result<(), OsError> {
    let current = fs::metadata(p).map_err(io_err("getting status of", p))?;
    if current.permissions().mode() & 0o7777 != mode {
        fs::set_permissions(p, fs::Permissions::from_mode(mode))
            .map_err(io_err("setting permissions of", p))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_under_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let system: crate::SystemJson = serde_json::from_str(r#"{"version": 1}"#).unwrap();
        let db = crate::users::render(root, &system).unwrap();
        fs::create_dir_all(root.join("old/full")).unwrap();
        fs::write(root.join("old/full/x"), "").unwrap();
        fs::create_dir_all(root.join("gone/deep")).unwrap();
        fs::write(root.join("keep"), "mine").unwrap();
        let lines: Vec<String> = [
            "d /var/lib/a 0700 - - -",
            "f /var/lib/a/conf 0600 - - - hello",
            "f /keep - - - - replaced?",
            "L /run/link - - - - /nix/store/target",
            "L /keep - - - - /nowhere",
            "r /old/full",
            "R /gone",
        ]
        .map(String::from)
        .to_vec();
        apply(root, &lines, &db).unwrap();
        let mode = |p: &str| fs::metadata(root.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("var/lib/a"), 0o700);
        assert_eq!(mode("var/lib/a/conf"), 0o600);
        assert_eq!(
            fs::read_to_string(root.join("var/lib/a/conf")).unwrap(),
            "hello"
        );
        assert_eq!(fs::read_to_string(root.join("keep")).unwrap(), "mine");
        assert_eq!(
            fs::read_link(root.join("run/link")).unwrap(),
            Path::new("/nix/store/target")
        );
        assert!(
            root.join("old/full/x").exists(),
            "r leaves a directory that is not empty"
        );
        assert!(!root.join("gone").exists());
        // Applying again changes nothing and fails nothing.
        apply(root, &lines, &db).unwrap();
    }

    #[test]
    fn lines_parse_as_tmpfiles_d_reads_them() {
        let r = parse("d /var/lib/foo 0750 root wheel -").unwrap().unwrap();
        assert_eq!(
            (r.kind.as_str(), r.path.as_str(), r.mode),
            ("d", "/var/lib/foo", Some(0o750))
        );
        assert_eq!(
            (r.user.as_deref(), r.group.as_deref()),
            (Some("root"), Some("wheel"))
        );
        let r = parse("L+ /run/x - - - - /nix/store/abc target")
            .unwrap()
            .unwrap();
        assert_eq!(r.argument.as_deref(), Some("/nix/store/abc target"));
        assert!(parse("# comment").unwrap().is_none());
        assert!(matches!(parse("z /x"), Err(OsError::BadTmpfiles { .. })));
        assert!(matches!(
            parse("d /x/../../etc"),
            Err(OsError::UnsafePath { .. })
        ));
        assert!(matches!(
            parse("d relative"),
            Err(OsError::UnsafePath { .. })
        ));
    }
}
