//! Requests after the handshake: authorisation (spec §6) and the pairing
//! RPCs (§7).

use std::sync::Arc;

use serde_json::{json, Value};

use super::hello::health;
use super::hello::Session;
use super::hub::{now, Hub};
use super::resolved::announce_resolved;
use crate::devices::payload;
use crate::error::StoreError;
use crate::gateway::frames::{self, ErrorShape, FrameError};
use crate::gateway::Decision;

pub(super) const PAIRING_METHODS: &[&str] = &[
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
pub(super) const NODE_METHODS: &[&str] = &["node.invoke.result", "node.event", "skills.bins"];

pub(super) struct Reply {
    pub(super) ok: Option<Value>,
    pub(super) err: Option<ErrorShape>,
}

pub(super) fn ok(v: Value) -> Reply {
    Reply {
        ok: Some(v),
        err: None,
    }
}

pub(super) fn err(e: ErrorShape) -> Reply {
    Reply {
        ok: None,
        err: Some(e),
    }
}

pub(super) fn authorize(method: &str, role: &str, scopes: &[String]) -> Result<(), ErrorShape> {
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
pub(super) fn params_of(
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

pub(super) fn store_error(e: StoreError) -> ErrorShape {
    match e {
        StoreError::NotFound(m) | StoreError::Invalid(m) => ErrorShape::invalid(m),
        other => {
            tracing::warn!("devices store: {other}");
            ErrorShape::new("UNAVAILABLE", "device store unavailable").retry_after(1000)
        }
    }
}

pub(super) async fn handle_rpc(hub: &Arc<Hub>, session: &Session, text: &str) -> (String, Reply) {
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
        "health" => ok(health()),
        "node.event" | "node.invoke.result" => ok(json!({"ok": true})),
        "skills.bins" => ok(json!({"bins": []})),
        "device.pair.list" => match params_of(m, params, &[], &[]) {
            Err(e) => err(e),
            Ok(_) => {
                let store = hub.store.clone();
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
                    let known = hub.known_pending();
                    let r = hub
                        .worker
                        .run(move |st, t| {
                            let res = if approve {
                                st.approve(&rid, crate::devices::new_token(), t)
                                    .map(|a| (payload::approve_payload(&a), a.request))
                            } else {
                                st.reject(&rid).map(|r| (payload::reject_payload(&r), r))
                            };
                            if res.is_ok() {
                                known.remove(&rid);
                            }
                            (res, t)
                        })
                        .await;
                    match r {
                        Err(e) => err(ErrorShape::new("UNAVAILABLE", e)),
                        Ok((Err(e), _)) => err(store_error(e)),
                        Ok((Ok((reply, request)), t)) => {
                            let decision = if approve {
                                Decision::Approved
                            } else {
                                Decision::Rejected
                            };
                            announce_resolved(
                                hub,
                                &request.request_id,
                                &request.device_id,
                                decision,
                                t,
                            )
                            .await;
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
                match hub.worker.run(move |st, _| st.remove(&did)).await {
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
                let r = hub
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
                let r = hub
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
