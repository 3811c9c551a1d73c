//! What the owner typed → which device or request: the exact id, else an
//! unambiguous prefix of the id (colons of a fingerprint ignored), else a
//! display name (case-insensitive). An unknown or ambiguous value is named in
//! the error together with the closest candidates. Pure: works on a
//! [`DeviceState`] read under the lock by the caller.

use super::model::short_fingerprint;
use super::state::{UNKNOWN_DEVICE, UNKNOWN_DEVICE_ROLE, UNKNOWN_REQUEST};
use super::{DeviceState, PairedDevice, PendingRequest};
use crate::error::StoreError;
use crate::sanitize::for_terminal;

/// How a value matched, so the CLI can say what it picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// The full id: nothing to explain.
    Exact,
    Prefix,
    Name,
    /// A pending request found by its device (id, prefix or name).
    Device,
}

/// Something the owner can point at.
trait Candidate {
    fn id(&self) -> &str;
    fn device_id(&self) -> &str;
    fn name(&self) -> Option<&str>;
}

impl Candidate for PairedDevice {
    fn id(&self) -> &str {
        &self.device_id
    }
    fn device_id(&self) -> &str {
        &self.device_id
    }
    fn name(&self) -> Option<&str> {
        self.display_name.as_deref()
    }
}

impl Candidate for PendingRequest {
    fn id(&self) -> &str {
        &self.request_id
    }
    fn device_id(&self) -> &str {
        &self.device_id
    }
    fn name(&self) -> Option<&str> {
        self.display_name.as_deref()
    }
}

/// `studio-mac (key 9aee:8cff:109f:16dc)`, for messages.
pub fn label(name: Option<&str>, device_id: &str) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => format!("{} (key {})", for_terminal(n), short_fingerprint(device_id)),
        None => format!("key {}", short_fingerprint(device_id)),
    }
}

fn norm_id(s: &str) -> String {
    s.trim().to_lowercase().replace(':', "")
}

/// The candidates `given` points at, and how.
fn matches<'a, T: Candidate>(all: &'a [T], given: &str, by_device: bool) -> (Vec<&'a T>, How) {
    let g = given.trim();
    if let Some(x) = all.iter().find(|c| c.id() == g) {
        return (vec![x], How::Exact);
    }
    let p = norm_id(g);
    if !p.is_empty() {
        let hits: Vec<&T> = all
            .iter()
            .filter(|c| c.id().to_lowercase().starts_with(&p))
            .collect();
        if !hits.is_empty() {
            return (hits, How::Prefix);
        }
    }
    if by_device && !p.is_empty() {
        let hits: Vec<&T> = all
            .iter()
            .filter(|c| c.device_id().to_lowercase().starts_with(&p))
            .collect();
        if !hits.is_empty() {
            return (hits, How::Device);
        }
    }
    let lower = g.to_lowercase();
    let hits: Vec<&T> = all
        .iter()
        .filter(|c| c.name().is_some_and(|n| n.trim().to_lowercase() == lower))
        .collect();
    (hits, if by_device { How::Device } else { How::Name })
}

/// Edit distance, for "closest" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Up to three candidates nearest to `given`, by name or id.
fn closest<T: Candidate>(all: &[T], given: &str) -> Vec<String> {
    let g = given.trim().to_lowercase();
    let gid = norm_id(given);
    let mut scored: Vec<(usize, &T)> = all
        .iter()
        .map(|c| {
            let by_name = c
                .name()
                .map(|n| distance(&g, &n.trim().to_lowercase()))
                .unwrap_or(usize::MAX);
            let id = c.id().to_lowercase();
            let common = id
                .chars()
                .zip(gid.chars())
                .take_while(|(a, b)| a == b)
                .count();
            let by_id = gid.chars().count().saturating_sub(common) * 2;
            (by_name.min(by_id), c)
        })
        .collect();
    scored.sort_by_key(|(d, _)| *d);
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| describe(c))
        .collect()
}

fn describe<T: Candidate>(c: &T) -> String {
    if c.id() == c.device_id() {
        label(c.name(), c.device_id())
    } else {
        let short: String = c.id().chars().take(8).collect();
        format!(
            "request {}… of {}",
            for_terminal(&short),
            label(c.name(), c.device_id())
        )
    }
}

fn pick<'a, T: Candidate>(
    all: &'a [T],
    given: &str,
    by_device: bool,
    unknown: &str,
    what: &str,
) -> Result<(&'a T, How), StoreError> {
    let shown = for_terminal(given.trim());
    let (hits, how) = matches(all, given, by_device);
    match hits.as_slice() {
        [one] => Ok((one, how)),
        [] => {
            let near = closest(all, given);
            Err(StoreError::NotFound(if near.is_empty() {
                format!("{unknown}: no {what} matches \"{shown}\" (there are none)")
            } else {
                format!(
                    "{unknown}: no {what} matches \"{shown}\"; closest: {}",
                    near.join(", ")
                )
            }))
        }
        many => Err(StoreError::NotFound(format!(
            "{unknown}: \"{shown}\" matches {} {what}s: {}; give more of the id",
            many.len(),
            many.iter()
                .take(5)
                .map(|c| describe(*c))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A paired device by id, id prefix, fingerprint or display name.
pub fn paired<'a>(st: &'a DeviceState, given: &str) -> Result<(&'a PairedDevice, How), StoreError> {
    pick(&st.paired, given, false, UNKNOWN_DEVICE, "paired device")
}

/// The device whose token `rotate`/`revoke` change (OpenClaw's message for
/// an unknown one is `unknown deviceId/role`).
pub fn token_owner<'a>(
    st: &'a DeviceState,
    given: &str,
) -> Result<(&'a PairedDevice, How), StoreError> {
    pick(
        &st.paired,
        given,
        false,
        UNKNOWN_DEVICE_ROLE,
        "paired device",
    )
}

/// A pending request by request id or its prefix, else by its device (id,
/// prefix, fingerprint or display name).
pub fn pending<'a>(
    st: &'a DeviceState,
    given: &str,
) -> Result<(&'a PendingRequest, How), StoreError> {
    let (hits, _) = matches(&st.pending, given, false);
    if !hits.is_empty() {
        return pick(
            &st.pending,
            given,
            false,
            UNKNOWN_REQUEST,
            "pending request",
        );
    }
    pick(&st.pending, given, true, UNKNOWN_REQUEST, "pending request")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::state::RequestInput;

    fn state() -> DeviceState {
        let mut st = DeviceState::default();
        for (n, (id, name)) in [
            ("9aee8cff109f16dc00", "studio-mac"),
            ("9a01000000000000ff", "kitchen-pi"),
            ("77aa88bb99cc00dd00", "phone"),
        ]
        .into_iter()
        .enumerate()
        {
            let r = st.request(
                RequestInput {
                    device_id: id.into(),
                    public_key: "k".into(),
                    display_name: Some(name.into()),
                    ..RequestInput::default()
                },
                format!("req-{n}"),
                1_000,
            );
            st.approve(&r.request.request_id, "t".into(), 2_000)
                .unwrap();
        }
        st
    }

    #[test]
    fn exact_prefix_fingerprint_and_name() {
        let st = state();
        let (d, how) = paired(&st, "9aee8cff109f16dc00").unwrap();
        assert_eq!(
            (d.device_id.as_str(), how),
            ("9aee8cff109f16dc00", How::Exact)
        );
        assert_eq!(paired(&st, "9aee").unwrap().1, How::Prefix);
        assert_eq!(
            paired(&st, "9aee:8cff").unwrap().0.device_id,
            "9aee8cff109f16dc00"
        );
        let (d, how) = paired(&st, "Phone").unwrap();
        assert_eq!(
            (d.device_id.as_str(), how),
            ("77aa88bb99cc00dd00", How::Name)
        );
    }

    #[test]
    fn ambiguous_and_unknown_name_the_value_and_the_closest() {
        let st = state();
        let e = paired(&st, "9a").unwrap_err().to_string();
        assert!(
            e.starts_with("unknown deviceId: \"9a\" matches 2 paired devices"),
            "{e}"
        );
        assert!(e.contains("studio-mac") && e.contains("kitchen-pi"), "{e}");
        let e = paired(&st, "studio-mak").unwrap_err().to_string();
        assert!(
            e.starts_with("unknown deviceId: no paired device matches \"studio-mak\""),
            "{e}"
        );
        assert!(e.contains("closest: studio-mac"), "{e}");
        let e = paired(&DeviceState::default(), "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("there are none"), "{e}");
    }
}
