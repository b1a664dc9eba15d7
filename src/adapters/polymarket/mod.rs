//! Polymarket CLOB adapter: market-channel decoding (more of the venue's wire protocol lands here).
pub mod decode;
