//! Readers for the benchmark instance formats. Errors name the file and the
//! 1-based line, so a bad instance is found without guessing.

use std::path::Path;

use crate::euclid::Euclidean;
use crate::problem::Problem;

pub mod cordeau;
pub mod generate;
pub mod lilim;

/// Why an instance could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{file}: cannot read: {source}")]
    Io { file: String, source: std::io::Error },
    #[error("{file}:{line}: {message}")]
    Line { file: String, line: usize, message: String },
    #[error("{file}: {message}")]
    File { file: String, message: String },
}

/// A parsed benchmark instance: the problem plus what maps it back to the file.
#[derive(Debug, Clone)]
pub struct Instance {
    /// File stem, e.g. `a2-16`.
    pub name: String,
    pub problem: Problem<Euclidean>,
}

pub(crate) fn read(path: &Path) -> Result<(String, String), ParseError> {
    let file = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|source| ParseError::Io { file: file.clone(), source })?;
    Ok((file, text))
}

pub(crate) fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Splits a line into numbers, naming the line on failure.
pub(crate) fn numbers(file: &str, line: usize, text: &str) -> Result<Vec<f64>, ParseError> {
    text.split_whitespace()
        .map(|tok| {
            tok.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| ParseError::Line {
                file: file.to_string(),
                line,
                message: format!("`{tok}` is not a finite number"),
            })
        })
        .collect()
}

/// The non-empty lines of an instance with their 1-based numbers, the header
/// line's number and its numbers.
pub(crate) fn header<'t>(text: &'t str, file: &str) -> Result<(Lines<'t>, usize, Vec<f64>), ParseError> {
    let mut lines: Lines<'t> =
        text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return Err(ParseError::File { file: file.into(), message: "file is empty".into() });
    }
    let (hl, header) = lines.remove(0);
    let h = numbers(file, hl, header)?;
    Ok((lines, hl, h))
}

/// Numbered non-empty lines of an instance.
pub(crate) type Lines<'t> = Vec<(usize, &'t str)>;

/// A node line: at least `want` numbers laid out as `layout`, the first being
/// the node id, which must equal its position in the file, and a time window
/// `[v[earliest], v[earliest + 1]]` that is not empty.
pub(crate) fn node_line(
    file: &str,
    (line, text): (usize, &str),
    (want, layout): (usize, &str),
    expected_id: usize,
    earliest: usize,
) -> Result<Vec<f64>, ParseError> {
    let v = numbers(file, line, text)?;
    if v.len() < want {
        return Err(line_err(
            file,
            line,
            format!("node line needs `{layout}` ({want} numbers), found {}", v.len()),
        ));
    }
    let id = count(file, line, "node id", v[0])?;
    if id as usize != expected_id {
        return Err(line_err(file, line, format!("expected node {expected_id}, found node {id}")));
    }
    if v[earliest] > v[earliest + 1] {
        return Err(line_err(
            file,
            line,
            format!("time window [{}, {}] is empty", v[earliest], v[earliest + 1]),
        ));
    }
    Ok(v)
}

pub(crate) fn line_err(file: &str, line: usize, message: impl Into<String>) -> ParseError {
    ParseError::Line { file: file.to_string(), line, message: message.into() }
}

/// A non-negative integer field.
pub(crate) fn count(file: &str, line: usize, what: &str, v: f64) -> Result<u32, ParseError> {
    if v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX) {
        Ok(v as u32)
    } else {
        Err(line_err(file, line, format!("{what} must be a non-negative integer, got {v}")))
    }
}
