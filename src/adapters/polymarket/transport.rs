//! A non-blocking WebSocket client connection: TCP via mio, TLS via rustls for `wss://`,
//! framing via tungstenite.
//!
//! Connecting is a cold path (bounded by a deadline); reading is the hot path: `WebSocket::read`
//! on a non-blocking socket returns `WouldBlock` when the kernel has nothing more.

use std::io::{self, Read, Write};
use std::net::{TcpStream as StdTcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not a usable ws:// or wss:// URL.
    #[error("bad WebSocket URL {url}: {why}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// TCP or TLS failed.
    #[error("cannot connect to {url}: {source}")]
    Io {
        /// The URL.
        url: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The WebSocket handshake failed.
    #[error("WebSocket handshake with {url} failed: {why}")]
    Handshake {
        /// The URL.
        url: String,
        /// The handshake error.
        why: String,
    },
    /// The connection did not complete before its deadline.
    #[error("connecting to {url} timed out")]
    Timeout {
        /// The URL.
        url: String,
    },
}

/// The byte stream under the WebSocket: plain TCP or TLS over TCP.
pub enum Transport {
    /// `ws://`
    Plain(TcpStream),
    /// `wss://`
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Transport {
    fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => &mut s.sock,
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}

/// An open WebSocket, registered with the feed thread's poller under its token.
pub type Socket = WebSocket<Transport>;

/// Opens a WebSocket to `url` within `timeout`, non-blocking from then on, and registers it
/// with `poll` under `token` for readability. `wss://` URLs use `tls` (see [`tls_config`]).
pub fn connect(
    url: &str,
    timeout: Duration,
    poll: &Poll,
    token: Token,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Socket, ConnectError> {
    let deadline = Instant::now() + timeout;
    let bad = |why: &str| ConnectError::BadUrl {
        url: url.to_owned(),
        why: why.to_owned(),
    };
    let io_err = |source| ConnectError::Io {
        url: url.to_owned(),
        source,
    };
    let request = url.into_client_request().map_err(|e| bad(&e.to_string()))?;
    let uri = request.uri();
    let secure = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => return Err(bad("scheme must be ws or wss")),
    };
    let host = uri.host().ok_or_else(|| bad("no host"))?.to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(io_err)?
        .next()
        .ok_or_else(|| bad("host did not resolve"))?;
    let std_stream = StdTcpStream::connect_timeout(&addr, timeout).map_err(io_err)?;
    std_stream.set_nodelay(true).map_err(io_err)?;
    std_stream.set_nonblocking(true).map_err(io_err)?;
    let mut tcp = TcpStream::from_std(std_stream);
    // The handshake waits on a private poller; the feed's poller only ever sees open sockets.
    let mut handshake_poll = Poll::new().map_err(io_err)?;
    handshake_poll
        .registry()
        .register(&mut tcp, Token(0), Interest::READABLE | Interest::WRITABLE)
        .map_err(io_err)?;
    let transport = if secure {
        let name = ServerName::try_from(host.clone()).map_err(|_| bad("invalid TLS name"))?;
        let conn = rustls::ClientConnection::new(tls.clone(), name)
            .map_err(|e| io_err(io::Error::other(e)))?;
        Transport::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)))
    } else {
        Transport::Plain(tcp)
    };
    let mut events = Events::with_capacity(4);
    let mut attempt = tungstenite::client::client_with_config(
        request,
        transport,
        Some(WebSocketConfig::default()),
    );
    loop {
        match attempt {
            Ok((mut socket, _response)) => {
                let tcp = socket.get_mut().tcp();
                handshake_poll.registry().deregister(tcp).map_err(io_err)?;
                poll.registry()
                    .register(tcp, token, Interest::READABLE)
                    .map_err(io_err)?;
                return Ok(socket);
            }
            Err(HandshakeError::Interrupted(mid)) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ConnectError::Timeout {
                        url: url.to_owned(),
                    });
                }
                handshake_poll
                    .poll(&mut events, Some(left))
                    .map_err(io_err)?;
                attempt = mid.handshake();
            }
            Err(HandshakeError::Failure(e)) => {
                return Err(ConnectError::Handshake {
                    url: url.to_owned(),
                    why: e.to_string(),
                });
            }
        }
    }
}

/// Sends a text frame; one the socket cannot take yet stays queued and goes out with the next
/// flush, so `WouldBlock` is not a failure.
pub fn send_text(
    socket: &mut Socket,
    text: impl Into<tungstenite::Utf8Bytes>,
) -> tungstenite::Result<()> {
    match socket.send(Message::text(text)) {
        Err(e) if would_block(&e) => Ok(()),
        other => other,
    }
}

/// Whether a socket error only means "nothing more right now" on a non-blocking socket.
pub fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock)
}

/// Deregisters the socket from the poller before it is dropped.
pub fn close(socket: &mut Socket, poll: &Poll) {
    let _ = poll.registry().deregister(socket.get_mut().tcp());
}

/// The TLS client configuration for `wss://` feeds: the Mozilla roots (webpki-roots), plus the
/// PEM certificates of `extra_ca_file` when one is configured (`venue.tls_ca_file`: a private CA
/// or a test venue's self-signed certificate).
pub fn tls_config(extra_ca_file: Option<&Path>) -> io::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra_ca_file {
        let named = |e: &dyn std::fmt::Display| {
            io::Error::other(format!("venue.tls_ca_file {}: {e}", path.display()))
        };
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| named(&e))?;
        let mut added = 0;
        for cert in certs {
            roots
                .add(cert.map_err(|e| named(&e))?)
                .map_err(|e| named(&e))?;
            added += 1;
        }
        if added == 0 {
            return Err(named(&"holds no PEM certificate"));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}
