//! Terminal notifications for new requests: the bell, plus OSC 9 or OSC 777
//! where the terminal is known to show them. The text is generic, never a code.

use crate::clipboard::tmux_wrap;

/// Which desktop-notification escape the terminal understands, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Osc {
    None,
    /// `OSC 9 ; text` (iTerm2, WezTerm, Windows Terminal, ghostty, kitty).
    Nine,
    /// `OSC 777 ; notify ; title ; text` (VTE terminals, foot, urxvt).
    SevenSevenSeven,
}

pub fn detect(env: &dyn Fn(&str) -> Option<String>) -> Osc {
    let has = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    let prog = env("TERM_PROGRAM").unwrap_or_default();
    let term = env("TERM").unwrap_or_default();
    if matches!(prog.as_str(), "iTerm.app" | "WezTerm" | "ghostty")
        || has("WT_SESSION")
        || term.contains("kitty")
        || term.contains("ghostty")
    {
        Osc::Nine
    } else if has("VTE_VERSION") || term.starts_with("foot") || term.starts_with("rxvt") {
        Osc::SevenSevenSeven
    } else {
        Osc::None
    }
}

/// The bytes to write for a notification.
pub fn sequence(text: &str, osc: Osc, in_tmux: bool) -> String {
    let text = crate::sanitize::for_terminal(text).replace(';', ",");
    let body = match osc {
        Osc::None => String::new(),
        Osc::Nine => format!("\u{1b}]9;{text}\u{7}"),
        Osc::SevenSevenSeven => format!("\u{1b}]777;notify;clawpair;{text}\u{7}"),
    };
    let body = if in_tmux && !body.is_empty() {
        tmux_wrap(&body)
    } else {
        body
    };
    format!("\u{7}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences() {
        assert_eq!(sequence("New request", Osc::None, false), "\u{7}");
        assert_eq!(
            sequence("New request", Osc::Nine, false),
            "\u{7}\u{1b}]9;New request\u{7}"
        );
        assert!(sequence("x", Osc::SevenSevenSeven, true).starts_with("\u{7}\u{1b}Ptmux;"));
        let env = |k: &str| (k == "TERM_PROGRAM").then(|| "WezTerm".to_string());
        assert_eq!(detect(&env), Osc::Nine);
    }
}
