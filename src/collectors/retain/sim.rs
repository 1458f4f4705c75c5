//! getDailyRetain as WeChat answers it: one cohort day, yesterday at the latest,
//! and only the keys whose day WeChat has published.

use chrono::{Duration, NaiveDate};
use serde_json::{Value, json};

use super::KEYS;
use crate::collectors::visit_trend;
use crate::cst;
use crate::simulator::data::int;
use crate::simulator::{SimApp, SimState, mini_program_day};

/// Cohort `cohort`'s figure for key `k`, published or not: (new, active). Key 0
/// is the day's new and active users as getDailyVisitTrend gives them; each key
/// after keeps a share of the one before.
pub fn figure(appid: &str, cohort: NaiveDate, k: i64) -> (f64, f64) {
    let day = visit_trend::sim::row(appid, cohort);
    let d = cst::compact(cohort);
    let mut new = day.visit_uv_new.get().unwrap_or(0.0) as u64;
    let mut active = day.visit_uv.get().unwrap_or(0.0) as u64;
    for key in KEYS.iter().skip(1).take_while(|key| **key <= k) {
        let key = key.to_string();
        new = new * int(&[appid, &d, &key, "new"], 40, 95) / 100;
        active = active * int(&[appid, &d, &key, "active"], 50, 97) / 100;
    }
    (new as f64, active as f64)
}

pub fn answer(st: &SimState, app: &SimApp, req: &Value) -> Value {
    let cohort = match mini_program_day(st, app, req) {
        Ok(d) => d,
        Err(e) => return e,
    };
    // A key whose day is still to come (or not yet published) is left out.
    let (mut new, mut active) = (Vec::new(), Vec::new());
    for k in KEYS.into_iter().filter(|k| st.active(app, cohort + Duration::days(*k))) {
        let (n, a) = figure(&app.appid, cohort, k);
        let item = |v: f64| {
            if app.odd {
                json!({"key": k.to_string(), "value": (v as u64).to_string()})
            } else {
                json!({"key": k, "value": v as u64})
            }
        };
        new.push(item(n));
        active.push(item(a));
    }
    json!({"ref_date": cst::compact(cohort), "visit_uv_new": new, "visit_uv": active})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cohort_shrinks_key_by_key() {
        let c = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let figures: Vec<(f64, f64)> = KEYS.iter().map(|k| figure("wx1", c, *k)).collect();
        assert!(figures.windows(2).all(|w| w[1].0 <= w[0].0 && w[1].1 <= w[0].1), "{figures:?}");
        assert!(figures[0].0 < figures[0].1, "new users are among the active ones");
        assert!(figures[9].1 > 0.0);
    }
}
