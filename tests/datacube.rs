//! The Mini Program datacube collectors in the real binary against the simulator,
//! across midnight in UTC+8, on a host in another time zone.
//!
//! The binary's clock is libfaketime's (Debian's `faketime` package): it starts
//! 30 seconds before midnight UTC+8 at the end of Sunday 31 March 2024, the last
//! day of a week and of a month, so midnight moves the day, the cohorts, the week
//! and the month at once. The simulator runs in the test on the same time, a
//! little ahead (so it never refuses the binary's "yesterday"). Before midnight
//! the exporter must serve exactly the simulator's values of Saturday 30 March, the
//! week of 18 March and February; after it, those of Sunday 31 March, the week of
//! 25 March and March.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate};
use common::clocked::Clocked;
use common::*;
use wechat_exporter::collectors::newest::{Month, Period, Week};
use wechat_exporter::collectors::{
    Account, daily_summary, retain, user_portrait, visit_distribution, visit_page, visit_trend,
};
use wechat_exporter::cst;
use wechat_exporter::simulator::SimApp;

/// 2024-03-31 23:59:30 in UTC+8.
const START: &str = "2024-03-31T23:59:30+08:00";

const COLLECTORS: &str = "    collectors:
      visit_trend: {interval: 5s}
      daily_summary: {interval: 5s}
      retain: {interval: 5s}
      visit_page: {interval: 5s}
      visit_distribution: {interval: 5s}
      user_portrait: {interval: 5s}
      weekly_visit_trend: {interval: 5s}
      monthly_visit_trend: {interval: 5s}
";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// What the exporter should serve once `yesterday` (UTC+8) is the newest day:
/// the data date of each collector.
fn dates_for(yesterday: NaiveDate) -> Vec<(&'static str, NaiveDate)> {
    vec![
        ("visit_trend", yesterday),
        ("daily_summary", yesterday),
        ("retain", yesterday),
        ("visit_page", yesterday),
        ("visit_distribution", yesterday),
        ("user_portrait", yesterday),
        ("weekly_visit_trend", Week::newest(yesterday).first()),
        ("monthly_visit_trend", Month::newest(yesterday).first()),
    ]
}

/// Checks that every value of `app` is exactly the simulator's for the period the
/// exporter says it serves, and returns those data dates.
fn check_app(lines: &[Line], app: &SimApp) -> Vec<(&'static str, NaiveDate)> {
    let a = ("app", app.name.as_str());
    let date_of = |collector: &'static str| -> NaiveDate {
        let ts = value(lines, "wechat_data_date_timestamp_seconds", &[a, ("collector", collector)])
            .unwrap_or_else(|| panic!("{}: no data date for {collector}", app.name));
        cst::date_of(ts as i64)
    };
    let eq = |name: &str, labels: &[(&str, &str)], want: Option<f64>| {
        let mut all = vec![a];
        all.extend_from_slice(labels);
        assert_eq!(value(lines, name, &all), want, "{}: {name} {labels:?}", app.name);
    };
    let mut dates = Vec::new();

    let d = date_of("visit_trend");
    let row = visit_trend::sim::row(&app.appid, d);
    eq("wechat_daily_visit_pv", &[], row.visit_pv.get());
    eq("wechat_daily_visit_depth", &[], row.visit_depth.get());
    eq("wechat_daily_visit_stay_time_per_user_seconds", &[], if app.odd { None } else { row.stay_time_uv.get() });
    dates.push(("visit_trend", d));

    let d = date_of("daily_summary");
    let row = daily_summary::sim::row(&app.appid, d);
    eq("wechat_cumulative_users", &[], row.visit_total.get());
    eq("wechat_daily_share_pv", &[], row.share_pv.get());
    eq("wechat_daily_share_uv", &[], if app.odd { None } else { row.share_uv.get() });
    dates.push(("daily_summary", d));

    let d = date_of("retain");
    for k in retain::KEYS {
        let (new, active) = retain::sim::figure(&app.appid, d - chrono::Duration::days(k), k);
        let ks = k.to_string();
        eq("wechat_retained_users", &[("cohort", "new"), ("days_after", &ks)], Some(new));
        eq("wechat_retained_users", &[("cohort", "active"), ("days_after", &ks)], Some(active));
    }
    dates.push(("retain", d));

    let d = date_of("visit_page");
    let pages = visit_page::sim::pages(&app.appid, d, app.odd);
    for (rank, p) in pages.iter().enumerate() {
        let page = p.page_path.as_deref().unwrap();
        let kept = rank < 20;
        eq("wechat_page_visit_pv", &[("page", page)], if kept { p.page_visit_pv.get() } else { None });
        eq("wechat_page_exit_pv", &[("page", page)], if kept { p.exitpage_pv.get() } else { None });
        let share_uv = if kept && !app.odd { p.page_share_uv.get() } else { None };
        eq("wechat_page_share_uv", &[("page", page)], share_uv);
    }
    dates.push(("visit_page", d));

    let d = date_of("visit_distribution");
    for (index, items) in visit_distribution::sim::distributions(&app.appid, d, app.odd) {
        for (key, v) in items {
            let dim = visit_distribution::dimension(index);
            eq("wechat_daily_visit_distribution", &[("dimension", dim), ("key", &key.to_string())], Some(v as f64));
        }
    }
    dates.push(("visit_distribution", d));

    let d = date_of("user_portrait");
    let served = ["genders", "platforms", "ages", "province"];
    for (users, dim, name, v) in user_portrait::sim::portrait(&app.appid, d, 7) {
        let want = served.contains(&dim).then_some(v as f64);
        eq("wechat_user_portrait_users", &[("users", users), ("dimension", dim), ("name", name)], want);
    }
    dates.push(("user_portrait", d));

    let d = date_of("weekly_visit_trend");
    let week = Week::of(d);
    assert_eq!(week.first(), d, "a week is dated by its Monday");
    let row = visit_trend::sim::period_row(&app.appid, week);
    eq("wechat_weekly_visit_sessions", &[], row.session_cnt.get());
    eq("wechat_weekly_visit_uv", &[], row.visit_uv.get());
    eq("wechat_weekly_visit_stay_time_per_user_seconds", &[], if app.odd { None } else { row.stay_time_uv.get() });
    dates.push(("weekly_visit_trend", d));

    let d = date_of("monthly_visit_trend");
    let month = Month::of(d);
    assert_eq!(month.first(), d, "a month is dated by its first day");
    let row = visit_trend::sim::period_row(&app.appid, month);
    eq("wechat_monthly_visit_pv", &[], row.visit_pv.get());
    eq("wechat_monthly_visit_uv_new", &[], row.visit_uv_new.get());
    dates.push(("monthly_visit_trend", d));

    for (api, want) in [
        ("getDailySummary", 1.0),
        ("getDailyRetain", 1.0),
        ("getVisitPage", 1.0),
        ("getVisitDistribution", 1.0),
        ("getUserPortrait", 1.0),
        ("getWeeklyVisitTrend", 1.0),
        ("getMonthlyVisitTrend", 1.0),
    ] {
        let n = value(lines, "wechat_exporter_api_requests_total", &[a, ("api", api)]);
        assert!(n.is_some_and(|n| n >= want), "{}: requests to {api}: {n:?}", app.name);
    }
    dates
}

#[tokio::test(flavor = "multi_thread")]
async fn exact_values_for_the_right_periods_across_midnight_in_utc8() {
    let mut odd = SimApp::new("odd", "wxdatacube000odd", Account::Miniprogram);
    odd.odd = true;
    let apps = vec![SimApp::new("shop", "wxdatacube00shop", Account::Miniprogram), odd];
    let each: Vec<(SimApp, String)> = apps.iter().map(|a| (a.clone(), COLLECTORS.to_string())).collect();
    let c = Clocked::start(START, &each, "").await;
    let (sim, exp, start) = (&c.sim, &c.exp, c.start);
    let sim_now = || c.sim_now();

    let before = dates_for(day(2024, 3, 30));
    let after = dates_for(day(2024, 3, 31));
    assert_eq!(before[6].1, day(2024, 3, 18));
    assert_eq!(before[7].1, day(2024, 2, 1));
    assert_eq!((after[6].1, after[7].1), (day(2024, 3, 25), day(2024, 3, 1)));

    let mut seen_before: HashSet<(String, &str)> = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, text) = exp.get("/metrics").await;
        assert_eq!(status, 200);
        let lines = parse(&text);
        let mut all_after = true;
        for app in &apps {
            for (collector, date) in check_app(&lines, app) {
                let (b, a) = (before.iter().find(|(c, _)| *c == collector).unwrap().1, after.iter().find(|(c, _)| *c == collector).unwrap().1);
                assert!(date == b || date == a, "{}: {collector} serves {date}, at {}", app.name, sim_now());
                if date == b && b != a {
                    assert!(sim_now() < start + chrono::Duration::seconds(60), "{collector} still on {date} long after midnight");
                }
                if date == b {
                    seen_before.insert((app.name.clone(), collector));
                }
                all_after &= date == a;
            }
        }
        if all_after {
            assert_eq!(
                seen_before.len(),
                apps.len() * before.len(),
                "every collector was seen on its period before midnight, then after (else the machine was too busy for this test): {seen_before:?}"
            );
            assert!(sim_now() >= DateTime::parse_from_rfc3339("2024-04-01T00:00:00+08:00").unwrap().to_utc());
            let problems = promtool_check(&text);
            assert!(problems.trim().is_empty(), "promtool check metrics: {problems}");
            break;
        }
        assert!(Instant::now() < deadline, "not every collector moved past midnight:\n{}", exp.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Every request the binary made was a period WeChat accepts (no 61501).
    let log = exp.log();
    assert!(!log.contains("61501") && !log.contains("61500"), "{log}");
    for call in sim.calls("/datacube/getweanalysisappidweeklyvisittrend") {
        let first = cst::parse(call.body["begin_date"].as_str().unwrap()).unwrap();
        assert_eq!(Week::of(first).first(), first);
    }
}
