//! China Standard Time, the zone WeChat dates its data in, whatever the host's zone.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};

/// UTC+8. China has no daylight saving time, so a fixed offset is exact.
pub fn offset() -> FixedOffset {
    // 8 hours is always within FixedOffset's range; the fallback is never taken.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
}

/// The calendar day in UTC+8 at `now`.
pub fn today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&offset()).date_naive()
}

/// Yesterday in UTC+8: the newest day the datacube APIs accept.
pub fn yesterday(now: DateTime<Utc>) -> NaiveDate {
    today(now) - Duration::days(1)
}

/// Unix seconds of 00:00 UTC+8 on `date`.
pub fn day_start(date: NaiveDate) -> i64 {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    offset()
        .from_local_datetime(&midnight)
        .single()
        .map(|t| t.timestamp())
        .unwrap_or_else(|| midnight.and_utc().timestamp() - 8 * 3600)
}

/// The UTC+8 day a Unix timestamp falls on.
pub fn date_of(ts: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp(ts, 0).map(today).unwrap_or_default()
}

/// `yyyymmdd`, as the mini program datacube APIs want it.
pub fn compact(date: NaiveDate) -> String {
    date.format("%Y%m%d").to_string()
}

/// `yyyy-mm-dd`, as the Official Account datacube APIs want it.
pub fn dashed(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Reads a WeChat date in either form (`20170313` or `2017-03-13`).
pub fn parse(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y%m%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn yesterday_is_in_utc8() {
        // 17:00 UTC on the 1st is 01:00 on the 2nd in UTC+8: yesterday is the 1st.
        assert_eq!(yesterday(at("2024-03-01T17:00:00Z")), NaiveDate::from_ymd_opt(2024, 3, 1).unwrap());
        // 15:59 UTC on the 1st is 23:59 on the 1st in UTC+8: yesterday is Feb 29.
        assert_eq!(yesterday(at("2024-03-01T15:59:00Z")), NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
    }

    #[test]
    fn day_start_is_midnight_utc8() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        assert_eq!(day_start(d), at("2024-02-29T16:00:00Z").timestamp());
        assert_eq!(date_of(day_start(d)), d);
        assert_eq!(date_of(day_start(d) - 1), d.pred_opt().unwrap());
    }

    #[test]
    fn both_date_forms_parse() {
        let d = NaiveDate::from_ymd_opt(2017, 3, 13).unwrap();
        assert_eq!(parse("20170313"), Some(d));
        assert_eq!(parse("2017-03-13"), Some(d));
        assert_eq!(parse("13/03/2017"), None);
        assert_eq!(compact(d), "20170313");
        assert_eq!(dashed(d), "2017-03-13");
    }
}
