//! Text as people search it: one key for the ways a Japanese name or
//! reading is written.

use unicode_normalization::UnicodeNormalization;

/// The search key of a name or a kana reading: NFKC (half-width kana and
/// full-width Latin letters and digits become their usual forms), hiragana
/// as katakana (so "やまだ" and "ﾔﾏﾀﾞ" find "ヤマダ"), lower case, and no white
/// space of either width (so "山田太郎" finds "山田 太郎").
pub fn fold_for_search(text: &str) -> String {
    text.nfkc()
        .filter(|c| !c.is_whitespace())
        .map(hiragana_as_katakana)
        .flat_map(char::to_lowercase)
        .collect()
}

/// Hiragana as the same katakana; any other character as it is.
pub fn hiragana_as_katakana(c: char) -> char {
    match c {
        // Hiragana ぁ..ゖ and the iteration marks ゝゞ sit exactly 0x60 below katakana.
        '\u{3041}'..='\u{3096}' | '\u{309D}'..='\u{309E}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
        _ => c,
    }
}
