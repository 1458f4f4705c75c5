//! Polling through WeChat's blips, against the real binary and the simulator's faults: a
//! transient failure is tried again within the poll, and a poll that still fails is followed
//! by another well before the interval is up.

mod common;

use std::time::{Duration, Instant};

use common::*;
use wechat_exporter::collectors::Account;
use wechat_exporter::simulator::{Fault, SimApp};

const VISIT: &str = "/datacube/getweanalysisappiddailyvisittrend";

fn metric(lines: &[Line], name: &str, app: &str, extra: &[(&str, &str)]) -> Option<f64> {
    let mut labels = vec![("app", app)];
    labels.extend_from_slice(extra);
    value(lines, name, &labels)
}

/// Waits until every app has finished its first poll (`up` is there), and returns the metrics.
async fn after_first_polls(exp: &Exporter, apps: &[SimApp]) -> Vec<Line> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines = parse(&exp.get("/metrics").await.1);
        let polled = apps
            .iter()
            .all(|a| metric(&lines, "wechat_exporter_collector_up", &a.name, &[("collector", "visit_trend")]).is_some());
        if polled {
            return lines;
        }
        assert!(Instant::now() < deadline, "first polls not done:\n{}", exp.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One blip of each transient kind costs nothing: the second try within the same poll
/// succeeds, so the collector is up after its first poll, with the blip counted. A failure
/// that is not transient (a date WeChat refuses) is not tried again.
#[tokio::test(flavor = "multi_thread")]
async fn a_transient_failure_is_tried_again_within_the_poll() {
    // (fault, how many in a row, reason, tried again within the poll)
    let cases: Vec<(Fault, usize, &str, bool)> = vec![
        (Fault::Http(502), 1, "http_502", true),
        (Fault::Http(503), 1, "http_503", true),
        (Fault::Hang, 1, "timeout", true),
        (Fault::Reset, 1, "connect", true),
        // The client itself retries -1 three times; four in a row reach the poller.
        (Fault::Errcode(-1), 4, "errcode_-1", true),
        (Fault::Errcode(61501), 1, "errcode_61501", false),
    ];
    let apps: Vec<SimApp> =
        (0..cases.len()).map(|i| SimApp::new(&format!("r{i}"), &format!("wxretry{i:09}"), Account::Miniprogram)).collect();
    let sim = simulator(apps.clone()).await;
    for (app, (fault, n, _, _)) in apps.iter().zip(&cases) {
        for _ in 0..*n {
            sim.inject(&app.appid, VISIT, fault.clone());
        }
    }
    // An hour's interval: nothing but the retry within the poll can heal a failure here.
    let config = config_for(&sim.base_url(), &apps, "    collectors:\n      visit_trend: {interval: 1h}\n")
        .replace("timeout: 3s", "timeout: 1s");
    let exp = Exporter::start(&config, &["--log.level", "debug"], &[]);
    let lines = after_first_polls(&exp, &apps).await;

    for (app, (_, n, reason, retried)) in apps.iter().zip(&cases) {
        let name = app.name.as_str();
        let up = metric(&lines, "wechat_exporter_collector_up", name, &[("collector", "visit_trend")]);
        let failures =
            metric(&lines, "wechat_exporter_api_failures_total", name, &[("api", "getDailyVisitTrend"), ("reason", reason)]);
        let requests = metric(&lines, "wechat_exporter_api_requests_total", name, &[("api", "getDailyVisitTrend")]);
        assert_eq!(failures, Some(*n as f64), "{name}: {reason} counted");
        if *retried {
            assert_eq!(up, Some(1.0), "{name}: one {reason} blip left the collector down\n{}", exp.log());
            assert!(metric(&lines, "wechat_daily_visit_pv", name, &[]).is_some(), "{name}: the data came in");
            // The daily collector asks for yesterday once; the retry asks again.
            assert!(requests.unwrap_or(0.0) >= *n as f64 + 1.0, "{name}: {requests:?} requests");
        } else {
            assert_eq!(up, Some(0.0), "{name}: {reason} is not transient and fails the poll");
            assert_eq!(requests, Some(1.0), "{name}: {reason} is not asked again within the poll");
        }
        // The interval is served for the collector-down alert to weigh the age against.
        let interval = metric(&lines, "wechat_exporter_collector_interval_seconds", name, &[("collector", "visit_trend")]);
        assert_eq!(interval, Some(3600.0), "{name}");
    }
    let log = exp.log();
    assert!(log.contains("poll failed; trying again"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// A poll whose retry fails too is followed by another soon (an eighth of the interval here,
/// at most 30s), not a whole interval later.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_poll_is_followed_by_another_well_within_the_interval() {
    let app = SimApp::new("flaky", "wxretry000flaky0", Account::Miniprogram);
    let sim = simulator(vec![app.clone()]).await;
    // The try and its retry fail; the poll after that works.
    sim.inject(&app.appid, VISIT, Fault::Http(502));
    sim.inject(&app.appid, VISIT, Fault::Http(502));
    let config = config_for(&sim.base_url(), std::slice::from_ref(&app), "    collectors:\n      visit_trend: {interval: 80s}\n");
    let exp = Exporter::start(&config, &[], &[]);
    let lines = after_first_polls(&exp, std::slice::from_ref(&app)).await;
    let down_at = Instant::now();
    let up = |lines: &[Line]| metric(lines, "wechat_exporter_collector_up", "flaky", &[("collector", "visit_trend")]);
    assert_eq!(up(&lines), Some(0.0), "both tries failed");
    // The next poll comes after 10s (80s / 8), give or take the jitter; before, after 76s or more.
    loop {
        let lines = parse(&exp.get("/metrics").await.1);
        if up(&lines) == Some(1.0) {
            break;
        }
        assert!(down_at.elapsed() < Duration::from_secs(30), "no new poll within 30s of a failed one\n{}", exp.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(down_at.elapsed() >= Duration::from_secs(5), "the next poll waited a while: {:?}", down_at.elapsed());
    assert_eq!(sim.calls(VISIT).len(), 3);
}
