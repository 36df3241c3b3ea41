//! One package of a profile ([`Element`]), printed as `manifest.nix` ([`manifest_text`]).

use std::collections::{BTreeMap, BTreeSet};

use kiln_formats::drv_name;
use kiln_session::{MetaValue, PackageInfo};

use crate::ProfileError;

/// One installed (or installable) package.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// `name` (`hello-2.10`).
    pub name: String,
    /// The attribute it was found under (installables only).
    pub attr_path: String,
    /// `system`.
    pub system: String,
    /// The `.drv`, when known.
    pub drv_path: Option<String>,
    /// Output names and paths, in the derivation's order.
    pub outputs: Vec<(String, String)>,
    /// `meta`, the attributes kept in manifests.
    pub meta: BTreeMap<String, MetaValue>,
}

impl Element {
    /// The first output's path (`outPath`).
    pub fn out_path(&self) -> &str {
        self.outputs.first().map(|o| o.1.as_str()).unwrap_or("")
    }

    /// `meta.priority`, 5 by default (lower wins).
    pub fn priority(&self) -> i64 {
        match self.meta.get("priority") {
            Some(MetaValue::Int(n)) => *n,
            Some(MetaValue::String(s)) => s.parse().unwrap_or(5),
            _ => 5,
        }
    }

    /// Whether it is linked into the environment (`meta.active`).
    pub fn active(&self) -> bool {
        !matches!(self.meta.get("active"), Some(MetaValue::Bool(false)))
    }

    /// The name without its version (`hello` of `hello-2.10`).
    pub fn pname(&self) -> &str {
        drv_name::parse(&self.name).0
    }

    /// The version (`2.10` of `hello-2.10`; empty when there is none).
    pub fn version(&self) -> &str {
        drv_name::parse(&self.name).1
    }
}

impl TryFrom<PackageInfo> for Element {
    type Error = ProfileError;

    fn try_from(p: PackageInfo) -> Result<Element, ProfileError> {
        if p.outputs.is_empty() {
            return Err(ProfileError::NoOutputs { name: p.name });
        }
        Ok(Element {
            name: p.name,
            attr_path: p.attr_path,
            system: p.system,
            drv_path: Some(p.drv_path).filter(|d| !d.is_empty()),
            outputs: p.outputs,
            meta: p.meta,
        })
    }
}

/// For each selector the newest version among the packages it matches (Nix picks the highest
/// version of each name), each package once.
pub fn select_by_name(
    available: &[Element],
    selectors: &[String],
) -> Result<Vec<Element>, ProfileError> {
    let mut res: Vec<Element> = Vec::new();
    for s in selectors {
        let mut hits: Vec<&Element> = available
            .iter()
            .filter(|e| drv_name::matches(s, &e.name))
            .collect();
        if hits.is_empty() {
            return Err(ProfileError::NoMatch {
                selector: s.clone(),
            });
        }
        hits.sort_by(|a, b| {
            a.pname()
                .cmp(b.pname())
                .then_with(|| drv_name::compare_versions(b.version(), a.version()))
        });
        let mut seen = BTreeSet::new();
        for h in hits {
            if seen.insert(h.pname()) && !res.iter().any(|r| r.name == h.name) {
                res.push(h.clone());
            }
        }
    }
    Ok(res)
}

/// A Nix string literal.
pub(crate) fn nix_string(s: &str) -> String {
    let mut res = String::with_capacity(s.len() + 2);
    res.push('"');
    for c in s.chars() {
        match c {
            '"' => res.push_str("\\\""),
            '\\' => res.push_str("\\\\"),
            '$' => res.push_str("\\$"),
            '\n' => res.push_str("\\n"),
            '\r' => res.push_str("\\r"),
            '\t' => res.push_str("\\t"),
            c => res.push(c),
        }
    }
    res.push('"');
    res
}

/// A value as a Nix expression, attributes sorted; floats as the shortest text that reads
/// back (what manifests have always held).
fn nix_value(v: &MetaValue, out: &mut String) {
    match v {
        MetaValue::Null => out.push_str("null"),
        MetaValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        MetaValue::Int(n) => out.push_str(&n.to_string()),
        MetaValue::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => out.push_str(&n.to_string()),
            None => out.push_str("null"),
        },
        MetaValue::String(s) => out.push_str(&nix_string(s)),
        MetaValue::List(items) => {
            out.push('[');
            for x in items {
                out.push(' ');
                nix_value(x, out);
            }
            out.push_str(" ]");
        }
        MetaValue::Attrs(m) => {
            out.push('{');
            for (k, v) in m {
                out.push(' ');
                out.push_str(&nix_attr_name(k));
                out.push_str(" = ");
                nix_value(v, out);
                out.push(';');
            }
            out.push_str(" }");
        }
    }
}

fn nix_attr_name(k: &str) -> String {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_'-".contains(c));
    if plain {
        k.to_owned()
    } else {
        nix_string(k)
    }
}

/// The text of `manifest.nix` for `elems`, as Nix 2.8 prints it (attributes sorted).
pub fn manifest_text(elems: &[Element]) -> String {
    let mut s = "[".to_owned();
    for e in elems {
        let mut m = BTreeMap::new();
        let string = |s: &str| MetaValue::String(s.to_owned());
        m.insert("meta".to_owned(), MetaValue::Attrs(e.meta.clone()));
        m.insert("name".to_owned(), string(&e.name));
        m.insert("outPath".to_owned(), string(e.out_path()));
        m.insert(
            "outputs".to_owned(),
            MetaValue::List(e.outputs.iter().map(|o| string(&o.0)).collect()),
        );
        for (n, p) in &e.outputs {
            m.insert(
                n.clone(),
                MetaValue::Attrs(BTreeMap::from([("outPath".to_owned(), string(p))])),
            );
        }
        if !e.system.is_empty() {
            m.insert("system".to_owned(), string(&e.system));
        }
        m.insert("type".to_owned(), string("derivation"));
        s.push(' ');
        nix_value(&MetaValue::Attrs(m), &mut s);
    }
    s.push_str(" ]");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(name: &str) -> Element {
        Element {
            name: name.to_owned(),
            attr_path: String::new(),
            system: String::new(),
            drv_path: None,
            outputs: vec![("out".into(), format!("/nix/store/x-{name}"))],
            meta: BTreeMap::new(),
        }
    }

    #[test]
    fn selectors_pick_the_newest_version_of_each_name() {
        let avail = [
            element("b-1.0"),
            element("b-2.0"),
            element("a-1"),
            element("ab-3"),
        ];
        let names = |v: Vec<Element>| v.into_iter().map(|e| e.name).collect::<Vec<_>>();
        assert_eq!(
            names(select_by_name(&avail, &["b".into()]).unwrap()),
            ["b-2.0"]
        );
        assert_eq!(
            names(select_by_name(&avail, &["b-1.0".into(), "*".into()]).unwrap()),
            ["b-1.0", "a-1", "ab-3", "b-2.0"]
        );
        assert!(matches!(
            select_by_name(&avail, &["c".into()]),
            Err(ProfileError::NoMatch { .. })
        ));
    }

    #[test]
    fn values_print_as_nix() {
        let mut s = String::new();
        let v = MetaValue::Attrs(BTreeMap::from([
            ("a b".to_owned(), MetaValue::List(vec![])),
            ("f".to_owned(), MetaValue::Float(1e20)),
            ("g".to_owned(), MetaValue::Float(0.5)),
            ("n".to_owned(), MetaValue::Null),
        ]));
        nix_value(&v, &mut s);
        assert_eq!(s, "{ \"a b\" = [ ]; f = 1e+20; g = 0.5; n = null; }");
    }
}
