//! The NAR encoder.

use std::io::{self, Read, Write};

use super::{name_problem, quote, target_problem, NarError, BUF_SIZE, MAGIC, MAX_NAME_LEN};
use super::{MAX_DEPTH, MAX_TARGET_LEN};

/// Keep at least this much room in the buffer for a read of file contents; flush otherwise.
const MIN_READ: usize = 16 * 1024;

/// A low-level NAR encoder: the caller describes a tree node by node, in archive order.
///
/// A node is written with [`regular`](Self::regular), [`symlink`](Self::symlink) or
/// [`start_directory`](Self::start_directory). Inside a directory, each entry is
/// [`entry`](Self::entry) (its name) followed by its node, and
/// [`end_directory`](Self::end_directory) closes the directory. [`finish`](Self::finish) checks
/// that the archive is complete and flushes it. Entry names must be valid and strictly
/// increasing within a directory, and symlink targets valid (see the [module](super) docs):
/// whatever this writes, [`NarReader`](super::NarReader) accepts.
///
/// Output is gathered in one internal buffer (also used to read file contents into), so `out`
/// sees few, large writes and need not be buffered.
///
/// ```
/// use kiln_formats::nar::NarWriter;
/// let mut w = NarWriter::new(Vec::new());
/// w.start_directory()?;
/// w.entry(b"hello")?;
/// w.regular(false, 3, &b"hi\n"[..])?;
/// w.end_directory()?;
/// let nar = w.finish()?;
/// # Ok::<(), kiln_formats::nar::NarError>(())
/// ```
pub struct NarWriter<W: Write> {
    out: W,
    buf: Box<[u8]>,
    /// Bytes of `buf` in use.
    pos: usize,
    /// Bytes handed to `out` so far.
    flushed: u64,
    /// One element per open directory: the name of its last entry.
    dirs: Vec<Option<Vec<u8>>>,
    /// Whether the next call must write a node.
    expect_node: bool,
}

impl<W: Write> NarWriter<W> {
    /// Starts an archive written to `out`.
    pub fn new(out: W) -> Self {
        let mut w = NarWriter {
            out,
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            pos: 0,
            flushed: 0,
            dirs: Vec::new(),
            expect_node: true,
        };
        // The buffer is empty, so these cannot fail.
        let _ = w.put_str(MAGIC);
        w
    }

    /// Writes a regular file node with `size` bytes of contents read from `contents`.
    ///
    /// Reading stops after `size` bytes; if `contents` ends earlier, the error is
    /// [`NarError::ShortContents`].
    pub fn regular(
        &mut self,
        executable: bool,
        size: u64,
        mut contents: impl Read,
    ) -> Result<(), NarError> {
        self.begin_node()?;
        self.put_str(b"(")?;
        self.put_str(b"type")?;
        self.put_str(b"regular")?;
        if executable {
            self.put_str(b"executable")?;
            self.put_str(b"")?;
        }
        self.put_str(b"contents")?;
        self.put(&size.to_le_bytes())?;
        let mut remaining = size;
        while remaining > 0 {
            if self.buf.len() - self.pos < MIN_READ {
                self.flush_buf()?;
            }
            let room = &mut self.buf[self.pos..];
            let want = room
                .len()
                .min(usize::try_from(remaining).unwrap_or(usize::MAX));
            let n = match contents.read(&mut room[..want]) {
                Ok(0) => {
                    return Err(NarError::ShortContents {
                        expected: size,
                        actual: size - remaining,
                    })
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(NarError::ReadContents { source }),
            };
            self.pos += n;
            remaining -= n as u64;
        }
        self.put_padding(size)?;
        self.end_node()
    }

    /// Writes a symlink node pointing to `target`.
    pub fn symlink(&mut self, target: &[u8]) -> Result<(), NarError> {
        let offset = self.offset();
        if target.len() > MAX_TARGET_LEN {
            return Err(NarError::TooLong {
                offset,
                what: "symlink target",
                len: target.len() as u64,
                max: MAX_TARGET_LEN as u64,
            });
        }
        if let Some(reason) = target_problem(target) {
            return Err(NarError::BadTarget {
                offset,
                target: quote(target),
                reason,
            });
        }
        self.begin_node()?;
        self.put_str(b"(")?;
        self.put_str(b"type")?;
        self.put_str(b"symlink")?;
        self.put_str(b"target")?;
        self.put_str(target)?;
        self.end_node()
    }

    /// Starts a directory node; its entries follow, then [`end_directory`](Self::end_directory).
    pub fn start_directory(&mut self) -> Result<(), NarError> {
        if self.dirs.len() >= MAX_DEPTH {
            return Err(NarError::TooDeep {
                offset: self.offset(),
                max: MAX_DEPTH,
            });
        }
        self.begin_node()?;
        self.put_str(b"(")?;
        self.put_str(b"type")?;
        self.put_str(b"directory")?;
        self.dirs.push(None);
        Ok(())
    }

    /// Starts an entry called `name` in the current directory; its node must follow.
    pub fn entry(&mut self, name: &[u8]) -> Result<(), NarError> {
        if self.expect_node {
            return Err(NarError::WriterMisuse(
                "an entry's node must come before the next entry",
            ));
        }
        let offset = self.offset();
        let Some(previous) = self.dirs.last_mut() else {
            return Err(NarError::WriterMisuse("entry outside of a directory"));
        };
        if name.len() > MAX_NAME_LEN {
            return Err(NarError::TooLong {
                offset,
                what: "entry name",
                len: name.len() as u64,
                max: MAX_NAME_LEN as u64,
            });
        }
        if let Some(reason) = name_problem(name) {
            return Err(NarError::BadName {
                offset,
                name: quote(name),
                reason,
            });
        }
        match previous.as_deref() {
            Some(p) if p == name => {
                return Err(NarError::Duplicate {
                    offset,
                    name: quote(name),
                })
            }
            Some(p) if p > name => {
                return Err(NarError::Unsorted {
                    offset,
                    name: quote(name),
                    previous: quote(p),
                })
            }
            _ => {}
        }
        match previous {
            Some(p) => {
                p.clear();
                p.extend_from_slice(name);
            }
            None => *previous = Some(name.to_vec()),
        }
        self.put_str(b"entry")?;
        self.put_str(b"(")?;
        self.put_str(b"name")?;
        self.put_str(name)?;
        self.put_str(b"node")?;
        self.expect_node = true;
        Ok(())
    }

    /// Ends the innermost open directory.
    pub fn end_directory(&mut self) -> Result<(), NarError> {
        if self.expect_node || self.dirs.is_empty() {
            return Err(NarError::WriterMisuse("no directory to end here"));
        }
        self.dirs.pop();
        self.end_node()
    }

    /// Checks that the archive is complete, writes out what is buffered, flushes `out` and
    /// returns it.
    pub fn finish(mut self) -> Result<W, NarError> {
        if self.expect_node || !self.dirs.is_empty() {
            return Err(NarError::WriterMisuse("the archive is not complete"));
        }
        self.flush_buf()?;
        self.out
            .flush()
            .map_err(|source| NarError::Write { source })?;
        Ok(self.out)
    }

    /// The number of bytes of archive produced so far.
    pub fn offset(&self) -> u64 {
        self.flushed + self.pos as u64
    }

    fn begin_node(&mut self) -> Result<(), NarError> {
        if !self.expect_node {
            return Err(NarError::WriterMisuse(if self.dirs.is_empty() {
                "the archive has only one root node"
            } else {
                "a node inside a directory must follow an entry"
            }));
        }
        self.expect_node = false;
        Ok(())
    }

    /// Closes a node and, inside a directory, the entry it belongs to.
    fn end_node(&mut self) -> Result<(), NarError> {
        self.put_str(b")")?;
        if !self.dirs.is_empty() {
            self.put_str(b")")?;
        }
        Ok(())
    }

    fn put_str(&mut self, s: &[u8]) -> Result<(), NarError> {
        self.put(&(s.len() as u64).to_le_bytes())?;
        self.put(s)?;
        self.put_padding(s.len() as u64)
    }

    fn put_padding(&mut self, len: u64) -> Result<(), NarError> {
        let pad = (8 - (len % 8) as usize) % 8;
        self.put(&[0; 8][..pad])
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), NarError> {
        if self.buf.len() - self.pos < bytes.len() {
            self.flush_buf()?;
            if bytes.len() > self.buf.len() {
                self.flushed += bytes.len() as u64;
                return self
                    .out
                    .write_all(bytes)
                    .map_err(|source| NarError::Write { source });
            }
        }
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
        Ok(())
    }

    fn flush_buf(&mut self) -> Result<(), NarError> {
        if self.pos > 0 {
            self.out
                .write_all(&self.buf[..self.pos])
                .map_err(|source| NarError::Write { source })?;
            self.flushed += self.pos as u64;
            self.pos = 0;
        }
        Ok(())
    }
}
