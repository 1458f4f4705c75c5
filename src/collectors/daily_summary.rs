//! `daily_summary`: getDailySummary, a mini program's cumulative users and the
//! shares of one day. Runs by default: one call a poll, three series an app.

pub mod sim;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::datacube::{Daily, Datacube, pick_day};
use super::kind::{HOUR, MINI_PROGRAM, MINUTE};
use super::{DateSpan, Kind, List, NoSettings, PollContext, Route};
use crate::store::{Desc, Sample};
use crate::wechat::json::Loose;
use crate::wechat::{Api, WechatError};

pub static KIND: Kind<NoSettings> = Kind {
    name: "daily_summary",
    accounts: MINI_PROGRAM,
    default: true,
    interval: HOUR,
    comfortable: MINUTE,
    metrics: &[&CUMULATIVE_USERS, &SHARE_PV, &SHARE_UV],
    build: |_| Box::<DailySummary>::default(),
    describe: |_| format!("{} for yesterday (UTC+8)", API.name),
    routes: &[Route { api: &API, answer: sim::answer }],
    demo: |_| Some("      daily_summary: {interval: 1m}\n".into()),
    ..Kind::BASE
};

pub const API: Api = Api::post("getDailySummary", "/datacube/getweanalysisappiddailysummarytrend");

pub const CUMULATIVE_USERS: Desc =
    Desc::gauge("wechat_cumulative_users", "Users who have ever visited (visit_total), as of the data date.");
pub const SHARE_PV: Desc = Desc::gauge("wechat_daily_share_pv", "Shares (share_pv) on the data date.");
pub const SHARE_UV: Desc = Desc::gauge("wechat_daily_share_uv", "Users who shared (share_uv) on the data date.");

/// One day (the API allows no more), `yyyymmdd`.
pub type Request = DateSpan;

pub type Response = List<Row>;

/// A day's row, in the HTTPS shape or the cloud call's camelCase one. A field
/// WeChat leaves out is a missing sample.
#[derive(Deserialize, Serialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Row {
    #[serde(alias = "refDate")]
    pub ref_date: Loose<String>,
    #[serde(alias = "visitTotal")]
    pub visit_total: Loose<f64>,
    #[serde(alias = "sharePv")]
    pub share_pv: Loose<f64>,
    #[serde(alias = "shareUv")]
    pub share_uv: Loose<f64>,
}

impl Row {
    pub fn samples(&self) -> Vec<Sample> {
        [(&CUMULATIVE_USERS, &self.visit_total), (&SHARE_PV, &self.share_pv), (&SHARE_UV, &self.share_uv)]
            .into_iter()
            .filter_map(|(desc, v)| v.get().map(|v| Sample::new(desc, v)))
            .collect()
    }
}

/// The collector: the newest day's row.
pub type DailySummary = Daily<Summary>;

#[derive(Default)]
pub struct Summary;

impl Datacube for Summary {
    type Period = NaiveDate;
    type Data = Row;

    async fn fetch(&self, cx: &PollContext<'_>, day: NaiveDate) -> Result<Option<Row>, WechatError> {
        let resp: Response = cx.client.post(&API, &Request::for_day(day)).await?;
        Ok(pick_day(resp.list, |r| r.ref_date.as_deref(), day))
    }

    fn samples(&self, row: &Row) -> Vec<Sample> {
        row.samples()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{Rig, answer, date, fixture, value};

    /// The example of WeChat's getDailySummary page (developers.weixin.qq.com,
    /// data-analysis/others/getDailySummary), HTTPS and cloud call.
    #[test]
    fn documented_example() {
        let day = date(2017, 3, 13);
        for name in ["daily_summary.json", "daily_summary_cloud.json"] {
            let resp: Response = fixture(name);
            let row = pick_day(resp.list, |r| r.ref_date.as_deref(), day).unwrap();
            let s = row.samples();
            assert_eq!(value(&s, "wechat_cumulative_users", &[]), Some(391.0), "{name}");
            assert_eq!(value(&s, "wechat_daily_share_pv", &[]), Some(572.0), "{name}");
            assert_eq!(value(&s, "wechat_daily_share_uv", &[]), Some(383.0), "{name}");
        }
        let resp: Response = fixture("daily_summary.json");
        assert_eq!(pick_day(resp.list, |r| r.ref_date.as_deref(), date(2017, 3, 14)), None, "another day's row");
    }

    #[test]
    fn strings_gaps_and_empty_lists() {
        let r: Response =
            answer(r#"{"list":[{"ref_date":"20240102","visit_total":"1200","share_pv":0,"share_uv":null}]}"#).unwrap();
        let s = pick_day(r.list, |r| r.ref_date.as_deref(), date(2024, 1, 2)).unwrap().samples();
        assert_eq!(value(&s, "wechat_cumulative_users", &[]), Some(1200.0));
        assert_eq!(value(&s, "wechat_daily_share_pv", &[]), Some(0.0), "a real 0 stays 0");
        assert_eq!(value(&s, "wechat_daily_share_uv", &[]), None, "null is a missing sample");
        let empty: Response = answer(r#"{"list":[]}"#).unwrap();
        assert!(empty.list.is_empty());
        assert!(answer::<Response>(r#"{"list":[{"visit_total":"many"}]}"#).is_err());
    }

    /// Against the simulator: the day before until yesterday is published, then
    /// yesterday; every request one day, never after yesterday.
    #[tokio::test]
    async fn serves_the_simulators_newest_day() {
        let rig = Rig::start("2024-03-02T02:00:00+08:00", 8, true).await;
        let mut c = DailySummary::default();
        let out = rig.poll(&mut c).await.unwrap();
        let before = date(2024, 2, 29);
        assert_eq!(out.data_date, Some(before));
        let want = sim::row(&rig.app.appid, before);
        assert_eq!(value(&out.samples, "wechat_cumulative_users", &[]), want.visit_total.get());
        assert_eq!(value(&out.samples, "wechat_daily_share_pv", &[]), want.share_pv.get());
        assert_eq!(value(&out.samples, "wechat_daily_share_uv", &[]), None, "the odd app leaves share_uv out");

        rig.set("2024-03-02T09:00:00+08:00");
        let out = rig.poll(&mut c).await.unwrap();
        let yesterday = date(2024, 3, 1);
        assert_eq!(out.data_date, Some(yesterday));
        assert_eq!(value(&out.samples, "wechat_cumulative_users", &[]), sim::row(&rig.app.appid, yesterday).visit_total.get());
        for body in rig.bodies(API.path) {
            assert_eq!(body["begin_date"], body["end_date"]);
            assert!(body["end_date"] == "20240301" || body["end_date"] == "20240229", "{body}");
        }
        assert!(
            sim::row(&rig.app.appid, yesterday).visit_total.get() > sim::row(&rig.app.appid, before).visit_total.get(),
            "cumulative users grow"
        );
    }
}
