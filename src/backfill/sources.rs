//! The collectors that can be asked for a given day, found through the registry:
//! each collector's own [`Collector::fetch_day`], the same requests and mapping a
//! live poll uses, so backfilled numbers are the live numbers. Backfill knows no
//! collector by name.

use chrono::{NaiveDate, Utc};

use crate::collectors::{Collector, CollectorConfig, Output, PollContext};
use crate::cst;
use crate::wechat::{AppClient, WechatError};

/// A configured collector whose data is dated (a day, a week, a month).
pub struct Source {
    collector: Box<dyn Collector>,
}

impl Source {
    /// The source for a configured collector; None for one whose data is not daily
    /// (a log cursor, running totals), which has no past to ask for.
    pub fn for_config(c: &CollectorConfig, client: &AppClient) -> Option<Source> {
        let collector = c.spec.build();
        let cx = PollContext::new(client, Utc::now());
        // A future that is never polled sends nothing: this only asks whether it could.
        let daily = collector.fetch_day(&cx, cst::yesterday(cx.now)).is_some();
        daily.then_some(Source { collector })
    }

    /// What a live poll serves on the day after `day` (once `day` is yesterday and
    /// WeChat has published it): `day`'s data, or the newest week, month or cohort as
    /// of `day`. None when WeChat has nothing for it.
    pub async fn day(&self, client: &AppClient, day: NaiveDate) -> Result<Option<Output>, WechatError> {
        let cx = PollContext::new(client, Utc::now());
        match self.collector.fetch_day(&cx, day) {
            Some(fetch) => fetch.await,
            None => Ok(None),
        }
    }
}
