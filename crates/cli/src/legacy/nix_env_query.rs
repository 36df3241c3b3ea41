//! `nix-env -q`: the installed packages (`--installed`, the default) or the ones the
//! expression offers (`-a`/`--available`), as a table, `--json` or `--xml`.
//!
//! The columns, in the manual's order: `-s`/`--status` (`I`nstalled in the profile,
//! `P`resent in the store, `S`ubstitutable: Kiln has no substituters for this query, so `-`),
//! `-P`/`--attr-path` (`-a` only), the name (unless `--no-name`), `-c`/`--compare-versions`
//! (against the other set: `<` a newer version exists, `=` the same one, `>` only older ones,
//! `- ?` none), `--system`, `--drv-path`, `--out-path` (`dev=PATH;PATH`: outputs by name,
//! `out` unnamed), `--description`. `--json` prints an object keyed by attribute path (an
//! installed package's is its index in the manifest; with
//! `--out-path` the outputs' paths, with `--meta` the `meta` set); `--xml` one `<item>` per
//! package with every attribute Nix writes. Packages are sorted by name, ignoring case (as
//! upper case); name arguments select among them (each must match one); `-A PATH` (`-a`
//! only) takes the packages under one attribute path; `-b`/`--prebuilt-only` keeps the ones
//! present.

use std::collections::BTreeSet;
use std::io::Write as _;

use kiln_formats::drv_name;
use kiln_profile::{Element, MetaValue};
use kiln_session::{Field, PackageInfo};

use super::usage;

/// What `nix-env -q` prints.
#[derive(Default)]
pub struct QueryFlags {
    /// `-a`: the expression's packages, not the profile's.
    pub available: bool,
    /// `-s`.
    pub status: bool,
    /// `-P`.
    pub attr_path: bool,
    /// `--no-name`.
    pub no_name: bool,
    /// `-c`.
    pub compare_versions: bool,
    /// `--system`.
    pub system: bool,
    /// `--drv-path`.
    pub drv_path: bool,
    /// `--out-path`.
    pub out_path: bool,
    /// `--description`.
    pub description: bool,
    /// `--meta`.
    pub meta: bool,
    /// `--xml`.
    pub xml: bool,
    /// `--json`.
    pub json: bool,
    /// `-b`.
    pub prebuilt_only: bool,
    /// `-A PATH` (the last one given).
    pub attr: Option<String>,
}

impl QueryFlags {
    /// Takes `flag` if it is one of the query's; `-A` takes its argument from `iter`.
    pub fn take(
        &mut self,
        flag: &str,
        iter: &mut std::slice::Iter<'_, String>,
    ) -> anyhow::Result<bool> {
        match flag {
            "-s" | "--status" => self.status = true,
            "-P" | "--attr-path" => self.attr_path = true,
            "--no-name" => self.no_name = true,
            "-c" | "--compare-versions" => self.compare_versions = true,
            "--system" => self.system = true,
            "--drv-path" => self.drv_path = true,
            "--out-path" => self.out_path = true,
            "--description" => self.description = true,
            "--meta" => self.meta = true,
            "--xml" => self.xml = true,
            "--json" => self.json = true,
            "-b" | "--prebuilt-only" => self.prebuilt_only = true,
            "-a" | "--available" => self.available = true,
            "--installed" => self.available = false,
            "-A" | "--attr" => {
                let path = iter
                    .next()
                    .ok_or_else(|| usage(format!("flag '{flag}' requires an argument")))?;
                self.attr = Some(path.clone());
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl QueryFlags {
    /// What of each available package the query evaluates, in the order Nix 2.8's `nix-env`
    /// asks for it (a package's `name` is always evaluated): with `-s` or `-b` the output
    /// paths first; then the fields of `--json` (`system`, `outputName`, the outputs, `meta`),
    /// of `--xml`, or of the table's columns. Nothing else is forced, so a package whose
    /// `drvPath` throws is listed unless a column needs it.
    pub fn fields(&self) -> Vec<Field> {
        let mut f = Vec::new();
        if self.status || self.prebuilt_only {
            f.push(Field::OutPath);
        }
        let outputs = if self.out_path {
            Field::OutPaths
        } else {
            Field::Outputs
        };
        if self.json {
            f.extend([Field::System, Field::OutputName, outputs]);
            if self.meta {
                f.push(Field::Meta);
            }
        } else if self.xml {
            f.push(Field::System);
            if self.drv_path {
                f.push(Field::DrvPath);
            }
            f.push(Field::OutputName);
            if self.description {
                f.push(Field::Description);
            }
            f.push(outputs);
            if self.meta {
                f.push(Field::Meta);
            }
        } else {
            if self.system {
                f.push(Field::System);
            }
            if self.drv_path {
                f.push(Field::DrvPath);
            }
            if self.out_path {
                f.push(Field::OutPaths);
            }
            if self.description {
                f.push(Field::Description);
            }
        }
        f
    }
}

/// A package to list, with what the query found out about it while evaluating.
pub struct Listed {
    /// The package (of an available one, only the fields the query evaluated).
    pub elem: Element,
    /// `outputName` (empty for an installed package, whose manifest entry has none).
    pub output_name: String,
    /// `outPath` (of an available package, only with `-s` or `-b`).
    pub out_path: String,
    /// The first field whose evaluation failed catchably (see [`QueryFlags::fields`]).
    pub failed: Option<Field>,
}

impl Listed {
    /// An installed package, read from the manifest in full.
    pub fn installed(elem: Element) -> Listed {
        Listed {
            out_path: elem.out_path().to_owned(),
            elem,
            output_name: String::new(),
            failed: None,
        }
    }

    /// An available package, as far as it was evaluated.
    pub fn available(mut info: PackageInfo) -> Listed {
        Listed {
            out_path: std::mem::take(&mut info.out_path),
            output_name: info.output_name.clone(),
            failed: info.failed,
            elem: element(info),
        }
    }
}

/// A package's info as an [`Element`], whatever was evaluated of it.
pub fn element(info: PackageInfo) -> Element {
    Element {
        name: info.name,
        attr_path: info.attr_path,
        system: info.system,
        drv_path: Some(info.drv_path).filter(|d| !d.is_empty()),
        outputs: info.outputs,
        meta: info.meta,
    }
}

/// What a query looks at: the packages it lists and the ones it compares them with.
pub struct QueryInput {
    /// The source's packages (`-A` already applied).
    pub elems: Vec<Listed>,
    /// The installed packages (for `-s`, and `-c` of available ones).
    pub installed: Vec<Element>,
    /// The available packages (for `-c` of installed ones).
    pub available: Vec<Element>,
}

/// Selects, sorts and prints the packages; `is_valid` says whether a store path is present.
pub fn print(
    flags: &QueryFlags,
    input: QueryInput,
    selectors: &[String],
    is_valid: &dyn Fn(&str) -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    if flags.attr_path && !flags.available {
        return Err(usage("--attr-path(-P) only works with --available"));
    }
    let elems = select(input.elems, selectors)?;
    // Nix's `cmpElemByName`: by name, ignoring case as `toupper` does (so `bindfs` comes
    // before `bin_replace`: `D` < `_`; bytes from 0x80 last, as Nix 2.8 orders them). Nix
    // sorts with `std::sort`, which is not stable: packages of the same name (nixpkgs' kernel
    // module sets) come out in the order libstdc++'s introsort leaves them, so Kiln sorts
    // with the same algorithm.
    let key = |l: &Listed| -> Vec<u8> {
        l.elem
            .name
            .bytes()
            .map(|c| c.to_ascii_uppercase())
            .collect()
    };
    let keys: Vec<Vec<u8>> = elems.iter().map(key).collect();
    let mut order: Vec<usize> = (0..elems.len()).collect();
    introsort(&mut order, &|a: &usize, b: &usize| keys[*a] < keys[*b]);
    let mut slots: Vec<Option<Listed>> = elems.into_iter().map(Some).collect();
    let mut elems: Vec<Listed> = order.iter().filter_map(|&i| slots[i].take()).collect();
    // A package whose `outPath` fails with `-s` or `-b` is dropped before anything is
    // printed (Nix marks it failed); in the table a row whose columns fail is left out; in
    // `--json` and `--xml` a package is written up to the field that failed.
    elems.retain(|l| match l.failed {
        None => true,
        Some(Field::OutPath) => false,
        Some(_) => flags.json || flags.xml,
    });
    let other = if flags.available {
        &input.installed
    } else {
        &input.available
    };
    let installed: BTreeSet<&str> = input.installed.iter().map(Element::out_path).collect();
    let mut rows = Vec::with_capacity(elems.len());
    for l in &elems {
        let e = &l.elem;
        let valid = if flags.status || flags.prebuilt_only {
            is_valid(&l.out_path)?
        } else {
            false
        };
        if flags.prebuilt_only && !valid {
            continue;
        }
        rows.push(Row {
            elem: e,
            output_name: &l.output_name,
            failed: l.failed,
            installed: installed.contains(l.out_path.as_str()),
            valid,
            compared: flags.compare_versions.then(|| compare(e, other)),
        });
    }
    let text = if flags.json {
        json(flags, &rows)
    } else if flags.xml {
        xml(flags, &rows)
    } else {
        table(flags, &rows)
    };
    let mut out = crate::output::stdout();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// One package to print, with what the query found out about it.
struct Row<'e> {
    elem: &'e Element,
    /// `outputName`.
    output_name: &'e str,
    /// The field that failed (`--json` and `--xml` write the package up to it).
    failed: Option<Field>,
    installed: bool,
    valid: bool,
    /// `-c`: the comparison's character and the version compared with.
    compared: Option<(char, String)>,
}

/// The packages matching any of `selectors` (all without any); a selector that matches none
/// is an error, as Nix's `filterBySelector` makes it.
fn select(elems: Vec<Listed>, selectors: &[String]) -> anyhow::Result<Vec<Listed>> {
    if selectors.is_empty() {
        return Ok(elems);
    }
    for s in selectors {
        if !elems.iter().any(|e| drv_name::matches(s, &e.elem.name)) {
            return Err(anyhow::anyhow!("selector '{s}' matches no derivations"));
        }
    }
    Ok(elems
        .into_iter()
        .filter(|e| selectors.iter().any(|s| drv_name::matches(s, &e.elem.name)))
        .collect())
}

/// `-c`: how `e`'s version compares with the versions of the same package in `other`.
fn compare(e: &Element, other: &[Element]) -> (char, String) {
    let (name, version) = drv_name::parse(&e.name);
    let newest = other
        .iter()
        .map(|o| drv_name::parse(&o.name))
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .max_by(|a, b| drv_name::compare_versions(a, b));
    match newest {
        None => ('-', "?".to_owned()),
        Some(v) => match drv_name::compare_versions(version, v) {
            std::cmp::Ordering::Less => ('<', v.to_owned()),
            std::cmp::Ordering::Equal => ('=', v.to_owned()),
            std::cmp::Ordering::Greater => ('>', v.to_owned()),
        },
    }
}

/// The outputs by name, as Nix lists them.
fn outputs_by_name(e: &Element) -> Vec<(&str, &str)> {
    let mut outs: Vec<(&str, &str)> = e
        .outputs
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_str()))
        .collect();
    outs.sort();
    outs
}

fn description(e: &Element) -> &str {
    match e.meta.get("description") {
        Some(MetaValue::String(s)) => s,
        _ => "",
    }
}

fn table(flags: &QueryFlags, rows: &[Row<'_>]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let e = r.elem;
            let mut row = Vec::new();
            if flags.status {
                row.push(format!(
                    "{}{}-",
                    if r.installed { 'I' } else { '-' },
                    if r.valid { 'P' } else { '-' }
                ));
            }
            if flags.attr_path {
                row.push(e.attr_path.clone());
            }
            if !flags.no_name {
                row.push(e.name.clone());
            }
            if let Some((c, v)) = &r.compared {
                row.push(format!("{c} {v}"));
            }
            if flags.system {
                row.push(e.system.clone());
            }
            if flags.drv_path {
                row.push(e.drv_path.clone().unwrap_or_else(|| "-".to_owned()));
            }
            if flags.out_path {
                let paths: Vec<String> = outputs_by_name(e)
                    .into_iter()
                    .map(|(n, p)| {
                        if n == "out" {
                            p.to_owned()
                        } else {
                            format!("{n}={p}")
                        }
                    })
                    .collect();
                row.push(paths.join(";"));
            }
            if flags.description {
                row.push(description(e).to_owned());
            }
            row
        })
        .collect();
    print_table(&cells)
}

/// Nix's `printTable`: columns padded to their widest cell plus two spaces, the last not.
pub fn print_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut res = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            res.push_str(&cell.replace('\n', " "));
            if i + 1 < row.len() {
                res.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        res.push('\n');
    }
    res
}

fn json(flags: &QueryFlags, rows: &[Row<'_>]) -> String {
    use serde_json::{Map, Value as Json};
    let mut top = Map::new();
    for r in rows {
        let e = r.elem;
        let mut obj = Map::new();
        obj.insert("name".into(), e.name.clone().into());
        obj.insert("pname".into(), e.pname().into());
        obj.insert("version".into(), e.version().into());
        // Nix writes the fields as it evaluates them, so a package ends where one fails.
        let done = |obj: Map<String, Json>, top: &mut Map<String, Json>| {
            top.insert(e.attr_path.clone(), Json::Object(obj));
        };
        if r.failed == Some(Field::System) {
            done(obj, &mut top);
            continue;
        }
        obj.insert("system".into(), e.system.clone().into());
        if r.failed == Some(Field::OutputName) {
            done(obj, &mut top);
            continue;
        }
        obj.insert("outputName".into(), r.output_name.to_owned().into());
        if matches!(r.failed, Some(Field::Outputs | Field::OutPaths)) {
            done(obj, &mut top);
            continue;
        }
        let outputs: Map<String, Json> = outputs_by_name(e)
            .into_iter()
            .map(|(n, p)| {
                let v = if flags.out_path {
                    Json::String(p.to_owned())
                } else {
                    Json::Null
                };
                (n.to_owned(), v)
            })
            .collect();
        obj.insert("outputs".into(), Json::Object(outputs));
        if flags.meta {
            let meta = e
                .meta
                .iter()
                .map(|(k, v)| (k.clone(), meta_json(v)))
                .collect();
            obj.insert("meta".into(), Json::Object(meta));
        }
        done(obj, &mut top);
    }
    let mut s = serde_json::to_string_pretty(&Json::Object(top)).unwrap_or_default();
    s.push('\n');
    s
}

/// A `meta` value as Nix's JSON prints it (a float like C++'s stream output: `1` for 1.0).
fn meta_json(v: &MetaValue) -> serde_json::Value {
    use serde_json::Value as Json;
    match v {
        MetaValue::Null => Json::Null,
        MetaValue::Bool(b) => Json::Bool(*b),
        MetaValue::Int(n) => Json::from(*n),
        MetaValue::Float(f) => match kiln_eval::print::format_float(*f).parse::<i64>() {
            Ok(n) => Json::from(n),
            Err(_) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        },
        MetaValue::String(s) => Json::String(s.clone()),
        MetaValue::List(items) => Json::Array(items.iter().map(meta_json).collect()),
        MetaValue::Attrs(attrs) => Json::Object(
            attrs
                .iter()
                .map(|(k, v)| (k.clone(), meta_json(v)))
                .collect(),
        ),
    }
}

/// An attribute value escaped as Nix's `XMLWriter` escapes it.
fn xml_escape(s: &str) -> String {
    let mut res = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => res.push_str("&quot;"),
            '<' => res.push_str("&lt;"),
            '>' => res.push_str("&gt;"),
            '&' => res.push_str("&amp;"),
            '\n' => res.push_str("&#xA;"),
            c => res.push(c),
        }
    }
    res
}

/// `<NAME a="…" …` with the attributes in name order, as Nix writes them.
fn xml_open(indent: usize, name: &str, attrs: &[(&str, String)]) -> String {
    let mut attrs: Vec<&(&str, String)> = attrs.iter().collect();
    attrs.sort_by(|a, b| a.0.cmp(b.0));
    let mut s = format!("{}<{name}", "  ".repeat(indent));
    for (k, v) in attrs {
        s.push_str(&format!(" {k}=\"{}\"", xml_escape(v)));
    }
    s
}

fn xml(flags: &QueryFlags, rows: &[Row<'_>]) -> String {
    let mut s = String::from("<?xml version='1.0' encoding='utf-8'?>\n<items>\n");
    for r in rows {
        let e = r.elem;
        // The item's attributes are all evaluated before it is written; its outputs and
        // `meta` after, so an item ends where they fail.
        if matches!(
            r.failed,
            Some(Field::System | Field::DrvPath | Field::OutputName | Field::Description)
        ) {
            continue;
        }
        let (pname, version) = drv_name::parse(&e.name);
        let mut attrs: Vec<(&str, String)> = vec![
            ("attrPath", e.attr_path.clone()),
            ("name", e.name.clone()),
            ("pname", pname.to_owned()),
            ("version", version.to_owned()),
            ("outputName", r.output_name.to_owned()),
        ];
        if flags.status {
            let bit = |b: bool| if b { "1" } else { "0" }.to_owned();
            attrs.push(("installed", bit(r.installed)));
            attrs.push(("valid", bit(r.valid)));
            attrs.push(("substitutable", bit(false)));
        }
        if let Some((c, v)) = &r.compared {
            if *c != '-' {
                attrs.push(("versionDiff", c.to_string()));
                attrs.push(("maxComparedVersion", v.clone()));
            }
        }
        if !e.system.is_empty() {
            attrs.push(("system", e.system.clone()));
        }
        if flags.drv_path {
            if let Some(d) = &e.drv_path {
                attrs.push(("drvPath", d.clone()));
            }
        }
        if flags.description && !description(e).is_empty() {
            attrs.push(("description", description(e).to_owned()));
        }
        s.push_str(&xml_open(1, "item", &attrs));
        s.push_str(">\n");
        if matches!(r.failed, Some(Field::Outputs | Field::OutPaths)) {
            s.push_str("  </item>\n");
            continue;
        }
        for (n, p) in outputs_by_name(e) {
            let mut o = vec![("name", n.to_owned())];
            if flags.out_path {
                o.push(("path", p.to_owned()));
            }
            s.push_str(&xml_open(2, "output", &o));
            s.push_str(" />\n");
        }
        if flags.meta {
            for (name, v) in &e.meta {
                xml_meta(&mut s, name, v);
            }
        }
        s.push_str("  </item>\n");
    }
    s.push_str("</items>\n");
    s
}

/// One `<meta>` element: strings, numbers and Booleans with their value; lists (their
/// strings) and sets (their string attributes) as `strings`; anything else not at all.
fn xml_meta(s: &mut String, name: &str, v: &MetaValue) {
    let simple = |ty: &str, value: String| {
        let attrs = [
            ("name", name.to_owned()),
            ("type", ty.to_owned()),
            ("value", value),
        ];
        format!("{} />\n", xml_open(2, "meta", &attrs))
    };
    match v {
        MetaValue::String(v) => s.push_str(&simple("string", v.clone())),
        MetaValue::Int(n) => s.push_str(&simple("int", n.to_string())),
        MetaValue::Float(f) => s.push_str(&simple("float", kiln_eval::print::format_float(*f))),
        MetaValue::Bool(b) => s.push_str(&simple("bool", b.to_string())),
        MetaValue::List(_) | MetaValue::Attrs(_) => {
            let attrs = [("name", name.to_owned()), ("type", "strings".to_owned())];
            s.push_str(&xml_open(2, "meta", &attrs));
            s.push_str(">\n");
            match v {
                MetaValue::List(items) => {
                    for item in items {
                        if let MetaValue::String(v) = item {
                            s.push_str(&xml_open(3, "string", &[("value", v.clone())]));
                            s.push_str(" />\n");
                        }
                    }
                }
                MetaValue::Attrs(attrs) => {
                    for (k, item) in attrs {
                        if let MetaValue::String(v) = item {
                            let a = [("type", k.clone()), ("value", v.clone())];
                            s.push_str(&xml_open(3, "string", &a));
                            s.push_str(" />\n");
                        }
                    }
                }
                _ => {}
            }
            s.push_str("    </meta>\n");
        }
        MetaValue::Null => {}
    }
}

/// `std::sort` as libstdc++ implements it (introsort: median-of-three quicksort down to runs
/// of 16, heapsort past a depth of 2·log2(n), then one insertion sort), so that elements that
/// compare equal end in the order Nix leaves them. `less` is a strict weak order.
pub fn introsort<T: Copy>(v: &mut [T], less: &dyn Fn(&T, &T) -> bool) {
    if v.len() < 2 {
        return;
    }
    let depth = 2 * (usize::BITS - 1 - v.len().leading_zeros()) as usize;
    introsort_loop(v, 0, v.len(), depth, less);
    final_insertion_sort(v, less);
}

const THRESHOLD: usize = 16;

fn introsort_loop<T: Copy>(
    v: &mut [T],
    first: usize,
    mut last: usize,
    mut depth: usize,
    less: &dyn Fn(&T, &T) -> bool,
) {
    while last - first > THRESHOLD {
        if depth == 0 {
            heap_sort(&mut v[first..last], less);
            return;
        }
        depth -= 1;
        let cut = partition_pivot(v, first, last, less);
        introsort_loop(v, cut, last, depth, less);
        last = cut;
    }
}

fn partition_pivot<T: Copy>(
    v: &mut [T],
    first: usize,
    last: usize,
    less: &dyn Fn(&T, &T) -> bool,
) -> usize {
    let mid = first + (last - first) / 2;
    move_median_to_first(v, first, first + 1, mid, last - 1, less);
    // The unguarded partition of [first + 1, last) around the pivot at `first`.
    let (mut lo, mut hi) = (first + 1, last);
    loop {
        while less(&v[lo], &v[first]) {
            lo += 1;
        }
        hi -= 1;
        while less(&v[first], &v[hi]) {
            hi -= 1;
        }
        if lo >= hi {
            return lo;
        }
        v.swap(lo, hi);
        lo += 1;
    }
}

fn move_median_to_first<T: Copy>(
    v: &mut [T],
    result: usize,
    a: usize,
    b: usize,
    c: usize,
    less: &dyn Fn(&T, &T) -> bool,
) {
    let m = if less(&v[a], &v[b]) {
        if less(&v[b], &v[c]) {
            b
        } else if less(&v[a], &v[c]) {
            c
        } else {
            a
        }
    } else if less(&v[a], &v[c]) {
        a
    } else if less(&v[b], &v[c]) {
        c
    } else {
        b
    };
    v.swap(result, m);
}

fn final_insertion_sort<T: Copy>(v: &mut [T], less: &dyn Fn(&T, &T) -> bool) {
    if v.len() > THRESHOLD {
        insertion_sort(&mut v[..THRESHOLD], less);
        for i in THRESHOLD..v.len() {
            unguarded_linear_insert(v, i, less);
        }
    } else {
        insertion_sort(v, less);
    }
}

fn insertion_sort<T: Copy>(v: &mut [T], less: &dyn Fn(&T, &T) -> bool) {
    for i in 1..v.len() {
        if less(&v[i], &v[0]) {
            let val = v[i];
            v.copy_within(0..i, 1);
            v[0] = val;
        } else {
            unguarded_linear_insert(v, i, less);
        }
    }
}

fn unguarded_linear_insert<T: Copy>(v: &mut [T], mut last: usize, less: &dyn Fn(&T, &T) -> bool) {
    let val = v[last];
    while less(&val, &v[last - 1]) {
        v[last] = v[last - 1];
        last -= 1;
    }
    v[last] = val;
}

/// libstdc++'s `make_heap` then `sort_heap`.
fn heap_sort<T: Copy>(v: &mut [T], less: &dyn Fn(&T, &T) -> bool) {
    let len = v.len();
    if len >= 2 {
        let mut parent = (len - 2) / 2;
        loop {
            let value = v[parent];
            adjust_heap(v, parent, len, value, less);
            if parent == 0 {
                break;
            }
            parent -= 1;
        }
    }
    let mut last = len;
    while last > 1 {
        last -= 1;
        let value = v[last];
        v[last] = v[0];
        adjust_heap(&mut v[..last], 0, last, value, less);
    }
}

fn adjust_heap<T: Copy>(
    v: &mut [T],
    mut hole: usize,
    len: usize,
    value: T,
    less: &dyn Fn(&T, &T) -> bool,
) {
    let top = hole;
    let mut child = hole;
    while child < (len - 1) / 2 {
        child = 2 * (child + 1);
        if less(&v[child], &v[child - 1]) {
            child -= 1;
        }
        v[hole] = v[child];
        hole = child;
    }
    if len & 1 == 0 && child == (len - 2) / 2 {
        child = 2 * (child + 1);
        v[hole] = v[child - 1];
        hole = child - 1;
    }
    // push_heap
    let mut parent = hole.wrapping_sub(1) / 2;
    while hole > top && less(&v[parent], &value) {
        v[hole] = v[parent];
        hole = parent;
        parent = hole.wrapping_sub(1) / 2;
    }
    v[hole] = value;
}

#[cfg(test)]
mod tests {
    use super::introsort;

    /// Sorted, whatever the input, and the heapsort fallback too (a depth of zero).
    #[test]
    fn introsort_sorts() {
        let mut seed = 7u64;
        for n in [0, 1, 2, 15, 16, 17, 100, 1000, 5000] {
            let mut v: Vec<u64> = (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (seed >> 33) % 50
                })
                .collect();
            let mut want = v.clone();
            want.sort();
            let mut h = v.clone();
            introsort(&mut v, &|a, b| a < b);
            assert_eq!(v, want, "n = {n}");
            super::heap_sort(&mut h, &|a, b| a < b);
            assert_eq!(h, want, "heap n = {n}");
        }
    }
}
