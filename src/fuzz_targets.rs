//! Entry points for the fuzzers in `fuzz/` (libFuzzer, outside CI) and for the
//! smoke pass in `tests/fuzz_smoke.rs` (in CI). Each one takes arbitrary bytes
//! as a peer or a damaged file would present them. None may panic, hang or
//! allocate without bound. Where a round trip exists, it is checked too, so a
//! target also fails on wrong answers, not only on crashes.

use std::path::Path;
use std::sync::OnceLock;

use ed25519_dalek::SigningKey;
use serde_json::Value;

use crate::devices::store::{parse_paired, parse_pending, render_paired, render_pending};
use crate::devices::DeviceState;
use crate::dm::allowlist::AllowDoc;
use crate::dm::pairing::PairingDoc;
use crate::gateway::crypto::{self, SigVersion, SignedFields};
use crate::gateway::frames::{self, ErrorShape, FrameError};
use crate::gateway::setup;
use crate::openclaw_config::OpenClawConfig;

/// A fixed clock for the pure rules: 2026-02-26T12:00:00Z.
const NOW_MS: i64 = 1_772_107_200_000;

/// A fuzz entry point.
pub type Target = fn(&[u8]);

/// Every target, by the name of its file in `fuzz/fuzz_targets/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("frame", frame),
    ("signature", signature),
    ("setup_code", setup_code),
    ("pairing_file", pairing_file),
    ("allow_file", allow_file),
    ("pending_file", pending_file),
    ("paired_file", paired_file),
    ("lock_file", lock_file),
    ("config_file", config_file),
    ("operator_frame", operator_frame),
];

/// One WebSocket text frame as the gateway receives it: the request envelope,
/// then (for `connect`) the closed params schema and the device checks.
pub fn frame(data: &[u8]) {
    // tungstenite refuses non-UTF-8 text frames and anything over the limit.
    if data.len() > 1024 * 1024 {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let req = match frames::parse_request(text) {
        Ok(r) => r,
        Err(FrameError::NotJson) => return,
        Err(FrameError::Invalid { detail, id }) => {
            // The error answer echoes peer text; it must still be one valid frame.
            let id = id.unwrap_or_else(|| "invalid".into());
            let reply = frames::res_err(&id, &ErrorShape::invalid(detail));
            let parsed: Value = serde_json::from_str(&reply).expect("error reply is JSON");
            assert_eq!(parsed["id"].as_str(), Some(id.as_str()));
            return;
        }
    };
    assert!(!req.id.is_empty() && !req.method.is_empty());
    let Ok(p) = frames::parse_connect_params(req.params.as_ref()) else {
        return;
    };
    // Any string passes the schema as the role; the gateway refuses roles it does not know later.
    if let Some(device) = &p.device {
        let Some(raw) = crypto::decode_public_key(&device.public_key) else {
            return;
        };
        let id = crypto::device_id_for(&raw);
        assert_eq!(id.len(), 64);
        let fields = p.signed_fields(device);
        let _ = crypto::verify_device(&raw, &fields, &device.signature);
    }
}

fn test_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_bytes(&[7u8; 32]))
}

/// The signed payload builder and the verifier. The input is split on `\n`
/// into the signed fields, then a public key and a signature. Besides never
/// panicking: a signature we make over the payload verifies as the right
/// version, and the same signature with one bit flipped does not.
pub fn signature(data: &[u8]) {
    if data.len() > 64 * 1024 {
        return;
    }
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\n');
    let mut next = || parts.next().unwrap_or("");
    let (device_id, client_id, mode, role) = (next(), next(), next(), next());
    let scopes: Vec<String> = next()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let signed_at = next().parse::<i64>().unwrap_or(0);
    let (token, nonce, platform, family, key, sig) =
        (next(), next(), next(), next(), next(), next());
    let fields = SignedFields {
        device_id,
        client_id,
        client_mode: mode,
        role,
        scopes: &scopes,
        signed_at,
        token,
        nonce,
        platform: (!platform.is_empty()).then_some(platform),
        device_family: (!family.is_empty()).then_some(family),
    };
    let v3 = crypto::payload_v3(&fields);
    let v2 = crypto::payload_v2(&fields);
    assert!(v3.starts_with("v3|") && v2.starts_with("v2|"));
    assert!(v3.ends_with(&crypto::norm_meta(fields.device_family)));

    if let Some(raw) = crypto::decode_public_key(key) {
        let _ = crypto::verify_device(&raw, &fields, sig);
    }
    let _ = crypto::b64_decode(sig);

    // The round trip costs two signatures and up to three verifications, so it
    // runs on one input in eight (chosen by the input, so it is reproducible).
    if data.first().is_some_and(|b| b % 8 == 0) {
        let sk = test_key();
        let raw = sk.verifying_key().to_bytes();
        let good = crypto::sign(sk, &v3);
        assert_eq!(
            crypto::verify_device(&raw, &fields, &good),
            Some(SigVersion::V3)
        );
        let legacy = crypto::sign(sk, &v2);
        assert_eq!(
            crypto::verify_device(&raw, &fields, &legacy),
            Some(SigVersion::V2)
        );
        let mut bytes = crypto::b64_decode(&good).expect("our own signature decodes");
        let bit = data.len() % (bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            crypto::verify_device(&raw, &fields, &crypto::b64url(&bytes)),
            None
        );
    }
}

/// A setup code as pasted by a user or scanned from a QR code.
pub fn setup_code(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = setup::normalize_url(text);
    let Some(p) = setup::decode(text) else {
        return;
    };
    let _ = setup::normalize_url(&p.url);
    if let Some(token) = &p.token {
        let again = setup::decode(&setup::encode(&p.url, token));
        if setup::encode(&p.url, token).len() <= setup::MAX_SETUP_CODE_CHARS {
            let again = again.expect("an encoded code decodes");
            assert_eq!((&again.url, &again.token), (&p.url, &p.token));
        }
    }
}

/// `<channel>-pairing.json`: parse, the pure rules, and a rewrite that reads back the same.
pub fn pairing_file(data: &[u8]) {
    let path = Path::new("credentials/telegram-pairing.json");
    let Ok(mut doc) = PairingDoc::parse(path, Some(data)) else {
        return;
    };
    let _ = doc.visible(None);
    let _ = doc.visible(Some("work"));
    let _ = doc.find_code("ABCDEFGH", None);
    let text = doc.to_json();
    let back = PairingDoc::parse(path, Some(text.as_bytes())).expect("our own output parses");
    assert_eq!(back.to_json(), text);
    doc.prune(NOW_MS);
    let _ = doc.upsert("123456789", None, &[], NOW_MS);
    let _ = doc.upsert("987654321", Some("work"), &[], NOW_MS);
    let text = doc.to_json();
    PairingDoc::parse(path, Some(text.as_bytes())).expect("our own output parses");
}

/// `<channel>[-<account>]-allowFrom.json`.
pub fn allow_file(data: &[u8]) {
    let path = Path::new("credentials/telegram-allowFrom.json");
    let Ok(mut doc) = AllowDoc::parse(path, Some(data)) else {
        return;
    };
    for ch in [
        "telegram", "whatsapp", "signal", "discord", "slack", "imessage",
    ] {
        let _ = doc.normalized(ch, true);
    }
    let text = doc.to_json();
    let back = AllowDoc::parse(path, Some(text.as_bytes())).expect("our own output parses");
    assert_eq!(back.to_json(), text);
    doc.add("telegram", "123456789", true);
    doc.remove("telegram", "123456789", true);
    let text = doc.to_json();
    AllowDoc::parse(path, Some(text.as_bytes())).expect("our own output parses");
}

fn device_rules(state: DeviceState) {
    let mut state = state;
    let _ = crate::devices::payload::list_payload_of(&state);
    state.prune_expired(NOW_MS);
    let _ = crate::devices::payload::list_payload_of(&state);
}

/// `devices/pending.json`.
pub fn pending_file(data: &[u8]) {
    let path = Path::new("devices/pending.json");
    let Ok(pending) = parse_pending(path, data) else {
        return;
    };
    let text = render_pending(&pending).expect("parsed requests render");
    let back = parse_pending(path, text.as_bytes()).expect("our own output parses");
    assert_eq!(render_pending(&back).expect("renders"), text);
    device_rules(DeviceState {
        pending,
        paired: Vec::new(),
    });
}

/// `devices/paired.json`.
pub fn paired_file(data: &[u8]) {
    let path = Path::new("devices/paired.json");
    let Ok(paired) = parse_paired(path, data) else {
        return;
    };
    let text = render_paired(&paired).expect("parsed devices render");
    let back = parse_paired(path, text.as_bytes()).expect("our own output parses");
    assert_eq!(render_paired(&back).expect("renders"), text);
    device_rules(DeviceState {
        pending: Vec::new(),
        paired,
    });
}

/// A `<file>.lock` left by any writer.
pub fn lock_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(h) = crate::lock::parse_holder(&text) {
        let _ = crate::clock::parse_iso_ms(&h.created_at);
    }
}

/// `openclaw.json` (JSON5).
pub fn config_file(data: &[u8]) {
    let Ok(cfg) = OpenClawConfig::parse(Path::new("openclaw.json"), data) else {
        return;
    };
    let _ = crate::dm::normalize::enabled_channels(&cfg);
    let _ = cfg.get_str("gateway.auth.token");
    let _ = cfg.get_str("gateway.port");
}

/// One text frame as the operator client receives it from a gateway: the
/// envelope, then whatever the client does with a payload of that kind
/// (`hello-ok`, the error classification, the rows of `device.pair.list`,
/// `node.pair.list` and `channels.pairing.list`, a `node.pair.requested`
/// event). Every kept string stays within its bound.
pub fn operator_frame(data: &[u8]) {
    use crate::operator::{api, link, session, wire};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (payload, error) = match wire::parse_incoming(text) {
        Err(_) => return,
        Ok(wire::Incoming::Res {
            id, payload, error, ..
        }) => {
            assert!(!id.is_empty() && id.len() <= wire::MAX_NAME);
            (payload, error)
        }
        Ok(wire::Incoming::Event { event, payload, .. }) => {
            assert!(!event.is_empty() && event.len() <= wire::MAX_NAME);
            (payload, None)
        }
    };
    if let Some(h) = wire::Hello::parse(&payload) {
        assert!((1_000..=600_000).contains(&h.tick_interval_ms));
        assert!(h.methods.len() <= wire::MAX_FEATURES);
        let _ = h.server_label();
    }
    if let Some(e) = error {
        assert!(e.message.len() <= wire::MAX_MESSAGE_TEXT && e.code.len() <= wire::MAX_NAME);
        let url = crate::operator::GatewayUrl::parse("ws://127.0.0.1:18789").expect("url");
        let spec =
            session::ConnectSpec::operator(url.clone(), Default::default(), api::console_scopes());
        let c = link::classify(&session::ConnectError::Refused(e), &spec);
        let _ = link::explain(&c.state, &url);
    }
    let snap = api::device_snapshot(&payload, Some(&payload));
    for r in &snap.pending {
        assert!(r.request_id.len() <= 1024 && r.roles.len() <= 257 && r.scopes.len() <= 256);
    }
    let _ = api::dm_snapshot(&payload);
    let _ = api::surface_request(&payload);
}
