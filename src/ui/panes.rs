//! The four panes. Every string a sender or device supplied goes through
//! `sanitize::for_terminal` before it reaches a cell.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};
use ratatui::Frame;

use super::format::{age, countdown, EXPIRING_SOON_MS};
use super::{fit, pane_title, window_start, Theme};
use crate::app::rows::{request_kind, RequestKind, TokenState, DM_MAX_PENDING};
use crate::app::state::{allow_key, dm_key, Pane, Resolution, Row, RowKey, RowStatus, State};
use crate::devices::model::short_fingerprint;

/// Device requests live five minutes; their countdown is marked in the last minute.
const DEVICE_SOON_MS: i64 = 60_000;
use crate::sanitize::for_terminal as clean;

fn block<'a>(p: Pane, s: &State, extra: &str, t: &Theme) -> Block<'a> {
    let focused = s.focus == p;
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(if focused { t.border_focus } else { t.border })
        .title(Span::styled(
            pane_title(p, focused, extra),
            if focused { t.title_focus } else { t.title },
        ))
}

fn empty_text(s: &State, what: &str) -> String {
    if s.filter.is_empty() {
        format!("  {what}")
    } else {
        "  No matches for the filter".to_string()
    }
}

/// A status cell: never colour alone, always words.
fn status_span<T>(row: &Row<T>, pane: Pane, width: usize, t: &Theme) -> Span<'static> {
    let (text, style) = match &row.status {
        RowStatus::Live => (String::new(), t.base),
        RowStatus::Busy(what) => (format!("{what}…"), t.warn),
        RowStatus::Failed(e) => (format!("✗ failed: {}", clean(e)), t.error),
        RowStatus::Gone { how, .. } => (
            match (how, pane) {
                (Resolution::ApprovedElsewhere, _) => "approved elsewhere".to_string(),
                (Resolution::ResolvedElsewhere, Pane::Paired | Pane::Allow) => {
                    "removed elsewhere".to_string()
                }
                (Resolution::ResolvedElsewhere, _) => "resolved elsewhere".to_string(),
            },
            t.dim,
        ),
    };
    Span::styled(fit(&text, width), style)
}

fn row_style<T>(row: &Row<T>, t: &Theme) -> Style {
    if row.status.is_gone() {
        t.gone
    } else {
        t.base
    }
}

fn marker(selected: bool) -> &'static str {
    if selected {
        "› "
    } else {
        "  "
    }
}

fn countdown_span(remaining_ms: i64, soon_ms: i64, t: &Theme) -> Span<'static> {
    if remaining_ms <= soon_ms {
        Span::styled(format!("!{}", countdown(remaining_ms)), t.soon)
    } else {
        Span::styled(format!(" {}", countdown(remaining_ms)), t.base)
    }
}

/// Draws `lines` inside `block`, scrolled so that `selected_line` is visible.
fn draw(f: &mut Frame, area: Rect, block: Block, lines: Vec<Line>, selected_line: Option<usize>) {
    let inner_h = area.height.saturating_sub(2) as usize;
    let start = selected_line.map_or(0, |l| window_start(l, inner_h));
    let lines: Vec<Line> = lines.into_iter().skip(start).take(inner_h).collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}

pub fn dm(f: &mut Frame, area: Rect, s: &State, t: &Theme) {
    let w = area.width.saturating_sub(2) as usize;
    let visible: Vec<&Row<_>> = s.dm.iter().filter(|r| s.matches_dm(&r.item)).collect();
    let title_extra = format!(" ({})", s.live_dm_count());
    let blk = block(Pane::Dm, s, &title_extra, t);
    if visible.is_empty() {
        let (text, style) = match &s.dm_unavailable {
            Some(why) if s.filter.is_empty() => (format!("  {}", clean(why)), t.warn),
            _ => (empty_text(s, "No pending DM pairing requests"), t.dim),
        };
        f.render_widget(
            Paragraph::new(Line::styled(text, style))
                .wrap(ratatui::widgets::Wrap { trim: false })
                .block(blk),
            area,
        );
        return;
    }
    let sel_key = s.selected_key(Pane::Dm);
    let id_w = if w >= 100 { 22 } else { 14 };
    let fixed = 2 + id_w + 1 + 1 + 8 + 1 + 4 + 1 + 6 + 1;
    let rem = w.saturating_sub(fixed);
    let status_w = (rem / 2).min(19);
    let name_w = rem - status_w;
    let mut lines = Vec::with_capacity(visible.len() * 2);
    let mut selected_line = None;
    let mut group: Option<(String, String)> = None;
    for (i, row) in visible.iter().enumerate() {
        let r = &row.item;
        let g = (r.channel.clone(), r.account_label().to_string());
        if group.as_ref() != Some(&g) {
            let used = s.dm_pending_in_group(&r.channel, r.account_label());
            let mut spans = vec![
                Span::styled(format!("{} · {}", clean(&g.0), clean(&g.1)), t.header),
                Span::styled(format!("  {used}/{DM_MAX_PENDING}"), t.header),
            ];
            if used >= DM_MAX_PENDING {
                let head = format!("{} · {}  {used}/{DM_MAX_PENDING}", clean(&g.0), clean(&g.1));
                let long = "  ⚠ FULL: new senders are ignored until one expires or is approved";
                let short = "  ⚠ FULL: new senders ignored";
                let fits = head.chars().count() + long.chars().count() <= w;
                spans.push(Span::styled(if fits { long } else { short }, t.warn));
            }
            lines.push(Line::from(spans));
            group = Some(g);
        }
        let selected = sel_key == Some(&dm_key(r)) || (sel_key.is_none() && i == 0);
        if selected {
            selected_line = Some(lines.len());
        }
        let mut name = r.display_name().map(|n| clean(&n)).unwrap_or_default();
        if let Some(u) = r.username() {
            if !name.is_empty() {
                name.push(' ');
            }
            name.push('@');
            name.push_str(&clean(u));
        }
        let elapsed = r.created_at_ms.map(|c| s.now_ms - c);
        let remaining = r.remaining_ms(s.now_ms);
        let style = row_style(row, t);
        let mut spans = vec![
            Span::raw(marker(selected)),
            Span::styled(fit(&clean(&r.id), id_w), style),
            Span::raw(" "),
            Span::styled(fit(&name, name_w), style),
            Span::raw(" "),
            Span::styled(
                fit(
                    &if r.code.is_empty() {
                        "-".to_string()
                    } else {
                        clean(&r.code)
                    },
                    8,
                ),
                if row.status.is_gone() { t.gone } else { t.code },
            ),
            Span::raw(" "),
            Span::styled(
                fit(&elapsed.map(age).unwrap_or_else(|| "?".into()), 4),
                t.dim,
            ),
            Span::raw(" "),
        ];
        spans.push(match remaining {
            Some(ms) if !row.status.is_gone() => countdown_span(ms, EXPIRING_SOON_MS, t),
            _ => Span::raw(fit("", 6)),
        });
        spans.push(Span::raw(" "));
        spans.push(status_span(row, Pane::Dm, status_w, t));
        let mut line = Line::from(spans);
        if selected && s.focus == Pane::Dm {
            line = line.patch_style(t.selected);
        }
        lines.push(line);
    }
    draw(f, area, blk, lines, selected_line);
}

fn list(v: &[String]) -> String {
    v.iter().map(|x| clean(x)).collect::<Vec<_>>().join(",")
}

pub fn devices(f: &mut Frame, area: Rect, s: &State, t: &Theme) {
    let w = area.width.saturating_sub(2) as usize;
    let visible: Vec<&Row<_>> = s
        .devices
        .iter()
        .filter(|r| s.matches_device(&r.item))
        .collect();
    let title_extra = format!(" ({})", s.live_device_count());
    let blk = block(Pane::Devices, s, &title_extra, t);
    if visible.is_empty() {
        let text = empty_text(s, "No pending device pairing requests");
        f.render_widget(Paragraph::new(Line::styled(text, t.dim)).block(blk), area);
        return;
    }
    let sel_key = s.selected_key(Pane::Devices);
    let fixed = 2 + 1 + 9 + 1 + 23 + 1 + 4 + 1 + 6 + 1;
    let rem = w.saturating_sub(fixed);
    let status_w = (rem / 2).min(19);
    let name_w = rem - status_w;
    let mut lines = Vec::with_capacity(visible.len() * 2);
    let mut selected_line = None;
    for (i, row) in visible.iter().enumerate() {
        let r = &row.item;
        let selected =
            sel_key == Some(&RowKey::Device(r.request_id.clone())) || (sel_key.is_none() && i == 0);
        let style = row_style(row, t);
        let name = r
            .display_name
            .as_deref()
            .or(r.client_id.as_deref())
            .map(clean)
            .unwrap_or_else(|| "(unnamed)".into());
        let mut spans = vec![
            Span::raw(marker(selected)),
            Span::styled(fit(&name, name_w), style),
            Span::raw(" "),
            Span::styled(fit(&clean(r.platform.as_deref().unwrap_or("-")), 9), style),
            Span::raw(" "),
            Span::styled(
                fit(&format!("key {}", short_fingerprint(&r.device_id)), 23),
                t.code,
            ),
            Span::raw(" "),
            Span::styled(fit(&age(s.now_ms - r.ts), 4), t.dim),
            Span::raw(" "),
        ];
        spans.push(if row.status.is_gone() {
            Span::raw(fit("", 6))
        } else if r.surface.is_some() {
            Span::styled(fit(" caps", 6), t.warn)
        } else {
            countdown_span(r.remaining_ms(s.now_ms), DEVICE_SOON_MS, t)
        });
        spans.push(Span::raw(" "));
        spans.push(status_span(row, Pane::Devices, status_w, t));
        let mut line1 = Line::from(spans);

        let paired = s.paired_by_id(&r.device_id);
        let kind = match request_kind(r, paired) {
            RequestKind::FirstTime => "first-time".to_string(),
            RequestKind::Repair => "repair".to_string(),
            RequestKind::Same => "re-pair".to_string(),
            RequestKind::Upgrade { roles, scopes } => {
                let mut parts: Vec<String> = roles
                    .iter()
                    .map(|r| format!("+role {}", clean(r)))
                    .collect();
                parts.extend(scopes.iter().map(|x| format!("+scope {}", clean(x))));
                format!("upgrade {}", parts.join(" "))
            }
        };
        let client = match (&r.client_id, &r.client_mode) {
            (Some(c), Some(m)) => format!("{}/{}", clean(c), clean(m)),
            (Some(c), None) => clean(c),
            (None, Some(m)) => format!("-/{}", clean(m)),
            (None, None) => "-".into(),
        };
        let mut detail = match &r.surface {
            Some(sf) => format!(
                "    capabilities · {client} · caps [{}] · {} commands [{}] · approve needs [{}]",
                list(&sf.caps),
                sf.commands.len(),
                list(&sf.commands),
                list(&sf.required_scopes)
            ),
            None => format!(
                "    {kind} · {client} · asks {} [{}]",
                list(&r.roles),
                list(&r.scopes)
            ),
        };
        if let (Some(p), None) = (paired, &r.surface) {
            detail.push_str(&format!(" · has {} [{}]", list(&p.roles), list(&p.scopes)));
        }
        if let Some(ip) = &r.remote_ip {
            detail.push_str(&format!(" · from {}", clean(ip)));
        }
        let mut line2 = Line::from(Span::styled(
            fit(&detail, w),
            if row.status.is_gone() { t.gone } else { t.dim },
        ));
        if selected && s.focus == Pane::Devices {
            line1 = line1.patch_style(t.selected);
            line2 = line2.patch_style(t.selected);
        }
        if selected {
            // Keep both lines of the selected request on screen.
            selected_line = Some(lines.len() + 1);
        }
        lines.push(line1);
        lines.push(line2);
    }
    draw(f, area, blk, lines, selected_line);
}

pub fn paired(f: &mut Frame, area: Rect, s: &State, t: &Theme) {
    let w = area.width.saturating_sub(2) as usize;
    let h = area.height.saturating_sub(2) as usize;
    let title_extra = format!(" ({}) · ● online ○ offline", s.paired.len());
    let blk = block(Pane::Paired, s, &title_extra, t);
    // Only the rows in the window are formatted (10,000 devices stay cheap).
    let filtering = !s.filter.is_empty();
    let visible: Vec<&Row<_>> = if filtering {
        s.paired
            .iter()
            .filter(|r| s.matches_paired(&r.item))
            .collect()
    } else {
        s.paired.iter().collect()
    };
    if visible.is_empty() {
        let text = empty_text(s, "No paired devices");
        f.render_widget(Paragraph::new(Line::styled(text, t.dim)).block(blk), area);
        return;
    }
    let sel_idx = match s.selected_key(Pane::Paired) {
        Some(RowKey::Paired(id)) => visible
            .iter()
            .position(|r| &r.item.device_id == id)
            .unwrap_or(0),
        _ => 0,
    };
    let start = window_start(sel_idx, h);
    let mut lines = Vec::with_capacity(h);
    for (i, row) in visible.iter().enumerate().skip(start).take(h) {
        let p = &row.item;
        let selected = i == sel_idx;
        let online = s.online.contains(&p.device_id);
        let style = row_style(row, t);
        let name = p
            .display_name
            .as_deref()
            .or(p.client_id.as_deref())
            .map(clean)
            .unwrap_or_else(|| "(unnamed)".into());
        let token = match p.token_state {
            TokenState::Active => "token ok",
            TokenState::Revoked => "revoked",
            TokenState::None => "no token",
        };
        let used = p
            .last_used_ms
            .map(|u| format!("{} ago", age(s.now_ms - u)))
            .unwrap_or_else(|| "never".into());
        let (name_w, roles_w) = match w {
            0..60 => (12, 10),
            60..90 => (14, 12),
            _ => (16, 14),
        };
        // Narrow panes keep the ●/○ marker and drop the word.
        let online_word = w >= 90;
        let mut spans = vec![
            Span::raw(marker(selected)),
            if online {
                Span::styled("● ", t.online)
            } else {
                Span::styled("○ ", t.dim)
            },
            Span::styled(fit(&name, name_w), style),
            Span::raw(" "),
            Span::styled(fit(&list(&p.roles), roles_w), style),
            Span::raw(" "),
            Span::styled(
                fit(token, 8),
                if p.token_state == TokenState::Active {
                    t.ok
                } else {
                    t.warn
                },
            ),
            Span::raw(" "),
            Span::styled(fit(&used, 8), t.dim),
            Span::raw(" "),
        ];
        if row.status != RowStatus::Live {
            spans.push(status_span(row, Pane::Paired, 19, t));
        } else {
            // A pending capability surface takes the place of the online
            // word (the ●/○ marker still says it) and of the fingerprint.
            if online_word && p.pending_surface.is_none() {
                spans.push(Span::styled(
                    fit(
                        if online {
                            "online"
                        } else if s.closed_by_gateway.contains_key(&p.device_id) {
                            "closed"
                        } else {
                            "offline"
                        },
                        8,
                    ),
                    if online { t.online } else { t.dim },
                ));
            }
            if let Some(surface) = &p.pending_surface {
                // OpenClaw 2026.9: the node's capabilities wait for their own
                // approval; that (not the fingerprint) is what the row needs to say.
                // It also takes the last-used column (a node asking just connected).
                spans.truncate(spans.len() - 2);
                let used: usize = spans.iter().map(|s| s.width()).sum();
                spans.push(Span::styled(
                    surface.summary(w.saturating_sub(used)),
                    t.warn,
                ));
            } else {
                spans.push(Span::styled(short_fingerprint(&p.device_id), t.dim));
            }
        }
        let mut line = Line::from(spans);
        if selected && s.focus == Pane::Paired {
            line = line.patch_style(t.selected);
        }
        lines.push(line);
    }
    f.render_widget(Paragraph::new(lines).block(blk), area);
}

pub fn allow(f: &mut Frame, area: Rect, s: &State, t: &Theme) {
    let w = area.width.saturating_sub(2) as usize;
    let title_extra = format!(" ({})", s.allow.len());
    let blk = block(Pane::Allow, s, &title_extra, t);
    let visible: Vec<&Row<_>> = s
        .allow
        .iter()
        .filter(|r| s.matches_allow(&r.item))
        .collect();
    if visible.is_empty() {
        let text = empty_text(s, "No allow-list entries");
        f.render_widget(Paragraph::new(Line::styled(text, t.dim)).block(blk), area);
        return;
    }
    let sel_key = s.selected_key(Pane::Allow);
    let mut lines = Vec::new();
    let mut selected_line = None;
    let longest = visible
        .iter()
        .map(|r| {
            r.item.channel.chars().count()
                + 1
                + r.item
                    .account
                    .as_deref()
                    .unwrap_or("default")
                    .chars()
                    .count()
        })
        .max()
        .unwrap_or(8);
    let chan_w = longest.min(w / 2).max(8);
    for (i, row) in visible.iter().enumerate() {
        let a = &row.item;
        let selected = sel_key == Some(&allow_key(a)) || (sel_key.is_none() && i == 0);
        if selected {
            selected_line = Some(lines.len());
        }
        let chan = format!(
            "{}·{}",
            clean(&a.channel),
            clean(a.account.as_deref().unwrap_or("default"))
        );
        let style = row_style(row, t);
        let entry_w = w.saturating_sub(2 + chan_w + 1);
        let mut spans = vec![
            Span::raw(marker(selected)),
            Span::styled(fit(&chan, chan_w), t.dim),
            Span::raw(" "),
        ];
        if row.status == RowStatus::Live {
            spans.push(Span::styled(fit(&clean(&a.entry), entry_w), style));
        } else {
            let ew = entry_w.saturating_sub(entry_w / 2);
            spans.push(Span::styled(
                fit(&clean(&a.entry), ew.saturating_sub(1)),
                style,
            ));
            spans.push(Span::raw(" "));
            spans.push(status_span(row, Pane::Allow, entry_w - ew, t));
        }
        let mut line = Line::from(spans);
        if selected && s.focus == Pane::Allow {
            line = line.patch_style(t.selected);
        }
        lines.push(line);
    }
    draw(f, area, blk, lines, selected_line);
}
