//! `weekly_visit_trend`: getWeeklyVisitTrend, a mini program's visits of the last
//! complete week, Monday to Sunday (UTC+8): the row of `visit_trend`, summed or
//! counted once over the week, under `wechat_weekly_visit_*`. The data date is
//! the week's Monday.

use std::marker::PhantomData;

use super::kind::{HOUR, MINI_PROGRAM, MINUTE};
use super::newest::Week;
use super::visit_trend::{self, Descs, Trend};
use super::{Kind, NoSettings, Route, datacube::Daily};
use crate::store::Desc;
use crate::wechat::Api;

pub static KIND: Kind<NoSettings> = Kind {
    name: "weekly_visit_trend",
    accounts: MINI_PROGRAM,
    default: false,
    interval: HOUR,
    comfortable: MINUTE,
    metrics: &WEEKLY,
    build: |_| Box::new(Daily::new(Trend::<Week> { api: &API, descs: &WEEKLY, period: PhantomData })),
    describe: |_| format!("{} for the last complete week, Monday to Sunday (UTC+8)", API.name),
    routes: &[Route { api: &API, answer: visit_trend::sim::answer_period::<Week> }],
    demo: |_| Some("      weekly_visit_trend: {interval: 1m}\n".into()),
    ..Kind::BASE
};

pub const API: Api = Api::post("getWeeklyVisitTrend", "/datacube/getweanalysisappidweeklyvisittrend");

pub const WEEKLY: Descs = [
    &Desc::gauge("wechat_weekly_visit_sessions", "Mini program opens (session_cnt) in the week of the data date."),
    &Desc::gauge("wechat_weekly_visit_pv", "Page visits (visit_pv) in the week of the data date."),
    &Desc::gauge("wechat_weekly_visit_uv", "Visiting users (visit_uv), each counted once, in the week of the data date."),
    &Desc::gauge("wechat_weekly_visit_uv_new", "New visiting users (visit_uv_new) in the week of the data date."),
    &Desc::gauge(
        "wechat_weekly_visit_stay_time_per_user_seconds",
        "Average time a user stayed (stay_time_uv) in the week of the data date.",
    ),
    &Desc::gauge(
        "wechat_weekly_visit_stay_time_per_session_seconds",
        "Average time a session lasted (stay_time_session) in the week of the data date.",
    ),
    &Desc::gauge("wechat_weekly_visit_depth", "Average visit depth (visit_depth) in the week of the data date."),
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

    /// The example of WeChat's getWeeklyVisitTrend page (developers.weixin.qq.com,
    /// data-analysis/visit-trend/getWeeklyVisitTrend).
    #[test]
    fn documented_example() {
        let week = Week::of(date(2017, 3, 6));
        let resp: Response = fixture("weekly_visit_trend.json");
        let row = pick_period(resp.list.clone(), |r| r.ref_date.as_deref(), week).unwrap();
        let s = row.samples_as(&WEEKLY);
        assert_eq!(value(&s, "wechat_weekly_visit_sessions", &[]), Some(986780.0));
        assert_eq!(value(&s, "wechat_weekly_visit_uv", &[]), Some(189405.0));
        assert_eq!(value(&s, "wechat_weekly_visit_stay_time_per_session_seconds", &[]), Some(54.5346));
        assert_eq!(value(&s, "wechat_weekly_visit_depth", &[]), Some(1.9735));
        assert_eq!(value(&s, "wechat_weekly_visit_stay_time_per_user_seconds", &[]), None, "left out in the example");
        assert_eq!(pick_period(resp.list, |r| r.ref_date.as_deref(), week.previous()), None, "another week's row");
    }

    /// Against the simulator across a Monday: last week only once WeChat has its
    /// Sunday, the week before until then; every request Monday to Sunday.
    #[tokio::test]
    async fn serves_the_last_complete_week() {
        let rig = Rig::start("2024-03-25T02:00:00+08:00", 8, true).await;
        let mut c = collector();
        let out = rig.poll(&mut *c).await.unwrap();
        let before = Week::of(date(2024, 3, 11));
        assert_eq!(out.data_date, Some(date(2024, 3, 11)));
        let want = visit_trend::sim::period_row(&rig.app.appid, before);
        assert_eq!(value(&out.samples, "wechat_weekly_visit_pv", &[]), want.visit_pv.get());
        assert_eq!(value(&out.samples, "wechat_weekly_visit_stay_time_per_user_seconds", &[]), None, "odd: left out");

        rig.set("2024-03-25T09:00:00+08:00");
        let out = rig.poll(&mut *c).await.unwrap();
        let last = Week::of(date(2024, 3, 18));
        assert_eq!(out.data_date, Some(date(2024, 3, 18)));
        let want = visit_trend::sim::period_row(&rig.app.appid, last);
        assert_eq!(value(&out.samples, "wechat_weekly_visit_sessions", &[]), want.session_cnt.get());
        assert_eq!(value(&out.samples, "wechat_weekly_visit_uv", &[]), want.visit_uv.get());
        assert_eq!(value(&out.samples, "wechat_weekly_visit_depth", &[]), want.visit_depth.get());

        rig.set("2024-03-31T23:00:00+08:00");
        assert_eq!(rig.poll(&mut *c).await.unwrap().data_date, Some(date(2024, 3, 18)), "Sunday: this week is not over");
        for body in rig.bodies(API.path) {
            let first = crate::cst::parse(body["begin_date"].as_str().unwrap()).unwrap();
            assert_eq!(Week::of(first).first(), first, "{body}");
            assert_eq!(body["end_date"], crate::cst::compact(Week::of(first).last()));
        }
    }

    #[tokio::test]
    async fn a_range_that_is_not_a_week_is_61501() {
        let rig = Rig::start("2024-03-25T10:00:00+08:00", 0, false).await;
        let ask = |b: &str, e: &str| {
            let body = serde_json::json!({"begin_date": b, "end_date": e});
            let client = &rig.client;
            async move { client.post::<_, Response>(&API, &body).await.map_err(|e| e.errcode()) }
        };
        assert_eq!(ask("20240319", "20240325").await.unwrap_err(), Some(61501), "Tuesday to Monday");
        assert_eq!(ask("20240318", "20240320").await.unwrap_err(), Some(61501), "part of a week");
        assert_eq!(ask("20240325", "20240331").await.unwrap_err(), Some(61501), "a week not over");
        assert!(ask("20240318", "20240324").await.unwrap().list.len() == 1);
    }
}
