//! Third-party platforms through the real binary: a real redis-server holding the
//! platform's tokens, the simulator playing WeChat, and the exporter discovering and
//! polling the platform's apps beside configured ones.

mod common;
mod platform_support;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::*;
use platform_support::*;
use wechat_exporter::collectors::Account;
use wechat_exporter::cst;
use wechat_exporter::simulator::platform::{self as simplat, LIST_PATH};
use wechat_exporter::collectors::{interface_summary, visit_trend};
use wechat_exporter::simulator::{Fault, SimApp};

const VISIT: &str = "/datacube/getweanalysisappiddailyvisittrend";
const SUMMARY: &str = "/datacube/getinterfacesummary";

/// Each kind's collectors, polled every second so tests see change soon.
const KINDS: &str = "    collectors:\n      miniprogram: {visit_trend: {interval: 1s}}\n      official_account: {interface_summary: {interval: 1s}}\n";

fn config(world: &PlatformWorld, apps: &[SimApp], redis_url: &str, discover: &str) -> String {
    let mut out = format!("wechat:\n  base_url: {}\n  timeout: 2s\n", world.sim.base_url());
    if !apps.is_empty() {
        out.push_str("apps:\n");
        for a in apps {
            out.push_str(&a.config_entry());
            out.push_str("    collectors:\n      visit_trend: {interval: 1s}\n");
        }
    }
    out.push_str("platforms:\n");
    out.push_str(&world.platform_entry(redis_url, discover, KINDS));
    out
}

async fn metrics(exp: &Exporter) -> Vec<Line> {
    parse(&exp.get("/metrics").await.1)
}

/// Waits until `ok` holds for the exposition, or fails with `what` and the last one.
async fn wait_for(exp: &Exporter, what: &str, secs: u64, ok: impl Fn(&[Line]) -> bool) -> Vec<Line> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let lines = metrics(exp).await;
        if ok(&lines) {
            return lines;
        }
        if Instant::now() > deadline {
            let text = exp.get("/metrics").await.1;
            let ours: Vec<&str> = text.lines().filter(|l| l.contains("collector_up") || l.contains("failures")).collect();
            panic!("timed out waiting for {what}:\n{}\nlog:\n{}", ours.join("\n"), exp.log());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn up(lines: &[Line], app: &str, collector: &str) -> Option<f64> {
    value(lines, "wechat_exporter_collector_up", &[("app", app), ("collector", collector)])
}

fn apps_with_info(lines: &[Line]) -> Vec<String> {
    let mut v: Vec<String> = lines
        .iter()
        .filter(|l| l.name == "wechat_app_info" && l.labels.contains_key("platform"))
        .map(|l| l.labels["app"].clone())
        .collect();
    v.sort();
    v
}

fn token_unavailable(lines: &[Line], app: &str) -> f64 {
    lines
        .iter()
        .filter(|l| {
            l.name == "wechat_exporter_api_failures_total"
                && l.labels.get("app").map(String::as_str) == Some(app)
                && l.labels.get("reason").map(String::as_str) == Some("token_unavailable")
        })
        .map(|l| l.value)
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn discovered_apps_are_polled_with_the_platforms_tokens_beside_configured_ones() {
    let shop = SimApp::new("shop", "wxpe2e000000shop", Account::Miniprogram);
    let world = PlatformWorld::start(vec![shop.clone()], 6, false).await;
    let before = world.redis.snapshot();
    let exp = Exporter::start(&config(&world, std::slice::from_ref(&shop), &world.redis.url(), "1m"), &[], &[]);
    exp.wait_ready().await;
    let lines = metrics(&exp).await;
    let day = cst::yesterday(Utc::now());

    for i in 0..6 {
        let (app, nickname) = authorizer(i);
        let a = ("app", app.appid.as_str());
        let account = app.account.as_str();
        assert_eq!(
            value(&lines, "wechat_app_info", &[a, ("appid", &app.appid), ("account", account), ("platform", "acme"), ("nickname", &nickname)]),
            Some(1.0),
            "{}",
            app.appid
        );
        match app.account {
            Account::Miniprogram => {
                let row = visit_trend::sim::row(&app.appid, day);
                assert!(row.visit_pv.get().is_some());
                assert_eq!(value(&lines, "wechat_daily_visit_pv", &[a]), row.visit_pv.get());
                assert_eq!(up(&lines, &app.appid, "visit_trend"), Some(1.0));
                assert_eq!(up(&lines, &app.appid, "interface_summary"), None);
            }
            Account::OfficialAccount => {
                let row = interface_summary::sim::day(&app.appid, day);
                assert!(row.callback_count.get().is_some());
                assert_eq!(value(&lines, "wechat_interface_callbacks", &[a]), row.callback_count.get());
                assert_eq!(up(&lines, &app.appid, "interface_summary"), Some(1.0));
            }
        }
        assert_eq!(value(&lines, "wechat_exporter_token_refreshes_total", &[a]), Some(0.0), "a platform's token is never refreshed");
    }
    // The configured app runs as before, with its own token, and no platform labels.
    assert_eq!(value(&lines, "wechat_daily_visit_pv", &[("app", "shop")]), visit_trend::sim::row(&shop.appid, day).visit_pv.get());
    let info = lines.iter().find(|l| l.name == "wechat_app_info" && l.labels["app"] == "shop").unwrap();
    assert!(!info.labels.contains_key("platform"), "{info:?}");
    // The platform's own calls and its discovery.
    assert_eq!(up(&lines, "acme", "discovery"), Some(1.0));
    assert_eq!(value(&lines, "wechat_exporter_platform_authorizers", &[("app", "acme")]), Some(6.0));
    assert_eq!(value(&lines, "wechat_exporter_api_requests_total", &[("app", "acme"), ("api", "api_get_authorizer_list")]), Some(1.0));
    assert_eq!(value(&lines, "wechat_exporter_api_requests_total", &[("app", "acme"), ("api", "api_get_authorizer_info")]), Some(6.0));

    // Tokens: only the configured app's, from stable_token; nothing for the platform.
    let made: Vec<_> = world.sim.token_calls();
    assert!(made.iter().all(|c| c.path == "/cgi-bin/stable_token" && c.appid.as_deref() == Some(shop.appid.as_str())), "{made:?}");
    assert_eq!(made.len(), 1);
    let problems = promtool_check(&exp.get("/metrics").await.1);
    assert!(problems.trim().is_empty(), "promtool: {problems}");

    // The landing page names the platform and its Redis, never a token.
    let (_, page) = exp.get("/").await;
    assert!(page.contains("acme") && page.contains(&format!("redis://127.0.0.1:{}/0", world.redis.port)), "{page}");
    drop(exp);
    assert_eq!(world.redis.snapshot(), before, "Redis is exactly as it was");
}

#[tokio::test(flavor = "multi_thread")]
async fn authorizers_come_and_go_with_their_series() {
    let world = PlatformWorld::start(Vec::new(), 3, false).await;
    let exp = Exporter::start(&config(&world, &[], &world.redis.url(), "1s"), &[], &[]);
    exp.wait_ready().await;
    let ids = |v: &[usize]| v.iter().map(|i| authorizer(*i).0.appid).collect::<Vec<_>>();
    assert_eq!(apps_with_info(&metrics(&exp).await), ids(&[0, 1, 2]));

    let (newcomer, nickname) = authorizer(3);
    world.authorize(newcomer.clone(), &nickname);
    world.sim.deauthorize(COMPONENT, &authorizer(0).0.appid);
    let gone = authorizer(0).0.appid;
    let lines = wait_for(&exp, "the newcomer polled and the leaver gone", 20, |l| {
        apps_with_info(l) == ids(&[1, 2, 3]) && up(l, &newcomer.appid, "visit_trend") == Some(1.0)
    })
    .await;
    assert!(lines.iter().all(|l| l.labels.get("app") != Some(&gone)), "every series of the leaver goes with it");
    assert_eq!(
        value(&lines, "wechat_app_info", &[("app", &newcomer.appid), ("nickname", &nickname), ("platform", "acme")]),
        Some(1.0)
    );
    assert_eq!(value(&lines, "wechat_exporter_platform_authorizers", &[("app", "acme")]), Some(3.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_rotated_in_redis_is_picked_up_after_a_40001_without_any_refresh() {
    let world = PlatformWorld::start(Vec::new(), 2, false).await;
    let exp = Exporter::start(&config(&world, &[], &world.redis.url(), "1m"), &["--log.level", "debug"], &[]);
    exp.wait_ready().await;
    let appid = authorizer(0).0.appid;
    let polls = |sim: &wechat_exporter::simulator::Simulator| sim.calls(VISIT).iter().filter(|c| c.appid.as_deref() == Some(&appid)).count();
    let ok_before = polls(&world.sim);

    // The platform's service refreshes: the old token dies, Redis gets the new one.
    // The exporter's cached token is refused (40001), it reads Redis again, and the
    // same poll succeeds with the new token.
    let fresh = world.rotate(&appid);
    let lines = wait_for(&exp, "polls with the new token", 20, |_| polls(&world.sim) >= ok_before + 3).await;
    assert_eq!(up(&lines, &appid, "visit_trend"), Some(1.0));
    let stale = value(&lines, "wechat_exporter_api_failures_total", &[("app", &appid), ("reason", "errcode_40001")]);
    assert!(stale.unwrap_or(0.0) <= 1.0, "at most the one refused call: {stale:?}");
    assert_eq!(token_unavailable(&lines, &appid), 0.0);

    // WeChat refuses the token while Redis still holds it: one retry, then
    // token_unavailable, and that token is not sent again until Redis changes.
    world.sim.revoke_tokens(&appid);
    let lines = wait_for(&exp, "token_unavailable", 20, |l| token_unavailable(l, &appid) >= 2.0).await;
    assert_eq!(up(&lines, &appid, "visit_trend"), Some(0.0));
    let other = authorizer(1).0.appid;
    assert_eq!(up(&lines, &other, "visit_trend"), Some(1.0), "the other app is unaffected");
    let refused_calls = world.sim.calls(VISIT).len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let since: Vec<_> = world.sim.calls(VISIT).into_iter().skip(refused_calls).collect();
    assert!(since.iter().all(|c| c.appid.as_deref() != Some(&appid)), "a refused token is not sent again: {since:?}");
    // The platform catches up; the app recovers by itself.
    let newer = world.rotate(&appid);
    wait_for(&exp, "recovery", 20, |l| up(l, &appid, "visit_trend") == Some(1.0)).await;

    assert!(world.sim.token_calls().is_empty(), "no token API called: {:?}", world.sim.token_calls());
    let log = exp.log();
    for secret in [fresh, newer] {
        assert!(!log.contains(&secret), "a token in the debug log");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_key_is_token_unavailable_on_that_app_alone() {
    let world = PlatformWorld::start(Vec::new(), 3, false).await;
    let missing = authorizer(1).0.appid;
    world.redis.del(&authorizer_key(&missing));
    // Hourly collectors: a token that turns up is used within a minute, not an hour.
    let hourly = config(&world, &[], &world.redis.url(), "1m").replace("interval: 1s", "interval: 1h");
    let exp = Exporter::start(&hourly, &[], &[]);
    exp.wait_ready().await;
    let lines = wait_for(&exp, "token_unavailable", 20, |l| token_unavailable(l, &missing) >= 1.0).await;
    assert_eq!(up(&lines, &missing, "visit_trend"), Some(0.0));
    assert!(world.sim.calls(VISIT).iter().all(|c| c.appid.as_deref() != Some(&missing)), "no call without a token");
    for other in [0, 2] {
        let a = authorizer(other).0;
        let collector = if a.account == Account::Miniprogram { "visit_trend" } else { "interface_summary" };
        assert_eq!(up(&lines, &a.appid, collector), Some(1.0), "{}", a.appid);
        assert_eq!(token_unavailable(&lines, &a.appid), 0.0);
    }
    // The platform writes the key: the app's next poll comes soon (30 s), not at the
    // hour, and reads it.
    world.rotate(&missing);
    wait_for(&exp, "recovery", 60, |l| up(l, &missing, "visit_trend") == Some(1.0)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_stopped_and_restarted() {
    let mut world = PlatformWorld::start(Vec::new(), 3, false).await;
    world.redis.add_reader("wechat-exporter", "r3dis-pa55word");
    let url = format!("redis://wechat-exporter:r3dis-pa55word@127.0.0.1:{}/0", world.redis.port);
    let before = world.redis.snapshot();
    let exp = Exporter::start(&config(&world, &[], &url, "1s"), &["--log.level", "debug"], &[]);
    exp.wait_ready().await;
    let appid = authorizer(0).0.appid;
    let good = metrics(&exp).await;
    let pv = value(&good, "wechat_daily_visit_pv", &[("app", &appid)]);
    assert!(pv.is_some());

    world.redis.stop();
    let lines = wait_for(&exp, "up 0 everywhere", 90, |l| {
        up(l, &appid, "visit_trend") == Some(0.0) && up(l, "acme", "discovery") == Some(0.0)
    })
    .await;
    assert_eq!(value(&lines, "wechat_daily_visit_pv", &[("app", &appid)]), pv, "the last good values stay");
    assert_eq!(apps_with_info(&lines).len(), 3, "discovery keeps its last list");
    assert!(token_unavailable(&lines, &appid) >= 1.0);
    let (status, _) = exp.get("/healthz").await;
    assert_eq!(status, 200, "the process lives on");

    world.redis.restart();
    // ACL users live in the config or an ACL file, not in the data: the operator's
    // setup gives the user back; here the test does, a few seconds late, so that the
    // exporter's reconnects meet a Redis that refuses the password first. The crate's
    // connection manager never retries such a connect by itself.
    let refused = |log: &str| log.matches("refused the command").count();
    let before_restart = refused(&exp.log());
    let deadline = Instant::now() + Duration::from_secs(30);
    while refused(&exp.log()) == before_restart {
        assert!(Instant::now() < deadline, "no connect met the missing user: {}", exp.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    world.redis.add_reader("wechat-exporter", "r3dis-pa55word");
    wait_for(&exp, "recovery", 60, |l| {
        up(l, &appid, "visit_trend") == Some(1.0) && up(l, "acme", "discovery") == Some(1.0)
    })
    .await;
    let (_, page) = exp.get("/").await;
    let log = exp.log();
    let text = exp.get("/metrics").await.1;
    drop(exp);
    assert_eq!(world.redis.snapshot(), before, "Redis is exactly as it was after the whole run");
    for place in [&log, &page, &text] {
        assert!(!place.contains("r3dis-pa55word"), "the Redis password leaked");
    }
    assert!(log.contains("unreachable"), "the outage is logged: {log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_secret_in_a_debug_log_a_page_or_the_metrics() {
    let world = PlatformWorld::start(Vec::new(), 4, false).await;
    world.redis.add_reader("wechat-exporter", "s3cret-redis-pw");
    let url = format!("redis://wechat-exporter:s3cret-redis-pw@127.0.0.1:{}/0", world.redis.port);
    let exp = Exporter::start(&config(&world, &[], &url, "1s"), &["--log.level", "debug"], &[]);
    exp.wait_ready().await;
    // Failures that print errors: a stale token, a broken page, a missing key.
    let a0 = authorizer(0).0.appid;
    world.rotate(&a0);
    world.sim.inject(COMPONENT, LIST_PATH, Fault::Http(502));
    world.redis.del(&authorizer_key(&authorizer(1).0.appid));
    let a1 = authorizer(1).0.appid;
    wait_for(&exp, "the failures", 30, |l| token_unavailable(l, &a1) >= 1.0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let log = exp.log();
    let (_, page) = exp.get("/").await;
    let text = exp.get("/metrics").await.1;
    let mut secrets = world.sim.all_issued_tokens();
    secrets.extend((0..4).map(|i| simplat::refresh_token(&authorizer(i).0.appid)));
    secrets.push("s3cret-redis-pw".into());
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "secret in the debug log: {s}");
        assert!(!page.contains(s.as_str()) && !text.contains(s.as_str()), "secret served: {s}");
    }
    assert!(log.contains("level=debug") || log.contains("\"level\":\"DEBUG\""), "debug logging was on");
}

#[tokio::test(flavor = "multi_thread")]
async fn config_check_validates_platforms_without_network() {
    let dir = tempdir("platform-check");
    let path = dir.join("c.yml");
    // Nothing listens on port 1: a check that touched the network would fail.
    let good = "platforms:\n  - name: acme\n    component_appid: wxcomponent00000001\n    redis: redis://:${REDIS_PW}@127.0.0.1:1/2\n    authorizer_token_key: \"acme:{appid}\"\n    collectors:\n      miniprogram: {visit_trend: {interval: 30m}}\n";
    std::fs::write(&path, good).unwrap();
    let run = |env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(bin());
        cmd.arg("--config.file").arg(&path).arg("--config.check");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[("REDIS_PW", "pw-from-env-123")]);
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("platform acme") && printed.contains("redis://127.0.0.1:1/2"), "{printed}");
    assert!(printed.contains("acme:{appid}") && printed.contains("visit_trend every 30m"), "{printed}");
    assert!(!printed.contains("pw-from-env-123"), "{printed}");

    let unset = run(&[]);
    let printed = String::from_utf8_lossy(&unset.stderr).to_string();
    assert!(!unset.status.success());
    assert!(printed.contains("REDIS_PW") && printed.contains("c.yml:4"), "{printed}");

    for (bad, says) in [
        ("authorizer_token_key: \"acme:{appid}\"", "authorizer_token_key: \"acme:{app}\""),
        ("redis://:${REDIS_PW}@127.0.0.1:1/2", "http://:${REDIS_PW}@127.0.0.1:1/2"),
        ("miniprogram: {visit_trend", "miniprogram: {interface_summary"),
        ("    collectors:", "    colectors:"),
    ] {
        std::fs::write(&path, good.replace(bad, says)).unwrap();
        let out = run(&[("REDIS_PW", "pw-from-env-123")]);
        let printed = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{says}: accepted");
        assert!(printed.contains("c.yml:") && printed.contains("platforms[0]"), "{says}: {printed}");
        assert!(!printed.contains("pw-from-env-123"), "{printed}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn shards_split_discovered_apps_exactly_once() {
    let world = PlatformWorld::start(Vec::new(), 12, false).await;
    let config = config(&world, &[], &world.redis.url(), "1m");
    let a = Exporter::start(&config, &["--shard.count", "2", "--shard.index", "0"], &[]);
    let b = Exporter::start(&config, &["--shard.count", "2", "--shard.index", "1"], &[]);
    a.wait_ready().await;
    b.wait_ready().await;
    let (la, lb) = (apps_with_info(&metrics(&a).await), apps_with_info(&metrics(&b).await));
    assert!(!la.is_empty() && !lb.is_empty(), "{la:?} {lb:?}");
    let mut all: Vec<String> = la.iter().chain(&lb).cloned().collect();
    all.sort();
    let want: Vec<String> = (0..12).map(|i| authorizer(i).0.appid).collect();
    assert_eq!(all, want, "every app exactly once");
    assert_eq!(world.sim.calls(simplat::INFO_PATH).len(), 12, "each shard asks only about its own apps");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_walkthrough_in_docs_platform_md_works() {
    // Step 1: the demo, which needs no Redis.
    let demo = Exporter::spawn(
        {
            let mut c = std::process::Command::new(bin());
            c.args(["--demo", "--web.listen-address", "127.0.0.1:0"]);
            c
        },
        &[],
        tempdir("platform-demo"),
    );
    let log = demo.log();
    let sim_addr = log
        .lines()
        .find(|l| l.contains("demo: WeChat simulator started"))
        .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("address=")))
        .expect("the demo logs the simulator's address")
        .to_string();
    // Steps 2 and 3: a Redis, and the tokens the doc writes with redis-cli.
    let redis = redis_server::RedisServer::start();
    redis.set("wechat_component_access_token:wxdemoplatform01", "demo-component-token");
    for id in ["wxdemoauth000001", "wxdemoauth000002", "wxdemoauth000003", "wxdemoauth000004"] {
        redis.set(&format!("wechat_authorizer_access_token:wxdemoplatform01:{id}"), &format!("demo-token-{id}"));
    }
    // Step 4: the doc's config, its addresses replaced.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/platform.md")).unwrap();
    let yaml = doc.split("# platform-demo.yml\n").nth(1).and_then(|r| r.split("```").next()).expect("the doc's config");
    let yaml: String = yaml.lines().map(|l| l.strip_prefix("   ").unwrap_or(l)).collect::<Vec<_>>().join("\n");
    let yaml = yaml.replace("127.0.0.1:41234", &sim_addr).replace("127.0.0.1:6399", &format!("127.0.0.1:{}", redis.port));
    let exp = Exporter::start(&yaml, &[], &[]);
    exp.wait_ready().await;
    // Step 5: what the doc says one sees.
    let lines = metrics(&exp).await;
    assert_eq!(
        value(&lines, "wechat_app_info", &[("app", "wxdemoauth000001"), ("platform", "demo"), ("nickname", "Demo Bakery"), ("account", "miniprogram")]),
        Some(1.0)
    );
    assert_eq!(up(&lines, "demo", "discovery"), Some(1.0));
    assert_eq!(up(&lines, "wxdemoauth000001", "visit_trend"), Some(1.0));
    assert_eq!(up(&lines, "wxdemoauth000003", "interface_summary"), Some(1.0));
    // Step 6's behaviours (a missing key, Redis stopped) are the tests above.
}

#[test]
fn summary_paths_are_the_simulators() {
    // The data API paths these tests watch are the ones the simulator serves.
    assert_eq!(VISIT, wechat_exporter::collectors::visit_trend::API.path);
    assert_eq!(SUMMARY, wechat_exporter::collectors::interface_summary::SUMMARY.path);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_keeps_the_discovery_and_applies_new_collectors() {
    let shop = SimApp::new("shop", "wxpe2e00reloadshop", Account::Miniprogram);
    let world = PlatformWorld::start(vec![shop.clone()], 3, false).await;
    let exp = Exporter::start(&config(&world, &[], &world.redis.url(), "1m"), &[], &[]);
    exp.wait_ready().await;
    let mini = authorizer(0).0.appid;
    assert_eq!(up(&metrics(&exp).await, &mini, "visit_trend"), Some(1.0));
    let (lists, infos) = (world.sim.calls(LIST_PATH).len(), world.sim.calls(simplat::INFO_PATH).len());

    // Other collectors for the mini programs: the same discovery, new collectors.
    let changed = config(&world, &[], &world.redis.url(), "1m").replace(
        "miniprogram: {visit_trend: {interval: 1s}}",
        "miniprogram: {performance: {interval: 1s, queries: [{cost_time_type: startup}]}}",
    );
    std::fs::write(exp.config_path(), &changed).unwrap();
    let r = reqwest::Client::new().post(exp.url("/-/reload")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap_or_default());
    let lines = wait_for(&exp, "performance polled", 20, |l| up(l, &mini, "performance") == Some(1.0)).await;
    assert_eq!(up(&lines, &mini, "visit_trend"), None, "the collector left takes its series");
    assert_eq!(value(&lines, "wechat_daily_visit_pv", &[("app", &mini)]), None);
    assert_eq!(world.sim.calls(LIST_PATH).len(), lists, "discovery was not started again");
    assert_eq!(world.sim.calls(simplat::INFO_PATH).len(), infos, "nothing was learned again");

    // The platform leaves the config: its apps and its own series go.
    let only_app = format!("wechat:\n  base_url: {}\n  timeout: 2s\napps:\n{}", world.sim.base_url(), shop.config_entry());
    std::fs::write(exp.config_path(), &only_app).unwrap();
    let r = reqwest::Client::new().post(exp.url("/-/reload")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let lines = metrics(&exp).await;
    assert!(apps_with_info(&lines).is_empty(), "{:?}", apps_with_info(&lines));
    assert!(lines.iter().all(|l| l.labels.get("app").is_none_or(|a| a == "shop")), "only the configured app is left");
}

#[tokio::test(flavor = "multi_thread")]
async fn once_discovers_and_polls_every_app() {
    let mut world = PlatformWorld::start(Vec::new(), 4, false).await;
    let dir = tempdir("platform-once");
    let path = dir.join("c.yml");
    std::fs::write(&path, config(&world, &[], &world.redis.url(), "1m")).unwrap();
    let run = || std::process::Command::new(bin()).arg("--once").arg("--config.file").arg(&path).output().unwrap();
    let out = run();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = parse(&text);
    assert_eq!(apps_with_info(&lines).len(), 4);
    assert_eq!(value(&lines, "wechat_exporter_api_requests_total", &[("app", "acme"), ("api", "api_get_authorizer_list")]), Some(1.0));
    let a0 = authorizer(0).0.appid;
    assert_eq!(up(&lines, &a0, "visit_trend"), Some(1.0));

    // Redis down: the discovery fails, and says so.
    world.redis.stop();
    let out = run();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(err.contains("app acme: collector discovery failed") && err.contains("unreachable"), "{err}");
    assert!(world.sim.token_calls().is_empty());
}
