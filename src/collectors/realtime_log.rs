//! `realtime_log`: realtimelogSearch, counted into
//! `wechat_realtime_log_records_total{level}` (and `url` with `by_url`).
//!
//! The collector walks time forward in windows from the exporter's start. A
//! window `[start, end)` is searched only once `end` is at least `settle` in the
//! past, since records reach WeChat's index some seconds after they are logged;
//! once counted, a window is never searched again, so no record is counted twice.
//! A search is bounded to one `date` (UTC+8), so windows end at midnight UTC+8.
//! Window edges sit on a 10-second grid: midnight is on it, and no window is ever
//! shorter than the two seconds WeChat needs (`endtime` must exceed `begintime`).
//!
//! Counting, without `by_url`: WeChat's `level` filter returns records whose level
//! is at least the one asked for, and `total` counts them, so three searches with
//! `limit=1` give the breakdown without paging. `level` is an OR of 2, 4 and 8,
//! and "at least 8" holds exactly when the error bit is set, so
//!   error = total(level>=8), warn = total(level>=4) - error,
//!   info = total(any level) - total(level>=4).
//! They run from the broadest down and stop at the first 0: an empty window costs
//! one search, a window with no warnings or errors two. With `by_url` each
//! record's `url` is needed, so the window is paged (`start`/`limit`); if `total`
//! changes between pages the window is read again from the first page.
//!
//! Budget: at most `budget` searches in any rolling minute (WeChat refuses more
//! than 50), timed by the poll's clock. A window left unfinished (out of budget,
//! 200010, an error) keeps its progress and resumes at the next poll.

pub mod sim;

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};

use super::kind::{MINI_PROGRAM, MINUTE};
use super::{BoxFuture, Collector, Kind, Output, PollContext, Route};
use crate::cst;
use crate::store::{Desc, Sample};
use crate::wechat::json::{self, Loose};
use crate::wechat::{Api, WechatError};

pub static KIND: Kind<Settings> = Kind {
    name: "realtime_log",
    accounts: MINI_PROGRAM,
    default: true,
    interval: MINUTE,
    // Windows move on a 10-second grid; polling more often finds nothing new.
    // The search budget holds at any interval.
    comfortable: Duration::from_secs(GRAIN as u64),
    metrics: &[&RECORDS],
    build: |s| Box::new(RealtimeLog::new(s.clone())),
    describe: |s| s.to_string(),
    routes: &[Route { api: &API, answer: sim::answer }],
    sim_state: Some(|| Box::new(sim::Logs::default())),
    // A short settle, so counters move within a minute of starting; the simulator
    // indexes records up to 20s late. One app shows the url breakdown.
    demo: |app| {
        let by_url = if app.odd { "" } else { ", by_url: true" };
        Some(format!("      realtime_log: {{interval: 15s, settle: 30s{by_url}}}\n"))
    },
    ..Kind::BASE
};

pub const API: Api = Api::get("realtimelogSearch", "/wxaapi/userlog/userlog_search").with_no_data(&[ERR_NO_DATA]);

pub const RECORDS: Desc = Desc::counter(
    "wechat_realtime_log_records",
    "Realtime log records by the highest level in each, counted once each since the exporter started.",
);
pub const SKIPPED: Desc = Desc::counter(
    "wechat_exporter_realtime_log_skipped_seconds",
    "Seconds of realtime log left uncounted because WeChat no longer kept them when the exporter got there.",
);
pub const COUNTED_UNTIL: Desc = Desc::gauge(
    "wechat_exporter_realtime_log_counted_until_timestamp_seconds",
    "Realtime log records logged before this time have been counted.",
);

/// WeChat's limit: searches a minute per app.
pub const WECHAT_LIMIT: u32 = 50;
/// Window edges are multiples of this many seconds (midnight UTC+8 is one).
pub const GRAIN: i64 = 10;
/// Records a page when paging (WeChat's default is 20).
pub const PAGE: u64 = 100;
/// A paged window is at most this long, so a window whose total changes under
/// the paging is cheap to read again.
pub const MAX_PAGED_WINDOW: i64 = 3600;
/// Days WeChat keeps, today included. Its document says 7 in one place and
/// "the last three days" in the 200002 message; the shorter one is believed.
pub const RETENTION_DAYS: i64 = 3;
/// After a 200010, no search for this long.
pub const BACKOFF_SECS: i64 = 60;
/// A paged window whose total keeps changing is read again at most this often;
/// after that the changed total is taken as it is, so counting cannot stall.
const MAX_REREADS: u32 = 3;

const ERR_TOO_FREQUENT: i64 = 200010;
const ERR_PARAM: i64 = 200002;
const ERR_NO_DATA: i64 = 10011;

/// A record's level: the highest bit of its `level` (an OR of 2, 4 and 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Info, Level::Warn, Level::Error];

    /// Compared as WeChat's `level` filter compares: at least 8 is an error. For
    /// an OR of 2, 4 and 8 that is the highest bit; a record without a known bit
    /// (0, or left out) is counted as info, so no record goes uncounted.
    pub fn of(bits: i64) -> Level {
        if bits >= 8 {
            Level::Error
        } else if bits >= 4 {
            Level::Warn
        } else {
            Level::Info
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    /// Its place in a url's counts ([`LevelCounts`]).
    fn index(self) -> usize {
        self as usize
    }

    /// The `level` filter value: records of this level or higher.
    pub fn code(self) -> i64 {
        match self {
            Level::Info => 2,
            Level::Warn => 4,
            Level::Error => 8,
        }
    }
}

/// Settings of the `realtime_log` collector.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// A window is searched only once it is this old (records index late).
    #[serde(deserialize_with = "settle")]
    pub settle: Duration,
    /// Searches a minute for this app, under WeChat's 50.
    #[serde(deserialize_with = "budget")]
    pub budget: u32,
    /// Adds a `url` label (the page path); off: cardinality.
    pub by_url: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { settle: Duration::from_secs(60), budget: 40, by_url: false }
    }
}

impl super::Settings for Settings {}

fn settle<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    crate::config::duration(d)?.ok_or_else(|| serde::de::Error::custom("settle needs a duration, like 1m"))
}

/// Searches a minute: 1 to WeChat's limit, checked here so the error points at the line.
fn budget<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = i64::deserialize(d)?;
    match u32::try_from(n) {
        Ok(n) if (1..=WECHAT_LIMIT).contains(&n) => Ok(n),
        _ => Err(serde::de::Error::custom(format!(
            "budget {n} is not within 1..={WECHAT_LIMIT}: WeChat refuses more than {WECHAT_LIMIT} realtime log searches a minute per app; the default 40 leaves room for other users of the app"
        ))),
    }
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: records by level{} from the exporter's start, windows searched {} after they end, at most {} searches a minute",
            API.name,
            if self.by_url { " and url" } else { "" },
            humantime::format_duration(self.settle),
            self.budget
        )
    }
}

/// A span of log time, `[start, end)` in Unix seconds, within one day (UTC+8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

impl Window {
    pub fn date(&self) -> NaiveDate {
        cst::date_of(self.start)
    }

    /// The search's query. `endtime` is taken as inclusive: the document wants both
    /// times within `date`, and the last second of a day is, its midnight is not.
    pub fn query(&self, start: u64, limit: u64, level: Option<Level>) -> Vec<(&'static str, String)> {
        let mut q = vec![
            ("date", cst::compact(self.date())),
            ("begintime", self.start.to_string()),
            ("endtime", (self.end - 1).to_string()),
            ("start", start.to_string()),
            ("limit", limit.to_string()),
        ];
        if let Some(level) = level {
            q.push(("level", level.code().to_string()));
        }
        q
    }

    fn contains(&self, t: i64) -> bool {
        self.start <= t && t < self.end
    }
}

/// `t` rounded down to the window grid.
pub fn align(t: i64) -> i64 {
    t.div_euclid(GRAIN) * GRAIN
}

/// Midnight UTC+8 after `t`.
pub fn next_midnight(t: i64) -> i64 {
    cst::day_start(cst::date_of(t) + chrono::Duration::days(1))
}

/// The next window from `cursor`: up to `horizon`, never across midnight UTC+8,
/// at most `max_len` long. None while there is nothing settled to search.
pub fn next_window(cursor: i64, horizon: i64, max_len: Option<i64>) -> Option<Window> {
    let mut end = horizon.min(next_midnight(cursor));
    if let Some(max) = max_len {
        end = end.min(cursor + max);
    }
    // Two seconds at least: WeChat wants endtime > begintime, and endtime is end - 1.
    (end - cursor >= 2).then_some(Window { start: cursor, end })
}

/// Searches in the last rolling minute, by the poll's clock.
#[derive(Debug, Clone)]
pub struct Budget {
    limit: usize,
    spent: VecDeque<i64>,
}

impl Budget {
    pub fn new(limit: u32) -> Budget {
        Budget { limit: limit as usize, spent: VecDeque::new() }
    }

    /// Searches that may still be made at `now`: a search at `t` counts until `t + 60`.
    pub fn available(&mut self, now: i64) -> usize {
        while self.spent.front().is_some_and(|t| *t <= now - 60) {
            self.spent.pop_front();
        }
        self.limit.saturating_sub(self.spent.len())
    }

    pub fn spend(&mut self, now: i64) {
        // Kept for the process's life: room left by a burst (a catch-up after an
        // outage) is given back once the minute's searches are few again.
        if self.spent.capacity() > 8 && self.spent.len() * 4 < self.spent.capacity() {
            self.spent.shrink_to(self.spent.len() * 2);
        }
        self.spent.push_back(now);
    }
}

// ---- the answer ----

#[derive(Deserialize, Debug, Default)]
pub struct Response {
    #[serde(default)]
    pub data: Option<Data>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct Data {
    #[serde(deserialize_with = "json::list")]
    pub list: Vec<Record>,
    pub total: Loose<i64>,
}

/// The fields of a record the collector reads; user id and message are never read.
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Record {
    pub level: Loose<i64>,
    pub timestamp: Loose<i64>,
    pub url: Loose<String>,
}

impl Record {
    pub fn level(&self) -> Level {
        Level::of(self.level.get().unwrap_or(0))
    }

    /// The page path, without a query string (which would make a series per visit).
    pub fn page(&self) -> &str {
        let url = self.url.as_deref().unwrap_or("");
        url.split('?').next().unwrap_or("")
    }
}

impl Response {
    fn into_parts(self) -> Result<(u64, Vec<Record>), WechatError> {
        let data = self.data.unwrap_or_default();
        let total = match data.total.get() {
            Some(t) if t >= 0 => t as u64,
            Some(t) => return Err(WechatError::InvalidResponse(format!("data.total is {t}"))),
            // An empty list may come without a total; records without one cannot be paged.
            None if data.list.is_empty() => 0,
            None => return Err(WechatError::InvalidResponse("data.total is missing".into())),
        };
        Ok((total, data.list))
    }
}

// ---- the collector ----

/// One url's counts, by [`Level::index`]: info, warn, error.
type LevelCounts = [u64; 3];

/// Counts by url, sorted by url; the url is "" without `by_url`. A sorted `Vec`:
/// it lives as long as the process, once per app, and a B-tree node would take
/// 456 bytes to hold the three counters most apps have.
#[derive(Debug, Clone, Default, PartialEq)]
struct Counts(Vec<(Box<str>, LevelCounts)>);

impl Counts {
    /// The counts of `url`, all three 0 when it is new.
    fn of(&mut self, url: &str) -> &mut LevelCounts {
        let i = match self.0.binary_search_by(|(u, _)| (**u).cmp(url)) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (url.into(), [0; 3]));
                i
            }
        };
        &mut self.0[i].1
    }
}

/// Where the work on the current window stands.
#[derive(Debug, Clone)]
enum Job {
    /// Totals so far (the first `len`): any level, then level >= warn, then level >= error.
    Totals { got: [u64; 3], len: usize },
    /// Paging: the next offset, the window's total as first seen, what was counted.
    Pages { next: u64, total: Option<u64>, counts: Counts, rereads: u32 },
}

#[derive(Debug, Clone)]
struct Pending {
    window: Window,
    job: Job,
}

enum Step {
    More,
    Done(Counts),
}

pub struct RealtimeLog {
    settings: Settings,
    /// Everything logged before this has been counted. Set at the first poll.
    cursor: Option<i64>,
    /// Boxed: a window is rarely left unfinished between polls, and inline it would
    /// take 72 bytes in each app's collector.
    pending: Option<Box<Pending>>,
    counts: Counts,
    skipped: u64,
    budget: Budget,
    /// No search before this time (after a 200010).
    blocked_until: Option<i64>,
}

impl RealtimeLog {
    pub fn new(settings: Settings) -> RealtimeLog {
        let mut counts = Counts::default();
        if !settings.by_url {
            // The three series exist from the start, at 0.
            counts.of("");
        }
        let budget = Budget::new(settings.budget);
        RealtimeLog { settings, cursor: None, pending: None, counts, skipped: 0, budget, blocked_until: None }
    }

    fn settle_secs(&self) -> i64 {
        let s = self.settings.settle;
        (s.as_secs() + u64::from(s.subsec_nanos() > 0)) as i64
    }

    /// The samples: counters, skipped seconds, and how far counting has got.
    pub fn output(&self) -> Output {
        let mut samples = Vec::with_capacity(3 * self.counts.0.len() + 2);
        for (url, counts) in &self.counts.0 {
            for level in Level::ALL {
                let s = Sample::new(&RECORDS, counts[level.index()] as f64).label("level", level.word());
                samples.push(if self.settings.by_url { s.label("url", url.to_string()) } else { s });
            }
        }
        samples.push(Sample::new(&SKIPPED, self.skipped as f64));
        if let Some(c) = self.cursor {
            samples.push(Sample::new(&COUNTED_UNTIL, c as f64));
        }
        Output { samples, data_date: None }
    }

    fn commit(&mut self, window: Window, counts: Counts) {
        for (url, add) in counts.0 {
            // A new page gets all three series at once, so a first error is a step from 0.
            let mine = self.counts.of(&url);
            for (n, a) in mine.iter_mut().zip(add) {
                *n += a;
            }
        }
        // Kept for the process's life: no room left over from growing.
        self.counts.0.shrink_to_fit();
        self.cursor = Some(window.end);
    }

    /// Moves the cursor past what WeChat no longer keeps.
    fn skip_expired(&mut self, app: &str, now: i64) {
        let oldest = cst::day_start(cst::date_of(now) - chrono::Duration::days(RETENTION_DAYS - 1));
        if let Some(cursor) = self.cursor.filter(|c| *c < oldest) {
            self.skip(app, cursor, oldest, "fell behind WeChat's retention");
        }
    }

    fn skip(&mut self, app: &str, from: i64, to: i64, why: &str) {
        self.skipped += (to - from).max(0) as u64;
        self.cursor = Some(to);
        self.pending = None;
        tracing::warn!(
            app,
            collector = "realtime_log",
            from,
            to,
            skipped_seconds = to - from,
            "realtime log {why}; these records are not counted"
        );
    }

    async fn search(
        cx: &PollContext<'_>,
        w: Window,
        start: u64,
        limit: u64,
        level: Option<Level>,
    ) -> Result<(u64, Vec<Record>), WechatError> {
        match cx.client.get::<Response>(&API, &w.query(start, limit, level)).await {
            Ok(r) => r.into_parts(),
            Err(e) if e.errcode() == Some(ERR_NO_DATA) => Ok((0, Vec::new())),
            Err(e) => Err(e),
        }
    }

    /// One search for the pending window.
    async fn step(cx: &PollContext<'_>, p: &mut Pending) -> Result<Step, WechatError> {
        let w = p.window;
        match &mut p.job {
            Job::Totals { got, len } => {
                let level = [None, Some(Level::Warn), Some(Level::Error)].get(*len).copied().flatten();
                let (total, _) = Self::search(cx, w, 0, 1, level).await?;
                if let Some(slot) = got.get_mut(*len) {
                    *slot = total;
                    *len += 1;
                }
                if total > 0 && *len < 3 {
                    return Ok(Step::More);
                }
                // Searches not made (a total of 0 stops them) leave their 0.
                let [any, warn_up, error] = *got;
                // Broadest first: a record indexed between the searches can only make a
                // later (narrower) total larger, so the differences are clamped at 0.
                let mut counts = Counts::default();
                *counts.of("") = [any.saturating_sub(warn_up), warn_up.saturating_sub(error), error];
                Ok(Step::Done(counts))
            }
            Job::Pages { next, total, counts, rereads } => {
                let (now_total, list) = Self::search(cx, w, *next, PAGE, None).await?;
                if let Some(first) = *total
                    && first != now_total
                    && *rereads < MAX_REREADS
                {
                    // Records came or went under the paging: offsets moved, so start over.
                    tracing::debug!(app = &*cx.client.name, first, now_total, "realtime log window changed while paging; reading it again");
                    *rereads += 1;
                    *next = 0;
                    *total = None;
                    counts.0.clear();
                    return Ok(Step::More);
                }
                *total = Some(now_total);
                for r in &list {
                    // A record outside the window is another window's.
                    if r.timestamp.get().is_some_and(|t| !w.contains(t)) {
                        continue;
                    }
                    counts.of(r.page())[r.level().index()] += 1;
                }
                *next += list.len() as u64;
                if *next < now_total && !list.is_empty() {
                    return Ok(Step::More);
                }
                if *next < now_total {
                    tracing::warn!(app = &*cx.client.name, got = *next, total = now_total, "realtime log page came back empty before the total was reached");
                }
                Ok(Step::Done(std::mem::take(counts)))
            }
        }
    }

    async fn run(&mut self, cx: &PollContext<'_>) -> Result<(), WechatError> {
        let app: &str = &cx.client.name;
        let now = cx.now.timestamp();
        if self.cursor.is_none() {
            // Counting starts now: a restart counts afresh.
            self.cursor = Some(align(now));
        }
        self.skip_expired(app, now);
        let horizon = align(now - self.settle_secs());
        let max_len = self.settings.by_url.then_some(MAX_PAGED_WINDOW);
        loop {
            if self.blocked_until.is_some_and(|t| now < t) {
                return Ok(());
            }
            let mut pending = match self.pending.take() {
                Some(p) => p,
                None => {
                    let Some(cursor) = self.cursor else { return Ok(()) };
                    let Some(window) = next_window(cursor, horizon, max_len) else { return Ok(()) };
                    let job = if self.settings.by_url {
                        Job::Pages { next: 0, total: None, counts: Counts::default(), rereads: 0 }
                    } else {
                        Job::Totals { got: [0; 3], len: 0 }
                    };
                    Box::new(Pending { window, job })
                }
            };
            if self.budget.available(now) == 0 {
                self.pending = Some(pending);
                return Ok(());
            }
            self.budget.spend(now);
            match Self::step(cx, &mut pending).await {
                Ok(Step::More) => self.pending = Some(pending),
                Ok(Step::Done(counts)) => self.commit(pending.window, counts),
                Err(e) if e.errcode() == Some(ERR_TOO_FREQUENT) => {
                    // Someone else is using the app's quota too: wait, keeping the window.
                    self.pending = Some(pending);
                    self.blocked_until = Some(now + BACKOFF_SECS);
                    tracing::warn!(app, collector = "realtime_log", wait_seconds = BACKOFF_SECS, "WeChat says more than 50 realtime log searches a minute (200010); backing off");
                    return Ok(());
                }
                Err(e) if e.errcode() == Some(ERR_PARAM) && pending.window.date() < cst::date_of(now) => {
                    // A past day refused: WeChat no longer keeps it, whatever its document says.
                    let w = pending.window;
                    self.skip(app, w.start, next_midnight(w.start), "of a past day was refused by WeChat (200002)");
                }
                Err(e) => {
                    self.pending = Some(pending);
                    return Err(e);
                }
            }
        }
    }
}

impl Collector for RealtimeLog {
    fn poll<'a>(&'a mut self, cx: &'a PollContext<'a>) -> BoxFuture<'a, Result<Output, WechatError>> {
        Box::pin(async move {
            self.run(cx).await?;
            Ok(self.output())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    #[test]
    fn levels_are_the_highest_bit() {
        assert_eq!(Level::of(2), Level::Info);
        assert_eq!(Level::of(4), Level::Warn);
        assert_eq!(Level::of(6), Level::Warn, "info|warn is a warning");
        assert_eq!(Level::of(8), Level::Error);
        assert_eq!(Level::of(10), Level::Error, "info|error");
        assert_eq!(Level::of(12), Level::Error, "warn|error");
        assert_eq!(Level::of(14), Level::Error);
        assert_eq!(Level::of(0), Level::Info, "no known bit: still counted");
        let r: Record = serde_json::from_str(r#"{"level":"6","timestamp":"1570852796","url":"pages/a/a?id=7"}"#).unwrap();
        assert_eq!(r.level(), Level::Warn);
        assert_eq!(r.page(), "pages/a/a");
        assert_eq!(Record::default().level(), Level::Info);
        assert_eq!(Record::default().page(), "");
    }

    #[test]
    fn windows_stop_at_midnight_utc8() {
        let before = ts("2024-05-01T23:58:00+08:00");
        let midnight = ts("2024-05-02T00:00:00+08:00");
        let later = ts("2024-05-02T00:05:00+08:00");
        let w = next_window(before, later, None).unwrap();
        assert_eq!(w, Window { start: before, end: midnight });
        assert_eq!(w.date(), NaiveDate::from_ymd_opt(2024, 5, 1).unwrap());
        let q = w.query(0, 1, None);
        assert_eq!(q[0], ("date", "20240501".to_string()));
        assert_eq!(q[2], ("endtime", (midnight - 1).to_string()), "the day's last second, inclusive");
        let next = next_window(w.end, later, None).unwrap();
        assert_eq!(next, Window { start: midnight, end: later });
        assert_eq!(next.date(), NaiveDate::from_ymd_opt(2024, 5, 2).unwrap());
        // 16:00 UTC is midnight UTC+8, whatever the host's zone.
        assert_eq!(next_midnight(ts("2024-05-01T15:59:59Z")), ts("2024-05-01T16:00:00Z"));
    }

    #[test]
    fn windows_wait_for_the_horizon_and_respect_the_cap() {
        let t = ts("2024-05-01T10:00:00+08:00");
        assert_eq!(next_window(t, t, None), None);
        assert_eq!(next_window(t, t + 1, None), None, "a one-second window cannot be searched");
        assert_eq!(next_window(t, t + 7200, Some(MAX_PAGED_WINDOW)).unwrap().end, t + MAX_PAGED_WINDOW);
        assert_eq!(align(t + 9), t);
        assert_eq!(align(-1), -GRAIN);
        let q = Window { start: t, end: t + 60 }.query(200, 100, Some(Level::Warn));
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            q,
            vec![
                ("date", "20240501"),
                ("begintime", &*t.to_string()),
                ("endtime", &*(t + 59).to_string()),
                ("start", "200"),
                ("limit", "100"),
                ("level", "4")
            ]
        );
    }

    #[test]
    fn budget_is_a_rolling_minute() {
        let mut b = Budget::new(3);
        assert_eq!(b.available(100), 3);
        b.spend(100);
        b.spend(100);
        assert_eq!(b.available(130), 1);
        b.spend(130);
        assert_eq!(b.available(159), 0);
        assert_eq!(b.available(160), 2, "the two searches at 100 count until 160");
        assert_eq!(b.available(189), 2);
        assert_eq!(b.available(190), 3);

        // A burst's room is given back once searches are few again.
        let mut b = Budget::new(40);
        for _ in 0..40 {
            b.spend(0);
        }
        assert!(b.spent.capacity() >= 40);
        assert_eq!(b.available(60), 40);
        b.spend(60);
        b.spend(61);
        assert!(b.spent.capacity() <= 8, "capacity {} for 2 searches", b.spent.capacity());
        assert_eq!(b.available(61), 38);
    }

    #[test]
    fn answers_without_total_or_with_a_bad_one() {
        let ok: Response = crate::wechat::client::decode(
            br#"{"errcode":0,"data":{"list":[{"level":6,"timestamp":1570852796,"id":"o1","msg":[]}],"total":"1000"}}"#,
        )
        .unwrap();
        let (total, list) = ok.into_parts().unwrap();
        assert_eq!(total, 1000);
        assert_eq!(list.len(), 1);
        let empty: Response = crate::wechat::client::decode(br#"{"errcode":0,"data":{"list":[]}}"#).unwrap();
        assert_eq!(empty.into_parts().unwrap().0, 0);
        let none: Response = crate::wechat::client::decode(br#"{"errcode":0}"#).unwrap();
        assert_eq!(none.into_parts().unwrap().0, 0);
        let missing: Response = crate::wechat::client::decode(br#"{"data":{"list":[{"level":2}]}}"#).unwrap();
        assert_eq!(missing.into_parts().unwrap_err().reason(), "invalid_response");
        let negative: Response = crate::wechat::client::decode(br#"{"data":{"total":-3}}"#).unwrap();
        assert_eq!(negative.into_parts().unwrap_err().reason(), "invalid_response");
        assert!(crate::wechat::client::decode::<Response>(br#"{"data":{"total":"many"}}"#).is_err());
    }

    #[test]
    fn counters_exist_from_the_start_and_urls_get_all_levels() {
        let c = RealtimeLog::new(Settings::default());
        let out = c.output();
        let records: Vec<_> = out.samples.iter().filter(|s| s.desc == RECORDS).collect();
        assert_eq!(records.len(), 3);
        assert!(records.iter().all(|s| s.value == 0.0 && s.labels.len() == 1));
        assert!(out.samples.iter().any(|s| s.desc == SKIPPED && s.value == 0.0));

        let mut c = RealtimeLog::new(Settings { by_url: true, ..Settings::default() });
        assert!(c.output().samples.iter().all(|s| s.desc != RECORDS), "no url seen yet, no made-up series");
        let mut counts = Counts::default();
        counts.of("pages/a/a")[Level::Error.index()] = 2;
        c.commit(Window { start: 0, end: 10 }, counts);
        let out = c.output();
        let records: Vec<_> = out.samples.iter().filter(|s| s.desc == RECORDS).collect();
        assert_eq!(records.len(), 3);
        let error = records.iter().find(|s| s.labels.iter().any(|(_, v)| v == "error")).unwrap();
        assert_eq!(error.value, 2.0);
        assert_eq!(error.labels[1], ("url".into(), "pages/a/a".to_string()));
        assert!(out.samples.iter().any(|s| s.desc == COUNTED_UNTIL && s.value == 10.0));
    }

    #[test]
    fn urls_add_up_in_order_and_keep_no_spare_room() {
        let mut c = RealtimeLog::new(Settings { by_url: true, ..Settings::default() });
        let window = |n: i64| Window { start: n * 10, end: n * 10 + 10 };
        for (n, urls) in [["pages/b", "pages/a"], ["pages/c", "pages/a"], ["pages/a", "pages/b"]].iter().enumerate() {
            let mut counts = Counts::default();
            for (i, url) in urls.iter().enumerate() {
                counts.of(url)[Level::ALL[i + n % 2].index()] += 1;
            }
            c.commit(window(n as i64), counts);
        }
        let out = c.output();
        let got: Vec<(&str, &str, f64)> = out
            .samples
            .iter()
            .filter(|s| s.desc == RECORDS)
            .map(|s| (s.labels[1].1.as_str(), s.labels[0].1.as_str(), s.value))
            .collect();
        let want = [
            ("pages/a", "info", 1.0),
            ("pages/a", "warn", 1.0),
            ("pages/a", "error", 1.0),
            ("pages/b", "info", 1.0),
            ("pages/b", "warn", 1.0),
            ("pages/b", "error", 0.0),
            ("pages/c", "info", 0.0),
            ("pages/c", "warn", 1.0),
            ("pages/c", "error", 0.0),
        ];
        assert_eq!(got, want, "by url, then info, warn, error");
        assert_eq!(c.counts.0.capacity(), c.counts.0.len(), "kept for the process's life: no spare room");
        assert!(c.output().samples.iter().any(|s| s.desc == COUNTED_UNTIL && s.value == 30.0));
    }
}
