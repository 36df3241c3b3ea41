//! The `nix-store` operations beyond adding, deleting and collecting: every `--query` of Nix's
//! manual page, and `--print-env`, `--verify-path`, `--read-log`, `--dump-db`, `--load-db`,
//! `--export`, `--import` and `--generate-binary-cache-key`, each printing what Nix 2.8 prints.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use kiln_formats::derivation::Derivation;
use kiln_formats::hash::{Hash, HashAlgo};
use kiln_formats::narinfo::UNKNOWN_DERIVER;
use kiln_formats::store_path::StorePath;
use kiln_store::{LocalStore, PathInfo, Store as _};

use super::common::BuildOptions;
use crate::commands::store::nix_order;

/// What `-q` prints.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Query {
    Outputs,
    Requisites,
    #[default]
    References,
    Referrers,
    ReferrersClosure,
    Deriver,
    ValidDerivers,
    Binding(String),
    Hash,
    Size,
    Tree,
    Graph,
    GraphMl,
    Roots,
}

/// The query and its modifiers (`--use-output`, `--force-realise`, `--include-outputs`).
#[derive(Debug, Default)]
pub(crate) struct QueryFlags {
    pub query: Query,
    pub use_output: bool,
    pub force_realise: bool,
    pub include_outputs: bool,
}

impl QueryFlags {
    /// Takes `flag` (and its argument from `rest`) if it is a query flag.
    pub fn take(
        &mut self,
        flag: &str,
        rest: &mut std::slice::Iter<'_, String>,
    ) -> anyhow::Result<bool> {
        self.query = match flag {
            "--outputs" => Query::Outputs,
            "--requisites" | "-R" => Query::Requisites,
            "--references" => Query::References,
            "--referrers" | "--referers" => Query::Referrers,
            "--referrers-closure" | "--referers-closure" => Query::ReferrersClosure,
            "--deriver" | "-d" => Query::Deriver,
            "--valid-derivers" => Query::ValidDerivers,
            "--binding" | "-b" => Query::Binding(
                rest.next()
                    .ok_or_else(|| super::usage(format!("flag '{flag}' requires an argument")))?
                    .clone(),
            ),
            "--hash" => Query::Hash,
            "--size" => Query::Size,
            "--tree" => Query::Tree,
            "--graph" => Query::Graph,
            "--graphml" => Query::GraphMl,
            "--roots" => Query::Roots,
            "--use-output" | "-u" => {
                self.use_output = true;
                return Ok(true);
            }
            "--force-realise" | "--force-realize" | "-f" => {
                self.force_realise = true;
                return Ok(true);
            }
            "--include-outputs" => {
                self.include_outputs = true;
                return Ok(true);
            }
            _ => return Ok(false),
        };
        Ok(true)
    }
}

/// `PATH` as a store path, following symlinks (`./result`) until it is inside the store, as
/// Nix's `followLinksToStorePath` does.
pub(crate) fn follow_links(store: &LocalStore, arg: &str) -> anyhow::Result<StorePath> {
    let dir = store.store_dir();
    let cwd = std::env::current_dir().context("getting the current directory")?;
    let mut path = absolute(&cwd, Path::new(arg));
    for _ in 0..64 {
        let text = path.to_string_lossy();
        if text.starts_with(&format!("{dir}/")) {
            return store.parse_path(&text).map_err(|e| anyhow::anyhow!("{e}"));
        }
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&path)
                    .with_context(|| format!("reading the symlink '{}'", path.display()))?;
                let parent = path.parent().unwrap_or(Path::new("/")).to_path_buf();
                path = absolute(&parent, &target);
            }
            _ => break,
        }
    }
    bail!("path '{arg}' is not in the Nix store")
}

/// `path` made absolute against `base`, with `.` and `..` resolved lexically (as Nix's
/// `absPath` does).
fn absolute(base: &Path, path: &Path) -> PathBuf {
    use std::path::Component;
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn path_info(store: &LocalStore, path: &StorePath) -> anyhow::Result<PathInfo> {
    store.query_path_info(path)?.ok_or_else(|| {
        anyhow::anyhow!(
            "path '{}' is not valid",
            path.to_absolute(store.store_dir())
        )
    })
}

fn read_derivation(store: &LocalStore, drv: &StorePath) -> anyhow::Result<Derivation> {
    Ok(store.read_derivation(drv)?)
}

/// The output paths of a derivation, by output name.
fn derivation_outputs(
    store: &LocalStore,
    drv_path: &StorePath,
) -> anyhow::Result<BTreeMap<String, StorePath>> {
    let drv = read_derivation(store, drv_path)?;
    let mut outputs = BTreeMap::new();
    for (name, output) in &drv.outputs {
        if let Some(path) = output.path() {
            outputs.insert(name.clone(), path.clone());
        }
    }
    Ok(outputs)
}

/// Nix's `maybeUseOutputs`: a derivation stands for its outputs (built first with
/// `--force-realise`) when `use_output`, in store-path order as Nix lists them (a set of
/// paths, not the output names' order); anything else for itself.
fn maybe_use_outputs(
    store: &LocalStore,
    path: StorePath,
    use_output: bool,
    force_realise: bool,
    build: &BuildOptions,
) -> anyhow::Result<Vec<StorePath>> {
    if !(use_output && path.is_derivation()) {
        return Ok(vec![path]);
    }
    if force_realise {
        let goal = kiln_realise::Goal::Drv {
            drv: path.clone(),
            outputs: kiln_realise::OutputsSpec::All,
        };
        super::common::realise(store, &[goal], build)?;
    }
    let sorted: BTreeSet<StorePath> = derivation_outputs(store, &path)?.into_values().collect();
    Ok(sorted.into_iter().collect())
}

/// Nix's `useDeriver`: a derivation itself, else the derivation that built the path.
fn use_deriver(store: &LocalStore, path: StorePath) -> anyhow::Result<StorePath> {
    if path.is_derivation() {
        return Ok(path);
    }
    path_info(store, &path)?.deriver.ok_or_else(|| {
        anyhow::anyhow!(
            "deriver of path '{}' is not known",
            path.to_absolute(store.store_dir())
        )
    })
}

/// The closure of `paths`, following references (or, `flip`, referrers); with
/// `include_outputs`, the valid outputs of every derivation in it too.
fn closure(
    store: &LocalStore,
    paths: &BTreeSet<StorePath>,
    flip: bool,
    include_outputs: bool,
) -> anyhow::Result<BTreeSet<StorePath>> {
    let mut done = BTreeSet::new();
    let mut todo: Vec<StorePath> = paths.iter().cloned().collect();
    while let Some(path) = todo.pop() {
        if !done.insert(path.clone()) {
            continue;
        }
        let next = if flip {
            store.query_referrers(&path)?
        } else {
            path_info(store, &path)?.references
        };
        todo.extend(next.into_iter().filter(|p| !done.contains(p)));
        if include_outputs && !flip && path.is_derivation() {
            for out in derivation_outputs(store, &path)?.into_values() {
                if store.is_valid_path(&out)? {
                    todo.push(out);
                }
            }
        }
    }
    Ok(done)
}

/// `nix-store --query`.
pub(crate) fn query(
    store: &LocalStore,
    flags: &QueryFlags,
    operands: &[String],
    build: &BuildOptions,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let dir = store.store_dir().to_owned();
    let args = operands
        .iter()
        .map(|a| follow_links(store, a))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let expand = |path: &StorePath, use_output: bool| {
        maybe_use_outputs(store, path.clone(), use_output, flags.force_realise, build)
    };
    match &flags.query {
        Query::Outputs => {
            for path in &args {
                for out_path in expand(path, true)? {
                    writeln!(out, "{}", out_path.to_absolute(&dir))?;
                }
            }
        }
        Query::Requisites | Query::References | Query::Referrers | Query::ReferrersClosure => {
            let mut set = BTreeSet::new();
            for path in &args {
                for path in expand(path, flags.use_output)? {
                    match flags.query {
                        Query::Requisites => set.extend(closure(
                            store,
                            &BTreeSet::from([path]),
                            false,
                            flags.include_outputs,
                        )?),
                        Query::References => set.extend(path_info(store, &path)?.references),
                        Query::Referrers => {
                            path_info(store, &path)?;
                            set.extend(store.query_referrers(&path)?)
                        }
                        _ => set.extend(closure(store, &BTreeSet::from([path]), true, false)?),
                    }
                }
            }
            for p in nix_order(store, &set)? {
                writeln!(out, "{p}")?;
            }
        }
        Query::Deriver => {
            for path in &args {
                match path_info(store, path)?.deriver {
                    Some(d) => writeln!(out, "{}", d.to_absolute(&dir))?,
                    None => writeln!(out, "{UNKNOWN_DERIVER}")?,
                }
            }
        }
        Query::ValidDerivers => {
            for path in &args {
                path_info(store, path)?;
                for d in store.query_valid_derivers(path)? {
                    writeln!(out, "{}", d.to_absolute(&dir))?;
                }
            }
        }
        Query::Binding(name) => {
            for path in &args {
                let drv_path = use_deriver(store, path.clone())?;
                let drv = read_derivation(store, &drv_path)?;
                let value = drv.env.get(name.as_bytes()).ok_or_else(|| {
                    anyhow::anyhow!(
                        "derivation '{}' has no environment binding named '{name}'",
                        drv_path.to_absolute(&dir)
                    )
                })?;
                out.write_all(value)?;
                writeln!(out)?;
            }
        }
        Query::Hash | Query::Size => {
            for path in &args {
                for path in expand(path, flags.use_output)? {
                    let info = path_info(store, &path)?;
                    if flags.query == Query::Hash {
                        writeln!(out, "{}", info.nar_hash)?;
                    } else {
                        writeln!(out, "{}", info.nar_size)?;
                    }
                }
            }
        }
        Query::Tree => {
            let mut done = BTreeSet::new();
            for path in &args {
                print_tree(store, path, "", "", &mut done, out)?;
            }
        }
        Query::Graph | Query::GraphMl => {
            let mut roots = BTreeSet::new();
            for path in &args {
                roots.extend(expand(path, flags.use_output)?);
            }
            if flags.query == Query::Graph {
                print_dot_graph(store, roots, out)?;
            } else {
                print_graphml(store, roots, out)?;
            }
        }
        Query::Roots => {
            let mut targets = BTreeSet::new();
            for path in &args {
                targets.extend(expand(path, flags.use_output)?);
            }
            let referrers = closure(store, &targets, true, false)?;
            let roots = store.find_roots(false, &mut |_| {})?;
            for (target, links) in &roots {
                if referrers.contains(target) {
                    for link in links {
                        writeln!(out, "{link} -> {}", target.to_absolute(&dir))?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Nix's `printTree`: each path's references, those deeper in the graph first; a path seen
/// before is shown once more with ` [...]` and not expanded again.
fn print_tree(
    store: &LocalStore,
    path: &StorePath,
    first_pad: &str,
    tail_pad: &str,
    done: &mut BTreeSet<StorePath>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let shown = path.to_absolute(store.store_dir());
    if !done.insert(path.clone()) {
        writeln!(out, "{first_pad}{shown} [...]")?;
        return Ok(());
    }
    writeln!(out, "{first_pad}{shown}")?;
    let references = path_info(store, path)?.references;
    let sorted = nix_order(store, &references)?;
    for (i, child) in sorted.iter().enumerate() {
        let last = i + 1 == sorted.len();
        let child = store.parse_path(child)?;
        let (first, tail) = if last {
            ("└───", "    ")
        } else {
            ("├───", "│   ")
        };
        print_tree(
            store,
            &child,
            &format!("{tail_pad}{first}"),
            &format!("{tail_pad}{tail}"),
            done,
            out,
        )?;
    }
    Ok(())
}

/// Visits the graph from `roots` in Nix's order: always the smallest path not yet done,
/// calling `node` once per path with its references other than itself.
fn walk_graph(
    store: &LocalStore,
    roots: BTreeSet<StorePath>,
    mut node: impl FnMut(&PathInfo, &[StorePath]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut work = roots;
    let mut done = BTreeSet::new();
    while let Some(path) = work.pop_first() {
        if !done.insert(path.clone()) {
            continue;
        }
        let info = path_info(store, &path)?;
        let refs: Vec<StorePath> = info
            .references
            .iter()
            .filter(|r| **r != path)
            .cloned()
            .collect();
        work.extend(refs.iter().cloned());
        node(&info, &refs)?;
    }
    Ok(())
}

/// `--graph`: Graphviz, edges from each reference to its referrer, coloured in turn.
fn print_dot_graph(
    store: &LocalStore,
    roots: BTreeSet<StorePath>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    const COLOURS: [&str; 6] = ["black", "red", "green", "blue", "magenta", "burlywood"];
    let mut colour = 0;
    writeln!(out, "digraph G {{")?;
    walk_graph(store, roots, |info, refs| {
        let id = info.path.base_name();
        writeln!(
            out,
            "\"{id}\" [label = \"{}\", shape = box, style = filled, fillcolor = \"#ff0000\"];",
            info.path.name()
        )?;
        for r in refs {
            writeln!(
                out,
                "\"{}\" -> \"{id}\" [color = \"{}\"];",
                r.base_name(),
                COLOURS[colour % COLOURS.len()]
            )?;
            colour += 1;
        }
        Ok(())
    })?;
    writeln!(out, "}}")?;
    Ok(())
}

/// `--graphml`: GraphML, edges from each path to its references.
fn print_graphml(
    store: &LocalStore,
    roots: BTreeSet<StorePath>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    write!(
        out,
        "<?xml version='1.0' encoding='utf-8'?>\n\
         <graphml xmlns='http://graphml.graphdrawing.org/xmlns'\n    \
         xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'\n    \
         xsi:schemaLocation='http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd'>\n\
         <key id='narSize' for='node' attr.name='narSize' attr.type='int'/>\
         <key id='name' for='node' attr.name='name' attr.type='string'/>\
         <key id='type' for='node' attr.name='type' attr.type='string'/>\
         <graph id='G' edgedefault='directed'>\n"
    )?;
    walk_graph(store, roots, |info, refs| {
        let id = info.path.base_name();
        let name = info.path.name();
        // What Nix 2.8 shows as the name: up to and including the first dash.
        let short = name.find('-').map_or("", |i| &name[..=i]);
        let kind = if info.path.is_derivation() {
            "derivation"
        } else {
            "output-path"
        };
        write!(
            out,
            "  <node id=\"{id}\">\n    <data key=\"narSize\">{}</data>\n    \
             <data key=\"name\">{short}</data>\n    <data key=\"type\">{kind}</data>\n  </node>\n",
            info.nar_size
        )?;
        for r in refs {
            writeln!(
                out,
                "  <edge source=\"{id}\" target=\"{}\"/>",
                r.base_name()
            )?;
        }
        Ok(())
    })?;
    write!(out, "</graph>\n</graphml>\n")?;
    Ok(())
}

/// Single-quotes `s` for a POSIX shell.
fn shell_escape(s: &[u8]) -> Vec<u8> {
    let mut r = vec![b'\''];
    for &b in s {
        if b == b'\'' {
            r.extend_from_slice(b"'\\''");
        } else {
            r.push(b);
        }
    }
    r.push(b'\'');
    r
}

/// `--print-env DRV`: the builder's environment as shell `export`s, then `_args`.
pub(crate) fn print_env(
    store: &LocalStore,
    operands: &[String],
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let [arg] = operands else {
        return Err(super::usage(
            "'--print-env' requires one derivation store path",
        ));
    };
    let drv_path = follow_links(store, arg)?;
    let drv = read_derivation(store, &drv_path)?;
    for (name, value) in &drv.env {
        out.write_all(b"export ")?;
        out.write_all(name)?;
        out.write_all(b"; ")?;
        out.write_all(name)?;
        out.write_all(b"=")?;
        out.write_all(&shell_escape(value))?;
        out.write_all(b"\n")?;
    }
    out.write_all(b"export _args; _args='")?;
    for (i, arg) in drv.args.iter().enumerate() {
        if i > 0 {
            out.write_all(b" ")?;
        }
        out.write_all(&shell_escape(arg))?;
    }
    out.write_all(b"'\n")?;
    Ok(())
}

/// The NAR hash (in `algo`) and size of a store path's contents as they are now.
fn current_nar_hash(
    store: &LocalStore,
    path: &StorePath,
    algo: HashAlgo,
) -> anyhow::Result<(Hash, u64)> {
    struct Counter(kiln_formats::hash::Hasher, u64);
    impl Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            self.1 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut sink = Counter(kiln_formats::hash::Hasher::new(algo), 0);
    // The file system as it is, valid or not (`--load-db` checks paths before registering).
    kiln_formats::nar::dump(&store.real_path(path), &mut sink)?;
    Ok((sink.0.finish(), sink.1))
}

/// `--verify-path PATH...`: exit status 1 if any path's contents changed since it was added.
pub(crate) fn verify_path(store: &LocalStore, operands: &[String]) -> anyhow::Result<bool> {
    let dir = store.store_dir();
    let mut all_good = true;
    for arg in operands {
        let path = follow_links(store, arg)?;
        let info = path_info(store, &path)?;
        let current = current_nar_hash(store, &path, info.nar_hash.algo())
            .map(|(h, _)| h)
            .ok();
        if current.as_ref() != Some(&info.nar_hash) {
            eprintln!(
                "path '{}' was modified! expected hash '{}', got '{}'",
                path.to_absolute(dir),
                info.nar_hash,
                current.map_or_else(|| "(unreadable)".to_owned(), |h| h.to_string())
            );
            all_good = false;
        }
    }
    Ok(all_good)
}

/// `--read-log` / `-l PATH...`: the build logs, as `kiln log`.
pub(crate) fn read_log(
    store: &LocalStore,
    operands: &[String],
    out: &mut impl Write,
) -> anyhow::Result<()> {
    for arg in operands {
        let drv = use_deriver(store, follow_links(store, arg)?)?;
        let text = crate::commands::log::read_build_log(store, &drv)?;
        out.write_all(&text)?;
    }
    Ok(())
}

/// One path's registration as `--dump-db` writes it and `--load-db` reads it.
fn write_registration(
    store: &LocalStore,
    path: &StorePath,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let dir = store.store_dir();
    let info = path_info(store, path)?;
    writeln!(out, "{}", path.to_absolute(dir))?;
    writeln!(out, "{}", info.nar_hash.to_base16())?;
    writeln!(out, "{}", info.nar_size)?;
    writeln!(
        out,
        "{}",
        info.deriver
            .as_ref()
            .map(|d| d.to_absolute(dir))
            .unwrap_or_default()
    )?;
    writeln!(out, "{}", info.references.len())?;
    for r in &info.references {
        writeln!(out, "{}", r.to_absolute(dir))?;
    }
    Ok(())
}

/// `--dump-db [PATH...]`: the registrations of the paths, or of every valid path.
pub(crate) fn dump_db(
    store: &LocalStore,
    operands: &[String],
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if operands.is_empty() {
        for path in store.all_valid_paths()? {
            write_registration(store, &path, out)?;
        }
    } else {
        for arg in operands {
            write_registration(store, &follow_links(store, arg)?, out)?;
        }
    }
    Ok(())
}

/// `--load-db`: registers the paths described on stdin (as `--dump-db` writes them) as
/// valid; their contents must already be in the store and match the hashes given.
pub(crate) fn load_db(store: &LocalStore, input: impl BufRead) -> anyhow::Result<()> {
    let mut lines = input.lines();
    let mut next = |what: &str| -> anyhow::Result<Option<String>> {
        match lines.next() {
            None => Ok(None),
            Some(line) => Ok(Some(line.with_context(|| format!("reading {what}"))?)),
        }
    };
    let mut infos = Vec::new();
    while let Some(path) = next("a path")? {
        if path.is_empty() {
            break;
        }
        let path = store.parse_path(&path)?;
        let mut field = |what: &str| -> anyhow::Result<String> {
            next(what)?.ok_or_else(|| anyhow::anyhow!("missing {what} in the registration"))
        };
        let hash = field("the NAR hash")?;
        let nar_hash = Hash::parse_any(&hash, Some(HashAlgo::Sha256))
            .with_context(|| format!("bad NAR hash '{hash}'"))?;
        let size = field("the NAR size")?;
        let nar_size: u64 = size
            .parse()
            .with_context(|| format!("bad NAR size '{size}'"))?;
        let deriver = field("the deriver")?;
        let deriver = if deriver.is_empty() {
            None
        } else {
            Some(store.parse_path(&deriver)?)
        };
        let count = field("the number of references")?;
        let count: usize = count
            .parse()
            .with_context(|| format!("bad number of references '{count}'"))?;
        let mut references = BTreeSet::new();
        for _ in 0..count {
            references.insert(store.parse_path(&field("a reference")?)?);
        }
        infos.push(new_info(path, nar_hash, nar_size, references, deriver));
    }
    for info in &infos {
        let (actual, size) = current_nar_hash(store, &info.path, info.nar_hash.algo())
            .with_context(|| format!("reading '{}'", store.real_path(&info.path).display()))?;
        if actual != info.nar_hash || size != info.nar_size {
            bail!(
                "path '{}' does not match its registration: hash '{}', size {} on disk",
                info.path.to_absolute(store.store_dir()),
                actual,
                size
            );
        }
    }
    store.register_valid_paths(&infos)?;
    Ok(())
}

/// `--export PATH...`: the paths (references first) in Nix's export format.
pub(crate) fn export(
    store: &LocalStore,
    operands: &[String],
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut set = BTreeSet::new();
    for arg in operands {
        set.insert(follow_links(store, arg)?);
    }
    let mut sorted = kiln_store::topo_sort(store, &set)?;
    sorted.reverse();
    store.export_paths(&sorted, out)?;
    Ok(())
}

/// `--import`: adds the paths of an export stream on `input` and prints them.
pub(crate) fn import(
    store: &LocalStore,
    input: impl Read,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    for path in store.import_paths(input)? {
        writeln!(out, "{}", path.to_absolute(store.store_dir()))?;
    }
    Ok(())
}

/// `--generate-binary-cache-key NAME SECRET-FILE PUBLIC-FILE`.
pub(crate) fn generate_binary_cache_key(operands: &[String]) -> anyhow::Result<()> {
    let [name, secret_file, public_file] = operands else {
        return Err(super::usage(
            "'--generate-binary-cache-key' requires three arguments",
        ));
    };
    let key =
        kiln_formats::signing::SecretKey::generate(name).map_err(|e| anyhow::anyhow!("{e}"))?;
    write_new(
        Path::new(public_file),
        key.to_public().to_string().as_bytes(),
    )?;
    write_new(Path::new(secret_file), key.to_string().as_bytes())?;
    Ok(())
}

/// Writes a whole new file: to a temporary name next to it first, renamed into place.
fn write_new(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let result = std::fs::write(&tmp, contents).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing '{}'", path.display()))
}

/// A path's registration (not built here, so not ultimately trusted).
fn new_info(
    path: StorePath,
    nar_hash: Hash,
    nar_size: u64,
    references: BTreeSet<StorePath>,
    deriver: Option<StorePath>,
) -> PathInfo {
    PathInfo {
        path,
        nar_hash,
        nar_size,
        references,
        deriver,
        ca: None,
        sigs: BTreeSet::new(),
        registration_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
        ultimate: false,
    }
}
