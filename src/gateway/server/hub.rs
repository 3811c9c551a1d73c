//! Cross-connection state shared by every connection task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;
use tokio::sync::{mpsc, watch};

use super::limits::Limits;
use super::worker::StoreWorker;
use crate::clock;
use crate::devices::DeviceStore;
use crate::gateway::frames;
use crate::gateway::{GatewayConfig, GatewayEvent, Presence};
use crate::paths::Paths;

/// Something to send on one connection.
pub(super) enum Out {
    Text(String),
}

pub(super) struct ConnEntry {
    pub(super) tx: mpsc::Sender<Out>,
    /// Receives pairing events (operator with `operator.pairing` or admin).
    pub(super) pairing_events: bool,
}

pub(crate) struct Shared {
    pub(super) cfg: GatewayConfig,
    pub(super) paths: Paths,
    pub(super) store: DeviceStore,
    pub(super) worker: StoreWorker,
    pub(super) events: mpsc::UnboundedSender<GatewayEvent>,
    pub(super) conns: Mutex<HashMap<u64, ConnEntry>>,
    pub(super) seq: AtomicU64,
    pub(super) next_conn: AtomicU64,
    pub(super) open_sockets: AtomicUsize,
    pub(super) presence: Mutex<HashMap<String, Presence>>,
    pub(super) limits: Mutex<Limits>,
    /// Pending requests this gateway knows of: requestId -> (deviceId, ts).
    pub(super) known_pending: Arc<Mutex<HashMap<String, (String, i64)>>>,
    pub(super) started: Instant,
    pub(super) shutdown: watch::Receiver<bool>,
    pub(super) shutdown_seq: std::sync::OnceLock<u64>,
    pub(super) announced: Mutex<HashMap<String, Instant>>,
}

pub(super) fn now() -> i64 {
    clock::now_ms()
}

impl Shared {
    pub(super) fn emit(&self, e: GatewayEvent) {
        let _ = self.events.send(e);
    }

    /// Sends a broadcast event with the next `seq`; pairing events only to
    /// connections entitled to them.
    pub(super) fn broadcast(&self, name: &str, payload: Value, pairing_only: bool) {
        let conns = lock(&self.conns);
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let text = frames::event(name, payload, Some(seq));
        for c in conns.values() {
            if pairing_only && !c.pairing_events {
                continue;
            }
            let _ = c.tx.try_send(Out::Text(text.clone()));
        }
    }

    pub(crate) fn presence_list(&self) -> Vec<Presence> {
        let mut v: Vec<Presence> = lock(&self.presence).values().cloned().collect();
        v.sort_by_key(|p| std::cmp::Reverse(p.last_seen_ms));
        v
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
pub(crate) fn new_shared(
    cfg: GatewayConfig,
    paths: Paths,
    events: mpsc::UnboundedSender<GatewayEvent>,
    shutdown: watch::Receiver<bool>,
) -> Arc<Shared> {
    let store = DeviceStore::new(paths.devices_dir.clone());
    let worker = StoreWorker::start(store.clone(), now);
    let known: HashMap<String, (String, i64)> = store
        .load(now())
        .map(|st| {
            st.pending
                .iter()
                .map(|p| (p.request_id.clone(), (p.device_id.clone(), p.ts)))
                .collect()
        })
        .unwrap_or_default();
    Arc::new(Shared {
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
        limits: Mutex::new(Limits::default()),
        known_pending: Arc::new(Mutex::new(known)),
        started: Instant::now(),
        shutdown,
        shutdown_seq: std::sync::OnceLock::new(),
        announced: Mutex::new(HashMap::new()),
    })
}
