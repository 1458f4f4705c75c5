//! getinterfacesummary and getinterfacesummaryhour as WeChat answers them: an
//! Official Account's API, `YYYY-MM-DD` dates, spans of at most 30 days and 1 day.

use chrono::Duration;
use serde_json::{Value, json};

use super::{SimApp, SimState, check_dates, data, errcode};
use crate::collectors::Account;
use crate::cst;

pub const SUMMARY_PATH: &str = "/datacube/getinterfacesummary";
pub const HOURLY_PATH: &str = "/datacube/getinterfacesummaryhour";

/// Numbers as they go out: odd apps send them as strings, as some real answers do.
fn num(app: &SimApp, n: u64) -> Value {
    if app.odd { json!(n.to_string()) } else { json!(n) }
}

pub fn summary(st: &SimState, app: &SimApp, req: &Value) -> Value {
    if app.account != Account::OfficialAccount {
        return errcode(48001, "api unauthorized");
    }
    let (begin, end) = match check_dates(st, req, true, 30) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let mut list = Vec::new();
    let mut day = begin;
    while day <= end {
        if st.published(day) {
            let r = data::interface_day(&app.appid, day);
            let mut row = json!({
                "ref_date": cst::dashed(day),
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
        day += Duration::days(1);
    }
    json!({ "list": list })
}

pub fn hourly(st: &SimState, app: &SimApp, req: &Value) -> Value {
    if app.account != Account::OfficialAccount {
        return errcode(48001, "api unauthorized");
    }
    let (_, day) = match check_dates(st, req, true, 1) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if !st.published(day) {
        return json!({"list": []});
    }
    let list: Vec<Value> = (0..24)
        .map(|h| {
            let r = data::interface_hour(&app.appid, day, h);
            // The page documents 0..23; odd apps use the HHMM hundreds of the other hourly APIs.
            let ref_hour = if app.odd { h * 100 } else { h };
            json!({
                "ref_date": cst::dashed(day),
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
