//! The realtime_log collector, in-process, against the simulator on a fake clock:
//! every record counted once, within the search budget, through late indexing,
//! paging, midnight, 200010 and restarts. One test runs the real binary.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate};
use common::*;
use wechat_exporter::collectors::realtime_log::{self, RealtimeLog, Settings, COUNTED_UNTIL, RECORDS, SKIPPED};
use wechat_exporter::collectors::{Account, Collector, Output, PollContext};
use wechat_exporter::cst;
use wechat_exporter::secret::Secret;
use wechat_exporter::collectors::realtime_log::sim::{generated, Logs, Record};
use wechat_exporter::simulator::{Fault, Options, SimApp, Simulator};
use wechat_exporter::telemetry::Live;
use wechat_exporter::wechat::{AppClient, ClientSettings, Credential, TokenMode, WechatClient, WechatError};

/// 10:00 on 1 May 2024, UTC+8.
fn t0() -> i64 {
    day(2024, 5, 1) + 10 * 3600
}

fn day(y: i32, m: u32, d: u32) -> i64 {
    cst::day_start(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

/// The simulator's realtime log streams.
fn logs(sim: &Simulator) -> &Logs {
    sim.state::<Logs>().expect("the simulator keeps realtime logs")
}

/// The simulator on a fake clock, and one app's client to it.
struct Rig {
    sim: Simulator,
    now: Arc<Mutex<i64>>,
    client: AppClient,
    app: SimApp,
}

impl Rig {
    /// An app whose log holds only what the test appends.
    async fn new(start: i64) -> Rig {
        let rig = Rig::with_app(start, SimApp::new("shop", "wxrtlog00000shop", Account::Miniprogram)).await;
        logs(&rig.sim).set_generator(&rig.app.appid, false);
        rig
    }

    /// An app whose log is the simulator's generated stream.
    async fn with_app(start: i64, app: SimApp) -> Rig {
        let now = Arc::new(Mutex::new(start));
        let clock = now.clone();
        let mut opts = Options::new(vec![app.clone()]);
        opts.clock = Arc::new(move || DateTime::from_timestamp(*clock.lock().unwrap(), 0).unwrap());
        let sim = Simulator::start(opts).await.expect("simulator starts");
        let settings = ClientSettings { base_url: sim.base_url(), timeout: Duration::from_secs(5), max_in_flight: 4, ..Default::default() };
        let shared = Arc::new(WechatClient::new(settings, Arc::new(Live::default())).unwrap());
        let credential =
            Credential::Secret { appid: app.appid.clone(), secret: Secret::new(app.secret.clone()), mode: TokenMode::Stable };
        let client = AppClient::new(Arc::from(app.name.as_str()), shared, credential);
        Rig { sim, now, client, app }
    }

    fn now(&self) -> i64 {
        *self.now.lock().unwrap()
    }

    fn set(&self, t: i64) {
        *self.now.lock().unwrap() = t;
    }

    fn append(&self, records: impl IntoIterator<Item = Record>) {
        logs(&self.sim).append(&self.app.appid, records);
    }

    async fn poll(&self, c: &mut RealtimeLog) -> Result<Output, WechatError> {
        let cx = PollContext::new(&self.client, DateTime::from_timestamp(self.now(), 0).unwrap());
        c.poll(&cx).await
    }

    /// Polls every `step` seconds until `end`, each poll succeeding; the last output.
    async fn run(&self, c: &mut RealtimeLog, end: i64, step: i64) -> Output {
        let mut out = self.poll(c).await.expect("poll");
        while self.now() + step <= end {
            self.set(self.now() + step);
            out = self.poll(c).await.expect("poll");
        }
        out
    }

    /// The searches seen, as (date, begintime, endtime, start, limit, level).
    fn searches(&self) -> Vec<Search> {
        self.sim
            .calls(realtime_log::API.path)
            .iter()
            .filter(|c| c.appid.is_some())
            .map(|c| {
                let s = |k: &str| c.body.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                let n = |k: &str| s(k).parse::<i64>().ok();
                Search {
                    date: s("date"),
                    begin: n("begintime").unwrap(),
                    end: n("endtime").unwrap(),
                    start: n("start").unwrap(),
                    limit: n("limit").unwrap(),
                    level: n("level"),
                }
            })
            .collect()
    }

    fn max_per_minute(&self) -> usize {
        logs(&self.sim).max_searches_per_minute(&self.app.appid)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Search {
    date: String,
    begin: i64,
    end: i64,
    start: i64,
    limit: i64,
    level: Option<i64>,
}

fn settings(settle: u64, budget: u32, by_url: bool) -> Settings {
    Settings { settle: Duration::from_secs(settle), budget, by_url }
}

/// The counters as (level, url) → value; url is "" without `by_url`.
fn counters(out: &Output) -> BTreeMap<(String, String), f64> {
    out.samples
        .iter()
        .filter(|s| s.desc == RECORDS)
        .map(|s| {
            let get = |k: &str| s.labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
            ((get("level"), get("url")), s.value)
        })
        .collect()
}

/// The counters summed over urls, as [info, warn, error].
fn by_level(out: &Output) -> [f64; 3] {
    let c = counters(out);
    ["info", "warn", "error"].map(|l| c.iter().filter(|((level, _), _)| level == l).map(|(_, v)| v).sum())
}

fn gauge(out: &Output, desc: &wechat_exporter::store::Desc) -> Option<f64> {
    out.samples.iter().find(|s| s.desc == *desc).map(|s| s.value)
}

/// What a stream should count to: [info, warn, error] by the highest level bit.
fn expected(records: &[Record]) -> [f64; 3] {
    let mut out = [0.0; 3];
    for r in records {
        out[if r.level & 8 != 0 { 2 } else if r.level & 4 != 0 { 1 } else { 0 }] += 1.0;
    }
    out
}

fn expected_by_url(records: &[Record]) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for r in records {
        let level = if r.level & 8 != 0 { "error" } else if r.level & 4 != 0 { "warn" } else { "info" };
        for l in ["info", "warn", "error"] {
            out.entry((l.to_string(), r.url.clone())).or_insert(0.0);
        }
        *out.entry((level.to_string(), r.url.clone())).or_insert(0.0) += 1.0;
    }
    out
}

#[tokio::test]
async fn records_indexed_late_are_counted_once() {
    let rig = Rig::new(t0()).await;
    let mut c = RealtimeLog::new(settings(60, 40, false));
    let out = rig.poll(&mut c).await.unwrap();
    assert_eq!(by_level(&out), [0.0, 0.0, 0.0], "the series exist from the start");
    assert_eq!(rig.searches().len(), 0, "nothing is settled yet");
    let start = t0();
    rig.append([
        Record::new(start + 5, 8, "pages/a/a").indexed_after(40),
        Record::new(start + 20, 2, "pages/a/a"),
        Record::new(start + 50, 6, "pages/b/b").indexed_after(55),
        Record::new(start + 61, 12, "pages/b/b").indexed_after(59),
    ]);
    let mut seen = Vec::new();
    while rig.now() < start + 600 {
        rig.set(rig.now() + 10);
        let before = rig.searches().len();
        let out = rig.poll(&mut c).await.unwrap();
        for s in &rig.searches()[before..] {
            assert!(s.end < rig.now() - 60, "a window is searched only once settled: {s:?} at {}", rig.now());
        }
        seen.push(by_level(&out));
    }
    assert_eq!(*seen.last().unwrap(), [1.0, 1.0, 2.0]);
    assert!(seen.windows(2).all(|w| (0..3).all(|i| w[0][i] <= w[1][i])), "counters never go down: {seen:?}");
    let searches = rig.searches();
    let unique: BTreeSet<&Search> = searches.iter().collect();
    assert_eq!(unique.len(), searches.len(), "no search is made twice: {searches:?}");
    // Windows follow each other without gap or overlap (endtime is inclusive).
    let mut windows: Vec<(i64, i64)> = searches.iter().map(|s| (s.begin, s.end)).collect();
    windows.dedup();
    assert_eq!(windows[0].0, start);
    assert!(windows.windows(2).all(|w| w[1].0 == w[0].1 + 1), "{windows:?}");
}

#[tokio::test]
async fn a_window_of_250_records_is_paged_by_url_and_totalled_without() {
    let start = t0();
    let records: Vec<Record> = (0..250)
        .map(|i| {
            let level = [2, 6, 4, 10, 14, 8, 2, 2][i % 8];
            Record::new(start + 1 + (i as i64 % 50), level, ["pages/a/a", "pages/b/b?id=9", "pages/c/c"][i % 3])
        })
        .collect();
    let pages: Vec<Record> =
        records.iter().cloned().map(|mut r| { r.url = r.url.split('?').next().unwrap().to_string(); r }).collect();

    // by_url: the window is paged, 100 at a time.
    let rig = Rig::new(start).await;
    rig.append(records.clone());
    let mut c = RealtimeLog::new(settings(60, 40, true));
    let out = rig.run(&mut c, start + 130, 130).await;
    assert_eq!(counters(&out), expected_by_url(&pages), "a query string is not part of the url label");
    let s = rig.searches();
    assert_eq!(s.iter().map(|s| (s.start, s.limit, s.level)).collect::<Vec<_>>(), vec![(0, 100, None), (100, 100, None), (200, 100, None)]);

    // Without: three totals, no paging.
    let rig = Rig::new(start).await;
    rig.append(records.clone());
    let mut c = RealtimeLog::new(settings(60, 40, false));
    let out = rig.run(&mut c, start + 130, 130).await;
    assert_eq!(by_level(&out), expected(&records));
    assert_eq!(by_level(&out).iter().sum::<f64>(), 250.0);
    let s = rig.searches();
    assert_eq!(s.iter().map(|s| (s.start, s.limit, s.level)).collect::<Vec<_>>(), vec![(0, 1, None), (0, 1, Some(4)), (0, 1, Some(8))]);
}

#[tokio::test]
async fn paging_resumes_across_polls_when_the_budget_runs_out() {
    let start = t0();
    let rig = Rig::new(start).await;
    let records: Vec<Record> = (0..450).map(|i| Record::new(start + (i % 60), [2, 4, 8][i as usize % 3], "pages/a/a")).collect();
    rig.append(records.clone());
    let mut c = RealtimeLog::new(settings(60, 2, true));
    rig.poll(&mut c).await.unwrap();
    rig.set(start + 130);
    let out = rig.poll(&mut c).await.unwrap();
    assert_eq!(rig.searches().len(), 2);
    assert_eq!(by_level(&out), [0.0, 0.0, 0.0], "a window half read is not counted yet");
    rig.set(start + 150);
    rig.poll(&mut c).await.unwrap();
    assert_eq!(rig.searches().len(), 2, "the budget is spent for this minute");
    rig.set(start + 190);
    rig.poll(&mut c).await.unwrap();
    rig.set(start + 250);
    let out = rig.poll(&mut c).await.unwrap();
    assert_eq!(by_level(&out), [150.0, 150.0, 150.0]);
    let starts: Vec<i64> = rig.searches().iter().map(|s| s.start).collect();
    assert_eq!(&starts[..5], &[0, 100, 200, 300, 400], "paging picks up where it stopped");
    assert!(rig.max_per_minute() <= 2);
}

#[tokio::test]
async fn a_window_that_changes_while_paged_is_read_again() {
    let start = t0();
    let rig = Rig::new(start).await;
    rig.append((0..150).map(|i| Record::new(start + (i % 60), 2, "pages/a/a")));
    // Indexed long after settling, between the first page and the second: every
    // offset after it moves by one, so going on would count one record twice and miss it.
    rig.append([Record::new(start + 59, 8, "pages/a/a").indexed_after(140)]);
    let mut c = RealtimeLog::new(settings(60, 1, true));
    rig.poll(&mut c).await.unwrap();
    for t in [130, 200, 260, 320] {
        rig.set(start + t);
        rig.poll(&mut c).await.unwrap();
    }
    let out = rig.poll(&mut c).await.unwrap();
    assert_eq!(by_level(&out), [150.0, 0.0, 1.0]);
    let starts: Vec<i64> = rig.searches().iter().map(|s| s.start).collect();
    assert_eq!(starts, vec![0, 100, 0, 100]);
}

#[tokio::test]
async fn a_window_across_midnight_is_split_by_date() {
    let midnight = day(2024, 5, 2);
    let start = midnight - 120;
    let rig = Rig::new(start).await;
    let records = vec![
        Record::new(midnight - 30, 8, "pages/a/a"),
        Record::new(midnight - 1, 4, "pages/a/a"),
        Record::new(midnight, 8, "pages/a/a"),
        Record::new(midnight + 30, 2, "pages/a/a"),
    ];
    rig.append(records.clone());
    let mut c = RealtimeLog::new(settings(60, 40, false));
    rig.poll(&mut c).await.unwrap();
    // Asleep over midnight: the first window after it would span it, if allowed to.
    rig.set(midnight + 200);
    let out = rig.poll(&mut c).await.unwrap();
    assert_eq!(by_level(&out), [1.0, 1.0, 2.0]);
    let searches = rig.searches();
    for s in &searches {
        let d = cst::compact(cst::date_of(s.begin));
        assert_eq!(s.date, d, "{s:?}");
        assert_eq!(cst::compact(cst::date_of(s.end)), d, "a search stays within its date: {s:?}");
    }
    assert!(searches.iter().any(|s| s.date == "20240501" && s.end == midnight - 1));
    assert!(searches.iter().any(|s| s.date == "20240502" && s.begin == midnight));
}

#[tokio::test]
async fn a_burst_of_200010_is_waited_out_and_nothing_is_lost() {
    let start = t0();
    let rig = Rig::new(start).await;
    let records: Vec<Record> = (0..600).map(|i| Record::new(start + i, [2, 6, 8, 2, 12][i as usize % 5], "pages/a/a")).collect();
    rig.append(records.clone());
    let mut c = RealtimeLog::new(settings(60, 40, true));
    rig.poll(&mut c).await.unwrap();
    for _ in 0..3 {
        rig.sim.inject(&rig.app.appid, realtime_log::API.path, Fault::Errcode(200010));
    }
    rig.set(start + 100);
    let before = rig.searches().len();
    let out = rig.poll(&mut c).await.expect("200010 is waited out, not a failure");
    assert_eq!(rig.searches().len(), before + 1, "no more searches once WeChat says too many");
    assert_eq!(by_level(&out), [0.0, 0.0, 0.0]);
    rig.set(start + 130);
    rig.poll(&mut c).await.unwrap();
    assert_eq!(rig.searches().len(), before + 1, "still backing off within the minute");
    // The other two faults, a minute apart each, then the catch-up.
    let out = rig.run(&mut c, start + 900, 20).await;
    assert_eq!(by_level(&out), expected(&records));
    assert_eq!(rig.client.telemetry.requests_to("realtimelogSearch"), rig.searches().len() as u64);

    // Someone else uses up the app's 50: the simulator refuses, the collector waits and catches up.
    let rig = Rig::new(start).await;
    rig.append(records.clone());
    let mut c = RealtimeLog::new(settings(60, 40, true));
    rig.poll(&mut c).await.unwrap();
    rig.set(start + 600);
    let q = [("date", "20240501".to_string()), ("begintime", start.to_string()), ("endtime", (start + 9).to_string())];
    for _ in 0..50 {
        let _: serde_json::Value = rig.client.get(&realtime_log::API, &q).await.unwrap();
    }
    let out = rig.poll(&mut c).await.unwrap();
    assert_eq!(by_level(&out), [0.0, 0.0, 0.0]);
    let out = rig.run(&mut c, start + 900, 15).await;
    assert_eq!(by_level(&out), expected(&records));
}

#[tokio::test]
async fn a_restart_counts_afresh_from_its_start() {
    let start = t0();
    let rig = Rig::new(start).await;
    let early: Vec<Record> = (0..30).map(|i| Record::new(start + i * 10, 8, "pages/a/a")).collect();
    let late: Vec<Record> = (0..30).map(|i| Record::new(start + 600 + i * 10, [2, 4][i as usize % 2], "pages/a/a")).collect();
    rig.append(early.iter().chain(&late).cloned());
    let mut first = RealtimeLog::new(settings(60, 40, false));
    let out = rig.run(&mut first, start + 500, 30).await;
    assert_eq!(by_level(&out), [0.0, 0.0, 30.0]);

    rig.set(start + 600);
    let mut second = RealtimeLog::new(settings(60, 40, false));
    let out = rig.poll(&mut second).await.unwrap();
    assert_eq!(by_level(&out), [0.0, 0.0, 0.0], "a new process starts at 0");
    let out = rig.run(&mut second, start + 1200, 30).await;
    assert_eq!(by_level(&out), [15.0, 15.0, 0.0], "only what was logged after the restart");
}

#[tokio::test]
async fn a_known_stream_ends_equal_within_the_budget() {
    let start = t0() + 3;
    for (by_url, odd, budget) in [(false, false, 40), (true, false, 40), (false, true, 3), (true, true, 3)] {
        let mut app = SimApp::new("shop", "wxrtlog000stream", Account::Miniprogram);
        app.odd = odd;
        let rig = Rig::with_app(start, app).await;
        let mut c = RealtimeLog::new(settings(60, budget, by_url));
        let out = rig.run(&mut c, start + 3 * 3600, 15).await;
        let from = realtime_log::align(start);
        let until = gauge(&out, &COUNTED_UNTIL).unwrap() as i64;
        // A small budget may leave the last window or two for the next poll.
        assert!(until >= start + 3 * 3600 - 300, "caught up: {until}");
        let stream = generated(&rig.app.appid, from, until);
        assert!(stream.len() > 5000, "{}", stream.len());
        if by_url {
            assert_eq!(counters(&out), expected_by_url(&stream), "by_url {by_url}, odd {odd}");
        } else {
            assert_eq!(by_level(&out), expected(&stream), "by_url {by_url}, odd {odd}");
        }
        let max = rig.max_per_minute();
        assert!(max <= budget as usize && max > 0, "{max} searches in a minute, budget {budget}");
        assert_eq!(gauge(&out, &SKIPPED), Some(0.0));
    }
}

#[tokio::test]
async fn a_catch_up_after_an_outage_stays_within_the_budget() {
    let start = t0();
    let app = SimApp::new("shop", "wxrtlog000outage", Account::Miniprogram);
    let rig = Rig::with_app(start, app).await;
    let mut c = RealtimeLog::new(settings(60, 5, true));
    rig.poll(&mut c).await.unwrap();
    // WeChat is down for two hours: every poll with a settled window fails, nothing is lost.
    for i in 2..=120 {
        rig.set(start + i * 60);
        rig.sim.inject(&rig.app.appid, realtime_log::API.path, Fault::Http(502));
        assert!(rig.poll(&mut c).await.is_err());
    }
    let out = rig.run(&mut c, start + 6 * 3600, 60).await;
    let until = gauge(&out, &COUNTED_UNTIL).unwrap() as i64;
    assert!(until >= start + 6 * 3600 - 80, "caught up: {until}");
    assert_eq!(counters(&out), expected_by_url(&generated(&rig.app.appid, start, until)));
    assert!(rig.max_per_minute() <= 5, "{}", rig.max_per_minute());
}

#[tokio::test]
async fn falling_behind_retention_skips_ahead_and_says_how_much() {
    let start = t0();
    let rig = Rig::new(start).await;
    let kept_from = day(2024, 5, 3);
    rig.append([Record::new(start + 100, 8, "pages/a/a"), Record::new(kept_from + 100, 8, "pages/a/a")]);
    let mut c = RealtimeLog::new(settings(60, 40, false));
    rig.poll(&mut c).await.unwrap();
    // Four days on (WeChat keeps three, today included): the 1st and 2nd are gone.
    rig.set(day(2024, 5, 5) + 3600);
    let out = rig.poll(&mut c).await.unwrap();
    assert_eq!(gauge(&out, &SKIPPED), Some((kept_from - start) as f64));
    assert!(rig.searches().iter().all(|s| s.begin >= kept_from), "nothing searched before the oldest kept day");
    let out = rig.run(&mut c, day(2024, 5, 5) + 4000, 60).await;
    assert_eq!(by_level(&out), [0.0, 0.0, 1.0]);

    // WeChat keeping less than believed: a past day refused with 200002 is skipped, today's is not.
    let rig = Rig::new(start).await;
    logs(&rig.sim).set_retention_days(1);
    rig.append([Record::new(start + 100, 8, "pages/a/a"), Record::new(day(2024, 5, 2) + 100, 4, "pages/a/a")]);
    let mut c = RealtimeLog::new(settings(60, 40, false));
    rig.poll(&mut c).await.unwrap();
    rig.set(day(2024, 5, 2) + 300);
    let out = rig.poll(&mut c).await.unwrap();
    assert_eq!(gauge(&out, &SKIPPED), Some((day(2024, 5, 2) - start) as f64));
    assert_eq!(by_level(&out), [0.0, 1.0, 0.0]);
}

#[tokio::test]
async fn short_intervals_do_not_search_more() {
    let start = t0();
    let app = SimApp::new("shop", "wxrtlog00000fast", Account::Miniprogram);
    let rig = Rig::with_app(start, app).await;
    let mut c = RealtimeLog::new(settings(60, 40, false));
    let out = rig.run(&mut c, start + 1800, 1).await;
    // One window per 10 seconds at most, whatever the interval: three searches each at worst.
    assert!(rig.searches().len() <= 3 * 1800 / 10, "{}", rig.searches().len());
    let until = gauge(&out, &COUNTED_UNTIL).unwrap() as i64;
    assert_eq!(by_level(&out), expected(&generated(&rig.app.appid, start, until)));
    assert!(rig.max_per_minute() <= 40);
}

/// The real binary, on the wall clock: records logged after it started show up counted.
#[tokio::test(flavor = "multi_thread")]
async fn the_binary_serves_the_counters() {
    let apps = vec![SimApp::new("shop", "wxrtlog0000e2e01", Account::Miniprogram)];
    let sim = simulator(apps.clone()).await;
    logs(&sim).set_generator(&apps[0].appid, false);
    let collectors = "    collectors:\n      realtime_log: {interval: 1s, settle: 1s, by_url: true}\n";
    let exp = Exporter::start(&config_for(&sim.base_url(), &apps, collectors), &[], &[]);
    exp.wait_ready().await;
    let lines = parse(&exp.get("/metrics").await.1);
    assert_eq!(value(&lines, "wechat_exporter_realtime_log_skipped_seconds_total", &[("app", "shop")]), Some(0.0));
    assert!(lines.iter().all(|l| l.name != "wechat_realtime_log_records_total"), "no url seen yet");

    let now = chrono::Utc::now().timestamp();
    logs(&sim).append(
        &apps[0].appid,
        [Record::new(now + 1, 10, "pages/a/a"), Record::new(now + 2, 2, "pages/a/a"), Record::new(now + 2, 4, "pages/b/b")],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let text = loop {
        let text = exp.get("/metrics").await.1;
        let until = value(&parse(&text), "wechat_exporter_realtime_log_counted_until_timestamp_seconds", &[("app", "shop")]);
        if until.is_some_and(|u| u as i64 > now + 2) {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "not counted in time: {text}\n{}", exp.log());
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let lines = parse(&text);
    let v = |level: &str, url: &str| value(&lines, "wechat_realtime_log_records_total", &[("app", "shop"), ("level", level), ("url", url)]);
    assert_eq!(v("error", "pages/a/a"), Some(1.0));
    assert_eq!(v("info", "pages/a/a"), Some(1.0));
    assert_eq!(v("warn", "pages/a/a"), Some(0.0));
    assert_eq!(v("warn", "pages/b/b"), Some(1.0));
    assert!(text.contains("# TYPE wechat_realtime_log_records_total counter\n"), "{text}");
    let problems = promtool_check(&text);
    assert!(problems.trim().is_empty(), "promtool check metrics: {problems}\n{text}");
}

#[test]
fn the_demo_config_polls_realtime_logs() {
    let apps = wechat_exporter::simulator::demo_apps();
    let text = wechat_exporter::simulator::demo_config("http://127.0.0.1:1", &apps);
    let config = wechat_exporter::config::parse(&text, "<demo>", &|_| None).expect("the demo config loads");
    for app in config.apps.iter().filter(|a| a.account == Account::Miniprogram) {
        assert!(app.collectors.iter().any(|c| c.spec.name() == "realtime_log"), "{}", app.name);
    }
    assert!(config.summary().contains("records by level and url"));
}
