//! The run report: the `--report-json` contract and the terminal summary.
//!
//! Keys are a contract between issues: later work adds keys, never renames or drops them. Every
//! figure comes from a counter or histogram of the run; none is assumed.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use crate::bot::latency::Segment;
use crate::bot::metrics::Metrics;
use crate::bot::pipeline::StrategyOutcome;
use crate::domain::num::{AssetIdx, Usdc};
use crate::domain::risk::RejectReason;
use crate::sim::{ExecCounts, VenueStats};
use crate::strategies::pair_arb::maker::MakerSkip;
use crate::strategies::pair_arb::math::Skip;

/// A finished run's report.
pub struct Report {
    json: Value,
}

/// How the bot's final positions compared with the venue's ledger.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PositionCheck {
    /// Balances compared: every asset's shares, and the pUSD cash.
    pub checked: u64,
    /// Balances where the bot differs from the venue.
    pub mismatches: u64,
}

/// Builds the report from the run's counters, histograms and book and position checks.
pub fn build(
    metrics: &Metrics,
    outcome: &StrategyOutcome,
    assets: usize,
    checked_against_venue: u64,
    mismatches: u64,
    positions_check: PositionCheck,
    elapsed: Duration,
) -> Report {
    let feed = &metrics.market_feed;
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let books = outcome.core.book_counters();
    let core = outcome.core.counters();
    let strategy = outcome.core.strategy_counters();
    let risk = outcome.core.risk();
    let skipped: serde_json::Map<String, Value> = Skip::ALL
        .iter()
        .map(|s| {
            (
                s.as_str().to_owned(),
                json!(strategy.skipped_by_reason[s.index()]),
            )
        })
        .collect();
    let maker_skipped: serde_json::Map<String, Value> = MakerSkip::ALL
        .iter()
        .map(|s| {
            (
                s.as_str().to_owned(),
                json!(strategy.maker_skips[s.index()]),
            )
        })
        .collect();
    let rejections: serde_json::Map<String, Value> = RejectReason::ALL
        .iter()
        .map(|r| {
            (
                r.as_str().to_owned(),
                json!(risk.rejections_by_reason()[r.index()]),
            )
        })
        .collect();
    let mut latency = serde_json::Map::new();
    for segment in Segment::ALL {
        let s = outcome.latency.summary(segment);
        latency.insert(
            segment.as_str().to_owned(),
            json!({"count": s.count, "p50": s.p50, "p90": s.p90, "p99": s.p99, "p999": s.p999, "max": s.max}),
        );
    }
    let exec = &outcome.execution.counters;
    let core_state = &outcome.core;
    let (registry, positions) = (core_state.registry(), core_state.positions());
    let held: serde_json::Map<String, Value> = (0..registry.asset_count())
        .map(|i| AssetIdx(i as u32))
        .filter(|&a| !positions.shares(a).is_zero())
        .map(|a| {
            (
                registry.asset(a).token_id.clone(),
                json!(positions.shares(a).to_string()),
            )
        })
        .collect();
    let cost: i64 = (0..registry.asset_count())
        .map(|i| positions.cost_basis(AssetIdx(i as u32)).0)
        .sum();
    let marked = positions.mark_to_market(registry, core_state.books()).0;
    let json = json!({
        "elapsed_ms": elapsed.as_millis() as u64,
        "feeds": {
            "polymarket_market": {
                "frames": get(&feed.frames),
                "events": get(&feed.events),
                "decode_errors": get(&feed.decode_errors),
                "unknown_events": get(&feed.unknown_events),
                "reconnects": get(&feed.reconnects),
                "resyncs": get(&feed.resyncs),
                "stalls": get(&feed.stalls),
                "ring_full": get(&feed.ring_full),
                "backfills": get(&feed.backfills),
                "fee_changes": get(&feed.fee_changes),
                "pongs": get(&feed.pongs),
            }
        },
        "books": {
            "assets": assets,
            "checked_against_venue": checked_against_venue,
            "mismatches": mismatches,
            "snapshots": books.snapshots,
            "levels_applied": books.levels_applied,
            "out_of_order": books.out_of_order,
            "best_mismatches": books.best_mismatches,
            "crossed": books.crossed,
            "tick_changes": books.tick_changes,
            "resyncs_requested": books.resyncs_requested,
        },
        "core": {
            "events": core.events,
            "messages": core.messages,
            "evaluations": core.evaluations,
        },
        "strategy": {
            "evaluations": strategy.evaluations,
            "opportunities": strategy.opportunities,
            "intents": strategy.intents,
            "skipped_by_reason": skipped,
            "blocked": {
                "cooldown": strategy.cooldown_blocks,
                "in_flight": strategy.in_flight_blocks,
                "risk_gate": strategy.gate_refusals,
                "no_inventory": strategy.no_inventory,
            },
            "maker": {
                "quotes_placed": strategy.quotes_placed,
                "quote_cancels": strategy.quote_cancels,
                "leg_takes": strategy.leg_takes,
                "leg_unwinds": strategy.leg_unwinds,
                "pairs_completed": strategy.pairs_completed.to_string(),
                "skipped_by_reason": maker_skipped,
            },
        },
        "risk": {
            "rejections_by_reason": rejections,
            "halts": risk.halts(),
        },
        "execution": {
            "orders_sent": exec.orders_sent,
            "acks": exec.acks,
            "fills": exec.fills,
            "balance_checks": exec.balance_checks,
            "balance_mismatches": exec.balance_mismatches,
            "share_checks": exec.share_checks,
            "share_mismatches": exec.share_mismatches,
            "rejects": exec.rejects,
            "cancels": exec.cancels,
            "unknown_resolved": exec.unknown_resolved,
            "presign_hits": exec.presign_hits,
            "presign_misses": exec.presign_misses,
        },
        "positions": held,
        "positions_checked": positions_check.checked,
        "positions_mismatches": positions_check.mismatches,
        "pnl": {
            "realized": Usdc(positions.cash().0.saturating_add(cost)).to_string(),
            "unrealized": Usdc(marked.saturating_sub(cost)).to_string(),
            "fees": positions.fees().to_string(),
        },
        "latency_ns": latency,
        "state_hash": format!("{:016x}", outcome.core.state_hash()),
    });
    Report { json }
}

impl Report {
    /// The report as pretty JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.json).unwrap_or_default()
    }

    /// The report as a JSON value.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Adds what the embedded venue's trading side saw (`venue_exec`): the orders it accepted
    /// and refused, the duplicates it refused (a resent order shows here), and the faults it
    /// injected.
    pub fn add_venue_exec(&mut self, exec: &ExecCounts) {
        self.json["venue_exec"] = json!({
            "orders_accepted": exec.orders_accepted,
            "orders_rejected": exec.orders_rejected,
            "duplicate_orders": exec.duplicate_orders,
            "lost_responses": exec.lost_responses,
            "http_5xx": exec.http_5xx,
            "http_429": exec.http_429,
            "user_ws_disconnects": exec.user_ws_disconnects,
            "trades_failed": exec.trades_failed,
        });
    }

    /// A short human summary for the terminal.
    pub fn summary(&self, venue: &VenueStats) -> String {
        let j = &self.json;
        let f = &j["feeds"]["polymarket_market"];
        let b = &j["books"];
        let e = &j["execution"];
        format!(
            "pmbot demo: {} ms\n\
             market feed: {} frames, {} events, {} decode errors, {} unknown events, \
             {} reconnects, {} stalls, {} resyncs\n\
             books: {} assets, {} checks against the venue, {} mismatches\n\
             strategy: {} evaluations, {} opportunities, {} intents; skipped {}; \
             maker quotes {} placed, {} cancelled\n\
             risk: {} halts; rejections {}\n\
             execution: {} orders sent, {} acks, {} fills, {} rejects, {} cancels, \
             {} unknown resolved, presign {} hits / {} misses\n\
             positions: {} balances (shares, pUSD) checked against the venue's ledger, {} mismatches; \
             pnl realized {}, unrealized {}, fees {}\n\
             venue: {venue:?}\n\
             state hash: {}",
            j["elapsed_ms"],
            f["frames"],
            f["events"],
            f["decode_errors"],
            f["unknown_events"],
            f["reconnects"],
            f["stalls"],
            f["resyncs"],
            b["assets"],
            b["checked_against_venue"],
            b["mismatches"],
            j["strategy"]["evaluations"],
            j["strategy"]["opportunities"],
            j["strategy"]["intents"],
            nonzero(&j["strategy"]["skipped_by_reason"]),
            j["strategy"]["maker"]["quotes_placed"],
            j["strategy"]["maker"]["quote_cancels"],
            j["risk"]["halts"],
            nonzero(&j["risk"]["rejections_by_reason"]),
            e["orders_sent"],
            e["acks"],
            e["fills"],
            e["rejects"],
            e["cancels"],
            e["unknown_resolved"],
            e["presign_hits"],
            e["presign_misses"],
            j["positions_checked"],
            j["positions_mismatches"],
            j["pnl"]["realized"],
            j["pnl"]["unrealized"],
            j["pnl"]["fees"],
            j["state_hash"],
        )
    }
}

/// `reason=n` for every non-zero count of a by-reason map, or `none`.
fn nonzero(counts: &Value) -> String {
    let parts: Vec<String> = counts
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}
