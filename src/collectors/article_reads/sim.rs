//! getuserread as WeChat answers it: an Official Account's API, `YYYY-MM-DD`
//! dates, spans of at most 3 days, a row per source with readers and one for all
//! sources together (99999999).

use chrono::{Duration, NaiveDate};
use serde_json::{Value, json};

use super::{ALL_SOURCES, MAX_DAYS, Row};
use crate::collectors::Account;
use crate::cst;
use crate::simulator::data::int;
use crate::simulator::{SimApp, SimState, check_dates, errcode, wire};
use crate::wechat::json::Loose;

/// The sources of getuserread (its documents' codes: 0 conversation, 1 friends,
/// 2 Moments, 4 history page, 5 other, 6 Top Stories, 7 Search) and all together.
pub const SOURCES: &[i64] = &[0, 1, 2, 4, 5, 6, 7, ALL_SOURCES];

/// The day's rows for one app, as sent: a source without readers has no row; the
/// all-sources row sums the others. Odd apps leave the original-page figures out.
pub fn rows(appid: &str, day: NaiveDate, odd: bool) -> Vec<Row> {
    let d = cst::compact(day);
    let mut rows: Vec<Row> = SOURCES[..SOURCES.len() - 1]
        .iter()
        .filter(|src| int(&[appid, &d, &src.to_string(), "read-active"], 0, 3) != 0)
        .map(|src| {
            let s = src.to_string();
            let n = |f: &str, lo, hi| Loose(Some(int(&[appid, &d, &s, f], lo, hi) as f64));
            let users = int(&[appid, &d, &s, "read-users"], 1, 5_000);
            Row {
                ref_date: cst::dashed(day).into(),
                user_source: (*src).into(),
                int_page_read_user: (users as f64).into(),
                int_page_read_count: ((users + int(&[appid, &d, &s, "rereads"], 0, users)) as f64).into(),
                ori_page_read_user: if odd { Loose(None) } else { n("ori-users", 0, 50) },
                ori_page_read_count: if odd { Loose(None) } else { n("ori-reads", 0, 120) },
                share_user: n("share-users", 0, 200),
                share_count: n("shares", 0, 400),
                add_to_fav_user: n("fav-users", 0, 60),
                add_to_fav_count: n("favs", 0, 90),
            }
        })
        .collect();
    let sum = |f: fn(&Row) -> &Loose<f64>| -> Loose<f64> {
        let vals: Vec<f64> = rows.iter().filter_map(|r| f(r).get()).collect();
        Loose((!vals.is_empty()).then(|| vals.iter().sum()))
    };
    let all = Row {
        ref_date: cst::dashed(day).into(),
        user_source: ALL_SOURCES.into(),
        int_page_read_user: sum(|r| &r.int_page_read_user),
        int_page_read_count: sum(|r| &r.int_page_read_count),
        ori_page_read_user: sum(|r| &r.ori_page_read_user),
        ori_page_read_count: sum(|r| &r.ori_page_read_count),
        share_user: sum(|r| &r.share_user),
        share_count: sum(|r| &r.share_count),
        add_to_fav_user: sum(|r| &r.add_to_fav_user),
        add_to_fav_count: sum(|r| &r.add_to_fav_count),
    };
    if !rows.is_empty() {
        rows.push(all);
    }
    rows
}

const AS_TEXT: &[&str] = &["int_page_read_user", "int_page_read_count", "share_user", "share_count"];

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
        .flat_map(|d| rows(&app.appid, d, app.odd))
        .map(|r| wire(&r, app, AS_TEXT))
        .collect();
    json!({ "list": list })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_without_readers_have_no_row() {
        let d0 = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let days: Vec<Vec<Row>> = (0..30).map(|i| rows("wx1", d0 + Duration::days(i), false)).collect();
        assert!(days.iter().any(|r| !r.is_empty() && r.len() < SOURCES.len()));
        for r in days.iter().filter(|r| !r.is_empty()) {
            let all = r.last().unwrap();
            assert_eq!(all.user_source.get(), Some(ALL_SOURCES));
            let sum: f64 = r[..r.len() - 1].iter().map(|x| x.int_page_read_count.get().unwrap()).sum();
            assert_eq!(all.int_page_read_count.get(), Some(sum));
        }
    }
}
