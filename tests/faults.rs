//! Faults from WeChat, against the real binary: each one shows as `up` 0 with the
//! right reason, the last good values stay served, and the next poll recovers.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use wechat_exporter::collectors::{performance, visit_trend, Account};
use wechat_exporter::cst;
use wechat_exporter::secret::Secret;
use wechat_exporter::simulator::{Fault, SimApp};
use wechat_exporter::telemetry::Live;
use wechat_exporter::wechat::{AppClient, ClientSettings, Credential, TokenMode, WechatClient, WechatError};

const VISIT: &str = "/datacube/getweanalysisappiddailyvisittrend";

struct Case {
    faults: Vec<Fault>,
    /// The failure reason counted, and whether the poll as a whole fails.
    reason: &'static str,
    poll_fails: bool,
}

fn cases(trap: &Trap) -> Vec<Case> {
    let one = |f: Fault, reason, poll_fails| Case { faults: vec![f], reason, poll_fails };
    let redirect = |status| Fault::Redirect { status, location: trap.url(VISIT) };
    // A transient fault (5xx, reset, hang, -1) is tried again within the poll: it takes two
    // in a row to fail one.
    let two = |f: Fault, reason| Case { faults: vec![f; 2], reason, poll_fails: true };
    vec![
        two(Fault::Http(502), "http_502"),
        two(Fault::Http(503), "http_503"),
        one(Fault::Body("<html><body>upstream error</body></html>".into()), "invalid_response", true),
        one(Fault::Body("{\"list\":[{\"ref_date\":\"2024".into()), "invalid_response", true),
        one(Fault::Body("{\"list\":[{\"ref_date\":\"20240101\",\"visit_pv\":{\"n\":1}}]}".into()), "invalid_response", true),
        one(Fault::Body("{\"list\":\"nope\"}".into()), "invalid_response", true),
        two(Fault::Reset, "connect"),
        two(Fault::Hang, "timeout"),
        one(Fault::Http(502), "http_502", false),
        // "System busy" is retried by the client three more times, and then by the poll once
        // more: four in a row are absorbed, eight fail the poll.
        Case { faults: vec![Fault::Errcode(-1); 4], reason: "errcode_-1", poll_fails: false },
        Case { faults: vec![Fault::Errcode(-1); 8], reason: "errcode_-1", poll_fails: true },
        one(Fault::Errcode(61501), "errcode_61501", true),
        // A code the exporter does not know shares one series with every other such code.
        one(Fault::Errcode(99999), "errcode_other", true),
        one(Fault::Errcode(-424242), "errcode_other", true),
        // Redirects are not followed: another host's answer is never served as ours.
        one(redirect(302), "redirect", true),
        one(redirect(307), "redirect", true),
        one(redirect(301), "redirect", true),
        // An answer past the size limit (4 MiB by default), streamed or declared.
        one(Fault::Huge { bytes: 16 << 20, declared: false }, "too_large", true),
        one(Fault::Huge { bytes: 16 << 20, declared: true }, "too_large", true),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_shows_and_heals() {
    let trap = Trap::start().await;
    let cases = cases(&trap);
    let apps: Vec<SimApp> =
        (0..cases.len()).map(|i| SimApp::new(&format!("f{i}"), &format!("wxfault{i:09}"), Account::Miniprogram)).collect();
    let sim = simulator(apps.clone()).await;
    let config = config_for(&sim.base_url(), &apps, "    collectors:\n      visit_trend: {interval: 1s}\n")
        .replace("timeout: 3s", "timeout: 1s");
    let exp = Exporter::start(&config, &["--log.level", "debug"], &[]);
    exp.wait_ready().await;
    let good = parse(&exp.get("/metrics").await.1);
    for (app, case) in apps.iter().zip(&cases) {
        for f in &case.faults {
            sim.inject(&app.appid, VISIT, f.clone());
        }
    }

    let deadline = Instant::now() + Duration::from_secs(25);
    let mut seen_down = vec![false; cases.len()];
    let mut healed = vec![false; cases.len()];
    while healed.iter().any(|h| !h) {
        assert!(Instant::now() < deadline, "not all faults healed: {healed:?} down seen: {seen_down:?}\n{}", exp.log());
        // The log first: a poll it says has failed is counted in the scrape that follows.
        let log = exp.log();
        let lines = parse(&exp.get("/metrics").await.1);
        for (i, (app, case)) in apps.iter().zip(&cases).enumerate() {
            let a = ("app", app.name.as_str());
            // The last good values stay served, whatever happens.
            assert_eq!(
                value(&lines, "wechat_daily_visit_pv", &[a]),
                value(&good, "wechat_daily_visit_pv", &[a]),
                "app {} lost its values",
                app.name
            );
            assert!(value(&lines, "wechat_data_date_timestamp_seconds", &[a, ("collector", "visit_trend")]).is_some());
            let up = value(&lines, "wechat_exporter_collector_up", &[a, ("collector", "visit_trend")]);
            let failures = value(
                &lines,
                "wechat_exporter_api_failures_total",
                &[a, ("api", "getDailyVisitTrend"), ("reason", case.reason)],
            );
            // A failed poll is followed by another within an eighth of the interval, so the
            // log (not only `up`, which may be 0 only briefly) says whether one failed.
            if up == Some(0.0) || log.contains(&format!("message=\"poll failed\" app={} collector=visit_trend ", app.name)) {
                seen_down[i] = true;
                assert!(failures.is_some(), "app {} is down without a counted {} failure", app.name, case.reason);
            }
            let counted = failures.unwrap_or(0.0) >= case.faults.len() as f64;
            if counted && up == Some(1.0) && (seen_down[i] || !case.poll_fails) {
                healed[i] = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    for (i, case) in cases.iter().enumerate() {
        assert_eq!(seen_down[i], case.poll_fails, "case {} ({})", i, case.reason);
    }
    let log = exp.log();
    assert!(!log.contains("panicked"), "{log}");
    // While it was down the age of the data stayed visible.
    assert!(log.contains("poll failed"));
    // Unknown codes are in the log line, and in no series of their own.
    assert!(log.contains("errcode 99999") && log.contains("errcode -424242"), "{log}");
    let metrics = exp.get("/metrics").await.1;
    assert!(!metrics.contains("errcode_99999") && !metrics.contains("errcode_-424242"), "{metrics}");
    assert_eq!(trap.hits(), 0, "a redirect was followed: {}", trap.received());
}

/// A redirect from the token endpoints or a data API fails the call with `reason`
/// `redirect`, and the other host hears nothing: no secret re-posted, no token in a
/// query string or a Referer.
#[tokio::test(flavor = "multi_thread")]
async fn redirects_reach_nobody() {
    let app = SimApp::new("r", "wxredirect000001", Account::Miniprogram);
    let sim = simulator(vec![app.clone()]).await;
    let trap = Trap::start().await;
    for (mode, path, status) in [
        (TokenMode::Stable, "/cgi-bin/stable_token", 307),
        (TokenMode::Stable, "/cgi-bin/stable_token", 308),
        (TokenMode::Classic, "/cgi-bin/token", 302),
    ] {
        sim.inject(&app.appid, path, Fault::Redirect { status, location: trap.url(path) });
        let c = client(&sim, &app, mode);
        let e = visit(&c).await.unwrap_err();
        assert_eq!(e.reason(), "redirect", "{mode:?} {status}: {e}");
        assert_eq!(c.telemetry.requests_to(visit_trend::API.name), 0);
    }
    let c = client(&sim, &app, TokenMode::Classic);
    for status in [302, 303, 307] {
        sim.inject(&app.appid, VISIT, Fault::Redirect { status, location: trap.url(VISIT) });
        let e = visit(&c).await.unwrap_err();
        assert_eq!(e.reason(), "redirect", "{status}: {e}");
        assert!(!format!("{e} {e:?}").contains("SIMTOKEN"), "{e:?}");
    }
    visit(&c).await.expect("the next call is fine");
    assert_eq!(trap.hits(), 0, "the other host was reached: {}", trap.received());
}

/// An answer past the limit fails before it is read whole, and one within it is read.
#[tokio::test(flavor = "multi_thread")]
async fn answers_past_the_size_limit_are_refused() {
    let app = SimApp::new("b", "wxbigbody0000001", Account::Miniprogram);
    let sim = simulator(vec![app.clone()]).await;
    let settings = ClientSettings { base_url: sim.base_url(), max_response_bytes: 64 * 1024, ..Default::default() };
    let shared = Arc::new(WechatClient::new(settings, Arc::new(Live::default())).unwrap());
    let cred = Credential::Secret { appid: app.appid.clone(), secret: Secret::new(app.secret.as_str()), mode: TokenMode::Stable };
    let c = AppClient::new(Arc::from("b"), shared, cred);
    visit(&c).await.unwrap();
    for (bytes, declared) in [(64 * 1024 + 1, true), (64 * 1024 + 1, false), (256 << 20, false)] {
        sim.inject(&app.appid, VISIT, Fault::Huge { bytes, declared });
        let e = visit(&c).await.unwrap_err();
        assert_eq!(e.reason(), "too_large", "{bytes} {declared}: {e}");
    }
    for declared in [true, false] {
        sim.inject(&app.appid, VISIT, Fault::Huge { bytes: 64 * 1024, declared });
        visit(&c).await.expect("an answer of exactly the limit is read");
    }
}

fn client(sim: &wechat_exporter::simulator::Simulator, app: &SimApp, mode: TokenMode) -> AppClient {
    let settings = ClientSettings { base_url: sim.base_url(), timeout: Duration::from_secs(3), ..Default::default() };
    let shared = Arc::new(WechatClient::new(settings, Arc::new(Live::default())).unwrap());
    let cred = Credential::Secret { appid: app.appid.clone(), secret: Secret::new(app.secret.as_str()), mode };
    AppClient::new(Arc::from(app.name.as_str()), shared, cred)
}

async fn visit(c: &AppClient) -> Result<visit_trend::Response, WechatError> {
    c.post(&visit_trend::API, &visit_trend::Request::for_day(cst::yesterday(chrono::Utc::now()))).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_quota_pauses_calls_until_it_renews() {
    let app = SimApp::new("q", "wxquota000000001", Account::Miniprogram);
    let sim = simulator(vec![app.clone()]).await;
    for code in [45011, 45009] {
        let c = sim.client_for(&app).unwrap();
        sim.inject(&app.appid, VISIT, Fault::Errcode(code));
        let before = sim.calls(VISIT).len();
        let err = visit(&c).await.unwrap_err();
        assert_eq!(err.reason(), format!("errcode_{code}"));
        for _ in 0..5 {
            let again = visit(&c).await.unwrap_err();
            match &again {
                WechatError::Backoff { wait, .. } => {
                    let most = if code == 45011 { 60 } else { 86_400 };
                    assert!(wait.as_secs() <= most, "{wait:?}");
                }
                other => panic!("expected a pause, got {other:?}"),
            }
            assert_eq!(again.reason(), format!("errcode_{code}"));
        }
        assert_eq!(sim.calls(VISIT).len(), before + 1, "no calls while the quota is spent");
        assert_eq!(c.telemetry.requests_to("getDailyVisitTrend"), 1);
        // Only this API is paused: the app's other APIs still call.
        let q = performance::Query::all(performance::CostTimeType::Startup);
        let _: performance::Response = c.post(&performance::API, &q.request(0, 1)).await.expect("other APIs are not paused");
    }
}
