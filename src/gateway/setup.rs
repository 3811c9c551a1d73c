//! Setup codes (spec node-pairing §10 and openclaw-2026.9 §12, made safer).
//! Two encodings, both base64url without padding of compact JSON:
//!
//! * 2026.9 (the default): `{"url":…,"bootstrapToken":…,"expiresAtMs":…[,"tlsFingerprint":…]}`,
//!   optionally written `oc-pair://<code>`; a 2026.9.6 node presents the token
//!   as `auth.bootstrapToken`;
//! * 2026.2.26 (`--legacy`): `{"url":…,"token":…}`; a 2026.2.26 node presents
//!   it as `auth.token`.
//!
//! Either way the token is a short-lived bootstrap secret, never the shared
//! gateway token: bound to the first device that presents it, granting only
//! the `node` role (OpenClaw's node profile, but with the owner's approval),
//! void once that device is paired (after its device token was delivered) or
//! rejected. Only SHA-256 hashes are stored, in a 0600 file in the state dir.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::crypto;
use crate::error::{Result, StoreError};
use crate::fsutil;
use crate::paths::Paths;

/// File holding the outstanding setup tokens (hashes only).
pub const SETUP_FILE: &str = "clawpair-setup-tokens.json";
/// Default lifetime of a setup token.
pub const DEFAULT_TTL_MS: i64 = 10 * 60_000;
/// [`DEFAULT_TTL_MS`] as the `--ttl` flag writes it.
pub const DEFAULT_TTL_ARG: &str = "10m";
/// After its device was approved (before expiry), the token may still deliver
/// the device token for this long past its expiry.
pub const DELIVERY_GRACE_MS: i64 = 10 * 60_000;
/// Entries this long past expiry are dropped from the file.
const PRUNE_AFTER_MS: i64 = 24 * 3_600_000;
/// At most this many outstanding tokens are kept.
const MAX_ENTRIES: usize = 256;

/// Encodes `{"url":…,"token":…}` exactly as OpenClaw does.
pub fn encode(url: &str, token: &str) -> String {
    let v = json!({"url": url, "token": token});
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Encodes a 2026.9 code: `{"url":…,"bootstrapToken":…,"expiresAtMs":…}`
/// (keys in that order, as 2026.9.6 writes them), plus `tlsFingerprint` (64
/// lower-case hex digits) when the gateway serves `wss://` with its own
/// certificate.
pub fn encode_v4(
    url: &str,
    bootstrap_token: &str,
    expires_at_ms: i64,
    tls_fingerprint: Option<&str>,
) -> String {
    let mut m = serde_json::Map::new();
    m.insert("url".into(), json!(url));
    m.insert("bootstrapToken".into(), json!(bootstrap_token));
    m.insert("expiresAtMs".into(), json!(expires_at_ms));
    if let Some(fp) = tls_fingerprint {
        m.insert("tlsFingerprint".into(), json!(fp));
    }
    URL_SAFE_NO_PAD.encode(serde_json::Value::Object(m).to_string())
}

/// The prefix of the URL form of a setup code (`oc-pair://<code>`).
pub const OC_PAIR_PREFIX: &str = "oc-pair://";

/// Encodes a password code (`{"url":…,"password":…}`), for parity with OpenClaw.
pub fn encode_password(url: &str, password: &str) -> String {
    let v = json!({"url": url, "password": password});
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A decoded setup code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetupPayload {
    pub url: String,
    /// A 2026.2.26 code's token (sent as `auth.token`).
    pub token: Option<String>,
    pub password: Option<String>,
    /// A 2026.9 code's token (sent as `auth.bootstrapToken`).
    pub bootstrap_token: Option<String>,
    /// A 2026.9 code's expiry.
    pub expires_at_ms: Option<i64>,
    /// A 2026.9 code's certificate pin, normalised to 64 lower-case hex digits.
    pub tls_fingerprint: Option<String>,
}

impl SetupPayload {
    /// The one-time secret of the code, whichever format.
    pub fn secret(&self) -> Option<&str> {
        self.bootstrap_token.as_deref().or(self.token.as_deref())
    }
}

/// Longer codes are refused unread (a real one is under 300 characters).
pub const MAX_SETUP_CODE_CHARS: usize = 4096;

/// Decodes a setup code of either format (base64url, padding and standard
/// alphabet tolerated; an `oc-pair://` prefix too). A 2026.9 code needs a
/// non-empty `bootstrapToken`; its `expiresAtMs`, when present, a
/// non-negative integer; its `tlsFingerprint` one of the forms OpenClaw
/// accepts. Whether it has expired is the caller's question.
pub fn decode(code: &str) -> Option<SetupPayload> {
    let code = code.trim();
    if code.len() > MAX_SETUP_CODE_CHARS {
        return None;
    }
    let code = match code.get(..OC_PAIR_PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(OC_PAIR_PREFIX) => &code[OC_PAIR_PREFIX.len()..],
        _ => code,
    };
    let bytes = crypto::b64_decode(code)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let url = v.get("url")?.as_str()?.to_string();
    let text = |k: &str| v.get(k).and_then(|t| t.as_str()).map(str::to_string);
    let (token, password) = (text("token"), text("password"));
    let bootstrap_token = text("bootstrapToken").filter(|t| !t.trim().is_empty());
    if token.is_none() && password.is_none() && bootstrap_token.is_none() {
        return None;
    }
    let expires_at_ms = match v.get("expiresAtMs") {
        None => None,
        Some(n) => Some(n.as_i64().filter(|n| *n >= 0)?),
    };
    let tls_fingerprint = match v.get("tlsFingerprint") {
        None => None,
        Some(f) => {
            let fp = super::tls::parse_fingerprint(f.as_str()?)?;
            Some(super::tls::fingerprint_hex(&fp))
        }
    };
    Some(SetupPayload {
        url,
        token,
        password,
        bootstrap_token,
        expires_at_ms,
        tls_fingerprint,
    })
}

/// Keeps scheme, host and explicit port; `http`→`ws`, `https`→`wss`; no scheme → `ws`.
pub fn normalize_url(input: &str) -> Option<String> {
    let s = input.trim();
    let (scheme, rest) = match s.split_once("://") {
        Some((sch, rest)) => {
            let sch = sch.to_ascii_lowercase();
            let sch = match sch.as_str() {
                "http" | "ws" => "ws",
                "https" | "wss" => "wss",
                _ => return None,
            };
            (sch, rest)
        }
        None => ("ws", s),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or("");
    if authority.is_empty() || authority.chars().any(|c| c.is_whitespace()) {
        return None;
    }
    // Drop a default port the way URL parsing does.
    let host_port = authority.to_ascii_lowercase();
    let (host, port) = split_host_port(&host_port)?;
    let default = if scheme == "wss" { 443 } else { 80 };
    Some(match port {
        Some(p) if p != default => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

fn split_host_port(a: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = a.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &a[..end + 2];
        let after = &rest[end + 1..];
        return match after.strip_prefix(':') {
            Some(p) if !p.is_empty() => Some((host, Some(p.parse().ok()?))),
            _ => Some((host, None)),
        };
    }
    match a.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() => Some((h, Some(p.parse().ok()?))),
        Some((h, _)) => Some((h, None)),
        None => Some((a, None)),
    }
}

/// One outstanding setup token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetupEntry {
    /// Lowercase hex SHA-256 of the token.
    pub token_hash: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voided_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub void_reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SetupFile {
    #[serde(default)]
    version: u32,
    #[serde(default)]
    tokens: Vec<SetupEntry>,
}

fn file_path(paths: &Paths) -> std::path::PathBuf {
    paths.state_dir.join(SETUP_FILE)
}

fn load(paths: &Paths) -> Result<SetupFile> {
    let p = file_path(paths);
    match fsutil::read_optional(&p)? {
        None => Ok(SetupFile::default()),
        Some(b) if fsutil::is_blank(&b) => Ok(SetupFile::default()),
        Some(b) => serde_json::from_slice(&b).map_err(|e| StoreError::Shape {
            path: p,
            message: e.to_string(),
        }),
    }
}

fn save(paths: &Paths, f: &SetupFile) -> Result<()> {
    let v = SetupFile {
        version: 1,
        tokens: f.tokens.clone(),
    };
    fsutil::write_atomic(
        &file_path(paths),
        crate::jsonfmt::to_pretty_nl(&v).as_bytes(),
    )
}

fn mutate<T>(paths: &Paths, f: impl FnOnce(&mut SetupFile) -> T) -> Result<T> {
    fsutil::ensure_private_dir(&paths.state_dir)?;
    crate::lock::with_lock(&file_path(paths), || {
        let mut file = load(paths)?;
        let out = f(&mut file);
        save(paths, &file)?;
        Ok(out)
    })
}

/// A freshly created setup token (the secret is shown once and never stored).
#[derive(Debug, Clone)]
pub struct NewSetupToken {
    pub token: String,
    pub expires_at_ms: i64,
}

/// Creates and records a new setup token valid for `ttl_ms`.
pub fn create(paths: &Paths, ttl_ms: i64, now: i64) -> Result<NewSetupToken> {
    let token = crypto::new_token();
    let entry = SetupEntry {
        token_hash: crypto::sha256_hex(&token),
        created_at_ms: now,
        expires_at_ms: now.saturating_add(ttl_ms),
        device_id: None,
        bound_at_ms: None,
        request_id: None,
        voided_at_ms: None,
        void_reason: None,
    };
    let expires_at_ms = entry.expires_at_ms;
    mutate(paths, |f| {
        f.tokens
            .retain(|e| e.expires_at_ms.saturating_add(PRUNE_AFTER_MS) > now);
        f.tokens.push(entry);
        while f.tokens.len() > MAX_ENTRIES {
            f.tokens.remove(0);
        }
    })?;
    Ok(NewSetupToken {
        token,
        expires_at_ms,
    })
}

/// Looks a presented token up (no lock, no write). `None` when unknown.
pub fn find(paths: &Paths, token: &str) -> Result<Option<SetupEntry>> {
    let hash = crypto::sha256_hex(token);
    let file = load(paths)?;
    Ok(file
        .tokens
        .into_iter()
        .find(|e| crypto::secrets_equal(&e.token_hash, &hash)))
}

/// What a presented setup token allows for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupVerdict {
    /// Usable by this device; `first_use` when it just got bound to it.
    Usable { first_use: bool },
    /// Spent on this (now paired) device. It can no longer create requests or
    /// admit anything else, but the device may keep presenting it — real
    /// OpenClaw nodes keep sending their configured token and never switch to
    /// their device token — which the gateway accepts only while the device is
    /// paired with a live token for the role.
    PairedAlias,
    /// Unknown, void, expired or bound to another device.
    Refused(Refusal),
}

/// Why a setup token is refused. On the wire every cause gets the same
/// answer (as in OpenClaw); clawpair names the cause in one extra detail,
/// `bootstrapTokenState`, so `clawpair join` can say which it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Never issued here (or pruned long ago).
    Unknown,
    /// Past its expiry.
    Expired,
    /// Spent: its device collected its device token, or another device holds it.
    Used,
    /// Void because the request it created was rejected.
    Revoked,
    /// Presented for a role a setup code never grants (operator).
    RoleNotAllowed,
}

impl Refusal {
    /// The word in `details.bootstrapTokenState` and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Unknown => "unknown",
            Refusal::Expired => "expired",
            Refusal::Used => "used",
            Refusal::Revoked => "revoked",
            Refusal::RoleNotAllowed => "role-not-allowed",
        }
    }

    /// Reads [`Refusal::as_str`] back.
    pub fn parse(s: &str) -> Option<Refusal> {
        [
            Refusal::Unknown,
            Refusal::Expired,
            Refusal::Used,
            Refusal::Revoked,
            Refusal::RoleNotAllowed,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// Checks and, on first use, binds the token to `device_id`.
/// `device_paired_before_expiry` lets an approved device collect its device
/// token shortly after the code expired. `request_resolved_unpaired` says
/// whether a request is gone from `pending.json` while the device is not
/// paired: rejected (or lapsed) — decided here from the files, so a device
/// reconnecting right after a rejection made in another process cannot slip
/// in a new request before the gateway's watcher notices.
pub fn use_for_device(
    paths: &Paths,
    token: &str,
    device_id: &str,
    device_paired_before_expiry: impl Fn(i64) -> bool,
    request_resolved_unpaired: impl Fn(&str) -> bool,
    now: i64,
) -> Result<SetupVerdict> {
    let Some(entry) = find(paths, token)? else {
        return Ok(SetupVerdict::Refused(Refusal::Unknown));
    };
    if entry.voided_at_ms.is_some() {
        let paired = entry.void_reason.as_deref() == Some("paired");
        if paired && entry.device_id.as_deref() == Some(device_id) {
            return Ok(SetupVerdict::PairedAlias);
        }
        return Ok(SetupVerdict::Refused(if paired {
            Refusal::Used
        } else {
            Refusal::Revoked
        }));
    }
    if let Some(d) = &entry.device_id {
        if d != device_id {
            return Ok(SetupVerdict::Refused(Refusal::Used));
        }
    }
    if now >= entry.expires_at_ms {
        let grace = entry.device_id.is_some()
            && now < entry.expires_at_ms.saturating_add(DELIVERY_GRACE_MS)
            && device_paired_before_expiry(entry.expires_at_ms);
        if !grace {
            return Ok(SetupVerdict::Refused(Refusal::Expired));
        }
    }
    if entry.device_id.is_some() {
        if let Some(rid) = entry.request_id.as_deref() {
            if request_resolved_unpaired(rid) {
                void_for_request(paths, rid, "rejected", now)?;
                return Ok(SetupVerdict::Refused(Refusal::Revoked));
            }
        }
        return Ok(SetupVerdict::Usable { first_use: false });
    }
    // Bind under the lock; another connection may have won the race.
    let hash = entry.token_hash.clone();
    let device = device_id.to_string();
    mutate(paths, move |f| {
        match f
            .tokens
            .iter_mut()
            .find(|e| crypto::secrets_equal(&e.token_hash, &hash))
        {
            Some(e) if e.voided_at_ms.is_none() => match &e.device_id {
                None => {
                    e.device_id = Some(device);
                    e.bound_at_ms = Some(now);
                    SetupVerdict::Usable { first_use: true }
                }
                Some(d) if *d == device => SetupVerdict::Usable { first_use: false },
                Some(_) => SetupVerdict::Refused(Refusal::Used),
            },
            Some(e) if e.void_reason.as_deref() == Some("paired") => {
                SetupVerdict::Refused(Refusal::Used)
            }
            _ => SetupVerdict::Refused(Refusal::Revoked),
        }
    })
}

/// Records the pending request created for the token's device.
pub fn note_request(paths: &Paths, token: &str, request_id: &str) -> Result<()> {
    let hash = crypto::sha256_hex(token);
    let rid = request_id.to_string();
    mutate(paths, move |f| {
        if let Some(e) = f
            .tokens
            .iter_mut()
            .find(|e| crypto::secrets_equal(&e.token_hash, &hash))
        {
            e.request_id = Some(rid);
        }
    })
}

/// Voids every live token bound to `device_id` (paired or rejected).
pub fn void_for_device(paths: &Paths, device_id: &str, reason: &str, now: i64) -> Result<usize> {
    let file = load(paths)?;
    if !file
        .tokens
        .iter()
        .any(|e| e.voided_at_ms.is_none() && e.device_id.as_deref() == Some(device_id))
    {
        return Ok(0);
    }
    mutate(paths, |f| {
        let mut n = 0;
        for e in f.tokens.iter_mut() {
            if e.voided_at_ms.is_none() && e.device_id.as_deref() == Some(device_id) {
                e.voided_at_ms = Some(now);
                e.void_reason = Some(reason.to_string());
                n += 1;
            }
        }
        n
    })
}

/// Voids the token bound to a request that was rejected.
pub fn void_for_request(paths: &Paths, request_id: &str, reason: &str, now: i64) -> Result<()> {
    let file = load(paths)?;
    if !file
        .tokens
        .iter()
        .any(|e| e.voided_at_ms.is_none() && e.request_id.as_deref() == Some(request_id))
    {
        return Ok(());
    }
    mutate(paths, |f| {
        for e in f.tokens.iter_mut() {
            if e.voided_at_ms.is_none() && e.request_id.as_deref() == Some(request_id) {
                e.voided_at_ms = Some(now);
                e.void_reason = Some(reason.to_string());
            }
        }
    })
}

/// Live (unexpired, not void) entries, for the console.
pub fn outstanding(paths: &Paths, now: i64) -> Result<Vec<SetupEntry>> {
    Ok(load(paths)?
        .tokens
        .into_iter()
        .filter(|e| e.voided_at_ms.is_none() && e.expires_at_ms > now)
        .collect())
}

/// Parses `10m`, `90s`, `1h`, `500ms` or a bare number of seconds.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3_600_000)
    } else if let Some(n) = s.strip_suffix('d') {
        (n, 86_400_000)
    } else {
        (s, 1000)
    };
    let n: i64 = num.trim().parse().ok()?;
    (n > 0).then(|| n.checked_mul(mult)).flatten()
}

/// First non-internal IPv4 address of this host, preferring RFC 1918 ranges.
pub fn host_lan_ipv4() -> Option<std::net::Ipv4Addr> {
    let mut found: Vec<std::net::Ipv4Addr> = Vec::new();
    // SAFETY: getifaddrs fills a linked list we only read and then free.
    unsafe {
        let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut ifap) != 0 {
            return None;
        }
        let mut cur = ifap;
        while !cur.is_null() {
            let ifa = &*cur;
            if !ifa.ifa_addr.is_null() && i32::from((*ifa.ifa_addr).sa_family) == libc::AF_INET {
                let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                if !ip.is_loopback() && !ip.is_unspecified() && !ip.is_link_local() {
                    found.push(ip);
                }
            }
            cur = ifa.ifa_next;
        }
        libc::freeifaddrs(ifap);
    }
    found
        .iter()
        .copied()
        .find(|ip| ip.is_private())
        .or_else(|| found.first().copied())
}

/// Keeps scheme, host, explicit port and the path (2026.9.6's normalised
/// form, `ws[s]://host[:port][/path]`): `http`→`ws`, `https`→`wss`, no
/// scheme → `ws`, no trailing `/`, query and fragment dropped.
pub fn normalize_url_with_path(input: &str) -> Option<String> {
    let base = normalize_url(input)?;
    let s = input.trim();
    let rest = s.split_once("://").map_or(s, |(_, r)| r);
    let path = match rest.find('/') {
        Some(i) => rest[i..].split(['?', '#']).next().unwrap_or(""),
        None => "",
    };
    let path = path.trim_end_matches('/');
    if path.chars().any(|c| c.is_whitespace()) {
        return None;
    }
    Some(format!("{base}{path}"))
}

/// The host of a normalised `ws[s]://host[:port][/path]` URL, without brackets.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next().unwrap_or("");
    let (host, _) = split_host_port(authority)?;
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
}

/// Whether `host` is this machine (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How the setup URL was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupUrl {
    pub url: String,
    pub source: &'static str,
    /// What the owner should know (loopback only; cleartext to a LAN host).
    pub warning: Option<String>,
    /// The same, short enough for a toast.
    pub toast: Option<&'static str>,
    /// The URL is the gateway's own address (its certificate may be pinned).
    pub own_address: bool,
}

/// The warning for a `ws://` URL to another machine.
fn cleartext_warning(host: &str) -> String {
    format!(
        "warning: ws://{host} is cleartext: OpenClaw's phone apps refuse it (they allow ws:// only \
         to loopback); node hosts on a private network still connect. Turn on TLS to serve wss:// \
         (`clawpair gateway --tls`, or `clawpair --tls` for the console's gateway); the setup code \
         then carries the certificate's fingerprint for the device to pin"
    )
}

/// `--url`, else a non-loopback address of this host when the listening
/// gateway is bound to one, else loopback. `tls`: the gateway serves
/// `wss://`. `keep_path`: keep an explicit URL's path (2026.9 codes).
pub fn choose_url(
    explicit: Option<&str>,
    bind: &str,
    port: u16,
    tls: bool,
    keep_path: bool,
) -> std::result::Result<SetupUrl, String> {
    let cleartext = |url: &str| -> (Option<String>, Option<&'static str>) {
        match url_host(url) {
            Some(h) if url.starts_with("ws://") && !is_loopback_host(&h) => (
                Some(cleartext_warning(&h)),
                Some("ws:// to a LAN address: phones refuse cleartext; restart with --tls"),
            ),
            _ => (None, None),
        }
    };
    if let Some(u) = explicit {
        let url = if keep_path {
            normalize_url_with_path(u)
        } else {
            normalize_url(u)
        }
        .ok_or_else(|| format!("invalid --url: {u}"))?;
        let (warning, toast) = cleartext(&url);
        return Ok(SetupUrl {
            url,
            source: "--url",
            warning,
            toast,
            own_address: false,
        });
    }
    let scheme = if tls { "wss" } else { "ws" };
    let bind = bind.trim().trim_start_matches('[').trim_end_matches(']');
    let ip: Option<std::net::IpAddr> = bind.parse().ok();
    let host = match ip {
        Some(ip) if ip.is_unspecified() => host_lan_ipv4().map(|a| a.to_string()),
        Some(ip) if !ip.is_loopback() => Some(match ip {
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        }),
        Some(_) => None,
        None if bind.eq_ignore_ascii_case("localhost") => None,
        None if !bind.is_empty() => Some(bind.to_string()),
        None => None,
    };
    match host {
        Some(h) => {
            let url = format!("{scheme}://{h}:{port}");
            let (warning, toast) = cleartext(&url);
            Ok(SetupUrl {
                url,
                source: "gateway bind address",
                warning,
                toast,
                own_address: true,
            })
        }
        None => Ok(SetupUrl {
            url: format!("{scheme}://127.0.0.1:{port}"),
            source: "loopback",
            warning: Some(
                "warning: the gateway is only bound to loopback; this setup code works only on this \
                 machine (use --url, or run the gateway with --bind 0.0.0.0 or a LAN address)"
                    .into(),
            ),
            toast: Some("Loopback URL: this code works only on this machine"),
            own_address: true,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_openclaw() {
        assert_eq!(
            encode("ws://192.168.77.1:28789", "test-gateway-token-0123456789abcdef"),
            "eyJ1cmwiOiJ3czovLzE5Mi4xNjguNzcuMToyODc4OSIsInRva2VuIjoidGVzdC1nYXRld2F5LXRva2VuLTAxMjM0NTY3ODlhYmNkZWYifQ"
        );
        assert_eq!(
            encode_password("ws://192.168.77.1:28789", "pw+/?"),
            "eyJ1cmwiOiJ3czovLzE5Mi4xNjguNzcuMToyODc4OSIsInBhc3N3b3JkIjoicHcrLz8ifQ"
        );
        assert_eq!(
            normalize_url("https://gw.example.ts.net/some/path").unwrap(),
            "wss://gw.example.ts.net"
        );
        assert_eq!(
            normalize_url("10.0.0.2:18789").unwrap(),
            "ws://10.0.0.2:18789"
        );
        assert_eq!(normalize_url("http://[::1]:80/x").unwrap(), "ws://[::1]");
        assert!(normalize_url("ftp://x").is_none());
    }

    #[test]
    fn url_choice() {
        let u = choose_url(None, "192.168.1.5", 18789, false, true).unwrap();
        assert_eq!(u.url, "ws://192.168.1.5:18789");
        assert!(u.warning.unwrap().contains("phone apps refuse it"));
        let u = choose_url(None, "192.168.1.5", 18789, true, true).unwrap();
        assert_eq!(u.url, "wss://192.168.1.5:18789");
        assert!(u.warning.is_none() && u.own_address);
        let u = choose_url(None, "127.0.0.1", 18789, false, true).unwrap();
        assert_eq!(u.url, "ws://127.0.0.1:18789");
        assert!(u.warning.unwrap().contains("only bound to loopback"));
        let u = choose_url(None, "127.0.0.1", 18789, true, true).unwrap();
        assert_eq!(u.url, "wss://127.0.0.1:18789");
        assert!(choose_url(None, "localhost", 1, false, true)
            .unwrap()
            .warning
            .is_some());
        let u = choose_url(
            Some("http://10.0.0.7:28789/x"),
            "127.0.0.1",
            1,
            false,
            false,
        )
        .unwrap();
        assert_eq!((u.url.as_str(), u.source), ("ws://10.0.0.7:28789", "--url"));
        assert!(u.warning.is_some() && !u.own_address);
        let u = choose_url(
            Some("http://10.0.0.7:28789/x/"),
            "127.0.0.1",
            1,
            false,
            true,
        )
        .unwrap();
        assert_eq!(u.url, "ws://10.0.0.7:28789/x");
        let u = choose_url(Some("ws://127.0.0.1:5"), "0.0.0.0", 1, false, true).unwrap();
        assert!(u.warning.is_none());
        let u = choose_url(None, "0.0.0.0", 18789, false, true).unwrap();
        assert!(u.url.starts_with("ws://") && u.url.ends_with(":18789"));
        assert!(choose_url(Some("ftp://x"), "127.0.0.1", 1, false, true).is_err());
        assert_eq!(
            normalize_url_with_path("https://gw.example.ts.net/some/path").unwrap(),
            "wss://gw.example.ts.net/some/path"
        );
        assert_eq!(url_host("wss://[::1]:5/x").as_deref(), Some("::1"));
    }

    #[test]
    fn v4_codes_match_openclaw() {
        // fx/setup-codes/decoded.json, qr-url-loopback: re-encodes byte for byte.
        let code = "eyJ1cmwiOiJ3czovLzEyNy4wLjAuMTozNTI2NyIsImJvb3RzdHJhcFRva2VuIjoiTm1OV0I4ZVJFZXNPNnJIMzNFbjdSS1dtWlVyMk5DR2l6TFY1OTdma2EyUSIsImV4cGlyZXNBdE1zIjoxNzk2MTY1MDQ4MzY4fQ";
        let p = decode(code).unwrap();
        assert_eq!(p.url, "ws://127.0.0.1:35267");
        assert_eq!(
            p.bootstrap_token.as_deref(),
            Some("NmNWB8eREesO6rH33En7RKWmZUr2NCGizLV597fka2Q")
        );
        assert_eq!(p.expires_at_ms, Some(1796165048368));
        assert_eq!(p.token, None);
        assert_eq!(
            encode_v4(&p.url, p.secret().unwrap(), 1796165048368, None),
            code
        );
        assert_eq!(decode(&format!("oc-pair://{code}")), Some(p.clone()));
        assert_eq!(decode(&format!("OC-PAIR://{code}")), Some(p));
        let fp = "57:0B:D4:A6:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:CA:66";
        let with_fp = encode_v4("wss://h:1", "t", 5, Some(fp));
        let p = decode(&with_fp).unwrap();
        assert_eq!(
            p.tls_fingerprint.as_deref(),
            Some("570bd4a600112233445566778899aabbccddeeff00112233445566778899ca66")
        );
        let bad = URL_SAFE_NO_PAD
            .encode(r#"{"url":"ws://h:1","bootstrapToken":"t","tlsFingerprint":"nope"}"#);
        assert_eq!(decode(&bad), None);
        let bad =
            URL_SAFE_NO_PAD.encode(r#"{"url":"ws://h:1","bootstrapToken":"t","expiresAtMs":-1}"#);
        assert_eq!(decode(&bad), None);
        let bad = URL_SAFE_NO_PAD.encode(r#"{"url":"ws://h:1","bootstrapToken":""}"#);
        assert_eq!(decode(&bad), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("10m"), Some(600_000));
        assert_eq!(parse_duration_ms(DEFAULT_TTL_ARG), Some(DEFAULT_TTL_MS));
        assert_eq!(parse_duration_ms("90"), Some(90_000));
        assert_eq!(parse_duration_ms("250ms"), Some(250));
        assert_eq!(parse_duration_ms("0"), None);
        assert_eq!(parse_duration_ms("x"), None);
    }

    #[test]
    fn lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::resolve(Some(dir.path()));
        let t = create(&paths, 1000, 10_000).unwrap();
        let raw = std::fs::read_to_string(dir.path().join(SETUP_FILE)).unwrap();
        assert!(!raw.contains(&t.token), "only hashes are stored");
        assert_eq!(fsutil::mode_of(&dir.path().join(SETUP_FILE)), Some(0o600));
        let never = |_| false;
        let pending = |_: &str| false;
        assert_eq!(
            use_for_device(&paths, &t.token, "dev-a", never, pending, 10_001).unwrap(),
            SetupVerdict::Usable { first_use: true }
        );
        assert_eq!(
            use_for_device(&paths, &t.token, "dev-a", never, pending, 10_002).unwrap(),
            SetupVerdict::Usable { first_use: false }
        );
        assert!(matches!(
            use_for_device(&paths, &t.token, "dev-b", never, pending, 10_002).unwrap(),
            SetupVerdict::Refused(_)
        ));
        assert!(matches!(
            use_for_device(&paths, &t.token, "dev-a", never, pending, 11_000).unwrap(),
            SetupVerdict::Refused(Refusal::Expired)
        ));
        assert!(matches!(
            use_for_device(&paths, &t.token, "dev-a", |_| true, pending, 11_000).unwrap(),
            SetupVerdict::Usable { .. }
        ));
        void_for_device(&paths, "dev-a", "paired", 10_500).unwrap();
        assert_eq!(
            use_for_device(&paths, &t.token, "dev-a", never, pending, 10_600).unwrap(),
            SetupVerdict::PairedAlias
        );
        assert!(matches!(
            use_for_device(&paths, &t.token, "dev-b", never, pending, 10_600).unwrap(),
            SetupVerdict::Refused(_)
        ));
        let r = create(&paths, 1000, 20_000).unwrap();
        use_for_device(&paths, &r.token, "dev-c", never, pending, 20_001).unwrap();
        note_request(&paths, &r.token, "req-c").unwrap();
        void_for_request(&paths, "req-c", "rejected", 20_002).unwrap();
        assert!(matches!(
            use_for_device(&paths, &r.token, "dev-c", never, pending, 20_003).unwrap(),
            SetupVerdict::Refused(Refusal::Revoked)
        ));
        assert!(matches!(
            use_for_device(&paths, "nope", "dev-a", never, pending, 10_600).unwrap(),
            SetupVerdict::Refused(Refusal::Unknown)
        ));
        // A request rejected in another process is noticed from the files at
        // the device's next connect, before any watcher runs.
        let q = create(&paths, 1000, 30_000).unwrap();
        use_for_device(&paths, &q.token, "dev-d", never, pending, 30_001).unwrap();
        note_request(&paths, &q.token, "req-d").unwrap();
        assert_eq!(
            use_for_device(&paths, &q.token, "dev-d", never, pending, 30_002).unwrap(),
            SetupVerdict::Usable { first_use: false },
            "still pending"
        );
        let gone = |rid: &str| rid == "req-d";
        assert_eq!(
            use_for_device(&paths, &q.token, "dev-d", never, gone, 30_003).unwrap(),
            SetupVerdict::Refused(Refusal::Revoked)
        );
        assert_eq!(
            use_for_device(&paths, &q.token, "dev-d", never, pending, 30_004).unwrap(),
            SetupVerdict::Refused(Refusal::Revoked),
            "and it stays void"
        );
        let decoded = decode(&encode("ws://h:1", &t.token)).unwrap();
        assert_eq!(decoded.token.as_deref(), Some(t.token.as_str()));
    }
}
