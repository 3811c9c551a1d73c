//! How the rows change by themselves: expiry on the clock's tick, and fresh
//! snapshots from the source merged into the rows on screen (new rows
//! announced, vanished ones labelled "approved/resolved elsewhere", the
//! selection kept on the same item).

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use super::decisions;
use super::effect::{Effect, Event};
use super::rows::{DeviceRequest, DeviceSnapshot, DmRequest, DmSnapshot};
use super::state::{allow_key, dm_key, flatten_allow, Resolution, Row, RowStatus, State, GHOST_MS};
use crate::audit::Action;

pub(super) fn on_tick(s: &mut State, now: i64, fx: &mut Vec<Effect>) {
    s.now_ms = now;
    let before = s.selection_indices();
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
            fx.push(Effect::Record(decisions::made(
                Action::SetupCodeExpired,
                crate::audit::Subject::SetupCode {
                    url: None,
                    expires: Some(crate::clock::format_iso_ms(exp)),
                    device_id: None,
                },
            )));
            fx.push(Effect::Emit(Event::SetupCodeExpired));
        }
    }
    if changed {
        s.restore_selections(before);
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

pub(super) fn merge_dm(s: &mut State, snap: DmSnapshot, fx: &mut Vec<Effect>) {
    s.dm_error = snap.errors.first().cloned();
    s.dm_unavailable = snap.unavailable.clone();
    let first = !s.dm_loaded;
    s.dm_loaded = true;
    let now = s.now_ms;
    let before = s.selection_indices();

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
    if first {
        // What was already there when we started: one event each, so a
        // consumer that starts late misses nothing.
        for row in &m.rows {
            let r = &row.item;
            fx.push(Effect::Emit(Event::DmPending {
                channel: r.channel.clone(),
                account: r.account.clone(),
                id: r.id.clone(),
                name: r.display_name(),
                username: r.username().map(str::to_string),
            }));
        }
    }
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
        match how {
            Some(Resolution::ApprovedElsewhere) => fx.push(Effect::Record(decisions::observed(
                Action::Approve,
                decisions::dm(r),
            ))),
            Some(Resolution::ResolvedElsewhere) => fx.push(Effect::Record(decisions::observed(
                Action::Reject,
                decisions::dm(r),
            ))),
            None => {}
        }
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
    for (a, _) in &m.vanished {
        fx.push(Effect::Record(decisions::observed(
            Action::Revoke,
            decisions::allow(a),
        )));
    }
    let mut rows = m.rows;
    rows.sort_by(|a, b| {
        (&a.item.channel, norm_account(&a.item.account))
            .cmp(&(&b.item.channel, norm_account(&b.item.account)))
    });
    s.allow = rows;
    s.restore_selections(before);
}

pub(super) fn merge_devices(s: &mut State, snap: DeviceSnapshot, fx: &mut Vec<Effect>) {
    s.devices_error = snap.errors.first().cloned();
    let first = !s.devices_loaded;
    s.devices_loaded = true;
    let now = s.now_ms;
    let before = s.selection_indices();

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
    if first {
        for row in &m.rows {
            let r = &row.item;
            fx.push(Effect::Emit(Event::DevicePending {
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
    }
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
        match how {
            Some(Resolution::ApprovedElsewhere) => fx.push(Effect::Record(decisions::observed(
                Action::Approve,
                decisions::device(r),
            ))),
            Some(Resolution::ResolvedElsewhere) => fx.push(Effect::Record(decisions::observed(
                Action::Reject,
                decisions::device(r),
            ))),
            None => {}
        }
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

    // Tokens revoked elsewhere: a role that had a live token and has none now.
    if !first {
        let before: HashMap<&str, &Vec<String>> = s
            .paired
            .iter()
            .map(|o| (o.item.device_id.as_str(), &o.item.active_roles))
            .collect();
        for p in &snap.paired {
            if let Some(old) = before.get(p.device_id.as_str()) {
                for role in old.iter() {
                    if !p.active_roles.contains(role) {
                        fx.push(Effect::Record(decisions::observed(
                            Action::Revoke,
                            decisions::token(p, role),
                        )));
                    }
                }
            }
        }
    }
    let m = merge_rows(
        std::mem::take(&mut s.paired),
        snap.paired,
        |p| p.device_id.clone(),
        now,
        |_| Some(Resolution::ResolvedElsewhere),
    );
    for (p, _) in &m.vanished {
        fx.push(Effect::Record(decisions::observed(
            Action::Remove,
            decisions::paired(p),
        )));
    }
    let mut rows = m.rows;
    if !m.vanished.is_empty() {
        // Ghosts were appended; keep them where they sorted before.
        rows.sort_by(|a, b| {
            (a.item.approved_at_ms, &a.item.device_id)
                .cmp(&(b.item.approved_at_ms, &b.item.device_id))
        });
    }
    s.paired = rows;
    s.restore_selections(before);
}
