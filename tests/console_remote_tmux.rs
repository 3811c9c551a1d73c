//! End to end: the real console attached to a real `clawpair gateway` process
//! over WebSocket (`clawpair --url ws://127.0.0.1:P --token-file F`), in tmux.
//! The status line says what it is attached to; the DM pane says the gateway
//! has no DM RPCs; a node's request appears and `a` approves it (the node then
//! gets `hello-ok`); `r`+`y` rejects another; with the gateway stopped an
//! action is refused at once; a request approved on the gateway host while the
//! console was offline shows as "approved elsewhere" after the reconnect.

mod support;
#[path = "support/tmux.rs"]
mod tmux;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clawpair::node::identity::DeviceIdentity;
use support::{connect, node_opts, now, TOKEN};
use tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_clawpair");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Gateway(Child);

impl Gateway {
    fn start(state: &str, port: u16) -> Gateway {
        let child = Command::new(BIN)
            .args([
                "--state-dir",
                state,
                "gateway",
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--gateway-token",
                TOKEN,
                "--no-auto-approve-local",
            ])
            .env_remove("OPENCLAW_GATEWAY_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "gateway did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Gateway(child)
    }
    fn stop(mut self) {
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A node asks to pair; returns its request id.
fn node_request(rt: &tokio::runtime::Runtime, url: &str, id: &DeviceIdentity) -> String {
    rt.block_on(async {
        let (_ws, a) = connect(url, &node_opts(Some(TOKEN)), Some(id)).await;
        let (e, _) = support::refused(&a);
        e["details"]["requestId"].as_str().unwrap().to_string()
    })
}

#[test]
fn remote_console_in_tmux() {
    if !Tmux::installed() {
        eprintln!("tmux not installed; skipping");
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = tempfile::tempdir().unwrap();
    let sp = state.path().to_str().unwrap().to_string();
    let cfg = tempfile::tempdir().unwrap();
    let token_file = cfg.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}");
    let gw = Gateway::start(&sp, port);
    let t = Tmux::start(
        "remote",
        140,
        32,
        &format!(
            "env XDG_CONFIG_HOME={} {BIN} --url {url} --token-file {} --no-notify",
            cfg.path().display(),
            token_file.display()
        ),
    );
    t.wait_for("connected status", Duration::from_secs(10), || {
        let s = t.screen();
        s.contains(&format!("gateway {url}")) && s.contains("protocol 4") && s.contains("connected")
    });
    assert!(t.screen().contains("operator.pairing"), "{}", t.screen());
    t.wait_for(
        "the DM pane says why it is empty",
        Duration::from_secs(5),
        || t.screen().contains("no DM pairing RPCs"),
    );

    // A node asks; the row appears; `a` approves it through the gateway.
    let n1 = DeviceIdentity::generate(now());
    let r1 = node_request(&rt, &url, &n1);
    t.wait_for("the request row", Duration::from_secs(3), || {
        t.screen().contains("test-node")
    });
    t.keys("Tab");
    // Keys within 0.5 s of the selected row changing by itself are ignored.
    std::thread::sleep(Duration::from_millis(700));
    t.keys("a");
    t.wait_for("approval card", Duration::from_secs(3), || {
        t.screen().contains("Approve this device?")
    });
    t.keys("y");
    t.wait_for("approved toast", Duration::from_secs(5), || {
        t.screen().contains("Approved test-node")
    });
    rt.block_on(async {
        let (_ws, a) = connect(&url, &node_opts(Some(TOKEN)), Some(&n1)).await;
        support::hello(&a);
    });
    let _ = r1;

    // Another: reject after the confirmation.
    let n2 = DeviceIdentity::generate(now());
    let _r2 = node_request(&rt, &url, &n2);
    t.wait_for("second row", Duration::from_secs(3), || {
        t.screen().contains("Device requests (1)")
    });
    std::thread::sleep(Duration::from_millis(700));
    t.keys("r");
    t.wait_for("confirmation", Duration::from_secs(3), || {
        t.screen().contains("Reject this device")
    });
    t.keys("y");
    t.wait_for("rejected toast", Duration::from_secs(5), || {
        t.screen().contains("Rejected the request")
    });

    // A third request, then the gateway goes away.
    let n3 = DeviceIdentity::generate(now());
    let r3 = node_request(&rt, &url, &n3);
    t.wait_for("third row", Duration::from_secs(3), || {
        t.screen().contains("Device requests (1)")
    });
    gw.stop();
    t.wait_for("reconnecting", Duration::from_secs(10), || {
        t.screen().contains("reconnecting")
    });
    // An action while offline is refused at once, never queued.
    std::thread::sleep(Duration::from_millis(700));
    t.keys("a");
    t.wait_for("approval card", Duration::from_secs(3), || {
        t.screen().contains("Approve this device?")
    });
    t.keys("y");
    t.wait_for("offline toast", Duration::from_secs(3), || {
        t.screen().contains("offline")
    });
    // Meanwhile the owner approves on the gateway host.
    let out = Command::new(BIN)
        .args(["--state-dir", &sp, "devices", "approve", &r3])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _gw = Gateway::start(&sp, port);
    t.wait_for(
        "approved elsewhere after the reconnect",
        Duration::from_secs(40),
        || t.screen().contains("approved elsewhere"),
    );
    assert!(t.screen().contains("connected"));
    t.keys("q");
    t.wait_for("exit", Duration::from_secs(5), || !t.alive());
}
