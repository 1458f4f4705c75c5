//! The dashboards and the rules against a real Prometheus, at fleet scale: the exporter polls
//! 1,000 simulated apps (mini programs and official accounts, a few with a wrong secret),
//! Prometheus scrapes it with a config made from prometheus/prometheus.yml and loads the real
//! rule files, with a week of history for the `offset 1w` queries backfilled from the
//! exporter's own output. Every PromQL expression of grafana/dashboards/ and prometheus/ goes
//! through Prometheus's HTTP API, the dashboards' variables at their defaults, as Grafana
//! would fill them. Each must be valid; each dashboard query must return data, and none more
//! than 50 series.

mod common;
mod ops;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::Exporter;
use wechat_exporter::collectors::Account;
use wechat_exporter::simulator::{Options, SimApp, Simulator, SmsActivity};

/// What Grafana's built-in variables stand for here: windows that hold a few 1s scrapes.
const BUILTINS: [(&str, &str); 6] = [
    ("__rate_interval", "1m"),
    ("__interval", "15s"),
    ("__interval_ms", "15000"),
    ("__range", "1h"),
    ("__range_s", "3600"),
    ("__range_ms", "3600000"),
];

/// Prometheus scraping the exporter as the example config does.
struct Prometheus {
    inner: common::prometheus::Prometheus,
    job: String,
}

/// prometheus/prometheus.yml, scraping `target` instead of localhost:9767 every 2 seconds, with
/// the rule files at their absolute paths. Returns the config and the exporter's job name.
fn config_from_example(target: &str) -> (Value, String) {
    let mut config = ops::yaml(ops::PROMETHEUS_CONFIG);
    config["global"]["scrape_interval"] = json!("2s");
    config["global"]["evaluation_interval"] = json!("2s");
    let rule_files: Vec<Value> = config["rule_files"]
        .as_array()
        .expect("the example config has rule_files")
        .iter()
        .map(|f| json!(ops::path("prometheus").join(f.as_str().unwrap()).display().to_string()))
        .collect();
    assert!(!rule_files.is_empty(), "the example config loads the alert rules");
    config["rule_files"] = Value::Array(rule_files);
    let mut jobs = Vec::new();
    for job in config["scrape_configs"].as_array_mut().expect("scrape_configs") {
        let name = job["job_name"].as_str().unwrap_or_default().to_string();
        for sc in job["static_configs"].as_array_mut().into_iter().flatten() {
            for t in sc["targets"].as_array_mut().into_iter().flatten() {
                if t == "localhost:9767" {
                    *t = json!(target);
                    jobs.push(name.clone());
                }
            }
        }
    }
    assert_eq!(jobs.len(), 1, "the example config scrapes the exporter at localhost:9767 exactly once");
    (config, jobs.remove(0))
}

impl Prometheus {
    /// Starts Prometheus on the storage in `dir`/data and waits until it is ready.
    async fn start(exporter_addr: &str, dir: &std::path::Path) -> Prometheus {
        let (config, job) = config_from_example(exporter_addr);
        let inner = common::prometheus::Prometheus::start_in(&ops::prometheus(), &config, &[], dir.to_path_buf()).await;
        Prometheus { inner, job }
    }

    fn log(&self) -> String {
        self.inner.log()
    }

    fn assert_running(&mut self) {
        self.inner.assert_running()
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Option<Value> {
        self.inner.get(path, query).await
    }

    /// An instant query: Ok(one value a series) or Err(Prometheus's error).
    async fn query(&self, expr: &str) -> Result<Vec<f64>, String> {
        self.inner.query(expr).await
    }

    /// Waits until the exporter is a healthy target and has been scraped a few times, so
    /// rate() and increase() have samples to work on.
    async fn wait_for_scrapes(&mut self, exporter_addr: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.assert_running();
            let targets = self.get("/api/v1/targets", &[]).await;
            let up = targets.as_ref().and_then(|t| t["data"]["activeTargets"].as_array()).is_some_and(|ts| {
                ts.iter().any(|t| t["scrapeUrl"].as_str().is_some_and(|u| u.contains(exporter_addr)) && t["health"] == "up")
            });
            if up {
                break;
            }
            assert!(Instant::now() < deadline, "the exporter's target was not up within 30s: {targets:?}\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let scrapes = format!("count_over_time(up{{job=\"{}\"}}[1m])", self.job);
        loop {
            self.assert_running();
            if self.query(&scrapes).await.is_ok_and(|v| v.first().is_some_and(|n| *n >= 3.0)) {
                return;
            }
            assert!(Instant::now() < deadline, "fewer than 3 scrapes within 30s\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until every rule has been evaluated once, and returns the rules Prometheus has:
    /// (name, health, last error).
    async fn evaluated_rules(&mut self) -> Vec<(String, String, String)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.assert_running();
            if let Some(answer) = self.get("/api/v1/rules", &[]).await {
                let rules: Vec<&Value> = answer["data"]["groups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|g| g["rules"].as_array().into_iter().flatten())
                    .collect();
                let evaluated = |r: &&Value| r["lastEvaluation"].as_str().is_some_and(|t| !t.starts_with("0001-"));
                if !rules.is_empty() && rules.iter().all(evaluated) {
                    return rules
                        .iter()
                        .map(|r| {
                            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                            (s("name"), s("health"), s("lastError"))
                        })
                        .collect();
                }
            }
            assert!(Instant::now() < deadline, "the rules were not all evaluated within 20s\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The values of `label` on the series of `metric` (Grafana's label_values).
    async fn label_values(&self, metric: Option<&str>, label: &str) -> Vec<String> {
        let path = format!("/api/v1/label/{label}/values");
        let answer = match metric {
            Some(m) => self.get(&path, &[("match[]", m)]).await,
            None => self.get(&path, &[]).await,
        };
        let answer = answer.expect("label values answer");
        assert_eq!(answer["status"], "success", "label_values({metric:?}, {label}): {answer}");
        answer["data"].as_array().unwrap().iter().filter_map(|v| v.as_str().map(String::from)).collect()
    }
}

/// Replaces Grafana variables (`$name`, `${name}`, `${name:format}`) with `values`; an unknown
/// one is left in place, for the caller to report.
fn substitute(expr: &str, values: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = expr;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (braced[..end].split(':').next().unwrap(), end + 2),
                None => ("", 0),
            }
        } else {
            let n = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..n], n)
        };
        match values.iter().find(|(k, _)| k == name) {
            Some((_, v)) if len > 0 => {
                out.push_str(v);
                rest = &after[len..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A Grafana variable left in an expression (`$1` of a label_replace is not one).
fn leftover_variable(expr: &str) -> bool {
    expr.match_indices('$').any(|(i, _)| expr[i + 1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '{'))
}

fn regex_escape(s: &str) -> String {
    s.chars().fold(String::new(), |mut out, c| {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// An answer is data when it has a sample. A NaN is one: a quantile or a ratio of counters
/// that have not moved since Prometheus started is NaN, and still proves the series, their
/// names and labels are there.
fn has_data(values: &[f64]) -> bool {
    !values.is_empty()
}

/// At most this many series a dashboard query may return: a panel stays readable, and
/// Prometheus's answer small, however large the fleet.
const MAX_SERIES: usize = 50;
/// Apps in the fleet under test.
const FLEET: usize = 1_000;

/// The collectors of the spec's "More collectors" and the metrics each serves: a query on
/// them can only have data once the collector is in the binary (other branches add them).
const MORE_COLLECTORS: &[(&str, Account, &[&str])] = &[
    ("daily_summary", Account::Miniprogram, &["wechat_cumulative_users", "wechat_daily_share_pv", "wechat_daily_share_uv"]),
    ("retain", Account::Miniprogram, &["wechat_retained_users"]),
    ("visit_page", Account::Miniprogram, &["wechat_page_"]),
    ("visit_distribution", Account::Miniprogram, &["wechat_daily_visit_distribution"]),
    ("user_portrait", Account::Miniprogram, &["wechat_user_portrait_users"]),
    ("weekly_visit_trend", Account::Miniprogram, &["wechat_weekly_visit_"]),
    ("monthly_visit_trend", Account::Miniprogram, &["wechat_monthly_visit_"]),
    ("user_summary", Account::OfficialAccount, &["wechat_daily_new_followers", "wechat_daily_lost_followers", "wechat_followers"]),
    ("article_reads", Account::OfficialAccount, &["wechat_daily_article_"]),
    ("upstream_msg", Account::OfficialAccount, &["wechat_daily_messages_received", "wechat_daily_message_senders"]),
];

/// Whether the binary knows `collector`: its `--config.check` accepts a config that lists it.
fn binary_knows(collector: &str, account: Account) -> bool {
    let dir = common::tempdir("collector-probe");
    let app = SimApp::new("probe", "wxprobe000000001", account);
    let config = format!(
        "wechat:\n  base_url: http://127.0.0.1:9\napps:\n{}    collectors:\n      {collector}: {{interval: 1h}}\n",
        app.config_entry()
    );
    std::fs::write(dir.join("c.yml"), config).unwrap();
    let out = Command::new(common::bin()).args(["--config.check", "--config.file"]).arg(dir.join("c.yml")).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    out.status.success()
}

/// The fleet: mini programs `app00000`.. and, every tenth, official accounts `oa00005`..;
/// the first of each (the dashboards' default app) runs every collector the binary has,
/// the first mini program with an SMS activity and `by_url`; every hundredth app has a wrong
/// secret, as a real fleet has a few.
fn fleet(sim_base: &str, sim_apps: &[SimApp], known: &[&str]) -> String {
    let mut out = format!("wechat:\n  base_url: {sim_base}\n  timeout: 5s\napps:\n");
    for (i, app) in sim_apps.iter().enumerate() {
        let mut app = app.clone();
        if i % 100 == 42 {
            app.secret = "not-the-secret".into();
        }
        out.push_str(&app.config_entry());
        out.push_str("    collectors:\n");
        let rich = i == 0 || i == 5;
        match app.account {
            Account::Miniprogram => {
                out.push_str("      visit_trend: {interval: 1h}\n");
                out.push_str("      performance:\n        interval: 1h\n        queries:\n          - {cost_time_type: startup}\n          - {cost_time_type: download}\n          - {cost_time_type: first_render}\n");
                if rich {
                    out.push_str("          - {cost_time_type: startup, networktype: wifi}\n");
                    out.push_str("      realtime_log: {interval: 15s, settle: 30s, by_url: true}\n");
                    let act = &app.sms[0];
                    out.push_str(&format!(
                        "      cloudbase_sms:\n        interval: 1h\n        env_id: {}\n        activities:\n          - activity_id: {}\n            channel_ids: [{}]\n",
                        act.env_id,
                        act.activity_id,
                        act.channels.join(", ")
                    ));
                } else {
                    out.push_str("      realtime_log: {interval: 1m}\n");
                }
            }
            Account::OfficialAccount => out.push_str("      interface_summary: {interval: 1h}\n"),
        }
        if rich {
            for (c, account, _) in MORE_COLLECTORS {
                if *account == app.account && known.contains(c) {
                    out.push_str(&format!("      {c}: {{interval: 1h}}\n"));
                }
            }
        }
    }
    out
}

fn sim_fleet() -> Vec<SimApp> {
    (0..FLEET)
        .map(|i| {
            let mut app = SimApp::generated(i);
            if i % 10 == 5 {
                app = SimApp::new(&format!("oa{i:05}"), &format!("wxgenoa{i:09}"), Account::OfficialAccount);
            }
            if i == 0 {
                app.odd = false;
                app.sms = vec![SmsActivity::new("fleet-prod-1", "21ded5cb6001691405171ba161c603d1", &["_cms_sms_", "spring_sale", "vip_members"])];
            }
            app
        })
        .collect()
}

/// The metrics of `expr`'s selectors, recording rules read through to what they select.
fn metrics_of(expr: &str, records: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (m, matchers) in ops::selectors(expr) {
        match records.iter().find(|(n, _)| *n == m) {
            Some((_, e)) => out.extend(metrics_of(e, records)),
            None => out.push((m, matchers)),
        }
    }
    out
}

/// Why a query may be empty without a fault of its own: it reads only metrics of collectors
/// the binary does not have yet, or the process metrics the exporter does not serve yet.
fn not_landed(expr: &str, records: &[(String, String)], known: &[&str], served: &str) -> Option<String> {
    let mut why = BTreeSet::new();
    for (m, matchers) in metrics_of(expr, records) {
        for (c, _, prefixes) in MORE_COLLECTORS {
            let by_name = prefixes.iter().any(|p| m.starts_with(p));
            let by_label = m == "wechat_data_date_timestamp_seconds" && matchers.contains(&format!("collector=\"{c}\""));
            if (by_name || by_label) && !known.contains(c) {
                why.insert(format!("collector {c}"));
            }
        }
        if m.starts_with("process_") && !served.contains(&format!("\n{m}")) {
            why.insert(format!("{m} (process metrics)"));
        }
    }
    (!why.is_empty()).then(|| why.into_iter().collect::<Vec<_>>().join(", "))
}

/// Grafana's default for a variable: for one that allows All or many values, every value (as
/// a regex, the way Grafana sends it); for a single-select one with nothing saved, the first
/// value in the variable's sort order (raw).
fn variable_default(var: &Value, mut found: Vec<String>) -> String {
    if var["multi"] == true || var["includeAll"] == true {
        let alternatives: Vec<String> = found.iter().map(|v| regex_escape(v)).collect();
        return format!("({})", alternatives.join("|"));
    }
    match var["sort"].as_u64() {
        Some(2) => found.sort_by(|a, b| b.cmp(a)),
        _ => found.sort(),
    }
    found.into_iter().next().unwrap_or_default()
}

/// A week of history for the `offset 1w` queries: the exporter's series of the metrics they
/// read, as it serves them now, with the target labels a scrape by `job` of `instance` adds,
/// written a week back (every minute from 5 minutes before to 15 minutes after a week ago)
/// into a TSDB block in `data`.
fn backfill_last_week(exposition: &str, metrics: &BTreeSet<String>, target: (&str, &str), data: &std::path::Path) -> usize {
    let (job, instance) = target;
    let target_labels = format!("job=\"{job}\",instance=\"{instance}\"");
    let week_ago = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 7 * 86_400) as i64;
    let mut out = String::new();
    let mut samples = 0;
    let mut keep = false;
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            keep = rest.split_whitespace().next().is_some_and(|m| metrics.contains(m));
        }
        if !keep || line.starts_with("# EOF") {
            continue;
        }
        if line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let line = match line.split_once('{') {
            Some((name, rest)) => format!("{name}{{{target_labels},{rest}"),
            None => line.replacen(' ', &format!("{{{target_labels}}} "), 1),
        };
        for minute in -5..=15 {
            out.push_str(&format!("{line} {}\n", week_ago + minute * 60));
            samples += 1;
        }
    }
    out.push_str("# EOF\n");
    let file = data.with_extension("om");
    std::fs::write(&file, out).unwrap();
    let (ok, log) = ops::run(Command::new(ops::promtool()).args(["tsdb", "create-blocks-from", "openmetrics"]).arg(&file).arg(data));
    assert!(ok, "promtool tsdb create-blocks-from openmetrics:\n{log}");
    samples
}

/// A query of the dashboards, with where it is.
struct Query {
    place: String,
    expr: String,
    /// An annotation: checked for validity only, since it shows firing alerts.
    annotation: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_and_rule_expression_works_on_a_real_prometheus_at_fleet_scale() {
    // Before anything starts: a missing Prometheus fails here, with how to install it.
    ops::prometheus();
    let known: Vec<&str> =
        MORE_COLLECTORS.iter().filter(|(c, account, _)| binary_knows(c, *account)).map(|(c, _, _)| *c).collect();

    let sim_apps = sim_fleet();
    let mut opts = Options::new(sim_apps.clone());
    opts.record_calls = false;
    let sim = Simulator::start(opts).await.expect("simulator");
    let exporter = Exporter::start(&fleet(&sim.base_url(), &sim_apps, &known), &[], &[]);
    exporter.wait_ready().await;

    // Last week, from the exporter's own output, for the `offset 1w` queries.
    let dashboards: Vec<(&str, Value)> = ops::DASHBOARDS.iter().map(|f| (*f, ops::json(f))).collect();
    let mut last_week = BTreeSet::new();
    for (_, d) in &dashboards {
        for p in ops::panels(d) {
            for e in ops::exprs(p).into_iter().filter(|e| e.contains("offset 1w")) {
                last_week.extend(ops::selectors(e).into_iter().map(|(m, _)| m));
            }
        }
    }
    let om = exporter.openmetrics().await;
    let served = format!("\n{om}");
    let dir = common::tempdir("prometheus");
    let (_, job) = config_from_example(&exporter.addr);
    let backfilled = backfill_last_week(&om, &last_week, (&job, &exporter.addr), &dir.join("data"));
    assert!(backfilled > 0, "nothing of {last_week:?} to backfill");

    let mut prom = Prometheus::start(&exporter.addr, &dir).await;
    prom.wait_for_scrapes(&exporter.addr).await;
    let apps_scraped = prom.query("count(wechat_app_info)").await.unwrap_or_default();
    assert!(apps_scraped.first().is_some_and(|n| *n >= FLEET as f64), "Prometheus sees {apps_scraped:?} apps");

    let mut invalid = Vec::new(); // (where, expression, error)
    let mut too_many = Vec::new(); // (where, expression, series)

    // The rules: Prometheus loaded every one of them, and evaluates each without error.
    let mut rules = ops::rules(&ops::yaml(ops::ALERTS));
    let records = ops::rules(&ops::yaml(ops::RECORDING));
    rules.extend(records.iter().cloned());
    let loaded = prom.evaluated_rules().await;
    let mut want: Vec<&str> = rules.iter().map(|(n, _)| n.as_str()).collect();
    let mut got: Vec<&str> = loaded.iter().map(|(n, _, _)| n.as_str()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "Prometheus has the rules of {} and {}", ops::ALERTS, ops::RECORDING);
    for (name, health, error) in &loaded {
        if health != "ok" {
            invalid.push((format!("rule {name} as Prometheus evaluates it"), String::new(), format!("{health}: {error}")));
        }
    }
    for (name, expr) in &rules {
        if let Err(e) = prom.query(expr).await {
            invalid.push((format!("rule {name}"), expr.clone(), e));
        }
    }

    // The dashboards: their variables at Grafana's defaults, then every query.
    let mut queries = Vec::new();
    let mut defaults = Vec::new();
    for (file, dashboard) in &dashboards {
        let mut values: Vec<(String, String)> = BUILTINS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        for var in dashboard["templating"]["list"].as_array().into_iter().flatten() {
            let name = var["name"].as_str().unwrap_or_default().to_string();
            match var["type"].as_str() {
                Some("datasource") => {}
                Some("query") => {
                    let q = ops::variable_query(var).unwrap_or_default();
                    let (metric, label) = ops::label_values(q)
                        .unwrap_or_else(|| panic!("{file}: variable {name}: only label_values() queries are checked here, not {q:?}"));
                    let found = prom.label_values(metric.as_deref(), &label).await;
                    assert!(!found.is_empty(), "{file}: variable {name} ({q}) has no values");
                    let value = variable_default(var, found);
                    defaults.push(format!("{file}: ${name} = {value}"));
                    values.push((name, value));
                }
                other => panic!("{file}: variable {name} of type {other:?} is not handled by this test"),
            }
        }
        let mut add = |place: String, expr: &str, annotation: bool| {
            let expr = substitute(expr, &values);
            if leftover_variable(&expr) {
                invalid.push((place, expr, "a variable this test does not know".into()));
            } else {
                queries.push(Query { place, expr, annotation });
            }
        };
        for panel in ops::panels(dashboard) {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let Some(expr) = target["expr"].as_str() else { continue };
                let title = panel["title"].as_str().unwrap_or("?");
                add(format!("{file} › {title} › {}", target["refId"].as_str().unwrap_or("?")), expr, false);
            }
        }
        for a in dashboard["annotations"]["list"].as_array().into_iter().flatten() {
            if let Some(expr) = a["expr"].as_str() {
                add(format!("{file} › annotation {}", a["name"].as_str().unwrap_or("?")), expr, true);
            }
        }
    }
    assert!(queries.len() >= 100, "only {} dashboard queries found", queries.len());

    // Counters need a few scrapes before rate() shows them, and the realtime log's pages show
    // once their first records are counted (30s settle): give what is still empty a while.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut pending: Vec<Query> = Vec::new();
    let mut answered = 0;
    let mut first = true;
    while first || (!pending.is_empty() && Instant::now() < deadline) {
        if !first {
            tokio::time::sleep(Duration::from_secs(2)).await;
            prom.assert_running();
        }
        let batch: Vec<Query> = if first { std::mem::take(&mut queries) } else { std::mem::take(&mut pending) };
        first = false;
        for q in batch {
            match prom.query(&q.expr).await {
                Err(e) => invalid.push((q.place, q.expr, e)),
                Ok(v) if v.len() > MAX_SERIES => too_many.push((q.place, q.expr, v.len())),
                Ok(v) if !has_data(&v) && !q.annotation => pending.push(q),
                Ok(_) => answered += 1,
            }
        }
    }

    let mut report = String::new();
    for (place, expr, error) in &invalid {
        report.push_str(&format!("INVALID  {place}\n         {expr}\n         {error}\n"));
    }
    for (place, expr, n) in &too_many {
        report.push_str(&format!("TOO MANY {place}: {n} series\n         {expr}\n"));
    }
    let mut awaiting = String::new();
    for q in &pending {
        match not_landed(&q.expr, &records, &known, &served) {
            Some(why) => awaiting.push_str(&format!("AWAITING {} (not in this build: {why})\n         {}\n", q.place, q.expr)),
            None => report.push_str(&format!("NO DATA  {}\n         {}\n", q.place, q.expr)),
        }
    }
    // Shown with --nocapture, and with any failure. Every collector of "More collectors" and
    // the process metrics have landed, so a query waiting on one of them fails too: its
    // collector has gone missing from the build.
    println!(
        "{answered} dashboard queries returned data ({FLEET} apps, {backfilled} samples of last week backfilled); defaults: {}\ncollectors of \"More collectors\" in this build: {known:?}\n{awaiting}",
        defaults.join("; ")
    );
    assert!(
        report.is_empty() && awaiting.is_empty(),
        "{} invalid expressions, {} queries over {MAX_SERIES} series and {} dashboard queries without data:\n{report}\n{awaiting}",
        invalid.len(),
        too_many.len(),
        pending.len()
    );
}

#[test]
fn grafana_variables_are_substituted() {
    let values = vec![("app".to_string(), "(a|b)".to_string()), ("__rate_interval".to_string(), "1m".to_string())];
    assert_eq!(substitute(r#"rate(x{app=~"$app"}[$__rate_interval])"#, &values), r#"rate(x{app=~"(a|b)"}[1m])"#);
    assert_eq!(substitute(r#"x{app=~"${app:regex}"}"#, &values), r#"x{app=~"(a|b)"}"#);
    assert_eq!(substitute("x{a=~\"$application\"}", &values), "x{a=~\"$application\"}", "a longer name is not $app");
    assert!(leftover_variable("x{a=~\"$application\"}"));
    assert!(!leftover_variable(r#"label_replace(x, "a", "$1", "b", "(.*)")"#));
    assert_eq!(regex_escape("a.b"), "a\\.b");
}
