//! Interop with the real OpenClaw, on 127.0.0.1: its DM store code, its `openclaw pairing` and
//! `openclaw devices --url` CLIs, its node host and its gateway, against clawpair's CLI, console
//! (in tmux) and gateway. Installed by `scripts/install-openclaw.sh`; without it each scenario
//! prints one line saying so and passes, except under `CI=true`, where that is a failure.
//! Scenarios run one at a time (tests/interop_support); `.ci/run` checks the summary they write.
//!
//! Facts relied on: docs/interop/openclaw-2026.2.26.md.

mod interop_support;
// clawpair's gateway in-process, for the protocol-4 scenarios.
mod support;

#[path = "interop_openclaw/protocol4.rs"]
mod protocol4;
#[path = "interop_openclaw/remote.rs"]
mod remote;
#[path = "interop_openclaw/sqlite_gateway.rs"]
mod sqlite_gateway;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use interop_support::tmux::Tmux;
use interop_support::*;
use serde_json::Value;

const SEC: Duration = Duration::from_secs(1);

/// `openclaw` CLI runs: ~4–7 s each on a loaded 2-core machine, but over a minute for the
/// first `openclaw pairing` run if the compile caches are cold (the install script warms them).
const OC_CLI: Duration = Duration::from_secs(300);
/// One dm-store.mjs call: ~0.85 s alone.
const DRIVER: Duration = Duration::from_secs(60);
const CLAWPAIR: Duration = Duration::from_secs(60);

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// `(id, code, accountId)` of the requests in a `pairing list --json` document or a pairing file.
fn requests(doc: &Value) -> BTreeSet<(String, String, String)> {
    doc["requests"]
        .as_array()
        .unwrap_or_else(|| panic!("no requests array: {doc}"))
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["code"].as_str().unwrap().to_string(),
                r["meta"]["accountId"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn code_of(out: &Out) -> String {
    let v = out.json();
    assert_eq!(v["created"], true, "{}: {v}", out.label);
    let code = v["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 8, "{}: {v}", out.label);
    code
}

mod v2026_2_26 {
    use super::*;

    const V: &str = "2026.2.26";

    /// Scenario 1: the real store code creates DM requests; `clawpair pairing list` prints exactly what
    /// `openclaw pairing list` prints (JSON and the table); clawpair's approvals are what the
    /// real reader sees; the real CLI lists and approves a request clawpair created; clawpair
    /// waits for a lock held by OpenClaw's own lock helper (pairing file and allow-list).
    #[test]
    fn s1_dm_store_and_cli() {
        let Some(s) = begin("v2026_2_26::s1_dm_store_and_cli", V, &[]) else {
            return;
        };
        let st = s.mkdir("state");
        let cred = st.join("credentials");
        let dm = |label: &str, args: &[&str]| {
            s.run_ok(label, s.driver(&st, "oc2/dm-store.mjs", args), DRIVER)
        };
        let cp = |label: &str, args: &[&str]| s.run_ok(label, s.clawpair(&st, args), CLAWPAIR);

        // Requests written by OpenClaw's own store functions.
        let c111 = code_of(&dm(
            "upsert-111",
            &[
                "upsert",
                "telegram",
                "111",
                "--meta",
                r#"{"username":"alice","firstName":"Alice"}"#,
            ],
        ));
        let c222 = code_of(&dm("upsert-222", &["upsert", "telegram", "222"]));
        let c333 = code_of(&dm(
            "upsert-333",
            &["upsert", "telegram", "333", "--account", "work"],
        ));
        let c900 = code_of(&dm("upsert-900", &["upsert", "signal", "+15550000900"]));
        s.step("4 requests by the real store");

        // The same documents, byte for byte: the real CLI's and clawpair's (run in parallel).
        let views: &[&[&str]] = &[
            &["pairing", "list", "telegram", "--json"],
            &["pairing", "list", "telegram"],
            &["pairing", "list", "telegram", "--account", "work", "--json"],
            &["pairing", "list", "signal", "--json"],
        ];
        // The first alone: with cold compile caches it fills them for the others.
        let mut real = vec![s.spawn("oc-list-0", s.oc(&st, views[0]))];
        real[0].wait_ok(OC_CLI);
        real.extend(
            views
                .iter()
                .enumerate()
                .skip(1)
                .map(|(i, a)| s.spawn(&format!("oc-list-{i}"), s.oc(&st, a))),
        );
        for (i, args) in views.iter().enumerate() {
            real[i].wait_ok(OC_CLI);
            let ours = cp(&format!("cp-list-{i}"), args);
            assert_eq!(
                ours.stdout,
                real[i].stdout(),
                "`{}`: clawpair and OpenClaw differ",
                args.join(" ")
            );
        }
        let listed = requests(&serde_json::from_str(&real[0].stdout()).unwrap());
        let want: BTreeSet<_> = [
            ("111", &c111, "default"),
            ("222", &c222, "default"),
            ("333", &c333, "work"),
        ]
        .iter()
        .map(|(i, c, a)| (i.to_string(), c.to_string(), a.to_string()))
        .collect();
        assert_eq!(listed, want);
        assert!(real[3].stdout().contains(&c900));
        drop(real);
        s.step("pairing list: 4 views identical (JSON and table)");

        // clawpair approves; the real reader sees the senders allowed, the requests gone.
        let a = cp("cp-approve-111", &["pairing", "approve", "telegram", &c111]);
        assert_eq!(a.stdout, "Approved telegram sender 111.\n");
        let a = cp(
            "cp-approve-333",
            &["pairing", "approve", "telegram", &c333, "--account", "work"],
        );
        assert_eq!(a.stdout, "Approved telegram sender 333.\n");
        assert_eq!(
            strs(&dm("allow-read", &["allow-read", "telegram"]).json()),
            ["111"]
        );
        assert_eq!(
            strs(
                &dm(
                    "allow-read-work",
                    &["allow-read", "telegram", "--account", "work"]
                )
                .json()
            ),
            ["333"]
        );
        let left: Vec<String> = dm("list", &["list", "telegram"])
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(left, ["222"]);
        s.step("clawpair approves; the real reader agrees");

        // clawpair creates a request; the real CLI lists it and approves it.
        let c444 = code_of(&cp(
            "cp-request-444",
            &[
                "pairing",
                "request",
                "telegram",
                "444",
                "--meta",
                "username=dave",
            ],
        ));
        let real = s.run_ok(
            "oc-list-444",
            s.oc(&st, &["pairing", "list", "telegram", "--json"]),
            OC_CLI,
        );
        let ours = cp("cp-list-444", &["pairing", "list", "telegram", "--json"]);
        assert_eq!(real.stdout, ours.stdout);
        let r444 = real.json()["requests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "444")
            .cloned()
            .unwrap_or_else(|| panic!("444 not listed by OpenClaw: {}", real.stdout));
        assert_eq!(r444["code"], c444.as_str());
        assert_eq!(r444["meta"]["username"], "dave");
        assert_eq!(r444["meta"]["accountId"], "default");
        let a = s.run_ok(
            "oc-approve-444",
            s.oc(&st, &["pairing", "approve", "telegram", &c444]),
            OC_CLI,
        );
        assert!(
            a.stdout.contains("Approved telegram sender 444."),
            "{}",
            a.stdout
        );
        let allow = cp(
            "cp-allowlist",
            &["pairing", "allowlist", "telegram", "--json"],
        )
        .json();
        let default = allow["allowlists"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["account"] == "default")
            .unwrap_or_else(|| panic!("{allow}"));
        assert_eq!(strs(&default["allowFrom"]), ["111", "444"]);
        let ours = cp("cp-list-after", &["pairing", "list", "telegram", "--json"]).json();
        assert_eq!(
            requests(&ours).into_iter().map(|r| r.0).collect::<Vec<_>>(),
            ["222"]
        );
        s.step("the real CLI lists and approves a clawpair request");

        // clawpair waits for the real lock: pairing file (a new request)…
        let pairing = cred.join("telegram-pairing.json");
        let c555 = wait_behind_real_lock(
            &s,
            &st,
            &pairing,
            &["hold-lock", "telegram", "60000"],
            &["pairing", "request", "telegram", "555"],
            || {
                !std::fs::read_to_string(&pairing)
                    .unwrap()
                    .contains("\"555\"")
            },
        );
        let c555 = code_of(&c555);
        assert!(std::fs::read_to_string(&pairing).unwrap().contains(&c555));
        s.step("clawpair waited for the real pairing lock");

        // …and the allow-list (approve holds the pairing lock, then the allow-list lock).
        let allow_file = cred.join("telegram-default-allowFrom.json");
        let a = wait_behind_real_lock(
            &s,
            &st,
            &allow_file,
            &[
                "hold-lock",
                "telegram",
                "60000",
                "--allow",
                "--account",
                "default",
            ],
            &["pairing", "approve", "telegram", &c555],
            || {
                !std::fs::read_to_string(&allow_file)
                    .unwrap()
                    .contains("\"555\"")
                    && std::fs::read_to_string(&pairing).unwrap().contains(&c555)
            },
        );
        assert_eq!(a.stdout, "Approved telegram sender 555.\n");
        assert_eq!(
            strs(&dm("allow-read-end", &["allow-read", "telegram"]).json()),
            ["111", "444", "555"]
        );
        s.step("clawpair waited for the real allow-list lock");
        s.pass();
    }

    /// Scenario 2: clawpair's CLI and OpenClaw's own store code write the same credentials files at once:
    /// each round, every writer queues behind a lock held by OpenClaw's lock helper and all are
    /// let go together; requests from both sides, then approvals from both sides (each approves
    /// the other side's requests, the real `openclaw pairing approve` among them) while allow-list
    /// entries are added (OpenClaw) and revoked (clawpair). Nothing is lost.
    #[test]
    fn s2_concurrent_writers() {
        let Some(s) = begin("v2026_2_26::s2_concurrent_writers", V, &[]) else {
            return;
        };
        const CHANNELS: [&str; 3] = ["telegram", "signal", "discord"];
        const ROUNDS: usize = 3;
        let st = s.mkdir("state");
        let cred = st.join("credentials");
        let pairing = |ch: &str| cred.join(format!("{ch}-pairing.json"));
        let allow = |ch: &str, acct: &str| cred.join(format!("{ch}-{acct}-allowFrom.json"));
        let mut expect: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();

        // The files exist before the races: OpenClaw creates a missing file *outside* its lock
        // (README, "Choices"), a race at creation that no partner can prevent.
        let seeds: Vec<(String, Proc, Proc)> = CHANNELS
            .iter()
            .map(|ch| {
                let u = s.spawn(
                    &format!("seed-upsert-{ch}"),
                    s.driver(
                        &st,
                        "oc2/dm-store.mjs",
                        &["upsert", ch, &format!("seed-{ch}")],
                    ),
                );
                let w = s.spawn(
                    &format!("seed-allow-{ch}"),
                    s.driver(
                        &st,
                        "oc2/dm-store.mjs",
                        &[
                            "allow-add",
                            ch,
                            &format!("seed-work-{ch}"),
                            "--account",
                            "work",
                        ],
                    ),
                );
                (ch.to_string(), u, w)
            })
            .collect();
        for (ch, mut u, mut w) in seeds {
            u.wait_ok(DRIVER);
            w.wait_ok(DRIVER);
            let code: Value = serde_json::from_str(&u.stdout()).unwrap();
            s.run_ok(
                &format!("seed-approve-{ch}"),
                s.clawpair(
                    &st,
                    &["pairing", "approve", &ch, code["code"].as_str().unwrap()],
                ),
                CLAWPAIR,
            );
            expect
                .entry((ch.clone(), "default".into()))
                .or_default()
                .insert(format!("seed-{ch}"));
            expect
                .entry((ch.clone(), "work".into()))
                .or_default()
                .insert(format!("seed-work-{ch}"));
        }
        s.step("seeded 3 channels (pairing files, default and work allow-lists)");

        let mut real_ops = 0;
        let mut cp_ops = 0;
        for r in 1..=ROUNDS {
            // --- requests from both sides, behind the real pairing locks ---------------------
            let holders = hold_all(
                &s,
                &st,
                &CHANNELS
                    .iter()
                    .map(|ch| vec![*ch, "60000"])
                    .collect::<Vec<_>>(),
            );
            let mut writers = Vec::new();
            for (i, ch) in CHANNELS.iter().enumerate() {
                for (k, (suffix, acct)) in [("a", "default"), ("b", "default"), ("w", "work")]
                    .into_iter()
                    .enumerate()
                {
                    let id = format!("r{r}-{ch}-{suffix}");
                    let real = (r + i + k) % 2 == 0;
                    let label = format!("r{r}-request-{}-{id}", if real { "oc" } else { "cp" });
                    let cmd = if real {
                        s.driver(
                            &st,
                            "oc2/dm-store.mjs",
                            &["upsert", ch, &id, "--account", acct, "--announce"],
                        )
                    } else {
                        s.clawpair(&st, &["pairing", "request", ch, &id, "--account", acct])
                    };
                    writers.push(Writer {
                        ch: ch.to_string(),
                        id,
                        acct: acct.to_string(),
                        real,
                        job: Job::new(label, cmd),
                        code: String::new(),
                    });
                }
            }
            queue_then_release(&s, &mut writers, holders);
            for w in writers.iter_mut() {
                let v: Value = serde_json::from_str(&w.proc().stdout())
                    .unwrap_or_else(|e| panic!("{}: {e}\n{}", w.proc().label, w.proc().output()));
                assert_eq!(v["created"], true, "{}: {v}", w.proc().label);
                w.code = v["code"].as_str().unwrap().to_string();
                if w.real {
                    real_ops += 1
                } else {
                    cp_ops += 1
                }
            }
            for ch in CHANNELS {
                let want: BTreeSet<_> = writers
                    .iter()
                    .filter(|w| w.ch == ch)
                    .map(|w| (w.id.clone(), w.code.clone(), w.acct.clone()))
                    .collect();
                assert_eq!(
                    requests(&read_json(&pairing(ch))),
                    want,
                    "round {r}: {ch} requests"
                );
            }
            s.step(&format!("round {r}: 9 requests at once, none lost"));

            // --- approvals from both sides + allow-list writes, behind real locks ------------
            let mut locks: Vec<Vec<&str>> = Vec::new();
            for ch in CHANNELS {
                locks.push(vec![ch, "60000"]);
                locks.push(vec![ch, "60000", "--allow", "--account", "default"]);
            }
            let holders = hold_all(&s, &st, &locks);
            let mut ops = Vec::new();
            let mut cli = None;
            for w in &writers {
                // Each side approves the other side's requests.
                let real = !w.real;
                let label = format!("r{r}-approve-{}-{}", if real { "oc" } else { "cp" }, w.id);
                if real && cli.is_none() && w.acct == "default" {
                    // One per round through the real `openclaw pairing approve`.
                    cli = Some((
                        w.id.clone(),
                        s.spawn(&label, s.oc(&st, &["pairing", "approve", &w.ch, &w.code])),
                    ));
                    continue;
                }
                let cmd = if real {
                    s.driver(
                        &st,
                        "oc2/dm-store.mjs",
                        &[
                            "approve",
                            &w.ch,
                            &w.code,
                            "--account",
                            &w.acct,
                            "--announce",
                        ],
                    )
                } else {
                    s.clawpair(
                        &st,
                        &["pairing", "approve", &w.ch, &w.code, "--account", &w.acct],
                    )
                };
                ops.push(Writer {
                    ch: w.ch.clone(),
                    id: w.id.clone(),
                    acct: w.acct.clone(),
                    real,
                    job: Job::new(label, cmd),
                    code: w.code.clone(),
                });
            }
            let mut manual = Vec::new();
            for ch in CHANNELS {
                let id = format!("r{r}-{ch}-manual");
                manual.push(Writer {
                    ch: ch.to_string(),
                    id: id.clone(),
                    acct: "default".into(),
                    real: true,
                    job: Job::new(
                        format!("r{r}-allow-add-oc-{id}"),
                        s.driver(
                            &st,
                            "oc2/dm-store.mjs",
                            &["allow-add", ch, &id, "--account", "default", "--announce"],
                        ),
                    ),
                    code: String::new(),
                });
                if r > 1 {
                    let old = format!("r{}-{ch}-manual", r - 1);
                    manual.push(Writer {
                        ch: ch.to_string(),
                        id: old.clone(),
                        acct: "default".into(),
                        real: false,
                        job: Job::new(
                            format!("r{r}-revoke-cp-{old}"),
                            s.clawpair(&st, &["pairing", "revoke", ch, &old]),
                        ),
                        code: String::new(),
                    });
                }
            }
            let n_manual = manual.len();
            ops.append(&mut manual);
            queue_then_release(&s, &mut ops, holders);
            for w in &ops {
                let out = w.proc().stdout();
                if w.code.is_empty() {
                    // allow-add / revoke
                    if w.real {
                        let v: Value = serde_json::from_str(&out).unwrap();
                        assert_eq!(v["changed"], true, "{}: {v}", w.proc().label);
                    }
                } else if w.real {
                    let v: Value = serde_json::from_str(&out).unwrap();
                    assert_eq!(
                        v["id"],
                        w.id.as_str(),
                        "{}: request lost? {v}",
                        w.proc().label
                    );
                } else {
                    assert_eq!(
                        out,
                        format!("Approved {} sender {}.\n", w.ch, w.id),
                        "{}",
                        w.proc().label
                    );
                }
                if w.real {
                    real_ops += 1
                } else {
                    cp_ops += 1
                }
            }
            let (cli_id, mut cli) = cli.expect("a request for the real CLI");
            cli.wait_ok(OC_CLI);
            assert!(
                cli.stdout().contains(&format!("sender {cli_id}.")),
                "{}",
                cli.output()
            );
            real_ops += 1;
            for w in &writers {
                expect
                    .entry((w.ch.clone(), w.acct.clone()))
                    .or_default()
                    .insert(w.id.clone());
            }
            for ch in CHANNELS {
                let set = expect
                    .entry((ch.to_string(), "default".into()))
                    .or_default();
                set.insert(format!("r{r}-{ch}-manual"));
                if r > 1 {
                    set.remove(&format!("r{}-{ch}-manual", r - 1));
                }
            }
            for ch in CHANNELS {
                assert_eq!(
                    requests(&read_json(&pairing(ch))),
                    BTreeSet::new(),
                    "round {r}: {ch} requests left"
                );
                for acct in ["default", "work"] {
                    let list = strs(&read_json(&allow(ch, acct))["allowFrom"]);
                    let got: BTreeSet<String> = list.iter().cloned().collect();
                    assert_eq!(got.len(), list.len(), "duplicates in {ch}/{acct}: {list:?}");
                    assert_eq!(
                        &got,
                        &expect[&(ch.to_string(), acct.to_string())],
                        "round {r}: {ch}/{acct}"
                    );
                }
            }
            s.step(&format!(
                "round {r}: 9 approvals (4–5 each side) + {n_manual} allow-list writes at once, none lost"
            ));
        }

        // The real reader sees what clawpair sees; the real CLI lists what clawpair lists.
        let mut readers = Vec::new();
        for ch in CHANNELS {
            for acct in ["default", "work"] {
                let p = s.spawn(
                    &format!("end-allow-read-{ch}-{acct}"),
                    s.driver(
                        &st,
                        "oc2/dm-store.mjs",
                        &["allow-read", ch, "--account", acct],
                    ),
                );
                readers.push((ch, acct, p));
            }
        }
        let allowlists = s
            .run_ok(
                "end-cp-allowlist",
                s.clawpair(&st, &["pairing", "allowlist", "--json"]),
                CLAWPAIR,
            )
            .json();
        for (ch, acct, mut p) in readers {
            p.wait_ok(DRIVER);
            let real: Vec<String> = strs(&serde_json::from_str(&p.stdout()).unwrap());
            let real: BTreeSet<String> = real.into_iter().collect();
            assert_eq!(
                &real,
                &expect[&(ch.to_string(), acct.to_string())],
                "real reader {ch}/{acct}"
            );
            let ours = allowlists["allowlists"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["channel"] == ch && l["account"] == acct)
                .unwrap_or_else(|| panic!("{ch}/{acct} missing: {allowlists}"));
            let ours: BTreeSet<String> = strs(&ours["allowFrom"]).into_iter().collect();
            assert_eq!(ours, real, "clawpair vs OpenClaw: {ch}/{acct}");
        }
        let real = s.run_ok(
            "end-oc-list",
            s.oc(&st, &["pairing", "list", "telegram", "--json"]),
            OC_CLI,
        );
        let ours = s.run_ok(
            "end-cp-list",
            s.clawpair(&st, &["pairing", "list", "telegram", "--json"]),
            CLAWPAIR,
        );
        assert_eq!(ours.stdout, real.stdout);
        let locks: Vec<_> = std::fs::read_dir(&cred)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".lock"))
            .collect();
        assert!(locks.is_empty(), "locks left: {locks:?}");
        s.step(&format!(
            "end: real reader = clawpair ({real_ops} OpenClaw and {cp_ops} clawpair writes in all)"
        ));
        s.pass();
    }

    /// Scenario 3: a real node host connects to clawpair's gateway (the console's, in tmux,
    /// without local auto-approval) → pending → approved by keys in the console → the restarted
    /// node gets `hello-ok` with the token clawpair minted. Then the real
    /// `openclaw devices --url` CLI (once its own device is approved with `clawpair devices
    /// approve`) lists, approves and rejects through clawpair's gateway.
    #[test]
    fn s3_node_and_devices_cli_via_clawpair_gateway() {
        let Some(s) = begin(
            "v2026_2_26::s3_node_and_devices_cli_via_clawpair_gateway",
            V,
            &[Need::Tmux],
        ) else {
            return;
        };
        let st = s.mkdir("state");
        let port = free_port();
        let console_log = s.log_file("console", "log");
        let t = console(
            &s,
            &format!("--port {port} --gateway-token {TOKEN} --no-auto-approve-local --no-notify"),
            &st,
            &console_log,
        );
        let wait =
            |what: &str, ok: &dyn Fn(&str) -> bool| t.wait_for(what, 60 * SEC, || ok(&t.screen()));
        wait("the console's gateway listening", &|sc| {
            sc.contains(&format!("127.0.0.1:{port} listening"))
        });
        s.step("console up, gateway listening");

        // A real node host: refused with "pairing required", a pending request, and it exits.
        let node_a = s.mkdir("node-a");
        let rid_a = node_pending(&s, "node-a-1", &node_a, port, "interop-node-a", &st);
        let dev_a = device_id(&node_a);
        wait("node-a's request on screen", &|sc| {
            sc.contains("interop-node-a")
        });
        s.step("real node → pending");

        // Approved in the console, by keys: the card, then y. (Keys within
        // 0.5 s of the cursor landing on a new row by itself are ignored.)
        t.keys("Tab");
        std::thread::sleep(std::time::Duration::from_millis(700));
        t.keys("a");
        wait("the approval card", &|sc| {
            sc.contains("Approve this device?")
        });
        t.keys("y");
        let token_a = wait_approved(&st, &dev_a, &rid_a, "node");
        wait("the approval toast", &|sc| {
            sc.contains("Approved interop-node-a")
        });
        s.step("approved in the console");

        // The node, restarted (through our logging proxy, to see the frames), gets hello-ok.
        let proxy = s.ws_proxy("proxy", port);
        let mut node = s.node_host("node-a-2", &node_a, proxy.port, "interop-node-a");
        let hello = wait_hello(&proxy, &mut node);
        assert_eq!(hello["payload"]["protocol"], 3, "{hello}");
        assert_eq!(
            hello["payload"]["auth"]["deviceToken"],
            token_a.as_str(),
            "{hello}"
        );
        assert_eq!(hello["payload"]["auth"]["role"], "node", "{hello}");
        wait_device_auth(&node_a, "node", &token_a);
        assert!(node.running(), "{}", node.output());
        wait("node-a online", &|sc| sc.contains("paired 1 (1 online)"));
        s.step("node reconnects → hello-ok with clawpair's token, online in the console");

        // The real `openclaw devices --url` CLI connects as its own device: pairing required
        // first; approved with `clawpair devices approve`.
        let cli = s.mkdir("cli");
        let url = format!("ws://127.0.0.1:{port}");
        let devices = |label: &str, args: &[&str]| {
            let mut a = vec!["devices"];
            a.extend_from_slice(args);
            a.extend_from_slice(&["--url", &url, "--token", TOKEN]);
            s.run(label, s.oc(&cli, &a), OC_CLI)
        };
        let first = devices("oc-devices-list-1", &["list", "--json"]);
        assert_eq!(first.code(), Some(1), "{first:?}");
        assert!(first.stderr.contains("pairing required"), "{first:?}");
        let cli_dev = device_id(&cli);
        let cli_req = pending_of(&st, &cli_dev);
        assert_eq!(cli_req["clientId"], "cli");
        assert_eq!(
            strs(&cli_req["scopes"]),
            [
                "operator.admin",
                "operator.read",
                "operator.write",
                "operator.approvals",
                "operator.pairing"
            ]
        );
        let rid_cli = cli_req["requestId"].as_str().unwrap().to_string();
        let out = s.run_ok(
            "cp-approve-cli",
            s.clawpair(&st, &["devices", "approve", &rid_cli]),
            CLAWPAIR,
        );
        assert_eq!(out.stdout, format!("Approved {cli_dev} ({rid_cli})\n"));
        s.step("the real devices CLI: pairing required, approved with clawpair devices approve");

        // Two more nodes wait; the real CLI lists what clawpair lists.
        let (node_b, node_c) = (s.mkdir("node-b"), s.mkdir("node-c"));
        let mut b1 = s.node_host("node-b-1", &node_b, port, "interop-node-b");
        let mut c1 = s.node_host("node-c-1", &node_c, port, "interop-node-c");
        for p in [&mut b1, &mut c1] {
            p.wait_ok(60 * SEC);
            assert!(p.stderr().contains("pairing required"), "{}", p.output());
        }
        let (dev_b, dev_c) = (device_id(&node_b), device_id(&node_c));
        let rid_b = pending_of(&st, &dev_b)["requestId"]
            .as_str()
            .unwrap()
            .to_string();
        let rid_c = pending_of(&st, &dev_c)["requestId"]
            .as_str()
            .unwrap()
            .to_string();
        let list = devices("oc-devices-list-2", &["list", "--json"]);
        list.ok();
        let ours = s.run_ok(
            "cp-devices-list",
            s.clawpair(&st, &["devices", "list", "--json"]),
            CLAWPAIR,
        );
        assert_eq!(
            list.json(),
            ours.json(),
            "openclaw devices list vs clawpair devices list"
        );
        let pending: BTreeSet<String> = list.json()["pending"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["requestId"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            pending,
            [rid_b.clone(), rid_c.clone()].into_iter().collect()
        );
        let paired: BTreeSet<String> = list.json()["paired"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["deviceId"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            paired,
            [dev_a.clone(), cli_dev.clone()].into_iter().collect()
        );
        s.step("two more nodes pending; openclaw devices list = clawpair devices list");

        // The real CLI approves one and rejects the other.
        let ap = devices("oc-devices-approve", &["approve", &rid_b, "--json"]);
        ap.ok();
        assert_eq!(ap.json()["requestId"], rid_b.as_str());
        assert_eq!(ap.json()["device"]["deviceId"], dev_b.as_str());
        let token_b = wait_approved(&st, &dev_b, &rid_b, "node");
        let rj = devices("oc-devices-reject", &["reject", &rid_c, "--json"]);
        rj.ok();
        assert_eq!(rj.json()["requestId"], rid_c.as_str());
        assert_eq!(rj.json()["deviceId"], dev_c.as_str());
        wait_gone(&st, &[&rid_b, &rid_c]);
        assert!(read_json(&st.join("devices/paired.json"))
            .get(&dev_c)
            .is_none());
        wait("3 paired in the console", &|sc| sc.contains("paired 3 ("));
        s.step("openclaw devices approve / reject through clawpair's gateway");

        // The approved node gets in; the rejected one is asked to pair again.
        let mut b2 = s.node_host("node-b-2", &node_b, port, "interop-node-b");
        wait_device_auth(&node_b, "node", &token_b);
        assert!(b2.running(), "{}", b2.output());
        wait("2 online", &|sc| sc.contains("paired 3 (2 online)"));
        let rid_c2 = node_pending(&s, "node-c-2", &node_c, port, "interop-node-c", &st);
        assert_ne!(rid_c2, rid_c);
        s.step("approved node gets in, rejected node pairs anew");

        drop(b2);
        drop(node);
        t.keys("q");
        t.wait_for("the console to quit", 10 * SEC, || !t.alive());
        s.pass();
    }

    /// Scenario 4: beside a real OpenClaw gateway that owns the port, on the same state dir:
    /// the console shows PORT BUSY, shows the real gateway's pending node request, and its
    /// approval (by keys) lets the node in through the real gateway with the token clawpair
    /// wrote. The real CLI's own device, approved the same way, then lists through the real
    /// gateway exactly what `clawpair devices list` prints.
    #[test]
    fn s4_beside_the_real_gateway() {
        let Some(s) = begin("v2026_2_26::s4_beside_the_real_gateway", V, &[Need::Tmux]) else {
            return;
        };
        let st = s.mkdir("state");
        let port = free_port();
        let gw = s.oc_gateway("oc-gateway", &st, port);
        s.step("real gateway listening");

        let console_log = s.log_file("console", "log");
        let t = console(
            &s,
            &format!("--port {port} --no-auto-approve-local --no-notify"),
            &st,
            &console_log,
        );
        let wait =
            |what: &str, ok: &dyn Fn(&str) -> bool| t.wait_for(what, 60 * SEC, || ok(&t.screen()));
        wait("PORT BUSY", &|sc| {
            sc.contains(&format!("127.0.0.1:{port} PORT BUSY"))
        });
        s.step("console: PORT BUSY");

        let node = s.mkdir("node");
        let rid = node_pending(&s, "node-1", &node, port, "interop-node-d", &st);
        let dev = device_id(&node);
        wait("the real gateway's request on screen", &|sc| {
            sc.contains("interop-node-d")
        });
        s.step("real node → real gateway → pending, shown in the console");

        t.keys("Tab");
        std::thread::sleep(std::time::Duration::from_millis(700));
        t.keys("a");
        wait("the approval card", &|sc| {
            sc.contains("Approve this device?")
        });
        t.keys("y");
        let token = wait_approved(&st, &dev, &rid, "node");
        wait("the approval toast", &|sc| {
            sc.contains("Approved interop-node-d")
        });
        s.step("approved in the console");

        let proxy = s.ws_proxy("proxy", port);
        let mut n2 = s.node_host("node-2", &node, proxy.port, "interop-node-d");
        let hello = wait_hello(&proxy, &mut n2);
        assert_eq!(
            hello["payload"]["auth"]["deviceToken"],
            token.as_str(),
            "{hello}"
        );
        wait_device_auth(&node, "node", &token);
        assert!(n2.running(), "{}", n2.output());
        s.step("node restarted → hello-ok from the real gateway with clawpair's token");

        // The real CLI's device: pending at the real gateway, approved in the console.
        let cli = s.mkdir("cli");
        let args = [
            "devices", "list", "--url", &gw.url, "--token", TOKEN, "--json",
        ];
        let first = s.run("oc-devices-list-1", s.oc(&cli, &args), OC_CLI);
        assert_eq!(first.code(), Some(1), "{first:?}");
        assert!(first.stderr.contains("pairing required"), "{first:?}");
        let cli_dev = device_id(&cli);
        let rid_cli = pending_of(&st, &cli_dev)["requestId"]
            .as_str()
            .unwrap()
            .to_string();
        wait("the CLI's request on screen", &|sc| {
            sc.contains("devices 1 ·")
        });
        std::thread::sleep(std::time::Duration::from_millis(700));
        t.keys("a");
        wait("the approval card", &|sc| {
            sc.contains("Approve this device?")
        });
        t.keys("y");
        wait_approved(&st, &cli_dev, &rid_cli, "operator");
        let real = s.run_ok("oc-devices-list-2", s.oc(&cli, &args), OC_CLI);
        let ours = s.run_ok(
            "cp-devices-list",
            s.clawpair(&st, &["devices", "list", "--json"]),
            CLAWPAIR,
        );
        assert_eq!(
            ours.stdout, real.stdout,
            "the real gateway's device.pair.list vs clawpair devices list --json"
        );
        let paired: BTreeSet<String> = real.json()["paired"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["deviceId"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(paired, [dev.clone(), cli_dev].into_iter().collect());
        s.step(
            "CLI device approved in the console; real gateway's list = clawpair's, byte for byte",
        );

        drop(n2);
        t.keys("q");
        t.wait_for("the console to quit", 10 * SEC, || !t.alive());
        drop(gw);
        s.pass();
    }

    /// The console (`clawpair --state-dir ST FLAGS`) in a private tmux server, 140×40.
    fn console(s: &Scenario, flags: &str, st: &Path, log: &Path) -> Tmux {
        let cmd = format!(
            "env HOME={} CLAWPAIR_LOG=info CLAWPAIR_LOG_FILE={} {BIN} --state-dir {} {flags}",
            s.home().display(),
            log.display(),
            st.display()
        );
        let tag = s
            .name
            .rsplit("::")
            .next()
            .unwrap()
            .split('_')
            .next()
            .unwrap()
            .to_string();
        Tmux::start(&format!("interop-{tag}"), 140, 40, &cmd)
    }

    /// Runs a node host once against `port`: it must be refused with "pairing required" and
    /// exit 0 (2026.2.26 does not retry); returns the pending request's id in `st`.
    fn node_pending(
        s: &Scenario,
        label: &str,
        node: &Path,
        port: u16,
        name: &str,
        st: &Path,
    ) -> String {
        let mut p = s.node_host(label, node, port, name);
        p.wait_ok(60 * SEC);
        assert!(p.stderr().contains("pairing required"), "{}", p.output());
        let req = pending_of(st, &device_id(node));
        assert_eq!(req["displayName"], name, "{req}");
        assert_eq!(req["clientId"], "node-host", "{req}");
        assert_eq!(req["role"], "node", "{req}");
        req["requestId"].as_str().unwrap().to_string()
    }

    /// The device id an OpenClaw process keeps in `<state>/identity/device.json`.
    fn device_id(state: &Path) -> String {
        let v = read_json(&state.join("identity/device.json"));
        v["deviceId"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no identity: {v}", state.display()))
            .to_string()
    }

    /// The pending request of `device` in `st/devices/pending.json` (waits for it a little: the
    /// refusal and the file write are not one step).
    fn pending_of(st: &Path, device: &str) -> Value {
        let file = st.join("devices/pending.json");
        let find = || {
            read_json(&file)
                .as_object()
                .and_then(|m| m.values().find(|r| r["deviceId"] == device).cloned())
        };
        wait_until(
            &format!("a pending request of {device}"),
            10 * SEC,
            || find().is_some(),
            || format!("pending.json: {}", read_json(&file)),
        );
        find().unwrap()
    }

    /// Waits until the approval of request `rid` is in both files — `paired.json` holds
    /// `device` with a `role` token and `pending.json` no longer holds `rid` (clawpair writes
    /// `paired.json` first) — and returns the token.
    fn wait_approved(st: &Path, device: &str, rid: &str, role: &str) -> String {
        let (paired, pending) = (
            st.join("devices/paired.json"),
            st.join("devices/pending.json"),
        );
        let token = || {
            read_json(&paired)[device]["tokens"][role]["token"]
                .as_str()
                .map(String::from)
        };
        wait_until(
            &format!("{device} paired with a {role} token, request {rid} gone"),
            30 * SEC,
            || token().is_some() && read_json(&pending).get(rid).is_none(),
            || {
                format!(
                    "paired.json: {}\npending.json: {}",
                    read_json(&paired),
                    read_json(&pending)
                )
            },
        );
        token().unwrap()
    }

    /// Waits until `pending.json` no longer holds any of `rids`.
    fn wait_gone(st: &Path, rids: &[&str]) {
        let pending = st.join("devices/pending.json");
        wait_until(
            &format!("requests {rids:?} gone"),
            30 * SEC,
            || rids.iter().all(|r| read_json(&pending).get(*r).is_none()),
            || format!("pending.json: {}", read_json(&pending)),
        );
    }

    /// Waits for the `hello-ok` frame the proxy saw going to the node.
    fn wait_hello(proxy: &WsProxy, node: &mut Proc) -> Value {
        wait_until(
            "hello-ok",
            60 * SEC,
            || proxy.hello_ok().is_some(),
            || format!("{}\nframes: {:?}", node.output(), proxy.frames()),
        );
        proxy.hello_ok().unwrap()
    }

    /// Waits until the node stored `token` for `role` (OpenClaw writes `device-auth.json` when
    /// `hello-ok` carries a device token).
    fn wait_device_auth(node: &Path, role: &str, token: &str) {
        let file = node.join("identity/device-auth.json");
        wait_until(
            "device-auth.json",
            60 * SEC,
            || read_json(&file)["tokens"][role]["token"] == token,
            || format!("{}: {}", file.display(), read_json(&file)),
        );
    }

    /// One writer of scenario 2.
    struct Writer {
        ch: String,
        id: String,
        acct: String,
        real: bool,
        job: Job,
        code: String,
    }

    impl Writer {
        fn proc(&self) -> &Proc {
            match &self.job {
                Job::Running(p) => p,
                Job::Ready(l, _) => panic!("{l} never started"),
            }
        }
    }

    /// A command started later (so that each side reaches the lock at about the same time).
    enum Job {
        Ready(String, Box<std::process::Command>),
        Running(Proc),
    }

    impl Job {
        fn new(label: String, cmd: std::process::Command) -> Job {
            Job::Ready(label, Box::new(cmd))
        }

        fn start(&mut self, s: &Scenario) -> &mut Proc {
            if let Job::Ready(label, cmd) = self {
                let cmd = std::mem::replace(&mut **cmd, std::process::Command::new("true"));
                *self = Job::Running(s.spawn(&label.clone(), cmd));
            }
            match self {
                Job::Running(p) => p,
                Job::Ready(..) => unreachable!(),
            }
        }
    }

    /// Locks held by OpenClaw's own helper (`dm-store.mjs hold-lock ARGS`), once all are held.
    fn hold_all(s: &Scenario, st: &Path, all: &[Vec<&str>]) -> Vec<Proc> {
        let mut ps: Vec<Proc> = all
            .iter()
            .map(|args| {
                let mut a = vec!["hold-lock"];
                a.extend_from_slice(args);
                s.spawn(
                    &format!("hold-{}", args.join("-")),
                    s.driver(st, "oc2/dm-store.mjs", &a),
                )
            })
            .collect();
        for p in ps.iter_mut() {
            p.wait_output("the real lock", DRIVER, |o, _| o.contains("locked"));
        }
        ps
    }

    /// Brings every writer to the held locks — first the real ones, until each has loaded
    /// OpenClaw's store and is calling it, then clawpair's, until each says it is waiting for
    /// the lock — then releases the locks together and waits for every writer to succeed.
    fn queue_then_release(s: &Scenario, writers: &mut [Writer], holders: Vec<Proc>) {
        for w in writers.iter_mut().filter(|w| w.real) {
            w.job.start(s);
        }
        for w in writers.iter_mut().filter(|w| w.real) {
            w.job
                .start(s)
                .wait_output("a real writer at its store call", DRIVER, |_, e| {
                    e.contains("calling")
                });
        }
        for w in writers.iter_mut().filter(|w| !w.real) {
            w.job.start(s);
        }
        for w in writers.iter_mut().filter(|w| !w.real) {
            w.job
                .start(s)
                .wait_output("a clawpair writer waiting for the lock", DRIVER, |_, e| {
                    e.contains("waiting for lock held by another process")
                });
        }
        for h in &holders {
            h.kill_group(libc::SIGTERM);
        }
        for mut h in holders {
            h.wait_ok(10 * SEC);
            assert!(h.stdout().contains("released"), "{}", h.output());
        }
        for w in writers.iter_mut() {
            w.job.start(s).wait_ok(DRIVER);
        }
    }

    /// Holds `file`'s lock with OpenClaw's own helper (`hold`), starts clawpair (`cp_args`),
    /// sees it wait for that very lock (its log names the holder's pid, `unchanged()` holds,
    /// it is still running), releases the lock and returns clawpair's successful output.
    fn wait_behind_real_lock(
        s: &Scenario,
        st: &Path,
        file: &Path,
        hold: &[&str],
        cp_args: &[&str],
        unchanged: impl Fn() -> bool,
    ) -> Out {
        let lock = file.with_file_name(format!(
            "{}.lock",
            file.file_name().unwrap().to_str().unwrap()
        ));
        let mut holder = s.spawn("hold-lock", s.driver(st, "oc2/dm-store.mjs", hold));
        holder.wait_output("the real lock", DRIVER, |o, _| o.contains("locked"));
        let content = read_json(&lock);
        assert_eq!(
            content["pid"],
            holder.pid(),
            "lock file {}: {content}",
            lock.display()
        );
        assert!(content["createdAt"].is_string(), "{content}");

        let mut ours = s.spawn("cp-behind-lock", s.clawpair(st, cp_args));
        let holder_pid = format!("holder=pid {}", holder.pid());
        ours.wait_output("clawpair waiting for the real lock", 20 * SEC, |_, e| {
            e.contains("waiting for lock held by another process") && e.contains(&holder_pid)
        });
        assert!(ours.running(), "clawpair did not wait:\n{}", ours.output());
        assert!(unchanged(), "clawpair wrote while OpenClaw held the lock");
        assert!(lock.exists());
        assert_eq!(
            read_json(&lock)["pid"],
            holder.pid(),
            "the real lock was broken"
        );

        holder.kill_group(libc::SIGTERM);
        holder.wait_output("release", 10 * SEC, |o, _| o.contains("released"));
        holder.wait_ok(10 * SEC);
        ours.wait_ok(30 * SEC);
        assert!(!lock.exists(), "{} left behind", lock.display());
        Out {
            label: ours.label.clone(),
            status: ours.exited().unwrap(),
            stdout: ours.stdout(),
            stderr: ours.stderr(),
        }
    }
}

/// OpenClaw 2026.9.6 on its SQLite state (docs/interop/openclaw-2026.9.6.md §3, §9): the
/// state lives in `state/openclaw.sqlite`; clawpair reads it and makes DM decisions with
/// exactly the rows OpenClaw's own CLI and store leave.
mod v2026_9_6 {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    const V: &str = "2026.9.6";
    /// 2027-01-15T08:00:00.000Z: every OpenClaw and clawpair process runs on a frozen clock.
    const T0: i64 = 1_800_000_000_000;

    const CONFIG: &str = r#"{
  "commands": { "ownerAllowFrom": ["telegram:999"] },
  "update": { "checkOnStart": false },
  "discovery": { "mdns": { "mode": "off" } },
  "models": { "catalogRefresh": { "enabled": false } },
  "channels": { "telegram": { "accounts": {
    "default": { "enabled": false, "botToken": "100000001:fake-token-a", "dmPolicy": "pairing" },
    "work":    { "enabled": false, "botToken": "100000002:fake-token-b", "dmPolicy": "pairing" } } } }
}
"#;

    /// `cmd` (an OpenClaw or driver process) with its JavaScript clock frozen at `ms`.
    fn frozen(mut cmd: Command, ms: i64) -> Command {
        let preload = drivers_dir().join("freeze-clock.mjs");
        cmd.env("NODE_OPTIONS", format!("--import {}", preload.display()))
            .env("OPENCLAW_TEST_NOW_MS", ms.to_string());
        cmd
    }

    fn store(s: &Scenario, st: &Path, args: &[&str]) -> Command {
        let mut c = s.driver(st, "oc9/dm-store.mjs", args);
        c.env("OPENCLAW_PKG", &s.oc.package);
        c
    }

    fn at(mut cmd: Command, ms: i64) -> Command {
        cmd.env("CLAWPAIR_NOW", ms.to_string());
        cmd
    }

    fn dump(s: &Scenario, label: &str, st: &Path, extra: &[&str]) -> String {
        let mut c = Command::new("python3");
        c.arg(drivers_dir().join("oc9/dump.py")).arg(st).args(extra);
        s.run_ok(label, c, DRIVER).stdout.clone()
    }

    fn copy(from: &Path, to: &Path) {
        let ok = Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(to)
            .status()
            .unwrap()
            .success();
        assert!(ok, "cp -a {} {}", from.display(), to.display());
    }

    fn files(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                }
                out.push(e.path().strip_prefix(root).unwrap().display().to_string());
            }
        }
        out.sort();
        out
    }

    /// A state dir warmed by one OpenClaw CLI run (its first writes bookkeeping rows that
    /// embed paths and inodes, §3.3), with rows made by OpenClaw's own store: telegram `111`
    /// (T0), `222`/work (T0+1), discord `555` (T0+3), allow telegram `900`, `tg:901`, work
    /// `910`, discord `920`, then `666` (T0+3 000 000) and `777`/work (T0+3 000 001).
    /// Returns the dir and the codes of 666 and 777.
    fn base(s: &Scenario) -> (PathBuf, String, String) {
        let st = s.mkdir("base");
        std::fs::write(st.join("openclaw.json"), CONFIG).unwrap();
        s.run_ok(
            "oc-warm-list",
            frozen(s.oc(&st, &["pairing", "list", "telegram", "--json"]), T0),
            OC_CLI,
        );
        let up = |label: &str, ms: i64, args: &[&str]| {
            s.run_ok(label, frozen(store(s, &st, args), ms), DRIVER)
                .json()
        };
        up(
            "up-111",
            T0,
            &[
                "upsert",
                "telegram",
                "111",
                "--meta",
                r#"{"username":"alice","firstName":"Alice"}"#,
            ],
        );
        up(
            "up-222",
            T0 + 1,
            &["upsert", "telegram", "222", "--account", "work"],
        );
        up("up-555", T0 + 3, &["upsert", "discord", "555"]);
        up("allow-900", T0 + 4, &["allow-add", "telegram", "900"]);
        up("allow-901", T0 + 5, &["allow-add", "telegram", "tg:901"]);
        up(
            "allow-910",
            T0 + 6,
            &["allow-add", "telegram", "910", "--account", "work"],
        );
        up("allow-920", T0 + 7, &["allow-add", "discord", "920"]);
        let a = up(
            "up-666",
            T0 + 3_000_000,
            &[
                "upsert",
                "telegram",
                "666",
                "--meta",
                r#"{"username":"fay"}"#,
            ],
        );
        let b = up(
            "up-777",
            T0 + 3_000_001,
            &["upsert", "telegram", "777", "--account", "work"],
        );
        (
            st,
            a["code"].as_str().unwrap().to_string(),
            b["code"].as_str().unwrap().to_string(),
        )
    }

    /// Scenario 5: requests made by OpenClaw's store are what `clawpair pairing list` lists;
    /// twins of one state dir, one approved by the real `openclaw pairing approve` and the
    /// other by `clawpair pairing approve` at the same instant (two rounds: expired requests of
    /// every account pruned, a lower-case code restricted to an account), dump identically;
    /// OpenClaw's `pairing list` and allow-list reader agree with clawpair; the real `openclaw
    /// doctor` reports the same on both twins; no file of clawpair's is left; OpenClaw's store
    /// dismiss and `clawpair pairing reject` leave identical whole databases.
    #[test]
    fn s5_sqlite_dm_twins() {
        let Some(s) = begin("v2026_9_6::s5_sqlite_dm_twins", V, &[]) else {
            return;
        };
        let (base, code666, code777) = base(&s);
        s.step("base state: warmed, 6 requests and 4 allow entries by OpenClaw's store");

        let listed = s
            .run_ok(
                "cp-list",
                at(
                    s.clawpair(&base, &["pairing", "list", "telegram", "--json"]),
                    T0 + 3_000_002,
                ),
                CLAWPAIR,
            )
            .json();
        let ids: Vec<&str> = listed["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec!["111", "222", "666", "777"]);
        s.step("clawpair lists OpenClaw's requests");

        let (a, b) = (s.dir().join("A"), s.dir().join("B"));
        copy(&base, &a);
        copy(&base, &b);
        let before_b = files(&b);
        let dm_tables = ["--exclude", "schema_meta"];
        // Round 1 at T1: 111, 222 (and discord's 555, another channel) are expired.
        let t1 = T0 + 3_600_005;
        let out = s.run_ok(
            "oc-approve-666",
            frozen(s.oc(&a, &["pairing", "approve", "telegram", &code666]), t1),
            OC_CLI,
        );
        assert!(
            out.stdout.contains("Approved telegram sender 666."),
            "{}",
            out.stdout
        );
        let out = s.run_ok(
            "cp-approve-666",
            at(
                s.clawpair(&b, &["pairing", "approve", "telegram", &code666]),
                t1,
            ),
            CLAWPAIR,
        );
        assert_eq!(out.stdout, "Approved telegram sender 666.\n");
        assert_eq!(
            dump(&s, "dump-a1", &a, &dm_tables),
            dump(&s, "dump-b1", &b, &dm_tables),
            "round 1: the twins differ"
        );
        s.step("round 1: twins identical");
        let t2 = t1 + 1000;
        let lower = code777.to_lowercase();
        let args = [
            "pairing",
            "approve",
            "telegram",
            &lower,
            "--account",
            "work",
        ];
        s.run_ok("oc-approve-777", frozen(s.oc(&a, &args), t2), OC_CLI);
        s.run_ok("cp-approve-777", at(s.clawpair(&b, &args), t2), CLAWPAIR);
        assert_eq!(
            dump(&s, "dump-a2", &a, &dm_tables),
            dump(&s, "dump-b2", &b, &dm_tables),
            "round 2: the twins differ"
        );
        s.step("round 2: twins identical");

        let real = s
            .run_ok(
                "oc-list-b",
                frozen(s.oc(&b, &["pairing", "list", "telegram", "--json"]), t2),
                OC_CLI,
            )
            .json();
        let ours = s
            .run_ok(
                "cp-list-b",
                at(
                    s.clawpair(&b, &["pairing", "list", "telegram", "--json"]),
                    t2,
                ),
                CLAWPAIR,
            )
            .json();
        assert_eq!(real, ours);
        for acct in ["default", "work"] {
            let real = s
                .run_ok(
                    "allow-read",
                    frozen(
                        store(&s, &b, &["allow-read", "telegram", "--account", acct]),
                        t2,
                    ),
                    DRIVER,
                )
                .json();
            let ours = s
                .run_ok(
                    "cp-allowlist",
                    at(
                        s.clawpair(
                            &b,
                            &[
                                "pairing",
                                "allowlist",
                                "telegram",
                                "--account",
                                acct,
                                "--json",
                            ],
                        ),
                        t2,
                    ),
                    CLAWPAIR,
                )
                .json();
            assert_eq!(real, ours["allowFrom"], "{acct}");
        }
        assert_eq!(
            strs(
                &s.run_ok(
                    "allow-read-default",
                    frozen(store(&s, &b, &["allow-read", "telegram"]), t2),
                    DRIVER
                )
                .json()
            ),
            vec!["900", "901", "666"]
        );
        let extra: Vec<String> = files(&b)
            .into_iter()
            .filter(|f| !before_b.contains(f) && !f.starts_with("state/openclaw.sqlite"))
            .collect();
        assert!(extra.is_empty(), "new files in the state dir: {extra:?}");
        s.step("OpenClaw's readers agree; no file of clawpair's");

        // The real doctor on both twins at once (A and B: paths of the same length, so its
        // boxes wrap alike): the same report, paths aside.
        let doctor =
            |label: &str, dir: &Path| s.spawn(label, s.oc(dir, &["doctor", "--non-interactive"]));
        let (mut da, mut db) = (doctor("oc-doctor-a", &a), doctor("oc-doctor-b", &b));
        let (sa, sb) = (da.wait(OC_CLI), db.wait(OC_CLI));
        // Paths and the log labels aside.
        let norm = |p: &Proc, dir: &Path, label: &str| {
            p.output()
                .replace(&dir.display().to_string(), "<state>")
                .replace(label, "oc-doctor")
        };
        assert_eq!(sa.code(), sb.code());
        assert_eq!(
            norm(&da, &a, "oc-doctor-a"),
            norm(&db, &b, "oc-doctor-b"),
            "openclaw doctor differs between the twins"
        );
        s.step("openclaw doctor: the same on both twins");

        let (c, d) = (s.dir().join("C"), s.dir().join("D"));
        copy(&base, &c);
        copy(&base, &d);
        let code = code666.to_lowercase();
        let r = s
            .run_ok(
                "store-dismiss",
                frozen(
                    store(
                        &s,
                        &c,
                        &[
                            "dismiss",
                            "telegram",
                            "--code",
                            &code,
                            "--account",
                            "default",
                        ],
                    ),
                    t1,
                ),
                DRIVER,
            )
            .json();
        assert_eq!(r["id"], "666");
        let out = s.run_ok(
            "cp-reject",
            at(
                s.clawpair(
                    &d,
                    &[
                        "pairing",
                        "reject",
                        "telegram",
                        &code,
                        "--account",
                        "default",
                    ],
                ),
                t1,
            ),
            CLAWPAIR,
        );
        assert_eq!(out.stdout, "Rejected telegram sender 666.\n");
        assert_eq!(
            dump(&s, "dump-c", &c, &["--all"]),
            dump(&s, "dump-d", &d, &["--all"]),
            "dismiss: the twins differ"
        );
        s.step("dismiss: whole databases identical");
        s.pass();
    }

    /// Scenario 6: OpenClaw's store adds four senders while four `clawpair pairing approve`
    /// processes approve four others, all at once on one database: nothing is lost.
    #[test]
    fn s6_sqlite_concurrent_writers() {
        let Some(s) = begin("v2026_9_6::s6_sqlite_concurrent_writers", V, &[]) else {
            return;
        };
        let st = s.mkdir("state");
        std::fs::write(st.join("openclaw.json"), CONFIG).unwrap();
        let mut codes = Vec::new();
        for i in 0..4 {
            let acct = format!("x{i}");
            let r = s
                .run_ok(
                    "seed",
                    store(
                        &s,
                        &st,
                        &["upsert", "telegram", &format!("10{i}"), "--account", &acct],
                    ),
                    DRIVER,
                )
                .json();
            codes.push((acct, r["code"].as_str().unwrap().to_string()));
        }
        s.step("4 requests by OpenClaw's store, one account each (the cap is per account)");
        let mut procs = Vec::new();
        for i in 0..4 {
            let acct = format!("y{i}");
            let sender = format!("20{i}");
            procs.push(s.spawn(
                "store-upsert",
                store(
                    &s,
                    &st,
                    &["upsert", "telegram", &sender, "--account", &acct],
                ),
            ));
        }
        for (acct, code) in &codes {
            procs.push(s.spawn(
                "cp-approve",
                s.clawpair(
                    &st,
                    &["pairing", "approve", "telegram", code, "--account", acct],
                ),
            ));
        }
        for p in procs.iter_mut() {
            p.wait_ok(OC_CLI);
        }
        s.step("4 OpenClaw upserts and 4 clawpair approvals at once");
        let listed = s
            .run_ok(
                "cp-list",
                s.clawpair(&st, &["pairing", "list", "telegram", "--json"]),
                CLAWPAIR,
            )
            .json();
        let ids: BTreeSet<String> = listed["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            ids,
            ["200", "201", "202", "203"]
                .iter()
                .map(|x| x.to_string())
                .collect(),
            "OpenClaw's requests survived"
        );
        for i in 0..4 {
            let acct = format!("x{i}");
            let real = s
                .run_ok(
                    "allow-read",
                    store(&s, &st, &["allow-read", "telegram", "--account", &acct]),
                    DRIVER,
                )
                .json();
            assert_eq!(
                strs(&real),
                vec![format!("10{i}")],
                "{acct}: clawpair's approval survived"
            );
        }
        s.step("nothing lost");
        s.pass();
    }
}
