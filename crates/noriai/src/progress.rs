//! Progress bars for long steps, on stderr so stdout stays machine-readable.

use indicatif::{ProgressBar, ProgressStyle};
use std::cell::RefCell;

/// Shows one bar or spinner per stage of a long job.
pub struct Bars {
    current: RefCell<Option<ProgressBar>>,
}

impl Bars {
    pub fn new() -> Self {
        Self { current: RefCell::new(None) }
    }
    pub fn finish(&self) {
        if let Some(b) = self.current.borrow_mut().take() {
            b.finish_and_clear();
        }
    }
}

impl noriai_roads::Progress for Bars {
    fn stage(&self, name: &str, total: Option<u64>) {
        self.finish();
        let bar = match total {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template("{msg:>16} [{bar:30}] {pos}/{len} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{msg:>16} {spinner} {pos} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message(name.to_string());
        *self.current.borrow_mut() = Some(bar);
    }
    fn inc(&self, n: u64) {
        if let Some(b) = self.current.borrow().as_ref() {
            b.inc(n);
        }
    }
}
