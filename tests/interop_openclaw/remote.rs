//! Remote mode (`--url`) against the real OpenClaw gateways, on 127.0.0.1: the console (in
//! tmux) and the headless stream attached to a real gateway, the CLI verbs acting through it,
//! `wss://` with a pinned auto-generated certificate, and a gateway restarted under the console.
//! Every effect is checked with the real `openclaw devices`/`nodes` CLI. Facts relied on:
//! docs/interop/openclaw-2026.9.6.md, docs/interop/openclaw-2026.2.26.md.

use super::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use serde_json::json;

const V9: &str = "2026.9.6";
const V2: &str = "2026.2.26";
/// A node host's start to its first connect: 3–15 s here, more under load.
const NODE_START: Duration = Duration::from_secs(120);

fn now_ms() -> i64 {
    clawpair::clock::system_now_ms()
}

/// A CLI's stdout as JSON, from its first `{` or `[` (the real CLI may print a line before).
fn json_of(o: &Out) -> Value {
    let at = o.stdout.find(['{', '[']).unwrap_or(0);
    serde_json::from_str(&o.stdout[at..]).unwrap_or_else(|e| {
        panic!(
            "{}: stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            o.label, o.stdout, o.stderr
        )
    })
}

/// The keys and value kinds of a JSON document (arrays by their first element).
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => json!(a.first().map(shape).into_iter().collect::<Vec<_>>()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}"))
}

/// The pending request of the device called `name` in a `device.pair.list` payload.
fn pending_named<'v>(list: &'v Value, name: &str) -> Option<&'v Value> {
    arr(&list["pending"])
        .iter()
        .find(|r| r["displayName"] == name)
}

fn paired_ids(list: &Value) -> BTreeSet<String> {
    arr(&list["paired"])
        .iter()
        .map(|d| d["deviceId"].as_str().unwrap().to_string())
        .collect()
}

fn pending_ids(list: &Value) -> BTreeSet<String> {
    arr(&list["pending"])
        .iter()
        .map(|d| d["requestId"].as_str().unwrap().to_string())
        .collect()
}

fn text(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("no string {k} in {v}"))
        .to_string()
}

/// `devices rotate|revoke --device ID --role node`.
fn token_verb<'a>(verb: &'a str, device: &'a str) -> Vec<&'a str> {
    vec!["devices", verb, "--device", device, "--role", "node"]
}

/// What every remote command of a scenario shares: the gateway's URL, a token file, an
/// isolated `XDG_CONFIG_HOME` for clawpair (it remembers pins and device tokens there), and a
/// state dir for the real CLI.
struct Rig<'a> {
    s: &'a Scenario,
    url: String,
    token_file: PathBuf,
    xdg: PathBuf,
    cli: PathBuf,
    state: PathBuf,
}

impl<'a> Rig<'a> {
    fn new(s: &'a Scenario, url: &str) -> Rig<'a> {
        let token_file = s.dir().join("gateway-token");
        std::fs::write(&token_file, TOKEN).unwrap();
        Rig {
            s,
            url: url.to_string(),
            token_file,
            xdg: s.mkdir("xdg"),
            cli: s.mkdir("oc-cli"),
            state: s.mkdir("cp-state"),
        }
    }

    /// `clawpair ARGS --url URL --token-file F`.
    fn cp_cmd(&self, args: &[&str]) -> Command {
        let mut c = self.s.clawpair(&self.state, args);
        c.args(["--url", &self.url, "--token-file"])
            .arg(&self.token_file)
            .env("XDG_CONFIG_HOME", &self.xdg)
            .env("COLUMNS", "120");
        c
    }

    fn cp(&self, label: &str, args: &[&str]) -> Out {
        self.s.run(label, self.cp_cmd(args), CLAWPAIR)
    }

    fn cp_ok(&self, label: &str, args: &[&str]) -> Out {
        self.s.run_ok(label, self.cp_cmd(args), CLAWPAIR)
    }

    /// The real `openclaw ARGS --url URL --token T`.
    fn oc(&self, label: &str, args: &[&str]) -> Out {
        let mut a = args.to_vec();
        a.extend(["--url", &self.url, "--token", TOKEN]);
        self.s.run(label, self.s.oc(&self.cli, &a), OC_CLI)
    }

    fn oc_json(&self, label: &str, args: &[&str]) -> Value {
        let o = self.oc(label, args);
        o.ok();
        json_of(&o)
    }

    /// `openclaw devices list --json --url …`: the real gateway's view.
    fn real_list(&self, label: &str) -> Value {
        self.oc_json(label, &["devices", "list", "--json"])
    }

    /// The remote console in a private tmux server, 140×40.
    fn console(&self, tag: &str) -> Tmux {
        let log = self.s.log_file("console", "log");
        let cmd = format!(
            "env HOME={} XDG_CONFIG_HOME={} CLAWPAIR_LOG=info CLAWPAIR_LOG_FILE={} {BIN} --url {} --token {TOKEN} --no-notify",
            self.s.home().display(),
            self.xdg.display(),
            log.display(),
            self.url
        );
        Tmux::start(&format!("remote-{tag}"), 140, 40, &cmd)
    }

    /// `clawpair --headless --url …` (JSON events on stdout).
    fn headless(&self, label: &str) -> Proc {
        let mut c = self.cp_cmd(&["--headless"]);
        c.env("CLAWPAIR_LOG", "info");
        self.s.spawn(label, c)
    }
}

/// Every JSON line a headless console printed.
fn events(p: &Proc) -> Vec<Value> {
    p.stdout()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits for a headless event matching `f` and returns it.
fn wait_event(p: &mut Proc, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    p.wait_output(what, 60 * SEC, |o, _| {
        o.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|v| f(&v))
    });
    events(p).into_iter().find(|v| f(v)).unwrap()
}

fn is_event(v: &Value, event: &str, request_id: &str) -> bool {
    v["event"] == event && v["request_id"] == request_id
}

/// A 2026.9.6 node host that asked to pair and paused ("waiting for operator action").
fn node_paused(s: &Scenario, label: &str, state: &Path, port: u16, name: &str) -> Proc {
    let mut p = s.node_host(label, state, port, name);
    p.wait_output(&format!("{name}: pairing required"), NODE_START, |o, e| {
        o.contains("reconnect paused") || e.contains("reconnect paused")
    });
    p
}

/// A 2026.9.6 node host restarted after its device was approved: connected (`hello-ok`).
fn node_connected(s: &Scenario, label: &str, state: &Path, port: u16, name: &str) -> Proc {
    let mut p = s.node_host(label, state, port, name);
    p.wait_output(&format!("{name}: connected"), NODE_START, |o, e| {
        o.contains("node host gateway connected") || e.contains("node host gateway connected")
    });
    p
}

/// A 2026.2.26 node host run once: refused with "pairing required", it exits; its device id.
fn node_once(s: &Scenario, label: &str, state: &Path, port: u16, name: &str) -> String {
    let mut p = s.node_host(label, state, port, name);
    p.wait_ok(60 * SEC);
    assert!(p.stderr().contains("pairing required"), "{}", p.output());
    let v = read_json(&state.join("identity/device.json"));
    v["deviceId"].as_str().unwrap().to_string()
}

/// Polls the screen every ~10 ms until it contains `what`; the wall-clock ms it was seen.
fn seen_at(t: &Tmux, what: &str, timeout: Duration) -> i64 {
    let start = Instant::now();
    loop {
        if t.screen().contains(what) {
            return now_ms();
        }
        assert!(
            start.elapsed() < timeout,
            "{what} not on screen within {timeout:?}:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Keys within 0.5 s of the selection changing by itself are ignored (README, the console).
fn settle() {
    std::thread::sleep(Duration::from_millis(700));
}

/// Scenario 1: a real 2026.9.6 node host asks a real 2026.9.6 gateway to pair; the remote
/// console (tmux, `--url --token`) shows the request within 1 s of its creation (the `ts`
/// the real `openclaw devices list --json` reports); `a` `y` approves the device; the node's
/// capability surface then appears and `a` `y` approves it; the node is connected, and its
/// commands, refused before, now run (`openclaw nodes invoke`). Then `r` `y` rejects a second
/// node and `d` `y` removes the first, as the real `openclaw devices list --json` confirms.
#[test]
fn v2026_9_6_remote_console_approves_node_and_surface() {
    let Some(s) = begin(
        "remote::v2026_9_6_remote_console_approves_node_and_surface",
        V9,
        &[Need::Tmux],
    ) else {
        return;
    };
    let port = free_port();
    let gw = s.oc_gateway("oc-gateway", &s.mkdir("gw"), port);
    let r = Rig::new(&s, &gw.url);
    s.step("real 2026.9.6 gateway ready");

    let t = r.console("s1");
    let wait =
        |what: &str, ok: &dyn Fn(&str) -> bool| t.wait_for(what, 60 * SEC, || ok(&t.screen()));
    wait("attached", &|sc| {
        sc.contains(&format!("gateway {}", gw.url))
            && sc.contains("protocol 4")
            && sc.contains("connected")
    });
    s.step("console attached: protocol 4, connected");

    // A real node asks to pair: its row appears at once.
    let na = s.mkdir("node-a");
    let mut a1 = s.node_host("node-a-1", &na, port, "rc-node-a");
    let seen = seen_at(&t, "rc-node-a", NODE_START);
    a1.wait_output("node-a paused", NODE_START, |o, e| {
        o.contains("reconnect paused") || e.contains("reconnect paused")
    });
    let list = r.real_list("oc-list-1");
    let req = pending_named(&list, "rc-node-a")
        .unwrap_or_else(|| panic!("{list}"))
        .clone();
    let (rid_a, dev_a) = (text(&req, "requestId"), text(&req, "deviceId"));
    let latency = seen - req["ts"].as_i64().unwrap();
    say(&format!(
        "interop: remote console: request → row on screen {latency} ms after the real gateway created it"
    ));
    assert!(
        (0..1000).contains(&latency),
        "row seen {latency} ms after the request's ts"
    );
    s.step(&format!(
        "node request on screen {latency} ms after its creation"
    ));

    // `a` opens the card, `y` approves (operator.admin: a node's device).
    t.keys("Tab");
    settle();
    t.keys("a");
    wait("the device card", &|sc| sc.contains("Approve this device?"));
    t.keys("y");
    wait("the approval toast", &|sc| {
        sc.contains("Approved rc-node-a")
    });
    let list = r.real_list("oc-list-2");
    assert!(paired_ids(&list).contains(&dev_a), "{list}");
    assert!(!pending_ids(&list).contains(&rid_a), "{list}");
    s.step("device approved in the console (real list: paired)");

    // The paused node is restarted (as OpenClaw says): hello-ok, then its surface waits.
    drop(a1);
    let mut a2 = node_connected(&s, "node-a-2", &na, port, "rc-node-a");
    wait("the capability surface row", &|sc| {
        sc.contains("capabilities ·")
    });
    a2.wait_output(
        "an RPC refused while the surface waits",
        60 * SEC,
        |o, e| (o.to_string() + e).contains("awaiting operator approval"),
    );
    let invoke = [
        "nodes",
        "invoke",
        "--node",
        &dev_a,
        "--command",
        "system.which",
        "--params",
        r#"{"bins":["uname"]}"#,
        "--json",
    ];
    let before = r.oc("oc-invoke-1", &invoke);
    assert_ne!(before.code(), Some(0), "{before:?}");
    let status = r.oc_json("oc-nodes-status-1", &["nodes", "status", "--json"]);
    let node = arr(&status["nodes"])
        .iter()
        .find(|n| n["nodeId"] == dev_a.as_str())
        .unwrap()
        .clone();
    assert_eq!(node["approvalState"], "pending-approval", "{node}");
    s.step("node connected; surface pending; node.runnerInventory.update and invoke refused");

    settle();
    t.keys("a");
    wait("the surface card", &|sc| {
        sc.contains("Approve this node's capabilities?")
    });
    t.keys("y");
    wait("the surface toast", &|sc| {
        sc.contains("Approved the capabilities of rc-node-a")
    });
    let refused = |p: &Proc| {
        (p.stdout() + &p.stderr())
            .matches("awaiting operator approval")
            .count()
    };
    let refusals = refused(&a2);
    let after = r.oc_json("oc-invoke-2", &invoke);
    assert_eq!(after["ok"], true, "{after}");
    assert_eq!(
        after["payload"]["bins"]["uname"], "/usr/bin/uname",
        "{after}"
    );
    let status = r.oc_json("oc-nodes-status-2", &["nodes", "status", "--json"]);
    let node = arr(&status["nodes"])
        .iter()
        .find(|n| n["nodeId"] == dev_a.as_str())
        .unwrap()
        .clone();
    assert_eq!(node["approvalState"], "approved", "{node}");
    assert_eq!(node["connected"], true, "{node}");
    assert!(!arr(&node["caps"]).is_empty(), "{node}");
    assert!(a2.running(), "{}", a2.output());
    assert_eq!(refused(&a2), refusals, "{}", a2.output());
    let pending = r.oc_json("oc-nodes-pending", &["nodes", "pending", "--json"]);
    assert_eq!(pending, json!([]));
    s.step("surface approved in the console: invoke runs, nodes status approved, no more refusals");

    // A second node: rejected with `r` `y`.
    let nb = s.mkdir("node-b");
    let b1 = node_paused(&s, "node-b-1", &nb, port, "rc-node-b");
    wait("node-b's request", &|sc| sc.contains("rc-node-b"));
    settle();
    t.keys("r");
    wait("the reject confirmation", &|sc| {
        sc.contains("Reject this device pairing request?")
    });
    t.keys("y");
    wait("the reject toast", &|sc| {
        sc.contains("Rejected the request of device")
    });
    drop(b1);
    let list = r.real_list("oc-list-3");
    assert!(pending_named(&list, "rc-node-b").is_none(), "{list}");
    assert_eq!(
        paired_ids(&list),
        [dev_a.clone()].into_iter().collect(),
        "{list}"
    );
    s.step("second node rejected in the console (real list: gone, not paired)");

    // The first, removed from the Paired pane with `d` `y`.
    t.keys("Tab");
    settle();
    t.keys("d");
    wait("the remove confirmation", &|sc| {
        sc.contains("Remove this paired device?")
    });
    t.keys("y");
    wait("the remove toast", &|sc| sc.contains("Removed device"));
    let list = r.real_list("oc-list-4");
    assert!(paired_ids(&list).is_empty(), "{list}");
    s.step("first node removed in the console (real list: no paired device)");

    drop(a2);
    t.keys("q");
    t.wait_for("the console to quit", 10 * SEC, || !t.alive());
    drop(gw);
    s.pass();
}

/// Scenario 2: with a real 2026.9.6 gateway, twin requests decided one by clawpair's CLI
/// (`--url`) and one by the real CLI give the same effects and the same output shapes:
/// `devices list|approve|reject|remove`, `nodes pending|approve|reject`.
#[test]
fn v2026_9_6_cli_url_verbs_match_openclaw() {
    let Some(s) = begin("remote::v2026_9_6_cli_url_verbs_match_openclaw", V9, &[]) else {
        return;
    };
    let port = free_port();
    let gw = s.oc_gateway("oc-gateway", &s.mkdir("gw"), port);
    let r = Rig::new(&s, &gw.url);
    s.step("real 2026.9.6 gateway ready");

    // Six nodes ask: c/d approved (JSON), e/f approved (text), g/h rejected; by clawpair
    // (c, e, g) and by OpenClaw (d, f, h).
    let names = ["tw-c", "tw-d", "tw-e", "tw-f", "tw-g", "tw-h"];
    let dirs: Vec<PathBuf> = names.iter().map(|n| s.mkdir(n)).collect();
    let mut hosts: Vec<Proc> = names
        .iter()
        .zip(&dirs)
        .map(|(n, d)| s.node_host(&format!("{n}-1"), d, port, n))
        .collect();
    for (h, n) in hosts.iter_mut().zip(names) {
        h.wait_output(&format!("{n} paused"), NODE_START, |o, e| {
            o.contains("reconnect paused") || e.contains("reconnect paused")
        });
    }
    drop(hosts);
    let real = r.real_list("oc-list-1");
    let ours = json_of(&r.cp_ok("cp-list-1", &["devices", "list", "--json"]));
    assert_eq!(
        ours, real,
        "clawpair devices list --json vs openclaw devices list --json"
    );
    let ours_text = r.cp_ok("cp-list-text", &["devices", "list"]);
    let real_text = r.oc("oc-list-text", &["devices", "list"]);
    real_text.ok();
    for n in names {
        assert!(ours_text.stdout.contains(n), "{}", ours_text.stdout);
        assert!(real_text.stdout.contains(n), "{}", real_text.stdout);
    }
    let rid = |n: &str| text(pending_named(&real, n).unwrap(), "requestId");
    let dev = |n: &str| text(pending_named(&real, n).unwrap(), "deviceId");
    s.step("six nodes pending; devices list --json identical");

    let ours = json_of(&r.cp_ok(
        "cp-approve-c",
        &["devices", "approve", &rid("tw-c"), "--json"],
    ));
    let theirs = r.oc_json(
        "oc-approve-d",
        &["devices", "approve", &rid("tw-d"), "--json"],
    );
    assert_eq!(ours["device"]["deviceId"], dev("tw-c").as_str());
    assert_eq!(theirs["device"]["deviceId"], dev("tw-d").as_str());
    assert_eq!(
        shape(&ours),
        shape(&theirs),
        "approve --json: {ours} vs {theirs}"
    );
    let ours = r.cp_ok("cp-approve-e", &["devices", "approve", &rid("tw-e")]);
    let theirs = r.oc("oc-approve-f", &["devices", "approve", &rid("tw-f")]);
    theirs.ok();
    assert_eq!(
        ours.stdout,
        format!("Approved {} ({})\n", dev("tw-e"), rid("tw-e"))
    );
    assert!(
        theirs
            .stdout
            .contains(&format!("Approved {} ({})", dev("tw-f"), rid("tw-f"))),
        "{theirs:?}"
    );
    let ours = json_of(&r.cp_ok(
        "cp-reject-g",
        &["devices", "reject", &rid("tw-g"), "--json"],
    ));
    let theirs = r.oc_json(
        "oc-reject-h",
        &["devices", "reject", &rid("tw-h"), "--json"],
    );
    assert_eq!(
        ours,
        json!({"requestId": rid("tw-g"), "deviceId": dev("tw-g")})
    );
    assert_eq!(
        theirs,
        json!({"requestId": rid("tw-h"), "deviceId": dev("tw-h")})
    );
    let list = r.real_list("oc-list-2");
    let want: BTreeSet<String> = ["tw-c", "tw-d", "tw-e", "tw-f"]
        .iter()
        .map(|n| dev(n))
        .collect();
    assert_eq!(paired_ids(&list), want, "{list}");
    assert!(pending_ids(&list).is_empty(), "{list}");
    let paired = |id: &str| {
        arr(&list["paired"])
            .iter()
            .find(|d| d["deviceId"] == id)
            .cloned()
            .unwrap()
    };
    for (a, b) in [("tw-c", "tw-d"), ("tw-e", "tw-f")] {
        let (pa, pb) = (paired(&dev(a)), paired(&dev(b)));
        assert_eq!(shape(&pa), shape(&pb), "{pa} vs {pb}");
        for k in ["roles", "scopes", "approvedScopes", "role"] {
            assert_eq!(pa[k], pb[k], "{k}: {pa} vs {pb}");
        }
        assert_eq!(
            pa["tokens"].as_array().map(|t| t.len()),
            pb["tokens"].as_array().map(|t| t.len())
        );
    }
    s.step("devices approve (JSON, text) and reject: twins alike, real list agrees");

    // Their surfaces: the four approved nodes, restarted, ask for their capabilities.
    let mut hosts: Vec<Proc> = (0..4)
        .map(|i| s.node_host(&format!("{}-2", names[i]), &dirs[i], port, names[i]))
        .collect();
    for (h, n) in hosts.iter_mut().zip(names) {
        h.wait_output(&format!("{n} connected"), NODE_START, |o, e| {
            o.contains("node host gateway connected") || e.contains("node host gateway connected")
        });
    }
    let surf_of = |p: &Value, n: &str| {
        arr(p)
            .iter()
            .find(|x| x["displayName"] == n)
            .map(|x| text(x, "requestId"))
    };
    let t0 = Instant::now();
    let real = loop {
        let real = r.oc_json("oc-nodes-pending-1", &["nodes", "pending", "--json"]);
        if arr(&real).len() == 4 {
            break real;
        }
        assert!(t0.elapsed() < 60 * SEC, "not four surfaces pending: {real}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let ours = json_of(&r.cp_ok("cp-nodes-pending-1", &["nodes", "pending", "--json"]));
    assert_eq!(
        ours, real,
        "clawpair nodes pending --json vs openclaw nodes pending --json"
    );
    let ours_text = r.cp_ok("cp-nodes-pending-text", &["nodes", "pending"]);
    let real_text = r.oc("oc-nodes-pending-text", &["nodes", "pending"]);
    real_text.ok();
    assert!(ours_text.stdout.contains("Pending"), "{}", ours_text.stdout);
    assert!(real_text.stdout.contains("Pending"), "{}", real_text.stdout);
    let surf = |n: &str| surf_of(&real, n).unwrap();
    s.step("four surfaces pending; nodes pending --json identical");

    let ours = json_of(&r.cp_ok("cp-nodes-approve-c", &["nodes", "approve", &surf("tw-c")]));
    let theirs = r.oc_json("oc-nodes-approve-d", &["nodes", "approve", &surf("tw-d")]);
    assert_eq!(ours["node"]["nodeId"], dev("tw-c").as_str(), "{ours}");
    assert_eq!(
        shape(&ours),
        shape(&theirs),
        "nodes approve: {ours} vs {theirs}"
    );
    let ours = json_of(&r.cp_ok("cp-nodes-reject-e", &["nodes", "reject", &surf("tw-e")]));
    let theirs = r.oc_json("oc-nodes-reject-f", &["nodes", "reject", &surf("tw-f")]);
    assert_eq!(
        ours,
        json!({"requestId": surf("tw-e"), "nodeId": dev("tw-e")})
    );
    assert_eq!(
        theirs,
        json!({"requestId": surf("tw-f"), "nodeId": dev("tw-f")})
    );
    let again = r.cp("cp-nodes-reject-again", &["nodes", "reject", &surf("tw-e")]);
    let again_real = r.oc("oc-nodes-reject-again", &["nodes", "reject", &surf("tw-f")]);
    assert_eq!(again.code(), Some(1), "{again:?}");
    assert_eq!(again_real.code(), Some(1), "{again_real:?}");
    // The gateway's own reason; the real CLI adds a hint of its own (docs/interop).
    assert!(again.stderr.contains("unknown requestId"), "{again:?}");
    assert!(
        again_real.stdout.contains("Unknown node pairing requestId"),
        "{again_real:?}"
    );
    let status = r.oc_json("oc-nodes-status", &["nodes", "status", "--json"]);
    let state = |n: &str| {
        arr(&status["nodes"])
            .iter()
            .find(|x| x["nodeId"] == dev(n).as_str())
            .map(|x| x["approvalState"].clone())
            .unwrap_or_else(|| panic!("{n} not in {status}"))
    };
    assert_eq!(state("tw-c"), "approved");
    assert_eq!(state("tw-d"), "approved");
    assert_eq!(state("tw-e"), state("tw-f"), "{status}");
    assert_ne!(state("tw-e"), "approved", "{status}");
    let pending = r.oc_json("oc-nodes-pending-2", &["nodes", "pending", "--json"]);
    assert_eq!(pending, json!([]));
    say(&format!(
        "interop: after nodes reject the real gateway reports approvalState {}",
        state("tw-e")
    ));
    s.step("nodes approve / reject: twins alike (nodes status agrees)");

    // Token rotation and revocation of a node's token: operator.admin on 2026.9.
    let node_token = |list: &Value, n: &str| {
        arr(&list["paired"])
            .iter()
            .find(|d| d["deviceId"] == dev(n).as_str())
            .and_then(|d| {
                arr(&d["tokens"])
                    .iter()
                    .find(|t| t["role"] == "node")
                    .cloned()
            })
            .unwrap_or_else(|| panic!("no node token of {n}: {list}"))
    };
    let before = r.real_list("oc-list-tokens-1");
    let rot = |n| token_verb("rotate", n);
    let (dc, dd) = (dev("tw-c"), dev("tw-d"));
    let ours = json_of(&r.cp_ok("cp-rotate-c", &rot(&dc)));
    let theirs = r.oc_json("oc-rotate-d", &[rot(&dd), vec!["--json"]].concat());
    assert_eq!(shape(&ours), shape(&theirs), "rotate: {ours} vs {theirs}");
    assert_eq!(
        ours["tokenDelivery"], theirs["tokenDelivery"],
        "{ours} vs {theirs}"
    );
    let rev = |n| token_verb("revoke", n);
    let ours = json_of(&r.cp_ok("cp-revoke-c", &rev(&dc)));
    let theirs = r.oc_json("oc-revoke-d", &[rev(&dd), vec!["--json"]].concat());
    assert_eq!(shape(&ours), shape(&theirs), "revoke: {ours} vs {theirs}");
    let after = r.real_list("oc-list-tokens-2");
    for n in ["tw-c", "tw-d"] {
        let (t0, t1) = (node_token(&before, n), node_token(&after, n));
        assert_ne!(t0, t1, "{n}: token entry unchanged");
        assert!(t1["revokedAtMs"].is_number(), "{n}: not revoked: {t1}");
        assert_eq!(shape(&t1), shape(&node_token(&after, "tw-d")), "{t1}");
    }
    s.step("devices rotate / revoke (admin retry): twins alike, real list agrees");

    let ours = r.cp_ok("cp-remove-c", &["devices", "remove", &dev("tw-c")]);
    let theirs = r.oc("oc-remove-d", &["devices", "remove", &dev("tw-d")]);
    theirs.ok();
    assert_eq!(ours.stdout, format!("Removed {}\n", dev("tw-c")));
    assert!(
        theirs.stdout.contains(&format!("Removed {}", dev("tw-d"))),
        "{theirs:?}"
    );
    let list = r.real_list("oc-list-3");
    let want: BTreeSet<String> = ["tw-e", "tw-f"].iter().map(|n| dev(n)).collect();
    assert_eq!(paired_ids(&list), want, "{list}");
    s.step("devices remove: twins alike, real list agrees");

    drop(hosts);
    drop(gw);
    s.pass();
}

/// Scenario 3: a real 2026.2.26 gateway: clawpair's CLI approves the real CLI's own device,
/// then approves, rejects, rotates, revokes and removes real nodes over RPC, each effect
/// checked with the real `openclaw devices list --json --url`; the headless console streams
/// the requests and their resolution (`device_request.created|approved|rejected`).
#[test]
fn v2026_2_26_rpc_and_events() {
    let Some(s) = begin("remote::v2026_2_26_rpc_and_events", V2, &[]) else {
        return;
    };
    let port = free_port();
    let gw = s.oc_gateway("oc-gateway", &s.mkdir("gw"), port);
    let r = Rig::new(&s, &gw.url);
    s.step("real 2026.2.26 gateway ready");

    let mut h = r.headless("headless");
    wait_event(&mut h, "connected", |v| {
        v["event"] == "remote.status" && v["state"] == "connected" && v["protocol"] == 3
    });
    wait_event(&mut h, "ready", |v| v["event"] == "ready");
    s.step("headless console attached (protocol 3)");

    // The real CLI is a device of its own here: refused, then approved by clawpair.
    let first = r.oc("oc-list-0", &["devices", "list", "--json"]);
    assert_eq!(first.code(), Some(1), "{first:?}");
    assert!(first.stderr.contains("pairing required"), "{first:?}");
    let cli_dev = text(&read_json(&r.cli.join("identity/device.json")), "deviceId");
    let created = wait_event(&mut h, "the CLI's request", |v| {
        v["event"] == "device_request.created" && v["device_id"] == cli_dev.as_str()
    });
    let rid_cli = text(&created, "request_id");
    let out = r.cp_ok("cp-approve-cli", &["devices", "approve", &rid_cli]);
    assert_eq!(out.stdout, format!("Approved {cli_dev} ({rid_cli})\n"));
    wait_event(&mut h, "the CLI's approval", |v| {
        is_event(v, "device_request.approved", &rid_cli)
    });
    let list = r.real_list("oc-list-1");
    assert_eq!(
        paired_ids(&list),
        [cli_dev.clone()].into_iter().collect(),
        "{list}"
    );
    s.step("real CLI's device: created event, approved by clawpair --url, real list works");

    // Two real nodes ask; the rows come from the events.
    let (n1, n2) = (s.mkdir("n1"), s.mkdir("n2"));
    let dev1 = node_once(&s, "n1", &n1, port, "rpc-n1");
    let dev2 = node_once(&s, "n2", &n2, port, "rpc-n2");
    let c1 = wait_event(&mut h, "n1's request", |v| {
        v["event"] == "device_request.created" && v["device_id"] == dev1.as_str()
    });
    let c2 = wait_event(&mut h, "n2's request", |v| {
        v["event"] == "device_request.created" && v["device_id"] == dev2.as_str()
    });
    assert_eq!(c1["display_name"], "rpc-n1", "{c1}");
    let (rid1, rid2) = (text(&c1, "request_id"), text(&c2, "request_id"));
    let real = r.real_list("oc-list-2");
    let ours = json_of(&r.cp_ok("cp-list", &["devices", "list", "--json"]));
    assert_eq!(
        ours["pending"], real["pending"],
        "pending: clawpair vs openclaw"
    );
    assert_eq!(paired_ids(&ours), paired_ids(&real));
    assert_eq!(
        pending_ids(&real),
        [rid1.clone(), rid2.clone()].into_iter().collect()
    );
    s.step("two nodes: created events; devices list --url = openclaw devices list");

    let out = r.cp_ok("cp-approve-n1", &["devices", "approve", &rid1]);
    assert_eq!(out.stdout, format!("Approved {dev1} ({rid1})\n"));
    let out = r.cp_ok("cp-reject-n2", &["devices", "reject", &rid2]);
    assert_eq!(out.stdout, format!("Rejected {dev2}\n"));
    wait_event(&mut h, "n1 approved", |v| {
        is_event(v, "device_request.approved", &rid1)
    });
    wait_event(&mut h, "n2 rejected", |v| {
        is_event(v, "device_request.rejected", &rid2)
    });
    let list = r.real_list("oc-list-3");
    assert!(pending_ids(&list).is_empty(), "{list}");
    assert_eq!(
        paired_ids(&list),
        [cli_dev.clone(), dev1.clone()].into_iter().collect()
    );
    let node_token = |list: &Value| {
        arr(&list["paired"])
            .iter()
            .find(|d| d["deviceId"] == dev1.as_str())
            .and_then(|d| {
                arr(&d["tokens"])
                    .iter()
                    .find(|t| t["role"] == "node")
                    .cloned()
            })
            .unwrap_or_else(|| panic!("no node token of {dev1}: {list}"))
    };
    let t0 = node_token(&list);
    s.step("approve / reject over RPC: events resolved, real list agrees");

    std::thread::sleep(Duration::from_millis(20));
    let rot = json_of(&r.cp_ok(
        "cp-rotate",
        &["devices", "rotate", "--device", &dev1, "--role", "node"],
    ));
    assert_eq!(
        rot["deviceId"],
        dev1.as_str(),
        "rotate answered with other keys"
    );
    let t1 = node_token(&r.real_list("oc-list-4"));
    assert_ne!(
        t1, t0,
        "the real gateway's node token did not change on rotate"
    );
    let rev = json_of(&r.cp_ok(
        "cp-revoke",
        &["devices", "revoke", "--device", &dev1, "--role", "node"],
    ));
    assert_eq!(rev["deviceId"], dev1.as_str(), "{rev}");
    let t2 = node_token(&r.real_list("oc-list-5"));
    assert!(t2["revokedAtMs"].is_number(), "not revoked: {t2}");
    let out = r.cp_ok("cp-remove", &["devices", "remove", &dev1]);
    assert_eq!(out.stdout, format!("Removed {dev1}\n"));
    let list = r.real_list("oc-list-6");
    assert_eq!(
        paired_ids(&list),
        [cli_dev.clone()].into_iter().collect(),
        "{list}"
    );
    s.step("rotate / revoke / remove over RPC: real list agrees");

    h.stop(10 * SEC);
    drop(gw);
    s.pass();
}

/// The SHA-256 of the PEM certificate at `pem`, as `AA:BB:…`, by `openssl`.
fn openssl_fingerprint(pem: &Path) -> String {
    let o = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(pem)
        .output()
        .expect("openssl");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = String::from_utf8(o.stdout).unwrap();
    line.trim().rsplit('=').next().unwrap().to_string()
}

fn hex(fp: &str) -> String {
    fp.replace(':', "").to_ascii_lowercase()
}

/// Scenario 4: a real 2026.9.6 gateway with `gateway.tls.enabled` and an auto-generated
/// certificate: `clawpair devices list --url wss://… --tls-fingerprint <right>` works (and
/// lists what the real CLI lists through its local pin), the pin is remembered, a wrong pin
/// is refused with both fingerprints shown, and no pin at all is refused.
#[test]
fn v2026_9_6_wss_pin() {
    let Some(s) = begin("remote::v2026_9_6_wss_pin", V9, &[]) else {
        return;
    };
    if Command::new("openssl").arg("version").output().is_err() {
        panic!("openssl is needed to read the gateway's certificate fingerprint");
    }
    let port = free_port();
    let st = s.mkdir("gw");
    let log_file = s.log_file("oc-gateway-file", "log");
    let cfg = json!({
        "gateway": {
            "mode": "local",
            "port": port,
            "bind": "loopback",
            "auth": { "mode": "token", "token": TOKEN },
            "nodes": { "pairing": { "autoApproveLocal": false } },
            "tls": { "enabled": true, "autoGenerate": true },
        },
        "update": { "checkOnStart": false },
        "discovery": { "mdns": { "mode": "off" } },
        "models": { "catalogRefresh": { "enabled": false } },
        "logging": { "file": log_file },
    });
    std::fs::write(
        st.join("openclaw.json"),
        serde_json::to_string_pretty(&cfg).unwrap(),
    )
    .unwrap();
    let p = port.to_string();
    let mut gw = s.spawn(
        "oc-gateway",
        s.oc(
            &st,
            &[
                "gateway",
                "run",
                "--port",
                &p,
                "--bind",
                "loopback",
                "--allow-unconfigured",
            ],
        ),
    );
    gw.wait_output("the TLS gateway ready", Duration::from_secs(300), |o, _| {
        o.contains("[gateway] ready")
    });
    let pem = st.join("gateway/tls/gateway-cert.pem");
    assert!(
        gw.stdout().contains("generated self-signed cert"),
        "{}",
        gw.output()
    );
    let right = openssl_fingerprint(&pem);
    assert_eq!(hex(&right).len(), 64, "{right}");
    s.step("real TLS gateway ready, certificate generated");

    let url = format!("wss://127.0.0.1:{port}");
    let mut r = Rig::new(&s, &url);
    let ours = r.cp_ok(
        "cp-list-pinned",
        &["devices", "list", "--json", "--tls-fingerprint", &right],
    );
    let ours = json_of(&ours);
    // The real CLI cannot pin with --url (no such option); on the gateway's own state dir it
    // pins the local certificate itself.
    let real = s.run_ok(
        "oc-list-local",
        s.oc(&st, &["devices", "list", "--json"]),
        OC_CLI,
    );
    assert_eq!(
        ours,
        json_of(&real),
        "clawpair over wss vs the real CLI (local pin)"
    );
    let remembered = r.cp_ok("cp-list-remembered", &["devices", "list", "--json"]);
    assert_eq!(json_of(&remembered), ours);
    s.step("right pin: listed (as the real CLI lists); the pin is remembered");

    let mut wrong = hex(&right);
    let flipped = if wrong.starts_with('0') { "1" } else { "0" };
    wrong.replace_range(0..1, flipped);
    r.xdg = s.mkdir("xdg-wrong");
    let refused = r.cp(
        "cp-list-wrong",
        &["devices", "list", "--json", "--tls-fingerprint", &wrong],
    );
    assert_eq!(refused.code(), Some(1), "{refused:?}");
    let said = hex(&refused.stderr);
    assert!(
        said.contains(&hex(&right)),
        "the right fingerprint not shown: {refused:?}"
    );
    assert!(
        said.contains(&wrong),
        "the wrong fingerprint not shown: {refused:?}"
    );
    assert!(refused.stdout.is_empty(), "{refused:?}");
    say(&format!(
        "interop: wss wrong pin refused: {}",
        refused.stderr.lines().next().unwrap_or("")
    ));
    r.xdg = s.mkdir("xdg-none");
    let unpinned = r.cp("cp-list-unpinned", &["devices", "list", "--json"]);
    assert_eq!(unpinned.code(), Some(1), "{unpinned:?}");
    s.step("wrong pin refused with both fingerprints; no pin refused");

    gw.stop(30 * SEC);
    s.pass();
}

/// The retry delay the status line shows (`reconnecting in N s (…)`), if any.
fn retry_in(screen: &str) -> Option<u64> {
    let at = screen.find("reconnecting in ")? + "reconnecting in ".len();
    let rest = &screen[at..];
    rest[..rest.find(' ')?].parse().ok()
}

/// Scenario 5: the remote console (tmux) attached to a real 2026.2.26 gateway; the gateway
/// stops; while the console waits to reconnect, the gateway starts again and the real CLI
/// approves the pending request; the console reconnects, re-lists, and labels the row
/// "approved elsewhere". (2026.2.26's CLI cannot approve while its gateway is down:
/// docs/interop/openclaw-2026.2.26.md summary 8, so the approval is made after the restart,
/// inside the console's backoff wait.)
#[test]
fn v2026_2_26_gateway_restart_under_the_console() {
    let Some(s) = begin(
        "remote::v2026_2_26_gateway_restart_under_the_console",
        V2,
        &[Need::Tmux],
    ) else {
        return;
    };
    let port = free_port();
    let st = s.mkdir("gw");
    let mut gw = s.oc_gateway("oc-gateway", &st, port);
    let r = Rig::new(&s, &gw.url);
    // The real CLI's own device, approved once by clawpair (2026.2.26 pairs its CLI).
    let first = r.oc("oc-list-0", &["devices", "list", "--json"]);
    assert_eq!(first.code(), Some(1), "{first:?}");
    let cli_dev = text(&read_json(&r.cli.join("identity/device.json")), "deviceId");
    let ours = json_of(&r.cp_ok("cp-list-0", &["devices", "list", "--json"]));
    let rid_cli = arr(&ours["pending"])
        .iter()
        .find(|p| p["deviceId"] == cli_dev.as_str())
        .map(|p| text(p, "requestId"))
        .unwrap_or_else(|| panic!("{ours}"));
    r.cp_ok("cp-approve-cli", &["devices", "approve", &rid_cli]);
    s.step("real 2026.2.26 gateway; its CLI's device approved by clawpair");

    let t = r.console("s5");
    let wait = |what: &str, secs: u64, ok: &dyn Fn(&str) -> bool| {
        t.wait_for(what, Duration::from_secs(secs), || ok(&t.screen()))
    };
    wait("attached", 60, &|sc| {
        sc.contains("protocol 3") && sc.contains("connected")
    });
    let n1 = s.mkdir("n1");
    let dev1 = node_once(&s, "n1", &n1, port, "restart-n1");
    wait("the request row", 30, &|sc| sc.contains("restart-n1"));
    let list = r.real_list("oc-list-1");
    let rid1 = arr(&list["pending"])
        .iter()
        .find(|p| p["deviceId"] == dev1.as_str())
        .map(|p| text(p, "requestId"))
        .unwrap_or_else(|| panic!("{list}"));
    s.step("console attached; a node's request on screen");

    // The gateway goes; the console backs off (0.5 s doubling to 30 s).
    gw.proc.stop(30 * SEC);
    wait("reconnecting", 30, &|sc| sc.contains("reconnecting"));
    let down = Instant::now();
    wait("a long backoff wait", 120, &|sc| {
        retry_in(sc).is_some_and(|n| n >= 18)
    });
    let window_start = Instant::now();
    let window = retry_in(&t.screen()).unwrap_or(0);
    s.step(&format!(
        "gateway stopped; console reconnecting, next try in {window} s ({:.0} s after the stop)",
        down.elapsed().as_secs_f64()
    ));

    // Meanwhile: the gateway is back and the real CLI approves.
    gw = s.oc_gateway("oc-gateway-2", &st, port);
    let out = r.oc("oc-approve", &["devices", "approve", &rid1]);
    out.ok();
    assert!(
        out.stdout.contains(&format!("Approved {dev1} ({rid1})")),
        "{out:?}"
    );
    let approved_after = window_start.elapsed().as_secs_f64();
    assert!(
        t.screen().contains("reconnecting"),
        "the console reconnected before the real CLI's approval ({approved_after:.1} s into a {window} s wait):\n{}",
        t.screen()
    );
    s.step(&format!(
        "gateway restarted and the real CLI approved, {approved_after:.1} s into the console's {window} s wait, the console still offline"
    ));

    wait("approved elsewhere after the reconnect", 60, &|sc| {
        sc.contains("approved elsewhere")
    });
    wait("connected again", 10, &|sc| {
        sc.contains("connected") && !sc.contains("reconnecting")
    });
    let list = r.real_list("oc-list-2");
    assert!(paired_ids(&list).contains(&dev1), "{list}");
    s.step("console reconnected, re-listed: the row says approved elsewhere");

    t.keys("q");
    t.wait_for("the console to quit", 10 * SEC, || !t.alive());
    drop(gw);
    s.pass();
}
