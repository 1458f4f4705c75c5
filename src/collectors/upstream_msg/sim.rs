//! getupstreammsg as WeChat answers it: an Official Account's API, `YYYY-MM-DD`
//! dates, spans of at most 7 days, a row per message type someone sent.

use chrono::{Duration, NaiveDate};
use serde_json::{Value, json};

use super::{MAX_DAYS, Row};
use crate::collectors::Account;
use crate::cst;
use crate::simulator::data::int;
use crate::simulator::{SimApp, SimState, check_dates, errcode, wire};

/// WeChat's `msg_type`s: 1 text, 2 image, 3 voice, 4 video, 6 third-party app message.
pub const TYPES: &[i64] = &[1, 2, 3, 4, 6];

/// The day's rows for one app: a type nobody sent has none.
pub fn rows(appid: &str, day: NaiveDate) -> Vec<Row> {
    let d = cst::compact(day);
    TYPES
        .iter()
        .filter(|t| **t == 1 || int(&[appid, &d, &t.to_string(), "msg-active"], 0, 2) != 0)
        .map(|t| {
            let s = t.to_string();
            let users = int(&[appid, &d, &s, "msg-users"], 1, 900);
            Row {
                ref_date: cst::dashed(day).into(),
                msg_type: (*t).into(),
                msg_user: (users as f64).into(),
                msg_count: ((users + int(&[appid, &d, &s, "msg-more"], 0, users * 2)) as f64).into(),
            }
        })
        .collect()
}

/// Odd apps send every number as a string.
pub fn answer(st: &SimState, app: &SimApp, req: &Value) -> Value {
    if app.account != Account::OfficialAccount {
        return errcode(48001, "api unauthorized");
    }
    let (begin, end) = match check_dates(st, req, true, MAX_DAYS) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let list: Vec<Value> = (0..=(end - begin).num_days())
        .map(|i| begin + Duration::days(i))
        .filter(|d| st.active(app, *d))
        .flat_map(|d| rows(&app.appid, d))
        .map(|r| wire(&r, app, &["msg_type", "msg_user", "msg_count"]))
        .collect();
    json!({ "list": list })
}
