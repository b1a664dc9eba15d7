//! Maker-pair pricing and the leg policy: where to rest the two bids of a binary market, how
//! much of one outcome is held without its complement, and what to do about it.

use crate::domain::book::Book;
use crate::domain::books::BookSet;
use crate::domain::markets::Registry;
use crate::domain::num::{AssetIdx, MarketIdx, Px, Qty, Side, Usdc};
use crate::strategies::pair_arb::math::LOT;
use crate::strategies::pair_arb::params::MakerParams;

/// Why a binary market is not quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MakerSkip {
    /// The market does not have exactly two outcomes.
    NotBinary,
    /// The market is closed or not accepting orders.
    NotTradable,
    /// An outcome has resolved.
    Resolved,
    /// A book is not trusted until its next snapshot.
    StaleBook,
    /// A book's best bid is at or above its best ask.
    CrossedBook,
    /// A book lacks a bid or an ask to price against.
    EmptyBook,
    /// No pair of positive bids leaves the margin.
    NoRoom,
    /// The quote size is below the market's minimum order size.
    BelowMinSize,
}

impl MakerSkip {
    /// Every reason, in `index` order.
    pub const ALL: [MakerSkip; 8] = [
        MakerSkip::NotBinary,
        MakerSkip::NotTradable,
        MakerSkip::Resolved,
        MakerSkip::StaleBook,
        MakerSkip::CrossedBook,
        MakerSkip::EmptyBook,
        MakerSkip::NoRoom,
        MakerSkip::BelowMinSize,
    ];

    /// A stable snake_case name for reports and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            MakerSkip::NotBinary => "not_binary",
            MakerSkip::NotTradable => "not_tradable",
            MakerSkip::Resolved => "resolved",
            MakerSkip::StaleBook => "stale_book",
            MakerSkip::CrossedBook => "crossed_book",
            MakerSkip::EmptyBook => "empty_book",
            MakerSkip::NoRoom => "no_room",
            MakerSkip::BelowMinSize => "below_min_size",
        }
    }

    /// Its position in `ALL`, for counter arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// The two bids a maker pair should rest: `px[i]` on the market's outcome `i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairQuote {
    /// Bid price per outcome, in the market's outcome order.
    pub px: [Px; 2],
    /// Shares on each bid.
    pub size: Qty,
}

/// `qty` rounded down to whole 0.01-share lots.
pub fn lot_floor(qty: Qty) -> Qty {
    Qty(qty.0 - qty.0 % LOT.0)
}

/// A book the maker may price against: trusted, not crossed, its outcome not resolved.
fn usable(books: &BookSet, asset: AssetIdx) -> Result<&Book, MakerSkip> {
    let book = books.book(asset);
    if books.is_resolved(asset) {
        Err(MakerSkip::Resolved)
    } else if book.is_stale() {
        Err(MakerSkip::StaleBook)
    } else if book.is_crossed() {
        Err(MakerSkip::CrossedBook)
    } else {
        Ok(book)
    }
}

/// Whether bids at `px` for `size` pairs, plus the maker fees if both fill, leave
/// `margin_per_pair` per pair below the pair's payoff of 1. Exact, in 1e-12 USDC.
fn leaves_margin(px: [Px; 2], size: Qty, fees: [Usdc; 2], margin: Usdc) -> bool {
    let q = i128::from(size.0);
    let cost = (i128::from(px[0].0) + i128::from(px[1].0)) * 100 * q
        + (i128::from(fees[0].0) + i128::from(fees[1].0)) * 1_000_000;
    cost <= (1_000_000 - i128::from(margin.0)) * q
}

/// Where to rest the two bids of a binary market: each joins its side's best bid, stays at
/// least a tick below its best ask (post-only must not cross), and the higher of the two steps
/// down a tick at a time until `b_0 + b_1 + maker fees ≤ 1 − margin_per_pair` per pair.
pub fn desired_bids(
    reg: &Registry,
    books: &BookSet,
    market: MarketIdx,
    p: &MakerParams,
) -> Result<PairQuote, MakerSkip> {
    let info = reg.market(market);
    let [yes, no] = info.assets[..] else {
        return Err(MakerSkip::NotBinary);
    };
    if !info.tradable() {
        return Err(MakerSkip::NotTradable);
    }
    let size = lot_floor(p.quote_size);
    if size.is_zero() || size < info.min_order_size {
        return Err(MakerSkip::BelowMinSize);
    }
    let books = [usable(books, yes)?, usable(books, no)?];
    let mut px = [Px::ZERO; 2];
    let mut tick = [Px::ZERO; 2];
    for i in 0..2 {
        let (Some((bid, _)), Some((ask, _))) = (books[i].best_bid(), books[i].best_ask()) else {
            return Err(MakerSkip::EmptyBook);
        };
        tick[i] = books[i].tick();
        px[i] = bid.min(Px(ask.0.saturating_sub(tick[i].0)));
    }
    loop {
        if px[0] == Px::ZERO || px[1] == Px::ZERO {
            return Err(MakerSkip::NoRoom);
        }
        let fees = [
            info.fees.maker_fee(px[0], size),
            info.fees.maker_fee(px[1], size),
        ];
        if leaves_margin(px, size, fees, p.margin_per_pair) {
            return Ok(PairQuote { px, size });
        }
        let i = usize::from(px[1] > px[0]);
        px[i] = Px(px[i].0.saturating_sub(tick[i].0));
    }
}

/// Shares of one outcome of a binary market held without their complement, from this engine's
/// own fills, with what they cost and since when.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exposure {
    outcome: u8,
    qty: Qty,
    /// Total cost of the unpaired shares, in 1e-10 USDC.
    cost: u128,
    since_ms: u64,
}

impl Exposure {
    /// The unpaired shares (zero when hedged).
    pub fn qty(&self) -> Qty {
        self.qty
    }

    /// Which outcome the unpaired shares are (meaningless when `qty` is zero).
    pub fn outcome(&self) -> u8 {
        self.outcome
    }

    /// When the current unpaired position opened, Unix milliseconds.
    pub fn since_ms(&self) -> u64 {
        self.since_ms
    }

    /// Average cost per unpaired share, rounded up (against ourselves).
    pub fn cost_px(&self) -> Px {
        if self.qty.is_zero() {
            return Px::ZERO;
        }
        let px = self.cost.div_ceil(u128::from(self.qty.0));
        Px(px.min(u128::from(Px::ONE.0)) as u16)
    }

    /// Applies one fill of `qty` shares of `outcome` at `px`. A buy pairs off unpaired shares of
    /// the complement first and adds the rest; a sell reduces unpaired shares of the same outcome
    /// first, and the rest came out of held pairs, leaving their complements unpaired at an
    /// effective cost of `1 − px`. Returns the pairs the fill completed.
    pub fn on_fill(&mut self, outcome: u8, side: Side, px: Px, qty: Qty, ts_ms: u64) -> Qty {
        let (gained, cost_px) = match side {
            Side::Buy => (outcome, px),
            Side::Sell => (1 - outcome, px.complement()),
        };
        if self.qty.is_zero() || self.outcome == gained {
            self.add(gained, cost_px, qty, ts_ms);
            return Qty::ZERO;
        }
        let matched = self.qty.min(qty);
        self.reduce(matched);
        self.add(gained, cost_px, Qty(qty.0 - matched.0), ts_ms);
        if side == Side::Buy {
            matched
        } else {
            Qty::ZERO
        }
    }

    fn add(&mut self, outcome: u8, px: Px, qty: Qty, ts_ms: u64) {
        if qty.is_zero() {
            return;
        }
        if self.qty.is_zero() {
            *self = Exposure {
                outcome,
                qty: Qty::ZERO,
                cost: 0,
                since_ms: ts_ms,
            };
        }
        self.qty = Qty(self.qty.0 + qty.0);
        self.cost += px.notional(qty).0;
    }

    fn reduce(&mut self, qty: Qty) {
        let left = self.qty.0 - qty.0;
        self.cost = (self.cost * u128::from(left)).div_ceil(u128::from(self.qty.0));
        self.qty = Qty(left);
    }
}

/// What the leg policy decides for an unhedged binary market.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegAction {
    /// Keep waiting (the resting quote on the missing side may still fill).
    Hold,
    /// Buy the missing outcome now, FAK at its best ask.
    Take {
        /// The missing outcome's token.
        asset: AssetIdx,
        /// Its best ask.
        px: Px,
        /// The unhedged shares, in whole lots.
        qty: Qty,
    },
    /// Sell the unpaired shares, FAK at their best bid.
    Unwind {
        /// The unpaired outcome's token.
        asset: AssetIdx,
        /// Its best bid.
        px: Px,
        /// The unhedged shares, in whole lots.
        qty: Qty,
    },
}

/// The leg policy: take the missing side when `1 − cost − ask − taker fee` still leaves
/// `min_leg_edge` per share; otherwise hold, until the leg has been unhedged for
/// `leg_timeout_ms` and is larger than `max_unhedged`, then unwind it at the bid.
pub fn leg_action(
    reg: &Registry,
    books: &BookSet,
    market: MarketIdx,
    exposure: &Exposure,
    p: &MakerParams,
    now_ms: u64,
) -> LegAction {
    let info = reg.market(market);
    let qty = lot_floor(exposure.qty);
    let [yes, no] = info.assets[..] else {
        return LegAction::Hold;
    };
    if qty.is_zero() || qty < info.min_order_size || !info.tradable() {
        return LegAction::Hold;
    }
    let (held, missing) = if exposure.outcome == 0 {
        (yes, no)
    } else {
        (no, yes)
    };
    if let Some((ask, _)) = usable(books, missing).ok().and_then(Book::best_ask) {
        let fee = info.fees.taker_fee(ask, qty);
        let per_share =
            i128::from(Px::ONE.0) - i128::from(exposure.cost_px().0) - i128::from(ask.0);
        let q = i128::from(qty.0);
        let edge = per_share * 100 * q - i128::from(fee.0) * 1_000_000;
        if edge >= i128::from(p.min_leg_edge.0) * q {
            return LegAction::Take {
                asset: missing,
                px: ask,
                qty,
            };
        }
    }
    let timed_out = now_ms.saturating_sub(exposure.since_ms) >= p.leg_timeout_ms;
    if timed_out
        && exposure.qty > p.max_unhedged
        && let Some((bid, _)) = usable(books, held).ok().and_then(Book::best_bid)
    {
        return LegAction::Unwind {
            asset: held,
            px: bid,
            qty,
        };
    }
    LegAction::Hold
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::events::{Event, EventBody};
    use crate::domain::fees::FeeSchedule;
    use crate::domain::markets::MarketSpec;
    use crate::strategies::pair_arb::params::tests::params;

    const M: MarketIdx = MarketIdx(0);
    const YES: AssetIdx = AssetIdx(0);
    const NO: AssetIdx = AssetIdx(1);

    /// One binary market (tokens "1"/"2", tick 0.01, min size 5) with the given fees.
    pub(crate) fn binary(fees: FeeSchedule) -> Registry {
        let mut r = Registry::default();
        r.add_market(MarketSpec {
            condition_id: "0xaa".into(),
            token_ids: vec!["1".into(), "2".into()],
            tick: Px(100),
            min_order_size: Qty::from_shares(5),
            fees,
            ..MarketSpec::default()
        })
        .expect("a valid market");
        r
    }

    /// Replaces `asset`'s book with one bid and one ask of 100 shares (0 = no level) in one
    /// message at `ts`.
    pub(crate) fn quote(books: &mut BookSet, asset: AssetIdx, ts: u64, bid: u16, ask: u16) {
        let mut resync = Vec::new();
        let mut apply = |body| {
            books.apply(&Event::new(ts, body), &mut resync);
        };
        apply(EventBody::BookSnapshot { asset });
        for (side, px) in [(Side::Buy, bid), (Side::Sell, ask)] {
            if px != 0 {
                apply(EventBody::Level {
                    asset,
                    side,
                    px: Px(px),
                    qty: Qty::from_shares(100),
                });
            }
        }
        books.end_message(&[asset], &mut resync);
    }

    fn market(yes: (u16, u16), no: (u16, u16), fees: FeeSchedule) -> (Registry, BookSet) {
        let r = binary(fees);
        let mut b = BookSet::new(&r);
        quote(&mut b, YES, 1, yes.0, yes.1);
        quote(&mut b, NO, 1, no.0, no.1);
        (r, b)
    }

    fn maker_fees() -> FeeSchedule {
        FeeSchedule {
            rate_ppm: 30_000,
            exponent: 1,
            taker_only: false,
        }
    }

    #[test]
    fn joins_both_best_bids_when_their_sum_leaves_the_margin() {
        let (r, b) = market((4500, 4700), (4400, 4600), FeeSchedule::FREE);
        let q = desired_bids(&r, &b, M, &params().maker_params).unwrap();
        assert_eq!(q.px, [Px(4500), Px(4400)]);
        assert_eq!(q.size, Qty::from_shares(10));
    }

    #[test]
    fn lowers_the_higher_bid_until_the_sum_leaves_the_margin() {
        // Joining gives 0.51 + 0.49 = 1.00; the margin of 0.01 needs at most 0.99.
        let (r, b) = market((5100, 5300), (4900, 5000), FeeSchedule::FREE);
        let q = desired_bids(&r, &b, M, &params().maker_params).unwrap();
        assert_eq!(q.px, [Px(5000), Px(4900)]);
        let sum = q.px[0].0 + q.px[1].0;
        assert!(sum <= 9_900);
    }

    #[test]
    fn maker_fees_push_the_bids_further_down() {
        let book = ((5000, 5300), (4900, 5000));
        let (r, b) = market(book.0, book.1, FeeSchedule::FREE);
        let free = desired_bids(&r, &b, M, &params().maker_params).unwrap();
        let (r, b) = market(book.0, book.1, maker_fees());
        let paid = desired_bids(&r, &b, M, &params().maker_params).unwrap();
        assert_eq!(free.px, [Px(5000), Px(4900)]);
        // Fees of 0.03·p(1−p) ≈ 0.0075 a leg: 0.49 + 0.49 + 0.015 > 0.99, 0.48 + 0.49 fits.
        assert_eq!(paid.px, [Px(4800), Px(4900)]);
        let fees = [
            maker_fees().maker_fee(paid.px[0], paid.size),
            maker_fees().maker_fee(paid.px[1], paid.size),
        ];
        assert!(leaves_margin(paid.px, paid.size, fees, Usdc(10_000)));
        let one_up = [Px(paid.px[0].0 + 100), paid.px[1]];
        let fees_up = [maker_fees().maker_fee(one_up[0], paid.size), fees[1]];
        assert!(!leaves_margin(one_up, paid.size, fees_up, Usdc(10_000)));
    }

    #[test]
    fn never_bids_at_or_above_the_ask() {
        // The NO book is one tick wide: its best bid would join at 0.40, its ask is 0.41.
        let (r, b) = market((3000, 3100), (4000, 4100), FeeSchedule::FREE);
        let q = desired_bids(&r, &b, M, &params().maker_params).unwrap();
        assert_eq!(q.px, [Px(3000), Px(4000)]);
        assert!(q.px[1] < Px(4100));
    }

    #[test]
    fn refuses_books_it_cannot_price_against() {
        let p = params().maker_params;
        let (r, b) = market((4500, 4700), (0, 4600), FeeSchedule::FREE);
        assert_eq!(desired_bids(&r, &b, M, &p), Err(MakerSkip::EmptyBook));
        let r = binary(FeeSchedule::FREE);
        let mut b = BookSet::new(&r);
        quote(&mut b, YES, 1, 4500, 4700);
        assert_eq!(desired_bids(&r, &b, M, &p), Err(MakerSkip::StaleBook));
        let mut small = p;
        small.quote_size = Qty::from_shares(4);
        let (r, b) = market((4500, 4700), (4400, 4600), FeeSchedule::FREE);
        assert_eq!(
            desired_bids(&r, &b, M, &small),
            Err(MakerSkip::BelowMinSize)
        );
        let mut greedy = p;
        greedy.margin_per_pair = Usdc(1_000_000);
        assert_eq!(desired_bids(&r, &b, M, &greedy), Err(MakerSkip::NoRoom));
    }

    #[test]
    fn exposure_pairs_off_buys_and_turns_pair_sales_into_the_complement() {
        let mut e = Exposure::default();
        assert_eq!(
            e.on_fill(0, Side::Buy, Px(4000), Qty::from_shares(10), 7),
            Qty::ZERO
        );
        assert_eq!(
            (e.outcome(), e.qty(), e.cost_px(), e.since_ms()),
            (0, Qty::from_shares(10), Px(4000), 7)
        );
        let pairs = e.on_fill(1, Side::Buy, Px(5000), Qty::from_shares(4), 9);
        assert_eq!(pairs, Qty::from_shares(4));
        assert_eq!(
            (e.qty(), e.cost_px(), e.since_ms()),
            (Qty::from_shares(6), Px(4000), 7)
        );
        // Buying more of the complement than is unpaired flips the exposure, opened anew.
        assert_eq!(
            e.on_fill(1, Side::Buy, Px(5000), Qty::from_shares(8), 11),
            Qty::from_shares(6)
        );
        assert_eq!(
            (e.outcome(), e.qty(), e.cost_px(), e.since_ms()),
            (1, Qty::from_shares(2), Px(5000), 11)
        );
        // Selling the unpaired shares closes them; selling a pair's half leaves the other.
        assert_eq!(
            e.on_fill(1, Side::Sell, Px(4800), Qty::from_shares(2), 12),
            Qty::ZERO
        );
        assert!(e.qty().is_zero());
        e.on_fill(0, Side::Sell, Px(5300), Qty::from_shares(3), 13);
        assert_eq!(
            (e.outcome(), e.qty(), e.cost_px()),
            (1, Qty::from_shares(3), Px(4700))
        );
    }

    fn long_yes(px: u16, shares: u64, since: u64) -> Exposure {
        let mut e = Exposure::default();
        e.on_fill(0, Side::Buy, Px(px), Qty::from_shares(shares), since);
        e
    }

    #[test]
    fn leg_policy_takes_the_missing_side_while_the_edge_holds() {
        let (r, b) = market((4000, 4200), (5500, 5700), FeeSchedule::FREE);
        let p = params().maker_params;
        // Bought YES at 0.40; NO asks 0.57: 1 − 0.40 − 0.57 = 0.03 ≥ 0.
        let e = long_yes(4000, 10, 0);
        assert_eq!(
            leg_action(&r, &b, M, &e, &p, 0),
            LegAction::Take {
                asset: NO,
                px: Px(5700),
                qty: Qty::from_shares(10)
            }
        );
        let mut strict = p;
        strict.min_leg_edge = Usdc(30_001);
        assert_eq!(leg_action(&r, &b, M, &e, &strict, 0), LegAction::Hold);
        strict.min_leg_edge = Usdc(30_000);
        assert!(matches!(
            leg_action(&r, &b, M, &e, &strict, 0),
            LegAction::Take { .. }
        ));
    }

    #[test]
    fn leg_policy_counts_the_taker_fee_of_the_missing_side() {
        let taker = FeeSchedule {
            rate_ppm: 30_000,
            exponent: 1,
            taker_only: true,
        };
        let (r, b) = market((4000, 4200), (5500, 5700), taker);
        let mut p = params().maker_params;
        // Fee at 0.57: 0.03 × 0.57 × 0.43 = 0.007353 per share: edge 0.022647 per share.
        p.min_leg_edge = Usdc(22_647);
        let e = long_yes(4000, 10, 0);
        assert!(matches!(
            leg_action(&r, &b, M, &e, &p, 0),
            LegAction::Take { .. }
        ));
        p.min_leg_edge = Usdc(22_648);
        assert_eq!(leg_action(&r, &b, M, &e, &p, 0), LegAction::Hold);
    }

    #[test]
    fn leg_policy_holds_then_unwinds_after_the_timeout() {
        // NO asks 0.65: taking would lose 0.05 a share. YES bids 0.38.
        let (r, b) = market((3800, 4200), (5500, 6500), FeeSchedule::FREE);
        let p = params().maker_params;
        let e = long_yes(4000, 10, 1_000);
        assert_eq!(
            leg_action(&r, &b, M, &e, &p, 1_000 + p.leg_timeout_ms - 1),
            LegAction::Hold
        );
        assert_eq!(
            leg_action(&r, &b, M, &e, &p, 1_000 + p.leg_timeout_ms),
            LegAction::Unwind {
                asset: YES,
                px: Px(3800),
                qty: Qty::from_shares(10)
            }
        );
        let mut tolerant = p;
        tolerant.max_unhedged = Qty::from_shares(10);
        assert_eq!(
            leg_action(&r, &b, M, &e, &tolerant, 1_000_000),
            LegAction::Hold
        );
        let small = long_yes(4000, 4, 1_000);
        assert_eq!(
            leg_action(&r, &b, M, &small, &p, 1_000_000),
            LegAction::Hold,
            "below min size"
        );
    }
}
