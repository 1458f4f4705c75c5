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

use std::future::Future;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

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

/// The newest period of data WeChat has given, kept between polls.
pub struct Newest<P, T> {
    held: Option<(P, T)>,
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
    /// before; `fetch` answers `None` while WeChat has no data for a period.
    pub async fn refresh<F, Fut>(&mut self, now: DateTime<Utc>, mut fetch: F) -> Result<(), WechatError>
    where
        F: FnMut(P) -> Fut,
        Fut: Future<Output = Result<Option<T>, WechatError>>,
    {
        let newest = P::newest(crate::cst::yesterday(now));
        let before = newest.previous();
        if let Some(data) = fetch(newest).await? {
            self.held = Some((newest, data));
        } else if self.held.as_ref().is_none_or(|(p, _)| *p < before)
            && let Some(data) = fetch(before).await?
        {
            self.held = Some((before, data));
        }
        Ok(())
    }

    /// The period held and its data.
    pub fn held(&self) -> Option<(P, &T)> {
        self.held.as_ref().map(|(p, t)| (*p, t))
    }

    /// The output of a poll: the samples of the period held, dated by its first day.
    pub fn output(&self, samples: impl FnOnce(&T) -> Vec<Sample>) -> Output {
        match self.held() {
            Some((p, data)) => Output { samples: samples(data), data_date: Some(p.first()) },
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
}
