//! Selection by key: visible rows, the selected row, its status, and
//! keeping it on the same key (or index) across reloads and filters.

use super::*;

impl State {
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

    /// After the filter changed: each selection stays if visible, else the first row.
    pub fn fix_all_selections(&mut self) {
        self.restore_selections([Some(0); 4]);
    }
}
