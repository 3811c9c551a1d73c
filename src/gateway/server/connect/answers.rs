//! The refusals of `connect`, worded in the connection's dialect: `unauthorized`
//! (`AUTH_*`, with protocol 4's hints) and the failed device checks.

use super::*;

/// Why a `connect` is answered `unauthorized` (`details.code` `AUTH_*`).
#[derive(Debug, Clone, Copy)]
pub(super) enum AuthFailure {
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
pub(super) fn unauthorized(failure: AuthFailure, o: &Offer, peer: &Peer) -> Failure {
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
pub(super) fn device_invalid(d: Dialect, message: &str, reason: &str) -> Failure {
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
