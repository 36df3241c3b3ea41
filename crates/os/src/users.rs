//! `/etc/passwd`, `/etc/group` and `/etc/shadow`, rendered from `kiln-system.json`'s users and
//! groups, and the home directories.
//!
//! Ids the configuration leaves unset are allocated (groups and system users from 999 down to
//! 400, normal users from 1000 up to 29999) and remembered in `/var/lib/kiln/uid-map` and
//! `gid-map` (`NAME:ID` lines), so an id stays with its name across generations, and a user
//! removed then declared again gets its old id back. An id remembered for a name is never given
//! to another. Shadow entries are the declared `hashedPassword` or `!` (locked); with
//! `mutableUsers` a user the current `/etc/shadow` has keeps its password.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::error::{io as io_err, OsError};
use crate::fsutil::{self, phys};
use crate::toplevel::SystemJson;

/// The user database as rendered: the three files' contents and the ids chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDb {
    /// `/etc/passwd`.
    pub passwd: String,
    /// `/etc/group`.
    pub group: String,
    /// `/etc/shadow`.
    pub shadow: String,
    /// Every user's uid.
    pub uids: BTreeMap<String, u32>,
    /// Every group's gid.
    pub gids: BTreeMap<String, u32>,
    /// The id maps to remember (previous entries kept).
    pub uid_map: BTreeMap<String, u32>,
    /// See `uid_map`.
    pub gid_map: BTreeMap<String, u32>,
}

fn map_path(root: &Path, name: &str) -> PathBuf {
    phys(root, "/var/lib/kiln").join(name)
}

fn read_map(path: &Path) -> Result<BTreeMap<String, u32>, OsError> {
    let mut res = BTreeMap::new();
    let Some(bytes) = fsutil::read_opt(path)? else {
        return Ok(res);
    };
    for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let (name, id) = line
            .rsplit_once(':')
            .and_then(|(n, id)| Some((n, id.parse::<u32>().ok()?)))
            .ok_or_else(|| OsError::BadIdMap {
                path: path.to_owned(),
                line: i + 1,
            })?;
        res.insert(name.to_owned(), id);
    }
    Ok(res)
}

fn map_text(map: &BTreeMap<String, u32>) -> String {
    map.iter().map(|(n, id)| format!("{n}:{id}\n")).collect()
}

/// Picks an id for `name`: remembered, else the first free one walking `range`.
fn allocate(
    kind: &'static str,
    name: &str,
    map: &mut BTreeMap<String, u32>,
    used: &mut BTreeSet<u32>,
    range: impl Iterator<Item = u32>,
) -> Result<u32, OsError> {
    if let Some(&id) = map.get(name) {
        used.insert(id);
        return Ok(id);
    }
    for id in range {
        if used.insert(id) {
            map.insert(name.to_owned(), id);
            return Ok(id);
        }
    }
    Err(OsError::IdsExhausted {
        kind,
        name: name.to_owned(),
    })
}

/// Renders the user database of `system` for `root` (reading the id maps and, with
/// `mutableUsers`, the current shadow file), without writing anything.
pub fn render(root: &Path, system: &SystemJson) -> Result<UserDb, OsError> {
    let mut uid_map = read_map(&map_path(root, "uid-map"))?;
    let mut gid_map = read_map(&map_path(root, "gid-map"))?;

    // Groups: declared gids first, then remembered, then allocated.
    let mut gids = BTreeMap::new();
    let mut used: BTreeSet<u32> = system.groups.values().filter_map(|g| g.gid).collect();
    for (name, id) in &gid_map {
        if system.groups.get(name).is_none_or(|g| g.gid.is_none()) {
            used.insert(*id);
        }
    }
    for (name, g) in &system.groups {
        let id = match g.gid {
            Some(id) => {
                gid_map.insert(name.clone(), id);
                id
            }
            None => allocate("group", name, &mut gid_map, &mut used, (400..=999).rev())?,
        };
        gids.insert(name.clone(), id);
    }

    let mut uids = BTreeMap::new();
    let mut used: BTreeSet<u32> = system.users.values().filter_map(|u| u.uid).collect();
    for (name, id) in &uid_map {
        if system.users.get(name).is_none_or(|u| u.uid.is_none()) {
            used.insert(*id);
        }
    }
    // System users first, so normal users' allocations never depend on them.
    let mut order: Vec<(&String, &crate::toplevel::User)> = system.users.iter().collect();
    order.sort_by_key(|(n, u)| (!u.is_system_user, (*n).clone()));
    for (name, u) in order {
        let id = match u.uid {
            Some(id) => {
                uid_map.insert(name.clone(), id);
                id
            }
            None if u.is_system_user => {
                allocate("user", name, &mut uid_map, &mut used, (400..=999).rev())?
            }
            None => allocate("user", name, &mut uid_map, &mut used, 1000..=29999)?,
        };
        uids.insert(name.clone(), id);
    }

    // Members: the group's own list plus users naming it.
    let mut members: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, g) in &system.groups {
        members
            .entry(name)
            .or_default()
            .extend(g.members.iter().map(String::as_str));
    }
    for (name, u) in &system.users {
        if !gids.contains_key(&u.group) {
            return Err(OsError::UnknownGroup {
                user: name.clone(),
                group: u.group.clone(),
            });
        }
        for g in &u.extra_groups {
            let Some(set) = members.get_mut(g.as_str()) else {
                return Err(OsError::UnknownGroup {
                    user: name.clone(),
                    group: g.clone(),
                });
            };
            set.insert(name);
        }
    }

    let existing_shadow: BTreeMap<String, String> = if system.mutable_users {
        fsutil::read_opt(&phys(root, "/etc/shadow"))?
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .lines()
                    .filter_map(|l| {
                        let mut f = l.splitn(3, ':');
                        Some((f.next()?.to_owned(), f.next()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        BTreeMap::new()
    };

    let mut by_uid: Vec<(&u32, &String)> = uids.iter().map(|(n, id)| (id, n)).collect();
    by_uid.sort();
    let mut passwd = String::new();
    let mut shadow = String::new();
    for (uid, name) in by_uid {
        let u = &system.users[name];
        passwd.push_str(&format!(
            "{name}:x:{uid}:{}:{}:{}:{}\n",
            gids[&u.group], u.description, u.home, u.shell
        ));
        let pw = existing_shadow
            .get(name)
            .cloned()
            .or_else(|| u.hashed_password.clone())
            .unwrap_or_else(|| "!".into());
        shadow.push_str(&format!("{name}:{pw}:1::::::\n"));
    }
    let mut by_gid: Vec<(&u32, &String)> = gids.iter().map(|(n, id)| (id, n)).collect();
    by_gid.sort();
    let mut group = String::new();
    for (gid, name) in by_gid {
        let m: Vec<&str> = members[name.as_str()].iter().copied().collect();
        group.push_str(&format!("{name}:x:{gid}:{}\n", m.join(",")));
    }
    Ok(UserDb {
        passwd,
        group,
        shadow,
        uids,
        gids,
        uid_map,
        gid_map,
    })
}

/// Writes the database: the id maps first (so an id handed out is remembered before any file
/// names it), then each file by one rename.
pub fn write(root: &Path, db: &UserDb) -> Result<(), OsError> {
    let dir = phys(root, "/var/lib/kiln");
    fsutil::mkdirs(&dir)?;
    let write_if_changed = |path: &Path, text: &str, mode: u32| -> Result<(), OsError> {
        let same = fs::read(path).is_ok_and(|c| c == text.as_bytes())
            && fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o7777 == mode);
        if same {
            Ok(())
        } else {
            fsutil::write_atomic(path, text.as_bytes(), mode)
        }
    };
    write_if_changed(&dir.join("uid-map"), &map_text(&db.uid_map), 0o644)?;
    write_if_changed(&dir.join("gid-map"), &map_text(&db.gid_map), 0o644)?;
    let etc = phys(root, "/etc");
    fsutil::mkdirs(&etc)?;
    write_if_changed(&etc.join("passwd"), &db.passwd, 0o644)?;
    write_if_changed(&etc.join("group"), &db.group, 0o644)?;
    write_if_changed(&etc.join("shadow"), &db.shadow, 0o640)?;
    if fsutil::is_root() {
        if let Some(&gid) = db.gids.get("shadow") {
            fsutil::chown(&etc.join("shadow"), Some(0), Some(gid))?;
        }
    }
    Ok(())
}

/// Creates the home directories of users with `createHome` (mode 0700 when made; owned by the
/// user when running as root). Existing directories are left as they are.
pub fn create_homes(root: &Path, system: &SystemJson, db: &UserDb) -> Result<(), OsError> {
    for (name, u) in &system.users {
        if !u.create_home {
            continue;
        }
        fsutil::check_inside(&u.home)?;
        let dir = phys(root, &u.home);
        if dir.is_dir() {
            continue;
        }
        fsutil::mkdirs(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(io_err("setting permissions of", &dir))?;
        if fsutil::is_root() {
            fsutil::chown(
                &dir,
                db.uids.get(name).copied(),
                db.gids.get(&u.group).copied(),
            )?;
        }
    }
    Ok(())
}
