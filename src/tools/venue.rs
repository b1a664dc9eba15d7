//! `pmbot venue`: the embedded venue on its own, for trying clients against it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam::channel::RecvTimeoutError;

use crate::sim::{self, SimError, VenueConfig};

/// Serves `scenario` on `listen`, printing where to connect; once the scenario has played out
/// the final books stay served until `stop` is set (Ctrl-C).
pub fn run(listen: SocketAddr, scenario: &str, stop: &AtomicBool) -> Result<(), SimError> {
    let scenario = sim::load_scenario(scenario)?;
    let venue = sim::start(VenueConfig {
        listen,
        scenario,
        paced: true,
    })?;
    println!("venue REST:      {}", venue.rest_url());
    println!("venue market WS: {}", venue.ws_market_url());
    if let Some(market) = venue.markets().first() {
        println!(
            "a market to try: {} (tokens {})",
            market.condition_id,
            market.token_ids.join(", ")
        );
    }
    println!("the scenario starts when the first client subscribes");
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
