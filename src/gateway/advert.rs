//! Where this state dir's gateway listens, for `clawpair setup-code` in
//! another process: a setup code is only issued when its token can be
//! redeemed, so the URL, port and certificate come from the gateway actually
//! listening, never from a default.
//!
//! The gateway (console, headless or `clawpair gateway`) writes
//! `<state>/clawpair-gateway.json` (0600) once it listens and removes it when
//! it stops. A reader believes it only while the process named in it lives
//! and a socket listens on its port (a gateway killed with -9 leaves it
//! behind, harmlessly).

use serde::{Deserialize, Serialize};

use crate::fsutil;
use crate::paths::Paths;

/// The file, in the state dir.
pub const FILE: &str = "clawpair-gateway.json";

/// What a listening gateway says about itself. Carries no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Advert {
    pub pid: u32,
    /// Distinguishes gateways of one process (tests).
    pub instance: String,
    /// The address it was asked to bind (`127.0.0.1`, `0.0.0.0`, …).
    pub bind: String,
    /// The port it listens on.
    pub port: u16,
    /// Serving `wss://`: the certificate's SHA-256, 64 lower-case hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_fingerprint: Option<String>,
    pub started_at_ms: i64,
}

fn path(paths: &Paths) -> std::path::PathBuf {
    paths.state_dir.join(FILE)
}

/// Writes the advert (best effort: a read-only state dir only costs
/// `setup-code` in other processes).
pub fn write(paths: &Paths, a: &Advert) {
    let text = crate::jsonfmt::to_pretty_nl(a);
    if let Err(e) = fsutil::write_atomic(&path(paths), text.as_bytes()) {
        tracing::debug!("cannot advertise the gateway: {e}");
    }
}

/// Removes the advert if it is still this gateway's.
pub fn remove_if_ours(paths: &Paths, instance: &str) {
    if read(paths).is_some_and(|a| a.instance == instance) {
        let _ = std::fs::remove_file(path(paths));
    }
}

/// The advert as written, live or not.
pub fn read(paths: &Paths) -> Option<Advert> {
    let bytes = fsutil::read_capped(&path(paths), 64 * 1024).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// The advert of a gateway that is listening now: its process alive and a
/// socket listening on its port.
pub fn read_live(paths: &Paths) -> Option<Advert> {
    let a = read(paths)?;
    (process_alive(a.pid) && port_listening(a.port)).then_some(a)
}

fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(p, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Whether a TCP socket listens on `port` (from `/proc/net/tcp{,6}`; no
/// connection is made, so the gateway counts no failed handshake). Without
/// `/proc`, assumed.
pub fn port_listening(port: u16) -> bool {
    let mut readable = false;
    for f in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        readable = true;
        let found = text.lines().skip(1).any(|l| {
            let mut cols = l.split_whitespace();
            let local = cols.nth(1).unwrap_or("");
            let state = cols.nth(1).unwrap_or("");
            state == "0A"
                && local
                    .rsplit_once(':')
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                    == Some(port)
        });
        if found {
            return true;
        }
    }
    !readable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_only_while_listening() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::resolve(Some(dir.path()));
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let a = Advert {
            pid: std::process::id(),
            instance: "i1".into(),
            bind: "127.0.0.1".into(),
            port,
            tls_fingerprint: None,
            started_at_ms: 1,
        };
        write(&paths, &a);
        assert_eq!(fsutil::mode_of(&dir.path().join(FILE)), Some(0o600));
        assert_eq!(read_live(&paths), Some(a.clone()));
        drop(l);
        assert_eq!(read_live(&paths), None, "nothing listens any more");
        assert_eq!(read(&paths), Some(a));
        remove_if_ours(&paths, "other");
        assert!(read(&paths).is_some());
        remove_if_ours(&paths, "i1");
        assert!(read(&paths).is_none());
    }
}
