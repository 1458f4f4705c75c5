//! Progress on stderr: days done out of days, and the time left. Drawn only when
//! stderr is a terminal; messages go out either way.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// `days` is the number of (app, day) pairs to ask for.
    pub fn new(days: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(days), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} days, {eta} left  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix("backfill");
        Progress { bar }
    }

    /// Names what is being asked for now.
    pub fn at(&self, what: String) {
        self.bar.set_message(what);
    }

    pub fn day_done(&self) {
        self.bar.inc(1);
    }

    /// Days that need no asking (an app with no daily collector).
    pub fn skip(&self, days: u64) {
        self.bar.inc(days);
    }

    /// A line on stderr, above the bar when there is one.
    pub fn say(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
