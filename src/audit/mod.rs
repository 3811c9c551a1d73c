//! The decision history: one JSON line per decision clawpair makes (approve,
//! reject, remove, revoke, rotate, setup code issued, redeemed or expired),
//! from the console, the CLI, headless mode or through a remote gateway, and
//! per decision it observed being made elsewhere.
//!
//! * Where: beside the state the decision changed: `<state>/clawpair-audit.jsonl`
//!   for local state, `<config>/clawpair/audit.jsonl` (`$XDG_CONFIG_HOME`, else
//!   `~/.config`) for decisions made through a remote gateway (each record
//!   names the gateway).
//! * How: opened `O_APPEND | O_NOFOLLOW`, created 0600, one `write` per line
//!   under an advisory `flock` (so two processes never interleave and a
//!   rotation never loses a line), then `fsync`. Past [`ROTATE_BYTES`] the file
//!   moves to `.1` (then `.2`, `.3`; the oldest goes).
//! * What never goes in: a DM pairing code, a token or a setup code. The
//!   [`Record`] type has no field that could hold one.
//! * Reading is tolerant: a damaged line is counted and skipped, the rest is read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::{Result, StoreError};
use crate::fsutil;

mod file;
mod reader;
mod record;

pub use file::*;
pub use reader::*;
pub use record::*;

/// The log's file name in a state dir.
pub const FILE_NAME: &str = "clawpair-audit.jsonl";
/// The log's file name in clawpair's config dir (remote gateways, and OpenClaw 2026.9
/// SQLite state dirs, where clawpair writes no file of its own).
pub const REMOTE_FILE_NAME: &str = "audit.jsonl";
/// A log larger than this is rotated before the next append.
pub const ROTATE_BYTES: u64 = 1024 * 1024;
/// Rotated files kept (`.1` … `.3`).
pub const KEEP: usize = 3;
/// An observed decision is not recorded again when a record of the same
/// action on the same subject is this recent (the process that made it
/// recorded it, or another console saw it first).
pub const OBSERVED_WINDOW_MS: i64 = 120_000;
/// Longest line read back; anything longer is counted as damaged.
const MAX_LINE: usize = 64 * 1024;

/// Which state the decision changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A local state dir (OpenClaw's files or database).
    Local(PathBuf),
    /// A gateway reached over WebSocket (`wss://host:port`).
    Gateway(String),
}

impl Place {
    /// The log file for decisions on this state.
    pub fn log_path(&self) -> PathBuf {
        match self {
            // On OpenClaw 2026.9 SQLite state clawpair writes no file of its own
            // into the state dir: its decisions go beside the remote ones.
            Place::Local(dir) if crate::paths::is_sqlite_state(dir) => {
                config_dir().join(REMOTE_FILE_NAME)
            }
            Place::Local(dir) => dir.join(FILE_NAME),
            Place::Gateway(_) => config_dir().join(REMOTE_FILE_NAME),
        }
    }

    /// How a record names it.
    pub fn label(&self) -> String {
        match self {
            Place::Local(dir) => dir.display().to_string(),
            Place::Gateway(url) => url.clone(),
        }
    }
}

/// clawpair's own config dir: `$XDG_CONFIG_HOME/clawpair`, else `~/.config/clawpair`.
pub fn config_dir() -> PathBuf {
    crate::paths::clawpair_config_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t: i64, action: Action, subject: Subject) -> Record {
        Record::new(
            t,
            action,
            subject,
            Via::Cli,
            &Place::Local(PathBuf::from("/state")),
        )
    }

    const T: i64 = 1_772_366_400_000;

    #[test]
    fn appends_private_lines_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let a = rec(T, Action::Approve, Subject::dm("telegram", None, "1", None));
        let b = rec(
            T + 1,
            Action::Remove,
            Subject::device("abcd", Some("phone"), None),
        );
        append(&path, &a).unwrap();
        append(&path, &b).unwrap();
        assert_eq!(fsutil::mode_of(&path), Some(0o600));
        let h = read(&path);
        assert_eq!(h.records, vec![a, b]);
        assert_eq!(h.damaged, 0);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains(r#""action":"approve""#), "{text}");
        assert!(text.contains(r#""where":"/state""#), "{text}");
    }

    #[test]
    fn a_damaged_line_does_not_stop_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let a = rec(T, Action::Reject, Subject::dm("signal", None, "+1", None));
        append(&path, &a).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"ts\":\"2026-03-01T12:00:00.000Z\",\"act\n\xff\xfe garbage\n")
            .unwrap();
        drop(f);
        append(&path, &a).unwrap();
        let h = read(&path);
        assert_eq!(h.records.len(), 2);
        assert_eq!(h.damaged, 2);
    }

    #[test]
    fn rotates_by_size_and_reads_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let big = "x".repeat(20_000);
        let mut n = 0;
        while fs::symlink_metadata(rotated(&path, 2)).is_err() {
            let r = rec(
                T + n,
                Action::Approve,
                Subject::dm("telegram", None, &format!("{n}"), Some(big.clone())),
            );
            append(&path, &r).unwrap();
            n += 1;
        }
        for f in [path.clone(), rotated(&path, 1), rotated(&path, 2)] {
            let size = fs::metadata(&f).unwrap().len();
            assert!(size <= ROTATE_BYTES, "{} is {size}", f.display());
        }
        let h = read(&path);
        assert_eq!(h.records.len() as i64, n, "nothing lost before .3 exists");
        assert!(h.records.windows(2).all(|w| w[0].ts <= w[1].ts));
    }

    #[test]
    fn observed_decisions_are_recorded_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let place = Place::Local(dir.path().to_path_buf());
        let subject = Subject::dm("telegram", Some("default"), "7", None);
        let mine = rec(T, Action::Approve, subject.clone());
        append(&path, &mine).unwrap();
        let seen = Record::observed(
            T + 500,
            Action::Approve,
            subject.clone(),
            Via::Console,
            &place,
        );
        assert!(
            !append_observed(&path, &seen).unwrap(),
            "already recorded by its maker"
        );
        let other = Record::observed(
            T + 500,
            Action::Reject,
            subject.clone(),
            Via::Console,
            &place,
        );
        assert!(append_observed(&path, &other).unwrap());
        assert!(
            !append_observed(&path, &other).unwrap(),
            "a second observer"
        );
        let later = Record::observed(
            T + OBSERVED_WINDOW_MS + 10_000,
            Action::Approve,
            subject,
            Via::Console,
            &place,
        );
        assert!(append_observed(&path, &later).unwrap());
        assert_eq!(read(&path).records.len(), 3);
    }

    #[test]
    fn refuses_a_symbolic_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let target = dir.path().join("elsewhere");
        fs::write(&target, b"").unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = append(
            &path,
            &rec(T, Action::Approve, Subject::dm("a", None, "1", None)),
        )
        .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(fs::read(&target).unwrap(), b"");
    }

    #[test]
    fn filters() {
        let d = rec(
            T,
            Action::Approve,
            Subject::device("9aee8cff109f16dc", Some("Mac"), Some("req-1")),
        );
        let m = rec(
            T + 10,
            Action::Reject,
            Subject::dm("telegram", None, "5", None),
        );
        let f = Filter {
            device: Some("9aee".into()),
            ..Filter::default()
        };
        assert!(f.matches(&d) && !f.matches(&m));
        let f = Filter {
            device: Some("mac".into()),
            ..Filter::default()
        };
        assert!(f.matches(&d));
        let f = Filter {
            channel: Some("Telegram".into()),
            since_ms: Some(T + 5),
            ..Filter::default()
        };
        assert!(f.matches(&m) && !f.matches(&d));
    }

    #[test]
    fn os_user_is_named() {
        assert!(!os_user().is_empty());
    }
}
