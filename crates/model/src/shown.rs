//! Values as they appear in messages people read: a number in a few
//! characters whatever its size, a long text as a short prefix. Error
//! messages use these so a strange input can never make a huge message.

use std::fmt;

/// A number for a message: plain when it reads well (`47.141`, `123`),
/// scientific when huge or tiny (`1e308`), never hundreds of digits.
#[derive(Debug, Clone, Copy)]
pub struct Shown(pub f64);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if !x.is_finite() {
            return write!(f, "{x}");
        }
        let a = x.abs();
        if a != 0.0 && !(1e-4..1e9).contains(&a) {
            return write!(f, "{x:e}");
        }
        let s = format!("{x:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        f.write_str(if s == "-0" { "0" } else { s })
    }
}

/// Characters of a text shown in a message at most.
pub const EXCERPT_CHARS: usize = 40;

/// The text itself when short, else its first [`EXCERPT_CHARS`] characters
/// and how long it was; control characters are shown as `U+XXXX`.
pub fn excerpt(s: &str) -> String {
    let count = s.chars().count();
    let mut out: String = s
        .chars()
        .take(EXCERPT_CHARS)
        .map(|c| if c.is_control() { format!("U+{:04X}", c as u32) } else { c.to_string() })
        .collect();
    if count > EXCERPT_CHARS {
        out.push_str(&format!("… ({count} characters)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_stay_short() {
        assert_eq!(Shown(1e308).to_string(), "1e308");
        assert_eq!(Shown(-1e308).to_string(), "-1e308");
        assert_eq!(Shown(123.0).to_string(), "123");
        assert_eq!(Shown(47.141).to_string(), "47.141");
        assert_eq!(Shown(-0.0).to_string(), "0");
        assert_eq!(Shown(1e-300).to_string(), "1e-300");
        assert_eq!(Shown(f64::NAN).to_string(), "NaN");
        assert!(Shown(f64::MAX).to_string().len() < 30);
    }

    #[test]
    fn long_texts_are_cut() {
        assert_eq!(excerpt("abc"), "abc");
        let long = "x".repeat(1_000_000);
        let e = excerpt(&long);
        assert!(e.len() < 80, "{e}");
        assert!(e.ends_with("(1000000 characters)"));
        assert_eq!(excerpt("a\u{0}b"), "aU+0000b");
        assert_eq!(excerpt(&"山".repeat(50)).chars().filter(|&c| c == '山').count(), EXCERPT_CHARS);
    }
}
