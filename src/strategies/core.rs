//! The deterministic core: applies events to the books and runs strategies at message boundaries.
//!
//! `Core::on_event` is the only entry point. It never reads a clock, a socket, the environment or
//! a random source: the same events in always give the same outputs and the same state hash.

use xxhash_rust::xxh3::Xxh3;

use crate::domain::books::{BookCounters, BookSet};
use crate::domain::events::{Event, EventBody};
use crate::domain::markets::Registry;
use crate::domain::num::AssetIdx;

/// What the core asks of the world after an event. Buffers are preallocated and reused.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Assets whose books must be resynchronised from the venue.
    pub resync: Vec<AssetIdx>,
}

impl Outbox {
    /// An outbox sized for `assets` so that pushing never allocates.
    pub fn with_capacity(assets: usize) -> Outbox {
        Outbox {
            resync: Vec::with_capacity(assets),
        }
    }

    /// Empties every buffer, keeping capacity.
    pub fn clear(&mut self) {
        self.resync.clear();
    }
}

/// Counters kept by the core.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreCounters {
    /// Events seen.
    pub events: u64,
    /// Message boundaries seen.
    pub messages: u64,
    /// Strategy evaluations run (one per message boundary that touched a fresh book).
    pub evaluations: u64,
    /// Markets the venue announced that this run does not trade.
    pub new_markets: u64,
}

/// The strategy thread's state machine.
pub struct Core {
    books: BookSet,
    /// Assets touched by the message being applied, each once.
    touched: Vec<AssetIdx>,
    touched_flag: Vec<bool>,
    counters: CoreCounters,
}

impl Core {
    /// A core for a fixed universe; every allocation it will need is made here.
    pub fn new(registry: &Registry) -> Core {
        let n = registry.asset_count();
        Core {
            books: BookSet::new(registry),
            touched: Vec::with_capacity(n),
            touched_flag: vec![false; n],
            counters: CoreCounters::default(),
        }
    }

    /// Applies one event; at a message boundary, evaluates strategies on the touched books.
    #[inline]
    pub fn on_event(&mut self, event: &Event, out: &mut Outbox) {
        self.counters.events += 1;
        match event.body {
            EventBody::MessageEnd => self.end_message(out),
            EventBody::NewMarket => self.counters.new_markets += 1,
            _ => {
                if let Some(asset) = self.books.apply(event, &mut out.resync) {
                    let flag = &mut self.touched_flag[asset.0 as usize];
                    if !*flag {
                        *flag = true;
                        self.touched.push(asset);
                    }
                }
            }
        }
    }

    fn end_message(&mut self, out: &mut Outbox) {
        self.counters.messages += 1;
        self.books.end_message(&self.touched, &mut out.resync);
        if self.touched.iter().any(|&a| !self.books.book(a).is_stale()) {
            self.counters.evaluations += 1;
        }
        for asset in self.touched.drain(..) {
            self.touched_flag[asset.0 as usize] = false;
        }
    }

    /// The books.
    pub fn books(&self) -> &BookSet {
        &self.books
    }

    /// The core's counters.
    pub fn counters(&self) -> &CoreCounters {
        &self.counters
    }

    /// The book set's counters.
    pub fn book_counters(&self) -> &BookCounters {
        self.books.counters()
    }

    /// A hash of the core's state (books and their trust flags); identical runs give identical
    /// hashes.
    pub fn state_hash(&self) -> u64 {
        let mut h = Xxh3::new();
        self.books.digest_into(&mut h);
        h.digest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::num::{Px, Qty, Side};

    use crate::domain::markets::two_outcome_registry as registry;

    fn stream() -> Vec<Event> {
        let mut events = Vec::new();
        for asset in [AssetIdx(0), AssetIdx(1)] {
            events.push(Event::new(1, EventBody::BookSnapshot { asset }));
            events.push(Event::new(
                1,
                EventBody::Level {
                    asset,
                    side: Side::Buy,
                    px: Px(4000),
                    qty: Qty::from_shares(7),
                },
            ));
            events.push(Event::new(1, EventBody::MessageEnd));
        }
        for ts in 2..50u64 {
            events.push(Event::new(
                ts,
                EventBody::Level {
                    asset: AssetIdx((ts % 2) as u32),
                    side: Side::Sell,
                    px: Px(5000 + (ts as u16 % 7) * 100),
                    qty: Qty::from_shares(ts),
                },
            ));
            events.push(Event::new(ts, EventBody::MessageEnd));
        }
        events
    }

    #[test]
    fn evaluates_only_at_message_boundaries() {
        let r = registry();
        let mut core = Core::new(&r);
        let mut out = Outbox::with_capacity(2);
        let snapshot = &stream()[..3];
        core.on_event(&snapshot[0], &mut out);
        core.on_event(&snapshot[1], &mut out);
        assert_eq!(core.counters().evaluations, 0, "mid-message: no evaluation");
        assert!(
            core.books().book(AssetIdx(0)).is_stale(),
            "half a snapshot is not trusted"
        );
        core.on_event(&snapshot[2], &mut out);
        assert_eq!(core.counters().evaluations, 1);
        assert!(!core.books().book(AssetIdx(0)).is_stale());
    }

    #[test]
    fn a_message_touching_only_stale_books_is_not_evaluated() {
        let r = registry();
        let mut core = Core::new(&r);
        let mut out = Outbox::with_capacity(2);
        let delta = EventBody::Level {
            asset: AssetIdx(0),
            side: Side::Buy,
            px: Px(4000),
            qty: Qty(1),
        };
        core.on_event(&Event::new(1, delta), &mut out);
        core.on_event(&Event::new(1, EventBody::MessageEnd), &mut out);
        assert_eq!(core.counters().messages, 1);
        assert_eq!(core.counters().evaluations, 0);
    }

    #[test]
    fn same_events_give_the_same_state_hash() {
        let r = registry();
        let run = |events: &[Event]| {
            let mut core = Core::new(&r);
            let mut out = Outbox::with_capacity(2);
            for e in events {
                core.on_event(e, &mut out);
                out.clear();
            }
            core.state_hash()
        };
        let events = stream();
        assert_eq!(run(&events), run(&events));
        assert_ne!(run(&events), run(&events[..events.len() - 2]));
    }
}
