//! NAR, the Nix ARchive: the canonical serialisation of a file system object tree.
//!
//! Spec: the Nix manual, `protocols/nix-archive.md` ("Nix Archive (NAR) format"), which gives
//! the grammar
//!
//! ```text
//! nar             = str("nix-archive-1"), nar-obj;
//! nar-obj         = str("("), nar-obj-inner, str(")");
//! nar-obj-inner   = str("type"), str("regular") regular
//!                 | str("type"), str("symlink") symlink
//!                 | str("type"), str("directory") directory;
//! regular         = [ str("executable"), str("") ], str("contents"), str(contents);
//! symlink         = str("target"), str(target);
//! directory       = { directory-entry };          (* ordered by name *)
//! directory-entry = str("entry"), str("("), str("name"), str(name), str("node"), nar-obj, str(")");
//! str(s)          = int(|s|), pad(s);             (* u64 little endian, zero padding to 8 *)
//! ```
//!
//! This module has
//!
//! * [`NarWriter`], a low-level encoder that needs no file system, and [`dump`], which
//!   serialises a path like `nix-store --dump`;
//! * [`NarReader`], a streaming pull parser producing [`Event`]s, and [`restore`], which unpacks
//!   like `nix-store --restore`;
//! * [`ls`] and [`cat`], which inspect an archive without unpacking it.
//!
//! Decisions:
//!
//! * **Canonical form only.** The reader accepts exactly the grammar above: tags in that order,
//!   zero padding, directory entries strictly increasing by byte order (so no duplicates).
//!   A NAR's hash is meant to be a function of the tree, and a second encoding of the same tree
//!   would break that. Nix 2.8's `nix-store --restore` is laxer in a few ways we are not (the
//!   tests pin this list against it): it accepts `executable` after `contents`, unsorted
//!   entries, a NUL in a symlink target (silently truncating it) and trailing data.
//! * **Names and targets are what a file system can hold.** Entry names must be non-empty, not
//!   `.` or `..`, free of `/` and NUL, and at most [`MAX_NAME_LEN`] bytes; symlink targets must
//!   be non-empty, free of NUL and at most [`MAX_TARGET_LEN`] bytes. The writer enforces the same
//!   rules, so whatever it writes the reader accepts.
//! * **Executable** means the owner's execute bit (`S_IXUSR`), which is what `nix-store --dump`
//!   tests (a file with only the group's or others' x bit is dumped as non-executable).
//! * **Bounded resources on hostile input.** Nothing is allocated from an untrusted length beyond
//!   those caps; file contents are streamed, never buffered whole; parsing is iterative, with
//!   directories nested at most [`MAX_DEPTH`] deep.
//! * **Every format error carries the byte offset** at which the offending token (or the missing
//!   data) starts, counted from the beginning of the archive.
//! * [`restore`] creates everything with "must not exist" semantics (`O_EXCL`, `mkdir`,
//!   `symlink`), so it never follows a symlink the archive created and never writes outside its
//!   target. On error it leaves what it wrote for the caller to remove.

use std::io::{self, BufReader, Read, Write};
use std::path::PathBuf;

mod fs;
mod read;
mod write;

pub use fs::{dump, restore};
pub use read::{Event, NarReader};
pub use write::NarWriter;

/// The first token of every archive.
pub const MAGIC: &[u8] = b"nix-archive-1";

/// The longest entry name accepted, in bytes (`NAME_MAX` on Linux).
pub const MAX_NAME_LEN: usize = 255;

/// The longest symlink target accepted, in bytes (`PATH_MAX` less the terminating NUL).
pub const MAX_TARGET_LEN: usize = 4095;

/// The deepest nesting of directories accepted (the root directory is depth 1).
pub const MAX_DEPTH: usize = 1024;

/// The size of the buffer file contents are streamed through.
pub(crate) const BUF_SIZE: usize = 256 * 1024;

/// Why a NAR could not be written, read, unpacked or inspected.
#[derive(Debug, thiserror::Error)]
pub enum NarError {
    /// A file system operation on `path` failed.
    #[error("{op} '{path}'")]
    Io {
        /// What was being done, e.g. "reading directory".
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The archive stream could not be read.
    #[error("reading the archive at offset {offset}")]
    Read {
        /// Bytes of the archive consumed before the failure.
        offset: u64,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The archive (or a file's contents, for [`cat`]) could not be written out.
    #[error("writing the archive")]
    Write {
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The contents given to [`NarWriter::regular`] could not be read.
    #[error("reading file contents for the archive")]
    ReadContents {
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The contents given to [`NarWriter::regular`] ended before the announced size.
    #[error("file contents ended after {actual} of {expected} bytes")]
    ShortContents {
        /// The size announced.
        expected: u64,
        /// The bytes actually available.
        actual: u64,
    },
    /// A file shrank while [`dump`] was archiving it.
    #[error("file '{path}' changed size while being archived (read {actual} of {expected} bytes)")]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// Its size when it was opened.
        expected: u64,
        /// The bytes that could be read.
        actual: u64,
    },
    /// [`dump`] met a file that is not a regular file, directory or symlink.
    #[error("file '{path}' has an unsupported type ({kind})")]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// Its type: "fifo", "socket", "character device", "block device" or "unknown".
        kind: &'static str,
    },
    /// [`NarWriter`]'s methods were called in an order that does not make an archive.
    #[error("invalid use of the NAR writer: {0}")]
    WriterMisuse(&'static str),
    /// The archive does not start with `nix-archive-1`.
    #[error("not a NAR: bad magic at offset {offset}")]
    BadMagic {
        /// Always 0: where the magic should be.
        offset: u64,
    },
    /// The archive ends in the middle of a token or of a file's contents.
    #[error("unexpected end of archive at offset {offset}")]
    UnexpectedEof {
        /// Bytes of the archive available.
        offset: u64,
    },
    /// A token is not one the grammar allows at this place.
    #[error("expected {expected} at offset {offset}, found {found}")]
    UnexpectedToken {
        /// Where the token starts.
        offset: u64,
        /// What the grammar allows here.
        expected: &'static str,
        /// The token found, quoted and escaped (shortened when long).
        found: String,
    },
    /// A padding byte after a string is not zero.
    #[error("non-zero padding at offset {offset}")]
    BadPadding {
        /// Where the bad byte is.
        offset: u64,
    },
    /// A length field exceeds the cap for what it measures.
    #[error("{what} of {len} bytes at offset {offset} exceeds the limit of {max} bytes")]
    TooLong {
        /// Where the length field starts.
        offset: u64,
        /// What it measures: "token", "entry name" or "symlink target".
        what: &'static str,
        /// The length given.
        len: u64,
        /// The cap.
        max: u64,
    },
    /// An entry name is empty, `.`, `..`, or contains `/` or NUL.
    #[error("invalid entry name {name} at offset {offset}: {reason}")]
    BadName {
        /// Where the name's length field starts.
        offset: u64,
        /// The name, quoted and escaped.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A symlink target is empty or contains NUL.
    #[error("invalid symlink target {target} at offset {offset}: {reason}")]
    BadTarget {
        /// Where the target's length field starts.
        offset: u64,
        /// The target, quoted and escaped.
        target: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A directory entry's name does not sort after the previous entry's.
    #[error("entry {name} at offset {offset} is out of order: it must sort after {previous}")]
    Unsorted {
        /// Where the name's length field starts.
        offset: u64,
        /// The name, quoted and escaped.
        name: String,
        /// The previous entry's name, quoted and escaped.
        previous: String,
    },
    /// A directory has two entries with the same name.
    #[error("duplicate entry {name} at offset {offset}")]
    Duplicate {
        /// Where the second name's length field starts.
        offset: u64,
        /// The name, quoted and escaped.
        name: String,
    },
    /// Directories are nested deeper than [`MAX_DEPTH`].
    #[error("directories nested deeper than {max} levels at offset {offset}")]
    TooDeep {
        /// Where the directory that is one too deep starts.
        offset: u64,
        /// The limit.
        max: usize,
    },
    /// Bytes follow the end of the archive.
    #[error("trailing data after the end of the archive at offset {offset}")]
    TrailingData {
        /// Where the archive ended.
        offset: u64,
    },
    /// [`NarReader`] was called again after it returned an error.
    #[error("the archive was already found bad at offset {offset}")]
    AlreadyFailed {
        /// Where the earlier error was.
        offset: u64,
    },
    /// A path given to [`ls`] or [`cat`] contains `..`.
    #[error("invalid path '{path}' inside the archive: '..' is not allowed")]
    BadArchivePath {
        /// The path as given.
        path: String,
    },
    /// The path given to [`ls`] or [`cat`] is not in the archive.
    #[error("path '{path}' does not exist in the archive")]
    NotFound {
        /// The path as given.
        path: String,
    },
    /// The path given to [`cat`] is a directory or a symlink.
    #[error("path '{path}' in the archive is a {kind}, not a regular file")]
    NotRegular {
        /// The path as given.
        path: String,
        /// "directory" or "symlink".
        kind: &'static str,
    },
}

impl NarError {
    /// Returns the byte offset in the archive a format error refers to, if it is one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Self::Read { offset, .. }
            | Self::BadMagic { offset }
            | Self::UnexpectedEof { offset }
            | Self::UnexpectedToken { offset, .. }
            | Self::BadPadding { offset }
            | Self::TooLong { offset, .. }
            | Self::BadName { offset, .. }
            | Self::BadTarget { offset, .. }
            | Self::Unsorted { offset, .. }
            | Self::Duplicate { offset, .. }
            | Self::TooDeep { offset, .. }
            | Self::TrailingData { offset }
            | Self::AlreadyFailed { offset } => Some(*offset),
            _ => None,
        }
    }
}

/// Quotes and escapes bytes from an archive for an error message, shortening long ones.
pub(crate) fn quote(bytes: &[u8]) -> String {
    const SHOWN: usize = 64;
    let shown = &bytes[..bytes.len().min(SHOWN)];
    let mut s = format!("'{}'", shown.escape_ascii());
    if bytes.len() > SHOWN {
        s.push_str(&format!(" (and {} more bytes)", bytes.len() - SHOWN));
    }
    s
}

/// Checks an entry name; returns why it is invalid.
pub(crate) fn name_problem(name: &[u8]) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name == b"." || name == b".." {
        Some("'.' and '..' are not allowed")
    } else if name.contains(&b'/') {
        Some("it contains '/'")
    } else if name.contains(&0) {
        Some("it contains NUL")
    } else {
        None
    }
}

/// Checks a symlink target; returns why it is invalid.
pub(crate) fn target_problem(target: &[u8]) -> Option<&'static str> {
    if target.is_empty() {
        Some("it is empty")
    } else if target.contains(&0) {
        Some("it contains NUL")
    } else {
        None
    }
}

/// What kind of file system object an archive entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    Regular {
        /// Whether it is executable.
        executable: bool,
        /// Its size in bytes.
        size: u64,
        /// Where its contents start in the archive, in bytes (`narOffset` in `nix nar ls --json`).
        nar_offset: u64,
    },
    /// A symbolic link.
    Symlink {
        /// Where it points, as stored.
        target: Vec<u8>,
    },
    /// A directory.
    Directory,
}

/// One object listed by [`ls`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// Its path from the archive's root: names joined by `/`, empty for the root itself.
    /// Names are bytes, as in the archive (usually, but not necessarily, UTF-8).
    pub path: Vec<u8>,
    /// What it is.
    pub kind: EntryKind,
}

/// Splits a path inside an archive into names: `/` separated, empty names and `.` ignored.
fn archive_path(path: &str) -> Result<Vec<&[u8]>, NarError> {
    let mut names = Vec::new();
    for name in path.split('/') {
        match name {
            "" | "." => {}
            ".." => {
                return Err(NarError::BadArchivePath {
                    path: path.to_owned(),
                })
            }
            _ => names.push(name.as_bytes()),
        }
    }
    Ok(names)
}

/// Follows the path of the node each event is about.
#[derive(Default)]
struct PathTracker {
    /// Names of the directories the reader is inside, the root's (absent) name excluded.
    dirs: Vec<Vec<u8>>,
}

impl PathTracker {
    /// Updates the position for `event`; returns the names leading to its node (for a directory
    /// start, the directory), or `None` for a directory end.
    fn node_path(&mut self, event: &Event) -> Option<Vec<Vec<u8>>> {
        let name = match event {
            Event::DirectoryEnd => {
                self.dirs.pop();
                return None;
            }
            Event::Directory { name }
            | Event::Regular { name, .. }
            | Event::Symlink { name, .. } => name,
        };
        let mut path = self.dirs.clone();
        if let Some(name) = name {
            path.push(name.clone());
            if let Event::Directory { .. } = event {
                self.dirs.push(name.clone());
            }
        }
        Some(path)
    }
}

/// Whether `path` is `prefix` or inside it.
fn is_under(path: &[Vec<u8>], prefix: &[&[u8]]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| a == b)
}

/// Lists the object at `path_in_nar` in the archive read from `r`, followed, when it is a
/// directory, by its entries (all its descendants if `recursive`), in archive order.
///
/// `path_in_nar` is `/`-separated; empty names and `.` are ignored, so `""`, `"/"` and `"."`
/// all name the root. The whole archive is read and validated, and paths are not resolved
/// through symlinks. `r` need not be buffered.
pub fn ls(r: impl Read, path_in_nar: &str, recursive: bool) -> Result<Vec<ListEntry>, NarError> {
    let want = archive_path(path_in_nar)?;
    let mut reader = NarReader::new(BufReader::with_capacity(BUF_SIZE, r));
    let mut tracker = PathTracker::default();
    let mut found = Vec::new();
    while let Some(event) = reader.next()? {
        let Some(path) = tracker.node_path(&event) else {
            continue;
        };
        let listed = is_under(&path, &want) && (recursive || path.len() <= want.len() + 1);
        if !listed {
            continue;
        }
        let kind = match event {
            Event::Directory { .. } => EntryKind::Directory,
            Event::Regular {
                executable, size, ..
            } => EntryKind::Regular {
                executable,
                size,
                nar_offset: reader.offset(),
            },
            Event::Symlink { target, .. } => EntryKind::Symlink { target },
            Event::DirectoryEnd => continue, // Handled by the tracker.
        };
        found.push(ListEntry {
            path: path.join(&b'/'),
            kind,
        });
    }
    if found.is_empty() {
        return Err(NarError::NotFound {
            path: path_in_nar.to_owned(),
        });
    }
    Ok(found)
}

/// Writes the contents of the regular file at `path_in_nar` in the archive read from `r` to
/// `out`, streaming.
///
/// Paths are as for [`ls`]. The rest of the archive is still read and validated after the
/// contents are written, so a malformed archive is reported even when the file came early
/// (and after its contents were written out). `r` need not be buffered.
pub fn cat(r: impl Read, path_in_nar: &str, out: &mut impl Write) -> Result<(), NarError> {
    let want = archive_path(path_in_nar)?;
    let mut reader = NarReader::new(BufReader::with_capacity(BUF_SIZE, r));
    let mut tracker = PathTracker::default();
    let mut outcome = Err(NarError::NotFound {
        path: path_in_nar.to_owned(),
    });
    let mut buf = vec![0; BUF_SIZE];
    while let Some(event) = reader.next()? {
        let Some(path) = tracker.node_path(&event) else {
            continue;
        };
        if path.len() != want.len() || !is_under(&path, &want) {
            continue;
        }
        let kind = match event {
            Event::Directory { .. } => "directory",
            Event::Symlink { .. } => "symlink",
            Event::Regular { .. } => {
                loop {
                    let n = reader.read_contents(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    out.write_all(&buf[..n])
                        .map_err(|source| NarError::Write { source })?;
                }
                outcome = Ok(());
                continue;
            }
            Event::DirectoryEnd => continue, // Handled by the tracker.
        };
        outcome = Err(NarError::NotRegular {
            path: path_in_nar.to_owned(),
            kind,
        });
    }
    outcome
}
