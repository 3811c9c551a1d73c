//! The model the console draws: rows per pane (each with its own status),
//! selection by key, the current mode (popups, filter), toasts, and `now`.
//! [`State::rows`] is the one place a pane is mapped to its list; every
//! per-pane question (visible rows, selection, status) goes through it.

use std::collections::{HashMap, HashSet};

use super::effect::Act;
use super::rows::{
    AllowList, DeviceRequest, DmCap, DmRequest, GatewayStatus, PairedDevice, RemoteStatus,
    SetupCode, DM_MAX_PENDING,
};

mod card;
mod row;
mod selection;

pub use card::*;
pub use row::*;

/// How long a row resolved elsewhere stays on screen, labelled, before it goes.
pub const GHOST_MS: i64 = 5_000;
/// How long a toast stays.
pub const TOAST_MS: i64 = 4_000;
/// A key pressed this soon after the selected row changed identity under the
/// owner's hands (a row arrived, expired, or was resolved elsewhere) is
/// ignored: it was meant for the row that was there before.
pub const SETTLE_MS: i64 = 500;
/// Decisions the History view keeps.
pub const HISTORY_MAX: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Dm,
    Devices,
    Paired,
    Allow,
}

impl Pane {
    pub const ALL: [Pane; 4] = [Pane::Dm, Pane::Devices, Pane::Paired, Pane::Allow];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Dm => "DM requests",
            Pane::Devices => "Device requests",
            Pane::Paired => "Paired devices",
            Pane::Allow => "Allow-lists",
        }
    }

    pub fn next(self) -> Pane {
        let i = Pane::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Pane::ALL[(i + 1) % Pane::ALL.len()]
    }

    pub fn prev(self) -> Pane {
        let i = Pane::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Pane::ALL[(i + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help,
    /// The approval card of one request.
    Card(Card),
    /// The latest decisions from the audit log; `scroll` rows from the newest.
    History {
        scroll: usize,
    },
    /// Editing the filter text.
    Filter,
    /// `yes` is the highlighted choice; it starts on Cancel.
    Confirm {
        what: Confirm,
        yes: bool,
    },
    SetupCode(SetupPopup),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupPopup {
    Issuing,
    /// `as_text`: when the QR and the code do not both fit, show the code
    /// alone (for a mouse selection) instead of the QR (`v` switches).
    Ready {
        code: SetupCode,
        qr: Vec<String>,
        as_text: bool,
    },
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastLevel {
    Info,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    pub text: String,
    pub level: ToastLevel,
    pub until_ms: i64,
}

/// The whole console model.
#[derive(Debug, Clone)]
pub struct State {
    pub now_ms: i64,
    pub state_dir: String,
    pub gateway: GatewayStatus,
    /// With `--tls`: the certificate's SHA-256 (64 hex digits), for the status line.
    pub gateway_tls: Option<String>,
    /// Set when the console is attached to a gateway over WebSocket.
    pub remote: Option<RemoteStatus>,
    /// Why the source can have no DM requests (shown in the DM pane).
    pub dm_unavailable: Option<String>,
    pub dm: Vec<Row<DmRequest>>,
    pub devices: Vec<Row<DeviceRequest>>,
    pub paired: Vec<Row<PairedDevice>>,
    pub allow: Vec<Row<AllowEntry>>,
    /// Device ids connected to our gateway right now.
    pub online: HashSet<String>,
    /// Devices whose connection the gateway closed (device removed, token
    /// revoked or rotated) and that have not connected since: the reason.
    pub closed_by_gateway: HashMap<String, String>,
    pub focus: Pane,
    /// Selected row per pane (by key), in `Pane::ALL` order.
    pub selected: [Option<RowKey>; 4],
    pub mode: Mode,
    pub filter: String,
    pub toasts: Vec<Toast>,
    /// First snapshot of each kind seen (no "new request" events for what was already there).
    pub dm_loaded: bool,
    pub devices_loaded: bool,
    /// Last load error per source, shown in the status line.
    pub dm_error: Option<String>,
    pub devices_error: Option<String>,
    /// A background task that died (kept in the status line; the toast fades).
    pub task_error: Option<String>,
    /// Expiry of the last setup code issued (for its `expired` event).
    pub setup_expires_ms: Option<i64>,
    /// `--quick-approve`: `a` approves a DM code without the card.
    pub quick_approve: bool,
    /// How the source counts the DM cap.
    pub dm_cap: DmCap,
    /// When each pane's selected row last changed identity by itself (not by
    /// the owner's keys), in `Pane::ALL` order.
    pub selection_changed_ms: [i64; 4],
    /// Acts running now, with what they are about (for the audit log, even
    /// when the row is gone by the time the result comes back).
    pub in_flight: Vec<(RowKey, crate::audit::Action, crate::audit::Subject)>,
    /// The latest decisions (oldest first), once loaded.
    pub history: Vec<crate::audit::Record>,
    pub history_loaded: bool,
    /// Damaged lines skipped when the log was read.
    pub history_damaged: usize,
    /// A decision could not be recorded (said once in a toast, kept here).
    pub history_error: Option<String>,
    /// The `ready` event went out (both sources read once).
    pub ready: bool,
    pub quit: bool,
}

impl State {
    pub fn new(state_dir: impl Into<String>, now_ms: i64) -> State {
        State {
            now_ms,
            state_dir: state_dir.into(),
            gateway: GatewayStatus::Disabled,
            gateway_tls: None,
            remote: None,
            dm_unavailable: None,
            dm: Vec::new(),
            devices: Vec::new(),
            paired: Vec::new(),
            allow: Vec::new(),
            online: HashSet::new(),
            closed_by_gateway: HashMap::new(),
            focus: Pane::Dm,
            selected: [None, None, None, None],
            mode: Mode::Normal,
            filter: String::new(),
            toasts: Vec::new(),
            dm_loaded: false,
            devices_loaded: false,
            dm_error: None,
            devices_error: None,
            task_error: None,
            setup_expires_ms: None,
            quick_approve: false,
            dm_cap: DmCap::PerChannel,
            selection_changed_ms: [i64::MIN; 4],
            in_flight: Vec::new(),
            history: Vec::new(),
            history_loaded: false,
            history_damaged: 0,
            history_error: None,
            ready: false,
            quit: false,
        }
    }

    /// The rows of a pane: the one place a pane is mapped to its list.
    pub fn rows(&self, p: Pane) -> &dyn PaneRows {
        match p {
            Pane::Dm => &self.dm,
            Pane::Devices => &self.devices,
            Pane::Paired => &self.paired,
            Pane::Allow => &self.allow,
        }
    }

    fn rows_mut(&mut self, p: Pane) -> &mut dyn PaneRows {
        match p {
            Pane::Dm => &mut self.dm,
            Pane::Devices => &mut self.devices,
            Pane::Paired => &mut self.paired,
            Pane::Allow => &mut self.allow,
        }
    }

    pub fn matches_dm(&self, r: &DmRequest) -> bool {
        r.passes(&self.filter)
    }

    pub fn matches_device(&self, r: &DeviceRequest) -> bool {
        r.passes(&self.filter)
    }

    pub fn matches_paired(&self, r: &PairedDevice) -> bool {
        r.passes(&self.filter)
    }

    pub fn matches_allow(&self, r: &AllowEntry) -> bool {
        r.passes(&self.filter)
    }

    /// Live (not resolved) DM requests the cap counts together with a
    /// request of `channel`/`account`: the whole channel (2026.2.26 files) or
    /// the one account (2026.9 state).
    pub fn dm_pending_for_cap(&self, channel: &str, account: Option<&str>) -> usize {
        let acc = account.unwrap_or("default");
        self.dm
            .iter()
            .filter(|r| {
                r.item.channel == channel
                    && !r.status.is_gone()
                    && (self.dm_cap == DmCap::PerChannel || r.item.account_label() == acc)
            })
            .count()
    }

    pub fn dm_cap_reached(&self, channel: &str, account: Option<&str>) -> bool {
        self.dm_pending_for_cap(channel, account) >= DM_MAX_PENDING
    }

    /// Nothing at all in the state (and it was read): the first-run panel.
    /// Only on 2026.2.26 files: its "try it" commands and paths are theirs
    /// (a remote gateway's empty panes say why they are empty; on 2026.9
    /// SQLite state OpenClaw's gateway makes the requests).
    pub fn is_first_run(&self) -> bool {
        self.remote.is_none()
            && !matches!(self.gateway, GatewayStatus::OpenClawOwns { .. })
            && self.dm_loaded
            && self.devices_loaded
            && self.dm.is_empty()
            && self.devices.is_empty()
            && self.paired.is_empty()
            && self.allow.is_empty()
            && self.filter.is_empty()
            && self.dm_error.is_none()
            && self.devices_error.is_none()
    }

    pub fn paired_by_id(&self, device_id: &str) -> Option<&PairedDevice> {
        self.paired
            .iter()
            .find(|r| r.item.device_id == device_id && !r.status.is_gone())
            .map(|r| &r.item)
    }

    pub fn toast(&mut self, level: ToastLevel, text: impl Into<String>) {
        self.toasts.push(Toast {
            text: text.into(),
            level,
            until_ms: self.now_ms + TOAST_MS,
        });
        if self.toasts.len() > 3 {
            self.toasts.remove(0);
        }
    }

    pub fn live_dm_count(&self) -> usize {
        self.dm.iter().filter(|r| !r.status.is_gone()).count()
    }

    pub fn live_device_count(&self) -> usize {
        self.devices.iter().filter(|r| !r.status.is_gone()).count()
    }

    /// Whether anything on screen changes with time (so a 1 Hz tick must redraw):
    /// countdowns, toasts, and labelled rows waiting to go.
    pub fn has_countdown(&self) -> bool {
        !self.dm.is_empty()
            || !self.devices.is_empty()
            || !self.toasts.is_empty()
            || matches!(
                self.mode,
                Mode::SetupCode(SetupPopup::Ready { .. }) | Mode::Card(_)
            )
            || self.paired.iter().any(|r| r.status.is_gone())
            || self.allow.iter().any(|r| r.status.is_gone())
    }
}
