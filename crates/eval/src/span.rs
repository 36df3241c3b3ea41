//! Source files, byte spans and their line:column form.

use std::fmt;

/// Identifies one source file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range `start..end` in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file the range is in.
    pub file: FileId,
    /// Offset of the first byte.
    pub start: u32,
    /// Offset one past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from `start` to `end` in `file`.
    pub fn new(file: FileId, start: u32, end: u32) -> Span {
        Span { file, start, end }
    }

    /// The smallest span covering both `self` and `other` (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A 1-based line and column; the column counts bytes, as Nix does (a UTF-8 `é` is two columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineCol {
    /// Line number, from 1.
    pub line: u32,
    /// Byte column, from 1.
    pub col: u32,
}

impl fmt::Display for LineCol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

struct SourceFile {
    name: String,
    text: Vec<u8>,
    /// Offsets at which each line starts (the first is 0), computed when first needed: most
    /// files never have a position shown.
    line_starts: std::sync::OnceLock<Vec<u32>>,
}

/// The source files of a session: maps a [`FileId`] to its name and bytes, and offsets to
/// line:column positions.
#[derive(Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file and returns its id. `name` is what locations print (usually its path).
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<Vec<u8>>) -> FileId {
        let text = text.into();
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile {
            name: name.into(),
            text,
            line_starts: std::sync::OnceLock::new(),
        });
        id
    }

    /// How many files the map holds.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Tells whether the map holds no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Tells whether `file` is one of this map's files (errors of builtins may carry none).
    pub fn contains(&self, file: FileId) -> bool {
        (file.0 as usize) < self.files.len()
    }

    /// The name a file was added with.
    pub fn name(&self, file: FileId) -> &str {
        &self.files[file.0 as usize].name
    }

    /// The bytes of a file.
    pub fn text(&self, file: FileId) -> &[u8] {
        &self.files[file.0 as usize].text
    }

    /// The line and byte column of `offset` in `file` (a line ends at `\n`, or at a `\r` not
    /// followed by one, as in Nix: old Mac files).
    pub fn line_col(&self, file: FileId, offset: u32) -> LineCol {
        let f = &self.files[file.0 as usize];
        let starts = f.line_starts.get_or_init(|| {
            let text = &f.text;
            let mut starts = vec![0];
            starts.extend(
                text.iter()
                    .enumerate()
                    .filter(|&(i, &b)| {
                        b == b'\n' || (b == b'\r' && text.get(i + 1) != Some(&b'\n'))
                    })
                    .map(|(i, _)| i as u32 + 1),
            );
            starts
        });
        let line = starts.partition_point(|&s| s <= offset) - 1;
        LineCol {
            line: line as u32 + 1,
            col: offset - starts[line] + 1,
        }
    }

    /// `NAME:LINE:COL` for the start of `span`, the form Nix prints locations in.
    pub fn location(&self, span: Span) -> String {
        format!(
            "{}:{}",
            self.name(span.file),
            self.line_col(span.file, span.start)
        )
    }
}
