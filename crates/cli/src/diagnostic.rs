//! Rendering evaluation errors the way Nix prints them: the message, `at FILE:LINE:COL:`, and a
//! code frame with the line before and after and a caret under the column.

use kiln_eval::{ErrorKind, EvalError, SourceMap, Span, TraceFrame};

const INDENT: &str = "       ";

/// Renders an evaluation error (without the leading `error: `, which the caller prints).
///
/// Trace frames print outermost first, each with its code frame, before the message, as
/// current Nix does. Without `show_trace`, the frames of function calls
/// ([`TraceFrame::verbose`]) are left out and at most two others are shown, then a note that
/// the trace was truncated (the limit Nix 2.26 was seen to apply).
pub fn render(sources: &SourceMap, err: &EvalError, show_trace: bool) -> String {
    let frames: Vec<&TraceFrame> = err.trace.iter().rev().collect();
    let (shown, truncated): (Vec<&TraceFrame>, bool) = if show_trace {
        (frames, false)
    } else {
        let frames: Vec<&TraceFrame> = frames.into_iter().filter(|f| !f.verbose).collect();
        let n = frames.len();
        (
            frames.into_iter().take(MAX_FRAMES).collect(),
            n > MAX_FRAMES,
        )
    };
    let mut out = String::new();
    if !shown.is_empty() {
        for frame in shown {
            out.push('\n');
            out.push_str(INDENT);
            out.push_str("… ");
            out.push_str(&frame.message);
            if let Some(span) = frame.span {
                push_frame(&mut out, sources, span, "  ");
            }
            out.push('\n');
        }
        if truncated {
            out.push('\n');
            out.push_str(INDENT);
            out.push_str(
                "(stack trace truncated; use '--show-trace' to show the full, detailed trace)\n",
            );
        }
        out.push('\n');
        out.push_str(INDENT);
        out.push_str("error: ");
    }
    out.push_str(&err.kind.to_string());
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
            out.push_str(&join_suggestions(suggestions));
            out.push('?');
        }
    }
    out
}

/// How many trace frames an error without a position shows without `--show-trace`.
const MAX_FRAMES: usize = 2;

/// Joins suggestions as Nix does: `a`, or `one of a, b or c`.
pub fn join_suggestions(s: &[String]) -> String {
    match s {
        [one] => one.clone(),
        [init @ .., last] => format!("one of {} or {last}", init.join(", ")),
        [] => String::new(),
    }
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
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let line_idx = lc.line as usize - 1;
    let first = line_idx.saturating_sub(1);
    let last = (line_idx + 1).min(lines.len().saturating_sub(1));
    let width = (last + 1).to_string().len().max(2);
    for (i, line) in lines.iter().enumerate().take(last + 1).skip(first) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r');
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
