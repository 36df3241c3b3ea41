//! The unit plan: which systemd units a switch starts, stops, restarts or reloads, from the
//! difference of the two generations' `etc/systemd/system` unit files, by NixOS's rules:
//!
//! - a unit only the new generation has is started; one only the old has is stopped (unless
//!   it says `X-StopOnRemoval=false`);
//! - a changed target is started (restarting a target means nothing);
//! - a changed unit with `X-RestartIfChanged=false` is left running as it is (listed as
//!   skipped); with `X-ReloadIfChanged=true`, or when only its `X-Reload-Triggers` changed, it
//!   is reloaded; otherwise restarted (NixOS stops it before activation when
//!   `X-StopIfChanged` is true, the default, and starts it after; either way a restart).
//!
//! Units are compared as parsed files (sections, keys, values in order); `Description` and
//! `Documentation` of `[Unit]` do not count, as they do not change a running unit.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::error::{io as io_err, OsError};
use crate::toplevel::Toplevel;

/// A unit file as sections of `(key, value)` pairs in order.
pub type UnitFile = BTreeMap<String, Vec<(String, String)>>;

/// What a switch does to units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitPlan {
    /// Units to stop.
    pub stop: Vec<String>,
    /// Units to start.
    pub start: Vec<String>,
    /// Units to restart.
    pub restart: Vec<String>,
    /// Units to reload.
    pub reload: Vec<String>,
    /// Changed units left as they run (`X-RestartIfChanged=false`).
    pub skip: Vec<String>,
}

impl UnitPlan {
    /// Whether the plan does nothing.
    pub fn is_empty(&self) -> bool {
        self.stop.is_empty()
            && self.start.is_empty()
            && self.restart.is_empty()
            && self.reload.is_empty()
    }
}

/// Parses a unit file's text.
pub fn parse_unit(text: &str) -> UnitFile {
    let mut res: UnitFile = BTreeMap::new();
    let mut section = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let mut line = line.trim().to_owned();
        // Continuation lines.
        while line.ends_with('\\') {
            line.pop();
            match lines.next() {
                Some(more) => line.push_str(more.trim()),
                None => break,
            }
        }
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            section = line[1..line.len() - 1].to_owned();
            res.entry(section.clone()).or_default();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            res.entry(section.clone())
                .or_default()
                .push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    res
}

/// The unit files of `top` by name (the files of `etc/systemd/system`, not the `.wants`
/// directories).
pub fn unit_files(root: &Path, top: &Toplevel) -> Result<BTreeMap<String, UnitFile>, OsError> {
    let dir = top.resolve(root, "etc/systemd/system")?;
    let mut res = BTreeMap::new();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(res),
        Err(e) => return Err(io_err("reading directory", &dir)(e)),
    };
    for e in entries {
        let e = e.map_err(io_err("reading directory", &dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let logical = Path::new(&top.path).join("etc/systemd/system").join(&name);
        let path = crate::fsutil::resolve(root, &logical).map_err(io_err("resolving", &dir))?;
        if path.is_dir() {
            continue;
        }
        let text = match fs::read(&path) {
            Ok(t) => String::from_utf8_lossy(&t).into_owned(),
            // A dangling link (`/dev/null` masks and the like) is an empty unit.
            Err(_) => String::new(),
        };
        res.insert(name, parse_unit(&text));
    }
    Ok(res)
}

fn get<'a>(u: &'a UnitFile, section: &str, key: &str) -> Option<&'a str> {
    u.get(section)?
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn is_true(v: Option<&str>) -> Option<bool> {
    v.map(|v| matches!(v, "1" | "yes" | "true" | "on"))
}

/// The unit without what does not count (and, with `triggers`, without `X-Reload-Triggers`).
fn comparable(u: &UnitFile, drop_triggers: bool) -> UnitFile {
    let mut res = u.clone();
    if let Some(unit) = res.get_mut("Unit") {
        unit.retain(|(k, _)| {
            k != "Description"
                && k != "Documentation"
                && !(drop_triggers && k == "X-Reload-Triggers")
        });
    }
    res
}

/// The plan for switching from `old` (none: a first switch) to `new`.
pub fn plan(old: &BTreeMap<String, UnitFile>, new: &BTreeMap<String, UnitFile>) -> UnitPlan {
    let mut res = UnitPlan::default();
    for (name, o) in old {
        if !new.contains_key(name) && is_true(get(o, "Unit", "X-StopOnRemoval")) != Some(false) {
            res.stop.push(name.clone());
        }
    }
    for (name, n) in new {
        let Some(o) = old.get(name) else {
            res.start.push(name.clone());
            continue;
        };
        if comparable(o, false) == comparable(n, false) {
            continue;
        }
        if name.ends_with(".target") {
            res.start.push(name.clone());
        } else if is_true(get(n, "Unit", "X-RestartIfChanged")) == Some(false) {
            res.skip.push(name.clone());
        } else if is_true(get(n, "Service", "X-ReloadIfChanged")) == Some(true)
            || comparable(o, true) == comparable(n, true)
        {
            res.reload.push(name.clone());
        } else {
            res.restart.push(name.clone());
        }
    }
    res
}

/// Whether the root is the running system with systemd as its init, so that the plan may be
/// executed (otherwise it is only reported).
pub fn systemd_running(root: &Path) -> bool {
    root == Path::new("/") && Path::new("/run/systemd/system").is_dir()
}

fn systemctl(verb: &'static str, units: &[String]) -> Result<(), OsError> {
    if units.is_empty() && verb != "daemon-reload" {
        return Ok(());
    }
    let status = std::process::Command::new("systemctl")
        .arg(verb)
        .args(units)
        .status()
        .map_err(io_err("running", "systemctl"))?;
    if !status.success() {
        return Err(OsError::Systemctl {
            verb,
            unit: units.join(" "),
            status,
        });
    }
    Ok(())
}

/// Stops what the plan stops (before activation). Only on a running system (see
/// [`systemd_running`]).
pub fn execute_stops(plan: &UnitPlan) -> Result<(), OsError> {
    systemctl("stop", &plan.stop)
}

/// Reloads systemd and reloads, restarts and starts what the plan says (after activation).
pub fn execute_starts(plan: &UnitPlan) -> Result<(), OsError> {
    systemctl("daemon-reload", &[])?;
    systemctl("reload", &plan.reload)?;
    systemctl("restart", &plan.restart)?;
    systemctl("start", &plan.start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(list: &[(&str, &str)]) -> BTreeMap<String, UnitFile> {
        list.iter()
            .map(|(n, t)| (n.to_string(), parse_unit(t)))
            .collect()
    }

    #[test]
    fn the_plan_follows_nixos_rules() {
        let old = units(&[
            ("a.service", "[Service]\nExecStart=/a\n"),
            ("gone.service", "[Service]\nExecStart=/g\n"),
            (
                "kept.service",
                "[Unit]\nX-StopOnRemoval=false\n[Service]\nExecStart=/k\n",
            ),
            (
                "same.service",
                "[Unit]\nDescription=old\n[Service]\nExecStart=/s\n",
            ),
            (
                "pinned.service",
                "[Unit]\nX-RestartIfChanged=false\n[Service]\nExecStart=/p1\n",
            ),
            (
                "trig.service",
                "[Unit]\nX-Reload-Triggers=/nix/store/1\n[Service]\nExecStart=/t\n",
            ),
            (
                "rel.service",
                "[Service]\nX-ReloadIfChanged=true\nExecStart=/r1\n",
            ),
            ("multi-user.target", "[Unit]\nWants=a.service\n"),
        ]);
        let new = units(&[
            ("a.service", "[Service]\nExecStart=/a2\n"),
            (
                "same.service",
                "[Unit]\nDescription=new\n[Service]\nExecStart=/s\n",
            ),
            (
                "pinned.service",
                "[Unit]\nX-RestartIfChanged=false\n[Service]\nExecStart=/p2\n",
            ),
            (
                "trig.service",
                "[Unit]\nX-Reload-Triggers=/nix/store/2\n[Service]\nExecStart=/t\n",
            ),
            (
                "rel.service",
                "[Service]\nX-ReloadIfChanged=true\nExecStart=/r2\n",
            ),
            ("multi-user.target", "[Unit]\nWants=a.service b.service\n"),
            ("b.service", "[Service]\nExecStart=/b\n"),
        ]);
        let p = plan(&old, &new);
        assert_eq!(p.stop, ["gone.service"]);
        assert_eq!(p.start, ["b.service", "multi-user.target"]);
        assert_eq!(p.restart, ["a.service"]);
        assert_eq!(p.reload, ["rel.service", "trig.service"]);
        assert_eq!(p.skip, ["pinned.service"]);
        assert_eq!(plan(&new, &new), UnitPlan::default());
    }

    #[test]
    fn continuation_lines_and_comments() {
        let u = parse_unit("# c\n[Service]\nExecStart=/bin/a \\\n  -x\n; c\n");
        assert_eq!(
            u["Service"],
            [("ExecStart".to_string(), "/bin/a -x".to_string())]
        );
    }
}
