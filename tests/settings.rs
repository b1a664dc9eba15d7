//! Layered settings: precedence of the layers, key-path errors, secret files and redaction.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pmbot::bot::settings::{
    ExecutionMode, IdlePolicy, LogFormat, Overlay, Settings, SettingsError,
};

const NO_ENV: [(&str, &str); 0] = [];

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

/// A fresh scratch directory unique to this test process and `name`.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmbot-settings-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn load_base(env: &[(&str, &str)], overrides: &[&str]) -> Result<Settings, SettingsError> {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Settings::load(
        &config_dir(),
        &Overlay::None,
        env.iter().copied(),
        &overrides,
    )
}

/// The error's key and message, or a panic naming what loaded instead.
fn invalid(result: Result<Settings, SettingsError>) -> (String, String) {
    match result {
        Err(SettingsError::Invalid { key, message }) => (key, message),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn execution_defaults_are_safe_and_bad_values_name_their_key() {
    let s = load_base(&[], &[]).unwrap();
    assert_eq!(s.execution.mode, ExecutionMode::DryRun, "base never trades");
    assert!(s.execution.unknown_deadline > s.execution.request_timeout);
    let prod = Settings::load(
        &config_dir(),
        &Overlay::Profile("prod".into()),
        NO_ENV.iter().copied(),
        &[],
    )
    .unwrap();
    assert_eq!(prod.execution.mode, ExecutionMode::Live);
    let cases = [
        ("execution.connections=0", "execution.connections"),
        (
            "execution.unknown_deadline=1s",
            "execution.unknown_deadline",
        ),
        ("execution.signature_type=3", "execution.signature_type"),
        (
            "execution.rate_limits.cancel.burst=0",
            "execution.rate_limits.cancel",
        ),
        ("execution.presign.max_age=0s", "execution.presign.max_age"),
    ];
    for (set, key) in cases {
        assert_eq!(invalid(load_base(&[], &[set])).0, key, "{set}");
    }
}

#[test]
fn base_defaults_load() {
    let s = load_base(&[], &[]).unwrap();
    assert_eq!(s.venue.chain_id, 137);
    assert!(s.universe.markets.is_empty());
    assert_eq!(s.feeds.market.max_assets_per_connection, 500);
    assert_eq!(s.feeds.market.ping_interval, Duration::from_secs(10));
    assert_eq!(s.feeds.market.connect_timeout, Duration::from_secs(5));
    assert_eq!(
        s.feeds.market.reconnect_backoff.initial,
        Duration::from_millis(100)
    );
    assert_eq!(s.pipeline.ring_capacity, 65536);
    assert_eq!(s.pipeline.ring_full_spin, Duration::from_micros(50));
    assert_eq!(s.pipeline.idle, IdlePolicy::Yield);
    assert_eq!(s.telemetry.prometheus_listen, None);
    assert!(s.secrets.private_key.is_none());
}

#[test]
fn profiles_layer_over_base() {
    let dev = Settings::load(&config_dir(), &Overlay::Profile("dev".into()), NO_ENV, &[]).unwrap();
    assert_eq!(dev.pipeline.idle, IdlePolicy::Yield);
    assert_eq!(dev.pipeline.ring_capacity, 4096);
    assert_eq!(dev.feeds.market.stall_timeout, Duration::from_secs(1));
    assert_eq!(
        dev.feeds.market.max_assets_per_connection, 500,
        "untouched keys keep base values"
    );
    let prod =
        Settings::load(&config_dir(), &Overlay::Profile("prod".into()), NO_ENV, &[]).unwrap();
    assert_eq!(prod.pipeline.idle, IdlePolicy::Spin);
    assert_eq!(prod.telemetry.log_format, LogFormat::Json);
    assert!(prod.pipeline.pinning.enabled);
    assert_eq!(prod.pipeline.pinning.feed_cores, [1]);
}

#[test]
fn layering_order_is_base_then_file_then_env_then_cli() {
    let dir = scratch("layers");
    let file = dir.join("mine.yaml");
    write(
        &file,
        "feeds:\n  market:\n    stall_timeout: 20s\n    snapshot_timeout: 4s\n    ping_interval: 2s\n",
        0o644,
    );
    let overlay = Overlay::File(file);
    let env = [
        ("PMBOT_FEEDS__MARKET__STALL_TIMEOUT", "30s"),
        ("PMBOT_FEEDS__MARKET__SNAPSHOT_TIMEOUT", "5s"),
        ("PMBOT_PIPELINE__PINNING__FEED_CORES", "[4, 5]"),
        ("PMBOT_CONFIG", "ignored: no double underscore"),
        ("OTHER__VAR", "ignored: no prefix"),
    ];
    let cli = ["feeds.market.stall_timeout=40s".to_string()];
    let s = Settings::load(&config_dir(), &overlay, env, &cli).unwrap();
    assert_eq!(
        s.feeds.market.ping_interval,
        Duration::from_secs(2),
        "file over base"
    );
    assert_eq!(
        s.feeds.market.snapshot_timeout,
        Duration::from_secs(5),
        "env over file"
    );
    assert_eq!(
        s.feeds.market.stall_timeout,
        Duration::from_secs(40),
        "cli over env"
    );
    assert_eq!(
        s.feeds.market.max_assets_per_connection, 500,
        "base where nobody overrides"
    );
    assert_eq!(s.pipeline.pinning.feed_cores, [4, 5], "env values are YAML");

    let without_cli = Settings::load(&config_dir(), &overlay, env, &[]).unwrap();
    assert_eq!(
        without_cli.feeds.market.stall_timeout,
        Duration::from_secs(30)
    );
}

#[test]
fn nested_overrides_merge_rather_than_replace() {
    let s = load_base(
        &[],
        &[
            "pipeline.pinning={enabled: true, strategy_core: 3}",
            "pipeline.idle=spin",
        ],
    )
    .unwrap();
    assert!(s.pipeline.pinning.enabled);
    assert_eq!(s.pipeline.pinning.strategy_core, Some(3));
    assert_eq!(
        s.pipeline.pinning.execution_core, None,
        "sibling keys survive"
    );
    assert_eq!(s.pipeline.idle, IdlePolicy::Spin);
}

#[test]
fn feed_and_execution_idle_default_to_the_strategy_policy_and_can_differ() {
    let s = load_base(&[], &[]).unwrap();
    assert_eq!(
        (s.pipeline.feed_idle, s.pipeline.execution_idle),
        (None, None)
    );
    let s = load_base(
        &[],
        &["pipeline.feed_idle=park", "pipeline.execution_idle=spin"],
    )
    .unwrap();
    assert_eq!(s.pipeline.feed_idle, Some(IdlePolicy::Park));
    assert_eq!(s.pipeline.execution_idle, Some(IdlePolicy::Spin));
    let (key, _) = invalid(load_base(&[], &["pipeline.feed_idle=nap"]));
    assert_eq!(key, "pipeline.feed_idle");
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    let (key, message) = invalid(load_base(&[], &["feeds.market.stall_timout=3s"]));
    assert_eq!(key, "feeds.market.stall_timout");
    assert!(message.starts_with("unknown key"), "{message}");
    assert!(
        message.contains("stall_timeout"),
        "suggests the known keys: {message}"
    );

    let (key, _) = invalid(load_base(&[("PMBOT_BOGUS__X", "1")], &[]));
    assert_eq!(key, "bogus");
}

#[test]
fn bad_values_name_their_key() {
    let (key, message) = invalid(load_base(
        &[("PMBOT_FEEDS__MARKET__STALL_TIMEOUT", "soon")],
        &[],
    ));
    assert_eq!(key, "feeds.market.stall_timeout");
    assert!(
        message.contains("expected a duration like \"5s\""),
        "{message}"
    );

    let (key, message) = invalid(load_base(&[], &["pipeline.idle=sometimes"]));
    assert_eq!(key, "pipeline.idle");
    assert!(message.contains("`spin`, `yield`, `park`"), "{message}");

    let (key, message) = invalid(load_base(
        &[],
        &["venue.ws_market_url=https://example.com/ws"],
    ));
    assert_eq!(key, "venue.ws_market_url");
    assert!(message.contains("ws://"), "{message}");
    let (key, _) = invalid(load_base(&[], &["venue.rest_url=clob.example.com"]));
    assert_eq!(key, "venue.rest_url");

    let (key, _) = invalid(load_base(&[], &["pipeline.ring_capacity=1000"]));
    assert_eq!(key, "pipeline.ring_capacity");
    let (key, _) = invalid(load_base(
        &[],
        &["feeds.market.reconnect_backoff.jitter=1.5"],
    ));
    assert_eq!(key, "feeds.market.reconnect_backoff.jitter");
    let (key, _) = invalid(load_base(&[], &["telemetry.prometheus_listen=nowhere"]));
    assert_eq!(key, "telemetry.prometheus_listen");
    let (key, _) = invalid(load_base(&[], &["pipeline.pinning.feed_cores=[1, x]"]));
    assert_eq!(key, "pipeline.pinning.feed_cores[1]");
    let (key, message) = invalid(load_base(
        &[],
        &["pipeline.pinning={strategy_core: 2, feed_cores: [2]}"],
    ));
    assert_eq!(key, "pipeline.pinning.feed_cores[0]");
    assert!(
        message.contains("pipeline.pinning.strategy_core"),
        "{message}"
    );
    let (key, _) = invalid(load_base(&[], &["universe.markets=[0x12]"]));
    assert_eq!(key, "universe.markets[0]");
}

#[test]
fn trading_settings_are_exact_and_validated() {
    let s = load_base(
        &[("PMBOT_STRATEGY__PAIR_ARB__MARGIN_PER_SET", "0.0025")],
        &["risk.daily_loss_limit=150.5"],
    )
    .unwrap();
    let params = s.core_params();
    assert_eq!(params.pair_arb.math.margin_per_set.0, 2_500);
    assert_eq!(params.risk.daily_loss_limit.0, 150_500_000);
    assert_eq!(params.pair_arb.cooldown_ms, 250);

    let (key, message) = invalid(load_base(&[], &["strategy.pair_arb.max_sets=0.001"]));
    assert_eq!(key, "strategy.pair_arb.max_sets");
    assert!(message.contains("0.01"), "{message}");
    let (key, _) = invalid(load_base(&[], &["strategy.pair_arb.min_edge=-1"]));
    assert_eq!(key, "strategy.pair_arb");
    let (key, _) = invalid(load_base(&[], &["risk.max_open_orders=0"]));
    assert_eq!(key, "risk.max_open_orders");
    let err = load_base(&[], &["strategy.pair_arb.margin_per_set=0.0000001"]).unwrap_err();
    assert!(err.to_string().contains("not an exact amount"), "{err}");
}

#[test]
fn malformed_overrides_are_reported() {
    let err = load_base(&[], &["no-equals-sign"]).unwrap_err();
    assert!(matches!(err, SettingsError::Override { ref arg, .. } if arg == "no-equals-sign"));
    let err = load_base(&[("PMBOT_PIPELINE____IDLE", "spin")], &[]).unwrap_err();
    assert!(matches!(err, SettingsError::Env { ref var, .. } if var == "PMBOT_PIPELINE____IDLE"));
    let err =
        Settings::load(&config_dir(), &Overlay::Profile("nope".into()), NO_ENV, &[]).unwrap_err();
    assert!(matches!(err, SettingsError::Read { ref path, .. } if path.ends_with("nope.yaml")));
}

#[test]
fn secrets_come_verbatim_from_env_and_are_redacted() {
    let env = [
        ("PMBOT_SECRETS__PRIVATE_KEY", "0x00c0ffee"),
        ("PMBOT_SECRETS__API_KEY", "key-material-123"),
        ("PMBOT_SECRETS__API_SECRET", "c2VjcmV0LXNlY3JldA=="),
        ("PMBOT_SECRETS__API_PASSPHRASE", "000123"),
    ];
    let s = load_base(&env, &[]).unwrap();
    assert_eq!(
        s.secrets.private_key.as_ref().unwrap().expose(),
        "0x00c0ffee"
    );
    assert_eq!(
        s.secrets.api_passphrase.as_ref().unwrap().expose(),
        "000123"
    );
    let shown = s.show_redacted();
    let debug = format!("{s:?}");
    for (_, secret) in env {
        assert!(!shown.contains(secret), "show_redacted leaks {secret}");
        assert!(!debug.contains(secret), "Debug leaks {secret}");
    }
    assert!(
        shown.contains("api_key: '***'") || shown.contains("api_key: \"***\""),
        "{shown}"
    );
    assert!(
        shown.contains("stall_timeout: 15s"),
        "durations render as humantime: {shown}"
    );
    assert_eq!(s.secrets.api_key.as_ref().unwrap().to_string(), "***");
}

#[test]
fn private_key_file_must_be_owner_only() {
    let dir = scratch("secret-file");
    let key = "0xabcdef0123456789";
    let file = dir.join("key");

    write(&file, &format!("{key}\n"), 0o600);
    let set = format!("secrets.private_key_file={}", file.display());
    let s = load_base(&[], &[&set]).unwrap();
    assert_eq!(s.secrets.private_key.as_ref().unwrap().expose(), key);
    assert!(!s.show_redacted().contains(key));
    assert!(!format!("{s:?}").contains(key));

    write(&file, &format!("{key}\n"), 0o644);
    let (k, message) = invalid(load_base(&[], &[&set]));
    assert_eq!(k, "secrets.private_key_file");
    assert!(
        message.contains(&file.display().to_string()),
        "names the file: {message}"
    );
    assert!(message.contains("0644"), "{message}");
    assert!(!message.contains(key), "never prints the contents");

    let (k, _) = invalid(load_base(&[("PMBOT_SECRETS__PRIVATE_KEY", "0x1")], &[&set]));
    assert_eq!(k, "secrets.private_key_file");
}

#[test]
fn show_redacted_round_trips_through_the_loader() {
    let dir = scratch("round-trip");
    let s = load_base(
        &[],
        &[
            "pipeline.idle=park",
            "universe.markets=[0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1]",
        ],
    )
    .unwrap();
    write(&dir.join("base.yaml"), &s.show_redacted(), 0o644);
    let again = Settings::load(&dir, &Overlay::None, NO_ENV, &[]).unwrap();
    assert_eq!(again.pipeline, s.pipeline);
    assert_eq!(again.feeds, s.feeds);
    assert_eq!(again.universe, s.universe);
    assert_eq!(again.telemetry, s.telemetry);
}
