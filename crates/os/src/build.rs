//! Building a configuration's toplevel: `(import <kiln/os> { configuration = …; }).toplevel`
//! evaluated through `kiln_session::evaluate` (writing `.drv` files to the root's store), then
//! realised by the caller's [`Realiser`], so the CLI keeps its progress display.

use std::path::{Path, PathBuf};

use kiln_formats::store_path::StorePath;
use kiln_profile::Realiser;
use kiln_session::{EvalConfig, Source};
use kiln_store::LocalStore;

use crate::error::OsError;

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Configuration {
    /// A file: the module itself, or with a host name a set (or a function taking `{ }` and
    /// returning one) of modules by host name.
    File(PathBuf),
    /// `<nixos-config>` on the search path (`-I nixos-config=…`, `NIX_PATH`).
    SearchPath,
}

/// Quotes `s` as a Nix string literal.
pub fn nix_string(s: &str) -> String {
    let mut res = String::from("\"");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => res.push_str("\\\""),
            '\\' => res.push_str("\\\\"),
            '\n' => res.push_str("\\n"),
            '\r' => res.push_str("\\r"),
            '\t' => res.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => res.push_str("\\$"),
            c => res.push(c),
        }
    }
    res.push('"');
    res
}

/// The expression whose value is the configuration's module: the file, or its host's entry.
pub fn configuration_expr(config: &Configuration, host: Option<&str>, cwd: &Path) -> String {
    let file = match config {
        Configuration::File(f) => {
            let abs = if f.is_absolute() {
                f.clone()
            } else {
                cwd.join(f)
            };
            format!("(/. + {})", nix_string(&abs.to_string_lossy()))
        }
        Configuration::SearchPath => "<nixos-config>".to_owned(),
    };
    match host {
        None => file,
        Some(h) => format!(
            "(let v = import {file}; hosts = if builtins.isFunction v then v {{ }} else v; in \
             hosts.${{{}}})",
            nix_string(h)
        ),
    }
}

/// The expression whose value is `(import <kiln/os> { configuration; })`, then `.select` (such
/// as `toplevel`, or `config.networking.hostName`; empty for the whole set).
pub fn os_expr(config: &Configuration, host: Option<&str>, cwd: &Path, select: &str) -> String {
    select_in(
        &format!(
            "(import <kiln/os> {{ configuration = {}; }})",
            configuration_expr(config, host, cwd)
        ),
        select,
    )
}

/// `expr.select`, each part of `select` quoted.
pub(crate) fn select_in(expr: &str, select: &str) -> String {
    let mut expr = expr.to_owned();
    for part in select.split('.').filter(|p| !p.is_empty()) {
        expr.push_str(&format!(".${{{}}}", nix_string(part)));
    }
    expr
}

/// Evaluates the configuration's toplevel to its derivation, writing the `.drv` files into the
/// store `eval` names.
pub fn instantiate(
    eval: EvalConfig,
    config: &Configuration,
    host: Option<&str>,
    cwd: &Path,
) -> Result<kiln_session::DrvOutput, OsError> {
    instantiate_expr(eval, os_expr(config, host, cwd, "toplevel"), cwd)
}

/// Evaluates `expr`, which must be one derivation, writing the `.drv` files into the store.
pub fn instantiate_expr(
    eval: EvalConfig,
    expr: String,
    cwd: &Path,
) -> Result<kiln_session::DrvOutput, OsError> {
    let source = Source::Expr(expr);
    let cwd = cwd.to_owned();
    let mut drvs = kiln_session::evaluate(eval, move |s| {
        let v = s.load(&source, &cwd)?;
        s.derivations(v)
    })?;
    if drvs.len() != 1 {
        return Err(OsError::NotOneDerivation { count: drvs.len() });
    }
    Ok(drvs.remove(0))
}

/// Builds the configuration's toplevel in `store`; `None` when the realiser built nothing on
/// purpose (a dry run).
pub fn build(
    eval: EvalConfig,
    store: &LocalStore,
    realiser: &dyn Realiser,
    config: &Configuration,
    host: Option<&str>,
    cwd: &Path,
) -> Result<Option<StorePath>, OsError> {
    build_expr(
        eval,
        store,
        realiser,
        os_expr(config, host, cwd, "toplevel"),
        cwd,
    )
}

/// Builds the one derivation `expr` evaluates to in `store`; `None` for a dry run.
pub fn build_expr(
    eval: EvalConfig,
    store: &LocalStore,
    realiser: &dyn Realiser,
    expr: String,
    cwd: &Path,
) -> Result<Option<StorePath>, OsError> {
    let drv = instantiate_expr(eval, expr, cwd)?;
    let Some(mut outs) = realiser
        .realise(store, &[drv.goal()])
        .map_err(OsError::Realise)?
    else {
        return Ok(None);
    };
    let out = outs
        .pop()
        .and_then(|mut o| o.remove(&drv.output))
        .ok_or(OsError::NotBuilt)?;
    Ok(Some(store.parse_path(&out)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_hosts_are_quoted() {
        assert_eq!(nix_string("a\"b\\c${d}$e"), r#""a\"b\\c\${d}$e""#);
        let e = os_expr(
            &Configuration::File("/x/fleet.nix".into()),
            Some("web"),
            Path::new("/"),
            "toplevel",
        );
        assert_eq!(
            e,
            "(import <kiln/os> { configuration = (let v = import (/. + \"/x/fleet.nix\"); \
             hosts = if builtins.isFunction v then v { } else v; in hosts.${\"web\"}); })\
             .${\"toplevel\"}"
        );
    }
}
