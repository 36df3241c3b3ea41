//! The little of HTTP/1.1 a binary cache needs (RFC 9112): `GET` and `HEAD` requests on
//! keep-alive connections, pipelined or not. This module is the protocol only: a parser of
//! request heads over bytes already read ([`parse`]), the rendering of responses, and the
//! blocking serving of a connection that streams bodies ([`serve_blocking`]); the event loops
//! that read and write most connections are in `event_loop.rs`.
//!
//! Bodies of a known length are sent with `Content-Length`, others chunked (or, to an
//! HTTP/1.0 client, until the connection closes).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The longest request head (request line and headers) read.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// The longest request body read past (a cache's requests have none).
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// How long an idle keep-alive connection is kept.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A request method the server tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    Other,
}

/// A request's head.
#[derive(Debug)]
pub(crate) struct Request {
    method: Method,
    target: String,
    headers: Vec<(String, String)>,
    /// Whether the client speaks HTTP/1.1 (chunked bodies).
    http11: bool,
    /// Whether the client lets the connection live after this request.
    keep_alive: bool,
}

impl Request {
    pub(crate) fn method(&self) -> Method {
        self.method
    }

    /// The request target, as sent.
    pub(crate) fn url(&self) -> &str {
        &self.target
    }

    /// The value of the request header `name` (any case), if sent.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the bytes at the start of a connection's input hold.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// Not yet a whole request: read more.
    Incomplete,
    /// A request, and how many bytes it took (head and any body).
    Request(Request, usize),
    /// Not a request this server answers; the connection gets a 400 and ends.
    Bad(&'static str),
}

/// Parses the request at the start of `buf`. Never panics, whatever the bytes.
pub(crate) fn parse(buf: &[u8]) -> Parsed {
    // Empty lines before a request line are allowed (RFC 9112 section 2.2); they count
    // towards the head's length, so that a stream of them cannot go on forever.
    let mut start = 0;
    while start < buf.len() && (buf[start] == b'\n' || buf[start] == b'\r') {
        start += 1;
    }
    let mut lines: Vec<&str> = Vec::new();
    let mut pos = start;
    let head_end = loop {
        let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
            if buf.len() > MAX_HEAD {
                return Parsed::Bad("request head too long");
            }
            return Parsed::Incomplete;
        };
        let end = pos + nl + 1;
        if end > MAX_HEAD {
            return Parsed::Bad("request head too long");
        }
        let line = &buf[pos..pos + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos = end;
        if line.is_empty() {
            break end;
        }
        match std::str::from_utf8(line) {
            Ok(l) => lines.push(l),
            Err(_) => return Parsed::Bad("request head not UTF-8"),
        }
    };
    let mut parts = lines[0].split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Parsed::Bad("malformed request line");
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Parsed::Bad("unsupported HTTP version"),
    };
    let mut headers = Vec::with_capacity(lines.len() - 1);
    for line in &lines[1..] {
        let Some((name, value)) = line.split_once(':') else {
            return Parsed::Bad("malformed header");
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut req = Request {
        method: match method {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            _ => Method::Other,
        },
        target: target.to_owned(),
        headers,
        http11,
        keep_alive: true,
    };
    let connection = req.header("connection").unwrap_or("").to_ascii_lowercase();
    req.keep_alive = if http11 {
        !connection.contains("close")
    } else {
        connection.contains("keep-alive")
    };
    if req.header("transfer-encoding").is_some() {
        return Parsed::Bad("request bodies are not accepted");
    }
    // A body (none is expected) is read past.
    let body = match req.header("content-length") {
        None => 0,
        Some(len) => match len.parse::<usize>() {
            Ok(n) if n <= MAX_BODY => n,
            Ok(_) => return Parsed::Bad("request body too large"),
            Err(_) => return Parsed::Bad("bad Content-Length"),
        },
    };
    if buf.len() - head_end < body {
        return Parsed::Incomplete;
    }
    Parsed::Request(req, head_end + body)
}

/// One response header.
pub(crate) struct Header {
    name: &'static str,
    value: String,
}

/// A response header named `name`.
pub(crate) fn header(name: &'static str, value: &str) -> Header {
    Header {
        name,
        value: value.to_owned(),
    }
}

/// A response body.
pub(crate) enum Body {
    /// Bytes at hand, sent by the event loop.
    Bytes(Vec<u8>),
    /// Bytes read as they are sent (a NAR), by a thread of the connection's own.
    Stream(Box<dyn Read + Send>),
}

/// A response: status, headers, body and its length if known (a `HEAD` response has the
/// length of the body it does not send).
pub(crate) struct Response {
    status: u16,
    headers: Vec<Header>,
    body: Body,
    len: Option<u64>,
}

impl Response {
    /// A response of the bytes `body`.
    pub(crate) fn bytes(status: u16, headers: Vec<Header>, body: Vec<u8>) -> Self {
        let len = Some(body.len() as u64);
        Response {
            status,
            headers,
            body: Body::Bytes(body),
            len,
        }
    }

    /// A response whose body, of `len` bytes if known, is read from `body` as it is sent.
    pub(crate) fn stream(
        status: u16,
        headers: Vec<Header>,
        body: impl Read + Send + 'static,
        len: Option<u64>,
    ) -> Self {
        Response {
            status,
            headers,
            body: Body::Stream(Box::new(body)),
            len,
        }
    }

    /// The answer to a `HEAD`: the headers of a body of `len` bytes (if known), not sent.
    pub(crate) fn head(status: u16, headers: Vec<Header>, len: Option<u64>) -> Self {
        Response {
            status,
            headers,
            body: Body::Bytes(Vec::new()),
            len,
        }
    }

    /// A response of `text`.
    pub(crate) fn text(status: u16, text: String) -> Self {
        Response::bytes(status, Vec::new(), text.into_bytes())
    }

    pub(crate) fn with_header(mut self, h: Header) -> Self {
        self.headers.push(h);
        self
    }

    /// Whether the body is streamed (and so sent by a thread, not an event loop).
    pub(crate) fn is_stream(&self) -> bool {
        matches!(self.body, Body::Stream(_))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        _ => "",
    }
}

/// The answer to a request that does not parse: a 400 that closes the connection.
pub(crate) fn bad_request(why: &str) -> Vec<u8> {
    let body = format!("{why}\n");
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// How a response's body is framed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body is sent (`HEAD`).
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// Chunked (HTTP/1.1, unknown length).
    Chunked,
    /// Until the connection closes (HTTP/1.0, unknown length).
    Close,
}

/// Writes `resp`'s status line and headers to `out`; returns how its body is framed and
/// whether the connection lives on after it.
fn render_head(out: &mut Vec<u8>, req: &Request, resp: &Response) -> (Framing, bool) {
    let head_only = req.method == Method::Head;
    let framing = match resp.len {
        _ if head_only => Framing::None,
        Some(n) => Framing::Length(n),
        None if req.http11 => Framing::Chunked,
        None => Framing::Close,
    };
    let keep_alive = req.keep_alive && framing != Framing::Close;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for h in &resp.headers {
        let _ = write!(out, "{}: {}\r\n", h.name, h.value);
    }
    match (resp.len, framing) {
        (Some(n), _) => {
            let _ = write!(out, "Content-Length: {n}\r\n");
        }
        (None, Framing::Chunked) => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        _ => {}
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    (framing, keep_alive)
}

/// Appends a response whose body is at hand (not [`Body::Stream`]) to `out`; returns whether
/// the connection lives on after it.
pub(crate) fn render(out: &mut Vec<u8>, req: &Request, resp: &Response) -> bool {
    let (framing, keep_alive) = render_head(out, req, resp);
    if let (Body::Bytes(bytes), Framing::Length(_)) = (&resp.body, framing) {
        out.extend_from_slice(bytes);
    }
    keep_alive
}

/// Writes `resp` to `w`, streaming its body; returns whether the connection lives on.
fn send(w: &mut impl Write, req: &Request, resp: Response) -> io::Result<bool> {
    let mut head = Vec::with_capacity(512);
    let (framing, keep_alive) = render_head(&mut head, req, &resp);
    w.write_all(&head)?;
    if framing == Framing::None {
        w.flush()?;
        return Ok(keep_alive);
    }
    let mut body: Box<dyn Read + Send> = match resp.body {
        Body::Bytes(b) => Box::new(io::Cursor::new(b)),
        Body::Stream(r) => r,
    };
    let mut buf = vec![0u8; 256 * 1024];
    let mut sent = 0u64;
    loop {
        let n = match body.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        if framing == Framing::Chunked {
            write!(w, "{n:x}\r\n")?;
            w.write_all(&buf[..n])?;
            w.write_all(b"\r\n")?;
        } else {
            w.write_all(&buf[..n])?;
        }
        sent += n as u64;
    }
    if framing == Framing::Chunked {
        w.write_all(b"0\r\n\r\n")?;
    }
    if let Framing::Length(n) = framing {
        if sent != n {
            // A body shorter than announced: the client must see the connection end.
            let _ = w.flush();
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "response body ended early",
            ));
        }
    }
    w.flush()?;
    Ok(keep_alive)
}

/// Serves a connection with blocking reads and writes from here on: first `pending` (answers
/// the event loop had not sent yet), then `resp` to `req`, then whatever requests follow
/// (`input` holds bytes already read), each answered by `handle`, until the client closes,
/// an error, or `stop` says so.
pub(crate) fn serve_blocking(
    stream: TcpStream,
    pending: &[u8],
    mut input: Vec<u8>,
    (req, resp): (Request, Response),
    stop: &dyn Fn() -> bool,
    handle: &dyn Fn(&Request) -> Response,
) {
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(IDLE_TIMEOUT)).is_err()
    {
        return;
    }
    let Ok(mut reader) = stream.try_clone() else {
        return;
    };
    let mut w = io::BufWriter::with_capacity(64 * 1024, stream);
    if w.write_all(pending).is_err() {
        return;
    }
    let mut next = Some((req, resp));
    loop {
        if let Some((req, resp)) = next.take() {
            match send(&mut w, &req, resp) {
                Ok(true) => {}
                _ => return,
            }
        }
        if stop() {
            return;
        }
        match parse(&input) {
            Parsed::Request(req, n) => {
                input.drain(..n);
                let resp = handle(&req);
                next = Some((req, resp));
            }
            Parsed::Bad(why) => {
                let _ = w.write_all(&bad_request(why));
                let _ = w.flush();
                return;
            }
            Parsed::Incomplete => {
                let mut buf = [0u8; 16 * 1024];
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => input.extend_from_slice(&buf[..n]),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(bytes: &[u8]) -> (Request, usize) {
        match parse(bytes) {
            Parsed::Request(r, n) => (r, n),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_heads_and_tells_how_much_they_took() {
        let two = b"\r\nGET /a.narinfo HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\nHEAD / HTTP/1.0\n\n";
        let (a, n) = request(two);
        assert_eq!((a.method(), a.url()), (Method::Get, "/a.narinfo"));
        assert_eq!(a.header("range"), Some("bytes=0-1"));
        assert!(a.keep_alive && a.http11);
        let (b, m) = request(&two[n..]);
        assert_eq!(
            (b.method(), b.url(), b.keep_alive),
            (Method::Head, "/", false)
        );
        assert_eq!(n + m, two.len());
        let (c, _) = request(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n");
        assert!(!c.keep_alive);
        let (_, n) = request(b"GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET");
        assert_eq!(n, 40);
    }

    #[test]
    fn incomplete_and_bad_requests() {
        for partial in [
            &b""[..],
            b"GET / HTTP/1.1\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r",
        ] {
            assert!(matches!(parse(partial), Parsed::Incomplete), "{partial:?}");
        }
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"),
            Parsed::Incomplete
        ));
        for (bad, why) in [
            (&b"NONSENSE\r\n\r\n"[..], "malformed request line"),
            (b"GET / HTTP/2\r\n\r\n", "unsupported HTTP version"),
            (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", "malformed header"),
            (
                b"GET / HTTP/1.1\r\n\xff: x\r\n\r\n",
                "request head not UTF-8",
            ),
            (
                b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                "request bodies are not accepted",
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                "bad Content-Length",
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n",
                "request body too large",
            ),
        ] {
            match parse(bad) {
                Parsed::Bad(w) => assert_eq!(w, why),
                other => panic!("{other:?}"),
            }
        }
        for filler in [b'a', b'\n'] {
            let long = vec![filler; MAX_HEAD + 1];
            assert!(matches!(parse(&long), Parsed::Bad("request head too long")));
        }
    }

    #[test]
    fn renders_framing_by_version_and_method() {
        let (get11, _) = request(b"GET / HTTP/1.1\r\n\r\n");
        let (get10, _) = request(b"GET / HTTP/1.0\r\n\r\n");
        let (head, _) = request(b"HEAD / HTTP/1.1\r\n\r\n");
        let mut out = Vec::new();
        assert!(render(&mut out, &get11, &Response::text(200, "hi".into())));
        assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
        out.clear();
        assert!(!render(&mut out, &get10, &Response::text(404, "no".into())));
        assert_eq!(
            out,
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"
        );
        out.clear();
        assert!(render(
            &mut out,
            &head,
            &Response::head(200, Vec::new(), Some(9))
        ));
        assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n");
        let mut sent = Vec::new();
        let body = Response::stream(200, Vec::new(), &b"abc"[..], None);
        assert!(send(&mut sent, &get11, body).unwrap());
        assert_eq!(
            sent,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        );
        sent.clear();
        let body = Response::stream(200, Vec::new(), &b"abc"[..], None);
        assert!(!send(&mut sent, &get10, body).unwrap());
        assert_eq!(sent, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc");
        let short = Response::stream(200, Vec::new(), &b"ab"[..], Some(3));
        assert!(send(&mut Vec::new(), &get11, short).is_err());
    }
}
