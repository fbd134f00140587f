//! Normalising names and phone numbers so operators find riders the way
//! callers say and write them.

/// The digits of a phone number: "+81 (172) 33-1234" and "０１７２−３３−１２３４"
/// both keep only their digits (full-width digits become ASCII).
pub fn phone_digits(phone: &str) -> String {
    phone.chars().filter_map(ascii_digit).collect()
}

fn ascii_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
        _ => None,
    }
}

/// The search key of a name or a kana reading: lower case, hiragana as
/// katakana (so "やまだ" finds "ヤマダ"), full-width Latin letters and digits as
/// ASCII, and no white space (so "山田太郎" finds "山田 太郎").
pub fn fold_for_search(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            // Hiragana ぁ..ゖ sit exactly 0x60 below katakana ァ..ヶ.
            '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            // Full-width ASCII ！..～ sit 0xFEE0 above ASCII.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Escape character of every LIKE pattern this crate builds; it is not
/// special in either backend's string literals (unlike a backslash).
pub(crate) const LIKE_ESCAPE: char = '!';

/// A LIKE pattern matching `needle` anywhere, with `%`, `_` and the escape
/// character taken literally.
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            pattern.push(LIKE_ESCAPE);
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_keep_only_digits() {
        assert_eq!(phone_digits("0172-33-1234"), "0172331234");
        assert_eq!(phone_digits("+81 (172) 33 1234"), "81172331234");
        assert_eq!(phone_digits("０１７２－３３－１２３４"), "0172331234");
        assert_eq!(phone_digits("none"), "");
    }

    #[test]
    fn names_fold_kana_case_width_and_spaces() {
        assert_eq!(fold_for_search("やまだ たろう"), "ヤマダタロウ");
        assert_eq!(fold_for_search("ヤマダ　タロウ"), "ヤマダタロウ");
        assert_eq!(fold_for_search("Ｙａｍａｄａ Taro"), "yamadataro");
        assert_eq!(fold_for_search("山田 太郎"), "山田太郎");
        assert_eq!(fold_for_search("ゔぁ"), "ヴァ");
    }

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("ab"), "%ab%");
        assert_eq!(contains_pattern("5%_!"), "%5!%!_!!%");
    }
}
