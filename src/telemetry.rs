//! The exporter's own metrics: per-app request and token counters (stored as a
//! part of each app, refreshed after each poll), and the process-wide families
//! (build info, the latency histogram, the process metrics) in a prometheus-client
//! registry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::exposition::Format;
use crate::store::{Desc, Sample};

pub const APP_INFO: Desc = Desc::gauge("wechat_app_info", "The configured WeChat app: always 1.");
pub const DATA_DATE: Desc = Desc::gauge(
    "wechat_data_date_timestamp_seconds",
    "Start (00:00 UTC+8) of the day the collector's daily values belong to.",
);
pub const COLLECTOR_UP: Desc =
    Desc::gauge("wechat_exporter_collector_up", "1 if the collector's last poll succeeded.");
pub const COLLECTOR_INTERVAL: Desc = Desc::gauge(
    "wechat_exporter_collector_interval_seconds",
    "The collector's configured polling interval, so rules can weigh a last success's age against it.",
);
pub const LAST_SUCCESS: Desc = Desc::gauge(
    "wechat_exporter_collector_last_success_timestamp_seconds",
    "Unix time of the collector's last successful poll.",
);
pub const API_REQUESTS: Desc =
    Desc::counter("wechat_exporter_api_requests", "Requests sent to WeChat, by app and API.");
pub const API_FAILURES: Desc =
    Desc::counter("wechat_exporter_api_failures", "WeChat requests that failed, by app, API and reason.");
pub const PLATFORM_AUTHORIZERS: Desc = Desc::gauge(
    "wechat_exporter_platform_authorizers",
    "Apps the platform's last successful discovery found that this exporter polls.",
);
pub const TOKEN_REFRESHES: Desc =
    Desc::counter("wechat_exporter_token_refreshes", "access_token fetches from WeChat.");
pub const TOKEN_REFRESH_FAILURES: Desc =
    Desc::counter("wechat_exporter_token_refresh_failures", "access_token fetches that failed.");

// The process-wide families (name, HELP): prometheus-client adds the HELP's final period.
const BUILD_INFO: (&str, &str) = ("wechat_exporter_build_info", "The exporter's version and revision: always 1");
const API_DURATION: (&str, &str) =
    ("wechat_exporter_api_request_duration_seconds", "Time taken by WeChat requests, by API");

/// Request-duration buckets, in seconds: WeChat answers in tens of milliseconds
/// when well and takes seconds when not.
const BUCKETS: [f64; 10] = [0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// One app's counters. Kept by the app's client, so they survive a reload that
/// leaves the app as it was. An app calls a handful of APIs, so short lists do
/// (a `BTreeMap` node would take 280 bytes for three counters, at 10,000 apps 3 MB).
#[derive(Default)]
pub struct AppTelemetry {
    requests: Mutex<Vec<(&'static str, u64)>>,
    failures: Mutex<Vec<((&'static str, String), u64)>>,
    token_refreshes: AtomicU64,
    token_refresh_failures: AtomicU64,
}

impl AppTelemetry {
    pub fn request(&self, api: &'static str) {
        bump(&mut self.requests.lock().unwrap_or_else(|e| e.into_inner()), api);
    }

    pub fn failure(&self, api: &'static str, reason: String) {
        bump(&mut self.failures.lock().unwrap_or_else(|e| e.into_inner()), (api, reason));
    }

    pub fn token_refresh(&self, ok: bool) {
        self.token_refreshes.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.token_refresh_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The app's counters as samples (the store adds `app`), in label order.
    pub fn samples(&self) -> Vec<Sample> {
        let mut out = Vec::new();
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone();
        requests.sort_unstable();
        for (api, n) in &requests {
            out.push(Sample::new(&API_REQUESTS, *n as f64).label("api", *api));
        }
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner()).clone();
        failures.sort_unstable();
        for ((api, reason), n) in &failures {
            out.push(Sample::new(&API_FAILURES, *n as f64).label("api", *api).label("reason", reason.clone()));
        }
        out.push(Sample::new(&TOKEN_REFRESHES, self.token_refreshes.load(Ordering::Relaxed) as f64));
        out.push(Sample::new(&TOKEN_REFRESH_FAILURES, self.token_refresh_failures.load(Ordering::Relaxed) as f64));
        out
    }

    /// How many requests went to `api`, for tests.
    pub fn requests_to(&self, api: &str) -> u64 {
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        requests.iter().find(|(a, _)| *a == api).map_or(0, |(_, n)| *n)
    }
}

/// Adds one to the counter of `key`, making it when new. A new key takes room for
/// itself alone: the list lives as long as the app, and doubling would leave a fifth
/// API's counter with room for eight.
fn bump<K: PartialEq>(counters: &mut Vec<(K, u64)>, key: K) {
    match counters.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => {
            counters.reserve_exact(1);
            counters.push((key, 1));
        }
    }
}

type ApiLabel = [(&'static str, &'static str); 1];

/// The process-wide families, in a prometheus-client registry encoded at each scrape:
/// build info, the request-duration histogram and the process metrics. None is per
/// app, and they change with every request (or never), so the store does not keep them.
pub struct Live {
    registry: Registry,
    durations: Family<ApiLabel, Histogram>,
}

impl Default for Live {
    fn default() -> Live {
        let mut registry = Registry::default();
        let build = Family::<[(&'static str, &'static str); 2], Gauge>::default();
        build
            .get_or_create(&[
                ("version", env!("CARGO_PKG_VERSION")),
                ("revision", option_env!("WECHAT_EXPORTER_REVISION").unwrap_or("unknown")),
            ])
            .set(1);
        registry.register(BUILD_INFO.0, BUILD_INFO.1, build);
        let durations = Family::<ApiLabel, Histogram>::new_with_constructor(|| Histogram::new(BUCKETS));
        registry.register(API_DURATION.0, API_DURATION.1, durations.clone());
        #[cfg(target_os = "linux")]
        registry.register_collector(Box::new(crate::process::ProcessCollector));
        Live { registry, durations }
    }
}

impl Live {
    pub fn observe(&self, api: &'static str, took: Duration) {
        self.durations.get_or_create(&[("api", api)]).observe(took.as_secs_f64());
    }

    /// The families, in `format`; OpenMetrics ends in `# EOF`.
    pub fn encode(&self, format: Format) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = match format {
            Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry),
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &self.registry),
        };
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_in_both_formats() {
        let live = Live::default();
        live.observe("getPerformance", Duration::from_millis(30));
        live.observe("getPerformance", Duration::from_millis(700));
        let name = "wechat_exporter_api_request_duration_seconds";
        for format in [Format::Text, Format::OpenMetrics] {
            let out = live.encode(format);
            assert!(out.contains(&format!("# HELP {name} Time taken by WeChat requests, by API.\n")), "{out}");
            assert!(out.contains(&format!("# TYPE {name} histogram\n")), "{out}");
            // The value of the bucket with bound `le`, whatever the order of its labels.
            let bucket = |le: &str| {
                out.lines().find_map(|l| {
                    let rest = l.strip_prefix(&format!("{name}_bucket{{"))?;
                    let (labels, value) = rest.split_once("} ")?;
                    let mut labels: Vec<&str> = labels.split(',').collect();
                    labels.sort();
                    (labels == [r#"api="getPerformance""#, &format!("le=\"{le}\"")]).then(|| value.to_string())
                })
            };
            assert_eq!(bucket("0.025").as_deref(), Some("0"), "{out}");
            assert_eq!(bucket("0.05").as_deref(), Some("1"), "{out}");
            // A whole bound is written as client_golang writes it in each format.
            assert_eq!(bucket(if format == Format::Text { "1" } else { "1.0" }).as_deref(), Some("2"), "{out}");
            assert_eq!(bucket("+Inf").as_deref(), Some("2"), "{out}");
            assert!(out.contains(&format!("{name}_count{{api=\"getPerformance\"}} 2\n")), "{out}");
            assert!(out.contains(&format!("{name}_sum{{api=\"getPerformance\"}} 0.73")), "{out}");
            assert!(out.contains("# HELP wechat_exporter_build_info The exporter's version and revision: always 1.\n"), "{out}");
            assert!(out.contains("# TYPE wechat_exporter_build_info gauge\n"), "{out}");
            let build = format!("wechat_exporter_build_info{{version=\"{}\",revision=\"", env!("CARGO_PKG_VERSION"));
            assert!(out.lines().any(|l| l.starts_with(&build) && l.ends_with("\"} 1")), "{out}");
        }
        assert!(live.encode(Format::OpenMetrics).ends_with("# EOF\n"));
        assert!(!live.encode(Format::Text).contains("# EOF"));
        // The text format names the counter family by its `_total` name; OpenMetrics does not.
        assert!(live.encode(Format::Text).contains("# TYPE process_cpu_seconds_total counter\n"));
        assert!(live.encode(Format::OpenMetrics).contains("# TYPE process_cpu_seconds counter\n"));
    }

    #[test]
    fn app_counters_become_samples() {
        let t = AppTelemetry::default();
        t.request("getPerformance");
        t.request("getPerformance");
        t.failure("getPerformance", "timeout".into());
        t.token_refresh(false);
        let s = t.samples();
        let find = |d: &Desc| s.iter().filter(|x| x.desc == *d).map(|x| x.value).sum::<f64>();
        assert_eq!(find(&API_REQUESTS), 2.0);
        assert_eq!(find(&API_FAILURES), 1.0);
        assert_eq!(find(&TOKEN_REFRESHES), 1.0);
        assert_eq!(find(&TOKEN_REFRESH_FAILURES), 1.0);
        assert_eq!(t.requests_to("getPerformance"), 2);
        // Samples come in label order, whatever the order of the calls, so an unchanged
        // app renders to the same text.
        t.request("getDailyVisitTrend");
        let apis: Vec<String> = t.samples().iter().filter(|x| x.desc == API_REQUESTS).map(|x| x.labels[0].1.clone()).collect();
        assert_eq!(apis, ["getDailyVisitTrend", "getPerformance"]);
        // Kept for the app's life: five APIs take room for five, not eight.
        for api in ["getDailySummary", "realtimelogSearch", "getStableAccessToken"] {
            t.request(api);
        }
        let requests = t.requests.lock().unwrap();
        assert_eq!((requests.len(), requests.capacity()), (5, 5));
    }
}
