//! The real binary against the simulator: interface_summary and cloudbase_sms.

mod common;

use std::process::Command;

use chrono::Utc;
use common::*;
use wechat_exporter::collectors::Account;
use wechat_exporter::cst;
use wechat_exporter::collectors::{cloudbase_sms, interface_summary};
use wechat_exporter::simulator::{SimApp, SmsActivity};

const SUMMARY_PATH: &str = "/datacube/getinterfacesummary";
const HOURLY_PATH: &str = "/datacube/getinterfacesummaryhour";
const SMS_PATH: &str = "/tcb/getstatistics";
const ACTIVITY: &str = "21ded5cb6001691405171ba161c603d1";
const ENV: &str = "prod-123";
/// Channels of the simulated activity: three, so the by-channel overview takes two pages.
const CHANNELS: [&str; 3] = ["_cms_sms_", "spring_sale", "vip"];
/// The channels the config asks conversion and realtime data for.
const CONFIGURED: [&str; 2] = ["_cms_sms_", "vip"];

/// Two Official Accounts (one answering oddly: hundreds for ref_hour, numbers as
/// strings, max_time_cost left out) and two mini programs with the same SMS
/// activity (one answering in the cloud-call shape, with an extra column and "N/A").
fn apps() -> Vec<(SimApp, String)> {
    let news = SimApp::new("news", "wxe2e0000000news", Account::OfficialAccount);
    let mut oddnews = SimApp::new("oddnews", "wxe2e000000onews", Account::OfficialAccount);
    oddnews.odd = true;
    let mut shop = SimApp::new("shop", "wxe2e0000000shop", Account::Miniprogram);
    shop.sms = vec![SmsActivity::new(ENV, ACTIVITY, &CHANNELS)];
    let mut odd = SimApp::new("odd", "wxe2e00000000odd", Account::Miniprogram);
    odd.odd = true;
    odd.sms = shop.sms.clone();
    let oa = "    collectors:\n      interface_summary: {interval: 1h}\n".to_string();
    let sms = format!(
        "    collectors:\n      cloudbase_sms:\n        interval: 1h\n        env_id: {ENV}\n        activities:\n          - activity_id: {ACTIVITY}\n            channel_ids: [{}]\n          - activity_id: not-an-activity\n            channel_ids: [_cms_sms_]\n",
        CONFIGURED.join(", ")
    );
    vec![(news, oa.clone()), (oddnews, oa), (shop, sms.clone()), (odd, sms)]
}

/// A numeric cell the simulator serves: the series' labels (besides `app`), its
/// column and the value as sent.
struct Expected {
    labels: Vec<(&'static str, String)>,
    col: &'static str,
    sent: String,
}

/// Every numeric cell the simulator serves for `app`.
fn sms_expected(app: &SimApp) -> Vec<Expected> {
    let act = &app.sms[0];
    let mut queries: Vec<(&str, Option<&str>, &str)> = vec![("overview", None, "")];
    queries.extend(CHANNELS.iter().map(|c| ("overview", Some(*c), "")));
    for c in CONFIGURED {
        queries.push(("conversion", Some(c), ""));
        queries.push(("realtime", Some(c), "h5"));
        queries.push(("realtime", Some(c), "wxapp"));
    }
    let mut out = Vec::new();
    for (action, channel, act_type) in queries {
        for cell in cloudbase_sms::sim::sms_row(&app.appid, act, action, channel, act_type, app.odd) {
            if cell.col_data_type == 0 {
                continue;
            }
            let mut labels = vec![
                ("env_id", ENV.to_string()),
                ("activity_id", ACTIVITY.to_string()),
                ("channel_id", channel.unwrap_or("all").to_string()),
                ("action", action.to_string()),
            ];
            if action == "realtime" {
                labels.push(("act_type", act_type.to_string()));
            }
            out.push(Expected { labels, col: cell.col_id, sent: cell.value });
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_hold_exactly_the_simulator_values() {
    let apps = apps();
    let sim = simulator(apps.iter().map(|(a, _)| a.clone()).collect()).await;
    // A host far from UTC+8: the dates asked for must still be UTC+8's.
    let exp = Exporter::start(&config_each(&sim.base_url(), &apps), &[], &[("TZ", "America/Los_Angeles")]);
    exp.wait_ready().await;
    let (status, text) = exp.get("/metrics").await;
    assert_eq!(status, 200);
    let lines = parse(&text);
    let day = cst::yesterday(Utc::now());

    // interface_summary
    for (app, _) in apps.iter().filter(|(a, _)| a.account == Account::OfficialAccount) {
        let a = ("app", app.name.as_str());
        let d = interface_summary::sim::day(&app.appid, day);
        assert_eq!(value(&lines, "wechat_interface_callbacks", &[a]), d.callback_count.get());
        assert_eq!(value(&lines, "wechat_interface_failures", &[a]), d.fail_count.get());
        assert_eq!(value(&lines, "wechat_interface_time_cost_seconds", &[a]), d.total_time_cost.get().map(|ms| ms / 1000.0));
        let max = value(&lines, "wechat_interface_max_time_cost_seconds", &[a]);
        if app.odd {
            assert_eq!(max, None, "a field WeChat leaves out is a missing sample, never 0");
        } else {
            assert_eq!(max, d.max_time_cost.get().map(|ms| ms / 1000.0));
        }
        for h in 0..24u32 {
            let hs = h.to_string();
            let hour = ("hour", hs.as_str());
            let r = interface_summary::sim::hour(&app.appid, day, h);
            assert_eq!(
                value(&lines, "wechat_interface_hourly_callbacks", &[a, hour]),
                r.callback_count.get(),
                "{h}"
            );
            assert_eq!(value(&lines, "wechat_interface_hourly_failures", &[a, hour]), r.fail_count.get());
            assert_eq!(
                value(&lines, "wechat_interface_hourly_time_cost_seconds", &[a, hour]),
                r.total_time_cost.get().map(|ms| ms / 1000.0)
            );
            assert_eq!(
                value(&lines, "wechat_interface_hourly_max_time_cost_seconds", &[a, hour]),
                r.max_time_cost.get().map(|ms| ms / 1000.0)
            );
        }
        let hours: Vec<&Line> = lines
            .iter()
            .filter(|l| l.name == "wechat_interface_hourly_callbacks" && l.labels["app"] == app.name)
            .collect();
        assert_eq!(hours.len(), 24, "hundreds and plain hours both land on 0..23");
        assert_eq!(
            value(&lines, "wechat_data_date_timestamp_seconds", &[a, ("collector", "interface_summary")]),
            Some(cst::day_start(day) as f64)
        );
        assert_eq!(value(&lines, "wechat_exporter_collector_up", &[a, ("collector", "interface_summary")]), Some(1.0));
        assert_eq!(value(&lines, "wechat_app_info", &[a, ("account", "official_account")]), Some(1.0));
    }
    for call in sim.calls(SUMMARY_PATH).iter().chain(sim.calls(HOURLY_PATH).iter()) {
        assert_eq!(call.body["begin_date"], cst::dashed(day), "{call:?}");
        assert_eq!(call.body["end_date"], cst::dashed(day), "{call:?}");
    }
    assert_eq!(sim.calls(SUMMARY_PATH).len(), 2);
    assert_eq!(sim.calls(HOURLY_PATH).len(), 2);

    // cloudbase_sms
    for (app, _) in apps.iter().filter(|(a, _)| a.account == Account::Miniprogram) {
        let a = ("app", app.name.as_str());
        let expected = sms_expected(app);
        let mut unparsed = 0;
        for Expected { labels, col, sent } in &expected {
            let mut want: Vec<(&str, &str)> = vec![a];
            want.extend(labels.iter().map(|(k, v)| (*k, v.as_str())));
            let got = value(&lines, &format!("wechat_cloudbase_sms_{col}"), &want);
            match sent.parse::<f64>() {
                Ok(v) => assert_eq!(got, Some(v), "{col} {labels:?}"),
                Err(_) => {
                    assert_eq!(got, None, "{sent:?} is skipped, never 0: {col} {labels:?}");
                    unparsed += 1;
                }
            }
        }
        let served: Vec<&Line> = lines
            .iter()
            .filter(|l| l.name.starts_with("wechat_cloudbase_sms_") && l.labels["app"] == app.name)
            .collect();
        assert_eq!(served.len(), expected.len() - unparsed, "nothing more than the simulator's numeric cells");
        assert!(
            served.iter().all(|l| l.labels["activity_id"] == ACTIVITY),
            "10011 for the unknown activity is no series"
        );
        assert!(served.iter().all(|l| l.labels.contains_key("act_type") == (l.labels["action"] == "realtime")));
        if app.odd {
            assert_eq!(unparsed, CONFIGURED.len(), "one N/A per conversion table");
            assert!(
                value(&lines, "wechat_cloudbase_sms_sms_fail_uercnt", &[a, ("channel_id", "all")]).is_some(),
                "the extra column"
            );
        } else {
            assert_eq!(unparsed, 0);
        }
        assert_eq!(value(&lines, "wechat_exporter_cloudbase_sms_unparsed_values_total", &[a]), Some(unparsed as f64));
        assert_eq!(value(&lines, "wechat_exporter_collector_up", &[a, ("collector", "cloudbase_sms")]), Some(1.0));
        assert_eq!(value(&lines, "wechat_data_date_timestamp_seconds", &[a, ("collector", "cloudbase_sms")]), None);
        // Known activity: overview whole, by channel (2 pages), 3 per configured channel;
        // unknown one: 2 overviews and 3 for its channel, each 10011.
        let calls = 1 + 2 + 3 * CONFIGURED.len() + 2 + 3;
        assert_eq!(
            value(&lines, "wechat_exporter_api_requests_total", &[a, ("api", "cloudbase.getStatistics")]),
            Some(calls as f64)
        );
        assert_eq!(
            value(&lines, "wechat_exporter_api_failures_total", &[a, ("api", "cloudbase.getStatistics")]),
            None,
            "10011 is no failure"
        );
    }
    assert!(text.contains("# TYPE wechat_exporter_cloudbase_sms_unparsed_values_total counter\n"));
    for call in sim.calls(SMS_PATH) {
        let begin = call.body["begin_date"].as_i64().unwrap();
        let end = call.body["end_date"].as_i64().unwrap();
        assert!(begin < end && end <= Utc::now().timestamp(), "{call:?}");
    }

    let problems = promtool_check(&text);
    assert!(problems.trim().is_empty(), "promtool check metrics: {problems}\n{text}");

    // OpenMetrics too: the counter family without _total, the dynamic gauges as gauges.
    let om = exp.openmetrics().await;
    assert!(om.contains("# TYPE wechat_exporter_cloudbase_sms_unparsed_values counter\n"), "{om}");
    assert!(om.contains("# TYPE wechat_cloudbase_sms_h5_sms_rate gauge\n"));
    assert!(om.ends_with("# EOF\n"));
}

#[test]
fn once_polls_both_collectors() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let apps = apps();
    let sim = rt.block_on(simulator(apps.iter().map(|(a, _)| a.clone()).collect()));
    let dir = tempdir("once-sms");
    let path = dir.join("c.yml");
    std::fs::write(&path, config_each(&sim.base_url(), &apps)).unwrap();
    let out = Command::new(bin()).args(["--once", "--config.file"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = parse(&String::from_utf8_lossy(&out.stdout));
    let d = interface_summary::sim::day("wxe2e0000000news", cst::yesterday(Utc::now()));
    assert_eq!(value(&lines, "wechat_interface_callbacks", &[("app", "news")]), d.callback_count.get());
    let Expected { labels, col, sent } = &sms_expected(&apps[2].0)[0];
    assert_eq!(*col, "h5_open_uercnt");
    assert_eq!(labels[2], ("channel_id", "all".to_string()));
    assert_eq!(
        value(
            &lines,
            "wechat_cloudbase_sms_h5_open_uercnt",
            &[("app", "shop"), ("channel_id", "all"), ("action", "overview")]
        ),
        Some(sent.parse().unwrap())
    );
}

#[test]
fn the_demo_shows_both_collectors() {
    let out = Command::new(bin()).args(["--demo", "--config.check"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("interface_summary every 1m: getinterfacesummary and getinterfacesummaryhour"), "{stdout}");
    assert!(stdout.contains("cloudbase_sms every 1m: cloudbase.getStatistics in env"), "{stdout}");

    let out = Command::new(bin()).args(["--demo", "--once"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = parse(&stdout);
    assert!(value(&lines, "wechat_interface_callbacks", &[("app", "news")]).is_some_and(|v| v > 0.0), "{stdout}");
    assert_eq!(lines.iter().filter(|l| l.name == "wechat_interface_hourly_callbacks").count(), 24);
    let sms: Vec<&Line> = lines.iter().filter(|l| l.name.starts_with("wechat_cloudbase_sms_")).collect();
    assert!(sms.iter().all(|l| l.labels["app"] == "shop"), "only shop has an SMS activity");
    for action in ["overview", "conversion", "realtime"] {
        assert!(sms.iter().any(|l| l.labels["action"] == action), "{action}: {stdout}");
    }
    let problems = promtool_check(&stdout);
    assert!(problems.trim().is_empty(), "promtool check metrics: {problems}");
}
