//! `kiln store`: add to, inspect, check and clean the local store (`gc`: see
//! `collect_garbage.rs`).
//!
//! The store is the one at `--store DIR` / `KILN_STORE`, else the default root (`/` when `/nix`
//! is writable, else `$XDG_DATA_HOME/kiln/root`). Path sets print one path per line in Nix's
//! order (references before their referrers).

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc;

use anyhow::Context;
use clap::Subcommand;
use kiln_formats::hash::HashAlgo;
use kiln_formats::nar;
use kiln_formats::store_path::{FileIngestionMethod, StorePath};
use kiln_store::{topo_sort, LocalStore, PathInfo, Store, StoreLocation, VerifyProblem};
use serde_json::{json, Map, Value};

use crate::cli::GlobalArgs;

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Add files or directories to the store and print their store paths
    Add {
        /// Hash a single file's contents instead of its NAR serialisation (`--add-fixed`)
        #[arg(long)]
        flat: bool,
        /// The hash algorithm the path is computed from
        #[arg(long, default_value = "sha256", value_name = "ALGO")]
        hash_algo: HashAlgo,
        /// The store path name (default: the file name)
        #[arg(long)]
        name: Option<String>,
        /// The files or directories to add
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List the contents of a store path (or of a directory inside one)
    Ls {
        /// A store path, or a path inside one
        path: String,
        /// List directories recursively
        #[arg(short = 'R', long)]
        recursive: bool,
        /// Show type, permissions and size
        #[arg(short = 'l', long)]
        long: bool,
    },
    /// Print a regular file inside a store path
    Cat {
        /// A store path that is a file, or a file inside one
        path: String,
    },
    /// Write the NAR serialisation of a store path to standard output
    Dump {
        /// The store path
        path: String,
    },
    /// Show what the store knows about paths
    PathInfo {
        /// The store paths
        #[arg(required = true)]
        paths: Vec<String>,
        /// Print JSON (like `nix path-info --json`)
        #[arg(long)]
        json: bool,
        /// Also show the total NAR size of each path's closure
        #[arg(short = 'S', long)]
        closure_size: bool,
        /// Apply to the closure of the paths
        #[arg(short = 'r', long)]
        recursive: bool,
    },
    /// Print the paths a store path refers to
    References {
        /// The store path
        path: String,
    },
    /// Print the valid paths that refer to a store path
    Referrers {
        /// The store path
        path: String,
    },
    /// Print the closure of store paths, references first
    Closure {
        /// The store paths
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Check that every valid path exists and, with --check-contents, is unmodified
    Verify {
        /// Rehash every path and compare with its recorded NAR hash
        #[arg(long)]
        check_contents: bool,
        /// Check that each path is signed by a key in `trusted-public-keys` (or was built
        /// here)
        #[arg(long)]
        sigs: bool,
        /// How many trusted signatures each path needs (with --sigs)
        #[arg(long, default_value_t = 1, value_name = "N")]
        sigs_needed: usize,
        /// The paths to check (default: every valid path)
        paths: Vec<String>,
    },
    /// Sign store paths with a binary cache key, recording the signatures in the store
    Sign {
        /// The secret key file
        #[arg(short = 'k', long, value_name = "FILE")]
        key_file: PathBuf,
        /// Sign their closures too
        #[arg(short = 'r', long)]
        recursive: bool,
        /// The store paths
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Delete store paths no garbage collector root keeps and nothing else refers to
    Delete {
        /// Delete them even if a root keeps them (not if another path refers to them)
        #[arg(long)]
        ignore_liveness: bool,
        /// The store paths
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Hard-link identical files in the store to save space
    Optimise,
    /// Delete the store paths no garbage collector root keeps alive
    Gc {
        /// Print the paths that would be deleted instead of deleting them
        #[arg(long)]
        dry_run: bool,
        /// Stop after freeing more than SIZE bytes (suffixes K, M, G, T)
        #[arg(long, value_name = "SIZE", value_parser = crate::commands::collect_garbage::parse_size)]
        max_freed: Option<u64>,
    },
}

/// Opens the store the global options name.
pub fn open_store(global: &GlobalArgs) -> anyhow::Result<LocalStore> {
    open_root(global.store.clone())
}

/// Opens the store rooted at `root`, or at the default root.
pub fn open_root(root: Option<PathBuf>) -> anyhow::Result<LocalStore> {
    let root = root.unwrap_or_else(|| crate::host().default_root());
    LocalStore::open(StoreLocation::new(&root))
        .with_context(|| format!("opening the store at '{}'", root.display()))
}

/// Parses a path argument as a store path; a link into the store (`./result`) stands for
/// its target.
pub fn store_path(store: &LocalStore, arg: &str) -> anyhow::Result<StorePath> {
    match store.parse_path(arg) {
        Ok(p) => Ok(p),
        Err(e) => match std::fs::read_link(arg) {
            Ok(target) => Ok(store.parse_path(&target.to_string_lossy()).map_err(|_| e)?),
            Err(_) => Err(e.into()),
        },
    }
}

/// Returns the paths in Nix's printing order: references before their referrers.
pub fn nix_order(store: &LocalStore, paths: &BTreeSet<StorePath>) -> anyhow::Result<Vec<String>> {
    let mut sorted = topo_sort(store, paths)?;
    sorted.reverse();
    Ok(sorted
        .iter()
        .map(|p| p.to_absolute(store.store_dir()))
        .collect())
}

/// Adds `src` and returns its info; the name defaults to the file name.
pub fn add(
    store: &LocalStore,
    src: &std::path::Path,
    name: Option<&str>,
    method: FileIngestionMethod,
    algo: HashAlgo,
) -> anyhow::Result<PathInfo> {
    let name = match name {
        Some(n) => n.to_owned(),
        None => src
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .with_context(|| format!("'{}' has no file name", src.display()))?,
    };
    store
        .add_path(&name, src, method, algo)
        .with_context(|| format!("adding '{}'", src.display()))
}

/// Reads the NAR of a valid path, produced by a thread as it is read.
pub fn nar_reader(store: &LocalStore, path: &StorePath) -> anyhow::Result<impl Read> {
    if !store.is_valid_path(path)? {
        anyhow::bail!(
            "path '{}' is not valid",
            path.to_absolute(store.store_dir())
        );
    }
    let real = store.real_path(path);
    let (tx, rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(4);
    std::thread::spawn(move || {
        let mut w = ChannelWriter(tx.clone());
        if let Err(e) = nar::dump(&real, &mut w) {
            let _ = tx.send(Err(io::Error::other(format!(
                "{:#}",
                anyhow::Error::from(e)
            ))));
        }
    });
    Ok(ChannelReader {
        rx,
        buf: Vec::new(),
        pos: 0,
    })
}

struct ChannelWriter(mpsc::SyncSender<io::Result<Vec<u8>>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .send(Ok(buf.to_vec()))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.buf = chunk?;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

pub fn run(
    cmd: StoreCommand,
    global: &GlobalArgs,
    settings: &kiln_session::Config,
) -> anyhow::Result<()> {
    let store = open_store(global)?;
    let mut out = crate::output::stdout();
    match cmd {
        StoreCommand::Add {
            flat,
            hash_algo,
            name,
            paths,
        } => {
            let method = if flat {
                FileIngestionMethod::Flat
            } else {
                FileIngestionMethod::Recursive
            };
            for src in &paths {
                let info = add(&store, src, name.as_deref(), method, hash_algo)?;
                writeln!(out, "{}", info.path.to_absolute(store.store_dir()))?;
            }
        }
        StoreCommand::Ls {
            path,
            recursive,
            long,
        } => {
            let (sp, rest) = kiln_formats::store_path::StorePath::from_absolute_prefix(
                store.store_dir(),
                &path,
            )?;
            let entries = nar::ls(nar_reader(&store, &sp)?, rest, recursive)
                .with_context(|| format!("listing '{path}'"))?;
            crate::commands::nar::print_listing(&mut out, &entries, long)?;
        }
        StoreCommand::Cat { path } => {
            let (sp, rest) = kiln_formats::store_path::StorePath::from_absolute_prefix(
                store.store_dir(),
                &path,
            )?;
            nar::cat(nar_reader(&store, &sp)?, rest, &mut out)
                .with_context(|| format!("reading '{path}'"))?;
        }
        StoreCommand::Dump { path } => {
            let sp = store_path(&store, &path)?;
            store.dump_path(&sp, &mut out)?;
        }
        StoreCommand::PathInfo {
            paths,
            json,
            closure_size,
            recursive,
        } => {
            let mut set = BTreeSet::new();
            for p in &paths {
                let sp = store_path(&store, p)?;
                if !store.is_valid_path(&sp)? {
                    anyhow::bail!("path '{p}' is not valid");
                }
                set.insert(sp);
            }
            if recursive {
                set = store.closure(&set)?;
            }
            let mut objects = Vec::new();
            for sp in &set {
                let info = store
                    .query_path_info(sp)?
                    .with_context(|| format!("path '{sp}' is not valid"))?;
                let csize = if closure_size {
                    let mut total = 0;
                    for q in store.closure(&BTreeSet::from([sp.clone()]))? {
                        total += store.query_path_info(&q)?.map_or(0, |i| i.nar_size);
                    }
                    Some(total)
                } else {
                    None
                };
                if json {
                    objects.push(info_json(&store, &info, csize));
                } else {
                    write!(out, "{}", sp.to_absolute(store.store_dir()))?;
                    match csize {
                        Some(c) => writeln!(out, "\t{:>12}\t{c:>12}", info.nar_size)?,
                        None => writeln!(out)?,
                    }
                }
            }
            if json {
                writeln!(out, "{}", Value::Array(objects))?;
            }
        }
        StoreCommand::References { path } => {
            let sp = store_path(&store, &path)?;
            for p in nix_order(&store, &store.query_references(&sp)?)? {
                writeln!(out, "{p}")?;
            }
        }
        StoreCommand::Referrers { path } => {
            let sp = store_path(&store, &path)?;
            for p in nix_order(&store, &store.query_referrers(&sp)?)? {
                writeln!(out, "{p}")?;
            }
        }
        StoreCommand::Closure { paths } => {
            let mut set = BTreeSet::new();
            for p in &paths {
                set.insert(store_path(&store, p)?);
            }
            for p in nix_order(&store, &store.closure(&set)?)? {
                writeln!(out, "{p}")?;
            }
        }
        StoreCommand::Verify {
            check_contents,
            sigs,
            sigs_needed,
            paths,
        } => {
            let problems = store.verify(check_contents)?;
            report_problems(&store, &problems);
            let mut untrusted = 0;
            if sigs {
                let keys = settings.text("trusted-public-keys").unwrap_or_default();
                let trusted = kiln_formats::signing::TrustedKeys::parse_list(keys)
                    .context("reading trusted-public-keys")?;
                let targets: BTreeSet<StorePath> = if paths.is_empty() {
                    store.all_valid_paths()?
                } else {
                    paths
                        .iter()
                        .map(|p| store_path(&store, p))
                        .collect::<anyhow::Result<_>>()?
                };
                let dir = store.store_dir().to_owned();
                for p in &targets {
                    let info = store.query_path_info(p)?.ok_or_else(|| {
                        anyhow::anyhow!("path '{}' is not valid", p.to_absolute(&dir))
                    })?;
                    let fp = kiln_formats::narinfo::fingerprint(
                        &dir,
                        p,
                        &info.nar_hash,
                        info.nar_size,
                        &info.references,
                    );
                    let good = info
                        .sigs
                        .iter()
                        .filter(|s| trusted.verify_str(fp.as_bytes(), s))
                        .count();
                    if !info.ultimate && good < sigs_needed {
                        eprintln!("error: path '{}' is untrusted", p.to_absolute(&dir));
                        untrusted += 1;
                    }
                }
            }
            if !problems.is_empty() || untrusted > 0 {
                out.flush()?;
                anyhow::bail!("{} store paths have problems", problems.len() + untrusted);
            }
        }
        StoreCommand::Sign {
            key_file,
            recursive,
            paths,
        } => {
            let key = kiln_cache::read_secret_key(&key_file)?;
            let mut targets = BTreeSet::new();
            for p in &paths {
                targets.insert(store_path(&store, p)?);
            }
            if recursive {
                targets = store.closure(&targets)?;
            }
            let dir = store.store_dir().to_owned();
            let mut added = 0;
            for p in &targets {
                let info = store.query_path_info(p)?.ok_or_else(|| {
                    anyhow::anyhow!("path '{}' is not valid", p.to_absolute(&dir))
                })?;
                let fp = kiln_formats::narinfo::fingerprint(
                    &dir,
                    p,
                    &info.nar_hash,
                    info.nar_size,
                    &info.references,
                );
                let sig = key.sign(fp.as_bytes()).to_string();
                if store.add_signatures(p, &BTreeSet::from([sig]))? {
                    added += 1;
                }
            }
            eprintln!("added {added} signatures");
        }
        StoreCommand::Delete {
            ignore_liveness,
            paths,
        } => {
            let mut set = BTreeSet::new();
            for p in &paths {
                set.insert(store_path(&store, p)?);
            }
            let settings = crate::config::load(&global.option)?;
            crate::commands::collect_garbage::delete_paths(
                &store,
                &settings,
                &set,
                ignore_liveness,
            )?;
        }
        StoreCommand::Gc { dry_run, max_freed } => {
            let settings = crate::config::load(&global.option)?;
            crate::commands::collect_garbage::store_gc(&store, &settings, dry_run, max_freed)?;
        }
        StoreCommand::Optimise => {
            let stats = store.optimise()?;
            eprintln!(
                "{:.2} MiB freed by hard-linking {} files",
                stats.bytes_freed as f64 / (1024.0 * 1024.0),
                stats.files_linked
            );
        }
    }
    out.flush()?;
    Ok(())
}

/// Prints verification problems to standard error, one per line, worded as Nix words them.
pub fn report_problems(store: &LocalStore, problems: &[VerifyProblem]) {
    for p in problems {
        match p {
            VerifyProblem::Missing(path) => eprintln!(
                "error: path '{}' disappeared, but it is still valid",
                path.to_absolute(store.store_dir())
            ),
            VerifyProblem::Modified {
                path,
                expected,
                actual,
            } => eprintln!(
                "error: path '{}' was modified! expected hash '{expected}', got '{actual}'",
                path.to_absolute(store.store_dir())
            ),
        }
    }
}

/// The `nix path-info --json` object of one path.
fn info_json(store: &LocalStore, info: &PathInfo, closure_size: Option<u64>) -> Value {
    let dir = store.store_dir();
    let mut m = Map::new();
    m.insert("path".into(), json!(info.path.to_absolute(dir)));
    m.insert("narHash".into(), json!(info.nar_hash.to_sri()));
    m.insert("narSize".into(), json!(info.nar_size));
    if let Some(c) = closure_size {
        m.insert("closureSize".into(), json!(c));
    }
    m.insert(
        "references".into(),
        json!(info
            .references
            .iter()
            .map(|r| r.to_absolute(dir))
            .collect::<Vec<_>>()),
    );
    if let Some(d) = &info.deriver {
        m.insert("deriver".into(), json!(d.to_absolute(dir)));
    }
    m.insert("registrationTime".into(), json!(info.registration_time));
    if info.ultimate {
        m.insert("ultimate".into(), json!(true));
    }
    if !info.sigs.is_empty() {
        m.insert("signatures".into(), json!(info.sigs));
    }
    if let Some(ca) = &info.ca {
        m.insert("ca".into(), json!(ca.to_string()));
    }
    Value::Object(m)
}
