//! The simulator's numbers: deterministic functions of (appid, day, field), so a
//! test can compute exactly what the exporter should serve, and a demo shows
//! plausible values that change from day to day.

use chrono::NaiveDate;

/// FNV-1a: small, stable across Rust versions (unlike the std hasher).
pub fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// A whole number in `lo..hi`.
pub fn int(parts: &[&str], lo: u64, hi: u64) -> u64 {
    lo + hash(parts) % (hi - lo).max(1)
}

/// A number in `lo..hi` with four decimals, as WeChat gives averages.
pub fn dec4(parts: &[&str], lo: f64, hi: f64) -> f64 {
    let unit = (hash(parts) % 1_000_000) as f64 / 1_000_000.0;
    ((lo + unit * (hi - lo)) * 10_000.0).round() / 10_000.0
}

/// getDailyVisitTrend's row for one app and day.
#[derive(Clone, Debug, PartialEq)]
pub struct VisitRow {
    pub session_cnt: u64,
    pub visit_pv: u64,
    pub visit_uv: u64,
    pub visit_uv_new: u64,
    pub stay_time_uv: f64,
    pub stay_time_session: f64,
    pub visit_depth: f64,
}

pub fn visit_row(appid: &str, day: NaiveDate) -> VisitRow {
    let d = day.format("%Y%m%d").to_string();
    let uv = int(&[appid, &d, "uv"], 1_000, 60_000);
    VisitRow {
        session_cnt: uv * int(&[appid, &d, "spu"], 2, 4),
        visit_pv: uv * int(&[appid, &d, "pvu"], 4, 9),
        visit_uv: uv,
        visit_uv_new: uv / int(&[appid, &d, "newdiv"], 5, 15),
        stay_time_uv: dec4(&[appid, &d, "stu"], 30.0, 400.0),
        stay_time_session: dec4(&[appid, &d, "sts"], 10.0, 200.0),
        visit_depth: dec4(&[appid, &d, "depth"], 1.0, 6.0),
    }
}

/// getPerformance's cost in milliseconds for one app, day and query (in WeChat's codes).
pub fn cost_ms(appid: &str, day: NaiveDate, cost_time_type: i64, filters: &str) -> u64 {
    let d = day.format("%Y%m%d").to_string();
    let t = cost_time_type.to_string();
    let (lo, hi) = match cost_time_type {
        1 => (800, 4_000),
        2 => (200, 2_500),
        _ => (100, 1_500),
    };
    int(&[appid, &d, &t, filters], lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_stable_and_vary() {
        let d1 = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let d2 = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        assert_eq!(visit_row("wx1", d1), visit_row("wx1", d1));
        assert_ne!(visit_row("wx1", d1), visit_row("wx1", d2));
        assert_ne!(visit_row("wx1", d1), visit_row("wx2", d1));
        let r = visit_row("wx1", d1);
        assert!(r.visit_uv_new < r.visit_uv && r.visit_uv < r.visit_pv);
        assert_ne!(hash(&["ab", "c"]), hash(&["a", "bc"]), "parts are kept apart");
    }
}
