//! The OpenClaw 2026.2.26 state files as a [`Source`]: `credentials/` (DM
//! pairing) and `devices/` (device pairing) through the DM and device
//! stores, watched with `notify`. Every store call does file I/O and runs on
//! a blocking thread.

use std::sync::Arc;

use super::{Changed, Pending, Source, SourceInfo, SourceKind, Watching};
use crate::app::effect::{Act, ActionError, AllowTarget, DmTarget, Done};
use crate::app::rows::{
    AllowList, DeviceRequest, DeviceSnapshot, DmRequest, DmSnapshot, PairedDevice, SetupCode,
    TokenState,
};
use crate::devices::model;
use crate::devices::store::DeviceStore;
use crate::dm::store::DmStore;
use crate::error::StoreError;
use crate::paths::Paths;
use crate::runtime::watcher;

pub struct FileSource {
    dm: DmStore,
    devices: DeviceStore,
    paths: Paths,
    /// Gateway bind address and port, for the URL inside setup codes.
    bind: String,
    port: u16,
}

impl FileSource {
    pub fn new(paths: &Paths, bind: &str, port: u16) -> FileSource {
        FileSource {
            dm: DmStore::for_paths(paths),
            devices: DeviceStore::new(paths.devices_dir.clone()),
            paths: paths.clone(),
            bind: bind.to_string(),
            port,
        }
    }

    /// A new one-time setup token (2026.9 format) for the console's own
    /// gateway, with the address, port and certificate of the gateway that
    /// is actually listening (`listening_port`); refused when it is not, since
    /// nothing could redeem the code. Returns the code and a short warning
    /// (loopback only; cleartext to a LAN address).
    fn setup_code(
        &self,
        listening_port: Option<u16>,
        now_ms: i64,
    ) -> Result<(SetupCode, Option<String>), String> {
        use crate::gateway::{advert, setup};
        let Some(port) = listening_port else {
            return Err(self.not_listening());
        };
        // Written by the gateway of this very process once it listened.
        let ad = advert::read(&self.paths).filter(|a| a.port == port);
        let tls = ad.as_ref().and_then(|a| a.tls_fingerprint.clone());
        let bind = ad.map(|a| a.bind).unwrap_or_else(|| self.bind.clone());
        let chosen = setup::choose_url(None, &bind, port, tls.is_some(), true)?;
        let t =
            setup::create(&self.paths, setup::DEFAULT_TTL_MS, now_ms).map_err(|e| e.to_string())?;
        let fp = tls.filter(|_| chosen.url.starts_with("wss://"));
        Ok((
            SetupCode {
                code: setup::encode_v4(&chosen.url, &t.token, t.expires_at_ms, fp.as_deref()),
                url: chosen.url,
                expires_at_ms: t.expires_at_ms,
            },
            chosen.toast.map(str::to_string),
        ))
    }

    /// Why no code is issued while the console's gateway does not listen,
    /// and what to do instead.
    fn not_listening(&self) -> String {
        let host = if self.bind == "0.0.0.0" || self.bind == "::" {
            "127.0.0.1"
        } else {
            self.bind.as_str()
        };
        if crate::gateway::advert::port_listening(self.port) {
            format!(
                "PORT BUSY: another gateway listens on {}:{}, not this console's, so a code \
                 issued here could not be redeemed. Issue it from that gateway (`openclaw qr` for \
                 OpenClaw), or attach this console to it: clawpair --url ws://{host}:{} --token …",
                self.bind, self.port, self.port
            )
        } else {
            "This console's gateway is not running, so a code issued here could not be redeemed. \
             Start it (`clawpair` without --no-gateway, or `clawpair gateway`), or attach to a \
             running gateway: clawpair --url ws://HOST:PORT --token …"
                .to_string()
        }
    }

    fn read_dm(&self, now_ms: i64) -> Result<DmSnapshot, String> {
        let mut snap = DmSnapshot::default();
        let channels = self.dm.channels().map_err(|e| e.to_string())?;
        for ch in channels {
            if ch.pairing.is_none() {
                continue;
            }
            match self.dm.read_requests(&ch.channel, now_ms) {
                Ok(reqs) => snap.requests.extend(reqs.into_iter().map(|r| DmRequest {
                    channel: ch.channel.clone(),
                    account: r.account,
                    id: r.id,
                    code: r.code,
                    created_at_ms: r.created_at_ms,
                    last_seen_at_ms: r.last_seen_at_ms,
                    meta: r.meta,
                    request_id: None,
                })),
                Err(e) => snap.errors.push(e.to_string()),
            }
        }
        match self.dm.allowlists() {
            Ok(lists) => {
                for l in lists {
                    if let Some(e) = l.error {
                        snap.errors.push(e);
                    }
                    snap.allow.push(AllowList {
                        channel: l.channel,
                        account: l.account,
                        entries: l.entries,
                    });
                }
            }
            Err(e) => snap.errors.push(e.to_string()),
        }
        Ok(snap)
    }

    fn approve_dm(&self, t: &DmTarget, now_ms: i64) -> Result<Done, ActionError> {
        match self
            .dm
            .approve(&t.channel, &t.code, t.account.as_deref(), now_ms)
            .map_err(failed)?
        {
            Some(a) => Ok(Done::DmApproved {
                channel: t.channel.clone(),
                id: a.id,
            }),
            None => Err(gone_dm(t)),
        }
    }

    fn reject_dm(&self, t: &DmTarget, now_ms: i64) -> Result<Done, ActionError> {
        match self
            .dm
            .reject(&t.channel, &t.code, t.account.as_deref(), now_ms)
            .map_err(failed)?
        {
            Some(_) => Ok(Done::DmRejected {
                channel: t.channel.clone(),
                id: t.id.clone(),
            }),
            None => Err(gone_dm(t)),
        }
    }

    fn revoke_allow(&self, t: &AllowTarget) -> Result<Done, ActionError> {
        if self
            .dm
            .allow_remove(&t.channel, t.account.as_deref(), &t.entry)
            .map_err(failed)?
        {
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

    fn read_devices(&self, now_ms: i64) -> Result<DeviceSnapshot, String> {
        let st = self.devices.load(now_ms).map_err(|e| e.to_string())?;
        Ok(DeviceSnapshot {
            pending: st.pending.into_iter().map(device_request).collect(),
            paired: st.paired.into_iter().map(paired_device).collect(),
            errors: Vec::new(),
        })
    }

    fn approve_device(&self, request_id: &str, now_ms: i64) -> Result<Done, ActionError> {
        let a = self.devices.approve(request_id, now_ms).map_err(failed)?;
        Ok(Done::DeviceApproved {
            device_id: a.device.device_id,
            display_name: a.device.display_name,
        })
    }

    fn reject_device(&self, request_id: &str, now_ms: i64) -> Result<Done, ActionError> {
        let r = self.devices.reject(request_id, now_ms).map_err(failed)?;
        Ok(Done::DeviceRejected {
            device_id: r.device_id,
        })
    }

    fn remove_device(&self, device_id: &str, now_ms: i64) -> Result<Done, ActionError> {
        self.devices.remove(device_id, now_ms).map_err(failed)?;
        Ok(Done::DeviceRemoved {
            device_id: device_id.to_string(),
        })
    }

    fn act_blocking(&self, act: &Act, now_ms: i64) -> Result<Done, ActionError> {
        match act {
            Act::ApproveDm(t) => self.approve_dm(t, now_ms),
            Act::RejectDm(t) => self.reject_dm(t, now_ms),
            Act::RevokeAllow(t) => self.revoke_allow(t),
            Act::ApproveDevice { request_id } => self.approve_device(request_id, now_ms),
            Act::RejectDevice { request_id } => self.reject_device(request_id, now_ms),
            Act::RemoveDevice { device_id } => self.remove_device(device_id, now_ms),
            Act::ApproveNode { .. } | Act::RejectNode { .. } => Err(ActionError::Failed(
                "node capability surfaces are decided through an OpenClaw 2026.9 gateway (clawpair --url)".into(),
            )),
        }
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(x.clone()));
    v
}

pub fn device_request(p: model::PendingRequest) -> DeviceRequest {
    let mut roles: Vec<String> = p.role.iter().cloned().collect();
    roles.extend(p.roles.clone().unwrap_or_default());
    DeviceRequest {
        request_id: p.request_id,
        device_id: p.device_id,
        display_name: p.display_name,
        platform: p.platform,
        client_id: p.client_id,
        client_mode: p.client_mode,
        roles: dedup(roles),
        scopes: p.scopes.unwrap_or_default(),
        remote_ip: p.remote_ip,
        is_repair: p.is_repair,
        ts: p.ts,
        surface: None,
    }
}

pub fn paired_device(p: model::PairedDevice) -> PairedDevice {
    let roles = p.all_roles();
    let mut active_roles = Vec::new();
    let mut any = false;
    let mut last_used: Option<i64> = None;
    if let Some(tokens) = &p.tokens {
        for (role, t) in tokens.iter() {
            any = true;
            if t.revoked_at_ms.is_none() {
                active_roles.push(role.clone());
            }
            if let Some(u) = t.last_used_at_ms {
                last_used = Some(last_used.map_or(u, |l: i64| l.max(u)));
            }
        }
    }
    let token_state = TokenState::of(!active_roles.is_empty(), any);
    PairedDevice {
        scopes: p
            .approved_scopes
            .clone()
            .or(p.scopes.clone())
            .unwrap_or_default(),
        device_id: p.device_id,
        display_name: p.display_name,
        platform: p.platform,
        client_id: p.client_id,
        roles,
        token_state,
        active_roles,
        last_used_ms: last_used,
        approved_at_ms: p.approved_at_ms,
        pending_surface: None,
    }
}

fn failed(e: StoreError) -> ActionError {
    ActionError::Failed(e.to_string())
}

fn gone_dm(t: &DmTarget) -> ActionError {
    ActionError::Gone(format!(
        "no pending {} request from {} any more (expired or resolved elsewhere)",
        t.channel, t.id
    ))
}

/// Runs `f` on a blocking thread (every store call does file I/O).
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

impl Source for FileSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: SourceKind::Files,
            location: super::pretty_dir(&self.paths.state_dir),
        }
    }

    fn watch(
        &self,
        force_poll: bool,
        changed: Box<dyn Fn(Changed) + Send + Sync>,
    ) -> Box<dyn Watching> {
        let handle = watcher::spawn(
            self.paths.credentials_dir.clone(),
            self.paths.devices_dir.clone(),
            force_poll,
            move |c| {
                changed(match c {
                    watcher::Changed::Dm => Changed::Dm,
                    watcher::Changed::Devices => Changed::Devices,
                })
            },
        );
        if handle.kind == watcher::Kind::Poll {
            tracing::info!("watching the state dir by polling");
        }
        Box::new(handle)
    }

    fn load_dm(self: Arc<Self>, now_ms: i64) -> Pending<Result<DmSnapshot, String>> {
        blocking(
            move || self.read_dm(now_ms),
            |e| Err(format!("reading credentials failed: {e}")),
        )
    }

    fn load_devices(self: Arc<Self>, now_ms: i64) -> Pending<Result<DeviceSnapshot, String>> {
        blocking(
            move || self.read_devices(now_ms),
            |e| Err(format!("reading devices failed: {e}")),
        )
    }

    fn act(self: Arc<Self>, act: Act, now_ms: i64) -> Pending<Result<Done, ActionError>> {
        blocking(
            move || self.act_blocking(&act, now_ms),
            |e| Err(ActionError::Failed(format!("internal error: {e}"))),
        )
    }

    fn issue_setup_code(
        self: Arc<Self>,
        listening_port: Option<u16>,
        now_ms: i64,
    ) -> Pending<Result<(SetupCode, Option<String>), String>> {
        blocking(move || self.setup_code(listening_port, now_ms), Err)
    }
}

impl Watching for watcher::WatchHandle {
    fn alive(&self) -> bool {
        watcher::WatchHandle::alive(self)
    }
    fn how(&self) -> &'static str {
        match self.kind {
            watcher::Kind::Native => "native events",
            watcher::Kind::Poll => "polling",
        }
    }
}
