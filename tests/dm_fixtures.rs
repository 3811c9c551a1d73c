//! DM pairing conformance: every expectation in `tests/fixtures/dm/README.md`,
//! run against the real `clawpair` binary (or the store for operations the CLI
//! has no verb for) in a temp state dir with the clock frozen via `CLAWPAIR_NOW`.
//!
//! Where an issue asks for more than OpenClaw does, the test checks clawpair's
//! documented behaviour instead: a file that does not parse is reported and
//! left untouched (OpenClaw would overwrite it), usage errors exit 2, and
//! `pairing list` only reads (OpenClaw's list creates a missing file and
//! rewrites a pruned one; here the next write writes those bytes).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use clawpair::dm::DmStore;

#[path = "support/fixtures.rs"]
mod fixtures;

struct Env {
    _tmp: tempfile::TempDir,
    state: PathBuf,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        // An explicit --state-dir must exist (clawpair creates what is inside).
        fs::create_dir(&state).unwrap();
        fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
        Env { _tmp: tmp, state }
    }

    fn creds(&self) -> PathBuf {
        self.state.join("credentials")
    }

    fn put(&self, name: &str, fixture: &str) {
        fs::create_dir_all(self.creds()).unwrap();
        fs::copy(
            fixtures::path(&format!("dm/{fixture}")),
            self.creds().join(name),
        )
        .unwrap();
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.creds().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn run(&self, at: &str, args: &[&str]) -> Out {
        let out = Command::new(env!("CARGO_BIN_EXE_clawpair"))
            .arg("--state-dir")
            .arg(&self.state)
            .args(args)
            .env("CLAWPAIR_NOW", at)
            .env_remove("OPENCLAW_OAUTH_DIR")
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn ok(&self, at: &str, args: &[&str]) -> String {
        let o = self.run(at, args);
        assert_eq!(o.code, 0, "{args:?} failed: {}", o.stderr);
        o.stdout
    }

    fn store(&self) -> DmStore {
        DmStore::new(self.creds())
    }
}

fn fixture(rel: &str) -> String {
    fixtures::read(&format!("dm/{rel}"))
}

fn ms(iso: &str) -> i64 {
    clawpair::clock::parse_iso_ms(iso).unwrap()
}

fn code_of(stdout: &str) -> (String, bool) {
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    (
        v["code"].as_str().unwrap().to_string(),
        v["created"].as_bool().unwrap(),
    )
}

fn mtime(p: &Path) -> std::time::SystemTime {
    fs::metadata(p).unwrap().modified().unwrap()
}

// ---------------------------------------------------------------- a-main

#[test]
fn a_main_three_upserts_match_the_file_openclaw_wrote() {
    let e = Env::new();
    let (c1, n1) = code_of(&e.ok(
        "2026-03-01T12:00:00.000Z",
        &[
            "pairing",
            "request",
            "telegram",
            "111",
            "--meta",
            "username=alice",
            "--meta",
            "firstName=Alice",
            "--meta",
            "lastName=",
        ],
    ));
    let (c2, n2) = code_of(&e.ok(
        "2026-03-01T12:10:00.000Z",
        &[
            "pairing",
            "request",
            "telegram",
            "222",
            "--meta",
            "firstName=Bob",
            "--meta",
            "lastName=   ",
            "--meta",
            "score=42",
        ],
    ));
    let (c3, n3) = code_of(&e.ok(
        "2026-03-01T12:20:00.000Z",
        &[
            "pairing",
            "request",
            "telegram",
            "333",
            "--account",
            "Work",
            "--meta",
            "username= carol ",
        ],
    ));
    assert!(n1 && n2 && n3);
    let expected = fixture("a-main/01-after-3-upserts/telegram-pairing.json")
        .replace("WNVHWUGB", &c1)
        .replace("PVQFS8GS", &c2)
        .replace("SEHSYHAF", &c3);
    assert_eq!(e.read("telegram-pairing.json"), expected);
    for c in [&c1, &c2, &c3] {
        assert_eq!(c.len(), 8);
        assert!(c
            .bytes()
            .all(|b| b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789".contains(&b)));
    }
}

#[test]
fn a_main_full_life_cycle() {
    let e = Env::new();
    e.put(
        "telegram-pairing.json",
        "a-main/01-after-3-upserts/telegram-pairing.json",
    );

    // 12:30 repeat of 111: same code, createdAt kept, lastSeenAt bumped, meta replaced.
    let out = e.ok(
        "2026-03-01T12:30:00.000Z",
        &[
            "pairing",
            "request",
            "telegram",
            "111",
            "--account",
            "default",
            "--meta",
            "username=alice_new",
        ],
    );
    assert_eq!(out, "{\"code\":\"WNVHWUGB\",\"created\":false}\n");
    assert_eq!(
        e.read("telegram-pairing.json"),
        fixture("a-main/02-after-repeat-111/telegram-pairing.json")
    );

    // 12:31 a fourth sender is refused; the file is not touched at all.
    let path = e.creds().join("telegram-pairing.json");
    let before = mtime(&path);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = e.ok(
        "2026-03-01T12:31:00.000Z",
        &["pairing", "request", "telegram", "444"],
    );
    assert_eq!(out, "{\"code\":\"\",\"created\":false}\n");
    assert_eq!(
        e.read("telegram-pairing.json"),
        fixture("a-main/02-after-repeat-111/telegram-pairing.json")
    );
    assert_eq!(mtime(&path), before);

    // 12:32 the listings.
    let at = "2026-03-01T12:32:00.000Z";
    assert_eq!(
        e.ok(at, &["pairing", "list", "telegram"]),
        fixture("a-main/cli/list-telegram.txt")
    );
    assert_eq!(
        e.ok(at, &["pairing", "list", "telegram", "--json"]),
        fixture("a-main/cli/list-telegram.json.txt")
    );
    assert_eq!(
        e.ok(
            at,
            &[
                "pairing",
                "list",
                "--channel",
                "telegram",
                "--account",
                "WORK",
                "--json"
            ]
        ),
        fixture("a-main/cli/list-telegram-account-work.json.txt")
    );
    assert_eq!(
        e.ok(
            at,
            &[
                "pairing",
                "list",
                "telegram",
                "--account",
                "default",
                "--json"
            ]
        ),
        fixture("a-main/cli/list-telegram-account-default.json.txt")
    );
    assert_eq!(
        e.ok(at, &["pairing", "list", "telegram", "--account", "nobody"]),
        fixture("a-main/cli/list-telegram-account-nobody.txt")
    );

    // 12:33 approve with a lower-case padded code → the scoped default allow-list.
    assert_eq!(
        e.ok(
            "2026-03-01T12:33:00.000Z",
            &["pairing", "approve", "telegram", "  wnvhwugb  "]
        ),
        fixture("a-main/cli/approve-111.txt")
    );
    assert_eq!(
        e.read("telegram-pairing.json"),
        fixture("a-main/03-after-approve-111/telegram-pairing.json")
    );
    assert_eq!(
        e.read("telegram-default-allowFrom.json"),
        fixture("a-main/03-after-approve-111/telegram-default-allowFrom.json")
    );
    assert!(
        !e.creds().join("telegram-allowFrom.json").exists(),
        "no unscoped file is created"
    );

    // 12:34 the wrong account: exit 1, nothing on stdout, nothing changes.
    let o = e.run(
        "2026-03-01T12:34:00.000Z",
        &[
            "pairing",
            "approve",
            "telegram",
            "PVQFS8GS",
            "--account",
            "work",
        ],
    );
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "");
    let expected_msg = fixture("a-main/cli/approve-222-wrong-account.stderr-first-line.txt");
    let msg = expected_msg
        .trim()
        .trim_start_matches("[openclaw] Failed to start CLI: Error: ");
    assert_eq!(o.stderr.lines().next().unwrap(), format!("clawpair: {msg}"));
    assert_eq!(
        e.read("telegram-pairing.json"),
        fixture("a-main/03-after-approve-111/telegram-pairing.json")
    );

    // 12:35 account given in another case.
    assert_eq!(
        e.ok(
            "2026-03-01T12:35:00.000Z",
            &[
                "pairing",
                "approve",
                "--channel",
                "telegram",
                "--account",
                "WORK",
                "SEHSYHAF"
            ]
        ),
        fixture("a-main/cli/approve-333-account-WORK.txt")
    );
    assert_eq!(
        e.read("telegram-pairing.json"),
        fixture("a-main/04-after-approve-333/telegram-pairing.json")
    );
    assert_eq!(
        e.read("telegram-work-allowFrom.json"),
        fixture("a-main/04-after-approve-333/telegram-work-allowFrom.json")
    );

    // 12:36 unknown code.
    let o = e.run(
        "2026-03-01T12:36:00.000Z",
        &["pairing", "approve", "telegram", "ZZZZZZZZ"],
    );
    assert_eq!(o.code, 1);
    let expected_msg = fixture("a-main/cli/approve-unknown-code.stderr-first-line.txt");
    let msg = expected_msg
        .trim()
        .trim_start_matches("[openclaw] Failed to start CLI: Error: ");
    assert_eq!(o.stderr.trim(), format!("clawpair: {msg}"));

    // Exactly one hour old is still valid; one millisecond later it is no
    // longer listed. OpenClaw's list also rewrites the file then; clawpair's
    // only reads, and the next write (an unknown code here) writes those bytes.
    assert_eq!(
        e.ok(
            "2026-03-01T13:10:00.000Z",
            &["pairing", "list", "telegram", "--json"]
        ),
        fixture("a-main/cli/list-at-13-10-00-000.json.txt")
    );
    assert_eq!(
        e.read("telegram-pairing.json"),
        fixture("a-main/05-at-exactly-1h/telegram-pairing.json")
    );
    assert_eq!(
        e.ok(
            "2026-03-01T13:10:00.001Z",
            &["pairing", "list", "telegram", "--json"]
        ),
        fixture("a-main/cli/list-at-13-10-00-001.json.txt")
    );
    assert_eq!(
        e.read("telegram-pairing.json"),
        fixture("a-main/05-at-exactly-1h/telegram-pairing.json"),
        "list leaves the file alone"
    );
    let o = e.run(
        "2026-03-01T13:10:00.001Z",
        &["pairing", "reject", "telegram", "ZZZZZZZZ"],
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(
        e.read("telegram-pairing.json"),
        fixture("a-main/06-after-expiry/telegram-pairing.json")
    );

    // 13:20 the approved sender writes again: the store does not consult the allow-list.
    let (code, created) = code_of(&e.ok(
        "2026-03-01T13:20:00.000Z",
        &["pairing", "request", "telegram", "111"],
    ));
    assert!(created);
    let allow = e.creds().join("telegram-default-allowFrom.json");
    let before = mtime(&allow);
    std::thread::sleep(std::time::Duration::from_millis(20));
    e.ok(
        "2026-03-01T13:21:00.000Z",
        &["pairing", "approve", "telegram", &code],
    );
    assert_eq!(
        e.read("telegram-default-allowFrom.json"),
        fixture("a-main/07-reapprove-111/telegram-default-allowFrom.json")
    );
    assert_eq!(mtime(&allow), before, "already present → not rewritten");
}

// ---------------------------------------------------------------- b-allowfrom

fn b_env() -> Env {
    let e = Env::new();
    e.put(
        "telegram-allowFrom.json",
        "b-allowfrom/input-telegram-allowFrom.json",
    );
    e.put(
        "telegram-default-allowFrom.json",
        "b-allowfrom/input-telegram-default-allowFrom.json",
    );
    e.put(
        "telegram-work-allowFrom.json",
        "b-allowfrom/input-telegram-work-allowFrom.json",
    );
    e
}

fn effective(e: &Env, account: &str) -> Vec<String> {
    let out = e.ok(
        "2026-03-01T12:00:00.000Z",
        &[
            "pairing",
            "allowlist",
            "telegram",
            "--account",
            account,
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    serde_json::from_value(v["allowFrom"].clone()).unwrap()
}

#[test]
fn b_allowfrom_effective_reads() {
    let e = b_env();
    let reads: serde_json::Value =
        serde_json::from_str(&fixture("b-allowfrom/reads.json")).unwrap();
    let want = |k: &str| -> Vec<String> { serde_json::from_value(reads[k].clone()).unwrap() };
    assert_eq!(effective(&e, "default"), want("default_no_plugin"));
    assert_eq!(effective(&e, "DEFAULT"), want("DEFAULT_upper_no_plugin"));
    assert_eq!(effective(&e, "work"), want("work_no_plugin"));
    assert_eq!(effective(&e, "Work"), want("Work_sync_no_plugin"));
    assert_eq!(effective(&e, "other"), want("other_account_no_file"));
    // Blank account = default (store API; the CLI treats a blank --account as absent).
    assert_eq!(
        e.store()
            .effective_allowlist("telegram", Some(" "))
            .unwrap(),
        want("empty_account_no_plugin")
    );
    // With the telegram plugin enabled in openclaw.json, its normaliser applies.
    fs::write(
        e.state.join("openclaw.json"),
        "{ channels: { telegram: { enabled: true } } }",
    )
    .unwrap();
    assert_eq!(
        effective(&e, "default"),
        want("default_with_telegram_plugin")
    );
}

#[test]
fn b_allowfrom_mutations_rewrite_like_openclaw() {
    let e = b_env();
    let s = e.store();
    let unscoped = e.creds().join("telegram-allowFrom.json");
    assert!(s.allow_add("telegram", None, " 777 ").unwrap());
    assert_eq!(
        e.read("telegram-allowFrom.json"),
        fixture("b-allowfrom/after-add-777-unscoped/telegram-allowFrom.json")
    );
    let before = mtime(&unscoped);
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(!s.allow_add("telegram", None, "999").unwrap());
    assert_eq!(mtime(&unscoped), before, "unchanged → no write");
    assert!(s.allow_remove("telegram", None, "tg:888").unwrap());
    assert_eq!(
        e.read("telegram-allowFrom.json"),
        fixture("b-allowfrom/after-remove-tg888-unscoped/telegram-allowFrom.json")
    );
    assert!(!s.allow_add("telegram", None, "*").unwrap());
    assert!(s.allow_add("telegram", Some("Team/One"), "tg:555").unwrap());
    assert_eq!(
        e.read("telegram-team_one-allowFrom.json"),
        fixture("b-allowfrom/after-add-scoped-team-one/telegram-team_one-allowFrom.json")
    );
    let m: serde_json::Value =
        serde_json::from_str(&fixture("b-allowfrom/mutations.json")).unwrap();
    assert_eq!(
        m["add 'tg:555' account 'Team/One'"]["allowFrom"][0],
        "tg:555"
    );
}

#[test]
fn b_allowfrom_revoke_cli_covers_the_default_effective_list() {
    let e = b_env();
    // 111 is in the scoped default file *and* the unscoped file: both lose it.
    let out = e.ok(
        "2026-03-01T12:00:00.000Z",
        &["pairing", "revoke", "telegram", "111"],
    );
    assert!(out.starts_with("Revoked telegram sender 111 (telegram-default-allowFrom.json, telegram-allowFrom.json)."), "{out}");
    assert!(!effective(&e, "default").contains(&"111".to_string()));
    let o = e.run(
        "2026-03-01T12:00:00.000Z",
        &["pairing", "revoke", "telegram", "nobody"],
    );
    assert_eq!(o.code, 1);
    assert_eq!(effective(&e, "work"), vec!["333"]);
    e.ok(
        "2026-03-01T12:00:00.000Z",
        &["pairing", "revoke", "telegram", "333", "--account", "work"],
    );
    assert!(effective(&e, "work").is_empty());
}

// ---------------------------------------------------------------- c-legacy-request

#[test]
fn c_legacy_request_without_account() {
    let e = Env::new();
    e.put(
        "telegram-pairing.json",
        "c-legacy-request/input-telegram-pairing.json",
    );
    let (code, created) = code_of(&e.ok(
        "2026-03-01T12:05:00.000Z",
        &["pairing", "request", "telegram", "555"],
    ));
    assert!(created, "a request without meta.accountId never matches");
    assert_eq!(
        e.read("telegram-pairing.json"),
        fixture("c-legacy-request/after-upsert-555-default/telegram-pairing.json")
            .replace("H4JGYKDX", &code)
    );
    let results: serde_json::Value =
        serde_json::from_str(&fixture("c-legacy-request/results.json")).unwrap();
    let listed = e.ok(
        "2026-03-01T12:06:00.000Z",
        &[
            "pairing",
            "list",
            "telegram",
            "--account",
            "default",
            "--json",
        ],
    );
    let listed: serde_json::Value =
        serde_json::from_str(&listed.replace(&code, "H4JGYKDX")).unwrap();
    assert_eq!(listed["requests"], results["list account default at 12:06"]);

    let approved = e
        .store()
        .approve("telegram", "ABCDEFGH", None, ms("2026-03-01T12:07:00.000Z"))
        .unwrap()
        .unwrap();
    assert_eq!(approved.id, "555");
    assert_eq!(
        approved.entry.raw,
        results["approve ABCDEFGH at 12:07"]["entry"]
    );
    assert_eq!(
        e.read("telegram-allowFrom.json"),
        fixture("c-legacy-request/after-approve-ABCDEFGH/telegram-allowFrom.json")
    );
    assert_eq!(
        e.read("telegram-pairing.json"),
        fixture("c-legacy-request/after-approve-ABCDEFGH/telegram-pairing.json")
            .replace("H4JGYKDX", &code)
    );
}

// ---------------------------------------------------------------- d-over-cap

#[test]
fn d_over_cap_list_trims_and_reorders() {
    let e = Env::new();
    e.put(
        "telegram-pairing.json",
        "d-over-cap/input-telegram-pairing.json",
    );
    assert_eq!(
        e.ok(
            "2026-03-01T12:55:00.000Z",
            &["pairing", "list", "telegram", "--json"]
        ),
        fixture("d-over-cap/cli-list-at-12-55.json.txt")
    );
    // OpenClaw's list rewrites the file as `after-list/`; clawpair's only reads.
    assert_eq!(
        e.read("telegram-pairing.json"),
        fixture("d-over-cap/input-telegram-pairing.json")
    );
}

#[test]
fn d_over_cap_upsert_of_a_trimmed_sender() {
    let e = Env::new();
    e.put(
        "telegram-pairing.json",
        "d-over-cap/input-telegram-pairing.json",
    );
    let out = e.ok(
        "2026-03-01T12:56:00.000Z",
        &[
            "pairing",
            "request",
            "telegram",
            "p2",
            "--account",
            "default",
        ],
    );
    assert_eq!(
        format!("{}\n", out.trim()),
        format!(
            "{}\n",
            fixture("d-over-cap/upsert-p2-result.json")
                .trim()
                .replace([' ', '\n'], "")
        )
    );
    assert_eq!(
        e.read("telegram-pairing.json"),
        fixture("d-over-cap/after-upsert-p2/telegram-pairing.json")
    );
}

// ---------------------------------------------------------------- e-odd-files

#[test]
fn e_odd_files_empty_shapes_read_as_empty_and_are_replaced() {
    for input in [
        "",
        "null",
        "[]",
        "{\"version\":1}",
        "{\"version\":1,\"requests\":{}}",
    ] {
        let e = Env::new();
        fs::create_dir_all(e.creds()).unwrap();
        let path = e.creds().join("telegram-pairing.json");
        fs::write(&path, input).unwrap();
        let out = e.ok(
            "2026-03-01T12:00:00.000Z",
            &["pairing", "list", "telegram", "--json"],
        );
        assert_eq!(
            out, "{\n  \"channel\": \"telegram\",\n  \"requests\": []\n}\n",
            "{input:?}"
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            input,
            "list leaves {input:?} untouched"
        );
        let (_, created) = code_of(&e.ok(
            "2026-03-01T12:00:01.000Z",
            &["pairing", "request", "telegram", "1"],
        ));
        assert!(created);
        let v: serde_json::Value = serde_json::from_str(&e.read("telegram-pairing.json")).unwrap();
        let ids: Vec<&str> = v["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["1"]);
    }
}

#[test]
fn e_odd_files_malformed_is_reported_and_never_overwritten() {
    let e = Env::new();
    fs::create_dir_all(e.creds()).unwrap();
    let path = e.creds().join("telegram-pairing.json");
    fs::write(&path, "{not json").unwrap();
    for args in [
        &["pairing", "list", "telegram"][..],
        &["pairing", "request", "telegram", "1"][..],
        &["pairing", "approve", "telegram", "ABCDEFGH"][..],
        &["pairing", "reject", "telegram", "ABCDEFGH"][..],
    ] {
        let o = e.run("2026-03-01T12:00:00.000Z", args);
        assert_eq!(o.code, 1, "{args:?}");
        assert_eq!(o.stdout, "");
        let line = o.stderr.lines().next().unwrap();
        assert!(
            line.contains("telegram-pairing.json: malformed JSON at line 1, column 2"),
            "{line}"
        );
        assert_eq!(o.stderr.lines().count(), 1, "one clear line: {}", o.stderr);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{not json",
            "{args:?} left the file alone"
        );
    }
    // An explicit --repair moves it aside first, then proceeds.
    let (_, created) = code_of(&e.ok(
        "2026-03-01T12:00:01.000Z",
        &["pairing", "request", "telegram", "1", "--repair"],
    ));
    assert!(created);
    let aside: Vec<_> = fs::read_dir(e.creds())
        .unwrap()
        .flatten()
        .filter(|d| {
            d.file_name()
                .to_string_lossy()
                .starts_with("telegram-pairing.json.corrupt-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(fs::read_to_string(aside[0].path()).unwrap(), "{not json");
}

// ---------------------------------------------------------------- f-names

#[test]
fn f_names_sanitised_file_names_modes_and_list_side_effect() {
    let e = Env::new();
    let s = e.store();
    assert!(
        s.upsert(
            "My:Chan",
            "x",
            Some("Team/One"),
            &[],
            ms("2026-03-01T12:00:00.000Z")
        )
        .unwrap()
        .created
    );
    assert!(s.allow_add("A..B", Some("Acct..2"), "y").unwrap());
    let results: serde_json::Value =
        serde_json::from_str(&fixture("f-names/results.json")).unwrap();
    assert_eq!(
        e.ok("2026-03-01T12:00:00.000Z", &["pairing", "list", "Foo"]),
        results["list_foo_stdout"].as_str().unwrap()
    );
    let mut files: Vec<String> = fs::read_dir(e.creds())
        .unwrap()
        .flatten()
        .map(|d| d.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    // OpenClaw's list also creates an empty `foo-pairing.json`
    // (`results["foo_pairing_json"]`); clawpair's only reads.
    let mut want: Vec<String> = serde_json::from_value(results["files"].clone()).unwrap();
    want.retain(|f| f != "foo-pairing.json");
    assert_eq!(
        files, want,
        "only the data files remain: no temp or lock files, nothing made by list"
    );
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for f in &files {
        assert_eq!(mode(&e.creds().join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&e.creds()), 0o700);
    assert_eq!(mode(&e.state), 0o700);
}

// ---------------------------------------------------------------- g-cli

#[test]
fn g_cli_messages_without_plugins() {
    let e = Env::new();
    let cases: serde_json::Value =
        serde_json::from_str(&fixture("g-cli/no-plugins-config.json")).unwrap();
    let at = "2026-03-01T12:00:00.000Z";
    let check = |key: &str, args: &[&str], exit: i32| {
        let o = e.run(at, args);
        let c = &cases[key];
        assert_eq!(o.code, exit, "{key}: {}", o.stderr);
        assert_eq!(o.stdout, c["stdout"].as_str().unwrap(), "{key}");
        let want = c["stderr_first_line"].as_str().unwrap();
        let want = want
            .trim_start_matches("[openclaw] Failed to start CLI: Error: ")
            .replace("openclaw ", "clawpair ");
        if !want.is_empty() && !want.starts_with("error:") {
            assert_eq!(
                o.stderr.lines().next().unwrap_or(""),
                format!("clawpair: {want}"),
                "{key}"
            );
        }
    };
    check("list-no-channel", &["pairing", "list"], 1);
    check("list-invalid-channel", &["pairing", "list", "Bad!"], 1);
    // Usage errors exit 2 in clawpair (OpenClaw uses 1 for everything).
    check("approve-no-args", &["pairing", "approve"], 2);
    check(
        "approve-code-only-no-default-channel",
        &["pairing", "approve", "ABCDEFGH"],
        2,
    );
    check(
        "approve-too-many",
        &[
            "pairing",
            "approve",
            "--channel",
            "telegram",
            "telegram",
            "ABCDEFGH",
        ],
        2,
    );
    check(
        "approve-unknown",
        &["pairing", "approve", "telegram", "abcdefgh"],
        1,
    );
    check("list-empty-text", &["pairing", "list", "telegram"], 0);
    check(
        "list-empty-json",
        &["pairing", "list", "telegram", "--json"],
        0,
    );
}

#[test]
fn g_cli_with_the_telegram_plugin_enabled() {
    let e = Env::new();
    fs::create_dir_all(e.creds()).unwrap();
    fs::write(
        e.state.join("openclaw.json"),
        "{\n  // only telegram\n  channels: { telegram: { enabled: true } },\n}\n",
    )
    .unwrap();
    // The two requests the store had created (codes as recorded in the fixture).
    fs::write(
        e.creds().join("telegram-pairing.json"),
        r#"{"version":1,"requests":[
          {"id":"tg:555","code":"CMVX833R","createdAt":"2026-03-01T12:00:00.000Z","lastSeenAt":"2026-03-01T12:00:00.000Z","meta":{"username":"eve","accountId":"default"}},
          {"id":"666","code":"LD9Z63HZ","createdAt":"2026-03-01T12:01:00.000Z","lastSeenAt":"2026-03-01T12:01:00.000Z","meta":{"accountId":"default"}}]}"#,
    )
    .unwrap();
    let cases: serde_json::Value =
        serde_json::from_str(&fixture("g-cli/telegram-plugin-config.json")).unwrap();
    let at = "2026-03-01T12:02:00.000Z";
    assert_eq!(
        e.ok(at, &["pairing", "list"]),
        fixture("g-cli/telegram-plugin-list-no-channel.txt")
    );
    assert_eq!(
        e.ok(at, &["pairing", "list", "discord", "--json"]),
        cases["list-discord-not-loaded"]["stdout"].as_str().unwrap()
    );
    assert_eq!(
        e.ok(at, &["pairing", "approve", "CMVX833R"]),
        cases["approve-code-only"]["stdout"].as_str().unwrap()
    );
    assert_eq!(
        e.ok(at, &["pairing", "approve", "telegram", "LD9Z63HZ"]),
        "Approved telegram sender 666.\n"
    );
    assert_eq!(
        e.read("telegram-default-allowFrom.json"),
        fixture("g-cli/telegram-plugin-after-approvals/telegram-default-allowFrom.json")
    );
}

// ---------------------------------------------------------------- h-multi-account

#[test]
fn h_same_sender_on_two_accounts() {
    let e = Env::new();
    let (c1, n1) = code_of(&e.ok(
        "2026-03-01T12:00:00.000Z",
        &[
            "pairing",
            "request",
            "discord",
            "42",
            "--account",
            "Alpha",
            "--meta",
            "tag=u#1",
            "--meta",
            "name=U",
        ],
    ));
    let (c2, n2) = code_of(&e.ok(
        "2026-03-01T12:01:00.000Z",
        &["pairing", "request", "discord", "42", "--meta", "tag=u#1"],
    ));
    let (c3, n3) = code_of(&e.ok(
        "2026-03-01T12:02:00.000Z",
        &[
            "pairing",
            "request",
            "discord",
            "42",
            "--account",
            "alpha",
            "--meta",
            "name=U2",
        ],
    ));
    assert!(n1 && n2 && !n3);
    assert_eq!(c1, c3);
    assert_ne!(c1, c2);
    assert_eq!(
        e.read("discord-pairing.json"),
        fixture("h-multi-account/discord-pairing.json")
            .replace("L8MNWE7C", &c1)
            .replace("RNUJW6DT", &c2)
    );
    assert_eq!(
        e.ok(
            "2026-03-01T12:03:00.000Z",
            &["pairing", "approve", "discord", &c1]
        ),
        "Approved discord sender 42.\n"
    );
    assert_eq!(
        e.read("discord-alpha-allowFrom.json"),
        fixture("h-multi-account/after-approve/discord-alpha-allowFrom.json")
    );
}

// ---------------------------------------------------------------- normalization.json

#[test]
fn normalization_matches_openclaw_with_and_without_plugins() {
    let cases: serde_json::Value = serde_json::from_str(&fixture("normalization.json")).unwrap();
    for (channel, probes) in cases.as_object().unwrap() {
        for probe in probes.as_array().unwrap() {
            let input = probe["input"].as_str().unwrap();
            for (loaded, key) in [
                (true, "stored_with_plugin"),
                (false, "stored_without_plugin"),
            ] {
                let want = probe[key].as_str().map(String::from);
                let got = clawpair::dm::normalize::normalize_entry(channel, input, loaded);
                assert_eq!(got, want, "{channel} {input:?} plugin={loaded}");
            }
        }
    }
}

// ---------------------------------------------------------------- reject (clawpair's addition)

#[test]
fn reject_removes_only_the_request() {
    let e = Env::new();
    e.put(
        "telegram-pairing.json",
        "a-main/02-after-repeat-111/telegram-pairing.json",
    );
    let o = e.ok(
        "2026-03-01T12:40:00.000Z",
        &["pairing", "reject", "telegram", "pvqfs8gs"],
    );
    assert_eq!(o, "Rejected telegram sender 222.\n");
    let list = e.ok(
        "2026-03-01T12:40:00.000Z",
        &["pairing", "list", "telegram", "--json"],
    );
    assert!(!list.contains("\"222\""));
    assert!(!e.creds().join("telegram-default-allowFrom.json").exists());
    let o = e.run(
        "2026-03-01T12:40:00.000Z",
        &["pairing", "reject", "telegram", "PVQFS8GS"],
    );
    assert_eq!(o.code, 1);
}
