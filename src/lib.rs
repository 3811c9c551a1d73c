//! clawpair: an approval console for OpenClaw DM pairing and node device
//! pairing, reading and writing the same files, locks and protocol as
//! OpenClaw 2026.2.26.

pub mod cli;
pub mod clock;
pub mod config;
pub mod devices;
pub mod dm;
pub mod error;
pub mod fsutil;
pub mod gateway;
pub mod jsonfmt;
pub mod lock;
pub mod paths;
pub mod sanitize;
