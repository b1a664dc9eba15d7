//! Scenario files: the venue's universe, book dynamics and scripted faults, read from strict YAML.
//!
//! A scenario lives in `config/scenarios/<name>.yaml`. Every struct refuses unknown keys, and
//! every semantic check names the key it is about, so a typo fails loudly instead of silently
//! falling back to a default.

use std::fmt;
use std::path::{Path, PathBuf};

use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::domain::markets::is_valid_tick;
use crate::domain::num::Px;
use crate::sim::SimError;

/// Largest number of levels per side a scenario may ask for.
pub const MAX_LEVELS: u32 = 50;
/// Longest silent stall a scenario may script, in milliseconds.
pub const MAX_STALL_MS: u64 = 60_000;

/// A whole scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seeds ids, initial books and every random choice of the dynamics.
    pub seed: u64,
    /// The markets the venue lists.
    pub universe: UniverseSpec,
    /// How the books move.
    pub dynamics: Dynamics,
    /// Faults injected at given steps (empty outside fault scenarios).
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
}

/// The markets the venue lists.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniverseSpec {
    /// Groups of stand-alone binary (Yes/No) markets.
    #[serde(default)]
    pub binary: Vec<BinaryGroup>,
    /// Neg-risk events, each a set of binary markets whose Yes prices sum to about 1.
    #[serde(default)]
    pub neg_risk_events: Vec<NegRiskEvent>,
    /// Minimum order size in whole shares, for every market.
    #[serde(default = "default_min_order_size")]
    pub min_order_size: u64,
}

fn default_min_order_size() -> u64 {
    5
}

/// `count` binary markets sharing one tick size.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinaryGroup {
    /// How many markets.
    pub count: u32,
    /// Their tick size.
    pub tick: Tick,
}

/// One neg-risk event.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NegRiskEvent {
    /// How many markets (at least 2).
    pub markets: u32,
    /// Their tick size.
    pub tick: Tick,
}

/// Book dynamics.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dynamics {
    /// Number of regular market-data messages to publish.
    pub steps: u64,
    /// Publication rate when the venue runs paced.
    pub rate_per_sec: u32,
    /// The driver pauses at a checkpoint every this many steps.
    pub checkpoint_every: u64,
    /// Target number of price levels per side of each book.
    pub levels_per_side: u32,
    /// Relative weights of the message kinds.
    pub mix: Mix,
}

/// Relative weights of the regular message kinds.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    /// `price_change` touching both outcomes of one market.
    pub price_change: u32,
    /// A full `book` for one asset (after a few unpublished changes: a replace, not a merge).
    pub book: u32,
    /// A `last_trade_price` print (no book effect).
    pub last_trade_price: u32,
    /// A `best_bid_ask` (sent only to `custom_feature_enabled` subscribers).
    pub best_bid_ask: u32,
}

impl Mix {
    /// Sum of the weights.
    pub fn total(&self) -> u32 {
        self.price_change + self.book + self.last_trade_price + self.best_bid_ask
    }
}

/// The kinds of fault a scenario can script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Close every connection's TCP socket abruptly (no close frame).
    Disconnect,
    /// Stop publishing and stop answering `PING` for `stall_ms`, sockets left open.
    Stall,
    /// A text frame of truncated JSON.
    Malformed,
    /// A frame with an `event_type` the protocol does not have.
    UnknownEvent,
    /// The step's regular message is sent twice.
    Duplicate,
    /// Two consecutive `price_change` frames of one market sent in swapped order.
    Reorder,
    /// A market's tick size changes (`tick_size_change` then a fresh `book`, per asset).
    TickSizeChange,
}

impl FaultKind {
    /// Every kind, in a fixed order (the index used by the venue's counters).
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Disconnect,
        FaultKind::Stall,
        FaultKind::Malformed,
        FaultKind::UnknownEvent,
        FaultKind::Duplicate,
        FaultKind::Reorder,
        FaultKind::TickSizeChange,
    ];

    /// This kind's position in [`FaultKind::ALL`].
    pub fn index(self) -> usize {
        FaultKind::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }
}

/// One scripted fault, injected just before the regular message of `step`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// The step (1-based) before whose message the fault happens.
    pub step: u64,
    /// What happens.
    pub kind: FaultKind,
    /// Stall length (only for `stall`).
    pub stall_ms: Option<u64>,
    /// Index of the market in universe order (only for `tick_size_change`).
    pub market: Option<usize>,
    /// The market's new tick (only for `tick_size_change`).
    pub new_tick: Option<Tick>,
}

/// A tick size, written in YAML as a number (`0.01`) or a string (`"0.01"`), held exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tick(pub Px);

impl<'de> Deserialize<'de> for Tick {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tick, D::Error> {
        d.deserialize_any(TickVisitor)
    }
}

struct TickVisitor;

impl TickVisitor {
    fn parse<E: de::Error>(text: &str) -> Result<Tick, E> {
        match Px::parse(text.as_bytes()) {
            Ok(px) if is_valid_tick(px) => Ok(Tick(px)),
            _ => Err(E::custom(format!(
                "tick {text} is not one of 0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001"
            ))),
        }
    }
}

impl Visitor<'_> for TickVisitor {
    type Value = Tick;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tick size such as 0.01")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Tick, E> {
        Self::parse(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Tick, E> {
        Self::parse(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tick, E> {
        Self::parse(&v.to_string())
    }
}

impl Scenario {
    /// Parses and validates a scenario from YAML text; `name` only labels errors.
    pub fn from_yaml(name: &str, text: &str) -> Result<Scenario, SimError> {
        let scenario: Scenario = serde_norway::from_str(text).map_err(|e| invalid(name, e))?;
        scenario
            .validate()
            .map_err(|reason| invalid(name, reason))?;
        Ok(scenario)
    }

    /// Rescales the scenario so that, paced at its rate, its stream lasts about `duration`:
    /// the step count follows the duration, and checkpoints and faults keep their relative
    /// positions in the stream.
    pub fn fit_to_duration(&mut self, duration: Duration) {
        let d = &mut self.dynamics;
        let steps = ((duration.as_secs_f64() * f64::from(d.rate_per_sec)) as u64).max(1);
        let scale = |step: u64| (u128::from(step) * u128::from(steps) / u128::from(d.steps)) as u64;
        for fault in &mut self.faults {
            fault.step = scale(fault.step);
        }
        d.checkpoint_every = scale(d.checkpoint_every).max(1);
        d.steps = steps;
    }

    /// Number of markets the universe lists.
    pub fn market_count(&self) -> usize {
        let binary: u64 = self
            .universe
            .binary
            .iter()
            .map(|g| u64::from(g.count))
            .sum();
        let events: u64 = self
            .universe
            .neg_risk_events
            .iter()
            .map(|e| u64::from(e.markets))
            .sum();
        (binary + events) as usize
    }

    /// Tick of the market at `index` in universe order (binary groups, then events).
    pub fn market_tick(&self, index: usize) -> Option<Px> {
        let groups = self.universe.binary.iter().map(|g| (g.count, g.tick));
        let events = self
            .universe
            .neg_risk_events
            .iter()
            .map(|e| (e.markets, e.tick));
        let mut start = 0usize;
        for (count, tick) in groups.chain(events) {
            if index < start + count as usize {
                return Some(tick.0);
            }
            start += count as usize;
        }
        None
    }

    /// Checks what the YAML types cannot; the error names the offending key.
    pub fn validate(&self) -> Result<(), String> {
        let d = &self.dynamics;
        if d.steps == 0 {
            return Err("dynamics.steps must be at least 1".into());
        }
        if d.rate_per_sec == 0 {
            return Err("dynamics.rate_per_sec must be at least 1".into());
        }
        if d.checkpoint_every == 0 {
            return Err("dynamics.checkpoint_every must be at least 1".into());
        }
        if !(1..=MAX_LEVELS).contains(&d.levels_per_side) {
            return Err(format!(
                "dynamics.levels_per_side: {} is outside 1..={MAX_LEVELS}",
                d.levels_per_side
            ));
        }
        if d.mix.total() == 0 {
            return Err("dynamics.mix: every weight is zero".into());
        }
        if self.universe.min_order_size == 0 {
            return Err("universe.min_order_size must be at least 1".into());
        }
        if self.market_count() == 0 {
            return Err("universe: no markets (binary and neg_risk_events are empty)".into());
        }
        for (i, g) in self.universe.binary.iter().enumerate() {
            if g.count == 0 {
                return Err(format!("universe.binary[{i}].count must be at least 1"));
            }
            self.check_room(g.tick, &format!("universe.binary[{i}].tick"))?;
        }
        for (i, e) in self.universe.neg_risk_events.iter().enumerate() {
            if e.markets < 2 {
                return Err(format!(
                    "universe.neg_risk_events[{i}].markets must be at least 2"
                ));
            }
            self.check_room(e.tick, &format!("universe.neg_risk_events[{i}].tick"))?;
        }
        for (i, f) in self.faults.iter().enumerate() {
            self.check_fault(f)
                .map_err(|e| format!("faults[{i}].{e}"))?;
        }
        Ok(())
    }

    fn check_room(&self, tick: Tick, key: &str) -> Result<(), String> {
        let points = u32::from(Px::ONE.0 / tick.0.0) - 1;
        let needed = 2 * self.dynamics.levels_per_side + 4;
        if points < needed {
            return Err(format!(
                "{key}: tick {} leaves {points} prices, too few for {} levels per side",
                tick.0, self.dynamics.levels_per_side
            ));
        }
        Ok(())
    }

    fn check_fault(&self, f: &FaultSpec) -> Result<(), String> {
        if !(1..=self.dynamics.steps).contains(&f.step) {
            return Err(format!(
                "step: {} is outside 1..={}",
                f.step, self.dynamics.steps
            ));
        }
        let is_stall = f.kind == FaultKind::Stall;
        let is_tick = f.kind == FaultKind::TickSizeChange;
        match f.stall_ms {
            Some(ms) if !is_stall => {
                return Err(format!("stall_ms: {ms} given for a non-stall fault"));
            }
            Some(ms) if !(1..=MAX_STALL_MS).contains(&ms) => {
                return Err(format!("stall_ms: {ms} is outside 1..={MAX_STALL_MS}"));
            }
            None if is_stall => return Err("stall_ms: missing (required for stall)".into()),
            _ => {}
        }
        match (f.market, f.new_tick) {
            (Some(m), Some(tick)) if is_tick => {
                let current = self
                    .market_tick(m)
                    .ok_or_else(|| format!("market: no market {m}"))?;
                if current == tick.0 {
                    return Err(format!("new_tick: market {m} already has tick {}", tick.0));
                }
                self.check_room(tick, "new_tick")
            }
            (None, _) if is_tick => Err("market: missing (required for tick_size_change)".into()),
            (_, None) if is_tick => Err("new_tick: missing (required for tick_size_change)".into()),
            (Some(_), _) => Err("market: only allowed for tick_size_change".into()),
            (_, Some(_)) => Err("new_tick: only allowed for tick_size_change".into()),
            _ => Ok(()),
        }
    }
}

fn invalid(name: &str, reason: impl fmt::Display) -> SimError {
    SimError::Scenario {
        name: name.to_string(),
        reason: reason.to_string(),
    }
}

/// Loads a scenario by path (anything naming an existing file) or by name, looked up in
/// `config/scenarios/<name>.yaml` under the crate's source directory and under the current
/// directory.
pub fn load_scenario(name_or_path: &str) -> Result<Scenario, SimError> {
    let path = find_scenario(name_or_path)?;
    let text = std::fs::read_to_string(&path).map_err(|e| invalid(name_or_path, e))?;
    Scenario::from_yaml(&path.display().to_string(), &text)
}

fn find_scenario(name_or_path: &str) -> Result<PathBuf, SimError> {
    let direct = Path::new(name_or_path);
    if direct.is_file() {
        return Ok(direct.to_path_buf());
    }
    let file = format!("{name_or_path}.yaml");
    let candidates = [
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config/scenarios")
            .join(&file),
        Path::new("config/scenarios").join(&file),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| SimError::ScenarioNotFound {
            name: name_or_path.to_string(),
            tried: candidates.iter().map(|p| p.display().to_string()).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "
seed: 7
universe:
  binary: [{count: 2, tick: 0.01}, {count: 1, tick: \"0.001\"}]
  neg_risk_events: [{markets: 3, tick: 0.01}]
dynamics:
  steps: 100
  rate_per_sec: 1000
  checkpoint_every: 50
  levels_per_side: 5
  mix: {price_change: 80, book: 5, last_trade_price: 10, best_bid_ask: 5}
";

    fn with(extra: &str) -> Result<Scenario, SimError> {
        Scenario::from_yaml("t", &format!("{BASE}{extra}"))
    }

    #[test]
    fn parses_ticks_exactly_and_counts_markets() {
        let s = with("").unwrap();
        assert_eq!(s.market_count(), 6);
        assert_eq!(s.market_tick(0), Some(Px(100)));
        assert_eq!(s.market_tick(2), Some(Px(10)));
        assert_eq!(s.market_tick(5), Some(Px(100)));
        assert_eq!(s.market_tick(6), None);
        assert_eq!(s.universe.min_order_size, 5);
    }

    #[test]
    fn unknown_keys_are_refused_naming_the_key() {
        let err = with("faults: []\nextra: 1\n").unwrap_err().to_string();
        assert!(err.contains("extra"), "{err}");
        let bad = BASE.replace("levels_per_side", "levels");
        let err = Scenario::from_yaml("t", &bad).unwrap_err().to_string();
        assert!(err.contains("levels"), "{err}");
    }

    #[test]
    fn semantic_errors_name_the_key() {
        let bad_tick = BASE.replace("tick: 0.01}]\ndyn", "tick: 0.02}]\ndyn");
        let err = Scenario::from_yaml("t", &bad_tick).unwrap_err().to_string();
        assert!(err.contains("0.02"), "{err}");
        let cases = [
            ("faults: [{step: 0, kind: disconnect}]", "faults[0].step"),
            ("faults: [{step: 5, kind: stall}]", "faults[0].stall_ms"),
            (
                "faults: [{step: 5, kind: malformed, stall_ms: 3}]",
                "faults[0].stall_ms",
            ),
            (
                "faults: [{step: 5, kind: tick_size_change, market: 9, new_tick: 0.001}]",
                "faults[0].market",
            ),
            (
                "faults: [{step: 5, kind: tick_size_change, market: 0, new_tick: 0.01}]",
                "faults[0].new_tick",
            ),
            (
                "faults: [{step: 5, kind: tick_size_change, market: 0}]",
                "faults[0].new_tick",
            ),
            ("faults: [{step: 5, kind: teleport}]", "teleport"),
        ];
        for (extra, key) in cases {
            let err = with(&format!("{extra}\n")).unwrap_err().to_string();
            assert!(err.contains(key), "{extra}: {err}");
        }
        let coarse = BASE.replace("levels_per_side: 5", "levels_per_side: 50");
        let err = Scenario::from_yaml("t", &coarse).unwrap_err().to_string();
        assert!(err.contains("universe.binary[0].tick"), "{err}");
    }

    #[test]
    fn shipped_scenarios_load_by_name() {
        let default = load_scenario("default").unwrap();
        assert!(default.faults.is_empty());
        assert!(default.market_count() >= 8);
        let faults = load_scenario("faults").unwrap();
        for kind in FaultKind::ALL {
            assert!(
                faults.faults.iter().any(|f| f.kind == kind),
                "{kind:?} missing"
            );
        }
        let err = load_scenario("no-such-scenario").unwrap_err().to_string();
        assert!(err.contains("no-such-scenario"), "{err}");
    }
}
