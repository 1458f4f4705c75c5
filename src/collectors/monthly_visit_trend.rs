//! `monthly_visit_trend`: getMonthlyVisitTrend, a mini program's visits of the
//! last complete calendar month (UTC+8): the row of `visit_trend`, summed or
//! counted once over the month, under `wechat_monthly_visit_*`. The data date is
//! the month's first day.

use std::marker::PhantomData;

use super::kind::{HOUR, MINI_PROGRAM, MINUTE};
use super::newest::Month;
use super::visit_trend::{self, Descs, Trend};
use super::{Kind, NoSettings, Route, datacube::Daily};
use crate::store::Desc;
use crate::wechat::Api;

pub static KIND: Kind<NoSettings> = Kind {
    name: "monthly_visit_trend",
    accounts: MINI_PROGRAM,
    default: false,
    interval: HOUR,
    comfortable: MINUTE,
    metrics: &MONTHLY,
    build: |_| Box::new(Daily::new(Trend::<Month> { api: &API, descs: &MONTHLY, period: PhantomData })),
    describe: |_| format!("{} for the last complete calendar month (UTC+8)", API.name),
    routes: &[Route { api: &API, answer: visit_trend::sim::answer_period::<Month> }],
    demo: |_| Some("      monthly_visit_trend: {interval: 1m}\n".into()),
    ..Kind::BASE
};

pub const API: Api = Api::post("getMonthlyVisitTrend", "/datacube/getweanalysisappidmonthlyvisittrend");

pub const MONTHLY: Descs = [
    &Desc::gauge("wechat_monthly_visit_sessions", "Mini program opens (session_cnt) in the month of the data date."),
    &Desc::gauge("wechat_monthly_visit_pv", "Page visits (visit_pv) in the month of the data date."),
    &Desc::gauge("wechat_monthly_visit_uv", "Visiting users (visit_uv), each counted once, in the month of the data date."),
    &Desc::gauge("wechat_monthly_visit_uv_new", "New visiting users (visit_uv_new) in the month of the data date."),
    &Desc::gauge(
        "wechat_monthly_visit_stay_time_per_user_seconds",
        "Average time a user stayed (stay_time_uv) in the month of the data date.",
    ),
    &Desc::gauge(
        "wechat_monthly_visit_stay_time_per_session_seconds",
        "Average time a session lasted (stay_time_session) in the month of the data date.",
    ),
    &Desc::gauge("wechat_monthly_visit_depth", "Average visit depth (visit_depth) in the month of the data date."),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::Collector;
    use crate::collectors::datacube::pick_period;
    use crate::collectors::newest::Period;
    use crate::collectors::testing::{Rig, date, fixture, value};
    use crate::collectors::visit_trend::Response;

    fn collector() -> Box<dyn Collector> {
        (KIND.build)(&NoSettings {})
    }

    /// The example of WeChat's getMonthlyVisitTrend page (developers.weixin.qq.com,
    /// data-analysis/visit-trend/getMonthlyVisitTrend).
    #[test]
    fn documented_example() {
        let month = Month::of(date(2017, 2, 1));
        let resp: Response = fixture("monthly_visit_trend.json");
        let row = pick_period(resp.list.clone(), |r| r.ref_date.as_deref(), month).unwrap();
        let s = row.samples_as(&MONTHLY);
        assert_eq!(value(&s, "wechat_monthly_visit_sessions", &[]), Some(126513.0));
        assert_eq!(value(&s, "wechat_monthly_visit_pv", &[]), Some(426113.0));
        assert_eq!(value(&s, "wechat_monthly_visit_uv_new", &[]), Some(6726.0));
        assert_eq!(value(&s, "wechat_monthly_visit_stay_time_per_session_seconds", &[]), Some(56.4112));
        assert_eq!(value(&s, "wechat_monthly_visit_depth", &[]), Some(2.0189));
        assert_eq!(pick_period(resp.list, |r| r.ref_date.as_deref(), month.previous()), None, "another month's row");
    }

    /// Against the simulator across a month's end: last month only once WeChat has
    /// its last day, the month before until then; every request a whole month.
    #[tokio::test]
    async fn serves_the_last_complete_month() {
        let rig = Rig::start("2024-03-01T02:00:00+08:00", 8, false).await;
        let mut c = collector();
        let out = rig.poll(&mut *c).await.unwrap();
        assert_eq!(out.data_date, Some(date(2024, 1, 1)), "February's last day is not out yet");
        let want = visit_trend::sim::period_row(&rig.app.appid, Month::of(date(2024, 1, 1)));
        assert_eq!(value(&out.samples, "wechat_monthly_visit_uv", &[]), want.visit_uv.get());

        rig.set("2024-03-01T09:00:00+08:00");
        let out = rig.poll(&mut *c).await.unwrap();
        assert_eq!(out.data_date, Some(date(2024, 2, 1)));
        let want = visit_trend::sim::period_row(&rig.app.appid, Month::of(date(2024, 2, 1)));
        assert_eq!(value(&out.samples, "wechat_monthly_visit_sessions", &[]), want.session_cnt.get());
        assert_eq!(value(&out.samples, "wechat_monthly_visit_stay_time_per_user_seconds", &[]), want.stay_time_uv.get());

        rig.set("2024-03-31T23:59:00+08:00");
        assert_eq!(rig.poll(&mut *c).await.unwrap().data_date, Some(date(2024, 2, 1)), "March is not over");
        let mut asked: Vec<(String, String)> = rig
            .bodies(API.path)
            .iter()
            .map(|b| (b["begin_date"].as_str().unwrap().to_string(), b["end_date"].as_str().unwrap().to_string()))
            .collect();
        asked.sort();
        asked.dedup();
        let whole = |b: &str, e: &str| (b.to_string(), e.to_string());
        assert_eq!(asked, [whole("20240101", "20240131"), whole("20240201", "20240229")], "only whole months");
    }

    #[tokio::test]
    async fn a_range_that_is_not_a_month_is_61501() {
        let rig = Rig::start("2024-03-10T10:00:00+08:00", 0, false).await;
        let ask = |b: &str, e: &str| {
            let body = serde_json::json!({"begin_date": b, "end_date": e});
            let client = &rig.client;
            async move { client.post::<_, Response>(&API, &body).await.map_err(|e| e.errcode()) }
        };
        assert_eq!(ask("20240201", "20240228").await.unwrap_err(), Some(61501), "a leap February ends on the 29th");
        assert_eq!(ask("20240202", "20240229").await.unwrap_err(), Some(61501));
        assert_eq!(ask("20240301", "20240331").await.unwrap_err(), Some(61501), "a month not over");
        assert_eq!(ask("20240201", "20240229").await.unwrap().list.len(), 1);
    }
}
