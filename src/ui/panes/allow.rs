//! The allow-list pane: approved senders per channel and account.

use super::*;

pub(super) fn allow_listing<'a>(s: &'a State, w: usize, t: &Theme) -> Listing<'a> {
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
