//! `visit_trend`: getDailyVisitTrend, a mini program's visits of one day.
//! The weekly and monthly trends read the same row; see [`Row::samples`].

pub mod sim;

use std::marker::PhantomData;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::datacube::{Daily, Datacube, pick_period};
use super::newest::Period;
use super::kind::{HOUR, MINI_PROGRAM, MINUTE};
use super::{Kind, NoSettings, PollContext, Route};
use crate::store::{Desc, Sample};
use crate::wechat::json::Loose;
use crate::wechat::{Api, WechatError};

pub static KIND: Kind<NoSettings> = Kind {
    name: "visit_trend",
    accounts: MINI_PROGRAM,
    default: true,
    interval: HOUR,
    comfortable: MINUTE,
    metrics: &[&SESSIONS, &PV, &UV, &UV_NEW, &STAY_PER_USER, &STAY_PER_SESSION, &DEPTH],
    build: |_| Box::<VisitTrend>::default(),
    describe: |_| format!("{} for yesterday (UTC+8)", API.name),
    routes: &[Route { api: &API, answer: sim::answer }],
    demo: |_| Some("      visit_trend: {interval: 1m}\n".into()),
    ..Kind::BASE
};

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

/// The seven metrics of a visit trend row, in the order of [`Row::samples`].
pub type Descs = [&'static Desc; 7];

pub const DAILY: Descs = [&SESSIONS, &PV, &UV, &UV_NEW, &STAY_PER_USER, &STAY_PER_SESSION, &DEPTH];

/// A row of the daily, weekly or monthly trend. A field WeChat leaves out is a
/// missing sample.
#[derive(Deserialize, Serialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Row {
    #[serde(alias = "refDate")]
    pub ref_date: Loose<String>,
    #[serde(alias = "sessionCnt")]
    pub session_cnt: Loose<f64>,
    #[serde(alias = "visitPv")]
    pub visit_pv: Loose<f64>,
    #[serde(alias = "visitUv")]
    pub visit_uv: Loose<f64>,
    #[serde(alias = "visitUvNew")]
    pub visit_uv_new: Loose<f64>,
    #[serde(alias = "stayTimeUv")]
    pub stay_time_uv: Loose<f64>,
    #[serde(alias = "stayTimeSession")]
    pub stay_time_session: Loose<f64>,
    #[serde(alias = "visitDepth")]
    pub visit_depth: Loose<f64>,
}

impl Row {
    /// The row's samples: one per field WeChat sent.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples_as(&DAILY)
    }

    /// The row's samples under `descs` (the daily, weekly or monthly seven).
    pub fn samples_as(&self, descs: &Descs) -> Vec<Sample> {
        let values = [
            &self.session_cnt,
            &self.visit_pv,
            &self.visit_uv,
            &self.visit_uv_new,
            &self.stay_time_uv,
            &self.stay_time_session,
            &self.visit_depth,
        ];
        descs.iter().zip(values).filter_map(|(desc, v)| v.get().map(|v| Sample::new(desc, v))).collect()
    }
}

impl Response {
    /// The row for `day`: the one dated so, or a lone undated row.
    pub fn row_for(self, day: NaiveDate) -> Option<Row> {
        pick_period(self.list, |r| r.ref_date.as_deref(), day)
    }
}

/// The collector: the newest day's row.
pub type VisitTrend = Daily<Trend<NaiveDate>>;

/// The visit trend of a day, a week or a month: one API each, the same row, and
/// metric names of their own.
pub struct Trend<P: 'static> {
    pub api: &'static Api,
    pub descs: &'static Descs,
    pub period: PhantomData<fn() -> P>,
}

impl Default for Trend<NaiveDate> {
    fn default() -> Trend<NaiveDate> {
        Trend { api: &API, descs: &DAILY, period: PhantomData }
    }
}

impl<P: Period> Datacube for Trend<P> {
    type Period = P;
    type Data = Row;

    async fn fetch(&self, cx: &PollContext<'_>, period: P) -> Result<Option<Row>, WechatError> {
        let resp: Response = cx.client.post(self.api, &Request::period(period)).await?;
        Ok(pick_period(resp.list, |r| r.ref_date.as_deref(), period))
    }

    fn samples(&self, row: &Row) -> Vec<Sample> {
        row.samples_as(self.descs)
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
        assert_eq!(row.session_cnt.get(), Some(142549.0));
        assert_eq!(row.visit_depth.get(), Some(1.9838));
        assert_eq!(row.stay_time_uv.get(), None, "the seed leaves stay_time_uv out");
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
        assert_eq!(row.session_cnt.get(), Some(12.0));
        assert_eq!(row.visit_depth.get(), Some(2.5));
        assert_eq!(row.visit_uv.get(), None);
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
