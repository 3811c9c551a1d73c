//! OpenClaw 2026.7+ SQLite state as a [`Source`]: `state/openclaw.sqlite`
//! read through [`crate::statedb`] on short read-only connections.
//!
//! * **Watching**: `notify` on `state/` (the main file and its `-wal`), a
//!   kept read-only connection whose `PRAGMA data_version` confirms that
//!   another connection committed (checked on every file event and every
//!   500 ms; it holds no transaction between checks, so WAL checkpoints are
//!   never starved), then a fresh read of both parts: only the part whose
//!   rows changed is reported, so only it is re-read by the engine.
//! * **Acts**: device and node decisions are OpenClaw's gateway's: they go
//!   through it as RPCs ([`LocalGateway`]: one operator connection per
//!   decision on loopback with its shared secret, [`gateway::act_on`]); the
//!   row then changes in the database, which the watcher notices. Without a
//!   running gateway they are refused with what to run instead (no device
//!   row is ever hand-written). DM approve / reject go through its
//!   `channels.pairing.*` when it runs and lists the request, else (and
//!   allow-list revoke always) they are the DM transaction of
//!   [`crate::statedb::dm::write_channel`]. Setup codes are `openclaw qr`'s.
//! * **Status**: the watcher also probes the gateway's port every 2 s, so the
//!   status line says whether actions can go through it.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::files::{device_request, paired_device};
use super::gateway;
use super::{Changed, Pending, Source, SourceInfo, SourceKind, Watching};
use crate::app::effect::{Act, ActionError, AllowTarget, DmTarget, Done};
use crate::app::rows::{
    AllowList, DeviceSnapshot, DmRequest, DmSnapshot, PendingSurface, SetupCode,
};
use crate::operator::api;
use crate::paths::Paths;
use crate::statedb::{self, devices, dm, DbError, LocalGateway, ReadMode, StateDb};

pub struct SqliteSource {
    paths: Paths,
    db: PathBuf,
}

impl SqliteSource {
    pub fn new(paths: &Paths) -> SqliteSource {
        SqliteSource {
            paths: paths.clone(),
            db: statedb::db_path(&paths.state_dir),
        }
    }

    fn read_dm(&self, now_ms: i64) -> Result<DmSnapshot, String> {
        let db = StateDb::open_read(&self.db).map_err(|e| e.to_string())?;
        let rows = dm::read(&db).map_err(|e| e.to_string())?;
        Ok(dm_snapshot(&rows, now_ms))
    }

    fn read_devices(&self, now_ms: i64) -> Result<DeviceSnapshot, String> {
        let db = StateDb::open_read(&self.db).map_err(|e| e.to_string())?;
        let rows = devices::read(&db, now_ms).map_err(|e| e.to_string())?;
        Ok(device_snapshot(rows))
    }

    fn dm_write(&self, channel: &str, op: dm::Op, now_ms: i64) -> Result<dm::Outcome, ActionError> {
        dm::write_channel(&self.db, channel, &op, now_ms)
            .map_err(|e: DbError| ActionError::Failed(e.to_string()))
    }

    fn approve_dm(&self, t: &DmTarget, now_ms: i64) -> Result<Done, ActionError> {
        let op = dm::Op::Approve {
            code: t.code.clone(),
            account: t.account.clone(),
        };
        match self.dm_write(&t.channel, op, now_ms)?.request {
            Some((id, _)) => Ok(Done::DmApproved {
                channel: t.channel.clone(),
                id,
            }),
            None => Err(gone_dm(t)),
        }
    }

    fn reject_dm(&self, t: &DmTarget, now_ms: i64) -> Result<Done, ActionError> {
        let op = dm::Op::Dismiss {
            code: t.code.clone(),
            account: t.account.clone(),
        };
        match self.dm_write(&t.channel, op, now_ms)?.request {
            Some((id, _)) => Ok(Done::DmRejected {
                channel: t.channel.clone(),
                id,
            }),
            None => Err(gone_dm(t)),
        }
    }

    fn revoke_allow(&self, t: &AllowTarget, now_ms: i64) -> Result<Done, ActionError> {
        let op = dm::Op::Revoke {
            account: dm::account_key(t.account.as_deref()),
            entry: t.entry.clone(),
        };
        if self.dm_write(&t.channel, op, now_ms)?.allow_changed {
            Ok(Done::AllowRevoked {
                channel: t.channel.clone(),
                entry: t.entry.clone(),
            })
        } else {
            Err(ActionError::Gone(format!(
                "{} is no longer on the {} allow-list",
                t.entry, t.channel
            )))
        }
    }

    fn act_blocking(&self, act: &Act, now_ms: i64) -> Result<Done, ActionError> {
        match act {
            Act::ApproveDm(t) => self.approve_dm(t, now_ms),
            Act::RejectDm(t) => self.reject_dm(t, now_ms),
            Act::RevokeAllow(t) => self.revoke_allow(t, now_ms),
            Act::ApproveDevice { .. }
            | Act::RejectDevice { .. }
            | Act::RemoveDevice { .. }
            | Act::ApproveNode { .. }
            | Act::RejectNode { .. } => Err(ActionError::Failed(
                "device decisions go through OpenClaw's gateway".into(),
            )),
        }
    }

    /// A device or node decision through OpenClaw's running gateway.
    async fn act_through_gateway(paths: Paths, act: Act) -> Result<Done, ActionError> {
        let gw = tokio::task::spawn_blocking(move || LocalGateway::find(&paths))
            .await
            .map_err(|e| ActionError::Failed(format!("internal error: {e}")))?;
        let s = gw
            .attach(&api::console_scopes())
            .await
            .map_err(ActionError::Failed)?;
        let s = Arc::new(s);
        let out = gateway::act_on(s.clone(), act).await;
        s.close().await;
        out
    }

    /// A DM decision through OpenClaw's gateway, when it runs, offers
    /// `channels.pairing.*` and lists the request; `None`: use the transaction.
    async fn dm_through_gateway(
        paths: Paths,
        t: &DmTarget,
        approve: bool,
    ) -> Option<Result<Done, ActionError>> {
        let gw = tokio::task::spawn_blocking(move || LocalGateway::find(&paths))
            .await
            .ok()?;
        gw.unavailable().is_none().then_some(())?;
        let channel = dm::channel_key(&t.channel)?;
        let account = dm::account_key(t.account.as_deref());
        let s = match gw.attach(&api::scopes(&[api::PAIRING])).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("OpenClaw's gateway: {e}; DM decision by the DM transaction");
                return None;
            }
        };
        let r = statedb::gateway::dm_decide(&s, approve, &channel, &account, &t.id).await;
        s.close().await;
        let sender = |p: &serde_json::Value| {
            p.get("senderId")
                .and_then(serde_json::Value::as_str)
                .map(|x| crate::operator::wire::bounded(x, 1024))
                .unwrap_or_else(|| t.id.clone())
        };
        match r {
            Ok(Some(p)) if approve => Some(Ok(Done::DmApproved {
                channel: t.channel.clone(),
                id: sender(&p),
            })),
            Ok(Some(p)) => Some(Ok(Done::DmRejected {
                channel: t.channel.clone(),
                id: sender(&p),
            })),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!("channels.pairing through OpenClaw's gateway: {e}; DM decision by the DM transaction");
                None
            }
        }
    }
}

/// The console's DM rows: what OpenClaw shows (live, at most three per account).
pub fn dm_snapshot(rows: &dm::DmRows, now_ms: i64) -> DmSnapshot {
    let requests = rows
        .visible(now_ms)
        .into_iter()
        .map(|r| DmRequest {
            channel: r.channel.clone(),
            account: Some(r.account.clone()),
            id: r.sender.clone(),
            code: r.code.clone(),
            created_at_ms: r.created_at_ms(),
            last_seen_at_ms: r.last_seen_at_ms(),
            meta: r
                .meta()
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
                .collect(),
            request_id: None,
        })
        .collect();
    let allow = rows
        .allow
        .iter()
        .map(|a| AllowList {
            channel: a.channel.clone(),
            account: Some(a.account.clone()),
            entries: a.entries.clone(),
        })
        .collect();
    DmSnapshot {
        requests,
        allow,
        errors: Vec::new(),
        unavailable: None,
    }
}

/// The console's device rows, with each node's pending capability surface.
pub fn device_snapshot(rows: devices::DeviceRows) -> DeviceSnapshot {
    let mut pending = rows
        .pending
        .into_iter()
        .map(|p| {
            let fresh = rows.fresh_ts.get(&p.request_id).copied();
            let mut r = device_request(p);
            if let Some(t) = fresh {
                r.ts = t;
            }
            r
        })
        .collect::<Vec<_>>();
    // A pending capability surface is also a request row (as the gateway
    // source shows `node.pair.list`): the console's card approves or rejects
    // it by `node.pair.*` through OpenClaw's gateway.
    for p in &rows.paired {
        if let Some(s) = devices::pending_surface(p) {
            pending.push(crate::app::rows::DeviceRequest {
                device_id: p.device_id.clone(),
                display_name: p.display_name.clone(),
                platform: p.platform.clone(),
                client_id: p.client_id.clone(),
                client_mode: p.client_mode.clone(),
                roles: vec!["node".into()],
                scopes: Vec::new(),
                remote_ip: p.remote_ip.clone(),
                is_repair: false,
                ts: s.ts.unwrap_or(p.approved_at_ms),
                surface: Some(crate::app::rows::NodeSurface {
                    required_scopes: s.required_scopes().iter().map(|x| x.to_string()).collect(),
                    caps: s.caps,
                    commands: s.commands,
                    version: s.version,
                }),
                request_id: s.request_id,
            });
        }
    }
    let paired = rows
        .paired
        .into_iter()
        .map(|p| {
            let surface = devices::pending_surface(&p).map(|s| PendingSurface {
                required_scopes: s.required_scopes().iter().map(|x| x.to_string()).collect(),
                request_id: s.request_id,
                caps: s.caps,
                commands: s.commands,
            });
            let mut d = paired_device(p);
            d.pending_surface = surface;
            d
        })
        .collect();
    DeviceSnapshot {
        pending,
        paired,
        errors: Vec::new(),
    }
}

fn gone_dm(t: &DmTarget) -> ActionError {
    ActionError::Gone(format!(
        "no pending {} request from {} any more (expired or resolved elsewhere)",
        t.channel, t.id
    ))
}

fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
    lost: impl FnOnce(String) -> T + Send + 'static,
) -> Pending<T> {
    Box::pin(async move {
        tokio::task::spawn_blocking(f)
            .await
            .unwrap_or_else(|e| lost(e.to_string()))
    })
}

/// The watcher thread's handle: dropping it stops the thread.
struct SqliteWatch {
    stop: Arc<AtomicBool>,
    alive: Arc<AtomicBool>,
    how: &'static str,
    _notify: Option<notify::RecommendedWatcher>,
}

impl Drop for SqliteWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Watching for SqliteWatch {
    fn alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }
    fn how(&self) -> &'static str {
        self.how
    }
}

fn digest<T: std::fmt::Debug>(v: &T) -> u64 {
    let mut h = DefaultHasher::new();
    format!("{v:?}").hash(&mut h);
    h.finish()
}

/// Hashes of what each part shows, to report only the part that changed.
fn part_digests(db: &std::path::Path) -> Option<(u64, u64)> {
    let now = crate::clock::now_ms();
    let s = StateDb::open_read(db).ok()?;
    let d = dm::read(&s).ok()?;
    let v = devices::read(&s, now).ok()?;
    Some((digest(&d), digest(&device_snapshot(v))))
}

/// How often the watcher looks whether OpenClaw's gateway listens.
const GATEWAY_PROBE: Duration = Duration::from_secs(2);

fn watch_loop(
    db: PathBuf,
    config_file: PathBuf,
    events: std::sync::mpsc::Receiver<()>,
    stop: Arc<AtomicBool>,
    alive: Arc<AtomicBool>,
    changed: Box<dyn Fn(Changed) + Send + Sync>,
) {
    let mut kept: Option<StateDb> = None;
    let mut version: Option<i64> = None;
    let mut last = part_digests(&db);
    // A commit writes its frames to -wal (the file event) before it updates
    // the WAL index in -shm (no event): after an event, look again every
    // 10 ms for 100 ms so a commit that was not yet visible is not missed.
    let mut rechecks = 0u32;
    let mut gateway: Option<(u16, bool)> = None;
    let mut probed: Option<std::time::Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        if probed.is_none_or(|t| t.elapsed() >= GATEWAY_PROBE) {
            probed = Some(std::time::Instant::now());
            let cfg = crate::openclaw_config::OpenClawConfig::load(&config_file);
            let port = statedb::gateway::configured_port(&cfg);
            let now = (port, statedb::gateway::listening(port));
            if gateway != Some(now) {
                gateway = Some(now);
                changed(Changed::OpenClawGateway {
                    port: now.0,
                    reachable: now.1,
                });
            }
        }
        let wait = if rechecks > 0 {
            rechecks -= 1;
            Duration::from_millis(10)
        } else {
            Duration::from_millis(500)
        };
        let event = match events.recv_timeout(wait) {
            Ok(()) => {
                // Coalesce a burst (a commit touches -wal several times).
                std::thread::sleep(Duration::from_millis(2));
                while events.try_recv().is_ok() {}
                rechecks = 10;
                true
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => false,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(500));
                false
            }
        };
        // A live database gets a kept connection for data_version; a
        // quiescent one (no -wal) is only re-read on file events.
        if kept.as_ref().is_none_or(|k| k.mode != ReadMode::Live) {
            kept = StateDb::open_read(&db)
                .ok()
                .filter(|k| k.mode == ReadMode::Live);
            version = None;
        }
        let confirmed = match kept.as_ref().map(StateDb::data_version) {
            Some(Ok(v)) => {
                let moved = version != Some(v);
                version = Some(v);
                moved
            }
            Some(Err(_)) => {
                kept = None;
                true
            }
            None => event,
        };
        if !confirmed {
            continue;
        }
        let now = part_digests(&db);
        match (last, now) {
            (Some((d0, v0)), Some((d1, v1))) => {
                if d0 != d1 {
                    changed(Changed::Dm);
                }
                if v0 != v1 {
                    changed(Changed::Devices);
                }
            }
            _ => {
                changed(Changed::Dm);
                changed(Changed::Devices);
            }
        }
        last = now;
    }
    alive.store(false, Ordering::Relaxed);
}

impl Source for SqliteSource {
    fn info(&self) -> SourceInfo {
        let version = StateDb::open_read(&self.db)
            .map(|d| d.schema.user_version)
            .unwrap_or(0);
        let leftovers = statedb::legacy_leftovers(&self.paths).len();
        let mut location = format!(
            "{} · OpenClaw SQLite v{version}",
            super::pretty_dir(&self.paths.state_dir)
        );
        if leftovers > 0 {
            location.push_str(&format!(
                " · {leftovers} legacy JSON file{} (clawpair doctor)",
                if leftovers == 1 { "" } else { "s" }
            ));
        }
        SourceInfo {
            kind: SourceKind::Sqlite {
                user_version: version,
            },
            location,
        }
    }

    fn watch(
        &self,
        force_poll: bool,
        changed: Box<dyn Fn(Changed) + Send + Sync>,
    ) -> Box<dyn Watching> {
        use notify::Watcher;
        let (tx, rx) = std::sync::mpsc::channel();
        let dir = crate::fsutil::parent_of(&self.db);
        let names: Vec<std::ffi::OsString> = ["", "-wal"]
            .iter()
            .filter_map(|s| {
                statedb::sibling(&self.db, s)
                    .file_name()
                    .map(|n| n.to_owned())
            })
            .collect();
        let mut how = "data_version polling";
        let native = if force_poll {
            None
        } else {
            let tx = tx.clone();
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if let Ok(ev) = res {
                    if ev.kind.is_access() {
                        return;
                    }
                    if ev
                        .paths
                        .iter()
                        .any(|p| p.file_name().is_some_and(|n| names.iter().any(|w| w == n)))
                    {
                        let _ = tx.send(());
                    }
                }
            })
            .ok()
            .and_then(|mut w| {
                w.watch(&dir, notify::RecursiveMode::NonRecursive)
                    .ok()
                    .map(|_| w)
            })
        };
        if native.is_some() {
            how = "native events + data_version";
        }
        drop(tx);
        let stop = Arc::new(AtomicBool::new(false));
        let alive = Arc::new(AtomicBool::new(true));
        let (s, a, db) = (stop.clone(), alive.clone(), self.db.clone());
        let config_file = self.paths.config_file.clone();
        let spawned = std::thread::Builder::new()
            .name("sqlite-watch".into())
            .spawn(move || watch_loop(db, config_file, rx, s, a, changed));
        if spawned.is_err() {
            alive.store(false, Ordering::Relaxed);
        }
        Box::new(SqliteWatch {
            stop,
            alive,
            how,
            _notify: native,
        })
    }

    fn load_dm(self: Arc<Self>, now_ms: i64) -> Pending<Result<DmSnapshot, String>> {
        blocking(
            move || self.read_dm(now_ms),
            |e| Err(format!("reading the state database failed: {e}")),
        )
    }

    fn load_devices(self: Arc<Self>, now_ms: i64) -> Pending<Result<DeviceSnapshot, String>> {
        blocking(
            move || self.read_devices(now_ms),
            |e| Err(format!("reading the state database failed: {e}")),
        )
    }

    fn act(self: Arc<Self>, act: Act, now_ms: i64) -> Pending<Result<Done, ActionError>> {
        Box::pin(async move {
            match &act {
                Act::ApproveDevice { .. }
                | Act::RejectDevice { .. }
                | Act::RemoveDevice { .. }
                | Act::ApproveNode { .. }
                | Act::RejectNode { .. } => {
                    return Self::act_through_gateway(self.paths.clone(), act).await
                }
                Act::ApproveDm(t) | Act::RejectDm(t) => {
                    let approve = matches!(act, Act::ApproveDm(_));
                    if let Some(done) =
                        Self::dm_through_gateway(self.paths.clone(), t, approve).await
                    {
                        return done;
                    }
                }
                Act::RevokeAllow(_) => {}
            }
            blocking(
                move || self.act_blocking(&act, now_ms),
                |e| Err(ActionError::Failed(format!("internal error: {e}"))),
            )
            .await
        })
    }

    fn issue_setup_code(
        self: Arc<Self>,
        _listening_port: Option<u16>,
        _now_ms: i64,
    ) -> Pending<Result<(SetupCode, Option<String>), String>> {
        Box::pin(async move {
            Err(
                "on an OpenClaw 2026.9 state dir setup codes are bootstrap tokens of OpenClaw's \
                 gateway: run `openclaw qr`"
                    .to_string(),
            )
        })
    }
}
