//! Box-drawn tables in the layout OpenClaw's CLI prints, so text output reads
//! the same whichever tool produced it:
//!
//! * a column's natural width is its longest line (header included) plus one
//!   space of padding each side, never below the column's minimum;
//! * the table is stretched to the target width by growing the flexible
//!   columns one character at a time, in turn, first flexible column first;
//! * a table that is too wide shrinks its flexible columns one character at a
//!   time in turn, widest first, and cell text wraps: after a space, `/`, `-`,
//!   `_` or `.` where possible, otherwise hard at the column width;
//! * borders `┌ ┬ ┐ ├ ┼ ┤ └ ┴ ┘ ─ │`, no trailing spaces, one final newline.

use unicode_width::UnicodeWidthStr;

/// One column's header and sizing rules.
#[derive(Debug, Clone)]
pub struct Column {
    pub header: String,
    /// Minimum total width, padding included.
    pub min: usize,
    /// Whether the column takes the slack (or gives way) when fitting the target.
    pub flex: bool,
}

impl Column {
    pub fn new(header: &str, min: usize, flex: bool) -> Self {
        Column {
            header: header.to_string(),
            min,
            flex,
        }
    }
}

/// Width OpenClaw targets: 119 when stdout is not a terminal, else the
/// terminal's columns minus one (at least 60).
pub fn target_width() -> usize {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        if let Ok((cols, _)) = crossterm::terminal::size() {
            return (cols as usize).saturating_sub(1).max(60);
        }
    }
    119
}

fn text_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Computes final column widths (padding included).
pub fn layout(columns: &[Column], rows: &[Vec<String>], target: usize) -> Vec<usize> {
    let mut widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let longest = rows
                .iter()
                .filter_map(|r| r.get(i))
                .flat_map(|cell| cell.lines())
                .map(text_width)
                .chain(std::iter::once(text_width(&c.header)))
                .max()
                .unwrap_or(0);
            (longest + 2).max(c.min).max(3)
        })
        .collect();
    let borders = columns.len() + 1;
    let total = |w: &[usize]| w.iter().sum::<usize>() + borders;
    let flex: Vec<usize> = (0..columns.len()).filter(|&i| columns[i].flex).collect();
    if flex.is_empty() {
        return widths;
    }
    while total(&widths) < target {
        for &i in &flex {
            if total(&widths) >= target {
                break;
            }
            widths[i] += 1;
        }
    }
    let mut order = flex.clone();
    order.sort_by(|a, b| widths[*b].cmp(&widths[*a]));
    while total(&widths) > target {
        let mut progressed = false;
        for &i in &order {
            if total(&widths) <= target {
                break;
            }
            if widths[i] > columns[i].min.max(3) {
                widths[i] -= 1;
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    widths
}

/// Wraps one cell to `width` display columns.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for para in text.split('\n') {
        // Segments end just after a break character.
        let mut segments: Vec<String> = Vec::new();
        let mut cur = String::new();
        for ch in para.chars() {
            cur.push(ch);
            if matches!(ch, ' ' | '/' | '-' | '_' | '.') {
                segments.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            segments.push(cur);
        }
        let mut line = String::new();
        for seg in segments {
            if text_width(&line) + text_width(&seg) <= width {
                line.push_str(&seg);
                continue;
            }
            if !line.trim_end().is_empty() {
                lines.push(line.trim_end().to_string());
            }
            line = String::new();
            // A segment wider than the column is cut hard.
            let mut rest = seg.as_str();
            while text_width(rest.trim_end()) > width {
                let mut cut = 0;
                let mut w = 0;
                for (i, ch) in rest.char_indices() {
                    let cw = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
                    if w + cw > width {
                        break;
                    }
                    w += cw;
                    cut = i + ch.len_utf8();
                }
                if cut == 0 {
                    cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
                }
                lines.push(rest[..cut].to_string());
                rest = &rest[cut..];
            }
            line.push_str(rest);
        }
        lines.push(line.trim_end().to_string());
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

fn border(widths: &[usize], left: char, mid: char, right: char) -> String {
    let mut s = String::new();
    s.push(left);
    for (i, w) in widths.iter().enumerate() {
        if i > 0 {
            s.push(mid);
        }
        s.extend(std::iter::repeat_n('─', *w));
    }
    s.push(right);
    s
}

fn row_lines(cells: &[String], widths: &[usize]) -> Vec<String> {
    let wrapped: Vec<Vec<String>> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| wrap(cells.get(i).map_or("", String::as_str), w.saturating_sub(2)))
        .collect();
    let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
    (0..height)
        .map(|l| {
            let mut s = String::from("│");
            for (i, w) in widths.iter().enumerate() {
                let text = wrapped[i].get(l).map_or("", String::as_str);
                let pad = w.saturating_sub(2).saturating_sub(text_width(text));
                s.push(' ');
                s.push_str(text);
                s.extend(std::iter::repeat_n(' ', pad));
                s.push_str(" │");
            }
            s
        })
        .collect()
}

/// Renders the whole table, ending with a newline.
pub fn render(columns: &[Column], rows: &[Vec<String>], target: usize) -> String {
    let widths = layout(columns, rows, target);
    let headers: Vec<String> = columns.iter().map(|c| c.header.clone()).collect();
    let mut out = Vec::new();
    out.push(border(&widths, '┌', '┬', '┐'));
    out.extend(row_lines(&headers, &widths));
    out.push(border(&widths, '├', '┼', '┤'));
    for r in rows {
        out.extend(row_lines(r, &widths));
    }
    out.push(border(&widths, '└', '┴', '┘'));
    let mut s = out.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_after_break_characters() {
        let scopes =
            "operator.admin, operator.read, operator.write, operator.approvals, operator.pairing";
        assert_eq!(
            wrap(scopes, 46),
            vec![
                "operator.admin, operator.read, operator.",
                "write, operator.approvals, operator.pairing"
            ]
        );
        let id = "05a4972ab14700f552295c928e154f9ff853e7f8788441ceb598d5c438f50c2c";
        assert_eq!(
            wrap(id, 27),
            vec![
                "05a4972ab14700f552295c928e1",
                "54f9ff853e7f8788441ceb598d5",
                "c438f50c2c"
            ]
        );
        assert_eq!(wrap("", 5), vec![""]);
    }

    #[test]
    fn shrinks_flexible_columns_in_turn() {
        let cols = [
            Column::new("Device", 10, true),
            Column::new("Roles", 12, false),
            Column::new("Scopes", 12, true),
            Column::new("Tokens", 12, false),
            Column::new("IP", 12, false),
        ];
        let rows = vec![vec![
            "05a4972ab14700f552295c928e154f9ff853e7f8788441ceb598d5c438f50c2c".to_string(),
            "operator".into(),
            "operator.admin, operator.read, operator.write, operator.approvals, operator.pairing"
                .into(),
            "operator".into(),
            String::new(),
        ]];
        assert_eq!(layout(&cols, &rows, 119), vec![29, 12, 48, 12, 12]);
    }
}
