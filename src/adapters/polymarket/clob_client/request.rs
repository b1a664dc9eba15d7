//! Writes HTTP/1.1 requests into a reused buffer: request line, Host, the JSON content type
//! (the venue wants it even on bodiless calls), Content-Length, the caller's authentication
//! header lines, and the body. No allocation once the buffer has room.

use std::io::Write as _;

/// Writes one request into `out` (cleared first). `auth` appends complete header lines
/// (`Name: value\r\n`) — the L2 headers — and is given the body it must sign.
pub fn write_request(
    out: &mut Vec<u8>,
    method: &str,
    path: &str,
    host: &str,
    body: &[u8],
    auth: impl FnOnce(&[u8], &mut Vec<u8>),
) {
    out.clear();
    for part in [method, " ", path, " HTTP/1.1\r\nHost: ", host] {
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{}", body.len());
    out.extend_from_slice(b"\r\n");
    auth(body, out);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_line_headers_auth_and_body() {
        let mut out = b"stale".to_vec();
        write_request(
            &mut out,
            "POST",
            "/order",
            "clob.example:8443",
            b"{\"a\":1}",
            |body, out| {
                out.extend_from_slice(b"X-Signed: ");
                out.extend_from_slice(body);
                out.extend_from_slice(b"\r\n");
            },
        );
        assert_eq!(
            out,
            b"POST /order HTTP/1.1\r\nHost: clob.example:8443\r\nContent-Type: application/json\r\n\
              Content-Length: 7\r\nX-Signed: {\"a\":1}\r\n\r\n{\"a\":1}"
        );
    }

    #[test]
    fn bodiless_requests_say_length_zero() {
        let mut out = Vec::new();
        write_request(&mut out, "DELETE", "/cancel-all", "h", b"", |_, _| {});
        assert!(out.ends_with(b"Content-Length: 0\r\n\r\n"));
        assert!(out.starts_with(b"DELETE /cancel-all HTTP/1.1\r\n"));
    }
}
