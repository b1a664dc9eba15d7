//! Polymarket CLOB adapter: the market channel's transport, feed thread and decoder, and the
//! market-data REST calls.
pub mod decode;
pub mod rest;
pub mod transport;
pub mod ws_market;
