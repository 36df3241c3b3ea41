//! A local store served as a binary cache over HTTP (`kiln serve`, like nix-serve and
//! harmonia): any Nix or Kiln substitutes from it with `substituters = http://host:port`.
//!
//! Routes (GET and HEAD):
//! * `/nix-cache-info`: `StoreDir`, `WantMassQuery: 1`, `Priority`.
//! * `/<hash part>.narinfo`: the path's narinfo, made from the store's database and signed
//!   with the configured keys (and remembered while the database is unchanged, a second at
//!   most); 404 for a path the store does not have.
//! * `/nar/<hash part>-<NAR hash>.nar.zst` (or `.nar` with compression `none`): the NAR,
//!   dumped from the store as it is sent and compressed on the fly, so nothing is written or
//!   held in memory; the NAR hash in the name makes a stale URL a 404, never other bytes. An
//!   uncompressed NAR has a `Content-Length` and honours a single `Range` (206).
//! * `/`: the served paths, one per line.
//!
//! Connections are served by an event loop per core (`event_loop.rs`, the HTTP side in
//! `http.rs`), up to `max_connections` at once; a connection that asks for a NAR moves to a
//! thread of its own, which streams it, so a slow client holds one thread, not a loop.
//! Narinfos are remembered while the store's database is unchanged (at most a second).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use kiln_cache::Compression;
use kiln_formats::narinfo::NarInfo;
use kiln_formats::signing::SecretKey;
use kiln_formats::store_path::StorePath;
use kiln_store::{LocalStore, PathInfo, Store};

mod event_loop;
mod http;
use event_loop::{Ctx, EventLoop, Slots};
use http::{header, Method, Request, Response};

/// The HTTP request parser the server reads connections with, for the fuzz targets
/// (`fuzz/fuzz_targets/http_request.rs`): how many bytes the request at the start of `bytes`
/// takes, `Ok(None)` while more are needed, `Err` for one answered with a 400.
#[doc(hidden)]
pub fn parse_http_request(bytes: &[u8]) -> Result<Option<usize>, &'static str> {
    match http::parse(bytes) {
        http::Parsed::Incomplete => Ok(None),
        http::Parsed::Request(_, n) => Ok(Some(n)),
        http::Parsed::Bad(why) => Err(why),
    }
}

/// How a store is served.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Keys narinfos are signed with (`secret-key-files`).
    pub secret_keys: Vec<SecretKey>,
    /// The NARs' compression: zstd (the default) or none.
    pub compression: Compression,
    /// The `Priority` announced in `nix-cache-info` (Nix's `cache.nixos.org` has 40).
    pub priority: i32,
    /// How many connections are served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            secret_keys: Vec::new(),
            compression: Compression::Zstd,
            priority: 30,
            max_connections: 1024,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on '{addr}': {why}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        why: String,
    },
    /// Only zstd and none are compressed on the fly.
    #[error("kiln serve compresses with zstd or none, not {0}")]
    Compression(&'static str),
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    acceptor: JoinHandle<()>,
    stopping: Arc<AtomicBool>,
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<LocalStore>,
    opts: ServeOptions,
    /// Requests received so far.
    requests: std::sync::atomic::AtomicU64,
    /// Narinfos made recently (see [`NarinfoCache`]).
    narinfos: NarinfoCache,
}

/// The narinfos (or 404s) made recently, by hash part, so that a path asked about again is
/// answered without the database and the signing. An answer is used only while the store's
/// database has not changed since it was made (no commit by any process: the database and
/// its write-ahead log keep their sizes and modification times) and for at most a second,
/// the bound for a change those do not show (two commits within one tick of the file
/// system's clock leaving the log's size as it was).
struct NarinfoCache {
    db_files: [std::path::PathBuf; 2],
    inner: std::sync::RwLock<CacheState>,
}

#[derive(Default)]
struct CacheState {
    /// The database's state the entries were made in.
    stamp: Option<DbStamp>,
    entries: std::collections::HashMap<String, (std::time::Instant, Option<Arc<str>>)>,
}

/// The sizes and modification times of the database's files.
type DbStamp = [(u64, Option<std::time::SystemTime>); 2];

/// The most entries kept; past it the cache starts again.
const NARINFO_CACHE_MAX: usize = 100_000;

/// How long an entry is used at most.
const NARINFO_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

impl NarinfoCache {
    fn new(store: &LocalStore) -> Self {
        let db = store.location().state_dir().join("db");
        NarinfoCache {
            db_files: [db.join("db.sqlite"), db.join("db.sqlite-wal")],
            inner: std::sync::RwLock::default(),
        }
    }

    fn stamp(&self) -> DbStamp {
        self.db_files
            .each_ref()
            .map(|f| match std::fs::metadata(f) {
                Ok(m) => (m.len(), m.modified().ok()),
                Err(_) => (0, None),
            })
    }

    /// The answer for `hash` if one made in the database's current state is recent enough.
    fn get(&self, hash: &str, stamp: &DbStamp) -> Option<Option<Arc<str>>> {
        let state = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if state.stamp.as_ref() != Some(stamp) {
            return None;
        }
        let (made, answer) = state.entries.get(hash)?;
        (made.elapsed() < NARINFO_CACHE_TTL).then(|| answer.clone())
    }

    fn put(&self, hash: &str, stamp: DbStamp, answer: Option<Arc<str>>) {
        let mut state = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if state.stamp != Some(stamp) || state.entries.len() >= NARINFO_CACHE_MAX {
            state.entries.clear();
            state.stamp = Some(stamp);
        }
        state
            .entries
            .insert(hash.to_owned(), (std::time::Instant::now(), answer));
    }
}

impl Server {
    /// Starts serving `store` on `addr` (`host:port`; port 0 picks a free one).
    pub fn start(
        addr: &str,
        store: Arc<LocalStore>,
        opts: ServeOptions,
    ) -> Result<Server, ServeError> {
        if !matches!(opts.compression, Compression::Zstd | Compression::None) {
            return Err(ServeError::Compression(opts.compression.name()));
        }
        let bind_error = |why: String| ServeError::Bind {
            addr: addr.to_owned(),
            why,
        };
        let listener = TcpListener::bind(addr).map_err(|e| bind_error(e.to_string()))?;
        let local = listener
            .local_addr()
            .map_err(|e| bind_error(e.to_string()))?;
        let shared = Arc::new(Shared {
            narinfos: NarinfoCache::new(&store),
            store,
            opts,
            requests: std::sync::atomic::AtomicU64::new(0),
        });
        let stopping = Arc::new(AtomicBool::new(false));
        let slots = Arc::new(Slots::new(shared.opts.max_connections));
        let handle: Arc<event_loop::Handler> = {
            let shared = Arc::clone(&shared);
            Arc::new(move |req: &Request| shared.handle(req))
        };
        let ctx = Arc::new(Ctx {
            stopping: Arc::clone(&stopping),
            handle,
            slots: Arc::clone(&slots),
        });
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let loops = (0..cores)
            .map(|_| EventLoop::spawn(Arc::clone(&ctx)))
            .collect::<io::Result<Vec<_>>>()
            .map_err(|e| bind_error(format!("cannot start the event loops: {e}")))?;
        let acceptor = {
            let stopping = Arc::clone(&stopping);
            std::thread::spawn(move || {
                let mut next = 0;
                loop {
                    slots.take();
                    let conn = listener.accept();
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok((stream, _)) = conn else {
                        slots.give_back();
                        // Out of file descriptors and the like: wait a moment, then go on.
                        std::thread::sleep(std::time::Duration::from_millis(10));
                        continue;
                    };
                    // The loops in turn; a loop that is gone (its epoll set failed) is
                    // skipped, and the connection closed if none is left.
                    let mut pending = Some(stream);
                    for _ in 0..loops.len() {
                        let Some(s) = pending.take() else { break };
                        next = (next + 1) % loops.len();
                        if let Err(back) = loops[next].give(s) {
                            pending = Some(back);
                        }
                    }
                    if pending.is_some() {
                        slots.give_back();
                    }
                }
                for l in loops {
                    l.stop();
                }
            })
        };
        Ok(Server {
            addr: local,
            acceptor,
            stopping,
            shared,
        })
    }

    /// How many requests it has received.
    pub fn requests(&self) -> u64 {
        self.shared
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until [`Server::stop`] is called from another thread (or forever).
    pub fn wait(self) {
        let _ = self.acceptor.join();
    }

    /// Stops accepting connections. The event loops close theirs within a second; a
    /// connection streaming a NAR ends after its current response (an idle one when its
    /// client sends the next request, or after [`http::IDLE_TIMEOUT`]).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the acceptor (it may be waiting for a slot: then it sees the flag when one
        // frees).
        let _ = TcpStream::connect(self.addr);
    }
}

/// A reader over the chunks a producer thread sends: the NAR is dumped on one side while the
/// response is written on the other, with a few chunks in flight at most.
struct ChunkReader {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(c) => {
                    self.chunk = c;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A writer sending what it gets as chunks; it keeps only the bytes in `[skip, skip+limit)`.
struct ChunkWriter {
    tx: mpsc::SyncSender<Vec<u8>>,
    buf: Vec<u8>,
    skip: u64,
    limit: u64,
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut d = data;
        if self.skip > 0 {
            let n = (self.skip.min(d.len() as u64)) as usize;
            self.skip -= n as u64;
            d = &d[n..];
        }
        let keep = (self.limit.min(d.len() as u64)) as usize;
        self.limit -= keep as u64;
        self.buf.extend_from_slice(&d[..keep]);
        if self.buf.len() >= 128 * 1024 {
            self.flush()?;
        }
        if self.limit == 0 && self.skip == 0 {
            // The range is complete: stop the dump early.
            self.flush()?;
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "range sent"));
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = std::mem::take(&mut self.buf);
            self.tx
                .send(chunk)
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client gone"))?;
        }
        Ok(())
    }
}

impl Shared {
    fn handle(&self, req: &Request) -> Response {
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let head = req.method() == Method::Head;
        if !head && req.method() != Method::Get {
            return Response::text(405, "only GET and HEAD\n".to_owned())
                .with_header(header("Allow", "GET, HEAD"));
        }
        let url = req.url().split('?').next().unwrap_or("");
        match url {
            "/nix-cache-info" => Self::text(
                head,
                format!(
                    "StoreDir: {}\nWantMassQuery: 1\nPriority: {}\n",
                    self.store.store_dir(),
                    self.opts.priority
                ),
                "text/x-nix-cache-info",
            ),
            "/" => match self.store.all_valid_paths() {
                Ok(paths) => {
                    let dir = self.store.store_dir().to_owned();
                    let list: String = paths.iter().map(|p| p.to_absolute(&dir) + "\n").collect();
                    Self::text(head, list, "text/plain")
                }
                Err(e) => Self::error(500, &e.to_string()),
            },
            u => {
                if let Some(hash) = u.strip_prefix('/').and_then(|u| u.strip_suffix(".narinfo")) {
                    self.narinfo(head, hash)
                } else if let Some(name) = u.strip_prefix("/nar/") {
                    self.nar(req, head, name)
                } else {
                    Self::error(404, "not found")
                }
            }
        }
    }

    fn text(head: bool, body: impl Into<Vec<u8>>, mime: &str) -> Response {
        let headers = vec![header("Content-Type", mime)];
        let body = body.into();
        if head {
            Response::head(200, headers, Some(body.len() as u64))
        } else {
            Response::bytes(200, headers, body)
        }
    }

    fn error(code: u16, msg: &str) -> Response {
        Response::text(code, format!("{msg}\n"))
    }

    fn info_for_hash(&self, hash: &str) -> Option<PathInfo> {
        let path = self.store.path_from_hash_part(hash).ok()??;
        self.store.query_path_info(&path).ok()?
    }

    fn nar_name(&self, info: &PathInfo) -> String {
        format!(
            "{}-{}.nar{}",
            info.path.hash_part(),
            info.nar_hash.to_nix32(),
            self.opts.compression.extension()
        )
    }

    fn narinfo(&self, head: bool, hash: &str) -> Response {
        // The stamp is taken before the database is read, so an answer is never filed under
        // a state newer than the one it was made in.
        let stamp = self.narinfos.stamp();
        let answer = match self.narinfos.get(hash, &stamp) {
            Some(answer) => answer,
            None => {
                let answer = self.make_narinfo(hash).map(Arc::from);
                self.narinfos.put(hash, stamp, answer.clone());
                answer
            }
        };
        match answer {
            Some(text) => Self::text(head, text.as_bytes(), "text/x-nix-narinfo"),
            None => Self::error(404, "no such path"),
        }
    }

    /// The signed narinfo of the path with hash part `hash`, or `None` if the store lacks it.
    fn make_narinfo(&self, hash: &str) -> Option<String> {
        let info = self.info_for_hash(hash)?;
        let dir = self.store.store_dir().to_owned();
        let uncompressed = self.opts.compression == Compression::None;
        let mut narinfo = NarInfo {
            path: info.path.clone(),
            url: format!("nar/{}", self.nar_name(&info)),
            compression: self.opts.compression.name().to_owned(),
            // Compressed on the fly, so only an uncompressed file's hash is known.
            file_hash: uncompressed.then_some(info.nar_hash),
            file_size: uncompressed.then_some(info.nar_size),
            nar_hash: info.nar_hash,
            nar_size: info.nar_size,
            references: info.references.clone(),
            deriver: info.deriver.clone(),
            system: None,
            sigs: info.sigs.clone(),
            ca: info.ca,
        };
        for key in &self.opts.secret_keys {
            narinfo.sign(&dir, key);
        }
        Some(narinfo.render(&dir))
    }

    fn nar(&self, req: &Request, head: bool, name: &str) -> Response {
        let Some((hash, _)) = name.split_once('-') else {
            return Self::error(404, "not found");
        };
        let Some(info) = self.info_for_hash(hash) else {
            return Self::error(404, "no such path");
        };
        if name != self.nar_name(&info) {
            return Self::error(404, "no such NAR (stale URL?)");
        }
        let uncompressed = self.opts.compression == Compression::None;
        let mut status = 200;
        let (mut start, mut len) = (0, info.nar_size);
        let mut headers = vec![header("Content-Type", "application/x-nix-nar")];
        if uncompressed {
            headers.push(header("Accept-Ranges", "bytes"));
            if let Some(range) = req.header("Range") {
                match parse_range(range, info.nar_size) {
                    Some((s, e)) => {
                        status = 206;
                        start = s;
                        len = e - s + 1;
                        headers.push(header(
                            "Content-Range",
                            &format!("bytes {s}-{e}/{}", info.nar_size),
                        ));
                    }
                    None => {
                        return Response::text(416, "bad range\n".to_owned()).with_header(header(
                            "Content-Range",
                            &format!("bytes */{}", info.nar_size),
                        ))
                    }
                }
            }
        }
        if head {
            return Response::head(status, headers, uncompressed.then_some(len));
        }
        let (tx, rx) = mpsc::sync_channel(4);
        let store = Arc::clone(&self.store);
        let path: StorePath = info.path.clone();
        let compression = self.opts.compression;
        std::thread::spawn(move || {
            // A range applies to the uncompressed NAR only.
            let (skip, limit) = match compression {
                Compression::None => (start, len),
                _ => (0, u64::MAX),
            };
            let out = ChunkWriter {
                tx,
                buf: Vec::new(),
                skip,
                limit,
            };
            let _ = match compression {
                Compression::Zstd => zstd::Encoder::new(out, 3).and_then(|mut enc| {
                    store
                        .dump_path(&path, &mut enc)
                        .map_err(|e| io::Error::other(e.to_string()))?;
                    enc.finish()?.flush()
                }),
                _ => {
                    let mut out = out;
                    match store.dump_path(&path, &mut out) {
                        Ok(()) => out.flush(),
                        Err(e) => Err(io::Error::other(e.to_string())),
                    }
                }
            };
        });
        let reader = ChunkReader {
            rx,
            chunk: Vec::new(),
            pos: 0,
        };
        Response::stream(status, headers, reader, uncompressed.then_some(len))
    }
}

/// Parses one `bytes=a-b`, `bytes=a-` or `bytes=-n` range of a `size`-byte body into its
/// first and last byte; `None` when it is not satisfiable or not a single range.
fn parse_range(range: &str, size: u64) -> Option<(u64, u64)> {
    let spec = range.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.checked_sub(n.min(size))?, size - 1)
        }
        (s, "") => (s.parse().ok()?, size - 1),
        (s, e) => (s.parse().ok()?, e.parse::<u64>().ok()?.min(size - 1)),
    };
    (start <= end && start < size).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
