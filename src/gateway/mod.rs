//! The pairing gateway: a WebSocket server speaking the part of the OpenClaw
//! gateway protocol that pairing depends on, in two dialects: protocol 3 as
//! OpenClaw 2026.2.26 answers it and protocol 4 as 2026.9.6 does.
//!
//! This file and `api` fix the contract between the gateway task and its users
//! (the console, headless mode, `clawpair gateway`): the configuration it
//! takes, the events it reports (`api`), [`start`] and the [`GatewayHandle`].
//!
//! * `api` — [`GatewayConfig`], [`GatewayEvent`], [`Decision`], [`Presence`] (plain data);
//! * `server` — listener, handshake, pairing during connect, RPCs, events,
//!   ticks, shutdown, presence, per-address limits, the single writer of
//!   `devices/`;
//! * `frames` — closed-schema frame and `connect` validation, answers;
//! * `crypto` — `v3`/`v2` payloads, Ed25519 keys/signatures, tokens, PEMs;
//! * `token` — the shared gateway token ([`resolve_token`]);
//! * `setup` — setup codes and their one-time tokens.
//!
//! The client side of the protocol lives in [`crate::node`].

pub mod advert;
pub mod api;
pub mod crypto;
pub mod frames;
pub mod server;
pub mod setup;
pub mod tls;
pub mod token;

pub use api::{Decision, GatewayConfig, GatewayEvent, Presence};
pub use token::resolve_token;

use std::net::SocketAddr;

/// The running gateway.
pub struct GatewayHandle {
    addr: Option<SocketAddr>,
    tls: Option<[u8; 32]>,
    stop: tokio::sync::watch::Sender<bool>,
    stopped: tokio::sync::watch::Receiver<bool>,
    hub: Option<std::sync::Arc<server::Hub>>,
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

    /// The certificate's SHA-256 when serving `wss://`.
    pub fn tls_fingerprint(&self) -> Option<[u8; 32]> {
        self.tls
    }

    /// `ws://host:port` or `wss://host:port` of the listener (`None` when the bind failed).
    pub fn url(&self) -> Option<String> {
        let a = self.addr?;
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        Some(format!("{scheme}://{a}"))
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

    /// Tells the gateway that `devices/` was changed by this process (the
    /// console's approve, reject, remove): it re-reads the files at once,
    /// announcing decisions and closing the connections of removed devices
    /// and revoked or rotated tokens (4001 `device removed`).
    pub fn devices_changed(&self) {
        if let Some(h) = &self.hub {
            h.recheck_devices();
        }
    }

    /// Devices seen since start, most recently seen first.
    pub fn presence(&self) -> Vec<Presence> {
        self.hub
            .as_ref()
            .map(|h| h.presence_list())
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
    let listener = match server::listen(&cfg).await {
        Ok(l) => l,
        Err(error) => {
            let _ = events.send(GatewayEvent::BindFailed {
                addr: format!("{}:{}", cfg.bind, cfg.port),
                error: error.to_string(),
            });
            let _ = stopped_tx.send(true);
            return GatewayHandle {
                addr: None,
                tls: None,
                stop,
                stopped,
                hub: None,
            };
        }
    };
    let addr = listener.first().and_then(|l| l.local_addr().ok());
    if let Some(a) = addr {
        let _ = events.send(GatewayEvent::Listening {
            addr: a,
            tls_fingerprint: cfg
                .tls
                .as_ref()
                .map(|t| tls::fingerprint_hex(&t.fingerprint)),
        });
    }
    let cfg_tls = cfg.tls.as_ref().map(|t| t.fingerprint);
    let instance = uuid::Uuid::new_v4().to_string();
    if let Some(a) = addr {
        advert::write(
            &paths,
            &advert::Advert {
                pid: std::process::id(),
                instance: instance.clone(),
                bind: cfg.bind.clone(),
                port: a.port(),
                tls_fingerprint: cfg_tls.as_ref().map(tls::fingerprint_hex),
                started_at_ms: crate::clock::now_ms(),
            },
        );
    }
    let advert_paths = paths.clone();
    let hub = server::Hub::new(cfg, paths, events, stop_rx);
    let h = hub.clone();
    tokio::spawn(async move {
        server::serve(h, listener).await;
        advert::remove_if_ours(&advert_paths, &instance);
        let _ = stopped_tx.send(true);
    });
    let tls = cfg_tls;
    GatewayHandle {
        addr,
        tls,
        stop,
        stopped,
        hub: Some(hub),
    }
}
