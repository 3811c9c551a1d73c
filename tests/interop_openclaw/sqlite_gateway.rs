//! On OpenClaw 2026.9.6's own SQLite state dir with its real gateway running, clawpair acts
//! through that gateway (found from `openclaw.json`, attached as the device-less operator with
//! the shared token), never by writing device rows: the console (`clawpair --state-dir`, no
//! `--url`) approves a real node host's device request, `clawpair nodes approve` its capability
//! surface, `clawpair devices reject` a second node, `clawpair pairing approve` a real DM request
//! through `channels.pairing.approve`; the real `openclaw devices list` / `pairing list` agree;
//! the console alone approves a node's device and then its capability surface; with TLS,
//! `wss://` pinned to the gateway's own certificate.
//!
//! The gateway is started here rather than by `oc_gateway`: `channels.pairing.*` sees only
//! configured accounts of loaded channel plugins, so telegram is configured (disabled) and
//! `OPENCLAW_SKIP_CHANNELS` is not set for it (spec openclaw-2026.9 §9).

use super::*;
use rusqlite::OpenFlags;

const V: &str = "2026.9.6";

fn config(port: u16, log: &Path) -> Value {
    serde_json::json!({
        "gateway": {
            "mode": "local",
            "port": port,
            "bind": "loopback",
            "auth": { "mode": "token", "token": TOKEN },
            "nodes": { "pairing": { "autoApproveLocal": false } },
        },
        "commands": { "ownerAllowFrom": ["telegram:999"] },
        "update": { "checkOnStart": false },
        "discovery": { "mdns": { "mode": "off" } },
        "models": { "catalogRefresh": { "enabled": false } },
        "logging": { "file": log },
        "channels": { "telegram": { "accounts": {
            "default": { "enabled": false, "botToken": "100000001:fake-token-a", "dmPolicy": "pairing" }
        } } },
    })
}

/// `(requestId, deviceId)` of the pending device request named `name` in the gateway's database.
fn pending_named(st: &Path, name: &str) -> Option<(String, String)> {
    let db = rusqlite::Connection::open_with_flags(
        st.join("state/openclaw.sqlite"),
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .ok()?;
    db.query_row(
        "SELECT request_id, device_id FROM device_pairing_pending WHERE display_name = ?1",
        [name],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ok()
}

fn is_paired(st: &Path, device: &str) -> bool {
    rusqlite::Connection::open_with_flags(
        st.join("state/openclaw.sqlite"),
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .and_then(|db| {
        db.query_row(
            "SELECT count(*) FROM device_pairing_paired WHERE device_id = ?1",
            [device],
            |r| r.get::<_, i64>(0),
        )
    })
    .map(|n| n == 1)
    .unwrap_or(false)
}

fn ids(list: &Value, part: &str) -> Vec<String> {
    list[part]
        .as_array()
        .unwrap_or_else(|| panic!("no {part}: {list}"))
        .iter()
        .map(|d| d["deviceId"].as_str().unwrap().to_string())
        .collect()
}

/// The real gateway on `st` (config above, `gateway.tls.enabled` = `tls`), with channels not
/// skipped; returns once it is ready, and how long that took.
fn real_gateway(s: &Scenario, st: &Path, port: u16, tls: bool) -> (Proc, f64) {
    let gw_log = s.log_file("oc-gateway-file", "log");
    let mut cfg = config(port, &gw_log);
    if tls {
        cfg["gateway"]["tls"] = serde_json::json!({ "enabled": true });
    }
    std::fs::write(
        st.join("openclaw.json"),
        serde_json::to_string_pretty(&cfg).unwrap(),
    )
    .unwrap();
    let p = port.to_string();
    let mut cmd = s.oc(
        st,
        &[
            "gateway",
            "run",
            "--port",
            &p,
            "--bind",
            "loopback",
            "--allow-unconfigured",
        ],
    );
    cmd.env_remove("OPENCLAW_SKIP_CHANNELS");
    let t0 = std::time::Instant::now();
    let mut gw = s.spawn("oc-gateway", cmd);
    gw.wait_output("oc-gateway", Duration::from_secs(300), |o, _| {
        o.contains("[gateway] ready")
    });
    let ready_secs = t0.elapsed().as_secs_f64();
    eprintln!("oc-gateway: ready in {ready_secs:.1}s");
    assert!(st.join("state/openclaw.sqlite").exists(), "no SQLite state");
    (gw, ready_secs)
}

/// A real DM request by OpenClaw's store code on `st`; its code.
fn dm_request(s: &Scenario, st: &Path, sender: &str) -> String {
    let mut up = s.driver(st, "oc9/dm-store.mjs", &["upsert", "telegram", sender]);
    up.env("OPENCLAW_PKG", &s.oc.package);
    let made = s.run_ok("dm-upsert", up, DRIVER).json();
    assert_eq!(made["created"], true, "{made}");
    made["code"].as_str().unwrap().to_string()
}

#[test]
fn v2026_9_6_console_and_cli_act_through_openclaws_gateway() {
    let Some(s) = begin(
        "sqlite_gateway::v2026_9_6_console_and_cli_act_through_openclaws_gateway",
        V,
        &[Need::Tmux],
    ) else {
        return;
    };
    let st = s.mkdir("state");
    let port = free_port();
    let (mut gw, ready_secs) = real_gateway(&s, &st, port, false);
    s.step("real 2026.9.6 gateway ready on its SQLite state dir");

    // The console on the state dir (not --url): rows from the database.
    let console_log = s.log_file("console", "log");
    let t = Tmux::start(
        "interop-sqlgw",
        140,
        40,
        &format!(
            "env HOME={} CLAWPAIR_LOG=info CLAWPAIR_LOG_FILE={} {BIN} --state-dir {} --no-notify",
            s.home().display(),
            console_log.display(),
            st.display()
        ),
    );
    let wait =
        |what: &str, ok: &dyn Fn(&str) -> bool| t.wait_for(what, 60 * SEC, || ok(&t.screen()));
    wait("the status line naming OpenClaw's gateway", &|sc| {
        sc.contains(&format!("actions via OpenClaw's gateway :{port} (up)"))
    });
    s.step("console: actions via OpenClaw's gateway (up)");

    let node1 = s.mkdir("node-1");
    let mut n1 = s.node_host("node-1", &node1, port, "sq-node-1");
    let mut found = None;
    wait_until(
        "node 1's device request in the database",
        90 * SEC,
        || {
            found = pending_named(&st, "sq-node-1");
            found.is_some()
        },
        || n1.output(),
    );
    let (rid1, dev1) = found.unwrap();
    wait("node 1's request on screen", &|sc| sc.contains("sq-node-1"));
    s.step("real node host asks → the console shows the request from the database");

    t.keys("Tab");
    std::thread::sleep(Duration::from_millis(700));
    t.keys("a");
    wait("the approval card", &|sc| {
        sc.contains("Approve this device?")
    });
    let y_at = std::time::Instant::now();
    t.keys("y");
    wait("the approval toast", &|sc| {
        sc.contains("Approved sq-node-1")
    });
    let y_to_toast = y_at.elapsed().as_secs_f64() * 1000.0;
    wait_until(
        "node 1 paired, its request gone",
        30 * SEC,
        || is_paired(&st, &dev1) && pending_named(&st, "sq-node-1").is_none(),
        || {
            format!(
                "{}\n{}",
                t.screen(),
                std::fs::read_to_string(&console_log).unwrap_or_default()
            )
        },
    );
    let y_to_row = y_at.elapsed().as_secs_f64() * 1000.0;
    wait("the paired row, from the database", &|sc| {
        sc.contains("paired 1 (")
    });
    s.step("a, y: approved through the gateway (device.pair.approve)");

    // The node host waits for ever after a refusal: restart it, through a logging proxy.
    n1.stop(10 * SEC);
    let proxy = s.ws_proxy("proxy", port);
    let n1b = s.node_host("node-1b", &node1, proxy.port, "sq-node-1");
    wait_until(
        "node 1's hello-ok",
        90 * SEC,
        || proxy.hello_ok().is_some(),
        || format!("{}\nframes: {:?}", n1b.output(), proxy.frames()),
    );
    let hello = proxy.hello_ok().unwrap();
    assert_eq!(hello["payload"]["auth"]["role"], "node", "{hello}");
    let real = s
        .run_ok(
            "oc-devices-list-1",
            s.oc(&st, &["devices", "list", "--json"]),
            OC_CLI,
        )
        .json();
    assert!(ids(&real, "paired").contains(&dev1), "{real}");
    s.step("node 1 connects (hello-ok); openclaw devices list shows it paired");

    // Its capability surface: clawpair nodes approve, no --url.
    let mut surface = None;
    wait_until(
        "node 1's capability surface request",
        60 * SEC,
        || {
            let o = s.run(
                "cp-nodes-pending",
                s.clawpair(&st, &["nodes", "pending", "--json"]),
                CLAWPAIR,
            );
            surface = serde_json::from_str::<Value>(&o.stdout).ok().and_then(|v| {
                v.as_array()?
                    .iter()
                    .find(|p| p["nodeId"] == dev1.as_str())
                    .and_then(|p| p["requestId"].as_str().map(String::from))
            });
            surface.is_some()
        },
        || n1b.output(),
    );
    let sid = surface.unwrap();
    let a_at = std::time::Instant::now();
    let out = s
        .run_ok(
            "cp-nodes-approve",
            s.clawpair(&st, &["nodes", "approve", &sid]),
            CLAWPAIR,
        )
        .json();
    let nodes_approve_ms = a_at.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(out["requestId"], sid.as_str(), "{out}");
    assert_eq!(out["node"]["nodeId"], dev1.as_str(), "{out}");
    let ours = s
        .run_ok(
            "cp-devices-list",
            s.clawpair(&st, &["devices", "list", "--json"]),
            CLAWPAIR,
        )
        .json();
    let row = ours["paired"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["deviceId"] == dev1.as_str())
        .cloned()
        .unwrap();
    assert!(
        row.get("pendingNodeSurface").is_none_or(Value::is_null),
        "{row}"
    );
    s.step("clawpair nodes approve (no --url): the surface approved by node.pair.approve");

    // A second node, rejected by clawpair devices reject.
    let node2 = s.mkdir("node-2");
    let mut n2 = s.node_host("node-2", &node2, port, "sq-node-2");
    let mut found = None;
    wait_until(
        "node 2's device request in the database",
        90 * SEC,
        || {
            found = pending_named(&st, "sq-node-2");
            found.is_some()
        },
        || n2.output(),
    );
    let (rid2, dev2) = found.unwrap();
    let r_at = std::time::Instant::now();
    let out = s.run_ok(
        "cp-devices-reject",
        s.clawpair(&st, &["devices", "reject", &rid2]),
        CLAWPAIR,
    );
    let reject_ms = r_at.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(out.stdout, format!("Rejected {dev2}\n"));
    n2.stop(10 * SEC);
    let real = s
        .run_ok(
            "oc-devices-list-2",
            s.oc(&st, &["devices", "list", "--json"]),
            OC_CLI,
        )
        .json();
    assert!(ids(&real, "paired").contains(&dev1), "{real}");
    assert!(!ids(&real, "paired").contains(&dev2), "{real}");
    assert!(!ids(&real, "pending").contains(&dev2), "{real}");
    wait("node 2 gone from the console", &|sc| {
        !sc.contains("sq-node-2")
    });
    s.step("clawpair devices reject (no --url); openclaw devices list agrees");

    // A real DM request by OpenClaw's store code, approved through channels.pairing.approve.
    let code = dm_request(&s, &st, "4242");
    let mut c = s.clawpair(&st, &["pairing", "approve", "telegram", &code]);
    c.env("CLAWPAIR_LOG", "info");
    let p_at = std::time::Instant::now();
    let out = s.run_ok("cp-pairing-approve", c, CLAWPAIR);
    let pairing_ms = p_at.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(out.stdout, "Approved telegram sender 4242.\n");
    assert!(
        out.stderr
            .contains("channels.pairing.approve through OpenClaw's gateway"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(TOKEN) && !out.stdout.contains(TOKEN));
    let real = s
        .run_ok(
            "oc-pairing-list",
            s.oc(&st, &["pairing", "list", "telegram", "--json"]),
            OC_CLI,
        )
        .json();
    assert_eq!(real["requests"], serde_json::json!([]), "{real}");
    let mut rd = s.driver(
        &st,
        "oc9/dm-store.mjs",
        &["allow-read", "telegram", "--account", "default"],
    );
    rd.env("OPENCLAW_PKG", &s.oc.package);
    let allow = s.run_ok("allow-read", rd, DRIVER).stdout;
    assert!(allow.contains("4242"), "{allow}");
    s.step("clawpair pairing approve → channels.pairing.approve; openclaw pairing list agrees");

    // Nothing of clawpair's in OpenClaw's state dir; the console never wrote a device row.
    for f in [
        "clawpair-audit.jsonl",
        "devices/pending.json",
        "devices/paired.json",
    ] {
        assert!(!st.join(f).exists(), "{f} in the state dir");
    }
    let log = std::fs::read_to_string(&console_log).unwrap_or_default();
    assert!(!log.contains(TOKEN), "the token in the console log");
    say(&format!(
        "sqlite_gateway figures: gateway ready {ready_secs:.1} s; console y → toast {y_to_toast:.0} ms, \
         → row paired in the database {y_to_row:.0} ms (request {rid1}); clawpair nodes approve \
         {nodes_approve_ms:.0} ms, devices reject {reject_ms:.0} ms, pairing approve \
         {pairing_ms:.0} ms (whole processes)"
    ));

    drop(n1b);
    t.keys("q");
    t.wait_for("the console to quit", 10 * SEC, || !t.alive());
    gw.stop(30 * SEC);
    s.pass();
}

/// With `gateway.tls.enabled` the real gateway makes its own self-signed certificate; clawpair
/// reaches it by `wss://127.0.0.1:<port>` pinned to that certificate's SHA-256 (OpenClaw does
/// not print it): `nodes pending`, `devices approve --latest` and a DM approval through
/// `channels.pairing.approve`, all without `--url`.
#[test]
fn v2026_9_6_tls_gateway_is_reached_pinned_to_its_own_certificate() {
    let Some(s) = begin(
        "sqlite_gateway::v2026_9_6_tls_gateway_is_reached_pinned_to_its_own_certificate",
        V,
        &[],
    ) else {
        return;
    };
    let st = s.mkdir("state");
    let port = free_port();
    let (mut gw, ready_secs) = real_gateway(&s, &st, port, true);
    assert!(
        st.join("gateway/tls/gateway-cert.pem").exists(),
        "no certificate: {}",
        gw.output()
    );
    s.step("real 2026.9.6 gateway with TLS ready");

    let out = s.run_ok(
        "cp-nodes-pending",
        s.clawpair(&st, &["nodes", "pending", "--json"]),
        CLAWPAIR,
    );
    assert_eq!(out.stdout.trim(), "[]", "{out:?}");
    let out = s.run(
        "cp-devices-approve-latest",
        s.clawpair(&st, &["devices", "approve", "--latest"]),
        CLAWPAIR,
    );
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("No pending device pairing requests to approve"),
        "{out:?}"
    );
    s.step("nodes pending and devices approve --latest over wss, pinned");

    let code = dm_request(&s, &st, "5151");
    let mut c = s.clawpair(&st, &["pairing", "approve", "telegram", &code]);
    c.env("CLAWPAIR_LOG", "info");
    let out = s.run_ok("cp-pairing-approve", c, CLAWPAIR);
    assert_eq!(out.stdout, "Approved telegram sender 5151.\n");
    assert!(
        out.stderr
            .contains("channels.pairing.approve through OpenClaw's gateway"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(TOKEN) && !out.stdout.contains(TOKEN));
    let real = s
        .run_ok(
            "oc-pairing-list",
            s.oc(&st, &["pairing", "list", "telegram", "--json"]),
            OC_CLI,
        )
        .json();
    assert_eq!(real["requests"], serde_json::json!([]), "{real}");
    s.step("pairing approve through channels.pairing.approve over wss");
    say(&format!(
        "sqlite_gateway figures (TLS): gateway ready {ready_secs:.1} s"
    ));
    gw.stop(30 * SEC);
    s.pass();
}

/// `(pending_node_surface_json, node_surface_json)` of a paired device, NULL as `None`.
fn surfaces(st: &Path, device: &str) -> (Option<String>, Option<String>) {
    rusqlite::Connection::open_with_flags(
        st.join("state/openclaw.sqlite"),
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .and_then(|db| {
        db.query_row(
            "SELECT pending_node_surface_json, node_surface_json FROM device_pairing_paired \
             WHERE device_id = ?1",
            [device],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    })
    .unwrap_or((None, None))
}

/// The console alone takes a real node through both approvals on a SQLite state dir: `a`, `y`
/// on its device request (`device.pair.approve`), and, once the restarted node has connected,
/// `a`, `y` on the capability card of its paired row (`node.pair.approve` with the scopes the
/// surface asks for); both rows change in the database and are redrawn from it.
#[test]
fn v2026_9_6_console_approves_a_nodes_device_and_capabilities() {
    let Some(s) = begin(
        "sqlite_gateway::v2026_9_6_console_approves_a_nodes_device_and_capabilities",
        V,
        &[Need::Tmux],
    ) else {
        return;
    };
    let st = s.mkdir("state");
    let port = free_port();
    let (mut gw, _) = real_gateway(&s, &st, port, false);
    s.step("real 2026.9.6 gateway ready");
    let console_log = s.log_file("console", "log");
    let t = Tmux::start(
        "interop-sqlgw3",
        140,
        40,
        &format!(
            "env HOME={} CLAWPAIR_LOG=info CLAWPAIR_LOG_FILE={} {BIN} --state-dir {} --no-notify",
            s.home().display(),
            console_log.display(),
            st.display()
        ),
    );
    let wait =
        |what: &str, ok: &dyn Fn(&str) -> bool| t.wait_for(what, 60 * SEC, || ok(&t.screen()));
    let ctx = || {
        format!(
            "{}\n{}",
            t.screen(),
            std::fs::read_to_string(&console_log).unwrap_or_default()
        )
    };

    let node = s.mkdir("node-3");
    let mut n = s.node_host("node-3", &node, port, "sq-node-3");
    let mut found = None;
    wait_until(
        "node 3's device request in the database",
        90 * SEC,
        || {
            found = pending_named(&st, "sq-node-3");
            found.is_some()
        },
        || n.output(),
    );
    let (_, dev) = found.unwrap();
    wait("node 3's request on screen", &|sc| sc.contains("sq-node-3"));
    t.keys("Tab");
    std::thread::sleep(Duration::from_millis(700));
    t.keys("g");
    t.keys("a");
    wait("the device card", &|sc| sc.contains("Approve this device?"));
    t.keys("y");
    wait_until("node 3 paired", 30 * SEC, || is_paired(&st, &dev), ctx);
    s.step("console: device approved through the gateway");

    n.stop(10 * SEC);
    let proxy = s.ws_proxy("proxy", port);
    let n2 = s.node_host("node-3b", &node, proxy.port, "sq-node-3");
    wait_until(
        "node 3's hello-ok",
        90 * SEC,
        || proxy.hello_ok().is_some(),
        || format!("{}\nframes: {:?}", n2.output(), proxy.frames()),
    );
    wait_until(
        "node 3's pending capability surface in the database",
        60 * SEC,
        || surfaces(&st, &dev).0.is_some(),
        || n2.output(),
    );
    wait("the capability surface on node 3's row", &|sc| {
        sc.contains("capabilities")
    });
    s.step("node 3 connected (hello-ok); its capability surface shown on its row");

    // A row that just appeared under the cursor ignores the first key ("the selection just
    // changed"): let it settle.
    t.keys("g");
    std::thread::sleep(Duration::from_millis(1200));
    t.keys("a");
    wait("the capability card", &|sc| {
        sc.contains("Approve this node's capabilities?")
    });
    t.keys("y");
    wait_until(
        "node 3's surface approved",
        30 * SEC,
        || {
            let (pending, approved) = surfaces(&st, &dev);
            pending.is_none() && approved.is_some()
        },
        ctx,
    );
    wait("the capabilities toast", &|sc| {
        sc.contains("Approved the capabilities of sq-node-3")
    });
    s.step("console: capabilities approved through the gateway (node.pair.approve)");

    drop(n2);
    t.keys("q");
    t.wait_for("the console to quit", 10 * SEC, || !t.alive());
    gw.stop(30 * SEC);
    s.pass();
}
