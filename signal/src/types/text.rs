//! What a name or a title may hold: text a person typed, not control characters (a NUL breaks
//! C clients and logs; line breaks forge log lines) nor the invisible bidirectional controls
//! that make `gpj.exe` display as `exe.jpg` (CVE-2021-42574, "Trojan Source").

/// Why a piece of text was refused, for the 422's detail.
pub fn refused_character(text: &str) -> Option<char> {
    text.chars().find(|&c| c.is_control() || is_bidi_control(c))
}

/// The explicit directional formatting characters of Unicode's bidirectional algorithm
/// (UAX #9): embeddings, overrides, isolates and the implicit marks.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_refused() {
        assert_eq!(refused_character("Front door"), None);
        assert_eq!(refused_character("Küche – 東京 📷"), None);
        assert_eq!(refused_character("a\u{0}b"), Some('\u{0}'));
        assert_eq!(refused_character("line\nbreak"), Some('\n'));
        assert_eq!(refused_character("evil\u{202E}gpj.exe"), Some('\u{202E}'));
        assert_eq!(refused_character("\u{2066}x"), Some('\u{2066}'));
    }
}
