//! Signature vectors (fixtures `signature-vectors.json`, `signature-vector-v2.json`):
//! every `payloadV3` is rebuilt from the captured connect frame and verifies;
//! the legacy `v2` vector is accepted.

use clawpair::gateway::crypto::{self, SigVersion, SignedFields};
use clawpair::gateway::frames::{parse_connect_params, parse_request};
use serde_json::Value;

#[path = "support/fixtures.rs"]
mod fixtures;

fn transcript() -> Vec<Value> {
    fixtures::read("devices/handshake-transcript.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn fields_of(p: &clawpair::gateway::frames::ConnectParams) -> (String, String) {
    let d = p.device.as_ref().unwrap();
    let f = SignedFields {
        device_id: &d.id,
        client_id: &p.client.id,
        client_mode: &p.client.mode,
        role: p.role(),
        scopes: &p.scopes,
        signed_at: d.signed_at,
        token: p.signed_token(),
        nonce: &d.nonce,
        platform: Some(&p.client.platform),
        device_family: p.client.device_family.as_deref(),
    };
    (crypto::payload_v3(&f), crypto::payload_v2(&f))
}

#[test]
fn every_v3_vector_rebuilds_and_verifies() {
    let v: Value = serde_json::from_str(&fixtures::read("devices/signature-vectors.json")).unwrap();
    let frames = transcript();
    let vectors = v["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 10);
    for vec in vectors {
        let conn = vec["conn"].as_str().unwrap();
        let frame = frames
            .iter()
            .find(|f| {
                f["conn"] == conn
                    && f["dir"] == "client->server"
                    && f["frame"]["method"] == "connect"
                    && f["frame"]["params"]["device"]["nonce"] == vec["nonce"]
            })
            .unwrap_or_else(|| panic!("connect frame of {conn}"));
        let req = parse_request(&frame["frame"].to_string()).unwrap();
        let params = parse_connect_params(req.params.as_ref()).unwrap();
        let (v3, v2) = fields_of(&params);
        assert_eq!(v3, vec["payloadV3"].as_str().unwrap(), "{conn}");
        assert_eq!(v2, vec["payloadV2"].as_str().unwrap(), "{conn}");
        let d = params.device.as_ref().unwrap();
        let raw = crypto::decode_public_key(&d.public_key).unwrap();
        assert_eq!(crypto::device_id_for(&raw), d.id);
        assert_eq!(
            hex(&raw),
            vec["publicKeyRawHex"].as_str().unwrap(),
            "{conn}"
        );
        assert!(crypto::verify(&raw, &v3, &d.signature), "{conn}");
        assert!(!crypto::verify(&raw, &v2, &d.signature));
        let d2 = params.device.as_ref().unwrap();
        let f = SignedFields {
            device_id: &d2.id,
            client_id: &params.client.id,
            client_mode: &params.client.mode,
            role: params.role(),
            scopes: &params.scopes,
            signed_at: d2.signed_at,
            token: params.signed_token(),
            nonce: &d2.nonce,
            platform: Some(&params.client.platform),
            device_family: params.client.device_family.as_deref(),
        };
        assert_eq!(
            crypto::verify_device(&raw, &f, &d.signature),
            Some(SigVersion::V3)
        );
        // One flipped field breaks it.
        let f2 = SignedFields {
            nonce: "other",
            ..f
        };
        assert_eq!(crypto::verify_device(&raw, &f2, &d.signature), None);
    }
}

#[test]
fn legacy_v2_vector_is_accepted() {
    let v: Value =
        serde_json::from_str(&fixtures::read("devices/signature-vector-v2.json")).unwrap();
    for vec in v.as_array().unwrap() {
        let req = parse_request(&vec["connectFrame"].to_string()).unwrap();
        let params = parse_connect_params(req.params.as_ref()).unwrap();
        let (_, v2) = fields_of(&params);
        assert_eq!(v2, vec["payloadV2"].as_str().unwrap());
        let d = params.device.as_ref().unwrap();
        let raw = crypto::decode_public_key(&d.public_key).unwrap();
        let f = SignedFields {
            device_id: &d.id,
            client_id: &params.client.id,
            client_mode: &params.client.mode,
            role: params.role(),
            scopes: &params.scopes,
            signed_at: d.signed_at,
            token: params.signed_token(),
            nonce: &d.nonce,
            platform: Some(&params.client.platform),
            device_family: params.client.device_family.as_deref(),
        };
        assert_eq!(
            crypto::verify_device(&raw, &f, &d.signature),
            Some(SigVersion::V2)
        );
    }
}

#[test]
fn every_captured_client_frame_parses() {
    for f in transcript() {
        if f["dir"] == "client->server" {
            let req = parse_request(&f["frame"].to_string()).unwrap();
            if req.method == "connect" {
                parse_connect_params(req.params.as_ref()).unwrap();
            }
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
