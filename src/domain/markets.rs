//! The market registry: token ids and condition ids interned to dense indices at start-up.
//!
//! Token ids are 77–78 digit decimal strings; the hot path never compares them. The feed looks a
//! token id's bytes up once per message (`asset_by_token`) and everything after that works on
//! `AssetIdx`. The registry is built before the threads start and is read-only afterwards.

use std::collections::HashMap;

use std::hash::{BuildHasherDefault, Hasher};

use xxhash_rust::xxh3::xxh3_64;

use crate::domain::fees::FeeSchedule;
use crate::domain::num::{AssetIdx, EventIdx, MarketIdx, Px, Qty, Usdc};

/// Why a market could not be registered.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The same token id was registered twice.
    #[error("token id {0} is registered twice")]
    DuplicateToken(String),
    /// The same condition id was registered twice.
    #[error("market {0} is registered twice")]
    DuplicateMarket(String),
    /// A token id that is not a decimal number.
    #[error("market {market}: token id {token:?} is not a decimal number")]
    BadToken {
        /// The market's condition id.
        market: String,
        /// The offending token id.
        token: String,
    },
    /// A tick size that is not one the venue uses.
    #[error(
        "market {market}: tick size {tick} is not a valid tick (0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001)"
    )]
    BadTick {
        /// The market's condition id.
        market: String,
        /// The offending tick.
        tick: Px,
    },
    /// A fee schedule the exact fee arithmetic cannot hold.
    #[error("market {market}: fee schedule {fees} is out of range (rate at most 1, exponent at most {max})", max = crate::domain::fees::MAX_EXPONENT)]
    BadFees {
        /// The market's condition id.
        market: String,
        /// The offending schedule.
        fees: FeeSchedule,
    },
    /// A market index the registry does not hold.
    #[error("market index {0} is not registered")]
    UnknownMarket(u32),
    /// A neg-risk event that cannot be registered as described.
    #[error("event {event}: {problem}")]
    BadEvent {
        /// The event's id.
        event: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// What the registry knows about one outcome token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetInfo {
    /// The venue's token id (decimal uint256).
    pub token_id: String,
    /// The market it belongs to.
    pub market: MarketIdx,
    /// Its position among the market's outcomes (0 = first, usually "Yes").
    pub outcome_index: u8,
}

/// What the registry knows about one market (condition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketInfo {
    /// The condition id (0x-prefixed hex).
    pub condition_id: String,
    /// Its outcome tokens, in the venue's order.
    pub assets: Vec<AssetIdx>,
    /// Minimum price increment at start-up.
    pub tick: Px,
    /// Minimum order size.
    pub min_order_size: Qty,
    /// Whether the market trades on the neg-risk exchange.
    pub neg_risk: bool,
    /// Its taker fee schedule.
    pub fees: FeeSchedule,
    /// Seconds the venue holds marketable orders before matching (sports markets), 0 if none.
    pub seconds_delay: u32,
    /// Whether the venue accepts orders for it.
    pub accepting_orders: bool,
    /// Whether it is closed for trading.
    pub closed: bool,
    /// The neg-risk event it belongs to, if any.
    pub event: Option<EventIdx>,
}

impl MarketInfo {
    /// Whether orders may be sent: open and accepting.
    pub fn tradable(&self) -> bool {
        self.accepting_orders && !self.closed
    }
}

/// A market as described by the venue, before interning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketSpec {
    /// The condition id.
    pub condition_id: String,
    /// Token ids, in outcome order.
    pub token_ids: Vec<String>,
    /// Minimum tick.
    pub tick: Px,
    /// Minimum order size.
    pub min_order_size: Qty,
    /// Neg-risk flag.
    pub neg_risk: bool,
    /// Taker fee schedule.
    pub fees: FeeSchedule,
    /// Taker delay in seconds (sports markets).
    pub seconds_delay: u32,
    /// Whether the venue accepts orders.
    pub accepting_orders: bool,
    /// Whether the market is closed.
    pub closed: bool,
}

impl Default for MarketSpec {
    /// An open, fee-free market with no ids yet: fill in what the venue says.
    fn default() -> MarketSpec {
        MarketSpec {
            condition_id: String::new(),
            token_ids: Vec::new(),
            tick: Px(100),
            min_order_size: Qty::ZERO,
            neg_risk: false,
            fees: FeeSchedule::FREE,
            seconds_delay: 0,
            accepting_orders: true,
            closed: false,
        }
    }
}

/// A neg-risk event as described by the venue: mutually exclusive markets, exactly one of which
/// resolves Yes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSpec {
    /// The event's id (Gamma's `id`).
    pub id: String,
    /// The neg-risk market id shared by its markets (`negRiskMarketID`).
    pub neg_risk_market_id: String,
    /// Whether outcomes may still be added (`negRiskAugmented`): the listed set is then not
    /// exhaustive and sum arbitrage is unsound.
    pub augmented: bool,
    /// Its registered markets.
    pub markets: Vec<MarketIdx>,
}

/// What the registry knows about one neg-risk event.
pub type EventInfo = EventSpec;

/// Whether the exact fee arithmetic can hold `fees`: a rate of at most 1, exponent at most 2.
fn fees_in_range(fees: &FeeSchedule) -> bool {
    fees.exponent <= crate::domain::fees::MAX_EXPONENT && fees.rate_ppm <= Usdc::ONE as u32
}

/// The tick sizes the venue uses, in 1e-4 units.
pub const VALID_TICKS: [u16; 6] = [1000, 100, 50, 25, 10, 1];

/// Whether `tick` is one of the venue's tick sizes.
pub fn is_valid_tick(tick: Px) -> bool {
    VALID_TICKS.contains(&tick.0)
}

/// Hashes a token id's bytes with one-shot xxh3: the feed looks a token id up for every
/// `price_change` entry, and the streaming hasher costs several times more on 77-byte keys.
#[derive(Default)]
pub struct TokenHasher(u64);

impl Hasher for TokenHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0 = self.0.rotate_left(17) ^ xxh3_64(bytes);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.0 = self.0.rotate_left(17) ^ n as u64;
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Interned markets and assets.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    assets: Vec<AssetInfo>,
    markets: Vec<MarketInfo>,
    events: Vec<EventInfo>,
    by_token: HashMap<Box<[u8]>, AssetIdx, BuildHasherDefault<TokenHasher>>,
}

impl Registry {
    /// Registers a market and its tokens, or explains why it cannot.
    pub fn add_market(&mut self, spec: MarketSpec) -> Result<MarketIdx, RegistryError> {
        if self
            .markets
            .iter()
            .any(|m| m.condition_id == spec.condition_id)
        {
            return Err(RegistryError::DuplicateMarket(spec.condition_id));
        }
        if !is_valid_tick(spec.tick) {
            return Err(RegistryError::BadTick {
                market: spec.condition_id,
                tick: spec.tick,
            });
        }
        if !fees_in_range(&spec.fees) {
            return Err(RegistryError::BadFees {
                market: spec.condition_id,
                fees: spec.fees,
            });
        }
        for token in &spec.token_ids {
            if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
                return Err(RegistryError::BadToken {
                    market: spec.condition_id.clone(),
                    token: token.clone(),
                });
            }
            if self.by_token.contains_key(token.as_bytes()) {
                return Err(RegistryError::DuplicateToken(token.clone()));
            }
        }
        let market = MarketIdx(self.markets.len() as u32);
        let mut assets = Vec::with_capacity(spec.token_ids.len());
        for (i, token) in spec.token_ids.into_iter().enumerate() {
            let asset = AssetIdx(self.assets.len() as u32);
            self.by_token.insert(token.as_bytes().into(), asset);
            self.assets.push(AssetInfo {
                token_id: token,
                market,
                outcome_index: i as u8,
            });
            assets.push(asset);
        }
        self.markets.push(MarketInfo {
            condition_id: spec.condition_id,
            assets,
            tick: spec.tick,
            min_order_size: spec.min_order_size,
            neg_risk: spec.neg_risk,
            fees: spec.fees,
            seconds_delay: spec.seconds_delay,
            accepting_orders: spec.accepting_orders,
            closed: spec.closed,
            event: None,
        });
        Ok(market)
    }

    /// Registers a neg-risk event over markets already registered, or explains why it cannot:
    /// fewer than two markets, a market that is not neg-risk, not binary, or already in an event.
    pub fn add_event(&mut self, spec: EventSpec) -> Result<EventIdx, RegistryError> {
        let bad = |problem: String| RegistryError::BadEvent {
            event: spec.id.clone(),
            problem,
        };
        if self.events.iter().any(|e| e.id == spec.id) {
            return Err(bad("is registered twice".into()));
        }
        if spec.markets.len() < 2 {
            return Err(bad(format!(
                "has {} market(s); at least 2 are needed",
                spec.markets.len()
            )));
        }
        for (i, &m) in spec.markets.iter().enumerate() {
            let Some(info) = self.markets.get(m.0 as usize) else {
                return Err(bad(format!("market index {} is not registered", m.0)));
            };
            if !info.neg_risk {
                return Err(bad(format!("market {} is not neg-risk", info.condition_id)));
            }
            if info.assets.len() != 2 {
                return Err(bad(format!("market {} is not binary", info.condition_id)));
            }
            if info.event.is_some() || spec.markets[..i].contains(&m) {
                return Err(bad(format!(
                    "market {} is already in an event",
                    info.condition_id
                )));
            }
        }
        let idx = EventIdx(self.events.len() as u32);
        for &m in &spec.markets {
            self.markets[m.0 as usize].event = Some(idx);
        }
        self.events.push(spec);
        Ok(idx)
    }

    /// The asset for a token id's bytes, if registered.
    #[inline]
    pub fn asset_by_token(&self, token: &[u8]) -> Option<AssetIdx> {
        self.by_token.get(token).copied()
    }

    /// The asset's description.
    pub fn asset(&self, asset: AssetIdx) -> &AssetInfo {
        &self.assets[asset.0 as usize]
    }

    /// The market's description.
    pub fn market(&self, market: MarketIdx) -> &MarketInfo {
        &self.markets[market.0 as usize]
    }

    /// The market an asset belongs to.
    pub fn market_of(&self, asset: AssetIdx) -> &MarketInfo {
        self.market(self.asset(asset).market)
    }

    /// Number of registered assets; indices run `0..asset_count()`.
    pub fn asset_count(&self) -> usize {
        self.assets.len()
    }

    /// Every registered market, in index order.
    pub fn markets(&self) -> &[MarketInfo] {
        &self.markets
    }

    /// The event's description.
    pub fn event(&self, event: EventIdx) -> &EventInfo {
        &self.events[event.0 as usize]
    }

    /// Every registered neg-risk event, in index order.
    pub fn events(&self) -> &[EventInfo] {
        &self.events
    }

    /// Replaces a market's fee schedule (the venue changed it), or explains why it cannot.
    pub fn set_fees(&mut self, market: MarketIdx, fees: FeeSchedule) -> Result<(), RegistryError> {
        let Some(info) = self.markets.get_mut(market.0 as usize) else {
            return Err(RegistryError::UnknownMarket(market.0));
        };
        if !fees_in_range(&fees) {
            return Err(RegistryError::BadFees {
                market: info.condition_id.clone(),
                fees,
            });
        }
        info.fees = fees;
        Ok(())
    }

    /// Stops trading a market: it is treated as not accepting orders from now on.
    pub fn suspend(&mut self, market: MarketIdx) {
        if let Some(info) = self.markets.get_mut(market.0 as usize) {
            info.accepting_orders = false;
        }
    }

    /// The market with this condition id, if registered.
    pub fn market_by_condition(&self, condition_id: &str) -> Option<MarketIdx> {
        self.markets
            .iter()
            .position(|m| m.condition_id == condition_id)
            .map(|i| MarketIdx(i as u32))
    }

    /// Every registered asset, in index order.
    pub fn assets(&self) -> impl Iterator<Item = (AssetIdx, &AssetInfo)> {
        self.assets
            .iter()
            .enumerate()
            .map(|(i, a)| (AssetIdx(i as u32), a))
    }
}

/// A one-market universe (tokens "1" and "2", tick 0.01) for unit tests across the crate.
#[cfg(test)]
pub(crate) fn two_outcome_registry() -> Registry {
    let mut r = Registry::default();
    r.add_market(MarketSpec {
        condition_id: "0xaa".into(),
        token_ids: vec!["1".into(), "2".into()],
        tick: Px(100),
        min_order_size: Qty::from_shares(5),
        ..MarketSpec::default()
    })
    .expect("a valid market");
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cond: &str, tokens: &[&str]) -> MarketSpec {
        MarketSpec {
            condition_id: cond.into(),
            token_ids: tokens.iter().map(|t| t.to_string()).collect(),
            tick: Px(100),
            min_order_size: Qty::from_shares(5),
            ..MarketSpec::default()
        }
    }

    #[test]
    fn interns_tokens_densely_and_finds_them_by_bytes() {
        let mut r = Registry::default();
        let m = r.add_market(spec("0xaa", &["111", "222"])).unwrap();
        let m2 = r.add_market(spec("0xbb", &["333", "444"])).unwrap();
        assert_eq!((m, m2), (MarketIdx(0), MarketIdx(1)));
        assert_eq!(r.asset_by_token(b"333"), Some(AssetIdx(2)));
        assert_eq!(r.asset_by_token(b"999"), None);
        assert_eq!(r.market_of(AssetIdx(3)).condition_id, "0xbb");
        assert_eq!(r.asset(AssetIdx(1)).outcome_index, 1);
        assert_eq!(r.asset_count(), 4);
    }

    #[test]
    fn refuses_inconsistent_metadata_naming_the_market() {
        let mut r = Registry::default();
        r.add_market(spec("0xaa", &["111", "222"])).unwrap();
        assert_eq!(
            r.add_market(spec("0xaa", &["5", "6"])),
            Err(RegistryError::DuplicateMarket("0xaa".into()))
        );
        assert_eq!(
            r.add_market(spec("0xcc", &["222", "7"])),
            Err(RegistryError::DuplicateToken("222".into()))
        );
        let err = r.add_market(spec("0xdd", &["12x"])).unwrap_err();
        assert!(err.to_string().contains("0xdd"), "{err}");
        let mut bad_tick = spec("0xee", &["8", "9"]);
        bad_tick.tick = Px(30);
        assert!(matches!(
            r.add_market(bad_tick),
            Err(RegistryError::BadTick { .. })
        ));
        let mut steep = spec("0xff", &["10", "11"]);
        steep.fees.exponent = 3;
        assert!(matches!(
            r.add_market(steep),
            Err(RegistryError::BadFees { .. })
        ));
        assert_eq!(r.asset_count(), 2, "a refused market leaves nothing behind");
        let aa = MarketIdx(0);
        let fees = FeeSchedule::parse("0.05", "2", false).unwrap();
        assert_eq!(r.set_fees(aa, fees), Ok(()));
        assert_eq!(r.market(aa).fees, fees);
        let steep = FeeSchedule {
            exponent: 3,
            ..fees
        };
        assert!(matches!(
            r.set_fees(aa, steep),
            Err(RegistryError::BadFees { .. })
        ));
        assert_eq!(
            r.market(aa).fees,
            fees,
            "a refused schedule changes nothing"
        );
        assert_eq!(
            r.set_fees(MarketIdx(9), fees),
            Err(RegistryError::UnknownMarket(9))
        );
        r.suspend(aa);
        assert!(!r.market(aa).tradable());
    }
}
