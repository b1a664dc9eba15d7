//! The `pmbot` command line: run, demo, venue, arb, config.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::{Parser, Subcommand};

use pmbot::bot::logging;
use pmbot::bot::settings::{Overlay, Settings};
use pmbot::domain::Usdc;
use pmbot::tools::{arb, demo, live, venue};

/// pmbot: a low-latency trading bot for Polymarket's CLOB.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Directory holding base.yaml, dev.yaml, prod.yaml and scenarios/.
    #[arg(long, global = true, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/config"))]
    config_dir: PathBuf,
    /// Override a setting: `key.path=value` (repeatable; applied last).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot against the venue in the configuration until Ctrl-C.
    Run {
        /// Environment file layered over base.yaml (e.g. config/prod.yaml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Sign and log every order without sending it, whatever `execution.mode` says.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run the embedded venue and the bot together on loopback (no credentials).
    Demo {
        /// Scenario name under config/scenarios/ or a path.
        #[arg(long, default_value = "pair-arb")]
        scenario: String,
        /// How long the scenario's market stream lasts.
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        duration: Duration,
        /// Write the JSON report here.
        #[arg(long)]
        report_json: Option<PathBuf>,
        /// Directory for the HDR `.hgrm` files and the latency plot.
        #[arg(long, default_value = "reports")]
        report_dir: PathBuf,
    },
    /// Serve the embedded venue alone.
    Venue {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Scenario name under config/scenarios/ or a path.
        #[arg(long, default_value = "default")]
        scenario: String,
        /// pUSD every new account starts with (default: the scenario's `trading.faucet_usdc`).
        #[arg(long)]
        faucet_usdc: Option<String>,
        /// Shares of every outcome each new account starts with (default: the scenario's).
        #[arg(long)]
        faucet_shares: Option<String>,
    },
    /// Arbitrage math on saved snapshots.
    Arb {
        #[command(subcommand)]
        command: ArbCommand,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum ArbCommand {
    /// Evaluate pair and neg-risk arbitrage on a Gamma `/events` file and a `/books` file; prints
    /// the opportunities and the skipped markets as exact JSON.
    Evaluate {
        /// A Gamma `/events` response (array of events with their markets).
        #[arg(long)]
        markets: PathBuf,
        /// A CLOB `/books` response (array of books).
        #[arg(long)]
        books: PathBuf,
        /// USDC each marginal set must earn after fees (default: strategy.pair_arb.margin_per_set).
        #[arg(long, value_parser = parse_usdc)]
        margin: Option<Usdc>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration with secrets redacted.
    Show {
        /// Environment file layered over base.yaml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Exit code for bad configuration, arguments or input files.
const EXIT_CONFIG: u8 = 2;
/// Exit code for a run that failed.
const EXIT_FAILED: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A demo scenario names the bot settings it exercises; the command line's own `--set`s
    // still come last. A scenario that does not load is reported by the demo itself.
    let mut overrides = match &cli.command {
        Command::Demo { scenario, .. } => demo::scenario_overrides(scenario),
        _ => Vec::new(),
    };
    overrides.extend(cli.overrides.iter().cloned());
    let load =
        |overlay: Overlay| Settings::load(&cli.config_dir, &overlay, std::env::vars(), &overrides);
    let overlay_of = |config: &Option<PathBuf>, default: &str| match config {
        Some(path) => Overlay::File(path.clone()),
        None => Overlay::Profile(default.into()),
    };
    let settings = match &cli.command {
        Command::Run { config, .. } => load(overlay_of(config, "prod")),
        Command::Config {
            command: ConfigCommand::Show { config },
        } => load(overlay_of(config, "dev")),
        Command::Demo { .. } | Command::Venue { .. } | Command::Arb { .. } => {
            load(Overlay::Profile("dev".into()))
        }
    };
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pmbot: configuration error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(e) = logging::init(settings.telemetry.log_format, &settings.telemetry.log_level) {
        eprintln!("pmbot: bad telemetry.log_level: {e}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let result: Result<(), String> = match cli.command {
        Command::Config { .. } => {
            print!("{}", settings.show_redacted());
            Ok(())
        }
        Command::Run { dry_run, .. } => match switches_on_signals() {
            Ok(switches) => live::run(&settings, &switches, dry_run).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        },
        Command::Demo {
            scenario,
            duration,
            report_json,
            report_dir,
        } => demo::run(
            &settings,
            &demo::DemoArgs {
                scenario,
                duration,
                report_json,
                report_dir,
            },
        )
        .map(|_| ())
        .map_err(|e| e.to_string()),
        Command::Arb {
            command:
                ArbCommand::Evaluate {
                    markets,
                    books,
                    margin,
                },
        } => {
            let mut params = settings.strategy.params().math;
            if let Some(margin) = margin {
                params.margin_per_set = margin;
            }
            match arb::evaluate(&markets, &books, &params) {
                Ok(json) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&json).unwrap_or_default()
                    );
                    Ok(())
                }
                Err(e) => {
                    eprintln!("pmbot: bad input: {e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            }
        }
        Command::Venue {
            listen,
            scenario,
            faucet_usdc,
            faucet_shares,
        } => match stop_on_signal() {
            Ok(stop) => {
                let faucet = venue::Faucet {
                    usdc: faucet_usdc,
                    shares: faucet_shares,
                };
                venue::run(listen, &scenario, &faucet, &stop).map_err(|e| e.to_string())
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pmbot: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// A non-negative USDC amount with at most six decimals.
fn parse_usdc(text: &str) -> Result<Usdc, String> {
    match Usdc::parse(text.as_bytes()) {
        Ok(v) if v.0 >= 0 => Ok(v),
        Ok(_) => Err("must not be negative".into()),
        Err(e) => Err(format!("not an exact USDC amount: {e}")),
    }
}

/// A flag that SIGINT or SIGTERM sets.
fn stop_on_signal() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        register(signal, &stop)?;
    }
    Ok(stop)
}

/// The operator's switches for `pmbot run`: SIGINT/SIGTERM stop, SIGUSR1 is the kill switch,
/// SIGUSR2 clears a halt.
fn switches_on_signals() -> Result<live::Switches, String> {
    let switches = live::Switches {
        stop: stop_on_signal()?,
        kill: Arc::new(AtomicBool::new(false)),
        clear_halt: Arc::new(AtomicBool::new(false)),
    };
    register(signal_hook::consts::SIGUSR1, &switches.kill)?;
    register(signal_hook::consts::SIGUSR2, &switches.clear_halt)?;
    Ok(switches)
}

fn register(signal: i32, flag: &Arc<AtomicBool>) -> Result<(), String> {
    signal_hook::flag::register(signal, flag.clone())
        .map(|_| ())
        .map_err(|e| format!("cannot install signal handlers: {e}"))
}
