//! `retain`: getDailyRetain, how many of a day's new and active users came back.
//!
//! WeChat answers for one cohort day C at a time: key 0 is the cohort's size, key
//! k the users of C who visited on day C+k, and keys for days still to come are
//! left out. The newest complete figure for key k is therefore the one of cohort
//! yesterday−k, so a poll asks for one cohort per key WeChat documents and serves
//! each key from its own cohort: every series is as fresh as it can be.

pub mod sim;

use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use super::datacube::{Daily, Datacube};
use super::kind::{HOUR, MINI_PROGRAM, MINUTE};
use super::{DateSpan, Kind, NoSettings, PollContext, Route};
use crate::store::{Desc, Sample};
use crate::wechat::json::{self, Loose};
use crate::wechat::{Api, WechatError};

pub static KIND: Kind<NoSettings> = Kind {
    name: "retain",
    accounts: MINI_PROGRAM,
    default: false,
    interval: HOUR,
    comfortable: MINUTE,
    metrics: &[&RETAINED],
    build: |_| Box::<Retain>::default(),
    describe: |_| {
        let keys: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
        format!("{} for the cohorts of yesterday (UTC+8) minus {} days, one call each", API.name, keys.join(", "))
    },
    routes: &[Route { api: &API, answer: sim::answer }],
    demo: |_| Some("      retain: {interval: 1m}\n".into()),
    ..Kind::BASE
};

pub const API: Api = Api::post("getDailyRetain", "/datacube/getweanalysisappiddailyretaininfo");

pub const RETAINED: Desc = Desc::gauge(
    "wechat_retained_users",
    "Users of a cohort (new: first visit, active: any visit, on the cohort's day) who visited again days_after days later, \
     from the cohort of the data date minus days_after; days_after 0 is the cohort's size.",
);

/// The keys WeChat documents: days after the cohort's day.
pub const KEYS: [i64; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 14, 30];

/// One cohort day (the API allows no more), `yyyymmdd`.
pub type Request = DateSpan;

/// One cohort, in the HTTPS shape or the cloud call's camelCase one.
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Response {
    #[serde(alias = "refDate")]
    pub ref_date: Loose<String>,
    #[serde(alias = "visitUvNew", deserialize_with = "json::list")]
    pub visit_uv_new: Vec<Item>,
    #[serde(alias = "visitUv", deserialize_with = "json::list")]
    pub visit_uv: Vec<Item>,
}

#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Item {
    pub key: Loose<i64>,
    pub value: Loose<f64>,
}

impl Response {
    /// Whether the answer is for cohort `day` (an answer without a date is taken as asked).
    pub fn is_for(&self, day: NaiveDate) -> bool {
        super::datacube::answers_day(self.ref_date.as_deref(), day)
    }

    /// The cohorts' figures for key `k`: (cohort, value), the first item of each list
    /// with that key and a value.
    pub fn key(&self, k: i64) -> Vec<(&'static str, f64)> {
        let find = |items: &[Item]| items.iter().find(|i| i.key.get() == Some(k)).and_then(|i| i.value.get());
        [("new", find(&self.visit_uv_new)), ("active", find(&self.visit_uv))]
            .into_iter()
            .filter_map(|(cohort, v)| Some((cohort, v?)))
            .collect()
    }
}

fn sample(cohort: &str, k: i64, value: f64) -> Sample {
    Sample::new(&RETAINED, value).label("cohort", cohort.to_string()).label("days_after", k.to_string())
}

/// The collector: each key from its newest complete cohort.
pub type Retain = Daily<Cohorts>;

#[derive(Default)]
pub struct Cohorts;

impl Datacube for Cohorts {
    type Period = NaiveDate;
    type Data = Vec<Sample>;

    /// Key k from cohort `day`−k. While cohort `day` has no key 0, WeChat has not
    /// published `day`: None, and no other cohort is asked for.
    async fn fetch(&self, cx: &PollContext<'_>, day: NaiveDate) -> Result<Option<Vec<Sample>>, WechatError> {
        let mut out = Vec::new();
        for k in KEYS {
            let cohort = day - Duration::days(k);
            let resp: Response = cx.client.post(&API, &Request::for_day(cohort)).await?;
            let found = if resp.is_for(cohort) { resp.key(k) } else { Vec::new() };
            if k == 0 && found.is_empty() {
                return Ok(None);
            }
            out.extend(found.into_iter().map(|(c, v)| sample(c, k, v)));
        }
        Ok(Some(out))
    }

    fn samples(&self, data: &Vec<Sample>) -> Vec<Sample> {
        data.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{Rig, answer, date, fixture, value};

    /// The example of WeChat's getDailyRetain page (developers.weixin.qq.com,
    /// data-analysis/visit-retain/getDailyRetain): yesterday's cohort, key 0 only.
    #[test]
    fn documented_example() {
        let r: Response = fixture("retain.json");
        assert!(r.is_for(date(2017, 3, 13)));
        assert!(!r.is_for(date(2017, 3, 12)));
        assert_eq!(r.key(0), vec![("new", 5464.0), ("active", 55500.0)]);
        assert!(r.key(1).is_empty(), "days still to come are left out");
    }

    #[test]
    fn keys_as_strings_gaps_and_the_cloud_shape() {
        let r: Response = answer(
            r#"{"refDate":"20240101","visitUvNew":[{"key":"0","value":"10"},{"key":"7","value":"3"},{"key":7,"value":9}],
                "visitUv":[{"key":0},{"key":7,"value":5}]}"#,
        )
        .unwrap();
        assert_eq!(r.key(0), vec![("new", 10.0)], "an item without a value is no sample");
        assert_eq!(r.key(7), vec![("new", 3.0), ("active", 5.0)], "the first of two items for one key");
        let empty: Response = answer(r#"{"visit_uv_new":null}"#).unwrap();
        assert!(empty.key(0).is_empty() && empty.is_for(date(2024, 1, 1)));
        assert!(answer::<Response>(r#"{"visit_uv":[{"key":"x","value":1}]}"#).is_err());
    }

    /// Against the simulator: each key from the cohort yesterday−k, exactly the
    /// simulator's figure; one call per key, each for one cohort day.
    #[tokio::test]
    async fn each_key_comes_from_its_own_cohort() {
        let rig = Rig::start("2024-03-02T10:00:00+08:00", 8, false).await;
        let mut c = Retain::default();
        let out = rig.poll(&mut c).await.unwrap();
        let yesterday = date(2024, 3, 1);
        assert_eq!(out.data_date, Some(yesterday));
        assert_eq!(out.samples.len(), 2 * KEYS.len());
        for k in KEYS {
            let cohort = yesterday - Duration::days(k);
            let (new, active) = sim::figure(&rig.app.appid, cohort, k);
            let ks = k.to_string();
            assert_eq!(value(&out.samples, "wechat_retained_users", &[("cohort", "new"), ("days_after", &ks)]), Some(new));
            assert_eq!(
                value(&out.samples, "wechat_retained_users", &[("cohort", "active"), ("days_after", &ks)]),
                Some(active)
            );
        }
        let asked: Vec<String> = rig.bodies(API.path).iter().map(|b| b["end_date"].as_str().unwrap().to_string()).collect();
        assert_eq!(asked, ["20240301", "20240229", "20240228", "20240227", "20240226", "20240225", "20240224", "20240223", "20240216", "20240131"]);
        assert!(rig.bodies(API.path).iter().all(|b| b["begin_date"] == b["end_date"]));
    }

    /// Early in the day yesterday's cohort is not out: the day before is served,
    /// its keys from the cohorts before it; then yesterday once it is out.
    #[tokio::test]
    async fn before_yesterday_is_published_the_day_before_is_served() {
        let rig = Rig::start("2024-03-02T01:00:00+08:00", 8, true).await;
        let mut c = Retain::default();
        let out = rig.poll(&mut c).await.unwrap();
        let before = date(2024, 2, 29);
        assert_eq!(out.data_date, Some(before));
        let (new, _) = sim::figure(&rig.app.appid, before - Duration::days(14), 14);
        assert_eq!(value(&out.samples, "wechat_retained_users", &[("cohort", "new"), ("days_after", "14")]), Some(new));
        assert_eq!(rig.bodies(API.path).len(), 1 + KEYS.len(), "yesterday's cohort once, then the day before's keys");

        rig.set("2024-03-02T08:30:00+08:00");
        let out = rig.poll(&mut c).await.unwrap();
        assert_eq!(out.data_date, Some(date(2024, 3, 1)));
        let (_, active) = sim::figure(&rig.app.appid, date(2024, 3, 1), 0);
        assert_eq!(value(&out.samples, "wechat_retained_users", &[("cohort", "active"), ("days_after", "0")]), Some(active));
    }
}
