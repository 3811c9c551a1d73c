//! Hostile input from this machine must not lock the owner out of their own
//! gateway: a burst of bad handshakes, junk and oversize frames and sockets that
//! never send `connect`, then the owner's CLI and node must get through at once.
//! A remote-looking address (127.0.0.2 stands in for a LAN host) keeps its
//! limits and gets a clear answer while it is locked out.

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use clawpair::node::client::{self, ConnectOptions};
use clawpair::node::identity::DeviceIdentity;
use futures_util::SinkExt;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// Bad handshakes, junk frames and idle sockets from `from`; returns the idle
/// sockets (still open) so the caller decides when they go.
async fn burst(url: &str, from: IpAddr, bad: usize, idle: usize) -> Vec<client::ClientWs> {
    // Wrong shared tokens, from operators and from nodes with a device key.
    for i in 0..bad {
        let (_, a) = if i % 2 == 0 {
            connect_from(from, url, &ConnectOptions::cli_operator("wrong"), None).await
        } else {
            let id = DeviceIdentity::generate(now());
            connect_from(from, url, &node_opts(Some("not-the-token")), Some(&id)).await
        };
        let (e, _) = refused(&a);
        assert!(e["code"].is_string(), "{e}");
    }
    // Junk: not JSON, not a request, binary garbage, an oversize frame, plain HTTP.
    for junk in [
        Message::text("not json"),
        Message::text(r#"{"type":"req"}"#),
        Message::binary(vec![0xff, 0xfe, 0x00]),
        Message::text("x".repeat(2 * 1024 * 1024)),
    ] {
        let (mut ws, _) = client::open_from(url, from).await.unwrap();
        let _ = ws.send(junk).await;
        let _ = read_close(&mut ws, 2000).await;
    }
    let port = url.rsplit(':').next().unwrap();
    let mut http = raw_from(from, port).await;
    http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let _ = tokio::time::timeout(Duration::from_secs(2), http.read(&mut buf)).await;
    // Sockets that upgrade and get their challenge, then say nothing.
    let mut idle_sockets = Vec::new();
    for _ in 0..idle {
        match client::open_from(url, from).await {
            Ok((ws, _)) => idle_sockets.push(ws),
            Err(_) => break,
        }
    }
    idle_sockets
}

async fn raw_from(from: IpAddr, port: &str) -> tokio::net::TcpStream {
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.bind(std::net::SocketAddr::new(from, 0)).unwrap();
    s.connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_cli_and_node_get_through_right_after_a_local_burst() {
    // Default limits: 30 failed handshakes a minute, 64 handshaking sockets.
    let mut c = cfg();
    c.max_failed_handshakes_per_minute = 30;
    c.handshake_timeout_ms = 1_500;
    let gw = gateway(c).await;
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    // 6 bad handshakes, 5 junk, 200 silent sockets (more than the handshaking
    // limit: the owner's loopback is exempt).
    let idle = burst(&gw.url, local, 6, 200).await;
    assert_eq!(idle.len(), 200, "loopback sockets are not capped at 64");
    // At once, with the idle sockets still open: the CLI is answered hello-ok…
    let t = Instant::now();
    let (_, a) = connect(&gw.url, &ConnectOptions::cli_operator(TOKEN), None).await;
    hello(&a);
    // …and a node gets its pairing answer (not dropped, not rate limited).
    let id = DeviceIdentity::generate(now());
    let (_, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&id)).await;
    assert_eq!(refused(&a).0["details"]["code"], "PAIRING_REQUIRED");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // After the silent sockets timed out (closed by the gateway), still served:
    // a timeout is no failed authentication.
    for mut ws in idle {
        assert_eq!(read_close(&mut ws, 5_000).await.map(|c| c.0), Some(1000));
    }
    let (_, a) = connect(&gw.url, &ConnectOptions::cli_operator(TOKEN), None).await;
    hello(&a);
    let (_, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&id)).await;
    assert_eq!(refused(&a).0["details"]["code"], "PAIRING_REQUIRED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_looking_address_is_locked_out_with_a_clear_answer() {
    let mut c = cfg();
    c.max_failed_handshakes_per_minute = 30;
    c.handshake_timeout_ms = 1_000;
    let gw = gateway(c).await;
    // Silent sockets count against the handshaking limit (64), not as failures.
    let idle = burst(&gw.url, REMOTE, 0, 100).await;
    assert_eq!(
        idle.len(),
        64,
        "at most 64 sockets per address in their handshake"
    );
    drop(idle);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let (_, a) = connect_from(REMOTE, &gw.url, &ConnectOptions::cli_operator(TOKEN), None).await;
    hello(&a);
    // 30 failed handshakes lock it out…
    let idle = burst(&gw.url, REMOTE, 30, 0).await;
    drop(idle);
    let (_, a) = connect_from(REMOTE, &gw.url, &ConnectOptions::cli_operator(TOKEN), None).await;
    let (e, close) = refused(&a);
    assert_eq!(e["details"]["code"], "AUTH_RATE_LIMITED");
    assert_eq!(e["retryable"], true);
    let wait = e["retryAfterMs"].as_u64().unwrap();
    assert!(wait > 50_000 && wait <= 60_001, "{wait}");
    let (code, reason) = close.unwrap();
    assert_eq!(code, 1008);
    assert!(
        reason.contains("too many failed authentication attempts"),
        "{reason}"
    );
    // …while the owner's loopback is served.
    let (_, a) = connect(&gw.url, &ConnectOptions::cli_operator(TOKEN), None).await;
    hello(&a);
    // A flood far past the budget is dropped unread (10 × 30 answers, then nothing).
    let mut answered = 0;
    let mut dropped = 0;
    for _ in 0..320 {
        match client::open_from(&gw.url, REMOTE).await {
            Ok(_) => answered += 1,
            Err(_) => dropped += 1,
        }
    }
    assert!(
        answered <= 300 && dropped >= 19,
        "{answered} answered, {dropped} dropped"
    );
    let (_, a) = connect(&gw.url, &ConnectOptions::cli_operator(TOKEN), None).await;
    hello(&a);
}

/// The real binary: one log line per address when its lockout starts.
#[test]
fn a_lockout_is_logged_once_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clawpair"))
        .args(["--state-dir"])
        .arg(dir.path())
        .args(["gateway", "--port", "0", "--gateway-token", TOKEN])
        .args(["--max-failed-handshakes-per-minute", "5"])
        .env("CLAWPAIR_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let url = loop {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0);
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for _ in 0..20 {
            let _ = connect_from(REMOTE, &url, &ConnectOptions::cli_operator("bad"), None).await;
        }
        for _ in 0..20 {
            let _ = connect(&url, &ConnectOptions::cli_operator("bad"), None).await;
        }
    });
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let _ = child.wait();
    let lockouts: Vec<&str> = rest
        .lines()
        .filter(|l| l.contains("failed handshakes within a minute"))
        .collect();
    assert_eq!(lockouts.len(), 1, "{rest}");
    assert!(lockouts[0].contains("127.0.0.2"), "{}", lockouts[0]);
}
