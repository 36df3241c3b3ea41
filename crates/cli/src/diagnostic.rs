//! Rendering evaluation errors the way Nix prints them: the message, `at FILE:LINE:COL:`, and a
//! code frame with the line before and after and a caret under the column.

use kiln_eval::{ErrorKind, EvalError, SourceMap, Span, TraceFrame};

const INDENT: &str = "       ";

/// Renders an evaluation error (without the leading `error: `, which the caller prints).
///
/// Trace frames print outermost first, each with its code frame, before the message, as
/// current Nix does. Without `show_trace`, the frames of function calls
/// ([`TraceFrame::verbose`], which Nix records only then) are left out, and Nix's budget
/// applies: a frame costs one, two if it has a position, and once more than three have been
/// spent the rest is cut with a note. A frame equal to one already printed (same message and
/// position) is held back (frames of `addErrorContext` print even after the cut); up to five such in a row print when a new frame follows, more
/// become "(N duplicate frames omitted)".
pub fn render(sources: &SourceMap, err: &EvalError, show_trace: bool) -> String {
    // Nix exits on its stack overflow with the message alone.
    if matches!(err.kind, ErrorKind::NestingTooDeep) {
        return err.kind.to_string();
    }
    let mut out = String::new();
    if !err.trace.is_empty() {
        let mut seen: Vec<&TraceFrame> = Vec::new();
        let mut skipped: Vec<&TraceFrame> = Vec::new();
        let mut count = 0usize;
        let mut truncated = false;
        for frame in err.trace.iter().rev() {
            if frame.message.is_empty() || (frame.verbose && !show_trace) {
                continue;
            }
            if !show_trace && count > 3 {
                truncated = true;
            }
            if truncated && !frame.always {
                continue;
            }
            if seen.iter().any(|f| same_frame(f, frame)) {
                skipped.push(frame);
                continue;
            }
            seen.push(frame);
            flush_skipped(&mut out, sources, &mut count, &mut skipped);
            count += 1;
            push_trace(&mut out, sources, &mut count, frame);
        }
        flush_skipped(&mut out, sources, &mut count, &mut skipped);
        if truncated {
            out.push('\n');
            out.push_str(INDENT);
            out.push_str(
                "(stack trace truncated; use '--show-trace' to show the full, detailed trace)\n",
            );
        }
        if !out.is_empty() {
            out.push('\n');
            out.push_str(INDENT);
            out.push_str("error: ");
        }
    }
    push_indented(&mut out, &err.kind.to_string());
    if let Some(span) = err.span {
        push_frame(&mut out, sources, span, "");
    }
    if let ErrorKind::MissingAttr { suggestions, .. }
    | ErrorKind::UnexpectedArgument { suggestions, .. } = &err.kind
    {
        if !suggestions.is_empty() {
            out.push('\n');
            out.push_str(INDENT);
            out.push_str("Did you mean ");
            out.push_str(&kiln_eval::print::join_suggestions(suggestions));
            out.push('?');
        }
    }
    out
}

/// Writes a message whose later lines are indented like the first, as Nix indents its whole
/// error.
fn push_indented(out: &mut String, message: &str) {
    out.push_str(&message.replace('\n', &format!("\n{INDENT}")));
}

/// The lines of a source text: ended by `\n`, `\r\n` or a lone `\r`, as Nix counts them.
fn split_lines(text: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                if text.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    lines.push(&text[start..]);
    lines
}

/// Tells whether two frames are the same for Nix's duplicate check: message and position.
fn same_frame(a: &TraceFrame, b: &TraceFrame) -> bool {
    a.message == b.message && a.span.map(|s| (s.file, s.start)) == b.span.map(|s| (s.file, s.start))
}

/// Prints one frame; one with a position counts once more against the budget.
fn push_trace(out: &mut String, sources: &SourceMap, count: &mut usize, frame: &TraceFrame) {
    out.push('\n');
    out.push_str(INDENT);
    out.push_str("… ");
    push_indented(out, &frame.message);
    if let Some(span) = frame.span.filter(|s| sources.contains(s.file)) {
        push_frame(out, sources, span, "  ");
        *count += 1;
    }
    out.push('\n');
}

/// Prints the duplicates held back: each, if at most five, else a count of them. (Nix's code
/// means to forget the frames seen after a count, but clears a copy: they stay seen.)
fn flush_skipped(
    out: &mut String,
    sources: &SourceMap,
    count: &mut usize,
    skipped: &mut Vec<&TraceFrame>,
) {
    if skipped.len() > 5 {
        out.push('\n');
        out.push_str(INDENT);
        out.push_str(&format!("({} duplicate frames omitted)\n", skipped.len()));
    } else {
        for frame in skipped.iter() {
            push_trace(out, sources, count, frame);
        }
    }
    skipped.clear();
}

/// The first of the private-use characters that stand for the bytes of a source line that
/// are not UTF-8 (U+10FF00 + byte).
const RAW_BYTE_BASE: u32 = 0x10_FF00;

/// A source line for a code frame. Nix prints a line's bytes as they are; those that are
/// not UTF-8 are carried here as private-use characters, which [`raw_bytes`] turns back
/// into the bytes when the message is written.
fn line_text(line: &[u8]) -> String {
    let mut out = String::with_capacity(line.len());
    for chunk in line.utf8_chunks() {
        out.push_str(chunk.valid());
        for &b in chunk.invalid() {
            out.push(char::from_u32(RAW_BYTE_BASE + u32::from(b)).expect("a private-use char"));
        }
    }
    out
}

/// A rendered message as the bytes to write: the characters [`line_text`] made for bytes
/// that are not UTF-8 become those bytes again.
pub fn raw_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match u32::from(c).checked_sub(RAW_BYTE_BASE) {
            Some(b) if b <= 0xff => out.push(b as u8),
            _ => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out
}

/// Writes `at FILE:LINE:COL:` (after `extra` indentation) and the code frame of `span`.
fn push_frame(out: &mut String, sources: &SourceMap, span: Span, extra: &str) {
    if !sources.contains(span.file) {
        return;
    }
    let lc = sources.line_col(span.file, span.start);
    out.push('\n');
    out.push_str(INDENT);
    out.push_str(extra);
    out.push_str(&format!(
        "at {}:{}:{}:",
        sources.name(span.file),
        lc.line,
        lc.col
    ));
    let text = sources.text(span.file);
    let lines = split_lines(text);
    let line_idx = lc.line as usize - 1;
    let first = line_idx.saturating_sub(1);
    let last = (line_idx + 1).min(lines.len().saturating_sub(1));
    let width = (last + 1).to_string().len().max(2);
    for (i, line) in lines.iter().enumerate().take(last + 1).skip(first) {
        let line = line_text(line);
        // Nix shows lines without their trailing blanks.
        let line = line.trim_end_matches([' ', '\t', '\r']);
        out.push('\n');
        // Nix writes no space after the bar of an empty line.
        let sep = if line.is_empty() { "" } else { " " };
        out.push_str(&format!("    {INDENT}{:>width$}|{sep}{line}", i + 1));
        if i == line_idx {
            out.push('\n');
            out.push_str(&format!(
                "    {INDENT}{:>width$}| {}^",
                "",
                " ".repeat(lc.col as usize - 1)
            ));
        }
    }
}
