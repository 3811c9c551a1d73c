//! Every side effect `update` can ask for, as data, and the typed results
//! the runtime sends back. The runtime runs them; a source performs the acts.

use serde::Serialize;

use super::state::RowKey;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Perform `act` at the source; the result comes back for row `key`.
    Act {
        key: RowKey,
        act: Act,
    },
    /// Copy a secret to the clipboard.
    Copy {
        what: &'static str,
        text: String,
    },
    IssueSetupCode,
    /// Re-read `devices/` now (the gateway said something changed).
    ReloadDevices,
    /// Bell + OSC 9/777 with generic text (never a code).
    Notify(String),
    /// A machine-readable event (headless prints it; the TUI ignores it).
    Emit(Event),
    /// Append a decision to the audit log (the runtime adds time, place, user).
    Record(Decided),
    /// Read the latest decisions from the audit log (for the History view).
    LoadHistory,
    Quit,
}

/// Who made a decision the core reports, as far as this process knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// This console or headless engine (a key, a stdin line).
    Here,
    /// The gateway task of this process (a setup code redeemed).
    Gateway,
    /// Made elsewhere, noticed here in a reload of the state.
    Observed,
    /// Made elsewhere or silently by the gateway, announced by the gateway.
    AnnouncedByGateway,
}

/// A decision for the audit log. Never carries a code or token: the
/// subject types have no place for one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub action: crate::audit::Action,
    pub subject: crate::audit::Subject,
    pub origin: Origin,
    /// `Some(why)` when it was tried here and failed.
    pub failed: Option<String>,
}

/// A DM pairing request, as the store finds it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmTarget {
    pub channel: String,
    /// `None` is the default account.
    pub account: Option<String>,
    /// The sender id.
    pub id: String,
    pub code: String,
    /// The gateway's request id (remote DM approval goes by it, not the code).
    pub request_id: Option<String>,
}

/// One allow-list entry of a channel account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowTarget {
    pub channel: String,
    pub account: Option<String>,
    pub entry: String,
}

/// A decision the owner made, addressed to whatever holds the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    ApproveDm(DmTarget),
    RejectDm(DmTarget),
    RevokeAllow(AllowTarget),
    ApproveDevice {
        request_id: String,
    },
    RejectDevice {
        request_id: String,
    },
    RemoveDevice {
        device_id: String,
    },
    /// A paired node's capability surface (OpenClaw 2026.9 `node.pair.*`).
    ApproveNode {
        request_id: String,
    },
    RejectNode {
        request_id: String,
    },
}

/// What kind of decision an act is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    Approve,
    Reject,
    Remove,
    Revoke,
}

impl ActionKind {
    /// Past tense, for toasts: "Not approved: …".
    pub fn verb(self) -> &'static str {
        match self {
            ActionKind::Approve => "approved",
            ActionKind::Reject => "rejected",
            ActionKind::Remove => "removed",
            ActionKind::Revoke => "revoked",
        }
    }
    /// Progressive, for the row while it runs.
    pub fn busy(self) -> &'static str {
        match self {
            ActionKind::Approve => "approving",
            ActionKind::Reject => "rejecting",
            ActionKind::Remove => "removing",
            ActionKind::Revoke => "revoking",
        }
    }
}

impl Act {
    pub fn kind(&self) -> ActionKind {
        match self {
            Act::ApproveDm(_) | Act::ApproveDevice { .. } | Act::ApproveNode { .. } => {
                ActionKind::Approve
            }
            Act::RejectDm(_) | Act::RejectDevice { .. } | Act::RejectNode { .. } => {
                ActionKind::Reject
            }
            Act::RemoveDevice { .. } => ActionKind::Remove,
            Act::RevokeAllow(_) => ActionKind::Revoke,
        }
    }
}

/// What an act did, as the source reports it. Raw strings: the toast
/// sanitises what a sender or device supplied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    DmApproved {
        channel: String,
        id: String,
    },
    DmRejected {
        channel: String,
        id: String,
    },
    AllowRevoked {
        channel: String,
        entry: String,
    },
    DeviceApproved {
        device_id: String,
        display_name: Option<String>,
    },
    DeviceRejected {
        device_id: String,
    },
    DeviceRemoved {
        device_id: String,
    },
    NodeApproved {
        node_id: String,
        display_name: Option<String>,
    },
    NodeRejected {
        node_id: String,
    },
}

impl Done {
    /// The toast that reports it.
    pub fn message(&self) -> String {
        use crate::devices::model::short_fingerprint as fp;
        use crate::sanitize::for_terminal as clean;
        match self {
            Done::DmApproved { channel, id } => format!("Approved {id} on {channel}"),
            Done::DmRejected { channel, id } => format!("Rejected {id} on {channel}"),
            Done::AllowRevoked { channel, entry } => {
                format!("Removed {entry} from the {channel} allow-list")
            }
            Done::DeviceApproved {
                device_id,
                display_name,
            } => format!(
                "Approved {} (key {})",
                clean(display_name.as_deref().unwrap_or("device")),
                fp(device_id)
            ),
            Done::DeviceRejected { device_id } => {
                format!("Rejected the request of device {}", fp(device_id))
            }
            Done::DeviceRemoved { device_id } => format!("Removed device {}", fp(device_id)),
            Done::NodeApproved {
                node_id,
                display_name,
            } => format!(
                "Approved the capabilities of {} (key {})",
                clean(display_name.as_deref().unwrap_or("node")),
                fp(node_id)
            ),
            Done::NodeRejected { node_id } => {
                format!("Rejected the capabilities of node {}", fp(node_id))
            }
        }
    }
}

/// Why an act did not happen. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The request or entry is no longer there (expired, or decided elsewhere).
    #[error("{0}")]
    Gone(String),
    /// The source refused or failed (a store error, a gateway's answer).
    #[error("{0}")]
    Failed(String),
}

/// One line of headless output. Carries no secret except a setup code the owner asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event")]
pub enum Event {
    #[serde(rename = "dm_request.created")]
    DmCreated {
        channel: String,
        account: Option<String>,
        id: String,
        name: Option<String>,
        username: Option<String>,
    },
    #[serde(rename = "dm_request.updated")]
    DmUpdated {
        channel: String,
        account: Option<String>,
        id: String,
    },
    #[serde(rename = "dm_request.expired")]
    DmExpired {
        channel: String,
        account: Option<String>,
        id: String,
    },
    #[serde(rename = "dm_request.approved")]
    DmApproved {
        channel: String,
        account: Option<String>,
        id: String,
        by: &'static str,
    },
    #[serde(rename = "dm_request.rejected")]
    DmRejected {
        channel: String,
        account: Option<String>,
        id: String,
        by: &'static str,
    },
    #[serde(rename = "device_request.created")]
    DeviceCreated {
        request_id: String,
        device_id: String,
        display_name: Option<String>,
        platform: Option<String>,
        roles: Vec<String>,
        scopes: Vec<String>,
        remote_ip: Option<String>,
        is_repair: bool,
    },
    #[serde(rename = "device_request.approved")]
    DeviceApproved {
        request_id: String,
        device_id: String,
        by: &'static str,
    },
    #[serde(rename = "device_request.rejected")]
    DeviceRejected {
        request_id: String,
        device_id: String,
        by: &'static str,
    },
    #[serde(rename = "device_request.expired")]
    DeviceExpired {
        request_id: String,
        device_id: String,
    },
    #[serde(rename = "device.connected")]
    DeviceConnected {
        device_id: String,
        role: String,
        remote_addr: String,
    },
    #[serde(rename = "device.disconnected")]
    DeviceDisconnected { device_id: String },
    #[serde(rename = "device.closed")]
    DeviceClosed {
        device_id: String,
        role: String,
        code: u16,
        reason: String,
    },
    #[serde(rename = "setup_code.issued")]
    SetupCodeIssued {
        code: String,
        url: String,
        expires_at_ms: i64,
    },
    /// No code was issued (the gateway is not listening, …): why, and what to do.
    #[serde(rename = "setup_code.refused")]
    SetupCodeRefused { reason: String },
    #[serde(rename = "setup_code.used")]
    SetupCodeUsed { device_id: String },
    #[serde(rename = "setup_code.expired")]
    SetupCodeExpired,
    #[serde(rename = "gateway.listening")]
    GatewayListening {
        addr: String,
        /// With `--tls`: the certificate's SHA-256 (64 hex digits) to pin.
        #[serde(rename = "tlsFingerprint", skip_serializing_if = "Option::is_none")]
        tls_fingerprint: Option<String>,
    },
    #[serde(rename = "gateway.bind_failed")]
    GatewayBindFailed { addr: String, error: String },
    #[serde(rename = "gateway.stopped")]
    GatewayStopped,
    /// A DM request that was already pending when the engine started.
    #[serde(rename = "dm_request.pending")]
    DmPending {
        channel: String,
        account: Option<String>,
        id: String,
        name: Option<String>,
        username: Option<String>,
    },
    /// A device request that was already pending when the engine started.
    #[serde(rename = "device_request.pending")]
    DevicePending {
        request_id: String,
        device_id: String,
        display_name: Option<String>,
        platform: Option<String>,
        roles: Vec<String>,
        scopes: Vec<String>,
        remote_ip: Option<String>,
        is_repair: bool,
    },
    /// Both sources were read once and every pending request was reported.
    #[serde(rename = "ready")]
    Ready {
        dm_pending: usize,
        device_pending: usize,
    },
    /// A decision was appended to the audit log.
    #[serde(rename = "decision.recorded")]
    DecisionRecorded { decision: crate::audit::Record },
    /// A line on stdin that headless mode does not know.
    #[serde(rename = "input.unknown")]
    InputUnknown { error: String },
    /// A remote console's connection changed state (`connected`,
    /// `reconnecting`, `unauthorized`, `pairing_required`, …).
    #[serde(rename = "remote.status")]
    RemoteStatus {
        url: String,
        state: &'static str,
        detail: Option<String>,
        server: Option<String>,
        protocol: Option<i64>,
        scopes: Vec<String>,
    },
}

impl Event {
    /// Whether this event announces a new request (for `--exec-on-request`).
    pub fn is_new_request(&self) -> bool {
        matches!(self, Event::DmCreated { .. } | Event::DeviceCreated { .. })
    }
}
