//! getDailyVisitTrend as WeChat answers it.

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::Row;
use crate::collectors::Account;
use crate::simulator::data::{dec4, int};
use crate::simulator::{SimApp, SimState, check_dates, errcode};

/// The day's row for one app: what the simulator serves, every field there.
pub fn row(appid: &str, day: NaiveDate) -> Row {
    let d = crate::cst::compact(day);
    let uv = int(&[appid, &d, "uv"], 1_000, 60_000);
    Row {
        ref_date: Some(d.clone()),
        session_cnt: Some((uv * int(&[appid, &d, "spu"], 2, 4)) as f64),
        visit_pv: Some((uv * int(&[appid, &d, "pvu"], 4, 9)) as f64),
        visit_uv: Some(uv as f64),
        visit_uv_new: Some((uv / int(&[appid, &d, "newdiv"], 5, 15)) as f64),
        stay_time_uv: Some(dec4(&[appid, &d, "stu"], 30.0, 400.0)),
        stay_time_session: Some(dec4(&[appid, &d, "sts"], 10.0, 200.0)),
        visit_depth: Some(dec4(&[appid, &d, "depth"], 1.0, 6.0)),
    }
}

/// A number as WeChat writes it: whole numbers without a fraction.
pub fn number(v: Option<f64>) -> Value {
    match v {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => json!(f as i64),
        Some(f) => json!(f),
        None => Value::Null,
    }
}

/// A row as WeChat sends it. Odd apps send numbers as strings and leave
/// `stay_time_uv` out, as the seed example does.
pub fn wire(app: &SimApp, r: &Row) -> Value {
    let n = |v: Option<f64>| if app.odd { json!(number(v).to_string()) } else { number(v) };
    let mut row = json!({
        "ref_date": r.ref_date,
        "session_cnt": n(r.session_cnt),
        "visit_pv": n(r.visit_pv),
        "visit_uv": n(r.visit_uv),
        "visit_uv_new": number(r.visit_uv_new),
        "stay_time_uv": n(r.stay_time_uv),
        "stay_time_session": n(r.stay_time_session),
        "visit_depth": number(r.visit_depth),
    });
    if app.odd
        && let Some(o) = row.as_object_mut()
    {
        o.remove("stay_time_uv");
    }
    row
}

pub fn answer(st: &SimState, app: &SimApp, req: &Value) -> Value {
    if app.account != Account::Miniprogram {
        return errcode(48001, "api unauthorized");
    }
    let (_, day) = match check_dates(st, req, false, 1) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if !st.published(day) {
        return json!({"list": []});
    }
    json!({"list": [wire(app, &row(&app.appid, day))]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_stable_and_vary() {
        let d1 = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let d2 = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        assert_eq!(row("wx1", d1), row("wx1", d1));
        assert_ne!(row("wx1", d1), row("wx1", d2));
        assert_ne!(row("wx1", d1), row("wx2", d1));
        let r = row("wx1", d1);
        assert!(r.visit_uv_new < r.visit_uv && r.visit_uv < r.visit_pv);
    }
}
