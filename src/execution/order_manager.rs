//! The order manager: one state machine per order the execution thread sends, fed by the POST
//! response, the user channel and order lookups, turned into the core's single report stream.
//!
//! Every order moves `New → Sent → Live | Delayed | Matched → Filled | Cancelled | Rejected`,
//! or `Sent → Unknown` when its send timed out, got a 5xx or a reset: the order may exist, so
//! nothing is resent and no terminal report releases its exposure. An `Unknown` order is resolved
//! by any user-channel event for its hash or by a `GET /data/order/{id}` lookup; a lookup sent
//! after the deadline that finds nothing rejects it, and an order still unknown one lookup
//! interval past the deadline is reported `Unresolved` once (the core halts).
//!
//! Reports per order: `Accepted` once, the first time the venue is known to hold the order;
//! `Fill` once per (trade id, order hash) at the first of MATCHED/MINED/CONFIRMED/RETRYING;
//! `FillReversed` once at FAILED if its fill was reported; then exactly one terminal report,
//! `Rejected` or `Done`. `Done` comes after every fill: at a full fill, or once the fills cover
//! the final matched size the venue stated (the POST response of a FOK/FAK order, a
//! cancellation, a lookup).
//!
//! Memory is fixed at start-up: orders live in a ring indexed by `ClientId % capacity` (the core
//! assigns increasing ids), and the fill dedupe remembers the last `FILLS_PER_ORDER × capacity`
//! fills. Nothing on the event paths allocates.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use crate::adapters::polymarket::clob_client::rest::{OrderState, RestOrder};
use crate::adapters::polymarket::clob_client::{PostResult, PostStatus};
use crate::adapters::polymarket::ws_user::{
    OrderEventKind, TradeStatus, UserEvent, UserFill, UserOrder,
};
use crate::domain::fees::FeeSchedule;
use crate::domain::intents::{
    ClientId, ExecKind, ExecReport, Liquidity, PlaceOrder, Tif, VenueReject,
};
use crate::domain::markets::{Registry, TokenHasher};
use crate::domain::num::{MarketIdx, Qty, Side, Usdc};
use crate::domain::positions::Positions;

/// Fill dedupe records kept per order slot.
pub const FILLS_PER_ORDER: usize = 4;

/// Lookups of an unknown order per deadline: one every `deadline / LOOKUPS_PER_DEADLINE`.
pub const LOOKUPS_PER_DEADLINE: u64 = 4;

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Recorded, not yet written to the wire.
    New,
    /// Written; no answer yet.
    Sent,
    /// Resting on the book.
    Live,
    /// Held by the market's matching delay.
    Delayed,
    /// Matched in part or in full; fills may still be arriving.
    Matched,
    /// Fully filled. Terminal.
    Filled,
    /// Cancelled or killed with its remainder unfilled. Terminal.
    Cancelled,
    /// Refused by the venue, or never found. Terminal.
    Rejected,
    /// The send's outcome is unknown (timeout, 5xx, reset): it may exist.
    Unknown,
}

impl OrderStatus {
    /// Progress order: an event never moves an order back to an earlier rank.
    fn rank(self) -> u8 {
        match self {
            OrderStatus::New => 0,
            OrderStatus::Sent | OrderStatus::Unknown => 1,
            OrderStatus::Delayed => 2,
            OrderStatus::Live => 3,
            OrderStatus::Matched => 4,
            OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected => 5,
        }
    }
}

/// An order without a terminal report yet, as [`OrderManager::open_orders`] lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOrder {
    /// The core's id for it.
    pub client_id: ClientId,
    /// Its hash (the venue's order id).
    pub hash: [u8; 32],
    /// Where it stands.
    pub status: OrderStatus,
    /// Whether the venue is known to hold it (`Accepted` was reported).
    pub acknowledged: bool,
}

/// Why an order could not be recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OmError {
    /// The client id was recorded before: sending it again would duplicate the order.
    #[error("client id {} was already used", .0.0)]
    DuplicateClientId(ClientId),
    /// Another recorded order has the same hash: the venue would see the same order twice.
    #[error("client id {}: its order hash is already recorded", .0.0)]
    DuplicateHash(ClientId),
    /// The slot this id maps onto still holds an open order (too many orders open at once).
    #[error("client id {}: no free slot (too many open orders)", .0.0)]
    SlotBusy(ClientId),
    /// The asset is not in the registry.
    #[error("client id {}: asset {} is not registered", .0.0, .1)]
    UnknownAsset(ClientId, u32),
}

/// How a send failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendFailure {
    /// The request may have reached the venue (timeout, 5xx, reset): the order's fate is unknown.
    Unknown,
    /// Refused before taking effect (HTTP 4xx or 429, or the local rate limiter), for this reason.
    Refused(VenueReject),
}

/// What the order manager did, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OmCounters {
    /// Orders written to the wire.
    pub orders_sent: u64,
    /// Orders the venue acknowledged (`Accepted` reports).
    pub acks: u64,
    /// Fills reported.
    pub fills: u64,
    /// Orders rejected.
    pub rejects: u64,
    /// Orders that ended cancelled or killed with a remainder.
    pub cancels: u64,
    /// Unknown orders resolved by an event or a lookup.
    pub unknown_resolved: u64,
    /// Fills whose trade reached CONFIRMED.
    pub settled: u64,
    /// Fills reversed at FAILED.
    pub reversed: u64,
    /// `Unresolved` reports.
    pub unresolved: u64,
    /// Events for order hashes this manager does not hold (other sessions, evicted orders).
    pub foreign_events: u64,
    /// Answers that contradict what is already known (a failed POST for an order the user
    /// channel showed, a send failure after an answer) and were ignored.
    pub contradictions: u64,
}

/// The dedupe key of one fill: one order's part in one trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FillKey {
    trade_id: u128,
    order_id: [u8; 32],
}

/// One fill as reported, kept to dedupe later statuses and to reverse it exactly.
#[derive(Clone, Copy, Debug)]
struct FillRec {
    key: FillKey,
    kind: ExecKind,
    reported: bool,
    settled: bool,
    failed: bool,
}

/// When an order needs a `GET /data/order/{id}`.
#[derive(Clone, Copy, Debug)]
struct Lookup {
    /// When the order started needing one (the send failure, the cancel ack, the miss).
    since_ms: u64,
    /// When the next one is due.
    next_ms: u64,
    /// When the last one was handed out, if any.
    sent_ms: Option<u64>,
}

/// One order's state.
#[derive(Clone, Copy, Debug)]
struct Entry {
    order: PlaceOrder,
    hash: [u8; 32],
    status: OrderStatus,
    /// `Accepted` was reported.
    accepted: bool,
    /// `Rejected` or `Done` was reported.
    terminal: bool,
    /// `Unresolved` was reported.
    unresolved: bool,
    /// Shares reported as fills, never reduced by reversals.
    matched: Qty,
    /// The order's final matched size, once the venue stated it.
    final_matched: Option<Qty>,
    lookup: Option<Lookup>,
}

type Fast<K, V> = HashMap<K, V, BuildHasherDefault<TokenHasher>>;

/// The order manager of the execution thread.
#[derive(Debug)]
pub struct OrderManager {
    slots: Vec<Option<Entry>>,
    by_hash: Fast<[u8; 32], ClientId>,
    /// Slot indices with a lookup pending.
    watch: Vec<u32>,
    fills: Vec<Option<FillRec>>,
    fill_index: Fast<FillKey, u32>,
    next_fill: usize,
    /// Ids below this were evicted from the ring: reusing one is refused.
    evicted_below: u64,
    deadline_ms: u64,
    lookup_every_ms: u64,
    registry: Arc<Registry>,
    /// Per market, the fee schedule fills are priced with (the registry's until it changes).
    fees: Vec<FeeSchedule>,
    /// Shares and cash moved by the fills reported so far (reversals undone): what the venue's
    /// balances should have moved by, for reconciliation.
    ledger: Positions,
    counters: OmCounters,
}

impl OrderManager {
    /// A manager for up to `capacity` open orders (at least 1), resolving unknown orders within
    /// `unknown_deadline_ms`, pricing fees from `registry`. Allocates everything it will use.
    pub fn new(capacity: usize, unknown_deadline_ms: u64, registry: Arc<Registry>) -> Self {
        let capacity = capacity.clamp(1, u32::MAX as usize / (2 * FILLS_PER_ORDER));
        let fills = capacity * FILLS_PER_ORDER;
        OrderManager {
            slots: vec![None; capacity],
            // Twice the most entries ever held: a full table rehashes in place, never grows.
            by_hash: Fast::with_capacity_and_hasher(2 * capacity, Default::default()),
            watch: Vec::with_capacity(capacity),
            fills: vec![None; fills],
            fill_index: Fast::with_capacity_and_hasher(2 * fills, Default::default()),
            next_fill: 0,
            evicted_below: 0,
            deadline_ms: unknown_deadline_ms,
            lookup_every_ms: (unknown_deadline_ms / LOOKUPS_PER_DEADLINE).max(1),
            fees: registry.markets().iter().map(|m| m.fees).collect(),
            ledger: Positions::new(&registry),
            registry,
            counters: OmCounters::default(),
        }
    }

    /// Records an order about to be signed and sent, under its EIP-712 hash. Refuses a client id
    /// or hash seen before, so one intent can never become two orders.
    pub fn on_new(
        &mut self,
        place: &PlaceOrder,
        hash: [u8; 32],
        _now_ms: u64,
    ) -> Result<(), OmError> {
        let id = place.client_id;
        if place.asset.0 as usize >= self.registry.asset_count() {
            return Err(OmError::UnknownAsset(id, place.asset.0));
        }
        if id.0 < self.evicted_below {
            return Err(OmError::DuplicateClientId(id));
        }
        let i = self.slot(id);
        if let Some(old) = &self.slots[i] {
            if old.order.client_id == id {
                return Err(OmError::DuplicateClientId(id));
            }
            if !old.terminal {
                return Err(OmError::SlotBusy(id));
            }
        }
        if self.by_hash.contains_key(&hash) {
            return Err(OmError::DuplicateHash(id));
        }
        if let Some(old) = self.slots[i].take() {
            self.by_hash.remove(&old.hash);
            self.evicted_below = self.evicted_below.max(old.order.client_id.0 + 1);
        }
        self.slots[i] = Some(Entry {
            order: *place,
            hash,
            status: OrderStatus::New,
            accepted: false,
            terminal: false,
            unresolved: false,
            matched: Qty::ZERO,
            final_matched: None,
            lookup: None,
        });
        self.by_hash.insert(hash, id);
        Ok(())
    }

    /// The order was written to the wire.
    pub fn on_sent(&mut self, id: ClientId, _now_ms: u64) {
        if let Some(e) = self.entry_mut(id).filter(|e| e.status == OrderStatus::New) {
            e.status = OrderStatus::Sent;
            self.counters.orders_sent += 1;
        }
    }

    /// Applies the POST response for the order.
    pub fn on_post_result(
        &mut self,
        id: ClientId,
        r: &PostResult,
        now_ms: u64,
        out: &mut Vec<ExecReport>,
    ) {
        let Some(i) = self.index_of(id) else {
            return;
        };
        let e = self.slots[i].as_ref().expect("index_of returns held slots");
        if !r.success {
            if e.accepted || e.terminal {
                self.counters.contradictions += 1;
            } else {
                let reason = r.error.unwrap_or(VenueReject::Other);
                self.reject(i, reason, now_ms, out);
            }
            return;
        }
        if e.terminal {
            return;
        }
        self.heard(i, now_ms, out);
        let e = self.slots[i].as_mut().expect("held");
        let taker = matches!(e.order.tif, Tif::Fok | Tif::Fak);
        match r.status {
            PostStatus::Live => advance(e, OrderStatus::Live),
            PostStatus::Delayed => {
                advance(e, OrderStatus::Delayed);
                if taker {
                    // The matching delay decides the final size; look it up after it.
                    let delay_ms =
                        u64::from(self.registry.market_of(e.order.asset).seconds_delay) * 1000;
                    let due = now_ms + delay_ms + self.lookup_every_ms;
                    self.watch_slot(i, now_ms, due);
                }
            }
            PostStatus::Matched => {
                advance(e, OrderStatus::Matched);
                if taker {
                    set_final(e, matched_shares(r, e.order.side));
                }
            }
            // Placement did not succeed: nothing more will match.
            PostStatus::Unmatched => set_final(e, matched_shares(r, e.order.side)),
        }
        self.try_done(i, now_ms, out);
    }

    /// The send failed. [`SendFailure::Unknown`]: it may have reached the venue (timeout, 5xx,
    /// reset) — the order becomes `Unknown`, keeps its exposure and is looked up;
    /// [`SendFailure::Refused`]: the venue or the rate limiter refused the request as a whole,
    /// so the order is rejected at once with that reason.
    pub fn on_send_failed(
        &mut self,
        id: ClientId,
        failure: SendFailure,
        now_ms: u64,
        out: &mut Vec<ExecReport>,
    ) {
        let Some(i) = self.index_of(id) else {
            return;
        };
        let e = self.slots[i].as_mut().expect("held");
        if e.accepted || e.terminal || !matches!(e.status, OrderStatus::New | OrderStatus::Sent) {
            self.counters.contradictions += 1;
            return;
        }
        match failure {
            SendFailure::Unknown => {
                e.status = OrderStatus::Unknown;
                self.watch_slot(i, now_ms, now_ms + self.lookup_every_ms);
            }
            SendFailure::Refused(reason) => self.reject(i, reason, now_ms, out),
        }
    }

    /// Applies a user-channel event. `Connected` and `Disconnected` change nothing here: after
    /// `Connected` the caller runs [`crate::execution::reconcile::reconcile`].
    pub fn on_user(&mut self, ev: &UserEvent, now_ms: u64, out: &mut Vec<ExecReport>) {
        match ev {
            UserEvent::Order(o) => self.on_user_order(o, now_ms, out),
            UserEvent::Fill(f) => self.on_user_fill(f, now_ms, out),
            UserEvent::Connected | UserEvent::Disconnected => {}
        }
    }

    /// Applies a user-channel order event.
    pub fn on_user_order(&mut self, ev: &UserOrder, now_ms: u64, out: &mut Vec<ExecReport>) {
        let Some(i) = self.index_of_hash(&ev.order_id.0) else {
            return;
        };
        self.heard(i, now_ms, out);
        let e = self.slots[i].as_mut().expect("held");
        match ev.kind {
            OrderEventKind::Placement => advance(e, OrderStatus::Live),
            OrderEventKind::Update => {
                advance(e, OrderStatus::Live);
                if ev.size_matched >= e.order.size {
                    set_final(e, e.order.size);
                }
            }
            OrderEventKind::Cancellation => set_final(e, ev.size_matched),
        }
        self.settle_lookup(i);
        self.try_done(i, now_ms, out);
    }

    /// Applies one of our orders' part in a trade, from the user channel or a REST trade list:
    /// deduplicated by (trade id, order hash), so replays and later statuses never count twice.
    pub fn on_user_fill(&mut self, t: &UserFill, now_ms: u64, out: &mut Vec<ExecReport>) {
        let Some(i) = self.index_of_hash(&t.order_id.0) else {
            return;
        };
        let key = FillKey {
            trade_id: t.trade_id,
            order_id: t.order_id.0,
        };
        let f = match self.fill_index.get(&key) {
            Some(&f) => f as usize,
            None => self.new_fill(i, key, t),
        };
        let order = self.slots[i].as_ref().expect("held").order;
        let id = order.client_id;
        let rec = self.fills[f].as_mut().expect("indexed fills are held");
        if rec.failed {
            return;
        }
        let report = |kind| ExecReport {
            client_id: id,
            ts_ms: now_ms,
            kind,
        };
        match t.status {
            TradeStatus::Failed => {
                rec.failed = true;
                if rec.settled {
                    self.counters.contradictions += 1;
                }
                if let (
                    true,
                    ExecKind::Fill {
                        px,
                        qty,
                        fee,
                        liquidity,
                    },
                ) = (rec.reported && !rec.settled, rec.kind)
                {
                    out.push(report(ExecKind::FillReversed {
                        px,
                        qty,
                        fee,
                        liquidity,
                    }));
                    self.ledger
                        .on_fill_reversed(order.asset, order.side, px, qty, fee);
                    self.counters.reversed += 1;
                }
                return;
            }
            TradeStatus::Confirmed if !rec.settled => {
                rec.settled = true;
                self.counters.settled += 1;
            }
            _ => {}
        }
        if rec.reported {
            return;
        }
        rec.reported = true;
        let kind = rec.kind;
        if let ExecKind::Fill { px, qty, fee, .. } = kind {
            self.ledger.on_fill(order.asset, order.side, px, qty, fee);
        }
        self.heard(i, now_ms, out);
        out.push(report(kind));
        self.counters.fills += 1;
        let e = self.slots[i].as_mut().expect("held");
        e.matched = Qty(e.matched.0 + t.qty.0);
        advance(e, OrderStatus::Matched);
        self.try_done(i, now_ms, out);
    }

    /// Applies the answer to a lookup: `found` is what the venue holds under the order's hash,
    /// `None` when it holds nothing.
    pub fn on_lookup(
        &mut self,
        id: ClientId,
        found: Option<&RestOrder>,
        now_ms: u64,
        out: &mut Vec<ExecReport>,
    ) {
        let Some(i) = self.index_of(id) else {
            return;
        };
        let e = self.slots[i].as_ref().expect("held");
        if e.terminal {
            return;
        }
        let Some(r) = found else {
            if e.accepted {
                // Acknowledged once, gone now: whatever matched is all it will ever match.
                let matched = e.matched;
                set_final(self.slots[i].as_mut().expect("held"), matched);
                self.settle_lookup(i);
                self.try_done(i, now_ms, out);
                return;
            }
            let past_deadline = e.lookup.is_some_and(|l| {
                l.sent_ms
                    .is_some_and(|s| s >= l.since_ms + self.deadline_ms)
            });
            if e.status == OrderStatus::Unknown && past_deadline {
                self.counters.unknown_resolved += 1;
                self.reject(i, VenueReject::Other, now_ms, out);
            }
            return;
        };
        self.heard(i, now_ms, out);
        let e = self.slots[i].as_mut().expect("held");
        match r.state {
            OrderState::Live => advance(e, OrderStatus::Live),
            OrderState::Delayed => advance(e, OrderStatus::Delayed),
            OrderState::Matched if e.order.tif == Tif::Gtc && r.size_matched < e.order.size => {
                advance(e, OrderStatus::Live);
            }
            OrderState::Matched | OrderState::Unmatched | OrderState::Cancelled => {
                set_final(e, r.size_matched);
            }
        }
        if e.status != OrderStatus::Delayed {
            self.settle_lookup(i);
        }
        self.try_done(i, now_ms, out);
    }

    /// Asks for a lookup of an open order now (reconciliation found it missing at the venue).
    pub fn request_lookup(&mut self, id: ClientId, now_ms: u64) {
        if let Some(i) = self
            .index_of(id)
            .filter(|&i| !self.slots[i].as_ref().expect("held").terminal)
        {
            self.watch_slot(i, now_ms, now_ms);
        }
    }

    /// Appends the orders due a `GET /data/order/{id}` now, with their hashes, and schedules
    /// their next one.
    pub fn due_lookups(&mut self, now_ms: u64, out: &mut Vec<(ClientId, [u8; 32])>) {
        for &i in &self.watch {
            let e = self.slots[i as usize]
                .as_mut()
                .expect("watched slots are held");
            let l = e.lookup.as_mut().expect("watched slots have a lookup");
            if l.next_ms <= now_ms {
                l.sent_ms = Some(now_ms);
                l.next_ms = now_ms + self.lookup_every_ms;
                out.push((e.order.client_id, e.hash));
            }
        }
    }

    /// Reports `Unresolved`, once per order, for unknown orders one lookup interval past their
    /// deadline (the lookup sent at the deadline had that long to answer).
    pub fn check_deadlines(&mut self, now_ms: u64, out: &mut Vec<ExecReport>) {
        for &i in &self.watch {
            let e = self.slots[i as usize]
                .as_mut()
                .expect("watched slots are held");
            let since = e.lookup.expect("watched slots have a lookup").since_ms;
            let late = now_ms >= since + self.deadline_ms + self.lookup_every_ms;
            if e.status == OrderStatus::Unknown && !e.unresolved && late {
                e.unresolved = true;
                self.counters.unresolved += 1;
                out.push(ExecReport {
                    client_id: e.order.client_id,
                    ts_ms: now_ms,
                    kind: ExecKind::Unresolved,
                });
            }
        }
    }

    /// The venue changed `market`'s fees: fills from now on are priced with `fees`.
    pub fn set_fees(&mut self, market: MarketIdx, fees: FeeSchedule) {
        if let Some(f) = self.fees.get_mut(market.0 as usize) {
            *f = fees;
        }
    }

    /// The order's status, if held.
    pub fn status(&self, id: ClientId) -> Option<OrderStatus> {
        self.index_of(id)
            .map(|i| self.slots[i].as_ref().expect("held").status)
    }

    /// The order's hash, if held (for a cancel request).
    pub fn hash_of(&self, id: ClientId) -> Option<[u8; 32]> {
        self.index_of(id)
            .map(|i| self.slots[i].as_ref().expect("held").hash)
    }

    /// The client id behind an order hash, if held.
    pub fn id_of(&self, hash: &[u8; 32]) -> Option<ClientId> {
        self.by_hash.get(hash).copied()
    }

    /// Every order without a terminal report yet (a scan of the table: for reconciliation, not
    /// the hot path).
    pub fn open_orders(&self) -> impl Iterator<Item = OpenOrder> + '_ {
        self.slots
            .iter()
            .flatten()
            .filter(|e| !e.terminal)
            .map(|e| OpenOrder {
                client_id: e.order.client_id,
                hash: e.hash,
                status: e.status,
                acknowledged: e.accepted,
            })
    }

    /// Shares and cash moved by the fills reported so far.
    pub fn ledger(&self) -> &Positions {
        &self.ledger
    }

    /// What the manager did so far.
    pub fn counters(&self) -> &OmCounters {
        &self.counters
    }

    fn slot(&self, id: ClientId) -> usize {
        (id.0 % self.slots.len() as u64) as usize
    }

    fn index_of(&self, id: ClientId) -> Option<usize> {
        let i = self.slot(id);
        self.slots[i]
            .as_ref()
            .filter(|e| e.order.client_id == id)
            .map(|_| i)
    }

    fn index_of_hash(&mut self, hash: &[u8; 32]) -> Option<usize> {
        let found = self.by_hash.get(hash).and_then(|&id| self.index_of(id));
        if found.is_none() {
            self.counters.foreign_events += 1;
        }
        found
    }

    fn entry_mut(&mut self, id: ClientId) -> Option<&mut Entry> {
        let i = self.index_of(id)?;
        self.slots[i].as_mut()
    }

    /// The venue holds the order: resolves `Unknown` and reports `Accepted` the first time.
    fn heard(&mut self, i: usize, now_ms: u64, out: &mut Vec<ExecReport>) {
        let e = self.slots[i].as_mut().expect("held");
        if !e.accepted && !e.terminal {
            e.accepted = true;
            self.counters.acks += 1;
            out.push(ExecReport {
                client_id: e.order.client_id,
                ts_ms: now_ms,
                kind: ExecKind::Accepted,
            });
        }
        if e.status == OrderStatus::Unknown {
            e.status = OrderStatus::Sent;
            self.counters.unknown_resolved += 1;
            // A resting order's fate now comes from its events; a taker order is still looked
            // up until its final matched size is known.
            if e.order.tif == Tif::Gtc {
                self.settle_lookup(i);
            }
        }
    }

    fn reject(&mut self, i: usize, reason: VenueReject, now_ms: u64, out: &mut Vec<ExecReport>) {
        let e = self.slots[i].as_mut().expect("held");
        e.status = OrderStatus::Rejected;
        e.terminal = true;
        self.counters.rejects += 1;
        out.push(ExecReport {
            client_id: e.order.client_id,
            ts_ms: now_ms,
            kind: ExecKind::Rejected { reason },
        });
        self.settle_lookup(i);
    }

    /// Reports `Done` once the fills cover the order's size or its final matched size.
    fn try_done(&mut self, i: usize, now_ms: u64, out: &mut Vec<ExecReport>) {
        let e = self.slots[i].as_mut().expect("held");
        let full = e.matched >= e.order.size;
        if e.terminal || !(full || e.final_matched.is_some_and(|m| e.matched >= m)) {
            return;
        }
        e.terminal = true;
        e.status = if full {
            OrderStatus::Filled
        } else {
            self.counters.cancels += 1;
            OrderStatus::Cancelled
        };
        out.push(ExecReport {
            client_id: e.order.client_id,
            ts_ms: now_ms,
            kind: ExecKind::Done,
        });
        self.settle_lookup(i);
    }

    /// Starts (or restarts) lookups for slot `i`, the next one due at `due_ms`.
    fn watch_slot(&mut self, i: usize, now_ms: u64, due_ms: u64) {
        let e = self.slots[i].as_mut().expect("held");
        match &mut e.lookup {
            Some(l) => l.next_ms = l.next_ms.min(due_ms),
            None => {
                e.lookup = Some(Lookup {
                    since_ms: now_ms,
                    next_ms: due_ms,
                    sent_ms: None,
                });
                self.watch.push(i as u32);
            }
        }
    }

    /// Stops lookups for slot `i`.
    fn settle_lookup(&mut self, i: usize) {
        let e = self.slots[i].as_mut().expect("held");
        if e.lookup.take().is_some()
            && let Some(pos) = self.watch.iter().position(|&w| w as usize == i)
        {
            self.watch.swap_remove(pos);
        }
    }

    /// Records a fill never seen before, evicting the oldest record when the ring is full.
    fn new_fill(&mut self, i: usize, key: FillKey, t: &UserFill) -> usize {
        let e = self.slots[i].as_ref().expect("held");
        let fees = self.fees[self.registry.asset(e.order.asset).market.0 as usize];
        let fee: Usdc = match t.liquidity {
            Liquidity::Taker => fees.taker_fee(t.px, t.qty),
            Liquidity::Maker => fees.maker_fee(t.px, t.qty),
        };
        let f = self.next_fill;
        self.next_fill = (f + 1) % self.fills.len();
        if let Some(old) = self.fills[f].take() {
            self.fill_index.remove(&old.key);
        }
        self.fills[f] = Some(FillRec {
            key,
            kind: ExecKind::Fill {
                px: t.px,
                qty: t.qty,
                fee,
                liquidity: t.liquidity,
            },
            reported: false,
            settled: false,
            failed: false,
        });
        self.fill_index.insert(key, f as u32);
        f
    }
}

/// Shares a POST result says matched at placement: what a BUY got, what a SELL gave.
fn matched_shares(r: &PostResult, side: Side) -> Qty {
    Qty(match side {
        Side::Buy => r.taking,
        Side::Sell => r.making,
    })
}

/// Moves `e` to `status` unless it is already further along.
fn advance(e: &mut Entry, status: OrderStatus) {
    if status.rank() > e.status.rank() {
        e.status = status;
    }
}

/// Records the venue's final matched size (the first statement wins; a full fill is final too).
fn set_final(e: &mut Entry, matched: Qty) {
    if e.final_matched.is_none() {
        e.final_matched = Some(matched.min(e.order.size));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::polymarket::ws_user::OrderHash;
    use crate::domain::intents::GroupId;
    use crate::domain::markets::MarketSpec;
    use crate::domain::num::{AssetIdx, Px};

    fn manager(capacity: usize) -> OrderManager {
        let mut r = Registry::default();
        r.add_market(MarketSpec {
            condition_id: "0xaa".into(),
            token_ids: vec!["1".into(), "2".into()],
            ..MarketSpec::default()
        })
        .unwrap();
        OrderManager::new(capacity, 1_000, Arc::new(r))
    }

    fn place(id: u64) -> PlaceOrder {
        PlaceOrder {
            client_id: ClientId(id),
            asset: AssetIdx(0),
            side: Side::Buy,
            limit_px: Px(5_000),
            size: Qty::from_shares(1_000),
            tif: Tif::Gtc,
            post_only: false,
            group: GroupId(id),
            group_len: 1,
        }
    }

    fn hash(id: u64) -> [u8; 32] {
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&id.to_be_bytes());
        h
    }

    fn trade(trade_id: u128) -> UserFill {
        UserFill {
            trade_id,
            status: TradeStatus::Matched,
            order_id: OrderHash(hash(0)),
            asset: AssetIdx(0),
            side: Side::Buy,
            px: Px(5_000),
            qty: Qty::from_shares(1),
            fee_rate_bps: 0,
            liquidity: Liquidity::Maker,
            ts_ms: 0,
        }
    }

    #[test]
    fn statuses_only_move_forward() {
        let mut e = Entry {
            order: place(0),
            hash: hash(0),
            status: OrderStatus::Matched,
            accepted: true,
            terminal: false,
            unresolved: false,
            matched: Qty::ZERO,
            final_matched: None,
            lookup: None,
        };
        advance(&mut e, OrderStatus::Live);
        assert_eq!(e.status, OrderStatus::Matched);
        e.status = OrderStatus::Delayed;
        advance(&mut e, OrderStatus::Live);
        assert_eq!(e.status, OrderStatus::Live);
        set_final(&mut e, Qty::from_shares(5_000));
        set_final(&mut e, Qty::from_shares(3));
        assert_eq!(
            e.final_matched,
            Some(Qty::from_shares(1_000)),
            "first wins, capped at size"
        );
    }

    #[test]
    fn the_fill_dedupe_remembers_a_fixed_window_of_fills() {
        let mut m = manager(1);
        m.on_new(&place(0), hash(0), 0).unwrap();
        let mut out = Vec::new();
        let window = FILLS_PER_ORDER as u128;
        for t in 0..window {
            m.on_user_fill(&trade(t), 0, &mut out);
        }
        m.on_user_fill(&trade(0), 0, &mut out);
        assert_eq!(
            m.counters().fills,
            window as u64,
            "inside the window: deduped"
        );
        m.on_user_fill(&trade(window), 0, &mut out);
        assert_eq!(m.fill_index.len(), FILLS_PER_ORDER);
        m.on_user_fill(&trade(0), 0, &mut out);
        assert_eq!(
            m.counters().fills,
            window as u64 + 2,
            "evicted: a replay that old counts again (the window bounds memory)"
        );
    }

    #[test]
    fn tables_never_grow_past_their_start_up_size() {
        let mut m = manager(8);
        let (hashes, fills) = (m.by_hash.capacity(), m.fill_index.capacity());
        let mut out = Vec::new();
        for id in 0..1_000u64 {
            m.on_new(&place(id), hash(id), 0).unwrap();
            let t = UserFill {
                trade_id: u128::from(id),
                qty: Qty::from_shares(1_000),
                order_id: OrderHash(hash(id)),
                ..trade(0)
            };
            m.on_user_fill(&t, 0, &mut out);
            out.clear();
        }
        assert_eq!(m.counters().fills, 1_000);
        assert_eq!(
            (m.by_hash.capacity(), m.fill_index.capacity()),
            (hashes, fills)
        );
        assert_eq!(m.watch.capacity(), 8);
    }
}
