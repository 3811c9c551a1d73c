//! The devices store against the real OpenClaw files in
//! `tests/fixtures/devices/gateway-state` (README "A conforming
//! implementation must …"): each test copies fixture files into a temporary
//! `devices/` directory, runs the store with a frozen clock and compares bytes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use clawpair::devices::payload::{list_payload_of, redact_device};
use clawpair::devices::{
    ConnectClaim, ConnectMeta, DeviceStore, PairingReason, RequestInput, TokenFailure,
};
use clawpair::error::StoreError;
use clawpair::jsonfmt;
use serde_json::Value;

#[path = "support/fixtures.rs"]
mod fixtures;

const NODE: &str = "9aee8cff109f16dccb9cfa1d36e3419895adf087582a248c6f324d156891a169";
const CLI_DEV: &str = "05a4972ab14700f552295c928e154f9ff853e7f8788441ceb598d5c438f50c2c";
const REQ: &str = "f7913748-d8ff-4686-ada6-0a02bb87f57e";
const REPAIR_REQ: &str = "286c084c-508f-469c-87c0-24b6552daa95";

fn fixture(name: &str) -> String {
    fixtures::read(&format!("devices/{name}"))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// A temp dir holding `devices/` with the given pending and paired fixture files.
fn setup(pending: Option<&str>, paired: Option<&str>) -> (tempfile::TempDir, DeviceStore) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devices");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    if let Some(p) = pending {
        fs::write(
            dir.join("pending.json"),
            fixture(&format!("gateway-state/{p}")),
        )
        .unwrap();
    }
    if let Some(p) = paired {
        fs::write(
            dir.join("paired.json"),
            fixture(&format!("gateway-state/{p}")),
        )
        .unwrap();
    }
    let store = DeviceStore::new(&dir);
    (tmp, store)
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn read(p: &PathBuf) -> String {
    fs::read_to_string(p).unwrap()
}

/// Replaces `tokens.<role>.token` of `device` in a paired map.
fn set_token(paired: &mut Value, device: &str, role: &str, token: &str) {
    paired[device]["tokens"][role]["token"] = Value::from(token);
}

#[test]
fn approving_fixture_request_reproduces_openclaw_paired_entry() {
    let (_tmp, store) = setup(Some("pending.json"), Some("paired-before-approve.json"));
    let now = 1_795_469_149_066; // the approval time in the fixture
    let approved = store.approve(REQ, now).unwrap();
    assert_eq!(approved.request.request_id, REQ);
    let token = approved.device.token("node").unwrap().token.clone();
    assert_eq!(token.len(), 43);
    assert_ne!(
        token, "zFQ-tJ9PXZZtQNPNxUGZ-sFtHXY-ckF8AKW_p3Gvu5M",
        "fresh token"
    );

    // Expected: OpenClaw's paired.json without the CLI's own device (which
    // OpenClaw paired in between), with our fresh token.
    let mut expected = json(&fixture("gateway-state/paired.json"));
    expected.as_object_mut().unwrap().shift_remove(CLI_DEV);
    set_token(&mut expected, NODE, "node", &token);
    assert_eq!(read(&store.paired_path()), jsonfmt::to_pretty(&expected));
    assert_eq!(
        read(&store.pending_path()),
        fixture("gateway-state/pending-after-approve.json")
    );
    assert_eq!(mode(&store.pending_path()), 0o600);
    assert_eq!(mode(&store.paired_path()), 0o600);
    assert_eq!(mode(store.devices_dir()), 0o700);
    assert!(!read(&store.paired_path()).ends_with('\n'));
    assert_eq!(
        names(store.devices_dir()),
        ["paired.json", "pending.json"],
        "no temp or lock files left"
    );
    // The approve response (redacted) equals the real CLI's --json output.
    let mut want = json(&fixture("cli/devices-approve.json"));
    let got = redact_device(&approved.device);
    assert_eq!(got, want["device"]);
    want["device"] = got;
    assert_eq!(
        jsonfmt::to_pretty_nl(&want),
        fixture("cli/devices-approve.json")
    );
}

#[test]
fn fresh_state_dir_is_created_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state/devices");
    let store = DeviceStore::new(&dir);
    let out = store
        .request_pairing(
            RequestInput {
                device_id: NODE.into(),
                public_key: "cP7FaQv3sOjAxa_Vq-U4c6-4P7Fm_gpDA8452quCF20".into(),
                role: Some("node".into()),
                ..Default::default()
            },
            1_000,
        )
        .unwrap();
    assert!(out.created);
    assert!(uuid::Uuid::parse_str(&out.request.request_id).is_ok());
    assert_eq!(out.request.request_id.len(), 36);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&tmp.path().join("state")), 0o700);
    assert_eq!(mode(&store.pending_path()), 0o600);
    assert_eq!(
        read(&store.paired_path()),
        "{}",
        "empty map is written as {{}}"
    );
    store.approve(&out.request.request_id, 2_000).unwrap();
    assert_eq!(read(&store.pending_path()), "{}");
    assert_eq!(mode(&store.paired_path()), 0o600);
    assert_eq!(names(&dir), ["paired.json", "pending.json"]);
}

#[test]
fn role_upgrade_approval_matches_fixture() {
    let (_tmp, store) = setup(
        Some("pending-repair.json"),
        Some("paired-after-device-token-use.json"),
    );
    let now = 1_795_469_178_970;
    let approved = store.approve(REPAIR_REQ, now).unwrap();
    let token = approved.device.token("operator").unwrap().token.clone();
    let after = json(&read(&store.paired_path()));
    let mut want = json(&fixture("gateway-state/paired-after-role-upgrade.json"));
    set_token(&mut want, NODE, "operator", &token);
    assert_eq!(after[NODE], want[NODE]);
    assert_eq!(
        jsonfmt::to_pretty(&after[NODE]),
        jsonfmt::to_pretty(&want[NODE]),
        "same key order too"
    );
    // Other devices untouched, byte for byte.
    let before = json(&fixture("gateway-state/paired-after-device-token-use.json"));
    assert_eq!(after[CLI_DEV], before[CLI_DEV]);
    // The redacted device equals the real CLI's role-upgrade output.
    let cli = json(&fixture("cli/devices-approve-role-upgrade.json"));
    assert_eq!(redact_device(&approved.device), cli["device"]);
}

#[test]
fn rotate_then_revoke_matches_fixture() {
    let (_tmp, store) = setup(
        Some("pending-after-approve.json"),
        Some("paired-after-role-upgrade.json"),
    );
    let rotated = store.rotate(NODE, "node", None, 1_795_469_180_448).unwrap();
    assert_ne!(rotated.token, "zFQ-tJ9PXZZtQNPNxUGZ-sFtHXY-ckF8AKW_p3Gvu5M");
    assert_eq!(rotated.rotated_at_ms, Some(1_795_469_180_448));
    let revoked = store.revoke(NODE, "node", 1_795_469_181_918).unwrap();
    assert_eq!(revoked.token, rotated.token);
    let after = json(&read(&store.paired_path()));
    let mut want = json(&fixture("gateway-state/paired-after-rotate-revoke.json"));
    set_token(&mut want, NODE, "node", &rotated.token);
    assert_eq!(
        after, want,
        "same content (key order is not part of the format)"
    );
    // And the final listing equals the real CLI's.
    let state = store.load(1_795_469_182_000).unwrap();
    assert_eq!(
        jsonfmt::to_pretty_nl(&list_payload_of(&state)),
        fixture("cli/devices-list-final.json")
    );
}

#[test]
fn list_payload_matches_real_cli_json() {
    // The listing was taken while the node was pending and the listener and
    // the CLI's own device were paired.
    let (_tmp, store) = setup(Some("pending.json"), Some("paired.json"));
    store.remove(NODE, 1_795_469_143_900).unwrap();
    let payload = store.list_payload(1_795_469_144_000).unwrap();
    assert_eq!(
        jsonfmt::to_pretty_nl(&payload),
        fixture("cli/devices-list.json")
    );
    let text = jsonfmt::to_pretty(&payload);
    assert!(!text.contains("\"token\""), "no token strings in the list");
    assert!(!text.contains("approvedScopes"));
}

#[test]
fn malformed_file_is_reported_and_never_overwritten() {
    let (_tmp, store) = setup(None, Some("paired.json"));
    let bad = "{\n  \"x\": {\n    \"requestId\": \"x\",\n  }\n}";
    fs::write(store.pending_path(), bad).unwrap();
    let paired_before = read(&store.paired_path());
    for result in [
        store.approve("x", 1).map(|_| ()),
        store.reject("x", 1).map(|_| ()),
        store.remove(NODE, 1).map(|_| ()),
        store.rotate(NODE, "node", None, 1).map(|_| ()),
        store.load(1).map(|_| ()),
    ] {
        match result {
            Err(StoreError::Malformed {
                path, line, column, ..
            }) => {
                assert_eq!(path, store.pending_path());
                assert_eq!((line, column), (4, 3));
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
    }
    assert_eq!(read(&store.pending_path()), bad, "bytes untouched");
    assert_eq!(read(&store.paired_path()), paired_before);
    let msg = store.approve("x", 1).unwrap_err().to_string();
    assert!(msg.contains("line 4, column 3"), "{msg}");

    let moved = store.repair(1_772_366_400_000).unwrap();
    assert_eq!(moved.len(), 1);
    assert!(moved[0]
        .to_string_lossy()
        .ends_with("pending.json.corrupt-20260301T120000Z"));
    assert_eq!(read(&moved[0]), bad, "moved aside intact");
    assert!(!store.pending_path().exists());
    assert_eq!(read(&store.paired_path()), paired_before, "good file kept");
    assert_eq!(store.load(1).unwrap().pending.len(), 0, "starts fresh");
    assert!(
        store.repair(1).unwrap().is_empty(),
        "nothing more to repair"
    );
}

#[test]
fn wrong_shape_names_file_and_key_and_writes_nothing() {
    let (_tmp, store) = setup(Some("pending.json"), Some("paired.json"));
    let text = read(&store.pending_path()).replace("\"ts\": 1795469143890", "\"ts\": \"soon\"");
    fs::write(store.pending_path(), &text).unwrap();
    let paired_before = read(&store.paired_path());
    let err = store.remove(NODE, 1_795_469_144_000).unwrap_err();
    match &err {
        StoreError::Shape { path, message } => {
            assert_eq!(path, &store.pending_path());
            assert!(
                message.contains(REQ) && message.contains("`ts`"),
                "{message}"
            );
        }
        other => panic!("expected Shape, got {other:?}"),
    }
    assert_eq!(read(&store.pending_path()), text);
    assert_eq!(
        read(&store.paired_path()),
        paired_before,
        "remove did not happen"
    );
    // Top level of the wrong type.
    fs::write(store.paired_path(), "[]").unwrap();
    assert!(matches!(
        store.load(0),
        Err(StoreError::Shape { .. }) | Err(StoreError::Malformed { .. })
    ));
    assert_eq!(store.repair(1_772_366_400_000).unwrap().len(), 2);
}

#[test]
fn missing_and_blank_files_are_empty() {
    let (_tmp, store) = setup(None, None);
    assert_eq!(store.load(0).unwrap().pending.len(), 0);
    fs::write(store.pending_path(), " \n\t").unwrap();
    fs::write(store.paired_path(), "").unwrap();
    let st = store.load(0).unwrap();
    assert!(st.pending.is_empty() && st.paired.is_empty());
    assert!(matches!(
        store.approve("nope", 0),
        Err(StoreError::NotFound(m)) if m == "unknown requestId"
    ));
}

#[test]
fn unknown_keys_survive_rewrites() {
    let (_tmp, store) = setup(Some("pending.json"), Some("paired-before-approve.json"));
    let mut pending = json(&read(&store.pending_path()));
    pending[REQ]["futureField"] = serde_json::json!({"a": [1, 2]});
    fs::write(store.pending_path(), jsonfmt::to_pretty(&pending)).unwrap();
    let mut paired = json(&read(&store.paired_path()));
    let listener = "cf63b09b98d0b61966108053cccb3fbd12d33310fceb731861b4b6a0c8b8b1d8";
    paired[listener]["nickname"] = Value::from("desk");
    paired[listener]["tokens"]["operator"]["hint"] = Value::from(7);
    fs::write(store.paired_path(), jsonfmt::to_pretty(&paired)).unwrap();

    // A merge keeps the request's unknown key; a token change keeps the device's.
    let input = RequestInput {
        device_id: NODE.into(),
        public_key: "cP7FaQv3sOjAxa_Vq-U4c6-4P7Fm_gpDA8452quCF20".into(),
        role: Some("node".into()),
        ..Default::default()
    };
    let out = store.request_pairing(input, 1_795_469_144_000).unwrap();
    assert!(!out.created);
    assert_eq!(out.request.request_id, REQ);
    store
        .rotate(listener, "operator", None, 1_795_469_144_000)
        .unwrap();
    let p = json(&read(&store.pending_path()));
    assert_eq!(p[REQ]["futureField"], serde_json::json!({"a": [1, 2]}));
    let d = json(&read(&store.paired_path()));
    assert_eq!(d[listener]["nickname"], "desk");
    assert_eq!(d[listener]["tokens"]["operator"]["hint"], 7);
    // Approval keeps them on the paired side too.
    store.approve(REQ, 1_795_469_145_000).unwrap();
    let d = json(&read(&store.paired_path()));
    assert_eq!(d[listener]["nickname"], "desk");
}

#[test]
fn unknown_ids_change_nothing() {
    let (_tmp, store) = setup(Some("pending.json"), Some("paired.json"));
    let before = (read(&store.pending_path()), read(&store.paired_path()));
    let now = 1_795_469_150_000;
    let errs = [
        store.approve("nope", now).unwrap_err().to_string(),
        store.reject("nope", now).unwrap_err().to_string(),
        store.remove("nope", now).unwrap_err().to_string(),
        store
            .rotate("nope", "node", None, now)
            .unwrap_err()
            .to_string(),
        store
            .rotate(NODE, "operator", None, now)
            .unwrap_err()
            .to_string(),
        store
            .rotate(NODE, "node", Some(vec!["operator.read".into()]), now)
            .unwrap_err()
            .to_string(),
        store.revoke(NODE, "operator", now).unwrap_err().to_string(),
    ];
    assert_eq!(
        errs,
        [
            "unknown requestId",
            "unknown requestId",
            "unknown deviceId",
            "unknown deviceId/role",
            "unknown deviceId/role",
            "unknown deviceId/role",
            "unknown deviceId/role"
        ]
    );
    assert_eq!(
        (read(&store.pending_path()), read(&store.paired_path())),
        before
    );
    assert_eq!(names(store.devices_dir()), ["paired.json", "pending.json"]);
}

#[test]
fn expiry_is_in_memory_on_load_and_persisted_on_write() {
    let (_tmp, store) = setup(Some("pending.json"), Some("paired-before-approve.json"));
    let ts = 1_795_469_143_890;
    assert_eq!(store.load(ts + 300_000).unwrap().pending.len(), 1);
    assert_eq!(store.load(ts + 300_001).unwrap().pending.len(), 0);
    assert!(
        read(&store.pending_path()).contains(REQ),
        "load never writes"
    );
    assert!(
        store.approve(REQ, ts + 300_001).is_err(),
        "expired = unknown"
    );
    assert!(
        read(&store.pending_path()).contains(REQ),
        "a failed operation writes nothing"
    );
    let listener = "cf63b09b98d0b61966108053cccb3fbd12d33310fceb731861b4b6a0c8b8b1d8";
    store
        .rotate(listener, "operator", None, ts + 300_001)
        .unwrap();
    assert_eq!(read(&store.pending_path()), "{}", "pruning persisted");
}

#[test]
fn device_token_auth_and_connect_metadata() {
    let (_tmp, store) = setup(Some("pending-after-approve.json"), Some("paired.json"));
    let good = "zFQ-tJ9PXZZtQNPNxUGZ-sFtHXY-ckF8AKW_p3Gvu5M";
    let before = read(&store.paired_path());
    assert_eq!(
        store
            .verify_device_token(NODE, "node", "wrong", &[], 5)
            .unwrap(),
        Err(TokenFailure::TokenMismatch)
    );
    assert_eq!(
        store
            .verify_device_token("nope", "node", good, &[], 5)
            .unwrap(),
        Err(TokenFailure::DeviceNotPaired)
    );
    assert_eq!(read(&store.paired_path()), before, "failures write nothing");
    let now = 1_795_469_158_611;
    assert_eq!(
        store
            .verify_device_token(NODE, "node", good, &[], now)
            .unwrap(),
        Ok(())
    );
    // Exactly the fixture written by OpenClaw after the device-token login.
    assert_eq!(
        read(&store.paired_path()),
        fixture("gateway-state/paired-after-device-token-use.json")
    );
    // ensure_token reuses the covering token.
    let t = store.ensure_token(NODE, "node", &[], now + 1).unwrap();
    assert_eq!(t.token, good);
    // Metadata patch: absent displayName deletes it; platform kept.
    let d = store
        .update_on_connect(
            NODE,
            ConnectMeta {
                client_id: Some("node-host".into()),
                client_mode: Some("node".into()),
                role: Some("node".into()),
                ..Default::default()
            },
            now + 2,
        )
        .unwrap();
    assert_eq!(d.display_name, None);
    assert_eq!(d.platform.as_deref(), Some("linux"));
    let after = json(&read(&store.paired_path()));
    assert!(after[NODE].get("displayName").is_none());
    assert!(after[NODE].get("remoteIp").is_none());
    assert_eq!(after[NODE]["tokens"]["node"]["token"], good);
}

#[test]
fn revoked_token_is_refused_and_ensure_replaces_it() {
    let (_tmp, store) = setup(None, Some("paired-after-rotate-revoke.json"));
    let revoked = "Mb2vA_Mh0_uxKlH7WZa-Mo4OKEyB-NFGmDXpH6AcydQ";
    assert_eq!(
        store
            .verify_device_token(NODE, "node", revoked, &[], 1_795_469_190_000)
            .unwrap(),
        Err(TokenFailure::TokenRevoked)
    );
    let t = store
        .ensure_token(NODE, "node", &[], 1_795_469_190_000)
        .unwrap();
    assert_ne!(t.token, revoked);
    assert_eq!(t.revoked_at_ms, None);
    assert_eq!(t.rotated_at_ms, Some(1_795_469_190_000));
    assert_eq!(t.created_at_ms, 1_795_469_149_066);
    assert_eq!(
        store
            .verify_device_token(NODE, "node", &t.token, &[], 1_795_469_190_001)
            .unwrap(),
        Ok(())
    );
}

#[test]
fn debug_output_never_shows_tokens() {
    let (_tmp, store) = setup(None, Some("paired.json"));
    let st = store.load(0).unwrap();
    let dbg = format!("{st:?}");
    assert!(!dbg.contains("zFQ-tJ9PXZZtQNPNxUGZ-sFtHXY-ckF8AKW_p3Gvu5M"));
}

#[test]
fn reconnect_with_stored_key_is_accepted_and_upgrades_are_detected() {
    let (_tmp, store) = setup(None, Some("paired.json"));
    let st = store.load(0).unwrap();
    let node_key = "cP7FaQv3sOjAxa_Vq-U4c6-4P7Fm_gpDA8452quCF20";
    let claim = ConnectClaim {
        device_id: NODE,
        public_key: node_key,
        platform: Some("linux"),
        device_family: None,
        role: "node",
        scopes: &[],
    };
    assert_eq!(st.pairing_reason(&claim), None, "same key: paired");
    let other = ConnectClaim {
        public_key: "w4VamfiER8vKDo6E4wtXC3GJ7onBekQNDh4sgrciZKY",
        ..claim
    };
    assert_eq!(st.pairing_reason(&other), Some(PairingReason::NotPaired));
    // node-remote#7: the node's key asking for role operator.
    let op = ConnectClaim {
        role: "operator",
        ..claim
    };
    assert_eq!(st.pairing_reason(&op), Some(PairingReason::RoleUpgrade));
}

#[test]
fn silent_approval_leaves_no_request() {
    let (_tmp, store) = setup(None, None);
    let (outcome, approved) = store
        .request_and_approve(
            RequestInput {
                device_id: "dev".into(),
                public_key: "key".into(),
                role: Some("operator".into()),
                scopes: vec!["operator.read".into(), "operator.pairing".into()],
                silent: true,
                ..Default::default()
            },
            10,
        )
        .unwrap();
    assert!(outcome.created && outcome.request.silent);
    assert_eq!(approved.request.request_id, outcome.request.request_id);
    assert_eq!(read(&store.pending_path()), "{}");
    let t = approved.device.token("operator").unwrap();
    assert_eq!(t.scopes, ["operator.pairing", "operator.read"]);
    assert_eq!(
        approved.device.scopes.as_deref(),
        Some(&["operator.read".to_string(), "operator.pairing".to_string()][..])
    );
}

#[test]
fn every_fixture_file_loads_and_survives_a_no_op_write() {
    for (pending, paired, now) in [
        (
            "pending.json",
            "paired-before-approve.json",
            1_795_469_143_890,
        ),
        ("pending-repair.json", "paired.json", 1_795_469_177_437),
        (
            "pending-after-approve.json",
            "paired-after-device-token-use.json",
            0,
        ),
        (
            "pending-after-approve.json",
            "paired-after-role-upgrade.json",
            0,
        ),
        (
            "pending-after-approve.json",
            "paired-after-rotate-revoke.json",
            0,
        ),
    ] {
        let (_tmp, store) = setup(Some(pending), Some(paired));
        let st = store.load(now).unwrap();
        let want_pending = json(&fixture(&format!("gateway-state/{pending}")));
        assert_eq!(st.pending.len(), want_pending.as_object().unwrap().len());
        store.mutate(now, |_| Ok(())).unwrap();
        assert_eq!(
            read(&store.pending_path()),
            fixture(&format!("gateway-state/{pending}")),
            "{pending}"
        );
        let after = read(&store.paired_path());
        let original = fixture(&format!("gateway-state/{paired}"));
        if paired == "paired-after-rotate-revoke.json" {
            // OpenClaw appended revokedAtMs after lastUsedAtMs; content is equal.
            assert_eq!(json(&after), json(&original));
        } else {
            assert_eq!(after, original, "{paired} byte for byte");
        }
    }
}
