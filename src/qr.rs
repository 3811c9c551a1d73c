//! QR codes drawn with half-block characters: two modules per character
//! cell, so a version-6 code with its quiet zone is 49 columns by 25 rows.

use qrcode::{Color, EcLevel, QrCode};

/// Quiet zone in modules on every side (the standard asks for 4; 2 scans
/// reliably on screens and keeps the code inside an 80×24 terminal more often).
pub const QUIET_ZONE: usize = 2;

/// The code as lines of `█ ▀ ▄` and spaces, dark modules drawn as ink,
/// quiet zone included. Draw with dark foreground on a light background.
pub fn half_block_lines(data: &str) -> Result<Vec<String>, String> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::L)
        .map_err(|e| e.to_string())?;
    let w = code.width();
    let colors = code.to_colors();
    let size = w + 2 * QUIET_ZONE;
    let dark = |x: usize, y: usize| -> bool {
        if x < QUIET_ZONE || y < QUIET_ZONE || x >= w + QUIET_ZONE || y >= w + QUIET_ZONE {
            return false;
        }
        colors[(y - QUIET_ZONE) * w + (x - QUIET_ZONE)] == Color::Dark
    };
    let mut lines = Vec::with_capacity(size.div_ceil(2));
    let mut y = 0;
    while y < size {
        let mut line = String::with_capacity(size * 3);
        for x in 0..size {
            let top = dark(x, y);
            let bottom = y + 1 < size && dark(x, y + 1);
            line.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        lines.push(line);
        y += 2;
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_in_80_columns_with_quiet_zone() {
        let code = "eyJ1cmwiOiJ3czovLzEyNy4wLjAuMToxODc4OSIsInRva2VuIjoiYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY3ODkwQUJDREVGRyJ9";
        let lines = half_block_lines(code).unwrap();
        let w = lines[0].chars().count();
        assert!(w <= 80, "width {w}");
        assert!(lines.iter().all(|l| l.chars().count() == w));
        // Quiet zone: first line and first/last columns are blank.
        assert!(lines[0].chars().all(|c| c == ' '));
        assert!(lines
            .iter()
            .all(|l| l.starts_with("  ") && l.ends_with("  ")));
    }
}
