//! getinterfacesummary and getinterfacesummaryhour as WeChat answers them: an
//! Official Account's API, `YYYY-MM-DD` dates, spans of at most 30 days and 1 day.

use chrono::{Duration, NaiveDate};
use serde_json::{Value, json};

use super::{HOURLY_MAX_DAYS, Row, SUMMARY_MAX_DAYS};
use crate::collectors::Account;
use crate::cst;
use crate::simulator::data::int;
use crate::simulator::{SimApp, SimState, check_dates, errcode};

/// One hour (UTC+8) of an Official Account's passive replies: busier by day than
/// by night. Costs in milliseconds, every field there.
pub fn hour(appid: &str, day: NaiveDate, hour: u32) -> Row {
    let d = cst::compact(day);
    let h = hour.to_string();
    let busy = if (8..23).contains(&hour) { 4 } else { 1 };
    let callbacks = busy * int(&[appid, &d, &h, "cb"], 20, 600);
    let avg_ms = int(&[appid, &d, &h, "avg"], 40, 400);
    Row {
        ref_date: Some(cst::dashed(day)),
        ref_hour: Some(i64::from(hour)),
        callback_count: Some(callbacks as f64),
        fail_count: Some((callbacks / int(&[appid, &d, &h, "faildiv"], 15, 120)) as f64),
        total_time_cost: Some((callbacks * avg_ms) as f64),
        max_time_cost: Some((avg_ms * int(&[appid, &d, &h, "maxmul"], 3, 14)).min(5_000) as f64),
    }
}

/// The day's summary: the sum of its hours, and the longest of their maxima.
pub fn day(appid: &str, day: NaiveDate) -> Row {
    let sum = |a: Option<f64>, b: Option<f64>| Some(a.unwrap_or(0.0) + b.unwrap_or(0.0));
    let start = Row { ref_date: Some(cst::dashed(day)), ..Row::default() };
    (0..24).map(|h| hour(appid, day, h)).fold(start, |acc, r| Row {
        callback_count: sum(acc.callback_count, r.callback_count),
        fail_count: sum(acc.fail_count, r.fail_count),
        total_time_cost: sum(acc.total_time_cost, r.total_time_cost),
        max_time_cost: Some(acc.max_time_cost.unwrap_or(0.0).max(r.max_time_cost.unwrap_or(0.0))),
        ..acc
    })
}

/// Numbers as they go out: odd apps send them as strings, as some real answers do.
fn num(app: &SimApp, n: Option<f64>) -> Value {
    let n = n.unwrap_or_default() as u64;
    if app.odd { json!(n.to_string()) } else { json!(n) }
}

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
        if st.published(d) {
            let r = day(&app.appid, d);
            let mut row = json!({
                "ref_date": r.ref_date,
                "callback_count": num(app, r.callback_count),
                "fail_count": num(app, r.fail_count),
                "total_time_cost": num(app, r.total_time_cost),
            });
            // Odd apps leave max_time_cost out: a missing sample, not a 0.
            if !app.odd {
                row["max_time_cost"] = num(app, r.max_time_cost);
            }
            list.push(row);
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
    if !st.published(d) {
        return json!({"list": []});
    }
    let list: Vec<Value> = (0..24)
        .map(|h| {
            let r = hour(&app.appid, d, h);
            // The page documents 0..23; odd apps use the HHMM hundreds of the other hourly APIs.
            let ref_hour = if app.odd { h * 100 } else { h };
            json!({
                "ref_date": r.ref_date,
                "ref_hour": ref_hour,
                "callback_count": num(app, r.callback_count),
                "fail_count": num(app, r.fail_count),
                "total_time_cost": num(app, r.total_time_cost),
                "max_time_cost": num(app, r.max_time_cost),
            })
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
        assert_eq!(total.callback_count, Some(sum(|r| r.callback_count)));
        let max = hours.iter().map(|h| h.max_time_cost.unwrap()).fold(0.0, f64::max);
        assert_eq!(total.max_time_cost, Some(max));
        assert!(hours.iter().all(|h| h.fail_count < h.callback_count && h.max_time_cost <= Some(5_000.0)));
    }
}
