//! `clawpair devices …` run as a real process on fixture state with a frozen
//! clock; outputs compared with what the real `openclaw devices` printed
//! (`tests/fixtures/devices/cli/`).

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

#[path = "support/fixtures.rs"]
mod fixtures;
const BIN: &str = env!("CARGO_BIN_EXE_clawpair");

const NODE: &str = "9aee8cff109f16dccb9cfa1d36e3419895adf087582a248c6f324d156891a169";
const REQ: &str = "f7913748-d8ff-4686-ada6-0a02bb87f57e";

fn fixture(name: &str) -> String {
    fixtures::read(&format!("devices/{name}"))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// OpenClaw's `paired.json` right after approval, minus the node: the state
/// in which the real `devices list` was taken (listener + CLI device paired).
fn paired_at_listing() -> String {
    let mut v = json(&fixture("gateway-state/paired.json"));
    v.as_object_mut().unwrap().shift_remove(NODE);
    clawpair::jsonfmt::to_pretty(&v)
}

struct State {
    tmp: tempfile::TempDir,
}

impl State {
    fn new(pending: Option<&str>, paired: Option<String>) -> State {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("devices");
        fs::create_dir(&dir).unwrap();
        if let Some(p) = pending {
            fs::write(
                dir.join("pending.json"),
                fixture(&format!("gateway-state/{p}")),
            )
            .unwrap();
        }
        if let Some(p) = paired {
            fs::write(dir.join("paired.json"), p).unwrap();
        }
        State { tmp }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn file(&self, name: &str) -> String {
        fs::read_to_string(self.tmp.path().join("devices").join(name)).unwrap_or_default()
    }

    fn files(&self) -> (String, String) {
        (self.file("pending.json"), self.file("paired.json"))
    }

    fn run(&self, now: i64, args: &[&str]) -> Output {
        run_in(self.dir(), now, args)
    }
}

fn run_in(state_dir: &Path, now: i64, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--state-dir")
        .arg(state_dir)
        .args(args)
        .env("CLAWPAIR_NOW", now.to_string())
        .env_remove("OPENCLAW_STATE_DIR")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const LISTED_AT: i64 = 1_795_469_144_000;
const APPROVED_AT: i64 = 1_795_469_149_066;

#[test]
fn list_json_equals_real_cli_output() {
    let st = State::new(Some("pending.json"), Some(paired_at_listing()));
    let before = st.files();
    let o = st.run(LISTED_AT, &["devices", "list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), fixture("cli/devices-list.json"));
    assert_eq!(st.files(), before, "list never writes");
}

#[test]
fn list_text_equals_real_cli_output() {
    let st = State::new(Some("pending.json"), Some(paired_at_listing()));
    let o = st.run(LISTED_AT, &["devices", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), fixture("cli/devices-list.txt"));
}

#[test]
fn list_final_json_equals_real_cli_output() {
    let st = State::new(
        Some("pending-after-approve.json"),
        Some(fixture("gateway-state/paired-after-rotate-revoke.json")),
    );
    let o = st.run(1_795_469_190_000, &["devices", "list", "--json"]);
    assert_eq!(stdout(&o), fixture("cli/devices-list-final.json"));
    let o = st.run(1_795_469_190_000, &["devices", "list"]);
    let text = stdout(&o);
    assert!(text.starts_with("Paired (4)\n"), "{text}");
    assert!(text.contains("node (revoked), operator"), "{text}");
    assert!(!text.contains("Pending"));
}

#[test]
fn list_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run_in(tmp.path(), 0, &["devices", "list"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "No device pairing entries.\n");
    let o = run_in(tmp.path(), 0, &["devices", "list", "--json"]);
    assert_eq!(stdout(&o), "{\n  \"pending\": [],\n  \"paired\": []\n}\n");
    assert!(!tmp.path().join("devices").exists(), "list creates nothing");
}

#[test]
fn approve_json_equals_real_cli_output() {
    let st = State::new(Some("pending.json"), Some(paired_at_listing()));
    let o = st.run(APPROVED_AT, &["devices", "approve", REQ, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), fixture("cli/devices-approve.json"));
    assert_eq!(st.file("pending.json"), "{}");
    // paired.json now equals OpenClaw's, up to the fresh token.
    let mut want = json(&fixture("gateway-state/paired.json"));
    let got = json(&st.file("paired.json"));
    let token = got[NODE]["tokens"]["node"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(token.len(), 43);
    assert!(
        !stdout(&o).contains(&token),
        "approve never prints the token"
    );
    want[NODE]["tokens"]["node"]["token"] = Value::from(token);
    // OpenClaw's file has the CLI device before the node; ours appends the
    // node after the devices that were there: same content.
    assert_eq!(got, want);
}

#[test]
fn approve_text_and_latest() {
    let st = State::new(Some("pending.json"), Some(paired_at_listing()));
    let o = st.run(APPROVED_AT, &["devices", "approve", REQ]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), format!("Approved {NODE} ({REQ})\n"));
    // Nothing left: --latest and no argument both fail like OpenClaw.
    for args in [
        &["devices", "approve"][..],
        &["devices", "approve", "--latest"][..],
    ] {
        let o = st.run(APPROVED_AT, args);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            stderr(&o),
            "clawpair: No pending device pairing requests to approve\n"
        );
        assert!(stdout(&o).is_empty());
    }
}

#[test]
fn approve_without_id_takes_newest_ts() {
    let st = State::new(None, None);
    let mut pending = json(&fixture("gateway-state/pending.json"));
    let mut newer = pending[REQ].clone();
    let other = "fc10b07e109c47094b58a10dfe2d56682cffc984a007579cffd8cde78041f5b5";
    let rid = "67d90fd6-f25f-4f10-839f-761cf7342b50";
    newer["requestId"] = Value::from(rid);
    newer["deviceId"] = Value::from(other);
    newer["ts"] = Value::from(1_795_469_143_990_i64);
    pending.as_object_mut().unwrap().insert(rid.into(), newer);
    fs::write(
        st.dir().join("devices/pending.json"),
        clawpair::jsonfmt::to_pretty(&pending),
    )
    .unwrap();
    let o = st.run(1_795_469_144_100, &["devices", "approve", "--latest"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), fixture("cli/devices-approve-latest.txt"));
    let o = st.run(1_795_469_144_200, &["devices", "approve"]);
    assert_eq!(stdout(&o), format!("Approved {NODE} ({REQ})\n"));
}

#[test]
fn reject_text_json_and_unknown() {
    let st = State::new(Some("pending.json"), Some(paired_at_listing()));
    let o = st.run(LISTED_AT, &["devices", "reject", REQ, "--json"]);
    assert!(o.status.success());
    let want = format!("{{\n  \"requestId\": \"{REQ}\",\n  \"deviceId\": \"{NODE}\"\n}}\n");
    assert_eq!(stdout(&o), want);
    assert_eq!(st.file("pending.json"), "{}");
    let before = st.files();
    let o = st.run(LISTED_AT, &["devices", "reject", REQ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "clawpair: unknown requestId\n");
    assert!(stdout(&o).is_empty());
    assert_eq!(st.files(), before, "files unchanged");

    let st = State::new(Some("pending.json"), Some(paired_at_listing()));
    let o = st.run(LISTED_AT, &["devices", "reject", REQ]);
    assert_eq!(stdout(&o), format!("Rejected {NODE}\n"));
}

#[test]
fn remove_text_json_and_unknown() {
    let st = State::new(None, Some(fixture("gateway-state/paired.json")));
    let o = st.run(LISTED_AT, &["devices", "remove", NODE]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), format!("Removed {NODE}\n"));
    assert_eq!(st.file("paired.json"), paired_at_listing());
    let before = st.files();
    let o = st.run(LISTED_AT, &["devices", "remove", NODE, "--json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "clawpair: unknown deviceId\n");
    assert_eq!(st.files(), before);
    let cli = "05a4972ab14700f552295c928e154f9ff853e7f8788441ceb598d5c438f50c2c";
    let o = st.run(LISTED_AT, &["devices", "remove", cli, "--json"]);
    assert_eq!(stdout(&o), format!("{{\n  \"deviceId\": \"{cli}\"\n}}\n"));
}

#[test]
fn rotate_and_revoke_print_real_payloads() {
    let st = State::new(
        Some("pending-after-approve.json"),
        Some(fixture("gateway-state/paired-after-role-upgrade.json")),
    );
    let o = st.run(
        1_795_469_180_448,
        &["devices", "rotate", "--device", NODE, "--role", "node"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = json(&stdout(&o));
    let token = out["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 43);
    let mut want = json(&fixture("cli/devices-rotate.json"));
    want["token"] = Value::from(token.clone());
    assert_eq!(
        stdout(&o),
        clawpair::jsonfmt::to_pretty_nl(&want),
        "same bytes as OpenClaw, fresh token"
    );
    assert_eq!(
        json(&st.file("paired.json"))[NODE]["tokens"]["node"]["token"],
        token.as_str()
    );
    let o = st.run(
        1_795_469_181_918,
        &["devices", "revoke", "--device", NODE, "--role", "node"],
    );
    assert!(o.status.success());
    assert_eq!(stdout(&o), fixture("cli/devices-revoke.json"));
    let mut want = json(&fixture("gateway-state/paired-after-rotate-revoke.json"));
    want[NODE]["tokens"]["node"]["token"] = Value::from(token);
    assert_eq!(json(&st.file("paired.json")), want);

    // Failures: exit 1, OpenClaw's message, nothing written.
    let before = st.files();
    for args in [
        &[
            "devices",
            "rotate",
            "--device",
            NODE,
            "--role",
            "node",
            "--scope",
            "operator.admin",
        ][..],
        &["devices", "rotate", "--device", "nope", "--role", "node"][..],
        &["devices", "revoke", "--device", NODE, "--role", "admin"][..],
    ] {
        let o = st.run(1_795_469_182_000, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&o), "clawpair: unknown deviceId/role\n");
        assert!(stdout(&o).is_empty());
    }
    assert_eq!(st.files(), before);
    // Explicit scopes within the approval.
    let o = st.run(
        1_795_469_183_000,
        &[
            "devices",
            "rotate",
            "--device",
            NODE,
            "--role",
            "operator",
            "--scope",
            "operator.read",
        ],
    );
    assert!(o.status.success());
    assert_eq!(
        json(&stdout(&o))["scopes"],
        serde_json::json!(["operator.read"])
    );
}

#[test]
fn malformed_file_is_refused_then_repaired() {
    let st = State::new(None, Some(paired_at_listing()));
    let bad = "{\n  \"oops\": [1,\n}";
    fs::write(st.dir().join("devices/pending.json"), bad).unwrap();
    for args in [
        &["devices", "list"][..],
        &["devices", "list", "--json"][..],
        &["devices", "approve"][..],
        &["devices", "reject", REQ][..],
    ] {
        let o = st.run(LISTED_AT, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = stderr(&o);
        assert!(
            e.contains("pending.json") && e.contains("line 3, column 1"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1, "one line: {e}");
    }
    assert_eq!(st.file("pending.json"), bad, "bytes untouched");
    let o = st.run(1_772_366_400_000, &["devices", "approve", "--repair"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("pending.json.corrupt-20260301T120000Z"));
    assert!(stderr(&o).contains("No pending device pairing requests to approve"));
    let moved = fs::read_to_string(
        st.dir()
            .join("devices/pending.json.corrupt-20260301T120000Z"),
    )
    .unwrap();
    assert_eq!(moved, bad);
    let o = st.run(LISTED_AT, &["devices", "list", "--json"]);
    assert!(o.status.success());
}

#[test]
fn device_supplied_text_is_sanitised_in_tables() {
    let st = State::new(None, None);
    let mut pending = json(&fixture("gateway-state/pending.json"));
    pending[REQ]["displayName"] = Value::from("evil\u{1b}]52;c;AAAA\u{7}\u{1b}[2Jname\u{202e}");
    fs::write(
        st.dir().join("devices/pending.json"),
        clawpair::jsonfmt::to_pretty(&pending),
    )
    .unwrap();
    let o = st.run(LISTED_AT, &["devices", "list"]);
    let text = stdout(&o);
    assert!(text.contains("evilname"), "{text}");
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'));
    // JSON keeps the exact value (escaped by JSON itself).
    let o = st.run(LISTED_AT, &["devices", "list", "--json"]);
    assert!(stdout(&o).contains("\\u001b]52"));
    // Approving shows only ids.
    let o = st.run(LISTED_AT, &["devices", "approve", REQ]);
    assert_eq!(stdout(&o), format!("Approved {NODE} ({REQ})\n"));
}

#[test]
fn no_argument_combination_panics() {
    let st = State::new(Some("pending.json"), Some(paired_at_listing()));
    let cases: Vec<Vec<&str>> = vec![
        vec!["devices"],
        vec!["devices", "list", "--bogus"],
        vec!["devices", "approve", "--latest", REQ],
        vec!["devices", "approve", "", "--json"],
        vec!["devices", "approve", "a", "b"],
        vec!["devices", "reject"],
        vec!["devices", "reject", ""],
        vec!["devices", "reject", "\u{1b}[31m"],
        vec!["devices", "remove"],
        vec!["devices", "remove", "ü✓", "--json"],
        vec!["devices", "rotate"],
        vec!["devices", "rotate", "--device", NODE],
        vec!["devices", "rotate", "--device", NODE, "--role", ""],
        vec![
            "devices", "rotate", "--device", "", "--role", "node", "--scope", "",
        ],
        vec!["devices", "revoke", "--role", "node"],
        vec![
            "devices", "revoke", "--device", NODE, "--role", "", "--json",
        ],
        vec!["devices", "approve", "--repair", "--latest", "--json"],
    ];
    for args in cases {
        let o = st.run(LISTED_AT, &args);
        let code = o.status.code();
        assert!(matches!(code, Some(0..=2)), "{args:?} exited {code:?}");
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
    }
    // A state "directory" that is a file, and a devices path that is a file.
    let f = st.dir().join("plainfile");
    fs::write(&f, "x").unwrap();
    for args in [&["devices", "list"][..], &["devices", "approve", "x"][..]] {
        let o = run_in(&f, 0, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(!stderr(&o).contains("panicked"));
    }
    // Hostile file contents.
    for content in [
        "null",
        "[]",
        "\"str\"",
        "{\"a\": 1}",
        "{\"a\": {\"requestId\": 5}}",
        "{\"a\": {\"requestId\": \"b\", \"deviceId\": \"d\", \"publicKey\": \"k\"}}",
        "\u{0}\u{1}",
        "{\"a\": {\"requestId\": \"a\", \"deviceId\": \"d\", \"publicKey\": \"k\", \"ts\": 1e400}}",
    ] {
        fs::write(st.dir().join("devices/pending.json"), content).unwrap();
        for args in [&["devices", "list"][..], &["devices", "approve"][..]] {
            let o = st.run(LISTED_AT, args);
            assert_eq!(o.status.code(), Some(1), "{content:?} {args:?}");
            assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        }
        assert_eq!(st.file("pending.json"), content, "never overwritten");
    }
}

#[test]
fn approve_role_upgrade_json_equals_real_cli_output() {
    let st = State::new(
        Some("pending-repair.json"),
        Some(fixture("gateway-state/paired-after-device-token-use.json")),
    );
    let o = st.run(
        1_795_469_178_970,
        &[
            "devices",
            "approve",
            "286c084c-508f-469c-87c0-24b6552daa95",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), fixture("cli/devices-approve-role-upgrade.json"));
}

/// A pending file holding one request with the given ids (other fields from
/// the fixture request).
fn pending_with(request_id: &str, device_id: &str) -> String {
    let pending = json(&fixture("gateway-state/pending.json"));
    let mut req = pending[REQ].clone();
    req["requestId"] = Value::from(request_id);
    req["deviceId"] = Value::from(device_id);
    let mut m = serde_json::Map::new();
    m.insert(request_id.to_string(), req);
    clawpair::jsonfmt::to_pretty(&Value::Object(m))
}

#[test]
fn reject_outputs_equal_real_cli_output() {
    let st = State::new(None, None);
    fs::write(
        st.dir().join("devices/pending.json"),
        pending_with(
            "20614203-fd16-47d9-bca9-34e54cd92058",
            "ca25064fcb712b223b0936067e459910e114701ad3b2dd4d50ca1fba16579dd6",
        ),
    )
    .unwrap();
    let o = st.run(
        LISTED_AT,
        &[
            "devices",
            "reject",
            "20614203-fd16-47d9-bca9-34e54cd92058",
            "--json",
        ],
    );
    assert_eq!(stdout(&o), fixture("cli/devices-reject.json"));

    let rid = "4a1c2b3d-0000-4000-8000-000000000001";
    fs::write(
        st.dir().join("devices/pending.json"),
        pending_with(
            rid,
            "720de01482269b5f44da4fdbe1f368fe5d07b9aa32e1c192dbfdd2ea76c2a8e3",
        ),
    )
    .unwrap();
    let o = st.run(LISTED_AT, &["devices", "reject", rid]);
    assert_eq!(stdout(&o), fixture("cli/devices-reject.txt"));
}

#[test]
fn extreme_timestamps_do_not_panic() {
    for ts in [i64::MIN, -1, 0, i64::MAX] {
        let st = State::new(None, None);
        let mut pending = json(&fixture("gateway-state/pending.json"));
        pending[REQ]["ts"] = Value::from(ts);
        fs::write(
            st.dir().join("devices/pending.json"),
            clawpair::jsonfmt::to_pretty(&pending),
        )
        .unwrap();
        let mut paired = json(&paired_at_listing());
        for (_, d) in paired.as_object_mut().unwrap() {
            d["approvedAtMs"] = Value::from(ts);
            d["createdAtMs"] = Value::from(ts);
        }
        fs::write(
            st.dir().join("devices/paired.json"),
            clawpair::jsonfmt::to_pretty(&paired),
        )
        .unwrap();
        for now in [i64::MIN, 0, LISTED_AT, i64::MAX] {
            for args in [&["devices", "list"][..], &["devices", "list", "--json"][..]] {
                let o = st.run(now, args);
                assert_eq!(o.status.code(), Some(0), "ts {ts} now {now} {args:?}");
            }
        }
        let o = st.run(i64::MAX, &["devices", "approve", "--json"]);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
}

#[test]
fn hand_written_non_uuid_request_is_listed_and_rejected() {
    let st = State::new(None, None);
    fs::write(
        st.dir().join("devices/pending.json"),
        pending_with("manual-1", NODE),
    )
    .unwrap();
    let o = st.run(LISTED_AT, &["devices", "list", "--json"]);
    assert_eq!(json(&stdout(&o))["pending"][0]["requestId"], "manual-1");
    let o = st.run(LISTED_AT, &["devices", "reject", "manual-1"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), format!("Rejected {NODE}\n"));
    assert_eq!(st.file("pending.json"), "{}");
}
