//! getDailyVisitTrend as WeChat answers it.

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::Row;
use crate::collectors::newest::Period;
use crate::wechat::json::Loose;
use crate::collectors::Account;
use crate::simulator::data::{dec4, int};
use crate::simulator::{SimApp, SimState, errcode, mini_program_day};

/// The day's row for one app: what the simulator serves, every field there.
pub fn row(appid: &str, day: NaiveDate) -> Row {
    let d = crate::cst::compact(day);
    let uv = int(&[appid, &d, "uv"], 1_000, 60_000);
    Row {
        ref_date: d.clone().into(),
        session_cnt: ((uv * int(&[appid, &d, "spu"], 2, 4)) as f64).into(),
        visit_pv: ((uv * int(&[appid, &d, "pvu"], 4, 9)) as f64).into(),
        visit_uv: (uv as f64).into(),
        visit_uv_new: ((uv / int(&[appid, &d, "newdiv"], 5, 15)) as f64).into(),
        stay_time_uv: dec4(&[appid, &d, "stu"], 30.0, 400.0).into(),
        stay_time_session: dec4(&[appid, &d, "sts"], 10.0, 200.0).into(),
        visit_depth: dec4(&[appid, &d, "depth"], 1.0, 6.0).into(),
    }
}

/// A row as WeChat sends it. Odd apps send some numbers as strings and leave
/// `stay_time_uv` out, as the seed example does.
pub fn wire(app: &SimApp, r: &Row) -> Value {
    let mut r = r.clone();
    if app.odd {
        r.stay_time_uv = Loose(None);
    }
    crate::simulator::wire(&r, app, &["session_cnt", "visit_pv", "visit_uv", "stay_time_session"])
}

/// The row of a week or a month: the days' sessions and visits added up, users
/// counted once however many days they came (so fewer than the days' sum),
/// stay times averaged over the days, depth as visits per session.
pub fn period_row<P: Period>(appid: &str, p: P) -> Row {
    let days: Vec<Row> = p.first().iter_days().take_while(|d| *d <= p.last()).map(|d| row(appid, d)).collect();
    let sum = |f: fn(&Row) -> &Loose<f64>| days.iter().map(|r| f(r).get().unwrap_or(0.0)).sum::<f64>();
    let mean = |f: fn(&Row) -> &Loose<f64>| (sum(f) / days.len().max(1) as f64 * 10_000.0).round() / 10_000.0;
    let key = p.ref_date();
    let (sessions, pv) = (sum(|r| &r.session_cnt), sum(|r| &r.visit_pv));
    Row {
        ref_date: key.clone().into(),
        session_cnt: sessions.into(),
        visit_pv: pv.into(),
        visit_uv: (sum(|r| &r.visit_uv) * int(&[appid, &key, "once"], 40, 80) as f64 / 100.0).floor().into(),
        visit_uv_new: (sum(|r| &r.visit_uv_new) * int(&[appid, &key, "newonce"], 85, 99) as f64 / 100.0).floor().into(),
        stay_time_uv: mean(|r| &r.stay_time_uv).into(),
        stay_time_session: mean(|r| &r.stay_time_session).into(),
        visit_depth: ((pv / sessions.max(1.0) * 10_000.0).round() / 10_000.0).into(),
    }
}

/// The weekly or monthly trend API as WeChat answers it: exactly one whole
/// period, `begin_date` its first day and `end_date` its last (Monday and Sunday,
/// or a month's first and last), ending yesterday at the latest; 61501 otherwise.
pub fn answer_period<P: Period>(st: &SimState, app: &SimApp, req: &Value) -> Value {
    if app.account != Account::Miniprogram {
        return errcode(48001, "api unauthorized");
    }
    let get = |k: &str| req.get(k).and_then(Value::as_str).and_then(|s| NaiveDate::parse_from_str(s, "%Y%m%d").ok());
    let (Some(begin), Some(end)) = (get("begin_date"), get("end_date")) else {
        return errcode(61500, "date format error");
    };
    let p = P::of(begin);
    if p.first() != begin || p.last() != end || end > st.yesterday() {
        return errcode(61501, "date range error");
    }
    if !st.active(app, end) {
        return json!({"list": []});
    }
    json!({"list": [wire(app, &period_row(&app.appid, p))]})
}

pub fn answer(st: &SimState, app: &SimApp, req: &Value) -> Value {
    let day = match mini_program_day(st, app, req) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if !st.active(app, day) {
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
