//! Device pairing store: `<state>/devices/pending.json` and `paired.json`.
//!
//! * [`model`]: the records, serde in OpenClaw's field order, unknown keys kept.
//! * [`state`]: the pure transitions (request/merge, approve, reject, remove,
//!   rotate, revoke, connect metadata, token verify/ensure, pairing checks).
//! * [`store`]: [`DeviceStore`], the same transitions under the `<file>.lock`
//!   locks with atomic writes, refusing to overwrite a file it cannot read.
//! * [`payload`]: the RPC results and event payloads (also the CLI's `--json`).

pub mod model;
pub mod payload;
pub mod pick;
pub mod state;
pub mod store;

pub use model::{PairedDevice, PendingRequest, TokenMap, TokenRecord, PENDING_TTL_MS};
pub use store::{
    new_token, scopes_cover, tokens_equal, Approved, ConnectClaim, ConnectMeta, DeviceState,
    DeviceStore, PairingReason, RequestInput, RequestOutcome, TokenFailure,
};
