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

mod allow;
mod devices;
mod dm;
mod paired;

use allow::*;
pub use devices::*;
use dm::*;
use paired::*;

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

fn list(v: &[String]) -> String {
    v.iter().map(|x| clean(x)).collect::<Vec<_>>().join(",")
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
