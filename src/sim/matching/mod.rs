//! The venue's matching engine: price-time priority over house and client liquidity, the order
//! types, mint and merge, fees, the sports taker delay, a ledger per account and the trade
//! status progression. Pure: no I/O, no clock (time comes in as `now_ms`).

mod ledger;
mod matcher;
mod queue;
mod trades;
mod types;

pub use types::{
    AccountId, CancelFilter, EngineEvent, MakerFill, NewOrder, OrderEventKind, OrderId,
    OrderSnapshot, OrderStatus, OrderType, Reject, Submitted, TradeSnapshot, TradeStatus,
};

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::domain::num::{Px, Qty, Side, Usdc};
use crate::sim::world::World;
use ledger::{Ledger, Movement};
use matcher::{LOT, best_crossing, cost, fillable};
use queue::Queues;
use trades::TradeRecord;

/// How trades settle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Milliseconds from MATCHED to MINED (or RETRYING for a failing trade).
    pub matched_to_mined_ms: u64,
    /// Milliseconds from MINED to CONFIRMED (or RETRYING to FAILED).
    pub mined_to_confirmed_ms: u64,
    /// Every n-th trade fails (RETRYING → FAILED, ledger reversed); 0 = never.
    pub fail_every_nth: u64,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            matched_to_mined_ms: 200,
            mined_to_confirmed_ms: 800,
            fail_every_nth: 0,
        }
    }
}

/// An order and its bookkeeping.
#[derive(Clone, Debug)]
struct OrderRecord {
    snap: OrderSnapshot,
    /// Arrival number: time priority and deterministic iteration.
    seq: u64,
    /// What the order gave and received so far (1e-6 units).
    making: u64,
    taking: u64,
}

impl OrderRecord {
    fn remaining(&self) -> Qty {
        Qty(self.snap.order.size.0 - self.snap.size_matched.0)
    }

    fn fill(&mut self, qty: Qty, now_ms: u64) {
        self.snap.size_matched.0 += qty.0;
        self.snap.updated_ms = now_ms;
    }
}

/// The matching engine and its ledger.
pub struct Engine {
    cfg: EngineConfig,
    ledger: Ledger,
    queues: Queues,
    orders: HashMap<OrderId, OrderRecord>,
    /// Open (live or delayed) orders by arrival.
    open: BTreeMap<u64, OrderId>,
    /// Delayed orders by (release time, arrival).
    delayed: BTreeMap<(u64, u64), OrderId>,
    trades: Vec<TradeRecord>,
    trade_index: HashMap<String, usize>,
    /// Trades waiting for their next status, by (due time, index).
    settling: BTreeMap<(u64, usize), ()>,
    seen: HashSet<OrderId>,
    seq: u64,
    events: Vec<EngineEvent>,
}

impl Engine {
    /// An engine with no accounts and no orders.
    pub fn new(cfg: EngineConfig) -> Engine {
        Engine {
            cfg,
            ledger: Ledger::default(),
            queues: Queues::default(),
            orders: HashMap::new(),
            open: BTreeMap::new(),
            delayed: BTreeMap::new(),
            trades: Vec::new(),
            trade_index: HashMap::new(),
            settling: BTreeMap::new(),
            seen: HashSet::new(),
            seq: 0,
            events: Vec::new(),
        }
    }

    /// The settlement configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Funds `account` (the faucet): adds `usdc` pUSD and `shares_each_asset` of every asset.
    pub fn open_account(
        &mut self,
        account: AccountId,
        usdc: Usdc,
        shares_each_asset: Qty,
        world: &World,
    ) {
        self.ledger.apply(Movement::Usdc {
            account,
            delta: usdc.0,
        });
        for asset in 0..world.assets.len() {
            self.ledger.apply(Movement::Shares {
                account,
                asset,
                delta: shares_each_asset.0 as i64,
            });
        }
    }

    /// Checks and matches `order`; what rests goes on the book. An order on a market with a
    /// taker delay that would match now is held (`Delayed`) and matched by [`Engine::advance`].
    pub fn submit(
        &mut self,
        world: &mut World,
        order: NewOrder,
        now_ms: u64,
    ) -> Result<Submitted, Reject> {
        self.check(world, &order, now_ms)?;
        let marketable = !fillable(world, order.asset, order.side, order.price, Qty(LOT)).is_zero();
        if order.post_only && marketable {
            return Err(Reject::PostOnlyCross);
        }
        let delay_ms = u64::from(world.market_of(order.asset).spec.seconds_delay) * 1_000;
        let delayed = marketable && delay_ms > 0;
        if !delayed
            && order.order_type == OrderType::Fok
            && fillable(world, order.asset, order.side, order.price, order.size) < order.size
        {
            return Err(Reject::FokUnfilled);
        }
        let id = order.id;
        self.seen.insert(id);
        self.seq += 1;
        let reserve = self.reserve_of(world, order.side, order.price, order.size, order.asset);
        self.adjust_reserve(order.account, order.side, order.asset, reserve);
        self.open.insert(self.seq, id);
        self.orders.insert(
            id,
            OrderRecord {
                snap: OrderSnapshot {
                    order,
                    size_matched: Qty::ZERO,
                    status: OrderStatus::Live,
                    created_ms: now_ms,
                    updated_ms: now_ms,
                    trade_ids: Vec::new(),
                },
                seq: self.seq,
                making: 0,
                taking: 0,
            },
        );
        if delayed {
            self.delayed.insert((now_ms + delay_ms, self.seq), id);
            let snap = self.set_status(&id, OrderStatus::Delayed);
            self.push_order_event(OrderEventKind::Placement, snap);
            return Ok(Submitted {
                status: OrderStatus::Delayed,
                making: 0,
                taking: 0,
                trade_ids: Vec::new(),
            });
        }
        Ok(self.execute(world, id, now_ms))
    }

    /// The venue's checks, in its order.
    fn check(&self, world: &World, o: &NewOrder, now_ms: u64) -> Result<(), Reject> {
        if o.asset >= world.assets.len() {
            return Err(Reject::UnknownAsset);
        }
        let spec = &world.market_of(o.asset).spec;
        if !spec.accepting_orders || spec.closed {
            return Err(Reject::NotAccepting);
        }
        if self.seen.contains(&o.id) {
            return Err(Reject::Duplicate);
        }
        let tick = spec.tick.0.max(1);
        let on_grid = o.price.0.is_multiple_of(tick)
            && o.price.0 >= tick
            && o.price.0 <= Px::ONE.0 - tick
            && o.size.0.is_multiple_of(LOT);
        if !on_grid {
            return Err(Reject::Tick);
        }
        if o.size.is_zero() || o.size < spec.min_order_size {
            return Err(Reject::MinSize);
        }
        if let OrderType::Gtd { expiration_s } = o.order_type
            && expiration_s.saturating_mul(1_000) <= now_ms
        {
            return Err(Reject::Expired);
        }
        if o.account != AccountId::HOUSE {
            let short = match o.side {
                Side::Buy => {
                    self.ledger.free_usdc(o.account)
                        < self.reserve_of(world, o.side, o.price, o.size, o.asset)
                }
                Side::Sell => self.ledger.free_shares(o.account, o.asset) < o.size.0 as i64,
            };
            if short {
                return Err(Reject::Balance);
            }
        }
        Ok(())
    }

    /// What an order reserves for `remaining`: a buy its cost plus the largest taker fee it
    /// could pay at any price up to its limit, a sell its shares.
    fn reserve_of(
        &self,
        world: &World,
        side: Side,
        price: Px,
        remaining: Qty,
        asset: usize,
    ) -> i64 {
        match side {
            Side::Buy => {
                let fees = world.market_of(asset).spec.fees;
                let worst = Px(price.0.min(Px::ONE.0 / 2));
                cost(price, remaining) + fees.taker_fee(worst, remaining).0
            }
            Side::Sell => remaining.0 as i64,
        }
    }

    fn adjust_reserve(&mut self, account: AccountId, side: Side, asset: usize, delta: i64) {
        match side {
            Side::Buy => self.ledger.reserve_usdc(account, delta),
            Side::Sell => self.ledger.reserve_shares(account, asset, delta),
        }
    }

    fn set_status(&mut self, id: &OrderId, status: OrderStatus) -> OrderSnapshot {
        let rec = self
            .orders
            .get_mut(id)
            .expect("set_status on a known order");
        rec.snap.status = status;
        rec.snap.clone()
    }

    fn push_order_event(&mut self, kind: OrderEventKind, order: OrderSnapshot) {
        self.events.push(EngineEvent::Order {
            account: order.order.account,
            kind,
            order,
        });
    }

    /// Matches open order `id` against the book, then rests or kills what is left.
    fn execute(&mut self, world: &mut World, id: OrderId, now_ms: u64) -> Submitted {
        let rec = &self.orders[&id];
        let (order, was_delayed, before) = (
            rec.snap.order.clone(),
            rec.snap.status == OrderStatus::Delayed,
            rec.remaining(),
        );
        let fok_short = order.order_type == OrderType::Fok
            && fillable(world, order.asset, order.side, order.price, before) < before;
        let mut trade_ids = Vec::new();
        while !fok_short && !self.orders[&id].remaining().is_zero() {
            let Some(c) = best_crossing(world, order.asset, order.side, order.price) else {
                break;
            };
            let want = self.orders[&id].remaining();
            let fill = self.take_level(world, c, &order, want, now_ms);
            if fill.qty.is_zero() {
                continue;
            }
            let rec = self.orders.get_mut(&id).expect("taker is known");
            rec.fill(fill.qty, now_ms);
            let paid = cost(c.eff, fill.qty) as u64;
            match order.side {
                Side::Buy => {
                    (rec.making, rec.taking) = (rec.making + paid, rec.taking + fill.qty.0)
                }
                Side::Sell => {
                    (rec.making, rec.taking) = (rec.making + fill.qty.0, rec.taking + paid)
                }
            }
            let trade_id = self.record_trade(world, &order, c, fill, now_ms);
            self.orders
                .get_mut(&id)
                .expect("taker is known")
                .snap
                .trade_ids
                .push(trade_id.clone());
            trade_ids.push(trade_id);
        }
        let rec = &self.orders[&id];
        let (after, seq) = (rec.remaining(), rec.seq);
        let release = self.reserve_of(world, order.side, order.price, before, order.asset)
            - self.reserve_of(world, order.side, order.price, after, order.asset);
        self.adjust_reserve(order.account, order.side, order.asset, -release);
        self.delayed.retain(|_, v| *v != id);
        let filled = after < before;
        let rests = !after.is_zero() && order.order_type.rests();
        let final_status = if after.is_zero() {
            OrderStatus::Matched
        } else if rests {
            world.assets[order.asset]
                .book
                .add_client(order.side, order.price, after);
            self.queues.push(order.asset, order.side, order.price, id);
            self.events.push(EngineEvent::Book {
                asset: order.asset,
                side: order.side,
                px: order.price,
            });
            OrderStatus::Live
        } else {
            let reserve = self.reserve_of(world, order.side, order.price, after, order.asset);
            self.adjust_reserve(order.account, order.side, order.asset, -reserve);
            OrderStatus::Cancelled
        };
        if final_status != OrderStatus::Live {
            self.open.remove(&seq);
        }
        let snap = self.set_status(&id, final_status);
        if rests && !was_delayed {
            self.push_order_event(OrderEventKind::Placement, snap.clone());
        }
        if filled || (rests && was_delayed) {
            self.push_order_event(OrderEventKind::Update, snap.clone());
        }
        if final_status == OrderStatus::Cancelled {
            self.push_order_event(OrderEventKind::Cancellation, snap);
        }
        let status = match final_status {
            _ if filled => OrderStatus::Matched,
            OrderStatus::Live => OrderStatus::Live,
            _ => OrderStatus::Unmatched,
        };
        let rec = &self.orders[&id];
        Submitted {
            status,
            making: rec.making,
            taking: rec.taking,
            trade_ids,
        }
    }

    /// Cancels one open order of `account`; the error is the venue's `not_canceled` reason.
    pub fn cancel(
        &mut self,
        world: &mut World,
        account: AccountId,
        id: &OrderId,
        now_ms: u64,
    ) -> Result<(), &'static str> {
        let open = self
            .orders
            .get(id)
            .is_some_and(|r| r.snap.order.account == account && r.snap.status.is_open());
        if !open {
            return Err("already canceled or matched");
        }
        self.cancel_open(world, *id, now_ms);
        Ok(())
    }

    /// Cancels `account`'s open orders selected by `filter`; returns their ids, oldest first.
    pub fn cancel_all(
        &mut self,
        world: &mut World,
        account: AccountId,
        filter: CancelFilter,
        now_ms: u64,
    ) -> Vec<OrderId> {
        let ids: Vec<OrderId> = self
            .open_orders(account)
            .filter(|s| match filter {
                CancelFilter::All => true,
                CancelFilter::Market(m) => world.assets[s.order.asset].market == m,
                CancelFilter::Asset(a) => s.order.asset == a,
            })
            .map(|s| s.order.id)
            .collect();
        for id in &ids {
            self.cancel_open(world, *id, now_ms);
        }
        ids
    }

    /// Takes an open order off the book (or out of the delay queue) and releases its reserve.
    fn cancel_open(&mut self, world: &mut World, id: OrderId, now_ms: u64) {
        let rec = &self.orders[&id];
        let (o, rest, status, seq) = (
            rec.snap.order.clone(),
            rec.remaining(),
            rec.snap.status,
            rec.seq,
        );
        if status == OrderStatus::Live {
            self.queues.remove(o.asset, o.side, o.price, &id);
            world.assets[o.asset]
                .book
                .remove_client(o.side, o.price, rest);
            self.events.push(EngineEvent::Book {
                asset: o.asset,
                side: o.side,
                px: o.price,
            });
        }
        self.delayed.retain(|_, v| *v != id);
        self.open.remove(&seq);
        let reserve = self.reserve_of(world, o.side, o.price, rest, o.asset);
        self.adjust_reserve(o.account, o.side, o.asset, -reserve);
        self.orders
            .get_mut(&id)
            .expect("known order")
            .snap
            .updated_ms = now_ms;
        let snap = self.set_status(&id, OrderStatus::Cancelled);
        self.push_order_event(OrderEventKind::Cancellation, snap);
    }

    /// Releases delayed orders that are due, expires GTD orders and moves trade statuses on.
    pub fn advance(&mut self, world: &mut World, now_ms: u64) {
        let due: Vec<OrderId> = self
            .delayed
            .range(..(now_ms + 1, 0))
            .map(|(_, id)| *id)
            .collect();
        for id in due {
            self.execute(world, id, now_ms);
        }
        let expired: Vec<OrderId> = self
            .open
            .values()
            .filter(|id| {
                matches!(self.orders[*id].snap.order.order_type,
                    OrderType::Gtd { expiration_s } if expiration_s.saturating_mul(1_000) <= now_ms)
            })
            .copied()
            .collect();
        for id in expired {
            self.cancel_open(world, id, now_ms);
        }
        self.settle(now_ms);
    }

    /// Moves everything that happened since the last drain into `out`, in order.
    pub fn drain(&mut self, out: &mut Vec<EngineEvent>) {
        out.append(&mut self.events);
    }

    /// `account`'s pUSD balance (the house's can be negative).
    pub fn balance(&self, account: AccountId) -> Usdc {
        Usdc(self.ledger.usdc(account))
    }

    /// `account`'s shares of `asset`, zero if its net position is negative (only the house's,
    /// or after a failed trade's reversal; see [`Engine::position`]).
    pub fn shares(&self, account: AccountId, asset: usize) -> Qty {
        Qty(self.ledger.shares(account, asset).max(0) as u64)
    }

    /// `account`'s signed net position in `asset`, 1e-6 shares.
    pub fn position(&self, account: AccountId, asset: usize) -> i64 {
        self.ledger.shares(account, asset)
    }

    /// Full sets of `market` minted minus merged by matching, 1e-6 units.
    pub fn minted_sets(&self, market: usize) -> i64 {
        self.ledger.sets(market)
    }

    /// pUSD not reserved by open orders.
    pub fn available(&self, account: AccountId) -> Usdc {
        Usdc(self.ledger.free_usdc(account))
    }

    /// Shares of `asset` not reserved by open sell orders.
    pub fn available_shares(&self, account: AccountId, asset: usize) -> i64 {
        self.ledger.free_shares(account, asset)
    }

    /// An order the engine has seen (open or finished).
    pub fn order(&self, id: &OrderId) -> Option<&OrderSnapshot> {
        self.orders.get(id).map(|r| &r.snap)
    }

    /// `account`'s open (live or delayed) orders, oldest first.
    pub fn open_orders(&self, account: AccountId) -> impl Iterator<Item = &OrderSnapshot> {
        self.open
            .values()
            .map(|id| &self.orders[id].snap)
            .filter(move |s| s.order.account == account)
    }

    /// Trades `account` took part in, oldest first.
    pub fn trades(&self, account: AccountId) -> impl Iterator<Item = &TradeSnapshot> {
        self.trades
            .iter()
            .map(|t| &t.snap)
            .filter(move |t| t.taker == account || t.makers.iter().any(|m| m.account == account))
    }

    /// One trade by id.
    pub fn trade(&self, id: &str) -> Option<&TradeSnapshot> {
        self.trade_index.get(id).map(|&i| &self.trades[i].snap)
    }
}

#[cfg(test)]
mod tests;
