//! A non-blocking WebSocket client connection: TCP via mio, TLS via rustls for `wss://`,
//! framing via tungstenite.
//!
//! Connecting is a cold path (bounded by a deadline); reading is the hot path: `WebSocket::read`
//! on a non-blocking socket returns `WouldBlock` when the kernel has nothing more.

use std::io::{self, Read, Write};
use std::net::{TcpStream as StdTcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rustls::pki_types::ServerName;
use tungstenite::WebSocket;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::WebSocketConfig;

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
/// with `poll` under `token` for readability.
pub fn connect(
    url: &str,
    timeout: Duration,
    poll: &Poll,
    token: Token,
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
    let tls = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => return Err(bad("scheme must be ws or wss")),
    };
    let host = uri.host().ok_or_else(|| bad("no host"))?.to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
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
    let transport = if tls {
        let name = ServerName::try_from(host.clone()).map_err(|_| bad("invalid TLS name"))?;
        let conn = rustls::ClientConnection::new(tls_config().map_err(io_err)?, name)
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

/// Deregisters the socket from the poller before it is dropped.
pub fn close(socket: &mut Socket, poll: &Poll) {
    let _ = poll.registry().deregister(socket.get_mut().tcp());
}

fn tls_config() -> io::Result<Arc<rustls::ClientConfig>> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}
