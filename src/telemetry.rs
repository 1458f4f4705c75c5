//! The exporter's own metrics: per-app request and token counters (stored as a
//! part of each app, refreshed after each poll), and the live families that
//! change with every request (the latency histogram) or never (build info).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::store::{write_header, write_sample, Desc, Format, Label, Sample};

pub const APP_INFO: Desc = Desc::gauge("wechat_app_info", "The configured WeChat app: always 1.");
pub const DATA_DATE: Desc = Desc::gauge(
    "wechat_data_date_timestamp_seconds",
    "Start (00:00 UTC+8) of the day the collector's daily values belong to.",
);
pub const BUILD_INFO: Desc =
    Desc::gauge("wechat_exporter_build_info", "The exporter's version and revision: always 1.");
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
pub const API_DURATION: Desc = Desc::histogram(
    "wechat_exporter_api_request_duration_seconds",
    "Time taken by WeChat requests, by API.",
);
pub const PLATFORM_AUTHORIZERS: Desc = Desc::gauge(
    "wechat_exporter_platform_authorizers",
    "Apps the platform's last successful discovery found that this exporter polls.",
);
pub const TOKEN_REFRESHES: Desc =
    Desc::counter("wechat_exporter_token_refreshes", "access_token fetches from WeChat.");
pub const TOKEN_REFRESH_FAILURES: Desc =
    Desc::counter("wechat_exporter_token_refresh_failures", "access_token fetches that failed.");

/// Request-duration buckets, in seconds: WeChat answers in tens of milliseconds
/// when well and takes seconds when not.
const BUCKETS: [f64; 10] = [0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// One app's counters. Kept by the app's client, so they survive a reload that
/// leaves the app as it was.
#[derive(Default)]
pub struct AppTelemetry {
    requests: Mutex<BTreeMap<&'static str, u64>>,
    failures: Mutex<BTreeMap<(&'static str, String), u64>>,
    token_refreshes: AtomicU64,
    token_refresh_failures: AtomicU64,
}

impl AppTelemetry {
    pub fn request(&self, api: &'static str) {
        *self.requests.lock().unwrap_or_else(|e| e.into_inner()).entry(api).or_default() += 1;
    }

    pub fn failure(&self, api: &'static str, reason: String) {
        *self.failures.lock().unwrap_or_else(|e| e.into_inner()).entry((api, reason)).or_default() += 1;
    }

    pub fn token_refresh(&self, ok: bool) {
        self.token_refreshes.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.token_refresh_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The app's counters as samples (the store adds `app`).
    pub fn samples(&self) -> Vec<Sample> {
        let mut out = Vec::new();
        for (api, n) in self.requests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            out.push(Sample::new(&API_REQUESTS, *n as f64).label("api", *api));
        }
        for ((api, reason), n) in self.failures.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            out.push(Sample::new(&API_FAILURES, *n as f64).label("api", *api).label("reason", reason.clone()));
        }
        out.push(Sample::new(&TOKEN_REFRESHES, self.token_refreshes.load(Ordering::Relaxed) as f64));
        out.push(Sample::new(&TOKEN_REFRESH_FAILURES, self.token_refresh_failures.load(Ordering::Relaxed) as f64));
        out
    }

    /// How many requests went to `api`, for tests.
    pub fn requests_to(&self, api: &str) -> u64 {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).get(api).copied().unwrap_or(0)
    }
}

#[derive(Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The process-wide families, rendered fresh at every scrape.
#[derive(Default)]
pub struct Live {
    durations: Mutex<BTreeMap<&'static str, Histogram>>,
}

impl Live {
    pub fn observe(&self, api: &'static str, took: Duration) {
        let secs = took.as_secs_f64();
        let mut map = self.durations.lock().unwrap_or_else(|e| e.into_inner());
        let h = map.entry(api).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Appends the live families to an exposition.
    pub fn render(&self, out: &mut String, format: Format) {
        write_header(out, &BUILD_INFO, format);
        let labels: Vec<Label> = vec![
            ("version".into(), env!("CARGO_PKG_VERSION").to_string()),
            ("revision".into(), option_env!("WECHAT_EXPORTER_REVISION").unwrap_or("unknown").to_string()),
        ];
        write_sample(out, "wechat_exporter_build_info", None, &labels, 1.0);

        let map = self.durations.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if map.is_empty() {
            return;
        }
        write_header(out, &API_DURATION, format);
        let name = &API_DURATION.name;
        for (api, h) in &map {
            let api_label: Label = ("api".into(), api.to_string());
            for (i, le) in BUCKETS.iter().enumerate() {
                let mut le_s = String::new();
                crate::store::write_value(&mut le_s, *le);
                if format == Format::OpenMetrics && !le_s.contains('.') {
                    le_s.push_str(".0");
                }
                let labels = [api_label.clone(), ("le".into(), le_s)];
                write_sample(out, &format!("{name}_bucket"), None, &labels, h.buckets[i] as f64);
            }
            let labels = [api_label.clone(), ("le".into(), "+Inf".to_string())];
            write_sample(out, &format!("{name}_bucket"), None, &labels, h.count as f64);
            write_sample(out, &format!("{name}_sum"), None, std::slice::from_ref(&api_label), h.sum);
            write_sample(out, &format!("{name}_count"), None, std::slice::from_ref(&api_label), h.count as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let live = Live::default();
        live.observe("getPerformance", Duration::from_millis(30));
        live.observe("getPerformance", Duration::from_millis(700));
        let mut out = String::new();
        live.render(&mut out, Format::Text);
        assert!(out.contains("wechat_exporter_api_request_duration_seconds_bucket{api=\"getPerformance\",le=\"0.025\"} 0\n"), "{out}");
        assert!(out.contains("wechat_exporter_api_request_duration_seconds_bucket{api=\"getPerformance\",le=\"0.05\"} 1\n"));
        assert!(out.contains("wechat_exporter_api_request_duration_seconds_bucket{api=\"getPerformance\",le=\"1\"} 2\n"));
        assert!(out.contains("wechat_exporter_api_request_duration_seconds_bucket{api=\"getPerformance\",le=\"+Inf\"} 2\n"));
        assert!(out.contains("wechat_exporter_api_request_duration_seconds_count{api=\"getPerformance\"} 2\n"));
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
    }
}
