//! Pure rendering of `&State`: nothing here changes the model or reads the
//! clock; every duration is computed from `state.now_ms`.
//!
//! The screen, top to bottom: the status line; alerts (load errors, a dead
//! task), wrapped so the fix they suggest is always shown; the body (the four
//! panes sized to their content, the History view, or the first-run panel);
//! the message line (the latest toast, wrapped); the footer (wrapped).

pub mod firstrun;
pub mod format;
pub mod history;
pub mod panes;
pub mod popup;
pub mod theme;

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::app::keymap::{footer, ModeKind};
use crate::app::rows::GatewayStatus;
use crate::app::state::{Mode, Pane, State, ToastLevel};
pub use theme::Theme;

/// At most this many lines of alerts and of the message, so the lists keep
/// the screen (six lines hold any message clawpair writes, 80 columns wide).
const MAX_MESSAGE_LINES: usize = 6;

/// Draws the whole console.
pub fn render(f: &mut Frame, s: &State, t: &Theme) {
    let area = f.area();
    let w = area.width as usize;
    let alerts = alert_lines(s, w, t);
    let message = message_lines(s, w, t);
    let foot = footer_lines(s, w, t);
    // The body keeps at least 3 lines; alerts and messages give way first.
    let room = (area.height as usize).saturating_sub(1 + foot.len() + 3);
    let alerts_h = alerts.len().min(room);
    let message_h = message.len().min(room.saturating_sub(alerts_h)).max(1);
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Length(alerts_h as u16),
            Constraint::Min(3),
            Constraint::Length(message_h as u16),
            Constraint::Length(foot.len() as u16),
        ])
        .split(area);
    status_line(f, rows[0], s, t);
    f.render_widget(Paragraph::new(alerts), rows[1]);
    match &s.mode {
        Mode::History { scroll } => history::view(f, rows[2], s, *scroll, t),
        _ if s.is_first_run() => firstrun::panel(f, rows[2], s, t),
        _ => panes::body(f, rows[2], s, t),
    }
    f.render_widget(Paragraph::new(message), rows[3]);
    f.render_widget(Paragraph::new(foot), rows[4]);
    match &s.mode {
        Mode::Help => popup::help(f, area, t),
        Mode::Confirm { what, yes } => popup::confirm(f, area, s, what, *yes, t),
        Mode::Card(card) => popup::card(f, area, s, card, t),
        Mode::SetupCode(p) => popup::setup_code(f, area, s, p, t),
        Mode::Normal | Mode::Filter | Mode::History { .. } => {}
    }
}

fn status_line(f: &mut Frame, area: Rect, s: &State, t: &Theme) {
    let gw = match &s.gateway {
        GatewayStatus::Disabled => "gateway off".to_string(),
        GatewayStatus::Starting { addr } => format!("gateway {addr} starting"),
        GatewayStatus::Listening { addr } => match &s.gateway_tls {
            None => format!("gateway {addr} listening"),
            Some(fp) => format!(
                "gateway wss://{addr} listening, TLS sha256 {}…",
                fp.get(..16).unwrap_or(fp)
            ),
        },
        GatewayStatus::PortBusy { addr, .. } => format!("gateway {addr} PORT BUSY"),
        GatewayStatus::Stopped => "gateway stopped".to_string(),
        GatewayStatus::OpenClawOwns { port, reachable } => {
            crate::statedb::LocalGateway::status_text(*port, *reachable)
        }
    };
    let online = s.online.len();
    if let Some(r) = &s.remote {
        return remote_status_line(f, area, s, r, t);
    }
    let dir = crate::sanitize::for_terminal(&s.state_dir);
    let (dm, dev, paired, allow) = (
        s.live_dm_count(),
        s.live_device_count(),
        s.paired.len(),
        s.allow.len(),
    );
    // The gateway state, counts, and the state dir (cut first). Errors are
    // not here: they get their own lines below, whole.
    let mark = if alert_texts(s).is_empty() {
        ""
    } else {
        "⚠ "
    };
    let text = if area.width >= 110 {
        format!(
            " clawpair │ {mark}{gw} │ DM {dm} · devices {dev} · paired {paired} ({online} online) · allowed {allow} │ {dir}"
        )
    } else {
        let gw = gw.strip_prefix("gateway ").unwrap_or(&gw).to_string();
        let gw = if matches!(s.gateway, GatewayStatus::Disabled | GatewayStatus::Stopped) {
            format!("gateway {gw}")
        } else {
            gw
        };
        format!(
            " {mark}{gw} │ DM {dm} · dev {dev} · paired {paired} ({online} on) · allow {allow} │ {dir}"
        )
    };
    let line = Line::from(fit(&text, area.width as usize));
    f.render_widget(Paragraph::new(line).style(t.status), area);
}

/// The problems to show under the status line: a dead task, load errors, a
/// decision that could not be recorded.
fn alert_texts(s: &State) -> Vec<String> {
    let mut v = Vec::new();
    for e in [&s.task_error, &s.dm_error, &s.devices_error]
        .into_iter()
        .flatten()
    {
        v.push(e.clone());
    }
    if let Some(e) = &s.history_error {
        v.push(format!("decisions are not being recorded: {e}"));
    }
    v
}

fn alert_lines(s: &State, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for text in alert_texts(s) {
        let clean = crate::sanitize::for_terminal(&text);
        for (i, l) in wrap(&clean, w.saturating_sub(3).max(10))
            .into_iter()
            .enumerate()
        {
            let lead = if i == 0 { " ⚠ " } else { "   " };
            out.push(Line::from(vec![
                Span::styled(lead, t.error),
                Span::styled(l, t.warn),
            ]));
        }
    }
    let keep = MAX_MESSAGE_LINES.max(1);
    if out.len() > keep {
        out.truncate(keep);
    }
    out
}

/// The status line of a console attached to a gateway: what it is attached
/// to, where the connection stands, what it may do, then the counts.
fn remote_status_line(
    f: &mut Frame,
    area: Rect,
    s: &State,
    r: &crate::app::rows::RemoteStatus,
    t: &Theme,
) {
    let remote = crate::sanitize::for_terminal(&r.line());
    // Load errors get their own lines below; offline, the line itself says why.
    let mark = if r.is_connected() && !alert_texts(s).is_empty() {
        "⚠ "
    } else {
        ""
    };
    let counts = format!(
        "DM {} · devices {} · paired {}",
        s.live_dm_count(),
        s.live_device_count(),
        s.paired.len()
    );
    let text = format!(" {mark}{remote} │ {counts}");
    let style = match r.state {
        crate::app::rows::RemoteState::Connected => t.status,
        _ => t.status.patch(t.warn),
    };
    f.render_widget(
        Paragraph::new(Line::from(fit(&text, area.width as usize))).style(style),
        area,
    );
}

/// The latest toast, or the filter, wrapped to the width: never cut before
/// the fix it suggests.
fn message_lines(s: &State, w: usize, t: &Theme) -> Vec<Line<'static>> {
    if s.mode == Mode::Filter {
        return vec![Line::from(vec![
            Span::styled(" filter /", t.key),
            Span::raw(crate::sanitize::for_terminal(&s.filter)),
            Span::styled("▏", t.key),
        ])];
    }
    if let Some(toast) = s.toasts.last() {
        let (mark, style) = match toast.level {
            ToastLevel::Info => (" ✓ ", t.ok),
            ToastLevel::Error => (" ✗ ", t.error),
        };
        return styled_wrap(mark, &toast.text, style, w, MAX_MESSAGE_LINES);
    }
    if !s.filter.is_empty() {
        return vec![Line::from(vec![
            Span::styled(" filter: ", t.dim),
            Span::raw(crate::sanitize::for_terminal(&s.filter)),
            Span::styled("  (Esc clears)", t.dim),
        ])];
    }
    vec![Line::from("")]
}

/// `lead` then `text` wrapped under it, in `style`, at most `max` lines.
pub fn styled_wrap(
    lead: &str,
    text: &str,
    style: Style,
    w: usize,
    max: usize,
) -> Vec<Line<'static>> {
    let indent = UnicodeWidthStr::width(lead);
    let clean = crate::sanitize::for_terminal(text);
    wrap(&clean, w.saturating_sub(indent).max(10))
        .into_iter()
        .take(max)
        .enumerate()
        .map(|(i, l)| {
            let head = if i == 0 {
                lead.to_string()
            } else {
                " ".repeat(indent)
            };
            Line::from(vec![Span::styled(head, style), Span::styled(l, style)])
        })
        .collect()
}

fn footer_lines(s: &State, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let mode = ModeKind::of(&s.mode);
    let entries = footer(mode, s.focus);
    let natural: usize = entries
        .iter()
        .map(|(l, h)| UnicodeWidthStr::width(*l) + 1 + UnicodeWidthStr::width(*h) + 2)
        .sum::<usize>()
        + 1;
    // Two spaces between entries when they fit on one line, else one, and
    // wrap onto a second line only if even that does not fit.
    let gap = if natural <= w { "  " } else { " " };
    let mut lines = Vec::new();
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (label, help) in entries {
        let len = UnicodeWidthStr::width(label) + 1 + UnicodeWidthStr::width(help) + gap.len();
        if used + len > w && spans.len() > 1 {
            lines.push(Line::from(std::mem::replace(
                &mut spans,
                vec![Span::raw(" ")],
            )));
            used = 1;
        }
        spans.push(Span::styled(label, t.key));
        spans.push(Span::raw(format!(" {help}{gap}")));
        used += len;
    }
    lines.push(Line::from(spans));
    lines.truncate(2);
    lines
}

/// Word-wraps `s` to `w` display columns (a word longer than a line is cut hard).
pub fn wrap(s: &str, w: usize) -> Vec<String> {
    let w = w.max(1);
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0;
    for word in s.split(' ') {
        let ww = UnicodeWidthStr::width(word);
        if cur_w > 0 && cur_w + 1 + ww > w {
            lines.push(std::mem::take(&mut cur));
            cur_w = 0;
        }
        if cur_w > 0 {
            cur.push(' ');
            cur_w += 1;
        }
        for c in word.chars() {
            let cw = UnicodeWidthChar::width(c).unwrap_or(0);
            if cur_w + cw > w {
                lines.push(std::mem::take(&mut cur));
                cur_w = 0;
            }
            cur.push(c);
            cur_w += cw;
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Truncates to `w` display columns (with `…`) or pads with spaces to exactly `w`.
pub fn fit(s: &str, w: usize) -> String {
    let width = UnicodeWidthStr::width(s);
    if width <= w {
        let mut out = s.to_string();
        out.extend(std::iter::repeat_n(' ', w - width));
        return out;
    }
    if w == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + cw > w - 1 {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    used += 1;
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(used)));
    out
}

/// First visible row so that `selected` is on screen in `height` rows.
pub fn window_start(selected: usize, height: usize) -> usize {
    if height == 0 || selected < height {
        0
    } else {
        selected + 1 - height
    }
}

/// Pane focus marker shown in titles (not colour alone).
pub fn pane_title(p: Pane, focused: bool, extra: &str) -> String {
    let mark = if focused { "▶ " } else { "" };
    format!(" {mark}{}{extra} ", p.title())
}

#[cfg(test)]
mod tests {
    use super::{fit, wrap};

    #[test]
    fn fit_pads_and_truncates_by_width() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("日本語", 4), "日… ");
        assert_eq!(fit("x", 0), "");
    }

    #[test]
    fn wrap_keeps_every_word() {
        assert_eq!(
            wrap("run clawpair doctor --repair to fix it", 12),
            vec!["run clawpair", "doctor", "--repair to", "fix it"]
        );
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 5), vec![""]);
    }
}
