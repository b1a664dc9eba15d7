//! Helpers shared by the venue's loopback tests: start an unpaced venue, open a market-channel
//! WebSocket to it, read venue decimals.

use std::net::TcpStream;
use std::time::Duration;

use pmbot::domain::num::{Px, Qty};
use pmbot::sim::{self, Scenario, Venue, VenueConfig};
use serde_json::Value;
use tungstenite::WebSocket;

/// How long a read on a test WebSocket waits before returning `WouldBlock`.
pub const READ_TIMEOUT: Duration = Duration::from_millis(20);

/// Starts the venue on an ephemeral loopback port, unpaced.
pub fn start(scenario: Scenario) -> Venue {
    sim::start(VenueConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        scenario,
        paced: false,
    })
    .unwrap()
}

/// A market-channel WebSocket to `venue`, reads timing out after [`READ_TIMEOUT`].
pub fn connect(venue: &Venue) -> WebSocket<TcpStream> {
    let url = venue.ws_market_url();
    let addr = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    tungstenite::client(url.as_str(), stream).unwrap().0
}

/// A price string of a venue message.
pub fn px(v: &Value) -> Px {
    Px::parse(v.as_str().unwrap().as_bytes()).unwrap()
}

/// A size string of a venue message.
pub fn qty(v: &Value) -> Qty {
    Qty::parse(v.as_str().unwrap().as_bytes()).unwrap()
}
