//! Layered configuration: `base.yaml` ← environment file ← `PMBOT_*` variables ← CLI overrides,
//! merged as YAML, deserialized into typed settings and validated; every error names its key path.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_norway::{Mapping, Value};

mod execution;
mod trading;

pub use execution::{Bucket, ExecutionMode, ExecutionSettings, PresignSettings, RateLimits};
pub use trading::{MakerPairSettings, PairArbSettings, RiskSettings, StrategySettings, TakerTif};

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "PMBOT_";

/// Separator between key levels inside an environment variable name.
const ENV_NESTING: &str = "__";

/// Upper bound of `pipeline.ring_capacity` (slots).
const MAX_RING_CAPACITY: usize = 1 << 24;

/// Venue limit on assets subscribed over one market-feed connection.
const MAX_ASSETS_PER_CONNECTION: usize = 500;

/// Longest sensible busy-wait or park for a hot thread.
const MAX_HOT_WAIT: Duration = Duration::from_secs(1);

/// A configuration problem, always naming where it came from.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A configuration file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A configuration file is not valid YAML.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the YAML parser reported.
        message: String,
    },
    /// A `PMBOT_*` environment variable could not be applied.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable name.
        var: String,
        /// What is wrong with it.
        message: String,
    },
    /// A CLI override (`key.path=value`) could not be applied.
    #[error("override {arg:?}: {message}")]
    Override {
        /// The override as given.
        arg: String,
        /// What is wrong with it.
        message: String,
    },
    /// The merged configuration has a bad, unknown or missing key.
    #[error("{key}: {message}")]
    Invalid {
        /// Dotted key path, e.g. `feeds.market.stall_timeout`.
        key: String,
        /// What is wrong with the value.
        message: String,
    },
}

impl SettingsError {
    fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        SettingsError::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The file layered directly over `base.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// Only `base.yaml`.
    None,
    /// `<config_dir>/<name>.yaml`, e.g. `dev` or `prod`.
    Profile(String),
    /// Any YAML file (`--config FILE`).
    File(PathBuf),
}

pub use crate::adapters::polymarket::auth::Secret;

/// Serde adapter for durations written as humantime strings (`"100ms"`, `"5s"`).
mod humantime_str {
    use super::*;

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration like \"5s\"")
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
            humantime::parse_duration(s)
                .map_err(|_| E::invalid_value(de::Unexpected::Str(s), &self))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_str(DurationVisitor)
    }

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }
}

/// The effective configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Venue endpoints.
    pub venue: VenueSettings,
    /// Which markets to trade.
    pub universe: UniverseSettings,
    /// Feed connections.
    pub feeds: FeedsSettings,
    /// Threads, rings and pinning.
    pub pipeline: PipelineSettings,
    /// Strategy parameters.
    pub strategy: StrategySettings,
    /// Risk limits.
    pub risk: RiskSettings,
    /// Order sending: mode, connections, deadlines, rate limits, pre-signing.
    pub execution: ExecutionSettings,
    /// Metrics, logs and reports.
    pub telemetry: TelemetrySettings,
    /// Credentials; all optional.
    pub secrets: SecretsSettings,
}

/// Venue endpoints (`venue`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueSettings {
    /// CLOB REST base URL (`http://` or `https://`).
    pub rest_url: String,
    /// Market-channel websocket URL (`ws://` or `wss://`).
    pub ws_market_url: String,
    /// User-channel websocket URL (`ws://` or `wss://`).
    pub ws_user_url: String,
    /// Market-metadata (Gamma) base URL (`http://` or `https://`).
    pub gamma_url: String,
    /// EVM chain id used in signatures (137 on Polygon).
    pub chain_id: u64,
    /// PEM file of extra CA certificates trusted for `wss://` (a private CA or a test venue's
    /// self-signed certificate), on top of the Mozilla roots; `None` trusts only those.
    pub tls_ca_file: Option<PathBuf>,
}

/// Market selection (`universe`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniverseSettings {
    /// Condition ids (`0x` + 64 hex digits) to trade; `pmbot run` needs at least one.
    pub markets: Vec<String>,
}

/// Feed settings (`feeds`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedsSettings {
    /// The market-data websocket feed.
    pub market: MarketFeedSettings,
}

/// Market-data feed settings (`feeds.market`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketFeedSettings {
    /// Assets subscribed per websocket connection (1..=500, the venue's limit).
    pub max_assets_per_connection: usize,
    /// Limit on connecting a websocket (TCP, TLS and upgrade).
    #[serde(with = "humantime_str")]
    pub connect_timeout: Duration,
    /// Interval between keep-alive `PING`s.
    #[serde(with = "humantime_str")]
    pub ping_interval: Duration,
    /// Silence after which a connection counts as stalled and is replaced.
    #[serde(with = "humantime_str")]
    pub stall_timeout: Duration,
    /// Wait for a book snapshot after subscribing before backfilling over REST.
    #[serde(with = "humantime_str")]
    pub snapshot_timeout: Duration,
    /// Delay between reconnection attempts.
    pub reconnect_backoff: BackoffSettings,
    /// How often to re-read every market's parameters (`/clob-markets`) for fee changes; `0s`
    /// turns it off.
    #[serde(with = "humantime_str")]
    pub metadata_refresh: Duration,
}

/// Jittered exponential backoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffSettings {
    /// First delay.
    #[serde(with = "humantime_str")]
    pub initial: Duration,
    /// Ceiling of the doubling delay.
    #[serde(with = "humantime_str")]
    pub max: Duration,
    /// Random spread as a fraction of the delay (0.0..=1.0).
    pub jitter: f64,
}

/// What the strategy thread does while its rings are empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdlePolicy {
    /// Busy-poll: lowest latency, burns a core (production).
    Spin,
    /// `std::thread::yield_now` between polls.
    Yield,
    /// Park for up to `pipeline.park_timeout` (tests and small machines).
    Park,
}

/// Thread, ring and pinning settings (`pipeline`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSettings {
    /// Slots per SPSC ring; a power of two.
    pub ring_capacity: usize,
    /// How long a feed spins on a full ring before marking its books stale and resyncing.
    #[serde(with = "humantime_str")]
    pub ring_full_spin: Duration,
    /// Strategy-thread idle behaviour, and the other hot threads' unless they say otherwise.
    pub idle: IdlePolicy,
    /// Feed threads' idle behaviour (`park` waits on their sockets); `None`: as `idle`.
    pub feed_idle: Option<IdlePolicy>,
    /// Execution-thread idle behaviour (`park` is woken by the strategy thread); `None`: as
    /// `idle`.
    pub execution_idle: Option<IdlePolicy>,
    /// Longest park under [`IdlePolicy::Park`].
    #[serde(with = "humantime_str")]
    pub park_timeout: Duration,
    /// CPU pinning of the hot threads.
    pub pinning: PinningSettings,
}

/// CPU pinning (`pipeline.pinning`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinningSettings {
    /// Pin at all.
    pub enabled: bool,
    /// Core of the strategy thread.
    pub strategy_core: Option<usize>,
    /// Cores handed to feed threads in order.
    pub feed_cores: Vec<usize>,
    /// Core of the execution thread.
    pub execution_core: Option<usize>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Telemetry settings (`telemetry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// Address of the Prometheus `/metrics` endpoint; `None` disables it.
    pub prometheus_listen: Option<SocketAddr>,
    /// Log output format.
    pub log_format: LogFormat,
    /// Log filter in `tracing` env-filter syntax, e.g. `info` or `info,pmbot=debug`.
    pub log_level: String,
    /// Directory for latency reports written at shutdown.
    pub report_dir: PathBuf,
    /// Interval between latency summaries in the logs.
    #[serde(with = "humantime_str")]
    pub summary_interval: Duration,
}

/// Credentials (`secrets`); redacted in every rendering.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSettings {
    /// Wallet private key (hex). Filled from `private_key_file` when that is set.
    pub private_key: Option<Secret>,
    /// File holding the private key; must not be readable by group or others (mode 0600).
    pub private_key_file: Option<PathBuf>,
    /// CLOB L2 API key.
    pub api_key: Option<Secret>,
    /// CLOB L2 API secret.
    pub api_secret: Option<Secret>,
    /// CLOB L2 API passphrase.
    pub api_passphrase: Option<Secret>,
}

impl Settings {
    /// Loads `<config_dir>/base.yaml`, layers `overlay`, then the `PMBOT_*` variables of `env`
    /// (`PMBOT_FEEDS__MARKET__STALL_TIMEOUT=3s` sets `feeds.market.stall_timeout`; variables
    /// without `__` are not configuration keys and are ignored), then `overrides`
    /// (`key.path=value`). Values from variables and overrides are parsed as YAML, except under
    /// `secrets`, which are taken verbatim. The result is typed, validated, and the private key
    /// file (if any) is read.
    pub fn load<I, K, V>(
        config_dir: &Path,
        overlay: &Overlay,
        env: I,
        overrides: &[String],
    ) -> Result<Settings, SettingsError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut merged = read_yaml(&config_dir.join("base.yaml"))?;
        match overlay {
            Overlay::None => {}
            Overlay::Profile(name) => merge(
                &mut merged,
                read_yaml(&config_dir.join(format!("{name}.yaml")))?,
            ),
            Overlay::File(path) => merge(&mut merged, read_yaml(path)?),
        }
        for (var, path, raw) in env_overrides(env) {
            let layer =
                layer(&path, &raw).map_err(|message| SettingsError::Env { var, message })?;
            merge(&mut merged, layer);
        }
        for arg in overrides {
            let layer = override_layer(arg).map_err(|message| SettingsError::Override {
                arg: arg.clone(),
                message,
            })?;
            merge(&mut merged, layer);
        }
        let mut settings = from_merged(&merged)?;
        settings.validate()?;
        settings.secrets.read_private_key_file()?;
        Ok(settings)
    }

    /// The shipped `config/` directory's dev profile, with no environment and no overrides: the
    /// settings `pmbot demo` starts from, for tests and benchmarks.
    pub fn shipped_dev() -> Result<Settings, SettingsError> {
        Settings::load(
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config")),
            &Overlay::Profile("dev".into()),
            std::iter::empty::<(String, String)>(),
            &[],
        )
    }

    /// The effective configuration as YAML with every secret shown as `***` (`pmbot config show`).
    pub fn show_redacted(&self) -> String {
        serde_norway::to_string(self)
            .unwrap_or_else(|err| format!("# cannot render settings: {err}\n"))
    }

    fn validate(&self) -> Result<(), SettingsError> {
        self.venue.validate()?;
        self.universe.validate()?;
        self.feeds.market.validate()?;
        self.pipeline.validate()?;
        self.strategy.validate()?;
        self.risk.validate()?;
        self.execution.validate()?;
        self.telemetry.validate()?;
        self.secrets.validate()
    }
}

impl VenueSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        const HTTP: &[&str] = &["http://", "https://"];
        const WS: &[&str] = &["ws://", "wss://"];
        check_url("venue.rest_url", &self.rest_url, HTTP)?;
        check_url("venue.ws_market_url", &self.ws_market_url, WS)?;
        check_url("venue.ws_user_url", &self.ws_user_url, WS)?;
        check_url("venue.gamma_url", &self.gamma_url, HTTP)?;
        if self.chain_id == 0 {
            return Err(SettingsError::invalid("venue.chain_id", "must be positive"));
        }
        Ok(())
    }
}

impl UniverseSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        let mut seen = HashSet::new();
        for (i, id) in self.markets.iter().enumerate() {
            let key = format!("universe.markets[{i}]");
            let hex = id.strip_prefix("0x").unwrap_or("");
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(SettingsError::invalid(
                    key,
                    format!("expected a condition id (0x followed by 64 hex digits), got {id:?}"),
                ));
            }
            if !seen.insert(id.to_ascii_lowercase()) {
                return Err(SettingsError::invalid(
                    key,
                    format!("duplicate market {id}"),
                ));
            }
        }
        Ok(())
    }
}

impl MarketFeedSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        let n = self.max_assets_per_connection;
        if !(1..=MAX_ASSETS_PER_CONNECTION).contains(&n) {
            return Err(SettingsError::invalid(
                "feeds.market.max_assets_per_connection",
                format!("must be in 1..={MAX_ASSETS_PER_CONNECTION}, got {n}"),
            ));
        }
        check_positive("feeds.market.connect_timeout", self.connect_timeout)?;
        check_positive("feeds.market.ping_interval", self.ping_interval)?;
        check_positive("feeds.market.snapshot_timeout", self.snapshot_timeout)?;
        if self.stall_timeout <= self.ping_interval {
            return Err(SettingsError::invalid(
                "feeds.market.stall_timeout",
                format!(
                    "must exceed feeds.market.ping_interval ({}), got {}",
                    humantime::format_duration(self.ping_interval),
                    humantime::format_duration(self.stall_timeout)
                ),
            ));
        }
        self.reconnect_backoff
            .validate("feeds.market.reconnect_backoff")
    }
}

impl BackoffSettings {
    fn validate(&self, prefix: &str) -> Result<(), SettingsError> {
        check_positive(&format!("{prefix}.initial"), self.initial)?;
        if self.max < self.initial {
            return Err(SettingsError::invalid(
                format!("{prefix}.max"),
                format!("must be at least {prefix}.initial"),
            ));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(SettingsError::invalid(
                format!("{prefix}.jitter"),
                format!("must be a fraction in 0.0..=1.0, got {}", self.jitter),
            ));
        }
        Ok(())
    }
}

impl PipelineSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        let cap = self.ring_capacity;
        if !cap.is_power_of_two() || !(2..=MAX_RING_CAPACITY).contains(&cap) {
            return Err(SettingsError::invalid(
                "pipeline.ring_capacity",
                format!("must be a power of two in 2..={MAX_RING_CAPACITY}, got {cap}"),
            ));
        }
        check_at_most("pipeline.ring_full_spin", self.ring_full_spin, MAX_HOT_WAIT)?;
        check_positive("pipeline.park_timeout", self.park_timeout)?;
        check_at_most("pipeline.park_timeout", self.park_timeout, MAX_HOT_WAIT)?;
        self.pinning.validate()
    }
}

impl PinningSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        let named = [
            (
                "pipeline.pinning.strategy_core".to_string(),
                self.strategy_core,
            ),
            (
                "pipeline.pinning.execution_core".to_string(),
                self.execution_core,
            ),
        ];
        let feeds = self
            .feed_cores
            .iter()
            .enumerate()
            .map(|(i, &core)| (format!("pipeline.pinning.feed_cores[{i}]"), Some(core)));
        let mut owners: Vec<(String, usize)> = Vec::new();
        for (key, core) in named.into_iter().chain(feeds) {
            let Some(core) = core else { continue };
            if let Some((owner, _)) = owners.iter().find(|(_, c)| *c == core) {
                return Err(SettingsError::invalid(
                    key,
                    format!("core {core} is already taken by {owner}"),
                ));
            }
            owners.push((key, core));
        }
        Ok(())
    }
}

impl TelemetrySettings {
    fn validate(&self) -> Result<(), SettingsError> {
        tracing_subscriber::EnvFilter::try_new(&self.log_level).map_err(|err| {
            SettingsError::invalid(
                "telemetry.log_level",
                format!("expected a log filter like \"info\": {err}"),
            )
        })?;
        if self.report_dir.as_os_str().is_empty() {
            return Err(SettingsError::invalid(
                "telemetry.report_dir",
                "must not be empty",
            ));
        }
        check_positive("telemetry.summary_interval", self.summary_interval)
    }
}

impl SecretsSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        let secrets = [
            ("secrets.private_key", &self.private_key),
            ("secrets.api_key", &self.api_key),
            ("secrets.api_secret", &self.api_secret),
            ("secrets.api_passphrase", &self.api_passphrase),
        ];
        for (key, secret) in secrets {
            if secret
                .as_ref()
                .is_some_and(|s| s.expose().trim().is_empty())
            {
                return Err(SettingsError::invalid(
                    key,
                    "is empty; give a value or leave it out",
                ));
            }
        }
        if self.private_key.is_some() && self.private_key_file.is_some() {
            return Err(SettingsError::invalid(
                "secrets.private_key_file",
                "set either secrets.private_key or secrets.private_key_file, not both",
            ));
        }
        Ok(())
    }

    /// Fills `private_key` from `private_key_file`, refusing a file that group or others can read.
    fn read_private_key_file(&mut self) -> Result<(), SettingsError> {
        use std::os::unix::fs::PermissionsExt;

        const KEY: &str = "secrets.private_key_file";
        let Some(path) = &self.private_key_file else {
            return Ok(());
        };
        let fail =
            |message: String| SettingsError::invalid(KEY, format!("{}: {message}", path.display()));
        let mode = std::fs::metadata(path)
            .map_err(|err| fail(err.to_string()))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(fail(format!(
                "mode {mode:04o} lets group or others read it; chmod 600 it"
            )));
        }
        let contents = std::fs::read_to_string(path).map_err(|err| fail(err.to_string()))?;
        let key = contents.trim();
        if key.is_empty() {
            return Err(fail("file is empty".to_string()));
        }
        self.private_key = Some(Secret::new(key.to_string()));
        Ok(())
    }
}

fn check_url(key: &str, url: &str, schemes: &[&str]) -> Result<(), SettingsError> {
    let host = schemes.iter().find_map(|scheme| url.strip_prefix(scheme));
    match host {
        Some(rest)
            if !rest.is_empty() && !rest.starts_with('/') && !url.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(SettingsError::invalid(
            key,
            format!(
                "expected a URL starting with {}, got {url:?}",
                schemes.join(" or ")
            ),
        )),
    }
}

fn check_positive(key: &str, value: Duration) -> Result<(), SettingsError> {
    if value.is_zero() {
        return Err(SettingsError::invalid(key, "must be longer than zero"));
    }
    Ok(())
}

fn check_at_most(key: &str, value: Duration, max: Duration) -> Result<(), SettingsError> {
    if value > max {
        return Err(SettingsError::invalid(
            key,
            format!(
                "must be at most {}, got {}",
                humantime::format_duration(max),
                humantime::format_duration(value)
            ),
        ));
    }
    Ok(())
}

/// Reads a YAML file; an empty file is an empty mapping.
fn read_yaml(path: &Path) -> Result<Value, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let value: Value = serde_norway::from_str(&text).map_err(|err| SettingsError::Parse {
        path: path.to_path_buf(),
        message: err.to_string(),
    })?;
    Ok(match value {
        Value::Null => Value::Mapping(Mapping::new()),
        value => value,
    })
}

/// Deep merge: mappings merge key by key, anything else in `over` replaces `base`.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(base), Value::Mapping(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// The configuration variables of `env` as (variable, key path, raw value), sorted by variable
/// name so the result does not depend on the environment's order.
fn env_overrides<I, K, V>(env: I) -> Vec<(String, Vec<String>, String)>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut vars: Vec<_> = env
        .into_iter()
        .filter_map(|(var, value)| {
            let var = var.as_ref();
            let name = var.strip_prefix(ENV_PREFIX)?;
            name.contains(ENV_NESTING).then(|| {
                let path = name.split(ENV_NESTING).map(str::to_lowercase).collect();
                (var.to_string(), path, value.as_ref().to_string())
            })
        })
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// Turns `key.path=value` into a one-key layer.
fn override_layer(arg: &str) -> Result<Value, String> {
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| "expected key.path=value".to_string())?;
    let path: Vec<String> = key.trim().split('.').map(str::to_string).collect();
    layer(&path, value)
}

/// A mapping nesting `raw` under `path`; `raw` is YAML except under `secrets`.
fn layer(path: &[String], raw: &str) -> Result<Value, String> {
    if path.iter().any(String::is_empty) {
        return Err("empty key segment".to_string());
    }
    let mut value = if path[0] == "secrets" {
        Value::String(raw.to_string())
    } else {
        serde_norway::from_str(raw).map_err(|err| format!("value is not valid YAML: {err}"))?
    };
    for key in path.iter().rev() {
        let mut map = Mapping::new();
        map.insert(Value::String(key.clone()), value);
        value = Value::Mapping(map);
    }
    Ok(value)
}

/// Deserializes the merged document. Going through YAML text (rather than `from_value`) lets the
/// deserializer track key paths; errors are then reshaped to `key.path: message`.
fn from_merged(merged: &Value) -> Result<Settings, SettingsError> {
    let text = serde_norway::to_string(merged).map_err(|err| {
        SettingsError::invalid(".", format!("cannot render merged config: {err}"))
    })?;
    serde_norway::from_str(&text).map_err(|err| key_error(merged, &err))
}

/// Splits a deserializer error into the key path it names and its message.
fn key_error(merged: &Value, err: &serde_norway::Error) -> SettingsError {
    let full = err.to_string();
    let text = match (err.location(), full.rfind(" at line ")) {
        (Some(_), Some(at)) => &full[..at],
        _ => full.as_str(),
    };
    let (path, message) = match text.split_once(": ") {
        Some((path, message)) if resolves(merged, path) => (path, message),
        _ => ("", text),
    };
    let join = |field: &str| {
        if path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        }
    };
    for (prefix, what) in [
        ("unknown field `", "unknown key"),
        ("missing field `", "missing key"),
    ] {
        if let Some((field, rest)) = message.strip_prefix(prefix).and_then(|m| m.split_once('`')) {
            let rest = rest.trim_start_matches(", ");
            let message = if rest.is_empty() {
                what.to_string()
            } else {
                format!("{what} ({rest})")
            };
            return SettingsError::invalid(join(field), message);
        }
    }
    let key = if path.is_empty() { "." } else { path };
    SettingsError::invalid(key, message)
}

/// Whether a dotted path like `pipeline.pinning.feed_cores[1]` exists in `value`.
fn resolves(value: &Value, path: &str) -> bool {
    let mut node = value;
    for part in path.split('.') {
        let (key, indices) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        let Some(next) = node.get(key) else {
            return false;
        };
        node = next;
        for index in indices.split_terminator(']') {
            let Some(next) = index
                .strip_prefix('[')
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| node.get(i))
            else {
                return false;
            };
            node = next;
        }
    }
    true
}
