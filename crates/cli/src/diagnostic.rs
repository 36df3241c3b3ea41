//! Rendering evaluation errors the way Nix prints them: the message, `at FILE:LINE:COL:`, and a
//! code frame with the line before and after and a caret under the column.

use kiln_eval::{ErrorKind, EvalError, SourceMap, Span};

const INDENT: &str = "       ";

/// Renders an evaluation error (without the leading `error: `, which the caller prints).
pub fn render(sources: &SourceMap, err: &EvalError) -> String {
    let mut out = String::new();
    if let ErrorKind::Syntax(rendered) = &err.kind {
        // Syntax errors come already rendered as `FILE:LINE:COL: message` lines.
        out.push_str(rendered);
        return out;
    }
    out.push_str(&err.kind.to_string());
    if let Some(span) = err.span {
        push_frame(&mut out, sources, span);
    }
    if let ErrorKind::MissingAttr { suggestions, .. } = &err.kind {
        if !suggestions.is_empty() {
            out.push('\n');
            out.push_str(INDENT);
            out.push_str("Did you mean ");
            out.push_str(&join_suggestions(suggestions));
            out.push('?');
        }
    }
    for frame in &err.trace {
        out.push('\n');
        out.push_str(INDENT);
        out.push_str("… ");
        out.push_str(&frame.message);
        if let Some(span) = frame.span {
            push_frame(&mut out, sources, span);
        }
    }
    out
}

fn join_suggestions(s: &[String]) -> String {
    match s {
        [one] => one.clone(),
        [init @ .., last] => format!("one of {} or {last}", init.join(", ")),
        [] => String::new(),
    }
}

fn push_frame(out: &mut String, sources: &SourceMap, span: Span) {
    if !sources.contains(span.file) {
        return;
    }
    let lc = sources.line_col(span.file, span.start);
    out.push('\n');
    out.push_str(INDENT);
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
        out.push_str(&format!("    {INDENT}{:>width$}| {line}", i + 1));
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
