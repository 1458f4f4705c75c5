//! The real binary against the simulator: what it serves, how it serves it.

mod common;

use std::process::Command;

use chrono::Utc;
use common::*;
use wechat_exporter::collectors::Account;
use wechat_exporter::cst;
use wechat_exporter::collectors::{performance, visit_trend};
use wechat_exporter::simulator::SimApp;

const VISIT_PATH: &str = "/datacube/getweanalysisappiddailyvisittrend";
const PERF_PATH: &str = "/wxaapi/log/get_performance";

fn apps() -> Vec<SimApp> {
    let mut odd = SimApp::new("odd", "wxe2e00000000odd", Account::Miniprogram);
    odd.odd = true;
    vec![SimApp::new("shop", "wxe2e0000000shop", Account::Miniprogram), odd]
}

const COLLECTORS: &str = "    collectors:\n      visit_trend: {interval: 1h}\n      performance:\n        interval: 1h\n        queries:\n          - {cost_time_type: startup}\n          - {cost_time_type: download, networktype: wifi, device: ios}\n";

#[tokio::test(flavor = "multi_thread")]
async fn metrics_hold_exactly_the_simulator_values() {
    let apps = apps();
    let sim = simulator(apps.clone()).await;
    // A host far from UTC+8: the dates asked for must still be UTC+8's.
    let exp = Exporter::start(&config_for(&sim.base_url(), &apps, COLLECTORS), &[], &[("TZ", "Pacific/Kiritimati")]);
    exp.wait_ready().await;
    let (status, text) = exp.get("/metrics").await;
    assert_eq!(status, 200);
    let lines = parse(&text);
    let day = cst::yesterday(Utc::now());

    for app in &apps {
        let row = visit_trend::sim::row(&app.appid, day);
        let a = ("app", app.name.as_str());
        assert!(row.session_cnt.get().is_some() && row.visit_depth.get().is_some());
        assert_eq!(value(&lines, "wechat_daily_visit_sessions", &[a]), row.session_cnt.get());
        assert_eq!(value(&lines, "wechat_daily_visit_pv", &[a]), row.visit_pv.get());
        assert_eq!(value(&lines, "wechat_daily_visit_uv", &[a]), row.visit_uv.get());
        assert_eq!(value(&lines, "wechat_daily_visit_uv_new", &[a]), row.visit_uv_new.get());
        assert_eq!(value(&lines, "wechat_daily_visit_stay_time_per_session_seconds", &[a]), row.stay_time_session.get());
        assert_eq!(value(&lines, "wechat_daily_visit_depth", &[a]), row.visit_depth.get());
        let per_user = value(&lines, "wechat_daily_visit_stay_time_per_user_seconds", &[a]);
        if app.odd {
            assert_eq!(per_user, None, "a field WeChat leaves out is a missing sample, never 0");
        } else {
            assert_eq!(per_user, row.stay_time_uv.get());
        }
        assert_eq!(
            value(&lines, "wechat_data_date_timestamp_seconds", &[a, ("collector", "visit_trend")]),
            Some(cst::day_start(day) as f64)
        );

        let startup = performance::sim::cost_ms(&app.appid, day, 1, "@_all|@_all|@_all|@_all") as f64 / 1000.0;
        assert_eq!(
            value(&lines, "wechat_performance_cost_time_seconds", &[a, ("cost_time_type", "startup"), ("device", "all"), ("networktype", "all"), ("scene", "all"), ("is_download_code", "all")]),
            Some(startup)
        );
        let wifi = performance::sim::cost_ms(&app.appid, day, 2, "1|wifi|@_all|@_all") as f64 / 1000.0;
        assert_eq!(
            value(&lines, "wechat_performance_cost_time_seconds", &[a, ("cost_time_type", "download"), ("device", "ios"), ("networktype", "wifi")]),
            Some(wifi)
        );
        assert_eq!(value(&lines, "wechat_exporter_collector_up", &[a, ("collector", "performance")]), Some(1.0));
        assert_eq!(value(&lines, "wechat_app_info", &[a, ("appid", &app.appid), ("account", "miniprogram")]), Some(1.0));
        assert_eq!(value(&lines, "wechat_exporter_api_requests_total", &[a, ("api", "getPerformance")]), Some(2.0));
        assert_eq!(value(&lines, "wechat_exporter_token_refreshes_total", &[a]), Some(1.0));
    }
    assert!(
        lines.iter().all(|l| l.name.starts_with("wechat_") || l.name.starts_with("process_")),
        "only our own families and the standard process ones"
    );

    // The dates asked for were yesterday in UTC+8, though the host lives at UTC+14.
    for call in sim.calls(VISIT_PATH) {
        assert_eq!(call.body["end_date"], cst::compact(day), "{call:?}");
        assert_eq!(call.body["begin_date"], cst::compact(day));
    }
    assert_eq!(sim.calls(PERF_PATH).len(), 4);

    let problems = promtool_check(&text);
    assert!(problems.trim().is_empty(), "promtool check metrics: {problems}\n{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn formats_are_negotiated_and_gzip_honoured() {
    let apps = apps();
    let sim = simulator(apps.clone()).await;
    let exp = Exporter::start(&config_for(&sim.base_url(), &apps, COLLECTORS), &[], &[]);
    exp.wait_ready().await;
    let client = reqwest::Client::builder().no_gzip().build().unwrap();

    let om = client
        .get(exp.url("/metrics"))
        .header("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
        .send()
        .await
        .unwrap();
    assert!(om.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text; version=1.0.0"));
    let om = om.text().await.unwrap();
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE wechat_exporter_api_requests counter\n"), "OpenMetrics names the counter family without _total");

    let text = client.get(exp.url("/metrics")).send().await.unwrap();
    assert!(text.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = text.text().await.unwrap();
    assert!(!text.contains("# EOF"));
    assert!(text.contains("# TYPE wechat_exporter_api_requests_total counter\n"));

    let gz = client.get(exp.url("/metrics")).header("Accept-Encoding", "gzip").send().await.unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let bytes = gz.bytes().await.unwrap();
    let mut plain = String::new();
    use std::io::Read;
    flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_string(&mut plain).unwrap();
    assert!(plain.contains("wechat_daily_visit_pv{app=\"shop\"}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn landing_health_and_readiness() {
    let apps = apps();
    let sim = simulator(apps.clone()).await;
    let exp = Exporter::start(&config_for(&sim.base_url(), &apps, COLLECTORS), &[], &[]);
    assert_eq!(exp.get("/healthz").await.0, 200);
    exp.wait_ready().await;
    let (status, page) = exp.get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("shop") && page.contains("wxe2e0000000shop") && page.contains("href=\"/metrics\""), "{page}");
    assert!(page.contains("visit_trend") && page.contains(">up<"), "{page}");
    for a in &apps {
        assert!(!page.contains(&a.secret));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_adds_and_removes_apps_and_keeps_the_old_config_on_error() {
    let apps = apps();
    let sim = simulator(apps.clone()).await;
    let exp = Exporter::start(&config_for(&sim.base_url(), &apps[..1], COLLECTORS), &[], &[]);
    exp.wait_ready().await;
    let client = reqwest::Client::new();

    // A broken config is refused and the old one keeps running.
    std::fs::write(exp.config_path(), "apps: [{name: x}]\n").unwrap();
    let r = client.post(exp.url("/-/reload")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("appid"));
    assert!(parse(&exp.get("/metrics").await.1).iter().any(|l| l.labels.get("app").map(String::as_str) == Some("shop")));

    // The other app replaces the first: its series come, the first one's go.
    std::fs::write(exp.config_path(), config_for(&sim.base_url(), &apps[1..], COLLECTORS)).unwrap();
    let r = client.post(exp.url("/-/reload")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    exp.wait_ready().await;
    let lines = parse(&exp.get("/metrics").await.1);
    assert!(lines.iter().all(|l| l.labels.get("app").map(String::as_str) != Some("shop")), "shop's series are gone");
    assert!(value(&lines, "wechat_daily_visit_pv", &[("app", "odd")]).is_some());
}

/// A reload that changes one collector's interval and drops another: the changed one
/// polls on at its new interval under the same name, the dropped one stops calling
/// WeChat and its series go, and an app left alone is not disturbed.
#[tokio::test(flavor = "multi_thread")]
async fn reload_changes_one_collector_and_stops_another() {
    let apps = apps();
    let mut opts = wechat_exporter::simulator::Options::new(apps.clone());
    opts.record_calls = true;
    let sim = wechat_exporter::simulator::Simulator::start(opts).await.unwrap();
    let both = "    collectors:\n      visit_trend: {interval: 1s}\n      performance: {interval: 1s, queries: [{cost_time_type: startup}]}\n";
    let exp = Exporter::start(&config_for(&sim.base_url(), &apps[..1], both), &[], &[]);
    exp.wait_ready().await;

    let one = "    collectors:\n      visit_trend: {interval: 2s}\n";
    std::fs::write(exp.config_path(), config_for(&sim.base_url(), &apps[..1], one)).unwrap();
    let r = reqwest::Client::new().post(exp.url("/-/reload")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    exp.wait_ready().await;
    let lines = parse(&exp.get("/metrics").await.1);
    let shop = [("app", "shop"), ("collector", "visit_trend")];
    assert_eq!(value(&lines, "wechat_exporter_collector_interval_seconds", &shop), Some(2.0));
    assert!(lines.iter().all(|l| l.labels.get("collector").map(String::as_str) != Some("performance")), "performance's status is gone");
    assert!(lines.iter().all(|l| !l.name.starts_with("wechat_performance_")), "performance's series are gone");

    // A poll that was under way at the reload may still land; none starts after it.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let perf_before = sim.calls(PERF_PATH).len();
    let visits_before = sim.calls(VISIT_PATH).len();
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(sim.calls(PERF_PATH).len(), perf_before, "a dropped collector calls WeChat no more");
    let visits = sim.calls(VISIT_PATH).len() - visits_before;
    assert!((1..=4).contains(&visits), "visit_trend polls on every 2 s: {visits} polls in 5 s");
}

#[test]
fn once_prints_the_exposition_and_fails_when_a_collector_fails() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut apps = apps();
    let sim = rt.block_on(simulator(apps.clone()));
    let dir = tempdir("once");
    let good = dir.join("good.yml");
    std::fs::write(&good, config_for(&sim.base_url(), &apps, COLLECTORS)).unwrap();
    for tz in ["America/Los_Angeles", "Asia/Shanghai"] {
        let out = Command::new(bin()).args(["--once", "--config.file"]).arg(&good).env("TZ", tz).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let lines = parse(&String::from_utf8_lossy(&out.stdout));
        let row = visit_trend::sim::row("wxe2e0000000shop", cst::yesterday(Utc::now()));
        assert_eq!(value(&lines, "wechat_daily_visit_pv", &[("app", "shop")]), row.visit_pv.get(), "TZ={tz}");
    }

    apps[1].secret = "wrong-secret-value".into();
    let bad = dir.join("bad.yml");
    std::fs::write(&bad, config_for(&sim.base_url(), &apps, COLLECTORS)).unwrap();
    let out = Command::new(bin()).args(["--once", "--config.file"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines = parse(&stdout);
    assert_eq!(value(&lines, "wechat_exporter_collector_up", &[("app", "odd"), ("collector", "visit_trend")]), Some(0.0));
    assert_eq!(value(&lines, "wechat_exporter_collector_up", &[("app", "shop"), ("collector", "visit_trend")]), Some(1.0));
    assert!(stderr.contains("40125"), "{stderr}");
    assert!(!stderr.contains("wrong-secret-value") && !stdout.contains("wrong-secret-value"));
}

#[test]
fn config_check_validates_without_network() {
    let dir = tempdir("check");
    let good = dir.join("good.yml");
    // Nothing listens on this port: a check that touched the network would fail.
    std::fs::write(&good, "wechat: {base_url: \"http://127.0.0.1:9\"}\napps:\n  - {name: shop, appid: wx1, account: miniprogram, secret: topsecret1}\n").unwrap();
    let out = Command::new(bin()).args(["--config.check", "--config.file"]).arg(&good).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("app shop") && stdout.contains("visit_trend every 1h"), "{stdout}");
    assert!(!stdout.contains("topsecret1"));

    let bad = dir.join("bad.yml");
    std::fs::write(&bad, "apps:\n  - name: shop\n    appid: wx1\n    acount: miniprogram\n").unwrap();
    let out = Command::new(bin()).args(["--config.check", "--config.file"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yml:4") && stderr.contains("acount") && stderr.contains("account"), "{stderr}");
}

#[test]
fn flags_come_from_the_environment_too() {
    let dir = tempdir("env");
    let path = dir.join("c.yml");
    std::fs::write(&path, "apps:\n  - {name: shop, appid: wx1, account: miniprogram, secret: s}\n").unwrap();
    let out = Command::new(bin())
        .env("WECHAT_EXPORTER_CONFIG_FILE", &path)
        .env("WECHAT_EXPORTER_CONFIG_CHECK", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("app shop"));
}

#[test]
fn shards_serve_every_app_exactly_once() {
    let dir = tempdir("shards");
    let path = dir.join("c.yml");
    let mut text = String::from("apps:\n");
    for i in 0..40 {
        text.push_str(&format!("  - {{name: app{i}, appid: wx{i}, account: official_account, secret: s{i}}}\n"));
    }
    std::fs::write(&path, text).unwrap();
    let mut seen = Vec::new();
    for index in ["0", "wechat-exporter-1", "2"] {
        let out = Command::new(bin())
            .args(["--config.check", "--shard.count", "3", "--config.file"])
            .arg(&path)
            .env("WECHAT_EXPORTER_SHARD_INDEX", index)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let apps: Vec<String> = stdout.lines().filter_map(|l| l.strip_prefix("app ")?.split(' ').next().map(str::to_string)).collect();
        assert!(!apps.is_empty() && apps.len() < 40, "shard {index}: {apps:?}");
        seen.extend(apps);
    }
    seen.sort();
    let mut want: Vec<String> = (0..40).map(|i| format!("app{i}")).collect();
    want.sort();
    assert_eq!(seen, want);
    let out = Command::new(bin()).args(["--config.check", "--shard.count", "3", "--shard.index", "3", "--config.file"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--shard.index 3 is not within 0..3"));
}
