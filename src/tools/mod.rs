//! Command implementations: the demo, the live run and its trading set-up, the standalone venue,
//! and the run report.
pub mod arb;
pub mod demo;
pub mod live;
pub mod report;
pub mod session;
pub mod trading;
pub mod venue;
