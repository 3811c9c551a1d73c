//! The WebSocket server: handshake (spec gateway-protocol §3), pairing during
//! connect (§4), `hello-ok` (§5), authorisation (§6), pairing RPCs (§7) and
//! events (§8), ticks, clean shutdown, presence, limits.
//!
//! * `mod` — listening, the accept loop, the ticker;
//! * `hub` — cross-connection state;
//! * `limits` — per-address limits;
//! * `tasks` — task tracking for a clean shutdown;
//! * `wire` — the stream and frame helpers;
//! * `handshake` — upgrade, challenge, first request;
//! * `connect` — the `connect` request;
//! * `pairing` — the pairing decision during `connect`;
//! * `hello` — `hello-ok`;
//! * `session` — a connected client;
//! * `rpc` — authorisation and the RPCs;
//! * `resolved` — `device.pair.resolved`;
//! * `worker` — the single writer of `devices/` (group commit).

// Error answers are built once per failed request; their size does not matter.
#![allow(clippy::result_large_err)]

mod connect;
mod handshake;
mod hello;
mod hub;
mod limits;
mod pairing;
mod resolved;
mod rpc;
mod session;
mod tasks;
mod wire;
mod worker;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::net::TcpListener;

pub use hello::{EVENTS, METHODS};
pub(crate) use hub::Hub;

use crate::gateway::{GatewayConfig, GatewayEvent};
use handshake::handle_socket;
use hub::{now, Audience};
use limits::canonical_ip;
use resolved::watcher;
use tasks::TaskTracker;

/// The gateway's address could not be bound (its text is the OS error's).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ListenError(#[from] std::io::Error);

/// Starts listening on `cfg.bind`. The default loopback bind also listens on
/// `[::1]` at the same port when it can, as OpenClaw does (clients resolving
/// `localhost` to `::1` still connect).
pub(super) async fn listen(cfg: &GatewayConfig) -> Result<Vec<TcpListener>, ListenError> {
    let host = cfg
        .bind
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback_pair = host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1";
    let addr = if host.eq_ignore_ascii_case("localhost") {
        "127.0.0.1"
    } else {
        host
    };
    let primary = match addr.parse::<IpAddr>() {
        Ok(ip) => TcpListener::bind(SocketAddr::new(ip, cfg.port)).await?,
        Err(_) => TcpListener::bind((addr, cfg.port)).await?,
    };
    let mut out = vec![];
    if loopback_pair {
        if let Ok(a) = primary.local_addr() {
            let v6 = SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), a.port());
            if let Ok(l) = TcpListener::bind(v6).await {
                out.push(l);
            }
        }
    }
    out.insert(0, primary);
    Ok(out)
}

/// Accept loop plus ticker and watcher; returns after a clean shutdown.
pub(super) async fn serve(hub: Arc<Hub>, listeners: Vec<TcpListener>) {
    let mut shutdown = hub.shutdown_signal();
    let tasks = TaskTracker::default();
    tasks.spawn(ticker(hub.clone()));
    tasks.spawn(watcher(hub.clone()));
    for l in listeners {
        tasks.spawn(accept_loop(hub.clone(), l, tasks.clone()));
    }
    let _ = shutdown.changed().await;
    // Every session sends `shutdown` and closes with 1012 on its own.
    tasks.wait(Duration::from_secs(3)).await;
    hub.emit(GatewayEvent::Stopped);
}

async fn accept_loop(hub: Arc<Hub>, listener: TcpListener, tasks: TaskTracker) {
    let mut shutdown = hub.shutdown_signal();
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            acc = listener.accept() => {
                let Ok((tcp, addr)) = acc else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                // Beyond the socket cap, and from addresses far over their
                // failure budget, sockets are dropped unread.
                if hub.refuse_at_accept(canonical_ip(addr.ip())) {
                    drop(tcp);
                    continue;
                }
                let _ = tcp.set_nodelay(true);
                let hub = hub.clone();
                hub.socket_opened();
                tasks.spawn(async move {
                    handle_socket(hub.clone(), tcp, addr).await;
                    hub.socket_closed();
                });
            }
        }
    }
}

/// `tick` to every connection each `tick_interval_ms`; prunes the limits.
async fn ticker(hub: Arc<Hub>) {
    let mut shutdown = hub.shutdown_signal();
    let period = Duration::from_millis(hub.cfg.tick_interval_ms.max(10));
    let mut iv = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = iv.tick() => {
                hub.broadcast("tick", json!({"ts": now()}), Audience::All);
                hub.prune_limits();
            }
        }
    }
}
