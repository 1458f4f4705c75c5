//! `user_summary`: an Official Account's followers, from getusersummary (new and
//! lost followers of a day, by `user_source`) and getusercumulate (the followers
//! at the end of it). Runs by default: two calls a poll.
//!
//! Both APIs take `YYYY-MM-DD` dates, an end no later than yesterday (UTC+8) and a
//! span of at most 7 days; a source with no new or lost follower that day has no
//! row. The day served follows [`super::newest`].

pub mod sim;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::datacube::{Daily, Datacube, by_key, day_rows, pick_day};
use super::kind::{HOUR, MINUTE, OFFICIAL_ACCOUNT};
use super::{Kind, NoSettings, PollContext, Route};
use crate::store::{Desc, Sample};
use crate::wechat::json::Loose;
use crate::wechat::{Api, WechatError};

pub static KIND: Kind<NoSettings> = Kind {
    name: "user_summary",
    accounts: OFFICIAL_ACCOUNT,
    default: true,
    interval: HOUR,
    comfortable: MINUTE,
    metrics: &[&NEW_FOLLOWERS, &LOST_FOLLOWERS, &FOLLOWERS],
    build: |_| Box::<UserSummary>::default(),
    describe: |_| format!("{} and {} for yesterday (UTC+8)", SUMMARY.name, CUMULATE.name),
    routes: &[Route { api: &SUMMARY, answer: sim::summary }, Route { api: &CUMULATE, answer: sim::cumulate }],
    demo: |_| Some("      user_summary: {interval: 1m}\n".into()),
    ..Kind::BASE
};

pub const SUMMARY: Api = Api::post("getusersummary", "/datacube/getusersummary");
pub const CUMULATE: Api = Api::post("getusercumulate", "/datacube/getusercumulate");

/// The documented maximum span of both APIs, in days.
pub const MAX_DAYS: i64 = 7;

pub const NEW_FOLLOWERS: Desc = Desc::gauge(
    "wechat_daily_new_followers",
    "New followers (new_user) on the data date, by where they came from (source: WeChat's user_source).",
);
pub const LOST_FOLLOWERS: Desc = Desc::gauge(
    "wechat_daily_lost_followers",
    "Followers lost (cancel_user) on the data date, by source (WeChat's user_source).",
);
pub const FOLLOWERS: Desc = Desc::gauge("wechat_followers", "Followers (cumulate_user) at the end of the data date.");

/// A getusersummary row: one source's new and lost followers of a day.
#[derive(Deserialize, Serialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct SourceRow {
    pub ref_date: Loose<String>,
    pub user_source: Loose<i64>,
    pub new_user: Loose<f64>,
    pub cancel_user: Loose<f64>,
}

/// A getusercumulate row: the followers at the end of a day.
#[derive(Deserialize, Serialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct CumulateRow {
    pub ref_date: Loose<String>,
    pub cumulate_user: Loose<f64>,
}

/// One day's data: the sources with a row, and the followers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Day {
    pub sources: BTreeMap<i64, SourceRow>,
    pub followers: Option<f64>,
}

impl Day {
    /// A day from both APIs' rows; None when neither has anything for it.
    pub fn from_rows(summary: Vec<SourceRow>, cumulate: Vec<CumulateRow>, day: NaiveDate) -> Option<Day> {
        // A row without a source cannot be labelled: passed over.
        let sources = by_key(summary, day, |r| r.ref_date.as_deref(), |r| r.user_source.get(), None);
        let followers = pick_day(cumulate, |r| r.ref_date.as_deref(), day).and_then(|r| r.cumulate_user.get());
        (!sources.is_empty() || followers.is_some()).then_some(Day { sources, followers })
    }

    pub fn samples(&self) -> Vec<Sample> {
        let mut out = Vec::new();
        for (source, row) in &self.sources {
            for (desc, v) in [(&NEW_FOLLOWERS, row.new_user.get()), (&LOST_FOLLOWERS, row.cancel_user.get())] {
                out.extend(v.map(|v| Sample::new(desc, v).label("source", source.to_string())));
            }
        }
        out.extend(self.followers.map(|v| Sample::new(&FOLLOWERS, v)));
        out
    }
}

/// The collector: the newest day's followers.
pub type UserSummary = Daily<Followers>;

#[derive(Default)]
pub struct Followers;

impl Datacube for Followers {
    type Period = NaiveDate;
    type Data = Day;

    async fn fetch(&self, cx: &PollContext<'_>, day: NaiveDate) -> Result<Option<Day>, WechatError> {
        let summary = day_rows(cx, &SUMMARY, day).await?;
        let cumulate = day_rows(cx, &CUMULATE, day).await?;
        Ok(Day::from_rows(summary, cumulate, day))
    }

    fn samples(&self, day: &Day) -> Vec<Sample> {
        day.samples()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::Account;
    use crate::collectors::testing::{Rig, answer, date, fixture, value};
    use crate::collectors::{Collector, PollContext};
    use crate::simulator::{Options, SimApp, Simulator};

    /// WeChat's examples for getusersummary and getusercumulate (the user analysis
    /// page), as wechatpy keeps them in tests/fixtures/datacube_getusersummary.json
    /// and datacube_getusercumulate.json.
    #[test]
    fn documented_examples() {
        let day = date(2014, 12, 7);
        let summary: super::super::List<SourceRow> = fixture("user_summary.json");
        let cumulate: super::super::List<CumulateRow> = fixture("user_cumulate.json");
        let d = Day::from_rows(summary.list, cumulate.list, day).unwrap();
        let s = d.samples();
        assert_eq!(value(&s, "wechat_daily_new_followers", &[("source", "0")]), Some(0.0), "a 0 WeChat sent is a 0");
        assert_eq!(value(&s, "wechat_daily_lost_followers", &[("source", "0")]), Some(0.0));
        assert_eq!(value(&s, "wechat_followers", &[]), Some(1217056.0));
        assert_eq!(s.len(), 3);
        let summary: super::super::List<SourceRow> = fixture("user_summary.json");
        assert_eq!(Day::from_rows(summary.list, vec![], date(2014, 12, 8)), None, "another day's rows");
    }

    #[test]
    fn sources_strings_gaps_and_repeats() {
        let rows: super::super::List<SourceRow> = answer(
            r#"{"list":[
                {"ref_date":"2024-05-06","user_source":"30","new_user":"12","cancel_user":1},
                {"ref_date":"2024-05-06","user_source":30,"new_user":99},
                {"ref_date":"2024-05-06","user_source":17,"new_user":4},
                {"ref_date":"2024-05-06","new_user":7},
                {"ref_date":"2024-05-05","user_source":1,"new_user":5}
            ]}"#,
        )
        .unwrap();
        let d = Day::from_rows(rows.list, vec![], date(2024, 5, 6)).unwrap();
        let s = d.samples();
        assert_eq!(value(&s, "wechat_daily_new_followers", &[("source", "30")]), Some(12.0), "the first row of a source");
        assert_eq!(value(&s, "wechat_daily_lost_followers", &[("source", "30")]), Some(1.0));
        assert_eq!(value(&s, "wechat_daily_new_followers", &[("source", "17")]), Some(4.0));
        assert_eq!(value(&s, "wechat_daily_lost_followers", &[("source", "17")]), None, "left out, not 0");
        assert_eq!(value(&s, "wechat_daily_new_followers", &[("source", "1")]), None, "another day");
        assert_eq!(value(&s, "wechat_followers", &[]), None);
        assert_eq!(s.len(), 3, "the row without a source is passed over: {s:?}");
        assert!(answer::<super::super::List<SourceRow>>(r#"{"list":[{"new_user":"lots"}]}"#).is_err());
    }

    /// Against the simulator: the day before until yesterday is published, then
    /// yesterday, exactly the simulator's rows; every request one dashed day.
    #[tokio::test]
    async fn serves_the_simulators_newest_day() {
        let mut app = SimApp::new("news", "wxtest00000news1", Account::OfficialAccount);
        app.odd = true;
        let rig = Rig::start_with("2024-03-02T02:00:00+08:00", 8, app).await;
        let mut c = UserSummary::default();
        let out = rig.poll(&mut c).await.unwrap();
        let before = date(2024, 2, 29);
        assert_eq!(out.data_date, Some(before));
        check(&out.samples, &rig.app, before);

        rig.set("2024-03-02T09:00:00+08:00");
        let out = rig.poll(&mut c).await.unwrap();
        let yesterday = date(2024, 3, 1);
        assert_eq!(out.data_date, Some(yesterday));
        check(&out.samples, &rig.app, yesterday);
        for path in [SUMMARY.path, CUMULATE.path] {
            for body in rig.bodies(path) {
                assert_eq!(body["begin_date"], body["end_date"]);
                assert!(body["end_date"] == "2024-03-01" || body["end_date"] == "2024-02-29", "{body}");
            }
        }
    }

    fn check(samples: &[Sample], app: &SimApp, day: NaiveDate) {
        let rows = sim::sources(&app.appid, day, app.odd);
        for src in sim::SOURCES {
            let row = rows.iter().find(|r| r.user_source.get() == Some(*src));
            let s = src.to_string();
            let l = [("source", s.as_str())];
            assert_eq!(value(samples, "wechat_daily_new_followers", &l), row.and_then(|r| r.new_user.get()), "{src}");
            assert_eq!(value(samples, "wechat_daily_lost_followers", &l), row.and_then(|r| r.cancel_user.get()), "{src}");
        }
        assert_eq!(value(samples, "wechat_followers", &[]), Some(sim::followers(&app.appid, day, false)));
    }

    #[tokio::test]
    async fn a_mini_program_is_refused_and_a_long_span_is_61501() {
        let app = SimApp::new("shop", "wxtest00000shop1", Account::Miniprogram);
        let sim = Simulator::start(Options::new(vec![app.clone()])).await.unwrap();
        let client = sim.client_for(&app).unwrap();
        let err = UserSummary::default().poll(&PollContext::new(&client, chrono::Utc::now())).await.unwrap_err();
        assert_eq!(err.errcode(), Some(48001));

        let mut oa = SimApp::new("news", "wxtest00000news1", Account::OfficialAccount);
        oa.odd = false;
        let sim = Simulator::start(Options::new(vec![oa.clone()])).await.unwrap();
        let client = sim.client_for(&oa).unwrap();
        let y = crate::cst::yesterday(chrono::Utc::now());
        for (api, days, ok) in [(&SUMMARY, MAX_DAYS, false), (&SUMMARY, MAX_DAYS - 1, true), (&CUMULATE, MAX_DAYS, false)] {
            let span = super::super::DateSpan::dashed(y - chrono::Duration::days(days), y);
            let r: Result<super::super::List<SourceRow>, _> = client.post(api, &span).await;
            assert_eq!(r.is_ok(), ok, "{} over {days} days back", api.name);
            if !ok {
                assert_eq!(r.unwrap_err().errcode(), Some(61501));
            }
        }
        let tomorrow = super::super::DateSpan::dashed(y + chrono::Duration::days(1), y + chrono::Duration::days(1));
        let r: Result<super::super::List<SourceRow>, _> = client.post(&SUMMARY, &tomorrow).await;
        assert_eq!(r.unwrap_err().errcode(), Some(61501), "today is not yet a day WeChat reports");
        let compact = super::super::DateSpan::for_day(y);
        let r: Result<super::super::List<SourceRow>, _> = client.post(&SUMMARY, &compact).await;
        assert_eq!(r.unwrap_err().errcode(), Some(61500), "yyyymmdd is not this API's format");
    }
}
