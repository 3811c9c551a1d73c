//! The pairing gateway: a WebSocket server speaking the part of the OpenClaw
//! 2026.2.26 gateway protocol that pairing depends on.
//!
//! This file fixes the contract between the gateway task and its users (the
//! console, headless mode, `clawpair gateway`): the configuration it takes,
//! the events it reports, [`start`] and the [`GatewayHandle`].
//!
//! * `server` — listener, handshake, pairing during connect, RPCs, events,
//!   ticks, shutdown, presence, per-address limits;
//! * `worker` — the single writer of `devices/` (group commit);
//! * `frames` — closed-schema frame and `connect` validation, answers;
//! * `crypto` — `v3`/`v2` payloads, Ed25519 keys/signatures, tokens, PEMs;
//! * `token` — the shared gateway token ([`resolve_token`]);
//! * `setup` — setup codes and their one-time tokens.
//!
//! The client side of the protocol lives in [`crate::node`].

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
        }
    }
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

/// The running gateway.
pub struct GatewayHandle {
    addr: Option<SocketAddr>,
    stop: tokio::sync::watch::Sender<bool>,
    stopped: tokio::sync::watch::Receiver<bool>,
    shared: Option<std::sync::Arc<server::Shared>>,
}

impl GatewayHandle {
    /// Sends `shutdown` and closes every client with 1012; returns at once
    /// (await [`GatewayHandle::wait`] for completion). A no-op when the bind failed.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// The bound address (`None` when the bind failed).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Resolves when the gateway has stopped (at once when it never started).
    pub async fn wait(&self) {
        let mut rx = self.stopped.clone();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Devices seen since start, most recently seen first.
    pub fn presence(&self) -> Vec<Presence> {
        self.shared
            .as_ref()
            .map(|s| s.presence_list())
            .unwrap_or_default()
    }
}

/// Binds and runs the gateway in the background. A bind failure is reported
/// as [`GatewayEvent::BindFailed`]; the returned handle then does nothing.
pub async fn start(
    cfg: GatewayConfig,
    paths: crate::paths::Paths,
    events: tokio::sync::mpsc::UnboundedSender<GatewayEvent>,
) -> GatewayHandle {
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let (stopped_tx, stopped) = tokio::sync::watch::channel(false);
    let listener = match server::bind(&cfg).await {
        Ok(l) => l,
        Err(error) => {
            let _ = events.send(GatewayEvent::BindFailed {
                addr: format!("{}:{}", cfg.bind, cfg.port),
                error,
            });
            let _ = stopped_tx.send(true);
            return GatewayHandle {
                addr: None,
                stop,
                stopped,
                shared: None,
            };
        }
    };
    let addr = listener.first().and_then(|l| l.local_addr().ok());
    if let Some(a) = addr {
        let _ = events.send(GatewayEvent::Listening { addr: a });
    }
    let shared = server::new_shared(cfg, paths, events, stop_rx);
    let s = shared.clone();
    tokio::spawn(async move {
        server::serve(s, listener).await;
        let _ = stopped_tx.send(true);
    });
    GatewayHandle {
        addr,
        stop,
        stopped,
        shared: Some(shared),
    }
}

pub mod crypto;
pub mod frames;
pub mod server;
pub mod setup;
pub mod token;
pub mod worker;

pub use token::resolve_token;
