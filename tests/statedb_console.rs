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
    // clawpair's config dir (its audit log of what it observed), apart.
    let xdg = tempfile::tempdir().unwrap();
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
            .env("XDG_CONFIG_HOME", xdg.path())
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

/// What the console draws for a 2026.9 state: the node's pending capability
/// surface on its paired row, the DM cap counted per account, the status line.
#[test]
fn the_console_draws_the_second_approval_and_the_per_account_cap() {
    use clawpair::app::msg::Msg;
    use clawpair::app::state::State;
    use clawpair::app::update::update;
    use clawpair::runtime::source::sqlite::{device_snapshot, dm_snapshot};
    use clawpair::statedb::{devices, dm, StateDb};

    let db = fixtures::path("openclaw-2026.9/sqlite/05-node-connected.sqlite");
    let s = StateDb::open_read(&db).unwrap();
    let at = clawpair::clock::parse_iso_ms("2026-12-01T22:32:30.000Z").unwrap();
    let dmrows = dm::read(&s).unwrap();
    let devrows = devices::read(&s, at).unwrap();
    let mut st = State::new("~/.openclaw · OpenClaw SQLite v18", at);
    st.dm_cap = clawpair::app::rows::DmCap::PerAccount;
    st.gateway = clawpair::app::rows::GatewayStatus::OpenClawOwns {
        port: 18789,
        reachable: Some(false),
    };
    update(&mut st, Msg::DmLoaded(Ok(dm_snapshot(&dmrows, at))));
    update(&mut st, Msg::DevicesLoaded(Ok(device_snapshot(devrows))));
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 40)).unwrap();
    let theme = clawpair::ui::Theme::color();
    term.draw(|f| clawpair::ui::render(f, &st, &theme)).unwrap();
    let text: String = term
        .backend()
        .buffer()
        .content()
        .chunks(160)
        .map(|line| line.iter().map(|c| c.symbol()).collect::<String>() + "\n")
        .collect();
    assert!(
        text.contains("⧗ capabilities: 5 caps + 13 cmds (admin)"),
        "{text}"
    );
    // 120 columns (a 72-column pane): the short form, whole.
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40)).unwrap();
    term.draw(|f| clawpair::ui::render(f, &st, &theme)).unwrap();
    let mid: String = term
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(mid.contains("⧗ 5 caps + 13 cmds (admin)"), "{mid}");
    // telegram holds 5 (3 default, 2 work): per account, default is full and work is not.
    assert!(text.contains("telegram · default  3/3"), "{text}");
    assert!(text.contains("telegram · work  2/3"), "{text}");
    assert!(
        text.contains("actions via OpenClaw's gateway :18789 (down)"),
        "{text}"
    );
    assert!(text.contains("OpenClaw SQLite v18"), "{text}");
    // With room, the capabilities by name.
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(240, 40)).unwrap();
    term.draw(|f| clawpair::ui::render(f, &st, &theme)).unwrap();
    let wide: String = term
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        wide.contains(
            "⧗ capabilities: browser, file, local-inference, mcp, system + 13 cmds (admin)"
        ),
        "{wide}"
    );
}
