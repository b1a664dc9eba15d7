//! One keep-alive HTTP/1.1 connection to the venue: plain TCP or rustls over a non-blocking
//! socket, dialled without blocking, preallocated write and read buffers, at most one request
//! in flight. Driven by polling: every call does what the socket allows and returns.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use rustls::pki_types::ServerName;

use super::response::{self, HttpError};
use crate::adapters::polymarket::transport::Transport;

/// Initial size of the write buffer (a 15-order batch is about 12 KiB).
const WRITE_CAPACITY: usize = 32 * 1024;
/// Initial size of the read buffer.
const READ_CAPACITY: usize = 64 * 1024;
/// The read buffer never grows past this: a longer response fails the request as Reset.
const READ_LIMIT: usize = 4 * 1024 * 1024;
/// First and longest wait before redialling after a failed dial.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpOutcome {
    /// A complete response; its body is `body_start..body_end` of the client's body buffer
    /// (see `ClobClient::body`).
    Ok {
        /// The HTTP status (only 200 is success for the venue).
        status: u16,
        /// Start of the body in the body buffer.
        body_start: usize,
        /// End of the body in the body buffer.
        body_end: usize,
    },
    /// No complete response before the deadline: the request may or may not have taken effect.
    /// The connection was dropped and is being redialled.
    Timeout,
    /// The connection failed or closed after the request started: fate unknown, as for Timeout.
    Reset,
    /// The response was not valid HTTP/1.1: fate unknown, as for Timeout. Connection redialled.
    Malformed(HttpError),
}

/// Where the connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// TCP connect in progress, until the deadline.
    Connecting(Instant),
    /// TLS handshake in progress, until the deadline.
    Handshaking(Instant),
    /// Open and usable.
    Ready,
    /// Closed; dial again at the instant.
    Down(Instant),
}

/// The request on the wire.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    tag: u64,
    deadline: Instant,
    /// The request bytes left this process completely (TLS records included).
    flushed: bool,
    /// The write failed after some bytes left: completes as Reset.
    broken: bool,
}

/// One keep-alive HTTP/1.1 connection (plain TCP or TLS), non-blocking, one request at a time.
pub struct HttpConn {
    addr: SocketAddr,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    connect_timeout: Duration,
    stream: Option<Transport>,
    state: State,
    backoff: Duration,
    out: Vec<u8>,
    written: usize,
    read: Vec<u8>,
    filled: usize,
    inflight: Option<InFlight>,
    last_active: Instant,
}

impl HttpConn {
    /// A connection to `addr` (TLS when `tls` names the server), dialling from now on.
    pub fn new(
        addr: SocketAddr,
        tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
        connect_timeout: Duration,
        now: Instant,
    ) -> HttpConn {
        let mut conn = HttpConn {
            addr,
            tls,
            connect_timeout,
            stream: None,
            state: State::Down(now),
            backoff: BACKOFF_MIN,
            out: Vec::with_capacity(WRITE_CAPACITY),
            written: 0,
            read: vec![0; READ_CAPACITY],
            filled: 0,
            inflight: None,
            last_active: now,
        };
        conn.dial(now);
        conn
    }

    /// Open, with no request in flight.
    pub fn is_free(&self) -> bool {
        self.state == State::Ready && self.inflight.is_none()
    }

    /// Open (whether or not a request is in flight).
    pub fn is_open(&self) -> bool {
        self.state == State::Ready
    }

    /// When the connection last sent or completed a request.
    pub fn last_active(&self) -> Instant {
        self.last_active
    }

    /// Checks, with one non-blocking read, that the peer has not closed a free connection
    /// (a server's idle timeout); a closed one is redialled and false returned.
    pub fn check_alive(&mut self, now: Instant) -> bool {
        if !self.is_free() {
            return false;
        }
        let Some(stream) = self.stream.as_mut() else {
            return false;
        };
        let mut probe = [0u8; 1];
        match stream.read(&mut probe) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
            // Closed, failed, or bytes nobody asked for: either way unusable.
            _ => {
                self.redial(now);
                false
            }
        }
    }

    /// Starts a request: `write` fills the (cleared) request buffer, then as much as the socket
    /// takes is written. A failure before any byte left is returned (the request was not sent);
    /// a later failure completes the request as Reset. Call only when [`Self::is_free`].
    pub fn start(
        &mut self,
        tag: u64,
        deadline: Instant,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> io::Result<()> {
        write(&mut self.out);
        self.written = 0;
        self.filled = 0;
        self.inflight = Some(InFlight {
            tag,
            deadline,
            flushed: false,
            broken: false,
        });
        if let Err(e) = self.push_out() {
            if self.written == 0 {
                self.inflight = None;
                self.redial(Instant::now());
                return Err(e);
            }
            if let Some(f) = self.inflight.as_mut() {
                f.broken = true;
            }
        }
        Ok(())
    }

    /// Advances the connection: dials, handshakes, writes, reads. Returns the tag and outcome
    /// of the request in flight when it ends; a complete body is appended to `bodies`.
    pub fn poll(&mut self, now: Instant, bodies: &mut Vec<u8>) -> Option<(u64, HttpOutcome)> {
        match self.state {
            State::Down(at) => {
                if now >= at {
                    self.dial(now);
                }
                None
            }
            State::Connecting(_) | State::Handshaking(_) => {
                self.advance_dial(now);
                None
            }
            State::Ready => {
                let flight = self.inflight?;
                let outcome = self.progress(flight, now, bodies)?;
                self.inflight = None;
                self.last_active = now;
                if !matches!(outcome, HttpOutcome::Ok { .. }) {
                    self.redial(now);
                }
                Some((flight.tag, outcome))
            }
        }
    }

    /// The request's outcome if it has ended.
    fn progress(
        &mut self,
        flight: InFlight,
        now: Instant,
        bodies: &mut Vec<u8>,
    ) -> Option<HttpOutcome> {
        if flight.broken {
            return Some(HttpOutcome::Reset);
        }
        if !flight.flushed && self.push_out().is_err() {
            return Some(HttpOutcome::Reset);
        }
        let eof = match self.fill() {
            Ok(eof) => eof,
            Err(_) => return Some(HttpOutcome::Reset),
        };
        if self.filled > 0 || eof {
            let start = bodies.len();
            match response::parse(&self.read[..self.filled], eof, bodies) {
                Ok(Some(r)) => {
                    // Bytes past the response, or a close, leave the connection unusable.
                    if r.close || r.consumed != self.filled {
                        self.redial(now);
                    }
                    self.filled = 0;
                    return Some(HttpOutcome::Ok {
                        status: r.status,
                        body_start: start,
                        body_end: bodies.len(),
                    });
                }
                Ok(None) => {}
                Err(HttpError::Truncated) => return Some(HttpOutcome::Reset),
                Err(e) => return Some(HttpOutcome::Malformed(e)),
            }
        }
        (now >= flight.deadline).then_some(HttpOutcome::Timeout)
    }

    /// Writes what is left of the request; marks it flushed when all of it has left.
    fn push_out(&mut self) -> io::Result<()> {
        let stream = self.stream.as_mut().ok_or(io::ErrorKind::NotConnected)?;
        while self.written < self.out.len() {
            match stream.write(&self.out[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        match stream.flush() {
            Ok(()) => {
                if let Some(f) = self.inflight.as_mut() {
                    f.flushed = true;
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Reads what has arrived; true when the peer has closed.
    fn fill(&mut self) -> io::Result<bool> {
        let stream = self.stream.as_mut().ok_or(io::ErrorKind::NotConnected)?;
        loop {
            if self.filled == self.read.len() {
                if self.read.len() >= READ_LIMIT {
                    return Err(io::ErrorKind::OutOfMemory.into());
                }
                self.read.resize(self.read.len() * 2, 0);
            }
            match stream.read(&mut self.read[self.filled..]) {
                Ok(0) => return Ok(true),
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // TLS peer closed without close_notify.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(true),
                Err(e) => return Err(e),
            }
        }
    }

    /// Drops the stream and dials again at once.
    fn redial(&mut self, now: Instant) {
        self.backoff = BACKOFF_MIN;
        self.dial(now);
    }

    /// Starts a non-blocking connect (and TLS session); on failure, waits out the backoff.
    fn dial(&mut self, now: Instant) {
        self.stream = None;
        self.inflight = None;
        self.filled = 0;
        match self.open() {
            Ok(stream) => {
                self.stream = Some(stream);
                self.state = State::Connecting(now + self.connect_timeout);
            }
            Err(e) => self.fail_dial(now, &e),
        }
    }

    fn open(&self) -> io::Result<Transport> {
        let tcp = TcpStream::connect(self.addr)?;
        tcp.set_nodelay(true)?;
        Ok(match &self.tls {
            None => Transport::Plain(tcp),
            Some((config, name)) => {
                let session = rustls::ClientConnection::new(config.clone(), name.clone())
                    .map_err(io::Error::other)?;
                Transport::Tls(Box::new(rustls::StreamOwned::new(session, tcp)))
            }
        })
    }

    /// Moves a dial on: TCP connected → TLS handshake → ready; past the deadline → down.
    fn advance_dial(&mut self, now: Instant) {
        let step = match (&mut self.stream, self.state) {
            (Some(stream), State::Connecting(deadline)) => {
                tcp_connected(tcp(stream)).map(|up| match (up, stream) {
                    (false, _) => State::Connecting(deadline),
                    (true, Transport::Plain(_)) => State::Ready,
                    (true, Transport::Tls(_)) => State::Handshaking(deadline),
                })
            }
            (Some(Transport::Tls(s)), State::Handshaking(deadline)) => {
                match s.conn.complete_io(&mut s.sock) {
                    Ok(_) if !s.conn.is_handshaking() => Ok(State::Ready),
                    Ok(_) => Ok(State::Handshaking(deadline)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        Ok(State::Handshaking(deadline))
                    }
                    Err(e) => Err(e),
                }
            }
            _ => Err(io::ErrorKind::NotConnected.into()),
        };
        match step {
            Ok(State::Connecting(d) | State::Handshaking(d)) if now >= d => {
                self.fail_dial(now, &io::ErrorKind::TimedOut.into());
            }
            Ok(State::Ready) => {
                self.state = State::Ready;
                self.backoff = BACKOFF_MIN;
                self.last_active = now;
            }
            Ok(state) => self.state = state,
            Err(e) => self.fail_dial(now, &e),
        }
    }

    fn fail_dial(&mut self, now: Instant, e: &io::Error) {
        tracing::warn!(addr = %self.addr, error = %e, "venue connection failed; redialling");
        self.stream = None;
        self.state = State::Down(now + self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }
}

fn tcp(stream: &mut Transport) -> &mut TcpStream {
    match stream {
        Transport::Plain(s) => s,
        Transport::Tls(s) => &mut s.sock,
    }
}

/// Whether a non-blocking connect has completed (an error if it failed).
fn tcp_connected(tcp: &TcpStream) -> io::Result<bool> {
    if let Some(e) = tcp.take_error()? {
        return Err(e);
    }
    match tcp.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}
