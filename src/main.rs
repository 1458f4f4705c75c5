use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use tokio::sync::mpsc;
use tracing_subscriber::prelude::*;

use wechat_exporter::args::{listen_addr, Args, Command, LogFormat, LogLevel};
use wechat_exporter::config::{self, Config};
use wechat_exporter::scheduler::{self, Scheduler, Shared};
use wechat_exporter::simulator::{self, Simulator};
use wechat_exporter::exposition::{self, Format};
use wechat_exporter::store::Store;
use wechat_exporter::telemetry::Live;
use wechat_exporter::web::{self, ReloadRequest, ServeLimits, WebState};
use wechat_exporter::web_config::{self, WebConfigSource};

fn main() -> ExitCode {
    wechat_exporter::malloc::configure();
    let args = Args::parse();
    init_logging(&args);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match rt.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "exiting");
            eprintln!("wechat-exporter: {e:#}");
            ExitCode::FAILURE
        }
    };
    // A config load cut short by SIGTERM may still be running: do not wait for it.
    rt.shutdown_timeout(Duration::from_secs(1));
    code
}

fn init_logging(args: &Args) {
    let level = match args.log_level {
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Error => tracing::Level::ERROR,
    };
    // Our own events at the chosen level; the libraries' only when they warn.
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("wechat_exporter", level)
        .with_default(tracing::Level::WARN.min(level));
    let registry = tracing_subscriber::registry().with(filter);
    match args.log_format {
        LogFormat::Json => registry.with(tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr)).init(),
        LogFormat::Logfmt => registry.with(tracing_logfmt::builder().layer().with_writer(std::io::stderr)).init(),
    }
}

/// Where the config comes from: a file, or the demo's simulator.
struct Source {
    args: Args,
    demo: Option<(Simulator, String)>,
}

impl Source {
    /// Loads the config and keeps this shard's apps.
    fn load(&self) -> Result<Config, config::ConfigError> {
        let (mut config, file) = match &self.demo {
            Some((_, text)) => (config::parse(text, "<demo>", &|_| None)?, "<demo>".to_string()),
            None => (config::load(&self.args.config_file)?, self.args.config_file.display().to_string()),
        };
        let all = config.apps.len();
        config.shard(self.args.shard_count, self.args.shard_index).map_err(|message| config::ConfigError {
            file,
            line: None,
            key: "--shard.index".into(),
            message,
        })?;
        if self.args.shard_count > 1 {
            tracing::info!(
                shard = self.args.shard_index,
                shards = self.args.shard_count,
                apps = config.apps.len(),
                of = all,
                "polling this shard's share of the apps"
            );
        }
        Ok(config)
    }

    fn file(&self) -> String {
        match &self.demo {
            Some(_) => "<demo>".into(),
            None => self.args.config_file.display().to_string(),
        }
    }
}

/// Longer than any sane config takes (100,000 apps load in a few seconds), short
/// enough that a stuck file is reported rather than waited on for ever.
const CONFIG_LOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// Loads the config on a blocking thread, within [`CONFIG_LOAD_TIMEOUT`]: never on
/// the task that answers signals, so SIGTERM works while a big config loads.
async fn load(source: &Arc<Source>) -> Result<Config, config::ConfigError> {
    let s = source.clone();
    let failed = |message: String| config::ConfigError { file: source.file(), line: None, key: String::new(), message };
    match tokio::time::timeout(CONFIG_LOAD_TIMEOUT, tokio::task::spawn_blocking(move || s.load())).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(failed("loading the config failed unexpectedly".into())),
        Err(_) => Err(failed(format!(
            "loading did not finish within {}s; is a file it names stuck (a hung mount)?",
            CONFIG_LOAD_TIMEOUT.as_secs()
        ))),
    }
}

async fn run(args: Args) -> Result<ExitCode> {
    let demo = if args.demo {
        let apps = simulator::demo_apps();
        let sim = Simulator::start(simulator::Options::new(apps.clone()))
            .await
            .context("starting the demo WeChat simulator")?;
        // A platform too, which the demo itself does not poll (it needs no Redis);
        // docs/platform.md shows how to poll it through a local redis-server.
        simulator::platform::install_demo(&sim);
        let text = simulator::demo_config(&sim.base_url(), &apps);
        tracing::info!(address = %sim.addr, "demo: WeChat simulator started on loopback");
        Some((sim, text))
    } else {
        None
    };
    let source = Arc::new(Source { args: args.clone(), demo });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;

    let config = match tokio::select! {
        c = load(&source) => c,
        _ = term.recv() => return Ok(ExitCode::FAILURE),
        _ = tokio::signal::ctrl_c() => return Ok(ExitCode::FAILURE),
    } {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    if let Some(Command::Backfill(b)) = &args.command {
        // The signal handlers above stay installed: a stop must end the backfill here.
        return tokio::select! {
            code = wechat_exporter::backfill::command(&config, b) => Ok(code?),
            _ = term.recv() => Ok(wechat_exporter::backfill::interrupted()),
            _ = tokio::signal::ctrl_c() => Ok(wechat_exporter::backfill::interrupted()),
        };
    }
    if args.config_check {
        if args.shard_count > 1 {
            println!("shard {} of {}: {} apps", args.shard_index, args.shard_count, config.apps.len());
        }
        print!("{}", config.summary());
        println!("config OK");
        return Ok(ExitCode::SUCCESS);
    }

    let shared = Shared::new(Arc::new(Store::new()), Arc::new(Live::default()), scheduler::system_clock());

    if args.once {
        let failures = scheduler::poll_once(shared.clone(), &config).await?;
        let body = exposition::render(&shared.store, &shared.live, Format::Text);
        use std::io::Write as _;
        std::io::stdout().write_all(&body)?;
        for (app, collector, e) in &failures {
            eprintln!("app {app}: collector {collector} failed: {e}");
        }
        return Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }

    let addr = listen_addr(&args.listen_address).map_err(anyhow::Error::msg)?;
    let web_config = match &args.web_config_file {
        Some(path) => WebConfigSource::load(path)?,
        None => WebConfigSource::disabled(),
    };
    let auth_concurrency = args.auth_concurrency.map_or_else(web_config::default_auth_concurrency, |n| n as usize);
    let web_config = Arc::new(web_config.with_auth_concurrency(auth_concurrency));
    let limits = ServeLimits {
        max_connections: args.max_connections as usize,
        header_read_timeout: args.header_read_timeout,
        // The TLS hello is the first thing a client sends, as the headers are on plain HTTP.
        tls_handshake_timeout: args.header_read_timeout,
        ..ServeLimits::default()
    };
    let grace = limits.shutdown_grace;
    let mut sched = Scheduler::new(shared.clone());
    let mut platform_changes = sched.changes().context("the scheduler's discovery channel")?;
    sched.apply(&config).context("starting the pollers")?;
    wechat_exporter::malloc::start_trimming();
    let apps = Arc::new(std::sync::RwLock::new(app_list(&config)));
    let (reload_tx, mut reload_rx) = mpsc::channel::<ReloadRequest>(4);
    let state = WebState {
        shared: shared.clone(),
        telemetry_path: args.telemetry_path.clone(),
        reload: reload_tx,
        apps: apps.clone(),
        web_config: web_config.clone(),
    };
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
    let scheme = if web_config.current().tls.is_some() { "https" } else { "http" };
    tracing::info!(address = %listener.local_addr()?, scheme, apps = config.apps.len(), "serving metrics");
    // The scheduler keeps what it needs of each app: at 10,000 apps this copy is 5 MB.
    drop(config);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(web::serve(listener, web::router(state), web_config, limits, stop_rx));

    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    loop {
        let answer = tokio::select! {
            _ = hup.recv() => None,
            req = reload_rx.recv() => req,
            Some(()) = platform_changes.recv() => {
                // A burst of discoveries is one sync.
                while platform_changes.try_recv().is_ok() {}
                sched.sync();
                continue;
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        // The load runs elsewhere; this task keeps listening for SIGTERM meanwhile.
        let loaded = tokio::select! {
            c = load(&source) => c,
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        let result = match loaded {
            Ok(new) => {
                for w in &new.warnings {
                    tracing::warn!("{w}");
                }
                match sched.apply(&new) {
                    Ok(()) => {
                        *apps.write().unwrap_or_else(|e| e.into_inner()) = app_list(&new);
                        tracing::info!(apps = new.apps.len(), "config reloaded");
                        Ok(())
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "config reload failed; the old config stays in force");
                Err(e.to_string())
            }
        };
        if let Some(tx) = answer {
            let _ = tx.send(result);
        }
    }
    tracing::info!("shutting down");
    sched.shutdown();
    let _ = stop_tx.send(true);
    // The server lets requests in flight finish within its grace period, then returns.
    match tokio::time::timeout(grace + Duration::from_secs(1), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "server stopped with an error"),
        Ok(Err(e)) => tracing::warn!(error = %e, "server task failed"),
        Err(_) => tracing::warn!("the server did not stop in time; stopping anyway"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The landing page's list: the configured apps, and each platform (its apps are
/// found by discovery, and show in the collectors' table).
fn app_list(config: &Config) -> Vec<(String, String, String)> {
    let apps = config.apps.iter().map(|a| (a.name.to_string(), a.appid.clone(), a.account.as_str().to_string()));
    let platforms = config.platforms.iter().map(|p| {
        let s = &p.settings;
        let what = format!("platform: apps discovered every {}, tokens from Redis {}", humantime::format_duration(s.discover), s.redis.shown());
        (s.name.to_string(), s.component_appid.clone(), what)
    });
    apps.chain(platforms).collect()
}
