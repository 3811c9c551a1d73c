//! The device-requests pane: what each request asks for (its kind, roles,
//! scopes, a node's capability surface) and its countdown.

use super::*;

/// Device requests live five minutes; their countdown is marked in the last minute.
const DEVICE_SOON_MS: i64 = 60_000;

/// First-time / repair (key changed) / upgrade +role … +scope … / re-pair.
pub fn kind_text(kind: &RequestKind) -> String {
    match kind {
        RequestKind::FirstTime => "first-time".to_string(),
        RequestKind::Repair => "repair (key changed)".to_string(),
        RequestKind::Same => "re-pair".to_string(),
        RequestKind::Upgrade { roles, scopes } => {
            let mut parts: Vec<String> = roles
                .iter()
                .map(|r| format!("+role {}", clean(r)))
                .collect();
            parts.extend(scopes.iter().map(|x| format!("+scope {}", clean(x))));
            format!("upgrade {}", parts.join(" "))
        }
    }
}

pub(super) fn devices_listing<'a>(s: &'a State, w: usize, t: &Theme) -> Listing<'a> {
    let visible: Vec<&Row<_>> = s
        .devices
        .iter()
        .filter(|r| s.matches_device(&r.item))
        .collect();
    let fixed = 2 + 1 + 9 + 1 + 23 + 1 + 4 + 1 + 6 + 1;
    let rem = w.saturating_sub(fixed);
    let status_w = (rem / 2).min(19);
    let name_w = rem - status_w;
    let head = header(
        &[
            ("Device", name_w),
            ("Platform", 9),
            ("Key", 23),
            ("Age", 4),
            ("Left", 6),
            ("Status", status_w),
        ],
        t,
    );
    let sel_key = s.selected_key(Pane::Devices);
    let mut lines = Vec::with_capacity(visible.len() * 2);
    let mut rows_of = Vec::with_capacity(visible.len() * 2);
    let mut selected = None;
    for (i, row) in visible.iter().enumerate() {
        let r = &row.item;
        let is_sel =
            sel_key == Some(&RowKey::Device(r.request_id.clone())) || (sel_key.is_none() && i == 0);
        let style = row_style(row, t);
        let name = r
            .display_name
            .as_deref()
            .or(r.client_id.as_deref())
            .map(clean)
            .unwrap_or_else(|| "(unnamed)".into());
        let mut spans = vec![
            Span::raw(marker(is_sel)),
            Span::styled(fit(&name, name_w), style),
            Span::raw(" "),
            Span::styled(fit(&clean(r.platform.as_deref().unwrap_or("-")), 9), style),
            Span::raw(" "),
            Span::styled(
                fit(&format!("key {}", short_fingerprint(&r.device_id)), 23),
                t.code,
            ),
            Span::raw(" "),
            Span::styled(fit(&age(s.now_ms - r.ts), 4), t.dim),
            Span::raw(" "),
        ];
        spans.push(if row.status.is_gone() {
            Span::raw(fit("", 6))
        } else if r.surface.is_some() {
            Span::styled(fit(" caps", 6), t.warn)
        } else {
            countdown_span(r.remaining_ms(s.now_ms), DEVICE_SOON_MS, t)
        });
        spans.push(Span::raw(" "));
        spans.push(status_span(row, Pane::Devices, status_w, t));
        let mut line1 = Line::from(spans);

        let paired = s.paired_by_id(&r.device_id);
        let kind = kind_text(&request_kind(r, paired));
        let client = match (&r.client_id, &r.client_mode) {
            (Some(c), Some(m)) => format!("{}/{}", clean(c), clean(m)),
            (Some(c), None) => clean(c),
            (None, Some(m)) => format!("-/{}", clean(m)),
            (None, None) => "-".into(),
        };
        let mut detail = match &r.surface {
            Some(sf) => format!(
                "    capabilities · {client} · caps [{}] · {} commands [{}] · approve needs [{}]",
                list(&sf.caps),
                sf.commands.len(),
                list(&sf.commands),
                list(&sf.required_scopes)
            ),
            None => format!(
                "    {kind} · {client} · asks {} [{}]",
                list(&r.roles),
                list(&r.scopes)
            ),
        };
        if let (Some(p), None) = (paired, &r.surface) {
            detail.push_str(&format!(" · has {} [{}]", list(&p.roles), list(&p.scopes)));
        }
        if let Some(ip) = &r.remote_ip {
            detail.push_str(&format!(" · from {}", clean(ip)));
        }
        let mut line2 = Line::from(Span::styled(
            fit(&detail, w),
            if row.status.is_gone() { t.gone } else { t.dim },
        ));
        if is_sel && s.focus == Pane::Devices {
            line1 = line1.patch_style(t.selected);
            line2 = line2.patch_style(t.selected);
        }
        if is_sel {
            // Both lines of the selected request stay in view.
            selected = Some((lines.len(), lines.len() + 1));
        }
        lines.push(line1);
        lines.push(line2);
        rows_of.push(i);
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
        empty: "No pending device pairing requests".into(),
    }
}
