//! Reading the log tolerantly (damaged lines counted and skipped), across
//! rotated files, and the history filter.

use super::*;

/// Parses JSON lines; returns the records and how many lines were damaged.
pub fn parse_lines(text: &str) -> (Vec<Record>, usize) {
    let mut out = Vec::new();
    let mut damaged = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.len() > MAX_LINE {
            damaged += 1;
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => out.push(r),
            Err(_) => damaged += 1,
        }
    }
    (out, damaged)
}

/// Everything in a log and its rotated files, oldest first.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct History {
    pub records: Vec<Record>,
    /// Lines that could not be read (reported; the rest is still read).
    pub damaged: usize,
    /// Files that could not be opened at all.
    pub errors: Vec<String>,
}

/// Reads a log (and its rotated files, oldest first). A missing log is
/// empty. Never creates or changes anything.
pub fn read(path: &Path) -> History {
    let mut h = History::default();
    let mut files: Vec<PathBuf> = (1..=KEEP).rev().map(|n| rotated(path, n)).collect();
    files.push(path.to_path_buf());
    for p in files {
        match fsutil::read_capped(&p, ROTATE_BYTES * 4) {
            Ok(None) => {}
            Ok(Some(bytes)) => {
                let (recs, bad) = parse_lines(&String::from_utf8_lossy(&bytes));
                h.records.extend(recs);
                h.damaged += bad;
            }
            Err(e) => h.errors.push(e.to_string()),
        }
    }
    h
}

/// Reads several logs and merges them by time (stable for equal times).
pub fn read_all(paths: &[PathBuf]) -> History {
    let mut h = History::default();
    for p in paths {
        let one = read(p);
        h.records.extend(one.records);
        h.damaged += one.damaged;
        h.errors.extend(one.errors);
    }
    h.records.sort_by_key(|r| r.ts_ms().unwrap_or(i64::MIN));
    h
}

/// Which records to show.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Only records at or after this time.
    pub since_ms: Option<i64>,
    /// A device id, its prefix, fingerprint or name (case-insensitive).
    pub device: Option<String>,
    /// A DM channel.
    pub channel: Option<String>,
}

impl Filter {
    pub fn matches(&self, r: &Record) -> bool {
        if let Some(since) = self.since_ms {
            if r.ts_ms().is_none_or(|t| t < since) {
                return false;
            }
        }
        if let Some(want) = &self.channel {
            match &r.subject {
                Subject::Dm { channel, .. } if channel.eq_ignore_ascii_case(want) => {}
                _ => return false,
            }
        }
        if let Some(want) = &self.device {
            let want = want.to_lowercase();
            let hit = match &r.subject {
                Subject::Device {
                    device_id,
                    fingerprint,
                    name,
                    request_id,
                    ..
                } => {
                    device_id.to_lowercase().starts_with(&want)
                        || fingerprint.starts_with(&want)
                        || name.as_deref().is_some_and(|n| n.to_lowercase() == want)
                        || request_id
                            .as_deref()
                            .is_some_and(|q| q.to_lowercase().starts_with(&want))
                }
                Subject::SetupCode {
                    device_id: Some(d), ..
                } => d.to_lowercase().starts_with(&want),
                _ => false,
            };
            if !hit {
                return false;
            }
        }
        true
    }
}
