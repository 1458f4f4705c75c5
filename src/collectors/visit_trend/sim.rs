//! getDailyVisitTrend as WeChat answers it.

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::Row;
use crate::wechat::json::Loose;
use crate::collectors::Account;
use crate::simulator::data::{dec4, int};
use crate::simulator::{SimApp, SimState, check_dates, errcode};

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
