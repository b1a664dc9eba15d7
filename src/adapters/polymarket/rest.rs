//! Market-data REST calls off the hot path: the universe at start-up (`/clob-markets/{id}`) and
//! the snapshot backfill thread (`POST /books`) that serves books a WebSocket snapshot did not
//! bring in time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, RecvTimeoutError};
use serde_json::Value;

use crate::adapters::polymarket::decode::MarketDecoder;
use crate::adapters::polymarket::ws_market::RingWriter;
use crate::bot::clock::Clock;
use crate::bot::metrics::FeedCounters;
use crate::domain::events::{Event, EventBody};
use crate::domain::fees::FeeSchedule;
use crate::domain::markets::{MarketSpec, Registry};
use crate::domain::num::{AssetIdx, MarketIdx, Px, Qty};

/// Why a REST call failed.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// Transport or HTTP status failure.
    #[error("{url}: {why}")]
    Http {
        /// The URL called.
        url: String,
        /// What went wrong.
        why: String,
    },
    /// The body did not have the expected shape.
    #[error("{url}: unexpected response: {why}")]
    Shape {
        /// The URL called.
        url: String,
        /// What was wrong.
        why: String,
    },
}

/// A blocking HTTP agent with short timeouts, for cold paths only.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(true)
        .build()
        .into()
}

/// Fetches each market's tokens, tick and minimum size from `GET /clob-markets/{condition_id}`.
pub fn fetch_markets(
    agent: &ureq::Agent,
    rest_url: &str,
    condition_ids: &[String],
) -> Result<Vec<MarketSpec>, RestError> {
    condition_ids
        .iter()
        .map(|id| {
            let url = format!("{}/clob-markets/{id}", rest_url.trim_end_matches('/'));
            let body: Value = get_json(agent, &url)?;
            parse_clob_market(&body).map_err(|why| RestError::Shape { url, why })
        })
        .collect()
}

fn get_json(agent: &ureq::Agent, url: &str) -> Result<Value, RestError> {
    let http = |why: String| RestError::Http {
        url: url.to_owned(),
        why,
    };
    let body = agent
        .get(url)
        .call()
        .map_err(|e| http(e.to_string()))?
        .body_mut()
        .read_to_vec()
        .map_err(|e| http(e.to_string()))?;
    serde_json::from_slice(&body).map_err(|e| RestError::Shape {
        url: url.to_owned(),
        why: e.to_string(),
    })
}

/// Reads the compact market object `{c, t:[{t,o}], mts, mos, nr, ...}`.
pub fn parse_clob_market(body: &Value) -> Result<MarketSpec, String> {
    let condition_id = body["c"]
        .as_str()
        .ok_or("missing c (condition id)")?
        .to_owned();
    let tokens = body["t"].as_array().ok_or("missing t (tokens)")?;
    let token_ids = tokens
        .iter()
        .map(|t| t["t"].as_str().map(str::to_owned).ok_or("token without t"))
        .collect::<Result<Vec<_>, _>>()?;
    let tick = Px::parse(number_text(&body["mts"]).ok_or("missing mts")?.as_bytes())
        .map_err(|e| format!("mts: {e}"))?;
    let min_order_size = Qty::parse(number_text(&body["mos"]).ok_or("missing mos")?.as_bytes())
        .map_err(|e| format!("mos: {e}"))?;
    let fees = match &body["fd"] {
        Value::Null => FeeSchedule::FREE,
        fd => FeeSchedule::parse(
            &number_text(&fd["r"]).ok_or("fd: missing r")?,
            &number_text(&fd["e"]).unwrap_or_else(|| "1".into()),
            fd["to"].as_bool().unwrap_or(true),
        )
        .map_err(|e| format!("fd: {e}"))?,
    };
    Ok(MarketSpec {
        condition_id,
        token_ids,
        tick,
        min_order_size,
        neg_risk: body["nr"].as_bool().unwrap_or(false),
        fees,
        ..MarketSpec::default()
    })
}

/// The decimal text of a JSON number or numeric string.
fn number_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Fetches books for `assets` with one `POST /books`; returns the raw body.
pub fn fetch_books(
    agent: &ureq::Agent,
    rest_url: &str,
    registry: &Registry,
    assets: &[AssetIdx],
) -> Result<Vec<u8>, RestError> {
    let url = format!("{}/books", rest_url.trim_end_matches('/'));
    let body: Vec<Value> = assets
        .iter()
        .map(|&a| serde_json::json!({"token_id": registry.asset(a).token_id}))
        .collect();
    let http = |why: String| RestError::Http {
        url: url.clone(),
        why,
    };
    let body = serde_json::to_vec(&body).map_err(|e| http(e.to_string()))?;
    agent
        .post(&url)
        .header("Content-Type", "application/json")
        .send(&body[..])
        .map_err(|e| http(e.to_string()))?
        .body_mut()
        .read_to_vec()
        .map_err(|e| http(e.to_string()))
}

/// Everything the backfill thread needs.
pub struct Backfill {
    /// REST base URL.
    pub rest_url: String,
    /// The universe.
    pub registry: Arc<Registry>,
    /// Assets whose snapshot is overdue.
    pub requests: Receiver<AssetIdx>,
    /// Its own ring into the strategy thread.
    pub ring: RingWriter,
    /// The market feed's counters (backfill errors count as decode errors or resync failures).
    pub counters: Arc<FeedCounters>,
    /// Stamps.
    pub clock: Clock,
    /// How long to keep retrying a push into a full ring.
    pub ring_full_spin: Duration,
    /// How often to re-read every market's parameters (`/clob-markets`) and hand fee changes to
    /// the core; zero: never.
    pub metadata_refresh: Duration,
}

impl Backfill {
    /// Serves requests until `stop` is set: batches what is waiting into one `POST /books`,
    /// decodes the books like WebSocket snapshots and pushes them into its ring.
    pub fn run(mut self, stop: &AtomicBool) {
        let agent = agent(Duration::from_secs(5));
        let mut decoder = MarketDecoder::new();
        let mut batch: Vec<AssetIdx> = Vec::new();
        let mut events: Vec<Event> = Vec::with_capacity(4096);
        let mut undelivered = Vec::new();
        let mut fees: Vec<FeeSchedule> = self.registry.markets().iter().map(|m| m.fees).collect();
        let mut next_refresh = Instant::now() + self.metadata_refresh;
        while !stop.load(Ordering::Relaxed) {
            if !self.metadata_refresh.is_zero() && Instant::now() >= next_refresh {
                self.refresh_fees(&agent, &mut fees);
                next_refresh = Instant::now() + self.metadata_refresh;
            }
            match self.requests.recv_timeout(Duration::from_millis(50)) {
                Ok(asset) => batch.push(asset),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            }
            batch.extend(self.requests.try_iter());
            batch.sort_unstable();
            batch.dedup();
            let t_rx = self.clock.raw();
            match fetch_books(&agent, &self.rest_url, &self.registry, &batch) {
                Ok(body) => {
                    events.clear();
                    if let Err(e) = decoder.decode(&body, &self.registry, &mut events) {
                        FeedCounters::inc(&self.counters.decode_errors);
                        tracing::warn!(error = %e, "undecodable /books response");
                    }
                    events.iter_mut().for_each(|e| e.t_rx = t_rx);
                    // A book the ring could not take stays stale; the core asks again.
                    undelivered.clear();
                    self.ring.publish_frame(
                        &mut events,
                        &self.clock,
                        self.ring_full_spin,
                        &self.counters,
                        &mut undelivered,
                    );
                    self.ring.flush_stale(&self.counters);
                }
                Err(e) => tracing::warn!(error = %e, assets = batch.len(), "book backfill failed"),
            }
            batch.clear();
        }
    }

    /// Re-reads every market's parameters and hands each fee schedule that differs from what the
    /// core was last given to the core, as a one-event message. A change the ring cannot take is
    /// offered again at the next refresh; a failed read is logged and retried then too.
    fn refresh_fees(&mut self, agent: &ureq::Agent, delivered: &mut [FeeSchedule]) {
        let ids: Vec<String> = self
            .registry
            .markets()
            .iter()
            .map(|m| m.condition_id.clone())
            .collect();
        let specs = match fetch_markets(agent, &self.rest_url, &ids) {
            Ok(specs) => specs,
            Err(e) => {
                tracing::warn!(error = %e, "market parameters refresh failed");
                return;
            }
        };
        for (i, spec) in specs.iter().enumerate() {
            if spec.fees == delivered[i] {
                continue;
            }
            let t_rx = self.clock.raw();
            let mut message = [
                Event::new(
                    0,
                    EventBody::FeeChange {
                        market: MarketIdx(i as u32),
                        fees: spec.fees,
                    },
                ),
                Event::new(0, EventBody::MessageEnd),
            ];
            message.iter_mut().for_each(|e| e.t_rx = t_rx);
            if self.ring.publish(
                &mut message,
                &self.clock,
                self.ring_full_spin,
                &self.counters,
            ) {
                tracing::info!(market = %spec.condition_id, fees = %spec.fees, "fee schedule changed");
                FeedCounters::inc(&self.counters.fee_changes);
                delivered[i] = spec.fees;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_compact_market_object() {
        let body = serde_json::json!({
            "c": "0xabc", "t": [{"t": "123", "o": "Yes"}, {"t": "456", "o": "No"}],
            "mts": 0.001, "mos": 5, "nr": true, "fd": {"r": 0.03, "e": 1, "to": true}
        });
        let spec = parse_clob_market(&body).unwrap();
        assert_eq!(spec.condition_id, "0xabc");
        assert_eq!(spec.token_ids, vec!["123", "456"]);
        assert_eq!(spec.tick, Px(10));
        assert_eq!(spec.min_order_size, Qty::from_shares(5));
        assert!(spec.neg_risk);
        assert_eq!(spec.fees.rate_ppm, 30_000);
        assert_eq!(spec.fees.exponent, 1);
        assert!(spec.fees.taker_only);
    }

    #[test]
    fn names_what_is_missing_or_wrong() {
        let no_tick = serde_json::json!({"c": "0xabc", "t": [], "mos": 5});
        assert_eq!(parse_clob_market(&no_tick).unwrap_err(), "missing mts");
        let bad_tick = serde_json::json!({"c": "0xabc", "t": [], "mts": 0.00001, "mos": 5});
        assert!(
            parse_clob_market(&bad_tick)
                .unwrap_err()
                .starts_with("mts:")
        );
    }
}
