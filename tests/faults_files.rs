//! Faults in and around the state files, against the real binary on real
//! files: failed writes (file size limit, read-only directory), symbolic links
//! and FIFOs planted by someone else, malformed / truncated / huge / deeply
//! nested files of every kind, and lock files of the `devices/` store.
//!
//! What must hold every time: one `clawpair:` line naming the file, a
//! non-zero exit, no panic, no hang, bounded memory, and the files left
//! byte-identical (moved aside only with `--repair`).

mod fault_support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use clawpair::devices::{DeviceStore, RequestInput};
use fault_support::*;

/// A state dir with one DM request (sender 111) and two device requests plus
/// one paired device. Returns (tempdir, state, DM code, pending ids, paired id).
struct Fixture {
    tmp: tempfile::TempDir,
    state: PathBuf,
    code: String,
    pending: Vec<String>,
    paired: String,
}

impl Fixture {
    fn new() -> Fixture {
        Self::with_paired(1)
    }

    fn with_paired(n_paired: usize) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        // Private like the state dir clawpair would create (an explicit one must exist).
        std::os::unix::fs::DirBuilderExt::mode(&mut fs::DirBuilder::new(), 0o700)
            .create(&state)
            .unwrap();
        let r = run(cmd(&state, &["pairing", "request", "telegram", "111"]));
        assert!(r.ok(), "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let code = v["code"].as_str().unwrap().to_string();
        let store = DeviceStore::new(state.join("devices"));
        let now = clawpair::clock::system_now_ms();
        let mut paired = String::new();
        for i in 0..n_paired {
            let r = store
                .request_pairing(input(&format!("paired-{i}")), now)
                .unwrap();
            paired = store
                .approve(&r.request.request_id, now)
                .unwrap()
                .device
                .device_id;
        }
        let pending = (0..2)
            .map(|i| {
                store
                    .request_pairing(input(&format!("pend-{i}")), now)
                    .unwrap()
                    .request
                    .request_id
            })
            .collect();
        Fixture {
            tmp,
            state,
            code,
            pending,
            paired,
        }
    }

    fn creds(&self, name: &str) -> PathBuf {
        self.state.join("credentials").join(name)
    }

    fn dev(&self, name: &str) -> PathBuf {
        self.state.join("devices").join(name)
    }

    fn run(&self, args: &[&str]) -> Ran {
        run(cmd(&self.state, args))
    }

    /// Every file of both state directories but the locks, snapshotted.
    fn snaps(&self) -> Vec<(String, Snap)> {
        let mut v = Vec::new();
        for d in ["credentials", "devices"] {
            for n in names(&self.state.join(d)) {
                if n.ends_with(".lock") {
                    continue;
                }
                v.push((format!("{d}/{n}"), snap(&self.state.join(d).join(&n))));
            }
        }
        v
    }

    fn assert_no_leftovers(&self, what: &str) {
        assert!(
            temp_files(&self.state).is_empty(),
            "{what}: temp files left"
        );
        for d in ["credentials", "devices"] {
            let locks: Vec<String> = names(&self.state.join(d))
                .into_iter()
                .filter(|n| n.ends_with(".lock"))
                .collect();
            assert!(locks.is_empty(), "{what}: locks left in {d}: {locks:?}");
        }
    }
}

fn input(device_id: &str) -> RequestInput {
    RequestInput {
        device_id: device_id.to_string(),
        public_key: format!("key-{device_id}"),
        display_name: Some(format!("name-{device_id}")),
        role: Some("node".into()),
        ..Default::default()
    }
}

fn paired_ids(state: &Path) -> Vec<String> {
    let text = fs::read_to_string(state.join("devices/paired.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object().unwrap().keys().cloned().collect()
}

// ---------------------------------------------------------------------------
// Write failures

/// RLIMIT_FSIZE just at the current size of the file that must grow: the
/// write fails with EFBIG half-way. Nothing may change, nothing may be left.
#[test]
fn a_write_cut_short_by_the_file_size_limit_changes_nothing() {
    // DM approve: the allow-list grows by one sender.
    let f = Fixture::new();
    let allow = f.creds("telegram-default-allowFrom.json");
    let many: Vec<String> = (0..300).map(|i| format!("9{i:05}")).collect();
    fs::write(
        &allow,
        format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({"version": 1, "allowFrom": many}))
                .unwrap()
        ),
    )
    .unwrap();
    let limit = fs::metadata(&allow).unwrap().len();
    let before = f.snaps();
    let mut c = cmd(&f.state, &["pairing", "approve", "telegram", &f.code]);
    with_fsize_limit(&mut c, limit);
    let r = run(c);
    r.assert_clean_failure("telegram-default-allowFrom.json: File too large", "approve");
    assert_eq!(f.snaps(), before, "approve: files changed");
    f.assert_no_leftovers("approve");
    // Without the limit the same command works: the limit was the cause.
    let r = f.run(&["pairing", "approve", "telegram", &f.code]);
    assert!(r.ok(), "{}", r.stderr);

    // DM request: the pairing file grows by one request.
    let pairing = f.creds("telegram-pairing.json");
    assert!(f.run(&["pairing", "request", "telegram", "222"]).ok());
    let limit = fs::metadata(&pairing).unwrap().len();
    let before = f.snaps();
    let mut c = cmd(&f.state, &["pairing", "request", "telegram", "333"]);
    with_fsize_limit(&mut c, limit);
    let r = run(c);
    r.assert_clean_failure("telegram-pairing.json: File too large", "request");
    assert_eq!(f.snaps(), before, "request: files changed");
    f.assert_no_leftovers("request");

    // Device approve: paired.json grows by one device (written first).
    let f = Fixture::with_paired(20);
    let limit = fs::metadata(f.dev("paired.json")).unwrap().len();
    let before = f.snaps();
    let mut c = cmd(&f.state, &["devices", "approve", &f.pending[0]]);
    with_fsize_limit(&mut c, limit);
    let r = run(c);
    r.assert_clean_failure("paired.json: File too large", "devices approve");
    assert_eq!(f.snaps(), before, "devices approve: files changed");
    f.assert_no_leftovers("devices approve");
    let r = f.run(&["devices", "approve", &f.pending[0]]);
    assert!(r.ok(), "{}", r.stderr);
}

/// A state directory the process may read but not write (as root: run as
/// `nobody` on a tree owned by `nobody` with the directories at 0500).
#[test]
fn a_read_only_state_dir_changes_nothing() {
    let f = Fixture::new();
    let dirs = [f.state.join("credentials"), f.state.join("devices")];
    if is_root() {
        fs::set_permissions(f.tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        chown_tree(&f.state);
    }
    for d in &dirs {
        fs::set_permissions(d, fs::Permissions::from_mode(0o500)).unwrap();
    }
    let before = f.snaps();
    let as_user = |args: &[&str]| {
        let mut c = cmd(&f.state, args);
        as_nobody_if_root(&mut c);
        run(c)
    };
    // It can read: the failure below is the directory's, not the files'.
    let r = as_user(&["devices", "list", "--json"]);
    assert!(r.ok() && r.stdout.contains(&f.pending[0]), "{}", r.stderr);
    for (args, file) in [
        (
            vec!["pairing", "approve", "telegram", f.code.as_str()],
            "telegram-pairing.json.lock: Permission denied",
        ),
        (
            vec!["pairing", "request", "telegram", "222"],
            "telegram-pairing.json.lock: Permission denied",
        ),
        (
            vec!["devices", "approve", f.pending[0].as_str()],
            "pending.json.lock: Permission denied",
        ),
        (
            vec!["devices", "remove", f.paired.as_str()],
            "pending.json.lock: Permission denied",
        ),
    ] {
        let r = as_user(&args);
        r.assert_clean_failure(file, &format!("{args:?}"));
        assert_eq!(f.snaps(), before, "{args:?}: files changed");
    }
    for d in &dirs {
        fs::set_permissions(d, fs::Permissions::from_mode(0o700)).unwrap();
    }
    f.assert_no_leftovers("read-only");
}

// ---------------------------------------------------------------------------
// Symbolic links and FIFOs

/// Everything under `dir`: names and snapshots (to prove it was not touched).
fn tree(dir: &Path) -> Vec<(String, Snap)> {
    names(dir)
        .into_iter()
        .map(|n| {
            let s = snap(&dir.join(&n));
            (n, s)
        })
        .collect()
}

/// A link planted in place of a state file, a state directory or a lock,
/// pointing outside the state dir at files that would be accepted if read:
/// no command reads through it, writes through it or replaces it, and each
/// says which path is a symbolic link. Doctor reports it and its repair does
/// not reach outside either.
#[test]
fn planted_symlinks_are_neither_followed_nor_replaced() {
    let pairing_doc = |code: &str| {
        format!(
            "{{\n  \"version\": 1,\n  \"requests\": [\n    {{\n      \"id\": \"victim-sender\",\n      \"code\": \"{code}\",\n      \"createdAt\": \"{now}\",\n      \"lastSeenAt\": \"{now}\",\n      \"meta\": {{\n        \"accountId\": \"default\"\n      }}\n    }}\n  ]\n}}\n",
            now = clawpair::clock::format_iso_ms(clawpair::clock::system_now_ms())
        )
    };
    struct Case {
        link: &'static str,
        dir: bool,
    }
    let cases = [
        Case {
            link: "credentials/telegram-pairing.json",
            dir: false,
        },
        Case {
            link: "credentials/telegram-default-allowFrom.json",
            dir: false,
        },
        Case {
            link: "credentials/telegram-pairing.json.lock",
            dir: false,
        },
        Case {
            link: "devices/pending.json",
            dir: false,
        },
        Case {
            link: "devices/paired.json",
            dir: false,
        },
        Case {
            link: "devices/pending.json.lock",
            dir: false,
        },
        Case {
            link: "credentials",
            dir: true,
        },
        Case {
            link: "devices",
            dir: true,
        },
    ];
    for case in cases {
        let f = Fixture::new();
        let outside = f.tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let link = f.state.join(case.link);
        let target = if case.dir {
            // A copy of the real directory: everything in it is valid.
            let t = outside.join("dir");
            fs::create_dir(&t).unwrap();
            for n in names(&link) {
                fs::copy(link.join(&n), t.join(&n)).unwrap();
            }
            fs::remove_dir_all(&link).unwrap();
            t
        } else {
            let t = outside.join("victim.json");
            let name = case.link.rsplit('/').next().unwrap();
            let body = match name {
                "telegram-pairing.json" => pairing_doc("ZZZZZZZZ"),
                "telegram-default-allowFrom.json" => {
                    "{\n  \"version\": 1,\n  \"allowFrom\": [\n    \"victim-entry\"\n  ]\n}\n"
                        .to_string()
                }
                _ if name.ends_with(".lock") => lock_content(DEAD_PID, 0),
                other => fs::read_to_string(f.dev(other))
                    .unwrap()
                    .replace("name-", "victim-name-"),
            };
            fs::write(&t, body).unwrap();
            let _ = fs::remove_file(&link);
            t
        };
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let outside_before = if case.dir {
            tree(&target)
        } else {
            tree(&outside)
        };

        let shown = case.link.trim_end_matches(".lock");
        let dm = case.link.starts_with("credentials");
        let commands: Vec<Vec<String>> = if dm {
            vec![
                vec!["pairing", "list", "telegram", "--json"],
                vec!["pairing", "approve", "telegram", &f.code],
                vec!["pairing", "approve", "telegram", "ZZZZZZZZ"],
                vec!["pairing", "reject", "telegram", &f.code],
                vec!["pairing", "request", "telegram", "555"],
                vec!["pairing", "allowlist", "telegram", "--account", "default"],
                vec!["pairing", "revoke", "telegram", "victim-entry"],
            ]
        } else {
            vec![
                vec!["devices", "list", "--json"],
                vec!["devices", "approve", &f.pending[0]],
                vec!["devices", "reject", &f.pending[1]],
                vec!["devices", "remove", &f.paired],
            ]
        }
        .into_iter()
        .map(|v| v.into_iter().map(str::to_string).collect())
        .collect();
        let mut refused = 0;
        for args in &commands {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let what = format!("{} / {args:?}", case.link);
            let r = f.run(&args);
            r.assert_no_panic(&what);
            // Nothing read through the link shows up.
            assert!(
                !r.stdout.contains("victim") && !r.stdout.contains("ZZZZZZZZ"),
                "{what}: read through the link: {}",
                r.stdout
            );
            if r.ok() {
                // Only commands that never touch the linked path may pass
                // (e.g. the allow-list when only the pairing file is a link).
                continue;
            }
            if r.stderr.contains("is a symbolic link") {
                refused += 1;
                assert!(
                    r.stderr.contains(&format!(
                        "{}: is a symbolic link",
                        f.state.join(case.link).display()
                    )) || r
                        .stderr
                        .contains(&format!("{}", f.state.join(shown).display())),
                    "{what}: the message must name the link: {}",
                    r.stderr
                );
                r.assert_clean_failure("symbolic link", &what);
            }
            assert!(
                fs::symlink_metadata(&link)
                    .unwrap()
                    .file_type()
                    .is_symlink()
                    && fs::read_link(&link).unwrap() == target,
                "{what}: the link was replaced"
            );
            let now = if case.dir {
                tree(&target)
            } else {
                tree(&outside)
            };
            assert_eq!(now, outside_before, "{what}: wrote outside the state dir");
        }
        assert!(
            refused >= 2,
            "{}: want the link refused by reads and writes, refused {refused} of {}",
            case.link,
            commands.len()
        );
        // Doctor names it; its repair does not reach outside.
        let r = f.run(&["doctor"]);
        assert_eq!(
            r.code,
            Some(1),
            "{}: doctor: {}{}",
            case.link,
            r.stdout,
            r.stderr
        );
        assert!(
            r.stdout.contains(&format!("{}", link.display())) && r.stdout.contains("symbolic link"),
            "{}: doctor: {}",
            case.link,
            r.stdout
        );
        let r = f.run(&["doctor", "--repair"]);
        r.assert_no_panic("doctor --repair");
        let now = if case.dir {
            tree(&target)
        } else {
            tree(&outside)
        };
        assert_eq!(
            now, outside_before,
            "{}: doctor --repair wrote outside",
            case.link
        );
    }
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: plain FFI call with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// A FIFO in place of a state file, `openclaw.json` or a lock: nothing waits
/// for a writer that never comes; the FIFO is reported as not a regular file.
#[test]
fn a_planted_fifo_does_not_hang_anything() {
    for (name, args) in [
        (
            "credentials/telegram-pairing.json",
            vec!["pairing", "list", "telegram", "--json"],
        ),
        (
            "credentials/telegram-pairing.json",
            vec!["pairing", "request", "telegram", "5"],
        ),
        (
            "credentials/telegram-default-allowFrom.json",
            vec!["pairing", "allowlist", "telegram", "--account", "default"],
        ),
        (
            "credentials/telegram-pairing.json.lock",
            vec!["pairing", "request", "telegram", "5"],
        ),
        ("devices/pending.json", vec!["devices", "list", "--json"]),
        (
            "devices/paired.json",
            vec!["devices", "approve", "--latest"],
        ),
        (
            "devices/paired.json.lock",
            vec!["devices", "approve", "--latest"],
        ),
        (
            "openclaw.json",
            vec!["pairing", "list", "telegram", "--json"],
        ),
        ("openclaw.json", vec!["doctor"]),
        (
            "credentials/telegram-pairing.json",
            vec!["doctor", "--repair"],
        ),
    ] {
        let f = Fixture::new();
        let p = f.state.join(name);
        let _ = fs::remove_file(&p);
        mkfifo(&p);
        let what = format!("{name} / {args:?}");
        let r = run_measured(cmd(&f.state, &args), Duration::from_secs(20));
        r.assert_no_panic(&what);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(
            all.contains(&format!("{}", p.display())) && all.contains("not a regular file"),
            "{what}: {all}"
        );
        if name == "openclaw.json" && args[0] == "pairing" {
            // OpenClaw's config is optional: a warning, then on without it.
            assert!(r.ok(), "{what}: {}", r.stderr);
        } else if args[0] != "doctor" {
            r.assert_clean_failure("not a regular file", &what);
        }
    }
}

// ---------------------------------------------------------------------------
// Malformed, truncated, huge and deeply nested files

const MIB: u64 = 1024 * 1024;
/// Peak RSS allowed to a process facing a 100 MiB file.
const RSS_LIMIT_KIB: i64 = 64 * 1024;

/// Whether a command's effect is visible in the files.
type Done = dyn Fn(&Fixture) -> bool;

#[derive(Clone, Copy, Debug)]
enum Bad {
    Malformed,
    Truncated,
    /// 100,000 `[`, never closed.
    Deep,
    /// 4,000 levels, balanced: deep enough to overflow the stack of an
    /// unguarded recursive parser (json5 did, aborting the process).
    DeepBalanced,
    Huge,
}

/// 100 MiB of a JSON-looking document, written once and hard-linked into
/// place for each case (same inode: "untouched" is checked by identity).
fn huge_file(dir: &Path) -> PathBuf {
    use std::io::Write;
    let p = dir.join("huge.json");
    let mut f = fs::File::create(&p).unwrap();
    f.write_all(b"{\"version\": 1, \"requests\": [").unwrap();
    let chunk = "\"0123456789abcdef\", ".repeat((MIB / 20) as usize);
    while f.metadata().unwrap().len() < 100 * MIB {
        f.write_all(chunk.as_bytes()).unwrap();
    }
    p
}

fn bad_bytes(kind: Bad, valid: &[u8]) -> Vec<u8> {
    match kind {
        Bad::Malformed => {
            b"{\n  \"version\": 1,\n  \"requests\": [ {\"id\": \"1\", ] \n}\n".to_vec()
        }
        Bad::Truncated => valid[..valid.len() / 2].to_vec(),
        Bad::Deep => "[".repeat(100_000).into_bytes(),
        Bad::DeepBalanced => format!("{}{}", "[".repeat(4000), "]".repeat(4000)).into_bytes(),
        Bad::Huge => unreachable!("hard-linked"),
    }
}

/// Each state file kind with each kind of damage, through a write command:
/// refused with the file named (exit 1) and left as it is, within bounded
/// memory; `doctor` reports it without touching it; the same command with
/// `--repair` moves it aside intact (same inode) and succeeds.
#[test]
fn damaged_state_files_are_reported_and_moved_aside_only_with_repair() {
    let scratch = tempfile::tempdir().unwrap();
    let huge = huge_file(scratch.path());
    for kind in [
        Bad::Malformed,
        Bad::Truncated,
        Bad::Deep,
        Bad::DeepBalanced,
        Bad::Huge,
    ] {
        for file in [
            "credentials/telegram-pairing.json",
            "credentials/telegram-default-allowFrom.json",
            "devices/pending.json",
            "devices/paired.json",
        ] {
            let f = Fixture::new();
            // The approve below writes the allow-list.
            let allow = f.creds("telegram-default-allowFrom.json");
            if !allow.exists() {
                fs::write(
                    &allow,
                    "{\n  \"version\": 1,\n  \"allowFrom\": [\n    \"7\"\n  ]\n}\n",
                )
                .unwrap();
            }
            let path = f.state.join(file);
            let valid = fs::read(&path).unwrap();
            let _ = fs::remove_file(&path);
            match kind {
                Bad::Huge => fs::hard_link(&huge, &path).unwrap(),
                _ => fs::write(&path, bad_bytes(kind, &valid)).unwrap(),
            }
            let name = file.rsplit('/').next().unwrap();
            let (args, check): (Vec<&str>, Box<Done>) = match name {
                "telegram-pairing.json" => (
                    vec!["pairing", "request", "telegram", "777"],
                    Box::new(|f: &Fixture| {
                        fs::read_to_string(f.creds("telegram-pairing.json"))
                            .unwrap()
                            .contains("\"777\"")
                    }),
                ),
                "telegram-default-allowFrom.json" => (
                    vec!["pairing", "approve", "telegram", f.code.as_str()],
                    Box::new(|f: &Fixture| {
                        fs::read_to_string(f.creds("telegram-default-allowFrom.json"))
                            .unwrap()
                            .contains("\"111\"")
                    }),
                ),
                "pending.json" => (
                    vec!["devices", "remove", f.paired.as_str()],
                    Box::new(|f: &Fixture| !paired_ids(&f.state).contains(&f.paired)),
                ),
                _ => (
                    vec!["devices", "approve", f.pending[0].as_str()],
                    Box::new(|f: &Fixture| paired_ids(&f.state).contains(&"pend-0".to_string())),
                ),
            };
            let what = format!("{file} {kind:?}");
            let before = f.snaps();
            let r = run_measured(cmd(&f.state, &args), Duration::from_secs(30));
            r.assert_clean_failure(&format!("{}", path.display()), &what);
            assert!(
                r.max_rss_kib < RSS_LIMIT_KIB,
                "{what}: peak RSS {} KiB",
                r.max_rss_kib
            );
            assert_eq!(f.snaps(), before, "{what}: changed without --repair");
            f.assert_no_leftovers(&what);

            let r = run_measured(cmd(&f.state, &["doctor"]), Duration::from_secs(30));
            assert_eq!(r.code, Some(1), "{what}: doctor: {}", r.stdout);
            r.assert_no_panic(&what);
            assert!(
                r.stdout.contains(&format!("problem  {}", path.display())),
                "{what}: doctor: {}",
                r.stdout
            );
            assert!(
                r.max_rss_kib < RSS_LIMIT_KIB,
                "{what}: doctor peak RSS {} KiB",
                r.max_rss_kib
            );
            assert_eq!(f.snaps(), before, "{what}: changed by doctor");

            let mut repair = args.clone();
            repair.push("--repair");
            let r = run_measured(cmd(&f.state, &repair), Duration::from_secs(30));
            assert!(r.ok(), "{what} --repair: {}", r.stderr);
            assert!(
                r.max_rss_kib < RSS_LIMIT_KIB,
                "{what}: --repair peak RSS {} KiB",
                r.max_rss_kib
            );
            assert!(check(&f), "{what}: --repair did not complete the command");
            let dir = path.parent().unwrap();
            let aside: Vec<String> = names(dir)
                .into_iter()
                .filter(|n| n.starts_with(&format!("{name}.corrupt-")))
                .collect();
            assert_eq!(aside.len(), 1, "{what}: {aside:?}");
            let moved = snap(&dir.join(&aside[0]));
            let orig = &before.iter().find(|(n, _)| n == file).unwrap().1;
            assert_eq!(
                (moved.ino, moved.len, &moved.sample),
                (orig.ino, orig.len, &orig.sample)
            );
            f.assert_no_leftovers(&what);
        }
    }
}

/// `doctor --repair` moves a damaged file aside (same inode) and leaves a
/// healthy state behind; a second doctor run finds nothing.
#[test]
fn doctor_repair_moves_damaged_files_aside() {
    let scratch = tempfile::tempdir().unwrap();
    let huge = huge_file(scratch.path());
    let f = Fixture::new();
    let pairing = f.creds("telegram-pairing.json");
    let paired = f.dev("paired.json");
    fs::remove_file(&pairing).unwrap();
    fs::hard_link(&huge, &pairing).unwrap();
    fs::write(&paired, "[".repeat(100_000)).unwrap();
    let (a, b) = (snap(&pairing), snap(&paired));
    let r = run_measured(
        cmd(&f.state, &["doctor", "--repair"]),
        Duration::from_secs(30),
    );
    r.assert_no_panic("doctor --repair");
    assert!(
        r.max_rss_kib < RSS_LIMIT_KIB,
        "peak RSS {} KiB",
        r.max_rss_kib
    );
    assert!(r.ok(), "{}{}", r.stdout, r.stderr);
    for (orig, s) in [(&pairing, a), (&paired, b)] {
        let dir = orig.parent().unwrap();
        let name = orig.file_name().unwrap().to_string_lossy().into_owned();
        let aside: Vec<String> = names(dir)
            .into_iter()
            .filter(|n| n.starts_with(&format!("{name}.corrupt-")))
            .collect();
        assert_eq!(aside.len(), 1, "{name}: {aside:?}");
        assert_eq!(snap(&dir.join(&aside[0])), s, "{name}: moved intact");
    }
    let r = f.run(&["doctor"]);
    assert!(r.ok(), "{}", r.stdout);
}

/// `openclaw.json` is OpenClaw's and read-only here: damage of any kind is a
/// warning naming it (the command goes on without it), `doctor` reports it,
/// and nothing — not `--repair` either — moves or rewrites it.
#[test]
fn a_damaged_openclaw_json_is_reported_and_never_touched() {
    let scratch = tempfile::tempdir().unwrap();
    let huge = huge_file(scratch.path());
    for (kind, needle) in [
        (Bad::DeepBalanced, "nested deeper than 128 levels"),
        (Bad::Malformed, "not valid JSON5"),
        (Bad::Truncated, "not valid JSON5"),
        (Bad::Deep, "nested deeper than 128 levels"),
        (Bad::Huge, "too large"),
    ] {
        let f = Fixture::new();
        let cfg = f.state.join("openclaw.json");
        match kind {
            Bad::Huge => fs::hard_link(&huge, &cfg).unwrap(),
            _ => fs::write(
                &cfg,
                bad_bytes(kind, b"{ channels: { telegram: { enabled: true } } }\n"),
            )
            .unwrap(),
        }
        let before = snap(&cfg);
        for args in [
            vec!["pairing", "request", "telegram", "777", "--repair"],
            vec!["pairing", "list", "telegram", "--json"],
            vec!["doctor"],
            vec!["doctor", "--repair"],
        ] {
            let what = format!("{kind:?} {args:?}");
            let r = run_measured(cmd(&f.state, &args), Duration::from_secs(30));
            r.assert_no_panic(&what);
            assert!(
                r.max_rss_kib < RSS_LIMIT_KIB,
                "{what}: peak RSS {} KiB",
                r.max_rss_kib
            );
            let all = format!("{}{}", r.stdout, r.stderr);
            assert!(
                all.contains(&format!("{}", cfg.display())) && all.contains(needle),
                "{what}: {all}"
            );
            if args[0] == "doctor" {
                assert_eq!(r.code, Some(1), "{what}: {all}");
            } else {
                assert!(r.ok(), "{what}: {all}");
            }
            assert_eq!(snap(&cfg), before, "{what}: openclaw.json touched");
        }
    }
}

/// A lock file holding malformed, deeply nested or 100 MiB of garbage whose
/// mtime is over 30 s old is stale: broken at once, read at most 4 KiB of it.
#[test]
fn damaged_lock_files_are_judged_by_mtime_within_bounded_memory() {
    let scratch = tempfile::tempdir().unwrap();
    let huge = huge_file(scratch.path());
    for kind in [Bad::Malformed, Bad::Truncated, Bad::Deep, Bad::Huge] {
        for (lock, args) in [
            (
                "credentials/telegram-pairing.json.lock",
                vec!["pairing", "request", "telegram", "777"],
            ),
            (
                "devices/paired.json.lock",
                vec!["devices", "approve", "--latest"],
            ),
        ] {
            let f = Fixture::new();
            let p = f.state.join(lock);
            match kind {
                Bad::Huge => fs::hard_link(&huge, &p).unwrap(),
                _ => fs::write(&p, bad_bytes(kind, lock_content(1, 0).as_bytes())).unwrap(),
            }
            let fh = fs::File::options().write(true).open(&p).unwrap();
            fh.set_modified(std::time::SystemTime::now() - Duration::from_secs(40))
                .unwrap();
            drop(fh);
            let what = format!("{lock} {kind:?}");
            let r = run_measured(cmd(&f.state, &args), Duration::from_secs(30));
            assert!(r.ok(), "{what}: {}", r.stderr);
            assert!(
                r.max_rss_kib < RSS_LIMIT_KIB,
                "{what}: peak RSS {} KiB",
                r.max_rss_kib
            );
            assert!(
                r.took < Duration::from_secs(10),
                "{what}: took {:?}",
                r.took
            );
            f.assert_no_leftovers(&what);
        }
    }
}

// ---------------------------------------------------------------------------
// Locks of the devices store (tests/dm_locking.rs covers credentials/)

/// Dead holder, live holder older than 30 s, garbage older than 30 s: a
/// devices writer breaks them at once, whichever of the two locks it is.
#[test]
fn stale_devices_locks_are_broken_at_once() {
    let me = std::process::id() as i64;
    let now = clawpair::clock::system_now_ms();
    for lock in ["pending.json.lock", "paired.json.lock"] {
        for (what, content, age) in [
            ("dead pid", lock_content(DEAD_PID, now), Duration::ZERO),
            (
                "live pid, createdAt 31 s old",
                lock_content(me, now - 31_000),
                Duration::ZERO,
            ),
            (
                "garbage, mtime 40 s old",
                "garbage".to_string(),
                Duration::from_secs(40),
            ),
        ] {
            let f = Fixture::new();
            plant_lock(&f.dev(lock), content.as_bytes(), age);
            let r = f.run(&["devices", "approve", &f.pending[0]]);
            let what = format!("{lock}: {what}");
            assert!(r.ok(), "{what}: {}", r.stderr);
            assert!(r.took < Duration::from_secs(5), "{what}: took {:?}", r.took);
            assert!(
                paired_ids(&f.state).contains(&"pend-0".to_string()),
                "{what}"
            );
            f.assert_no_leftovers(&what);
        }
    }
}

/// A live, fresh lock on a devices file is waited for, with a message naming
/// the holder on stderr; the approval goes through once it is released.
#[test]
fn a_live_devices_lock_is_waited_for_with_a_message() {
    use std::io::{BufRead, BufReader};
    let me = std::process::id() as i64;
    for lock in ["pending.json.lock", "paired.json.lock"] {
        let f = Fixture::new();
        let lp = f.dev(lock);
        plant_lock(
            &lp,
            lock_content(me, clawpair::clock::system_now_ms()).as_bytes(),
            Duration::ZERO,
        );
        let before = f.snaps();
        let mut child = cmd(&f.state, &["devices", "approve", &f.pending[0]])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let line = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let l = rx.recv_timeout(left).expect("a message while waiting");
            if l.contains("waiting for lock") {
                break l;
            }
        };
        assert!(
            line.contains("waiting for lock")
                && line.contains(&format!("pid {me}"))
                && line.contains(lock),
            "{lock}: {line}"
        );
        assert_eq!(f.snaps(), before, "{lock}: written while the lock was held");
        fs::remove_file(&lp).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{lock}");
        assert!(
            paired_ids(&f.state).contains(&"pend-0".to_string()),
            "{lock}"
        );
        f.assert_no_leftovers(lock);
    }
}

/// The console writes too (its gateway approves a loopback node silently):
/// a `clawpair --headless` console breaks a dead holder's lock at once, and
/// waits for a live one with a message on stderr naming the lock and holder,
/// then completes the write once the lock is released.
#[test]
fn the_headless_console_breaks_dead_locks_and_waits_for_live_ones() {
    let me = std::process::id() as i64;
    for (lock, live) in [("pending.json.lock", false), ("paired.json.lock", true)] {
        let f = Fixture::new();
        let port = free_port();
        let (_console, stderr) = start_headless(&f.state, port);
        let lp = f.dev(lock);
        let holder = if live { me } else { DEAD_PID };
        plant_lock(
            &lp,
            lock_content(holder, clawpair::clock::system_now_ms()).as_bytes(),
            Duration::ZERO,
        );
        let out = cmd(
            &f.state,
            &["setup-code", "--port", &port.to_string(), "--json"],
        )
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let node = f.tmp.path().join("node");
        fs::create_dir(&node).unwrap(); // an explicit --state-dir must exist
        let _join = Killed(
            cmd(
                &node,
                &[
                    "join",
                    v["setupCode"].as_str().unwrap(),
                    "--name",
                    "lock-node",
                ],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        );
        let joined = |f: &Fixture| {
            paired_ids(&f.state)
                .iter()
                .any(|id| !id.starts_with("paired-"))
        };
        if live {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            let line = loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                let l = stderr
                    .recv_timeout(left)
                    .expect("the console says it is waiting for the lock");
                if l.contains("waiting for lock") {
                    break l;
                }
            };
            assert!(
                line.contains(lock) && line.contains(&format!("pid {me}")),
                "{line}"
            );
            assert!(!joined(&f), "{lock}: written while the lock was held");
            fs::remove_file(&lp).unwrap();
        }
        assert!(
            wait_until(Duration::from_secs(30), || joined(&f)),
            "{lock} (live {live}): the console never paired the node"
        );
        // The planted lock is gone (broken, or released by the test).
        let now = fs::read_to_string(&lp).unwrap_or_default();
        assert!(
            !now.contains(&format!("\"pid\": {holder},")),
            "{lock}: {now}"
        );
    }
}
