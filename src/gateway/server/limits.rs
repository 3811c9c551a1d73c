//! Per-address limits: failed handshakes (and the lockout they cause),
//! outstanding pending requests, open sockets. Plain data with the clock passed
//! in; [`super::hub::Hub`] owns the one instance and its lock.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::gateway::GatewayConfig;

/// Failed handshakes are counted over this window.
pub(super) const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Above this many addresses, recording a failure first forgets idle ones.
const MAX_TRACKED_ADDRS: usize = 10_000;

pub(super) struct Limits {
    max_failures: usize,
    max_sockets: usize,
    max_pending: usize,
    /// Recent failed handshakes per address, oldest first (at most `2 × max + 1`).
    failures: HashMap<IpAddr, VecDeque<Instant>>,
    /// Pending requests each address created (request ids).
    pending_by_ip: HashMap<IpAddr, HashSet<String>>,
    /// Open sockets per address.
    sockets_by_ip: HashMap<IpAddr, usize>,
}

impl Limits {
    pub(super) fn new(cfg: &GatewayConfig) -> Self {
        Limits {
            max_failures: cfg.max_failed_handshakes_per_minute as usize,
            max_sockets: cfg.max_conns_per_addr,
            max_pending: cfg.max_pending_per_addr,
            failures: HashMap::new(),
            pending_by_ip: HashMap::new(),
            sockets_by_ip: HashMap::new(),
        }
    }

    /// Counts one failed handshake of `ip`.
    pub(super) fn record_failure(&mut self, ip: IpAddr, now: Instant) {
        if self.failures.len() > MAX_TRACKED_ADDRS {
            let cutoff = now - FAILURE_WINDOW;
            self.failures
                .retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
        }
        let q = self.failures.entry(ip).or_default();
        q.push_back(now);
        while q.len() > 2 * self.max_failures + 1 {
            q.pop_front();
        }
    }

    /// Milliseconds until `ip` may try again, when it is locked out.
    pub(super) fn locked_out(&mut self, ip: IpAddr, now: Instant) -> Option<u64> {
        let q = self.failures.get_mut(&ip)?;
        let cutoff = now - FAILURE_WINDOW;
        while q.front().is_some_and(|t| *t < cutoff) {
            q.pop_front();
        }
        if q.len() >= self.max_failures {
            let oldest = *q.front()?;
            Some(
                (oldest + FAILURE_WINDOW)
                    .saturating_duration_since(now)
                    .as_millis() as u64
                    + 1,
            )
        } else {
            None
        }
    }

    /// Failed handshakes of `ip` still remembered.
    pub(super) fn failures(&self, ip: IpAddr) -> usize {
        self.failures.get(&ip).map_or(0, |q| q.len())
    }

    /// Locked out and far over its failure budget: dropped at accept, unread.
    pub(super) fn far_over_budget(&mut self, ip: IpAddr, now: Instant) -> bool {
        self.locked_out(ip, now).is_some() && self.failures(ip) >= 2 * self.max_failures
    }

    /// Takes one of `ip`'s socket slots; `false` when it has none left.
    pub(super) fn open_socket(&mut self, ip: IpAddr) -> bool {
        let n = self.sockets_by_ip.entry(ip).or_insert(0);
        if *n >= self.max_sockets {
            return false;
        }
        *n += 1;
        true
    }

    /// Gives back a slot taken by [`Limits::open_socket`].
    pub(super) fn close_socket(&mut self, ip: IpAddr) {
        if let Some(n) = self.sockets_by_ip.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.sockets_by_ip.remove(&ip);
            }
        }
    }

    /// Whether `ip` may create another pending request; only requests still
    /// pending (`is_pending`) count.
    pub(super) fn may_create_pending(&self, ip: IpAddr, is_pending: impl Fn(&str) -> bool) -> bool {
        self.pending_by_ip
            .get(&ip)
            .map_or(0, |ids| ids.iter().filter(|i| is_pending(i)).count())
            < self.max_pending
    }

    /// Notes that `ip` created (or was told of) the pending request `request_id`.
    pub(super) fn note_pending(&mut self, ip: IpAddr, request_id: String) {
        self.pending_by_ip.entry(ip).or_default().insert(request_id);
    }

    /// Forgets failures older than the window and requests no longer pending.
    pub(super) fn prune(&mut self, now: Instant, is_pending: impl Fn(&str) -> bool) {
        let cutoff = now - FAILURE_WINDOW;
        self.failures
            .retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
        self.pending_by_ip.retain(|_, ids| {
            ids.retain(|id| is_pending(id));
            !ids.is_empty()
        });
    }
}

/// The address limits are kept for: IPv4-mapped IPv6 addresses count as IPv4.
pub(super) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        let mut cfg = GatewayConfig::new("127.0.0.1", 0, "t");
        cfg.max_failed_handshakes_per_minute = 3;
        cfg.max_conns_per_addr = 2;
        cfg.max_pending_per_addr = 1;
        Limits::new(&cfg)
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    #[test]
    fn lockout_starts_at_the_budget_and_ends_with_the_window() {
        let mut l = limits();
        let t0 = Instant::now();
        for i in 0..2 {
            l.record_failure(IP, t0 + Duration::from_millis(i));
        }
        assert_eq!(l.locked_out(IP, t0), None);
        l.record_failure(IP, t0 + Duration::from_millis(2));
        assert_eq!(l.locked_out(IP, t0 + Duration::from_secs(1)), Some(59_001));
        assert!(!l.far_over_budget(IP, t0));
        for i in 3..10 {
            l.record_failure(IP, t0 + Duration::from_millis(i));
        }
        assert_eq!(l.failures(IP), 7, "at most 2 × max + 1 remembered");
        assert!(l.far_over_budget(IP, t0 + Duration::from_secs(1)));
        assert_eq!(
            l.locked_out(IP, t0 + FAILURE_WINDOW + Duration::from_secs(1)),
            None
        );
    }

    #[test]
    fn sockets_and_pending_per_address() {
        let mut l = limits();
        assert!(l.open_socket(IP) && l.open_socket(IP));
        assert!(!l.open_socket(IP));
        l.close_socket(IP);
        assert!(l.open_socket(IP));
        assert!(l.may_create_pending(IP, |_| true));
        l.note_pending(IP, "r1".into());
        assert!(!l.may_create_pending(IP, |_| true));
        assert!(
            l.may_create_pending(IP, |_| false),
            "resolved requests do not count"
        );
        l.prune(Instant::now(), |_| false);
        assert!(l.pending_by_ip.is_empty());
    }

    #[test]
    fn mapped_ipv6_counts_as_ipv4() {
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(canonical_ip(mapped), IP);
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(canonical_ip(v6), v6);
    }
}
