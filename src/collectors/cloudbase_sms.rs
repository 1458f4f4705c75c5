//! `cloudbase_sms`: cloudbase.getStatistics, a mini program's CloudBase
//! SMS-marketing statistics, for each configured activity of one env.
//!
//! WeChat answers with a table whose columns it describes itself (`data_column`)
//! and whose values are strings (`data_value`). Every column of type number (1)
//! or double (2) becomes the gauge `wechat_cloudbase_sms_<col_id>`, so a column
//! WeChat adds appears without a code change. A value that does not parse is
//! skipped and counted, never exported as 0.
//!
//! Time window: from [`SINCE`] to now. The numbers are an activity's totals
//! (messages sent, pages opened), which only grow while it runs; a window fixed at
//! the start keeps them so, where a sliding window would make them fall as old
//! days leave it. [`SINCE`] is before SMS marketing existed, so every activity's
//! whole life is inside.

pub mod sim;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::kind::{MINI_PROGRAM, MINUTE};
use super::{BoxFuture, Collector, Output, PollContext, Route, SettingsError};
use crate::store::{Desc, Kind, Label, Sample};
use crate::wechat::json::{self, Loose};
use crate::wechat::{Api, WechatError};

/// Runs only where configured: it needs an env and activity ids.
pub static KIND: super::Kind<Settings> = super::Kind {
    name: "cloudbase_sms",
    // CloudBase belongs to mini programs: an Official Account has no env of its own.
    accounts: MINI_PROGRAM,
    default: false,
    interval: std::time::Duration::from_secs(15 * 60),
    comfortable: MINUTE,
    // The columns WeChat documents; a column it adds is served too, named by its col_id.
    metrics: &[
        &Desc::gauge("wechat_cloudbase_sms_sms_send_uercnt", "CloudBase SMS marketing: getStatistics column sms_send_uercnt."),
        &Desc::gauge("wechat_cloudbase_sms_h5_open_uercnt", "CloudBase SMS marketing: getStatistics column h5_open_uercnt."),
        &Desc::gauge("wechat_cloudbase_sms_jump_wxapp_uercnt", "CloudBase SMS marketing: getStatistics column jump_wxapp_uercnt."),
        &Desc::gauge("wechat_cloudbase_sms_h5_sms_rate", "CloudBase SMS marketing: getStatistics column h5_sms_rate."),
        &Desc::gauge("wechat_cloudbase_sms_jump_h5_rate", "CloudBase SMS marketing: getStatistics column jump_h5_rate."),
    ],
    build: |s| Box::new(CloudbaseSms::new(s.clone())),
    describe: |s| s.to_string(),
    routes: &[Route { api: &API, answer: sim::answer }],
    demo: sim::demo,
    ..super::Kind::BASE
};

/// errcode 10011: no data. An empty result, not a failure.
pub const NO_DATA: i64 = 10011;

pub const API: Api = Api::post("cloudbase.getStatistics", "/tcb/getstatistics").with_no_data(&[NO_DATA]);

/// 2021-01-01 00:00 UTC+8, before CloudBase SMS marketing was launched.
pub const SINCE: i64 = 1_609_430_400;
/// Rows asked for per page, as WeChat's own example does.
pub const PAGE_LIMIT: u64 = 1000;
/// A bound on pages per query, against a `total_num` that never comes true.
pub const MAX_PAGES: usize = 100;
/// The metric name prefix of every column.
pub const PREFIX: &str = "wechat_cloudbase_sms_";
/// The `channel_id` of the overview without channels: the whole activity. "all",
/// as the other collectors name an unfiltered dimension.
pub const ALL_CHANNELS: &str = "all";

pub const UNPARSED: Desc = Desc::counter(
    "wechat_exporter_cloudbase_sms_unparsed_values",
    "getStatistics values of numeric columns that were not numbers (such as \"N/A\"): skipped, not exported.",
);

/// One configured activity and the channels whose funnel and real-time data are asked for.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    pub activity_id: String,
    /// Left out or empty: only the overview (which lists every channel) is asked for.
    #[serde(default)]
    pub channel_ids: Vec<String>,
}

/// Settings of the `cloudbase_sms` collector.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub env_id: String,
    #[serde(default)]
    pub activities: Vec<Activity>,
}

impl super::Settings for Settings {
    /// An env, at least one activity, no id twice (a second one would only repeat
    /// the first one's series).
    fn check(self) -> Result<Settings, SettingsError> {
        let env_id = self.env_id.trim();
        if env_id.is_empty() {
            return Err(SettingsError::new(
                "env_id",
                "env_id is required: the CloudBase env the SMS-marketing activities run in (as the CloudBase console shows it)",
                &["env_id:"],
            ));
        }
        if self.activities.is_empty() {
            return Err(SettingsError::new(
                "activities",
                "add at least one activity, like `activities: [{activity_id: 21ded5cb…, channel_ids: [_cms_sms_]}]`",
                &["activities:"],
            ));
        }
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(self.activities.len());
        for (j, a) in self.activities.into_iter().enumerate() {
            let key = |k: &str| format!("activities[{j}].{k}");
            let id = a.activity_id.trim().to_string();
            if id.is_empty() {
                return Err(SettingsError::new(key("activity_id"), "the activity_id is empty", &["activity_id:", "activities:"]));
            }
            if !seen.insert(id.clone()) {
                return Err(SettingsError::new(key("activity_id"), format!("activity {id} is listed twice"), &[&id]));
            }
            let mut channels = HashSet::new();
            let mut channel_ids = Vec::with_capacity(a.channel_ids.len());
            for c in a.channel_ids {
                let c = c.trim().to_string();
                if c.is_empty() {
                    return Err(SettingsError::new(
                        key("channel_ids"),
                        "a channel id is empty (CloudBase CMS sends as _cms_sms_)",
                        &["channel_ids:"],
                    ));
                }
                if !channels.insert(c.clone()) {
                    return Err(SettingsError::new(key("channel_ids"), format!("channel {c} is listed twice"), &["channel_ids:"]));
                }
                channel_ids.push(c);
            }
            out.push(Activity { activity_id: id, channel_ids });
        }
        Ok(Settings { env_id: env_id.to_string(), activities: out })
    }
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in env {}: ", API.name, self.env_id)?;
        for (i, a) in self.activities.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "activity {} (overview, whole and by channel", a.activity_id)?;
            if !a.channel_ids.is_empty() {
                write!(f, "; conversion and realtime h5/wxapp for {}", a.channel_ids.join(", "))?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActType {
    H5,
    Wxapp,
}

impl ActType {
    pub fn word(self) -> &'static str {
        match self {
            ActType::H5 => "h5",
            ActType::Wxapp => "wxapp",
        }
    }
}

/// One question about an activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query<'a> {
    /// `by_channel`: one row per channel; otherwise one row for the whole activity.
    Overview {
        by_channel: bool,
    },
    Conversion {
        channel_id: &'a str,
    },
    Realtime {
        channel_id: &'a str,
        act_type: ActType,
    },
}

/// Everything asked about one activity.
pub fn queries(activity: &Activity) -> Vec<Query<'_>> {
    let mut out = vec![Query::Overview { by_channel: false }, Query::Overview { by_channel: true }];
    for c in &activity.channel_ids {
        out.push(Query::Conversion { channel_id: c });
        out.push(Query::Realtime { channel_id: c, act_type: ActType::H5 });
        out.push(Query::Realtime { channel_id: c, act_type: ActType::Wxapp });
    }
    out
}

impl<'a> Query<'a> {
    /// WeChat's name of the action.
    pub fn action(self) -> &'static str {
        match self {
            Query::Overview { .. } => "smsMarketingOverviewData",
            Query::Conversion { .. } => "smsMarketingConversionData",
            Query::Realtime { .. } => "smsMarketingRealTimeData",
        }
    }

    /// The `action` label.
    pub fn word(self) -> &'static str {
        match self {
            Query::Overview { .. } => "overview",
            Query::Conversion { .. } => "conversion",
            Query::Realtime { .. } => "realtime",
        }
    }

    /// Whether the action pages (WeChat documents page_offset/page_limit for these only).
    pub fn paged(self) -> bool {
        !matches!(self, Query::Realtime { .. })
    }

    pub fn request(
        self,
        env_id: &'a str,
        activity_id: &'a str,
        begin: i64,
        end: i64,
        offset: Option<u64>,
    ) -> Request<'a> {
        let (by_channel_id, channel_id, act_type) = match self {
            Query::Overview { by_channel } => (Some(if by_channel { "1" } else { "0" }), None, None),
            Query::Conversion { channel_id } => (None, Some(channel_id), None),
            Query::Realtime { channel_id, act_type } => (None, Some(channel_id), Some(act_type.word())),
        };
        Request {
            action: self.action(),
            begin_date: begin,
            end_date: end,
            page_offset: offset,
            page_limit: offset.map(|_| PAGE_LIMIT),
            condition: Condition { env_id, activity_id, by_channel_id, channel_id, act_type },
        }
    }
}

#[derive(Serialize, Debug, PartialEq)]
pub struct Request<'a> {
    pub action: &'static str,
    pub begin_date: i64,
    pub end_date: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_limit: Option<u64>,
    pub condition: Condition<'a>,
}

#[derive(Serialize, Debug, PartialEq)]
pub struct Condition<'a> {
    pub env_id: &'a str,
    pub activity_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_channel_id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act_type: Option<&'static str>,
}

/// One page of the table, in the HTTPS shape or the cloud call's camelCase one.
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Response {
    #[serde(alias = "dataColumn", deserialize_with = "json::list")]
    pub data_column: Vec<Column>,
    #[serde(alias = "dataValue", deserialize_with = "json::list")]
    pub data_value: Vec<Row>,
    #[serde(alias = "totalNum")]
    pub total_num: Loose<i64>,
}

#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Column {
    #[serde(alias = "colId")]
    pub col_id: Loose<String>,
    #[serde(alias = "colName")]
    pub col_name: Loose<String>,
    /// "0" string, "1" number, "2" double. Kept raw: a type we cannot read is not numeric.
    #[serde(alias = "colDataType")]
    pub col_data_type: Option<Value>,
}

impl Column {
    pub fn numeric(&self) -> bool {
        matches!(json::value_i64(self.col_data_type.as_ref()), Ok(Some(1 | 2)))
    }

    fn is_channel(&self) -> bool {
        matches!(self.col_id.as_deref(), Some("channel_id" | "channelId"))
    }
}

#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
pub struct Row {
    #[serde(default, alias = "dataValue", deserialize_with = "json::list")]
    pub data_value: Vec<Value>,
}

/// The metric name of a column: `wechat_cloudbase_sms_` and the col_id in
/// snake_case, anything but letters, digits and `_` made `_`. A name ending like a
/// counter's or a histogram's series (`_total`, `_count`, `_sum`, `_bucket`,
/// `_created`) gets `_value` added, so no tool takes the gauge for one. None for an
/// empty col_id.
pub fn metric_name(col_id: &str) -> Option<String> {
    let chars: Vec<char> = col_id.trim().chars().collect();
    let mut snake = String::with_capacity(chars.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(|p| p.is_ascii_uppercase()) && next.is_some_and(|n| n.is_ascii_lowercase()));
            if boundary {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            snake.push(c);
        } else {
            snake.push('_');
        }
    }
    let parts: Vec<&str> = snake.split('_').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return None;
    }
    let mut name = format!("{PREFIX}{}", parts.join("_"));
    if ["_total", "_count", "_sum", "_bucket", "_created"].iter().any(|s| name.ends_with(s)) {
        name.push_str("_value");
    }
    Some(name)
}

/// A cell of a numeric column.
#[derive(Debug, PartialEq)]
enum Cell {
    Missing,
    Number(f64),
    Unparsed,
}

fn cell(v: Option<&Value>) -> Cell {
    match json::value_f64(v) {
        Ok(Some(f)) => Cell::Number(f),
        Ok(None) => Cell::Missing,
        Err(_) => Cell::Unparsed,
    }
}

/// Samples kept once per series: should WeChat send two rows for one label set
/// (or two col_ids become one name), the later one wins instead of making the
/// exposition invalid.
#[derive(Default)]
pub struct Series {
    samples: Vec<Sample>,
    index: HashMap<(String, Vec<Label>), usize>,
}

impl Series {
    fn push(&mut self, s: Sample) {
        let key = (s.desc.name.to_string(), s.labels.clone());
        match self.index.get(&key) {
            Some(&i) => self.samples[i] = s,
            None => {
                self.index.insert(key, self.samples.len());
                self.samples.push(s);
            }
        }
    }

    pub fn into_samples(self) -> Vec<Sample> {
        self.samples
    }
}

impl Query<'_> {
    /// One page's samples. `unparsed` counts values that were not numbers.
    pub fn samples(self, env_id: &str, activity_id: &str, page: &Response, unparsed: &mut u64, out: &mut Series) {
        let channel_col = page.data_column.iter().position(Column::is_channel);
        let numeric: Vec<(usize, Desc, &str)> = page
            .data_column
            .iter()
            .enumerate()
            .filter(|(_, c)| c.numeric())
            .filter_map(|(i, c)| {
                let id = c.col_id.as_deref()?;
                let name = metric_name(id)?;
                let shown: String = id.chars().filter(|c| !c.is_control()).take(64).collect();
                let help = format!("CloudBase SMS marketing: getStatistics column {shown}.");
                Some((i, Desc { name: name.into(), help: help.into(), kind: Kind::Gauge }, id))
            })
            .collect();
        for row in &page.data_value {
            let channel = match self {
                Query::Overview { by_channel: false } => ALL_CHANNELS.to_string(),
                Query::Overview { by_channel: true } => {
                    match channel_col.and_then(|i| row.data_value.get(i)).and_then(label_value) {
                        Some(c) => c,
                        None => {
                            tracing::debug!(activity_id, "getStatistics overview row without a channel_id; skipped");
                            continue;
                        }
                    }
                }
                Query::Conversion { channel_id } | Query::Realtime { channel_id, .. } => channel_id.to_string(),
            };
            for (i, desc, col_id) in &numeric {
                let value = match cell(row.data_value.get(*i)) {
                    Cell::Number(v) => v,
                    Cell::Missing => continue,
                    Cell::Unparsed => {
                        *unparsed += 1;
                        tracing::debug!(
                            activity_id,
                            action = self.word(),
                            column = *col_id,
                            "getStatistics value is not a number; skipped"
                        );
                        continue;
                    }
                };
                let mut s = Sample::new(desc, value)
                    .label("env_id", env_id)
                    .label("activity_id", activity_id)
                    .label("channel_id", channel.clone())
                    .label("action", self.word());
                if let Query::Realtime { act_type, .. } = self {
                    s = s.label("act_type", act_type.word());
                }
                out.push(s);
            }
        }
    }
}

/// A cell as a label value: a non-empty string, or a number WeChat sent as one.
fn label_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Every page of one query. `fetch` gets the offset to ask from (None for an action
/// that does not page); pages are asked for while `total_num` says more rows exist.
/// 10011 is an empty result, on the first page or a later one.
pub async fn pages<F, Fut>(paged: bool, mut fetch: F) -> Result<Vec<Response>, WechatError>
where
    F: FnMut(Option<u64>) -> Fut,
    Fut: Future<Output = Result<Response, WechatError>>,
{
    let mut out = Vec::new();
    let mut offset: u64 = 0;
    loop {
        let page = match fetch(paged.then_some(offset)).await {
            Err(e) if API.is_no_data(&e) => break,
            other => other?,
        };
        let rows = page.data_value.len() as u64;
        let total = page.total_num.get();
        out.push(page);
        // Moving on by the rows received, not by the limit asked, keeps every row
        // should WeChat send shorter pages than asked for.
        offset += rows;
        if !paged || rows == 0 || total.is_none_or(|t| offset >= u64::try_from(t).unwrap_or(0)) {
            break;
        }
        if out.len() >= MAX_PAGES {
            tracing::warn!(
                pages = MAX_PAGES,
                total_num = total,
                "getStatistics: giving up paging; the rest is left out"
            );
            break;
        }
    }
    Ok(out)
}

pub struct CloudbaseSms {
    settings: Settings,
    /// Values that did not parse, since start: the counter's value.
    unparsed: u64,
}

impl CloudbaseSms {
    pub fn new(settings: Settings) -> CloudbaseSms {
        CloudbaseSms { settings, unparsed: 0 }
    }
}

impl Collector for CloudbaseSms {
    fn poll<'a>(&'a mut self, cx: &'a PollContext<'a>) -> BoxFuture<'a, Result<Output, WechatError>> {
        Box::pin(async move {
            let end = cx.now.timestamp();
            let begin = SINCE.min(end);
            let env_id = self.settings.env_id.as_str();
            let mut series = Series::default();
            let mut unparsed = 0;
            for activity in &self.settings.activities {
                let activity_id = activity.activity_id.as_str();
                for q in queries(activity) {
                    let fetched = pages(q.paged(), |offset| {
                        let req = q.request(env_id, activity_id, begin, end, offset);
                        async move { cx.client.post::<_, Response>(&API, &req).await }
                    })
                    .await?;
                    for page in &fetched {
                        q.samples(env_id, activity_id, page, &mut unparsed, &mut series);
                    }
                }
            }
            // Counted only for polls that succeed, so a retried poll does not count twice.
            self.unparsed += unparsed;
            let mut samples = series.into_samples();
            samples.push(Sample::new(&UNPARSED, self.unparsed as f64));
            Ok(Output { samples, data_date: None })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::collectors::Account;
    use crate::simulator::{Options, SimApp, Simulator, SmsActivity};
    use crate::wechat::client::decode;

    const ACT: &str = "21ded5cb6001691405171ba161c603d1";

    fn fixture(name: &str) -> Result<Response, WechatError> {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        decode(&std::fs::read(&path).unwrap())
    }

    fn map(q: Query<'_>, page: &Response) -> (Vec<Sample>, u64) {
        let mut unparsed = 0;
        let mut out = Series::default();
        q.samples("wedcvfr", ACT, page, &mut unparsed, &mut out);
        (out.into_samples(), unparsed)
    }

    fn get<'s>(samples: &'s [Sample], name: &str) -> Vec<&'s Sample> {
        samples.iter().filter(|s| s.desc.name == name).collect()
    }

    fn labels(s: &Sample) -> Vec<(&str, &str)> {
        s.labels.iter().map(|(k, v)| (k.as_ref(), v.as_str())).collect()
    }

    const SEED_NUMERIC: [(&str, f64); 7] = [
        ("h5_open_uercnt", 5000.0),
        ("jump_wxapp_uercnt", 3000.0),
        ("sms_send_uercnt", 10000.0),
        ("jump_wxapp_uercnt_percent", 0.535714),
        ("h5_open_uercnt_percent", 0.625),
        ("h5_sms_rate", 0.5),
        ("jump_h5_rate", 0.6),
    ];

    #[test]
    fn seed_conversion_example_maps_every_numeric_column() {
        let q = Query::Conversion { channel_id: "_cms_sms_" };
        let (samples, unparsed) = map(q, &fixture("cloudbase_sms_conversion.json").unwrap());
        assert_eq!(unparsed, 0);
        assert_eq!(samples.len(), SEED_NUMERIC.len(), "string columns (appid, sms_send_list) are no metrics");
        for (col, want) in SEED_NUMERIC {
            let found = get(&samples, &format!("wechat_cloudbase_sms_{col}"));
            assert_eq!(found.len(), 1, "{col}");
            assert_eq!(found[0].value, want, "{col}");
            assert_eq!(
                labels(found[0]),
                vec![
                    ("env_id", "wedcvfr"),
                    ("activity_id", ACT),
                    ("channel_id", "_cms_sms_"),
                    ("action", "conversion")
                ]
            );
            assert_eq!(found[0].desc.kind, Kind::Gauge);
        }
    }

    #[test]
    fn cloud_call_shape_parses_the_same() {
        let https = fixture("cloudbase_sms_conversion.json").unwrap();
        let cloud = fixture("cloudbase_sms_conversion_cloud.json").unwrap();
        assert_eq!(https, cloud);
        assert_eq!(cloud.total_num.get(), Some(1));
        assert_eq!(cloud.data_column.len(), 12);
    }

    #[test]
    fn an_extra_numeric_column_appears_without_a_code_change() {
        let q = Query::Realtime { channel_id: "_cms_sms_", act_type: ActType::Wxapp };
        let (samples, _) = map(q, &fixture("cloudbase_sms_extra_column.json").unwrap());
        let extra = get(&samples, "wechat_cloudbase_sms_sms_fail_uercnt");
        assert_eq!(extra.len(), 1);
        assert_eq!(extra[0].value, 42.0);
        assert_eq!(labels(extra[0]).last(), Some(&("act_type", "wxapp")), "realtime carries act_type");
        assert_eq!(get(&samples, "wechat_cloudbase_sms_cost_per_user").first().map(|s| s.value), Some(0.125));
        // A column of another type (0, or one WeChat has not defined) is no metric.
        assert!(get(&samples, "wechat_cloudbase_sms_region").is_empty());
        assert!(get(&samples, "wechat_cloudbase_sms_future_kind").is_empty());
    }

    #[test]
    fn values_that_do_not_parse_are_skipped_and_counted() {
        let page: Response = decode(
            br#"{"data_column":[
                {"col_id":"channel_id","col_data_type":"0"},
                {"col_id":"a","col_data_type":"1"},
                {"col_id":"b","col_data_type":"2"},
                {"col_id":"c","col_data_type":1},
                {"col_id":"d","col_data_type":"1"},
                {"col_id":"e","col_data_type":"1"}],
              "data_value":[{"data_value":["_cms_sms_","N/A","0.5","NaN","",7]}],
              "total_num":1}"#,
        )
        .unwrap();
        let (samples, unparsed) = map(Query::Conversion { channel_id: "_cms_sms_" }, &page);
        assert_eq!(unparsed, 2, "N/A and NaN");
        assert!(get(&samples, "wechat_cloudbase_sms_a").is_empty(), "never a made-up 0");
        assert!(get(&samples, "wechat_cloudbase_sms_c").is_empty());
        assert!(get(&samples, "wechat_cloudbase_sms_d").is_empty(), "an empty cell is missing, not unparsed");
        assert_eq!(get(&samples, "wechat_cloudbase_sms_b")[0].value, 0.5);
        assert_eq!(get(&samples, "wechat_cloudbase_sms_e")[0].value, 7.0, "a JSON number is taken as it is");
    }

    #[test]
    fn errcode_10011_is_an_empty_result() {
        let e = fixture("cloudbase_sms_no_data.json").unwrap_err();
        assert_eq!(e.errcode(), Some(NO_DATA));
        assert!(API.is_no_data(&e));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let calls = RefCell::new(0);
        let got = rt
            .block_on(pages(true, |_| {
                *calls.borrow_mut() += 1;
                let r = fixture("cloudbase_sms_no_data.json");
                async move { r }
            }))
            .unwrap();
        assert!(got.is_empty());
        assert_eq!(*calls.borrow(), 1);
        // Any other errcode is a failure.
        let failed = rt.block_on(pages(true, |_| async { Err(WechatError::Api { code: -1, msg: String::new() }) }));
        assert_eq!(failed.unwrap_err().errcode(), Some(-1));
    }

    #[test]
    fn a_two_page_table_is_read_to_its_end() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let offsets = RefCell::new(Vec::new());
        let got = rt
            .block_on(pages(true, |offset| {
                offsets.borrow_mut().push(offset);
                let r = match offset {
                    Some(0) => fixture("cloudbase_sms_overview_page1.json"),
                    Some(2) => fixture("cloudbase_sms_overview_page2.json"),
                    other => panic!("asked from {other:?}"),
                };
                async move { r }
            }))
            .unwrap();
        assert_eq!(*offsets.borrow(), vec![Some(0), Some(2)], "the second page starts after the rows received");
        let mut unparsed = 0;
        let mut series = Series::default();
        for p in &got {
            Query::Overview { by_channel: true }.samples("env-1", ACT, p, &mut unparsed, &mut series);
        }
        let samples = series.into_samples();
        let sent = get(&samples, "wechat_cloudbase_sms_sms_send_uercnt");
        let channels: Vec<(&str, f64)> = sent
            .iter()
            .map(|s| (s.labels.iter().find(|(k, _)| k == "channel_id").map(|(_, v)| v.as_str()).unwrap(), s.value))
            .collect();
        assert_eq!(channels, vec![("_cms_sms_", 6000.0), ("spring", 3000.0), ("vip", 1000.0)]);

        // An action that does not page is asked once, without an offset.
        let offsets = RefCell::new(Vec::new());
        rt.block_on(pages(false, |offset| {
            offsets.borrow_mut().push(offset);
            let r = fixture("cloudbase_sms_overview_page1.json");
            async move { r }
        }))
        .unwrap();
        assert_eq!(*offsets.borrow(), vec![None]);
    }

    #[test]
    fn overview_whole_is_channel_all_and_rows_without_channel_are_skipped() {
        let page: Response = decode(
            br#"{"data_column":[{"col_id":"channel_id","col_data_type":"0"},{"col_id":"sms_send_uercnt","col_data_type":"1"}],
                 "data_value":[{"data_value":["","5"]},{"data_value":["x","6"]},{"data_value":["x","7"]}],"total_num":3}"#,
        )
        .unwrap();
        let (whole, _) = map(Query::Overview { by_channel: false }, &page);
        assert_eq!(whole.len(), 1, "one series for the whole activity; the later row wins");
        assert_eq!(whole[0].value, 7.0);
        assert_eq!(labels(&whole[0])[2], ("channel_id", "all"));
        let (by, _) = map(Query::Overview { by_channel: true }, &page);
        assert_eq!(by.len(), 1, "a row without a channel cannot be placed; two for x are one series");
        assert_eq!(by[0].value, 7.0);
        assert_eq!(labels(&by[0])[2], ("channel_id", "x"));
    }

    #[test]
    fn column_ids_become_valid_names() {
        assert_eq!(metric_name("h5_open_uercnt").as_deref(), Some("wechat_cloudbase_sms_h5_open_uercnt"));
        assert_eq!(metric_name("h5OpenUercnt").as_deref(), Some("wechat_cloudbase_sms_h5_open_uercnt"));
        assert_eq!(metric_name("URLClicks").as_deref(), Some("wechat_cloudbase_sms_url_clicks"));
        assert_eq!(metric_name("open-rate (%)").as_deref(), Some("wechat_cloudbase_sms_open_rate"));
        assert_eq!(metric_name("打开人数 uv").as_deref(), Some("wechat_cloudbase_sms_uv"));
        assert_eq!(metric_name("send_count").as_deref(), Some("wechat_cloudbase_sms_send_count_value"));
        assert_eq!(metric_name("total").as_deref(), Some("wechat_cloudbase_sms_total_value"));
        assert_eq!(metric_name("a:b").as_deref(), Some("wechat_cloudbase_sms_a_b"));
        assert_eq!(metric_name(""), None);
        assert_eq!(metric_name("打开"), None);
        for id in ["x", "9lives", "__a__b__", "ÄÖ_x"] {
            let n = metric_name(id).unwrap();
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{n}");
            assert!(!n.contains("__") && !n.ends_with('_'), "{n}");
        }
    }

    #[test]
    fn requests_follow_the_seed() {
        let q = Query::Overview { by_channel: true };
        assert_eq!(
            serde_json::to_value(q.request("xxx", "yyy", 1614182400, 1614268800, Some(0))).unwrap(),
            serde_json::json!({"action":"smsMarketingOverviewData","begin_date":1614182400,"end_date":1614268800,
                "page_offset":0,"page_limit":1000,"condition":{"env_id":"xxx","activity_id":"yyy","by_channel_id":"1"}})
        );
        let q = Query::Realtime { channel_id: "c", act_type: ActType::H5 };
        assert_eq!(
            serde_json::to_value(q.request("xxx", "yyy", 1, 2, None)).unwrap(),
            serde_json::json!({"action":"smsMarketingRealTimeData","begin_date":1,"end_date":2,
                "condition":{"env_id":"xxx","activity_id":"yyy","channel_id":"c","act_type":"h5"}})
        );
        let a = Activity { activity_id: "a".into(), channel_ids: vec!["c1".into(), "c2".into()] };
        let words: Vec<&str> = queries(&a).iter().map(|q| q.word()).collect();
        assert_eq!(
            words,
            ["overview", "overview", "conversion", "realtime", "realtime", "conversion", "realtime", "realtime"]
        );
        assert_eq!(queries(&Activity { activity_id: "a".into(), channel_ids: vec![] }).len(), 2);
    }

    /// The collector against the simulator: every table, paging (the simulator
    /// hands out two rows a page), 10011 for an activity it does not know.
    #[tokio::test]
    async fn polls_every_table_of_every_activity() {
        let mut app = SimApp::new("shop", "wxtest00000shop1", Account::Miniprogram);
        app.odd = true;
        let act = SmsActivity::new("env-1", ACT, &["_cms_sms_", "spring", "vip"]);
        app.sms = vec![act.clone()];
        let sim = Simulator::start(Options::new(vec![app.clone()])).await.unwrap();
        let client = sim.client_for(&app).unwrap();
        let settings = Settings {
            env_id: "env-1".into(),
            activities: vec![
                Activity { activity_id: ACT.into(), channel_ids: vec!["spring".into()] },
                Activity { activity_id: "unknown-activity".into(), channel_ids: vec!["x".into()] },
            ],
        };
        let mut c = CloudbaseSms::new(settings);
        let now = chrono::Utc::now();
        let out = c.poll(&PollContext::new(&client, now)).await.unwrap();
        let value = |name: &str, channel: &str, action: &str, act_type: Option<&str>| -> Option<f64> {
            let found: Vec<f64> = out
                .samples
                .iter()
                .filter(|s| s.desc.name == name)
                .filter(|s| {
                    let l = labels(s);
                    l.contains(&("channel_id", channel))
                        && l.contains(&("action", action))
                        && act_type.is_none_or(|t| l.contains(&("act_type", t)))
                })
                .map(|s| s.value)
                .collect();
            assert!(found.len() <= 1, "{name} {channel} {action}: {found:?}");
            found.first().copied()
        };
        let cell = |channel: Option<&str>, action: &str, act_type: &str, col: &str| -> String {
            sim::sms_row(&app.appid, &act, action, channel, act_type, true)
                .into_iter()
                .find(|c| c.col_id == col)
                .unwrap()
                .value
        };
        let num = |s: String| s.parse::<f64>().unwrap();
        let name = |col: &str| format!("{PREFIX}{col}");
        assert_eq!(
            value(&name("sms_send_uercnt"), "all", "overview", None),
            Some(num(cell(None, "overview", "", "sms_send_uercnt")))
        );
        for ch in ["_cms_sms_", "spring", "vip"] {
            let want = num(cell(Some(ch), "overview", "", "h5_open_uercnt_percent"));
            assert_eq!(
                value(&name("h5_open_uercnt_percent"), ch, "overview", None),
                Some(want),
                "{ch}: the third is on page 2"
            );
            let extra = num(cell(Some(ch), "overview", "", "sms_fail_uercnt"));
            assert_eq!(value(&name("sms_fail_uercnt"), ch, "overview", None), Some(extra));
        }
        assert_eq!(
            value(&name("h5_sms_rate"), "spring", "conversion", None),
            Some(num(cell(Some("spring"), "conversion", "", "h5_sms_rate")))
        );
        assert_eq!(value(&name("jump_h5_rate"), "spring", "conversion", None), None, "N/A is no value");
        assert_eq!(
            value(&name("act_uercnt"), "spring", "realtime", Some("wxapp")),
            Some(num(cell(Some("spring"), "realtime", "wxapp", "act_uercnt")))
        );
        assert_eq!(
            value(&name("act_cnt"), "spring", "realtime", Some("h5")),
            Some(num(cell(Some("spring"), "realtime", "h5", "act_cnt")))
        );
        assert!(out.samples.iter().all(|s| !labels(s).contains(&("activity_id", "unknown-activity"))));
        let counter: Vec<f64> = out.samples.iter().filter(|s| s.desc == UNPARSED).map(|s| s.value).collect();
        assert_eq!(counter, vec![1.0]);

        let calls = sim.calls(API.path);
        // Known activity: overview whole (1 page), by channel (2 pages), conversion, 2 realtime.
        // Unknown activity: overview twice, conversion, 2 realtime, each answered 10011.
        assert_eq!(calls.len(), 6 + 5, "{calls:#?}");
        assert_eq!(client.telemetry.requests_to(API.name), 11);
        let failures: f64 = client
            .telemetry
            .samples()
            .iter()
            .filter(|s| s.desc == crate::telemetry::API_FAILURES)
            .map(|s| s.value)
            .sum();
        assert_eq!(failures, 0.0, "10011 is not counted as a failure");
        for call in &calls {
            assert_eq!(call.body["begin_date"], SINCE);
            assert_eq!(call.body["end_date"], now.timestamp());
        }

        // The counter adds up across polls.
        let out = c.poll(&PollContext::new(&client, now)).await.unwrap();
        let counter: Vec<f64> = out.samples.iter().filter(|s| s.desc == UNPARSED).map(|s| s.value).collect();
        assert_eq!(counter, vec![2.0]);
    }

    #[test]
    fn settings_describe_what_is_asked() {
        let s = Settings {
            env_id: "prod-123".into(),
            activities: vec![
                Activity { activity_id: "a1".into(), channel_ids: vec!["_cms_sms_".into()] },
                Activity { activity_id: "a2".into(), channel_ids: vec![] },
            ],
        };
        assert_eq!(
            s.to_string(),
            "cloudbase.getStatistics in env prod-123: activity a1 (overview, whole and by channel; conversion and realtime h5/wxapp for _cms_sms_); activity a2 (overview, whole and by channel)"
        );
    }
}
