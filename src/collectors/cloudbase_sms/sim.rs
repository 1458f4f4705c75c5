//! cloudbase.getStatistics (SMS marketing) as WeChat answers it: a dynamic table
//! of columns and string values, paged through `total_num`, and errcode 10011
//! when there is no data (an env or activity it does not know).

use serde_json::{Value, json};

use crate::collectors::Account;
use crate::simulator::data::int;
use crate::simulator::{SimApp, SimState, SmsActivity, errcode};

/// The most rows the simulator puts on one page, whatever `page_limit` asks, so
/// that a table of a few channels already needs paging.
pub const PAGE_MAX: usize = 2;

pub fn answer(_st: &SimState, app: &SimApp, req: &Value) -> Value {
    if app.account != Account::Miniprogram {
        return errcode(48001, "api unauthorized");
    }
    let invalid = || errcode(200002, "invalid args");
    let (Some(begin), Some(end)) =
        (req.get("begin_date").and_then(Value::as_i64), req.get("end_date").and_then(Value::as_i64))
    else {
        return invalid();
    };
    if end < begin {
        return invalid();
    }
    let cond = |k: &str| req.get("condition").and_then(|c| c.get(k)).and_then(Value::as_str);
    let (Some(env_id), Some(activity_id)) = (cond("env_id"), cond("activity_id")) else {
        return invalid();
    };
    let action = match req.get("action").and_then(Value::as_str) {
        Some("smsMarketingOverviewData") => "overview",
        Some("smsMarketingConversionData") => "conversion",
        Some("smsMarketingRealTimeData") => "realtime",
        _ => return invalid(),
    };
    let paging = match (req.get("page_offset").and_then(Value::as_u64), req.get("page_limit").and_then(Value::as_u64)) {
        (Some(o), Some(l)) if l > 0 => Some((o as usize, l as usize)),
        _ if action == "realtime" => None,
        _ => return invalid(),
    };
    let Some(activity) = app.sms.iter().find(|a| a.env_id == env_id && a.activity_id == activity_id) else {
        return errcode(10011, "no data");
    };

    let rows: Vec<Vec<SmsCell>> = match action {
        "overview" => match cond("by_channel_id") {
            Some("0") => vec![sms_row(&app.appid, activity, action, None, "", app.odd)],
            Some("1") => activity
                .channels
                .iter()
                .map(|c| sms_row(&app.appid, activity, action, Some(c), "", app.odd))
                .collect(),
            _ => return invalid(),
        },
        _ => {
            let Some(channel) = cond("channel_id") else { return invalid() };
            let act_type = match (action, cond("act_type")) {
                ("realtime", Some(t @ ("h5" | "wxapp"))) => t,
                ("realtime", _) => return invalid(),
                _ => "",
            };
            if !activity.channels.iter().any(|c| c == channel) {
                return errcode(10011, "no data");
            }
            vec![sms_row(&app.appid, activity, action, Some(channel), act_type, app.odd)]
        }
    };

    let total = rows.len();
    let page: Vec<&Vec<SmsCell>> = match paging {
        Some((offset, limit)) => rows.iter().skip(offset).take(limit.min(PAGE_MAX)).collect(),
        None => rows.iter().collect(),
    };
    let columns = rows.first().map(|r| r.as_slice()).unwrap_or_default();
    if app.odd {
        // The cloud-call shape, as a gateway relaying `openapi.cloudbase.getStatistics` answers.
        json!({
            "dataColumn": columns.iter().map(|c| json!({"colId": c.col_id, "colName": c.col_name, "colDataType": c.col_data_type.to_string()})).collect::<Vec<_>>(),
            "dataValue": page.iter().map(|r| json!({"dataValue": r.iter().map(|c| c.value.clone()).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "totalNum": total,
            "errMsg": "openapi.cloudbase.getStatistics:ok",
        })
    } else {
        json!({
            "errcode": 0,
            "data_column": columns.iter().map(|c| json!({"col_id": c.col_id, "col_name": c.col_name, "col_data_type": c.col_data_type.to_string()})).collect::<Vec<_>>(),
            "data_value": page.iter().map(|r| json!({"data_value": r.iter().map(|c| c.value.clone()).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "total_num": total,
        })
    }
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

/// The demo's block: the app's first env, with every activity there.
pub fn demo(app: &SimApp) -> Option<String> {
    let env = app.sms.first().map(|s| s.env_id.as_str())?;
    let mut out = format!("      cloudbase_sms:\n        interval: 1m\n        env_id: {env}\n        activities:\n");
    for act in app.sms.iter().filter(|s| s.env_id == env) {
        out.push_str(&format!(
            "          - activity_id: {}\n            channel_ids: [{}]\n",
            act.activity_id,
            act.channels.join(", ")
        ));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
