//! cloudbase.getStatistics (SMS marketing) as WeChat answers it: a dynamic table
//! of columns and string values, paged through `total_num`, and errcode 10011
//! when there is no data (an env or activity it does not know).

use serde_json::{Value, json};

use super::{SimApp, SimState, data, errcode};
use crate::collectors::Account;

pub const PATH: &str = "/tcb/getstatistics";

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

    let rows: Vec<Vec<data::SmsCell>> = match action {
        "overview" => match cond("by_channel_id") {
            Some("0") => vec![data::sms_row(&app.appid, activity, action, None, "", app.odd)],
            Some("1") => activity
                .channels
                .iter()
                .map(|c| data::sms_row(&app.appid, activity, action, Some(c), "", app.odd))
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
            vec![data::sms_row(&app.appid, activity, action, Some(channel), act_type, app.odd)]
        }
    };

    let total = rows.len();
    let page: Vec<&Vec<data::SmsCell>> = match paging {
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
