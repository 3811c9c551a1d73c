//! Several `clawpair devices …` processes (plus in-process writers of this
//! test) change one state directory at the same time: every update survives,
//! and both files parse at every moment.

use std::collections::BTreeSet;
use std::fs;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clawpair::devices::{DeviceStore, RequestInput};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_clawpair");
const NOW: i64 = 1_795_469_143_890;

fn input(device_id: &str, role: &str) -> RequestInput {
    RequestInput {
        device_id: device_id.to_string(),
        public_key: format!("key-{device_id}"),
        display_name: Some(format!("name-{device_id}")),
        role: Some(role.to_string()),
        remote_ip: Some("192.168.77.10".into()),
        ..Default::default()
    }
}

fn spawn(state: &std::path::Path, args: &[&str]) -> Child {
    Command::new(BIN)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env("CLAWPAIR_NOW", NOW.to_string())
        .env_remove("OPENCLAW_STATE_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn concurrent_processes_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().to_path_buf();
    let store = DeviceStore::new(state.join("devices"));

    // Two paired devices: A (rotated by several processes), B (revoked once).
    for (dev, role) in [("dev-a", "node"), ("dev-b", "operator")] {
        let r = store.request_pairing(input(dev, role), NOW).unwrap();
        store.approve(&r.request.request_id, NOW).unwrap();
    }
    // Twelve pending requests.
    let mut ids = Vec::new();
    for i in 0..12 {
        let r = store
            .request_pairing(input(&format!("pend-{i}"), "node"), NOW)
            .unwrap();
        ids.push(r.request.request_id);
    }

    // A reader that checks both files parse at every moment.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let dir = state.join("devices");
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for name in ["pending.json", "paired.json"] {
                    let text = fs::read_to_string(dir.join(name)).unwrap();
                    let v: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("{name} unparsable mid-run: {e}"));
                    assert!(v.is_object());
                    reads += 1;
                }
            }
            reads
        })
    };

    let mut children: Vec<(String, Child)> = Vec::new();
    for id in &ids[0..6] {
        children.push((
            format!("approve {id}"),
            spawn(&state, &["devices", "approve", id]),
        ));
    }
    for id in &ids[6..10] {
        children.push((
            format!("reject {id}"),
            spawn(&state, &["devices", "reject", id]),
        ));
    }
    for _ in 0..3 {
        children.push((
            "rotate".into(),
            spawn(
                &state,
                &["devices", "rotate", "--device", "dev-a", "--role", "node"],
            ),
        ));
    }
    children.push((
        "revoke".into(),
        spawn(
            &state,
            &[
                "devices", "revoke", "--device", "dev-b", "--role", "operator",
            ],
        ),
    ));

    // Meanwhile this process files new requests through the same locks.
    for i in 0..8 {
        let r = store
            .request_pairing(input(&format!("late-{i}"), "node"), NOW)
            .unwrap();
        assert!(r.created);
    }

    let mut rotated_tokens = BTreeSet::new();
    for (what, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if what == "rotate" {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            rotated_tokens.insert(v["token"].as_str().unwrap().to_string());
        }
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();
    assert!(reads > 0);

    let st = store.load(NOW).unwrap();
    let pending: BTreeSet<String> = st.pending.iter().map(|p| p.device_id.clone()).collect();
    let mut want: BTreeSet<String> = ["pend-10", "pend-11"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    want.extend((0..8).map(|i| format!("late-{i}")));
    assert_eq!(
        pending, want,
        "rejected/approved gone, untouched and new requests kept"
    );

    let paired: BTreeSet<String> = st.paired.iter().map(|d| d.device_id.clone()).collect();
    let mut want: BTreeSet<String> = ["dev-a", "dev-b"].iter().map(|s| s.to_string()).collect();
    want.extend((0..6).map(|i| format!("pend-{i}")));
    assert_eq!(paired, want, "every approval kept");

    assert_eq!(rotated_tokens.len(), 3, "three distinct new tokens");
    let a = st.paired_by_id("dev-a").unwrap().token("node").unwrap();
    assert!(
        rotated_tokens.contains(&a.token),
        "the last rotation is stored"
    );
    assert_eq!(a.rotated_at_ms, Some(NOW));
    let b = st.paired_by_id("dev-b").unwrap().token("operator").unwrap();
    assert_eq!(b.revoked_at_ms, Some(NOW));

    let mut names: Vec<String> = fs::read_dir(state.join("devices"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["paired.json", "pending.json"],
        "no lock or temp files left"
    );
}

#[test]
fn a_held_lock_is_respected() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().to_path_buf();
    let store = DeviceStore::new(state.join("devices"));
    let r = store.request_pairing(input("dev-x", "node"), NOW).unwrap();
    let before = fs::read_to_string(store.pending_path()).unwrap();

    // Another live process (this one) holds pending.json.lock.
    let lock = state.join("devices/pending.json.lock");
    let now = clawpair::clock::system_now_ms();
    fs::write(
        &lock,
        format!(
            "{{\n  \"pid\": {},\n  \"createdAt\": \"{}\"\n}}",
            std::process::id(),
            clawpair::clock::format_iso_ms(now)
        ),
    )
    .unwrap();
    let child = spawn(&state, &["devices", "reject", &r.request.request_id]);
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert_eq!(
        fs::read_to_string(store.pending_path()).unwrap(),
        before,
        "nothing written while the lock is held"
    );
    fs::remove_file(&lock).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fs::read_to_string(store.pending_path()).unwrap(), "{}");
    assert!(!lock.exists());
}
