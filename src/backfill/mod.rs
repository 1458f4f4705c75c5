//! `wechat-exporter backfill`: a year of history on day one.
//!
//! Asks every daily collector of every configured app (or the named ones) for each
//! day of a range, and writes OpenMetrics with timestamps for
//! `promtool tsdb create-blocks-from openmetrics`. Day D's values are written every
//! `--step` over [D+1 00:00, D+2 00:00) UTC+8, as a live exporter would have served
//! them, with `wechat_data_date_timestamp_seconds` and `wechat_app_info` alongside,
//! so dashboards show history and live data the same way.

pub mod args;
pub mod openmetrics;
pub mod pace;
pub mod progress;
pub mod report;
pub mod sources;
pub mod window;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

pub use args::BackfillArgs;
use openmetrics::Spool;
use pace::Pacer;
use progress::Progress;
pub use report::Report;
use report::{Stop, Tally};
use sources::Source;
use window::Window;

use crate::collectors::Output;
use crate::config::{AppConfig, Config};
use crate::cst;
use crate::store::Sample;
use crate::telemetry::{self, Live};
use crate::wechat::client::{DAILY_QUOTA, MINUTE_QUOTA};
use crate::wechat::{AppClient, WechatClient, WechatError};

/// Failed days in a row after which a collector is given up for the run: the cause
/// (bad credentials, an API the app may not use) will not go away by asking again.
const GIVE_UP_AFTER: usize = 3;
/// Times one day is asked again after WeChat's per-minute quota (45011).
const MINUTE_QUOTA_RETRIES: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// `--from`/`--to` that cannot be asked for.
    #[error("{0}")]
    Range(String),
    /// `--app` naming no configured app.
    #[error("{0}")]
    Apps(String),
    #[error("cannot set up the WeChat client: {0}")]
    Client(WechatError),
    #[error("writing the output: {0}")]
    Io(#[from] std::io::Error),
}

/// The apps to backfill: the named ones, in the order named, or all of them.
fn pick<'a>(config: &'a Config, names: &[String]) -> Result<Vec<&'a AppConfig>, BackfillError> {
    if names.is_empty() {
        return Ok(config.apps.iter().collect());
    }
    let mut out: Vec<&AppConfig> = Vec::new();
    for name in names {
        match config.apps.iter().find(|a| &*a.name == name.as_str()) {
            Some(a) if !out.iter().any(|b| b.name == a.name) => out.push(a),
            Some(_) => {}
            None => {
                let known: Vec<&str> = config.apps.iter().take(20).map(|a| &*a.name).collect();
                let more = if config.apps.len() > known.len() { ", …" } else { "" };
                return Err(BackfillError::Apps(format!(
                    "--app {name:?}: no app of that name in the config (apps: {}{more})",
                    known.join(", ")
                )));
            }
        }
    }
    Ok(out)
}

/// Adds the `--label`s to each sample, except where it has a label of that name.
fn relabel(samples: &mut [Sample], extra: &[(String, String)]) {
    for s in samples {
        for (k, v) in extra {
            if !s.labels.iter().any(|(have, _)| have == k) {
                s.labels.push((k.clone().into(), v.clone()));
            }
        }
    }
}

/// Requests an app's client has sent so far, token requests included.
fn requests_made(client: &AppClient) -> u64 {
    client
        .telemetry
        .samples()
        .iter()
        .filter(|s| s.desc == telemetry::API_REQUESTS || s.desc == telemetry::TOKEN_REFRESHES)
        .map(|s| s.value as u64)
        .sum()
}

/// One collector of the app being backfilled.
struct Running {
    source: Source,
    tally: Tally,
    failed_in_a_row: usize,
}

/// Asks `source` for `day` at the paced rate. A spent minute quota is waited out
/// and the day asked again; anything else is the caller's to judge.
async fn ask(source: &Source, client: &AppClient, day: NaiveDate, pacer: &mut Pacer) -> Result<Option<Output>, WechatError> {
    let mut attempt = 0;
    loop {
        let started = pacer.ready().await;
        let before = requests_made(client);
        let result = source.day(client, day).await;
        pacer.spent(started, requests_made(client).saturating_sub(before));
        match result {
            Err(e) if e.errcode() == Some(MINUTE_QUOTA) && attempt < MINUTE_QUOTA_RETRIES => {
                attempt += 1;
                // The client answers a spent quota with how long it has left.
                if let WechatError::Backoff { wait, .. } = &e {
                    tokio::time::sleep(*wait + Duration::from_millis(100)).await;
                }
            }
            other => return other,
        }
    }
}

/// Backfills `args`'s range for the apps of `config`, writing OpenMetrics to `out`.
/// `now` bounds the range (yesterday at the latest) and the last window (nothing
/// after it). What could not be written is in the report, not an error.
pub async fn run<W: Write>(config: &Config, args: &BackfillArgs, now: DateTime<Utc>, out: W) -> Result<Report, BackfillError> {
    let (from, to) = args.days(now)?;
    let apps = pick(config, &args.apps)?;
    let client = Arc::new(WechatClient::new(config.wechat.client.clone(), Arc::new(Live::default())).map_err(BackfillError::Client)?);
    let step = args.step.as_secs() as i64;
    let now_ts = now.timestamp();
    let day_count = window::days(from, to).count() as u64;
    let whole = Window::span(Window::day(from), Window::day(to)).until(now_ts);

    let mut report = Report {
        from: Some(from),
        to: Some(to),
        step_secs: args.step.as_secs(),
        apps: apps.len(),
        ..Report::default()
    };
    let mut spool = Spool::new(std::env::temp_dir());
    let progress = Progress::new(day_count * apps.len() as u64);
    let mut pacer = Pacer::new(args.rate);

    for (seq, app) in apps.iter().enumerate() {
        let seq = seq as u32;
        let app_client = AppClient::new(app.name.clone(), client.clone(), app.credential.clone());
        let mut running = Vec::new();
        for c in app.collectors.iter() {
            match Source::for_config(c, &app_client) {
                Some(source) => running.push(Running { source, tally: Tally::new(&app.name, c.spec.name()), failed_in_a_row: 0 }),
                None => report.left_out.push((app.name.to_string(), c.spec.name())),
            }
        }
        if running.is_empty() {
            progress.skip(day_count);
            continue;
        }
        // The app's info over the whole range, as a live exporter serves it: dashboards
        // list apps from it.
        let mut info = [Sample::new(&telemetry::APP_INFO, 1.0).label("appid", app.appid.clone()).label("account", app.account.as_str())];
        relabel(&mut info, &args.labels);
        spool.add(seq, &app.name, whole, &info)?;

        for day in window::days(from, to) {
            progress.at(format!("{} {day}", app.name));
            for r in running.iter_mut().filter(|r| r.tally.stopped.is_none()) {
                let name = r.tally.collector;
                match ask(&r.source, &app_client, day, &mut pacer).await {
                    Ok(Some(Output { mut samples, data_date })) => {
                        r.failed_in_a_row = 0;
                        // A week or month that began before the range is not one of its
                        // complete periods: the days that would serve it are left out.
                        if data_date.is_some_and(|d| d < from) {
                            r.tally.earlier += 1;
                            continue;
                        }
                        if let Some(date) = data_date {
                            samples.push(Sample::new(&telemetry::DATA_DATE, cst::day_start(date) as f64).label("collector", name));
                        }
                        relabel(&mut samples, &args.labels);
                        spool.add(seq, &app.name, Window::day(day).until(now_ts), &samples)?;
                        r.tally.written += 1;
                    }
                    Ok(None) => {
                        r.tally.no_data.push(day);
                        r.failed_in_a_row = 0;
                    }
                    Err(e) => {
                        let left = window::days(day, to).count() as u64;
                        if e.errcode() == Some(DAILY_QUOTA) {
                            let why = "WeChat's daily quota for this API is used up (errcode 45009)".to_string();
                            progress.say(&format!(
                                "app {}: {name}: {why} at {day}; {name} stops here and {left} days are not written, the rest goes on. \
                                 Run again after 00:00 UTC+8 with --from {day} --to {to} --app {}",
                                app.name, app.name
                            ));
                            r.tally.stopped = Some(Stop { at: day, left, why });
                            continue;
                        }
                        progress.say(&format!("app {}: {name}: {day} failed: {e}", app.name));
                        r.tally.failed.push((day, e.to_string()));
                        r.failed_in_a_row += 1;
                        if r.failed_in_a_row >= GIVE_UP_AFTER && left > 1 {
                            let why = format!("gave up after {GIVE_UP_AFTER} failed days in a row");
                            progress.say(&format!("app {}: {name}: {why}; the rest goes on", app.name));
                            r.tally.stopped = Some(Stop { at: day + chrono::Duration::days(1), left: left - 1, why });
                        }
                    }
                }
            }
            progress.day_done();
        }
        report.tallies.extend(running.into_iter().map(|r| r.tally));
    }
    progress.finish();
    report.written = spool.write_to(out, step)?;
    Ok(report)
}

/// A backfill stopped by a signal: the days wait in the spool until the end, so
/// nothing (or, while writing, a file without `# EOF`, which promtool refuses) went out.
pub fn interrupted() -> std::process::ExitCode {
    eprintln!("backfill: stopped by a signal before the output was complete; run it again");
    std::process::ExitCode::FAILURE
}

/// The subcommand: OpenMetrics to stdout, the summary to stderr. Succeeds when every
/// day asked for was written or had no data at WeChat.
pub async fn command(config: &Config, args: &BackfillArgs) -> Result<std::process::ExitCode, BackfillError> {
    let report = run(config, args, Utc::now(), std::io::stdout()).await?;
    eprint!("{}", report.summary());
    Ok(if report.complete() { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE })
}
