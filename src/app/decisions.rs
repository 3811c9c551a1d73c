//! What goes into the audit log about a row: the subject of a decision
//! (channel, account, sender and name; device id, name, fingerprint, what
//! it was granted) and the action of an act. Pure; never a code or token.

use super::effect::{Act, Decided, Origin};
use super::rows::{DeviceRequest, DmRequest, PairedDevice};
use super::state::{AllowEntry, RowKey, State};
use crate::audit::{Action, Subject};

pub fn dm(r: &DmRequest) -> Subject {
    Subject::dm(&r.channel, r.account.as_deref(), &r.id, r.display_name())
}

pub fn device(r: &DeviceRequest) -> Subject {
    let mut s = Subject::device(&r.device_id, r.display_name.as_deref(), Some(&r.request_id));
    if let Subject::Device { roles, scopes, .. } = &mut s {
        *roles = r.roles.clone();
        *scopes = r.scopes.clone();
    }
    s
}

pub fn paired(p: &PairedDevice) -> Subject {
    Subject::device(&p.device_id, p.display_name.as_deref(), None)
}

/// A paired device's token of one role.
pub fn token(p: &PairedDevice, role: &str) -> Subject {
    let mut s = paired(p);
    if let Subject::Device { role: r, .. } = &mut s {
        *r = Some(role.to_string());
    }
    s
}

pub fn allow(a: &AllowEntry) -> Subject {
    Subject::dm(&a.channel, a.account.as_deref(), &a.entry, None)
}

pub fn action(act: &Act) -> Action {
    match act {
        Act::ApproveDm(_) | Act::ApproveDevice { .. } | Act::ApproveNode { .. } => Action::Approve,
        Act::RejectDm(_) | Act::RejectDevice { .. } | Act::RejectNode { .. } => Action::Reject,
        Act::RemoveDevice { .. } => Action::Remove,
        Act::RevokeAllow(_) => Action::Revoke,
    }
}

/// The subject of the row `key`, as it is on screen now.
pub fn subject_of(s: &State, key: &RowKey) -> Option<Subject> {
    use super::state::Item;
    match key {
        RowKey::Dm { .. } => {
            s.dm.iter()
                .find(|r| r.item.has_key(key))
                .map(|r| dm(&r.item))
        }
        RowKey::Device(_) => s
            .devices
            .iter()
            .find(|r| r.item.has_key(key))
            .map(|r| device(&r.item)),
        RowKey::Paired(_) => s
            .paired
            .iter()
            .find(|r| r.item.has_key(key))
            .map(|r| paired(&r.item)),
        RowKey::Allow { .. } => s
            .allow
            .iter()
            .find(|r| r.item.has_key(key))
            .map(|r| allow(&r.item)),
    }
}

pub fn made(action: Action, subject: Subject) -> Decided {
    Decided {
        action,
        subject,
        origin: Origin::Here,
        failed: None,
    }
}

pub fn observed(action: Action, subject: Subject) -> Decided {
    Decided {
        action,
        subject,
        origin: Origin::Observed,
        failed: None,
    }
}
