//! `wechat-exporter backfill`'s own flags, and the checks that need the clock.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::BackfillError;
use crate::cst;

#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct BackfillArgs {
    /// First day to write, yyyy-mm-dd (UTC+8).
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub from: NaiveDate,

    /// Last day to write, yyyy-mm-dd (UTC+8): yesterday at the latest.
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub to: NaiveDate,

    /// Time between two samples of a day's values, as Prometheus would have scraped
    /// them. Keep it at or under Prometheus's lookback delta (5m), or graphs show gaps.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = step)]
    pub step: Duration,

    /// Only this app (its `name`); repeat for more. Every configured app when left out.
    #[arg(long = "app", value_name = "NAME")]
    pub apps: Vec<String>,

    /// A label to add to every series, NAME=VALUE; repeat for more. Give the `job` and
    /// `instance` that Prometheus attaches to the live exporter's target, so history and
    /// live data are one series.
    #[arg(long = "label", value_name = "NAME=VALUE", value_parser = label)]
    pub labels: Vec<(String, String)>,

    /// Requests a second to WeChat, across all apps, token requests included.
    #[arg(long, value_name = "N", default_value_t = 10.0, value_parser = rate)]
    pub rate: f64,
}

fn date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| format!("{s:?} is not a date of the form yyyy-mm-dd"))
}

fn label(s: &str) -> Result<(String, String), String> {
    let (name, value) = s.split_once('=').ok_or_else(|| format!("{s:?} is not NAME=VALUE"))?;
    let valid = name.chars().enumerate().all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if name.is_empty() || !valid || name.starts_with("__") {
        return Err(format!("{name:?} is not a label name (letters, digits and _, not starting with a digit or __)"));
    }
    if name == "app" {
        return Err("`app` is the app's name from the config; choose another label".into());
    }
    Ok((name.to_string(), value.to_string()))
}

fn step(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| format!("{s:?} is not a duration such as 5m: {e}"))?;
    if d < Duration::from_secs(1) || d > Duration::from_secs(86_400) || d.subsec_nanos() != 0 {
        return Err(format!("{s:?}: the step is whole seconds, from 1s to 1d"));
    }
    Ok(d)
}

fn rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 1000.0 => Ok(r),
        _ => Err(format!("{s:?}: the rate is a number of requests a second, above 0 and at most 1000")),
    }
}

impl BackfillArgs {
    /// The days asked for, checked against the clock: WeChat has nothing for today
    /// (UTC+8) or later, and a range must run forwards.
    pub fn days(&self, now: DateTime<Utc>) -> Result<(NaiveDate, NaiveDate), BackfillError> {
        let yesterday = cst::yesterday(now);
        if self.to > yesterday {
            return Err(BackfillError::Range(format!(
                "--to {} is too late: WeChat's daily data ends at yesterday in UTC+8, {yesterday}; use --to {yesterday} or earlier",
                self.to
            )));
        }
        if self.from > self.to {
            return Err(BackfillError::Range(format!("--from {} is after --to {}; the range runs forwards", self.from, self.to)));
        }
        Ok((self.from, self.to))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        b: BackfillArgs,
    }

    fn parse(args: &[&str]) -> Result<BackfillArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("backfill").chain(args.iter().copied())).map(|c| c.b)
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn flags_and_defaults() {
        let b = parse(&["--from", "2026-01-01", "--to", "2026-01-31", "--app", "shop", "--app", "news"]).unwrap();
        assert_eq!(b.from, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        assert_eq!(b.step, Duration::from_secs(300));
        assert_eq!(b.apps, ["shop", "news"]);
        assert_eq!(b.rate, 10.0);
        assert_eq!(parse(&["--from", "2026-01-01", "--to", "2026-01-02", "--step", "1m"]).unwrap().step, Duration::from_secs(60));
        let labelled = parse(&["--from", "2026-01-01", "--to", "2026-01-02", "--label", "job=wechat-exporter", "--label", "instance=h:9767"]);
        assert_eq!(
            labelled.unwrap().labels,
            [("job".to_string(), "wechat-exporter".to_string()), ("instance".to_string(), "h:9767".to_string())]
        );
    }

    #[test]
    fn bad_flags_are_refused_with_the_reason() {
        let err = |args: &[&str]| parse(args).unwrap_err().to_string();
        assert!(err(&["--from", "20260101", "--to", "2026-01-02"]).contains("yyyy-mm-dd"));
        assert!(err(&["--from", "2026-01-01"]).contains("--to"));
        for bad in ["0s", "500ms", "1.5s", "2d", "soon"] {
            assert!(err(&["--from", "2026-01-01", "--to", "2026-01-02", "--step", bad]).contains("step"), "{bad}");
        }
        for bad in ["job", "=x", "1job=x", "__name__=x", "app=x", "a-b=x"] {
            assert!(err(&["--from", "2026-01-01", "--to", "2026-01-02", "--label", bad]).contains("label"), "{bad}");
        }
        for bad in ["0", "-1", "NaN", "inf", "fast"] {
            let flag = format!("--rate={bad}");
            assert!(err(&["--from", "2026-01-01", "--to", "2026-01-02", &flag]).contains("rate"), "{bad}");
        }
    }

    #[test]
    fn to_is_yesterday_in_utc8_at_the_latest() {
        // 16:30 UTC on the 10th is 00:30 on the 11th in UTC+8: yesterday is the 10th.
        let now = at("2026-03-10T16:30:00Z");
        let b = |from: &str, to: &str| parse(&["--from", from, "--to", to]).unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(b("2026-03-01", "2026-03-10").days(now).unwrap(), (d("2026-03-01"), d("2026-03-10")));
        let late = b("2026-03-01", "2026-03-11").days(now).unwrap_err().to_string();
        assert!(late.contains("--to 2026-03-11") && late.contains("2026-03-10"), "{late}");
        let backwards = b("2026-03-05", "2026-03-04").days(now).unwrap_err().to_string();
        assert!(backwards.contains("--from 2026-03-05 is after --to 2026-03-04"), "{backwards}");
        assert_eq!(b("2026-03-04", "2026-03-04").days(now).unwrap().0, d("2026-03-04"), "one day is a range");
    }
}
