//! Scale benchmark: one exporter polling thousands of simulated mini programs,
//! scraped alone and by 50 at once, soaked, and compared side by side with
//! node_exporter's textfile collector serving the same series.
//!
//!     cargo bench --bench scale -- --apps 10000 --soak 600
//!
//! Every app runs every collector a mini program runs by default, each minute;
//! `--skip-collector NAME` leaves one out (to weigh a collector within one run).
//!
//! The simulator runs in this process; the exporter and node_exporter
//! (`prometheus-node-exporter`, Debian) in their own, so their memory is their own.
//! Prints a Markdown report (the source of BENCHMARKS.md).
//!
//!     cargo bench --bench scale -- --apps 10000 --breakdown
//!
//! instead runs the exporter's parts in this process, with the simulator in a child,
//! and counts every allocation, to show where the memory goes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wechat_exporter::collectors::{Account, COLLECTORS};
use wechat_exporter::exposition::{self, Format};
use wechat_exporter::scheduler::{self, Scheduler, Shared};
use wechat_exporter::simulator::{Options, SimApp, Simulator};
use wechat_exporter::store::Store;
use wechat_exporter::telemetry::Live;

mod support;
use support::{free_port, rss_mb, sum_of, Proc};

/// The system allocator, counting the bytes and blocks live: the breakdown's measure.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_BLOCKS: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

struct Args {
    /// Leave node_exporter out (for quick runs while tuning).
    skip_node: bool,
    /// Default collectors left out.
    skip_collectors: Vec<String>,
    /// Where the memory goes, instead of the scale run.
    breakdown: bool,
    /// Only serve the simulator (the breakdown's child).
    simulator_only: bool,
    /// Another build of the exporter to run instead of this one (`--exporter PATH`), to
    /// weigh an older commit against this one on the same machine in the same hour.
    exporter: Option<String>,
    apps: usize,
    soak: u64,
    scrapes: usize,
    concurrency: usize,
}

fn args() -> Args {
    let mut a = Args {
        skip_node: false,
        skip_collectors: Vec::new(),
        breakdown: false,
        simulator_only: false,
        exporter: None,
        apps: 10_000,
        soak: 600,
        scrapes: 30,
        concurrency: 50,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let v = argv.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (argv[i].as_str(), v) {
            ("--apps", Some(v)) => a.apps = v as usize,
            ("--soak", Some(v)) => a.soak = v,
            ("--scrapes", Some(v)) => a.scrapes = v as usize,
            ("--concurrency", Some(v)) => a.concurrency = v as usize,
            ("--skip-collector", _) => {
                a.skip_collectors.extend(argv.get(i + 1).cloned());
            }
            ("--exporter", _) => a.exporter = argv.get(i + 1).cloned(),
            ("--skip-node" | "--breakdown" | "--simulator-only", _) => {
                match argv[i].as_str() {
                    "--skip-node" => a.skip_node = true,
                    "--breakdown" => a.breakdown = true,
                    _ => a.simulator_only = true,
                }
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

/// User plus system CPU seconds the process has used.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Established TCP connections to `port` (the exporter's pool towards the simulator).
fn connections_to(port: u16) -> usize {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| t.lines().skip(1).map(str::to_string).collect::<Vec<_>>())
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[2].ends_with(&want) && f[3] == "01"
        })
        .count()
}

#[derive(Clone, Copy)]
struct Stats {
    median_ms: f64,
    p90_ms: f64,
    bytes: usize,
}

fn stats(mut ms: Vec<f64>, bytes: usize) -> Stats {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms.get(((ms.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN);
    Stats { median_ms: at(0.5), p90_ms: at(0.9), bytes }
}

async fn scrape(client: &reqwest::Client, url: &str, gzip: bool, openmetrics: bool) -> (f64, usize) {
    let mut req = client.get(url);
    if gzip {
        req = req.header("Accept-Encoding", "gzip");
    }
    if openmetrics {
        req = req.header("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
    }
    let t = Instant::now();
    // Read as it arrives, up to the last byte: joining 30 MB into one buffer afterwards
    // would be the client's time, not the server's (it was counted before 2026-11-27).
    let mut body = 0;
    if let Ok(mut r) = req.send().await {
        while let Ok(Some(chunk)) = r.chunk().await {
            body += chunk.len();
        }
    }
    (t.elapsed().as_secs_f64() * 1000.0, body)
}

async fn sequential(client: &reqwest::Client, url: &str, n: usize, gzip: bool, om: bool) -> Stats {
    let mut ms = Vec::with_capacity(n);
    let mut bytes = 0;
    for _ in 0..n {
        let (t, b) = scrape(client, url, gzip, om).await;
        ms.push(t);
        bytes = b;
    }
    stats(ms, bytes)
}

async fn concurrent(client: &reqwest::Client, url: &str, workers: usize, each: usize) -> Stats {
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (c, u) = (client.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let mut v = Vec::new();
            for _ in 0..each {
                v.push(scrape(&c, &u, true, true).await.0);
            }
            v
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    stats(all, 0)
}

/// Sum of a counter family in an exposition.
async fn text_of(client: &reqwest::Client, url: &str) -> String {
    match client.get(url).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

fn main() {
    let a = args();
    if a.breakdown {
        // As the binary does: the allocator is the process's, so its settings are too.
        wechat_exporter::malloc::configure();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    if a.simulator_only {
        rt.block_on(serve_simulator(a.apps));
    } else if a.breakdown {
        rt.block_on(breakdown(a));
    } else {
        rt.block_on(run(a));
    }
}

/// The config of the scale run: every default mini program collector each minute.
fn scale_config(base_url: &str, apps: &[SimApp], collectors: &[&str]) -> String {
    let mut cfg = format!("wechat:\n  base_url: {base_url}\n  timeout: 10s\n  max_concurrent_requests: 64\napps:\n");
    for app in apps {
        cfg.push_str(&app.config_entry());
        cfg.push_str("    collectors:\n");
        for c in collectors {
            cfg.push_str(&format!("      {c}: {{interval: 1m}}\n"));
        }
    }
    cfg
}

/// The default mini program collectors, less those left out.
fn default_collectors(skip: &[String]) -> Vec<&'static str> {
    COLLECTORS
        .iter()
        .filter(|k| k.runs_by_default() && k.accounts().contains(&Account::Miniprogram))
        .map(|k| k.name())
        .filter(|n| !skip.iter().any(|s| s == n))
        .collect()
}

/// The breakdown's child: the simulator alone, its address on stdout, until killed.
async fn serve_simulator(apps: usize) {
    let mut opts = Options::new((0..apps).map(SimApp::generated).collect());
    opts.record_calls = false;
    let secrets: Vec<String> = opts.apps.iter().map(|a| a.secret.clone()).collect();
    let sim = Simulator::start(opts).await.expect("simulator");
    // The address, then each app's secret (they are drawn at random).
    println!("{}", sim.base_url());
    for s in secrets {
        println!("{s}");
    }
    std::future::pending::<()>().await;
}

fn mb(bytes: f64) -> String {
    format!("{:.1}", bytes / 1e6)
}

fn live_bytes() -> f64 {
    LIVE_BYTES.load(Ordering::Relaxed) as f64
}

/// Where the exporter's memory goes: its parts run here, against the simulator in a
/// child process, while every allocation is counted. Parts are measured as they are
/// built, then taken away one at a time, each step's freed bytes being that part's.
async fn breakdown(a: Args) {
    let me = std::process::id();
    let mut sim = Proc(
        Command::new(std::env::current_exe().expect("own path"))
            .args(["--simulator-only", "--apps", &a.apps.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("simulator child"),
    );
    let out = sim.0.stdout.take().expect("child stdout");
    let mut lines = std::io::BufReader::new(out).lines().map_while(Result::ok);
    let base_url = lines.next().expect("simulator address");
    let mut apps: Vec<SimApp> = (0..a.apps).map(SimApp::generated).collect();
    for app in &mut apps {
        app.secret = lines.next().expect("an app's secret");
    }

    let mut rows: Vec<(String, f64, f64, f64)> = Vec::new();
    let mut last = live_bytes();
    let mut mark = |what: &str, rows: &mut Vec<(String, f64, f64, f64)>| {
        let now = live_bytes();
        rows.push((what.to_string(), now - last, now, rss_mb(me)));
        eprintln!("{what}: heap {} MB ({:+.1}), RSS {:.0} MB", mb(now), (now - last) / 1e6, rss_mb(me));
        last = now;
    };
    mark("start (runtime, simulator in a child)", &mut rows);

    let collectors = default_collectors(&a.skip_collectors);
    let config = wechat_exporter::config::parse(&scale_config(&base_url, &apps, &collectors), "bench", &|_| None)
        .expect("config");
    mark("config", &mut rows);
    let shared = Shared::new(Arc::new(Store::new()), Arc::new(Live::default()), scheduler::system_clock());
    let mut sched = Scheduler::new(shared.clone());
    sched.apply(&config).expect("apply");
    wechat_exporter::malloc::start_trimming();
    mark("scheduler started: pollers, app clients, status", &mut rows);

    let started = Instant::now();
    while shared.status().iter().any(|(_, _, s)| s.polls == 0) {
        assert!(started.elapsed() < Duration::from_secs(900), "not ready");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    mark("every collector polled once", &mut rows);
    let store_ready = shared.store.heap_bytes();

    let plain = exposition::chunks(&shared.store, &shared.live, Format::Text, false);
    let plain_len: usize = plain.iter().map(|c| c.len()).sum();
    let mut families: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for line in String::from_utf8_lossy(&plain.concat()).lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap_or("").to_string();
        let e = families.entry(name).or_default();
        e.0 += 1;
        e.1 += line.len() + 1;
    }
    let mut families: Vec<(String, (usize, usize))> = families.into_iter().collect();
    families.sort_by_key(|f| std::cmp::Reverse(f.1.1));
    drop(plain);
    mark("a text scrape (nothing kept)", &mut rows);
    let gz = exposition::chunks(&shared.store, &shared.live, Format::OpenMetrics, true);
    let gz_len: usize = gz.iter().map(|c| c.len()).sum();
    drop(gz);
    mark("an OpenMetrics + gzip scrape (members kept)", &mut rows);

    // Polling goes on, scraped as Prometheus would: state settles.
    let soak = Instant::now();
    let mut peak_rss = rss_mb(me);
    while soak.elapsed() < Duration::from_secs(a.soak) {
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(exposition::chunks(&shared.store, &shared.live, Format::OpenMetrics, true));
        peak_rss = peak_rss.max(rss_mb(me));
    }
    mark(&format!("after {} s more polling and scraping", a.soak), &mut rows);
    let store = shared.store.heap_bytes();
    let steady = (live_bytes(), LIVE_BLOCKS.load(Ordering::Relaxed), rss_mb(me));

    // Taken apart, one collector at a time: each step frees its pollers, the collectors'
    // state and their series in the store.
    let mut left: Vec<&str> = collectors.clone();
    let mut freed = Vec::new();
    let total = |b: wechat_exporter::store::StoreBytes| (b.text + b.gzip + b.index) as f64;
    // With `none`, the apps themselves go (a config needs one app: it is dropped after parsing).
    let all = collectors.clone();
    let mut take_away = async |what: &str, collectors: &[&str], none: bool, sched: &mut Scheduler| {
        let (list, collectors) = if none { (&apps[..1], &all[..]) } else { (&apps[..], collectors) };
        let store_before = total(shared.store.heap_bytes());
        let before = live_bytes();
        let mut fewer = wechat_exporter::config::parse(&scale_config(&base_url, list, collectors), "bench", &|_| None)
            .expect("config");
        if none {
            fewer.apps.clear();
        }
        sched.apply(&fewer).expect("apply");
        drop(fewer);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let store_freed = store_before - total(shared.store.heap_bytes());
        freed.push((what.to_string(), before - live_bytes() - store_freed, store_freed));
    };
    while left.len() > 1 {
        let c = left.pop().unwrap_or_default();
        let what = format!("{c}: {} pollers and their collectors' state", a.apps);
        take_away(&what, &left, false, &mut sched).await;
    }
    let what = format!("{}: {} pollers and their state, and the apps: clients (tokens, counters), status", left[0], a.apps);
    take_away(&what, &[], true, &mut sched).await;
    let before = live_bytes();
    drop(sched);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let client_freed = before - live_bytes();
    let before = live_bytes();
    drop(config);
    let config_freed = before - live_bytes();

    println!("## Memory breakdown: {} apps, each with {}", a.apps, collectors.join(", "));
    println!();
    println!("Heap counted by a counting allocator around the system allocator (bytes asked for; the");
    println!("allocator's own headers and free space are not in it), RSS from /proc/self/status.");
    println!();
    println!("| stage | heap change MB | heap MB | RSS MB |");
    println!("|---|---|---|---|");
    for (what, d, h, r) in &rows {
        println!("| {what} | {} | {} | {r:.0} |", mb(*d), mb(*h));
    }
    println!();
    println!("Scrape bodies: text {} MB, OpenMetrics + gzip {} MB. Peak RSS while soaking: {peak_rss:.0} MB.", mb(plain_len as f64), mb(gz_len as f64));
    println!();
    println!("| family (text format) | series | MB |");
    println!("|---|---|---|");
    for (name, (n, bytes)) in families.iter().take(12) {
        println!("| {name} | {n} | {} |", mb(*bytes as f64));
    }
    println!();
    println!("| part (steady state, after the soak) | MB |");
    println!("|---|---|");
    println!("| store: rendered text | {} |", mb(store.text as f64));
    println!("| store: gzip members | {} |", mb(store.gzip as f64));
    println!("| store: index (where each fragment lies, what each part wrote) | {} |", mb(store.index as f64));
    for (what, own, st) in &freed {
        println!("| {what} (their series: {} MB of the store) | {} |", mb(*st), mb(*own));
    }
    println!("| the WeChat client: its HTTP pool | {} |", mb(client_freed));
    println!("| config | {} |", mb(config_freed));
    println!("| everything else (runtime, simulator link, allocator-free) | {} |", mb(live_bytes()));
    println!();
    println!(
        "Steady state: heap {} MB in {} blocks, RSS {:.0} MB: {:.0} MB of RSS is not live heap (the allocator's headers, \
         free space it keeps, code, stacks). Store right after the first round: text {}, gzip {}, index {} MB.",
        mb(steady.0),
        steady.1,
        steady.2,
        steady.2 - steady.0 / 1e6,
        mb(store_ready.text as f64),
        mb(store_ready.gzip as f64),
        mb(store_ready.index as f64)
    );
}

async fn run(a: Args) {
    let apps: Vec<SimApp> = (0..a.apps).map(SimApp::generated).collect();
    let mut opts = Options::new(apps.clone());
    opts.record_calls = false;
    let sim = Simulator::start(opts).await.expect("simulator");
    eprintln!("simulator with {} apps on {}", a.apps, sim.addr);

    let dir = std::env::temp_dir().join(format!("wechat-exporter-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // "Fast polling": every default mini program collector each minute.
    let names = default_collectors(&a.skip_collectors);
    eprintln!("collectors of every app: {}", names.join(", "));
    let cfg = scale_config(&sim.base_url(), &apps, &names);
    let cfg_path = dir.join("config.yml");
    std::fs::write(&cfg_path, cfg).expect("config");

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let exporter = support::exporter(a.exporter.as_deref().unwrap_or(env!("CARGO_BIN_EXE_wechat-exporter")), &cfg_path, port);
    let pid = exporter.0.id();
    let client = reqwest::Client::builder().no_gzip().pool_max_idle_per_host(64).build().expect("client");

    let started = Instant::now();
    loop {
        let ok = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await.map(|r| r.status().is_success());
        if matches!(ok, Ok(true)) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(900), "exporter not ready");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ready_after = started.elapsed().as_secs_f64();
    // The first full round: every collector of every app polled once.
    let round_cpu = cpu_secs(pid);
    let text = text_of(&client, &url).await;
    let round_calls = sum_of(&text, "wechat_exporter_api_requests_total");
    let series = text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).count();
    eprintln!("ready after {ready_after:.0}s: {series} series, {:.1} MB", text.len() as f64 / 1e6);

    // Alone.
    let plain = sequential(&client, &url, a.scrapes, false, false).await;
    let gz = sequential(&client, &url, a.scrapes, true, true).await;
    // Fifty at once, while polling goes on: polling's pace is measured across it.
    let calls_before = sum_of(&text_of(&client, &url).await, "wechat_exporter_api_requests_total");
    let t0 = Instant::now();
    let conc = concurrent(&client, &url, a.concurrency, 4).await;
    let conc_secs = t0.elapsed().as_secs_f64();
    let calls_after = sum_of(&text_of(&client, &url).await, "wechat_exporter_api_requests_total");
    let call_rate_during = (calls_after - calls_before) / conc_secs;

    // Soak: memory and scrape time every 10 s; CPU per WeChat call across it.
    let cpu0 = cpu_secs(pid);
    let calls0 = sum_of(&text_of(&client, &url).await, "wechat_exporter_api_requests_total");
    let mut rss = Vec::new();
    let mut soak_ms = Vec::new();
    let soak_start = Instant::now();
    while soak_start.elapsed() < Duration::from_secs(a.soak) {
        rss.push((soak_start.elapsed().as_secs(), rss_mb(pid)));
        soak_ms.push(scrape(&client, &url, true, true).await.0);
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    rss.push((soak_start.elapsed().as_secs(), rss_mb(pid)));
    let cpu1 = cpu_secs(pid);
    let calls1 = sum_of(&text_of(&client, &url).await, "wechat_exporter_api_requests_total");
    let conns = connections_to(sim.addr.port());
    let soak = stats(soak_ms, 0);
    let call_rate = (calls1 - calls0) / soak_start.elapsed().as_secs_f64();
    let cpu_per_1000 = if calls1 > calls0 { (cpu1 - cpu0) / ((calls1 - calls0) / 1000.0) } else { f64::NAN };

    // node_exporter's textfile collector, serving the same series, scraped the same way.
    let text = text_of(&client, &url).await;
    let tf_dir = dir.join("textfile");
    std::fs::create_dir_all(&tf_dir).expect("textfile dir");
    std::fs::write(tf_dir.join("wechat.prom"), &text).expect("textfile");
    let ne_port = free_port();
    let ne_url = format!("http://127.0.0.1:{ne_port}/metrics");
    let node = if a.skip_node {
        Err(std::io::Error::other("skipped with --skip-node"))
    } else {
        Command::new("prometheus-node-exporter")
        .args(["--collector.disable-defaults", "--collector.textfile"])
        .arg(format!("--collector.textfile.directory={}", tf_dir.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{ne_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
    };
    let node_result = match node {
        Ok(child) => {
            let mut child = Proc(child);
            if let Some(err) = child.0.stderr.take() {
                std::thread::spawn(move || for _ in std::io::BufReader::new(err).lines() {});
            }
            let ne_pid = child.0.id();
            let t = Instant::now();
            while client.get(&ne_url).send().await.is_err() && t.elapsed() < Duration::from_secs(10) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let n = (a.scrapes / 3).max(5);
            let ne_plain = sequential(&client, &ne_url, n, false, false).await;
            let ne_gz = sequential(&client, &ne_url, n, true, true).await;
            let mut ne_rss = rss_mb(ne_pid);
            let ne_conc = concurrent(&client, &ne_url, a.concurrency.min(10), 1).await;
            ne_rss = ne_rss.max(rss_mb(ne_pid));
            // The exporter again, at the same moment, for a side-by-side pair.
            let ours_again = sequential(&client, &url, n, false, false).await;
            let ours_again_gz = sequential(&client, &url, n, true, true).await;
            let _ = child.0.kill();
            Some((ne_plain, ne_gz, ne_conc, ne_rss, ours_again, ours_again_gz))
        }
        Err(e) => {
            eprintln!("node_exporter not run ({e}); apt-get install prometheus-node-exporter");
            None
        }
    };

    let rss_first = rss.first().map(|r| r.1).unwrap_or(0.0);
    let rss_last = rss.last().map(|r| r.1).unwrap_or(0.0);
    let rss_max = rss.iter().map(|r| r.1).fold(0.0, f64::max);
    // Growth over the soak's second half, so start-up allocation does not count as a leak.
    let half: Vec<&(u64, f64)> = rss.iter().skip(rss.len() / 2).collect();
    let half_growth = half.last().map(|l| l.1).unwrap_or(0.0) - half.first().map(|f| f.1).unwrap_or(0.0);

    println!("## Scale: {} apps, {series} series, {:.1} MB of text", a.apps, text.len() as f64 / 1e6);
    println!();
    println!("Machine: {} cores, {}; ready (every collector polled once) after {ready_after:.0} s.", num_cpus(), cpu_model());
    println!("Collectors of every app, each polling every minute: {}.", names.join(", "));
    if let Some(bin) = &a.exporter {
        println!("Exporter: {bin} (not this build).");
    }
    println!();
    println!("| measure | wechat-exporter | node_exporter textfile | ratio |");
    println!("|---|---|---|---|");
    let ratio = |n: f64, o: f64| if o > 0.0 { format!("{:.0}x", n / o) } else { "-".into() };
    match &node_result {
        Some((ne_plain, ne_gz, ne_conc, ne_rss, again, again_gz)) => {
            println!("| median scrape, text (side by side) | {:.1} ms | {:.1} ms | {} |", again.median_ms, ne_plain.median_ms, ratio(ne_plain.median_ms, again.median_ms));
            println!("| median scrape, OpenMetrics + gzip (side by side) | {:.1} ms | {:.1} ms | {} |", again_gz.median_ms, ne_gz.median_ms, ratio(ne_gz.median_ms, again_gz.median_ms));
            println!("| p90 scrape, 50 (node_exporter: 10) concurrent, gzip | {:.1} ms | {:.1} ms | {} |", conc.p90_ms, ne_conc.p90_ms, ratio(ne_conc.p90_ms, conc.p90_ms));
            println!("| resident memory | {:.0} MB (max over soak) | {:.0} MB (max while scraped) | {} |", rss_max, ne_rss, ratio(*ne_rss, rss_max));
        }
        None => println!("| node_exporter | not run | | |"),
    }
    println!();
    println!("| measure | value | target |");
    println!("|---|---|---|");
    println!("| median scrape, text, alone | {:.1} ms (p90 {:.1}), {:.1} MB | ≤ 20 ms |", plain.median_ms, plain.p90_ms, plain.bytes as f64 / 1e6);
    println!("| median scrape, OpenMetrics + gzip, alone | {:.1} ms (p90 {:.1}), {:.1} MB | ≤ 20 ms |", gz.median_ms, gz.p90_ms, gz.bytes as f64 / 1e6);
    println!("| {} concurrent scrapers, gzip | median {:.1} ms, p90 {:.1} ms | |", a.concurrency, conc.median_ms, conc.p90_ms);
    println!("| WeChat calls a second during those scrapes / during the soak | {call_rate_during:.0} / {call_rate:.0} | polling not held up |");
    println!("| median scrape during the soak, gzip | {:.1} ms (p90 {:.1}) | ≤ 50 ms |", soak.median_ms, soak.p90_ms);
    println!("| resident memory over a {} s soak | start {rss_first:.0} MB, end {rss_last:.0} MB, max {rss_max:.0} MB; second half {half_growth:+.1} MB | ≤ 100 MB, flat |", a.soak);
    println!(
        "| CPU per 1,000 WeChat calls: first full round / soak | {:.3} s ({round_calls:.0} calls) / {cpu_per_1000:.3} s | |",
        round_cpu / (round_calls / 1000.0)
    );
    println!("| TCP connections to WeChat (simulator) at the end | {conns} | pooled: ≤ 64 |");
    println!();
    println!("Memory samples (s, MB): {}", rss.iter().map(|(t, m)| format!("{t}:{m:.0}")).collect::<Vec<_>>().join(" "));
    let _ = std::fs::remove_dir_all(&dir);
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())))
        .unwrap_or_else(|| "unknown CPU".into())
}
