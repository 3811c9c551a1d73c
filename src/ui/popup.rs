//! Centered popups drawn over a `Clear`: help, confirmation, setup code.

use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::format::countdown;
use super::Theme;
use crate::app::keymap::{ModeKind, BINDINGS};
use crate::app::state::{Confirm, SetupPopup, State, ToastLevel};
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
                Span::styled(format!("  {:<7}", b.label), t.key),
                Span::raw(b.help),
            ]));
        }
        lines
    };
    let left = section(ModeKind::Normal, "Lists");
    let mut right = section(ModeKind::Confirm, "Confirmation");
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
        SetupPopup::Ready { code, qr } => {
            let remaining = code.expires_at_ms - s.now_ms;
            let qr_w = qr.first().map_or(0, |l| l.chars().count()) as u16;
            let qr_h = qr.len() as u16;
            let mut info: Vec<Line> = vec![
                Line::from(vec![
                    Span::styled("gateway ", t.dim),
                    Span::raw(clean(&code.url)),
                ]),
                Line::styled(code.code.clone(), t.code),
            ];
            if remaining > 0 {
                info.push(Line::from(vec![
                    Span::raw("expires in "),
                    Span::styled(countdown(remaining), t.soon),
                ]));
            } else {
                info.push(Line::styled("EXPIRED: Esc, then s for a new one", t.error));
            }
            info.push(Line::styled("c copy · Esc close", t.dim));
            if let Some(toast) = s.toasts.last() {
                // The popup may cover the toast line; repeat the latest outcome here.
                let (mark, style) = match toast.level {
                    ToastLevel::Info => ("✓ ", t.ok),
                    ToastLevel::Error => ("✗ ", t.error),
                };
                info.push(Line::styled(format!("{mark}{}", clean(&toast.text)), style));
            }
            let code_len = code.code.chars().count() as u16;
            // 1. QR above the text; 2. QR beside the text; 3. text only.
            let text_w = area.width.saturating_sub(4).clamp(20, 76);
            let stacked_h = qr_h + 1 + 3 + code_len.div_ceil(text_w) + 2;
            let side_text_w = area.width.saturating_sub(qr_w + 5).min(40);
            let side_h = qr_h.max(3 + code_len.div_ceil(side_text_w.max(1)) + 1) + 2;
            let qr_lines = || -> Vec<Line> {
                qr.iter()
                    .map(|l| Line::from(Span::styled(l.clone(), t.qr)))
                    .collect()
            };
            if qr_w > 0 && qr_w + 2 <= area.width && stacked_h <= area.height {
                let w = (qr_w.max(text_w) + 2).min(area.width);
                let r = centered(area, w, stacked_h);
                f.render_widget(Clear, r);
                let mut lines: Vec<Line> = qr_lines()
                    .into_iter()
                    .map(|l| l.alignment(Alignment::Center))
                    .collect();
                lines.push(Line::from(""));
                lines.extend(info);
                f.render_widget(
                    Paragraph::new(lines)
                        .wrap(Wrap { trim: false })
                        .block(frame_block("Setup code", t)),
                    r,
                );
            } else if qr_w > 0 && side_text_w >= 20 && side_h <= area.height {
                let w = qr_w + 1 + side_text_w + 2;
                let r = centered(area, w, side_h);
                f.render_widget(Clear, r);
                let blk = frame_block("Setup code", t);
                let inner = blk.inner(r);
                f.render_widget(blk, r);
                let qrect = Rect {
                    width: qr_w,
                    ..inner
                };
                let trect = Rect {
                    x: inner.x + qr_w + 1,
                    width: inner.width.saturating_sub(qr_w + 1),
                    ..inner
                };
                f.render_widget(Paragraph::new(qr_lines()), qrect);
                f.render_widget(Paragraph::new(info).wrap(Wrap { trim: false }), trect);
            } else if qr_w > 0 && qr_h <= area.height && qr_w + 21 <= area.width {
                // Tight terminal (80×24): the whole screen, no border; the
                // quiet zone is the frame.
                f.render_widget(Clear, area);
                let y = area.y + (area.height - qr_h) / 2;
                let qrect = Rect {
                    x: area.x,
                    y,
                    width: qr_w,
                    height: qr_h,
                };
                let trect = Rect {
                    x: area.x + qr_w + 1,
                    y: area.y + 1,
                    width: area.width - qr_w - 1,
                    height: area.height.saturating_sub(1),
                };
                f.render_widget(Paragraph::new(qr_lines()), qrect);
                let mut lines = vec![Line::styled("Setup code", t.title_focus), Line::from("")];
                lines.extend(info);
                f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), trect);
            } else {
                info.push(Line::styled(
                    format!(
                        "(a terminal of {}×{} shows the QR code)",
                        qr_w + 2,
                        stacked_h
                    ),
                    t.dim,
                ));
                let h = (info.len() as u16 + code_len.div_ceil(text_w) + 2).min(area.height);
                let r = centered(area, text_w + 2, h);
                f.render_widget(Clear, r);
                f.render_widget(
                    Paragraph::new(info)
                        .wrap(Wrap { trim: false })
                        .block(frame_block("Setup code", t)),
                    r,
                );
            }
        }
    }
}
