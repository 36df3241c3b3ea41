//! The reference checks a derivation may ask for on its outputs: `allowedReferences`,
//! `allowedRequisites`, `disallowedReferences`, `disallowedRequisites` (space-separated
//! attributes), or with structured attributes `outputChecks.<output>` (those four as lists,
//! plus `maxSize`, `maxClosureSize` and `ignoreSelfRefs`), as Nix's `checkOutputs` applies them.

use std::collections::{BTreeMap, BTreeSet};

use kiln_formats::derivation::Derivation;
use kiln_formats::store_path::StorePath;
use kiln_store::{LocalStore, PathInfo, Store};

use crate::BuildError;

#[derive(Default)]
struct Checks {
    ignore_self_refs: bool,
    allowed_references: Option<Vec<String>>,
    allowed_requisites: Option<Vec<String>>,
    disallowed_references: Option<Vec<String>>,
    disallowed_requisites: Option<Vec<String>>,
    max_size: Option<u64>,
    max_closure_size: Option<u64>,
}

fn words(drv: &Derivation, name: &str) -> Option<Vec<String>> {
    drv.env.get(name.as_bytes()).map(|v| {
        String::from_utf8_lossy(v)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    })
}

fn checks_for(drv: &Derivation, output: &str, drv_abs: &str) -> Result<Checks, BuildError> {
    let Some(json) = drv.env.get(b"__json".as_slice()) else {
        return Ok(Checks {
            ignore_self_refs: true,
            allowed_references: words(drv, "allowedReferences"),
            allowed_requisites: words(drv, "allowedRequisites"),
            disallowed_references: words(drv, "disallowedReferences"),
            disallowed_requisites: words(drv, "disallowedRequisites"),
            max_size: None,
            max_closure_size: None,
        });
    };
    let v: serde_json::Value = serde_json::from_slice(json).map_err(|e| BuildError::Setup {
        drv: drv_abs.to_owned(),
        message: format!("its structured attributes (__json) are not valid JSON: {e}"),
    })?;
    let Some(c) = v.get("outputChecks").and_then(|c| c.get(output)) else {
        return Ok(Checks::default());
    };
    let list = |k: &str| -> Option<Vec<String>> {
        c.get(k).and_then(|l| l.as_array()).map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
    };
    Ok(Checks {
        ignore_self_refs: c
            .get("ignoreSelfRefs")
            .and_then(|b| b.as_bool())
            .unwrap_or(false),
        allowed_references: list("allowedReferences"),
        allowed_requisites: list("allowedRequisites"),
        disallowed_references: list("disallowedReferences"),
        disallowed_requisites: list("disallowedRequisites"),
        max_size: c.get("maxSize").and_then(|n| n.as_u64()),
        max_closure_size: c.get("maxClosureSize").and_then(|n| n.as_u64()),
    })
}

/// Checks every new output in `infos` against what `drv` allows.
pub(crate) fn check_references(
    store: &LocalStore,
    drv: &Derivation,
    outputs: &BTreeMap<String, StorePath>,
    infos: &[PathInfo],
    drv_abs: &str,
) -> Result<(), BuildError> {
    let store_dir = store.store_dir();
    let new: BTreeMap<&StorePath, &PathInfo> = infos.iter().map(|i| (&i.path, i)).collect();
    // The closure of a new output: its references, new ones followed through `infos`.
    let closure = |start: &StorePath| -> Result<(BTreeSet<StorePath>, u64), BuildError> {
        let mut seen = BTreeSet::new();
        let mut size = 0;
        let mut todo = vec![start.clone()];
        while let Some(p) = todo.pop() {
            if !seen.insert(p.clone()) {
                continue;
            }
            let (refs, s) = match new.get(&p) {
                Some(i) => (i.references.clone(), i.nar_size),
                None => match store.query_path_info(&p)? {
                    Some(i) => (i.references, i.nar_size),
                    None => (BTreeSet::new(), 0),
                },
            };
            size += s;
            todo.extend(refs.into_iter().filter(|r| !seen.contains(r)));
        }
        Ok((seen, size))
    };
    for (name, path) in outputs {
        let Some(info) = new.get(path) else { continue };
        let checks = checks_for(drv, name, drv_abs)?;
        let out_abs = path.to_absolute(store_dir);
        if let Some(max) = checks.max_size {
            if info.nar_size > max {
                return Err(BuildError::Setup {
                    drv: drv_abs.to_owned(),
                    message: format!(
                        "path '{out_abs}' is too large at {} bytes; limit is {max} bytes",
                        info.nar_size
                    ),
                });
            }
        }
        if let Some(max) = checks.max_closure_size {
            let (_, size) = closure(path)?;
            if size > max {
                return Err(BuildError::Setup {
                    drv: drv_abs.to_owned(),
                    message: format!(
                        "closure of path '{out_abs}' is too large at {size} bytes; limit is {max} bytes"
                    ),
                });
            }
        }
        let lists = [
            (&checks.allowed_references, true, false),
            (&checks.allowed_requisites, true, true),
            (&checks.disallowed_references, false, false),
            (&checks.disallowed_requisites, false, true),
        ];
        for (list, allowed, recursive) in lists {
            let Some(list) = list else { continue };
            let mut spec = BTreeSet::new();
            for item in list {
                if let Ok(p) = StorePath::from_absolute(store_dir, item) {
                    spec.insert(p);
                } else if let Some(p) = outputs.get(item) {
                    spec.insert(p.clone());
                } else {
                    return Err(BuildError::Setup {
                        drv: drv_abs.to_owned(),
                        message: format!(
                            "derivation contains an illegal reference specifier '{item}'"
                        ),
                    });
                }
            }
            let mut used = if recursive {
                closure(path)?.0
            } else {
                info.references.clone()
            };
            if recursive && checks.ignore_self_refs {
                used.remove(path);
            }
            let bad: Vec<String> = used
                .iter()
                .filter(|p| spec.contains(*p) != allowed)
                .map(|p| p.to_absolute(store_dir))
                .collect();
            if !bad.is_empty() {
                return Err(BuildError::IllegalReferences {
                    output: out_abs,
                    paths: bad,
                });
            }
        }
    }
    Ok(())
}
