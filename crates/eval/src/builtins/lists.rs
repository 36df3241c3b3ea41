//! Lists: `length`, `head`, `tail`, `elemAt`, `elem`, `genList`, `map`, `filter`, `foldl'`,
//! `concatLists`, `concatMap`, `all`, `any`, `sort`, `partition`, `groupBy`, `genericClosure`.

use super::{attrs, attrs_in, boolean, function, int, list, list_in, with_frame, ArgResult};
use crate::eval::{Eval, EvalResult};
use crate::eval_error::EvalError;
use crate::span::Span;
use crate::value::{Attr, PosIdx, PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "length",
        length,
        [
            "e" => "first argument passed to builtins.length",
        ],
        "The number of elements of the list `e`.",
    ),
    prim!(
        "head",
        head,
        [
            "list" => "first argument passed to 'builtins.head'",
        ],
        "The first element of `list`; an error if the list is empty.",
    ),
    prim!(
        "tail",
        tail,
        [
            "list" => "first argument passed to 'builtins.tail'",
        ],
        "`list` without its first element; an error if the list is empty.",
    ),
    prim!(
        "elemAt",
        elem_at,
        [
            "xs" => "first argument passed to 'builtins.elemAt'",
            "n" => "second argument passed to 'builtins.elemAt'",
        ],
        "Element `n` of the list `xs`, counting from 0; an error if the list is shorter.",
    ),
    prim!(
        "elem",
        elem,
        [
            "x",
            "xs" => "second argument passed to builtins.elem",
        ],
        "Whether `x` is equal (`==`) to an element of the list `xs`.",
    ),
    prim!(
        "genList",
        gen_list,
        [
            "generator" => "first argument passed to builtins.genList",
            "length" => "second argument passed to builtins.genList",
        ],
        "A list of `length` elements, element `i` being `generator i`, computed lazily.",
    ),
    prim!(
        "map",
        map,
        [
            "f" => "first argument passed to builtins.map",
            "list" => "second argument passed to builtins.map",
        ],
        "The list of `f` applied to each element of `list`, computed lazily.",
    ),
    prim!(
        "filter",
        filter,
        [
            "f" => "first argument passed to builtins.filter",
            "list" => "second argument passed to builtins.filter",
        ],
        "The elements of `list` for which `f` returns true, in order.",
    ),
    prim!(
        "foldl'",
        foldl,
        [
            "op" => "first argument passed to builtins.foldlStrict",
            "nul",
            "list" => "third argument passed to builtins.foldlStrict",
        ],
        "Reduces `list` from the left with `op`, starting from `nul`: `op (op (op nul x0) x1) x2`; each step's result is forced before the next.",
    ),
    prim!(
        "concatLists",
        concat_lists,
        [
            "lists" => "first argument passed to builtins.concatLists",
        ],
        "The lists of the list `lists` joined into one.",
    ),
    prim!(
        "concatMap",
        concat_map,
        [
            "f" => "first argument passed to builtins.concatMap",
            "list" => "second argument passed to builtins.concatMap",
        ],
        "`f` applied to each element of `list`, the resulting lists joined into one.",
    ),
    prim!(
        "all",
        all,
        [
            "pred" => "first argument passed to builtins.all",
            "list" => "second argument passed to builtins.all",
        ],
        "Whether `pred` returns true for every element of `list`.",
    ),
    prim!(
        "any",
        any,
        [
            "pred" => "first argument passed to builtins.any",
            "list" => "second argument passed to builtins.any",
        ],
        "Whether `pred` returns true for at least one element of `list`.",
    ),
    prim!(
        "sort",
        sort,
        [
            "comparator" => "first argument passed to builtins.sort",
            "list" => "second argument passed to builtins.sort",
        ],
        "`list` in the order `comparator` defines (`comparator a b` is true when `a` goes before `b`); the sort is stable.",
    ),
    prim!(
        "partition",
        partition,
        [
            "pred" => "first argument passed to builtins.partition",
            "list" => "second argument passed to builtins.partition",
        ],
        "Splits `list` into `right`, the elements for which `pred` is true, and `wrong`, the others, keeping their order.",
    ),
    prim!(
        "groupBy",
        group_by,
        [
            "f" => "first argument passed to builtins.groupBy",
            "list" => "second argument passed to builtins.groupBy",
        ],
        "Groups the elements of `list` into a set of lists, by the string `f` returns for each.",
    ),
    prim!(
        "genericClosure",
        generic_closure,
        [
            "attrset" => "first argument passed to builtins.genericClosure",
        ],
        "The closure of `attrset.startSet` under `attrset.operator`: every set reached, each distinct `key` once, in the order found.",
    ),
];

fn length<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    Ok(Value::Int(
        list(ev, args[0], span).arg(0)?.elems.len() as i64
    ))
}

fn head<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let l = list(ev, args[0], span).arg(0)?;
    match l.elems.first() {
        Some(v) => ev.force(*v),
        None => Err(EvalError::msg(
            "'builtins.head' called on an empty list",
            span,
        )),
    }
}

fn tail<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let l = list(ev, args[0], span).arg(0)?;
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
    let l = list(ev, args[0], span).arg(0)?;
    let n = int(ev, args[1], span).in_arg(1)?;
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
    let l = list(ev, args[1], span).arg(1)?;
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
    let n = int(ev, args[1], span).in_arg(1)?;
    if n < 0 {
        return Err(EvalError::msg(
            format!("cannot create list of size {n}"),
            span,
        ));
    }
    // Nix forces the generator even for an empty list, after the length.
    let f = super::function(ev, args[0], span).in_arg(0)?;
    let f: &'a Value<'a> = ev.arena.alloc(f);
    Ok(ev.new_list_iter((0..n as usize).map(|i| ev.lazy_apply_index(f, i as i64))))
}

fn map<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let l = list(ev, args[1], span).arg(1)?;
    // As in Nix: the list first, and the function only when there is something to map.
    if l.elems.is_empty() {
        return Ok(Value::List(l));
    }
    let f = super::function(ev, args[0], span).in_arg(0)?;
    let f: &'a Value<'a> = ev.arena.alloc(f);
    Ok(ev.new_list_iter(l.elems.iter().map(|e| ev.lazy_apply_ref(f, e))))
}

fn filter<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    // As in Nix: the list first, and the function only when there is something to filter.
    let l = list(ev, args[1], span).arg(1)?;
    if l.elems.is_empty() {
        return Ok(Value::List(l));
    }
    let f = super::function(ev, args[0], span).in_arg(0)?;
    let mut out = Vec::new();
    for e in l.elems {
        let keep = ev.call_n(f, &[*e], span)?;
        let keep = boolean(ev, keep, span).map_err(|e| {
            with_frame(
                e,
                "while evaluating the return value of the filtering function passed to builtins.filter",
                span,
                None,
            )
        })?;
        if keep {
            out.push(*e);
        }
    }
    if out.len() == l.elems.len() {
        return Ok(Value::List(l));
    }
    Ok(ev.new_list(out))
}

fn foldl<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    // The primop is `foldl'`, but Nix's frames name it `foldlStrict`.
    let f = function(ev, args[0], span).in_arg(0)?;
    let l = list(ev, args[2], span).arg(2)?;
    let mut acc = args[1];
    for e in l.elems {
        acc = ev.call_n(f, &[acc, *e], span)?;
    }
    ev.force(acc)
}

fn concat_lists<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let l = list(ev, args[0], span).arg(0)?;
    let mut out = Vec::new();
    for e in l.elems {
        let l = list_in(
            ev,
            *e,
            span,
            "while evaluating a value of the list passed to builtins.concatLists",
        )?;
        out.extend_from_slice(l.elems);
    }
    Ok(ev.new_list(out))
}

fn concat_map<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let f = super::function(ev, args[0], span).in_arg(0)?;
    let l = list(ev, args[1], span).arg(1)?;
    let mut out = Vec::new();
    for e in l.elems {
        let r = ev.call_n(f, &[*e], span)?;
        match r {
            Value::List(l) => out.extend_from_slice(l.elems),
            // Nix's frame is at the function, where it has a position.
            other => {
                let at = match f {
                    Value::Lambda(c) => Some(c.lambda.span),
                    _ => None,
                };
                return Err(with_frame(
                    crate::eval::type_error("a list", &other, ev, span),
                    "while evaluating the return value of the function passed to builtins.concatMap",
                    span,
                    at,
                ));
            }
        }
    }
    Ok(ev.new_list(out))
}

fn all<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let f = super::function(ev, args[0], span).in_arg(0)?;
    let l = list(ev, args[1], span).arg(1)?;
    for e in l.elems {
        let r = ev.call_n(f, &[*e], span)?;
        let r = boolean(ev, r, span).map_err(|e| {
            with_frame(
                e,
                "while evaluating the return value of the function passed to builtins.all",
                span,
                None,
            )
        })?;
        if !r {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

fn any<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let f = super::function(ev, args[0], span).in_arg(0)?;
    let l = list(ev, args[1], span).arg(1)?;
    for e in l.elems {
        let r = ev.call_n(f, &[*e], span)?;
        let r = boolean(ev, r, span).map_err(|e| {
            with_frame(
                e,
                "while evaluating the return value of the function passed to builtins.any",
                span,
                None,
            )
        })?;
        if r {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

/// A stable merge sort with the user's comparator (which may fail, so `slice::sort_by` with
/// its panicking-free but error-less comparator does not fit).
fn sort<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    // As in Nix: the list first, the function only when there is something to sort, then
    // every element, before any comparison.
    let l = list(ev, args[1], span).arg(1)?;
    if l.elems.is_empty() {
        return Ok(Value::List(l));
    }
    let f = super::function(ev, args[0], span).in_arg(0)?;
    // The elements are taken as values: the comparator then reads them without going
    // through their thunks (the new list prints the same).
    let mut items: Vec<Value<'a>> = Vec::with_capacity(l.elems.len());
    for e in l.elems {
        items.push(ev.force(*e)?);
    }
    // `lessThan` is compared natively, as Nix does.
    let native = matches!(f, Value::PrimOp(op) if op.name == "lessThan");
    let mut less = |ev: &mut Eval<'a>, a: Value<'a>, b: Value<'a>| -> EvalResult<bool> {
        if native {
            if let (Value::Int(x), Value::Int(y)) = (a, b) {
                return Ok(x < y);
            }
            return ev.less_than(a, b, span).map_err(|e| {
                with_frame(
                    e,
                    "while evaluating the ordering function passed to builtins.sort",
                    span,
                    None,
                )
            });
        }
        match ev.call_n(f, &[a, b], span)? {
            Value::Bool(b) => Ok(b),
            r => boolean(ev, r, span).map_err(|e| {
                with_frame(
                    e,
                    "while evaluating the return value of the sorting function passed to builtins.sort",
                    span,
                    None,
                )
            }),
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
    let f = super::function(ev, args[0], span).in_arg(0)?;
    let l = list(ev, args[1], span).arg(1)?;
    let (mut right, mut wrong) = (Vec::new(), Vec::new());
    for e in l.elems {
        // Nix forces each element before passing it.
        ev.force(*e)?;
        let r = ev.call_n(f, &[*e], span)?;
        let r = boolean(ev, r, span).map_err(|e| {
            with_frame(
                e,
                "while evaluating the return value of the partition function passed to builtins.partition",
                span,
                None,
            )
        })?;
        if r {
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
    let f = super::function(ev, args[0], span).in_arg(0)?;
    let l = list(ev, args[1], span).arg(1)?;
    let mut groups: Vec<(crate::intern::Symbol, Vec<Value<'a>>)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for e in l.elems {
        let k = ev.call_n(f, &[*e], span)?;
        let k = super::string_no_ctx(ev, k, span).map_err(|e| {
            with_frame(
                e,
                "while evaluating the return value of the grouping function passed to builtins.groupBy",
                span,
                None,
            )
        })?;
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
    let a = attrs(ev, args[0], span).arg(0)?;
    let start_sym = ev.sym(b"startSet");
    let op_sym = ev.sym(b"operator");
    let key_sym = ev.sym(b"key");
    // Nix's missing attribute here has no position, only the frame saying where it looked.
    let missing = |name: &str, message: &str| {
        let mut e = EvalError::new(
            crate::eval_error::ErrorKind::MissingAttr {
                name: name.into(),
                suggestions: Vec::new(),
            },
            None,
        );
        e.add_trace(message.to_owned(), None, false);
        e
    };
    const IN_ARGUMENT: &str = "in the attrset passed as argument to builtins.genericClosure";
    const IN_ELEMENT: &str =
        "in one of the attrsets generated by (or initially passed to) builtins.genericClosure";
    let start = a
        .get(start_sym)
        .ok_or_else(|| missing("startSet", IN_ARGUMENT))?
        .value;
    let start = list_in(
        ev,
        start,
        span,
        "while evaluating the 'startSet' attribute passed as argument to builtins.genericClosure",
    )?;
    // As in Nix, an empty start set is the result, whatever the operator.
    if start.elems.is_empty() {
        return Ok(Value::List(start));
    }
    let op = a
        .get(op_sym)
        .ok_or_else(|| missing("operator", IN_ARGUMENT))?
        .value;
    let op = function(ev, op, span).map_err(|e| {
        with_frame(
            e,
            "while evaluating the 'operator' attribute passed as argument to builtins.genericClosure",
            span,
            None,
        )
    })?;
    let mut work: std::collections::VecDeque<Value<'a>> = start.elems.iter().copied().collect();
    // The keys seen, sorted by `<`: Nix keeps them in an ordered set, so keys must be
    // comparable (numbers, strings, paths, lists of those) and a closure of n elements costs
    // n log n comparisons, not n².
    let mut seen: Vec<Value<'a>> = Vec::new();
    let mut out = Vec::new();
    while let Some(item) = work.pop_front() {
        let item_attrs = attrs_in(
            ev,
            item,
            span,
            "while evaluating one of the elements generated by (or initially passed to) builtins.genericClosure",
        )?;
        let key = item_attrs
            .get(key_sym)
            .ok_or_else(|| missing("key", IN_ELEMENT))?
            .value;
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
        let next = list_in(
            ev,
            next,
            span,
            "while evaluating the return value of the `operator` passed to builtins.genericClosure",
        )?;
        // Nix forces each new element as it adds it to the work set.
        for e in next.elems {
            ev.force(*e)?;
        }
        work.extend(next.elems.iter().copied());
    }
    Ok(ev.new_list(out))
}
