//! The DM pane: pending DM pairing requests grouped by channel and account,
//! with each group's cap.

use super::*;

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

pub(super) fn dm_listing<'a>(s: &'a State, w: usize, t: &Theme) -> Listing<'a> {
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
