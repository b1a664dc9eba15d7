//! Polymarket CLOB adapter: the market channel's transport, feed thread and decoder, the
//! market-data REST calls, the registry from Gamma's metadata, EIP-712 order signing and CLOB
//! authentication (L1/L2).
pub mod auth;
pub mod decode;
pub mod gamma;
pub mod rest;
pub mod signing;
pub mod transport;
pub mod ws_market;
