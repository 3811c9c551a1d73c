//! Centered popups drawn over a `Clear`: help, confirmation, setup code.

use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::Theme;
use crate::app::keymap::{ModeKind, BINDINGS};
use crate::app::state::{Confirm, SetupPopup, State};
use crate::app::view::countdown;
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
    let sections = [
        (ModeKind::Normal, "Lists"),
        (ModeKind::Confirm, "Confirmation"),
        (ModeKind::SetupCode, "Setup code"),
        (ModeKind::Filter, "Filter"),
    ];
    let mut lines = Vec::new();
    for (mode, name) in sections {
        lines.push(Line::styled(name, t.header));
        for b in BINDINGS.iter().filter(|b| b.mode == mode) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<8}", b.label), t.key),
                Span::raw(b.help),
            ]));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::styled("Esc, ? or q closes this help", t.dim));
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = centered(area, 44, h);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(frame_block("Keys", t)), r);
}

pub fn confirm(f: &mut Frame, area: Rect, s: &State, what: &Confirm, yes: bool, t: &Theme) {
    let verb = match what {
        Confirm::RejectDm(_) | Confirm::RejectDevice(_) => "Reject",
        Confirm::RemoveDevice(_) => "Remove",
        Confirm::RevokeAllow(_) => "Revoke",
    };
    let _ = s;
    let (cancel_style, yes_style) = if yes {
        (t.button, t.button_active)
    } else {
        (t.button_active, t.button)
    };
    let (cancel_mark, yes_mark) = if yes { ("  ", "> ") } else { ("> ", "  ") };
    let lines = vec![
        Line::from(clean(&what.question())),
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
    let r = centered(area, 60, 8);
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
            let text_w = area.width.saturating_sub(4).min(76);
            // Lines: url, code (wrapped), expiry, hint.
            let code_rows = (code.code.len() as u16).div_ceil(text_w.max(1));
            let info_h = 1 + code_rows + 2;
            let fits_qr =
                qr_w > 0 && qr_w + 2 <= area.width && qr.len() as u16 + info_h + 2 <= area.height;
            let h = if fits_qr {
                qr.len() as u16 + info_h + 2
            } else {
                info_h + 4
            };
            let w = if fits_qr {
                (qr_w + 2).max(text_w + 2)
            } else {
                text_w + 2
            };
            let r = centered(area, w, h);
            f.render_widget(Clear, r);
            let mut lines: Vec<Line> = Vec::new();
            if fits_qr {
                for l in qr {
                    lines.push(
                        Line::from(Span::styled(l.clone(), t.qr)).alignment(Alignment::Center),
                    );
                }
            }
            lines.push(Line::from(vec![
                Span::styled("gateway ", t.dim),
                Span::raw(clean(&code.url)),
            ]));
            lines.push(Line::styled(code.code.clone(), t.code));
            if remaining > 0 {
                lines.push(Line::from(vec![
                    Span::raw("expires in "),
                    Span::styled(countdown(remaining), t.soon),
                ]));
            } else {
                lines.push(Line::styled(
                    "EXPIRED: press Esc, then s for a new one",
                    t.error,
                ));
            }
            if !fits_qr {
                lines.push(Line::styled(
                    format!(
                        "(enlarge the terminal to {}×{} to see the QR code)",
                        qr_w + 2,
                        qr.len() as u16 + info_h + 2
                    ),
                    t.dim,
                ));
            }
            lines.push(Line::styled("c copy · Esc close", t.dim));
            f.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(frame_block("Setup code", t)),
                r,
            );
        }
    }
}
