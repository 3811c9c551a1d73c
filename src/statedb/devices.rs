//! Device pairing in SQLite: `device_pairing_pending` and
//! `device_pairing_paired` (spec openclaw-2026.9 §5) read into the
//! 2026.2.26 records of [`crate::devices::model`], so `devices list --json`
//! prints the same shapes on both generations. Columns 2026.2.26 did not
//! have go into `extra` under OpenClaw's camelCase names (`approvedVia`,
//! `operatorLabel`, `nodeSurface`, `pendingNodeSurface`, `lastSeenAtMs`, …).
//!
//! Read-only: OpenClaw's gateway owns these tables (a device approval mints
//! tokens and sets scope baselines and surfaces exactly as the gateway does;
//! spec §5.3 "do not approve devices by SQL").
//!
//! Secrets: `tokens_json` is parsed for the token records' roles, scopes and
//! times; every token string is blanked right after parsing, so nothing
//! built here can show, log or copy one.

use rusqlite::Connection;
use serde_json::{Map, Value};

use super::{DbError, StateDb};
use crate::devices::model::{PairedDevice, PendingRequest, TokenMap, PENDING_TTL_MS};

/// A pending node capability surface (spec §11): the second approval a
/// paired node needs before its commands work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSurfaceRequest {
    pub request_id: String,
    pub caps: Vec<String>,
    pub commands: Vec<String>,
    pub version: Option<String>,
    pub ts: Option<i64>,
}

impl NodeSurfaceRequest {
    pub fn from_json(v: &Value) -> Option<NodeSurfaceRequest> {
        let strings = |k: &str| crate::operator::api::strs(v, k);
        Some(NodeSurfaceRequest {
            request_id: v.get("requestId")?.as_str()?.to_string(),
            caps: strings("caps"),
            commands: strings("commands"),
            version: v.get("version").and_then(Value::as_str).map(str::to_string),
            ts: v.get("ts").and_then(Value::as_i64),
        })
    }

    /// Who may approve it (spec §11): admin for `system.run*` /
    /// `system.execApprovals.*`, write for other commands, pairing alone for none.
    pub fn required_scopes(&self) -> Vec<&'static str> {
        let admin = self
            .commands
            .iter()
            .any(|c| c.starts_with("system.run") || c.starts_with("system.execApprovals."));
        if admin {
            vec!["operator.pairing", "operator.admin"]
        } else if !self.commands.is_empty() {
            vec!["operator.pairing", "operator.write"]
        } else {
            vec!["operator.pairing"]
        }
    }
}

/// Both device tables, as 2026.2.26 records (expired requests left out).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceRows {
    pub pending: Vec<PendingRequest>,
    pub paired: Vec<PairedDevice>,
    /// `refreshed_at_ms` of requests a later connect refreshed: their expiry
    /// counts from it (never shown: the RPCs do not show it either).
    pub fresh_ts: std::collections::HashMap<String, i64>,
}

/// The values `approved_via` may hold; anything else reads as absent (spec §5.2).
const APPROVED_VIA: &[&str] = &[
    "owner",
    "silent",
    "trusted-cidr",
    "trusted-proxy",
    "ssh-verified",
    "bootstrap",
];

/// Reads both device tables in one short read transaction. A request
/// expires five minutes after `refreshed_at_ms`, else `ts` (spec §5.1).
pub fn read(db: &StateDb, now_ms: i64) -> Result<DeviceRows, DbError> {
    db.read(|c| read_rows(c, now_ms))
}

fn json_list(s: Option<String>) -> Option<Vec<String>> {
    let v: Value = serde_json::from_str(s.as_deref()?).ok()?;
    Some(
        v.as_array()?
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
    )
}

fn json_value(s: Option<String>) -> Option<Value> {
    serde_json::from_str(s.as_deref()?).ok()
}

fn put(extra: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        extra.insert(key.into(), v);
    }
}

/// Tokens without their secrets.
fn tokens(s: Option<String>) -> Option<TokenMap> {
    let mut map: TokenMap = serde_json::from_str(s.as_deref()?).ok()?;
    for (_, rec) in map.0.iter_mut() {
        rec.token = String::new();
    }
    Some(map)
}

fn read_rows(conn: &Connection, now_ms: i64) -> rusqlite::Result<DeviceRows> {
    let mut st = conn.prepare(
        "SELECT request_id, device_id, public_key, display_name, platform, device_family, \
         client_id, client_mode, browser_origin, role, roles_json, scopes_json, remote_ip, \
         silent, is_repair, ts, refreshed_at_ms FROM device_pairing_pending \
         ORDER BY ts DESC, request_id",
    )?;
    let mut pending = Vec::new();
    let mut fresh_ts = std::collections::HashMap::new();
    let rows = st.query_map([], |r| {
        let mut extra = Map::new();
        put(
            &mut extra,
            "browserOrigin",
            r.get::<_, Option<String>>(8)?.map(Value::from),
        );
        let ts: i64 = r.get(15)?;
        let refreshed: Option<i64> = r.get(16)?;
        Ok((
            PendingRequest {
                request_id: r.get(0)?,
                device_id: r.get(1)?,
                public_key: r.get(2)?,
                display_name: r.get(3)?,
                platform: r.get(4)?,
                device_family: r.get(5)?,
                client_id: r.get(6)?,
                client_mode: r.get(7)?,
                role: r.get(9)?,
                roles: json_list(r.get(10)?),
                scopes: json_list(r.get(11)?),
                remote_ip: r.get(12)?,
                silent: r.get::<_, Option<i64>>(13)?.unwrap_or(0) != 0,
                is_repair: r.get::<_, Option<i64>>(14)?.unwrap_or(0) != 0,
                ts,
                extra,
            },
            refreshed.unwrap_or(ts),
        ))
    })?;
    for row in rows {
        let (p, fresh) = row?;
        if now_ms.saturating_sub(fresh) <= PENDING_TTL_MS {
            if fresh != p.ts {
                fresh_ts.insert(p.request_id.clone(), fresh);
            }
            pending.push(p);
        }
    }
    let mut st = conn.prepare(
        "SELECT device_id, public_key, display_name, operator_label, platform, device_family, \
         client_id, client_mode, browser_origin, role, roles_json, scopes_json, \
         approved_scopes_json, remote_ip, tokens_json, approved_via, node_surface_json, \
         pending_node_surface_json, created_at_ms, approved_at_ms, last_seen_at_ms, \
         last_seen_reason FROM device_pairing_paired ORDER BY approved_at_ms DESC, device_id",
    )?;
    let paired = st
        .query_map([], |r| {
            let mut extra = Map::new();
            put(
                &mut extra,
                "operatorLabel",
                r.get::<_, Option<String>>(3)?.map(Value::from),
            );
            put(
                &mut extra,
                "browserOrigin",
                r.get::<_, Option<String>>(8)?.map(Value::from),
            );
            let via: Option<String> = r.get(15)?;
            put(
                &mut extra,
                "approvedVia",
                via.filter(|v| APPROVED_VIA.contains(&v.as_str()))
                    .map(Value::from),
            );
            put(&mut extra, "nodeSurface", json_value(r.get(16)?));
            put(&mut extra, "pendingNodeSurface", json_value(r.get(17)?));
            put(
                &mut extra,
                "lastSeenAtMs",
                r.get::<_, Option<i64>>(20)?.map(Value::from),
            );
            put(
                &mut extra,
                "lastSeenReason",
                r.get::<_, Option<String>>(21)?.map(Value::from),
            );
            Ok(PairedDevice {
                device_id: r.get(0)?,
                public_key: r.get(1)?,
                display_name: r.get(2)?,
                platform: r.get(4)?,
                device_family: r.get(5)?,
                client_id: r.get(6)?,
                client_mode: r.get(7)?,
                role: r.get(9)?,
                roles: json_list(r.get(10)?),
                scopes: json_list(r.get(11)?),
                approved_scopes: json_list(r.get(12)?),
                remote_ip: r.get(13)?,
                tokens: tokens(r.get(14)?),
                created_at_ms: r.get(18)?,
                approved_at_ms: r.get(19)?,
                extra,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(DeviceRows {
        pending,
        paired,
        fresh_ts,
    })
}

/// The pending capability surface of a paired device, if one waits.
pub fn pending_surface(d: &PairedDevice) -> Option<NodeSurfaceRequest> {
    d.extra
        .get("pendingNodeSurface")
        .and_then(NodeSurfaceRequest::from_json)
}
