//! getUserPortrait as WeChat answers it: a span of 1, 7 or 30 days ending
//! yesterday at the latest (61501 otherwise), every dimension of both portraits.

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use crate::collectors::Account;
use crate::cst;
use crate::simulator::data::int;
use crate::simulator::{SimApp, SimState, errcode};

const PROVINCES: [&str; 10] = ["广东省", "浙江省", "江苏省", "北京", "上海", "四川省", "山东省", "湖北省", "福建省", "河南省"];
const CITIES: [&str; 12] = ["广州", "深圳", "杭州", "南京", "北京", "上海", "成都", "青岛", "武汉", "厦门", "郑州", "佛山"];
const GENDERS: [&str; 3] = ["男", "女", "未知"];
const PLATFORMS: [&str; 3] = ["iPhone", "Android", "其他"];
const DEVICES: [&str; 8] =
    ["iPhone 13", "iPhone 15 Pro", "HUAWEI Mate 60", "OPPO R9", "vivo X90", "Xiaomi 14", "HONOR 90", "iPad"];
const AGES: [&str; 6] = ["17岁以下", "18-24岁", "25-29岁", "30-39岁", "40-49岁", "50岁以上"];

fn dimensions() -> [(&'static str, &'static [&'static str]); 6] {
    [
        ("province", &PROVINCES),
        ("city", &CITIES),
        ("genders", &GENDERS),
        ("platforms", &PLATFORMS),
        ("devices", &DEVICES),
        ("ages", &AGES),
    ]
}

/// The portrait of the `days` days ending on `last`: (users, dimension, name,
/// users) for both portraits and every dimension. New users are among the active.
pub fn portrait(appid: &str, last: NaiveDate, days: i64) -> Vec<(&'static str, &'static str, &'static str, u64)> {
    let (d, n) = (cst::compact(last), days.to_string());
    let mut out = Vec::new();
    for (dim, names) in dimensions() {
        for name in names {
            let active = int(&[appid, &d, &n, dim, name, "active"], 50, 40_000) * days.max(1) as u64;
            let new = active * int(&[appid, &d, &n, dim, name, "newpct"], 5, 40) / 100;
            out.push(("new", dim, *name, new));
            out.push(("active", dim, *name, active));
        }
    }
    out
}

/// Odd apps send ids and values as strings, and `index` as WeChat's field table
/// lists it; every app's devices come without an id, as in the documented example.
pub fn answer(st: &SimState, app: &SimApp, req: &Value) -> Value {
    if app.account != Account::Miniprogram {
        return errcode(48001, "api unauthorized");
    }
    let get = |k: &str| req.get(k).and_then(Value::as_str).and_then(|s| NaiveDate::parse_from_str(s, "%Y%m%d").ok());
    let (Some(first), Some(last)) = (get("begin_date"), get("end_date")) else {
        return errcode(61500, "date format error");
    };
    let days = (last - first).num_days() + 1;
    if ![1, 7, 30].contains(&days) || last > st.yesterday() {
        return errcode(61501, "date range error");
    }
    let mut sides = [("visit_uv_new", Map::new()), ("visit_uv", Map::new())];
    for (_, side) in sides.iter_mut() {
        if app.odd {
            side.insert("index".into(), json!(0));
        }
        for (dim, _) in dimensions() {
            side.insert(dim.into(), json!([]));
        }
    }
    if st.active(app, last) {
        for (users, dim, name, v) in portrait(&app.appid, last, days) {
            let i = if users == "new" { 0 } else { 1 };
            let id = dimensions().iter().find(|(d, _)| *d == dim).and_then(|(_, ns)| ns.iter().position(|n| *n == name));
            let mut item = Map::new();
            if dim != "devices"
                && let Some(id) = id
            {
                item.insert("id".into(), if app.odd { json!((id + 1).to_string()) } else { json!(id + 1) });
            }
            item.insert("name".into(), json!(name));
            item.insert("value".into(), if app.odd { json!(v.to_string()) } else { json!(v) });
            if let Some(Value::Array(items)) = sides[i].1.get_mut(dim) {
                items.push(Value::Object(item));
            }
        }
    }
    let [(new_key, new), (active_key, active)] = sides;
    json!({"ref_date": format!("{}-{}", cst::compact(first), cst::compact(last)), new_key: new, active_key: active})
}
