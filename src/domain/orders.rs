//! Every order the core has sent, by `ClientId`, in a table preallocated at start-up.
//!
//! The engine assigns client ids in increasing order, so the table is a ring indexed by
//! `id % capacity` with the id stored in the slot: a slot is reused once its previous order is
//! done. Nothing grows on the hot path: an order whose slot still holds an open order is refused
//! and counted (risk refuses such groups beforehand, see [`Orders::slot_free`]). Reports for ids
//! the table does not hold are counted, never a panic.
//!
//! State machine: `InFlight` (sent) → `Live` (venue accepted, or a fill proved it) → `Done`
//! (rejected, cancelled, filled or killed). `Done` is terminal; fills reported after it are still
//! recorded, since the shares moved.

use crate::domain::intents::{ClientId, ExecKind, ExecReport, PlaceOrder};
use crate::domain::num::{AssetIdx, MarketIdx, Px, Qty, Side, Usdc};

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderState {
    /// Sent to execution; the venue has not answered yet.
    InFlight,
    /// Accepted by the venue (resting or matching).
    Live,
    /// Rejected, cancelled, fully filled or killed. Terminal.
    Done,
}

/// One order the core sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRecord {
    /// The core's id for it.
    pub client_id: ClientId,
    /// The outcome token.
    pub asset: AssetIdx,
    /// The market the token belongs to.
    pub market: MarketIdx,
    /// Buy or sell.
    pub side: Side,
    /// The limit price.
    pub limit_px: Px,
    /// Shares ordered.
    pub size: Qty,
    /// Shares filled so far, never above `size` (see [`OrderCounters::overfills`]).
    pub filled: Qty,
    /// Where it stands.
    pub state: OrderState,
    /// The core's time when it was placed, Unix milliseconds.
    pub placed_ms: u64,
}

impl OrderRecord {
    /// Whether it may still trade: in flight or live.
    pub fn is_open(&self) -> bool {
        self.state != OrderState::Done
    }

    /// Shares still unfilled.
    pub fn remaining(&self) -> Qty {
        Qty(self.size.0 - self.filled.0)
    }

    /// What the unfilled remainder costs at the limit price, rounded up to 1e-6 (saturating):
    /// the collateral it can still commit.
    pub fn open_notional(&self) -> Usdc {
        notional_ceil(self.limit_px, self.remaining())
    }
}

/// `px × qty` in USDC rounded up, saturating at `i64::MAX` (a cap check then fails closed).
pub fn notional_ceil(px: Px, qty: Qty) -> Usdc {
    px.notional(qty).to_usdc_ceil().unwrap_or(Usdc(i64::MAX))
}

/// Anomalies the table counted instead of panicking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderCounters {
    /// Orders placed and recorded.
    pub placed: u64,
    /// Orders not recorded because their slot still held an open order (the table is too small
    /// for the orders left open).
    pub refused_slot_busy: u64,
    /// Orders not recorded because their id was already in the table.
    pub duplicate_ids: u64,
    /// Reports for ids the table does not hold (never sent, or evicted long ago).
    pub unknown_reports: u64,
    /// Fills that would have taken `filled` above `size` (`filled` stops at `size`).
    pub overfills: u64,
    /// Accepts, rejects or fills for orders already done.
    pub late_reports: u64,
}

/// Marks an empty slot in `open_pos`.
const NOT_OPEN: u32 = u32::MAX;

/// The order table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Orders {
    slots: Vec<Option<OrderRecord>>,
    /// Slot indices of open orders, in no particular order.
    open_slots: Vec<u32>,
    /// For each slot, its position in `open_slots`, or `NOT_OPEN`.
    open_pos: Vec<u32>,
    counters: OrderCounters,
}

impl Orders {
    /// A table of `n` slots (at least 1): up to `n` orders can be open at once, and a done order
    /// is remembered until the id `n` above it is placed.
    pub fn with_capacity(n: usize) -> Orders {
        let n = n.clamp(1, NOT_OPEN as usize);
        Orders {
            slots: vec![None; n],
            open_slots: Vec::with_capacity(n),
            open_pos: vec![NOT_OPEN; n],
            counters: OrderCounters::default(),
        }
    }

    /// Records an order just sent, `InFlight`. A busy slot or a repeated id is counted and the
    /// order is not recorded.
    pub fn on_place(&mut self, o: &PlaceOrder, market: MarketIdx, now_ms: u64) {
        let i = self.slot(o.client_id);
        if let Some(old) = &self.slots[i] {
            if old.client_id == o.client_id {
                self.counters.duplicate_ids += 1;
                return;
            }
            if old.is_open() {
                self.counters.refused_slot_busy += 1;
                return;
            }
        }
        self.slots[i] = Some(OrderRecord {
            client_id: o.client_id,
            asset: o.asset,
            market,
            side: o.side,
            limit_px: o.limit_px,
            size: o.size,
            filled: Qty::ZERO,
            state: OrderState::InFlight,
            placed_ms: now_ms,
        });
        self.open_pos[i] = self.open_slots.len() as u32;
        self.open_slots.push(i as u32);
        self.counters.placed += 1;
    }

    /// Applies execution's report and returns the order as it now stands, or `None` (counted)
    /// for an id the table does not hold. A fill is returned even for a done order, so the
    /// caller always records the shares in positions.
    pub fn on_report(&mut self, r: &ExecReport) -> Option<&OrderRecord> {
        let i = self.slot(r.client_id);
        let Some(rec) = self.slots[i]
            .as_mut()
            .filter(|o| o.client_id == r.client_id)
        else {
            self.counters.unknown_reports += 1;
            return None;
        };
        let was_open = rec.is_open();
        if !was_open && r.kind != ExecKind::Done {
            self.counters.late_reports += 1;
        }
        match r.kind {
            ExecKind::Accepted | ExecKind::Fill { .. } if rec.state == OrderState::InFlight => {
                rec.state = OrderState::Live;
            }
            ExecKind::Rejected { .. } | ExecKind::Done => rec.state = OrderState::Done,
            _ => {}
        }
        match r.kind {
            ExecKind::Fill { qty, .. } => {
                let room = rec.size.0 - rec.filled.0;
                if qty.0 > room {
                    self.counters.overfills += 1;
                }
                rec.filled = Qty(rec.filled.0 + qty.0.min(room));
            }
            ExecKind::FillReversed { qty, .. } => {
                rec.filled = Qty(rec.filled.0.saturating_sub(qty.0));
            }
            _ => {}
        }
        if was_open && !rec.is_open() {
            self.close(i);
        }
        self.slots[i].as_ref()
    }

    /// The order with this id, if the table holds it.
    pub fn get(&self, id: ClientId) -> Option<&OrderRecord> {
        self.slots[self.slot(id)]
            .as_ref()
            .filter(|o| o.client_id == id)
    }

    /// Whether an order with this id would be recorded: its slot is empty or holds a done order.
    pub fn slot_free(&self, id: ClientId) -> bool {
        self.slots[self.slot(id)]
            .as_ref()
            .is_none_or(|o| o.client_id != id && !o.is_open())
    }

    /// How many orders are in flight or live.
    pub fn open_count(&self) -> usize {
        self.open_slots.len()
    }

    /// Every order in flight or live, in no particular order.
    pub fn open(&self) -> impl Iterator<Item = &OrderRecord> {
        self.open_slots
            .iter()
            .filter_map(|&i| self.slots[i as usize].as_ref())
    }

    /// Anomaly counters so far.
    pub fn counters(&self) -> &OrderCounters {
        &self.counters
    }

    fn slot(&self, id: ClientId) -> usize {
        (id.0 % self.slots.len() as u64) as usize
    }

    /// Removes slot `i` from the open list (swap-remove, fixing the moved entry's position).
    fn close(&mut self, i: usize) {
        let pos = self.open_pos[i] as usize;
        self.open_pos[i] = NOT_OPEN;
        self.open_slots.swap_remove(pos);
        if let Some(&moved) = self.open_slots.get(pos) {
            self.open_pos[moved as usize] = pos as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::intents::{GroupId, Liquidity, Tif, VenueReject};

    fn place(id: u64, size: u64) -> PlaceOrder {
        PlaceOrder {
            client_id: ClientId(id),
            asset: AssetIdx(1),
            side: Side::Buy,
            limit_px: Px(4_500),
            size: Qty::from_shares(size),
            tif: Tif::Gtc,
            post_only: false,
            group: GroupId(id),
            group_len: 1,
        }
    }

    fn report(id: u64, kind: ExecKind) -> ExecReport {
        ExecReport {
            client_id: ClientId(id),
            ts_ms: 5,
            kind,
        }
    }

    fn fill(shares: u64) -> ExecKind {
        ExecKind::Fill {
            px: Px(4_500),
            qty: Qty::from_shares(shares),
            fee: Usdc::ZERO,
            liquidity: Liquidity::Maker,
        }
    }

    fn state(o: &Orders, id: u64) -> Option<OrderState> {
        o.get(ClientId(id)).map(|r| r.state)
    }

    fn open_ids(o: &Orders) -> Vec<u64> {
        let mut ids: Vec<u64> = o.open().map(|r| r.client_id.0).collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn orders_move_in_flight_to_live_to_done() {
        let mut o = Orders::with_capacity(8);
        o.on_place(&place(1, 10), MarketIdx(0), 100);
        let rec = o.get(ClientId(1)).unwrap();
        assert_eq!(
            (rec.state, rec.market, rec.placed_ms),
            (OrderState::InFlight, MarketIdx(0), 100)
        );
        assert_eq!(o.open_count(), 1);
        o.on_report(&report(1, ExecKind::Accepted));
        assert_eq!(state(&o, 1), Some(OrderState::Live));
        let rec = o.on_report(&report(1, fill(4))).unwrap();
        assert_eq!(
            (rec.filled, rec.remaining()),
            (Qty::from_shares(4), Qty::from_shares(6))
        );
        assert_eq!(rec.open_notional(), Usdc(2_700_000));
        assert_eq!(o.open_count(), 1);
        o.on_report(&report(1, ExecKind::Done));
        assert_eq!(state(&o, 1), Some(OrderState::Done));
        assert_eq!(o.open_count(), 0);
        assert_eq!(o.counters().late_reports, 0);
    }

    #[test]
    fn rejects_close_and_a_fill_before_the_accept_proves_the_order_live() {
        let mut o = Orders::with_capacity(8);
        o.on_place(&place(1, 10), MarketIdx(0), 0);
        o.on_place(&place(2, 10), MarketIdx(0), 0);
        let reject = ExecKind::Rejected {
            reason: VenueReject::Balance,
        };
        o.on_report(&report(1, reject));
        assert_eq!(state(&o, 1), Some(OrderState::Done));
        o.on_report(&report(2, fill(1)));
        assert_eq!(state(&o, 2), Some(OrderState::Live));
        o.on_report(&report(2, ExecKind::Accepted));
        assert_eq!(state(&o, 2), Some(OrderState::Live));
        assert_eq!(open_ids(&o), vec![2]);
        o.on_report(&report(1, ExecKind::Accepted));
        assert_eq!(state(&o, 1), Some(OrderState::Done), "done is terminal");
        assert_eq!(o.counters().late_reports, 1);
    }

    #[test]
    fn unknown_ids_are_counted_not_applied() {
        let mut o = Orders::with_capacity(4);
        o.on_place(&place(1, 10), MarketIdx(0), 0);
        assert!(
            o.on_report(&report(5, ExecKind::Accepted)).is_none(),
            "same slot, other id"
        );
        assert!(o.on_report(&report(2, fill(1))).is_none(), "empty slot");
        assert_eq!(o.counters().unknown_reports, 2);
        assert_eq!(state(&o, 1), Some(OrderState::InFlight));
        assert!(o.get(ClientId(5)).is_none());
    }

    #[test]
    fn over_fills_stop_at_size_are_counted_and_still_returned() {
        let mut o = Orders::with_capacity(4);
        o.on_place(&place(1, 10), MarketIdx(0), 0);
        o.on_report(&report(1, fill(10)));
        assert_eq!(o.counters().overfills, 0);
        let rec = *o.on_report(&report(1, fill(3))).unwrap();
        assert_eq!(rec.filled, Qty::from_shares(10));
        assert_eq!(o.counters().overfills, 1);
        o.on_report(&report(1, ExecKind::Done));
        assert!(
            o.on_report(&report(1, fill(1))).is_some(),
            "late fills still reach positions"
        );
        assert_eq!((o.counters().overfills, o.counters().late_reports), (2, 1));
    }

    #[test]
    fn slots_are_reused_once_done_and_refused_while_open() {
        let mut o = Orders::with_capacity(2);
        o.on_place(&place(1, 1), MarketIdx(0), 0);
        o.on_place(&place(2, 1), MarketIdx(0), 0);
        assert!(!o.slot_free(ClientId(3)), "id 3 maps onto open order 1");
        o.on_place(&place(3, 1), MarketIdx(0), 0);
        assert_eq!(o.counters().refused_slot_busy, 1);
        assert!(o.get(ClientId(3)).is_none());
        o.on_report(&report(1, ExecKind::Done));
        assert!(o.slot_free(ClientId(3)));
        o.on_place(&place(3, 1), MarketIdx(0), 0);
        assert_eq!(state(&o, 3), Some(OrderState::InFlight));
        assert!(o.get(ClientId(1)).is_none(), "evicted");
        assert_eq!(open_ids(&o), vec![2, 3]);
        o.on_place(&place(3, 1), MarketIdx(0), 0);
        assert_eq!(o.counters().duplicate_ids, 1);
        assert!(!o.slot_free(ClientId(3)));
        assert_eq!(o.counters().placed, 3);
    }

    #[test]
    fn the_open_list_stays_exact_through_out_of_order_closes() {
        let mut o = Orders::with_capacity(16);
        for id in 0..10 {
            o.on_place(&place(id, 1), MarketIdx(0), 0);
        }
        for id in [3, 0, 9, 4] {
            o.on_report(&report(id, ExecKind::Done));
        }
        assert_eq!(open_ids(&o), vec![1, 2, 5, 6, 7, 8]);
        assert_eq!(o.open_count(), 6);
        o.on_report(&report(9, ExecKind::Done));
        assert_eq!(
            o.open_count(),
            6,
            "closing a done order twice changes nothing"
        );
    }

    #[test]
    fn a_zero_capacity_table_still_works_with_one_slot() {
        let mut o = Orders::with_capacity(0);
        o.on_place(&place(7, 1), MarketIdx(0), 0);
        assert_eq!(o.open_count(), 1);
    }
}
