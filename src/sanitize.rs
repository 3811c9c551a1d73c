//! Text that devices and senders supply is untrusted: before it reaches a
//! terminal every control character (C0, DEL, C1) and every escape sequence is
//! removed, and bidi overrides that could reorder what the owner reads are dropped.

/// Removes ANSI escape sequences and control characters; tabs and newlines become spaces.
pub fn for_terminal(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            '\u{9b}' => skip_csi_body(&mut chars),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            // Bidi embeddings/overrides/isolates and zero-width joiners used for spoofing.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => {}
            c => out.push(c),
        }
    }
    out
}

fn skip_csi_body(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    // Parameters and intermediates, then one final byte in 0x40..=0x7e.
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            break;
        }
    }
}

fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => skip_csi_body(chars),
        // OSC, DCS, SOS, PM, APC: until BEL or ST (ESC \).
        Some(']') | Some('P') | Some('X') | Some('^') | Some('_') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' {
                    break;
                }
                if c == '\u{1b}' {
                    if chars.peek() == Some(&'\\') {
                        chars.next();
                    }
                    break;
                }
            }
        }
        // Two-byte sequences (ESC c, ESC 7, …): the one character is dropped with ESC.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::for_terminal;

    #[test]
    fn strips_escapes_and_controls() {
        assert_eq!(for_terminal("ok"), "ok");
        assert_eq!(for_terminal("a\u{1b}[31mred\u{1b}[0m"), "ared");
        assert_eq!(for_terminal("x\u{1b}]0;title\u{7}y"), "xy");
        assert_eq!(for_terminal("x\u{1b}]52;c;ZZZ\u{1b}\\y"), "xy");
        assert_eq!(for_terminal("bell\u{7}\u{0}\u{7f}\u{85}"), "bell");
        assert_eq!(for_terminal("two\nlines\t!"), "two lines !");
        assert_eq!(for_terminal("abc\u{202e}fed"), "abcfed");
        assert_eq!(for_terminal("tail\u{1b}"), "tail");
        assert_eq!(for_terminal("ünïcødé ✓"), "ünïcødé ✓");
    }
}
