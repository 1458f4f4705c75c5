//! realtimelogSearch as WeChat answers it: a per-app stream of log records, each
//! searchable only once it is indexed (some seconds after it was logged), with
//! the `date`/`begintime`/`endtime` rules, the `level` filter, paging, `total`,
//! and the limit of 50 searches a minute per app.
//!
//! The stream is a deterministic generator (on by default, so the demo's counters
//! move) plus whatever a test appends. Tests can turn the generator off for an
//! app, or compute what it made with [`generated`].

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{Duration, NaiveDate};
use serde_json::{json, Value};

use crate::collectors::Account;
use crate::cst;
use crate::simulator::{SimApp, SimState, data, errcode};
/// Searches a minute per app before 200010.
pub const LIMIT_PER_MINUTE: usize = 50;
/// The largest page served.
pub const MAX_LIMIT: i64 = 100;

/// One log record of a mini program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// When it was logged (Unix seconds).
    pub timestamp: i64,
    /// An OR of 2 (info), 4 (warn) and 8 (error).
    pub level: i64,
    pub url: String,
    /// From when a search finds it.
    pub indexed_at: i64,
}

impl Record {
    pub fn new(timestamp: i64, level: i64, url: &str) -> Record {
        Record { timestamp, level, url: url.into(), indexed_at: timestamp }
    }

    /// The same record, found by searches only `secs` after it was logged.
    pub fn indexed_after(mut self, secs: i64) -> Record {
        self.indexed_at = self.timestamp + secs;
        self
    }
}

/// Pages the generator logs on.
pub const PAGES: [&str; 4] = ["pages/index/index", "pages/item/detail", "pages/cart/cart", "pages/pay/pay"];

/// What the generator logged in second `t` for `appid`: a record a second on
/// average, mostly info, some warnings and errors, more errors in a bad minute
/// now and then; each indexed up to 20 seconds late.
pub fn generated_at(appid: &str, t: i64) -> Vec<Record> {
    let s = t.to_string();
    let minute = t.div_euclid(60).to_string();
    let bad_minute = data::hash(&[appid, &minute, "burst"]).is_multiple_of(15);
    let n = data::int(&[appid, &s, "n"], 0, 3) + u64::from(bad_minute && t % 4 == 0);
    (0..n)
        .map(|i| {
            let i = i.to_string();
            let roll = data::hash(&[appid, &s, &i, "level"]) % 100;
            let level = match roll {
                _ if bad_minute && roll < 50 => 10,
                0..70 => 2,
                70..82 => 6,
                82..88 => 4,
                88..94 => 10,
                94..97 => 14,
                _ => 8,
            };
            let url = PAGES[(data::hash(&[appid, &s, &i, "url"]) % PAGES.len() as u64) as usize];
            Record::new(t, level, url).indexed_after(data::int(&[appid, &s, &i, "lag"], 0, 20) as i64)
        })
        .collect()
}

/// Everything the generator logged for `appid` in `[from, to)`.
pub fn generated(appid: &str, from: i64, to: i64) -> Vec<Record> {
    (from..to).flat_map(|t| generated_at(appid, t)).collect()
}

#[derive(Default)]
struct AppLogs {
    generator_off: bool,
    appended: Vec<Record>,
    /// Times of the searches in the last minute.
    recent: VecDeque<i64>,
    max_per_minute: usize,
    searches: usize,
}

/// The simulator's realtime logs, per appid.
pub struct Logs {
    apps: Mutex<HashMap<String, AppLogs>>,
    retention_days: Mutex<i64>,
}

impl Default for Logs {
    fn default() -> Logs {
        Logs { apps: Mutex::default(), retention_days: Mutex::new(3) }
    }
}

impl Logs {
    fn with<T>(&self, appid: &str, f: impl FnOnce(&mut AppLogs) -> T) -> T {
        let mut apps = self.apps.lock().unwrap_or_else(|e| e.into_inner());
        f(apps.entry(appid.to_string()).or_default())
    }

    /// Adds records to an app's stream.
    pub fn append(&self, appid: &str, records: impl IntoIterator<Item = Record>) {
        self.with(appid, |a| a.appended.extend(records));
    }

    /// Turns the generator of an app on or off (it is on by default).
    pub fn set_generator(&self, appid: &str, on: bool) {
        self.with(appid, |a| a.generator_off = !on);
    }

    /// Days kept, today (UTC+8) included; 3 by default, as the 200002 message says.
    pub fn set_retention_days(&self, days: i64) {
        *self.retention_days.lock().unwrap_or_else(|e| e.into_inner()) = days.max(1);
    }

    /// The most searches an app made within any rolling minute.
    pub fn max_searches_per_minute(&self, appid: &str) -> usize {
        self.with(appid, |a| a.max_per_minute)
    }

    /// Searches an app made in all.
    pub fn searches(&self, appid: &str) -> usize {
        self.with(appid, |a| a.searches)
    }

    /// Counts a search at `now`; false when it is over the limit.
    fn admit(&self, appid: &str, now: i64) -> bool {
        self.with(appid, |a| {
            a.searches += 1;
            a.recent.push_back(now);
            while a.recent.front().is_some_and(|t| *t <= now - 60) {
                a.recent.pop_front();
            }
            a.max_per_minute = a.max_per_minute.max(a.recent.len());
            a.recent.len() <= LIMIT_PER_MINUTE
        })
    }

    /// The records of `appid` logged in `[begin, end]` and indexed by `now`, newest first.
    fn find(&self, appid: &str, begin: i64, end: i64, now: i64) -> Vec<Record> {
        let (generator, appended) = self.with(appid, |a| {
            let appended: Vec<Record> =
                a.appended.iter().filter(|r| begin <= r.timestamp && r.timestamp <= end).cloned().collect();
            (!a.generator_off, appended)
        });
        let mut out = appended;
        if generator {
            out.extend(generated(appid, begin, end.saturating_add(1).min(now + 1)));
        }
        out.retain(|r| r.indexed_at <= now);
        out.sort_by_key(|r| std::cmp::Reverse(r.timestamp));
        out
    }
}

/// A parameter as a whole number: GET parameters arrive as strings.
fn int(req: &Value, k: &str) -> Result<Option<i64>, ()> {
    match req.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or(()),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| ()),
        Some(_) => Err(()),
    }
}

fn bad_params() -> Value {
    errcode(200002, "invalid args: date, begintime and endtime are required; date must be one of the last three days and endtime greater than begintime")
}

pub fn answer(st: &SimState, app: &SimApp, req: &Value) -> Value {
    if app.account != Account::Miniprogram {
        return errcode(48001, "api unauthorized");
    }
    let now = st.now();
    let Some(logs) = st.state::<Logs>() else {
        return errcode(-1, "system error");
    };
    if !logs.admit(&app.appid, now.timestamp()) {
        return errcode(200010, "operation too frequent, limit 50 per minute");
    }
    let date = req.get("date").and_then(Value::as_str).and_then(|s| NaiveDate::parse_from_str(s, "%Y%m%d").ok());
    let (Some(date), Ok(Some(begin)), Ok(Some(end)), Ok(start), Ok(limit), Ok(level)) = (
        date,
        int(req, "begintime"),
        int(req, "endtime"),
        int(req, "start"),
        int(req, "limit"),
        int(req, "level"),
    ) else {
        return bad_params();
    };
    let today = cst::today(now);
    let days = *logs.retention_days.lock().unwrap_or_else(|e| e.into_inner());
    let kept = date <= today && date > today - Duration::days(days);
    if !kept || cst::date_of(begin) != date || cst::date_of(end) != date || end <= begin {
        return bad_params();
    }
    let start = start.unwrap_or(0);
    let limit = limit.unwrap_or(20);
    if start < 0 || limit < 1 {
        return bad_params();
    }
    let url = req.get("url").and_then(Value::as_str).filter(|u| !u.is_empty());
    let mut found = logs.find(&app.appid, begin, end, now.timestamp());
    found.retain(|r| level.is_none_or(|l| r.level >= l) && url.is_none_or(|u| r.url == u));
    let total = found.len();
    let list: Vec<Value> = found
        .iter()
        .skip(start as usize)
        .take(limit.min(MAX_LIMIT) as usize)
        .map(|r| render(app, r))
        .collect();
    let total = if app.odd { json!(total.to_string()) } else { json!(total) };
    json!({"errcode": 0, "errmsg": "ok", "data": {"list": list, "total": total}})
}

/// A record as WeChat sends it; an odd app sends its numbers as strings.
fn render(app: &SimApp, r: &Record) -> Value {
    let t = r.timestamp.to_string();
    let n = |v: i64| if app.odd { json!(v.to_string()) } else { json!(v) };
    let msg: Vec<Value> = [2, 4, 8]
        .into_iter()
        .filter(|bit| r.level & bit != 0)
        .map(|bit| json!({"time": r.timestamp, "msg": [format!("simulated level {bit} message")], "level": bit}))
        .collect();
    json!({
        "level": n(r.level),
        "platform": 1 + data::hash(&[&app.appid, &t, "platform"]) % 2,
        "libraryVersion": "3.4.10",
        "clientVersion": "8.0.50",
        "id": format!("oSIM{:012x}", data::hash(&[&app.appid, &t, "user"]) & 0xffff_ffff_ffff),
        "timestamp": n(r.timestamp),
        "msg": msg,
        "url": r.url,
        "traceid": format!("sim-{:016x}", data::hash(&[&app.appid, &t, "trace"])),
        "filterMsg": "",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_stable_and_plausible() {
        let a = generated("wx1", 1_700_000_000, 1_700_003_600);
        assert_eq!(a, generated("wx1", 1_700_000_000, 1_700_003_600));
        assert_ne!(a, generated("wx2", 1_700_000_000, 1_700_003_600));
        assert!(a.len() > 2000 && a.len() < 6000, "{}", a.len());
        let errors = a.iter().filter(|r| r.level >= 8).count();
        assert!(errors > 0 && errors < a.len() / 3, "{errors}");
        assert!(a.iter().all(|r| r.indexed_at >= r.timestamp && r.indexed_at < r.timestamp + 20));
    }

    #[test]
    fn the_limit_is_a_rolling_minute() {
        let logs = Logs::default();
        for _ in 0..50 {
            assert!(logs.admit("wx1", 1000));
        }
        assert!(!logs.admit("wx1", 1059));
        assert_eq!(logs.max_searches_per_minute("wx1"), 51);
        assert!(logs.admit("wx1", 1060), "the searches at 1000 have left the minute");
        assert!(logs.admit("wx2", 1000), "apps are limited apart");
    }
}
