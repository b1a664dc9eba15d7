//! Polymarket CLOB adapter: the market channel's transport, feed thread and decoder, the
//! market-data REST calls, and the registry from Gamma's metadata.
pub mod decode;
pub mod gamma;
pub mod rest;
pub mod transport;
pub mod ws_market;
