//! Hostile input: mutated connect frames and garbage after the handshake.
//! Every one gets an answer or a clean close; the gateway keeps serving.

mod support;

use clawpair::node::client::{self, ConnectOptions};
use clawpair::node::identity::DeviceIdentity;
use futures_util::SinkExt;
use rand::Rng;
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::Message;

fn weird(rng: &mut impl Rng) -> Value {
    match rng.random_range(0..10) {
        0 => Value::Null,
        1 => json!(rng.random::<i64>()),
        2 => json!(-1),
        3 => json!(1e300),
        4 => json!("x".repeat(rng.random_range(0..5000))),
        5 => json!([1, "a", null]),
        6 => json!({"nested": {"deep": [[[]]]}}),
        7 => json!(true),
        8 => json!(""),
        _ => json!("\u{1b}[31m\u{0}\u{202e}"),
    }
}

fn mutate(v: &mut Value, rng: &mut impl Rng, depth: u32) {
    if let Value::Object(m) = v {
        let keys: Vec<String> = m.keys().cloned().collect();
        if keys.is_empty() {
            return;
        }
        let k = &keys[rng.random_range(0..keys.len())];
        match rng.random_range(0..4) {
            0 => {
                m.remove(k);
            }
            1 if depth < 3 => mutate(m.get_mut(k).unwrap(), rng, depth + 1),
            2 => {
                m.insert(format!("extra{}", rng.random::<u8>()), weird(rng));
            }
            _ => {
                m.insert(k.clone(), weird(rng));
            }
        }
    }
}

#[tokio::test]
async fn mutated_frames_never_break_the_gateway() {
    let mut c = cfg();
    c.max_failed_handshakes_per_minute = 100_000;
    c.auto_approve_local = true;
    let gw = gateway(c).await;
    let mut rng = rand::rng();
    let id = DeviceIdentity::generate(now());
    for i in 0..300 {
        let (mut ws, nonce) = client::open(&gw.url).await.unwrap();
        let opts = if i % 2 == 0 {
            ConnectOptions::cli_operator(TOKEN)
        } else {
            node_opts(Some(TOKEN))
        };
        let mut frame = json!({"type":"req","id":"1","method":"connect","params": opts.params(Some(&id), &nonce, now())});
        for _ in 0..rng.random_range(1..4) {
            mutate(&mut frame, &mut rng, 0);
        }
        let text = if i % 25 == 0 {
            String::from_utf8_lossy(&rand::random::<[u8; 32]>()).into_owned()
        } else {
            frame.to_string()
        };
        let _ = ws.send(Message::text(text)).await;
        // Either an answer or a close, within the timeout; then more garbage.
        let _ = next_json(&mut ws, 3000).await;
        let _ = ws.send(Message::binary(vec![0xff, 0xfe, 0x00])).await;
        let _ = ws
            .send(Message::text(
                "{\"type\":\"req\",\"id\":\"2\",\"method\":\"device.pair.approve\",\"params\":[]}",
            ))
            .await;
        let _ = next_json(&mut ws, 200).await;
    }
    let (mut ws, a) = connect(&gw.url, &ConnectOptions::cli_operator(TOKEN), None).await;
    hello(&a);
    for bad in [
        json!({"type":"req","id":"a","method":"device.pair.approve","params":{"requestId": 5}}),
        json!({"type":"req","id":"b","method":"device.token.rotate","params":{"deviceId":"x","role":"node","scopes":"no"}}),
        json!({"type":"req","id":"c","method":"device.pair.remove","params":null}),
        json!({"type":"req","id":"d","method":"device.pair.list","params":{"x":1}}),
        json!({"type":"req","id":"e","method":"","params":{}}),
    ] {
        let _ = ws.send(Message::text(bad.to_string())).await;
        let v = next_json(&mut ws, 2000).await.unwrap();
        assert_eq!(v["ok"], false, "{bad} -> {v}");
        assert_eq!(v["error"]["code"], "INVALID_REQUEST");
    }
}
