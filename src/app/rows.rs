//! The rows the console shows: plain data a source builds from wherever the
//! pairing state lives (files, a database, a gateway). Strings are kept raw
//! (they are keys for actions); the UI sanitizes them before drawing.

/// Device requests expire five minutes after `ts` (the device store's rule).
pub use crate::devices::PENDING_TTL_MS as DEVICE_TTL_MS;
/// DM pairing requests expire one hour after `createdAt`; at most
/// [`DM_MAX_PENDING`] wait per channel file (the DM store's rules).
pub use crate::dm::{MAX_PENDING as DM_MAX_PENDING, PENDING_TTL_MS as DM_TTL_MS};

/// One pending DM pairing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmRequest {
    pub channel: String,
    /// `meta.accountId`; `None` is the default account.
    pub account: Option<String>,
    /// Sender id.
    pub id: String,
    pub code: String,
    pub created_at_ms: Option<i64>,
    pub last_seen_at_ms: Option<i64>,
    pub meta: Vec<(String, String)>,
    /// The gateway's opaque id (`channels.pairing.*`, OpenClaw 2026.7+); a
    /// gateway never reveals the code, so `code` is empty then.
    pub request_id: Option<String>,
}

impl DmRequest {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    /// A human name from meta: `name`, else first + last name.
    pub fn display_name(&self) -> Option<String> {
        display_name_of(&self.meta)
    }

    pub fn username(&self) -> Option<&str> {
        self.meta("username").or_else(|| self.meta("handle"))
    }

    pub fn expires_at_ms(&self) -> Option<i64> {
        self.created_at_ms.map(|c| c + DM_TTL_MS)
    }

    /// What the countdown shows: never negative, and never more than the
    /// full hour when the clock is behind `createdAt` (a clock set back).
    pub fn remaining_ms(&self, now_ms: i64) -> Option<i64> {
        self.expires_at_ms()
            .map(|e| e.saturating_sub(now_ms).clamp(0, DM_TTL_MS))
    }

    /// Strictly more than the TTL in the past (OpenClaw's rule).
    pub fn is_expired(&self, now_ms: i64) -> bool {
        matches!(self.created_at_ms, Some(c) if now_ms - c > DM_TTL_MS)
    }

    pub fn account_label(&self) -> &str {
        self.account.as_deref().unwrap_or("default")
    }
}

/// A human name from a DM request's meta: `name` (or `displayName`), else
/// first + last name.
pub fn display_name_of(meta: &[(String, String)]) -> Option<String> {
    let get = |key: &str| {
        meta.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    };
    if let Some(n) = get("name").or_else(|| get("displayName")) {
        return Some(n.to_string());
    }
    match (get("firstName"), get("lastName")) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(f), None) => Some(f.to_string()),
        (None, Some(l)) => Some(l.to_string()),
        (None, None) => None,
    }
}

/// One allow-list file: a channel account's approved senders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    pub channel: String,
    pub account: Option<String>,
    pub entries: Vec<String>,
}

/// What the cap of [`DM_MAX_PENDING`] pending codes counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DmCap {
    /// Every account of a channel together (OpenClaw 2026.2.26: one
    /// `<channel>-pairing.json`).
    #[default]
    PerChannel,
    /// Each account of a channel on its own (OpenClaw 2026.9's database).
    PerAccount,
}

/// Everything read from `credentials/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DmSnapshot {
    pub requests: Vec<DmRequest>,
    pub allow: Vec<AllowList>,
    /// Files that could not be read (shown; the rest still loads).
    pub errors: Vec<String>,
    /// Why there can be no DM requests here (a gateway without DM pairing
    /// RPCs); the DM pane says it instead of looking empty.
    pub unavailable: Option<String>,
}

/// One pending device request (`devices/pending.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    pub request_id: String,
    pub device_id: String,
    pub display_name: Option<String>,
    pub platform: Option<String>,
    pub client_id: Option<String>,
    pub client_mode: Option<String>,
    /// Requested roles (role + roles, deduplicated).
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    pub remote_ip: Option<String>,
    pub is_repair: bool,
    pub ts: i64,
    /// Set for the second approval of OpenClaw 2026.9: a paired node's
    /// capability surface (`node.pair.requested`), keyed by its own request id;
    /// `device_id` is then the node id.
    pub surface: Option<NodeSurface>,
}

/// What a node's capability-surface request asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSurface {
    pub caps: Vec<String>,
    pub commands: Vec<String>,
    /// Scopes an operator needs to approve it (`requiredApproveScopes`).
    pub required_scopes: Vec<String>,
    pub version: Option<String>,
}

impl DeviceRequest {
    pub fn expires_at_ms(&self) -> i64 {
        self.ts + DEVICE_TTL_MS
    }
    /// What the countdown shows: within 0 ..= five minutes whatever the clock.
    pub fn remaining_ms(&self, now_ms: i64) -> i64 {
        self.expires_at_ms()
            .saturating_sub(now_ms)
            .clamp(0, DEVICE_TTL_MS)
    }
    /// Device requests expire after five minutes; a surface request waits
    /// until it is decided (the gateway keeps it with the paired node).
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.surface.is_none() && now_ms - self.ts > DEVICE_TTL_MS
    }
}

/// State of a paired device's tokens, summarized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// At least one unrevoked token.
    Active,
    /// Every token revoked.
    Revoked,
    /// No token issued yet.
    None,
}

impl TokenState {
    /// From whether some token is unrevoked and whether there is any token.
    pub fn of(some_active: bool, any: bool) -> TokenState {
        if some_active {
            TokenState::Active
        } else if any {
            TokenState::Revoked
        } else {
            TokenState::None
        }
    }
}

/// One paired device (`devices/paired.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairedDevice {
    pub device_id: String,
    pub display_name: Option<String>,
    pub platform: Option<String>,
    pub client_id: Option<String>,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    pub token_state: TokenState,
    /// Roles with an unrevoked token.
    pub active_roles: Vec<String>,
    pub last_used_ms: Option<i64>,
    pub approved_at_ms: i64,
    /// OpenClaw 2026.9: a node capability surface waiting for its own
    /// approval (spec openclaw-2026.9 §11); always `None` on 2026.2.26 files.
    pub pending_surface: Option<PendingSurface>,
}

/// What a paired node asks for in its second approval step: capabilities
/// and commands, and the operator scopes needed to approve them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSurface {
    pub request_id: String,
    pub caps: Vec<String>,
    pub commands: Vec<String>,
    pub required_scopes: Vec<String>,
}

impl PendingSurface {
    /// The row's note in at most `width` columns, the most telling form
    /// that fits: `⧗ capabilities: browser, file, mcp + 13 cmds (admin)`, then
    /// `⧗ capabilities: 3 caps + 13 cmds (admin)`, `⧗ 3 caps + 13 cmds
    /// (admin)`, `⧗ caps (admin)`; `(admin)` when approving it needs
    /// `operator.admin`.
    pub fn summary(&self, width: usize) -> String {
        let who = if self.required_scopes.iter().any(|s| s == "operator.admin") {
            " (admin)"
        } else {
            ""
        };
        let n = self.commands.len();
        let caps = if self.caps.is_empty() {
            "no caps".to_string()
        } else {
            self.caps.join(", ")
        };
        let c = self.caps.len();
        [
            format!("⧗ capabilities: {caps} + {n} cmds{who}"),
            format!("⧗ capabilities: {c} caps + {n} cmds{who}"),
            format!("⧗ {c} caps + {n} cmds{who}"),
        ]
        .into_iter()
        .find(|s| s.chars().count() <= width)
        .unwrap_or_else(|| format!("⧗ caps{who}"))
    }
}

/// Everything read from `devices/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceSnapshot {
    pub pending: Vec<DeviceRequest>,
    pub paired: Vec<PairedDevice>,
    pub errors: Vec<String>,
}

/// What a device request asks for compared with what the device already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    FirstTime,
    Repair,
    /// New roles and/or scopes beyond the paired record.
    Upgrade {
        roles: Vec<String>,
        scopes: Vec<String>,
    },
    /// Already holds everything asked for (re-pair).
    Same,
}

pub fn request_kind(req: &DeviceRequest, paired: Option<&PairedDevice>) -> RequestKind {
    if req.is_repair {
        return RequestKind::Repair;
    }
    let Some(p) = paired else {
        return RequestKind::FirstTime;
    };
    let roles: Vec<String> = req
        .roles
        .iter()
        .filter(|r| !p.roles.contains(r))
        .cloned()
        .collect();
    let scopes: Vec<String> = req
        .scopes
        .iter()
        .filter(|s| !p.scopes.contains(s))
        .cloned()
        .collect();
    if roles.is_empty() && scopes.is_empty() {
        RequestKind::Same
    } else {
        RequestKind::Upgrade { roles, scopes }
    }
}

/// A setup code the owner asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupCode {
    pub code: String,
    pub url: String,
    pub expires_at_ms: i64,
}

/// Gateway state as the status line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayStatus {
    Disabled,
    Starting {
        addr: String,
    },
    Listening {
        addr: String,
    },
    PortBusy {
        addr: String,
        error: String,
    },
    Stopped,
    /// An OpenClaw 2026.9 state dir: OpenClaw's own gateway owns the devices
    /// and clawpair's does not start; device actions go through OpenClaw's
    /// gateway on `port` (`reachable`: whether it listens; `None` not yet known).
    OpenClawOwns {
        port: u16,
        reachable: Option<bool>,
    },
}

/// Where a remote console's connection to its gateway stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteState {
    Connecting,
    Connected,
    /// Lost or not reached; the next attempt is in `retry_in_ms`.
    Reconnecting {
        reason: String,
        retry_in_ms: u64,
    },
    /// The gateway refused our credentials; `hint` says what to do.
    Unauthorized {
        reason: String,
        hint: String,
    },
    /// Our own operator identity waits for the owner's approval.
    PairingRequired {
        request_id: String,
        device_key: String,
    },
    ProtocolMismatch {
        reason: String,
    },
    /// The TLS certificate was refused (pin mismatch, changed, untrusted).
    TlsRefused {
        reason: String,
    },
}

/// The status line of a console attached to a gateway over WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteStatus {
    /// `wss://host:port`.
    pub url: String,
    pub state: RemoteState,
    /// `OpenClaw 2026.9.6`, once a `hello-ok` was seen.
    pub server: Option<String>,
    pub protocol: Option<i64>,
    /// Scopes granted on the current (or last) connection.
    pub scopes: Vec<String>,
}

impl RemoteStatus {
    pub fn connecting(url: impl Into<String>) -> RemoteStatus {
        RemoteStatus {
            url: url.into(),
            state: RemoteState::Connecting,
            server: None,
            protocol: None,
            scopes: Vec::new(),
        }
    }

    pub fn is_connected(&self) -> bool {
        self.state == RemoteState::Connected
    }

    /// The state in a few words: `connected`, `reconnecting in 4 s (…)`, ….
    pub fn state_text(&self) -> String {
        match &self.state {
            RemoteState::Connecting => "connecting…".into(),
            RemoteState::Connected => "connected".into(),
            RemoteState::Reconnecting {
                reason,
                retry_in_ms,
            } => format!(
                "reconnecting in {} s ({reason})",
                retry_in_ms.div_ceil(1000)
            ),
            RemoteState::Unauthorized { reason, hint } => {
                format!("UNAUTHORIZED: {reason} — {hint}")
            }
            RemoteState::PairingRequired {
                request_id,
                device_key,
            } => format!(
                "this console is waiting for approval — on the gateway run `openclaw devices approve {request_id}` (device key {device_key})"
            ),
            RemoteState::ProtocolMismatch { reason } => format!("PROTOCOL MISMATCH: {reason}"),
            RemoteState::TlsRefused { reason } => format!("TLS REFUSED: {reason}"),
        }
    }

    /// The whole status line text: `gateway wss://h:p · OpenClaw 2026.9.6 ·
    /// protocol 4 · connected · scopes operator.pairing, operator.admin`.
    pub fn line(&self) -> String {
        let mut parts = vec![format!("gateway {}", self.url)];
        if let Some(s) = &self.server {
            parts.push(s.clone());
        }
        if let Some(p) = self.protocol {
            parts.push(format!("protocol {p}"));
        }
        parts.push(self.state_text());
        if self.is_connected() && !self.scopes.is_empty() {
            parts.push(format!("scopes {}", self.scopes.join(", ")));
        }
        parts.join(" · ")
    }
}
