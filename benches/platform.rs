//! Platform benchmark: one exporter discovering a third-party platform's 10,000
//! authorized mini programs and polling them all with the tokens the platform keeps
//! in a real redis-server.
//!
//!     cargo bench --bench platform -- --apps 10000 --steady 300
//!
//! The simulator runs in this process, the exporter (release build) and
//! redis-server in their own. Measures the time from start to every app polled
//! once, the exporter's resident memory, and the Redis commands a minute at steady
//! state (INFO commandstats). Prints a Markdown report (the source of BENCHMARKS.md).

#[path = "../tests/platform_support/redis_server.rs"]
mod redis_server;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use redis_server::RedisServer;
use wechat_exporter::simulator::platform as simplat;
use wechat_exporter::simulator::{Options, SimApp, Simulator};

mod support;
use support::{free_port, rss_mb, sum_of};

const COMPONENT: &str = "wxbenchcomponent";

struct Args {
    apps: usize,
    steady: u64,
}

fn args() -> Args {
    let mut a = Args { apps: 10_000, steady: 300 };
    let argv: Vec<String> = std::env::args().collect();
    for w in argv.windows(2) {
        match (w[0].as_str(), w[1].parse::<u64>()) {
            ("--apps", Ok(v)) => a.apps = v as usize,
            ("--steady", Ok(v)) => a.steady = v,
            _ => {}
        }
    }
    a
}

fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
}

fn delta(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(k, v)| *v > 0 && !matches!(k.as_str(), "info" | "mset" | "ping" | "set"))
        .collect()
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(run(a));
}

async fn run(a: Args) {
    let mut opts = Options::new(Vec::new());
    opts.record_calls = false;
    let sim = Simulator::start(opts).await.expect("simulator");
    let redis = RedisServer::start();
    // The platform's service: a component token, and every app's token in WeChat and Redis.
    let component_token = simplat::new_token("COMPONENT");
    sim.add_platform(COMPONENT, &component_token, false);
    redis.set(&format!("wechat_component_access_token:{COMPONENT}"), &component_token);
    let mut pairs = Vec::with_capacity(a.apps);
    for i in 0..a.apps {
        let app = SimApp::generated(i);
        let token = simplat::new_token("AUTHORIZER");
        sim.set_authorizer_token(&app.appid, &token);
        pairs.push((format!("wechat_authorizer_access_token:{COMPONENT}:{}", app.appid), token));
        sim.authorize(COMPONENT, app, &simplat::generated_nickname(i));
    }
    redis.set_many(&pairs);
    eprintln!("simulator on {}, redis on {}, {} authorizers", sim.addr, redis.port, a.apps);

    let dir = std::env::temp_dir().join(format!("wechat-exporter-platform-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // "Fast polling", as in the scale benchmark: every default mini program collector each minute.
    let cfg = format!(
        "wechat:\n  base_url: {}\n  timeout: 10s\n  max_concurrent_requests: 64\nplatforms:\n  - name: bench\n    component_appid: {COMPONENT}\n    redis: {}\n    discover: 10m\n    collectors:\n      miniprogram: {{visit_trend: {{interval: 1m}}, performance: {{interval: 1m}}, realtime_log: {{interval: 1m}}}}\n",
        sim.base_url(),
        redis.url()
    );
    let cfg_path = dir.join("config.yml");
    std::fs::write(&cfg_path, cfg).expect("config");

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let before_start = redis.command_calls();
    let started = Instant::now();
    let exporter = support::exporter(env!("CARGO_BIN_EXE_wechat-exporter"), &cfg_path, port);
    let pid = exporter.0.id();
    let client = reqwest::Client::builder().no_gzip().build().expect("client");

    let mut discovered_after = None;
    let mut rss_max: f64 = 0.0;
    loop {
        rss_max = rss_max.max(rss_mb(pid));
        if discovered_after.is_none()
            && let Ok(r) = client.get(format!("{base}/metrics")).send().await
            && let Ok(text) = r.text().await
            && gauge(&text, "wechat_exporter_platform_authorizers") == Some(a.apps as f64)
        {
            discovered_after = Some(started.elapsed().as_secs_f64());
        }
        let ready = client.get(format!("{base}/readyz")).send().await.map(|r| r.status().is_success());
        if matches!(ready, Ok(true)) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(1200), "exporter not ready");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ready_after = started.elapsed().as_secs_f64();
    let rss_ready = rss_mb(pid);
    let startup_cmds = delta(&redis.command_calls(), &before_start);
    let text = client.get(format!("{base}/metrics")).send().await.expect("scrape").text().await.unwrap_or_default();
    let round_calls = sum_of(&text, "wechat_exporter_api_requests_total");
    eprintln!("ready after {ready_after:.0}s; steady window of {}s", a.steady);

    // Steady state: the first round is over; count what Redis is asked over the window.
    let c0 = redis.command_calls();
    let calls0 = round_calls;
    let t0 = Instant::now();
    let mut rss = Vec::new();
    while t0.elapsed() < Duration::from_secs(a.steady) {
        rss.push((t0.elapsed().as_secs(), rss_mb(pid)));
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    let minutes = t0.elapsed().as_secs_f64() / 60.0;
    let steady = delta(&redis.command_calls(), &c0);
    let text = client.get(format!("{base}/metrics")).send().await.expect("scrape").text().await.unwrap_or_default();
    let wechat_rate = (sum_of(&text, "wechat_exporter_api_requests_total") - calls0) / (minutes * 60.0);
    let unavailable = 0.0 + text
        .lines()
        .filter(|l| l.starts_with("wechat_exporter_api_failures_total") && l.contains("reason=\"token_unavailable\""))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>();
    rss.push((t0.elapsed().as_secs(), rss_mb(pid)));
    let rss_end = rss.last().map(|r| r.1).unwrap_or(0.0);
    rss_max = rss.iter().map(|r| r.1).fold(rss_max, f64::max);
    let per_min = |m: &BTreeMap<String, u64>| m.iter().map(|(k, v)| format!("{k} {:.1}", *v as f64 / minutes)).collect::<Vec<_>>().join(", ");
    let total_per_min = steady.values().sum::<u64>() as f64 / minutes;
    let fmt = |m: &BTreeMap<String, u64>| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");

    println!("## Platform: {} discovered authorizers", a.apps);
    println!();
    println!(
        "Every app a mini program with `visit_trend`, `performance` and `realtime_log` every minute; `discover: 10m`; Redis {} on loopback.",
        redis_version()
    );
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    match discovered_after {
        Some(d) => println!("| start to all {} apps discovered (list in {} pages, info for each) | {d:.0} s |", a.apps, a.apps.div_ceil(500)),
        None => println!("| start to all apps discovered | not seen before ready |"),
    }
    println!("| start to every app polled once (`/readyz`) | {ready_after:.0} s ({round_calls:.0} WeChat calls) |");
    println!("| resident memory at ready / after {} s / max | {rss_ready:.0} MB / {rss_end:.0} MB / {rss_max:.0} MB |", a.steady);
    println!("| Redis commands from start to ready | {} |", fmt(&startup_cmds));
    println!("| Redis commands a minute at steady state ({:.0} min) | {total_per_min:.1} ({}) |", minutes, per_min(&steady));
    println!("| WeChat calls a second at steady state | {wechat_rate:.0} |");
    println!("| calls failed for want of a token (`token_unavailable`) | {unavailable:.0} |");
    println!();
    println!("Memory samples (s, MB): {}", rss.iter().map(|(t, m)| format!("{t}:{m:.0}")).collect::<Vec<_>>().join(" "));
    drop(exporter);
    let _ = std::fs::remove_dir_all(&dir);
}

fn redis_version() -> String {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.split_whitespace().find_map(|w| w.strip_prefix("v=").map(str::to_string)))
        .unwrap_or_else(|| "?".into())
}
