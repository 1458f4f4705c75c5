//! A real Prometheus on loopback for the tests, stopped (and its storage removed) when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Prometheus {
    child: Child,
    pub url: String,
    pub dir: PathBuf,
    pub http: reqwest::Client,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Prometheus {
    /// Starts `bin` with `config` (JSON is YAML, so Prometheus reads it as it is), its
    /// storage in `data/` of a new directory, and `args` besides, and waits until it is
    /// ready.
    pub async fn start(bin: &Path, config: &Value, args: &[String]) -> Prometheus {
        Prometheus::start_in(bin, config, args, super::tempdir("prometheus")).await
    }

    /// The same in `dir`, whose `data/` may already hold blocks. A port taken between
    /// choosing it and Prometheus binding it (by another test) is tried again with a new one.
    pub async fn start_in(bin: &Path, config: &Value, args: &[String], dir: PathBuf) -> Prometheus {
        for _ in 0..3 {
            let mut prom = Prometheus::spawn(bin, config, args, dir.clone());
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(_)) = prom.child.try_wait() {
                    if prom.log().contains("address already in use") {
                        break;
                    }
                    prom.assert_running();
                }
                let ready = prom.http.get(format!("{}/-/ready", prom.url)).send().await;
                if ready.is_ok_and(|r| r.status().is_success()) {
                    return prom;
                }
                assert!(Instant::now() < deadline, "prometheus was not ready within 20s\n{}", prom.log());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!("prometheus found no free port in 3 tries");
    }

    fn spawn(bin: &Path, config: &Value, args: &[String], dir: PathBuf) -> Prometheus {
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, serde_json::to_string_pretty(config).unwrap()).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        Prometheus { child, url: format!("http://127.0.0.1:{port}"), dir, http: reqwest::Client::new() }
    }

    /// Where Prometheus keeps its blocks.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// Fails the test, with Prometheus's log, if Prometheus has stopped.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("prometheus exited ({status}):\n{}", self.log());
        }
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Option<Value> {
        let resp = self.http.get(format!("{}{path}", self.url)).query(query).send().await.ok()?;
        resp.json().await.ok()
    }

    /// A query of the HTTP API: Ok(its `data`) or Err(Prometheus's error).
    pub async fn api(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, String> {
        let answer = self.get(path, query).await.ok_or("no answer from Prometheus")?;
        if answer["status"] != "success" {
            return Err(format!("{}: {}", answer["errorType"], answer["error"]));
        }
        Ok(answer["data"].clone())
    }

    /// An instant query: Ok(one value a series: a range vector's last) or Err(Prometheus's error).
    pub async fn query(&self, expr: &str) -> Result<Vec<f64>, String> {
        let data = self.api("/api/v1/query", &[("query", expr)]).await?;
        let number = |v: &Value| v[1].as_str().and_then(|s| s.parse::<f64>().ok()).unwrap_or(f64::NAN);
        Ok(match data["resultType"].as_str() {
            Some("vector") => data["result"].as_array().unwrap().iter().map(|s| number(&s["value"])).collect(),
            Some("scalar") => vec![number(&data["result"])],
            Some("matrix") => data["result"].as_array().unwrap().iter().filter_map(|s| s["values"].as_array()?.last().map(number)).collect(),
            other => return Err(format!("unexpected result type {other:?}")),
        })
    }
}
