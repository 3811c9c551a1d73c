//! A pane's rows: their status and key, what each item can say about itself
//! (key, filter), and the allow-lists flattened to rows.

use super::*;

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
