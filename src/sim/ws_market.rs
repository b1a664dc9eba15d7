//! The market WebSocket channel (`/ws/market`): the accept loop and one thread per connection.
//! The user channel ([`ws_user::PATH`]) shares the port and the connection loop; only its
//! subscribe frame differs.
//!
//! A connection subscribes with the venue's subscribe frame, answers the text keep-alive `PING`
//! with `PONG` (a `PING` before any subscribe closes the socket with 1008), and forwards whatever
//! the driver publishes for its assets. The socket is non-blocking: each pass reads everything
//! the client sent, then waits up to a millisecond for outbound frames.

use std::io::ErrorKind;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam::channel::{Receiver, RecvTimeoutError};
use serde::Deserialize;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::StatusCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

use crate::sim::hub::{Hub, Out};
use crate::sim::ws_user::{self, Handled};

/// The channel's path.
pub const PATH: &str = "/ws/market";
/// Longest wait for outbound frames before the connection looks at its socket again.
const OUT_WAIT: Duration = Duration::from_millis(1);
/// Most outbound frames written between two flushes.
const OUT_BATCH: usize = 256;
/// Time allowed for the opening handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The subscribe/unsubscribe frame. Unknown keys are tolerated, as the venue does.
#[derive(Deserialize)]
struct Subscription {
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    assets_ids: Vec<String>,
    #[serde(default)]
    initial_dump: Option<bool>,
    #[serde(default)]
    custom_feature_enabled: Option<bool>,
}

/// Accepts connections until shutdown; each gets its own thread, collected in `conns`.
pub fn accept_loop(
    listener: TcpListener,
    hub: Arc<Hub>,
    conns: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
) {
    for stream in listener.incoming() {
        if hub.shutting_down() {
            return;
        }
        let Ok(stream) = stream else { continue };
        let hub = Arc::clone(&hub);
        let handle = thread::Builder::new()
            .name("venue-ws-conn".into())
            .spawn(move || serve(stream, &hub));
        if let Ok(h) = handle {
            let mut list = conns.lock().unwrap_or_else(|e| e.into_inner());
            list.retain(|h| !h.is_finished());
            list.push(h);
        }
    }
}

/// Accepts the handshake only on [`PATH`] and [`ws_user::PATH`]; any other path gets 404.
#[allow(
    clippy::result_large_err,
    reason = "tungstenite's handshake callback type fixes the error type"
)]
fn check_path(req: &Request, resp: Response) -> Result<Response, ErrorResponse> {
    if [PATH, ws_user::PATH].contains(&req.uri().path()) {
        return Ok(resp);
    }
    let mut err = ErrorResponse::new(Some(format!(
        "no WebSocket channel at {}",
        req.uri().path()
    )));
    *err.status_mut() = StatusCode::NOT_FOUND;
    Err(err)
}

/// Completes the handshake; whether the connection is on the user channel.
#[allow(
    clippy::result_large_err,
    reason = "tungstenite's handshake callback type fixes the error type"
)]
fn handshake(stream: TcpStream) -> Option<(WebSocket<TcpStream>, bool)> {
    let mut user = false;
    let ws = tungstenite::accept_hdr(stream, |req: &Request, resp| {
        user = req.uri().path() == ws_user::PATH;
        check_path(req, resp)
    })
    .ok()?;
    Some((ws, user))
}

fn serve(stream: TcpStream, hub: &Hub) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
    let Some((mut ws, user)) = handshake(stream) else {
        return;
    };
    if ws.get_mut().set_nonblocking(true).is_err() {
        return;
    }
    let (id, rx) = hub.connect();
    Conn {
        ws,
        id,
        hub,
        subscribed: false,
        user,
    }
    .run(&rx);
    hub.disconnect(id);
}

struct Conn<'a> {
    ws: WebSocket<TcpStream>,
    id: u64,
    hub: &'a Hub,
    subscribed: bool,
    /// A user-channel connection (never stalled by market faults).
    user: bool,
}

/// Whether the connection goes on.
enum Next {
    Continue,
    Stop,
}

impl Conn<'_> {
    fn run(mut self, rx: &Receiver<Out>) {
        loop {
            if self.hub.shutting_down() {
                self.close(CloseCode::Away, "venue shutting down");
                return;
            }
            let stalled = !self.user && self.hub.stalled(self.id);
            if let Next::Stop = self.read_all(stalled) {
                return;
            }
            if stalled {
                thread::sleep(OUT_WAIT);
                continue;
            }
            if let Next::Stop = self.write_pending(rx) {
                return;
            }
        }
    }

    /// Handles every frame the client has sent so far.
    fn read_all(&mut self, stalled: bool) -> Next {
        loop {
            match self.ws.read() {
                Ok(Message::Text(text)) => {
                    if let Next::Stop = self.on_text(text.as_str(), stalled) {
                        return Next::Stop;
                    }
                }
                Ok(Message::Close(_)) => {
                    let _ = self.ws.flush();
                    return Next::Stop;
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                    return Next::Continue;
                }
                Err(_) => return Next::Stop,
            }
        }
    }

    fn on_text(&mut self, text: &str, stalled: bool) -> Next {
        if text == "PING" {
            if !self.subscribed {
                self.close(CloseCode::Policy, "PING before subscribe");
                return Next::Stop;
            }
            if !stalled {
                return self.send(Message::text("PONG"));
            }
            return Next::Continue;
        }
        if self.user {
            return match ws_user::on_text(self.hub, self.id, text) {
                Ok(Handled::Subscribed) => {
                    self.subscribed = true;
                    Next::Continue
                }
                Ok(Handled::Ignored) => Next::Continue,
                Err(reason) => {
                    self.close(CloseCode::Policy, reason);
                    Next::Stop
                }
            };
        }
        let Ok(sub) = serde_json::from_str::<Subscription>(text) else {
            return Next::Continue;
        };
        if sub.operation.as_deref() == Some("unsubscribe") {
            self.hub.unsubscribe(self.id, &sub.assets_ids);
        } else {
            self.subscribed = true;
            let dump = sub.initial_dump.unwrap_or(true);
            self.hub
                .subscribe(self.id, &sub.assets_ids, dump, sub.custom_feature_enabled);
        }
        Next::Continue
    }

    /// Waits briefly for published frames and writes what has arrived.
    fn write_pending(&mut self, rx: &Receiver<Out>) -> Next {
        let first = match rx.recv_timeout(OUT_WAIT) {
            Ok(out) => out,
            Err(RecvTimeoutError::Timeout) => return self.flush(),
            Err(RecvTimeoutError::Disconnected) => return Next::Stop,
        };
        for out in std::iter::once(first).chain(rx.try_iter().take(OUT_BATCH)) {
            match out {
                Out::Text(text) => {
                    if let Next::Stop = self.write(Message::Text(text)) {
                        return Next::Stop;
                    }
                    self.hub
                        .counters
                        .frames_sent
                        .fetch_add(1, Ordering::Relaxed);
                }
                Out::Disconnect => {
                    let _ = self.flush();
                    let _ = self.ws.get_mut().shutdown(Shutdown::Both);
                    return Next::Stop;
                }
            }
        }
        self.flush()
    }

    fn send(&mut self, msg: Message) -> Next {
        match self.write(msg) {
            Next::Continue => self.flush(),
            Next::Stop => Next::Stop,
        }
    }

    /// Queues a frame; a full socket buffer only defers it (tungstenite keeps it buffered).
    fn write(&mut self, msg: Message) -> Next {
        settle(self.ws.write(msg))
    }

    fn flush(&mut self) -> Next {
        settle(self.ws.flush())
    }

    /// Sends a close frame and gives the client a moment to answer it.
    fn close(&mut self, code: CloseCode, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: reason.to_string().into(),
        };
        let _ = self.ws.close(Some(frame));
        for _ in 0..100 {
            match self.ws.read() {
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                    thread::sleep(OUT_WAIT);
                }
                Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

fn settle(result: tungstenite::Result<()>) -> Next {
    match result {
        Ok(()) => Next::Continue,
        Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Next::Continue,
        Err(_) => Next::Stop,
    }
}
