//! The venue's HTTP/1.1 server: keep-alive connections, one thread each, requests with
//! `Content-Length` bodies, header names matched case-insensitively. Hand-written (rather than a
//! server crate) so the venue can also misbehave on purpose: hold a request and close the socket
//! without answering, as a lost response looks to a client.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Largest request head (request line and headers) read.
const MAX_HEAD: usize = 64 << 10;
/// Largest request body read.
const MAX_BODY: usize = 1 << 20;
/// How long a read waits before the connection re-checks for shutdown.
const READ_POLL: Duration = Duration::from_millis(50);

/// One request as received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST`, `DELETE` …, as sent.
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The raw query string (after `?`, still percent-encoded), empty if none.
    pub query: String,
    /// Header names and values in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body bytes exactly as sent.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The first header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The percent-decoded value of query parameter `key`.
    pub fn query_param(&self, key: &str) -> Option<String> {
        self.query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| percent_decode(v))
    }
}

/// What to do with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Answer with this status and JSON body.
    Json {
        /// The HTTP status.
        status: u16,
        /// The body.
        body: String,
    },
    /// Answer nothing: hold the connection this long, then close it.
    Lost {
        /// How long to hold.
        hold: Duration,
    },
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply::Json {
            status,
            body: body.into(),
        }
    }
}

/// What the server needs from its owner.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, request: &HttpRequest) -> Reply;
    /// Whether the venue is shutting down.
    fn stopping(&self) -> bool;
}

/// Accepts connections until `handler.stopping()`; each gets a thread, collected in `conns`.
pub fn accept_loop<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
) {
    for stream in listener.incoming() {
        if handler.stopping() {
            return;
        }
        let Ok(stream) = stream else { continue };
        let h = Arc::clone(&handler);
        let spawned = thread::Builder::new()
            .name("venue-http-conn".into())
            .spawn(move || serve(stream, &*h));
        if let Ok(handle) = spawned {
            let mut list = conns.lock().unwrap_or_else(|e| e.into_inner());
            list.retain(|h| !h.is_finished());
            list.push(handle);
        }
    }
}

fn serve<H: Handler>(mut stream: TcpStream, handler: &H) {
    let _ = stream.set_nodelay(true);
    if stream.set_read_timeout(Some(READ_POLL)).is_err() {
        return;
    }
    let mut buf = Vec::with_capacity(4096);
    loop {
        let request = match read_request(&mut stream, &mut buf, handler) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(status) => {
                let _ = write_response(&mut stream, status, "{\"error\":\"bad request\"}", true);
                return;
            }
        };
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        match handler.handle(&request) {
            Reply::Json { status, body } => {
                if write_response(&mut stream, status, &body, close).is_err() || close {
                    return;
                }
            }
            Reply::Lost { hold } => {
                let until = Instant::now() + hold;
                while Instant::now() < until && !handler.stopping() {
                    thread::sleep(READ_POLL.min(until.saturating_duration_since(Instant::now())));
                }
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Reads one request; `Ok(None)` when the peer closed or the venue stops, `Err(status)` for a
/// request that cannot be served.
fn read_request<H: Handler>(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    handler: &H,
) -> Result<Option<HttpRequest>, u16> {
    let head_end = loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Err(431);
        }
        if !fill(stream, buf, handler) {
            return Ok(None);
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| 400u16)?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target)) = (first.next(), first.next()) else {
        return Err(400);
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut request = HttpRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        return Err(411);
    }
    let length = match request.header("content-length") {
        Some(v) => v.parse::<usize>().map_err(|_| 400u16)?,
        None => 0,
    };
    if length > MAX_BODY {
        return Err(413);
    }
    let body_start = head_end + 4;
    while buf.len() < body_start + length {
        if !fill(stream, buf, handler) {
            return Ok(None);
        }
    }
    request.body = buf[body_start..body_start + length].to_vec();
    buf.drain(..body_start + length);
    Ok(Some(request))
}

/// Appends what the socket has; false once the peer closed, the socket failed or the venue stops.
fn fill<H: Handler>(stream: &mut TcpStream, buf: &mut Vec<u8>, handler: &H) -> bool {
    let mut chunk = [0u8; 4096];
    loop {
        if handler.stopping() {
            return false;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return true;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn write_response(
    stream: &mut TcpStream,
    status: u16,
    body: &str,
    close: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n",
        reason(status),
        body.len(),
        if close { "Connection: close\r\n" } else { "" },
    );
    let mut out = Vec::with_capacity(head.len() + body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body.as_bytes());
    stream.write_all(&out)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        425 => "Too Early",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Decodes `%XX` escapes and `+` (as a space); malformed escapes stay as they are.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_handles_cursors_and_bad_escapes() {
        assert_eq!(percent_decode("MA%3D%3D"), "MA==");
        assert_eq!(percent_decode("a+b"), "a b");
        assert_eq!(percent_decode("50%"), "50%");
        assert_eq!(percent_decode("%zz1"), "%zz1");
    }

    #[test]
    fn headers_match_case_insensitively() {
        let r = HttpRequest {
            headers: vec![("poly_api_key".into(), "k".into())],
            query: "next_cursor=MA%3D%3D&x=1".into(),
            ..HttpRequest::default()
        };
        assert_eq!(r.header("POLY_API_KEY"), Some("k"));
        assert_eq!(r.query_param("next_cursor").as_deref(), Some("MA=="));
        assert_eq!(r.query_param("y"), None);
    }
}
