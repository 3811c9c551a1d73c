//! DM pairing: pending codes of unknown senders and the per-channel
//! allow-lists under `credentials/` (spec dm-pairing.md).

pub mod allowlist;
pub mod code;
pub mod keys;
pub mod normalize;
pub mod pairing;
pub mod store;

pub use pairing::{PairingRequest, Upserted, MAX_PENDING, PENDING_TTL_MS};
pub use store::{AllowList, Approved, ChannelFiles, DmStore};
