//! The operations files as code: the alert rules and their promtool unit tests, the example
//! Prometheus config, the Grafana dashboards and provisioning, and the Dockerfile.

mod common;
mod ops;

use std::collections::{BTreeSet, HashSet};
use std::process::Command;
use std::sync::Mutex;

use serde_json::{Value, json};
use wechat_exporter::collectors::COLLECTORS;

// ------------------------------------------------------------------ Prometheus

/// `promtool <command> <subcommand> <file>`, which must succeed; what it printed.
fn promtool_ok(command: &str, subcommand: &str, file: &str) -> String {
    let (ok, out) = ops::run(Command::new(ops::promtool()).args([command, subcommand]).arg(ops::path(file)));
    assert!(ok, "promtool {command} {subcommand} {file}:\n{out}");
    out
}

#[test]
fn promtool_check_rules_is_clean() {
    let out = promtool_ok("check", "rules", ops::ALERTS);
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn promtool_check_config_of_the_example() {
    let out = promtool_ok("check", "config", ops::PROMETHEUS_CONFIG);
    assert!(out.contains("1 rule files found"), "the example loads the alert rules:\n{out}");
}

#[test]
fn promtool_unit_tests_of_the_alerts_pass() {
    let out = promtool_ok("test", "rules", ops::ALERT_TESTS);
    assert!(out.contains("SUCCESS"), "{out}");
}

/// The labels and annotations every alert carries, and a firing case for each in the tests.
#[test]
fn every_alert_has_severity_summary_description_and_a_firing_test() {
    let file = ops::yaml(ops::ALERTS);
    let tests = ops::yaml(ops::ALERT_TESTS);
    let firing: HashSet<&str> = tests["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().into_iter().flatten())
        .filter(|c| c["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()))
        .filter_map(|c| c["alertname"].as_str())
        .collect();
    let mut alerts = BTreeSet::new();
    for rule in file["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap()) {
        let Some(name) = rule["alert"].as_str() else { continue };
        alerts.insert(name);
        let severity = rule["labels"]["severity"].as_str();
        assert!(matches!(severity, Some("warning" | "critical")), "{name}: severity {severity:?}");
        for key in ["summary", "description"] {
            let text = rule["annotations"][key].as_str().unwrap_or_default();
            assert!(text.contains("{{ $labels.app }}"), "{name}: the {key} names the app: {text:?}");
        }
        assert!(firing.contains(name), "{name} has no firing case in {}", ops::ALERT_TESTS);
    }
    // The alerts issue 5 asks for.
    for name in [
        "WechatInterfaceFailureRatioHigh",
        "WechatStartupTimeHigh",
        "WechatStartupTimeUpWeekOverWeek",
        "WechatRealtimeErrorBurst",
        "WechatDataStale",
        "WechatCollectorDown",
        "WechatTokenRefreshFailing",
    ] {
        assert!(alerts.contains(name), "{name} is missing from {}", ops::ALERTS);
    }
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
/// collector's, as it lists them, and those of the exporter itself.
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
    "wechat_exporter_build_info",
    "wechat_exporter_collector_up",
    "wechat_exporter_collector_last_success_timestamp_seconds",
    "wechat_exporter_api_requests_total",
    "wechat_exporter_api_failures_total",
    "wechat_exporter_api_request_duration_seconds_bucket",
    "wechat_exporter_token_refreshes_total",
    "wechat_exporter_token_refresh_failures_total",
];

/// Metrics without an `app` label: the only ones a panel may select without `app=~"$app"`.
const WITHOUT_APP: &[&str] = &["wechat_exporter_build_info", "wechat_exporter_api_request_duration_seconds_bucket"];

/// Each `wechat_*` metric an expression selects, with its label matchers (empty without braces).
fn selectors(expr: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("wechat_") {
        let before = rest[..i].chars().last();
        let tail = &rest[i..];
        let n = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        let name = &tail[..n];
        let after = &tail[n..];
        let matchers = match after.strip_prefix('{') {
            Some(m) => m[..m.find('}').unwrap_or(m.len())].to_string(),
            None => String::new(),
        };
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.push((name.to_string(), matchers));
        }
        rest = &tail[n..];
    }
    out
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
        let app = ops::variable(&d, "app").unwrap_or_else(|| panic!("{file}: an app variable"));
        assert_eq!(app["type"], "query", "{file}");
        let q: String = ops::variable_query(app).unwrap_or_default().split_whitespace().collect();
        assert_eq!(q, "label_values(wechat_app_info,app)", "{file}: the app variable's query");
        assert_eq!((&app["multi"], &app["includeAll"]), (&json!(true), &json!(true)), "{file}: app is multi with All");
        let ds_ref = json!({"type": "prometheus", "uid": "${DS_PROMETHEUS}"});
        assert_eq!(app["datasource"], ds_ref, "{file}: the app variable's data source");

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
            assert_eq!(p["datasource"], ds_ref, "{file}: {title}: the panel's data source");
            let targets = p["targets"].as_array().unwrap_or_else(|| panic!("{file}: {title}: no targets"));
            assert!(!targets.is_empty(), "{file}: {title}: no targets");
            let mut refs = HashSet::new();
            for t in targets {
                assert_eq!(t["datasource"], ds_ref, "{file}: {title}: the target's data source");
                assert!(refs.insert(t["refId"].as_str().unwrap()), "{file}: {title}: refId twice");
                let expr = t["expr"].as_str().unwrap_or_else(|| panic!("{file}: {title}: a target without expr"));
                queries += 1;
                for (metric, matchers) in selectors(expr) {
                    if !WITHOUT_APP.contains(&metric.as_str()) {
                        assert!(matchers.contains(r#"app=~"$app""#), "{file}: {title}: {metric} is not filtered by $app in {expr}");
                    }
                }
            }
        }
        assert!(queries >= 10, "{file}: {queries} queries");
        for t in &types {
            assert!(required("panel", t).is_some(), "{file}: __requires lacks the panel type {t}");
        }
    }
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
    let spec = spec_metrics();
    assert!(spec.contains(&"wechat_daily_visit_pv".to_string()) && spec.contains(&"wechat_realtime_log_records_total".to_string()));
    let missing: Vec<&String> = spec.iter().filter(|m| !shown.contains(*m)).collect();
    assert!(missing.is_empty(), "no panel shows {missing:?}");
    let unknown: Vec<&String> = shown.iter().filter(|m| !spec.contains(m)).collect();
    assert!(unknown.is_empty(), "panels show metrics the spec does not have: {unknown:?}");
}

/// The unit a panel's queries call for, where they settle it: durations in seconds, ratios.
fn expected_unit(title: &str, exprs: &[&str]) -> Option<&'static str> {
    let seconds = |e: &&str| {
        e.contains("time() -") || selectors(e).iter().any(|(m, _)| m.contains("_seconds") && !m.contains("timestamp_seconds"))
    };
    let ratio = |e: &&str| selectors(e).iter().any(|(m, _)| m.ends_with("_rate"));
    let lower = title.to_lowercase();
    if exprs.iter().all(seconds) {
        Some("s")
    } else if exprs.iter().all(ratio) || lower.contains("ratio") || lower.contains("share") {
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
    assert_eq!(expected_unit("Funnel", &["wechat_cloudbase_sms_h5_sms_rate"]), Some("percentunit"));
    assert_eq!(expected_unit("Failure ratio", &["a / b"]), Some("percentunit"));
    assert_eq!(expected_unit("Users", &["wechat_daily_visit_uv"]), None);
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
