//! The streaming NAR parser.

use std::io::{self, Read};

use super::MAX_TARGET_LEN;
use super::{name_problem, quote, target_problem, NarError, MAGIC, MAX_DEPTH, MAX_NAME_LEN};

/// The longest keyword token the grammar has is "nix-archive-1"; anything longer than this is
/// refused without being read whole.
const MAX_TOKEN_LEN: u64 = 64;

/// One step through an archive, in archive order (depth first, entries sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A directory starts; its entries follow as events, then [`Event::DirectoryEnd`].
    Directory {
        /// Its name in the parent directory; `None` for the archive's root.
        name: Option<Vec<u8>>,
    },
    /// The innermost open directory ends.
    DirectoryEnd,
    /// A regular file. Its contents can be read with [`NarReader::read_contents`] (or through
    /// `Read`) before the next call to [`NarReader::next`], which skips what was not read.
    Regular {
        /// Its name in the parent directory; `None` for the archive's root.
        name: Option<Vec<u8>>,
        /// Whether it is executable.
        executable: bool,
        /// The size of its contents in bytes.
        size: u64,
    },
    /// A symbolic link.
    Symlink {
        /// Its name in the parent directory; `None` for the archive's root.
        name: Option<Vec<u8>>,
        /// Where it points.
        target: Vec<u8>,
    },
}

/// Where the parser is in the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing read yet.
    Start,
    /// Inside a regular file's contents, with this many bytes left.
    Contents { remaining: u64, size: u64 },
    /// A node was completed.
    AfterNode,
    /// Inside a directory, before an entry or its end.
    InDirectory,
    /// The archive ended (and nothing follows it).
    Done,
    /// An error about this offset was returned; the stream position is meaningless.
    Failed { offset: u64 },
}

/// A streaming pull parser for NAR, checking the archive is canonical as it goes.
///
/// Call [`next`](Self::next) until it returns `Ok(None)`: only then has the whole archive
/// (including the absence of trailing data) been checked. After an error, `next` and
/// `read_contents` return [`NarError::AlreadyFailed`]. The reader issues many small reads, so `R` should be buffered (e.g. a
/// `BufReader`) unless it is in memory.
///
/// ```
/// use kiln_formats::nar::{Event, NarReader, NarWriter};
/// let mut w = NarWriter::new(Vec::new());
/// w.symlink(b"target")?;
/// let nar = w.finish()?;
/// let mut r = NarReader::new(&nar[..]);
/// assert_eq!(r.next()?, Some(Event::Symlink { name: None, target: b"target".to_vec() }));
/// assert_eq!(r.next()?, None);
/// # Ok::<(), kiln_formats::nar::NarError>(())
/// ```
pub struct NarReader<R: Read> {
    inner: R,
    /// Bytes consumed from `inner`.
    offset: u64,
    state: State,
    /// One element per open directory: the name of its last entry.
    dirs: Vec<Option<Vec<u8>>>,
    /// Scratch space for tokens and skipped contents.
    scratch: Vec<u8>,
    /// The archive is part of a larger stream: it ends with its last node, and what follows
    /// is not read.
    embedded: bool,
}

impl<R: Read> NarReader<R> {
    /// Starts reading an archive from `inner`.
    pub fn new(inner: R) -> Self {
        NarReader {
            inner,
            offset: 0,
            state: State::Start,
            dirs: Vec::new(),
            scratch: Vec::new(),
            embedded: false,
        }
    }

    /// Starts reading an archive embedded in a larger stream (as in `nix-store --export`):
    /// it ends with its last node, and not one byte after it is read.
    pub fn embedded(inner: R) -> Self {
        NarReader {
            embedded: true,
            ..NarReader::new(inner)
        }
    }

    /// The number of bytes of the archive consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The nesting depth: how many directories are open.
    pub fn depth(&self) -> usize {
        self.dirs.len()
    }

    /// Returns the next event, or `None` once the archive has ended and been fully checked.
    #[allow(clippy::should_implement_trait)] // Fallible, so not an `Iterator`.
    pub fn next(&mut self) -> Result<Option<Event>, NarError> {
        let res = self.step();
        if let Err(e) = &res {
            self.fail(e);
        }
        res
    }

    /// Reads up to `buf.len()` bytes of the current regular file's contents; returns 0 at their
    /// end, or when the last event was not a regular file.
    pub fn read_contents(&mut self, buf: &mut [u8]) -> Result<usize, NarError> {
        let (remaining, size) = match self.state {
            State::Contents { remaining, size } => (remaining, size),
            State::Failed { offset } => return Err(NarError::AlreadyFailed { offset }),
            _ => return Ok(0),
        };
        if remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        match self.read_some(&mut buf[..want]) {
            Ok(n) => {
                self.state = State::Contents {
                    remaining: remaining - n as u64,
                    size,
                };
                Ok(n)
            }
            Err(e) => {
                self.fail(&e);
                Err(e)
            }
        }
    }

    fn fail(&mut self, e: &NarError) {
        if !matches!(self.state, State::Failed { .. }) {
            self.state = State::Failed {
                offset: e.offset().unwrap_or(self.offset),
            };
        }
    }

    fn step(&mut self) -> Result<Option<Event>, NarError> {
        loop {
            match self.state {
                State::Failed { offset } => return Err(NarError::AlreadyFailed { offset }),
                State::Done => return Ok(None),
                State::Start => {
                    let at = self.offset;
                    match self.read_token() {
                        Ok(t) if t == MAGIC => {}
                        Ok(_) | Err(NarError::TooLong { .. }) => {
                            return Err(NarError::BadMagic { offset: at })
                        }
                        Err(e) => return Err(e),
                    }
                    self.expect(b"(", "'('")?;
                    return self.node(None).map(Some);
                }
                State::Contents { remaining, size } => {
                    self.skip(remaining)?;
                    self.read_padding(size)?;
                    self.expect(b")", "')' after file contents")?;
                    self.state = State::AfterNode;
                }
                State::AfterNode => {
                    if self.dirs.is_empty() && self.embedded {
                        self.state = State::Done;
                        return Ok(None);
                    }
                    if self.dirs.is_empty() {
                        let mut byte = [0];
                        if self.read_some_or_eof(&mut byte)? != 0 {
                            return Err(NarError::TrailingData {
                                offset: self.offset - 1,
                            });
                        }
                        self.state = State::Done;
                        return Ok(None);
                    }
                    self.expect(b")", "')' closing a directory entry")?;
                    self.state = State::InDirectory;
                }
                State::InDirectory => {
                    let at = self.offset;
                    let token = self.read_token()?;
                    if token == b")" {
                        self.dirs.pop();
                        self.state = State::AfterNode;
                        return Ok(Some(Event::DirectoryEnd));
                    }
                    if token != b"entry" {
                        return Err(NarError::UnexpectedToken {
                            offset: at,
                            expected: "'entry' or ')'",
                            found: quote(&token),
                        });
                    }
                    self.expect(b"(", "'(' after 'entry'")?;
                    self.expect(b"name", "'name'")?;
                    let name = self.read_name()?;
                    self.expect(b"node", "'node'")?;
                    self.expect(b"(", "'(' after 'node'")?;
                    return self.node(Some(name)).map(Some);
                }
            }
        }
    }

    /// Reads a node after its "(", up to its first event.
    fn node(&mut self, name: Option<Vec<u8>>) -> Result<Event, NarError> {
        self.expect(b"type", "'type'")?;
        let at = self.offset;
        let kind = self.read_token()?;
        match &kind[..] {
            b"regular" => {
                let at = self.offset;
                let mut token = self.read_token()?;
                let executable = token == b"executable";
                if executable {
                    self.expect(b"", "'' after 'executable'")?;
                    token = self.read_token()?;
                }
                if token != b"contents" {
                    return Err(NarError::UnexpectedToken {
                        offset: at,
                        expected: if executable {
                            "'contents'"
                        } else {
                            "'executable' or 'contents'"
                        },
                        found: quote(&token),
                    });
                }
                let size = self.read_u64()?;
                self.state = State::Contents {
                    remaining: size,
                    size,
                };
                Ok(Event::Regular {
                    name,
                    executable,
                    size,
                })
            }
            b"symlink" => {
                self.expect(b"target", "'target'")?;
                let at = self.offset;
                let target = self.read_bounded(MAX_TARGET_LEN as u64, "symlink target")?;
                if let Some(reason) = target_problem(&target) {
                    return Err(NarError::BadTarget {
                        offset: at,
                        target: quote(&target),
                        reason,
                    });
                }
                self.expect(b")", "')' after the symlink target")?;
                self.state = State::AfterNode;
                Ok(Event::Symlink { name, target })
            }
            b"directory" => {
                if self.dirs.len() >= MAX_DEPTH {
                    return Err(NarError::TooDeep {
                        offset: at,
                        max: MAX_DEPTH,
                    });
                }
                self.dirs.push(None);
                self.state = State::InDirectory;
                Ok(Event::Directory { name })
            }
            _ => Err(NarError::UnexpectedToken {
                offset: at,
                expected: "'regular', 'symlink' or 'directory'",
                found: quote(&kind),
            }),
        }
    }

    /// Reads an entry name and checks it against the previous one of the directory.
    fn read_name(&mut self) -> Result<Vec<u8>, NarError> {
        let at = self.offset;
        let name = self.read_bounded(MAX_NAME_LEN as u64, "entry name")?;
        if let Some(reason) = name_problem(&name) {
            return Err(NarError::BadName {
                offset: at,
                name: quote(&name),
                reason,
            });
        }
        let Some(previous) = self.dirs.last_mut() else {
            // The state machine only reads names inside a directory.
            return Err(NarError::UnexpectedToken {
                offset: at,
                expected: "no entry outside a directory",
                found: quote(&name),
            });
        };
        match previous.as_deref() {
            Some(p) if p == &name[..] => {
                return Err(NarError::Duplicate {
                    offset: at,
                    name: quote(&name),
                })
            }
            Some(p) if p > &name[..] => {
                return Err(NarError::Unsorted {
                    offset: at,
                    name: quote(&name),
                    previous: quote(p),
                })
            }
            _ => {}
        }
        *previous = Some(name.clone());
        Ok(name)
    }

    /// Reads a token and checks it is `want`.
    fn expect(&mut self, want: &[u8], expected: &'static str) -> Result<(), NarError> {
        let at = self.offset;
        let token = self.read_token()?;
        if token != want {
            return Err(NarError::UnexpectedToken {
                offset: at,
                expected,
                found: quote(&token),
            });
        }
        Ok(())
    }

    /// Reads a keyword-sized string.
    fn read_token(&mut self) -> Result<Vec<u8>, NarError> {
        self.read_bounded(MAX_TOKEN_LEN, "token")
    }

    /// Reads a string of at most `max` bytes, and its padding.
    fn read_bounded(&mut self, max: u64, what: &'static str) -> Result<Vec<u8>, NarError> {
        let at = self.offset;
        let len = self.read_u64()?;
        if len > max {
            return Err(NarError::TooLong {
                offset: at,
                what,
                len,
                max,
            });
        }
        // `len <= max`, a small constant, so this allocation is bounded.
        let mut s = vec![0; len as usize];
        self.read_exact(&mut s)?;
        self.read_padding(len)?;
        Ok(s)
    }

    fn read_padding(&mut self, len: u64) -> Result<(), NarError> {
        let pad = ((8 - len % 8) % 8) as usize;
        let mut bytes = [0; 8];
        let at = self.offset;
        self.read_exact(&mut bytes[..pad])?;
        match bytes[..pad].iter().position(|&b| b != 0) {
            Some(i) => Err(NarError::BadPadding {
                offset: at + i as u64,
            }),
            None => Ok(()),
        }
    }

    fn read_u64(&mut self) -> Result<u64, NarError> {
        let mut bytes = [0; 8];
        self.read_exact(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    /// Reads and discards `n` bytes.
    fn skip(&mut self, mut n: u64) -> Result<(), NarError> {
        if n > 0 && self.scratch.len() < 64 * 1024 {
            self.scratch.resize(64 * 1024, 0);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let res = (|| {
            while n > 0 {
                let want = scratch.len().min(usize::try_from(n).unwrap_or(usize::MAX));
                n -= self.read_some(&mut scratch[..want])? as u64;
            }
            Ok(())
        })();
        self.scratch = scratch;
        res
    }

    fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<(), NarError> {
        while !buf.is_empty() {
            let n = self.read_some(buf)?;
            buf = &mut buf[n..];
        }
        Ok(())
    }

    /// Reads at least one byte; the end of the stream is an error.
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, NarError> {
        match self.read_some_or_eof(buf)? {
            0 if !buf.is_empty() => Err(NarError::UnexpectedEof {
                offset: self.offset,
            }),
            n => Ok(n),
        }
    }

    fn read_some_or_eof(&mut self, buf: &mut [u8]) -> Result<usize, NarError> {
        loop {
            match self.inner.read(buf) {
                Ok(n) => {
                    let n = n.min(buf.len());
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(NarError::Read {
                        offset: self.offset,
                        source,
                    })
                }
            }
        }
    }
}

/// Reads the current regular file's contents (see [`NarReader::read_contents`]); format errors
/// come back as `io::Error`s of kind `InvalidData` (or `UnexpectedEof`) wrapping the
/// [`NarError`].
impl<R: Read> Read for NarReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_contents(buf).map_err(|e| {
            let kind = match e {
                NarError::UnexpectedEof { .. } => io::ErrorKind::UnexpectedEof,
                NarError::Read { ref source, .. } => source.kind(),
                _ => io::ErrorKind::InvalidData,
            };
            io::Error::new(kind, e)
        })
    }
}

#[cfg(test)]
mod embedded_tests {
    use super::*;

    fn symlink_nar() -> Vec<u8> {
        let mut w = crate::nar::NarWriter::new(Vec::new());
        w.symlink(b"target").unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn an_embedded_archive_stops_at_its_end() {
        let mut stream = symlink_nar();
        let len = stream.len();
        stream.extend_from_slice(b"after the archive");
        let mut input = stream.as_slice();
        let mut r = NarReader::embedded(&mut input);
        assert!(matches!(r.next().unwrap(), Some(Event::Symlink { .. })));
        assert_eq!(r.next().unwrap(), None);
        assert_eq!(r.offset(), len as u64);
        assert_eq!(input, b"after the archive");
        // A standalone archive must end there.
        let mut r = NarReader::new(stream.as_slice());
        r.next().unwrap();
        assert!(matches!(r.next(), Err(NarError::TrailingData { .. })));
    }
}
