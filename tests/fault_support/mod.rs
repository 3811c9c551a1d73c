//! Helpers of the fault tests: run the real `clawpair` binary with resource
//! limits or another uid, measure its peak RSS, and look at a state dir.
#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_clawpair");

/// A `clawpair --state-dir STATE` command with a clean environment.
pub fn cmd(state: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--state-dir")
        .arg(state)
        .args(args)
        .env_remove("CLAWPAIR_NOW")
        .env_remove("CLAWPAIR_LOG")
        .env_remove("OPENCLAW_OAUTH_DIR")
        .env_remove("OPENCLAW_STATE_DIR")
        .env_remove("OPENCLAW_GATEWAY_TOKEN")
        .stdin(Stdio::null());
    c
}

/// What a finished child did.
#[derive(Debug)]
pub struct Ran {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident set size in KiB (`ru_maxrss` from `wait4`).
    pub max_rss_kib: i64,
    pub took: Duration,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
    /// Exit 1 with exactly one `clawpair:` line on stderr mentioning `needle`,
    /// and no panic.
    pub fn assert_clean_failure(&self, needle: &str, what: &str) {
        assert_eq!(
            self.code,
            Some(1),
            "{what}: exit {:?}: {}",
            self.code,
            self.stderr
        );
        self.assert_no_panic(what);
        let lines: Vec<&str> = self.stderr.lines().collect();
        let last = lines.last().copied().unwrap_or("");
        assert!(
            last.starts_with("clawpair: ") && last.contains(needle),
            "{what}: want a `clawpair:` line naming {needle:?}, got {:?}",
            self.stderr
        );
    }
    pub fn assert_no_panic(&self, what: &str) {
        assert!(
            !self.stderr.contains("panicked") && self.signal.is_none(),
            "{what}: panic or signal {:?}: {}",
            self.signal,
            self.stderr
        );
    }
}

/// Runs `c` to completion (killed after `limit`), collecting output and the
/// peak RSS through `wait4`.
// The child is reaped by `wait4` below, which clippy cannot see.
#[allow(clippy::zombie_processes)]
pub fn run_measured(mut c: Command, limit: Duration) -> Ran {
    let start = Instant::now();
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn clawpair");
    let pid = child.id() as libc::pid_t;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let mut status = 0;
    // SAFETY: plain FFI calls on the pid of our own child; rusage is a
    // zero-initialised POD struct written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        if start.elapsed() > limit {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            panic!(
                "clawpair {:?} did not finish within {limit:?} (hung?)",
                c.get_args().collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = start.elapsed();
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else if libc::WIFSIGNALED(status) {
        (None, Some(libc::WTERMSIG(status)))
    } else {
        (None, None)
    };
    Ran {
        code,
        signal,
        stdout,
        stderr,
        max_rss_kib: usage.ru_maxrss,
        took,
    }
}

/// Runs with a 30 s limit.
pub fn run(c: Command) -> Ran {
    run_measured(c, Duration::from_secs(30))
}

/// Limits the size of any file the child writes (`RLIMIT_FSIZE`); SIGXFSZ
/// is ignored so an oversize write fails with EFBIG instead of killing it.
pub fn with_fsize_limit(c: &mut Command, bytes: u64) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

pub const NOBODY: u32 = 65534;

pub fn is_root() -> bool {
    // SAFETY: trivial FFI call.
    unsafe { libc::geteuid() == 0 }
}

/// As root, permissions do not bind: run the child as `nobody` instead
/// (the caller chowns what it must be able to read). A no-op otherwise.
pub fn as_nobody_if_root(c: &mut Command) {
    if is_root() {
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            c.pre_exec(|| {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(NOBODY) != 0
                    || libc::setuid(NOBODY) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// `chown -R nobody:nobody` (root only).
pub fn chown_tree(p: &Path) {
    std::os::unix::fs::lchown(p, Some(NOBODY), Some(NOBODY)).unwrap();
    if fs::symlink_metadata(p).unwrap().is_dir() {
        for e in fs::read_dir(p).unwrap().flatten() {
            chown_tree(&e.path());
        }
    }
}

/// Names in a directory, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every leftover temp file (`*.tmp`) under the state's two directories.
pub fn temp_files(state: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in ["credentials", "devices"] {
        for n in names(&state.join(d)) {
            if n.ends_with(".tmp") {
                out.push(state.join(d).join(n));
            }
        }
    }
    out
}

/// A file's identity and content, to prove it was left alone.
#[derive(PartialEq, Eq)]
pub struct Snap {
    pub ino: u64,
    pub len: u64,
    pub mtime_ns: i128,
    pub sample: Vec<u8>,
}

impl std::fmt::Debug for Snap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.sample.hash(&mut h);
        write!(
            f,
            "Snap {{ ino: {}, len: {}, mtime_ns: {}, sample hash: {:016x} }}",
            self.ino,
            self.len,
            self.mtime_ns,
            h.finish()
        )
    }
}

pub fn snap(p: &Path) -> Snap {
    use std::os::unix::fs::MetadataExt;
    let m = fs::symlink_metadata(p).unwrap();
    let mut sample = Vec::new();
    if m.is_file() {
        // Up to 1 MiB from the start is compared byte for byte; the rest is
        // covered by length, inode and mtime (the huge files are 100 MiB).
        fs::File::open(p)
            .unwrap()
            .take(1 << 20)
            .read_to_end(&mut sample)
            .unwrap();
    }
    Snap {
        ino: m.ino(),
        len: m.len(),
        mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        sample,
    }
}

/// Polls `cond` every 10 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn lock_content(pid: i64, created_ms: i64) -> String {
    format!(
        "{{\n  \"pid\": {pid},\n  \"createdAt\": \"{}\"\n}}",
        clawpair::clock::format_iso_ms(created_ms)
    )
}

/// Writes a lock file as another process would and back-dates its mtime.
pub fn plant_lock(path: &Path, content: &[u8], age: Duration) {
    fs::write(path, content).unwrap();
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - age).unwrap();
}

/// A pid that is certainly not running.
pub const DEAD_PID: i64 = 2_147_483_000;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child that is SIGKILLed and reaped when dropped.
pub struct Killed(pub std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `clawpair --headless` on `state` with its gateway on `port`; returns once
/// it listens, with a receiver of its stderr lines (drained, so it never
/// blocks on a full pipe).
pub fn start_headless(state: &Path, port: u16) -> (Killed, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader};
    let mut c = cmd(
        state,
        &["--headless", "--port", &port.to_string(), "--no-notify"],
    );
    let mut child = Killed(
        c.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if l.contains("gateway.listening") {
                let _ = tx.send(());
            }
        }
    });
    let (etx, erx) = std::sync::mpsc::channel();
    let stderr = child.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = etx.send(l);
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("headless console listening");
    (child, erx)
}
