//! DM pairing in SQLite: `channel_pairing_requests` and
//! `channel_pairing_allow_entries` (spec openclaw-2026.9 §4), read into the
//! 2026.2.26 shapes, and the one write clawpair makes: approve, dismiss or
//! revoke as one `BEGIN IMMEDIATE` transaction that leaves exactly the rows
//! OpenClaw's own store leaves (docs/interop/openclaw-2026.9.6.md §3).

use std::path::Path;
use std::time::Instant;

use base64::Engine as _;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{busy_timeout, DbError, StateDb};
use crate::clock;

/// A request expires when strictly more than an hour old.
pub const TTL_MS: i64 = 3_600_000;
/// At most three pending requests per **account** (2026.9; 2026.2.26 counted per channel).
pub const MAX_PENDING_PER_ACCOUNT: usize = 3;

/// One `channel_pairing_requests` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub channel: String,
    pub account: String,
    /// The sender id (`request_id` column: it is the sender, not a UUID).
    pub sender: String,
    pub code: String,
    pub created_at: String,
    pub last_seen_at: String,
    /// `meta_json` exactly as stored.
    pub meta_json: Option<String>,
}

impl Request {
    pub fn created_at_ms(&self) -> Option<i64> {
        clock::parse_iso_ms(&self.created_at)
    }
    pub fn last_seen_at_ms(&self) -> Option<i64> {
        clock::parse_iso_ms(&self.last_seen_at)
    }
    /// Expired, or with a `created_at` OpenClaw cannot parse (it deletes those).
    pub fn is_expired(&self, now_ms: i64) -> bool {
        match self.created_at_ms() {
            Some(c) => now_ms - c > TTL_MS,
            None => true,
        }
    }
    /// The opaque id `channels.pairing.*` uses (spec §4.4).
    pub fn request_id(&self) -> String {
        request_id(&self.channel, &self.account, &self.sender, &self.created_at)
    }
    /// `meta` as OpenClaw reads it back: the stored object with `accountId`
    /// set from the column (in place, or added last).
    pub fn meta(&self) -> Map<String, Value> {
        let mut m = self
            .meta_json
            .as_deref()
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .unwrap_or_default();
        m.insert("accountId".into(), Value::String(self.account.clone()));
        m
    }
    /// The 2026.2.26 request object: `{id, code, createdAt, lastSeenAt, meta}`.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), self.sender.clone().into());
        o.insert("code".into(), self.code.clone().into());
        o.insert("createdAt".into(), self.created_at.clone().into());
        o.insert("lastSeenAt".into(), self.last_seen_at.clone().into());
        o.insert("meta".into(), Value::Object(self.meta()));
        Value::Object(o)
    }
}

/// `base64url_nopad(sha256(channel \0 account \0 sender \0 createdAt))[..32]`.
pub fn request_id(channel: &str, account: &str, sender: &str, created_at: &str) -> String {
    let mut h = Sha256::new();
    for (i, part) in [channel, account, sender, created_at].iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        h.update(part.as_bytes());
    }
    let s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.finalize());
    s[..32].to_string()
}

/// One channel account's allow-list, in `sort_order`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    pub channel: String,
    pub account: String,
    pub entries: Vec<String>,
}

/// Every DM row, as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DmRows {
    /// Ordered by channel, `created_at`, account, sender (OpenClaw's order).
    pub requests: Vec<Request>,
    /// Ordered by channel, account.
    pub allow: Vec<Allow>,
}

impl DmRows {
    /// What OpenClaw shows: live requests, at most three per account (the
    /// most recently seen), in (`created_at`, account, sender) order per
    /// channel. A view: nothing is pruned in the database.
    pub fn visible(&self, now_ms: i64) -> Vec<&Request> {
        let live: Vec<&Request> = self
            .requests
            .iter()
            .filter(|r| !r.is_expired(now_ms))
            .collect();
        let mut keep = vec![true; live.len()];
        let mut groups: Vec<(&str, &str)> = live
            .iter()
            .map(|r| (r.channel.as_str(), r.account.as_str()))
            .collect();
        groups.sort();
        groups.dedup();
        for (ch, acct) in groups {
            let mut idx: Vec<usize> = (0..live.len())
                .filter(|&i| live[i].channel == ch && live[i].account == acct)
                .collect();
            if idx.len() <= MAX_PENDING_PER_ACCOUNT {
                continue;
            }
            // Newest `last_seen_at` (else `created_at`) first; the rest is over the cap.
            let seen = |r: &Request| r.last_seen_at_ms().or(r.created_at_ms()).unwrap_or(0);
            idx.sort_by(|&a, &b| seen(live[b]).cmp(&seen(live[a])));
            for &i in &idx[MAX_PENDING_PER_ACCOUNT..] {
                keep[i] = false;
            }
        }
        live.into_iter()
            .zip(keep)
            .filter_map(|(r, k)| k.then_some(r))
            .collect()
    }

    /// Channels that have any row, sorted.
    pub fn channels(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .requests
            .iter()
            .map(|r| r.channel.clone())
            .chain(self.allow.iter().map(|a| a.channel.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Reads both DM tables in one short read transaction.
pub fn read(db: &StateDb) -> Result<DmRows, DbError> {
    db.read(read_rows)
}

fn read_rows(conn: &Connection) -> rusqlite::Result<DmRows> {
    let mut st = conn.prepare(
        "SELECT channel_key, account_id, request_id, code, created_at, last_seen_at, meta_json \
         FROM channel_pairing_requests ORDER BY channel_key, created_at, account_id, request_id",
    )?;
    let requests = st
        .query_map([], |r| {
            Ok(Request {
                channel: r.get(0)?,
                account: r.get(1)?,
                sender: r.get(2)?,
                code: r.get(3)?,
                created_at: r.get(4)?,
                last_seen_at: r.get(5)?,
                meta_json: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut st = conn.prepare(
        "SELECT channel_key, account_id, entry FROM channel_pairing_allow_entries \
         ORDER BY channel_key, account_id, sort_order, entry",
    )?;
    let mut allow: Vec<Allow> = Vec::new();
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (channel, account, entry) = row?;
        match allow.last_mut() {
            Some(a) if a.channel == channel && a.account == account => a.entries.push(entry),
            _ => allow.push(Allow {
                channel,
                account,
                entries: vec![entry],
            }),
        }
    }
    Ok(DmRows { requests, allow })
}

/// `channel_key` as OpenClaw normalises it (spec §4.2): trimmed, lower-cased,
/// `\ / : * ? " < > |` and `..` replaced by `_`. `None` when nothing is left.
pub fn channel_key(raw: &str) -> Option<String> {
    let mut s: String = raw
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| match c {
            '\\' | '/' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c => c,
        })
        .collect();
    s = s.replace("..", "_");
    (!s.is_empty() && s != "_").then_some(s)
}

/// `account_id`: trimmed and lower-cased, not sanitised; `default` when blank.
pub fn account_key(raw: Option<&str>) -> String {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        Some(a) => a.to_lowercase(),
        None => "default".into(),
    }
}

/// An allow entry as OpenClaw's store normalises it: trimmed, and for
/// telegram a leading `tg:` / `telegram:` removed. `*` and empty are never stored.
pub fn allow_entry(channel: &str, raw: &str) -> Option<String> {
    let mut e = raw.trim();
    if channel == "telegram" {
        for p in ["telegram:", "tg:"] {
            if e.len() >= p.len() && e[..p.len()].eq_ignore_ascii_case(p) {
                e = e[p.len()..].trim();
                break;
            }
        }
    }
    (!e.is_empty() && e != "*").then(|| e.to_string())
}

/// `meta_json` as OpenClaw re-writes it (§3.4 of the interop notes):
/// compact, only non-empty trimmed strings, `accountId` = the column (in its
/// place, else last). `None` when the stored text is not a JSON object (left as is).
fn normalized_meta(stored: &str, account: &str) -> Option<String> {
    let Value::Object(m) = serde_json::from_str::<Value>(stored).ok()? else {
        return None;
    };
    let mut out = Map::new();
    for (k, v) in m {
        if k == "accountId" {
            out.insert(k, Value::String(account.to_string()));
            continue;
        }
        if let Value::String(s) = v {
            let t = s.trim();
            if !t.is_empty() {
                out.insert(k, Value::String(t.to_string()));
            }
        }
    }
    out.insert("accountId".into(), Value::String(account.to_string()));
    serde_json::to_string(&Value::Object(out)).ok()
}

/// What to do to a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Allow the sender of `code` (case-insensitive), in `account` if given
    /// (else the request's), and remove the request.
    Approve {
        code: String,
        account: Option<String>,
    },
    /// Remove the request of `code` without allowing its sender.
    Dismiss {
        code: String,
        account: Option<String>,
    },
    /// Remove `entry` from an account's allow-list.
    Revoke { account: String, entry: String },
}

/// What the transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The request decided (approve/dismiss), if one matched.
    pub request: Option<(String, String)>,
    /// Approve: the entry was added (false when it was there already).
    /// Revoke: the entry was removed.
    pub allow_changed: bool,
    /// Expired requests of the channel deleted on the way (as OpenClaw does).
    pub pruned: usize,
}

impl Outcome {
    /// Sender id and account of the decided request.
    pub fn sender(&self) -> Option<&str> {
        self.request.as_ref().map(|(s, _)| s.as_str())
    }
}

/// The DM write: one `BEGIN IMMEDIATE` transaction on `channel`, retried on
/// `SQLITE_BUSY` until the busy timeout, committed whole or not at all
/// (spec §4.5, interop notes §3.2):
///
/// 1. every request of the channel (all accounts) that is expired or has an
///    unparseable `created_at` is deleted;
/// 2. approve/dismiss: the first live request whose code matches
///    (upper-cased; restricted to the account when given), in (`created_at`,
///    account, sender) order, is deleted; approve adds the sender (normalised)
///    to the given account, else the request's, with `sort_order` = that
///    account's count, unless present; revoke deletes the entry;
/// 3. if anything changed, every allow row of the channel gets
///    `updated_at = now_ms` and a dense `sort_order` per account, and
///    surviving request rows get OpenClaw's normalised `meta_json` — what
///    OpenClaw's delete-all / re-insert-all write leaves.
pub fn write_channel(path: &Path, channel: &str, op: &Op, now_ms: i64) -> Result<Outcome, DbError> {
    let mut db = StateDb::open_write(path)?;
    let deadline = Instant::now() + busy_timeout();
    loop {
        match try_write(&mut db.conn, channel, op, now_ms) {
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy)
                        | Some(rusqlite::ErrorCode::DatabaseLocked)
                ) && Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(DbError::from_sqlite(path, e)),
            Ok(o) => return Ok(o),
        }
    }
}

fn try_write(
    conn: &mut Connection,
    channel: &str,
    op: &Op,
    now_ms: i64,
) -> rusqlite::Result<Outcome> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let requests: Vec<Request> = {
        let mut st = tx.prepare(
            "SELECT channel_key, account_id, request_id, code, created_at, last_seen_at, meta_json \
             FROM channel_pairing_requests WHERE channel_key = ?1 \
             ORDER BY created_at, account_id, request_id",
        )?;
        let rows = st.query_map([channel], |r| {
            Ok(Request {
                channel: r.get(0)?,
                account: r.get(1)?,
                sender: r.get(2)?,
                code: r.get(3)?,
                created_at: r.get(4)?,
                last_seen_at: r.get(5)?,
                meta_json: r.get(6)?,
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let delete_request = |r: &Request| {
        tx.execute(
            "DELETE FROM channel_pairing_requests \
             WHERE channel_key = ?1 AND account_id = ?2 AND request_id = ?3",
            params![r.channel, r.account, r.sender],
        )
    };
    let mut live = Vec::new();
    let mut pruned = 0;
    for r in requests {
        if r.is_expired(now_ms) {
            delete_request(&r)?;
            pruned += 1;
        } else {
            live.push(r);
        }
    }
    let mut outcome = Outcome {
        request: None,
        allow_changed: false,
        pruned,
    };
    match op {
        Op::Approve { code, account } | Op::Dismiss { code, account } => {
            let want = code.trim().to_uppercase();
            let acct = account.as_deref().map(|a| account_key(Some(a)));
            let found = live.iter().position(|r| {
                r.code.to_uppercase() == want && acct.as_deref().is_none_or(|a| r.account == a)
            });
            if let Some(i) = found {
                let r = live.remove(i);
                delete_request(&r)?;
                if matches!(op, Op::Approve { .. }) {
                    let target = acct.clone().unwrap_or_else(|| r.account.clone());
                    if let Some(entry) = allow_entry(channel, &r.sender) {
                        let exists: Option<i64> = tx
                            .query_row(
                                "SELECT 1 FROM channel_pairing_allow_entries \
                                 WHERE channel_key = ?1 AND account_id = ?2 AND entry = ?3",
                                params![channel, target, entry],
                                |row| row.get(0),
                            )
                            .optional()?;
                        if exists.is_none() {
                            let n: i64 = tx.query_row(
                                "SELECT COUNT(*) FROM channel_pairing_allow_entries \
                                 WHERE channel_key = ?1 AND account_id = ?2",
                                params![channel, target],
                                |row| row.get(0),
                            )?;
                            tx.execute(
                                "INSERT INTO channel_pairing_allow_entries \
                                 (channel_key, account_id, entry, sort_order, updated_at) \
                                 VALUES (?1, ?2, ?3, ?4, ?5)",
                                params![channel, target, entry, n, now_ms],
                            )?;
                            outcome.allow_changed = true;
                        }
                    }
                }
                outcome.request = Some((r.sender.clone(), r.account.clone()));
            }
        }
        Op::Revoke { account, entry } => {
            let entry = allow_entry(channel, entry).unwrap_or_else(|| entry.trim().to_string());
            let n = tx.execute(
                "DELETE FROM channel_pairing_allow_entries \
                 WHERE channel_key = ?1 AND account_id = ?2 AND entry = ?3",
                params![channel, account_key(Some(account)), entry],
            )?;
            outcome.allow_changed = n > 0;
        }
    }
    let changed = outcome.request.is_some() || outcome.allow_changed || outcome.pruned > 0;
    if !changed {
        // Nothing to write: end the transaction without a commit of nothing.
        tx.rollback()?;
        return Ok(outcome);
    }
    for r in &live {
        if let Some(stored) = &r.meta_json {
            if let Some(norm) = normalized_meta(stored, &r.account) {
                if &norm != stored {
                    tx.execute(
                        "UPDATE channel_pairing_requests SET meta_json = ?4 \
                         WHERE channel_key = ?1 AND account_id = ?2 AND request_id = ?3",
                        params![r.channel, r.account, r.sender, norm],
                    )?;
                }
            }
        }
    }
    let allow: Vec<(String, String)> = {
        let mut st = tx.prepare(
            "SELECT account_id, entry FROM channel_pairing_allow_entries WHERE channel_key = ?1 \
             ORDER BY account_id, sort_order, entry",
        )?;
        let rows = st.query_map([channel], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut order: Vec<(String, i64)> = Vec::new();
    for (acct, entry) in allow {
        let i = match order.iter_mut().find(|(a, _)| *a == acct) {
            Some((_, n)) => {
                *n += 1;
                *n - 1
            }
            None => {
                order.push((acct.clone(), 1));
                0
            }
        };
        tx.execute(
            "UPDATE channel_pairing_allow_entries SET sort_order = ?1, updated_at = ?2 \
             WHERE channel_key = ?3 AND account_id = ?4 AND entry = ?5",
            params![i, now_ms, channel, acct, entry],
        )?;
    }
    tx.commit()?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_of_the_fixture() {
        let doc: Value = serde_json::from_slice(&crate::test_fixtures::bytes(
            "openclaw-2026.9/sqlite/dm-request-ids.json",
        ))
        .unwrap();
        let mut n = 0;
        for c in doc["wireChecks"].as_array().unwrap() {
            let got = request_id(
                c["channel"].as_str().unwrap(),
                c["accountId"].as_str().unwrap(),
                c["senderId"].as_str().unwrap(),
                c["createdAt"].as_str().unwrap(),
            );
            assert_eq!(got, c["requestIdFromGateway"].as_str().unwrap());
            n += 1;
        }
        assert_eq!(n, 14);
        for c in doc["rowsOf02"].as_array().unwrap() {
            let got = request_id(
                c["channel_key"].as_str().unwrap(),
                c["account_id"].as_str().unwrap(),
                c["request_id"].as_str().unwrap(),
                c["created_at"].as_str().unwrap(),
            );
            assert_eq!(got, c["requestId"].as_str().unwrap());
        }
    }

    #[test]
    fn keys_and_entries() {
        assert_eq!(channel_key("My:Chan").as_deref(), Some("my_chan"));
        assert_eq!(channel_key(" a..b ").as_deref(), Some("a_b"));
        assert_eq!(channel_key(":"), None);
        assert_eq!(account_key(Some(" Work ")), "work");
        assert_eq!(account_key(Some("Team/One")), "team/one");
        assert_eq!(account_key(Some("  ")), "default");
        assert_eq!(allow_entry("telegram", " tg:888 ").as_deref(), Some("888"));
        assert_eq!(allow_entry("telegram", "Telegram:9").as_deref(), Some("9"));
        assert_eq!(allow_entry("discord", "tg:1").as_deref(), Some("tg:1"));
        assert_eq!(allow_entry("discord", "*"), None);
    }

    #[test]
    fn meta_normalisation() {
        assert_eq!(
            normalized_meta(r#"{"username": " bob ", "n": 5, "e": ""}"#, "default").as_deref(),
            Some(r#"{"username":"bob","accountId":"default"}"#)
        );
        assert_eq!(
            normalized_meta(r#"{"accountId":"x","a":"b"}"#, "work").as_deref(),
            Some(r#"{"accountId":"work","a":"b"}"#)
        );
        assert_eq!(normalized_meta("[1]", "default"), None);
    }
}
