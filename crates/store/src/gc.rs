//! Garbage collection: deleting the store paths no root keeps alive.
//!
//! Semantics are Nix's (`collectGarbage` in Nix 2.8's `gc.cc`); the method is not. A path is
//! *alive* when it can be reached from a root (see [`crate::roots`]) by following references,
//! and, with `keep-derivations` (default on), from an output to the derivation recorded as its
//! deriver, and, with `keep-outputs` (default off), from a derivation to its valid outputs.
//! Every other valid path is *dead*, and so is every entry of the store directory that is
//! named like a store path but is not valid (what a killed add or collection left), unless a
//! live process holds it as a temporary root.
//!
//! Kiln computes liveness in one pass: it loads `ValidPaths` and `Refs` (and, when needed, the
//! derivers and `DerivationOutputs`) into integer-indexed arrays, walks them breadth first from
//! the roots, and orders the dead set so every path comes after its referrers. Nix instead asks
//! the database about each path's referrers in turn.
//!
//! Deleting is crash safe: a batch of paths is made invalid in one transaction (which also
//! checks, path by path, that no valid path outside the batch has come to refer to it since
//! the graph was loaded; such a path and, through the same check, its references are kept),
//! and only then do their files go: directories are first renamed into a private temporary
//! directory. Without `max_freed`, two threads delete the files of committed batches while
//! the next batch is made invalid (unlinking is kernel work per inode; it overlaps SQLite's). A collection killed at any moment leaves only invalid files, which the next one
//! deletes. Finally `<store>/.links` loses the files no store path shares any more (link
//! count 1), as Nix does.
//!
//! The whole collection holds `<state>/gc.lock` exclusively, so no Kiln process can register a
//! temporary root while it runs (see the protocol in [`crate::roots`]); Nix 2.8 processes send
//! theirs to the collector's socket instead, and those paths are spared.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use kiln_formats::store_path::StorePath;
use rusqlite::TransactionBehavior;
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::lock::{lock, try_lock};
use crate::roots::{
    find_permanent_roots, find_runtime_roots, open_gc_lock, read_temp_roots, RootNotice, RootScope,
    RootServer, Roots,
};
use crate::{LocalStore, StoreError};

/// What a collection does with the dead paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcAction {
    /// Delete them (`nix-store --gc`).
    DeleteDead,
    /// Only report them (`nix-store --gc --print-dead`).
    ReturnDead,
    /// Only report the live paths (`nix-store --gc --print-live`).
    ReturnLive,
}

/// The parameters of a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcOptions {
    /// What to do.
    pub action: GcAction,
    /// Stop deleting once more than this many bytes were freed.
    pub max_freed: u64,
    /// Nix's `keep-derivations` (default true): a live output keeps its deriver alive.
    pub keep_derivations: bool,
    /// Nix's `keep-outputs` (default false): a live derivation keeps its valid outputs alive.
    pub keep_outputs: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            action: GcAction::DeleteDead,
            max_freed: u64::MAX,
            keep_derivations: true,
            keep_outputs: false,
        }
    }
}

/// Progress of a collection, in the order it happens (the CLI prints them as Nix does).
#[derive(Debug, Clone, PartialEq)]
pub enum GcEvent {
    /// The root search starts.
    FindingRoots,
    /// The root search did something noteworthy.
    Root(RootNotice),
    /// Deleting starts (`DeleteDead`).
    DeletingGarbage,
    /// Liveness is being computed, nothing will be deleted (`ReturnDead`, `ReturnLive`).
    DeterminingLiveness,
    /// A path (or a stray entry of the store directory) is about to be deleted.
    Deleting(String),
    /// More than `max_freed` bytes were freed; deleting stops.
    LimitReached(u64),
    /// Unused files of `<store>/.links` are being removed.
    DeletingUnusedLinks,
    /// After cleaning `.links`: bytes hard links save now (Nix's estimate: shared bytes minus
    /// the bytes of the directory itself; may be negative).
    LinkSavings(i64),
}

/// What a collection did or found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcResults {
    /// The paths deleted (`DeleteDead`, stray entries of the store directory included), dead
    /// (`ReturnDead`) or live (`ReturnLive`), as absolute paths.
    pub paths: BTreeSet<String>,
    /// Bytes freed: regular files and symlinks whose last link went, unused `.links` files
    /// included.
    pub bytes_freed: u64,
    /// Unused `.links` files removed.
    pub links_removed: u64,
}

/// How many paths one invalidation transaction covers: the first few, so that deleting files
/// starts early, then twice as many each time up to the last (each commit rewrites the
/// index pages it touched, so fewer commits write less).
const FIRST_BATCH: usize = 256;
const BATCH: usize = 4096;

/// How many threads delete files, and how many paths they take at a time.
const DELETERS: usize = 2;
const CHUNK: usize = 64;

/// The valid paths and the edges liveness follows, by dense index.
struct Graph {
    /// Base names (`<hash>-<name>`), by index.
    names: Vec<Box<str>>,
    /// Row ids in `ValidPaths`, by index (never reused, so a path deleted and registered
    /// again meanwhile has another).
    ids: Vec<i64>,
    /// NAR sizes, by index (an estimate of the bytes deleting the path frees).
    nar_sizes: Vec<u64>,
    /// References: `refs[ref_start[i]..ref_start[i + 1]]` for path `i`.
    ref_start: Vec<u32>,
    refs: Vec<u32>,
    /// Extra liveness edges (deriver, outputs): `(from, to)`, sorted by `from`.
    extra: Vec<(u32, u32)>,
}

impl Graph {
    fn index(&self) -> HashMap<&str, u32> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| (&**n, i as u32))
            .collect()
    }

    fn references(&self, i: u32) -> &[u32] {
        &self.refs[self.ref_start[i as usize] as usize..self.ref_start[i as usize + 1] as usize]
    }

    /// The reverse of every liveness edge: what keeps each path alive.
    fn referrers(&self) -> Adjacency {
        let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(self.refs.len() + self.extra.len());
        for i in 0..self.names.len() as u32 {
            pairs.extend(self.references(i).iter().map(|&r| (r, i)));
        }
        pairs.extend(self.extra.iter().map(|&(f, t)| (t, f)));
        Adjacency::from_pairs(self.names.len(), pairs)
    }

    fn extra_edges(&self, i: u32) -> impl Iterator<Item = u32> + '_ {
        let start = self.extra.partition_point(|&(f, _)| f < i);
        self.extra[start..]
            .iter()
            .take_while(move |&&(f, _)| f == i)
            .map(|&(_, t)| t)
    }
}

impl LocalStore {
    /// Returns every root: permanent, runtime (from `/proc`; origins hidden when `censor`)
    /// and temporary. Only valid paths are roots.
    pub fn find_roots(
        &self,
        censor: bool,
        notices: &mut dyn FnMut(RootNotice),
    ) -> Result<Roots, StoreError> {
        let valid: HashSet<String> = self
            .all_valid_paths()?
            .into_iter()
            .map(|p| p.base_name().to_owned())
            .collect();
        let mut is_valid = |p: &StorePath| valid.contains(p.base_name());
        self.roots_with(&mut is_valid, true, censor, notices)
            .map(|(roots, _)| roots)
    }

    /// The root search, with validity decided by `is_valid`; also returns the hash parts of
    /// the temporary roots. Without `permanent`, only the temporary roots are looked for (as
    /// Nix's `--ignore-liveness` does).
    fn roots_with(
        &self,
        is_valid: &mut dyn FnMut(&StorePath) -> bool,
        permanent: bool,
        censor: bool,
        notices: &mut dyn FnMut(RootNotice),
    ) -> Result<(Roots, HashSet<String>), StoreError> {
        let real_store = fs::canonicalize(&self.real_store)
            .map_err(StoreError::io("resolving", &self.real_store))?;
        let state_dir = self.location().state_dir();
        let scope = RootScope {
            store_dir: &self.location().store_dir,
            real_store: &real_store,
            state_dir: &state_dir,
        };
        let mut roots = Roots::new();
        if permanent {
            find_permanent_roots(&scope, is_valid, &mut roots, notices)?;
            find_runtime_roots(&scope, is_valid, censor, &mut roots);
        }
        let temp = read_temp_roots(
            &state_dir.join("temproots"),
            &self.location().store_dir,
            censor,
            notices,
        )?;
        for (p, origins) in temp.roots {
            if is_valid(&p) {
                roots.entry(p).or_default().extend(origins);
            }
        }
        Ok((roots, temp.hashes))
    }

    /// Takes `<state>/gc.lock` exclusively (waiting for another collection) and starts the
    /// server Nix processes send the temporary roots they add from now on to: what a
    /// collection or a deletion holds while it reads the roots and deletes.
    fn exclusive_collection(&self) -> Result<(std::fs::File, RootServer), StoreError> {
        let state_dir = self.location().state_dir();
        RootServer::ensure_socket_file(&state_dir)?;
        let gc_lock = open_gc_lock(&state_dir)?;
        lock(&gc_lock, &state_dir.join("gc.lock"), true)?;
        let server = RootServer::start(&state_dir, &self.location().store_dir)?;
        Ok((gc_lock, server))
    }

    /// Collects garbage: finds the roots, computes what is alive and, per `options.action`,
    /// deletes or reports the rest. Holds `<state>/gc.lock` exclusively throughout, so it
    /// waits for another collection and makes processes registering temporary roots wait.
    pub fn collect_garbage(
        &self,
        options: &GcOptions,
        events: &mut dyn FnMut(GcEvent),
    ) -> Result<GcResults, StoreError> {
        let (_gc_lock, server) = self.exclusive_collection()?;

        events(GcEvent::FindingRoots);
        let graph = self.load_graph(options)?;
        let index = graph.index();
        let mut is_valid = |p: &StorePath| index.contains_key(p.base_name());
        let (roots, temp_hashes) =
            self.roots_with(&mut is_valid, true, true, &mut |n| events(GcEvent::Root(n)))?;

        // Liveness: breadth first from the roots.
        let n = graph.names.len();
        let mut alive = vec![false; n];
        let mut queue: Vec<u32> = Vec::new();
        for root in roots.keys() {
            if let Some(&i) = index.get(root.base_name()) {
                if !alive[i as usize] {
                    alive[i as usize] = true;
                    queue.push(i);
                }
            }
        }
        let mut head = 0;
        while head < queue.len() {
            let i = queue[head];
            head += 1;
            for &r in graph.references(i) {
                if !alive[r as usize] {
                    alive[r as usize] = true;
                    queue.push(r);
                }
            }
            for r in graph.extra_edges(i) {
                if !alive[r as usize] {
                    alive[r as usize] = true;
                    queue.push(r);
                }
            }
        }

        // Entries of the store directory that are not valid paths.
        let strays = self.stray_entries(&index, &temp_hashes)?;

        let store_dir = &self.location().store_dir;
        let abs = |name: &str| format!("{store_dir}/{name}");
        let mut results = GcResults::default();
        match options.action {
            GcAction::ReturnLive => {
                events(GcEvent::DeterminingLiveness);
                results.paths = (0..n)
                    .filter(|&i| alive[i])
                    .map(|i| abs(&graph.names[i]))
                    .collect();
                return Ok(results);
            }
            GcAction::ReturnDead => {
                events(GcEvent::DeterminingLiveness);
                results.paths = (0..n)
                    .filter(|&i| !alive[i])
                    .map(|i| abs(&graph.names[i]))
                    .chain(
                        strays
                            .iter()
                            .filter(|s| s.is_store_path)
                            .map(|s| abs(&s.name)),
                    )
                    .collect();
                return Ok(results);
            }
            GcAction::DeleteDead => {}
        }

        events(GcEvent::DeletingGarbage);
        let order = deletion_order(&graph, &alive);
        let trash = self.temp_dir()?;
        let store_fd = rustix::fs::open(
            &self.real_store,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| StoreError::io("opening", &self.real_store)(e.into()))?;
        let mut stopped = false;
        // Without a limit, the files of a committed batch are deleted on a second thread
        // while the next batch is made invalid: unlinking (kernel work per inode) and SQLite
        // overlap. With a limit, each deletion is counted before the next.
        let limited = options.max_freed != u64::MAX;
        let (to_deleter, batches) = std::sync::mpsc::sync_channel::<Vec<u32>>(16);
        let batches = std::sync::Mutex::new(batches);
        std::thread::scope(|scope| -> Result<(), StoreError> {
            // Two deleters: unlinking one file is mostly work on its own inode, which runs in
            // parallel (the directory's lock is held only for the entry).
            let deleters: Vec<_> = (0..if limited { 0 } else { DELETERS })
                .map(|_| {
                    let (graph, store_fd, trash, server) = (&graph, &store_fd, &trash, &server);
                    let batches = &batches;
                    scope.spawn(move || -> Result<u64, StoreError> {
                        let mut freed = 0;
                        loop {
                            let next = batches.lock().unwrap_or_else(|e| e.into_inner()).recv();
                            let Ok(batch) = next else { break };
                            for &i in &batch {
                                self.delete_entry(
                                    store_fd,
                                    &graph.names[i as usize],
                                    &trash.dir,
                                    &mut freed,
                                )?;
                            }
                            server.release(batch.iter().map(|&i| &graph.names[i as usize][..32]));
                        }
                        Ok(freed)
                    })
                })
                .collect();
            let mut next = 0;
            let mut batch_size = FIRST_BATCH;
            while next < order.len() && !stopped {
                // With a limit, cut the batch where the estimated sizes reach it, so that
                // little is made invalid beyond what will be deleted.
                let mut end = next;
                let mut estimate = 0u64;
                let budget = options.max_freed.saturating_sub(results.bytes_freed);
                while end < order.len() && end - next < batch_size {
                    estimate = estimate.saturating_add(graph.nar_sizes[order[end] as usize]);
                    end += 1;
                    if estimate > budget {
                        break;
                    }
                }
                let batch = &order[next..end];
                next = end;
                batch_size = (batch_size * 2).min(BATCH);
                // Paths a Nix process registered as roots meanwhile stay (and, being valid,
                // keep their references through the referrer check).
                let free = server.claim(batch.iter().map(|&i| &graph.names[i as usize][..32]));
                let batch: Vec<u32> = batch
                    .iter()
                    .zip(free)
                    .filter_map(|(&i, free)| free.then_some(i))
                    .collect();
                let ids: Vec<i64> = batch.iter().map(|&i| graph.ids[i as usize]).collect();
                let invalidated = self.invalidate_unreferenced(&ids)?;
                let mut gone: Vec<u32> = Vec::with_capacity(batch.len());
                let mut kept: Vec<u32> = Vec::new();
                for (&i, ok) in batch.iter().zip(invalidated) {
                    if ok {
                        gone.push(i);
                    } else {
                        kept.push(i);
                    }
                }
                server.release(kept.iter().map(|&i| &graph.names[i as usize][..32]));
                if !limited {
                    for &i in &gone {
                        let path = abs(&graph.names[i as usize]);
                        events(GcEvent::Deleting(path.clone()));
                        results.paths.insert(path);
                    }
                    for chunk in gone.chunks(CHUNK) {
                        if to_deleter.send(chunk.to_vec()).is_err() {
                            // The deleters failed; the error is reported below.
                            break;
                        }
                    }
                    continue;
                }
                for &i in &gone {
                    let name = &*graph.names[i as usize];
                    let path = abs(name);
                    events(GcEvent::Deleting(path.clone()));
                    self.delete_entry(&store_fd, name, &trash.dir, &mut results.bytes_freed)?;
                    results.paths.insert(path);
                    if results.bytes_freed > options.max_freed {
                        // The rest of this batch is already invalid: finish it first.
                        stopped = true;
                    }
                }
                server.done();
            }
            drop(to_deleter);
            let mut res = Ok(());
            for deleter in deleters {
                match deleter.join() {
                    Ok(Ok(freed)) => results.bytes_freed += freed,
                    Ok(Err(e)) => res = Err(e),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            res
        })?;
        if !stopped {
            for stray in &strays {
                if stray.is_lock {
                    self.delete_stale_lock(&stray.name)?;
                    continue;
                }
                let hash = stray.name.get(..32).unwrap_or(&stray.name);
                if server.claim(std::iter::once(hash)) != [true] {
                    continue;
                }
                let path = abs(&stray.name);
                events(GcEvent::Deleting(path.clone()));
                self.delete_entry(&store_fd, &stray.name, &trash.dir, &mut results.bytes_freed)?;
                server.done();
                results.paths.insert(path);
                if results.bytes_freed > options.max_freed {
                    stopped = true;
                    break;
                }
            }
        }
        if stopped {
            events(GcEvent::LimitReached(options.max_freed));
        }
        drop(trash);

        events(GcEvent::DeletingUnusedLinks);
        let savings = self.remove_unused_links(&mut results)?;
        events(GcEvent::LinkSavings(savings));
        Ok(results)
    }

    /// Deletes `paths` as `nix-store --delete` does (Nix 2.8's `gcDeleteSpecific`): each, in
    /// order, goes with the paths that refer to it (through references and the liveness
    /// edges `options` asks for), provided all of those are among `paths` and none is a root.
    /// The first path still alive stops the work, reported in [`DeleteOutcome::alive`] next
    /// to what was deleted before it. A path that is not valid counts as dead (its files, if
    /// any, go). With `ignore_liveness`, only temporary roots keep paths alive.
    pub fn delete_paths(
        &self,
        paths: &BTreeSet<StorePath>,
        options: &DeleteOptions,
        events: &mut dyn FnMut(GcEvent),
    ) -> Result<DeleteOutcome, StoreError> {
        let (_gc_lock, server) = self.exclusive_collection()?;

        events(GcEvent::FindingRoots);
        let graph = self.load_graph(&GcOptions {
            keep_derivations: options.keep_derivations,
            keep_outputs: options.keep_outputs,
            ..GcOptions::default()
        })?;
        let index = graph.index();
        let mut is_valid = |p: &StorePath| index.contains_key(p.base_name());
        let (roots, temp_hashes) =
            self.roots_with(&mut is_valid, !options.ignore_liveness, true, &mut |n| {
                events(GcEvent::Root(n))
            })?;
        let n = graph.names.len();
        let mut pinned = vec![false; n];
        for root in roots.keys() {
            if let Some(&i) = index.get(root.base_name()) {
                pinned[i as usize] = true;
            }
        }
        let mut wanted = vec![false; n];
        for p in paths {
            if let Some(&i) = index.get(p.base_name()) {
                wanted[i as usize] = true;
            }
        }
        let referrers = graph.referrers();

        let store_dir = &self.location().store_dir;
        let trash = self.temp_dir()?;
        let store_fd = rustix::fs::open(
            &self.real_store,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| StoreError::io("opening", &self.real_store)(e.into()))?;
        let mut outcome = DeleteOutcome::default();
        let mut gone = vec![false; n];
        for p in paths {
            let Some(&start) = index.get(p.base_name()) else {
                // Not valid: only a temporary root keeps it.
                if temp_hashes.contains(p.hash_part())
                    || server.claim(std::iter::once(p.hash_part())) != [true]
                {
                    outcome.alive = Some(p.clone());
                    break;
                }
                let path = p.to_absolute(store_dir);
                events(GcEvent::Deleting(path.clone()));
                self.delete_entry(
                    &store_fd,
                    p.base_name(),
                    &trash.dir,
                    &mut outcome.results.bytes_freed,
                )?;
                server.done();
                outcome.results.paths.insert(path);
                continue;
            };
            if gone[start as usize] {
                continue;
            }
            // Everything that keeps `start` alive, breadth first.
            let mut visited = vec![start];
            let mut seen = HashSet::from([start]);
            let mut head = 0;
            let mut alive = false;
            while head < visited.len() {
                let i = visited[head] as usize;
                head += 1;
                let name = &graph.names[i];
                if pinned[i] || !wanted[i] || temp_hashes.contains(&name[..32]) {
                    alive = true;
                    break;
                }
                for &r in referrers.edges(i as u32) {
                    if !gone[r as usize] && seen.insert(r) {
                        visited.push(r);
                    }
                }
            }
            if alive {
                outcome.alive = Some(p.clone());
                break;
            }
            let order = deletion_order_of(&graph, &visited);
            let free = server.claim(order.iter().map(|&i| &graph.names[i as usize][..32]));
            if free.contains(&false) {
                server.done();
                outcome.alive = Some(p.clone());
                break;
            }
            let ids: Vec<i64> = order.iter().map(|&i| graph.ids[i as usize]).collect();
            let invalidated = self.invalidate_unreferenced(&ids)?;
            for (&i, ok) in order.iter().zip(&invalidated) {
                if !ok {
                    continue;
                }
                gone[i as usize] = true;
                let name = &*graph.names[i as usize];
                let path = format!("{store_dir}/{name}");
                events(GcEvent::Deleting(path.clone()));
                self.delete_entry(
                    &store_fd,
                    name,
                    &trash.dir,
                    &mut outcome.results.bytes_freed,
                )?;
                outcome.results.paths.insert(path);
            }
            server.done();
            if invalidated.contains(&false) {
                // Something valid came to refer to it since the graph was loaded.
                outcome.alive = Some(p.clone());
                break;
            }
        }
        drop(trash);
        if outcome.alive.is_none() {
            events(GcEvent::DeletingUnusedLinks);
            let savings = self.remove_unused_links(&mut outcome.results)?;
            events(GcEvent::LinkSavings(savings));
        }
        Ok(outcome)
    }

    /// Loads the valid paths and the liveness edges `options` asks for.
    fn load_graph(&self, options: &GcOptions) -> Result<Graph, StoreError> {
        let mut db = self.db();
        let (conn, file, store_dir) = db.parts();
        let err = |op: &'static str| {
            let db = file.to_owned();
            move |source| StoreError::Db { op, db, source }
        };
        let prefix = format!("{store_dir}/");
        let base_of = |path: &str| -> Result<Box<str>, StoreError> {
            path.strip_prefix(&prefix)
                .filter(|b| StorePath::from_base_name(b).is_ok())
                .map(Box::from)
                .ok_or_else(|| StoreError::Corrupt {
                    what: "path",
                    value: path.to_owned(),
                })
        };
        let tx = conn.transaction().map_err(err("starting a transaction"))?;
        let mut names = Vec::new();
        let mut id_list = Vec::new();
        let mut nar_sizes = Vec::new();
        let mut ids: HashMap<i64, u32> = HashMap::new();
        let mut derivers: Vec<(u32, String)> = Vec::new();
        {
            let mut st = tx
                .prepare("select id, path, narSize, deriver from ValidPaths")
                .map_err(err("loading valid paths"))?;
            let mut rows = st.query([]).map_err(err("loading valid paths"))?;
            while let Some(row) = rows.next().map_err(err("loading valid paths"))? {
                let id: i64 = row.get(0).map_err(err("loading valid paths"))?;
                let path: String = row.get(1).map_err(err("loading valid paths"))?;
                let size: Option<i64> = row.get(2).map_err(err("loading valid paths"))?;
                let idx = names.len() as u32;
                names.push(base_of(&path)?);
                id_list.push(id);
                nar_sizes.push(size.unwrap_or(0).max(0) as u64);
                ids.insert(id, idx);
                if options.keep_derivations {
                    let deriver: Option<String> = row.get(3).map_err(err("loading valid paths"))?;
                    if let Some(d) = deriver.filter(|d| !d.is_empty()) {
                        derivers.push((idx, d));
                    }
                }
            }
        }
        let mut edges: Vec<(u32, u32)> = Vec::new();
        {
            let mut st = tx
                .prepare("select referrer, reference from Refs")
                .map_err(err("loading references"))?;
            let mut rows = st.query([]).map_err(err("loading references"))?;
            while let Some(row) = rows.next().map_err(err("loading references"))? {
                let a: i64 = row.get(0).map_err(err("loading references"))?;
                let b: i64 = row.get(1).map_err(err("loading references"))?;
                if let (Some(&a), Some(&b)) = (ids.get(&a), ids.get(&b)) {
                    if a != b {
                        edges.push((a, b));
                    }
                }
            }
        }
        let mut extra: Vec<(u32, u32)> = Vec::new();
        if options.keep_derivations || options.keep_outputs {
            let by_name: HashMap<&str, u32> = names
                .iter()
                .enumerate()
                .map(|(i, n)| (&**n, i as u32))
                .collect();
            for (out, d) in &derivers {
                if let Some(&d) = d.strip_prefix(&prefix).and_then(|b| by_name.get(b)) {
                    extra.push((*out, d));
                }
            }
            if options.keep_outputs {
                let mut st = tx
                    .prepare("select drv, path from DerivationOutputs")
                    .map_err(err("loading derivation outputs"))?;
                let mut rows = st.query([]).map_err(err("loading derivation outputs"))?;
                while let Some(row) = rows.next().map_err(err("loading derivation outputs"))? {
                    let drv: i64 = row.get(0).map_err(err("loading derivation outputs"))?;
                    let out: String = row.get(1).map_err(err("loading derivation outputs"))?;
                    let out = out.strip_prefix(&prefix).and_then(|b| by_name.get(b));
                    if let (Some(&drv), Some(&out)) = (ids.get(&drv), out) {
                        extra.push((drv, out));
                    }
                }
            }
        }
        drop(tx);
        extra.sort_unstable();
        // References in compressed rows.
        let n = names.len();
        let mut ref_start = vec![0u32; n + 1];
        for &(a, _) in &edges {
            ref_start[a as usize + 1] += 1;
        }
        for i in 0..n {
            ref_start[i + 1] += ref_start[i];
        }
        let mut fill = ref_start.clone();
        let mut refs = vec![0u32; edges.len()];
        for &(a, b) in &edges {
            refs[fill[a as usize] as usize] = b;
            fill[a as usize] += 1;
        }
        Ok(Graph {
            names,
            ids: id_list,
            nar_sizes,
            ref_start,
            refs,
            extra,
        })
    }

    /// Lists the entries of the store directory that are not valid paths and not protected
    /// by a temporary root. Entries whose name starts with a dot (`.links`, `.kiln-tmp`, a
    /// file being linked by `optimise`) are never touched.
    fn stray_entries(
        &self,
        valid: &HashMap<&str, u32>,
        temp_hashes: &HashSet<String>,
    ) -> Result<Vec<Stray>, StoreError> {
        let dir = &self.real_store;
        let mut res = Vec::new();
        for entry in fs::read_dir(dir).map_err(StoreError::io("reading directory", dir))? {
            let entry = entry.map_err(StoreError::io("reading directory", dir))?;
            let Ok(name) = entry.file_name().into_string() else {
                res.push(Stray {
                    name: entry.file_name().to_string_lossy().into_owned(),
                    is_store_path: false,
                    is_lock: false,
                });
                continue;
            };
            if name.starts_with('.') || valid.contains_key(name.as_str()) {
                continue;
            }
            let parsed = StorePath::from_base_name(&name).ok();
            if parsed
                .as_ref()
                .is_some_and(|p| temp_hashes.contains(p.hash_part()))
            {
                continue;
            }
            let is_lock = name.ends_with(".lock");
            res.push(Stray {
                is_store_path: parsed.is_some() && !is_lock,
                is_lock,
                name,
            });
        }
        res.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(res)
    }

    /// Makes the paths with row ids `ids` (ordered referrers first) invalid in one
    /// transaction, except those a valid path outside the deleted ones still refers to.
    /// Returns, for each, whether it is now invalid.
    fn invalidate_unreferenced(&self, ids: &[i64]) -> Result<Vec<bool>, StoreError> {
        let mut db = self.db();
        let (conn, file, _) = db.parts();
        let err = |op: &'static str| {
            let db = file.to_owned();
            move |source| StoreError::Db { op, db, source }
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err("starting a transaction"))?;
        let mut res = Vec::with_capacity(ids.len());
        {
            let mut referred = tx
                .prepare_cached(
                    "select 1 from Refs where reference = ?1 and referrer != ?1 limit 1",
                )
                .map_err(err("invalidating a path"))?;
            // Deleting the row deletes its references and derivation outputs (`on delete
            // cascade`) and a reference to itself (a trigger).
            let mut del_path = tx
                .prepare_cached("delete from ValidPaths where id = ?1")
                .map_err(err("invalidating a path"))?;
            for &id in ids {
                // Referrers deleted earlier in this batch have lost their rows already. A
                // path someone else deleted meanwhile has no row (and may have files left).
                let still_referred = referred.exists([id]).map_err(err("invalidating a path"))?;
                if still_referred {
                    res.push(false);
                    continue;
                }
                del_path.execute([id]).map_err(err("invalidating a path"))?;
                res.push(true);
            }
        }
        tx.commit().map_err(err("committing invalidations"))?;
        Ok(res)
    }

    /// Deletes the store directory entry `name` (already invalid), counting the bytes freed.
    /// A directory is first renamed into `trash`, so no half-deleted tree is ever visible
    /// under a store path's name. `store` is the store directory, open: names are looked up
    /// relative to it, not walked from `/` each time.
    fn delete_entry(
        &self,
        store: &OwnedFd,
        name: &str,
        trash: &Path,
        freed: &mut u64,
    ) -> Result<(), StoreError> {
        let real = || self.real_store.join(name);
        let st = match rustix::fs::statat(store, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(StoreError::io("getting status of", &real())(e.into())),
        };
        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
            return match rustix::fs::unlinkat(store, name, AtFlags::empty()) {
                Ok(()) => {
                    if st.st_nlink == 1 {
                        *freed += st.st_size as u64;
                    }
                    Ok(())
                }
                Err(Errno::NOENT) => Ok(()),
                Err(e) => Err(StoreError::io("removing", &real())(e.into())),
            };
        }
        let moved = trash.join(name);
        match fs::rename(real(), &moved) {
            Ok(()) => remove_counting(&moved, freed),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("removing", &real())(e)),
        }
    }

    /// Removes a lock file nobody holds (with Nix's stale marker), leaves a held one alone.
    fn delete_stale_lock(&self, name: &str) -> Result<(), StoreError> {
        let path = self.real_store.join(name);
        let Ok(mut file) = fs::OpenOptions::new().write(true).open(&path) else {
            return Ok(());
        };
        if try_lock(&file, &path)? && fs::remove_file(&path).is_ok() {
            use std::io::Write as _;
            let _ = file.write_all(b"d");
        }
        Ok(())
    }

    /// Removes the files of `.links` with a link count of 1 and returns what hard links
    /// still save, as Nix computes it.
    fn remove_unused_links(&self, results: &mut GcResults) -> Result<i64, StoreError> {
        let links = self.real_store.join(".links");
        let entries = match fs::read_dir(&links) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(StoreError::io("reading directory", &links)(e)),
        };
        let (mut actual, mut unshared) = (0i64, 0i64);
        for entry in entries {
            let entry = entry.map_err(StoreError::io("reading directory", &links))?;
            let path = entry.path();
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("getting status of", &path)(e)),
            };
            if meta.nlink() != 1 {
                actual += meta.size() as i64;
                unshared += (meta.nlink() as i64 - 1) * meta.size() as i64;
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => {
                    results.bytes_freed += meta.size();
                    results.links_removed += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("removing", &path)(e)),
            }
        }
        let overhead = fs::metadata(&links)
            .map(|m| m.blocks() as i64 * 512)
            .unwrap_or(0);
        Ok(unshared - actual - overhead)
    }
}

/// Edges in compressed rows: `to[start[i]..start[i + 1]]` leave node `i`.
struct Adjacency {
    start: Vec<u32>,
    to: Vec<u32>,
}

impl Adjacency {
    fn from_pairs(n: usize, mut pairs: Vec<(u32, u32)>) -> Self {
        pairs.sort_unstable();
        pairs.dedup();
        let mut start = vec![0u32; n + 1];
        for &(a, _) in &pairs {
            start[a as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        Adjacency {
            start,
            to: pairs.into_iter().map(|(_, b)| b).collect(),
        }
    }

    fn edges(&self, i: u32) -> &[u32] {
        &self.to[self.start[i as usize] as usize..self.start[i as usize + 1] as usize]
    }
}

/// What `nix-store --delete` asks of [`LocalStore::delete_paths`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Delete paths even when a permanent or runtime root keeps them (Nix's
    /// `--ignore-liveness`); temporary roots and referrers outside the set still count.
    pub ignore_liveness: bool,
    /// As in [`GcOptions`]: a derivation goes only with its outputs.
    pub keep_derivations: bool,
    /// As in [`GcOptions`]: an output goes only with its derivations.
    pub keep_outputs: bool,
}

impl Default for DeleteOptions {
    fn default() -> Self {
        DeleteOptions {
            ignore_liveness: false,
            keep_derivations: true,
            keep_outputs: false,
        }
    }
}

/// What [`LocalStore::delete_paths`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The paths deleted and the bytes freed.
    pub results: GcResults,
    /// The first path found alive (a root, or referred to from outside the set), where the
    /// work stopped; `None` when every path went.
    pub alive: Option<StorePath>,
}

/// An entry of the store directory that is not a valid path.
struct Stray {
    name: String,
    /// Named like a store path (what Nix reports as dead).
    is_store_path: bool,
    /// A `<path>.lock` file: removed only when nobody holds it, and not reported.
    is_lock: bool,
}

/// Orders the dead paths so that each comes before the paths it refers to (a post-order walk
/// of the references, reversed), so the database never holds a reference to a deleted path.
fn deletion_order(graph: &Graph, alive: &[bool]) -> Vec<u32> {
    let n = graph.names.len();
    let mut visited = vec![false; n];
    let mut post = Vec::new();
    let mut stack: Vec<(u32, usize)> = Vec::new();
    for start in 0..n as u32 {
        if alive[start as usize] || visited[start as usize] {
            continue;
        }
        visited[start as usize] = true;
        stack.push((start, 0));
        while let Some((node, next)) = stack.last_mut() {
            let refs = graph.references(*node);
            if *next == refs.len() {
                post.push(*node);
                stack.pop();
                continue;
            }
            let r = refs[*next];
            *next += 1;
            // A dead path's references may be alive; those stay.
            if !alive[r as usize] && !visited[r as usize] {
                visited[r as usize] = true;
                stack.push((r, 0));
            }
        }
    }
    post.reverse();
    post
}

/// Orders `nodes` (a set of paths) so that each comes before the paths of the set it refers
/// to.
fn deletion_order_of(graph: &Graph, nodes: &[u32]) -> Vec<u32> {
    let members: HashSet<u32> = nodes.iter().copied().collect();
    let mut visited: HashSet<u32> = HashSet::new();
    let mut post = Vec::with_capacity(nodes.len());
    let mut stack: Vec<(u32, usize)> = Vec::new();
    for &start in nodes {
        if !visited.insert(start) {
            continue;
        }
        stack.push((start, 0));
        while let Some((node, next)) = stack.last_mut() {
            let refs = graph.references(*node);
            if *next == refs.len() {
                post.push(*node);
                stack.pop();
                continue;
            }
            let r = refs[*next];
            *next += 1;
            if members.contains(&r) && visited.insert(r) {
                stack.push((r, 0));
            }
        }
    }
    post.reverse();
    post
}

/// Removes the file or tree at `path`, adding to `freed` the size of each non-directory whose
/// last link goes.
fn remove_counting(path: &Path, freed: &mut u64) -> Result<(), StoreError> {
    let mut stack: Vec<(PathBuf, bool)> = vec![(path.to_owned(), false)];
    while let Some((p, emptied)) = stack.pop() {
        if emptied {
            fs::remove_dir(&p).map_err(StoreError::io("removing directory", &p))?;
            continue;
        }
        let meta = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io("getting status of", &p)(e)),
        };
        if !meta.is_dir() {
            if meta.nlink() == 1 {
                *freed += meta.size();
            }
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("removing", &p)(e)),
            }
            continue;
        }
        if meta.permissions().mode() & 0o700 != 0o700 {
            fs::set_permissions(&p, fs::Permissions::from_mode(0o700))
                .map_err(StoreError::io("making writable", &p))?;
        }
        stack.push((p.clone(), true));
        for entry in fs::read_dir(&p).map_err(StoreError::io("reading directory", &p))? {
            let entry = entry.map_err(StoreError::io("reading directory", &p))?;
            stack.push((entry.path(), false));
        }
    }
    Ok(())
}
