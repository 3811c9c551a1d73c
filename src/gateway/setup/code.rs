//! The setup code formats: 2026.2.26's `{url, token}` and 2026.9's
//! `{url, bootstrapToken, expiresAtMs[, tlsFingerprint]}`, encoded and decoded.

use super::*;

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
            let fp = crate::gateway::tls::parse_fingerprint(f.as_str()?)?;
            Some(crate::gateway::tls::fingerprint_hex(&fp))
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
}
