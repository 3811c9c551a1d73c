//! The gateway's contract as plain data: its configuration, the events it
//! reports and the presence it keeps.

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
    /// Interval of `tick` events (`hello-ok.policy.tickIntervalMs`).
    pub tick_interval_ms: u64,
    /// A connection that has not completed `connect` by then is closed (1000).
    pub handshake_timeout_ms: u64,
    /// How often `devices/` is re-read to notice decisions made elsewhere.
    pub watch_interval_ms: u64,
    /// Largest accepted WebSocket message/frame (`hello-ok.policy.maxPayload`).
    pub max_message_bytes: usize,
    /// Open sockets beyond this are dropped at accept.
    pub max_connections: usize,
    /// Concurrent sockets per address.
    pub max_conns_per_addr: usize,
    /// Outstanding pending requests created per address.
    pub max_pending_per_addr: usize,
    /// Failed handshakes per address per minute before it is refused.
    pub max_failed_handshakes_per_minute: u32,
    /// Serve `wss://` with this certificate (`--tls`).
    pub tls: Option<crate::gateway::tls::ServerTls>,
    /// Sockets per address that have not sent their first request yet.
    pub max_handshaking_per_addr: usize,
    /// The owner's own machine (127.0.0.1, ::1) is exempt from the
    /// failed-handshake lockout and the handshaking-socket limit, as in OpenClaw.
    pub exempt_loopback: bool,
}

impl GatewayConfig {
    /// A configuration with OpenClaw's timings and clawpair's default limits.
    pub fn new(bind: impl Into<String>, port: u16, token: impl Into<String>) -> Self {
        GatewayConfig {
            bind: bind.into(),
            port,
            token: token.into(),
            auto_approve_local: true,
            tick_interval_ms: 30_000,
            handshake_timeout_ms: 10_000,
            watch_interval_ms: 1_000,
            max_message_bytes: 1024 * 1024,
            max_connections: 4096,
            max_conns_per_addr: 1024,
            max_pending_per_addr: 16,
            max_failed_handshakes_per_minute: 30,
            tls: None,
            max_handshaking_per_addr: 64,
            exempt_loopback: true,
        }
    }
}

/// How a pending device request was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    /// The word on the wire (`device.pair.resolved.decision`) and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the gateway reports to whoever runs it. Carries no secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayEvent {
    /// The listener is up.
    Listening {
        addr: SocketAddr,
        /// With `--tls`: the certificate's SHA-256, 64 lower-case hex digits.
        tls_fingerprint: Option<String>,
    },
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
        decision: Decision,
    },
    /// A paired device completed its handshake.
    DeviceConnected {
        device_id: String,
        role: String,
        remote_addr: String,
    },
    /// The gateway closed a device's connection because the device was
    /// removed or its token revoked or rotated (close `code`, `reason`:
    /// 4001 `device removed`). A [`GatewayEvent::DeviceDisconnected`] follows.
    DeviceClosed {
        device_id: String,
        role: String,
        code: u16,
        reason: String,
    },
    /// A paired device's connection closed.
    DeviceDisconnected { device_id: String },
    /// A setup token was presented by a device for the first time.
    SetupCodeUsed { device_id: String },
    /// The gateway stopped (clean shutdown).
    Stopped,
}

/// A device seen on this gateway since it started (connected now or earlier).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub device_id: String,
    pub role: String,
    pub display_name: Option<String>,
    pub client_mode: String,
    /// `ip:port` of the latest connection.
    pub remote_addr: String,
    /// The IP recorded for non-local clients.
    pub remote_ip: Option<String>,
    pub connected: bool,
    /// Open connections of this device.
    pub connections: u32,
    /// Last frame received, connect or disconnect (ms since the epoch).
    pub last_seen_ms: i64,
}
