//! Reading `manifest.nix`: the text is evaluated, and the list it holds is walked as a value.
//!
//! Each element is a set: `name`, `outPath`, `outputs` (names) with each output's `outPath`
//! (`out = { outPath = …; }`, or the path itself), `system`, `meta`, and, in manifests other
//! tools wrote, maybe `drvPath` or `attrPath`. Only what an [`Element`] holds is forced; `meta`
//! is read in full, as JSON would show it (a set with `outPath` is that path).

use std::collections::BTreeMap;
use std::path::Path;

use kiln_eval::value::Attrs;
use kiln_eval::{ErrorKind, Eval, EvalError, EvalResult, Value};
use kiln_session::{EvalConfig, MetaValue, Source};

use crate::{Element, ProfileError};

/// Evaluates a manifest's text (a Nix list of packages) and reads its elements.
pub fn read(text: String, config: EvalConfig) -> Result<Vec<Element>, ProfileError> {
    let res = kiln_session::evaluate(config, move |s| {
        let v = s.load(&Source::Expr(text), Path::new("/"))?;
        let Value::List(items) = s.ev.force(v)? else {
            return Ok(Err(ProfileError::ManifestNotAList));
        };
        let mut res = Vec::with_capacity(items.elems.len());
        for item in items.elems {
            match element(&mut s.ev, *item)? {
                Ok(e) => res.push(e),
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(res))
    })?;
    res
}

/// A string value's text; `None` for other values.
fn string<'a>(ev: &mut Eval<'a>, v: Value<'a>) -> EvalResult<Option<String>> {
    Ok(match ev.force(v)? {
        Value::String(s) => Some(String::from_utf8_lossy(s.bytes).into_owned()),
        _ => None,
    })
}

fn string_attr<'a>(
    ev: &mut Eval<'a>,
    attrs: &'a Attrs<'a>,
    name: &str,
) -> EvalResult<Option<String>> {
    match attrs.get(ev.sym(name.as_bytes())) {
        Some(a) => string(ev, a.value),
        None => Ok(None),
    }
}

/// A value as JSON would show it: a set with `outPath` is that path.
fn path_like<'a>(ev: &mut Eval<'a>, v: Value<'a>) -> EvalResult<Option<String>> {
    match ev.force(v)? {
        Value::Attrs(a) => string_attr(ev, a, "outPath"),
        other => string(ev, other),
    }
}

/// One element of the list.
fn element<'a>(ev: &mut Eval<'a>, v: Value<'a>) -> EvalResult<Result<Element, ProfileError>> {
    let Value::Attrs(attrs) = ev.force(v)? else {
        return Ok(Err(ProfileError::NoName));
    };
    let Some(name) = string_attr(ev, attrs, "name")? else {
        return Ok(Err(ProfileError::NoName));
    };
    let top_out = string_attr(ev, attrs, "outPath")?;
    let mut outputs = Vec::new();
    let listed = match attrs.get(ev.sym(b"outputs")) {
        Some(a) => match ev.force(a.value)? {
            Value::List(l) => Some(l),
            _ => None,
        },
        None => None,
    };
    match listed {
        Some(l) => {
            for o in l.elems {
                let Some(n) = string(ev, *o)? else { continue };
                let p = match attrs.get(ev.sym(n.as_bytes())) {
                    Some(a) => path_like(ev, a.value)?,
                    None => None,
                };
                let p = p.or_else(|| (n == "out").then(|| top_out.clone()).flatten());
                if let Some(p) = p {
                    outputs.push((n, p));
                }
            }
        }
        None => {
            if let Some(p) = top_out {
                outputs.push(("out".to_owned(), p));
            }
        }
    }
    if outputs.is_empty() {
        return Ok(Err(ProfileError::NoOutputs { name }));
    }
    let meta = match attrs.get(ev.sym(b"meta")) {
        Some(m) => match ev.force(m.value)? {
            Value::Attrs(m) => attrs_value(ev, m)?,
            _ => BTreeMap::new(),
        },
        None => BTreeMap::new(),
    };
    Ok(Ok(Element {
        name,
        attr_path: string_attr(ev, attrs, "attrPath")?.unwrap_or_default(),
        system: string_attr(ev, attrs, "system")?.unwrap_or_default(),
        drv_path: string_attr(ev, attrs, "drvPath")?.filter(|d| !d.is_empty()),
        outputs,
        meta,
    }))
}

fn attrs_value<'a>(
    ev: &mut Eval<'a>,
    attrs: &'a Attrs<'a>,
) -> EvalResult<BTreeMap<String, MetaValue>> {
    let mut res = BTreeMap::new();
    for (name, value) in kiln_eval::print::sorted_attrs(ev, attrs) {
        let v = meta_value(ev, value)?;
        res.insert(ev.interner.name(name).into_owned(), v);
    }
    Ok(res)
}

/// A value in full, as `builtins.toJSON` sees it.
fn meta_value<'a>(ev: &mut Eval<'a>, v: Value<'a>) -> EvalResult<MetaValue> {
    Ok(match ev.force(v)? {
        Value::Null => MetaValue::Null,
        Value::Bool(b) => MetaValue::Bool(b),
        Value::Int(n) => MetaValue::Int(n),
        Value::Float(f) => MetaValue::Float(f),
        Value::String(s) | Value::Path(s) => {
            MetaValue::String(String::from_utf8_lossy(s.bytes).into_owned())
        }
        Value::List(l) => {
            let mut items = Vec::with_capacity(l.elems.len());
            for e in l.elems {
                items.push(meta_value(ev, *e)?);
            }
            MetaValue::List(items)
        }
        Value::Attrs(a) => match a.get(ev.sym(b"outPath")) {
            Some(p) => meta_value(ev, p.value)?,
            None => MetaValue::Attrs(attrs_value(ev, a)?),
        },
        other => {
            return Err(EvalError::new(
                ErrorKind::Message(format!("cannot convert {} to JSON", other.type_phrase())),
                None,
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(root: &Path) -> EvalConfig {
        EvalConfig {
            settings: kiln_eval::EvalSettings::default(),
            store: kiln_session::StoreMode::ReadOnly {
                fetch_root: root.to_owned(),
            },
            fetch: kiln_fetch::FetchSettings::new(root.join("fetch-cache")),
            reporter: None,
        }
    }

    #[test]
    fn manifest_text_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let e = Element {
            name: "b-1.0".into(),
            attr_path: String::new(),
            system: "x86_64-linux".into(),
            drv_path: None,
            outputs: vec![("out".into(), "/nix/store/o-b-1.0".into())],
            meta: BTreeMap::from([
                ("priority".to_owned(), MetaValue::Int(3)),
                (
                    "description".to_owned(),
                    MetaValue::String("a \"b\" ${x}".into()),
                ),
            ]),
        };
        let text = crate::manifest_text(std::slice::from_ref(&e));
        assert_eq!(
            text,
            "[ { meta = { description = \"a \\\"b\\\" \\${x}\"; \
             priority = 3; }; name = \"b-1.0\"; out = { outPath = \"/nix/store/o-b-1.0\"; }; \
             outPath = \"/nix/store/o-b-1.0\"; outputs = [ \"out\" ]; system = \"x86_64-linux\"; \
             type = \"derivation\"; } ]"
        );
        assert_eq!(
            read(text, config(tmp.path())).unwrap(),
            std::slice::from_ref(&e)
        );
        assert_eq!(e.priority(), 3);
    }

    #[test]
    fn other_manifests_read_as_json_shows_them() {
        let tmp = tempfile::tempdir().unwrap();
        let text = "[ { name = \"x-1\"; outPath = \"/s/x\"; meta = { l = { outPath = \"/s/l\"; }; \
                    n = null; f = 2.5; }; } { name = \"y\"; outputs = [ \"out\" \"dev\" ]; \
                    outPath = \"/s/y\"; dev = \"/s/y-dev\"; } ]";
        let elems = read(text.to_owned(), config(tmp.path())).unwrap();
        assert_eq!(elems[0].outputs, [("out".to_owned(), "/s/x".to_owned())]);
        assert_eq!(elems[0].meta["l"], MetaValue::String("/s/l".into()));
        assert_eq!(elems[0].meta["n"], MetaValue::Null);
        assert_eq!(
            elems[1].outputs,
            [
                ("out".to_owned(), "/s/y".to_owned()),
                ("dev".to_owned(), "/s/y-dev".to_owned())
            ]
        );
        assert!(matches!(
            read("{ }".to_owned(), config(tmp.path())),
            Err(ProfileError::ManifestNotAList)
        ));
        assert!(matches!(
            read("[ { outPath = \"/s\"; } ]".to_owned(), config(tmp.path())),
            Err(ProfileError::NoName)
        ));
    }
}
