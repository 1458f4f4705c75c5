//! Shared test harness: the real binary, the simulator, and readers for the exposition.
#![allow(dead_code)]

pub mod clocked;
pub mod prometheus;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wechat_exporter::simulator::{Options, SimApp, Simulator};

pub fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wechat-exporter-{tag}-{}-{}", std::process::id(), fastrand::u32(..)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn simulator(apps: Vec<SimApp>) -> Simulator {
    Simulator::start(Options::new(apps)).await.expect("simulator starts")
}

/// A config for `apps` at `base_url`, each with the given collectors block (YAML, indented 4).
pub fn config_for(base_url: &str, apps: &[SimApp], collectors: &str) -> String {
    let each: Vec<(SimApp, String)> = apps.iter().map(|a| (a.clone(), collectors.to_string())).collect();
    config_each(base_url, &each)
}

/// A config for `apps` at `base_url`, each with its own collectors block (YAML, indented 4).
pub fn config_each(base_url: &str, apps: &[(SimApp, String)]) -> String {
    let mut out = format!("wechat:\n  base_url: {base_url}\n  timeout: 3s\napps:\n");
    for (a, collectors) in apps {
        out.push_str(&a.config_entry());
        out.push_str(collectors);
    }
    out
}

/// The real binary, running.
pub struct Exporter {
    pub child: Child,
    pub addr: String,
    pub log: Arc<Mutex<String>>,
    pub dir: PathBuf,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wechat-exporter")
}

impl Exporter {
    /// Starts the binary with `config` on a free loopback port, and waits until it listens.
    pub fn start(config: &str, args: &[&str], env: &[(&str, &str)]) -> Exporter {
        let dir = tempdir("e2e");
        let path = dir.join("config.yml");
        std::fs::write(&path, config).unwrap();
        let mut cmd = Command::new(bin());
        cmd.arg("--config.file").arg(&path).args(["--web.listen-address", "127.0.0.1:0"]).args(args);
        Exporter::spawn(cmd, env, dir)
    }

    pub fn spawn(mut cmd: Command, env: &[(&str, &str)], dir: PathBuf) -> Exporter {
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("binary starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                {
                    let mut l = log2.lock().unwrap_or_else(|e| e.into_inner());
                    l.push_str(&line);
                    l.push('\n');
                }
                if line.contains("serving metrics") {
                    // logfmt (`address=...`) or JSON (`"address":"..."`).
                    let addr = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("address="))
                        .or_else(|| line.split("\"address\":\"").nth(1).and_then(|r| r.split('"').next()));
                    if let (Some(addr), Some(tx)) = (addr, tx.take()) {
                        let _ = tx.send(addr.trim_matches('"').to_string());
                    }
                }
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(20)) else {
            // Leave no exporter running behind a failed test.
            let _ = child.kill();
            let _ = child.wait();
            panic!("exporter did not start: {}", log.lock().unwrap_or_else(|e| e.into_inner()));
        };
        Exporter { child, addr, log, dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.yml")
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = reqwest::get(self.url(path)).await.expect("request");
        (resp.status().as_u16(), resp.text().await.unwrap_or_default())
    }

    /// `/metrics` as Prometheus asks for it: OpenMetrics.
    pub async fn openmetrics(&self) -> String {
        let resp = reqwest::Client::new()
            .get(self.url("/metrics"))
            .header("Accept", "application/openmetrics-text;version=1.0.0")
            .send()
            .await
            .expect("request");
        resp.text().await.expect("body")
    }

    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(self.url("/readyz")).await
                && r.status().is_success() {
                    return;
                }
            assert!(Instant::now() < deadline, "exporter not ready in time: {}", self.log.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

/// One sample of an exposition: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Reads an exposition's samples (the label values of our tests have no commas or escapes).
pub fn parse(text: &str) -> Vec<Line> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once("=\"").unwrap();
                    (k.to_string(), v.trim_end_matches('"').to_string())
                })
                .collect();
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap(),
            };
            Line { name: name.to_string(), labels, value }
        })
        .collect()
}

/// The value of the one sample named `name` whose labels include `labels`.
pub fn value(lines: &[Line], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Line> = lines
        .iter()
        .filter(|l| l.name == name && labels.iter().all(|(k, v)| l.labels.get(*k).map(String::as_str) == Some(*v)))
        .collect();
    assert!(found.len() <= 1, "more than one {name} with {labels:?}: {found:?}");
    found.first().map(|l| l.value)
}

/// Runs `promtool check metrics` on an exposition and returns its complaints.
pub fn promtool_check(text: &str) -> String {
    let mut cmd = Command::new("promtool");
    cmd.args(["check", "metrics"]);
    complaints(cmd, text, "promtool is installed (Debian package `prometheus`; .ci/run installs it)")
}

/// Parses an OpenMetrics exposition with the reference parser (Python's `prometheus_client`,
/// which `scripts/test.sh` installs) and returns its complaint, if any. promtool reads only
/// the text format: given OpenMetrics, it takes a counter family named without `_total`
/// for a family without HELP.
pub fn openmetrics_check(text: &str) -> String {
    const PARSE: &str = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\n\
try:\n    list(parse(sys.stdin.read()))\nexcept Exception as e:\n    print(e)\n";
    let mut cmd = Command::new("python3");
    cmd.args(["-c", PARSE]);
    complaints(cmd, text, "python3 runs")
}

/// What a checker prints about `text` given on its stdin; its exit status when it fails silently.
fn complaints(mut cmd: Command, text: &str, missing: &str) -> String {
    use std::io::Write;
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect(missing);
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let mut s = String::from_utf8_lossy(&out.stdout).to_string();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() && s.trim().is_empty() {
        s = format!("{:?} exited with {}", cmd.get_program(), out.status);
    }
    s
}

/// A loopback listener that must never be reached: a redirect's target. It counts
/// connections, keeps what they sent, and answers like WeChat would, so a client
/// that followed the redirect would look healthy.
pub struct Trap {
    pub addr: std::net::SocketAddr,
    hits: Arc<std::sync::atomic::AtomicUsize>,
    received: Arc<Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Trap {
    pub async fn start() -> Trap {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(String::new()));
        let (h, r) = (hits.clone(), received.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let r = r.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let n = tokio::time::timeout(Duration::from_secs(2), sock.read(&mut buf)).await.ok().and_then(Result::ok).unwrap_or(0);
                    r.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                    let body = r#"{"errcode":0,"access_token":"TRAP_TOKEN_0123456789","expires_in":7200,"list":[]}"#;
                    let resp = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        Trap { addr, hits, received, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Connections made to the trap.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Everything sent to it.
    pub fn received(&self) -> String {
        self.received.lock().unwrap().clone()
    }
}
