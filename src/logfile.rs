//! Logging: `CLAWPAIR_LOG` sets the filter (default `warn`); logs go to
//! stderr, or, when `$CLAWPAIR_LOG_FILE` names a file, to that file as plain
//! text (no ANSI colour codes), each line with a UTC timestamp, the file
//! opened `O_APPEND | O_NOFOLLOW` and kept 0600. Whatever the filter says,
//! the WebSocket libraries log warnings and errors only: their trace output
//! dumps every frame, and frames carry tokens.
//!
//! Headless mode's human lines go through [`line`]: stderr, and the log file
//! when there is one.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// The variable naming the log file.
pub const LOG_FILE_ENV: &str = "CLAWPAIR_LOG_FILE";

static FILE: OnceLock<Option<Mutex<File>>> = OnceLock::new();

/// Opens (creating 0600) a log file for appending: never through a symbolic
/// link, never anything but a regular file, tightened to 0600 if looser.
pub fn open_private(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

/// The log file named by `$CLAWPAIR_LOG_FILE`, opened once.
pub fn file() -> Option<&'static Mutex<File>> {
    FILE.get_or_init(|| {
        let p = std::env::var_os(LOG_FILE_ENV).filter(|p| !p.is_empty())?;
        match open_private(Path::new(&p)) {
            Ok(f) => Some(Mutex::new(f)),
            Err(e) => {
                eprintln!(
                    "clawpair: warning: cannot open the log file {}: {e}; logging to stderr",
                    Path::new(&p).display()
                );
                None
            }
        }
    })
    .as_ref()
}

/// Targets whose verbose logs print WebSocket frames (and so secrets).
pub fn carries_frames(target: &str) -> bool {
    ["tungstenite", "tokio_tungstenite"]
        .iter()
        .any(|c| target == *c || target.starts_with(&format!("{c}::")))
}

/// Installs the subscriber (once; later calls do nothing).
pub fn init() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("CLAWPAIR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let frames = tracing_subscriber::filter::filter_fn(|m| {
        !carries_frames(m.target()) || *m.level() <= tracing::Level::WARN
    });
    let to_file = file().and_then(|f| f.lock().ok()?.try_clone().ok());
    let _ = match to_file {
        Some(f) => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(Mutex::new(f))
            .with_ansi(false)
            .with_target(false)
            .finish()
            .with(frames)
            .try_init(),
        None => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .without_time()
            .with_target(false)
            .finish()
            .with(frames)
            .try_init(),
    };
}

/// A human line of headless mode: `clawpair: …` on stderr, and with a
/// timestamp in the log file, if there is one.
pub fn line(text: &str) {
    eprintln!("clawpair: {text}");
    if let Some(f) = file() {
        if let Ok(mut f) = f.lock() {
            let ts = crate::clock::format_iso_ms(crate::clock::system_now_ms());
            let _ = writeln!(f, "{ts} clawpair: {text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_dumping_targets() {
        assert!(carries_frames("tungstenite::protocol"));
        assert!(carries_frames("tokio_tungstenite"));
        assert!(!carries_frames("clawpair::gateway::server"));
        assert!(!carries_frames("tungstenite_like"));
    }

    #[test]
    fn log_files_are_private_and_never_links() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(&p, "old\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut f = open_private(&p).unwrap();
        writeln!(f, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old\nnew\n");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert!(open_private(&link).is_err());
    }
}
