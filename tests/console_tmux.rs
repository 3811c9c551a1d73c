//! End to end: the real binary in a detached tmux session. A request made
//! with `clawpair pairing request` appears on screen; keys approve it (the
//! allow-list file changes) and reject another after a confirmation whose
//! default is Cancel; `q` quits and the session ends.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_clawpair");

/// A private tmux server for the tests, so nothing touches the user's sessions.
fn socket() -> String {
    format!("clawpair-test-{}", std::process::id())
}

fn tmux_cmd() -> Command {
    let mut c = Command::new("tmux");
    c.args(["-L", &socket()]).env_remove("TMUX");
    c
}

fn tmux(args: &[&str]) -> String {
    let out = tmux_cmd().args(args).output().expect("tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screen(session: &str) -> String {
    tmux(&["capture-pane", "-p", "-t", session])
}

fn wait_for(
    what: &str,
    timeout: Duration,
    mut ok: impl FnMut() -> bool,
    dump: impl Fn() -> String,
) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}; screen:\n{}", dump());
}

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

struct Session(String);
impl Drop for Session {
    fn drop(&mut self) {
        let _ = tmux_cmd().args(["kill-session", "-t", &self.0]).output();
    }
}

#[test]
fn approve_and_reject_in_tmux() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux not installed; skipping");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let sp = state.path().to_str().unwrap().to_string();
    let name = format!("clawpair-e2e-{}", std::process::id());
    let cmd = format!("{BIN} --state-dir {sp} --no-gateway --no-notify");
    let out = tmux_cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "100",
            "-y",
            "30",
            &cmd,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let session = Session(name.clone());
    let dump = || screen(&session.0);
    wait_for(
        "the console",
        Duration::from_secs(10),
        || screen(&name).contains("DM requests"),
        dump,
    );

    let code1 = request(state.path(), "12345");
    wait_for(
        "request 12345 on screen",
        Duration::from_secs(5),
        || {
            let s = screen(&name);
            s.contains("12345") && s.contains(&code1)
        },
        dump,
    );
    let code2 = request(state.path(), "67890");
    wait_for(
        "request 67890 on screen",
        Duration::from_secs(5),
        || screen(&name).contains(&code2),
        dump,
    );

    // `c` copies the selected code: inside tmux through OSC 52, which this
    // server (set-clipboard on) stores as its paste buffer.
    tmux(&["set-option", "-g", "set-clipboard", "on"]);
    tmux(&["send-keys", "-t", &name, "c"]);
    wait_for(
        "copy toast",
        Duration::from_secs(5),
        || screen(&name).contains("Copied pairing code"),
        dump,
    );
    if screen(&name).contains("OSC 52") {
        wait_for(
            "tmux buffer holds the code",
            Duration::from_secs(5),
            || tmux(&["show-buffer"]).trim() == code1,
            dump,
        );
    }

    // Approve the selected (first, oldest) request.
    tmux(&["send-keys", "-t", &name, "a"]);
    let allow = state
        .path()
        .join("credentials/telegram-default-allowFrom.json");
    wait_for(
        "12345 on the allow-list",
        Duration::from_secs(5),
        || std::fs::read_to_string(&allow).is_ok_and(|s| s.contains("\"12345\"")),
        dump,
    );
    wait_for(
        "approval toast",
        Duration::from_secs(5),
        || screen(&name).contains("Approved 12345"),
        dump,
    );

    // Reject: the confirmation starts on Cancel, so Enter changes nothing.
    tmux(&["send-keys", "-t", &name, "r"]);
    wait_for(
        "confirmation",
        Duration::from_secs(5),
        || screen(&name).contains("Reject the telegram pairing request from 67890?"),
        dump,
    );
    tmux(&["send-keys", "-t", &name, "Enter"]);
    wait_for(
        "cancelled",
        Duration::from_secs(5),
        || screen(&name).contains("Cancelled"),
        dump,
    );
    let pairing = state.path().join("credentials/telegram-pairing.json");
    assert!(std::fs::read_to_string(&pairing).unwrap().contains(&code2));

    tmux(&["send-keys", "-t", &name, "r"]);
    wait_for(
        "confirmation again",
        Duration::from_secs(5),
        || screen(&name).contains("[ Cancel ]"),
        dump,
    );
    tmux(&["send-keys", "-t", &name, "y"]);
    wait_for(
        "67890 rejected",
        Duration::from_secs(5),
        || {
            !std::fs::read_to_string(&pairing)
                .unwrap_or_default()
                .contains(&code2)
        },
        dump,
    );
    wait_for(
        "rejection toast",
        Duration::from_secs(5),
        || screen(&name).contains("Rejected 67890"),
        dump,
    );
    let allow_text = std::fs::read_to_string(&allow).unwrap();
    assert!(!allow_text.contains("67890"), "{allow_text}");
    wait_for(
        "allow-list pane",
        Duration::from_secs(5),
        || screen(&name).contains("Allow-lists (1)"),
        dump,
    );

    // A decision made elsewhere shows up labelled.
    let code3 = request(state.path(), "424242");
    wait_for(
        "request 424242",
        Duration::from_secs(5),
        || screen(&name).contains(&code3),
        dump,
    );
    let out = Command::new(BIN)
        .args(["--state-dir", &sp, "pairing", "approve", "telegram", &code3])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(
        "approved elsewhere label",
        Duration::from_secs(5),
        || screen(&name).contains("approved elsewhere"),
        dump,
    );

    // q quits and restores the terminal; the session ends with the process.
    tmux(&["send-keys", "-t", &name, "q"]);
    wait_for(
        "exit",
        Duration::from_secs(5),
        || {
            !tmux_cmd()
                .args(["has-session", "-t", &name])
                .output()
                .unwrap()
                .status
                .success()
        },
        dump,
    );
}

#[test]
fn a_panicking_background_task_leaves_a_working_screen() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux not installed; skipping");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let sp = state.path().to_str().unwrap().to_string();
    let name = format!("clawpair-e2e-panic-{}", std::process::id());
    let cmd = format!(
        "env CLAWPAIR_TEST_PANIC_DM_LOADER=1 {BIN} --state-dir {sp} --no-gateway --no-notify; echo EXITED=$?; sleep 30"
    );
    let out = tmux_cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "100",
            "-y",
            "30",
            &cmd,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let session = Session(name.clone());
    let dump = || screen(&session.0);
    // The panic is reported inside the intact console, not printed over it.
    wait_for(
        "the failure toast",
        Duration::from_secs(10),
        || {
            let s = screen(&name);
            s.contains("DM loader stopped")
                && s.contains("DM requests")
                && !s.contains("panicked at")
        },
        dump,
    );
    // Keys still work, and q exits cleanly (status 0), restoring the terminal.
    tmux(&["send-keys", "-t", &name, "Tab"]);
    wait_for(
        "focus moved",
        Duration::from_secs(5),
        || screen(&name).contains("▶ Device requests"),
        dump,
    );
    tmux(&["send-keys", "-t", &name, "q"]);
    wait_for(
        "clean exit",
        Duration::from_secs(5),
        || screen(&name).contains("EXITED=0"),
        dump,
    );
}
