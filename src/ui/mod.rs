//! Pure rendering of `&State`: nothing here changes the model or reads the
//! clock; every duration is computed from `state.now_ms`.

pub mod format;
pub mod panes;
pub mod popup;
pub mod theme;

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::app::keymap::{footer, ModeKind};
use crate::app::rows::GatewayStatus;
use crate::app::state::{Mode, Pane, State, ToastLevel};
pub use theme::Theme;

/// Draws the whole console.
pub fn render(f: &mut Frame, s: &State, t: &Theme) {
    let area = f.area();
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .split(area);
    status_line(f, rows[0], s, t);
    body(f, rows[1], s, t);
    message_line(f, rows[2], s, t);
    footer_line(f, rows[3], s, t);
    match &s.mode {
        Mode::Help => popup::help(f, area, t),
        Mode::Confirm { what, yes } => popup::confirm(f, area, s, what, *yes, t),
        Mode::SetupCode(p) => popup::setup_code(f, area, s, p, t),
        Mode::Normal | Mode::Filter => {}
    }
}

fn body(f: &mut Frame, area: Rect, s: &State, t: &Theme) {
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Fill(1),
            Constraint::Fill(1),
            Constraint::Fill(1),
        ])
        .split(area);
    let bottom = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(60), Constraint::Percentage(40)])
        .split(rows[2]);
    panes::dm(f, rows[0], s, t);
    panes::devices(f, rows[1], s, t);
    panes::paired(f, bottom[0], s, t);
    panes::allow(f, bottom[1], s, t);
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
        GatewayStatus::OpenClawOwns => "devices: OpenClaw's gateway (openclaw gateway)".to_string(),
    };
    let online = s.online.len();
    let err = s
        .task_error
        .as_ref()
        .or(s.dm_error.as_ref())
        .or(s.devices_error.as_ref())
        .map(|e| format!("⚠ {} │ ", crate::sanitize::for_terminal(e)))
        .unwrap_or_default();
    if let Some(r) = &s.remote {
        return remote_status_line(f, area, s, r, &err, t);
    }
    let dir = crate::sanitize::for_terminal(&s.state_dir);
    let (dm, dev, paired, allow) = (
        s.live_dm_count(),
        s.live_device_count(),
        s.paired.len(),
        s.allow.len(),
    );
    // Errors first, then the gateway state, counts, and the state dir (cut first).
    let text = if area.width >= 110 {
        format!(
            " clawpair │ {err}{gw} │ DM {dm} · devices {dev} · paired {paired} ({online} online) · allowed {allow} │ {dir}"
        )
    } else {
        let gw = gw.strip_prefix("gateway ").unwrap_or(&gw).to_string();
        let gw = if matches!(s.gateway, GatewayStatus::Disabled | GatewayStatus::Stopped) {
            format!("gateway {gw}")
        } else {
            gw
        };
        format!(
            " {err}{gw} │ DM {dm} · dev {dev} · paired {paired} ({online} on) · allow {allow} │ {dir}"
        )
    };
    let line = Line::from(fit(&text, area.width as usize));
    f.render_widget(Paragraph::new(line).style(t.status), area);
}

/// The status line of a console attached to a gateway: what it is attached
/// to, where the connection stands, what it may do, then the counts.
fn remote_status_line(
    f: &mut Frame,
    area: Rect,
    s: &State,
    r: &crate::app::rows::RemoteStatus,
    err: &str,
    t: &Theme,
) {
    let remote = crate::sanitize::for_terminal(&r.line());
    let err = if r.is_connected() { err } else { "" };
    let counts = format!(
        "DM {} · devices {} · paired {}",
        s.live_dm_count(),
        s.live_device_count(),
        s.paired.len()
    );
    let text = format!(" {err}{remote} │ {counts}");
    let style = match r.state {
        crate::app::rows::RemoteState::Connected => t.status,
        _ => t.status.patch(t.warn),
    };
    f.render_widget(
        Paragraph::new(Line::from(fit(&text, area.width as usize))).style(style),
        area,
    );
}

fn message_line(f: &mut Frame, area: Rect, s: &State, t: &Theme) {
    let line = if s.mode == Mode::Filter {
        Line::from(vec![
            Span::styled(" filter /", t.key),
            Span::raw(crate::sanitize::for_terminal(&s.filter)),
            Span::styled("▏", t.key),
        ])
    } else if let Some(toast) = s.toasts.last() {
        let (mark, style) = match toast.level {
            ToastLevel::Info => ("✓ ", t.ok),
            ToastLevel::Error => ("✗ ", t.error),
        };
        Line::from(vec![
            Span::styled(format!(" {mark}"), style),
            Span::styled(crate::sanitize::for_terminal(&toast.text), style),
        ])
    } else if !s.filter.is_empty() {
        Line::from(vec![
            Span::styled(" filter: ", t.dim),
            Span::raw(crate::sanitize::for_terminal(&s.filter)),
            Span::styled("  (Esc clears)", t.dim),
        ])
    } else {
        Line::from("")
    };
    f.render_widget(Paragraph::new(line), area);
}

fn footer_line(f: &mut Frame, area: Rect, s: &State, t: &Theme) {
    let mode = ModeKind::of(&s.mode);
    let pane = s.focus;
    let mut spans = vec![Span::raw(" ")];
    for (label, help) in footer(mode, pane) {
        spans.push(Span::styled(label, t.key));
        spans.push(Span::raw(format!(" {help}  ")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
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
    use super::fit;

    #[test]
    fn fit_pads_and_truncates_by_width() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("日本語", 4), "日… ");
        assert_eq!(fit("x", 0), "");
    }
}
