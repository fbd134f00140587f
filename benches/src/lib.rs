//! Shared helpers for the noriai benches: locating data and summarising timings.

use std::path::PathBuf;
use std::time::Duration;

/// The repository root (benches run from anywhere).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shared data directory (`../shared/data` beside the repository), or
/// `NORIAI_SHARED_DATA` when set.
pub fn shared_data() -> PathBuf {
    std::env::var_os("NORIAI_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/data"))
}

/// The `q`-quantile (0..=1) of some durations, by nearest rank.
pub fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[i.min(samples.len() - 1)]
}

/// Formats a duration with a unit that suits its size.
pub fn fmt(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.2} µs", s * 1e6)
    }
}
