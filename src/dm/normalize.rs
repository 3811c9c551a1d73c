//! Allow-list entry normalisation per channel (spec dm-pairing §4.2).
//!
//! OpenClaw runs a channel's normaliser only when that channel's plugin is
//! loaded, i.e. enabled in `openclaw.json`; callers pass that fact in
//! `plugin_loaded`, so clawpair writes exactly what OpenClaw would.

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
pub fn adapter_normalize(channel: &str, entry: &str) -> String {
    match channel {
        "telegram" => strip_any(entry, &["telegram:", "tg:"]).to_string(),
        "discord" => strip_any(entry, &["discord:", "user:"]).to_string(),
        "irc" => strip_any(strip_any(entry, &["irc:"]), &["user:"]).to_lowercase(),
        "googlechat" => {
            let s = strip_any(entry, &["googlechat:", "google-chat:", "gchat:"]);
            strip_any(strip_any(s, &["user:"]), &["users/"]).to_lowercase()
        }
        "slack" => strip_any(entry, &["slack:", "user:"]).to_string(),
        "signal" => strip_any(entry, &["signal:"]).to_string(),
        "msteams" => strip_any(entry, &["msteams:", "user:"]).to_string(),
        "mattermost" => {
            let s = strip_any(entry, &["mattermost:", "user:"]);
            s.strip_prefix('@').unwrap_or(s).to_lowercase()
        }
        "feishu" => strip_any(entry, &["feishu:", "user:", "open_id:"]).to_string(),
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
                s.to_lowercase()
            } else {
                s.chars().filter(|c| !c.is_whitespace()).collect()
            }
        }
        "zalo" => strip_any(entry, &["zalo:", "zl:"]).to_string(),
        "zalouser" => strip_any(entry, &["zalouser:", "zlu:"]).to_string(),
        "synology-chat" => entry.to_lowercase(),
        "line" => strip_any(entry, &["line:user:", "line:"]).to_string(),
        "nextcloud-talk" => {
            strip_any(entry, &["nextcloud-talk:", "nc-talk:", "nc:"]).to_lowercase()
        }
        "matrix" => strip_any(entry, &["matrix:"]).to_string(),
        "nostr" => normalize_nostr(entry),
        "twitch" => {
            let s = strip_any(entry, &["twitch:"]);
            let s = strip_any(s, &["user"]);
            s.strip_prefix(':').unwrap_or(s).to_string()
        }
        _ => entry.to_string(),
    }
}

/// `nostr:` stripped; 64 hex digits lower-cased; anything else unchanged.
/// (npub bech32 decoding is not done: such entries are kept as written, which
/// OpenClaw also does for any value it cannot decode.)
fn normalize_nostr(entry: &str) -> String {
    let s = strip_any(entry, &["nostr:"]);
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        s.to_lowercase()
    } else {
        s.to_string()
    }
}

/// Full entry normalisation: trim, drop blank and `*`, adapter (when the
/// plugin is loaded), trim again, drop blank. `None` = not storable.
pub fn normalize_entry(channel: &str, raw: &str, plugin_loaded: bool) -> Option<String> {
    let t = raw.trim();
    if t.is_empty() || t == "*" {
        return None;
    }
    let n = if plugin_loaded {
        adapter_normalize(channel, t)
    } else {
        t.to_string()
    };
    let n = n.trim();
    if n.is_empty() {
        None
    } else {
        Some(n.to_string())
    }
}

/// Normalises a list and removes duplicates, keeping the first occurrence.
pub fn normalize_list<'a>(
    channel: &str,
    entries: impl IntoIterator<Item = &'a str>,
    plugin_loaded: bool,
) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = Vec::new();
    for e in entries {
        if let Some(n) = normalize_entry(channel, e, plugin_loaded) {
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
