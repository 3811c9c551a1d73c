//! End to end: the real binary in a detached tmux session. A request made
//! with `clawpair pairing request` appears on screen; keys approve it (the
//! allow-list file changes) and reject another after a confirmation whose
//! default is Cancel; `q` quits and the session ends.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_clawpair");

#[path = "support/tmux.rs"]
mod tmux;
use tmux::Tmux;

fn request(state: &Path, id: &str) -> String {
    let out = Command::new(BIN)
        .args([
            "--state-dir",
            state.to_str().unwrap(),
            "pairing",
            "request",
            "telegram",
            id,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["code"].as_str().unwrap().to_string()
}

#[test]
#[ignore = "needs tmux (apt-get install tmux): cargo test -- --include-ignored, as .ci/run does"]
fn approve_and_reject_in_tmux() {
    Tmux::require();
    let state = tempfile::tempdir().unwrap();
    let sp = state.path().to_str().unwrap().to_string();
    let t = Tmux::start(
        "e2e",
        100,
        30,
        &format!("{BIN} --state-dir {sp} --no-gateway --no-notify"),
    );
    t.wait_for("the console", Duration::from_secs(10), || {
        t.screen().contains("DM requests")
    });

    let code1 = request(state.path(), "12345");
    t.wait_for("request 12345 on screen", Duration::from_secs(5), || {
        let s = t.screen();
        s.contains("12345") && s.contains(&code1)
    });
    let code2 = request(state.path(), "67890");
    t.wait_for("request 67890 on screen", Duration::from_secs(5), || {
        t.screen().contains(&code2)
    });

    // `c` copies the selected code: inside tmux through OSC 52, which this
    // server (set-clipboard on) stores as its paste buffer.
    t.run(&["set-option", "-g", "set-clipboard", "on"]);
    // The cursor landed on 12345 by itself when it arrived: keys within
    // 0.5 s of that are ignored (they were meant for what was there before).
    std::thread::sleep(Duration::from_millis(600));
    t.keys("c");
    t.wait_for("copy toast", Duration::from_secs(5), || {
        t.screen()
            .contains("Pairing code sent to the terminal's clipboard")
    });
    if t.screen().contains("OSC 52") {
        t.wait_for("tmux buffer holds the code", Duration::from_secs(5), || {
            t.run(&["show-buffer"]).trim() == code1
        });
    }

    // Approve the selected (first, oldest) request: `a` shows the card, `y` confirms.
    t.keys("a");
    t.wait_for("the approval card", Duration::from_secs(5), || {
        let s = t.screen();
        s.contains("Approve this DM sender?") && s.contains("Sender id   12345")
    });
    t.keys("y");
    let allow = state
        .path()
        .join("credentials/telegram-default-allowFrom.json");
    t.wait_for("12345 on the allow-list", Duration::from_secs(5), || {
        std::fs::read_to_string(&allow).is_ok_and(|s| s.contains("\"12345\""))
    });
    t.wait_for("approval toast", Duration::from_secs(5), || {
        t.screen().contains("Approved 12345")
    });

    // Reject: the confirmation starts on Cancel, so Enter changes nothing.
    // (The cursor moved to 67890 when 12345 went: wait out the 0.5 s pause.)
    std::thread::sleep(Duration::from_millis(600));
    t.keys("r");
    t.wait_for("confirmation", Duration::from_secs(5), || {
        t.screen()
            .contains("Reject the telegram pairing request from 67890?")
    });
    t.keys("Enter");
    t.wait_for("cancelled", Duration::from_secs(5), || {
        t.screen().contains("Cancelled")
    });
    let pairing = state.path().join("credentials/telegram-pairing.json");
    assert!(std::fs::read_to_string(&pairing).unwrap().contains(&code2));

    t.keys("r");
    t.wait_for("confirmation again", Duration::from_secs(5), || {
        t.screen().contains("[ Cancel ]")
    });
    t.keys("y");
    t.wait_for("67890 rejected", Duration::from_secs(5), || {
        !std::fs::read_to_string(&pairing)
            .unwrap_or_default()
            .contains(&code2)
    });
    t.wait_for("rejection toast", Duration::from_secs(5), || {
        t.screen().contains("Rejected 67890")
    });
    let allow_text = std::fs::read_to_string(&allow).unwrap();
    assert!(!allow_text.contains("67890"), "{allow_text}");
    t.wait_for("allow-list pane", Duration::from_secs(5), || {
        t.screen().contains("Allow-lists (1)")
    });

    // A decision made elsewhere shows up labelled.
    let code3 = request(state.path(), "424242");
    t.wait_for("request 424242", Duration::from_secs(5), || {
        t.screen().contains(&code3)
    });
    let out = Command::new(BIN)
        .args(["--state-dir", &sp, "pairing", "approve", "telegram", &code3])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.wait_for("approved elsewhere label", Duration::from_secs(5), || {
        t.screen().contains("approved elsewhere")
    });

    // q quits and restores the terminal; the session ends with the process.
    t.keys("q");
    t.wait_for("exit", Duration::from_secs(5), || !t.alive());
}

#[test]
#[ignore = "needs tmux (apt-get install tmux): cargo test -- --include-ignored, as .ci/run does"]
fn a_panicking_background_task_leaves_a_working_screen() {
    Tmux::require();
    let state = tempfile::tempdir().unwrap();
    let sp = state.path().to_str().unwrap().to_string();
    let t = Tmux::start("e2e-panic", 100, 30, &format!(
        "env CLAWPAIR_TEST_PANIC_DM_LOADER=1 {BIN} --state-dir {sp} --no-gateway --no-notify; echo EXITED=$?; sleep 30"
    ));
    // The panic is reported inside the intact console, not printed over it.
    t.wait_for("the failure toast", Duration::from_secs(10), || {
        let s = t.screen();
        s.contains("DM loader stopped") && s.contains("DM requests") && !s.contains("panicked at")
    });
    // Keys still work, and q exits cleanly (status 0), restoring the terminal.
    t.keys("Tab");
    t.wait_for("focus moved", Duration::from_secs(5), || {
        t.screen().contains("▶ Device requests")
    });
    t.keys("q");
    t.wait_for("clean exit", Duration::from_secs(5), || {
        t.screen().contains("EXITED=0")
    });
}

fn request_on(state: &Path, channel: &str, id: &str) -> String {
    let out = Command::new(BIN)
        .args([
            "--state-dir",
            state.to_str().unwrap(),
            "pairing",
            "request",
            channel,
            id,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["code"].as_str().unwrap().to_string()
}

fn allowed(state: &Path, channel: &str) -> String {
    std::fs::read_to_string(state.join(format!("credentials/{channel}-default-allowFrom.json")))
        .unwrap_or_default()
}

/// The race the issue describes: the owner presses `a` (and `y`) on one
/// row while a request that sorts above it arrives. Whatever the timing,
/// the arriving request is never the one approved.
#[test]
#[ignore = "needs tmux (apt-get install tmux): cargo test -- --include-ignored, as .ci/run does"]
fn a_request_arriving_while_a_is_pressed_is_never_the_one_approved() {
    Tmux::require();
    let state = tempfile::tempdir().unwrap();
    let sp = state.path().to_str().unwrap().to_string();
    let t = Tmux::start(
        "race",
        100,
        30,
        &format!("{BIN} --state-dir {sp} --no-gateway --no-notify"),
    );
    t.wait_for("the console", Duration::from_secs(10), || {
        t.screen().contains("Welcome to clawpair")
    });
    for round in 0..4 {
        let mine = format!("7000{round}");
        let code = request_on(state.path(), "telegram", &mine);
        t.wait_for("the owner's request", Duration::from_secs(5), || {
            t.screen().contains(&code)
        });
        // Let the cursor settle on it, as the owner would see it.
        std::thread::sleep(Duration::from_millis(700));
        // A request that sorts first ("discord" < "telegram") arrives as
        // the owner presses a and y; the delay varies per round.
        let intruder = format!("9000{round}");
        let st = state.path().to_path_buf();
        let i2 = intruder.clone();
        let racer = std::thread::spawn(move || request_on(&st, "discord", &i2));
        std::thread::sleep(Duration::from_millis(10 * round));
        t.keys("a");
        t.keys("y");
        racer.join().unwrap();
        t.wait_for(
            "the owner's sender approved",
            Duration::from_secs(5),
            || allowed(state.path(), "telegram").contains(&format!("\"{mine}\"")),
        );
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !allowed(state.path(), "discord").contains(&intruder),
            "round {round}: the arriving request was approved:\n{}",
            t.screen()
        );
        // Reject the intruder deliberately, to start the next round clean.
        t.wait_for("the intruder on screen", Duration::from_secs(5), || {
            t.screen().contains(&intruder)
        });
        std::thread::sleep(Duration::from_millis(700));
        t.keys("g");
        t.keys("r");
        t.wait_for("confirmation", Duration::from_secs(5), || {
            t.screen().contains(&format!("from {intruder}?"))
        });
        t.keys("y");
        t.wait_for("intruder rejected", Duration::from_secs(5), || {
            !std::fs::read_to_string(state.path().join("credentials/discord-pairing.json"))
                .unwrap_or_default()
                .contains(&intruder)
        });
        std::thread::sleep(Duration::from_millis(700));
    }
    assert!(!allowed(state.path(), "discord").contains("9000"));
    t.keys("q");
    t.wait_for("exit", Duration::from_secs(5), || !t.alive());
}

/// A scripted session: every decision made in the console, by the CLI
/// beside it and by the gateway is in the audit log once, with where it was
/// made; no DM code, token or setup code is in it.
#[test]
#[ignore = "needs tmux (apt-get install tmux): cargo test -- --include-ignored, as .ci/run does"]
fn the_audit_log_of_a_session_holds_every_decision_and_no_secret() {
    use clawpair::devices::store::DeviceStore;
    Tmux::require();
    let state = tempfile::tempdir().unwrap();
    let sp = state.path().to_str().unwrap().to_string();
    let t = Tmux::start(
        "audit",
        120,
        40,
        // With its gateway: a setup code is issued only while one listens.
        &format!("{BIN} --state-dir {sp} --port {} --no-notify", free_port()),
    );
    t.wait_for("the console", Duration::from_secs(10), || {
        t.screen().contains("Welcome to clawpair")
    });
    let settle = || std::thread::sleep(Duration::from_millis(700));
    let c1 = request_on(state.path(), "telegram", "111");
    let c2 = request_on(state.path(), "telegram", "222");
    let c3 = request_on(state.path(), "telegram", "333");
    t.wait_for("three requests", Duration::from_secs(5), || {
        t.screen().contains(&c3)
    });
    settle();
    // Approve 111 in the console (card, y).
    t.keys("a");
    t.wait_for("card", Duration::from_secs(5), || {
        t.screen().contains("Approve this DM sender?")
    });
    t.keys("y");
    t.wait_for("approved", Duration::from_secs(5), || {
        allowed(state.path(), "telegram").contains("\"111\"")
    });
    settle();
    // Reject 222 in the console.
    t.keys("r");
    t.wait_for("confirm", Duration::from_secs(5), || {
        t.screen().contains("from 222?")
    });
    t.keys("y");
    t.wait_for("rejected", Duration::from_secs(5), || {
        t.screen().contains("Rejected 222")
    });
    // 333 approved by the CLI beside the console: recorded once, by the CLI.
    let out = Command::new(BIN)
        .args(["--state-dir", &sp, "pairing", "approve", "telegram", &c3])
        .output()
        .unwrap();
    assert!(out.status.success());
    t.wait_for("approved elsewhere", Duration::from_secs(5), || {
        t.screen().contains("approved elsewhere")
    });
    // A device request approved in the console, then removed.
    let store = DeviceStore::new(state.path().join("devices"));
    let req = store
        .request_pairing(
            clawpair::devices::RequestInput {
                device_id: "d00d".repeat(16),
                public_key: "pk".into(),
                display_name: Some("lab-pi".into()),
                role: Some("node".into()),
                ..Default::default()
            },
            clawpair::clock::system_now_ms(),
        )
        .unwrap();
    t.wait_for("device request", Duration::from_secs(5), || {
        t.screen().contains("lab-pi")
    });
    t.keys("Tab");
    settle();
    t.keys("a");
    t.wait_for("device card", Duration::from_secs(5), || {
        t.screen().contains("Approve this device?")
    });
    t.keys("Enter");
    t.wait_for("device approved", Duration::from_secs(5), || {
        std::fs::read_to_string(state.path().join("devices/paired.json"))
            .is_ok_and(|p| p.contains("lab-pi"))
    });
    let paired = std::fs::read_to_string(state.path().join("devices/paired.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&paired).unwrap();
    let token = v[&"d00d".repeat(16)]["tokens"]["node"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    t.keys("Tab");
    settle();
    t.keys("d");
    t.wait_for("remove confirm", Duration::from_secs(5), || {
        t.screen().contains("Remove this paired device?")
    });
    t.keys("y");
    t.wait_for("removed", Duration::from_secs(5), || {
        t.screen().contains("Removed device")
    });
    // A setup code: the popup shows it on a row of its own.
    t.keys("s");
    // The code on rows of its own: one, or full-width rows (a 2026.9 code is
    // longer than 120 columns) joined back.
    let code_row = |screen: &str| {
        let mut rows = screen
            .lines()
            .map(str::trim)
            .skip_while(|l| !l.starts_with("eyJ") || l.contains(' '));
        let first = rows.next()?.to_string();
        Some(
            std::iter::once(first)
                .chain(
                    rows.take_while(|l| !l.is_empty() && !l.contains(' '))
                        .map(str::to_string),
                )
                .collect::<String>(),
        )
    };
    t.wait_for(
        "the setup code on a row of its own",
        Duration::from_secs(5),
        || code_row(&t.screen()).is_some(),
    );
    let setup_code = code_row(&t.screen()).unwrap();
    assert!(
        clawpair::gateway::setup::decode(&setup_code).is_some(),
        "{setup_code}"
    );
    t.keys("Escape");
    // (An Escape followed at once by a key reads as Alt+key.)
    std::thread::sleep(Duration::from_millis(300));
    // The history view shows them.
    t.keys("h");
    t.wait_for("history", Duration::from_secs(5), || {
        let s = t.screen();
        s.contains("Decision history") && s.contains("setup_code.issued")
    });
    t.keys("Escape");
    std::thread::sleep(Duration::from_millis(300));
    t.keys("q");
    t.wait_for("exit", Duration::from_secs(5), || !t.alive());

    let log = std::fs::read_to_string(state.path().join("clawpair-audit.jsonl")).unwrap();
    let recs: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<String> = recs
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["action"].as_str().unwrap(),
                r["via"].as_str().unwrap(),
                r["subject"]["sender"]
                    .as_str()
                    .or(r["subject"]["name"].as_str())
                    .unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "approve console 111",
            "reject console 222",
            "approve cli 333",
            "approve console lab-pi",
            "remove console lab-pi",
            "setup_code.issued console -",
        ],
        "{log}"
    );
    assert_eq!(
        recs[3]["subject"]["request_id"],
        req.request.request_id.as_str()
    );
    for secret in [
        c1.as_str(),
        c2.as_str(),
        c3.as_str(),
        &token,
        &setup_code,
        &setup_code[..16],
    ] {
        assert!(!log.contains(secret), "a secret in the audit log");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
