//! Reads never write. Every read-only command (`paths`, `pairing list`,
//! `pairing allowlist`, `devices list`, `doctor`, `gateway token`) and the
//! headless console's view (`--headless --no-gateway`, stopped with SIGTERM)
//! run on an empty state dir, on a populated one (DM requests in two channels,
//! one of them expired, allow-lists, pending and paired devices, one pending
//! request expired, the generated gateway token) and on the same tree made
//! read-only (as root: run as `nobody` on a tree it owns, as
//! `tests/faults_files.rs` does). Each time the whole tree, with inode, mode,
//! size, mtime and ctime to the nanosecond and the bytes of every file, is
//! the same afterwards.
//!
//! Also: an explicit state dir that does not exist is reported, by reads,
//! writes and the console alike, and not created; a missing default
//! `~/.openclaw` is simply empty for reads; write commands still create what
//! they need, and a decision on nothing creates nothing.

mod fault_support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use clawpair::devices::{DeviceStore, RequestInput};
use fault_support::*;

/// One entry of a tree listing: everything a write could change.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    path: String,
    kind: &'static str,
    ino: u64,
    mode: u32,
    uid: u32,
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    bytes: Vec<u8>,
}

/// The state dir itself and everything below it, not following links.
fn listing(root: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = fs::symlink_metadata(&p).unwrap();
        let ft = m.file_type();
        let kind = if ft.is_symlink() {
            "link"
        } else if ft.is_dir() {
            "dir"
        } else if ft.is_file() {
            "file"
        } else {
            "other"
        };
        if ft.is_dir() {
            for e in fs::read_dir(&p).unwrap().flatten() {
                stack.push(e.path());
            }
        }
        out.push(Entry {
            path: p.strip_prefix(root).unwrap().display().to_string(),
            kind,
            ino: m.ino(),
            mode: m.mode(),
            uid: m.uid(),
            len: m.len(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            ctime_ns: m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128,
            bytes: if ft.is_file() {
                fs::read(&p).unwrap()
            } else {
                Vec::new()
            },
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn assert_same(before: &[Entry], after: &[Entry], what: &str) {
    if before == after {
        return;
    }
    let names = |v: &[Entry]| v.iter().map(|e| e.path.clone()).collect::<Vec<_>>();
    let new: Vec<String> = names(after)
        .into_iter()
        .filter(|p| before.iter().all(|b| &b.path != p))
        .collect();
    assert!(new.is_empty(), "{what}: created {new:?}");
    for e in after {
        match before.iter().find(|b| b.path == e.path) {
            None => unreachable!(),
            Some(b) if b != e => panic!(
                "{what}: changed {:?}:\n before {b:?}\n after  {e:?}",
                e.path
            ),
            _ => {}
        }
    }
    panic!(
        "{what}: removed something: before {:?}, after {:?}",
        names(before),
        names(after)
    );
}

/// Every read-only command, with the exit status it should have on a
/// populated state dir.
const READS: &[&[&str]] = &[
    &["paths"],
    &["pairing", "list"],
    &["pairing", "list", "telegram"],
    &["pairing", "list", "telegram", "--json"],
    &["pairing", "list", "discord", "--account", "work", "--json"],
    &["pairing", "list", "whatsapp"],
    &["pairing", "allowlist"],
    &["pairing", "allowlist", "--json"],
    &["pairing", "allowlist", "telegram", "--account", "default"],
    &["devices", "list"],
    &["devices", "list", "--json"],
    &["doctor"],
    &["gateway", "token"],
];

/// The command, run as `nobody` when `read_only` and we are root.
fn as_user(state: &Path, read_only: bool, args: &[&str]) -> Command {
    let mut c = cmd(state, args);
    if read_only {
        as_nobody_if_root(&mut c);
    }
    c
}

/// `clawpair --headless --no-gateway` for about a second, then SIGTERM: it
/// must exit 0.
fn headless_view(state: &Path, read_only: bool) {
    let mut c = as_user(
        state,
        read_only,
        &["--headless", "--no-gateway", "--no-notify"],
    );
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("headless console stops on SIGTERM")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("panicked"),
        "headless view: {:?}: {stderr}",
        out.status
    );
}

/// Runs every read and the headless view; the tree stays identical.
/// `expect_ok` lists the reads that must exit 0 (the others must fail
/// cleanly, without a panic).
fn reads_leave_everything(
    state: &Path,
    what: &str,
    read_only: bool,
    expect_ok: impl Fn(&[&str]) -> bool,
) {
    let before = listing(state);
    for args in READS {
        let r = run(as_user(state, read_only, args));
        r.assert_no_panic(&format!("{what}: {args:?}"));
        if expect_ok(args) {
            assert!(r.ok(), "{what}: {args:?} failed: {}", r.stderr);
        } else {
            assert_eq!(r.code, Some(1), "{what}: {args:?}: {}", r.stderr);
        }
        assert_same(&before, &listing(state), &format!("{what}: {args:?}"));
    }
    headless_view(state, read_only);
    assert_same(&before, &listing(state), &format!("{what}: headless view"));
}

fn request_input(device_id: &str) -> RequestInput {
    RequestInput {
        device_id: device_id.into(),
        public_key: format!("pk-{device_id}"),
        display_name: Some(format!("{device_id} phone")),
        platform: Some("ios".into()),
        role: Some("node".into()),
        ..Default::default()
    }
}

fn ok(r: Ran, what: &str) -> String {
    assert!(r.ok(), "{what}: {}", r.stderr);
    r.stdout
}

/// DM requests on telegram (two accounts, one request expired) and discord,
/// an approved sender on each, pending (one expired) and paired devices, a
/// generated gateway token and a config enabling telegram; all written by
/// clawpair's own write commands and store.
fn populate(state: &Path) {
    let at = |iso: &str, args: &[&str]| {
        let mut c = cmd(state, args);
        c.env("CLAWPAIR_NOW", iso);
        ok(run(c), &format!("{args:?}"))
    };
    let now = clawpair::clock::system_now_ms();
    let iso = |ms: i64| clawpair::clock::format_iso_ms(ms);
    let code_of = |out: String| -> String {
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        v["code"].as_str().unwrap().to_string()
    };
    let recent = iso(now - 60_000);
    let c = code_of(at(&recent, &["pairing", "request", "telegram", "111"]));
    at(&recent, &["pairing", "request", "telegram", "222"]);
    at(
        &recent,
        &["pairing", "request", "telegram", "333", "--account", "work"],
    );
    at(&recent, &["pairing", "approve", "telegram", &c]);
    // Written as two hours ago, last (a later write would prune it): expired
    // now, so OpenClaw's list (and clawpair's before) rewrote the file.
    at(
        &iso(now - 2 * 3_600_000),
        &["pairing", "request", "telegram", "100"],
    );
    let d = code_of(at(
        &recent,
        &["pairing", "request", "discord", "42", "--account", "work"],
    ));
    at(&recent, &["pairing", "request", "discord", "43"]);
    at(
        &recent,
        &["pairing", "approve", "discord", &d, "--account", "work"],
    );
    ok(
        run(cmd(state, &["gateway", "token", "--generate"])),
        "token",
    );

    let store = DeviceStore::new(state.join("devices"));
    let r = store
        .request_pairing(request_input("paired-1"), now - 60_000)
        .unwrap();
    store.approve(&r.request.request_id, now - 60_000).unwrap();
    store
        .request_pairing(request_input("stale-1"), now - 10 * 60_000)
        .unwrap();
    store
        .request_pairing(request_input("pend-1"), now - 1_000)
        .unwrap();

    let config = state.join("openclaw.json");
    fs::write(&config, "{ channels: { telegram: { enabled: true } } }\n").unwrap();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o600)).unwrap();
    // Old enough that the tree's timestamps cannot tie with a later write.
    std::thread::sleep(Duration::from_millis(20));
}

fn private_tempdir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    fs::create_dir(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    (tmp, state)
}

#[test]
fn reads_on_an_empty_state_dir_create_nothing() {
    let (_tmp, state) = private_tempdir();
    // Exit 1: `pairing list` with no channel and no config to pick one
    // (OpenClaw's message), and `gateway token` with no token yet.
    reads_leave_everything(&state, "empty", false, |args| {
        args != ["pairing", "list"] && args != ["gateway", "token"]
    });
    let r = run(cmd(&state, &["gateway", "token"]));
    r.assert_clean_failure("gateway token --generate", "gateway token on nothing");
    assert!(fs::read_dir(&state).unwrap().next().is_none());
}

#[test]
fn reads_on_a_populated_state_dir_change_nothing() {
    let (_tmp, state) = private_tempdir();
    populate(&state);
    let before = listing(&state);
    assert!(before.iter().any(|e| e.path == "devices/paired.json"));
    reads_leave_everything(&state, "populated", false, |_| true);
    // The views are right, too: the expired request is not listed.
    let list = ok(
        run(cmd(&state, &["pairing", "list", "telegram", "--json"])),
        "list",
    );
    assert!(
        list.contains("\"222\"") && !list.contains("\"100\""),
        "{list}"
    );
    let file = fs::read_to_string(state.join("credentials/telegram-pairing.json")).unwrap();
    assert!(
        file.contains("\"100\""),
        "still on disk until a write prunes it"
    );
    let devices = ok(run(cmd(&state, &["devices", "list", "--json"])), "devices");
    assert!(devices.contains("pend-1") && !devices.contains("stale-1"));
    // The next write prunes what the reads left.
    ok(
        run(cmd(&state, &["pairing", "request", "telegram", "555"])),
        "write",
    );
    let file = fs::read_to_string(state.join("credentials/telegram-pairing.json")).unwrap();
    assert!(
        !file.contains("\"100\"") && file.contains("\"555\""),
        "{file}"
    );
}

#[test]
fn reads_on_a_read_only_state_dir_work_and_change_nothing() {
    let (tmp, state) = private_tempdir();
    populate(&state);
    if is_root() {
        // Permission bits do not bind root: the reads run as `nobody`, on a
        // tree `nobody` owns (files 0400, directories 0500 below).
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        chown_tree(&state);
    }
    set_tree_writable(&state, false);
    let result = std::panic::catch_unwind(|| {
        reads_leave_everything(&state, "read-only", true, |_| true);
        // A write, by contrast, fails cleanly and changes nothing either.
        let before = listing(&state);
        let r = run(as_user(
            &state,
            true,
            &["pairing", "request", "telegram", "999"],
        ));
        r.assert_clean_failure("Permission denied", "write on a read-only dir");
        assert_same(&before, &listing(&state), "refused write");
    });
    set_tree_writable(&state, true);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// `chmod -R a-w` (or `u+w` back).
fn set_tree_writable(p: &Path, writable: bool) {
    let m = fs::symlink_metadata(p).unwrap();
    if m.is_dir() && writable {
        fs::set_permissions(p, fs::Permissions::from_mode(m.mode() | 0o200)).unwrap();
    }
    if m.is_dir() {
        for e in fs::read_dir(p).unwrap().flatten() {
            set_tree_writable(&e.path(), writable);
        }
    }
    let mode = if writable {
        m.mode() | 0o200
    } else {
        m.mode() & !0o222
    };
    fs::set_permissions(p, fs::Permissions::from_mode(mode & 0o7777)).unwrap();
}

/// What every command says about an explicit state dir that is not there.
fn assert_reports_missing(r: &Ran, missing: &Path, what: &str) {
    r.assert_clean_failure("does not exist", what);
    let line = r.stderr.lines().last().unwrap();
    for needle in [
        &format!("state dir {}", missing.display()),
        "~/.openclaw",
        "--state-dir",
        "OPENCLAW_STATE_DIR",
    ] {
        assert!(line.contains(needle), "{what}: {needle:?} in {line}");
    }
    assert!(
        fs::symlink_metadata(missing).is_err(),
        "{what} created {}",
        missing.display()
    );
}

#[test]
fn an_explicit_state_dir_that_does_not_exist_is_reported_not_created() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("opneclaw");
    let mut commands: Vec<&[&str]> = READS.to_vec();
    commands.extend([
        &["--headless", "--no-gateway"][..],
        &["--headless"],
        &["pairing", "request", "telegram", "1"],
        &["pairing", "approve", "telegram", "ABCDEFGH"],
        &["pairing", "revoke", "telegram", "1"],
        &["devices", "approve", "--latest"],
        &["doctor", "--repair"],
        &["gateway", "token", "--generate"],
        &["setup-code"],
    ]);
    for args in commands {
        let r = run(cmd(&missing, args));
        assert_reports_missing(&r, &missing, &format!("{args:?}"));
        if args == ["paths"] {
            assert!(r.stdout.contains("(does not exist)"), "{}", r.stdout);
        } else {
            assert_eq!(r.stdout, "", "{args:?}");
        }
    }
    // The same through $OPENCLAW_STATE_DIR.
    for args in [
        &["pairing", "list", "telegram"][..],
        &["pairing", "request", "telegram", "1"],
    ] {
        let r = run({
            let mut c = Command::new(BIN);
            c.args(args)
                .env("OPENCLAW_STATE_DIR", &missing)
                .env_remove("CLAWDBOT_STATE_DIR")
                .env_remove("OPENCLAW_OAUTH_DIR")
                .stdin(Stdio::null());
            c
        });
        assert_reports_missing(&r, &missing, &format!("OPENCLAW_STATE_DIR {args:?}"));
        assert!(
            r.stderr.contains("(from OPENCLAW_STATE_DIR)"),
            "{}",
            r.stderr
        );
    }
    assert!(fs::read_dir(tmp.path()).unwrap().next().is_none());
}

/// No `--state-dir`, no variables: the default `~/.openclaw` under `home`.
fn default_cmd(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("HOME", home)
        .env_remove("OPENCLAW_HOME")
        .env_remove("OPENCLAW_STATE_DIR")
        .env_remove("CLAWDBOT_STATE_DIR")
        .env_remove("OPENCLAW_OAUTH_DIR")
        .env_remove("OPENCLAW_GATEWAY_TOKEN")
        .env_remove("CLAWPAIR_NOW")
        .stdin(Stdio::null());
    c
}

#[test]
fn a_missing_default_state_dir_is_empty_for_reads_and_created_by_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    for args in READS {
        let r = run(default_cmd(home, args));
        r.assert_no_panic(&format!("{args:?}"));
        if *args == ["gateway", "token"] || *args == ["pairing", "list"] {
            // No token yet; no channel given and no config to pick one.
            assert_eq!(r.code, Some(1), "{args:?}: {}", r.stderr);
            assert!(!r.stderr.contains("state dir"), "{}", r.stderr);
        } else {
            assert!(r.ok(), "{args:?}: {}", r.stderr);
        }
        assert!(
            fs::read_dir(home).unwrap().next().is_none(),
            "{args:?} created something in $HOME"
        );
    }
    let list = ok(
        run(default_cmd(home, &["pairing", "list", "telegram"])),
        "list",
    );
    assert_eq!(list, "No pending telegram pairing requests.\n");
    // Decisions on nothing create nothing either.
    for args in [
        &["pairing", "approve", "telegram", "ABCDEFGH"][..],
        &["pairing", "reject", "telegram", "ABCDEFGH"],
        &["pairing", "revoke", "telegram", "1"],
        &["devices", "approve", "no-such-request"],
        &["devices", "reject", "no-such-request"],
        &["devices", "remove", "no-such-device"],
        &["devices", "revoke", "--device", "d", "--role", "node"],
        &["devices", "rotate", "--device", "d", "--role", "node"],
    ] {
        let r = run(default_cmd(home, args));
        assert_eq!(r.code, Some(1), "{args:?}: {}", r.stderr);
        r.assert_no_panic(&format!("{args:?}"));
        assert!(
            fs::read_dir(home).unwrap().next().is_none(),
            "{args:?} created something in $HOME"
        );
    }
    // A write creates what it needs: the state dir and credentials/ 0700, the file 0600.
    ok(
        run(default_cmd(home, &["pairing", "request", "telegram", "7"])),
        "request",
    );
    let state = home.join(".openclaw");
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("credentials")), 0o700);
    assert_eq!(
        mode(&state.join("credentials/telegram-pairing.json")),
        0o600
    );
    let token = ok(
        run(default_cmd(home, &["gateway", "token", "--generate"])),
        "generate",
    );
    assert_eq!(token.trim().len(), 43);
    assert_eq!(mode(&state.join("clawpair-gateway-token")), 0o600);
    let again = ok(run(default_cmd(home, &["gateway", "token"])), "token");
    assert_eq!(again, token, "a read prints the generated token");
    let again = ok(
        run(default_cmd(home, &["gateway", "token", "--generate"])),
        "generate again",
    );
    assert_eq!(again, token, "--generate keeps an existing token");
}

#[test]
fn write_commands_into_an_existing_empty_state_dir_create_what_they_need() {
    let (_tmp, state) = private_tempdir();
    let out = ok(
        run(cmd(&state, &["pairing", "request", "telegram", "1"])),
        "request",
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let code = v["code"].as_str().unwrap();
    ok(
        run(cmd(&state, &["pairing", "approve", "telegram", code])),
        "approve",
    );
    assert!(state
        .join("credentials/telegram-default-allowFrom.json")
        .exists());
    let store = DeviceStore::new(state.join("devices"));
    let r = store
        .request_pairing(request_input("n1"), clawpair::clock::system_now_ms())
        .unwrap();
    ok(
        run(cmd(&state, &["devices", "approve", &r.request.request_id])),
        "devices approve",
    );
    assert!(state.join("devices/paired.json").exists());
    for d in ["credentials", "devices"] {
        let left = names(&state.join(d));
        assert!(left.iter().all(|n| !n.ends_with(".lock")), "{d}: {left:?}");
    }
}
