//! Requests after the handshake: authorisation (spec §6) and the pairing
//! RPCs (§7; protocol 4: openclaw-2026.9 §9), one function per method.
//! Replies are built by `devices::payload`, the same code the CLI prints with.
//!
//! A protocol-3 session is answered exactly as OpenClaw 2026.2.26 answers;
//! a protocol-4 session as 2026.9.6: admin needed to approve non-operator
//! requests, device callers limited to their own device, `device.pair.rename`,
//! rotated tokens delivered only in-band, the node publications a 2026.9.6
//! node host makes after `hello-ok` accepted, and every method this gateway
//! does not offer answered `unknown method`.
//!
//! Any removal, revocation or rotation closes the affected connections
//! (4001 `device removed`) once it is on disk.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::hello::{health, Session};
use super::hub::{now, Audience, Hub};
use super::resolved::announce_resolved;
use super::worker::WorkerError;
use crate::devices::payload;
use crate::devices::state::scopes_cover;
use crate::devices::{DeviceState, PairedDevice, PendingRequest};
use crate::error::StoreError;
use crate::gateway::frames::{self, Dialect, ErrorShape, FrameError, Texts};
use crate::gateway::setup;
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

/// Protocol 4: the operator methods this gateway offers (all need `operator.pairing`).
const OPERATOR_METHODS_V4: &[&str] = &[
    "device.pair.list",
    "device.pair.approve",
    "device.pair.reject",
    "device.pair.remove",
    "device.pair.rename",
    "device.token.rotate",
    "device.token.revoke",
];
/// Protocol 4: the node methods this gateway answers (accepted no-ops: it
/// keeps no capability surface, skills, tools or runner inventory).
const NODE_METHODS_V4: &[&str] = &[
    "node.invoke.result",
    "node.event",
    "skills.bins",
    "node.skills.update",
    "node.pluginTools.update",
    "node.runnerInventory.update",
];

/// Why a request is refused before it runs (spec §6).
#[derive(Debug, Clone)]
pub(super) enum Denied {
    /// The method is not for the connection's role.
    Role(String),
    /// An operator without the scope the method needs.
    MissingScope(&'static str),
    /// Protocol 4: a method this gateway does not offer.
    Unknown(String),
}

impl Denied {
    fn answer(&self) -> ErrorShape {
        match self {
            Denied::Role(role) => ErrorShape::invalid(format!("unauthorized role: {role}")),
            Denied::MissingScope(scope) => ErrorShape::invalid(format!("missing scope: {scope}")),
            Denied::Unknown(m) => ErrorShape::invalid(format!("unknown method: {m}")),
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

fn is_admin(scopes: &[String]) -> bool {
    scopes.iter().any(|s| s == "operator.admin")
}

/// Whether a connection with `role` and `scopes` may call `method` (2026.2.26).
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
    if is_admin(scopes) {
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

/// [`authorize`] for protocol 4: methods this gateway does not offer are
/// `unknown method` for every role (2026.9.6 would run them; see the README).
fn authorize_v4(method: &str, role: &str, scopes: &[String]) -> Result<(), Denied> {
    if method == "health" {
        return Ok(());
    }
    if NODE_METHODS_V4.contains(&method) {
        return if role == "node" {
            Ok(())
        } else {
            Err(Denied::Role(role.to_string()))
        };
    }
    if !OPERATOR_METHODS_V4.contains(&method) {
        return Err(Denied::Unknown(method.to_string()));
    }
    if role != "operator" {
        return Err(Denied::Role(role.to_string()));
    }
    if is_admin(scopes) || scopes.iter().any(|s| s == "operator.pairing") {
        Ok(())
    } else {
        Err(Denied::MissingScope("operator.pairing"))
    }
}

/// Parses, authorises and runs one request frame; returns its id and answer.
pub(super) async fn handle_rpc(hub: &Arc<Hub>, session: &Session, text: &str) -> (String, Reply) {
    let req = match frames::parse_request_as(text, session.dialect) {
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
    let allowed = match session.dialect {
        Dialect::V3 => authorize(&req.method, &session.role, &session.scopes),
        Dialect::V4 => authorize_v4(&req.method, &session.role, &session.scopes),
    };
    if let Err(d) = allowed {
        return (req.id, Reply::Denied(d));
    }
    let c = Caller::of(session);
    let reply = match call(hub, &c, &req.method, req.params.as_ref()).await {
        Ok(v) => Reply::Ok(v),
        Err(e) => Reply::Err(e),
    };
    (req.id, reply)
}

/// Who calls, as the protocol-4 ownership rules see it.
struct Caller {
    d: Dialect,
    scopes: Vec<String>,
    admin: bool,
    /// Set only for a connection authenticated with a device token.
    device_id: Option<String>,
    /// The connection's paired device, however it authenticated.
    node_id: Option<String>,
}

impl Caller {
    fn of(s: &Session) -> Self {
        Caller {
            d: s.dialect,
            scopes: s.scopes.clone(),
            admin: is_admin(&s.scopes),
            device_id: s.device_caller.then(|| s.device_id.clone()).flatten(),
            node_id: s.device_id.clone(),
        }
    }
    fn v4(&self) -> bool {
        self.d == Dialect::V4
    }
    fn texts(&self) -> Texts {
        Texts(self.d)
    }
    /// A device caller without admin acting on another device.
    fn cross_device(&self, target: &str) -> bool {
        !self.admin && self.device_id.as_deref().is_some_and(|d| d != target)
    }
    /// A device caller without admin.
    fn limited(&self) -> bool {
        !self.admin && self.device_id.is_some()
    }
}

/// Runs an authorised method.
async fn call(
    hub: &Arc<Hub>,
    c: &Caller,
    method: &str,
    params: Option<&Value>,
) -> Result<Value, ErrorShape> {
    match method {
        "health" => Ok(health()),
        "node.event" if c.v4() => Ok(node_event(params)),
        "node.event" | "node.invoke.result" => Ok(json!({"ok": true})),
        "skills.bins" => Ok(json!({"bins": []})),
        "node.skills.update" | "node.pluginTools.update" | "node.runnerInventory.update" => {
            Ok(node_publication(c, method, params))
        }
        "device.pair.list" => pair_list(hub, c, params).await,
        "device.pair.approve" => pair_decide(hub, c, method, params, Decision::Approved).await,
        "device.pair.reject" => pair_decide(hub, c, method, params, Decision::Rejected).await,
        "device.pair.remove" => pair_remove(hub, c, params).await,
        "device.pair.rename" => pair_rename(hub, c, params).await,
        "device.token.rotate" => token_rotate(hub, c, params).await,
        "device.token.revoke" => token_revoke(hub, c, params).await,
        other => Err(ErrorShape::invalid(format!("unknown method: {other}"))),
    }
}

/// `node.event` in protocol 4: accepted and ignored (`handled:false`).
fn node_event(params: Option<&Value>) -> Value {
    let event = params
        .and_then(|p| p.get("event"))
        .and_then(Value::as_str)
        .unwrap_or("");
    json!({"ok": true, "event": event, "handled": false, "reason": "ignored"})
}

/// A 2026.9.6 node host's publications after `hello-ok`, accepted with the
/// answers of 2026.9.6 (`{nodeId}`, `{nodeId, skills}`, `{nodeId, tools}`);
/// nothing is kept.
fn node_publication(c: &Caller, method: &str, params: Option<&Value>) -> Value {
    let node_id = c.node_id.clone().unwrap_or_default();
    let list = |k: &str| {
        params
            .and_then(|p| p.get(k))
            .filter(|v| v.is_array())
            .cloned()
            .unwrap_or_else(|| json!([]))
    };
    match method {
        "node.skills.update" => json!({"nodeId": node_id, "skills": list("skills")}),
        "node.pluginTools.update" => json!({"nodeId": node_id, "tools": list("tools")}),
        _ => json!({"nodeId": node_id}),
    }
}

/// A paired device as `device.pair.list` shows it in protocol 4: redacted,
/// with `lastSeenAtMs`/`lastSeenReason` (when seen since the gateway started)
/// and `connected` before the token summaries, as in 2026.9.6.
fn device_view_v4(device: &PairedDevice, presence: Option<&HashMap<String, (i64, bool)>>) -> Value {
    let mut m = match payload::redact_device(device) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    // 2026.9.6 records `scopes: []` for a node; the 2026.2.26 files leave it out.
    if !m.contains_key("scopes") {
        m.insert("scopes".into(), json!([]));
    }
    let tokens = m.shift_remove("tokens");
    if let Some(presence) = presence {
        let seen = presence.get(&device.device_id);
        if let Some((at, _)) = seen {
            m.insert("lastSeenAtMs".into(), json!(at));
            m.insert("lastSeenReason".into(), json!("connect"));
        }
        m.insert("connected".into(), json!(seen.is_some_and(|(_, c)| *c)));
    }
    m.insert("tokens".into(), tokens.unwrap_or_else(|| json!([])));
    Value::Object(m)
}

/// `device.pair.list`: pending requests and paired devices, tokens redacted.
/// Protocol 4: a device caller without admin sees only its own device.
async fn pair_list(
    hub: &Arc<Hub>,
    c: &Caller,
    params: Option<&Value>,
) -> Result<Value, ErrorShape> {
    params_of(c.texts(), "device.pair.list", params, &[], &[])?;
    let store = hub.store.clone();
    if !c.v4() {
        return match tokio::task::spawn_blocking(move || store.list_payload(now())).await {
            Ok(r) => r.map_err(store_error),
            Err(_) => Err(ErrorShape::new("UNAVAILABLE", "device store unavailable")),
        };
    }
    let st = match tokio::task::spawn_blocking(move || store.load(now())).await {
        Ok(r) => r.map_err(store_error)?,
        Err(_) => return Err(ErrorShape::new("UNAVAILABLE", "device store unavailable")),
    };
    let own = |id: &str| !c.limited() || c.device_id.as_deref() == Some(id);
    let presence: HashMap<String, (i64, bool)> = hub
        .presence_list()
        .into_iter()
        .map(|p| (p.device_id, (p.last_seen_ms, p.connected)))
        .collect();
    let pending: Vec<Value> = st
        .pending_newest_first()
        .into_iter()
        .filter(|p| own(&p.device_id))
        .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
        .collect();
    let paired: Vec<Value> = st
        .paired_newest_first()
        .into_iter()
        .filter(|d| own(&d.device_id))
        .map(|d| device_view_v4(d, Some(&presence)))
        .collect();
    Ok(json!({"pending": pending, "paired": paired}))
}

/// Whether a pending request asks for a role other than `operator`.
fn non_operator_request(p: &PendingRequest) -> bool {
    p.role.iter().chain(p.roles.iter().flatten()).any(|r| {
        let r = r.trim();
        !r.is_empty() && r != "operator"
    })
}

/// Whether a paired device holds a role other than `operator`.
fn non_operator_device(d: &PairedDevice) -> bool {
    d.all_roles()
        .iter()
        .chain(d.tokens.iter().flat_map(|t| t.iter().map(|(r, _)| r)))
        .any(|r| {
            let r = r.trim();
            !r.is_empty() && r != "operator"
        })
}

/// A protocol-4 policy refusal decided on the fresh state (or the store's error).
enum Refused {
    Policy(String),
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Store(e)
    }
}

/// Protocol 4's approval policy: admin for non-operator requests and for
/// unknown ids; a device caller only for its own request; an operator
/// request's scopes within the caller's (`missing scope: …`).
fn may_approve(st: &DeviceState, c: &Caller, rid: &str) -> Result<(), Refused> {
    const DENIED: &str = "device pairing approval denied";
    let Some(p) = st.pending_by_id(rid) else {
        if c.admin {
            return Ok(()); // approve answers `unknown requestId`
        }
        return Err(Refused::Policy(DENIED.into()));
    };
    if !c.admin {
        if c.device_id.as_deref().is_some_and(|d| d != p.device_id) {
            return Err(Refused::Policy(DENIED.into()));
        }
        if non_operator_request(p) {
            return Err(Refused::Policy(DENIED.into()));
        }
        let wanted = p.scopes.clone().unwrap_or_default();
        if let Some(s) = wanted
            .iter()
            .find(|s| !scopes_cover("operator", &c.scopes, std::slice::from_ref(*s)))
        {
            return Err(Refused::Policy(format!("missing scope: {s}")));
        }
    }
    Ok(())
}

/// Protocol 4's rejection policy: a device caller without admin only for its own request.
fn may_reject(st: &DeviceState, c: &Caller, rid: &str) -> Result<(), Refused> {
    const DENIED: &str = "device pairing rejection denied";
    if !c.limited() {
        return Ok(());
    }
    match st.pending_by_id(rid) {
        Some(p) if c.device_id.as_deref() == Some(p.device_id.as_str()) => Ok(()),
        _ => Err(Refused::Policy(DENIED.into())),
    }
}

/// `device.pair.approve` / `device.pair.reject`, then `device.pair.resolved`.
async fn pair_decide(
    hub: &Arc<Hub>,
    c: &Caller,
    method: &str,
    params: Option<&Value>,
    decision: Decision,
) -> Result<Value, ErrorShape> {
    let o = params_of(c.texts(), method, params, &["requestId"], &[])?;
    let rid = string_param(&o, "requestId");
    let known = hub.known_pending();
    let policy = c.v4().then(|| Caller {
        d: c.d,
        scopes: c.scopes.clone(),
        admin: c.admin,
        device_id: c.device_id.clone(),
        node_id: c.node_id.clone(),
    });
    let v4 = c.v4();
    let r = hub
        .worker
        .run(move |st, t| -> Result<_, Refused> {
            if let Some(c) = &policy {
                match decision {
                    Decision::Approved => may_approve(st, c, &rid)?,
                    Decision::Rejected => may_reject(st, c, &rid)?,
                }
            }
            let res = match decision {
                Decision::Approved => st.approve(&rid, crate::devices::new_token(), t).map(|a| {
                    let reply = if v4 {
                        json!({"requestId": a.request.request_id, "device": device_view_v4(&a.device, None)})
                    } else {
                        payload::approve_payload(&a)
                    };
                    (reply, a.request)
                }),
                Decision::Rejected => st.reject(&rid).map(|r| (payload::reject_payload(&r), r)),
            }?;
            known.remove(&rid);
            Ok((res, t))
        })
        .await;
    let ((reply, request), t) = refused(r)?;
    if v4 && decision == Decision::Rejected {
        // A rejection also revokes the setup tokens bound to that device.
        let (paths, d) = (hub.paths.clone(), request.device_id.clone());
        let _ = tokio::task::spawn_blocking(move || {
            setup::void_for_device(&paths, &d, "rejected", now())
        })
        .await;
    }
    announce_resolved(hub, &request.request_id, &request.device_id, decision, t).await;
    Ok(reply)
}

/// Protocol 4's management policy for remove and rename: a device caller
/// without admin only for its own device, and not for one with a
/// non-operator role.
fn may_manage(st: &DeviceState, c: &Caller, target: &str, denied: &str) -> Result<(), Refused> {
    if c.cross_device(target) {
        return Err(Refused::Policy(denied.into()));
    }
    if c.limited() && st.paired_by_id(target).is_some_and(non_operator_device) {
        return Err(Refused::Policy(denied.into()));
    }
    Ok(())
}

/// `device.pair.remove`; protocol 4 also drops the device's pending requests.
/// The device's connections are closed.
async fn pair_remove(
    hub: &Arc<Hub>,
    c: &Caller,
    params: Option<&Value>,
) -> Result<Value, ErrorShape> {
    let o = params_of(c.texts(), "device.pair.remove", params, &["deviceId"], &[])?;
    let did = string_param(&o, "deviceId");
    let policy = c.v4().then(|| caller_copy(c));
    let stale_of = stale_hub(hub);
    let r = hub
        .worker
        .run(move |st, _| -> Result<_, Refused> {
            if let Some(c) = &policy {
                may_manage(st, c, &did, "device pairing removal denied")?;
            }
            let removed = st.remove(&did)?;
            if policy.is_some() {
                st.pending.retain(|p| p.device_id != did);
            }
            Ok((removed, stale_of(st)))
        })
        .await;
    let (removed, stale) = refused(r)?;
    hub.kick(&stale);
    Ok(payload::remove_payload(&removed))
}

/// `device.pair.rename` (protocol 4): sets `operatorLabel` (kept in
/// `paired.json` beside the 2026.2.26 keys) and sends `device.pair.changed`.
async fn pair_rename(
    hub: &Arc<Hub>,
    c: &Caller,
    params: Option<&Value>,
) -> Result<Value, ErrorShape> {
    let t = c.texts();
    let o = params_of(t, "device.pair.rename", params, &["deviceId", "label"], &[])?;
    let label_raw = o["label"].as_str().unwrap_or_default();
    if label_raw.chars().count() > 64 {
        return Err(ErrorShape::invalid(format!(
            "invalid device.pair.rename params: {}",
            t.too_long("/label", 64)
        )));
    }
    let label = label_raw.trim().to_string();
    if label.is_empty() {
        return Err(ErrorShape::invalid("label required"));
    }
    let did = string_param(&o, "deviceId");
    let policy = caller_copy(c);
    let l = label.clone();
    let r = hub
        .worker
        .run(move |st, _| -> Result<_, Refused> {
            may_manage(st, &policy, &did, "device pairing rename denied")?;
            let d = st
                .paired
                .iter_mut()
                .find(|d| d.device_id == did)
                .ok_or_else(|| {
                    StoreError::NotFound(crate::devices::state::UNKNOWN_DEVICE.into())
                })?;
            d.extra.insert("operatorLabel".into(), json!(l));
            Ok(did)
        })
        .await;
    let did = refused(r)?;
    hub.broadcast("device.pair.changed", json!({}), Audience::Pairing);
    Ok(json!({"deviceId": did, "label": label}))
}

/// Protocol 4's token policy: a device caller without admin only for its
/// own device; admin for any role but `operator`; an operator token's
/// scopes within the caller's.
fn may_manage_token(
    st: &DeviceState,
    c: &Caller,
    did: &str,
    role: &str,
    scopes: Option<&[String]>,
    denied: &str,
) -> Result<(), Refused> {
    if c.cross_device(did) || (!c.admin && role.trim() != "operator") {
        return Err(Refused::Policy(denied.into()));
    }
    if !c.admin && role.trim() == "operator" {
        let wanted: Vec<String> = match scopes {
            Some(s) => s.to_vec(),
            None => st
                .paired_by_id(did)
                .and_then(|d| d.token(role))
                .map(|t| t.scopes.clone())
                .unwrap_or_default(),
        };
        if !scopes_cover("operator", &c.scopes, &wanted) {
            return Err(Refused::Policy(denied.into()));
        }
    }
    Ok(())
}

/// `device.token.rotate`: a new token for the role (optionally new scopes).
/// Protocol 4 returns the token only to the device itself (`in-band`). The
/// role's connections of that device are closed.
async fn token_rotate(
    hub: &Arc<Hub>,
    c: &Caller,
    params: Option<&Value>,
) -> Result<Value, ErrorShape> {
    const DENIED: &str = "device token rotation denied";
    let o = params_of(
        c.texts(),
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
    let policy = c.v4().then(|| caller_copy(c));
    let stale_of = stale_hub(hub);
    let r = hub
        .worker
        .run(move |st, t| -> Result<_, Refused> {
            if let Some(c) = &policy {
                may_manage_token(st, c, &did, &role, scopes.as_deref(), DENIED)?;
            }
            let rec = st.rotate(&did, &role, scopes, crate::devices::new_token(), t);
            let rec = match (rec, &policy) {
                (Err(StoreError::NotFound(_)), Some(_)) => {
                    return Err(Refused::Policy(DENIED.into()))
                }
                (r, _) => r?,
            };
            Ok((did, rec, stale_of(st)))
        })
        .await;
    let (did, rec, stale) = refused(r)?;
    hub.kick(&stale);
    if !c.v4() {
        return Ok(payload::rotate_payload(&did, &rec));
    }
    let in_band = c.device_id.as_deref() == Some(did.as_str());
    let mut m = Map::new();
    m.insert("deviceId".into(), json!(did));
    m.insert("role".into(), json!(rec.role));
    if in_band {
        m.insert("token".into(), json!(rec.token));
    }
    m.insert("scopes".into(), json!(rec.scopes));
    m.insert(
        "rotatedAtMs".into(),
        json!(rec.rotated_at_ms.unwrap_or(rec.created_at_ms)),
    );
    m.insert(
        "tokenDelivery".into(),
        json!(if in_band {
            "in-band"
        } else {
            "withheld-cross-device"
        }),
    );
    Ok(Value::Object(m))
}

/// `device.token.revoke`. The role's connections of that device are closed.
async fn token_revoke(
    hub: &Arc<Hub>,
    c: &Caller,
    params: Option<&Value>,
) -> Result<Value, ErrorShape> {
    const DENIED: &str = "device token revocation denied";
    let o = params_of(
        c.texts(),
        "device.token.revoke",
        params,
        &["deviceId", "role"],
        &[],
    )?;
    let did = string_param(&o, "deviceId");
    let role = string_param(&o, "role");
    let policy = c.v4().then(|| caller_copy(c));
    let stale_of = stale_hub(hub);
    let r = hub
        .worker
        .run(move |st, t| -> Result<_, Refused> {
            if let Some(c) = &policy {
                may_manage_token(st, c, &did, &role, None, DENIED)?;
            }
            let rec = match (st.revoke(&did, &role, t), &policy) {
                (Err(StoreError::NotFound(_)), Some(_)) => {
                    return Err(Refused::Policy(DENIED.into()))
                }
                (r, _) => r?,
            };
            Ok((did, rec, stale_of(st)))
        })
        .await;
    let (did, rec, stale) = refused(r)?;
    hub.kick(&stale);
    Ok(payload::revoke_payload(&did, &rec))
}

fn caller_copy(c: &Caller) -> Caller {
    Caller {
        d: c.d,
        scopes: c.scopes.clone(),
        admin: c.admin,
        device_id: c.device_id.clone(),
        node_id: c.node_id.clone(),
    }
}

/// A function for the writer thread that finds the connections a state no
/// longer admits (computed on the state the job wrote).
fn stale_hub(hub: &Arc<Hub>) -> impl Fn(&DeviceState) -> Vec<super::hub::ConnId> + Send + 'static {
    let hub = hub.clone();
    move |st| hub.stale_after_write(st)
}

/// Closed params object with the given string fields (`required`, `optional`).
fn params_of(
    t: Texts,
    method: &str,
    params: Option<&Value>,
    required: &[&str],
    optional_str_list: &[&str],
) -> Result<Map<String, Value>, ErrorShape> {
    let bad = |d: String| ErrorShape::invalid(format!("invalid {method} params: {d}"));
    let obj = match params {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(bad(t.typ("", "object"))),
    };
    for k in obj.keys() {
        if !required.contains(&k.as_str()) && !optional_str_list.contains(&k.as_str()) {
            return Err(bad(t.additional("", k)));
        }
    }
    for r in required {
        let at = format!("/{r}");
        match obj.get(*r) {
            None => return Err(bad(t.missing("", r))),
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(Value::String(_)) => return Err(bad(t.too_short(&at, 1))),
            Some(_) => return Err(bad(t.typ(&at, "string"))),
        }
    }
    for o in optional_str_list {
        if let Some(v) = obj.get(*o) {
            if !v
                .as_array()
                .is_some_and(|a| a.iter().all(|x| x.is_string()))
            {
                return Err(bad(t.typ(&format!("/{o}"), "array")));
            }
        }
    }
    Ok(obj)
}

/// A required string param checked by [`params_of`].
fn string_param(o: &Map<String, Value>, key: &str) -> String {
    o[key].as_str().unwrap_or_default().to_string()
}

/// The answer for a writer job's result: the writer's own failure, a
/// policy refusal, or the store's.
fn refused<T>(r: Result<Result<T, Refused>, WorkerError>) -> Result<T, ErrorShape> {
    match r {
        Err(e) => Err(ErrorShape::new("UNAVAILABLE", e.to_string())),
        Ok(Ok(v)) => Ok(v),
        Ok(Err(Refused::Policy(m))) => Err(ErrorShape::invalid(m)),
        Ok(Err(Refused::Store(e))) => Err(store_error(e)),
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

    #[test]
    fn authorize_v4_names_what_is_not_offered() {
        for m in [
            "node.event",
            "node.skills.update",
            "node.pluginTools.update",
            "node.runnerInventory.update",
        ] {
            assert!(authorize_v4(m, "node", &[]).is_ok(), "{m}");
        }
        let d = authorize_v4("node.pair.list", "operator", &scopes(&["operator.admin"]));
        assert_eq!(
            d.unwrap_err().answer().message,
            "unknown method: node.pair.list"
        );
        let d = authorize_v4("chat.send", "node", &[]).unwrap_err();
        assert_eq!(d.answer().message, "unknown method: chat.send");
        let d = authorize_v4("device.pair.list", "node", &[]).unwrap_err();
        assert_eq!(d.answer().message, "unauthorized role: node");
        let d = authorize_v4(
            "device.pair.rename",
            "operator",
            &scopes(&["operator.read"]),
        );
        assert!(matches!(d, Err(Denied::MissingScope("operator.pairing"))));
        assert!(authorize_v4(
            "device.pair.rename",
            "operator",
            &scopes(&["operator.admin"])
        )
        .is_ok());
    }
}
