//! Parameters of the pair-arbitrage engine: which modes run, the taker math, the maker quotes.

use crate::domain::intents::Tif;
use crate::domain::num::{Qty, Usdc};
use crate::strategies::pair_arb::math::{LOT, MathParams};

/// Why a parameter set was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// Taker groups must not rest on the book: GTC is not a taker time in force.
    #[error("taker_tif must be FOK or FAK")]
    RestingTakerTif,
    /// The maker quote size is zero or not a whole number of 0.01-share lots.
    #[error("maker quote_size must be a positive multiple of 0.01 shares")]
    BadQuoteSize,
    /// The most sets per opportunity is zero or not a whole number of 0.01-share lots.
    #[error("max_sets must be a positive multiple of 0.01 shares")]
    BadMaxSets,
    /// A margin or edge below zero would accept losing trades.
    #[error("margins and edges must not be negative")]
    NegativeMargin,
}

/// Maker-pair mode: rest bids on both outcomes of a binary market whose sum leaves a margin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MakerParams {
    /// Shares per quote, a multiple of the 0.01 lot (raised to nothing: below the market's
    /// minimum size the market is not quoted).
    pub quote_size: Qty,
    /// What a completed pair must leave per pair: `b_yes + b_no + maker fees ≤ 1 − margin`.
    pub margin_per_pair: Usdc,
    /// How long one leg may stay unhedged before it is unwound, in milliseconds.
    pub leg_timeout_ms: u64,
    /// The edge per share that taking the missing leg at the ask must still leave.
    pub min_leg_edge: Usdc,
    /// An unhedged quantity at or below this is held past the timeout rather than unwound.
    pub max_unhedged: Qty,
}

/// Everything the pair-arbitrage engine is configured with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairArbParams {
    /// Take standing sums (buy both, sell both, neg-risk YES and NO sums).
    pub taker: bool,
    /// Quote maker pairs on binary markets.
    pub maker: bool,
    /// Margins and caps for the taker math.
    pub math: MathParams,
    /// Time in force of taker legs (FOK by default: all or nothing per leg).
    pub taker_tif: Tif,
    /// After a taker group fires on a market or event, how long before it may fire there again.
    pub cooldown_ms: u64,
    /// The maker mode's parameters.
    pub maker_params: MakerParams,
}

impl PairArbParams {
    /// Checks the parameters the engine relies on.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.taker_tif == Tif::Gtc {
            return Err(ParamsError::RestingTakerTif);
        }
        let whole_lots = |q: Qty| !q.is_zero() && q.0.is_multiple_of(LOT.0);
        let m = &self.maker_params;
        if !whole_lots(m.quote_size) {
            return Err(ParamsError::BadQuoteSize);
        }
        if !whole_lots(self.math.max_sets) {
            return Err(ParamsError::BadMaxSets);
        }
        if [
            m.margin_per_pair,
            m.min_leg_edge,
            self.math.margin_per_set,
            self.math.min_edge,
        ]
        .iter()
        .any(|v| v.0 < 0)
        {
            return Err(ParamsError::NegativeMargin);
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A taker-and-maker parameter set for the strategy's tests.
    pub(crate) fn params() -> PairArbParams {
        PairArbParams {
            taker: true,
            maker: false,
            math: MathParams {
                margin_per_set: Usdc(0),
                max_sets: Qty::from_shares(100),
                min_edge: Usdc(0),
            },
            taker_tif: Tif::Fok,
            cooldown_ms: 1_000,
            maker_params: MakerParams {
                quote_size: Qty::from_shares(10),
                margin_per_pair: Usdc(10_000),
                leg_timeout_ms: 5_000,
                min_leg_edge: Usdc(0),
                max_unhedged: Qty::ZERO,
            },
        }
    }

    #[test]
    fn refuses_parameters_the_engine_cannot_honour() {
        assert_eq!(params().validate(), Ok(()));
        let mut p = params();
        p.taker_tif = Tif::Gtc;
        assert_eq!(p.validate(), Err(ParamsError::RestingTakerTif));
        let mut p = params();
        p.maker_params.quote_size = Qty(10_001);
        assert_eq!(p.validate(), Err(ParamsError::BadQuoteSize));
        p.maker_params.quote_size = Qty::ZERO;
        assert_eq!(p.validate(), Err(ParamsError::BadQuoteSize));
        let mut p = params();
        p.math.max_sets = Qty(5);
        assert_eq!(p.validate(), Err(ParamsError::BadMaxSets));
        let mut p = params();
        p.maker_params.margin_per_pair = Usdc(-1);
        assert_eq!(p.validate(), Err(ParamsError::NegativeMargin));
        let mut p = params();
        p.math.min_edge = Usdc(-1);
        assert_eq!(p.validate(), Err(ParamsError::NegativeMargin));
    }
}
