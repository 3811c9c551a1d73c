//! The record model: what was decided (action, subject, via, outcome), and
//! the record itself (no field that could hold a code or a token).

use super::*;

/// What was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "approve")]
    Approve,
    #[serde(rename = "reject")]
    Reject,
    /// A paired device removed.
    #[serde(rename = "remove")]
    Remove,
    /// A device token or an allow-list entry revoked.
    #[serde(rename = "revoke")]
    Revoke,
    /// A device token rotated.
    #[serde(rename = "rotate")]
    Rotate,
    #[serde(rename = "setup_code.issued")]
    SetupCodeIssued,
    #[serde(rename = "setup_code.redeemed")]
    SetupCodeRedeemed,
    #[serde(rename = "setup_code.expired")]
    SetupCodeExpired,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Remove => "remove",
            Action::Revoke => "revoke",
            Action::Rotate => "rotate",
            Action::SetupCodeIssued => "setup_code.issued",
            Action::SetupCodeRedeemed => "setup_code.redeemed",
            Action::SetupCodeExpired => "setup_code.expired",
        }
    }
}

/// What the decision was about. Nothing here is secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// A DM sender: a pairing request, or an allow-list entry.
    Dm {
        channel: String,
        account: String,
        sender: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A device: a pairing request, a paired device or one of its tokens.
    Device {
        device_id: String,
        fingerprint: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// The token's role (rotate, revoke).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
        /// What an approval granted.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        roles: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        scopes: Vec<String>,
    },
    /// A setup code: where it points and until when (never the code).
    SetupCode {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires: Option<String>,
        /// The device that redeemed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device_id: Option<String>,
    },
}

impl Subject {
    /// A DM sender (`account` `None` is `default`).
    pub fn dm(channel: &str, account: Option<&str>, sender: &str, name: Option<String>) -> Subject {
        Subject::Dm {
            channel: channel.to_string(),
            account: account.unwrap_or("default").to_string(),
            sender: sender.to_string(),
            name: name.filter(|n| !n.trim().is_empty()),
        }
    }

    /// A device by id, with what else is known about it.
    pub fn device(device_id: &str, name: Option<&str>, request_id: Option<&str>) -> Subject {
        Subject::Device {
            device_id: device_id.to_string(),
            fingerprint: crate::devices::model::short_fingerprint(device_id),
            name: name.map(str::to_string).filter(|n| !n.trim().is_empty()),
            request_id: request_id.map(str::to_string),
            role: None,
            roles: Vec::new(),
            scopes: Vec::new(),
        }
    }

    /// Same subject for de-duplicating observations: the sender of a channel
    /// account, the device, the setup code's device.
    fn same(&self, other: &Subject) -> bool {
        match (self, other) {
            (
                Subject::Dm {
                    channel,
                    account,
                    sender,
                    ..
                },
                Subject::Dm {
                    channel: c,
                    account: a,
                    sender: s,
                    ..
                },
            ) => channel == c && account == a && sender == s,
            (Subject::Device { device_id, .. }, Subject::Device { device_id: d, .. }) => {
                device_id == d
            }
            (Subject::SetupCode { device_id, .. }, Subject::SetupCode { device_id: d, .. }) => {
                device_id == d
            }
            _ => false,
        }
    }

    /// One line for people: `telegram/default 123456789 (Alice)`,
    /// `device studio-mac key 9aee:8cff:109f:16dc`.
    pub fn describe(&self) -> String {
        use crate::sanitize::for_terminal as c;
        match self {
            Subject::Dm {
                channel,
                account,
                sender,
                name,
            } => {
                let mut s = format!("{}/{} {}", c(channel), c(account), c(sender));
                if let Some(n) = name {
                    s.push_str(&format!(" ({})", c(n)));
                }
                s
            }
            Subject::Device {
                fingerprint,
                name,
                role,
                ..
            } => {
                let mut s = match name {
                    Some(n) => format!("{} key {fingerprint}", c(n)),
                    None => format!("device key {fingerprint}"),
                };
                if let Some(r) = role {
                    s.push_str(&format!(" role {}", c(r)));
                }
                s
            }
            Subject::SetupCode {
                url,
                expires,
                device_id,
            } => {
                let mut parts = vec!["setup code".to_string()];
                if let Some(u) = url {
                    parts.push(format!("for {}", c(u)));
                }
                if let Some(d) = device_id {
                    parts.push(format!(
                        "by key {}",
                        crate::devices::model::short_fingerprint(d)
                    ));
                }
                if let Some(e) = expires {
                    parts.push(format!("until {}", c(e)));
                }
                parts.join(" ")
            }
        }
    }
}

/// Where a decision was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Console,
    Cli,
    Headless,
    /// clawpair's own gateway (a setup code redeemed, a local client approved).
    Gateway,
    /// Another process or OpenClaw itself; recorded by whoever observed it.
    Elsewhere,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Console => "console",
            Via::Cli => "cli",
            Via::Headless => "headless",
            Via::Gateway => "gateway",
            Via::Elsewhere => "elsewhere",
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// Tried and failed; nothing changed.
    Failed,
}

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// When, ISO-8601 UTC with milliseconds.
    pub ts: String,
    pub action: Action,
    pub subject: Subject,
    /// Where it was made.
    pub via: Via,
    /// For `via: elsewhere`: which of ours saw it (console, headless, gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_by: Option<Via>,
    /// The state it changed: a state dir, or a gateway URL.
    #[serde(rename = "where")]
    pub place: String,
    /// The OS user clawpair ran as (for observed decisions: who observed).
    pub user: String,
    pub result: Outcome,
    /// Why it failed, or a note ("auto-approved local client").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Record {
    /// A successful decision made here, now.
    pub fn new(now_ms: i64, action: Action, subject: Subject, via: Via, place: &Place) -> Record {
        Record {
            ts: clock::format_iso_ms(now_ms),
            action,
            subject,
            via,
            observed_by: None,
            place: place.label(),
            user: os_user(),
            result: Outcome::Ok,
            detail: None,
        }
    }

    /// A decision made elsewhere and noticed by `by`.
    pub fn observed(
        now_ms: i64,
        action: Action,
        subject: Subject,
        by: Via,
        place: &Place,
    ) -> Record {
        Record {
            observed_by: Some(by),
            ..Record::new(now_ms, action, subject, Via::Elsewhere, place)
        }
    }

    pub fn failed(mut self, why: impl Into<String>) -> Record {
        self.result = Outcome::Failed;
        self.detail = Some(why.into());
        self
    }

    pub fn with_detail(mut self, note: impl Into<String>) -> Record {
        self.detail = Some(note.into());
        self
    }

    pub fn ts_ms(&self) -> Option<i64> {
        clock::parse_iso_ms(&self.ts)
    }

    pub fn is_observed(&self) -> bool {
        self.via == Via::Elsewhere
    }

    /// Whether `self` is the same decision as `other` (for observations).
    pub(super) fn same_decision(&self, other: &Record, window_ms: i64) -> bool {
        self.action == other.action
            && self.subject.same(&other.subject)
            && match (self.ts_ms(), other.ts_ms()) {
                (Some(a), Some(b)) => (a - b).abs() <= window_ms,
                _ => false,
            }
    }
}

/// The OS user this process runs as: its login name, else `uid N`.
pub fn os_user() -> String {
    // SAFETY: getuid cannot fail; getpwuid_r writes only into our buffers.
    let uid = unsafe { libc::getuid() };
    let mut buf = vec![0u8; 4096];
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    let rc =
        unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut out) };
    if rc == 0 && !out.is_null() && !pw.pw_name.is_null() {
        // SAFETY: pw_name points into `buf`, NUL-terminated by getpwuid_r.
        let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
        if let Ok(n) = name.to_str() {
            if !n.is_empty() {
                return n.to_string();
            }
        }
    }
    format!("uid {uid}")
}
