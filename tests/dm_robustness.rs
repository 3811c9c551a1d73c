//! No file content may panic clawpair. Every DM fixture is mutated
//! deterministically (truncation, byte flips, splices, odd values) and pushed
//! through the parsers and every store operation; a sample also goes through
//! the real binary, which must answer with exit 0 or 1 and never a panic.

use std::fs;
use std::path::Path;
use std::process::Command;

use clawpair::dm::allowlist::AllowDoc;
use clawpair::dm::pairing::PairingDoc;
use clawpair::dm::DmStore;

#[path = "support/fixtures.rs"]
mod fixtures;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![fixtures::path("dm")];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(fs::read(p).unwrap());
            }
        }
    }
    out.sort();
    out.extend(
        [
            &b"{\"version\":1,\"requests\":[{\"id\":1,\"code\":null,\"createdAt\":5,\"meta\":[]}]}"[..],
            b"{\"version\":1,\"requests\":[{\"id\":\"x\",\"code\":\"\",\"createdAt\":\"2026-03-01T12:00:00Z\",\"meta\":{\"accountId\":7}}]}",
            b"{\"version\":1,\"requests\":[\"str\",3,null,[],{}]}",
            b"{\"version\":1e400,\"allowFrom\":[1e308,-0,\"\\u0000\",\"\\u001b[31m\",{}]}",
            b"{\"version\":1,\"requests\":[{\"id\":\"x\",\"code\":\"AAAAAAAA\",\"createdAt\":\"+275760-09-13T00:00:00.000Z\"}]}",
            b"{\"version\":1,\"requests\":[{\"id\":\"x\",\"code\":\"AAAAAAAA\",\"createdAt\":\"9999-99-99T99:99:99.999Z\"}]}",
        ]
        .iter()
        .map(|b| b.to_vec()),
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    out.push(deep.into_bytes());
    out
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 if !v.is_empty() => v.truncate(rng.below(v.len())),
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                const BYTES: &[u8] = b"{}[]\",:0-9eE.\\u\xff\x1b";
                v.insert(i, BYTES[rng.below(BYTES.len())]);
            }
            3 if v.len() > 2 => {
                let a = rng.below(v.len());
                let b = rng.below(v.len());
                let (a, b) = (a.min(b), a.max(b));
                let chunk = v[a..b].to_vec();
                let at = rng.below(v.len());
                v.splice(at..at, chunk);
            }
            4 if !v.is_empty() => {
                let i = rng.below(v.len());
                v.remove(i);
            }
            _ => v.extend_from_slice(b"\n"),
        }
    }
    v
}

const T: i64 = 1_772_366_400_000;

#[test]
fn mutated_files_never_panic_the_store() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds = seeds();
    let p = Path::new("x-pairing.json");
    let tmp = tempfile::tempdir().unwrap();
    let store = DmStore::new(tmp.path());
    let pairing = tmp.path().join("telegram-pairing.json");
    let allow = tmp.path().join("telegram-default-allowFrom.json");
    for round in 0..3000 {
        let seed = &seeds[round % seeds.len()];
        let bytes = if round < seeds.len() {
            seed.clone()
        } else {
            mutate(&mut rng, seed)
        };
        if let Ok(mut d) = PairingDoc::parse(p, Some(&bytes)) {
            d.prune(T);
            let _ = d.visible(Some("default"));
            let _ = d.find_code("aaaaaaaa", None);
            let _ = d.upsert("s", Some("work"), &[("k".into(), "v".into())], T);
            let _ = d.to_json();
        }
        if let Ok(mut d) = AllowDoc::parse(p, Some(&bytes)) {
            let _ = d.add("telegram", "tg:1", true);
            let _ = d.remove("bluebubbles", "sms:+1 555", true);
            let _ = d.to_json();
        }
        if round % 10 == 0 {
            fs::write(&pairing, &bytes).unwrap();
            fs::write(&allow, &bytes).unwrap();
            let _ = store.read_requests("telegram", T);
            let _ = store.list("telegram", None, T);
            let _ = store.upsert("telegram", "9", None, &[], T);
            let _ = store.approve("telegram", "AAAAAAAA", None, T);
            let _ = store.reject("telegram", "AAAAAAA2", None, T);
            let _ = store.effective_allowlist("telegram", None);
            let _ = store.allowlists();
            let _ = store.revoke("telegram", None, "111");
        }
    }
}

#[test]
fn the_binary_answers_bad_files_with_a_clean_error() {
    let mut rng = Rng(42);
    let seeds = seeds();
    let tmp = tempfile::tempdir().unwrap();
    let creds = tmp.path().join("credentials");
    fs::create_dir_all(&creds).unwrap();
    for round in 0..40 {
        let bytes = mutate(&mut rng, &seeds[round % seeds.len()]);
        fs::write(creds.join("telegram-pairing.json"), &bytes).unwrap();
        fs::write(creds.join("telegram-default-allowFrom.json"), &bytes).unwrap();
        for args in [
            &["pairing", "list", "telegram", "--json"][..],
            &["pairing", "list", "telegram"][..],
            &["pairing", "approve", "telegram", "AAAAAAAA"][..],
            &["pairing", "allowlist", "telegram", "--account", "default"][..],
            &["doctor"][..],
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_clawpair"))
                .arg("--state-dir")
                .arg(tmp.path())
                .args(args)
                .env("CLAWPAIR_NOW", "2026-03-01T12:30:00.000Z")
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "{args:?} round {round}: {err}"
            );
            assert!(!err.contains("panicked"), "{args:?} round {round}: {err}");
        }
    }
}
