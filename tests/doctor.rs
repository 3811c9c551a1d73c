//! `clawpair doctor` reports every kind of problem by file name and
//! `--repair` fixes them without destroying anything.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn doctor(state: &std::path::Path, repair: bool) -> (i32, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clawpair"));
    c.arg("--state-dir").arg(state).arg("doctor");
    if repair {
        c.arg("--repair");
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn healthy_state_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("s");
    fs::create_dir(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    let ok = Command::new(env!("CARGO_BIN_EXE_clawpair"))
        .arg("--state-dir")
        .arg(&state)
        .args(["pairing", "request", "telegram", "1"])
        .output()
        .unwrap();
    assert!(ok.status.success());
    let (code, out) = doctor(&state, false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 problem(s)"), "{out}");
}

#[test]
fn problems_are_reported_and_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("s");
    let creds = state.join("credentials");
    let devices = state.join("devices");
    fs::create_dir_all(&creds).unwrap();
    fs::create_dir_all(&devices).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(
        creds.join("telegram-pairing.json"),
        "{\n  \"version\": 1,\n  \"requests\": [\n",
    )
    .unwrap();
    fs::write(
        creds.join("telegram-allowFrom.json"),
        "{\"version\":1,\"allowFrom\":[\"1\"]}",
    )
    .unwrap();
    fs::set_permissions(
        creds.join("telegram-allowFrom.json"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    fs::write(
        devices.join("pending.json"),
        "{\"r\": {\"requestId\": \"r\", \"deviceId\": 5}}",
    )
    .unwrap();
    fs::write(
        creds.join("x-pairing.json.lock"),
        "{\"pid\": 2147483000, \"createdAt\": \"2020-01-01T00:00:00.000Z\"}",
    )
    .unwrap();

    let (code, out) = doctor(&state, false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("telegram-pairing.json: malformed JSON at line 4, column 0"),
        "{out}"
    );
    assert!(
        out.contains("telegram-allowFrom.json: file mode 0644"),
        "{out}"
    );
    assert!(out.contains("pending.json: unexpected content"), "{out}");
    assert!(out.contains("directory mode 0755"), "{out}");
    assert!(out.contains("x-pairing.json.lock: stale lock"), "{out}");
    // Reporting changed nothing.
    assert!(creds.join("telegram-pairing.json").exists());
    assert!(creds.join("x-pairing.json.lock").exists());

    let (code, out) = doctor(&state, true);
    assert_eq!(code, 0, "{out}");
    assert!(!creds.join("telegram-pairing.json").exists());
    let aside: Vec<String> = fs::read_dir(&creds)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("telegram-pairing.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{out}");
    assert!(!creds.join("x-pairing.json.lock").exists());
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&creds.join("telegram-allowFrom.json")), 0o600);
    assert_eq!(mode(&state), 0o700);
    let (code, out) = doctor(&state, false);
    assert_eq!(code, 0, "after repair everything is clean: {out}");
}
