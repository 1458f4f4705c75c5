//! Backfill benchmark: the real binary (release build) backfills one app over a range of days
//! from the simulator, writing to a file, then promtool turns that file into blocks.
//!
//!     cargo bench --bench backfill -- --days 365
//!     cargo bench --bench backfill -- --days 365 --promtool   # also time promtool
//!
//! For each account kind (a mini program with its default daily collectors, an Official
//! Account with the interface summary and its 24 hours) it runs 30 days and then `--days`
//! days, so the two peak memories can be compared within one run: a flat writer keeps them
//! close. The request rate is raised (`--rate 1000`) so the time measured is the exporter's,
//! not the pacing's; the report also says how long the default rate would take.
//! Prints a Markdown report (the source of BENCHMARKS.md).

use std::process::{Command, Stdio};
use std::time::Instant;

use chrono::{Duration, Utc};
use wechat_exporter::collectors::{Account, COLLECTORS};
use wechat_exporter::cst;
use wechat_exporter::simulator::{Options, SimApp, Simulator};


struct Run {
    /// The collectors that wrote days, from the summary.
    collectors: Vec<String>,
    seconds: f64,
    peak_rss_mb: f64,
    bytes: u64,
    samples: u64,
    requests: usize,
}

/// Runs `cmd` to its end: whether it succeeded, its wall time in seconds and its own peak
/// resident memory in MB (from wait4, so each run is measured alone).
fn measured(cmd: &mut Command) -> (bool, f64, f64) {
    let started = Instant::now();
    let child = cmd.spawn().expect("the command starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 fills the status and the struct it is given and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let seconds = started.elapsed().as_secs_f64();
    // Reaped by wait4 already: the handle has nothing left to wait for.
    drop(child);
    let ok = waited == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (ok, seconds, usage.ru_maxrss as f64 / 1024.0)
}

/// Backfills `days` days ending yesterday for `app` and measures the binary. Each run is a
/// fresh child, so the peak is the largest run's: runs go smallest first.
fn backfill(sim: &Simulator, app: &SimApp, days: i64, dir: &std::path::Path) -> Run {
    let config = dir.join(format!("{}.yml", app.name));
    let mut text = format!("wechat:\n  base_url: {}\n  timeout: 10s\napps:\n", sim.base_url());
    text.push_str(&app.config_entry());
    std::fs::write(&config, text).unwrap();
    let to = cst::yesterday(Utc::now());
    let from = to - Duration::days(days - 1);
    let out = dir.join(format!("{}-{days}.om", app.name));
    let log = dir.join(format!("{}-{days}.log", app.name));
    let (ok, seconds, peak_rss_mb) = measured(
        Command::new(env!("CARGO_BIN_EXE_wechat-exporter"))
            .arg("--config.file")
            .arg(&config)
            .args(["--log.level", "warn", "backfill", "--from", &from.to_string(), "--to", &to.to_string(), "--rate", "1000"])
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(ok, "backfill failed: {stderr}");
    let samples = stderr
        .lines()
        .find_map(|l| l.strip_prefix("wrote ")?.split(' ').next()?.parse().ok())
        .unwrap_or(0);
    let prefix = format!("  {} ", app.name);
    let collectors = stderr
        .lines()
        .filter(|l| l.contains(" written"))
        .filter_map(|l| l.strip_prefix(&prefix)?.split(':').next().map(str::to_string))
        .collect();
    Run {
        collectors,
        seconds,
        peak_rss_mb,
        bytes: std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0),
        samples,
        requests: 0,
    }
}

/// Times `promtool tsdb create-blocks-from openmetrics` on `file` with the given largest
/// block (None: promtool's default, 2h): seconds, peak RSS in MB, blocks made.
fn promtool(file: &std::path::Path, max_block: Option<&str>) -> (f64, f64, usize) {
    let blocks = file.with_extension(format!("blocks-{}", max_block.unwrap_or("2h")));
    let _ = std::fs::remove_dir_all(&blocks);
    let mut cmd = Command::new("promtool");
    cmd.args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"]);
    if let Some(max) = max_block {
        cmd.arg(format!("--max-block-duration={max}"));
    }
    let (ok, seconds, rss) = measured(cmd.arg(file).arg(&blocks).stdout(Stdio::null()));
    assert!(ok, "promtool failed on {}", file.display());
    let n = std::fs::read_dir(&blocks).map(|d| d.count()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&blocks);
    (seconds, rss, n)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let days: i64 = argv.iter().position(|a| a == "--days").and_then(|i| argv.get(i + 1)?.parse().ok()).unwrap_or(365);
    let with_promtool = argv.iter().any(|a| a == "--promtool");

    let mp = SimApp::new("shop", "wxbench000shop01", Account::Miniprogram);
    let oa = SimApp::new("news", "wxbench000news01", Account::OfficialAccount);
    let sim = Simulator::start(Options::new(vec![mp.clone(), oa.clone()])).await.expect("simulator starts");
    // WeChat requests the simulator has answered, to every collector's API (tokens aside).
    let api_calls = || {
        COLLECTORS.iter().flat_map(|k| k.routes()).map(|r| sim.calls(r.api.path).len()).sum::<usize>()
    };
    let dir = std::env::temp_dir().join(format!("wechat-exporter-bench-backfill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    println!("## Backfill: one app, {days} days, a sample every 5m\n");
    println!("| app | collectors (its defaults) | days | requests | time | peak RSS | output | samples |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut files = Vec::new();
    for (app, label) in [(&mp, "mini program"), (&oa, "Official Account")] {
        for n in [30, days] {
            let before = api_calls();
            let mut run = tokio::task::block_in_place(|| backfill(&sim, app, n, &dir));
            run.requests = api_calls() - before;
            println!(
                "| {label} | {} | {n} | {} | {:.1} s | {:.1} MB | {:.1} MB ({:.0} KB a day) | {} |",
                run.collectors.join(", "),
                run.requests,
                run.seconds,
                run.peak_rss_mb,
                run.bytes as f64 / 1e6,
                run.bytes as f64 / 1e3 / n as f64,
                run.samples
            );
            if n == days {
                files.push((label, app.name.clone(), run.requests));
            }
        }
    }
    println!();
    for (label, _, requests) in &files {
        println!(
            "At the default `--rate 10`, the {label}'s {requests} requests take at least {:.0} s.",
            *requests as f64 / 10.0
        );
    }
    if with_promtool {
        // promtool reads the file once per block: its default 2h blocks on 30 days, against
        // 486h blocks on 30 and on all the days.
        println!("\n| promtool create-blocks-from openmetrics | days | largest block | time | peak RSS | blocks |");
        println!("|---|---|---|---|---|---|");
        for (label, app, _) in &files {
            for (n, max) in [(30, None), (30, Some("486h")), (days, Some("486h"))] {
                let (secs, rss, blocks) = promtool(&dir.join(format!("{app}-{n}.om")), max);
                println!("| {label} | {n} | {} | {secs:.1} s | {rss:.0} MB | {blocks} |", max.unwrap_or("2h (default)"));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
