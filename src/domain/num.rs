//! Exact decimal fixed-point quantities: prices (1e-4), shares and USDC (1e-6), wide notionals.
//!
//! Every number the venue sends is a decimal string. These types parse those strings straight
//! from bytes into integers and refuse anything they cannot represent exactly: a digit finer than
//! the unit, a sign where none is allowed, an exponent, a value out of range. Nothing rounds
//! silently; where a product must be brought back to a coarser unit, the caller names the
//! direction (`floor` or `ceil`).

use std::fmt;

/// Why a decimal string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NumError {
    /// The string was empty (or only a sign or a point).
    #[error("empty number")]
    Empty,
    /// A minus sign on a quantity that cannot be negative.
    #[error("negative value where none is allowed")]
    Negative,
    /// A byte that is not part of a plain decimal (exponents, spaces, letters, a second point).
    #[error("not a plain decimal number")]
    Garbage,
    /// A non-zero digit finer than the type's unit.
    #[error("more decimal places than the unit allows")]
    TooPrecise,
    /// The value does not fit the integer behind the type.
    #[error("number too large")]
    Overflow,
    /// The value is representable but outside the type's domain (a price above 1).
    #[error("value out of range")]
    OutOfRange,
}

/// Parses a plain decimal (`123`, `0.48`, `25.0000`, `-3.5` when `signed`) into an integer count
/// of `10^-scale` units. Trailing zeros beyond the scale are accepted; a non-zero digit there is
/// `TooPrecise`.
#[inline]
fn parse_scaled(bytes: &[u8], scale: u32, signed: bool) -> Result<(bool, u64), NumError> {
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    if negative && !signed {
        return Err(NumError::Negative);
    }
    let mut value: u64 = 0;
    let mut seen_digit = false;
    let mut frac_digits: Option<u32> = None;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                let d = u64::from(b - b'0');
                match frac_digits {
                    Some(n) if n >= scale => {
                        if d != 0 {
                            return Err(NumError::TooPrecise);
                        }
                    }
                    Some(n) => {
                        value = mul_add(value, d)?;
                        frac_digits = Some(n + 1);
                    }
                    None => value = mul_add(value, d)?,
                }
            }
            b'.' if frac_digits.is_none() => frac_digits = Some(0),
            _ => return Err(NumError::Garbage),
        }
    }
    if !seen_digit {
        return Err(NumError::Empty);
    }
    let used = frac_digits.unwrap_or(0).min(scale);
    let factor = 10u64.pow(scale - used);
    let value = value.checked_mul(factor).ok_or(NumError::Overflow)?;
    Ok((negative && value != 0, value))
}

#[inline]
fn mul_add(value: u64, digit: u64) -> Result<u64, NumError> {
    value
        .checked_mul(10)
        .and_then(|v| v.checked_add(digit))
        .ok_or(NumError::Overflow)
}

/// Writes `units` scaled by `10^-scale` as the shortest exact decimal (`0.48`, `1`, `25.5`), or
/// padded with zeros to a requested precision (`{:.6}` → `0.480000`). A precision never drops
/// digits: the value always prints exactly.
fn fmt_scaled(f: &mut fmt::Formatter<'_>, negative: bool, units: u64, scale: u32) -> fmt::Result {
    let one = 10u64.pow(scale);
    let int = units / one;
    let mut frac = units % one;
    let mut width = scale as usize;
    while width > 0 && frac.is_multiple_of(10) && width > f.precision().unwrap_or(0) {
        frac /= 10;
        width -= 1;
    }
    if negative {
        f.write_str("-")?;
    }
    write!(f, "{int}")?;
    if width > 0 {
        write!(f, ".{frac:0width$}")?;
    }
    Ok(())
}

/// A price in units of 1e-4 USDC per share, `0..=10_000` (0 to 1). Every Polymarket tick size
/// (0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001) is a whole number of these units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Px(pub u16);

impl Px {
    /// Decimal places of the unit.
    pub const SCALE: u32 = 4;
    /// Units in one USDC.
    pub const ONE: Px = Px(10_000);
    /// The zero price (also "no level" where a best price is absent).
    pub const ZERO: Px = Px(0);

    /// Parses a venue price string; prices above 1 are `OutOfRange`.
    #[inline]
    pub fn parse(bytes: &[u8]) -> Result<Px, NumError> {
        let (_, v) = parse_scaled(bytes, Self::SCALE, false)?;
        if v > u64::from(Self::ONE.0) {
            return Err(NumError::OutOfRange);
        }
        Ok(Px(v as u16))
    }

    /// The raw count of 1e-4 units.
    #[inline]
    pub const fn units(self) -> u16 {
        self.0
    }

    /// `1 - self`: the complementary outcome's price.
    #[inline]
    pub const fn complement(self) -> Px {
        Px(Self::ONE.0 - self.0)
    }

    /// `self × qty` exactly, in 1e-10 USDC.
    #[inline]
    pub fn notional(self, qty: Qty) -> Notional {
        Notional(u128::from(self.0) * u128::from(qty.0))
    }
}

impl fmt::Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_scaled(f, false, u64::from(self.0), Self::SCALE)
    }
}

/// A number of outcome shares in units of 1e-6 (the tokens' six decimals).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Qty(pub u64);

impl Qty {
    /// Decimal places of the unit.
    pub const SCALE: u32 = 6;
    /// Units in one share.
    pub const ONE: u64 = 1_000_000;
    /// No shares.
    pub const ZERO: Qty = Qty(0);

    /// Parses a venue size string.
    #[inline]
    pub fn parse(bytes: &[u8]) -> Result<Qty, NumError> {
        parse_scaled(bytes, Self::SCALE, false).map(|(_, v)| Qty(v))
    }

    /// Whole shares (for building test and simulator values).
    pub const fn from_shares(shares: u64) -> Qty {
        Qty(shares * Self::ONE)
    }

    /// Whether this is zero shares.
    #[inline]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Qty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_scaled(f, false, self.0, Self::SCALE)
    }
}

/// An amount of collateral (USDC/pUSD) in units of 1e-6, signed for cash deltas and PnL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Usdc(pub i64);

impl Usdc {
    /// Decimal places of the unit.
    pub const SCALE: u32 = 6;
    /// Units in one USDC.
    pub const ONE: i64 = 1_000_000;
    /// Nothing.
    pub const ZERO: Usdc = Usdc(0);

    /// Parses a signed collateral amount.
    #[inline]
    pub fn parse(bytes: &[u8]) -> Result<Usdc, NumError> {
        let (negative, v) = parse_scaled(bytes, Self::SCALE, true)?;
        let value = if negative {
            0i64.checked_sub_unsigned(v)
        } else {
            i64::try_from(v).ok()
        };
        value.map(Usdc).ok_or(NumError::Overflow)
    }
}

impl fmt::Display for Usdc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_scaled(f, self.0 < 0, self.0.unsigned_abs(), Self::SCALE)
    }
}

/// A price × size product in units of 1e-10 USDC: exact, never rounded until converted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Notional(pub u128);

impl Notional {
    const PER_USDC_UNIT: u128 = 10_000;

    /// Converts to USDC rounding down (proceeds: never count more than received).
    pub fn to_usdc_floor(self) -> Result<Usdc, NumError> {
        i64::try_from(self.0 / Self::PER_USDC_UNIT)
            .map(Usdc)
            .map_err(|_| NumError::Overflow)
    }

    /// Converts to USDC rounding up (costs: never count less than paid).
    pub fn to_usdc_ceil(self) -> Result<Usdc, NumError> {
        i64::try_from(self.0.div_ceil(Self::PER_USDC_UNIT))
            .map(Usdc)
            .map_err(|_| NumError::Overflow)
    }
}

impl std::ops::Add for Notional {
    type Output = Notional;
    fn add(self, rhs: Notional) -> Notional {
        Notional(self.0 + rhs.0)
    }
}

/// Which side of the book: bids (`Buy`) or asks (`Sell`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// A bid: someone buying.
    Buy,
    /// An ask: someone selling.
    Sell,
}

impl Side {
    /// Parses the venue's `BUY`/`SELL` (and the older `bids`/`asks` naming is handled by the
    /// decoder); anything else is `None`.
    #[inline]
    pub fn parse(bytes: &[u8]) -> Option<Side> {
        match bytes {
            b"BUY" | b"buy" => Some(Side::Buy),
            b"SELL" | b"sell" => Some(Side::Sell),
            _ => None,
        }
    }

    /// The venue's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

/// A dense index for an outcome token (asset), assigned at start-up by the registry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssetIdx(pub u32);

/// A dense index for a market (condition id), assigned at start-up by the registry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MarketIdx(pub u32);

/// A dense index for a neg-risk event (a set of mutually exclusive markets), assigned by the
/// registry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventIdx(pub u32);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prints_exactly_and_pads_to_a_requested_precision() {
        assert_eq!(Usdc(720_000).to_string(), "0.72");
        assert_eq!(format!("{:.6}", Usdc(720_000)), "0.720000");
        assert_eq!(format!("{:.6}", Usdc(-1_000_000)), "-1.000000");
        assert_eq!(format!("{:.2}", Usdc(1_234_567)), "1.234567");
        assert_eq!(format!("{:.6}", Usdc(0)), "0.000000");
        assert_eq!(Usdc(0).to_string(), "0");
        assert_eq!(format!("{:.2}", Qty(10_000_000)), "10.00");
    }

    #[test]
    fn parses_venue_prices_exactly() {
        assert_eq!(Px::parse(b"0.48"), Ok(Px(4800)));
        assert_eq!(Px::parse(b"0.5000"), Ok(Px(5000)));
        assert_eq!(Px::parse(b"0.0001"), Ok(Px(1)));
        assert_eq!(Px::parse(b"1"), Ok(Px(10_000)));
        assert_eq!(Px::parse(b"1.0"), Ok(Px(10_000)));
        assert_eq!(Px::parse(b"0"), Ok(Px(0)));
        assert_eq!(Px::parse(b".5"), Ok(Px(5000)));
        assert_eq!(Px::parse(b"0.00250"), Ok(Px(25)));
    }

    #[test]
    fn refuses_prices_it_cannot_represent() {
        assert_eq!(Px::parse(b"0.00001"), Err(NumError::TooPrecise));
        assert_eq!(Px::parse(b"0.48001"), Err(NumError::TooPrecise));
        assert_eq!(Px::parse(b"1.0001"), Err(NumError::OutOfRange));
        assert_eq!(Px::parse(b"2"), Err(NumError::OutOfRange));
        assert_eq!(Px::parse(b"-0.5"), Err(NumError::Negative));
        assert_eq!(Px::parse(b""), Err(NumError::Empty));
        assert_eq!(Px::parse(b"."), Err(NumError::Empty));
        assert_eq!(Px::parse(b"5e-1"), Err(NumError::Garbage));
        assert_eq!(Px::parse(b"0.4.8"), Err(NumError::Garbage));
        assert_eq!(Px::parse(b" 0.4"), Err(NumError::Garbage));
        assert_eq!(
            Px::parse(b"99999999999999999999999"),
            Err(NumError::Overflow)
        );
    }

    #[test]
    fn parses_sizes_and_amounts() {
        assert_eq!(Qty::parse(b"500.0"), Ok(Qty(500_000_000)));
        assert_eq!(Qty::parse(b"25.0000"), Ok(Qty(25_000_000)));
        assert_eq!(Qty::parse(b"0.000001"), Ok(Qty(1)));
        assert_eq!(Qty::parse(b"0.0000001"), Err(NumError::TooPrecise));
        assert_eq!(Qty::parse(b"-1"), Err(NumError::Negative));
        assert_eq!(Qty::parse(b"18446744073709.551615"), Ok(Qty(u64::MAX)));
        assert_eq!(
            Qty::parse(b"18446744073709.551616"),
            Err(NumError::Overflow)
        );
        assert_eq!(Usdc::parse(b"-3.5"), Ok(Usdc(-3_500_000)));
        assert_eq!(Usdc::parse(b"-0"), Ok(Usdc(0)));
        assert_eq!(
            Usdc::parse(b"9223372036854.775808"),
            Err(NumError::Overflow)
        );
    }

    #[test]
    fn formats_shortest_exact_decimal() {
        assert_eq!(Px(4800).to_string(), "0.48");
        assert_eq!(Px(10_000).to_string(), "1");
        assert_eq!(Px(25).to_string(), "0.0025");
        assert_eq!(Qty(25_500_000).to_string(), "25.5");
        assert_eq!(Usdc(-1_250_000).to_string(), "-1.25");
    }

    #[test]
    fn notional_is_exact_and_rounds_as_asked() {
        let n = Px(4801).notional(Qty(3));
        assert_eq!(n, Notional(14_403));
        assert_eq!(n.to_usdc_floor(), Ok(Usdc(1)));
        assert_eq!(n.to_usdc_ceil(), Ok(Usdc(2)));
        let whole = Px(5000).notional(Qty::from_shares(10));
        assert_eq!(whole.to_usdc_floor(), whole.to_usdc_ceil());
        assert_eq!(whole.to_usdc_floor(), Ok(Usdc(5_000_000)));
    }

    /// Every tick-aligned price the venue can send, in each of its spellings.
    fn venue_price_strings() -> impl Strategy<Value = (u16, String)> {
        (0u16..=10_000, 0usize..3).prop_map(|(units, extra_zeros)| {
            let s = format!(
                "{}.{:04}{}",
                units / 10_000,
                units % 10_000,
                "0".repeat(extra_zeros)
            );
            (units, s)
        })
    }

    proptest! {
        #[test]
        fn px_parse_format_round_trips(units in 0u16..=10_000) {
            let px = Px(units);
            prop_assert_eq!(Px::parse(px.to_string().as_bytes()), Ok(px));
        }

        #[test]
        fn every_venue_price_string_parses_exactly((units, s) in venue_price_strings()) {
            prop_assert_eq!(Px::parse(s.as_bytes()), Ok(Px(units)));
        }

        #[test]
        fn qty_parse_format_round_trips(units in any::<u64>()) {
            let q = Qty(units);
            prop_assert_eq!(Qty::parse(q.to_string().as_bytes()), Ok(q));
        }

        #[test]
        fn venue_sizes_with_up_to_six_decimals_parse(int in 0u64..10_000_000, frac in 0u64..1_000_000, width in 1usize..=6) {
            let frac = frac % 10u64.pow(width as u32);
            let s = format!("{int}.{frac:0width$}");
            let expected = int * Qty::ONE + frac * 10u64.pow(6 - width as u32);
            prop_assert_eq!(Qty::parse(s.as_bytes()), Ok(Qty(expected)));
        }

        #[test]
        fn usdc_parse_format_round_trips(units in any::<i64>()) {
            let u = Usdc(units);
            prop_assert_eq!(Usdc::parse(u.to_string().as_bytes()), Ok(u));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = Px::parse(&bytes);
            let _ = Qty::parse(&bytes);
            let _ = Usdc::parse(&bytes);
        }
    }
}
