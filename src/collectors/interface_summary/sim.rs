//! getinterfacesummary and getinterfacesummaryhour as WeChat answers them: an
//! Official Account's API, `YYYY-MM-DD` dates, spans of at most 30 days and 1 day.

use chrono::{Duration, NaiveDate};
use serde_json::{Value, json};

use super::{HOURLY_MAX_DAYS, Row, SUMMARY_MAX_DAYS};
use crate::collectors::Account;
use crate::cst;
use crate::simulator::data::int;
use crate::simulator::{SimApp, SimState, check_dates, errcode, wire};
use crate::wechat::json::Loose;

/// One hour (UTC+8) of an Official Account's passive replies: busier by day than
/// by night. Costs in milliseconds, every field there.
pub fn hour(appid: &str, day: NaiveDate, hour: u32) -> Row {
    let d = cst::compact(day);
    let h = hour.to_string();
    let busy = if (8..23).contains(&hour) { 4 } else { 1 };
    let callbacks = busy * int(&[appid, &d, &h, "cb"], 20, 600);
    let avg_ms = int(&[appid, &d, &h, "avg"], 40, 400);
    Row {
        ref_date: cst::dashed(day).into(),
        ref_hour: i64::from(hour).into(),
        callback_count: (callbacks as f64).into(),
        fail_count: ((callbacks / int(&[appid, &d, &h, "faildiv"], 15, 120)) as f64).into(),
        total_time_cost: ((callbacks * avg_ms) as f64).into(),
        max_time_cost: ((avg_ms * int(&[appid, &d, &h, "maxmul"], 3, 14)).min(5_000) as f64).into(),
        max_time_count: Loose(None),
    }
}

/// The day's summary: the sum of its hours, and the longest of their maxima.
pub fn day(appid: &str, day: NaiveDate) -> Row {
    let sum = |a: &Loose<f64>, b: &Loose<f64>| Loose(Some(a.get().unwrap_or(0.0) + b.get().unwrap_or(0.0)));
    let start = Row { ref_date: cst::dashed(day).into(), ..Row::default() };
    (0..24).map(|h| hour(appid, day, h)).fold(start, |acc, r| Row {
        callback_count: sum(&acc.callback_count, &r.callback_count),
        fail_count: sum(&acc.fail_count, &r.fail_count),
        total_time_cost: sum(&acc.total_time_cost, &r.total_time_cost),
        max_time_cost: Loose(Some(acc.max_time_cost.get().unwrap_or(0.0).max(r.max_time_cost.get().unwrap_or(0.0)))),
        ..acc
    })
}

/// Odd apps send every number as a string, as some real answers do.
const AS_TEXT: &[&str] = &["callback_count", "fail_count", "total_time_cost", "max_time_cost"];

pub fn summary(st: &SimState, app: &SimApp, req: &Value) -> Value {
    if app.account != Account::OfficialAccount {
        return errcode(48001, "api unauthorized");
    }
    let (begin, end) = match check_dates(st, req, true, SUMMARY_MAX_DAYS) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let mut list = Vec::new();
    let mut d = begin;
    while d <= end {
        if st.active(app, d) {
            let mut r = day(&app.appid, d);
            // Odd apps leave max_time_cost out: a missing sample, not a 0.
            if app.odd {
                r.max_time_cost = Loose(None);
            }
            list.push(wire(&r, app, AS_TEXT));
        }
        d += Duration::days(1);
    }
    json!({ "list": list })
}

pub fn hourly(st: &SimState, app: &SimApp, req: &Value) -> Value {
    if app.account != Account::OfficialAccount {
        return errcode(48001, "api unauthorized");
    }
    let (_, d) = match check_dates(st, req, true, HOURLY_MAX_DAYS) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if !st.active(app, d) {
        return json!({"list": []});
    }
    let list: Vec<Value> = (0..24)
        .map(|h| {
            let mut r = hour(&app.appid, d, h);
            // The page documents 0..23; odd apps use the HHMM hundreds of the other hourly APIs.
            if app.odd {
                r.ref_hour = i64::from(h * 100).into();
            }
            wire(&r, app, AS_TEXT)
        })
        .collect();
    json!({ "list": list })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_sums_its_hours() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let total = day("wx1", d);
        let hours: Vec<Row> = (0..24).map(|h| hour("wx1", d, h)).collect();
        let sum = |f: fn(&Row) -> Option<f64>| hours.iter().map(|h| f(h).unwrap()).sum::<f64>();
        assert_eq!(total.callback_count.get(), Some(sum(|r| r.callback_count.get())));
        let max = hours.iter().map(|h| h.max_time_cost.get().unwrap()).fold(0.0, f64::max);
        assert_eq!(total.max_time_cost.get(), Some(max));
        assert!(hours.iter().all(|h| h.fail_count < h.callback_count && h.max_time_cost <= Loose(Some(5_000.0))));
    }
}
