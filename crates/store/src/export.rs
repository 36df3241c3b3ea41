//! Nix's export format, the stream `nix-store --export` writes and `nix-store --import` reads:
//! store paths one after the other, each as its NAR followed by its path, references and
//! deriver.
//!
//! Spec: the Nix manual's `nix-store --export` and `nix-store --import` pages (a serialisation
//! of the given store objects, with "the set of references" that `--dump` lacks; importing a
//! path whose references are missing fails; paths already present are ignored). The byte
//! layout is the one Nix 2.8 writes (the differential tests in `crates/cli/tests/cli/` compare
//! Kiln's stream with Nix's byte for byte). In the wire encoding of the NAR spec (`int`: u64
//! little endian; `str(s)`: `int(|s|)`, the bytes, zero padding to a multiple of 8):
//!
//! ```text
//! export    = { int(1), entry }, int(0);
//! entry     = nar, int(0x4558494e),                (* "NIXE" *)
//!             str(path), int(n), n * str(reference),
//!             str(deriver),                          (* "" when unknown *)
//!             signature;
//! signature = int(0) | int(1), str(legacy signature); (* read and ignored, as Nix does *)
//! ```
//!
//! Paths are absolute (`/nix/store/<hash>-<name>`). The stream carries no NAR hash: the
//! importer computes it from the archive.
//!
//! This module has
//!
//! * [`ExportReader`], a pure streaming reader of the format that never touches a store: each
//!   entry's NAR is a [`Read`] of exactly the archive's bytes, checked against the NAR grammar
//!   as they pass (with [`kiln_formats::nar::NarReader`]), followed by its [`ExportEntry`]
//!   (path, references, deriver). It is what the `export_reader` fuzz target drives.
//! * [`LocalStore::export_paths`] and [`LocalStore::import_paths`], which write a stream from
//!   a store and add one's paths to a store.
//!
//! Decisions:
//!
//! * **Nothing buffers an archive.** Export writes each path's NAR from `nar::dump` straight
//!   into the output, hashing it on the way (a path whose contents changed since it was
//!   registered is refused, as Nix refuses it, after its bytes were written). Import unpacks
//!   each NAR into a temporary directory as it is read, hashing it in the same pass; only the
//!   tokens of one archive event (at most an entry name or a symlink target) are ever held.
//! * **A path is registered only when its entry is complete**: after its archive ended, was
//!   checked and unpacked, and its path, references and deriver were read. A malformed or
//!   truncated entry registers nothing (the entries before it stay imported, as with Nix).
//! * **Errors say where**: every [`ExportError`] about the stream carries the byte offset
//!   (counted from the stream's start) of what is wrong. The two errors Nix's users know keep
//!   Nix 2.8's wording exactly.
//! * **Bounded on hostile input**: path strings are at most 4096 bytes, a legacy
//!   signature at most 64 KiB, references are read one at a time (at most
//!   2^20), and the NAR reader has its own caps.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::{self, BufReader, Read, Write};
use std::rc::Rc;

use kiln_formats::hash::HashAlgo;
use kiln_formats::nar::{self, Event, NarError, NarReader};
use kiln_formats::store_path::{StorePath, StorePathError};

use crate::ingest::NarSink;
use crate::{LocalStore, PathInfo, Store, StoreError};

/// The integer before each entry.
const ENTRY_FOLLOWS: u64 = 1;

/// The integer after the last entry.
const END_OF_STREAM: u64 = 0;

/// The marker after each entry's NAR: "NIXE" read as a little-endian integer.
pub const EXPORT_MAGIC: u64 = 0x4558_494e;

/// The longest path string (entry path, reference or deriver) accepted, in bytes.
const MAX_PATH_LEN: u64 = 4096;

/// The longest legacy signature accepted, in bytes.
const MAX_SIGNATURE_LEN: u64 = 1 << 16;

/// The most references one entry may list.
const MAX_REFERENCES: u64 = 1 << 20;

/// Why an export stream could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The integer before an entry is neither 1 (an entry follows) nor 0 (the end).
    #[error("input doesn't look like something created by 'nix-store --export'")]
    NotExport {
        /// Where the integer starts.
        offset: u64,
    },
    /// The integer after an entry's NAR is not the `NIXE` marker.
    #[error("Nix archive cannot be imported; wrong format")]
    BadMarker {
        /// Where the marker should be.
        offset: u64,
    },
    /// The stream ends in the middle of something.
    #[error("the export stream ends early: {what} at byte {offset} is incomplete")]
    Truncated {
        /// Where the incomplete item starts.
        offset: u64,
        /// What it is ("the marker before an entry", "a reference" …).
        what: &'static str,
    },
    /// The stream could not be read.
    #[error("reading the export stream at byte {offset}")]
    Read {
        /// Bytes consumed before the failure.
        offset: u64,
        /// The underlying error.
        source: io::Error,
    },
    /// An entry's NAR breaks the archive grammar (or ends early).
    #[error(
        "bad archive in entry {entry} of the export stream, which starts at byte {nar_offset}"
    )]
    Nar {
        /// The entry's number, from 1.
        entry: u64,
        /// Where its archive starts in the stream (the archive error's offset is relative to
        /// it).
        nar_offset: u64,
        /// What is wrong with the archive.
        source: NarError,
    },
    /// A string's length exceeds the cap for what it holds.
    #[error("{what} of {len} bytes at byte {offset} of the export stream exceeds the limit of {max} bytes")]
    TooLong {
        /// Where the length field starts.
        offset: u64,
        /// What the string holds.
        what: &'static str,
        /// The length given.
        len: u64,
        /// The cap.
        max: u64,
    },
    /// A padding byte after a string is not zero.
    #[error("non-zero padding at byte {offset} of the export stream")]
    BadPadding {
        /// Where the bad byte is.
        offset: u64,
    },
    /// An entry lists more than 2^20 references.
    #[error(
        "{count} references at byte {offset} of the export stream are more than the limit of {max}"
    )]
    TooManyReferences {
        /// Where the count starts.
        offset: u64,
        /// The count given.
        count: u64,
        /// The cap.
        max: u64,
    },
    /// A path string is not UTF-8.
    #[error("{what} at byte {offset} of the export stream is not UTF-8")]
    NotUtf8 {
        /// Where the string's length field starts.
        offset: u64,
        /// What it should be ("the path", "a reference", "the deriver").
        what: &'static str,
    },
    /// A path string is not a store path in the store directory.
    #[error("{what} at byte {offset} of the export stream is not a valid store path")]
    BadPath {
        /// Where the string's length field starts.
        offset: u64,
        /// What it should be ("the path", "a reference", "the deriver").
        what: &'static str,
        /// Why it is not a store path (it names the string).
        source: StorePathError,
    },
    /// The reader was used again after it returned an error.
    #[error("the export stream was already found bad at byte {offset}")]
    AlreadyFailed {
        /// Where the earlier error was.
        offset: u64,
    },
    /// A path's contents no longer have the NAR hash it was registered with (Nix 2.8's words).
    #[error("hash of path '{path}' has changed from '{expected}' to '{actual}'!")]
    Changed {
        /// The store path.
        path: String,
        /// The registered NAR hash.
        expected: String,
        /// The hash of the contents that were exported.
        actual: String,
    },
    /// The export stream could not be written.
    #[error("writing the export stream")]
    Write {
        /// The underlying error.
        source: io::Error,
    },
}

impl ExportError {
    /// Returns the byte offset in the stream an error about the stream refers to (for an
    /// archive error, the offset of the bad token itself).
    pub fn offset(&self) -> Option<u64> {
        match self {
            Self::NotExport { offset }
            | Self::BadMarker { offset }
            | Self::Truncated { offset, .. }
            | Self::Read { offset, .. }
            | Self::TooLong { offset, .. }
            | Self::BadPadding { offset }
            | Self::TooManyReferences { offset, .. }
            | Self::NotUtf8 { offset, .. }
            | Self::BadPath { offset, .. }
            | Self::AlreadyFailed { offset } => Some(*offset),
            Self::Nar {
                nar_offset, source, ..
            } => Some(nar_offset + source.offset().unwrap_or(0)),
            Self::Changed { .. } | Self::Write { .. } => None,
        }
    }
}

/// What follows an entry's NAR: the path it is, and its registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportEntry {
    /// The store path.
    pub path: StorePath,
    /// The paths it refers to.
    pub references: BTreeSet<StorePath>,
    /// The derivation that built it, when known.
    pub deriver: Option<StorePath>,
}

/// The stream, shared between the reader and the NAR parser reading through it.
struct Input<R> {
    inner: R,
    /// Bytes consumed from `inner`.
    offset: u64,
    /// While the NAR parser reads tokens, the bytes it consumed: the archive's raw bytes, handed
    /// on by [`EntryNar::read`]. File contents bypass it.
    tapped: Vec<u8>,
    /// How much of `tapped` was handed on.
    tapped_pos: usize,
    recording: bool,
}

/// The NAR parser's view of the stream: records what it reads while `recording`.
struct Tap<R>(Rc<RefCell<Input<R>>>);

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut input = self.0.borrow_mut();
        let n = input.inner.read(buf)?.min(buf.len());
        input.offset += n as u64;
        if input.recording {
            input.tapped.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

/// Where the reader is in the stream.
enum State {
    /// Before the integer that says whether an entry follows.
    BeforeEntry,
    /// Inside an entry's NAR (which `ExportReader::nar` holds).
    InNar,
    /// The entry's NAR ended; its path and registration follow.
    AfterNar,
    /// The final 0 was read.
    Done,
    /// An error about this offset was returned.
    Failed { offset: u64 },
}

/// An entry's archive being read.
struct NarState<R: Read> {
    parser: NarReader<Tap<R>>,
    /// Where the archive starts in the stream.
    start: u64,
    /// Whether the last event was a regular file whose contents are being read.
    in_contents: bool,
    /// Whether the archive's last event was returned (what was tapped may still be unread).
    ended: bool,
}

/// A streaming reader of an export stream that does not touch any store.
///
/// Call [`next_entry`](Self::next_entry) until it returns `Ok(None)`; each entry it returns is
/// first a [`Read`] of its NAR (exactly the archive's bytes, checked as they pass), then
/// [`EntryNar::finish`] reads the rest of the archive, if any, and returns the
/// [`ExportEntry`] that follows it. After an error every call returns
/// [`ExportError::AlreadyFailed`]. The reader issues many small reads, so `R` should be
/// buffered (e.g. a `BufReader`) unless it is in memory. Nothing after the final 0 is read.
///
/// ```
/// use std::io::Read;
/// use kiln_store::ExportReader;
/// // An empty export: no entries, then the final 0.
/// let mut r = ExportReader::new(&[0u8; 8][..], "/nix/store");
/// assert!(r.next_entry()?.is_none());
/// # Ok::<(), kiln_store::ExportError>(())
/// ```
pub struct ExportReader<R: Read> {
    input: Rc<RefCell<Input<R>>>,
    store_dir: String,
    state: State,
    /// The archive of the current entry, while in [`State::InNar`].
    nar: Option<NarState<R>>,
    /// Entries started so far.
    entries: u64,
}

impl<R: Read> ExportReader<R> {
    /// Starts reading an export stream from `input`, whose paths are in `store_dir` (such as
    /// `/nix/store`).
    pub fn new(input: R, store_dir: &str) -> Self {
        ExportReader {
            input: Rc::new(RefCell::new(Input {
                inner: input,
                offset: 0,
                tapped: Vec::new(),
                tapped_pos: 0,
                recording: true,
            })),
            store_dir: store_dir.to_owned(),
            state: State::BeforeEntry,
            nar: None,
            entries: 0,
        }
    }

    /// The number of bytes of the stream consumed so far.
    pub fn offset(&self) -> u64 {
        self.input.borrow().offset
    }

    /// Starts the next entry, or returns `None` at the end of the stream. An entry that was
    /// not finished is finished first (its [`ExportEntry`] is dropped).
    #[allow(clippy::should_implement_trait)] // Fallible and lending, so not an `Iterator`.
    pub fn next_entry(&mut self) -> Result<Option<EntryNar<'_, R>>, ExportError> {
        let res = self.start_entry();
        self.note(res)
    }

    fn start_entry(&mut self) -> Result<bool, ExportError> {
        loop {
            match self.state {
                State::Failed { offset } => return Err(ExportError::AlreadyFailed { offset }),
                State::Done => return Ok(false),
                State::InNar | State::AfterNar => {
                    self.finish_entry()?;
                }
                State::BeforeEntry => break,
            }
        }
        let at = self.offset();
        match self.read_u64("the marker before an entry")? {
            END_OF_STREAM => {
                self.state = State::Done;
                Ok(false)
            }
            ENTRY_FOLLOWS => {
                self.entries += 1;
                let start = self.offset();
                {
                    let mut input = self.input.borrow_mut();
                    input.tapped.clear();
                    input.tapped_pos = 0;
                    input.recording = true;
                }
                self.nar = Some(NarState {
                    parser: NarReader::embedded(Tap(Rc::clone(&self.input))),
                    start,
                    in_contents: false,
                    ended: false,
                });
                self.state = State::InNar;
                Ok(true)
            }
            _ => Err(ExportError::NotExport { offset: at }),
        }
    }

    /// Turns a step's outcome into the entry handle, remembering a failure.
    fn note(
        &mut self,
        res: Result<bool, ExportError>,
    ) -> Result<Option<EntryNar<'_, R>>, ExportError> {
        match res {
            Ok(true) => Ok(Some(EntryNar { reader: self })),
            Ok(false) => Ok(None),
            Err(e) => {
                self.fail(&e);
                Err(e)
            }
        }
    }

    fn fail(&mut self, e: &ExportError) {
        if !matches!(self.state, State::Failed { .. }) {
            let offset = e.offset().unwrap_or_else(|| self.offset());
            self.state = State::Failed { offset };
            self.nar = None;
        }
    }

    /// Reads up to `buf.len()` bytes of the current entry's archive; 0 at its end.
    fn read_nar(&mut self, buf: &mut [u8]) -> Result<usize, ExportError> {
        match self.state {
            State::Failed { offset } => return Err(ExportError::AlreadyFailed { offset }),
            State::InNar => {}
            _ => return Ok(0),
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let entry = self.entries;
        let Some(nar) = self.nar.as_mut() else {
            return Ok(0);
        };
        let nar_offset = nar.start;
        let nar_error = |source| ExportError::Nar {
            entry,
            nar_offset,
            source,
        };
        loop {
            {
                // Tapped bytes not yet handed on go first.
                let mut input = self.input.borrow_mut();
                let pending = input.tapped.len() - input.tapped_pos;
                if pending > 0 {
                    let n = pending.min(buf.len());
                    let from = input.tapped_pos;
                    buf[..n].copy_from_slice(&input.tapped[from..from + n]);
                    input.tapped_pos += n;
                    if input.tapped_pos == input.tapped.len() {
                        input.tapped.clear();
                        input.tapped_pos = 0;
                    }
                    return Ok(n);
                }
            }
            if nar.ended {
                self.state = State::AfterNar;
                return Ok(0);
            }
            if nar.in_contents {
                // Contents go straight into `buf`, not through the tap.
                self.input.borrow_mut().recording = false;
                let res = nar.parser.read_contents(buf);
                self.input.borrow_mut().recording = true;
                match res.map_err(nar_error)? {
                    0 => nar.in_contents = false,
                    n => return Ok(n),
                }
                continue;
            }
            match nar.parser.next().map_err(nar_error)? {
                Some(Event::Regular { .. }) => nar.in_contents = true,
                Some(_) => {}
                None => nar.ended = true,
            }
        }
    }

    /// Reads the rest of the current archive (discarding it) and what follows it.
    fn finish_entry(&mut self) -> Result<ExportEntry, ExportError> {
        let mut scratch = [0u8; 8192];
        while matches!(self.state, State::InNar) {
            self.read_nar(&mut scratch)?;
        }
        match self.state {
            State::AfterNar => {}
            State::Failed { offset } => return Err(ExportError::AlreadyFailed { offset }),
            // Not inside an entry: nothing to finish (the handle cannot be had here).
            _ => {
                return Err(ExportError::AlreadyFailed {
                    offset: self.offset(),
                })
            }
        }
        self.nar = None;
        let at = self.offset();
        if self.read_u64("the marker after an archive")? != EXPORT_MAGIC {
            return Err(ExportError::BadMarker { offset: at });
        }
        let path = self.read_path("the path")?;
        let at = self.offset();
        let count = self.read_u64("the number of references")?;
        if count > MAX_REFERENCES {
            return Err(ExportError::TooManyReferences {
                offset: at,
                count,
                max: MAX_REFERENCES,
            });
        }
        let mut references = BTreeSet::new();
        for _ in 0..count {
            references.insert(self.read_path("a reference")?);
        }
        let at = self.offset();
        let deriver = self.read_string(MAX_PATH_LEN, "the deriver")?;
        let deriver = if deriver.is_empty() {
            None
        } else {
            Some(self.parse_path(deriver, at, "the deriver")?)
        };
        if self.read_u64("the signature marker")? == 1 {
            // A legacy signature: read and ignored, as Nix does.
            self.read_string(MAX_SIGNATURE_LEN, "the legacy signature")?;
        }
        self.state = State::BeforeEntry;
        Ok(ExportEntry {
            path,
            references,
            deriver,
        })
    }

    fn read_exact(
        &mut self,
        buf: &mut [u8],
        at: u64,
        what: &'static str,
    ) -> Result<(), ExportError> {
        let mut input = self.input.borrow_mut();
        let mut filled = 0;
        while filled < buf.len() {
            match input.inner.read(&mut buf[filled..]) {
                Ok(0) => return Err(ExportError::Truncated { offset: at, what }),
                Ok(n) => {
                    let n = n.min(buf.len() - filled);
                    filled += n;
                    input.offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(ExportError::Read {
                        offset: input.offset,
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    fn read_u64(&mut self, what: &'static str) -> Result<u64, ExportError> {
        let at = self.offset();
        let mut b = [0u8; 8];
        self.read_exact(&mut b, at, what)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Reads a string of at most `max` bytes and its padding.
    fn read_string(&mut self, max: u64, what: &'static str) -> Result<Vec<u8>, ExportError> {
        let at = self.offset();
        let len = self.read_u64(what)?;
        if len > max {
            return Err(ExportError::TooLong {
                offset: at,
                what,
                len,
                max,
            });
        }
        // `len <= max`, a small constant, so this allocation is bounded.
        let mut s = vec![0u8; len as usize];
        self.read_exact(&mut s, at, what)?;
        let mut pad = [0u8; 8];
        let pad = &mut pad[..((8 - len % 8) % 8) as usize];
        let pad_at = self.offset();
        self.read_exact(pad, at, what)?;
        if let Some(i) = pad.iter().position(|&b| b != 0) {
            return Err(ExportError::BadPadding {
                offset: pad_at + i as u64,
            });
        }
        Ok(s)
    }

    fn read_path(&mut self, what: &'static str) -> Result<StorePath, ExportError> {
        let at = self.offset();
        let s = self.read_string(MAX_PATH_LEN, what)?;
        self.parse_path(s, at, what)
    }

    fn parse_path(
        &self,
        s: Vec<u8>,
        at: u64,
        what: &'static str,
    ) -> Result<StorePath, ExportError> {
        let s = String::from_utf8(s).map_err(|_| ExportError::NotUtf8 { offset: at, what })?;
        StorePath::from_absolute(&self.store_dir, &s).map_err(|source| ExportError::BadPath {
            offset: at,
            what,
            source,
        })
    }
}

/// The current entry of an [`ExportReader`]: a [`Read`] of its NAR, then
/// [`finish`](Self::finish) for what follows. Read errors are `io::Error`s wrapping the
/// [`ExportError`] (of kind `UnexpectedEof` when the stream ends early, `InvalidData` for a
/// malformed archive).
pub struct EntryNar<'a, R: Read> {
    reader: &'a mut ExportReader<R>,
}

impl<R: Read> EntryNar<'_, R> {
    /// Where the entry's archive starts in the stream.
    pub fn nar_offset(&self) -> u64 {
        self.reader.nar.as_ref().map_or(0, |n| n.start)
    }

    /// Reads the rest of the archive, if any (checking and discarding it), and returns the
    /// path, references and deriver that follow it.
    pub fn finish(self) -> Result<ExportEntry, ExportError> {
        let res = self.reader.finish_entry();
        if let Err(e) = &res {
            self.reader.fail(e);
        }
        res
    }
}

impl<R: Read> Read for EntryNar<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read_nar(buf).map_err(|e| {
            self.reader.fail(&e);
            let kind = match &e {
                ExportError::Nar {
                    source: NarError::UnexpectedEof { .. },
                    ..
                } => io::ErrorKind::UnexpectedEof,
                ExportError::Nar {
                    source: NarError::Read { source, .. },
                    ..
                } => source.kind(),
                _ => io::ErrorKind::InvalidData,
            };
            io::Error::new(kind, e)
        })
    }
}

/// Writes to two places: the export stream and the hashing sink.
struct HashingWriter<'a, W: Write> {
    out: &'a mut W,
    sink: &'a mut NarSink,
    /// A failure writing `out`, reported as such rather than as the archive error it becomes.
    error: Option<io::Error>,
}

impl<W: Write> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.out.write(buf) {
            Ok(n) => {
                self.sink.write_all(&buf[..n])?;
                Ok(n)
            }
            Err(e) => {
                let res = io::Error::new(e.kind(), "writing the export stream failed");
                self.error = Some(e);
                Err(res)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn write_u64(out: &mut impl Write, n: u64) -> Result<(), ExportError> {
    out.write_all(&n.to_le_bytes())
        .map_err(|source| ExportError::Write { source })
}

fn write_string(out: &mut impl Write, s: &[u8]) -> Result<(), ExportError> {
    write_u64(out, s.len() as u64)?;
    out.write_all(s)
        .and_then(|()| out.write_all(&[0; 8][..(8 - s.len() % 8) % 8]))
        .map_err(|source| ExportError::Write { source })
}

impl LocalStore {
    /// Writes `paths`, in the order given, to `out` in Nix's export format (what
    /// `nix-store --export` writes; the caller puts references first, as Nix does, so the
    /// stream can be imported). Each NAR streams from the file system into `out`, hashed on the
    /// way; a path whose contents no longer match its registered hash fails the export with
    /// [`ExportError::Changed`] (its bytes were already written). `out` should be buffered.
    pub fn export_paths(&self, paths: &[StorePath], mut out: impl Write) -> Result<(), StoreError> {
        let dir = self.store_dir().to_owned();
        for path in paths {
            let info = self
                .query_path_info(path)?
                .ok_or_else(|| StoreError::NotValid(path.to_absolute(&dir)))?;
            write_u64(&mut out, ENTRY_FOLLOWS)?;
            let algo = info.nar_hash.algo();
            let mut sink = NarSink::new((algo != HashAlgo::Sha256).then_some(algo), None);
            let real = self.real_path(path);
            let mut tee = HashingWriter {
                out: &mut out,
                sink: &mut sink,
                error: None,
            };
            let res = nar::dump(&real, &mut tee);
            if let Some(source) = tee.error.take() {
                return Err(ExportError::Write { source }.into());
            }
            res.map_err(|source| StoreError::Nar {
                op: "exporting",
                path: real,
                source,
            })?;
            let summary = sink.finish();
            let actual = summary.extra.unwrap_or(summary.nar_hash);
            if actual != info.nar_hash {
                return Err(ExportError::Changed {
                    path: path.to_absolute(&dir),
                    expected: info.nar_hash.to_string(),
                    actual: actual.to_string(),
                }
                .into());
            }
            write_u64(&mut out, EXPORT_MAGIC)?;
            write_string(&mut out, path.to_absolute(&dir).as_bytes())?;
            write_u64(&mut out, info.references.len() as u64)?;
            for r in &info.references {
                write_string(&mut out, r.to_absolute(&dir).as_bytes())?;
            }
            let deriver = info
                .deriver
                .as_ref()
                .map(|d| d.to_absolute(&dir))
                .unwrap_or_default();
            write_string(&mut out, deriver.as_bytes())?;
            write_u64(&mut out, 0)?;
        }
        write_u64(&mut out, END_OF_STREAM)?;
        out.flush()
            .map_err(|source| ExportError::Write { source })?;
        Ok(())
    }

    /// Adds the paths of the export stream read from `input` (what `nix-store --import`
    /// does) and returns them in stream order, those already valid included (they are left as
    /// they are). Each NAR is unpacked into a temporary directory as it is read, checked and
    /// hashed in the same pass; its path is registered, with its references (which must be
    /// valid by then) and deriver, once its entry is complete. On error, the entries before
    /// the bad one stay imported and nothing of the bad one is registered. `input` need not
    /// be buffered.
    pub fn import_paths(&self, input: impl Read) -> Result<Vec<StorePath>, StoreError> {
        let mut reader = ExportReader::new(
            BufReader::with_capacity(256 * 1024, input),
            self.store_dir(),
        );
        let mut res = Vec::new();
        while let Some(mut entry) = reader.next_entry()? {
            let received = match self.receive_nar(&mut entry) {
                Ok(r) => r,
                // A stream error travels through the unpacking as an `io::Error`; it is
                // reported as itself, with its offset in the stream.
                Err(StoreError::Nar {
                    op,
                    path,
                    source: NarError::Read { offset, source },
                }) => {
                    return Err(match source.downcast::<ExportError>() {
                        Ok(e) => e.into(),
                        Err(source) => StoreError::Nar {
                            op,
                            path,
                            source: NarError::Read { offset, source },
                        },
                    })
                }
                Err(e) => return Err(e),
            };
            let meta = entry.finish()?;
            let info = PathInfo {
                path: meta.path,
                nar_hash: received.nar_hash,
                nar_size: received.nar_size,
                references: meta.references,
                deriver: meta.deriver,
                ca: None,
                sigs: BTreeSet::new(),
                registration_time: 0,
                ultimate: false,
            };
            self.install_received(received, &info)?;
            res.push(info.path);
        }
        Ok(res)
    }
}
