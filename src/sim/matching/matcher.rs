//! The walk: which resting liquidity an incoming order meets, best effective price first —
//! the same asset's opposite side, and for a binary market the complement's same side (mint
//! for buys, merge for sells) — and the ledger movements of each fill.

use crate::domain::num::{Px, Qty, Side};
use crate::sim::matching::Engine;
use crate::sim::matching::ledger::Movement;
use crate::sim::matching::types::{
    AccountId, EngineEvent, MakerFill, NewOrder, OrderEventKind, OrderId, OrderStatus,
};
use crate::sim::world::World;

/// Shares trade in whole hundredths (the venue truncates sizes to 2 decimals).
pub const LOT: u64 = 10_000;

/// A level an incoming order can take from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crossing {
    /// The resting asset (the taker's, or its complement).
    pub asset: usize,
    /// The resting side.
    pub side: Side,
    /// The level's price.
    pub px: Px,
    /// The taker's price per share when taking it.
    pub eff: Px,
    /// Whether it is a mint (taker buys) or merge (taker sells) against the complement.
    pub complement: bool,
}

/// The other outcome of a binary market, if `asset`'s market is binary.
pub fn complement_of(world: &World, asset: usize) -> Option<usize> {
    match *world.market_of(asset).assets.as_slice() {
        [a, b] if a == asset => Some(b),
        [a, b] if b == asset => Some(a),
        _ => None,
    }
}

const fn opposite(side: Side) -> Side {
    match side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    }
}

/// Whether an order on `side` at `limit` accepts a price of `eff` per share.
fn accepts(side: Side, limit: Px, eff: Px) -> bool {
    match side {
        Side::Buy => eff <= limit,
        Side::Sell => eff >= limit,
    }
}

/// `qty` rounded down to whole lots.
pub const fn lots(qty: Qty) -> Qty {
    Qty(qty.0 / LOT * LOT)
}

/// `px × qty` in 1e-6 pUSD (exact for whole-lot sizes; floored otherwise).
pub fn cost(px: Px, qty: Qty) -> i64 {
    (u128::from(px.0) * u128::from(qty.0) / 10_000) as i64
}

/// Every level a `side` order on `asset` at `limit` crosses, best effective price first for
/// each source (same asset first, then the complement).
pub fn crossings(world: &World, asset: usize, side: Side, limit: Px) -> Vec<Crossing> {
    let book = &world.assets[asset].book;
    let direct = match side {
        Side::Buy => book.asks_best_first().collect::<Vec<_>>(),
        Side::Sell => book.bids_best_first().collect(),
    };
    let mut out: Vec<Crossing> = direct
        .into_iter()
        .map(|(px, _)| Crossing {
            asset,
            side: opposite(side),
            px,
            eff: px,
            complement: false,
        })
        .take_while(|c| accepts(side, limit, c.eff))
        .collect();
    if let Some(other) = complement_of(world, asset) {
        let book = &world.assets[other].book;
        let levels: Vec<_> = match side {
            Side::Buy => book.bids_best_first().collect(),
            Side::Sell => book.asks_best_first().collect(),
        };
        out.extend(
            levels
                .into_iter()
                .map(|(px, _)| Crossing {
                    asset: other,
                    side,
                    px,
                    eff: px.complement(),
                    complement: true,
                })
                .take_while(|c| accepts(side, limit, c.eff)),
        );
    }
    out
}

/// The best level to take next: best effective price, the same asset's level on a tie.
pub fn best_crossing(world: &World, asset: usize, side: Side, limit: Px) -> Option<Crossing> {
    crossings(world, asset, side, limit)
        .into_iter()
        .reduce(|best, c| {
            let better = match side {
                Side::Buy => c.eff < best.eff,
                Side::Sell => c.eff > best.eff,
            };
            if better { c } else { best }
        })
}

/// What a level can fill: the house's whole lots and every client order.
pub fn usable(world: &World, c: &Crossing) -> Qty {
    let book = &world.assets[c.asset].book;
    Qty(lots(book.house(c.side, c.px)).0 + book.client(c.side, c.px).0)
}

/// How much of `want` an order could fill right now.
pub fn fillable(world: &World, asset: usize, side: Side, limit: Px, want: Qty) -> Qty {
    let total: u64 = crossings(world, asset, side, limit)
        .iter()
        .map(|c| usable(world, c).0)
        .sum();
    Qty(total.min(want.0))
}

/// What one taker fill at one level was.
pub struct LevelFill {
    /// The makers met.
    pub makers: Vec<MakerFill>,
    /// Shares the taker traded.
    pub qty: Qty,
    /// Ledger movements, maker fees included.
    pub journal: Vec<Movement>,
}

impl Engine {
    /// Takes up to `want` from level `c` for `taker`: the house first, then client orders in
    /// arrival order. A house remainder below one lot is removed with it.
    pub(super) fn take_level(
        &mut self,
        world: &mut World,
        c: Crossing,
        taker: &NewOrder,
        want: Qty,
        now_ms: u64,
    ) -> LevelFill {
        let market = world.assets[c.asset].market;
        let fees = world.markets[market].spec.fees;
        let mut fill = LevelFill {
            makers: Vec::new(),
            qty: Qty::ZERO,
            journal: Vec::new(),
        };
        let book = &mut world.assets[c.asset].book;
        let house = Qty(lots(book.house(c.side, c.px)).0.min(want.0));
        if !house.is_zero() {
            book.take_house(c.side, c.px, house);
            fill.qty = house;
            fill.makers.push(MakerFill {
                order: OrderId::HOUSE,
                account: AccountId::HOUSE,
                owner: String::new(),
                maker_address: String::new(),
                asset: c.asset,
                side: c.side,
                price: c.px,
                qty: house,
                fee: fees.maker_fee(c.px, house),
            });
        }
        let residue = book.house(c.side, c.px);
        if !residue.is_zero() && residue.0 < LOT {
            book.take_house(c.side, c.px, residue);
        }
        while fill.qty < want {
            let Some(id) = self.queues.front(c.asset, c.side, c.px) else {
                break;
            };
            let Some(rec) = self.orders.get_mut(&id) else {
                self.queues.remove(c.asset, c.side, c.px, &id);
                continue;
            };
            let before = rec.remaining();
            let qty = Qty(before.0.min(want.0 - fill.qty.0));
            rec.fill(qty, now_ms);
            let o = &rec.snap.order;
            let maker = MakerFill {
                order: o.id,
                account: o.account,
                owner: o.owner.clone(),
                maker_address: o.maker_address.clone(),
                asset: c.asset,
                side: c.side,
                price: c.px,
                qty,
                fee: fees.maker_fee(c.px, qty),
            };
            let done = rec.remaining().is_zero();
            if done {
                rec.snap.status = OrderStatus::Matched;
            }
            let (account, side, price, seq) = (o.account, o.side, o.price, rec.seq);
            let release = self.reserve_of(world, side, price, before, c.asset)
                - self.reserve_of(world, side, price, Qty(before.0 - qty.0), c.asset);
            self.adjust_reserve(account, side, c.asset, -release);
            world.assets[c.asset].book.remove_client(c.side, c.px, qty);
            if done {
                self.queues.remove(c.asset, c.side, c.px, &id);
                self.open.remove(&seq);
            }
            fill.qty.0 += qty.0;
            fill.makers.push(maker);
        }
        self.events.push(EngineEvent::Book {
            asset: c.asset,
            side: c.side,
            px: c.px,
        });
        for m in &fill.makers {
            movements(&mut fill.journal, taker, &c, m, market);
        }
        fill
    }

    /// Emits an UPDATE for every client maker order in `makers`.
    pub(super) fn maker_updates(&mut self, makers: &[MakerFill], trade_id: &str) {
        for m in makers.iter().filter(|m| m.order != OrderId::HOUSE) {
            if let Some(rec) = self.orders.get_mut(&m.order) {
                rec.snap.trade_ids.push(trade_id.to_owned());
                self.events.push(EngineEvent::Order {
                    account: m.account,
                    kind: OrderEventKind::Update,
                    order: rec.snap.clone(),
                });
            }
        }
    }
}

/// The ledger movements of `taker` meeting maker fill `m` at level `c` (maker fee included).
fn movements(
    out: &mut Vec<Movement>,
    taker: &NewOrder,
    c: &Crossing,
    m: &MakerFill,
    market: usize,
) {
    let q = m.qty.0 as i64;
    let usdc = |account, delta| Movement::Usdc { account, delta };
    let shares = |account, asset, delta| Movement::Shares {
        account,
        asset,
        delta,
    };
    let taker_leg = cost(c.eff, m.qty);
    let maker_leg = cost(m.price, m.qty);
    let (t, mk) = (taker.account, m.account);
    match (taker.side, c.complement) {
        (Side::Buy, false) => out.extend([
            usdc(t, -taker_leg),
            usdc(mk, maker_leg),
            shares(mk, c.asset, -q),
            shares(t, taker.asset, q),
        ]),
        (Side::Sell, false) => out.extend([
            shares(t, taker.asset, -q),
            shares(mk, c.asset, q),
            usdc(mk, -maker_leg),
            usdc(t, taker_leg),
        ]),
        (Side::Buy, true) => out.extend([
            usdc(t, -taker_leg),
            usdc(mk, -maker_leg),
            Movement::Sets { market, delta: q },
            shares(t, taker.asset, q),
            shares(mk, c.asset, q),
        ]),
        (Side::Sell, true) => out.extend([
            shares(t, taker.asset, -q),
            shares(mk, c.asset, -q),
            Movement::Sets { market, delta: -q },
            usdc(t, taker_leg),
            usdc(mk, maker_leg),
        ]),
    }
    if m.fee.0 != 0 {
        out.extend([usdc(mk, -m.fee.0), usdc(AccountId::FEES, m.fee.0)]);
    }
}
