//! `kiln search [REGEX…]`: the packages of a package set whose attribute path, name or
//! description matches every regular expression (case-insensitive), as `nix search` finds and
//! prints them.
//!
//! The set is a file (`-f FILE`, default `<nixpkgs>`), called with `{ }` (and `--arg`s) if it
//! is a function. Its top-level attributes are searched, and below them the sets marked
//! `recurseForDerivations = true` (as `nix search` does in a flake's `legacyPackages`). Only a
//! derivation's `name` and `meta.description` are evaluated (nothing is instantiated), and a
//! package whose evaluation fails is skipped. Output, as Nix 2.26's: `* ATTR (VERSION)` and
//! the description indented, the matches highlighted in green, a blank line between packages;
//! with `--json` one object, `{ ATTR: { pname, version, description } }`. `-e REGEX` excludes
//! packages any of whose fields it matches. No match is an error.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use kiln_eval::value::Attrs;
use kiln_eval::{Eval, EvalResult, Value};
use kiln_session::{AutoArg, EvalConfig, Source, StoreMode};
use regex::{Regex, RegexBuilder};

use crate::cli::GlobalArgs;

/// Arguments of `kiln search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Regular expressions a package's attribute path, name or description must each match
    regex: Vec<String>,
    /// The package set to search (default: <nixpkgs>)
    #[arg(long, short = 'f')]
    file: Option<PathBuf>,
    /// Leave out packages this regular expression matches; repeatable
    #[arg(long, short = 'e')]
    exclude: Vec<String>,
    /// Print the results as one JSON object
    #[arg(long)]
    json: bool,
    /// Pass NAME = EXPR to the package set's function
    #[arg(long, num_args = 2, value_names = ["NAME", "EXPR"])]
    arg: Vec<String>,
    /// Pass NAME = STRING to the package set's function
    #[arg(long, num_args = 2, value_names = ["NAME", "STRING"])]
    argstr: Vec<String>,
    /// Add a search path entry (`nixpkgs=/path` or `/path`) for `<...>` lookups
    #[arg(short = 'I', long = "include")]
    include: Vec<String>,
    /// Show every frame of an error's trace
    #[arg(long)]
    show_trace: bool,
}

/// One package found.
struct Found {
    attr_path: String,
    pname: String,
    version: String,
    description: String,
}

const GREEN: &str = "\x1b[32;1m";
const BOLD: &str = "\x1b[0;1m";
const NORMAL: &str = "\x1b[0m";

/// Runs `kiln search`.
pub fn run(
    args: SearchArgs,
    global: &GlobalArgs,
    settings: &kiln_session::Config,
) -> anyhow::Result<()> {
    if args.regex.is_empty() {
        bail!("Must provide at least one regex! To match all packages, use 'kiln search ^'.");
    }
    let compile = |r: &String| RegexBuilder::new(r).case_insensitive(true).build();
    let regexes: Vec<Regex> = args.regex.iter().map(compile).collect::<Result<_, _>>()?;
    let excludes: Vec<Regex> = args.exclude.iter().map(compile).collect::<Result<_, _>>()?;
    let host = crate::host();
    let config = EvalConfig {
        settings: kiln_eval::EvalSettings {
            nix_path: kiln_session::search_path(&args.include, host.nix_path.as_deref()),
            ..settings.eval_settings()?
        },
        store: StoreMode::ReadOnly {
            fetch_root: host.store_root(global.store.as_deref()),
        },
        fetch: settings.fetch_settings()?,
        reporter: Some(std::sync::Arc::new(crate::report::StderrReporter)),
    };
    let mut auto = crate::commands::eval::pairs(&args.arg, AutoArg::Expr);
    auto.extend(crate::commands::eval::pairs(&args.argstr, AutoArg::Str));
    let file = args.file.unwrap_or_else(|| PathBuf::from("<nixpkgs>"));
    let show_trace = args.show_trace;
    let found = kiln_session::evaluate(config, move |s| {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let file_text = file.to_string_lossy();
        let root = if file_text.starts_with('<') && file_text.ends_with('>') {
            let v = s.ev.eval_string(file_text.as_bytes(), &cwd)?;
            match s.ev.force(v)? {
                Value::Path(p) => {
                    use std::os::unix::ffi::OsStrExt as _;
                    let p = PathBuf::from(std::ffi::OsStr::from_bytes(p.bytes));
                    s.load(&Source::File(p), &cwd)?
                }
                other => other,
            }
        } else {
            s.load(&Source::File(file), &cwd)?
        };
        let auto = s.auto_args(&auto, &cwd)?;
        let root = s.auto_call(root, auto)?;
        let mut found = Vec::new();
        let mut walker = Walker {
            regexes: &regexes,
            excludes: &excludes,
            found: &mut found,
        };
        if let Value::Attrs(a) = root {
            walker.walk(&mut s.ev, a, &mut Vec::new())?;
        }
        Ok(found)
    })
    .map_err(|e| crate::evaluate::session_failure(e, show_trace))?;
    if found.is_empty() {
        bail!("no results for the given search term(s)!");
    }
    let mut out = crate::output::stdout();
    if args.json {
        let mut obj = serde_json::Map::new();
        for f in &found {
            obj.insert(
                f.attr_path.clone(),
                serde_json::json!({
                    "description": f.description,
                    "pname": f.pname,
                    "version": f.version,
                }),
            );
        }
        writeln!(out, "{}", serde_json::Value::Object(obj))?;
    } else {
        let regexes: Vec<Regex> = args.regex.iter().map(compile).collect::<Result<_, _>>()?;
        for (i, f) in found.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            write!(
                out,
                "* {BOLD}{}{NORMAL}",
                highlight(&f.attr_path, &regexes, BOLD)
            )?;
            if !f.version.is_empty() {
                write!(out, " ({})", f.version)?;
            }
            writeln!(out)?;
            if !f.description.is_empty() {
                writeln!(out, "  {}", highlight(&f.description, &regexes, NORMAL))?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// `text` with every match of `regexes` in green, followed by `after` (the surrounding
/// style); overlapping matches are merged.
fn highlight(text: &str, regexes: &[Regex], after: &str) -> String {
    let mut spans: Vec<(usize, usize)> = regexes
        .iter()
        .flat_map(|r| r.find_iter(text).map(|m| (m.start(), m.end())))
        .collect();
    spans.sort();
    spans.dedup();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start < last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let mut out = String::new();
    let mut at = 0;
    for (start, end) in merged {
        out.push_str(&text[at..start]);
        out.push_str(GREEN);
        out.push_str(&text[start..end]);
        out.push_str(after);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

struct Walker<'r> {
    regexes: &'r [Regex],
    excludes: &'r [Regex],
    found: &'r mut Vec<Found>,
}

impl Walker<'_> {
    /// Searches a set's attributes in name order; `path` is the set's attribute path.
    fn walk<'a>(
        &mut self,
        ev: &mut Eval<'a>,
        attrs: &'a Attrs<'a>,
        path: &mut Vec<String>,
    ) -> EvalResult<()> {
        let recurse_sym = ev.sym(b"recurseForDerivations");
        for (name, value) in kiln_eval::print::sorted_attrs(ev, attrs) {
            path.push(String::from_utf8_lossy(ev.interner.resolve(name)).into_owned());
            // A package whose evaluation fails is left out.
            if let Ok(Value::Attrs(a)) = ev.force(value) {
                match ev.is_derivation(a) {
                    Ok(true) => {
                        if let Ok(Some(f)) = self.package(ev, a, path) {
                            self.found.push(f);
                        }
                    }
                    Ok(false) => {
                        let recurse = match a.get(recurse_sym).map(|r| ev.force(r.value)) {
                            Some(Ok(Value::Bool(b))) => b,
                            _ => false,
                        };
                        if recurse {
                            self.walk(ev, a, path)?;
                        }
                    }
                    Err(_) => {}
                }
            }
            path.pop();
        }
        Ok(())
    }

    /// The package at `path`, if the regular expressions select it.
    fn package<'a>(
        &self,
        ev: &mut Eval<'a>,
        drv: &'a Attrs<'a>,
        path: &[String],
    ) -> EvalResult<Option<Found>> {
        let name_sym = ev.syms.name;
        let name = match drv.get(name_sym).map(|n| ev.force(n.value)).transpose()? {
            Some(Value::String(s)) => String::from_utf8_lossy(s.bytes).into_owned(),
            _ => return Ok(None),
        };
        let meta_sym = ev.sym(b"meta");
        let description_sym = ev.sym(b"description");
        let description = match drv.get(meta_sym).map(|m| ev.force(m.value)).transpose()? {
            Some(Value::Attrs(m)) => {
                match m
                    .get(description_sym)
                    .map(|d| ev.force(d.value))
                    .transpose()?
                {
                    Some(Value::String(s)) => String::from_utf8_lossy(s.bytes).into_owned(),
                    _ => String::new(),
                }
            }
            _ => String::new(),
        };
        let (pname, version) = kiln_formats::drv_name::parse(&name);
        let attr_path = path.join(".");
        let fields = [attr_path.as_str(), pname, description.as_str()];
        let selected = self
            .regexes
            .iter()
            .all(|r| fields.iter().any(|f| r.is_match(f)))
            && !self
                .excludes
                .iter()
                .any(|r| fields.iter().any(|f| r.is_match(f)));
        Ok(selected.then(|| Found {
            pname: pname.to_owned(),
            version: version.to_owned(),
            attr_path,
            description,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::{highlight, Regex, GREEN, NORMAL};

    #[test]
    fn matches_are_highlighted_once() {
        let r = [Regex::new("el").unwrap(), Regex::new("ell").unwrap()];
        assert_eq!(
            highlight("hello", &r, NORMAL),
            format!("h{GREEN}ell{NORMAL}o")
        );
        let empty = [Regex::new("^").unwrap()];
        assert_eq!(
            highlight("ab", &empty, NORMAL),
            format!("{GREEN}{NORMAL}ab")
        );
    }
}
