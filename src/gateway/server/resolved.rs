//! Decisions made elsewhere (another process, the console) and here, announced
//! once as `device.pair.resolved` (spec §8); and removals, revocations and
//! rotations made elsewhere, whose connections are closed (4001
//! `device removed`, openclaw-2026.9 §8.7).
//!
//! The watcher looks at `devices/` every `watch_interval_ms` (1 s), at once
//! when the directory changes (`notify`, so a `clawpair devices revoke` in
//! another process bites within tens of milliseconds), and when this process
//! asks (the console's own actions, a new device session).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use notify::Watcher;

use super::hub::{Audience, Hub, KnownPending};
use crate::devices::payload;
use crate::devices::{DeviceState, PENDING_TTL_MS};
use crate::gateway::setup;
use crate::gateway::{Decision, GatewayEvent};

/// A burst of change notices (an atomic write is several) is read once, this
/// long after the first.
const RECHECK_DEBOUNCE_MS: u64 = 10;
/// Looks asked for are at least this far apart (the gateway's own writes
/// notify too; under load they come in bursts).
const RECHECK_SPACING_MS: u64 = 40;

/// Notices decisions made elsewhere (another process, the console) and sends
/// `device.pair.resolved` for them; closes the connections the files no
/// longer admit.
pub(super) async fn watcher(hub: Arc<Hub>) {
    let mut shutdown = hub.shutdown_signal();
    let period = Duration::from_millis(hub.cfg.watch_interval_ms.max(50));
    let mut iv = tokio::time::interval(period);
    let mut dir_watch: Option<notify::RecommendedWatcher> = None;
    let mut last = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = iv.tick() => {}
            _ = hub.recheck_requested() => {
                let spaced = last + Duration::from_millis(RECHECK_SPACING_MS);
                let soon = tokio::time::Instant::now() + Duration::from_millis(RECHECK_DEBOUNCE_MS);
                tokio::time::sleep_until(spaced.max(soon)).await;
            }
        }
        last = tokio::time::Instant::now();
        if dir_watch.is_none() {
            // `devices/` may not exist yet; try again on every look.
            dir_watch = watch_devices_dir(&hub);
        }
        // Read through the writer thread so the known-request map and the
        // files are always seen in the same order.
        let known = hub.known_pending();
        let h = hub.clone();
        let Ok((resolved, stale, t)) = hub
            .worker
            .run(move |st, t| (notice_changes(&known, st, t), h.stale_connections(st), t))
            .await
        else {
            continue;
        };
        hub.kick(&stale);
        for (rid, device_id, decision) in resolved {
            announce_resolved(&hub, &rid, &device_id, decision, t).await;
        }
    }
}

/// Watches `devices/` for changes of `paired.json` and `pending.json`;
/// `None` while the directory does not exist (or watching is impossible:
/// the 1 s look still runs).
fn watch_devices_dir(hub: &Arc<Hub>) -> Option<notify::RecommendedWatcher> {
    let dir = hub.paths.devices_dir.clone();
    if !dir.is_dir() {
        return None;
    }
    let weak = Arc::downgrade(hub);
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        if starts_a_look(&ev) {
            if let Some(h) = weak.upgrade() {
                h.recheck_devices();
            }
        }
    })
    .ok()?;
    w.watch(&dir, notify::RecursiveMode::NonRecursive).ok()?;
    Some(w)
}

/// A change of `paired.json` or `pending.json`. Not an access: the look
/// itself opens and reads them, and an access event starting the next look
/// would loop (measured: ~25 looks a second and 4.8 % of a core, idle).
fn starts_a_look(ev: &notify::Event) -> bool {
    !matches!(ev.kind, notify::EventKind::Access(_))
        && ev.paths.iter().any(|p| {
            p.file_name()
                .is_some_and(|n| n == "paired.json" || n == "pending.json")
        })
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

#[cfg(test)]
mod tests {
    use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind};
    use notify::{Event, EventKind};

    #[test]
    fn only_changes_of_the_two_files_start_a_look() {
        let at = |kind: EventKind, name: &str| {
            Event::new(kind).add_path(std::path::PathBuf::from("/s/devices").join(name))
        };
        let modify = EventKind::Modify(ModifyKind::Any);
        assert!(super::starts_a_look(&at(modify, "paired.json")));
        assert!(super::starts_a_look(&at(
            EventKind::Create(CreateKind::File),
            "pending.json"
        )));
        // Its own reads, and the lock file it takes, do not.
        for access in [
            AccessKind::Open(AccessMode::Read),
            AccessKind::Read,
            AccessKind::Close(AccessMode::Read),
        ] {
            assert!(!super::starts_a_look(&at(
                EventKind::Access(access),
                "pending.json"
            )));
        }
        assert!(!super::starts_a_look(&at(modify, "pending.json.lock")));
    }
}
