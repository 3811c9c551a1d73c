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

/// What became of a row that is no longer in the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    ApprovedElsewhere,
    ResolvedElsewhere,
}

/// Status of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowStatus {
    Live,
    /// An action of ours is running on it ("approving", "rejecting", …).
    Busy(&'static str),
    /// Our last action on it failed; the row stays.
    Failed(String),
    /// Gone from the files by someone else's hand; shown until `until_ms`.
    Gone {
        how: Resolution,
        until_ms: i64,
    },
}

impl RowStatus {
    pub fn is_gone(&self) -> bool {
        matches!(self, RowStatus::Gone { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<T> {
    pub item: T,
    pub status: RowStatus,
}

impl<T> Row<T> {
    pub fn live(item: T) -> Self {
        Row {
            item,
            status: RowStatus::Live,
        }
    }
}

/// One allow-list entry, flattened for the pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    pub channel: String,
    pub account: Option<String>,
    pub entry: String,
}

/// Stable identity of a row, used for selection and for action results.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RowKey {
    Dm {
        channel: String,
        account: Option<String>,
        id: String,
    },
    Device(String),
    Paired(String),
    Allow {
        channel: String,
        account: Option<String>,
        entry: String,
    },
}

impl RowKey {
    /// The pane rows with this kind of key live in.
    pub fn pane(&self) -> Pane {
        match self {
            RowKey::Dm { .. } => Pane::Dm,
            RowKey::Device(_) => Pane::Devices,
            RowKey::Paired(_) => Pane::Paired,
            RowKey::Allow { .. } => Pane::Allow,
        }
    }
}

/// What every pane's item can say about itself: its key, and whether the
/// filter matches it.
pub trait Item {
    fn key(&self) -> RowKey;
    /// `self.key() == *key`, without building the key.
    fn has_key(&self, key: &RowKey) -> bool;
    /// Whether the filter text matches one of the fields it searches.
    fn passes(&self, filter: &str) -> bool;
}

impl Item for DmRequest {
    fn key(&self) -> RowKey {
        dm_key(self)
    }
    fn has_key(&self, key: &RowKey) -> bool {
        matches!(key, RowKey::Dm { channel, account, id }
            if *id == self.id && *channel == self.channel && *account == self.account)
    }
    fn passes(&self, filter: &str) -> bool {
        let name = self.display_name();
        filter_hit(
            filter,
            &[
                Some(&self.channel),
                self.account.as_deref(),
                Some(&self.id),
                name.as_deref(),
                self.username(),
            ],
        )
    }
}

impl Item for DeviceRequest {
    fn key(&self) -> RowKey {
        RowKey::Device(self.request_id.clone())
    }
    fn has_key(&self, key: &RowKey) -> bool {
        matches!(key, RowKey::Device(id) if *id == self.request_id)
    }
    fn passes(&self, filter: &str) -> bool {
        filter_hit(
            filter,
            &[
                Some(&self.device_id),
                self.display_name.as_deref(),
                self.platform.as_deref(),
                self.client_id.as_deref(),
                self.remote_ip.as_deref(),
            ],
        )
    }
}

impl Item for PairedDevice {
    fn key(&self) -> RowKey {
        RowKey::Paired(self.device_id.clone())
    }
    fn has_key(&self, key: &RowKey) -> bool {
        matches!(key, RowKey::Paired(id) if *id == self.device_id)
    }
    fn passes(&self, filter: &str) -> bool {
        filter_hit(
            filter,
            &[
                Some(&self.device_id),
                self.display_name.as_deref(),
                self.platform.as_deref(),
                self.client_id.as_deref(),
            ],
        )
    }
}

impl Item for AllowEntry {
    fn key(&self) -> RowKey {
        allow_key(self)
    }
    fn has_key(&self, key: &RowKey) -> bool {
        matches!(key, RowKey::Allow { channel, account, entry }
            if *entry == self.entry && *channel == self.channel && *account == self.account)
    }
    fn passes(&self, filter: &str) -> bool {
        filter_hit(
            filter,
            &[
                Some(&self.channel),
                self.account.as_deref(),
                Some(&self.entry),
            ],
        )
    }
}

/// The filter: a case-insensitive substring of any searched field.
pub fn filter_hit(filter: &str, fields: &[Option<&str>]) -> bool {
    if filter.is_empty() {
        return true;
    }
    let needle = filter.to_lowercase();
    fields
        .iter()
        .flatten()
        .any(|f| f.to_lowercase().contains(&needle))
}

/// One pane's rows, whatever their item type.
pub trait PaneRows {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn key_at(&self, i: usize) -> RowKey;
    fn has_key_at(&self, i: usize, key: &RowKey) -> bool;
    fn passes(&self, i: usize, filter: &str) -> bool;
    fn status_at(&self, i: usize) -> &RowStatus;
    fn status_at_mut(&mut self, i: usize) -> &mut RowStatus;
}

impl<T: Item> PaneRows for Vec<Row<T>> {
    fn len(&self) -> usize {
        <[Row<T>]>::len(self)
    }
    fn key_at(&self, i: usize) -> RowKey {
        self[i].item.key()
    }
    fn has_key_at(&self, i: usize, key: &RowKey) -> bool {
        self[i].item.has_key(key)
    }
    fn passes(&self, i: usize, filter: &str) -> bool {
        self[i].item.passes(filter)
    }
    fn status_at(&self, i: usize) -> &RowStatus {
        &self[i].status
    }
    fn status_at_mut(&mut self, i: usize) -> &mut RowStatus {
        &mut self[i].status
    }
}

pub fn dm_key(r: &DmRequest) -> RowKey {
    RowKey::Dm {
        channel: r.channel.clone(),
        account: r.account.clone(),
        id: r.id.clone(),
    }
}

pub fn allow_key(a: &AllowEntry) -> RowKey {
    RowKey::Allow {
        channel: a.channel.clone(),
        account: a.account.clone(),
        entry: a.entry.clone(),
    }
}

/// A destructive action waiting for confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    RejectDm(RowKey),
    RejectDevice(String),
    RemoveDevice(String),
    RevokeAllow(RowKey),
}

impl Confirm {
    /// The question as the console asks it: for a paired device, what
    /// happens to its open connections depends on whose gateway they are on.
    pub fn question_in(&self, s: &State) -> String {
        let Confirm::RemoveDevice(id) = self else {
            return self.question();
        };
        let listening = matches!(s.gateway, GatewayStatus::Listening { .. });
        match (listening, s.online.contains(id)) {
            (true, true) => "Remove this paired device? Its tokens stop working and its open \
                connection to this console's gateway is closed now (4001 device removed); to come \
                back it must pair and be approved again."
                .into(),
            (true, false) => "Remove this paired device? Its tokens stop working; to come back \
                it must pair and be approved again."
                .into(),
            (false, _) => "Remove this paired device? Its tokens stop working at its next \
                connect. This console's gateway is not running: a connection the device holds to \
                another gateway stays open until it reconnects."
                .into(),
        }
    }

    pub fn question(&self) -> String {
        match self {
            Confirm::RejectDm(RowKey::Dm { channel, id, .. }) => {
                format!("Reject the {channel} pairing request from {id}?")
            }
            Confirm::RejectDm(_) => "Reject this request?".into(),
            Confirm::RejectDevice(_) => "Reject this device pairing request?".into(),
            Confirm::RemoveDevice(_) => {
                "Remove this paired device? Its tokens stop working; to come back it must pair and be approved again.".into()
            }
            Confirm::RevokeAllow(RowKey::Allow { channel, entry, .. }) => {
                format!("Remove {entry} from the {channel} allow-list?")
            }
            Confirm::RevokeAllow(_) => "Remove this allow-list entry?".into(),
        }
    }
}

/// The approval card: what approving would grant, as it was when the card
/// opened. Confirming acts on exactly this; if the request changed or went
/// meanwhile, the card says so instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Card {
    Dm(DmRequest),
    Device {
        request: Box<DeviceRequest>,
        /// What the device already holds, if it is paired.
        paired: Option<Box<PairedDevice>>,
    },
}

impl Card {
    pub fn key(&self) -> RowKey {
        match self {
            Card::Dm(r) => dm_key(r),
            Card::Device { request, .. } => RowKey::Device(request.request_id.clone()),
        }
    }

    /// The act confirming the card performs.
    pub fn act(&self) -> Act {
        match self {
            Card::Dm(r) => Act::ApproveDm(super::effect::DmTarget {
                channel: r.channel.clone(),
                account: r.account.clone(),
                id: r.id.clone(),
                code: r.code.clone(),
                request_id: r.request_id.clone(),
            }),
            // A 2026.9 node's capability surface is approved by its own RPC.
            Card::Device { request, .. } if request.surface.is_some() => Act::ApproveNode {
                request_id: request.request_id.clone(),
            },
            Card::Device { request, .. } => Act::ApproveDevice {
                request_id: request.request_id.clone(),
            },
        }
    }
}

/// What the card's request is like now, compared with the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardLive {
    /// Still pending, unchanged.
    Same,
    /// Still pending, but what it asks for changed: review again.
    Changed,
    /// No longer pending (approved or resolved elsewhere, expired).
    Gone(&'static str),
    /// Our own action on it is running.
    Busy,
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

    /// Indices of the rows of a pane that pass the filter, in display order.
    fn visible(&self, p: Pane) -> impl Iterator<Item = usize> + '_ {
        let rows = self.rows(p);
        (0..rows.len()).filter(move |&i| rows.passes(i, &self.filter))
    }

    pub fn pane_index(p: Pane) -> usize {
        Pane::ALL.iter().position(|x| *x == p).unwrap_or(0)
    }

    pub fn selected_key(&self, p: Pane) -> Option<&RowKey> {
        self.selected[Self::pane_index(p)].as_ref()
    }

    /// Keys of the rows of a pane that pass the filter, in display order.
    pub fn visible_keys(&self, p: Pane) -> Vec<RowKey> {
        let rows = self.rows(p);
        self.visible(p).map(|i| rows.key_at(i)).collect()
    }

    /// Visible index of the selected key, if it is visible (no allocation).
    pub fn selected_position(&self, p: Pane) -> Option<usize> {
        let k = self.selected_key(p)?;
        let rows = self.rows(p);
        self.visible(p).position(|i| rows.has_key_at(i, k))
    }

    /// Number of rows of a pane that pass the filter.
    pub fn visible_len(&self, p: Pane) -> usize {
        self.visible(p).count()
    }

    /// Key of the `idx`-th visible row of a pane.
    pub fn visible_key_at(&self, p: Pane, idx: usize) -> Option<RowKey> {
        let rows = self.rows(p);
        self.visible(p).nth(idx).map(|i| rows.key_at(i))
    }

    /// Index into the visible rows of the selection (or 0).
    pub fn selected_index(&self, p: Pane, visible: &[RowKey]) -> Option<usize> {
        if visible.is_empty() {
            return None;
        }
        match self.selected_key(p) {
            Some(k) => Some(visible.iter().position(|v| v == k).unwrap_or(0)),
            None => Some(0),
        }
    }

    /// The selected row's key in the focused pane, if it passes the filter
    /// (else the first visible row's).
    pub fn current(&self) -> Option<RowKey> {
        match self.selected_position(self.focus) {
            Some(_) => self.selected_key(self.focus).cloned(),
            None => self.visible_key_at(self.focus, 0),
        }
    }

    /// Position of the row with `key` in its pane (filter or not).
    fn position_of(&self, key: &RowKey) -> Option<usize> {
        let rows = self.rows(key.pane());
        (0..rows.len()).find(|&i| rows.has_key_at(i, key))
    }

    pub fn status_of(&self, key: &RowKey) -> Option<&RowStatus> {
        let i = self.position_of(key)?;
        Some(self.rows(key.pane()).status_at(i))
    }

    pub fn set_status(&mut self, key: &RowKey, status: RowStatus) {
        if let Some(i) = self.position_of(key) {
            *self.rows_mut(key.pane()).status_at_mut(i) = status;
        }
    }

    /// For each pane, the selected key's visible index before a change.
    pub fn selection_indices(&self) -> [Option<usize>; 4] {
        let mut out = [None; 4];
        for (i, p) in Pane::ALL.iter().enumerate() {
            if self.selected[i].is_some() {
                out[i] = self.selected_position(*p).or(Some(0));
            }
        }
        out
    }

    /// Keeps the selection on the same key; if that key is gone, on the row
    /// now at its old index. A pane that has rows always has a selected key,
    /// so a row that arrives never becomes "the selection" by sorting first.
    pub fn restore_selections(&mut self, before: [Option<usize>; 4]) {
        for (i, p) in Pane::ALL.iter().enumerate() {
            if self.selected[i].is_some() && self.selected_position(*p).is_some() {
                continue;
            }
            let len = self.visible_len(*p);
            self.selected[i] = if len == 0 {
                None
            } else {
                self.visible_key_at(*p, before[i].unwrap_or(0).min(len - 1))
            };
        }
    }

    /// Whether the focused pane's selection changed by itself within
    /// [`SETTLE_MS`] (a key now was meant for what was there before).
    pub fn selection_unsettled(&self) -> bool {
        let t = self.selection_changed_ms[Self::pane_index(self.focus)];
        t != i64::MIN && self.now_ms.saturating_sub(t) < SETTLE_MS
    }

    /// How the card's request stands now.
    pub fn card_live(&self, card: &Card) -> CardLive {
        let key = card.key();
        match self.status_of(&key) {
            None => CardLive::Gone("no longer pending (expired or decided elsewhere)"),
            Some(RowStatus::Gone { how, .. }) => CardLive::Gone(match how {
                Resolution::ApprovedElsewhere => "already approved elsewhere",
                Resolution::ResolvedElsewhere => "already resolved elsewhere",
            }),
            Some(RowStatus::Busy(_)) => CardLive::Busy,
            Some(_) => {
                // What the card shows, not the clock fields (a sender writing
                // again, a device asking again, a token used) decides.
                let dm_same = |a: &DmRequest, b: &DmRequest| {
                    (
                        &a.channel,
                        &a.account,
                        &a.id,
                        &a.code,
                        a.created_at_ms,
                        &a.meta,
                    ) == (
                        &b.channel,
                        &b.account,
                        &b.id,
                        &b.code,
                        b.created_at_ms,
                        &b.meta,
                    )
                };
                let dev_same = |a: &DeviceRequest, b: &DeviceRequest| {
                    DeviceRequest { ts: 0, ..a.clone() } == DeviceRequest { ts: 0, ..b.clone() }
                };
                let held =
                    |p: Option<&PairedDevice>| p.map(|p| (p.roles.clone(), p.scopes.clone()));
                let same = match card {
                    Card::Dm(r) => self.dm.iter().any(|x| dm_same(&x.item, r)),
                    Card::Device { request, paired } => {
                        self.devices.iter().any(|x| dev_same(&x.item, request))
                            && held(self.paired_by_id(&request.device_id))
                                == held(paired.as_deref())
                    }
                };
                if same {
                    CardLive::Same
                } else {
                    CardLive::Changed
                }
            }
        }
    }

    /// After the filter changed: each selection stays if visible, else the first row.
    pub fn fix_all_selections(&mut self) {
        self.restore_selections([Some(0); 4]);
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

/// Allow-lists flattened to rows, sorted by channel, account, entry order.
pub fn flatten_allow(lists: &[AllowList]) -> Vec<AllowEntry> {
    let mut out = Vec::new();
    for l in lists {
        for e in &l.entries {
            out.push(AllowEntry {
                channel: l.channel.clone(),
                account: l.account.clone(),
                entry: e.clone(),
            });
        }
    }
    out
}
