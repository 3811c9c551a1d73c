//! Decisions made elsewhere (another process, the console) and here, announced
//! once as `device.pair.resolved` (spec §8).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::hub::{lock, Shared};
use crate::devices::payload;
use crate::devices::{DeviceState, PENDING_TTL_MS};
use crate::gateway::setup;
use crate::gateway::GatewayEvent;

/// Notices decisions made elsewhere (another process, the console) and sends
/// `device.pair.resolved` for them.
pub(super) async fn watcher(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let period = Duration::from_millis(shared.cfg.watch_interval_ms.max(50));
    let mut iv = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = iv.tick() => {}
        }
        // Read through the writer thread so the known-request map and the
        // files are always seen in the same order.
        let known = shared.known_pending.clone();
        let Ok((resolved, t)) = shared
            .worker
            .run(move |st, t| (notice_changes(&known, st, t), t))
            .await
        else {
            continue;
        };
        for (rid, device_id, decision) in resolved {
            if decision == "rejected" {
                let (paths, r) = (shared.paths.clone(), rid.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    setup::void_for_request(&paths, &r, "rejected", t)
                })
                .await;
            }
            announce_resolved(&shared, &rid, &device_id, decision, t);
        }
    }
}

pub(super) type Resolved = Vec<(String, String, &'static str)>;

pub(super) fn notice_changes(
    known: &Mutex<HashMap<String, (String, i64)>>,
    state: &DeviceState,
    t: i64,
) -> Resolved {
    let mut resolved: Resolved = Vec::new();
    let mut known = lock(known);
    let current: HashSet<&str> = state
        .pending
        .iter()
        .map(|p| p.request_id.as_str())
        .collect();
    let gone: Vec<String> = known
        .keys()
        .filter(|k| !current.contains(k.as_str()))
        .cloned()
        .collect();
    for rid in gone {
        let Some((device_id, ts)) = known.remove(&rid) else {
            continue;
        };
        let approved = state
            .paired_by_id(&device_id)
            .is_some_and(|d| d.approved_at_ms >= ts);
        if approved {
            resolved.push((rid, device_id, "approved"));
        } else if t - ts <= PENDING_TTL_MS {
            resolved.push((rid, device_id, "rejected"));
        }
    }
    for p in &state.pending {
        known
            .entry(p.request_id.clone())
            .or_insert_with(|| (p.device_id.clone(), p.ts));
    }
    resolved
}

pub(super) fn announce_resolved(
    shared: &Shared,
    rid: &str,
    device_id: &str,
    decision: &str,
    t: i64,
) {
    {
        // A request is resolved once; never announce it twice.
        let mut seen = lock(&shared.announced);
        if seen.len() > 4096 {
            let cutoff = Instant::now() - Duration::from_secs(600);
            seen.retain(|_, at| *at > cutoff);
        }
        if seen.insert(rid.to_string(), Instant::now()).is_some() {
            return;
        }
    }
    shared.broadcast(
        "device.pair.resolved",
        payload::resolved_payload(rid, device_id, decision == "approved", t),
        true,
    );
    shared.emit(GatewayEvent::DevicePairResolved {
        request_id: rid.to_string(),
        device_id: device_id.to_string(),
        decision: decision.to_string(),
    });
}
