//! When a live exporter serves a period's values, and the sample times backfill
//! writes them at.
//!
//! A live exporter serves day D's values from D+1 00:00 (UTC+8), when WeChat has
//! them, until D+2 00:00, when D+1's take over. Backfill writes D over the same
//! window, so history and live data join without a gap or a change of meaning.

use chrono::{Duration, NaiveDate};

use crate::cst;

/// A half-open span of Unix seconds, [start, end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

impl Window {
    /// Where day `d`'s values are served: all of the next day, UTC+8.
    pub fn day(d: NaiveDate) -> Window {
        Window { start: cst::day_start(d + Duration::days(1)), end: cst::day_start(d + Duration::days(2)) }
    }

    /// From the start of `first`'s window to the end of `last`'s.
    pub fn span(first: Window, last: Window) -> Window {
        Window { start: first.start, end: last.end }
    }

    /// The window with nothing after `now`: no sample is written for a moment that
    /// has not come yet.
    pub fn until(self, now: i64) -> Window {
        Window { start: self.start, end: self.end.min(now.saturating_add(1)) }
    }

    /// The sample times: the start, and every `step` seconds after it inside the window.
    pub fn times(self, step: i64) -> impl Iterator<Item = i64> {
        let step = step.max(1);
        let n = if self.end > self.start { (self.end - self.start + step - 1) / step } else { 0 };
        (0..n).map(move |k| self.start + k * step)
    }
}

/// Every day from `from` to `to`, both included.
pub fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_day_is_served_all_of_the_next_day_utc8() {
        let w = Window::day(d("2026-03-01"));
        // 2026-03-02 00:00 UTC+8 is 2026-03-01 16:00 UTC.
        assert_eq!(w.start, chrono::DateTime::parse_from_rfc3339("2026-03-01T16:00:00Z").unwrap().timestamp());
        assert_eq!(w.end - w.start, 86_400);
        assert_eq!(Window::day(d("2026-03-02")).start, w.end, "one day's window ends where the next one's starts");
    }

    #[test]
    fn times_cover_the_window_at_each_step() {
        let w = Window { start: 1000, end: 1000 + 86_400 };
        let t: Vec<i64> = w.times(300).collect();
        assert_eq!(t.len(), 288);
        assert_eq!((t[0], t[287]), (1000, 1000 + 86_400 - 300));
        assert_eq!(Window { start: 0, end: 10 }.times(3).collect::<Vec<_>>(), [0, 3, 6, 9]);
        assert_eq!(Window { start: 5, end: 5 }.times(3).count(), 0);
        assert_eq!(Window { start: 9, end: 5 }.times(3).count(), 0);
    }

    #[test]
    fn nothing_after_now() {
        let w = Window { start: 0, end: 100 };
        assert_eq!(w.until(30).times(10).collect::<Vec<_>>(), [0, 10, 20, 30], "now itself is a sample time");
        assert_eq!(w.until(1000), w);
        assert_eq!(w.until(-5).times(10).count(), 0);
    }

    #[test]
    fn days_are_inclusive() {
        assert_eq!(days(d("2026-02-27"), d("2026-03-01")).count(), 3, "2026 is no leap year");
        assert_eq!(days(d("2026-03-01"), d("2026-03-01")).count(), 1);
        assert_eq!(days(d("2026-03-02"), d("2026-03-01")).count(), 0);
    }
}
