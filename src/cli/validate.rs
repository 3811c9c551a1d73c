//! Checks of flag values that clap cannot express: durations with a
//! maximum, gateway URLs. Each failure is a usage error (exit 2) that names
//! the value and what would be accepted.

use super::Failure;
use crate::gateway::setup;

/// Longest a setup code may live: it is a bearer secret until used.
pub const MAX_SETUP_TTL_MS: i64 = 24 * 3_600_000;

/// `--ttl` of a setup code: `90s`, `10m`, `1h` …, at most [`MAX_SETUP_TTL_MS`].
pub fn setup_ttl(raw: &str) -> Result<i64, Failure> {
    let ttl = setup::parse_duration_ms(raw).ok_or_else(|| {
        Failure::usage(format!(
            "invalid --ttl: {} (use e.g. 90s, 10m, 1h; at most 24h)",
            crate::sanitize::for_terminal(raw)
        ))
    })?;
    if ttl > MAX_SETUP_TTL_MS {
        return Err(Failure::usage(format!(
            "--ttl {} is too long: a setup code may live at most 24h (it admits a device until used)",
            crate::sanitize::for_terminal(raw.trim())
        )));
    }
    Ok(ttl)
}

/// A gateway URL given on the command line: `ws://` or `wss://` (or
/// `http(s)://`, or no scheme), a host and an optional port. A path, query
/// or user info is dropped, as OpenClaw does.
pub fn gateway_url(raw: &str) -> Result<(), Failure> {
    let bad = |why: &str| {
        Failure::usage(format!(
            "invalid --url {}: {why} (expected ws://HOST:PORT or wss://HOST:PORT)",
            crate::sanitize::for_terminal(raw.trim())
        ))
    };
    let s = raw.trim();
    if let Some((scheme, _)) = s.split_once("://") {
        if !matches!(
            scheme.to_ascii_lowercase().as_str(),
            "ws" | "wss" | "http" | "https"
        ) {
            return Err(bad("the scheme must be ws or wss"));
        }
    }
    let Some(url) = setup::normalize_url(s) else {
        return Err(bad("not a URL"));
    };
    let authority = url.split_once("://").map_or(url.as_str(), |x| x.1);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((h, after)) = v6.split_once(']') else {
            return Err(bad("unclosed [ in the host"));
        };
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    if !host_ok {
        return Err(bad("no valid host name or address"));
    }
    if let Some(p) = port {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => {}
            _ => return Err(bad("the port must be 1-65535")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_has_a_maximum() {
        assert_eq!(setup_ttl("10m").unwrap(), 600_000);
        assert_eq!(setup_ttl("24h").unwrap(), MAX_SETUP_TTL_MS);
        let e = setup_ttl("100d").err().unwrap();
        assert_eq!(e.code, 2);
        assert!(e.message.contains("at most 24h"), "{}", e.message);
        assert_eq!(setup_ttl("soon").err().unwrap().code, 2);
    }

    #[test]
    fn urls() {
        for ok in [
            "ws://192.168.1.2:18789",
            "wss://gw.example.com",
            "gw.local:18789",
            "ws://[fe80::1]:18789/",
            "https://gw.example.com:443",
            "https://gw.example.ts.net/some/path",
        ] {
            assert!(gateway_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://x",
            "ws://",
            "ws://:80",
            "ws://host:0",
            "ws://host:99999",
            "ws://ho st",
            "ws://h*st",
            "",
        ] {
            assert_eq!(gateway_url(bad).err().map(|e| e.code), Some(2), "{bad}");
        }
    }
}
