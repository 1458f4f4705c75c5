//! The command line: Prometheus-style dotted flags, each also read from
//! `WECHAT_EXPORTER_<FLAG>` in the environment.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Logfmt,
    Json,
}

#[derive(Parser, Debug, Clone)]
#[command(name = "wechat-exporter", version, about = "Prometheus exporter for WeChat Mini Program and Official Account data APIs")]
pub struct Args {
    /// YAML config file.
    #[arg(long = "config.file", global = true, env = "WECHAT_EXPORTER_CONFIG_FILE", default_value = "wechat-exporter.yml")]
    pub config_file: PathBuf,

    /// Parse and validate the config, print what would be polled, and exit (no network).
    #[arg(long = "config.check", env = "WECHAT_EXPORTER_CONFIG_CHECK")]
    pub config_check: bool,

    /// Address to serve /metrics on.
    #[arg(long = "web.listen-address", env = "WECHAT_EXPORTER_WEB_LISTEN_ADDRESS", default_value = ":9767")]
    pub listen_address: String,

    /// Path under which metrics are served.
    #[arg(long = "web.telemetry-path", env = "WECHAT_EXPORTER_WEB_TELEMETRY_PATH", default_value = "/metrics", value_parser = telemetry_path)]
    pub telemetry_path: String,

    /// Web config (exporter-toolkit format): basic auth users and TLS.
    #[arg(long = "web.config.file", env = "WECHAT_EXPORTER_WEB_CONFIG_FILE")]
    pub web_config_file: Option<PathBuf>,

    /// Connections served at once (HTTP and TLS alike); further ones wait in the listen backlog.
    #[arg(long = "web.max-connections", env = "WECHAT_EXPORTER_WEB_MAX_CONNECTIONS", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Time a client has to send a request's headers (and the most a kept-alive connection idles).
    #[arg(long = "web.header-read-timeout", env = "WECHAT_EXPORTER_WEB_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub header_read_timeout: Duration,

    /// bcrypt password checks run at once; a request finding them all busy gets 429 at once.
    /// Default: half the CPU cores, at least 1.
    #[arg(long = "web.auth-concurrency", env = "WECHAT_EXPORTER_WEB_AUTH_CONCURRENCY", value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_concurrency: Option<u32>,

    /// Log level.
    #[arg(long = "log.level", global = true, env = "WECHAT_EXPORTER_LOG_LEVEL", value_enum, default_value = "info")]
    pub log_level: LogLevel,

    /// Log format.
    #[arg(long = "log.format", global = true, env = "WECHAT_EXPORTER_LOG_FORMAT", value_enum, default_value = "logfmt")]
    pub log_format: LogFormat,

    /// Start the built-in WeChat simulator on loopback and poll it: no config or credentials needed.
    #[arg(long = "demo", env = "WECHAT_EXPORTER_DEMO")]
    pub demo: bool,

    /// Poll every collector once, print the metrics to stdout, exit non-zero if any collector failed.
    #[arg(long = "once", env = "WECHAT_EXPORTER_ONCE")]
    pub once: bool,

    /// Split the apps over this many exporters, by a stable hash of the app name.
    #[arg(long = "shard.count", env = "WECHAT_EXPORTER_SHARD_COUNT", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub shard_count: u32,

    /// This exporter's share, 0 to shard.count-1. A StatefulSet pod name such as
    /// `wechat-exporter-2` is read as its ordinal, 2.
    #[arg(long = "shard.index", env = "WECHAT_EXPORTER_SHARD_INDEX", default_value = "0", value_parser = shard_index)]
    pub shard_index: u32,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do instead of serving /metrics.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// Write past days as OpenMetrics with timestamps, for `promtool tsdb create-blocks-from openmetrics`.
    Backfill(crate::backfill::BackfillArgs),
}

/// A path for the metrics that no other endpoint uses and that routes as it reads.
fn telemetry_path(s: &str) -> Result<String, String> {
    let path = if s.starts_with('/') { s.to_string() } else { format!("/{s}") };
    if ["/", "/healthz", "/readyz", "/-/reload"].contains(&path.as_str()) {
        return Err(format!("{path} is another endpoint; choose a path of its own, such as /metrics"));
    }
    if path.contains(['{', '}', ':', '*', '?', '#']) || path.contains("//") {
        return Err(format!("{path:?} is not a plain path; use letters, digits, '-', '_' and '/'"));
    }
    Ok(path)
}

/// A humantime duration above zero, such as `10s`.
fn positive_duration(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s.trim()) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("must be more than zero".into()),
        Err(e) => Err(format!("{s:?} is not a duration ({e}); write it like 10s")),
    }
}

/// A shard index: a number, or a name ending in `-<number>` (a StatefulSet pod's hostname).
fn shard_index(s: &str) -> Result<u32, String> {
    let s = s.trim();
    s.parse()
        .ok()
        .or_else(|| s.rsplit('-').next().and_then(|n| n.parse().ok()))
        .ok_or_else(|| format!("{s:?} is neither a number nor a name ending in -<number>"))
}

/// Reads `:9767` as every interface, as node_exporter does.
pub fn listen_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    let full = if s.starts_with(':') { format!("0.0.0.0{s}") } else { s.to_string() };
    full.parse().map_err(|_| format!("--web.listen-address {s:?} is not HOST:PORT or :PORT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_defaults() {
        let a = Args::try_parse_from(["wechat-exporter", "--config.file", "x.yml", "--log.level", "debug"]).unwrap();
        assert_eq!(a.config_file, PathBuf::from("x.yml"));
        assert_eq!(a.log_level, LogLevel::Debug);
        assert_eq!(a.listen_address, ":9767");
        assert_eq!(a.telemetry_path, "/metrics");
        assert!(Args::try_parse_from(["wechat-exporter", "--log.level", "loud"]).is_err());
    }

    #[test]
    fn web_limits() {
        let a = Args::try_parse_from(["wechat-exporter"]).unwrap();
        assert_eq!((a.max_connections, a.header_read_timeout, a.auth_concurrency), (512, Duration::from_secs(10), None));
        let a = Args::try_parse_from([
            "wechat-exporter",
            "--web.max-connections",
            "20",
            "--web.header-read-timeout",
            "1500ms",
            "--web.auth-concurrency",
            "3",
        ])
        .unwrap();
        assert_eq!((a.max_connections, a.header_read_timeout, a.auth_concurrency), (20, Duration::from_millis(1500), Some(3)));
        for bad in [["--web.max-connections", "0"], ["--web.header-read-timeout", "0s"], ["--web.auth-concurrency", "0"], ["--web.header-read-timeout", "soon"]] {
            assert!(Args::try_parse_from(["wechat-exporter", bad[0], bad[1]]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn shard_index_from_a_number_or_a_pod_name() {
        let a = |v: &str| Args::try_parse_from(["wechat-exporter", "--shard.count", "3", "--shard.index", v]);
        assert_eq!(a("2").unwrap().shard_index, 2);
        assert_eq!(a("wechat-exporter-1").unwrap().shard_index, 1);
        assert!(a("wechat-exporter").is_err());
        assert!(Args::try_parse_from(["wechat-exporter", "--shard.count", "0"]).is_err());
    }

    #[test]
    fn telemetry_paths_that_would_clash_are_refused() {
        let p = |v: &str| Args::try_parse_from(["wechat-exporter", "--web.telemetry-path", v]).map(|a| a.telemetry_path);
        assert_eq!(p("/metrics").unwrap(), "/metrics");
        assert_eq!(p("wechat/metrics").unwrap(), "/wechat/metrics");
        for bad in ["/", "", "/healthz", "/readyz", "/-/reload", "/x/:id", "/x/{id}", "/*"] {
            assert!(p(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(listen_addr(":9767").unwrap().port(), 9767);
        assert_eq!(listen_addr("127.0.0.1:1").unwrap().to_string(), "127.0.0.1:1");
        assert!(listen_addr("nowhere").is_err());
    }
}
