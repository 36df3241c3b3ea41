//! Between archives and the file system: [`dump`] and [`restore`].

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{Event, NarError, NarReader, NarWriter, BUF_SIZE};

/// The owner's execute bit, the one `nix-store --dump` looks at.
const S_IXUSR: u32 = 0o100;

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> NarError + 'a {
    move |source| NarError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// Serialises the file system object at `path` as a NAR to `out`, exactly like
/// `nix-store --dump`.
///
/// Symlinks are archived, not followed (the root included). Regular files are executable when
/// their owner's execute bit is set. Directory entries are sorted by the bytes of their names.
/// A fifo, socket or device anywhere is an error naming it. The walk is iterative, and file
/// contents go through one reused buffer, so a [`Hasher`](crate::hash::Hasher) as `out`
/// hashes a tree at about the speed it hashes a single file.
pub fn dump(path: &Path, out: &mut impl Write) -> Result<(), NarError> {
    /// A directory being archived: its sorted entry names and how many are done.
    struct Dir {
        names: Vec<OsString>,
        next: usize,
    }

    let mut w = NarWriter::new(out);
    let mut stack: Vec<Dir> = Vec::new();
    // The path of the node being archived, or of the directory whose entries are.
    let mut current = path.to_path_buf();
    dump_node(&mut w, &current, &mut stack)?;
    while let Some(dir) = stack.last_mut() {
        if dir.next == dir.names.len() {
            stack.pop();
            w.end_directory()?;
            current.pop();
            continue;
        }
        let name = &dir.names[dir.next];
        dir.next += 1;
        w.entry(name.as_bytes())?;
        current.push(name);
        if !dump_node(&mut w, &current, &mut stack)? {
            current.pop();
        }
    }
    w.finish()?;
    return Ok(());

    /// Writes the node at `path`; for a directory, starts it, pushes it on `stack` (its entries
    /// are still to come) and returns true.
    fn dump_node(
        w: &mut NarWriter<impl Write>,
        path: &Path,
        stack: &mut Vec<Dir>,
    ) -> Result<bool, NarError> {
        let meta = fs::symlink_metadata(path).map_err(io_err("getting status of", path))?;
        let ft = meta.file_type();
        if ft.is_file() {
            let file = File::open(path).map_err(io_err("opening file", path))?;
            // The open file's own status, in case the path changed since `symlink_metadata`.
            let meta = file.metadata().map_err(io_err("getting status of", path))?;
            if !meta.is_file() {
                return Err(NarError::FileChanged {
                    path: path.to_owned(),
                    expected: 0,
                    actual: 0,
                });
            }
            let executable = meta.permissions().mode() & S_IXUSR != 0;
            return match w.regular(executable, meta.len(), &file) {
                Err(NarError::ReadContents { source }) => Err(NarError::Io {
                    op: "reading file",
                    path: path.to_owned(),
                    source,
                }),
                Err(NarError::ShortContents { expected, actual }) => Err(NarError::FileChanged {
                    path: path.to_owned(),
                    expected,
                    actual,
                }),
                other => other.map(|()| false),
            };
        }
        if ft.is_symlink() {
            let target = fs::read_link(path).map_err(io_err("reading symlink", path))?;
            w.symlink(target.as_os_str().as_bytes())?;
            return Ok(false);
        }
        if ft.is_dir() {
            let mut names = Vec::new();
            for entry in fs::read_dir(path).map_err(io_err("reading directory", path))? {
                names.push(
                    entry
                        .map_err(io_err("reading directory", path))?
                        .file_name(),
                );
            }
            names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            w.start_directory()?;
            stack.push(Dir { names, next: 0 });
            return Ok(true);
        }
        let kind = if ft.is_fifo() {
            "fifo"
        } else if ft.is_socket() {
            "socket"
        } else if ft.is_char_device() {
            "character device"
        } else if ft.is_block_device() {
            "block device"
        } else {
            "unknown"
        };
        Err(NarError::UnsupportedType {
            path: path.to_owned(),
            kind,
        })
    }
}

/// Unpacks the NAR read from `r` at `target`, which must not exist, like
/// `nix-store --restore`.
///
/// Every object is created exclusively (`O_EXCL` files, `mkdir`, `symlink`), and names are
/// checked by [`NarReader`], so nothing is written outside `target` and no symlink from the
/// archive is followed. Directories are created with mode 0777 and files with 0666 (less the
/// umask); executable files then get all three execute bits added. The whole archive is checked,
/// trailing data included. On error, what was written stays for the caller to remove. `r` need
/// not be buffered.
pub fn restore(r: impl Read, target: &Path) -> Result<(), NarError> {
    let mut reader = NarReader::new(BufReader::with_capacity(BUF_SIZE, r));
    // The directory the next entry goes in.
    let mut dir = target.to_path_buf();
    let mut buf = vec![0; BUF_SIZE];
    while let Some(event) = reader.next()? {
        let path_of = |name: &Option<Vec<u8>>, dir: &Path| -> PathBuf {
            match name {
                Some(name) => dir.join(OsStr::from_bytes(name)),
                None => target.to_path_buf(),
            }
        };
        match event {
            Event::Directory { name } => {
                let path = path_of(&name, &dir);
                fs::create_dir(&path).map_err(io_err("creating directory", &path))?;
                dir = path;
            }
            Event::DirectoryEnd => {
                dir.pop();
            }
            Event::Symlink { name, target } => {
                let path = path_of(&name, &dir);
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path)
                    .map_err(io_err("creating symlink", &path))?;
            }
            Event::Regular {
                name, executable, ..
            } => {
                let path = path_of(&name, &dir);
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o666)
                    .open(&path)
                    .map_err(io_err("creating file", &path))?;
                loop {
                    let n = reader.read_contents(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    file.write_all(&buf[..n])
                        .map_err(io_err("writing file", &path))?;
                }
                if executable {
                    let mode = file
                        .metadata()
                        .map_err(io_err("getting status of", &path))?
                        .permissions()
                        .mode();
                    file.set_permissions(fs::Permissions::from_mode(mode | 0o111))
                        .map_err(io_err("making executable", &path))?;
                }
            }
        }
    }
    Ok(())
}
