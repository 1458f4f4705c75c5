//! The simulator's numbers: deterministic functions of (appid, day, field), so a
//! test can compute exactly what the exporter should serve, and a demo shows
//! plausible values that change from day to day.

use chrono::NaiveDate;

use super::SmsActivity;

/// The hash every simulated number comes from.
pub fn hash(parts: &[&str]) -> u64 {
    crate::fnv::hash_parts(parts)
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

/// A row of getinterfacesummary or of one hour of getinterfacesummaryhour (costs in ms).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InterfaceRow {
    pub callback_count: u64,
    pub fail_count: u64,
    pub total_time_cost: u64,
    pub max_time_cost: u64,
}

/// One hour (UTC+8) of an Official Account's passive replies: busier by day than by night.
pub fn interface_hour(appid: &str, day: NaiveDate, hour: u32) -> InterfaceRow {
    let d = day.format("%Y%m%d").to_string();
    let h = hour.to_string();
    let busy = if (8..23).contains(&hour) { 4 } else { 1 };
    let callbacks = busy * int(&[appid, &d, &h, "cb"], 20, 600);
    let avg_ms = int(&[appid, &d, &h, "avg"], 40, 400);
    InterfaceRow {
        callback_count: callbacks,
        fail_count: callbacks / int(&[appid, &d, &h, "faildiv"], 15, 120),
        total_time_cost: callbacks * avg_ms,
        max_time_cost: (avg_ms * int(&[appid, &d, &h, "maxmul"], 3, 14)).min(5_000),
    }
}

/// The day's summary: the sum of its hours, and the longest of their maxima.
pub fn interface_day(appid: &str, day: NaiveDate) -> InterfaceRow {
    (0..24).map(|h| interface_hour(appid, day, h)).fold(InterfaceRow::default(), |acc, r| InterfaceRow {
        callback_count: acc.callback_count + r.callback_count,
        fail_count: acc.fail_count + r.fail_count,
        total_time_cost: acc.total_time_cost + r.total_time_cost,
        max_time_cost: acc.max_time_cost.max(r.max_time_cost),
    })
}

/// One cell of a getStatistics table: the column, its `col_data_type` (0 string,
/// 1 number, 2 double) and the value as WeChat sends it, a string.
#[derive(Clone, Debug, PartialEq)]
pub struct SmsCell {
    pub col_id: &'static str,
    pub col_name: &'static str,
    pub col_data_type: u8,
    pub value: String,
}

/// One SMS channel's funnel: messages sent, H5 pages opened, mini program jumps.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SmsFunnel {
    pub sent: u64,
    pub h5: u64,
    pub jump: u64,
}

pub fn sms_funnel(appid: &str, activity_id: &str, channel_id: &str) -> SmsFunnel {
    let sent = int(&[appid, activity_id, channel_id, "sent"], 1_000, 20_000);
    let h5 = sent * int(&[appid, activity_id, channel_id, "h5pct"], 20, 60) / 100;
    let jump = h5 * int(&[appid, activity_id, channel_id, "jumppct"], 30, 80) / 100;
    SmsFunnel { sent, h5, jump }
}

/// A ratio as WeChat writes it: up to six decimals, trailing zeros dropped ("0.625").
pub fn ratio(num: u64, den: u64) -> String {
    if den == 0 {
        return "0".into();
    }
    let s = format!("{:.6}", num as f64 / den as f64);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The row getStatistics gives for `action` (overview, conversion, realtime) of
/// `activity`: for `channel` (None: the whole activity,
/// the overview without channels) and, for realtime, `act_type`. `odd` apps have an
/// extra numeric column in the overview (one WeChat "added") and a conversion value
/// "N/A".
pub fn sms_row(
    appid: &str,
    activity: &SmsActivity,
    action: &str,
    channel: Option<&str>,
    act_type: &str,
    odd: bool,
) -> Vec<SmsCell> {
    let (env_id, activity_id) = (activity.env_id.as_str(), activity.activity_id.as_str());
    let cell = |col_id, col_name, col_data_type, value: String| SmsCell { col_id, col_name, col_data_type, value };
    let total = activity.channels.iter().map(|c| sms_funnel(appid, activity_id, c)).fold(SmsFunnel::default(), |a, f| SmsFunnel {
        sent: a.sent + f.sent,
        h5: a.h5 + f.h5,
        jump: a.jump + f.jump,
    });
    let f = channel.map(|c| sms_funnel(appid, activity_id, c)).unwrap_or(total);
    let mut row = vec![
        cell("appid", "小程序id", 0, appid.to_string()),
        cell("env_id", "环境id", 0, env_id.to_string()),
        cell("activity_id", "活动id", 0, activity_id.to_string()),
    ];
    if let Some(c) = channel {
        row.push(cell("channel_id", "渠道", 0, c.to_string()));
    }
    match action {
        "realtime" => {
            let users = if act_type == "wxapp" { f.jump } else { f.h5 };
            let c = channel.unwrap_or_default();
            row.push(cell("act_type", "行为", 0, act_type.to_string()));
            row.push(cell("act_uercnt", "行为人数", 1, users.to_string()));
            let times = users * int(&[appid, activity_id, c, act_type, "times"], 100, 180) / 100;
            row.push(cell("act_cnt", "行为次数", 1, times.to_string()));
        }
        _ => {
            row.push(cell("h5_open_uercnt", "h5打开人数", 1, f.h5.to_string()));
            row.push(cell("jump_wxapp_uercnt", "小程序跳转人数", 1, f.jump.to_string()));
            row.push(cell("sms_send_uercnt", "短信下发人数", 1, f.sent.to_string()));
            if action == "conversion" {
                row.push(cell("sms_send_list", "下发记录数组", 0, format!("[task1:{}]", f.sent)));
            }
            row.push(cell("jump_wxapp_uercnt_percent", "跳转人数渠道占比", 2, ratio(f.jump, total.jump)));
            row.push(cell("h5_open_uercnt_percent", "h5打开人数渠道占比", 2, ratio(f.h5, total.h5)));
            row.push(cell("h5_sms_rate", "短信到h5转化率", 2, ratio(f.h5, f.sent)));
            let jump_h5 = if odd && action == "conversion" { "N/A".to_string() } else { ratio(f.jump, f.h5) };
            row.push(cell("jump_h5_rate", "h5到跳转转化率", 2, jump_h5));
            if odd && action == "overview" {
                let failed = f.sent / int(&[appid, activity_id, channel.unwrap_or_default(), "faildiv"], 20, 200);
                row.push(cell("sms_fail_uercnt", "短信下发失败人数", 1, failed.to_string()));
            }
        }
    }
    row
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

    #[test]
    fn interface_day_sums_its_hours() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let day = interface_day("wx1", d);
        let hours: Vec<InterfaceRow> = (0..24).map(|h| interface_hour("wx1", d, h)).collect();
        assert_eq!(day.callback_count, hours.iter().map(|h| h.callback_count).sum::<u64>());
        assert_eq!(day.max_time_cost, hours.iter().map(|h| h.max_time_cost).max().unwrap());
        assert!(hours.iter().all(|h| h.fail_count < h.callback_count && h.max_time_cost <= 5_000));
    }

    #[test]
    fn sms_rows_add_up() {
        let act = SmsActivity::new("env", "act", &["a", "b"]);
        let get = |row: &[SmsCell], col: &str| row.iter().find(|c| c.col_id == col).map(|c| c.value.clone());
        let whole = sms_row("wx1", &act, "overview", None, "", false);
        let a = sms_row("wx1", &act, "overview", Some("a"), "", false);
        let b = sms_row("wx1", &act, "overview", Some("b"), "", false);
        let n = |r: &[SmsCell], c: &str| get(r, c).unwrap().parse::<u64>().unwrap();
        assert_eq!(n(&whole, "sms_send_uercnt"), n(&a, "sms_send_uercnt") + n(&b, "sms_send_uercnt"));
        assert_eq!(get(&whole, "h5_open_uercnt_percent").as_deref(), Some("1"));
        assert_eq!(get(&whole, "channel_id"), None);
        assert_eq!(ratio(5, 8), "0.625");
        assert_eq!(ratio(1, 3), "0.333333");
        let odd = sms_row("wx1", &act, "conversion", Some("a"), "", true);
        assert_eq!(get(&odd, "jump_h5_rate").as_deref(), Some("N/A"));
        let rt = sms_row("wx1", &act, "realtime", Some("a"), "wxapp", false);
        assert_eq!(n(&rt, "act_uercnt"), sms_funnel("wx1", "act", "a").jump);
    }
}
