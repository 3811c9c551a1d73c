//! The gateway URL a setup code carries: normalising it, the host's LAN
//! address, and which URL to put in a code (with its cleartext warning).

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
}
