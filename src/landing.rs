//! The landing page (`/`): a summary of the fleet, the failing collectors first with their
//! last error, then the collectors a page at a time, filtered by app and state through query
//! parameters (`?app=shop&state=down&page=2`). Its size does not grow with the fleet: at
//! 10,000 apps it is a few dozen kilobytes (see BENCHMARKS.md).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Html;
use chrono::{DateTime, NaiveDate, Utc};

use crate::scheduler::CollectorStatus;
use crate::web::WebState;

/// Collectors listed on one page of the full list.
pub const PAGE_SIZE: usize = 100;
/// Failing collectors shown in the summary's own section; the rest are a click away.
pub const FAILING_SHOWN: usize = 50;
/// A last error longer than this is cut, so one odd answer cannot bloat the page.
const ERROR_CHARS: usize = 300;

/// Which collectors the list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateFilter {
    All,
    Up,
    Down,
    Pending,
}

impl StateFilter {
    fn parse(s: &str) -> StateFilter {
        match s {
            "up" => StateFilter::Up,
            "down" => StateFilter::Down,
            "pending" => StateFilter::Pending,
            _ => StateFilter::All,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            StateFilter::All => "all",
            StateFilter::Up => "up",
            StateFilter::Down => "down",
            StateFilter::Pending => "pending",
        }
    }

    fn admits(self, s: &CollectorStatus) -> bool {
        match self {
            StateFilter::All => true,
            StateFilter::Up => health(s) == Health::Up,
            StateFilter::Down => health(s) == Health::Down,
            StateFilter::Pending => health(s) == Health::Pending,
        }
    }
}

/// What the query string asks for: `app` (a part of the app's name or appid), `state`
/// (all, up, down, pending) and `page` (from 1). Anything else, or a value that does not
/// parse, is read as the default.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    pub app: String,
    pub state: StateFilter,
    pub page: usize,
}

impl Filter {
    pub fn from_query(q: &HashMap<String, String>) -> Filter {
        Filter {
            app: q.get("app").map(|a| a.trim().chars().take(100).collect()).unwrap_or_default(),
            state: StateFilter::parse(q.get("state").map(String::as_str).unwrap_or("")),
            page: q.get("page").and_then(|p| p.parse::<usize>().ok()).filter(|p| *p >= 1).unwrap_or(1),
        }
    }

    /// The query string of this filter on page `page`.
    fn href(&self, page: usize) -> String {
        let mut out = String::from("/?");
        if !self.app.is_empty() {
            out.push_str("app=");
            percent_encode(&mut out, &self.app);
            out.push('&');
        }
        let _ = write!(out, "state={}&page={page}", self.state.as_str());
        out
    }
}

/// A collector's state as the page shows it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Health {
    Pending,
    Up,
    Down,
}

fn health(s: &CollectorStatus) -> Health {
    match (s.polls, s.up) {
        (0, _) => Health::Pending,
        (_, true) => Health::Up,
        (_, false) => Health::Down,
    }
}

/// The configured apps: (name, appid, account).
pub type AppList = [(String, String, String)];
/// One collector's status: its app, its name, its state.
pub type StatusRow = (Arc<str>, &'static str, CollectorStatus);
/// Every collector's status, ordered by app and collector.
pub type StatusList = [StatusRow];

pub async fn page(State(st): State<WebState>, Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let filter = Filter::from_query(&q);
    let status = st.shared.status();
    let apps = st.apps.read().unwrap_or_else(|e| e.into_inner());
    Html(render(&st.telemetry_path, &apps, &status, &filter))
}

/// The whole page.
pub fn render(telemetry_path: &str, apps: &AppList, status: &StatusList, filter: &Filter) -> String {
    let info: HashMap<&str, (&str, &str)> = apps.iter().map(|(n, id, acc)| (n.as_str(), (id.as_str(), acc.as_str()))).collect();
    let mut out = String::with_capacity(64 * 1024);
    let path = esc(telemetry_path);
    let _ = writeln!(
        out,
        "<!doctype html><html><head><meta charset=utf-8><title>WeChat Exporter</title>\
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left;vertical-align:top}}\
.up{{color:green}}.down{{color:#b00}}.wait{{color:#888}}.err{{font-family:monospace;font-size:90%}}</style></head>\
<body><h1>WeChat Exporter</h1><p>Version {} · <a href=\"{path}\">Metrics</a> · <a href=\"/healthz\">healthz</a> · <a href=\"/readyz\">readyz</a></p>",
        env!("CARGO_PKG_VERSION")
    );

    // The summary.
    let mini = apps.iter().filter(|(_, _, acc)| acc == "miniprogram").count();
    let (mut up, mut down, mut pending) = (0, 0, 0);
    let mut oldest: Option<(NaiveDate, &str, &str)> = None;
    for (app, collector, s) in status {
        match health(s) {
            Health::Up => up += 1,
            Health::Down => down += 1,
            Health::Pending => pending += 1,
        }
        if let Some(d) = s.data_date
            && oldest.is_none_or(|(o, _, _)| d < o)
        {
            oldest = Some((d, app, collector));
        }
    }
    let _ = write!(
        out,
        "<h2>Summary</h2><table>\
<tr><th>apps</th><td>{}</td><td>{mini} mini programs, {} official accounts</td></tr>\
<tr><th>collectors</th><td>{}</td><td><span class=up>{up} up</span>, <a class=down href=\"/?state=down\">{down} down</a>, <span class=wait>{pending} first poll pending</span></td></tr>",
        apps.len(),
        apps.len() - mini,
        status.len(),
    );
    match oldest {
        Some((d, app, collector)) => {
            let _ = write!(out, "<tr><th>oldest data date</th><td>{d}</td><td>{} ({})</td></tr>", esc(app), esc(collector));
        }
        None => out.push_str("<tr><th>oldest data date</th><td>-</td><td>no daily data yet</td></tr>"),
    }
    out.push_str("</table>\n");

    // Failing collectors, longest without a success first.
    let mut failing: Vec<&StatusRow> =
        status.iter().filter(|(_, _, s)| health(s) == Health::Down).collect();
    failing.sort_by(|a, b| a.2.last_success.cmp(&b.2.last_success).then_with(|| (&a.0, a.1).cmp(&(&b.0, b.1))));
    let _ = write!(out, "<h2>Failing collectors ({down})</h2>");
    if failing.is_empty() {
        out.push_str("<p>None: every collector that has polled succeeded at its last poll.</p>\n");
    } else {
        out.push_str("<table><tr><th>app</th><th>collector</th><th>last success</th><th>last error</th></tr>\n");
        for (app, collector, s) in failing.iter().take(FAILING_SHOWN) {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=err>{}</td></tr>",
                esc(app),
                esc(collector),
                when(s.last_success),
                esc(&cut(s.last_error.as_deref().unwrap_or(""), ERROR_CHARS))
            );
        }
        out.push_str("</table>\n");
        if failing.len() > FAILING_SHOWN {
            let _ = writeln!(out, "<p><a href=\"/?state=down\">All {} failing collectors</a></p>", failing.len());
        }
    }

    // The full list, filtered, a page at a time.
    let needle = filter.app.to_lowercase();
    let matches = |app: &str| {
        needle.is_empty()
            || app.to_lowercase().contains(&needle)
            || info.get(app).is_some_and(|(id, _)| id.to_lowercase().contains(&needle))
    };
    let listed: Vec<&StatusRow> =
        status.iter().filter(|(app, _, s)| filter.state.admits(s) && matches(app)).collect();
    let pages = listed.len().div_ceil(PAGE_SIZE).max(1);
    let page = filter.page.min(pages);
    let _ = write!(
        out,
        "<h2>Collectors</h2><form method=get action=\"/\">app <input name=app value=\"{}\" placeholder=\"name or appid\"> \
state <select name=state>",
        esc(&filter.app)
    );
    for s in [StateFilter::All, StateFilter::Down, StateFilter::Up, StateFilter::Pending] {
        let selected = if s == filter.state { " selected" } else { "" };
        let _ = write!(out, "<option{selected}>{}</option>", s.as_str());
    }
    let _ = write!(
        out,
        "</select> <button>filter</button></form>\n<p>{} collectors match; page {page} of {pages}",
        listed.len()
    );
    if page > 1 {
        let _ = write!(out, " · <a href=\"{}\">previous</a>", esc(&filter.href(page - 1)));
    }
    if page < pages {
        let _ = write!(out, " · <a href=\"{}\">next</a>", esc(&filter.href(page + 1)));
    }
    out.push_str("</p>\n<table><tr><th>app</th><th>appid</th><th>account</th><th>collector</th><th>interval</th><th>state</th><th>last success</th><th>data date</th></tr>\n");
    for (app, collector, s) in listed.iter().skip((page - 1) * PAGE_SIZE).take(PAGE_SIZE) {
        let (appid, account) = info.get(&**app).copied().unwrap_or(("", ""));
        let state = match health(s) {
            Health::Pending => "<span class=wait>first poll pending</span>".to_string(),
            Health::Up => "<span class=up>up</span>".to_string(),
            Health::Down => format!(
                "<span class=down>down</span>: <span class=err>{}</span>",
                esc(&cut(s.last_error.as_deref().unwrap_or(""), ERROR_CHARS))
            ),
        };
        let day = s.data_date.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{state}</td><td>{}</td><td>{day}</td></tr>",
            esc(app),
            esc(appid),
            esc(account),
            esc(collector),
            humantime::format_duration(s.interval),
            when(s.last_success),
        );
    }
    out.push_str("</table></body></html>\n");
    out
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_else(|| "never".into())
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Percent-encodes a query value: everything but unreserved characters (RFC 3986).
fn percent_encode(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn status(polls: u64, up: bool, error: Option<&str>, success: Option<i64>, day: Option<(i32, u32, u32)>) -> CollectorStatus {
        CollectorStatus {
            interval: Duration::from_secs(3600),
            polls,
            up,
            last_success: success.and_then(|s| DateTime::from_timestamp(s, 0)),
            last_error: error.map(String::from),
            data_date: day.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
        }
    }

    /// `n` apps of three collectors each; every `down_every`-th app's performance collector fails.
    fn fleet(n: usize, down_every: usize) -> (Vec<(String, String, String)>, Vec<StatusRow>) {
        let mut apps = Vec::new();
        let mut st = Vec::new();
        for i in 0..n {
            let name = format!("app{i:05}");
            let account = if i % 10 == 3 { "official_account" } else { "miniprogram" };
            apps.push((name.clone(), format!("wxgen{i:011}"), account.to_string()));
            let name: Arc<str> = Arc::from(name.as_str());
            let day = Some((2024, 5, if i == 7 { 1 } else { 3 }));
            st.push((name.clone(), "performance", if i % down_every == 0 {
                status(3, false, Some(&format!("HTTP status 502 <{i}>")), Some(1_700_000_000 + i as i64), day)
            } else {
                status(3, true, None, Some(1_700_000_000), day)
            }));
            st.push((name.clone(), "realtime_log", status(0, false, None, None, None)));
            st.push((name, "visit_trend", status(3, true, None, Some(1_700_000_000), day)));
        }
        (apps, st)
    }

    fn filter(q: &[(&str, &str)]) -> Filter {
        Filter::from_query(&q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn the_summary_counts_and_finds_the_oldest_day() {
        let (apps, st) = fleet(30, 10);
        let page = render("/metrics", &apps, &st, &filter(&[]));
        assert!(page.contains("<th>apps</th><td>30</td><td>27 mini programs, 3 official accounts</td>"), "{page}");
        assert!(page.contains("<span class=up>57 up</span>, <a class=down href=\"/?state=down\">3 down</a>, <span class=wait>30 first poll pending</span>"), "{page}");
        assert!(page.contains("<th>oldest data date</th><td>2024-05-01</td><td>app00007 (performance)</td>"), "{page}");
    }

    #[test]
    fn failing_collectors_come_first_longest_down_first_with_their_error() {
        let (apps, st) = fleet(30, 10);
        let page = render("/metrics", &apps, &st, &filter(&[]));
        let failing = page.find("Failing collectors (3)").expect("a failing section");
        let list = page.find("<h2>Collectors</h2>").unwrap();
        assert!(failing < list);
        let section = &page[failing..list];
        let order: Vec<usize> = ["app00000", "app00010", "app00020"].iter().map(|a| section.find(a).unwrap()).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "oldest success first: {section}");
        assert!(section.contains("HTTP status 502 &lt;10&gt;"), "escaped error: {section}");
    }

    #[test]
    fn the_list_comes_in_pages_and_filters() {
        let (apps, st) = fleet(1000, 10);
        let first = render("/metrics", &apps, &st, &filter(&[]));
        assert!(first.contains("3000 collectors match; page 1 of 30"), "{first}");
        assert!(first.contains("<a href=\"/?state=all&amp;page=2\">next</a>"));
        assert_eq!(first.matches("<tr><td>app").count(), FAILING_SHOWN + PAGE_SIZE);
        assert!(first.contains("<a href=\"/?state=down\">All 100 failing collectors</a>"));

        let last = render("/metrics", &apps, &st, &filter(&[("page", "999")]));
        assert!(last.contains("page 30 of 30 · <a href=\"/?state=all&amp;page=29\">previous</a></p>"), "a page past the end is the last");
        assert!(last.contains("<td>app00999</td>"));

        let down = render("/metrics", &apps, &st, &filter(&[("state", "down"), ("page", "2")]));
        assert!(down.contains("100 collectors match; page 1 of 1"), "{down}");
        let one = render("/metrics", &apps, &st, &filter(&[("app", "APP0004"), ("state", "pending")]));
        assert!(one.contains("10 collectors match"), "by a part of the name, any case");
        let by_appid = render("/metrics", &apps, &st, &filter(&[("app", "wxgen00000000042")]));
        assert!(by_appid.contains("3 collectors match") && by_appid.contains("<td>app00042</td><td>wxgen00000000042</td><td>miniprogram</td><td>performance</td>"), "{by_appid}");
        for bad in [("page", "0"), ("page", "-1"), ("page", "x"), ("state", "bogus")] {
            assert_eq!(filter(&[bad]), filter(&[]), "{bad:?} reads as the default");
        }
    }

    #[test]
    fn what_the_user_typed_is_escaped_and_encoded() {
        let (apps, st) = fleet(300, 10);
        let page = render("/metrics", &apps, &st, &filter(&[("app", "a\"><script>&"), ("state", "all")]));
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("value=\"a&quot;&gt;&lt;script&gt;&amp;\""));
        let f = filter(&[("app", "app 0&x=1")]);
        assert_eq!(f.href(2), "/?app=app%200%26x%3D1&state=all&page=2");
    }

    #[test]
    fn the_page_stays_small_however_many_apps_fail() {
        // Every collector of 10,000 apps failing, each with a long error.
        let (apps, mut st) = fleet(10_000, 1);
        for (_, _, s) in &mut st {
            *s = status(5, false, Some(&"x".repeat(2000)), None, None);
        }
        let page = render("/metrics", &apps, &st, &filter(&[]));
        assert!(page.len() < 200 * 1024, "{} bytes", page.len());
        assert!(page.contains("All 30000 failing collectors"));
        assert!(!page.contains(&"x".repeat(ERROR_CHARS + 1)), "long errors are cut");
    }
}
