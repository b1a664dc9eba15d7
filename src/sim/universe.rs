//! The venue's listed markets and neg-risk events: ids, fees, status and initial prices, all
//! derived from the scenario's seed so the same scenario always lists the same universe.

use fastrand::Rng;

use crate::domain::fees::FeeSchedule;
use crate::domain::markets::MarketSpec;
use crate::domain::num::{Px, Qty};
use crate::sim::scenario::Scenario;
use crate::sim::world::EventState;

/// Mixed into the seed so ids and book dynamics draw from unrelated streams.
const ID_STREAM: u64 = 0x5eed_1d5e_ed1d_5eed;
/// Mixed into the seed for event ids, so adding events leaves market ids and prices unchanged.
const EVENT_STREAM: u64 = 0xe7e7_0e7e_e7e7_0e7e;
/// Gamma event ids count up from here.
const EVENT_ID_BASE: u64 = 40_000;

/// One listed market and where its Yes book starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// Ids, tick, minimum size and neg-risk flag.
    pub spec: MarketSpec,
    /// The Yes outcome's initial mid, on the market's tick.
    pub initial_mid: Px,
}

/// The listed universe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Universe {
    /// Markets in universe order: binary groups first, then each neg-risk event's markets.
    pub listings: Vec<Listing>,
    /// Neg-risk events in scenario order, their markets as indices into `listings`.
    pub events: Vec<EventState>,
}

/// What every market of a binary group or neg-risk event shares.
struct Terms {
    tick: Px,
    min_order_size: Qty,
    fees: FeeSchedule,
    seconds_delay: u32,
    neg_risk: bool,
}

/// Builds the universe in scenario order: binary groups first, then each neg-risk event.
pub fn build(scenario: &Scenario) -> Universe {
    let mut rng = Rng::with_seed(scenario.seed ^ ID_STREAM);
    let mut event_rng = Rng::with_seed(scenario.seed ^ EVENT_STREAM);
    let u = &scenario.universe;
    let min_order_size = Qty::from_shares(u.min_order_size);
    let mut listings = Vec::with_capacity(scenario.market_count());
    let mut events = Vec::with_capacity(u.neg_risk_events.len());
    for group in &u.binary {
        let terms = Terms {
            tick: group.tick.0,
            min_order_size,
            fees: group.fees.0,
            seconds_delay: group.seconds_delay,
            neg_risk: false,
        };
        for _ in 0..group.count {
            let mid = on_tick(Px(rng.u16(2000..=8000)), terms.tick);
            listings.push(listing(&mut rng, &terms, mid));
        }
    }
    for (index, event) in u.neg_risk_events.iter().enumerate() {
        let terms = Terms {
            tick: event.tick.0,
            min_order_size,
            fees: event.fees.0,
            seconds_delay: event.seconds_delay,
            neg_risk: true,
        };
        let weights: Vec<u32> = (0..event.markets).map(|_| rng.u32(1..=100)).collect();
        let total: u32 = weights.iter().sum();
        let first = listings.len();
        for w in weights {
            let share = (u32::from(Px::ONE.0) * w / total) as u16;
            let mid = on_tick(Px(share), terms.tick);
            listings.push(listing(&mut rng, &terms, mid));
        }
        events.push(EventState {
            id: (EVENT_ID_BASE + index as u64).to_string(),
            neg_risk_market_id: condition_id(&mut event_rng),
            augmented: event.augmented,
            markets: (first..listings.len()).collect(),
        });
    }
    Universe { listings, events }
}

/// `px` rounded to the nearest tick, kept strictly inside (0, 1) with room for a spread.
fn on_tick(px: Px, tick: Px) -> Px {
    let ticks = (px.0 + tick.0 / 2) / tick.0;
    let max = Px::ONE.0 / tick.0 - 2;
    Px(ticks.clamp(2, max) * tick.0)
}

fn listing(rng: &mut Rng, terms: &Terms, mid: Px) -> Listing {
    let condition_id = condition_id(rng);
    let token_ids = vec![token_id(rng), token_id(rng)];
    Listing {
        spec: MarketSpec {
            condition_id,
            token_ids,
            tick: terms.tick,
            min_order_size: terms.min_order_size,
            neg_risk: terms.neg_risk,
            fees: terms.fees,
            seconds_delay: terms.seconds_delay,
            accepting_orders: true,
            closed: false,
        },
        initial_mid: mid,
    }
}

/// `0x` and 64 lowercase hex digits.
fn condition_id(rng: &mut Rng) -> String {
    let mut s = String::with_capacity(66);
    s.push_str("0x");
    for _ in 0..4 {
        s.push_str(&format!("{:016x}", rng.u64(..)));
    }
    s
}

/// A 77-digit decimal string with no leading zero, like the venue's uint256 token ids.
fn token_id(rng: &mut Rng) -> String {
    let mut s = String::with_capacity(77);
    s.push(rng.digit(9).max('1'));
    for _ in 1..77 {
        s.push(rng.digit(10));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::markets::Registry;
    use crate::sim::scenario::load_scenario;

    #[test]
    fn ids_are_well_formed_unique_and_seeded() {
        let scenario = load_scenario("default").unwrap();
        let a = build(&scenario).listings;
        assert_eq!(a.len(), scenario.market_count());
        let mut registry = Registry::default();
        for l in &a {
            let c = &l.spec.condition_id;
            assert!(c.len() == 66 && c.starts_with("0x"), "{c}");
            assert!(c[2..].bytes().all(|b| b.is_ascii_hexdigit()));
            for t in &l.spec.token_ids {
                assert_eq!(t.len(), 77, "{t}");
                assert!(!t.starts_with('0'));
            }
            assert!(l.initial_mid.0 % l.spec.tick.0 == 0);
            assert!(l.initial_mid > Px::ZERO && l.initial_mid < Px::ONE);
            registry.add_market(l.spec.clone()).unwrap();
        }
        assert_eq!(a, build(&scenario).listings);
        let mut other = scenario.clone();
        other.seed += 1;
        assert_ne!(
            a[0].spec.token_ids,
            build(&other).listings[0].spec.token_ids
        );
    }

    #[test]
    fn neg_risk_event_mids_sum_to_about_one() {
        let scenario = load_scenario("default").unwrap();
        let listings = build(&scenario).listings;
        let event: Vec<_> = listings.iter().filter(|l| l.spec.neg_risk).collect();
        assert_eq!(event.len(), 3);
        let sum: u32 = event.iter().map(|l| u32::from(l.initial_mid.0)).sum();
        assert!((9_700..=10_300).contains(&sum), "{sum}");
    }
}
