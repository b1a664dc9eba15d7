//! The execution thread's wire to the venue's order endpoints: a pool of pre-connected
//! keep-alive HTTP/1.1 connections, requests written from preallocated buffers with L2 headers,
//! completions polled without blocking, deadlines enforced (a late request completes as Timeout
//! and its connection is redialled). Plus the decoders for the answers and, in [`rest`], a
//! blocking client for the calls off the hot path.
//!
//! Plain `http://` requests allocate nothing once warm; over TLS, rustls buffers each record.

mod conn;
mod orders;
mod request;
mod response;
pub mod rest;

use std::io;
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;

pub use conn::{HttpConn, HttpOutcome};
pub use orders::{
    CancelResult, DecodeError, PostResult, PostStatus, parse_cancels, parse_post_orders,
    reject_reason,
};
pub use request::write_request;
pub use response::HttpError;

use crate::adapters::polymarket::auth::L2Signer;
use crate::adapters::polymarket::signing::hex_hash;
use crate::adapters::polymarket::transport::{ConnectError, tls_config};
use crate::bot::clock::Clock;

/// Where the venue's REST API listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `https://` (rustls) rather than `http://`.
    pub tls: bool,
}

impl Endpoint {
    /// Reads `http://host[:port]` or `https://host[:port]` (a trailing `/` allowed, no path).
    pub fn parse(url: &str) -> Result<Endpoint, ConnectError> {
        let bad = |why: &str| ConnectError::BadUrl {
            url: url.to_owned(),
            why: why.to_owned(),
        };
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad("scheme must be http or https"));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') {
            return Err(bad("a path prefix is not supported"));
        }
        // A colon after any `]` starts the port (`[::1]:8080`, `host:8080`).
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => (
                &authority[..i],
                authority[i + 1..]
                    .parse()
                    .map_err(|_| bad("port is not a number"))?,
            ),
            _ => (authority, if tls { 443 } else { 80 }),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Endpoint {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            tls,
        })
    }

    /// The `Host` header value: the port only when it is not the scheme's default.
    fn host_header(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Pool size and timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClobConfig {
    /// Connections kept open (each carries one request at a time).
    pub conns: usize,
    /// How long a dial (TCP + TLS) may take.
    pub connect_timeout: Duration,
    /// How long a request may wait for its complete response.
    pub request_timeout: Duration,
    /// An idle connection gets a `GET /time` after this long, so it stays open and warm.
    pub warm_every: Duration,
}

/// Why a request was not sent. Nothing reached the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Every connection is carrying a request or being redialled.
    #[error("no free venue connection")]
    Busy,
    /// The socket failed before any byte left (the connection is being redialled).
    #[error("venue connection failed before sending: {0}")]
    Io(io::ErrorKind),
}

/// A finished request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The caller's tag given at send.
    pub tag: u64,
    /// How it ended.
    pub outcome: HttpOutcome,
}

/// A pool of pre-connected keep-alive connections to the venue's trading endpoints.
pub struct ClobClient {
    conns: Vec<HttpConn>,
    /// Connections whose request in flight is a keep-warm probe (its completion is swallowed).
    warming: Vec<bool>,
    host: String,
    l2: L2Signer,
    config: ClobConfig,
    clock: Clock,
    /// Scratch for cancel bodies.
    scratch: Vec<u8>,
    /// Response bodies completed by the latest [`ClobClient::poll`].
    bodies: Vec<u8>,
    /// Where the search for a free connection starts (round robin keeps all of them warm).
    next: usize,
}

impl ClobClient {
    /// Opens `config.conns` connections to `endpoint` and waits (up to the connect timeout)
    /// until all are open. `https` uses `tls`, or the Mozilla roots when `None`.
    pub fn connect(
        endpoint: &Endpoint,
        config: ClobConfig,
        l2: L2Signer,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<ClobClient, ConnectError> {
        let url = format!(
            "{}://{}:{}",
            if endpoint.tls { "https" } else { "http" },
            endpoint.host,
            endpoint.port
        );
        let io_err = |source| ConnectError::Io {
            url: url.clone(),
            source,
        };
        let addr = (endpoint.host.as_str(), endpoint.port)
            .to_socket_addrs()
            .map_err(io_err)?
            .next()
            .ok_or_else(|| ConnectError::BadUrl {
                url: url.clone(),
                why: "host did not resolve".into(),
            })?;
        let tls = if endpoint.tls {
            let config = match tls {
                Some(c) => c,
                None => tls_config(None).map_err(io_err)?,
            };
            let name =
                ServerName::try_from(endpoint.host.clone()).map_err(|_| ConnectError::BadUrl {
                    url: url.clone(),
                    why: "invalid TLS name".into(),
                })?;
            Some((config, name))
        } else {
            None
        };
        let start = Instant::now();
        let conns: Vec<HttpConn> = (0..config.conns.max(1))
            .map(|_| HttpConn::new(addr, tls.clone(), config.connect_timeout, start))
            .collect();
        let mut client = ClobClient {
            warming: vec![false; conns.len()],
            conns,
            host: endpoint.host_header(),
            l2,
            config,
            clock: Clock::new(),
            scratch: Vec::with_capacity(16 * 1024),
            bodies: Vec::with_capacity(64 * 1024),
            next: 0,
        };
        let deadline = start + config.connect_timeout;
        let mut sink = Vec::new();
        while client.open_conns() < client.conns.len() {
            if Instant::now() >= deadline {
                return Err(ConnectError::Timeout { url });
            }
            // Start-up only: the dials advance without blocking, so this waits between looks.
            std::thread::sleep(Duration::from_micros(200));
            client.poll(Instant::now(), &mut sink);
        }
        Ok(client)
    }

    /// Connections open (busy or free).
    pub fn open_conns(&self) -> usize {
        self.conns.iter().filter(|c| c.is_open()).count()
    }

    /// Connections able to take a request now.
    pub fn free_conns(&self) -> usize {
        self.conns.iter().filter(|c| c.is_free()).count()
    }

    /// Sends `POST /orders` (`batch`: `body` is a JSON array of at most 15 entries) or
    /// `POST /order` (one entry), L2-signed at `now_s`. Returns the clock ticks when the bytes
    /// were handed to the socket (t_wire).
    pub fn send_orders(
        &mut self,
        body: &[u8],
        batch: bool,
        now_s: u64,
        tag: u64,
    ) -> Result<u64, SendError> {
        let path = if batch { "/orders" } else { "/order" };
        self.send("POST", path, Some(body), now_s, tag)
    }

    /// Sends `DELETE /order` for one order hash.
    pub fn send_cancel(
        &mut self,
        order_id: &[u8; 32],
        now_s: u64,
        tag: u64,
    ) -> Result<u64, SendError> {
        self.scratch.clear();
        self.scratch.extend_from_slice(b"{\"orderID\":\"");
        self.scratch.extend_from_slice(&hex_hash(order_id));
        self.scratch.extend_from_slice(b"\"}");
        self.send("DELETE", "/order", None, now_s, tag)
    }

    /// Sends `DELETE /orders` for several order hashes.
    pub fn send_cancels(
        &mut self,
        ids: &[[u8; 32]],
        now_s: u64,
        tag: u64,
    ) -> Result<u64, SendError> {
        self.scratch.clear();
        self.scratch.push(b'[');
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                self.scratch.push(b',');
            }
            self.scratch.push(b'"');
            self.scratch.extend_from_slice(&hex_hash(id));
            self.scratch.push(b'"');
        }
        self.scratch.push(b']');
        self.send("DELETE", "/orders", None, now_s, tag)
    }

    /// Sends `DELETE /cancel-all` (no body).
    pub fn send_cancel_all(&mut self, now_s: u64, tag: u64) -> Result<u64, SendError> {
        self.send("DELETE", "/cancel-all", Some(b""), now_s, tag)
    }

    /// Writes one signed request on a free connection. `body: None` sends the scratch buffer.
    fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        now_s: u64,
        tag: u64,
    ) -> Result<u64, SendError> {
        let now = Instant::now();
        let n = self.conns.len();
        let i = (0..n)
            .map(|k| (self.next + k) % n)
            .find(|&i| self.conns[i].is_free() && self.conns[i].check_alive(now))
            .ok_or(SendError::Busy)?;
        self.next = (i + 1) % n;
        let (host, l2) = (&self.host, &self.l2);
        let body = body.unwrap_or(&self.scratch);
        self.conns[i]
            .start(tag, now + self.config.request_timeout, |out| {
                write_request(out, method, path, host, body, |body, out| {
                    l2.write_headers(now_s, method, path, body, out);
                });
            })
            .map_err(|e| SendError::Io(e.kind()))?;
        self.warming[i] = false;
        Ok(self.clock.raw())
    }

    /// Non-blocking: advances every connection and appends the requests that ended (a complete
    /// response, or past the deadline as Timeout, or a failure) to `out`. Bodies of this call's
    /// completions stay readable through [`ClobClient::body`] until the next call.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<Completion>) {
        self.bodies.clear();
        for (conn, warming) in self.conns.iter_mut().zip(self.warming.iter_mut()) {
            let mark = self.bodies.len();
            if let Some((tag, outcome)) = conn.poll(now, &mut self.bodies) {
                if *warming {
                    *warming = false;
                    self.bodies.truncate(mark);
                } else {
                    out.push(Completion { tag, outcome });
                }
            }
        }
    }

    /// The body of a completion from the latest [`ClobClient::poll`] (empty for non-`Ok`).
    pub fn body(&self, outcome: &HttpOutcome) -> &[u8] {
        match *outcome {
            HttpOutcome::Ok {
                body_start,
                body_end,
                ..
            } => self.bodies.get(body_start..body_end).unwrap_or_default(),
            _ => &[],
        }
    }

    /// Sends a cheap `GET /time` on each free connection idle for `warm_every`, so the venue
    /// and any middlebox keep it open and its path stays warm; a connection the server closed
    /// is found and redialled here instead of under an order.
    pub fn keep_warm(&mut self, now: Instant) {
        let deadline = now + self.config.request_timeout;
        for (i, conn) in self.conns.iter_mut().enumerate() {
            if !conn.is_free() || now.duration_since(conn.last_active()) < self.config.warm_every {
                continue;
            }
            if !conn.check_alive(now) {
                continue;
            }
            let host = &self.host;
            let sent = conn.start(0, deadline, |out| {
                write_request(out, "GET", "/time", host, b"", |_, _| {});
            });
            self.warming[i] = sent.is_ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(host: &str, port: u16, tls: bool) -> Endpoint {
        Endpoint {
            host: host.into(),
            port,
            tls,
        }
    }

    #[test]
    fn endpoints_from_urls() {
        let parse = |url| Endpoint::parse(url).unwrap();
        assert_eq!(
            parse("https://clob.polymarket.com"),
            endpoint("clob.polymarket.com", 443, true)
        );
        assert_eq!(
            parse("http://127.0.0.1:8080/"),
            endpoint("127.0.0.1", 8080, false)
        );
        assert_eq!(parse("http://[::1]:9000"), endpoint("::1", 9000, false));
        assert_eq!(parse("https://[::1]"), endpoint("::1", 443, true));
        assert_eq!(parse("http://venue:81").host_header(), "venue:81");
        assert_eq!(parse("https://venue").host_header(), "venue");
        assert_eq!(parse("http://[::1]:9000").host_header(), "[::1]:9000");
        for bad in [
            "ws://venue",
            "http://",
            "http://venue:x",
            "https://venue/api",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
