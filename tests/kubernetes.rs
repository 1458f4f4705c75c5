//! deploy/kubernetes as code: what `kubectl kustomize` renders, with and without each component,
//! checked against the Kubernetes schemas (kubernetes-validate) and the Prometheus Operator's
//! (check-jsonschema), its rules with promtool, its generated files against their sources, and its
//! flags, probes, shards and Secrets against the real exporter.

mod common;
mod ops;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use clap::{CommandFactory, Parser};
use serde::Deserialize;
use serde_json::{Value, json};
use wechat_exporter::args::{Args, listen_addr};

const DEPLOY: &str = "deploy/kubernetes";
const COMPONENTS: [&str; 2] = ["components/10k-apps-per-pod", "components/web-config"];
/// Kubernetes versions the core objects are validated against: an older one still supported,
/// and the newest kubernetes-validate knows.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];
/// The image's user (Dockerfile `USER 10001:10001`).
const IMAGE_UID: u64 = 10001;

fn kubectl() -> PathBuf {
    ops::tool("kubectl", "a kubectl of 1.27 or later (its built-in kustomize v5 renders deploy/kubernetes)")
}

fn kubernetes_validate() -> PathBuf {
    ops::tool("kubernetes-validate", "pip install kubernetes-validate")
}

fn check_jsonschema() -> PathBuf {
    ops::tool("check-jsonschema", "pip install check-jsonschema")
}

/// Every document of a YAML stream.
fn yaml_docs(text: &str, what: &str) -> Vec<Value> {
    yaml_serde::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{what} is not valid YAML: {e}")))
        .filter(|v| !v.is_null())
        .collect()
}

/// `path` as seen from `from`, both absolute: kustomize refuses absolute paths.
fn relative(from: &Path, path: &Path) -> PathBuf {
    let up = from.components().filter(|c| matches!(c, std::path::Component::Normal(_))).count();
    let mut out = PathBuf::new();
    for _ in 0..up {
        out.push("..");
    }
    out.join(path.strip_prefix("/").unwrap())
}

/// What `kubectl kustomize` makes of deploy/kubernetes with these components switched on.
fn render(components: &[&str]) -> Vec<Value> {
    let base = ops::path(DEPLOY);
    let dir = if components.is_empty() {
        base.clone()
    } else {
        let dir = common::tempdir("kustomize");
        let rel = relative(&dir, &base);
        let list: Vec<String> = components.iter().map(|c| format!("  - {}\n", rel.join(c).display())).collect();
        let k = format!("resources:\n  - {}\ncomponents:\n{}", rel.display(), list.concat());
        std::fs::write(dir.join("kustomization.yaml"), k).unwrap();
        dir
    };
    let (ok, out) = ops::run(Command::new(kubectl()).arg("kustomize").arg(&dir));
    assert!(ok, "kubectl kustomize {} with {components:?}:\n{out}", dir.display());
    if !components.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    yaml_docs(&out, &format!("the rendering with {components:?}"))
}

/// The base, each component alone, and all of them together, rendered once for every test.
fn variants() -> &'static [(String, Vec<Value>)] {
    static RENDERED: OnceLock<Vec<(String, Vec<Value>)>> = OnceLock::new();
    RENDERED.get_or_init(|| {
        let mut sets: Vec<Vec<&str>> = vec![vec![]];
        sets.extend(COMPONENTS.iter().map(|c| vec![*c]));
        sets.push(COMPONENTS.to_vec());
        sets.into_iter().map(|s| (if s.is_empty() { "base".to_string() } else { s.join(" + ") }, render(&s))).collect()
    })
}

/// The rendering with exactly these components.
fn variant(components: &[&str]) -> &'static [Value] {
    let label = if components.is_empty() { "base".to_string() } else { components.join(" + ") };
    &variants().iter().find(|(l, _)| *l == label).unwrap_or_else(|| panic!("no variant {label}")).1
}

fn find<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = find(objects, kind);
    assert_eq!(found.len(), 1, "one {kind}, not {}", found.len());
    found[0]
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_else(|| panic!("an object without a name: {o}"))
}

/// Whether a label selector (`matchLabels`, or a Service's plain map) picks `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let map = selector.get("matchLabels").unwrap_or(selector).as_object().expect("a selector");
    assert!(selector.get("matchExpressions").is_none(), "only matchLabels here");
    !map.is_empty() && map.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn write_json(dir: &Path, file: &str, v: &Value) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_string_pretty(v).unwrap()).unwrap();
    path
}

// ------------------------------------------------------------------ schemas

/// The core objects of every variant, and the example Secrets, against the Kubernetes API's
/// schemas: strict, so a misspelt field fails as `kubectl apply` would fail it.
#[test]
fn core_objects_pass_the_kubernetes_schemas() {
    let dir = common::tempdir("kubernetes-validate");
    let mut files = Vec::new();
    let mut kinds = BTreeSet::new();
    for (variant, objects) in variants() {
        let objects = objects.as_slice();
        for (i, o) in objects.iter().enumerate() {
            let kind = o["kind"].as_str().unwrap();
            if o["apiVersion"].as_str().is_some_and(|v| v.starts_with("monitoring.coreos.com/")) {
                continue;
            }
            kinds.insert(kind.to_string());
            files.push(write_json(&dir, &format!("{}-{i}-{kind}.json", variant.replace([' ', '/', '+'], "_")), o));
        }
    }
    assert_eq!(
        kinds,
        ["ConfigMap", "PodDisruptionBudget", "Service", "StatefulSet"].map(String::from).into(),
        "the core objects of deploy/kubernetes"
    );
    for example in [format!("{DEPLOY}/appsecrets.example.yaml"), format!("{DEPLOY}/components/web-config/secrets.example.yaml")] {
        for (i, o) in yaml_docs(&ops::read(&example), &example).iter().enumerate() {
            assert_eq!(o["kind"], "Secret", "{example}");
            files.push(write_json(&dir, &format!("example-{}-{i}.json", example.replace('/', "_")), o));
        }
    }
    // A misspelt field must fail: the schemas are strict.
    let objects = variant(&[]);
    let mut bad = one(objects, "StatefulSet").clone();
    let sc = &mut bad["spec"]["template"]["spec"]["containers"][0]["securityContext"];
    sc["readOnlyRootFilesytem"] = sc["readOnlyRootFilesystem"].take();
    let bad = write_json(&dir, "misspelt.json", &bad);

    for version in KUBERNETES_VERSIONS {
        let (ok, out) = ops::run(Command::new(kubernetes_validate()).args(["--strict", "-k", version]).args(&files));
        assert!(ok && !out.contains("ERROR"), "kubernetes-validate -k {version}:\n{out}");
        let passed = out.lines().filter(|l| l.starts_with("INFO") && l.contains(" passed ")).count();
        assert_eq!(passed, files.len(), "every object was checked against {version}:\n{out}");
        let (ok, out) = ops::run(Command::new(kubernetes_validate()).args(["--strict", "-k", version]).arg(&bad));
        assert!(!ok && out.contains("readOnlyRootFilesytem"), "a misspelt field passed {version}:\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The ServiceMonitor and the PrometheusRules of every variant against the JSON schemas made from
/// the Prometheus Operator's CRDs (deploy/kubernetes/schemas/README.md).
#[test]
fn custom_resources_pass_the_prometheus_operator_schemas() {
    let dir = common::tempdir("check-jsonschema");
    let schema = |kind: &str| ops::path(&format!("{DEPLOY}/schemas/{}-monitoring-v1.json", kind.to_lowercase()));
    let mut by_kind: BTreeMap<&str, Vec<PathBuf>> = BTreeMap::new();
    for (variant, objects) in variants() {
        let objects = objects.as_slice();
        for kind in ["ServiceMonitor", "PrometheusRule"] {
            let found = find(objects, kind);
            assert!(!found.is_empty(), "{variant}: no {kind}");
            for (i, o) in found.into_iter().enumerate() {
                let file = format!("{}-{kind}-{i}.json", variant.replace([' ', '/', '+'], "_"));
                by_kind.entry(kind).or_default().push(write_json(&dir, &file, o));
            }
        }
    }
    for (kind, files) in &by_kind {
        let (ok, out) = ops::run(Command::new(check_jsonschema()).arg("--schemafile").arg(schema(kind)).args(files));
        assert!(ok, "check-jsonschema {kind}:\n{out}");
    }
    // What the schemas must refuse: a misspelt field, a malformed duration, a rule without expr.
    let objects = variant(&[]);
    let mut sm = one(objects, "ServiceMonitor").clone();
    sm["spec"]["endpoints"][0]["scrapeTimout"] = json!("5s");
    sm["spec"]["endpoints"][0]["interval"] = json!("30 seconds");
    let mut pr = find(objects, "PrometheusRule")[0].clone();
    pr["spec"]["groups"][0]["rules"][0].as_object_mut().unwrap().remove("expr");
    for (kind, bad, expect) in [("ServiceMonitor", sm, "scrapeTimout"), ("PrometheusRule", pr, "expr")] {
        let file = write_json(&dir, &format!("bad-{kind}.json"), &bad);
        let (ok, out) = ops::run(Command::new(check_jsonschema()).arg("--schemafile").arg(schema(kind)).arg(file));
        assert!(!ok && out.contains(expect), "the {kind} schema let a broken one pass:\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------------------ generated files

/// The Prometheus rule files of prometheus/: every YAML file there with `groups` (not the unit
/// tests, not the example config).
fn rule_files() -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(ops::path("prometheus")).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        if !(file.ends_with(".yml") || file.ends_with(".yaml")) {
            continue;
        }
        let rel = format!("prometheus/{file}");
        let doc = ops::yaml(&rel);
        if doc.get("groups").is_some() && doc.get("tests").is_none() {
            out.insert(rel, doc);
        }
    }
    assert!(out.contains_key(ops::ALERTS), "{} is a rule file", ops::ALERTS);
    out
}

fn dashboard_files() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(ops::path("grafana/dashboards")).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        if file.ends_with(".json") {
            out.insert(file.clone(), ops::read(&format!("grafana/dashboards/{file}")));
        }
    }
    assert!(!out.is_empty());
    out
}

/// Each rule file is one PrometheusRule holding its groups as they are; promtool accepts them.
#[test]
fn prometheus_rules_hold_the_rule_files_and_pass_promtool() {
    let objects = variant(&[]);
    let rules = find(objects, "PrometheusRule");
    let sources = rule_files();
    assert_eq!(rules.len(), sources.len(), "one PrometheusRule per rule file of prometheus/: {:?}", sources.keys());
    let dir = common::tempdir("promrule");
    for rule in rules {
        let source = rule["metadata"]["annotations"]["wechat-exporter/source"].as_str().expect("the source annotation");
        let doc = sources.get(source).unwrap_or_else(|| panic!("{}: its source {source} is not a rule file", name(rule)));
        assert_eq!(rule["spec"]["groups"], doc["groups"], "{} holds what {source} holds: run python3 scripts/gen-kubernetes.py", name(rule));
        let file = write_json(&dir, &format!("{}.json", name(rule)), &json!({"groups": rule["spec"]["groups"]}));
        let (ok, out) = ops::run(Command::new(ops::promtool()).args(["check", "rules"]).arg(&file));
        assert!(ok && out.contains("SUCCESS"), "promtool check rules on {}:\n{out}", name(rule));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each dashboard is one ConfigMap for Grafana's sidecar, holding the JSON as it is.
#[test]
fn dashboard_configmaps_hold_the_dashboards() {
    let objects = variant(&[]);
    let maps: Vec<&Value> = find(objects, "ConfigMap").into_iter().filter(|c| c["metadata"]["labels"]["grafana_dashboard"] == "1").collect();
    let sources = dashboard_files();
    assert_eq!(maps.len(), sources.len(), "one ConfigMap per dashboard of grafana/dashboards: {:?}", sources.keys());
    for (file, text) in &sources {
        let map = maps.iter().find(|m| m["data"].get(file).is_some()).unwrap_or_else(|| panic!("no ConfigMap holds {file}"));
        let held: Value = serde_json::from_str(map["data"][file].as_str().unwrap()).expect("JSON");
        let source: Value = serde_json::from_str(text).unwrap();
        assert_eq!(held, source, "{} holds {file} as it is: run python3 scripts/gen-kubernetes.py", name(map));
        // A ConfigMap holds at most 1 MiB.
        assert!(serde_json::to_string(map).unwrap().len() < 1 << 20, "{}: over a ConfigMap's 1 MiB", name(map));
    }
}

/// Runs scripts/gen-kubernetes.py from a copy of the repository's sources into `out`.
fn generate(root: &Path, out: &Path) {
    let (ok, text) = ops::run(Command::new("python3").arg(root.join("scripts/gen-kubernetes.py")).arg("--out").arg(out));
    assert!(ok, "scripts/gen-kubernetes.py:\n{text}");
}

/// A copy of what the generator reads: itself, prometheus/ and grafana/dashboards/.
fn source_copy() -> PathBuf {
    let root = common::tempdir("gen-sources");
    for dir in ["scripts", "prometheus", "grafana/dashboards"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        for entry in std::fs::read_dir(ops::path(dir)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), root.join(dir).join(entry.file_name())).unwrap();
            }
        }
    }
    root
}

const GENERATED: [&str; 2] = ["prometheusrule.yaml", "grafana-dashboards.yaml"];

/// The committed files are what the generator makes of today's sources; and an edited source
/// makes a different file, so this test catches a source changed without re-generating.
#[test]
fn generated_files_match_their_sources() {
    let out = common::tempdir("gen-out");
    generate(&ops::path(""), &out);
    for file in GENERATED {
        let want = std::fs::read_to_string(out.join(file)).unwrap();
        let have = ops::read(&format!("{DEPLOY}/{file}"));
        assert!(
            want == have,
            "{DEPLOY}/{file} differs from what its sources make: run `python3 scripts/gen-kubernetes.py` and commit it"
        );
    }

    let root = source_copy();
    let alerts = root.join(ops::ALERTS);
    let text = std::fs::read_to_string(&alerts).unwrap();
    std::fs::write(&alerts, text.replacen("for: 10m", "for: 11m", 1)).unwrap();
    let dashboard = dashboard_files().into_keys().next().unwrap();
    let path = root.join("grafana/dashboards").join(&dashboard);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\"title\"", "\"title\" ", 1)).unwrap();
    let out2 = common::tempdir("gen-out2");
    generate(&root, &out2);
    for file in GENERATED {
        assert_ne!(std::fs::read(out.join(file)).unwrap(), std::fs::read(out2.join(file)).unwrap(), "{file}: an edited source changes it");
    }
    for dir in [out, out2, root] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

// ------------------------------------------------------------------ the pod and the exporter

/// The exporter's flags for a pod of this container: its args, and its environment read as the
/// exporter reads it (each flag's `WECHAT_EXPORTER_*` variable, from src/args.rs).
fn pod_args(container: &Value, pod: &str) -> Args {
    let command = Args::command();
    let mut argv = vec!["wechat-exporter".to_string()];
    argv.extend(container["args"].as_array().into_iter().flatten().map(|a| a.as_str().unwrap().to_string()));
    for env in container["env"].as_array().into_iter().flatten() {
        let var = env["name"].as_str().unwrap();
        let value = match (&env["value"], &env["valueFrom"]["fieldRef"]["fieldPath"]) {
            (Value::String(v), _) => v.clone(),
            (_, Value::String(f)) if f == "metadata.name" => pod.to_string(),
            _ => panic!("{var}: a value this test cannot resolve: {env}"),
        };
        let flag = command.get_arguments().find(|a| a.get_env().is_some_and(|e| e == var));
        let flag = flag.unwrap_or_else(|| panic!("{var} is no flag's variable in src/args.rs"));
        let long = flag.get_long().unwrap();
        // A flag given as an argument wins over its variable, as clap has it.
        if !argv.iter().any(|a| a == &format!("--{long}") || a.starts_with(&format!("--{long}="))) {
            argv.push(format!("--{long}={value}"));
        }
    }
    Args::try_parse_from(&argv).unwrap_or_else(|e| panic!("the pod's flags {argv:?}: {e}"))
}

fn container(sts: &Value) -> &Value {
    let containers = sts["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    containers.iter().find(|c| c["name"] == "wechat-exporter").expect("the wechat-exporter container")
}

fn port_number(container: &Value, port: &Value) -> u64 {
    match port {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::String(s) => container["ports"].as_array().unwrap().iter().find(|p| p["name"] == *s).unwrap_or_else(|| panic!("no port {s}"))["containerPort"]
            .as_u64()
            .unwrap(),
        _ => panic!("a port: {port}"),
    }
}

/// The path a volume is mounted at, and the volume.
fn mount(sts: &Value, pred: impl Fn(&Value) -> bool) -> Vec<(String, &Value)> {
    let pod = &sts["spec"]["template"]["spec"];
    let mut out = Vec::new();
    for v in pod["volumes"].as_array().unwrap().iter().filter(|v| pred(v)) {
        for m in container(sts)["volumeMounts"].as_array().unwrap().iter().filter(|m| m["name"] == v["name"]) {
            assert_eq!(m["readOnly"], true, "{} is mounted read-only", m["mountPath"]);
            out.push((m["mountPath"].as_str().unwrap().to_string(), v));
        }
    }
    out
}

/// Replicas and shards, the pods' names as shard indexes, the selectors, the Service and the
/// ServiceMonitor, in every variant.
#[test]
fn statefulset_shards_and_endpoints_agree_with_the_exporter() {
    let job = ops::yaml(ops::PROMETHEUS_CONFIG)["scrape_configs"][0]["job_name"].as_str().unwrap().to_string();
    for (variant, objects) in variants() {
        let objects = objects.as_slice();
        let sts = one(objects, "StatefulSet");
        let c = container(sts);
        let replicas = sts["spec"]["replicas"].as_u64().expect("replicas") as u32;
        let pod_labels = &sts["spec"]["template"]["metadata"]["labels"];

        // Shards: pod <name>-<i> is shard i of replicas.
        for i in 0..replicas {
            let pod = format!("{}-{i}", name(sts));
            let args = pod_args(c, &pod);
            assert_eq!(args.shard_count, replicas, "{variant}: --shard.count equals replicas");
            assert_eq!(args.shard_index, i, "{variant}: pod {pod} is shard {i}");
        }
        assert!(c.get("command").is_none(), "{variant}: the image's ENTRYPOINT runs the exporter; the pod gives args only");

        // Selectors, the headless Service, the PDB, the ServiceMonitor.
        assert!(selects(&sts["spec"]["selector"], pod_labels), "{variant}: the StatefulSet selects its pods");
        let svc = one(objects, "Service");
        assert_eq!(sts["spec"]["serviceName"], svc["metadata"]["name"], "{variant}: serviceName");
        assert_eq!(svc["spec"]["clusterIP"], "None", "{variant}: headless");
        assert!(selects(&svc["spec"]["selector"], pod_labels), "{variant}: the Service selects the pods");
        assert!(selects(&one(objects, "PodDisruptionBudget")["spec"]["selector"], pod_labels), "{variant}: the PDB selects the pods");
        let sm = one(objects, "ServiceMonitor");
        assert!(selects(&sm["spec"]["selector"], &svc["metadata"]["labels"]), "{variant}: the ServiceMonitor selects the Service");
        assert_eq!(name(svc), job, "{variant}: the job label (the Service's name) is the example config's job");

        let args = pod_args(c, &format!("{}-0", name(sts)));
        let listen = listen_addr(&args.listen_address).unwrap().port() as u64;
        let endpoints = sm["spec"]["endpoints"].as_array().unwrap();
        assert_eq!(endpoints.len(), 1);
        let ep = &endpoints[0];
        let svc_port = svc["spec"]["ports"].as_array().unwrap().iter().find(|p| p["name"] == ep["port"]).expect("the ServiceMonitor's port is the Service's");
        assert_eq!(port_number(c, &svc_port["targetPort"]), listen, "{variant}: the Service reaches the exporter's port");
        assert_eq!(ep["path"], args.telemetry_path.as_str(), "{variant}: the scrape path is --web.telemetry-path");
        let interval = humantime::parse_duration(ep["interval"].as_str().unwrap()).unwrap();
        let timeout = humantime::parse_duration(ep["scrapeTimeout"].as_str().unwrap()).unwrap();
        assert!(timeout < interval, "{variant}: scrapeTimeout {timeout:?} under the interval {interval:?}");
        let tls = args.web_config_file.is_some();
        assert_eq!(ep["scheme"] == "https", tls, "{variant}: https exactly when there is a web config");
        assert_eq!(ep.get("basicAuth").is_some(), tls, "{variant}: basic auth exactly when there is a web config");

        // Probes: the exporter's endpoints, on its port.
        for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            let p = &c[probe];
            let port = if let Some(get) = p.get("httpGet") {
                assert_eq!(get["path"], path, "{variant}: {probe}");
                assert_eq!(get["scheme"] == "HTTPS", tls, "{variant}: {probe} speaks TLS exactly when the exporter does");
                &get["port"]
            } else {
                assert!(tls && probe == "livenessProbe", "{variant}: {probe} asks {path}: {p}");
                &p["tcpSocket"]["port"]
            };
            assert_eq!(port_number(c, port), listen, "{variant}: {probe} on the exporter's port");
            assert!(p["timeoutSeconds"].as_u64().unwrap_or(1) < p["periodSeconds"].as_u64().unwrap_or(10), "{variant}: {probe}");
        }
    }
}

/// The pod runs as the image's user, unprivileged, on a read-only root: the settings the
/// "restricted" Pod Security Standard asks for.
#[test]
fn pod_runs_unprivileged_on_a_read_only_root() {
    let dockerfile = ops::read("Dockerfile");
    let user = dockerfile.lines().rev().find_map(|l| l.trim().strip_prefix("USER ")).expect("USER in the Dockerfile");
    assert_eq!(user.split(':').next().unwrap().trim().parse::<u64>().unwrap(), IMAGE_UID);
    for (variant, objects) in variants() {
        let objects = objects.as_slice();
        let sts = one(objects, "StatefulSet");
        let pod = &sts["spec"]["template"]["spec"];
        let c = container(sts);
        // The container's setting wins over the pod's.
        let effective = |key: &str| c["securityContext"].get(key).unwrap_or(&pod["securityContext"][key]).clone();
        assert_eq!(effective("runAsNonRoot"), true, "{variant}");
        assert_eq!(effective("runAsUser"), IMAGE_UID, "{variant}");
        assert_eq!(effective("seccompProfile"), json!({"type": "RuntimeDefault"}), "{variant}");
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true, "{variant}");
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false, "{variant}");
        assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]), "{variant}");
        assert!(c["securityContext"]["capabilities"].get("add").is_none(), "{variant}");
        assert_eq!(pod["automountServiceAccountToken"], false, "{variant}: no API token in the pod");
        for key in ["hostNetwork", "hostPID", "hostIPC"] {
            assert!(pod.get(key).is_none_or(|v| v == false), "{variant}: {key}");
        }
        // Secret files readable by the pod's group, not by everyone.
        for v in pod["volumes"].as_array().unwrap() {
            if let Some(mode) = v["secret"].get("defaultMode").or(v["projected"].get("defaultMode")) {
                assert_eq!(mode.as_u64().unwrap() & 0o007, 0, "{variant}: {} is not world-readable", v["name"]);
            }
        }
        assert!(pod["securityContext"]["fsGroup"].is_u64(), "{variant}: fsGroup, so the pod's group may read its secrets");
    }
}

/// Memory in bytes from a Kubernetes quantity (Mi, Gi, M, G or plain bytes).
fn bytes(q: &str) -> f64 {
    let units = [("Ki", 1024f64), ("Mi", 1024f64 * 1024.0), ("Gi", 1024f64.powi(3)), ("k", 1e3), ("M", 1e6), ("G", 1e9)];
    for (suffix, factor) in units {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().unwrap() * factor;
        }
    }
    q.parse().unwrap()
}

/// The largest resident memory BENCHMARKS.md measured over a soak at `apps` apps.
fn measured_rss_mb(apps: &str) -> f64 {
    let text = ops::read("BENCHMARKS.md");
    let section = text.split("## Scale: ").find(|s| s.starts_with(&format!("{apps} apps"))).unwrap_or_else(|| panic!("BENCHMARKS.md has no scale run of {apps} apps"));
    let line = section.lines().find(|l| l.contains("resident memory over a")).expect("a resident memory line");
    let max = line.split("max ").nth(1).expect("max N MB");
    max.split_whitespace().next().unwrap().parse().unwrap()
}

/// The two sizings: each asks for at least the memory BENCHMARKS.md measured at its number of
/// apps, with room above it before the limit.
#[test]
fn resources_fit_the_benchmarked_memory() {
    for (components, apps) in [(vec![], "1000"), (vec!["components/10k-apps-per-pod"], "10000")] {
        let objects = variant(&components);
        let c = container(one(objects, "StatefulSet"));
        let r = &c["resources"];
        let request = bytes(r["requests"]["memory"].as_str().expect("a memory request"));
        let limit = bytes(r["limits"]["memory"].as_str().expect("a memory limit"));
        assert!(r["requests"]["cpu"].is_string(), "a CPU request");
        let measured = measured_rss_mb(apps) * 1e6;
        assert!(request >= measured, "{apps} apps a pod: request {request} under the measured {measured} bytes");
        assert!(limit >= 1.5 * measured, "{apps} apps a pod: limit {limit} leaves under half again of the measured {measured} bytes");
    }
}

/// The shipped config, with its Secret's keys as files where the pod mounts them: every pod of
/// the StatefulSet (its name as the shard index) passes `--config.check`, together they hold every
/// app once, and a pod past the last shard is refused.
#[test]
fn every_shard_loads_the_shipped_config() {
    let objects = variant(&[]);
    let sts = one(objects, "StatefulSet");
    let c = container(sts);
    let args = pod_args(c, &format!("{}-0", name(sts)));

    // The config file is the ConfigMap's, where the pod mounts it.
    let (config_dir, config_volume) = mount(sts, |v| v.get("configMap").is_some()).pop().expect("the config volume");
    let config_map = find(objects, "ConfigMap").into_iter().find(|m| m["metadata"]["name"] == config_volume["configMap"]["name"]).expect("the config's ConfigMap");
    let config_path = args.config_file.to_str().unwrap();
    let key = config_path.strip_prefix(&format!("{config_dir}/")).unwrap_or_else(|| panic!("--config.file {config_path} is not under {config_dir}"));
    let config = config_map["data"][key].as_str().unwrap_or_else(|| panic!("the ConfigMap has no {key}"));

    // The AppSecrets' files, named by the example Secret's keys, where the pod mounts them.
    let (secret_dir, secret_volume) = mount(sts, |v| v["secret"]["secretName"] == "wechat-exporter-appsecrets").pop().expect("the AppSecrets volume");
    assert!(secret_volume["secret"].get("items").is_none(), "every key of the Secret is a file");
    let example = yaml_docs(&ops::read(&format!("{DEPLOY}/appsecrets.example.yaml")), "appsecrets.example.yaml");
    let keys: Vec<&String> = example[0]["stringData"].as_object().unwrap().keys().collect();
    let dir = common::tempdir("shards");
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    for k in &keys {
        std::fs::write(secrets.join(k.as_str()), format!("secret-of-{k}\n")).unwrap();
    }
    let parsed = ops::yaml_text(config, "the shipped config");
    let apps = parsed["apps"].as_array().unwrap();
    for app in apps {
        let file = app["secret_file"].as_str().unwrap_or_else(|| panic!("app {}: AppSecrets from files", app["name"]));
        let key = file.strip_prefix(&format!("{secret_dir}/")).unwrap_or_else(|| panic!("{file} is not under {secret_dir}"));
        assert!(keys.iter().any(|k| k.as_str() == key), "{file}: appsecrets.example.yaml has no key {key}");
    }
    let local = dir.join("wechat-exporter.yml");
    std::fs::write(&local, config.replace(&format!("{secret_dir}/"), &format!("{}/", secrets.display()))).unwrap();

    let replicas = sts["spec"]["replicas"].as_u64().unwrap();
    let check = |pod: &str| {
        let mut cmd = Command::new(common::bin());
        cmd.arg("--config.check").arg("--config.file").arg(&local);
        // The container's other args, and its environment with the pod's name resolved.
        cmd.args(c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).filter(|a| !a.starts_with("--config.file")));
        for env in c["env"].as_array().unwrap() {
            let value = env["value"].as_str().map(str::to_string).unwrap_or_else(|| pod.to_string());
            cmd.env(env["name"].as_str().unwrap(), value);
        }
        ops::run(&mut cmd)
    };
    let mut served = 0;
    for i in 0..replicas {
        let pod = format!("{}-{i}", name(sts));
        let (ok, out) = check(&pod);
        assert!(ok && out.contains("config OK"), "{pod}: --config.check:\n{out}");
        let line = out.lines().find(|l| l.starts_with(&format!("shard {i} of {replicas}:"))).unwrap_or_else(|| panic!("{pod}: which shard:\n{out}"));
        served += line.split(": ").nth(1).unwrap().split_whitespace().next().unwrap().parse::<usize>().unwrap();
    }
    assert_eq!(served, apps.len(), "the shards together hold every app once");
    let (ok, out) = check(&format!("{}-{replicas}", name(sts)));
    assert!(!ok && out.contains("--shard.index"), "a pod past the last shard is refused:\n{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// components/web-config against the real exporter: its Secrets (the example's, with real
/// hashes and a certificate) laid out as the pod mounts them, the exporter started with the
/// pod's flags, then the kubelet's probes and Prometheus's scrape as the manifests describe them.
#[tokio::test(flavor = "multi_thread")]
async fn web_config_component_probes_and_scrapes_work() {
    let objects = variant(&["components/web-config"]);
    let sts = one(objects, "StatefulSet");
    let c = container(sts);
    let sm = &one(objects, "ServiceMonitor")["spec"]["endpoints"][0];
    let secrets: BTreeMap<String, Value> = yaml_docs(&ops::read(&format!("{DEPLOY}/components/web-config/secrets.example.yaml")), "secrets.example.yaml")
        .into_iter()
        .map(|s| (name(&s).to_string(), s["stringData"].clone()))
        .collect();
    let secret = |name: &str, key: &str| -> String {
        secrets.get(name).unwrap_or_else(|| panic!("secrets.example.yaml has no Secret {name}"))[key].as_str().unwrap_or_else(|| panic!("{name} has no {key}")).to_string()
    };

    // What the kubelet asks for, and what Prometheus sends.
    let probe = &c["readinessProbe"]["httpGet"];
    let auth = &sm["basicAuth"];
    let scrape_user = secret(auth["username"]["name"].as_str().unwrap(), auth["username"]["key"].as_str().unwrap());
    let scrape_password = secret(auth["password"]["name"].as_str().unwrap(), auth["password"]["key"].as_str().unwrap());
    let server_name = sm["tlsConfig"]["serverName"].as_str().unwrap();
    let ca_ref = &sm["tlsConfig"]["ca"]["secret"];

    // The certificate, for the name Prometheus checks; the web config with real hashes.
    let ck = rcgen::generate_simple_self_signed(vec![server_name.to_string()]).unwrap();
    let mut web_config = secret("wechat-exporter-web-config", "web-config.yml");
    let users = ops::yaml_text(&web_config, "web-config.yml")["basic_auth_users"].clone();
    let placeholder = users[scrape_user.as_str()].as_str().unwrap_or_else(|| panic!("web-config.yml has no user {scrape_user}"));
    web_config = web_config.replace(placeholder, &bcrypt::hash(&scrape_password, 4).unwrap());
    let files: BTreeMap<(&str, &str), String> = [
        (("wechat-exporter-web-config", "web-config.yml"), web_config),
        (("wechat-exporter-tls", "tls.crt"), ck.cert.pem()),
        (("wechat-exporter-tls", "tls.key"), ck.signing_key.serialize_pem()),
        (("wechat-exporter-tls", "ca.crt"), ck.cert.pem()),
    ]
    .into();
    for (s, k) in files.keys() {
        assert!(secrets.get(*s).is_some_and(|d| d.get(*k).is_some()), "secrets.example.yaml: {s} has no {k}");
    }
    assert!(files.contains_key(&(ca_ref["name"].as_str().unwrap(), ca_ref["key"].as_str().unwrap())), "the CA is the TLS Secret's");

    // The projected volume, as the kubelet lays it out.
    let (mount_path, volume) = mount(sts, |v| v.get("projected").is_some()).pop().expect("the web config volume");
    let dir = common::tempdir("web-component");
    for source in volume["projected"]["sources"].as_array().unwrap() {
        let s = source["secret"]["name"].as_str().unwrap();
        for item in source["secret"]["items"].as_array().unwrap() {
            let content = &files[&(s, item["key"].as_str().unwrap())];
            std::fs::write(dir.join(item["path"].as_str().unwrap()), content).unwrap();
        }
    }
    let args = pod_args(c, &format!("{}-0", name(sts)));
    let web_file = args.web_config_file.expect("--web.config.file");
    let web_file = web_file.strip_prefix(&mount_path).unwrap_or_else(|_| panic!("{} is not under {mount_path}", web_file.display()));
    let web_file = dir.join(web_file);

    // The exporter with that web config (on the demo's simulator: no WeChat needed).
    let mut cmd = Command::new(common::bin());
    cmd.args(["--demo", "--web.listen-address", "127.0.0.1:0", "--web.config.file"]).arg(&web_file);
    let exporter = common::Exporter::spawn(cmd, &[], dir.clone());
    let addr: std::net::SocketAddr = exporter.addr.parse().unwrap();

    // The probes: HTTPS without checking the certificate and without credentials, as the
    // kubelet sends them; liveness at once, readiness once the first polls are done.
    let kubelet = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let probe_url = |p: &Value| format!("{}://{addr}{}", p["scheme"].as_str().unwrap_or("HTTP").to_lowercase(), p["path"].as_str().unwrap());
    let live = probe_url(&c["livenessProbe"]["httpGet"]);
    assert_eq!(kubelet.get(&live).send().await.unwrap().status().as_u16(), 200, "{live}");
    let url = probe_url(probe);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status = kubelet.get(&url).send().await.unwrap().status().as_u16();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{url} answers the kubelet: {}", exporter.log());
        assert!(std::time::Instant::now() < deadline, "not ready in time: {}", exporter.log());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Everything else still asks for credentials.
    let bare = kubelet.get(format!("https://{addr}{}", sm["path"].as_str().unwrap())).send().await.unwrap().status().as_u16();
    assert_eq!(bare, 401, "the metrics need the scrape's credentials");

    // The scrape: the CA from the TLS Secret, the certificate checked for serverName, basic auth.
    let prometheus = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(files[&("wechat-exporter-tls", "ca.crt")].as_bytes()).unwrap())
        .resolve(server_name, addr)
        .build()
        .unwrap();
    let url = format!("{}://{server_name}:{}{}", sm["scheme"].as_str().unwrap(), addr.port(), sm["path"].as_str().unwrap());
    let r = prometheus.get(&url).basic_auth(&scrape_user, Some(&scrape_password)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("wechat_exporter_build_info"));
    let r = prometheus.get(&url).basic_auth(&scrape_user, Some("wrong")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "a wrong password is refused");
    drop(exporter);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The base's probes and scrape path against the real exporter, on plain HTTP.
#[tokio::test(flavor = "multi_thread")]
async fn base_probes_and_scrape_path_answer() {
    let objects = variant(&[]);
    let c = container(one(objects, "StatefulSet"));
    let path = one(objects, "ServiceMonitor")["spec"]["endpoints"][0]["path"].as_str().unwrap().to_string();
    let mut cmd = Command::new(common::bin());
    cmd.args(["--demo", "--web.listen-address", "127.0.0.1:0"]);
    let exporter = common::Exporter::spawn(cmd, &[], common::tempdir("base-probes"));
    let (status, _) = exporter.get(c["livenessProbe"]["httpGet"]["path"].as_str().unwrap()).await;
    assert_eq!(status, 200, "liveness");
    exporter.wait_ready().await;
    let (status, _) = exporter.get(c["readinessProbe"]["httpGet"]["path"].as_str().unwrap()).await;
    assert_eq!(status, 200, "readiness, once every collector has polled");
    let (status, body) = exporter.get(&path).await;
    assert_eq!(status, 200);
    assert!(body.contains("wechat_exporter_build_info"), "the ServiceMonitor's path serves the metrics");
}

#[test]
fn relative_paths_for_kustomize() {
    assert_eq!(relative(Path::new("/tmp/x"), Path::new("/work/repo/deploy")), PathBuf::from("../../work/repo/deploy"));
    assert_eq!(bytes("64Mi"), 64.0 * 1024.0 * 1024.0);
    assert_eq!(bytes("200M"), 200e6);
    let c = json!({"args": ["--shard.count=3"], "env": [{"name": "WECHAT_EXPORTER_SHARD_INDEX", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]});
    let a = pod_args(&c, "wechat-exporter-2");
    assert_eq!((a.shard_count, a.shard_index), (3, 2));
    let c = json!({"env": [{"name": "WECHAT_EXPORTER_SHARD_COUNT", "value": "4"}], "args": ["--shard.count=5"]});
    assert_eq!(pod_args(&c, "p-0").shard_count, 5, "an argument wins over its variable");
}
