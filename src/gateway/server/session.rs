//! A connected client: its outbound queue, broadcast fan-out (spec §8),
//! requests, ticks and shutdown.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::hello::Session;
use super::hub::{lock, now, ConnEntry, Out, Shared};
use super::rpc::handle_rpc;
use super::wire::{close, close_on_error, send_text, text_of, ConnCtx, Incoming, Sink, Stream};
use crate::gateway::frames;
use crate::gateway::setup;
use crate::gateway::{GatewayEvent, Presence};

/// Outbound queue per connection; a full queue drops broadcast events (slow consumer).
pub(super) const OUT_QUEUE: usize = 64;

pub(super) async fn run_session(
    shared: &Arc<Shared>,
    mut sink: Sink,
    mut stream: Stream,
    connect_id: String,
    mut session: Session,
    ctx: ConnCtx,
) {
    let conn_no = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<Out>(OUT_QUEUE);
    let pairing_events = session.role == "operator"
        && session
            .scopes
            .iter()
            .any(|s| s == "operator.pairing" || s == "operator.admin");
    // Register before answering so no broadcast between hello-ok and registration is lost.
    lock(&shared.conns).insert(
        conn_no,
        ConnEntry {
            tx: tx.clone(),
            pairing_events,
        },
    );
    let hello = frames::res_ok(&connect_id, std::mem::take(&mut session.hello));
    let sent = send_text(&mut sink, hello).await;
    if let (true, Some(t), Some(d)) = (sent, &session.setup_token_used, &session.device_id) {
        let (paths, d, _t) = (shared.paths.clone(), d.clone(), t.clone());
        let _ = tokio::task::spawn_blocking(move || {
            setup::void_for_device(&paths, &d, "paired", now())
        })
        .await;
    }
    let remote = ctx.peer.to_string();
    if let Some(d) = &session.device_id {
        let mut p = lock(&shared.presence);
        let e = p.entry(d.clone()).or_insert_with(|| Presence {
            device_id: d.clone(),
            role: session.role.clone(),
            display_name: None,
            client_mode: String::new(),
            remote_addr: remote.clone(),
            remote_ip: None,
            connected: true,
            connections: 0,
            last_seen_ms: now(),
        });
        e.role = session.role.clone();
        e.display_name = session.display_name.clone();
        e.client_mode = session.client_mode.clone();
        e.remote_addr = remote.clone();
        e.remote_ip = (!ctx.local).then(|| ctx.ip.to_string());
        e.connected = true;
        e.connections += 1;
        e.last_seen_ms = now();
        drop(p);
        shared.emit(GatewayEvent::DeviceConnected {
            device_id: d.clone(),
            role: session.role.clone(),
            remote_addr: remote.clone(),
        });
    }
    let mut shutdown = shared.shutdown.clone();
    let mut unauthorized_role_calls = 0u32;
    if sent {
        loop {
            tokio::select! {
                out = rx.recv() => match out {
                    Some(Out::Text(t)) => {
                        if !send_text(&mut sink, t).await { break; }
                    }
                    None => break,
                },
                _ = shutdown.changed() => {
                    // Drain what is queued (the shutdown event), then close.
                    while let Ok(Out::Text(t)) = rx.try_recv() {
                        let _ = send_text(&mut sink, t).await;
                    }
                    let seq = *shared
                        .shutdown_seq
                        .get_or_init(|| shared.seq.fetch_add(1, Ordering::SeqCst) + 1);
                    let ev = frames::event("shutdown", json!({"reason": "gateway stopping"}), Some(seq));
                    let _ = send_text(&mut sink, ev).await;
                    close(&mut sink, 1012, "service restart").await;
                    break;
                }
                msg = stream.next() => {
                    let msg = match msg {
                        None => break,
                        Some(Err(e)) => { close_on_error(&mut sink, &e).await; break; }
                        Some(Ok(m)) => m,
                    };
                    if let Some(d) = &session.device_id {
                        if let Some(e) = lock(&shared.presence).get_mut(d) { e.last_seen_ms = now(); }
                    }
                    let text = match text_of(msg) {
                        Incoming::Text(t) => t,
                        Incoming::Skip => continue,
                        Incoming::Closed => break,
                        Incoming::NotText => { close(&mut sink, 1003, "unsupported data").await; break; }
                    };
                    let (id, reply) = handle_rpc(shared, &session, &text).await;
                    // Events the call caused (device.pair.resolved) go out before its response.
                    while let Ok(Out::Text(t)) = rx.try_recv() {
                        let _ = send_text(&mut sink, t).await;
                    }
                    if let Some(e) = &reply.err {
                        if e.message.starts_with("unauthorized role") {
                            unauthorized_role_calls += 1;
                        } else {
                            unauthorized_role_calls = 0;
                        }
                    } else {
                        unauthorized_role_calls = 0;
                    }
                    let frame = match reply.err {
                        Some(e) => frames::res_err(&id, &e),
                        None => frames::res_ok(&id, reply.ok.unwrap_or(Value::Null)),
                    };
                    if !send_text(&mut sink, frame).await { break; }
                    if unauthorized_role_calls > 10 {
                        close(&mut sink, 1008, "repeated unauthorized calls").await;
                        break;
                    }
                }
            }
        }
    }
    lock(&shared.conns).remove(&conn_no);
    if let Some(d) = &session.device_id {
        let mut p = lock(&shared.presence);
        if let Some(e) = p.get_mut(d) {
            e.connections = e.connections.saturating_sub(1);
            e.connected = e.connections > 0;
            e.last_seen_ms = now();
        }
        drop(p);
        shared.emit(GatewayEvent::DeviceDisconnected {
            device_id: d.clone(),
        });
    }
}
