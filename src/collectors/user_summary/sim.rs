//! getusersummary and getusercumulate as WeChat answers them: an Official
//! Account's API, `YYYY-MM-DD` dates, spans of at most 7 days, and no row for a
//! source without new or lost followers that day.

use chrono::{Duration, NaiveDate};
use serde_json::{Value, json};

use super::{CumulateRow, MAX_DAYS, SourceRow};
use crate::collectors::Account;
use crate::cst;
use crate::simulator::data::int;
use crate::simulator::{SimApp, SimState, check_dates, errcode, wire};
use crate::wechat::json::Loose;

/// The `user_source`s WeChat documents for getusersummary.
pub const SOURCES: &[i64] = &[0, 1, 17, 30, 57, 100, 161, 149, 200, 201];

/// The day's rows for one app, as sent: about a third of the sources have none.
/// Odd apps leave `cancel_user` out of the QR-code row.
pub fn sources(appid: &str, day: NaiveDate, odd: bool) -> Vec<SourceRow> {
    let d = cst::compact(day);
    SOURCES
        .iter()
        .filter(|src| int(&[appid, &d, &src.to_string(), "active"], 0, 3) != 0)
        .map(|src| {
            let s = src.to_string();
            let new = int(&[appid, &d, &s, "new"], 0, 400);
            let cancel = if odd && *src == 30 { None } else { Some(int(&[appid, &d, &s, "cancel"], 0, 60) as f64) };
            SourceRow {
                ref_date: cst::dashed(day).into(),
                user_source: (*src).into(),
                new_user: (new as f64).into(),
                cancel_user: Loose(cancel),
            }
        })
        .collect()
}

/// The followers at the end of `day`: a steady growth a day and a wobble smaller
/// than it; a quiet account's stay where they are.
pub fn followers(appid: &str, day: NaiveDate, quiet: bool) -> f64 {
    let base = int(&[appid, "followers"], 5_000, 2_000_000);
    if quiet {
        return base as f64;
    }
    let growth = int(&[appid, "follower-growth"], 10, 800);
    let days = (day - NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()).num_days().max(0) as u64;
    (base + days * growth + int(&[appid, &cst::compact(day), "follower-wobble"], 0, growth)) as f64
}

/// The days of a request both APIs accept, or WeChat's error.
fn days(st: &SimState, app: &SimApp, req: &Value) -> Result<Vec<NaiveDate>, Value> {
    if app.account != Account::OfficialAccount {
        return Err(errcode(48001, "api unauthorized"));
    }
    let (begin, end) = check_dates(st, req, true, MAX_DAYS)?;
    Ok((0..=(end - begin).num_days()).map(|i| begin + Duration::days(i)).collect())
}

pub fn summary(st: &SimState, app: &SimApp, req: &Value) -> Value {
    let days = match days(st, app, req) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let list: Vec<Value> = days
        .into_iter()
        .filter(|d| st.active(app, *d))
        .flat_map(|d| sources(&app.appid, d, app.odd))
        .map(|r| wire(&r, app, &["user_source", "new_user", "cancel_user"]))
        .collect();
    json!({ "list": list })
}

/// A quiet account still has its followers: its rows are there once published.
pub fn cumulate(st: &SimState, app: &SimApp, req: &Value) -> Value {
    let days = match days(st, app, req) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let list: Vec<Value> = days
        .into_iter()
        .filter(|d| st.published(app, *d))
        .map(|d| {
            let r = CumulateRow { ref_date: cst::dashed(d).into(), cumulate_user: followers(&app.appid, d, app.quiet).into() };
            wire(&r, app, &["cumulate_user"])
        })
        .collect();
    json!({ "list": list })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_without_followers_have_no_row() {
        let d0 = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let days: Vec<Vec<SourceRow>> = (0..30).map(|i| sources("wx1", d0 + Duration::days(i), false)).collect();
        assert!(days.iter().all(|r| r.len() < SOURCES.len() + 1));
        assert!(days.iter().any(|r| r.len() < SOURCES.len()));
        assert!(followers("wx1", d0 + Duration::days(1), false) > followers("wx1", d0, false), "followers grow");
    }
}
