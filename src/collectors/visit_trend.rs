//! `visit_trend`: getDailyVisitTrend, a mini program's visits of one day.
//!
//! The request date is yesterday in UTC+8. WeChat fills yesterday in some hours
//! into today; until then the newest day already seen is served, and a collector
//! that has nothing newer than the day before yesterday asks for that day, so a
//! restart in the early hours does not leave dashboards empty.

use chrono::NaiveDate;
use serde::Deserialize;

use super::{BoxFuture, Collector, Output, PollContext};
use crate::cst;
use crate::store::{Desc, Sample};
use crate::wechat::{json, Api, WechatError};

pub const API: Api = Api::post("getDailyVisitTrend", "/datacube/getweanalysisappiddailyvisittrend");

pub const SESSIONS: Desc = Desc::gauge("wechat_daily_visit_sessions", "Mini program opens (session_cnt) on the data date.");
pub const PV: Desc = Desc::gauge("wechat_daily_visit_pv", "Page visits (visit_pv) on the data date.");
pub const UV: Desc = Desc::gauge("wechat_daily_visit_uv", "Visiting users (visit_uv) on the data date.");
pub const UV_NEW: Desc = Desc::gauge("wechat_daily_visit_uv_new", "New visiting users (visit_uv_new) on the data date.");
pub const STAY_PER_USER: Desc = Desc::gauge(
    "wechat_daily_visit_stay_time_per_user_seconds",
    "Average time a user stayed (stay_time_uv) on the data date.",
);
pub const STAY_PER_SESSION: Desc = Desc::gauge(
    "wechat_daily_visit_stay_time_per_session_seconds",
    "Average time a session lasted (stay_time_session) on the data date.",
);
pub const DEPTH: Desc = Desc::gauge("wechat_daily_visit_depth", "Average visit depth (visit_depth) on the data date.");

/// One day (the API allows no more), `yyyymmdd`: `Request::for_day`.
pub type Request = super::DateSpan;

pub type Response = super::List<Row>;

/// A day's row. Every value is optional: a field WeChat leaves out is a missing sample.
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
pub struct Row {
    #[serde(default, alias = "refDate", deserialize_with = "json::opt_string")]
    pub ref_date: Option<String>,
    #[serde(default, alias = "sessionCnt", deserialize_with = "json::opt_f64")]
    pub session_cnt: Option<f64>,
    #[serde(default, alias = "visitPv", deserialize_with = "json::opt_f64")]
    pub visit_pv: Option<f64>,
    #[serde(default, alias = "visitUv", deserialize_with = "json::opt_f64")]
    pub visit_uv: Option<f64>,
    #[serde(default, alias = "visitUvNew", deserialize_with = "json::opt_f64")]
    pub visit_uv_new: Option<f64>,
    #[serde(default, alias = "stayTimeUv", deserialize_with = "json::opt_f64")]
    pub stay_time_uv: Option<f64>,
    #[serde(default, alias = "stayTimeSession", deserialize_with = "json::opt_f64")]
    pub stay_time_session: Option<f64>,
    #[serde(default, alias = "visitDepth", deserialize_with = "json::opt_f64")]
    pub visit_depth: Option<f64>,
}

impl Row {
    /// The row's samples: one per field WeChat sent.
    pub fn samples(&self) -> Vec<Sample> {
        [
            (&SESSIONS, self.session_cnt),
            (&PV, self.visit_pv),
            (&UV, self.visit_uv),
            (&UV_NEW, self.visit_uv_new),
            (&STAY_PER_USER, self.stay_time_uv),
            (&STAY_PER_SESSION, self.stay_time_session),
            (&DEPTH, self.visit_depth),
        ]
        .into_iter()
        .filter_map(|(desc, v)| v.map(|v| Sample::new(desc, v)))
        .collect()
    }
}

impl Response {
    /// The row for `day`: the one dated so, or a lone undated row.
    pub fn row_for(self, day: NaiveDate) -> Option<Row> {
        let mut rows = self.list;
        if let Some(i) = rows.iter().position(|r| r.ref_date.as_deref().and_then(cst::parse) == Some(day)) {
            return Some(rows.swap_remove(i));
        }
        match rows.len() {
            1 if rows[0].ref_date.as_deref().and_then(cst::parse).is_none() => rows.pop(),
            _ => None,
        }
    }
}

#[derive(Default)]
pub struct VisitTrend {
    newest: super::NewestDay<Row>,
}

impl VisitTrend {
    /// `day`'s row, or None while WeChat has none: what a poll (and a backfill) asks for.
    pub async fn fetch(cx: &PollContext<'_>, day: NaiveDate) -> Result<Option<Row>, WechatError> {
        let resp: Response = cx.client.post(&API, &Request::for_day(day)).await?;
        Ok(resp.row_for(day))
    }
}

impl Collector for VisitTrend {
    fn poll<'a>(&'a mut self, cx: &'a PollContext<'a>) -> BoxFuture<'a, Result<Output, WechatError>> {
        Box::pin(async move {
            self.newest.refresh(cx.now, |day| Self::fetch(cx, day)).await?;
            Ok(self.newest.output(Row::samples))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Response {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read(&path).unwrap();
        crate::wechat::client::decode(&text).unwrap()
    }

    #[test]
    fn seed_example_parses_and_leaves_out_missing_fields() {
        let day = NaiveDate::from_ymd_opt(2017, 3, 13).unwrap();
        let row = fixture("visit_trend.json").row_for(day).unwrap();
        assert_eq!(row.session_cnt, Some(142549.0));
        assert_eq!(row.visit_depth, Some(1.9838));
        assert_eq!(row.stay_time_uv, None, "the seed leaves stay_time_uv out");
        let samples = row.samples();
        assert_eq!(samples.len(), 6);
        assert!(samples.iter().all(|s| s.desc != STAY_PER_USER));
        assert!(samples.iter().any(|s| s.desc == STAY_PER_SESSION && s.value == 0.0), "a real 0 stays 0");
    }

    #[test]
    fn cloud_call_shape_parses_the_same() {
        let day = NaiveDate::from_ymd_opt(2017, 3, 13).unwrap();
        let https = fixture("visit_trend.json").row_for(day).unwrap();
        let cloud = fixture("visit_trend_cloud.json").row_for(day).unwrap();
        assert_eq!(https, cloud);
    }

    #[test]
    fn numbers_as_strings_and_empty_lists() {
        let day = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        let r: Response = crate::wechat::client::decode(
            br#"{"list":[{"ref_date":"20240102","session_cnt":"12","visit_depth":"2.5","visit_uv":null}]}"#,
        )
        .unwrap();
        let row = r.row_for(day).unwrap();
        assert_eq!(row.session_cnt, Some(12.0));
        assert_eq!(row.visit_depth, Some(2.5));
        assert_eq!(row.visit_uv, None);
        let empty: Response = crate::wechat::client::decode(br#"{"list":[]}"#).unwrap();
        assert_eq!(empty.row_for(day), None);
        let null: Response = crate::wechat::client::decode(br#"{"list":null}"#).unwrap();
        assert_eq!(null.row_for(day), None);
        let other: Response = crate::wechat::client::decode(br#"{"list":[{"ref_date":"20240101","visit_pv":1}]}"#).unwrap();
        assert_eq!(other.row_for(day), None, "a row for another day is not this day's");
    }

    #[test]
    fn request_is_one_day_compact() {
        let day = NaiveDate::from_ymd_opt(2017, 3, 13).unwrap();
        assert_eq!(
            serde_json::to_value(Request::for_day(day)).unwrap(),
            serde_json::json!({"begin_date": "20170313", "end_date": "20170313"})
        );
    }
}
