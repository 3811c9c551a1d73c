//! Decisions made elsewhere (another process, the console) and here, announced
//! once as `device.pair.resolved` (spec §8).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::hub::{Audience, Hub, KnownPending};
use crate::devices::payload;
use crate::devices::{DeviceState, PENDING_TTL_MS};
use crate::gateway::setup;
use crate::gateway::{Decision, GatewayEvent};

/// Notices decisions made elsewhere (another process, the console) and sends
/// `device.pair.resolved` for them.
pub(super) async fn watcher(hub: Arc<Hub>) {
    let mut shutdown = hub.shutdown_signal();
    let period = Duration::from_millis(hub.cfg.watch_interval_ms.max(50));
    let mut iv = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = iv.tick() => {}
        }
        // Read through the writer thread so the known-request map and the
        // files are always seen in the same order.
        let known = hub.known_pending();
        let Ok((resolved, t)) = hub
            .worker
            .run(move |st, t| (notice_changes(&known, st, t), t))
            .await
        else {
            continue;
        };
        for (rid, device_id, decision) in resolved {
            announce_resolved(&hub, &rid, &device_id, decision, t).await;
        }
    }
}

/// Requests resolved since the last look: (request id, device id, decision).
type Resolved = Vec<(String, String, Decision)>;

/// Known requests gone from `state`: approved when their device was paired
/// since, rejected when they vanished before expiring (expired ones are not
/// announced). Then learns the requests `state` holds.
fn notice_changes(known: &KnownPending, state: &DeviceState, t: i64) -> Resolved {
    let current: HashSet<&str> = state
        .pending
        .iter()
        .map(|p| p.request_id.as_str())
        .collect();
    let mut resolved: Resolved = Vec::new();
    for (rid, device_id, ts) in known.take_gone(&current) {
        let approved = state
            .paired_by_id(&device_id)
            .is_some_and(|d| d.approved_at_ms >= ts);
        if approved {
            resolved.push((rid, device_id, Decision::Approved));
        } else if t - ts <= PENDING_TTL_MS {
            resolved.push((rid, device_id, Decision::Rejected));
        }
    }
    known.learn(&state.pending);
    resolved
}

/// Follows up a decision: a rejection voids the setup token that created the
/// request; then `device.pair.resolved` goes to pairing operators and is
/// reported, once per request.
pub(super) async fn announce_resolved(
    hub: &Hub,
    rid: &str,
    device_id: &str,
    decision: Decision,
    t: i64,
) {
    if matches!(decision, Decision::Rejected) {
        let (paths, r) = (hub.paths.clone(), rid.to_string());
        let _ =
            tokio::task::spawn_blocking(move || setup::void_for_request(&paths, &r, "rejected", t))
                .await;
    }
    // A request is resolved once; never announce it twice.
    if !hub.first_announcement(rid) {
        return;
    }
    hub.broadcast(
        "device.pair.resolved",
        payload::resolved_payload(rid, device_id, matches!(decision, Decision::Approved), t),
        Audience::Pairing,
    );
    hub.emit(GatewayEvent::DevicePairResolved {
        request_id: rid.to_string(),
        device_id: device_id.to_string(),
        decision,
    });
}
