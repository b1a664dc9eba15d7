//! Client orders resting at each level, first come first served: the time half of price-time
//! priority (the price half is the book's ordering of levels).

use std::collections::{HashMap, VecDeque};

use crate::domain::num::{Px, Side};
use crate::sim::matching::types::OrderId;

/// FIFO queues of order ids keyed by (asset, side, price).
#[derive(Clone, Debug, Default)]
pub struct Queues {
    levels: HashMap<(usize, Side, Px), VecDeque<OrderId>>,
}

impl Queues {
    /// Puts `id` at the back of its level.
    pub fn push(&mut self, asset: usize, side: Side, px: Px, id: OrderId) {
        self.levels
            .entry((asset, side, px))
            .or_default()
            .push_back(id);
    }

    /// The order first in line at a level.
    pub fn front(&self, asset: usize, side: Side, px: Px) -> Option<OrderId> {
        self.levels
            .get(&(asset, side, px))
            .and_then(|q| q.front().copied())
    }

    /// Takes `id` out of its level; false if it was not there.
    pub fn remove(&mut self, asset: usize, side: Side, px: Px, id: &OrderId) -> bool {
        let key = (asset, side, px);
        let Some(q) = self.levels.get_mut(&key) else {
            return false;
        };
        let Some(at) = q.iter().position(|o| o == id) else {
            return false;
        };
        q.remove(at);
        if q.is_empty() {
            self.levels.remove(&key);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> OrderId {
        OrderId([n; 32])
    }

    #[test]
    fn first_in_is_first_out_per_level() {
        let mut q = Queues::default();
        q.push(0, Side::Buy, Px(5000), id(1));
        q.push(0, Side::Buy, Px(5000), id(2));
        q.push(0, Side::Buy, Px(4900), id(3));
        assert_eq!(q.front(0, Side::Buy, Px(5000)), Some(id(1)));
        assert!(q.remove(0, Side::Buy, Px(5000), &id(1)));
        assert!(!q.remove(0, Side::Buy, Px(5000), &id(1)));
        assert_eq!(q.front(0, Side::Buy, Px(5000)), Some(id(2)));
        assert!(q.remove(0, Side::Buy, Px(5000), &id(2)));
        assert_eq!(q.front(0, Side::Buy, Px(5000)), None);
        assert_eq!(q.front(0, Side::Sell, Px(4900)), None);
    }
}
