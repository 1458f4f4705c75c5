//! `performance`: getPerformance, a mini program's startup, download and
//! first-render times. WeChat hands the series back as JSON inside a string
//! (`default_time_data`); the newest `ref_date` in it is the value served.

pub mod sim;

use std::fmt;

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize};

use super::kind::{HOUR, MINI_PROGRAM, MINUTE};
use super::newest::is_quiet;
use super::{BoxFuture, Collector, Kind, Output, PollContext, Route, SettingsError};
use crate::cst;
use crate::store::{Desc, Sample};
use crate::wechat::json::{self, Loose};
use crate::wechat::{Api, WechatError};

pub static KIND: Kind<Settings> = Kind {
    name: "performance",
    accounts: MINI_PROGRAM,
    default: true,
    interval: HOUR,
    comfortable: MINUTE,
    metrics: &[&COST_TIME],
    build: |s| Box::new(Performance::new(s.clone())),
    describe: |s| {
        let queries: Vec<String> = s.queries.iter().map(|q| q.to_string()).collect();
        format!("{}: {}", API.name, queries.join("; "))
    },
    routes: &[Route { api: &API, answer: sim::answer }],
    demo: |_| {
        Some(
            "      performance:\n        interval: 1m\n        queries:\n          - {cost_time_type: startup}\n          - {cost_time_type: download}\n          - {cost_time_type: first_render}\n          - {cost_time_type: download, networktype: wifi}\n"
                .into(),
        )
    },
    ..Kind::BASE
};

pub const API: Api = Api::post("getPerformance", "/wxaapi/log/get_performance");

pub const COST_TIME: Desc = Desc::gauge(
    "wechat_performance_cost_time_seconds",
    "getPerformance cost_time of the newest day, by query.",
);

/// How many days back a poll looks for the newest point.
const LOOKBACK_DAYS: i64 = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostTimeType {
    Startup,
    Download,
    FirstRender,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    #[default]
    All,
    Ios,
    Android,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum NetworkType {
    #[default]
    #[serde(rename = "all")]
    All,
    #[serde(rename = "wifi")]
    Wifi,
    #[serde(rename = "4g")]
    G4,
    #[serde(rename = "3g")]
    G3,
    #[serde(rename = "2g")]
    G2,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DownloadCode {
    #[default]
    All,
    Yes,
    No,
}

/// `all`, or a scene number (from getSceneList).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scene {
    #[default]
    All,
    Id(u32),
}

impl<'de> Deserialize<'de> for Scene {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scene, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u32),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Scene::Id(n)),
            Raw::S(s) if s == "all" => Ok(Scene::All),
            Raw::S(s) => s
                .parse()
                .map(Scene::Id)
                .map_err(|_| serde::de::Error::custom(format!("scene must be `all` or a scene number, not {s:?}"))),
        }
    }
}

impl CostTimeType {
    pub fn code(self) -> i64 {
        match self {
            CostTimeType::Startup => 1,
            CostTimeType::Download => 2,
            CostTimeType::FirstRender => 3,
        }
    }
    pub fn word(self) -> &'static str {
        match self {
            CostTimeType::Startup => "startup",
            CostTimeType::Download => "download",
            CostTimeType::FirstRender => "first_render",
        }
    }
}

const ALL: &str = "@_all";

impl Device {
    fn code(self) -> &'static str {
        match self {
            Device::All => ALL,
            Device::Ios => "1",
            Device::Android => "2",
        }
    }
    fn word(self) -> &'static str {
        match self {
            Device::All => "all",
            Device::Ios => "ios",
            Device::Android => "android",
        }
    }
}

impl NetworkType {
    fn code(self) -> &'static str {
        match self {
            NetworkType::All => ALL,
            other => other.word(),
        }
    }
    fn word(self) -> &'static str {
        match self {
            NetworkType::All => "all",
            NetworkType::Wifi => "wifi",
            NetworkType::G4 => "4g",
            NetworkType::G3 => "3g",
            NetworkType::G2 => "2g",
        }
    }
}

impl DownloadCode {
    fn code(self) -> &'static str {
        match self {
            DownloadCode::All => ALL,
            DownloadCode::Yes => "1",
            DownloadCode::No => "2",
        }
    }
    fn word(self) -> &'static str {
        match self {
            DownloadCode::All => "all",
            DownloadCode::Yes => "yes",
            DownloadCode::No => "no",
        }
    }
}

impl fmt::Display for Scene {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scene::All => f.write_str("all"),
            Scene::Id(n) => write!(f, "{n}"),
        }
    }
}

/// One query: a set of series. Filters left out mean "all".
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    pub cost_time_type: CostTimeType,
    #[serde(default)]
    pub device: Device,
    #[serde(default)]
    pub networktype: NetworkType,
    #[serde(default)]
    pub scene: Scene,
    #[serde(default)]
    pub is_download_code: DownloadCode,
}

impl Query {
    pub fn all(cost_time_type: CostTimeType) -> Query {
        Query {
            cost_time_type,
            device: Device::All,
            networktype: NetworkType::All,
            scene: Scene::All,
            is_download_code: DownloadCode::All,
        }
    }

    /// The three cost time types with every filter "all".
    pub fn defaults() -> Vec<Query> {
        [CostTimeType::Startup, CostTimeType::Download, CostTimeType::FirstRender].map(Query::all).to_vec()
    }

    pub fn request(&self, start: i64, end: i64) -> Request {
        Request {
            cost_time_type: self.cost_time_type.code(),
            default_start_time: start,
            default_end_time: end,
            device: self.device.code(),
            is_download_code: self.is_download_code.code(),
            scene: match self.scene {
                Scene::All => ALL.to_string(),
                Scene::Id(n) => n.to_string(),
            },
            networktype: self.networktype.code(),
        }
    }

    fn sample(&self, seconds: f64) -> Sample {
        Sample::new(&COST_TIME, seconds)
            .label("cost_time_type", self.cost_time_type.word())
            .label("device", self.device.word())
            .label("networktype", self.networktype.word())
            .label("scene", self.scene.to_string())
            .label("is_download_code", self.is_download_code.word())
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (device {}, networktype {}, scene {}, is_download_code {})",
            self.cost_time_type.word(),
            self.device.word(),
            self.networktype.word(),
            self.scene,
            self.is_download_code.word()
        )
    }
}

#[derive(Serialize, Debug, PartialEq)]
pub struct Request {
    pub cost_time_type: i64,
    pub default_start_time: i64,
    pub default_end_time: i64,
    pub device: &'static str,
    pub is_download_code: &'static str,
    pub scene: String,
    pub networktype: &'static str,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct Response {
    #[serde(alias = "defaultTimeData")]
    pub default_time_data: Loose<String>,
}

#[derive(Deserialize, Debug, Default)]
pub struct TimeData {
    #[serde(default, deserialize_with = "json::list")]
    pub list: Vec<Point>,
}

#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Point {
    pub ref_date: Loose<String>,
    pub cost_time_type: Loose<i64>,
    /// Milliseconds.
    pub cost_time: Loose<f64>,
}

impl Response {
    /// The newest day's cost in milliseconds, with its day. Points of another
    /// cost_time_type or without a value are passed over.
    pub fn newest(&self, cost_time_type: CostTimeType) -> Result<Option<(NaiveDate, f64)>, WechatError> {
        let text = self.default_time_data.as_deref().unwrap_or("").trim();
        if text.is_empty() {
            return Ok(None);
        }
        let data: TimeData = serde_json::from_str(text)
            .map_err(|e| WechatError::InvalidResponse(format!("default_time_data: {e}")))?;
        Ok(data
            .list
            .iter()
            .filter(|p| p.cost_time_type.get().is_none_or(|t| t == cost_time_type.code()))
            .filter_map(|p| Some((p.ref_date.as_deref().and_then(cst::parse)?, p.cost_time.get()?)))
            .max_by_key(|(d, _)| *d))
    }
}

/// Settings of the `performance` collector.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// One series set per query; the default is the three cost_time_types, unfiltered.
    #[serde(default = "Query::defaults")]
    pub queries: Vec<Query>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { queries: Query::defaults() }
    }
}

impl super::Settings for Settings {
    fn check(self) -> Result<Settings, SettingsError> {
        let queries = &self.queries;
        if let Some(i) = queries.iter().enumerate().position(|(i, q)| queries[..i].contains(q)) {
            return Err(SettingsError::new(
                format!("queries[{i}]"),
                format!("query {} is listed twice; each query must be different, or its series would be served twice", queries[i]),
                &["queries:"],
            ));
        }
        if queries.is_empty() {
            return Err(SettingsError::new(
                "queries",
                "queries is empty; leave it out for the three default queries",
                &["queries:"],
            ));
        }
        Ok(self)
    }
}

pub struct Performance {
    settings: Settings,
}

impl Performance {
    pub fn new(settings: Settings) -> Performance {
        Performance { settings }
    }
}

impl Performance {
    /// Every query's newest point in `[first, last]` (UTC+8 days).
    async fn newest_in(&self, cx: &PollContext<'_>, first: NaiveDate, last: NaiveDate) -> Result<Output, WechatError> {
        let start = cst::day_start(first);
        let end = cst::day_start(last + Duration::days(1)) - 1;
        let mut out = Output::default();
        for q in &self.settings.queries {
            let resp: Response = cx.client.post(&API, &q.request(start, end)).await?;
            if let Some((day, ms)) = resp.newest(q.cost_time_type)? {
                out.samples.push(q.sample(ms / 1000.0));
                out.data_date = out.data_date.max(Some(day));
            }
        }
        Ok(out)
    }
}

impl Collector for Performance {
    fn poll<'a>(&'a mut self, cx: &'a PollContext<'a>) -> BoxFuture<'a, Result<Output, WechatError>> {
        Box::pin(async move {
            let yesterday = cst::yesterday(cx.now);
            let out = self.newest_in(cx, yesterday - Duration::days(LOOKBACK_DAYS - 1), yesterday).await?;
            // No query has a point for yesterday, and it is late enough to call it quiet
            // (see `newest`): a quiet day, served as its date without series.
            if out.data_date < Some(yesterday) && is_quiet(yesterday, cx.now, cx.quiet_after) {
                return Ok(Output { samples: Vec::new(), data_date: Some(yesterday) });
            }
            Ok(out)
        })
    }

    fn fetch_day<'a>(
        &'a self,
        cx: &'a PollContext<'a>,
        day: NaiveDate,
    ) -> Option<BoxFuture<'a, Result<Option<Output>, WechatError>>> {
        Some(Box::pin(async move {
            let out = self.newest_in(cx, day, day).await?;
            if out.data_date.is_none() && is_quiet(day, cx.now, cx.quiet_after) {
                return Ok(Some(Output { samples: Vec::new(), data_date: Some(day) }));
            }
            Ok(out.data_date.is_some().then_some(out))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_example_newest_day_wins() {
        let text = std::fs::read(format!("{}/tests/data/performance.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let resp: Response = crate::wechat::client::decode(&text).unwrap();
        let (day, ms) = resp.newest(CostTimeType::Download).unwrap().unwrap();
        assert_eq!(day, NaiveDate::from_ymd_opt(2019, 10, 30).unwrap());
        assert_eq!(ms, 1682.0);
        assert_eq!(resp.newest(CostTimeType::Startup).unwrap(), None, "points of another type are not ours");
    }

    #[test]
    fn empty_and_broken_inner_json() {
        let empty = Response { default_time_data: String::new().into() };
        assert_eq!(empty.newest(CostTimeType::Startup).unwrap(), None);
        let empty_list = Response { default_time_data: Loose(Some(r#"{"list":[]}"#.into())) };
        assert_eq!(empty_list.newest(CostTimeType::Startup).unwrap(), None);
        let broken = Response { default_time_data: Loose(Some(r#"{"list":[{"#.into())) };
        assert_eq!(broken.newest(CostTimeType::Startup).unwrap_err().reason(), "invalid_response");
        let strings = Response {
            default_time_data: Loose(Some(r#"{"list":[{"ref_date":"20240101","cost_time_type":"1","cost_time":"900"}]}"#.into())),
        };
        assert_eq!(strings.newest(CostTimeType::Startup).unwrap().unwrap().1, 900.0);
    }

    #[test]
    fn words_become_wechat_codes() {
        let q = Query {
            cost_time_type: CostTimeType::Download,
            device: Device::Ios,
            networktype: NetworkType::Wifi,
            scene: Scene::Id(1001),
            is_download_code: DownloadCode::No,
        };
        let r = serde_json::to_value(q.request(10, 20)).unwrap();
        assert_eq!(
            r,
            serde_json::json!({"cost_time_type": 2, "default_start_time": 10, "default_end_time": 20,
                "device": "1", "is_download_code": "2", "scene": "1001", "networktype": "wifi"})
        );
        let all = serde_json::to_value(Query::all(CostTimeType::Startup).request(1, 2)).unwrap();
        assert_eq!(all["device"], "@_all");
        assert_eq!(all["scene"], "@_all");
        let s = q.sample(1.5);
        let labels: Vec<(&str, &str)> = s.labels.iter().map(|(k, v)| (k.as_ref(), v.as_str())).collect();
        assert_eq!(
            labels,
            vec![("cost_time_type", "download"), ("device", "ios"), ("networktype", "wifi"), ("scene", "1001"), ("is_download_code", "no")]
        );
    }

    #[test]
    fn queries_parse_from_words() {
        let q: Query = yaml_serde::from_str("{cost_time_type: download, networktype: 4g, scene: 1001}").unwrap();
        assert_eq!(q.networktype, NetworkType::G4);
        assert_eq!(q.scene, Scene::Id(1001));
        assert_eq!(q.device, Device::All);
        assert!(yaml_serde::from_str::<Query>("{cost_time_type: boot}").is_err());
        assert!(yaml_serde::from_str::<Query>("{cost_time_type: startup, scene: lobby}").is_err());
        assert!(yaml_serde::from_str::<Query>("{cost_time_type: startup, devcie: ios}").is_err());
    }

    /// A mini program without a launch: from quiet_day_after, yesterday is a quiet
    /// day (its date, no series), not the last day with a point.
    #[tokio::test]
    async fn a_quiet_day_is_served_as_such() {
        use crate::collectors::testing::{Rig, date};
        let mut app = crate::simulator::SimApp::new("shop", "wxtest00000shop1", super::super::Account::Miniprogram);
        app.quiet = true;
        let rig = Rig::start_with("2024-03-02T07:00:00+08:00", 0, app).await;
        let mut c = Performance::new(Settings::default());
        let out = rig.poll(&mut c).await.unwrap();
        assert_eq!(out, Output::default(), "before the hour: nothing to say yet");
        rig.set("2024-03-02T08:00:00+08:00");
        let out = rig.poll(&mut c).await.unwrap();
        assert_eq!((out.data_date, out.samples.len()), (Some(date(2024, 3, 1)), 0));
    }
}
