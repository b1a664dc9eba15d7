//! The `execution` section of the configuration: whether orders go to the venue, the order
//! connections and their deadlines, the venue's rate limits, and the pre-signed ladder.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{SettingsError, humantime_str};

/// Execution settings (`execution`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionSettings {
    /// `dry_run`: sign and log every order, send nothing; `live`: trade on the venue.
    pub mode: ExecutionMode,
    /// Keep-alive connections to the order endpoint, dialled at start-up and kept warm.
    pub connections: usize,
    /// An order request unanswered this long has an unknown outcome: reserved, never resent.
    #[serde(with = "humantime_str")]
    pub request_timeout: Duration,
    /// An unknown order not resolved within this long halts the strategy; it is looked up
    /// (`GET /data/order/{id}`) four times within it.
    #[serde(with = "humantime_str")]
    pub unknown_deadline: Duration,
    /// Idle connections are exercised this often so that none has gone cold when an order comes.
    #[serde(with = "humantime_str")]
    pub keep_warm: Duration,
    /// How long a graceful stop waits for its cancels and the last fills.
    #[serde(with = "humantime_str")]
    pub stop_timeout: Duration,
    /// Signature type of the orders: 0 EOA, 1 proxy wallet, 2 Gnosis safe.
    pub signature_type: u8,
    /// Address holding the funds when it is not the signer's (proxy or safe); null: the signer.
    pub funder: Option<String>,
    /// The venue's rate limits, enforced before sending.
    pub rate_limits: RateLimits,
    /// Orders signed ahead of time.
    pub presign: PresignSettings,
}

/// Whether orders reach the venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionMode {
    /// Sign and log, send nothing; acknowledge like the venue would, never fill.
    DryRun,
    /// Trade.
    Live,
}

/// Token buckets per endpoint (`execution.rate_limits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// `POST /order`.
    pub post_order: Bucket,
    /// `POST /orders` (one token per request, up to 15 orders each).
    pub post_orders: Bucket,
    /// `DELETE /order`, `/orders`, `/cancel-all`.
    pub cancel: Bucket,
}

/// One token bucket: `burst` requests at once, refilled at `per_10s` requests per 10 seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Requests that may go at once.
    pub burst: u32,
    /// Sustained requests per 10-second window.
    pub per_10s: u32,
}

/// The pre-signed ladder (`execution.presign`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresignSettings {
    /// Sign likely orders on the execution thread's idle time.
    pub enabled: bool,
    /// Prices on each side of an asset's last traded or quoted price.
    pub ticks_each_side: u32,
    /// Cached orders held at most.
    pub capacity: usize,
    /// A cached order older than this is discarded.
    #[serde(with = "humantime_str")]
    pub max_age: Duration,
    /// At most one order is signed ahead per this interval, so the ladder never starves the
    /// threads it shares cores with (0: as fast as the thread idles).
    #[serde(with = "humantime_str")]
    pub interval: Duration,
}

impl ExecutionSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        let positive = [
            ("execution.request_timeout", self.request_timeout),
            ("execution.unknown_deadline", self.unknown_deadline),
            ("execution.keep_warm", self.keep_warm),
            ("execution.stop_timeout", self.stop_timeout),
            ("execution.presign.max_age", self.presign.max_age),
        ];
        for (key, value) in positive {
            if value.is_zero() {
                return Err(SettingsError::invalid(key, "must be positive"));
            }
        }
        if !(1..=16).contains(&self.connections) {
            return Err(SettingsError::invalid(
                "execution.connections",
                "must be between 1 and 16",
            ));
        }
        if self.unknown_deadline <= self.request_timeout {
            return Err(SettingsError::invalid(
                "execution.unknown_deadline",
                "must be longer than execution.request_timeout",
            ));
        }
        if self.signature_type > 2 {
            return Err(SettingsError::invalid(
                "execution.signature_type",
                "must be 0 (EOA), 1 (proxy) or 2 (Gnosis safe)",
            ));
        }
        let buckets = [
            (
                "execution.rate_limits.post_order",
                self.rate_limits.post_order,
            ),
            (
                "execution.rate_limits.post_orders",
                self.rate_limits.post_orders,
            ),
            ("execution.rate_limits.cancel", self.rate_limits.cancel),
        ];
        for (key, bucket) in buckets {
            if bucket.burst == 0 || bucket.per_10s == 0 {
                return Err(SettingsError::invalid(
                    key,
                    "burst and per_10s must be positive",
                ));
            }
        }
        if self.presign.enabled && self.presign.capacity == 0 {
            return Err(SettingsError::invalid(
                "execution.presign.capacity",
                "must be positive when presign is enabled",
            ));
        }
        Ok(())
    }
}
