//! The paired-devices pane: roles, scopes, token state and presence.

use super::*;

pub(super) fn paired_listing<'a>(s: &'a State, w: usize, t: &Theme) -> Listing<'a> {
    // Only the rows in the window are formatted (10,000 devices stay cheap).
    let filtering = !s.filter.is_empty();
    let visible: Vec<&'a Row<_>> = if filtering {
        s.paired
            .iter()
            .filter(|r| s.matches_paired(&r.item))
            .collect()
    } else {
        s.paired.iter().collect()
    };
    let sel_idx = match s.selected_key(Pane::Paired) {
        Some(RowKey::Paired(id)) => visible
            .iter()
            .position(|r| &r.item.device_id == id)
            .unwrap_or(0),
        _ => 0,
    };
    let (name_w, roles_w) = match w {
        0..60 => (12, 10),
        60..90 => (14, 12),
        _ => (16, 14),
    };
    // Narrow panes keep the ●/○ marker and drop the word.
    let online_word = w >= 90;
    let mut cols = vec![
        ("  Name", name_w + 2),
        ("Roles", roles_w),
        ("Token", 8),
        ("Used", 8),
    ];
    if online_word {
        cols.push(("Online", 8));
    }
    cols.push(("Key", 19));
    let head = header(&cols, t);
    let focused = s.focus == Pane::Paired;
    let th = t.clone();
    let rows = visible.len();
    let line = move |i: usize| -> Line<'static> {
        let Some(row) = visible.get(i) else {
            return Line::default();
        };
        let p = &row.item;
        let is_sel = i == sel_idx;
        let online = s.online.contains(&p.device_id);
        let style = row_style(row, &th);
        let name = p
            .display_name
            .as_deref()
            .or(p.client_id.as_deref())
            .map(clean)
            .unwrap_or_else(|| "(unnamed)".into());
        let token = match p.token_state {
            TokenState::Active => "token ok",
            TokenState::Revoked => "revoked",
            TokenState::None => "no token",
        };
        let used = p
            .last_used_ms
            .map(|u| format!("{} ago", age(s.now_ms - u)))
            .unwrap_or_else(|| "never".into());
        let mut spans = vec![
            Span::raw(marker(is_sel)),
            if online {
                Span::styled("● ", th.online)
            } else {
                Span::styled("○ ", th.dim)
            },
            Span::styled(fit(&name, name_w), style),
            Span::raw(" "),
            Span::styled(fit(&list(&p.roles), roles_w), style),
            Span::raw(" "),
            Span::styled(
                fit(token, 8),
                if p.token_state == TokenState::Active {
                    th.ok
                } else {
                    th.warn
                },
            ),
            Span::raw(" "),
            Span::styled(fit(&used, 8), th.dim),
            Span::raw(" "),
        ];
        if row.status != RowStatus::Live {
            spans.push(status_span(row, Pane::Paired, 19, &th));
        } else {
            // A pending capability surface takes the place of the online
            // word (the ●/○ marker still says it) and of the fingerprint.
            if online_word && p.pending_surface.is_none() {
                spans.push(Span::styled(
                    fit(
                        if online {
                            "online"
                        } else if s.closed_by_gateway.contains_key(&p.device_id) {
                            "closed"
                        } else {
                            "offline"
                        },
                        8,
                    ),
                    if online { th.online } else { th.dim },
                ));
            }
            if let Some(surface) = &p.pending_surface {
                // OpenClaw 2026.9: the node's capabilities wait for their own
                // approval; that (not the fingerprint) is what the row needs to say.
                // It also takes the last-used column (a node asking just connected).
                spans.truncate(spans.len() - 2);
                let used: usize = spans.iter().map(|s| s.width()).sum();
                spans.push(Span::styled(
                    surface.summary(w.saturating_sub(used)),
                    th.warn,
                ));
            } else {
                spans.push(Span::styled(short_fingerprint(&p.device_id), th.dim));
            }
        }
        let mut line = Line::from(spans);
        if is_sel && focused {
            line = line.patch_style(th.selected);
        }
        line
    };
    Listing {
        header: head,
        len: rows,
        line: Box::new(line),
        row_of: Box::new(|i| i),
        rows,
        selected: (rows > 0).then_some((sel_idx, sel_idx)),
        empty: "No paired devices".into(),
    }
}
