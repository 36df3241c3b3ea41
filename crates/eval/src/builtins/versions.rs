//! Versions: `compareVersions`, `splitVersion`, `parseDrvName`, over `kiln_formats::drv_name`
//! (the one copy of Nix's rules, which `nix-env`'s engine uses too).

use std::cmp::Ordering;

use kiln_formats::drv_name;

use super::ArgResult;
use crate::eval::{Eval, EvalResult};
use crate::span::Span;
use crate::value::{Attr, PosIdx, PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "compareVersions",
        compare_versions,
        [
            "s1" => "first argument passed to builtins.compareVersions",
            "s2" => "second argument passed to builtins.compareVersions",
        ],
        "Compares the version strings `s1` and `s2` component by component: -1, 0 or 1.",
    ),
    prim!(
        "splitVersion",
        split_version,
        [
            "s" => "first argument passed to builtins.splitVersion",
        ],
        "The components of the version string `s`, as `compareVersions` sees them.",
    ),
    prim!(
        "parseDrvName",
        parse_drv_name,
        [
            "s" => "first argument passed to builtins.parseDrvName",
        ],
        "Splits a package name such as `nix-2.26.0` into `name` (`nix`) and `version` (`2.26.0`), at the first dash not followed by a letter.",
    ),
];

fn compare_versions<'a>(
    ev: &mut Eval<'a>,
    args: &[Value<'a>],
    span: Span,
) -> EvalResult<Value<'a>> {
    let v1 = super::string_no_ctx(ev, args[0], span).in_arg(0)?;
    let v2 = super::string_no_ctx(ev, args[1], span).in_arg(1)?;
    Ok(Value::Int(
        match drv_name::compare_versions(v1.bytes, v2.bytes) {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        },
    ))
}

fn split_version<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let s = super::string_no_ctx(ev, args[0], span).in_arg(0)?.bytes;
    let parts = drv_name::split_version(s)
        .into_iter()
        .map(|c| ev.new_str(c))
        .collect();
    Ok(ev.new_list(parts))
}

fn parse_drv_name<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let s = super::string_no_ctx(ev, args[0], span).in_arg(0)?.bytes;
    let (name, version) = drv_name::parse_bytes(s);
    let version_sym = ev.sym(b"version");
    let attrs = vec![
        Attr {
            name: ev.syms.name,
            pos: PosIdx::NONE,
            value: ev.new_str(name),
        },
        Attr {
            name: version_sym,
            pos: PosIdx::NONE,
            value: ev.new_str(version),
        },
    ];
    Ok(ev.new_attrs(attrs))
}
