//! The command line as a newcomer meets it: completions that load in bash,
//! a man page, usage errors that exit 2, console flags refused where they
//! would be ignored, validated values, output to a closed pipe that ends
//! quietly, and a decision history that holds every decision and no secret.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_clawpair");

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `clawpair gateway` on `state` (a setup code is issued only while the state
/// dir's gateway listens); killed when dropped.
struct Gateway {
    child: std::process::Child,
    port: u16,
}

impl Gateway {
    fn start(state: &Path) -> Gateway {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(BIN)
            .arg("--state-dir")
            .arg(state)
            .args(["gateway", "--port", &port.to_string()])
            .env_remove("OPENCLAW_GATEWAY_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "clawpair gateway did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Gateway { child, port }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(state: Option<&Path>, args: &[&str]) -> Ran {
    let mut c = Command::new(BIN);
    if let Some(s) = state {
        c.arg("--state-dir").arg(s);
    }
    let o = c
        .args(args)
        .env_remove("OPENCLAW_GATEWAY_TOKEN")
        .env(
            "XDG_CONFIG_HOME",
            state.unwrap_or(Path::new("/nonexistent")),
        )
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Ran {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn completions_load_in_bash_and_the_man_page_renders() {
    let r = run(None, &["completions", "bash"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("clawpair.bash");
    std::fs::write(&script, &r.stdout).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -e; source {}; complete -p clawpair",
            script.display()
        ))
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("clawpair"));
    // Completing the first word offers the subcommands.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(clawpair hi); COMP_CWORD=1; COMP_LINE='clawpair hi'; COMP_POINT=11; _clawpair clawpair hi clawpair; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("history"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for sh in ["zsh", "fish"] {
        let r = run(None, &["completions", sh]);
        assert_eq!(r.code, Some(0));
        assert!(r.stdout.contains("clawpair"), "{sh}");
    }
    let r = run(None, &["completions", "tcsh"]);
    assert_eq!(r.code, Some(2), "an unknown shell is a usage error");
    let r = run(None, &["man"]);
    assert_eq!(r.code, Some(0));
    assert!(r.stdout.contains(".TH clawpair"), "{}", &r.stdout[..200]);
}

#[test]
fn usage_errors_exit_2_and_console_flags_are_refused_on_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let s = Some(dir.path());
    for args in [
        &["--headless", "pairing", "list"][..],
        &["--no-gateway", "devices", "list"],
        &["--quick-approve", "history"],
        &["pairing", "list", "Bad!"],
        &["pairing", "approve"],
        &["setup-code", "--ttl", "100d"],
        &["setup-code", "--url", "ftp://x"],
        &["history", "--since", "yesterday"],
        &["devices", "frobnicate"],
    ] {
        let r = run(s, args);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{args:?}");
    }
    let r = run(s, &["setup-code", "--ttl", "100d"]);
    assert!(r.stderr.contains("at most 24h"), "{}", r.stderr);
    let r = run(s, &["--headless", "devices", "list"]);
    assert!(
        r.stderr.contains("--headless only applies to the console"),
        "{}",
        r.stderr
    );
    let r = run(s, &["--headless", "--no-gateway", "pairing", "list"]);
    assert!(
        r.stderr
            .contains("--headless, --no-gateway only apply to the console"),
        "{}",
        r.stderr
    );
    // The gateway flags belong to `devices`, `pairing` and `nodes` too.
    let r = run(s, &["devices", "list", "--url", "ws://127.0.0.1:1"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("not reachable"), "{}", r.stderr);
    let r = run(s, &["history", "--url", "ws://127.0.0.1:1"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    // The help says what no subcommand does; test-only limits are not in it.
    let r = run(None, &["--help"]);
    assert!(r
        .stdout
        .contains("With no subcommand, clawpair opens the console"));
    assert!(!r.stdout.contains("max-conns-per-addr"));
}

#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path();
    for i in 0..3 {
        run(
            Some(s),
            &["pairing", "request", "telegram", &format!("{i}")],
        );
    }
    // A node that keeps printing while nothing reads: closed at once.
    let gw = Gateway::start(s);
    let port = gw.port.to_string();
    let code = run(Some(s), &["setup-code", "--port", &port, "--json"]);
    let code: serde_json::Value = serde_json::from_str(&code.stdout).expect(&code.stderr);
    let node = tempfile::tempdir().unwrap();
    for args in [
        vec!["pairing", "list"],
        vec!["history"],
        vec!["completions", "bash"],
        vec!["join", code["setupCode"].as_str().unwrap()],
    ] {
        let state = if args[0] == "join" { node.path() } else { s };
        let mut child = Command::new(BIN)
            .arg("--state-dir")
            .arg(state)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let mut err = String::new();
        let started = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("{args:?} did not end on a closed pipe");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        use std::os::unix::process::ExitStatusExt;
        assert!(
            status.success() || status.signal() == Some(libc::SIGPIPE),
            "{args:?}: {status:?} {err}"
        );
    }
}

/// Every CLI decision is in `clawpair history` (text and JSON, filtered),
/// and no code, token or setup code is in the log.
#[test]
fn the_history_holds_every_cli_decision_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let s = Some(dir.path());
    let code = |r: Ran| -> String {
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        v["code"].as_str().unwrap().to_string()
    };
    let c1 = code(run(
        s,
        &[
            "pairing",
            "request",
            "telegram",
            "111",
            "--meta",
            "firstName=Ann",
        ],
    ));
    let c2 = code(run(s, &["pairing", "request", "signal", "+15550002"]));
    assert_eq!(
        run(s, &["pairing", "approve", "telegram", &c1]).code,
        Some(0)
    );
    assert_eq!(run(s, &["pairing", "reject", "signal", &c2]).code, Some(0));
    assert_eq!(
        run(s, &["pairing", "revoke", "telegram", "111"]).code,
        Some(0)
    );
    let gw = Gateway::start(dir.path());
    let port = gw.port.to_string();
    let setup = run(s, &["setup-code", "--json", "--port", &port]);
    let setup: serde_json::Value = serde_json::from_str(&setup.stdout).expect(&setup.stderr);
    drop(gw);
    // Nothing to decide: nothing recorded.
    assert_eq!(
        run(s, &["pairing", "approve", "telegram", "ZZZZZZZZ"]).code,
        Some(1)
    );

    let r = run(s, &["history", "--json"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let recs: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let actions: Vec<&str> = recs.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["approve", "reject", "revoke", "setup_code.issued"]
    );
    for r in &recs {
        assert_eq!(r["via"], "cli");
        assert_eq!(r["result"], "ok");
        assert!(r["user"].as_str().is_some_and(|u| !u.is_empty()));
        assert_eq!(r["where"], dir.path().to_str().unwrap());
    }
    assert_eq!(recs[0]["subject"]["sender"], "111");
    assert_eq!(recs[0]["subject"]["name"], "Ann");
    let log = std::fs::read_to_string(dir.path().join("clawpair-audit.jsonl")).unwrap();
    let setup_code = setup["setupCode"].as_str().unwrap();
    for secret in [c1.as_str(), c2.as_str(), setup_code, &setup_code[..16]] {
        assert!(!log.contains(secret), "a secret in the audit log");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("clawpair-audit.jsonl"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Filters.
    let only = |args: &[&str]| -> usize {
        let mut a = vec!["history", "--json"];
        a.extend_from_slice(args);
        serde_json::from_str::<Vec<serde_json::Value>>(&run(s, &a).stdout)
            .unwrap()
            .len()
    };
    assert_eq!(only(&["--channel", "telegram"]), 2);
    assert_eq!(only(&["--since", "1h"]), 4);
    assert_eq!(only(&["--device", "nothing-like-it"]), 0);
    let text = run(s, &["history"]).stdout;
    assert!(text.starts_with("Decisions (4)"), "{text}");
    // A damaged line does not stop the rest.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("clawpair-audit.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"ts\": broken\n").unwrap();
    let r = run(s, &["history", "--json"]);
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&r.stdout)
            .unwrap()
            .len(),
        4
    );
    assert!(r.stderr.contains("1 damaged line"), "{}", r.stderr);
}
