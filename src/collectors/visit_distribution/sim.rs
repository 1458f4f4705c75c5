//! getVisitDistribution as WeChat answers it: one day, yesterday at the latest,
//! items listed from the highest key down, as the documented example has them.

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::cst;
use crate::simulator::data::int;
use crate::simulator::{SimApp, SimState, mini_program_day};

/// Entry scenes the simulated visits come from (WeChat numbers 29 of them).
const SOURCES: [u32; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 10, 13, 16, 22];

/// An app's distributions of `day`: (index, [(key, visits)]). Odd apps also
/// send `access_source_visit_uv`, an index real answers carry that WeChat's
/// table of indexes does not name.
pub fn distributions(appid: &str, day: NaiveDate, odd: bool) -> Vec<(&'static str, Vec<(u32, u64)>)> {
    let d = cst::compact(day);
    let spread = |index: &str, keys: &[u32], lo: u64, hi: u64| -> Vec<(u32, u64)> {
        keys.iter().map(|k| (*k, int(&[appid, &d, index, &k.to_string()], lo, hi))).collect()
    };
    let mut out = vec![
        ("access_source_session_cnt", spread("source", &SOURCES, 5, 120_000)),
        ("access_staytime_info", spread("stay", &[1, 2, 3, 4, 5, 6, 7, 8], 1_000, 30_000)),
        ("access_depth_info", spread("depth", &[1, 2, 3, 4, 5, 6, 7], 100, 60_000)),
    ];
    if odd {
        out.push(("access_source_visit_uv", spread("source_uv", &SOURCES, 2, 40_000)));
    }
    out
}

pub fn answer(st: &SimState, app: &SimApp, req: &Value) -> Value {
    let day = match mini_program_day(st, app, req) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let d = cst::compact(day);
    if !st.active(app, day) {
        return json!({"ref_date": d, "list": []});
    }
    let list: Vec<Value> = distributions(&app.appid, day, app.odd)
        .into_iter()
        .map(|(index, items)| {
            let items: Vec<Value> = items
                .into_iter()
                .rev()
                .map(|(k, v)| if app.odd { json!({"key": k, "value": v.to_string()}) } else { json!({"key": k, "value": v}) })
                .collect();
            json!({"index": index, "item_list": items})
        })
        .collect();
    json!({"ref_date": d, "list": list})
}
