//! Normalising names and phone numbers so operators find riders the way
//! callers say and write them.

pub use noriai_model::text::fold_for_search;
use noriai_model::text::hiragana_as_katakana;
use unicode_normalization::UnicodeNormalization;

/// A phone number as an operator types it, made plain: full-width digits and
/// signs as ASCII (`０１７－７３４` → `017-734`), the Japanese dashes and long
/// vowel mark people type for a hyphen as `-`, and an international `+81`
/// written as the domestic leading 0 (`+81-17-734-1111` → `017-734-1111`).
pub fn plain_phone(phone: &str) -> String {
    let ascii: String = phone
        .nfkc()
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' | '\u{FF70}' => '-',
            _ => c,
        })
        .collect();
    let t = ascii.trim();
    match t.strip_prefix("+81").or_else(|| t.strip_prefix("+ 81")) {
        Some(rest) => {
            let rest = rest.trim_start_matches([' ', '-', '(']).trim_start_matches('0');
            let rest = rest.strip_prefix(')').unwrap_or(rest);
            format!("0{}", rest.trim_start_matches([' ', '-']))
        }
        None => t.to_string(),
    }
}

/// The digits of a phone number after [`plain_phone`]: "+81 (172) 33-1234",
/// "０１７２－３３－１２３４" and "0172-33-1234" all give "0172331234", so a
/// number is found and kept unique however it was written.
pub fn phone_digits(phone: &str) -> String {
    plain_phone(phone).chars().filter(char::is_ascii_digit).collect()
}

/// A kana reading as stored: NFKC, hiragana as katakana, runs of white space
/// as one ASCII space. `None` if it holds anything but kana, the long vowel
/// mark, the middle dot and spaces (a reading must be speakable as written).
pub fn reading(text: &str) -> Option<String> {
    let mut out = String::new();
    for c in text.nfkc().map(hiragana_as_katakana) {
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else if matches!(c, '\u{30A1}'..='\u{30FA}' | '\u{30FC}'..='\u{30FE}' | '・' | '\u{3099}'..='\u{309C}')
        {
            out.push(c);
        } else {
            return None;
        }
    }
    let out = out.trim_end().to_string();
    (!out.is_empty()).then_some(out)
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
    fn phone_numbers_keep_only_their_domestic_digits() {
        assert_eq!(phone_digits("0172-33-1234"), "0172331234");
        assert_eq!(phone_digits("+81 (172) 33 1234"), "0172331234");
        assert_eq!(phone_digits("+81-17-734-1111"), "0177341111");
        assert_eq!(phone_digits("+81 (0)17 734 1111"), "0177341111");
        assert_eq!(phone_digits("＋８１－１７－７３４－１１１１"), "0177341111");
        assert_eq!(phone_digits("０１７２－３３－１２３４"), "0172331234");
        assert_eq!(phone_digits("017ー734ー1111"), "0177341111");
        assert_eq!(phone_digits("none"), "");
        assert_eq!(plain_phone("０１７－７３４－１１１１"), "017-734-1111");
        assert_eq!(plain_phone("+81-17-734-1111"), "017-734-1111");
        assert_eq!(plain_phone("017−734‐1111"), "017-734-1111");
    }

    #[test]
    fn readings_are_kana_only() {
        assert_eq!(reading("やまだ　はなこ").as_deref(), Some("ヤマダ ハナコ"));
        assert_eq!(reading("ﾔﾏﾀﾞ ﾊﾅｺ").as_deref(), Some("ヤマダ ハナコ"));
        assert_eq!(reading(" サトウ・ユーコ ").as_deref(), Some("サトウ・ユーコ"));
        assert_eq!(reading("abc"), None);
        assert_eq!(reading("山田"), None);
        assert_eq!(reading("  "), None);
    }

    #[test]
    fn names_fold_kana_case_width_and_spaces() {
        assert_eq!(fold_for_search("やまだ たろう"), "ヤマダタロウ");
        assert_eq!(fold_for_search("ヤマダ　タロウ"), "ヤマダタロウ");
        assert_eq!(fold_for_search("Ｙａｍａｄａ Taro"), "yamadataro");
        assert_eq!(fold_for_search("山田 太郎"), "山田太郎");
        assert_eq!(fold_for_search("ゔぁ"), "ヴァ");
        assert_eq!(fold_for_search("ﾔﾏﾀﾞ"), fold_for_search("ヤマダ"));
        assert_eq!(fold_for_search("ｻﾄｳ ﾕｰｺ"), "サトウユーコ");
    }

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("ab"), "%ab%");
        assert_eq!(contains_pattern("5%_!"), "%5!%!_!!%");
    }
}
