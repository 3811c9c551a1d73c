//! The one owner of cross-connection state: open connections and the event
//! sequence, presence, per-address limits, the pending requests this gateway
//! knows of, and what was already announced. Every other file reaches it
//! through the named methods below; only this file takes its locks.
//!
//! Lock order: `limits` before `known_pending` (see [`Hub::may_create_pending`]
//! and [`Hub::prune_limits`]); no other two of these locks are ever held together.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, watch, Notify};

use super::limits::{Admit, Limits};
use super::worker::StoreWorker;
use crate::clock;
use crate::devices::{DeviceState, DeviceStore, PairedDevice, PendingRequest};
use crate::gateway::frames;
use crate::gateway::{GatewayConfig, GatewayEvent, Presence};
use crate::paths::Paths;

/// The clock every part of the server reads (ms since the epoch).
pub(super) fn now() -> i64 {
    clock::now_ms()
}

/// Locks `m`, recovering from a poisoned lock (state stays usable after a panic).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Who a broadcast event goes to.
#[derive(Debug, Clone, Copy)]
pub(super) enum Audience {
    /// Every connection (`tick`).
    All,
    /// Operators entitled to pairing events (`operator.pairing` or `operator.admin`).
    Pairing,
}

/// Key of a registered connection.
pub(super) type ConnId = u64;

/// A registered connection: where its broadcast events go.
pub(super) struct ConnEntry {
    /// Frames to send; a full queue drops broadcast events (slow consumer).
    pub(super) tx: mpsc::Sender<String>,
    /// Receives pairing events (operator with `operator.pairing` or admin).
    pub(super) pairing_events: bool,
    /// The paired device and the token it holds, when it presented one.
    pub(super) device: Option<DeviceSession>,
    /// Wakes the connection to close it (its device was removed or its
    /// token revoked or rotated).
    pub(super) kick: Arc<Notify>,
}

/// The device behind a connection, as its handshake found it.
pub(super) struct DeviceSession {
    pub(super) device_id: String,
    pub(super) role: String,
    /// SHA-256 of the device token the connection was given.
    pub(super) token_digest: [u8; 32],
}

impl DeviceSession {
    /// Whether `device` (the device's current record, `None` when removed)
    /// still admits this connection: paired, its token for the role live and
    /// the very one the connection holds.
    fn still_valid(&self, device: Option<&PairedDevice>) -> bool {
        device.and_then(|d| d.token(&self.role)).is_some_and(|t| {
            t.revoked_at_ms.is_none()
                && crate::secret::digests_equal(
                    &super::hello::token_digest(&t.token),
                    &self.token_digest,
                )
        })
    }
}

/// Pending requests this gateway knows of: request id → (device id, `ts`).
/// Changed only by jobs on the devices writer thread, so the map and the files
/// are always seen in the same order.
pub(super) struct KnownPending {
    map: Mutex<HashMap<String, (String, i64)>>,
}

impl KnownPending {
    fn of(pending: &[PendingRequest]) -> Self {
        let known = KnownPending {
            map: Mutex::new(HashMap::new()),
        };
        known.learn(pending);
        known
    }

    /// Remembers a request this gateway just created or refreshed.
    pub(super) fn insert(&self, request_id: String, device_id: String, ts: i64) {
        lock(&self.map).insert(request_id, (device_id, ts));
    }

    /// Forgets a request decided here.
    pub(super) fn remove(&self, request_id: &str) {
        lock(&self.map).remove(request_id);
    }

    /// Takes out every known request missing from `current`: (id, device id, `ts`).
    pub(super) fn take_gone(&self, current: &HashSet<&str>) -> Vec<(String, String, i64)> {
        let mut known = lock(&self.map);
        let gone: Vec<String> = known
            .keys()
            .filter(|k| !current.contains(k.as_str()))
            .cloned()
            .collect();
        gone.into_iter()
            .filter_map(|rid| known.remove(&rid).map(|(d, ts)| (rid, d, ts)))
            .collect()
    }

    /// Remembers every request of `pending` not known yet.
    pub(super) fn learn(&self, pending: &[PendingRequest]) {
        let mut known = lock(&self.map);
        for p in pending {
            known
                .entry(p.request_id.clone())
                .or_insert_with(|| (p.device_id.clone(), p.ts));
        }
    }
}

/// Cross-connection state of one running gateway.
pub(crate) struct Hub {
    pub(super) cfg: GatewayConfig,
    pub(super) paths: Paths,
    pub(super) store: DeviceStore,
    /// The single writer of `devices/`.
    pub(super) worker: StoreWorker,
    events: mpsc::UnboundedSender<GatewayEvent>,
    conns: Mutex<HashMap<ConnId, ConnEntry>>,
    /// Last `seq` given to a broadcast event.
    seq: AtomicU64,
    next_conn: AtomicU64,
    open_sockets: AtomicUsize,
    presence: Mutex<HashMap<String, Presence>>,
    limits: Mutex<Limits>,
    known_pending: Arc<KnownPending>,
    started: Instant,
    shutdown: watch::Receiver<bool>,
    /// The one `seq` every connection's `shutdown` event carries.
    shutdown_seq: OnceLock<u64>,
    /// Requests already announced as resolved, and when.
    announced: Mutex<HashMap<String, Instant>>,
    /// Asks the watcher to look at `devices/` now.
    recheck: Notify,
    /// Counts the revocation checks of this gateway's own writes (a
    /// connection admitted across one is checked again at registration).
    revocation_epoch: AtomicU64,
}

impl Hub {
    pub(crate) fn new(
        cfg: GatewayConfig,
        paths: Paths,
        events: mpsc::UnboundedSender<GatewayEvent>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Hub> {
        let store = DeviceStore::new(paths.devices_dir.clone());
        let worker = StoreWorker::start(store.clone(), now);
        let known = store
            .load(now())
            .map(|st| KnownPending::of(&st.pending))
            .unwrap_or_else(|_| KnownPending::of(&[]));
        let limits = Limits::new(&cfg);
        Arc::new(Hub {
            cfg,
            paths,
            store,
            worker,
            events,
            conns: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
            next_conn: AtomicU64::new(1),
            open_sockets: AtomicUsize::new(0),
            presence: Mutex::new(HashMap::new()),
            limits: Mutex::new(limits),
            known_pending: Arc::new(known),
            started: Instant::now(),
            shutdown,
            shutdown_seq: OnceLock::new(),
            announced: Mutex::new(HashMap::new()),
            recheck: Notify::new(),
            revocation_epoch: AtomicU64::new(0),
        })
    }

    /// Reports `e` to whoever runs the gateway.
    pub(super) fn emit(&self, e: GatewayEvent) {
        let _ = self.events.send(e);
    }

    /// A receiver that changes once when the gateway is asked to stop.
    pub(super) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.clone()
    }

    /// Milliseconds since the gateway started.
    pub(super) fn uptime_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    // Connections and events.

    /// Registers a connection for broadcast events.
    pub(super) fn register(&self, entry: ConnEntry) -> ConnId {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        lock(&self.conns).insert(id, entry);
        id
    }

    pub(super) fn unregister(&self, id: ConnId) {
        lock(&self.conns).remove(&id);
    }

    /// Sends a broadcast event with the next `seq` to `audience`.
    pub(super) fn broadcast(&self, name: &str, payload: Value, audience: Audience) {
        let conns = lock(&self.conns);
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let text = frames::event(name, payload, Some(seq));
        for c in conns.values() {
            if matches!(audience, Audience::Pairing) && !c.pairing_events {
                continue;
            }
            let _ = c.tx.try_send(text.clone());
        }
    }

    /// The current revocation epoch (see [`Hub::stale_after_write`]).
    pub(super) fn revocation_epoch(&self) -> u64 {
        self.revocation_epoch.load(Ordering::SeqCst)
    }

    /// [`Hub::stale_connections`] for a state this gateway just changed: the
    /// epoch moves first, so a connection admitted before the change and
    /// registered after this scan notices it moved.
    pub(super) fn stale_after_write(&self, state: &DeviceState) -> Vec<ConnId> {
        self.revocation_epoch.fetch_add(1, Ordering::SeqCst);
        self.stale_connections(state)
    }

    /// Connections whose device record in `state` no longer admits them:
    /// the device removed, its token for the role revoked, or rotated away.
    pub(super) fn stale_connections(&self, state: &DeviceState) -> Vec<ConnId> {
        let conns = lock(&self.conns);
        if !conns.values().any(|c| c.device.is_some()) {
            return Vec::new();
        }
        let by_id: HashMap<&str, &PairedDevice> = state
            .paired
            .iter()
            .map(|d| (d.device_id.as_str(), d))
            .collect();
        conns
            .iter()
            .filter_map(|(id, c)| {
                let d = c.device.as_ref()?;
                (!d.still_valid(by_id.get(d.device_id.as_str()).copied())).then_some(*id)
            })
            .collect()
    }

    /// Closes these connections (4001 `device removed`, from their own task).
    pub(super) fn kick(&self, ids: &[ConnId]) {
        if ids.is_empty() {
            return;
        }
        let conns = lock(&self.conns);
        for id in ids {
            if let Some(c) = conns.get(id) {
                c.kick.notify_one();
            }
        }
    }

    /// Asks the watcher to re-read `devices/` at once (a change was made in
    /// this process, or the directory changed).
    pub(crate) fn recheck_devices(&self) {
        self.recheck.notify_one();
    }

    /// Resolves when [`Hub::recheck_devices`] was called.
    pub(super) async fn recheck_requested(&self) {
        self.recheck.notified().await;
    }

    /// The `seq` of the `shutdown` event: taken once, the same on every connection.
    pub(super) fn shutdown_seq(&self) -> u64 {
        *self
            .shutdown_seq
            .get_or_init(|| self.seq.fetch_add(1, Ordering::SeqCst) + 1)
    }

    /// `true` the first time `request_id` is announced as resolved, never again.
    pub(super) fn first_announcement(&self, request_id: &str) -> bool {
        let mut seen = lock(&self.announced);
        if seen.len() > 4096 {
            let cutoff = Instant::now() - Duration::from_secs(600);
            seen.retain(|_, at| *at > cutoff);
        }
        seen.insert(request_id.to_string(), Instant::now())
            .is_none()
    }

    // Presence.

    /// A paired device completed its handshake on a new connection.
    pub(super) fn device_connected(
        &self,
        device_id: &str,
        role: &str,
        display_name: Option<String>,
        client_mode: &str,
        remote_addr: &str,
        remote_ip: Option<String>,
    ) {
        let mut p = lock(&self.presence);
        let e = p.entry(device_id.to_string()).or_insert_with(|| Presence {
            device_id: device_id.to_string(),
            role: role.to_string(),
            display_name: None,
            client_mode: String::new(),
            remote_addr: remote_addr.to_string(),
            remote_ip: None,
            connected: true,
            connections: 0,
            last_seen_ms: now(),
        });
        e.role = role.to_string();
        e.display_name = display_name;
        e.client_mode = client_mode.to_string();
        e.remote_addr = remote_addr.to_string();
        e.remote_ip = remote_ip;
        e.connected = true;
        e.connections += 1;
        e.last_seen_ms = now();
    }

    /// A frame arrived from `device_id`.
    pub(super) fn device_seen(&self, device_id: &str) {
        if let Some(e) = lock(&self.presence).get_mut(device_id) {
            e.last_seen_ms = now();
        }
    }

    /// One of `device_id`'s connections closed.
    pub(super) fn device_disconnected(&self, device_id: &str) {
        if let Some(e) = lock(&self.presence).get_mut(device_id) {
            e.connections = e.connections.saturating_sub(1);
            e.connected = e.connections > 0;
            e.last_seen_ms = now();
        }
    }

    /// Connected devices, most recently seen first, at most `max`.
    pub(super) fn live_presence(&self, max: usize) -> Vec<Presence> {
        let p = lock(&self.presence);
        let mut live: Vec<&Presence> = p.values().filter(|e| e.connected).collect();
        live.sort_by_key(|e| std::cmp::Reverse(e.last_seen_ms));
        live.truncate(max);
        live.into_iter().cloned().collect()
    }

    /// Devices seen since start, most recently seen first.
    pub(crate) fn presence_list(&self) -> Vec<Presence> {
        let mut v: Vec<Presence> = lock(&self.presence).values().cloned().collect();
        v.sort_by_key(|p| std::cmp::Reverse(p.last_seen_ms));
        v
    }

    // Sockets and per-address limits.

    /// Whether a socket just accepted from `ip` is dropped unread: all socket
    /// slots taken, or the address locked out and far past answering.
    pub(super) fn refuse_at_accept(&self, ip: IpAddr) -> bool {
        self.open_sockets.load(Ordering::Relaxed) >= self.cfg.max_connections
            || lock(&self.limits).admit(ip, Instant::now()) == Admit::Drop
    }

    /// Counts an accepted socket (until [`Hub::socket_closed`]).
    pub(super) fn socket_opened(&self) {
        self.open_sockets.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn socket_closed(&self) {
        self.open_sockets.fetch_sub(1, Ordering::Relaxed);
    }

    /// Takes one of `ip`'s socket slots (and a handshaking slot until
    /// [`Hub::handshake_over`]); `false` when it has none left.
    pub(super) fn open_addr_socket(&self, ip: IpAddr) -> bool {
        lock(&self.limits).open_socket(ip)
    }

    /// The socket from `ip` sent its first request, or ended without one.
    pub(super) fn handshake_over(&self, ip: IpAddr) {
        lock(&self.limits).handshake_over(ip);
    }

    pub(super) fn close_addr_socket(&self, ip: IpAddr) {
        lock(&self.limits).close_socket(ip);
    }

    /// Counts a failed handshake of `ip`; the lockout it may start is logged
    /// once, not per connection.
    pub(super) fn record_failure(&self, ip: IpAddr) {
        let (started, max) = {
            let mut l = lock(&self.limits);
            (l.record_failure(ip, Instant::now()), l.max_failures())
        };
        if let Some(s) = started {
            tracing::warn!(
                "{ip}: {} failed handshakes within a minute (limit {max}); refusing it for {} s",
                s.failures,
                s.retry_after_ms.div_ceil(1000)
            );
        }
    }

    /// Milliseconds until `ip` may try again, when it is locked out.
    pub(super) fn locked_out(&self, ip: IpAddr) -> Option<u64> {
        lock(&self.limits).locked_out(ip, Instant::now())
    }

    /// Whether `ip` may create another pending request.
    pub(super) fn may_create_pending(&self, ip: IpAddr) -> bool {
        let limits = lock(&self.limits);
        let known = lock(&self.known_pending.map);
        limits.may_create_pending(ip, |id| known.contains_key(id))
    }

    /// Counts the pending request `request_id` against `ip`.
    pub(super) fn note_pending(&self, ip: IpAddr, request_id: String) {
        lock(&self.limits).note_pending(ip, request_id);
    }

    /// Forgets old failures and requests no longer pending (every tick).
    pub(super) fn prune_limits(&self) {
        let mut limits = lock(&self.limits);
        let known = lock(&self.known_pending.map);
        limits.prune(Instant::now(), |id| known.contains_key(id));
    }

    /// The known pending requests, for jobs on the devices writer thread.
    pub(super) fn known_pending(&self) -> Arc<KnownPending> {
        self.known_pending.clone()
    }
}
