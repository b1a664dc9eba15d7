//! The scenario's trading settings: the faucet every new account gets, the L2 timestamp window,
//! trade settlement timings, and the execution faults (`exec_faults:`) the venue injects.

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};

use crate::domain::num::{Qty, Usdc};

/// How the venue trades (scenario key `trading:`; every field has a default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TradingSpec {
    /// pUSD each new account starts with (`"10000"`).
    #[serde(deserialize_with = "usdc")]
    pub faucet_usdc: Usdc,
    /// Shares of every outcome each new account starts with (`"1000"`).
    #[serde(deserialize_with = "qty")]
    pub faucet_shares: Qty,
    /// How far (seconds) an L2 `POLY_TIMESTAMP` may be from the venue's clock.
    pub l2_window_s: u64,
    /// A trade goes MATCHED → MINED after this many milliseconds.
    pub mined_after_ms: u64,
    /// A trade goes MINED → CONFIRMED after this many further milliseconds.
    pub confirmed_after_ms: u64,
}

impl Default for TradingSpec {
    fn default() -> TradingSpec {
        TradingSpec {
            faucet_usdc: Usdc(10_000 * Usdc::ONE),
            faucet_shares: Qty::from_shares(1_000),
            l2_window_s: 30,
            mined_after_ms: 200,
            confirmed_after_ms: 800,
        }
    }
}

/// Execution faults (scenario key `exec_faults:`); 0 everywhere means none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecFaults {
    /// Every n-th accepted order request gets no HTTP response: the connection is held for
    /// `lost_hold_ms`, then closed.
    pub lost_response_every: u64,
    /// How long a lost response holds the connection (default 2000 ms when 0).
    pub lost_hold_ms: u64,
    /// Every n-th order request is accepted, then answered HTTP 500.
    pub http_5xx_every: u64,
    /// Every n-th order request is answered HTTP 503 without being looked at.
    pub http_5xx_before_every: u64,
    /// Bursts of HTTP 429 on order requests.
    pub burst_429: Burst429,
    /// Every user-channel connection is dropped every this many milliseconds.
    pub user_ws_disconnect_every_ms: u64,
    /// Every n-th trade goes RETRYING → FAILED after MATCHED (its fills are reversed).
    pub fail_trade_every: u64,
}

/// After every `every` order requests, the next `length` are refused with HTTP 429.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Burst429 {
    /// Requests between bursts (0 = never).
    pub every: u64,
    /// Requests refused per burst.
    pub length: u64,
}

impl ExecFaults {
    /// Default hold of a lost response.
    pub const DEFAULT_HOLD_MS: u64 = 2_000;

    /// Checks the combinations the types allow but the venue cannot use; names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.burst_429.every != 0 && self.burst_429.length == 0 {
            return Err("exec_faults.burst_429.length must be at least 1 with every > 0".into());
        }
        Ok(())
    }
}

/// A decimal written as a YAML number or string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Decimal {
    Text(String),
    Int(u64),
    Float(f64),
}

impl Decimal {
    fn text(self) -> String {
        match self {
            Decimal::Text(s) => s,
            Decimal::Int(n) => n.to_string(),
            Decimal::Float(f) => f.to_string(),
        }
    }
}

fn usdc<'de, D: Deserializer<'de>>(d: D) -> Result<Usdc, D::Error> {
    let text = Decimal::deserialize(d)?.text();
    Usdc::parse(text.as_bytes())
        .ok()
        .filter(|u| u.0 >= 0)
        .ok_or_else(|| D::Error::custom(format!("{text:?} is not a pUSD amount")))
}

fn qty<'de, D: Deserializer<'de>>(d: D) -> Result<Qty, D::Error> {
    let text = Decimal::deserialize(d)?.text();
    Qty::parse(text.as_bytes())
        .map_err(|_| D::Error::custom(format!("{text:?} is not a share amount")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_exact_amounts() {
        let t: TradingSpec = serde_norway::from_str("{}").unwrap();
        assert_eq!(t, TradingSpec::default());
        let t: TradingSpec =
            serde_norway::from_str("{faucet_usdc: \"250.5\", faucet_shares: 12, l2_window_s: 5}")
                .unwrap();
        assert_eq!(t.faucet_usdc, Usdc(250_500_000));
        assert_eq!(t.faucet_shares, Qty::from_shares(12));
        assert_eq!(t.l2_window_s, 5);
    }

    #[test]
    fn bad_values_and_keys_are_refused() {
        assert!(serde_norway::from_str::<TradingSpec>("{faucet_usdc: \"x\"}").is_err());
        assert!(serde_norway::from_str::<ExecFaults>("{lost_every: 3}").is_err());
        let f: ExecFaults = serde_norway::from_str("{burst_429: {every: 10}}").unwrap();
        assert!(f.validate().unwrap_err().contains("burst_429.length"));
        let f: ExecFaults =
            serde_norway::from_str("{lost_response_every: 7, fail_trade_every: 3}").unwrap();
        assert_eq!((f.lost_response_every, f.fail_trade_every), (7, 3));
        assert!(f.validate().is_ok());
    }
}
