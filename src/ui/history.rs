//! The History view (`h`): the latest decisions from the audit log, newest
//! first, with who made them and where.

use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};
use ratatui::Frame;

use super::{fit, Theme};
use crate::app::state::State;
use crate::audit::{Outcome, Record, Via};
use crate::sanitize::for_terminal as clean;

/// `12:00:05` today, else `03-01 12:00`.
fn when(r: &Record, now_ms: i64) -> String {
    let Some(t) = r.ts_ms() else {
        return "?".into();
    };
    let iso = crate::clock::format_iso_ms(t);
    let today = crate::clock::format_iso_ms(now_ms);
    if iso[..10] == today[..10] {
        iso[11..19].to_string()
    } else {
        format!("{} {}", &iso[5..10], &iso[11..16])
    }
}

fn made(r: &Record) -> String {
    match (r.via, r.observed_by) {
        (Via::Elsewhere, Some(by)) => format!("elsewhere, seen by {}", by.as_str()),
        (v, _) => v.as_str().to_string(),
    }
}

pub fn view(f: &mut Frame, area: Rect, s: &State, scroll: usize, t: &Theme) {
    let w = area.width.saturating_sub(2) as usize;
    let inner_h = area.height.saturating_sub(2) as usize;
    let list_h = inner_h.saturating_sub(1);
    let n = s.history.len();
    let title = format!(" ▶ Decision history ({n}) · newest first ");
    let mut blk = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Thick)
        .border_style(t.border_focus)
        .title(Span::styled(title, t.title_focus));
    if !s.history_loaded {
        f.render_widget(
            Paragraph::new(Line::styled("  Reading the decision history…", t.dim)).block(blk),
            area,
        );
        return;
    }
    if n == 0 {
        let mut lines = vec![Line::styled(
            "  No decisions recorded yet. Every approval, rejection, removal, revocation and setup code is listed here, wherever it was made.",
            t.dim,
        )];
        if let Some(e) = &s.history_error {
            lines.push(Line::styled(format!("  ⚠ {}", clean(e)), t.warn));
        }
        f.render_widget(
            Paragraph::new(lines)
                .wrap(ratatui::widgets::Wrap { trim: false })
                .block(blk),
            area,
        );
        return;
    }
    // Two lines per decision, so nothing is cut: what and about whom, then
    // where it was made, by whom, and how it ended.
    let per_page = (list_h / 2).max(1);
    let start = scroll.min(n.saturating_sub(1));
    let end = (start + per_page).min(n);
    if n > per_page {
        blk = blk.title_bottom(
            Line::styled(format!(" {}–{} of {n} ", start + 1, end), t.dim)
                .alignment(Alignment::Right),
        );
    }
    let time_w = 11;
    let action_w = 19;
    let subject_w = w.saturating_sub(2 + time_w + 1 + action_w + 1).max(10);
    let mut lines = vec![Line::styled(
        format!(
            "  {} {} {}",
            fit("Time", time_w),
            fit("Action", action_w),
            "Subject · made where, by whom, result"
        ),
        t.dim,
    )];
    let indent = 2 + time_w + 1;
    for r in s.history.iter().rev().skip(start).take(end - start) {
        let (result, rstyle) = match &r.result {
            Outcome::Ok => ("ok".to_string(), t.ok),
            Outcome::Failed => (
                format!("failed: {}", clean(r.detail.as_deref().unwrap_or(""))),
                t.error,
            ),
        };
        lines.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(fit(&when(r, s.now_ms), time_w), t.dim),
            Span::raw(" "),
            Span::styled(fit(r.action.as_str(), action_w), t.header),
            Span::raw(" "),
            Span::raw(fit(&r.subject.describe(), subject_w)),
        ]));
        let place = format!("{} · {} · ", made(r), clean(&r.user));
        let rest = w.saturating_sub(indent + place.chars().count());
        lines.push(Line::from(vec![
            Span::raw(" ".repeat(indent)),
            Span::styled(
                place,
                if r.via == Via::Elsewhere {
                    t.dim
                } else {
                    t.base
                },
            ),
            Span::styled(fit(&result, rest), rstyle),
        ]));
    }
    if s.history_damaged > 0 && lines.len() < inner_h {
        lines.push(Line::styled(
            format!(
                "  ({} damaged line(s) in the log were skipped)",
                s.history_damaged
            ),
            t.warn,
        ));
    }
    f.render_widget(Paragraph::new(lines).block(blk), area);
}
