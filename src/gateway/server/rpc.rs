//! Requests after the handshake: authorisation (spec §6) and the pairing
//! RPCs (§7), one function per method. Replies are built by
//! `devices::payload`, the same code the CLI prints with.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::hello::{health, Session};
use super::hub::{now, Hub};
use super::resolved::announce_resolved;
use super::worker::WorkerError;
use crate::devices::payload;
use crate::error::StoreError;
use crate::gateway::frames::{self, ErrorShape, FrameError};
use crate::gateway::Decision;

/// Methods an operator with `operator.pairing` may call (others need `operator.admin`).
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
/// Methods only nodes may call.
const NODE_METHODS: &[&str] = &["node.invoke.result", "node.event", "skills.bins"];

/// Why a request is refused before it runs (spec §6).
#[derive(Debug, Clone)]
pub(super) enum Denied {
    /// The method is not for the connection's role.
    Role(String),
    /// An operator without the scope the method needs.
    MissingScope(&'static str),
}

impl Denied {
    fn answer(&self) -> ErrorShape {
        match self {
            Denied::Role(role) => ErrorShape::invalid(format!("unauthorized role: {role}")),
            Denied::MissingScope(scope) => ErrorShape::invalid(format!("missing scope: {scope}")),
        }
    }
}

/// The answer to one request.
pub(super) enum Reply {
    Ok(Value),
    Err(ErrorShape),
    /// Refused by [`authorize`].
    Denied(Denied),
}

impl Reply {
    /// The response frame for request `id`.
    pub(super) fn frame(self, id: &str) -> String {
        match self {
            Reply::Ok(v) => frames::res_ok(id, v),
            Reply::Err(e) => frames::res_err(id, &e),
            Reply::Denied(d) => frames::res_err(id, &d.answer()),
        }
    }
}

/// Whether a connection with `role` and `scopes` may call `method`.
fn authorize(method: &str, role: &str, scopes: &[String]) -> Result<(), Denied> {
    if method == "health" {
        return Ok(());
    }
    if NODE_METHODS.contains(&method) {
        return if role == "node" {
            Ok(())
        } else {
            Err(Denied::Role(role.to_string()))
        };
    }
    if role != "operator" {
        return Err(Denied::Role(role.to_string()));
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
        Err(Denied::MissingScope(needed))
    }
}

/// Parses, authorises and runs one request frame; returns its id and answer.
pub(super) async fn handle_rpc(hub: &Arc<Hub>, session: &Session, text: &str) -> (String, Reply) {
    let req = match frames::parse_request(text) {
        Ok(r) => r,
        Err(FrameError::NotJson) => {
            return (
                "invalid".into(),
                Reply::Err(ErrorShape::invalid("invalid request frame: not JSON")),
            )
        }
        Err(FrameError::Invalid { detail, id }) => {
            return (
                id.unwrap_or_else(|| "invalid".into()),
                Reply::Err(ErrorShape::invalid(format!(
                    "invalid request frame: {detail}"
                ))),
            )
        }
    };
    if req.method == "connect" {
        let e = ErrorShape::invalid("connect already completed");
        return (req.id, Reply::Err(e));
    }
    if let Err(d) = authorize(&req.method, &session.role, &session.scopes) {
        return (req.id, Reply::Denied(d));
    }
    let reply = match call(hub, &req.method, req.params.as_ref()).await {
        Ok(v) => Reply::Ok(v),
        Err(e) => Reply::Err(e),
    };
    (req.id, reply)
}

/// Runs an authorised method.
async fn call(hub: &Hub, method: &str, params: Option<&Value>) -> Result<Value, ErrorShape> {
    match method {
        "health" => Ok(health()),
        "node.event" | "node.invoke.result" => Ok(json!({"ok": true})),
        "skills.bins" => Ok(json!({"bins": []})),
        "device.pair.list" => pair_list(hub, params).await,
        "device.pair.approve" => pair_decide(hub, method, params, Decision::Approved).await,
        "device.pair.reject" => pair_decide(hub, method, params, Decision::Rejected).await,
        "device.pair.remove" => pair_remove(hub, params).await,
        "device.token.rotate" => token_rotate(hub, params).await,
        "device.token.revoke" => token_revoke(hub, params).await,
        other => Err(ErrorShape::invalid(format!("unknown method: {other}"))),
    }
}

/// `device.pair.list`: pending requests and paired devices, tokens redacted.
async fn pair_list(hub: &Hub, params: Option<&Value>) -> Result<Value, ErrorShape> {
    params_of("device.pair.list", params, &[], &[])?;
    let store = hub.store.clone();
    match tokio::task::spawn_blocking(move || store.list_payload(now())).await {
        Ok(r) => r.map_err(store_error),
        Err(_) => Err(ErrorShape::new("UNAVAILABLE", "device store unavailable")),
    }
}

/// `device.pair.approve` / `device.pair.reject`, then `device.pair.resolved`.
async fn pair_decide(
    hub: &Hub,
    method: &str,
    params: Option<&Value>,
    decision: Decision,
) -> Result<Value, ErrorShape> {
    let o = params_of(method, params, &["requestId"], &[])?;
    let rid = string_param(&o, "requestId");
    let known = hub.known_pending();
    let r = hub
        .worker
        .run(move |st, t| {
            let res = match decision {
                Decision::Approved => st
                    .approve(&rid, crate::devices::new_token(), t)
                    .map(|a| (payload::approve_payload(&a), a.request)),
                Decision::Rejected => st.reject(&rid).map(|r| (payload::reject_payload(&r), r)),
            };
            if res.is_ok() {
                known.remove(&rid);
            }
            res.map(|r| (r, t))
        })
        .await;
    let ((reply, request), t) = stored(r)?;
    announce_resolved(hub, &request.request_id, &request.device_id, decision, t).await;
    Ok(reply)
}

/// `device.pair.remove`.
async fn pair_remove(hub: &Hub, params: Option<&Value>) -> Result<Value, ErrorShape> {
    let o = params_of("device.pair.remove", params, &["deviceId"], &[])?;
    let did = string_param(&o, "deviceId");
    let r = hub.worker.run(move |st, _| st.remove(&did)).await;
    Ok(payload::remove_payload(&stored(r)?))
}

/// `device.token.rotate`: a new token for the role (optionally new scopes).
async fn token_rotate(hub: &Hub, params: Option<&Value>) -> Result<Value, ErrorShape> {
    let o = params_of(
        "device.token.rotate",
        params,
        &["deviceId", "role"],
        &["scopes"],
    )?;
    let did = string_param(&o, "deviceId");
    let role = string_param(&o, "role");
    let scopes: Option<Vec<String>> = o.get("scopes").and_then(|s| {
        s.as_array().map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
    });
    let r = hub
        .worker
        .run(move |st, t| {
            st.rotate(&did, &role, scopes, crate::devices::new_token(), t)
                .map(|rec| (did, rec))
        })
        .await;
    let (did, rec) = stored(r)?;
    Ok(payload::rotate_payload(&did, &rec))
}

/// `device.token.revoke`.
async fn token_revoke(hub: &Hub, params: Option<&Value>) -> Result<Value, ErrorShape> {
    let o = params_of("device.token.revoke", params, &["deviceId", "role"], &[])?;
    let did = string_param(&o, "deviceId");
    let role = string_param(&o, "role");
    let r = hub
        .worker
        .run(move |st, t| st.revoke(&did, &role, t).map(|rec| (did, rec)))
        .await;
    let (did, rec) = stored(r)?;
    Ok(payload::revoke_payload(&did, &rec))
}

/// Closed params object with the given string fields (`required`, `optional`).
fn params_of(
    method: &str,
    params: Option<&Value>,
    required: &[&str],
    optional_str_list: &[&str],
) -> Result<Map<String, Value>, ErrorShape> {
    let bad = |d: String| ErrorShape::invalid(format!("invalid {method} params: {d}"));
    let obj = match params {
        None => Map::new(),
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

/// A required string param checked by [`params_of`].
fn string_param(o: &Map<String, Value>, key: &str) -> String {
    o[key].as_str().unwrap_or_default().to_string()
}

/// The answer for a writer job's result: the writer's own failure, or the store's.
fn stored<T>(r: Result<Result<T, StoreError>, WorkerError>) -> Result<T, ErrorShape> {
    match r {
        Err(e) => Err(ErrorShape::new("UNAVAILABLE", e.to_string())),
        Ok(r) => r.map_err(store_error),
    }
}

/// A store error as the answer: not-found and invalid input as themselves,
/// anything else as a retryable `UNAVAILABLE` (logged).
fn store_error(e: StoreError) -> ErrorShape {
    match e {
        StoreError::NotFound(m) | StoreError::Invalid(m) => ErrorShape::invalid(m),
        other => {
            tracing::warn!("devices store: {other}");
            ErrorShape::new("UNAVAILABLE", "device store unavailable").retry_after(1000)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn authorize_by_role_then_scope() {
        assert!(authorize("health", "node", &[]).is_ok());
        assert!(authorize("node.event", "node", &[]).is_ok());
        let d = authorize("node.event", "operator", &scopes(&["operator.admin"]));
        assert!(matches!(&d, Err(Denied::Role(r)) if r == "operator"));
        let d = authorize("device.pair.list", "node", &[]).unwrap_err();
        assert!(matches!(&d, Denied::Role(r) if r == "node"));
        assert_eq!(d.answer().message, "unauthorized role: node");
        let d = authorize("device.pair.list", "operator", &scopes(&["operator.read"]));
        assert!(matches!(d, Err(Denied::MissingScope("operator.pairing"))));
        assert!(authorize(
            "device.pair.approve",
            "operator",
            &scopes(&["operator.pairing"])
        )
        .is_ok());
        let d = authorize("config.get", "operator", &scopes(&["operator.pairing"])).unwrap_err();
        assert_eq!(d.answer().message, "missing scope: operator.admin");
        assert!(authorize("config.get", "operator", &scopes(&["operator.admin"])).is_ok());
    }
}
