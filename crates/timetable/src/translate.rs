//! `translations.txt` in the three layouts real feeds use: modern GTFS
//! (`table_name, field_name, language, translation, record_id,
//! record_sub_id, field_value`), the legacy GTFS-JP v2 form without record
//! ids (`table_name, field_name, field_value, language, translation`), and
//! GTFS-JP v1 (`trans_id, lang, translation`, keyed by the Japanese text).

use crate::FeedError;
use crate::read::rows;
use std::collections::HashMap;

type Texts = Vec<(String, String)>;

/// Translations by record, by field value, and (v1) by the original text.
#[derive(Debug, Default)]
pub(crate) struct Translations {
    by_record: HashMap<(String, String, String), Texts>,
    by_value: HashMap<(String, String, String), Texts>,
    by_text: HashMap<String, Texts>,
}

impl Translations {
    pub(crate) fn read(file: &str, bytes: &[u8]) -> Result<Self, FeedError> {
        let mut t = Translations::default();
        rows(file, bytes, |row| {
            if let Some(key) = row.get("trans_id") {
                let lang = row.required("lang")?;
                let text = row.required("translation")?;
                t.by_text.entry(key.to_string()).or_default().push((lang.to_lowercase(), text.to_string()));
                return Ok(());
            }
            let table = row.required("table_name")?;
            let field = row.required("field_name")?;
            let lang = row.required("language")?.to_lowercase();
            let text = row.required("translation")?.to_string();
            let key = |k: &str| (table.to_string(), field.to_string(), k.to_string());
            if let Some(id) = row.get("record_id") {
                t.by_record.entry(key(id)).or_default().push((lang, text));
            } else if let Some(value) = row.get("field_value") {
                t.by_value.entry(key(value)).or_default().push((lang, text));
            } else {
                return Err(
                    row.error("record_id", "a translation needs a `record_id` or a `field_value`".into())
                );
            }
            Ok(())
        })?;
        Ok(t)
    }

    fn texts<'a>(
        &'a self,
        table: &str,
        field: &str,
        id: &str,
        text: &str,
    ) -> impl Iterator<Item = &'a (String, String)> {
        let key = |k: &str| (table.to_string(), field.to_string(), k.to_string());
        let by_record = self.by_record.get(&key(id));
        let by_value = self.by_value.get(&key(text));
        let by_text = self.by_text.get(text);
        by_record.into_iter().chain(by_value).chain(by_text).flatten()
    }

    /// The translation of `text` (field `table.field` of record `id`) into
    /// `lang`: the exact language first, then its primary subtag
    /// (`en-GB` → `en`); `ja-Hrkt` is never taken for `ja`.
    pub(crate) fn find(&self, table: &str, field: &str, id: &str, text: &str, lang: &str) -> Option<&str> {
        let lang = lang.to_lowercase();
        let exact = self.texts(table, field, id, text).find(|(l, _)| *l == lang);
        let mut subtags = lang.split('-');
        let primary = subtags.next().unwrap_or_default();
        // A region falls back (en-GB → en); a script does not (ja-Hrkt is kana, ja is kanji).
        let script = subtags.next().is_some_and(|t| t.len() == 4);
        exact
            .or_else(|| self.texts(table, field, id, text).find(|(l, _)| l == primary && !script))
            .map(|(_, t)| t.as_str())
            .filter(|t| !t.is_empty())
    }

    /// Every translation of `text`, for search.
    pub(crate) fn all<'a>(
        &'a self,
        table: &str,
        field: &str,
        id: &str,
        text: &str,
    ) -> impl Iterator<Item = &'a str> {
        self.texts(table, field, id, text).map(|(_, t)| t.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_three_layouts_are_read() {
        let modern = "table_name,field_name,language,translation,record_id,record_sub_id,field_value\n\
                      stops,stop_name,en,Aomori Station,S1,,\n\
                      routes,route_long_name,en,Loop,,,循環\n";
        let t = Translations::read("t.txt", modern.as_bytes()).unwrap();
        assert_eq!(t.find("stops", "stop_name", "S1", "青森駅", "en"), Some("Aomori Station"));
        assert_eq!(t.find("stops", "stop_name", "S2", "青森駅", "en"), None);
        assert_eq!(t.find("routes", "route_long_name", "R9", "循環", "en-GB"), Some("Loop"));
        let legacy = "\u{feff}table_name,field_name,field_value,language,translation\r\n\
                      stops,stop_name,青森駅,ja-Hrkt,あおもりえき\r\nstops,stop_name,青森駅,en,Aomori Sta.\r\n";
        let t = Translations::read("t.txt", legacy.as_bytes()).unwrap();
        assert_eq!(t.find("stops", "stop_name", "any", "青森駅", "ja-Hrkt"), Some("あおもりえき"));
        assert_eq!(t.find("stops", "stop_name", "any", "青森駅", "ja"), None, "a reading is not the name");
        let v1 = "trans_id,lang,translation\n絵鞆団地,ja-Hrkt,えともだんち\n";
        let t = Translations::read("t.txt", v1.as_bytes()).unwrap();
        assert_eq!(t.find("stops", "stop_name", "0001", "絵鞆団地", "ja-Hrkt"), Some("えともだんち"));
        let kanji_only = "trans_id,lang,translation\n絵鞆団地,ja,絵鞆団地\n";
        let t = Translations::read("t.txt", kanji_only.as_bytes()).unwrap();
        assert_eq!(
            t.find("stops", "stop_name", "0001", "絵鞆団地", "ja-Hrkt"),
            None,
            "kanji is not a reading"
        );
        let bad = "table_name,field_name,language,translation\nstops,stop_name,en,X\n";
        assert_eq!(
            Translations::read("t.txt", bad.as_bytes()).unwrap_err().to_string(),
            "t.txt:2:0: a translation needs a `record_id` or a `field_value`"
        );
    }
}
