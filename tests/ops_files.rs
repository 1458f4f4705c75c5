//! The operations files as code: the alert and recording rules and their promtool unit tests,
//! the example Prometheus and Alertmanager configs, the runbooks, the Grafana dashboards and
//! provisioning, and the Dockerfile.

mod common;
mod ops;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wechat_exporter::collectors::COLLECTORS;

use ops::selectors;

// ------------------------------------------------------------------ Prometheus

/// `promtool <command> <subcommand> <file>`, which must succeed; what it printed.
fn promtool_ok(command: &str, subcommand: &str, file: &str) -> String {
    let (ok, out) = ops::run(Command::new(ops::promtool()).args([command, subcommand]).arg(ops::path(file)));
    assert!(ok, "promtool {command} {subcommand} {file}:\n{out}");
    out
}

/// The alert names the spec fixes, and those this project added; dashboards, runbooks,
/// routing and the fleet's breach count refer to them.
const SPEC_ALERTS: [&str; 7] = [
    "WechatInterfaceFailureRatioHigh",
    "WechatStartupTimeHigh",
    "WechatStartupTimeUpWeekOverWeek",
    "WechatRealtimeErrorBurst",
    "WechatDataStale",
    "WechatCollectorDown",
    "WechatTokenRefreshFailing",
];
const MORE_ALERTS: [&str; 6] = [
    "WechatVisitsDownWeekOverWeek",
    "WechatApiFailureRatioHigh",
    "WechatDailyQuotaExhausted",
    "WechatRealtimeLogLagging",
    "WechatRealtimeLogSkipped",
    "WechatExporterAbsent",
];

#[test]
fn promtool_check_rules_is_clean() {
    for file in [ops::ALERTS, ops::RECORDING] {
        let out = promtool_ok("check", "rules", file);
        assert!(out.contains("SUCCESS"), "{file}: {out}");
    }
}

#[test]
fn promtool_check_config_of_the_example() {
    let out = promtool_ok("check", "config", ops::PROMETHEUS_CONFIG);
    assert!(out.contains("2 rule files found"), "the example loads the alert and the recording rules:\n{out}");
}

#[test]
fn promtool_unit_tests_of_the_rules_pass() {
    for file in [ops::ALERT_TESTS, ops::RECORDING_TESTS] {
        let out = promtool_ok("test", "rules", file);
        assert!(out.contains("SUCCESS"), "{file}: {out}");
    }
}

/// Every alert rule of alerts.yml, as JSON.
fn alert_rules() -> Vec<Value> {
    let file = ops::yaml(ops::ALERTS);
    let groups = file["groups"].as_array().unwrap().clone();
    groups.iter().flat_map(|g| g["rules"].as_array().unwrap().clone()).filter(|r| r["alert"].is_string()).collect()
}

/// The alert's own heading in docs/runbooks.md, as GitHub makes it an anchor.
fn anchor(alert: &str) -> String {
    alert.to_lowercase()
}

/// Labels, annotations and links every alert carries; a firing and a quiet case for each.
#[test]
fn every_alert_has_labels_links_a_runbook_and_firing_and_quiet_cases() {
    let tests = ops::yaml(ops::ALERT_TESTS);
    let cases: Vec<&Value> =
        tests["tests"].as_array().unwrap().iter().flat_map(|t| t["alert_rule_test"].as_array().into_iter().flatten()).collect();
    let firing: HashSet<&str> = cases
        .iter()
        .filter(|c| c["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()))
        .filter_map(|c| c["alertname"].as_str())
        .collect();
    let quiet: HashSet<&str> = cases
        .iter()
        .filter(|c| c["exp_alerts"].as_array().is_some_and(|a| a.is_empty()))
        .filter_map(|c| c["alertname"].as_str())
        .collect();
    let runbooks = ops::read(ops::RUNBOOKS);
    let headings: HashSet<String> =
        runbooks.lines().filter_map(|l| l.strip_prefix("## ")).map(|h| anchor(h.trim())).collect();
    let uids: HashSet<String> =
        ops::DASHBOARDS.iter().map(|f| ops::json(f)["uid"].as_str().unwrap().to_string()).collect();

    let mut alerts = BTreeSet::new();
    for rule in alert_rules() {
        let name = rule["alert"].as_str().unwrap();
        alerts.insert(name.to_string());
        let severity = rule["labels"]["severity"].as_str();
        assert!(matches!(severity, Some("warning" | "critical")), "{name}: severity {severity:?}");
        // An alert about an app names it; one about the exporter itself has no app to name.
        let per_app = selectors(rule["expr"].as_str().unwrap()).iter().any(|(m, _)| m.starts_with("wechat_"));
        for key in ["summary", "description"] {
            let text = rule["annotations"][key].as_str().unwrap_or_default();
            assert!(!text.is_empty(), "{name}: no {key}");
            assert!(!per_app || text.contains("{{ $labels.app }}"), "{name}: the {key} names the app: {text:?}");
        }
        let runbook = rule["annotations"]["runbook_url"].as_str().unwrap_or_default();
        let (base, fragment) = runbook.split_once('#').unwrap_or_else(|| panic!("{name}: runbook_url {runbook:?} has no #section"));
        assert!(base.starts_with("https://") && base.ends_with("/docs/runbooks.md"), "{name}: runbook_url {runbook}");
        assert_eq!(fragment, anchor(name), "{name}: the runbook section is the alert's own");
        assert!(headings.contains(fragment), "{name}: {} has no `## {name}` section", ops::RUNBOOKS);
        let dashboard = rule["annotations"]["dashboard_url"].as_str().unwrap_or_default();
        let uid = dashboard.split("/d/").nth(1).and_then(|r| r.split('/').next()).unwrap_or_default();
        assert!(dashboard.starts_with("https://") && uids.contains(uid), "{name}: dashboard_url {dashboard} names no shipped dashboard");
        assert!(!per_app || dashboard.ends_with("?var-app={{ $labels.app }}"), "{name}: dashboard_url opens the app: {dashboard}");
        assert!(firing.contains(name), "{name} has no firing case in {}", ops::ALERT_TESTS);
        assert!(quiet.contains(name), "{name} has no quiet case (exp_alerts: []) in {}", ops::ALERT_TESTS);
    }
    for name in SPEC_ALERTS.iter().chain(&MORE_ALERTS) {
        assert!(alerts.contains(*name), "{name} is missing from {}", ops::ALERTS);
    }
    assert_eq!(alerts.len(), SPEC_ALERTS.len() + MORE_ALERTS.len(), "a new alert goes into MORE_ALERTS: {alerts:?}");
    // Each runbook section is an alert's.
    for h in &headings {
        assert!(alerts.iter().any(|a| anchor(a) == *h), "{}: section {h} is no alert's", ops::RUNBOOKS);
    }
}

/// The false positives fixed here stay fixed: the page (critical) is kept for the exporter
/// being gone, and the cases that fired before are in the unit tests.
#[test]
fn data_collection_faults_do_not_page() {
    for rule in alert_rules() {
        let name = rule["alert"].as_str().unwrap();
        let severity = rule["labels"]["severity"].as_str().unwrap();
        assert_eq!(severity == "critical", name == "WechatExporterAbsent", "{name}: severity {severity}");
    }
    let tests = ops::read(ops::ALERT_TESTS);
    for group in ["realtime error backlog after a pause", "collector down after one failed poll"] {
        assert!(tests.contains(&format!("- name: {group}\n")), "{group}: the false positive's case is gone");
    }
}

#[test]
fn the_breach_count_lists_every_alert() {
    let rules = ops::rules(&ops::yaml(ops::RECORDING));
    let (_, expr) = rules.iter().find(|(n, _)| n == "alertname:wechat_apps_firing:count").expect("the breach count rule");
    let listed: BTreeSet<String> =
        expr.split("\"alertname\", \"").skip(1).filter_map(|r| r.split('"').next()).map(String::from).collect();
    let alerts: BTreeSet<String> = alert_rules().iter().map(|r| r["alert"].as_str().unwrap().to_string()).collect();
    assert_eq!(listed, alerts, "{}: alertname:wechat_apps_firing:count lists every alert at 0", ops::RECORDING);
}

#[test]
fn alertmanager_example_passes_amtool_and_routes_as_documented() {
    let file = ops::path(ops::ALERTMANAGER_CONFIG);
    let (ok, out) = ops::run(Command::new(ops::amtool()).arg("check-config").arg(&file));
    assert!(ok && out.contains("SUCCESS"), "amtool check-config {}:\n{out}", ops::ALERTMANAGER_CONFIG);
    let route = |labels: &[&str]| {
        let (ok, out) = ops::run(
            Command::new(ops::amtool()).args(["config", "routes", "test", "--config.file"]).arg(&file).args(labels),
        );
        assert!(ok, "{out}");
        out.lines().find(|l| !l.starts_with("Warning")).unwrap_or_default().trim().to_string()
    };
    assert_eq!(route(&["alertname=WechatExporterAbsent", "severity=critical"]), "wechat-pager");
    assert_eq!(route(&["alertname=WechatCollectorDown", "severity=warning", "app=shop"]), "wechat-team");

    let am = ops::yaml(ops::ALERTMANAGER_CONFIG);
    assert_eq!(am["route"]["group_by"], json!(["app"]), "an app's alerts come in one notification");
    let alerts: BTreeSet<String> = alert_rules().iter().map(|r| r["alert"].as_str().unwrap().to_string()).collect();
    for rule in am["inhibit_rules"].as_array().unwrap() {
        for m in rule["source_matchers"].as_array().into_iter().chain(rule["target_matchers"].as_array()).flatten() {
            let m = m.as_str().unwrap();
            let Some(names) = m.strip_prefix("alertname=~").or_else(|| m.strip_prefix("alertname=")) else { continue };
            for n in names.trim_matches('"').split('|') {
                assert!(alerts.contains(n), "{}: {n} is no alert of {}", ops::ALERTMANAGER_CONFIG, ops::ALERTS);
            }
        }
    }
}

/// The example routing on a real Alertmanager: while an app's token fails, its collector-down
/// and data-stale alerts are held back; another app's are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_holds_back_an_apps_consequences_while_its_token_fails() {
    let bin = ops::alertmanager();
    let dir = common::tempdir("alertmanager");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cluster = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::fs::File::create(dir.join("log")).unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _alertmanager = Kill(Command::new(bin)
        .arg(format!("--config.file={}", ops::path(ops::ALERTMANAGER_CONFIG).display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--cluster.listen-address=127.0.0.1:{cluster}"))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("alertmanager starts"));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !http.get(format!("{base}/-/ready")).send().await.is_ok_and(|r| r.status().is_success()) {
        assert!(Instant::now() < deadline, "alertmanager not ready: {}", std::fs::read_to_string(dir.join("log")).unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let alert = |name: &str, app: &str, collector: Option<&str>| {
        let mut labels = json!({"alertname": name, "app": app, "severity": "warning", "job": "wechat-exporter"});
        if let Some(c) = collector {
            labels["collector"] = json!(c);
        }
        json!({"labels": labels, "annotations": {"summary": "test"}})
    };
    let alerts = json!([
        alert("WechatTokenRefreshFailing", "broken", None),
        alert("WechatCollectorDown", "broken", Some("visit_trend")),
        alert("WechatDataStale", "broken", Some("visit_trend")),
        alert("WechatCollectorDown", "other", Some("visit_trend")),
    ]);
    let r = http.post(format!("{base}/api/v2/alerts")).json(&alerts).send().await.unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
    // Inhibition is worked out as alerts are read back: wait until all four are in.
    let mut state: BTreeMap<(String, String), String> = BTreeMap::new();
    while Instant::now() < deadline {
        let got: Value = http.get(format!("{base}/api/v2/alerts")).send().await.unwrap().json().await.unwrap();
        state = got
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let l = |k: &str| a["labels"][k].as_str().unwrap_or_default().to_string();
                ((l("alertname"), l("app")), a["status"]["state"].as_str().unwrap_or_default().to_string())
            })
            .collect();
        if state.len() == 4 && state.values().all(|s| s != "unprocessed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let s = |name: &str, app: &str| state.get(&(name.to_string(), app.to_string())).cloned().unwrap_or_default();
    assert_eq!(s("WechatTokenRefreshFailing", "broken"), "active", "{state:?}");
    assert_eq!(s("WechatCollectorDown", "broken"), "suppressed", "{state:?}");
    assert_eq!(s("WechatDataStale", "broken"), "suppressed", "{state:?}");
    assert_eq!(s("WechatCollectorDown", "other"), "active", "another app's alert is not held back: {state:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A constant of alerts.yml, on a line marked `# <- NAME`: the last number (or duration) before
/// the comment.
struct Mark {
    line: usize,
    alert: String,
    name: String,
    start: usize,
    end: usize,
}

fn marks(text: &str) -> Vec<Mark> {
    let mut out = Vec::new();
    let mut alert = String::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(a) = line.trim().strip_prefix("- alert:") {
            alert = a.trim().to_string();
        }
        let Some((code, mark)) = line.split_once('#') else { continue };
        let Some(name) = mark.trim().strip_prefix("<-") else { continue };
        if code.trim().is_empty() {
            continue;
        }
        // The last number-like token of the code: digits, a fraction, a duration unit.
        let bytes = code.as_bytes();
        let mut token = None;
        let mut j = 0;
        while j < bytes.len() {
            let starts = bytes[j].is_ascii_digit() && (j == 0 || !(bytes[j - 1].is_ascii_alphanumeric() || bytes[j - 1] == b'_' || bytes[j - 1] == b'.'));
            if !starts {
                j += 1;
                continue;
            }
            let s = j;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'.') {
                j += 1;
            }
            if j < bytes.len() && b"smhdw".contains(&bytes[j]) && !bytes.get(j + 1).is_some_and(|c| c.is_ascii_alphanumeric()) {
                j += 1;
            }
            token = Some((s, j));
        }
        let (start, end) = token.unwrap_or_else(|| panic!("line {}: a `# <-` mark with no number before it", i + 1));
        out.push(Mark { line: i, alert: alert.clone(), name: name.trim().to_string(), start, end });
    }
    out
}

/// The token scaled by `factor`: a number stays a number, a duration becomes seconds.
fn scaled(token: &str, factor: f64) -> String {
    let unit = token.chars().last().filter(|c| c.is_ascii_alphabetic());
    let number: f64 = token.trim_end_matches(|c: char| c.is_ascii_alphabetic()).parse().unwrap();
    match unit {
        Some(u) => {
            let secs = number * match u {
                's' => 1.0,
                'm' => 60.0,
                'h' => 3600.0,
                'd' => 86400.0,
                _ => 604800.0,
            };
            format!("{}s", (secs * factor).round())
        }
        None => format!("{}", (number * factor * 1e6).round() / 1e6),
    }
}

/// Runs promtool's unit tests of `alert` alone against `rules_text`, in a directory of its own.
fn unit_tests_of(alert: &str, rules_text: &str, tests: &Value) -> (bool, String) {
    let dir = common::tempdir("mutant");
    let mut rules = ops::yaml_text(rules_text, "the mutated rules");
    for group in rules["groups"].as_array_mut().unwrap() {
        group["rules"].as_array_mut().unwrap().retain(|r| r["alert"] == alert);
    }
    let mut tests = tests.clone();
    tests["rule_files"] = json!(["alerts.yml"]);
    tests["tests"].as_array_mut().unwrap().retain(|t| {
        t["alert_rule_test"].as_array().into_iter().flatten().any(|c| c["alertname"] == alert)
    });
    std::fs::write(dir.join("alerts.yml"), serde_json::to_string(&rules).unwrap()).unwrap();
    std::fs::write(dir.join("alerts.test.yml"), serde_json::to_string(&tests).unwrap()).unwrap();
    let result = ops::run(Command::new(ops::promtool()).args(["test", "rules"]).arg(dir.join("alerts.test.yml")));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A threshold moved 10 % either way must fail the unit tests: their cases sit just either side
/// of each one. (Each run takes one alert's rule and tests alone, to keep this quick.)
#[test]
fn every_marked_threshold_is_pinned_by_the_unit_tests() {
    let promtool = ops::promtool();
    assert!(promtool.exists());
    let text = ops::read(ops::ALERTS);
    let tests = ops::yaml(ops::ALERT_TESTS);
    let marks = marks(&text);
    let marked: BTreeSet<&str> = marks.iter().map(|m| m.alert.as_str()).collect();
    let alerts: BTreeSet<String> = ops::rules(&ops::yaml(ops::ALERTS)).into_iter().map(|(n, _)| n).collect();
    assert_eq!(marked, alerts.iter().map(String::as_str).collect(), "every alert marks its thresholds with `# <- NAME`");

    // Unmutated, each alert's tests pass alone; then every mutant must fail them.
    let mut jobs: Vec<(String, String, String)> = alerts.iter().map(|a| (a.clone(), "as written".to_string(), text.clone())).collect();
    let lines: Vec<&str> = text.lines().collect();
    for m in &marks {
        let line = lines[m.line];
        for factor in [1.1, 0.9] {
            let token = &line[m.start..m.end];
            let new = scaled(token, factor);
            let mut mutated: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            mutated[m.line] = format!("{}{}{}", &line[..m.start], new, &line[m.end..]);
            jobs.push((m.alert.clone(), format!("{} {token} -> {new}", m.name), mutated.join("\n")));
        }
    }
    assert!(jobs.len() >= alerts.len() + 2 * 10, "too few marked thresholds: {}", marks.len());

    let queue = Mutex::new(jobs);
    let wrong = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                loop {
                    let Some((alert, what, rules)) = queue.lock().unwrap().pop() else { return };
                    let (ok, out) = unit_tests_of(&alert, &rules, &tests);
                    let as_written = what == "as written";
                    if as_written && !ok {
                        wrong.lock().unwrap().push(format!("{alert}: its tests fail alone:\n{out}"));
                    } else if !as_written && (ok || !out.contains("got:")) {
                        wrong.lock().unwrap().push(format!("{alert}: {what}: the unit tests did not catch it:\n{out}"));
                    }
                }
            });
        }
    });
    let wrong = wrong.into_inner().unwrap();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn threshold_marks_are_read_right() {
    let text = "      - alert: A\n        expr: |\n          x[10m]    # <- WINDOW\n          ) > 0.05    # <- RATIO\n          > 3600 * (48 + 10)    # <- HOUR\n        for: 1h    # <- FOR\n# <- a comment line\n";
    let m = marks(text);
    let lines: Vec<&str> = text.lines().collect();
    let got: Vec<(&str, &str, &str)> = m.iter().map(|m| (m.alert.as_str(), m.name.as_str(), &lines[m.line][m.start..m.end])).collect();
    assert_eq!(got, [("A", "WINDOW", "10m"), ("A", "RATIO", "0.05"), ("A", "HOUR", "10"), ("A", "FOR", "1h")]);
    assert_eq!(scaled("0.05", 1.1), "0.055");
    assert_eq!(scaled("100", 0.9), "90");
    assert_eq!(scaled("1h", 1.1), "3960s");
    assert_eq!(scaled("10m", 0.9), "540s");
}

// ------------------------------------------------------------------ Grafana

/// The metrics of the spec, each of which some dashboard panel shows: every
/// collector's, as it lists them, and the others below.
fn spec_metrics() -> Vec<String> {
    let mut out: Vec<String> =
        COLLECTORS.iter().flat_map(|k| k.metrics()).map(|d| d.sample_name().into_owned()).collect();
    out.extend(NOT_OF_A_COLLECTOR.iter().map(|m| m.to_string()));
    out
}

/// The spec's metrics that no collector serves.
const NOT_OF_A_COLLECTOR: &[&str] = &[
    "wechat_app_info",
    "wechat_data_date_timestamp_seconds",
    // The exporter's own.
    "wechat_exporter_build_info",
    "wechat_exporter_collector_up",
    "wechat_exporter_collector_last_success_timestamp_seconds",
    "wechat_exporter_collector_interval_seconds",
    "wechat_exporter_api_requests_total",
    "wechat_exporter_api_failures_total",
    "wechat_exporter_api_request_duration_seconds_bucket",
    "wechat_exporter_token_refreshes_total",
    "wechat_exporter_token_refresh_failures_total",
    "wechat_exporter_realtime_log_counted_until_timestamp_seconds",
    "wechat_exporter_realtime_log_skipped_seconds_total",
    // The process.
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
];


#[test]
fn spec_metrics_come_from_the_collectors() {
    let served: Vec<String> = COLLECTORS.iter().flat_map(|k| k.metrics()).map(|d| d.sample_name().into_owned()).collect();
    for m in ["wechat_daily_visit_pv", "wechat_realtime_log_records_total", "wechat_retained_users", "wechat_monthly_visit_depth"] {
        assert!(served.iter().any(|s| s == m), "{m}");
    }
    for m in ["wechat_followers", "wechat_daily_article_reads", "wechat_daily_message_senders"] {
        assert!(served.iter().any(|s| s == m), "{m}: the Official Account collectors serve it");
    }
    for m in NOT_OF_A_COLLECTOR {
        assert!(!served.iter().any(|s| s == m), "{m} is a collector's: take it off the list");
    }
}

/// Metrics without an `app` label: the only ones a per-app panel may select without
/// `app="$app"`; each of them is joined to the app's exporter (`and on (job, instance)`)
/// or is fleet-wide.
const WITHOUT_APP: &[&str] = &[
    "wechat_exporter_build_info",
    "wechat_exporter_api_request_duration_seconds_bucket",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
];

fn ds_ref() -> Value {
    json!({"type": "prometheus", "uid": "${DS_PROMETHEUS}"})
}

/// Every data link of a panel: the defaults' and the overrides'.
fn data_links(panel: &Value) -> Vec<&str> {
    let mut out: Vec<&str> = panel["fieldConfig"]["defaults"]["links"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["url"].as_str())
        .collect();
    for o in panel["fieldConfig"]["overrides"].as_array().into_iter().flatten() {
        for p in o["properties"].as_array().into_iter().flatten().filter(|p| p["id"] == "links") {
            out.extend(p["value"].as_array().into_iter().flatten().filter_map(|l| l["url"].as_str()));
        }
    }
    out
}

fn uid_of(file: &str) -> String {
    ops::json(file)["uid"].as_str().unwrap().to_string()
}

#[test]
fn dashboards_import_into_grafana_10() {
    let mut uids = HashSet::new();
    for file in ops::DASHBOARDS {
        let d = ops::json(file);
        assert!(d["id"].is_null(), "{file}: id is null, so an import makes a new dashboard");
        assert!(uids.insert(d["uid"].as_str().expect("uid").to_string()), "{file}: its uid is its own");
        assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()), "{file}: title");
        assert!(d["schemaVersion"].as_u64().is_some_and(|v| v >= 36), "{file}: schemaVersion of Grafana 10");
        assert_eq!(d["timezone"], "Asia/Shanghai", "{file}: WeChat's days are UTC+8 days");

        let input = d["__inputs"].as_array().and_then(|i| i.iter().find(|i| i["name"] == "DS_PROMETHEUS"));
        let input = input.unwrap_or_else(|| panic!("{file}: a DS_PROMETHEUS input"));
        assert_eq!((&input["type"], &input["pluginId"]), (&json!("datasource"), &json!("prometheus")), "{file}");
        let requires = d["__requires"].as_array().unwrap_or_else(|| panic!("{file}: __requires"));
        let required = |kind: &str, id: &str| requires.iter().find(|r| r["type"] == kind && r["id"] == id);
        let grafana = required("grafana", "grafana").unwrap_or_else(|| panic!("{file}: requires grafana"));
        let major: u32 = grafana["version"].as_str().unwrap().split('.').next().unwrap().parse().unwrap();
        assert!(major >= 10, "{file}: requires Grafana 10 or later");
        assert!(required("datasource", "prometheus").is_some(), "{file}: requires the prometheus data source");

        // The data source variable that stands in for the input when provisioned.
        let ds = ops::variable(&d, "DS_PROMETHEUS").unwrap_or_else(|| panic!("{file}: a DS_PROMETHEUS variable"));
        assert_eq!((&ds["type"], &ds["query"]), (&json!("datasource"), &json!("prometheus")), "{file}");

        let mut ids = HashSet::new();
        let mut types = HashSet::new();
        let mut queries = 0;
        for p in ops::panels(&d) {
            let title = p["title"].as_str().unwrap_or_default();
            assert!(ids.insert(p["id"].as_u64().expect("panel id")), "{file}: panel id {} twice", p["id"]);
            let g = &p["gridPos"];
            let (x, w, h) = (g["x"].as_u64().unwrap(), g["w"].as_u64().unwrap(), g["h"].as_u64().unwrap());
            assert!(w > 0 && h > 0 && x + w <= 24, "{file}: {title}: gridPos {g}");
            if p["type"] == "row" {
                continue;
            }
            types.insert(p["type"].as_str().unwrap().to_string());
            assert!(!title.is_empty(), "{file}: a panel without a title");
            assert_eq!(p["datasource"], ds_ref(), "{file}: {title}: the panel's data source");
            let targets = p["targets"].as_array().unwrap_or_else(|| panic!("{file}: {title}: no targets"));
            assert!(!targets.is_empty(), "{file}: {title}: no targets");
            let mut refs = HashSet::new();
            for t in targets {
                assert_eq!(t["datasource"], ds_ref(), "{file}: {title}: the target's data source");
                assert!(refs.insert(t["refId"].as_str().unwrap()), "{file}: {title}: refId twice");
                assert!(t["expr"].is_string(), "{file}: {title}: a target without expr");
                queries += 1;
            }
        }
        assert!(queries >= 10, "{file}: {queries} queries");
        for t in &types {
            assert!(required("panel", t).is_some(), "{file}: __requires lacks the panel type {t}");
        }
        // Firing Wechat* alerts are annotated.
        let annotations = ops::annotation_exprs(&d);
        assert!(
            annotations.iter().any(|a| a.contains(r#"ALERTS{alertname=~"Wechat.*",alertstate="firing""#)),
            "{file}: an annotation of the firing Wechat* alerts: {annotations:?}"
        );
    }
}

/// Per-app dashboards: one app at a time (of the right account), every selector on it.
#[test]
fn per_app_dashboards_show_one_app_at_a_time() {
    for (file, account) in ops::PER_APP {
        let d = ops::json(file);
        let app = ops::variable(&d, "app").unwrap_or_else(|| panic!("{file}: an app variable"));
        assert_eq!(app["type"], "query", "{file}");
        let q: String = ops::variable_query(app).unwrap_or_default().split_whitespace().collect();
        let want = match account {
            Some(a) => format!(r#"label_values(wechat_app_info{{account="{a}"}},app)"#),
            None => "label_values(wechat_app_info,app)".to_string(),
        };
        assert_eq!(q, want, "{file}: the app variable's query");
        assert_eq!((&app["multi"], &app["includeAll"]), (&json!(false), &json!(false)), "{file}: app is single-select, no All");
        assert_eq!(app["datasource"], ds_ref(), "{file}: the app variable's data source");
        for p in ops::panels(&d) {
            let title = p["title"].as_str().unwrap_or_default();
            for expr in ops::exprs(p).into_iter().chain(ops::annotation_exprs(&d)) {
                for (metric, matchers) in selectors(expr) {
                    if WITHOUT_APP.contains(&metric.as_str()) {
                        assert!(expr.contains(r#"and on (job, instance) wechat_app_info{app="$app"}"#), "{file}: {title}: {metric} is not joined to the app's exporter in {expr}");
                    } else {
                        assert!(matchers.contains(r#"app="$app""#), "{file}: {title}: {metric} is not filtered by app=\"$app\" in {expr}");
                    }
                }
            }
        }
    }
}

/// The fleet overview stays light at 10,000 apps: it draws recording rules over time, and
/// reads raw per-app series only in instant top-k/bottom-k tables, at the range's end.
#[test]
fn the_fleet_overview_reads_recording_rules_and_top_k_at_the_end() {
    let d = ops::json(ops::OVERVIEW);
    assert!(ops::variable(&d, "app").is_none(), "the overview is for the whole fleet");
    let records: HashSet<String> = ops::records(&ops::yaml(ops::RECORDING)).into_iter().collect();
    let mut tables = 0;
    for p in ops::panels(&d).into_iter().filter(|p| p["type"] != "row") {
        let title = p["title"].as_str().unwrap_or_default();
        for t in p["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            for (metric, _) in selectors(expr) {
                if metric.contains(':') {
                    assert!(records.contains(&metric), "{title}: {metric} is no rule of {}", ops::RECORDING);
                } else if metric.starts_with("wechat_") && !WITHOUT_APP.contains(&metric.as_str()) {
                    assert_eq!(t["instant"], true, "{title}: {metric} over a range would read every app's series");
                    assert!(expr.starts_with("topk(") || expr.starts_with("bottomk("), "{title}: {expr} is not a top-k");
                    let at_end = expr.matches("@ end()").count();
                    assert!(at_end >= selectors(expr).len(), "{title}: every selector of {expr} is read `@ end()`");
                }
            }
            if expr.starts_with("topk(") || expr.starts_with("bottomk(") {
                tables += 1;
                assert_eq!(p["type"], "table", "{title}");
                let links = data_links(p);
                assert!(
                    links.iter().any(|l| l.contains("var-app=${__data.fields.app}")),
                    "{title}: a row links to its app's dashboard: {links:?}"
                );
            }
        }
    }
    assert!(tables >= 6, "{tables} top-k tables");
}

/// The per-app dashboards link to each other both ways, for the app at hand.
#[test]
fn per_app_dashboards_are_linked_both_ways() {
    let [mp, oa, health] = ops::PER_APP.map(|(f, _)| f);
    let links_to = |from: &str, to: &str| {
        let uid = uid_of(to);
        let d = ops::json(from);
        ops::panels(&d).iter().flat_map(|p| data_links(p)).any(|l| {
            l.starts_with(&format!("/d/{uid}/")) && (l.contains("var-app=${__field.labels.app}") || l.contains("var-app=${__data.fields.app}"))
        })
    };
    for (from, to) in [(mp, health), (health, mp), (oa, health), (health, oa)] {
        assert!(links_to(from, to), "{from}: no data link to {to} for the app at hand");
    }
    for (file, _) in ops::PER_APP {
        let d = ops::json(file);
        let overview = uid_of(ops::OVERVIEW);
        assert!(
            d["links"].as_array().unwrap().iter().any(|l| l["url"].as_str().is_some_and(|u| u.starts_with(&format!("/d/{overview}/")))),
            "{file}: a link back to the fleet overview"
        );
    }
}

/// A threshold's value: the number on its marked line (a duration in seconds).
fn mark_value(alert: &str, name: &str) -> f64 {
    let text = ops::read(ops::ALERTS);
    let lines: Vec<&str> = text.lines().collect();
    let m = marks(&text).into_iter().find(|m| m.alert == alert && m.name == name);
    let m = m.unwrap_or_else(|| panic!("{} has no mark {name} in {alert}", ops::ALERTS));
    let token = &lines[m.line][m.start..m.end];
    scaled(token, 1.0).trim_end_matches('s').parse().unwrap()
}

/// Threshold lines say which alert constant they draw (`Threshold: <alert> <MARK>` in the
/// description), and draw its value: change the alert, and this says which panels to change.
#[test]
fn threshold_lines_match_the_alerts() {
    let mut drawn = BTreeSet::new();
    for file in ops::DASHBOARDS {
        let d = ops::json(file);
        for p in ops::panels(&d) {
            let title = p["title"].as_str().unwrap_or_default();
            let desc = p["description"].as_str().unwrap_or_default();
            let Some(rest) = desc.split("Threshold: ").nth(1) else { continue };
            let mut words = rest.split_whitespace();
            let (alert, mark) = (words.next().unwrap(), words.next().unwrap().trim_end_matches(['.', ',']));
            let v = mark_value(alert, mark);
            // DEADLINE_HOUR_UTC8 is an hour of the day: the line is the data's age at it.
            let want = if mark == "DEADLINE_HOUR_UTC8" { 3600.0 * (48.0 + v) } else { v };
            let steps = p["fieldConfig"]["defaults"]["thresholds"]["steps"].as_array().unwrap();
            assert!(
                steps.iter().any(|s| s["value"].as_f64() == Some(want)),
                "{file}: {title}: no threshold step at {alert} {mark} = {want}: {steps:?}"
            );
            if p["type"] == "timeseries" {
                assert_eq!(p["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"], "line", "{file}: {title}: drawn as a line");
            }
            drawn.insert(alert.to_string());
        }
    }
    for alert in [
        "WechatStartupTimeHigh",
        "WechatInterfaceFailureRatioHigh",
        "WechatDataStale",
        "WechatCollectorDown",
        "WechatRealtimeErrorBurst",
        "WechatRealtimeLogLagging",
        "WechatApiFailureRatioHigh",
        "WechatVisitsDownWeekOverWeek",
    ] {
        assert!(drawn.contains(alert), "no panel draws {alert}'s threshold");
    }
}

/// What the issue asks the Mini Program dashboard for, by panel.
#[test]
fn mini_program_dashboard_has_last_week_the_day_served_and_the_sms_funnel() {
    let d = ops::json(ops::PER_APP[0].0);
    let panels = ops::panels(&d);
    let panel = |title: &str| *panels.iter().find(|p| p["title"] == title).unwrap_or_else(|| panic!("no panel {title:?}"));
    // Last week's overlays on visits and startup time, dashed.
    for title in ["Visiting users", "Opens and page views", "Startup time"] {
        let p = panel(title);
        let overlay = p["targets"].as_array().unwrap().iter().find(|t| t["expr"].as_str().unwrap().contains(" offset 1w"));
        let overlay = overlay.unwrap_or_else(|| panic!("{title}: no offset 1w overlay"));
        let dashed = p["fieldConfig"]["overrides"].as_array().unwrap().iter().any(|o| {
            o["matcher"]["options"] == overlay["refId"]
                && o["properties"].as_array().unwrap().iter().any(|x| x["id"] == "custom.lineStyle")
        });
        assert!(dashed, "{title}: last week is drawn dashed");
    }
    // The day served, as a date.
    let day = panel("Day served, by collector");
    assert!(ops::exprs(day)[0].contains("wechat_data_date_timestamp_seconds"));
    assert_eq!(day["fieldConfig"]["defaults"]["unit"], "time:YYYY-MM-DD");
    // The SMS funnel per activity and channel, rates marked lifetime.
    let funnel = panel("SMS funnel by activity and channel (lifetime)");
    for e in ops::exprs(funnel) {
        assert!(e.starts_with("sum by (activity_id, channel_id) ("), "{e}");
    }
    let renamed = funnel["transformations"].as_array().unwrap().iter().find(|t| t["id"] == "organize").unwrap();
    let names: Vec<&str> = renamed["options"]["renameByName"].as_object().unwrap().values().filter_map(Value::as_str).collect();
    assert!(names.iter().filter(|n| n.contains("(lifetime)")).count() >= 2, "the rates are marked lifetime: {names:?}");
}

#[test]
fn dashboards_show_every_metric_of_the_spec() {
    let mut shown = HashSet::new();
    for file in ops::DASHBOARDS {
        let d = ops::json(file);
        for p in ops::panels(&d) {
            for expr in ops::exprs(p) {
                shown.extend(selectors(expr).into_iter().map(|(m, _)| m));
            }
        }
    }
    // A recording rule shows the metrics it reads.
    for (name, expr) in ops::rules(&ops::yaml(ops::RECORDING)) {
        if shown.contains(&name) {
            shown.extend(selectors(&expr).into_iter().map(|(m, _)| m));
        }
    }
    shown.retain(|m| !m.contains(':') && m != "ALERTS");
    let spec = spec_metrics();
    let missing: Vec<&String> = spec.iter().filter(|m| !shown.contains(*m)).collect();
    assert!(missing.is_empty(), "no panel shows {missing:?}");
    let unknown: Vec<&String> = shown.iter().filter(|m| !spec.contains(m)).collect();
    assert!(unknown.is_empty(), "panels show metrics the spec does not have: {unknown:?}");
}

#[test]
fn selectors_are_read_right() {
    let got = selectors(r#"sum by (app, level) (rate(wechat_x_total{app="$app",le=~"a|b"}[$__rate_interval])) / ignoring (level) fleet:y:sum offset 1w @ end()"#);
    assert_eq!(got, [("wechat_x_total".to_string(), r#"app="$app",le=~"a|b""#.to_string()), ("fleet:y:sum".to_string(), String::new())]);
    let got = selectors(r#"histogram_quantile(0.9, sum by (api, le) (rate(b[1h]))) and on (job, instance) c{app="$app"} or on() label_replace(vector(0), "r", "n", "", "")"#);
    assert_eq!(got.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>(), ["b", "c"]);
}

/// The unit a panel's queries call for, where they settle it: durations in seconds, ratios.
fn expected_unit(title: &str, exprs: &[&str]) -> Option<&'static str> {
    // A duration metric, but not a timestamp, nor the rate of a seconds counter (CPU: cores).
    let seconds_in = |e: &str| {
        e.contains("time() -")
            || selectors(e).iter().any(|(m, _)| {
                m.contains("_seconds") && !m.contains("timestamp_seconds") && !(m.ends_with("_seconds_total") && e.contains("rate("))
            })
    };
    // Seconds over seconds is a plain number.
    let seconds = |e: &&str| seconds_in(e) && !e.split_once(" / ").is_some_and(|(a, b)| seconds_in(a) && seconds_in(b));
    let ratio = |e: &&str| selectors(e).iter().any(|(m, _)| m.ends_with("_rate"));
    let lower = title.to_lowercase();
    if exprs.iter().all(seconds) {
        Some("s")
    } else if exprs.iter().all(ratio) || lower.contains("ratio") || lower.contains(" share of") || lower.ends_with(" share") {
        Some("percentunit")
    } else {
        None
    }
}

#[test]
fn every_panel_has_a_fitting_unit() {
    for file in ops::DASHBOARDS {
        let d = ops::json(file);
        for p in ops::panels(&d) {
            if matches!(p["type"].as_str(), Some("row" | "table" | "text")) {
                continue;
            }
            let title = p["title"].as_str().unwrap_or_default();
            let unit = p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or_default();
            assert!(!unit.is_empty(), "{file}: {title}: no unit");
            if let Some(want) = expected_unit(title, &ops::exprs(p)) {
                assert_eq!(unit, want, "{file}: {title}");
            }
        }
    }
    assert_eq!(expected_unit("Startup time", &["wechat_performance_cost_time_seconds{}"]), Some("s"));
    assert_eq!(expected_unit("Data age", &["time() - wechat_data_date_timestamp_seconds"]), Some("s"));
    assert_eq!(expected_unit("Age in intervals", &["(time() - wechat_a_timestamp_seconds) / wechat_b_interval_seconds"]), None);
    assert_eq!(expected_unit("Funnel", &["wechat_cloudbase_sms_h5_sms_rate"]), Some("percentunit"));
    assert_eq!(expected_unit("Failure ratio", &["a / b"]), Some("percentunit"));
    assert_eq!(expected_unit("Users", &["wechat_daily_visit_uv"]), None);
    assert_eq!(expected_unit("Sharing", &["wechat_daily_share_pv"]), None);
    assert_eq!(expected_unit("CPU", &["rate(process_cpu_seconds_total[5m])"]), None);
    assert_eq!(expected_unit("Skipped", &["increase(wechat_exporter_realtime_log_skipped_seconds_total[1h])"]), Some("s"));
}

#[test]
fn grafana_provisioning_points_at_prometheus_and_the_dashboards() {
    let ds = ops::yaml("grafana/provisioning/datasources/prometheus.yml");
    assert_eq!(ds["apiVersion"], 1);
    let prom = ds["datasources"].as_array().unwrap().iter().find(|d| d["type"] == "prometheus").expect("a prometheus data source");
    assert_eq!(prom["isDefault"], true, "the dashboards' DS_PROMETHEUS variable takes the default data source");
    assert!(prom["uid"].as_str().is_some_and(|u| !u.is_empty()) && prom["url"].is_string());

    let dash = ops::yaml("grafana/provisioning/dashboards/wechat.yml");
    assert_eq!(dash["apiVersion"], 1);
    let provider = &dash["providers"][0];
    assert_eq!(provider["type"], "file");
    assert!(provider["options"]["path"].as_str().is_some_and(|p| p.starts_with('/')), "an absolute dashboards path");
    let docs = ops::read("docs/operating.md");
    assert!(docs.contains(provider["options"]["path"].as_str().unwrap()), "docs/operating.md says where the dashboards go");
    // Every dashboard in the folder is one the tests know.
    let mut files: Vec<String> = std::fs::read_dir(ops::path("grafana/dashboards"))
        .unwrap()
        .map(|e| format!("grafana/dashboards/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    files.sort();
    let mut known: Vec<String> = ops::DASHBOARDS.iter().map(|f| f.to_string()).collect();
    known.sort();
    assert_eq!(files, known);
}

// ------------------------------------------------------------------ Dockerfile

const CONFIG_IN_IMAGE: &str = "/etc/wechat-exporter/wechat-exporter.yml";

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn instructions() -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in ops::read("Dockerfile").lines() {
        let t = line.trim();
        if t.starts_with('#') || t.is_empty() && current.is_empty() {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(t);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

#[test]
fn dockerfile_passes_hadolint() {
    let (ok, out) = ops::run(
        Command::new(ops::hadolint()).args(["--no-color", "--failure-threshold", "style"]).arg(ops::path("Dockerfile")),
    );
    assert!(ok && out.trim().is_empty(), "hadolint Dockerfile:\n{out}");
}

#[test]
fn dockerfile_builds_in_stages_and_runs_unprivileged() {
    let ins = instructions();
    let from: Vec<&String> = ins.iter().filter(|i| i.starts_with("FROM ")).collect();
    assert!(from.len() >= 2, "multi-stage: {from:?}");
    assert!(from[0].contains("rust:") && from[0].contains(" AS "), "a Rust builder stage: {}", from[0]);
    let last = from.last().unwrap();
    assert!(last.contains("debian:bookworm-slim") || last.contains("distroless"), "a small final image: {last}");
    let final_stage: Vec<&String> = ins.iter().skip_while(|i| i != last).collect();
    let user = final_stage.iter().rev().find_map(|i| i.strip_prefix("USER ")).expect("the final stage sets USER");
    let uid = user.split(':').next().unwrap().trim();
    assert!(!matches!(uid, "0" | "root"), "runs as a non-root user, not {user}");
    assert!(final_stage.iter().any(|i| i.split_whitespace().collect::<Vec<_>>() == ["EXPOSE", "9767"]), "EXPOSE 9767");
    assert!(final_stage.iter().any(|i| i.starts_with("HEALTHCHECK ")), "a HEALTHCHECK");
    assert!(final_stage.iter().any(|i| i.starts_with("ENV ") && i.contains(&format!("WECHAT_EXPORTER_CONFIG_FILE={CONFIG_IN_IMAGE}"))));
    assert!(ops::read("docs/operating.md").contains(CONFIG_IN_IMAGE), "docs/operating.md says where the config goes");

    // What cargo needs to build is in the build context and copied.
    let copied: String = ins.iter().filter(|i| i.starts_with("COPY ") && !i.contains("--from")).cloned().collect();
    let mut needed = vec!["Cargo.toml", "Cargo.lock", "src"];
    // A target Cargo.toml declares must be there, or cargo refuses the manifest.
    if ops::read("Cargo.toml").contains("[[bench]]") {
        needed.push("benches");
    }
    for needed in &needed {
        assert!(copied.contains(needed), "the build stage copies {needed}");
    }
    assert!(!ops::path("build.rs").exists() || copied.contains("build.rs"), "the build stage copies build.rs");
    let ignore = ops::read(".dockerignore");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    assert!(lines.contains(&"*") || lines.contains(&"target") || lines.contains(&"target/"), "target/ stays out of the context");
    for needed in needed.iter().map(|n| if *n == "src" || *n == "benches" { format!("!{n}/") } else { format!("!{n}") }) {
        assert!(!lines.contains(&"*") || lines.contains(&needed.as_str()), ".dockerignore lets {needed} in");
    }
}

/// The HEALTHCHECK's probe, run here against the real binary: healthy when /healthz answers,
/// unhealthy when nothing listens.
#[tokio::test]
async fn dockerfile_healthcheck_probe_works() {
    let ins = instructions();
    let hc = ins.iter().find(|i| i.starts_with("HEALTHCHECK ")).expect("a HEALTHCHECK");
    let json_start = hc.find("CMD [").expect("HEALTHCHECK CMD in exec form") + 4;
    let argv: Vec<String> = serde_json::from_str(&hc[json_start..]).expect("the CMD is a JSON array");
    assert!(argv.iter().any(|a| a.contains("/healthz") && a.contains("9767")), "probes /healthz on 9767: {argv:?}");

    let mut cmd = Command::new(common::bin());
    cmd.args(["--demo", "--web.listen-address", "127.0.0.1:0"]);
    let exporter = common::Exporter::spawn(cmd, &[], common::tempdir("healthcheck"));
    let port = exporter.addr.rsplit(':').next().unwrap().to_string();
    let probe = |port: &str| {
        let argv: Vec<String> = argv.iter().map(|a| a.replace("9767", port)).collect();
        let status = Command::new(&argv[0]).args(&argv[1..]).output().expect("the probe runs").status;
        status.success()
    };
    assert!(probe(&port), "the probe finds the exporter healthy");
    drop(exporter);
    assert!(!probe(&port), "the probe fails once nothing listens");
}
