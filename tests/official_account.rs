//! The Official Account collectors in the real binary against the simulator, on a
//! host in another time zone (America/Los_Angeles) with libfaketime's clock:
//! exact values for the right day across midnight UTC+8, and the quiet-day rule
//! across `wechat.quiet_day_after` (a quiet account's date advances with no
//! series; a late-publishing one is served as soon as WeChat has its day).

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate};
use common::clocked::Clocked;
use common::*;
use wechat_exporter::collectors::{Account, article_reads, interface_summary, upstream_msg, user_summary};
use wechat_exporter::cst;
use wechat_exporter::simulator::SimApp;

const OA: &str = "    collectors:
      interface_summary: {interval: 5s}
      user_summary: {interval: 5s}
      article_reads: {interval: 5s}
      upstream_msg: {interval: 5s}
";

const MP: &str = "    collectors:
      visit_trend: {interval: 5s}
      daily_summary: {interval: 5s}
      performance: {interval: 5s}
      retain: {interval: 5s}
";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn date_of(lines: &[Line], app: &SimApp, collector: &str) -> Option<NaiveDate> {
    value(lines, "wechat_data_date_timestamp_seconds", &[("app", &app.name), ("collector", collector)])
        .map(|ts| cst::date_of(ts as i64))
}

/// Series as (labels besides `app`, value), sorted by labels.
type Series = Vec<(Vec<(String, String)>, f64)>;

/// Every series of `app` named `name`.
fn series(lines: &[Line], app: &SimApp, name: &str) -> Series {
    let mut out: Series = lines
        .iter()
        .filter(|l| l.name == name && l.labels.get("app") == Some(&app.name))
        .map(|l| (l.labels.iter().filter(|(k, _)| *k != "app").map(|(k, v)| (k.clone(), v.clone())).collect(), l.value))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn labelled(key: &str, rows: impl IntoIterator<Item = (String, Option<f64>)>) -> Series {
    let mut out: Series = rows.into_iter().filter_map(|(k, v)| v.map(|v| (vec![(key.to_string(), k)], v))).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// What the simulator says `app` should serve for `d`, metric by metric, for the
/// three new collectors (each series, exactly).
fn want(app: &SimApp, d: NaiveDate) -> Vec<(&'static str, Series)> {
    let src = user_summary::sim::sources(&app.appid, d, app.odd);
    let reads = article_reads::sim::rows(&app.appid, d, app.odd);
    let msgs = upstream_msg::sim::rows(&app.appid, d);
    let read = |f: fn(&article_reads::Row) -> Option<f64>| {
        labelled("source", reads.iter().map(|r| (r.user_source.get().unwrap().to_string(), f(r))))
    };
    vec![
        ("wechat_daily_new_followers", labelled("source", src.iter().map(|r| (r.user_source.get().unwrap().to_string(), r.new_user.get())))),
        ("wechat_daily_lost_followers", labelled("source", src.iter().map(|r| (r.user_source.get().unwrap().to_string(), r.cancel_user.get())))),
        ("wechat_followers", vec![(vec![], user_summary::sim::followers(&app.appid, d, app.quiet))]),
        ("wechat_daily_article_read_users", read(|r| r.int_page_read_user.get())),
        ("wechat_daily_article_reads", read(|r| r.int_page_read_count.get())),
        ("wechat_daily_article_original_read_users", read(|r| r.ori_page_read_user.get())),
        ("wechat_daily_article_original_reads", read(|r| r.ori_page_read_count.get())),
        ("wechat_daily_article_share_users", read(|r| r.share_user.get())),
        ("wechat_daily_article_shares", read(|r| r.share_count.get())),
        ("wechat_daily_article_favorite_users", read(|r| r.add_to_fav_user.get())),
        ("wechat_daily_article_favorites", read(|r| r.add_to_fav_count.get())),
        ("wechat_daily_messages_received", labelled("msg_type", msgs.iter().map(|r| (r.msg_type.get().unwrap().to_string(), r.msg_count.get())))),
        ("wechat_daily_message_senders", labelled("msg_type", msgs.iter().map(|r| (r.msg_type.get().unwrap().to_string(), r.msg_user.get())))),
    ]
}

/// The collector serving `metric`.
fn collector_of(metric: &str) -> &'static str {
    match metric {
        m if m.contains("follower") => "user_summary",
        m if m.contains("article") => "article_reads",
        _ => "upstream_msg",
    }
}

/// Checks every new metric of `app` against the simulator for the day each
/// collector says it serves; returns those days.
fn check_exact(lines: &[Line], app: &SimApp) -> Vec<(&'static str, NaiveDate)> {
    let mut dates = Vec::new();
    for collector in ["user_summary", "article_reads", "upstream_msg"] {
        let d = date_of(lines, app, collector).unwrap_or_else(|| panic!("{}: no data date for {collector}", app.name));
        for (metric, expected) in want(app, d).into_iter().filter(|(m, _)| collector_of(m) == collector) {
            assert_eq!(series(lines, app, metric), expected, "{}: {metric} for {d}", app.name);
        }
        dates.push((collector, d));
    }
    let d = date_of(lines, app, "interface_summary").unwrap();
    let row = interface_summary::sim::day(&app.appid, d);
    assert_eq!(value(lines, "wechat_interface_callbacks", &[("app", &app.name)]), row.callback_count.get());
    dates.push(("interface_summary", d));
    dates
}

#[tokio::test(flavor = "multi_thread")]
async fn exact_values_for_the_right_day_across_midnight_in_utc8() {
    let mut odd = SimApp::new("oddnews", "wxoa0000000odd01", Account::OfficialAccount);
    odd.odd = true;
    let news = SimApp::new("news", "wxoa00000news001", Account::OfficialAccount);
    let apps = vec![(news.clone(), OA.to_string()), (odd.clone(), OA.to_string())];
    let c = Clocked::start("2024-05-06T23:59:35+08:00", &apps, "").await;
    let (before, after) = (day(2024, 5, 5), day(2024, 5, 6));
    let midnight = DateTime::parse_from_rfc3339("2024-05-07T00:00:00+08:00").unwrap().to_utc();

    let mut seen_before = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (text, lines) = c.scrape().await;
        let mut all_after = true;
        let mut complete = true;
        for (app, _) in &apps {
            if date_of(&lines, app, "upstream_msg").is_none() || date_of(&lines, app, "interface_summary").is_none() {
                complete = false;
                continue;
            }
            for (collector, d) in check_exact(&lines, app) {
                assert!(d == before || d == after, "{}: {collector} serves {d}", app.name);
                if d == before {
                    assert!(c.sim_now() < midnight + chrono::Duration::seconds(30), "{collector} still on {d} long after midnight");
                    seen_before.insert((app.name.clone(), collector));
                }
                all_after &= d == after;
            }
        }
        if complete && all_after {
            assert_eq!(seen_before.len(), 8, "every collector served the day before, then yesterday: {seen_before:?}");
            let problems = promtool_check(&text);
            assert!(problems.trim().is_empty(), "promtool check metrics: {problems}");
            for app in [&news, &odd] {
                for api in ["getusersummary", "getusercumulate", "getuserread", "getupstreammsg"] {
                    let n = value(&lines, "wechat_exporter_api_requests_total", &[("app", &app.name), ("api", api)]);
                    assert!(n.is_some_and(|n| n >= 2.0), "{}: requests to {api}: {n:?}", app.name);
                }
            }
            break;
        }
        assert!(Instant::now() < deadline, "not every collector moved past midnight:\n{}", c.exp.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let log = c.exp.log();
    assert!(!log.contains("61501") && !log.contains("61500"), "{log}");
    for path in ["/datacube/getusersummary", "/datacube/getusercumulate", "/datacube/getuserread", "/datacube/getupstreammsg"] {
        for call in c.sim.calls(path) {
            assert_eq!(call.body["begin_date"], call.body["end_date"], "{path}");
            assert!(cst::parse(call.body["end_date"].as_str().unwrap()).is_some_and(|d| d == before || d == after));
        }
    }
}

/// The activity metrics of the daily collectors: absent on a quiet day.
const ACTIVITY: &[&str] = &[
    "wechat_daily_new_followers",
    "wechat_daily_lost_followers",
    "wechat_daily_article_reads",
    "wechat_daily_messages_received",
    "wechat_interface_callbacks",
    "wechat_interface_hourly_callbacks",
    "wechat_daily_visit_pv",
    "wechat_daily_share_pv",
    "wechat_cumulative_users",
    "wechat_performance_cost_time_seconds",
    "wechat_retained_users",
];

#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_account_moves_on_and_a_late_one_is_not_taken_for_quiet() {
    // WeChat publishes at 00:00 for everyone but `late`, which publishes at
    // 08:00:25, after the exporter's quiet_day_after of 08:00.
    let mut quiet = SimApp::new("quiet", "wxoa000000quiet1", Account::OfficialAccount);
    quiet.quiet = true;
    let mut quiet_mp = SimApp::new("quietmp", "wxmp000000quiet1", Account::Miniprogram);
    quiet_mp.quiet = true;
    let mut late = SimApp::new("late", "wxoa0000000late1", Account::OfficialAccount);
    late.publish_at = Some(Duration::from_secs(8 * 3600 + 25));
    let apps = vec![(quiet.clone(), OA.to_string()), (quiet_mp.clone(), MP.to_string()), (late.clone(), OA.to_string())];
    let c = Clocked::start("2024-05-07T07:59:40+08:00", &apps, "  quiet_day_after: 8h\n").await;
    let (before, yesterday) = (day(2024, 5, 5), day(2024, 5, 6));
    let hour = DateTime::parse_from_rfc3339("2024-05-07T08:00:00+08:00").unwrap().to_utc();
    let published = hour + chrono::Duration::seconds(25);
    let quiet_collectors: &[(&SimApp, &[&str])] = &[
        (&quiet, &["interface_summary", "user_summary", "article_reads", "upstream_msg"]),
        (&quiet_mp, &["visit_trend", "daily_summary", "performance", "retain"]),
    ];

    let (mut late_before_with_data, mut quiet_seen_before, mut late_seen_empty) = (false, false, false);
    let deadline = Instant::now() + Duration::from_secs(100);
    loop {
        let t_before = c.sim_now();
        let (text, lines) = c.scrape().await;
        // A quiet account: never a series of activity, whatever the date.
        let mut quiet_done = true;
        for (app, collectors) in quiet_collectors {
            for m in ACTIVITY {
                assert!(series(&lines, app, m).is_empty(), "{}: {m} on a quiet day:\n{text}", app.name);
            }
            for collector in *collectors {
                match date_of(&lines, app, collector) {
                    Some(d) if d == yesterday => {}
                    Some(d) if d == before => {
                        assert!(t_before < hour + chrono::Duration::seconds(15), "{}: {collector} stuck on {d}", app.name);
                        quiet_seen_before = true;
                        quiet_done = false;
                    }
                    other => {
                        assert!(other.is_none(), "{}: {collector} serves {other:?}", app.name);
                        quiet_done = false;
                    }
                }
            }
        }
        if let Some(d) = date_of(&lines, &quiet, "user_summary") {
            let f = value(&lines, "wechat_followers", &[("app", "quiet")]);
            assert_eq!(f, Some(user_summary::sim::followers(&quiet.appid, d, true)), "a quiet day still has followers");
        }
        // The late account: the day before with its data until the hour; yesterday
        // without series only between the hour and WeChat's late publishing; then
        // yesterday's numbers.
        let mut late_done = true;
        for collector in ["user_summary", "article_reads", "upstream_msg", "interface_summary"] {
            // One metric of the collector, and what it should be for `d`.
            let probe = |d: NaiveDate| match collector {
                "interface_summary" => (
                    "wechat_interface_callbacks",
                    interface_summary::sim::day(&late.appid, d).callback_count.get().map(|v| vec![(vec![], v)]).unwrap(),
                ),
                _ => want(&late, d).into_iter().find(|(m, _)| collector_of(m) == collector).unwrap(),
            };
            match date_of(&lines, &late, collector) {
                Some(d) if d == before => {
                    let (metric, expected) = probe(d);
                    assert_eq!(series(&lines, &late, metric), expected, "{collector}: the day before, with its data");
                    late_before_with_data = true;
                    late_done = false;
                }
                Some(d) if d == yesterday => {
                    let (metric, expected) = probe(d);
                    let have = series(&lines, &late, metric);
                    if have.is_empty() {
                        assert!(c.sim_now() >= hour, "{collector}: empty before the quiet hour");
                        assert!(t_before < published + chrono::Duration::seconds(15), "{collector}: late data not picked up");
                        late_seen_empty = true;
                        late_done = false;
                    } else {
                        assert_eq!(have, expected, "{collector}: yesterday's numbers, exactly");
                    }
                }
                other => {
                    assert!(other.is_none(), "late: {collector} serves {other:?}");
                    late_done = false;
                }
            }
        }
        if quiet_done && late_done {
            assert!(c.sim_now() >= published, "the late day is only served once published");
            check_exact(&lines, &late);
            assert!(quiet_seen_before && late_before_with_data, "seen before the hour (else the machine was too busy)");
            let problems = promtool_check(&text);
            assert!(problems.trim().is_empty(), "promtool check metrics: {problems}");
            eprintln!("late account seen empty between the hour and its publishing: {late_seen_empty}");
            break;
        }
        assert!(Instant::now() < deadline, "quiet and late accounts did not settle by {}:\n{}", c.sim_now(), c.exp.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
