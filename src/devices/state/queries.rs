//! Questions asked of the device state: the pairing checks of a connect,
//! and lookups of requests and paired devices.

use super::*;

impl DeviceState {
    /// The pairing checks of a connect, in order (gateway-protocol §4):
    /// `None` when the device is paired with this key, its stored
    /// platform/deviceFamily match (trimmed, ASCII case-insensitive; an empty
    /// stored value matches anything), it holds the role, and its stored
    /// `scopes` (else `approvedScopes`) cover the requested scopes.
    pub fn pairing_reason(&self, claim: &ConnectClaim<'_>) -> Option<PairingReason> {
        let Some(dev) = self.paired_by_id(claim.device_id) else {
            return Some(PairingReason::NotPaired);
        };
        if dev.public_key != claim.public_key {
            return Some(PairingReason::NotPaired);
        }
        for (stored, claimed) in [
            (&dev.platform, claim.platform),
            (&dev.device_family, claim.device_family),
        ] {
            let stored = norm_meta(stored.as_deref());
            if !stored.is_empty() && stored != norm_meta(claimed) {
                return Some(PairingReason::MetadataUpgrade);
            }
        }
        if !dev.all_roles().iter().any(|r| r == claim.role) {
            return Some(PairingReason::RoleUpgrade);
        }
        if !claim.scopes.is_empty() {
            let allowed: &[String] = match (&dev.scopes, &dev.approved_scopes) {
                (Some(s), _) if !s.is_empty() => s,
                (_, Some(a)) => a,
                _ => &[],
            };
            if !scopes_cover(claim.role, allowed, claim.scopes) {
                return Some(PairingReason::ScopeUpgrade);
            }
        }
        None
    }

    pub fn pending_by_id(&self, request_id: &str) -> Option<&PendingRequest> {
        self.pending.iter().find(|p| p.request_id == request_id)
    }

    pub fn pending_for_device(&self, device_id: &str) -> Option<&PendingRequest> {
        self.pending.iter().find(|p| p.device_id == device_id)
    }

    pub fn paired_by_id(&self, device_id: &str) -> Option<&PairedDevice> {
        self.paired.iter().find(|d| d.device_id == device_id)
    }

    pub(super) fn paired_mut(&mut self, device_id: &str) -> Option<&mut PairedDevice> {
        self.paired.iter_mut().find(|d| d.device_id == device_id)
    }

    /// Pending requests newest `ts` first (ties keep file order), as
    /// `device.pair.list` shows them.
    pub fn pending_newest_first(&self) -> Vec<&PendingRequest> {
        let mut v: Vec<&PendingRequest> = self.pending.iter().collect();
        v.sort_by_key(|p| std::cmp::Reverse(p.ts));
        v
    }

    /// Paired devices newest `approvedAtMs` first (ties keep file order).
    pub fn paired_newest_first(&self) -> Vec<&PairedDevice> {
        let mut v: Vec<&PairedDevice> = self.paired.iter().collect();
        v.sort_by_key(|d| std::cmp::Reverse(d.approved_at_ms));
        v
    }

    /// The request `approve --latest` picks: the largest `ts`.
    pub fn latest_pending(&self) -> Option<&PendingRequest> {
        self.pending_newest_first().into_iter().next()
    }
}
