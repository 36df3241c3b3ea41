//! Lists: `length`, `head`, `tail`, `elemAt`, `elem`, `genList`, `map`, `filter`, `foldl'`,
//! `concatLists`, `concatMap`, `all`, `any`, `sort`, `partition`, `groupBy`, `genericClosure`.

use super::{attrs, boolean, function, int, list};
use crate::eval::{Eval, EvalResult};
use crate::eval_error::EvalError;
use crate::span::Span;
use crate::value::{Attr, PosIdx, PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!("length", 1, length),
    prim!("head", 1, head),
    prim!("tail", 1, tail),
    prim!("elemAt", 2, elem_at),
    prim!("elem", 2, elem),
    prim!("genList", 2, gen_list),
    prim!("map", 2, map),
    prim!("filter", 2, filter),
    prim!("foldl'", 3, foldl),
    prim!("concatLists", 1, concat_lists),
    prim!("concatMap", 2, concat_map),
    prim!("all", 2, all),
    prim!("any", 2, any),
    prim!("sort", 2, sort),
    prim!("partition", 2, partition),
    prim!("groupBy", 2, group_by),
    prim!("genericClosure", 1, generic_closure),
];

fn length<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    Ok(Value::Int(list(ev, args[0], span)?.elems.len() as i64))
}

fn head<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let l = list(ev, args[0], span)?;
    match l.elems.first() {
        Some(v) => ev.force(*v),
        None => Err(EvalError::msg(
            "'builtins.head' called on an empty list",
            span,
        )),
    }
}

fn tail<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let l = list(ev, args[0], span)?;
    if l.elems.is_empty() {
        return Err(EvalError::msg(
            "'builtins.tail' called on an empty list",
            span,
        ));
    }
    Ok(Value::List(ev.arena.alloc(crate::value::List {
        elems: &l.elems[1..],
    })))
}

fn elem_at<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let l = list(ev, args[0], span)?;
    let n = int(ev, args[1], span)?;
    match usize::try_from(n).ok().and_then(|i| l.elems.get(i)) {
        Some(v) => ev.force(*v),
        None => Err(EvalError::msg(
            format!(
                "'builtins.elemAt' called with index {n} on a list of size {}",
                l.elems.len()
            ),
            span,
        )),
    }
}

fn elem<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let l = list(ev, args[1], span)?;
    for e in l.elems {
        // Like Nix, a value is equal to itself without looking inside (so a function is an
        // element of a list holding that same function).
        if crate::eval::same_value(&args[0], e) || ev.equal(args[0], *e, span)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn gen_list<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let f = args[0];
    let n = int(ev, args[1], span)?;
    if n < 0 {
        return Err(EvalError::msg(
            format!("cannot create list of size {n}"),
            span,
        ));
    }
    let f: &'a Value<'a> = ev.arena.alloc(f);
    Ok(ev.new_list_iter((0..n as usize).map(|i| ev.lazy_apply_index(f, i as i64))))
}

fn map<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let l = list(ev, args[1], span)?;
    let f: &'a Value<'a> = ev.arena.alloc(args[0]);
    Ok(ev.new_list_iter(l.elems.iter().map(|e| ev.lazy_apply_ref(f, e))))
}

fn filter<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let f = function(ev, args[0], span)?;
    let l = list(ev, args[1], span)?;
    let mut out = Vec::new();
    for e in l.elems {
        let keep = ev.call_n(f, &[*e], span)?;
        if boolean(ev, keep, span)? {
            out.push(*e);
        }
    }
    if out.len() == l.elems.len() {
        return Ok(Value::List(l));
    }
    Ok(ev.new_list(out))
}

fn foldl<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let f = function(ev, args[0], span)?;
    let l = list(ev, args[2], span)?;
    let mut acc = args[1];
    for e in l.elems {
        acc = ev.call_n(f, &[acc, *e], span)?;
    }
    ev.force(acc)
}

fn concat_lists<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let l = list(ev, args[0], span)?;
    let mut out = Vec::new();
    for e in l.elems {
        out.extend_from_slice(list(ev, *e, span)?.elems);
    }
    Ok(ev.new_list(out))
}

fn concat_map<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let f = function(ev, args[0], span)?;
    let l = list(ev, args[1], span)?;
    let mut out = Vec::new();
    for e in l.elems {
        let r = ev.call_n(f, &[*e], span)?;
        out.extend_from_slice(list(ev, r, span)?.elems);
    }
    Ok(ev.new_list(out))
}

fn all<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let f = function(ev, args[0], span)?;
    let l = list(ev, args[1], span)?;
    for e in l.elems {
        let r = ev.call_n(f, &[*e], span)?;
        if !boolean(ev, r, span)? {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

fn any<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let f = function(ev, args[0], span)?;
    let l = list(ev, args[1], span)?;
    for e in l.elems {
        let r = ev.call_n(f, &[*e], span)?;
        if boolean(ev, r, span)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

/// A stable merge sort with the user's comparator (which may fail, so `slice::sort_by` with
/// its panicking-free but error-less comparator does not fit).
fn sort<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let f = function(ev, args[0], span)?;
    let l = list(ev, args[1], span)?;
    // Elements already evaluated are taken as values: the comparator then reads them without
    // going through their thunks (the new list prints the same).
    let mut items: Vec<Value<'a>> = l.elems.iter().map(|v| v.resolved()).collect();
    // `lessThan` is compared natively, as Nix does.
    let native = matches!(f, Value::PrimOp(op) if op.name == "lessThan");
    let mut less = |ev: &mut Eval<'a>, a: Value<'a>, b: Value<'a>| -> EvalResult<bool> {
        if native {
            if let (Value::Int(x), Value::Int(y)) = (a, b) {
                return Ok(x < y);
            }
            return ev.less_than(a, b, span);
        }
        match ev.call_n(f, &[a, b], span)? {
            Value::Bool(b) => Ok(b),
            r => boolean(ev, r, span),
        }
    };
    let mut buf = items.clone();
    merge_sort(ev, &mut items, &mut buf, &mut less)?;
    Ok(ev.new_list(items))
}

/// Merge sort with the comparator inlined (a generic, not a `dyn`: it runs n log n times).
fn merge_sort<'a, F>(
    ev: &mut Eval<'a>,
    v: &mut [Value<'a>],
    buf: &mut [Value<'a>],
    less: &mut F,
) -> EvalResult<()>
where
    F: FnMut(&mut Eval<'a>, Value<'a>, Value<'a>) -> EvalResult<bool>,
{
    let n = v.len();
    if n <= 1 {
        return Ok(());
    }
    if n <= 16 {
        // Insertion sort: stable, few comparisons on short runs.
        for i in 1..n {
            let mut j = i;
            while j > 0 && less(ev, v[j], v[j - 1])? {
                v.swap(j, j - 1);
                j -= 1;
            }
        }
        return Ok(());
    }
    let mid = n / 2;
    {
        let (lo, hi) = v.split_at_mut(mid);
        let (blo, bhi) = buf.split_at_mut(mid);
        merge_sort(ev, lo, blo, less)?;
        merge_sort(ev, hi, bhi, less)?;
    }
    // Already ordered halves need no merge.
    if !less(ev, v[mid], v[mid - 1])? {
        return Ok(());
    }
    buf[..n].copy_from_slice(v);
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < mid && j < n {
        if less(ev, buf[j], buf[i])? {
            v[k] = buf[j];
            j += 1;
        } else {
            v[k] = buf[i];
            i += 1;
        }
        k += 1;
    }
    v[k..k + (mid - i)].copy_from_slice(&buf[i..mid]);
    let k = k + (mid - i);
    v[k..].copy_from_slice(&buf[j..n]);
    Ok(())
}

fn partition<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let f = function(ev, args[0], span)?;
    let l = list(ev, args[1], span)?;
    let (mut right, mut wrong) = (Vec::new(), Vec::new());
    for e in l.elems {
        let r = ev.call_n(f, &[*e], span)?;
        if boolean(ev, r, span)? {
            right.push(*e);
        } else {
            wrong.push(*e);
        }
    }
    let r = ev.sym(b"right");
    let w = ev.sym(b"wrong");
    let (rv, wv) = (ev.new_list(right), ev.new_list(wrong));
    Ok(ev.new_attrs(vec![
        Attr {
            name: r,
            pos: PosIdx::NONE,
            value: rv,
        },
        Attr {
            name: w,
            pos: PosIdx::NONE,
            value: wv,
        },
    ]))
}

fn group_by<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let f = function(ev, args[0], span)?;
    let l = list(ev, args[1], span)?;
    let mut groups: Vec<(crate::intern::Symbol, Vec<Value<'a>>)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for e in l.elems {
        let k = ev.call_n(f, &[*e], span)?;
        let k = super::string(ev, k, span)?;
        let sym = ev.sym(k.bytes);
        let i = *index.entry(sym).or_insert_with(|| {
            groups.push((sym, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(*e);
    }
    let attrs = groups
        .into_iter()
        .map(|(name, items)| Attr {
            name,
            pos: PosIdx::NONE,
            value: ev.new_list(items),
        })
        .collect();
    Ok(ev.new_attrs(attrs))
}

/// Where `key` goes in the sorted `seen`, or `None` when it is already there. The new key is
/// the left operand of each comparison, as in Nix's set, so errors name the same types.
fn closure_key_position<'a>(
    ev: &mut Eval<'a>,
    seen: &[Value<'a>],
    key: Value<'a>,
    span: Span,
) -> EvalResult<Option<usize>> {
    let (mut lo, mut hi) = (0, seen.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if ev.less_than(key, seen[mid], span)? {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    // `seen[lo - 1] <= key < seen[lo]`: a duplicate is the one before.
    if lo > 0 && !ev.less_than(seen[lo - 1], key, span)? {
        return Ok(None);
    }
    Ok(Some(lo))
}

fn generic_closure<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let a = attrs(ev, args[0], span)?;
    let start_sym = ev.sym(b"startSet");
    let op_sym = ev.sym(b"operator");
    let key_sym = ev.sym(b"key");
    let missing = |name: &str| {
        EvalError::new(
            crate::eval_error::ErrorKind::MissingAttr {
                name: name.into(),
                suggestions: Vec::new(),
            },
            Some(span),
        )
    };
    let start = a.get(start_sym).ok_or_else(|| missing("startSet"))?.value;
    let op = a.get(op_sym).ok_or_else(|| missing("operator"))?.value;
    let op = function(ev, op, span)?;
    let mut work: std::collections::VecDeque<Value<'a>> =
        list(ev, start, span)?.elems.iter().copied().collect();
    // The keys seen, sorted by `<`: Nix keeps them in an ordered set, so keys must be
    // comparable (numbers, strings, paths, lists of those) and a closure of n elements costs
    // n log n comparisons, not n².
    let mut seen: Vec<Value<'a>> = Vec::new();
    let mut out = Vec::new();
    while let Some(item) = work.pop_front() {
        let item_attrs = attrs(ev, item, span)?;
        let key = item_attrs.get(key_sym).ok_or_else(|| missing("key"))?.value;
        let key = ev.force(key)?;
        let at = closure_key_position(ev, &seen, key, span).map_err(|mut e| {
            e.add_trace(
                "while comparing the `key` attributes of two genericClosure elements".into(),
                None,
                false,
            );
            e
        })?;
        let Some(at) = at else {
            continue;
        };
        seen.insert(at, key);
        out.push(item);
        let next = ev.call_n(op, &[item], span)?;
        work.extend(list(ev, next, span)?.elems.iter().copied());
    }
    Ok(ev.new_list(out))
}
