//! Clock jumps (`CLAWPAIR_NOW` for the real binary, `Msg::Tick` for the
//! console core): forward past an expiry, then back. A request dropped from
//! the files by a write does not come back when the clock goes back, nothing
//! shows a negative remaining time or age, and a countdown never shows more
//! than the full TTL when the clock is behind `createdAt`.

mod fault_support;

use std::fs;
use std::path::Path;

use clawpair::app::msg::Msg;
use clawpair::app::rows::*;
use clawpair::app::state::State;
use clawpair::app::update;
use clawpair::devices::{DeviceStore, RequestInput};
use fault_support::*;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use serde_json::Value;

/// 2026-03-01T12:00:00Z
const T0: i64 = 1_772_366_400_000;
const MIN: i64 = 60_000;

fn at(state: &Path, now: i64, args: &[&str]) -> Ran {
    let mut c = cmd(state, args);
    c.env("CLAWPAIR_NOW", now.to_string());
    run(c)
}

fn request(state: &Path, now: i64, sender: &str) -> String {
    let r = at(state, now, &["pairing", "request", "telegram", sender]);
    assert!(r.ok(), "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["created"], true, "{}", r.stdout);
    v["code"].as_str().unwrap().to_string()
}

fn listed_codes(state: &Path, now: i64) -> Vec<String> {
    let r = at(state, now, &["pairing", "list", "telegram", "--json"]);
    assert!(r.ok(), "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            // Only what the file holds: no derived (possibly negative) times.
            let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                ["id", "code", "createdAt", "lastSeenAt", "meta"],
                "{r}"
            );
            r["code"].as_str().unwrap().to_string()
        })
        .collect()
}

fn file_codes(state: &Path) -> Vec<String> {
    let text = fs::read_to_string(state.join("credentials/telegram-pairing.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_expired_dm_code_does_not_come_back_when_the_clock_goes_back() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    fs::create_dir(&state).unwrap(); // an explicit --state-dir must exist
    let a = request(&state, T0, "111");
    let b = request(&state, T0 + 30 * MIN, "222");

    // Forward past A's hour: list no longer shows it (and, a read, leaves the
    // file alone); the next write drops it from the file, even a failed one.
    assert_eq!(listed_codes(&state, T0 + 61 * MIN), [b.as_str()]);
    assert_eq!(file_codes(&state), [a.as_str(), b.as_str()]);
    let r = at(
        &state,
        T0 + 61 * MIN,
        &["pairing", "reject", "telegram", "ZZZZZZZZ"],
    );
    r.assert_clean_failure("No pending pairing request found", "reject after expiry");
    assert_eq!(file_codes(&state), [b.as_str()]);

    // Back to T0 (before B was even created): A stays gone, B is shown.
    assert_eq!(listed_codes(&state, T0), [b.as_str()]);
    let text = at(&state, T0, &["pairing", "list", "telegram"]);
    assert!(
        text.ok() && !text.stdout.contains(&a) && text.stdout.contains(&b),
        "{}",
        text.stdout
    );
    // …and cannot be approved: the sender is not let in by an old code.
    let r = at(&state, T0, &["pairing", "approve", "telegram", &a]);
    r.assert_clean_failure("No pending pairing request found", "approve A at T0");
    assert!(!state
        .join("credentials/telegram-default-allowFrom.json")
        .exists());

    // The sender writes again while the clock is even further back: a new code.
    let a2 = request(&state, T0 - 10 * MIN, "111");
    assert_ne!(a2, a);
    assert_eq!(
        listed_codes(&state, T0 - 20 * MIN),
        [a2.as_str(), b.as_str()]
    );

    // The same through approve: forward past both expiries, a failed approve
    // still persists the drop; back again, neither returns.
    let r = at(
        &state,
        T0 + 2 * 60 * MIN,
        &["pairing", "approve", "telegram", &b],
    );
    r.assert_clean_failure("No pending pairing request found", "approve B after expiry");
    assert!(file_codes(&state).is_empty());
    assert!(listed_codes(&state, T0 - 20 * MIN).is_empty());
}

fn device_request(store: &DeviceStore, id: &str, now: i64) -> String {
    store
        .request_pairing(
            RequestInput {
                device_id: id.into(),
                public_key: format!("key-{id}"),
                display_name: Some(format!("name-{id}")),
                role: Some("node".into()),
                ..Default::default()
            },
            now,
        )
        .unwrap()
        .request
        .request_id
}

fn pending_ids(state: &Path, now: i64) -> Vec<String> {
    let r = at(state, now, &["devices", "list", "--json"]);
    assert!(r.ok(), "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    v["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["requestId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_expired_device_request_does_not_come_back_once_a_write_dropped_it() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    fs::create_dir(&state).unwrap(); // an explicit --state-dir must exist
    let store = DeviceStore::new(state.join("devices"));
    let r1 = device_request(&store, "dev-1", T0);
    let r2 = device_request(&store, "dev-2", T0 + 4 * MIN);

    // Forward past R1's five minutes: listed without it (a read; nothing written)…
    assert_eq!(pending_ids(&state, T0 + 6 * MIN), [r2.as_str()]);
    // …and the next write persists the drop (spec: pruning is saved on write).
    let r = at(&state, T0 + 6 * MIN, &["devices", "approve", &r2]);
    assert!(r.ok(), "{}", r.stderr);
    let on_disk: Value =
        serde_json::from_str(&fs::read_to_string(state.join("devices/pending.json")).unwrap())
            .unwrap();
    assert_eq!(on_disk, serde_json::json!({}));

    // Back to T0: R1 does not return and cannot be approved.
    assert!(pending_ids(&state, T0).is_empty());
    let r = at(&state, T0, &["devices", "approve", &r1]);
    r.assert_clean_failure("unknown requestId", "approve R1 at T0");
    assert!(!r.stdout.contains("dev-1"));

    // A request from "the future" (clock later set back): age is never negative.
    let r3 = device_request(&store, "dev-3", T0 + 10 * MIN);
    let r = at(&state, T0 - 60 * MIN, &["devices", "list"]);
    assert!(r.ok(), "{}", r.stderr);
    let row = r.stdout.lines().find(|l| l.contains(&r3)).expect("listed");
    assert!(row.contains("just now") && !row.contains("ago"), "{row}");
    let st = store.load(T0 - 60 * MIN).unwrap();
    let p = st.pending.iter().find(|p| p.request_id == r3).unwrap();
    assert_eq!(
        p.remaining_ms(T0 - 60 * MIN),
        5 * MIN,
        "never more than the TTL"
    );
    assert_eq!(p.remaining_ms(T0 + 20 * MIN), 0, "never negative");
}

fn dm_row(created: i64) -> DmRequest {
    DmRequest {
        channel: "telegram".into(),
        account: None,
        id: "111".into(),
        code: "AAAA2222".into(),
        created_at_ms: Some(created),
        last_seen_at_ms: Some(created),
        meta: vec![],
        request_id: None,
    }
}

fn dev_row(ts: i64) -> DeviceRequest {
    DeviceRequest {
        request_id: "req-1".into(),
        device_id: "abcd".into(),
        display_name: Some("phone".into()),
        platform: None,
        client_id: None,
        client_mode: None,
        roles: vec!["node".into()],
        scopes: vec![],
        remote_ip: None,
        is_repair: false,
        ts,
        surface: None,
    }
}

fn screen(s: &State) -> String {
    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    t.draw(|f| clawpair::ui::render(f, s, &clawpair::ui::Theme::mono()))
        .unwrap();
    format!("{}", t.backend())
}

/// Every `mm:ss` countdown on the screen, in seconds.
fn countdowns(text: &str) -> Vec<i64> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for i in 0..b.len().saturating_sub(4) {
        let w = &b[i..i + 5];
        let digit = |c: u8| c.is_ascii_digit();
        if digit(w[0]) && digit(w[1]) && w[2] == b':' && digit(w[3]) && digit(w[4]) {
            let before = if i > 0 { b[i - 1] } else { b' ' };
            if !before.is_ascii_digit() {
                let mm = ((w[0] - b'0') * 10 + (w[1] - b'0')) as i64;
                let ss = ((w[3] - b'0') * 10 + (w[4] - b'0')) as i64;
                out.push(mm * 60 + ss);
            }
        }
    }
    out
}

/// The console's countdowns with the clock an hour behind `createdAt`, then
/// past the expiry, then back: at most the TTL, never negative, and an
/// expired row once dropped stays dropped.
#[test]
fn console_countdowns_stay_within_the_ttl_whatever_the_clock() {
    let mut s = State::new("~/.openclaw", T0);
    update(
        &mut s,
        Msg::DmLoaded(Ok(DmSnapshot {
            requests: vec![dm_row(T0)],
            allow: vec![],
            errors: vec![],
            ..Default::default()
        })),
    );
    update(
        &mut s,
        Msg::DevicesLoaded(Ok(DeviceSnapshot {
            pending: vec![dev_row(T0)],
            paired: vec![],
            errors: vec![],
        })),
    );
    // The clock jumps an hour back.
    update(&mut s, Msg::Tick(T0 - 60 * MIN));
    let text = screen(&s);
    let c = countdowns(&text);
    assert!(c.contains(&3600) && c.contains(&300), "{c:?}\n{text}");
    assert!(
        c.iter().all(|&x| x <= 3600),
        "a countdown beyond the hour: {c:?}\n{text}"
    );
    assert_eq!(dm_row(T0).remaining_ms(T0 - 60 * MIN), Some(DM_TTL_MS));
    assert_eq!(dev_row(T0).remaining_ms(T0 - 60 * MIN), DEVICE_TTL_MS);
    assert_eq!(dm_row(T0).remaining_ms(T0 + 2 * DM_TTL_MS), Some(0));
    assert_eq!(dev_row(T0).remaining_ms(T0 + 2 * DEVICE_TTL_MS), 0);

    // Forward past both expiries: both rows go.
    update(&mut s, Msg::Tick(T0 + DM_TTL_MS + 1));
    assert!(s.dm.is_empty() && s.devices.is_empty());
    // Back again: dropped rows do not come back by themselves…
    update(&mut s, Msg::Tick(T0));
    assert!(s.dm.is_empty() && s.devices.is_empty());
    // …nor from a reload of files a writer has pruned meanwhile.
    update(
        &mut s,
        Msg::DmLoaded(Ok(DmSnapshot {
            requests: vec![],
            allow: vec![],
            errors: vec![],
            ..Default::default()
        })),
    );
    assert!(s.dm.is_empty());
    assert!(countdowns(&screen(&s)).is_empty());
}
