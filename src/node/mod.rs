//! The node side of the gateway protocol: what a client (`clawpair join`, the
//! tests, the benchmark) needs to pair with and connect to a gateway.
//!
//! * `client` — the handshake as a client: wait for `connect.challenge`, sign,
//!   send `connect`, read the answer;
//! * `identity` — the client's `identity/device.json` and `device-auth.json`.

pub mod client;
// The device identity (keys and files) is its own module below node and operator.
pub use crate::identity;
