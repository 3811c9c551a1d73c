//! The directory watcher on a temp dir: files created later, directories
//! created after start, atomic renames, deleted-and-recreated directories,
//! and the polling fallback.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clawpair::runtime::watcher::{self, Changed, Kind};

fn expect(rx: &mpsc::Receiver<Changed>, want: Changed, within: Duration) -> Duration {
    let start = Instant::now();
    while let Some(left) = within.checked_sub(start.elapsed()) {
        match rx.recv_timeout(left) {
            Ok(c) if c == want => return start.elapsed(),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("no {want:?} change within {within:?}");
}

fn drain(rx: &mpsc::Receiver<Changed>) {
    std::thread::sleep(Duration::from_millis(150));
    while rx.try_recv().is_ok() {}
}

fn atomic_write(dir: &Path, name: &str, body: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, body).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

fn run(force_poll: bool) {
    let state = tempfile::tempdir().unwrap();
    let creds = state.path().join("credentials");
    let devices = state.path().join("devices");
    let (tx, rx) = mpsc::channel();
    let h = watcher::spawn(creds.clone(), devices.clone(), force_poll, move |c| {
        let _ = tx.send(c);
    });
    assert_eq!(h.kind, if force_poll { Kind::Poll } else { Kind::Native });
    drain(&rx);

    // Directories created after start.
    std::fs::create_dir_all(&creds).unwrap();
    expect(&rx, Changed::Dm, Duration::from_secs(3));
    std::fs::create_dir_all(&devices).unwrap();
    expect(&rx, Changed::Devices, Duration::from_secs(3));
    drain(&rx);

    // Files created later, written atomically.
    atomic_write(
        &creds,
        "telegram-pairing.json",
        r#"{"version":1,"requests":[]}"#,
    );
    let t = expect(&rx, Changed::Dm, Duration::from_secs(2));
    if !force_poll {
        assert!(t < Duration::from_secs(1), "took {t:?}");
    }
    drain(&rx);
    atomic_write(&devices, "pending.json", "{}");
    expect(&rx, Changed::Devices, Duration::from_secs(2));
    drain(&rx);

    // In-place rewrite.
    std::fs::write(creds.join("telegram-pairing.json"), "{}").unwrap();
    expect(&rx, Changed::Dm, Duration::from_secs(2));
    drain(&rx);

    // Lock files alone do not cause reloads.
    if !force_poll {
        std::fs::write(creds.join("telegram-pairing.json.lock"), "x").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(rx.try_recv().is_err(), "a lock file caused a reload");
    }

    // Deleted and re-created directory keeps being watched.
    std::fs::remove_dir_all(&creds).unwrap();
    expect(&rx, Changed::Dm, Duration::from_secs(3));
    std::fs::create_dir_all(&creds).unwrap();
    drain(&rx);
    std::thread::sleep(Duration::from_millis(1200));
    drain(&rx);
    atomic_write(&creds, "discord-pairing.json", "{}");
    expect(&rx, Changed::Dm, Duration::from_secs(3));
    drop(h);
}

#[test]
fn native_watcher() {
    run(false);
}

#[test]
fn polling_fallback() {
    run(true);
}
