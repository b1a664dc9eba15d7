//! Property tests for the order book against a naive `BTreeMap` model, plus a check that the hot
//! path never touches the heap.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;

use pmbot::domain::book::{Book, BookError, Fill};
use pmbot::domain::digest::BookDigest;
use pmbot::domain::markets::VALID_TICKS;
use pmbot::domain::{Notional, Px, Qty, Side};
use proptest::prelude::*;

/// Counts allocations made by the current thread, so parallel tests do not disturb each other.
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// The obvious book: price units → size, one map per side.
#[derive(Default)]
struct Model {
    bids: BTreeMap<u16, u64>,
    asks: BTreeMap<u16, u64>,
}

impl Model {
    fn side(&mut self, side: Side) -> &mut BTreeMap<u16, u64> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Bids from the highest down, or asks from the lowest up.
    fn levels(&self, side: Side) -> Vec<(Px, Qty)> {
        let as_level = |(&p, &q): (&u16, &u64)| (Px(p), Qty(q));
        match side {
            Side::Buy => self.bids.iter().rev().map(as_level).collect(),
            Side::Sell => self.asks.iter().map(as_level).collect(),
        }
    }

    fn walk(&self, side: Side, qty: u64) -> Fill {
        let (mut filled, mut notional, mut worst, mut levels) = (0u64, 0u128, None, 0u32);
        for (px, size) in self.levels(side) {
            if filled == qty {
                break;
            }
            let take = size.0.min(qty - filled);
            filled += take;
            notional += u128::from(px.0) * u128::from(take);
            worst = Some(px);
            levels += 1;
        }
        Fill {
            filled: Qty(filled),
            notional: Notional(notional),
            worst_px: worst,
            levels,
        }
    }

    fn digest(&self) -> u64 {
        let mut d = BookDigest::new();
        self.levels(Side::Buy)
            .into_iter()
            .for_each(|(p, q)| d.bid(p, q));
        self.levels(Side::Sell)
            .into_iter()
            .for_each(|(p, q)| d.ask(p, q));
        d.finish()
    }
}

#[derive(Clone, Debug)]
enum Op {
    Set { side: Side, px: u16, qty: u64 },
    Clear,
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

/// Prices that hit the ladder (everywhere, and clustered so levels get replaced and removed),
/// its ends, off-tick prices and prices above 1.
fn price(tick: u16) -> impl Strategy<Value = u16> {
    let top = 10_000 / tick;
    let mid = top / 2;
    let (lo, hi) = (mid.saturating_sub(6), (mid + 6).min(top));
    prop_oneof![
        3 => (0..=top).prop_map(move |i| i * tick),
        6 => (lo..=hi).prop_map(move |i| i * tick),
        1 => prop_oneof![Just(0u16), Just(10_000u16)],
        1 => 0u16..=10_000,
        1 => 10_001u16..=u16::MAX,
    ]
}

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => Just(0u64),
        5 => 1u64..=100_000_000,
        1 => any::<u64>(),
    ]
}

fn op(tick: u16) -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (side(), price(tick), size()).prop_map(|(side, px, qty)| Op::Set { side, px, qty }),
        1 => Just(Op::Clear),
    ]
}

fn scenario() -> impl Strategy<Value = (u16, Vec<Op>, Vec<u64>)> {
    proptest::sample::select(VALID_TICKS.to_vec()).prop_flat_map(|tick| {
        (
            Just(tick),
            proptest::collection::vec(op(tick), 1..120),
            proptest::collection::vec(prop_oneof![0u64..=300_000_000, any::<u64>()], 1..4),
        )
    })
}

fn expected_refusal(tick: u16, px: u16) -> Option<BookError> {
    if px > 10_000 {
        Some(BookError::OutOfRange { px: Px(px) })
    } else if !px.is_multiple_of(tick) {
        Some(BookError::OffTick {
            px: Px(px),
            tick: Px(tick),
        })
    } else {
        None
    }
}

fn check_agrees(book: &Book, model: &Model, walks: &[u64]) -> Result<(), TestCaseError> {
    let (bids, asks) = (model.levels(Side::Buy), model.levels(Side::Sell));
    prop_assert_eq!(book.best_bid(), bids.first().copied());
    prop_assert_eq!(book.best_ask(), asks.first().copied());
    prop_assert_eq!(book.depth(Side::Buy), bids.len());
    prop_assert_eq!(book.depth(Side::Sell), asks.len());
    prop_assert_eq!(book.levels(Side::Buy).collect::<Vec<_>>(), bids);
    prop_assert_eq!(book.levels(Side::Sell).collect::<Vec<_>>(), asks);
    let crossed = matches!(
        (model.bids.last_key_value(), model.asks.first_key_value()),
        (Some((b, _)), Some((a, _))) if b >= a
    );
    prop_assert_eq!(book.is_crossed(), crossed);
    prop_assert_eq!(book.digest(), model.digest());
    let total_asks: u64 = model.asks.values().fold(0u64, |s, &q| s.saturating_add(q));
    let total_bids: u64 = model.bids.values().fold(0u64, |s, &q| s.saturating_add(q));
    for &q in walks.iter().chain(&[total_asks, total_bids]) {
        prop_assert_eq!(book.cost_to_buy(Qty(q)), model.walk(Side::Sell, q));
        prop_assert_eq!(book.proceeds_to_sell(Qty(q)), model.walk(Side::Buy, q));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn book_matches_naive_model((tick, ops, walks) in scenario()) {
        let mut book = Book::new(Px(tick)).expect("venue tick");
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Set { side, px, qty } => {
                    let before = book.clone();
                    let result = book.set_level(side, Px(px), Qty(qty));
                    match expected_refusal(tick, px) {
                        Some(err) => {
                            prop_assert_eq!(result, Err(err));
                            prop_assert!(book == before, "refused op changed the book");
                        }
                        None => {
                            prop_assert_eq!(result, Ok(()));
                            if qty == 0 {
                                model.side(side).remove(&px);
                            } else {
                                model.side(side).insert(px, qty);
                            }
                        }
                    }
                }
                Op::Clear => {
                    book.clear();
                    model = Model::default();
                }
            }
            check_agrees(&book, &model, &walks)?;
        }
    }
}

#[test]
fn hot_path_does_not_allocate() {
    let mut book = Book::new(Px(1)).expect("venue tick");
    let start = allocations();
    let mut sink = 0u128;
    for round in 0..50u16 {
        for i in 0..200u16 {
            let px = Px((i * 37 + round) % 10_001);
            let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
            book.set_level(side, px, Qty(u64::from(i) + 1))
                .expect("on tick");
        }
        for i in 0..100u16 {
            let px = Px((i * 74 + round) % 10_001);
            book.set_level(Side::Buy, px, Qty::ZERO).expect("on tick");
        }
        let refused = book.set_level(Side::Sell, Px(10_001), Qty(1));
        sink += u128::from(refused.is_err());
        sink += book.cost_to_buy(Qty(5_000)).notional.0;
        sink += book.proceeds_to_sell(Qty(5_000)).notional.0;
        sink += book
            .levels(Side::Sell)
            .map(|(p, _)| u128::from(p.0))
            .sum::<u128>();
        sink += u128::from(book.digest());
        sink += u128::from(book.is_crossed());
        sink += book.best_bid().map_or(0, |(p, _)| u128::from(p.0));
        sink += book.best_ask().map_or(0, |(p, _)| u128::from(p.0));
        sink += book.depth(Side::Buy) as u128;
        book.clear();
    }
    assert_eq!(allocations() - start, 0, "hot path allocated");
    assert_ne!(sink, 0);
}
