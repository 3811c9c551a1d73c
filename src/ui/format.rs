//! How times read on screen: countdowns and ages.

/// DM countdowns turn to the "expiring soon" style in their last five minutes.
pub const EXPIRING_SOON_MS: i64 = 5 * 60_000;

/// `mm:ss` for a remaining duration (minutes may pass 59); `00:00` when past.
pub fn countdown(remaining_ms: i64) -> String {
    let s = (remaining_ms.max(0) + 999) / 1000;
    format!("{:02}:{:02}", s / 60, s % 60)
}

/// A compact age: `12s`, `5m`, `3h`, `2d`.
pub fn age(elapsed_ms: i64) -> String {
    let (n, unit) = crate::clock::coarse(elapsed_ms);
    format!("{n}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdown_formats() {
        assert_eq!(countdown(0), "00:00");
        assert_eq!(countdown(-5), "00:00");
        assert_eq!(countdown(1), "00:01");
        assert_eq!(countdown(65_000), "01:05");
        assert_eq!(countdown(3_600_000), "60:00");
        assert_eq!(age(59_999), "59s");
        assert_eq!(age(60_000), "1m");
        assert_eq!(age(7_200_000), "2h");
    }
}
