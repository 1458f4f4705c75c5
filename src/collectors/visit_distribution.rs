//! `visit_distribution`: getVisitDistribution, how a mini program's visits of one
//! day spread over entry sources, stay times and depths.
//!
//! Each `index` WeChat sends is a `dimension`: the three it documents get short
//! names, and one it adds later is served under its own name, so it shows up
//! without a code change. Each item's `key` (a source, a stay-time or a depth
//! bucket, as WeChat numbers them) is the `key` label.

pub mod sim;

use chrono::NaiveDate;
use serde::Deserialize;

use super::datacube::{answers_day, Daily, Datacube};
use super::kind::{HOUR, MINI_PROGRAM, MINUTE};
use super::{DateSpan, Kind, NoSettings, PollContext, Route};
use crate::store::{Desc, Sample};
use crate::wechat::json::{self, Loose};
use crate::wechat::{Api, WechatError};

pub static KIND: Kind<NoSettings> = Kind {
    name: "visit_distribution",
    accounts: MINI_PROGRAM,
    default: false,
    interval: HOUR,
    comfortable: MINUTE,
    metrics: &[&DISTRIBUTION],
    build: |_| Box::<VisitDistribution>::default(),
    describe: |_| format!("{} for yesterday (UTC+8)", API.name),
    routes: &[Route { api: &API, answer: sim::answer }],
    demo: |_| Some("      visit_distribution: {interval: 1m}\n".into()),
    ..Kind::BASE
};

pub const API: Api = Api::post("getVisitDistribution", "/datacube/getweanalysisappidvisitdistribution");

pub const DISTRIBUTION: Desc = Desc::gauge(
    "wechat_daily_visit_distribution",
    "Visits on the data date by dimension (source: entry scene, stay_time and depth: WeChat's buckets, or an index \
     WeChat added, by its name) and the item's key.",
);

/// The `dimension` label of a WeChat `index`: its short name, or the index itself.
pub fn dimension(index: &str) -> &str {
    match index {
        "access_source_session_cnt" => "source",
        "access_staytime_info" => "stay_time",
        "access_depth_info" => "depth",
        other => other,
    }
}

/// One day (the API allows no more), `yyyymmdd`.
pub type Request = DateSpan;

/// A day's distributions, in the HTTPS shape or the cloud call's camelCase one.
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Response {
    #[serde(alias = "refDate")]
    pub ref_date: Loose<String>,
    #[serde(deserialize_with = "json::list")]
    pub list: Vec<Distribution>,
}

#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Distribution {
    pub index: Loose<String>,
    #[serde(alias = "itemList", deserialize_with = "json::list")]
    pub item_list: Vec<Item>,
}

#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Item {
    pub key: Loose<String>,
    pub value: Loose<f64>,
}

impl Response {
    /// One sample per item: items without a key or a value are passed over, and of
    /// two items for one (dimension, key) the first is kept.
    pub fn samples(&self) -> Vec<Sample> {
        let mut out: Vec<Sample> = Vec::new();
        for d in &self.list {
            let Some(index) = d.index.as_deref().map(str::trim).filter(|i| !i.is_empty()) else { continue };
            let dim = dimension(index);
            for item in &d.item_list {
                let (Some(key), Some(v)) = (item.key.as_deref(), item.value.get()) else { continue };
                let seen = out.iter().any(|s| s.labels[0].1 == dim && s.labels[1].1 == key);
                if !seen {
                    out.push(Sample::new(&DISTRIBUTION, v).label("dimension", dim.to_string()).label("key", key.to_string()));
                }
            }
        }
        out
    }
}

/// The collector: the newest day's distributions.
pub type VisitDistribution = Daily<Distributions>;

#[derive(Default)]
pub struct Distributions;

impl Datacube for Distributions {
    type Period = NaiveDate;
    type Data = Vec<Sample>;

    /// None while WeChat has no distribution for `day`.
    async fn fetch(&self, cx: &PollContext<'_>, day: NaiveDate) -> Result<Option<Vec<Sample>>, WechatError> {
        let resp: Response = cx.client.post(&API, &Request::for_day(day)).await?;
        if !answers_day(resp.ref_date.as_deref(), day) {
            return Ok(None);
        }
        let samples = resp.samples();
        Ok((!samples.is_empty()).then_some(samples))
    }

    fn samples(&self, data: &Vec<Sample>) -> Vec<Sample> {
        data.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{Rig, answer, date, fixture, value};

    const NAME: &str = "wechat_daily_visit_distribution";

    /// The example of WeChat's getVisitDistribution page (developers.weixin.qq.com,
    /// data-analysis/others/getVisitDistribution, and the older analysis-visit page).
    #[test]
    fn documented_example() {
        let s = fixture::<Response>("visit_distribution.json").samples();
        assert_eq!(s.len(), 9 + 8 + 5);
        assert_eq!(value(&s, NAME, &[("dimension", "source"), ("key", "1")]), Some(116578.0));
        assert_eq!(value(&s, NAME, &[("dimension", "source"), ("key", "10")]), Some(5.0));
        assert_eq!(value(&s, NAME, &[("dimension", "stay_time"), ("key", "8")]), Some(16329.0));
        assert_eq!(value(&s, NAME, &[("dimension", "depth"), ("key", "2")]), Some(63542.0));
        assert_eq!(value(&s, NAME, &[("dimension", "depth"), ("key", "6")]), None);
    }

    #[test]
    fn an_index_wechat_adds_is_served_under_its_own_name() {
        let r: Response = answer(
            r#"{"ref_date":"20240101","list":[
                {"index":"access_source_visit_uv","item_list":[{"key":"1","value":"40"},{"key":2,"value":3,"access_source_visit_uv":2}]},
                {"index":"access_depth_info","item_list":[{"key":1,"value":7},{"key":1,"value":8},{"key":2},{"value":9}]},
                {"item_list":[{"key":1,"value":1}]}
            ]}"#,
        )
        .unwrap();
        let s = r.samples();
        assert_eq!(value(&s, NAME, &[("dimension", "access_source_visit_uv"), ("key", "1")]), Some(40.0));
        assert_eq!(value(&s, NAME, &[("dimension", "access_source_visit_uv"), ("key", "2")]), Some(3.0));
        assert_eq!(value(&s, NAME, &[("dimension", "depth"), ("key", "1")]), Some(7.0), "the first of two");
        assert_eq!(s.len(), 3, "items without a key or a value, and lists without an index, are passed over");
        assert!(answer::<Response>(r#"{"list":[{"index":"x","item_list":[{"key":1,"value":"many"}]}]}"#).is_err());
    }

    /// Against the simulator: exactly its distribution of the day, the odd app's
    /// extra index included.
    #[tokio::test]
    async fn serves_the_simulators_distribution() {
        for odd in [false, true] {
            let rig = Rig::start("2024-03-02T10:00:00+08:00", 8, odd).await;
            let mut c = VisitDistribution::default();
            let out = rig.poll(&mut c).await.unwrap();
            let day = date(2024, 3, 1);
            assert_eq!(out.data_date, Some(day));
            let want = sim::distributions(&rig.app.appid, day, odd);
            let mut n = 0;
            for (index, items) in &want {
                for (key, v) in items {
                    let k = key.to_string();
                    assert_eq!(value(&out.samples, NAME, &[("dimension", dimension(index)), ("key", &k)]), Some(*v as f64));
                    n += 1;
                }
            }
            assert_eq!(out.samples.len(), n);
            assert_eq!(want.iter().any(|(i, _)| *i == "access_source_visit_uv"), odd);
        }
    }
}
