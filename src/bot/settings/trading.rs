//! The trading sections of the configuration: `strategy.pair_arb` and `risk`, with exact decimal
//! amounts and their conversion into the core's parameter structs.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{SettingsError, humantime_str};
use crate::domain::intents::Tif;
use crate::domain::num::{Qty, Usdc};
use crate::domain::risk::RiskLimits;
use crate::strategies::core::CoreParams;
use crate::strategies::pair_arb::math::MathParams;
use crate::strategies::pair_arb::params::{MakerParams, PairArbParams, ParamsError};

/// Strategy settings (`strategy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategySettings {
    /// Binary pair and neg-risk sum arbitrage.
    pub pair_arb: PairArbSettings,
}

/// Pair arbitrage (`strategy.pair_arb`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairArbSettings {
    /// Take arbitrage windows with FOK/FAK legs.
    pub taker: bool,
    /// Rest post-only bids on both outcomes of binary markets.
    pub maker: bool,
    /// USDC every marginal set must still earn after fees.
    #[serde(with = "decimal::usdc")]
    pub margin_per_set: Usdc,
    /// Most sets (shares per leg) in one opportunity.
    #[serde(with = "decimal::qty")]
    pub max_sets: Qty,
    /// Least total edge, in USDC, worth sending an opportunity for.
    #[serde(with = "decimal::usdc")]
    pub min_edge: Usdc,
    /// Time in force of taker legs: FOK (all or nothing) or FAK.
    pub taker_tif: TakerTif,
    /// Quiet time after firing on a market or event.
    #[serde(with = "humantime_str")]
    pub cooldown: Duration,
    /// Maker-pair quoting.
    pub maker_pair: MakerPairSettings,
}

/// Time in force of taker legs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TakerTif {
    /// Fill or kill.
    Fok,
    /// Fill and kill.
    Fak,
}

/// Maker-pair quoting (`strategy.pair_arb.maker_pair`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakerPairSettings {
    /// Shares per quote.
    #[serde(with = "decimal::qty")]
    pub quote_size: Qty,
    /// USDC per pair the two bids must leave below 1 after maker fees.
    #[serde(with = "decimal::usdc")]
    pub margin_per_pair: Usdc,
    /// How long one filled leg may wait for the other before it is unwound.
    #[serde(with = "humantime_str")]
    pub leg_timeout: Duration,
    /// USDC per share a taker completion of a filled leg must still earn.
    #[serde(with = "decimal::usdc")]
    pub min_leg_edge: Usdc,
    /// Unhedged shares the leg policy may hold instead of unwinding.
    #[serde(with = "decimal::qty")]
    pub max_unhedged: Qty,
}

/// Risk limits (`risk`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskSettings {
    /// USDC of exposure allowed per market.
    #[serde(with = "decimal::usdc")]
    pub max_notional_per_market: Usdc,
    /// USDC of exposure allowed per neg-risk event.
    #[serde(with = "decimal::usdc")]
    pub max_notional_per_event: Usdc,
    /// Orders open at once.
    pub max_open_orders: u32,
    /// Shares of one outcome held without the other.
    #[serde(with = "decimal::qty")]
    pub max_unhedged_shares: Qty,
    /// How long a position may stay unhedged.
    #[serde(with = "humantime_str")]
    pub max_unhedged_age: Duration,
    /// Loss (USDC, realised plus marked) that halts trading for the day.
    #[serde(with = "decimal::usdc")]
    pub daily_loss_limit: Usdc,
    /// A book older than this (by venue time) is not traded on.
    #[serde(with = "humantime_str")]
    pub max_book_age: Duration,
    /// Order budget per window, shared with execution's rate limiter.
    pub orders_per_window: u32,
    /// The budget's window.
    #[serde(with = "humantime_str")]
    pub window: Duration,
    /// Venue rejects in a row that halt trading.
    pub max_consecutive_rejects: u32,
}

impl super::Settings {
    /// What the core trades with: the pair-arbitrage parameters and the risk limits.
    pub fn core_params(&self) -> CoreParams {
        CoreParams {
            pair_arb: self.strategy.params(),
            risk: self.risk.limits(),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl StrategySettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        self.params().validate().map_err(|e| {
            let key = match e {
                ParamsError::RestingTakerTif => "strategy.pair_arb.taker_tif",
                ParamsError::BadQuoteSize => "strategy.pair_arb.maker_pair.quote_size",
                ParamsError::BadMaxSets => "strategy.pair_arb.max_sets",
                ParamsError::NegativeMargin => "strategy.pair_arb",
            };
            SettingsError::invalid(key, e.to_string())
        })
    }

    /// The engine's parameters.
    pub fn params(&self) -> PairArbParams {
        let p = &self.pair_arb;
        let m = &p.maker_pair;
        PairArbParams {
            taker: p.taker,
            maker: p.maker,
            math: MathParams {
                margin_per_set: p.margin_per_set,
                max_sets: p.max_sets,
                min_edge: p.min_edge,
            },
            taker_tif: match p.taker_tif {
                TakerTif::Fok => Tif::Fok,
                TakerTif::Fak => Tif::Fak,
            },
            cooldown_ms: millis(p.cooldown),
            maker_params: MakerParams {
                quote_size: m.quote_size,
                margin_per_pair: m.margin_per_pair,
                leg_timeout_ms: millis(m.leg_timeout),
                min_leg_edge: m.min_leg_edge,
                max_unhedged: m.max_unhedged,
            },
        }
    }
}

impl RiskSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        for (key, v) in [
            ("risk.max_notional_per_market", self.max_notional_per_market),
            ("risk.max_notional_per_event", self.max_notional_per_event),
            ("risk.daily_loss_limit", self.daily_loss_limit),
        ] {
            if v.0 <= 0 {
                return Err(SettingsError::invalid(key, "must be positive"));
            }
        }
        if self.max_open_orders == 0 {
            return Err(SettingsError::invalid(
                "risk.max_open_orders",
                "must be positive",
            ));
        }
        if self.orders_per_window == 0 || self.window.is_zero() {
            return Err(SettingsError::invalid(
                "risk.orders_per_window",
                "the order budget and its window must be positive",
            ));
        }
        Ok(())
    }

    /// The risk gate's limits.
    pub fn limits(&self) -> RiskLimits {
        RiskLimits {
            max_notional_per_market: self.max_notional_per_market,
            max_notional_per_event: self.max_notional_per_event,
            max_open_orders: self.max_open_orders,
            max_unhedged_shares: self.max_unhedged_shares,
            max_unhedged_age_ms: millis(self.max_unhedged_age),
            daily_loss_limit: self.daily_loss_limit,
            max_book_age_ms: millis(self.max_book_age),
            orders_per_window: self.orders_per_window,
            window_ms: millis(self.window),
            max_consecutive_rejects: self.max_consecutive_rejects,
        }
    }
}

/// Exact decimal amounts in YAML: a string (`"0.002"`) or a plain number (`0.002`), parsed from
/// its shortest decimal text; anything finer than the unit is refused, never rounded.
mod decimal {
    use std::fmt;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    struct Text;

    impl Visitor<'_> for Text {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal number like 0.002")
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<String, E> {
            Ok(s.to_owned())
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }

    fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        d.deserialize_any(Text)
    }

    macro_rules! decimal_mod {
        ($name:ident, $ty:ty) => {
            pub mod $name {
                use super::*;

                pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                    let s = text(d)?;
                    <$ty>::parse(s.as_bytes()).map_err(|e| {
                        de::Error::custom(format!("{s:?} is not an exact amount: {e}"))
                    })
                }

                pub fn serialize<S: Serializer>(v: &$ty, s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_str(&v.to_string())
                }
            }
        };
    }

    use crate::domain::num::{Qty, Usdc};
    decimal_mod!(usdc, Usdc);
    decimal_mod!(qty, Qty);
}
