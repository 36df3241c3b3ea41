//! Attribute sets: `attrNames`, `attrValues`, `getAttr`, `hasAttr`, `mapAttrs`,
//! `removeAttrs`, `intersectAttrs`, `catAttrs`, `listToAttrs`, `zipAttrsWith`.

use super::{attrs, attrs_in, list, with_frame, ArgResult};
use crate::eval::{Eval, EvalResult};
use crate::eval_error::{ErrorKind, EvalError};
use crate::print::sorted_attrs;
use crate::span::Span;
use crate::value::{Attr, PosIdx, PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "attrNames",
        attr_names,
        [
            "set" => "argument passed to builtins.attrNames",
        ],
        "The names of the attributes of `set`, sorted.",
    ),
    prim!(
        "attrValues",
        attr_values,
        [
            "set" => "argument passed to builtins.attrValues",
        ],
        "The values of the attributes of `set`, in the order of their sorted names.",
    ),
    prim!(
        "getAttr",
        get_attr,
        [
            "s" => "first argument passed to builtins.getAttr",
            "set" => "second argument passed to builtins.getAttr",
        ],
        "The attribute named `s` of `set` (`set.${s}`); an error if there is none.",
    ),
    prim!(
        "hasAttr",
        has_attr,
        [
            "s" => "first argument passed to builtins.hasAttr",
            "set" => "second argument passed to builtins.hasAttr",
        ],
        "Whether `set` has an attribute named `s` (`set ? ${s}`).",
    ),
    prim!(
        "mapAttrs",
        map_attrs,
        [
            "f",
            "attrset" => "second argument passed to builtins.mapAttrs",
        ],
        "`attrset` with each value replaced by `f name value`, computed lazily.",
    ),
    prim!(
        "removeAttrs",
        remove_attrs,
        [
            "set" => "first argument passed to builtins.removeAttrs",
            "list" => "second argument passed to builtins.removeAttrs",
        ],
        "`set` without the attributes whose names are in `list`.",
    ),
    prim!(
        "intersectAttrs",
        intersect_attrs,
        [
            "e1" => "first argument passed to builtins.intersectAttrs",
            "e2" => "second argument passed to builtins.intersectAttrs",
        ],
        "The attributes of `e2` whose names `e1` also has.",
    ),
    prim!(
        "catAttrs",
        cat_attrs,
        [
            "attr" => "first argument passed to builtins.catAttrs",
            "list" => "second argument passed to builtins.catAttrs",
        ],
        "The values of the attribute named `attr` of the sets in `list` that have it.",
    ),
    prim!(
        "listToAttrs",
        list_to_attrs,
        [
            "e" => "argument passed to builtins.listToAttrs",
        ],
        "A set from a list of `{ name; value; }` sets; for a name given twice the first wins.",
    ),
    prim!(
        "zipAttrsWith",
        zip_attrs_with,
        [
            "f" => "first argument passed to builtins.zipAttrsWith",
            "list" => "second argument passed to builtins.zipAttrsWith",
        ],
        "A set with each name found in the sets of `list`, its value `f name values`, where `values` lists that attribute's values in order.",
    ),
];

fn attr_names<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let a = attrs(ev, args[0], span).arg(0)?;
    let names = sorted_attrs(ev, a)
        .into_iter()
        .map(|(n, _)| ev.sym_value(n))
        .collect();
    Ok(ev.new_list(names))
}

fn attr_values<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let a = attrs(ev, args[0], span).arg(0)?;
    let values = sorted_attrs(ev, a).into_iter().map(|(_, v)| v).collect();
    Ok(ev.new_list(values))
}

fn get_attr<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let name = super::string_no_ctx(ev, args[0], span).in_arg(0)?;
    let a = attrs(ev, args[1], span).arg(1)?;
    let sym = ev.sym(name.bytes);
    match a.get(sym) {
        Some(attr) => ev.force(attr.value),
        None => {
            // Nix's getAttr suggests nothing and names the set instead.
            let mut e = EvalError::new(
                ErrorKind::MissingAttr {
                    name: String::from_utf8_lossy(name.bytes).into_owned(),
                    suggestions: Vec::new(),
                },
                Some(span),
            );
            e.add_trace(
                "in the attribute set under consideration".to_owned(),
                None,
                false,
            );
            Err(e)
        }
    }
}

fn has_attr<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let name = super::string_no_ctx(ev, args[0], span).in_arg(0)?;
    let a = attrs(ev, args[1], span).arg(1)?;
    let sym = ev.sym(name.bytes);
    Ok(Value::Bool(a.get(sym).is_some()))
}

fn map_attrs<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let a = attrs(ev, args[1], span).arg(1)?;
    let f: &'a Value<'a> = ev.arena.alloc(args[0]);
    // Same names, same order: no sort needed, built in place.
    let entries = ev
        .arena
        .alloc_slice_fill_iter(a.entries.iter().map(|attr| Attr {
            name: attr.name,
            // Nix gives the new attributes no position.
            pos: PosIdx::NONE,
            value: ev.lazy_apply_attr(f, attr),
        }));
    Ok(Value::Attrs(
        ev.arena.alloc(crate::value::Attrs { entries }),
    ))
}

fn remove_attrs<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let a = attrs(ev, args[0], span).arg(0)?;
    let names = list(ev, args[1], span).arg(1)?;
    let mut remove = Vec::with_capacity(names.elems.len());
    for n in names.elems {
        let s = super::string_in(
            ev,
            *n,
            span,
            "while evaluating the values of the second argument passed to builtins.removeAttrs",
        )?;
        remove.push(ev.sym(s.bytes));
    }
    let kept: Vec<Attr<'a>> = a
        .entries
        .iter()
        .filter(|e| !remove.contains(&e.name))
        .copied()
        .collect();
    Ok(Value::Attrs(ev.arena.alloc(crate::value::Attrs {
        entries: ev.arena.alloc_slice_copy(&kept),
    })))
}

fn intersect_attrs<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let a = attrs(ev, args[0], span).arg(0)?;
    let b = attrs(ev, args[1], span).arg(1)?;
    // The attributes of `b` whose names `a` has, found by walking the smaller set and looking
    // names up in the other (both are sorted by symbol, so either walk gives the result in
    // order): nixpkgs' `callPackage` intersects a function's few arguments with the whole
    // package set, tens of thousands of names, for every package.
    let kept: Vec<Attr<'a>> = if a.len() < b.len() {
        a.entries
            .iter()
            .filter_map(|e| b.get(e.name))
            .copied()
            .collect()
    } else {
        b.entries
            .iter()
            .filter(|e| a.get(e.name).is_some())
            .copied()
            .collect()
    };
    Ok(Value::Attrs(ev.arena.alloc(crate::value::Attrs {
        entries: ev.arena.alloc_slice_copy(&kept),
    })))
}

fn cat_attrs<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let name = super::string_no_ctx(ev, args[0], span).in_arg(0)?;
    let sym = ev.sym(name.bytes);
    let l = list(ev, args[1], span).arg(1)?;
    let mut out = Vec::new();
    for e in l.elems {
        let a = attrs_in(
            ev,
            *e,
            span,
            "while evaluating an element in the list passed as second argument to builtins.catAttrs",
        )?;
        if let Some(attr) = a.get(sym) {
            out.push(attr.value);
        }
    }
    Ok(ev.new_list(out))
}

fn list_to_attrs<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let l = list(ev, args[0], span).arg(0)?;
    let mut out = Vec::with_capacity(l.elems.len());
    let mut seen = std::collections::HashSet::with_capacity(l.elems.len());
    let (name_sym, value_sym) = (ev.syms.name, ev.syms.value);
    // Nix's missing `name` or `value` has no position, only this frame.
    let missing = |name: &str| {
        let mut e = EvalError::new(
            ErrorKind::MissingAttr {
                name: name.into(),
                suggestions: Vec::new(),
            },
            None,
        );
        e.add_trace("in a {name=...; value=...;} pair".to_owned(), None, false);
        e
    };
    for e in l.elems {
        let item = attrs_in(
            ev,
            *e,
            span,
            "while evaluating an element of the list passed to builtins.listToAttrs",
        )?;
        let name = item.get(name_sym).ok_or_else(|| missing("name"))?;
        // The error and its frame are at the `name` attribute, where it has a position.
        let at = ev.pos_span(name.pos).unwrap_or(span);
        let name = super::string_no_ctx(ev, name.value, at).map_err(|e| {
            name_error(
                e,
                at,
                span,
                "while evaluating the `name` attribute of an element of the list passed to builtins.listToAttrs",
            )
        })?;
        let sym = ev.sym(name.bytes);
        // The first occurrence of a name wins, and Nix looks at a later one's `value` not at
        // all.
        if !seen.insert(sym) {
            continue;
        }
        let value = item.get(value_sym).ok_or_else(|| missing("value"))?;
        out.push(Attr {
            name: sym,
            // Nix gives the attribute the position of the element's `value`.
            pos: value.pos,
            value: value.value,
        });
    }
    Ok(ev.new_attrs(out))
}

/// The frame of a `name` attribute that is not a string: at the attribute when it has a
/// position (the error keeps it too), else at the call, which Nix shows once.
#[cold]
#[inline(never)]
fn name_error(e: Box<EvalError>, at: Span, call: Span, message: &str) -> Box<EvalError> {
    if at == call {
        with_frame(e, message, call, None)
    } else {
        let mut e = e;
        e.add_trace(message.to_owned(), Some(at), false);
        e
    }
}

fn zip_attrs_with<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let f = super::function(ev, args[0], span).in_arg(0)?;
    let sets = list(ev, args[1], span).arg(1)?;
    let mut groups: Vec<(crate::intern::Symbol, Vec<Value<'a>>)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for s in sets.elems {
        let a = attrs_in(
            ev,
            *s,
            span,
            "while evaluating a value of the list passed as second argument to builtins.zipAttrsWith",
        )?;
        for attr in a.entries {
            let i = *index.entry(attr.name).or_insert_with(|| {
                groups.push((attr.name, Vec::new()));
                groups.len() - 1
            });
            groups[i].1.push(attr.value);
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (name, values) in groups {
        let name_v = ev.sym_value(name);
        let values = ev.new_list(values);
        out.push(Attr::new(name, ev.lazy_apply2(f, name_v, values)));
    }
    Ok(ev.new_attrs(out))
}
