//! The pairing RPCs as an operator calls them, and their payloads as the
//! console's rows. Scopes are the least each action needs (spec
//! openclaw-2026.9 §8.4, §9): `operator.pairing` for lists and operator
//! approvals; `operator.admin` when the gateway answers `device pairing
//! approval denied` (a non-operator request on 2026.9); a node surface needs
//! `operator.pairing` plus the request's `requiredApproveScopes`.
//!
//! Payload parsing is tolerant (a missing field is absent, not an error) and
//! bounded: lists are capped, kept strings cut, so a hostile gateway cannot
//! make the rows grow without bound.

use std::time::Duration;

use serde_json::Value;

use super::session::RpcError;
use super::wire::bounded;
use crate::app::rows::{
    DeviceRequest, DeviceSnapshot, DmRequest, DmSnapshot, NodeSurface, PairedDevice, TokenState,
};

pub const PAIRING: &str = "operator.pairing";
pub const ADMIN: &str = "operator.admin";
/// How long one RPC may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Most rows taken from one list.
pub const MAX_ROWS: usize = 100_000;
/// Longest kept string of a row (ids, names, platforms, scopes).
const MAX_FIELD: usize = 1024;
/// Most entries of a row's lists (roles, scopes, caps, commands).
const MAX_LIST: usize = 256;

/// The scopes of the console's connection: what its actions need.
pub fn console_scopes() -> Vec<String> {
    vec![PAIRING.to_string(), ADMIN.to_string()]
}

pub fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Whether an answer means "ask again with `operator.admin`".
pub fn needs_admin(e: &RpcError) -> bool {
    match e {
        RpcError::Gateway(g) => {
            // 2026.9 (and clawpair's gateway on protocol 4): a node's
            // approval or rejection, removal by a device caller, and any
            // non-operator token's rotation or revocation need operator.admin.
            [
                "approval denied",
                "rejection denied",
                "removal denied",
                "rotation denied",
                "revocation denied",
                "missing scope: operator.admin",
            ]
            .iter()
            .any(|m| g.message.contains(m))
        }
        _ => false,
    }
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .map(|x| bounded(x, MAX_FIELD))
}

/// The strings of array `k` of `v` (others skipped), at most 256 of at most
/// 1 KiB each: what every reader of a peer's or a file's string list uses.
pub fn strs(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .take(MAX_LIST)
                .map(|x| bounded(x, MAX_FIELD))
                .collect()
        })
        .unwrap_or_default()
}

fn int(v: &Value, k: &str) -> Option<i64> {
    v.get(k)
        .and_then(|n| n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)))
}

fn items<'a>(v: &'a Value, k: &str) -> impl Iterator<Item = &'a Value> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| a.as_slice())
        .unwrap_or(&[])
        .iter()
        .take(MAX_ROWS)
}

fn roles_of(v: &Value) -> Vec<String> {
    let mut roles: Vec<String> = s(v, "role").into_iter().collect();
    for r in strs(v, "roles") {
        if !roles.contains(&r) {
            roles.push(r);
        }
    }
    roles
}

/// A `device.pair.list` pending entry.
pub fn device_request(v: &Value) -> Option<DeviceRequest> {
    Some(DeviceRequest {
        request_id: s(v, "requestId").filter(|x| !x.is_empty())?,
        device_id: s(v, "deviceId").filter(|x| !x.is_empty())?,
        display_name: s(v, "displayName"),
        platform: s(v, "platform"),
        client_id: s(v, "clientId"),
        client_mode: s(v, "clientMode"),
        roles: roles_of(v),
        scopes: strs(v, "scopes"),
        remote_ip: s(v, "remoteIp"),
        is_repair: v.get("isRepair").and_then(Value::as_bool).unwrap_or(false),
        ts: int(v, "ts").unwrap_or(0),
        surface: None,
    })
}

/// A `device.pair.list` paired entry (`tokens` as the redacted array).
pub fn paired_device(v: &Value) -> Option<PairedDevice> {
    let mut active_roles = Vec::new();
    let mut any = false;
    let mut last_used: Option<i64> = None;
    for t in items(v, "tokens").take(MAX_LIST) {
        any = true;
        let role = s(t, "role").unwrap_or_default();
        if t.get("revokedAtMs").is_none_or(Value::is_null) {
            active_roles.push(role);
        }
        if let Some(u) = int(t, "lastUsedAtMs") {
            last_used = Some(last_used.map_or(u, |l| l.max(u)));
        }
    }
    let token_state = TokenState::of(!active_roles.is_empty(), any);
    Some(PairedDevice {
        device_id: s(v, "deviceId").filter(|x| !x.is_empty())?,
        display_name: s(v, "operatorLabel").or_else(|| s(v, "displayName")),
        platform: s(v, "platform"),
        client_id: s(v, "clientId"),
        roles: roles_of(v),
        scopes: strs(v, "scopes"),
        token_state,
        active_roles,
        last_used_ms: last_used.or_else(|| int(v, "lastSeenAtMs")),
        approved_at_ms: int(v, "approvedAtMs").unwrap_or(0),
        // A gateway's pending surfaces come as their own rows (node.pair.list).
        pending_surface: None,
    })
}

/// A `node.pair.list` pending entry (or a `node.pair.requested` payload).
pub fn surface_request(v: &Value) -> Option<DeviceRequest> {
    Some(DeviceRequest {
        request_id: s(v, "requestId").filter(|x| !x.is_empty())?,
        device_id: s(v, "nodeId").filter(|x| !x.is_empty())?,
        display_name: s(v, "displayName"),
        platform: s(v, "platform"),
        client_id: s(v, "clientId"),
        client_mode: s(v, "clientMode"),
        roles: vec!["node".into()],
        scopes: Vec::new(),
        remote_ip: s(v, "remoteIp"),
        is_repair: false,
        ts: int(v, "ts").unwrap_or(0),
        surface: Some(NodeSurface {
            caps: strs(v, "caps"),
            commands: strs(v, "commands"),
            required_scopes: strs(v, "requiredApproveScopes"),
            version: s(v, "version"),
        }),
    })
}

/// `device.pair.list` (and `node.pair.list`, when the gateway has it) as rows.
pub fn device_snapshot(list: &Value, nodes: Option<&Value>) -> DeviceSnapshot {
    let mut pending: Vec<DeviceRequest> =
        items(list, "pending").filter_map(device_request).collect();
    if let Some(n) = nodes {
        pending.extend(items(n, "pending").filter_map(surface_request));
    }
    DeviceSnapshot {
        pending,
        paired: items(list, "paired").filter_map(paired_device).collect(),
        errors: Vec::new(),
    }
}

/// `channels.pairing.list` as DM rows (no codes: the gateway keeps them).
pub fn dm_snapshot(list: &Value) -> DmSnapshot {
    let requests = items(list, "requests")
        .filter_map(|r| {
            let account = s(r, "accountId").filter(|a| !a.is_empty() && a != "default");
            let meta = r
                .get("metadata")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .take(MAX_LIST)
                        .filter_map(|(k, v)| {
                            v.as_str()
                                .map(|x| (bounded(k, MAX_FIELD), bounded(x, MAX_FIELD)))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(DmRequest {
                channel: s(r, "channel").filter(|x| !x.is_empty())?,
                account,
                id: s(r, "senderId").filter(|x| !x.is_empty())?,
                code: String::new(),
                created_at_ms: s(r, "createdAt").and_then(|t| crate::clock::parse_iso_ms(&t)),
                last_seen_at_ms: s(r, "lastSeenAt").and_then(|t| crate::clock::parse_iso_ms(&t)),
                meta,
                request_id: s(r, "requestId"),
            })
        })
        .collect();
    DmSnapshot {
        requests,
        allow: Vec::new(),
        errors: Vec::new(),
        unavailable: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_from_payloads() {
        let list = json!({"pending":[{"requestId":"r","deviceId":"d","role":"node","roles":["node"],"scopes":[],"ts":5,"isRepair":true},{"deviceId":"no-id"}],
            "paired":[{"deviceId":"p","displayName":"x","operatorLabel":"Kitchen","roles":["node"],"approvedAtMs":9,"tokens":[{"role":"node","scopes":[],"createdAtMs":1,"revokedAtMs":2}]}]});
        let nodes = json!({"pending":[{"requestId":"n1","nodeId":"p","caps":["system"],"commands":["system.run"],"requiredApproveScopes":["operator.pairing","operator.admin"],"ts":7}]});
        let snap = device_snapshot(&list, Some(&nodes));
        assert_eq!(snap.pending.len(), 2);
        assert!(snap.pending[0].is_repair);
        assert_eq!(
            snap.pending[1]
                .surface
                .as_ref()
                .unwrap()
                .required_scopes
                .len(),
            2
        );
        assert_eq!(snap.paired[0].display_name.as_deref(), Some("Kitchen"));
        assert_eq!(snap.paired[0].token_state, TokenState::Revoked);
        let dm = dm_snapshot(
            &json!({"requests":[{"requestId":"q","channel":"telegram","accountId":"work","senderId":"222","metadata":{"username":"bob","n":1},"createdAt":"2026-12-01T22:31:33.020Z"}]}),
        );
        assert_eq!(dm.requests[0].account.as_deref(), Some("work"));
        assert_eq!(dm.requests[0].username(), Some("bob"));
        assert_eq!(dm.requests[0].request_id.as_deref(), Some("q"));
        assert!(dm.requests[0].created_at_ms.is_some());
        assert!(device_snapshot(&json!("junk"), None).pending.is_empty());
    }
}
