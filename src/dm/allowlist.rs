//! `<channel>[-<account>]-allowFrom.json`: approved senders (spec dm-pairing §4).

use std::path::Path;

use serde_json::{Map, Value};

use super::normalize;
use crate::error::{Result, StoreError};
use crate::fsutil;

/// The parsed document; entries exactly as stored (numbers as their text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllowDoc {
    pub entries: Vec<String>,
    pub extra: Map<String, Value>,
}

/// `{"version": 1, "allowFrom": ["…", …]}` and nothing else.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Canonical {
    version: u32,
    #[serde(rename = "allowFrom")]
    allow_from: Vec<String>,
}

impl AllowDoc {
    /// Same reading policy as the pairing file: empty shapes read as empty,
    /// anything unparseable or unexpected is an error and is never overwritten.
    pub fn parse(path: &Path, bytes: Option<&[u8]>) -> Result<AllowDoc> {
        let Some(bytes) = bytes else {
            return Ok(AllowDoc::default());
        };
        if fsutil::is_blank(bytes) {
            return Ok(AllowDoc::default());
        }
        // The shape every writer produces, read without building a JSON tree;
        // anything else (numbers, extra keys, odd shapes) takes the general path.
        if let Ok(fast) = serde_json::from_slice::<Canonical>(bytes) {
            if fast.version == 1 {
                return Ok(AllowDoc {
                    entries: fast.allow_from,
                    extra: Map::new(),
                });
            }
        }
        let shape = |message: String| StoreError::Shape {
            path: path.to_path_buf(),
            message,
        };
        match fsutil::parse_json(path, bytes)? {
            Value::Null => Ok(AllowDoc::default()),
            Value::Array(a) if a.is_empty() => Ok(AllowDoc::default()),
            Value::Object(mut o) => {
                match o.get("version") {
                    None | Some(Value::Null) => {}
                    Some(v) if v.as_f64() == Some(1.0) => {}
                    Some(v) => {
                        return Err(shape(format!(
                            "unsupported version {v} (clawpair understands version 1)"
                        )))
                    }
                }
                let list = match o.shift_remove("allowFrom") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(a)) => a,
                    Some(Value::Object(m)) if m.is_empty() => Vec::new(),
                    Some(_) => return Err(shape("\"allowFrom\" is not a list".into())),
                };
                o.shift_remove("version");
                let mut entries = Vec::with_capacity(list.len());
                for v in list {
                    match v {
                        Value::String(s) => entries.push(s),
                        Value::Number(n) => entries.push(n.to_string()),
                        // OpenClaw drops these when it rewrites; keep them out of the
                        // list but refuse nothing: they carry no sender.
                        Value::Null => {}
                        other => {
                            return Err(shape(format!(
                                "\"allowFrom\" holds a non-text entry {other}"
                            )));
                        }
                    }
                }
                Ok(AllowDoc { entries, extra: o })
            }
            _ => Err(shape(
                "expected an object with an \"allowFrom\" list".into(),
            )),
        }
    }

    /// The file text, serialised straight from the entries (no copies).
    pub fn to_json(&self) -> String {
        crate::jsonfmt::to_pretty_nl(&AllowOut(self))
    }

    /// The normalised, de-duplicated entries.
    pub fn normalized(&self, channel: &str, plugin_loaded: bool) -> Vec<String> {
        normalize::normalize_list(
            channel,
            self.entries.iter().map(String::as_str),
            plugin_loaded,
        )
    }

    /// Adds `entry`; returns true when the document changed (then the whole
    /// list is rewritten in normalised form, as OpenClaw does).
    pub fn add(&mut self, channel: &str, entry: &str, plugin_loaded: bool) -> bool {
        let Some(entry) = normalize::normalize_entry(channel, entry, plugin_loaded) else {
            return false;
        };
        let current = normalize::normalize_borrowed(
            channel,
            self.entries.iter().map(String::as_str),
            plugin_loaded,
        );
        if current.iter().any(|e| *e == entry) {
            return false;
        }
        // Already in normal form (the usual case): append without rebuilding.
        let canonical = current.len() == self.entries.len()
            && current.iter().zip(&self.entries).all(|(n, e)| n == e);
        if !canonical {
            let rebuilt: Vec<String> = current.into_iter().map(|c| c.into_owned()).collect();
            self.entries = rebuilt;
        }
        self.entries.push(entry);
        true
    }

    /// Removes every occurrence of `entry`; true when something was removed.
    pub fn remove(&mut self, channel: &str, entry: &str, plugin_loaded: bool) -> bool {
        let Some(entry) = normalize::normalize_entry(channel, entry, plugin_loaded) else {
            return false;
        };
        let current = self.normalized(channel, plugin_loaded);
        let before = current.len();
        let kept: Vec<String> = current.into_iter().filter(|e| *e != entry).collect();
        if kept.len() == before {
            return false;
        }
        self.entries = kept;
        true
    }
}

/// Serialises `{"version": 1, "allowFrom": [...], ...extra}` from borrowed data.
struct AllowOut<'a>(&'a AllowDoc);

impl serde::Serialize for AllowOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2 + self.0.extra.len()))?;
        m.serialize_entry("version", &1)?;
        m.serialize_entry("allowFrom", &self.0.entries)?;
        for (k, v) in &self.0.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}
