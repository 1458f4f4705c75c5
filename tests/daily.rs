//! Daily data and WeChat's date rules, with the clocks of both sides driven by the test.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use wechat_exporter::collectors::{performance, visit_trend, Collector, PollContext};
use wechat_exporter::collectors::Account;
use wechat_exporter::cst;
use wechat_exporter::simulator::{Options, SimApp, Simulator};
use wechat_exporter::wechat::AppClient;

struct FakeClock(Arc<AtomicI64>);

impl FakeClock {
    fn at(rfc3339: &str) -> FakeClock {
        FakeClock(Arc::new(AtomicI64::new(DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp())))
    }
    fn set(&self, rfc3339: &str) {
        self.0.store(DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp(), Ordering::SeqCst);
    }
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.0.load(Ordering::SeqCst), 0).unwrap()
    }
    fn func(&self) -> Arc<dyn Fn() -> DateTime<Utc> + Send + Sync> {
        let t = self.0.clone();
        Arc::new(move || DateTime::from_timestamp(t.load(Ordering::SeqCst), 0).unwrap())
    }
}

async fn setup(clock: &FakeClock, publish_hour: u32) -> (Simulator, AppClient, SimApp) {
    let app = SimApp::new("shop", "wxdaily00000shop", Account::Miniprogram);
    let mut opts = Options::new(vec![app.clone()]);
    opts.clock = clock.func();
    opts.publish_hour = publish_hour;
    let sim = Simulator::start(opts).await.unwrap();
    let client = sim.client_for(&app).unwrap();
    (sim, client, app)
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The days asked for since the first `from` calls, a retry after a stale token counted once.
fn asked_since(sim: &Simulator, from: usize) -> Vec<String> {
    let mut days: Vec<String> = sim.calls(visit_trend::API.path)[from..]
        .iter()
        .map(|c| c.body["end_date"].as_str().unwrap().to_string())
        .collect();
    days.dedup();
    days
}

fn pv(out: &wechat_exporter::collectors::Output) -> Option<f64> {
    out.samples.iter().find(|s| s.desc == visit_trend::PV).map(|s| s.value)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_newest_day_is_served_until_yesterday_arrives() {
    // 01:00 on 2 March in UTC+8; WeChat publishes yesterday at 09:00.
    let clock = FakeClock::at("2024-03-02T01:00:00+08:00");
    let (sim, client, app) = setup(&clock, 9).await;
    let mut c = visit_trend::VisitTrend::default();

    let out = c.poll(&PollContext::new(&client, clock.now())).await.unwrap();
    assert_eq!(out.data_date, Some(day(2024, 2, 29)), "a fresh start in the early hours asks for the day before");
    assert_eq!(pv(&out), visit_trend::sim::row(&app.appid, day(2024, 2, 29)).visit_pv.get());
    let asked: Vec<String> = sim.calls(visit_trend::API.path).iter().map(|c| c.body["end_date"].as_str().unwrap().to_string()).collect();
    assert_eq!(asked, ["20240301", "20240229"]);

    let out = c.poll(&PollContext::new(&client, clock.now())).await.unwrap();
    assert_eq!(out.data_date, Some(day(2024, 2, 29)));
    assert_eq!(asked_since(&sim, 2), ["20240301"], "the day before is held: only yesterday is asked again");

    clock.set("2024-03-02T10:00:00+08:00");
    let seen = sim.calls(visit_trend::API.path).len();
    let out = c.poll(&PollContext::new(&client, clock.now())).await.unwrap();
    assert_eq!(out.data_date, Some(day(2024, 3, 1)));
    assert_eq!(pv(&out), visit_trend::sim::row(&app.appid, day(2024, 3, 1)).visit_pv.get());
    assert_eq!(asked_since(&sim, seen), ["20240301"]);

    // Next night: the 1st is still the newest there is, and it stays served.
    clock.set("2024-03-03T02:00:00+08:00");
    let seen = sim.calls(visit_trend::API.path).len();
    let out = c.poll(&PollContext::new(&client, clock.now())).await.unwrap();
    assert_eq!(out.data_date, Some(day(2024, 3, 1)));
    assert_eq!(asked_since(&sim, seen), ["20240302"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn dates_follow_utc8_across_the_utc_day_boundary() {
    // 23:30 UTC on 1 March is 07:30 on 2 March in UTC+8: yesterday is the 1st, not the 29th.
    let clock = FakeClock::at("2024-03-01T23:30:00Z");
    let (sim, client, app) = setup(&clock, 0).await;
    let out = visit_trend::VisitTrend::default().poll(&PollContext::new(&client, clock.now())).await.unwrap();
    assert_eq!(out.data_date, Some(day(2024, 3, 1)));
    assert_eq!(sim.calls(visit_trend::API.path)[0].body["end_date"], "20240301");

    let mut perf = performance::Performance::new(performance::Settings::default());
    let out = perf.poll(&PollContext::new(&client, clock.now())).await.unwrap();
    assert_eq!(out.data_date, Some(day(2024, 3, 1)));
    assert_eq!(out.samples.len(), 3);
    let startup = performance::sim::cost_ms(&app.appid, day(2024, 3, 1), 1, "@_all|@_all|@_all|@_all") as f64 / 1000.0;
    assert!(out.samples.iter().any(|s| s.value == startup && s.labels.iter().any(|(_, v)| v == "startup")));
    for call in sim.calls(performance::API.path) {
        let end = call.body["default_end_time"].as_i64().unwrap();
        assert_eq!(cst::date_of(end), day(2024, 3, 1), "the window ends with yesterday in UTC+8");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn performance_serves_the_newest_published_day() {
    let clock = FakeClock::at("2024-03-02T01:00:00+08:00");
    let (_sim, client, _app) = setup(&clock, 9).await;
    let mut perf = performance::Performance::new(performance::Settings::default());
    let out = perf.poll(&PollContext::new(&client, clock.now())).await.unwrap();
    assert_eq!(out.data_date, Some(day(2024, 2, 29)), "yesterday is not published yet");
}

/// Any day can be asked for, not only the newest: what a backfill needs.
#[tokio::test(flavor = "multi_thread")]
async fn a_daily_collector_fetches_any_day_asked_for() {
    let clock = FakeClock::at("2024-03-20T08:00:00+08:00");
    let (sim, client, app) = setup(&clock, 9).await;
    let cx = PollContext::new(&client, clock.now());
    let old = day(2024, 3, 4);

    let trend = visit_trend::VisitTrend::default();
    let out = trend.fetch_day(&cx, old).expect("visit_trend is daily").await.unwrap().unwrap();
    assert_eq!(out.data_date, Some(old));
    assert_eq!(pv(&out), visit_trend::sim::row(&app.appid, old).visit_pv.get());
    assert_eq!(sim.calls(visit_trend::API.path)[0].body["end_date"], "20240304");

    let perf = performance::Performance::new(performance::Settings::default());
    let out = perf.fetch_day(&cx, old).expect("performance is daily").await.unwrap().unwrap();
    assert_eq!(out.data_date, Some(old));
    let startup = performance::sim::cost_ms(&app.appid, old, 1, "@_all|@_all|@_all|@_all") as f64 / 1000.0;
    assert!(out.samples.iter().any(|s| s.value == startup && s.labels.iter().any(|(_, v)| v == "startup")));

    // A day WeChat has not published is no data, not an error, before quiet_day_after;
    // from it, an empty yesterday is a quiet day: its date, no samples.
    let today = day(2024, 3, 20);
    let early = PollContext { quiet_after: std::time::Duration::from_secs(9 * 3600), ..PollContext::new(&client, clock.now()) };
    assert_eq!(trend.fetch_day(&early, day(2024, 3, 19)).unwrap().await.unwrap(), None, "yesterday comes out at 09:00");
    let quiet = trend.fetch_day(&cx, day(2024, 3, 19)).unwrap().await.unwrap().unwrap();
    assert_eq!((quiet.data_date, quiet.samples.len()), (Some(day(2024, 3, 19)), 0), "08:00: a quiet day");
    assert!(trend.fetch_day(&cx, today).unwrap().await.is_err(), "today is a range error (61501)");
}
