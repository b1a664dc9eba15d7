//! The venue's taker fee, reproduced exactly: `C × rate × (p(1−p))^exponent`, floored to 1e-5.
//!
//! Polymarket charges the fee in collateral at match time, per fill; makers pay nothing on
//! taker-only schedules. The strategies price every level they would take with this function, so
//! its rounding is the venue's, never an approximation.

use std::fmt;

use crate::domain::num::{Px, Qty, Usdc};

/// Largest exponent accepted: with `(p(1−p))^2` every product stays inside `u128` up to about
/// 5·10^11 shares per fill.
pub const MAX_EXPONENT: u8 = 2;

/// Why a fee schedule was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    /// The rate is not a decimal in `0..=1` with at most six places.
    #[error("fee rate {0:?} is not a decimal between 0 and 1 with at most 6 places")]
    BadRate(String),
    /// The exponent is not a whole number in `0..=2`.
    #[error("fee exponent {0:?} is not a whole number between 0 and {MAX_EXPONENT}")]
    BadExponent(String),
}

/// A market's fee parameters (`feeSchedule` in Gamma, `fd` in `/clob-markets`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FeeSchedule {
    /// The rate in millionths (0.03 → 30_000).
    pub rate_ppm: u32,
    /// The exponent applied to `p(1−p)`.
    pub exponent: u8,
    /// Whether only takers pay (makers then pay nothing).
    pub taker_only: bool,
}

/// Units of 1e-5 USDC per 1e-6 USDC unit.
const FEE_QUANTUM: i64 = 10;

impl FeeSchedule {
    /// No fees at all.
    pub const FREE: FeeSchedule = FeeSchedule {
        rate_ppm: 0,
        exponent: 1,
        taker_only: true,
    };

    /// Builds a schedule from the venue's decimal strings (`"0.03"`, `"1"`).
    pub fn parse(rate: &str, exponent: &str, taker_only: bool) -> Result<FeeSchedule, FeeError> {
        let rate_ppm = Usdc::parse(rate.as_bytes())
            .ok()
            .filter(|r| (0..=Usdc::ONE).contains(&r.0))
            .ok_or_else(|| FeeError::BadRate(rate.to_owned()))?
            .0 as u32;
        let exponent = exponent
            .strip_suffix(".0")
            .unwrap_or(exponent)
            .parse::<u8>()
            .ok()
            .filter(|e| *e <= MAX_EXPONENT)
            .ok_or_else(|| FeeError::BadExponent(exponent.to_owned()))?;
        Ok(FeeSchedule {
            rate_ppm,
            exponent,
            taker_only,
        })
    }

    /// Whether the schedule never charges anything.
    pub const fn is_free(&self) -> bool {
        self.rate_ppm == 0
    }

    /// The fee a taker pays for filling `qty` at `px`, floored to 1e-5 USDC as the venue does.
    /// A product too large for `u128` (about 5·10^11 shares at exponent 2, far beyond any real
    /// order) gives the largest representable fee: never undercharge.
    #[inline]
    pub fn taker_fee(&self, px: Px, qty: Qty) -> Usdc {
        if self.rate_ppm == 0 || qty.is_zero() {
            return Usdc::ZERO;
        }
        let (numerator, denominator) = self.fee_ratio(px, qty);
        let units = numerator / denominator;
        Usdc(i64::try_from(units).map_or(i64::MAX, |u| u.saturating_mul(FEE_QUANTUM)))
    }

    /// The fee a resting (maker) order pays when filled: zero on taker-only schedules.
    #[inline]
    pub fn maker_fee(&self, px: Px, qty: Qty) -> Usdc {
        if self.taker_only {
            Usdc::ZERO
        } else {
            self.taker_fee(px, qty)
        }
    }

    /// The exact fee for `qty` at `px` as `numerator / denominator` in 1e-5 USDC, before the
    /// venue's floor: strategies that must not let rounding flatter them compare on this. A
    /// product beyond `u128` gives `(u128::MAX, 1)`, a fee larger than any edge.
    #[inline]
    pub fn fee_ratio(&self, px: Px, qty: Qty) -> (u128, u128) {
        let p = u128::from(px.0.min(Px::ONE.0));
        let spread = p * (u128::from(Px::ONE.0) - p);
        let mut numerator = u128::from(qty.0) * u128::from(self.rate_ppm);
        let mut denominator: u128 = 10_000_000;
        for _ in 0..self.exponent {
            match (
                numerator.checked_mul(spread),
                denominator.checked_mul(100_000_000),
            ) {
                (Some(n), Some(d)) => (numerator, denominator) = (n, d),
                _ => return (u128::MAX, 1),
            }
        }
        (numerator, denominator)
    }
}

impl fmt::Display for FeeSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rate {} exponent {}{}",
            Usdc(i64::from(self.rate_ppm)),
            self.exponent,
            if self.taker_only { " taker-only" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn esports() -> FeeSchedule {
        FeeSchedule::parse("0.03", "1", true).unwrap()
    }

    #[test]
    fn reproduces_the_documented_example() {
        // 100 shares at 0.40 on rate 0.03, exponent 1: 100 × 0.03 × 0.24 = 0.72.
        let fee = esports().taker_fee(Px(4000), Qty::from_shares(100));
        assert_eq!(fee, Usdc(720_000));
    }

    #[test]
    fn floors_to_five_decimals() {
        // 1.23 shares at 0.333: 1.23 × 0.03 × 0.333 × 0.667 = 0.0081957... → 0.00819.
        let fee = esports().taker_fee(Px(3330), Qty(1_230_000));
        assert_eq!(fee, Usdc(8_190));
    }

    #[test]
    fn squares_the_spread_with_exponent_two() {
        let fees = FeeSchedule::parse("0.25", "2", true).unwrap();
        // 10 × 0.25 × (0.5 × 0.5)^2 = 0.15625 → 0.15625.
        assert_eq!(
            fees.taker_fee(Px(5000), Qty::from_shares(10)),
            Usdc(156_250)
        );
    }

    #[test]
    fn a_product_beyond_u128_charges_the_most_not_the_least() {
        let fees = FeeSchedule::parse("1", "2", true).unwrap();
        assert_eq!(fees.taker_fee(Px(5000), Qty(u64::MAX)), Usdc(i64::MAX));
    }

    #[test]
    fn makers_pay_only_when_the_schedule_says_so() {
        let qty = Qty::from_shares(100);
        assert_eq!(esports().maker_fee(Px(4000), qty), Usdc::ZERO);
        let both = FeeSchedule {
            taker_only: false,
            ..esports()
        };
        assert_eq!(both.maker_fee(Px(4000), qty), Usdc(720_000));
        assert_eq!(FeeSchedule::FREE.taker_fee(Px(4000), qty), Usdc::ZERO);
    }

    #[test]
    fn refuses_rates_and_exponents_the_math_cannot_hold() {
        assert!(matches!(
            FeeSchedule::parse("1.5", "1", true),
            Err(FeeError::BadRate(_))
        ));
        assert!(matches!(
            FeeSchedule::parse("-0.1", "1", true),
            Err(FeeError::BadRate(_))
        ));
        assert!(matches!(
            FeeSchedule::parse("0.0000001", "1", true),
            Err(FeeError::BadRate(_))
        ));
        assert!(matches!(
            FeeSchedule::parse("0.03", "3", true),
            Err(FeeError::BadExponent(_))
        ));
        assert!(matches!(
            FeeSchedule::parse("0.03", "1.5", true),
            Err(FeeError::BadExponent(_))
        ));
        assert_eq!(FeeSchedule::parse("0.03", "1.0", true), Ok(esports()));
    }

    proptest! {
        #[test]
        fn fee_is_the_floor_of_the_exact_rational(
            px in 0u16..=10_000, qty in 0u64..10_000_000_000_000, rate in 0u32..=1_000_000, exponent in 0u8..=2,
        ) {
            let fees = FeeSchedule { rate_ppm: rate, exponent, taker_only: true };
            let fee = fees.taker_fee(Px(px), Qty(qty)).0;
            // Exact: qty/1e6 × rate/1e6 × (p/1e4 × (1 − p/1e4))^e, in 1e-6 USDC, floored to 10.
            let spread = u128::from(px) * (10_000 - u128::from(px));
            let exact_num = u128::from(qty) * u128::from(rate) * spread.pow(u32::from(exponent));
            let exact_den = 1_000_000u128 * 10u128.pow(8 * u32::from(exponent));
            let floor_1e5 = exact_num / exact_den / 10 * 10;
            prop_assert_eq!(fee as u128, floor_1e5);
            prop_assert!(fee % 10 == 0);
        }
    }
}
