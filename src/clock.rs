//! Time as plain numbers (milliseconds since the Unix epoch) plus the
//! ISO-8601 form OpenClaw writes (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
//!
//! The stores never read the clock themselves: callers pass `now_ms`, which
//! keeps every state transition testable. The binary reads the system clock,
//! or `CLAWPAIR_NOW` (ISO-8601 or milliseconds) when it is set, which is how the
//! fixture tests freeze time for the real binary.

use std::time::{SystemTime, UNIX_EPOCH};

/// Environment variable that freezes the binary's clock (tests only).
pub const FROZEN_CLOCK_ENV: &str = "CLAWPAIR_NOW";

/// Current time in ms since the epoch, honouring [`FROZEN_CLOCK_ENV`].
pub fn now_ms() -> i64 {
    if let Ok(v) = std::env::var(FROZEN_CLOCK_ENV) {
        let v = v.trim();
        if let Ok(ms) = v.parse::<i64>() {
            return ms;
        }
        if let Some(ms) = parse_iso_ms(v) {
            return ms;
        }
    }
    system_now_ms()
}

/// The real wall clock, ignoring any override.
pub fn system_now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A duration in its largest whole unit: `(n, 's' | 'm' | 'h' | 'd')`;
/// negative durations count as zero.
pub fn coarse(elapsed_ms: i64) -> (i64, char) {
    let s = elapsed_ms.max(0) / 1000;
    if s < 60 {
        (s, 's')
    } else if s < 3600 {
        (s / 60, 'm')
    } else if s < 86_400 {
        (s / 3600, 'h')
    } else {
        (s / 86_400, 'd')
    }
}

/// Formats like JavaScript's `Date.prototype.toISOString` for years 0..=9999.
pub fn format_iso_ms(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let (h, rem) = (rem / 3_600_000, rem % 3_600_000);
    let (min, rem) = (rem / 60_000, rem % 60_000);
    let (s, milli) = (rem / 1000, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Compact UTC stamp for file names: `20260301T120000Z`.
pub fn format_compact_utc(ms: i64) -> String {
    let iso = format_iso_ms(ms);
    // YYYY-MM-DDTHH:MM:SS.mmmZ -> YYYYMMDDTHHMMSSZ
    let digits: String = iso[..19]
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("{digits}Z")
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses the ISO-8601 timestamp forms that appear in state files:
/// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff…]]` followed by `Z`, `±HH:MM`, or
/// nothing (read as UTC). Returns `None` for anything else, which callers treat
/// as "no timestamp" just as OpenClaw does with an unparseable `Date`.
pub fn parse_iso_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() < 10 || !s.is_char_boundary(10) {
        return None;
    }
    let (date, rest) = s.split_at(10);
    let mut parts = date.split('-');
    let y = num(parts.next()?)?;
    let mo = num(parts.next()?)?;
    let d = num(parts.next()?)?;
    if parts.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = days_from_civil(y, mo, d) * MS_PER_DAY;
    if rest.is_empty() {
        return Some(ms);
    }
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
    // Split off the zone designator.
    let (time, offset_ms) =
        if let Some(t) = rest.strip_suffix('Z').or_else(|| rest.strip_suffix('z')) {
            (t, 0)
        } else if rest.len() > 6 && matches!(rest.as_bytes()[rest.len() - 6], b'+' | b'-') {
            let (t, z) = rest.split_at(rest.len() - 6);
            // Byte slicing below: a multi-byte character here is not an offset.
            if !z.is_ascii() {
                return None;
            }
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let zh = num(&z[1..3])?;
            let zm = num(&z[4..6])?;
            if &z[3..4] != ":" || zh > 23 || zm > 59 {
                return None;
            }
            (t, sign * (zh * 3_600_000 + zm * 60_000))
        } else {
            (rest, 0)
        };
    let (hms, frac) = match time.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (time, None),
    };
    let mut hp = hms.split(':');
    let h = num(hp.next()?)?;
    let mi = num(hp.next()?)?;
    let sec = match hp.next() {
        Some(v) => num(v)?,
        None => 0,
    };
    if hp.next().is_some() || h > 24 || mi > 59 || sec > 59 || (h == 24 && (mi, sec) != (0, 0)) {
        return None;
    }
    let milli = match frac {
        Some(f) => {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let mut padded: String = f.chars().take(3).collect();
            while padded.len() < 3 {
                padded.push('0');
            }
            num(&padded)?
        }
        None => 0,
    };
    ms += h * 3_600_000 + mi * 60_000 + sec * 1000 + milli;
    Some(ms - offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        let ms = parse_iso_ms("2026-03-01T12:00:00.000Z").unwrap();
        assert_eq!(ms, 1_772_366_400_000);
        assert_eq!(format_iso_ms(ms), "2026-03-01T12:00:00.000Z");
        assert_eq!(format_iso_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_iso_ms(1_795_469_143_890), "2026-11-23T21:25:43.890Z");
    }

    #[test]
    fn non_ascii_where_an_offset_would_be_is_no_timestamp() {
        // Found by the pairing_file fuzzer: this used to panic on a char boundary.
        assert_eq!(parse_iso_ms("2026-03-01T12:00:003-00\u{feff}"), None);
        assert_eq!(parse_iso_ms("2026-03-01T12:00:00+\u{e9}:00"), None);
    }

    #[test]
    fn lenient_forms() {
        let base = parse_iso_ms("2026-03-01T12:00:00.000Z").unwrap();
        assert_eq!(parse_iso_ms("2026-03-01T12:00:00Z"), Some(base));
        assert_eq!(parse_iso_ms("2026-03-01T13:00:00+01:00"), Some(base));
        assert_eq!(parse_iso_ms("2026-03-01T12:00:00.0001Z"), Some(base));
        assert_eq!(parse_iso_ms("2026-03-01"), Some(base - 12 * 3_600_000));
        assert_eq!(parse_iso_ms("not a date"), None);
        assert_eq!(parse_iso_ms("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_iso_ms("2026-03-01T12:00:00.Z"), None);
        assert_eq!(parse_iso_ms("é026-03-01T12:00:00Z"), None);
        assert_eq!(format_compact_utc(base), "20260301T120000Z");
    }
}
