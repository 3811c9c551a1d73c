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
    /// Protocol 4: `auth.bootstrapToken` refused (`AUTH_BOOTSTRAP_TOKEN_INVALID`).
    /// The same answer for every cause, as in OpenClaw, plus one extension
    /// detail naming the cause (`details.bootstrapTokenState`) so that a
    /// client can say which it was.
    BootstrapInvalid(Refusal),
}

/// What the refused client sent, for the protocol-4 hints.
struct AuthContext {
    cli: bool,
    local: bool,
    has_device: bool,
    /// `password`, `token`, `bootstrap-token`, `device-token` or `none`.
    provided: &'static str,
    has_device_token: bool,
}

impl AuthContext {
    fn of(p: &ConnectParams, peer: &Peer) -> Self {
        let a = p.auth.clone().unwrap_or_default();
        let provided = if a.password.is_some() {
            "password"
        } else if a.token.is_some() {
            "token"
        } else if a.bootstrap_token.is_some() {
            "bootstrap-token"
        } else if a.device_token.is_some() {
            "device-token"
        } else {
            "none"
        };
        AuthContext {
            cli: p.client.mode == "cli",
            local: peer.local,
            has_device: p.device.is_some(),
            provided,
            has_device_token: a.device_token.is_some(),
        }
    }
}

/// The setup-code refusal of protocol 4 (2026.9.6's exact text).
pub const SETUP_CODE_REJECTED: &str = "unauthorized: setup code invalid, expired, revoked, or already used (create a new code; review `openclaw devices list`)";

impl AuthFailure {
    fn reason(self) -> &'static str {
        match self {
            AuthFailure::TokenMissing => "token_missing",
            AuthFailure::TokenMismatch => "token_mismatch",
            AuthFailure::DeviceTokenMismatch => "device_token_mismatch",
            AuthFailure::RateLimited { .. } => "rate_limited",
            AuthFailure::BootstrapInvalid(_) => "bootstrap_token_invalid",
        }
    }

    fn detail_code(self) -> &'static str {
        match self {
            AuthFailure::TokenMissing => "AUTH_TOKEN_MISSING",
            AuthFailure::TokenMismatch => "AUTH_TOKEN_MISMATCH",
            AuthFailure::DeviceTokenMismatch => "AUTH_DEVICE_TOKEN_MISMATCH",
            AuthFailure::RateLimited { .. } => "AUTH_RATE_LIMITED",
            AuthFailure::BootstrapInvalid(_) => "AUTH_BOOTSTRAP_TOKEN_INVALID",
        }
    }

    /// The 2026.2.26 answer; the hint depends on the client (`cli` or another).
    fn answer_v3(self, client_id: &str) -> ErrorShape {
        let hint = if client_id == "cli" {
            "set gateway.remote.token to match gateway.auth.token"
        } else {
            "provide gateway auth token"
        };
        let msg = match self {
            AuthFailure::TokenMissing => format!("unauthorized: gateway token missing ({hint})"),
            AuthFailure::DeviceTokenMismatch => {
                "unauthorized: device token mismatch (rotate/reissue device token)".to_string()
            }
            AuthFailure::TokenMismatch | AuthFailure::BootstrapInvalid(_) => {
                format!("unauthorized: gateway token mismatch ({hint})")
            }
            AuthFailure::RateLimited { retry_after_ms } => {
                return ErrorShape::invalid(
                    "unauthorized: too many failed authentication attempts (retry later)",
                )
                .with_details(json!({"code": "AUTH_RATE_LIMITED", "authReason": "rate_limited"}))
                .retry_after(retry_after_ms)
            }
        };
        let code = match self {
            AuthFailure::BootstrapInvalid(_) => "AUTH_TOKEN_MISMATCH",
            other => other.detail_code(),
        };
        let reason = match self {
            AuthFailure::BootstrapInvalid(_) => "token_mismatch",
            other => other.reason(),
        };
        ErrorShape::invalid(msg).with_details(json!({"code": code, "authReason": reason}))
    }

    /// The 2026.9.6 answer: its hints (by client mode and locality) and the
    /// recovery details `canRetryWithDeviceToken` and `recommendedNextStep`.
    fn answer_v4(self, cx: &AuthContext) -> ErrorShape {
        let hint = if cx.cli {
            if cx.local {
                "use this gateway's gateway.auth.token or pair the device"
            } else {
                "set gateway.remote.token to match gateway.auth.token"
            }
        } else {
            "provide gateway auth token"
        };
        let msg = match self {
            AuthFailure::TokenMissing => format!("unauthorized: gateway token missing ({hint})"),
            AuthFailure::TokenMismatch => format!("unauthorized: gateway token mismatch ({hint})"),
            AuthFailure::DeviceTokenMismatch => {
                "unauthorized: device token mismatch (rotate/reissue device token)".to_string()
            }
            AuthFailure::RateLimited { .. } => {
                "unauthorized: too many failed authentication attempts (retry later)".to_string()
            }
            AuthFailure::BootstrapInvalid(_) => SETUP_CODE_REJECTED.to_string(),
        };
        let can_retry = matches!(self, AuthFailure::TokenMismatch)
            && cx.has_device
            && cx.provided == "token"
            && !cx.has_device_token;
        let next = if can_retry {
            "retry_with_device_token"
        } else {
            match self {
                AuthFailure::TokenMissing => "update_auth_configuration",
                AuthFailure::TokenMismatch | AuthFailure::DeviceTokenMismatch => {
                    "update_auth_credentials"
                }
                AuthFailure::RateLimited { .. } => "wait_then_retry",
                AuthFailure::BootstrapInvalid(_) => "review_auth_configuration",
            }
        };
        let mut d = Map::new();
        d.insert("code".into(), json!(self.detail_code()));
        d.insert("authReason".into(), json!(self.reason()));
        d.insert("canRetryWithDeviceToken".into(), json!(can_retry));
        d.insert("recommendedNextStep".into(), json!(next));
        if let AuthFailure::BootstrapInvalid(why) = self {
            d.insert("bootstrapTokenState".into(), json!(why.as_str()));
        }
        let e = ErrorShape::invalid(msg).with_details(Value::Object(d));
        match self {
            AuthFailure::RateLimited { retry_after_ms } => e.retry_after(retry_after_ms),
            _ => e,
        }
    }
}

/// An `unauthorized` refusal, closed with 1008. Counted as a failed handshake,
/// except the lockout answer itself.
fn unauthorized(failure: AuthFailure, o: &Offer, peer: &Peer) -> Failure {
    let error = match o.d {
        Dialect::V3 => failure.answer_v3(&o.p.client.id),
        Dialect::V4 => failure.answer_v4(&AuthContext::of(&o.p, peer)),
    };
    Failure {
        error,
        close_code: 1008,
        close_reason: None,
        counts_as_failure: !matches!(failure, AuthFailure::RateLimited { .. }),
    }
}

/// A failed device check (#7): `DEVICE_AUTH_INVALID` with the reason in
/// 2026.2.26, one detail code per reason in 2026.9.6.
fn device_invalid(d: Dialect, message: &str, reason: &str) -> Failure {
    let code = match (d, reason) {
        (Dialect::V3, _) => "DEVICE_AUTH_INVALID",
        (Dialect::V4, "device-id-mismatch") => "DEVICE_AUTH_DEVICE_ID_MISMATCH",
        (Dialect::V4, "device-signature-stale") => "DEVICE_AUTH_SIGNATURE_EXPIRED",
        (Dialect::V4, "device-nonce-missing") => "DEVICE_AUTH_NONCE_REQUIRED",
        (Dialect::V4, "device-nonce-mismatch") => "DEVICE_AUTH_NONCE_MISMATCH",
        (Dialect::V4, "device-signature") => "DEVICE_AUTH_SIGNATURE_INVALID",
        (Dialect::V4, "device-public-key") => "DEVICE_AUTH_PUBLIC_KEY_INVALID",
        (Dialect::V4, _) => "DEVICE_AUTH_INVALID",
    };
    Failure::bad(ErrorShape::invalid(message).with_details(json!({"code": code, "reason": reason})))
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

/// Check #7: the id is the key's, the signature is fresh, signs this
/// connection's nonce and verifies. Returns the public key (base64url).
fn device_checks(o: &Offer, device: &DeviceParams, peer: &Peer) -> Result<String, Failure> {
    let d = o.d;
    let raw = crypto::decode_public_key(&device.public_key);
    if raw.map(|r| crypto::device_id_for(&r)).as_deref() != Some(device.id.as_str()) {
        return Err(device_invalid(
            d,
            "device identity mismatch",
            "device-id-mismatch",
        ));
    }
    if (now() - device.signed_at).abs() > 120_000 {
        return Err(device_invalid(
            d,
            "device signature expired",
            "device-signature-stale",
        ));
    }
    if device.nonce.trim().is_empty() {
        return Err(device_invalid(
            d,
            "device nonce required",
            "device-nonce-missing",
        ));
    }
    if !crypto::secrets_equal(&device.nonce, &peer.nonce) {
        return Err(device_invalid(
            d,
            "device nonce mismatch",
            "device-nonce-mismatch",
        ));
    }
    let Some(raw) = raw else {
        return Err(device_invalid(
            d,
            "device public key invalid",
            "device-public-key",
        ));
    };
    let fields = o.p.signed_fields(device);
    if crypto::verify_device(&raw, &fields, &device.signature).is_none() {
        return Err(device_invalid(
            d,
            "device signature invalid",
            "device-signature",
        ));
    }
    Ok(crypto::b64url(&raw))
}

/// Check #8: the shared token, else (a node) a setup token — `auth.token` in
/// 2026.2.26 codes, `auth.bootstrapToken` in 2026.9 codes — else a device
/// token to verify in the pairing job.
async fn authenticate(
    hub: &Hub,
    o: &Offer,
    device: &DeviceParams,
    auth: &AuthParams,
    shared_ok: bool,
    peer: &Peer,
) -> Result<AuthKind, Failure> {
    if shared_ok {
        return Ok(AuthKind::Shared);
    }
    if let Some(bt) = auth.bootstrap_token.as_deref() {
        if auth.device_token.is_none() && auth.token.is_none() {
            // A bootstrap token only ever admits a node.
            if o.p.role() != "node" {
                let f = AuthFailure::BootstrapInvalid(Refusal::RoleNotAllowed);
                return Err(unauthorized(f, o, peer));
            }
            return match setup_token(hub, bt, &device.id, false).await {
                Ok(kind) => Ok(kind),
                Err(why) => Err(unauthorized(AuthFailure::BootstrapInvalid(why), o, peer)),
            };
        }
    }
    if o.p.role() == "node" && auth.device_token.is_none() {
        if let Some(t) = auth.token.as_deref() {
            if let Ok(kind) = setup_token(hub, t, &device.id, true).await {
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
        (None, None) => Err(unauthorized(AuthFailure::TokenMissing, o, peer)),
    }
}

/// `token` as a setup token of `device_id`, when it is one and usable.
/// `alias_ok`: a spent token may still admit the paired device it was bound
/// to (2026.2.26 codes only; a 2026.9 node switches to its device token).
async fn setup_token(
    hub: &Hub,
    token: &str,
    device_id: &str,
    alias_ok: bool,
) -> Result<AuthKind, Refusal> {
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
            Ok(AuthKind::Setup(token.to_string()))
        }
        Ok(Ok(SetupVerdict::PairedAlias)) if alias_ok => Ok(AuthKind::SetupAlias),
        Ok(Ok(SetupVerdict::PairedAlias)) => Err(Refusal::Used),
        Ok(Ok(SetupVerdict::Refused(why))) => {
            tracing::debug!("setup token refused: {}", why.as_str());
            Err(why)
        }
        Ok(Err(e)) => {
            tracing::warn!("setup tokens unreadable: {e}");
            Err(Refusal::Unknown)
        }
        Err(_) => Err(Refusal::Unknown),
    }
}

/// Checks #8 (device token) and #9 (pairing) as one job of the devices writer.
async fn pairing_job(
    hub: &Hub,
    o: &Offer,
    device: &DeviceParams,
    public_key: String,
    kind: &AuthKind,
    peer: &Peer,
) -> Result<Outcome, Failure> {
    let p = &o.p;
    let remote_ip = if peer.local || peer.ip.is_loopback() {
        None
    } else {
        Some(peer.ip.to_string())
    };
    let role = p.role().to_string();
    // 2026.9.6 fills `deviceFamily` for node hosts that omit it.
    let device_family = match (&p.client.device_family, o.d) {
        (None, Dialect::V4) if p.client.id == "node-host" => {
            default_device_family(&p.client.platform)
        }
        (f, _) => f.clone(),
    };
    let job = PairingJob {
        input: RequestInput {
            device_id: device.id.clone(),
            public_key,
            display_name: p.client.display_name.clone(),
            platform: Some(p.client.platform.clone()),
            device_family,
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
        revoked_needs_repair: o.d == Dialect::V4,
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
        close_reason: None,
        counts_as_failure: false,
    })
}

/// `Linux` for `linux`, as 2026.9.6 stores node hosts that send no family.
fn default_device_family(platform: &str) -> Option<String> {
    let p = platform.trim().to_ascii_lowercase();
    let f = match p.as_str() {
        "linux" => "Linux",
        "darwin" | "macos" => "Mac",
        "win32" | "windows" => "Windows",
        _ => return None,
    };
    Some(f.to_string())
}

/// The 2026.9.6 requirement text of a pairing reason.
fn requirement(reason: PairingReason) -> &'static str {
    match reason {
        PairingReason::NotPaired => "device is not approved yet",
        PairingReason::RoleUpgrade => "device is asking for a higher role than currently approved",
        PairingReason::ScopeUpgrade => "device is asking for more scopes than currently approved",
        PairingReason::MetadataUpgrade => "device identity changed and must be re-approved",
    }
}

/// The 2026.9.6 remediation hint of a pairing reason.
fn remediation_hint(reason: PairingReason) -> &'static str {
    match reason {
        PairingReason::NotPaired => "Approve this device from the pending pairing requests.",
        PairingReason::RoleUpgrade => {
            "Review the requested role upgrade, then approve the pending request."
        }
        PairingReason::ScopeUpgrade => {
            "Review the requested scopes, then approve the pending upgrade."
        }
        PairingReason::MetadataUpgrade => {
            "Review the refreshed device details, then approve the pending request."
        }
    }
}

/// What a protocol-4 `pairing required` answer says.
struct PairingRequiredV4<'a> {
    request_id: &'a str,
    reason: PairingReason,
    device_id: &'a str,
    role: &'a str,
    scopes: &'a [String],
    /// The client retries by itself (`wait_then_retry`, `pauseReconnect:false`).
    retry: bool,
    approved: Option<&'a (Vec<String>, Vec<String>)>,
}

impl PairingRequiredV4<'_> {
    /// `NOT_PAIRED` with 2026.9.6's message and details (in its key order,
    /// empty values left out) and the close reason `<message> (requestId: <id>)`.
    fn failure(&self) -> Failure {
        let message = format!("pairing required: {}", requirement(self.reason));
        let mut d = Map::new();
        d.insert("code".into(), json!("PAIRING_REQUIRED"));
        d.insert("reason".into(), json!(self.reason.as_str()));
        d.insert("requestId".into(), json!(self.request_id));
        d.insert(
            "remediationHint".into(),
            json!(remediation_hint(self.reason)),
        );
        if self.retry {
            d.insert("recommendedNextStep".into(), json!("wait_then_retry"));
            d.insert("retryable".into(), json!(true));
            d.insert("pauseReconnect".into(), json!(false));
        }
        d.insert("deviceId".into(), json!(self.device_id));
        d.insert("requestedRole".into(), json!(self.role));
        if !self.scopes.is_empty() {
            d.insert("requestedScopes".into(), json!(self.scopes));
        }
        if let Some((roles, scopes)) = self.approved {
            if !roles.is_empty() {
                d.insert("approvedRoles".into(), json!(roles));
            }
            if !scopes.is_empty() {
                d.insert("approvedScopes".into(), json!(scopes));
            }
        }
        Failure {
            close_reason: Some(format!("{message} (requestId: {})", self.request_id)),
            error: ErrorShape::new("NOT_PAIRED", message).with_details(Value::Object(d)),
            close_code: 1008,
            counts_as_failure: false,
        }
    }
}

/// The answer to the pairing job's outcome: `hello-ok` with the device token,
/// or the refusal (announcing a new request to pairing operators).
async fn accept(
    hub: &Hub,
    o: &Offer,
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
            Err(unauthorized(failure, o, peer))
        }
        Outcome::TooManyPending => Err(Failure {
            error: ErrorShape::new(
                "UNAVAILABLE",
                "too many pending pairing requests from this address",
            )
            .retry_after(PENDING_TTL_MS as u64),
            close_code: 1008,
            close_reason: None,
            counts_as_failure: true,
        }),
        Outcome::PairingRequired {
            request_id,
            reason,
            created,
            request,
            approved,
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
            match o.d {
                Dialect::V3 => Err(Failure {
                    error: ErrorShape::new("NOT_PAIRED", "pairing required").with_details(json!({
                        "code": "PAIRING_REQUIRED",
                        "requestId": request_id,
                        "reason": reason.as_str(),
                    })),
                    close_code: 1008,
                    close_reason: None,
                    counts_as_failure: false,
                }),
                Dialect::V4 => {
                    // 2026.9.6 asks a node that came with a setup code to
                    // retry by itself, so it connects once approved.
                    let retry = matches!(kind, AuthKind::Setup(_))
                        && reason == PairingReason::NotPaired
                        && o.p.role() == "node"
                        && o.p.scopes.is_empty()
                        && approved.is_none();
                    Err(PairingRequiredV4 {
                        request_id: &request_id,
                        reason,
                        device_id: &device.id,
                        role: o.p.role(),
                        scopes: &o.p.scopes,
                        retry,
                        approved: approved.as_ref(),
                    }
                    .failure())
                }
            }
        }
        Outcome::Accepted {
            token,
            silently_approved,
        } => {
            if let Some(rid) = silently_approved {
                announce_resolved(hub, &rid, &device.id, Decision::Approved, now()).await;
            }
            let granted = Granted {
                method: kind.method(),
                device_id: Some(device.id.clone()),
                device_caller: matches!(kind, AuthKind::DeviceToken { .. }),
                token: Some(token),
                scopes: o.p.scopes.clone(),
            };
            let mut s = hello_ok(hub, &o.p, o.d, granted);
            if let AuthKind::Setup(t) = kind {
                s.setup_token_used = Some(t);
            }
            Ok(s)
        }
    }
}
