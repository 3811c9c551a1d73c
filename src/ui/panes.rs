//! The four panes, each sized to its content: an empty pane takes one line,
//! a pane with rows gets a column header and, when its rows do not fit, a
//! scroll position (`3–9 of 24`) in its bottom border. Every string a sender
//! or device supplied goes through `sanitize::for_terminal` before it
//! reaches a cell.

use ratatui::layout::{Alignment, Constraint, Direction, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};
use ratatui::Frame;

use super::format::{age, countdown, EXPIRING_SOON_MS};
use super::{fit, pane_title, window_start, Theme};
use crate::app::rows::{request_kind, DmCap, RequestKind, TokenState, DM_MAX_PENDING};
use crate::app::state::{allow_key, dm_key, Pane, Resolution, Row, RowKey, RowStatus, State};
use crate::devices::model::short_fingerprint;
use crate::sanitize::for_terminal as clean;

/// Device requests live five minutes; their countdown is marked in the last minute.
const DEVICE_SOON_MS: i64 = 60_000;

/// What a pane shows: a header, its lines (formatted on demand, so 10,000
/// paired devices cost only the rows in view), which lines are the selected
/// row, and which row each line belongs to (for the scroll position).
struct Listing<'a> {
    header: Line<'static>,
    len: usize,
    line: Box<dyn Fn(usize) -> Line<'static> + 'a>,
    row_of: Box<dyn Fn(usize) -> usize + 'a>,
    rows: usize,
    selected: Option<(usize, usize)>,
    /// Said when there are no rows.
    empty: String,
}

impl Listing<'_> {
    /// Lines the pane would like: one when empty, else borders, header, lines.
    fn wanted(&self) -> u16 {
        if self.rows == 0 {
            1
        } else {
            (self.len as u16).saturating_add(3)
        }
    }
}

fn built(lines: Vec<Line<'static>>, rows_of: Vec<usize>) -> (usize, LineFn, RowFn) {
    let len = lines.len();
    (
        len,
        Box::new(move |i| lines.get(i).cloned().unwrap_or_default()),
        Box::new(move |i| rows_of.get(i).copied().unwrap_or(0)),
    )
}

type LineFn = Box<dyn Fn(usize) -> Line<'static>>;
type RowFn = Box<dyn Fn(usize) -> usize>;

/// Lays the panes out by what they hold and draws them.
pub fn body(f: &mut Frame, area: Rect, s: &State, t: &Theme) {
    let w = area.width.saturating_sub(2) as usize;
    let half_w = |pct: u16| (area.width * pct / 100).saturating_sub(2) as usize;
    let dm = dm_listing(s, w, t);
    let dev = devices_listing(s, w, t);
    let paired = paired_listing(s, half_w(60), t);
    let allow = allow_listing(s, half_w(40), t);
    let bottom_want = match (paired.rows, allow.rows) {
        (0, 0) => 1,
        _ => paired.wanted().max(allow.wanted()).max(3),
    };
    let heights = share(
        area.height,
        [dm.wanted(), dev.wanted(), bottom_want],
        match s.focus {
            Pane::Dm => 0,
            Pane::Devices => 1,
            Pane::Paired | Pane::Allow => 2,
        },
    );
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(heights[0]),
            Constraint::Length(heights[1]),
            Constraint::Length(heights[2]),
            Constraint::Fill(1),
        ])
        .split(area);
    let bottom = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(60), Constraint::Percentage(40)])
        .split(rows[2]);
    let dm_extra = format!(" ({})", s.live_dm_count());
    let dev_extra = format!(" ({})", s.live_device_count());
    let paired_extra = format!(" ({}) · ● online ○ offline", s.paired.len());
    let allow_extra = format!(" ({})", s.allow.len());
    draw(f, rows[0], s, Pane::Dm, &dm_extra, dm, t);
    draw(f, rows[1], s, Pane::Devices, &dev_extra, dev, t);
    draw(f, bottom[0], s, Pane::Paired, &paired_extra, paired, t);
    draw(f, bottom[1], s, Pane::Allow, &allow_extra, allow, t);
}

/// Heights for panes wanting `want` lines out of `total`: everyone gets what
/// it wants when that fits (the rest stays empty below); otherwise each gets
/// up to four lines (a header and one row), then the remaining lines go one
/// at a time, round-robin from the focused pane, to the panes still short.
fn share(total: u16, want: [u16; 3], first: usize) -> [u16; 3] {
    if want.iter().sum::<u16>() <= total {
        return want;
    }
    let mut h = [0u16; 3];
    let mut left = total;
    for i in 0..3 {
        let take = want[i].min(4).min(left);
        h[i] = take;
        left -= take;
    }
    while left > 0 {
        let mut gave = false;
        for k in 0..3 {
            let i = (first + k) % 3;
            if left > 0 && h[i] < want[i] {
                h[i] += 1;
                left -= 1;
                gave = true;
            }
        }
        if !gave {
            break;
        }
    }
    h
}

fn block<'a>(p: Pane, s: &State, extra: &str, t: &Theme, borders: Borders) -> Block<'a> {
    let focused = s.focus == p;
    Block::default()
        .borders(borders)
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

/// Draws one pane: one line when empty, else a box with the header, the
/// window of lines that keeps the selected row in view, and the position.
fn draw(f: &mut Frame, area: Rect, s: &State, p: Pane, extra: &str, l: Listing, t: &Theme) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    if l.rows == 0 {
        let text = if s.filter.is_empty() {
            l.empty.clone()
        } else {
            "no matches for the filter".to_string()
        };
        if area.height < 3 {
            let title = format!("{extra} · {text}");
            f.render_widget(block(p, s, &title, t, Borders::TOP), area);
        } else {
            let blk = block(p, s, extra, t, Borders::ALL);
            f.render_widget(
                Paragraph::new(Line::styled(format!("  {text}"), t.dim)).block(blk),
                area,
            );
        }
        return;
    }
    let mut blk = block(p, s, extra, t, Borders::ALL);
    let inner_h = area.height.saturating_sub(2) as usize;
    let list_h = inner_h.saturating_sub(1);
    let start = match l.selected {
        Some((first, last)) => {
            let st = window_start(last, list_h);
            st.min(first)
        }
        None => 0,
    };
    let end = (start + list_h).min(l.len);
    if l.len > list_h && end > start {
        let label = format!(
            " {}–{} of {} ",
            (l.row_of)(start) + 1,
            (l.row_of)(end - 1) + 1,
            l.rows
        );
        blk = blk.title_bottom(Line::styled(label, t.dim).alignment(Alignment::Right));
    }
    let mut lines = Vec::with_capacity(list_h + 1);
    if inner_h > 0 {
        lines.push(l.header.clone());
    }
    lines.extend((start..end).map(|i| (l.line)(i)));
    f.render_widget(Paragraph::new(lines).block(blk), area);
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

fn header(cols: &[(&str, usize)], t: &Theme) -> Line<'static> {
    let mut text = String::from("  ");
    for (i, (name, w)) in cols.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(&fit(name, *w));
    }
    Line::styled(text.trim_end().to_string(), t.dim)
}

/// The cap of a DM group, worded for what it counts.
fn cap_spans(
    s: &State,
    channel: &str,
    account: Option<&str>,
    w: usize,
    head: usize,
    t: &Theme,
) -> Vec<Span<'static>> {
    let used = s.dm_pending_for_cap(channel, account);
    let per = match s.dm_cap {
        DmCap::PerChannel => "per channel",
        DmCap::PerAccount => "per account",
    };
    let mut spans = vec![Span::styled(
        format!("  {used}/{DM_MAX_PENDING} {per}"),
        t.header,
    )];
    if used >= DM_MAX_PENDING {
        let ch = clean(channel);
        let long = match s.dm_cap {
            DmCap::PerChannel => {
                format!("  ⚠ FULL: new {ch} senders are ignored until one expires or is decided")
            }
            DmCap::PerAccount => {
                "  ⚠ FULL: new senders to this account are ignored until one expires or is decided"
                    .to_string()
            }
        };
        let short = "  ⚠ FULL: new senders ignored".to_string();
        let used_w = head + spans[0].content.chars().count();
        spans.push(Span::styled(
            if used_w + long.chars().count() <= w {
                long
            } else {
                short
            },
            t.warn,
        ));
    }
    spans
}

fn dm_listing<'a>(s: &'a State, w: usize, t: &Theme) -> Listing<'a> {
    let visible: Vec<&Row<_>> = s.dm.iter().filter(|r| s.matches_dm(&r.item)).collect();
    let id_w = if w >= 100 { 22 } else { 14 };
    let fixed = 2 + id_w + 1 + 1 + 8 + 1 + 4 + 1 + 6 + 1;
    let rem = w.saturating_sub(fixed);
    let status_w = (rem / 2).min(19);
    let name_w = rem - status_w;
    let head = header(
        &[
            ("Sender", id_w),
            ("Name", name_w),
            ("Code", 8),
            ("Age", 4),
            ("Left", 6),
            ("Status", status_w),
        ],
        t,
    );
    let sel_key = s.selected_key(Pane::Dm);
    let mut lines = Vec::with_capacity(visible.len() * 2);
    let mut rows_of = Vec::with_capacity(visible.len() * 2);
    let mut selected = None;
    let mut group: Option<(String, String)> = None;
    for (i, row) in visible.iter().enumerate() {
        let r = &row.item;
        let g = (r.channel.clone(), r.account_label().to_string());
        // The first row of a group keeps its heading in view with it.
        let first_line = lines.len();
        if group.as_ref() != Some(&g) {
            let title = format!("{} · {}", clean(&g.0), clean(&g.1));
            let head_w = title.chars().count();
            let mut spans = vec![Span::styled(title, t.header)];
            spans.extend(cap_spans(s, &r.channel, r.account.as_deref(), w, head_w, t));
            lines.push(Line::from(spans));
            rows_of.push(i);
            group = Some(g);
        }
        let is_sel = sel_key == Some(&dm_key(r)) || (sel_key.is_none() && i == 0);
        if is_sel {
            selected = Some((first_line, lines.len()));
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
            Span::raw(marker(is_sel)),
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
        if is_sel && s.focus == Pane::Dm {
            line = line.patch_style(t.selected);
        }
        lines.push(line);
        rows_of.push(i);
    }
    let (len, line, row_of) = built(lines, rows_of);
    Listing {
        header: head,
        len,
        line,
        row_of,
        rows: visible.len(),
        selected,
        // A gateway without DM pairing RPCs: say why instead of looking empty.
        empty: match &s.dm_unavailable {
            Some(why) => clean(why),
            None => "No pending DM pairing requests".into(),
        },
    }
}

fn list(v: &[String]) -> String {
    v.iter().map(|x| clean(x)).collect::<Vec<_>>().join(",")
}

/// First-time / repair (key changed) / upgrade +role … +scope … / re-pair.
pub fn kind_text(kind: &RequestKind) -> String {
    match kind {
        RequestKind::FirstTime => "first-time".to_string(),
        RequestKind::Repair => "repair (key changed)".to_string(),
        RequestKind::Same => "re-pair".to_string(),
        RequestKind::Upgrade { roles, scopes } => {
            let mut parts: Vec<String> = roles
                .iter()
                .map(|r| format!("+role {}", clean(r)))
                .collect();
            parts.extend(scopes.iter().map(|x| format!("+scope {}", clean(x))));
            format!("upgrade {}", parts.join(" "))
        }
    }
}

fn devices_listing<'a>(s: &'a State, w: usize, t: &Theme) -> Listing<'a> {
    let visible: Vec<&Row<_>> = s
        .devices
        .iter()
        .filter(|r| s.matches_device(&r.item))
        .collect();
    let fixed = 2 + 1 + 9 + 1 + 23 + 1 + 4 + 1 + 6 + 1;
    let rem = w.saturating_sub(fixed);
    let status_w = (rem / 2).min(19);
    let name_w = rem - status_w;
    let head = header(
        &[
            ("Device", name_w),
            ("Platform", 9),
            ("Key", 23),
            ("Age", 4),
            ("Left", 6),
            ("Status", status_w),
        ],
        t,
    );
    let sel_key = s.selected_key(Pane::Devices);
    let mut lines = Vec::with_capacity(visible.len() * 2);
    let mut rows_of = Vec::with_capacity(visible.len() * 2);
    let mut selected = None;
    for (i, row) in visible.iter().enumerate() {
        let r = &row.item;
        let is_sel =
            sel_key == Some(&RowKey::Device(r.request_id.clone())) || (sel_key.is_none() && i == 0);
        let style = row_style(row, t);
        let name = r
            .display_name
            .as_deref()
            .or(r.client_id.as_deref())
            .map(clean)
            .unwrap_or_else(|| "(unnamed)".into());
        let mut spans = vec![
            Span::raw(marker(is_sel)),
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
        let kind = kind_text(&request_kind(r, paired));
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
        if is_sel && s.focus == Pane::Devices {
            line1 = line1.patch_style(t.selected);
            line2 = line2.patch_style(t.selected);
        }
        if is_sel {
            // Both lines of the selected request stay in view.
            selected = Some((lines.len(), lines.len() + 1));
        }
        lines.push(line1);
        lines.push(line2);
        rows_of.push(i);
        rows_of.push(i);
    }
    let (len, line, row_of) = built(lines, rows_of);
    Listing {
        header: head,
        len,
        line,
        row_of,
        rows: visible.len(),
        selected,
        empty: "No pending device pairing requests".into(),
    }
}

fn paired_listing<'a>(s: &'a State, w: usize, t: &Theme) -> Listing<'a> {
    // Only the rows in the window are formatted (10,000 devices stay cheap).
    let filtering = !s.filter.is_empty();
    let visible: Vec<&'a Row<_>> = if filtering {
        s.paired
            .iter()
            .filter(|r| s.matches_paired(&r.item))
            .collect()
    } else {
        s.paired.iter().collect()
    };
    let sel_idx = match s.selected_key(Pane::Paired) {
        Some(RowKey::Paired(id)) => visible
            .iter()
            .position(|r| &r.item.device_id == id)
            .unwrap_or(0),
        _ => 0,
    };
    let (name_w, roles_w) = match w {
        0..60 => (12, 10),
        60..90 => (14, 12),
        _ => (16, 14),
    };
    // Narrow panes keep the ●/○ marker and drop the word.
    let online_word = w >= 90;
    let mut cols = vec![
        ("  Name", name_w + 2),
        ("Roles", roles_w),
        ("Token", 8),
        ("Used", 8),
    ];
    if online_word {
        cols.push(("Online", 8));
    }
    cols.push(("Key", 19));
    let head = header(&cols, t);
    let focused = s.focus == Pane::Paired;
    let th = t.clone();
    let rows = visible.len();
    let line = move |i: usize| -> Line<'static> {
        let Some(row) = visible.get(i) else {
            return Line::default();
        };
        let p = &row.item;
        let is_sel = i == sel_idx;
        let online = s.online.contains(&p.device_id);
        let style = row_style(row, &th);
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
        let mut spans = vec![
            Span::raw(marker(is_sel)),
            if online {
                Span::styled("● ", th.online)
            } else {
                Span::styled("○ ", th.dim)
            },
            Span::styled(fit(&name, name_w), style),
            Span::raw(" "),
            Span::styled(fit(&list(&p.roles), roles_w), style),
            Span::raw(" "),
            Span::styled(
                fit(token, 8),
                if p.token_state == TokenState::Active {
                    th.ok
                } else {
                    th.warn
                },
            ),
            Span::raw(" "),
            Span::styled(fit(&used, 8), th.dim),
            Span::raw(" "),
        ];
        if row.status != RowStatus::Live {
            spans.push(status_span(row, Pane::Paired, 19, &th));
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
                    if online { th.online } else { th.dim },
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
                    th.warn,
                ));
            } else {
                spans.push(Span::styled(short_fingerprint(&p.device_id), th.dim));
            }
        }
        let mut line = Line::from(spans);
        if is_sel && focused {
            line = line.patch_style(th.selected);
        }
        line
    };
    Listing {
        header: head,
        len: rows,
        line: Box::new(line),
        row_of: Box::new(|i| i),
        rows,
        selected: (rows > 0).then_some((sel_idx, sel_idx)),
        empty: "No paired devices".into(),
    }
}

fn allow_listing<'a>(s: &'a State, w: usize, t: &Theme) -> Listing<'a> {
    let visible: Vec<&Row<_>> = s
        .allow
        .iter()
        .filter(|r| s.matches_allow(&r.item))
        .collect();
    let sel_key = s.selected_key(Pane::Allow);
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
    let entry_w = w.saturating_sub(2 + chan_w + 1);
    let head = header(&[("Account", chan_w), ("Sender", entry_w)], t);
    let mut lines = Vec::new();
    let mut selected = None;
    for (i, row) in visible.iter().enumerate() {
        let a = &row.item;
        let is_sel = sel_key == Some(&allow_key(a)) || (sel_key.is_none() && i == 0);
        if is_sel {
            selected = Some((lines.len(), lines.len()));
        }
        let chan = format!(
            "{}·{}",
            clean(&a.channel),
            clean(a.account.as_deref().unwrap_or("default"))
        );
        let style = row_style(row, t);
        let mut spans = vec![
            Span::raw(marker(is_sel)),
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
        if is_sel && s.focus == Pane::Allow {
            line = line.patch_style(t.selected);
        }
        lines.push(line);
    }
    let n = lines.len();
    let (len, line, row_of) = built(lines, (0..n).collect());
    Listing {
        header: head,
        len,
        line,
        row_of,
        rows: visible.len(),
        selected,
        empty: "No allow-list entries".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn panes_get_what_they_want_or_a_fair_share() {
        assert_eq!(share(20, [1, 7, 4], 0), [1, 7, 4]);
        // Too little: four each first, then round-robin from the focused pane.
        assert_eq!(share(14, [10, 10, 4], 1), [5, 5, 4]);
        assert_eq!(share(15, [10, 10, 4], 1), [5, 6, 4]);
        assert_eq!(share(6, [10, 10, 10], 0), [4, 2, 0]);
    }
}
