//! Gateway addresses: `ws[s]://HOST[:PORT][/path]`, and the rule for plain
//! `ws://` that OpenClaw's clients apply (spec openclaw-2026.9 §12.2):
//! cleartext only to loopback, private-range and link-local literals,
//! `.local` names and `10.0.2.2`; anything else needs `wss://`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A parsed gateway URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayUrl {
    pub tls: bool,
    /// Host without brackets (an IPv6 literal is `::1`, not `[::1]`).
    pub host: String,
    pub port: u16,
    /// `/` unless the URL named one.
    pub path: String,
}

impl GatewayUrl {
    /// Parses `ws://…` or `wss://…`. No user info, query or fragment.
    pub fn parse(input: &str) -> Result<GatewayUrl, String> {
        let s = input.trim();
        let bad = |why: &str| {
            format!(
                "invalid gateway URL {:?}: {why}",
                crate::sanitize::for_terminal(s)
            )
        };
        if s.len() > 2048 {
            return Err(bad("too long"));
        }
        let lower = s.to_ascii_lowercase();
        let (tls, rest) = if lower.starts_with("wss://") {
            (true, &s[6..])
        } else if lower.starts_with("ws://") {
            (false, &s[5..])
        } else {
            return Err(bad("expected ws://HOST:PORT or wss://HOST:PORT"));
        };
        if rest.contains(['?', '#', '@'])
            || rest.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad("no user info, query or fragment allowed"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = if let Some(r) = authority.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return Err(bad("unclosed [ in the host"));
            };
            let host = &r[..end];
            let after = &r[end + 1..];
            host.parse::<Ipv6Addr>()
                .map_err(|_| bad("not an IPv6 address in [ ]"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("junk after ]")),
            };
            (host.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if !host.contains(':')
            && !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        {
            return Err(bad("the host may hold letters, digits, '.', '-' only"));
        }
        let port = match port {
            None => {
                if tls {
                    443
                } else {
                    80
                }
            }
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(bad("the port must be 1-65535")),
            },
        };
        Ok(GatewayUrl {
            tls,
            host: host.to_ascii_lowercase(),
            port,
            path: path.to_string(),
        })
    }

    /// `host:port`, with brackets around an IPv6 literal.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL as written back: `wss://host:port` (path only if not `/`).
    pub fn display(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        let path = if self.path == "/" { "" } else { &self.path };
        format!("{scheme}://{}{path}", self.authority())
    }

    /// The URL to request (always with its path).
    pub fn request_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}{}", self.authority(), self.path)
    }

    /// A file-name-safe key for what clawpair keeps about this gateway
    /// (pin, device token): scheme, host and port.
    pub fn key(&self) -> String {
        let host: String = self
            .host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!(
            "{}-{host}-{}",
            if self.tls { "wss" } else { "ws" },
            self.port
        )
    }

    /// Whether plain `ws://` to this host is allowed (OpenClaw's rule).
    pub fn cleartext_allowed(&self) -> bool {
        cleartext_host_allowed(&self.host)
    }

    /// Refuses plain `ws://` to a host that needs `wss://`.
    pub fn check_policy(&self) -> Result<(), String> {
        if self.tls || self.cleartext_allowed() {
            return Ok(());
        }
        Err(format!(
            "refusing plain ws:// to {}: tokens would cross the network in clear text. \
             Use wss:// (gateway.tls.enabled, or a TLS proxy such as tailscale serve); \
             ws:// is only for loopback, private-range addresses and .local names",
            crate::sanitize::for_terminal(&self.host)
        ))
    }

    /// True for loopback hosts (the gateway is on this machine).
    pub fn is_loopback(&self) -> bool {
        match self.host.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => self.host == "localhost" || self.host.ends_with(".localhost"),
        }
    }
}

fn v4_private(ip: Ipv4Addr) -> bool {
    ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip == Ipv4Addr::new(10, 0, 2, 2)
}

fn v6_private(ip: Ipv6Addr) -> bool {
    if ip.is_loopback() {
        return true;
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_private(v4);
    }
    let first = ip.segments()[0];
    // fc00::/7 unique local, fe80::/10 link-local.
    (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
}

/// Loopback, RFC 1918, link-local, unique-local, `localhost`, `*.local`, `10.0.2.2`.
pub fn cleartext_host_allowed(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    match h.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4_private(v4),
        Ok(IpAddr::V6(v6)) => v6_private(v6),
        Err(_) => h == "localhost" || h.ends_with(".localhost") || h.ends_with(".local"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let u = GatewayUrl::parse("wss://GW.example.net:8443").unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port),
            (true, "gw.example.net", 8443)
        );
        assert_eq!(u.display(), "wss://gw.example.net:8443");
        assert_eq!(u.request_url(), "wss://gw.example.net:8443/");
        let u = GatewayUrl::parse("ws://[::1]:18789/x").unwrap();
        assert_eq!((u.host.as_str(), u.path.as_str()), ("::1", "/x"));
        assert_eq!(u.display(), "ws://[::1]:18789/x");
        assert_eq!(u.key(), "ws-__1-18789");
        assert_eq!(GatewayUrl::parse("wss://h").unwrap().port, 443);
        for bad in [
            "http://h:1",
            "ws://",
            "ws://h:0",
            "ws://h:99999",
            "ws://u@h:1",
            "ws://h:1?x",
            "ws://[zz]:1",
            "ws://a b:1",
        ] {
            assert!(GatewayUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cleartext_rule() {
        for ok in [
            "127.0.0.1",
            "::1",
            "localhost",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.9",
            "169.254.1.1",
            "fd00::1",
            "fe80::1",
            "box.local",
            "10.0.2.2",
        ] {
            assert!(cleartext_host_allowed(ok), "{ok}");
        }
        for no in [
            "8.8.8.8",
            "gw.example.net",
            "172.32.0.1",
            "2001:db8::1",
            "local",
            "evil.local.example.com",
        ] {
            assert!(!cleartext_host_allowed(no), "{no}");
        }
        assert!(GatewayUrl::parse("ws://8.8.8.8:1")
            .unwrap()
            .check_policy()
            .is_err());
        assert!(GatewayUrl::parse("wss://8.8.8.8:1")
            .unwrap()
            .check_policy()
            .is_ok());
    }
}
