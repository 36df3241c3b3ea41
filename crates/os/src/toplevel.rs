//! A built system toplevel as kiln-os reads it (`docs/design/os.md`): its `etc` tree,
//! `kiln-system.json` (version 1), `sw`, kernel, initrd and kernel parameters. Nothing here
//! interprets module options.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{io as io_err, OsError};
use crate::fsutil::{phys, resolve};

/// `kiln-system.json`: what activation needs, as the Nix side computed it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemJson {
    /// The format's version (1).
    pub version: u64,
    /// `networking.hostName`.
    #[serde(default)]
    pub host_name: String,
    /// `system.stateVersion`.
    #[serde(default)]
    pub state_version: String,
    /// The declared users by name.
    #[serde(default)]
    pub users: BTreeMap<String, User>,
    /// The declared groups by name.
    #[serde(default)]
    pub groups: BTreeMap<String, Group>,
    /// `users.mutableUsers`: existing users keep the passwords they have.
    #[serde(default)]
    pub mutable_users: bool,
    /// `systemd.tmpfiles.rules` lines.
    #[serde(default)]
    pub tmpfiles: Vec<String>,
    /// The unit names the configuration defines.
    #[serde(default)]
    pub units: Vec<String>,
    /// The kernel image (a logical path), if any.
    #[serde(default)]
    pub kernel: Option<String>,
    /// The initrd (a logical path), if any.
    #[serde(default)]
    pub initrd: Option<String>,
    /// The kernel's command line parameters.
    #[serde(default)]
    pub kernel_params: Vec<String>,
}

/// One declared user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The uid, or `None` to have one allocated.
    #[serde(default)]
    pub uid: Option<u32>,
    /// The primary group's name.
    #[serde(default = "default_group")]
    pub group: String,
    /// Further groups.
    #[serde(default)]
    pub extra_groups: Vec<String>,
    /// The GECOS field.
    #[serde(default)]
    pub description: String,
    /// The home directory.
    #[serde(default = "default_home")]
    pub home: String,
    /// Whether activation creates the home directory.
    #[serde(default)]
    pub create_home: bool,
    /// The login shell.
    #[serde(default = "default_shell")]
    pub shell: String,
    /// A system user (ids allocated from 999 down) rather than a normal one (1000 up).
    #[serde(default)]
    pub is_system_user: bool,
    /// The password hash for `/etc/shadow`; `None` locks the account (`!`).
    #[serde(default)]
    pub hashed_password: Option<String>,
}

fn default_group() -> String {
    "nogroup".into()
}
fn default_home() -> String {
    "/var/empty".into()
}
fn default_shell() -> String {
    "/run/current-system/sw/bin/nologin".into()
}

/// One declared group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Group {
    /// The gid, or `None` to have one allocated.
    #[serde(default)]
    pub gid: Option<u32>,
    /// Members named on the group itself (users naming it in `extraGroups` are added).
    #[serde(default)]
    pub members: Vec<String>,
}

/// A system toplevel in the store of a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toplevel {
    /// Its logical store path (`/nix/store/…-kiln-system-…`).
    pub path: String,
    /// Its `kiln-system.json`.
    pub system: SystemJson,
}

impl Toplevel {
    /// Reads the toplevel at the logical path `path` in the store under `root`.
    pub fn read(root: &Path, path: &str) -> Result<Toplevel, OsError> {
        // The file may be a link into the store (nix/os links `writeText`'s output): followed
        // inside the root.
        let logical = Path::new(path).join("kiln-system.json");
        let file = resolve(root, &logical).unwrap_or_else(|_| phys(root, &logical));
        let Some(bytes) = crate::fsutil::read_opt(&file)? else {
            return Err(OsError::NotAToplevel {
                path: path.to_owned(),
            });
        };
        let version: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|source| OsError::BadSystemJson {
                path: file.clone(),
                source,
            })?;
        let v = version.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if v != 1 {
            return Err(OsError::UnsupportedVersion {
                path: file,
                version: v,
            });
        }
        let system = serde_json::from_value(version)
            .map_err(|source| OsError::BadSystemJson { path: file, source })?;
        Ok(Toplevel {
            path: path.to_owned(),
            system,
        })
    }

    /// The logical path of its `etc` tree, what `/etc/static` points to.
    pub fn etc(&self) -> PathBuf {
        Path::new(&self.path).join("etc")
    }

    /// The physical path of `rel` inside the toplevel, symlinks followed inside `root`.
    pub fn resolve(&self, root: &Path, rel: &str) -> Result<PathBuf, OsError> {
        let logical = Path::new(&self.path).join(rel);
        resolve(root, &logical).map_err(io_err("resolving", phys(root, &logical)))
    }

    /// The kernel parameters: `kernel-params` when present, else `kernelParams`.
    pub fn kernel_params(&self, root: &Path) -> String {
        match self
            .resolve(root, "kernel-params")
            .and_then(|p| std::fs::read_to_string(&p).map_err(io_err("reading", p)))
        {
            Ok(s) => s.trim().to_owned(),
            Err(_) => self.system.kernel_params.join(" "),
        }
    }

    /// `nixos-version`, empty when absent.
    pub fn version(&self, root: &Path) -> String {
        self.resolve(root, "nixos-version")
            .ok()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    }

    /// Where a link of the toplevel (`kernel`, `initrd`) points, else the JSON's value.
    fn link_or(&self, root: &Path, name: &str, json: &Option<String>) -> Option<String> {
        match std::fs::read_link(phys(root, &self.path).join(name)) {
            Ok(t) => Some(t.to_string_lossy().into_owned()),
            Err(_) => json.clone(),
        }
    }

    /// The kernel image's logical path.
    pub fn kernel(&self, root: &Path) -> Option<String> {
        self.link_or(root, "kernel", &self.system.kernel)
    }

    /// The initrd's logical path.
    pub fn initrd(&self, root: &Path) -> Option<String> {
        self.link_or(root, "initrd", &self.system.initrd)
    }
}
