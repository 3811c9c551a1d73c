//! What each key action does in each mode: move, approve, reject (after a
//! confirmation), remove, copy, filter, setup code. Pure: it changes the
//! state and asks for effects.

use crossterm::event::KeyEvent;

use super::effect::{Act, AllowTarget, DmTarget, Effect};
use super::keymap::{action_for, Action, ModeKind};
use super::state::{
    Card, CardLive, Confirm, Mode, Pane, Resolution, RowKey, RowStatus, SetupPopup, State,
    ToastLevel,
};

pub(super) fn on_key(s: &mut State, key: KeyEvent, fx: &mut Vec<Effect>) {
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
                s.fix_all_selections();
            }
            Action::FilterBackspace => {
                s.filter.pop();
                s.fix_all_selections();
            }
            Action::FilterApply => s.mode = Mode::Normal,
            Action::Close => {
                s.filter.clear();
                s.mode = Mode::Normal;
                s.fix_all_selections();
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
        Mode::Card(card) => match action {
            Action::Yes => confirm_card(s, card, fx),
            Action::Close => {
                s.mode = Mode::Normal;
                s.toast(ToastLevel::Info, "Cancelled: nothing approved");
            }
            Action::Quit => quit(s, fx),
            _ => {}
        },
        Mode::History { scroll } => {
            let last = s.history.len().saturating_sub(1);
            let scroll = match action {
                Action::Up => scroll.saturating_sub(1),
                Action::Down => (scroll + 1).min(last),
                Action::Top => 0,
                Action::Bottom => last,
                Action::Close => {
                    s.mode = Mode::Normal;
                    return;
                }
                Action::Quit => return quit(s, fx),
                _ => scroll,
            };
            s.mode = Mode::History { scroll };
        }
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
            Action::Toggle => {
                if let SetupPopup::Ready { code, qr, as_text } = popup {
                    s.mode = Mode::SetupCode(SetupPopup::Ready {
                        code,
                        qr,
                        as_text: !as_text,
                    });
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
    let acts_on_selection = matches!(
        action,
        Action::Approve | Action::Reject | Action::Copy | Action::Remove
    );
    if acts_on_selection && s.selection_unsettled() {
        // The row under the cursor just changed by itself: this key was
        // meant for the one that was there.
        let what = s
            .current()
            .map(|k| describe_key(s, &k))
            .unwrap_or_else(|| "nothing".into());
        s.toast(
            ToastLevel::Info,
            format!("Ignored: the selection just changed (now {what}); press again"),
        );
        return;
    }
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
        Action::History => {
            s.mode = Mode::History { scroll: 0 };
            fx.push(Effect::LoadHistory);
        }
        Action::Quit => quit(s, fx),
        Action::Close if !s.filter.is_empty() => {
            s.filter.clear();
            s.fix_all_selections();
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

/// Whether the row can be acted on; says why not in a toast.
fn actionable(s: &mut State, key: &RowKey) -> bool {
    match s.status_of(key) {
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

/// The DM request row `key` as the store will find it again.
fn dm_target(s: &State, key: &RowKey) -> Option<DmTarget> {
    s.dm.iter()
        .find(|r| super::state::dm_key(&r.item) == *key)
        .map(|r| DmTarget {
            channel: r.item.channel.clone(),
            account: r.item.account.clone(),
            id: r.item.id.clone(),
            code: r.item.code.clone(),
            request_id: r.item.request_id.clone(),
        })
}

/// `a`: the card with everything approving grants (a DM code goes at once
/// with `--quick-approve`).
fn approve(s: &mut State, fx: &mut Vec<Effect>) {
    let Some(key) = s.current() else {
        s.toast(ToastLevel::Info, "Nothing selected");
        return;
    };
    let card = match &key {
        RowKey::Dm { .. } => {
            s.dm.iter()
                .find(|r| super::state::dm_key(&r.item) == key)
                .map(|r| Card::Dm(r.item.clone()))
        }
        RowKey::Device(id) => s
            .devices
            .iter()
            .find(|r| &r.item.request_id == id)
            .map(|r| Card::Device {
                request: Box::new(r.item.clone()),
                paired: s.paired_by_id(&r.item.device_id).cloned().map(Box::new),
            }),
        _ => {
            s.toast(ToastLevel::Info, "Approve works on DM and device requests");
            return;
        }
    };
    let Some(card) = card else {
        return;
    };
    if !actionable(s, &key) {
        return;
    }
    if s.quick_approve && matches!(card, Card::Dm(_)) {
        begin(s, fx, key, card.act());
        return;
    }
    s.mode = Mode::Card(card);
}

/// `y`/Enter on the card: approves exactly what the card shows, if it is
/// still so.
fn confirm_card(s: &mut State, card: Card, fx: &mut Vec<Effect>) {
    match s.card_live(&card) {
        CardLive::Same => {
            s.mode = Mode::Normal;
            begin(s, fx, card.key(), card.act());
        }
        CardLive::Changed => {
            // Show what it asks for now; the owner confirms again.
            let fresh = match &card {
                Card::Dm(r) => {
                    s.dm.iter()
                        .find(|x| super::state::dm_key(&x.item) == super::state::dm_key(r))
                        .map(|x| Card::Dm(x.item.clone()))
                }
                Card::Device { request, .. } => s
                    .devices
                    .iter()
                    .find(|x| x.item.request_id == request.request_id)
                    .map(|x| Card::Device {
                        request: Box::new(x.item.clone()),
                        paired: s.paired_by_id(&x.item.device_id).cloned().map(Box::new),
                    }),
            };
            if let Some(c) = fresh {
                s.mode = Mode::Card(c);
            }
            s.toast(
                ToastLevel::Error,
                "Not approved: the request changed while the card was open; review it and confirm again",
            );
        }
        CardLive::Gone(why) => {
            s.mode = Mode::Normal;
            s.toast(ToastLevel::Info, format!("Not approved: {why}"));
        }
        CardLive::Busy => {
            s.mode = Mode::Normal;
            s.toast(ToastLevel::Info, "Still working on it…");
        }
    }
}

/// `telegram 123456789`, `device studio-mac`: what a key points at, for toasts.
fn describe_key(s: &State, key: &RowKey) -> String {
    use crate::sanitize::for_terminal as c;
    match key {
        RowKey::Dm { channel, id, .. } => format!("{} {}", c(channel), c(id)),
        RowKey::Device(id) => s
            .devices
            .iter()
            .find(|r| &r.item.request_id == id)
            .map(|r| {
                format!(
                    "device {}",
                    c(r.item.display_name.as_deref().unwrap_or("(unnamed)"))
                )
            })
            .unwrap_or_else(|| "a device request".into()),
        RowKey::Paired(id) => format!("device {}", crate::devices::model::short_fingerprint(id)),
        RowKey::Allow { channel, entry, .. } => format!("{} {}", c(channel), c(entry)),
    }
}

fn reject(s: &mut State) {
    let Some(key) = s.current() else {
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
    let Some(key) = s.current() else {
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
    let (key, act) = match what {
        Confirm::RejectDm(key) => {
            let Some(t) = dm_target(s, &key) else {
                return;
            };
            (key, Act::RejectDm(t))
        }
        Confirm::RejectDevice(request_id) if is_surface(s, &request_id) => (
            RowKey::Device(request_id.clone()),
            Act::RejectNode { request_id },
        ),
        Confirm::RejectDevice(request_id) => (
            RowKey::Device(request_id.clone()),
            Act::RejectDevice { request_id },
        ),
        Confirm::RemoveDevice(device_id) => (
            RowKey::Paired(device_id.clone()),
            Act::RemoveDevice { device_id },
        ),
        Confirm::RevokeAllow(key) => {
            let RowKey::Allow {
                channel,
                account,
                entry,
            } = &key
            else {
                return;
            };
            let t = AllowTarget {
                channel: channel.clone(),
                account: account.clone(),
                entry: entry.clone(),
            };
            (key, Act::RevokeAllow(t))
        }
    };
    begin(s, fx, key, act);
}

/// Starts `act` on row `key`: refused (with its toast) unless the row is
/// actionable, else the row turns busy and the effect is queued.
fn begin(s: &mut State, fx: &mut Vec<Effect>, key: RowKey, act: Act) {
    if !actionable(s, &key) {
        return;
    }
    if let Some(subject) = super::decisions::subject_of(s, &key) {
        s.in_flight.retain(|(k, ..)| *k != key);
        s.in_flight
            .push((key.clone(), super::decisions::action(&act), subject));
    }
    s.set_status(&key, RowStatus::Busy(act.kind().busy()));
    fx.push(Effect::Act { key, act });
}

/// Whether device-request row `request_id` is a node's capability surface.
fn is_surface(s: &State, request_id: &str) -> bool {
    s.devices
        .iter()
        .any(|r| r.item.request_id == request_id && r.item.surface.is_some())
}

fn copy(s: &mut State, fx: &mut Vec<Effect>) {
    match s.current() {
        Some(key @ RowKey::Dm { .. }) => {
            if let Some(t) = dm_target(s, &key) {
                if t.code.is_empty() {
                    s.toast(
                        ToastLevel::Info,
                        "The gateway does not reveal pairing codes; approve with a",
                    );
                    return;
                }
                fx.push(Effect::Copy {
                    what: "pairing code",
                    text: t.code,
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
