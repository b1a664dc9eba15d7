//! A canonical digest of an L2 book, shared by the bot's books and the venue's true books so the
//! two can be compared at quiescent points without shipping whole ladders between threads.

use xxhash_rust::xxh3::Xxh3;

use crate::domain::num::{Px, Qty};

/// Accumulates a book's levels in canonical order: bids from best (highest) down, then asks from
/// best (lowest) up. Levels with zero size must not be fed.
pub struct BookDigest {
    hasher: Xxh3,
    in_asks: bool,
}

impl Default for BookDigest {
    fn default() -> Self {
        Self::new()
    }
}

impl BookDigest {
    /// An empty digest, ready for bids.
    pub fn new() -> BookDigest {
        BookDigest {
            hasher: Xxh3::new(),
            in_asks: false,
        }
    }

    /// Adds the next bid level (best first).
    pub fn bid(&mut self, px: Px, qty: Qty) {
        debug_assert!(!self.in_asks, "bids must come before asks");
        self.level(px, qty);
    }

    /// Adds the next ask level (best first).
    pub fn ask(&mut self, px: Px, qty: Qty) {
        if !self.in_asks {
            self.start_asks();
        }
        self.level(px, qty);
    }

    /// The digest of everything fed so far.
    pub fn finish(mut self) -> u64 {
        if !self.in_asks {
            self.start_asks();
        }
        self.hasher.digest()
    }

    fn start_asks(&mut self) {
        self.in_asks = true;
        self.hasher.update(&[0xff]);
    }

    fn level(&mut self, px: Px, qty: Qty) {
        self.hasher.update(&px.0.to_le_bytes());
        self.hasher.update(&qty.0.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(bids: &[(u16, u64)], asks: &[(u16, u64)]) -> u64 {
        let mut d = BookDigest::new();
        bids.iter().for_each(|&(p, q)| d.bid(Px(p), Qty(q)));
        asks.iter().for_each(|&(p, q)| d.ask(Px(p), Qty(q)));
        d.finish()
    }

    #[test]
    fn distinguishes_sides_sizes_and_prices() {
        let base = digest(&[(5000, 10)], &[(5100, 10)]);
        assert_eq!(base, digest(&[(5000, 10)], &[(5100, 10)]));
        assert_ne!(base, digest(&[(5000, 10), (5100, 10)], &[]));
        assert_ne!(base, digest(&[(5000, 11)], &[(5100, 10)]));
        assert_ne!(base, digest(&[(4900, 10)], &[(5100, 10)]));
        assert_ne!(digest(&[], &[]), digest(&[(1, 1)], &[]));
    }
}
