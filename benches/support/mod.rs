//! What the process-level benchmarks share: a child process killed with them, a
//! process's memory, a free port, and a sum read off an exposition.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A child process, killed and reaped when dropped (also when the benchmark panics).
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The exporter `bin` serving `config` on 127.0.0.1:`port`, logging errors only, its
/// output dropped.
pub fn exporter(bin: &str, config: &Path, port: u16) -> Proc {
    Proc(
        Command::new(bin)
            .arg("--config.file")
            .arg(config)
            .args(["--web.listen-address", &format!("127.0.0.1:{port}"), "--log.level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("exporter"),
    )
}

/// Resident memory of process `pid` (`VmRSS`), in MB; 0 if it cannot be read.
pub fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(19999)
}

/// The sum of every sample of `name` in an exposition.
pub fn sum_of(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}
