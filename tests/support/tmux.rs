//! A detached tmux session on a private tmux server (`tmux -L`), so the tests
//! never touch the user's own sessions; the server ends when the value drops.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
    name: String,
}

impl Tmux {
    pub fn installed() -> bool {
        Command::new("tmux").arg("-V").output().is_ok()
    }

    /// The tests that use tmux are `#[ignore = "needs tmux …"]`, so a plain
    /// `cargo test` lists them as ignored rather than passing them unrun; run
    /// with `--include-ignored` (as `.ci/run` does), they fail here, with the
    /// remedy, when tmux is missing.
    pub fn require() {
        if !Self::installed() {
            panic!(
                "tmux not found on PATH: this test drives the real console in tmux; install it \
                 (apt-get install tmux; .ci/run does before it runs the tests)"
            );
        }
    }

    /// Runs `cmd` (a shell command line) in a new `cols`×`rows` session.
    pub fn start(tag: &str, cols: u16, rows: u16, cmd: &str) -> Tmux {
        let t = Tmux {
            socket: format!("clawpair-{tag}-{}", std::process::id()),
            name: tag.to_string(),
        };
        let (x, y) = (cols.to_string(), rows.to_string());
        let out = t
            .cmd()
            .args(["new-session", "-d", "-s", &t.name, "-x", &x, "-y", &y, cmd])
            .output()
            .expect("tmux");
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).env_remove("TMUX");
        c
    }

    /// Any tmux command on this server; its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", &self.name])
    }

    pub fn keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", &self.name, keys]);
    }

    pub fn alive(&self) -> bool {
        self.cmd()
            .args(["has-session", "-t", &self.name])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Polls `ok` every 50 ms; on timeout, fails with the screen.
    pub fn wait_for(&self, what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}; screen:\n{}", self.screen());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}
