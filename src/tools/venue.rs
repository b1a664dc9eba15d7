//! `pmbot venue`: the embedded venue on its own, for trying clients against it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam::channel::RecvTimeoutError;

use crate::domain::num::{Qty, Usdc};
use crate::sim::{self, Scenario, SimError, VenueConfig};

/// Faucet amounts given on the command line (decimal text), overriding the scenario's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faucet {
    /// pUSD per new account.
    pub usdc: Option<String>,
    /// Shares of every outcome per new account.
    pub shares: Option<String>,
}

impl Faucet {
    /// Writes the overrides into `scenario`; a malformed amount names its flag.
    pub fn apply(&self, scenario: &mut Scenario) -> Result<(), SimError> {
        let bad = |flag: &str, text: &str| SimError::Scenario {
            name: "command line".into(),
            reason: format!("{flag}: {text:?} is not an amount"),
        };
        if let Some(text) = &self.usdc {
            let usdc = Usdc::parse(text.as_bytes())
                .ok()
                .filter(|u| u.0 >= 0)
                .ok_or_else(|| bad("--faucet-usdc", text))?;
            scenario.trading.faucet_usdc = usdc;
        }
        if let Some(text) = &self.shares {
            scenario.trading.faucet_shares =
                Qty::parse(text.as_bytes()).map_err(|_| bad("--faucet-shares", text))?;
        }
        Ok(())
    }
}

/// Serves `scenario` on `listen`, printing where to connect and a market to trade; once the
/// scenario has played out the final books stay served until `stop` is set (Ctrl-C).
pub fn run(
    listen: SocketAddr,
    scenario: &str,
    faucet: &Faucet,
    stop: &AtomicBool,
) -> Result<(), SimError> {
    let mut scenario = sim::load_scenario(scenario)?;
    faucet.apply(&mut scenario)?;
    let trading = scenario.trading;
    let venue = sim::start(VenueConfig {
        listen,
        scenario,
        paced: true,
    })?;
    println!("venue REST:      {}", venue.rest_url());
    println!("venue market WS: {}", venue.ws_market_url());
    println!("venue user WS:   {}", venue.user_ws_url());
    println!("chain id:        137 (Polygon; orders sign for the real exchange contracts)");
    if let Some(market) = venue.markets().first() {
        println!("a market to trade: condition id {}", market.condition_id);
        println!("  tokens (Yes, No): {}", market.token_ids.join(", "));
        println!(
            "  tick {}, minimum size {}",
            market.tick, market.min_order_size
        );
    }
    println!(
        "every new account (first L1 auth) gets {} pUSD and {} shares of every outcome, allowances set",
        trading.faucet_usdc, trading.faucet_shares
    );
    println!("the scenario starts when the first client subscribes to the market channel");
    while !stop.load(Ordering::Relaxed) {
        match venue.checkpoints().recv_timeout(Duration::from_millis(200)) {
            Ok(checkpoint) => {
                venue.resume();
                if checkpoint.last {
                    println!("scenario finished: {:?}", venue.stats());
                    println!("the final books stay served until Ctrl-C");
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    venue.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faucet_flags_override_the_scenario_exactly() {
        let mut scenario = sim::load_scenario("default").unwrap();
        let faucet = Faucet {
            usdc: Some("12.5".into()),
            shares: Some("7".into()),
        };
        faucet.apply(&mut scenario).unwrap();
        assert_eq!(scenario.trading.faucet_usdc, Usdc(12_500_000));
        assert_eq!(scenario.trading.faucet_shares, Qty::from_shares(7));
        let bad = Faucet {
            usdc: Some("lots".into()),
            shares: None,
        };
        assert!(
            bad.apply(&mut scenario)
                .unwrap_err()
                .to_string()
                .contains("--faucet-usdc")
        );
    }
}
