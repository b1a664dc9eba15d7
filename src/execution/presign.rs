//! Presigned orders: signing costs far more than sending, so idle time signs the orders the
//! strategy is likely to send next and the hot path takes them ready-made.
//!
//! An entry is keyed by what the signature covers: asset, side, price and size (order type,
//! post-only and expiration travel beside the signed order, so one entry serves any of them).
//! `take` hands an entry out once — a signed order is sent at most once, since its hash is its
//! venue id. Entries die when their market's tick or fees change, when they grow older than the
//! configured age, or when the planner's window moves away from them. The cache is generic over
//! the signed value so it holds `signing::SignedOrder` without depending on how it is made.
//!
//! Memory is fixed at start-up; `take` never allocates.
//!
//! Idle-time use: `if planner.watch(w) { cache.retain(|k| planner.wants(k)); }` when a centre
//! moves, then `if let Some((key, market)) = planner.next(&cache) { cache.insert(key, market,
//! sign(key), now) }` once per idle turn.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::domain::fees::FeeSchedule;
use crate::domain::markets::TokenHasher;
use crate::domain::num::{AssetIdx, MarketIdx, Px, Qty, Side};

/// What a presigned order is looked up by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PresignKey {
    /// The outcome token.
    pub asset: AssetIdx,
    /// Buy or sell.
    pub side: Side,
    /// The limit price, on the tick.
    pub px: Px,
    /// Shares.
    pub size: Qty,
}

/// What the cache did, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PresignCounters {
    /// `take` calls that found a usable entry.
    pub hits: u64,
    /// `take` calls that found none (or only one too old).
    pub misses: u64,
    /// Entries stored.
    pub inserted: u64,
    /// Entries dropped for a tick or fee change, or outside the planner's window.
    pub invalidated: u64,
    /// Entries dropped for age.
    pub expired: u64,
}

/// One stored signed order.
#[derive(Clone, Debug)]
struct Entry<T> {
    key: PresignKey,
    market: MarketIdx,
    signed_ms: u64,
    value: T,
}

/// A bounded store of signed orders.
#[derive(Debug)]
pub struct PresignCache<T> {
    slots: Vec<Option<Entry<T>>>,
    free: Vec<u32>,
    index: HashMap<PresignKey, u32, BuildHasherDefault<TokenHasher>>,
    /// Per market, the tick and fees its entries were signed under.
    params: Vec<Option<(Px, FeeSchedule)>>,
    max_age_ms: u64,
    counters: PresignCounters,
}

impl<T> PresignCache<T> {
    /// A cache of at most `capacity` entries (at least 1) over `markets` markets, each usable
    /// for `max_age_ms` after signing.
    pub fn new(capacity: usize, markets: usize, max_age_ms: u64) -> Self {
        let capacity = capacity.clamp(1, u32::MAX as usize / 2);
        PresignCache {
            slots: (0..capacity).map(|_| None).collect(),
            free: (0..capacity as u32).rev().collect(),
            // Twice the most entries ever held: a full table rehashes in place, never grows.
            index: HashMap::with_capacity_and_hasher(2 * capacity, Default::default()),
            params: vec![None; markets],
            max_age_ms,
            counters: PresignCounters::default(),
        }
    }

    /// Stores a signed order for `key` (of `market`) signed at `now_ms`. Returns false, keeping
    /// the cache as it was, when the key is already stored or the cache is full.
    pub fn insert(&mut self, key: PresignKey, market: MarketIdx, value: T, now_ms: u64) -> bool {
        if self.index.contains_key(&key) {
            return false;
        }
        let Some(i) = self.free.pop() else {
            return false;
        };
        self.slots[i as usize] = Some(Entry {
            key,
            market,
            signed_ms: now_ms,
            value,
        });
        self.index.insert(key, i);
        self.counters.inserted += 1;
        true
    }

    /// Takes the signed order for `key` out of the cache: a hit returns it (and it is gone), a
    /// miss returns `None`. An entry older than the age limit is dropped and counts as a miss.
    pub fn take(&mut self, key: &PresignKey, now_ms: u64) -> Option<T> {
        let Some(i) = self.index.remove(key) else {
            self.counters.misses += 1;
            return None;
        };
        let e = self.release(i);
        if now_ms.saturating_sub(e.signed_ms) > self.max_age_ms {
            self.counters.expired += 1;
            self.counters.misses += 1;
            return None;
        }
        self.counters.hits += 1;
        Some(e.value)
    }

    /// Whether `key` is stored.
    pub fn contains(&self, key: &PresignKey) -> bool {
        self.index.contains_key(key)
    }

    /// Records `market`'s current tick and fees, dropping its entries if either changed since
    /// the last call. Returns how many were dropped.
    pub fn on_market_params(&mut self, market: MarketIdx, tick: Px, fees: FeeSchedule) -> usize {
        let Some(known) = self.params.get_mut(market.0 as usize) else {
            return 0;
        };
        let changed = known.is_some_and(|k| k != (tick, fees));
        *known = Some((tick, fees));
        if changed {
            self.invalidate_market(market)
        } else {
            0
        }
    }

    /// Drops every entry of `market`. Returns how many.
    pub fn invalidate_market(&mut self, market: MarketIdx) -> usize {
        let n = self.drop_where(|e| e.market == market);
        self.counters.invalidated += n as u64;
        n
    }

    /// Drops every entry older than the age limit at `now_ms`. Returns how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let max_age_ms = self.max_age_ms;
        let n = self.drop_where(|e| now_ms.saturating_sub(e.signed_ms) > max_age_ms);
        self.counters.expired += n as u64;
        n
    }

    /// Keeps only the entries whose key `keep` accepts. Returns how many were dropped.
    pub fn retain(&mut self, mut keep: impl FnMut(&PresignKey) -> bool) -> usize {
        let n = self.drop_where(|e| !keep(&e.key));
        self.counters.invalidated += n as u64;
        n
    }

    /// Entries stored.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Whether no entry can be added.
    pub fn is_full(&self) -> bool {
        self.free.is_empty()
    }

    /// What the cache did so far.
    pub fn counters(&self) -> &PresignCounters {
        &self.counters
    }

    /// Empties slot `i` (already out of the index) and returns its entry.
    fn release(&mut self, i: u32) -> Entry<T> {
        self.free.push(i);
        self.slots[i as usize]
            .take()
            .expect("indexed slots hold an entry")
    }

    fn drop_where(&mut self, mut gone: impl FnMut(&Entry<T>) -> bool) -> usize {
        let mut n = 0;
        for i in 0..self.slots.len() {
            if self.slots[i].as_ref().is_some_and(&mut gone) {
                let e = self.release(i as u32);
                self.index.remove(&e.key);
                n += 1;
            }
        }
        n
    }
}

/// An asset the planner presigns around.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watch {
    /// The outcome token.
    pub asset: AssetIdx,
    /// Its market.
    pub market: MarketIdx,
    /// The price to centre the window on (snapped down to the tick).
    pub centre: Px,
    /// The market's tick.
    pub tick: Px,
}

/// Chooses the next order to presign: for every watched asset, both sides, every configured
/// size, at the centre and up to `k` ticks either side, nearest the centre first.
#[derive(Clone, Debug)]
pub struct PresignPlanner {
    /// The configured sizes, then up to [`LEARNED_SIZES`] sizes learned from recent orders.
    sizes: Vec<Qty>,
    configured: usize,
    /// Where the next learned size goes once all learned slots are taken.
    next_learned: usize,
    k: u16,
    watches: Vec<Watch>,
}

/// Recent order sizes the planner adds to the configured ones (a taker's size follows the depth
/// it finds, so the sizes it just traded are the likeliest next ones).
pub const LEARNED_SIZES: usize = 2;

impl PresignPlanner {
    /// A planner for these order sizes, `k` ticks either side of each centre.
    pub fn new(sizes: &[Qty], k: u16) -> Self {
        let mut all = Vec::with_capacity(sizes.len() + LEARNED_SIZES);
        all.extend_from_slice(sizes);
        PresignPlanner {
            configured: sizes.len(),
            sizes: all,
            next_learned: 0,
            k,
            watches: Vec::new(),
        }
    }

    /// Adds the size of an order just sent to the sizes signed ahead, replacing the oldest
    /// learned one when all slots are taken. Returns whether the sizes changed (the caller then
    /// drops what fell out with `cache.retain(|k| planner.wants(k))`).
    pub fn learn_size(&mut self, size: Qty) -> bool {
        if self.sizes.contains(&size) {
            return false;
        }
        if self.sizes.len() < self.configured + LEARNED_SIZES {
            self.sizes.push(size);
        } else {
            self.sizes[self.configured + self.next_learned] = size;
            self.next_learned = (self.next_learned + 1) % LEARNED_SIZES;
        }
        true
    }

    /// Watches an asset or moves its window. Returns whether the window changed (the caller
    /// then drops what fell out of it with `cache.retain(|k| planner.wants(k))`).
    pub fn watch(&mut self, w: Watch) -> bool {
        let w = Watch {
            centre: snap(w.centre, w.tick),
            ..w
        };
        match self.watches.iter_mut().find(|x| x.asset == w.asset) {
            Some(x) if *x == w => false,
            Some(x) => {
                *x = w;
                true
            }
            None => {
                self.watches.push(w);
                true
            }
        }
    }

    /// Stops watching an asset.
    pub fn unwatch(&mut self, asset: AssetIdx) {
        self.watches.retain(|w| w.asset != asset);
    }

    /// The nearest-to-centre order not yet in `cache`, with its market, or `None` when the
    /// whole window is signed or the cache is full.
    pub fn next<T>(&self, cache: &PresignCache<T>) -> Option<(PresignKey, MarketIdx)> {
        if cache.is_full() {
            return None;
        }
        for d in 0..=self.k {
            for w in &self.watches {
                for px in window_prices(w, d) {
                    for side in [Side::Buy, Side::Sell] {
                        for &size in &self.sizes {
                            let key = PresignKey {
                                asset: w.asset,
                                side,
                                px,
                                size,
                            };
                            if !cache.contains(&key) {
                                return Some((key, w.market));
                            }
                        }
                    }
                }
            }
        }
        None
    }

    /// Whether `key` lies in its asset's current window with a configured or learned size.
    pub fn wants(&self, key: &PresignKey) -> bool {
        let Some(w) = self.watches.iter().find(|w| w.asset == key.asset) else {
            return false;
        };
        let on_tick = w.tick.0 != 0 && key.px.0.is_multiple_of(w.tick.0);
        let span = u32::from(self.k) * u32::from(w.tick.0);
        on_tick
            && u32::from(key.px.0.abs_diff(w.centre.0)) <= span
            && self.sizes.contains(&key.size)
    }
}

/// `px` rounded down to a multiple of `tick`.
fn snap(px: Px, tick: Px) -> Px {
    if tick.0 == 0 {
        px
    } else {
        Px(px.0 - px.0 % tick.0)
    }
}

/// The prices `d` ticks from the centre (one at `d = 0`) that are strictly inside (0, 1).
fn window_prices(w: &Watch, d: u16) -> impl Iterator<Item = Px> {
    let step = u32::from(d) * u32::from(w.tick.0);
    let centre = u32::from(w.centre.0);
    let below = centre.checked_sub(step);
    let above = (d > 0).then_some(centre + step);
    let inside = move |p: u32| p > 0 && p < u32::from(Px::ONE.0);
    [below, above]
        .into_iter()
        .flatten()
        .filter(move |&p| inside(p) && w.tick.0 != 0)
        .map(|p| Px(p as u16))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(px: u16, size: u64) -> PresignKey {
        PresignKey {
            asset: AssetIdx(1),
            side: Side::Buy,
            px: Px(px),
            size: Qty::from_shares(size),
        }
    }

    fn watch(centre: u16) -> Watch {
        Watch {
            asset: AssetIdx(1),
            market: MarketIdx(0),
            centre: Px(centre),
            tick: Px(100),
        }
    }

    #[test]
    fn take_consumes_and_counts_hits_and_misses() {
        let mut c = PresignCache::new(4, 1, 1_000);
        assert!(c.insert(key(4_000, 5), MarketIdx(0), "signed", 0));
        assert!(
            !c.insert(key(4_000, 5), MarketIdx(0), "again", 0),
            "one per key"
        );
        assert_eq!(c.take(&key(4_000, 5), 10), Some("signed"));
        assert_eq!(c.take(&key(4_000, 5), 11), None, "sent at most once");
        assert_eq!(c.take(&key(4_100, 5), 12), None);
        let n = c.counters();
        assert_eq!((n.hits, n.misses, n.inserted), (1, 2, 1));
        assert!(c.is_empty());
    }

    #[test]
    fn the_cache_is_bounded_and_reuses_freed_slots() {
        let mut c = PresignCache::new(2, 1, 1_000);
        assert!(c.insert(key(100, 1), MarketIdx(0), 1, 0));
        assert!(c.insert(key(200, 1), MarketIdx(0), 2, 0));
        assert!(c.is_full());
        assert!(!c.insert(key(300, 1), MarketIdx(0), 3, 0));
        assert_eq!(c.take(&key(100, 1), 0), Some(1));
        assert!(c.insert(key(300, 1), MarketIdx(0), 3, 0));
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn entries_die_of_age_at_take_and_on_expire() {
        let mut c = PresignCache::new(4, 1, 1_000);
        c.insert(key(100, 1), MarketIdx(0), 1, 0);
        c.insert(key(200, 1), MarketIdx(0), 2, 500);
        assert_eq!(c.take(&key(100, 1), 1_001), None, "too old");
        assert_eq!(c.expire(1_500), 0);
        assert_eq!(c.expire(1_501), 1);
        assert!(c.is_empty());
        let n = c.counters();
        assert_eq!((n.expired, n.misses, n.hits), (2, 1, 0));
    }

    #[test]
    fn a_tick_or_fee_change_drops_only_that_markets_entries() {
        let mut c = PresignCache::new(4, 2, 1_000);
        let fees = FeeSchedule::FREE;
        assert_eq!(c.on_market_params(MarketIdx(0), Px(100), fees), 0);
        c.on_market_params(MarketIdx(1), Px(100), fees);
        c.insert(key(100, 1), MarketIdx(0), 1, 0);
        c.insert(key(200, 1), MarketIdx(1), 2, 0);
        assert_eq!(
            c.on_market_params(MarketIdx(0), Px(100), fees),
            0,
            "unchanged"
        );
        assert_eq!(
            c.on_market_params(MarketIdx(0), Px(10), fees),
            1,
            "tick changed"
        );
        let dearer = FeeSchedule {
            rate_ppm: 30_000,
            ..fees
        };
        assert_eq!(
            c.on_market_params(MarketIdx(1), Px(100), dearer),
            1,
            "fees changed"
        );
        assert_eq!(
            c.on_market_params(MarketIdx(7), Px(100), fees),
            0,
            "unknown market"
        );
        assert_eq!(c.counters().invalidated, 2);
        assert!(c.is_empty());
    }

    #[test]
    fn the_planner_signs_nearest_the_centre_first_and_skips_what_is_cached() {
        let mut p = PresignPlanner::new(&[Qty::from_shares(5)], 1);
        assert!(p.watch(watch(4_050)), "snapped to 0.40");
        assert!(!p.watch(watch(4_000)), "same window");
        let mut c: PresignCache<()> = PresignCache::new(16, 1, 1_000);
        let mut order = Vec::new();
        while let Some((k, m)) = p.next(&c) {
            assert_eq!(m, MarketIdx(0));
            order.push((k.px.0, k.side));
            c.insert(k, m, (), 0);
        }
        assert_eq!(
            order,
            vec![
                (4_000, Side::Buy),
                (4_000, Side::Sell),
                (3_900, Side::Buy),
                (3_900, Side::Sell),
                (4_100, Side::Buy),
                (4_100, Side::Sell),
            ]
        );
        c.take(&key(3_900, 5), 0);
        assert_eq!(p.next(&c).map(|(k, _)| k), Some(key(3_900, 5)));
    }

    #[test]
    fn a_moved_window_drops_what_fell_out_of_it() {
        let mut p = PresignPlanner::new(&[Qty::from_shares(5)], 1);
        p.watch(watch(4_000));
        let mut c: PresignCache<()> = PresignCache::new(16, 1, 1_000);
        while let Some((k, m)) = p.next(&c) {
            c.insert(k, m, (), 0);
        }
        assert!(p.watch(watch(4_100)));
        assert_eq!(c.retain(|k| p.wants(k)), 2, "0.39 both sides");
        assert!(!p.wants(&key(4_100, 6)), "not a configured size");
        p.unwatch(AssetIdx(1));
        assert!(p.next(&c).is_none());
        assert!(!p.wants(&key(4_100, 5)));
    }

    #[test]
    fn the_window_stays_strictly_inside_zero_and_one() {
        let mut p = PresignPlanner::new(&[Qty::from_shares(1)], 2);
        p.watch(watch(100));
        let mut c: PresignCache<()> = PresignCache::new(64, 1, 1_000);
        let mut prices = Vec::new();
        while let Some((k, m)) = p.next(&c) {
            prices.push(k.px.0);
            c.insert(k, m, (), 0);
        }
        prices.dedup();
        assert_eq!(prices, vec![100, 200, 300]);
    }

    #[test]
    fn a_full_cache_asks_for_nothing() {
        let mut p = PresignPlanner::new(&[Qty::from_shares(1)], 3);
        p.watch(watch(5_000));
        let mut c: PresignCache<()> = PresignCache::new(1, 1, 1_000);
        let (k, m) = p.next(&c).unwrap();
        c.insert(k, m, (), 0);
        assert!(p.next(&c).is_none());
    }

    #[test]
    fn learned_sizes_join_the_ladder_and_the_oldest_makes_way() {
        let mut p = PresignPlanner::new(&[Qty::from_shares(5)], 0);
        p.watch(Watch {
            asset: AssetIdx(0),
            market: MarketIdx(0),
            centre: Px(5000),
            tick: Px(100),
        });
        let key = |shares| PresignKey {
            asset: AssetIdx(0),
            side: Side::Buy,
            px: Px(5000),
            size: Qty::from_shares(shares),
        };
        assert!(!p.wants(&key(20)));
        assert!(p.learn_size(Qty::from_shares(20)));
        assert!(
            !p.learn_size(Qty::from_shares(20)),
            "known sizes change nothing"
        );
        assert!(!p.learn_size(Qty::from_shares(5)));
        assert!(p.learn_size(Qty::from_shares(30)));
        assert!(p.wants(&key(20)) && p.wants(&key(30)));
        assert!(p.learn_size(Qty::from_shares(40)));
        assert!(!p.wants(&key(20)), "the oldest learned size made way");
        assert!(p.wants(&key(5)) && p.wants(&key(30)) && p.wants(&key(40)));
    }
}
