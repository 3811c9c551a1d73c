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

mod authorize;
mod node;
mod pair;
mod token;

use authorize::*;
use node::*;
use pair::*;
use token::*;

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
