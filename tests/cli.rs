//! The command line as a user meets it: exit codes, messages, `config show` redaction.

use std::process::{Command, Output};

fn pmbot(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pmbot"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn config_show_prints_the_effective_config_with_secrets_redacted() {
    let secret = "0xdeadbeefcafe0123456789";
    let out = pmbot(
        &["config", "show", "--set", "feeds.market.stall_timeout=7s"],
        &[
            ("PMBOT_SECRETS__API_SECRET", secret),
            ("PMBOT_PIPELINE__IDLE", "park"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("stall_timeout: 7s"), "{shown}");
    assert!(shown.contains("idle: park"), "{shown}");
    assert!(
        shown.contains("api_secret: '***'") || shown.contains("api_secret: \"***\""),
        "{shown}"
    );
    assert!(!shown.contains(secret));
    assert!(!text(&out.stderr).contains(secret));
}

#[test]
fn bad_configuration_exits_2_naming_the_key() {
    let out = pmbot(
        &["config", "show", "--set", "feeds.market.stall_timout=7s"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("feeds.market.stall_timout"),
        "{}",
        text(&out.stderr)
    );

    let out = pmbot(
        &["config", "show"],
        &[("PMBOT_PIPELINE__IDLE", "sometimes")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("PMBOT_PIPELINE__IDLE")
            || text(&out.stderr).contains("pipeline.idle")
    );
}

#[test]
fn run_without_a_universe_fails_with_a_clear_message() {
    let out = pmbot(&["run"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("universe.markets"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_unknown_scenario_is_refused_by_name() {
    let out = pmbot(
        &["demo", "--scenario", "no-such-scenario", "--duration", "1s"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no-such-scenario"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["demo", "--help"],
        &["run", "--help"],
        &["venue", "--help"],
        &["config", "show", "--help"],
    ] {
        let out = pmbot(args, &[]);
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).contains("Usage"), "{args:?}");
    }
}
