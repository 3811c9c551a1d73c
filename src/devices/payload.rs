//! The JSON payloads of the pairing RPCs and events (gateway-protocol §7–§8).
//! `clawpair devices … --json` prints the same shapes (node-pairing §11), so
//! the CLI and the gateway share these functions.

use serde_json::{Map, Value};

use super::model::{PairedDevice, PendingRequest, TokenRecord};
use super::state::{Approved, DeviceState};

/// `device.pair.list` payload of a state.
pub fn list_payload_of(state: &DeviceState) -> Value {
    let pending: Vec<Value> = state
        .pending_newest_first()
        .into_iter()
        .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
        .collect();
    let paired: Vec<Value> = state
        .paired_newest_first()
        .into_iter()
        .map(redact_device)
        .collect();
    let mut m = Map::new();
    m.insert("pending".into(), Value::Array(pending));
    m.insert("paired".into(), Value::Array(paired));
    Value::Object(m)
}

/// A paired device as `device.pair.list` / `device.pair.approve` show it:
/// `approvedScopes` removed, `tokens` replaced by an array sorted by role of
/// `{role, scopes, createdAtMs, rotatedAtMs?, revokedAtMs?, lastUsedAtMs?}`
/// (never the token strings) placed last, omitted when there are none.
pub fn redact_device(device: &PairedDevice) -> Value {
    let mut m = match serde_json::to_value(device) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    m.shift_remove("approvedScopes");
    m.shift_remove("tokens");
    if let Some(tokens) = &device.tokens {
        let mut list: Vec<&TokenRecord> = tokens.iter().map(|(_, t)| t).collect();
        list.sort_by(|a, b| a.role.cmp(&b.role));
        if !list.is_empty() {
            let arr = list.into_iter().map(token_summary).collect();
            m.insert("tokens".into(), Value::Array(arr));
        }
    }
    Value::Object(m)
}

/// A token record without its secret.
pub fn token_summary(t: &TokenRecord) -> Value {
    let mut m = Map::new();
    m.insert("role".into(), Value::from(t.role.clone()));
    m.insert("scopes".into(), Value::from(t.scopes.clone()));
    m.insert("createdAtMs".into(), Value::from(t.created_at_ms));
    if let Some(v) = t.rotated_at_ms {
        m.insert("rotatedAtMs".into(), Value::from(v));
    }
    if let Some(v) = t.revoked_at_ms {
        m.insert("revokedAtMs".into(), Value::from(v));
    }
    if let Some(v) = t.last_used_at_ms {
        m.insert("lastUsedAtMs".into(), Value::from(v));
    }
    Value::Object(m)
}

fn object(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

/// `device.pair.approve` result: `{requestId, device}` with the device redacted.
pub fn approve_payload(approved: &Approved) -> Value {
    object(vec![
        ("requestId", approved.request.request_id.clone().into()),
        ("device", redact_device(&approved.device)),
    ])
}

/// `device.pair.reject` result: `{requestId, deviceId}`.
pub fn reject_payload(request: &PendingRequest) -> Value {
    object(vec![
        ("requestId", request.request_id.clone().into()),
        ("deviceId", request.device_id.clone().into()),
    ])
}

/// `device.pair.remove` result: `{deviceId}`.
pub fn remove_payload(device: &PairedDevice) -> Value {
    object(vec![("deviceId", device.device_id.clone().into())])
}

/// `device.token.rotate` result: `{deviceId, role, token, scopes, rotatedAtMs}`.
/// The only payload that carries a token string.
pub fn rotate_payload(device_id: &str, rec: &TokenRecord) -> Value {
    object(vec![
        ("deviceId", device_id.into()),
        ("role", rec.role.clone().into()),
        ("token", rec.token.clone().into()),
        ("scopes", rec.scopes.clone().into()),
        (
            "rotatedAtMs",
            rec.rotated_at_ms.unwrap_or(rec.created_at_ms).into(),
        ),
    ])
}

/// `device.token.revoke` result: `{deviceId, role, revokedAtMs}`.
pub fn revoke_payload(device_id: &str, rec: &TokenRecord) -> Value {
    let mut pairs = vec![
        ("deviceId", Value::from(device_id)),
        ("role", rec.role.clone().into()),
    ];
    if let Some(at) = rec.revoked_at_ms {
        pairs.push(("revokedAtMs", at.into()));
    }
    object(pairs)
}

/// `device.pair.requested` event payload: the request with only the fields of
/// the closed event schema (unknown keys kept in the file are left out).
pub fn requested_payload(request: &PendingRequest) -> Value {
    let mut clean = request.clone();
    clean.extra = Map::new();
    serde_json::to_value(&clean).unwrap_or(Value::Null)
}

/// `device.pair.resolved` event payload: `{requestId, deviceId, decision, ts}`.
pub fn resolved_payload(request_id: &str, device_id: &str, approved: bool, ts: i64) -> Value {
    object(vec![
        ("requestId", request_id.into()),
        ("deviceId", device_id.into()),
        (
            "decision",
            if approved { "approved" } else { "rejected" }.into(),
        ),
        ("ts", ts.into()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_payload_matches_transcript_and_drops_unknown_keys() {
        let mut req: PendingRequest = serde_json::from_str(
            r#"{"requestId":"f7913748-d8ff-4686-ada6-0a02bb87f57e","deviceId":"9aee8cff109f16dccb9cfa1d36e3419895adf087582a248c6f324d156891a169","publicKey":"cP7FaQv3sOjAxa_Vq-U4c6-4P7Fm_gpDA8452quCF20","displayName":"oracle-node","platform":"linux","clientId":"node-host","clientMode":"node","role":"node","roles":["node"],"scopes":[],"remoteIp":"192.168.77.10","silent":false,"isRepair":false,"ts":1795469143890}"#,
        )
        .unwrap();
        let want = serde_json::to_string(&req).unwrap();
        req.extra.insert("future".into(), Value::from(1));
        assert_eq!(
            serde_json::to_string(&requested_payload(&req)).unwrap(),
            want
        );
        assert_eq!(
            serde_json::to_string(&resolved_payload("r", "d", true, 5)).unwrap(),
            r#"{"requestId":"r","deviceId":"d","decision":"approved","ts":5}"#
        );
    }
}
