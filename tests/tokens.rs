//! Tokens against the simulator: caching, one fetch for many callers, refresh on
//! a stale token, no hammering on a bad secret, token files.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use wechat_exporter::collectors::{visit_trend, Account};
use wechat_exporter::cst;
use wechat_exporter::secret::Secret;
use wechat_exporter::simulator::{Fault, SimApp, Simulator};
use wechat_exporter::telemetry::Live;
use wechat_exporter::wechat::{AppClient, ClientSettings, Credential, TokenMode, WechatClient, WechatError};

const STABLE: &str = "/cgi-bin/stable_token";
const CLASSIC: &str = "/cgi-bin/token";

fn shared_client(sim: &Simulator) -> Arc<WechatClient> {
    let settings = ClientSettings { base_url: sim.base_url(), timeout: Duration::from_secs(2), max_in_flight: 64, ..Default::default() };
    Arc::new(WechatClient::new(settings, Arc::new(Live::default())).unwrap())
}

fn app_client(sim: &Simulator, app: &SimApp, mode: TokenMode) -> AppClient {
    let cred = Credential::Secret { appid: app.appid.clone(), secret: Secret::new(app.secret.as_str()), mode };
    AppClient::new(Arc::from(app.name.as_str()), shared_client(sim), cred)
}

async fn visit(client: &AppClient) -> Result<visit_trend::Response, WechatError> {
    let day = cst::yesterday(chrono::Utc::now());
    client.post(&visit_trend::API, &visit_trend::Request::for_day(day)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn one_token_request_for_many_concurrent_callers() {
    let app = SimApp::new("shop", "wxtok0000000shop", Account::Miniprogram);
    let sim = simulator(vec![app.clone()]).await;
    let client = Arc::new(app_client(&sim, &app, TokenMode::Stable));
    let calls: Vec<_> = (0..50).map(|_| {
        let c = client.clone();
        tokio::spawn(async move { visit(&c).await })
    }).collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    assert_eq!(sim.calls(STABLE).len(), 1, "fifty callers, one token request");
    assert_eq!(sim.calls(visit_trend::API.path).len(), 50);
    // And the cached token serves later calls too.
    visit(&client).await.unwrap();
    assert_eq!(sim.calls(STABLE).len(), 1);
    assert_eq!(client.telemetry.requests_to("getStableAccessToken"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_token_is_refreshed_once_and_the_call_retried() {
    let app = SimApp::new("shop", "wxtok0000000shop", Account::Miniprogram);
    let sim = simulator(vec![app.clone()]).await;
    let client = app_client(&sim, &app, TokenMode::Stable);
    visit(&client).await.unwrap();
    // Another service invalidated our token: WeChat answers 40001 once.
    sim.inject(&app.appid, visit_trend::API.path, Fault::Errcode(40001));
    visit(&client).await.expect("refreshed and retried");
    let tokens = sim.calls(STABLE);
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[1].body["force_refresh"], true, "the refresh asks WeChat for a new token");
    assert_eq!(sim.calls(visit_trend::API.path).len(), 3);

    // Expired: a plain fetch gets a new token, taking nobody's away, whenever it is.
    sim.inject(&app.appid, visit_trend::API.path, Fault::Errcode(42001));
    visit(&client).await.expect("refreshed and retried");
    let tokens = sim.calls(STABLE);
    assert_eq!(tokens.len(), 3);
    assert_eq!(tokens[2].body["force_refresh"], false, "an expired token needs no forced refresh");

    // Invalid again within 30 s of the forced refresh: WeChat allows no forced refresh
    // yet, so the call fails, and no new token is asked for.
    sim.inject(&app.appid, visit_trend::API.path, Fault::Errcode(40014));
    let err = visit(&client).await.unwrap_err();
    assert_eq!(err.reason(), "errcode_40014");
    assert_eq!(sim.calls(STABLE).len(), 3);
    assert_eq!(sim.calls(visit_trend::API.path).len(), 6, "no retry without a new token");
}

/// A data API that answers 40001 to everything (a broken gateway, say) must not
/// make the exporter force a new token on every call: each forced stable_token
/// invalidates the token every other service of the app holds, and WeChat allows
/// 20 a day, 30 s apart.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_rejected_after_a_refresh_is_not_refreshed_again() {
    let stable = SimApp::new("stable", "wxtok00000stable", Account::Miniprogram);
    let classic = SimApp::new("classic", "wxtok0000classic", Account::Miniprogram);
    let sim = simulator(vec![stable.clone(), classic.clone()]).await;
    for (app, mode) in [(stable, TokenMode::Stable), (classic, TokenMode::Classic)] {
        let client = app_client(&sim, &app, mode);
        visit(&client).await.unwrap();
        let path = if mode == TokenMode::Stable { STABLE } else { CLASSIC };
        let mine = |path: &str| -> Vec<_> { sim.calls(path).into_iter().filter(|c| c.appid.as_deref() == Some(&app.appid)).collect() };
        let before = mine(path).len();
        for _ in 0..60 {
            sim.inject(&app.appid, visit_trend::API.path, Fault::Errcode(40001));
        }
        for i in 0..30 {
            let err = visit(&client).await.unwrap_err();
            assert_eq!(err.reason(), "errcode_40001", "call {i}");
        }
        let refreshes = mine(path);
        assert_eq!(refreshes.len() - before, 1, "{mode:?}: one new token, then the calls fail on their own");
        if mode == TokenMode::Stable {
            assert_eq!(refreshes.last().unwrap().body["force_refresh"], true);
        }
        assert_eq!(client.telemetry.requests_to("getDailyVisitTrend"), 1 + 30 + 1, "one retry, after the one refresh");
    }
}

/// The same for a data API that calls every token expired: an expired token is
/// fetched again without `force_refresh`, and a new one that "expires" before it ever
/// worked waits like a forced refresh. (The simulator forgets a token it called
/// expired, so the next call with it is 40001, which may take one forced refresh.)
#[tokio::test(flavor = "multi_thread")]
async fn a_token_that_keeps_expiring_is_not_fetched_again_and_again() {
    let app = SimApp::new("shop", "wxtok0000expired", Account::Miniprogram);
    let sim = simulator(vec![app.clone()]).await;
    let client = app_client(&sim, &app, TokenMode::Stable);
    visit(&client).await.unwrap();
    for _ in 0..60 {
        sim.inject(&app.appid, visit_trend::API.path, Fault::Errcode(42001));
    }
    for i in 0..30 {
        // 42001, or 40001 once the simulator has dropped the token it called expired.
        let err = visit(&client).await.unwrap_err();
        assert!(err.is_stale_token(), "call {i}: {err}");
    }
    let fetches = sim.calls(STABLE);
    assert!(fetches.len() <= 3, "{} token fetches for 30 failing calls", fetches.len());
    assert_eq!(fetches[1].body["force_refresh"], false, "an expired token is fetched again, not forced");
    assert!(fetches.iter().filter(|c| c.body["force_refresh"] == true).count() <= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn classic_mode_uses_the_token_endpoint() {
    let app = SimApp::new("shop", "wxtok0000000shop", Account::Miniprogram);
    let sim = simulator(vec![app.clone()]).await;
    let client = app_client(&sim, &app, TokenMode::Classic);
    visit(&client).await.unwrap();
    assert_eq!(sim.calls(CLASSIC).len(), 1);
    assert_eq!(sim.calls(STABLE).len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_secret_is_not_hammered() {
    let mut app = SimApp::new("shop", "wxtok0000000shop", Account::Miniprogram);
    let sim = simulator(vec![app.clone()]).await;
    app.secret = "not-the-secret".into();
    let client = app_client(&sim, &app, TokenMode::Stable);
    let first = visit(&client).await.unwrap_err();
    assert_eq!(first.reason(), "errcode_40125");
    for _ in 0..20 {
        let again = visit(&client).await.unwrap_err();
        assert!(matches!(again, WechatError::Backoff { .. }), "{again:?}");
        assert_eq!(again.reason(), "errcode_40125", "the cause stays visible");
    }
    assert_eq!(sim.calls(STABLE).len(), 1, "one request, then a long wait");
    assert!(!format!("{first} {first:?}").contains("not-the-secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_file_is_reread_when_it_changes() {
    let app = SimApp::new("shop", "wxtok0000000shop", Account::Miniprogram);
    let sim = simulator(vec![app.clone()]).await;
    // Another service (here: us, through the simulator) keeps the token fresh in a file.
    let helper = app_client(&sim, &app, TokenMode::Classic);
    visit(&helper).await.unwrap();
    let dir = tempdir("tokenfile");
    let path = dir.join("token");
    let issued = sim.issued_tokens();
    assert_eq!(issued.len(), 1);
    std::fs::write(&path, format!("{}\n", issued[0])).unwrap();

    let client = AppClient::new(Arc::from("shop"), shared_client(&sim), Credential::File(path.clone()));
    visit(&client).await.expect("the token from the file works");

    // The other service refreshes: the old token dies, the file gets the new one.
    sim.revoke_tokens(&app.appid);
    let stale = visit(&client).await.unwrap_err();
    assert_eq!(stale.reason(), "errcode_40001");
    let refresher = app_client(&sim, &app, TokenMode::Classic);
    visit(&refresher).await.unwrap();
    std::fs::write(&path, sim.issued_tokens()[0].as_str()).unwrap();
    visit(&client).await.expect("the new token is read from the changed file");
    assert_eq!(client.telemetry.requests_to("getStableAccessToken"), 0, "a token file is never refreshed by us");

    std::fs::write(&path, "  \n").unwrap();
    let err = visit(&client).await.unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");

    // Replaced by a FIFO, or by something far too big for a token: refused at once.
    std::fs::remove_file(&path).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
    let err = tokio::time::timeout(Duration::from_secs(10), visit(&client)).await.expect("no hang on a FIFO").unwrap_err();
    assert!(err.to_string().contains("is a FIFO, not a regular file"), "{err}");
    assert_eq!(err.reason(), "token_file");
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, "T".repeat(1 << 20)).unwrap();
    let err = visit(&client).await.unwrap_err();
    assert!(err.to_string().contains("larger than 4096 bytes"), "{err}");
}
