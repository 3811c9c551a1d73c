//! The adapter between the console's view types and the real stores. Every
//! call here does file I/O and runs on a blocking thread.

use crate::app::state::RowKey;
use crate::app::view::{
    AllowList, DeviceRequest, DeviceSnapshot, DmRequest, DmSnapshot, PairedDevice, TokenState,
};
use crate::devices::model;
use crate::devices::store::DeviceStore;
use crate::dm::store::DmStore;
use crate::paths::Paths;

pub struct Backend {
    dm: DmStore,
    devices: DeviceStore,
    paths: Paths,
    /// Gateway bind address and port, for the URL inside setup codes.
    bind: String,
    port: u16,
}

impl Backend {
    pub fn new(paths: &Paths, bind: &str, port: u16) -> Backend {
        Backend {
            dm: DmStore::for_paths(paths),
            devices: DeviceStore::new(paths.devices_dir.clone()),
            paths: paths.clone(),
            bind: bind.to_string(),
            port,
        }
    }

    /// A new one-time setup token for the gateway, encoded with its URL.
    /// Returns the code and, when only loopback could be offered, a warning.
    pub fn issue_setup_code(
        &self,
        port: Option<u16>,
        now_ms: i64,
    ) -> Result<(crate::app::view::SetupCode, Option<String>), String> {
        use crate::gateway::setup;
        let chosen = setup::choose_url(None, &self.bind, port.unwrap_or(self.port))?;
        let t =
            setup::create(&self.paths, setup::DEFAULT_TTL_MS, now_ms).map_err(|e| e.to_string())?;
        Ok((
            crate::app::view::SetupCode {
                code: setup::encode(&chosen.url, &t.token),
                url: chosen.url,
                expires_at_ms: t.expires_at_ms,
            },
            chosen
                .warning
                .map(|_| "Loopback URL: this code works only on this machine".to_string()),
        ))
    }

    pub fn load_dm(&self, now_ms: i64) -> Result<DmSnapshot, String> {
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

    pub fn approve_dm(&self, key: &RowKey, code: &str, now_ms: i64) -> Result<String, String> {
        let (channel, account, id) = dm_key(key)?;
        match self
            .dm
            .approve(channel, code, account, now_ms)
            .map_err(|e| e.to_string())?
        {
            Some(a) => Ok(format!("Approved {} on {channel}", a.id)),
            None => Err(gone_dm(channel, id)),
        }
    }

    pub fn reject_dm(&self, key: &RowKey, code: &str, now_ms: i64) -> Result<String, String> {
        let (channel, account, id) = dm_key(key)?;
        match self
            .dm
            .reject(channel, code, account, now_ms)
            .map_err(|e| e.to_string())?
        {
            Some(_) => Ok(format!("Rejected {id} on {channel}")),
            None => Err(gone_dm(channel, id)),
        }
    }

    pub fn revoke_allow(&self, key: &RowKey, _now_ms: i64) -> Result<String, String> {
        let RowKey::Allow {
            channel,
            account,
            entry,
        } = key
        else {
            return Err("not an allow-list entry".into());
        };
        if self
            .dm
            .allow_remove(channel, account.as_deref(), entry)
            .map_err(|e| e.to_string())?
        {
            Ok(format!("Removed {entry} from the {channel} allow-list"))
        } else {
            Err(format!("{entry} is no longer on the {channel} allow-list"))
        }
    }

    pub fn load_devices(&self, now_ms: i64) -> Result<DeviceSnapshot, String> {
        let st = self.devices.load(now_ms).map_err(|e| e.to_string())?;
        Ok(DeviceSnapshot {
            pending: st.pending.into_iter().map(device_request).collect(),
            paired: st.paired.into_iter().map(paired_device).collect(),
            errors: Vec::new(),
        })
    }

    pub fn approve_device(&self, request_id: &str, now_ms: i64) -> Result<String, String> {
        let a = self
            .devices
            .approve(request_id, now_ms)
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "Approved {} (key {})",
            crate::sanitize::for_terminal(a.device.display_name.as_deref().unwrap_or("device")),
            model::short_fingerprint(&a.device.device_id)
        ))
    }

    pub fn reject_device(&self, request_id: &str, now_ms: i64) -> Result<String, String> {
        let r = self
            .devices
            .reject(request_id, now_ms)
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "Rejected the request of device {}",
            model::short_fingerprint(&r.device_id)
        ))
    }

    pub fn remove_device(&self, device_id: &str, now_ms: i64) -> Result<String, String> {
        self.devices
            .remove(device_id, now_ms)
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "Removed device {}",
            model::short_fingerprint(device_id)
        ))
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
    let token_state = if !active_roles.is_empty() {
        TokenState::Active
    } else if any {
        TokenState::Revoked
    } else {
        TokenState::None
    };
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
    }
}

/// The channel, account and sender of a DM row.
fn dm_key(key: &RowKey) -> Result<(&str, Option<&str>, &str), String> {
    match key {
        RowKey::Dm {
            channel,
            account,
            id,
        } => Ok((channel, account.as_deref(), id)),
        _ => Err("not a DM request".into()),
    }
}

fn gone_dm(channel: &str, id: &str) -> String {
    format!("no pending {channel} request from {id} any more (expired or resolved elsewhere)")
}
