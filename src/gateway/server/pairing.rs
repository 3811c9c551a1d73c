//! The pairing decision during `connect` (spec node-pairing §4, checks #8
//! with a device token and #9): one job of the devices writer, on the freshly
//! read state.

use serde_json::Value;

use super::hub::KnownPending;
use crate::devices::payload;
use crate::devices::store::RequestInput;
use crate::devices::{
    ConnectClaim, ConnectMeta, DeviceState, PairingReason, TokenFailure, TokenRecord,
};
use crate::error::StoreError;

/// What the pairing job found.
pub(super) enum Outcome {
    /// The device token (or the spent setup token) is refused.
    AuthFailed(TokenFailure),
    /// A new request is needed and the address has too many outstanding.
    TooManyPending,
    /// A request is pending (created now or refreshed).
    PairingRequired {
        request_id: String,
        reason: PairingReason,
        created: bool,
        request: Value,
        /// What this very key is already paired for: (roles, scopes).
        approved: Option<(Vec<String>, Vec<String>)>,
    },
    /// Paired for the role (perhaps approved silently just now).
    Accepted {
        token: TokenRecord,
        silently_approved: Option<String>,
    },
}

/// Everything the pairing decision needs, moved to the writer thread.
pub(super) struct PairingJob {
    pub(super) input: RequestInput,
    pub(super) meta: ConnectMeta,
    pub(super) role: String,
    pub(super) scopes: Vec<String>,
    /// The device token to verify (`AuthKind::DeviceToken`).
    pub(super) device_token: Option<String>,
    /// A spent setup token of the device it was bound to (`AuthKind::SetupAlias`).
    pub(super) alias: bool,
    /// The address may create another pending request.
    pub(super) may_create: bool,
    /// A local client, and local clients are approved silently.
    pub(super) silent_ok: bool,
    /// Protocol 4: a paired device whose token for the role was revoked must
    /// be approved again (`role-upgrade`, a repair request), as in 2026.9.6;
    /// 2026.2.26 minted a new token silently.
    pub(super) revoked_needs_repair: bool,
}

impl PairingJob {
    /// The pairing decision on the freshly read state: refuse the token, ask
    /// for pairing (creating or refreshing the request), or accept (after a
    /// silent approval, when allowed) with the device token for the role.
    pub(super) fn run(
        self,
        st: &mut DeviceState,
        known: &KnownPending,
        t: i64,
    ) -> Result<Outcome, StoreError> {
        let PairingJob {
            input,
            meta,
            role,
            scopes,
            device_token,
            alias,
            may_create,
            silent_ok,
            revoked_needs_repair,
        } = self;
        let device_id = input.device_id.clone();
        if let Some(tok) = &device_token {
            if let Err(f) = st.verify_token(&device_id, &role, tok, &scopes, t) {
                return Ok(Outcome::AuthFailed(f));
            }
        }
        if alias {
            // Only while this very key is paired with a live token for the role.
            let live = st.paired_by_id(&device_id).is_some_and(|d| {
                d.public_key == input.public_key
                    && d.token(&role).is_some_and(|r| r.revoked_at_ms.is_none())
            });
            if !live {
                return Ok(Outcome::AuthFailed(TokenFailure::TokenRevoked));
            }
        }
        let mut reason = st.pairing_reason(&ConnectClaim {
            device_id: &input.device_id,
            public_key: &input.public_key,
            platform: input.platform.as_deref(),
            device_family: input.device_family.as_deref(),
            role: &role,
            scopes: &scopes,
        });
        let same_key = st
            .paired_by_id(&device_id)
            .filter(|d| d.public_key == input.public_key);
        if reason.is_none()
            && revoked_needs_repair
            && same_key.is_some_and(|d| d.token(&role).is_some_and(|r| r.revoked_at_ms.is_some()))
        {
            reason = Some(PairingReason::RoleUpgrade);
        }
        let approved = same_key.map(|d| {
            (
                d.all_roles(),
                d.approved_scopes
                    .clone()
                    .or_else(|| d.scopes.clone())
                    .unwrap_or_default(),
            )
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
                    approved,
                });
            }
            known.remove(&rid);
            st.approve(&rid, crate::devices::new_token(), t)?;
            silently_approved = Some(rid);
        }
        st.update_on_connect(&device_id, meta)?;
        let (token, _) =
            st.ensure_token(&device_id, &role, &scopes, crate::devices::new_token(), t)?;
        Ok(Outcome::Accepted {
            token,
            silently_approved,
        })
    }
}
