//! The user-channel feed: our order updates and fills from `/ws/user` as fixed-size
//! [`UserEvent`]s, delivered to the execution thread through their own SPSC ring.
//!
//! The feed thread subscribes with our API credentials, keeps the connection alive with `PING`
//! (the venue answers `PONG`), replaces a connection that falls silent, reconnects with jittered
//! exponential backoff and says so with `Disconnected` / `Connected`. Events are never dropped:
//! when the ring is full the thread waits for room (counted in `ring_full`).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};
use tungstenite::Message;

use crate::adapters::polymarket::decode::UserDecoder;
use crate::adapters::polymarket::transport::{self, Socket, send_text, would_block};
use crate::adapters::polymarket::ws_market::Backoff;
use crate::bot::idle::Idler;
use crate::bot::metrics::FeedCounters;
use crate::domain::intents::Liquidity;
use crate::domain::markets::Registry;
use crate::domain::num::{AssetIdx, Px, Qty, Side};

/// A venue order id: the EIP-712 hash of the signed order (`0x` + 64 hex digits on the wire).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderHash(pub [u8; 32]);

impl OrderHash {
    /// Parses `0x` followed by exactly 64 hex digits (either case); anything else is `None`.
    pub fn parse(text: &[u8]) -> Option<OrderHash> {
        let digits = text.strip_prefix(b"0x")?;
        if digits.len() != 64 {
            return None;
        }
        let mut hash = [0u8; 32];
        for (byte, pair) in hash.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Some(OrderHash(hash))
    }
}

/// The value of one hex digit.
fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// What an order message reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderEventKind {
    /// The order rests on the book (`PLACEMENT`).
    Placement,
    /// Part of it matched: `size_matched` grew (`UPDATE`).
    Update,
    /// It is off the book: cancelled by us or the venue, or an FOK/FAK remainder killed
    /// (`CANCELLATION`).
    Cancellation,
}

/// One of our orders changed (`event_type: "order"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserOrder {
    /// Placement, update or cancellation.
    pub kind: OrderEventKind,
    /// The order.
    pub order_id: OrderHash,
    /// Its outcome token.
    pub asset: AssetIdx,
    /// Buy or sell.
    pub side: Side,
    /// Its limit price.
    pub px: Px,
    /// Its size when placed.
    pub original_size: Qty,
    /// Shares matched so far (an empty string on the wire counts as none).
    pub size_matched: Qty,
    /// The venue's timestamp, Unix milliseconds (0 if absent).
    pub ts_ms: u64,
}

/// Where a trade is in its settlement: `Matched → Mined → Confirmed`, or `Retrying → Failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TradeStatus {
    /// Matched by the venue: counts for inventory.
    Matched,
    /// Included in a block.
    Mined,
    /// Final on chain: settled.
    Confirmed,
    /// The transaction failed and the venue retries it.
    Retrying,
    /// Given up: the trade is reversed.
    Failed,
}

impl TradeStatus {
    /// A status as the venue writes it (`MATCHED`, `MINED`, `CONFIRMED`, `RETRYING`, `FAILED`,
    /// any case), on the user channel and in REST trades alike.
    pub fn parse(text: &str) -> Option<TradeStatus> {
        [
            ("MATCHED", TradeStatus::Matched),
            ("MINED", TradeStatus::Mined),
            ("CONFIRMED", TradeStatus::Confirmed),
            ("RETRYING", TradeStatus::Retrying),
            ("FAILED", TradeStatus::Failed),
        ]
        .into_iter()
        .find_map(|(name, status)| text.eq_ignore_ascii_case(name).then_some(status))
    }
}

/// One of our orders' part in a trade (`event_type: "trade"`): a trade yields one fill per order
/// of ours in it, each repeated as its status advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserFill {
    /// xxh3-128 of the venue's trade id string: with `order_id`, the key that dedupes statuses.
    pub trade_id: u128,
    /// The trade's settlement status.
    pub status: TradeStatus,
    /// Our order.
    pub order_id: OrderHash,
    /// The outcome token our order trades.
    pub asset: AssetIdx,
    /// Our order's side.
    pub side: Side,
    /// The price our order filled at.
    pub px: Px,
    /// Shares of our order filled by this trade.
    pub qty: Qty,
    /// The fee rate the venue applied, in basis points (0 if absent).
    pub fee_rate_bps: u16,
    /// Whether our order took (`taker_order_id`) or made (a `maker_orders` entry).
    pub liquidity: Liquidity,
    /// The venue's timestamp, Unix milliseconds (0 if absent).
    pub ts_ms: u64,
}

/// What the user feed hands the execution thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserEvent {
    /// An order of ours was placed, partly matched or taken off the book.
    Order(UserOrder),
    /// An order of ours took part in a trade.
    Fill(UserFill),
    /// The feed (re)subscribed: events missed while it was away are not replayed, so the order
    /// manager reconciles against REST now.
    Connected,
    /// The connection was lost; `Connected` follows once it is back.
    Disconnected,
}

/// The authenticated subscribe frame and the API key it names. `Debug` shows the key only.
#[derive(Clone)]
pub struct Subscription {
    api_key: String,
    frame: String,
}

impl Subscription {
    /// `{"auth":{"apiKey","secret","passphrase"},"type":"user","operation":"subscribe",
    /// "markets":[condition ids],"assets_ids":[],"initial_dump":true}`, the official client's shape.
    pub fn new(api_key: &str, secret: &str, passphrase: &str, markets: &[&str]) -> Subscription {
        let frame = serde_json::json!({
            "auth": {"apiKey": api_key, "secret": secret, "passphrase": passphrase},
            "type": "user",
            "operation": "subscribe",
            "markets": markets,
            "assets_ids": [],
            "initial_dump": true,
        })
        .to_string();
        Subscription {
            api_key: api_key.to_owned(),
            frame,
        }
    }

    /// The API key our orders carry as `owner`.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("api_key", &self.api_key)
            .field("frame", &"<redacted>")
            .finish()
    }
}

/// What the user feed thread needs, taken from the settings and the secrets.
#[derive(Clone, Debug)]
pub struct UserFeedParams {
    /// `ws://` or `wss://` URL of the user channel.
    pub url: String,
    /// Credentials and markets to subscribe.
    pub subscription: Subscription,
    /// Interval between `PING`s.
    pub ping_interval: Duration,
    /// A connection that has not been heard from for this long is replaced.
    pub stall_timeout: Duration,
    /// Deadline for opening a connection.
    pub connect_timeout: Duration,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// TLS configuration for `wss://` URLs.
    pub tls: Arc<rustls::ClientConfig>,
}

/// Everything the user feed thread owns.
pub struct UserFeed {
    params: UserFeedParams,
    registry: Arc<Registry>,
    socket: Option<Socket>,
    poll: Poll,
    poll_events: Events,
    decoder: UserDecoder,
    scratch: Vec<UserEvent>,
    ring: rtrb::Producer<UserEvent>,
    counters: Arc<FeedCounters>,
    rng: fastrand::Rng,
    connected_before: bool,
    attempt: u32,
    retry_at: Instant,
    last_heard: Instant,
    last_ping: Instant,
}

impl UserFeed {
    /// A feed that decodes against `registry` and hands its events to `ring`.
    pub fn new(
        params: UserFeedParams,
        registry: Arc<Registry>,
        ring: rtrb::Producer<UserEvent>,
        counters: Arc<FeedCounters>,
    ) -> std::io::Result<UserFeed> {
        let now = Instant::now();
        Ok(UserFeed {
            decoder: UserDecoder::new(params.subscription.api_key()),
            params,
            registry,
            socket: None,
            poll: Poll::new()?,
            poll_events: Events::with_capacity(8),
            scratch: Vec::with_capacity(256),
            ring,
            counters,
            rng: fastrand::Rng::new(),
            connected_before: false,
            attempt: 0,
            retry_at: now,
            last_heard: now,
            last_ping: now,
        })
    }

    /// Runs until `stop` is set, idling between polls as `idler` says.
    pub fn run(mut self, stop: &AtomicBool, mut idler: Idler) {
        while !stop.load(Ordering::Relaxed) {
            if self.service(Instant::now(), stop) {
                idler.reset();
            } else {
                idler.idle_on(&mut self.poll, &mut self.poll_events);
            }
        }
        self.drop_connection("stopping", stop);
    }

    /// Connects when due, reads everything available, keeps the connection alive and checks
    /// for a stall. Returns whether it did any work.
    fn service(&mut self, now: Instant, stop: &AtomicBool) -> bool {
        if self.socket.is_none() {
            if now >= self.retry_at {
                self.open(now, stop);
                return true;
            }
            return false;
        }
        let busy = self.read_all(now, stop);
        if self.socket.is_none() {
            return true;
        }
        if now.duration_since(self.last_heard) > self.params.stall_timeout {
            FeedCounters::inc(&self.counters.stalls);
            tracing::warn!("user feed stalled; reconnecting");
            self.drop_connection("stall", stop);
            return true;
        }
        if now.duration_since(self.last_ping) >= self.params.ping_interval {
            self.last_ping = now;
            if let Some(socket) = self.socket.as_mut()
                && send_text(socket, "PING").is_err()
            {
                self.drop_connection("ping failed", stop);
                return true;
            }
        }
        busy
    }

    fn open(&mut self, now: Instant, stop: &AtomicBool) {
        let mut socket = match transport::connect(
            &self.params.url,
            self.params.connect_timeout,
            &self.poll,
            Token(0),
            &self.params.tls,
        ) {
            Ok(socket) => socket,
            Err(e) => {
                tracing::warn!(error = %e, "user feed connect failed");
                self.schedule_retry(now);
                return;
            }
        };
        if let Err(e) = send_text(&mut socket, self.params.subscription.frame.as_str()) {
            tracing::warn!(error = %e, "user feed subscribe failed");
            transport::close(&mut socket, &self.poll);
            self.schedule_retry(now);
            return;
        }
        if self.connected_before {
            FeedCounters::inc(&self.counters.reconnects);
        }
        self.connected_before = true;
        self.attempt = 0;
        self.last_heard = now;
        self.last_ping = now;
        self.socket = Some(socket);
        tracing::info!("user feed subscribed");
        deliver(
            &mut self.ring,
            &[UserEvent::Connected],
            &self.counters,
            stop,
        );
    }

    fn schedule_retry(&mut self, now: Instant) {
        self.attempt = self.attempt.saturating_add(1);
        self.retry_at = now + self.params.backoff.delay(self.attempt, self.rng.f64());
    }

    /// Closes the connection, says so on the ring and schedules a reconnect.
    fn drop_connection(&mut self, why: &str, stop: &AtomicBool) {
        let Some(mut socket) = self.socket.take() else {
            return;
        };
        tracing::info!(why, "user feed connection closed");
        transport::close(&mut socket, &self.poll);
        let _ = socket.close(None);
        let _ = socket.flush();
        deliver(
            &mut self.ring,
            &[UserEvent::Disconnected],
            &self.counters,
            stop,
        );
        self.schedule_retry(Instant::now());
    }

    /// Reads every frame available. Returns whether any arrived.
    fn read_all(&mut self, now: Instant, stop: &AtomicBool) -> bool {
        let mut any = false;
        loop {
            let Some(socket) = self.socket.as_mut() else {
                return any;
            };
            let message = match socket.read() {
                Ok(m) => m,
                Err(e) if would_block(&e) => {
                    if let Err(e) = socket.flush()
                        && !would_block(&e)
                    {
                        self.drop_connection("write failed", stop);
                    }
                    return any;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "user feed read failed");
                    self.drop_connection("read failed", stop);
                    return true;
                }
            };
            any = true;
            self.last_heard = now;
            match message {
                Message::Text(text) => self.on_frame(text.as_bytes(), stop),
                Message::Binary(bytes) => self.on_frame(&bytes, stop),
                Message::Close(_) => {
                    self.drop_connection("closed by venue", stop);
                    return true;
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    fn on_frame(&mut self, frame: &[u8], stop: &AtomicBool) {
        FeedCounters::inc(&self.counters.frames);
        self.scratch.clear();
        match self
            .decoder
            .decode(frame, &self.registry, &mut self.scratch)
        {
            Ok(outcome) => {
                let unknown = outcome.unknown_events + outcome.unknown_assets;
                FeedCounters::add(&self.counters.unknown_events, u64::from(unknown));
                if outcome.pong {
                    FeedCounters::inc(&self.counters.pongs);
                }
            }
            Err(e) => {
                FeedCounters::inc(&self.counters.decode_errors);
                tracing::warn!(error = %e, "undecodable user frame");
            }
        }
        deliver(&mut self.ring, &self.scratch, &self.counters, stop);
    }
}

/// Pushes `events` in order, waiting for room while the ring is full (one `ring_full` count per
/// wait). Gives up only when `stop` is set, since the consumer may be gone by then.
fn deliver(
    ring: &mut rtrb::Producer<UserEvent>,
    events: &[UserEvent],
    counters: &FeedCounters,
    stop: &AtomicBool,
) {
    for &event in events {
        let mut waited = false;
        while ring.push(event).is_err() {
            if !waited {
                FeedCounters::inc(&counters.ring_full);
                waited = true;
            }
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::yield_now();
        }
        FeedCounters::inc(&counters.events);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_hashes_need_0x_and_exactly_64_hex_digits() {
        let hex = "00ff".repeat(16);
        let mut expected = [0u8; 32];
        for pair in expected.chunks_exact_mut(2) {
            pair[1] = 0xff;
        }
        assert_eq!(
            OrderHash::parse(format!("0x{hex}").as_bytes()),
            Some(OrderHash(expected))
        );
        assert_eq!(
            OrderHash::parse(format!("0x{}", hex.to_uppercase()).as_bytes()),
            Some(OrderHash(expected))
        );
        assert_eq!(OrderHash::parse(hex.as_bytes()), None);
        assert_eq!(OrderHash::parse(format!("0x{hex}12").as_bytes()), None);
        assert_eq!(
            OrderHash::parse(format!("0x{}", &hex[2..]).as_bytes()),
            None
        );
        assert_eq!(
            OrderHash::parse(format!("0x{}zz", &hex[2..]).as_bytes()),
            None
        );
    }

    #[test]
    fn subscription_debug_never_shows_the_secret() {
        let sub = Subscription::new("key-1", "s3cr3t", "pa55", &["0xdd"]);
        let shown = format!("{sub:?}");
        assert!(shown.contains("key-1"), "{shown}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("pa55"),
            "{shown}"
        );
    }

    #[test]
    fn a_user_event_fits_a_small_ring_slot() {
        assert!(std::mem::size_of::<UserEvent>() <= 96);
    }
}
