//! The `connect` request: device checks, authentication and pairing during
//! connect (spec gateway-protocol §3.5, node-pairing §4; protocol 4:
//! openclaw-2026.9 §8). Every answer is worded in the connection's dialect:
//! OpenClaw 2026.2.26 for protocol-3-only offers, 2026.9.6 otherwise.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::hello::{hello_ok, AuthMethod, Granted, Session};
use super::hub::{now, Audience, Hub};
use super::pairing::{Outcome, PairingJob};
use super::resolved::announce_resolved;
use super::wire::Peer;
use crate::devices::store::RequestInput;
use crate::devices::{ConnectMeta, PairingReason, PENDING_TTL_MS};
use crate::gateway::crypto;
use crate::gateway::frames::{
    self, AuthParams, ConnectParams, DeviceParams, Dialect, ErrorShape, Request,
};
use crate::gateway::setup::{self, Refusal, SetupVerdict};
use crate::gateway::{Decision, GatewayEvent};

mod accept;
mod answers;
mod auth;
mod job;

use accept::*;
pub use answers::*;
use auth::*;
use job::*;

/// A refused `connect`: the error answer, the close code after it, and whether
/// it counts against the address's failed-handshake budget.
pub(super) struct Failure {
    pub(super) error: ErrorShape,
    pub(super) close_code: u16,
    /// The close reason when it is not the error's message.
    pub(super) close_reason: Option<String>,
    pub(super) counts_as_failure: bool,
}

impl Failure {
    /// Closed with 1008, counted as a failed handshake.
    fn bad(error: ErrorShape) -> Self {
        Failure {
            error,
            close_code: 1008,
            close_reason: None,
            counts_as_failure: true,
        }
    }
}

/// A `connect` after the preflight: its params and the dialect it is answered in.
pub(super) struct Offer {
    pub(super) p: ConnectParams,
    pub(super) d: Dialect,
}

/// How a device-carrying `connect` authenticated.
enum AuthKind {
    /// The shared gateway token.
    Shared,
    /// A setup token, usable for this device.
    Setup(String),
    /// A spent setup token presented by the paired device it was bound to
    /// (2026.2.26 node hosts keep sending their configured token).
    SetupAlias,
    /// A device token (`auth.deviceToken`, explicit) or `auth.token` tried as one.
    DeviceToken { token: String, explicit: bool },
}

impl AuthKind {
    fn method(&self) -> AuthMethod {
        match self {
            AuthKind::Shared | AuthKind::SetupAlias => AuthMethod::Token,
            AuthKind::Setup(_) => AuthMethod::BootstrapToken,
            AuthKind::DeviceToken { .. } => AuthMethod::DeviceToken,
        }
    }
}

/// Answers one `connect` (spec gateway-protocol §3.5, node-pairing §4), in
/// OpenClaw's order: the params and the connection, then (with a device) the
/// device checks, authentication, the pairing decision, and the answer.
pub(super) async fn connect(
    hub: &Arc<Hub>,
    req: &Request,
    peer: &Peer,
) -> Result<Session, Failure> {
    let o = preflight(hub, req, peer)?;
    let auth = o.p.auth.clone().unwrap_or_default();
    let shared_ok = auth
        .token
        .as_deref()
        .is_some_and(|t| crypto::secrets_equal(t, &hub.cfg.token));
    let Some(device) = o.p.device.clone() else {
        return without_device(hub, &o, &auth, shared_ok, peer);
    };
    let public_key = device_checks(&o, &device, peer)?;
    let kind = authenticate(hub, &o, &device, &auth, shared_ok, peer).await?;
    let epoch = hub.revocation_epoch();
    let outcome = pairing_job(hub, &o, &device, public_key, &kind, peer).await?;
    let mut s = accept(hub, &o, &device, kind, outcome, peer).await?;
    s.epoch = epoch;
    Ok(s)
}

/// The 2026.9.6 answer to an offer that includes neither 4 nor 3.
fn protocol_mismatch(min: i64, max: i64) -> Failure {
    Failure {
        error: ErrorShape::invalid("protocol mismatch").with_details(json!({
            "code": "PROTOCOL_MISMATCH",
            "clientMinProtocol": min,
            "clientMaxProtocol": max,
            "expectedProtocol": frames::PROTOCOL_V4,
            "minimumProbeProtocol": frames::MIN_PROBE_PROTOCOL,
        })),
        close_code: 1002,
        close_reason: None,
        counts_as_failure: true,
    }
}

/// The params schema, protocol range, role, origin and the address's lockout.
fn preflight(hub: &Hub, req: &Request, peer: &Peer) -> Result<Offer, Failure> {
    let schema = Dialect::of_connect_params(req.params.as_ref());
    let p = frames::parse_connect_params_as(req.params.as_ref(), schema)
        .map_err(|e| Failure::bad(ErrorShape::invalid(format!("invalid connect params: {e}"))))?;
    let Some(d) = Dialect::negotiate(p.min_protocol, p.max_protocol) else {
        return Err(protocol_mismatch(p.min_protocol, p.max_protocol));
    };
    let o = Offer { p, d };
    let role = o.p.role();
    if role != "operator" && role != "node" {
        return Err(Failure::bad(ErrorShape::invalid("invalid role")));
    }
    if peer.origin.is_some() {
        return Err(Failure::bad(ErrorShape::invalid(
            "origin not allowed (clawpair accepts no browser clients)",
        )));
    }
    if let Some(ms) = hub.locked_out(peer.ip) {
        let limited = AuthFailure::RateLimited { retry_after_ms: ms };
        return Err(unauthorized(limited, &o, peer));
    }
    Ok(o)
}

/// A `connect` without a device identity: only an operator with the shared token.
fn without_device(
    hub: &Hub,
    o: &Offer,
    auth: &AuthParams,
    shared_ok: bool,
    peer: &Peer,
) -> Result<Session, Failure> {
    if o.p.role() == "operator" && shared_ok {
        return Ok(hello_ok(hub, &o.p, o.d, Granted::shared(&o.p)));
    }
    if auth.token.is_some() && !shared_ok {
        return Err(unauthorized(AuthFailure::TokenMismatch, o, peer));
    }
    Err(Failure::bad(
        ErrorShape::new("NOT_PAIRED", "device identity required")
            .with_details(json!({"code": "DEVICE_IDENTITY_REQUIRED"})),
    ))
}
