//! The market-channel feed thread: keeps one WebSocket per shard of assets subscribed, decodes
//! every frame into events and hands each message to the strategy thread through its SPSC ring.
//!
//! It answers for the stream's integrity: `PING` keepalives, a stall deadline, reconnects with
//! jittered exponential backoff, resubscription with `initial_dump`, `Stale` marks so the core
//! distrusts books between a reset and their next snapshot, single-asset resyncs on request, and a
//! REST backfill when a snapshot does not come. A message is pushed whole or not at all; a
//! message that cannot be delivered marks its books stale and resyncs them, so market data is
//! never lost silently.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam::channel::Sender;
use mio::{Events, Poll, Token};
use tungstenite::Message;

use crate::adapters::polymarket::decode::MarketDecoder;
use crate::adapters::polymarket::transport::{self, Socket, send_text, would_block};
use crate::bot::clock::Clock;
use crate::bot::idle::Idler;
use crate::bot::metrics::FeedCounters;
use crate::domain::events::{Event, EventBody, StaleReason};
use crate::domain::markets::Registry;
use crate::domain::num::AssetIdx;

/// Jittered exponential backoff between reconnect attempts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub initial: Duration,
    /// Upper bound on the delay.
    pub max: Duration,
    /// Fraction of the delay drawn at random (0.2 = ±20 %).
    pub jitter: f64,
}

impl Backoff {
    /// The delay before attempt `attempt` (1 = first retry); `unit` is a uniform draw in [0, 1).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let exp = self
            .initial
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let base = exp.min(self.max).as_secs_f64();
        let jittered = base * (1.0 + self.jitter * (2.0 * unit - 1.0));
        Duration::from_secs_f64(jittered.max(0.0))
    }
}

/// What the feed thread needs to know, taken from the settings.
#[derive(Clone, Debug)]
pub struct MarketFeedParams {
    /// `ws://` or `wss://` URL of the market channel.
    pub url: String,
    /// Assets per connection.
    pub max_assets_per_connection: usize,
    /// Interval between `PING`s.
    pub ping_interval: Duration,
    /// A connection that has not been heard from for this long is replaced.
    pub stall_timeout: Duration,
    /// How long to wait for a snapshot before asking REST for it.
    pub snapshot_timeout: Duration,
    /// Deadline for opening a connection.
    pub connect_timeout: Duration,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// How long to keep retrying a push into a full ring before giving the message up.
    pub ring_full_spin: Duration,
    /// TLS configuration for `wss://` URLs.
    pub tls: Arc<rustls::ClientConfig>,
}

/// Requests from the strategy thread to the feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedCommand {
    /// Fetch a fresh snapshot of this asset.
    Resync(AssetIdx),
}

/// One connection and the assets it carries.
struct Shard {
    assets: Vec<AssetIdx>,
    socket: Option<Socket>,
    connected_before: bool,
    attempt: u32,
    retry_at: Instant,
    last_heard: Instant,
    last_ping: Instant,
    /// Assets whose snapshot is awaited, with the deadline for the REST fallback.
    awaiting: Vec<(AssetIdx, Instant)>,
}

/// Everything the feed thread owns.
pub struct MarketFeed {
    params: MarketFeedParams,
    registry: Arc<Registry>,
    shards: Vec<Shard>,
    shard_of: Vec<u32>,
    poll: Poll,
    poll_events: Events,
    decoder: MarketDecoder,
    scratch: Vec<Event>,
    /// Assets whose messages the ring could not take, reused per frame.
    undelivered: Vec<AssetIdx>,
    ring: RingWriter,
    commands: rtrb::Consumer<FeedCommand>,
    backfill: Sender<AssetIdx>,
    counters: Arc<FeedCounters>,
    clock: Clock,
    rng: fastrand::Rng,
}

impl MarketFeed {
    /// A feed for every asset of `registry`, sharded by `max_assets_per_connection`.
    pub fn new(
        params: MarketFeedParams,
        registry: Arc<Registry>,
        ring: rtrb::Producer<Event>,
        commands: rtrb::Consumer<FeedCommand>,
        backfill: Sender<AssetIdx>,
        counters: Arc<FeedCounters>,
        clock: Clock,
    ) -> std::io::Result<MarketFeed> {
        let now = Instant::now();
        let all: Vec<AssetIdx> = registry.assets().map(|(a, _)| a).collect();
        let per = params.max_assets_per_connection.max(1);
        let mut shard_of = vec![0u32; all.len()];
        let shards: Vec<Shard> = all
            .chunks(per)
            .enumerate()
            .map(|(i, assets)| {
                assets
                    .iter()
                    .for_each(|a| shard_of[a.0 as usize] = i as u32);
                Shard {
                    assets: assets.to_vec(),
                    socket: None,
                    connected_before: false,
                    attempt: 0,
                    retry_at: now,
                    last_heard: now,
                    last_ping: now,
                    awaiting: Vec::with_capacity(assets.len()),
                }
            })
            .collect();
        let n = all.len();
        Ok(MarketFeed {
            params,
            registry,
            shards,
            shard_of,
            poll: Poll::new()?,
            poll_events: Events::with_capacity(64),
            decoder: MarketDecoder::new(),
            scratch: Vec::with_capacity(4096),
            undelivered: Vec::with_capacity(n),
            ring: RingWriter::new(ring, n),
            commands,
            backfill,
            counters,
            clock,
            rng: fastrand::Rng::new(),
        })
    }

    /// Runs until `stop` is set, idling between polls as `idler` says.
    pub fn run(mut self, stop: &AtomicBool, mut idler: Idler) {
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            let mut busy = self.handle_commands(now);
            for i in 0..self.shards.len() {
                busy |= self.service_shard(i, now);
            }
            busy |= self.ring.flush_stale(&self.counters);
            if busy {
                idler.reset();
            } else {
                idler.idle_on(&mut self.poll, &mut self.poll_events);
            }
        }
        for i in 0..self.shards.len() {
            self.drop_connection(i, "stopping");
        }
    }

    fn handle_commands(&mut self, now: Instant) -> bool {
        let mut any = false;
        while let Ok(FeedCommand::Resync(asset)) = self.commands.pop() {
            any = true;
            self.resync(asset, now);
        }
        any
    }

    /// Services one shard: connect when due, read everything available, keepalive, deadlines.
    /// Returns whether it did any work.
    fn service_shard(&mut self, i: usize, now: Instant) -> bool {
        if self.shards[i].socket.is_none() {
            if now >= self.shards[i].retry_at {
                self.open(i, now);
                return true;
            }
            return false;
        }
        let busy = self.read_all(i, now);
        let shard = &mut self.shards[i];
        if shard.socket.is_none() {
            return true;
        }
        if now.duration_since(shard.last_heard) > self.params.stall_timeout {
            FeedCounters::inc(&self.counters.stalls);
            tracing::warn!(shard = i, "market feed stalled; reconnecting");
            self.drop_connection(i, "stall");
            return true;
        }
        if now.duration_since(shard.last_ping) >= self.params.ping_interval {
            shard.last_ping = now;
            if let Some(socket) = shard.socket.as_mut()
                && send_text(socket, "PING").is_err()
            {
                self.drop_connection(i, "ping failed");
                return true;
            }
        }
        self.backfill_overdue(i, now);
        busy
    }

    fn open(&mut self, i: usize, now: Instant) {
        let token = Token(i);
        match transport::connect(
            &self.params.url,
            self.params.connect_timeout,
            &self.poll,
            token,
            &self.params.tls,
        ) {
            Ok(mut socket) => {
                let shard = &mut self.shards[i];
                let frame = subscribe_frame(&self.registry, &shard.assets);
                if let Err(e) = send_text(&mut socket, frame) {
                    tracing::warn!(shard = i, error = %e, "subscribe failed");
                    transport::close(&mut socket, &self.poll);
                    self.schedule_retry(i, now);
                    return;
                }
                if shard.connected_before {
                    FeedCounters::inc(&self.counters.reconnects);
                }
                shard.connected_before = true;
                shard.attempt = 0;
                shard.last_heard = now;
                shard.last_ping = now;
                let deadline = now + self.params.snapshot_timeout;
                shard.awaiting.clear();
                shard
                    .awaiting
                    .extend(shard.assets.iter().map(|&a| (a, deadline)));
                shard.socket = Some(socket);
                tracing::info!(
                    shard = i,
                    assets = shard.assets.len(),
                    "market feed subscribed"
                );
            }
            Err(e) => {
                tracing::warn!(shard = i, error = %e, "market feed connect failed");
                self.schedule_retry(i, now);
            }
        }
    }

    fn schedule_retry(&mut self, i: usize, now: Instant) {
        let shard = &mut self.shards[i];
        shard.attempt = shard.attempt.saturating_add(1);
        shard.retry_at = now + self.params.backoff.delay(shard.attempt, self.rng.f64());
    }

    /// Closes a shard's connection, marks its books stale and schedules a reconnect.
    fn drop_connection(&mut self, i: usize, why: &str) {
        let Some(mut socket) = self.shards[i].socket.take() else {
            return;
        };
        tracing::info!(shard = i, why, "market feed connection closed");
        transport::close(&mut socket, &self.poll);
        let _ = socket.close(None);
        let _ = socket.flush();
        for &asset in &self.shards[i].assets {
            self.ring.mark_stale(asset, StaleReason::FeedReset);
        }
        self.shards[i].awaiting.clear();
        self.schedule_retry(i, Instant::now());
    }

    /// Reads every frame available on shard `i`. Returns whether any arrived.
    fn read_all(&mut self, i: usize, now: Instant) -> bool {
        let mut any = false;
        loop {
            let Some(socket) = self.shards[i].socket.as_mut() else {
                return any;
            };
            let message = match socket.read() {
                Ok(m) => m,
                Err(e) if would_block(&e) => {
                    if let Err(e) = socket.flush()
                        && !would_block(&e)
                    {
                        self.drop_connection(i, "write failed");
                    }
                    return any;
                }
                Err(e) => {
                    tracing::warn!(shard = i, error = %e, "market feed read failed");
                    self.drop_connection(i, "read failed");
                    return true;
                }
            };
            let t_rx = self.clock.raw();
            any = true;
            self.shards[i].last_heard = now;
            match message {
                Message::Text(text) => self.on_frame(i, text.as_bytes(), t_rx, now),
                Message::Binary(bytes) => self.on_frame(i, &bytes, t_rx, now),
                Message::Close(_) => {
                    self.drop_connection(i, "closed by venue");
                    return true;
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    fn on_frame(&mut self, i: usize, frame: &[u8], t_rx: u64, now: Instant) {
        FeedCounters::inc(&self.counters.frames);
        self.scratch.clear();
        match self
            .decoder
            .decode(frame, &self.registry, &mut self.scratch)
        {
            Ok(outcome) => {
                FeedCounters::add(&self.counters.events, u64::from(outcome.events));
                FeedCounters::add(
                    &self.counters.unknown_events,
                    u64::from(outcome.unknown_events),
                );
                if outcome.pong {
                    FeedCounters::inc(&self.counters.pongs);
                }
            }
            Err(e) => {
                FeedCounters::inc(&self.counters.decode_errors);
                tracing::warn!(shard = i, error = %e, "undecodable market frame");
            }
        }
        if self.scratch.is_empty() {
            return;
        }
        let shard = &mut self.shards[i];
        if !shard.awaiting.is_empty() {
            for event in &self.scratch {
                if let EventBody::BookSnapshot { asset } = event.body {
                    shard.awaiting.retain(|&(a, _)| a != asset);
                }
            }
        }
        for event in &mut self.scratch {
            event.t_rx = t_rx;
        }
        self.undelivered.clear();
        self.ring.publish_frame(
            &mut self.scratch,
            &self.clock,
            self.params.ring_full_spin,
            &self.counters,
            &mut self.undelivered,
        );
        for k in 0..self.undelivered.len() {
            self.resync(self.undelivered[k], now);
        }
    }

    /// Asks the venue for a fresh snapshot of `asset` on its connection.
    fn resync(&mut self, asset: AssetIdx, now: Instant) {
        let Some(&shard_index) = self.shard_of.get(asset.0 as usize) else {
            return;
        };
        let shard = &mut self.shards[shard_index as usize];
        let Some(socket) = shard.socket.as_mut() else {
            // A reconnect will bring every snapshot of the shard.
            return;
        };
        if shard.awaiting.iter().any(|&(a, _)| a == asset) {
            return;
        }
        FeedCounters::inc(&self.counters.resyncs);
        let frame = subscribe_frame(&self.registry, &[asset]);
        if send_text(socket, frame).is_err() {
            self.drop_connection(shard_index as usize, "resubscribe failed");
            return;
        }
        shard
            .awaiting
            .push((asset, now + self.params.snapshot_timeout));
    }

    /// Hands assets whose snapshot is overdue to the REST backfill thread.
    fn backfill_overdue(&mut self, i: usize, now: Instant) {
        let shard = &mut self.shards[i];
        let backfill = &self.backfill;
        let counters = &self.counters;
        shard.awaiting.retain(|&(asset, deadline)| {
            if now < deadline {
                return true;
            }
            FeedCounters::inc(&counters.backfills);
            let _ = backfill.try_send(asset);
            false
        });
    }
}

/// The length of the first message in `events` (through its `MessageEnd`), if it is closed.
fn message_end(events: &[Event]) -> Option<usize> {
    events
        .iter()
        .position(|e| matches!(e.body, EventBody::MessageEnd))
        .map(|i| i + 1)
}

/// The asset an event is about, if any.
pub fn event_asset(body: &EventBody) -> Option<AssetIdx> {
    match *body {
        EventBody::BookSnapshot { asset }
        | EventBody::Level { asset, .. }
        | EventBody::BestCheck { asset, .. }
        | EventBody::TickSize { asset, .. }
        | EventBody::LastTrade { asset, .. }
        | EventBody::BestBidAsk { asset, .. }
        | EventBody::Resolved { asset, .. }
        | EventBody::Stale { asset, .. } => Some(asset),
        EventBody::NewMarket | EventBody::FeeChange { .. } | EventBody::MessageEnd => None,
    }
}

/// The subscribe frame for `assets`, with the initial snapshot and the custom events on.
pub fn subscribe_frame(registry: &Registry, assets: &[AssetIdx]) -> String {
    let ids: Vec<&str> = assets
        .iter()
        .map(|&a| registry.asset(a).token_id.as_str())
        .collect();
    serde_json::json!({
        "type": "market",
        "operation": "subscribe",
        "markets": [],
        "assets_ids": ids,
        "initial_dump": true,
        "custom_feature_enabled": true,
    })
    .to_string()
}

/// The producer end of a feed's ring, with the books it still owes a `Stale` mark.
pub struct RingWriter {
    ring: rtrb::Producer<Event>,
    pending: Vec<(AssetIdx, StaleReason)>,
    pending_flag: Vec<bool>,
    stale_batch: Vec<Event>,
}

impl RingWriter {
    /// A writer for a universe of `assets` assets; all buffers are sized up front.
    pub fn new(ring: rtrb::Producer<Event>, assets: usize) -> RingWriter {
        RingWriter {
            ring,
            pending: Vec::with_capacity(assets),
            pending_flag: vec![false; assets],
            stale_batch: Vec::with_capacity(assets + 1),
        }
    }

    /// Remembers that `asset`'s book must be marked stale before anything else is delivered.
    pub fn mark_stale(&mut self, asset: AssetIdx, reason: StaleReason) {
        let i = asset.0 as usize;
        if i < self.pending_flag.len() && !self.pending_flag[i] {
            self.pending_flag[i] = true;
            self.pending.push((asset, reason));
        }
    }

    /// Delivers the owed `Stale` marks as one message if the ring has room. Returns whether it
    /// delivered any.
    pub fn flush_stale(&mut self, counters: &FeedCounters) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        self.stale_batch.clear();
        self.stale_batch.extend(
            self.pending
                .iter()
                .map(|&(asset, reason)| Event::new(0, EventBody::Stale { asset, reason })),
        );
        self.stale_batch.push(Event::new(0, EventBody::MessageEnd));
        if self.ring.push_entire_slice(&self.stale_batch).is_err() {
            return false;
        }
        FeedCounters::add(&counters.events, self.stale_batch.len() as u64);
        for (asset, _) in self.pending.drain(..) {
            self.pending_flag[asset.0 as usize] = false;
        }
        true
    }

    /// Pushes one decoded message whole, stamping `t_dec`. If the ring stays full for `spin`,
    /// the message is given up: its books are owed a `Stale` mark and `false` is returned so the
    /// caller resyncs them.
    pub fn publish(
        &mut self,
        events: &mut [Event],
        clock: &Clock,
        spin: Duration,
        counters: &FeedCounters,
    ) -> bool {
        let mut deadline: Option<Instant> = None;
        loop {
            if self.pending.is_empty() || self.flush_stale(counters) {
                let t_dec = clock.raw();
                for event in events.iter_mut() {
                    event.t_dec = t_dec;
                }
                if self.ring.push_entire_slice(events).is_ok() {
                    return true;
                }
            }
            let now = Instant::now();
            match deadline {
                None => deadline = Some(now + spin),
                Some(d) if now >= d => break,
                Some(_) => std::hint::spin_loop(),
            }
        }
        FeedCounters::inc(&counters.ring_full);
        for event in events.iter() {
            if let Some(asset) = event_asset(&event.body) {
                self.mark_stale(asset, StaleReason::RingFull);
            }
        }
        false
    }

    /// Pushes a decoded frame message by message (a frame, such as an initial dump of every
    /// book, may hold more events than the ring; each message fits, as checked at start-up).
    /// The assets of messages given up are appended to `undelivered`, each once.
    pub fn publish_frame(
        &mut self,
        events: &mut [Event],
        clock: &Clock,
        spin: Duration,
        counters: &FeedCounters,
        undelivered: &mut Vec<AssetIdx>,
    ) {
        let mut start = 0;
        while start < events.len() {
            let end = message_end(&events[start..]).map_or(events.len(), |n| start + n);
            let message = &mut events[start..end];
            if !self.publish(message, clock, spin, counters) {
                for asset in message.iter().filter_map(|e| event_asset(&e.body)) {
                    if !undelivered.contains(&asset) {
                        undelivered.push(asset);
                    }
                }
            }
            start = end;
        }
    }

    /// Slots in use, for the occupancy gauge.
    pub fn occupancy(&self) -> usize {
        self.ring.buffer().capacity() - self.ring.slots()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::num::{Px, Qty, Side};

    #[test]
    fn backoff_grows_exponentially_to_its_cap_within_jitter() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
            jitter: 0.2,
        };
        assert_eq!(b.delay(1, 0.5), Duration::from_millis(100));
        assert_eq!(b.delay(3, 0.5), Duration::from_millis(400));
        assert_eq!(b.delay(30, 0.5), Duration::from_secs(5));
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(80));
        assert!(b.delay(1, 0.999) <= Duration::from_millis(120));
    }

    fn level(asset: u32) -> Event {
        Event::new(
            7,
            EventBody::Level {
                asset: AssetIdx(asset),
                side: Side::Buy,
                px: Px(5000),
                qty: Qty(1),
            },
        )
    }

    #[test]
    fn full_ring_gives_up_the_whole_message_and_marks_its_books_stale_first() {
        let (producer, mut consumer) = rtrb::RingBuffer::new(4);
        let mut writer = RingWriter::new(producer, 3);
        let counters = FeedCounters::default();
        let clock = Clock::new();
        let mut msg = [level(0), level(1), Event::new(7, EventBody::MessageEnd)];
        assert!(writer.publish(&mut msg, &clock, Duration::ZERO, &counters));
        let mut second = [level(2), level(2), Event::new(8, EventBody::MessageEnd)];
        assert!(!writer.publish(&mut second, &clock, Duration::ZERO, &counters));
        assert_eq!(counters.ring_full.load(Ordering::Relaxed), 1);
        // Nothing of the second message is in the ring: never half a message.
        assert_eq!(consumer.slots(), 3);
        for _ in 0..3 {
            consumer.pop().unwrap();
        }
        // The next message waits behind the owed stale mark.
        let mut third = [level(0), Event::new(9, EventBody::MessageEnd)];
        assert!(writer.publish(&mut third, &clock, Duration::ZERO, &counters));
        let stale = consumer.pop().unwrap();
        assert_eq!(
            stale.body,
            EventBody::Stale {
                asset: AssetIdx(2),
                reason: StaleReason::RingFull
            }
        );
        assert_eq!(consumer.pop().unwrap().body, EventBody::MessageEnd);
        assert_eq!(consumer.pop().unwrap().body, level(0).body);
    }
}
