//! Per-address limits: failed handshakes (and the lockout they cause),
//! sockets still in their handshake, open sockets, outstanding pending
//! requests. Plain data with the clock passed in; [`super::hub::Hub`] owns the
//! one instance and its lock.
//!
//! * A failed handshake (bad credentials, bad signature, junk frames) counts
//!   against its address; [`Limits::max_failures`] of them within a minute lock
//!   the address out until the oldest leaves the window. While locked out a
//!   connection is still answered (`AUTH_RATE_LIMITED` with the wait), up to
//!   [`FLOOD_FACTOR`] × the budget per lockout; beyond that sockets are dropped
//!   unread, which costs nothing.
//! * A socket that never sends `connect` is no failed authentication: it times
//!   out and meanwhile holds one of its address's handshaking slots.
//! * 127.0.0.1 and ::1 (the owner's own CLI and nodes) are exempt from both, as
//!   OpenClaw exempts loopback from its rate limiter; other addresses of
//!   127.0.0.0/8 are not, so a test can stand in for a LAN host with one.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use crate::gateway::GatewayConfig;

/// Failed handshakes are counted over this window.
pub(super) const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Above this many addresses, recording a failure first forgets idle ones.
const MAX_TRACKED_ADDRS: usize = 10_000;
/// A locked-out address is answered this many times its budget, then dropped unread.
pub(super) const FLOOD_FACTOR: usize = 10;

/// A lockout that just began (logged once per address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LockoutStarted {
    pub(super) failures: usize,
    pub(super) retry_after_ms: u64,
}

/// What to do with a socket just accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admit {
    /// Serve it (a locked-out address still gets its answer).
    Serve,
    /// Drop it unread: far past the lockout budget.
    Drop,
}

#[derive(Default)]
struct Failures {
    /// Recent failed handshakes, oldest first (at most the budget).
    recent: VecDeque<Instant>,
    /// Locked out until then.
    locked_until: Option<Instant>,
    /// Connections admitted while locked out (answered `AUTH_RATE_LIMITED`).
    answered_locked: usize,
}

pub(super) struct Limits {
    max_failures: usize,
    max_sockets: usize,
    max_handshaking: usize,
    max_pending: usize,
    exempt_loopback: bool,
    failures: HashMap<IpAddr, Failures>,
    /// Pending requests each address created (request ids).
    pending_by_ip: HashMap<IpAddr, HashSet<String>>,
    /// Open sockets per address.
    sockets_by_ip: HashMap<IpAddr, usize>,
    /// Sockets per address that have not sent their first request.
    handshaking_by_ip: HashMap<IpAddr, usize>,
}

impl Limits {
    pub(super) fn new(cfg: &GatewayConfig) -> Self {
        Limits {
            max_failures: (cfg.max_failed_handshakes_per_minute as usize).max(1),
            max_sockets: cfg.max_conns_per_addr,
            max_handshaking: cfg.max_handshaking_per_addr,
            max_pending: cfg.max_pending_per_addr,
            exempt_loopback: cfg.exempt_loopback,
            failures: HashMap::new(),
            pending_by_ip: HashMap::new(),
            sockets_by_ip: HashMap::new(),
            handshaking_by_ip: HashMap::new(),
        }
    }

    /// The failed-handshake budget per address per minute.
    pub(super) fn max_failures(&self) -> usize {
        self.max_failures
    }

    /// Whether `ip` is the owner's own machine, exempt from lockout.
    pub(super) fn exempt(&self, ip: IpAddr) -> bool {
        self.exempt_loopback && is_own_loopback(ip)
    }

    /// Counts one failed handshake of `ip`; says so when this starts a lockout.
    pub(super) fn record_failure(&mut self, ip: IpAddr, now: Instant) -> Option<LockoutStarted> {
        if self.exempt(ip) {
            return None;
        }
        if self.failures.len() > MAX_TRACKED_ADDRS {
            self.forget_idle(now);
        }
        let max = self.max_failures;
        let f = self.failures.entry(ip).or_default();
        expire(f, now);
        if f.locked_until.is_some() {
            return None;
        }
        f.recent.push_back(now);
        while f.recent.len() > max {
            f.recent.pop_front();
        }
        if f.recent.len() < max {
            return None;
        }
        let until = f.recent.front().copied().unwrap_or(now) + FAILURE_WINDOW;
        f.locked_until = Some(until);
        f.answered_locked = 0;
        Some(LockoutStarted {
            failures: f.recent.len(),
            retry_after_ms: ms_until(until, now),
        })
    }

    /// Milliseconds until `ip` may try again, when it is locked out.
    pub(super) fn locked_out(&mut self, ip: IpAddr, now: Instant) -> Option<u64> {
        let f = self.failures.get_mut(&ip)?;
        expire(f, now);
        f.locked_until.map(|u| ms_until(u, now))
    }

    /// Whether a socket just accepted from `ip` is served or dropped unread.
    pub(super) fn admit(&mut self, ip: IpAddr, now: Instant) -> Admit {
        let budget = FLOOD_FACTOR * self.max_failures;
        let Some(f) = self.failures.get_mut(&ip) else {
            return Admit::Serve;
        };
        expire(f, now);
        if f.locked_until.is_none() {
            return Admit::Serve;
        }
        if f.answered_locked >= budget {
            return Admit::Drop;
        }
        f.answered_locked += 1;
        Admit::Serve
    }

    /// Takes one of `ip`'s socket slots and one of its handshaking slots;
    /// `false` (nothing taken) when either is exhausted.
    pub(super) fn open_socket(&mut self, ip: IpAddr) -> bool {
        if self.sockets_by_ip.get(&ip).copied().unwrap_or(0) >= self.max_sockets {
            return false;
        }
        let exempt = self.exempt(ip);
        let h = self.handshaking_by_ip.entry(ip).or_insert(0);
        if !exempt && *h >= self.max_handshaking {
            if *h == 0 {
                self.handshaking_by_ip.remove(&ip);
            }
            return false;
        }
        *h += 1;
        *self.sockets_by_ip.entry(ip).or_insert(0) += 1;
        true
    }

    /// The socket sent its first request (or ended): its handshaking slot is free.
    pub(super) fn handshake_over(&mut self, ip: IpAddr) {
        decrement(&mut self.handshaking_by_ip, ip);
    }

    /// Gives back the socket slot taken by [`Limits::open_socket`].
    pub(super) fn close_socket(&mut self, ip: IpAddr) {
        decrement(&mut self.sockets_by_ip, ip);
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

    /// Forgets lockouts and failures that are over, and requests no longer pending.
    pub(super) fn prune(&mut self, now: Instant, is_pending: impl Fn(&str) -> bool) {
        self.forget_idle(now);
        self.pending_by_ip.retain(|_, ids| {
            ids.retain(|id| is_pending(id));
            !ids.is_empty()
        });
    }

    fn forget_idle(&mut self, now: Instant) {
        self.failures.retain(|_, f| {
            expire(f, now);
            f.locked_until.is_some() || !f.recent.is_empty()
        });
    }
}

/// Drops failures older than the window and a lockout that is over.
fn expire(f: &mut Failures, now: Instant) {
    if f.locked_until.is_some_and(|u| u <= now) {
        f.locked_until = None;
        f.answered_locked = 0;
        f.recent.clear();
    }
    let cutoff = now.checked_sub(FAILURE_WINDOW);
    while f
        .recent
        .front()
        .is_some_and(|t| cutoff.is_some_and(|c| *t < c))
    {
        f.recent.pop_front();
    }
}

fn ms_until(until: Instant, now: Instant) -> u64 {
    until.saturating_duration_since(now).as_millis() as u64 + 1
}

fn decrement(map: &mut HashMap<IpAddr, usize>, ip: IpAddr) {
    if let Some(n) = map.get_mut(&ip) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(&ip);
        }
    }
}

/// 127.0.0.1 or ::1: what the owner's own clients connect from.
fn is_own_loopback(ip: IpAddr) -> bool {
    ip == IpAddr::V4(Ipv4Addr::LOCALHOST) || ip == IpAddr::V6(Ipv6Addr::LOCALHOST)
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
        cfg.max_conns_per_addr = 3;
        cfg.max_handshaking_per_addr = 2;
        cfg.max_pending_per_addr = 1;
        Limits::new(&cfg)
    }

    const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const LOOP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const LOOP2: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn lockout_starts_at_the_budget_once_and_ends_with_the_window() {
        let mut l = limits();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(l.record_failure(IP, t0), None);
        assert_eq!(l.record_failure(IP, t0 + ms(1)), None);
        assert_eq!(l.locked_out(IP, t0 + ms(1)), None);
        let started = l.record_failure(IP, t0 + ms(2)).unwrap();
        assert_eq!(started.failures, 3);
        assert_eq!(l.locked_out(IP, t0 + Duration::from_secs(1)), Some(59_001));
        // Further failures while locked out start nothing new (one log line).
        assert_eq!(l.record_failure(IP, t0 + ms(3)), None);
        // Answered FLOOD_FACTOR × budget times, then dropped unread.
        for _ in 0..FLOOD_FACTOR * 3 {
            assert_eq!(l.admit(IP, t0 + ms(4)), Admit::Serve);
        }
        assert_eq!(l.admit(IP, t0 + ms(5)), Admit::Drop);
        let after = t0 + FAILURE_WINDOW + Duration::from_secs(1);
        assert_eq!(l.locked_out(IP, after), None);
        assert_eq!(l.admit(IP, after), Admit::Serve);
        assert_eq!(l.record_failure(IP, after), None, "a fresh budget");
    }

    #[test]
    fn the_owners_loopback_is_exempt_other_loopback_addresses_are_not() {
        let mut l = limits();
        let t0 = Instant::now();
        for i in 0..100 {
            assert_eq!(l.record_failure(LOOP, t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(l.locked_out(LOOP, t0), None);
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        for _ in 0..5 {
            l.record_failure(v6, t0);
        }
        assert_eq!(l.locked_out(v6, t0), None);
        for _ in 0..3 {
            l.record_failure(LOOP2, t0);
        }
        assert!(l.locked_out(LOOP2, t0).is_some());
    }

    #[test]
    fn handshaking_sockets_and_pending_per_address() {
        let mut l = limits();
        assert!(l.open_socket(IP) && l.open_socket(IP));
        assert!(!l.open_socket(IP), "two still in their handshake");
        l.handshake_over(IP);
        assert!(l.open_socket(IP), "a slot freed by a socket that spoke");
        l.handshake_over(IP);
        assert!(!l.open_socket(IP), "three sockets in all");
        l.close_socket(IP);
        assert!(l.open_socket(IP));
        // The owner's loopback has no handshaking limit, only the socket limit.
        assert!(l.open_socket(LOOP) && l.open_socket(LOOP) && l.open_socket(LOOP));
        assert!(!l.open_socket(LOOP));
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
