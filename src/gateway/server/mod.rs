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
mod resolved;
mod rpc;
mod session;
mod tasks;
mod wire;
mod worker;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::net::TcpListener;

pub use hello::{EVENTS, METHODS};
pub(crate) use hub::{new_shared, Shared};

use crate::gateway::{GatewayConfig, GatewayEvent};
use handshake::handle_socket;
use hub::now;
use limits::{canonical_ip, failures_of, prune_limits};
use resolved::watcher;
use tasks::TaskTracker;

/// Starts listening; `Err` carries the bind error text. The default
/// loopback bind also listens on `[::1]` at the same port when it can, as
/// OpenClaw does (clients resolving `localhost` to `::1` still connect).
pub(super) async fn bind(cfg: &GatewayConfig) -> Result<Vec<TcpListener>, String> {
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
        Ok(ip) => TcpListener::bind(SocketAddr::new(ip, cfg.port))
            .await
            .map_err(|e| e.to_string())?,
        Err(_) => TcpListener::bind((addr, cfg.port))
            .await
            .map_err(|e| e.to_string())?,
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
pub(super) async fn serve(shared: Arc<Shared>, listeners: Vec<TcpListener>) {
    let mut shutdown = shared.shutdown.clone();
    let tasks = TaskTracker::default();
    tasks.spawn(ticker(shared.clone()));
    tasks.spawn(watcher(shared.clone()));
    for l in listeners {
        tasks.spawn(accept_loop(shared.clone(), l, tasks.clone()));
    }
    let _ = shutdown.changed().await;
    // Every session sends `shutdown` and closes with 1012 on its own.
    tasks.wait(Duration::from_secs(3)).await;
    shared.emit(GatewayEvent::Stopped);
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, tasks: TaskTracker) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            acc = listener.accept() => {
                let Ok((tcp, peer)) = acc else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                if shared.open_sockets.load(Ordering::Relaxed) >= shared.cfg.max_connections {
                    drop(tcp);
                    continue;
                }
                // Addresses far over their failure budget are dropped unread.
                let ip = canonical_ip(peer.ip());
                if shared.locked_out(ip).is_some()
                    && failures_of(&shared, ip)
                        >= 2 * shared.cfg.max_failed_handshakes_per_minute as usize
                {
                    drop(tcp);
                    continue;
                }
                let _ = tcp.set_nodelay(true);
                let s = shared.clone();
                s.open_sockets.fetch_add(1, Ordering::Relaxed);
                tasks.spawn(async move {
                    handle_socket(s.clone(), tcp, peer).await;
                    s.open_sockets.fetch_sub(1, Ordering::Relaxed);
                });
            }
        }
    }
}

async fn ticker(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let period = Duration::from_millis(shared.cfg.tick_interval_ms.max(10));
    let mut iv = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = iv.tick() => {
                shared.broadcast("tick", json!({"ts": now()}), false);
                prune_limits(&shared);
            }
        }
    }
}
