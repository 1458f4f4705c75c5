//! getVisitPage as WeChat answers it: one day, yesterday at the latest, the 200
//! pages with the most visits at most, in no particular order.

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::{MAX_TOP, Page};
use crate::cst;
use crate::simulator::data::{dec4, hash, int};
use crate::simulator::{SimApp, SimState, mini_program_day, wire};
use crate::wechat::json::Loose;

/// Pages of a few well-known kinds first, then numbered ones.
const NAMED: [&str; 8] = [
    "pages/index/index",
    "pages/item/detail",
    "pages/cart/cart",
    "pages/search/search",
    "pages/pay/pay",
    "pages/order/list",
    "pages/user/center",
    "pages/coupon/list",
];

/// Every page of an app on `day`, the most visited first, each with fewer visits
/// than the one before: 40 pages, or 260 for an odd app (more than WeChat gives).
pub fn pages(appid: &str, day: NaiveDate, odd: bool) -> Vec<Page> {
    let d = cst::compact(day);
    let count = if odd { 260 } else { 40 };
    let most = int(&[appid, &d, "most"], 5_000, 200_000);
    (0..count)
        .map(|rank: u64| {
            let path = match NAMED.get(rank as usize) {
                Some(p) => p.to_string(),
                None => format!("pages/p{rank:03}/index"),
            };
            // Falls with the rank by more than 1 a step, so no two pages tie.
            let pv = most * 1_000 / (1_000 + 37 * rank);
            let r = rank.to_string();
            let share_pv = pv / int(&[appid, &d, &r, "sharediv"], 50, 500);
            Page {
                page_path: path.into(),
                page_visit_pv: (pv as f64).into(),
                page_visit_uv: ((pv / int(&[appid, &d, &r, "uvdiv"], 2, 5)) as f64).into(),
                page_staytime_pv: dec4(&[appid, &d, &r, "stay"], 1.0, 60.0).into(),
                entrypage_pv: ((pv * int(&[appid, &d, &r, "entry"], 1, 60) / 100) as f64).into(),
                exitpage_pv: ((pv * int(&[appid, &d, &r, "exit"], 5, 70) / 100) as f64).into(),
                page_share_pv: (share_pv as f64).into(),
                page_share_uv: ((share_pv * int(&[appid, &d, &r, "shareuv"], 50, 100) / 100) as f64).into(),
            }
        })
        .collect()
}

/// Odd apps send visits as strings and leave `page_share_uv` out.
pub fn answer(st: &SimState, app: &SimApp, req: &Value) -> Value {
    let day = match mini_program_day(st, app, req) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let d = cst::compact(day);
    if !st.active(app, day) {
        return json!({"ref_date": d, "list": []});
    }
    let mut top: Vec<Page> = pages(&app.appid, day, app.odd).into_iter().take(MAX_TOP as usize).collect();
    top.sort_by_key(|p| hash(&[&app.appid, &d, p.page_path.as_deref().unwrap_or_default(), "order"]));
    let list: Vec<Value> = top
        .into_iter()
        .map(|mut p| {
            if app.odd {
                p.page_share_uv = Loose(None);
            }
            wire(&p, app, &["page_visit_pv", "page_visit_uv"])
        })
        .collect();
    json!({"ref_date": d, "list": list})
}
