//! The OpenClaw 2026.9.6 databases of `tests/fixtures/openclaw-2026.9/`
//! (README: "A conforming implementation must…"): generation detection, every
//! pairing row read without loss, the 2026.2.26 JSON shapes, the DM
//! transaction row-for-row against what OpenClaw left (`06`→`07`, `07`→`08`),
//! and clear errors without a write for a newer schema, changed tables, a
//! truncated or garbage file.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};

use clawpair::statedb::{self, devices, dm, DbError, Generation, ReadMode, StateDb};
use rusqlite::Connection;
use serde_json::{json, Value};

const MOMENTS: &[&str] = &[
    "01-dm-requests",
    "02-dm-account-cap",
    "03-node-pending",
    "05-node-connected",
    "06-node-surface-approved",
    "07-dm-cli-approve",
    "10-device-reject-remove",
];

/// A state dir holding a copy of moment `m` as `state/openclaw.sqlite`.
fn state_with(m: &str) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("state")).unwrap();
    let db = statedb::db_path(t.path());
    std::fs::copy(
        fixtures::path(&format!("openclaw-2026.9/sqlite/{m}.sqlite")),
        &db,
    )
    .unwrap();
    (t, db)
}

fn dump(m: &str) -> Value {
    serde_json::from_str(&fixtures::read(&format!(
        "openclaw-2026.9/sqlite/{m}.pairing.json"
    )))
    .unwrap()
}

/// Every row of `table` as JSON objects (cells as stored), sorted.
fn table_rows(db: &Path, table: &str) -> Vec<Value> {
    let c = Connection::open_with_flags(
        format!("file:{}?immutable=1", db.display()),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )
    .unwrap();
    let mut st = c.prepare(&format!("SELECT * FROM {table}")).unwrap();
    let names: Vec<String> = st.column_names().iter().map(|s| s.to_string()).collect();
    let mut out: Vec<Value> = st
        .query_map([], |r| {
            let mut m = serde_json::Map::new();
            for (i, n) in names.iter().enumerate() {
                let v = match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(x) => json!(x),
                    rusqlite::types::ValueRef::Real(x) => json!(x),
                    rusqlite::types::ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                    rusqlite::types::ValueRef::Blob(_) => json!("<blob>"),
                };
                m.insert(n.clone(), v);
            }
            Ok(Value::Object(m))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    out.sort_by_key(|v| v.to_string());
    out
}

fn sorted(v: &Value) -> Vec<Value> {
    let mut out = v.as_array().unwrap().clone();
    out.sort_by_key(|v| v.to_string());
    out
}

fn sha(p: &Path) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(p).unwrap()).to_vec()
}

fn siblings_absent(db: &Path) {
    for s in ["-wal", "-shm", "-journal"] {
        assert!(
            std::fs::symlink_metadata(statedb::sibling(db, s)).is_err(),
            "{s} created beside {}",
            db.display()
        );
    }
}

#[test]
fn detects_the_generation_and_schema() {
    let t = tempfile::tempdir().unwrap();
    assert_eq!(Generation::detect(t.path()), Generation::Json);
    assert!(
        std::fs::symlink_metadata(t.path().join("state")).is_err(),
        "detection creates nothing"
    );
    for m in MOMENTS {
        let (t, db) = state_with(m);
        assert!(Generation::detect(t.path()).is_sqlite(), "{m}");
        let s = StateDb::open_read(&db).unwrap();
        assert_eq!(s.schema.user_version, 18, "{m}");
        assert_eq!(s.schema.meta_version, Some(18), "{m}");
        assert_eq!(s.schema.app_version.as_deref(), Some("2026.9.6"), "{m}");
        assert!(s.schema.writable());
        // The fixture is a quiescent WAL file: read without creating -wal/-shm.
        assert_eq!(s.mode, ReadMode::Quiescent);
        drop(s);
        siblings_absent(&db);
        let explain = Generation::detect(t.path()).explain();
        assert!(
            explain.contains("user_version 18, OpenClaw 2026.9.6"),
            "{explain}"
        );
    }
}

#[test]
fn reads_every_pairing_row_without_loss() {
    for m in MOMENTS {
        let (_t, db) = state_with(m);
        let d = dump(m);
        let tables = &d["tables"];
        // The raw tables are what the dump says (the copy is faithful) …
        for table in [
            "channel_pairing_requests",
            "channel_pairing_allow_entries",
            "device_pairing_pending",
            "device_pairing_paired",
        ] {
            assert_eq!(
                table_rows(&db, table),
                sorted(&tables[table]),
                "{m} {table}"
            );
        }
        // … and the store reads every one of them.
        let s = StateDb::open_read(&db).unwrap();
        let rows = dm::read(&s).unwrap();
        let mut got: Vec<Value> = rows
            .requests
            .iter()
            .map(|r| {
                json!({"channel_key": r.channel, "account_id": r.account, "request_id": r.sender,
                       "code": r.code, "created_at": r.created_at, "last_seen_at": r.last_seen_at,
                       "meta_json": r.meta_json})
            })
            .collect();
        got.sort_by_key(|v| v.to_string());
        assert_eq!(got, sorted(&tables["channel_pairing_requests"]), "{m}");
        let mut allow = Vec::new();
        for a in &rows.allow {
            for (i, e) in a.entries.iter().enumerate() {
                allow.push((a.channel.clone(), a.account.clone(), e.clone(), i as i64));
            }
        }
        let mut want: Vec<(String, String, String, i64)> = tables["channel_pairing_allow_entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["channel_key"].as_str().unwrap().into(),
                    r["account_id"].as_str().unwrap().into(),
                    r["entry"].as_str().unwrap().into(),
                    r["sort_order"].as_i64().unwrap(),
                )
            })
            .collect();
        allow.sort();
        want.sort();
        assert_eq!(allow, want, "{m}");

        // Devices: every row, every column mapped (expiry off: the far past).
        let dev = devices::read(&s, 0).unwrap();
        let pend = tables["device_pairing_pending"].as_array().unwrap();
        assert_eq!(dev.pending.len(), pend.len(), "{m}");
        for row in pend {
            let p = dev
                .pending
                .iter()
                .find(|p| p.request_id == row["request_id"])
                .unwrap();
            assert_eq!(p.device_id, row["device_id"].as_str().unwrap());
            assert_eq!(p.public_key, row["public_key"].as_str().unwrap());
            assert_eq!(json!(p.display_name), row["display_name"]);
            assert_eq!(json!(p.platform), row["platform"]);
            assert_eq!(json!(p.device_family), row["device_family"]);
            assert_eq!(json!(p.client_id), row["client_id"]);
            assert_eq!(json!(p.client_mode), row["client_mode"]);
            assert_eq!(json!(p.role), row["role"]);
            assert_eq!(json!(p.remote_ip), row["remote_ip"]);
            let list = |v: &Value| -> Value {
                v.as_str()
                    .map(|s| serde_json::from_str(s).unwrap())
                    .unwrap_or(Value::Null)
            };
            assert_eq!(json!(p.roles), list(&row["roles_json"]));
            assert_eq!(json!(p.scopes), list(&row["scopes_json"]));
            assert_eq!(p.silent, row["silent"] == 1);
            assert_eq!(p.is_repair, row["is_repair"] == 1);
            assert_eq!(json!(p.ts), row["ts"]);
        }
        let paired = tables["device_pairing_paired"].as_array().unwrap();
        assert_eq!(dev.paired.len(), paired.len(), "{m}");
        for row in paired {
            let p = dev
                .paired
                .iter()
                .find(|p| p.device_id == row["device_id"])
                .unwrap();
            let list = |v: &Value| -> Value {
                v.as_str()
                    .map(|s| serde_json::from_str(s).unwrap())
                    .unwrap_or(Value::Null)
            };
            assert_eq!(p.public_key, row["public_key"].as_str().unwrap());
            assert_eq!(json!(p.display_name), row["display_name"]);
            assert_eq!(json!(p.roles), list(&row["roles_json"]));
            assert_eq!(json!(p.scopes), list(&row["scopes_json"]));
            assert_eq!(json!(p.approved_scopes), list(&row["approved_scopes_json"]));
            assert_eq!(json!(p.created_at_ms), row["created_at_ms"]);
            assert_eq!(json!(p.approved_at_ms), row["approved_at_ms"]);
            assert_eq!(
                p.extra.get("approvedVia").cloned().unwrap_or(Value::Null),
                row["approved_via"]
            );
            assert_eq!(
                p.extra.get("operatorLabel").cloned().unwrap_or(Value::Null),
                row["operator_label"]
            );
            assert_eq!(
                p.extra.get("nodeSurface").cloned().unwrap_or(Value::Null),
                list(&row["node_surface_json"])
            );
            assert_eq!(
                p.extra
                    .get("pendingNodeSurface")
                    .cloned()
                    .unwrap_or(Value::Null),
                list(&row["pending_node_surface_json"])
            );
            // Token records: everything but the secret, which is gone.
            let stored = list(&row["tokens_json"]);
            let tokens = p.tokens.as_ref().unwrap();
            for (role, rec) in tokens.iter() {
                assert!(rec.token.is_empty(), "a token string survived the read");
                assert_eq!(json!(rec.scopes), stored[role]["scopes"]);
                assert_eq!(json!(rec.created_at_ms), stored[role]["createdAtMs"]);
            }
            let secret = stored
                .as_object()
                .unwrap()
                .values()
                .map(|t| t["token"].as_str().unwrap().to_string())
                .collect::<Vec<_>>();
            let shown = format!("{p:?}");
            for s in secret {
                assert!(!shown.contains(&s), "a token reaches Debug output");
            }
        }
    }
}

#[test]
fn the_pending_node_surface_is_a_second_approval() {
    let (_t, db) = state_with("05-node-connected");
    let s = StateDb::open_read(&db).unwrap();
    let dev = devices::read(&s, 0).unwrap();
    let node = dev
        .paired
        .iter()
        .find(|d| d.display_name.as_deref() == Some("fx-node-1"))
        .unwrap();
    let surface = devices::pending_surface(node).expect("05 has a pending surface");
    assert_eq!(surface.request_id, "17b5e174-6054-4d0b-8094-9f58877f5889");
    assert_eq!(surface.caps.len(), 5);
    assert_eq!(surface.commands.len(), 13);
    assert_eq!(
        surface.required_scopes(),
        vec!["operator.pairing", "operator.admin"]
    );
    // 06: approved, nothing waits.
    let (_t, db) = state_with("06-node-surface-approved");
    let s = StateDb::open_read(&db).unwrap();
    let dev = devices::read(&s, 0).unwrap();
    assert!(dev
        .paired
        .iter()
        .all(|d| devices::pending_surface(d).is_none()));
}

#[test]
fn the_per_account_cap_and_expiry_decide_what_shows() {
    let (_t, db) = state_with("02-dm-account-cap");
    let s = StateDb::open_read(&db).unwrap();
    let rows = dm::read(&s).unwrap();
    let at = clawpair::clock::parse_iso_ms("2026-12-01T22:40:00Z").unwrap();
    let shown: Vec<(String, String)> = rows
        .visible(at)
        .iter()
        .map(|r| (r.account.clone(), r.sender.clone()))
        .collect();
    // telegram holds 5 (3 default + 2 work): per account, not per channel.
    assert_eq!(
        shown,
        vec![
            ("default".to_string(), "333".to_string()),
            ("default".into(), "111".into()),
            ("work".into(), "222".into()),
            ("default".into(), "444".into()),
            ("default".into(), "555".into()),
            ("work".into(), "777".into()),
        ]
    );
    // An hour and a bit later only the youngest is left; then none.
    let later = clawpair::clock::parse_iso_ms("2026-12-01T23:31:43.000Z").unwrap();
    let left: Vec<&str> = rows
        .visible(later)
        .iter()
        .map(|r| r.sender.as_str())
        .collect();
    assert_eq!(left, vec!["777"]);
}

#[test]
fn over_the_cap_the_least_recently_seen_are_hidden() {
    let (_t, db) = state_with("02-dm-account-cap");
    {
        let c = Connection::open(&db).unwrap();
        // As after an import: a fourth default request, seen long ago.
        c.execute(
            "INSERT INTO channel_pairing_requests VALUES ('telegram','default','999','ZZZZZZZZ',\
             '2026-12-01T22:31:30.000Z','2026-12-01T22:31:30.000Z',\
             '{\"accountId\":\"default\"}')",
            [],
        )
        .unwrap();
    }
    let s = StateDb::open_read(&db).unwrap();
    let rows = dm::read(&s).unwrap();
    let at = clawpair::clock::parse_iso_ms("2026-12-01T22:40:00Z").unwrap();
    let default: Vec<&str> = rows
        .visible(at)
        .iter()
        .filter(|r| r.channel == "telegram" && r.account == "default")
        .map(|r| r.sender.as_str())
        .collect();
    assert_eq!(default, vec!["111", "444", "555"]);
}

/// The DM tables of `db` and of dump `m` are identical.
fn assert_dm_tables(db: &Path, m: &str) {
    let d = dump(m);
    for table in ["channel_pairing_requests", "channel_pairing_allow_entries"] {
        assert_eq!(
            table_rows(db, table),
            sorted(&d["tables"][table]),
            "{m} {table}"
        );
    }
}

fn allow_time(m: &str) -> i64 {
    dump(m)["tables"]["channel_pairing_allow_entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["channel_key"] == "telegram")
        .map(|r| r["updated_at"].as_i64().unwrap())
        .max()
        .unwrap()
}

#[test]
fn approve_leaves_the_rows_openclaw_left_06_to_07() {
    let (_t, db) = state_with("06-node-surface-approved");
    let now = allow_time("07-dm-cli-approve");
    let out = dm::write_channel(
        &db,
        "telegram",
        &dm::Op::Approve {
            code: "vndalq7c".into(),
            account: None,
        },
        now,
    )
    .unwrap();
    assert_eq!(out.sender(), Some("111"));
    assert!(out.allow_changed);
    assert_eq!(out.pruned, 0);
    assert_dm_tables(&db, "07-dm-cli-approve");
    // The devices tables are untouched.
    let d = dump("06-node-surface-approved");
    for table in ["device_pairing_pending", "device_pairing_paired"] {
        assert_eq!(table_rows(&db, table), sorted(&d["tables"][table]));
    }
}

#[test]
fn approve_and_dismiss_leave_the_rows_openclaw_left_07_to_08() {
    let (_t, db) = state_with("07-dm-cli-approve");
    let now = allow_time("08-dm-rpc-approve-dismiss");
    let a = dm::write_channel(
        &db,
        "telegram",
        &dm::Op::Approve {
            code: "CX2NGFBP".into(),
            account: Some("work".into()),
        },
        now - 5,
    )
    .unwrap();
    assert_eq!(a.sender(), Some("222"));
    let d = dm::write_channel(
        &db,
        "telegram",
        &dm::Op::Dismiss {
            code: "SPP5Q2MC".into(),
            account: Some("default".into()),
        },
        now,
    )
    .unwrap();
    assert_eq!(d.sender(), Some("444"));
    assert!(!d.allow_changed);
    assert_dm_tables(&db, "08-dm-rpc-approve-dismiss");
}

#[test]
fn a_write_prunes_expired_requests_of_every_account_and_nothing_else() {
    let (_t, db) = state_with("06-node-surface-approved");
    // 777 (work) was created at 22:31:43.383; an hour later everything older is gone.
    let now = clawpair::clock::parse_iso_ms("2026-12-01T23:31:43.000Z").unwrap();
    let out = dm::write_channel(
        &db,
        "telegram",
        &dm::Op::Approve {
            code: "CGWPS7E8".into(),
            account: None,
        },
        now,
    )
    .unwrap();
    assert_eq!(out.sender(), Some("777"));
    assert_eq!(out.pruned, 4, "111, 222, 444, 555 expired");
    let reqs = table_rows(&db, "channel_pairing_requests");
    assert_eq!(reqs.len(), 1, "only discord's 333 is left: {reqs:?}");
    assert_eq!(reqs[0]["channel_key"], "discord");
    let allow = table_rows(&db, "channel_pairing_allow_entries");
    for r in &allow {
        if r["channel_key"] == "telegram" {
            assert_eq!(r["updated_at"], now);
        } else {
            assert_eq!(r["updated_at"], 1796164301087_i64, "discord untouched");
        }
    }
    assert!(allow
        .iter()
        .any(|r| r["account_id"] == "work" && r["entry"] == "777" && r["sort_order"] == 1));
}

#[test]
fn no_match_and_nothing_expired_writes_nothing() {
    let (_t, db) = state_with("06-node-surface-approved");
    let before = sha(&db);
    let now = allow_time("07-dm-cli-approve");
    let out = dm::write_channel(
        &db,
        "telegram",
        &dm::Op::Approve {
            code: "ZZZZZZZZ".into(),
            account: None,
        },
        now,
    )
    .unwrap();
    assert_eq!(out.sender(), None);
    assert_dm_tables(&db, "06-node-surface-approved");
    // The account filter is honoured too: 111 is in default, not work.
    let out = dm::write_channel(
        &db,
        "telegram",
        &dm::Op::Dismiss {
            code: "VNDALQ7C".into(),
            account: Some("work".into()),
        },
        now,
    )
    .unwrap();
    assert_eq!(out.sender(), None);
    assert_dm_tables(&db, "06-node-surface-approved");
    let _ = before;
}

#[test]
fn revoke_removes_one_entry_and_renumbers() {
    let (_t, db) = state_with("07-dm-cli-approve");
    let now = allow_time("07-dm-cli-approve") + 10;
    let out = dm::write_channel(
        &db,
        "telegram",
        &dm::Op::Revoke {
            account: "default".into(),
            entry: "tg:901".into(),
        },
        now,
    )
    .unwrap();
    assert!(out.allow_changed);
    let allow: Vec<(String, i64)> = table_rows(&db, "channel_pairing_allow_entries")
        .iter()
        .filter(|r| r["channel_key"] == "telegram" && r["account_id"] == "default")
        .map(|r| {
            (
                r["entry"].as_str().unwrap().to_string(),
                r["sort_order"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(allow, vec![("111".to_string(), 1), ("900".to_string(), 0)]);
}

#[test]
fn a_newer_schema_is_read_only_and_changed_tables_are_refused() {
    let (_t, db) = state_with("06-node-surface-approved");
    Connection::open(&db)
        .unwrap()
        .execute_batch("PRAGMA user_version = 19")
        .unwrap();
    let s = StateDb::open_read(&db).unwrap();
    assert_eq!(s.schema.user_version, 19);
    assert!(!s.schema.writable());
    assert_eq!(dm::read(&s).unwrap().requests.len(), 6, "still readable");
    drop(s);
    let before = sha(&db);
    let e = dm::write_channel(
        &db,
        "telegram",
        &dm::Op::Approve {
            code: "VNDALQ7C".into(),
            account: None,
        },
        allow_time("07-dm-cli-approve"),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            DbError::ReadOnlySchema {
                found: 19,
                known: 18,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("19") && e.to_string().contains("18"));
    assert_eq!(sha(&db), before, "nothing written");

    Connection::open(&db)
        .unwrap()
        .execute_batch("ALTER TABLE channel_pairing_requests ADD COLUMN extra TEXT")
        .unwrap();
    let e = StateDb::open_read(&db).err().unwrap();
    assert!(matches!(e, DbError::Incompatible { found: 19, .. }), "{e}");
    assert!(e.to_string().contains("channel_pairing_requests"), "{e}");
}

#[test]
fn truncated_garbage_and_empty_files_are_clear_errors_without_a_write() {
    let full = fixtures::bytes("openclaw-2026.9/sqlite/06-node-surface-approved.sqlite");
    for (what, bytes) in [
        ("truncated", full[..full.len() / 3].to_vec()),
        ("header only", full[..100].to_vec()),
        (
            "garbage",
            b"this is not a database at all, just text\n".repeat(200),
        ),
        ("empty", Vec::new()),
    ] {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("state")).unwrap();
        let db = statedb::db_path(t.path());
        std::fs::write(&db, &bytes).unwrap();
        let before = sha(&db);
        let e = StateDb::open_read(&db)
            .and_then(|s| {
                dm::read(&s)
                    .map(|_| ())
                    .and_then(|_| devices::read(&s, 0).map(|_| ()))
            })
            .err()
            .unwrap_or_else(|| panic!("{what}: read succeeded"));
        let msg = e.to_string();
        assert!(msg.contains(&db.display().to_string()), "{what}: {msg}");
        let w = dm::write_channel(
            &db,
            "telegram",
            &dm::Op::Approve {
                code: "VNDALQ7C".into(),
                account: None,
            },
            0,
        );
        assert!(w.is_err(), "{what}: write succeeded");
        assert_eq!(sha(&db), before, "{what}: file changed");
        siblings_absent(&db);
    }
}

#[test]
fn a_missing_database_is_never_created() {
    let t = tempfile::tempdir().unwrap();
    let db = statedb::db_path(t.path());
    assert!(matches!(StateDb::open_read(&db), Err(DbError::Missing(_))));
    assert!(dm::write_channel(
        &db,
        "telegram",
        &dm::Op::Dismiss {
            code: "X".into(),
            account: None
        },
        0
    )
    .is_err());
    assert!(std::fs::symlink_metadata(t.path().join("state")).is_err());
}

#[test]
fn legacy_json_beside_the_database_is_a_warning() {
    let (t, _db) = state_with("06-node-surface-approved");
    std::fs::create_dir_all(t.path().join("devices")).unwrap();
    std::fs::create_dir_all(t.path().join("credentials")).unwrap();
    std::fs::write(t.path().join("devices/pending.json.migrated"), "{}").unwrap();
    std::fs::write(
        t.path().join("credentials/discord-alpha-allowFrom.json"),
        "{}",
    )
    .unwrap();
    let paths = clawpair::paths::Paths::resolve(Some(t.path()));
    let w = statedb::legacy_leftovers(&paths);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("discord-alpha-allowFrom.json") && w[0].contains("not read"));
    assert!(w[1].contains("pending.json.migrated") && w[1].contains("archive"));
}
