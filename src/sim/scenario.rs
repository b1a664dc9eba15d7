//! Scenario files: the venue's universe, book dynamics and scripted faults, read from strict YAML.
//!
//! A scenario lives in `config/scenarios/<name>.yaml`. Every struct refuses unknown keys, and
//! every semantic check names the key it is about, so a typo fails loudly instead of silently
//! falling back to a default.
//!
//! Besides the universe and its dynamics a scenario may script faults and arbitrage windows
//! (`windows:`): moments where the venue puts levels into the true books whose prices sum past
//! the payoff, until a competing taker consumes them.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::domain::fees::{FeeError, FeeSchedule};
use crate::domain::markets::is_valid_tick;
use crate::domain::num::Px;
use crate::sim::SimError;
use crate::sim::trading::config::{ExecFaults, TradingSpec};

/// Largest number of levels per side a scenario may ask for.
pub const MAX_LEVELS: u32 = 50;
/// Longest silent stall a scenario may script, in milliseconds.
pub const MAX_STALL_MS: u64 = 60_000;
/// Widest minimum spread a scenario may ask for, in ticks.
pub const MAX_SPREAD_TICKS: u32 = 20;

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
    /// Settings overrides (`key.path=value`) `pmbot demo` applies for this scenario before the
    /// command line's own `--set`s: the bot configuration the scenario is meant to exercise.
    #[serde(default)]
    pub bot: Vec<String>,
    /// Arbitrage windows opened at given steps (empty outside pair-arbitrage scenarios).
    #[serde(default)]
    pub windows: Vec<WindowSpec>,
    /// Fee schedules the venue changes at given steps (served by `/clob-markets` and `/events`
    /// from then on; the market channel says nothing, as on the real venue).
    #[serde(default)]
    pub fee_changes: Vec<FeeChangeSpec>,
    /// Faucet, L2 window and settlement timings of the trading endpoints.
    #[serde(default)]
    pub trading: TradingSpec,
    /// Faults of the trading endpoints and the user channel (none when absent).
    #[serde(default)]
    pub exec_faults: ExecFaults,
}

/// One scripted fee schedule change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeChangeSpec {
    /// The step before which the change takes effect.
    pub at_step: u64,
    /// The market's index in universe order.
    pub market: usize,
    /// Its new schedule.
    pub fees: Fees,
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

/// `count` binary markets sharing one tick size and fee schedule.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinaryGroup {
    /// How many markets.
    pub count: u32,
    /// Their tick size.
    pub tick: Tick,
    /// Their taker fees (fee-free when absent).
    #[serde(default)]
    pub fees: Fees,
    /// Seconds the venue holds their marketable orders (0 when absent).
    #[serde(default)]
    pub seconds_delay: u32,
}

/// One neg-risk event.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NegRiskEvent {
    /// How many markets (at least 2).
    pub markets: u32,
    /// Their tick size.
    pub tick: Tick,
    /// Their taker fees (fee-free when absent).
    #[serde(default)]
    pub fees: Fees,
    /// Seconds the venue holds their marketable orders (0 when absent).
    #[serde(default)]
    pub seconds_delay: u32,
    /// Whether outcomes may still be added (Gamma's `negRiskAugmented`): the listed markets
    /// are then not exhaustive and sum arbitrage over them is unsound.
    #[serde(default)]
    pub augmented: bool,
}

/// A taker fee schedule, written `{rate: "0.03", exponent: 1, taker_only: true}` (`exponent`
/// defaults to 1, `taker_only` to true) and held exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "FeeSpec")]
pub struct Fees(pub FeeSchedule);

impl Default for Fees {
    /// Fee-free.
    fn default() -> Fees {
        Fees(FeeSchedule::FREE)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeeSpec {
    rate: DecimalText,
    #[serde(default = "default_exponent")]
    exponent: u8,
    #[serde(default = "default_taker_only")]
    taker_only: bool,
}

fn default_exponent() -> u8 {
    1
}

fn default_taker_only() -> bool {
    true
}

impl TryFrom<FeeSpec> for Fees {
    type Error = String;

    fn try_from(spec: FeeSpec) -> Result<Fees, String> {
        FeeSchedule::parse(&spec.rate.0, &spec.exponent.to_string(), spec.taker_only)
            .map(Fees)
            .map_err(|e| match e {
                FeeError::BadRate(_) => format!("fees.rate: {e}"),
                FeeError::BadExponent(_) => format!("fees.exponent: {e}"),
            })
    }
}

/// A decimal written in YAML as a number (`0.03`) or a string (`"0.03"`), kept as its text.
struct DecimalText(String);

impl<'de> Deserialize<'de> for DecimalText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DecimalText, D::Error> {
        d.deserialize_any(DecimalVisitor)
    }
}

struct DecimalVisitor;

impl Visitor<'_> for DecimalVisitor {
    type Value = DecimalText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal such as \"0.03\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DecimalText, E> {
        Ok(DecimalText(v.to_owned()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<DecimalText, E> {
        Ok(DecimalText(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<DecimalText, E> {
        Ok(DecimalText(v.to_string()))
    }
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
    /// Narrowest spread, in ticks, the dynamics keep in each book and between a market's two
    /// outcomes (the Yes bid plus the No bid stay at least this far below 1; the asks this far
    /// above). Defaults to 1: uncrossed and free of arbitrage.
    #[serde(default = "default_min_spread_ticks")]
    pub min_spread_ticks: u32,
    /// Relative weights of the message kinds.
    pub mix: Mix,
}

fn default_min_spread_ticks() -> u32 {
    1
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

/// The kinds of arbitrage window a scenario can script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// A binary market's Yes and No best asks sum to less than 1.
    BinaryBuy,
    /// A binary market's Yes and No best bids sum to more than 1.
    BinarySell,
    /// A neg-risk event's Yes best asks sum to less than 1.
    NegriskYes,
    /// A neg-risk event's No best asks sum to less than the number of markets minus 1.
    NegriskNo,
}

impl WindowKind {
    /// Whether the window targets a neg-risk event (otherwise a stand-alone binary market).
    pub fn on_event(self) -> bool {
        matches!(self, WindowKind::NegriskYes | WindowKind::NegriskNo)
    }
}

/// One scripted arbitrage window: opened just before the regular message of `at_step`, taken
/// by a competing taker just before the regular message of `at_step + close_after`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// The step (1-based) before whose message the window opens.
    pub at_step: u64,
    /// Which sum goes past its payoff.
    pub kind: WindowKind,
    /// The stand-alone binary market's index in universe order (`binary_*`), or the neg-risk
    /// event's index in `universe.neg_risk_events` (`negrisk_*`).
    pub target: usize,
    /// How many ticks the sum of the window's best prices passes the payoff by.
    pub gap_ticks: u32,
    /// Whole shares resting at each window level.
    pub size: u64,
    /// Steps until a competing taker consumes the window.
    pub close_after: u64,
}

impl WindowSpec {
    /// The step before whose message the competing taker consumes the window.
    pub fn close_step(&self) -> u64 {
        self.at_step + self.close_after
    }
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
        for change in &mut self.fee_changes {
            change.at_step = scale(change.at_step).max(1);
        }
        for window in &mut self.windows {
            let open = scale(window.at_step).max(1);
            let close = scale(window.close_step()).max(open + 1);
            window.at_step = open;
            window.close_after = close - open;
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

    /// Number of stand-alone binary markets (they come first in universe order).
    pub fn binary_count(&self) -> usize {
        self.universe.binary.iter().map(|g| g.count as usize).sum()
    }

    /// The markets of neg-risk event `event`, as indices in universe order.
    pub fn event_markets(&self, event: usize) -> Option<Range<usize>> {
        let events = &self.universe.neg_risk_events;
        let before: usize = events.iter().take(event).map(|e| e.markets as usize).sum();
        let start = self.binary_count() + before;
        events.get(event).map(|e| start..start + e.markets as usize)
    }

    /// The markets a window touches, as indices in universe order (`None` if its target does
    /// not exist).
    pub fn window_markets(&self, window: &WindowSpec) -> Option<Range<usize>> {
        if window.kind.on_event() {
            self.event_markets(window.target)
        } else {
            (window.target < self.binary_count()).then(|| window.target..window.target + 1)
        }
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
        for (i, change) in self.fee_changes.iter().enumerate() {
            if !(1..=d.steps).contains(&change.at_step) {
                return Err(format!(
                    "fee_changes[{i}].at_step: {} is outside the run's steps 1..={}",
                    change.at_step, d.steps
                ));
            }
            if change.market >= self.market_count() {
                return Err(format!(
                    "fee_changes[{i}].market: {} is not a market index (the universe lists {})",
                    change.market,
                    self.market_count()
                ));
            }
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
        if !(1..=MAX_SPREAD_TICKS).contains(&d.min_spread_ticks) {
            return Err(format!(
                "dynamics.min_spread_ticks: {} is outside 1..={MAX_SPREAD_TICKS}",
                d.min_spread_ticks
            ));
        }
        for (i, f) in self.faults.iter().enumerate() {
            self.check_fault(f)
                .map_err(|e| format!("faults[{i}].{e}"))?;
        }
        for (i, w) in self.windows.iter().enumerate() {
            self.check_window(i, w)
                .map_err(|e| format!("windows[{i}].{e}"))?;
        }
        self.exec_faults.validate()
    }

    fn check_room(&self, tick: Tick, key: &str) -> Result<(), String> {
        let points = u32::from(Px::ONE.0 / tick.0.0) - 1;
        let spread = self.dynamics.min_spread_ticks.max(2);
        let needed = 2 * self.dynamics.levels_per_side + 2 + spread;
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

    /// Checks window `index`: its steps, its target, that its prices fit on the target's tick,
    /// and that no earlier window or tick-size change touches its markets meanwhile.
    fn check_window(&self, index: usize, w: &WindowSpec) -> Result<(), String> {
        let steps = self.dynamics.steps;
        if !(1..=steps).contains(&w.at_step) {
            return Err(format!("at_step: {} is outside 1..={steps}", w.at_step));
        }
        if w.close_after == 0 || w.close_step() > steps {
            return Err(format!(
                "close_after: {} must be at least 1 and close by step {steps}",
                w.close_after
            ));
        }
        let markets = self.window_markets(w).ok_or_else(|| {
            let what = if w.kind.on_event() {
                "neg-risk event"
            } else {
                "stand-alone binary market"
            };
            format!("target: no {what} {}", w.target)
        })?;
        if w.size < self.universe.min_order_size {
            return Err(format!(
                "size: {} is below universe.min_order_size {}",
                w.size, self.universe.min_order_size
            ));
        }
        let tick = self.market_tick(markets.start).unwrap_or(Px::ONE);
        let k = u64::from(Px::ONE.0 / tick.0);
        let legs = if w.kind.on_event() {
            markets.len() as u64
        } else {
            2
        };
        let gap = u64::from(w.gap_ticks);
        let (sum, lo, hi) = match w.kind {
            WindowKind::BinarySell => ((k + gap) as i64, 1, k - 2),
            WindowKind::NegriskNo => (((legs - 1) * k) as i64 - gap as i64, 2, k - 1),
            _ => (k as i64 - gap as i64, 2, k - 1),
        };
        if gap == 0 || sum < (legs * lo) as i64 || sum > (legs * hi) as i64 {
            return Err(format!(
                "gap_ticks: {gap} leaves no room on tick {tick} for {legs} window levels"
            ));
        }
        let changes_tick = self.faults.iter().find(|f| {
            f.kind == FaultKind::TickSizeChange && f.market.is_some_and(|m| markets.contains(&m))
        });
        if let Some(f) = changes_tick {
            return Err(format!(
                "target: a tick_size_change at step {} moves one of its markets",
                f.step
            ));
        }
        let clash = self.windows[..index].iter().position(|other| {
            let theirs = self.window_markets(other).unwrap_or(0..0);
            let shared = markets.clone().any(|m| theirs.contains(&m));
            shared && w.at_step < other.close_step() && other.at_step < w.close_step()
        });
        match clash {
            Some(j) => Err(format!(
                "at_step: overlaps windows[{j}] on the same markets"
            )),
            None => Ok(()),
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
    fn fees_delays_and_augmented_events_parse_exactly() {
        let yaml = BASE
            .replace(
                "{count: 1, tick: \"0.001\"}",
                "{count: 1, tick: \"0.001\", fees: {rate: \"0.03\"}, seconds_delay: 3}",
            )
            .replace(
                "[{markets: 3, tick: 0.01}]",
                "[{markets: 3, tick: 0.01, augmented: true, fees: {rate: 0.25, exponent: 2, taker_only: false}}]",
            );
        let s = Scenario::from_yaml("t", &yaml).unwrap();
        let group = &s.universe.binary[1];
        assert_eq!(group.fees.0, FeeSchedule::parse("0.03", "1", true).unwrap());
        assert_eq!(group.seconds_delay, 3);
        assert_eq!(s.universe.binary[0].fees.0, FeeSchedule::FREE);
        let event = &s.universe.neg_risk_events[0];
        assert!(event.augmented);
        assert_eq!(
            event.fees.0,
            FeeSchedule::parse("0.25", "2", false).unwrap()
        );
        assert_eq!(s.binary_count(), 3);
        assert_eq!(s.event_markets(0), Some(3..6));
        assert_eq!(s.event_markets(1), None);
    }

    #[test]
    fn window_errors_name_the_key() {
        let window = |w: &str| format!("windows: [{w}]\n");
        let ok =
            "{at_step: 10, kind: binary_buy, target: 0, gap_ticks: 2, size: 10, close_after: 5}";
        let s = with(&window(ok)).unwrap();
        assert_eq!(s.window_markets(&s.windows[0]), Some(0..1));
        let cases = [
            (
                ok.replace("at_step: 10", "at_step: 0"),
                "windows[0].at_step",
            ),
            (
                ok.replace("close_after: 5", "close_after: 95"),
                "windows[0].close_after",
            ),
            (ok.replace("target: 0", "target: 3"), "windows[0].target"),
            (
                ok.replace("binary_buy", "negrisk_no")
                    .replace("target: 0", "target: 1"),
                "windows[0].target",
            ),
            (
                ok.replace("gap_ticks: 2", "gap_ticks: 0"),
                "windows[0].gap_ticks",
            ),
            (
                ok.replace("gap_ticks: 2", "gap_ticks: 97"),
                "windows[0].gap_ticks",
            ),
            (ok.replace("size: 10", "size: 4"), "windows[0].size"),
            (ok.replace("binary_buy", "binary_swap"), "binary_swap"),
            (ok.replace("size: 10", "size: 10, extra: 1"), "extra"),
            (format!("{ok}, {ok}"), "windows[1].at_step"),
        ];
        for (w, key) in cases {
            let err = with(&window(&w)).unwrap_err().to_string();
            assert!(err.contains(key), "{w}: {err}");
        }
        let tick = "faults: [{step: 50, kind: tick_size_change, market: 0, new_tick: 0.001}]\n";
        let err = with(&format!("{tick}{}", window(ok)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("windows[0].target"), "{err}");
    }

    #[test]
    fn fee_errors_name_the_key() {
        let cases = [
            ("fees: {rate: \"1.5\"}", "rate"),
            ("fees: {rate: \"0.03\", exponent: 3}", "exponent"),
            ("fees: {rate: \"0.03\", taker: true}", "taker"),
            ("fees: {exponent: 1}", "rate"),
        ];
        for (fees, key) in cases {
            let yaml = BASE.replace(
                "{count: 2, tick: 0.01}",
                &format!("{{count: 2, tick: 0.01, {fees}}}"),
            );
            let err = Scenario::from_yaml("t", &yaml).unwrap_err().to_string();
            assert!(err.contains(key) && err.contains("fees"), "{fees}: {err}");
        }
    }

    #[test]
    fn fitting_to_a_duration_keeps_windows_in_place() {
        let mut s = load_scenario("pair-arb").unwrap();
        let before = s.windows.clone();
        s.fit_to_duration(Duration::from_secs(5));
        assert_eq!(s.dynamics.steps, 15_000);
        for (old, new) in before.iter().zip(&s.windows) {
            assert_eq!(new.at_step, old.at_step / 2);
            assert_eq!(new.close_after, old.close_after / 2);
        }
        assert_eq!(s.validate(), Ok(()));
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
        let pair = load_scenario("pair-arb").unwrap();
        assert_eq!(pair.universe.neg_risk_events.len(), 2);
        assert!(pair.universe.neg_risk_events[1].augmented);
        assert!(pair.universe.binary.iter().any(|g| !g.fees.0.is_free()));
        let kinds = [
            WindowKind::BinaryBuy,
            WindowKind::BinarySell,
            WindowKind::NegriskYes,
            WindowKind::NegriskNo,
        ];
        for kind in kinds {
            assert!(pair.windows.iter().any(|w| w.kind == kind), "{kind:?}");
        }
        let maker = load_scenario("maker-pair").unwrap();
        assert!(maker.windows.is_empty() && maker.dynamics.min_spread_ticks >= 6);
        let err = load_scenario("no-such-scenario").unwrap_err().to_string();
        assert!(err.contains("no-such-scenario"), "{err}");
    }
}
