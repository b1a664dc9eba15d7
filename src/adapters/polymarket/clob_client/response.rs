//! An HTTP/1.1 response parser over a connection's read buffer: status line, the framing
//! headers (Content-Length, chunked Transfer-Encoding, Connection: close) and the body, copied
//! (de-chunked) into a caller's buffer. Incremental: an incomplete response is reported as such
//! and parsed again from the start when more bytes arrive (responses are small).

/// The longest response head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// Why a response could not be read. The connection is unusable after any of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The status line is not `HTTP/1.x NNN ...`.
    #[error("bad status line")]
    StatusLine,
    /// A header line has no `:` or is not text.
    #[error("bad header line")]
    Header,
    /// Content-Length is not a number, or appears twice with different values.
    #[error("bad Content-Length")]
    ContentLength,
    /// A chunk size line or chunk terminator is malformed.
    #[error("bad chunked encoding")]
    Chunk,
    /// A Transfer-Encoding other than chunked.
    #[error("unsupported Transfer-Encoding")]
    TransferEncoding,
    /// The head is longer than 16 KiB.
    #[error("response head too long")]
    HeadTooLong,
    /// The connection closed before the response was complete.
    #[error("connection closed mid-response")]
    Truncated,
}

/// A complete response (its body was appended to the caller's buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The server will close the connection after this response.
    pub close: bool,
    /// Bytes of the read buffer this response took.
    pub consumed: usize,
}

/// How the body is delimited.
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// Parses one response from `buf`. `eof`: the peer has closed, nothing more will arrive.
/// Complete → `Ok(Some(..))` with the body appended to `body`; incomplete → `Ok(None)` and
/// `body` unchanged.
pub fn parse(buf: &[u8], eof: bool, body: &mut Vec<u8>) -> Result<Option<Response>, HttpError> {
    let Some(head_len) = find(buf, b"\r\n\r\n").map(|i| i + 4) else {
        if buf.len() > MAX_HEAD {
            return Err(HttpError::HeadTooLong);
        }
        return if eof {
            Err(HttpError::Truncated)
        } else {
            Ok(None)
        };
    };
    if head_len > MAX_HEAD {
        return Err(HttpError::HeadTooLong);
    }
    let mut lines = buf[..head_len - 4].split(|&b| b == b'\n');
    let (status, http10) = status_line(trim_cr(lines.next().unwrap_or_default()))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = http10;
    for line in lines {
        let line = trim_cr(line);
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(HttpError::Header)?;
        let name = &line[..colon];
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_decimal(value).ok_or(HttpError::ContentLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(HttpError::ContentLength);
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if !value.eq_ignore_ascii_case(b"chunked") {
                return Err(HttpError::TransferEncoding);
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            if contains_ignore_case(value, b"close") {
                close = true;
            } else if contains_ignore_case(value, b"keep-alive") {
                close = false;
            }
        }
    }
    let framing = if status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    let rest = &buf[head_len..];
    let body_len = match framing {
        Framing::Length(n) if rest.len() >= n => {
            body.extend_from_slice(&rest[..n]);
            n
        }
        Framing::Length(_) => {
            return if eof {
                Err(HttpError::Truncated)
            } else {
                Ok(None)
            };
        }
        Framing::Chunked => match dechunk(rest, body)? {
            Some(n) => n,
            None if eof => return Err(HttpError::Truncated),
            None => return Ok(None),
        },
        Framing::UntilClose if eof => {
            body.extend_from_slice(rest);
            close = true;
            rest.len()
        }
        Framing::UntilClose => return Ok(None),
    };
    Ok(Some(Response {
        status,
        close,
        consumed: head_len + body_len,
    }))
}

/// `HTTP/1.x NNN reason` → (NNN, is HTTP/1.0).
fn status_line(line: &[u8]) -> Result<(u16, bool), HttpError> {
    let http10 = match line.get(..9) {
        Some(b"HTTP/1.1 ") => false,
        Some(b"HTTP/1.0 ") => true,
        _ => return Err(HttpError::StatusLine),
    };
    let code = line.get(9..12).ok_or(HttpError::StatusLine)?;
    if line.get(12).is_some_and(|&b| b != b' ') {
        return Err(HttpError::StatusLine);
    }
    let status = parse_decimal(code).ok_or(HttpError::StatusLine)?;
    if !(100..600).contains(&status) {
        return Err(HttpError::StatusLine);
    }
    Ok((status as u16, http10))
}

/// De-chunks `rest` into `body`: `Some(bytes of rest taken)` when the last chunk and the
/// trailers are in, `None` (body unchanged) when more is needed.
fn dechunk(rest: &[u8], body: &mut Vec<u8>) -> Result<Option<usize>, HttpError> {
    let start = body.len();
    let mut at = 0;
    loop {
        let Some(eol) = find(&rest[at..], b"\r\n") else {
            body.truncate(start);
            return if rest.len() - at > 64 {
                Err(HttpError::Chunk)
            } else {
                Ok(None)
            };
        };
        let size_field = &rest[at..at + eol];
        let size_digits = size_field
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        let size = parse_hex(size_digits).ok_or(HttpError::Chunk)?;
        at += eol + 2;
        if size == 0 {
            // Trailers, each ending in CRLF, then an empty line.
            loop {
                let Some(eol) = find(&rest[at..], b"\r\n") else {
                    body.truncate(start);
                    return Ok(None);
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some(at));
                }
            }
        }
        let end = at.checked_add(size).ok_or(HttpError::Chunk)?;
        if rest.len() < end + 2 {
            body.truncate(start);
            return Ok(None);
        }
        if &rest[end..end + 2] != b"\r\n" {
            body.truncate(start);
            return Err(HttpError::Chunk);
        }
        body.extend_from_slice(&rest[at..end]);
        at = end + 2;
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The first index of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// ASCII decimal digits (at most 12) → the number.
fn parse_decimal(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 12 {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + usize::from(b - b'0'))
    })
}

/// ASCII hex digits (at most 8) → the number.
fn parse_hex(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &b| {
        char::from(b).to_digit(16).map(|d| n * 16 + d as usize)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(raw: &[u8]) -> (Response, Vec<u8>) {
        let mut body = Vec::new();
        let r = parse(raw, false, &mut body).unwrap().unwrap();
        (r, body)
    }

    #[test]
    fn content_length_body() {
        let raw =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        let (r, body) = complete(raw);
        assert_eq!((r.status, r.close, r.consumed), (200, false, raw.len()));
        assert_eq!(body, b"{}");
    }

    #[test]
    fn every_prefix_is_incomplete_and_leaves_the_body_alone() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n";
        for cut in 0..raw.len() {
            let mut body = b"keep".to_vec();
            assert_eq!(parse(&raw[..cut], false, &mut body), Ok(None), "cut {cut}");
            assert_eq!(body, b"keep");
        }
        let (r, body) = complete(raw);
        assert_eq!(body, b"abcde");
        assert_eq!(r.consumed, raw.len());
    }

    #[test]
    fn connection_close_and_http10_close() {
        let (r, _) =
            complete(b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert_eq!((r.status, r.close), (503, true));
        let (r, _) = complete(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert!(r.close);
        let (r, _) =
            complete(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
        assert!(!r.close);
    }

    #[test]
    fn body_until_close_completes_at_eof() {
        let raw = b"HTTP/1.1 200 OK\r\n\r\n[1,2]";
        let mut body = Vec::new();
        assert_eq!(parse(raw, false, &mut body), Ok(None));
        let r = parse(raw, true, &mut body).unwrap().unwrap();
        assert!(r.close);
        assert_eq!(body, b"[1,2]");
    }

    #[test]
    fn malformed_responses_are_errors() {
        let mut body = Vec::new();
        let mut bad = |raw: &[u8], eof: bool| parse(raw, eof, &mut body).unwrap_err();
        assert_eq!(bad(b"HTTP/2 200 OK\r\n\r\n", false), HttpError::StatusLine);
        assert_eq!(
            bad(b"HTTP/1.1 2x0 OK\r\n\r\n", false),
            HttpError::StatusLine
        );
        assert_eq!(
            bad(b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", false),
            HttpError::Header
        );
        assert_eq!(
            bad(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false),
            HttpError::ContentLength
        );
        assert_eq!(
            bad(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                false
            ),
            HttpError::ContentLength
        );
        assert_eq!(
            bad(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false),
            HttpError::TransferEncoding
        );
        assert_eq!(
            bad(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                false
            ),
            HttpError::Chunk
        );
        assert_eq!(
            bad(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
                false
            ),
            HttpError::Chunk
        );
        assert_eq!(
            bad(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", true),
            HttpError::Truncated
        );
        assert_eq!(bad(&[b'a'; MAX_HEAD + 1], false), HttpError::HeadTooLong);
    }

    #[test]
    fn no_body_for_204() {
        let (r, body) = complete(b"HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(r.status, 204);
        assert!(body.is_empty());
    }
}
