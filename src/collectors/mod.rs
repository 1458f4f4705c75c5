//! Collectors: one module per WeChat API family, each holding its request, its
//! response types, its mapping to metrics and its tests. They all sit behind the
//! small [`Collector`] interface and are registered in one place, [`Spec`].

pub mod cloudbase_sms;
pub mod interface_summary;
pub mod performance;
pub mod realtime_log;
pub mod visit_trend;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::store::Sample;
use crate::wechat::{AppClient, WechatError};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a poll may use: the app's client and the time it runs at.
pub struct PollContext<'a> {
    pub client: &'a AppClient,
    pub now: DateTime<Utc>,
}

/// A poll's result: the samples (without `app`) and, for daily data, the day they belong to.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Output {
    pub samples: Vec<Sample>,
    pub data_date: Option<NaiveDate>,
}

/// A datacube answer: a list of rows, `null` or left out read as empty.
#[derive(serde::Deserialize, Debug, Clone, PartialEq)]
#[serde(bound(deserialize = "T: serde::Deserialize<'de>"))]
pub struct List<T> {
    #[serde(default = "Vec::new", deserialize_with = "crate::wechat::json::list")]
    pub list: Vec<T>,
}

/// A datacube request: a span of days, in the form the API wants.
#[derive(serde::Serialize, Debug, PartialEq)]
pub struct DateSpan {
    pub begin_date: String,
    pub end_date: String,
}

impl DateSpan {
    /// One day as the mini program APIs write it: `yyyymmdd`.
    pub fn for_day(day: NaiveDate) -> DateSpan {
        DateSpan { begin_date: crate::cst::compact(day), end_date: crate::cst::compact(day) }
    }

    /// A span as the Official Account APIs write it: `YYYY-MM-DD`.
    pub fn dashed(begin: NaiveDate, end: NaiveDate) -> DateSpan {
        DateSpan { begin_date: crate::cst::dashed(begin), end_date: crate::cst::dashed(end) }
    }
}

/// The newest day of daily data WeChat has given, kept between polls: the rule the
/// spec sets for every datacube collector, in one place. Yesterday (UTC+8) replaces it
/// once WeChat has it; until then the day held stays served, and a collector holding
/// nothing newer than the day before yesterday asks for that day, so a restart in the
/// early hours does not leave dashboards empty.
pub struct NewestDay<T> {
    held: Option<(NaiveDate, T)>,
}

impl<T> Default for NewestDay<T> {
    fn default() -> NewestDay<T> {
        NewestDay { held: None }
    }
}

impl<T> NewestDay<T> {
    /// Asks `fetch` for yesterday and, when needed, the day before; `fetch` answers
    /// `None` while WeChat has no data for a day.
    pub async fn refresh<F, Fut>(&mut self, now: DateTime<Utc>, mut fetch: F) -> Result<(), WechatError>
    where
        F: FnMut(NaiveDate) -> Fut,
        Fut: Future<Output = Result<Option<T>, WechatError>>,
    {
        let yesterday = crate::cst::yesterday(now);
        let before = yesterday - chrono::Duration::days(1);
        if let Some(data) = fetch(yesterday).await? {
            self.held = Some((yesterday, data));
        } else if self.held.as_ref().is_none_or(|(d, _)| *d < before)
            && let Some(data) = fetch(before).await?
        {
            self.held = Some((before, data));
        }
        Ok(())
    }

    /// The day held and its data.
    pub fn held(&self) -> Option<(NaiveDate, &T)> {
        self.held.as_ref().map(|(d, t)| (*d, t))
    }

    /// The output of a poll: the samples of the day held, and that day.
    pub fn output(&self, samples: impl FnOnce(&T) -> Vec<Sample>) -> Output {
        match self.held() {
            Some((day, data)) => Output { samples: samples(data), data_date: Some(day) },
            None => Output::default(),
        }
    }
}

/// One WeChat API family for one app. A collector keeps what it needs between
/// polls (the newest day seen, a log cursor) in itself.
pub trait Collector: Send {
    fn poll<'a>(&'a mut self, cx: &'a PollContext<'a>) -> BoxFuture<'a, Result<Output, WechatError>>;
}

/// The account kinds of the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Account {
    Miniprogram,
    OfficialAccount,
}

impl Account {
    pub fn as_str(self) -> &'static str {
        match self {
            Account::Miniprogram => "miniprogram",
            Account::OfficialAccount => "official_account",
        }
    }
}

/// A configured collector: which one, with what settings. The one place where
/// collectors are registered.
#[derive(Clone, Debug, PartialEq)]
pub enum Spec {
    VisitTrend,
    Performance(performance::Settings),
    InterfaceSummary,
    CloudbaseSms(cloudbase_sms::Settings),
    RealtimeLog(realtime_log::Settings),
}

/// What the scheduler and the config need to know of a collector kind.
pub struct KindInfo {
    pub name: &'static str,
    pub default_interval: Duration,
    /// Below this, the API's quota is not comfortably met: accepted, with a warning.
    pub comfortable_interval: Duration,
    pub accounts: &'static [Account],
}

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

pub const VISIT_TREND: KindInfo = KindInfo {
    name: "visit_trend",
    default_interval: HOUR,
    comfortable_interval: MINUTE,
    accounts: &[Account::Miniprogram],
};
pub const PERFORMANCE: KindInfo = KindInfo {
    name: "performance",
    default_interval: HOUR,
    comfortable_interval: MINUTE,
    accounts: &[Account::Miniprogram],
};
pub const INTERFACE_SUMMARY: KindInfo = KindInfo {
    name: "interface_summary",
    default_interval: HOUR,
    comfortable_interval: MINUTE,
    accounts: &[Account::OfficialAccount],
};
/// CloudBase belongs to mini programs: an Official Account has no env of its own.
pub const CLOUDBASE_SMS: KindInfo = KindInfo {
    name: "cloudbase_sms",
    default_interval: Duration::from_secs(15 * 60),
    comfortable_interval: MINUTE,
    accounts: &[Account::Miniprogram],
};
pub const REALTIME_LOG: KindInfo = KindInfo {
    name: "realtime_log",
    default_interval: MINUTE,
    // Windows move on a 10-second grid; polling more often finds nothing new.
    // The search budget holds at any interval.
    comfortable_interval: Duration::from_secs(realtime_log::GRAIN as u64),
    accounts: &[Account::Miniprogram],
};

impl Spec {
    pub fn info(&self) -> &'static KindInfo {
        match self {
            Spec::VisitTrend => &VISIT_TREND,
            Spec::Performance(_) => &PERFORMANCE,
            Spec::InterfaceSummary => &INTERFACE_SUMMARY,
            Spec::CloudbaseSms(_) => &CLOUDBASE_SMS,
            Spec::RealtimeLog(_) => &REALTIME_LOG,
        }
    }

    pub fn name(&self) -> &'static str {
        self.info().name
    }

    /// The collectors an account runs when its config names none.
    pub fn defaults(account: Account) -> Vec<Spec> {
        match account {
            Account::Miniprogram => vec![
                Spec::VisitTrend,
                Spec::Performance(performance::Settings::default()),
                Spec::RealtimeLog(realtime_log::Settings::default()),
            ],
            Account::OfficialAccount => vec![Spec::InterfaceSummary],
        }
    }

    pub fn build(&self) -> Box<dyn Collector> {
        match self {
            Spec::VisitTrend => Box::<visit_trend::VisitTrend>::default(),
            Spec::Performance(s) => Box::new(performance::Performance::new(s.clone())),
            Spec::InterfaceSummary => Box::<interface_summary::InterfaceSummary>::default(),
            Spec::CloudbaseSms(s) => Box::new(cloudbase_sms::CloudbaseSms::new(s.clone())),
            Spec::RealtimeLog(s) => Box::new(realtime_log::RealtimeLog::new(s.clone())),
        }
    }

    /// One line for `--config.check`: what the collector will ask WeChat for.
    pub fn describe(&self) -> String {
        match self {
            Spec::VisitTrend => format!("{} for yesterday (UTC+8)", visit_trend::API.name),
            Spec::Performance(s) => {
                let queries: Vec<String> = s.queries.iter().map(|q| q.to_string()).collect();
                format!("{}: {}", performance::API.name, queries.join("; "))
            }
            Spec::InterfaceSummary => format!(
                "{} and {} for yesterday (UTC+8)",
                interface_summary::SUMMARY.name,
                interface_summary::HOURLY.name
            ),
            Spec::CloudbaseSms(s) => s.to_string(),
            Spec::RealtimeLog(s) => s.to_string(),
        }
    }
}

/// A collector of an app, with its polling interval.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectorConfig {
    pub spec: Spec,
    pub interval: Duration,
}
