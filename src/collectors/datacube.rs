//! What the datacube collectors share: their requests (a span of days), their
//! answers (a list of rows), and the collector that serves the newest period of
//! a [`Datacube`] source and can be asked for any day.

use std::future::Future;

use chrono::NaiveDate;

use super::newest::{Newest, Period, is_quiet};
use super::{BoxFuture, Collector, Output, PollContext};
use crate::store::Sample;
use crate::wechat::WechatError;

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
        DateSpan::compact(day, day)
    }

    /// A span as the mini program APIs write it: `yyyymmdd`.
    pub fn compact(begin: NaiveDate, end: NaiveDate) -> DateSpan {
        DateSpan { begin_date: crate::cst::compact(begin), end_date: crate::cst::compact(end) }
    }

    /// A period (day, week, month) as the mini program APIs write it.
    pub fn period<P: Period>(p: P) -> DateSpan {
        DateSpan::compact(p.first(), p.last())
    }

    /// A span as the Official Account APIs write it: `YYYY-MM-DD`.
    pub fn dashed(begin: NaiveDate, end: NaiveDate) -> DateSpan {
        DateSpan { begin_date: crate::cst::dashed(begin), end_date: crate::cst::dashed(end) }
    }
}

/// The row of `rows` that `matches` its `ref_date`, or a lone row without one.
pub fn pick<R>(rows: Vec<R>, ref_date: impl Fn(&R) -> Option<&str>, matches: impl Fn(&str) -> bool) -> Option<R> {
    let mut rows = rows;
    if let Some(i) = rows.iter().position(|r| ref_date(r).is_some_and(&matches)) {
        return Some(rows.swap_remove(i));
    }
    match rows.len() {
        1 if ref_date(&rows[0]).is_none() => rows.pop(),
        _ => None,
    }
}

/// The row whose `ref_date` names `period`, or a lone row without one (or with
/// one that names no period of this kind).
pub fn pick_period<P: Period, R>(rows: Vec<R>, ref_date: impl Fn(&R) -> Option<&str>, period: P) -> Option<R> {
    pick(rows, |r| ref_date(r).filter(|d| P::parse(d).is_some()), |d| P::parse(d) == Some(period))
}

/// [`pick_period`] for a day.
pub fn pick_day<R>(rows: Vec<R>, ref_date: impl Fn(&R) -> Option<&str>, day: NaiveDate) -> Option<R> {
    pick_period(rows, ref_date, day)
}

/// Whether a whole answer dated `ref_date` can be `day`'s: an answer dated another day is
/// not (WeChat then has nothing for `day` yet); an undated one is taken as asked.
pub fn answers_day(ref_date: Option<&str>, day: NaiveDate) -> bool {
    ref_date.and_then(crate::cst::parse).is_none_or(|d| d == day)
}

/// A datacube API family, read one period at a time.
pub trait Datacube: Send + Sync + 'static {
    type Period: Period;
    type Data: Send + Sync + 'static;

    /// The period's data, or None while WeChat has none for it.
    fn fetch(
        &self,
        cx: &PollContext<'_>,
        period: Self::Period,
    ) -> impl Future<Output = Result<Option<Self::Data>, WechatError>> + Send;

    /// The samples of a period's data: one per value WeChat sent.
    fn samples(&self, data: &Self::Data) -> Vec<Sample>;
}

/// A collector of a [`Datacube`] source: it serves the newest period WeChat has.
pub struct Daily<D: Datacube> {
    source: D,
    newest: Newest<D::Period, D::Data>,
}

impl<D: Datacube> Daily<D> {
    pub fn new(source: D) -> Daily<D> {
        Daily { source, newest: Newest::default() }
    }
}

impl<D: Datacube + Default> Default for Daily<D> {
    fn default() -> Daily<D> {
        Daily::new(D::default())
    }
}

impl<D: Datacube> Collector for Daily<D> {
    fn poll<'a>(&'a mut self, cx: &'a PollContext<'a>) -> BoxFuture<'a, Result<Output, WechatError>> {
        Box::pin(async move {
            let Daily { source, newest } = self;
            newest.refresh(cx.now, cx.quiet_after, |p| source.fetch(cx, p)).await?;
            Ok(newest.output(|data| source.samples(data)))
        })
    }

    fn fetch_day<'a>(
        &'a self,
        cx: &'a PollContext<'a>,
        day: NaiveDate,
    ) -> Option<BoxFuture<'a, Result<Option<Output>, WechatError>>> {
        Some(Box::pin(async move {
            let p = D::Period::newest(day);
            let samples = match self.source.fetch(cx, p).await? {
                Some(d) => self.source.samples(&d),
                // A quiet period is its date without samples, as a poll serves it.
                None if is_quiet(p, cx.now, cx.quiet_after) => Vec::new(),
                None => return Ok(None),
            };
            Ok(Some(Output { samples, data_date: Some(p.first()) }))
        }))
    }
}

/// The rows of `day` among `rows` (a row without a `ref_date` counts as the day's),
/// by a numeric key such as `user_source` or `msg_type`. A row without a key takes
/// `missing`, or is passed over; of two rows for one key the first is kept (two
/// would make one series twice).
pub fn by_key<R>(
    rows: Vec<R>,
    day: NaiveDate,
    ref_date: impl Fn(&R) -> Option<&str>,
    key: impl Fn(&R) -> Option<i64>,
    missing: Option<i64>,
) -> std::collections::BTreeMap<i64, R> {
    let mut out = std::collections::BTreeMap::new();
    for row in rows {
        if ref_date(&row).is_some_and(|d| crate::cst::parse(d) != Some(day)) {
            continue;
        }
        if let Some(k) = key(&row).or(missing) {
            out.entry(k).or_insert(row);
        }
    }
    out
}

/// The rows an Official Account API sends for one day (`YYYY-MM-DD`).
pub async fn day_rows<R: serde::de::DeserializeOwned>(
    cx: &PollContext<'_>,
    api: &crate::wechat::Api,
    day: NaiveDate,
) -> Result<Vec<R>, WechatError> {
    let resp: List<R> = cx.client.post(api, &DateSpan::dashed(day, day)).await?;
    Ok(resp.list)
}
