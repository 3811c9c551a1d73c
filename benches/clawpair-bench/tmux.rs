//! The real console in a tmux session, for the idle-CPU and RSS figures: start,
//! read the screen, the process's CPU ticks; `q` and the session's end on drop.

use std::process::Command;
use std::time::Duration;

/// A console running in its own tmux session.
pub struct TmuxConsole {
    pub name: String,
    pub pid: u32,
}

impl TmuxConsole {
    /// Starts `cmd` in a 120×40 session `name` and waits `settle` for it to draw.
    pub fn start(name: String, cmd: &str, settle: Duration) -> TmuxConsole {
        Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "120",
                "-y",
                "40",
                cmd,
            ])
            .env_remove("TMUX")
            .status()
            .unwrap();
        std::thread::sleep(settle);
        let pid = String::from_utf8(
            Command::new("tmux")
                .args(["display", "-p", "-t", &name, "#{pane_pid}"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim()
        .parse()
        .unwrap();
        TmuxConsole { name, pid }
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(
            &Command::new("tmux")
                .args(["capture-pane", "-p", "-t", &self.name])
                .output()
                .unwrap()
                .stdout,
        )
        .into_owned()
    }

    /// User plus system CPU of the console process so far, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // Fields after the ")" of the command name; utime and stime are 14 and 15.
        let rest = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() < 13 {
            return 0;
        }
        f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0)
    }
}

impl Drop for TmuxConsole {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["send-keys", "-t", &self.name, "q"])
            .status();
        std::thread::sleep(Duration::from_millis(500));
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .output();
    }
}
