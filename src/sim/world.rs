//! The venue's market state: every listed market, every asset's true book, and the logical
//! millisecond clock that stamps each published message.

use std::collections::HashMap;

use crate::domain::markets::MarketSpec;
use crate::domain::num::Px;
use crate::sim::book::TrueBook;

/// One outcome token's state.
#[derive(Clone, Debug)]
pub struct AssetState {
    /// Its token id.
    pub token_id: String,
    /// Index of its market in [`World::markets`].
    pub market: usize,
    /// The true book.
    pub book: TrueBook,
    /// Price of the last trade print (the initial mid until the first print).
    pub last_trade: Px,
}

/// One market's state.
#[derive(Clone, Debug)]
pub struct MarketState {
    /// Ids, current tick, minimum size, neg-risk flag, fees and status.
    pub spec: MarketSpec,
    /// Its assets' indices in [`World::assets`], in outcome order.
    pub assets: Vec<usize>,
    /// The neg-risk event it belongs to, as an index in [`World::events`].
    pub event: Option<usize>,
    /// Whether an arbitrage window is open on it: the regular dynamics leave it alone until a
    /// competing taker closes the window.
    pub in_window: bool,
}

/// One neg-risk event the venue lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventState {
    /// Gamma's event `id` (decimal digits).
    pub id: String,
    /// The neg-risk market id its markets share (`0x` and 64 hex digits).
    pub neg_risk_market_id: String,
    /// Whether outcomes may still be added (`negRiskAugmented`).
    pub augmented: bool,
    /// Its markets, as indices in [`World::markets`].
    pub markets: Vec<usize>,
}

/// Everything the venue knows about its markets.
#[derive(Clone, Debug)]
pub struct World {
    /// Assets in universe order (each market's outcomes in turn).
    pub assets: Vec<AssetState>,
    /// Markets in universe order.
    pub markets: Vec<MarketState>,
    /// Neg-risk events in universe order.
    pub events: Vec<EventState>,
    by_token: HashMap<String, usize>,
    by_condition: HashMap<String, usize>,
    clock: u64,
}

impl World {
    /// A world of `markets`, each given with one initial book and mid per outcome, grouped into
    /// `events`, whose clock starts at `clock` (Unix milliseconds).
    pub fn new(
        markets: Vec<(MarketSpec, Vec<(TrueBook, Px)>)>,
        events: Vec<EventState>,
        clock: u64,
    ) -> World {
        let mut world = World {
            assets: Vec::new(),
            markets: Vec::with_capacity(markets.len()),
            events: Vec::new(),
            by_token: HashMap::new(),
            by_condition: HashMap::new(),
            clock,
        };
        for (spec, books) in markets {
            let market = world.markets.len();
            let mut assets = Vec::with_capacity(books.len());
            for (token_id, (book, mid)) in spec.token_ids.iter().zip(books) {
                world.by_token.insert(token_id.clone(), world.assets.len());
                assets.push(world.assets.len());
                world.assets.push(AssetState {
                    token_id: token_id.clone(),
                    market,
                    book,
                    last_trade: mid,
                });
            }
            world.by_condition.insert(spec.condition_id.clone(), market);
            world.markets.push(MarketState {
                spec,
                assets,
                event: None,
                in_window: false,
            });
        }
        for (index, event) in events.iter().enumerate() {
            for &m in &event.markets {
                world.markets[m].event = Some(index);
            }
        }
        world.events = events;
        world
    }

    /// The asset with this token id.
    pub fn asset_by_token(&self, token_id: &str) -> Option<usize> {
        self.by_token.get(token_id).copied()
    }

    /// The assets of the known ids among `token_ids` (unknown ids are skipped, as the venue does).
    pub fn assets_by_tokens(&self, token_ids: &[String]) -> Vec<usize> {
        token_ids
            .iter()
            .filter_map(|t| self.asset_by_token(t))
            .collect()
    }

    /// The market with this condition id.
    pub fn market_by_condition(&self, condition_id: &str) -> Option<usize> {
        self.by_condition.get(condition_id).copied()
    }

    /// The market an asset belongs to.
    pub fn market_of(&self, asset: usize) -> &MarketState {
        &self.markets[self.assets[asset].market]
    }

    /// Advances the logical clock by one millisecond and returns the new time.
    pub fn next_timestamp(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The time of the last published message (or the start time).
    pub fn now(&self) -> u64 {
        self.clock
    }

    /// Every asset's token id and book digest, in universe order.
    pub fn digests(&self) -> Vec<(String, u64)> {
        self.assets
            .iter()
            .map(|a| (a.token_id.clone(), a.book.digest()))
            .collect()
    }
}
