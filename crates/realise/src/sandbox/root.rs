//! The sandbox root: what is made on the host before the `clone`, and what the child makes.
//!
//! Most of the root is a tmpfs that the child mounts in its own mount namespace and fills from
//! [`Prepared::entries`] (directories, `/etc` files, `/dev` links, mount points): none of it
//! touches the host's disk, and it vanishes with the namespace. Creating and deleting some
//! forty inodes per build on the store's file system was most of a trivial build's cost (ext4
//! scans past recently deleted inodes on every create). Only what must outlive the builder or
//! be large lives on the host, under the work root: the sandbox's store directory (the builder
//! creates its outputs there, renamed into the real store afterwards, so it must be on the
//! store's file system), with a mount point per input (for a file, a hard link of one empty
//! file: a link allocates no inode), and `/tmp`.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::{io_error, path_c_string, SandboxError, SandboxSpec, SANDBOX_GID, SANDBOX_UID};

/// The devices bind-mounted from the host's `/dev` (each only if the host has it).
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The size of `/dev/shm` (Nix's default `sandbox-dev-shm-size`).
const SHM_OPTIONS: &str = "size=50%";

/// One `mount` the child makes, all strings prepared in advance.
pub(crate) struct Mount {
    pub source: Option<CString>,
    /// Relative to the sandbox root (the child's working directory while it mounts).
    pub target: CString,
    /// A bind mount: `source` (a host path) is opened with `open_tree` while the child still
    /// has the caller's identity, and attached at `target` later.
    pub bind: bool,
    pub fstype: Option<CString>,
    pub flags: libc::c_ulong,
    pub data: Option<CString>,
    /// Flags of a second, read-only remount (with the locked flags of the source kept).
    pub remount: Option<libc::c_ulong>,
    /// A failure is ignored (`/dev/pts`).
    pub optional: bool,
    /// For error messages.
    pub description: String,
}

/// One entry the child creates in the tmpfs root (path relative to it).
pub(crate) enum Entry {
    Dir { path: CString, mode: u32 },
    File { path: CString, contents: Vec<u8> },
    Symlink { target: CString, path: CString },
}

/// The prepared root: where it is and what to make and mount in it.
pub(crate) struct Prepared {
    /// The work root, absolute: the host directory the tmpfs is mounted on.
    pub root: PathBuf,
    pub root_c: CString,
    /// Options of the root tmpfs.
    pub tmpfs_options: CString,
    /// What the child creates in the tmpfs, parents first.
    pub entries: Vec<Entry>,
    /// The sandbox's store directory on the host (`<work_root>/store`).
    pub store: PathBuf,
    /// The build directory, absolute.
    pub build_dir: PathBuf,
    /// In order: the store directory first, so that the inputs land in it.
    pub mounts: Vec<Mount>,
}

/// The host directory holding the sandbox's store directory (before canonicalisation of
/// `work_root`): the builder's outputs are there after it exited.
pub(crate) fn store_dir(spec: &SandboxSpec) -> PathBuf {
    spec.work_root.join("store")
}

/// `/etc/passwd` inside the sandbox.
fn passwd() -> String {
    format!(
        "root:x:0:0:Nix build user:/build:/noshell\n\
         nixbld:x:{SANDBOX_UID}:{SANDBOX_GID}:Nix build user:/build:/noshell\n\
         nobody:x:65534:65534:Nobody:/:/noshell\n"
    )
}

/// `/etc/group` inside the sandbox.
fn group() -> String {
    format!("root:x:0:\nnixbld:!:{SANDBOX_GID}:\nnogroup:x:65534:\n")
}

const HOSTS: &str = "127.0.0.1 localhost\n::1 localhost\n";

/// Makes the host side of the root under `spec.work_root` and plans the rest.
pub(crate) fn prepare(spec: &SandboxSpec) -> Result<Prepared, SandboxError> {
    let store_rel = check_absolute(&spec.store_dir, "store directory")?;
    if store_rel.as_os_str().is_empty() {
        return Err(SandboxError::InvalidSpec(
            "the store directory cannot be '/'".into(),
        ));
    }
    let work_root = fs::canonicalize(&spec.work_root).map_err(io_error(format!(
        "opening the sandbox work directory '{}'",
        spec.work_root.display()
    )))?;
    let build_dir = fs::canonicalize(&spec.build_dir).map_err(io_error(format!(
        "opening the build directory '{}'",
        spec.build_dir.display()
    )))?;
    // The tmpfs goes over the work root itself (in the child's mount namespace only): the
    // store directory and `/tmp` below are bound from descriptors opened before.
    let root = work_root.clone();
    // The store: writable by the builder, sticky, so that it can create its outputs there.
    let store = work_root.join("store");
    mkdir(&store, 0o1775)?;
    let tmp = work_root.join("tmp");
    mkdir(&tmp, 0o1777)?;
    let empty_file = work_root.join("empty");
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&empty_file)
        .map_err(io_error(format!("creating '{}'", empty_file.display())))?;
    let mut builder = Builder {
        empty_file,
        host_dirs: vec![
            (store_rel.clone(), store.clone()),
            ("tmp".into(), tmp.clone()),
        ],
        nodes: HashMap::new(),
        entries: Vec::new(),
        mounts: Vec::new(),
    };

    builder.bind(
        &store,
        &store_rel,
        true,
        None,
        "the sandbox's store directory",
    )?;
    let mut seen = HashSet::new();
    for input in &spec.inputs {
        if !seen.insert(input.as_str()) {
            continue;
        }
        builder.input(spec, &store, &store_rel, input)?;
    }

    builder.bind(
        &build_dir,
        Path::new("build"),
        true,
        None,
        "the build directory",
    )?;
    builder.bind(
        &tmp,
        Path::new("tmp"),
        true,
        None,
        "the temporary directory",
    )?;
    builder.mount_point(Path::new("proc"), true)?;
    builder.push_mount(
        "proc",
        Path::new("proc"),
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
        false,
    )?;
    builder.dev()?;
    builder.etc(spec.network)?;

    for path in &spec.extra_paths {
        let target = check_absolute(&path.target, "sandbox path target")?;
        if target.as_os_str().is_empty() {
            return Err(SandboxError::InvalidSpec(
                "a sandbox path cannot be mounted on '/'".into(),
            ));
        }
        let meta = match fs::metadata(&path.source) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound && path.optional => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SandboxError::MissingPath {
                    what: "sandbox path",
                    path: path.source.clone(),
                })
            }
            Err(e) => {
                return Err(io_error(format!(
                    "getting attributes of sandbox path '{}'",
                    path.source.display()
                ))(e))
            }
        };
        builder.bind(&path.source, &target, meta.is_dir(), None, "sandbox path")?;
    }

    Ok(Prepared {
        root_c: path_c_string(&root)?,
        root,
        tmpfs_options: super::c_string(
            &format!("mode=0755,uid={SANDBOX_UID},gid={SANDBOX_GID}"),
            "mount options",
        )?,
        entries: builder.entries,
        store,
        build_dir,
        mounts: builder.mounts,
    })
}

/// As root, gives the build directory (recursively) and the sandbox's store directory to the
/// host id the builder runs as.
pub(crate) fn give_to(prepared: &Prepared, id: u32) -> Result<(), SandboxError> {
    use std::os::unix::fs::lchown;
    lchown(&prepared.store, Some(0), Some(id)).map_err(io_error(format!(
        "changing the owner of '{}'",
        prepared.store.display()
    )))?;
    chown_tree(&prepared.build_dir, id)
}

fn chown_tree(path: &Path, id: u32) -> Result<(), SandboxError> {
    std::os::unix::fs::lchown(path, Some(id), Some(id)).map_err(io_error(format!(
        "changing the owner of '{}'",
        path.display()
    )))?;
    let meta = fs::symlink_metadata(path).map_err(io_error(format!(
        "getting attributes of '{}'",
        path.display()
    )))?;
    if meta.is_dir() {
        let entries =
            fs::read_dir(path).map_err(io_error(format!("reading '{}'", path.display())))?;
        for entry in entries {
            let entry = entry.map_err(io_error(format!("reading '{}'", path.display())))?;
            chown_tree(&entry.path(), id)?;
        }
    }
    Ok(())
}

/// `path` must be absolute and plain (no `.` or `..`); returns it relative to `/`.
fn check_absolute(path: &str, what: &str) -> Result<PathBuf, SandboxError> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(SandboxError::InvalidSpec(format!(
            "{what} '{path}' is not absolute"
        )));
    }
    let mut rel = PathBuf::new();
    for component in p.components() {
        match component {
            Component::RootDir => {}
            Component::Normal(c) => rel.push(c),
            _ => {
                return Err(SandboxError::InvalidSpec(format!(
                    "{what} '{path}' contains '.' or '..'"
                )))
            }
        }
    }
    Ok(rel)
}

fn mkdir(path: &Path, mode: u32) -> Result<(), SandboxError> {
    fs::DirBuilder::new()
        .mode(mode)
        .create(path)
        .map_err(io_error(format!("creating '{}'", path.display())))?;
    set_mode(path, mode)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), SandboxError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_error(format!(
        "changing the mode of '{}'",
        path.display()
    )))
}

fn symlink(target: &Path, link: &Path) -> Result<(), SandboxError> {
    std::os::unix::fs::symlink(target, link).map_err(io_error(format!(
        "creating the symlink '{}'",
        link.display()
    )))
}

/// The `MS_*` flags that a read-only remount of a bind mount of `source` must keep: in a user
/// namespace, `nosuid`, `nodev` and `noexec` of the original mount are locked.
fn locked_flags(source: &Path) -> Result<libc::c_ulong, SandboxError> {
    let c = path_c_string(source)?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` is a writable statvfs buffer.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(io_error(format!(
            "getting the mount flags of '{}'",
            source.display()
        ))(io::Error::last_os_error()));
    }
    // SAFETY: statvfs returned 0, so it filled `st`.
    #[allow(unsafe_code)]
    let flag = unsafe { st.assume_init() }.f_flag;
    let mut flags = 0;
    for (st_flag, ms_flag) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
    ] {
        if flag & st_flag != 0 {
            flags |= ms_flag;
        }
    }
    Ok(flags)
}

/// What a path of the tmpfs root already is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
}

struct Builder {
    /// Directories of the root that are host directories bind-mounted (the store, `/tmp`):
    /// mount points under them are made on the host, in the directory on the right.
    host_dirs: Vec<(PathBuf, PathBuf)>,
    /// An empty file on the host, hard-linked as the mount point of each file mounted under
    /// a host directory: a link allocates no inode (see the module comment).
    empty_file: PathBuf,
    /// What the tmpfs entries planned so far are.
    nodes: HashMap<PathBuf, Kind>,
    entries: Vec<Entry>,
    mounts: Vec<Mount>,
}

impl Builder {
    /// Makes sure `rel` (relative to the root) will exist as a directory or a file to mount
    /// on, with its missing parents: planned in the tmpfs, or made on the host under a host
    /// directory. Never goes through a symlink, so nothing outside the root is ever touched.
    fn mount_point(&mut self, rel: &Path, dir: bool) -> Result<(), SandboxError> {
        for (prefix, host) in &self.host_dirs {
            if let Ok(inner) = rel.strip_prefix(prefix) {
                if !inner.as_os_str().is_empty() {
                    return host_mount_point(host, inner, rel, dir, &self.empty_file);
                }
            }
        }
        let components: Vec<_> = rel.components().collect();
        let mut path = PathBuf::new();
        for (i, component) in components.iter().enumerate() {
            path.push(component);
            let last = i + 1 == components.len();
            let want = if dir || !last { Kind::Dir } else { Kind::File };
            match self.nodes.get(&path) {
                Some(Kind::Symlink) => {
                    return Err(SandboxError::InvalidSpec(format!(
                        "'/{}' in the sandbox would go through a symlink",
                        rel.display()
                    )))
                }
                Some(kind) if *kind == want => {}
                Some(_) => {
                    return Err(SandboxError::InvalidSpec(format!(
                        "'/{}' in the sandbox is both a file and a directory",
                        rel.display()
                    )))
                }
                None => {
                    let c = path_c_string(&path)?;
                    self.entries.push(match want {
                        Kind::Dir => Entry::Dir {
                            path: c,
                            mode: 0o755,
                        },
                        _ => Entry::File {
                            path: c,
                            contents: Vec::new(),
                        },
                    });
                    self.nodes.insert(path.clone(), want);
                }
            }
        }
        Ok(())
    }

    /// A file of the tmpfs with `contents` (its parent must be planned already).
    fn file(&mut self, rel: &str, contents: &str) -> Result<(), SandboxError> {
        self.new_node(rel, Kind::File)?;
        self.entries.push(Entry::File {
            path: super::c_string(rel, "sandbox file")?,
            contents: contents.as_bytes().to_vec(),
        });
        Ok(())
    }

    /// A symlink of the tmpfs (its parent must be planned already).
    fn symlink(&mut self, target: &str, rel: &str) -> Result<(), SandboxError> {
        self.new_node(rel, Kind::Symlink)?;
        self.entries.push(Entry::Symlink {
            target: super::c_string(target, "symlink target")?,
            path: super::c_string(rel, "sandbox symlink")?,
        });
        Ok(())
    }

    fn new_node(&mut self, rel: &str, kind: Kind) -> Result<(), SandboxError> {
        if self.nodes.insert(PathBuf::from(rel), kind).is_some() {
            return Err(SandboxError::InvalidSpec(format!(
                "'/{rel}' in the sandbox is made twice"
            )));
        }
        Ok(())
    }

    fn push_mount(
        &mut self,
        source: &str,
        rel: &Path,
        fstype: Option<&str>,
        flags: libc::c_ulong,
        data: Option<&str>,
        optional: bool,
    ) -> Result<(), SandboxError> {
        self.mounts.push(Mount {
            source: Some(super::c_string(source, "mount source")?),
            target: path_c_string(rel)?,
            bind: false,
            fstype: fstype
                .map(|f| super::c_string(f, "file system type"))
                .transpose()?,
            flags,
            data: data
                .map(|d| super::c_string(d, "mount options"))
                .transpose()?,
            remount: None,
            optional,
            description: format!(
                "mounting {} on '/{}'",
                fstype.unwrap_or(source),
                rel.display()
            ),
        });
        Ok(())
    }

    /// Bind-mounts the host path `source` at `rel`; `read_only` carries the flags to keep.
    fn bind(
        &mut self,
        source: &Path,
        rel: &Path,
        dir: bool,
        read_only: Option<libc::c_ulong>,
        what: &str,
    ) -> Result<(), SandboxError> {
        self.mount_point(rel, dir)?;
        self.mounts.push(Mount {
            source: Some(path_c_string(source)?),
            target: path_c_string(rel)?,
            bind: true,
            fstype: None,
            flags: libc::MS_BIND | libc::MS_REC,
            data: None,
            remount: read_only
                .map(|keep| libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | keep),
            optional: false,
            description: format!(
                "bind-mounting {what} '{}' on '/{}'",
                source.display(),
                rel.display()
            ),
        });
        Ok(())
    }

    /// One input store path: bind-mounted read-only, or recreated if it is a symlink.
    fn input(
        &mut self,
        spec: &SandboxSpec,
        host_store: &Path,
        store_rel: &Path,
        input: &str,
    ) -> Result<(), SandboxError> {
        let name = input
            .strip_prefix(spec.store_dir.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|name| !name.is_empty() && !name.contains('/') && *name != "..")
            .ok_or_else(|| {
                SandboxError::InvalidSpec(format!(
                    "input '{input}' is not a store path in '{}'",
                    spec.store_dir
                ))
            })?;
        let source = spec.real_store_dir.join(name);
        let meta = match fs::symlink_metadata(&source) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SandboxError::MissingPath {
                    what: "input path",
                    path: source,
                })
            }
            Err(e) => {
                return Err(io_error(format!(
                    "getting attributes of input path '{}'",
                    source.display()
                ))(e))
            }
        };
        let rel = store_rel.join(name);
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&source).map_err(io_error(format!(
                "reading the symlink '{}'",
                source.display()
            )))?;
            return symlink(&target, &host_store.join(name));
        }
        let keep = locked_flags(&source)?;
        self.bind(&source, &rel, meta.is_dir(), Some(keep), "input path")
    }

    /// A minimal `/dev`.
    fn dev(&mut self) -> Result<(), SandboxError> {
        self.mount_point(Path::new("dev"), true)?;
        for name in DEVICES {
            let host = Path::new("/dev").join(name);
            if fs::metadata(&host).is_ok() {
                self.bind(&host, &Path::new("dev").join(name), false, None, "device")?;
            }
        }
        self.mount_point(Path::new("dev/shm"), true)?;
        self.push_mount(
            "none",
            Path::new("dev/shm"),
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_NODEV,
            Some(SHM_OPTIONS),
            false,
        )?;
        // A private pty instance; where the kernel refuses it, builds go on without ptys.
        self.mount_point(Path::new("dev/pts"), true)?;
        self.push_mount(
            "devpts",
            Path::new("dev/pts"),
            Some("devpts"),
            libc::MS_NOSUID | libc::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620"),
            true,
        )?;
        self.symlink("pts/ptmx", "dev/ptmx")?;
        self.symlink("/proc/self/fd", "dev/fd")?;
        self.symlink("/proc/self/fd/0", "dev/stdin")?;
        self.symlink("/proc/self/fd/1", "dev/stdout")?;
        self.symlink("/proc/self/fd/2", "dev/stderr")?;
        Ok(())
    }

    /// `/etc`: users, groups, and name resolution.
    fn etc(&mut self, network: bool) -> Result<(), SandboxError> {
        self.mount_point(Path::new("etc"), true)?;
        self.file("etc/passwd", &passwd())?;
        self.file("etc/group", &group())?;
        if network {
            // What a fixed-output derivation needs to resolve names, and nothing else of the
            // host's name service configuration.
            self.file("etc/nsswitch.conf", "hosts: files dns\nservices: files\n")?;
        }
        let host_hosts = network && fs::metadata("/etc/hosts").is_ok_and(|m| m.is_file());
        if !host_hosts {
            self.file("etc/hosts", HOSTS)?;
        }
        if network {
            for name in ["resolv.conf", "services", "hosts"] {
                let host = Path::new("/etc").join(name);
                if fs::metadata(&host).is_ok_and(|m| m.is_file()) {
                    self.bind(
                        &host,
                        &Path::new("etc").join(name),
                        false,
                        None,
                        "host file",
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// Creates `inner` (relative to the host directory `host`, shown at `rel` in the sandbox) as a
/// directory or an empty file to mount on, with its missing parents; refuses to go through a
/// symlink.
fn host_mount_point(
    host: &Path,
    inner: &Path,
    rel: &Path,
    dir: bool,
    empty_file: &Path,
) -> Result<(), SandboxError> {
    let mut path = host.to_path_buf();
    let components: Vec<_> = inner.components().collect();
    for (i, component) in components.iter().enumerate() {
        path.push(component);
        let last = i + 1 == components.len();
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(SandboxError::InvalidSpec(format!(
                    "'/{}' in the sandbox would go through a symlink",
                    rel.display()
                )))
            }
            Ok(meta) if meta.is_dir() && (dir || !last) => {}
            Ok(meta) if !meta.is_dir() && !dir && last => {}
            Ok(_) => {
                return Err(SandboxError::InvalidSpec(format!(
                    "'/{}' in the sandbox is both a file and a directory",
                    rel.display()
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if dir || !last {
                    mkdir(&path, 0o755)?;
                } else {
                    fs::hard_link(empty_file, &path)
                        .map_err(io_error(format!("creating '{}'", path.display())))?;
                }
            }
            Err(e) => {
                return Err(io_error(format!(
                    "getting attributes of '{}'",
                    path.display()
                ))(e))
            }
        }
    }
    Ok(())
}
