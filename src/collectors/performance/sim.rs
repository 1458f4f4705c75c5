//! getPerformance as WeChat answers it: the series as JSON inside a string.

use chrono::{Duration, NaiveDate};
use serde_json::{json, Value};

use crate::collectors::Account;
use crate::cst;
use crate::simulator::data::int;
use crate::simulator::{SimApp, SimState, errcode};

/// getPerformance's cost in milliseconds for one app, day and query (in WeChat's codes).
pub fn cost_ms(appid: &str, day: NaiveDate, cost_time_type: i64, filters: &str) -> u64 {
    let d = cst::compact(day);
    let t = cost_time_type.to_string();
    let (lo, hi) = match cost_time_type {
        1 => (800, 4_000),
        2 => (200, 2_500),
        _ => (100, 1_500),
    };
    int(&[appid, &d, &t, filters], lo, hi)
}

/// The filters of a request, joined as the key of its values.
pub fn filters(req: &Value) -> String {
    ["device", "networktype", "scene", "is_download_code"]
        .map(|k| req.get(k).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).unwrap_or_default())
        .join("|")
}

pub fn answer(st: &SimState, app: &SimApp, req: &Value) -> Value {
    if app.account != Account::Miniprogram {
        return errcode(48001, "api unauthorized");
    }
    let num = |k: &str| req.get(k).and_then(Value::as_i64);
    let (Some(t), Some(start), Some(end)) = (num("cost_time_type"), num("default_start_time"), num("default_end_time"))
    else {
        return errcode(200002, "invalid args");
    };
    if !(1..=3).contains(&t) || end < start {
        return errcode(200002, "invalid args");
    }
    let f = filters(req);
    let mut list = Vec::new();
    let mut day = cst::date_of(start);
    let last = cst::date_of(end).min(st.yesterday());
    while day <= last {
        if st.active(app, day) {
            let ms = cost_ms(&app.appid, day, t, &f);
            list.push(json!({"ref_date": cst::compact(day), "cost_time_type": t, "cost_time": ms}));
        }
        day += Duration::days(1);
    }
    let inner = json!({ "list": list }).to_string();
    json!({"default_time_data": inner, "compare_time_data": "", "errcode": 0})
}
