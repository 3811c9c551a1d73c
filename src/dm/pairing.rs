//! `<channel>-pairing.json`: the pending requests of one channel (spec
//! dm-pairing §3). Pure functions over the parsed document; the store does
//! the locking and file I/O.
//!
//! Requests are kept as raw JSON objects so members we do not know survive
//! every rewrite, exactly as OpenClaw passes them through.

use std::path::Path;

use serde_json::{Map, Value};

use super::code;
use super::keys;
use crate::clock;
use crate::error::{Result, StoreError};
use crate::fsutil;

/// A request lives one hour from `createdAt` (expired when strictly older).
pub const PENDING_TTL_MS: i64 = 3_600_000;
/// At most this many pending requests per channel file.
pub const MAX_PENDING: usize = 3;

/// The parsed document. Top-level members other than `version` and
/// `requests` are kept and written back after them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PairingDoc {
    pub requests: Vec<Value>,
    pub extra: Map<String, Value>,
}

/// A request as shown to people and scripts (only entries whose `id`, `code`
/// and `createdAt` are strings are shown, as OpenClaw does).
#[derive(Debug, Clone, PartialEq)]
pub struct PairingRequest {
    pub id: String,
    pub code: String,
    pub created_at: String,
    pub created_at_ms: Option<i64>,
    pub last_seen_at_ms: Option<i64>,
    /// `meta.accountId`, trimmed and lower-cased; `None` for legacy requests.
    pub account: Option<String>,
    /// `meta` as key/value strings, in file order.
    pub meta: Vec<(String, String)>,
    /// The object exactly as stored.
    pub raw: Value,
}

impl PairingRequest {
    pub fn from_value(raw: &Value) -> Option<PairingRequest> {
        let o = raw.as_object()?;
        let id = o.get("id")?.as_str()?.to_string();
        let code = o.get("code")?.as_str()?.to_string();
        let created_at = o.get("createdAt")?.as_str()?.to_string();
        let meta: Vec<(String, String)> = o
            .get("meta")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let s = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), s)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(PairingRequest {
            created_at_ms: clock::parse_iso_ms(&created_at),
            last_seen_at_ms: o
                .get("lastSeenAt")
                .and_then(Value::as_str)
                .and_then(clock::parse_iso_ms),
            account: account_of(raw),
            id,
            code,
            created_at,
            meta,
            raw: raw.clone(),
        })
    }

    /// Milliseconds until this request expires: never negative, and never
    /// more than the full hour even when the clock is behind `createdAt`.
    pub fn remaining_ms(&self, now_ms: i64) -> i64 {
        match self.created_at_ms {
            Some(c) => {
                (c.saturating_add(PENDING_TTL_MS).saturating_sub(now_ms)).clamp(0, PENDING_TTL_MS)
            }
            None => 0,
        }
    }

    /// A meta value by key.
    pub fn meta_value(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Result of an upsert: `code` is empty when the sender was refused (cap).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Upserted {
    pub code: String,
    pub created: bool,
}

fn created_ms(req: &Value) -> Option<i64> {
    req.get("createdAt")
        .and_then(Value::as_str)
        .and_then(clock::parse_iso_ms)
}

fn last_seen_ms(req: &Value) -> i64 {
    req.get("lastSeenAt")
        .and_then(Value::as_str)
        .and_then(clock::parse_iso_ms)
        .or_else(|| created_ms(req))
        .unwrap_or(0)
}

/// `meta.accountId`, trimmed and lower-cased, if it is a non-blank string.
pub fn account_of(req: &Value) -> Option<String> {
    req.get("meta")
        .and_then(|m| m.get("accountId"))
        .and_then(Value::as_str)
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty())
}

/// Expired: no parseable `createdAt`, `createdAt` at the epoch, or more than
/// one hour (strictly) in the past.
pub fn is_expired(req: &Value, now_ms: i64) -> bool {
    match created_ms(req) {
        None | Some(0) => true,
        Some(c) => now_ms - c > PENDING_TTL_MS,
    }
}

impl PairingDoc {
    /// Parses file bytes (`None` = no file). Missing, blank, `null`, `[]`,
    /// `{}` and a missing or empty `requests` hold nothing and read as empty;
    /// JSON that does not parse, or that holds data of a shape we do not
    /// understand, is an error and the file must not be written over.
    pub fn parse(path: &Path, bytes: Option<&[u8]>) -> Result<PairingDoc> {
        let Some(bytes) = bytes else {
            return Ok(PairingDoc::default());
        };
        if fsutil::is_blank(bytes) {
            return Ok(PairingDoc::default());
        }
        let shape = |message: &str| StoreError::Shape {
            path: path.to_path_buf(),
            message: message.to_string(),
        };
        match fsutil::parse_json(path, bytes)? {
            Value::Null => Ok(PairingDoc::default()),
            Value::Array(a) if a.is_empty() => Ok(PairingDoc::default()),
            Value::Object(mut o) => {
                check_version(&o).map_err(|m| shape(&m))?;
                let requests = match o.shift_remove("requests") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(a)) => a,
                    Some(Value::Object(m)) if m.is_empty() => Vec::new(),
                    Some(_) => return Err(shape("\"requests\" is not a list")),
                };
                o.shift_remove("version");
                Ok(PairingDoc { requests, extra: o })
            }
            _ => Err(shape("expected an object with a \"requests\" list")),
        }
    }

    /// The file text: `{"version": 1, "requests": […]}`, 2-space JSON and a newline.
    pub fn to_json(&self) -> String {
        let mut o = Map::new();
        o.insert("version".into(), Value::from(1));
        o.insert("requests".into(), Value::Array(self.requests.clone()));
        for (k, v) in &self.extra {
            o.insert(k.clone(), v.clone());
        }
        crate::jsonfmt::to_pretty_nl(&Value::Object(o))
    }

    /// Drops expired requests; true if any were dropped.
    pub fn drop_expired(&mut self, now_ms: i64) -> bool {
        let before = self.requests.len();
        self.requests.retain(|r| !is_expired(r, now_ms));
        self.requests.len() != before
    }

    /// Over-cap trimming: with more than 3 requests, keep the 3 most recently
    /// seen, in ascending last-seen order. True if anything changed.
    pub fn prune_excess(&mut self) -> bool {
        if self.requests.len() <= MAX_PENDING {
            return false;
        }
        // `sort_by_key` is stable, as the trimming rule requires.
        self.requests.sort_by_key(last_seen_ms);
        let excess = self.requests.len() - MAX_PENDING;
        self.requests.drain(..excess);
        true
    }

    /// The visible requests, optionally of one account, sorted by `createdAt` text.
    pub fn visible(&self, account: Option<&str>) -> Vec<PairingRequest> {
        let account = account
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty());
        let mut out: Vec<PairingRequest> = self
            .requests
            .iter()
            .filter(|r| match &account {
                Some(a) => account_of(r).as_deref() == Some(a.as_str()),
                None => true,
            })
            .filter_map(PairingRequest::from_value)
            .collect();
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        out
    }

    /// The list operation's in-memory part: drop expired, trim. True if the file must be rewritten.
    pub fn prune(&mut self, now_ms: i64) -> bool {
        let expired = self.drop_expired(now_ms);
        let trimmed = self.prune_excess();
        expired || trimmed
    }

    /// An unknown sender wrote (spec §3.5). Returns the result and whether the
    /// document must be written.
    pub fn upsert(
        &mut self,
        id: &str,
        account: Option<&str>,
        meta_in: &[(String, String)],
        now_ms: i64,
    ) -> Result<(Upserted, bool)> {
        let id = id.trim();
        if id.is_empty() {
            return Err(StoreError::Invalid("sender id is required".into()));
        }
        let account = keys::request_account(account);
        let now = clock::format_iso_ms(now_ms);
        let mut meta = Map::new();
        for (k, v) in meta_in {
            let v = v.trim();
            if !v.is_empty() {
                meta.insert(k.clone(), Value::from(v));
            }
        }
        meta.insert("accountId".into(), Value::from(account.clone()));

        let mut dirty = self.drop_expired(now_ms);
        let found = self.requests.iter().position(|r| {
            r.get("id").and_then(Value::as_str) == Some(id)
                && account_of(r).as_deref() == Some(account.as_str())
        });
        if let Some(i) = found {
            let old = &self.requests[i];
            let existing = old
                .get("code")
                .and_then(Value::as_str)
                .map(str::trim)
                .unwrap_or("")
                .to_string();
            let code = if existing.is_empty() {
                code::unique_code(self.codes())?
            } else {
                existing
            };
            let created_at = old
                .get("createdAt")
                .cloned()
                .unwrap_or_else(|| Value::from(now.clone()));
            let mut rebuilt = Map::new();
            rebuilt.insert("id".into(), Value::from(id));
            rebuilt.insert("code".into(), Value::from(code.clone()));
            rebuilt.insert("createdAt".into(), created_at);
            rebuilt.insert("lastSeenAt".into(), Value::from(now));
            rebuilt.insert("meta".into(), Value::Object(meta));
            self.requests[i] = Value::Object(rebuilt);
            self.prune_excess();
            return Ok((
                Upserted {
                    code,
                    created: false,
                },
                true,
            ));
        }
        dirty |= self.prune_excess();
        if self.requests.len() >= MAX_PENDING {
            return Ok((
                Upserted {
                    code: String::new(),
                    created: false,
                },
                dirty,
            ));
        }
        let code = code::unique_code(self.codes())?;
        let mut req = Map::new();
        req.insert("id".into(), Value::from(id));
        req.insert("code".into(), Value::from(code.clone()));
        req.insert("createdAt".into(), Value::from(now.clone()));
        req.insert("lastSeenAt".into(), Value::from(now));
        req.insert("meta".into(), Value::Object(meta));
        self.requests.push(Value::Object(req));
        Ok((
            Upserted {
                code,
                created: true,
            },
            true,
        ))
    }

    fn codes(&self) -> impl Iterator<Item = &str> + Clone {
        self.requests
            .iter()
            .filter_map(|r| r.get("code").and_then(Value::as_str))
    }

    /// Index of the first request (file order) whose code matches `code`
    /// (trimmed, case-insensitive) and, when given, whose account matches.
    pub fn find_code(&self, code: &str, account: Option<&str>) -> Option<usize> {
        let code = code.trim().to_uppercase();
        if code.is_empty() {
            return None;
        }
        let account = account
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty());
        self.requests.iter().position(|r| {
            r.get("code")
                .and_then(Value::as_str)
                .is_some_and(|c| c.to_uppercase() == code)
                && match &account {
                    Some(a) => account_of(r).as_deref() == Some(a.as_str()),
                    None => true,
                }
        })
    }
}

fn check_version(o: &Map<String, Value>) -> std::result::Result<(), String> {
    match o.get("version") {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_f64() == Some(1.0) => Ok(()),
        Some(v) => Err(format!(
            "unsupported version {v} (clawpair understands version 1)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T12: i64 = 1_772_366_400_000; // 2026-03-01T12:00:00.000Z

    fn doc(requests: Value) -> PairingDoc {
        PairingDoc {
            requests: requests.as_array().unwrap().clone(),
            extra: Map::new(),
        }
    }

    #[test]
    fn expiry_is_strictly_after_one_hour() {
        let r = json!({"id": "1", "code": "X", "createdAt": "2026-03-01T12:00:00.000Z"});
        assert!(!is_expired(&r, T12 + PENDING_TTL_MS));
        assert!(is_expired(&r, T12 + PENDING_TTL_MS + 1));
        assert!(is_expired(&json!({"id": "1"}), T12));
        assert!(is_expired(
            &json!({"createdAt": "1970-01-01T00:00:00.000Z"}),
            T12
        ));
        assert!(!is_expired(
            &json!({"createdAt": "2030-01-01T00:00:00.000Z"}),
            T12
        ));
    }

    #[test]
    fn repeat_sender_keeps_code_and_created_at() {
        let mut d = PairingDoc::default();
        let (a, w) = d
            .upsert("111", None, &[("username".into(), " alice ".into())], T12)
            .unwrap();
        assert!(a.created && w);
        let (b, w) = d
            .upsert(
                "111",
                Some("DEFAULT"),
                &[("x".into(), "y".into())],
                T12 + 1000,
            )
            .unwrap();
        assert_eq!(
            (b.code.as_str(), b.created, w),
            (a.code.as_str(), false, true)
        );
        let r = &d.requests[0];
        assert_eq!(r["createdAt"], "2026-03-01T12:00:00.000Z");
        assert_eq!(r["lastSeenAt"], "2026-03-01T12:00:01.000Z");
        assert_eq!(r["meta"], json!({"x": "y", "accountId": "default"}));
    }

    #[test]
    fn cap_refuses_new_sender_without_writing() {
        let mut d = PairingDoc::default();
        for id in ["1", "2", "3"] {
            assert!(d.upsert(id, None, &[], T12).unwrap().0.created);
        }
        let before = d.clone();
        let (r, write) = d.upsert("4", None, &[], T12).unwrap();
        assert_eq!(
            r,
            Upserted {
                code: String::new(),
                created: false
            }
        );
        assert!(!write);
        assert_eq!(d, before);
        // Another account shares the channel's cap.
        assert!(!d.upsert("5", Some("work"), &[], T12).unwrap().0.created);
    }

    #[test]
    fn legacy_request_never_matches() {
        let mut d = doc(
            json!([{"id": "555", "code": "abcdefgh", "createdAt": "2026-03-01T12:00:00.000Z", "lastSeenAt": "2026-03-01T12:00:00.000Z"}]),
        );
        let (r, _) = d.upsert("555", None, &[], T12 + 300_000).unwrap();
        assert!(r.created);
        assert_eq!(d.requests.len(), 2);
        assert_eq!(d.find_code(" ABCDEFGH ", None), Some(0));
        assert_eq!(d.find_code("abcdefgh", Some("default")), None);
    }

    #[test]
    fn parse_policy() {
        let p = Path::new("t-pairing.json");
        for empty in [
            "",
            "  \n",
            "null",
            "[]",
            "{}",
            "{\"version\":1}",
            "{\"version\":1,\"requests\":{}}",
        ] {
            assert_eq!(
                PairingDoc::parse(p, Some(empty.as_bytes())).unwrap(),
                PairingDoc::default(),
                "{empty:?}"
            );
        }
        assert!(matches!(
            PairingDoc::parse(p, Some(b"{not json")),
            Err(StoreError::Malformed { .. })
        ));
        assert!(matches!(
            PairingDoc::parse(p, Some(b"[1]")),
            Err(StoreError::Shape { .. })
        ));
        assert!(matches!(
            PairingDoc::parse(p, Some(b"{\"requests\":{\"a\":1}}")),
            Err(StoreError::Shape { .. })
        ));
        assert!(matches!(
            PairingDoc::parse(p, Some(b"{\"version\":2,\"requests\":[]}")),
            Err(StoreError::Shape { .. })
        ));
        let d = PairingDoc::parse(
            p,
            Some(b"{\"version\":1,\"requests\":[],\"note\":\"kept\"}"),
        )
        .unwrap();
        assert_eq!(
            d.to_json(),
            "{\n  \"version\": 1,\n  \"requests\": [],\n  \"note\": \"kept\"\n}\n"
        );
    }
}
