//! Channel and account ids → file names (spec dm-pairing §1.4, §7.1).

use crate::error::{Result, StoreError};

/// Derives the file-name key of a channel or account id: trim, lower-case,
/// each of `\ / : * ? " < > |` → `_`, then every `..` → `_`.
/// `None` when the result is empty or exactly `_`.
pub fn file_key(raw: &str) -> Option<String> {
    let lowered = raw.trim().to_lowercase();
    let replaced: String = lowered
        .chars()
        .map(|c| match c {
            '\\' | '/' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c => c,
        })
        .collect();
    let key = replaced.replace("..", "_");
    if key.is_empty() || key == "_" {
        None
    } else {
        Some(key)
    }
}

pub fn channel_key(channel: &str) -> Result<String> {
    file_key(channel).ok_or(StoreError::InvalidChannelKey)
}

/// Account key for a non-blank account id; `Ok(None)` for an absent/blank one.
pub fn account_key(account: Option<&str>) -> Result<Option<String>> {
    match account.map(str::trim).filter(|a| !a.is_empty()) {
        None => Ok(None),
        Some(a) => file_key(a).map(Some).ok_or(StoreError::InvalidAccountKey),
    }
}

pub fn pairing_file_name(channel: &str) -> Result<String> {
    Ok(format!("{}-pairing.json", channel_key(channel)?))
}

/// `<channel>-allowFrom.json` or `<channel>-<account>-allowFrom.json`.
pub fn allow_file_name(channel: &str, account: Option<&str>) -> Result<String> {
    let ch = channel_key(channel)?;
    Ok(match account_key(account)? {
        None => format!("{ch}-allowFrom.json"),
        Some(acc) => format!("{ch}-{acc}-allowFrom.json"),
    })
}

/// What the CLI accepts as a channel name it does not know: `^[a-z][a-z0-9_-]{0,63}$`
/// after trimming and lower-casing.
pub fn is_valid_channel_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_lowercase()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// Normalises a requested account id the way requests record it: trimmed,
/// lower-cased, `default` when blank.
pub fn request_account(account: Option<&str>) -> String {
    match account.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => a.to_lowercase(),
        None => "default".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_openclaw() {
        assert_eq!(
            pairing_file_name("My:Chan").unwrap(),
            "my_chan-pairing.json"
        );
        assert_eq!(
            allow_file_name("A..B", Some("Acct..2")).unwrap(),
            "a_b-acct_2-allowFrom.json"
        );
        assert_eq!(
            allow_file_name("telegram", Some("Team/One")).unwrap(),
            "telegram-team_one-allowFrom.json"
        );
        assert_eq!(
            allow_file_name("telegram", Some("  ")).unwrap(),
            "telegram-allowFrom.json"
        );
        assert_eq!(
            allow_file_name("telegram", Some("default")).unwrap(),
            "telegram-default-allowFrom.json"
        );
        assert!(matches!(
            pairing_file_name("  "),
            Err(StoreError::InvalidChannelKey)
        ));
        assert!(matches!(
            pairing_file_name("/"),
            Err(StoreError::InvalidChannelKey)
        ));
        assert!(matches!(
            allow_file_name("x", Some("..")),
            Err(StoreError::InvalidAccountKey)
        ));
        assert_eq!(file_key("a...b").unwrap(), "a_.b");
    }

    #[test]
    fn channel_pattern() {
        assert!(is_valid_channel_id("telegram"));
        assert!(is_valid_channel_id("synology-chat"));
        assert!(!is_valid_channel_id("bad!"));
        assert!(!is_valid_channel_id("1abc"));
        assert!(!is_valid_channel_id(&"a".repeat(65)));
        assert!(is_valid_channel_id(&"a".repeat(64)));
    }
}
