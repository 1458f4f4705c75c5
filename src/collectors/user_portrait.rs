//! `user_portrait`: getUserPortrait, who a mini program's new and active users
//! are: where they live, their gender, platform, device and age.
//!
//! WeChat answers for the 1, 7 or 30 days ending on a day (`span`); the data date
//! is that last day. One series per (users, dimension, item): the `dimensions`
//! setting bounds how many (`city` and `devices` run to hundreds of items).

pub mod sim;

use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::datacube::{Daily, Datacube};
use super::kind::{HOUR, MINI_PROGRAM, MINUTE};
use super::{DateSpan, Kind, PollContext, Route, SettingsError};
use crate::store::{Desc, Sample};
use crate::wechat::json::Loose;
use crate::wechat::{Api, WechatError};

pub static KIND: Kind<Settings> = Kind {
    name: "user_portrait",
    accounts: MINI_PROGRAM,
    default: false,
    interval: HOUR,
    comfortable: MINUTE,
    metrics: &[&USERS],
    build: |s| Box::new(UserPortrait::new(Portraits(s.clone()))),
    describe: |s| {
        let dims: Vec<&str> = s.dimensions.iter().map(|d| d.key()).collect();
        format!("{} for the {} days ending yesterday (UTC+8): {}", API.name, s.span.days(), dims.join(", "))
    },
    routes: &[Route { api: &API, answer: sim::answer }],
    demo: |_| Some("      user_portrait: {interval: 1m, span: 7d, dimensions: [genders, platforms, ages, province, devices]}\n".into()),
    ..Kind::BASE
};

pub const API: Api = Api::post("getUserPortrait", "/datacube/getweanalysisappiduserportrait");

pub const USERS: Desc = Desc::gauge(
    "wechat_user_portrait_users",
    "New or active users over the span ending on the data date, by dimension (province, city, genders, platforms, \
     devices, ages) and item name.",
);

/// Settings of the `user_portrait` collector.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The days the portrait covers, ending yesterday.
    pub span: Span,
    /// The dimensions served.
    pub dimensions: Vec<Dimension>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            span: Span::Week,
            dimensions: vec![Dimension::Genders, Dimension::Platforms, Dimension::Ages, Dimension::Province],
        }
    }
}

impl super::Settings for Settings {
    fn check(self) -> Result<Settings, SettingsError> {
        let dims = &self.dimensions;
        if dims.is_empty() {
            return Err(SettingsError::new(
                "dimensions",
                "dimensions is empty; leave it out for genders, platforms, ages and province",
                &["dimensions:"],
            ));
        }
        if let Some(i) = dims.iter().enumerate().position(|(i, d)| dims[..i].contains(d)) {
            return Err(SettingsError::new(
                format!("dimensions[{i}]"),
                format!("{} is listed twice", dims[i].key()),
                &["dimensions:"],
            ));
        }
        Ok(self)
    }
}

/// The spans WeChat offers: 1, 7 or 30 days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Span {
    #[serde(rename = "1d")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

impl Span {
    pub fn days(self) -> i64 {
        match self {
            Span::Day => 1,
            Span::Week => 7,
            Span::Month => 30,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Province,
    City,
    Genders,
    Platforms,
    Devices,
    Ages,
}

impl Dimension {
    pub const ALL: [Dimension; 6] =
        [Dimension::Province, Dimension::City, Dimension::Genders, Dimension::Platforms, Dimension::Devices, Dimension::Ages];

    /// WeChat's key, and the `dimension` label.
    pub fn key(self) -> &'static str {
        match self {
            Dimension::Province => "province",
            Dimension::City => "city",
            Dimension::Genders => "genders",
            Dimension::Platforms => "platforms",
            Dimension::Devices => "devices",
            Dimension::Ages => "ages",
        }
    }
}

/// The span ending on `last`, `yyyymmdd`.
pub type Request = DateSpan;

/// The portraits of new and active users, in the HTTPS shape or the cloud
/// call's camelCase one. Each portrait maps a dimension to its items; it is kept
/// as it came, so a key WeChat adds (or documents as a number, like `index`)
/// breaks nothing.
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Response {
    #[serde(alias = "refDate")]
    pub ref_date: Loose<String>,
    #[serde(alias = "visitUvNew")]
    pub visit_uv_new: Option<Map<String, Value>>,
    #[serde(alias = "visitUv")]
    pub visit_uv: Option<Map<String, Value>>,
}

/// One item of a dimension. `devices` items come without an `id`.
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Item {
    pub id: Loose<i64>,
    pub name: Loose<String>,
    pub value: Loose<f64>,
    /// Where some answers put the value (WeChat's newer field tables name it so).
    pub access_source_visit_uv: Loose<f64>,
}

impl Response {
    /// The items of one dimension of a portrait; an error when they are not a list
    /// of items.
    fn items(portrait: Option<&Map<String, Value>>, dim: &str) -> Result<Vec<Item>, WechatError> {
        match portrait.and_then(|p| p.get(dim)) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(v) => Vec::<Item>::deserialize(v)
                .map_err(|e| WechatError::InvalidResponse(format!("getUserPortrait {dim}: {e}"))),
        }
    }

    /// Whether any dimension of either portrait has an item: until WeChat has the
    /// span, every list is empty.
    pub fn has_data(&self) -> bool {
        [&self.visit_uv_new, &self.visit_uv]
            .into_iter()
            .flatten()
            .any(|p| p.values().any(|v| v.as_array().is_some_and(|a| !a.is_empty())))
    }

    /// The samples of `dims`: items without a name or a value are passed over, and
    /// two items of one name (two device models WeChat names alike) are added up.
    pub fn samples(&self, dims: &[Dimension]) -> Result<Vec<Sample>, WechatError> {
        let mut out: Vec<Sample> = Vec::new();
        for (users, portrait) in [("new", self.visit_uv_new.as_ref()), ("active", self.visit_uv.as_ref())] {
            for dim in dims {
                for item in Response::items(portrait, dim.key())? {
                    let Some(name) = item.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) else { continue };
                    let Some(v) = item.value.get().or(item.access_source_visit_uv.get()) else { continue };
                    let same = |s: &&mut Sample| s.labels[0].1 == users && s.labels[1].1 == dim.key() && s.labels[2].1 == name;
                    match out.iter_mut().find(same) {
                        Some(s) => s.value += v,
                        None => out.push(
                            Sample::new(&USERS, v)
                                .label("users", users)
                                .label("dimension", dim.key())
                                .label("name", name.to_string()),
                        ),
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The collector: the portrait of the newest span.
pub type UserPortrait = Daily<Portraits>;

pub struct Portraits(pub Settings);

impl Datacube for Portraits {
    type Period = NaiveDate;
    type Data = Vec<Sample>;

    /// The span ending on `last`; None while WeChat has no portrait for it.
    async fn fetch(&self, cx: &PollContext<'_>, last: NaiveDate) -> Result<Option<Vec<Sample>>, WechatError> {
        let first = last - Duration::days(self.0.span.days() - 1);
        let resp: Response = cx.client.post(&API, &Request::compact(first, last)).await?;
        if !resp.has_data() {
            return Ok(None);
        }
        resp.samples(&self.0.dimensions).map(Some)
    }

    fn samples(&self, data: &Vec<Sample>) -> Vec<Sample> {
        data.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{Rig, answer, date, fixture, value};

    const NAME: &str = "wechat_user_portrait_users";

    /// The example of WeChat's getUserPortrait page (developers.weixin.qq.com,
    /// data-analysis/others/getUserPortrait), HTTPS and cloud call: the device has no id.
    #[test]
    fn documented_example() {
        for name in ["user_portrait.json", "user_portrait_cloud.json"] {
            let r: Response = fixture(name);
            assert!(r.has_data());
            let s = r.samples(&Dimension::ALL).unwrap();
            assert_eq!(s.len(), 12, "{name}");
            assert_eq!(value(&s, NAME, &[("users", "new"), ("dimension", "province"), ("name", "广东省")]), Some(215.0));
            assert_eq!(value(&s, NAME, &[("users", "active"), ("dimension", "city"), ("name", "广州")]), Some(234.0));
            assert_eq!(value(&s, NAME, &[("users", "active"), ("dimension", "genders"), ("name", "男")]), Some(14534.0));
            assert_eq!(value(&s, NAME, &[("users", "new"), ("dimension", "platforms"), ("name", "iPhone")]), Some(27642.0));
            assert_eq!(value(&s, NAME, &[("users", "active"), ("dimension", "devices"), ("name", "OPPO R9")]), Some(617.0));
            assert_eq!(value(&s, NAME, &[("users", "new"), ("dimension", "ages"), ("name", "17岁以下")]), Some(151.0));
        }
        let defaults = fixture::<Response>("user_portrait.json").samples(&Settings::default().dimensions).unwrap();
        assert_eq!(defaults.len(), 8, "city and devices only on request");
    }

    #[test]
    fn odd_portraits() {
        let r: Response = answer(
            r#"{"ref_date":"20240101","visit_uv_new":{"index":0,"devices":[{"name":"X","value":"3"},{"name":"X","value":2},{"name":" ","value":1},{"name":"Y"}],
                "genders":null,"ages":[{"id":"1","name":"18-24岁","access_source_visit_uv":9}]},"visit_uv":null}"#,
        )
        .unwrap();
        let s = r.samples(&Dimension::ALL).unwrap();
        assert_eq!(value(&s, NAME, &[("dimension", "devices"), ("name", "X")]), Some(5.0), "two items of one name add up");
        assert_eq!(value(&s, NAME, &[("dimension", "ages"), ("name", "18-24岁")]), Some(9.0));
        assert_eq!(s.len(), 2);
        let bad: Response = answer(r#"{"visit_uv":{"city":{"name":"x"}}}"#).unwrap();
        assert_eq!(bad.samples(&[Dimension::City]).unwrap_err().reason(), "invalid_response");
        assert!(bad.samples(&[Dimension::Ages]).is_ok(), "a dimension not served is not read");
        let empty: Response = answer(r#"{"ref_date":"20240101","visit_uv_new":{"province":[],"city":[]},"visit_uv":{}}"#).unwrap();
        assert!(!empty.has_data());
    }

    #[test]
    fn settings_name_the_mistake() {
        use crate::collectors::Settings as _;
        let read = |text: &str| crate::config::from_yaml::<Settings>(text);
        let s = read("{span: 30d, dimensions: [city, devices]}").unwrap();
        assert_eq!((s.span, s.dimensions.as_slice()), (Span::Month, &[Dimension::City, Dimension::Devices][..]));
        assert_eq!(read("{}").unwrap(), Settings::default());
        let e = read("span: 14d").unwrap_err();
        assert_eq!(e.key, "span");
        assert!(e.message.contains("1d") && e.message.contains("30d"), "{e:?}");
        let e = read("dimensions: [genders, religion]").unwrap_err();
        assert_eq!(e.key, "dimensions[1]");
        assert!(e.message.contains("devices"), "{e:?}");
        let e = read("dimensions: [ages, ages]").unwrap().check().unwrap_err();
        assert_eq!(e.key, "dimensions[1]");
        assert!(read("dimensions: []").unwrap().check().unwrap_err().message.contains("empty"));
    }

    /// Against the simulator: the span ending yesterday, exactly the simulator's
    /// items; the day before while yesterday is not out.
    #[tokio::test]
    async fn serves_the_simulators_portrait() {
        let rig = Rig::start("2024-03-02T03:00:00+08:00", 8, true).await;
        let settings = Settings { span: Span::Month, dimensions: Dimension::ALL.to_vec() };
        let mut c = UserPortrait::new(Portraits(settings));
        let out = rig.poll(&mut c).await.unwrap();
        let last = date(2024, 2, 29);
        assert_eq!(out.data_date, Some(last));
        let want = sim::portrait(&rig.app.appid, last, 30);
        assert_eq!(out.samples.len(), want.len());
        for (users, dim, name, v) in &want {
            assert_eq!(value(&out.samples, NAME, &[("users", users), ("dimension", dim), ("name", name)]), Some(*v as f64));
        }
        let asked = rig.bodies(API.path);
        assert_eq!(asked.last().unwrap()["begin_date"], "20240131");
        assert_eq!(asked.last().unwrap()["end_date"], "20240229");

        rig.set("2024-03-02T09:00:00+08:00");
        let mut week = UserPortrait::new(Portraits(Settings::default()));
        let out = rig.poll(&mut week).await.unwrap();
        assert_eq!(out.data_date, Some(date(2024, 3, 1)));
        let want = sim::portrait(&rig.app.appid, date(2024, 3, 1), 7);
        let (users, dim, name, v) = want.iter().find(|(_, d, _, _)| *d == "ages").unwrap();
        assert_eq!(value(&out.samples, NAME, &[("users", users), ("dimension", dim), ("name", name)]), Some(*v as f64));
        assert!(out.samples.iter().all(|s| s.labels[1].1 != "city" && s.labels[1].1 != "devices"));
        assert_eq!(rig.bodies(API.path).last().unwrap()["begin_date"], "20240224");
    }
}
