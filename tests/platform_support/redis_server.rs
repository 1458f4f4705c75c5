//! A real `redis-server` for tests (Debian's package; `scripts/test.sh` installs
//! it): on a free loopback port, in a temp dir, no snapshots unless asked, stopped
//! when dropped.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    /// With TLS: the port that speaks it (the plain one stays, for the test's own commands).
    pub tls_port: Option<u16>,
    extra: Vec<String>,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().unwrap().port()
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_with(false, |_| Vec::new())
    }

    /// A server that also speaks TLS on `tls_port`, with the certificate and key
    /// (PEM) given, and no client certificates asked for.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> RedisServer {
        RedisServer::start_with(true, |dir| {
            std::fs::write(dir.join("server.crt"), cert_pem).unwrap();
            std::fs::write(dir.join("server.key"), key_pem).unwrap();
            let path = |f: &str| dir.join(f).display().to_string();
            vec![
                "--tls-cert-file".into(),
                path("server.crt"),
                "--tls-key-file".into(),
                path("server.key"),
                "--tls-auth-clients".into(),
                "no".into(),
            ]
        })
    }

    fn start_with(tls: bool, files: impl Fn(&std::path::Path) -> Vec<String>) -> RedisServer {
        let dir = std::env::temp_dir().join(format!("wechat-exporter-redis-{}-{}", std::process::id(), fastrand::u32(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let mut extra = files(&dir);
        // Another process may take a port between our probe and redis's bind: try a few.
        for _ in 0..5 {
            let port = free_port();
            let tls_port = tls.then(free_port);
            let mut args = extra.clone();
            if let Some(p) = tls_port {
                args.extend(["--tls-port".to_string(), p.to_string()]);
            }
            if let Some(child) = launch(port, &dir, &args) {
                extra = args;
                return RedisServer { child: Some(child), port, dir, tls_port, extra };
            }
        }
        panic!("redis-server did not start (is the Debian package redis-server installed? scripts/test.sh installs it)");
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The URL of the default user (no password).
    pub fn url(&self) -> String {
        url(self.port)
    }

    /// An admin connection, for the test playing the platform's service.
    pub fn admin(&self) -> redis::Connection {
        redis::Client::open(self.url().as_str()).unwrap().get_connection().expect("admin connection")
    }

    pub fn set(&self, key: &str, value: &str) {
        let _: () = redis::cmd("SET").arg(key).arg(value).query(&mut self.admin()).unwrap();
    }

    /// Many keys at once (MSET), for large fleets.
    pub fn set_many(&self, pairs: &[(String, String)]) {
        let mut con = self.admin();
        for chunk in pairs.chunks(1000) {
            let mut cmd = redis::cmd("MSET");
            for (k, v) in chunk {
                cmd.arg(k).arg(v);
            }
            let _: () = cmd.query(&mut con).unwrap();
        }
    }

    pub fn del(&self, key: &str) {
        let _: () = redis::cmd("DEL").arg(key).query(&mut self.admin()).unwrap();
    }

    /// Every key with its type, TTL (whole seconds, -1 for none) and DUMP bytes: what
    /// a run must leave exactly as it found it.
    pub fn snapshot(&self) -> BTreeMap<String, (String, i64, Vec<u8>)> {
        let mut con = self.admin();
        let mut out = BTreeMap::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) =
                redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(1000).query(&mut con).unwrap();
            for k in keys {
                let kind: String = redis::cmd("TYPE").arg(&k).query(&mut con).unwrap();
                let ttl: i64 = redis::cmd("TTL").arg(&k).query(&mut con).unwrap();
                let dump: Vec<u8> = redis::cmd("DUMP").arg(&k).query(&mut con).unwrap();
                out.insert(k, (kind, ttl, dump));
            }
            cursor = next;
            if cursor == 0 {
                return out;
            }
        }
    }

    /// Adds an ACL user that may only GET and MGET, as docs/platform.md advises.
    pub fn add_reader(&self, user: &str, password: &str) {
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(user)
            .arg("on")
            .arg(format!(">{password}"))
            .arg("resetkeys")
            .arg("~wechat_*")
            .arg("-@all")
            .arg("+get")
            .arg("+mget")
            .query(&mut self.admin())
            .unwrap();
    }

    /// Calls per command since the start (INFO commandstats), e.g. "get" → 12.
    pub fn command_calls(&self) -> BTreeMap<String, u64> {
        let info: String = redis::cmd("INFO").arg("commandstats").query(&mut self.admin()).unwrap();
        info.lines()
            .filter_map(|l| {
                let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
                let calls = rest.split(',').find_map(|f| f.strip_prefix("calls="))?.parse().ok()?;
                Some((name.to_string(), calls))
            })
            .collect()
    }

    /// Stops Redis as an operator would (SHUTDOWN SAVE: the keys are kept on disk).
    pub fn stop(&mut self) {
        let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<()>(&mut self.admin());
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same port, with the keys saved by [`Self::stop`].
    pub fn restart(&mut self) {
        self.child = launch(self.port, &self.dir, &self.extra);
        assert!(self.child.is_some(), "redis-server restarts on port {}", self.port);
    }
}

fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/0")
}

fn ping(port: u16) -> bool {
    redis::Client::open(url(port).as_str())
        .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_ok()
}

/// Runs redis-server on `port`, keeping its files in `dir`; `None` if it does not
/// answer PING within 10 s.
fn launch(port: u16, dir: &std::path::Path, extra: &[String]) -> Option<Child> {
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .args(["--daemonize", "no", "--loglevel", "warning"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server runs (Debian package redis-server; scripts/test.sh installs it)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return None;
        }
        if ping(port) {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}
