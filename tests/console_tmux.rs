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
    t.keys("c");
    t.wait_for("copy toast", Duration::from_secs(5), || {
        t.screen().contains("Copied pairing code")
    });
    if t.screen().contains("OSC 52") {
        t.wait_for("tmux buffer holds the code", Duration::from_secs(5), || {
            t.run(&["show-buffer"]).trim() == code1
        });
    }

    // Approve the selected (first, oldest) request.
    t.keys("a");
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
