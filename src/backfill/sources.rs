//! The daily collectors, asked for one given day each: the same requests and the
//! same mapping a live poll uses, so backfilled numbers are the live numbers.

use chrono::{NaiveDate, Utc};

use crate::collectors::{interface_summary, performance, visit_trend, PollContext, Spec};
use crate::store::Sample;
use crate::wechat::{AppClient, WechatError};

/// A collector that can be asked for any given day.
pub enum Source {
    VisitTrend,
    Performance(performance::Performance),
    InterfaceSummary,
}

impl Source {
    /// The source for a configured collector; None for one whose data is not daily
    /// (a log cursor, a running total), which has no past to ask for.
    pub fn for_spec(spec: &Spec) -> Option<Source> {
        match spec {
            Spec::VisitTrend => Some(Source::VisitTrend),
            Spec::Performance(s) => Some(Source::Performance(performance::Performance::new(s.clone()))),
            Spec::InterfaceSummary => Some(Source::InterfaceSummary),
            Spec::CloudbaseSms(_) | Spec::RealtimeLog(_) => None,
        }
    }

    /// `day`'s samples (without `app`), or None when WeChat has nothing for that day.
    pub async fn day(&self, client: &AppClient, day: NaiveDate) -> Result<Option<Vec<Sample>>, WechatError> {
        let cx = PollContext { client, now: Utc::now() };
        match self {
            Source::VisitTrend => Ok(visit_trend::VisitTrend::fetch(&cx, day).await?.map(|row| row.samples())),
            Source::Performance(p) => p.fetch_day(&cx, day).await,
            Source::InterfaceSummary => {
                Ok(interface_summary::InterfaceSummary::fetch_day(&cx, day).await?.map(|d| d.samples()))
            }
        }
    }
}
