//! A connected client: its outbound queue, broadcast fan-out (spec §8),
//! requests, ticks and shutdown.

use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::{mpsc, Notify};

use super::hello::Session;
use super::hub::{now, ConnEntry, DeviceSession, Hub};
use super::rpc::{handle_rpc, Denied, Reply};
use super::wire::{close, close_on_error, send_text, text_of, Incoming, Peer, Sink, Stream};
use crate::gateway::frames;
use crate::gateway::setup;
use crate::gateway::GatewayEvent;

/// Outbound queue per connection; a full queue drops broadcast events (slow consumer).
const OUT_QUEUE: usize = 64;
/// Consecutive calls refused for the role after which the connection is closed.
const MAX_UNAUTHORIZED_ROLE_CALLS: u32 = 10;
/// The close of a connection whose device was removed or whose token was
/// revoked or rotated (2026.9.6's code and reason for all three).
pub(super) const DEVICE_REMOVED: (u16, &str) = (4001, "device removed");

/// Runs a connection whose `connect` succeeded: registers it for broadcasts,
/// sends `hello-ok`, keeps presence, serves requests until either side closes.
pub(super) async fn run_session(
    hub: &Arc<Hub>,
    mut sink: Sink,
    mut stream: Stream,
    connect_id: String,
    mut session: Session,
    peer: Peer,
) {
    let (tx, rx) = mpsc::channel::<String>(OUT_QUEUE);
    let pairing_events = session.role == "operator"
        && session
            .scopes
            .iter()
            .any(|s| s == "operator.pairing" || s == "operator.admin");
    let kick = std::sync::Arc::new(Notify::new());
    let device = match (&session.device_id, session.token_digest) {
        (Some(d), Some(digest)) => Some(DeviceSession {
            device_id: d.clone(),
            role: session.role.clone(),
            token_digest: digest,
        }),
        _ => None,
    };
    // Register before answering so no broadcast between hello-ok and registration is lost.
    let conn = hub.register(ConnEntry {
        tx: tx.clone(),
        pairing_events,
        device,
        kick: kick.clone(),
    });
    let hello = frames::res_ok(&connect_id, std::mem::take(&mut session.hello));
    let sent = send_text(&mut sink, hello).await;
    if let (true, Some(_), Some(d)) = (sent, &session.setup_token_used, &session.device_id) {
        let (paths, d) = (hub.paths.clone(), d.clone());
        let _ = tokio::task::spawn_blocking(move || {
            setup::void_for_device(&paths, &d, "paired", now())
        })
        .await;
    }
    let remote = peer.addr.to_string();
    if let Some(d) = &session.device_id {
        hub.device_connected(
            d,
            &session.role,
            session.display_name.clone(),
            &session.client_mode,
            &remote,
            (!peer.local).then(|| peer.ip.to_string()),
        );
        hub.emit(GatewayEvent::DeviceConnected {
            device_id: d.clone(),
            role: session.role.clone(),
            remote_addr: remote.clone(),
        });
    }
    let mut kicked = false;
    if sent {
        // A revocation made here between the pairing decision and the
        // registration did not see this connection: look again now.
        if session.device_id.is_some() && hub.revocation_epoch() != session.epoch {
            hub.recheck_devices();
        }
        kicked = serve(hub, &mut sink, &mut stream, rx, &session, &kick).await;
    }
    hub.unregister(conn);
    // The socket closes when `sink` and `stream` drop, after this.
    if let (true, Some(d)) = (kicked, &session.device_id) {
        hub.emit(GatewayEvent::DeviceClosed {
            device_id: d.clone(),
            role: session.role.clone(),
            code: DEVICE_REMOVED.0,
            reason: DEVICE_REMOVED.1.to_string(),
        });
    }
    if let Some(d) = &session.device_id {
        hub.device_disconnected(d);
        hub.emit(GatewayEvent::DeviceDisconnected {
            device_id: d.clone(),
        });
    }
}

/// Sends what is queued for the connection, answers its requests, ends with
/// `shutdown` + 1012 when the gateway stops. `true` when it was closed
/// because its device no longer admits it.
async fn serve(
    hub: &Arc<Hub>,
    sink: &mut Sink,
    stream: &mut Stream,
    mut rx: mpsc::Receiver<String>,
    session: &Session,
    kick: &Notify,
) -> bool {
    let mut shutdown = hub.shutdown_signal();
    let mut unauthorized_role_calls = 0u32;
    loop {
        tokio::select! {
            _ = kick.notified() => {
                // What was queued before (the response that caused this) goes first.
                while let Ok(t) = rx.try_recv() {
                    let _ = send_text(sink, t).await;
                }
                close(sink, DEVICE_REMOVED.0, DEVICE_REMOVED.1).await;
                return true;
            }
            out = rx.recv() => match out {
                Some(t) => {
                    if !send_text(sink, t).await { break; }
                }
                None => break,
            },
            _ = shutdown.changed() => {
                // Drain what is queued (the shutdown event), then close.
                while let Ok(t) = rx.try_recv() {
                    let _ = send_text(sink, t).await;
                }
                let seq = hub.shutdown_seq();
                let ev = frames::event("shutdown", json!({"reason": "gateway stopping"}), Some(seq));
                let _ = send_text(sink, ev).await;
                close(sink, 1012, "service restart").await;
                break;
            }
            msg = stream.next() => {
                let msg = match msg {
                    None => break,
                    Some(Err(e)) => { close_on_error(sink, &e).await; break; }
                    Some(Ok(m)) => m,
                };
                if let Some(d) = &session.device_id {
                    hub.device_seen(d);
                }
                let text = match text_of(msg) {
                    Incoming::Text(t) => t,
                    Incoming::Skip => continue,
                    Incoming::Closed => break,
                    Incoming::NotText => { close(sink, 1003, "unsupported data").await; break; }
                };
                let (id, reply) = handle_rpc(hub, session, &text).await;
                // Events the call caused (device.pair.resolved) go out before its response.
                while let Ok(t) = rx.try_recv() {
                    let _ = send_text(sink, t).await;
                }
                if matches!(reply, Reply::Denied(Denied::Role(_))) {
                    unauthorized_role_calls += 1;
                } else {
                    unauthorized_role_calls = 0;
                }
                let frame = reply.frame(&id);
                if !send_text(sink, frame).await { break; }
                if unauthorized_role_calls > MAX_UNAUTHORIZED_ROLE_CALLS {
                    close(sink, 1008, "repeated unauthorized calls").await;
                    break;
                }
            }
        }
    }
    false
}
