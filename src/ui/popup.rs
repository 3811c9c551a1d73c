//! Centered popups drawn over a `Clear`: help, confirmation, setup code.

use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::format::countdown;
use super::Theme;
use crate::app::keymap::{ModeKind, BINDINGS};
use crate::app::state::{Card, CardLive, Confirm, SetupPopup, State, ToastLevel};
use crate::sanitize::for_terminal as clean;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn frame_block<'a>(title: &str, t: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(t.border_focus)
        .title(Span::styled(format!(" {title} "), t.title_focus))
        .style(t.popup)
}

pub fn help(f: &mut Frame, area: Rect, t: &Theme) {
    let section = |mode: ModeKind, name: &'static str| {
        let mut lines = vec![Line::styled(name, t.header)];
        for b in BINDINGS.iter().filter(|b| b.mode == mode) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<8}", b.label), t.key),
                Span::raw(b.help),
            ]));
        }
        lines
    };
    let mut left = section(ModeKind::Normal, "Lists");
    left.extend(section(ModeKind::Card, "Approval card"));
    let mut right = section(ModeKind::Confirm, "Confirmation");
    right.extend(section(ModeKind::History, "History"));
    right.extend(section(ModeKind::SetupCode, "Setup code"));
    right.extend(section(ModeKind::Filter, "Filter"));
    right.push(Line::from(""));
    right.push(Line::styled("Esc, ? or q closes", t.dim));
    let h = (left.len().max(right.len()) as u16 + 2).min(area.height);
    let r = centered(area, 66, h);
    f.render_widget(Clear, r);
    let blk = frame_block("Keys", t);
    let inner = blk.inner(r);
    f.render_widget(blk, r);
    let half = inner.width / 2;
    let lrect = Rect {
        width: half,
        ..inner
    };
    let rrect = Rect {
        x: inner.x + half,
        width: inner.width - half,
        ..inner
    };
    f.render_widget(Paragraph::new(left), lrect);
    f.render_widget(Paragraph::new(right), rrect);
}

pub fn confirm(f: &mut Frame, area: Rect, s: &State, what: &Confirm, yes: bool, t: &Theme) {
    let verb = match what {
        Confirm::RejectDm(_) | Confirm::RejectDevice(_) => "Reject",
        Confirm::RemoveDevice(_) => "Remove",
        Confirm::RevokeAllow(_) => "Revoke",
    };
    let question = what.question_in(s);
    let (cancel_style, yes_style) = if yes {
        (t.button, t.button_active)
    } else {
        (t.button_active, t.button)
    };
    let (cancel_mark, yes_mark) = if yes { ("  ", "> ") } else { ("> ", "  ") };
    let lines = vec![
        Line::from(clean(&question)),
        Line::from(""),
        Line::from(vec![
            Span::styled(format!("{cancel_mark}[ Cancel ]"), cancel_style),
            Span::raw("   "),
            Span::styled(format!("{yes_mark}[ {verb} ]"), yes_style),
        ])
        .alignment(Alignment::Center),
        Line::from(""),
        Line::styled("←/→ switch · Enter choose · y yes · Esc cancel", t.dim)
            .alignment(Alignment::Center),
    ];
    // One line per 56 columns of question, plus the buttons and the hint.
    let rows = 7 + question.chars().count().div_ceil(56) as u16;
    let r = centered(area, 60, rows.max(8));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(frame_block("Confirm", t)),
        r,
    );
}

/// `label   value`, the value wrapped under itself.
fn fact(label: &str, value: &str, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let lw = 11;
    let vw = w.saturating_sub(lw + 2).max(10);
    super::wrap(value, vw)
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let l = if i == 0 { label } else { "" };
            Line::from(vec![
                Span::styled(format!(" {l:<width$} ", width = lw), t.dim),
                Span::raw(v),
            ])
        })
        .collect()
}

fn names(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.iter().map(|x| clean(x)).collect::<Vec<_>>().join(", ")
    }
}

/// The approval card: everything approving grants, as it was when the card
/// opened, and whether it is still so.
pub fn card(f: &mut Frame, area: Rect, s: &State, card: &Card, t: &Theme) {
    use crate::app::rows::{request_kind, RequestKind};
    use crate::devices::model::short_fingerprint;
    let w = area.width.clamp(20, 80) as usize - 2;
    let mut lines: Vec<Line> = Vec::new();
    let title;
    match card {
        Card::Dm(r) => {
            title = "Approve this DM sender?";
            let mut name = r.display_name().map(|n| clean(&n)).unwrap_or_default();
            if let Some(u) = r.username() {
                if !name.is_empty() {
                    name.push(' ');
                }
                name.push('@');
                name.push_str(&clean(u));
            }
            if name.is_empty() {
                name = "(no name given)".into();
            }
            let asked = match r.created_at_ms {
                Some(c) => format!("{} ago", super::format::age(s.now_ms - c)),
                None => "unknown".into(),
            };
            let left = r
                .remaining_ms(s.now_ms)
                .map(|ms| format!(" · expires in {}", countdown(ms)))
                .unwrap_or_default();
            lines.extend(fact("Channel", &clean(&r.channel), w, t));
            lines.extend(fact("Account", &clean(r.account_label()), w, t));
            lines.extend(fact("Sender id", &clean(&r.id), w, t));
            lines.extend(fact("Name", &name, w, t));
            lines.extend(fact("Code", &clean(&r.code), w, t));
            lines.extend(fact("Asked", &format!("{asked}{left}"), w, t));
            lines.push(Line::from(""));
            lines.extend(fact(
                "Grants",
                &format!(
                    "{} may message the bot on {} (account {}) from now on",
                    clean(&r.id),
                    clean(&r.channel),
                    clean(r.account_label())
                ),
                w,
                t,
            ));
        }
        Card::Device { request: r, .. } if r.surface.is_some() => {
            // OpenClaw 2026.9's second approval: what the paired node may run.
            let surface = r.surface.clone().unwrap_or_default();
            title = "Approve this node's capabilities?";
            lines.extend(fact(
                "Node",
                &clean(r.display_name.as_deref().unwrap_or("(unnamed)")),
                w,
                t,
            ));
            lines.extend(fact("Node id", &clean(&r.device_id), w, t));
            lines.extend(fact("Key", &short_fingerprint(&r.device_id), w, t));
            lines.extend(fact("Commands", &names(&surface.commands), w, t));
            lines.extend(fact("Capabilities", &names(&surface.caps), w, t));
            if let Some(v) = &surface.version {
                lines.extend(fact("Version", &clean(v), w, t));
            }
            lines.extend(fact(
                "Approval needs",
                &match surface.required_scopes.is_empty() {
                    true => "operator.pairing".to_string(),
                    false => names(&surface.required_scopes),
                },
                w,
                t,
            ));
            lines.extend(fact(
                "From",
                &match &r.remote_ip {
                    Some(ip) => clean(ip),
                    None => "not given".into(),
                },
                w,
                t,
            ));
            lines.extend(fact(
                "Asked",
                &format!("{} ago", super::format::age(s.now_ms - r.ts)),
                w,
                t,
            ));
        }
        Card::Device { request: r, paired } => {
            title = "Approve this device?";
            let kind = request_kind(r, paired.as_deref());
            let kind_text = match &kind {
                RequestKind::FirstTime => "first-time: this device has never been paired".into(),
                RequestKind::Repair => {
                    "repair: a known device presents a NEW KEY (key changed); approve only if you replaced or reset it".into()
                }
                RequestKind::Same => "re-pair: it asks for nothing it does not hold".into(),
                other => super::panes::kind_text(other),
            };
            let client = match (&r.client_id, &r.client_mode) {
                (Some(c), Some(m)) => format!("{} ({})", clean(c), clean(m)),
                (Some(c), None) => clean(c),
                (None, Some(m)) => format!("({})", clean(m)),
                (None, None) => "not given".into(),
            };
            lines.extend(fact(
                "Device",
                &clean(r.display_name.as_deref().unwrap_or("(unnamed)")),
                w,
                t,
            ));
            lines.extend(fact(
                "Platform",
                &clean(r.platform.as_deref().unwrap_or("not given")),
                w,
                t,
            ));
            lines.extend(fact("Client", &client, w, t));
            lines.extend(fact("Key", &short_fingerprint(&r.device_id), w, t));
            lines.extend(fact("Device id", &clean(&r.device_id), w, t));
            lines.extend(fact("Kind", &kind_text, w, t));
            lines.extend(fact(
                "Asks for",
                &format!("roles {} · scopes {}", names(&r.roles), names(&r.scopes)),
                w,
                t,
            ));
            lines.extend(fact(
                "Holds",
                &match paired {
                    Some(p) => format!("roles {} · scopes {}", names(&p.roles), names(&p.scopes)),
                    None => "nothing yet".into(),
                },
                w,
                t,
            ));
            lines.extend(fact(
                "From",
                &match &r.remote_ip {
                    Some(ip) => clean(ip),
                    None => "this machine (no remote address recorded)".into(),
                },
                w,
                t,
            ));
            lines.extend(fact(
                "Asked",
                &format!(
                    "{} ago · expires in {}",
                    super::format::age(s.now_ms - r.ts),
                    countdown(r.remaining_ms(s.now_ms))
                ),
                w,
                t,
            ));
        }
    }
    lines.push(Line::from(""));
    match s.card_live(card) {
        CardLive::Same => {}
        CardLive::Busy => lines.push(Line::styled(" working on it…", t.warn)),
        CardLive::Changed => lines.extend(super::styled_wrap(
            " ⚠ ",
            "This request changed since the card opened; y shows it again as it is now.",
            t.warn,
            w,
            3,
        )),
        CardLive::Gone(why) => lines.extend(super::styled_wrap(
            " ✗ ",
            &format!("Nothing to approve: {why}."),
            t.error,
            w,
            3,
        )),
    }
    lines.push(Line::styled(
        " y/Enter approve as shown · Esc cancel",
        t.dim,
    ));
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = centered(area, w as u16 + 2, h);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(frame_block(title, t)), r);
}

/// The setup code popup. It takes the whole screen, and the code is drawn
/// on rows of its own with no border or QR character beside it, so a mouse
/// selection of those rows copies the code whole.
pub fn setup_code(f: &mut Frame, area: Rect, s: &State, p: &SetupPopup, t: &Theme) {
    match p {
        SetupPopup::Issuing => {
            let r = centered(area, 40, 5);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new("Issuing a setup code…").block(frame_block("Setup code", t)),
                r,
            );
        }
        SetupPopup::Failed(e) => {
            let r = centered(area, 60, 7);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(vec![
                    Line::styled(format!("✗ {}", clean(e)), t.error),
                    Line::from(""),
                    Line::styled("Esc closes", t.dim),
                ])
                .wrap(Wrap { trim: false })
                .block(frame_block("Setup code", t)),
                r,
            );
        }
        SetupPopup::Ready { code, qr, as_text } => ready(f, area, s, code, qr, *as_text, t),
    }
}

/// The code on rows of its own: one centred row when it fits, else
/// full-width rows from column 0 (so the selection holds nothing else).
fn draw_code(f: &mut Frame, area: Rect, y: u16, code: &str, t: &Theme) -> u16 {
    let aw = area.width.max(1) as usize;
    let chars: Vec<char> = code.chars().collect();
    let rows: Vec<Line> = chars
        .chunks(aw)
        .map(|c| Line::styled(c.iter().collect::<String>(), t.code))
        .collect();
    let h = (rows.len() as u16).min(area.height.saturating_sub(y - area.y));
    let (x, w) = if rows.len() == 1 {
        let len = chars.len() as u16;
        (area.x + (area.width - len) / 2, len)
    } else {
        (area.x, area.width)
    };
    f.render_widget(Paragraph::new(rows), Rect::new(x, y, w, h));
    h
}

fn info_height(info: &[Line], w: u16) -> u16 {
    info.iter()
        .map(|l| (l.width() as u16).div_ceil(w.max(1)).max(1))
        .sum()
}

fn ready(
    f: &mut Frame,
    area: Rect,
    s: &State,
    code: &crate::app::rows::SetupCode,
    qr: &[String],
    as_text: bool,
    t: &Theme,
) {
    f.render_widget(Clear, area);
    f.render_widget(Block::default().style(t.popup), area);
    let remaining = code.expires_at_ms - s.now_ms;
    let code_h = (code.code.chars().count() as u16).div_ceil(area.width.max(1));
    let qr_w = qr.first().map_or(0, |l| l.chars().count()) as u16;
    let qr_h = qr.len() as u16;
    let mut info: Vec<Line> = vec![
        Line::styled("Setup code", t.title_focus),
        Line::from(vec![
            Span::styled("gateway ", t.dim),
            Span::raw(clean(&code.url)),
        ]),
    ];
    if remaining > 0 {
        info.push(Line::from(vec![
            Span::raw("expires in "),
            Span::styled(countdown(remaining), t.soon),
        ]));
    } else {
        info.push(Line::styled("EXPIRED: Esc, then s for a new one", t.error));
    }
    let toast = s.toasts.last().map(|toast| {
        // The popup covers the message line; repeat the latest outcome here.
        let (mark, style) = match toast.level {
            ToastLevel::Info => ("✓ ", t.ok),
            ToastLevel::Error => ("✗ ", t.error),
        };
        Line::styled(format!("{mark}{}", clean(&toast.text)), style)
    });
    let qr_lines = || -> Vec<Line> {
        qr.iter()
            .map(|l| Line::from(Span::styled(l.clone(), t.qr)))
            .collect()
    };
    let side_w = area.width.saturating_sub(qr_w + 2).min(44);
    let both = |info: &[Line]| -> Option<(u16, bool)> {
        if qr_w == 0 {
            return None;
        }
        if side_w >= 24 {
            let top = qr_h.max(info_height(info, side_w));
            if top + 1 + code_h <= area.height {
                return Some((top, true));
            }
        }
        let ih = info_height(info, area.width);
        (qr_w <= area.width && ih + qr_h + 1 + code_h <= area.height).then_some((ih, false))
    };
    let mut with_code = info.clone();
    with_code.push(Line::styled(
        "scan the QR, or select the code below with the mouse; c copies it",
        t.dim,
    ));
    with_code.push(Line::styled("c copy · Esc close", t.dim));
    with_code.extend(toast.clone());
    // 1. The QR and the code both fit (the text beside or above the QR).
    if let (false, Some((top, beside))) = (as_text, both(&with_code)) {
        if beside {
            let total = top + 1 + code_h;
            let y0 = area.y + (area.height - total) / 2;
            let x0 = area.x + (area.width - (qr_w + 2 + side_w)) / 2;
            f.render_widget(Paragraph::new(qr_lines()), Rect::new(x0, y0, qr_w, qr_h));
            f.render_widget(
                Paragraph::new(with_code).wrap(Wrap { trim: false }),
                Rect::new(x0 + qr_w + 2, y0, side_w, top),
            );
            draw_code(f, area, y0 + top + 1, &code.code, t);
        } else {
            let total = top + qr_h + 1 + code_h;
            let y0 = area.y + (area.height - total) / 2;
            f.render_widget(
                Paragraph::new(with_code).wrap(Wrap { trim: false }),
                Rect::new(area.x, y0, area.width, top),
            );
            f.render_widget(
                Paragraph::new(qr_lines()),
                Rect::new(area.x + (area.width - qr_w) / 2, y0 + top, qr_w, qr_h),
            );
            draw_code(f, area, y0 + top + qr_h + 1, &code.code, t);
        }
        return;
    }
    // 2. Not both: the QR with the text beside it (the code is one key away,
    // never beside the QR where a selection would take QR cells with it).
    if !as_text && qr_w > 0 && side_w >= 24 && qr_h <= area.height {
        let mut side = info.clone();
        side.push(Line::from(""));
        side.push(Line::styled(
            "v shows the code as text, for a mouse selection",
            t.dim,
        ));
        side.push(Line::styled("c copy · Esc close", t.dim));
        side.extend(toast);
        let y0 = area.y + (area.height - qr_h) / 2;
        let x0 = area.x + (area.width - (qr_w + 2 + side_w)) / 2;
        f.render_widget(Paragraph::new(qr_lines()), Rect::new(x0, y0, qr_w, qr_h));
        f.render_widget(
            Paragraph::new(side).wrap(Wrap { trim: false }),
            Rect::new(x0 + qr_w + 2, y0, side_w, qr_h),
        );
        return;
    }
    // 3. The code as text alone.
    let mut text = info;
    text.push(Line::styled(
        "select the code below with the mouse, or press c to copy it",
        t.dim,
    ));
    if qr_w > 0 {
        text.push(Line::styled("v shows the QR · Esc close", t.dim));
    } else {
        text.push(Line::styled("Esc close", t.dim));
    }
    text.extend(toast);
    let ih = info_height(&text, area.width);
    let total = ih + 1 + code_h;
    let y0 = area.y + area.height.saturating_sub(total) / 2;
    f.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }),
        Rect::new(area.x, y0, area.width, ih.min(area.height)),
    );
    let y = (y0 + ih + 1).min(area.y + area.height.saturating_sub(code_h));
    draw_code(f, area, y, &code.code, t);
}
