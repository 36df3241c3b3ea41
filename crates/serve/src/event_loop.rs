//! The connections' event loops: one per core, each an epoll set (through `mio`) of
//! non-blocking keep-alive connections. A loop reads what its ready connections sent, answers
//! every whole request at once and writes the answers back, so a narinfo costs a read and a
//! write and wakes no other thread (a thread per connection, as before, meant 64 threads on
//! 2 cores woken in turn: 0.90× nginx's narinfo rate). A response whose body is streamed (a
//! NAR) would hold the loop, so its connection leaves the loop for a thread of its own,
//! which serves it with blocking I/O from then on ([`http::serve_blocking`]).
//!
//! An acceptor thread takes connections (at most [`Slots::max`] at once) and hands them to
//! the loops in turn.

use std::io::{self, Read, Write};
use std::net;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};

use crate::http::{self, Method, Parsed, Request, Response, IDLE_TIMEOUT, MAX_HEAD};

/// Answers a request.
pub(crate) type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// Answers not yet sent past which a connection's further requests wait (a client that
/// pipelines requests and reads no answers holds this much, not more).
const OUT_LIMIT: usize = 1 << 20;

/// Bytes read ahead of answering; more than any one request may take (head and body), so a
/// full buffer always holds a whole request or a bad one.
const INPUT_LIMIT: usize = 4 * MAX_HEAD;
const _: () = assert!(INPUT_LIMIT > MAX_HEAD + http::MAX_BODY);

/// The token of a loop's waker; connections have their slot's index.
const WAKER: Token = Token(usize::MAX);

/// How many connections are being served, against the most allowed.
pub(crate) struct Slots {
    busy: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

impl Slots {
    pub(crate) fn new(max: usize) -> Self {
        Slots {
            busy: Mutex::new(0),
            freed: Condvar::new(),
            max: max.max(1),
        }
    }

    /// Waits for a free slot and takes it.
    pub(crate) fn take(&self) {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        while *busy >= self.max {
            busy = self.freed.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        *busy += 1;
    }

    pub(crate) fn give_back(&self) {
        *self.busy.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.freed.notify_one();
    }
}

/// What the loops share.
pub(crate) struct Ctx {
    pub(crate) stopping: Arc<AtomicBool>,
    pub(crate) handle: Arc<Handler>,
    pub(crate) slots: Arc<Slots>,
}

/// A running loop: where to send it connections.
pub(crate) struct EventLoop {
    tx: mpsc::Sender<net::TcpStream>,
    waker: Arc<Waker>,
    thread: JoinHandle<()>,
}

impl EventLoop {
    pub(crate) fn spawn(ctx: Arc<Ctx>) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("kiln-serve-loop".into())
            .spawn(move || run(poll, rx, ctx))?;
        Ok(EventLoop { tx, waker, thread })
    }

    /// Hands `stream` to the loop; gives it back if the loop is gone.
    pub(crate) fn give(&self, stream: net::TcpStream) -> Result<(), net::TcpStream> {
        self.tx.send(stream).map_err(|e| e.0)?;
        let _ = self.waker.wake();
        Ok(())
    }

    /// Makes the loop look at the stop flag, then waits for it to end.
    pub(crate) fn stop(self) {
        let _ = self.waker.wake();
        let _ = self.thread.join();
    }
}

/// One connection in a loop.
struct Conn {
    stream: mio::net::TcpStream,
    /// Bytes read and not yet answered.
    input: Vec<u8>,
    /// Answers not yet sent, from `sent` on.
    out: Vec<u8>,
    sent: usize,
    /// The connection ends once `out` is sent.
    closing: bool,
    /// The client sent its last byte.
    eof: bool,
    last: Instant,
}

enum Outcome {
    /// Waiting for the socket.
    Keep,
    Close,
    /// The response is streamed: the connection goes to a thread of its own.
    Handoff(Request, Response),
}

fn run(mut poll: Poll, rx: mpsc::Receiver<net::TcpStream>, ctx: Arc<Ctx>) {
    let mut events = Events::with_capacity(1024);
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut scratch = vec![0u8; 64 * 1024];
    let mut swept = Instant::now();
    while !ctx.stopping.load(Ordering::SeqCst) {
        match poll.poll(&mut events, Some(Duration::from_secs(1))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // The epoll set itself failed: nothing can be served from this loop.
            Err(_) => break,
        }
        if ctx.stopping.load(Ordering::SeqCst) {
            break;
        }
        for ev in events.iter() {
            if ev.token() == WAKER {
                while let Ok(stream) = rx.try_recv() {
                    if !add(&poll, &mut conns, &mut free, stream) {
                        ctx.slots.give_back();
                    }
                }
                continue;
            }
            let i = ev.token().0;
            let Some(c) = conns.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            match drive(c, &*ctx.handle, &mut scratch) {
                Outcome::Keep => {}
                Outcome::Close => {
                    conns[i] = None;
                    free.push(i);
                    ctx.slots.give_back();
                }
                Outcome::Handoff(req, resp) => {
                    let Some(mut c) = conns[i].take() else {
                        continue;
                    };
                    free.push(i);
                    let _ = poll.registry().deregister(&mut c.stream);
                    hand_off(c, req, resp, &ctx);
                }
            }
        }
        if swept.elapsed() >= Duration::from_secs(1) {
            swept = Instant::now();
            for (i, slot) in conns.iter_mut().enumerate() {
                if slot
                    .as_ref()
                    .is_some_and(|c| c.last.elapsed() > IDLE_TIMEOUT)
                {
                    *slot = None;
                    free.push(i);
                    ctx.slots.give_back();
                }
            }
        }
    }
    // Stopping: the connections close; what waits in the channel is dropped too.
    for _ in conns.iter().flatten() {
        ctx.slots.give_back();
    }
    while rx.try_recv().is_ok() {
        ctx.slots.give_back();
    }
}

/// Registers a new connection; false if it cannot be served.
fn add(
    poll: &Poll,
    conns: &mut Vec<Option<Conn>>,
    free: &mut Vec<usize>,
    stream: net::TcpStream,
) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let _ = stream.set_nodelay(true);
    let mut stream = mio::net::TcpStream::from_std(stream);
    let i = free.pop().unwrap_or(conns.len());
    // Readable and writable, edge-triggered: an event comes when either becomes possible.
    if poll
        .registry()
        .register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )
        .is_err()
    {
        free.push(i);
        return false;
    }
    let conn = Conn {
        stream,
        input: Vec::new(),
        out: Vec::new(),
        sent: 0,
        closing: false,
        eof: false,
        last: Instant::now(),
    };
    if i == conns.len() {
        conns.push(Some(conn));
    } else {
        conns[i] = Some(conn);
    }
    true
}

/// Sends what is pending, answers the whole requests read, reads what came: until the
/// socket would block (the loop waits for its next event) or the connection ends.
fn drive(c: &mut Conn, handle: &Handler, scratch: &mut [u8]) -> Outcome {
    c.last = Instant::now();
    loop {
        while c.sent < c.out.len() {
            match c.stream.write(&c.out[c.sent..]) {
                Ok(0) => return Outcome::Close,
                Ok(n) => c.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Outcome::Close,
            }
        }
        if c.sent == c.out.len() {
            c.out.clear();
            c.sent = 0;
            if c.closing {
                return Outcome::Close;
            }
        }
        if c.closing || c.out.len() - c.sent > OUT_LIMIT {
            // Until the socket takes more.
            return Outcome::Keep;
        }
        let mut answered = false;
        let mut used = 0;
        while c.out.len() - c.sent <= OUT_LIMIT {
            match http::parse(&c.input[used..]) {
                Parsed::Incomplete => break,
                Parsed::Bad(why) => {
                    c.out.extend_from_slice(&http::bad_request(why));
                    c.closing = true;
                    answered = true;
                    break;
                }
                Parsed::Request(req, n) => {
                    used += n;
                    let resp = handle(&req);
                    if resp.is_stream() && req.method() != Method::Head {
                        c.input.drain(..used);
                        return Outcome::Handoff(req, resp);
                    }
                    answered = true;
                    if !http::render(&mut c.out, &req, &resp) {
                        c.closing = true;
                        break;
                    }
                }
            }
        }
        c.input.drain(..used);
        if answered {
            continue;
        }
        if c.eof {
            // Everything the client sent is answered.
            return if c.sent == c.out.len() {
                Outcome::Close
            } else {
                Outcome::Keep
            };
        }
        let mut got = false;
        while c.input.len() < INPUT_LIMIT {
            match c.stream.read(scratch) {
                Ok(0) => {
                    c.eof = true;
                    break;
                }
                Ok(n) => {
                    c.input.extend_from_slice(&scratch[..n]);
                    got = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Outcome::Close,
            }
        }
        if !got && !c.eof {
            return Outcome::Keep;
        }
    }
}

/// Moves a connection whose answer is streamed to a thread of its own; its slot is given
/// back when that thread ends.
fn hand_off(c: Conn, req: Request, resp: Response, ctx: &Arc<Ctx>) {
    let stream: net::TcpStream = c.stream.into();
    let ctx2 = Arc::clone(ctx);
    let spawned = std::thread::Builder::new()
        .name("kiln-serve-stream".into())
        .spawn(move || {
            let stop = || ctx2.stopping.load(Ordering::SeqCst);
            http::serve_blocking(
                stream,
                &c.out[c.sent..],
                c.input,
                (req, resp),
                &stop,
                &*ctx2.handle,
            );
            ctx2.slots.give_back();
        });
    if spawned.is_err() {
        // No thread: the connection is dropped (closed), and its slot is free.
        ctx.slots.give_back();
    }
}
