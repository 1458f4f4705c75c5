//! Landing page benchmark: `/` of the real exporter polling thousands of simulated apps
//! (a tenth of them official accounts, 1 % with a wrong secret so their collectors fail), and
//! the page renderer alone on the worst case, every collector of every app failing.
//!
//!     cargo bench --bench landing -- --apps 10000
//!
//! Prints a Markdown report (the source of the landing page section of BENCHMARKS.md).

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use wechat_exporter::collectors::Account;
use wechat_exporter::landing::{self, Filter};
use wechat_exporter::scheduler::CollectorStatus;
use wechat_exporter::simulator::{Options, SimApp, Simulator};

fn arg(name: &str, default: usize) -> usize {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter().position(|a| a == name).and_then(|i| argv.get(i + 1)?.parse().ok()).unwrap_or(default)
}

/// Median and p90 of `ms`.
fn median_p90(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms.get(((ms.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN);
    (at(0.5), at(0.9))
}

fn main() {
    let apps = arg("--apps", 10_000);
    let runs = arg("--runs", 30);
    render_alone(apps, runs);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(over_http(apps, runs));
}

/// The renderer alone, on the worst case: every collector failing with a 2,000-character error.
fn render_alone(n: usize, runs: usize) {
    let mut apps = Vec::new();
    let mut status = Vec::new();
    for i in 0..n {
        let name = format!("app{i:05}");
        apps.push((name.clone(), format!("wxgen{i:011}"), "miniprogram".to_string()));
        let name: Arc<str> = Arc::from(name.as_str());
        for c in ["performance", "realtime_log", "visit_trend"] {
            let s = CollectorStatus {
                interval: Duration::from_secs(3600),
                polls: 5,
                up: false,
                last_success: None,
                last_error: Some("x".repeat(2000)),
                data_date: None,
            };
            status.push((name.clone(), c, s));
        }
    }
    let filter = Filter::from_query(&Default::default());
    let mut ms = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let page = landing::render("/metrics", &apps, &status, &filter);
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        bytes = page.len();
    }
    let (median, p90) = median_p90(ms);
    println!("## Landing page: renderer alone, {n} apps, all {} collectors failing with 2,000-character errors", status.len());
    println!();
    println!("| page | median | p90 | size |");
    println!("|---|---|---|---|");
    println!("| `/` | {median:.1} ms | {p90:.1} ms | {:.1} KB |", bytes as f64 / 1024.0);
    println!();
}

async fn over_http(n: usize, runs: usize) {
    let mut sim_apps = Vec::with_capacity(n);
    for i in 0..n {
        let mut app = SimApp::generated(i);
        if i % 10 == 3 {
            app = SimApp::new(&app.name, &app.appid, Account::OfficialAccount);
        }
        sim_apps.push(app);
    }
    let mut opts = Options::new(sim_apps.clone());
    opts.record_calls = false;
    let sim = Simulator::start(opts).await.expect("simulator");

    let mut cfg = format!("wechat:\n  base_url: {}\n  timeout: 10s\napps:\n", sim.base_url());
    let mut wrong = 0;
    for (i, app) in sim_apps.iter().enumerate() {
        let mut app = app.clone();
        // One app in a hundred has a wrong secret: its collectors fail, with an error to show.
        if i % 100 == 42 {
            app.secret = "wrong-secret".into();
            wrong += 1;
        }
        cfg.push_str(&app.config_entry());
    }
    let exporter = common::Exporter::start(&cfg, &[], &[]);
    let client = reqwest::Client::builder().no_gzip().build().expect("client");
    let base = format!("http://{}", exporter.addr);
    let started = Instant::now();
    loop {
        let ok = client.get(format!("{base}/readyz")).send().await.map(|r| r.status().is_success());
        if matches!(ok, Ok(true)) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(900), "exporter not ready");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("ready after {:.0}s", started.elapsed().as_secs_f64());

    println!(
        "## Landing page over HTTP: the release binary, {n} apps ({} official accounts, {wrong} with a wrong secret), every collector polled once",
        n / 10
    );
    println!();
    println!("| page | median | p90 | size |");
    println!("|---|---|---|---|");
    for path in ["/", "/?state=down", "/?page=150", "/?app=app0999&state=all"] {
        let mut ms = Vec::new();
        let mut bytes = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let body = client.get(format!("{base}{path}")).send().await.expect("GET").bytes().await.expect("body");
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            bytes = body.len();
        }
        let (median, p90) = median_p90(ms);
        println!("| `{path}` | {median:.1} ms | {p90:.1} ms | {:.1} KB |", bytes as f64 / 1024.0);
    }
    println!();
    let _ = std::fs::remove_dir_all(&exporter.dir);
}
