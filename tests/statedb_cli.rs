//! The real binary on OpenClaw 2026.9.6 state dirs (copies of the shipped
//! databases): the same JSON views as OpenClaw's CLI and as the equivalent
//! 2026.2.26 state, DM decisions through the one transaction, owner-bootstrap
//! advice without touching `openclaw.json`, device decisions refused without
//! OpenClaw's gateway (tests/statedb_gateway.rs: through it), clawpair's
//! gateway refused, reads that write nothing, locked databases and a
//! read-only state dir as clear messages.

mod fault_support;
#[path = "support/fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clawpair::statedb;
use fault_support::*;
use rusqlite::Connection;
use serde_json::Value;

/// Between moments 06 and 07: every request of 06 is live.
const AT_06: &str = "2026-12-01T22:40:00.000Z";

fn state_with(m: &str) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("state")).unwrap();
    let db = statedb::db_path(t.path());
    std::fs::copy(
        fixtures::path(&format!("openclaw-2026.9/sqlite/{m}.sqlite")),
        &db,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    for d in [t.path().to_path_buf(), t.path().join("state")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    (t, db)
}

/// clawpair's config dir for these runs (decisions on SQLite state are
/// recorded there, never in the state dir); one per test process.
fn xdg() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn at(state: &Path, now: &str, args: &[&str]) -> Ran {
    let mut c = cmd(state, args);
    c.env("CLAWPAIR_NOW", now).env("XDG_CONFIG_HOME", xdg());
    run(c)
}

/// Every path below `root` with its bytes (for "nothing else changed").
fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        if m.is_dir() {
            out.push((format!("{rel}/"), Vec::new()));
            for e in std::fs::read_dir(&p).unwrap().flatten() {
                stack.push(e.path());
            }
        } else {
            out.push((rel, std::fs::read(&p).unwrap_or_default()));
        }
    }
    out.sort();
    out
}

fn names(t: &[(String, Vec<u8>)]) -> Vec<String> {
    t.iter().map(|(n, _)| n.clone()).collect()
}

#[test]
fn pairing_list_prints_what_openclaw_prints() {
    let (t, _db) = state_with("06-node-surface-approved");
    for ch in ["telegram", "discord"] {
        let r = at(t.path(), AT_06, &["pairing", "list", ch, "--json"]);
        assert!(r.ok(), "{}", r.stderr);
        assert_eq!(
            r.stdout,
            fixtures::read(&format!("openclaw-2026.9/cli/pairing-list-{ch}.stdout")),
            "{ch}"
        );
    }
    // --account filters (case-insensitively, as stored lower-case).
    let r = at(
        t.path(),
        AT_06,
        &["pairing", "list", "telegram", "--account", "WORK", "--json"],
    );
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<&str> = v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["222", "777"]);
}

#[test]
fn devices_list_prints_the_2026_2_26_shapes() {
    let (t, _db) = state_with("03-node-pending");
    // The request is 5 minutes old at most at its ts.
    let r = at(
        t.path(),
        "2026-12-01T22:32:20.000Z",
        &["devices", "list", "--json"],
    );
    assert!(r.ok(), "{}", r.stderr);
    let got: Value = serde_json::from_str(&r.stdout).unwrap();
    let want: Value = serde_json::from_str(&fixtures::read(
        "openclaw-2026.9/cli/devices-list-pending.stdout",
    ))
    .unwrap();
    assert_eq!(
        got["pending"], want["pending"],
        "pending: byte-for-byte the same object"
    );
    let mut want_paired = want["paired"].clone();
    for d in want_paired.as_array_mut().unwrap() {
        // Whether a device is connected only a gateway knows.
        d.as_object_mut().unwrap().shift_remove("connected");
    }
    assert_eq!(got["paired"], want_paired);
    assert!(
        !r.stdout.contains("1BPnWM9WI5udbq8JflUEWG"),
        "a token reached stdout"
    );

    // The text view names the second approval step of a node.
    let (t, _db) = state_with("05-node-connected");
    let r = at(t.path(), "2026-12-01T22:32:30.000Z", &["devices", "list"]);
    assert!(r.ok(), "{}", r.stderr);
    assert!(
        r.stdout.contains("Node capabilities awaiting approval (1)")
            && r.stdout.contains("17b5e174-6054-4d0b-8094-9f58877f5889")
            && r.stdout
                .contains("5 caps, 13 commands (needs operator.pairing + operator.admin)"),
        "{}",
        r.stdout
    );
    assert!(!r
        .stdout
        .contains("spPEQ_d5AUFX8FOzgkDzYpXakdq8BKO2qCHrnmOUa4g"));
}

#[test]
fn the_migrated_database_shows_what_the_2026_2_26_files_showed() {
    // legacy-base (2026.2.26 JSON) and r1-after-doctor.sqlite (OpenClaw's import of it).
    let json_state = tempfile::tempdir().unwrap();
    copy_tree(
        &fixtures::path("openclaw-2026.9/migration/legacy-base"),
        json_state.path(),
    );
    let sqlite_state = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(sqlite_state.path().join("state")).unwrap();
    std::fs::copy(
        fixtures::path("openclaw-2026.9/migration/r1-after-doctor.sqlite"),
        statedb::db_path(sqlite_state.path()),
    )
    .unwrap();
    let now = "2026-03-01T10:20:00.000Z";
    let a = at(json_state.path(), now, &["devices", "list", "--json"]);
    let b = at(sqlite_state.path(), now, &["devices", "list", "--json"]);
    assert!(a.ok() && b.ok(), "{} {}", a.stderr, b.stderr);
    let a: Value = serde_json::from_str(&a.stdout).unwrap();
    let b: Value = serde_json::from_str(&b.stdout).unwrap();
    assert_eq!(a["paired"], b["paired"], "paired devices: the same view");
    // OpenClaw's migration drops pending device requests (spec §7.2).
    assert_eq!(b["pending"], serde_json::json!([]));
    // DM requests: the same requests with the same codes and times.
    let a = at(
        json_state.path(),
        now,
        &["pairing", "list", "telegram", "--json"],
    );
    let b = at(
        sqlite_state.path(),
        now,
        &["pairing", "list", "telegram", "--json"],
    );
    let a: Value = serde_json::from_str(&a.stdout).unwrap();
    let b: Value = serde_json::from_str(&b.stdout).unwrap();
    let key = |v: &Value| -> Vec<(String, String, String)> {
        let mut k: Vec<_> = v["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_string(),
                    r["code"].as_str().unwrap().to_string(),
                    r["createdAt"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        k.sort();
        k
    };
    assert_eq!(key(&a), key(&b));
    assert!(!key(&b).is_empty());
    // The default account's effective allow-list: the same senders.
    let a = at(
        json_state.path(),
        now,
        &[
            "pairing",
            "allowlist",
            "telegram",
            "--account",
            "default",
            "--json",
        ],
    );
    let b = at(
        sqlite_state.path(),
        now,
        &[
            "pairing",
            "allowlist",
            "telegram",
            "--account",
            "default",
            "--json",
        ],
    );
    let set = |r: &Ran| -> Vec<String> {
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        let mut s: Vec<String> = v["allowFrom"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().to_string())
            // 2026.2.26 normalises `tg:888` only with the telegram plugin
            // enabled (it is not here); OpenClaw's import always does (§7.2).
            .map(|e| e.strip_prefix("tg:").map(str::to_string).unwrap_or(e))
            .collect();
        s.sort();
        s
    };
    assert_eq!(set(&a), set(&b));
}

fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

#[test]
fn reads_write_nothing_on_a_sqlite_state_dir() {
    let (t, _db) = state_with("06-node-surface-approved");
    std::fs::write(
        t.path().join("openclaw.json"),
        "{ // JSON5\n channels: { telegram: { enabled: true } } }\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            t.path().join("openclaw.json"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let before = tree(t.path());
    for args in [
        &["paths"][..],
        &["pairing", "list", "telegram"],
        &["pairing", "list", "telegram", "--json"],
        &["pairing", "allowlist"],
        &["pairing", "allowlist", "--json"],
        &["pairing", "allowlist", "telegram", "--account", "work"],
        &["devices", "list"],
        &["devices", "list", "--json"],
        &["doctor"],
    ] {
        let r = at(t.path(), AT_06, args);
        assert!(r.ok(), "{args:?}: {}", r.stderr);
    }
    assert_eq!(tree(t.path()), before, "a read changed the state dir");
}

#[test]
fn paths_names_the_generation_and_leftovers() {
    let (t, _db) = state_with("06-node-surface-approved");
    std::fs::create_dir_all(t.path().join("devices")).unwrap();
    std::fs::write(t.path().join("devices/paired.json.migrated"), "{}").unwrap();
    let r = at(t.path(), AT_06, &["paths"]);
    assert!(r.ok());
    assert!(
        r.stdout
            .contains("generation:      OpenClaw 2026.7+ SQLite")
            && r.stdout.contains("user_version 18, OpenClaw 2026.9.6")
            && r.stdout.contains("paired.json.migrated: archive"),
        "{}",
        r.stdout
    );
    let j = tempfile::tempdir().unwrap();
    let r = at(j.path(), AT_06, &["paths"]);
    assert!(
        r.stdout.contains("OpenClaw 2026.2.26 JSON files"),
        "{}",
        r.stdout
    );
}

#[test]
fn approve_and_reject_change_only_the_dm_tables_and_never_the_config() {
    let (t, db) = state_with("06-node-surface-approved");
    let config =
        "{\n  // the owner's comments stay\n  channels: { telegram: { enabled: true, }, },\n}\n";
    std::fs::write(t.path().join("openclaw.json"), config).unwrap();
    let before = tree(t.path());
    let r = at(
        t.path(),
        AT_06,
        &["pairing", "approve", "telegram", "vndalq7c"],
    );
    assert!(r.ok(), "{}", r.stderr);
    let mut lines = r.stdout.lines();
    assert_eq!(lines.next(), Some("Approved telegram sender 111."));
    let hint = lines.next().unwrap_or_default();
    assert!(
        hint.contains("No command owner is configured")
            && hint.ends_with(r#"openclaw config set commands.ownerAllowFrom '["telegram:111"]'"#),
        "{hint}"
    );
    let r = at(
        t.path(),
        AT_06,
        &[
            "pairing",
            "reject",
            "telegram",
            "CX2NGFBP",
            "--account",
            "work",
        ],
    );
    assert!(r.ok(), "{}", r.stderr);
    assert_eq!(r.stdout, "Rejected telegram sender 222.\n");
    // Both decisions are in clawpair's config-dir history, naming this state
    // dir, with no code in it.
    let log = std::fs::read_to_string(xdg().join("clawpair/audit.jsonl")).unwrap();
    let mine: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["where"] == t.path().to_str().unwrap())
        .collect();
    let seen: Vec<(&str, &str, &str)> = mine
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["subject"]["account"].as_str().unwrap(),
                r["subject"]["sender"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [("approve", "default", "111"), ("reject", "work", "222")],
        "{log}"
    );
    assert!(!log.to_uppercase().contains("VNDALQ7C") && !log.contains("CX2NGFBP"));
    let after = tree(t.path());
    // Only the database changed: no JSON, no lock, no config write.
    assert_eq!(names(&after), names(&before));
    for ((n, a), (_, b)) in before.iter().zip(after.iter()) {
        if !n.starts_with("state/openclaw.sqlite") {
            assert_eq!(a, b, "{n} changed");
        }
    }
    assert_eq!(
        std::fs::read_to_string(t.path().join("openclaw.json")).unwrap(),
        config
    );
    let r = at(t.path(), AT_06, &["pairing", "list", "telegram", "--json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<&str> = v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["444", "555", "777"]);
    let r = at(
        t.path(),
        AT_06,
        &[
            "pairing",
            "allowlist",
            "telegram",
            "--account",
            "default",
            "--json",
        ],
    );
    assert!(r.stdout.contains("\"111\""), "{}", r.stdout);
    // Unknown code: OpenClaw's message, exit 1, nothing changed.
    let before = std::fs::read(&db).unwrap();
    let r = at(
        t.path(),
        AT_06,
        &["pairing", "approve", "telegram", "ZZZZZZZZ"],
    );
    r.assert_clean_failure(
        "No pending pairing request found for code: ZZZZZZZZ",
        "unknown",
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
    // With an owner configured there is no hint.
    std::fs::write(
        t.path().join("openclaw.json"),
        r#"{"commands":{"ownerAllowFrom":["telegram:999"]}}"#,
    )
    .unwrap();
    let r = at(
        t.path(),
        AT_06,
        &["pairing", "approve", "telegram", "TNTWKL84"],
    );
    assert_eq!(r.stdout, "Approved telegram sender 555.\n");
}

#[test]
fn device_decisions_setup_codes_and_clawpairs_gateway_are_refused() {
    let (t, db) = state_with("03-node-pending");
    // A port nothing listens on.
    let port = free_port();
    std::fs::write(
        t.path().join("openclaw.json"),
        format!(r#"{{"gateway":{{"port":{port}}}}}"#),
    )
    .unwrap();
    let before = tree(t.path());
    let id = "cdab7896-5e2e-428f-aef2-58d2159ac0ff";
    for args in [
        &["devices", "approve", id][..],
        &["devices", "approve", "--latest"],
        &["devices", "reject", id],
        &[
            "devices",
            "remove",
            "8f4c4a9ade8d35e47b655e4bdafbdc6e048e3eab2a3a69367bd29655c9282b50",
        ],
        &["devices", "rotate", "--device", "x", "--role", "node"],
        &["devices", "revoke", "--device", "x", "--role", "node"],
        &["nodes", "pending"],
        &["nodes", "approve", "x"],
    ] {
        let r = at(t.path(), "2026-12-01T22:32:20.000Z", args);
        r.assert_clean_failure("start `openclaw gateway`", &format!("{args:?}"));
        assert!(r.stderr.contains(&format!("port {port}")), "{}", r.stderr);
    }
    for args in [
        &["gateway"][..],
        &["gateway", "token", "--generate"],
        &["setup-code"],
        &["join", "abc"],
    ] {
        let r = at(t.path(), "2026-12-01T22:32:20.000Z", args);
        r.assert_clean_failure("OpenClaw 2026.7+ state dir", &format!("{args:?}"));
    }
    let r = at(
        t.path(),
        "2026-12-01T22:32:20.000Z",
        &["pairing", "request", "telegram", "5"],
    );
    r.assert_clean_failure("come from OpenClaw's channels", "request");
    assert_eq!(
        tree(t.path()),
        before,
        "a refused command changed something"
    );
    let _ = db;
}

#[test]
fn a_port_that_is_no_gateway_is_a_clear_failure() {
    // Something listens on the configured port but is no gateway: the
    // decision goes nowhere, with a message naming where it tried.
    let (t, db) = state_with("03-node-pending");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            drop(s);
        }
    });
    std::fs::write(
        t.path().join("openclaw.json"),
        format!(r#"{{"gateway":{{"port":{port},"auth":{{"token":"t0k-secret-value"}}}}}}"#),
    )
    .unwrap();
    let before = std::fs::read(&db).unwrap();
    let r = at(t.path(), AT_06, &["devices", "approve", "x"]);
    r.assert_clean_failure(&format!("ws://127.0.0.1:{port}"), "not a gateway");
    assert!(!r.stderr.contains("t0k-secret-value"), "{}", r.stderr);
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn a_locked_database_is_a_clear_message_and_no_lost_write() {
    let (t, db) = state_with("06-node-surface-approved");
    // Another writer holds the write lock for longer than the busy timeout.
    let holder = Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut c = cmd(t.path(), &["pairing", "approve", "telegram", "VNDALQ7C"]);
    c.env("CLAWPAIR_NOW", AT_06)
        .env("CLAWPAIR_SQLITE_BUSY_MS", "300");
    let r = run(c);
    r.assert_clean_failure("locked by another process", "locked write");
    assert!(r.stderr.contains(&db.display().to_string()), "{}", r.stderr);
    holder.execute_batch("ROLLBACK").unwrap();
    let r = at(t.path(), AT_06, &["pairing", "list", "telegram", "--json"]);
    assert!(r.stdout.contains("VNDALQ7C"), "the request is still there");

    // A holder that lets go within the timeout: the write waits and lands.
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut c = cmd(t.path(), &["pairing", "approve", "telegram", "VNDALQ7C"]);
    c.env("CLAWPAIR_NOW", AT_06);
    let child = std::thread::spawn(move || run(c));
    std::thread::sleep(Duration::from_millis(400));
    holder.execute_batch("COMMIT").unwrap();
    let r = child.join().unwrap();
    assert!(r.ok(), "{}", r.stderr);
    assert!(r.stdout.starts_with("Approved telegram sender 111."));

    // A reader shut out by an exclusive lock says so too.
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; UPDATE schema_meta SET updated_at = updated_at;")
        .unwrap();
    let mut c = cmd(t.path(), &["pairing", "list", "telegram", "--json"]);
    c.env("CLAWPAIR_NOW", AT_06)
        .env("CLAWPAIR_SQLITE_BUSY_MS", "200");
    let r = run(c);
    r.assert_clean_failure("locked by another process", "locked read");
    drop(holder);
}

#[test]
fn a_read_only_state_dir_reads_or_says_why() {
    if !is_root() {
        // Without root the tree is ours and cannot be made unwritable to us
        // in a way we cannot undo; the same code path is covered as root (CI).
        return;
    }
    let (t, db) = state_with("06-node-surface-approved");
    chown_tree(t.path());
    // Quiescent (no -wal): read with immutable=1, nothing needed beside it.
    let mut c = cmd(t.path(), &["pairing", "list", "telegram", "--json"]);
    c.env("CLAWPAIR_NOW", AT_06);
    // state/ back to root, readable but not writable for nobody.
    std::os::unix::fs::lchown(t.path().join("state"), Some(0), Some(0)).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            t.path().join("state"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    let before = tree(t.path());
    as_nobody_if_root(&mut c);
    let r = run(c);
    assert!(r.ok(), "{}", r.stderr);
    assert!(r.stdout.contains("VNDALQ7C"));
    assert_eq!(tree(t.path()), before);
    // Live (a -wal exists, no -shm): SQLite would need to create -shm.
    std::fs::write(statedb::sibling(&db, "-wal"), b"").unwrap();
    let mut c = cmd(t.path(), &["pairing", "list", "telegram", "--json"]);
    c.env("CLAWPAIR_NOW", AT_06);
    as_nobody_if_root(&mut c);
    let r = run(c);
    r.assert_clean_failure("directory is not writable", "no -shm");
}

#[test]
fn doctor_on_a_sqlite_dir_checks_and_reports_leftovers() {
    let (t, db) = state_with("05-node-connected");
    std::fs::create_dir_all(t.path().join("credentials")).unwrap();
    std::fs::write(
        t.path().join("credentials/discord-alpha-allowFrom.json"),
        "{}",
    )
    .unwrap();
    let before = tree(t.path());
    let r = at(t.path(), "2026-12-01T22:32:30.000Z", &["doctor"]);
    assert!(r.ok(), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("PRAGMA quick_check: ok"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("1 node capability surface(s) awaiting approval"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("warning  ") && r.stdout.contains("discord-alpha-allowFrom.json"),
        "{}",
        r.stdout
    );
    let r = at(
        t.path(),
        "2026-12-01T22:32:30.000Z",
        &["doctor", "--repair"],
    );
    assert!(r.ok(), "{}", r.stderr);
    assert_eq!(tree(t.path()), before, "doctor wrote to a SQLite state dir");

    // The migrated database of 2026.2.26 state: the node without scopes is named.
    let (t, db2) = state_with("06-node-surface-approved");
    std::fs::copy(
        fixtures::path("openclaw-2026.9/migration/r1-after-doctor.sqlite"),
        &db2,
    )
    .unwrap();
    let r = at(t.path(), "2026-03-01T10:20:00.000Z", &["doctor"]);
    r.assert_clean_failure("problem(s) found", "no baseline");
    assert!(r.stdout.contains("has no scope baseline"), "{}", r.stdout);
    let _ = db;
}

#[test]
fn doctor_on_a_json_dir_forecasts_the_upgrade() {
    let t = tempfile::tempdir().unwrap();
    copy_tree(
        &fixtures::path("openclaw-2026.9/migration/legacy-unresolved"),
        t.path(),
    );
    // When the fixture's device request was still pending.
    let pending: Value = serde_json::from_str(
        &std::fs::read_to_string(t.path().join("devices/pending.json")).unwrap(),
    )
    .unwrap();
    let ts = pending.as_object().unwrap().values().next().unwrap()["ts"]
        .as_i64()
        .unwrap();
    let r = at(t.path(), &(ts + 1000).to_string(), &["doctor"]);
    let out = &r.stdout;
    assert!(
        out.contains("1 pending device request(s) will be dropped"),
        "{out}"
    );
    assert!(out.contains("is paired without scopes"), "{out}");
    assert!(
        out.contains("discord-alpha-allowFrom.json: account alpha of discord is not configured")
            && out.contains("refuses to start"),
        "{out}"
    );
    assert!(
        !out.contains("telegram-work-allowFrom.json: account"),
        "{out}"
    );
}

#[test]
fn no_token_reaches_any_output() {
    let (t, db) = state_with("05-node-connected");
    let mut secrets: Vec<String> = Vec::new();
    {
        let c = Connection::open_with_flags(
            format!("file:{}?immutable=1", db.display()),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .unwrap();
        let tokens: Vec<String> = c
            .prepare("SELECT tokens_json FROM device_pairing_paired")
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for tj in tokens {
            let v: Value = serde_json::from_str(&tj).unwrap();
            for rec in v.as_object().unwrap().values() {
                secrets.push(rec["token"].as_str().unwrap().to_string());
            }
        }
        let keys: Vec<String> = c
            .prepare("SELECT private_key_pem FROM device_identities")
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for k in keys {
            secrets.push(k.lines().nth(1).unwrap_or_default().to_string());
        }
    }
    assert!(secrets.len() >= 2);
    for args in [
        &["devices", "list"][..],
        &["devices", "list", "--json"],
        &["doctor"],
        &["paths"],
        &["pairing", "list", "telegram", "--json"],
        &["devices", "approve", "x"],
    ] {
        let mut c = cmd(t.path(), args);
        c.env("CLAWPAIR_NOW", "2026-12-01T22:32:30.000Z")
            .env("CLAWPAIR_LOG", "trace");
        let r = run(c);
        for s in &secrets {
            let head = &s[..16.min(s.len())];
            assert!(
                !r.stdout.contains(head) && !r.stderr.contains(head),
                "{args:?} printed a secret"
            );
        }
    }
}
