//! Every `devices/` file OpenClaw wrote parses into our model and is written
//! back byte for byte (2-space JSON, no trailing newline, same key order).

use clawpair::devices::{PairedDevice, PendingRequest};
use clawpair::jsonfmt;

#[path = "support/fixtures.rs"]
mod fixtures;

fn roundtrip<T: serde::de::DeserializeOwned + serde::Serialize>(name: &str) {
    let text = fixtures::read(&format!("devices/gateway-state/{name}"));
    let parsed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut typed: Vec<(String, T)> = Vec::new();
    for (k, v) in parsed {
        typed.push((k, serde_json::from_value(v).unwrap()));
    }
    let mut out = serde_json::Map::new();
    for (k, v) in typed {
        out.insert(k, serde_json::to_value(v).unwrap());
    }
    let written = jsonfmt::to_pretty(&out);
    if name == "paired-after-rotate-revoke.json" {
        // OpenClaw appended `revokedAtMs` after `lastUsedAtMs` when it revoked;
        // key order is not part of the format (spec node-pairing §2), content is.
        let a: serde_json::Value = serde_json::from_str(&written).unwrap();
        let b: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(a, b, "{name} must round-trip without loss");
        assert!(!written.ends_with('\n'));
    } else {
        assert_eq!(written, text, "{name} must round-trip byte for byte");
    }
}

#[test]
fn pending_files_round_trip() {
    for name in [
        "pending.json",
        "pending-repair.json",
        "pending-after-approve.json",
    ] {
        roundtrip::<PendingRequest>(name);
    }
}

#[test]
fn paired_files_round_trip() {
    for name in [
        "paired.json",
        "paired-before-approve.json",
        "paired-after-device-token-use.json",
        "paired-after-role-upgrade.json",
        "paired-after-rotate-revoke.json",
    ] {
        roundtrip::<PairedDevice>(name);
    }
}
