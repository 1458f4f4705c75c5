//! getDailySummary as WeChat answers it: one day, yesterday at the latest.

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::Row;
use crate::cst;
use crate::simulator::data::int;
use crate::simulator::{SimApp, SimState, mini_program_day, wire};
use crate::wechat::json::Loose;

/// The day's row for one app, every field there. Cumulative users only grow: a
/// steady growth a day, and a wobble smaller than it.
pub fn row(appid: &str, day: NaiveDate) -> Row {
    let d = cst::compact(day);
    let growth = int(&[appid, "growth"], 50, 2_000);
    let days = (day - NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()).num_days().max(0) as u64;
    let total = int(&[appid, "base"], 10_000, 500_000) + days * growth + int(&[appid, &d, "wobble"], 0, growth);
    let share_pv = int(&[appid, &d, "share"], 100, 5_000);
    Row {
        ref_date: d.clone().into(),
        visit_total: (total as f64).into(),
        share_pv: (share_pv as f64).into(),
        share_uv: ((share_pv / int(&[appid, &d, "sharediv"], 2, 5)) as f64).into(),
    }
}

/// Odd apps send `visit_total` as a string and leave `share_uv` out.
pub fn answer(st: &SimState, app: &SimApp, req: &Value) -> Value {
    let day = match mini_program_day(st, app, req) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if !st.active(app, day) {
        return json!({"list": []});
    }
    let mut r = row(&app.appid, day);
    if app.odd {
        r.share_uv = Loose(None);
    }
    json!({"list": [wire(&r, app, &["visit_total"])]})
}
