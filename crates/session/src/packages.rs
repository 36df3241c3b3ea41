//! The packages a value offers, as `nix-env` finds them (Nix's `getDerivations`), read into
//! typed [`PackageInfo`]s.
//!
//! The walk: a value that is a function is called with `{ }`; a derivation is one package; the
//! attributes of a set are searched in name order, skipping names that do not match
//! `[A-Za-z_][-A-Za-z0-9_+]*`. An attribute is a package when it is a derivation, and is
//! searched in turn when it is a set with `recurseForDerivations = true`; an attribute whose
//! test for being a derivation fails as `builtins.tryEval` catches (a `throw`, an `assert`) is
//! skipped. In a combined directory (a set with `_combineChannels`, what `nix-env` makes of
//! `~/.nix-defexpr`) every attribute is searched as the top level is. Of `meta`, only the
//! attributes that evaluate (catchably) to a string, an integer, a Boolean, a float or a list
//! or set of such values are kept, as Nix 2.8's manifests and `nix-env -qa --meta` keep them.

use std::collections::BTreeMap;

use kiln_eval::value::Attrs;
use kiln_eval::{ErrorKind, Eval, EvalError, EvalResult, Value};

use crate::Evaluation;

/// A value kept in a package's `meta` (and in a manifest): what a Nix value is, with no
/// functions and no laziness.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// `null`.
    Null,
    /// A Boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (its context dropped).
    String(String),
    /// A list.
    List(Vec<MetaValue>),
    /// An attribute set, by name.
    Attrs(BTreeMap<String, MetaValue>),
}

/// A part of a package's info that is evaluated only when asked for, as Nix's `DrvInfo`
/// evaluates it: `nix-env -qa` forces a package's `name` and nothing else unless a column or
/// a `--json` field needs more, so a package whose `drvPath` throws (nixpkgs' broken ones) is
/// still listed by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `system` ("unknown" when missing).
    System,
    /// `outputName` (empty when missing).
    OutputName,
    /// The names of the outputs (`outputs`, `[ "out" ]` when missing).
    Outputs,
    /// The names of the outputs and their `outPath`s.
    OutPaths,
    /// The package's own `outPath`.
    OutPath,
    /// `drvPath`.
    DrvPath,
    /// `meta.description` (empty unless a string).
    Description,
    /// The kept `meta` attributes, in name order, up to the first that fails.
    Meta,
}

/// One package a value offers.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageInfo {
    /// The attribute path it was found under (`a.b`; empty for the value itself).
    pub attr_path: String,
    /// `name` (`hello-2.10`).
    pub name: String,
    /// `system` (empty when missing).
    pub system: String,
    /// `drvPath`, as the derivation says it.
    pub drv_path: String,
    /// The outputs and their `outPath`s, in the order of the derivation's `outputs`.
    pub outputs: Vec<(String, String)>,
    /// The kept `meta` attributes (see the module's overview).
    pub meta: BTreeMap<String, MetaValue>,
    /// `outputName` (with [`Field::OutputName`]).
    pub output_name: String,
    /// `outPath` (with [`Field::OutPath`]).
    pub out_path: String,
    /// The first field asked for whose evaluation failed as `builtins.tryEval` catches (the
    /// fields after it were not evaluated); always `None` from [`packages`].
    pub failed: Option<Field>,
}

impl<'a> Evaluation<'a> {
    /// The packages `v` offers (see [`packages`]).
    pub fn packages(&mut self, v: Value<'a>) -> EvalResult<Vec<PackageInfo>> {
        packages(&mut self.ev, v)
    }

    /// The packages `v` offers as `nix-env -q` lists them (see [`packages_with`]).
    pub fn packages_with(
        &mut self,
        v: Value<'a>,
        fields: &[Field],
    ) -> EvalResult<Vec<PackageInfo>> {
        packages_with(&mut self.ev, v, fields)
    }
}

/// Everything a manifest keeps, in the order [`packages`] evaluates it.
const ALL: &[Field] = &[Field::System, Field::DrvPath, Field::OutPaths, Field::Meta];

/// The packages `v` offers, in the order Nix finds them (see the module's overview), with
/// everything a manifest keeps; a package any of whose info fails catchably is left out.
pub fn packages<'a>(ev: &mut Eval<'a>, v: Value<'a>) -> EvalResult<Vec<PackageInfo>> {
    let mut res = Found {
        fields: ALL,
        tolerant_meta: true,
        list: Vec::new(),
        seen: Default::default(),
    };
    walk(ev, "", v, &mut res)?;
    Ok(res
        .list
        .into_iter()
        .filter(|p| p.failed.is_none())
        .collect())
}

/// The packages `v` offers as `nix-env -q` lists them: each one whose `name` evaluates, with
/// `fields` evaluated in that order up to the first that fails catchably (recorded in
/// [`PackageInfo::failed`]); what is not asked for stays empty.
pub fn packages_with<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    fields: &[Field],
) -> EvalResult<Vec<PackageInfo>> {
    let mut res = Found {
        fields,
        tolerant_meta: false,
        list: Vec::new(),
        seen: Default::default(),
    };
    walk(ev, "", v, &mut res)?;
    Ok(res.list)
}

/// The packages found so far, and the derivations met (by identity: an alias, `y = x`, is
/// listed once, under the first name found, as Nix's `getDerivation` lists it).
struct Found<'a, 'f> {
    /// What to evaluate of each package.
    fields: &'f [Field],
    /// Whether a `meta` attribute that fails is left out (a manifest's rule) rather than
    /// ending the package's `meta` there (`nix-env -q`'s, which stops writing the package).
    tolerant_meta: bool,
    list: Vec<PackageInfo>,
    seen: std::collections::HashSet<*const Attrs<'a>>,
}

fn message(m: String) -> Box<EvalError> {
    EvalError::new(ErrorKind::Message(m), None)
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Whether `name` matches `[A-Za-z_][-A-Za-z0-9_+]*`.
fn is_package_attr_name(name: &[u8]) -> bool {
    name.first()
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && name
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_+".contains(c))
}

/// The top level (or an attribute of a combined directory): auto-called, then a derivation or
/// a set searched.
fn walk<'a>(
    ev: &mut Eval<'a>,
    prefix: &str,
    v: Value<'a>,
    out: &mut Found<'a, '_>,
) -> EvalResult<()> {
    let mut v = ev.force(v)?;
    if v.is_function() {
        let empty = ev.new_attrs(Vec::new());
        let r = ev.call(v, empty, None)?;
        v = ev.force(r)?;
    }
    let Value::Attrs(attrs) = v else {
        return Ok(());
    };
    if ev.is_derivation(attrs)? {
        return push_info(ev, prefix, attrs, out);
    }
    let combined = attrs.get(ev.sym(b"_combineChannels")).is_some();
    for (name, value) in kiln_eval::print::sorted_attrs(ev, attrs) {
        if !is_package_attr_name(ev.interner.resolve(name)) {
            continue;
        }
        let path = join(prefix, &ev.interner.name(name));
        if combined {
            walk(ev, &path, value, out)?;
        } else {
            attr(ev, &path, value, out)?;
        }
    }
    Ok(())
}

/// An attribute of a searched set: a derivation, a set to search, or nothing.
fn attr<'a>(
    ev: &mut Eval<'a>,
    path: &str,
    v: Value<'a>,
    out: &mut Found<'a, '_>,
) -> EvalResult<()> {
    let test = ev.force(v).and_then(|v| match v {
        Value::Attrs(a) => Ok((Some(a), ev.is_derivation(a)?)),
        _ => Ok((None, false)),
    });
    let (attrs, is_drv) = match test {
        Ok(t) => t,
        Err(e) if e.is_catchable() => return Ok(()),
        Err(e) => return Err(e),
    };
    let Some(attrs) = attrs else { return Ok(()) };
    if is_drv {
        return push_info(ev, path, attrs, out);
    }
    let Some(recurse) = attrs.get(ev.sym(b"recurseForDerivations")) else {
        return Ok(());
    };
    match ev.force(recurse.value)? {
        Value::Bool(true) => walk(ev, path, Value::Attrs(attrs), out),
        Value::Bool(false) => Ok(()),
        other => Err(message(format!(
            "expected a Boolean but found {}",
            other.type_phrase()
        ))),
    }
}

/// A string attribute, forced; `None` when missing.
fn string_attr<'a>(
    ev: &mut Eval<'a>,
    attrs: &'a Attrs<'a>,
    name: &str,
) -> EvalResult<Option<String>> {
    let Some(a) = attrs.get(ev.sym(name.as_bytes())) else {
        return Ok(None);
    };
    match ev.force(a.value)? {
        Value::String(s) => Ok(Some(String::from_utf8_lossy(s.bytes).into_owned())),
        other => Err(message(format!(
            "expected a string but found {} for the attribute '{name}'",
            other.type_phrase()
        ))),
    }
}

fn required<'a>(ev: &mut Eval<'a>, attrs: &'a Attrs<'a>, name: &str) -> EvalResult<String> {
    string_attr(ev, attrs, name)?.ok_or_else(|| message(format!("attribute '{name}' missing")))
}

/// Adds a derivation's package info, unless it was met before; a derivation whose name (or
/// another attribute read here) fails as `builtins.tryEval` catches (a `throw`, an `assert`: nixpkgs' refusal to
/// evaluate a broken package) is skipped, as Nix 2.8's `nix-env` skips it.
fn push_info<'a>(
    ev: &mut Eval<'a>,
    path: &str,
    drv: &'a Attrs<'a>,
    out: &mut Found<'a, '_>,
) -> EvalResult<()> {
    if !out.seen.insert(drv as *const Attrs<'a>) {
        return Ok(());
    }
    let name = match required(ev, drv, "name") {
        Ok(n) => n,
        Err(e) if e.is_catchable() => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut info = PackageInfo {
        attr_path: path.to_owned(),
        name,
        system: String::new(),
        drv_path: String::new(),
        outputs: Vec::new(),
        meta: BTreeMap::new(),
        output_name: String::new(),
        out_path: String::new(),
        failed: None,
    };
    for &field in out.fields {
        match fill(ev, drv, field, out.tolerant_meta, &mut info) {
            Ok(()) => {}
            Err(e) if e.is_catchable() => {
                info.failed = Some(field);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    out.list.push(info);
    Ok(())
}

/// Evaluates one field of a derivation's package info into `info`.
fn fill<'a>(
    ev: &mut Eval<'a>,
    drv: &'a Attrs<'a>,
    field: Field,
    tolerant_meta: bool,
    info: &mut PackageInfo,
) -> EvalResult<()> {
    match field {
        Field::System => {
            info.system = string_attr(ev, drv, "system")?.unwrap_or_else(|| "unknown".into())
        }
        Field::OutputName => {
            info.output_name = string_attr(ev, drv, "outputName")?.unwrap_or_default()
        }
        Field::DrvPath => info.drv_path = required(ev, drv, "drvPath")?,
        Field::Outputs => {
            info.outputs = output_names(ev, drv, &info.name)?
                .into_iter()
                .map(|n| (n, String::new()))
                .collect()
        }
        // Nix 2.8 evaluates the package's own `outPath` before its outputs' (a package whose
        // `outPath` fails is left out even when each output's path evaluates).
        Field::OutPath => info.out_path = string_attr(ev, drv, "outPath")?.unwrap_or_default(),
        Field::OutPaths => {
            string_attr(ev, drv, "outPath")?;
            info.outputs = outputs(ev, drv, &info.name)?
        }
        Field::Description => {
            info.meta.remove("description");
            if let Some(m) = meta_set(ev, drv, &info.name)? {
                if let Some(d) = m.get(ev.sym(b"description")) {
                    if let Value::String(s) = ev.force(d.value)? {
                        let d = String::from_utf8_lossy(s.bytes).into_owned();
                        info.meta.insert("description".into(), MetaValue::String(d));
                    }
                }
            }
        }
        Field::Meta => {
            info.meta.clear();
            if let Some(m) = meta_set(ev, drv, &info.name)? {
                for (key, value) in kiln_eval::print::sorted_attrs(ev, m) {
                    match kept_meta(ev, value) {
                        Ok(Some(v)) => {
                            info.meta.insert(ev.interner.name(key).into_owned(), v);
                        }
                        Ok(None) => {}
                        Err(e) if tolerant_meta && e.is_catchable() => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
    Ok(())
}

/// The derivation's `meta` set, if it has one.
fn meta_set<'a>(
    ev: &mut Eval<'a>,
    drv: &'a Attrs<'a>,
    name: &str,
) -> EvalResult<Option<&'a Attrs<'a>>> {
    let Some(m) = drv.get(ev.sym(b"meta")) else {
        return Ok(None);
    };
    match ev.force(m.value)? {
        Value::Attrs(m) => Ok(Some(m)),
        other => Err(message(format!(
            "expected a set but found {} for the meta of '{name}'",
            other.type_phrase()
        ))),
    }
}

/// The names of the derivation's outputs.
fn output_names<'a>(ev: &mut Eval<'a>, drv: &'a Attrs<'a>, name: &str) -> EvalResult<Vec<String>> {
    let mut names = Vec::new();
    match drv.get(ev.sym(b"outputs")) {
        Some(a) => match ev.force(a.value)? {
            Value::List(l) => {
                for e in l.elems {
                    match ev.force(*e)? {
                        Value::String(s) => {
                            names.push(String::from_utf8_lossy(s.bytes).into_owned())
                        }
                        other => {
                            return Err(message(format!(
                                "expected a string but found {} in the outputs of '{name}'",
                                other.type_phrase()
                            )))
                        }
                    }
                }
            }
            other => {
                return Err(message(format!(
                    "expected a list but found {} for the outputs of '{name}'",
                    other.type_phrase()
                )))
            }
        },
        None => names.push("out".to_owned()),
    }
    Ok(names)
}

/// The derivation's outputs and their paths.
fn outputs<'a>(
    ev: &mut Eval<'a>,
    drv: &'a Attrs<'a>,
    name: &str,
) -> EvalResult<Vec<(String, String)>> {
    let names = output_names(ev, drv, name)?;
    let mut outputs = Vec::with_capacity(names.len());
    for o in names {
        let Some(a) = drv.get(ev.sym(o.as_bytes())) else {
            return Err(message(format!("attribute '{o}' missing")));
        };
        let path = match ev.force(a.value)? {
            Value::Attrs(out) => required(ev, out, "outPath")?,
            other => {
                return Err(message(format!(
                    "expected a set but found {} for the output '{o}' of '{name}'",
                    other.type_phrase()
                )))
            }
        };
        outputs.push((o, path));
    }
    Ok(outputs)
}

/// A `meta` attribute's value if it is of a kind manifests keep (Nix's `checkMeta`): a
/// string, an integer, a Boolean, a float, or a list or set of such values (a set with an
/// `outPath`, a derivation, is not kept, nor a function).
fn kept_meta<'a>(ev: &mut Eval<'a>, v: Value<'a>) -> EvalResult<Option<MetaValue>> {
    Ok(match ev.force(v)? {
        Value::String(s) => Some(MetaValue::String(
            String::from_utf8_lossy(s.bytes).into_owned(),
        )),
        Value::Int(n) => Some(MetaValue::Int(n)),
        Value::Bool(b) => Some(MetaValue::Bool(b)),
        Value::Float(f) => Some(MetaValue::Float(f)),
        Value::List(l) => {
            let mut items = Vec::with_capacity(l.elems.len());
            for e in l.elems {
                match kept_meta(ev, *e)? {
                    Some(v) => items.push(v),
                    None => return Ok(None),
                }
            }
            Some(MetaValue::List(items))
        }
        Value::Attrs(a) => {
            if a.get(ev.sym(b"outPath")).is_some() {
                return Ok(None);
            }
            let mut attrs = BTreeMap::new();
            for (key, value) in kiln_eval::print::sorted_attrs(ev, a) {
                match kept_meta(ev, value)? {
                    Some(v) => {
                        attrs.insert(ev.interner.name(key).into_owned(), v);
                    }
                    None => return Ok(None),
                }
            }
            Some(MetaValue::Attrs(attrs))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{evaluate, EvalConfig, Source, StoreMode};

    fn packages_of(expr: &str) -> Vec<PackageInfo> {
        let tmp = tempfile::tempdir().unwrap();
        let config = EvalConfig {
            settings: kiln_eval::EvalSettings::default(),
            store: StoreMode::Write {
                root: tmp.path().to_owned(),
            },
            fetch: kiln_fetch::FetchSettings::new(tmp.path().join("fetch-cache")),
            reporter: None,
        };
        let expr = expr.to_owned();
        evaluate(config, move |s| {
            let v = s.load(&Source::Expr(expr), tmp.path())?;
            s.packages(v)
        })
        .unwrap()
    }

    const MK: &str = r#"let mk = name: meta: derivation { inherit name; system = "x86_64-linux";
      builder = "/bin/sh"; outputs = [ "out" "doc" ]; } // { inherit meta; }; in "#;

    #[test]
    fn sets_are_searched_in_name_order_only_when_marked() {
        let pkgs = packages_of(&format!(
            "{MK} {{ b = mk \"b-1\" {{ }}; a = mk \"a-2\" {{ }}; \
             inner = {{ recurseForDerivations = true; c = mk \"c-3\" {{ }}; }}; \
             hidden = {{ d = mk \"d-4\" {{ }}; }}; \"bad name\" = mk \"e-5\" {{ }}; \
             notADerivation = 42; }}"
        ));
        let names: Vec<(&str, &str)> = pkgs
            .iter()
            .map(|p| (p.attr_path.as_str(), p.name.as_str()))
            .collect();
        assert_eq!(names, [("a", "a-2"), ("b", "b-1"), ("inner.c", "c-3")]);
        let a = &pkgs[0];
        assert_eq!(a.system, "x86_64-linux");
        assert!(a.drv_path.ends_with("-a-2.drv"), "{}", a.drv_path);
        let outputs: Vec<&str> = a.outputs.iter().map(|o| o.0.as_str()).collect();
        assert_eq!(outputs, ["out", "doc"]);
        assert!(a.outputs[1].1.ends_with("-a-2-doc"));
    }

    #[test]
    fn an_alias_is_listed_once_under_its_first_name() {
        let pkgs = packages_of(&format!(
            "{MK} let x = mk \"x-1\" {{ }}; in {{ b = x; a = x; c = mk \"x-1\" {{ }}; \
             d = {{ recurseForDerivations = true; e = x; }}; }}"
        ));
        let paths: Vec<&str> = pkgs.iter().map(|p| p.attr_path.as_str()).collect();
        assert_eq!(paths, ["a", "c"]);
    }

    #[test]
    fn a_throwing_attribute_is_skipped_and_functions_are_called() {
        let pkgs = packages_of(&format!(
            "{MK} {{ }}: {{ a = throw \"no\"; b = assert false; 1; c = mk \"c-1\" {{ }}; \
             d = mk \"d-1\" {{ }} // {{ name = assert false; \"d-1\"; }}; \
             e = mk \"e-1\" {{ }} // {{ name = throw \"broken\"; }}; }}"
        ));
        let names: Vec<&str> = pkgs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["c-1"]);
    }

    #[test]
    fn meta_keeps_only_plain_values_that_evaluate() {
        let pkgs = packages_of(&format!(
            "{MK} mk \"x-1\" {{ description = \"d\"; priority = 3; broken = false; \
             f = 1.5; platforms = [ \"a\" \"b\" ]; mixed = [ \"a\" 1 ]; \
             fails = throw \"no\"; fn = x: x; set = {{ a.b = 1; }}; fns = [ (x: x) ]; \
             drv = mk \"y-1\" {{ }}; }}"
        ));
        assert_eq!(pkgs.len(), 1);
        assert_eq!(pkgs[0].attr_path, "");
        let meta = &pkgs[0].meta;
        let keys: Vec<&str> = meta.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "broken",
                "description",
                "f",
                "mixed",
                "platforms",
                "priority",
                "set"
            ]
        );
        assert_eq!(
            meta["mixed"],
            MetaValue::List(vec![MetaValue::String("a".into()), MetaValue::Int(1)])
        );
        assert_eq!(
            meta["set"],
            MetaValue::Attrs(BTreeMap::from([(
                "a".to_owned(),
                MetaValue::Attrs(BTreeMap::from([("b".to_owned(), MetaValue::Int(1))]))
            )]))
        );
        assert_eq!(meta["priority"], MetaValue::Int(3));
        assert_eq!(meta["f"], MetaValue::Float(1.5));
        assert_eq!(
            meta["platforms"],
            MetaValue::List(vec![
                MetaValue::String("a".into()),
                MetaValue::String("b".into())
            ])
        );
    }

    #[test]
    fn combined_directories_search_every_value() {
        let pkgs = packages_of(&format!(
            "{MK} {{ _combineChannels = [ ]; chan = {{ p = mk \"p-1\" {{ }}; }}; \
             f = {{ }}: mk \"f-1\" {{ }}; }}"
        ));
        let names: Vec<(&str, &str)> = pkgs
            .iter()
            .map(|p| (p.attr_path.as_str(), p.name.as_str()))
            .collect();
        assert_eq!(names, [("chan.p", "p-1"), ("f", "f-1")]);
    }

    #[test]
    fn an_uncatchable_error_fails_the_walk() {
        let tmp = tempfile::tempdir().unwrap();
        let config = EvalConfig {
            settings: kiln_eval::EvalSettings::default(),
            store: StoreMode::Write {
                root: tmp.path().to_owned(),
            },
            fetch: kiln_fetch::FetchSettings::new(tmp.path().join("fetch-cache")),
            reporter: None,
        };
        let res = evaluate(config, |s| {
            let v = s.load(&Source::Expr("{ a = 1 + \"x\"; }".into()), tmp.path())?;
            s.packages(v)
        });
        assert!(matches!(res, Err(crate::SessionError::Eval(_))));
    }
}
