//! The pairing gateway: a WebSocket server speaking the part of the OpenClaw
//! 2026.2.26 gateway protocol that pairing depends on.
//!
//! This file fixes the contract between the gateway task and its users (the
//! console, headless mode, `clawpair gateway`): the configuration it takes and
//! the events it reports.

use std::net::SocketAddr;

/// How the gateway task is configured.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub bind: String,
    pub port: u16,
    /// The shared gateway token; resolved by the caller (flag, env, config, generated).
    pub token: String,
    /// Silently approve local (loopback) clients, as OpenClaw does.
    pub auto_approve_local: bool,
}

/// What the gateway reports to whoever runs it. Carries no secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayEvent {
    /// The listener is up.
    Listening { addr: SocketAddr },
    /// The listener could not be bound (for example a real OpenClaw gateway holds the port).
    BindFailed { addr: String, error: String },
    /// A new pending device request was created (not sent for merges).
    DevicePairRequested {
        request_id: String,
        device_id: String,
    },
    /// A request was approved or rejected (here or noticed from another process).
    DevicePairResolved {
        request_id: String,
        device_id: String,
        decision: String,
    },
    /// A paired device completed its handshake.
    DeviceConnected {
        device_id: String,
        role: String,
        remote_addr: String,
    },
    /// A paired device's connection closed.
    DeviceDisconnected { device_id: String },
    /// A setup token was presented by a device for the first time.
    SetupCodeUsed { device_id: String },
    /// The gateway stopped (clean shutdown).
    Stopped,
}

pub mod config;
pub mod crypto;
pub mod frames;
pub mod identity;
pub mod setup;

pub use config::resolve_token;
