//! The compressions a cache's NARs come in, by Nix's names: `xz` (Nix's default for uploads),
//! `zstd`, `bzip2` (what a narinfo without `Compression` means) and `none`.

use std::io::{self, Read, Write};

/// A NAR file's compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Stored as is (`.nar`).
    None,
    /// `.nar.xz`, the default.
    Xz,
    /// `.nar.zst`.
    Zstd,
    /// `.nar.bz2`.
    Bzip2,
}

impl Compression {
    /// Parses Nix's name for it (`xz`, `zstd`, `bzip2`, `none`; empty means `bzip2`, as in a
    /// narinfo).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "none" => Self::None,
            "xz" => Self::Xz,
            "zstd" => Self::Zstd,
            "bzip2" | "" => Self::Bzip2,
            _ => return None,
        })
    }

    /// Nix's name for it, as written in `Compression:`.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Xz => "xz",
            Self::Zstd => "zstd",
            Self::Bzip2 => "bzip2",
        }
    }

    /// The file name extension after `.nar`.
    pub fn extension(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Xz => ".xz",
            Self::Zstd => ".zst",
            Self::Bzip2 => ".bz2",
        }
    }

    /// Wraps `r` so that reading it gives the decompressed bytes.
    pub(crate) fn decoder<'r>(
        self,
        r: Box<dyn Read + Send + 'r>,
    ) -> io::Result<Box<dyn Read + Send + 'r>> {
        Ok(match self {
            Self::None => r,
            Self::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(io::BufReader::new(
                r,
            ))),
            Self::Zstd => Box::new(zstd::Decoder::new(r)?),
            Self::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(io::BufReader::new(r))),
        })
    }

    /// A writer that compresses into `w`; [`Encoder::finish`] ends the stream and returns `w`.
    pub(crate) fn encoder<W: Write>(self, w: W) -> io::Result<Encoder<W>> {
        Ok(match self {
            Self::None => Encoder::None(w),
            // Level 6, xz's and Nix's default.
            Self::Xz => Encoder::Xz(xz2::write::XzEncoder::new(w, 6)),
            Self::Zstd => Encoder::Zstd(zstd::Encoder::new(w, 3)?),
            Self::Bzip2 => {
                Encoder::Bzip2(bzip2::write::BzEncoder::new(w, bzip2::Compression::best()))
            }
        })
    }
}

/// A compressing writer (see [`Compression::encoder`]).
pub(crate) enum Encoder<W: Write> {
    None(W),
    Xz(xz2::write::XzEncoder<W>),
    Zstd(zstd::Encoder<'static, W>),
    Bzip2(bzip2::write::BzEncoder<W>),
}

impl<W: Write> Encoder<W> {
    /// Ends the compressed stream and returns the inner writer.
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Self::None(w) => Ok(w),
            Self::Xz(e) => e.finish(),
            Self::Zstd(e) => e.finish(),
            Self::Bzip2(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::None(w) => w.write(buf),
            Self::Xz(e) => e.write(buf),
            Self::Zstd(e) => e.write(buf),
            Self::Bzip2(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::None(w) => w.flush(),
            Self::Xz(e) => e.flush(),
            Self::Zstd(e) => e.flush(),
            Self::Bzip2(e) => e.flush(),
        }
    }
}
