//! Pairing codes: 8 symbols drawn uniformly from a 32-symbol alphabet without
//! the look-alikes `0 O 1 I`, from the operating system's CSPRNG.

use rand::TryRngCore;

use crate::error::{Result, StoreError};

pub const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
pub const CODE_LENGTH: usize = 8;
const MAX_ATTEMPTS: usize = 500;

/// One fresh code. 32 symbols = 5 bits, so a byte masked to its low 5 bits is
/// uniform over the alphabet (no modulo bias).
pub fn random_code() -> Result<String> {
    let mut bytes = [0u8; CODE_LENGTH];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| StoreError::Invalid(format!("operating system random source failed: {e}")))?;
    Ok(bytes
        .iter()
        .map(|b| CODE_ALPHABET[(b & 0x1f) as usize] as char)
        .collect())
}

/// A code not in `taken` (compared trimmed and upper-cased); gives up after 500 tries.
pub fn unique_code<'a>(taken: impl Iterator<Item = &'a str> + Clone) -> Result<String> {
    for _ in 0..MAX_ATTEMPTS {
        let code = random_code()?;
        if !taken.clone().any(|t| t.trim().eq_ignore_ascii_case(&code)) {
            return Ok(code);
        }
    }
    Err(StoreError::CodeSpaceExhausted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_use_the_alphabet_only() {
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let c = random_code().unwrap();
            assert_eq!(c.len(), 8);
            for b in c.bytes() {
                assert!(CODE_ALPHABET.contains(&b), "{c}");
                seen.insert(b);
            }
        }
        assert_eq!(seen.len(), 32, "all 32 symbols appear in 16,000 draws");
    }

    #[test]
    fn unique_against_taken() {
        let taken = ["abcdefgh".to_string()];
        let c = unique_code(taken.iter().map(String::as_str)).unwrap();
        assert_ne!(c, "ABCDEFGH");
    }
}
