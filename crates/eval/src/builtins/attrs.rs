//! Attribute sets: `attrNames`, `attrValues`, `getAttr`, `hasAttr`, `mapAttrs`,
//! `removeAttrs`, `intersectAttrs`, `catAttrs`, `listToAttrs`, `zipAttrsWith`.

use super::{attrs, attrs_in, list, with_frame};
use crate::eval::{Eval, EvalResult};
use crate::eval_error::{ErrorKind, EvalError};
use crate::print::sorted_attrs;
use crate::span::Span;
use crate::value::{Attr, PosIdx, PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!("attrNames", 1, attr_names),
    prim!("attrValues", 1, attr_values),
    prim!("getAttr", 2, get_attr),
    prim!("hasAttr", 2, has_attr),
    prim!("mapAttrs", 2, map_attrs),
    prim!("removeAttrs", 2, remove_attrs),
    prim!("intersectAttrs", 2, intersect_attrs),
    prim!("catAttrs", 2, cat_attrs),
    prim!("listToAttrs", 1, list_to_attrs),
    prim!("zipAttrsWith", 2, zip_attrs_with),
];

fn attr_names<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let a = attrs(ev, args[0], span)?;
    let names = sorted_attrs(ev, a)
        .into_iter()
        .map(|(n, _)| ev.sym_value(n))
        .collect();
    Ok(ev.new_list(names))
}

fn attr_values<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let a = attrs(ev, args[0], span)?;
    let values = sorted_attrs(ev, a).into_iter().map(|(_, v)| v).collect();
    Ok(ev.new_list(values))
}

fn get_attr<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let name = super::arg_frame(super::string_no_ctx(ev, args[0], span), "getAttr", 0, span)?;
    let a = attrs(ev, args[1], span)?;
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
    let name = super::arg_frame(super::string_no_ctx(ev, args[0], span), "hasAttr", 0, span)?;
    let a = attrs(ev, args[1], span)?;
    let sym = ev.sym(name.bytes);
    Ok(Value::Bool(a.get(sym).is_some()))
}

fn map_attrs<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let a = attrs(ev, args[1], span)?;
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
    let a = attrs(ev, args[0], span)?;
    let names = list(ev, args[1], span)?;
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
    let a = attrs(ev, args[0], span)?;
    let b = attrs(ev, args[1], span)?;
    let kept: Vec<Attr<'a>> = b
        .entries
        .iter()
        .filter(|e| a.get(e.name).is_some())
        .copied()
        .collect();
    Ok(Value::Attrs(ev.arena.alloc(crate::value::Attrs {
        entries: ev.arena.alloc_slice_copy(&kept),
    })))
}

fn cat_attrs<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let name = super::arg_frame(super::string_no_ctx(ev, args[0], span), "catAttrs", 0, span)?;
    let sym = ev.sym(name.bytes);
    let l = list(ev, args[1], span)?;
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
    let l = list(ev, args[0], span)?;
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
    let f = super::function_arg(ev, args[0], span, "zipAttrsWith")?;
    let sets = list(ev, args[1], span)?;
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
