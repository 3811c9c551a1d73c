//! The WebSocket server: handshake (spec gateway-protocol §3), pairing during
//! connect (§4), `hello-ok` (§5), authorisation (§6), pairing RPCs (§7) and
//! events (§8), ticks, clean shutdown, presence, limits.

// Error answers are built once per failed request; their size does not matter.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::handshake::server::{
    Request as HsRequest, Response as HsResponse,
};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::crypto;
use super::frames::{self, ConnectParams, ErrorShape, FrameError, Request};
use super::setup::{self, SetupVerdict};
use super::worker::StoreWorker;
use super::{GatewayConfig, GatewayEvent, Presence};
use crate::clock;
use crate::devices::payload;
use crate::devices::store::RequestInput;
use crate::devices::{
    ConnectClaim, ConnectMeta, DeviceState, DeviceStore, PairingReason, TokenFailure,
    PENDING_TTL_MS,
};
use crate::error::StoreError;
use crate::paths::Paths;

type Ws = WebSocketStream<TcpStream>;
type Sink = SplitSink<Ws, Message>;
type Stream = SplitStream<Ws>;

/// Methods this gateway implements (advertised in `hello-ok.features.methods`).
pub const METHODS: &[&str] = &[
    "health",
    "device.pair.list",
    "device.pair.approve",
    "device.pair.reject",
    "device.pair.remove",
    "device.token.rotate",
    "device.token.revoke",
    "node.invoke.result",
    "node.event",
    "skills.bins",
];
/// Events this gateway may send.
pub const EVENTS: &[&str] = &[
    "connect.challenge",
    "tick",
    "shutdown",
    "device.pair.requested",
    "device.pair.resolved",
];
const PAIRING_METHODS: &[&str] = &[
    "device.pair.list",
    "device.pair.approve",
    "device.pair.reject",
    "device.pair.remove",
    "device.token.rotate",
    "device.token.revoke",
    "node.pair.request",
    "node.pair.list",
    "node.pair.approve",
    "node.pair.reject",
    "node.pair.verify",
    "node.rename",
];
const NODE_METHODS: &[&str] = &["node.invoke.result", "node.event", "skills.bins"];
/// Outbound queue per connection; a full queue drops broadcast events (slow consumer).
const OUT_QUEUE: usize = 64;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Most presence entries sent in a `hello-ok` snapshot.
const PRESENCE_IN_HELLO: usize = 32;

/// Something to send on one connection.
enum Out {
    Text(String),
}

struct ConnEntry {
    tx: mpsc::Sender<Out>,
    /// Receives pairing events (operator with `operator.pairing` or admin).
    pairing_events: bool,
}

#[derive(Default)]
struct Limits {
    failures: HashMap<IpAddr, VecDeque<Instant>>,
    pending_by_ip: HashMap<IpAddr, HashSet<String>>,
    sockets_by_ip: HashMap<IpAddr, usize>,
}

pub(crate) struct Shared {
    cfg: GatewayConfig,
    paths: Paths,
    store: DeviceStore,
    worker: StoreWorker,
    events: mpsc::UnboundedSender<GatewayEvent>,
    conns: Mutex<HashMap<u64, ConnEntry>>,
    seq: AtomicU64,
    next_conn: AtomicU64,
    open_sockets: AtomicUsize,
    presence: Mutex<HashMap<String, Presence>>,
    limits: Mutex<Limits>,
    /// Pending requests this gateway knows of: requestId -> (deviceId, ts).
    known_pending: Arc<Mutex<HashMap<String, (String, i64)>>>,
    started: Instant,
    shutdown: watch::Receiver<bool>,
    shutdown_seq: std::sync::OnceLock<u64>,
    announced: Mutex<HashMap<String, Instant>>,
}

fn now() -> i64 {
    clock::now_ms()
}

impl Shared {
    fn emit(&self, e: GatewayEvent) {
        let _ = self.events.send(e);
    }

    /// Sends a broadcast event with the next `seq`; pairing events only to
    /// connections entitled to them.
    fn broadcast(&self, name: &str, payload: Value, pairing_only: bool) {
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

    fn record_failure(&self, ip: IpAddr) {
        let mut l = lock(&self.limits);
        if l.failures.len() > 10_000 {
            let cutoff = Instant::now() - FAILURE_WINDOW;
            l.failures
                .retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
        }
        let q = l.failures.entry(ip).or_default();
        q.push_back(Instant::now());
        while q.len() > 2 * self.cfg.max_failed_handshakes_per_minute as usize + 1 {
            q.pop_front();
        }
    }

    /// Milliseconds until `ip` may try again, when it is locked out.
    fn locked_out(&self, ip: IpAddr) -> Option<u64> {
        let max = self.cfg.max_failed_handshakes_per_minute as usize;
        let mut l = lock(&self.limits);
        let q = l.failures.get_mut(&ip)?;
        let cutoff = Instant::now() - FAILURE_WINDOW;
        while q.front().is_some_and(|t| *t < cutoff) {
            q.pop_front();
        }
        if q.len() >= max {
            let oldest = *q.front()?;
            Some(
                (oldest + FAILURE_WINDOW)
                    .saturating_duration_since(Instant::now())
                    .as_millis() as u64
                    + 1,
            )
        } else {
            None
        }
    }

    fn policy(&self) -> Value {
        json!({
            "maxPayload": self.cfg.max_message_bytes,
            "maxBufferedBytes": self.cfg.max_message_bytes * 2,
            "tickIntervalMs": self.cfg.tick_interval_ms,
        })
    }

    fn health(&self) -> Value {
        json!({
            "ok": true,
            "ts": now(),
            "durationMs": 0,
            "channels": {},
            "channelOrder": [],
            "channelLabels": {},
            "heartbeatSeconds": 0,
            "defaultAgentId": "main",
            "agents": [],
            "sessions": {"path": "", "count": 0, "recent": []},
        })
    }

    fn presence_snapshot(&self) -> Vec<Value> {
        let p = lock(&self.presence);
        let mut live: Vec<&Presence> = p.values().filter(|e| e.connected).collect();
        // Bounded: a hello-ok must not grow with the number of connected devices.
        live.sort_by_key(|e| std::cmp::Reverse(e.last_seen_ms));
        live.truncate(PRESENCE_IN_HELLO);
        live.into_iter()
            .map(|e| {
                let mut m = serde_json::Map::new();
                m.insert(
                    "host".into(),
                    json!(e
                        .display_name
                        .clone()
                        .unwrap_or_else(|| e.device_id.clone())),
                );
                if let Some(ip) = &e.remote_ip {
                    m.insert("ip".into(), json!(ip));
                }
                m.insert("mode".into(), json!(e.client_mode));
                m.insert("deviceId".into(), json!(e.device_id));
                m.insert("roles".into(), json!([e.role]));
                m.insert("instanceId".into(), json!(e.device_id));
                m.insert("reason".into(), json!("connect"));
                m.insert("ts".into(), json!(e.last_seen_ms));
                Value::Object(m)
            })
            .collect()
    }

    pub(crate) fn presence_list(&self) -> Vec<Presence> {
        let mut v: Vec<Presence> = lock(&self.presence).values().cloned().collect();
        v.sort_by_key(|p| std::cmp::Reverse(p.last_seen_ms));
        v
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts listening; `Err` carries the bind error text. The default
/// loopback bind also listens on `[::1]` at the same port when it can, as
/// OpenClaw does (clients resolving `localhost` to `::1` still connect).
pub(crate) async fn bind(cfg: &GatewayConfig) -> Result<Vec<TcpListener>, String> {
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

/// Accept loop plus ticker and watcher; returns after a clean shutdown.
pub(crate) async fn serve(shared: Arc<Shared>, listeners: Vec<TcpListener>) {
    let mut shutdown = shared.shutdown.clone();
    let tasks = tokio_util_like::TaskTracker::default();
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

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    tasks: tokio_util_like::TaskTracker,
) {
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

fn failures_of(shared: &Shared, ip: IpAddr) -> usize {
    lock(&shared.limits)
        .failures
        .get(&ip)
        .map_or(0, |q| q.len())
}

fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Minimal task tracking: count live tasks, wait for zero with a deadline.
mod tokio_util_like {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::sync::Notify;

    #[derive(Clone, Default)]
    pub struct TaskTracker {
        live: Arc<AtomicUsize>,
        idle: Arc<Notify>,
    }

    impl TaskTracker {
        pub fn spawn<F>(&self, f: F)
        where
            F: std::future::Future<Output = ()> + Send + 'static,
        {
            self.live.fetch_add(1, Ordering::SeqCst);
            let t = self.clone();
            tokio::spawn(async move {
                f.await;
                if t.live.fetch_sub(1, Ordering::SeqCst) == 1 {
                    t.idle.notify_waiters();
                }
            });
        }
        pub async fn wait(&self, max: Duration) {
            let deadline = tokio::time::Instant::now() + max;
            loop {
                let n = self.idle.notified();
                if self.live.load(Ordering::SeqCst) == 0 {
                    return;
                }
                if tokio::time::timeout_at(deadline, n).await.is_err() {
                    return;
                }
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

fn prune_limits(shared: &Shared) {
    let cutoff = Instant::now() - FAILURE_WINDOW;
    let mut l = lock(&shared.limits);
    l.failures
        .retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
    let known = lock(&shared.known_pending);
    l.pending_by_ip.retain(|_, ids| {
        ids.retain(|id| known.contains_key(id));
        !ids.is_empty()
    });
}

/// Notices decisions made elsewhere (another process, the console) and sends
/// `device.pair.resolved` for them.
async fn watcher(shared: Arc<Shared>) {
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

type Resolved = Vec<(String, String, &'static str)>;

fn notice_changes(
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

fn announce_resolved(shared: &Shared, rid: &str, device_id: &str, decision: &str, t: i64) {
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

#[derive(Default)]
struct Headers {
    host: Option<String>,
    origin: Option<String>,
    proxied: bool,
}

fn ws_config(cfg: &GatewayConfig) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(cfg.max_message_bytes * 4 + 65536)
        .max_message_size(Some(cfg.max_message_bytes))
        .max_frame_size(Some(cfg.max_message_bytes))
}

async fn handle_socket(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) {
    let ip = canonical_ip(peer.ip());
    {
        let mut l = lock(&shared.limits);
        let n = l.sockets_by_ip.entry(ip).or_insert(0);
        if *n >= shared.cfg.max_conns_per_addr {
            return;
        }
        *n += 1;
    }
    handle_socket_inner(&shared, tcp, peer, ip).await;
    let mut l = lock(&shared.limits);
    if let Some(n) = l.sockets_by_ip.get_mut(&ip) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            l.sockets_by_ip.remove(&ip);
        }
    }
}

async fn handle_socket_inner(shared: &Arc<Shared>, tcp: TcpStream, peer: SocketAddr, ip: IpAddr) {
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(shared.cfg.handshake_timeout_ms);
    let mut hdr = Headers::default();
    let cb = |req: &HsRequest, resp: HsResponse| {
        let h = req.headers();
        let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
        hdr.host = get("host");
        hdr.origin = get("origin");
        hdr.proxied = ["x-forwarded-for", "x-real-ip", "x-forwarded-host"]
            .iter()
            .any(|k| h.contains_key(*k));
        Ok(resp)
    };
    let accepted = tokio::time::timeout_at(
        deadline,
        Box::pin(tokio_tungstenite::accept_hdr_async_with_config(
            tcp,
            cb,
            Some(ws_config(&shared.cfg)),
        )),
    )
    .await;
    let ws = match accepted {
        Ok(Ok(ws)) => ws,
        _ => {
            shared.record_failure(ip);
            return;
        }
    };
    let (mut sink, mut stream) = ws.split();
    let nonce = uuid::Uuid::new_v4().to_string();
    let challenge = frames::event(
        "connect.challenge",
        json!({"nonce": nonce, "ts": now()}),
        None,
    );
    if !send_text(&mut sink, challenge).await {
        return;
    }
    let local = is_local(ip, &hdr);
    let mut shutdown = shared.shutdown.clone();
    // Handshake: the first request must be `connect`.
    let first = loop {
        tokio::select! {
            _ = shutdown.changed() => {
                close(&mut sink, 1012, "service restart").await;
                return;
            }
            r = tokio::time::timeout_at(deadline, stream.next()) => match r {
                Err(_) => {
                    shared.record_failure(ip);
                    close(&mut sink, 1000, "").await;
                    return;
                }
                Ok(None) => return,
                Ok(Some(Err(e))) => {
                    shared.record_failure(ip);
                    close_on_error(&mut sink, &e).await;
                    return;
                }
                Ok(Some(Ok(msg))) => match text_of(msg) {
                    Incoming::Text(t) => break t,
                    Incoming::Skip => continue,
                    Incoming::Closed => return,
                    Incoming::NotText => {
                        shared.record_failure(ip);
                        close(&mut sink, 1003, "unsupported data").await;
                        return;
                    }
                }
            }
        }
    };
    let req = match frames::parse_request(&first) {
        Ok(r) => r,
        Err(FrameError::NotJson) => {
            shared.record_failure(ip);
            close(&mut sink, 1000, "").await;
            return;
        }
        Err(FrameError::Invalid { .. }) => {
            shared.record_failure(ip);
            close(&mut sink, 1008, "invalid request frame").await;
            return;
        }
    };
    if req.method != "connect" {
        shared.record_failure(ip);
        let e = ErrorShape::invalid("invalid handshake: first request must be connect");
        fail(&mut sink, &req.id, &e, 1008).await;
        return;
    }
    let ctx = ConnCtx {
        ip,
        peer,
        local,
        origin: hdr.origin.clone(),
        nonce,
    };
    // Boxed: the connect state machine is large and short-lived; the session task keeps only what it needs.
    let session = match Box::pin(connect(shared, &req, &ctx)).await {
        Ok(s) => s,
        Err(f) => {
            if f.counts_as_failure {
                shared.record_failure(ip);
            }
            fail(&mut sink, &req.id, &f.error, f.close_code).await;
            return;
        }
    };
    run_session(shared, sink, stream, req.id, session, ctx).await;
}

struct ConnCtx {
    ip: IpAddr,
    peer: SocketAddr,
    local: bool,
    origin: Option<String>,
    nonce: String,
}

/// Local per spec node-pairing §7 (no trusted proxies are configured here).
fn is_local(ip: IpAddr, hdr: &Headers) -> bool {
    if !ip.is_loopback() || hdr.proxied {
        return false;
    }
    let Some(host) = hdr.host.as_deref() else {
        return true;
    };
    let host = host.trim().to_ascii_lowercase();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("").to_string()
    } else {
        host.rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or(host.clone())
    };
    name == "localhost"
        || name.ends_with(".ts.net")
        || name.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

enum Incoming {
    Text(String),
    Skip,
    Closed,
    NotText,
}

fn text_of(msg: Message) -> Incoming {
    match msg {
        Message::Text(t) => Incoming::Text(t.as_str().to_string()),
        Message::Binary(b) => match String::from_utf8(b.to_vec()) {
            Ok(s) => Incoming::Text(s),
            Err(_) => Incoming::NotText,
        },
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Incoming::Skip,
        Message::Close(_) => Incoming::Closed,
    }
}

/// Sends one text frame; a peer that does not read for 10 s is given up on.
async fn send_text(sink: &mut Sink, text: String) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(10), sink.send(Message::text(text))).await,
        Ok(Ok(()))
    )
}

async fn close(sink: &mut Sink, code: u16, reason: &str) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: frames::close_reason(reason).into(),
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = sink.send(Message::Close(Some(frame))).await;
        let _ = sink.close().await;
    })
    .await;
}

async fn close_on_error(sink: &mut Sink, e: &WsError) {
    match e {
        WsError::Capacity(_) => close(sink, 1009, "message too big").await,
        WsError::Utf8(_) => close(sink, 1007, "invalid utf-8").await,
        WsError::Protocol(_) => close(sink, 1002, "protocol error").await,
        _ => {}
    }
}

async fn fail(sink: &mut Sink, id: &str, e: &ErrorShape, code: u16) {
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        sink.send(Message::text(frames::res_err(id, e))),
    )
    .await;
    close(sink, code, &e.message).await;
}

struct Failure {
    error: ErrorShape,
    close_code: u16,
    counts_as_failure: bool,
}

impl Failure {
    fn bad(error: ErrorShape) -> Self {
        Failure {
            error,
            close_code: 1008,
            counts_as_failure: true,
        }
    }
}

/// A completed handshake.
struct Session {
    role: String,
    scopes: Vec<String>,
    device_id: Option<String>,
    display_name: Option<String>,
    client_mode: String,
    hello: Value,
    /// The setup token to void once `hello-ok` delivered the device token.
    setup_token_used: Option<String>,
}

fn unauthorized(client_id: &str, kind: &str) -> ErrorShape {
    let hint = if client_id == "cli" {
        "set gateway.remote.token to match gateway.auth.token"
    } else {
        "provide gateway auth token"
    };
    let (msg, code, reason) = match kind {
        "token_missing" => (
            format!("unauthorized: gateway token missing ({hint})"),
            "AUTH_TOKEN_MISSING",
            "token_missing",
        ),
        "device_token_mismatch" => (
            "unauthorized: device token mismatch (rotate/reissue device token)".to_string(),
            "AUTH_DEVICE_TOKEN_MISMATCH",
            "device_token_mismatch",
        ),
        _ => (
            format!("unauthorized: gateway token mismatch ({hint})"),
            "AUTH_TOKEN_MISMATCH",
            "token_mismatch",
        ),
    };
    ErrorShape::invalid(msg).with_details(json!({"code": code, "authReason": reason}))
}

fn device_invalid(message: &str, reason: &str) -> Failure {
    Failure::bad(
        ErrorShape::invalid(message)
            .with_details(json!({"code": "DEVICE_AUTH_INVALID", "reason": reason})),
    )
}

enum AuthKind {
    Shared,
    Setup(String),
    /// A spent setup token presented by the paired device it was bound to.
    SetupAlias,
    DeviceToken {
        token: String,
        explicit: bool,
    },
    None,
}

/// What the combined store job found.
enum Outcome {
    AuthFailed(TokenFailure),
    TooManyPending,
    PairingRequired {
        request_id: String,
        reason: PairingReason,
        created: bool,
        request: Value,
    },
    Accepted {
        token: crate::devices::TokenRecord,
        silently_approved: Option<String>,
    },
}

async fn connect(shared: &Arc<Shared>, req: &Request, ctx: &ConnCtx) -> Result<Session, Failure> {
    let p = frames::parse_connect_params(req.params.as_ref())
        .map_err(|e| Failure::bad(ErrorShape::invalid(format!("invalid connect params: {e}"))))?;
    if p.min_protocol > frames::PROTOCOL || p.max_protocol < frames::PROTOCOL {
        return Err(Failure {
            error: ErrorShape::invalid("protocol mismatch")
                .with_details(json!({"expectedProtocol": frames::PROTOCOL})),
            close_code: 1002,
            counts_as_failure: true,
        });
    }
    let role = p.role().to_string();
    if role != "operator" && role != "node" {
        return Err(Failure::bad(ErrorShape::invalid("invalid role")));
    }
    if ctx.origin.is_some() {
        return Err(Failure::bad(ErrorShape::invalid(
            "origin not allowed (clawpair accepts no browser clients)",
        )));
    }
    if let Some(ms) = shared.locked_out(ctx.ip) {
        return Err(Failure {
            error: ErrorShape::invalid(
                "unauthorized: too many failed authentication attempts (retry later)",
            )
            .with_details(json!({"code": "AUTH_RATE_LIMITED", "authReason": "rate_limited"}))
            .retry_after(ms),
            close_code: 1008,
            counts_as_failure: false,
        });
    }
    let auth = p.auth.clone().unwrap_or_default();
    let shared_ok = auth
        .token
        .as_deref()
        .is_some_and(|t| crypto::secrets_equal(t, &shared.cfg.token));
    let Some(device) = p.device.clone() else {
        if role == "operator" && shared_ok {
            return Ok(operator_session(shared, &p, None, ctx));
        }
        if auth.token.is_some() && !shared_ok {
            return Err(Failure::bad(unauthorized(&p.client.id, "token_mismatch")));
        }
        return Err(Failure::bad(
            ErrorShape::new("NOT_PAIRED", "device identity required")
                .with_details(json!({"code": "DEVICE_IDENTITY_REQUIRED"})),
        ));
    };
    // #7 device checks.
    let raw = crypto::decode_public_key(&device.public_key);
    if raw.map(|r| crypto::device_id_for(&r)).as_deref() != Some(device.id.as_str()) {
        return Err(device_invalid(
            "device identity mismatch",
            "device-id-mismatch",
        ));
    }
    if (now() - device.signed_at).abs() > 120_000 {
        return Err(device_invalid(
            "device signature expired",
            "device-signature-stale",
        ));
    }
    if device.nonce.trim().is_empty() {
        return Err(device_invalid(
            "device nonce required",
            "device-nonce-missing",
        ));
    }
    if !crypto::secrets_equal(&device.nonce, &ctx.nonce) {
        return Err(device_invalid(
            "device nonce mismatch",
            "device-nonce-mismatch",
        ));
    }
    let Some(raw) = raw else {
        return Err(device_invalid(
            "device public key invalid",
            "device-public-key",
        ));
    };
    let fields = p.signed_fields(&device);
    if crypto::verify_device(&raw, &fields, &device.signature).is_none() {
        return Err(device_invalid(
            "device signature invalid",
            "device-signature",
        ));
    }
    let public_key = crypto::b64url(&raw);
    // #8 auth.
    let mut kind = if shared_ok {
        AuthKind::Shared
    } else {
        AuthKind::None
    };
    if matches!(kind, AuthKind::None) && role == "node" && auth.device_token.is_none() {
        if let Some(t) = auth.token.as_deref() {
            let paths = shared.paths.clone();
            let store = shared.store.clone();
            let (tok, dev) = (t.to_string(), device.id.clone());
            let verdict = tokio::task::spawn_blocking(move || {
                let t_now = now();
                setup::use_for_device(
                    &paths,
                    &tok,
                    &dev,
                    |expiry| {
                        store
                            .load(t_now)
                            .ok()
                            .and_then(|st| {
                                st.paired_by_id(&dev).map(|d| d.approved_at_ms <= expiry)
                            })
                            .unwrap_or(false)
                    },
                    |request_id| {
                        store.load(t_now).is_ok_and(|st| {
                            st.paired_by_id(&dev).is_none()
                                && !st.pending.iter().any(|r| r.request_id == request_id)
                        })
                    },
                    t_now,
                )
            })
            .await;
            match verdict {
                Ok(Ok(SetupVerdict::Usable { first_use })) => {
                    if first_use {
                        shared.emit(GatewayEvent::SetupCodeUsed {
                            device_id: device.id.clone(),
                        });
                    }
                    kind = AuthKind::Setup(t.to_string());
                }
                Ok(Ok(SetupVerdict::PairedAlias)) => kind = AuthKind::SetupAlias,
                Ok(Ok(SetupVerdict::Refused(why))) => {
                    tracing::debug!("setup token refused: {why}");
                }
                Ok(Err(e)) => tracing::warn!("setup tokens unreadable: {e}"),
                Err(_) => {}
            }
        }
    }
    if matches!(kind, AuthKind::None) {
        match (auth.device_token.as_deref(), auth.token.as_deref()) {
            (Some(dt), _) => {
                kind = AuthKind::DeviceToken {
                    token: dt.to_string(),
                    explicit: true,
                }
            }
            (None, Some(t)) => {
                kind = AuthKind::DeviceToken {
                    token: t.to_string(),
                    explicit: false,
                }
            }
            (None, None) => {
                return Err(Failure::bad(unauthorized(&p.client.id, "token_missing")));
            }
        }
    }
    // #8 (device token) and #9 pairing, in one locked store transaction.
    let may_create = {
        let l = lock(&shared.limits);
        let known = lock(&shared.known_pending);
        l.pending_by_ip.get(&ctx.ip).map_or(0, |ids| {
            ids.iter().filter(|i| known.contains_key(*i)).count()
        }) < shared.cfg.max_pending_per_addr
    };
    let silent_ok = shared.cfg.auto_approve_local && ctx.local;
    let remote_ip = if ctx.local || ctx.ip.is_loopback() {
        None
    } else {
        Some(ctx.ip.to_string())
    };
    let device_token = match &kind {
        AuthKind::DeviceToken { token, .. } => Some(token.clone()),
        _ => None,
    };
    let alias = matches!(kind, AuthKind::SetupAlias);
    let input = RequestInput {
        device_id: device.id.clone(),
        public_key: public_key.clone(),
        display_name: p.client.display_name.clone(),
        platform: Some(p.client.platform.clone()),
        device_family: p.client.device_family.clone(),
        client_id: Some(p.client.id.clone()),
        client_mode: Some(p.client.mode.clone()),
        role: Some(role.clone()),
        scopes: p.scopes.clone(),
        remote_ip: remote_ip.clone(),
        silent: false,
    };
    let meta = ConnectMeta {
        display_name: p.client.display_name.clone(),
        client_id: Some(p.client.id.clone()),
        client_mode: Some(p.client.mode.clone()),
        role: Some(role.clone()),
        remote_ip: remote_ip.clone(),
        scopes: p.scopes.clone(),
    };
    let known = shared.known_pending.clone();
    let (role_j, scopes_j) = (role.clone(), p.scopes.clone());
    let outcome = shared
        .worker
        .run(move |st, t| -> Result<Outcome, StoreError> {
            let device_id = input.device_id.clone();
            if let Some(tok) = &device_token {
                if let Err(f) = st.verify_token(&device_id, &role_j, tok, &scopes_j, t) {
                    return Ok(Outcome::AuthFailed(f));
                }
            }
            if alias {
                // Only while this very key is paired with a live token for the role.
                let live = st.paired_by_id(&device_id).is_some_and(|d| {
                    d.public_key == input.public_key
                        && d.token(&role_j).is_some_and(|r| r.revoked_at_ms.is_none())
                });
                if !live {
                    return Ok(Outcome::AuthFailed(TokenFailure::TokenRevoked));
                }
            }
            let reason = st.pairing_reason(&ConnectClaim {
                device_id: &input.device_id,
                public_key: &input.public_key,
                platform: input.platform.as_deref(),
                device_family: input.device_family.as_deref(),
                role: &role_j,
                scopes: &scopes_j,
            });
            let mut silently_approved = None;
            if let Some(reason) = reason {
                let silent = silent_ok
                    && matches!(
                        reason,
                        PairingReason::NotPaired | PairingReason::ScopeUpgrade
                    );
                let creating = st.pending_for_device(&device_id).is_none();
                if creating && !may_create && !silent {
                    return Ok(Outcome::TooManyPending);
                }
                let mut inp = input.clone();
                inp.silent = silent;
                let out = st.request(inp, uuid::Uuid::new_v4().to_string(), t);
                let rid = out.request.request_id.clone();
                if !silent {
                    lock(&known).insert(rid.clone(), (device_id.clone(), out.request.ts));
                    return Ok(Outcome::PairingRequired {
                        request_id: rid,
                        reason,
                        created: out.created,
                        request: payload::requested_payload(&out.request),
                    });
                }
                lock(&known).remove(&rid);
                st.approve(&rid, crate::devices::new_token(), t)?;
                silently_approved = Some(rid);
            }
            st.update_on_connect(&device_id, meta)?;
            let (token, _) = st.ensure_token(
                &device_id,
                &role_j,
                &scopes_j,
                crate::devices::new_token(),
                t,
            )?;
            Ok(Outcome::Accepted {
                token,
                silently_approved,
            })
        })
        .await;
    let outcome = match outcome {
        Ok(Ok(o)) => o,
        other => {
            let msg = match other {
                Ok(Err(se)) => se.to_string(),
                Err(s) => s,
                Ok(Ok(_)) => String::new(),
            };
            tracing::warn!("pairing check failed: {msg}");
            return Err(Failure {
                error: ErrorShape::new("UNAVAILABLE", "device store unavailable").retry_after(1000),
                close_code: 1011,
                counts_as_failure: false,
            });
        }
    };
    match outcome {
        Outcome::AuthFailed(reason) => {
            tracing::debug!("device token auth failed: {reason}");
            let explicit = matches!(kind, AuthKind::DeviceToken { explicit: true, .. });
            Err(Failure::bad(unauthorized(
                &p.client.id,
                if explicit {
                    "device_token_mismatch"
                } else {
                    "token_mismatch"
                },
            )))
        }
        Outcome::TooManyPending => Err(Failure {
            error: ErrorShape::new(
                "UNAVAILABLE",
                "too many pending pairing requests from this address",
            )
            .retry_after(PENDING_TTL_MS as u64),
            close_code: 1008,
            counts_as_failure: true,
        }),
        Outcome::PairingRequired {
            request_id,
            reason,
            created,
            request,
        } => {
            lock(&shared.limits)
                .pending_by_ip
                .entry(ctx.ip)
                .or_default()
                .insert(request_id.clone());
            if let AuthKind::Setup(tok) = &kind {
                let (paths, tok, rid) = (shared.paths.clone(), tok.clone(), request_id.clone());
                let _ =
                    tokio::task::spawn_blocking(move || setup::note_request(&paths, &tok, &rid))
                        .await;
            }
            if created {
                shared.broadcast("device.pair.requested", request, true);
                shared.emit(GatewayEvent::DevicePairRequested {
                    request_id: request_id.clone(),
                    device_id: device.id.clone(),
                });
            }
            Err(Failure {
                error: ErrorShape::new("NOT_PAIRED", "pairing required").with_details(json!({
                    "code": "PAIRING_REQUIRED",
                    "requestId": request_id,
                    "reason": reason.as_str(),
                })),
                close_code: 1008,
                counts_as_failure: false,
            })
        }
        Outcome::Accepted {
            token,
            silently_approved,
        } => {
            if let Some(rid) = silently_approved {
                announce_resolved(shared, &rid, &device.id, "approved", now());
            }
            let auth_v = json!({
                "deviceToken": token.token,
                "role": token.role,
                "scopes": token.scopes,
                "issuedAtMs": token.rotated_at_ms.unwrap_or(token.created_at_ms),
            });
            let mut s = operator_session(shared, &p, Some(auth_v), ctx);
            s.device_id = Some(device.id.clone());
            if let AuthKind::Setup(t) = kind {
                s.setup_token_used = Some(t);
            }
            Ok(s)
        }
    }
}

fn operator_session(
    shared: &Shared,
    p: &ConnectParams,
    auth: Option<Value>,
    _ctx: &ConnCtx,
) -> Session {
    let conn_id = uuid::Uuid::new_v4().to_string();
    let mut hello = serde_json::Map::new();
    hello.insert("type".into(), json!("hello-ok"));
    hello.insert("protocol".into(), json!(frames::PROTOCOL));
    hello.insert(
        "server".into(),
        json!({"version": env!("CARGO_PKG_VERSION"), "connId": conn_id}),
    );
    hello.insert(
        "features".into(),
        json!({"methods": METHODS, "events": EVENTS}),
    );
    hello.insert(
        "snapshot".into(),
        json!({
            // Nodes never read the snapshot; keeping their hello-ok small keeps
            // the per-connection write buffer small.
            "presence": if p.role() == "node" { Vec::new() } else { shared.presence_snapshot() },
            "health": shared.health(),
            "stateVersion": {"presence": 0, "health": 0},
            "uptimeMs": shared.started.elapsed().as_millis() as u64,
            "stateDir": shared.paths.state_dir.to_string_lossy(),
            "configPath": shared.paths.config_file.to_string_lossy(),
            "sessionDefaults": {"defaultAgentId": "main", "mainKey": "main", "mainSessionKey": "agent:main:main", "scope": "per-sender"},
            "authMode": "token",
        }),
    );
    if let Some(a) = auth {
        hello.insert("auth".into(), a);
    }
    hello.insert("policy".into(), shared.policy());
    Session {
        role: p.role().to_string(),
        scopes: p.scopes.clone(),
        device_id: None,
        display_name: p.client.display_name.clone(),
        client_mode: p.client.mode.clone(),
        hello: Value::Object(hello),
        setup_token_used: None,
    }
}

async fn run_session(
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

struct Reply {
    ok: Option<Value>,
    err: Option<ErrorShape>,
}

fn ok(v: Value) -> Reply {
    Reply {
        ok: Some(v),
        err: None,
    }
}

fn err(e: ErrorShape) -> Reply {
    Reply {
        ok: None,
        err: Some(e),
    }
}

fn authorize(method: &str, role: &str, scopes: &[String]) -> Result<(), ErrorShape> {
    if method == "health" {
        return Ok(());
    }
    if NODE_METHODS.contains(&method) {
        return if role == "node" {
            Ok(())
        } else {
            Err(ErrorShape::invalid(format!("unauthorized role: {role}")))
        };
    }
    if role != "operator" {
        return Err(ErrorShape::invalid(format!("unauthorized role: {role}")));
    }
    if scopes.iter().any(|s| s == "operator.admin") {
        return Ok(());
    }
    let needed = if PAIRING_METHODS.contains(&method) {
        "operator.pairing"
    } else {
        "operator.admin"
    };
    if scopes.iter().any(|s| s == needed) {
        Ok(())
    } else {
        Err(ErrorShape::invalid(format!("missing scope: {needed}")))
    }
}

/// Closed params object with the given string fields (`required`, `optional`).
fn params_of(
    method: &str,
    params: Option<&Value>,
    required: &[&str],
    optional_str_list: &[&str],
) -> Result<serde_json::Map<String, Value>, ErrorShape> {
    let bad = |d: String| ErrorShape::invalid(format!("invalid {method} params: {d}"));
    let obj = match params {
        None => serde_json::Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(bad("data must be object".into())),
    };
    for k in obj.keys() {
        if !required.contains(&k.as_str()) && !optional_str_list.contains(&k.as_str()) {
            return Err(bad(format!(
                "data must NOT have additional properties ({k})"
            )));
        }
    }
    for r in required {
        match obj.get(*r) {
            None => return Err(bad(format!("data must have required property '{r}'"))),
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(Value::String(_)) => {
                return Err(bad(format!(
                    "data/{r} must NOT have fewer than 1 characters"
                )))
            }
            Some(_) => return Err(bad(format!("data/{r} must be string"))),
        }
    }
    for o in optional_str_list {
        if let Some(v) = obj.get(*o) {
            if !v
                .as_array()
                .is_some_and(|a| a.iter().all(|x| x.is_string()))
            {
                return Err(bad(format!("data/{o} must be array")));
            }
        }
    }
    Ok(obj)
}

fn store_error(e: StoreError) -> ErrorShape {
    match e {
        StoreError::NotFound(m) | StoreError::Invalid(m) => ErrorShape::invalid(m),
        other => {
            tracing::warn!("devices store: {other}");
            ErrorShape::new("UNAVAILABLE", "device store unavailable").retry_after(1000)
        }
    }
}

async fn handle_rpc(shared: &Arc<Shared>, session: &Session, text: &str) -> (String, Reply) {
    let req = match frames::parse_request(text) {
        Ok(r) => r,
        Err(FrameError::NotJson) => {
            return (
                "invalid".into(),
                err(ErrorShape::invalid("invalid request frame: not JSON")),
            )
        }
        Err(FrameError::Invalid { detail, id }) => {
            return (
                id.unwrap_or_else(|| "invalid".into()),
                err(ErrorShape::invalid(format!(
                    "invalid request frame: {detail}"
                ))),
            )
        }
    };
    let id = req.id.clone();
    if req.method == "connect" {
        return (id, err(ErrorShape::invalid("connect already completed")));
    }
    if let Err(e) = authorize(&req.method, &session.role, &session.scopes) {
        return (id, err(e));
    }
    let m = req.method.as_str();
    let params = req.params.as_ref();
    let reply = match m {
        "health" => ok(shared.health()),
        "node.event" | "node.invoke.result" => ok(json!({"ok": true})),
        "skills.bins" => ok(json!({"bins": []})),
        "device.pair.list" => match params_of(m, params, &[], &[]) {
            Err(e) => err(e),
            Ok(_) => {
                let store = shared.store.clone();
                match tokio::task::spawn_blocking(move || store.list_payload(now())).await {
                    Ok(Ok(v)) => ok(v),
                    Ok(Err(e)) => err(store_error(e)),
                    Err(_) => err(ErrorShape::new("UNAVAILABLE", "device store unavailable")),
                }
            }
        },
        "device.pair.approve" | "device.pair.reject" => {
            match params_of(m, params, &["requestId"], &[]) {
                Err(e) => err(e),
                Ok(o) => {
                    let rid = o["requestId"].as_str().unwrap_or_default().to_string();
                    let approve = m == "device.pair.approve";
                    let known = shared.known_pending.clone();
                    let r = shared
                        .worker
                        .run(move |st, t| {
                            let res = if approve {
                                st.approve(&rid, crate::devices::new_token(), t)
                                    .map(|a| (payload::approve_payload(&a), a.request))
                            } else {
                                st.reject(&rid).map(|r| (payload::reject_payload(&r), r))
                            };
                            if res.is_ok() {
                                lock(&known).remove(&rid);
                            }
                            (res, t)
                        })
                        .await;
                    match r {
                        Err(e) => err(ErrorShape::new("UNAVAILABLE", e)),
                        Ok((Err(e), _)) => err(store_error(e)),
                        Ok((Ok((reply, request)), t)) => {
                            let decision = if approve { "approved" } else { "rejected" };
                            if !approve {
                                let (paths, rid) =
                                    (shared.paths.clone(), request.request_id.clone());
                                let _ = tokio::task::spawn_blocking(move || {
                                    setup::void_for_request(&paths, &rid, "rejected", t)
                                })
                                .await;
                            }
                            announce_resolved(
                                shared,
                                &request.request_id,
                                &request.device_id,
                                decision,
                                t,
                            );
                            ok(reply)
                        }
                    }
                }
            }
        }
        "device.pair.remove" => match params_of(m, params, &["deviceId"], &[]) {
            Err(e) => err(e),
            Ok(o) => {
                let did = o["deviceId"].as_str().unwrap_or_default().to_string();
                match shared.worker.run(move |st, _| st.remove(&did)).await {
                    Err(e) => err(ErrorShape::new("UNAVAILABLE", e)),
                    Ok(Err(e)) => err(store_error(e)),
                    Ok(Ok(d)) => ok(payload::remove_payload(&d)),
                }
            }
        },
        "device.token.rotate" => match params_of(m, params, &["deviceId", "role"], &["scopes"]) {
            Err(e) => err(e),
            Ok(o) => {
                let did = o["deviceId"].as_str().unwrap_or_default().to_string();
                let role = o["role"].as_str().unwrap_or_default().to_string();
                let scopes: Option<Vec<String>> = o.get("scopes").and_then(|s| {
                    s.as_array().map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                });
                let r = shared
                    .worker
                    .run(move |st, t| {
                        st.rotate(&did, &role, scopes, crate::devices::new_token(), t)
                            .map(|rec| (did, rec))
                    })
                    .await;
                match r {
                    Err(e) => err(ErrorShape::new("UNAVAILABLE", e)),
                    Ok(Err(e)) => err(store_error(e)),
                    Ok(Ok((did, rec))) => ok(payload::rotate_payload(&did, &rec)),
                }
            }
        },
        "device.token.revoke" => match params_of(m, params, &["deviceId", "role"], &[]) {
            Err(e) => err(e),
            Ok(o) => {
                let did = o["deviceId"].as_str().unwrap_or_default().to_string();
                let role = o["role"].as_str().unwrap_or_default().to_string();
                let r = shared
                    .worker
                    .run(move |st, t| st.revoke(&did, &role, t).map(|rec| (did, rec)))
                    .await;
                match r {
                    Err(e) => err(ErrorShape::new("UNAVAILABLE", e)),
                    Ok(Err(e)) => err(store_error(e)),
                    Ok(Ok((did, rec))) => ok(payload::revoke_payload(&did, &rec)),
                }
            }
        },
        other => err(ErrorShape::invalid(format!("unknown method: {other}"))),
    };
    (id, reply)
}
