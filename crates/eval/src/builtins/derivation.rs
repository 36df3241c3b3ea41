//! Derivations: `derivationStrict` (attributes to a `.drv` file in the store), `derivation`
//! (the wrapper in `nix/corepkgs/derivation.nix`), and `placeholder`.
//!
//! Spec: the Nix manual's "Derivations" and "Advanced attributes" pages, and Nix 2.8's
//! behaviour, against which `crates/cli/tests/cli/instantiate.rs` compares `.drv` bytes and
//! paths; error messages use current Nix's wording. How attributes become a derivation:
//!
//! * Attributes are taken in name order. `__ignoreNulls = true` drops null ones; `args` (a
//!   list) gives the builder's arguments; every other attribute goes to the environment as a
//!   string (coerced as `toString` does, but with paths copied to the store), or, with
//!   `__structuredAttrs = true`, into one JSON object in the `__json` variable.
//! * `builder`, `system`, `outputs`, `outputHash`, `outputHashAlgo` and `outputHashMode` are also
//!   read for what they mean. A fixed-output derivation (`outputHash`) accepts the hash in every
//!   form Nix does (base16, nix32, base64, `algo:…`, SRI), its algorithm from `outputHashAlgo`
//!   or from the hash itself.
//! * The contexts of all the strings become the inputs: a plain path is an input source, an
//!   output of a derivation an input derivation with that output, and a whole derivation
//!   (`drvPath`'s context) its closure: every path in it a source, every derivation in it an
//!   input with all its outputs.
//! * Output paths come from `Derivation::fill_outputs`; the input derivations are read through
//!   [`crate::io::EvalIo::read_derivation`] and their hashes kept for the whole evaluation in
//!   [`DrvState`] (which is also what lets read-only evaluation work: derivations are then not
//!   written anywhere).
//!
//! Not supported: content-addressed derivations (`__contentAddressed`, `__impure`,
//! `outputHashMode = "text"`), which need experimental features, as in Nix by default.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kiln_formats::derivation::{Derivation, DerivationOutput, DrvHashCache};
use kiln_formats::hash::{Hash, HashAlgo};
use kiln_formats::store_path::{FileIngestionMethod, StorePath};

use super::{attrs, boolean, list, string, with_frame, ArgResult};
use crate::eval::{CoerceMode, Eval, EvalResult};
use crate::eval_error::EvalError;
use crate::report::Notice;
use crate::span::Span;
use crate::value::{Attr, ContextElem, PosIdx, PrimOp, Value};

pub(super) static BUILTINS: &[PrimOp] = &[
    prim!(
        "derivationStrict",
        derivation_strict,
        [
            "attrs" => "argument passed to builtins.derivationStrict",
        ],
        "Writes the derivation that `attrs` describes to the store and returns its `drvPath` and output paths.",
    ),
    prim!(
        "derivation",
        derivation,
        [
            "attrs",
        ],
        "A derivation: `attrs` (with `name`, `system` and `builder`) plus its `drvPath`, output paths and one attribute per output.",
    ),
    prim!(
        "placeholder",
        placeholder,
        [
            "output" => "first argument passed to builtins.placeholder",
        ],
        "The placeholder string that stands for the path of the output `output` in a derivation's attributes.",
    ),
];

/// The Nix code of `derivation`.
const DERIVATION_NIX: &str = include_str!("../../../../nix/corepkgs/derivation.nix");

/// What the derivation builtins keep for the length of an evaluation.
#[derive(Default)]
pub(crate) struct DrvState<'a> {
    /// `hashDerivationModulo` of every derivation made or read so far, by `.drv` path.
    hashes: DrvHashCache,
    /// The `derivation` function, once evaluated.
    derivation_fn: Option<Value<'a>>,
}

/// `derivation attrs`: evaluates `nix/corepkgs/derivation.nix` on first use, then calls it.
fn derivation<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let f = match ev.drv_state.derivation_fn {
        Some(f) => f,
        None => {
            let ir = ev.compile(
                "<nix/derivation.nix>",
                DERIVATION_NIX.as_bytes(),
                Path::new("/"),
            )?;
            let env = ev.base_env();
            let f = ev.eval(ir, env)?;
            ev.drv_state.derivation_fn = Some(f);
            f
        }
    };
    ev.call(f, args[0], Some(span))
}

/// `placeholder output`: `/` and the nix32 SHA-256 of `nix-output:<output>`, which the builder
/// sees replaced by the output's path.
fn placeholder<'a>(ev: &mut Eval<'a>, args: &[Value<'a>], span: Span) -> EvalResult<Value<'a>> {
    let name = super::string_no_ctx(ev, args[0], span).in_arg(0)?;
    let mut data = b"nix-output:".to_vec();
    data.extend_from_slice(name.bytes);
    let h = Hash::digest_bytes(HashAlgo::Sha256, &data);
    Ok(ev.new_str(format!("/{}", h.to_nix32()).as_bytes()))
}

/// A derivation being assembled from its attributes.
struct Builder<'a> {
    drv: Derivation,
    context: Vec<ContextElem<'a>>,
    json: Option<Vec<u8>>,
    outputs: BTreeSet<String>,
    output_hash: Option<String>,
    output_hash_algo: Option<String>,
    output_hash_mode: Option<FileIngestionMethod>,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Forces a string that must not have a context.
fn string_no_context<'a>(ev: &mut Eval<'a>, v: Value<'a>, span: Span) -> EvalResult<String> {
    let s = string(ev, v, span)?;
    if let Some(c) = s.context.first() {
        let path = match c {
            ContextElem::Opaque(p) | ContextElem::AllOutputs(p) => p,
            ContextElem::Built { drv, .. } => drv,
        };
        return Err(EvalError::msg(
            format!(
                "the string '{}' is not allowed to refer to a store path (such as '{}')",
                text(s.bytes),
                text(path)
            ),
            span,
        ));
    }
    Ok(text(s.bytes))
}

/// Coerces an attribute for the environment: as `toString`, but copying paths to the store.
fn coerce_env<'a>(
    ev: &mut Eval<'a>,
    v: Value<'a>,
    span: Span,
    bytes: &mut Vec<u8>,
    context: &mut Vec<ContextElem<'a>>,
) -> EvalResult<()> {
    let v = ev.force(v)?;
    match v {
        Value::Path(_) => {
            ev.coerce_to_string_into(v, span, CoerceMode::Interpolation, bytes, context)
        }
        Value::List(l) => {
            for (i, e) in l.elems.iter().enumerate() {
                let e = ev.force(*e)?;
                coerce_env(ev, e, span, bytes, context).map_err(|mut err| {
                    // As `toString` of a list reports an element that does not coerce.
                    if matches!(e, Value::List(_)) || crate::arith::coercion_failed(&err) {
                        err.add_trace(
                            "while evaluating one element of the list".to_owned(),
                            None,
                            false,
                        );
                    }
                    err
                })?;
                let empty_list = matches!(e, Value::List(l) if l.elems.is_empty());
                if i + 1 < l.elems.len() && !empty_list {
                    bytes.push(b' ');
                }
            }
            Ok(())
        }
        _ => ev.coerce_to_string_into(v, span, CoerceMode::ToString, bytes, context),
    }
}

fn set_outputs(b: &mut Builder<'_>, names: Vec<String>, span: Span) -> EvalResult<()> {
    b.outputs.clear();
    for n in names {
        if b.outputs.contains(&n) {
            return Err(EvalError::msg(
                format!("duplicate derivation output '{n}'"),
                span,
            ));
        }
        // The result has a `drvPath` attribute of its own.
        if n == "drvPath" {
            return Err(EvalError::msg(
                "invalid derivation output name 'drvPath'",
                span,
            ));
        }
        b.outputs.insert(n);
    }
    if b.outputs.is_empty() {
        return Err(EvalError::msg(
            "derivation cannot have an empty set of outputs",
            span,
        ));
    }
    Ok(())
}

fn set_hash_mode(b: &mut Builder<'_>, mode: &str, span: Span) -> EvalResult<()> {
    b.output_hash_mode = Some(match mode {
        "recursive" => FileIngestionMethod::Recursive,
        "flat" => FileIngestionMethod::Flat,
        "text" => {
            return Err(EvalError::msg(
                "experimental Nix feature 'dynamic-derivations' is disabled; add \
                 '--extra-experimental-features dynamic-derivations' to enable it",
                span,
            ))
        }
        _ => {
            return Err(EvalError::msg(
                format!("invalid value '{mode}' for 'outputHashMode' attribute"),
                span,
            ))
        }
    });
    Ok(())
}

/// Handles one attribute (not `__ignoreNulls`).
fn add_attr<'a>(
    ev: &mut Eval<'a>,
    b: &mut Builder<'a>,
    key: &[u8],
    value: Value<'a>,
    span: Span,
) -> EvalResult<()> {
    match key {
        b"__contentAddressed" | b"__impure" => {
            if boolean(ev, value, span)? {
                let feature = if key == b"__impure" {
                    "impure-derivations"
                } else {
                    "ca-derivations"
                };
                return Err(EvalError::msg(
                    format!(
                        "experimental Nix feature '{feature}' is disabled; add \
                         '--extra-experimental-features {feature}' to enable it"
                    ),
                    span,
                ));
            }
            return Ok(());
        }
        b"args" => {
            let l = list(ev, value, span)?;
            for e in l.elems {
                let mut bytes = Vec::new();
                let e = ev.force(*e)?;
                coerce_env(ev, e, span, &mut bytes, &mut b.context).map_err(|err| {
                    if matches!(e, Value::List(_)) || crate::arith::coercion_failed(&err) {
                        with_frame(
                            err,
                            "while evaluating an element of the argument list",
                            span,
                            None,
                        )
                    } else {
                        err
                    }
                })?;
                b.drv.args.push(bytes);
            }
            return Ok(());
        }
        _ => {}
    }
    if b.json.is_some() {
        if key == b"__structuredAttrs" {
            return Ok(());
        }
        let mut out = Vec::new();
        crate::json::to_json(ev, value, span, &mut out, &mut b.context)?;
        let json = b.json.as_mut().expect("structured attributes");
        if json.len() > 1 {
            json.push(b',');
        }
        crate::json::json_string(key, json);
        json.push(b':');
        json.extend_from_slice(&out);
        match key {
            b"builder" => b.drv.builder = string(ev, value, span)?.bytes.to_vec(),
            b"system" => b.drv.system = string_no_context(ev, value, span)?.into_bytes(),
            b"outputHash" => b.output_hash = Some(string_no_context(ev, value, span)?),
            b"outputHashAlgo" => b.output_hash_algo = Some(string_no_context(ev, value, span)?),
            b"outputHashMode" => {
                let m = string_no_context(ev, value, span)?;
                set_hash_mode(b, &m, span)?;
            }
            b"outputs" => {
                let l = list(ev, value, span)?;
                let mut names = Vec::new();
                for e in l.elems {
                    names.push(string_no_context(ev, *e, span)?);
                }
                set_outputs(b, names, span)?;
            }
            _ => {}
        }
        return Ok(());
    }
    let mut bytes = Vec::new();
    coerce_env(ev, value, span, &mut bytes, &mut b.context)?;
    match key {
        b"builder" => b.drv.builder = bytes.clone(),
        b"system" => b.drv.system = bytes.clone(),
        b"outputHash" => b.output_hash = Some(text(&bytes)),
        b"outputHashAlgo" => b.output_hash_algo = Some(text(&bytes)),
        b"outputHashMode" => set_hash_mode(b, &text(&bytes), span)?,
        b"outputs" => {
            let names = text(&bytes)
                .split([' ', '\t', '\n', '\r'])
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            set_outputs(b, names, span)?;
        }
        _ => {}
    }
    b.drv.env.entry(key.to_vec()).or_insert(bytes);
    Ok(())
}

/// `what` failed with `e`, and with what caused `e` (a store's error wrapped in an I/O error
/// keeps the system's reason: "writing '…': No space left on device").
fn io_error(what: String, e: std::io::Error, span: Span) -> Box<EvalError> {
    EvalError::msg(format!("{what}: {}", kiln_formats::error_chain(&e)), span)
}

fn parse_store_path(ev: &Eval<'_>, p: &[u8], span: Span) -> EvalResult<StorePath> {
    StorePath::from_absolute(ev.io.store_dir(), &text(p))
        .map_err(|e| EvalError::msg(format!("{e}"), span))
}

/// Turns the collected string contexts into input derivations and sources.
fn add_inputs<'a>(ev: &mut Eval<'a>, b: &mut Builder<'a>, span: Span) -> EvalResult<()> {
    b.context.sort();
    b.context.dedup();
    for c in std::mem::take(&mut b.context) {
        match c {
            ContextElem::Opaque(p) => {
                let p = parse_store_path(ev, p, span)?;
                b.drv.input_srcs.insert(p);
            }
            ContextElem::Built { output, drv } => {
                let p = parse_store_path(ev, drv, span)?;
                b.drv.input_drvs.entry(p).or_default().insert(text(output));
            }
            ContextElem::AllOutputs(drv) => {
                let root = parse_store_path(ev, drv, span)?;
                let mut seen = BTreeSet::new();
                let mut todo = vec![root];
                while let Some(p) = todo.pop() {
                    if !seen.insert(p.clone()) {
                        continue;
                    }
                    let refs = ev.io.query_references(&p).map_err(|e| {
                        io_error(format!("querying the references of '{p}'"), e, span)
                    })?;
                    todo.extend(refs);
                }
                for p in seen {
                    if p.is_derivation() {
                        let d = ev
                            .io
                            .read_derivation(&p)
                            .map_err(|e| io_error(format!("reading derivation '{p}'"), e, span))?;
                        b.drv
                            .input_drvs
                            .entry(p.clone())
                            .or_default()
                            .extend(d.outputs.keys().cloned());
                    }
                    b.drv.input_srcs.insert(p);
                }
            }
        }
    }
    Ok(())
}

/// Parses `outputHash` with the algorithm of `outputHashAlgo`, as Nix's `newHashAllowEmpty`.
fn output_hash(ev: &Eval<'_>, hash: &str, algo: Option<&str>, span: Span) -> EvalResult<Hash> {
    let algo = algo.and_then(|a| a.parse::<HashAlgo>().ok());
    if hash.is_empty() {
        let Some(algo) = algo else {
            return Err(EvalError::msg(
                "empty hash requires explicit hash algorithm",
                span,
            ));
        };
        let h = Hash::from_digest(algo, &vec![0; algo.digest_len()])
            .expect("a digest of the algorithm's length");
        ev.report(Notice::Warning(&format!(
            "found empty hash, assuming '{}'",
            h.to_sri()
        )));
        return Ok(h);
    }
    // In current Nix's words, as convertHash reports them; any bad SRI hash is just that.
    Hash::parse_any(hash, algo).map_err(|e| match hash.split_once('-') {
        Some((prefix, digest))
            if !hash.contains(':')
                && prefix.parse::<HashAlgo>().is_ok()
                && !matches!(e, kiln_formats::hash::HashError::AlgoMismatch { .. }) =>
        {
            EvalError::msg(format!("invalid SRI hash '{digest}'"), span)
        }
        _ => super::hashing::parse_error(e, span),
    })
}

fn derivation_strict<'a>(
    ev: &mut Eval<'a>,
    args: &[Value<'a>],
    span: Span,
) -> EvalResult<Value<'a>> {
    let set = attrs(ev, args[0], span).arg(0)?;
    let name_sym = ev.syms.name;
    let Some(name_attr) = set.get(name_sym) else {
        let mut e = EvalError::msg("attribute 'name' missing", span);
        e.add_trace(
            "in the attrset passed as argument to builtins.derivationStrict".to_owned(),
            None,
            false,
        );
        return Err(e);
    };
    let name = string_no_context(ev, name_attr.value, span).map_err(|e| {
        let mut e = with_frame(
            e,
            "while evaluating the `name` attribute passed to builtins.derivationStrict",
            span,
            None,
        );
        e.add_trace(
            "while evaluating the derivation attribute 'name'".to_owned(),
            ev.pos_span(name_attr.pos),
            false,
        );
        e
    })?;
    let res = if let Some(problem) = super::store_name_problem(&name) {
        Err(EvalError::new(
            crate::ErrorKind::Message(format!(
                "invalid derivation name: {problem}. Please pass a different 'name'."
            )),
            None,
        ))
    } else if name.ends_with(".drv") {
        Err(EvalError::new(
            crate::ErrorKind::Message(
                "derivation names are allowed to end in '.drv' only if they produce a single \
                 derivation file"
                    .to_owned(),
            ),
            None,
        ))
    } else {
        build(ev, set, &name, span)
    };
    // Nix names the derivation and where its name is, without a code frame.
    res.map_err(|mut e| {
        let at = ev
            .pos_span(name_attr.pos)
            .map(|s| ev.sources.location(s))
            .unwrap_or_default();
        e.add_trace(
            format!(
                "while evaluating derivation '{name}'\n  whose name attribute is located at {at}"
            ),
            None,
            false,
        );
        e
    })
}

fn build<'a>(
    ev: &mut Eval<'a>,
    set: &'a crate::value::Attrs<'a>,
    name: &str,
    span: Span,
) -> EvalResult<Value<'a>> {
    let ignore_nulls_sym = ev.sym(b"__ignoreNulls");
    let structured_sym = ev.sym(b"__structuredAttrs");
    let flag = |ev: &mut Eval<'a>, sym, message: &str| match set.get(sym) {
        Some(a) => boolean(ev, a.value, span).map_err(|e| with_frame(e, message, span, None)),
        None => Ok(false),
    };
    let structured = flag(
        ev,
        structured_sym,
        "while evaluating the `__structuredAttrs` attribute passed to builtins.derivationStrict",
    )?;
    let ignore_nulls = flag(
        ev,
        ignore_nulls_sym,
        "while evaluating the `__ignoreNulls` attribute passed to builtins.derivationStrict",
    )?;
    let mut b = Builder {
        drv: Derivation::default(),
        context: Vec::new(),
        json: structured.then(|| b"{".to_vec()),
        outputs: BTreeSet::from(["out".to_owned()]),
        output_hash: None,
        output_hash_algo: None,
        output_hash_mode: None,
    };
    for (sym, value) in crate::print::sorted_attrs(ev, set) {
        if sym == ignore_nulls_sym {
            continue;
        }
        let attr_span = set
            .get(sym)
            .and_then(|a| ev.pos_span(a.pos))
            .unwrap_or(span);
        let key = ev.interner.resolve(sym).to_vec();
        let res = (|| {
            if ignore_nulls && matches!(ev.force(value)?, Value::Null) {
                return Ok(());
            }
            add_attr(ev, &mut b, &key, value, attr_span)
        })();
        if let Err(mut e) = res {
            // Nix reports these errors without a position of their own.
            if e.span == Some(attr_span) {
                e.span = None;
            }
            e.add_trace(
                format!(
                    "while evaluating attribute '{}' of derivation '{name}'",
                    text(&key)
                ),
                Some(attr_span),
                false,
            );
            return Err(e);
        }
    }
    if let Some(mut json) = b.json.take() {
        json.push(b'}');
        b.drv.env.insert(b"__json".to_vec(), json);
    }
    add_inputs(ev, &mut b, span)?;
    if b.drv.builder.is_empty() {
        return Err(EvalError::msg("required attribute 'builder' missing", span));
    }
    if b.drv.system.is_empty() {
        return Err(EvalError::msg("required attribute 'system' missing", span));
    }
    if let Some(h) = &b.output_hash {
        if b.outputs.len() != 1 || !b.outputs.contains("out") {
            return Err(EvalError::msg(
                "multiple outputs are not supported in fixed-output derivations",
                span,
            ));
        }
        let hash = output_hash(ev, h, b.output_hash_algo.as_deref(), span)?;
        b.drv.outputs.insert(
            "out".to_owned(),
            DerivationOutput::Fixed {
                method: b.output_hash_mode.unwrap_or(FileIngestionMethod::Flat),
                hash,
                path: None,
            },
        );
    } else {
        for o in &b.outputs {
            b.drv.outputs.insert(o.clone(), DerivationOutput::Deferred);
        }
    }

    let store_dir = ev.io.store_dir().to_owned();
    let mut drv = b.drv;
    {
        let io = &ev.io;
        let cache = &mut ev.drv_state.hashes;
        let mut lookup = |p: &StorePath| io.read_derivation(p);
        drv.fill_outputs(&store_dir, name, &mut lookup, cache)
            .map_err(|e| EvalError::msg(kiln_formats::error_chain(&e), span))?;
    }
    let drv_path = ev
        .io
        .write_derivation(&drv, name)
        .map_err(|e| io_error(format!("writing derivation '{name}.drv'"), e, span))?;
    {
        // Kept for derivations that use this one: in read-only mode they could not read it.
        let io = &ev.io;
        let cache = &mut ev.drv_state.hashes;
        let mut lookup = |p: &StorePath| io.read_derivation(p);
        let h = kiln_formats::derivation::hash_derivation_modulo(
            &drv,
            name,
            &store_dir,
            false,
            &mut lookup,
            cache,
        )
        .map_err(|e| EvalError::msg(kiln_formats::error_chain(&e), span))?;
        cache.insert(drv_path.clone(), h);
    }

    let drv_path_str = drv_path.to_absolute(&store_dir);
    let drv_bytes: &'a [u8] = ev.arena.alloc_slice_copy(drv_path_str.as_bytes());
    let mut res = Vec::with_capacity(drv.outputs.len() + 1);
    let drv_path_sym = ev.sym(b"drvPath");
    res.push(Attr {
        name: drv_path_sym,
        pos: PosIdx::NONE,
        value: ev.new_string(drv_bytes, &[ContextElem::AllOutputs(drv_bytes)]),
    });
    let outputs: BTreeMap<String, Option<String>> = drv
        .outputs
        .iter()
        .map(|(n, o)| (n.clone(), o.path().map(|p| p.to_absolute(&store_dir))))
        .collect();
    for (out_name, path) in outputs {
        let out_bytes: &'a [u8] = ev.arena.alloc_slice_copy(out_name.as_bytes());
        let path = path.unwrap_or_default();
        let sym = ev.sym(out_name.as_bytes());
        let value = ev.new_string(
            path.as_bytes(),
            &[ContextElem::Built {
                output: out_bytes,
                drv: drv_bytes,
            }],
        );
        res.push(Attr {
            name: sym,
            pos: PosIdx::NONE,
            value,
        });
    }
    Ok(ev.new_attrs(res))
}
