//! The little of HTTP/1.1 a binary cache needs (RFC 9112): `GET` and `HEAD` requests on
//! keep-alive connections, each connection read and answered by one thread, so a request
//! passes no queue and wakes no other thread (tiny_http, used before, handed every request
//! from its connection's thread to a worker and the answer back: two context switches per
//! narinfo, most of the server's cost under many clients). Bodies of a known length are sent
//! with `Content-Length`, others chunked (or, to an HTTP/1.0 client, until the connection
//! closes).

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The longest request head (request line and headers) read.
const MAX_HEAD: usize = 64 * 1024;

/// How long an idle keep-alive connection is kept.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A request method the server tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    Other,
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

/// A response: status, headers and a body read as it is sent.
pub(crate) struct Response {
    status: u16,
    headers: Vec<Header>,
    body: Box<dyn Read + Send>,
    len: Option<u64>,
}

impl Response {
    /// A response whose body is `body`, of `len` bytes if known.
    pub(crate) fn new(
        status: u16,
        headers: Vec<Header>,
        body: impl Read + Send + 'static,
        len: Option<u64>,
    ) -> Self {
        Response {
            status,
            headers,
            body: Box::new(body),
            len,
        }
    }

    /// A 200 response of `text`.
    pub(crate) fn from_string(text: String) -> Self {
        let len = text.len() as u64;
        Response::new(
            200,
            Vec::new(),
            io::Cursor::new(text.into_bytes()),
            Some(len),
        )
    }

    pub(crate) fn with_status_code(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub(crate) fn with_header(mut self, h: Header) -> Self {
        self.headers.push(h);
        self
    }
}

/// A request read from a connection, answered once with [`Request::respond`].
pub(crate) struct Request<'c> {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    conn: &'c mut Connection,
}

impl Request<'_> {
    pub(crate) fn method(&self) -> Method {
        self.method
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The value of the request header `name` (any case), if sent.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sends `resp` (without its body to a `HEAD`). An error leaves the connection to be
    /// closed.
    pub(crate) fn respond(self, resp: Response) -> io::Result<()> {
        let head_only = self.method == Method::Head;
        let res = self.conn.write_response(resp, head_only);
        if res.is_err() {
            self.conn.keep_alive = false;
        }
        res
    }
}

/// One client connection.
pub(crate) struct Connection {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    /// Whether another request may follow on it.
    keep_alive: bool,
    /// Whether the client speaks HTTP/1.1 (chunked bodies).
    http11: bool,
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

impl Connection {
    pub(crate) fn new(stream: TcpStream) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
        Ok(Connection {
            reader: BufReader::with_capacity(16 * 1024, stream.try_clone()?),
            writer: BufWriter::with_capacity(64 * 1024, stream),
            keep_alive: true,
            http11: true,
        })
    }

    /// Answers requests until the client closes, an error, or `stop` says so; `handle`
    /// answers each one.
    pub(crate) fn serve(mut self, stop: &dyn Fn() -> bool, handle: &dyn Fn(Request<'_>)) {
        while self.keep_alive && !stop() {
            match self.read_request() {
                Ok(Some((method, url, headers))) => handle(Request {
                    method,
                    url,
                    headers,
                    conn: &mut self,
                }),
                Ok(None) => return,
                Err(why) => {
                    // A request that does not parse gets a 400 and the connection ends.
                    if let Some(why) = why {
                        self.keep_alive = false;
                        let _ = self.write_response(
                            Response::from_string(format!("{why}\n")).with_status_code(400),
                            false,
                        );
                    }
                    return;
                }
            }
        }
    }

    /// The next request's method, target and headers; `None` at a clean end of the
    /// connection; `Err(Some(why))` for a malformed request, `Err(None)` for a broken
    /// connection.
    #[allow(clippy::type_complexity)]
    fn read_request(
        &mut self,
    ) -> Result<Option<(Method, String, Vec<(String, String)>)>, Option<&'static str>> {
        let mut lines = Vec::new();
        let mut total = 0;
        loop {
            let mut line = Vec::new();
            let n = (&mut self.reader)
                .take((MAX_HEAD - total) as u64 + 1)
                .read_until(b'\n', &mut line)
                .map_err(|_| None)?;
            if n == 0 {
                return if lines.is_empty() {
                    Ok(None)
                } else {
                    Err(None)
                };
            }
            total += n;
            if total > MAX_HEAD || !line.ends_with(b"\n") {
                return Err(Some("request head too long"));
            }
            let line = String::from_utf8(line).map_err(|_| Some("request head not UTF-8"))?;
            let line = line.trim_end_matches(['\r', '\n']).to_owned();
            if line.is_empty() {
                // Empty lines before a request line are allowed (RFC 9112 section 2.2).
                if lines.is_empty() {
                    continue;
                }
                break;
            }
            lines.push(line);
        }
        let mut parts = lines[0].split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Some("malformed request line"));
        };
        self.http11 = match version {
            "HTTP/1.1" => true,
            "HTTP/1.0" => false,
            _ => return Err(Some("unsupported HTTP version")),
        };
        let mut headers = Vec::with_capacity(lines.len() - 1);
        for line in &lines[1..] {
            let Some((name, value)) = line.split_once(':') else {
                return Err(Some("malformed header"));
            };
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_ascii_lowercase())
        };
        let connection = get("connection").unwrap_or_default();
        self.keep_alive = if self.http11 {
            !connection.contains("close")
        } else {
            connection.contains("keep-alive")
        };
        if get("transfer-encoding").is_some() {
            return Err(Some("request bodies are not accepted"));
        }
        // A body (none is expected) is read past.
        if let Some(len) = get("content-length") {
            let len: u64 = len.parse().map_err(|_| Some("bad Content-Length"))?;
            io::copy(&mut (&mut self.reader).take(len), &mut io::sink()).map_err(|_| None)?;
        }
        let method = match method {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            _ => Method::Other,
        };
        Ok(Some((method, target.to_owned(), headers)))
    }

    fn write_response(&mut self, mut resp: Response, head_only: bool) -> io::Result<()> {
        let chunked = resp.len.is_none() && self.http11 && !head_only;
        if resp.len.is_none() && !self.http11 {
            // The end of the body is the end of the connection.
            self.keep_alive = false;
        }
        let w = &mut self.writer;
        write!(w, "HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status))?;
        for h in &resp.headers {
            write!(w, "{}: {}\r\n", h.name, h.value)?;
        }
        match resp.len {
            Some(n) => write!(w, "Content-Length: {n}\r\n")?,
            None if chunked => w.write_all(b"Transfer-Encoding: chunked\r\n")?,
            None => {}
        }
        if !self.keep_alive {
            w.write_all(b"Connection: close\r\n")?;
        }
        w.write_all(b"\r\n")?;
        if head_only {
            return w.flush();
        }
        let mut buf = vec![0u8; 256 * 1024];
        let mut sent = 0u64;
        loop {
            let n = match resp.body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunked {
                write!(w, "{n:x}\r\n")?;
                w.write_all(&buf[..n])?;
                w.write_all(b"\r\n")?;
            } else {
                w.write_all(&buf[..n])?;
            }
            sent += n as u64;
        }
        if chunked {
            w.write_all(b"0\r\n\r\n")?;
        }
        if let Some(n) = resp.len {
            if sent != n {
                // A body shorter than announced: the client must see the connection end.
                let _ = w.flush();
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "response body ended early",
                ));
            }
        }
        w.flush()
    }
}
