//! `--config.check` at scale: how long the real binary (release build) takes to
//! parse, check and summarise a config of many apps.
//!
//!     cargo bench --bench config_check -- --apps 10000,100000
//!
//! Each app is a mini program with its own inline secret and the default
//! collectors; every tenth reads its secret from a file, and every fifth lists its
//! collectors. Prints a Markdown table (the source of BENCHMARKS.md). On a shared
//! machine the CPU time (from GNU time) says more than the wall time.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn config(apps: usize, dir: &std::path::Path) -> String {
    let secret = dir.join("secret");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef\n").unwrap();
    let mut out = String::with_capacity(apps * 160);
    out.push_str("wechat:\n  base_url: http://127.0.0.1:9\n  timeout: 5s\napps:\n");
    for i in 0..apps {
        out.push_str(&format!("  - name: app{i:06}\n    appid: wxbench{i:010}\n    account: miniprogram\n"));
        if i % 10 == 0 {
            out.push_str(&format!("    secret_file: {}\n", secret.display()));
        } else {
            out.push_str(&format!("    secret: s{i:031}\n"));
        }
        if i % 5 == 0 {
            out.push_str("    collectors:\n      visit_trend: {interval: 1h}\n      performance:\n        interval: 1h\n        queries: [{cost_time_type: startup}]\n");
        }
    }
    out
}

fn main() {
    let mut sizes = vec![10_000usize, 100_000];
    let argv: Vec<String> = std::env::args().collect();
    if let Some(i) = argv.iter().position(|a| a == "--apps")
        && let Some(list) = argv.get(i + 1)
    {
        sizes = list.split(',').filter_map(|n| n.trim().parse().ok()).collect();
    }
    let dir = std::env::temp_dir().join(format!("wechat-exporter-config-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!("| apps | config size | `--config.check` wall time (best of 3) | CPU time, user + system | peak RSS |");
    println!("|---|---|---|---|---|");
    for apps in sizes {
        let path = dir.join(format!("c{apps}.yml"));
        let text = config(apps, &dir);
        std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
        let mut best = Duration::MAX;
        let mut rss = String::from("?");
        let mut cpu = String::from("?");
        for _ in 0..3 {
            let started = Instant::now();
            // GNU time reports the peak RSS, when it is there.
            let time = std::path::Path::new("/usr/bin/time").exists();
            let mut cmd = if time {
                let mut c = Command::new("/usr/bin/time");
                c.args(["-f", "%U %S %M"]).arg(env!("CARGO_BIN_EXE_wechat-exporter"));
                c
            } else {
                Command::new(env!("CARGO_BIN_EXE_wechat-exporter"))
            };
            let out = cmd
                .args(["--config.check", "--log.level", "error", "--config.file"])
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
                .unwrap();
            let took = started.elapsed();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let stderr = String::from_utf8_lossy(&out.stderr);
            let fields: Vec<f64> = stderr.lines().last().unwrap_or("").split_whitespace().filter_map(|f| f.parse().ok()).collect();
            if time && fields.len() == 3 && took < best {
                cpu = format!("{:.2} s", fields[0] + fields[1]);
                rss = format!("{} MB", fields[2] as u64 / 1024);
            }
            best = best.min(took);
        }
        println!("| {apps} | {:.1} MB | {:.2} s | {cpu} | {rss} |", text.len() as f64 / 1e6, best.as_secs_f64());
    }
    std::fs::remove_dir_all(&dir).ok();
}
