//! The rule every datacube collector follows for which day (week, month) it
//! serves, written once here.
//!
//! WeChat dates its data in UTC+8 and accepts an end date of yesterday at the
//! latest; yesterday's data appears some hours into today. So a collector asks
//! for the newest complete period (yesterday, the last Monday-to-Sunday week, the
//! last calendar month) and, once WeChat has it, serves it. Until then the period
//! it already holds stays served; a collector holding nothing newer than the
//! period before the newest asks for that one, so a restart in the early hours
//! does not leave dashboards empty.
//!
//! WeChat answers a day with no activity (no callbacks, no new followers) and a
//! day it has not published yet alike: an empty `list`. The two are told apart by
//! the hour: from `quiet_after` (a time of day in UTC+8; WeChat says its data is in
//! by 08:00) an empty answer for yesterday is a quiet day, and any older period
//! that is empty is quiet at any hour. A quiet period is served as such: its data
//! date, and no series. Yesterday is still asked for on every poll after that, so
//! a late-publishing account whose day was taken for quiet gets its numbers as soon
//! as WeChat has them, the same day.

use std::future::Future;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};

use super::Output;
use crate::store::Sample;
use crate::wechat::WechatError;

/// A span of days WeChat reports on as one: a day, a week or a month (UTC+8).
pub trait Period: Copy + Ord + Send + Sync + 'static {
    /// The period `day` falls in.
    fn of(day: NaiveDate) -> Self;
    /// The period a `ref_date` of WeChat's names: `20170313`, `20170306-20170312`
    /// (a week), `201702` (a month); a plain date names the period it falls in.
    fn parse(ref_date: &str) -> Option<Self>;
    /// The newest complete period once `day` is over.
    fn newest(day: NaiveDate) -> Self;
    /// The period before this one.
    fn previous(self) -> Self;
    /// Its first day: the date `wechat_data_date_timestamp_seconds` names.
    fn first(self) -> NaiveDate;
    /// Its last day.
    fn last(self) -> NaiveDate;
    /// The `ref_date` WeChat gives it.
    fn ref_date(self) -> String;
}

impl Period for NaiveDate {
    fn of(day: NaiveDate) -> NaiveDate {
        day
    }
    fn parse(ref_date: &str) -> Option<NaiveDate> {
        crate::cst::parse(ref_date)
    }
    fn newest(day: NaiveDate) -> NaiveDate {
        day
    }
    fn previous(self) -> NaiveDate {
        self - Duration::days(1)
    }
    fn first(self) -> NaiveDate {
        self
    }
    fn last(self) -> NaiveDate {
        self
    }
    fn ref_date(self) -> String {
        crate::cst::compact(self)
    }
}

/// A week, Monday to Sunday, held by its Monday.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Week(NaiveDate);

impl Period for Week {
    fn of(day: NaiveDate) -> Week {
        Week(day - Duration::days(i64::from(day.weekday().num_days_from_monday())))
    }
    fn parse(ref_date: &str) -> Option<Week> {
        let s = ref_date.trim();
        if let Some((first, last)) = s.split_once('-').filter(|(a, _)| a.len() == 8) {
            let (first, last) = (crate::cst::parse(first)?, crate::cst::parse(last)?);
            let w = Week::of(first);
            return (w.first() == first && w.last() == last).then_some(w);
        }
        crate::cst::parse(s).map(Week::of)
    }
    fn newest(day: NaiveDate) -> Week {
        // The week that ends on the last Sunday on or before `day`.
        Week::of(day + Duration::days(1)).previous()
    }
    fn previous(self) -> Week {
        Week(self.0 - Duration::days(7))
    }
    fn first(self) -> NaiveDate {
        self.0
    }
    fn last(self) -> NaiveDate {
        self.0 + Duration::days(6)
    }
    fn ref_date(self) -> String {
        format!("{}-{}", crate::cst::compact(self.first()), crate::cst::compact(self.last()))
    }
}

/// A calendar month, held by its first day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(NaiveDate);

impl Period for Month {
    fn of(day: NaiveDate) -> Month {
        Month(day.with_day(1).unwrap_or(day))
    }
    fn parse(ref_date: &str) -> Option<Month> {
        let s = ref_date.trim();
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            return NaiveDate::parse_from_str(&format!("{s}01"), "%Y%m%d").ok().map(Month);
        }
        crate::cst::parse(s).map(Month::of)
    }
    fn newest(day: NaiveDate) -> Month {
        // The month that ends on the last month-end on or before `day`.
        Month::of(day + Duration::days(1)).previous()
    }
    fn previous(self) -> Month {
        Month::of(self.0 - Duration::days(1))
    }
    fn first(self) -> NaiveDate {
        self.0
    }
    fn last(self) -> NaiveDate {
        let next = Month::of(self.0 + Duration::days(31));
        next.0 - Duration::days(1)
    }
    fn ref_date(self) -> String {
        self.0.format("%Y%m").to_string()
    }
}

/// WeChat's hour by which yesterday is in, the default of `wechat.quiet_day_after`.
pub const QUIET_AFTER: std::time::Duration = std::time::Duration::from_secs(8 * 3600);

/// What is held for a period: its data, or that it was quiet (WeChat had nothing).
#[derive(Debug, Clone, PartialEq)]
pub enum Held<T> {
    Data(T),
    Quiet,
}

/// Whether an empty answer for `p` means a quiet period (else: not published yet):
/// a period that ended before yesterday (UTC+8) always, one that ends yesterday
/// from `quiet_after` past midnight UTC+8.
pub fn is_quiet<P: Period>(p: P, now: DateTime<Utc>, quiet_after: std::time::Duration) -> bool {
    let yesterday = crate::cst::yesterday(now);
    let t = now.with_timezone(&crate::cst::offset());
    let since_midnight = u64::from(t.num_seconds_from_midnight());
    p.last() < yesterday || (p.last() == yesterday && since_midnight >= quiet_after.as_secs())
}

/// The newest period of data WeChat has given, kept between polls.
pub struct Newest<P, T> {
    held: Option<(P, Held<T>)>,
}

/// The newest day held, for the collectors of daily data.
pub type NewestDay<T> = Newest<NaiveDate, T>;

impl<P, T> Default for Newest<P, T> {
    fn default() -> Newest<P, T> {
        Newest { held: None }
    }
}

impl<P: Period, T> Newest<P, T> {
    /// Asks `fetch` for the newest complete period and, when needed, the one
    /// before; `fetch` answers `None` when WeChat sends nothing for a period, which
    /// [`is_quiet`] reads as a quiet period or one not published yet.
    pub async fn refresh<F, Fut>(
        &mut self,
        now: DateTime<Utc>,
        quiet_after: std::time::Duration,
        mut fetch: F,
    ) -> Result<(), WechatError>
    where
        F: FnMut(P) -> Fut,
        Fut: Future<Output = Result<Option<T>, WechatError>>,
    {
        let newest = P::newest(crate::cst::yesterday(now));
        let before = newest.previous();
        let held = self.held.as_ref().map(|(p, h)| (*p, matches!(h, Held::Data(_))));
        if let Some(data) = fetch(newest).await? {
            self.held = Some((newest, Held::Data(data)));
        } else if held == Some((newest, true)) {
            // WeChat had the period and now sends nothing: keep what it sent.
        } else if is_quiet(newest, now, quiet_after) {
            self.held = Some((newest, Held::Quiet));
        } else if held.is_none_or(|(p, _)| p < before) {
            match fetch(before).await? {
                Some(data) => self.held = Some((before, Held::Data(data))),
                None if is_quiet(before, now, quiet_after) => self.held = Some((before, Held::Quiet)),
                None => {}
            }
        }
        Ok(())
    }

    /// The period held and its data (None for a quiet period).
    pub fn held(&self) -> Option<(P, Option<&T>)> {
        self.held.as_ref().map(|(p, h)| {
            (
                *p,
                match h {
                    Held::Data(t) => Some(t),
                    Held::Quiet => None,
                },
            )
        })
    }

    /// The output of a poll: the samples of the period held, dated by its first
    /// day; a quiet period's date and no samples.
    pub fn output(&self, samples: impl FnOnce(&T) -> Vec<Sample>) -> Output {
        match self.held() {
            Some((p, data)) => Output { samples: data.map(samples).unwrap_or_default(), data_date: Some(p.first()) },
            None => Output::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_newest_complete_week_ends_on_the_last_sunday() {
        // 2024-03-31 is a Sunday: on it, its own week is complete.
        assert_eq!(Week::newest(d(2024, 3, 31)).first(), d(2024, 3, 25));
        assert_eq!(Week::newest(d(2024, 3, 31)).last(), d(2024, 3, 31));
        // On the Saturday before, the week before that.
        assert_eq!(Week::newest(d(2024, 3, 30)).first(), d(2024, 3, 18));
        assert_eq!(Week::newest(d(2024, 4, 1)).first(), d(2024, 3, 25));
        assert_eq!(Week::newest(d(2024, 3, 25)).first(), d(2024, 3, 18));
        assert_eq!(Week::of(d(2024, 3, 28)).previous().first(), d(2024, 3, 18));
        for offset in 0..60 {
            let w = Week::newest(d(2024, 1, 1) + Duration::days(offset));
            assert_eq!(w.first().weekday(), chrono::Weekday::Mon);
            assert_eq!(w.last().weekday(), chrono::Weekday::Sun);
        }
    }

    #[test]
    fn the_newest_complete_month_ends_on_the_last_month_end() {
        assert_eq!(Month::newest(d(2024, 3, 31)).first(), d(2024, 3, 1));
        assert_eq!(Month::newest(d(2024, 3, 30)).first(), d(2024, 2, 1));
        assert_eq!(Month::newest(d(2024, 3, 30)).last(), d(2024, 2, 29), "a leap year's February");
        assert_eq!(Month::newest(d(2024, 1, 15)).first(), d(2023, 12, 1));
        assert_eq!(Month::newest(d(2024, 1, 15)).last(), d(2023, 12, 31));
        assert_eq!(Month::of(d(2024, 1, 20)).previous().first(), d(2023, 12, 1));
        assert_eq!(Month::of(d(2023, 2, 10)).last(), d(2023, 2, 28));
    }

    #[test]
    fn ref_dates_name_their_period() {
        assert_eq!(Week::parse("20170306-20170312"), Some(Week::of(d(2017, 3, 6))));
        assert_eq!(Week::parse("20170307-20170313"), None, "not Monday to Sunday");
        assert_eq!(Week::parse("20170308"), Some(Week::of(d(2017, 3, 6))));
        assert_eq!(Month::parse("201702"), Some(Month::of(d(2017, 2, 1))));
        assert_eq!(Month::parse("201713"), None);
        assert_eq!(Month::parse("2017-02-15"), Some(Month::of(d(2017, 2, 1))));
        assert_eq!(NaiveDate::parse("2017-03-13"), Some(d(2017, 3, 13)));
        assert_eq!(NaiveDate::parse("yesterday"), None);
        let w = Week::of(d(2024, 3, 27));
        assert_eq!(Week::parse(&w.ref_date()), Some(w));
        let m = Month::of(d(2024, 2, 27));
        assert_eq!((m.ref_date().as_str(), Month::parse(&m.ref_date())), ("202402", Some(m)));
    }

    #[test]
    fn a_day_is_its_own_period() {
        assert_eq!(NaiveDate::newest(d(2024, 3, 1)), d(2024, 3, 1));
        assert_eq!(d(2024, 3, 1).previous(), d(2024, 2, 29));
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    const H8: std::time::Duration = QUIET_AFTER;

    #[test]
    fn an_empty_yesterday_is_quiet_from_the_hour_on() {
        let y = d(2024, 3, 1);
        assert!(!is_quiet(y, at("2024-03-02T07:59:59+08:00"), H8), "not published yet");
        assert!(is_quiet(y, at("2024-03-02T08:00:00+08:00"), H8));
        assert!(is_quiet(y, at("2024-03-02T23:59:59+08:00"), H8));
        assert!(is_quiet(d(2024, 2, 29), at("2024-03-02T00:00:01+08:00"), H8), "the day before is always in");
        // The hour is UTC+8's, whatever UTC says: 08:00 UTC+8 is 00:00 UTC.
        assert!(!is_quiet(y, at("2024-03-01T23:30:00Z"), H8));
        assert!(is_quiet(y, at("2024-03-02T00:00:00Z"), H8));
        // A week ending yesterday (Sunday) follows the hour; an older one is in.
        let w = Week::newest(d(2024, 3, 31));
        assert!(!is_quiet(w, at("2024-04-01T07:00:00+08:00"), H8));
        assert!(is_quiet(w, at("2024-04-01T09:00:00+08:00"), H8));
        assert!(is_quiet(w, at("2024-04-02T01:00:00+08:00"), H8));
    }

    /// What WeChat has, by day: Some(data) or nothing (an empty list).
    async fn refresh(n: &mut Newest<NaiveDate, u32>, now: &str, has: &[(NaiveDate, u32)]) -> Output {
        n.refresh(at(now), H8, |day| {
            let found = has.iter().find(|(d, _)| *d == day).map(|(_, v)| *v);
            async move { Ok(found) }
        })
        .await
        .unwrap();
        n.output(|v| vec![Sample::new(&crate::telemetry::DATA_DATE, f64::from(*v))])
    }

    #[tokio::test]
    async fn a_quiet_day_advances_the_date_with_no_samples() {
        let (before, y) = (d(2024, 3, 1), d(2024, 3, 2));
        let mut n = Newest::default();
        // Early: yesterday is not published; the day before had data.
        let out = refresh(&mut n, "2024-03-03T02:00:00+08:00", &[(before, 5)]).await;
        assert_eq!((out.data_date, out.samples.len()), (Some(before), 1));
        // Past the hour, still nothing for yesterday: a quiet day.
        let out = refresh(&mut n, "2024-03-03T08:30:00+08:00", &[(before, 5)]).await;
        assert_eq!((out.data_date, out.samples.len()), (Some(y), 0), "the date advances, no series");
        // Next day, early: the quiet day stays served until the new yesterday is in.
        let out = refresh(&mut n, "2024-03-04T03:00:00+08:00", &[(before, 5)]).await;
        assert_eq!((out.data_date, out.samples.len()), (Some(y), 0));
    }

    #[tokio::test]
    async fn a_late_day_replaces_the_quiet_one_as_soon_as_it_comes() {
        let (before, y) = (d(2024, 3, 1), d(2024, 3, 2));
        let mut n = Newest::default();
        refresh(&mut n, "2024-03-03T07:00:00+08:00", &[(before, 5)]).await;
        let out = refresh(&mut n, "2024-03-03T09:00:00+08:00", &[(before, 5)]).await;
        assert_eq!((out.data_date, out.samples.len()), (Some(y), 0));
        // WeChat publishes at 11:00: served on the next poll.
        let out = refresh(&mut n, "2024-03-03T11:05:00+08:00", &[(before, 5), (y, 7)]).await;
        assert_eq!(out.data_date, Some(y));
        assert_eq!(out.samples.iter().map(|s| s.value).collect::<Vec<_>>(), vec![7.0]);
        // A later empty answer does not take it back.
        let out = refresh(&mut n, "2024-03-03T12:00:00+08:00", &[]).await;
        assert_eq!(out.samples.len(), 1);
    }

    #[tokio::test]
    async fn a_restart_on_a_quiet_account_dates_a_day() {
        // Before the hour: yesterday may still come; the day before is quiet.
        let mut n = Newest::<NaiveDate, u32>::default();
        let out = refresh(&mut n, "2024-03-03T02:00:00+08:00", &[]).await;
        assert_eq!((out.data_date, out.samples.len()), (Some(d(2024, 3, 1)), 0));
        // After it: yesterday, quiet.
        let mut n = Newest::<NaiveDate, u32>::default();
        let out = refresh(&mut n, "2024-03-03T10:00:00+08:00", &[]).await;
        assert_eq!((out.data_date, out.samples.len()), (Some(d(2024, 3, 2)), 0));
    }
}
