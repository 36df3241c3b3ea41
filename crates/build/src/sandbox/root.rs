//! The sandbox root on the host: its directories, files and mount points, made before the
//! `clone`, and the list of mounts the child makes over them.

use std::collections::HashSet;
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
    pub target: CString,
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

/// The prepared root: where it is and what to mount in it.
pub(crate) struct Prepared {
    /// `<work_root>/root`, absolute.
    pub root: PathBuf,
    pub root_c: CString,
    /// The sandbox's store directory on the host (`<root><store_dir>`).
    pub store: PathBuf,
    /// The build directory, absolute.
    pub build_dir: PathBuf,
    pub mounts: Vec<Mount>,
}

/// The sandbox root of a spec (before canonicalisation of `work_root`).
pub(crate) fn root_dir(spec: &SandboxSpec) -> PathBuf {
    spec.work_root.join("root")
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

/// Builds the root's skeleton under `spec.work_root` and the list of mounts over it.
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
    let root = work_root.join("root");
    let mut builder = Builder {
        root: root.clone(),
        mounts: Vec::new(),
    };
    mkdir(&root, 0o755)?;

    // The store: writable by the builder, sticky, so that it can create its outputs there.
    let store = builder.mount_point(&store_rel, true)?;
    set_mode(&store, 0o1775)?;
    let mut seen = HashSet::new();
    for input in &spec.inputs {
        if !seen.insert(input.as_str()) {
            continue;
        }
        builder.input(spec, &store_rel, input)?;
    }

    builder.bind(
        &build_dir,
        Path::new("build"),
        true,
        None,
        "the build directory",
    )?;
    set_mode(&builder.mount_point(Path::new("tmp"), true)?, 0o1777)?;
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

fn write_file(path: &Path, contents: &str) -> Result<(), SandboxError> {
    fs::write(path, contents).map_err(io_error(format!("writing '{}'", path.display())))
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

struct Builder {
    root: PathBuf,
    mounts: Vec<Mount>,
}

impl Builder {
    /// Creates `rel` (relative to the root) as a directory or an empty file to mount on, with
    /// its missing parents; refuses to go through a symlink, so nothing outside the root is
    /// ever touched.
    fn mount_point(&self, rel: &Path, dir: bool) -> Result<PathBuf, SandboxError> {
        let mut path = self.root.clone();
        let components: Vec<_> = rel.components().collect();
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
                        fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .mode(0o644)
                            .open(&path)
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
        Ok(path)
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
        let target = self.root.join(rel);
        self.mounts.push(Mount {
            source: Some(super::c_string(source, "mount source")?),
            target: path_c_string(&target)?,
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
        let target = self.mount_point(rel, dir)?;
        self.mounts.push(Mount {
            source: Some(path_c_string(source)?),
            target: path_c_string(&target)?,
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
            return symlink(&target, &self.root.join(&rel));
        }
        let keep = locked_flags(&source)?;
        self.bind(&source, &rel, meta.is_dir(), Some(keep), "input path")
    }

    /// A minimal `/dev`.
    fn dev(&mut self) -> Result<(), SandboxError> {
        let dev = self.mount_point(Path::new("dev"), true)?;
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
        symlink(Path::new("pts/ptmx"), &dev.join("ptmx"))?;
        symlink(Path::new("/proc/self/fd"), &dev.join("fd"))?;
        symlink(Path::new("/proc/self/fd/0"), &dev.join("stdin"))?;
        symlink(Path::new("/proc/self/fd/1"), &dev.join("stdout"))?;
        symlink(Path::new("/proc/self/fd/2"), &dev.join("stderr"))?;
        Ok(())
    }

    /// `/etc`: users, groups, and name resolution.
    fn etc(&mut self, network: bool) -> Result<(), SandboxError> {
        let etc = self.mount_point(Path::new("etc"), true)?;
        write_file(&etc.join("passwd"), &passwd())?;
        write_file(&etc.join("group"), &group())?;
        write_file(&etc.join("hosts"), HOSTS)?;
        if network {
            // What a fixed-output derivation needs to resolve names, and nothing else of the
            // host's name service configuration.
            write_file(
                &etc.join("nsswitch.conf"),
                "hosts: files dns\nservices: files\n",
            )?;
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
