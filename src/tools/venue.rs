//! `pmbot venue`: the embedded venue on its own, for trying clients against it.

use std::net::SocketAddr;

use crate::sim::{self, SimError, VenueConfig};

/// Serves `scenario` on `listen` until the scenario has played out, printing where to connect.
pub fn run(listen: SocketAddr, scenario: &str) -> Result<(), SimError> {
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
    while let Ok(checkpoint) = venue.checkpoints().recv() {
        venue.resume();
        if checkpoint.last {
            break;
        }
    }
    println!("scenario finished: {:?}", venue.stats());
    venue.shutdown();
    Ok(())
}
