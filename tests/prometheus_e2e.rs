//! The dashboards and the alert rules against a real Prometheus: the exporter runs its demo,
//! Prometheus scrapes it with a config made from prometheus/prometheus.yml and loads the real
//! rule files, and every PromQL expression of grafana/dashboards/ and prometheus/ goes through
//! Prometheus's HTTP API. Each must be valid; each dashboard query must return data.

mod common;
mod ops;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::Exporter;

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

/// prometheus/prometheus.yml, scraping `target` instead of localhost:9767 every second, with the
/// rule files at their absolute paths. Returns the config and the exporter's job name.
fn config_from_example(target: &str) -> (Value, String) {
    let mut config = ops::yaml(ops::PROMETHEUS_CONFIG);
    config["global"]["scrape_interval"] = json!("1s");
    config["global"]["evaluation_interval"] = json!("1s");
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
    async fn start(exporter_addr: &str) -> Prometheus {
        let (config, job) = config_from_example(exporter_addr);
        Prometheus { inner: common::prometheus::Prometheus::start(&ops::prometheus(), &config, &[]).await, job }
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
/// that have not moved since Prometheus started (the demo polls once a minute) is NaN, and
/// still proves the series, their names and labels are there.
fn has_data(values: &[f64]) -> bool {
    !values.is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_and_rule_expression_works_on_a_real_prometheus() {
    // Before anything starts: a missing Prometheus fails here, with how to install it.
    ops::prometheus();

    let mut cmd = Command::new(common::bin());
    cmd.args(["--demo", "--web.listen-address", "127.0.0.1:0"]);
    let exporter = Exporter::spawn(cmd, &[], common::tempdir("e2e-demo"));
    exporter.wait_ready().await;

    let mut prom = Prometheus::start(&exporter.addr).await;
    prom.wait_for_scrapes(&exporter.addr).await;

    let mut invalid = Vec::new(); // (where, expression, error)
    // Dashboard queries still to return data: (where, expression, a label_values() variable?).
    let mut pending: Vec<(String, String, bool)> = Vec::new();

    // The alert rules: Prometheus loaded every one of them, and evaluates each without error.
    let rules = ops::rules(&ops::yaml(ops::ALERTS));
    let loaded = prom.evaluated_rules().await;
    let mut want: Vec<&str> = rules.iter().map(|(n, _)| n.as_str()).collect();
    let mut got: Vec<&str> = loaded.iter().map(|(n, _, _)| n.as_str()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "Prometheus has the rules of {}", ops::ALERTS);
    for (name, health, error) in &loaded {
        if health != "ok" {
            invalid.push((format!("rule {name} as Prometheus evaluates it"), String::new(), format!("{health}: {error}")));
        }
    }
    for (name, expr) in &rules {
        if let Err(e) = prom.query(expr).await {
            invalid.push((format!("{} {name}", ops::ALERTS), expr.clone(), e));
        }
    }

    // The dashboards: their variables as Grafana would fill them, then every panel query.
    let mut queries = 0;
    for file in ops::DASHBOARDS {
        let dashboard = ops::json(file);
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
                    if found.is_empty() {
                        pending.push((format!("{file} variable {name}"), q.to_string(), true));
                    }
                    let alternatives: Vec<String> = found.iter().map(|v| regex_escape(v)).collect();
                    values.push((name, format!("({})", alternatives.join("|"))));
                }
                other => panic!("{file}: variable {name} of type {other:?} is not handled by this test"),
            }
        }
        for panel in ops::panels(&dashboard) {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let Some(expr) = target["expr"].as_str() else { continue };
                queries += 1;
                let place = format!("{file} › {} › {}", panel["title"].as_str().unwrap_or("?"), target["refId"].as_str().unwrap_or("?"));
                let expr = substitute(expr, &values);
                if leftover_variable(&expr) {
                    invalid.push((place, expr, "a variable this test does not know".into()));
                    continue;
                }
                match prom.query(&expr).await {
                    Err(e) => invalid.push((place, expr, e)),
                    Ok(v) if !has_data(&v) => pending.push((place, expr, false)),
                    Ok(_) => {}
                }
            }
        }
    }
    assert!(queries >= 30, "only {queries} dashboard queries found");

    // Counters need a few scrapes before rate() shows them, and the demo's collectors poll in
    // the background: give what is still empty a bounded while to fill.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !pending.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        prom.assert_running();
        let mut still = Vec::new();
        for (place, expr, variable) in pending {
            let done = if variable {
                let (metric, label) = ops::label_values(&expr).unwrap();
                !prom.label_values(metric.as_deref(), &label).await.is_empty()
            } else {
                prom.query(&expr).await.is_ok_and(|v| has_data(&v))
            };
            if !done {
                still.push((place, expr, variable));
            }
        }
        pending = still;
    }

    let mut report = String::new();
    for (place, expr, error) in &invalid {
        report.push_str(&format!("INVALID  {place}\n         {expr}\n         {error}\n"));
    }
    for (place, expr, _) in &pending {
        report.push_str(&format!("NO DATA  {place}\n         {expr}\n"));
    }
    assert!(
        report.is_empty(),
        "{} invalid expressions and {} dashboard queries without data after a demo run:\n{report}",
        invalid.len(),
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
