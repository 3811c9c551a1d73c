//! The `connect` request: device checks, authentication and pairing during
//! connect (spec gateway-protocol §3.5, node-pairing §4).

use std::sync::Arc;

use serde_json::json;

use super::hello::{hello_ok, Session};
use super::hub::{now, Audience, Hub};
use super::pairing::{Outcome, PairingJob};
use super::resolved::announce_resolved;
use super::wire::Peer;
use crate::devices::store::RequestInput;
use crate::devices::{ConnectMeta, PENDING_TTL_MS};
use crate::gateway::crypto;
use crate::gateway::frames::{self, AuthParams, ConnectParams, DeviceParams, ErrorShape, Request};
use crate::gateway::setup::{self, SetupVerdict};
use crate::gateway::{Decision, GatewayEvent};

/// A refused `connect`: the error answer, the close code after it, and whether
/// it counts against the address's failed-handshake budget.
pub(super) struct Failure {
    pub(super) error: ErrorShape,
    pub(super) close_code: u16,
    pub(super) counts_as_failure: bool,
}

impl Failure {
    /// Closed with 1008, counted as a failed handshake.
    fn bad(error: ErrorShape) -> Self {
        Failure {
            error,
            close_code: 1008,
            counts_as_failure: true,
        }
    }
}

/// Why a `connect` is answered `unauthorized` (`details.code` `AUTH_*`).
#[derive(Debug, Clone, Copy)]
enum AuthFailure {
    /// No token of any kind (`AUTH_TOKEN_MISSING`).
    TokenMissing,
    /// A wrong shared token, or `auth.token` refused as a device token too
    /// (`AUTH_TOKEN_MISMATCH`).
    TokenMismatch,
    /// `auth.deviceToken` refused (`AUTH_DEVICE_TOKEN_MISMATCH`).
    DeviceTokenMismatch,
    /// Too many failed handshakes from the address (`AUTH_RATE_LIMITED`);
    /// retry after this many milliseconds.
    RateLimited { retry_after_ms: u64 },
}

impl AuthFailure {
    /// The error answer; the hint depends on the client (`cli` or another).
    fn answer(self, client_id: &str) -> ErrorShape {
        let hint = if client_id == "cli" {
            "set gateway.remote.token to match gateway.auth.token"
        } else {
            "provide gateway auth token"
        };
        let (msg, code, reason) = match self {
            AuthFailure::TokenMissing => (
                format!("unauthorized: gateway token missing ({hint})"),
                "AUTH_TOKEN_MISSING",
                "token_missing",
            ),
            AuthFailure::DeviceTokenMismatch => (
                "unauthorized: device token mismatch (rotate/reissue device token)".to_string(),
                "AUTH_DEVICE_TOKEN_MISMATCH",
                "device_token_mismatch",
            ),
            AuthFailure::TokenMismatch => (
                format!("unauthorized: gateway token mismatch ({hint})"),
                "AUTH_TOKEN_MISMATCH",
                "token_mismatch",
            ),
            AuthFailure::RateLimited { retry_after_ms } => {
                return ErrorShape::invalid(
                    "unauthorized: too many failed authentication attempts (retry later)",
                )
                .with_details(json!({"code": "AUTH_RATE_LIMITED", "authReason": "rate_limited"}))
                .retry_after(retry_after_ms)
            }
        };
        ErrorShape::invalid(msg).with_details(json!({"code": code, "authReason": reason}))
    }
}

/// An `unauthorized` refusal, closed with 1008. Counted as a failed handshake,
/// except the lockout answer itself.
fn unauthorized(failure: AuthFailure, client_id: &str) -> Failure {
    Failure {
        error: failure.answer(client_id),
        close_code: 1008,
        counts_as_failure: !matches!(failure, AuthFailure::RateLimited { .. }),
    }
}

fn device_invalid(message: &str, reason: &str) -> Failure {
    Failure::bad(
        ErrorShape::invalid(message)
            .with_details(json!({"code": "DEVICE_AUTH_INVALID", "reason": reason})),
    )
}

/// How a device-carrying `connect` authenticated.
enum AuthKind {
    /// The shared gateway token.
    Shared,
    /// A setup token, usable for this device.
    Setup(String),
    /// A spent setup token presented by the paired device it was bound to.
    SetupAlias,
    /// A device token (`auth.deviceToken`, explicit) or `auth.token` tried as one.
    DeviceToken { token: String, explicit: bool },
}

/// Answers one `connect` (spec gateway-protocol §3.5, node-pairing §4), in
/// OpenClaw's order: the params and the connection, then (with a device) the
/// device checks, authentication, the pairing decision, and the answer.
pub(super) async fn connect(
    hub: &Arc<Hub>,
    req: &Request,
    peer: &Peer,
) -> Result<Session, Failure> {
    let p = preflight(hub, req, peer)?;
    let auth = p.auth.clone().unwrap_or_default();
    let shared_ok = auth
        .token
        .as_deref()
        .is_some_and(|t| crypto::secrets_equal(t, &hub.cfg.token));
    let Some(device) = p.device.clone() else {
        return without_device(hub, &p, &auth, shared_ok);
    };
    let public_key = device_checks(&p, &device, peer)?;
    let kind = authenticate(hub, &p, &device, &auth, shared_ok).await?;
    let outcome = pairing_job(hub, &p, &device, public_key, &kind, peer).await?;
    accept(hub, &p, &device, kind, outcome, peer).await
}

/// The params schema, protocol range, role, origin and the address's lockout.
fn preflight(hub: &Hub, req: &Request, peer: &Peer) -> Result<ConnectParams, Failure> {
    let p = frames::parse_connect_params(req.params.as_ref())
        .map_err(|e| Failure::bad(ErrorShape::invalid(format!("invalid connect params: {e}"))))?;
    if p.min_protocol > frames::PROTOCOL || p.max_protocol < frames::PROTOCOL {
        return Err(Failure {
            error: ErrorShape::invalid("protocol mismatch")
                .with_details(json!({"expectedProtocol": frames::PROTOCOL})),
            close_code: 1002,
            counts_as_failure: true,
        });
    }
    let role = p.role();
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
        return Err(unauthorized(limited, &p.client.id));
    }
    Ok(p)
}

/// A `connect` without a device identity: only an operator with the shared token.
fn without_device(
    hub: &Hub,
    p: &ConnectParams,
    auth: &AuthParams,
    shared_ok: bool,
) -> Result<Session, Failure> {
    if p.role() == "operator" && shared_ok {
        return Ok(hello_ok(hub, p, None));
    }
    if auth.token.is_some() && !shared_ok {
        return Err(unauthorized(AuthFailure::TokenMismatch, &p.client.id));
    }
    Err(Failure::bad(
        ErrorShape::new("NOT_PAIRED", "device identity required")
            .with_details(json!({"code": "DEVICE_IDENTITY_REQUIRED"})),
    ))
}

/// Check #7: the id is the key's, the signature is fresh, signs this
/// connection's nonce and verifies. Returns the public key (base64url).
fn device_checks(p: &ConnectParams, device: &DeviceParams, peer: &Peer) -> Result<String, Failure> {
    let raw = crypto::decode_public_key(&device.public_key);
    if raw.map(|r| crypto::device_id_for(&r)).as_deref() != Some(device.id.as_str()) {
        return Err(device_invalid(
            "device identity mismatch",
            "device-id-mismatch",
        ));
    }
    if (now() - device.signed_at).abs() > 120_000 {
        return Err(device_invalid(
            "device signature expired",
            "device-signature-stale",
        ));
    }
    if device.nonce.trim().is_empty() {
        return Err(device_invalid(
            "device nonce required",
            "device-nonce-missing",
        ));
    }
    if !crypto::secrets_equal(&device.nonce, &peer.nonce) {
        return Err(device_invalid(
            "device nonce mismatch",
            "device-nonce-mismatch",
        ));
    }
    let Some(raw) = raw else {
        return Err(device_invalid(
            "device public key invalid",
            "device-public-key",
        ));
    };
    let fields = p.signed_fields(device);
    if crypto::verify_device(&raw, &fields, &device.signature).is_none() {
        return Err(device_invalid(
            "device signature invalid",
            "device-signature",
        ));
    }
    Ok(crypto::b64url(&raw))
}

/// Check #8: the shared token, else (a node) a setup token, else a device
/// token to verify in the pairing job.
async fn authenticate(
    hub: &Hub,
    p: &ConnectParams,
    device: &DeviceParams,
    auth: &AuthParams,
    shared_ok: bool,
) -> Result<AuthKind, Failure> {
    if shared_ok {
        return Ok(AuthKind::Shared);
    }
    if p.role() == "node" && auth.device_token.is_none() {
        if let Some(t) = auth.token.as_deref() {
            if let Some(kind) = setup_token(hub, t, &device.id).await {
                return Ok(kind);
            }
        }
    }
    match (auth.device_token.as_deref(), auth.token.as_deref()) {
        (Some(dt), _) => Ok(AuthKind::DeviceToken {
            token: dt.to_string(),
            explicit: true,
        }),
        (None, Some(t)) => Ok(AuthKind::DeviceToken {
            token: t.to_string(),
            explicit: false,
        }),
        (None, None) => Err(unauthorized(AuthFailure::TokenMissing, &p.client.id)),
    }
}

/// `token` as a setup token of `device_id`, when it is one and usable.
async fn setup_token(hub: &Hub, token: &str, device_id: &str) -> Option<AuthKind> {
    let paths = hub.paths.clone();
    let store = hub.store.clone();
    let (tok, dev) = (token.to_string(), device_id.to_string());
    let verdict = tokio::task::spawn_blocking(move || {
        let t_now = now();
        setup::use_for_device(
            &paths,
            &tok,
            &dev,
            |expiry| {
                store
                    .load(t_now)
                    .ok()
                    .and_then(|st| st.paired_by_id(&dev).map(|d| d.approved_at_ms <= expiry))
                    .unwrap_or(false)
            },
            |request_id| {
                store.load(t_now).is_ok_and(|st| {
                    st.paired_by_id(&dev).is_none()
                        && !st.pending.iter().any(|r| r.request_id == request_id)
                })
            },
            t_now,
        )
    })
    .await;
    match verdict {
        Ok(Ok(SetupVerdict::Usable { first_use })) => {
            if first_use {
                hub.emit(GatewayEvent::SetupCodeUsed {
                    device_id: device_id.to_string(),
                });
            }
            Some(AuthKind::Setup(token.to_string()))
        }
        Ok(Ok(SetupVerdict::PairedAlias)) => Some(AuthKind::SetupAlias),
        Ok(Ok(SetupVerdict::Refused(why))) => {
            tracing::debug!("setup token refused: {why}");
            None
        }
        Ok(Err(e)) => {
            tracing::warn!("setup tokens unreadable: {e}");
            None
        }
        Err(_) => None,
    }
}

/// Checks #8 (device token) and #9 (pairing) as one job of the devices writer.
async fn pairing_job(
    hub: &Hub,
    p: &ConnectParams,
    device: &DeviceParams,
    public_key: String,
    kind: &AuthKind,
    peer: &Peer,
) -> Result<Outcome, Failure> {
    let remote_ip = if peer.local || peer.ip.is_loopback() {
        None
    } else {
        Some(peer.ip.to_string())
    };
    let role = p.role().to_string();
    let job = PairingJob {
        input: RequestInput {
            device_id: device.id.clone(),
            public_key,
            display_name: p.client.display_name.clone(),
            platform: Some(p.client.platform.clone()),
            device_family: p.client.device_family.clone(),
            client_id: Some(p.client.id.clone()),
            client_mode: Some(p.client.mode.clone()),
            role: Some(role.clone()),
            scopes: p.scopes.clone(),
            remote_ip: remote_ip.clone(),
            silent: false,
        },
        meta: ConnectMeta {
            display_name: p.client.display_name.clone(),
            client_id: Some(p.client.id.clone()),
            client_mode: Some(p.client.mode.clone()),
            role: Some(role.clone()),
            remote_ip,
            scopes: p.scopes.clone(),
        },
        role,
        scopes: p.scopes.clone(),
        device_token: match kind {
            AuthKind::DeviceToken { token, .. } => Some(token.clone()),
            _ => None,
        },
        alias: matches!(kind, AuthKind::SetupAlias),
        may_create: hub.may_create_pending(peer.ip),
        silent_ok: hub.cfg.auto_approve_local && peer.local,
    };
    let known = hub.known_pending();
    let outcome = hub.worker.run(move |st, t| job.run(st, &known, t)).await;
    let failed = match outcome {
        Ok(Ok(o)) => return Ok(o),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    tracing::warn!("pairing check failed: {failed}");
    Err(Failure {
        error: ErrorShape::new("UNAVAILABLE", "device store unavailable").retry_after(1000),
        close_code: 1011,
        counts_as_failure: false,
    })
}

/// The answer to the pairing job's outcome: `hello-ok` with the device token,
/// or the refusal (announcing a new request to pairing operators).
async fn accept(
    hub: &Hub,
    p: &ConnectParams,
    device: &DeviceParams,
    kind: AuthKind,
    outcome: Outcome,
    peer: &Peer,
) -> Result<Session, Failure> {
    match outcome {
        Outcome::AuthFailed(reason) => {
            tracing::debug!("device token auth failed: {reason}");
            let failure = if matches!(kind, AuthKind::DeviceToken { explicit: true, .. }) {
                AuthFailure::DeviceTokenMismatch
            } else {
                AuthFailure::TokenMismatch
            };
            Err(unauthorized(failure, &p.client.id))
        }
        Outcome::TooManyPending => Err(Failure {
            error: ErrorShape::new(
                "UNAVAILABLE",
                "too many pending pairing requests from this address",
            )
            .retry_after(PENDING_TTL_MS as u64),
            close_code: 1008,
            counts_as_failure: true,
        }),
        Outcome::PairingRequired {
            request_id,
            reason,
            created,
            request,
        } => {
            hub.note_pending(peer.ip, request_id.clone());
            if let AuthKind::Setup(tok) = &kind {
                let (paths, tok, rid) = (hub.paths.clone(), tok.clone(), request_id.clone());
                let _ =
                    tokio::task::spawn_blocking(move || setup::note_request(&paths, &tok, &rid))
                        .await;
            }
            if created {
                hub.broadcast("device.pair.requested", request, Audience::Pairing);
                hub.emit(GatewayEvent::DevicePairRequested {
                    request_id: request_id.clone(),
                    device_id: device.id.clone(),
                });
            }
            Err(Failure {
                error: ErrorShape::new("NOT_PAIRED", "pairing required").with_details(json!({
                    "code": "PAIRING_REQUIRED",
                    "requestId": request_id,
                    "reason": reason.as_str(),
                })),
                close_code: 1008,
                counts_as_failure: false,
            })
        }
        Outcome::Accepted {
            token,
            silently_approved,
        } => {
            if let Some(rid) = silently_approved {
                announce_resolved(hub, &rid, &device.id, Decision::Approved, now()).await;
            }
            let auth_v = json!({
                "deviceToken": token.token,
                "role": token.role,
                "scopes": token.scopes,
                "issuedAtMs": token.rotated_at_ms.unwrap_or(token.created_at_ms),
            });
            let mut s = hello_ok(hub, p, Some(auth_v));
            s.device_id = Some(device.id.clone());
            if let AuthKind::Setup(t) = kind {
                s.setup_token_used = Some(t);
            }
            Ok(s)
        }
    }
}
