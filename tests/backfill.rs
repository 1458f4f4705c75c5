//! `wechat-exporter backfill` end to end: the real binary asks the simulator for past days,
//! the real promtool turns its output into blocks, and those blocks go into the data directory
//! of a real Prometheus that is scraping the live exporter meanwhile, as an operator would do it
//! (docs/backfill.md). Queries at past instants must give exactly the simulator's numbers for
//! each day, the hourly ones included, and the history must run into the live data as one series
//! with no gap.

mod common;
mod ops;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use serde_json::json;
use wechat_exporter::collectors::Account;
use wechat_exporter::cst;
use wechat_exporter::collectors::{interface_summary, performance, visit_trend};
use wechat_exporter::simulator::{Fault, Options, SimApp, Simulator};
use wechat_exporter::wechat::json::Loose;

use common::Exporter;
use common::prometheus::Prometheus;

const JOB: &str = "wechat-exporter";
const VISIT_PATH: &str = "/datacube/getweanalysisappiddailyvisittrend";
const SUMMARY_PATH: &str = "/datacube/getinterfacesummary";

/// The mini program's collectors: two daily ones (performance with a filtered query too) and
/// one that is not daily, which backfill leaves out.
const SHOP_COLLECTORS: &str = "    collectors:
      visit_trend: {interval: 1h}
      performance:
        interval: 1h
        queries:
          - {cost_time_type: startup}
          - {cost_time_type: download}
          - {cost_time_type: first_render}
          - {cost_time_type: download, networktype: wifi}
      realtime_log: {interval: 1m}
";

/// (word, code, the simulator's filter key, networktype label) of each performance query.
const QUERIES: [(&str, i64, &str, &str); 4] = [
    ("startup", 1, "@_all|@_all|@_all|@_all", "all"),
    ("download", 2, "@_all|@_all|@_all|@_all", "all"),
    ("first_render", 3, "@_all|@_all|@_all|@_all", "all"),
    ("download", 2, "@_all|wifi|@_all|@_all", "wifi"),
];

fn apps() -> (SimApp, SimApp) {
    let shop = SimApp::new("shop", "wxbackfill0shop1", Account::Miniprogram);
    // An Official Account that answers oddly: numbers as strings, HHMM hours, max_time_cost left out.
    let mut news = SimApp::new("news", "wxbackfill0news1", Account::OfficialAccount);
    news.odd = true;
    (shop, news)
}

fn config(sim: &Simulator, shop: &SimApp, news: &SimApp) -> String {
    common::config_each(&sim.base_url(), &[(shop.clone(), SHOP_COLLECTORS.to_string()), (news.clone(), String::new())])
}

/// When a live exporter serves `day`'s values: all of the next day, UTC+8, as [start, end).
fn served(day: NaiveDate) -> (i64, i64) {
    (cst::day_start(day + chrono::Duration::days(1)), cst::day_start(day + chrono::Duration::days(2)))
}

/// What a series should be for a day.
type DayValue<'a> = Box<dyn Fn(NaiveDate) -> f64 + 'a>;

/// A number the simulator always sends.
fn n(v: &Loose<f64>) -> f64 {
    v.get().expect("the simulator sends every field of its own rows")
}

/// A series by its labels, `__name__` included.
type Series = BTreeMap<String, String>;

fn series(name: &str, labels: &[(&str, &str)]) -> Series {
    let mut s: Series = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    s.insert("__name__".into(), name.into());
    s
}

/// Every series the exporter serves for `app` with `day`'s data, and its value, computed from
/// the simulator's own numbers. `extra` are the labels Prometheus gives the live target.
fn expected(app: &SimApp, day: NaiveDate, extra: &[(&str, &str)]) -> BTreeMap<Series, f64> {
    let mut out = BTreeMap::new();
    let mut put = |name: &str, labels: &[(&str, &str)], v: f64| {
        let mut all = vec![("app", app.name.as_str())];
        all.extend_from_slice(labels);
        all.extend_from_slice(extra);
        out.insert(series(name, &all), v);
    };
    put("wechat_app_info", &[("appid", &app.appid), ("account", app.account.as_str())], 1.0);
    let date = cst::day_start(day) as f64;
    match app.account {
        Account::Miniprogram => {
            let r = visit_trend::sim::row(&app.appid, day);
            put("wechat_daily_visit_sessions", &[], n(&r.session_cnt));
            put("wechat_daily_visit_pv", &[], n(&r.visit_pv));
            put("wechat_daily_visit_uv", &[], n(&r.visit_uv));
            put("wechat_daily_visit_uv_new", &[], n(&r.visit_uv_new));
            put("wechat_daily_visit_stay_time_per_user_seconds", &[], n(&r.stay_time_uv));
            put("wechat_daily_visit_stay_time_per_session_seconds", &[], n(&r.stay_time_session));
            put("wechat_daily_visit_depth", &[], n(&r.visit_depth));
            for (word, code, filters, network) in QUERIES {
                let labels = [
                    ("cost_time_type", word),
                    ("device", "all"),
                    ("networktype", network),
                    ("scene", "all"),
                    ("is_download_code", "all"),
                ];
                put("wechat_performance_cost_time_seconds", &labels, performance::sim::cost_ms(&app.appid, day, code, filters) as f64 / 1000.0);
            }
            put("wechat_data_date_timestamp_seconds", &[("collector", "visit_trend")], date);
            put("wechat_data_date_timestamp_seconds", &[("collector", "performance")], date);
        }
        Account::OfficialAccount => {
            let d = interface_summary::sim::day(&app.appid, day);
            put("wechat_interface_callbacks", &[], n(&d.callback_count));
            put("wechat_interface_failures", &[], n(&d.fail_count));
            put("wechat_interface_time_cost_seconds", &[], n(&d.total_time_cost) / 1000.0);
            if !app.odd {
                put("wechat_interface_max_time_cost_seconds", &[], n(&d.max_time_cost) / 1000.0);
            }
            for h in 0..24 {
                let r = interface_summary::sim::hour(&app.appid, day, h);
                let hour = h.to_string();
                let l = [("hour", hour.as_str())];
                put("wechat_interface_hourly_callbacks", &l, n(&r.callback_count));
                put("wechat_interface_hourly_failures", &l, n(&r.fail_count));
                put("wechat_interface_hourly_time_cost_seconds", &l, n(&r.total_time_cost) / 1000.0);
                put("wechat_interface_hourly_max_time_cost_seconds", &l, n(&r.max_time_cost) / 1000.0);
            }
            put("wechat_data_date_timestamp_seconds", &[("collector", "interface_summary")], date);
        }
    }
    out
}

/// Runs `wechat-exporter --config.file <config> backfill <args>`, its stdout into `out`, off
/// the runtime that serves the simulator.
async fn backfill(config: &Path, args: &[&str], out: &Path) -> Output {
    let mut cmd = Command::new(common::bin());
    cmd.arg("--config.file").arg(config).arg("backfill").args(args);
    cmd.stdin(Stdio::null()).stdout(std::fs::File::create(out).unwrap()).stderr(Stdio::piped());
    tokio::task::spawn_blocking(move || cmd.output().expect("the binary runs")).await.unwrap()
}

/// Checks what promtool does not: each family once, each series' samples together, times
/// increasing within a series, `# EOF` last. Returns the number of samples.
fn check_openmetrics(text: &str) -> usize {
    assert!(text.ends_with("# EOF\n"), "the output ends in # EOF: {:?}", &text[text.len().saturating_sub(200)..]);
    let body = &text[..text.len() - "# EOF\n".len()];
    assert!(!body.contains("# EOF"), "# EOF only once, at the end");
    let mut families = HashSet::new();
    let mut family = String::new();
    let mut done = HashSet::new();
    let (mut current, mut last) = (String::new(), i64::MIN);
    let mut samples = 0;
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            family = rest.split(' ').next().unwrap().to_string();
            assert!(families.insert(family.clone()), "family {family} appears twice");
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, ts) = line.rsplit_once(' ').unwrap();
        let (series, _value) = series.rsplit_once(' ').unwrap();
        let ts: i64 = ts.parse().unwrap_or_else(|_| panic!("no timestamp in {line:?}"));
        assert!(series.starts_with(&family), "{series} outside its family {family}");
        if series != current {
            assert!(done.insert(current.clone()), "series {current} comes back after another one");
            assert!(!done.contains(series), "series {series} comes back after another one");
            current = series.to_string();
            last = i64::MIN;
        }
        assert!(ts > last, "{series}: time {ts} after {last}");
        last = ts;
        samples += 1;
    }
    samples
}

/// A result's labels, `__name__` included.
fn labels_of(result: &serde_json::Value) -> Series {
    result["metric"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect()
}

/// Every series of `expr` at `t` (Unix seconds), with its value.
async fn at(prom: &Prometheus, expr: &str, t: i64) -> BTreeMap<Series, f64> {
    let data = prom.api("/api/v1/query", &[("query", expr), ("time", &t.to_string())]).await.unwrap_or_else(|e| panic!("{expr}: {e}"));
    let results = data["result"].as_array().unwrap();
    results.iter().map(|s| (labels_of(s), s["value"][1].as_str().unwrap().parse().unwrap())).collect()
}

/// `expr` over [start, end] every `step` seconds: each series' (time, value) points.
async fn over(prom: &Prometheus, expr: &str, start: i64, end: i64, step: i64) -> Vec<(Series, Vec<(i64, f64)>)> {
    let q = [("query", expr), ("start", &start.to_string()), ("end", &end.to_string()), ("step", &step.to_string())];
    let data = prom.api("/api/v1/query_range", &q).await.unwrap_or_else(|e| panic!("{expr}: {e}"));
    data["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let points = s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_f64().unwrap() as i64, p[1].as_str().unwrap().parse().unwrap()))
                .collect();
            (labels_of(s), points)
        })
        .collect()
}

/// The series where `got` and `want` differ, a few of them, one a line.
fn differences(got: &BTreeMap<Series, f64>, want: &BTreeMap<Series, f64>) -> String {
    let keys: std::collections::BTreeSet<&Series> = got.keys().chain(want.keys()).collect();
    let lines: Vec<String> = keys
        .into_iter()
        .filter(|k| got.get(*k) != want.get(*k))
        .map(|k| format!("{k:?}: got {:?}, want {:?}", got.get(k), want.get(k)))
        .collect();
    format!("{} series differ, e.g.:\n{}", lines.len(), lines.iter().take(8).cloned().collect::<Vec<_>>().join("\n"))
}

fn assert_no_secret(what: &str, text: &str, sim: &Simulator, apps: &[&SimApp]) {
    for a in apps {
        assert!(!text.contains(&a.secret), "{what} holds {}'s AppSecret", a.name);
    }
    for t in sim.all_issued_tokens() {
        assert!(!text.contains(&t), "{what} holds an access_token");
    }
}

/// The WeChat series of the two apps, without the live exporter's own and its log counter.
const DATA_SERIES: &str =
    r#"{__name__=~"wechat_.+", __name__!~"wechat_exporter_.+|wechat_realtime_log_.+", app=~"shop|news"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfilled_days_are_wechats_numbers_and_run_into_the_live_data() {
    let (prometheus, promtool) = (ops::prometheus(), ops::promtool());
    let (shop, news) = apps();
    let sim = common::simulator(vec![shop.clone(), news.clone()]).await;
    let config = config(&sim, &shop, &news);

    // The live exporter, scraped by a real Prometheus, as in production.
    let exporter = Exporter::start(&config, &[], &[]);
    exporter.wait_ready().await;
    let scrape = json!({
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [exporter.addr]}]}],
    });
    // A retention longer than the backfilled range, or Prometheus would drop the blocks.
    let mut prom = Prometheus::start(&prometheus, &scrape, &["--storage.tsdb.retention.time=10y".into()]).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !prom.query(&format!("count_over_time(up{{job=\"{JOB}\"}}[1m]) >= 3")).await.is_ok_and(|v| !v.is_empty()) {
        prom.assert_running();
        assert!(Instant::now() < deadline, "fewer than 3 scrapes of the live exporter in 30s\n{}", prom.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Backfill yesterday and the 15 days before it, labelled as Prometheus labels the live target.
    let yesterday = cst::yesterday(Utc::now());
    let from = yesterday - chrono::Duration::days(15);
    let dir = common::tempdir("backfill");
    let out = dir.join("backfill.om");
    let instance = format!("instance={}", exporter.addr);
    let job = format!("job={JOB}");
    let (f, t) = (from.to_string(), yesterday.to_string());
    let args = ["--from", &f, "--to", &t, "--rate", "100", "--label", &job, "--label", &instance];
    let run = backfill(&exporter.config_path(), &args, &out).await;
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(run.status.success(), "backfill failed: {stderr}");
    for line in ["shop visit_trend: 16 days written\n", "shop performance: 16 days written\n", "news interface_summary: 16 days written\n"] {
        assert!(stderr.contains(line), "the summary says {line:?}: {stderr}");
    }
    assert!(stderr.contains("shop realtime_log: not daily data"), "{stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    let samples = check_openmetrics(&text);
    assert!(stderr.contains(&format!("wrote {samples} samples")), "the summary counts what was written: {stderr}");
    assert_no_secret("the output", &text, &sim, &[&shop, &news]);
    assert_no_secret("stderr", &stderr, &sim, &[&shop, &news]);

    // promtool makes blocks; they go into the running Prometheus's data directory.
    let blocks = dir.join("blocks");
    let (ok, said) = ops::run(Command::new(&promtool).args(["tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=24h"]).arg(&out).arg(&blocks));
    assert!(ok, "promtool refused the output:\n{said}");
    for block in std::fs::read_dir(&blocks).unwrap() {
        let block = block.unwrap();
        std::fs::rename(block.path(), prom.data_dir().join(block.file_name())).unwrap();
    }
    // Prometheus looks for new blocks once a minute.
    let (first, _) = served(from);
    let deadline = Instant::now() + Duration::from_secs(150);
    while at(&prom, "wechat_daily_visit_uv", first + 3600).await.is_empty() {
        prom.assert_running();
        assert!(Instant::now() < deadline, "Prometheus did not load the backfilled blocks in 150s\n{}", prom.log());
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    // Each day, at the start, the middle and the last moment of its window: every series, exactly.
    let extra = [("job", JOB), ("instance", exporter.addr.as_str())];
    let now = Utc::now().timestamp();
    for day in from.iter_days().take_while(|d| *d <= yesterday) {
        let (start, end) = served(day);
        let mut want = expected(&shop, day, &extra);
        want.extend(expected(&news, day, &extra));
        for t in [start, start + 12 * 3600 + 7 * 60, end - 1].into_iter().filter(|t| *t < now) {
            let got = at(&prom, DATA_SERIES, t).await;
            assert!(got == want, "at {t}, in the window of {day}:\n{}", differences(&got, &want));
        }
    }
    assert!(at(&prom, DATA_SERIES, first - 1).await.is_empty(), "nothing before the first backfilled day's window");

    // From the day before yesterday's window through the live scrapes: one series each, a value
    // at every minute, and always the day before the instant's own (UTC+8): no gap, no change of
    // meaning where the backfilled data meets the live.
    let (start, _) = served(yesterday - chrono::Duration::days(1));
    let end = Utc::now().timestamp();
    let checks: [(&str, DayValue); 3] = [
        (r#"wechat_daily_visit_uv{app="shop"}"#, Box::new(|d| n(&visit_trend::sim::row(&shop.appid, d).visit_uv))),
        (r#"wechat_interface_hourly_callbacks{app="news",hour="9"}"#, Box::new(|d| n(&interface_summary::sim::hour(&news.appid, d, 9).callback_count))),
        (r#"wechat_data_date_timestamp_seconds{app="shop",collector="performance"}"#, Box::new(|d| cst::day_start(d) as f64)),
    ];
    for (expr, value) in checks {
        let got = over(&prom, expr, start, end, 60).await;
        assert_eq!(got.len(), 1, "{expr}: history and live data are one series: {:?}", got.iter().map(|g| &g.0).collect::<Vec<_>>());
        let points = &got[0].1;
        assert_eq!(points.len() as i64, (end - start) / 60 + 1, "{expr}: a value at every minute from {start} to {end}");
        for (t, v) in points {
            let day = cst::date_of(*t) - chrono::Duration::days(1);
            assert_eq!(*v, value(day), "{expr} at {t}: the values of {day}");
        }
    }
    // The live exporter's own scrapes are part of that: its realtime log counter exists only live.
    assert!(!prom.query(&format!("wechat_realtime_log_records_total{{job=\"{JOB}\"}}")).await.unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_quota_a_failure_and_a_day_without_data_are_reported_and_the_rest_goes_on() {
    let (shop, news) = apps();
    // Yesterday's data never appears: a day WeChat has no data for.
    let opts = Options { publish_hour: 24, ..Options::new(vec![shop.clone(), news.clone()]) };
    let sim = Simulator::start(opts).await.unwrap();
    sim.inject(&shop.appid, VISIT_PATH, Fault::Errcode(45009));
    sim.inject(&news.appid, SUMMARY_PATH, Fault::Http(502));

    let dir = common::tempdir("backfill-faults");
    let config_path = dir.join("config.yml");
    std::fs::write(&config_path, config(&sim, &shop, &news)).unwrap();
    let yesterday = cst::yesterday(Utc::now());
    let from = yesterday - chrono::Duration::days(4);
    let out = dir.join("out.om");
    let (f, t) = (from.to_string(), yesterday.to_string());
    let run = backfill(&config_path, &["--from", &f, "--to", &t, "--rate", "100"], &out).await;
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(!run.status.success(), "days not written make a failed run: {stderr}");

    // The quota stops that app's API, once, with a clear word; nothing more is asked of it.
    assert!(stderr.contains("45009"), "{stderr}");
    assert!(stderr.contains(&format!("visit_trend stops here and 5 days are not written, the rest goes on. Run again after 00:00 UTC+8 with --from {from}")), "{stderr}");
    assert!(stderr.contains(&format!("shop visit_trend: 0 days written; stopped at {from}, 5 days not written")), "{stderr}");
    assert_eq!(sim.calls(VISIT_PATH).len(), 1, "no more visit trend requests after the 45009");
    // The rest goes on: the other API of that app, and the other app past its failed day.
    let d = |n: i64| from + chrono::Duration::days(n);
    assert!(stderr.contains(&format!("shop performance: 4 days written; no data at WeChat, skipped: {yesterday}\n")), "{stderr}");
    assert!(
        stderr.contains(&format!("news interface_summary: 3 days written; no data at WeChat, skipped: {yesterday}; failed: {from} (last error: HTTP status 502)")),
        "{stderr}"
    );
    assert!(stderr.contains("some days were not written"), "{stderr}");

    let text = std::fs::read_to_string(&out).unwrap();
    check_openmetrics(&text);
    assert!(!text.contains("wechat_daily_visit"), "nothing of the stopped collector");
    let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("wechat_performance_cost_time_seconds{"), 4 * 4 * 288, "4 queries × 4 days × every 5 minutes");
    assert_eq!(count("wechat_interface_callbacks{"), 3 * 288, "the failed day and the one without data are left out");
    let days_of = |name: &str| -> HashSet<NaiveDate> {
        text.lines()
            .filter(|l| l.starts_with(name))
            .map(|l| cst::date_of(l.rsplit(' ').next().unwrap().parse::<i64>().unwrap()) - chrono::Duration::days(1))
            .collect()
    };
    assert_eq!(days_of("wechat_interface_callbacks{"), HashSet::from([d(1), d(2), d(3)]));
    assert_no_secret("stderr", &stderr, &sim, &[&shop, &news]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_or_an_app_that_cannot_be_asked_for_is_refused_plainly() {
    let (shop, news) = apps();
    let sim = common::simulator(vec![shop.clone(), news.clone()]).await;
    let dir = common::tempdir("backfill-args");
    let config_path = dir.join("config.yml");
    std::fs::write(&config_path, config(&sim, &shop, &news)).unwrap();
    let today = cst::today(Utc::now()).to_string();
    let yesterday = cst::yesterday(Utc::now()).to_string();
    let out = dir.join("out.om");

    let run = backfill(&config_path, &["--from", &yesterday, "--to", &today], &out).await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains(&format!("--to {today} is too late")) && stderr.contains(&format!("use --to {yesterday} or earlier")), "{stderr}");

    let run = backfill(&config_path, &["--from", &yesterday, "--to", &yesterday, "--app", "nosuch"], &out).await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("--app \"nosuch\": no app of that name in the config (apps: shop, news)"), "{stderr}");

    // Named apps only: one app, one day.
    let run = backfill(&config_path, &["--from", &yesterday, "--to", &yesterday, "--app", "news"], &out).await;
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("app=\"news\"") && !text.contains("app=\"shop\""));
    assert!(sim.calls(VISIT_PATH).is_empty(), "the mini program was not asked");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_signal_ends_a_backfill_at_once() {
    let (shop, news) = apps();
    let sim = common::simulator(vec![shop.clone(), news.clone()]).await;
    let dir = common::tempdir("backfill-stop");
    let config_path = dir.join("config.yml");
    std::fs::write(&config_path, config(&sim, &shop, &news)).unwrap();
    let yesterday = cst::yesterday(Utc::now());
    let from = yesterday - chrono::Duration::days(300);
    // Two requests a second over 300 days: minutes of work, stopped after one second.
    let mut child = Command::new(common::bin())
        .arg("--config.file")
        .arg(&config_path)
        .args(["backfill", "--from", &from.to_string(), "--to", &yesterday.to_string(), "--rate", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stopped = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    while child.try_wait().unwrap().is_none() {
        if stopped.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the backfill went on for 5s after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a stopped backfill is not a success");
    assert!(stderr.contains("stopped by a signal"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing half-written: {} bytes", out.stdout.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A mini program with every collector that has dated data, the seven datacube ones included.
const EVERY_DATED_COLLECTOR: &str = "    collectors:
      visit_trend: {interval: 1h}
      performance: {interval: 1h}
      daily_summary: {interval: 1h}
      retain: {interval: 1h}
      visit_page: {interval: 1h}
      visit_distribution: {interval: 1h}
      user_portrait: {interval: 1h}
      weekly_visit_trend: {interval: 1h}
      monthly_visit_trend: {interval: 1h}
";

/// The samples of an OpenMetrics output at time `t`, by series (without the time).
fn samples_at(text: &str, t: i64) -> BTreeMap<(String, BTreeMap<String, String>), f64> {
    let suffix = format!(" {t}");
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.strip_suffix(&suffix)).collect();
    common::parse(&lines.join("\n")).into_iter().map(|l| ((l.name, l.labels), l.value)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dated_collector_is_backfilled_as_the_live_exporter_serves_it() {
    use wechat_exporter::collectors::newest::{Month, Period, Week};
    let (shop, _) = apps();
    let sim = common::simulator(vec![shop.clone()]).await;
    let dir = common::tempdir("backfill-every");
    let config_path = dir.join("config.yml");
    std::fs::write(&config_path, common::config_for(&sim.base_url(), std::slice::from_ref(&shop), EVERY_DATED_COLLECTOR)).unwrap();

    // What the live exporter serves now: yesterday's day, the last complete week and month.
    let once = {
        let mut cmd = Command::new(common::bin());
        cmd.arg("--config.file").arg(&config_path).arg("--once").stdin(Stdio::null());
        tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
    };
    assert!(once.status.success(), "{}", String::from_utf8_lossy(&once.stderr));
    let live: BTreeMap<(String, BTreeMap<String, String>), f64> = common::parse(&String::from_utf8_lossy(&once.stdout))
        .into_iter()
        .filter(|l| l.name.starts_with("wechat_") && !l.name.starts_with("wechat_exporter_"))
        .map(|l| ((l.name, l.labels), l.value))
        .collect();

    // Seventy days: two complete months at least, and ten weeks.
    let yesterday = cst::yesterday(Utc::now());
    let from = yesterday - chrono::Duration::days(69);
    let out = dir.join("out.om");
    let (f, t) = (from.to_string(), yesterday.to_string());
    let run = backfill(&config_path, &["--from", &f, "--to", &t, "--rate", "1000", "--step", "1h"], &out).await;
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(run.status.success(), "{stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    check_openmetrics(&text);

    // Yesterday's window holds exactly what the live exporter serves, collector by collector.
    let (today, _) = served(yesterday);
    let backfilled = samples_at(&text, today);
    let collectors = |m: &BTreeMap<(String, BTreeMap<String, String>), f64>| -> Vec<String> {
        m.keys().filter(|(n, _)| n == "wechat_data_date_timestamp_seconds").map(|(_, l)| l["collector"].clone()).collect()
    };
    assert_eq!(collectors(&backfilled).len(), 9, "every dated collector: {:?}", collectors(&backfilled));
    assert_eq!(collectors(&backfilled), collectors(&live));
    let differ: Vec<_> = live.keys().chain(backfilled.keys()).filter(|k| live.get(*k) != backfilled.get(*k)).take(5).collect();
    assert!(differ.is_empty(), "{} series differ from the live exposition, e.g. {differ:?}", differ.len());

    // Weeks and months: each complete one in the range, at its own time, with WeChat's numbers.
    let dates_of = |collector: &str| -> std::collections::BTreeSet<i64> {
        let prefix = format!("wechat_data_date_timestamp_seconds{{app=\"shop\",collector=\"{collector}\"}} ");
        text.lines().filter_map(|l| l.strip_prefix(&prefix)?.split(' ').next()?.parse::<f64>().ok()).map(|v| v as i64).collect()
    };
    let weeks: Vec<Week> = from.iter_days().map(Week::of).filter(|w| w.first() >= from && w.last() <= yesterday).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let months: Vec<Month> = from.iter_days().take_while(|d| *d <= yesterday).map(Month::of).filter(|m| m.first() >= from && m.last() <= yesterday).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    assert!(weeks.len() >= 9 && !months.is_empty(), "{} weeks, {} months", weeks.len(), months.len());
    assert_eq!(dates_of("weekly_visit_trend"), weeks.iter().map(|w| cst::day_start(w.first())).collect());
    assert_eq!(dates_of("monthly_visit_trend"), months.iter().map(|m| cst::day_start(m.first())).collect());
    for w in &weeks {
        let (start, _) = served(w.last());
        let at = samples_at(&text, start);
        let want = n(&visit_trend::sim::period_row(&shop.appid, *w).visit_pv);
        assert_eq!(at.get(&("wechat_weekly_visit_pv".to_string(), BTreeMap::from([("app".to_string(), "shop".to_string())]))), Some(&want), "week of {}", w.first());
    }
    for m in &months {
        let (start, _) = served(m.last());
        let at = samples_at(&text, start);
        let want = n(&visit_trend::sim::period_row(&shop.appid, *m).visit_uv);
        assert_eq!(at.get(&("wechat_monthly_visit_uv".to_string(), BTreeMap::from([("app".to_string(), "shop".to_string())]))), Some(&want), "month of {}", m.first());
    }
    // Nothing of a week before the first complete one.
    let first_weekly = text.lines().filter(|l| l.starts_with("wechat_weekly_visit_pv{")).filter_map(|l| l.rsplit(' ').next()?.parse::<i64>().ok()).min();
    assert_eq!(first_weekly, Some(served(weeks[0].last()).0));
    assert!(stderr.contains("shop weekly_visit_trend: "), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
