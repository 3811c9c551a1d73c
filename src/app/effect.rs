//! Every side effect `update` can ask for, as data. The runtime runs them.

use serde::Serialize;

use super::state::RowKey;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    ApproveDm {
        key: RowKey,
        code: String,
    },
    RejectDm {
        key: RowKey,
        code: String,
    },
    ApproveDevice {
        key: RowKey,
        request_id: String,
    },
    RejectDevice {
        key: RowKey,
        request_id: String,
    },
    RemoveDevice {
        key: RowKey,
        device_id: String,
    },
    RevokeAllow {
        key: RowKey,
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
    Quit,
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
    #[serde(rename = "setup_code.issued")]
    SetupCodeIssued {
        code: String,
        url: String,
        expires_at_ms: i64,
    },
    #[serde(rename = "setup_code.used")]
    SetupCodeUsed { device_id: String },
    #[serde(rename = "setup_code.expired")]
    SetupCodeExpired,
    #[serde(rename = "gateway.listening")]
    GatewayListening { addr: String },
    #[serde(rename = "gateway.bind_failed")]
    GatewayBindFailed { addr: String, error: String },
    #[serde(rename = "gateway.stopped")]
    GatewayStopped,
}
