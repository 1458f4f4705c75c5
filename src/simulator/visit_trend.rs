//! getDailyVisitTrend as WeChat answers it.

use serde_json::{json, Value};

use super::{check_dates, data, errcode, SimApp, SimState};
use crate::collectors::Account;

pub const PATH: &str = "/datacube/getweanalysisappiddailyvisittrend";

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
    let r = data::visit_row(&app.appid, day);
    let d = day.format("%Y%m%d").to_string();
    if app.odd {
        // Numbers as strings, and stay_time_uv left out, as the seed example does.
        json!({"list": [{
            "ref_date": d,
            "session_cnt": r.session_cnt.to_string(),
            "visit_pv": r.visit_pv.to_string(),
            "visit_uv": r.visit_uv.to_string(),
            "visit_uv_new": r.visit_uv_new,
            "stay_time_session": r.stay_time_session.to_string(),
            "visit_depth": r.visit_depth,
        }]})
    } else {
        json!({"list": [{
            "ref_date": d,
            "session_cnt": r.session_cnt,
            "visit_pv": r.visit_pv,
            "visit_uv": r.visit_uv,
            "visit_uv_new": r.visit_uv_new,
            "stay_time_uv": r.stay_time_uv,
            "stay_time_session": r.stay_time_session,
            "visit_depth": r.visit_depth,
        }]})
    }
}
