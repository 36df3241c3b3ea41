//! Substitution: getting store objects from caches instead of building them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Condvar, Mutex, OnceLock};

use kiln_formats::hash::HashAlgo;
use kiln_formats::narinfo::{ContentAddress, NarInfo};
use kiln_formats::signing::TrustedKeys;
use kiln_formats::store_path::{make_source_path, FileIngestionMethod, StorePath};
use kiln_store::{PathInfo, Store};

use crate::disk::{LookupCache, Remembered};
use crate::{BinaryCache, CacheError, OpenOptions};

/// Whether a failed download may succeed when tried again.
fn retryable(e: &CacheError) -> bool {
    match e {
        CacheError::Transfer { .. } => true,
        // The NAR stream broke off (or was garbled in transit) before its end.
        CacheError::Store(kiln_store::StoreError::Nar { .. }) => true,
        _ => false,
    }
}

/// The words of the full file system the store's error comes from (`ENOSPC`, `EDQUOT`, or
/// SQLite's "database or disk is full"), if it does: trying again cannot help then.
fn disk_full(e: &kiln_store::StoreError) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::StorageFull
                || io.kind() == std::io::ErrorKind::QuotaExceeded
                || matches!(io.raw_os_error(), Some(28 | 122))
            {
                return Some(io.to_string());
            }
        }
        if c.source().is_none() && c.to_string().contains("database or disk is full") {
            return Some(c.to_string());
        }
        cause = c.source();
    }
    None
}

/// A store path some cache has, and what that cache says about it.
#[derive(Debug, Clone)]
pub struct Substitutable {
    /// Which of the [`Substituters`]' caches has it.
    pub cache: usize,
    /// Its narinfo there.
    pub info: NarInfo,
}

/// What substituting a closure takes.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The paths to download, references before referrers.
    pub fetch: Vec<Substitutable>,
    /// Wanted paths (or references of fetched ones) that no cache has.
    pub missing: BTreeSet<StorePath>,
}

impl Plan {
    /// The bytes to download (the compressed files' sizes, where the caches say).
    pub fn download_bytes(&self) -> u64 {
        self.fetch
            .iter()
            .map(|s| s.info.file_size.unwrap_or(s.info.nar_size))
            .sum()
    }

    /// The bytes unpacked (the NARs' sizes).
    pub fn nar_bytes(&self) -> u64 {
        self.fetch.iter().map(|s| s.info.nar_size).sum()
    }
}

/// What substitution tells as it goes.
#[derive(Debug, Clone, Copy)]
pub enum SubstEvent<'a> {
    /// A path's download begins.
    Fetching {
        /// The path.
        path: &'a StorePath,
        /// The cache it comes from.
        url: &'a str,
    },
    /// A path is valid in the store now.
    Fetched(&'a StorePath),
    /// A configured cache could not be opened, so it is not used.
    CacheDown {
        /// The cache.
        url: &'a str,
        /// Why.
        why: &'a str,
    },
    /// A cache was skipped for a path: it failed to answer, or what it has is not trusted.
    Skipped {
        /// The path.
        path: &'a StorePath,
        /// The cache.
        url: &'a str,
        /// Why.
        why: &'a str,
    },
}

/// Caches named by URL, opened on first use.
#[derive(Debug)]
struct Unopened {
    urls: Vec<String>,
    store_dir: String,
    opts: OpenOptions,
}

/// The caches a store substitutes from, asked in priority order, with the keys it trusts.
#[derive(Debug)]
pub struct Substituters {
    caches: OnceLock<Vec<BinaryCache>>,
    unopened: Mutex<Option<Unopened>>,
    trusted: TrustedKeys,
    require_sigs: bool,
    jobs: usize,
    /// The on-disk memory of lookups in remote caches.
    lookups: Option<LookupCache>,
    /// What each path's query found, so a closure shared by many goals is asked once.
    memo: Mutex<HashMap<StorePath, Option<Substitutable>>>,
}

fn by_priority(mut caches: Vec<BinaryCache>) -> Vec<BinaryCache> {
    caches.sort_by_key(|c| c.priority());
    caches
}

impl Substituters {
    /// Substituters over `caches` (asked lowest priority first, ties in the order given),
    /// accepting narinfos signed by a key of `trusted` or, without `require_sigs`, any.
    pub fn new(caches: Vec<BinaryCache>, trusted: TrustedKeys, require_sigs: bool) -> Self {
        let res = Self::from_urls(
            Vec::new(),
            "",
            OpenOptions::default(),
            trusted,
            require_sigs,
        );
        let _ = res.caches.set(by_priority(caches));
        res
    }

    /// Substituters over the caches at `urls` (the `substituters` setting), opened when first
    /// needed, so that a build with nothing to fetch touches no network. A cache that cannot
    /// be opened then is left out (and told as [`SubstEvent::CacheDown`]).
    pub fn from_urls(
        urls: Vec<String>,
        store_dir: &str,
        opts: OpenOptions,
        trusted: TrustedKeys,
        require_sigs: bool,
    ) -> Self {
        Substituters {
            caches: OnceLock::new(),
            unopened: Mutex::new(Some(Unopened {
                urls,
                store_dir: store_dir.to_owned(),
                opts,
            })),
            trusted,
            require_sigs,
            jobs: 4,
            lookups: None,
            memo: Mutex::new(HashMap::new()),
        }
    }

    /// Remembers lookups in remote caches on disk (see [`LookupCache`]).
    pub fn with_lookup_cache(mut self, lookups: LookupCache) -> Self {
        self.lookups = Some(lookups);
        self
    }

    /// Whether there is no cache to ask at all.
    pub fn is_empty(&self) -> bool {
        match self.caches.get() {
            Some(c) => c.is_empty(),
            None => self
                .unopened
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .is_none_or(|u| u.urls.is_empty()),
        }
    }

    /// The caches, opened now if they were not yet.
    fn opened(&self, observe: &(dyn Fn(SubstEvent<'_>) + Sync)) -> &[BinaryCache] {
        self.caches.get_or_init(|| {
            let Some(u) = self
                .unopened
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
            else {
                return Vec::new();
            };
            let mut caches = Vec::new();
            for url in &u.urls {
                match BinaryCache::open_with(url, &u.store_dir, &u.opts) {
                    Ok(c) => caches.push(c),
                    Err(e) => observe(SubstEvent::CacheDown {
                        url,
                        why: &e.to_string(),
                    }),
                }
            }
            by_priority(caches)
        })
    }

    /// Sets how many NARs download at once (at least one).
    pub fn with_jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// The caches, in the order they are asked (opening them if needed).
    pub fn caches(&self) -> &[BinaryCache] {
        self.opened(&|_| {})
    }

    /// Whether a narinfo may be used: signed by a trusted key, or content-addressed by its
    /// NAR hash so that its path proves its contents, or `require-sigs` is off.
    fn trusted(&self, info: &NarInfo, store_dir: &str) -> bool {
        if !self.require_sigs || info.verify(store_dir, &self.trusted) > 0 {
            return true;
        }
        // A path computed from the NAR hash itself needs no signature: `add_nar` checks the
        // NAR against that hash. (Flat and text addresses hash the file, not the NAR, so they
        // still need one.)
        match &info.ca {
            Some(ContentAddress::Fixed {
                method: FileIngestionMethod::Recursive,
                hash,
            }) if hash.algo() == HashAlgo::Sha256 && *hash == info.nar_hash => {
                let self_ref = info.references.contains(&info.path);
                let refs: BTreeSet<StorePath> = info
                    .references
                    .iter()
                    .filter(|r| **r != info.path)
                    .cloned()
                    .collect();
                make_source_path(store_dir, info.path.name(), hash, &refs, self_ref)
                    .is_ok_and(|p| p == info.path)
            }
            _ => false,
        }
    }

    /// The first cache that has `path` with a narinfo that may be used. A cache that fails
    /// to answer, or whose narinfo is corrupt or not trusted, is skipped (and told to
    /// `observe`).
    pub fn query(
        &self,
        path: &StorePath,
        observe: &(dyn Fn(SubstEvent<'_>) + Sync),
    ) -> Option<Substitutable> {
        if let Some(known) = self
            .memo
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
        {
            return known.clone();
        }
        let found = self.query_caches(path, observe);
        self.memo
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.clone(), found.clone());
        found
    }

    fn query_caches(
        &self,
        path: &StorePath,
        observe: &(dyn Fn(SubstEvent<'_>) + Sync),
    ) -> Option<Substitutable> {
        let caches = self.opened(observe);
        // All caches are asked at once; the first in priority order that has a usable
        // narinfo wins.
        let answers: Vec<Result<Option<NarInfo>, CacheError>> = if caches.len() > 1 {
            std::thread::scope(|scope| {
                let asks: Vec<_> = caches
                    .iter()
                    .map(|c| scope.spawn(move || self.ask(c, path)))
                    .collect();
                asks.into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(CacheError::NotFound(path.to_absolute("/nix/store")))
                        })
                    })
                    .collect()
            })
        } else {
            caches.iter().map(|c| self.ask(c, path)).collect()
        };
        for (i, (cache, answer)) in caches.iter().zip(answers).enumerate() {
            match answer {
                Ok(Some(info)) if self.trusted(&info, cache.store_dir()) => {
                    return Some(Substitutable { cache: i, info })
                }
                Ok(Some(_)) => observe(SubstEvent::Skipped {
                    path,
                    url: cache.url(),
                    why: "no signature by a trusted key",
                }),
                Ok(None) => {}
                Err(e) => observe(SubstEvent::Skipped {
                    path,
                    url: cache.url(),
                    why: &e.to_string(),
                }),
            }
        }
        None
    }

    /// Asks one cache about `path`, through the lookup memory for a remote cache.
    fn ask(&self, cache: &BinaryCache, path: &StorePath) -> Result<Option<NarInfo>, CacheError> {
        let memory = self.lookups.as_ref().filter(|_| !cache.is_local());
        if let Some(m) = memory {
            if m.is_down(cache.url()) {
                return Err(CacheError::Transfer {
                    url: cache.url().to_owned(),
                    why: "it failed to answer a moment ago".to_owned(),
                });
            }
            match m.lookup(cache.url(), path) {
                Some(Remembered::Lacks) => return Ok(None),
                Some(Remembered::Has(text)) => {
                    if let Ok(info) = cache.parse_narinfo(path, &text) {
                        return Ok(Some(info));
                    }
                }
                None => {}
            }
        }
        let text = match cache.narinfo_text(path) {
            Ok(t) => t,
            Err(e) => {
                if let (Some(m), CacheError::Transfer { .. }) = (memory, &e) {
                    m.mark_down(cache.url());
                }
                return Err(e);
            }
        };
        let info = text
            .as_deref()
            .map(|t| cache.parse_narinfo(path, t))
            .transpose()?;
        if let Some(m) = memory {
            let what = match &text {
                Some(t) => Remembered::Has(t.clone()),
                None => Remembered::Lacks,
            };
            m.record(cache.url(), path, &what);
        }
        Ok(info)
    }

    /// What getting `wanted` and their closures into `store` takes: every path not valid
    /// there that a cache has (with the references it names), and what no cache has.
    pub fn plan(
        &self,
        store: &dyn Store,
        wanted: &BTreeSet<StorePath>,
        observe: &(dyn Fn(SubstEvent<'_>) + Sync),
    ) -> Result<Plan, CacheError> {
        let mut found: BTreeMap<StorePath, Substitutable> = BTreeMap::new();
        let mut missing = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut todo: Vec<StorePath> = wanted.iter().cloned().collect();
        while !todo.is_empty() {
            // One wave: every path not yet seen and not valid, asked about at once (a closure
            // of many paths over HTTP costs its depth in round trips, not its size).
            let mut wave = Vec::new();
            for p in std::mem::take(&mut todo) {
                if seen.insert(p.clone()) && !store.is_valid_path(&p)? {
                    wave.push(p);
                }
            }
            let answers: Vec<Option<Substitutable>> = if wave.len() > 1 {
                std::thread::scope(|scope| {
                    let handles: Vec<_> = wave
                        .chunks(wave.len().div_ceil(16))
                        .map(|chunk| {
                            let h = scope.spawn(move || {
                                chunk
                                    .iter()
                                    .map(|p| self.query(p, observe))
                                    .collect::<Vec<_>>()
                            });
                            (h, chunk.len())
                        })
                        .collect();
                    handles
                        .into_iter()
                        .flat_map(|(h, n)| h.join().unwrap_or_else(|_| vec![None; n]))
                        .collect()
                })
            } else {
                wave.iter().map(|p| self.query(p, observe)).collect()
            };
            for (p, answer) in wave.into_iter().zip(answers) {
                match answer {
                    Some(s) => {
                        todo.extend(s.info.references.iter().filter(|r| **r != p).cloned());
                        found.insert(p, s);
                    }
                    None => {
                        missing.insert(p);
                    }
                }
            }
        }
        // References first: a depth-first post-order over the found paths.
        let mut order = Vec::with_capacity(found.len());
        let mut placed = BTreeSet::new();
        for start in found.keys() {
            let mut stack = vec![(start.clone(), false)];
            while let Some((p, expanded)) = stack.pop() {
                if placed.contains(&p) {
                    continue;
                }
                if expanded {
                    placed.insert(p.clone());
                    order.push(p);
                    continue;
                }
                stack.push((p.clone(), true));
                for r in &found[&p].info.references {
                    if *r != p && found.contains_key(r) && !placed.contains(r) {
                        stack.push((r.clone(), false));
                    }
                }
            }
        }
        let fetch = order
            .into_iter()
            .map(|p| found.remove(&p).expect("ordered from found"))
            .collect();
        Ok(Plan { fetch, missing })
    }

    /// Downloads the plan's paths into `store`, several at once, each one after the paths it
    /// references. Every NAR is checked against its narinfo as it unpacks; a path whose NAR
    /// does not match is not registered, and the first failure stops the rest (the paths
    /// already fetched stay valid).
    pub fn fetch<S: Store + Sync>(
        &self,
        store: &S,
        plan: &Plan,
        observe: &(dyn Fn(SubstEvent<'_>) + Sync),
    ) -> Result<(), CacheError> {
        let n = plan.fetch.len();
        let index: BTreeMap<&StorePath, usize> = plan
            .fetch
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.info.path, i))
            .collect();
        let deps: Vec<Vec<usize>> = plan
            .fetch
            .iter()
            .map(|s| {
                s.info
                    .references
                    .iter()
                    .filter(|r| **r != s.info.path)
                    .filter_map(|r| index.get(r).copied())
                    .collect()
            })
            .collect();
        struct State {
            taken: Vec<bool>,
            done: Vec<bool>,
            untaken: usize,
            error: Option<CacheError>,
        }
        let state = Mutex::new(State {
            taken: vec![false; n],
            done: vec![false; n],
            untaken: n,
            error: None,
        });
        let wake = Condvar::new();
        let worker = || loop {
            let i = {
                let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if st.error.is_some() || st.untaken == 0 {
                        return;
                    }
                    let ready =
                        (0..n).find(|&i| !st.taken[i] && deps[i].iter().all(|&d| st.done[d]));
                    if let Some(i) = ready {
                        st.taken[i] = true;
                        st.untaken -= 1;
                        break i;
                    }
                    st = wake.wait(st).unwrap_or_else(|e| e.into_inner());
                }
            };
            let res = self.fetch_one(store, &plan.fetch[i], observe);
            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
            match res {
                Ok(()) => st.done[i] = true,
                Err(e) => {
                    st.error.get_or_insert(e);
                }
            }
            wake.notify_all();
        };
        std::thread::scope(|scope| {
            for _ in 0..self.jobs.min(n) {
                scope.spawn(worker);
            }
        });
        match state.into_inner().unwrap_or_else(|e| e.into_inner()).error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Fetches one path, trying again (twice, after a pause) when the download fails: a
    /// server that went away mid-transfer, a reset connection. A NAR that arrived whole but
    /// does not match its narinfo is not tried again.
    fn fetch_one<S: Store + Sync>(
        &self,
        store: &S,
        s: &Substitutable,
        observe: &(dyn Fn(SubstEvent<'_>) + Sync),
    ) -> Result<(), CacheError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.fetch_attempt(store, s, observe) {
                Err(e) if attempt < 3 && retryable(&e) => {
                    let cache = &self.opened(observe)[s.cache];
                    observe(SubstEvent::Skipped {
                        path: &s.info.path,
                        url: cache.url(),
                        why: &format!("{e}; trying again"),
                    });
                    std::thread::sleep(std::time::Duration::from_millis(250 << attempt));
                }
                res => return res,
            }
        }
    }

    fn fetch_attempt<S: Store + Sync>(
        &self,
        store: &S,
        s: &Substitutable,
        observe: &(dyn Fn(SubstEvent<'_>) + Sync),
    ) -> Result<(), CacheError> {
        let cache = &self.opened(observe)[s.cache];
        observe(SubstEvent::Fetching {
            path: &s.info.path,
            url: cache.url(),
        });
        let mut nar = cache.nar(&s.info)?;
        let info = PathInfo {
            path: s.info.path.clone(),
            nar_hash: s.info.nar_hash,
            nar_size: s.info.nar_size,
            references: s.info.references.clone(),
            deriver: s.info.deriver.clone(),
            ca: s.info.ca,
            sigs: s.info.sigs.clone(),
            registration_time: 0,
            ultimate: false,
        };
        store
            .add_nar(&info, &mut nar)
            .map_err(|e| match disk_full(&e) {
                Some(why) => CacheError::NoSpace {
                    path: s.info.path.to_absolute(cache.store_dir()),
                    nar_size: s.info.nar_size,
                    why,
                },
                None => CacheError::Store(e),
            })?;
        observe(SubstEvent::Fetched(&s.info.path));
        Ok(())
    }
}
