//! `update(&mut State, Msg) -> Vec<Effect>`: every state transition of the
//! console, pure. No I/O, no clock, no terminal.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use crossterm::event::KeyEvent;

use super::effect::{Effect, Event};
use super::keymap::{action_for, Action, ModeKind};
use super::msg::Msg;
use super::state::{
    allow_key, dm_key, flatten_allow, Confirm, Mode, Pane, Resolution, Row, RowKey, RowStatus,
    SetupPopup, State, ToastLevel, GHOST_MS,
};
use super::view::{DeviceRequest, DmRequest};
use super::view::{DeviceSnapshot, DmSnapshot, GatewayStatus};
use crate::gateway::GatewayEvent;

pub fn update(s: &mut State, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    match msg {
        Msg::Key(k) => on_key(s, k, &mut fx),
        Msg::Tick(now) => on_tick(s, now, &mut fx),
        Msg::DmLoaded(Ok(snap)) => merge_dm(s, snap, &mut fx),
        Msg::DmLoaded(Err(e)) => s.dm_error = Some(e),
        Msg::DevicesLoaded(Ok(snap)) => merge_devices(s, snap, &mut fx),
        Msg::DevicesLoaded(Err(e)) => s.devices_error = Some(e),
        Msg::Gateway(ev) => on_gateway(s, ev, &mut fx),
        Msg::GatewayStarting(addr) => s.gateway = GatewayStatus::Starting { addr },
        Msg::ActionDone { key, verb, result } => on_action_done(s, key, verb, result, &mut fx),
        Msg::Copied { what, result } => match result {
            Ok(path) => s.toast(ToastLevel::Info, format!("Copied {what} ({path})")),
            Err(e) => s.toast(ToastLevel::Error, format!("Could not copy {what}: {e}")),
        },
        Msg::SetupCodeIssued(result) => on_setup_code(s, result, &mut fx),
        Msg::TaskFailed(e) => {
            s.task_error = Some(e.clone());
            s.toast(ToastLevel::Error, e);
        }
        Msg::Info(t) => s.toast(ToastLevel::Info, t),
        Msg::RequestSetupCode => fx.push(Effect::IssueSetupCode),
        Msg::Shutdown => {
            s.quit = true;
            fx.push(Effect::Quit);
        }
    }
    fx
}

// ---------------------------------------------------------------- keys

fn on_key(s: &mut State, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(action) = action_for(&key, ModeKind::of(&s.mode)) else {
        return;
    };
    match s.mode.clone() {
        Mode::Normal => normal_action(s, action, fx),
        Mode::Help => {
            if action == Action::Close {
                s.mode = Mode::Normal;
            } else if action == Action::Quit {
                quit(s, fx);
            }
        }
        Mode::Filter => match action {
            Action::FilterChar(c) => {
                s.filter.push(c);
                fix_all_selections(s);
            }
            Action::FilterBackspace => {
                s.filter.pop();
                fix_all_selections(s);
            }
            Action::FilterApply => s.mode = Mode::Normal,
            Action::Close => {
                s.filter.clear();
                s.mode = Mode::Normal;
                fix_all_selections(s);
            }
            Action::Quit => quit(s, fx),
            _ => {}
        },
        Mode::Confirm { what, yes } => match action {
            Action::Toggle => s.mode = Mode::Confirm { what, yes: !yes },
            Action::Yes => {
                s.mode = Mode::Normal;
                run_confirmed(s, what, fx);
            }
            Action::Choose => {
                s.mode = Mode::Normal;
                if yes {
                    run_confirmed(s, what, fx);
                } else {
                    s.toast(ToastLevel::Info, "Cancelled");
                }
            }
            Action::Close => {
                s.mode = Mode::Normal;
                s.toast(ToastLevel::Info, "Cancelled");
            }
            Action::Quit => quit(s, fx),
            _ => {}
        },
        Mode::SetupCode(popup) => match action {
            Action::Copy => {
                if let SetupPopup::Ready { code, .. } = popup {
                    if code.expires_at_ms > s.now_ms {
                        fx.push(Effect::Copy {
                            what: "setup code",
                            text: code.code,
                        });
                    } else {
                        s.toast(
                            ToastLevel::Error,
                            "The setup code has expired; press s again",
                        );
                    }
                }
            }
            Action::Close => s.mode = Mode::Normal,
            Action::Quit => quit(s, fx),
            _ => {}
        },
    }
}

fn quit(s: &mut State, fx: &mut Vec<Effect>) {
    s.quit = true;
    fx.push(Effect::Quit);
}

fn normal_action(s: &mut State, action: Action, fx: &mut Vec<Effect>) {
    let pane = s.focus;
    match action {
        Action::Up => move_sel(s, pane, -1),
        Action::Down => move_sel(s, pane, 1),
        Action::Top => move_sel(s, pane, i64::MIN / 2),
        Action::Bottom => move_sel(s, pane, i64::MAX / 2),
        Action::NextPane => s.focus = pane.next(),
        Action::PrevPane => s.focus = pane.prev(),
        Action::Approve => approve(s, fx),
        Action::Reject => reject(s),
        Action::Copy => copy(s, fx),
        Action::Remove => remove(s),
        Action::SetupCode => {
            s.mode = Mode::SetupCode(SetupPopup::Issuing);
            fx.push(Effect::IssueSetupCode);
        }
        Action::Filter => s.mode = Mode::Filter,
        Action::Help => s.mode = Mode::Help,
        Action::Quit => quit(s, fx),
        Action::Close if !s.filter.is_empty() => {
            s.filter.clear();
            fix_all_selections(s);
        }
        _ => {}
    }
}

fn move_sel(s: &mut State, pane: Pane, delta: i64) {
    let vis = s.visible_keys(pane);
    let Some(cur) = s.selected_index(pane, &vis) else {
        return;
    };
    let next = (cur as i64)
        .saturating_add(delta)
        .clamp(0, vis.len() as i64 - 1) as usize;
    s.selected[State::pane_index(pane)] = Some(vis[next].clone());
}

/// The selected row's key in the focused pane, if it passes the filter.
fn current(s: &State) -> Option<RowKey> {
    match s.selected_position(s.focus) {
        Some(_) => s.selected_key(s.focus).cloned(),
        None => s.visible_key_at(s.focus, 0),
    }
}

fn status_of<'a>(s: &'a State, key: &RowKey) -> Option<&'a RowStatus> {
    match key {
        RowKey::Dm { .. } => {
            s.dm.iter()
                .find(|r| &dm_key(&r.item) == key)
                .map(|r| &r.status)
        }
        RowKey::Device(id) => s
            .devices
            .iter()
            .find(|r| &r.item.request_id == id)
            .map(|r| &r.status),
        RowKey::Paired(id) => s
            .paired
            .iter()
            .find(|r| &r.item.device_id == id)
            .map(|r| &r.status),
        RowKey::Allow { .. } => s
            .allow
            .iter()
            .find(|r| &allow_key(&r.item) == key)
            .map(|r| &r.status),
    }
}

fn set_status(s: &mut State, key: &RowKey, status: RowStatus) {
    match key {
        RowKey::Dm { .. } => {
            if let Some(r) = s.dm.iter_mut().find(|r| &dm_key(&r.item) == key) {
                r.status = status;
            }
        }
        RowKey::Device(id) => {
            if let Some(r) = s.devices.iter_mut().find(|r| &r.item.request_id == id) {
                r.status = status;
            }
        }
        RowKey::Paired(id) => {
            if let Some(r) = s.paired.iter_mut().find(|r| &r.item.device_id == id) {
                r.status = status;
            }
        }
        RowKey::Allow { .. } => {
            if let Some(r) = s.allow.iter_mut().find(|r| &allow_key(&r.item) == key) {
                r.status = status;
            }
        }
    }
}

/// Whether the row can be acted on; says why not in a toast.
fn actionable(s: &mut State, key: &RowKey) -> bool {
    match status_of(s, key) {
        None => false,
        Some(RowStatus::Gone { how, .. }) => {
            let msg = match how {
                Resolution::ApprovedElsewhere => "Already approved elsewhere",
                Resolution::ResolvedElsewhere => "Already resolved elsewhere",
            };
            s.toast(ToastLevel::Info, msg);
            false
        }
        Some(RowStatus::Busy(what)) => {
            let msg = format!("Still {what}…");
            s.toast(ToastLevel::Info, msg);
            false
        }
        Some(_) => true,
    }
}

/// The pairing code of the DM request row `key`.
fn dm_code(s: &State, key: &RowKey) -> String {
    s.dm.iter()
        .find(|r| dm_key(&r.item) == *key)
        .map(|r| r.item.code.clone())
        .unwrap_or_default()
}

fn approve(s: &mut State, fx: &mut Vec<Effect>) {
    let Some(key) = current(s) else {
        s.toast(ToastLevel::Info, "Nothing selected");
        return;
    };
    match &key {
        RowKey::Dm { .. } => {
            let code = dm_code(s, &key);
            begin(s, fx, key, "approving", |key| Effect::ApproveDm {
                key,
                code,
            });
        }
        RowKey::Device(id) => {
            let request_id = id.clone();
            begin(s, fx, key, "approving", |key| Effect::ApproveDevice {
                key,
                request_id,
            });
        }
        _ => s.toast(ToastLevel::Info, "Approve works on DM and device requests"),
    }
}

fn reject(s: &mut State) {
    let Some(key) = current(s) else {
        s.toast(ToastLevel::Info, "Nothing selected");
        return;
    };
    let what = match &key {
        RowKey::Dm { .. } => Confirm::RejectDm(key.clone()),
        RowKey::Device(id) => Confirm::RejectDevice(id.clone()),
        _ => {
            s.toast(
                ToastLevel::Info,
                "Reject works on requests; use d to revoke paired items",
            );
            return;
        }
    };
    if actionable(s, &key) {
        s.mode = Mode::Confirm { what, yes: false };
    }
}

fn remove(s: &mut State) {
    let Some(key) = current(s) else {
        s.toast(ToastLevel::Info, "Nothing selected");
        return;
    };
    let what = match &key {
        RowKey::Paired(id) => Confirm::RemoveDevice(id.clone()),
        RowKey::Allow { .. } => Confirm::RevokeAllow(key.clone()),
        _ => {
            s.toast(
                ToastLevel::Info,
                "d revokes paired devices and allow-list entries; use r to reject requests",
            );
            return;
        }
    };
    if actionable(s, &key) {
        s.mode = Mode::Confirm { what, yes: false };
    }
}

fn run_confirmed(s: &mut State, what: Confirm, fx: &mut Vec<Effect>) {
    match what {
        Confirm::RejectDm(key) => {
            let code = dm_code(s, &key);
            begin(s, fx, key, "rejecting", |key| Effect::RejectDm {
                key,
                code,
            });
        }
        Confirm::RejectDevice(request_id) => {
            let key = RowKey::Device(request_id.clone());
            begin(s, fx, key, "rejecting", |key| Effect::RejectDevice {
                key,
                request_id,
            });
        }
        Confirm::RemoveDevice(device_id) => {
            let key = RowKey::Paired(device_id.clone());
            begin(s, fx, key, "removing", |key| Effect::RemoveDevice {
                key,
                device_id,
            });
        }
        Confirm::RevokeAllow(key) => {
            begin(s, fx, key, "revoking", |key| Effect::RevokeAllow { key })
        }
    }
}

/// Starts a write on row `key`: refused (with its toast) unless the row is
/// actionable, else the row turns busy and the effect is queued.
fn begin(
    s: &mut State,
    fx: &mut Vec<Effect>,
    key: RowKey,
    busy: &'static str,
    effect: impl FnOnce(RowKey) -> Effect,
) {
    if !actionable(s, &key) {
        return;
    }
    set_status(s, &key, RowStatus::Busy(busy));
    fx.push(effect(key));
}

fn copy(s: &mut State, fx: &mut Vec<Effect>) {
    match current(s) {
        Some(key @ RowKey::Dm { .. }) => {
            if let Some(r) = s.dm.iter().find(|r| dm_key(&r.item) == key) {
                fx.push(Effect::Copy {
                    what: "pairing code",
                    text: r.item.code.clone(),
                });
            }
        }
        Some(RowKey::Device(id)) => fx.push(Effect::Copy {
            what: "request id",
            text: id,
        }),
        _ => s.toast(ToastLevel::Info, "Nothing to copy here"),
    }
}

// ---------------------------------------------------------------- time

fn on_tick(s: &mut State, now: i64, fx: &mut Vec<Effect>) {
    s.now_ms = now;
    let before = selection_indices(s);
    let mut changed = false;

    changed |= drop_finished(&mut s.dm, now, fx, DmRequest::is_expired, |r| {
        Event::DmExpired {
            channel: r.channel.clone(),
            account: r.account.clone(),
            id: r.id.clone(),
        }
    });
    changed |= drop_finished(&mut s.devices, now, fx, DeviceRequest::is_expired, |r| {
        Event::DeviceExpired {
            request_id: r.request_id.clone(),
            device_id: r.device_id.clone(),
        }
    });

    let ghost_done =
        |st: &RowStatus| matches!(st, RowStatus::Gone { until_ms, .. } if *until_ms <= now);
    let n = s.paired.len() + s.allow.len();
    if s.paired.iter().any(|r| ghost_done(&r.status)) {
        s.paired.retain(|r| !ghost_done(&r.status));
    }
    s.allow.retain(|r| !ghost_done(&r.status));
    changed |= n != s.paired.len() + s.allow.len();

    s.toasts.retain(|t| t.until_ms > now);

    if let Some(exp) = s.setup_expires_ms {
        if now >= exp {
            s.setup_expires_ms = None;
            fx.push(Effect::Emit(Event::SetupCodeExpired));
        }
    }
    if changed {
        restore_selections(s, before);
    }
}

/// Drops requests that expired (announcing each) and "gone" rows whose
/// grace period is over. True when any row went.
fn drop_finished<T>(
    rows: &mut Vec<Row<T>>,
    now: i64,
    fx: &mut Vec<Effect>,
    is_expired: impl Fn(&T, i64) -> bool,
    expired_event: impl Fn(&T) -> Event,
) -> bool {
    let before = rows.len();
    rows.retain(|r| {
        let expired = !r.status.is_gone() && is_expired(&r.item, now);
        if expired {
            fx.push(Effect::Emit(expired_event(&r.item)));
        }
        let grace_over = matches!(r.status, RowStatus::Gone { until_ms, .. } if until_ms <= now);
        !(expired || grace_over)
    });
    rows.len() != before
}

// ---------------------------------------------------------------- reloads

/// Result of merging a fresh list into the rows on screen.
struct Merged<T> {
    rows: Vec<Row<T>>,
    added: Vec<usize>,
    updated: Vec<usize>,
    /// Rows that left the files without our doing: `Some` became a labelled ghost, `None` dropped.
    vanished: Vec<(T, Option<Resolution>)>,
}

fn merge_rows<T: Clone + PartialEq, K: Eq + Hash>(
    old: Vec<Row<T>>,
    new: Vec<T>,
    key: impl Fn(&T) -> K,
    now: i64,
    classify: impl Fn(&T) -> Option<Resolution>,
) -> Merged<T> {
    let index: HashMap<K, usize> = old
        .iter()
        .enumerate()
        .map(|(i, r)| (key(&r.item), i))
        .collect();
    let mut old: Vec<Option<Row<T>>> = old.into_iter().map(Some).collect();
    let mut rows = Vec::with_capacity(new.len());
    let mut added = Vec::new();
    let mut updated = Vec::new();
    for item in new {
        let status = match index.get(&key(&item)).and_then(|&i| old[i].take()) {
            Some(prev) => {
                if prev.item != item {
                    updated.push(rows.len());
                }
                match prev.status {
                    RowStatus::Gone { .. } => RowStatus::Live,
                    st => st,
                }
            }
            None => {
                added.push(rows.len());
                RowStatus::Live
            }
        };
        rows.push(Row { item, status });
    }
    let mut vanished = Vec::new();
    for prev in old.into_iter().flatten() {
        match prev.status {
            RowStatus::Gone { until_ms, .. } if until_ms > now => rows.push(prev),
            RowStatus::Gone { .. } | RowStatus::Busy(_) => {}
            _ => {
                let how = classify(&prev.item);
                if let Some(how) = how {
                    rows.push(Row {
                        item: prev.item.clone(),
                        status: RowStatus::Gone {
                            how,
                            until_ms: now + GHOST_MS,
                        },
                    });
                }
                vanished.push((prev.item, how));
            }
        }
    }
    Merged {
        rows,
        added,
        updated,
        vanished,
    }
}

fn norm_account(a: &Option<String>) -> &str {
    a.as_deref().unwrap_or("default")
}

fn merge_dm(s: &mut State, snap: DmSnapshot, fx: &mut Vec<Effect>) {
    s.dm_error = snap.errors.first().cloned();
    let first = !s.dm_loaded;
    s.dm_loaded = true;
    let now = s.now_ms;
    let before = selection_indices(s);

    let allowed: HashSet<(String, String)> = snap
        .allow
        .iter()
        .flat_map(|l| l.entries.iter().map(|e| (l.channel.clone(), e.clone())))
        .collect();
    let m = merge_rows(std::mem::take(&mut s.dm), snap.requests, dm_key, now, |r| {
        if r.is_expired(now) {
            None
        } else if allowed.contains(&(r.channel.clone(), r.id.clone())) {
            Some(Resolution::ApprovedElsewhere)
        } else {
            Some(Resolution::ResolvedElsewhere)
        }
    });
    if !first {
        for &i in &m.added {
            let r = &m.rows[i].item;
            fx.push(Effect::Emit(Event::DmCreated {
                channel: r.channel.clone(),
                account: r.account.clone(),
                id: r.id.clone(),
                name: r.display_name(),
                username: r.username().map(str::to_string),
            }));
        }
        for &i in &m.updated {
            let r = &m.rows[i].item;
            fx.push(Effect::Emit(Event::DmUpdated {
                channel: r.channel.clone(),
                account: r.account.clone(),
                id: r.id.clone(),
            }));
        }
        if !m.added.is_empty() {
            fx.push(Effect::Notify("New DM pairing request".into()));
        }
    }
    for (r, how) in &m.vanished {
        let (channel, account, id) = (r.channel.clone(), r.account.clone(), r.id.clone());
        fx.push(Effect::Emit(match how {
            None => Event::DmExpired {
                channel,
                account,
                id,
            },
            Some(Resolution::ApprovedElsewhere) => Event::DmApproved {
                channel,
                account,
                id,
                by: "elsewhere",
            },
            Some(Resolution::ResolvedElsewhere) => Event::DmRejected {
                channel,
                account,
                id,
                by: "elsewhere",
            },
        }));
    }
    let mut rows = m.rows;
    rows.sort_by(|a, b| {
        let (a, b) = (&a.item, &b.item);
        (&a.channel, norm_account(&a.account), a.created_at_ms, &a.id).cmp(&(
            &b.channel,
            norm_account(&b.account),
            b.created_at_ms,
            &b.id,
        ))
    });
    s.dm = rows;

    let mut entries = flatten_allow(&snap.allow);
    entries.sort_by(|a, b| {
        (&a.channel, norm_account(&a.account)).cmp(&(&b.channel, norm_account(&b.account)))
    });
    let m = merge_rows(
        std::mem::take(&mut s.allow),
        entries,
        allow_key,
        now,
        |_| Some(Resolution::ResolvedElsewhere),
    );
    let mut rows = m.rows;
    rows.sort_by(|a, b| {
        (&a.item.channel, norm_account(&a.item.account))
            .cmp(&(&b.item.channel, norm_account(&b.item.account)))
    });
    s.allow = rows;
    restore_selections(s, before);
}

fn merge_devices(s: &mut State, snap: DeviceSnapshot, fx: &mut Vec<Effect>) {
    s.devices_error = snap.errors.first().cloned();
    let first = !s.devices_loaded;
    s.devices_loaded = true;
    let now = s.now_ms;
    let before = selection_indices(s);

    let approved: HashMap<&str, i64> = snap
        .paired
        .iter()
        .map(|p| (p.device_id.as_str(), p.approved_at_ms))
        .collect();
    let mut pending = snap.pending.clone();
    pending.sort_by(|a, b| (a.ts, &a.request_id).cmp(&(b.ts, &b.request_id)));
    let m = merge_rows(
        std::mem::take(&mut s.devices),
        pending,
        |r| r.request_id.clone(),
        now,
        |r| {
            if r.is_expired(now) {
                None
            } else if approved
                .get(r.device_id.as_str())
                .is_some_and(|t| *t >= r.ts)
            {
                Some(Resolution::ApprovedElsewhere)
            } else {
                Some(Resolution::ResolvedElsewhere)
            }
        },
    );
    if !first {
        for &i in &m.added {
            let r = &m.rows[i].item;
            fx.push(Effect::Emit(Event::DeviceCreated {
                request_id: r.request_id.clone(),
                device_id: r.device_id.clone(),
                display_name: r.display_name.clone(),
                platform: r.platform.clone(),
                roles: r.roles.clone(),
                scopes: r.scopes.clone(),
                remote_ip: r.remote_ip.clone(),
                is_repair: r.is_repair,
            }));
        }
        if !m.added.is_empty() {
            fx.push(Effect::Notify("New device pairing request".into()));
        }
    }
    for (r, how) in &m.vanished {
        let (request_id, device_id) = (r.request_id.clone(), r.device_id.clone());
        fx.push(Effect::Emit(match how {
            None => Event::DeviceExpired {
                request_id,
                device_id,
            },
            Some(Resolution::ApprovedElsewhere) => Event::DeviceApproved {
                request_id,
                device_id,
                by: "elsewhere",
            },
            Some(Resolution::ResolvedElsewhere) => Event::DeviceRejected {
                request_id,
                device_id,
                by: "elsewhere",
            },
        }));
    }
    let mut rows = m.rows;
    rows.sort_by(|a, b| (a.item.ts, &a.item.request_id).cmp(&(b.item.ts, &b.item.request_id)));
    s.devices = rows;

    let m = merge_rows(
        std::mem::take(&mut s.paired),
        snap.paired,
        |p| p.device_id.clone(),
        now,
        |_| Some(Resolution::ResolvedElsewhere),
    );
    let mut rows = m.rows;
    if !m.vanished.is_empty() {
        // Ghosts were appended; keep them where they sorted before.
        rows.sort_by(|a, b| {
            (a.item.approved_at_ms, &a.item.device_id)
                .cmp(&(b.item.approved_at_ms, &b.item.device_id))
        });
    }
    s.paired = rows;
    restore_selections(s, before);
}

// ---------------------------------------------------------------- selection

/// For each pane, the selected key's visible index before a change.
fn selection_indices(s: &State) -> [Option<usize>; 4] {
    let mut out = [None; 4];
    for (i, p) in Pane::ALL.iter().enumerate() {
        if s.selected[i].is_some() {
            out[i] = s.selected_position(*p).or(Some(0));
        }
    }
    out
}

/// Keeps the selection on the same key; if that key is gone, on the row now at its old index.
fn restore_selections(s: &mut State, before: [Option<usize>; 4]) {
    for (i, p) in Pane::ALL.iter().enumerate() {
        if s.selected[i].is_some() && s.selected_position(*p).is_some() {
            continue;
        }
        let len = s.visible_len(*p);
        s.selected[i] = if len == 0 {
            None
        } else {
            s.visible_key_at(*p, before[i].unwrap_or(0).min(len - 1))
        };
    }
}

fn fix_all_selections(s: &mut State) {
    restore_selections(s, [Some(0); 4]);
}

// ---------------------------------------------------------------- results

fn on_action_done(
    s: &mut State,
    key: RowKey,
    verb: &'static str,
    result: Result<String, String>,
    fx: &mut Vec<Effect>,
) {
    match result {
        Ok(text) => {
            let before = selection_indices(s);
            match &key {
                RowKey::Dm {
                    channel,
                    account,
                    id,
                } => {
                    let (channel, account, id) = (channel.clone(), account.clone(), id.clone());
                    s.dm.retain(|r| dm_key(&r.item) != key);
                    fx.push(Effect::Emit(if verb == "approved" {
                        Event::DmApproved {
                            channel,
                            account,
                            id,
                            by: "console",
                        }
                    } else {
                        Event::DmRejected {
                            channel,
                            account,
                            id,
                            by: "console",
                        }
                    }));
                }
                RowKey::Device(request_id) => {
                    let device_id = s
                        .devices
                        .iter()
                        .find(|r| &r.item.request_id == request_id)
                        .map(|r| r.item.device_id.clone())
                        .unwrap_or_default();
                    s.devices.retain(|r| &r.item.request_id != request_id);
                    let request_id = request_id.clone();
                    fx.push(Effect::Emit(if verb == "approved" {
                        Event::DeviceApproved {
                            request_id,
                            device_id,
                            by: "console",
                        }
                    } else {
                        Event::DeviceRejected {
                            request_id,
                            device_id,
                            by: "console",
                        }
                    }));
                }
                RowKey::Paired(id) => s.paired.retain(|r| &r.item.device_id != id),
                RowKey::Allow { .. } => s.allow.retain(|r| allow_key(&r.item) != key),
            }
            restore_selections(s, before);
            s.toast(ToastLevel::Info, text);
        }
        Err(e) => {
            set_status(s, &key, RowStatus::Failed(e.clone()));
            s.toast(ToastLevel::Error, format!("Not {verb}: {e}"));
        }
    }
}

fn on_setup_code(
    s: &mut State,
    result: Result<super::view::SetupCode, String>,
    fx: &mut Vec<Effect>,
) {
    match result {
        Ok(code) => {
            s.setup_expires_ms = Some(code.expires_at_ms);
            fx.push(Effect::Emit(Event::SetupCodeIssued {
                code: code.code.clone(),
                url: code.url.clone(),
                expires_at_ms: code.expires_at_ms,
            }));
            if matches!(s.mode, Mode::SetupCode(_)) {
                let qr = crate::qr::half_block_lines(&code.code).unwrap_or_default();
                s.mode = Mode::SetupCode(SetupPopup::Ready { code, qr });
            }
        }
        Err(e) => {
            if matches!(s.mode, Mode::SetupCode(_)) {
                s.mode = Mode::SetupCode(SetupPopup::Failed(e.clone()));
            }
            s.toast(ToastLevel::Error, format!("No setup code: {e}"));
        }
    }
}

fn on_gateway(s: &mut State, ev: GatewayEvent, fx: &mut Vec<Effect>) {
    match ev {
        GatewayEvent::Listening { addr } => {
            s.gateway = GatewayStatus::Listening {
                addr: addr.to_string(),
            };
            fx.push(Effect::Emit(Event::GatewayListening {
                addr: addr.to_string(),
            }));
        }
        GatewayEvent::BindFailed { addr, error } => {
            s.toast(
                ToastLevel::Error,
                format!("Gateway port busy ({addr}); working on the files only"),
            );
            fx.push(Effect::Emit(Event::GatewayBindFailed {
                addr: addr.clone(),
                error: error.clone(),
            }));
            s.gateway = GatewayStatus::PortBusy { addr, error };
        }
        GatewayEvent::DevicePairRequested { .. } | GatewayEvent::DevicePairResolved { .. } => {
            fx.push(Effect::ReloadDevices);
        }
        GatewayEvent::DeviceConnected {
            device_id,
            role,
            remote_addr,
        } => {
            s.online.insert(device_id.clone());
            fx.push(Effect::Emit(Event::DeviceConnected {
                device_id,
                role,
                remote_addr,
            }));
        }
        GatewayEvent::DeviceDisconnected { device_id } => {
            s.online.remove(&device_id);
            fx.push(Effect::Emit(Event::DeviceDisconnected { device_id }));
        }
        GatewayEvent::SetupCodeUsed { device_id } => {
            s.toast(
                ToastLevel::Info,
                format!(
                    "Setup code used by device {}",
                    crate::devices::model::short_fingerprint(&device_id)
                ),
            );
            fx.push(Effect::Emit(Event::SetupCodeUsed { device_id }));
            fx.push(Effect::ReloadDevices);
        }
        GatewayEvent::Stopped => {
            s.gateway = GatewayStatus::Stopped;
            s.online.clear();
            fx.push(Effect::Emit(Event::GatewayStopped));
        }
    }
}
