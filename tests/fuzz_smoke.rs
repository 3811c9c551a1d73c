//! CI's short pass over every fuzz target (the long runs use cargo-fuzz, see
//! `fuzz/run.sh`): each seed in `fuzz/seeds/<target>/`, hostile shapes
//! (deep nesting, long runs, odd encodings), then seeded random mutations of
//! the seeds. The targets assert their own round trips, so a wrong answer
//! fails here as well as a panic.

use std::path::Path;

use clawpair::fuzz_targets::TARGETS;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn files_in(dir: &Path) -> Vec<Vec<u8>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{}: {e}", dir.display()),
    }
}

/// The seed corpus plus every input a fuzzer once failed on (`fuzz/regressions/`).
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = files_in(&fuzz.join("seeds").join(target));
    out.extend(files_in(&fuzz.join("regressions").join(target)));
    out.sort();
    assert!(!out.is_empty(), "no seeds for {target}");
    out
}

/// Shapes a mutator rarely reaches by chance.
fn hostile() -> Vec<Vec<u8>> {
    let mut v = vec![
        "[".repeat(100_000).into_bytes(),
        "{\"a\":".repeat(50_000).into_bytes(),
        format!("{{\"requests\":{}}}", "[".repeat(20_000)).into_bytes(),
        format!("{{\"x\":\"{}\"}}", "\\u0000".repeat(10_000)).into_bytes(),
        b"\xef\xbb\xbf\xef\xbb\xbf{}".to_vec(),
        b"{\"version\":1e999,\"requests\":[]}".to_vec(),
        b"{\"pid\":-1e308,\"createdAt\":\"\"}".to_vec(),
        b"{a:/*".to_vec(),
        "// c\n".repeat(10_000).into_bytes(),
        vec![0xff; 4096],
        vec![b'A'; 70_000],
    ];
    v.push(
        format!(
            "{{\"type\":\"req\",\"id\":\"{}\",\"method\":\"connect\"}}",
            "\u{202e}".repeat(1000)
        )
        .into_bytes(),
    );
    v
}

fn mutate(rng: &mut StdRng, pool: &[Vec<u8>]) -> Vec<u8> {
    let mut d = pool[rng.random_range(0..pool.len())].clone();
    for _ in 0..rng.random_range(1..=4) {
        let len = d.len();
        match rng.random_range(0..7) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                d[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                d[i] = b"{}[]\",:0-e.\\u\n"[rng.random_range(0..14)];
            }
            2 if len > 0 => {
                let i = rng.random_range(0..len);
                let j = rng.random_range(i..=len.min(i + 16));
                d.drain(i..j);
            }
            3 => {
                let i = rng.random_range(0..=len);
                let other = &pool[rng.random_range(0..pool.len())];
                if !other.is_empty() {
                    let a = rng.random_range(0..other.len());
                    let b = rng.random_range(a..=other.len().min(a + 64));
                    d.splice(i..i, other[a..b].iter().copied());
                }
            }
            4 if len > 0 => d.truncate(rng.random_range(0..len)),
            5 => {
                let i = rng.random_range(0..=len);
                let tok: &[u8] = [
                    b"null" as &[u8],
                    b"-0",
                    b"1e308",
                    b"\"\\ud800\"",
                    b"[]",
                    b"{}",
                    b"9007199254740993",
                    "\u{1b}[2J".as_bytes(),
                ][rng.random_range(0..8)];
                d.splice(i..i, tok.iter().copied());
            }
            _ if len > 1 => {
                let i = rng.random_range(0..len);
                let j = rng.random_range(0..len);
                d.swap(i, j);
            }
            _ => d.push(rng.random()),
        }
    }
    d
}

#[test]
fn every_fuzz_target_survives_seeds_hostile_shapes_and_mutations() {
    let seed: u64 = std::env::var("CLAWPAIR_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_c1a3);
    eprintln!("mutation seed {seed} (set CLAWPAIR_FUZZ_SEED to replay)");
    for (name, target) in TARGETS {
        let started = std::time::Instant::now();
        let pool = seeds(name);
        for input in pool.iter().chain(hostile().iter()) {
            target(input);
        }
        // Signing and verifying is slow in a debug build; the others are cheap.
        let rounds = if *name == "signature" { 5_000 } else { 20_000 };
        let mut rng = StdRng::seed_from_u64(seed ^ name.len() as u64);
        for i in 0..rounds {
            let input = mutate(&mut rng, &pool);
            let r = std::panic::catch_unwind(|| target(&input));
            assert!(
                r.is_ok(),
                "{name}: input #{i} panicked: {:?}",
                String::from_utf8_lossy(&input)
            );
        }
        eprintln!(
            "{name}: {} seeds + {rounds} mutations in {:?}",
            pool.len(),
            started.elapsed()
        );
    }
}
