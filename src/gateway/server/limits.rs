//! Per-address limits: failed handshakes, outstanding pending requests, sockets.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::hub::{lock, Shared};

pub(super) const FAILURE_WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(super) struct Limits {
    pub(super) failures: HashMap<IpAddr, VecDeque<Instant>>,
    pub(super) pending_by_ip: HashMap<IpAddr, HashSet<String>>,
    pub(super) sockets_by_ip: HashMap<IpAddr, usize>,
}

impl Shared {
    pub(super) fn record_failure(&self, ip: IpAddr) {
        let mut l = lock(&self.limits);
        if l.failures.len() > 10_000 {
            let cutoff = Instant::now() - FAILURE_WINDOW;
            l.failures
                .retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
        }
        let q = l.failures.entry(ip).or_default();
        q.push_back(Instant::now());
        while q.len() > 2 * self.cfg.max_failed_handshakes_per_minute as usize + 1 {
            q.pop_front();
        }
    }

    /// Milliseconds until `ip` may try again, when it is locked out.
    pub(super) fn locked_out(&self, ip: IpAddr) -> Option<u64> {
        let max = self.cfg.max_failed_handshakes_per_minute as usize;
        let mut l = lock(&self.limits);
        let q = l.failures.get_mut(&ip)?;
        let cutoff = Instant::now() - FAILURE_WINDOW;
        while q.front().is_some_and(|t| *t < cutoff) {
            q.pop_front();
        }
        if q.len() >= max {
            let oldest = *q.front()?;
            Some(
                (oldest + FAILURE_WINDOW)
                    .saturating_duration_since(Instant::now())
                    .as_millis() as u64
                    + 1,
            )
        } else {
            None
        }
    }
}

pub(super) fn failures_of(shared: &Shared, ip: IpAddr) -> usize {
    lock(&shared.limits)
        .failures
        .get(&ip)
        .map_or(0, |q| q.len())
}

pub(super) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

pub(super) fn prune_limits(shared: &Shared) {
    let cutoff = Instant::now() - FAILURE_WINDOW;
    let mut l = lock(&shared.limits);
    l.failures
        .retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
    let known = lock(&shared.known_pending);
    l.pending_by_ip.retain(|_, ids| {
        ids.retain(|id| known.contains_key(id));
        !ids.is_empty()
    });
}
