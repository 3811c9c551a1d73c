//! Allow-list entry normalisation per channel (spec dm-pairing §4.2).
//!
//! OpenClaw runs a channel's normaliser only when that channel's plugin is
//! loaded, i.e. enabled in `openclaw.json`; callers pass that fact in
//! `plugin_loaded`, so clawpair writes exactly what OpenClaw would.
//!
//! Normalisation borrows whenever it can: an allow-list of 10,000 entries that
//! is already in normal form is checked without copying a single entry.

use std::borrow::Cow;

/// Strips the first matching prefix (ASCII case-insensitive) from `s`.
fn strip_any<'a>(s: &'a str, prefixes: &[&str]) -> &'a str {
    for p in prefixes {
        if s.len() >= p.len() && s.is_char_boundary(p.len()) && s[..p.len()].eq_ignore_ascii_case(p)
        {
            return &s[p.len()..];
        }
    }
    s
}

/// The channel adapter's normaliser, for the channels that have one.
pub fn adapter_normalize<'a>(channel: &str, entry: &'a str) -> Cow<'a, str> {
    match channel {
        "telegram" => strip_any(entry, &["telegram:", "tg:"]).into(),
        "discord" => strip_any(entry, &["discord:", "user:"]).into(),
        "irc" => lower(strip_any(strip_any(entry, &["irc:"]), &["user:"])),
        "googlechat" => {
            let s = strip_any(entry, &["googlechat:", "google-chat:", "gchat:"]);
            lower(strip_any(strip_any(s, &["user:"]), &["users/"]))
        }
        "slack" => strip_any(entry, &["slack:", "user:"]).into(),
        "signal" => strip_any(entry, &["signal:"]).into(),
        "msteams" => strip_any(entry, &["msteams:", "user:"]).into(),
        "mattermost" => {
            let s = strip_any(entry, &["mattermost:", "user:"]);
            lower(s.strip_prefix('@').unwrap_or(s))
        }
        "feishu" => strip_any(entry, &["feishu:", "user:", "open_id:"]).into(),
        "bluebubbles" => {
            let mut s = strip_any(entry, &["bluebubbles:"]);
            loop {
                let next = strip_any(s, &["imessage:", "sms:", "auto:"]);
                if next.len() == s.len() {
                    break;
                }
                s = next;
            }
            if s.contains('@') {
                lower(s)
            } else if s.chars().any(char::is_whitespace) {
                Cow::Owned(s.chars().filter(|c| !c.is_whitespace()).collect())
            } else {
                s.into()
            }
        }
        "zalo" => strip_any(entry, &["zalo:", "zl:"]).into(),
        "zalouser" => strip_any(entry, &["zalouser:", "zlu:"]).into(),
        "synology-chat" => lower(entry),
        "line" => strip_any(entry, &["line:user:", "line:"]).into(),
        "nextcloud-talk" => lower(strip_any(entry, &["nextcloud-talk:", "nc-talk:", "nc:"])),
        "matrix" => strip_any(entry, &["matrix:"]).into(),
        "nostr" => normalize_nostr(entry),
        "twitch" => {
            let s = strip_any(entry, &["twitch:"]);
            let s = strip_any(s, &["user"]);
            s.strip_prefix(':').unwrap_or(s).into()
        }
        _ => entry.into(),
    }
}

/// Lower-cases, borrowing when the text has no upper-case letters.
fn lower(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// `nostr:` stripped; 64 hex digits lower-cased; anything else unchanged.
/// (npub bech32 decoding is not done: such entries are kept as written, which
/// OpenClaw also does for any value it cannot decode.)
fn normalize_nostr(entry: &str) -> Cow<'_, str> {
    let s = strip_any(entry, &["nostr:"]);
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        lower(s)
    } else {
        s.into()
    }
}

/// Full entry normalisation: trim, drop blank and `*`, adapter (when the
/// plugin is loaded), trim again, drop blank. `None` = not storable.
pub fn normalize_entry(channel: &str, raw: &str, plugin_loaded: bool) -> Option<String> {
    normalize_cow(channel, raw, plugin_loaded).map(Cow::into_owned)
}

/// [`normalize_entry`] without copying when nothing changes.
pub fn normalize_cow<'a>(channel: &str, raw: &'a str, plugin_loaded: bool) -> Option<Cow<'a, str>> {
    let t = trim(raw);
    if t.is_empty() || t == "*" {
        return None;
    }
    let n = if plugin_loaded {
        adapter_normalize(channel, t)
    } else {
        Cow::Borrowed(t)
    };
    let trimmed = trim(&n);
    if trimmed.is_empty() {
        return None;
    }
    Some(match n {
        Cow::Borrowed(b) => Cow::Borrowed(trim(b)),
        Cow::Owned(o) if trim(&o).len() == o.len() => Cow::Owned(o),
        Cow::Owned(o) => Cow::Owned(o.trim().to_string()),
    })
}

/// `str::trim`, with a shortcut for the usual entry that starts and ends
/// with a visible ASCII character.
fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) if f.is_ascii_graphic() && l.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Normalises a list and removes duplicates, keeping the first occurrence.
pub fn normalize_list<'a>(
    channel: &str,
    entries: impl IntoIterator<Item = &'a str>,
    plugin_loaded: bool,
) -> Vec<String> {
    normalize_borrowed(channel, entries, plugin_loaded)
        .into_iter()
        .map(Cow::into_owned)
        .collect()
}

/// [`normalize_list`], borrowing every entry that normalisation leaves alone.
pub fn normalize_borrowed<'a>(
    channel: &str,
    entries: impl IntoIterator<Item = &'a str>,
    plugin_loaded: bool,
) -> Vec<Cow<'a, str>> {
    let entries = entries.into_iter();
    let mut seen: std::collections::HashSet<Cow<'a, str>, foldhash::fast::RandomState> =
        std::collections::HashSet::with_capacity_and_hasher(
            entries.size_hint().0,
            Default::default(),
        );
    let mut out = Vec::new();
    for e in entries {
        if let Some(n) = normalize_cow(channel, e, plugin_loaded) {
            if seen.insert(n.clone()) {
                out.push(n);
            }
        }
    }
    out
}

/// Column header OpenClaw's CLI uses for the sender id of a loaded channel.
pub fn id_label(channel: &str) -> Option<&'static str> {
    Some(match channel {
        "telegram" => "telegramUserId",
        "whatsapp" => "whatsappSenderId",
        "discord" => "discordUserId",
        "irc" => "ircUser",
        "googlechat" => "googlechatUserId",
        "slack" => "slackUserId",
        "signal" => "signalNumber",
        "imessage" => "imessageSenderId",
        "msteams" => "msteamsUserId",
        "mattermost" => "mattermostUserId",
        "feishu" => "feishuUserId",
        "bluebubbles" => "bluebubblesSenderId",
        "zalo" => "zaloUserId",
        "zalouser" => "zalouserUserId",
        "synology-chat" => "synologyChatUserId",
        "line" => "lineUserId",
        "matrix" => "matrixUserId",
        "nextcloud-talk" => "nextcloudUserId",
        "nostr" => "nostrPubkey",
        "twitch" => "twitchUserId",
        _ => return None,
    })
}

/// The pairing-capable channels whose plugins `cfg` enables, in OpenClaw's order.
pub fn enabled_channels(cfg: &crate::openclaw_config::OpenClawConfig) -> Vec<&'static str> {
    PAIRING_CHANNELS
        .iter()
        .copied()
        .filter(|c| cfg.channel_enabled(c))
        .collect()
}

/// Pairing-capable bundled channels, in the order OpenClaw lists them.
pub const PAIRING_CHANNELS: &[&str] = &[
    "telegram",
    "whatsapp",
    "discord",
    "irc",
    "googlechat",
    "slack",
    "signal",
    "imessage",
    "msteams",
    "mattermost",
    "feishu",
    "bluebubbles",
    "zalo",
    "zalouser",
    "synology-chat",
    "line",
    "matrix",
    "nextcloud-talk",
    "nostr",
    "twitch",
];
