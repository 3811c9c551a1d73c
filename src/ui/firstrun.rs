//! The first-run panel: shown instead of four empty panes when the state
//! holds nothing at all. Where requests come from, how to try it, where the
//! state lives.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};
use ratatui::Frame;

use super::{wrap, Theme};
use crate::app::rows::GatewayStatus;
use crate::app::state::State;
use crate::sanitize::for_terminal as clean;

/// `    label   text…` with the text wrapped under itself.
fn item(
    label: &str,
    label_style: Style,
    text: &str,
    text_style: Style,
    w: usize,
) -> Vec<Line<'static>> {
    let lw = 10;
    wrap(text, w.saturating_sub(4 + lw).max(10))
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let head = if i == 0 { label } else { "" };
            Line::from(vec![
                Span::raw("    "),
                Span::styled(format!("{head:<lw$}"), label_style),
                Span::styled(l, text_style),
            ])
        })
        .collect()
}

pub fn panel(f: &mut Frame, area: Rect, s: &State, t: &Theme) {
    let w = area.width.saturating_sub(2) as usize;
    let dir = clean(&s.state_dir);
    let flag = if dir == "~/.openclaw" {
        String::new()
    } else {
        format!(" --state-dir {dir}")
    };
    let gateway = match &s.gateway {
        GatewayStatus::Listening { addr } => format!("this console's gateway (ws://{addr})"),
        GatewayStatus::PortBusy { addr, .. } => format!("the gateway on {addr}"),
        _ => "the gateway".to_string(),
    };
    let heading = |text: &str| Line::styled(format!("  {text}"), t.header);
    let mut lines = Vec::new();
    for l in wrap(
        &format!("Nothing here yet: no pairing requests, paired devices or allow-lists in {dir}."),
        w.saturating_sub(2),
    ) {
        lines.push(Line::from(format!("  {l}")));
    }
    lines.push(heading("Where requests come from"));
    lines.extend(item(
        "DM",
        t.key,
        "an unknown sender writes to the bot (telegram, whatsapp, signal, …); OpenClaw gives them a code and the request appears here",
        t.base,
        w,
    ));
    lines.extend(item(
        "device",
        t.key,
        &format!("a phone, desktop or node connects to {gateway} and waits here"),
        t.base,
        w,
    ));
    lines.push(Line::from(""));
    lines.push(heading("Try it"));
    for l in wrap(
        &format!("clawpair{flag} pairing request telegram 12345 --meta username=alice"),
        w.saturating_sub(4),
    ) {
        lines.push(Line::from(vec![Span::raw("    "), Span::styled(l, t.code)]));
    }
    lines.extend(item(
        "",
        t.dim,
        "in another terminal: a sample DM request to approve here",
        t.dim,
        w,
    ));
    lines.extend(item(
        "s",
        t.key,
        "a setup code; on the new machine: clawpair join <setup code>",
        t.base,
        w,
    ));
    lines.push(Line::from(""));
    lines.push(heading("Where the state lives"));
    let places = [
        (format!("{dir}/credentials/"), "DM requests, allow-lists"),
        (format!("{dir}/devices/"), "device requests, paired devices"),
        (
            format!("{dir}/{}", crate::audit::FILE_NAME),
            "the decision history (h)",
        ),
    ];
    let pw = places
        .iter()
        .map(|(p, _)| p.chars().count())
        .max()
        .unwrap_or(0);
    for (path, what) in places {
        lines.push(Line::from(vec![
            Span::raw("    "),
            Span::styled(format!("{path:<pw$}"), t.code),
            Span::styled(format!("  {what}"), t.dim),
        ]));
    }
    let blk = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Thick)
        .border_style(t.border_focus)
        .title(Span::styled(" Welcome to clawpair ", t.title_focus));
    f.render_widget(Paragraph::new(lines).block(blk), area);
}
