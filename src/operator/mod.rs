//! clawpair as an **operator client** of a gateway reached over WebSocket:
//! a real OpenClaw gateway of either generation (2026.2.26, protocol 3;
//! 2026.9.6, protocol 4) or clawpair's own, so the console, the headless
//! stream and the CLI work from anywhere.
//!
//! * `url` — `ws[s]://HOST:PORT`, the cleartext rule (loopback, private, `.local`);
//! * `tls` — rustls, system roots, SHA-256 pins (`--tls-fingerprint`, remembered pins);
//! * `transport` — TCP + TLS + WebSocket upgrade with bounded message sizes;
//! * `wire` — the client's frame parser (bounded, fuzzed) and `hello-ok` for 3 and 4;
//! * `session` — one connection: challenge, signed or device-less `connect`,
//!   requests by id with deadlines, bounded events, tick watchdog;
//! * `link` — a connection that stays up: reconnect with capped jittered
//!   backoff, status (reconnecting, unauthorized, pairing required, …),
//!   refusal of requests while offline; credentials and what a handshake
//!   leaves in the config dir;
//! * `store` — clawpair's config dir: operator identity, per-gateway pin and device token;
//! * `api` — the pairing RPCs (scopes, the admin retry) and their payloads as rows.

pub mod api;
pub mod link;
pub mod session;
pub mod store;
pub mod tls;
pub mod transport;
pub mod url;
pub mod wire;

pub use link::{Link, LinkEvent, Remote};
pub use session::{ConnectSpec, Credentials, RpcError, Session, Shared};
pub use store::ConfigDir;
pub use url::GatewayUrl;
