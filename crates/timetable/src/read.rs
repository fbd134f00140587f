//! Reading a feed's CSV files from a zip or a directory, as real feeds
//! write them: a byte-order mark, CRLF line ends, stray spaces, columns in
//! any order. Every error names the file, line and column.

use crate::FeedError;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// No file of a feed is read past this (a zip bomb stops here).
const MAX_FILE_BYTES: u64 = 1 << 30;

/// Where a feed's files are.
pub(crate) enum Source {
    Dir(PathBuf),
    Zip(zip::ZipArchive<std::fs::File>),
}

impl Source {
    pub(crate) fn open(path: &Path) -> Result<Self, FeedError> {
        let fail = |message: String| FeedError::Open { path: path.display().to_string(), message };
        if path.is_dir() {
            return Ok(Source::Dir(path.to_path_buf()));
        }
        let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
        let zip =
            zip::ZipArchive::new(file).map_err(|e| fail(format!("not a zip file or a directory: {e}")))?;
        Ok(Source::Zip(zip))
    }

    /// The bytes of `name`, or `None` if the feed has no such file. A zip
    /// may keep its files in one folder.
    pub(crate) fn read(&mut self, feed: &str, name: &str) -> Result<Option<Vec<u8>>, FeedError> {
        let fail = |message: String| FeedError::Open { path: format!("{feed}/{name}"), message };
        let mut bytes = Vec::new();
        match self {
            Source::Dir(dir) => {
                let path = dir.join(name);
                if !path.exists() {
                    return Ok(None);
                }
                let file = std::fs::File::open(&path).map_err(|e| fail(e.to_string()))?;
                file.take(MAX_FILE_BYTES).read_to_end(&mut bytes).map_err(|e| fail(e.to_string()))?;
            }
            Source::Zip(zip) => {
                let Some(index) = (0..zip.len()).find(|&i| {
                    zip.name_for_index(i).is_some_and(|n| n == name || n.ends_with(&format!("/{name}")))
                }) else {
                    return Ok(None);
                };
                let entry = zip.by_index(index).map_err(|e| fail(e.to_string()))?;
                entry.take(MAX_FILE_BYTES).read_to_end(&mut bytes).map_err(|e| fail(e.to_string()))?;
            }
        }
        if bytes.len() as u64 >= MAX_FILE_BYTES {
            return Err(fail(format!("larger than {} MB", MAX_FILE_BYTES >> 20)));
        }
        Ok(Some(bytes))
    }
}

/// One row of a table, read by column name.
pub(crate) struct Row<'a> {
    file: &'a str,
    line: u64,
    columns: &'a HashMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl<'a> Row<'a> {
    /// The trimmed value of `column`, `None` when the column is missing or empty.
    pub(crate) fn get(&self, column: &str) -> Option<&'a str> {
        let i = *self.columns.get(column)?;
        let v = self.record.get(i)?.trim();
        (!v.is_empty()).then_some(v)
    }

    /// The value of a column the row must have.
    pub(crate) fn required(&self, column: &str) -> Result<&'a str, FeedError> {
        self.get(column).ok_or_else(|| self.error(column, format!("`{column}` is required")))
    }

    /// A parsed value of `column` (empty: `None`).
    pub(crate) fn parse<T>(
        &self,
        column: &str,
        what: &str,
        f: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, FeedError> {
        match self.get(column) {
            None => Ok(None),
            Some(v) => f(v).map(Some).ok_or_else(|| {
                self.error(column, format!("`{column}` is not {what}: `{}`", noriai_model::excerpt(v)))
            }),
        }
    }

    /// An error at this row's `column` (its position in the header, from 1).
    pub(crate) fn error(&self, column: &str, message: String) -> FeedError {
        FeedError::At {
            file: self.file.to_string(),
            line: self.line,
            column: self.columns.get(column).map_or(0, |i| i + 1),
            message,
        }
    }
}

/// Calls `each` for every row of CSV `bytes` (named `file` in errors).
pub(crate) fn rows(
    file: &str,
    bytes: &[u8],
    mut each: impl FnMut(&Row<'_>) -> Result<(), FeedError>,
) -> Result<(), FeedError> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    // The csv crate's own line numbers count a CRLF and blank lines its own
    // way; lines are counted here from the byte where a record starts.
    let mut counted = (0usize, 1u64);
    let mut line_at = |byte: u64| -> u64 {
        let mut b = (byte as usize).min(bytes.len());
        if b < counted.0 {
            counted = (0, 1);
        }
        counted.1 += bytes[counted.0..b].iter().filter(|&&c| c == b'\n').count() as u64;
        counted.0 = b;
        let mut line = counted.1;
        while b < bytes.len() && matches!(bytes[b], b'\r' | b'\n') {
            line += u64::from(bytes[b] == b'\n');
            b += 1;
        }
        line
    };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let at = |e: &csv::Error, line_at: &mut dyn FnMut(u64) -> u64| {
        let (pos, column) = match e.kind() {
            csv::ErrorKind::Utf8 { pos, err } => (pos.clone(), err.field() + 1),
            _ => (e.position().cloned(), 0),
        };
        let line = pos.map_or(0, |p| line_at(p.byte()));
        FeedError::At { file: file.to_string(), line, column, message: e.to_string() }
    };
    let headers = reader.headers().map_err(|e| at(&e, &mut line_at))?.clone();
    let columns: HashMap<String, usize> =
        headers.iter().enumerate().map(|(i, h)| (h.trim().to_string(), i)).collect();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                if record.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                let line = record.position().map_or(0, |p| line_at(p.byte()));
                each(&Row { file, line, columns: &columns, record: &record })?;
            }
            Err(e) => return Err(at(&e, &mut line_at)),
        }
    }
}

/// A GTFS time of day: `H:MM:SS` with hours past 24 for trips after
/// midnight, and without zero padding (`9:46:00`). Seconds after the
/// service day's noon minus twelve hours.
pub(crate) fn gtfs_time(text: &str) -> Option<u32> {
    let mut parts = text.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || h.is_empty() || h.len() > 3 || m.len() != 2 || s.len() != 2 {
        return None;
    }
    let (h, m, s): (u32, u32, u32) = (h.parse().ok()?, m.parse().ok()?, s.parse().ok()?);
    (m < 60 && s < 60).then_some(h * 3600 + m * 60 + s)
}

/// A GTFS date, `YYYYMMDD`.
pub(crate) fn gtfs_date(text: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text, "%Y%m%d").ok().filter(|_| text.len() == 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_may_pass_midnight_and_skip_padding() {
        assert_eq!(gtfs_time("9:46:00"), Some(9 * 3600 + 46 * 60));
        assert_eq!(gtfs_time("25:10:00"), Some(25 * 3600 + 600));
        assert_eq!(gtfs_time("09:60:00"), None);
        assert_eq!(gtfs_time("9:4:00"), None);
        assert_eq!(gtfs_time("9:46"), None);
        assert_eq!(gtfs_date("20231204"), chrono::NaiveDate::from_ymd_opt(2023, 12, 4));
        assert_eq!(gtfs_date("2023-12-04"), None);
    }

    #[test]
    fn rows_skip_the_byte_order_mark_and_name_their_place() {
        let text = "\u{feff}stop_id, stop_name\r\nA,Aomori\r\n\r\nB,\r\n";
        let mut seen = Vec::new();
        let err = rows("stops.txt", text.as_bytes(), |row| {
            seen.push(row.required("stop_id")?.to_string());
            row.required("stop_name").map(|_| ())
        })
        .unwrap_err();
        assert_eq!(seen, ["A", "B"]);
        assert_eq!(err.to_string(), "stops.txt:4:2: `stop_name` is required");
    }
}
