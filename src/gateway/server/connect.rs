//! The `connect` request: device checks, authentication and pairing during
//! connect (spec gateway-protocol §3.5, node-pairing §4).

use std::sync::Arc;

use serde_json::{json, Value};

use super::hello::{hello_ok, Session};
use super::hub::{now, Audience, Hub};
use super::resolved::announce_resolved;
use super::wire::Peer;
use crate::devices::payload;
use crate::devices::store::RequestInput;
use crate::devices::{ConnectClaim, ConnectMeta, PairingReason, TokenFailure, PENDING_TTL_MS};
use crate::error::StoreError;
use crate::gateway::crypto;
use crate::gateway::frames::{self, ErrorShape, Request};
use crate::gateway::setup::{self, SetupVerdict};
use crate::gateway::GatewayEvent;

pub(super) struct Failure {
    pub(super) error: ErrorShape,
    pub(super) close_code: u16,
    pub(super) counts_as_failure: bool,
}

impl Failure {
    fn bad(error: ErrorShape) -> Self {
        Failure {
            error,
            close_code: 1008,
            counts_as_failure: true,
        }
    }
}

pub(super) fn unauthorized(client_id: &str, kind: &str) -> ErrorShape {
    let hint = if client_id == "cli" {
        "set gateway.remote.token to match gateway.auth.token"
    } else {
        "provide gateway auth token"
    };
    let (msg, code, reason) = match kind {
        "token_missing" => (
            format!("unauthorized: gateway token missing ({hint})"),
            "AUTH_TOKEN_MISSING",
            "token_missing",
        ),
        "device_token_mismatch" => (
            "unauthorized: device token mismatch (rotate/reissue device token)".to_string(),
            "AUTH_DEVICE_TOKEN_MISMATCH",
            "device_token_mismatch",
        ),
        _ => (
            format!("unauthorized: gateway token mismatch ({hint})"),
            "AUTH_TOKEN_MISMATCH",
            "token_mismatch",
        ),
    };
    ErrorShape::invalid(msg).with_details(json!({"code": code, "authReason": reason}))
}

pub(super) fn device_invalid(message: &str, reason: &str) -> Failure {
    Failure::bad(
        ErrorShape::invalid(message)
            .with_details(json!({"code": "DEVICE_AUTH_INVALID", "reason": reason})),
    )
}

pub(super) enum AuthKind {
    Shared,
    Setup(String),
    /// A spent setup token presented by the paired device it was bound to.
    SetupAlias,
    DeviceToken {
        token: String,
        explicit: bool,
    },
    None,
}

/// What the combined store job found.
pub(super) enum Outcome {
    AuthFailed(TokenFailure),
    TooManyPending,
    PairingRequired {
        request_id: String,
        reason: PairingReason,
        created: bool,
        request: Value,
    },
    Accepted {
        token: crate::devices::TokenRecord,
        silently_approved: Option<String>,
    },
}

pub(super) async fn connect(
    hub: &Arc<Hub>,
    req: &Request,
    peer: &Peer,
) -> Result<Session, Failure> {
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
    let role = p.role().to_string();
    if role != "operator" && role != "node" {
        return Err(Failure::bad(ErrorShape::invalid("invalid role")));
    }
    if peer.origin.is_some() {
        return Err(Failure::bad(ErrorShape::invalid(
            "origin not allowed (clawpair accepts no browser clients)",
        )));
    }
    if let Some(ms) = hub.locked_out(peer.ip) {
        return Err(Failure {
            error: ErrorShape::invalid(
                "unauthorized: too many failed authentication attempts (retry later)",
            )
            .with_details(json!({"code": "AUTH_RATE_LIMITED", "authReason": "rate_limited"}))
            .retry_after(ms),
            close_code: 1008,
            counts_as_failure: false,
        });
    }
    let auth = p.auth.clone().unwrap_or_default();
    let shared_ok = auth
        .token
        .as_deref()
        .is_some_and(|t| crypto::secrets_equal(t, &hub.cfg.token));
    let Some(device) = p.device.clone() else {
        if role == "operator" && shared_ok {
            return Ok(hello_ok(hub, &p, None));
        }
        if auth.token.is_some() && !shared_ok {
            return Err(Failure::bad(unauthorized(&p.client.id, "token_mismatch")));
        }
        return Err(Failure::bad(
            ErrorShape::new("NOT_PAIRED", "device identity required")
                .with_details(json!({"code": "DEVICE_IDENTITY_REQUIRED"})),
        ));
    };
    // #7 device checks.
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
    let fields = p.signed_fields(&device);
    if crypto::verify_device(&raw, &fields, &device.signature).is_none() {
        return Err(device_invalid(
            "device signature invalid",
            "device-signature",
        ));
    }
    let public_key = crypto::b64url(&raw);
    // #8 auth.
    let mut kind = if shared_ok {
        AuthKind::Shared
    } else {
        AuthKind::None
    };
    if matches!(kind, AuthKind::None) && role == "node" && auth.device_token.is_none() {
        if let Some(t) = auth.token.as_deref() {
            let paths = hub.paths.clone();
            let store = hub.store.clone();
            let (tok, dev) = (t.to_string(), device.id.clone());
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
                            .and_then(|st| {
                                st.paired_by_id(&dev).map(|d| d.approved_at_ms <= expiry)
                            })
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
                            device_id: device.id.clone(),
                        });
                    }
                    kind = AuthKind::Setup(t.to_string());
                }
                Ok(Ok(SetupVerdict::PairedAlias)) => kind = AuthKind::SetupAlias,
                Ok(Ok(SetupVerdict::Refused(why))) => {
                    tracing::debug!("setup token refused: {why}");
                }
                Ok(Err(e)) => tracing::warn!("setup tokens unreadable: {e}"),
                Err(_) => {}
            }
        }
    }
    if matches!(kind, AuthKind::None) {
        match (auth.device_token.as_deref(), auth.token.as_deref()) {
            (Some(dt), _) => {
                kind = AuthKind::DeviceToken {
                    token: dt.to_string(),
                    explicit: true,
                }
            }
            (None, Some(t)) => {
                kind = AuthKind::DeviceToken {
                    token: t.to_string(),
                    explicit: false,
                }
            }
            (None, None) => {
                return Err(Failure::bad(unauthorized(&p.client.id, "token_missing")));
            }
        }
    }
    // #8 (device token) and #9 pairing, in one locked store transaction.
    let may_create = hub.may_create_pending(peer.ip);
    let silent_ok = hub.cfg.auto_approve_local && peer.local;
    let remote_ip = if peer.local || peer.ip.is_loopback() {
        None
    } else {
        Some(peer.ip.to_string())
    };
    let device_token = match &kind {
        AuthKind::DeviceToken { token, .. } => Some(token.clone()),
        _ => None,
    };
    let alias = matches!(kind, AuthKind::SetupAlias);
    let input = RequestInput {
        device_id: device.id.clone(),
        public_key: public_key.clone(),
        display_name: p.client.display_name.clone(),
        platform: Some(p.client.platform.clone()),
        device_family: p.client.device_family.clone(),
        client_id: Some(p.client.id.clone()),
        client_mode: Some(p.client.mode.clone()),
        role: Some(role.clone()),
        scopes: p.scopes.clone(),
        remote_ip: remote_ip.clone(),
        silent: false,
    };
    let meta = ConnectMeta {
        display_name: p.client.display_name.clone(),
        client_id: Some(p.client.id.clone()),
        client_mode: Some(p.client.mode.clone()),
        role: Some(role.clone()),
        remote_ip: remote_ip.clone(),
        scopes: p.scopes.clone(),
    };
    let known = hub.known_pending();
    let (role_j, scopes_j) = (role.clone(), p.scopes.clone());
    let outcome = hub
        .worker
        .run(move |st, t| -> Result<Outcome, StoreError> {
            let device_id = input.device_id.clone();
            if let Some(tok) = &device_token {
                if let Err(f) = st.verify_token(&device_id, &role_j, tok, &scopes_j, t) {
                    return Ok(Outcome::AuthFailed(f));
                }
            }
            if alias {
                // Only while this very key is paired with a live token for the role.
                let live = st.paired_by_id(&device_id).is_some_and(|d| {
                    d.public_key == input.public_key
                        && d.token(&role_j).is_some_and(|r| r.revoked_at_ms.is_none())
                });
                if !live {
                    return Ok(Outcome::AuthFailed(TokenFailure::TokenRevoked));
                }
            }
            let reason = st.pairing_reason(&ConnectClaim {
                device_id: &input.device_id,
                public_key: &input.public_key,
                platform: input.platform.as_deref(),
                device_family: input.device_family.as_deref(),
                role: &role_j,
                scopes: &scopes_j,
            });
            let mut silently_approved = None;
            if let Some(reason) = reason {
                let silent = silent_ok
                    && matches!(
                        reason,
                        PairingReason::NotPaired | PairingReason::ScopeUpgrade
                    );
                let creating = st.pending_for_device(&device_id).is_none();
                if creating && !may_create && !silent {
                    return Ok(Outcome::TooManyPending);
                }
                let mut inp = input.clone();
                inp.silent = silent;
                let out = st.request(inp, uuid::Uuid::new_v4().to_string(), t);
                let rid = out.request.request_id.clone();
                if !silent {
                    known.insert(rid.clone(), device_id.clone(), out.request.ts);
                    return Ok(Outcome::PairingRequired {
                        request_id: rid,
                        reason,
                        created: out.created,
                        request: payload::requested_payload(&out.request),
                    });
                }
                known.remove(&rid);
                st.approve(&rid, crate::devices::new_token(), t)?;
                silently_approved = Some(rid);
            }
            st.update_on_connect(&device_id, meta)?;
            let (token, _) = st.ensure_token(
                &device_id,
                &role_j,
                &scopes_j,
                crate::devices::new_token(),
                t,
            )?;
            Ok(Outcome::Accepted {
                token,
                silently_approved,
            })
        })
        .await;
    let outcome = match outcome {
        Ok(Ok(o)) => o,
        other => {
            let msg = match other {
                Ok(Err(se)) => se.to_string(),
                Err(s) => s,
                Ok(Ok(_)) => String::new(),
            };
            tracing::warn!("pairing check failed: {msg}");
            return Err(Failure {
                error: ErrorShape::new("UNAVAILABLE", "device store unavailable").retry_after(1000),
                close_code: 1011,
                counts_as_failure: false,
            });
        }
    };
    match outcome {
        Outcome::AuthFailed(reason) => {
            tracing::debug!("device token auth failed: {reason}");
            let explicit = matches!(kind, AuthKind::DeviceToken { explicit: true, .. });
            Err(Failure::bad(unauthorized(
                &p.client.id,
                if explicit {
                    "device_token_mismatch"
                } else {
                    "token_mismatch"
                },
            )))
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
                announce_resolved(hub, &rid, &device.id, "approved", now());
            }
            let auth_v = json!({
                "deviceToken": token.token,
                "role": token.role,
                "scopes": token.scopes,
                "issuedAtMs": token.rotated_at_ms.unwrap_or(token.created_at_ms),
            });
            let mut s = hello_ok(hub, &p, Some(auth_v));
            s.device_id = Some(device.id.clone());
            if let AuthKind::Setup(t) = kind {
                s.setup_token_used = Some(t);
            }
            Ok(s)
        }
    }
}
