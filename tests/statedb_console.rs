//! The headless console on an OpenClaw 2026.9 SQLite state dir: no gateway
//! of its own, changes committed by another writer (as OpenClaw's) reported
//! within 100 ms through the WAL watcher and `data_version`, and nothing
//! but the database in the state dir afterwards.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clawpair::statedb;
use rusqlite::Connection;

const BIN: &str = env!("CARGO_BIN_EXE_clawpair");

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn next_event(
    rx: &mpsc::Receiver<serde_json::Value>,
    name: &str,
    seen: &mut Vec<String>,
) -> Duration {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(10);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(v) => {
                let ev = v["event"].as_str().unwrap_or("").to_string();
                seen.push(ev.clone());
                if ev == name {
                    return start.elapsed();
                }
            }
            Err(_) => break,
        }
    }
    panic!("no {name} event; saw {seen:?}");
}

fn iso(ms: i64) -> String {
    clawpair::clock::format_iso_ms(ms)
}

#[test]
fn headless_follows_foreign_commits_without_a_gateway() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("state")).unwrap();
    let db = statedb::db_path(t.path());
    std::fs::copy(
        fixtures::path("openclaw-2026.9/sqlite/06-node-surface-approved.sqlite"),
        &db,
    )
    .unwrap();
    for d in [t.path().to_path_buf(), t.path().join("state")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let mut child = Kill(
        Command::new(BIN)
            .args(["--state-dir", t.path().to_str().unwrap(), "--headless"])
            .env_remove("CLAWPAIR_NOW")
            .env_remove("OPENCLAW_STATE_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    let out = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let err = child.0.stderr.take().unwrap();
    let (etx, erx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            s.push_str(&line);
            s.push('\n');
        }
        let _ = etx.send(s);
    });
    // Let the engine start (the fixture's requests are long expired: nothing to report).
    std::thread::sleep(Duration::from_millis(500));

    // Another writer (as OpenClaw's channel would) commits a new DM request.
    let w = Connection::open(&db).unwrap();
    w.busy_timeout(Duration::from_secs(5)).unwrap();
    let now = clawpair::clock::system_now_ms();
    let mut seen = Vec::new();
    let mut lat = Vec::new();
    for i in 0..5 {
        w.execute(
            "INSERT INTO channel_pairing_requests VALUES ('telegram',?5,?1,?2,?3,?3,?4)",
            rusqlite::params![
                format!("50{i}"),
                format!("ABCDEFG{}", (b'A' + i as u8) as char),
                iso(now + i),
                format!(r#"{{"username":"zed","accountId":"acct{i}"}}"#),
                // One account each: the cap of three counts per account.
                format!("acct{i}"),
            ],
        )
        .unwrap();
        lat.push(next_event(&rx, "dm_request.created", &mut seen));
    }
    lat.sort();
    assert!(
        lat[lat.len() - 1] < Duration::from_millis(500),
        "commit → event latencies {lat:?}"
    );
    // A device asks (as OpenClaw's gateway would write it).
    w.execute(
        "INSERT INTO device_pairing_pending (request_id, device_id, public_key, display_name, \
         platform, client_id, client_mode, role, roles_json, scopes_json, silent, is_repair, ts) \
         VALUES ('r-1','d-1','pk','kitchen','linux','node-host','node','node','[\"node\"]','[]',0,0,?1)",
        [now],
    )
    .unwrap();
    next_event(&rx, "device_request.created", &mut seen);
    // OpenClaw approves one elsewhere: request row gone, allow row added.
    w.execute_batch(
        "BEGIN IMMEDIATE; DELETE FROM channel_pairing_requests WHERE request_id = '500'; \
         INSERT INTO channel_pairing_allow_entries VALUES ('telegram','acct0','500',0,0); COMMIT;",
    )
    .unwrap();
    next_event(&rx, "dm_request.approved", &mut seen);
    drop(w);
    assert!(
        !seen.iter().any(|e| e.starts_with("gateway.")),
        "clawpair's gateway started on a SQLite state dir: {seen:?}"
    );
    // SIGTERM: a clean exit.
    unsafe {
        libc::kill(child.0.id() as i32, libc::SIGTERM);
    }
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let stderr = erx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    assert!(
        stderr.contains("clawpair's gateway does not start"),
        "{stderr}"
    );
    // Nothing but the database (and SQLite's own -wal/-shm) in the state dir.
    let mut names = Vec::new();
    let mut stack = vec![t.path().to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
            names.push(
                e.path()
                    .strip_prefix(t.path())
                    .unwrap()
                    .display()
                    .to_string(),
            );
        }
    }
    names.sort();
    for n in &names {
        assert!(
            n == "state" || n.starts_with("state/openclaw.sqlite"),
            "clawpair created {n} ({names:?})"
        );
    }
}
