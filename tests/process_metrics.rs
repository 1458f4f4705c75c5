//! The process metrics tell the truth: compared with what the kernel says of the
//! same process (`/proc/<pid>/status`, `fd/`, `limits`), with the wall clock around
//! its start, and with CPU time spent on purpose.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use wechat_exporter::collectors::Account;
use wechat_exporter::exposition::Format;
use wechat_exporter::simulator::SimApp;
use wechat_exporter::telemetry::Live;

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// A `/proc/<pid>/status` field, in bytes (the kernel writes kB).
fn status_bytes(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"));
    kb * 1024.0
}

fn open_fds(pid: u32) -> f64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count() as f64
}

fn max_fds(pid: u32) -> f64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

fn sample(text: &str, name: &str) -> f64 {
    value(&parse(text), name, &[]).unwrap_or_else(|| panic!("{name} is served:\n{text}"))
}

/// `v` lies within `[lo, hi]`, widened by `slack` of their size.
fn within(v: f64, lo: f64, hi: f64, slack: f64) -> bool {
    v >= lo * (1.0 - slack) && v <= hi * (1.0 + slack)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_reports_its_own_memory_fds_and_start() {
    let apps = vec![SimApp::new("shop", "wxproc000000shop", Account::Miniprogram)];
    let sim = simulator(apps.clone()).await;
    let before = now();
    let exp = Exporter::start(&config_for(&sim.base_url(), &apps, "    collectors:\n      visit_trend: {interval: 1h}\n"), &[], &[]);
    let listening = now();
    exp.wait_ready().await;
    let pid = exp.child.id();
    let client = reqwest::Client::new();

    for format in [Format::Text, Format::OpenMetrics] {
        let accept = match format {
            Format::Text => "text/plain;version=0.0.4",
            Format::OpenMetrics => "application/openmetrics-text;version=1.0.0",
        };
        // The kernel's figures are read on both sides of the scrape, which lies between them.
        let (rss0, vm0, fds0) = (status_bytes(pid, "VmRSS"), status_bytes(pid, "VmSize"), open_fds(pid));
        let text = client.get(exp.url("/metrics")).header("Accept", accept).send().await.unwrap().text().await.unwrap();
        let (rss1, vm1, fds1) = (status_bytes(pid, "VmRSS"), status_bytes(pid, "VmSize"), open_fds(pid));

        let rss = sample(&text, "process_resident_memory_bytes");
        assert!(within(rss, rss0.min(rss1), rss0.max(rss1), 0.03), "RSS {rss} against VmRSS {rss0}..{rss1}");
        let vm = sample(&text, "process_virtual_memory_bytes");
        assert!(within(vm, vm0.min(vm1), vm0.max(vm1), 0.03), "virtual {vm} against VmSize {vm0}..{vm1}");
        // The scrape's own connection is open while it is served, and not before or after.
        let fds = sample(&text, "process_open_fds");
        assert!(fds >= fds0.min(fds1) - 1.0 && fds <= fds0.max(fds1) + 2.0, "open fds {fds} against {fds0}..{fds1}");
        assert_eq!(sample(&text, "process_max_fds"), max_fds(pid));

        // Started after `before` and before it listened: the kernel counts the start in
        // ticks since boot, and boot time in whole seconds, so it may read up to 1 s early.
        let start = sample(&text, "process_start_time_seconds");
        assert!(start >= before - 1.05 && start <= listening + 0.05, "start {start}, spawned at {before}, listening at {listening}");

        let cpu = sample(&text, "process_cpu_seconds_total");
        assert!(cpu > 0.0 && cpu < now() - before + 1.0, "cpu {cpu}");

        let problems = match format {
            Format::Text => promtool_check(&text),
            Format::OpenMetrics => openmetrics_check(&text),
        };
        assert!(problems.trim().is_empty(), "{format:?} exposition: {problems}\n{text}");
    }
}

/// User plus system CPU seconds of `/proc/<what>/stat` (a process, or `thread-self`).
fn cpu_of(what: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{what}/stat")).unwrap();
    let f: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks = |i: usize| f[i].parse::<f64>().unwrap();
    // USER_HZ is 100 on every Linux the exporter runs on.
    (ticks(11) + ticks(12)) / 100.0
}

/// The CPU a thread of this process burns shows up in this process's counter.
#[test]
fn cpu_seconds_rise_with_work() {
    let live = Live::default();
    let cpu = || sample(&live.encode(Format::Text), "process_cpu_seconds_total");
    let k0 = cpu_of("self");
    let first = cpu();
    let k1 = cpu_of("self");
    assert!(first >= k0 && first <= k1, "{first} between the kernel's {k0} and {k1}");

    // Work on this thread until it has spent 0.3 s of CPU (the machine may be busy:
    // wall time does not say how much).
    let t0 = cpu_of("thread-self");
    let started = Instant::now();
    let mut x = 0u64;
    while cpu_of("thread-self") - t0 < 0.3 {
        for i in 0..100_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(started.elapsed() < Duration::from_secs(60), "no CPU time for this thread in a minute");
    }
    let second = cpu();
    assert!(second - first >= 0.3 - 0.02, "rose {} s for 0.3 s of work", second - first);
}
