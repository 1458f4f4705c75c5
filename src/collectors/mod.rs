//! Collectors: one module per WeChat API family, each holding its [`Kind`] (name,
//! accounts, default, intervals, metrics, settings), its request, its response
//! types, its mapping to metrics, its simulator answers and its tests. They are
//! listed once, in [`collectors!`] below, like node_exporter's `registerCollector`:
//! the config, the scheduler, the simulator and the tests learn them from
//! [`COLLECTORS`].

pub mod datacube;
pub mod kind;
pub mod newest;
#[cfg(test)]
pub mod testing;

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};

pub use datacube::{DateSpan, List};
pub use kind::{CollectorConfig, CollectorKind, Kind, Listed, NoSettings, Route, Settings, SettingsError, Spec};
pub use newest::NewestDay;

use crate::store::Sample;
use crate::wechat::{AppClient, WechatError};

/// Declares the collectors' modules and lists them, in this order, in
/// [`COLLECTORS`]; each module has a `KIND`.
macro_rules! collectors {
    ($($module:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Every collector, in the order listed.
        pub static COLLECTORS: &[&dyn CollectorKind] = &[$(&$module::KIND),*];

        /// Reads the block of the collector `name`, the value of `map`'s current key.
        fn read_block<'de, A: serde::de::MapAccess<'de>>(name: &str, map: &mut A) -> Result<kind::Entry, A::Error> {
            $(if name == $module::KIND.name {
                return $module::KIND.read(map);
            })*
            Err(serde::de::Error::unknown_field(name, names()))
        }
    };
}

// Every collector, one line each.
collectors! {
    visit_trend,
    performance,
    interface_summary,
    cloudbase_sms,
    realtime_log,
    daily_summary,
    retain,
    visit_page,
    visit_distribution,
    user_portrait,
    weekly_visit_trend,
    monthly_visit_trend,
    user_summary,
    article_reads,
    upstream_msg,
}

/// The names of [`COLLECTORS`].
pub fn names() -> &'static [&'static str] {
    static NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| COLLECTORS.iter().map(|k| k.name()).collect());
    &NAMES
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a poll may use: the app's client, the time it runs at, and the time of
/// day (UTC+8) from which an empty answer for yesterday is a quiet day
/// (`wechat.quiet_day_after`, see [`newest`]).
pub struct PollContext<'a> {
    pub client: &'a AppClient,
    pub now: DateTime<Utc>,
    pub quiet_after: std::time::Duration,
}

impl<'a> PollContext<'a> {
    /// A context with the default `quiet_day_after`.
    pub fn new(client: &'a AppClient, now: DateTime<Utc>) -> PollContext<'a> {
        PollContext { client, now, quiet_after: newest::QUIET_AFTER }
    }
}

/// A poll's result: the samples (without `app`) and, for daily data, the day they belong to.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Output {
    pub samples: Vec<Sample>,
    pub data_date: Option<NaiveDate>,
}

/// One WeChat API family for one app. A collector keeps what it needs between
/// polls (the newest day seen, a log cursor) in itself.
pub trait Collector: Send {
    fn poll<'a>(&'a mut self, cx: &'a PollContext<'a>) -> BoxFuture<'a, Result<Output, WechatError>>;

    /// For daily data: what a poll serves once `day` is yesterday (UTC+8) and
    /// WeChat has published it, asked for now, whatever day today is (None inside
    /// while WeChat has not published it; a quiet day, see [`newest`], is its date
    /// with no samples). None for collectors that are not daily.
    fn fetch_day<'a>(
        &'a self,
        _cx: &'a PollContext<'a>,
        _day: NaiveDate,
    ) -> Option<BoxFuture<'a, Result<Option<Output>, WechatError>>> {
        None
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_metrics_their_own() {
        let mut names: Vec<&str> = names().to_vec();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COLLECTORS.len(), "a collector name twice");
        let mut metrics: Vec<&str> = COLLECTORS.iter().flat_map(|k| k.metrics().iter().map(|d| d.name.as_ref())).collect();
        let all = metrics.len();
        metrics.sort();
        metrics.dedup();
        assert_eq!(metrics.len(), all, "a metric served by two collectors");
        for k in COLLECTORS {
            assert!(!k.metrics().is_empty(), "{} serves no metric", k.name());
            assert!(!k.accounts().is_empty(), "{} serves no account", k.name());
            assert!(k.comfortable_interval() <= k.interval(), "{}: its default interval is too short", k.name());
        }
    }

    #[test]
    fn every_api_path_is_answered_once_by_the_simulator() {
        let mut paths: Vec<&str> = COLLECTORS.iter().flat_map(|k| k.routes().iter().map(|r| r.api.path)).collect();
        let all = paths.len();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), all, "two collectors answer one path");
        assert!(COLLECTORS.iter().all(|k| !k.routes().is_empty()));
    }
}
