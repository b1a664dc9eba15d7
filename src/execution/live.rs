//! The live execution sink: signs each order (or takes it from the pre-signed ladder), sends a
//! group's legs as one `POST /orders` on a warm keep-alive connection, and follows every order
//! through the order manager until its last report. An order whose send ended without an answer
//! is resolved through the user channel, order lookups and reconciliation, never by resending.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::adapters::polymarket::auth::L2Signer;
use crate::adapters::polymarket::clob_client::rest::{BalanceAsset, RestClient};
use crate::adapters::polymarket::clob_client::{
    ClobClient, Completion, HttpOutcome, PostResult, SendError, parse_cancels, parse_post_orders,
    reject_reason,
};
use crate::adapters::polymarket::signing::{SignedOrder, append_order_entry};
use crate::adapters::polymarket::ws_user::{UserEvent, UserFill};
use crate::bot::clock::Clock;
use crate::bot::latency::{LatencyRecorder, Segment};
use crate::bot::settings::{Bucket, ExecutionSettings};
use crate::domain::fees::FeeSchedule;
use crate::domain::intents::{
    ClientId, ExecKind, ExecReport, GroupId, Intent, MarketChange, PlaceOrder, VenueReject,
};
use crate::domain::markets::Registry;
use crate::domain::num::{AssetIdx, MarketIdx, Px, Qty};
use crate::execution::order_manager::{OmError, OrderManager, OrderStatus, SendFailure};
use crate::execution::order_signer::{OrderSignError, OrderSigner};
use crate::execution::presign::{PresignCache, PresignKey, PresignPlanner, Watch};
use crate::execution::rate::TokenBucket;
use crate::execution::reconcile::{BalanceChecks, reconcile, rest_fills};
use crate::execution::{ExecCounters, ExecSummary, IntentMsg, Sink};

/// Orders one `POST /orders` carries at most (the venue's limit).
pub const MAX_BATCH: usize = 15;

/// Request slots: more than any connection pool carries at once, so a tag's slot is free
/// again long before the tag wraps onto it.
const FLIGHTS: usize = 64;

/// Orders the manager tracks at once.
const OPEN_ORDERS: usize = 4096;

/// What a request in flight was for.
#[derive(Clone, Copy, Debug)]
enum Flight {
    Orders { ids: [ClientId; MAX_BATCH], n: u8 },
    Cancel { id: ClientId },
    CancelAll,
}

/// One leg waiting for the rest of its group, with its latency stamps.
#[derive(Clone, Copy, Debug)]
struct Leg {
    order: PlaceOrder,
    t_rx: u64,
    t_int: u64,
}

/// Everything the live sink is built from.
pub struct LiveParts {
    /// Markets, ticks, token ids, fee schedules.
    pub registry: Arc<Registry>,
    /// Signs orders for the funded wallet.
    pub signer: OrderSigner,
    /// Warm connections to the order endpoints, already open.
    pub client: ClobClient,
    /// The non-hot-path client: lookups, reconciliation.
    pub rest: RestClient,
    /// L2 headers for `rest` (and the `owner` of every order).
    pub l2: L2Signer,
    /// The user channel's events.
    pub user: rtrb::Consumer<UserEvent>,
    /// Deadlines, buckets, pre-signing.
    pub settings: ExecutionSettings,
    /// Order sizes the ladder pre-signs (the strategy's usual sizes).
    pub presign_sizes: Vec<Qty>,
    /// The clock of the intents' `t_rx`/`t_int` stamps.
    pub clock: Clock,
}

/// The live sink. See the module documentation.
pub struct LiveSink {
    registry: Arc<Registry>,
    signer: OrderSigner,
    client: ClobClient,
    rest: RestClient,
    l2: L2Signer,
    user: rtrb::Consumer<UserEvent>,
    om: OrderManager,
    presign: PresignCache<SignedOrder>,
    planner: PresignPlanner,
    presign_enabled: bool,
    /// Pacing of the ladder's signatures (monotonic ns).
    presign_interval_ns: u64,
    next_presign_ns: u64,
    post_order: TokenBucket,
    post_orders: TokenBucket,
    cancel: TokenBucket,
    request_timeout: Duration,
    stop_timeout: Duration,
    /// Per market, the tick and fees in force (the registry's until the venue changes them).
    params: Vec<(Px, FeeSchedule)>,
    /// Legs of the group being assembled (at most one request's worth).
    group: Vec<Leg>,
    /// The group being assembled, and how many of its legs arrived so far.
    group_id: Option<GroupId>,
    group_seen: u8,
    /// Legs signed and recorded, about to be written.
    ready: Vec<Leg>,
    body: Vec<u8>,
    flights: [Option<Flight>; FLIGHTS],
    next_tag: u64,
    completions: Vec<Completion>,
    results: Vec<PostResult>,
    lookups: Vec<(ClientId, [u8; 32])>,
    /// Cancels waiting for their order's placement to be answered.
    deferred_cancels: Vec<ClientId>,
    fills: Vec<UserFill>,
    last_timer_ms: u64,
    started: Instant,
    /// When this sink was built, Unix seconds: no trade of this run's orders is older.
    started_s: u64,
    /// Orders refused before the order manager saw them (signing failed, no free slot).
    local_rejects: u64,
    /// The venue's pUSD balance before this run's fills (set at the first reconciliation).
    cash_baseline: Option<i128>,
    cash_checks: BalanceChecks,
    /// Per asset, the venue's share balance before this run's fills (read for every asset at
    /// the first reconciliation).
    share_baselines: Vec<Option<i128>>,
    /// Per asset, whether a reconciliation has found it held this run.
    share_held: Vec<bool>,
    share_checks: BalanceChecks,
    clock: Clock,
    latency: LatencyRecorder,
}

/// How far before the sink's start reconciliation reads trades back: covers any offset between
/// this host's clock and the venue's.
const TRADES_LOOKBACK_S: u64 = 300;

/// Wall time, Unix milliseconds: the venue's time base for order timestamps and L2 headers.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn bucket(b: Bucket) -> TokenBucket {
    TokenBucket::new(b.burst, b.per_10s, 10_000)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl LiveSink {
    /// Builds the sink; allocates every buffer it will use.
    pub fn new(parts: LiveParts) -> LiveSink {
        let s = &parts.settings;
        let params: Vec<(Px, FeeSchedule)> = parts
            .registry
            .markets()
            .iter()
            .map(|m| (m.tick, m.fees))
            .collect();
        let mut presign = PresignCache::new(
            s.presign.capacity,
            parts.registry.markets().len(),
            millis(s.presign.max_age),
        );
        for (i, &(tick, fees)) in params.iter().enumerate() {
            presign.on_market_params(MarketIdx(i as u32), tick, fees);
        }
        LiveSink {
            params,
            presign,
            om: OrderManager::new(
                OPEN_ORDERS,
                millis(s.unknown_deadline),
                parts.registry.clone(),
            ),
            planner: PresignPlanner::new(
                &parts.presign_sizes,
                u16::try_from(s.presign.ticks_each_side).unwrap_or(u16::MAX),
            ),
            presign_enabled: s.presign.enabled,
            presign_interval_ns: u64::try_from(s.presign.interval.as_nanos()).unwrap_or(u64::MAX),
            next_presign_ns: 0,
            post_order: bucket(s.rate_limits.post_order),
            post_orders: bucket(s.rate_limits.post_orders),
            cancel: bucket(s.rate_limits.cancel),
            request_timeout: s.request_timeout,
            stop_timeout: s.stop_timeout,
            group: Vec::with_capacity(MAX_BATCH),
            group_id: None,
            group_seen: 0,
            ready: Vec::with_capacity(MAX_BATCH),
            body: Vec::with_capacity(MAX_BATCH * 1024),
            flights: [None; FLIGHTS],
            next_tag: 1,
            completions: Vec::with_capacity(FLIGHTS),
            results: Vec::with_capacity(MAX_BATCH),
            lookups: Vec::with_capacity(64),
            deferred_cancels: Vec::with_capacity(64),
            fills: Vec::new(),
            last_timer_ms: 0,
            started: Instant::now(),
            started_s: now_ms() / 1000,
            local_rejects: 0,
            cash_baseline: None,
            cash_checks: BalanceChecks::default(),
            share_baselines: vec![None; parts.registry.asset_count()],
            share_held: vec![false; parts.registry.asset_count()],
            share_checks: BalanceChecks::default(),
            latency: LatencyRecorder::new(),
            registry: parts.registry,
            signer: parts.signer,
            client: parts.client,
            rest: parts.rest,
            l2: parts.l2,
            user: parts.user,
            clock: parts.clock,
        }
    }

    /// The signed order for a leg: from the ladder when it holds one, else signed now.
    fn signed(&mut self, o: &PlaceOrder, now: u64) -> Result<SignedOrder, OrderSignError> {
        let key = PresignKey {
            asset: o.asset,
            side: o.side,
            px: o.limit_px,
            size: o.size,
        };
        match self.presign.take(&key, now) {
            Some(signed) => Ok(signed),
            None => self.signer.sign(&key, now),
        }
    }

    fn reject_locally(&mut self, id: ClientId, reason: VenueReject, out: &mut Vec<ExecReport>) {
        self.local_rejects += 1;
        out.push(ExecReport {
            client_id: id,
            ts_ms: now_ms(),
            kind: ExecKind::Rejected { reason },
        });
    }

    /// Signs, records and sends the legs held in `group` as one request.
    fn send_group(&mut self, out: &mut Vec<ExecReport>) {
        let now = now_ms();
        self.ready.clear();
        self.body.clear();
        for i in 0..self.group.len() {
            let leg = self.group[i];
            let o = leg.order;
            let signed = match self.signed(&o, now) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(client_id = o.client_id.0, error = %e, "order not signed");
                    let reason = match e {
                        OrderSignError::Amounts(_) => VenueReject::Tick,
                        _ => VenueReject::Other,
                    };
                    self.reject_locally(o.client_id, reason, out);
                    continue;
                }
            };
            match self.om.on_new(&o, signed.hash, now) {
                Ok(()) => {}
                // The first order under this id stands; its reports are the ones the core gets.
                Err(e @ OmError::DuplicateClientId(_)) => {
                    tracing::error!(error = %e, "duplicate intent not sent");
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "order not recorded, not sent");
                    self.reject_locally(o.client_id, VenueReject::Other, out);
                    continue;
                }
            }
            // Room for the batch's '[' (a lone order is sent from the byte after it).
            self.body
                .push(if self.ready.is_empty() { b'[' } else { b',' });
            append_order_entry(
                &mut self.body,
                &signed,
                self.signer.token_id(o.asset),
                0,
                self.l2.api_key(),
                o.tif.as_str(),
                o.post_only,
            );
            self.ready.push(leg);
        }
        self.group.clear();
        match self.ready.len() {
            0 => {}
            // A lone order goes to `POST /order` as a bare object.
            1 => self.write_orders(false, now, out),
            _ => {
                self.body.push(b']');
                self.write_orders(true, now, out);
            }
        }
        // Only once the request is on the wire: moving the ladder scans the cache.
        for i in 0..self.ready.len() {
            let order = self.ready[i].order;
            self.watch(&order);
        }
    }

    /// Writes the order request for the `ready` legs. Refused by the rate limiter, or with no
    /// connection free within the request timeout, nothing is sent and the legs are rejected.
    fn write_orders(&mut self, batch: bool, now: u64, out: &mut Vec<ExecReport>) {
        let now_ns = self.mono_ns();
        let bucket = if batch {
            &mut self.post_orders
        } else {
            &mut self.post_order
        };
        if !bucket.try_take(now_ns, 1) {
            self.refuse_ready(VenueReject::RateLimited, now, out);
            return;
        }
        let mut ids = [ClientId::default(); MAX_BATCH];
        for (slot, leg) in ids.iter_mut().zip(&self.ready) {
            *slot = leg.order.client_id;
        }
        let flight = Flight::Orders {
            ids,
            n: self.ready.len() as u8,
        };
        let body = std::mem::take(&mut self.body);
        let sent = self.send_with(flight, out, |client, tag| {
            let body = if batch { &body[..] } else { &body[1..] };
            client.send_orders(body, batch, now / 1000, tag)
        });
        self.body = body;
        let t_wire = match sent {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "order request not sent");
                self.refuse_ready(VenueReject::Other, now, out);
                return;
            }
        };
        for leg in &self.ready {
            self.om.on_sent(leg.order.client_id, now);
            self.latency.record(
                Segment::IntentToWire,
                self.clock.nanos_between(leg.t_int, t_wire),
            );
            if leg.t_rx != 0 {
                self.latency.record(
                    Segment::TickToTrade,
                    self.clock.nanos_between(leg.t_rx, t_wire),
                );
            }
        }
    }

    /// Sends one request as `flight`, completing others while every connection is busy, for
    /// up to the request timeout. Returns the clock ticks when it was handed to the socket.
    fn send_with(
        &mut self,
        flight: Flight,
        out: &mut Vec<ExecReport>,
        mut send: impl FnMut(&mut ClobClient, u64) -> Result<u64, SendError>,
    ) -> Result<u64, SendError> {
        let give_up = Instant::now() + self.request_timeout;
        let tag = self.next_tag;
        loop {
            match send(&mut self.client, tag) {
                Ok(t_wire) => {
                    self.next_tag += 1;
                    self.flights[tag as usize % FLIGHTS] = Some(flight);
                    return Ok(t_wire);
                }
                Err(SendError::Busy) if Instant::now() < give_up => {
                    self.complete(out);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn refuse_ready(&mut self, reason: VenueReject, now: u64, out: &mut Vec<ExecReport>) {
        for leg in &self.ready {
            let failure = SendFailure::Refused(reason);
            self.om
                .on_send_failed(leg.order.client_id, failure, now, out);
        }
    }

    /// Applies a tick or fee change: new orders are priced on the new tick, fills are booked
    /// with the new fees, and the market's pre-signed orders are dropped.
    fn on_market_changed(&mut self, market: MarketIdx, change: MarketChange) {
        let (tick, fees) = &mut self.params[market.0 as usize];
        match change {
            MarketChange::Tick(t) => {
                *tick = t;
                self.signer.set_tick(market, t);
            }
            MarketChange::Fees(f) => {
                *fees = f;
                self.om.set_fees(market, f);
            }
        }
        let dropped = self.presign.on_market_params(market, *tick, *fees);
        tracing::info!(
            market = market.0,
            ?change,
            dropped,
            "market parameters changed"
        );
    }

    /// Centres the ladder of the order's asset on its price.
    fn watch(&mut self, o: &PlaceOrder) {
        if !self.presign_enabled {
            return;
        }
        let market = self.registry.asset(o.asset).market;
        let moved = self.planner.watch(Watch {
            asset: o.asset,
            market,
            centre: o.limit_px,
            tick: self.params[market.0 as usize].0,
        });
        let resized = self.planner.learn_size(o.size);
        if moved || resized {
            let planner = &self.planner;
            self.presign.retain(|k| planner.wants(k));
        }
    }

    /// Applies every finished request; returns whether any finished.
    fn complete(&mut self, out: &mut Vec<ExecReport>) -> bool {
        self.completions.clear();
        self.client.poll(Instant::now(), &mut self.completions);
        let now = now_ms();
        for c in 0..self.completions.len() {
            let Completion { tag, outcome } = self.completions[c];
            match self.flights[tag as usize % FLIGHTS].take() {
                Some(Flight::Orders { ids, n }) => {
                    self.orders_done(&ids[..usize::from(n)], &outcome, now, out);
                }
                Some(Flight::Cancel { id }) => self.cancel_done(id, &outcome, now),
                Some(Flight::CancelAll) => self.cancel_all_done(&outcome, now),
                None => {}
            }
        }
        !self.completions.is_empty()
    }

    /// Applies an order request's outcome to each of its orders.
    fn orders_done(
        &mut self,
        ids: &[ClientId],
        outcome: &HttpOutcome,
        now: u64,
        out: &mut Vec<ExecReport>,
    ) {
        let failure = match *outcome {
            HttpOutcome::Ok { status, .. } if status < 500 => {
                let body = self.client.body(outcome);
                let parsed = parse_post_orders(body, &mut self.results);
                if parsed.is_ok() && self.results.len() == ids.len() {
                    for (id, r) in ids.iter().zip(&self.results) {
                        self.om.on_post_result(*id, r, now, out);
                    }
                    return;
                }
                match status {
                    200 => {
                        tracing::error!(?parsed, "unreadable order response; orders unknown");
                        SendFailure::Unknown
                    }
                    429 => SendFailure::Refused(VenueReject::RateLimited),
                    _ => SendFailure::Refused(reject_reason(&String::from_utf8_lossy(body))),
                }
            }
            _ => SendFailure::Unknown,
        };
        for &id in ids {
            self.om.on_send_failed(id, failure, now, out);
        }
    }

    /// A cancel's answer never ends an order by itself (the user channel's CANCELLATION or a
    /// lookup tells the final matched size); an order the venue did not cancel, or a cancel
    /// without an answer, is looked up.
    fn cancel_done(&mut self, id: ClientId, outcome: &HttpOutcome, now: u64) {
        let Some(hash) = self.om.hash_of(id) else {
            return;
        };
        let cancelled = matches!(outcome, HttpOutcome::Ok { status: 200, .. })
            && parse_cancels(self.client.body(outcome)).is_ok_and(|r| r.canceled.contains(&hash));
        if !cancelled {
            self.om.request_lookup(id, now);
        }
    }

    /// After a cancel-all every order still open is looked up: whatever the user channel
    /// missed, each lookup tells the order's final state.
    fn cancel_all_done(&mut self, outcome: &HttpOutcome, now: u64) {
        if !matches!(outcome, HttpOutcome::Ok { status: 200, .. }) {
            tracing::warn!(
                ?outcome,
                "cancel-all got no clean answer; looking orders up"
            );
        }
        let open: Vec<ClientId> = self.om.open_orders().map(|o| o.client_id).collect();
        for id in open {
            self.om.request_lookup(id, now);
        }
    }

    /// Cancels an order the venue is known to hold; one whose placement is still unanswered is
    /// held back until it is (a cancel on another connection could overtake the placement and
    /// find nothing to cancel), and one already finished needs no cancel.
    fn on_cancel(&mut self, id: ClientId, out: &mut Vec<ExecReport>) {
        match self.om.status(id) {
            Some(OrderStatus::New | OrderStatus::Sent | OrderStatus::Unknown) => {
                self.deferred_cancels.push(id);
                return;
            }
            Some(OrderStatus::Live | OrderStatus::Delayed | OrderStatus::Matched) => {}
            _ => return,
        }
        let Some(hash) = self.om.hash_of(id) else {
            return;
        };
        let now = now_ms();
        if !self.cancel.try_take(self.mono_ns(), 1) {
            tracing::warn!(
                client_id = id.0,
                "cancel over the rate limit; looking it up instead"
            );
            self.om.request_lookup(id, now);
            return;
        }
        let sent = self.send_with(Flight::Cancel { id }, out, |client, tag| {
            client.send_cancel(&hash, now / 1000, tag)
        });
        if let Err(e) = sent {
            tracing::warn!(client_id = id.0, error = %e, "cancel not sent; looking it up");
            self.om.request_lookup(id, now);
        }
    }

    /// Sends the held-back cancels whose orders the venue has now answered for.
    fn release_cancels(&mut self, out: &mut Vec<ExecReport>) {
        let mut i = 0;
        while i < self.deferred_cancels.len() {
            let id = self.deferred_cancels[i];
            match self.om.status(id) {
                Some(OrderStatus::New | OrderStatus::Sent | OrderStatus::Unknown) => i += 1,
                _ => {
                    self.deferred_cancels.swap_remove(i);
                    self.on_cancel(id, out);
                }
            }
        }
    }

    /// Sends `DELETE /cancel-all`; if it cannot be sent, every open order is looked up.
    fn cancel_all(&mut self, out: &mut Vec<ExecReport>) {
        let now = now_ms();
        let sent = self.send_with(Flight::CancelAll, out, |client, tag| {
            client.send_cancel_all(now / 1000, tag)
        });
        if let Err(e) = sent {
            tracing::error!(error = %e, "cancel-all not sent; looking orders up");
            self.cancel_all_done(&HttpOutcome::Reset, now);
        }
    }

    /// Applies the user channel's events; a (re)connection triggers reconciliation.
    fn drain_user(&mut self, out: &mut Vec<ExecReport>) -> bool {
        let mut any = false;
        while let Ok(ev) = self.user.pop() {
            any = true;
            match ev {
                UserEvent::Connected => self.reconcile(out),
                ev => self.om.on_user(&ev, now_ms(), out),
            }
        }
        any
    }

    /// Recovers what the user channel may have missed from REST: our trades, then open orders.
    /// Blocking calls, made only after a (re)connection and at the stop.
    fn reconcile(&mut self, out: &mut Vec<ExecReport>) {
        let now = now_ms();
        let (orders, trades) = match (
            self.rest.open_orders(&self.l2, now / 1000),
            self.rest.trades(
                &self.l2,
                now / 1000,
                Some(self.started_s.saturating_sub(TRADES_LOOKBACK_S)),
            ),
        ) {
            (Ok(o), Ok(t)) => (o, t),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "reconciliation failed; open orders looked up");
                self.cancel_all_done(&HttpOutcome::Reset, now);
                return;
            }
        };
        self.fills.clear();
        for t in &trades {
            rest_fills(t, self.l2.api_key(), &self.registry, &mut self.fills);
        }
        let report = reconcile(&mut self.om, &orders, &self.fills, now, out);
        self.check_balance(now);
        self.check_shares(now);
        for stray in &report.strays {
            tracing::warn!(
                order = %String::from_utf8_lossy(&crate::adapters::polymarket::signing::hex_hash(stray)),
                "the venue holds an open order this run never placed"
            );
        }
        tracing::info!(
            fills_recovered = report.fills_recovered,
            reversals_recovered = report.reversals_recovered,
            orders_confirmed = report.orders_confirmed,
            orders_missing = report.orders_missing,
            strays = report.strays.len(),
            "reconciled with the venue"
        );
    }

    /// Compares the venue's pUSD balance with the cash the reported fills moved: the first read
    /// sets the baseline, each later one must have moved by exactly the fills' cash. A fill the
    /// venue made after the trades were read shows as a passing mismatch.
    fn check_balance(&mut self, now: u64) {
        let read = self.rest.balance_allowance(
            &self.l2,
            now / 1000,
            BalanceAsset::Collateral,
            self.signer.signature_type(),
        );
        let balance = match read {
            Ok(b) => i128::from(b.balance),
            Err(e) => {
                tracing::warn!(error = %e, "balance not read");
                return;
            }
        };
        let moved = i128::from(self.om.ledger().cash().0);
        let baseline = &mut self.cash_baseline;
        if let Some(venue) = self.cash_checks.observe(baseline, balance, moved) {
            tracing::warn!(
                venue,
                fills = moved,
                "pUSD balance moved differently from the fills reported (1e-6 pUSD)"
            );
        }
    }

    /// Compares the venue's outcome-token balances with the shares the reported fills moved.
    /// The first reconciliation reads every asset's balance as its baseline (one REST call per
    /// asset, once, at start-up); later ones read the assets this run holds or has held, each of
    /// which must have moved by exactly the reported fills' shares. An asset whose first read
    /// failed gets its baseline at its next read.
    fn check_shares(&mut self, now: u64) {
        let first = self.share_baselines.iter().all(Option::is_none);
        for i in 0..self.share_baselines.len() {
            let asset = AssetIdx(i as u32);
            let moved = i128::from(self.om.ledger().shares(asset).0);
            self.share_held[i] |= moved != 0;
            if !first && !self.share_held[i] {
                continue;
            }
            let read = self.rest.balance_allowance(
                &self.l2,
                now / 1000,
                BalanceAsset::Conditional(&self.registry.asset(asset).token_id),
                self.signer.signature_type(),
            );
            let balance = match read {
                Ok(b) => i128::from(b.balance),
                Err(e) => {
                    tracing::warn!(asset = i, error = %e, "share balance not read");
                    continue;
                }
            };
            let baseline = &mut self.share_baselines[i];
            if let Some(venue) = self.share_checks.observe(baseline, balance, moved) {
                tracing::warn!(
                    asset = i,
                    venue,
                    fills = moved,
                    "share balance moved differently from the fills reported (1e-6 shares)"
                );
            }
        }
    }

    /// Lookups that are due, and the unknown orders' deadlines; at most once a millisecond.
    fn timers(&mut self, out: &mut Vec<ExecReport>) {
        let now = now_ms();
        if now == self.last_timer_ms {
            return;
        }
        self.last_timer_ms = now;
        self.lookups.clear();
        self.om.due_lookups(now, &mut self.lookups);
        for i in 0..self.lookups.len() {
            let (id, hash) = self.lookups[i];
            match self.rest.get_order(&self.l2, now / 1000, &hash) {
                Ok(found) => self.om.on_lookup(id, found.as_ref(), now_ms(), out),
                Err(e) => tracing::warn!(client_id = id.0, error = %e, "order lookup failed"),
            }
        }
        self.om.check_deadlines(now_ms(), out);
    }

    /// Signs one ladder order, if the ladder wants one; returns whether it did.
    fn presign_one(&mut self) -> bool {
        if !self.presign_enabled {
            return false;
        }
        let now_ns = self.mono_ns();
        if now_ns < self.next_presign_ns {
            return false;
        }
        self.next_presign_ns = now_ns.saturating_add(self.presign_interval_ns);
        let now = now_ms();
        self.presign.expire(now);
        let Some((key, market)) = self.planner.next(&self.presign) else {
            return false;
        };
        match self.signer.sign(&key, now) {
            Ok(signed) => self.presign.insert(key, market, signed, now),
            Err(e) => {
                tracing::warn!(error = %e, "ladder order not signed; asset unwatched");
                self.planner.unwatch(key.asset);
                false
            }
        }
    }

    /// Monotonic nanoseconds since the sink was built (the rate limiters' time).
    fn mono_ns(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether any order is still without its terminal report.
    fn has_open_orders(&self) -> bool {
        self.om.open_orders().next().is_some()
    }
}

impl Sink for LiveSink {
    fn on_intent(&mut self, msg: &IntentMsg, out: &mut Vec<ExecReport>) {
        match msg.intent {
            Intent::Place(order) => {
                if self.group_id != Some(order.group) {
                    if !self.group.is_empty() {
                        self.send_group(out);
                    }
                    self.group_id = Some(order.group);
                    self.group_seen = 0;
                }
                self.group.push(Leg {
                    order,
                    t_rx: msg.t_rx,
                    t_int: msg.t_int,
                });
                self.group_seen = self.group_seen.saturating_add(1);
                // A group larger than one request goes out in requests of MAX_BATCH legs.
                if self.group.len() == MAX_BATCH || self.group_seen >= order.group_len {
                    self.send_group(out);
                }
            }
            Intent::Cancel { client_id } => self.on_cancel(client_id, out),
            Intent::MarketChanged { market, change } => self.on_market_changed(market, change),
            Intent::Halt { reason } => {
                tracing::warn!(
                    reason = reason.as_str(),
                    "halt: cancelling every open order"
                );
                self.cancel_all(out);
            }
        }
    }

    fn poll(&mut self, out: &mut Vec<ExecReport>) -> bool {
        let mut busy = self.complete(out);
        busy |= self.drain_user(out);
        if !self.deferred_cancels.is_empty() {
            self.release_cancels(out);
        }
        self.timers(out);
        self.client.keep_warm(Instant::now());
        if !busy {
            busy = self.presign_one();
        }
        busy
    }

    fn shutdown(&mut self, out: &mut Vec<ExecReport>) {
        if !self.group.is_empty() {
            self.send_group(out);
        }
        self.cancel_all(out);
        let deadline = Instant::now() + self.stop_timeout;
        let mut reconciled = false;
        while Instant::now() < deadline {
            let busy = self.poll(out);
            if !reconciled && !busy && self.flights.iter().all(Option::is_none) {
                // Every answer is in: whatever the channel missed, REST has, and the balance
                // check sees the run's last fills.
                self.reconcile(out);
                reconciled = true;
            } else if reconciled && !self.has_open_orders() {
                break;
            } else if !busy {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let left = self.om.open_orders().count();
        if left > 0 {
            tracing::error!(left, "stopped with orders whose final state is not known");
        }
    }

    fn summary(self) -> ExecSummary {
        let om = self.om.counters();
        let presign = self.presign.counters();
        ExecSummary {
            counters: ExecCounters {
                orders_sent: om.orders_sent,
                acks: om.acks,
                fills: om.fills,
                rejects: om.rejects + self.local_rejects,
                cancels: om.cancels,
                unknown_resolved: om.unknown_resolved,
                presign_hits: presign.hits,
                presign_misses: presign.misses,
                balance_checks: self.cash_checks.checks,
                balance_mismatches: self.cash_checks.mismatches,
                share_checks: self.share_checks.checks,
                share_mismatches: self.share_checks.mismatches,
            },
            latency: self.latency,
        }
    }
}
