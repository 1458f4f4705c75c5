//! What a backfill wrote and what it did not, for the summary at the end.

use std::fmt::Write as _;

use chrono::{Duration, NaiveDate};

use super::openmetrics::Written;

/// Why a collector's remaining days were not asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    /// The first day not written.
    pub at: NaiveDate,
    /// Days not asked for from `at` on, `at` included.
    pub left: u64,
    pub why: String,
}

/// One collector of one app.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    pub app: String,
    pub collector: &'static str,
    pub written: u64,
    /// Days whose newest period (a week, a month) began before the range: left out.
    pub earlier: u64,
    /// Days WeChat answered with no data: skipped.
    pub no_data: Vec<NaiveDate>,
    /// Days that failed, with the error.
    pub failed: Vec<(NaiveDate, String)>,
    pub stopped: Option<Stop>,
}

impl Tally {
    pub fn new(app: &str, collector: &'static str) -> Tally {
        Tally { app: app.to_string(), collector, written: 0, earlier: 0, no_data: Vec::new(), failed: Vec::new(), stopped: None }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub step_secs: u64,
    pub apps: usize,
    pub tallies: Vec<Tally>,
    /// (app, collector) pairs that have no daily data to ask for.
    pub left_out: Vec<(String, &'static str)>,
    pub written: Written,
}

impl Report {
    /// Whether everything asked for was either written or had no data at WeChat.
    pub fn complete(&self) -> bool {
        self.tallies.iter().all(|t| t.failed.is_empty() && t.stopped.is_none())
    }

    /// The summary printed at the end, one line per collector of each app.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        if let (Some(from), Some(to)) = (self.from, self.to) {
            let days = (to - from).num_days() + 1;
            let _ = writeln!(
                out,
                "backfill: {from} to {to} ({days} days, UTC+8) for {} apps, a sample every {}",
                self.apps,
                humantime::format_duration(std::time::Duration::from_secs(self.step_secs))
            );
        }
        for t in &self.tallies {
            let _ = write!(out, "  {} {}: {} written", t.app, t.collector, days(t.written));
            if t.earlier > 0 {
                let _ = write!(out, "; {} before its first complete period in the range", days(t.earlier));
            }
            if !t.no_data.is_empty() {
                let _ = write!(out, "; no data at WeChat, skipped: {}", ranges(&t.no_data));
            }
            if !t.failed.is_empty() {
                let dates: Vec<NaiveDate> = t.failed.iter().map(|(d, _)| *d).collect();
                let last = t.failed.last().map(|(_, e)| e.as_str()).unwrap_or_default();
                let _ = write!(out, "; failed: {} (last error: {last})", ranges(&dates));
            }
            if let Some(s) = &t.stopped {
                let _ = write!(out, "; stopped at {}, {} not written: {}", s.at, days(s.left), s.why);
            }
            out.push('\n');
        }
        for (app, collector) in &self.left_out {
            let _ = writeln!(out, "  {app} {collector}: not daily data; nothing to backfill");
        }
        let w = &self.written;
        let _ = writeln!(
            out,
            "wrote {} samples of {} series in {} families ({:.1} MiB){}",
            w.samples,
            w.series,
            w.families,
            w.bytes as f64 / (1024.0 * 1024.0),
            if self.complete() { "" } else { "; some days were not written, see above" }
        );
        out
    }
}

fn days(n: u64) -> String {
    if n == 1 { "1 day".into() } else { format!("{n} days") }
}

/// Sorted days as runs: `2026-01-01..2026-01-03, 2026-01-07`.
pub fn ranges(days: &[NaiveDate]) -> String {
    let mut sorted = days.to_vec();
    sorted.sort();
    sorted.dedup();
    let mut runs: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for d in sorted {
        match runs.last_mut() {
            Some((_, end)) if *end + Duration::days(1) == d => *end = d,
            _ => runs.push((d, d)),
        }
    }
    runs.iter()
        .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}..{b}") })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn days_read_as_runs() {
        let list = [d("2026-01-07"), d("2026-01-01"), d("2026-01-02"), d("2026-01-03"), d("2026-01-02")];
        assert_eq!(ranges(&list), "2026-01-01..2026-01-03, 2026-01-07");
        assert_eq!(ranges(&[]), "");
    }

    #[test]
    fn the_summary_says_what_was_and_was_not_written() {
        let mut ok = Tally::new("shop", "visit_trend");
        ok.written = 14;
        ok.no_data = vec![d("2026-01-01")];
        let mut r = Report {
            from: Some(d("2026-01-01")),
            to: Some(d("2026-01-15")),
            step_secs: 300,
            apps: 2,
            tallies: vec![ok],
            left_out: vec![("shop".into(), "realtime_log")],
            written: Written { families: 3, series: 20, samples: 5760, bytes: 3 << 20 },
        };
        let s = r.summary();
        assert!(r.complete(), "a day without data is no failure");
        assert!(s.contains("2026-01-01 to 2026-01-15 (15 days, UTC+8) for 2 apps, a sample every 5m"), "{s}");
        assert!(s.contains("shop visit_trend: 14 days written; no data at WeChat, skipped: 2026-01-01"), "{s}");
        assert!(s.contains("shop realtime_log: not daily data"), "{s}");
        assert!(s.contains("wrote 5760 samples of 20 series in 3 families (3.0 MiB)\n"), "{s}");

        let mut quota = Tally::new("news", "interface_summary");
        quota.written = 4;
        quota.failed = vec![(d("2026-01-02"), "HTTP status 502".into())];
        quota.stopped = Some(Stop { at: d("2026-01-06"), left: 10, why: "daily quota".into() });
        r.tallies.push(quota);
        let s = r.summary();
        assert!(!r.complete());
        assert!(s.contains("news interface_summary: 4 days written; failed: 2026-01-02 (last error: HTTP status 502); stopped at 2026-01-06, 10 days not written: daily quota"), "{s}");
        assert!(s.contains("some days were not written"), "{s}");
    }
}
